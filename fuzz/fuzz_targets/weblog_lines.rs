//! Arbitrary bytes as log lines: every format parser and the format
//! detector answer with a record or a reason, never a panic; a record
//! converts to an event that serializes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_weblog::detect::detect;
use vigil_weblog::format::JsonMapping;
use vigil_weblog::{ocsf, AccessRecord, Parser};

fuzz_target!(|data: &[u8]| {
    let mut parsers = vec![
        Parser::nginx_combined(),
        Parser::json(JsonMapping::default()),
        Parser::modsecurity(),
    ];
    for format in [
        "log_format j escape=json '{\"t\":\"$time_iso8601\",\"ip\":\"$remote_addr\",\"r\":\"$request\",\"s\":$status,\"ua\":\"$http_user_agent\"}';",
        "$remote_addr:$remote_port $host$request_uri $msec \"$http_user_agent\" $cookie_sid",
    ] {
        parsers.push(Parser::nginx(format).expect("a fixed format compiles"));
    }
    for format in ["combined", "%a %{remote}p %{%Y-%m-%d %H:%M:%S}t \"%m %U%q %H\" %>s %O %D \"%{Cookie}i\""] {
        parsers.push(Parser::apache(format).expect("a fixed format compiles"));
    }
    let mut record = AccessRecord::default();
    for line in data.split(|b| *b == b'\n') {
        for parser in &parsers {
            if parser.parse_into(line, &mut record).is_ok() {
                let _ = ocsf::to_event(&record, None, Some(line)).to_json_line();
            }
        }
    }
    let _ = detect(data.split(|b| *b == b'\n'), None);
    // The format text itself is untrusted too (it comes from config).
    let text = String::from_utf8_lossy(data);
    let _ = Parser::nginx(&text);
    let _ = Parser::apache(&text);
});
