//! Garbage collection: the store's heap of structs and arrays, reference casts, and the roots
//! the store itself holds.
//!
//! - [`refs`] — how references of the `any`/`extern` hierarchies are encoded in 64 bits
//!   (i31 unboxed, heap objects by slot and generation, host references by index).
//! - [`heap`] — the objects and the mark-sweep collector.
//! - here — allocation charged to the store's limits, the store's roots (globals, tables,
//!   element segments, exception payloads, pinned objects), and `ref.test`'s subtype check.
//!
//! A collection needs every root. The store's are gathered here; the interpreter adds the
//! references in its frames, which it knows precisely from the stack maps its translator
//! records at every allocation and call site (`interp::exec_gc`). Collections therefore run
//! only inside the interpreter, at an allocation; allocations made while instantiating
//! (constant expressions) are charged but never collect. Objects the host holds handles to are
//! pinned for the life of the store.

pub(crate) mod heap;
pub(crate) mod refs;

pub(crate) use heap::{GcHeap, GcObject};

use super::StoreInner;
use crate::error::TrapCode;
use crate::module::gc_types::{GcKind, GcType, RefKind, Storage};
use crate::module::ConstAlloc;
use crate::types::{HeapType, RefType, ValType};
use refs::AnyKind;
use std::sync::Arc;

/// The default cap on a store's GC heap: 1 GiB.
pub(crate) const DEFAULT_GC_HEAP_BYTES: u64 = 1 << 30;

impl StoreInner {
    /// The bytes an object of type `ty` with `len` elements (arrays; ignored for structs)
    /// takes, or `None` if that does not fit in memory at all.
    pub(crate) fn gc_object_bytes(ty: &GcType, len: u32) -> Option<usize> {
        match &ty.kind {
            GcKind::Struct(layout) => Some(layout.size as usize),
            GcKind::Array(f) => usize::try_from(u64::from(len) * u64::from(f.storage.size())).ok(),
        }
    }

    /// A new object of type `ty`, every field or element zero (the default value of every
    /// type), with `len` elements if it is an array. Charged to the store's GC heap limit and
    /// total limit; trapping past them, or when the host cannot provide the memory.
    pub(crate) fn gc_alloc(&mut self, ty: &Arc<GcType>, len: u32) -> Result<u64, TrapCode> {
        let size = StoreInner::gc_object_bytes(ty, len).ok_or(TrapCode::GcHeapExhausted)?;
        let accounted = heap::OBJECT_OVERHEAD + size as u64;
        if let Some(limit) = self.limits.gc_heap_bytes {
            if self.gc.live_bytes().saturating_add(accounted) > limit {
                return Err(TrapCode::GcHeapExhausted);
            }
        }
        self.charge(accounted, String::new).map_err(|_| TrapCode::GcHeapExhausted)?;
        let mut bytes = Vec::new();
        if bytes.try_reserve_exact(size).is_err() {
            self.refund(accounted);
            return Err(TrapCode::GcHeapExhausted);
        }
        bytes.resize(size, 0u8);
        let obj = GcObject { ty: ty.clone(), bytes: bytes.into() };
        match self.gc.insert(obj) {
            Some(r) => Ok(r),
            None => {
                self.refund(accounted);
                Err(TrapCode::GcHeapExhausted)
            }
        }
    }

    /// A new object of type `ty` holding `init`: every field of a struct (or every element of
    /// an array) in order, or an array of `len` copies of one value.
    pub(crate) fn gc_alloc_init(
        &mut self,
        ty: &Arc<GcType>,
        init: ConstAlloc<'_>,
    ) -> Result<u64, TrapCode> {
        let len = match init {
            ConstAlloc::Values(v) => {
                u32::try_from(v.len()).map_err(|_| TrapCode::GcHeapExhausted)?
            }
            ConstAlloc::Repeat { len, .. } => len,
            ConstAlloc::Bytes(b) => match &ty.kind {
                GcKind::Array(f) => (b.len() / f.storage.size() as usize) as u32,
                GcKind::Struct(_) => 0,
            },
        };
        let r = self.gc_alloc(ty, len)?;
        let Some(obj) = self.gc.get_mut(r) else { return Err(TrapCode::GcHeapExhausted) };
        match (&ty.kind, init) {
            (GcKind::Struct(l), ConstAlloc::Values(v)) => {
                for ((f, &off), &value) in l.fields.iter().zip(l.offsets.iter()).zip(v) {
                    obj.write(off as usize, f.storage, value);
                }
            }
            (GcKind::Struct(_), ConstAlloc::Repeat { .. } | ConstAlloc::Bytes(_)) => {}
            (GcKind::Array(_), ConstAlloc::Bytes(b)) => obj.bytes.copy_from_slice(b),
            (GcKind::Array(f), ConstAlloc::Values(v)) => {
                let size = f.storage.size() as usize;
                for (i, &value) in v.iter().enumerate() {
                    obj.write(i * size, f.storage, value);
                }
            }
            (GcKind::Array(f), ConstAlloc::Repeat { value, len }) => {
                if value != 0 {
                    let size = f.storage.size() as usize;
                    for i in 0..len as usize {
                        obj.write(i * size, f.storage, value);
                    }
                }
            }
        }
        Ok(r)
    }

    /// Whether an allocation of `bytes` should collect first: enough was allocated since the
    /// last collection, or it would not fit the limits otherwise.
    pub(crate) fn gc_wants_collection(&self, bytes: u64) -> bool {
        let accounted = heap::OBJECT_OVERHEAD.saturating_add(bytes);
        let over_heap =
            self.limits.gc_heap_bytes.is_some_and(|l| self.gc.live_bytes() + accounted > l);
        let over_total = self
            .limits
            .total_bytes
            .is_some_and(|l| self.accounted_bytes.saturating_add(accounted) > l);
        self.gc.wants_collection(accounted) || over_heap || over_total
    }

    /// Whether a collection may run now: not while native code is on the stack (a native call
    /// that called out to the host or the interpreter), whose frames have no stack maps.
    pub(crate) fn gc_may_collect(&self) -> bool {
        self.vm.store_inner.is_null()
    }

    /// Collects the heap with the store's roots and `extra` (the running code's), and gives the
    /// freed bytes back to the store's account.
    pub(crate) fn gc_collect(&mut self, mut extra: Vec<u64>) {
        self.gc_store_roots(&mut extra);
        let freed = self.gc.collect(extra);
        self.refund(freed);
        tracing::debug!(
            target: "ward",
            freed,
            live_bytes = self.gc.live_bytes(),
            live_objects = self.gc.live_objects(),
            collections = self.gc.collections(),
            "garbage collection"
        );
    }

    /// Appends the references the store itself holds: globals, tables and element segments of
    /// the `any`/`extern` hierarchies, and such references in exception payloads.
    fn gc_store_roots(&self, out: &mut Vec<u64>) {
        let traced = |t: RefType| RefKind::of(t) == RefKind::Gc;
        for g in &self.globals {
            if let ValType::Ref(r) = g.ty.content {
                if traced(r) {
                    out.push(g.value as u64);
                }
            }
        }
        for t in &self.tables {
            if traced(t.ty.element) {
                out.extend_from_slice(&t.elems);
            }
        }
        for inst in &self.instances {
            for (i, seg) in inst.module.elems.iter().enumerate() {
                if traced(seg.ty) {
                    out.extend_from_slice(inst.elem(i as u32));
                }
            }
        }
        self.exns.for_each(|tag, values| {
            let mut slot = 0;
            for t in self.tags[tag as usize].ty.params() {
                if let ValType::Ref(r) = t {
                    if traced(*r) {
                        out.extend(values.get(slot).copied());
                    }
                }
                slot += t.slots() as usize;
            }
        });
    }

    /// Whether the non-null or null reference `r` is a value of reference type `ty`
    /// (`ref.test`; concrete types by canonical id, with their declared supertypes).
    pub(crate) fn ref_matches(&self, r: u64, ty: RefType) -> bool {
        if r == 0 {
            return ty.nullable;
        }
        match ty.heap {
            HeapType::Func | HeapType::Extern | HeapType::Exn | HeapType::Any => true,
            HeapType::Concrete(id) => self.funcs[self.func_of_raw(r) as usize].matches(id),
            HeapType::NoFunc
            | HeapType::NoExtern
            | HeapType::NoExn
            | HeapType::None
            | HeapType::Other => false,
            HeapType::Eq => matches!(refs::classify(r), AnyKind::I31 | AnyKind::Object { .. }),
            HeapType::I31 => refs::classify(r) == AnyKind::I31,
            HeapType::Struct => self.gc.get(r).is_some_and(|o| o.ty.is_struct()),
            HeapType::Array => self.gc.get(r).is_some_and(|o| !o.ty.is_struct()),
            HeapType::ConcreteStruct(id) | HeapType::ConcreteArray(id) => {
                self.gc.get(r).is_some_and(|o| o.ty.is_subtype_of(id))
            }
        }
    }
}

/// The raw value in a field of storage `s` as a slot value: packed fields sign- or
/// zero-extended to i32 as `signed` says, everything else as stored.
pub(crate) fn unpack(v: u128, s: Storage, signed: bool) -> u128 {
    match (s, signed) {
        (Storage::I8, true) => v as u8 as i8 as i32 as u32 as u128,
        (Storage::I16, true) => v as u16 as i16 as i32 as u32 as u128,
        _ => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module::gc_types::Field;
    use crate::{Engine, StoreLimitsBuilder};

    fn bytes_array() -> Arc<GcType> {
        Arc::new(GcType {
            id: 0,
            supers: Arc::new([]),
            kind: GcKind::Array(Field { storage: Storage::I8, mutable: true }),
        })
    }

    #[test]
    fn allocation_is_charged_and_bounded() {
        let mut store = crate::Store::new(&Engine::default(), ());
        store.limiter(StoreLimitsBuilder::new().gc_heap_size(1000).build());
        let s = &mut store.inner;
        let ty = bytes_array();
        let r = s.gc_alloc(&ty, 100).unwrap();
        assert_eq!(s.gc.get(r).unwrap().array_len(), 100);
        assert_eq!(s.accounted_bytes, heap::OBJECT_OVERHEAD + 100);
        assert_eq!(s.gc_alloc(&ty, 1000), Err(TrapCode::GcHeapExhausted));
        // A length that cannot exist at all traps too, without trying to allocate it.
        assert_eq!(s.gc_alloc(&ty, u32::MAX), Err(TrapCode::GcHeapExhausted));
        s.gc_collect(Vec::new());
        assert_eq!(s.accounted_bytes, 0, "the freed object is refunded");
        assert!(s.gc.get(r).is_none());
    }

    #[test]
    fn packed_values_extend() {
        assert_eq!(unpack(0xff, Storage::I8, true), 0xffff_ffff);
        assert_eq!(unpack(0xff, Storage::I8, false), 0xff);
        assert_eq!(unpack(0x8000, Storage::I16, true), 0xffff_8000);
    }
}
