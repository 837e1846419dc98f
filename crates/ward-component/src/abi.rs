//! The synchronous canonical ABI: lifting core values and linear memory into [`Val`]s and
//! lowering [`Val`]s back, following `CanonicalABI.md` (`lift_flat`, `load`, `lower_flat`,
//! `store`, the string transcoding algorithms, and `{lift,lower}_flat_values`).
//!
//! Everything the guest controls is checked before use: pointers against alignment and the
//! memory's current size, lengths against `MAX_{STRING,LIST}_BYTE_LENGTH` and the memory (so
//! that no host allocation is sized by an unchecked guest number), discriminants, `char`
//! values, string encodings, and handles.
//!
//! Seams for the async ABI: the lifter and lowerer are parameterised by the flattening limits
//! and by the task (`Lowerer::task`) that borrow handles are scoped to, so an async lift can
//! reuse them with `MAX_FLAT_ASYNC_PARAMS` and its own task.

use crate::resources::{Handle, InstanceState};
use crate::types::{align_to, cases_of, discriminant_size, tuple_layout, Flat, Type};
use crate::values::Val;
use crate::ResourceAny;
use std::sync::Arc;
use ward::{AsContextMut, StoreContextMut};

pub(crate) const MAX_FLAT_PARAMS: usize = 16;
pub(crate) const MAX_FLAT_RESULTS: usize = 1;
pub(crate) const MAX_STRING_BYTE_LENGTH: u64 = (1 << 28) - 1;
pub(crate) const MAX_LIST_BYTE_LENGTH: u64 = (1 << 28) - 1;
const UTF16_TAG: u32 = 1 << 31;

/// A trap with a message of the canonical ABI.
pub(crate) fn trap(message: impl Into<String>) -> ward::Error {
    ward::Error::Trap(ward::Trap::host(message))
}

fn mismatch(ty: &Type, v: &Val) -> ward::Error {
    ward::Error::Usage(format!("type mismatch: expected a value of type {ty}, got {}", v.kind()))
}

/// The string encoding of a `canon` definition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum Encoding {
    #[default]
    Utf8,
    Utf16,
    Latin1Utf16,
}

/// The resolved `canonopt`s of a `canon lift` or `canon lower`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Options {
    pub(crate) memory: Option<ward::Memory>,
    pub(crate) realloc: Option<Realloc>,
    pub(crate) post_return: Option<ward::Func>,
    pub(crate) encoding: Encoding,
    /// `async` (see [`crate::concurrent`]).
    pub(crate) is_async: bool,
    /// The `callback` of an async lift.
    pub(crate) callback: Option<ward::Func>,
}

/// A `realloc` function, `(old_ptr, old_size, align, new_size) -> ptr` (the validator checks
/// the signature).
pub(crate) type Realloc = ward::TypedFunc<(i32, i32, i32, i32), i32>;

/// Core values as raw bits: i32/f32 zero-extended, i64/f64 as is.
pub(crate) fn core_bits(v: &ward::Val) -> u64 {
    match v {
        ward::Val::I32(x) => *x as u32 as u64,
        ward::Val::I64(x) => *x as u64,
        ward::Val::F32(x) => *x as u64,
        ward::Val::F64(x) => *x,
        _ => 0,
    }
}

pub(crate) fn core_val(ty: Flat, bits: u64) -> ward::Val {
    match ty {
        Flat::I32 => ward::Val::I32(bits as u32 as i32),
        Flat::I64 => ward::Val::I64(bits as i64),
        Flat::F32 => ward::Val::F32(bits as u32),
        Flat::F64 => ward::Val::F64(bits),
    }
}

pub(crate) fn core_type(ty: Flat) -> ward::ValType {
    match ty {
        Flat::I32 => ward::ValType::I32,
        Flat::I64 => ward::ValType::I64,
        Flat::F32 => ward::ValType::F32,
        Flat::F64 => ward::ValType::F64,
    }
}

struct FlatIter<'a> {
    values: &'a [u64],
    next: usize,
}

impl FlatIter<'_> {
    fn next(&mut self) -> ward::Result<u64> {
        let v = self.values.get(self.next).copied();
        self.next += 1;
        v.ok_or_else(|| trap("too few core values for the component type"))
    }
}

/// Where lifted values go, which only changes the wording of bounds traps.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// Results of an export lifted for the host (or arguments from the host).
    Host,
    /// Arguments or results crossing between components.
    Guest,
}

/// Lifts values out of one component instance (`cx` of the spec with `lift` direction): what
/// [`Lift`](crate::Lift) implementations read guest memory through.
pub struct Lifter<'a> {
    pub(crate) opts: &'a Options,
    pub(crate) inst: &'a Arc<InstanceState>,
    pub(crate) mem: &'a [u8],
    pub(crate) side: Side,
    /// Handles lent by `lift_borrow`; the caller releases them when the call ends.
    pub(crate) lenders: Vec<u32>,
    /// Host bytes the values lifted so far take (see [`MAX_LIFTED_BYTES`]).
    pub(crate) lifted: u64,
}

/// The most host memory the values lifted in one call may take: string and byte-list
/// contents, about `size_of::<Val>()` per other value, and the names copied into records,
/// variants, enums and flags. Guest memory can describe far more than it holds (a list of a
/// million copies of one long string, lists nested in lists), so the host's copy is bounded
/// on its own: beyond this the lift traps.
pub(crate) const MAX_LIFTED_BYTES: u64 = 1 << 28;

const VAL_SIZE: u64 = std::mem::size_of::<Val>() as u64;

/// The host bytes of `v` beyond its own `Val` and beyond string and byte contents (charged
/// before they are copied): names and record slots.
fn names_size(v: &Val) -> u64 {
    match v {
        Val::Enum(n) | Val::Variant(n, _) => n.len() as u64,
        Val::Flags(names) => names.iter().map(|n| n.len() as u64 + 24).sum(),
        Val::Record(fields) => fields.iter().map(|(n, _)| n.len() as u64 + 24).sum(),
        _ => 0,
    }
}

impl<'a> Lifter<'a> {
    /// Lifts the arguments a guest passed to a lowered function (`flat`, or the memory they
    /// point at when `spilled`) as values of `tys`. Returns the values, how many flat values
    /// they took, and the handles they lent, which the caller releases (`unlend`) when the call
    /// ends; on an error they are released here.
    pub(crate) fn lift_guest_args(
        opts: &'a Options,
        inst: &'a Arc<InstanceState>,
        mem: &'a [u8],
        spilled: bool,
        flat: &[u64],
        tys: &[Type],
    ) -> ward::Result<(Vec<Val>, usize, Vec<u32>)> {
        let mut lifter =
            Lifter { opts, inst, mem, side: Side::Guest, lenders: Vec::new(), lifted: 0 };
        match lifter.lift_values(spilled, flat, tys) {
            Ok((vals, used)) => Ok((vals, used, lifter.lenders)),
            Err(e) => {
                lifter.lenders.iter().for_each(|i| inst.unlend(*i));
                Err(e)
            }
        }
    }

    /// `lift_flat_values`: `flat` are the core values; returns the values and how many core
    /// values were consumed.
    pub(crate) fn lift_values(
        &mut self,
        spilled: bool,
        flat: &[u64],
        tys: &[Type],
    ) -> ward::Result<(Vec<Val>, usize)> {
        if spilled {
            let ptr = *flat.first().ok_or_else(|| trap("missing pointer argument"))? as u32;
            let tuple = Type::Tuple(tys.iter().cloned().collect());
            self.check_range(ptr as u64, tuple.size(), tuple.align(), "tuple")?;
            let mut out = Vec::with_capacity(tys.len());
            let mut p = ptr as u64;
            for t in tys {
                p = align_to(p, t.align());
                out.push(self.load(p, t)?);
                p += t.size();
            }
            return Ok((out, 1));
        }
        let mut it = FlatIter { values: flat, next: 0 };
        let mut out = Vec::with_capacity(tys.len());
        for t in tys {
            out.push(self.lift_flat(&mut it, t)?);
        }
        Ok((out, it.next))
    }

    pub(crate) fn check_range(
        &self,
        ptr: u64,
        len: u64,
        align: u32,
        what: &str,
    ) -> ward::Result<()> {
        if !ptr.is_multiple_of(align as u64) {
            return Err(trap("unaligned pointer"));
        }
        match ptr.checked_add(len) {
            Some(end) if end <= self.mem.len() as u64 => Ok(()),
            _ => Err(trap(match (what, self.side) {
                ("string", Side::Host) => "string pointer/length out of bounds of memory".into(),
                ("string", Side::Guest) => "string content out-of-bounds".into(),
                (what, Side::Host) => format!("{what} pointer/length out of bounds of memory"),
                (what, Side::Guest) => format!("{what} content out-of-bounds"),
            })),
        }
    }

    fn lift_flat(&mut self, it: &mut FlatIter<'_>, ty: &Type) -> ward::Result<Val> {
        self.charge(VAL_SIZE)?;
        let v = self.lift_flat_inner(it, ty)?;
        self.charge(names_size(&v))?;
        Ok(v)
    }

    fn lift_flat_inner(&mut self, it: &mut FlatIter<'_>, ty: &Type) -> ward::Result<Val> {
        Ok(match ty {
            Type::Bool => Val::Bool(it.next()? as u32 != 0),
            Type::S8 => Val::S8(it.next()? as i8),
            Type::U8 => Val::U8(it.next()? as u8),
            Type::S16 => Val::S16(it.next()? as i16),
            Type::U16 => Val::U16(it.next()? as u16),
            Type::S32 => Val::S32(it.next()? as i32),
            Type::U32 => Val::U32(it.next()? as u32),
            Type::S64 => Val::S64(it.next()? as i64),
            Type::U64 => Val::U64(it.next()?),
            Type::F32 => Val::Float32(canon_f32(it.next()? as u32)),
            Type::F64 => Val::Float64(canon_f64(it.next()?)),
            Type::Char => Val::Char(to_char(it.next()? as u32)?),
            Type::String => {
                let (ptr, len) = (it.next()? as u32, it.next()? as u32);
                Val::String(self.load_string(ptr, len)?)
            }
            Type::List(elem) => {
                let (ptr, len) = (it.next()? as u32, it.next()? as u32);
                self.load_list_val(ptr, len, elem)?
            }
            Type::Map(k, v) => {
                let (ptr, len) = (it.next()? as u32, it.next()? as u32);
                Val::Map(self.load_map(ptr, len, k, v)?)
            }
            Type::FixedList(elem, n) => {
                let mut out = Vec::new();
                for _ in 0..*n {
                    out.push(self.lift_flat(it, elem)?);
                }
                Val::List(out)
            }
            Type::Record(fields) => Val::Record(
                fields
                    .iter()
                    .map(|(n, t)| Ok((n.clone(), self.lift_flat(it, t)?)))
                    .collect::<ward::Result<_>>()?,
            ),
            Type::Tuple(ts) => {
                Val::Tuple(ts.iter().map(|t| self.lift_flat(it, t)).collect::<ward::Result<_>>()?)
            }
            Type::Flags(names) => {
                let mut bits = Vec::new();
                for _ in 0..names.len().div_ceil(32) {
                    bits.push(it.next()? as u32);
                }
                unpack_flags(&bits, names)
            }
            Type::Own(rt) => self.lift_own(it.next()? as u32, rt)?,
            Type::Borrow(rt) => self.lift_borrow(it.next()? as u32, rt)?,
            Type::Stream(_) | Type::Future(_) => {
                crate::concurrent::lift_end(self.inst, it.next()? as u32, ty)?
            }
            Type::Variant(_) | Type::Enum(_) | Type::Option(_) | Type::Result(..) => {
                let cases = cases_of(ty).unwrap_or_default();
                let joined = ty.variant_payload_flat(usize::MAX).unwrap_or_default();
                let disc = it.next()? as u32;
                if disc as usize >= cases.len() {
                    return Err(trap("invalid variant discriminant"));
                }
                // The payload's core values, in the joined types. Values are kept as raw bits,
                // so the coercions of `lift_flat_variant` (reinterpreting f32/i32, wrapping
                // i64 to i32) are what narrower reads already do.
                let mut payload = Vec::with_capacity(joined.len());
                for _ in 0..joined.len() {
                    payload.push(it.next()?);
                }
                let value = match cases.payload(disc as usize) {
                    Some(t) => {
                        let mut sub = FlatIter { values: &payload, next: 0 };
                        Some(Box::new(self.lift_flat(&mut sub, t)?))
                    }
                    None => None,
                };
                make_case(ty, disc as usize, value)
            }
        })
    }

    /// The `N` bytes at `ptr` (which the caller has checked to be in bounds).
    pub(crate) fn bytes<const N: usize>(&self, ptr: usize) -> ward::Result<[u8; N]> {
        ptr.checked_add(N)
            .and_then(|end| self.mem.get(ptr..end))
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| trap("pointer out of bounds of memory"))
    }

    /// The `len` bytes at `ptr` (which the caller has checked to be in bounds).
    pub(crate) fn slice(&self, ptr: usize, len: usize) -> ward::Result<&'a [u8]> {
        let mem: &'a [u8] = self.mem;
        ptr.checked_add(len)
            .and_then(|end| mem.get(ptr..end))
            .ok_or_else(|| trap("pointer out of bounds of memory"))
    }

    fn load_int(&self, ptr: u64, n: usize) -> u64 {
        let mut b = [0u8; 8];
        let p = ptr as usize;
        b[..n].copy_from_slice(&self.mem[p..p + n]);
        u64::from_le_bytes(b)
    }

    /// Counts `n` more host bytes of lifted values; traps beyond [`MAX_LIFTED_BYTES`].
    pub(crate) fn charge(&mut self, n: u64) -> ward::Result<()> {
        self.lifted = self.lifted.saturating_add(n);
        if self.lifted > MAX_LIFTED_BYTES {
            return Err(trap(format!(
                "the values lifted in one call take more than {} MiB of host memory",
                MAX_LIFTED_BYTES >> 20
            )));
        }
        Ok(())
    }

    /// `load`: `ptr` is aligned and `ptr + size` is in bounds (checked by the caller).
    pub(crate) fn load(&mut self, ptr: u64, ty: &Type) -> ward::Result<Val> {
        self.charge(VAL_SIZE)?;
        let v = self.load_inner(ptr, ty)?;
        self.charge(names_size(&v))?;
        Ok(v)
    }

    fn load_inner(&mut self, ptr: u64, ty: &Type) -> ward::Result<Val> {
        Ok(match ty {
            Type::Bool => Val::Bool(self.load_int(ptr, 1) != 0),
            Type::S8 => Val::S8(self.load_int(ptr, 1) as i8),
            Type::U8 => Val::U8(self.load_int(ptr, 1) as u8),
            Type::S16 => Val::S16(self.load_int(ptr, 2) as i16),
            Type::U16 => Val::U16(self.load_int(ptr, 2) as u16),
            Type::S32 => Val::S32(self.load_int(ptr, 4) as i32),
            Type::U32 => Val::U32(self.load_int(ptr, 4) as u32),
            Type::S64 => Val::S64(self.load_int(ptr, 8) as i64),
            Type::U64 => Val::U64(self.load_int(ptr, 8)),
            Type::F32 => Val::Float32(canon_f32(self.load_int(ptr, 4) as u32)),
            Type::F64 => Val::Float64(canon_f64(self.load_int(ptr, 8))),
            Type::Char => Val::Char(to_char(self.load_int(ptr, 4) as u32)?),
            Type::String => {
                let (p, n) = (self.load_int(ptr, 4) as u32, self.load_int(ptr + 4, 4) as u32);
                Val::String(self.load_string(p, n)?)
            }
            Type::List(elem) => {
                let (p, n) = (self.load_int(ptr, 4) as u32, self.load_int(ptr + 4, 4) as u32);
                self.load_list_val(p, n, elem)?
            }
            Type::Map(k, v) => {
                let (p, n) = (self.load_int(ptr, 4) as u32, self.load_int(ptr + 4, 4) as u32);
                Val::Map(self.load_map(p, n, k, v)?)
            }
            Type::FixedList(elem, n) => {
                let mut out = Vec::new();
                for i in 0..*n as u64 {
                    out.push(self.load(ptr + i * elem.size(), elem)?);
                }
                Val::List(out)
            }
            Type::Record(fields) => {
                let mut p = ptr;
                let mut out = Vec::with_capacity(fields.len());
                for (n, t) in fields.iter() {
                    p = align_to(p, t.align());
                    out.push((n.clone(), self.load(p, t)?));
                    p += t.size();
                }
                Val::Record(out)
            }
            Type::Tuple(ts) => {
                let mut p = ptr;
                let mut out = Vec::with_capacity(ts.len());
                for t in ts.iter() {
                    p = align_to(p, t.align());
                    out.push(self.load(p, t)?);
                    p += t.size();
                }
                Val::Tuple(out)
            }
            Type::Flags(names) => {
                let size = ty.size() as usize;
                let bits: Vec<u32> = if size < 4 {
                    vec![self.load_int(ptr, size) as u32]
                } else {
                    (0..size / 4).map(|i| self.load_int(ptr + 4 * i as u64, 4) as u32).collect()
                };
                unpack_flags(&bits, names)
            }
            Type::Own(rt) => self.lift_own(self.load_int(ptr, 4) as u32, rt)?,
            Type::Borrow(rt) => self.lift_borrow(self.load_int(ptr, 4) as u32, rt)?,
            Type::Stream(_) | Type::Future(_) => {
                crate::concurrent::lift_end(self.inst, self.load_int(ptr, 4) as u32, ty)?
            }
            Type::Variant(_) | Type::Enum(_) | Type::Option(_) | Type::Result(..) => {
                let cases = cases_of(ty).unwrap_or_default();
                let disc_size = discriminant_size(cases.len());
                let disc = self.load_int(ptr, disc_size as usize);
                if disc >= cases.len() as u64 {
                    return Err(trap("invalid variant discriminant"));
                }
                let p = align_to(ptr + disc_size as u64, cases.payload_align());
                let value = match cases.payload(disc as usize) {
                    Some(t) => Some(Box::new(self.load(p, t)?)),
                    None => None,
                };
                make_case(ty, disc as usize, value)
            }
        })
    }

    pub(crate) fn load_string(&mut self, ptr: u32, tagged: u32) -> ward::Result<String> {
        let (align, byte_len, enc) = match self.opts.encoding {
            Encoding::Utf8 => (1, tagged as u64, Encoding::Utf8),
            Encoding::Utf16 => (2, 2 * tagged as u64, Encoding::Utf16),
            Encoding::Latin1Utf16 if tagged & UTF16_TAG != 0 => {
                (2, 2 * (tagged ^ UTF16_TAG) as u64, Encoding::Utf16)
            }
            Encoding::Latin1Utf16 => (2, tagged as u64, Encoding::Latin1Utf16),
        };
        if byte_len > MAX_STRING_BYTE_LENGTH {
            return Err(trap("string content out-of-bounds: longer than the canonical ABI allows"));
        }
        self.check_range(ptr as u64, byte_len, align, "string")?;
        self.charge(byte_len)?;
        let bytes = &self.mem[ptr as usize..(ptr as u64 + byte_len) as usize];
        match enc {
            Encoding::Utf8 => match std::str::from_utf8(bytes) {
                Ok(s) => Ok(s.to_string()),
                Err(e) => Err(trap(e.to_string())),
            },
            Encoding::Utf16 => {
                let units = bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
                char::decode_utf16(units)
                    .collect::<Result<String, _>>()
                    .map_err(|_| trap("invalid utf-16: unpaired surrogate"))
            }
            Encoding::Latin1Utf16 => Ok(bytes.iter().map(|&b| b as char).collect()),
        }
    }

    /// A `list<T>`: [`Val::Bytes`] for `list<u8>` (one host byte per guest byte), otherwise
    /// [`Val::List`].
    fn load_list_val(&mut self, ptr: u32, len: u32, elem: &Type) -> ward::Result<Val> {
        if !matches!(elem, Type::U8) {
            return Ok(Val::List(self.load_list(ptr, len, elem)?));
        }
        let byte_len = len as u64;
        if byte_len > MAX_LIST_BYTE_LENGTH {
            return Err(trap("list content out-of-bounds: longer than the canonical ABI allows"));
        }
        self.check_range(ptr as u64, byte_len, 1, "list")?;
        self.charge(byte_len)?;
        // In range: checked just above against the memory's length.
        Ok(Val::Bytes(self.mem[ptr as usize..(ptr as u64 + byte_len) as usize].to_vec()))
    }

    fn load_list(&mut self, ptr: u32, len: u32, elem: &Type) -> ward::Result<Vec<Val>> {
        let size = elem.size();
        let byte_len = (len as u64).saturating_mul(size);
        if byte_len > MAX_LIST_BYTE_LENGTH {
            return Err(trap("list content out-of-bounds: longer than the canonical ABI allows"));
        }
        self.check_range(ptr as u64, byte_len, elem.align(), "list")?;
        // Each element is charged as it is loaded; refuse at once what cannot fit.
        if self.lifted.saturating_add((len as u64).saturating_mul(VAL_SIZE)) > MAX_LIFTED_BYTES {
            return self.charge((len as u64).saturating_mul(VAL_SIZE)).map(|_| Vec::new());
        }
        // `len * size` fits in the memory, so the vector is bounded by the memory's size.
        let mut out = Vec::with_capacity((len as usize).min(self.mem.len()));
        for i in 0..len as u64 {
            out.push(self.load(ptr as u64 + i * size, elem)?);
        }
        Ok(out)
    }

    /// A `map<K, V>`: a list of `tuple<K, V>` entries.
    fn load_map(
        &mut self,
        ptr: u32,
        len: u32,
        k: &Type,
        v: &Type,
    ) -> ward::Result<Vec<(Val, Val)>> {
        let (size, align, value_at) = Type::map_entry(k, v);
        let byte_len = (len as u64).saturating_mul(size);
        if byte_len > MAX_LIST_BYTE_LENGTH {
            return Err(trap("map content out-of-bounds: longer than the canonical ABI allows"));
        }
        self.check_range(ptr as u64, byte_len, align, "map")?;
        let per_entry = 2 * VAL_SIZE;
        if self.lifted.saturating_add((len as u64).saturating_mul(per_entry)) > MAX_LIFTED_BYTES {
            return self.charge((len as u64).saturating_mul(per_entry)).map(|_| Vec::new());
        }
        let mut out = Vec::with_capacity((len as usize).min(self.mem.len()));
        for i in 0..len as u64 {
            let p = ptr as u64 + i * size;
            out.push((self.load(p, k)?, self.load(p + value_at, v)?));
        }
        Ok(out)
    }

    fn lift_own(&mut self, i: u32, rt: &crate::ResourceType) -> ward::Result<Val> {
        let h = self.inst.remove(i, rt)?;
        if !h.own {
            return Err(trap(format!("handle index {i} is a borrow, expected an owned handle")));
        }
        Ok(Val::Resource(ResourceAny { ty: h.ty, rep: h.rep, own: true }))
    }

    fn lift_borrow(&mut self, i: u32, rt: &crate::ResourceType) -> ward::Result<Val> {
        let rep = self.inst.lend(i, rt)?;
        self.lenders.push(i);
        Ok(Val::Resource(ResourceAny { ty: rt.clone(), rep, own: false }))
    }
}

pub(crate) fn canon_f32(bits: u32) -> f32 {
    let f = f32::from_bits(bits);
    if f.is_nan() {
        f32::from_bits(0x7fc0_0000)
    } else {
        f
    }
}

pub(crate) fn canon_f64(bits: u64) -> f64 {
    let f = f64::from_bits(bits);
    if f.is_nan() {
        f64::from_bits(0x7ff8_0000_0000_0000)
    } else {
        f
    }
}

pub(crate) fn to_char(i: u32) -> ward::Result<char> {
    char::from_u32(i).ok_or_else(|| trap(format!("invalid `char` bit pattern: {i:#x}")))
}

fn unpack_flags(bits: &[u32], names: &[String]) -> Val {
    Val::Flags(
        names
            .iter()
            .enumerate()
            .filter(|(i, _)| bits.get(i / 32).is_some_and(|w| w & (1 << (i % 32)) != 0))
            .map(|(_, n)| n.clone())
            .collect(),
    )
}

fn make_case(ty: &Type, disc: usize, value: Option<Box<Val>>) -> Val {
    match ty {
        Type::Variant(cases) => Val::Variant(cases[disc].0.clone(), value),
        Type::Enum(names) => Val::Enum(names[disc].clone()),
        Type::Option(_) => Val::Option(value),
        _ if disc == 0 => Val::Result(Ok(value)),
        _ => Val::Result(Err(value)),
    }
}

/// Finds a value's case: (index, payload value, payload type).
fn match_case<'t, 'v>(
    ty: &'t Type,
    v: &'v Val,
) -> ward::Result<(usize, Option<&'v Val>, Option<&'t Type>)> {
    let cases = cases_of(ty).unwrap_or_default();
    let (i, payload) =
        match (ty, v) {
            (Type::Variant(cs), Val::Variant(name, p)) => {
                let i = cs.iter().position(|(n, _)| n == name).ok_or_else(|| {
                    ward::Error::Usage(format!("variant has no case named `{name}`"))
                })?;
                (i, p.as_deref())
            }
            (Type::Enum(names), Val::Enum(name)) => {
                let i = names.iter().position(|n| n == name).ok_or_else(|| {
                    ward::Error::Usage(format!("enum has no case named `{name}`"))
                })?;
                (i, None)
            }
            (Type::Option(_), Val::Option(p)) => (p.is_some() as usize, p.as_deref()),
            (Type::Result(..), Val::Result(Ok(p))) => (0, p.as_deref()),
            (Type::Result(..), Val::Result(Err(p))) => (1, p.as_deref()),
            _ => return Err(mismatch(ty, v)),
        };
    let case_ty = cases.payload(i);
    if case_ty.is_some() != payload.is_some() {
        return Err(ward::Error::Usage(format!(
            "case {i} of {ty} {} a payload",
            if case_ty.is_some() { "needs" } else { "takes no" }
        )));
    }
    Ok((i, payload, case_ty))
}

fn pack_flags(ty: &Type, names: &[String], set: &[String]) -> ward::Result<Vec<u32>> {
    let mut bits = vec![0u32; names.len().div_ceil(32)];
    for s in set {
        let i = names
            .iter()
            .position(|n| n == s)
            .ok_or_else(|| ward::Error::Usage(format!("{ty} has no flag named `{s}`")))?;
        bits[i / 32] |= 1 << (i % 32);
    }
    Ok(bits)
}

/// Lowers values into one component instance (`cx` of the spec with `lower` direction): what
/// [`Lower`](crate::Lower) implementations allocate and write guest memory through.
pub struct Lowerer<'a, 'b, T> {
    pub(crate) store: &'a mut StoreContextMut<'b, T>,
    pub(crate) opts: &'a Options,
    pub(crate) inst: &'a Arc<InstanceState>,
    /// The call that borrow handles lowered here belong to.
    pub(crate) task: u64,
    pub(crate) side: Side,
    /// While a list of plain values (no pointers or handles, so no `realloc` call) is being
    /// stored: its guest address and a host copy of its bytes, which writes inside it go to
    /// and which is written to guest memory in one piece at the end.
    staged: Option<(u64, Vec<u8>)>,
}

impl<'a, 'b, T> Lowerer<'a, 'b, T> {
    pub(crate) fn new(
        store: &'a mut StoreContextMut<'b, T>,
        opts: &'a Options,
        inst: &'a Arc<InstanceState>,
        task: u64,
        side: Side,
    ) -> Self {
        Lowerer { store, opts, inst, task, side, staged: None }
    }
}

impl<T> Lowerer<'_, '_, T> {
    /// `lower_flat_values`. With `out_param`, values that do not fit `max_flat` are stored at
    /// that caller-provided address instead of a `realloc`ed one.
    pub(crate) fn lower_values(
        &mut self,
        spilled: bool,
        vals: &[Val],
        tys: &[Type],
        out_param: Option<u32>,
    ) -> ward::Result<Vec<u64>> {
        if vals.len() != tys.len() {
            return Err(ward::Error::Usage(format!(
                "expected {} values, got {}",
                tys.len(),
                vals.len()
            )));
        }
        if spilled {
            let (size, align) = tuple_layout(tys);
            let (ptr, flat) = match out_param {
                Some(p) => {
                    self.check_range_mut(p as u64, size, align)?;
                    (p, Vec::new())
                }
                None => {
                    let p = self.allocate(align, size, "tuple")?;
                    (p, vec![p as u64])
                }
            };
            let mut p = ptr as u64;
            for (v, t) in vals.iter().zip(tys) {
                p = align_to(p, t.align());
                self.store(v, t, p)?;
                p += t.size();
            }
            return Ok(flat);
        }
        let mut out = Vec::new();
        for (v, t) in vals.iter().zip(tys) {
            self.lower_flat(v, t, &mut out)?;
        }
        Ok(out)
    }

    fn mem_len(&mut self) -> u64 {
        match self.opts.memory {
            Some(m) => m.data_size(&*self.store) as u64,
            None => 0,
        }
    }

    pub(crate) fn check_range_mut(&mut self, ptr: u64, len: u64, align: u32) -> ward::Result<()> {
        if !ptr.is_multiple_of(align as u64) {
            return Err(trap("unaligned pointer"));
        }
        match ptr.checked_add(len) {
            Some(end) if end <= self.mem_len() => Ok(()),
            _ => Err(trap("pointer out of bounds of memory")),
        }
    }

    pub(crate) fn write(&mut self, ptr: u64, bytes: &[u8]) -> ward::Result<()> {
        if let Some((base, buf)) = &mut self.staged {
            let at = ptr.checked_sub(*base).map(|a| a as usize);
            let dst = at.and_then(|a| buf.get_mut(a..a.checked_add(bytes.len())?));
            if let Some(dst) = dst {
                dst.copy_from_slice(bytes);
                return Ok(());
            }
        }
        let mem = self.opts.memory.ok_or_else(|| trap("no memory to lower into"))?;
        let data = mem.data_mut(&mut *self.store);
        let end = ptr.checked_add(bytes.len() as u64).filter(|e| *e <= data.len() as u64);
        let Some(end) = end else { return Err(trap("pointer out of bounds of memory")) };
        data[ptr as usize..end as usize].copy_from_slice(bytes);
        Ok(())
    }

    /// `len` bytes of guest memory at `ptr`, to write into (checked against the memory's
    /// size; `realloc` may grow or move the memory, so the slice is fetched after it).
    pub(crate) fn slice_mut(&mut self, ptr: usize, len: usize) -> ward::Result<&mut [u8]> {
        let mem = self.opts.memory.ok_or_else(|| trap("no memory to lower into"))?;
        let data = mem.data_mut(&mut *self.store);
        ptr.checked_add(len)
            .and_then(|end| data.get_mut(ptr..end))
            .ok_or_else(|| trap("pointer out of bounds of memory"))
    }

    /// Calls `realloc` (with `may_leave` cleared) and checks its result for `new_size` bytes
    /// at `align`.
    fn reallocate(
        &mut self,
        old: u32,
        old_size: u64,
        align: u32,
        new_size: u64,
        what: &str,
    ) -> ward::Result<u32> {
        let realloc = self.opts.realloc.ok_or_else(|| trap("no realloc to lower with"))?;
        let new_size32 = u32::try_from(new_size).map_err(|_| trap("allocation too large"))?;
        let args = (old as i32, old_size as u32 as i32, align as i32, new_size32 as i32);
        self.inst.set_may_leave(false);
        let called = realloc.call(self.store.as_context_mut(), args);
        self.inst.set_may_leave(true);
        let ptr = called? as u32;
        let host = self.side == Side::Host;
        if !ptr.is_multiple_of(align) {
            return Err(trap(if host {
                "realloc return: result not aligned"
            } else {
                "unaligned pointer"
            }));
        }
        if ptr as u64 + new_size > self.mem_len() {
            return Err(trap(if host {
                "realloc return: beyond end of memory".to_string()
            } else {
                format!("{what} content out-of-bounds")
            }));
        }
        Ok(ptr)
    }

    pub(crate) fn allocate(&mut self, align: u32, size: u64, what: &str) -> ward::Result<u32> {
        self.reallocate(0, 0, align, size, what)
    }

    fn lower_flat(&mut self, v: &Val, ty: &Type, out: &mut Vec<u64>) -> ward::Result<()> {
        match (ty, v) {
            (Type::Bool, Val::Bool(b)) => out.push(*b as u64),
            (Type::S8, Val::S8(x)) => out.push(*x as i32 as u32 as u64),
            (Type::U8, Val::U8(x)) => out.push(*x as u64),
            (Type::S16, Val::S16(x)) => out.push(*x as i32 as u32 as u64),
            (Type::U16, Val::U16(x)) => out.push(*x as u64),
            (Type::S32, Val::S32(x)) => out.push(*x as u32 as u64),
            (Type::U32, Val::U32(x)) => out.push(*x as u64),
            (Type::S64, Val::S64(x)) => out.push(*x as u64),
            (Type::U64, Val::U64(x)) => out.push(*x),
            (Type::F32, Val::Float32(x)) => out.push(x.to_bits() as u64),
            (Type::F64, Val::Float64(x)) => out.push(x.to_bits()),
            (Type::Char, Val::Char(c)) => out.push(*c as u64),
            (Type::String, Val::String(s)) => {
                let (p, n) = self.store_string(s)?;
                out.extend([p as u64, n as u64]);
            }
            (Type::List(elem), Val::List(items)) => {
                let (p, n) = self.store_list(items, elem)?;
                out.extend([p as u64, n as u64]);
            }
            (Type::List(elem), Val::Bytes(bytes)) if matches!(**elem, Type::U8) => {
                let (p, n) = self.store_bytes(bytes)?;
                out.extend([p as u64, n as u64]);
            }
            (Type::Map(k, v), Val::Map(entries)) => {
                let (p, n) = self.store_map(entries, k, v)?;
                out.extend([p as u64, n as u64]);
            }
            (Type::FixedList(elem, n), Val::List(items)) if items.len() == *n as usize => {
                for item in items {
                    self.lower_flat(item, elem, out)?;
                }
            }
            (Type::Record(fields), Val::Record(vals)) => {
                for (i, (name, t)) in fields.iter().enumerate() {
                    self.lower_flat(field(vals, i, name, ty)?, t, out)?;
                }
            }
            (Type::Tuple(ts), Val::Tuple(vals)) if ts.len() == vals.len() => {
                for (t, v) in ts.iter().zip(vals) {
                    self.lower_flat(v, t, out)?;
                }
            }
            (Type::Flags(names), Val::Flags(set)) => {
                out.extend(pack_flags(ty, names, set)?.into_iter().map(u64::from))
            }
            (Type::Own(rt), Val::Resource(r)) if r.own => out.push(self.lower_own(rt, r)? as u64),
            (Type::Borrow(rt), Val::Resource(r)) => out.push(self.lower_borrow(rt, r)? as u64),
            (Type::Stream(_) | Type::Future(_), Val::Stream(e)) => {
                out.push(crate::concurrent::lower_end(self.inst, e, ty)? as u64)
            }
            (Type::Variant(_) | Type::Enum(_) | Type::Option(_) | Type::Result(..), _) => {
                let (i, payload, case_ty) = match_case(ty, v)?;
                let joined = ty.variant_payload_flat(usize::MAX).unwrap_or_default();
                out.push(i as u64);
                let start = out.len();
                if let (Some(p), Some(t)) = (payload, case_ty) {
                    // Raw bits: widening i32/f32 into an i64 slot is zero-extension.
                    self.lower_flat(p, t, out)?;
                }
                out.resize(start + joined.len(), 0);
            }
            _ => return Err(mismatch(ty, v)),
        }
        Ok(())
    }

    fn lower_own(&mut self, rt: &crate::ResourceType, r: &ResourceAny) -> ward::Result<u32> {
        if &r.ty != rt {
            return Err(ward::Error::Usage("resource of the wrong type".into()));
        }
        self.inst.add(Handle { ty: rt.clone(), rep: r.rep, own: true, lends: 0, scope: None })
    }

    fn lower_borrow(&mut self, rt: &crate::ResourceType, r: &ResourceAny) -> ward::Result<u32> {
        if &r.ty != rt {
            return Err(ward::Error::Usage("resource of the wrong type".into()));
        }
        let implementer = rt.guest_info().and_then(|g| g.instance.upgrade());
        if implementer.is_some_and(|i| i.id == self.inst.id) {
            return Ok(r.rep);
        }
        self.inst.add_borrow(rt, r.rep, self.task)
    }

    fn store_int(&mut self, ptr: u64, v: u64, n: usize) -> ward::Result<()> {
        self.write(ptr, &v.to_le_bytes()[..n])
    }

    /// `store`: `ptr` is aligned and in bounds for `ty` (checked by the caller).
    pub(crate) fn store(&mut self, v: &Val, ty: &Type, ptr: u64) -> ward::Result<()> {
        match (ty, v) {
            (Type::Bool, Val::Bool(b)) => self.store_int(ptr, *b as u64, 1),
            (Type::S8, Val::S8(x)) => self.store_int(ptr, *x as u64, 1),
            (Type::U8, Val::U8(x)) => self.store_int(ptr, *x as u64, 1),
            (Type::S16, Val::S16(x)) => self.store_int(ptr, *x as u64, 2),
            (Type::U16, Val::U16(x)) => self.store_int(ptr, *x as u64, 2),
            (Type::S32, Val::S32(x)) => self.store_int(ptr, *x as u64, 4),
            (Type::U32, Val::U32(x)) => self.store_int(ptr, *x as u64, 4),
            (Type::S64, Val::S64(x)) => self.store_int(ptr, *x as u64, 8),
            (Type::U64, Val::U64(x)) => self.store_int(ptr, *x, 8),
            (Type::F32, Val::Float32(x)) => self.store_int(ptr, x.to_bits() as u64, 4),
            (Type::F64, Val::Float64(x)) => self.store_int(ptr, x.to_bits(), 8),
            (Type::Char, Val::Char(c)) => self.store_int(ptr, *c as u64, 4),
            (Type::String, Val::String(s)) => {
                let (p, n) = self.store_string(s)?;
                self.store_int(ptr, p as u64, 4)?;
                self.store_int(ptr + 4, n as u64, 4)
            }
            (Type::List(elem), Val::List(items)) => {
                let (p, n) = self.store_list(items, elem)?;
                self.store_int(ptr, p as u64, 4)?;
                self.store_int(ptr + 4, n as u64, 4)
            }
            (Type::List(elem), Val::Bytes(bytes)) if matches!(**elem, Type::U8) => {
                let (p, n) = self.store_bytes(bytes)?;
                self.store_int(ptr, p as u64, 4)?;
                self.store_int(ptr + 4, n as u64, 4)
            }
            (Type::Map(k, v), Val::Map(entries)) => {
                let (p, n) = self.store_map(entries, k, v)?;
                self.store_int(ptr, p as u64, 4)?;
                self.store_int(ptr + 4, n as u64, 4)
            }
            (Type::FixedList(elem, n), Val::List(items)) if items.len() == *n as usize => {
                for (i, item) in items.iter().enumerate() {
                    self.store(item, elem, ptr + i as u64 * elem.size())?;
                }
                Ok(())
            }
            (Type::Record(fields), Val::Record(vals)) => {
                let mut p = ptr;
                for (i, (name, t)) in fields.iter().enumerate() {
                    p = align_to(p, t.align());
                    self.store(field(vals, i, name, ty)?, t, p)?;
                    p += t.size();
                }
                Ok(())
            }
            (Type::Tuple(ts), Val::Tuple(vals)) if ts.len() == vals.len() => {
                let mut p = ptr;
                for (t, v) in ts.iter().zip(vals) {
                    p = align_to(p, t.align());
                    self.store(v, t, p)?;
                    p += t.size();
                }
                Ok(())
            }
            (Type::Flags(names), Val::Flags(set)) => {
                let bits = pack_flags(ty, names, set)?;
                let size = ty.size() as usize;
                if size < 4 {
                    self.store_int(ptr, bits.first().copied().unwrap_or(0) as u64, size)
                } else {
                    for (i, w) in bits.iter().enumerate() {
                        self.store_int(ptr + 4 * i as u64, *w as u64, 4)?;
                    }
                    Ok(())
                }
            }
            (Type::Own(rt), Val::Resource(r)) if r.own => {
                let i = self.lower_own(rt, r)?;
                self.store_int(ptr, i as u64, 4)
            }
            (Type::Borrow(rt), Val::Resource(r)) => {
                let i = self.lower_borrow(rt, r)?;
                self.store_int(ptr, i as u64, 4)
            }
            (Type::Stream(_) | Type::Future(_), Val::Stream(e)) => {
                let i = crate::concurrent::lower_end(self.inst, e, ty)?;
                self.store_int(ptr, i as u64, 4)
            }
            (Type::Variant(_) | Type::Enum(_) | Type::Option(_) | Type::Result(..), _) => {
                let (i, payload, case_ty) = match_case(ty, v)?;
                let cases = cases_of(ty).unwrap_or_default();
                let disc_size = discriminant_size(cases.len());
                self.store_int(ptr, i as u64, disc_size as usize)?;
                if let (Some(p), Some(t)) = (payload, case_ty) {
                    self.store(p, t, align_to(ptr + disc_size as u64, cases.payload_align()))?;
                }
                Ok(())
            }
            _ => Err(mismatch(ty, v)),
        }
    }

    /// A `list<u8>` given as bytes: one allocation, one copy.
    fn store_bytes(&mut self, bytes: &[u8]) -> ward::Result<(u32, u32)> {
        let n = u32::try_from(bytes.len()).map_err(|_| trap("list too long"))?;
        if n as u64 > MAX_LIST_BYTE_LENGTH {
            return Err(trap("list too long for the canonical ABI"));
        }
        let ptr = self.allocate(1, n as u64, "list")?;
        self.write(ptr as u64, bytes)?;
        Ok((ptr, n))
    }

    fn store_list(&mut self, items: &[Val], elem: &Type) -> ward::Result<(u32, u32)> {
        let size = elem.size();
        let byte_len = (items.len() as u64).saturating_mul(size);
        let n = u32::try_from(items.len()).map_err(|_| trap("list too long"))?;
        let ptr = self.allocate(elem.align(), byte_len, "list")?;
        // Plain elements are staged in a host buffer (the allocation succeeded, so its size is
        // within the memory's) and written in one piece; others may call `realloc`.
        if byte_len > 0 && self.staged.is_none() && elem.is_plain() {
            self.staged = Some((ptr as u64, vec![0; byte_len as usize]));
        }
        let mut stored = Ok(());
        for (i, item) in items.iter().enumerate() {
            stored = self.store(item, elem, ptr as u64 + i as u64 * size);
            if stored.is_err() {
                break;
            }
        }
        if let Some((base, bytes)) = self.staged.take() {
            if stored.is_ok() {
                stored = self.write(base, &bytes);
            }
        }
        stored.map(|()| (ptr, n))
    }

    /// A `map<K, V>` as its list of `tuple<K, V>` entries.
    fn store_map(
        &mut self,
        entries: &[(Val, Val)],
        k: &Type,
        v: &Type,
    ) -> ward::Result<(u32, u32)> {
        let (size, align, value_at) = Type::map_entry(k, v);
        let byte_len = (entries.len() as u64).saturating_mul(size);
        let n = u32::try_from(entries.len()).map_err(|_| trap("map too long"))?;
        let ptr = self.allocate(align, byte_len, "map")?;
        for (i, (key, value)) in entries.iter().enumerate() {
            let p = ptr as u64 + i as u64 * size;
            self.store(key, k, p)?;
            self.store(value, v, p + value_at)?;
        }
        Ok((ptr, n))
    }

    /// `store_string_into_range`. The source is a Rust string, so it is treated as UTF-8 with
    /// its byte length as the code-unit count (the hint the spec's algorithms start from).
    pub(crate) fn store_string(&mut self, s: &str) -> ward::Result<(u32, u32)> {
        let units = s.len() as u64;
        if units > MAX_STRING_BYTE_LENGTH {
            return Err(trap("string too long for the canonical ABI"));
        }
        match self.opts.encoding {
            Encoding::Utf8 => {
                let ptr = self.allocate(1, units, "string")?;
                self.write(ptr as u64, s.as_bytes())?;
                Ok((ptr, units as u32))
            }
            Encoding::Utf16 => {
                // store_utf8_to_utf16: worst case first, then shrink.
                let worst = 2 * units;
                let mut ptr = self.allocate(2, worst, "string")?;
                let encoded: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
                self.write(ptr as u64, &encoded)?;
                let len = encoded.len() as u64;
                if len < worst {
                    ptr = self.reallocate(ptr, worst, 2, len, "string")?;
                }
                Ok((ptr, (len / 2) as u32))
            }
            Encoding::Latin1Utf16 => self.store_latin1_or_utf16(s, units),
        }
    }

    /// `store_string_to_latin1_or_utf16`.
    fn store_latin1_or_utf16(&mut self, s: &str, units: u64) -> ward::Result<(u32, u32)> {
        let mut ptr = self.allocate(2, units, "string")?;
        let mut latin1 = Vec::with_capacity(s.len());
        for c in s.chars() {
            if (c as u32) < 256 {
                latin1.push(c as u8);
                continue;
            }
            // Inflate to UTF-16: everything written so far moves to two bytes per unit.
            let worst = 2 * units;
            ptr = self.reallocate(ptr, units, 2, worst, "string")?;
            let encoded: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
            self.write(ptr as u64, &encoded)?;
            let len = encoded.len() as u64;
            if worst > len {
                ptr = self.reallocate(ptr, worst, 2, len, "string")?;
            }
            return Ok((ptr, (len / 2) as u32 | UTF16_TAG));
        }
        self.write(ptr as u64, &latin1)?;
        let len = latin1.len() as u64;
        if len < units {
            ptr = self.reallocate(ptr, units, 2, len, "string")?;
        }
        Ok((ptr, len as u32))
    }
}

/// The value of field `name`, the `i`th of the record type: looked for at `i` first (values
/// usually list their fields in the type's order), then by name.
#[inline]
fn field<'v>(vals: &'v [(String, Val)], i: usize, name: &str, ty: &Type) -> ward::Result<&'v Val> {
    if let Some((n, v)) = vals.get(i) {
        if n == name {
            return Ok(v);
        }
    }
    vals.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .ok_or_else(|| ward::Error::Usage(format!("{ty} value is missing field `{name}`")))
}
