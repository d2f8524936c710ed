//! The expression language: conditions over one event, written as infix
//! text, parsed into an [`ast::Expr`](crate::ast::Expr), checked against
//! the event schema ([`vigil_event::fields`]), printed back (as canonical
//! infix text and as an indented tree), and compiled to a fast evaluator.
//!
//! ```
//! use vigil_rules::expr;
//! let e = expr::parse(r#"http_request.url.path icontains "/etc/passwd" and not src_endpoint.ip in cidr ["10.0.0.0/8"]"#).unwrap();
//! assert_eq!(
//!     expr::to_infix(&e),
//!     r#"http_request.url.path icontains "/etc/passwd" and not src_endpoint.ip in cidr ["10.0.0.0/8"]"#
//! );
//! ```
//!
//! # The language
//!
//! | form | meaning |
//! |---|---|
//! | `a == b`, `!=`, `<`, `<=`, `>`, `>=` | compare; ordering works on integers and addresses |
//! | `f in [v, …]` | equal to one of the values |
//! | `f iin ["a", …]` | the same, ignoring case |
//! | `f in cidr ["10.0.0.0/8", fd00::/8, 192.0.2.1]` | the address is in one of the networks |
//! | `f contains "x"`, `startswith`, `endswith` | text tests |
//! | `f icontains "x"`, `istartswith`, `iendswith`, `ieq` | the same ignoring case |
//! | `f eq "x"` | whole text equal (as `==` on text) |
//! | `f matches /re/ims`, `f matches "re"` | regex search (Rust `regex` syntax; flags `i` ignore case, `m` multi-line, `s` dot matches newline) |
//! | `exists f` | the event has a value for `f` |
//! | `not c`, `c and c`, `c or c`, `( … )` | also `!`, `&&`, `\|\|`; `not` binds tightest, then `and`, then `or` |
//! | `lower(f)`, `len(f)` | the text in lower case; its length in characters |
//! | `intel(f)` | `f` is a threat-intel indicator (needs `vigil-intel`; rejected until it exists) |
//! | `true`, `false` | constants |
//!
//! Values: strings in double or single quotes with the escapes `\\ \" \'
//! \n \r \t \0 \u{hex}`; whole numbers (`-5`, `443`); addresses written
//! bare (`10.0.0.1`, `::1`, `fe80::1`); `true`, `false`. A string where an
//! address is expected (`src_endpoint.ip == "10.0.0.1"`) must hold one. A
//! regex literal keeps its backslashes as written (`/\d+\.php/`); a slash
//! inside it is written `\/`. Keywords are case-insensitive; field names are
//! the dotted paths of the event's JSON form.
//!
//! Case-insensitive tests (`i`-forms, `matches /…/i`) fold ASCII case and
//! Unicode simple case folding (what the `regex` crate's `(?i)` does).
//! Text tests also apply to address and number fields through their text
//! form (`src_endpoint.ip startswith "10."`).
//!
//! # Missing values and lists
//!
//! A field inside a list (`answers.rdata`, `observables.value`) has many
//! values: a test holds when it holds for any of them. A field the event
//! does not have (an HTTP field on a DNS event, an absent option) has no
//! value, so every test on it is false, `!=` included; `not` of such a test
//! is true. `exists f` asks for a value directly.

mod anchors;
mod compile;
mod index;
mod lex;
mod matcher;
mod parse;
mod print;

use crate::ast::Expr;

pub use compile::{CheckError, CompileError, Condition};
pub use index::{ConditionSet, SetStats};
pub use print::{to_infix, to_tree};

/// How deep parentheses, `not` and function calls may nest.
pub const MAX_DEPTH: usize = 100;

/// Where each part of a parsed condition starts in its text, for error
/// messages: a tree mirroring the [`Expr`] (1-based columns).
///
/// `parts` follow the tree: `And`/`Or` their parts (the node's column is
/// its first `and`/`or`); `Not` its operand;
/// `Compare` its two operands (the node's column is the operator's);
/// `Str` and `Matches` the operand and the pattern; `In` and `InCidr` the
/// operand then each value; `Exists` the field; a call its arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spans {
    /// Column of this node (1-based, in characters).
    pub column: usize,
    /// Columns of its parts.
    pub parts: Vec<Spans>,
}

impl Spans {
    fn leaf(column: usize) -> Self {
        Self {
            column,
            parts: Vec::new(),
        }
    }

    fn node(column: usize, parts: Vec<Spans>) -> Self {
        Self { column, parts }
    }

    /// The spans of part `i`, if recorded.
    pub fn part(&self, i: usize) -> Option<&Spans> {
        self.parts.get(i)
    }
}

/// Why condition text did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// A token that cannot stand where it is.
    #[error("expected {expected}, found {found} at column {column}")]
    Expected {
        /// What the grammar allows there.
        expected: String,
        /// What was there.
        found: String,
        /// Where (1-based, in characters).
        column: usize,
    },
    /// Text that is not a token (a bad escape, an unterminated string, a
    /// number out of range).
    #[error("{problem} at column {column}")]
    Invalid {
        /// What is wrong.
        problem: String,
        /// Where (1-based, in characters).
        column: usize,
    },
    /// Parentheses, `not` or calls nested deeper than [`MAX_DEPTH`].
    #[error("nesting deeper than {limit} levels at column {column}")]
    TooDeep {
        /// The limit.
        limit: usize,
        /// Where (1-based, in characters).
        column: usize,
    },
}

impl ParseError {
    /// The column (1-based, in characters) the error points at.
    pub fn column(&self) -> usize {
        match self {
            ParseError::Expected { column, .. }
            | ParseError::Invalid { column, .. }
            | ParseError::TooDeep { column, .. } => *column,
        }
    }
}

/// Parse condition text (syntax only; [`check`] then checks fields and types).
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    parse_spanned(src).map(|(e, _)| e)
}

/// Parse condition text, keeping where each part starts (for
/// [`check_spanned`]'s columns).
pub fn parse_spanned(src: &str) -> Result<(Expr, Spans), ParseError> {
    let toks = lex::tokenize(src)?;
    parse::Parser::new(toks).condition()
}

/// Check a tree against the event schema: fields exist, types agree,
/// patterns, regexes and networks are valid. Errors carry no column (see
/// [`check_spanned`]).
pub fn check(e: &Expr) -> Result<(), CheckError> {
    compile::lower(e, None).map(drop)
}

/// [`check`] with the spans of the text the tree was parsed from, so errors
/// point at their column.
pub fn check_spanned(e: &Expr, spans: &Spans) -> Result<(), CheckError> {
    compile::lower(e, Some(spans)).map(drop)
}

/// Compile a tree to its evaluator (checking it first).
pub fn compile(e: &Expr) -> Result<Condition, CompileError> {
    compile::compile_spanned(e, None)
}

/// Parse or check error of condition text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text does not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// It parses but does not fit the schema.
    #[error(transparent)]
    Check(#[from] CheckError),
}

/// Parse and check condition text; errors point at their column.
pub fn parse_checked(src: &str) -> Result<Expr, Error> {
    let (e, spans) = parse_spanned(src)?;
    check_spanned(&e, &spans)?;
    Ok(e)
}

/// Parse, check and compile condition text; errors point at their column.
pub fn compile_text(src: &str) -> Result<Condition, Error> {
    let (e, spans) = parse_spanned(src)?;
    Ok(compile::compile_spanned(&e, Some(&spans))?)
}

#[cfg(test)]
mod tests;
