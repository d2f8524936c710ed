//! Checking and compiling: a condition tree is checked against the event
//! schema (every field exists, every comparison has matching types, every
//! pattern and network is valid) and lowered, in the same walk, to the
//! evaluator a [`Condition`] runs. [`check`](super::check) is that walk with
//! the result dropped, so what checks compiles.
//!
//! Field accessors are resolved once (a `&'static FieldDef`), literals are
//! converted to the field's type once (an address written as a string is
//! parsed here), and text patterns, regexes and networks are prepared once
//! ([`super::matcher`]).

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use vigil_event::fields::{self, Access, FieldDef, FieldType, FieldValue};
use vigil_event::Event;

use crate::ast::{CmpOp, Expr, Func, Literal, Operand};

use super::matcher::{Net, TextTest};
use super::print::{cmp_text, func_name, operand_text, str_op_text};
use super::Spans;

/// " at column N" when the column is known.
struct At(Option<usize>);

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(c) => write!(f, " at column {c}"),
            None => Ok(()),
        }
    }
}

/// "; did you mean `x`?" when there is a suggestion.
struct Hint(Option<&'static str>);

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) => write!(f, "; did you mean `{s}`?"),
            None => Ok(()),
        }
    }
}

/// Why a condition does not fit the event schema. Columns are known when
/// the condition was checked with the [`Spans`] of its text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// A name that is not a field of the schema.
    #[error("unknown field `{name}`{}{}", At(*column), Hint(*suggestion))]
    UnknownField {
        /// The name used.
        name: String,
        /// The nearest field name, if one is close.
        suggestion: Option<&'static str>,
        /// Where.
        column: Option<usize>,
    },
    /// The two sides of a comparison (or a list value) have different types.
    #[error("cannot compare {left} ({left_type}) with {right} ({right_type}){}", At(*column))]
    TypeMismatch {
        /// The left side as written.
        left: String,
        /// Its type.
        left_type: &'static str,
        /// The right side as written.
        right: String,
        /// Its type.
        right_type: &'static str,
        /// Where.
        column: Option<usize>,
    },
    /// A string compared with an address that is not an address.
    #[error("`{text}` is not an ip address (compared with {with}){}", At(*column))]
    NotAnAddress {
        /// The string.
        text: String,
        /// The address side as written.
        with: String,
        /// Where.
        column: Option<usize>,
    },
    /// `<`, `<=`, `>`, `>=` on text or flags.
    #[error("`{op}` needs numbers or addresses, not {ty} ({operand}){}", At(*column))]
    Ordering {
        /// The operator.
        op: &'static str,
        /// The type found.
        ty: &'static str,
        /// The operand as written.
        operand: String,
        /// Where.
        column: Option<usize>,
    },
    /// A text test, regex or function on a value that is not text.
    #[error("{what} needs text, but {operand} is {ty}{}", At(*column))]
    NotText {
        /// The test or function.
        what: String,
        /// The operand as written.
        operand: String,
        /// Its type.
        ty: &'static str,
        /// Where.
        column: Option<usize>,
    },
    /// `in cidr` on a value that is not an address.
    #[error("`in cidr` needs an address, but {operand} is {ty}{}", At(*column))]
    NotAddress {
        /// The operand as written.
        operand: String,
        /// Its type.
        ty: &'static str,
        /// Where.
        column: Option<usize>,
    },
    /// A regex that does not compile.
    #[error("invalid regex {regex}: {reason}{}", At(*column))]
    BadRegex {
        /// The regex as written.
        regex: String,
        /// What the regex compiler said.
        reason: String,
        /// Where.
        column: Option<usize>,
    },
    /// A regex flag other than `i`, `m`, `s`.
    #[error("unknown regex flag `{flag}` (use i, m, s){}", At(*column))]
    BadFlag {
        /// The flag.
        flag: char,
        /// Where.
        column: Option<usize>,
    },
    /// A network that does not parse.
    #[error("invalid network `{text}` (expected an address or address/prefix such as 10.0.0.0/8){}", At(*column))]
    BadNetwork {
        /// The network as written.
        text: String,
        /// Where.
        column: Option<usize>,
    },
    /// A function called with the wrong number of arguments.
    #[error("{func}() takes one argument, not {got}{}", At(*column))]
    Arity {
        /// The function.
        func: &'static str,
        /// Arguments given.
        got: usize,
        /// Where.
        column: Option<usize>,
    },
    /// `intel()` before the threat-intel store exists.
    #[error("intel() needs the threat-intel store (vigil-intel), not built yet{}", At(*column))]
    IntelUnavailable {
        /// Where.
        column: Option<usize>,
    },
    /// A pattern the matcher could not prepare.
    #[error("cannot prepare pattern {pattern}: {reason}{}", At(*column))]
    Pattern {
        /// The pattern as written.
        pattern: String,
        /// Why.
        reason: String,
        /// Where.
        column: Option<usize>,
    },
}

/// Compiling is checking: a condition that checks compiles.
pub type CompileError = CheckError;

/// One value while evaluating: borrowed from the event or the condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Ip(IpAddr),
    Bool(bool),
}

impl<'a> Val<'a> {
    fn reborrow(&self) -> Val<'_> {
        match self {
            Val::Str(s) => Val::Str(Cow::Borrowed(s)),
            Val::Int(i) => Val::Int(*i),
            Val::Ip(ip) => Val::Ip(*ip),
            Val::Bool(b) => Val::Bool(*b),
        }
    }
}

impl<'a> From<FieldValue<'a>> for Val<'a> {
    fn from(v: FieldValue<'a>) -> Self {
        match v {
            FieldValue::Str(s) => Val::Str(Cow::Borrowed(s)),
            FieldValue::Int(i) => Val::Int(i),
            FieldValue::Ip(ip) => Val::Ip(ip),
            FieldValue::Bool(b) => Val::Bool(b),
        }
    }
}

/// Where an operand's values come from.
#[derive(Debug)]
pub(crate) enum Src {
    /// A field (any of its values).
    Field(&'static FieldDef),
    /// `lower(..)`.
    Lower(Box<Src>),
    /// `len(..)`.
    Len(Box<Src>),
    /// A constant.
    Lit(Val<'static>),
}

fn lowercase(s: Cow<'_, str>) -> Cow<'_, str> {
    if s.is_ascii() {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            s
        }
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

impl Src {
    /// Call `f` with each value until it returns true; true if it did.
    pub(crate) fn any<'a>(&'a self, ev: &'a Event, f: &mut dyn FnMut(Val<'a>) -> bool) -> bool {
        match self {
            Src::Field(fd) => match fd.access {
                Access::One(get) => get(ev).is_some_and(|v| f(Val::from(v))),
                Access::Many(visit) => {
                    let mut hit = false;
                    visit(ev, &mut |v| {
                        hit = f(Val::from(v));
                        !hit
                    });
                    hit
                }
            },
            Src::Lower(inner) => inner.any(ev, &mut |v| match v {
                Val::Str(s) => f(Val::Str(lowercase(s))),
                _ => false,
            }),
            Src::Len(inner) => inner.any(ev, &mut |v| match v {
                Val::Str(s) => f(Val::Int(
                    i64::try_from(s.chars().count()).unwrap_or(i64::MAX),
                )),
                _ => false,
            }),
            Src::Lit(v) => f(v.reborrow()),
        }
    }

    fn fields(&self, out: &mut Vec<&'static FieldDef>) {
        match self {
            Src::Field(fd) => out.push(fd),
            Src::Lower(inner) | Src::Len(inner) => inner.fields(out),
            Src::Lit(_) => {}
        }
    }
}

/// The compiled form of a condition.
#[derive(Debug)]
pub(crate) enum Node {
    Const(bool),
    And(Box<[Node]>),
    Or(Box<[Node]>),
    Not(Box<Node>),
    Exists(&'static FieldDef),
    /// Some value passes `test` (fails it, when `negate`: `!=`).
    Text {
        src: Src,
        test: TextTest,
        negate: bool,
    },
    Int {
        src: Src,
        op: CmpOp,
        value: i64,
    },
    /// Sorted.
    IntIn {
        src: Src,
        values: Box<[i64]>,
    },
    Ip {
        src: Src,
        op: CmpOp,
        value: IpAddr,
    },
    /// Sorted, canonical.
    IpIn {
        src: Src,
        values: Box<[IpAddr]>,
    },
    Cidr {
        src: Src,
        nets: Box<[Net]>,
    },
    Bool {
        src: Src,
        value: bool,
        negate: bool,
    },
    /// Two operands that both vary (field against field).
    Pair {
        lhs: Src,
        op: CmpOp,
        rhs: Src,
    },
}

fn ordered<T: Ord>(a: T, op: CmpOp, b: T) -> bool {
    match op {
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
        CmpOp::Lt => a < b,
        CmpOp::Le => a <= b,
        CmpOp::Gt => a > b,
        CmpOp::Ge => a >= b,
    }
}

fn compare(a: &Val<'_>, op: CmpOp, b: &Val<'_>) -> bool {
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => ordered(&**x, op, &**y),
        (Val::Int(x), Val::Int(y)) => ordered(x, op, y),
        (Val::Ip(x), Val::Ip(y)) => ordered(x.to_canonical(), op, y.to_canonical()),
        (Val::Bool(x), Val::Bool(y)) => ordered(x, op, y),
        _ => false,
    }
}

/// A fixed buffer for the text form of a number or an address (no
/// allocation while evaluating).
struct TextBuf {
    buf: [u8; 64],
    len: usize,
}

impl fmt::Write for TextBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Run `f` on the text form of `v`.
fn with_text(v: &Val<'_>, f: impl FnOnce(&str) -> bool) -> bool {
    use std::fmt::Write as _;
    let mut tb = TextBuf {
        buf: [0; 64],
        len: 0,
    };
    let written = match v {
        Val::Str(s) => return f(s),
        Val::Bool(b) => return f(if *b { "true" } else { "false" }),
        Val::Int(i) => write!(tb, "{i}"),
        Val::Ip(ip) => write!(tb, "{ip}"),
    };
    match (written, tb.buf.get(..tb.len)) {
        (Ok(()), Some(bytes)) => std::str::from_utf8(bytes).is_ok_and(f),
        _ => false,
    }
}

impl Node {
    pub(crate) fn eval(&self, ev: &Event) -> bool {
        let src = match self {
            Node::Const(b) => return *b,
            Node::And(parts) => return parts.iter().all(|p| p.eval(ev)),
            Node::Or(parts) => return parts.iter().any(|p| p.eval(ev)),
            Node::Not(inner) => return !inner.eval(ev),
            Node::Exists(fd) => return fd.first(ev).is_some(),
            Node::Pair { lhs, op, rhs } => {
                return lhs.any(ev, &mut |a| rhs.any(ev, &mut |b| compare(&a, *op, &b)))
            }
            Node::Text { src, .. }
            | Node::Int { src, .. }
            | Node::IntIn { src, .. }
            | Node::Ip { src, .. }
            | Node::IpIn { src, .. }
            | Node::Cidr { src, .. }
            | Node::Bool { src, .. } => src,
        };
        // The common case, a field with at most one value, without the
        // visitor's indirect calls.
        if let Src::Field(FieldDef {
            access: Access::One(get),
            ..
        }) = src
        {
            return get(ev).is_some_and(|v| self.test(Val::from(v)));
        }
        src.any(ev, &mut |v| self.test(v))
    }

    /// The test of a leaf on one value (false for other nodes).
    #[inline]
    fn test(&self, v: Val<'_>) -> bool {
        match self {
            Node::Text { test, negate, .. } => with_text(&v, |t| test.is_match(t) != *negate),
            Node::Int { op, value, .. } => matches!(v, Val::Int(i) if ordered(i, *op, *value)),
            Node::IntIn { values, .. } => {
                matches!(v, Val::Int(i) if values.binary_search(&i).is_ok())
            }
            Node::Ip { op, value, .. } => {
                matches!(v, Val::Ip(ip) if ordered(ip.to_canonical(), *op, *value))
            }
            Node::IpIn { values, .. } => {
                matches!(v, Val::Ip(ip) if values.binary_search(&ip.to_canonical()).is_ok())
            }
            Node::Cidr { nets, .. } => {
                let ip = match v {
                    Val::Ip(ip) => ip,
                    Val::Str(s) => match s.trim().parse::<IpAddr>() {
                        Ok(ip) => ip,
                        Err(_) => return false,
                    },
                    _ => return false,
                };
                nets.iter().any(|n| n.contains(ip))
            }
            Node::Bool { value, negate, .. } => {
                matches!(v, Val::Bool(b) if (b == *value) != *negate)
            }
            _ => false,
        }
    }

    /// Every field the node reads.
    pub(crate) fn fields(&self, out: &mut Vec<&'static FieldDef>) {
        match self {
            Node::Const(_) => {}
            Node::And(parts) | Node::Or(parts) => parts.iter().for_each(|p| p.fields(out)),
            Node::Not(inner) => inner.fields(out),
            Node::Exists(fd) => out.push(fd),
            Node::Text { src, .. }
            | Node::Int { src, .. }
            | Node::IntIn { src, .. }
            | Node::Ip { src, .. }
            | Node::IpIn { src, .. }
            | Node::Cidr { src, .. }
            | Node::Bool { src, .. } => src.fields(out),
            Node::Pair { lhs, rhs, .. } => {
                lhs.fields(out);
                rhs.fields(out);
            }
        }
    }
}

/// A compiled condition: evaluate it on events with [`Condition::matches`].
#[derive(Debug)]
pub struct Condition {
    pub(crate) root: Node,
    fields: Box<[&'static str]>,
}

impl Condition {
    /// Does `event` satisfy the condition?
    pub fn matches(&self, event: &Event) -> bool {
        self.root.eval(event)
    }

    /// The fields the condition reads, sorted, each once.
    pub fn fields(&self) -> &[&'static str] {
        &self.fields
    }
}

// ---- checking and lowering ----

fn col(sp: Option<&Spans>) -> Option<usize> {
    sp.map(|s| s.column)
}

fn part(sp: Option<&Spans>, i: usize) -> Option<&Spans> {
    sp.and_then(|s| s.part(i))
}

fn field_def(name: &str, sp: Option<&Spans>) -> Result<&'static FieldDef, CheckError> {
    fields::lookup(name).ok_or_else(|| CheckError::UnknownField {
        name: name.to_owned(),
        suggestion: fields::suggest(name),
        column: col(sp),
    })
}

fn literal_val(l: &Literal) -> (Val<'static>, FieldType) {
    match l {
        Literal::Str(s) => (Val::Str(Cow::Owned(s.clone())), FieldType::Str),
        Literal::Int(i) => (Val::Int(*i), FieldType::Int),
        Literal::Ip(ip) => (Val::Ip(*ip), FieldType::Ip),
        Literal::Bool(b) => (Val::Bool(*b), FieldType::Bool),
    }
}

fn lower_operand(o: &Operand, sp: Option<&Spans>) -> Result<(Src, FieldType), CheckError> {
    match o {
        Operand::Field(name) => {
            let fd = field_def(name, sp)?;
            Ok((Src::Field(fd), fd.ty))
        }
        Operand::Literal(l) => {
            let (v, ty) = literal_val(l);
            Ok((Src::Lit(v), ty))
        }
        Operand::Call(Func::Intel, _) => Err(CheckError::IntelUnavailable { column: col(sp) }),
        Operand::Call(f, args) => {
            let [arg] = args.as_slice() else {
                return Err(CheckError::Arity {
                    func: func_name(*f),
                    got: args.len(),
                    column: col(sp),
                });
            };
            let (inner, ty) = lower_operand(arg, part(sp, 0))?;
            if ty != FieldType::Str {
                return Err(CheckError::NotText {
                    what: format!("{}()", func_name(*f)),
                    operand: operand_text(arg),
                    ty: ty.name(),
                    column: col(part(sp, 0)),
                });
            }
            Ok(match f {
                Func::Lower => (Src::Lower(Box::new(inner)), FieldType::Str),
                _ => (Src::Len(Box::new(inner)), FieldType::Int),
            })
        }
    }
}

/// A string literal where an address is expected becomes the address.
fn as_address(
    src: Src,
    ty: FieldType,
    other: FieldType,
    with: &Operand,
    sp: Option<&Spans>,
) -> Result<(Src, FieldType), CheckError> {
    match src {
        Src::Lit(Val::Str(s)) if ty == FieldType::Str && other == FieldType::Ip => {
            match s.trim().parse::<IpAddr>() {
                Ok(ip) => Ok((Src::Lit(Val::Ip(ip)), FieldType::Ip)),
                Err(_) => Err(CheckError::NotAnAddress {
                    text: s.into_owned(),
                    with: operand_text(with),
                    column: col(sp),
                }),
            }
        }
        other_src => Ok((other_src, ty)),
    }
}

fn flip(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        same => same,
    }
}

fn compare_with_constant(src: Src, op: CmpOp, value: Val<'static>) -> Node {
    match value {
        Val::Str(s) => Node::Text {
            src,
            test: TextTest::Equals(s.into_owned().into_boxed_str()),
            negate: op == CmpOp::Ne,
        },
        Val::Int(value) => Node::Int { src, op, value },
        Val::Ip(ip) => Node::Ip {
            src,
            op,
            value: ip.to_canonical(),
        },
        Val::Bool(value) => Node::Bool {
            src,
            value,
            negate: op == CmpOp::Ne,
        },
    }
}

/// The text-test operand: text, or a number or address through its text form.
fn text_operand(
    what: impl FnOnce() -> String,
    o: &Operand,
    sp: Option<&Spans>,
) -> Result<Src, CheckError> {
    let (src, ty) = lower_operand(o, sp)?;
    if ty == FieldType::Bool {
        return Err(CheckError::NotText {
            what: what(),
            operand: operand_text(o),
            ty: ty.name(),
            column: col(sp),
        });
    }
    Ok(src)
}

/// Check `e` and lower it to its evaluator.
pub(crate) fn lower(e: &Expr, sp: Option<&Spans>) -> Result<Node, CheckError> {
    match e {
        Expr::Const(b) => Ok(Node::Const(*b)),
        Expr::And(parts) | Expr::Or(parts) => {
            let nodes = parts
                .iter()
                .enumerate()
                .map(|(i, p)| lower(p, part(sp, i)))
                .collect::<Result<Vec<_>, _>>()?
                .into_boxed_slice();
            Ok(if matches!(e, Expr::And(_)) {
                Node::And(nodes)
            } else {
                Node::Or(nodes)
            })
        }
        Expr::Not(inner) => Ok(Node::Not(Box::new(lower(inner, part(sp, 0))?))),
        Expr::Exists(name) => Ok(Node::Exists(field_def(name, part(sp, 0))?)),
        Expr::Compare { lhs, op, rhs } => {
            let (lsp, rsp) = (part(sp, 0), part(sp, 1));
            let (ls, lt) = lower_operand(lhs, lsp)?;
            let (rs, rt) = lower_operand(rhs, rsp)?;
            let (ls, lt) = as_address(ls, lt, rt, rhs, lsp)?;
            let (rs, rt) = as_address(rs, rt, lt, lhs, rsp)?;
            if lt != rt {
                return Err(CheckError::TypeMismatch {
                    left: operand_text(lhs),
                    left_type: lt.name(),
                    right: operand_text(rhs),
                    right_type: rt.name(),
                    column: col(sp),
                });
            }
            if !matches!(op, CmpOp::Eq | CmpOp::Ne)
                && matches!(lt, FieldType::Str | FieldType::Bool)
            {
                return Err(CheckError::Ordering {
                    op: cmp_text(*op),
                    ty: lt.name(),
                    operand: operand_text(lhs),
                    column: col(sp),
                });
            }
            Ok(match (ls, rs) {
                (Src::Lit(l), Src::Lit(r)) => Node::Const(compare(&l, *op, &r)),
                (src, Src::Lit(v)) => compare_with_constant(src, *op, v),
                (Src::Lit(v), src) => compare_with_constant(src, flip(*op), v),
                (lhs, rhs) => Node::Pair { lhs, op: *op, rhs },
            })
        }
        Expr::Str {
            operand,
            op,
            pattern,
            nocase,
        } => {
            let src = text_operand(
                || format!("`{}`", str_op_text(*op, *nocase)),
                operand,
                part(sp, 0),
            )?;
            let test =
                TextTest::new(*op, pattern, *nocase).map_err(|reason| CheckError::Pattern {
                    pattern: super::print::quote(pattern),
                    reason,
                    column: col(part(sp, 1)),
                })?;
            Ok(Node::Text {
                src,
                test,
                negate: false,
            })
        }
        Expr::In {
            operand,
            values,
            nocase,
        } => lower_in(operand, values, *nocase, sp),
        Expr::Matches {
            operand,
            pattern,
            flags,
        } => {
            let src = text_operand(|| "`matches`".to_owned(), operand, part(sp, 0))?;
            if let Some(flag) = flags.chars().find(|c| !matches!(c, 'i' | 'm' | 's')) {
                return Err(CheckError::BadFlag {
                    flag,
                    column: col(part(sp, 1)),
                });
            }
            let test = TextTest::regex(pattern, flags).map_err(|reason| CheckError::BadRegex {
                regex: super::print::regex_text(pattern, flags),
                reason,
                column: col(part(sp, 1)),
            })?;
            Ok(Node::Text {
                src,
                test,
                negate: false,
            })
        }
        Expr::InCidr { operand, networks } => {
            let osp = part(sp, 0);
            let (src, ty) = lower_operand(operand, osp)?;
            if !matches!(ty, FieldType::Ip | FieldType::Str) {
                return Err(CheckError::NotAddress {
                    operand: operand_text(operand),
                    ty: ty.name(),
                    column: col(osp),
                });
            }
            let nets = networks
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    Net::parse(n).ok_or_else(|| CheckError::BadNetwork {
                        text: n.clone(),
                        column: col(part(sp, i + 1)),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Node::Cidr {
                src,
                nets: nets.into_boxed_slice(),
            })
        }
    }
}

fn lower_in(
    operand: &Operand,
    values: &[Literal],
    nocase: bool,
    sp: Option<&Spans>,
) -> Result<Node, CheckError> {
    let (src, ty) = lower_operand(operand, part(sp, 0))?;
    let mut strs = Vec::new();
    let mut ints = Vec::new();
    let mut ips = Vec::new();
    let mut bools = Vec::new();
    for (i, lit) in values.iter().enumerate() {
        let vsp = part(sp, i + 1);
        let mismatch = |vt: FieldType| CheckError::TypeMismatch {
            left: operand_text(operand),
            left_type: ty.name(),
            right: super::print::literal_text(lit),
            right_type: vt.name(),
            column: col(vsp),
        };
        match (ty, lit) {
            (FieldType::Str, Literal::Str(s)) => strs.push(s.clone()),
            (FieldType::Int, Literal::Int(n)) => ints.push(*n),
            (FieldType::Ip, Literal::Ip(ip)) => ips.push(ip.to_canonical()),
            (FieldType::Ip, Literal::Str(s)) => match s.trim().parse::<IpAddr>() {
                Ok(ip) => ips.push(ip.to_canonical()),
                Err(_) => {
                    return Err(CheckError::NotAnAddress {
                        text: s.clone(),
                        with: operand_text(operand),
                        column: col(vsp),
                    })
                }
            },
            (FieldType::Bool, Literal::Bool(b)) => bools.push(*b),
            (_, other) => return Err(mismatch(literal_val(other).1)),
        }
    }
    if values.is_empty() {
        return Ok(Node::Const(false));
    }
    Ok(match ty {
        FieldType::Str => Node::Text {
            src,
            test: TextTest::one_of(strs, nocase).map_err(|reason| CheckError::Pattern {
                pattern: "the `in` list".to_owned(),
                reason,
                column: col(sp),
            })?,
            negate: false,
        },
        FieldType::Int => {
            ints.sort_unstable();
            ints.dedup();
            Node::IntIn {
                src,
                values: ints.into_boxed_slice(),
            }
        }
        FieldType::Ip => {
            ips.sort_unstable();
            ips.dedup();
            Node::IpIn {
                src,
                values: ips.into_boxed_slice(),
            }
        }
        FieldType::Bool => {
            let has = |b: bool| bools.contains(&b);
            match (has(true), has(false)) {
                (true, true) => Node::Exists(match src {
                    Src::Field(fd) => fd,
                    // A constant or call: any boolean value passes.
                    _ => return Ok(Node::Const(true)),
                }),
                (value, _) => Node::Bool {
                    src,
                    value,
                    negate: false,
                },
            }
        }
    })
}

/// Compile a checked tree into a [`Condition`].
pub(crate) fn compile_spanned(e: &Expr, sp: Option<&Spans>) -> Result<Condition, CheckError> {
    let root = lower(e, sp)?;
    let mut fds = Vec::new();
    root.fields(&mut fds);
    let mut names: Vec<&'static str> = fds.iter().map(|f| f.name).collect();
    names.sort_unstable();
    names.dedup();
    Ok(Condition {
        root,
        fields: names.into_boxed_slice(),
    })
}
