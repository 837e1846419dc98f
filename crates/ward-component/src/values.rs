//! Dynamic component values.

use crate::resources::ResourceAny;
use crate::types::Type;
use std::fmt;

/// A component-level value, dynamically typed.
///
/// ```
/// use ward_component::Val;
/// let v = Val::Record(vec![("x".into(), Val::U32(1)), ("name".into(), Val::String("a".into()))]);
/// assert_eq!(v.to_string(), "{x: 1, name: \"a\"}");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    /// `bool`
    Bool(bool),
    /// `s8`
    S8(i8),
    /// `u8`
    U8(u8),
    /// `s16`
    S16(i16),
    /// `u16`
    U16(u16),
    /// `s32`
    S32(i32),
    /// `u32`
    U32(u32),
    /// `s64`
    S64(i64),
    /// `u64`
    U64(u64),
    /// `f32`
    Float32(f32),
    /// `f64`
    Float64(f64),
    /// `char`
    Char(char),
    /// `string`
    String(String),
    /// `list<T>` (also fixed-length lists)
    List(Vec<Val>),
    /// `list<u8>`, as a component lifts it: one byte per element (the host may also pass
    /// `list<u8>` as a [`Val::List`] of [`Val::U8`]).
    Bytes(Vec<u8>),
    /// `map<K, V>`: entries in order (as the guest's list holds them)
    Map(Vec<(Val, Val)>),
    /// `record`: fields in type order
    Record(Vec<(String, Val)>),
    /// `tuple`
    Tuple(Vec<Val>),
    /// `variant`: case name and payload
    Variant(String, Option<Box<Val>>),
    /// `enum`: case name
    Enum(String),
    /// `option<T>`
    Option(Option<Box<Val>>),
    /// `result<T, E>`
    Result(Result<Option<Box<Val>>, Option<Box<Val>>>),
    /// `flags`: the names of the flags that are set
    Flags(Vec<String>),
    /// `own<R>` or `borrow<R>`
    Resource(ResourceAny),
    /// The readable end of a `stream<T>` or `future<T>` in transit between component
    /// instances.
    Stream(crate::concurrent::AsyncEnd),
}

impl Val {
    /// A short name of the value's kind, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Val::Bool(_) => "bool",
            Val::S8(_) => "s8",
            Val::U8(_) => "u8",
            Val::S16(_) => "s16",
            Val::U16(_) => "u16",
            Val::S32(_) => "s32",
            Val::U32(_) => "u32",
            Val::S64(_) => "s64",
            Val::U64(_) => "u64",
            Val::Float32(_) => "f32",
            Val::Float64(_) => "f64",
            Val::Char(_) => "char",
            Val::String(_) => "string",
            Val::List(_) | Val::Bytes(_) => "list",
            Val::Map(_) => "map",
            Val::Record(_) => "record",
            Val::Tuple(_) => "tuple",
            Val::Variant(..) => "variant",
            Val::Enum(_) => "enum",
            Val::Option(_) => "option",
            Val::Result(_) => "result",
            Val::Flags(_) => "flags",
            Val::Resource(_) => "resource",
            Val::Stream(e) if e.is_future() => "future",
            Val::Stream(_) => "stream",
        }
    }

    /// A default value of `ty`, used to fill result buffers (resources have none).
    pub(crate) fn placeholder(ty: &Type) -> Val {
        match ty {
            Type::Bool => Val::Bool(false),
            _ => Val::U8(0),
        }
    }
}

fn list(f: &mut fmt::Formatter<'_>, open: &str, items: &[Val], close: &str) -> fmt::Result {
    write!(f, "{open}")?;
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            write!(f, ", ")?;
        }
        write!(f, "{v}")?;
    }
    write!(f, "{close}")
}

/// `{a: x, b: y}`: a record's fields or a map's entries.
fn pairs<'a>(
    f: &mut fmt::Formatter<'_>,
    items: impl Iterator<Item = (&'a dyn fmt::Display, &'a str, &'a Val)>,
) -> fmt::Result {
    write!(f, "{{")?;
    for (i, (k, sep, v)) in items.enumerate() {
        if i > 0 {
            write!(f, ", ")?;
        }
        write!(f, "{k}{sep}{v}")?;
    }
    write!(f, "}}")
}

fn payload(f: &mut fmt::Formatter<'_>, name: &str, p: &Option<Box<Val>>) -> fmt::Result {
    match p {
        Some(v) => write!(f, "{name}({v})"),
        None => write!(f, "{name}"),
    }
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::Bool(v) => write!(f, "{v}"),
            Val::S8(v) => write!(f, "{v}"),
            Val::U8(v) => write!(f, "{v}"),
            Val::S16(v) => write!(f, "{v}"),
            Val::U16(v) => write!(f, "{v}"),
            Val::S32(v) => write!(f, "{v}"),
            Val::U32(v) => write!(f, "{v}"),
            Val::S64(v) => write!(f, "{v}"),
            Val::U64(v) => write!(f, "{v}"),
            Val::Float32(v) => write!(f, "{v}"),
            Val::Float64(v) => write!(f, "{v}"),
            Val::Char(c) => write!(f, "{c:?}"),
            Val::String(s) => write!(f, "{s:?}"),
            Val::List(items) => list(f, "[", items, "]"),
            Val::Bytes(bytes) => {
                let items: Vec<Val> = bytes.iter().map(|b| Val::U8(*b)).collect();
                list(f, "[", &items, "]")
            }
            Val::Tuple(items) => list(f, "(", items, ")"),
            Val::Map(entries) => {
                pairs(f, entries.iter().map(|(k, v)| (k as &dyn fmt::Display, " => ", v)))
            }
            Val::Record(fields) => {
                pairs(f, fields.iter().map(|(n, v)| (n as &dyn fmt::Display, ": ", v)))
            }
            Val::Variant(name, p) => payload(f, name, p),
            Val::Enum(name) => write!(f, "{name}"),
            Val::Option(None) => write!(f, "none"),
            Val::Option(Some(v)) => write!(f, "some({v})"),
            Val::Result(Ok(p)) => payload(f, "ok", p),
            Val::Result(Err(p)) => payload(f, "err", p),
            Val::Flags(names) => write!(f, "{{{}}}", names.join(", ")),
            Val::Resource(r) => {
                write!(f, "{}({:?}, rep {})", if r.own { "own" } else { "borrow" }, r.ty, r.rep)
            }
            Val::Stream(_) => write!(f, "{}", self.kind()),
        }
    }
}
