//! The lexer: condition text in, tokens with their 1-based columns out.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::ast::CmpOp;

use super::ParseError;

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A field name, keyword or function name (dotted identifier).
    Ident(String),
    /// A quoted string, escapes resolved.
    Str(String),
    /// A whole number.
    Int(i64),
    /// An address.
    Ip(IpAddr),
    /// A bare network, `10.0.0.0/8` (only inside `in cidr [..]`).
    Cidr(String),
    /// `/pattern/flags`: the pattern as written (escapes kept), the flags.
    Regex(String, String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Cmp(CmpOp),
    /// `&&`
    AndAnd,
    /// `||`
    OrOr,
    /// `!`
    Bang,
    Eof,
}

impl Tok {
    /// How the token reads in an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Str(s) => format!("string {}", super::print::quote(s)),
            Tok::Int(i) => format!("number {i}"),
            Tok::Ip(ip) => format!("address {ip}"),
            Tok::Cidr(c) => format!("network {c}"),
            Tok::Regex(p, f) => format!("regex /{p}/{f}"),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::LBracket => "`[`".into(),
            Tok::RBracket => "`]`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Cmp(op) => format!("`{}`", super::print::cmp_text(*op)),
            Tok::AndAnd => "`&&`".into(),
            Tok::OrOr => "`||`".into(),
            Tok::Bang => "`!`".into(),
            Tok::Eof => "end of input".into(),
        }
    }
}

/// A token and the column (1-based, in characters) where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) column: usize,
}

fn invalid(problem: impl Into<String>, index: usize) -> ParseError {
    ParseError::Invalid {
        problem: problem.into(),
        column: index + 1,
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == ':'
}

/// Split `src` into tokens; the last is [`Tok::Eof`].
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, ParseError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied();
    while let Some(c) = at(i) {
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let tok = match c {
            '(' => {
                i += 1;
                Tok::LParen
            }
            ')' => {
                i += 1;
                Tok::RParen
            }
            '[' => {
                i += 1;
                Tok::LBracket
            }
            ']' => {
                i += 1;
                Tok::RBracket
            }
            ',' => {
                i += 1;
                Tok::Comma
            }
            '=' if at(i + 1) == Some('=') => {
                i += 2;
                Tok::Cmp(CmpOp::Eq)
            }
            '=' => return Err(invalid("`=` is not an operator (use `==`)", i)),
            '!' if at(i + 1) == Some('=') => {
                i += 2;
                Tok::Cmp(CmpOp::Ne)
            }
            '!' => {
                i += 1;
                Tok::Bang
            }
            '<' | '>' => {
                let or_equal = at(i + 1) == Some('=');
                i += if or_equal { 2 } else { 1 };
                Tok::Cmp(match (c, or_equal) {
                    ('<', false) => CmpOp::Lt,
                    ('<', true) => CmpOp::Le,
                    ('>', false) => CmpOp::Gt,
                    _ => CmpOp::Ge,
                })
            }
            '&' if at(i + 1) == Some('&') => {
                i += 2;
                Tok::AndAnd
            }
            '|' if at(i + 1) == Some('|') => {
                i += 2;
                Tok::OrOr
            }
            '"' | '\'' => {
                let (s, next) = string(&chars, i)?;
                i = next;
                Tok::Str(s)
            }
            '/' => {
                let (tok, next) = regex(&chars, i)?;
                i = next;
                tok
            }
            '-' if at(i + 1).is_some_and(|d| d.is_ascii_digit()) => {
                let (tok, next) = word(&chars, i)?;
                i = next;
                tok
            }
            c if is_word_char(c) => {
                let (tok, next) = word(&chars, i)?;
                i = next;
                tok
            }
            other => {
                return Err(invalid(format!("unexpected character `{other}`"), i));
            }
        };
        out.push(Token {
            tok,
            column: start + 1,
        });
    }
    out.push(Token {
        tok: Tok::Eof,
        column: chars.len() + 1,
    });
    Ok(out)
}

/// A quoted string starting at `chars[start]` (its quote); returns the text
/// and the index after the closing quote.
fn string(chars: &[char], start: usize) -> Result<(String, usize), ParseError> {
    let quote = chars.get(start).copied().unwrap_or('"');
    let mut out = String::new();
    let mut i = start + 1;
    loop {
        let Some(c) = chars.get(i).copied() else {
            return Err(invalid("unterminated string", start));
        };
        i += 1;
        if c == quote {
            return Ok((out, i));
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(e) = chars.get(i).copied() else {
            return Err(invalid("unterminated string", start));
        };
        i += 1;
        match e {
            '\\' | '"' | '\'' => out.push(e),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            '0' => out.push('\0'),
            'u' => {
                if chars.get(i) != Some(&'{') {
                    return Err(invalid("expected `{` after `\\u`", i - 2));
                }
                let digits_start = i + 1;
                let mut j = digits_start;
                while chars.get(j).is_some_and(|d| d.is_ascii_hexdigit()) {
                    j += 1;
                }
                let digits: String = chars.get(digits_start..j).unwrap_or(&[]).iter().collect();
                if chars.get(j) != Some(&'}') || digits.is_empty() || digits.len() > 6 {
                    return Err(invalid("expected `\\u{hex}` with 1 to 6 hex digits", i - 2));
                }
                let ch = u32::from_str_radix(&digits, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| {
                        invalid(format!("`\\u{{{digits}}}` is not a character"), i - 2)
                    })?;
                out.push(ch);
                i = j + 1;
            }
            other => {
                return Err(invalid(
                    format!(
                        "unknown escape `\\{other}` (use \\\\ \\\" \\' \\n \\r \\t \\0 \\u{{hex}})"
                    ),
                    i - 2,
                ))
            }
        }
    }
}

/// A regex literal `/pattern/flags` starting at `chars[start]`. A backslash
/// keeps the next character as written (so `\/` is a slash in the pattern,
/// which the regex reads as a literal slash); an unescaped `/` ends it.
fn regex(chars: &[char], start: usize) -> Result<(Tok, usize), ParseError> {
    let mut pattern = String::new();
    let mut i = start + 1;
    loop {
        let Some(c) = chars.get(i).copied() else {
            return Err(invalid("unterminated regex (missing closing `/`)", start));
        };
        i += 1;
        match c {
            '/' => break,
            '\\' => {
                let Some(next) = chars.get(i).copied() else {
                    return Err(invalid("unterminated regex (missing closing `/`)", start));
                };
                i += 1;
                pattern.push('\\');
                pattern.push(next);
            }
            _ => pattern.push(c),
        }
    }
    let mut flags = String::new();
    while let Some(f) = chars.get(i).copied().filter(|c| c.is_ascii_alphabetic()) {
        if !matches!(f, 'i' | 'm' | 's') {
            return Err(invalid(
                format!("unknown regex flag `{f}` (use i, m, s)"),
                i,
            ));
        }
        flags.push(f);
        i += 1;
    }
    Ok((Tok::Regex(pattern, flags), i))
}

/// A word: a field name or keyword, a number, an address, or a bare network.
fn word(chars: &[char], start: usize) -> Result<(Tok, usize), ParseError> {
    let mut i = start;
    if chars.get(i) == Some(&'-') {
        i += 1;
    }
    while chars.get(i).copied().is_some_and(is_word_char) {
        i += 1;
    }
    let text: String = chars.get(start..i).unwrap_or(&[]).iter().collect();
    let first = text.chars().next().unwrap_or(' ');
    let looks_numeric = first.is_ascii_digit() || first == '-';
    if text.contains(':') || looks_numeric {
        if looks_numeric && text.bytes().skip(1).all(|b| b.is_ascii_digit()) {
            return text
                .parse::<i64>()
                .map(|n| (Tok::Int(n), i))
                .map_err(|_| invalid(format!("number `{text}` is out of range"), start));
        }
        let ip = if text.contains(':') {
            text.parse::<Ipv6Addr>().map(IpAddr::V6).ok()
        } else {
            text.parse::<Ipv4Addr>().map(IpAddr::V4).ok()
        };
        let Some(ip) = ip else {
            return Err(invalid(
                format!("`{text}` is not a number or an address"),
                start,
            ));
        };
        // A bare network: address/prefix.
        if chars.get(i) == Some(&'/') && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit()) {
            let mut j = i + 1;
            while chars.get(j).is_some_and(|c| c.is_ascii_digit()) {
                j += 1;
            }
            let net: String = chars.get(start..j).unwrap_or(&[]).iter().collect();
            return Ok((Tok::Cidr(net), j));
        }
        return Ok((Tok::Ip(ip), i));
    }
    let well_formed = text.split('.').all(|seg| {
        let mut cs = seg.chars();
        cs.next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
    });
    if !well_formed {
        return Err(invalid(
            format!("`{text}` is not a field name (dotted words such as `src_endpoint.ip`)"),
            start,
        ));
    }
    Ok((Tok::Ident(text), i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        tokenize(src)
            .expect("lexes")
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    #[test]
    fn words_numbers_addresses() {
        assert_eq!(
            toks("a.b_c -12 10.0.0.1 ::1 fe80::1 10.0.0.0/8 2001:db8::/32"),
            vec![
                Tok::Ident("a.b_c".into()),
                Tok::Int(-12),
                Tok::Ip("10.0.0.1".parse().unwrap()),
                Tok::Ip("::1".parse().unwrap()),
                Tok::Ip("fe80::1".parse().unwrap()),
                Tok::Cidr("10.0.0.0/8".into()),
                Tok::Cidr("2001:db8::/32".into()),
                Tok::Eof
            ]
        );
        assert_eq!(
            toks("-9223372036854775808"),
            vec![Tok::Int(i64::MIN), Tok::Eof]
        );
    }

    #[test]
    fn strings_and_regexes() {
        assert_eq!(
            toks(r#""a\"b\\c\n\u{e9}" 'x' /a\/b\d/i"#),
            vec![
                Tok::Str("a\"b\\c\né".into()),
                Tok::Str("x".into()),
                Tok::Regex(r"a\/b\d".into(), "i".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn operators() {
        assert_eq!(
            toks("== != < <= > >= && || ! ( ) [ ] ,"),
            vec![
                Tok::Cmp(CmpOp::Eq),
                Tok::Cmp(CmpOp::Ne),
                Tok::Cmp(CmpOp::Lt),
                Tok::Cmp(CmpOp::Le),
                Tok::Cmp(CmpOp::Gt),
                Tok::Cmp(CmpOp::Ge),
                Tok::AndAnd,
                Tok::OrOr,
                Tok::Bang,
                Tok::LParen,
                Tok::RParen,
                Tok::LBracket,
                Tok::RBracket,
                Tok::Comma,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn errors_name_the_column() {
        let cases = [
            ("a = 1", 3, "use `==`"),
            ("x == \"abc", 6, "unterminated string"),
            ("x == \"a\\qb\"", 8, "unknown escape"),
            ("x matches /ab", 11, "unterminated regex"),
            ("x matches /ab/x", 15, "unknown regex flag `x`"),
            ("x == 1.2.3", 6, "not a number or an address"),
            ("x == 99999999999999999999", 6, "out of range"),
            ("é == 1", 1, "unexpected character"),
            ("a..b == 1", 1, "not a field name"),
            ("x == 1 # y", 8, "unexpected character `#`"),
        ];
        for (src, column, text) in cases {
            let err = tokenize(src).expect_err(src);
            assert_eq!(err.column(), column, "{src}: {err}");
            assert!(err.to_string().contains(text), "{src}: {err}");
        }
    }
}
