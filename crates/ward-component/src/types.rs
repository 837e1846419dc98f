//! Component value types as the runtime sees them: a closed tree with resource types resolved
//! to their run-time identity, plus the canonical ABI's layout rules (size, alignment,
//! flattening) computed from it.

use crate::error::Error;
use crate::resources::ResourceType;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use wasmparser::component_types::{
    ComponentDefinedType, ComponentFuncTypeId, ComponentValType as WpValType, ResourceId,
};
use wasmparser::types::Types;
use wasmparser::PrimitiveValType;

/// A component value type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Type {
    /// `bool`
    Bool,
    /// `s8`
    S8,
    /// `u8`
    U8,
    /// `s16`
    S16,
    /// `u16`
    U16,
    /// `s32`
    S32,
    /// `u32`
    U32,
    /// `s64`
    S64,
    /// `u64`
    U64,
    /// `f32`
    F32,
    /// `f64`
    F64,
    /// `char`
    Char,
    /// `string`
    String,
    /// `list<T>`
    List(Arc<Type>),
    /// `list<T, N>` (fixed length)
    FixedList(Arc<Type>, u32),
    /// `map<K, V>`: laid out as `list<tuple<K, V>>`
    Map(Arc<Type>, Arc<Type>),
    /// `record { ... }`
    Record(Arc<[(String, Type)]>),
    /// `tuple<...>`
    Tuple(Arc<[Type]>),
    /// `variant { ... }`
    Variant(Arc<[(String, Option<Type>)]>),
    /// `enum { ... }`
    Enum(Arc<[String]>),
    /// `option<T>`
    Option(Arc<Type>),
    /// `result<T, E>`
    Result(Option<Arc<Type>>, Option<Arc<Type>>),
    /// `flags { ... }`
    Flags(Arc<[String]>),
    /// `own<R>`
    Own(ResourceType),
    /// `borrow<R>`
    Borrow(ResourceType),
    /// `stream<T>` (the readable end of a stream; `None`: no element type)
    Stream(Option<Arc<Type>>),
    /// `future<T>` (the readable end of a future)
    Future(Option<Arc<Type>>),
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Bool => write!(f, "bool"),
            Type::S8 => write!(f, "s8"),
            Type::U8 => write!(f, "u8"),
            Type::S16 => write!(f, "s16"),
            Type::U16 => write!(f, "u16"),
            Type::S32 => write!(f, "s32"),
            Type::U32 => write!(f, "u32"),
            Type::S64 => write!(f, "s64"),
            Type::U64 => write!(f, "u64"),
            Type::F32 => write!(f, "f32"),
            Type::F64 => write!(f, "f64"),
            Type::Char => write!(f, "char"),
            Type::String => write!(f, "string"),
            Type::List(t) => write!(f, "list<{t}>"),
            Type::Map(k, v) => write!(f, "map<{k}, {v}>"),
            Type::FixedList(t, n) => write!(f, "list<{t}, {n}>"),
            Type::Record(_) => write!(f, "record"),
            Type::Tuple(_) => write!(f, "tuple"),
            Type::Variant(_) => write!(f, "variant"),
            Type::Enum(_) => write!(f, "enum"),
            Type::Option(t) => write!(f, "option<{t}>"),
            Type::Result(..) => write!(f, "result"),
            Type::Flags(_) => write!(f, "flags"),
            Type::Own(_) => write!(f, "own"),
            Type::Borrow(_) => write!(f, "borrow"),
            Type::Stream(_) => write!(f, "stream"),
            Type::Future(_) => write!(f, "future"),
        }
    }
}

/// A component function type: named parameters and an optional result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncType {
    pub(crate) params: Arc<[(String, Type)]>,
    pub(crate) result: Option<Type>,
    /// Declared `async` (the callee may block before returning).
    pub(crate) is_async: bool,
}

impl FuncType {
    /// A function type from parameter names and types and an optional result type.
    ///
    /// ```
    /// use ward_component::{FuncType, Type};
    /// let ty = FuncType::new([("x", Type::U32)], Some(Type::String));
    /// assert_eq!(ty.params().len(), 1);
    /// ```
    pub fn new<'a>(
        params: impl IntoIterator<Item = (&'a str, Type)>,
        result: Option<Type>,
    ) -> FuncType {
        FuncType {
            params: params.into_iter().map(|(n, t)| (n.to_string(), t)).collect(),
            result,
            is_async: false,
        }
    }

    /// The parameters, in order.
    pub fn params(&self) -> &[(String, Type)] {
        &self.params
    }

    /// The result type, if any.
    pub fn result(&self) -> Option<&Type> {
        self.result.as_ref()
    }

    pub(crate) fn param_types(&self) -> Vec<Type> {
        self.params.iter().map(|(_, t)| t.clone()).collect()
    }

    pub(crate) fn result_types(&self) -> Vec<Type> {
        self.result.iter().cloned().collect()
    }
}

/// Maps the validator's static resource ids to the resource types of one component instance.
pub(crate) type ResourceMap = HashMap<ResourceId, ResourceType>;

/// Converts a validated function type, resolving resources through `map`.
pub(crate) fn convert_func(
    types: &Types,
    id: ComponentFuncTypeId,
    map: &ResourceMap,
) -> Result<FuncType, Error> {
    let ft = &types[id];
    let params = ft
        .params
        .iter()
        .map(|(n, t)| Ok((n.to_string(), convert(types, *t, map)?)))
        .collect::<Result<Arc<[_]>, Error>>()?;
    let result = ft.result.map(|t| convert(types, t, map)).transpose()?;
    Ok(FuncType { params, result, is_async: ft.async_ })
}

/// Converts a validated value type, resolving resources through `map`.
pub(crate) fn convert(types: &Types, ty: WpValType, map: &ResourceMap) -> Result<Type, Error> {
    let id = match ty {
        WpValType::Primitive(p) => return primitive(p),
        WpValType::Type(id) => id,
    };
    let conv = |t: WpValType| convert(types, t, map);
    let resource = |aid: wasmparser::component_types::AliasableResourceId| {
        map.get(&aid.resource()).cloned().ok_or_else(|| {
            Error::Unsupported("a resource type that is not bound in this instance".into())
        })
    };
    Ok(match &types[id] {
        ComponentDefinedType::Primitive(p) => primitive(*p)?,
        ComponentDefinedType::Record(r) => Type::Record(
            r.fields
                .iter()
                .map(|(n, t)| Ok((n.to_string(), conv(*t)?)))
                .collect::<Result<_, Error>>()?,
        ),
        ComponentDefinedType::Variant(v) => Type::Variant(
            v.cases
                .iter()
                .map(|(n, c)| Ok((n.to_string(), c.ty.map(conv).transpose()?)))
                .collect::<Result<_, Error>>()?,
        ),
        ComponentDefinedType::List { element, .. } => Type::List(Arc::new(conv(*element)?)),
        ComponentDefinedType::FixedLengthList { element, length, .. } => {
            Type::FixedList(Arc::new(conv(*element)?), *length)
        }
        ComponentDefinedType::Tuple(t) => {
            Type::Tuple(t.types.iter().map(|t| conv(*t)).collect::<Result<_, Error>>()?)
        }
        ComponentDefinedType::Flags(f) => Type::Flags(f.iter().map(|s| s.to_string()).collect()),
        ComponentDefinedType::Enum(e) => Type::Enum(e.iter().map(|s| s.to_string()).collect()),
        ComponentDefinedType::Option { ty, .. } => Type::Option(Arc::new(conv(*ty)?)),
        ComponentDefinedType::Result { ok, err, .. } => Type::Result(
            ok.map(conv).transpose()?.map(Arc::new),
            err.map(conv).transpose()?.map(Arc::new),
        ),
        ComponentDefinedType::Own(r) => Type::Own(resource(*r)?),
        ComponentDefinedType::Borrow(r) => Type::Borrow(resource(*r)?),
        ComponentDefinedType::Map { key, value, .. } => {
            Type::Map(Arc::new(conv(*key)?), Arc::new(conv(*value)?))
        }
        ComponentDefinedType::Future { ty, .. } => {
            Type::Future(ty.map(conv).transpose()?.map(Arc::new))
        }
        ComponentDefinedType::Stream { ty, .. } => {
            Type::Stream(ty.map(conv).transpose()?.map(Arc::new))
        }
    })
}

fn primitive(p: PrimitiveValType) -> Result<Type, Error> {
    Ok(match p {
        PrimitiveValType::Bool => Type::Bool,
        PrimitiveValType::S8 => Type::S8,
        PrimitiveValType::U8 => Type::U8,
        PrimitiveValType::S16 => Type::S16,
        PrimitiveValType::U16 => Type::U16,
        PrimitiveValType::S32 => Type::S32,
        PrimitiveValType::U32 => Type::U32,
        PrimitiveValType::S64 => Type::S64,
        PrimitiveValType::U64 => Type::U64,
        PrimitiveValType::F32 => Type::F32,
        PrimitiveValType::F64 => Type::F64,
        PrimitiveValType::Char => Type::Char,
        PrimitiveValType::String => Type::String,
        PrimitiveValType::ErrorContext => {
            return Err(Error::Unsupported("error-context (async ABI)".into()))
        }
    })
}

/// A core value type of the flattened ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flat {
    I32,
    I64,
    F32,
    F64,
}

fn join(a: Flat, b: Flat) -> Flat {
    match (a, b) {
        _ if a == b => a,
        (Flat::I32, Flat::F32) | (Flat::F32, Flat::I32) => Flat::I32,
        _ => Flat::I64,
    }
}

/// Number of cases to the discriminant's byte size.
pub(crate) fn discriminant_size(cases: usize) -> u32 {
    if cases <= 1 << 8 {
        1
    } else if cases <= 1 << 16 {
        2
    } else {
        4
    }
}

fn flags_size(n: usize) -> u32 {
    match n {
        0 => 0,
        1..=8 => 1,
        9..=16 => 2,
        _ => 4 * n.div_ceil(32) as u32,
    }
}

pub(crate) fn align_to(x: u64, align: u32) -> u64 {
    x.div_ceil(align as u64) * align as u64
}

/// The cases of a variant-like type (`variant`, `enum`, `option`, `result`): how many, and
/// each one's payload type, read from the type without building a list.
#[derive(Clone, Copy, Default)]
pub(crate) enum Cases<'a> {
    Variant(&'a [(String, Option<Type>)]),
    /// No case (what a type that is not variant-like has).
    #[default]
    None,
    /// An enum of this many cases, none with a payload.
    Enum(usize),
    Option(&'a Type),
    Result(Option<&'a Type>, Option<&'a Type>),
}

impl<'a> Cases<'a> {
    pub(crate) fn len(self) -> usize {
        match self {
            Cases::Variant(cs) => cs.len(),
            Cases::None => 0,
            Cases::Enum(n) => n,
            Cases::Option(_) | Cases::Result(..) => 2,
        }
    }

    /// Case `i`'s payload type (`None`: no payload, or no such case).
    pub(crate) fn payload(self, i: usize) -> Option<&'a Type> {
        match self {
            Cases::Variant(cs) => cs.get(i).and_then(|(_, t)| t.as_ref()),
            Cases::None | Cases::Enum(_) => None,
            Cases::Option(t) => (i == 1).then_some(t),
            Cases::Result(ok, err) => match i {
                0 => ok,
                1 => err,
                _ => None,
            },
        }
    }

    /// The payload types of the cases that have one, in case order.
    pub(crate) fn payloads(self) -> impl Iterator<Item = &'a Type> {
        (0..self.len()).filter_map(move |i| self.payload(i))
    }

    /// The largest alignment of a payload (1 without payloads).
    pub(crate) fn payload_align(self) -> u32 {
        self.payloads().map(Type::align).max().unwrap_or(1)
    }
}

/// The cases of a variant-like type; `None` for other types.
pub(crate) fn cases_of(ty: &Type) -> Option<Cases<'_>> {
    Some(match ty {
        Type::Variant(cases) => Cases::Variant(cases),
        Type::Enum(names) => Cases::Enum(names.len()),
        Type::Option(t) => Cases::Option(t),
        Type::Result(ok, err) => Cases::Result(ok.as_deref(), err.as_deref()),
        _ => return None,
    })
}

/// Size and alignment of the tuple of `types` (how spilled parameters and results are laid
/// out), without building the tuple type.
pub(crate) fn tuple_layout(types: &[Type]) -> (u64, u32) {
    let align = types.iter().map(Type::align).max().unwrap_or(1);
    (record_size(types.iter(), align), align)
}

impl Type {
    /// Alignment in linear memory (32-bit memories).
    pub(crate) fn align(&self) -> u32 {
        match self {
            Type::Bool | Type::S8 | Type::U8 => 1,
            Type::S16 | Type::U16 => 2,
            Type::S32 | Type::U32 | Type::F32 | Type::Char => 4,
            Type::S64 | Type::U64 | Type::F64 => 8,
            Type::String | Type::List(_) | Type::Map(..) | Type::Own(_) | Type::Borrow(_) => 4,
            Type::Stream(_) | Type::Future(_) => 4,
            Type::FixedList(t, _) => t.align(),
            Type::Record(fields) => fields.iter().map(|(_, t)| t.align()).max().unwrap_or(1),
            Type::Tuple(ts) => ts.iter().map(Type::align).max().unwrap_or(1),
            Type::Flags(names) => match flags_size(names.len()) {
                0 | 1 => 1,
                2 => 2,
                _ => 4,
            },
            _ => {
                let cases = cases_of(self).unwrap_or_default();
                discriminant_size(cases.len()).max(cases.payload_align())
            }
        }
    }

    /// Byte size in linear memory (32-bit memories). Saturates on absurd sizes; callers
    /// bound-check against the memory, which no saturated size fits in.
    pub(crate) fn size(&self) -> u64 {
        match self {
            Type::Bool | Type::S8 | Type::U8 => 1,
            Type::S16 | Type::U16 => 2,
            Type::S32 | Type::U32 | Type::F32 | Type::Char => 4,
            Type::S64 | Type::U64 | Type::F64 => 8,
            Type::String | Type::List(_) | Type::Map(..) => 8,
            Type::Own(_) | Type::Borrow(_) | Type::Stream(_) | Type::Future(_) => 4,
            Type::FixedList(t, n) => t.size().saturating_mul(*n as u64),
            Type::Record(fields) => record_size(fields.iter().map(|(_, t)| t), self.align()),
            Type::Tuple(ts) => tuple_layout(ts).0,
            Type::Flags(names) => flags_size(names.len()) as u64,
            _ => {
                let cases = cases_of(self).unwrap_or_default();
                let mut s = discriminant_size(cases.len()) as u64;
                s = align_to(s, cases.payload_align());
                let payload = cases.payloads().map(Type::size).max().unwrap_or(0);
                align_to(s.saturating_add(payload), self.align())
            }
        }
    }

    /// Appends the flattened core types; returns false (leaving `out` partial) once more than
    /// `cap` are needed.
    pub(crate) fn flatten(&self, out: &mut Vec<Flat>, cap: usize) -> bool {
        if out.len() > cap {
            return false;
        }
        match self {
            Type::S64 | Type::U64 => out.push(Flat::I64),
            Type::F32 => out.push(Flat::F32),
            Type::F64 => out.push(Flat::F64),
            Type::String | Type::List(_) | Type::Map(..) => out.extend([Flat::I32, Flat::I32]),
            Type::FixedList(t, n) => {
                for _ in 0..*n {
                    if !t.flatten(out, cap) {
                        return false;
                    }
                }
            }
            Type::Record(fields) => {
                for (_, t) in fields.iter() {
                    if !t.flatten(out, cap) {
                        return false;
                    }
                }
            }
            Type::Tuple(ts) => {
                for t in ts.iter() {
                    if !t.flatten(out, cap) {
                        return false;
                    }
                }
            }
            Type::Flags(names) => {
                for _ in 0..names.len().div_ceil(32) {
                    out.push(Flat::I32)
                }
            }
            Type::Variant(_) | Type::Enum(_) | Type::Option(_) | Type::Result(..) => {
                let Some(joined) = self.variant_payload_flat(cap) else { return false };
                out.push(Flat::I32);
                out.extend(joined);
            }
            _ => out.push(Flat::I32),
        }
        out.len() <= cap
    }

    /// The layout of a map's entries: `tuple<K, V>`'s (size, alignment, offset of the value).
    pub(crate) fn map_entry(k: &Type, v: &Type) -> (u64, u32, u64) {
        let align = k.align().max(v.align());
        let value_at = align_to(k.size(), v.align());
        (align_to(value_at.saturating_add(v.size()), align), align, value_at)
    }

    /// Whether values of this type are plain bytes in memory: no strings, lists, maps or
    /// handles, so storing one allocates nothing and calls no guest code.
    pub(crate) fn is_plain(&self) -> bool {
        match self {
            Type::String | Type::List(_) | Type::Map(..) | Type::Own(_) | Type::Borrow(_) => false,
            Type::Stream(_) | Type::Future(_) => false,
            Type::FixedList(t, _) | Type::Option(t) => t.is_plain(),
            Type::Record(fields) => fields.iter().all(|(_, t)| t.is_plain()),
            Type::Tuple(ts) => ts.iter().all(Type::is_plain),
            Type::Variant(cases) => cases.iter().flat_map(|(_, t)| t).all(Type::is_plain),
            Type::Result(ok, err) => ok.iter().chain(err).all(|t| t.is_plain()),
            _ => true,
        }
    }

    /// Whether a value of this type can hold a `borrow` handle.
    pub(crate) fn has_borrow(&self) -> bool {
        match self {
            Type::Borrow(_) => true,
            Type::List(t) | Type::FixedList(t, _) | Type::Option(t) => t.has_borrow(),
            Type::Map(k, v) => k.has_borrow() || v.has_borrow(),
            Type::Record(fields) => fields.iter().any(|(_, t)| t.has_borrow()),
            Type::Tuple(ts) => ts.iter().any(Type::has_borrow),
            Type::Variant(cases) => cases.iter().flat_map(|(_, t)| t).any(Type::has_borrow),
            Type::Result(ok, err) => ok.iter().chain(err).any(|t| t.has_borrow()),
            _ => false,
        }
    }

    /// The joined flat payload types of a variant-like type (without the discriminant).
    pub(crate) fn variant_payload_flat(&self, cap: usize) -> Option<Vec<Flat>> {
        let mut joined: Vec<Flat> = Vec::new();
        for t in cases_of(self)?.payloads() {
            let mut flat = Vec::new();
            if !t.flatten(&mut flat, cap) {
                return None;
            }
            for (i, f) in flat.into_iter().enumerate() {
                match joined.get_mut(i) {
                    Some(j) => *j = join(*j, f),
                    None => joined.push(f),
                }
            }
        }
        Some(joined)
    }
}

fn record_size<'a>(fields: impl Iterator<Item = &'a Type>, align: u32) -> u64 {
    let mut s = 0u64;
    for t in fields {
        s = align_to(s, t.align()).saturating_add(t.size());
    }
    align_to(s, align)
}

/// Flattens a sequence of types; `None` if more than `cap` core values are needed.
pub(crate) fn flatten_all(ts: &[Type], cap: usize) -> Option<Vec<Flat>> {
    let mut out = Vec::new();
    for t in ts {
        if !t.flatten(&mut out, cap) {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_follows_the_canonical_abi() {
        let rec = Type::Record(Arc::from(vec![
            ("a".to_string(), Type::U8),
            ("b".to_string(), Type::U32),
            ("c".to_string(), Type::U16),
        ]));
        assert_eq!((rec.size(), rec.align()), (12, 4));
        let opt = Type::Option(Arc::new(Type::F64));
        assert_eq!((opt.size(), opt.align()), (16, 8));
        let res = Type::Result(Some(Arc::new(Type::F32)), Some(Arc::new(Type::U64)));
        let mut flat = Vec::new();
        assert!(res.flatten(&mut flat, 16));
        assert_eq!(flat, [Flat::I32, Flat::I64]);
        let v = Type::Variant(Arc::from(vec![
            ("x".to_string(), Some(Type::F32)),
            ("y".to_string(), Some(Type::U32)),
        ]));
        let mut flat = Vec::new();
        assert!(v.flatten(&mut flat, 16));
        assert_eq!(flat, [Flat::I32, Flat::I32]);
        let flags = Type::Flags((0..40).map(|i| format!("f{i}")).collect());
        assert_eq!((flags.size(), flags.align()), (8, 4));
        assert_eq!(discriminant_size(256), 1);
        assert_eq!(discriminant_size(257), 2);
        let map = Type::Map(Arc::new(Type::String), Arc::new(Type::U64));
        assert_eq!((map.size(), map.align(), map.to_string()), (8, 4, "map<string, u64>".into()));
        let mut flat = Vec::new();
        assert!(map.flatten(&mut flat, 16));
        assert_eq!(flat, [Flat::I32, Flat::I32]);
        let big = Type::FixedList(Arc::new(Type::U8), 100);
        assert!(flatten_all(&[big], 16).is_none());
    }
}
