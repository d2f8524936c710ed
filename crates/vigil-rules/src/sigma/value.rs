//! Sigma string values: wildcards (`*`, `?`) and their escapes, the
//! transformations that expand one value into several (`base64`,
//! `base64offset`, `windash`), and the string test or regular expression a
//! pattern becomes.

use base64::Engine as _;

use crate::ast::{Expr, Operand, StrOp};

/// One piece of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Literal text.
    Lit(String),
    /// `*`: any run of characters, possibly empty.
    Any,
    /// `?`: exactly one character.
    One,
}

/// A Sigma string value with its wildcards resolved.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Pattern {
    pieces: Vec<Piece>,
}

/// Most `-`/`/` flags one value may have under `windash` (each has five
/// spellings, so a value expands into up to 5^this values).
pub(crate) const MAX_WINDASH_FLAGS: usize = 4;

/// The spellings `windash` tries for a flag character.
const WINDASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

impl Pattern {
    /// Parse a value as written in a rule: `*` and `?` are wildcards, a
    /// backslash escapes `*`, `?` and itself, and any other backslash is
    /// literal (`C:\Windows` is as written, `\\*` a backslash then a
    /// wildcard, `\\\*` a backslash then a star).
    pub(crate) fn parse(text: &str) -> Pattern {
        let mut p = Pattern::default();
        let mut escaped = false;
        for c in text.chars() {
            if escaped {
                if !matches!(c, '*' | '?' | '\\') {
                    p.push_char('\\');
                }
                p.push_char(c);
                escaped = false;
            } else {
                match c {
                    '\\' => escaped = true,
                    '*' => p.push(Piece::Any),
                    '?' => p.push(Piece::One),
                    c => p.push_char(c),
                }
            }
        }
        if escaped {
            p.push_char('\\');
        }
        p
    }

    /// A pattern that is exactly `text`, no wildcards.
    pub(crate) fn literal(text: &str) -> Pattern {
        let mut p = Pattern::default();
        if !text.is_empty() {
            p.pieces.push(Piece::Lit(text.to_owned()));
        }
        p
    }

    fn push_char(&mut self, c: char) {
        if let Some(Piece::Lit(s)) = self.pieces.last_mut() {
            s.push(c);
        } else {
            self.pieces.push(Piece::Lit(c.to_string()));
        }
    }

    fn push(&mut self, piece: Piece) {
        match piece {
            Piece::Lit(s) => {
                for c in s.chars() {
                    self.push_char(c);
                }
            }
            // `**` is `*`.
            Piece::Any if self.pieces.last() == Some(&Piece::Any) => {}
            other => self.pieces.push(other),
        }
    }

    /// Whether the pattern has a wildcard.
    #[cfg(test)]
    pub(crate) fn has_wildcards(&self) -> bool {
        self.pieces.iter().any(|p| !matches!(p, Piece::Lit(_)))
    }

    /// The text when the pattern has no wildcard.
    pub(crate) fn as_text(&self) -> Option<String> {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Lit(s) => out.push_str(s),
                _ => return None,
            }
        }
        Some(out)
    }

    /// `*` in front and/or behind (the `contains`, `startswith`, `endswith`
    /// modifiers), unless already there.
    pub(crate) fn wrap(mut self, front: bool, back: bool) -> Pattern {
        if front && self.pieces.first() != Some(&Piece::Any) {
            self.pieces.insert(0, Piece::Any);
        }
        if back && self.pieces.last() != Some(&Piece::Any) {
            self.pieces.push(Piece::Any);
        }
        self
    }

    /// The test of `operand` against this pattern: equality, a prefix,
    /// suffix or substring test, existence for a lone `*`, and otherwise a
    /// regular expression.
    pub(crate) fn to_expr(&self, field: &str, nocase: bool) -> Expr {
        let operand = Operand::Field(field.to_owned());
        let str_test = |op: StrOp, pattern: &str| Expr::Str {
            operand: operand.clone(),
            op,
            pattern: pattern.to_owned(),
            nocase,
        };
        match self.pieces.as_slice() {
            [] => str_test(StrOp::Equals, ""),
            [Piece::Any] => Expr::Exists(field.to_owned()),
            [Piece::Lit(s)] => str_test(StrOp::Equals, s),
            [Piece::Any, Piece::Lit(s)] => str_test(StrOp::EndsWith, s),
            [Piece::Lit(s), Piece::Any] => str_test(StrOp::StartsWith, s),
            [Piece::Any, Piece::Lit(s), Piece::Any] => str_test(StrOp::Contains, s),
            _ => Expr::Matches {
                operand,
                pattern: self.to_regex(),
                flags: if nocase { "is".into() } else { "s".into() },
            },
        }
    }

    /// The pattern as a regular expression (anchored where the pattern
    /// has no `*` at that end), to be used with `.` matching newlines.
    pub(crate) fn to_regex(&self) -> String {
        let mut out = String::new();
        let n = self.pieces.len();
        for (i, p) in self.pieces.iter().enumerate() {
            match p {
                Piece::Lit(s) => {
                    if i == 0 {
                        out.push('^');
                    }
                    out.push_str(&regex::escape(s));
                    if i + 1 == n {
                        out.push('$');
                    }
                }
                Piece::One => {
                    if i == 0 {
                        out.push('^');
                    }
                    out.push('.');
                    if i + 1 == n {
                        out.push('$');
                    }
                }
                Piece::Any => {
                    if i != 0 && i + 1 != n {
                        out.push_str(".*");
                    }
                }
            }
        }
        if self.pieces.is_empty() {
            // The empty value: the empty text. (A lone `*` left `out`
            // empty, which matches anything.)
            out.push_str("^$");
        }
        out
    }

    /// `windash`: every spelling of the command-line flags in the value. A
    /// flag is a `-` or `/` after a non-word character (or at the start)
    /// and before a word character, as pySigma finds them (`\B[-/]\b`).
    /// `None` when the value has more than [`MAX_WINDASH_FLAGS`] flags.
    pub(crate) fn windash(&self) -> Option<Vec<Pattern>> {
        // Flatten into characters and wildcards; wildcards count as
        // non-word characters.
        let mut items: Vec<Option<char>> = Vec::new();
        let mut wild: Vec<Piece> = Vec::new();
        for p in &self.pieces {
            match p {
                Piece::Lit(s) => items.extend(s.chars().map(Some)),
                other => {
                    items.push(None);
                    wild.push(other.clone());
                }
            }
        }
        let is_word = |c: Option<&Option<char>>| matches!(c, Some(Some(c)) if c.is_alphanumeric() || *c == '_');
        let flags: Vec<usize> = (0..items.len())
            .filter(|&i| {
                matches!(items.get(i), Some(Some('-' | '/')))
                    && (i == 0 || !is_word(items.get(i - 1)))
                    && is_word(items.get(i + 1))
            })
            .collect();
        if flags.len() > MAX_WINDASH_FLAGS {
            return None;
        }
        let total = WINDASHES.len().pow(flags.len() as u32);
        let mut out = Vec::with_capacity(total);
        for mut combo in 0..total {
            let mut chars = items.clone();
            for &i in &flags {
                if let (Some(slot), Some(dash)) =
                    (chars.get_mut(i), WINDASHES.get(combo % WINDASHES.len()))
                {
                    *slot = Some(*dash);
                }
                combo /= WINDASHES.len();
            }
            let mut p = Pattern::default();
            let mut wild = wild.iter();
            for c in chars {
                match c {
                    Some(c) => p.push_char(c),
                    None => p.push(wild.next().cloned().unwrap_or(Piece::Any)),
                }
            }
            out.push(p);
        }
        Some(out)
    }
}

/// `base64`: the value's UTF-8 bytes in standard Base64.
pub(crate) fn base64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
}

/// `base64offset`: the three forms the value takes inside a longer
/// Base64 text, depending on its offset modulo three (pySigma's
/// algorithm: encode the value behind 0, 1 or 2 spaces and keep the part
/// that does not depend on the neighbours).
pub(crate) fn base64_offsets(text: &str) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    // Characters cut from the end, by (length + shift) % 3.
    const END_CUT: [usize; 3] = [0, 3, 2];
    let bytes = text.as_bytes();
    (0..3usize)
        .map(|shift| {
            let mut input = vec![b' '; shift];
            input.extend_from_slice(bytes);
            let encoded = base64::engine::general_purpose::STANDARD.encode(&input);
            let start = START.get(shift).copied().unwrap_or(0);
            let cut = END_CUT.get((bytes.len() + shift) % 3).copied().unwrap_or(0);
            let end = encoded.len().saturating_sub(cut).max(start);
            encoded.get(start..end).unwrap_or_default().to_owned()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::StrOp;

    fn lit(s: &str) -> Piece {
        Piece::Lit(s.into())
    }

    #[test]
    fn escapes_follow_the_specification() {
        // Plain backslash, single or double.
        assert_eq!(
            Pattern::parse(r"C:\Windows").pieces,
            vec![lit(r"C:\Windows")]
        );
        assert_eq!(
            Pattern::parse(r"C:\\Windows").pieces,
            vec![lit(r"C:\Windows")]
        );
        // Escaped wildcards are plain characters.
        assert_eq!(Pattern::parse(r"a\*b\?").pieces, vec![lit("a*b?")]);
        // A backslash before a wildcard: `\\*`.
        assert_eq!(Pattern::parse(r"a\\*").pieces, vec![lit(r"a\"), Piece::Any]);
        // Both plain: `\\\*`.
        assert_eq!(Pattern::parse(r"a\\\*").pieces, vec![lit(r"a\*")]);
        // Four backslashes are two.
        assert_eq!(Pattern::parse(r"\\\\").pieces, vec![lit(r"\\")]);
        // A trailing backslash stays.
        assert_eq!(Pattern::parse(r"x\").pieces, vec![lit(r"x\")]);
        assert_eq!(
            Pattern::parse("prog?.exe").pieces,
            vec![lit("prog"), Piece::One, lit(".exe")]
        );
        assert_eq!(
            Pattern::parse("a**b").pieces,
            vec![lit("a"), Piece::Any, lit("b")]
        );
    }

    #[test]
    fn patterns_become_string_tests() {
        let t = |s: &str| Pattern::parse(s).to_expr("f", true);
        let str_op = |op, p: &str| Expr::Str {
            operand: Operand::Field("f".into()),
            op,
            pattern: p.into(),
            nocase: true,
        };
        assert_eq!(t("abc"), str_op(StrOp::Equals, "abc"));
        assert_eq!(t("*abc"), str_op(StrOp::EndsWith, "abc"));
        assert_eq!(t("abc*"), str_op(StrOp::StartsWith, "abc"));
        assert_eq!(t("*abc*"), str_op(StrOp::Contains, "abc"));
        assert_eq!(t(""), str_op(StrOp::Equals, ""));
        assert_eq!(t("*"), Expr::Exists("f".into()));
        assert_eq!(t(r"*a\*b*"), str_op(StrOp::Contains, "a*b"));
        let Expr::Matches { pattern, flags, .. } = t("Mozilla/3.0 * Acrobat *") else {
            panic!("not a regex")
        };
        assert_eq!(pattern, r"^Mozilla/3\.0 .* Acrobat ");
        assert_eq!(flags, "is");
        let Expr::Matches { pattern, flags, .. } = Pattern::parse("prog?.exe").to_expr("f", false)
        else {
            panic!("not a regex")
        };
        assert_eq!((pattern.as_str(), flags.as_str()), (r"^prog.\.exe$", "s"));
        assert_eq!(Pattern::parse("*a*b").to_regex(), "a.*b$");
    }

    /// Sigma's wildcard semantics, written the slow obvious way.
    fn glob(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| glob(rest, t.get(i..).unwrap_or(&[]))),
            Some(('?', rest)) => !t.is_empty() && glob(rest, t.get(1..).unwrap_or(&[])),
            Some((c, rest)) => t.first() == Some(c) && glob(rest, t.get(1..).unwrap_or(&[])),
        }
    }

    proptest::proptest! {
        #[test]
        fn regex_agrees_with_glob(pattern in "[ab.*?]{0,6}", text in "[ab.\n]{0,8}") {
            let p = Pattern::parse(&pattern);
            let re = regex::RegexBuilder::new(&p.to_regex())
                .dot_matches_new_line(true)
                .build()
                .unwrap();
            let pc: Vec<char> = pattern.chars().collect();
            let tc: Vec<char> = text.chars().collect();
            proptest::prop_assert_eq!(re.is_match(&text), glob(&pc, &tc), "{:?}", p.to_regex());
        }

        #[test]
        fn text_without_wildcards_is_literal(text in "[a-z:/. \\-]{0,12}") {
            // A backslash followed by a backslash is one; otherwise literal.
            let expected = text.replace("\\\\", "\\");
            proptest::prop_assert_eq!(Pattern::parse(&text).as_text(), Some(expected));
        }
    }

    #[test]
    fn wrap_adds_missing_wildcards_only() {
        let p = Pattern::parse("*x").wrap(true, true);
        assert_eq!(p.pieces, vec![Piece::Any, lit("x"), Piece::Any]);
        assert_eq!(
            Pattern::literal("").wrap(true, true).pieces,
            vec![Piece::Any]
        );
    }

    #[test]
    fn base64_and_offsets_match_the_pysigma_vectors() {
        assert_eq!(base64("/bin/bash"), "L2Jpbi9iYXNo");
        // pySigma's test vectors for `base64offset`.
        assert_eq!(
            base64_offsets("foobar"),
            vec!["Zm9vYmFy", "Zvb2Jhc", "mb29iYX"]
        );
        assert_eq!(base64_offsets("foo"), vec!["Zm9v", "Zvb", "mb2"]);
        // Each form occurs in the encoding of the value at that offset.
        for prefix in ["", "a", "ab", "abc", "abcd"] {
            let whole = base64(&format!("{prefix}sekurlsa::logonpasswords and more"));
            assert!(
                base64_offsets("sekurlsa::logonpasswords")
                    .iter()
                    .any(|form| whole.contains(form.as_str())),
                "{prefix:?}: {whole}"
            );
        }
    }

    #[test]
    fn windash_spells_every_flag() {
        let forms = Pattern::parse(" -exec bypass /c").windash().unwrap();
        assert_eq!(forms.len(), 25);
        let texts: Vec<String> = forms.iter().filter_map(Pattern::as_text).collect();
        assert!(texts.contains(&" -exec bypass /c".to_owned()));
        assert!(texts.contains(&" /exec bypass -c".to_owned()));
        assert!(texts.contains(&" \u{2014}exec bypass \u{2015}c".to_owned()));
        // Not a flag: inside a word or before a non-word character.
        let forms = Pattern::parse("a-b -").windash().unwrap();
        assert_eq!(forms.len(), 1);
        // Wildcards survive.
        let forms = Pattern::parse("*-x*").windash().unwrap();
        assert_eq!(forms.len(), 5);
        assert!(forms.iter().all(|p| p.has_wildcards()));
        assert!(Pattern::parse(" -a -b -c -d -e").windash().is_none());
    }
}
