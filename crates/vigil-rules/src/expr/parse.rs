//! The parser: tokens in, a condition tree and its [`Spans`] out.
//!
//! Grammar (lowest precedence first):
//!
//! ```text
//! or        := and (("or" | "||") and)*
//! and       := unary (("and" | "&&") unary)*
//! unary     := ("not" | "!") unary | primary
//! primary   := "(" or ")" | "exists" FIELD | predicate
//! predicate := operand ( CMP operand
//!                      | ("in" | "iin") list
//!                      | "in" "cidr" list
//!                      | STROP STRING
//!                      | "matches" (REGEX | STRING FLAGS?) )
//!            | "true" | "false" | "intel" "(" operand ")"
//! operand   := FIELD | literal | FUNC "(" operand ("," operand)* ")"
//! list      := "[" (literal ("," literal)* ","?)? "]"
//! STROP     := contains | startswith | endswith | eq
//!            | icontains | istartswith | iendswith | ieq
//! ```
//!
//! Keywords are case-insensitive. `And`/`Or` are flattened, so the tree of
//! a condition does not depend on redundant parentheses.

use crate::ast::{Expr, Func, Literal, Operand, StrOp};

use super::lex::{Tok, Token};
use super::{ParseError, Spans, MAX_DEPTH};

const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "not",
    "in",
    "iin",
    "cidr",
    "contains",
    "startswith",
    "endswith",
    "eq",
    "icontains",
    "istartswith",
    "iendswith",
    "ieq",
    "matches",
    "exists",
    "true",
    "false",
];

/// True when `word` is reserved (cannot name a field).
pub(crate) fn is_keyword(word: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

fn string_test(word: &str) -> Option<(StrOp, bool)> {
    let w = word.to_ascii_lowercase();
    Some(match w.as_str() {
        "contains" => (StrOp::Contains, false),
        "startswith" => (StrOp::StartsWith, false),
        "endswith" => (StrOp::EndsWith, false),
        "eq" => (StrOp::Equals, false),
        "icontains" => (StrOp::Contains, true),
        "istartswith" => (StrOp::StartsWith, true),
        "iendswith" => (StrOp::EndsWith, true),
        "ieq" => (StrOp::Equals, true),
        _ => return None,
    })
}

fn func(word: &str) -> Option<Func> {
    let w = word.to_ascii_lowercase();
    match w.as_str() {
        "lower" => Some(Func::Lower),
        "len" => Some(Func::Len),
        "intel" => Some(Func::Intel),
        _ => None,
    }
}

pub(crate) struct Parser {
    toks: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser {
    pub(crate) fn new(toks: Vec<Token>) -> Self {
        Self {
            toks,
            pos: 0,
            depth: 0,
        }
    }

    fn peek(&self) -> &Token {
        // The token list always ends with Eof and `pos` never passes it.
        self.toks
            .get(self.pos)
            .or_else(|| self.toks.last())
            .unwrap_or(&Token {
                tok: Tok::Eof,
                column: 1,
            })
    }

    fn peek_at(&self, ahead: usize) -> Option<&Tok> {
        self.toks.get(self.pos + ahead).map(|t| &t.tok)
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(&self.peek().tok, Tok::Ident(w) if w.eq_ignore_ascii_case(word))
    }

    fn expected(&self, what: &str) -> ParseError {
        let t = self.peek();
        ParseError::Expected {
            expected: what.to_owned(),
            found: t.tok.describe(),
            column: t.column,
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError::TooDeep {
                limit: MAX_DEPTH,
                column: self.peek().column,
            });
        }
        Ok(())
    }

    /// The whole input: one condition, then the end.
    pub(crate) fn condition(&mut self) -> Result<(Expr, Spans), ParseError> {
        let e = self.or()?;
        if self.peek().tok != Tok::Eof {
            return Err(self.expected("`and`, `or` or the end"));
        }
        Ok(e)
    }

    fn or(&mut self) -> Result<(Expr, Spans), ParseError> {
        let first = self.and()?;
        if !(self.is_word("or") || self.peek().tok == Tok::OrOr) {
            return Ok(first);
        }
        let column = self.peek().column;
        let mut parts = vec![first];
        while self.is_word("or") || self.peek().tok == Tok::OrOr {
            self.bump();
            parts.push(self.and()?);
        }
        Ok(join(parts, column, false))
    }

    fn and(&mut self) -> Result<(Expr, Spans), ParseError> {
        let first = self.unary()?;
        if !(self.is_word("and") || self.peek().tok == Tok::AndAnd) {
            return Ok(first);
        }
        let column = self.peek().column;
        let mut parts = vec![first];
        while self.is_word("and") || self.peek().tok == Tok::AndAnd {
            self.bump();
            parts.push(self.unary()?);
        }
        Ok(join(parts, column, true))
    }

    fn unary(&mut self) -> Result<(Expr, Spans), ParseError> {
        if self.is_word("not") || self.peek().tok == Tok::Bang {
            let column = self.bump().column;
            self.enter()?;
            let (inner, spans) = self.unary()?;
            self.depth -= 1;
            return Ok((Expr::Not(Box::new(inner)), Spans::node(column, vec![spans])));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<(Expr, Spans), ParseError> {
        if self.peek().tok == Tok::LParen {
            self.bump();
            self.enter()?;
            let e = self.or()?;
            self.depth -= 1;
            if self.peek().tok != Tok::RParen {
                return Err(self.expected("`)`"));
            }
            self.bump();
            return Ok(e);
        }
        if self.is_word("exists") {
            let column = self.bump().column;
            let t = self.peek().clone();
            return match t.tok {
                Tok::Ident(name) if !is_keyword(&name) && self.peek_at(1) != Some(&Tok::LParen) => {
                    self.bump();
                    Ok((
                        Expr::Exists(name),
                        Spans::node(column, vec![Spans::leaf(t.column)]),
                    ))
                }
                _ => Err(self.expected("a field name after `exists`")),
            };
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Result<(Expr, Spans), ParseError> {
        let (lhs, lspan) = self.operand()?;
        let op_tok = self.peek().clone();
        let column = op_tok.column;
        match &op_tok.tok {
            Tok::Cmp(op) => {
                let op = *op;
                self.bump();
                let (rhs, rspan) = self.operand()?;
                Ok((
                    Expr::Compare { lhs, op, rhs },
                    Spans::node(column, vec![lspan, rspan]),
                ))
            }
            Tok::Ident(w) if w.eq_ignore_ascii_case("in") || w.eq_ignore_ascii_case("iin") => {
                let nocase = w.eq_ignore_ascii_case("iin");
                self.bump();
                if !nocase && self.is_word("cidr") {
                    self.bump();
                    let (networks, spans) = self.networks()?;
                    let mut kids = vec![lspan];
                    kids.extend(spans);
                    return Ok((
                        Expr::InCidr {
                            operand: lhs,
                            networks,
                        },
                        Spans::node(column, kids),
                    ));
                }
                let (values, spans) = self.list()?;
                let mut kids = vec![lspan];
                kids.extend(spans);
                Ok((
                    Expr::In {
                        operand: lhs,
                        values,
                        nocase,
                    },
                    Spans::node(column, kids),
                ))
            }
            Tok::Ident(w) if string_test(w).is_some() => {
                let (op, nocase) = string_test(w).unwrap_or((StrOp::Contains, false));
                self.bump();
                let pat = self.peek().clone();
                let Tok::Str(pattern) = pat.tok else {
                    return Err(self.expected("a quoted pattern"));
                };
                self.bump();
                Ok((
                    Expr::Str {
                        operand: lhs,
                        op,
                        pattern,
                        nocase,
                    },
                    Spans::node(column, vec![lspan, Spans::leaf(pat.column)]),
                ))
            }
            Tok::Ident(w) if w.eq_ignore_ascii_case("matches") => {
                self.bump();
                let pat = self.peek().clone();
                let (pattern, flags) = match pat.tok {
                    Tok::Regex(p, f) => {
                        self.bump();
                        (p, f)
                    }
                    Tok::Str(p) => {
                        self.bump();
                        // Flags after a quoted pattern: `"a/b"i`.
                        let flags = match &self.peek().tok {
                            Tok::Ident(f) if f.chars().all(|c| matches!(c, 'i' | 'm' | 's')) => {
                                let f = f.clone();
                                self.bump();
                                f
                            }
                            _ => String::new(),
                        };
                        (p, flags)
                    }
                    _ => return Err(self.expected("a regex (`/pattern/flags` or a quoted pattern)")),
                };
                Ok((
                    Expr::Matches {
                        operand: lhs,
                        pattern,
                        flags,
                    },
                    Spans::node(column, vec![lspan, Spans::leaf(pat.column)]),
                ))
            }
            _ => match lhs {
                Operand::Literal(Literal::Bool(b)) => Ok((Expr::Const(b), lspan)),
                // `intel(x)` alone: a condition that holds when x is an indicator.
                Operand::Call(Func::Intel, args) => Ok((
                    Expr::Compare {
                        lhs: Operand::Call(Func::Intel, args),
                        op: crate::ast::CmpOp::Eq,
                        rhs: Operand::Literal(Literal::Bool(true)),
                    },
                    Spans::node(lspan.column, vec![lspan.clone(), lspan]),
                )),
                _ => Err(self.expected(
                    "an operator (==, !=, <, <=, >, >=, in, iin, in cidr, contains, startswith, endswith, eq, their i- forms, matches)",
                )),
            },
        }
    }

    fn operand(&mut self) -> Result<(Operand, Spans), ParseError> {
        let t = self.peek().clone();
        let column = t.column;
        match t.tok {
            Tok::Ident(word) => {
                if self.peek_at(1) == Some(&Tok::LParen) {
                    let Some(f) = func(&word) else {
                        return Err(ParseError::Invalid {
                            problem: format!("unknown function `{word}` (lower, len, intel)"),
                            column,
                        });
                    };
                    self.bump();
                    self.bump();
                    self.enter()?;
                    let mut args = Vec::new();
                    let mut spans = Vec::new();
                    if self.peek().tok != Tok::RParen {
                        loop {
                            let (a, s) = self.operand()?;
                            args.push(a);
                            spans.push(s);
                            if self.peek().tok == Tok::Comma {
                                self.bump();
                                continue;
                            }
                            break;
                        }
                    }
                    if self.peek().tok != Tok::RParen {
                        return Err(self.expected("`,` or `)`"));
                    }
                    self.bump();
                    self.depth -= 1;
                    return Ok((Operand::Call(f, args), Spans::node(column, spans)));
                }
                if word.eq_ignore_ascii_case("true") || word.eq_ignore_ascii_case("false") {
                    self.bump();
                    let b = word.eq_ignore_ascii_case("true");
                    return Ok((Operand::Literal(Literal::Bool(b)), Spans::leaf(column)));
                }
                if is_keyword(&word) {
                    return Err(self.expected("a field, a value or `(`"));
                }
                self.bump();
                Ok((Operand::Field(word), Spans::leaf(column)))
            }
            Tok::Str(_) | Tok::Int(_) | Tok::Ip(_) => {
                let (lit, span) = self.literal()?;
                Ok((Operand::Literal(lit), span))
            }
            _ => Err(self.expected("a field, a value or `(`")),
        }
    }

    fn literal(&mut self) -> Result<(Literal, Spans), ParseError> {
        let t = self.peek().clone();
        let lit = match t.tok {
            Tok::Str(s) => Literal::Str(s),
            Tok::Int(i) => Literal::Int(i),
            Tok::Ip(ip) => Literal::Ip(ip),
            Tok::Ident(w) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Tok::Ident(w) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
            _ => return Err(self.expected("a value (string, number, address, true, false)")),
        };
        self.bump();
        Ok((lit, Spans::leaf(t.column)))
    }

    /// `[v, …]`, the items parsed by `item`.
    fn items<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<(T, Spans), ParseError>,
    ) -> Result<(Vec<T>, Vec<Spans>), ParseError> {
        if self.peek().tok != Tok::LBracket {
            return Err(self.expected("`[`"));
        }
        self.bump();
        let mut values = Vec::new();
        let mut spans = Vec::new();
        while self.peek().tok != Tok::RBracket {
            let (v, s) = item(self)?;
            values.push(v);
            spans.push(s);
            match self.peek().tok {
                Tok::Comma => {
                    self.bump();
                }
                Tok::RBracket => {}
                _ => return Err(self.expected("`,` or `]`")),
            }
        }
        self.bump();
        Ok((values, spans))
    }

    fn list(&mut self) -> Result<(Vec<Literal>, Vec<Spans>), ParseError> {
        self.items(Self::literal)
    }

    fn networks(&mut self) -> Result<(Vec<String>, Vec<Spans>), ParseError> {
        self.items(|p| {
            let t = p.peek().clone();
            let net = match t.tok {
                Tok::Str(s) | Tok::Cidr(s) => s,
                Tok::Ip(ip) => ip.to_string(),
                _ => return Err(p.expected("a network (\"10.0.0.0/8\", 10.0.0.0/8 or an address)")),
            };
            p.bump();
            Ok((net, Spans::leaf(t.column)))
        })
    }
}

/// `And`/`Or` of `parts`, flattened (with their spans).
fn join(parts: Vec<(Expr, Spans)>, column: usize, is_and: bool) -> (Expr, Spans) {
    let mut exprs = Vec::with_capacity(parts.len());
    let mut spans = Vec::with_capacity(parts.len());
    for (e, s) in parts {
        match e {
            Expr::And(inner) if is_and => {
                exprs.extend(inner);
                spans.extend(s.parts);
            }
            Expr::Or(inner) if !is_and => {
                exprs.extend(inner);
                spans.extend(s.parts);
            }
            other => {
                exprs.push(other);
                spans.push(s);
            }
        }
    }
    let e = if is_and {
        Expr::And(exprs)
    } else {
        Expr::Or(exprs)
    };
    (e, Spans::node(column, spans))
}
