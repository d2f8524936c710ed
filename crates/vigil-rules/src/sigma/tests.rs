//! Whole-rule tests of the importer: each modifier and condition form (the
//! Sigma specification's examples where it has them) on events, the
//! rejection reasons, correlations, and the SigmaHQ corpus.

use std::net::IpAddr;

use vigil_event::{
    Body, ConnectionInfo, DnsActivity, DnsAnswer, DnsQuery, Endpoint, Event, HttpActivity,
    HttpRequest, HttpResponse, Timestamp, Url,
};

use super::*;
use crate::ast::{CmpOp, Literal, Operand, StrOp};
use crate::expr;

/// A web-server rule with `detection` (indented two spaces under it).
fn web(detection: &str) -> String {
    format!(
        "title: T\nid: 00000000-0000-4000-8000-000000000001\nlogsource:\n  category: webserver\ndetection:\n{detection}"
    )
}

fn import_one(text: &str) -> ImportReport {
    import(&[Source::new("rule.yml", text)], &Mapping::builtin())
}

/// The condition of a rule that must be accepted.
fn expr(text: &str) -> Expr {
    let report = import_one(text);
    assert!(
        report.rejected.is_empty(),
        "rejected: {:?}",
        report.rejected.first().map(ToString::to_string)
    );
    report
        .accepted
        .into_iter()
        .next()
        .and_then(|r| r.expr)
        .expect("one accepted rule with a condition")
}

/// The reason a rule that must be rejected was.
fn reason(text: &str) -> String {
    let report = import_one(text);
    assert!(
        report.accepted.is_empty(),
        "accepted: {:?}",
        report.accepted
    );
    report
        .rejected
        .first()
        .map(|r| r.reason.to_string())
        .expect("rejected")
}

/// An access-log request as an event (what vigil-weblog makes of a line).
struct Req<'a> {
    method: &'a str,
    target: &'a str,
    status: u16,
    ua: Option<&'a str>,
    referer: Option<&'a str>,
    client: &'a str,
}

impl Default for Req<'_> {
    fn default() -> Self {
        Req {
            method: "GET",
            target: "/",
            status: 200,
            ua: Some("Mozilla/5.0"),
            referer: None,
            client: "192.0.2.7",
        }
    }
}

fn http(r: Req<'_>) -> Event {
    let (path, query) = match r.target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (r.target, None),
    };
    let client: IpAddr = r.client.parse().unwrap();
    let mut event = Event::new(
        Timestamp::from_nanos(1_700_000_000_000_000_000),
        Body::Http(HttpActivity {
            src_endpoint: Endpoint {
                ip: client,
                port: None,
                hostname: None,
            },
            dst_endpoint: Endpoint {
                ip: "0.0.0.0".parse().unwrap(),
                port: None,
                hostname: Some("shop.example".into()),
            },
            connection_info: ConnectionInfo::tcp_from_log(),
            http_request: HttpRequest {
                http_method: r.method.into(),
                url: Url {
                    hostname: Some("shop.example".into()),
                    port: None,
                    path: path.into(),
                    query_string: query.map(str::to_owned),
                    url_string: r.target.into(),
                },
                version: "HTTP/1.1".into(),
                user_agent: r.ua.map(str::to_owned),
                referrer: r.referer.map(str::to_owned),
                body_length: 0,
            },
            http_response: Some(HttpResponse {
                code: r.status,
                message: None,
                content_type: None,
                length: 10,
            }),
            transaction: 0,
        }),
    );
    event.raw_data = Some(format!(
        "{} - - [14/Nov/2023:22:13:20 +0000] \"{} {} HTTP/1.1\" {} 10 \"{}\" \"{}\"",
        r.client,
        r.method,
        r.target,
        r.status,
        r.referer.unwrap_or("-"),
        r.ua.unwrap_or("-")
    ));
    event
}

fn get(target: &str) -> Event {
    http(Req {
        target,
        ..Req::default()
    })
}

fn dns(query: &str, qtype: &str, answers: &[&str]) -> Event {
    Event::new(
        Timestamp::from_nanos(1_700_000_000_000_000_000),
        Body::Dns(DnsActivity {
            src_endpoint: Endpoint::new("10.0.0.5".parse().unwrap(), 53000),
            dst_endpoint: Endpoint::new("10.0.0.1".parse().unwrap(), 53),
            connection_info: ConnectionInfo::tcp("F1", "1:x="),
            query: DnsQuery {
                hostname: query.into(),
                qtype: qtype.into(),
                type_id: 16,
                class: "IN".into(),
                packet_uid: 1,
                opcode: "Query".into(),
                opcode_id: 0,
            },
            answers: answers
                .iter()
                .map(|a| DnsAnswer {
                    name: query.into(),
                    rtype: qtype.into(),
                    class: "IN".into(),
                    ttl: 60,
                    rdata: (*a).into(),
                    section: "answer".into(),
                })
                .collect(),
            rcode: Some("NoError".into()),
            rcode_id: Some(0),
            flags: vec![],
            response_time: None,
            rtt_us: None,
            pairing: "answered".into(),
        }),
    )
}

/// Whether the compiled condition holds for `event`.
fn matches(e: &Expr, event: &Event) -> bool {
    expr::compile(e)
        .unwrap_or_else(|err| panic!("{err}: {}", expr::to_infix(e)))
        .matches(event)
}

#[test]
fn the_class_filter_comes_first() {
    let e = expr(&web("  sel:\n    cs-method: POST\n  condition: sel\n"));
    let Expr::And(parts) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(
        parts.first(),
        Some(&Expr::Compare {
            lhs: Operand::Field("class_uid".into()),
            op: CmpOp::Eq,
            rhs: Operand::Literal(Literal::Int(4002)),
        })
    );
    assert_eq!(
        parts.get(1),
        Some(&Expr::Str {
            operand: Operand::Field("http_request.http_method".into()),
            op: StrOp::Equals,
            pattern: "POST".into(),
            nocase: true,
        })
    );
    // Not on DNS events.
    assert!(!matches(&e, &dns("x.example", "A", &[])));
}

#[test]
fn plain_values_are_case_insensitive_and_cased_is_not() {
    let e = expr(&web("  sel:\n    cs-method: 'post'\n  condition: sel\n"));
    assert!(matches(
        &e,
        &http(Req {
            method: "POST",
            ..Req::default()
        })
    ));
    let e = expr(&web(
        "  sel:\n    cs-method|cased: 'post'\n  condition: sel\n",
    ));
    assert!(!matches(
        &e,
        &http(Req {
            method: "POST",
            ..Req::default()
        })
    ));
    assert!(matches(
        &e,
        &http(Req {
            method: "post",
            ..Req::default()
        })
    ));
}

#[test]
fn maps_are_and_lists_are_or() {
    // Spec "Maps": every item holds; a value list is any of its values.
    let e = expr(&web(
        "  selection:\n    cs-method: GET\n    sc-status:\n      - 200\n      - 301\n  condition: selection\n",
    ));
    assert!(matches(&e, &get("/")));
    assert!(matches(
        &e,
        &http(Req {
            status: 301,
            ..Req::default()
        })
    ));
    assert!(!matches(
        &e,
        &http(Req {
            status: 404,
            ..Req::default()
        })
    ));
    assert!(!matches(
        &e,
        &http(Req {
            method: "POST",
            ..Req::default()
        })
    ));
    // The value list became one `in`.
    let Expr::And(parts) = &e else { panic!() };
    assert!(parts
        .iter()
        .any(|p| matches!(p, Expr::In { values, .. } if values.len() == 2)));
    // Spec "Lists": a list of maps is any of them.
    let e = expr(&web(
        "  selection:\n    - cs-uri-query|endswith: '.exe'\n    - cs-user-agent|contains: 'Test agent'\n  condition: selection\n",
    ));
    assert!(matches(&e, &get("/x/setup.EXE")));
    assert!(matches(
        &e,
        &http(Req {
            ua: Some("a test agent b"),
            ..Req::default()
        })
    ));
    assert!(!matches(&e, &get("/x/setup.exe.txt")));
}

#[test]
fn contains_startswith_endswith_and_all() {
    let e = expr(&web(
        "  sel:\n    cs-uri-query|contains: '../etc/'\n  condition: sel\n",
    ));
    assert!(matches(&e, &get("/a/../../ETC/passwd")));
    assert!(!matches(&e, &get("/etc/passwd")));
    let e = expr(&web(
        "  sel:\n    cs-user-agent|startswith: 'sqlmap/'\n  condition: sel\n",
    ));
    assert!(matches(
        &e,
        &http(Req {
            ua: Some("sqlmap/1.7#stable"),
            ..Req::default()
        })
    ));
    assert!(!matches(
        &e,
        &http(Req {
            ua: Some("x sqlmap/1.7"),
            ..Req::default()
        })
    ));
    let e = expr(&web(
        "  sel:\n    cs-uri-query|endswith: '/mgmt/tm/util/bash'\n  condition: sel\n",
    ));
    assert!(matches(&e, &get("/mgmt/tm/util/bash")));
    assert!(!matches(&e, &get("/mgmt/tm/util/bash/x")));
    // `all`: every value (order free), spec "Lists" with `|all`.
    let e = expr(&web(
        "  sel:\n    cs-uri-query|contains|all:\n      - 'union'\n      - 'select'\n  condition: sel\n",
    ));
    assert!(matches(&e, &get("/?q=1 SELECT a UNION b")));
    assert!(!matches(&e, &get("/?q=union only")));
}

#[test]
fn wildcards_and_escapes() {
    let e = expr(&web(
        "  sel:\n    cs-user-agent: 'Mozilla/3.0 * Acrobat *'\n  condition: sel\n",
    ));
    assert!(matches(
        &e,
        &http(Req {
            ua: Some("Mozilla/3.0 (x) Acrobat 9"),
            ..Req::default()
        })
    ));
    assert!(!matches(
        &e,
        &http(Req {
            ua: Some("Mozilla/3.0 (x) Reader 9"),
            ..Req::default()
        })
    ));
    let e = expr(&web(
        "  sel:\n    cs-uri-stem: '/prog?.php'\n  condition: sel\n",
    ));
    assert!(matches(&e, &get("/progA.php")));
    assert!(!matches(&e, &get("/prog.php")));
    // `\?` is a plain question mark.
    let e = expr(&web(
        "  sel:\n    cs-uri-query|contains: 'momyshark\\?key='\n  condition: sel\n",
    ));
    assert!(matches(&e, &get("/momyshark?key=1")));
    assert!(!matches(&e, &get("/momysharkXkey=1")));
}

#[test]
fn null_empty_and_exists() {
    // Spec "Special Field Values": `null` is a missing field.
    let e = expr(&web(
        "  sel:\n    cs-uri-query|contains: 'cmd=read'\n  filter:\n    cs-referer: null\n    cs-method: POST\n  condition: sel and filter\n",
    ));
    assert!(matches(
        &e,
        &http(Req {
            method: "POST",
            target: "/t.jsp?cmd=read",
            ..Req::default()
        })
    ));
    assert!(!matches(
        &e,
        &http(Req {
            method: "POST",
            target: "/t.jsp?cmd=read",
            referer: Some("http://a/"),
            ..Req::default()
        })
    ));
    let e = expr(&web("  sel:\n    cs-user-agent: ''\n  condition: sel\n"));
    assert!(matches(
        &e,
        &http(Req {
            ua: Some(""),
            ..Req::default()
        })
    ));
    assert!(!matches(&e, &get("/")));
    // Spec "Field Existence".
    let e = expr(&web(
        "  sel:\n    cs-referer|exists: true\n  condition: sel\n",
    ));
    assert!(matches(
        &e,
        &http(Req {
            referer: Some("x"),
            ..Req::default()
        })
    ));
    assert!(!matches(&e, &get("/")));
    let e = expr(&web(
        "  sel:\n    cs-referer|exists: false\n  condition: sel\n",
    ));
    assert!(matches(&e, &get("/")));
}

#[test]
fn regular_expressions_and_their_flags() {
    let e = expr(&web(
        "  sel:\n    cs-uri-query|re: '/admin/[a-z]+\\.php$'\n  condition: sel\n",
    ));
    assert!(matches(&e, &get("/admin/login.php")));
    // Case-sensitive by default.
    assert!(!matches(&e, &get("/ADMIN/login.php")));
    let e = expr(&web(
        "  sel:\n    cs-uri-query|re|i: '/admin/[a-z]+\\.php$'\n  condition: sel\n",
    ));
    assert!(matches(&e, &get("/ADMIN/LOGIN.php")));
    let Expr::And(parts) = &e else { panic!() };
    assert!(matches!(parts.get(1), Some(Expr::Matches { flags, .. }) if flags == "i"));
    let e = expr(&web(
        "  sel:\n    cs-uri-query|re|s|m|i: 'x'\n  condition: sel\n",
    ));
    let Expr::And(parts) = &e else { panic!() };
    assert!(matches!(parts.get(1), Some(Expr::Matches { flags, .. }) if flags == "ims"));
    let why = reason(&web(
        "  sel:\n    cs-uri-query|re: '(unclosed'\n  condition: sel\n",
    ));
    assert!(
        why.starts_with("condition does not fit the event schema: invalid regex"),
        "{why}"
    );
    assert_eq!(
        reason(&web("  sel:\n    cs-uri-query|i: 'x'\n  condition: sel\n")),
        "unsupported modifier `i`"
    );
}

#[test]
fn cidr_and_numeric_comparisons() {
    // Spec example `DestinationIp|cidr: 10.0.0.0/8`, here on the client.
    let e = expr(&web(
        "  sel:\n    c-ip|cidr:\n      - '10.0.0.0/8'\n      - 'fc00::/7'\n  condition: sel\n",
    ));
    assert!(matches(
        &e,
        &http(Req {
            client: "10.1.2.3",
            ..Req::default()
        })
    ));
    assert!(matches(
        &e,
        &http(Req {
            client: "fd00::1",
            ..Req::default()
        })
    ));
    assert!(!matches(
        &e,
        &http(Req {
            client: "192.0.2.1",
            ..Req::default()
        })
    ));
    assert!(reason(&web(
        "  sel:\n    c-ip|cidr: '10.0.0.0/33'\n  condition: sel\n"
    ))
    .contains("bad prefix length"));
    for (m, code, want) in [
        ("gt", 501, true),
        ("gt", 500, false),
        ("gte", 500, true),
        ("gte", 499, false),
        ("lt", 499, true),
        ("lt", 500, false),
        ("lte", 500, true),
        ("lte", 501, false),
    ] {
        let e = expr(&web(&format!(
            "  sel:\n    sc-status|{m}: 500\n  condition: sel\n"
        )));
        assert_eq!(
            matches(
                &e,
                &http(Req {
                    status: code,
                    ..Req::default()
                })
            ),
            want,
            "{m} {code}"
        );
    }
    assert!(
        reason(&web("  sel:\n    sc-status|gt: 'many'\n  condition: sel\n"))
            .contains("not a whole number")
    );
}

#[test]
fn base64_and_base64offset() {
    let e = expr(&web(
        "  sel:\n    cs-uri-query|base64|contains: '/bin/bash'\n  condition: sel\n",
    ));
    assert!(matches(&e, &get("/x?c=L2Jpbi9iYXNo")));
    // Base64 text is compared as is.
    assert!(!matches(&e, &get("/x?c=l2jpbi9iyxnh")));
    let e = expr(&web(
        "  sel:\n    cs-uri-query|base64offset|contains: 'sekurlsa::logonpasswords'\n  condition: sel\n",
    ));
    for prefix in ["", "a", "ab"] {
        let encoded = super::value::base64(&format!("{prefix}sekurlsa::logonpasswords exit"));
        assert!(matches(&e, &get(&format!("/x?p={encoded}"))), "{prefix:?}");
    }
    assert!(!matches(&e, &get("/x?p=c2VrdXJsc2E6OmxvZ29u")));
    // A wildcard before the encoding cannot be encoded.
    assert!(reason(&web(
        "  sel:\n    cs-uri-query|contains|base64: 'x'\n  condition: sel\n"
    ))
    .contains("wildcards"));
}

#[test]
fn typed_fields_take_typed_values() {
    // An address field: a plain value is an address, a wildcard a text test.
    let e = expr(&web("  sel:\n    c-ip: '192.0.2.7'\n  condition: sel\n"));
    let Expr::And(parts) = &e else { panic!() };
    assert!(matches!(
        parts.get(1),
        Some(Expr::Compare {
            rhs: Operand::Literal(Literal::Ip(_)),
            ..
        })
    ));
    assert!(matches(&e, &get("/")));
    let e = expr(&web(
        "  sel:\n    c-ip|startswith: '192.0.2.'\n  condition: sel\n",
    ));
    assert!(matches(&e, &get("/")));
    assert!(!matches(
        &e,
        &http(Req {
            client: "198.51.100.1",
            ..Req::default()
        })
    ));
    // A number field: numbers written as text are numbers.
    let e = expr(&web("  sel:\n    sc-status: '404'\n  condition: sel\n"));
    assert!(matches(
        &e,
        &http(Req {
            status: 404,
            ..Req::default()
        })
    ));
    assert_eq!(
        reason(&web("  sel:\n    sc-status: 'many'\n  condition: sel\n")),
        "value of `sc-status`: `many` is not a whole number (`http_response.code` is an integer)"
    );
}

#[test]
fn windash_neq_and_fieldref() {
    let e = expr(&web(
        "  sel:\n    cs-uri-query|windash|contains: ' -enc '\n  condition: sel\n",
    ));
    assert!(matches(&e, &get("/run?c=powershell /enc abc")));
    assert!(matches(&e, &get("/run?c=powershell \u{2013}enc abc")));
    assert!(!matches(&e, &get("/run?c=powershell enc abc")));
    let e = expr(&web("  sel:\n    cs-method|neq: GET\n  condition: sel\n"));
    assert!(matches(
        &e,
        &http(Req {
            method: "POST",
            ..Req::default()
        })
    ));
    assert!(!matches(&e, &get("/")));
    let e = expr(&web(
        "  sel:\n    cs-uri-query|fieldref: cs-uri-stem\n  condition: sel\n",
    ));
    assert!(matches(&e, &get("/plain")));
    assert!(!matches(&e, &get("/plain?q=1")));
}

#[test]
fn keywords_search_the_raw_record() {
    // Spec "Keywords search": a list is any; `|all` every.
    let e = expr(&web(
        "  keywords:\n    - 'EVILSERVICE'\n    - 'svchost.exe -n evil'\n  condition: keywords\n",
    ));
    assert!(matches(&e, &get("/x?svc=evilservice")));
    assert!(matches(
        &e,
        &http(Req {
            ua: Some("svchost.exe -n evil"),
            ..Req::default()
        })
    ));
    assert!(!matches(&e, &get("/x?svc=good")));
    let e = expr(&web(
        "  keywords_cmdlet:\n    '|all':\n      - 'OabVirtualDirectory'\n      - ' -ExternalUrl '\n  condition: keywords_cmdlet\n",
    ));
    assert!(matches(
        &e,
        &http(Req {
            ua: Some("OabVirtualDirectory -ExternalUrl x"),
            ..Req::default()
        })
    ));
    assert!(!matches(
        &e,
        &http(Req {
            ua: Some("OabVirtualDirectory"),
            ..Req::default()
        })
    ));
    // Keywords need a raw record: DNS events have none.
    let text = "title: K\nlogsource:\n  category: dns\ndetection:\n  keywords:\n    - evil\n  condition: keywords\n";
    assert_eq!(
        reason(text),
        "keyword search on category: dns, whose events carry no raw record"
    );
}

#[test]
fn condition_forms_on_events() {
    // The SQL-injection rule's shape: selection and keywords and not 1 of filter_main_*.
    let e = expr(&web(
        "  selection:\n    cs-method: GET\n  keywords:\n    - 'UNION SELECT'\n    - '@@version'\n  filter_main_status:\n    sc-status: 404\n  condition: selection and keywords and not 1 of filter_main_*\n",
    ));
    assert!(matches(&e, &get("/p?id=1 union select 1")));
    assert!(!matches(
        &e,
        &http(Req {
            target: "/p?id=1 union select 1",
            status: 404,
            ..Req::default()
        })
    ));
    assert!(!matches(
        &e,
        &http(Req {
            method: "POST",
            target: "/p?x=@@version",
            ..Req::default()
        })
    ));
    // `all of selection_*` (the web-shell rule's shape).
    let e = expr(&web(
        "  selection_method:\n    cs-method: GET\n  selection_keywords:\n    - '=whoami'\n  condition: all of selection_*\n",
    ));
    assert!(matches(&e, &get("/shell.php?c=whoami")));
    assert!(!matches(&e, &get("/shell.php?c=id")));
    // `1 of them`, parentheses, a list of conditions (their OR).
    let e = expr(&web(
        "  a:\n    cs-method: PUT\n  b:\n    sc-status: 418\n  condition:\n    - a and (b or not b)\n    - 1 of them and b\n",
    ));
    assert!(matches(
        &e,
        &http(Req {
            method: "PUT",
            ..Req::default()
        })
    ));
    assert!(matches(
        &e,
        &http(Req {
            status: 418,
            ..Req::default()
        })
    ));
    assert!(!matches(&e, &get("/")));
}

#[test]
fn rejection_reasons() {
    assert_eq!(
        reason("title: A\nlogsource:\n  product: linux\n  service: auditd\ndetection:\n  sel:\n    type: EXECVE\n  condition: sel\n"),
        "logsource not produced by Vigil: product: linux, service: auditd"
    );
    assert_eq!(
        reason(&web("  sel:\n    cs-cookie: x\n  condition: sel\n")),
        "field `cs-cookie` not mapped for category: webserver"
    );
    assert_eq!(
        reason(&web("  sel:\n    cs-method|utf16le: x\n  condition: sel\n")),
        "unsupported modifier `utf16le`"
    );
    assert_eq!(
        reason(&web(
            "  sel:\n    cs-method|expand: '%Servers%'\n  condition: sel\n"
        )),
        "unsupported modifier `expand`"
    );
    assert!(reason(&web(
        "  sel:\n    cs-method|re|contains: x\n  condition: sel\n"
    ))
    .contains("cannot be combined with `re`"));
    assert_eq!(
        reason(&web("  sel:\n    cs-method: GET\n  condition: sel | count() by c-ip > 10\n")),
        "unsupported condition syntax: aggregation expressions (`| count() ...`) are obsolete; use a correlation rule"
    );
    assert_eq!(
        reason(&web(
            "  sel:\n    cs-method: GET\n  condition: sel and other\n"
        )),
        "condition: undefined search identifier `other`"
    );
    assert_eq!(
        reason("title: A\nlogsource:\n  category: webserver\n"),
        "not a rule: neither `detection` nor `correlation`"
    );
    assert_eq!(
        reason("action: global\ntitle: A\nlogsource:\n  category: webserver\n"),
        "not a rule: sigma collection action `global` is not supported"
    );
    assert_eq!(reason("logsource:\n  category: webserver\ndetection:\n  a:\n    cs-method: GET\n  condition: a\n"), "missing `title`");
    assert!(reason("title: [unclosed\n").starts_with("invalid yaml"));
    assert_eq!(
        reason(&format!(
            "{}level: urgent\n",
            web("  sel:\n    cs-method: GET\n  condition: sel\n")
        )),
        "level `urgent` is not one of informational, low, medium, high, critical"
    );
    let ecs = "title: Many failed logins\nid: 0e95725d-7320-415d-80f7-004da920fc11\ntaxonomy: ecs\ncorrelation:\n    type: event_count\n    rules:\n        - 5638f7c0-ac70-491d-8465-2a65075e0d86\n    group-by:\n        - dns.question.name\n    timespan: 1h\n    condition:\n        gte: 100\n";
    assert_eq!(
        reason(ecs),
        "taxonomy `ecs` is not supported (only `sigma`)"
    );
}

#[test]
fn origin_severity_tags_and_printing() {
    let text = format!(
        "{}level: critical\nstatus: test\ntags:\n  - attack.initial-access\n  - attack.t1190\ndescription: Finds it\n",
        web("  sel:\n    cs-method: GET\n  condition: sel\n")
    );
    let report = import_one(&text);
    let rule = report.accepted.into_iter().next().expect("accepted");
    assert_eq!(rule.spec.id, "00000000-0000-4000-8000-000000000001");
    assert_eq!(rule.spec.severity, "critical");
    assert_eq!(
        rule.spec.tags,
        vec!["attack.initial-access", "attack.t1190"]
    );
    assert_eq!(rule.spec.description.as_deref(), Some("Finds it"));
    assert_eq!(
        rule.spec.origin.get("sigma_id").map(String::as_str),
        Some("00000000-0000-4000-8000-000000000001")
    );
    assert_eq!(
        rule.spec.origin.get("file").map(String::as_str),
        Some("rule.yml")
    );
    assert_eq!(
        rule.spec.origin.get("level").map(String::as_str),
        Some("critical")
    );
    assert_eq!(
        rule.spec.origin.get("logsource").map(String::as_str),
        Some("category: webserver")
    );
    assert_eq!(rule.spec.generate, None);
    // The lead's one line: print the condition into the spec.
    let spec = rule.into_spec(|e| format!("{e:?}"));
    assert!(spec
        .condition
        .as_deref()
        .is_some_and(|c| c.contains("class_uid")));
}

/// The correlation specification's brute-force example, on web-server
/// events: names, a chained correlation, `generate`.
const CHAIN: &str = include_str!("../../tests/data/sigma-brute-force-chain.yml");

#[test]
fn chained_correlations_by_name() {
    let report = import(&[Source::new("chain.yml", CHAIN)], &Mapping::builtin());
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(report.accepted.len(), 4);
    let by_id = |id: &str| {
        report
            .accepted
            .iter()
            .find(|r| r.spec.id == id)
            .unwrap_or_else(|| panic!("{id}"))
    };
    let outer = by_id("b180ead8-d58f-40b2-ae54-c8940995b9b6");
    assert!(outer.expr.is_none());
    let c = outer.spec.correlation.as_ref().expect("correlation");
    assert_eq!(c.kind, "temporal_ordered");
    // Names resolve to the referenced rules' ids, in order.
    assert_eq!(
        c.rules,
        vec![
            "a8418a5a-5fc4-46b5-b23b-6c73beb19d41",
            "4d0a2c83-c62c-4ed4-b475-c7e23a9269b8"
        ]
    );
    // group-by through the mapping of the rules underneath.
    assert_eq!(c.group_by, vec!["src_endpoint.ip"]);
    assert_eq!(c.timespan, "10m");
    assert_eq!(outer.spec.severity, "high");
    let inner = by_id("a8418a5a-5fc4-46b5-b23b-6c73beb19d41");
    let ic = inner.spec.correlation.as_ref().unwrap();
    assert_eq!(ic.kind, "event_count");
    assert_eq!(ic.rules, vec!["53ba33fd-3a50-4468-a5ef-c583635cfa92"]);
    assert_eq!(ic.threshold.as_ref().and_then(|t| t.get("gte")), Some(&10));
    // Without `generate`, used rules do not emit on their own.
    assert_eq!(inner.spec.generate, Some(false));
    assert_eq!(
        by_id("53ba33fd-3a50-4468-a5ef-c583635cfa92").spec.generate,
        Some(false)
    );
    assert_eq!(
        by_id("4d0a2c83-c62c-4ed4-b475-c7e23a9269b8").spec.generate,
        Some(false)
    );
    assert_eq!(outer.spec.generate, None);
    // The failed-login condition works on events.
    let failed = by_id("53ba33fd-3a50-4468-a5ef-c583635cfa92")
        .expr
        .as_ref()
        .unwrap();
    assert!(matches(
        failed,
        &http(Req {
            target: "/login",
            status: 401,
            ..Req::default()
        })
    ));
    assert!(!matches(
        failed,
        &http(Req {
            target: "/login",
            status: 200,
            ..Req::default()
        })
    ));

    // `generate: true` makes them emit; the order of the files does not matter.
    let generated = CHAIN.replacen("level: high\n", "level: high\ngenerate: true\n", 1);
    let parts: Vec<&str> = generated.split("---\n").collect();
    let sources: Vec<Source> = parts
        .iter()
        .rev()
        .enumerate()
        .map(|(i, t)| Source::new(format!("part{i}.yml"), *t))
        .collect();
    let report = import(&sources, &Mapping::builtin());
    assert_eq!(report.accepted.len(), 4, "{}", report.summary());
    let inner = report
        .accepted
        .iter()
        .find(|r| r.spec.id == "a8418a5a-5fc4-46b5-b23b-6c73beb19d41")
        .unwrap();
    assert_eq!(inner.spec.generate, Some(true));
}

#[test]
fn correlation_refusals() {
    let base = "title: Base\nname: base\nlogsource:\n  category: dns\ndetection:\n  sel:\n    query|endswith: '.onion'\n  condition: sel\n";
    let corr = |body: &str| format!("title: C\nid: c1\ncorrelation:\n{body}---\n{base}");
    let first = |text: String| {
        let r = import_one(&text);
        r.rejected
            .first()
            .map(|x| x.reason.to_string())
            .unwrap_or_default()
    };
    assert_eq!(
        first(corr("  type: value_sum\n  rules: [base]\n  group-by: [src_ip]\n  timespan: 1h\n  condition:\n    field: bytes\n    gt: 1000\n")),
        "unsupported correlation type `value_sum`"
    );
    assert_eq!(
        first(corr("  type: event_count\n  rules: [nope]\n  group-by: [src_ip]\n  timespan: 1h\n  condition: {gte: 2}\n")),
        "correlation references unknown rule `nope`"
    );
    assert_eq!(
        first(corr("  type: event_count\n  rules: [base]\n  group-by: [User]\n  timespan: 1h\n  condition: {gte: 2}\n")),
        "field `User` not mapped for category: dns"
    );
    // value_count maps its field too.
    let r = import_one(&corr(
        "  type: value_count\n  rules: [base]\n  group-by: [src_ip]\n  timespan: 1h\n  condition:\n    field: query\n    gte: 20\n",
    ));
    assert_eq!(r.accepted.len(), 2, "{}", r.summary());
    let c = r
        .accepted
        .iter()
        .find_map(|a| a.spec.correlation.as_ref())
        .unwrap();
    assert_eq!(c.field.as_deref(), Some("query.hostname"));
    assert_eq!(c.group_by, vec!["src_endpoint.ip"]);
    // A referenced rule that was rejected rejects the correlation, saying why.
    let bad = "title: C\ncorrelation:\n  type: event_count\n  rules: [auditd]\n  group-by: [x]\n  timespan: 1h\n  condition: {gte: 2}\n---\ntitle: A\nname: auditd\nlogsource:\n  product: linux\n  service: auditd\ndetection:\n  s:\n    type: X\n  condition: s\n";
    let r = import_one(bad);
    assert_eq!(r.rejected.len(), 2);
    assert_eq!(
        r.rejected.first().map(|x| x.reason.to_string()).unwrap_or_default(),
        "correlation references rule `auditd`, which was not accepted (logsource not produced by Vigil: product: linux, service: auditd)"
    );
    // Correlations naming each other.
    let cycle = "title: A\nname: a\ncorrelation:\n  type: temporal\n  rules: [b]\n  timespan: 1h\n---\ntitle: B\nname: b\ncorrelation:\n  type: temporal\n  rules: [a]\n  timespan: 1h\n";
    let r = import_one(cycle);
    assert_eq!(r.accepted.len(), 0);
    assert!(
        r.rejected
            .iter()
            .all(|x| matches!(&x.reason, Reason::Cycle(_) | Reason::RejectedRule { .. })),
        "{:?}",
        r.rejected
    );
}

#[test]
fn long_chains_resolve_in_order_without_recursion() {
    // The last stage first: resolving it resolves the whole chain.
    let mut text = String::new();
    for i in (1..=200).rev() {
        text.push_str(&format!(
            "title: c{i}\nname: c{i}\ncorrelation:\n  type: event_count\n  rules: [c{}]\n  timespan: 1m\n  condition: {{gte: 2}}\n---\n",
            i - 1
        ));
    }
    text.push_str(
        "title: base\nname: c0\nlogsource:\n  category: dns\ndetection:\n  s:\n    query: x\n  condition: s\n",
    );
    let report = import_one(&text);
    assert_eq!(report.total(), 201);
    assert_eq!(report.accepted.len(), 201, "{}", report.summary());
    let last = report
        .accepted
        .iter()
        .find(|r| r.spec.id == "c200")
        .unwrap();
    assert_eq!(
        last.spec.correlation.as_ref().map(|c| c.rules.clone()),
        Some(vec!["c199".to_owned()])
    );
    // A broken base rejects the whole chain, each naming the first cause.
    let broken = text.replace("query: x", "Z: 1");
    let report = import_one(&broken);
    assert_eq!(report.accepted.len(), 0);
    assert!(report
        .rejected
        .iter()
        .all(|r| r.reason.to_string().len() < 200));
    assert!(report
        .summary()
        .contains("(field `Z` not mapped for category: dns)"));
}

#[test]
fn duplicate_ids_are_rejected_once() {
    let one = web("  sel:\n    cs-method: GET\n  condition: sel\n");
    let r = import(
        &[Source::new("a.yml", one.clone()), Source::new("b.yml", one)],
        &Mapping::builtin(),
    );
    assert_eq!(r.accepted.len(), 1);
    assert_eq!(r.rejected.len(), 1);
    assert_eq!(r.rejected.first().map(|x| x.file.as_str()), Some("b.yml"));
    assert!(r.summary().ends_with("accepted 1 of 2 rules"));
}

#[test]
fn proxy_file_extensions_come_from_the_path() {
    let text = "title: X\nlogsource:\n  category: proxy\ndetection:\n  sel:\n    c-uri-extension:\n      - exe\n      - ps1\n  condition: sel\n";
    let e = expr(text);
    assert!(matches(&e, &get("/dl/setup.EXE?from=mail")));
    assert!(matches(&e, &get("/a.ps1")));
    assert!(!matches(&e, &get("/dl/exe")));
    assert!(!matches(&e, &get("/dl/setup.exe.txt")));
    assert!(
        reason(&text.replace("c-uri-extension:", "c-uri-extension|contains:"))
            .contains("without modifiers")
    );
}

#[test]
fn dns_rules_on_dns_events() {
    let text = "title: TXT\nlogsource:\n  category: dns\ndetection:\n  selection:\n    record_type: 'TXT'\n    answer|contains:\n      - 'IEX'\n      - 'cmd.exe'\n  condition: selection\n";
    let e = expr(text);
    assert!(matches(
        &e,
        &dns(
            "x.example",
            "TXT",
            &["\"harmless\"", "\"powershell iex(x)\""]
        )
    ));
    assert!(!matches(&e, &dns("x.example", "TXT", &["\"harmless\""])));
    assert!(!matches(&e, &dns("x.example", "A", &["cmd.exe"])));
}

/// Every rule of the shared SigmaHQ corpus is accepted or rejected with a
/// reason; the counts add up; nothing Vigil produces is lost to our bugs.
#[test]
fn the_sigma_corpus_imports() {
    let Some(dir) = vigil_testkit::require_shared_data("sigma") else {
        return;
    };
    let sources = read_sources(&[
        dir.join("rules"),
        dir.join("rules-threat-hunting"),
        dir.join("specification/tests"),
    ])
    .expect("the corpus reads");
    let documents: usize = sources
        .iter()
        .map(|s| {
            s.text
                .split("\n---")
                .filter(|d| !d.trim().is_empty())
                .count()
        })
        .sum();
    let report = import(&sources, &Mapping::builtin());
    println!("{}", report.summary());
    for r in &report.rejected {
        println!("  {r}");
    }
    assert_eq!(report.total(), documents, "every document is counted once");
    assert!(report.summary().ends_with(&format!(
        "accepted {} of {} rules",
        report.accepted.len(),
        documents
    )));
    let counted: usize = report.reasons().iter().map(|(_, n)| n).sum();
    assert_eq!(counted, report.rejected.len());
    // No reason is an internal slip: every rejection is one of the kinds
    // that mean "Vigil does not produce or run this", never a YAML error or
    // a condition we failed to parse.
    for r in &report.rejected {
        assert!(
            matches!(
                r.reason,
                Reason::Logsource(_)
                    | Reason::UnmappedField { .. }
                    | Reason::Keywords(_)
                    | Reason::CorrelationType(_)
                    | Reason::UnknownRule(_)
                    | Reason::Taxonomy(_)
            ),
            "{r}"
        );
    }
    // What Vigil produces is accepted: all web-server rules, all DNS rules.
    let accepted_from = |dir: &str| {
        report
            .accepted
            .iter()
            .filter(|a| a.spec.origin.get("file").is_some_and(|f| f.contains(dir)))
            .count()
    };
    let files_in = |dir: &str| sources.iter().filter(|s| s.name.contains(dir)).count();
    assert_eq!(
        accepted_from("webserver_generic"),
        files_in("webserver_generic")
    );
    assert_eq!(accepted_from("network/dns/"), files_in("network/dns/"));
    // All proxy rules but the one that needs the Cookie header.
    assert_eq!(
        accepted_from("proxy_generic"),
        files_in("proxy_generic") - 1
    );
    assert!(report
        .rejected
        .iter()
        .any(|r| r.file.contains("proxy_generic")
            && r.reason.to_string() == "field `cs-cookie` not mapped for category: proxy"));
    // Every accepted condition compiles, and prints as condition text that
    // parses back to the same tree (what `into_spec(expr::to_infix)` keeps).
    for a in &report.accepted {
        let Some(e) = &a.expr else { continue };
        let text = expr::to_infix(e);
        assert_eq!(expr::parse(&text).as_ref(), Ok(e), "{}: {text}", a.spec.id);
        assert!(expr::compile(e).is_ok(), "{}", a.spec.id);
        let spec = a.clone().into_spec(expr::to_infix);
        assert!(expr::compile_text(spec.condition.as_deref().unwrap_or_default()).is_ok());
    }
    // Rule ids are unique.
    let mut ids: Vec<&str> = report.accepted.iter().map(|a| a.spec.id.as_str()).collect();
    ids.sort_unstable();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// Any text: accepted or rejected, never a panic, every document counted.
    #[test]
    fn import_never_panics_on_text(text in "[a-z:|*?\\\\ \\n'\"{}\\[\\]()-]{0,160}") {
        let report = import_one(&text);
        proptest::prop_assert!(report.summary().ends_with("rules"));
    }

    /// Rule-shaped text with random fields, modifiers, values and
    /// conditions: what is accepted compiles.
    #[test]
    fn accepted_rules_compile(
        field in proptest::sample::select(vec!["cs-method", "c-ip", "sc-status", "cs-referer", "cs-uri-query", "", "nope"]),
        mods in proptest::collection::vec(proptest::sample::select(vec![
            "contains", "startswith", "endswith", "all", "re", "i", "cidr", "exists", "gt", "lte",
            "base64", "base64offset", "windash", "cased", "neq", "fieldref", "utf16",
        ]), 0..3),
        value in proptest::sample::select(vec![
            "'x'", "'*a?b*'", "404", "'10.0.0.0/8'", "true", "null", "['a', 'b']", "'(a|b)+'", "''", "'c-ip'", "[1, 'x']",
        ]),
        cond in proptest::sample::select(vec![
            "sel", "not sel", "1 of them", "all of s*", "sel and (sel or not sel)", "sel | count() > 1", "x",
        ]),
    ) {
        let key = std::iter::once(field).chain(mods).collect::<Vec<_>>().join("|");
        let text = web(&format!("  sel:\n    '{key}': {value}\n  condition: {cond}\n"));
        let report = import_one(&text);
        proptest::prop_assert_eq!(report.total(), 1);
        for a in &report.accepted {
            let e = a.expr.as_ref().unwrap();
            proptest::prop_assert!(expr::compile(e).is_ok(), "{}", expr::to_infix(e));
            let back = expr::parse(&expr::to_infix(e));
            proptest::prop_assert_eq!(back.as_ref(), Ok(e));
        }
    }
}
