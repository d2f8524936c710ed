//! Sigma's `condition`: search identifiers joined with `and`, `or`, `not`
//! and parentheses, and `1 of PATTERN` / `all of PATTERN` / `1 of them` /
//! `all of them`. Precedence, least binding first: `or`, `and`, `not`,
//! `x of`, parentheses. The obsolete aggregation syntax (`| count() by x >
//! 5`, `near`) is refused: Sigma correlation rules replace it.

use super::Reason;
use crate::ast::Expr;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Open,
    Close,
    Word(String),
}

/// Split a condition into words and parentheses.
fn tokenize(text: &str) -> Result<Vec<Token>, Reason> {
    let mut out = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut Vec<Token>| {
        if !word.is_empty() {
            out.push(Token::Word(std::mem::take(word)));
        }
    };
    for c in text.chars() {
        match c {
            '(' => {
                flush(&mut word, &mut out);
                out.push(Token::Open);
            }
            ')' => {
                flush(&mut word, &mut out);
                out.push(Token::Close);
            }
            '|' => return Err(Reason::ConditionSyntax(
                "aggregation expressions (`| count() ...`) are obsolete; use a correlation rule"
                    .into(),
            )),
            c if c.is_whitespace() => flush(&mut word, &mut out),
            c => word.push(c),
        }
    }
    flush(&mut word, &mut out);
    Ok(out)
}

/// Whether `name` matches the glob `pattern` (`*` any run of characters).
fn glob(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return false;
    };
    if parts.len() == 1 {
        return pattern == name;
    }
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = name.get(first.len()..name.len() - last.len()).unwrap_or("");
    for middle in parts.iter().skip(1).take(parts.len().saturating_sub(2)) {
        match rest.find(middle) {
            Some(i) => rest = rest.get(i + middle.len()..).unwrap_or(""),
            None => return false,
        }
    }
    true
}

/// The parser: tokens, the identifiers defined, and how to turn one into a
/// condition.
struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    /// Parentheses and `not`s open around the current position.
    depth: usize,
    names: &'a [String],
    resolve: &'a mut dyn FnMut(&str) -> Result<Expr, Reason>,
}

impl Parser<'_> {
    fn peek_word(&self) -> Option<&str> {
        match self.tokens.get(self.pos) {
            Some(Token::Word(w)) => Some(w.as_str()),
            _ => None,
        }
    }

    fn or(&mut self) -> Result<Expr, Reason> {
        let mut parts = vec![self.and()?];
        while self.peek_word() == Some("or") {
            self.pos += 1;
            parts.push(self.and()?);
        }
        Ok(Expr::or(parts))
    }

    fn and(&mut self) -> Result<Expr, Reason> {
        let mut parts = vec![self.not()?];
        while self.peek_word() == Some("and") {
            self.pos += 1;
            parts.push(self.not()?);
        }
        Ok(Expr::and(parts))
    }

    fn not(&mut self) -> Result<Expr, Reason> {
        if self.peek_word() == Some("not") {
            self.pos += 1;
            self.enter()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Expr::not(inner));
        }
        self.primary()
    }

    /// One level deeper; refused past [`crate::expr::MAX_DEPTH`] (the
    /// parser recurses, and the condition tree must stay printable).
    fn enter(&mut self) -> Result<(), Reason> {
        self.depth += 1;
        if self.depth > crate::expr::MAX_DEPTH {
            return Err(Reason::Condition(format!(
                "nested deeper than {} levels",
                crate::expr::MAX_DEPTH
            )));
        }
        Ok(())
    }

    fn primary(&mut self) -> Result<Expr, Reason> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        match token {
            None => Err(Reason::Condition(
                "ends where an operand was expected".into(),
            )),
            Some(Token::Close) => Err(Reason::Condition("unexpected `)`".into())),
            Some(Token::Open) => {
                self.enter()?;
                let inner = self.or()?;
                self.depth -= 1;
                match self.tokens.get(self.pos) {
                    Some(Token::Close) => {
                        self.pos += 1;
                        Ok(inner)
                    }
                    _ => Err(Reason::Condition("missing `)`".into())),
                }
            }
            Some(Token::Word(w)) => match w.as_str() {
                "and" | "or" => Err(Reason::Condition(format!(
                    "`{w}` where an operand was expected"
                ))),
                "1" | "any" | "all" => {
                    if self.peek_word() != Some("of") {
                        return Err(Reason::Condition(format!("`{w}` without `of`")));
                    }
                    self.pos += 1;
                    let target = match self.tokens.get(self.pos) {
                        Some(Token::Word(t)) => t.clone(),
                        _ => return Err(Reason::Condition(format!("`{w} of` without a pattern"))),
                    };
                    self.pos += 1;
                    self.quantified(w == "all", &target)
                }
                q if q.chars().all(|c| c.is_ascii_digit()) && self.peek_word() == Some("of") => {
                    Err(Reason::ConditionSyntax(format!(
                        "`{q} of` (only `1 of` and `all of` are defined)"
                    )))
                }
                name if name.contains('*') => Err(Reason::Condition(format!(
                    "pattern `{name}` outside `1 of` / `all of`"
                ))),
                name => (self.resolve)(name),
            },
        }
    }

    /// `all of` / `1 of` a pattern or `them`.
    fn quantified(&mut self, all: bool, target: &str) -> Result<Expr, Reason> {
        let chosen: Vec<String> = if target == "them" {
            self.names
                .iter()
                .filter(|n| !n.starts_with('_'))
                .cloned()
                .collect()
        } else {
            self.names
                .iter()
                .filter(|n| glob(target, n))
                .cloned()
                .collect()
        };
        if chosen.is_empty() {
            return Err(Reason::Condition(format!(
                "`{target}` names no search identifier"
            )));
        }
        let mut parts = Vec::with_capacity(chosen.len());
        for name in &chosen {
            parts.push((self.resolve)(name)?);
        }
        Ok(if all {
            Expr::and(parts)
        } else {
            Expr::or(parts)
        })
    }
}

/// Parse `text` over the search identifiers `names`, turning each
/// identifier into its condition with `resolve`.
pub(crate) fn parse(
    text: &str,
    names: &[String],
    resolve: &mut dyn FnMut(&str) -> Result<Expr, Reason>,
) -> Result<Expr, Reason> {
    let tokens = tokenize(text)?;
    if tokens.contains(&Token::Word("near".into())) {
        return Err(Reason::ConditionSyntax(
            "`near` is obsolete; use a temporal correlation rule".into(),
        ));
    }
    if tokens.is_empty() {
        return Err(Reason::Condition("empty condition".into()));
    }
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
        names,
        resolve,
    };
    let expr = p.or()?;
    match p.tokens.get(p.pos) {
        None => Ok(expr),
        Some(Token::Word(w)) => Err(Reason::Condition(format!("unexpected `{w}`"))),
        Some(Token::Open) => Err(Reason::Condition("unexpected `(`".into())),
        Some(Token::Close) => Err(Reason::Condition("unexpected `)`".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Identifiers become `exists NAME` so the tree shows which were used.
    fn cond(text: &str, names: &[&str]) -> Result<Expr, Reason> {
        let names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
        let known = names.clone();
        parse(text, &names, &mut |n| {
            if known.iter().any(|k| k == n) {
                Ok(Expr::Exists(n.to_owned()))
            } else {
                Err(Reason::Condition(format!(
                    "undefined search identifier `{n}`"
                )))
            }
        })
    }

    fn id(n: &str) -> Expr {
        Expr::Exists(n.into())
    }

    #[test]
    fn precedence_or_and_not() {
        // `a or b and not c` is `a or (b and (not c))`.
        let e = cond("a or b and not c", &["a", "b", "c"]).unwrap();
        assert_eq!(
            e,
            Expr::or(vec![id("a"), Expr::and(vec![id("b"), Expr::not(id("c"))])])
        );
        let e = cond("(a or b) and c", &["a", "b", "c"]).unwrap();
        assert_eq!(
            e,
            Expr::and(vec![Expr::or(vec![id("a"), id("b")]), id("c")])
        );
        let e = cond("not not a", &["a"]).unwrap();
        assert_eq!(e, Expr::not(Expr::not(id("a"))));
    }

    #[test]
    fn spec_examples() {
        let names = [
            "selection1",
            "selection2",
            "keywords",
            "filter1",
            "filter2",
            "_hidden",
        ];
        let e = cond("all of selection*", &names).unwrap();
        assert_eq!(e, Expr::and(vec![id("selection1"), id("selection2")]));
        let e = cond("1 of selection* and keywords", &names).unwrap();
        assert_eq!(
            e,
            Expr::and(vec![
                Expr::or(vec![id("selection1"), id("selection2")]),
                id("keywords")
            ])
        );
        let e = cond("1 of selection* and not 1 of filter*", &names).unwrap();
        assert_eq!(
            e,
            Expr::and(vec![
                Expr::or(vec![id("selection1"), id("selection2")]),
                Expr::not(Expr::or(vec![id("filter1"), id("filter2")]))
            ])
        );
        // `them` leaves out identifiers that start with `_`.
        let e = cond("1 of them", &names).unwrap();
        let Expr::Or(parts) = e else {
            panic!("not an or")
        };
        assert_eq!(parts.len(), 5);
        assert!(!parts.contains(&id("_hidden")));
        let e = cond("all of them", &["a", "b"]).unwrap();
        assert_eq!(e, Expr::and(vec![id("a"), id("b")]));
        // `any of` is the old spelling of `1 of`; one match is the identifier.
        assert_eq!(cond("any of sel*", &["sel_a"]).unwrap(), id("sel_a"));
        // Patterns may have a star in the middle.
        let e = cond("1 of sel*_main", &["sel_a_main", "sel_b", "selmain"]).unwrap();
        assert_eq!(e, id("sel_a_main"));
    }

    #[test]
    fn errors_name_the_problem() {
        let err = |t: &str| cond(t, &["a", "b"]).unwrap_err().to_string();
        assert!(err("a and c").contains("undefined search identifier `c`"));
        assert!(err("a and").contains("operand"));
        assert!(err("(a or b").contains("missing `)`"));
        assert!(err("a b").contains("unexpected `b`"));
        assert!(err("1 of x*").contains("names no search identifier"));
        assert!(err("a | count() by x > 5").starts_with("unsupported condition syntax"));
        assert!(err("a near b").starts_with("unsupported condition syntax"));
        assert!(err("2 of a*").starts_with("unsupported condition syntax"));
        assert!(err("a*").contains("outside"));
        assert!(err("").contains("empty"));
        assert!(err("a )").contains("unexpected `)`"));
        let deep = format!("{}a{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(err(&deep).contains("nested deeper"));
        assert!(err(&"not ".repeat(100_000)).contains("nested deeper"));
        let fine = format!("{}a{}", "(".repeat(50), ")".repeat(50));
        assert!(cond(&fine, &["a"]).is_ok());
    }

    #[test]
    fn glob_matching() {
        assert!(glob("sel*", "selection"));
        assert!(glob("*", "x"));
        assert!(glob("a*b*c", "aXbYc"));
        assert!(!glob("a*b*c", "aXc"));
        assert!(!glob("ab*ba", "aba"));
        assert!(glob("filter_main_*", "filter_main_x"));
        assert!(!glob("filter_main_*", "filter_optional"));
        assert!(glob("exact", "exact") && !glob("exact", "exactly"));
    }
}
