//! docs/rule-language.md stays true: its error examples are the errors the
//! checker gives, its two views are what the printers print, and its field
//! table is the registry.

use vigil_event::fields;
use vigil_rules::expr;

fn doc() -> String {
    let path = vigil_testkit::repo_root().join("docs/rule-language.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The first fenced block after `heading`.
fn block_after(doc: &str, heading: &str) -> Vec<String> {
    let from = doc.find(heading).unwrap_or_else(|| panic!("no {heading}"));
    let rest = &doc[from..];
    let start = rest.find("```\n").expect("a code block") + 4;
    let end = rest[start..].find("```").expect("closed") + start;
    rest[start..end].lines().map(str::to_owned).collect()
}

#[test]
fn error_examples_are_the_errors_given() {
    let lines = block_after(&doc(), "## Errors");
    assert!(lines.len() >= 8 && lines.len() % 2 == 0);
    for pair in lines.chunks(2) {
        let (src, want) = (&pair[0], pair[1].trim_start());
        let got = expr::parse_checked(src).expect_err(src).to_string();
        assert_eq!(got, want, "{src}");
    }
}

#[test]
fn both_views_are_what_the_printers_print() {
    let lines = block_after(&doc(), "## Two views");
    let infix = &lines[0];
    assert_eq!(lines[1], "");
    let tree: String = lines[2..].iter().map(|l| format!("{l}\n")).collect();
    let e = expr::parse_checked(infix).expect("the example checks");
    assert_eq!(&expr::to_infix(&e), infix);
    assert_eq!(expr::to_tree(&e), tree);
}

#[test]
fn examples_check() {
    let lines = block_after(&doc(), "# The rule language");
    for line in lines {
        expr::parse_checked(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
    }
}

#[test]
fn field_table_is_the_registry() {
    let doc = doc();
    let table = &doc[doc.find("## Fields").expect("a field section")..];
    let rows: Vec<Vec<String>> = table
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            l.split(" | ")
                .map(|c| c.trim_matches(['|', ' ', '`']).to_owned())
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), fields::all().len(), "one row per field");
    for (row, f) in rows.iter().zip(fields::all()) {
        assert_eq!(row[0], f.name);
        let ty = if f.is_many() {
            format!("{} (list)", f.ty.name())
        } else {
            f.ty.name().to_owned()
        };
        assert_eq!(row[1], ty, "{}", f.name);
        let classes = if f.classes.is_empty() {
            "all".to_owned()
        } else {
            f.classes
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(row[2], classes, "{}", f.name);
        assert_eq!(row[3].replace("\\|", "|"), f.doc, "{}", f.name);
    }
}
