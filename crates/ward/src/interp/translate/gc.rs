//! Translation of the garbage-collection instructions: each becomes one `Gc` instruction
//! (followed by its `Arg` word), a `RefTest`/`RefCast`, or a `BrOnCast`; the conversions
//! between `any` and `extern` emit nothing (the two hierarchies share one encoding).
//! Allocations record a stack map (see `StackMaps`).

use super::{Loc, Translator};
use crate::interp::code::{Cast, GcOp, Instr, Slot};
use crate::module::gc_types::{GcKind, Storage};
use crate::types::{HeapType, RefType};
use wasmparser::Operator;

/// Whether `op` is one of the instructions translated here.
pub(super) fn is_gc_operator(op: &Operator<'_>) -> bool {
    use Operator as O;
    matches!(
        op,
        O::StructNew { .. }
            | O::StructNewDefault { .. }
            | O::StructGet { .. }
            | O::StructGetS { .. }
            | O::StructGetU { .. }
            | O::StructSet { .. }
            | O::ArrayNew { .. }
            | O::ArrayNewDefault { .. }
            | O::ArrayNewFixed { .. }
            | O::ArrayNewData { .. }
            | O::ArrayNewElem { .. }
            | O::ArrayGet { .. }
            | O::ArrayGetS { .. }
            | O::ArrayGetU { .. }
            | O::ArraySet { .. }
            | O::ArrayLen
            | O::ArrayFill { .. }
            | O::ArrayCopy { .. }
            | O::ArrayInitData { .. }
            | O::ArrayInitElem { .. }
            | O::RefTestNonNull { .. }
            | O::RefTestNullable { .. }
            | O::RefCastNonNull { .. }
            | O::RefCastNullable { .. }
            | O::BrOnCast { .. }
            | O::BrOnCastFail { .. }
            | O::AnyConvertExtern
            | O::ExternConvertAny
            | O::RefI31
            | O::I31GetS
            | O::I31GetU
    )
}

impl Translator<'_> {
    /// Translates a GC instruction (`is_gc_operator` holds).
    pub(super) fn gc_op(&mut self, op: Operator<'_>) {
        use Operator as O;
        match op {
            O::StructNew { struct_type_index: t } => {
                let n = match &self.module.gc_type(t).kind {
                    GcKind::Struct(l) => l.fields.len(),
                    GcKind::Array(_) => 0,
                };
                let a = self.args_base(n);
                self.alloc(GcOp::StructNew, a, [t, 0, 0]);
            }
            O::StructNewDefault { struct_type_index: t } => {
                self.alloc(GcOp::StructNewDefault, 0, [t, 0, 0])
            }
            O::StructGet { struct_type_index: t, field_index: f } => {
                self.struct_get(GcOp::StructGet, t, f)
            }
            O::StructGetS { struct_type_index: t, field_index: f } => {
                self.struct_get(GcOp::StructGetS, t, f)
            }
            O::StructGetU { struct_type_index: t, field_index: f } => {
                self.struct_get(GcOp::StructGetU, t, f)
            }
            O::StructSet { struct_type_index: t, field_index: f } => {
                let v = self.pop_slot();
                let r = self.pop_slot();
                self.gc_emit(GcOp::StructSet, r, v, [t, f, 0]);
            }
            O::ArrayNew { array_type_index: t } => {
                let len = self.pop_slot();
                let init = self.pop_slot();
                self.alloc(GcOp::ArrayNew, init, [t, len, 0]);
            }
            O::ArrayNewDefault { array_type_index: t } => {
                let len = self.pop_slot();
                self.alloc(GcOp::ArrayNewDefault, len, [t, 0, 0]);
            }
            O::ArrayNewFixed { array_type_index: t, array_size: n } => {
                let a = self.args_base(n as usize);
                self.alloc(GcOp::ArrayNewFixed, a, [t, n, 0]);
            }
            O::ArrayNewData { array_type_index: t, array_data_index: seg }
            | O::ArrayNewElem { array_type_index: t, array_elem_index: seg } => {
                let op = match op {
                    O::ArrayNewData { .. } => GcOp::ArrayNewData,
                    _ => GcOp::ArrayNewElem,
                };
                let len = self.pop_slot();
                let offset = self.pop_slot();
                self.alloc(op, offset, [t, len, seg]);
            }
            O::ArrayGet { array_type_index: t } => self.array_get(GcOp::ArrayGet, t),
            O::ArrayGetS { array_type_index: t } => self.array_get(GcOp::ArrayGetS, t),
            O::ArrayGetU { array_type_index: t } => self.array_get(GcOp::ArrayGetU, t),
            O::ArraySet { .. } => {
                let v = self.pop_slot();
                let i = self.pop_slot();
                let r = self.pop_slot();
                self.gc_emit(GcOp::ArraySet, r, i, [v, 0, 0]);
            }
            O::ArrayLen => {
                let a = self.pop_slot();
                self.gc_produce(GcOp::ArrayLen, a, [0, 0, 0], false, false);
            }
            O::ArrayFill { .. } => {
                let n = self.pop_slot();
                let v = self.pop_slot();
                let i = self.pop_slot();
                let r = self.pop_slot();
                self.gc_emit(GcOp::ArrayFill, r, i, [v, n, 0]);
            }
            O::ArrayCopy { .. } => {
                let n = self.pop_slot();
                let si = self.pop_slot();
                let sr = self.pop_slot();
                let di = self.pop_slot();
                let dr = self.pop_slot();
                self.gc_emit(GcOp::ArrayCopy, dr, di, [sr, si, n]);
            }
            O::ArrayInitData { array_data_index: seg, .. }
            | O::ArrayInitElem { array_elem_index: seg, .. } => {
                let op = match op {
                    O::ArrayInitData { .. } => GcOp::ArrayInitData,
                    _ => GcOp::ArrayInitElem,
                };
                let n = self.pop_slot();
                let s = self.pop_slot();
                let i = self.pop_slot();
                let r = self.pop_slot();
                self.gc_emit(op, r, i, [s, n, seg]);
            }
            O::RefI31 => {
                let a = self.pop_slot();
                self.gc_produce(GcOp::RefI31, a, [0, 0, 0], false, true);
            }
            O::I31GetS | O::I31GetU => {
                let op = if matches!(op, O::I31GetS) { GcOp::I31GetS } else { GcOp::I31GetU };
                let a = self.pop_slot();
                self.gc_produce(op, a, [0, 0, 0], false, false);
            }
            O::RefTestNonNull { hty } | O::RefTestNullable { hty } => {
                let c = self.cast(
                    RefType {
                        nullable: matches!(op, O::RefTestNullable { .. }),
                        heap: self.heap(hty),
                    },
                    true,
                );
                let a = self.pop_slot();
                self.produce(false, |d| Instr::RefTest { d, a, c });
            }
            O::RefCastNonNull { hty } | O::RefCastNullable { hty } => {
                let c = self.cast(
                    RefType {
                        nullable: matches!(op, O::RefCastNullable { .. }),
                        heap: self.heap(hty),
                    },
                    true,
                );
                let a = self.pop_slot();
                self.produce(false, |d| Instr::RefCast { d, a, c });
                self.mark_top_ref(true);
            }
            O::BrOnCast { relative_depth, to_ref_type, .. }
            | O::BrOnCastFail { relative_depth, to_ref_type, .. } => {
                let ty = RefType {
                    nullable: to_ref_type.is_nullable(),
                    heap: self.heap(to_ref_type.heap_type()),
                };
                let on_match = matches!(op, O::BrOnCast { .. });
                let taken = self.cast(ty, on_match);
                let skip = self.cast(ty, !on_match);
                // The reference stays on the stack: it goes to the label when the branch is
                // taken, and falls through otherwise.
                let a = self.peek_slot();
                self.cond_branch(
                    relative_depth,
                    |t| Instr::BrOnCast { a, t, c: taken },
                    |t| Instr::BrOnCast { a, t, c: skip },
                );
            }
            // One encoding for both hierarchies: nothing to do.
            O::AnyConvertExtern | O::ExternConvertAny => {}
            _ => unreachable!("not a GC operator: {op:?}"),
        }
    }

    /// A reference type's heap type with module type indices resolved to canonical ids.
    fn heap(&self, hty: wasmparser::HeapType) -> HeapType {
        use wasmparser::{HeapType as H, UnpackedIndex};
        match hty {
            H::Concrete(UnpackedIndex::Module(i)) | H::Exact(UnpackedIndex::Module(i)) => {
                let t = &self.module.types[i as usize];
                match t.gc.as_ref().map(|g| g.is_struct()) {
                    Some(true) => HeapType::ConcreteStruct(t.id),
                    Some(false) => HeapType::ConcreteArray(t.id),
                    None => HeapType::Concrete(t.id),
                }
            }
            other => match wasmparser::RefType::new(true, other) {
                Some(r) => RefType::from_wasmparser(r).heap,
                None => HeapType::Other,
            },
        }
    }

    fn cast(&mut self, ty: RefType, jump_if: bool) -> u32 {
        self.casts.push(Cast { ty, jump_if });
        (self.casts.len() - 1) as u32
    }

    /// Emits a `Gc` instruction with no result.
    fn gc_emit(&mut self, op: GcOp, d: Slot, a: Slot, [x, y, z]: [u32; 3]) {
        self.emit(Instr::Gc { op, d, a });
        self.emit(Instr::Arg { x, y, z });
    }

    /// Emits a `Gc` instruction whose result is a fresh temporary.
    fn gc_produce(&mut self, op: GcOp, a: Slot, arg: [u32; 3], wide: bool, is_ref: bool) {
        let d = self.push(wide, Loc::Temp);
        self.pop();
        self.gc_emit(op, d, a, arg);
        self.push(wide, Loc::Temp);
        self.mark_top_ref(is_ref);
    }

    /// An allocation: its operands are popped; the stack map at its resume point lists the
    /// references below them; the new reference is pushed.
    fn alloc(&mut self, op: GcOp, a: Slot, arg: [u32; 3]) {
        let d = self.height;
        self.bump(d + 1);
        self.gc_emit(op, d, a, arg);
        self.record_stack_map();
        self.push(false, Loc::Temp);
        self.mark_top_ref(true);
    }

    fn field_storage(&self, t: u32, f: u32) -> Storage {
        match &self.module.gc_type(t).kind {
            GcKind::Struct(l) => l.fields[f as usize].storage,
            GcKind::Array(e) => e.storage,
        }
    }

    fn struct_get(&mut self, op: GcOp, t: u32, f: u32) {
        let storage = self.field_storage(t, f);
        let a = self.pop_slot();
        let is_ref = matches!(storage, Storage::Ref(_));
        self.gc_produce(op, a, [t, f, 0], storage == Storage::V128, is_ref);
    }

    fn array_get(&mut self, op: GcOp, t: u32) {
        let storage = self.field_storage(t, 0);
        let i = self.pop_slot();
        let a = self.pop_slot();
        let is_ref = matches!(storage, Storage::Ref(_));
        self.gc_produce(op, a, [i, 0, 0], storage == Storage::V128, is_ref);
    }
}
