//! The garbage-collection instructions, outside the hot loop, and the interpreter's part of a
//! collection: the references in its frames.
//!
//! A collection runs at an allocation, when the store's heap asks for one. Its roots are the
//! store's (`runtime::gc`), the allocation's own operands, and the references in the frames of
//! this call and of the calls suspended in host functions or parked: each frame is at a call or
//! at the allocation, and its function's stack map for that point lists the slots that hold
//! references there (see `code::StackMaps`).

use super::{instance_of, Execution, Frame};
use crate::error::TrapCode;
use crate::interp::code::{CompiledFunc, GcOp, Instr};
use crate::module::gc_types::{GcKind, GcType, Storage};
use crate::module::ConstAlloc;
use crate::runtime::gc::{refs, unpack, GcObject};
use crate::runtime::vmctx::VMContext;
use crate::runtime::{InstanceData, StoreInner, SuspendedStack};
use std::sync::Arc;

/// The object a non-null reference in an `any` slot refers to.
fn object(store: &StoreInner, r: u64) -> Result<&GcObject, TrapCode> {
    // A dangling reference cannot occur (roots are precise); report it as a null if it did.
    store.gc.get(r).ok_or(TrapCode::NullReference)
}

fn object_mut(store: &mut StoreInner, r: u64) -> Result<&mut GcObject, TrapCode> {
    store.gc.get_mut(r).ok_or(TrapCode::NullReference)
}

/// The elements `[i, i + n)` of an array of `len` elements, as a byte range for elements of
/// `size` bytes.
fn elem_range(len: u32, i: u32, n: u32, size: u32) -> Result<std::ops::Range<usize>, TrapCode> {
    let end = u64::from(i) + u64::from(n);
    if end > u64::from(len) {
        return Err(TrapCode::ArrayOutOfBounds);
    }
    Ok(i as usize * size as usize..end as usize * size as usize)
}

/// The storage of an array's elements.
fn elem_storage(o: &GcObject) -> Storage {
    match &o.ty.kind {
        GcKind::Array(f) => f.storage,
        GcKind::Struct(_) => Storage::I8,
    }
}

impl Execution {
    /// Runs a GC instruction (`Gc`, `RefTest`, `RefCast`, `BrOnCast`) of the top frame, whose
    /// context is `vmctx` and code `cf` (instructions at `code`), with frame pointer `sp`; `ip`
    /// is the next instruction. Returns where to continue.
    #[cold]
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn exec_gc(
        &mut self,
        store: &mut StoreInner,
        vmctx: *mut VMContext,
        cf: &CompiledFunc,
        code: *const Instr,
        sp: *mut u64,
        ins: &Instr,
        ip: *const Instr,
    ) -> Result<*const Instr, TrapCode> {
        slot_access!($ sp);
        let (op, d, a) = match *ins {
            Instr::RefTest { d, a, c } => {
                wr!(d, store.ref_matches(rd!(a), cf.casts[c as usize].ty) as u64);
                return Ok(ip);
            }
            Instr::RefCast { d, a, c } => {
                let r = rd!(a);
                if !store.ref_matches(r, cf.casts[c as usize].ty) {
                    return Err(TrapCode::CastFailure);
                }
                wr!(d, r);
                return Ok(ip);
            }
            Instr::BrOnCast { a, t, c } => {
                let cast = cf.casts[c as usize];
                if store.ref_matches(rd!(a), cast.ty) == cast.jump_if {
                    // SAFETY: branch targets are resolved by the translator to valid indices.
                    return Ok(unsafe { code.add(t as usize) });
                }
                return Ok(ip);
            }
            Instr::Gc { op, d, a } => (op, d, a),
            _ => unreachable!("not a GC instruction: {ins:?}"),
        };
        // SAFETY: the translator always emits the `Arg` word after a `Gc` instruction.
        let (x, y, z) = match unsafe { *ip } {
            Instr::Arg { x, y, z } => (x, y, z),
            _ => unreachable!("missing Arg word"),
        };
        // SAFETY: as above: the Arg word is followed by at least one instruction.
        let next = unsafe { ip.add(1) };
        let inst = instance_of(store, vmctx);
        // A slot's value as a field of storage `s` (two slots for a v128).
        let value = |slot: u32, s: Storage| -> u128 {
            if s == Storage::V128 {
                rd128!(slot)
            } else {
                u128::from(rd!(slot))
            }
        };
        macro_rules! write_value {
            ($d:expr, $v:expr, $s:expr) => {{
                let (v, s): (u128, Storage) = ($v, $s);
                if s == Storage::V128 {
                    wr128!($d, v)
                } else {
                    wr!($d, v as u64)
                }
            }};
        }
        macro_rules! non_null {
            ($r:expr) => {{
                let r = $r;
                if r == 0 {
                    return Err(TrapCode::NullReference);
                }
                r
            }};
        }
        if op.allocates() {
            // The frame resumes after the Arg word: its stack map is keyed there.
            let resume = (next as usize - code as usize) / std::mem::size_of::<Instr>();
            self.frames.last_mut().expect("a running frame").pc = resume as u32;
            let ty = inst.module.gc_type(x).clone();
            let r = self.allocate(store, inst, &ty, op, a, y, z, &value)?;
            wr!(d, r);
            return Ok(next);
        }
        match op {
            GcOp::StructGet | GcOp::StructGetS | GcOp::StructGetU => {
                let o = object(store, non_null!(rd!(a)))?;
                let GcKind::Struct(l) = &o.ty.kind else { return Err(TrapCode::CastFailure) };
                let s = l.fields.get(y as usize).ok_or(TrapCode::CastFailure)?.storage;
                let v = o.read(l.offsets[y as usize] as usize, s);
                write_value!(d, unpack(v, s, op == GcOp::StructGetS), s);
            }
            GcOp::StructSet => {
                let r = non_null!(rd!(d));
                let o = object_mut(store, r)?;
                let GcKind::Struct(l) = &o.ty.kind else { return Err(TrapCode::CastFailure) };
                let s = l.fields.get(y as usize).ok_or(TrapCode::CastFailure)?.storage;
                let off = l.offsets[y as usize] as usize;
                o.write(off, s, value(a, s));
            }
            GcOp::ArrayGet | GcOp::ArrayGetS | GcOp::ArrayGetU => {
                let o = object(store, non_null!(rd!(a)))?;
                let s = elem_storage(o);
                let at = elem_range(o.array_len(), rd!(x) as u32, 1, s.size())?;
                let v = o.read(at.start, s);
                write_value!(d, unpack(v, s, op == GcOp::ArrayGetS), s);
            }
            GcOp::ArraySet => {
                let v = rd128!(x);
                let o = object_mut(store, non_null!(rd!(d)))?;
                let s = elem_storage(o);
                let at = elem_range(o.array_len(), rd!(a) as u32, 1, s.size())?;
                let v = if s == Storage::V128 { v } else { v as u64 as u128 };
                o.write(at.start, s, v);
            }
            GcOp::ArrayLen => {
                let o = object(store, non_null!(rd!(a)))?;
                wr!(d, u64::from(o.array_len()));
            }
            GcOp::ArrayFill => {
                let n = rd!(y) as u32;
                self.charge_bulk(store, n)?;
                let v = rd128!(x);
                let o = object_mut(store, non_null!(rd!(d)))?;
                let s = elem_storage(o);
                let range = elem_range(o.array_len(), rd!(a) as u32, n, s.size())?;
                let v = if s == Storage::V128 { v } else { v as u64 as u128 };
                for at in range.step_by(s.size() as usize) {
                    o.write(at, s, v);
                }
            }
            GcOp::ArrayCopy => {
                let n = rd!(z) as u32;
                self.charge_bulk(store, n)?;
                let (dr, sr) = (non_null!(rd!(d)), non_null!(rd!(x)));
                let src = object(store, sr)?;
                let s = elem_storage(src);
                let from = elem_range(src.array_len(), rd!(y) as u32, n, s.size())?;
                let dst = object(store, dr)?;
                let to = elem_range(dst.array_len(), rd!(a) as u32, n, s.size())?;
                if dr == sr {
                    object_mut(store, dr)?.bytes.copy_within(from, to.start);
                } else {
                    let bytes: Vec<u8> = src.bytes[from].to_vec();
                    object_mut(store, dr)?.bytes[to].copy_from_slice(&bytes);
                }
            }
            GcOp::ArrayInitData => {
                let n = rd!(y) as u32;
                self.charge_bulk(store, n)?;
                let o = object(store, non_null!(rd!(d)))?;
                let s = elem_storage(o);
                let to = elem_range(o.array_len(), rd!(a) as u32, n, s.size())?;
                let bytes = data_bytes(inst, z, rd!(x) as u32, to.len())?;
                object_mut(store, rd!(d))?.bytes[to].copy_from_slice(bytes);
            }
            GcOp::ArrayInitElem => {
                let n = rd!(y) as u32;
                self.charge_bulk(store, n)?;
                let o = object(store, non_null!(rd!(d)))?;
                let s = elem_storage(o);
                let to = elem_range(o.array_len(), rd!(a) as u32, n, s.size())?;
                let items = elem_items(inst, z, rd!(x) as u32, n)?;
                let o = object_mut(store, rd!(d))?;
                for (k, &item) in items.iter().enumerate() {
                    o.write(to.start + k * 8, s, item.into());
                }
            }
            GcOp::RefI31 => wr!(d, refs::i31(rd!(a) as u32)),
            GcOp::I31GetS => wr!(d, u64::from(refs::i31_get_s(non_null!(rd!(a))) as u32)),
            GcOp::I31GetU => wr!(d, u64::from(refs::i31_get_u(non_null!(rd!(a))))),
            _ => unreachable!("allocations are handled above"),
        }
        Ok(next)
    }

    /// Charges fuel for a bulk operation on `n` elements (one unit per 64), as the bulk memory
    /// and table operations do.
    fn charge_bulk(&self, store: &mut StoreInner, n: u32) -> Result<(), TrapCode> {
        if self.consume_fuel {
            let units = u64::from(n) / 64;
            if store.vm.fuel < units {
                return Err(TrapCode::OutOfFuel);
            }
            store.vm.fuel -= units;
        }
        Ok(())
    }

    /// An allocation instruction (`op`, operands as in `GcOp`): collects first if the heap
    /// asks for it, then allocates and initialises the object; its reference.
    #[allow(clippy::too_many_arguments)]
    fn allocate(
        &mut self,
        store: &mut StoreInner,
        inst: &InstanceData,
        ty: &Arc<GcType>,
        op: GcOp,
        a: u32,
        y: u32,
        z: u32,
        value: &dyn Fn(u32, Storage) -> u128,
    ) -> Result<u64, TrapCode> {
        let read = |slot: u32| value(slot, Storage::I32) as u32;
        let elem = match &ty.kind {
            GcKind::Array(f) => f.storage,
            GcKind::Struct(_) => Storage::I8,
        };
        // The initial contents, read before a collection (they may hold references).
        let mut values: Vec<u128> = Vec::new();
        let (len, repeat) = match op {
            GcOp::StructNew => {
                if let GcKind::Struct(l) = &ty.kind {
                    let mut slot = a;
                    for f in l.fields.iter() {
                        values.push(value(slot, f.storage));
                        slot += f.storage.slots();
                    }
                }
                (0, None)
            }
            GcOp::StructNewDefault => (0, Some(0)),
            GcOp::ArrayNew => (read(y), Some(value(a, elem))),
            GcOp::ArrayNewDefault => (read(a), Some(0)),
            GcOp::ArrayNewFixed => {
                for k in 0..y {
                    values.push(value(a + k * elem.slots(), elem));
                }
                (y, None)
            }
            GcOp::ArrayNewData => {
                let len = read(y);
                let bytes = data_bytes(inst, z, read(a), len as usize * elem.size() as usize)?;
                self.charge_bulk(store, len)?;
                self.collect_before(store, bytes.len() as u64, Vec::new());
                return store.gc_alloc_init(ty, ConstAlloc::Bytes(bytes));
            }
            GcOp::ArrayNewElem => {
                let len = read(y);
                values.extend(elem_items(inst, z, read(a), len)?.iter().map(|&v| u128::from(v)));
                (len, None)
            }
            _ => unreachable!("not an allocation"),
        };
        // Making (and zeroing) a long array is work in proportion to its length.
        self.charge_bulk(store, len)?;
        let bytes = StoreInner::gc_object_bytes(ty, len).unwrap_or(usize::MAX) as u64;
        let operands = values.iter().chain(&repeat).map(|&v| v as u64).collect();
        self.collect_before(store, bytes, operands);
        let init = match repeat {
            Some(value) => ConstAlloc::Repeat { value, len },
            None => ConstAlloc::Values(&values),
        };
        store.gc_alloc_init(ty, init)
    }

    /// Collects before an allocation of `bytes` if the heap asks for it and no native code is
    /// on the stack; `operands` are the allocation's own (roots too).
    fn collect_before(&self, store: &mut StoreInner, bytes: u64, mut operands: Vec<u64>) {
        if store.gc_wants_collection(bytes) && store.gc_may_collect() {
            self.frame_roots(store, &mut operands);
            store.gc_collect(operands);
        }
    }

    /// Appends the references in the frames of this call and of the calls suspended in host
    /// functions or parked.
    fn frame_roots(&self, store: &StoreInner, out: &mut Vec<u64>) {
        frames_roots(self.stack.as_ptr(), self.stack.len(), &self.frames, out);
        for s in store.suspended_stacks.iter().chain(store.parked_stacks.iter().flatten()) {
            suspended_roots(s, out);
        }
    }
}

/// The references in `frames` of a value stack of `len` slots at `stack`.
fn frames_roots(stack: *const u64, len: usize, frames: &[Frame], out: &mut Vec<u64>) {
    // SAFETY: `stack` and `len` describe a live value stack not written during the collection
    // (this call's, or a suspended call's: see `SuspendedStack`).
    let stack = unsafe { std::slice::from_raw_parts(stack, len) };
    for f in frames {
        // SAFETY: a frame's code is owned by the module of a live instance of the store.
        let cf = unsafe { &*f.code };
        let fp = f.fp as usize;
        let maps = &cf.stack_maps;
        if maps.conservative {
            let end = (fp + cf.frame_slots as usize).min(len);
            out.extend_from_slice(&stack[fp.min(end)..end]);
            continue;
        }
        let slots = maps.ref_locals.iter().chain(maps.temps_at(f.pc));
        out.extend(slots.filter_map(|&s| stack.get(fp + s as usize).copied()));
    }
}

/// The references in the frames of a call suspended in a host function (or parked).
fn suspended_roots(s: &SuspendedStack, out: &mut Vec<u64>) {
    if s.frames.is_null() {
        return;
    }
    // SAFETY: see `SuspendedStack`: the frames were this call's when it was suspended and stay
    // unchanged (and in place) until it resumes and the entry is removed.
    let frames = unsafe { std::slice::from_raw_parts(s.frames.cast::<Frame>(), s.frames_len) };
    frames_roots(s.start, s.len, frames, out);
}

/// The bytes `[offset, offset + len)` of data segment `seg` (empty once dropped).
fn data_bytes(inst: &InstanceData, seg: u32, offset: u32, len: usize) -> Result<&[u8], TrapCode> {
    let data: &[u8] = if inst.data_dropped[seg as usize].get() {
        &[]
    } else {
        &inst.module.bytes[inst.module.datas[seg as usize].range.clone()]
    };
    let start = offset as usize;
    let end = start.checked_add(len).ok_or(TrapCode::MemoryOutOfBounds)?;
    data.get(start..end).ok_or(TrapCode::MemoryOutOfBounds)
}

/// The items `[offset, offset + n)` of element segment `seg` (empty once dropped).
fn elem_items(inst: &InstanceData, seg: u32, offset: u32, n: u32) -> Result<&[u64], TrapCode> {
    let items = inst.elem(seg);
    let end = offset as usize + n as usize;
    items.get(offset as usize..end).ok_or(TrapCode::TableOutOfBounds)
}
