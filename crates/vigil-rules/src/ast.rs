//! The condition tree: what the expression parser produces, what the Sigma
//! importer builds, what the printers show (infix text and an indented
//! prefix tree) and what the compiler turns into an evaluator.
//!
//! `And` and `Or` are n-ary and never directly nest in themselves (the
//! parser and the constructors flatten), so one condition has one tree and
//! printing then parsing gives the same tree back.

use std::net::IpAddr;

/// A condition over one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// All of the parts (two or more).
    And(Vec<Expr>),
    /// Any of the parts (two or more).
    Or(Vec<Expr>),
    /// The part does not hold.
    Not(Box<Expr>),
    /// `lhs OP rhs`: `==`, `!=`, `<`, `<=`, `>`, `>=`.
    Compare {
        /// Left side (usually a field).
        lhs: Operand,
        /// The comparison.
        op: CmpOp,
        /// Right side (usually a literal).
        rhs: Operand,
    },
    /// A string test: `contains`, `startswith`, `endswith`, or equality
    /// ignoring case, with one pattern.
    Str {
        /// The text tested (a field or a function of one).
        operand: Operand,
        /// Which test.
        op: StrOp,
        /// The pattern.
        pattern: String,
        /// Compare without regard to ASCII and Unicode simple case.
        nocase: bool,
    },
    /// `operand in [v1, v2, …]`: equal to any of the values.
    In {
        /// The value tested.
        operand: Operand,
        /// The values.
        values: Vec<Literal>,
        /// Compare strings without regard to case.
        nocase: bool,
    },
    /// `operand matches /regex/flags`.
    Matches {
        /// The text tested.
        operand: Operand,
        /// The pattern as written (Rust `regex` syntax).
        pattern: String,
        /// Flags: `i` (case-insensitive), `m` (multi-line), `s` (dot matches newline).
        flags: String,
    },
    /// `operand in cidr ["10.0.0.0/8", …]`: the address is in one of the networks.
    InCidr {
        /// The address tested.
        operand: Operand,
        /// The networks as written (`a.b.c.d/n`, `v6::/n`).
        networks: Vec<String>,
    },
    /// `exists field`: the event has a value for the field.
    Exists(String),
    /// A constant (`true`, `false`).
    Const(bool),
}

/// A value in a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// An event field, by its dotted schema path.
    Field(String),
    /// A constant.
    Literal(Literal),
    /// A function of operands.
    Call(Func, Vec<Operand>),
}

/// A constant value.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// Text.
    Str(String),
    /// A whole number.
    Int(i64),
    /// An address.
    Ip(IpAddr),
    /// A flag.
    Bool(bool),
}

/// The comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// The string tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StrOp {
    /// The whole text equals the pattern (used with `nocase`; a
    /// case-sensitive equality is a [`CmpOp::Eq`]).
    Equals,
    /// The pattern occurs in the text.
    Contains,
    /// The text starts with the pattern.
    StartsWith,
    /// The text ends with the pattern.
    EndsWith,
}

/// The functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Func {
    /// `lower(text)`: the text in lower case.
    Lower,
    /// `len(text)`: its length in characters.
    Len,
    /// `intel(value)`: true when the value matches an indicator in the
    /// threat-intel store (the store arrives with `vigil-intel`; until
    /// then the compiler rejects it with a clear reason).
    Intel,
}

impl Expr {
    /// All of `parts`, flattened (a single part is returned as is).
    pub fn and(parts: Vec<Expr>) -> Expr {
        let mut flat = Vec::with_capacity(parts.len());
        for p in parts {
            match p {
                Expr::And(inner) => flat.extend(inner),
                other => flat.push(other),
            }
        }
        if flat.len() == 1 {
            flat.pop().unwrap_or(Expr::Const(true))
        } else if flat.is_empty() {
            Expr::Const(true)
        } else {
            Expr::And(flat)
        }
    }

    /// Any of `parts`, flattened (a single part is returned as is).
    pub fn or(parts: Vec<Expr>) -> Expr {
        let mut flat = Vec::with_capacity(parts.len());
        for p in parts {
            match p {
                Expr::Or(inner) => flat.extend(inner),
                other => flat.push(other),
            }
        }
        if flat.len() == 1 {
            flat.pop().unwrap_or(Expr::Const(false))
        } else if flat.is_empty() {
            Expr::Const(false)
        } else {
            Expr::Or(flat)
        }
    }

    /// The negation of `e`.
    #[allow(clippy::should_implement_trait)]
    pub fn not(e: Expr) -> Expr {
        Expr::Not(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn and_or_flatten() {
        let a = Expr::Exists("a".into());
        let b = Expr::Exists("b".into());
        let c = Expr::Exists("c".into());
        let e = Expr::and(vec![Expr::and(vec![a.clone(), b.clone()]), c.clone()]);
        assert_eq!(e, Expr::And(vec![a.clone(), b.clone(), c.clone()]));
        assert_eq!(Expr::or(vec![a.clone()]), a);
        assert_eq!(Expr::or(vec![]), Expr::Const(false));
    }
}
