//! The printers: canonical infix text ([`to_infix`]) and an indented prefix
//! tree ([`to_tree`]), the two views of an expression editor.
//!
//! The infix form uses the fewest parentheses the precedence allows
//! (`not` binds tighter than `and`, `and` tighter than `or`), double-quoted
//! strings with the escapes the parser reads, `/pattern/flags` for regexes
//! (a quoted pattern followed by its flags when the pattern has a slash the
//! literal form cannot hold), and `intel(x)` alone for `intel(x) == true`.
//! Parsing the printed text gives the same tree back.

use std::fmt::Write as _;

use crate::ast::{CmpOp, Expr, Func, Literal, Operand, StrOp};

/// The condition as canonical infix text.
pub fn to_infix(e: &Expr) -> String {
    let mut out = String::new();
    expr(e, 0, &mut out);
    out
}

/// The condition as an indented prefix tree: one operator per line, its
/// operands below it, leaves as written in the infix form.
///
/// ```text
/// and
/// ├── ==
/// │   ├── dst_endpoint.port
/// │   └── 22
/// └── not
///     └── in cidr
///         ├── src_endpoint.ip
///         └── ["10.0.0.0/8"]
/// ```
pub fn to_tree(e: &Expr) -> String {
    let node = tree_of(e);
    let mut out = String::new();
    out.push_str(&node.label);
    out.push('\n');
    children(&node.kids, "", &mut out);
    out
}

const OR: u8 = 1;
const AND: u8 = 2;
const NOT: u8 = 3;
const ATOM: u8 = 4;

fn prec(e: &Expr) -> u8 {
    match e {
        Expr::Or(_) => OR,
        Expr::And(_) => AND,
        Expr::Not(_) => NOT,
        _ => ATOM,
    }
}

/// Print `e`; parenthesized when its precedence is not above `min`.
fn expr(e: &Expr, min: u8, out: &mut String) {
    let p = prec(e);
    let paren = p <= min && p != ATOM && !(p == NOT && min == NOT);
    if paren {
        out.push('(');
    }
    match e {
        Expr::Or(parts) | Expr::And(parts) => {
            let sep = if p == OR { " or " } else { " and " };
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    out.push_str(sep);
                }
                expr(part, p, out);
            }
            if parts.is_empty() {
                // Not produced by the parser or the constructors; print what
                // an empty conjunction or disjunction means.
                out.push_str(if p == OR { "false" } else { "true" });
            }
        }
        Expr::Not(inner) => {
            out.push_str("not ");
            expr(inner, NOT, out);
        }
        Expr::Compare {
            lhs: Operand::Call(Func::Intel, args),
            op: CmpOp::Eq,
            rhs: Operand::Literal(Literal::Bool(true)),
        } => call(Func::Intel, args, out),
        Expr::Compare { lhs, op, rhs } => {
            operand(lhs, out);
            out.push(' ');
            out.push_str(cmp_text(*op));
            out.push(' ');
            operand(rhs, out);
        }
        Expr::Str {
            operand: o,
            op,
            pattern,
            nocase,
        } => {
            operand(o, out);
            out.push(' ');
            out.push_str(str_op_text(*op, *nocase));
            out.push(' ');
            out.push_str(&quote(pattern));
        }
        Expr::In {
            operand: o,
            values,
            nocase,
        } => {
            operand(o, out);
            out.push_str(if *nocase { " iin " } else { " in " });
            list(values.iter().map(literal_text), out);
        }
        Expr::Matches {
            operand: o,
            pattern,
            flags,
        } => {
            operand(o, out);
            out.push_str(" matches ");
            out.push_str(&regex_text(pattern, flags));
        }
        Expr::InCidr {
            operand: o,
            networks,
        } => {
            operand(o, out);
            out.push_str(" in cidr ");
            list(networks.iter().map(|n| quote(n)), out);
        }
        Expr::Exists(field) => {
            out.push_str("exists ");
            out.push_str(field);
        }
        Expr::Const(b) => out.push_str(if *b { "true" } else { "false" }),
    }
    if paren {
        out.push(')');
    }
}

fn list(items: impl Iterator<Item = String>, out: &mut String) {
    out.push('[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&item);
    }
    out.push(']');
}

fn operand(o: &Operand, out: &mut String) {
    match o {
        Operand::Field(name) => out.push_str(name),
        Operand::Literal(l) => out.push_str(&literal_text(l)),
        Operand::Call(f, args) => call(*f, args, out),
    }
}

fn call(f: Func, args: &[Operand], out: &mut String) {
    out.push_str(func_name(f));
    out.push('(');
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        operand(a, out);
    }
    out.push(')');
}

pub(crate) fn operand_text(o: &Operand) -> String {
    let mut out = String::new();
    operand(o, &mut out);
    out
}

pub(crate) const fn func_name(f: Func) -> &'static str {
    match f {
        Func::Lower => "lower",
        Func::Len => "len",
        Func::Intel => "intel",
    }
}

pub(crate) const fn cmp_text(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "==",
        CmpOp::Ne => "!=",
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
    }
}

pub(crate) const fn str_op_text(op: StrOp, nocase: bool) -> &'static str {
    match (op, nocase) {
        (StrOp::Contains, false) => "contains",
        (StrOp::StartsWith, false) => "startswith",
        (StrOp::EndsWith, false) => "endswith",
        (StrOp::Equals, false) => "eq",
        (StrOp::Contains, true) => "icontains",
        (StrOp::StartsWith, true) => "istartswith",
        (StrOp::EndsWith, true) => "iendswith",
        (StrOp::Equals, true) => "ieq",
    }
}

pub(crate) fn literal_text(l: &Literal) -> String {
    match l {
        Literal::Str(s) => quote(s),
        Literal::Int(i) => i.to_string(),
        Literal::Ip(ip) => ip.to_string(),
        Literal::Bool(b) => b.to_string(),
    }
}

/// `s` in double quotes with the escapes the lexer reads.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// True when `/pattern/` reads back as `pattern`: no unescaped slash, no
/// trailing lone backslash, no control characters.
fn fits_regex_literal(pattern: &str) -> bool {
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '/' => return false,
            '\\' => match chars.next() {
                None => return false,
                Some(n) if n.is_control() => return false,
                Some(_) => {}
            },
            c if c.is_control() => return false,
            _ => {}
        }
    }
    true
}

pub(crate) fn regex_text(pattern: &str, flags: &str) -> String {
    if fits_regex_literal(pattern) {
        format!("/{pattern}/{flags}")
    } else {
        format!("{}{flags}", quote(pattern))
    }
}

struct Node {
    label: String,
    kids: Vec<Node>,
}

fn leaf(label: String) -> Node {
    Node {
        label,
        kids: Vec::new(),
    }
}

fn operand_node(o: &Operand) -> Node {
    match o {
        Operand::Call(f, args) => Node {
            label: func_name(*f).to_owned(),
            kids: args.iter().map(operand_node).collect(),
        },
        other => leaf(operand_text(other)),
    }
}

fn tree_of(e: &Expr) -> Node {
    let (label, kids): (String, Vec<Node>) = match e {
        Expr::And(parts) => ("and".into(), parts.iter().map(tree_of).collect()),
        Expr::Or(parts) => ("or".into(), parts.iter().map(tree_of).collect()),
        Expr::Not(inner) => ("not".into(), vec![tree_of(inner)]),
        Expr::Compare {
            lhs: lhs @ Operand::Call(Func::Intel, _),
            op: CmpOp::Eq,
            rhs: Operand::Literal(Literal::Bool(true)),
        } => return operand_node(lhs),
        Expr::Compare { lhs, op, rhs } => (
            cmp_text(*op).into(),
            vec![operand_node(lhs), operand_node(rhs)],
        ),
        Expr::Str {
            operand: o,
            op,
            pattern,
            nocase,
        } => (
            str_op_text(*op, *nocase).into(),
            vec![operand_node(o), leaf(quote(pattern))],
        ),
        Expr::In {
            operand: o,
            values,
            nocase,
        } => {
            let mut items = String::new();
            list(values.iter().map(literal_text), &mut items);
            (
                if *nocase { "iin" } else { "in" }.into(),
                vec![operand_node(o), leaf(items)],
            )
        }
        Expr::Matches {
            operand: o,
            pattern,
            flags,
        } => (
            "matches".into(),
            vec![operand_node(o), leaf(regex_text(pattern, flags))],
        ),
        Expr::InCidr {
            operand: o,
            networks,
        } => {
            let mut items = String::new();
            list(networks.iter().map(|n| quote(n)), &mut items);
            ("in cidr".into(), vec![operand_node(o), leaf(items)])
        }
        Expr::Exists(field) => ("exists".into(), vec![leaf(field.clone())]),
        Expr::Const(b) => (b.to_string(), Vec::new()),
    };
    Node { label, kids }
}

fn children(kids: &[Node], prefix: &str, out: &mut String) {
    for (i, kid) in kids.iter().enumerate() {
        let last = i + 1 == kids.len();
        out.push_str(prefix);
        out.push_str(if last { "└── " } else { "├── " });
        out.push_str(&kid.label);
        out.push('\n');
        let deeper = format!("{prefix}{}", if last { "    " } else { "│   " });
        children(&kid.kids, &deeper, out);
    }
}
