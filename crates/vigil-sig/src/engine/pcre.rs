//! `pcre` patterns: PCRE syntax translated to what the `regex` crate accepts
//! (byte regex, Unicode off, so it sees bytes as PCRE does without its UTF
//! flag), and, where the pattern needs what `regex` cannot do (lookaround,
//! backreferences, atomic groups, possessive quantifiers), `fancy-regex`
//! over a Latin-1 view of the bytes (byte `b` is char `U+00b`, so `\xNN`
//! and `.` keep their byte meaning). A pattern neither engine compiles is a
//! compile error naming the engine's reason.
//!
//! The translation (hand-written because neither crate reads PCRE's dialect):
//! an unescaped `{` that does not start a quantifier is a literal, an
//! unescaped `[` inside a class is a literal, class-set operators (`&&`,
//! `--`, `~~`) are literals, `(?#...)` comments are dropped, `\0oo` octal
//! becomes `\xNN`, `\e` `\h` `\H` `\Z` are spelled out, and for the Latin-1
//! engine `\d` `\w` `\s` are restricted to ASCII as in PCRE's default tables.

use std::fmt::Write as _;

/// Largest compiled program of one `regex` pattern (bytes).
const REGEX_SIZE_LIMIT: usize = 2 * 1024 * 1024;
/// Lazy DFA cache of one `regex` pattern (bytes).
const REGEX_DFA_LIMIT: usize = 1024 * 1024;
/// Backtracking steps of one `fancy-regex` search before it gives up (counted).
const FANCY_BACKTRACK_LIMIT: usize = 100_000;

/// PCRE option letters that change matching (Suricata's buffer letters and
/// `R` are taken by the rule layer).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PcreFlags {
    /// `i`
    pub caseless: bool,
    /// `s`
    pub dotall: bool,
    /// `m`
    pub multiline: bool,
    /// `x`
    pub extended: bool,
    /// `G` (PCRE's ungreedy `U`): swap greediness.
    pub ungreedy: bool,
    /// `A`: anchored at the start of the search.
    pub anchored: bool,
}

/// A pattern for the `regex` crate, checked at compile time and built on
/// first use: most rules of a large ruleset never reach their pcre, and
/// building thousands of regexes up front costs load time and memory.
#[derive(Debug)]
pub(crate) struct LazyRegex {
    pattern: Box<str>,
    flags: PcreFlags,
    /// `None` inside: building failed (a size limit), counted as no match.
    cell: std::cell::OnceCell<Option<regex::bytes::Regex>>,
}

impl LazyRegex {
    fn builder(&self) -> regex::bytes::RegexBuilder {
        let mut b = regex::bytes::RegexBuilder::new(&self.pattern);
        b.unicode(false)
            .case_insensitive(self.flags.caseless)
            .dot_matches_new_line(self.flags.dotall)
            .multi_line(self.flags.multiline)
            .ignore_whitespace(self.flags.extended)
            .swap_greed(self.flags.ungreedy)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_DFA_LIMIT);
        b
    }

    /// The parse `regex` would do, without building the matcher.
    fn check(pattern: &str, flags: PcreFlags) -> Result<(), String> {
        regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .case_insensitive(flags.caseless)
            .dot_matches_new_line(flags.dotall)
            .multi_line(flags.multiline)
            .ignore_whitespace(flags.extended)
            .swap_greed(flags.ungreedy)
            .build()
            .parse(pattern)
            .map(drop)
            .map_err(|e| e.to_string())
    }

    fn get(&self) -> Option<&regex::bytes::Regex> {
        self.cell
            .get_or_init(|| self.builder().build().ok())
            .as_ref()
    }
}

/// A compiled pattern.
#[derive(Debug)]
pub(crate) enum Regex {
    /// The `regex` crate (linear time), built on first use.
    Fast(LazyRegex),
    /// `fancy-regex` over the Latin-1 view (backtracking, bounded).
    Fancy(Box<fancy_regex::Regex>),
}

/// Reusable space for the Latin-1 view.
#[derive(Debug, Default)]
pub(crate) struct PcreScratch {
    text: String,
    /// Searches that hit the backtracking limit (counted as no match).
    pub errors: u64,
}

impl Regex {
    /// Compile `pattern` with `flags`: `regex` when it can, else `fancy-regex`.
    pub fn compile(pattern: &str, flags: PcreFlags) -> Result<Self, String> {
        let fast = translate(pattern, false);
        let fast_err = match LazyRegex::check(&fast, flags) {
            Ok(()) => {
                return Ok(Regex::Fast(LazyRegex {
                    pattern: fast.into_boxed_str(),
                    flags,
                    cell: std::cell::OnceCell::new(),
                }))
            }
            Err(e) => e,
        };
        let mut fancy = String::with_capacity(pattern.len() + 8);
        let mut inline = String::new();
        for (on, c) in [
            (flags.caseless, 'i'),
            (flags.dotall, 's'),
            (flags.multiline, 'm'),
            (flags.extended, 'x'),
            (flags.ungreedy, 'U'),
        ] {
            if on {
                inline.push(c);
            }
        }
        if !inline.is_empty() {
            let _ = write!(fancy, "(?{inline})");
        }
        fancy.push_str(&translate(pattern, true));
        match fancy_regex::RegexBuilder::new(&fancy)
            .backtrack_limit(FANCY_BACKTRACK_LIMIT)
            .delegate_size_limit(REGEX_SIZE_LIMIT)
            .delegate_dfa_size_limit(REGEX_DFA_LIMIT)
            .build()
        {
            Ok(re) => Ok(Regex::Fancy(Box::new(re))),
            Err(e) => Err(format!(
                "pcre not supported by regex ({}) nor fancy-regex ({e})",
                first_line(&fast_err.to_string())
            )),
        }
    }

    /// The first match in `hay` starting at or after `from` (positions are
    /// byte offsets into `hay`; `^` anchors at `hay`'s start).
    pub fn find_at(
        &self,
        hay: &[u8],
        from: usize,
        scratch: &mut PcreScratch,
    ) -> Option<(usize, usize)> {
        if from > hay.len() {
            return None;
        }
        match self {
            Regex::Fast(lazy) => match lazy.get() {
                Some(re) => re.find_at(hay, from).map(|m| (m.start(), m.end())),
                None => {
                    scratch.errors += 1;
                    None
                }
            },
            Regex::Fancy(re) => {
                scratch.text.clear();
                scratch.text.extend(hay.iter().map(|&b| char::from(b)));
                let ascii = scratch.text.len() == hay.len();
                let text_from = if ascii {
                    from
                } else {
                    latin1_byte_to_char_pos(hay, from)
                };
                match re.find_from_pos(&scratch.text, text_from) {
                    Ok(Some(m)) if ascii => Some((m.start(), m.end())),
                    Ok(Some(m)) => {
                        let s = char_pos_to_byte(&scratch.text, m.start());
                        let e = char_pos_to_byte(&scratch.text, m.end());
                        Some((s, e))
                    }
                    Ok(None) => None,
                    Err(_) => {
                        scratch.errors += 1;
                        None
                    }
                }
            }
        }
    }
}

fn first_line(s: &str) -> String {
    let msg = s
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect::<Vec<_>>()
        .join(" ");
    if msg.is_empty() {
        s.lines().last().unwrap_or("").trim().to_owned()
    } else {
        msg
    }
}

/// Position in the Latin-1 string of byte position `pos` of `hay`: bytes
/// ≥ 0x80 take two UTF-8 bytes.
fn latin1_byte_to_char_pos(hay: &[u8], pos: usize) -> usize {
    let end = pos.min(hay.len());
    hay.get(..end)
        .map_or(0, |h| h.iter().map(|&b| if b < 0x80 { 1 } else { 2 }).sum())
}

/// Byte position in the original bytes of UTF-8 position `pos` of the Latin-1 text.
fn char_pos_to_byte(text: &str, pos: usize) -> usize {
    text.get(..pos).map_or(0, |t| t.chars().count())
}

/// Is `s` (after a `{`) a PCRE quantifier `n}`, `n,}`, `n,m}` or `,m}`?
/// Returns its length including the closing brace.
fn quantifier_len(s: &[u8]) -> Option<usize> {
    let mut i = 0;
    let mut lo = 0;
    while s.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
        lo += 1;
    }
    let mut hi = 0;
    let comma = s.get(i) == Some(&b',');
    if comma {
        i += 1;
        while s.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
            hi += 1;
        }
    }
    if s.get(i) != Some(&b'}') || (lo == 0 && (!comma || hi == 0)) {
        return None;
    }
    Some(i + 1)
}

/// PCRE → `regex` syntax (see the module docs). `latin1` restricts the Perl
/// classes to ASCII for the Unicode-mode `fancy-regex`.
pub(crate) fn translate(pat: &str, latin1: bool) -> String {
    let b = pat.as_bytes();
    let mut out = String::with_capacity(pat.len() + 8);
    let mut i = 0;
    // Inside a class: Some(position of first member) to treat a leading `]` as literal.
    let mut class_start: Option<usize> = None;
    while let Some(&c) = b.get(i) {
        if c == b'\\' {
            let Some(&n) = b.get(i + 1) else {
                out.push('\\');
                i += 1;
                continue;
            };
            let in_class = class_start.is_some();
            i += 2;
            match n {
                b'e' => out.push_str("\\x1B"),
                // PCRE's `\xH` takes up to two hex digits; `regex` wants two.
                b'x' if b.get(i) != Some(&b'{')
                    && !(b.get(i).is_some_and(u8::is_ascii_hexdigit)
                        && b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)) =>
                {
                    let v = match b.get(i) {
                        Some(d) if d.is_ascii_hexdigit() => {
                            i += 1;
                            char::from(*d).to_digit(16).unwrap_or(0)
                        }
                        _ => 0,
                    };
                    let _ = write!(out, "\\x{v:02X}");
                }
                b'h' if in_class => out.push_str("\\t "),
                b'h' => out.push_str("[\\t ]"),
                b'H' if !in_class => out.push_str("[^\\t ]"),
                b'Z' if !in_class => out.push_str("\\z"),
                b'0' => {
                    let mut v: u32 = 0;
                    let mut k = 0;
                    while k < 2 && b.get(i).is_some_and(|d| (b'0'..=b'7').contains(d)) {
                        v = v * 8 + u32::from(b.get(i).copied().unwrap_or(b'0') - b'0');
                        i += 1;
                        k += 1;
                    }
                    let _ = write!(out, "\\x{v:02X}");
                }
                // `\gN`, `\g{N}`: backreference by number.
                b'g' if b.get(i).is_some_and(|d| d.is_ascii_digit() || *d == b'{') => {
                    let braced = b.get(i) == Some(&b'{');
                    let start = i + usize::from(braced);
                    let mut end = start;
                    while b.get(end).is_some_and(u8::is_ascii_digit) {
                        end += 1;
                    }
                    out.push('\\');
                    out.push_str(pat.get(start..end).unwrap_or(""));
                    i = end + usize::from(braced && b.get(end) == Some(&b'}'));
                }
                b'd' if latin1 => out.push_str(if in_class { "0-9" } else { "[0-9]" }),
                b'D' if latin1 && !in_class => out.push_str("[^0-9]"),
                b'w' if latin1 => out.push_str(if in_class {
                    "0-9A-Za-z_"
                } else {
                    "[0-9A-Za-z_]"
                }),
                b'W' if latin1 && !in_class => out.push_str("[^0-9A-Za-z_]"),
                b's' if latin1 => out.push_str(if in_class {
                    "\\t\\n\\x0B\\x0C\\r "
                } else {
                    "[\\t\\n\\x0B\\x0C\\r ]"
                }),
                b'S' if latin1 && !in_class => out.push_str("[^\\t\\n\\x0B\\x0C\\r ]"),
                // `\x{...}`, `\p{...}`, `\P{...}`: copy the braces through.
                b'x' | b'p' | b'P' if b.get(i) == Some(&b'{') => {
                    let close = b.get(i..).and_then(|r| r.iter().position(|&c| c == b'}'));
                    let end = close.map_or(b.len(), |c| i + c + 1);
                    out.push('\\');
                    out.push(char::from(n));
                    out.push_str(pat.get(i..end).unwrap_or(""));
                    i = end;
                }
                _ => {
                    out.push('\\');
                    // Multi-byte UTF-8 after a backslash: copy the whole char.
                    let start = i - 1;
                    let mut end = i;
                    while end < b.len() && !pat.is_char_boundary(end) {
                        end += 1;
                    }
                    out.push_str(pat.get(start..end).unwrap_or(""));
                    i = end;
                }
            }
            continue;
        }
        if let Some(first) = class_start {
            match c {
                b']' if i != first => {
                    class_start = None;
                    out.push(']');
                }
                b'[' if b.get(i + 1) == Some(&b':') => {
                    // POSIX class [:alpha:]: copy through its closing ":]".
                    let rest = pat.get(i..).unwrap_or("");
                    match rest.find(":]") {
                        Some(e) => {
                            out.push_str(rest.get(..e + 2).unwrap_or(""));
                            i += e + 2;
                            continue;
                        }
                        None => out.push_str("\\["),
                    }
                }
                b'[' => out.push_str("\\["),
                b'&' | b'~' => {
                    out.push('\\');
                    out.push(char::from(c));
                }
                b'-' if b.get(i + 1) == Some(&b'-') => out.push_str("\\-"),
                _ => push_char(pat, &mut i, &mut out),
            }
            if c.is_ascii() {
                i += 1;
            }
            continue;
        }
        match c {
            b'[' => {
                out.push('[');
                i += 1;
                if b.get(i) == Some(&b'^') {
                    out.push('^');
                    i += 1;
                }
                class_start = Some(i);
                // A leading `]` is a literal member.
                if b.get(i) == Some(&b']') {
                    out.push_str("\\]");
                    i += 1;
                }
                continue;
            }
            b'{' => match quantifier_len(b.get(i + 1..).unwrap_or(&[])) {
                Some(len) => {
                    let q = pat.get(i..i + 1 + len).unwrap_or("");
                    // `{,m}` is `{0,m}` in PCRE2.
                    if q.starts_with("{,") {
                        out.push_str("{0");
                        out.push_str(q.get(1..).unwrap_or(""));
                    } else {
                        out.push_str(q);
                    }
                    i += 1 + len;
                }
                None => {
                    out.push_str("\\{");
                    i += 1;
                }
            },
            b'}' => {
                out.push_str("\\}");
                i += 1;
            }
            b'(' if b.get(i + 1..i + 3) == Some(b"?#") => {
                // A comment up to the next `)`.
                match b.get(i..).and_then(|r| r.iter().position(|&x| x == b')')) {
                    Some(e) => i += e + 1,
                    None => i = b.len(),
                }
            }
            _ => {
                push_char(pat, &mut i, &mut out);
                if c.is_ascii() {
                    i += 1;
                }
            }
        }
    }
    out
}

/// Copy the char at byte `*i` of `pat`; for a non-ASCII char also advance `*i`
/// past it (ASCII callers advance themselves).
fn push_char(pat: &str, i: &mut usize, out: &mut String) {
    match pat.get(*i..).and_then(|r| r.chars().next()) {
        Some(ch) if !ch.is_ascii() => {
            out.push(ch);
            *i += ch.len_utf8();
        }
        Some(ch) => out.push(ch),
        None => *i += 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(p: &str, flags: PcreFlags, hay: &[u8]) -> Option<(usize, usize)> {
        let re = Regex::compile(p, flags).expect("compiles");
        re.find_at(hay, 0, &mut PcreScratch::default())
    }

    #[test]
    fn translation_fixes_pcre_only_syntax() {
        assert_eq!(translate(r"a{b}", false), r"a\{b\}");
        assert_eq!(translate(r"a{2,3}b{,4}", false), r"a{2,3}b{0,4}");
        assert_eq!(translate(r"[a[b]", false), r"[a\[b]");
        assert_eq!(translate(r"[]a]", false), r"[\]a]");
        assert_eq!(translate(r"[a&&b]", false), r"[a\&\&b]");
        assert_eq!(translate(r"x(?#note)y", false), "xy");
        assert_eq!(translate(r"\0\012", false), r"\x00\x0A");
        assert_eq!(translate(r"[[:alpha:]]", false), "[[:alpha:]]");
        assert_eq!(translate(r"\w[\d]", true), "[0-9A-Za-z_][0-9]");
        assert_eq!(translate(r"(a)\g1\g{1}", true), r"(a)\1\1");
        assert_eq!(
            translate(r"[\x2]\x41\x{263a}", false),
            r"[\x02]\x41\x{263a}"
        );
    }

    #[test]
    fn byte_regex_sees_raw_bytes() {
        let f = PcreFlags::default();
        assert_eq!(find(r"\xff\x00", f, b"a\xff\x00b"), Some((1, 3)));
        assert_eq!(find(r"^GET", f, b"xGET"), None);
        let i = PcreFlags {
            caseless: true,
            ..f
        };
        assert_eq!(find(r"select.+from", i, b"SELECT * FROM t"), Some((0, 13)));
        assert!(matches!(Regex::compile("a", f), Ok(Regex::Fast(_))));
    }

    #[test]
    fn lookaround_and_backrefs_use_fancy_with_byte_offsets() {
        let f = PcreFlags::default();
        let re = Regex::compile(r"(\w)\1(?!x)", f).expect("fancy");
        assert!(matches!(re, Regex::Fancy(_)));
        let mut s = PcreScratch::default();
        // Non-ASCII bytes before the match: offsets must be byte offsets.
        assert_eq!(re.find_at(b"\xe9\xffaax", 0, &mut s), None);
        assert_eq!(re.find_at(b"\xe9\xffaab", 0, &mut s), Some((2, 4)));
        assert_eq!(re.find_at(b"\xe9\xffaab\xffbb", 3, &mut s), Some((6, 8)));
        // \w stays ASCII as in PCRE: é (0xE9) is not a word char.
        let re = Regex::compile(r"(?=\w)\w\w", f).expect("fancy");
        assert_eq!(re.find_at(b"\xe9\xe9ab", 0, &mut s), Some((2, 4)));
    }

    #[test]
    fn uncompilable_pattern_is_an_error() {
        let err = Regex::compile(r"(?<!a+)b\K", PcreFlags::default());
        assert!(err.is_err());
    }
}
