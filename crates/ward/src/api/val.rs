//! [`Val`]: a dynamically typed WebAssembly value, and its encodings in interpreter slots and
//! global cells.

use super::anyref::AnyRef;
use super::context::AsContext;
use super::externref::{ExnRef, ExternRef};
use super::func::Func;
use super::store::wrong_store;
use crate::error::{Error, Result};
use crate::types::{HeapType, RefType, ValType};

/// A WebAssembly value of any type.
///
/// Floats are kept as their bit patterns, so that NaN payloads survive a round trip; equality
/// (`==`) compares bits.
///
/// ```
/// use ward::Val;
/// let v = Val::from(1.5f32);
/// assert_eq!(v.f32(), Some(1.5));
/// assert_eq!(Val::from(7i32).i32(), Some(7));
/// assert_eq!(Val::I64(3).i32(), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Val {
    /// An `i32`.
    I32(i32),
    /// An `i64`.
    I64(i64),
    /// An `f32`, as its bits.
    F32(u32),
    /// An `f64`, as its bits.
    F64(u64),
    /// A `v128`.
    V128(u128),
    /// A function reference, or null.
    FuncRef(Option<Func>),
    /// A host reference, or null.
    ExternRef(Option<ExternRef>),
    /// An exception reference, or null.
    ExnRef(Option<ExnRef>),
    /// A reference of the internal hierarchy (`anyref`, `eqref`, `i31ref`, structs and arrays),
    /// or null.
    AnyRef(Option<AnyRef>),
}

impl Val {
    /// The value's type. References report their abstract type (`funcref`, `externref`,
    /// `exnref`).
    ///
    /// Panics with `object used with the wrong store` if the value is a reference into another
    /// store.
    ///
    /// ```
    /// use ward::{Engine, Store, Val, ValType};
    /// let store = Store::new(&Engine::default(), ());
    /// assert_eq!(Val::I64(1).ty(&store), ValType::I64);
    /// assert_eq!(Val::FuncRef(None).ty(&store), ValType::FUNCREF);
    /// ```
    pub fn ty(&self, store: impl AsContext) -> ValType {
        let store = store.as_context();
        let id = store.0.id();
        let owner = match self {
            Val::FuncRef(Some(f)) => Some(f.store_id),
            Val::ExternRef(Some(r)) => Some(r.store_id),
            Val::ExnRef(Some(e)) => Some(e.store_id),
            Val::AnyRef(Some(r)) => Some(r.store_id),
            _ => None,
        };
        if owner.is_some_and(|o| o != id) {
            wrong_store()
        }
        self.kind_type()
    }

    /// The type of the value without a store check (abstract types for references).
    pub(crate) fn kind_type(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
            Val::V128(_) => ValType::V128,
            Val::FuncRef(_) => ValType::FUNCREF,
            Val::ExternRef(_) => ValType::EXTERNREF,
            Val::ExnRef(_) => ValType::Ref(RefType::EXNREF),
            Val::AnyRef(_) => ValType::ANYREF,
        }
    }

    /// The null reference of a reference type.
    ///
    /// ```
    /// use ward::{RefType, Val};
    /// assert_eq!(Val::null_of(RefType::FUNCREF), Val::FuncRef(None));
    /// assert_eq!(Val::null_of(RefType::EXTERNREF), Val::ExternRef(None));
    /// assert_eq!(Val::null_of(RefType::I31REF), Val::AnyRef(None));
    /// ```
    pub fn null_of(ty: RefType) -> Val {
        match ty.top() {
            HeapType::Func => Val::FuncRef(None),
            HeapType::Exn => Val::ExnRef(None),
            HeapType::Extern => Val::ExternRef(None),
            _ => Val::AnyRef(None),
        }
    }

    /// The `i32`, if this is one.
    ///
    /// ```
    /// assert_eq!(ward::Val::I32(-1).i32(), Some(-1));
    /// ```
    pub fn i32(&self) -> Option<i32> {
        match self {
            Val::I32(v) => Some(*v),
            _ => None,
        }
    }

    /// The `i64`, if this is one.
    ///
    /// ```
    /// assert_eq!(ward::Val::I64(-1).i64(), Some(-1));
    /// ```
    pub fn i64(&self) -> Option<i64> {
        match self {
            Val::I64(v) => Some(*v),
            _ => None,
        }
    }

    /// The `f32`, if this is one.
    ///
    /// ```
    /// assert_eq!(ward::Val::F32(1.0f32.to_bits()).f32(), Some(1.0));
    /// ```
    pub fn f32(&self) -> Option<f32> {
        match self {
            Val::F32(v) => Some(f32::from_bits(*v)),
            _ => None,
        }
    }

    /// The `f64`, if this is one.
    ///
    /// ```
    /// assert_eq!(ward::Val::from(2.5f64).f64(), Some(2.5));
    /// ```
    pub fn f64(&self) -> Option<f64> {
        match self {
            Val::F64(v) => Some(f64::from_bits(*v)),
            _ => None,
        }
    }

    /// The `v128`, if this is one.
    ///
    /// ```
    /// assert_eq!(ward::Val::V128(5).v128(), Some(5));
    /// ```
    pub fn v128(&self) -> Option<u128> {
        match self {
            Val::V128(v) => Some(*v),
            _ => None,
        }
    }

    /// The function reference (`Some(None)` for null), if this is a `funcref`.
    ///
    /// ```
    /// assert_eq!(ward::Val::FuncRef(None).funcref(), Some(None));
    /// assert_eq!(ward::Val::I32(0).funcref(), None);
    /// ```
    pub fn funcref(&self) -> Option<Option<Func>> {
        match self {
            Val::FuncRef(f) => Some(*f),
            _ => None,
        }
    }

    /// The host reference (`Some(None)` for null), if this is an `externref`.
    ///
    /// ```
    /// assert_eq!(ward::Val::ExternRef(None).externref(), Some(None));
    /// ```
    pub fn externref(&self) -> Option<Option<ExternRef>> {
        match self {
            Val::ExternRef(r) => Some(*r),
            _ => None,
        }
    }

    /// The exception reference (`Some(None)` for null), if this is an `exnref`.
    ///
    /// ```
    /// assert_eq!(ward::Val::ExnRef(None).exnref(), Some(None));
    /// ```
    pub fn exnref(&self) -> Option<Option<ExnRef>> {
        match self {
            Val::ExnRef(r) => Some(*r),
            _ => None,
        }
    }

    /// The internal reference (`Some(None)` for null), if this is an `anyref`.
    ///
    /// ```
    /// assert_eq!(ward::Val::AnyRef(None).anyref(), Some(None));
    /// ```
    pub fn anyref(&self) -> Option<Option<AnyRef>> {
        match self {
            Val::AnyRef(r) => Some(*r),
            _ => None,
        }
    }

    /// Whether this is a null reference.
    ///
    /// ```
    /// assert!(ward::Val::FuncRef(None).is_null());
    /// assert!(!ward::Val::I32(0).is_null());
    /// ```
    pub fn is_null(&self) -> bool {
        matches!(
            self,
            Val::FuncRef(None) | Val::ExternRef(None) | Val::ExnRef(None) | Val::AnyRef(None)
        )
    }

    /// The `i32`; panics if this is not one.
    ///
    /// ```
    /// assert_eq!(ward::Val::I32(4).unwrap_i32(), 4);
    /// ```
    #[track_caller]
    pub fn unwrap_i32(&self) -> i32 {
        self.i32().unwrap_or_else(|| panic!("expected an i32, found {self:?}"))
    }

    /// The `i64`; panics if this is not one.
    ///
    /// ```
    /// assert_eq!(ward::Val::I64(4).unwrap_i64(), 4);
    /// ```
    #[track_caller]
    pub fn unwrap_i64(&self) -> i64 {
        self.i64().unwrap_or_else(|| panic!("expected an i64, found {self:?}"))
    }

    /// The `f32`; panics if this is not one.
    ///
    /// ```
    /// assert_eq!(ward::Val::from(0.5f32).unwrap_f32(), 0.5);
    /// ```
    #[track_caller]
    pub fn unwrap_f32(&self) -> f32 {
        self.f32().unwrap_or_else(|| panic!("expected an f32, found {self:?}"))
    }

    /// The `f64`; panics if this is not one.
    ///
    /// ```
    /// assert_eq!(ward::Val::from(0.5f64).unwrap_f64(), 0.5);
    /// ```
    #[track_caller]
    pub fn unwrap_f64(&self) -> f64 {
        self.f64().unwrap_or_else(|| panic!("expected an f64, found {self:?}"))
    }

    /// The raw reference encoding of a reference value (a function's record address,
    /// `index + 1` for exception references, the `runtime::gc::refs` encoding for host and
    /// internal references, 0 for null). Errors if a non-null reference belongs to another
    /// store.
    pub(crate) fn ref_raw(&self, store_id: u64) -> Result<u64> {
        let (owner, raw) = match self {
            Val::FuncRef(Some(f)) => (f.store_id, f.raw),
            Val::ExternRef(Some(r)) => (r.store_id, r.raw),
            Val::AnyRef(Some(r)) => (r.store_id, r.raw),
            Val::ExnRef(Some(e)) => (e.store_id, u64::from(e.index) + 1),
            _ => return Ok(0),
        };
        if owner != store_id {
            return Err(cross_store());
        }
        Ok(raw)
    }

    /// Appends the slot encoding of the value (one slot; two for `v128`, low half first).
    pub(crate) fn push_slots(&self, store_id: u64, out: &mut Vec<u64>) -> Result<()> {
        match *self {
            Val::I32(v) => out.push(u64::from(v as u32)),
            Val::I64(v) => out.push(v as u64),
            Val::F32(v) => out.push(u64::from(v)),
            Val::F64(v) => out.push(v),
            Val::V128(v) => {
                out.push(v as u64);
                out.push((v >> 64) as u64);
            }
            _ => out.push(self.ref_raw(store_id)?),
        }
        Ok(())
    }

    /// The value of type `ty` encoded in `slots` (one slot; two for `v128`).
    pub(crate) fn from_slots(ty: ValType, slots: &[u64], store_id: u64) -> Val {
        match ty {
            ValType::V128 => Val::V128(u128::from(slots[0]) | (u128::from(slots[1]) << 64)),
            _ => Val::from_bits(ty, u128::from(slots[0]), store_id),
        }
    }

    /// The global-cell encoding of the value: low bits of a `u128`.
    pub(crate) fn to_bits(self, store_id: u64) -> Result<u128> {
        Ok(match self {
            Val::I32(v) => u128::from(v as u32),
            Val::I64(v) => u128::from(v as u64),
            Val::F32(v) => u128::from(v),
            Val::F64(v) => u128::from(v),
            Val::V128(v) => v,
            _ => u128::from(self.ref_raw(store_id)?),
        })
    }

    /// The value of type `ty` encoded as `bits` (the global-cell encoding).
    pub(crate) fn from_bits(ty: ValType, bits: u128, store_id: u64) -> Val {
        match ty {
            ValType::I32 => Val::I32(bits as u32 as i32),
            ValType::I64 => Val::I64(bits as u64 as i64),
            ValType::F32 => Val::F32(bits as u32),
            ValType::F64 => Val::F64(bits as u64),
            ValType::V128 => Val::V128(bits),
            ValType::Ref(r) => Val::from_raw_ref(r, bits as u64, store_id),
        }
    }

    /// The reference of type `ty` whose raw encoding is `raw` (see `ref_raw`), taken from a
    /// slot, global, table or segment of store `store_id`.
    pub(crate) fn from_raw_ref(ty: RefType, raw: u64, store_id: u64) -> Val {
        let index = raw.checked_sub(1).map(|i| i as u32);
        let some = raw != 0;
        match ty.top() {
            HeapType::Func => Val::FuncRef(some.then(|| Func::from_raw(store_id, raw))),
            HeapType::Exn => Val::ExnRef(index.map(|index| ExnRef { store_id, index })),
            HeapType::Extern => Val::ExternRef(some.then_some(ExternRef { store_id, raw })),
            _ => Val::AnyRef(some.then_some(AnyRef { store_id, raw })),
        }
    }
}

/// The error for a value or item of another store passed to an operation.
pub(crate) fn cross_store() -> Error {
    Error::usage(
        "a value or item from a different store was used (cross-store use is not supported)",
    )
}

impl From<i32> for Val {
    fn from(v: i32) -> Val {
        Val::I32(v)
    }
}

impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::I64(v)
    }
}

impl From<f32> for Val {
    fn from(v: f32) -> Val {
        Val::F32(v.to_bits())
    }
}

impl From<f64> for Val {
    fn from(v: f64) -> Val {
        Val::F64(v.to_bits())
    }
}

impl From<u128> for Val {
    fn from(v: u128) -> Val {
        Val::V128(v)
    }
}

impl From<Func> for Val {
    fn from(f: Func) -> Val {
        Val::FuncRef(Some(f))
    }
}

impl From<Option<Func>> for Val {
    fn from(f: Option<Func>) -> Val {
        Val::FuncRef(f)
    }
}

impl From<ExternRef> for Val {
    fn from(r: ExternRef) -> Val {
        Val::ExternRef(Some(r))
    }
}

impl From<Option<ExternRef>> for Val {
    fn from(r: Option<ExternRef>) -> Val {
        Val::ExternRef(r)
    }
}

impl From<ExnRef> for Val {
    fn from(r: ExnRef) -> Val {
        Val::ExnRef(Some(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_round_trips() {
        let id = 9;
        let record = crate::runtime::VMFuncRef::new(0, 0, std::ptr::null_mut());
        let raw = std::ptr::from_ref(&record) as usize as u64;
        let cases = [
            (Val::I32(-1), ValType::I32),
            (Val::I64(i64::MIN), ValType::I64),
            (Val::F32(0x7fc0_0001), ValType::F32),
            (Val::F64(0x7ff8_0000_0000_0001), ValType::F64),
            (Val::V128(u128::MAX - 5), ValType::V128),
            (Val::FuncRef(None), ValType::FUNCREF),
            (Val::FuncRef(Some(Func { store_id: id, index: 0, raw })), ValType::FUNCREF),
            (Val::ExternRef(Some(ExternRef { store_id: id, raw: 5 })), ValType::EXTERNREF),
            (Val::AnyRef(Some(AnyRef { store_id: id, raw: 1 << 63 | 9 })), ValType::ANYREF),
            (Val::ExnRef(Some(ExnRef { store_id: id, index: 2 })), ValType::Ref(RefType::EXNREF)),
        ];
        for (v, ty) in cases {
            let mut slots = Vec::new();
            v.push_slots(id, &mut slots).unwrap();
            assert_eq!(slots.len(), ty.slots() as usize);
            assert_eq!(Val::from_slots(ty, &slots, id), v);
            assert_eq!(Val::from_bits(ty, v.to_bits(id).unwrap(), id), v);
        }
    }

    #[test]
    fn encodings_follow_the_contract() {
        let mut slots = Vec::new();
        Val::I32(-1).push_slots(1, &mut slots).unwrap();
        assert_eq!(slots, [0xffff_ffff]); // zero-extended
        slots.clear();
        Val::V128(1 | (2u128 << 64)).push_slots(1, &mut slots).unwrap();
        assert_eq!(slots, [1, 2]); // low half first
        slots.clear();
        let record = crate::runtime::VMFuncRef::new(0, 6, std::ptr::null_mut());
        let raw = std::ptr::from_ref(&record) as usize as u64;
        Val::FuncRef(Some(Func { store_id: 1, index: 6, raw })).push_slots(1, &mut slots).unwrap();
        assert_eq!(slots, [raw]); // the record's address
        assert_eq!(Val::FuncRef(None).to_bits(1).unwrap(), 0);
    }

    #[test]
    fn foreign_references_are_refused() {
        let v = Val::ExternRef(Some(ExternRef { store_id: 1, raw: 1 }));
        assert!(matches!(v.to_bits(2), Err(Error::Usage(_))));
        // Nulls belong to every store.
        assert_eq!(Val::ExternRef(None).to_bits(2).unwrap(), 0);
    }

    #[test]
    fn conversions() {
        assert_eq!(Val::from(3i64), Val::I64(3));
        assert_eq!(Val::from(-0.0f32), Val::F32(0x8000_0000));
        assert_eq!(Val::from(1.0f64).f64(), Some(1.0));
        assert_eq!(Val::from(None::<Func>), Val::FuncRef(None));
        assert_eq!(Val::I32(1).i64(), None);
        assert_eq!(Val::F32(0).f64(), None);
        assert_eq!(Val::null_of(RefType::EXNREF), Val::ExnRef(None));
        let nofunc = RefType { nullable: true, heap: HeapType::NoFunc };
        assert_eq!(Val::null_of(nofunc), Val::FuncRef(None));
        assert!(Val::null_of(RefType::EXTERNREF).is_null());
    }
}
