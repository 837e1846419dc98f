//! Typed calls: component functions called with Rust values, which are lowered straight into
//! guest memory and lifted straight out of it, with no [`Val`](crate::Val) in between.
//!
//! A Rust type takes part through three traits: [`ComponentType`] (its canonical-ABI layout
//! and the check against a component type), [`Lower`] (host to guest) and [`Lift`] (guest to
//! host). They are implemented for `bool`, the integers, `f32`, `f64`, `char`, `String` and
//! `str`, `Vec<T>` and `[T]`, `HashMap<K, V>` and `BTreeMap<K, V>` (for `map<K, V>`; a key
//! that occurs twice keeps its last value), `Option<T>`, `Result<T, E>` (with `()` for an
//! absent payload), tuples up to eight elements, and references to any of them; [`record!`](crate::record),
//! [`enumeration!`](crate::enumeration), [`variant!`](crate::variant) and
//! [`flags!`](crate::flags) define Rust types for records, enums, variants and flags.
//!
//! A function is checked once, when it is made typed ([`Instance::get_typed_func`],
//! [`Func::typed`]): a mismatch is an [`Error::TypeMismatch`] naming the parameter or result,
//! the path inside it, and both types. The layout constants are then those of the component
//! type, so each call only moves bytes.
//!
//! [`Instance::get_typed_func`]: crate::Instance::get_typed_func

use crate::abi::Side;
use crate::abi::{canon_f32, canon_f64, to_char, trap, MAX_LIFTED_BYTES, MAX_LIST_BYTE_LENGTH};
use crate::error::Error;
use crate::func::{call_lifted, Func, HostCall, TypedHost, TypedHostFn};
use crate::types::Type;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::marker::PhantomData;
use ward::AsContextMut;

pub use crate::abi::{Lifter, Lowerer};
pub use crate::func::FlatValues;

/// The flat core values of a lifted value, read one at a time (raw bits: `i32` and `f32`
/// zero-extended, `i64` and `f64` whole), as [`Lift::lift`] receives them.
pub struct FlatSource<'a> {
    values: &'a [u64],
    next: usize,
}

impl<'a> FlatSource<'a> {
    pub(crate) fn new(values: &'a [u64]) -> FlatSource<'a> {
        FlatSource { values, next: 0 }
    }

    /// The next core value.
    pub fn next_bits(&mut self) -> ward::Result<u64> {
        let v = self.values.get(self.next).copied();
        self.next += 1;
        v.ok_or_else(|| trap("too few core values for the component type"))
    }

    /// How many values have been read.
    pub fn position(&self) -> usize {
        self.next
    }

    /// Skips to position `pos` (past a variant's unused payload slots).
    pub fn skip_to(&mut self, pos: usize) {
        self.next = self.next.max(pos);
    }
}

/// Rounds `x` up to a multiple of `align` (at least 1).
#[doc(hidden)]
pub const fn align_up(x: usize, align: usize) -> usize {
    x.div_ceil(align) * align
}

/// The larger of two sizes (for layout constants).
#[doc(hidden)]
pub const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// The byte size of a discriminant for `cases` cases.
#[doc(hidden)]
pub const fn discriminant_size(cases: usize) -> usize {
    if cases <= 1 << 8 {
        1
    } else if cases <= 1 << 16 {
        2
    } else {
        4
    }
}

/// The message of a failed check: the component type and the Rust type.
pub fn mismatch<R: ?Sized>(ty: &Type) -> String {
    format!("component type `{ty}` does not match Rust type `{}`", std::any::type_name::<R>())
}

/// Whether a Rust field name (`snake_case`, maybe `r#`-prefixed) names a component field
/// (`kebab-case`).
#[doc(hidden)]
pub fn field_matches(rust: &str, component: &str) -> bool {
    let rust = rust.strip_prefix("r#").unwrap_or(rust);
    rust.len() == component.len()
        && rust.bytes().zip(component.bytes()).all(|(r, c)| r == c || (r == b'_' && c == b'-'))
}

/// Whether a Rust case name (`CamelCase`) names a component case (`kebab-case`).
#[doc(hidden)]
pub fn case_matches(rust: &str, component: &str) -> bool {
    let rust = rust.strip_prefix("r#").unwrap_or(rust);
    let mut kebab = String::with_capacity(rust.len() + 4);
    for (i, c) in rust.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                kebab.push('-');
            }
            kebab.push(c.to_ascii_lowercase());
        } else {
            kebab.push(c);
        }
    }
    kebab == component
}

/// A Rust type with a canonical-ABI representation: its layout in linear memory and in flat
/// core values, and the check that it stands for a given component type.
///
/// The constants must be those of every component type [`typecheck`](Self::typecheck)
/// accepts; the macros and the built-in implementations compute them from their parts.
pub trait ComponentType {
    /// Byte size in linear memory.
    const SIZE: usize;
    /// Alignment in linear memory.
    const ALIGN: usize;
    /// Number of flat core values.
    const FLAT: usize;
    /// Whether the value is plain bytes (no pointers or handles): then it is stored with
    /// [`Lower::store_plain`], without allocating.
    const PLAIN: bool;

    /// `Ok` if this Rust type stands for component type `ty`; otherwise what does not match.
    fn typecheck(ty: &Type) -> Result<(), String>;

    /// [`typecheck`](Self::typecheck) for a case payload of an option, result or variant,
    /// which may be absent (only `()` accepts an absent payload).
    fn typecheck_payload(ty: Option<&Type>) -> Result<(), String> {
        match ty {
            Some(ty) => Self::typecheck(ty),
            None => Err(format!(
                "the component case has no payload, Rust type `{}` has one (use `()`)",
                std::any::type_name::<Self>()
            )),
        }
    }
}

/// A Rust value that can be lowered into a component (as an argument).
pub trait Lower: ComponentType {
    /// Appends the flat core values of `self`.
    fn lower<T>(&self, cx: &mut Lowerer<'_, '_, T>, out: &mut FlatValues) -> ward::Result<()>;

    /// Stores `self` at `ptr` in guest memory (aligned, `SIZE` bytes in bounds).
    fn store<T>(&self, cx: &mut Lowerer<'_, '_, T>, ptr: usize) -> ward::Result<()>;

    /// For [`PLAIN`](ComponentType::PLAIN) types: writes `self` into `dst`, which holds at
    /// least `SIZE` bytes. Never called for other types.
    #[inline]
    fn store_plain(&self, dst: &mut [u8]) {
        let _ = dst;
    }

    /// Stores the elements of a list at `ptr` (`items.len() * SIZE` bytes, allocated).
    fn store_list<T>(items: &[Self], cx: &mut Lowerer<'_, '_, T>, ptr: usize) -> ward::Result<()>
    where
        Self: Sized,
    {
        if Self::SIZE == 0 {
            return Ok(());
        }
        if Self::PLAIN {
            let dst = cx.slice_mut(ptr, items.len() * Self::SIZE)?;
            for (item, dst) in items.iter().zip(dst.chunks_exact_mut(Self::SIZE)) {
                item.store_plain(dst);
            }
            return Ok(());
        }
        for (i, item) in items.iter().enumerate() {
            item.store(cx, ptr + i * Self::SIZE)?;
        }
        Ok(())
    }
}

/// A Rust value that can be lifted out of a component (as a result).
pub trait Lift: ComponentType + Sized {
    /// Reads the value from its flat core values.
    fn lift(cx: &mut Lifter<'_>, src: &mut FlatSource<'_>) -> ward::Result<Self>;

    /// Loads the value from guest memory at `ptr` (aligned, `SIZE` bytes in bounds).
    fn load(cx: &mut Lifter<'_>, ptr: usize) -> ward::Result<Self>;

    /// Loads the `len` elements of a list at `ptr` (checked to be in bounds).
    fn load_list(cx: &mut Lifter<'_>, ptr: usize, len: usize) -> ward::Result<Vec<Self>> {
        let mut out = Vec::with_capacity(len);
        for i in 0..len {
            out.push(Self::load(cx, ptr + i * Self::SIZE)?);
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------
// Numbers, bool, char

/// The scalar types: `$size` bytes in memory (aligned to their size), one flat value.
/// `lower`/`lift` convert to and from the flat value's bits, `bytes`/`load` to and from the
/// little-endian bytes in memory; a lift or load may fail (`?`) on an invalid value.
macro_rules! scalars {
    ($($t:ident => $variant:ident, $size:literal,
        lower($l:ident) $lower:expr, lift($b:ident) $lift:expr,
        bytes($s:ident) $bytes:expr, load($m:ident) $load:expr;)*) => {$(
        impl ComponentType for $t {
            const SIZE: usize = $size;
            const ALIGN: usize = $size;
            const FLAT: usize = 1;
            const PLAIN: bool = true;

            fn typecheck(ty: &Type) -> Result<(), String> {
                match ty {
                    Type::$variant => Ok(()),
                    _ => Err(mismatch::<Self>(ty)),
                }
            }
        }

        impl Lower for $t {
            #[inline]
            fn lower<T>(&self, _: &mut Lowerer<'_, '_, T>, out: &mut FlatValues) -> ward::Result<()> {
                let $l = *self;
                out.push($lower);
                Ok(())
            }

            #[inline]
            fn store<T>(&self, cx: &mut Lowerer<'_, '_, T>, ptr: usize) -> ward::Result<()> {
                let $s = *self;
                cx.write(ptr as u64, &$bytes)
            }

            #[inline]
            fn store_plain(&self, dst: &mut [u8]) {
                let $s = *self;
                if let Some(dst) = dst.get_mut(..$size) {
                    dst.copy_from_slice(&$bytes);
                }
            }
        }

        impl Lift for $t {
            #[inline]
            fn lift(_: &mut Lifter<'_>, src: &mut FlatSource<'_>) -> ward::Result<Self> {
                let $b = src.next_bits()?;
                Ok($lift)
            }

            #[inline]
            fn load(cx: &mut Lifter<'_>, ptr: usize) -> ward::Result<Self> {
                let $m = cx.bytes::<$size>(ptr)?;
                Ok($load)
            }
        }
    )*};
}

scalars! {
    u8 => U8, 1, lower(x) x as u64, lift(b) b as u8,
        bytes(x) x.to_le_bytes(), load(m) u8::from_le_bytes(m);
    i8 => S8, 1, lower(x) x as i32 as u32 as u64, lift(b) b as i8,
        bytes(x) x.to_le_bytes(), load(m) i8::from_le_bytes(m);
    u16 => U16, 2, lower(x) x as u64, lift(b) b as u16,
        bytes(x) x.to_le_bytes(), load(m) u16::from_le_bytes(m);
    i16 => S16, 2, lower(x) x as i32 as u32 as u64, lift(b) b as i16,
        bytes(x) x.to_le_bytes(), load(m) i16::from_le_bytes(m);
    u32 => U32, 4, lower(x) x as u64, lift(b) b as u32,
        bytes(x) x.to_le_bytes(), load(m) u32::from_le_bytes(m);
    i32 => S32, 4, lower(x) x as u32 as u64, lift(b) b as u32 as i32,
        bytes(x) x.to_le_bytes(), load(m) i32::from_le_bytes(m);
    u64 => U64, 8, lower(x) x, lift(b) b,
        bytes(x) x.to_le_bytes(), load(m) u64::from_le_bytes(m);
    i64 => S64, 8, lower(x) x as u64, lift(b) b as i64,
        bytes(x) x.to_le_bytes(), load(m) i64::from_le_bytes(m);
    f32 => F32, 4, lower(x) x.to_bits() as u64, lift(b) canon_f32(b as u32),
        bytes(x) x.to_le_bytes(), load(m) canon_f32(u32::from_le_bytes(m));
    f64 => F64, 8, lower(x) x.to_bits(), lift(b) canon_f64(b),
        bytes(x) x.to_le_bytes(), load(m) canon_f64(u64::from_le_bytes(m));
    bool => Bool, 1, lower(x) x as u64, lift(b) b as u32 != 0,
        bytes(x) [x as u8], load(m) m[0] != 0;
    char => Char, 4, lower(x) x as u64, lift(b) to_char(b as u32)?,
        bytes(x) (x as u32).to_le_bytes(), load(m) to_char(u32::from_le_bytes(m))?;
}

// ---------------------------------------------------------------------------------------------
// Strings and lists

/// Stores a (pointer, length) pair at `ptr`.
fn store_pair<T>(cx: &mut Lowerer<'_, '_, T>, ptr: usize, p: u32, n: u32) -> ward::Result<()> {
    let mut bytes = [0u8; 8];
    bytes[..4].copy_from_slice(&p.to_le_bytes());
    bytes[4..].copy_from_slice(&n.to_le_bytes());
    cx.write(ptr as u64, &bytes)
}

/// Loads a (pointer, length) pair from `ptr`.
fn load_pair(cx: &Lifter<'_>, ptr: usize) -> ward::Result<(u32, u32)> {
    let b = cx.bytes::<8>(ptr)?;
    Ok((u32::from_le_bytes([b[0], b[1], b[2], b[3]]), u32::from_le_bytes([b[4], b[5], b[6], b[7]])))
}

impl ComponentType for str {
    const SIZE: usize = 8;
    const ALIGN: usize = 4;
    const FLAT: usize = 2;
    const PLAIN: bool = false;

    fn typecheck(ty: &Type) -> Result<(), String> {
        match ty {
            Type::String => Ok(()),
            _ => Err(mismatch::<Self>(ty)),
        }
    }
}

impl Lower for str {
    #[inline]
    fn lower<T>(&self, cx: &mut Lowerer<'_, '_, T>, out: &mut FlatValues) -> ward::Result<()> {
        let (p, n) = cx.store_string(self)?;
        out.push(p as u64);
        out.push(n as u64);
        Ok(())
    }

    #[inline]
    fn store<T>(&self, cx: &mut Lowerer<'_, '_, T>, ptr: usize) -> ward::Result<()> {
        let (p, n) = cx.store_string(self)?;
        store_pair(cx, ptr, p, n)
    }
}

impl ComponentType for String {
    const SIZE: usize = 8;
    const ALIGN: usize = 4;
    const FLAT: usize = 2;
    const PLAIN: bool = false;

    fn typecheck(ty: &Type) -> Result<(), String> {
        str::typecheck(ty).map_err(|_| mismatch::<Self>(ty))
    }
}

impl Lower for String {
    #[inline]
    fn lower<T>(&self, cx: &mut Lowerer<'_, '_, T>, out: &mut FlatValues) -> ward::Result<()> {
        self.as_str().lower(cx, out)
    }

    #[inline]
    fn store<T>(&self, cx: &mut Lowerer<'_, '_, T>, ptr: usize) -> ward::Result<()> {
        self.as_str().store(cx, ptr)
    }
}

impl Lift for String {
    #[inline]
    fn lift(cx: &mut Lifter<'_>, src: &mut FlatSource<'_>) -> ward::Result<Self> {
        let (p, n) = (src.next_bits()? as u32, src.next_bits()? as u32);
        cx.load_string(p, n)
    }

    #[inline]
    fn load(cx: &mut Lifter<'_>, ptr: usize) -> ward::Result<Self> {
        let (p, n) = load_pair(cx, ptr)?;
        cx.load_string(p, n)
    }
}

/// Allocates a list of `items` in guest memory and stores them; returns (pointer, length).
fn store_list<E: Lower, T>(cx: &mut Lowerer<'_, '_, T>, items: &[E]) -> ward::Result<(u32, u32)> {
    let n = u32::try_from(items.len()).map_err(|_| trap("list too long"))?;
    let byte_len = (items.len() as u64).saturating_mul(E::SIZE as u64);
    let ptr = cx.allocate(E::ALIGN as u32, byte_len, "list")?;
    E::store_list(items, cx, ptr as usize)?;
    Ok((ptr, n))
}

/// Checks a lifted list's range and charges its host copy; then loads it.
fn load_list<E: Lift>(cx: &mut Lifter<'_>, ptr: u32, len: u32) -> ward::Result<Vec<E>> {
    let byte_len = (len as u64).saturating_mul(E::SIZE as u64);
    if byte_len > MAX_LIST_BYTE_LENGTH {
        return Err(trap("list content out-of-bounds: longer than the canonical ABI allows"));
    }
    cx.check_range(ptr as u64, byte_len, E::ALIGN as u32, "list")?;
    // The host copy: at least a byte per element, so a list of empty values is bounded too.
    let host = (len as u64).saturating_mul(std::mem::size_of::<E>().max(1) as u64);
    if host > MAX_LIFTED_BYTES {
        return Err(trap(format!(
            "the values lifted in one call take more than {} MiB of host memory",
            MAX_LIFTED_BYTES >> 20
        )));
    }
    cx.charge(host)?;
    E::load_list(cx, ptr as usize, len as usize)
}

impl<E: ComponentType> ComponentType for [E] {
    const SIZE: usize = 8;
    const ALIGN: usize = 4;
    const FLAT: usize = 2;
    const PLAIN: bool = false;

    fn typecheck(ty: &Type) -> Result<(), String> {
        match ty {
            Type::List(elem) => E::typecheck(elem).map_err(|e| format!("list element: {e}")),
            _ => Err(mismatch::<Self>(ty)),
        }
    }
}

impl<E: Lower> Lower for [E] {
    #[inline]
    fn lower<T>(&self, cx: &mut Lowerer<'_, '_, T>, out: &mut FlatValues) -> ward::Result<()> {
        let (p, n) = store_list(cx, self)?;
        out.push(p as u64);
        out.push(n as u64);
        Ok(())
    }

    #[inline]
    fn store<T>(&self, cx: &mut Lowerer<'_, '_, T>, ptr: usize) -> ward::Result<()> {
        let (p, n) = store_list(cx, self)?;
        store_pair(cx, ptr, p, n)
    }
}

impl<E: ComponentType> ComponentType for Vec<E> {
    const SIZE: usize = 8;
    const ALIGN: usize = 4;
    const FLAT: usize = 2;
    const PLAIN: bool = false;

    fn typecheck(ty: &Type) -> Result<(), String> {
        <[E]>::typecheck(ty)
    }
}

impl<E: Lower> Lower for Vec<E> {
    #[inline]
    fn lower<T>(&self, cx: &mut Lowerer<'_, '_, T>, out: &mut FlatValues) -> ward::Result<()> {
        self.as_slice().lower(cx, out)
    }

    #[inline]
    fn store<T>(&self, cx: &mut Lowerer<'_, '_, T>, ptr: usize) -> ward::Result<()> {
        self.as_slice().store(cx, ptr)
    }
}

impl<E: Lift> Lift for Vec<E> {
    #[inline]
    fn lift(cx: &mut Lifter<'_>, src: &mut FlatSource<'_>) -> ward::Result<Self> {
        let (p, n) = (src.next_bits()? as u32, src.next_bits()? as u32);
        load_list(cx, p, n)
    }

    #[inline]
    fn load(cx: &mut Lifter<'_>, ptr: usize) -> ward::Result<Self> {
        let (p, n) = load_pair(cx, ptr)?;
        load_list(cx, p, n)
    }
}

/// Stores a map's `n` entries as a list of `tuple<K, V>`; returns (pointer, length).
fn store_map<'a, K, V, T>(
    cx: &mut Lowerer<'_, '_, T>,
    n: usize,
    entries: impl Iterator<Item = (&'a K, &'a V)>,
) -> ward::Result<(u32, u32)>
where
    K: Lower + 'a,
    V: Lower + 'a,
{
    let size = <(K, V)>::SIZE;
    let value_at = align_up(K::SIZE, V::ALIGN);
    let len = u32::try_from(n).map_err(|_| trap("map too long"))?;
    let ptr = cx.allocate(<(K, V)>::ALIGN as u32, (n as u64).saturating_mul(size as u64), "map")?;
    for (i, (k, v)) in entries.take(n).enumerate() {
        let at = ptr as usize + i * size;
        k.store(cx, at)?;
        v.store(cx, at + value_at)?;
    }
    Ok((ptr, len))
}

/// Checks a lifted map's range and charges its host copy; then passes each entry to `insert`.
fn load_map<K: Lift, V: Lift>(
    cx: &mut Lifter<'_>,
    ptr: u32,
    len: u32,
    mut insert: impl FnMut(K, V),
) -> ward::Result<()> {
    let size = <(K, V)>::SIZE;
    let byte_len = (len as u64).saturating_mul(size as u64);
    if byte_len > MAX_LIST_BYTE_LENGTH {
        return Err(trap("map content out-of-bounds: longer than the canonical ABI allows"));
    }
    cx.check_range(ptr as u64, byte_len, <(K, V)>::ALIGN as u32, "map")?;
    let host = (len as u64).saturating_mul(std::mem::size_of::<(K, V)>().max(1) as u64);
    cx.charge(host)?;
    let value_at = align_up(K::SIZE, V::ALIGN);
    for i in 0..len as usize {
        let at = ptr as usize + i * size;
        let k = K::load(cx, at)?;
        insert(k, V::load(cx, at + value_at)?);
    }
    Ok(())
}

fn typecheck_map<K: ComponentType, V: ComponentType, M: ?Sized>(ty: &Type) -> Result<(), String> {
    match ty {
        Type::Map(k, v) => {
            K::typecheck(k).map_err(|e| format!("map key: {e}"))?;
            V::typecheck(v).map_err(|e| format!("map value: {e}"))
        }
        _ => Err(mismatch::<M>(ty)),
    }
}

macro_rules! maps {
    ($($map:ident [$($bound:tt)*] [$($extra:ident: $($extra_bound:tt)*)?];)*) => {$(
        impl<K: ComponentType, V: ComponentType $(, $extra)?> ComponentType for $map<K, V $(, $extra)?> {
            const SIZE: usize = 8;
            const ALIGN: usize = 4;
            const FLAT: usize = 2;
            const PLAIN: bool = false;

            fn typecheck(ty: &Type) -> Result<(), String> {
                typecheck_map::<K, V, Self>(ty)
            }
        }

        impl<K: Lower, V: Lower $(, $extra)?> Lower for $map<K, V $(, $extra)?> {
            fn lower<T>(&self, cx: &mut Lowerer<'_, '_, T>, out: &mut FlatValues) -> ward::Result<()> {
                let (p, n) = store_map(cx, self.len(), self.iter())?;
                out.push(p as u64);
                out.push(n as u64);
                Ok(())
            }

            fn store<T>(&self, cx: &mut Lowerer<'_, '_, T>, ptr: usize) -> ward::Result<()> {
                let (p, n) = store_map(cx, self.len(), self.iter())?;
                store_pair(cx, ptr, p, n)
            }
        }

        impl<K: Lift + $($bound)*, V: Lift $(, $extra: $($extra_bound)*)?> Lift for $map<K, V $(, $extra)?> {
            fn lift(cx: &mut Lifter<'_>, src: &mut FlatSource<'_>) -> ward::Result<Self> {
                let (p, n) = (src.next_bits()? as u32, src.next_bits()? as u32);
                let mut map = Self::default();
                load_map(cx, p, n, |k, v| {
                    map.insert(k, v);
                })?;
                Ok(map)
            }

            fn load(cx: &mut Lifter<'_>, ptr: usize) -> ward::Result<Self> {
                let (p, n) = load_pair(cx, ptr)?;
                let mut map = Self::default();
                load_map(cx, p, n, |k, v| {
                    map.insert(k, v);
                })?;
                Ok(map)
            }
        }
    )*};
}

maps! {
    HashMap [Eq + std::hash::Hash] [S: std::hash::BuildHasher + Default];
    BTreeMap [Ord] [];
}

impl<R: ComponentType + ?Sized> ComponentType for &R {
    const SIZE: usize = R::SIZE;
    const ALIGN: usize = R::ALIGN;
    const FLAT: usize = R::FLAT;
    const PLAIN: bool = R::PLAIN;

    fn typecheck(ty: &Type) -> Result<(), String> {
        R::typecheck(ty)
    }

    fn typecheck_payload(ty: Option<&Type>) -> Result<(), String> {
        R::typecheck_payload(ty)
    }
}

impl<R: Lower + ?Sized> Lower for &R {
    #[inline]
    fn lower<T>(&self, cx: &mut Lowerer<'_, '_, T>, out: &mut FlatValues) -> ward::Result<()> {
        (**self).lower(cx, out)
    }

    #[inline]
    fn store<T>(&self, cx: &mut Lowerer<'_, '_, T>, ptr: usize) -> ward::Result<()> {
        (**self).store(cx, ptr)
    }

    #[inline]
    fn store_plain(&self, dst: &mut [u8]) {
        (**self).store_plain(dst)
    }
}

// ---------------------------------------------------------------------------------------------
// The unit, options and results

impl ComponentType for () {
    const SIZE: usize = 0;
    const ALIGN: usize = 1;
    const FLAT: usize = 0;
    const PLAIN: bool = true;

    fn typecheck(ty: &Type) -> Result<(), String> {
        match ty {
            Type::Tuple(ts) if ts.is_empty() => Ok(()),
            _ => Err(mismatch::<Self>(ty)),
        }
    }

    fn typecheck_payload(ty: Option<&Type>) -> Result<(), String> {
        match ty {
            None => Ok(()),
            Some(ty) => Self::typecheck(ty),
        }
    }
}

impl Lower for () {
    #[inline]
    fn lower<T>(&self, _: &mut Lowerer<'_, '_, T>, _: &mut FlatValues) -> ward::Result<()> {
        Ok(())
    }

    #[inline]
    fn store<T>(&self, _: &mut Lowerer<'_, '_, T>, _: usize) -> ward::Result<()> {
        Ok(())
    }
}

impl Lift for () {
    #[inline]
    fn lift(_: &mut Lifter<'_>, _: &mut FlatSource<'_>) -> ward::Result<Self> {
        Ok(())
    }

    #[inline]
    fn load(_: &mut Lifter<'_>, _: usize) -> ward::Result<Self> {
        Ok(())
    }
}

/// Where the payload of a two-case variant starts, and its layout.
const fn payload_offset(payload_align: usize) -> usize {
    align_up(1, payload_align)
}

#[doc(hidden)]
pub fn invalid_discriminant() -> ward::Error {
    trap("invalid variant discriminant")
}

/// Stores the low `size` bytes (1, 2 or 4) of `d` at `ptr`.
#[doc(hidden)]
pub fn store_discriminant<T>(
    cx: &mut Lowerer<'_, '_, T>,
    ptr: usize,
    d: u32,
    size: usize,
) -> ward::Result<()> {
    cx.write(ptr as u64, &d.to_le_bytes()[..size.min(4)])
}

/// Writes the low `size` bytes (1, 2 or 4) of `d` into `dst`.
#[doc(hidden)]
pub fn write_discriminant(dst: &mut [u8], d: u32, size: usize) {
    let size = size.min(4);
    if let Some(dst) = dst.get_mut(..size) {
        dst.copy_from_slice(&d.to_le_bytes()[..size]);
    }
}

/// Loads a `size`-byte (1, 2 or 4) discriminant or flags word from `ptr`.
#[doc(hidden)]
pub fn load_discriminant(cx: &mut Lifter<'_>, ptr: usize, size: usize) -> ward::Result<u32> {
    let mut b = [0u8; 4];
    let size = size.min(4);
    b[..size].copy_from_slice(cx.slice(ptr, size)?);
    Ok(u32::from_le_bytes(b))
}

/// Checks the names of an enum's or variant's cases (`what` = "case", matched with
/// [`case_matches`]) or of flags ("flag", `SCREAMING_SNAKE` matched as `snake_case` with
/// [`field_matches`]) against the component type's, in order.
#[doc(hidden)]
pub fn check_names(
    what: &str,
    name: &str,
    rust: &[&str],
    component: &[String],
) -> Result<(), String> {
    if rust.len() != component.len() {
        return Err(format!(
            "the component type has {} {what}s, `{name}` has {}",
            component.len(),
            rust.len()
        ));
    }
    for (i, (r, c)) in rust.iter().zip(component).enumerate() {
        let ok = match what {
            "flag" => field_matches(&r.to_ascii_lowercase(), c),
            _ => case_matches(r, c),
        };
        if !ok {
            return Err(format!(
                "{what} {i} of the component type is `{c}`, of `{name}` it is `{r}`"
            ));
        }
    }
    Ok(())
}

impl<V: ComponentType> ComponentType for Option<V> {
    const ALIGN: usize = max(1, V::ALIGN);
    const SIZE: usize = align_up(payload_offset(V::ALIGN) + V::SIZE, Self::ALIGN);
    const FLAT: usize = 1 + V::FLAT;
    const PLAIN: bool = V::PLAIN;

    fn typecheck(ty: &Type) -> Result<(), String> {
        match ty {
            Type::Option(t) => V::typecheck(t).map_err(|e| format!("option payload: {e}")),
            _ => Err(mismatch::<Self>(ty)),
        }
    }
}

/// Lowers case `disc` of a two-case variant (option, result) with payload `p` into `flat`
/// values in all (the payload slots joined: raw bits, so narrower payloads zero-extend).
fn lower_case<P: Lower + ?Sized, T>(
    cx: &mut Lowerer<'_, '_, T>,
    out: &mut FlatValues,
    flat: usize,
    disc: u64,
    p: &P,
) -> ward::Result<()> {
    let end = out.len() + flat;
    out.push(disc);
    p.lower(cx, out)?;
    out.pad_to(end);
    Ok(())
}

/// Stores case `disc` of a two-case variant at `ptr`, its payload `p` at `ptr + at`.
fn store_case<P: Lower + ?Sized, T>(
    cx: &mut Lowerer<'_, '_, T>,
    ptr: usize,
    at: usize,
    disc: u8,
    p: &P,
) -> ward::Result<()> {
    cx.write(ptr as u64, &[disc])?;
    p.store(cx, ptr + at)
}

/// [`store_case`] for plain payloads, into `dst`.
fn store_plain_case<P: Lower + ?Sized>(dst: &mut [u8], at: usize, disc: u8, p: &P) {
    if let Some(d) = dst.first_mut() {
        *d = disc;
    }
    if let Some(rest) = dst.get_mut(at..) {
        p.store_plain(rest);
    }
}

/// Reads the discriminant of a two-case variant from its flat values, lifts the chosen case
/// with `case` and skips the rest of the `flat` values.
fn lift_case<R>(
    cx: &mut Lifter<'_>,
    src: &mut FlatSource<'_>,
    flat: usize,
    case: impl FnOnce(&mut Lifter<'_>, &mut FlatSource<'_>, bool) -> ward::Result<R>,
) -> ward::Result<R> {
    let end = src.position() + flat;
    let v = match src.next_bits()? as u32 {
        d @ (0 | 1) => case(cx, src, d == 1)?,
        _ => return Err(invalid_discriminant()),
    };
    src.skip_to(end);
    Ok(v)
}

/// The discriminant (0 or 1) of a two-case variant in memory.
fn load_case(cx: &mut Lifter<'_>, ptr: usize) -> ward::Result<bool> {
    match cx.bytes::<1>(ptr)?[0] {
        d @ (0 | 1) => Ok(d == 1),
        _ => Err(invalid_discriminant()),
    }
}

impl<V: Lower> Lower for Option<V> {
    #[inline]
    fn lower<T>(&self, cx: &mut Lowerer<'_, '_, T>, out: &mut FlatValues) -> ward::Result<()> {
        match self {
            None => lower_case(cx, out, Self::FLAT, 0, &()),
            Some(v) => lower_case(cx, out, Self::FLAT, 1, v),
        }
    }

    #[inline]
    fn store<T>(&self, cx: &mut Lowerer<'_, '_, T>, ptr: usize) -> ward::Result<()> {
        let at = payload_offset(V::ALIGN);
        match self {
            None => store_case(cx, ptr, at, 0, &()),
            Some(v) => store_case(cx, ptr, at, 1, v),
        }
    }

    #[inline]
    fn store_plain(&self, dst: &mut [u8]) {
        let at = payload_offset(V::ALIGN);
        match self {
            None => store_plain_case(dst, at, 0, &()),
            Some(v) => store_plain_case(dst, at, 1, v),
        }
    }
}

impl<V: Lift> Lift for Option<V> {
    #[inline]
    fn lift(cx: &mut Lifter<'_>, src: &mut FlatSource<'_>) -> ward::Result<Self> {
        lift_case(cx, src, Self::FLAT, |cx, src, some| match some {
            false => Ok(None),
            true => Ok(Some(V::lift(cx, src)?)),
        })
    }

    #[inline]
    fn load(cx: &mut Lifter<'_>, ptr: usize) -> ward::Result<Self> {
        match load_case(cx, ptr)? {
            false => Ok(None),
            true => Ok(Some(V::load(cx, ptr + payload_offset(V::ALIGN))?)),
        }
    }
}

impl<O: ComponentType, E: ComponentType> ComponentType for Result<O, E> {
    const ALIGN: usize = max(1, max(O::ALIGN, E::ALIGN));
    const SIZE: usize =
        align_up(payload_offset(max(O::ALIGN, E::ALIGN)) + max(O::SIZE, E::SIZE), Self::ALIGN);
    const FLAT: usize = 1 + max(O::FLAT, E::FLAT);
    const PLAIN: bool = O::PLAIN && E::PLAIN;

    fn typecheck(ty: &Type) -> Result<(), String> {
        match ty {
            Type::Result(ok, err) => {
                O::typecheck_payload(ok.as_deref()).map_err(|e| format!("result ok: {e}"))?;
                E::typecheck_payload(err.as_deref()).map_err(|e| format!("result error: {e}"))
            }
            _ => Err(mismatch::<Self>(ty)),
        }
    }
}

impl<O: Lower, E: Lower> Lower for Result<O, E> {
    #[inline]
    fn lower<T>(&self, cx: &mut Lowerer<'_, '_, T>, out: &mut FlatValues) -> ward::Result<()> {
        match self {
            Ok(v) => lower_case(cx, out, Self::FLAT, 0, v),
            Err(e) => lower_case(cx, out, Self::FLAT, 1, e),
        }
    }

    #[inline]
    fn store<T>(&self, cx: &mut Lowerer<'_, '_, T>, ptr: usize) -> ward::Result<()> {
        let at = payload_offset(max(O::ALIGN, E::ALIGN));
        match self {
            Ok(v) => store_case(cx, ptr, at, 0, v),
            Err(e) => store_case(cx, ptr, at, 1, e),
        }
    }

    #[inline]
    fn store_plain(&self, dst: &mut [u8]) {
        let at = payload_offset(max(O::ALIGN, E::ALIGN));
        match self {
            Ok(v) => store_plain_case(dst, at, 0, v),
            Err(e) => store_plain_case(dst, at, 1, e),
        }
    }
}

impl<O: Lift, E: Lift> Lift for Result<O, E> {
    #[inline]
    fn lift(cx: &mut Lifter<'_>, src: &mut FlatSource<'_>) -> ward::Result<Self> {
        lift_case(cx, src, Self::FLAT, |cx, src, err| match err {
            false => Ok(Ok(O::lift(cx, src)?)),
            true => Ok(Err(E::lift(cx, src)?)),
        })
    }

    #[inline]
    fn load(cx: &mut Lifter<'_>, ptr: usize) -> ward::Result<Self> {
        let at = ptr + payload_offset(max(O::ALIGN, E::ALIGN));
        match load_case(cx, ptr)? {
            false => Ok(Ok(O::load(cx, at)?)),
            true => Ok(Err(E::load(cx, at)?)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tuples, parameter lists and results

/// The parameters of a typed function: a tuple of [`Lower`] types, one per parameter.
pub trait ComponentParams {
    /// `Ok` if the tuple's types stand for the parameters `params`.
    fn typecheck_params(params: &[(String, Type)]) -> Result<(), String>;

    /// Lowers the parameters: flat, or (`spilled`) stored in a tuple allocated in guest memory
    /// whose address is the one flat value.
    fn lower_params<T>(
        &self,
        cx: &mut Lowerer<'_, '_, T>,
        spilled: bool,
        out: &mut FlatValues,
    ) -> ward::Result<()>;
}

/// The results of a typed function: `()` for none, `(R,)` for one [`Lift`] type.
pub trait ComponentResults: Sized {
    /// `Ok` if this stands for the function's result type.
    fn typecheck_results(result: Option<&Type>) -> Result<(), String>;

    /// Lifts the results from the core results: flat, or (`spilled`) from the memory the one
    /// core result points to.
    fn lift_results(cx: &mut Lifter<'_>, spilled: bool, flat: &[u64]) -> ward::Result<Self>;
}

/// The parameters of a host function defined with [`Linker::func_wrap`](crate::Linker::func_wrap):
/// a tuple with one [`Lift`] type per parameter.
pub trait HostParams: Sized {
    /// `Ok` if the tuple's types stand for the parameters `params`.
    fn typecheck_params(params: &[(String, Type)]) -> Result<(), String>;

    /// Lifts the parameters from the core arguments: flat, or (`spilled`) from the tuple the
    /// first core argument points to.
    fn lift_params(cx: &mut Lifter<'_>, spilled: bool, flat: &[u64]) -> ward::Result<Self>;
}

/// The results of a host function defined with [`Linker::func_wrap`](crate::Linker::func_wrap):
/// `()` for none, `(R,)` for one [`Lower`] type.
pub trait HostResults {
    /// `Ok` if this stands for the function's result type.
    fn typecheck_results(result: Option<&Type>) -> Result<(), String>;

    /// Lowers the results into the caller's core results, or into its memory when they do
    /// not fit.
    fn lower_results<T>(
        &self,
        cx: &mut Lowerer<'_, '_, T>,
        out: &mut ResultSlots<'_>,
    ) -> ward::Result<()>;
}

/// Where a host function's results go: the core results of the lowered function (of the given
/// core types), or (`spilled`) the caller's memory at the address it passed.
pub struct ResultSlots<'a> {
    spilled: bool,
    out_ptr: Option<u64>,
    out: &'a mut [ward::Val],
    core: &'a [crate::types::Flat],
}

/// A [`ComponentType::typecheck`].
type Check = fn(&Type) -> Result<(), String>;

/// Checks parameter types one by one with `checks` (one per Rust parameter).
fn check_params(params: &[(String, Type)], checks: &[Check]) -> Result<(), String> {
    if params.len() != checks.len() {
        return Err(format!(
            "the function takes {} parameters, the Rust tuple has {}",
            params.len(),
            checks.len()
        ));
    }
    for (i, ((name, ty), check)) in params.iter().zip(checks).enumerate() {
        check(ty).map_err(|e| format!("parameter {i} (`{name}`): {e}"))?;
    }
    Ok(())
}

/// Checks a function's result against `R` (None: the Rust results are `()`).
fn check_result<R: ComponentType>(result: Option<&Type>, rust: bool) -> Result<(), String> {
    match (result, rust) {
        (None, false) => Ok(()),
        (Some(ty), true) => R::typecheck(ty).map_err(|e| format!("result: {e}")),
        (Some(ty), false) => Err(format!("the function returns `{ty}`, the Rust results are `()`")),
        (None, true) => Err(format!(
            "the function returns nothing, the Rust results are `({},)`",
            std::any::type_name::<R>()
        )),
    }
}

impl HostParams for () {
    fn typecheck_params(params: &[(String, Type)]) -> Result<(), String> {
        check_params(params, &[])
    }

    fn lift_params(_: &mut Lifter<'_>, _: bool, _: &[u64]) -> ward::Result<Self> {
        Ok(())
    }
}

impl HostResults for () {
    fn typecheck_results(result: Option<&Type>) -> Result<(), String> {
        check_result::<()>(result, false)
    }

    fn lower_results<T>(
        &self,
        _: &mut Lowerer<'_, '_, T>,
        _: &mut ResultSlots<'_>,
    ) -> ward::Result<()> {
        Ok(())
    }
}

impl<R: Lower> HostResults for (R,) {
    fn typecheck_results(result: Option<&Type>) -> Result<(), String> {
        check_result::<R>(result, true)
    }

    fn lower_results<T>(
        &self,
        cx: &mut Lowerer<'_, '_, T>,
        out: &mut ResultSlots<'_>,
    ) -> ward::Result<()> {
        if out.spilled {
            let ptr = out.out_ptr.ok_or_else(|| trap("missing result pointer"))? as u32;
            cx.check_range_mut(ptr as u64, R::SIZE as u64, R::ALIGN as u32)?;
            return self.0.store(cx, ptr as usize);
        }
        let mut flat = FlatValues::new();
        self.0.lower(cx, &mut flat)?;
        for ((slot, bits), t) in out.out.iter_mut().zip(flat.values()?).zip(out.core) {
            *slot = crate::abi::core_val(*t, *bits);
        }
        Ok(())
    }
}

impl ComponentParams for () {
    fn typecheck_params(params: &[(String, Type)]) -> Result<(), String> {
        check_params(params, &[])
    }

    fn lower_params<T>(
        &self,
        _: &mut Lowerer<'_, '_, T>,
        _: bool,
        _: &mut FlatValues,
    ) -> ward::Result<()> {
        Ok(())
    }
}

impl ComponentResults for () {
    fn typecheck_results(result: Option<&Type>) -> Result<(), String> {
        check_result::<()>(result, false)
    }

    fn lift_results(_: &mut Lifter<'_>, _: bool, _: &[u64]) -> ward::Result<Self> {
        Ok(())
    }
}

impl<R: Lift> ComponentResults for (R,) {
    fn typecheck_results(result: Option<&Type>) -> Result<(), String> {
        check_result::<R>(result, true)
    }

    fn lift_results(cx: &mut Lifter<'_>, spilled: bool, flat: &[u64]) -> ward::Result<Self> {
        if spilled {
            let ptr = *flat.first().ok_or_else(|| trap("missing result pointer"))? as u32;
            cx.check_range(ptr as u64, R::SIZE as u64, R::ALIGN as u32, "result")?;
            return Ok((R::load(cx, ptr as usize)?,));
        }
        Ok((R::lift(cx, &mut FlatSource::new(flat))?,))
    }
}

macro_rules! tuples {
    ($(($($n:tt $t:ident),+))*) => {$(
        impl<$($t: ComponentType),+> ComponentType for ($($t,)+) {
            const ALIGN: usize = { let mut a = 1; $(a = max(a, $t::ALIGN);)+ a };
            const SIZE: usize = {
                let mut s = 0;
                $(s = align_up(s, $t::ALIGN) + $t::SIZE;)+
                align_up(s, Self::ALIGN)
            };
            const FLAT: usize = 0 $(+ $t::FLAT)+;
            const PLAIN: bool = true $(&& $t::PLAIN)+;

            fn typecheck(ty: &Type) -> Result<(), String> {
                const N: usize = [$($n),+].len();
                match ty {
                    Type::Tuple(ts) if ts.len() == N => {
                        $($t::typecheck(&ts[$n]).map_err(|e| format!("tuple element {}: {e}", $n))?;)+
                        Ok(())
                    }
                    _ => Err(mismatch::<Self>(ty)),
                }
            }
        }

        impl<$($t: Lower),+> Lower for ($($t,)+) {
            #[inline]
            fn lower<TT>(&self, cx: &mut Lowerer<'_, '_, TT>, out: &mut FlatValues) -> ward::Result<()> {
                $(self.$n.lower(cx, out)?;)+
                Ok(())
            }

            #[inline]
            fn store<TT>(&self, cx: &mut Lowerer<'_, '_, TT>, ptr: usize) -> ward::Result<()> {
                let mut _off = 0;
                $(
                    _off = align_up(_off, $t::ALIGN);
                    self.$n.store(cx, ptr + _off)?;
                    _off += $t::SIZE;
                )+
                Ok(())
            }

            #[inline]
            fn store_plain(&self, dst: &mut [u8]) {
                let mut _off = 0;
                $(
                    _off = align_up(_off, $t::ALIGN);
                    if let Some(d) = dst.get_mut(_off..) {
                        self.$n.store_plain(d);
                    }
                    _off += $t::SIZE;
                )+
            }
        }

        impl<$($t: Lift),+> Lift for ($($t,)+) {
            #[inline]
            fn lift(cx: &mut Lifter<'_>, src: &mut FlatSource<'_>) -> ward::Result<Self> {
                Ok(($($t::lift(cx, src)?,)+))
            }

            #[inline]
            fn load(cx: &mut Lifter<'_>, ptr: usize) -> ward::Result<Self> {
                let mut _off = 0;
                Ok(($({
                    _off = align_up(_off, $t::ALIGN);
                    let v = $t::load(cx, ptr + _off)?;
                    _off += $t::SIZE;
                    v
                },)+))
            }
        }

        impl<$($t: Lower),+> ComponentParams for ($($t,)+) {
            fn typecheck_params(params: &[(String, Type)]) -> Result<(), String> {
                check_params(params, &[$($t::typecheck),+])
            }

            fn lower_params<TT>(
                &self,
                cx: &mut Lowerer<'_, '_, TT>,
                spilled: bool,
                out: &mut FlatValues,
            ) -> ward::Result<()> {
                if !spilled {
                    return self.lower(cx, out);
                }
                let ptr = cx.allocate(Self::ALIGN as u32, Self::SIZE as u64, "tuple")?;
                self.store(cx, ptr as usize)?;
                out.push(ptr as u64);
                Ok(())
            }
        }

        impl<$($t: Lift),+> HostParams for ($($t,)+) {
            fn typecheck_params(params: &[(String, Type)]) -> Result<(), String> {
                check_params(params, &[$($t::typecheck),+])
            }

            fn lift_params(cx: &mut Lifter<'_>, spilled: bool, flat: &[u64]) -> ward::Result<Self> {
                if !spilled {
                    return Self::lift(cx, &mut FlatSource::new(flat));
                }
                let ptr = *flat.first().ok_or_else(|| trap("missing parameter pointer"))? as u32;
                cx.check_range(ptr as u64, Self::SIZE as u64, Self::ALIGN as u32, "tuple")?;
                Self::load(cx, ptr as usize)
            }
        }
    )*};
}

tuples! {
    (0 A)
    (0 A, 1 B)
    (0 A, 1 B, 2 C)
    (0 A, 1 B, 2 C, 3 D)
    (0 A, 1 B, 2 C, 3 D, 4 E)
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F)
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G)
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H)
}

// ---------------------------------------------------------------------------------------------
// Typed functions

/// A component function whose parameters and result are Rust types, checked once against its
/// type: `Params` is a tuple with one [`Lower`] type per parameter, `Results` is `()` or a
/// one-tuple of a [`Lift`] type.
///
/// ```
/// use ward_component::{Component, Linker};
/// let engine = ward::Engine::default();
/// let component = Component::new(&engine, r#"(component
///   (core module $m
///     (memory (export "mem") 1)
///     (global $next (mut i32) (i32.const 1024))
///     (func (export "realloc") (param i32 i32 i32 i32) (result i32)
///       (local $r i32)
///       (local.set $r (global.get $next))
///       (global.set $next (i32.add (global.get $next) (local.get 3)))
///       (local.get $r))
///     (func (export "count") (param i32 i32 i32) (result i32)
///       (i32.add (local.get 1) (local.get 2))))
///   (core instance $i (instantiate $m))
///   (func (export "count") (param "s" string) (param "n" u32) (result u32)
///     (canon lift (core func $i "count")
///       (memory (core memory $i "mem")) (realloc (core func $i "realloc")))))"#)?;
/// let mut store = ward::Store::new(&engine, ());
/// let instance = Linker::new(&engine).instantiate(&mut store, &component)?;
/// let count = instance.get_typed_func::<(&str, u32), (u32,)>(&mut store, "count")?;
/// assert_eq!(count.call(&mut store, ("hello", 10))?, (15,));
///
/// let err = instance.get_typed_func::<(&str, u64), (u32,)>(&mut store, "count").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "type mismatch for `count`: parameter 1 (`n`): component type `u32` does not match Rust type `u64`"
/// );
/// # Ok::<(), ward_component::Error>(())
/// ```
pub struct TypedFunc<Params, Results> {
    func: Func,
    _signature: PhantomData<fn(Params) -> Results>,
}

impl<P, R> Clone for TypedFunc<P, R> {
    fn clone(&self) -> Self {
        TypedFunc { func: self.func.clone(), _signature: PhantomData }
    }
}

impl<P, R> fmt::Debug for TypedFunc<P, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TypedFunc").field(&self.func).finish()
    }
}

impl<P: ComponentParams, R: ComponentResults> TypedFunc<P, R> {
    /// Checks `func` against `P` and `R` (`name` is for the message).
    pub(crate) fn new(func: &Func, name: &str) -> Result<TypedFunc<P, R>, Error> {
        let what = match name {
            "" => "this function".to_string(),
            _ => format!("`{name}`"),
        };
        let Some(ty) = func.ty() else {
            return Err(Error::Usage(format!("{what} is a host function without a type yet")));
        };
        if func.as_lifted().is_none() {
            return Err(Error::Unsupported(format!(
                "typed calls of host functions ({what}); call it with `Func::call`"
            )));
        }
        let mismatch = |e: String| Error::TypeMismatch(format!("for {what}: {e}"));
        P::typecheck_params(ty.params()).map_err(mismatch)?;
        R::typecheck_results(ty.result()).map_err(mismatch)?;
        Ok(TypedFunc { func: func.clone(), _signature: PhantomData })
    }

    /// Calls the function: lowers `params` into the component, runs it, lifts its result, and
    /// runs its `post-return` (if any) before returning. Traps are [`Error::Wasm`].
    pub fn call<T: 'static>(
        &self,
        mut store: impl AsContextMut<Data = T>,
        params: P,
    ) -> Result<R, Error> {
        let Some((lifted, plan)) = self.func.as_lifted() else {
            return Err(Error::Usage("not a lifted function".into()));
        };
        let mut ctx = store.as_context_mut();
        let lower = |cx: &mut Lowerer<'_, '_, T>, out: &mut FlatValues| {
            params.lower_params(cx, plan.params_spilled, out)
        };
        let lift =
            |cx: &mut Lifter<'_>, flat: &[u64]| R::lift_results(cx, plan.results_spilled, flat);
        call_lifted(&mut ctx, lifted, plan, None, lower, lift).map_err(Error::Wasm)
    }

    /// The untyped function.
    pub fn func(&self) -> &Func {
        &self.func
    }
}

impl Func {
    /// This function as a [`TypedFunc`], after checking its type against `P` and `R`.
    pub fn typed<P: ComponentParams, R: ComponentResults>(&self) -> Result<TypedFunc<P, R>, Error> {
        TypedFunc::new(self, "")
    }
}

impl<T: 'static> crate::Linker<T> {
    /// Defines host function `name` in instance `instance` (as [`func_new`]) with Rust
    /// parameter types `P` (a tuple of [`Lift`] types) and result `R` (`()` or a one-tuple of
    /// a [`Lower`] type): the arguments are lifted straight out of the calling component's
    /// memory and the result is lowered straight into it. The types are checked against the
    /// import's type when a component is instantiated ([`Error::IncompatibleImport`] says what
    /// does not match). An error the function returns traps the calling component.
    ///
    /// ```
    /// use ward_component::{Component, Linker};
    /// let engine = ward::Engine::default();
    /// let mut linker = Linker::<u32>::new(&engine);
    /// linker.func_wrap("host:demo/text", "count", |mut store, (s, c): (String, char)| {
    ///     *store.data_mut() += 1;
    ///     Ok((s.matches(c).count() as u32,))
    /// })?;
    /// let component = Component::new(&engine, r#"(component
    ///   (import "host:demo/text" (instance $t
    ///     (export "count" (func (param "s" string) (param "c" char) (result u32)))))
    ///   (alias export $t "count" (func $count))
    ///   (core module $m
    ///     (memory (export "mem") 1)
    ///     (data (i32.const 16) "banana")
    ///     (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 64)))
    ///   (core instance $m (instantiate $m))
    ///   (core func $count (canon lower (func $count) (memory (core memory $m "mem"))))
    ///   (core module $main
    ///     (import "" "count" (func $count (param i32 i32 i32) (result i32)))
    ///     (func (export "run") (result i32)
    ///       (call $count (i32.const 16) (i32.const 6) (i32.const 0x61))))
    ///   (core instance $main (instantiate $main (with "" (instance (export "count" (func $count))))))
    ///   (func (export "run") (result u32) (canon lift (core func $main "run"))))"#)?;
    /// let mut store = ward::Store::new(&engine, 0);
    /// let instance = linker.instantiate(&mut store, &component)?;
    /// let run = instance.get_typed_func::<(), (u32,)>(&mut store, "run")?;
    /// assert_eq!(run.call(&mut store, ())?, (3,));
    /// assert_eq!(*store.data(), 1);
    /// # Ok::<(), ward_component::Error>(())
    /// ```
    ///
    /// [`func_new`]: crate::Linker::func_new
    pub fn func_wrap<P, R, F>(&mut self, instance: &str, name: &str, f: F) -> Result<(), Error>
    where
        P: HostParams + 'static,
        R: HostResults + 'static,
        F: Fn(ward::StoreContextMut<'_, T>, P) -> Result<R, Error> + Send + Sync + 'static,
    {
        let entry: std::sync::Arc<TypedHostFn<T>> = std::sync::Arc::new(
            move |ctx: &mut ward::StoreContextMut<'_, T>,
                  call: &HostCall<'_>,
                  args: &[u64],
                  out: &mut [ward::Val]| {
                let params = {
                    let mem: &[u8] = match call.opts.memory {
                        Some(m) => m.data(&*ctx),
                        None => &[],
                    };
                    let mut cx = Lifter {
                        opts: call.opts,
                        inst: call.inst,
                        mem,
                        side: Side::Guest,
                        lenders: Vec::new(),
                        lifted: 0,
                    };
                    P::lift_params(&mut cx, call.plan.params_spilled, args)?
                };
                let results = f(ctx.as_context_mut(), params).map_err(Error::into_wasm)?;
                let out_ptr = args.get(call.plan.core_params.len()).copied();
                let mut cx = Lowerer::new(ctx, call.opts, call.inst, 0, Side::Guest);
                let mut slots = ResultSlots {
                    spilled: call.plan.results_spilled,
                    out_ptr,
                    out,
                    core: call.core_results,
                };
                results.lower_results(&mut cx, &mut slots)
            },
        );
        fn check<P: HostParams, R: HostResults>(ty: &crate::FuncType) -> Result<(), String> {
            P::typecheck_params(ty.params())?;
            R::typecheck_results(ty.result())
        }
        let host = TypedHost { f: std::sync::Arc::new(entry), check: check::<P, R> };
        self.member(instance, name, crate::instance::Item::Func(Func::typed_host(host)))
    }
}
