//! Parser and printer tests; the round-trip property test.

use std::net::IpAddr;

use proptest::prelude::*;

use super::*;
use crate::ast::{CmpOp, Func, Literal, Operand, StrOp};

fn field(name: &str) -> Operand {
    Operand::Field(name.into())
}

fn cmp(lhs: Operand, op: CmpOp, rhs: Operand) -> Expr {
    Expr::Compare { lhs, op, rhs }
}

#[test]
fn precedence_and_flattening() {
    let e = parse("a == 1 or b == 2 and not c == 3 or (d == 4 or e == 5)").unwrap();
    let one = |f: &str, n| cmp(field(f), CmpOp::Eq, Operand::Literal(Literal::Int(n)));
    assert_eq!(
        e,
        Expr::Or(vec![
            one("a", 1),
            Expr::And(vec![one("b", 2), Expr::not(one("c", 3))]),
            one("d", 4),
            one("e", 5),
        ])
    );
    assert_eq!(
        to_infix(&e),
        "a == 1 or b == 2 and not c == 3 or d == 4 or e == 5"
    );
    let e = parse("(a == 1 or b == 2) && !(c == 3 || d == 4)").unwrap();
    assert_eq!(
        to_infix(&e),
        "(a == 1 or b == 2) and not (c == 3 or d == 4)"
    );
    assert_eq!(
        parse("NOT a == 1 AND b == 2").unwrap(),
        parse("not a == 1 and b == 2").unwrap()
    );
}

#[test]
fn every_form_parses_and_prints() {
    let cases = [
        r#"src_endpoint.ip == 10.0.0.1"#,
        r#"src_endpoint.ip != ::1"#,
        r#"dst_endpoint.port >= 1024"#,
        r#"dst_endpoint.port in [22, 23, 3389]"#,
        r#"query.type iin ["txt", "any"]"#,
        r#"dst_endpoint.ip in cidr ["10.0.0.0/8", "fd00::/8", "192.0.2.1"]"#,
        r#"http_request.url.path contains "/etc/passwd""#,
        r#"http_request.user_agent istartswith "sqlmap""#,
        r#"query.hostname iendswith ".onion""#,
        r#"http_request.http_method ieq "get""#,
        r#"http_request.http_method eq "GET""#,
        r#"http_request.url.query_string matches /union\s+select/i"#,
        r#"http_request.url.path matches "a/b"i"#,
        r#"exists tls.sni"#,
        r#"len(query.hostname) > 60"#,
        r#"lower(http_request.user_agent) contains "curl""#,
        r#"intel(dst_endpoint.ip)"#,
        r#"true"#,
        r#"not false"#,
        r#"not not exists raw_data"#,
        r#""a\"b\\c\n" == raw_data"#,
    ];
    for src in cases {
        let e = parse(src).unwrap_or_else(|err| panic!("{src}: {err}"));
        assert_eq!(to_infix(&e), src, "canonical form of {src}");
        assert_eq!(parse(&to_infix(&e)).unwrap(), e);
    }
}

#[test]
fn alternative_spellings_print_canonically() {
    let cases = [
        (
            "a in cidr [10.0.0.0/8, fe80::/10, '::1']",
            r#"a in cidr ["10.0.0.0/8", "fe80::/10", "::1"]"#,
        ),
        ("a in [1, 2,]", "a in [1, 2]"),
        ("a matches 'x'", r#"a matches /x/"#),
        ("a MATCHES \"x\" is", r#"a matches /x/is"#),
        ("((a == 'x'))", r#"a == "x""#),
        ("intel(a) == true", "intel(a)"),
        ("a == \"\\u{1}\"", r#"a == "\u{1}""#),
    ];
    for (src, want) in cases {
        let e = parse(src).unwrap_or_else(|err| panic!("{src}: {err}"));
        assert_eq!(to_infix(&e), want, "{src}");
    }
}

#[test]
fn regexes_with_slashes_round_trip() {
    for (pattern, printed) in [
        ("a/b", r#""a/b""#),
        (r"a\/b", r"/a\/b/"),
        (r"\d+\.php", r"/\d+\.php/"),
        ("a\\", r#""a\\""#),
        ("x\ny", r#""x\ny""#),
    ] {
        let e = Expr::Matches {
            operand: field("f"),
            pattern: pattern.into(),
            flags: "i".into(),
        };
        let text = to_infix(&e);
        assert_eq!(text, format!("f matches {printed}i"));
        assert_eq!(parse(&text).unwrap(), e, "{text}");
    }
}

#[test]
fn parse_errors_point_at_the_column() {
    let cases = [
        (
            "",
            1,
            "expected a field, a value or `(`, found end of input",
        ),
        ("a ==", 5, "found end of input"),
        ("a == 1 b", 8, "expected `and`, `or` or the end, found `b`"),
        ("a", 2, "expected an operator"),
        ("(a == 1", 8, "expected `)`"),
        (
            "a contains 5",
            12,
            "expected a quoted pattern, found number 5",
        ),
        ("a in [1 2]", 9, "expected `,` or `]`"),
        ("a in (1)", 6, "expected `[`"),
        ("foo(a) == 1", 1, "unknown function `foo`"),
        ("exists and", 8, "expected a field name after `exists`"),
        (
            "a == and",
            6,
            "expected a field, a value or `(`, found `and`",
        ),
        ("a matches 5", 11, "expected a regex"),
        ("a in cidr [true]", 12, "expected a network"),
    ];
    for (src, column, text) in cases {
        let err = parse(src).expect_err(src);
        assert_eq!(err.column(), column, "{src}: {err}");
        assert!(err.to_string().contains(text), "{src}: {err}");
    }
}

#[test]
fn nesting_is_bounded() {
    let deep = format!(
        "{}a == 1{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert!(matches!(parse(&deep), Err(ParseError::TooDeep { .. })));
    let nots = format!("{}a == 1", "not ".repeat(MAX_DEPTH + 1));
    assert!(matches!(parse(&nots), Err(ParseError::TooDeep { .. })));
    let ok = format!(
        "{}a == 1{}",
        "(".repeat(MAX_DEPTH - 1),
        ")".repeat(MAX_DEPTH - 1)
    );
    assert!(parse(&ok).is_ok());
}

#[test]
fn spans_follow_the_tree() {
    let (e, spans) = parse_spanned("a == 1 and not b contains \"x\"").unwrap();
    assert!(matches!(e, Expr::And(_)));
    assert_eq!(spans.column, 8); // the first `and`
    let first = spans.part(0).unwrap();
    assert_eq!(first.column, 3); // the operator
    assert_eq!(first.part(0).unwrap().column, 1);
    assert_eq!(first.part(1).unwrap().column, 6);
    let not = spans.part(1).unwrap();
    assert_eq!(not.column, 12);
    let contains = not.part(0).unwrap();
    assert_eq!(contains.part(0).unwrap().column, 16);
    assert_eq!(contains.part(1).unwrap().column, 27);
}

#[test]
fn tree_view() {
    let e = parse(r#"dst_endpoint.port == 22 and not src_endpoint.ip in cidr ["10.0.0.0/8"] and lower(http_request.user_agent) contains "x""#).unwrap();
    let want = "\
and
├── ==
│   ├── dst_endpoint.port
│   └── 22
├── not
│   └── in cidr
│       ├── src_endpoint.ip
│       └── [\"10.0.0.0/8\"]
└── contains
    ├── lower
    │   └── http_request.user_agent
    └── \"x\"
";
    assert_eq!(to_tree(&e), want);
    assert_eq!(to_tree(&Expr::Const(true)), "true\n");
}

// ---- round trip: parse(to_infix(t)) == t for well-formed trees ----

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(
            vigil_event::fields::all()
                .iter()
                .map(|f| f.name.to_owned())
                .collect::<Vec<_>>()
        ),
        "[a-z_][a-z0-9_]{0,6}(\\.[a-z_][a-z0-9_]{0,6}){0,2}"
            .prop_filter("not a keyword", |w| !parse::is_keyword(w)
                && !matches!(w.as_str(), "lower" | "len" | "intel")),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,12}",
        proptest::sample::select(vec![
            "/etc/passwd".to_owned(),
            "' or 1=1--".to_owned(),
            "\\\"".to_owned(),
            String::new(),
        ]),
    ]
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        text().prop_map(Literal::Str),
        any::<i64>().prop_map(Literal::Int),
        any::<IpAddr>().prop_map(Literal::Ip),
        any::<bool>().prop_map(Literal::Bool),
    ]
}

fn operand() -> impl Strategy<Value = Operand> {
    let leaf = prop_oneof![
        field_name().prop_map(Operand::Field),
        literal().prop_map(Operand::Literal),
    ];
    leaf.prop_recursive(2, 4, 2, |inner| {
        (
            proptest::sample::select(vec![Func::Lower, Func::Len, Func::Intel]),
            proptest::collection::vec(inner, 0..3),
        )
            .prop_map(|(f, args)| Operand::Call(f, args))
    })
}

fn str_op() -> impl Strategy<Value = StrOp> {
    proptest::sample::select(vec![
        StrOp::Equals,
        StrOp::Contains,
        StrOp::StartsWith,
        StrOp::EndsWith,
    ])
}

fn cmp_op() -> impl Strategy<Value = CmpOp> {
    proptest::sample::select(vec![
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
    ])
}

fn network() -> impl Strategy<Value = String> {
    prop_oneof![
        (any::<IpAddr>(), 0u8..=32).prop_map(|(ip, n)| format!("{ip}/{n}")),
        any::<IpAddr>().prop_map(|ip| ip.to_string()),
        text(),
    ]
}

fn leaf_expr() -> impl Strategy<Value = Expr> {
    prop_oneof![
        (operand(), cmp_op(), operand()).prop_map(|(lhs, op, rhs)| Expr::Compare { lhs, op, rhs }),
        (operand(), str_op(), text(), any::<bool>()).prop_map(|(operand, op, pattern, nocase)| {
            Expr::Str {
                operand,
                op,
                pattern,
                nocase,
            }
        }),
        (
            operand(),
            proptest::collection::vec(literal(), 0..4),
            any::<bool>()
        )
            .prop_map(|(operand, values, nocase)| Expr::In {
                operand,
                values,
                nocase
            }),
        (operand(), text(), "[ims]{0,3}").prop_map(|(operand, pattern, flags)| Expr::Matches {
            operand,
            pattern,
            flags
        }),
        (operand(), proptest::collection::vec(network(), 0..3))
            .prop_map(|(operand, networks)| Expr::InCidr { operand, networks }),
        field_name().prop_map(Expr::Exists),
        any::<bool>().prop_map(Expr::Const),
    ]
}

/// Well-formed trees: `And`/`Or` have two or more parts and none of them is
/// of the same kind (what the parser and the constructors make).
fn well_formed() -> impl Strategy<Value = Expr> {
    leaf_expr().prop_recursive(5, 40, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Expr::and),
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Expr::or),
            inner.prop_map(Expr::not),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn printing_then_parsing_gives_the_same_tree(e in well_formed()) {
        let text = to_infix(&e);
        let back = parse(&text);
        prop_assert_eq!(back.as_ref(), Ok(&e), "printed as {}", text);
        // The tree view never fails and has one line per node at least.
        prop_assert!(to_tree(&e).lines().count() >= 1);
    }

    #[test]
    fn the_parser_never_panics(src in "\\PC{0,40}") {
        if let Ok(e) = parse(&src) {
            prop_assert_eq!(parse(&to_infix(&e)), Ok(e));
        }
    }
}

// ---- checking ----

#[test]
fn check_errors_point_at_the_column() {
    let cases = [
        (
            "src_endpoint.ipp == 10.0.0.1",
            "unknown field `src_endpoint.ipp` at column 1; did you mean `src_endpoint.ip`?",
        ),
        (
            "exists tls.snii",
            "unknown field `tls.snii` at column 8; did you mean `tls.sni`?",
        ),
        (
            r#"src_endpoint.ip == "10.0.0.x""#,
            "`10.0.0.x` is not an ip address (compared with src_endpoint.ip) at column 20",
        ),
        (
            r#"dst_endpoint.port == "22""#,
            r#"cannot compare dst_endpoint.port (integer) with "22" (string) at column 19"#,
        ),
        (
            r#"query.hostname < "m""#,
            "`<` needs numbers or addresses, not string (query.hostname) at column 16",
        ),
        (
            r#"http_request.url.path matches /(unclosed/"#,
            "invalid regex /(unclosed/: unclosed group at column 31",
        ),
        (
            r#"dst_endpoint.ip in cidr ["10.0.0.0/8", "10.0.0.0/40"]"#,
            "invalid network `10.0.0.0/40` (expected an address or address/prefix such as 10.0.0.0/8) at column 40",
        ),
        (
            r#"dst_endpoint.port in cidr ["10.0.0.0/8"]"#,
            "`in cidr` needs an address, but dst_endpoint.port is integer at column 1",
        ),
        (
            r#"dst_endpoint.port in [22, "ssh"]"#,
            r#"cannot compare dst_endpoint.port (integer) with "ssh" (string) at column 27"#,
        ),
        (
            "intel(dst_endpoint.ip)",
            "intel() needs the threat-intel store (vigil-intel), not built yet at column 1",
        ),
        (
            "len(dst_endpoint.port) > 3",
            "len() needs text, but dst_endpoint.port is integer at column 5",
        ),
        ("lower() == \"x\"", "lower() takes one argument, not 0 at column 1"),
        (
            "x == 1 and not (y == 2)",
            "unknown field `x` at column 1",
        ),
    ];
    for (src, want) in cases {
        let err = parse_checked(src).expect_err(src);
        assert_eq!(err.to_string(), want, "{src}");
    }
}

#[test]
fn check_without_spans_has_no_column() {
    let e = parse("src_endpoint.ipp == 10.0.0.1").unwrap();
    assert_eq!(
        check(&e).unwrap_err().to_string(),
        "unknown field `src_endpoint.ipp`; did you mean `src_endpoint.ip`?"
    );
    let bad_flags = Expr::Matches {
        operand: field("raw_data"),
        pattern: "x".into(),
        flags: "g".into(),
    };
    assert_eq!(
        check(&bad_flags).unwrap_err().to_string(),
        "unknown regex flag `g` (use i, m, s)"
    );
}

// ---- evaluation ----

fn sample(record: &str) -> vigil_event::Event {
    vigil_event::fields::samples()
        .into_iter()
        .find(|e| e.kind().name() == record)
        .expect("a sample of each record kind")
}

fn holds(src: &str, event: &vigil_event::Event) -> bool {
    compile_text(src)
        .unwrap_or_else(|e| panic!("{src}: {e}"))
        .matches(event)
}

#[test]
fn evaluation_on_the_samples() {
    let http = sample("http");
    let dns = sample("dns");
    let flow = sample("flow");
    let tls = sample("tls");
    let yes = [
        (r#"http_request.user_agent istartswith "SQLMAP""#, &http),
        (
            r#"http_request.url.query_string contains "OR%201=1""#,
            &http,
        ),
        (
            r#"http_request.url.path endswith ".php" and http_response.code >= 500"#,
            &http,
        ),
        (r#"http_request.url.url_string matches /id=\d+%27/"#, &http),
        (r#"http_request.http_method in ["POST", "GET"]"#, &http),
        (r#"http_request.http_method iin ["get"]"#, &http),
        (r#"http_request.http_method ieq "get""#, &http),
        (
            r#"lower(http_request.user_agent) contains "sqlmap/""#,
            &http,
        ),
        (r#"len(http_request.url.path) == 10"#, &http),
        (
            r#"src_endpoint.ip == "192.0.2.10" and src_endpoint.ip == 192.0.2.10"#,
            &http,
        ),
        (r#"src_endpoint.ip in cidr ["192.0.2.0/24"]"#, &http),
        (r#"src_endpoint.ip startswith "192.0.2.""#, &http),
        (
            r#"src_endpoint.port < dst_endpoint.port or src_endpoint.port > 1024"#,
            &http,
        ),
        (r#"answers.rdata == "198.51.100.7""#, &dns),
        (r#"answers.rdata in cidr ["198.51.100.0/24"]"#, &dns),
        (r#"answers.ttl < 100"#, &dns),
        (r#"query.hostname iendswith ".EXAMPLE.com""#, &dns),
        (r#"flags in ["ra"] and query.type == "A""#, &dns),
        (r#"observables.value == "www.example.com""#, &dns),
        (
            r#"traffic.bytes_in > traffic.bytes_out and dst_endpoint.port in [80, 443]"#,
            &flow,
        ),
        (r#"dst_endpoint.ip in [198.51.100.7, "10.0.0.1"]"#, &flow),
        (r#"tls.client_hello.ciphers == 49195"#, &tls),
        (r#"tls.certificate.sans == "198.51.100.7""#, &tls),
        (r#"exists tls.ja4 and not exists query.hostname"#, &tls),
        (r#"not http_request.url.path == "/x""#, &dns),
        (r#"class_uid == 4003 and record == "dns""#, &dns),
        (r#"true"#, &dns),
        (r#"1 < 2"#, &dns),
    ];
    for (src, event) in yes {
        assert!(
            holds(src, event),
            "{src} should hold on the {} sample",
            event.kind().name()
        );
    }
    let no = [
        (r#"http_request.user_agent startswith "SQLMAP""#, &http),
        (r#"http_request.http_method in ["get"]"#, &http),
        (r#"http_request.url.path matches /^\/admin/"#, &http),
        (
            r#"src_endpoint.ip in cidr ["10.0.0.0/8", "fd00::/8"]"#,
            &http,
        ),
        (r#"answers.ttl > 1000"#, &dns),
        // A missing field makes every test false, != included.
        (r#"http_request.url.path != "/x""#, &dns),
        (r#"http_request.url.path == "/x""#, &dns),
        (r#"len(http_request.url.path) >= 0"#, &dns),
        (r#"exists http_request.url.path"#, &dns),
        (r#"dst_endpoint.port in []"#, &flow),
        (r#"false"#, &flow),
    ];
    for (src, event) in no {
        assert!(
            !holds(src, event),
            "{src} should not hold on the {} sample",
            event.kind().name()
        );
    }
}

#[test]
fn condition_lists_its_fields() {
    let c = compile_text(
        r#"lower(query.hostname) contains "x" or query.hostname == "y" and exists rcode"#,
    )
    .unwrap();
    assert_eq!(c.fields(), &["query.hostname", "rcode"]);
}

// ---- ConditionSet against one-by-one evaluation ----

use vigil_event::{Body, Event};

const WORDS: &[&str] = &[
    "/index.php",
    "index",
    "PHP",
    "sqlmap",
    "SQLMAP/1.7",
    "www.example.com",
    "EXAMPLE",
    "kit",
    "\u{212A}IT",
    "é",
    "É",
    "ſelect",
    "SELECT",
    "union select",
    "198.51.100.7",
    "",
    "a",
    "/etc/passwd",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(WORDS).prop_map(str::to_owned),
        (
            proptest::sample::select(WORDS),
            proptest::sample::select(WORDS)
        )
            .prop_map(|(a, b)| format!("{a}{b}")),
    ]
}

const TEXT_FIELDS: &[&str] = &[
    "http_request.url.path",
    "http_request.user_agent",
    "http_request.url.query_string",
    "query.hostname",
    "answers.rdata",
    "dst_endpoint.hostname",
    "tls.sni",
    "observables.value",
];
const INT_FIELDS: &[&str] = &[
    "dst_endpoint.port",
    "answers.ttl",
    "http_response.code",
    "class_uid",
];
const INTS: &[i64] = &[53, 80, 443, 500, 300, 60, 4001, 4002, 4003, 2004];
const IP_FIELDS: &[&str] = &["src_endpoint.ip", "dst_endpoint.ip"];
const IPS: &[&str] = &[
    "192.0.2.10",
    "198.51.100.7",
    "10.0.0.1",
    "::ffff:192.0.2.10",
];

fn set_leaf() -> impl Strategy<Value = Expr> {
    let text_field = || proptest::sample::select(TEXT_FIELDS).prop_map(field);
    let int_field = || proptest::sample::select(INT_FIELDS).prop_map(field);
    let ip_field = || proptest::sample::select(IP_FIELDS).prop_map(field);
    let ip = || proptest::sample::select(IPS).prop_map(|s| Literal::Ip(s.parse().unwrap()));
    prop_oneof![
        4 => (text_field(), str_op(), word(), any::<bool>()).prop_map(|(operand, op, pattern, nocase)| {
            Expr::Str { operand, op, pattern, nocase }
        }),
        2 => (text_field(), prop_oneof![Just(CmpOp::Eq), Just(CmpOp::Ne)], word())
            .prop_map(|(lhs, op, w)| cmp(lhs, op, Operand::Literal(Literal::Str(w)))),
        2 => (text_field(), proptest::collection::vec(word(), 1..4), any::<bool>()).prop_map(
            |(operand, ws, nocase)| Expr::In {
                operand,
                values: ws.into_iter().map(Literal::Str).collect(),
                nocase,
            }
        ),
        1 => (text_field(), proptest::sample::select(vec![
            "^/",
            r"\.php$",
            "(?i)select",
            "e.a",
            r"union\s+select",
            "(?i)k[i]t",
            "(?:index|ſelect)",
            "[^a]",
        ]), proptest::sample::select(vec!["", "i"]))
            .prop_map(|(operand, p, flags)| Expr::Matches { operand, pattern: p.into(), flags: flags.into() }),
        1 => (lower_of(text_field()), str_op(), word()).prop_map(|(operand, op, pattern)| Expr::Str {
            operand,
            op,
            pattern,
            nocase: false,
        }),
        2 => (int_field(), cmp_op(), proptest::sample::select(INTS))
            .prop_map(|(lhs, op, n)| cmp(lhs, op, Operand::Literal(Literal::Int(n)))),
        1 => (int_field(), proptest::collection::vec(proptest::sample::select(INTS), 1..4)).prop_map(
            |(operand, ns)| Expr::In {
                operand,
                values: ns.into_iter().map(Literal::Int).collect(),
                nocase: false,
            }
        ),
        2 => (ip_field(), prop_oneof![Just(CmpOp::Eq), Just(CmpOp::Ne)], ip())
            .prop_map(|(lhs, op, v)| cmp(lhs, op, Operand::Literal(v))),
        1 => (ip_field(), proptest::collection::vec(ip(), 1..3)).prop_map(|(operand, values)| Expr::In {
            operand,
            values,
            nocase: false,
        }),
        2 => (ip_field(), proptest::collection::vec(proptest::sample::select(vec![
            "192.0.2.0/24",
            "10.0.0.0/8",
            "10.0.0.0/7",
            "::/0",
            "fd00::/8",
            "fd00::/24",
            "::ffff:10.0.0.0/104",
            "198.51.100.7",
        ]), 1..3))
            .prop_map(|(operand, ns)| Expr::InCidr {
                operand,
                networks: ns.into_iter().map(str::to_owned).collect(),
            }),
        1 => proptest::sample::select(TEXT_FIELDS).prop_map(|f| Expr::Exists(f.into())),
        1 => any::<bool>().prop_map(Expr::Const),
    ]
}

fn lower_of(f: impl Strategy<Value = Operand>) -> impl Strategy<Value = Operand> {
    f.prop_map(|o| Operand::Call(Func::Lower, vec![o]))
}

fn set_condition() -> impl Strategy<Value = Expr> {
    set_leaf().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Expr::and),
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Expr::or),
            inner.prop_map(Expr::not),
        ]
    })
}

/// A sample event with its text fields replaced by generated words.
fn set_event() -> impl Strategy<Value = Event> {
    (
        0..7usize,
        proptest::collection::vec(word(), 4),
        proptest::sample::select(INTS),
        any::<bool>(),
        proptest::sample::select(IPS),
    )
        .prop_map(|(which, words, port, lie_about_class, src_ip)| {
            let mut e = vigil_event::fields::samples().swap_remove(which);
            let w = |i: usize| words.get(i).cloned().unwrap_or_default();
            match &mut e.body {
                Body::Http(h) => {
                    h.http_request.url.path = w(0);
                    h.http_request.user_agent = Some(w(1));
                    h.http_request.url.query_string = Some(w(2));
                    h.dst_endpoint.port = Some(port as u16);
                }
                Body::Dns(d) => {
                    d.query.hostname = w(0);
                    if let Some(a) = d.answers.first_mut() {
                        a.rdata = w(1);
                    }
                    d.dst_endpoint.hostname = Some(w(2));
                }
                Body::Tls(t) => {
                    t.tls.sni = Some(w(0));
                    t.dst_endpoint.hostname = Some(w(1));
                }
                Body::Flow(f) => f.dst_endpoint.port = Some(port as u16),
                _ => {}
            }
            let src_ip: IpAddr = src_ip.parse().unwrap();
            match &mut e.body {
                Body::Http(h) => h.src_endpoint.ip = src_ip,
                Body::Dns(d) => d.src_endpoint.ip = src_ip,
                Body::Flow(f) => f.src_endpoint.ip = src_ip,
                _ => {}
            }
            if let Some(o) = e.observables.first_mut() {
                o.value = w(3);
            }
            if lie_about_class {
                // Hand-made JSON can carry a class its record does not have.
                e.class_uid = 4002;
            }
            e
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn condition_set_agrees_with_one_by_one_evaluation(
        exprs in proptest::collection::vec(set_condition(), 1..40),
        events in proptest::collection::vec(set_event(), 1..8),
        shuffle in any::<u64>(),
    ) {
        let mut set = ConditionSet::new();
        let mut singles = Vec::new();
        // Ids sparse and added out of order.
        let n = exprs.len();
        for k in 0..n {
            let i = (k + shuffle as usize) % n;
            let id = i * 3 + 1;
            set.add(id, &exprs[i]).unwrap();
            singles.push((id, compile(&exprs[i]).unwrap()));
        }
        singles.sort_by_key(|(id, _)| *id);
        let mut out = Vec::new();
        for e in &events {
            set.matches(e, &mut out);
            let want: Vec<usize> = singles.iter().filter(|(_, c)| c.matches(e)).map(|(id, _)| *id).collect();
            prop_assert_eq!(&out, &want, "event {:?}", e.kind());
        }
    }
}

#[test]
fn condition_set_indexes_by_literal_and_class() {
    let mut set = ConditionSet::new();
    let conds = [
        r#"http_request.url.path contains "/etc/passwd""#,
        r#"query.hostname iendswith ".onion" or query.hostname iendswith ".bit""#,
        r#"dst_endpoint.port == 4444 and class_uid == 4001"#,
        r#"http_response.code >= 500"#,
        r#"not exists raw_data"#,
        r#"class_uid == 4003 and http_request.url.path == "/""#,
        r#"http_request.user_agent icontains "sqlmap" and http_request.url.path endswith ".php""#,
    ];
    for (i, c) in conds.iter().enumerate() {
        set.add(i, &parse(c).unwrap()).unwrap();
    }
    let stats = set.stats();
    assert_eq!(stats.conditions, 7);
    assert_eq!(stats.by_literal, 4);
    assert_eq!(stats.by_class, 1);
    assert_eq!(stats.any_class, 1);
    assert_eq!(stats.never, 1);
    let mut out = Vec::new();
    set.matches(&sample("http"), &mut out);
    assert_eq!(out, vec![3, 6]);
    set.matches(&sample("dns"), &mut out);
    assert!(out.is_empty());
}
