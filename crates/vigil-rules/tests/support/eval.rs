//! A deliberately small evaluator of condition trees over an event's JSON
//! form, for the Sigma importer's tests only, until the `expr` compiler
//! (`expr::compile` → `Condition::matches`) is in the crate. It follows
//! the tree's documented meaning: a field with several values (a list such
//! as `answers.rdata`) matches when any value does; a missing field matches
//! no test.

#![allow(dead_code)]

use std::net::IpAddr;

use serde_json::Value as Json;
// The including module brings `ast` into scope (`use vigil_rules::ast;`
// in an integration test, `use crate::ast;` inside the crate).
use super::ast::{CmpOp, Expr, Literal, Operand, StrOp};

/// Every value at a dotted path, lists flattened.
fn values<'a>(json: &'a Json, path: &str) -> Vec<&'a Json> {
    let mut current = vec![json];
    for key in path.split('.') {
        let mut next = Vec::new();
        for v in current {
            match v {
                Json::Object(m) => {
                    if let Some(x) = m.get(key) {
                        match x {
                            Json::Array(items) => next.extend(items.iter()),
                            Json::Null => {}
                            other => next.push(other),
                        }
                    }
                }
                Json::Array(items) => {
                    for i in items {
                        if let Some(x) = i.get(key) {
                            next.push(x);
                        }
                    }
                }
                _ => {}
            }
        }
        current = next;
    }
    current
}

fn text(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn operand_values(json: &Json, o: &Operand) -> Vec<Json> {
    match o {
        Operand::Field(f) => values(json, f).into_iter().cloned().collect(),
        Operand::Literal(l) => vec![literal(l)],
        Operand::Call(..) => panic!("the test evaluator has no functions"),
    }
}

fn literal(l: &Literal) -> Json {
    match l {
        Literal::Str(s) => Json::String(s.clone()),
        Literal::Int(i) => Json::from(*i),
        Literal::Ip(ip) => Json::String(ip.to_string()),
        Literal::Bool(b) => Json::Bool(*b),
    }
}

fn equal(a: &Json, b: &Json, nocase: bool) -> bool {
    match (a, b) {
        (Json::String(x), Json::String(y)) => {
            if let (Ok(x), Ok(y)) = (x.parse::<IpAddr>(), y.parse::<IpAddr>()) {
                return x == y;
            }
            if nocase {
                x.to_lowercase() == y.to_lowercase()
            } else {
                x == y
            }
        }
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn in_cidr(ip: &str, net: &str) -> bool {
    let (Ok(ip), Some((base, len))) = (ip.parse::<IpAddr>(), net.split_once('/')) else {
        return false;
    };
    let (Ok(base), Ok(len)) = (base.parse::<IpAddr>(), len.parse::<u32>()) else {
        return false;
    };
    let (a, b, bits) = match (ip, base) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b)), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        _ => return false,
    };
    if len == 0 {
        return true;
    }
    let shift = bits - len;
    (a >> shift) == (b >> shift)
}

/// Whether `e` holds for the event `json`.
pub fn eval(e: &Expr, json: &Json) -> bool {
    match e {
        Expr::And(parts) => parts.iter().all(|p| eval(p, json)),
        Expr::Or(parts) => parts.iter().any(|p| eval(p, json)),
        Expr::Not(p) => !eval(p, json),
        Expr::Const(b) => *b,
        Expr::Exists(f) => !values(json, f).is_empty(),
        Expr::Compare { lhs, op, rhs } => {
            let l = operand_values(json, lhs);
            let r = operand_values(json, rhs);
            l.iter().any(|a| {
                r.iter().any(|b| match op {
                    CmpOp::Eq => equal(a, b, false),
                    CmpOp::Ne => !equal(a, b, false),
                    _ => match (a.as_f64(), b.as_f64()) {
                        (Some(x), Some(y)) => match op {
                            CmpOp::Lt => x < y,
                            CmpOp::Le => x <= y,
                            CmpOp::Gt => x > y,
                            _ => x >= y,
                        },
                        _ => false,
                    },
                })
            })
        }
        Expr::Str {
            operand,
            op,
            pattern,
            nocase,
        } => operand_values(json, operand)
            .iter()
            .filter_map(text)
            .any(|t| {
                let (t, p) = if *nocase {
                    (t.to_lowercase(), pattern.to_lowercase())
                } else {
                    (t, pattern.clone())
                };
                match op {
                    StrOp::Equals => t == p,
                    StrOp::Contains => t.contains(&p),
                    StrOp::StartsWith => t.starts_with(&p),
                    StrOp::EndsWith => t.ends_with(&p),
                }
            }),
        Expr::In {
            operand,
            values,
            nocase,
        } => operand_values(json, operand)
            .iter()
            .any(|a| values.iter().any(|v| equal(a, &literal(v), *nocase))),
        Expr::Matches {
            operand,
            pattern,
            flags,
        } => {
            let re = regex::RegexBuilder::new(pattern)
                .case_insensitive(flags.contains('i'))
                .multi_line(flags.contains('m'))
                .dot_matches_new_line(flags.contains('s'))
                .build()
                .expect("the importer checked the regex");
            operand_values(json, operand)
                .iter()
                .filter_map(text)
                .any(|t| re.is_match(&t))
        }
        Expr::InCidr { operand, networks } => operand_values(json, operand)
            .iter()
            .filter_map(text)
            .any(|t| networks.iter().any(|n| in_cidr(&t, n))),
    }
}
