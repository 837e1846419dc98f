//! The objects of one store's GC heap, and the mark-sweep collector over them.
//!
//! Objects live in slots addressed by index; a freed slot's generation advances, so references
//! to it stop resolving (see [`refs`](super::refs)). The heap does not move objects. It knows
//! nothing of roots: [`GcHeap::collect`] is given them (see the module documentation of
//! [`gc`](super) for who gathers them).

use super::refs::{self, AnyKind};
use crate::module::gc_types::{GcKind, GcType, RefKind, Storage};
use std::cell::Cell;
use std::sync::Arc;

/// Bytes accounted for each object on top of its contents (slot, type pointer, box).
pub(crate) const OBJECT_OVERHEAD: u64 = 48;

/// Collections run when this many bytes were allocated since the last one, at least.
const MIN_COLLECT_BYTES: u64 = 1 << 20;

/// A struct or array.
pub(crate) struct GcObject {
    pub(crate) ty: Arc<GcType>,
    /// The fields or elements, little-endian (see `module::gc_types`).
    pub(crate) bytes: Box<[u8]>,
}

impl GcObject {
    /// Bytes accounted for this object.
    pub(crate) fn accounted(&self) -> u64 {
        OBJECT_OVERHEAD + self.bytes.len() as u64
    }

    /// The number of elements of an array (0 for a struct).
    pub(crate) fn array_len(&self) -> u32 {
        match &self.ty.kind {
            GcKind::Array(f) => (self.bytes.len() / f.storage.size() as usize) as u32,
            GcKind::Struct(_) => 0,
        }
    }

    /// The raw value stored at byte `offset` (packed values zero-extended).
    ///
    /// Panics if the value does not lie inside the object; callers check array indices, and
    /// struct offsets come from the object's own layout.
    pub(crate) fn read(&self, offset: usize, storage: Storage) -> u128 {
        let n = storage.size() as usize;
        let mut buf = [0u8; 16];
        buf[..n].copy_from_slice(&self.bytes[offset..offset + n]);
        u128::from_le_bytes(buf)
    }

    /// Stores the low bytes of `v` at byte `offset` (as [`GcObject::read`]).
    pub(crate) fn write(&mut self, offset: usize, storage: Storage, v: u128) {
        let n = storage.size() as usize;
        self.bytes[offset..offset + n].copy_from_slice(&v.to_le_bytes()[..n]);
    }

    /// Calls `f` with every reference value of kind `kind` stored in the object.
    fn for_each_ref(&self, kind: RefKind, mut f: impl FnMut(u64)) {
        let word = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&self.bytes[at..at + 8]);
            u64::from_le_bytes(b)
        };
        match &self.ty.kind {
            GcKind::Struct(layout) if kind == RefKind::Gc => {
                for &off in layout.traced.iter() {
                    f(word(off as usize));
                }
            }
            GcKind::Struct(layout) => {
                for (field, &off) in layout.fields.iter().zip(layout.offsets.iter()) {
                    if field.storage == Storage::Ref(kind) {
                        f(word(off as usize));
                    }
                }
            }
            GcKind::Array(field) if field.storage == Storage::Ref(kind) => {
                for at in (0..self.bytes.len()).step_by(8) {
                    f(word(at));
                }
            }
            GcKind::Array(_) => {}
        }
    }
}

struct Slot {
    gen: u32,
    obj: Option<GcObject>,
    marked: bool,
    /// The host holds (or held) a handle to it: never freed. A `Cell`: handles are made
    /// while the store is only borrowed shared.
    pinned: Cell<bool>,
}

/// The GC heap of one store.
pub(crate) struct GcHeap {
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Bytes accounted for the live objects.
    live_bytes: u64,
    /// Bytes allocated since the last collection.
    since_collect: u64,
    /// A collection is due once `since_collect` reaches this.
    collect_at: u64,
    /// Collections run so far.
    collections: u64,
}

impl Default for GcHeap {
    fn default() -> GcHeap {
        GcHeap {
            slots: Vec::new(),
            free: Vec::new(),
            live_bytes: 0,
            since_collect: 0,
            collect_at: MIN_COLLECT_BYTES,
            collections: 0,
        }
    }
}

impl GcHeap {
    /// Bytes accounted for the live objects.
    pub(crate) fn live_bytes(&self) -> u64 {
        self.live_bytes
    }

    /// The number of live objects.
    pub(crate) fn live_objects(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Collections run so far.
    pub(crate) fn collections(&self) -> u64 {
        self.collections
    }

    /// Whether allocating `bytes` more should be preceded by a collection.
    pub(crate) fn wants_collection(&self, bytes: u64) -> bool {
        self.since_collect.saturating_add(bytes) >= self.collect_at
    }

    /// Stores `obj`; its reference value, or `None` if the heap has no slot index left.
    pub(crate) fn insert(&mut self, obj: GcObject) -> Option<u64> {
        let size = obj.accounted();
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                let i = u32::try_from(self.slots.len()).ok()?;
                self.slots.push(Slot {
                    gen: 0,
                    obj: None,
                    marked: false,
                    pinned: Cell::new(false),
                });
                i
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.obj = Some(obj);
        self.live_bytes += size;
        self.since_collect += size;
        Some(refs::object(index, slot.gen))
    }

    fn slot_of(&self, r: u64) -> Option<usize> {
        match refs::classify(r) {
            AnyKind::Object { index, gen } => {
                let s = self.slots.get(index as usize)?;
                (s.gen == gen && s.obj.is_some()).then_some(index as usize)
            }
            _ => None,
        }
    }

    /// The object `r` refers to, if it is a live object of this heap.
    pub(crate) fn get(&self, r: u64) -> Option<&GcObject> {
        self.slot_of(r).and_then(|i| self.slots[i].obj.as_ref())
    }

    /// As [`GcHeap::get`], mutably.
    pub(crate) fn get_mut(&mut self, r: u64) -> Option<&mut GcObject> {
        self.slot_of(r).and_then(|i| self.slots[i].obj.as_mut())
    }

    /// Keeps `r` alive for the life of the store (a handle to it went to the host).
    pub(crate) fn pin(&self, r: u64) {
        if let Some(i) = self.slot_of(r) {
            self.slots[i].pinned.set(true);
        }
    }

    /// Calls `f` with every reference of kind `kind` stored in a live object.
    pub(crate) fn for_each_stored_ref(&self, kind: RefKind, mut f: impl FnMut(u64)) {
        for s in &self.slots {
            if let Some(o) = &s.obj {
                o.for_each_ref(kind, &mut f);
            }
        }
    }

    /// Frees every object not reachable from `roots` (reference values; anything that is not a
    /// live object of this heap is ignored) or from a pinned object. Returns the bytes freed.
    pub(crate) fn collect(&mut self, roots: impl IntoIterator<Item = u64>) -> u64 {
        let mut work: Vec<usize> = Vec::new();
        for r in roots {
            self.mark(r, &mut work);
        }
        for i in 0..self.slots.len() {
            if self.slots[i].pinned.get() && self.slots[i].obj.is_some() && !self.slots[i].marked {
                self.slots[i].marked = true;
                work.push(i);
            }
        }
        let mut found = Vec::new();
        while let Some(i) = work.pop() {
            if let Some(o) = &self.slots[i].obj {
                o.for_each_ref(RefKind::Gc, |r| found.push(r));
            }
            for r in found.drain(..) {
                self.mark(r, &mut work);
            }
        }
        let mut freed = 0;
        for (i, s) in self.slots.iter_mut().enumerate() {
            if std::mem::take(&mut s.marked) {
                continue;
            }
            if let Some(o) = s.obj.take() {
                s.pinned.set(false);
                freed += o.accounted();
                s.gen = s.gen.wrapping_add(1) & refs::GEN_MASK;
                self.free.push(i as u32);
            }
        }
        self.live_bytes -= freed;
        self.since_collect = 0;
        self.collect_at = self.live_bytes.max(MIN_COLLECT_BYTES);
        self.collections += 1;
        freed
    }

    fn mark(&mut self, r: u64, work: &mut Vec<usize>) {
        if let Some(i) = self.slot_of(r) {
            if !self.slots[i].marked {
                self.slots[i].marked = true;
                work.push(i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module::gc_types::{Field, StructLayout};

    fn pair_type() -> Arc<GcType> {
        let f = Field { storage: Storage::Ref(RefKind::Gc), mutable: true };
        Arc::new(GcType {
            id: 1,
            supers: Arc::new([]),
            kind: GcKind::Struct(StructLayout::new(vec![f, f])),
        })
    }

    fn pair(h: &mut GcHeap, a: u64, b: u64) -> u64 {
        let ty = pair_type();
        let mut o = GcObject { ty, bytes: vec![0u8; 16].into() };
        o.write(0, Storage::Ref(RefKind::Gc), a.into());
        o.write(8, Storage::Ref(RefKind::Gc), b.into());
        h.insert(o).unwrap()
    }

    #[test]
    fn unreachable_objects_are_freed_reachable_ones_kept() {
        let mut h = GcHeap::default();
        let leaf = pair(&mut h, 0, refs::i31(5));
        let root = pair(&mut h, leaf, 0);
        let garbage = pair(&mut h, root, 0);
        let cycle_a = pair(&mut h, 0, 0);
        let cycle_b = pair(&mut h, cycle_a, 0);
        h.get_mut(cycle_a).unwrap().write(0, Storage::Ref(RefKind::Gc), cycle_b.into());
        let before = h.live_bytes();
        let freed = h.collect([root, 12345, refs::i31(1)]);
        assert_eq!(freed, 3 * (OBJECT_OVERHEAD + 16));
        assert_eq!(h.live_bytes(), before - freed);
        assert_eq!(h.live_objects(), 2);
        assert!(h.get(root).is_some() && h.get(leaf).is_some());
        assert!(h.get(garbage).is_none() && h.get(cycle_a).is_none() && h.get(cycle_b).is_none());
        // A freed slot is reused under a new generation: the old reference stays dead.
        let again = pair(&mut h, 0, 0);
        assert_ne!(again, garbage);
        assert!(h.get(garbage).is_none());
    }

    #[test]
    fn pinned_objects_and_their_contents_survive() {
        let mut h = GcHeap::default();
        let inner = pair(&mut h, 0, 0);
        let outer = pair(&mut h, inner, 0);
        h.pin(outer);
        h.collect([]);
        assert!(h.get(outer).is_some() && h.get(inner).is_some());
    }

    #[test]
    fn packed_values_read_zero_extended() {
        let ty = Arc::new(GcType {
            id: 2,
            supers: Arc::new([]),
            kind: GcKind::Array(Field { storage: Storage::I16, mutable: true }),
        });
        let mut o = GcObject { ty, bytes: vec![0u8; 6].into() };
        o.write(2, Storage::I16, 0x1_ffff);
        assert_eq!(o.read(2, Storage::I16), 0xffff);
        assert_eq!(o.read(0, Storage::I16), 0);
        assert_eq!(o.array_len(), 3);
    }
}
