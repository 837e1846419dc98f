//! Translation of a validated function body into register code (see `code`).
//!
//! The translator simulates the operand stack. Each entry knows its canonical slot (its position
//! on the stack) and where its value currently is: already in that slot, still in a local
//! (`local.get` emits nothing), or a constant not yet written. Values are written to their
//! canonical slots ("materialised") only when needed: at control-flow merges, before calls, and
//! before a local they alias is overwritten. A `local.set` right after the instruction that
//! produced its value retargets that instruction to write the local directly.
//!
//! Validation already happened when the module was compiled, so the translator trusts types and
//! indices; it never panics on valid input, and reports GC instructions as unsupported.

mod assigned;
mod gc;

use super::code::*;
use super::simd::{self, SimdInstr};
use crate::error::{Error, Result, TrapCode};
use crate::module::ModuleInner;
use crate::runtime::atomics::{self, AtomicOp};
use crate::runtime::vmctx::{VMCounts, VMOffsets};
use crate::types::ValType;
use std::sync::atomic::{AtomicBool, Ordering};
use wasmparser::{BinaryReader, BlockType, FunctionBody, MemArg as WpMemArg, Operator};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Loc {
    /// In its canonical slot.
    Temp,
    /// Still in the local at this slot.
    Local(Slot),
    /// A constant not yet written anywhere (never a v128).
    Const(u64),
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Opd {
    slot: Slot,
    wide: bool,
    loc: Loc,
    /// Whether the value is a reference (a root for the collector while in its slot).
    is_ref: bool,
}

impl Opd {
    /// The slot the value can be read from as it is: its local's, or its own for a temporary;
    /// `None` for a constant not yet written anywhere.
    fn read_slot(&self) -> Option<Slot> {
        match self.loc {
            Loc::Local(l) => Some(l),
            Loc::Temp => Some(self.slot),
            Loc::Const(_) => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Func,
    Block,
    Loop,
    If,
    Else,
    TryTable,
    /// The body of a legacy `try` (its handler is in force).
    Try,
    /// A `catch`/`catch_all` clause of a legacy `try`: the caught exception reference lives in
    /// the slot at the block's base (for `rethrow`); the clause's operands start above it.
    TryCatch,
}

#[derive(Clone, Copy, Debug)]
enum Patch {
    /// The `t` field of the instruction at this index.
    Instr(usize),
    /// Catch clause `.1` of pending handler `.0`.
    Catch(usize, usize),
}

struct Ctrl {
    kind: Kind,
    /// Canonical slot of the first block parameter (the label's value base).
    base: Slot,
    /// Stack entries below the block parameters.
    stack_len: usize,
    params: Vec<ValType>,
    results: Vec<ValType>,
    /// Loop start.
    loop_pc: u32,
    patches: Vec<Patch>,
    /// The `BrIfEqz` of an `if`, patched at `else`/`end`.
    else_patch: Option<usize>,
    /// Index into `pending_handlers` of a `try_table` or legacy `try`.
    handler: Option<usize>,
    /// The handler in force directly inside this block (`u32::MAX`: none), where a legacy
    /// `delegate` naming this block's label sends exceptions.
    inner_handler: u32,
}

impl Ctrl {
    fn label_types(&self) -> &[ValType] {
        if self.kind == Kind::Loop {
            &self.params
        } else {
            &self.results
        }
    }
}

pub(super) struct Translator<'m> {
    module: &'m ModuleInner,
    /// The module's context layout: instructions that read the context carry byte offsets.
    vm: VMOffsets,
    code: Vec<Instr>,
    offsets: Vec<u32>,
    offset: u32,
    stack: Vec<Opd>,
    /// Next free canonical slot.
    height: Slot,
    max_height: Slot,
    local_slot: Vec<Slot>,
    local_wide: Vec<bool>,
    /// Whether each local is a reference.
    local_ref: Vec<bool>,
    /// The slots of the reference-typed locals (roots at every stack map).
    ref_local_slots: Vec<Slot>,
    local_slots: Slot,
    /// Which slots hold references at each call and allocation (see `StackMaps`).
    stack_maps: StackMapBuilder,
    /// Indices in `stack` of the entries that are references, ascending: a stack map looks at
    /// these only, so recording one costs the references on the stack, not its depth.
    ref_entries: Vec<usize>,
    /// Reference types tested or cast to, by `RefTest`, `RefCast` and `BrOnCast`.
    casts: Vec<Cast>,
    ctrl: Vec<Ctrl>,
    memargs: Vec<MemArg>,
    v128_consts: Vec<u128>,
    shuffles: Vec<[u8; 16]>,
    /// Handlers of every `try_table`, in order of opening.
    pending_handlers: Vec<Handler>,
    /// The `try_table`s open at this point, innermost last.
    open_handlers: Vec<u32>,
    /// Where the innermost `try_table` changes: see `CompiledFunc::handler_map`.
    handler_map: Vec<(u32, u32)>,
    /// For each local slot, the number of stack entries whose `loc` is `Local` of that slot, so
    /// that `local.set` looks for aliases only when there are some (keeping translation linear).
    local_refs: Vec<u32>,
    /// Index of the last instruction if it wrote the fresh temporary on top of the stack.
    last_producer: Option<usize>,
    /// The code length when a branch target was last taken (see `pc`).
    barrier: usize,
    unreachable: bool,
    /// Nesting depth of blocks opened in unreachable code.
    dead_depth: u32,
    /// Whether to emit fuel/interruption checkpoints.
    checkpoints: bool,
    /// The open checkpoint and the number of wasm instructions charged to it so far.
    checkpoint: Option<(usize, u32)>,
    /// Whether memory 0 exists and is not shared: its cached length is never stale, so
    /// fused forms with two accesses never rerun the first (`Mem*` pairs, the byte dispatch).
    mem0_unshared: bool,
}

fn mem_index(m: &WpMemArg) -> u32 {
    match m.target {
        wasmparser::MemArgTarget::Memory(i) => i,
        // GC array targets never reach the translator: GC instructions are rejected first.
        wasmparser::MemArgTarget::Array(_) => 0,
    }
}

fn slots_of(types: &[ValType]) -> u32 {
    types.iter().map(|t| t.slots()).sum()
}

/// How many operators are translated between two looks at the interrupt flag.
const INTERRUPT_CHECK_INTERVAL: u32 = 4096;

/// Translates module function `func` (a defined function).
pub(super) fn translate(
    module: &ModuleInner,
    func: u32,
    interrupt: Option<&AtomicBool>,
) -> Result<CompiledFunc> {
    let def = (func - module.num_imported_funcs) as usize;
    let range = module.bodies[def].range.clone();
    let body =
        FunctionBody::new(BinaryReader::new(&module.bytes[range.clone()], range.start as u64));
    let ty = module.func_type(func).clone();
    let invalid = |e: wasmparser::BinaryReaderError| Error::invalid(&e);

    let mut local_slot = Vec::new();
    let mut local_wide = Vec::new();
    let mut local_ref = Vec::new();
    let mut next: Slot = 0;
    for p in ty.params() {
        local_slot.push(next);
        local_wide.push(*p == ValType::V128);
        local_ref.push(matches!(p, ValType::Ref(_)));
        next += p.slots();
    }
    let params = local_slot.len() as u32;
    for local in body.get_locals_reader().map_err(invalid)? {
        let (count, t) = local.map_err(invalid)?;
        let t = ValType::from_wasmparser(t);
        // Validation bounds the total local count (50,000), so this cannot blow up.
        for _ in 0..count {
            local_slot.push(next);
            local_wide.push(t == ValType::V128);
            local_ref.push(matches!(t, ValType::Ref(_)));
            next += t.slots();
        }
    }
    let vm = VMOffsets::new(VMCounts::of(module)).ok_or_else(|| {
        Error::Limit("the module's index spaces are too large for an instance context".into())
    })?;
    let mut t = Translator {
        module,
        vm,
        code: Vec::new(),
        offsets: Vec::new(),
        offset: range.start as u32,
        stack: Vec::new(),
        height: next,
        max_height: next,
        ref_local_slots: local_slot
            .iter()
            .zip(&local_ref)
            .filter_map(|(s, r)| r.then_some(*s))
            .collect(),
        local_slot,
        local_wide,
        local_ref,
        local_slots: next,
        stack_maps: StackMapBuilder::default(),
        ref_entries: Vec::new(),
        casts: Vec::new(),
        ctrl: Vec::new(),
        memargs: Vec::new(),
        v128_consts: Vec::new(),
        shuffles: Vec::new(),
        pending_handlers: Vec::new(),
        open_handlers: Vec::new(),
        handler_map: Vec::new(),
        local_refs: vec![0; next as usize],
        last_producer: None,
        barrier: 0,
        unreachable: false,
        dead_depth: 0,
        checkpoints: module.engine.config().checkpoints(),
        checkpoint: None,
        mem0_unshared: module.memories.first().is_some_and(|m| !m.shared),
    };
    t.ctrl.push(Ctrl {
        kind: Kind::Func,
        base: next,
        stack_len: 0,
        params: Vec::new(),
        results: ty.results().to_vec(),
        loop_pc: 0,
        patches: Vec::new(),
        else_patch: None,
        handler: None,
        inner_handler: u32::MAX,
    });
    t.open_checkpoint();
    let mut assigned = assigned::Assigned::new(params, t.local_slot.len() as u32 - params);
    let mut ops = body.get_operators_reader().map_err(invalid)?;
    let mut count = 0u32;
    while !ops.eof() {
        count = count.wrapping_add(1);
        if count.is_multiple_of(INTERRUPT_CHECK_INTERVAL)
            && interrupt.is_some_and(|flag| flag.load(Ordering::Relaxed))
        {
            return Err(TrapCode::Interrupted.into());
        }
        let (op, offset) = ops.read_with_offset().map_err(invalid)?;
        t.offset = offset as u32;
        assigned.visit(&op);
        t.op(op)?;
        if t.ctrl.is_empty() {
            break;
        }
    }
    t.close_checkpoint();
    pair_adjacent_in(&mut t.code, &t.pending_handlers, &t.handler_map, t.mem0_unshared);
    encode_access_ends(&mut t.code);
    // References are always zeroed: the collectors read every reference slot of a frame.
    let mut zeroed = Vec::new();
    for l in params..t.local_slot.len() as u32 {
        if t.local_ref[l as usize] || assigned.needs_zero(l) {
            let slot = t.local_slot[l as usize];
            zeroed.push(slot);
            if t.local_wide[l as usize] {
                zeroed.push(slot + 1);
            }
        }
    }
    let (prologue, entry) = Prologue::of(&t.code);
    Ok(CompiledFunc {
        entry_op: t.code[entry].opcode(),
        prologue,
        code: t.code.into(),
        zeroed: zeroed.into(),
        frame_slots: t.max_height,
        memargs: t.memargs.into(),
        v128_consts: t.v128_consts.into(),
        shuffles: t.shuffles.into(),
        handlers: t.pending_handlers.into(),
        handler_map: t.handler_map.into(),
        offsets: t.offsets.into(),
        stack_maps: t.stack_maps.finish(t.ref_local_slots),
        casts: t.casts.into(),
    })
}

/// Makes each two consecutive memory 0 accesses (when `memory`: memory 0 is not shared, see
/// [`pair_memory_accesses`]) and each two consecutive i32 adds of a constant
/// ([`pair_added_constants`]) one instruction and its `Arg` word, where no jump, exception
/// handler or handler region lands on the second. The code keeps its length, so every index
/// in it stays valid.
fn pair_adjacent_in(
    code: &mut [Instr],
    handlers: &[Handler],
    handler_map: &[(u32, u32)],
    memory: bool,
) {
    let mut landed = vec![false; code.len()];
    let mut land = |t: u32| {
        if let Some(l) = landed.get_mut(t as usize) {
            *l = true;
        }
    };
    for ins in code.iter() {
        if let Some(t) = ins.clone().target_mut() {
            land(*t);
        }
    }
    handlers.iter().flat_map(|h| h.catches.iter()).for_each(|c| land(c.target));
    handler_map.iter().for_each(|&(pc, _)| land(pc));
    let mut i = 0;
    while i + 1 < code.len() {
        if !landed[i + 1] {
            let (first, second) = (code[i], code[i + 1]);
            let memory_pair = memory.then(|| pair_memory_accesses(first, second)).flatten();
            if let Some((fused, arg)) = memory_pair.or_else(|| pair_added_constants(first, second))
            {
                (code[i], code[i + 1]) = (fused, arg);
                i += 2;
                continue;
            }
        }
        i += 1;
    }
}

/// An instruction followed by `x = y + j` (an i32 add of a constant), the add in the `Arg`
/// word: another such add (`I32AddIAddI`), an `i32.load` (`I32LoadThenAddI`) or an `i64.store`
/// (`I64StoreThenAddI`: QuickJS pushes a value, then moves its stack pointer). The first runs
/// first (the add may read what it loaded); a memory access that traps or is retried stops
/// before the add.
fn pair_added_constants(first: Instr, second: Instr) -> Option<(Instr, Instr)> {
    let Instr::I32AddI { d: x, a: y, i: j } = second else { return None };
    let fused = match first {
        Instr::I32AddI { d, a, i } => Instr::I32AddIAddI { d, a, i },
        Instr::I32Load { d, a, o } => Instr::I32LoadThenAddI { d, a, o },
        Instr::I64Store { a, v, o } => Instr::I64StoreThenAddI { a, v, o },
        _ => return None,
    };
    Some((fused, Instr::Arg { x, y, z: j as u32 }))
}

impl Translator<'_> {
    // ---- fuel and interruption checkpoints ----------------------------------------------------

    /// Starts a new straight-line region: a `Check` instruction charging the number of wasm
    /// instructions translated until the next region starts. Placed at function entry, loop
    /// headers and labels, so every loop iteration and every call passes one.
    fn open_checkpoint(&mut self) {
        if !self.checkpoints {
            return;
        }
        self.close_checkpoint();
        let at = self.emit(Instr::Check { n: 0 });
        self.checkpoint = Some((at, 0));
    }

    fn close_checkpoint(&mut self) {
        if let Some((at, n)) = self.checkpoint.take() {
            self.code[at] = Instr::Check { n };
        }
    }

    // ---- emission -------------------------------------------------------------------------

    fn emit(&mut self, i: Instr) -> usize {
        self.emit_at(i, self.offset)
    }

    /// Emits `i` with the wasm offset of another operator (a fused instruction whose trap
    /// must name the access it absorbed).
    fn emit_at(&mut self, i: Instr, offset: u32) -> usize {
        self.code.push(i);
        self.offsets.push(offset);
        self.last_producer = None;
        self.code.len() - 1
    }

    /// `d = a` (one slot), folded into the copy just emitted when no branch lands between them
    /// and nothing may retarget that one: a `CopyPair` when it writes `d - 1` (as consecutive
    /// call arguments and branch values are copied), else a `CopyTwo` when the slots fit it.
    fn emit_copy(&mut self, d: Slot, a: Slot) {
        let n = self.code.len();
        if n > 0 && self.barrier < n && self.last_producer != Some(n - 1) {
            if let Instr::Copy { d: d0, a: a0 } = self.code[n - 1] {
                // `a == d0` would read what the first copy just wrote; the pair reads first.
                if d0.checked_add(1) == Some(d) && a != d0 {
                    self.code[n - 1] = Instr::CopyPair { d: d0, a: a0, b: a };
                    return;
                }
                let s = |v: Slot| u16::try_from(v).ok();
                if let (Some(d0), Some(a0), Some(d1), Some(a1)) = (s(d0), s(a0), s(d), s(a)) {
                    self.code[n - 1] = Instr::CopyTwo { d0, a0, d1, a1 };
                    return;
                }
            }
        }
        self.emit(Instr::Copy { d, a });
    }

    /// The index of the next instruction. Every branch target is taken from here, so it also
    /// marks a barrier: no fusion combines instructions across it (see `fuse_global_add`).
    fn pc(&mut self) -> u32 {
        self.barrier = self.code.len();
        self.code.len() as u32
    }

    /// `global.get g; i32.add imm; global.set g` (a shadow-stack pointer moved in a prologue or
    /// epilogue), just emitted as a `GlobalGetAddI` of `g` writing `a` and about to be
    /// completed by a `GlobalSet` of `a`, becomes one `GlobalAddI`, when no branch lands after
    /// the `GlobalGetAddI`.
    fn fuse_global_add(&mut self, g: u32, a: Slot) -> bool {
        let n = self.code.len();
        if n < 1 || self.barrier > n - 1 {
            return false;
        }
        let Instr::GlobalGetAddI { g: g0, d, i } = self.code[n - 1] else { return false };
        if g0 != g || d != a {
            return false;
        }
        self.unemit();
        self.emit(Instr::GlobalAddI { g, d, i });
        true
    }

    fn bump(&mut self, to: Slot) {
        if to > self.max_height {
            self.max_height = to;
        }
    }

    // ---- operand stack --------------------------------------------------------------------

    fn push(&mut self, wide: bool, loc: Loc) -> Slot {
        let slot = self.height;
        self.height += if wide { 2 } else { 1 };
        self.bump(self.height);
        if let Loc::Local(l) = loc {
            self.local_refs[l as usize] += 1;
        }
        self.stack.push(Opd { slot, wide, loc, is_ref: false });
        slot
    }

    /// Records whether the entry on top of the stack is a reference.
    pub(super) fn mark_top_ref(&mut self, is_ref: bool) {
        let top = self.stack.len().wrapping_sub(1);
        if let Some(o) = self.stack.last_mut() {
            match (o.is_ref, is_ref) {
                (false, true) => self.ref_entries.push(top),
                (true, false) => {
                    self.ref_entries.pop();
                }
                _ => {}
            }
            o.is_ref = is_ref;
        }
    }

    /// Whether the entry on top of the stack is a reference.
    pub(super) fn top_is_ref(&self) -> bool {
        self.stack.last().is_some_and(|o| o.is_ref)
    }

    pub(super) fn pop(&mut self) -> Opd {
        let o = self.stack.pop().expect("validated: operand stack underflow");
        if o.is_ref {
            self.ref_entries.pop();
        }
        self.height = o.slot;
        if let Loc::Local(l) = o.loc {
            self.local_refs[l as usize] -= 1;
        }
        o
    }

    /// Writes entry `i` to its canonical slot.
    fn materialize(&mut self, i: usize) {
        let o = self.stack[i];
        match o.loc {
            Loc::Temp => {}
            Loc::Local(l) => {
                match o.wide {
                    true => _ = self.emit(Instr::Copy2 { d: o.slot, a: l }),
                    false => self.emit_copy(o.slot, l),
                }
                self.local_refs[l as usize] -= 1;
            }
            Loc::Const(v) => {
                self.emit_const(o.slot, v);
            }
        }
        self.stack[i].loc = Loc::Temp;
    }

    fn emit_const(&mut self, d: Slot, v: u64) {
        if v <= u32::MAX as u64 {
            self.emit(Instr::Const32 { d, v: v as u32 });
        } else {
            self.emit(Instr::Const64 { d, lo: v as u32, hi: (v >> 32) as u32 });
        }
    }

    fn materialize_all(&mut self) {
        for i in 0..self.stack.len() {
            self.materialize(i);
        }
    }

    fn materialize_top(&mut self, n: usize) {
        let len = self.stack.len();
        for i in len - n..len {
            self.materialize(i);
        }
    }

    /// Pops an operand and returns a slot holding its value.
    fn pop_slot(&mut self) -> Slot {
        let slot = self.peek_slot();
        self.pop();
        slot
    }

    /// A slot holding the value on top of the stack, which stays there (a constant is written
    /// to its canonical slot first).
    pub(super) fn peek_slot(&mut self) -> Slot {
        let len = self.stack.len();
        self.materialize_if_const(len - 1);
        self.stack[len - 1].read_slot().expect("a constant was just written to its slot")
    }

    fn materialize_if_const(&mut self, i: usize) {
        if matches!(self.stack[i].loc, Loc::Const(_)) {
            self.materialize(i);
        }
    }

    /// Pushes a fresh temporary and emits the instruction producing it.
    fn produce(&mut self, wide: bool, make: impl FnOnce(Slot) -> Instr) {
        let d = self.push(wide, Loc::Temp);
        let idx = self.emit(make(d));
        self.last_producer = Some(idx);
    }

    /// The argument base after materialising the top `n` entries (contiguous canonical slots).
    fn args_base(&mut self, n: usize) -> Slot {
        self.materialize_top(n);
        let len = self.stack.len();
        let base = if n == 0 { self.height } else { self.stack[len - n].slot };
        for _ in 0..n {
            self.pop();
        }
        base
    }

    fn push_results_at(&mut self, base: Slot, types: &[ValType]) {
        debug_assert_eq!(self.height, base);
        for ty in types {
            self.push(*ty == ValType::V128, Loc::Temp);
            self.mark_top_ref(matches!(ty, ValType::Ref(_)));
        }
    }

    // ---- control --------------------------------------------------------------------------

    fn block_type(&self, bt: BlockType) -> (Vec<ValType>, Vec<ValType>) {
        match bt {
            BlockType::Empty => (vec![], vec![]),
            BlockType::Type(t) => (vec![], vec![ValType::from_wasmparser(t)]),
            BlockType::FuncType(idx) => {
                let f = self.module.func_type_of_type(idx);
                (f.params().to_vec(), f.results().to_vec())
            }
        }
    }

    fn push_ctrl(&mut self, kind: Kind, bt: BlockType) {
        let (params, results) = self.block_type(bt);
        self.materialize_all();
        let n = params.len();
        let stack_len = self.stack.len() - n;
        let base = if n == 0 { self.height } else { self.stack[stack_len].slot };
        // The start of a `block` is no branch target (its branches go to its end), so the
        // instructions on either side may fuse; every other start is kept apart (a loop's is a
        // target, a `try`'s opens a handler region).
        let loop_pc = match kind {
            Kind::Block => self.code.len() as u32,
            _ => self.pc(),
        };
        self.last_producer = None;
        let inner_handler = self.open_handlers.last().copied().unwrap_or(u32::MAX);
        self.ctrl.push(Ctrl {
            kind,
            base,
            stack_len,
            params,
            results,
            loop_pc,
            patches: Vec::new(),
            else_patch: None,
            handler: None,
            inner_handler,
        });
        if kind == Kind::Loop {
            self.open_checkpoint();
        }
    }

    /// Resets the operand stack to a frame's base plus `types`, all in canonical slots.
    fn reset_stack(&mut self, depth_from_top: usize, use_results: bool) {
        let c = &self.ctrl[self.ctrl.len() - 1 - depth_from_top];
        let types = if use_results { c.results.clone() } else { c.params.clone() };
        let (stack_len, base) = (c.stack_len, c.base);
        while self.stack.len() > stack_len {
            self.pop();
        }
        self.height = base;
        self.push_results_at(base, &types);
    }

    /// Moves the top `label` values into the canonical slots starting at `dst`.
    fn move_values(&mut self, n: usize, dst: Slot) {
        if n == 0 {
            return;
        }
        let len = self.stack.len();
        if n > 1 {
            self.materialize_top(n);
        }
        let mut d = dst;
        for i in len - n..len {
            let o = self.stack[i];
            let src = match o.loc {
                Loc::Temp => o.slot,
                Loc::Local(l) => l,
                Loc::Const(v) => {
                    self.emit_const(d, v);
                    d += 1;
                    continue;
                }
            };
            if src != d {
                match o.wide {
                    true => _ = self.emit(Instr::Copy2 { d, a: src }),
                    false => self.emit_copy(d, src),
                }
            }
            d += if o.wide { 2 } else { 1 };
        }
    }

    /// Whether branching to label `depth` needs value moves.
    fn needs_moves(&self, depth: u32) -> bool {
        let c = &self.ctrl[self.ctrl.len() - 1 - depth as usize];
        let n = c.label_types().len();
        if n == 0 {
            return false;
        }
        if c.kind == Kind::Func {
            return true;
        }
        let len = self.stack.len();
        let mut d = c.base;
        for o in &self.stack[len - n..] {
            if o.loc != Loc::Temp || o.slot != d {
                return true;
            }
            d += if o.wide { 2 } else { 1 };
        }
        false
    }

    /// Emits an unconditional branch to label `depth`, moving its values.
    fn branch(&mut self, depth: u32) {
        let idx = self.ctrl.len() - 1 - depth as usize;
        if self.ctrl[idx].kind == Kind::Func {
            self.emit_return();
            return;
        }
        let n = self.ctrl[idx].label_types().len();
        let base = self.ctrl[idx].base;
        self.move_values(n, base);
        // `x += i` just emitted (no branch lands between): the increment jumps itself.
        let last = self.code.len().wrapping_sub(1);
        if self.barrier <= last {
            match self.code.last() {
                Some(&Instr::I32AddI { d, a, i }) if d == a => {
                    self.unemit();
                    self.jump_to(idx, |t| Instr::I32AddIBr { d, i, t });
                    return;
                }
                Some(&Instr::I64AddI { s: 0, d, a, i }) if d == a => {
                    self.unemit();
                    self.jump_to(idx, |t| Instr::I64AddIBr { d, i, t });
                    return;
                }
                _ => {}
            }
        }
        self.jump_to(idx, |t| Instr::Br { t, h: 0 });
    }

    /// Emits a jump instruction targeting control frame `idx`.
    fn jump_to(&mut self, idx: usize, make: impl FnOnce(u32) -> Instr) {
        let c = &self.ctrl[idx];
        if c.kind == Kind::Loop {
            let t = c.loop_pc;
            self.emit_branch(make(t));
        } else {
            let at = self.emit_branch(make(u32::MAX));
            self.ctrl[idx].patches.push(Patch::Instr(at));
        }
    }

    /// Emits a branch, fused with the add just emitted when the branch compares its sum and no
    /// branch lands between them (see [`fuse_add_branch`]): the add and compare that end a
    /// loop become one instruction. Returns the branch's index.
    fn emit_branch(&mut self, br: Instr) -> usize {
        let n = self.code.len();
        if n > 0 && self.barrier < n {
            if let Some(fused) = fuse_add_branch(self.code[n - 1], br) {
                self.unemit();
                return self.emit(fused);
            }
        }
        self.emit(br)
    }

    /// A conditional branch: `taken(t)` jumps when the condition holds, `skip(t)` when it fails.
    fn cond_branch(
        &mut self,
        depth: u32,
        taken: impl FnOnce(u32) -> Instr,
        skip: impl FnOnce(u32) -> Instr,
    ) {
        let idx = self.ctrl.len() - 1 - depth as usize;
        if !self.needs_moves(depth) && self.ctrl[idx].kind != Kind::Func {
            self.jump_to(idx, taken);
        } else {
            // Multi-value moves materialise their operands; do that before the split so the
            // fall-through path sees the same stack state as the taken path.
            let n = self.ctrl[idx].label_types().len();
            if n > 1 {
                self.materialize_top(n);
            }
            let s = self.emit(skip(u32::MAX));
            self.branch(depth);
            let here = self.pc();
            self.set_target(s, here);
            self.last_producer = None;
        }
    }

    fn set_target(&mut self, at: usize, t: u32) {
        match self.code[at].target_mut() {
            Some(x) => *x = t,
            None => unreachable!("not a branch: {:?}", self.code[at]),
        }
    }

    /// `Return` or `ReturnFrom` of one slot, fused with the `GlobalSetAddI` just emitted (an
    /// epilogue restoring the stack pointer) when no branch lands between them.
    fn emit_ret(&mut self, r: Instr) {
        let n = self.code.len();
        if n > 0 && self.barrier < n {
            let fused = match (self.code[n - 1], r) {
                (Instr::GlobalSetAddI { g, a, i }, Instr::Return) => {
                    Some(Instr::GlobalSetAddIReturn { g, a, i })
                }
                (Instr::GlobalSetAddI { g, a, i }, Instr::ReturnFrom { s, n: 1 }) => {
                    match (u16::try_from(a), u16::try_from(s)) {
                        (Ok(a), Ok(s)) => Some(Instr::GlobalSetAddIReturnFrom { g, a, s, i }),
                        _ => None,
                    }
                }
                _ => None,
            };
            if let Some(f) = fused {
                // The return keeps the `global.set`'s offset (neither can trap).
                self.code[n - 1] = f;
                return;
            }
        }
        self.emit(r);
    }

    fn emit_return(&mut self) {
        let n = self.ctrl[0].results.len();
        if n == 0 {
            self.emit_ret(Instr::Return);
            return;
        }
        let slots = slots_of(&self.ctrl[0].results.clone());
        let len = self.stack.len();
        if n == 1 {
            let o = self.stack[len - 1];
            match o.loc {
                Loc::Const(v) => {
                    self.emit_const(0, v);
                    self.emit(Instr::Return);
                }
                // Parameter 0 is already where results go.
                Loc::Local(0) => self.emit_ret(Instr::Return),
                Loc::Local(l) => self.emit_ret(Instr::ReturnFrom { s: l, n: slots }),
                Loc::Temp => match self.retargetable_producer(o.slot) {
                    // The instruction that just computed the result writes slot 0 itself.
                    Some(idx) => {
                        *self.code[idx].dst_mut().expect("a producer has a result") = 0;
                        self.emit(Instr::Return);
                    }
                    None => self.emit_ret(Instr::ReturnFrom { s: o.slot, n: slots }),
                },
            }
            return;
        }
        self.materialize_top(n);
        let s = self.stack[len - n].slot;
        self.emit(Instr::ReturnFrom { s, n: slots });
    }

    fn end_block(&mut self) {
        let kind = self.ctrl.last().unwrap().kind;
        let is_if_without_else = kind == Kind::If;
        if !self.unreachable {
            let n = self.ctrl.last().unwrap().results.len();
            if kind == Kind::TryCatch {
                // The clause's operands sit one slot above the label's values.
                let base = self.ctrl.last().unwrap().base;
                self.move_values(n, base);
            } else if kind != Kind::Func {
                // A function's end returns its values from where they are (`emit_return`):
                // nothing jumps to it (branches to the function label return themselves).
                self.materialize_top(n);
            }
        }
        let c = self.ctrl.pop().unwrap();
        if c.kind == Kind::Func {
            let patches = c.patches.clone();
            let base = c.base;
            let slots = slots_of(&c.results);
            self.ctrl.push(c);
            if !self.unreachable {
                self.emit_return();
            }
            if !patches.is_empty() {
                // Catch clauses that target the function label: their values sit at the label
                // base; return them from there.
                let stub = self.pc();
                self.emit(if slots == 0 {
                    Instr::Return
                } else {
                    Instr::ReturnFrom { s: base, n: slots }
                });
                for p in patches {
                    self.apply_patch(p, stub);
                }
            }
            self.ctrl.pop();
            return;
        }
        let here = self.pc();
        if is_if_without_else {
            if let Some(e) = c.else_patch {
                self.set_target(e, here);
            }
        }
        if let Some(h) = c.handler.filter(|_| c.kind != Kind::TryCatch) {
            // The handler covers the try_table (or legacy try) body only; a legacy try's
            // catch clauses closed it already.
            debug_assert_eq!(self.open_handlers.last(), Some(&(h as u32)));
            self.open_handlers.pop();
            let outer = self.open_handlers.last().copied().unwrap_or(u32::MAX);
            self.handler_map.push((here, outer));
        }
        for p in &c.patches {
            self.apply_patch(*p, here);
        }
        // Rebuild the stack: entries below the block, then its results in canonical slots.
        while self.stack.len() > c.stack_len {
            self.pop();
        }
        self.height = c.base;
        self.push_results_at(c.base, &c.results);
        self.unreachable = false;
        self.open_checkpoint();
        self.last_producer = None;
    }

    fn apply_patch(&mut self, p: Patch, target: u32) {
        match p {
            Patch::Instr(at) => self.set_target(at, target),
            Patch::Catch(h, i) => self.pending_handlers[h].catches[i].target = target,
        }
    }

    fn mark_unreachable(&mut self) {
        self.unreachable = true;
    }

    // ---- memory ---------------------------------------------------------------------------

    fn mem_is64(&self, mem: u32) -> bool {
        self.module.memories[mem as usize].memory64
    }

    fn fast_mem(&self, m: &WpMemArg) -> bool {
        mem_index(m) == 0 && !self.mem_is64(0) && m.offset <= MAX_FAST_OFFSET
    }

    fn memarg(&mut self, kind: MemKind, m: &WpMemArg) -> u32 {
        let mem = mem_index(m);
        let is64 = self.mem_is64(mem);
        self.memargs.push(MemArg { kind, mem, offset: m.offset, is64 });
        (self.memargs.len() - 1) as u32
    }

    /// The instruction just emitted if it produced the operand `depth` entries below the top
    /// of the stack (a temporary, read by nothing else) and no branch lands after it: an
    /// instruction the operand's consumer can absorb.
    fn producer_of(&self, depth: usize) -> Option<Instr> {
        let n = self.code.len();
        let len = self.stack.len();
        if n == 0 || len <= depth || self.barrier > n - 1 {
            return None;
        }
        let o = self.stack[len - 1 - depth];
        let last = self.code[n - 1];
        (o.loc == Loc::Temp
            && o.slot >= self.local_slots
            && last.clone().dst_mut().is_some_and(|d| *d == o.slot))
        .then_some(last)
    }

    /// A `br_table` index that is an element of a static array (`I32LoadShlAddI`, the
    /// instruction just emitted, `ins`), or such an element plus a constant (`I32AddI` of the
    /// temporary the load wrote just before, no branch landing between): the load's `k, a, i`,
    /// the constant, and how many instructions the fused `br_table` replaces.
    fn static_table_index(&self, ins: Instr) -> Option<(u8, Slot, i32, i32, usize)> {
        match ins {
            Instr::I32LoadShlAddI { k, a, i, .. } => Some((k, a, i, 0, 1)),
            Instr::I32AddI { a: x, i: j, .. } => {
                let n = self.code.len();
                if n < 2 || self.barrier > n - 2 || x < self.local_slots {
                    return None;
                }
                match self.code[n - 2] {
                    Instr::I32LoadShlAddI { k, d, a, i } if d == x => Some((k, a, i, j, 2)),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The address slot and offset of the `i32.load8_u` just emitted (no branch landing after
    /// it) if it loaded `a` (a temporary or a local) from a memory 0 that is not shared.
    fn byte_index_load(&self, a: Slot) -> Option<(Slot, u32)> {
        let n = self.code.len();
        if n == 0 || self.barrier > n - 1 || !self.mem0_unshared {
            return None;
        }
        match self.code[n - 1] {
            Instr::I32Load8U { d, a: b, o } if d == a => Some((b, o)),
            _ => None,
        }
    }

    /// The slot and the value (low and high halves) of the `Const32` or `Const64` just
    /// emitted, when nothing lands after it.
    fn constant_just_set(&self) -> Option<(Slot, u32, u32)> {
        match self.last_unlanded()? {
            Instr::Const32 { d, v } => Some((d, v, 0)),
            Instr::Const64 { d, lo, hi } => Some((d, lo, hi)),
            _ => None,
        }
    }

    /// The `I32AddI { d, a, i }` just emitted if it produced the operand `depth` entries below
    /// the top (see [`Self::producer_of`]): its source slot and constant.
    fn top_is_add_imm(&self, depth: usize) -> Option<(Slot, i32)> {
        match self.producer_of(depth)? {
            Instr::I32AddI { a, i, .. } => Some((a, i)),
            _ => None,
        }
    }

    /// A `select` on condition slot `c` (popped) whose second or first value is a constant
    /// not yet written: `SelectElseK` or `SelectThenK`, the constant in the `Arg` word. Both
    /// values are plain numbers (neither a v128 nor a reference).
    fn select_constant(&mut self, c: Slot) -> bool {
        let len = self.stack.len();
        let (first, second) = (self.stack[len - 2].loc, self.stack[len - 1].loc);
        let (k, select, other): (_, fn(Slot, Slot) -> Instr, _) = match (first, second) {
            (_, Loc::Const(k)) => {
                self.pop();
                (k, |d, a| Instr::SelectElseK { d, a }, self.pop_slot())
            }
            (Loc::Const(k), _) => {
                let b = self.pop_slot();
                self.pop();
                (k, |d, b| Instr::SelectThenK { d, b }, b)
            }
            _ => return false,
        };
        self.produce(false, |d| select(d, other));
        self.emit(Instr::Arg { x: c, y: k as u32, z: (k >> 32) as u32 });
        // As for `select`: may still be retargeted by local.set.
        self.last_producer = Some(self.code.len() - 2);
        true
    }

    /// `select` whose condition the compare just emitted computed (a temporary no branch lands
    /// after): the compare and the select become one `Sel*` instruction and its `Arg` word; an
    /// `eqz` just emitted becomes the select's own test, with the values swapped. Plain 32- or
    /// 64-bit values only (a reference selected needs the stack maps' view).
    fn select_on_compare(&mut self) -> bool {
        if self.last_producer != Some(self.code.len().wrapping_sub(1)) {
            return false;
        }
        let len = self.stack.len();
        let plain = |o: &Opd| !o.is_ref && !o.wide;
        if !plain(&self.stack[len - 2]) || !plain(&self.stack[len - 3]) {
            return false;
        }
        // `select(x, y, eqz c)` is `select(y, x, c)`: the test moves into the select.
        enum Test {
            Eqz {
                c: Slot,
                all64: bool,
            },
            /// `c & m != 0`, swapped as `Eqz` when an `eqz` of the `and` was the condition.
            Mask {
                c: Slot,
                m: i32,
                all64: bool,
                swap: bool,
            },
            Compare(Instr),
        }
        let test = match self.producer_of(0) {
            Some(Instr::I32AndI { a: c, i: m, .. }) => {
                Test::Mask { c, m, all64: false, swap: false }
            }
            Some(Instr::I32Eqz { a: c, .. }) => match self.masked(c, false) {
                Some((c, m)) => Test::Mask { c, m, all64: false, swap: true },
                None => Test::Eqz { c, all64: false },
            },
            Some(Instr::I64Eqz { a: c, .. }) => match self.masked(c, true) {
                Some((c, m)) => Test::Mask { c, m, all64: true, swap: true },
                None => Test::Eqz { c, all64: true },
            },
            Some(cmp) => match fuse_compare_select(cmp) {
                Some(sel) => Test::Compare(sel),
                None => return false,
            },
            None => return false,
        };
        self.unemit();
        if let Test::Mask { swap: true, .. } = test {
            // The `and` before the `eqz`.
            self.unemit();
        }
        self.pop();
        let y = self.pop_slot();
        let x = self.pop_slot();
        let arg = match test {
            Test::Eqz { c, all64 } => {
                let (a, b) = (y, x);
                self.produce(false, |d| match all64 {
                    true => Instr::SelectNz64 { d, a, b },
                    false => Instr::Select { d, a, b },
                });
                Instr::Arg { x: c, y: 0, z: 0 }
            }
            Test::Mask { c, m, all64, swap } => {
                let (a, b) = if swap { (y, x) } else { (x, y) };
                self.produce(false, |d| match all64 {
                    true => Instr::SelectAnd64 { d, a, b },
                    false => Instr::SelectAnd { d, a, b },
                });
                Instr::Arg { x: c, y: m as u32, z: 0 }
            }
            Test::Compare(sel) => {
                self.produce(false, |d| {
                    let mut i = sel;
                    *i.dst_mut().expect("a select has a result") = d;
                    i
                });
                Instr::Arg { x, y, z: 0 }
            }
        };
        self.emit(arg);
        // As for `select`: may still be retargeted by local.set.
        self.last_producer = Some(self.code.len() - 2);
        true
    }

    /// Whether a branch target or the start of an exception handler lies after instruction
    /// `i`: then the instructions from `i` on do not always run in sequence, and fusing them
    /// (or removing one) would change where the branch or the handler lands.
    fn lands_after(&self, i: usize) -> bool {
        self.barrier > i || self.handler_map.last().is_some_and(|&(at, _)| at as usize > i)
    }

    /// The instruction just emitted, when no branch or handler boundary lands after it (so
    /// the next instruction may absorb it).
    fn last_unlanded(&self) -> Option<Instr> {
        let n = self.code.len();
        (n > 0 && !self.lands_after(n - 1)).then(|| self.code[n - 1])
    }

    /// The local on top of the operand stack and the instruction just emitted, when no branch
    /// lands after it and no handler boundary does: if that instruction wrote the local, a
    /// `local.tee` of its result.
    fn teed(&self) -> Option<(Slot, Instr)> {
        let Loc::Local(l) = self.stack.last()?.loc else { return None };
        Some((l, self.last_unlanded()?))
    }

    /// `local.tee l (i32.add a i)` just emitted as `I32AddI { d: l, a, i }` (`l` not `a`, both
    /// 16-bit slots) with `l` the top operand, no branch landing after it and no handler
    /// boundary: `(l, a, i)`, for a load from `l` to compute its own address.
    ///
    /// Only when the top is the stack's one alias of `l`: the fused load writes `l` itself, and
    /// a `local.set` of its result may put the copies that save the other aliases in front of
    /// it (see `local_set`), where they would read `l` from before the add: in
    /// `*(p = q + 8) = (p = *p) + 1` the store's address, saved from `p` when `p` is set to
    /// the loaded value, would be the `p` of before the statement.
    fn teed_add_imm(&self) -> Option<(u16, u16, i32)> {
        match self.teed()? {
            (l, Instr::I32AddI { d, a, i })
                if d == l && a != l && self.local_refs[l as usize] == 1 =>
            {
                Some((u16::try_from(l).ok()?, u16::try_from(a).ok()?, i))
            }
            _ => None,
        }
    }

    /// `local.tee l (i32.load (a + (b << k)))` just emitted as `I32LoadIdx { k, d: l, a, b }`
    /// (all 16-bit slots) with `l` the top operand, no branch landing after it and no handler
    /// boundary: `(k, l, a, b)`, for a `br_table` on `l` to load its own index.
    fn teed_load_idx(&self) -> Option<(u8, u16, u16, u16)> {
        match self.teed()? {
            (l, Instr::I32LoadIdx { k, d, a, b }) if d == l => {
                let s = |x: Slot| u16::try_from(x).ok();
                Some((k, s(l)?, s(a)?, s(b)?))
            }
            _ => None,
        }
    }

    /// The operand and mask of the `and` of a constant (`I32AndI`, or `I64AndI` with an
    /// unshifted immediate when `all64`) emitted just before the `eqz` just emitted, if it
    /// computed that `eqz`'s operand `t`: a temporary only the `eqz` read, with no branch
    /// landing on the `eqz` and no handler boundary between them.
    fn masked(&self, t: Slot, all64: bool) -> Option<(Slot, i32)> {
        let n = self.code.len();
        if n < 2 || t < self.local_slots || self.lands_after(n - 2) {
            return None;
        }
        match (self.code[n - 2], all64) {
            (Instr::I32AndI { d, a, i }, false) if d == t => Some((a, i)),
            (Instr::I64AndI { s: 0, d, a, i }, true) if d == t => Some((a, i)),
            _ => None,
        }
    }

    /// The f64 operation `outer` (`F64Add`, `F64Sub`, `F64Mul` or `F64Div`, operands unset)
    /// of a result the `f64.add`, `f64.sub`, `f64.mul` or `f64.div` just emitted computed (a
    /// temporary no branch lands after) and an operand that is not a constant: one `F64{Inner}{Outer}`
    /// instruction (the inner result on the left; `...R` on the right) and an `Arg` word with
    /// the other operand, in place of the two. Each result is rounded as the two instructions
    /// round it (no fused multiply-add): the results are bit for bit the same, NaNs included.
    fn f64_pair(&mut self, outer: Instr) -> bool {
        if self.last_producer != Some(self.code.len().wrapping_sub(1)) {
            return false;
        }
        let Some((o, ..)) = f64_arith(outer) else { return false };
        let Some(((i, a, b), c, left)) = self.absorb_operand(f64_arith) else { return false };
        self.produce(false, |d| f64_pair(i, o, left, d, a, b));
        self.emit(Instr::Arg { x: c, y: 0, z: 0 });
        // As for `select`: may still be retargeted by local.set.
        self.last_producer = Some(self.code.len() - 2);
        true
    }

    /// An f64 add, sub, mul or div whose right operand (or either, for add and mul) the
    /// `f64.load` just emitted loaded from memory 0: one `F64*Load` instruction, which keeps the
    /// load's offset (it may trap), when the other operand and the address are slots that fit
    /// 16 bits.
    fn f64_load_operand(&mut self, op: Instr) -> bool {
        let Some((k, ..)) = f64_arith(op) else { return false };
        if self.last_producer != Some(self.code.len().wrapping_sub(1)) {
            return false;
        }
        let load = |i: Instr| match i {
            Instr::I64Load { a, o, .. } => u16::try_from(a).ok().map(|p| (p, o)),
            _ => None,
        };
        // The load is the right operand, or the left one of the commutative add and mul
        // (`absorb_operand` tries them in that order); the other operand is read where it is
        // (a local or a temporary), never a constant.
        let loaded = |depth| self.producer_of(depth).and_then(load).is_some();
        let depth = match (loaded(0), k == 0 || k == 2) {
            (true, _) => 0,
            (false, true) if loaded(1) => 1,
            _ => return false,
        };
        let other = self.stack[self.stack.len() - 2 + depth];
        let Some(a) = other.read_slot().and_then(|s| u16::try_from(s).ok()) else { return false };
        let offset = self.offsets[self.offsets.len() - 1];
        let Some(((p, o), ..)) = self.absorb_operand(load) else {
            unreachable!("the load was checked above")
        };
        self.produce(false, |d| match k {
            0 => Instr::F64AddLoad { d, a, p, o },
            1 => Instr::F64SubLoad { d, a, p, o },
            2 => Instr::F64MulLoad { d, a, p, o },
            _ => Instr::F64DivLoad { d, a, p, o },
        });
        *self.offsets.last_mut().expect("just emitted") = offset;
        true
    }

    /// `i32.add` of an operand that the `i32.shl` by a constant just emitted computed:
    /// `I32AddShl` in its place, the scaled index of an array element in one instruction.
    fn add_shifted(&mut self) -> bool {
        let shift = |i| match i {
            Instr::I32ShlI { a, i, .. } => Some((a, (i & 31) as u8)),
            _ => None,
        };
        let Some(((b, k), a, _)) = self.absorb_operand(shift) else { return false };
        if let Some((a, i, b)) = self.added_imm_operand(a, b) {
            self.unemit();
            self.produce(false, |d| Instr::I32AddIShl { k, d, a, b, i });
        } else {
            self.produce(false, |d| Instr::I32AddShl { k, d, a, b });
        }
        true
    }

    /// For an `I32AddShl` of `a` and `b` about to be emitted: when the instruction just
    /// emitted is the `i32.add` of a constant that computed `a`, a temporary the add consumed,
    /// with nothing landing after it, its operand and constant and `b` (all slots 16 bits).
    fn added_imm_operand(&self, a: Slot, b: Slot) -> Option<(u16, i32, u16)> {
        if a < self.local_slots {
            return None;
        }
        match self.last_unlanded()? {
            Instr::I32AddI { d, a: x, i } if d == a => {
                Some((u16::try_from(x).ok()?, i, u16::try_from(b).ok()?))
            }
            _ => None,
        }
    }

    /// For a binary operation about to be translated: if the instruction just emitted computed
    /// one of its two operands (see [`Self::producer_of`]; the right one is tried first),
    /// `absorb` takes that instruction, and the other operand is not a constant, removes the
    /// instruction, pops both operands and returns what `absorb` made of it, the other
    /// operand's slot, and whether the absorbed operand was the left one.
    fn absorb_operand<T>(
        &mut self,
        absorb: impl Fn(Instr) -> Option<T>,
    ) -> Option<(T, Slot, bool)> {
        for depth in 0..2 {
            let Some(taken) = self.producer_of(depth).and_then(&absorb) else { continue };
            let other = self.stack[self.stack.len() - 2 + depth];
            if matches!(other.loc, Loc::Const(_)) {
                return None;
            }
            self.unemit();
            let slot = if depth == 0 {
                self.pop();
                self.pop_slot()
            } else {
                let slot = self.pop_slot();
                self.pop();
                slot
            };
            return Some((taken, slot, depth == 1));
        }
        None
    }

    /// Removes the instruction just emitted (it is being fused into the next one).
    /// Removes the instruction just emitted; gives its wasm offset.
    fn unemit(&mut self) -> u32 {
        self.code.pop();
        self.last_producer = None;
        self.offsets.pop().expect("an instruction was emitted")
    }

    fn load(&mut self, m: WpMemArg, kind: MemKind, wide: bool, fast: fn(Slot, Slot, u32) -> Instr) {
        if self.fast_mem(&m) && self.reload_of_store(m.offset as u32, fast) {
            return;
        }
        if self.fast_mem(&m)
            && m.offset == 0
            && self.last_producer == Some(self.code.len().wrapping_sub(1))
        {
            // An address just computed by the instruction before: `a + (b << k)` or `a + b`
            // makes an indexed load, `a + i` a load at `a + i`.
            let producer = self.producer_of(0);
            let fused = |d| {
                let index = match producer? {
                    Instr::I32AddShl { k, a, b, .. } => (k, a, b),
                    Instr::I32Add { a, b, .. } => (0, a, b),
                    Instr::I32ShlAddI { k, a, i, .. } => {
                        return match fast(d, 0, 0) {
                            Instr::I32Load { .. } => Some(Instr::I32LoadShlAddI { k, d, a, i }),
                            _ => None,
                        };
                    }
                    Instr::I32AddI { a, i, .. } => {
                        return match fast(d, 0, 0) {
                            Instr::I32Load { .. } => Some(Instr::I32LoadAddI { d, a, i }),
                            Instr::I64Load { .. } => Some(Instr::I64LoadAddI { d, a, i }),
                            Instr::I32Load8U { .. } => Some(Instr::I32Load8UAddI { d, a, i }),
                            _ => None,
                        };
                    }
                    _ => return None,
                };
                let (k, a, b) = index;
                match fast(d, 0, 0) {
                    Instr::I32Load { .. } => Some(Instr::I32LoadIdx { k, d, a, b }),
                    Instr::I32Load8U { .. } => Some(Instr::I32Load8UIdx { k, d, a, b }),
                    Instr::I64Load { .. } => Some(Instr::I64LoadIdx { k, d, a, b }),
                    _ => None,
                }
            };
            if fused(0).is_some() {
                self.pop();
                self.unemit();
                self.produce(wide, |d| fused(d).expect("checked above"));
                return;
            }
        }
        if self.fast_mem(&m) && m.offset == 0 {
            if let Some((t, a, i)) = self.teed_add_imm() {
                let wide64 = match fast(0, 0, 0) {
                    Instr::I32Load { .. } => Some(false),
                    Instr::I64Load { .. } => Some(true),
                    _ => None,
                };
                if let Some(wide64) = wide64 {
                    self.pop();
                    self.unemit();
                    self.produce(wide, |d| match wide64 {
                        false => Instr::I32LoadAddITee { t, a, d, i },
                        true => Instr::I64LoadAddITee { t, a, d, i },
                    });
                    return;
                }
            }
        }
        // A constant address (a static variable's): the address and the offset make one
        // offset, if that fits as one does.
        if let Some(Opd { loc: Loc::Const(c), .. }) = self.stack.last().copied() {
            let at = (c as u32 as u64) + m.offset;
            if self.fast_mem(&m)
                && at <= MAX_FAST_OFFSET
                && matches!(fast(0, 0, 0), Instr::I32Load { .. })
            {
                self.pop();
                self.produce(wide, |d| Instr::I32LoadK { d, o: at as u32 });
                return;
            }
        }
        let a = self.pop_slot();
        if self.fast_mem(&m) {
            let o = m.offset as u32;
            self.produce(wide, |d| fast(d, a, o));
        } else {
            let mi = self.memarg(kind, &m);
            self.produce(wide, |d| Instr::LoadM { d, a, m: mi });
        }
    }

    /// A load of the word the instruction just emitted stored (same address slot and offset,
    /// same width, no branch landing between them), as unoptimised code spills and reloads a
    /// variable: the value is copied from the slot the store read, or, when the result lands
    /// in that slot, is already there and the load emits nothing. The store traps first if the
    /// address is out of bounds; a racing write by another thread may be ordered after the
    /// load.
    fn reload_of_store(&mut self, o: u32, fast: fn(Slot, Slot, u32) -> Instr) -> bool {
        let n = self.code.len();
        let Some(top) = self.stack.last().copied() else { return false };
        if n == 0 || self.barrier >= n {
            return false;
        }
        let (stored, a, v) = match self.code[n - 1] {
            Instr::I32Store { a, v, o: so } if so == o => {
                (fast(0, 0, 0) == Instr::I32Load { d: 0, a: 0, o: 0 }, a, v)
            }
            Instr::I64Store { a, v, o: so } if so == o => {
                (fast(0, 0, 0) == Instr::I64Load { d: 0, a: 0, o: 0 }, a, v)
            }
            _ => return false,
        };
        if !stored || top.read_slot() != Some(a) {
            return false;
        }
        self.pop();
        let moved = self.move_stored_value(v, a, top.slot);
        if v == top.slot || moved {
            self.push(false, Loc::Temp);
            self.last_producer = None;
        } else if v < self.local_slots {
            // A local, unchanged since the store just emitted: the value read is that local.
            self.push(false, Loc::Local(v));
        } else {
            self.produce(false, |d| Instr::Copy { d, a: v });
        }
        true
    }

    /// For a reload of the word the store just emitted stored from the temporary `v`, which
    /// the instruction before the store computed: makes that instruction write `t` (where the
    /// reloaded value goes, the stack's height) and the store read it there, so the reload
    /// needs no copy. `t` held the address of the store or of the reload, an alias of the
    /// local `a`, so nothing lived in it; `v` lies above the stack, so nothing reads it any
    /// more (an earlier reload of the same store may have left its value there: `v < t`).
    fn move_stored_value(&mut self, v: Slot, a: Slot, t: Slot) -> bool {
        let n = self.code.len();
        if v <= t || a >= self.local_slots || n < 2 || self.barrier >= n - 1 {
            return false;
        }
        match self.code[n - 2].dst_mut() {
            Some(d) if *d == v => *d = t,
            _ => return false,
        }
        match &mut self.code[n - 1] {
            Instr::I32Store { v: sv, .. } | Instr::I64Store { v: sv, .. } => *sv = t,
            _ => unreachable!("a reload follows a store"),
        }
        true
    }

    fn store(&mut self, m: WpMemArg, kind: MemKind, fast: fn(Slot, Slot, u32) -> Instr) {
        if self.fast_mem(&m) && m.offset == 0 && self.store_indexed(fast) {
            return;
        }
        if self.fast_mem(&m)
            && fast(0, 0, 0) == (Instr::I32Store { a: 0, v: 0, o: 0 })
            && self.read_modify_write(m.offset as u32)
        {
            return;
        }
        // A constant value is stored from an immediate (no `Const` instruction).
        if let Some(Opd { loc: Loc::Const(c), .. }) = self.stack.last().copied() {
            if self.fast_mem(&m) {
                let o = m.offset as u32;
                let imm = |a| match fast(a, 0, o) {
                    Instr::I32Store { .. } | Instr::I64Store32 { .. } => {
                        Some(Instr::I32StoreI { a, o, v: c as u32 })
                    }
                    Instr::I32Store8 { .. } => Some(Instr::I32Store8I { a, o, v: c as u32 }),
                    Instr::I32Store16 { .. } => Some(Instr::I32Store16I { a, o, v: c as u32 }),
                    Instr::I64Store { .. } => {
                        split_imm64(c as i64).map(|(v, s)| Instr::I64StoreI { s, a, o, v })
                    }
                    _ => None,
                };
                if imm(0).is_some() {
                    self.pop();
                    let a = self.pop_slot();
                    self.emit(imm(a).expect("checked above"));
                    return;
                }
            }
        }
        // An address computed by the `i32.add` of a constant just before (the value being a
        // local, which emits nothing) fuses with the store.
        if self.fast_mem(&m)
            && m.offset == 0
            && matches!(self.stack.last().map(|o| o.loc), Some(Loc::Local(_)))
        {
            if let Some((src, i)) = self.top_is_add_imm(1) {
                let fused = |v| match fast(0, v, 0) {
                    Instr::I32Store { .. } => Some(Instr::I32StoreAddI { a: src, v, i }),
                    Instr::I64Store { .. } => Some(Instr::I64StoreAddI { a: src, v, i }),
                    _ => None,
                };
                if fused(0).is_some() {
                    let v = self.pop_slot();
                    self.pop();
                    self.unemit();
                    self.emit(fused(v).expect("checked above"));
                    return;
                }
            }
        }
        let v = self.pop_slot();
        let a = self.pop_slot();
        if self.fast_mem(&m) {
            self.emit(fast(a, v, m.offset as u32));
        } else {
            let mi = self.memarg(kind, &m);
            self.emit(Instr::StoreM { a, v, m: mi });
        }
    }

    /// An `i32.store` to `a + o` of `x op y`, where the two instructions just emitted are the
    /// `i32.load` of `x` from that same address and the operation (an add of a constant, or an
    /// add, subtract, and, or, xor with `y`; or the one `I32LoadPlusI` that fused the load and
    /// the add of a constant): one read-modify-write instruction, at the load's
    /// offset, where it traps (the store cannot trap once the load did not). `x` and the result
    /// are temporaries the store consumes; `y` is not `x`'s slot, which is no longer written.
    /// Memory 0 unshared only (for a shared one, the loop reruns an access that finds a stale
    /// length, and the unfused code is the reference the tests compare against).
    fn read_modify_write(&mut self, o: u32) -> bool {
        let (n, len) = (self.code.len(), self.stack.len());
        if n < 1 || len < 2 || !self.mem0_unshared {
            return false;
        }
        // The value stored: a temporary the last instruction computed.
        let Some(op) = self.producer_of(0) else { return false };
        // The load and the add of a constant already fused.
        if let Instr::I32LoadPlusI { a, o: lo, i, .. } = op {
            if lo != o || self.stack[len - 2].read_slot() != Some(Slot::from(a)) {
                return false;
            }
            let offset = self.unemit();
            self.pop();
            self.pop();
            self.emit_at(Instr::I32RmwAddI { a: a.into(), o, i }, offset);
            return true;
        }
        if n < 2 || self.lands_after(n - 2) {
            return false;
        }
        let Instr::I32Load { d: x, a, o: lo } = self.code[n - 2] else { return false };
        if lo != o || x < self.local_slots || self.stack[len - 2].read_slot() != Some(a) {
            return false;
        }
        // The operand that is not the loaded value, of a commutative operation.
        let other = |p: Slot, q: Slot| match (p == x, q == x) {
            (true, false) => Some(q),
            (false, true) => Some(p),
            _ => None,
        };
        let fused = match op {
            Instr::I32AddI { a: p, i, .. } if p == x => Some(Instr::I32RmwAddI { a, o, i }),
            Instr::I32Sub { a: p, b, .. } if p == x && b != x => Some(Instr::I32RmwSub { a, o, b }),
            Instr::I32Add { a: p, b: q, .. } => other(p, q).map(|b| Instr::I32RmwAdd { a, o, b }),
            Instr::I32And { a: p, b: q, .. } => other(p, q).map(|b| Instr::I32RmwAnd { a, o, b }),
            Instr::I32Or { a: p, b: q, .. } => other(p, q).map(|b| Instr::I32RmwOr { a, o, b }),
            Instr::I32Xor { a: p, b: q, .. } => other(p, q).map(|b| Instr::I32RmwXor { a, o, b }),
            _ => None,
        };
        let Some(fused) = fused else { return false };
        self.unemit();
        let offset = self.unemit();
        self.pop();
        self.pop();
        self.emit_at(fused, offset);
        true
    }

    /// An `i32.store` or `i32.store8` (offset 0) whose address `a + (b << k)` or `a + b` was
    /// computed just before it: by the last instruction if the value is a local or a constant
    /// (which emit nothing), or by the one before if the last computed the value. The address
    /// computation moves into the store; in the second case it moves past the value's
    /// instruction, which must be one that only writes its own temporary (a load or plain
    /// arithmetic, not one whose position matters, such as a call with its stack map) and that
    /// temporary must not be one of the address's operands. Nothing crosses a branch target.
    fn store_indexed(&mut self, fast: fn(Slot, Slot, u32) -> Instr) -> bool {
        let byte = match fast(0, 0, 0) {
            Instr::I32Store { .. } => false,
            Instr::I32Store8 { .. } => true,
            _ => return false,
        };
        let index = |i: Instr| match i {
            Instr::I32AddShl { k, a, b, .. } => Some((k, a, b)),
            Instr::I32Add { a, b, .. } => Some((0, a, b)),
            _ => None,
        };
        let n = self.code.len();
        let value = *self.stack.last().expect("validated: store operands");
        match value.loc {
            Loc::Local(_) | Loc::Const(_) => {
                let Some((k, a, b)) = self.producer_of(1).and_then(index) else { return false };
                let store = match value.loc {
                    Loc::Const(c) if byte => Instr::I32Store8IdxI { k, v: c as u8, a, b },
                    Loc::Local(v) if byte => Instr::I32Store8Idx { k, a, b, v },
                    Loc::Local(v) => Instr::I32StoreIdx { k, a, b, v },
                    _ => return false,
                };
                self.pop();
                self.pop();
                self.unemit();
                self.emit(store);
                true
            }
            Loc::Temp => {
                let len = self.stack.len();
                let (addr, last) = (self.stack[len - 2], self.code.get(n.wrapping_sub(1)).copied());
                let before = self.code.get(n.wrapping_sub(2)).copied();
                let (Some(last), Some(before)) = (last, before) else { return false };
                let movable = matches!(
                    last,
                    Instr::I32Load8UIdx { .. }
                        | Instr::I32LoadIdx { .. }
                        | Instr::I32Load8U { .. }
                        | Instr::I32Load { .. }
                        | Instr::I32Load8UAddI { .. }
                        | Instr::I32LoadAddI { .. }
                        | Instr::I32Add { .. }
                        | Instr::I32AddI { .. }
                        | Instr::I32Sub { .. }
                        | Instr::I32And { .. }
                        | Instr::I32Or { .. }
                        | Instr::I32Xor { .. }
                );
                let writes = |i: Instr, slot: Slot| i.clone().dst_mut().is_some_and(|d| *d == slot);
                let temp = |o: &Opd| o.loc == Loc::Temp && o.slot >= self.local_slots;
                if !movable
                    || n < 2
                    || self.lands_after(n - 2)
                    || !temp(&value)
                    || !temp(&addr)
                    || !writes(last, value.slot)
                    || !writes(before, addr.slot)
                {
                    return false;
                }
                let Some((k, a, b)) = index(before) else { return false };
                if value.slot == a || value.slot == b {
                    return false;
                }
                let store = if byte {
                    Instr::I32Store8Idx { k, a, b, v: value.slot }
                } else {
                    Instr::I32StoreIdx { k, a, b, v: value.slot }
                };
                // Drop the address's instruction, keeping the value's with its offset.
                let last_offset = self.offsets[n - 1];
                self.code.remove(n - 2);
                self.offsets.remove(n - 2);
                self.offsets[n - 2] = last_offset;
                self.pop();
                self.pop();
                self.emit(store);
                true
            }
        }
    }

    // ---- generic shapes -------------------------------------------------------------------

    fn binary(&mut self, wide: bool, make: impl Fn(Slot, Slot, Slot) -> Instr) {
        // A constant right operand becomes an immediate where the instruction has that form.
        if let Some(Opd { loc: Loc::Const(v), .. }) = self.stack.last().copied() {
            if with_immediate(make(0, 0, 0), v).is_some() {
                self.pop();
                // `(x + i) + j` on a temporary just computed is `x + (i + j)` (wrapping addition
                // is associative): one instruction instead of two.
                let added = match with_immediate(make(0, 0, 0), v).expect("checked") {
                    Instr::I32AddI { i: j, .. } => Some((j, false)),
                    Instr::I64AddI { s: 0, i: j, .. } => Some((j, true)),
                    _ => None,
                };
                if let Some((j, wide_add)) = added {
                    if self.last_producer == Some(self.code.len().wrapping_sub(1)) {
                        let short = |a: Slot| u16::try_from(a).ok();
                        let fused = |d| match (self.producer_of(0)?, wide_add) {
                            // `x * i + j`, `x` in a 16-bit slot (the two constants fill the word).
                            (Instr::I32MulI { a, i, .. }, false) => {
                                Some(Instr::I32MulAddI { a: short(a)?, d, i, j })
                            }
                            (Instr::I64MulI { s: 0, a, i, .. }, true) => {
                                Some(Instr::I64MulAddI { a: short(a)?, d, i, j })
                            }
                            (_, true) => None,
                            (Instr::I32AddI { a, i, .. }, false) => {
                                Some(Instr::I32AddI { d, a, i: i.wrapping_add(j) })
                            }
                            // `global + j` (a leaf function's frame below the stack pointer).
                            (Instr::GlobalGet { g, .. }, false) => {
                                Some(Instr::GlobalGetAddI { g, d, i: j })
                            }
                            // `(x << k) + j`: the address of a static array's element.
                            (Instr::I32ShlI { a, i: k, .. }, false) => {
                                Some(Instr::I32ShlAddI { k: (k & 31) as u8, d, a, i: j })
                            }
                            // A word loaded and adjusted.
                            (Instr::I32Load { a, o, .. }, false) => {
                                Some(Instr::I32LoadPlusI { a: short(a)?, d, o, i: j })
                            }
                            _ => None,
                        };
                        if let Some(ins) = fused(0) {
                            self.pop();
                            let offset = self.unemit();
                            self.produce(false, |d| {
                                let mut ins = ins;
                                *ins.dst_mut().expect("each fused form has a result") = d;
                                ins
                            });
                            if matches!(ins, Instr::I32LoadPlusI { .. }) {
                                // It traps where the load did.
                                *self.offsets.last_mut().expect("just emitted") = offset;
                            }
                            return;
                        }
                    }
                }
                let a = self.pop_slot();
                self.produce(false, |d| with_immediate(make(d, a, 0), v).expect("checked above"));
                return;
            }
        }
        // A constant left operand likewise, if the operation has a mirrored form.
        let len = self.stack.len();
        if len >= 2 && !matches!(self.stack[len - 1].loc, Loc::Const(_)) {
            if let Opd { loc: Loc::Const(v), .. } = self.stack[len - 2] {
                // Or, for a shift and a subtraction, the form with the constant first.
                let swapped = |d, a| {
                    let i = v as u32 as i32;
                    match make(d, 0, a) {
                        Instr::I32Shl { .. } => Some(Instr::I32ConstShl { d, a, i }),
                        Instr::I32Sub { .. } => Some(Instr::I32ConstSub { d, a, i }),
                        ins => commuted(ins).and_then(|i| with_immediate(i, v)),
                    }
                };
                if swapped(0, 0).is_some() {
                    let b = self.pop_slot();
                    self.pop();
                    self.produce(false, |d| swapped(d, b).expect("checked above"));
                    return;
                }
            }
        }
        let b = self.pop_slot();
        let a = self.pop_slot();
        self.produce(wide, |d| make(d, a, b));
    }

    fn unary(&mut self, wide: bool, make: impl FnOnce(Slot, Slot) -> Instr) {
        let a = self.pop_slot();
        self.produce(wide, |d| make(d, a));
    }

    /// The instruction just emitted (with its `Arg` word, if any) when it computed the
    /// temporary `slot` and can write another slot instead: no branch lands after it (a label
    /// clears `last_producer`), and it reads its operands before writing its result.
    fn retargetable_producer(&mut self, slot: Slot) -> Option<usize> {
        let idx = self.last_producer?;
        let len = self.code.len();
        let last =
            idx + 1 == len || (idx + 2 == len && matches!(self.code[len - 1], Instr::Arg { .. }));
        (last && self.code[idx].dst_mut().is_some_and(|d| *d == slot)).then_some(idx)
    }

    /// `l = s` just before the load at `idx`, which reads `l` only as its address and is about
    /// to write `l` (`l = s; l = load(l + o)`, a phi's copy in unoptimised code), with nothing
    /// else aliasing `l` and no branch landing on the load: the load reads `s` and the copy
    /// goes (it is dead once the load writes `l`). Gives the load's new index.
    fn drop_copy_read_only_by(&mut self, idx: usize, l: Slot) -> usize {
        if idx == 0 || self.barrier >= idx || idx + 1 != self.code.len() {
            return idx;
        }
        let Instr::Copy { d, a: s } = self.code[idx - 1] else { return idx };
        let address = match &mut self.code[idx] {
            Instr::I32Load { a, .. } | Instr::I64Load { a, .. } | Instr::I32Load8U { a, .. } => a,
            _ => return idx,
        };
        if d != l || *address != l {
            return idx;
        }
        *address = s;
        // Every recorded position (branch targets, resume points) is at or before the copy,
        // and means the same with the load there.
        self.code.remove(idx - 1);
        self.offsets.remove(idx - 1);
        idx - 1
    }

    fn local_set(&mut self, l: u32, tee: bool) {
        let ls = self.local_slot[l as usize];
        let wide = self.local_wide[l as usize];
        let top = self.stack.len() - 1;
        let o = self.stack[top];
        // The instruction that just computed the value, if it can write the local directly.
        let mut retarget = match o.loc {
            Loc::Temp => self.retargetable_producer(o.slot),
            _ => None,
        };
        // Entries still aliasing this local must be saved before it changes. When the value
        // comes from a retargetable instruction that no branch lands after, the saving copies
        // go in front of it (it reads only operands above the aliases and writes a fresh
        // temporary, so they see the same local), and it still writes the local: one copy
        // instead of two per alias plus one.
        let top_aliases = u32::from(o.loc == Loc::Local(ls));
        let remaining = self.local_refs[ls as usize] - top_aliases;
        if remaining > 0 {
            let moved = match retarget {
                Some(idx) if self.barrier <= idx => {
                    Some((self.code.split_off(idx), self.offsets.split_off(idx)))
                }
                _ => None,
            };
            // Searching down from below the top stops at the last alias.
            let (mut i, mut remaining) = (top, remaining);
            while remaining > 0 {
                i -= 1;
                if self.stack[i].loc == Loc::Local(ls) {
                    self.materialize(i);
                    remaining -= 1;
                }
            }
            retarget = moved.map(|(code, offsets)| {
                let idx = self.code.len();
                self.code.extend(code);
                self.offsets.extend(offsets);
                idx
            });
        }
        if let Some(idx) = retarget {
            let idx = match remaining {
                0 => self.drop_copy_read_only_by(idx, ls),
                _ => idx,
            };
            *self.code[idx].dst_mut().unwrap() = ls;
        } else {
            match o.loc {
                Loc::Temp | Loc::Local(_) => {
                    let src = o.read_slot().expect("not a constant");
                    match wide {
                        _ if src == ls => {}
                        true => _ = self.emit(Instr::Copy2 { d: ls, a: src }),
                        false => self.emit_copy(ls, src),
                    }
                }
                Loc::Const(v) => self.emit_const(ls, v),
            }
        }
        self.pop();
        self.last_producer = None;
        if tee {
            self.push(wide, Loc::Local(ls));
            self.mark_top_ref(self.local_ref[l as usize]);
        }
    }

    fn call_common(
        &mut self,
        params: usize,
        results: &[ValType],
        make: impl FnOnce(Slot) -> Instr,
    ) -> Slot {
        let args = self.args_base(params);
        self.emit(make(args));
        self.record_stack_map();
        self.push_results_at(args, results);
        args
    }

    /// Records which slots hold references where the next instruction starts: the resume
    /// point of the call or allocation just emitted (its operands already popped, its result
    /// not yet pushed).
    pub(super) fn record_stack_map(&mut self) {
        if self.ref_entries.is_empty() {
            return;
        }
        let pc = self.pc();
        let stack = &self.stack;
        let temps = self.ref_entries.iter().map(|&i| stack[i]).filter(|o| o.loc == Loc::Temp);
        self.stack_maps.record(pc, self.ref_entries.len(), temps.map(|o| o.slot));
    }

    fn func_sig(&self, f: u32) -> (usize, Vec<ValType>) {
        let ty = self.module.func_type(f);
        (ty.params().len(), ty.results().to_vec())
    }

    fn type_sig(&self, t: u32) -> (usize, Vec<ValType>) {
        let ty = self.module.func_type_of_type(t);
        (ty.params().len(), ty.results().to_vec())
    }

    /// Where the canonical id of module type `t` is in the context.
    fn type_id_at(&self, t: u32) -> u32 {
        self.vm.type_id(t)
    }

    fn top_is_wide(&self) -> bool {
        self.stack.last().is_some_and(|o| o.wide)
    }

    // ---- the big switch ---------------------------------------------------------------------

    fn op(&mut self, op: Operator<'_>) -> Result<()> {
        use Operator as O;
        if let Some((_, n)) = &mut self.checkpoint {
            if !self.unreachable {
                *n += crate::runtime::fuel::operator_cost(&op);
            }
        }
        if self.unreachable {
            match op {
                O::Block { .. }
                | O::Loop { .. }
                | O::If { .. }
                | O::TryTable { .. }
                | O::Try { .. } => {
                    self.dead_depth += 1;
                    return Ok(());
                }
                O::End | O::Delegate { .. } if self.dead_depth > 0 => {
                    self.dead_depth -= 1;
                    return Ok(());
                }
                O::Else | O::Catch { .. } | O::CatchAll if self.dead_depth > 0 => return Ok(()),
                O::End | O::Else | O::Catch { .. } | O::CatchAll | O::Delegate { .. } => {}
                _ => return Ok(()),
            }
        }
        macro_rules! bin {
            ($v:ident) => {
                self.binary(false, |d, a, b| Instr::$v { d, a, b })
            };
        }
        macro_rules! un {
            ($v:ident) => {
                self.unary(false, |d, a| Instr::$v { d, a })
            };
        }
        macro_rules! ld {
            ($m:expr, $v:ident, $wide:expr) => {
                self.load($m, MemKind::$v, $wide, |d, a, o| Instr::$v { d, a, o })
            };
        }
        macro_rules! st {
            ($m:expr, $v:ident) => {
                self.store($m, MemKind::$v, |a, v, o| Instr::$v { a, v, o })
            };
        }
        match op {
            O::Unreachable => {
                self.emit(Instr::Unreachable);
                self.mark_unreachable();
            }
            O::Nop => {}
            O::Block { blockty } => self.push_ctrl(Kind::Block, blockty),
            O::Loop { blockty } => self.push_ctrl(Kind::Loop, blockty),
            O::If { blockty } => {
                let fused = self.take_compare();
                let c = if fused.is_none() { self.pop_slot() } else { 0 };
                self.push_ctrl(Kind::If, blockty);
                let branch = match fused {
                    Some(cmp) => fuse_compare_branch(cmp, true, u32::MAX).expect("fusable"),
                    None => Instr::BrIfEqz { c, t: u32::MAX, h: 0 },
                };
                let at = self.emit_branch(branch);
                self.ctrl.last_mut().unwrap().else_patch = Some(at);
            }
            O::Else => {
                if !self.unreachable {
                    let n = self.ctrl.last().unwrap().results.len();
                    self.materialize_top(n);
                    let at = self.emit(Instr::Br { t: u32::MAX, h: 0 });
                    self.ctrl.last_mut().unwrap().patches.push(Patch::Instr(at));
                }
                let here = self.pc();
                let c = self.ctrl.last_mut().unwrap();
                c.kind = Kind::Else;
                if let Some(e) = c.else_patch.take() {
                    self.set_target(e, here);
                }
                self.reset_stack(0, false);
                self.unreachable = false;
                self.open_checkpoint();
                self.last_producer = None;
            }
            O::TryTable { try_table } => {
                let outer = self.ctrl.len();
                let mut catches = Vec::new();
                let mut patches = Vec::new();
                for (i, c) in try_table.catches.iter().enumerate() {
                    let (tag, with_ref, label) = match *c {
                        wasmparser::Catch::One { tag, label } => (Some(tag), false, label),
                        wasmparser::Catch::OneRef { tag, label } => (Some(tag), true, label),
                        wasmparser::Catch::All { label } => (None, false, label),
                        wasmparser::Catch::AllRef { label } => (None, true, label),
                    };
                    let idx = outer - 1 - label as usize;
                    let target_ctrl = &self.ctrl[idx];
                    let dst = target_ctrl.base;
                    let target = if target_ctrl.kind == Kind::Loop {
                        target_ctrl.loop_pc
                    } else {
                        patches.push((idx, i));
                        u32::MAX
                    };
                    let payload = tag.map_or(0, |t| self.tag_payload_slots(t));
                    let ref_dst = with_ref.then_some(dst + payload);
                    catches.push(Catch { tag, ref_dst, dst, target });
                    // Payload slots may lie above the current height.
                    self.bump(dst + payload + 1);
                }
                self.push_ctrl(Kind::TryTable, try_table.ty);
                let h = self.open_handler(catches);
                for (idx, i) in patches {
                    self.ctrl[idx].patches.push(Patch::Catch(h, i));
                }
            }
            O::Try { blockty } => {
                self.push_ctrl(Kind::Try, blockty);
                self.open_handler(Vec::new());
            }
            O::Catch { tag_index } => self.legacy_catch(Some(tag_index)),
            O::CatchAll => self.legacy_catch(None),
            O::Delegate { relative_depth } => {
                // Exceptions of the body go to the handler in force inside the target label
                // (the caller, for the function's label); the handlers in between are skipped.
                let len = self.ctrl.len();
                let target = self.ctrl[len - 2 - relative_depth as usize].inner_handler;
                if let Some(h) = self.ctrl[len - 1].handler {
                    self.pending_handlers[h].parent = target;
                }
                self.end_block();
            }
            O::Rethrow { relative_depth } => {
                // The caught exception is in the clause's reserved slot; make the clause store
                // it there.
                let idx = self.ctrl.len() - 1 - relative_depth as usize;
                let (base, h) = (self.ctrl[idx].base, self.ctrl[idx].handler);
                if let Some(c) = h.and_then(|h| self.pending_handlers[h].catches.last_mut()) {
                    c.ref_dst = Some(base);
                }
                self.emit(Instr::ThrowRef { r: base });
                self.mark_unreachable();
            }
            O::Throw { tag_index } => {
                let ty = self.module.func_type_of_type(self.module.tags[tag_index as usize]);
                let n = ty.params().len();
                let args = self.args_base(n);
                self.emit(Instr::Throw { tag: tag_index, args });
                self.mark_unreachable();
            }
            O::ThrowRef => {
                let r = self.pop_slot();
                self.emit(Instr::ThrowRef { r });
                self.mark_unreachable();
            }
            O::End => self.end_block(),
            O::Br { relative_depth } => {
                self.branch(relative_depth);
                self.mark_unreachable();
            }
            O::BrIf { relative_depth } => {
                let idx = self.ctrl.len() - 1 - relative_depth as usize;
                if self.ctrl[idx].kind != Kind::Func && self.compare_on_top() {
                    let cond = self.pop();
                    if !self.needs_moves(relative_depth) {
                        let cmp = self.code.pop().expect("compare_on_top");
                        self.offsets.pop();
                        self.jump_to(idx, |t| fuse_compare_branch(cmp, false, t).expect("fusable"));
                        return Ok(());
                    }
                    // Moves needed: put the condition back and take the general path.
                    let s = self.push(false, Loc::Temp);
                    debug_assert_eq!(s, cond.slot);
                }
                let c = self.pop_slot();
                self.cond_branch(
                    relative_depth,
                    |t| Instr::BrIfNez { c, t, h: 0 },
                    |t| Instr::BrIfEqz { c, t, h: 0 },
                );
            }
            O::BrTable { targets } => {
                // The index just computed by an add of a constant or an indexed load.
                let fuse = match self.last_producer == Some(self.code.len().wrapping_sub(1)) {
                    true => self.producer_of(0),
                    false => None,
                };
                // Or an indexed load into a local by `local.tee`.
                let teed = fuse.is_none().then(|| self.teed_load_idx()).flatten();
                let i = self.pop_slot();
                let default = targets.default();
                let mut depths = Vec::with_capacity(targets.len() as usize + 1);
                for d in targets.targets() {
                    depths.push(d.map_err(|e| Error::invalid(&e))?);
                }
                depths.push(default);
                let arity = self.ctrl[self.ctrl.len() - 1 - default as usize].label_types().len();
                if arity > 1 {
                    self.materialize_top(arity);
                }
                let n = depths.len() as u32;
                // Nothing was emitted since the index's instruction (the table has at most one
                // value to carry, already in place), which the table can absorb.
                let fuse = fuse.filter(|_| arity <= 1);
                match (fuse, fuse.and_then(|ins| self.static_table_index(ins))) {
                    // An element of a static array, plus a constant: one instruction (and its
                    // `Arg` word) that keeps the load's offset.
                    (_, Some((k, a, i, j, fused))) => {
                        // The load's offset: the first of the instructions absorbed.
                        let mut offset = self.offset;
                        for _ in 0..fused {
                            offset = self.unemit();
                        }
                        match self.byte_index_load(a) {
                            // The byte load too: its offset on the instruction, the table
                            // load's on the `Arg` word.
                            Some((b, o)) => {
                                let byte_offset = self.unemit();
                                // And a constant set just before (the loop's head).
                                let constant = self.constant_just_set().map(|c| (c, self.unemit()));
                                let fused = match constant {
                                    Some(_) => {
                                        Instr::ConstBrTableLoad8ULoadShlAddI { k, d: a, i, n }
                                    }
                                    None => Instr::BrTableLoad8ULoadShlAddI { k, d: a, i, n },
                                };
                                self.emit_at(fused, byte_offset);
                                self.emit_at(Instr::Arg { x: j as u32, y: b, z: o }, offset);
                                if let Some(((c, lo, hi), at)) = constant {
                                    self.emit_at(Instr::Arg { x: c, y: lo, z: hi }, at);
                                }
                            }
                            None => {
                                self.emit_at(Instr::BrTableLoadShlAddI { k, a, i, n }, offset);
                                self.emit(Instr::Arg { x: j as u32, y: 0, z: 0 });
                            }
                        }
                    }
                    // An add of a constant becomes the table's index offset.
                    (Some(Instr::I32AddI { a, i, .. }), None) => {
                        self.unemit();
                        self.emit(Instr::BrTableI { i: a, k: i, n });
                    }
                    // The same for a load, which keeps its offset (it may trap).
                    (Some(Instr::I32LoadIdx { k, a, b, .. }), None) => {
                        let offset = self.unemit();
                        self.emit_at(Instr::BrTableLoadIdx { k, a, b, n }, offset);
                    }
                    _ => match teed.filter(|_| arity <= 1) {
                        Some((k, d, a, b)) => {
                            let offset = self.unemit();
                            self.emit_at(Instr::BrTableLoadIdxTee { k, d, a, b, n }, offset);
                        }
                        None => {
                            self.emit(Instr::BrTable { i, n });
                        }
                    },
                }
                // The entries follow the instruction; move stubs come after them.
                let table = self.code.len();
                for _ in 0..n {
                    self.emit(Instr::Target { t: u32::MAX, h: 0 });
                }
                // Entries with the same depth share one move stub, so a long table costs one
                // stub per distinct label, not one per entry.
                let mut stubs: std::collections::HashMap<u32, u32> = Default::default();
                for (k, depth) in depths.iter().enumerate() {
                    let idx = self.ctrl.len() - 1 - *depth as usize;
                    if self.needs_moves(*depth) || self.ctrl[idx].kind == Kind::Func {
                        let stub = match stubs.get(depth) {
                            Some(&stub) => stub,
                            None => {
                                let stub = self.pc();
                                stubs.insert(*depth, stub);
                                self.branch(*depth);
                                stub
                            }
                        };
                        self.set_target(table + k, stub);
                    } else if self.ctrl[idx].kind == Kind::Loop {
                        self.set_target(table + k, self.ctrl[idx].loop_pc);
                    } else {
                        self.ctrl[idx].patches.push(Patch::Instr(table + k));
                    }
                }
                self.mark_unreachable();
            }
            O::Return => {
                self.emit_return();
                self.mark_unreachable();
            }
            O::Call { function_index } => {
                let (np, results) = self.func_sig(function_index);
                let f = self.vm.funcref(function_index);
                self.call_common(np, &results, |args| Instr::Call { f, args });
                self.after_call(&results);
            }
            O::CallIndirect { type_index, table_index } => {
                let i = self.pop_slot();
                let (np, results) = self.type_sig(type_index);
                let tid = self.type_id_at(type_index);
                let args = self.args_base(np);
                self.emit(Instr::CallIndirect { args, i });
                self.emit(Instr::Arg { x: self.vm.table(table_index), y: tid, z: 0 });
                self.record_stack_map();
                self.push_results_at(args, &results);
                self.after_call(&results);
            }
            O::CallRef { type_index } => {
                let r = self.pop_slot();
                let (np, results) = self.type_sig(type_index);
                let args = self.args_base(np);
                self.emit(Instr::CallRef { args, r });
                self.record_stack_map();
                self.push_results_at(args, &results);
                self.after_call(&results);
            }
            O::ReturnCall { function_index } => {
                let (np, _) = self.func_sig(function_index);
                let args = self.args_base(np);
                self.emit(Instr::ReturnCall { f: self.vm.funcref(function_index), args });
                self.mark_unreachable();
            }
            O::ReturnCallIndirect { type_index, table_index } => {
                let i = self.pop_slot();
                let (np, _) = self.type_sig(type_index);
                let tid = self.type_id_at(type_index);
                let args = self.args_base(np);
                self.emit(Instr::ReturnCallIndirect { args, i });
                self.emit(Instr::Arg { x: self.vm.table(table_index), y: tid, z: 0 });
                self.mark_unreachable();
            }
            O::ReturnCallRef { type_index } => {
                let r = self.pop_slot();
                let (np, _) = self.type_sig(type_index);
                let args = self.args_base(np);
                self.emit(Instr::ReturnCallRef { args, r });
                self.mark_unreachable();
            }
            O::Drop => {
                self.pop();
            }
            O::Select | O::TypedSelect { .. } | O::TypedSelectMulti { .. } => {
                if self.select_on_compare() {
                    return Ok(());
                }
                let c = self.pop_slot();
                let wide = self.top_is_wide();
                let is_ref = self.top_is_ref();
                if !wide && !is_ref && self.select_constant(c) {
                    return Ok(());
                }
                let b = self.pop_slot();
                let a = self.pop_slot();
                if wide {
                    self.produce(true, |d| Instr::Select2 { d, a, b });
                } else {
                    self.produce(false, |d| Instr::Select { d, a, b });
                }
                self.emit(Instr::Arg { x: c, y: 0, z: 0 });
                self.mark_top_ref(is_ref);
                // The select (followed by its Arg word) may still be retargeted by local.set.
                self.last_producer = Some(self.code.len() - 2);
            }
            O::LocalGet { local_index } => {
                let ls = self.local_slot[local_index as usize];
                let wide = self.local_wide[local_index as usize];
                self.push(wide, Loc::Local(ls));
                self.mark_top_ref(self.local_ref[local_index as usize]);
            }
            O::LocalSet { local_index } => self.local_set(local_index, false),
            O::LocalTee { local_index } => self.local_set(local_index, true),
            O::GlobalGet { global_index } => {
                let wide = self.module.globals[global_index as usize].ty.content == ValType::V128;
                let g = self.vm.global(global_index);
                if wide {
                    self.produce(true, |d| Instr::GlobalGet2 { d, g });
                } else {
                    self.produce(false, |d| Instr::GlobalGet { d, g });
                    let content = self.module.globals[global_index as usize].ty.content;
                    self.mark_top_ref(matches!(content, ValType::Ref(_)));
                }
            }
            O::GlobalSet { global_index } => {
                let wide = self.top_is_wide();
                let g = self.vm.global(global_index);
                // `global = x + i` (a stack pointer restored in an epilogue): one instruction.
                if let Some(Instr::I32AddI { a, i, .. }) = self.producer_of(0).filter(|_| !wide) {
                    self.pop();
                    self.unemit();
                    self.emit(Instr::GlobalSetAddI { g, a, i });
                    return Ok(());
                }
                let a = self.pop_slot();
                if wide {
                    self.emit(Instr::GlobalSet2 { g, a });
                } else if !self.fuse_global_add(g, a) {
                    self.emit(Instr::GlobalSet { g, a });
                }
            }
            O::I32Load { memarg } | O::F32Load { memarg } => ld!(memarg, I32Load, false),
            O::I64Load { memarg } | O::F64Load { memarg } => ld!(memarg, I64Load, false),
            O::I32Load8S { memarg } => ld!(memarg, I32Load8S, false),
            O::I32Load8U { memarg } => ld!(memarg, I32Load8U, false),
            O::I32Load16S { memarg } => ld!(memarg, I32Load16S, false),
            O::I32Load16U { memarg } => ld!(memarg, I32Load16U, false),
            O::I64Load8S { memarg } => ld!(memarg, I64Load8S, false),
            O::I64Load8U { memarg } => ld!(memarg, I64Load8U, false),
            O::I64Load16S { memarg } => ld!(memarg, I64Load16S, false),
            O::I64Load16U { memarg } => ld!(memarg, I64Load16U, false),
            O::I64Load32S { memarg } => ld!(memarg, I64Load32S, false),
            O::I64Load32U { memarg } => ld!(memarg, I64Load32U, false),
            O::V128Load { memarg } => ld!(memarg, V128Load, true),
            O::I32Store { memarg } | O::F32Store { memarg } => st!(memarg, I32Store),
            O::I64Store { memarg } | O::F64Store { memarg } => st!(memarg, I64Store),
            O::I32Store8 { memarg } | O::I64Store8 { memarg } => st!(memarg, I32Store8),
            O::I32Store16 { memarg } | O::I64Store16 { memarg } => st!(memarg, I32Store16),
            O::I64Store32 { memarg } => st!(memarg, I64Store32),
            O::V128Store { memarg } => st!(memarg, V128Store),
            O::MemorySize { mem } => self.produce(false, |d| Instr::MemorySize { d, m: mem }),
            O::MemoryGrow { mem } => {
                let a = self.pop_slot();
                self.produce(false, |d| Instr::MemoryGrow { d, a, m: mem });
            }
            O::MemoryFill { mem } => {
                let n = self.pop_slot();
                let v = self.pop_slot();
                let d = self.pop_slot();
                self.emit(Instr::MemoryFill { d, v, n });
                self.emit(Instr::Arg { x: mem, y: 0, z: 0 });
            }
            O::MemoryCopy { dst_mem, src_mem } => {
                let n = self.pop_slot();
                let s = self.pop_slot();
                let d = self.pop_slot();
                self.emit(Instr::MemoryCopy { d, s, n });
                self.emit(Instr::Arg { x: dst_mem, y: src_mem, z: 0 });
            }
            O::MemoryInit { data_index, mem } => {
                let n = self.pop_slot();
                let s = self.pop_slot();
                let d = self.pop_slot();
                self.emit(Instr::MemoryInit { d, s, n });
                self.emit(Instr::Arg { x: data_index, y: mem, z: 0 });
            }
            O::DataDrop { data_index } => {
                self.emit(Instr::DataDrop { seg: data_index });
            }
            O::TableGet { table } => {
                let i = self.pop_slot();
                self.produce(false, |d| Instr::TableGet { d, i, t: table });
                self.mark_top_ref(true);
            }
            O::TableSet { table } => {
                let v = self.pop_slot();
                let i = self.pop_slot();
                self.emit(Instr::TableSet { i, v, t: table });
            }
            O::TableSize { table } => self.produce(false, |d| Instr::TableSize { d, t: table }),
            O::TableGrow { table } => {
                let n = self.pop_slot();
                let init = self.pop_slot();
                self.produce(false, |d| Instr::TableGrow { d, init, n });
                self.emit(Instr::Arg { x: table, y: 0, z: 0 });
            }
            O::TableFill { table } => {
                let n = self.pop_slot();
                let v = self.pop_slot();
                let i = self.pop_slot();
                self.emit(Instr::TableFill { i, v, n });
                self.emit(Instr::Arg { x: table, y: 0, z: 0 });
            }
            O::TableCopy { dst_table, src_table } => {
                let n = self.pop_slot();
                let s = self.pop_slot();
                let d = self.pop_slot();
                self.emit(Instr::TableCopy { d, s, n });
                self.emit(Instr::Arg { x: dst_table, y: src_table, z: 0 });
            }
            O::TableInit { elem_index, table } => {
                let n = self.pop_slot();
                let s = self.pop_slot();
                let d = self.pop_slot();
                self.emit(Instr::TableInit { d, s, n });
                self.emit(Instr::Arg { x: elem_index, y: table, z: 0 });
            }
            O::ElemDrop { elem_index } => {
                self.emit(Instr::ElemDrop { seg: elem_index });
            }
            O::I32Const { value } => {
                self.push(false, Loc::Const(value as u32 as u64));
            }
            O::I64Const { value } => {
                self.push(false, Loc::Const(value as u64));
            }
            O::F32Const { value } => {
                self.push(false, Loc::Const(value.bits() as u64));
            }
            O::F64Const { value } => {
                self.push(false, Loc::Const(value.bits()));
            }
            O::V128Const { value } => {
                let k = self.v128_consts.len() as u32;
                self.v128_consts.push(u128::from_le_bytes(*value.bytes()));
                self.produce(true, |d| Instr::ConstV128 { d, k });
            }
            O::RefNull { .. } => {
                self.push(false, Loc::Const(0));
            }
            O::RefIsNull => un!(RefIsNull),
            O::RefFunc { function_index } => {
                let f = self.vm.funcref(function_index);
                self.produce(false, |d| Instr::RefFunc { d, f })
            }
            O::RefAsNonNull => {
                un!(RefAsNonNull);
                self.mark_top_ref(true);
            }
            O::RefEq => bin!(RefEq),
            O::BrOnNull { relative_depth } => {
                let a = self.peek_slot();
                let top = self.pop();
                self.cond_branch(
                    relative_depth,
                    |t| Instr::BrOnNull { a, t },
                    |t| Instr::BrOnNonNull { a, t },
                );
                let s = self.push(false, top.loc);
                self.mark_top_ref(true);
                debug_assert_eq!(s, top.slot);
            }
            O::BrOnNonNull { relative_depth } => {
                let a = self.peek_slot();
                self.cond_branch(
                    relative_depth,
                    |t| Instr::BrOnNonNull { a, t },
                    |t| Instr::BrOnNull { a, t },
                );
                self.pop();
            }

            O::I32Eqz => un!(I32Eqz),
            O::I32Eq => bin!(I32Eq),
            O::I32Ne => bin!(I32Ne),
            O::I32LtS => bin!(I32LtS),
            O::I32LtU => bin!(I32LtU),
            O::I32GtS => bin!(I32GtS),
            O::I32GtU => bin!(I32GtU),
            O::I32LeS => bin!(I32LeS),
            O::I32LeU => bin!(I32LeU),
            O::I32GeS => bin!(I32GeS),
            O::I32GeU => bin!(I32GeU),
            O::I64Eqz => un!(I64Eqz),
            O::I64Eq => bin!(I64Eq),
            O::I64Ne => bin!(I64Ne),
            O::I64LtS => bin!(I64LtS),
            O::I64LtU => bin!(I64LtU),
            O::I64GtS => bin!(I64GtS),
            O::I64GtU => bin!(I64GtU),
            O::I64LeS => bin!(I64LeS),
            O::I64LeU => bin!(I64LeU),
            O::I64GeS => bin!(I64GeS),
            O::I64GeU => bin!(I64GeU),
            O::F32Eq => bin!(F32Eq),
            O::F32Ne => bin!(F32Ne),
            O::F32Lt => bin!(F32Lt),
            O::F32Gt => bin!(F32Gt),
            O::F32Le => bin!(F32Le),
            O::F32Ge => bin!(F32Ge),
            O::F64Eq => bin!(F64Eq),
            O::F64Ne => bin!(F64Ne),
            O::F64Lt => bin!(F64Lt),
            O::F64Gt => bin!(F64Gt),
            O::F64Le => bin!(F64Le),
            O::F64Ge => bin!(F64Ge),
            O::I32Clz => un!(I32Clz),
            O::I32Ctz => un!(I32Ctz),
            O::I32Popcnt => un!(I32Popcnt),
            O::I32Add => {
                if !self.add_shifted() {
                    bin!(I32Add)
                }
            }
            O::I32Sub => bin!(I32Sub),
            O::I32Mul => bin!(I32Mul),
            O::I32DivS => bin!(I32DivS),
            O::I32DivU => bin!(I32DivU),
            O::I32RemS => bin!(I32RemS),
            O::I32RemU => bin!(I32RemU),
            O::I32And => bin!(I32And),
            O::I32Or => bin!(I32Or),
            O::I32Xor => bin!(I32Xor),
            O::I32Shl => bin!(I32Shl),
            O::I32ShrS => bin!(I32ShrS),
            O::I32ShrU => bin!(I32ShrU),
            O::I32Rotl => bin!(I32Rotl),
            O::I32Rotr => bin!(I32Rotr),
            O::I64Clz => un!(I64Clz),
            O::I64Ctz => un!(I64Ctz),
            O::I64Popcnt => un!(I64Popcnt),
            O::I64Add => bin!(I64Add),
            O::I64Sub => bin!(I64Sub),
            O::I64Mul => bin!(I64Mul),
            O::I64DivS => bin!(I64DivS),
            O::I64DivU => bin!(I64DivU),
            O::I64RemS => bin!(I64RemS),
            O::I64RemU => bin!(I64RemU),
            O::I64And => bin!(I64And),
            O::I64Or => bin!(I64Or),
            O::I64Xor => bin!(I64Xor),
            O::I64Shl => bin!(I64Shl),
            O::I64ShrS => bin!(I64ShrS),
            O::I64ShrU => bin!(I64ShrU),
            O::I64Rotl => bin!(I64Rotl),
            O::I64Rotr => bin!(I64Rotr),
            O::F32Abs => un!(F32Abs),
            O::F32Neg => un!(F32Neg),
            O::F32Ceil => un!(F32Ceil),
            O::F32Floor => un!(F32Floor),
            O::F32Trunc => un!(F32Trunc),
            O::F32Nearest => un!(F32Nearest),
            O::F32Sqrt => un!(F32Sqrt),
            O::F32Add => bin!(F32Add),
            O::F32Sub => bin!(F32Sub),
            O::F32Mul => bin!(F32Mul),
            O::F32Div => bin!(F32Div),
            O::F32Min => bin!(F32Min),
            O::F32Max => bin!(F32Max),
            O::F32Copysign => bin!(F32Copysign),
            O::F64Abs => un!(F64Abs),
            O::F64Neg => un!(F64Neg),
            O::F64Ceil => un!(F64Ceil),
            O::F64Floor => un!(F64Floor),
            O::F64Trunc => un!(F64Trunc),
            O::F64Nearest => un!(F64Nearest),
            O::F64Sqrt => un!(F64Sqrt),
            O::F64Add | O::F64Sub | O::F64Mul | O::F64Div => {
                let make: fn(Slot, Slot, Slot) -> Instr = match op {
                    O::F64Add => |d, a, b| Instr::F64Add { d, a, b },
                    O::F64Sub => |d, a, b| Instr::F64Sub { d, a, b },
                    O::F64Mul => |d, a, b| Instr::F64Mul { d, a, b },
                    _ => |d, a, b| Instr::F64Div { d, a, b },
                };
                if !self.f64_pair(make(0, 0, 0)) && !self.f64_load_operand(make(0, 0, 0)) {
                    self.binary(false, make)
                }
            }
            O::F64Min => bin!(F64Min),
            O::F64Max => bin!(F64Max),
            O::F64Copysign => bin!(F64Copysign),
            O::I32WrapI64 => {
                // A value just computed that is already a zero-extended 32-bit number (a
                // shift right by 32 or more, a mask within the low word, a narrow unsigned
                // load or extension) is its own i32: the wrap emits nothing.
                let narrow = match self.producer_of(0) {
                    Some(Instr::I64ShrUI { i, .. }) => i & 63 >= 32,
                    Some(Instr::I64AndI { s, i, .. }) => s == 0 && i >= 0,
                    Some(
                        Instr::I64Load32U { .. }
                        | Instr::I64Load16U { .. }
                        | Instr::I64Load8U { .. }
                        | Instr::I64ExtendI32U { .. },
                    ) => true,
                    _ => false,
                };
                if narrow {
                    // Nothing to emit.
                } else if let Some(Instr::I64ShrUI { a, i, .. }) = self.producer_of(0) {
                    // A shift by less than 32 just computed wraps in the same instruction.
                    self.pop();
                    self.unemit();
                    self.produce(false, |d| Instr::I32WrapShrU { d, a, i: i & 63 });
                } else {
                    un!(I32WrapI64)
                }
            }
            O::I32TruncF32S => un!(I32TruncF32S),
            O::I32TruncF32U => un!(I32TruncF32U),
            O::I32TruncF64S => un!(I32TruncF64S),
            O::I32TruncF64U => un!(I32TruncF64U),
            O::I64ExtendI32S => un!(I64ExtendI32S),
            O::I64ExtendI32U => un!(I64ExtendI32U),
            O::I64TruncF32S => un!(I64TruncF32S),
            O::I64TruncF32U => un!(I64TruncF32U),
            O::I64TruncF64S => un!(I64TruncF64S),
            O::I64TruncF64U => un!(I64TruncF64U),
            O::F32ConvertI32S => un!(F32ConvertI32S),
            O::F32ConvertI32U => un!(F32ConvertI32U),
            O::F32ConvertI64S => un!(F32ConvertI64S),
            O::F32ConvertI64U => un!(F32ConvertI64U),
            O::F32DemoteF64 => un!(F32DemoteF64),
            O::F64ConvertI32S => un!(F64ConvertI32S),
            O::F64ConvertI32U => un!(F64ConvertI32U),
            O::F64ConvertI64S => un!(F64ConvertI64S),
            O::F64ConvertI64U => un!(F64ConvertI64U),
            O::F64PromoteF32 => un!(F64PromoteF32),
            // Reinterpretations are free: slots hold raw bits.
            O::I32ReinterpretF32
            | O::I64ReinterpretF64
            | O::F32ReinterpretI32
            | O::F64ReinterpretI64 => {}
            O::I32Extend8S => un!(I32Extend8S),
            O::I32Extend16S => un!(I32Extend16S),
            O::I64Extend8S => un!(I64Extend8S),
            O::I64Extend16S => un!(I64Extend16S),
            O::I64Extend32S => un!(I64Extend32S),
            O::I32TruncSatF32S => un!(I32TruncSatF32S),
            O::I32TruncSatF32U => un!(I32TruncSatF32U),
            O::I32TruncSatF64S => un!(I32TruncSatF64S),
            O::I32TruncSatF64U => un!(I32TruncSatF64U),
            O::I64TruncSatF32S => un!(I64TruncSatF32S),
            O::I64TruncSatF32U => un!(I64TruncSatF32U),
            O::I64TruncSatF64S => un!(I64TruncSatF64S),
            O::I64TruncSatF64U => un!(I64TruncSatF64U),

            O::AtomicFence { .. } => {
                self.emit(Instr::AtomicFence);
            }
            O::I64Add128 => self.wide(WideOp::Add128),
            O::I64Sub128 => self.wide(WideOp::Sub128),
            O::I64MulWideS => self.wide(WideOp::MulWideS),
            O::I64MulWideU => self.wide(WideOp::MulWideU),

            O::V128Load8Lane { memarg, lane } => self.load_lane(memarg, 1, lane),
            O::V128Load16Lane { memarg, lane } => self.load_lane(memarg, 2, lane),
            O::V128Load32Lane { memarg, lane } => self.load_lane(memarg, 4, lane),
            O::V128Load64Lane { memarg, lane } => self.load_lane(memarg, 8, lane),
            O::V128Store8Lane { memarg, lane } => self.store_lane(memarg, 1, lane),
            O::V128Store16Lane { memarg, lane } => self.store_lane(memarg, 2, lane),
            O::V128Store32Lane { memarg, lane } => self.store_lane(memarg, 4, lane),
            O::V128Store64Lane { memarg, lane } => self.store_lane(memarg, 8, lane),

            other if gc::is_gc_operator(&other) => self.gc_op(other),
            other if atomics::classify(&other).is_some() => {
                if let Some((memarg, op, width)) = atomics::classify(&other) {
                    self.atomic(memarg, op, width);
                }
            }
            other => match simd::classify(&other) {
                Some(s) => self.simd(s),
                None => {
                    return Err(Error::Unsupported(format!(
                        "instruction `{other:?}` at offset {:#x} (garbage collection and the \
                         proposals Ward does not implement are not supported yet)",
                        self.offset
                    )))
                }
            },
        }
        Ok(())
    }

    /// Whether the top of the stack is the fresh result of a fusable compare just emitted.
    fn compare_on_top(&self) -> bool {
        let Some(top) = self.stack.last() else { return false };
        let Some(idx) = self.last_producer else { return false };
        idx + 1 == self.code.len()
            && top.loc == Loc::Temp
            && self.code[idx].clone().dst_mut().is_some_and(|d| *d == top.slot)
            && fuse_compare_branch(self.code[idx], false, 0).is_some()
    }

    /// Pops the condition and removes the compare that produced it, if fusable.
    fn take_compare(&mut self) -> Option<Instr> {
        if !self.compare_on_top() {
            return None;
        }
        self.pop();
        self.offsets.pop();
        self.last_producer = None;
        self.code.pop()
    }

    /// Opens the handler of the `try_table` or legacy `try` just pushed, in force from here on;
    /// returns its index in `pending_handlers`.
    fn open_handler(&mut self, catches: Vec<Catch>) -> usize {
        let start = self.pc();
        let parent = self.open_handlers.last().copied().unwrap_or(u32::MAX);
        self.pending_handlers.push(Handler { catches: catches.into(), parent });
        let h = self.pending_handlers.len() - 1;
        self.open_handlers.push(h as u32);
        self.handler_map.push((start, h as u32));
        let c = self.ctrl.last_mut().unwrap();
        c.handler = Some(h);
        c.inner_handler = h as u32;
        h
    }

    /// Slots taken by the payload of module tag `tag`.
    fn tag_payload_slots(&self, tag: u32) -> u32 {
        self.module.func_type_of_type(self.module.tags[tag as usize]).param_slots()
    }

    /// A legacy `catch $tag` (`tag`) or `catch_all` (`None`) clause: ends the try body or the
    /// previous clause, then starts a clause whose operands are the payload, above a slot
    /// reserved for the exception reference (read by `rethrow`).
    fn legacy_catch(&mut self, tag: Option<u32>) {
        let idx = self.ctrl.len() - 1;
        let (kind, base, n) =
            (self.ctrl[idx].kind, self.ctrl[idx].base, self.ctrl[idx].results.len());
        if !self.unreachable {
            if kind == Kind::TryCatch {
                self.move_values(n, base);
            } else {
                self.materialize_top(n);
            }
            let at = self.emit(Instr::Br { t: u32::MAX, h: 0 });
            self.ctrl[idx].patches.push(Patch::Instr(at));
        }
        let Some(h) = self.ctrl[idx].handler else { unreachable!("validated: catch outside try") };
        let here = self.pc();
        if kind == Kind::Try {
            // The handler covers the body only.
            self.open_handlers.pop();
            let outer = self.open_handlers.last().copied().unwrap_or(u32::MAX);
            self.handler_map.push((here, outer));
            let c = &mut self.ctrl[idx];
            c.kind = Kind::TryCatch;
            c.inner_handler = outer;
        }
        let mut catches = std::mem::take(&mut self.pending_handlers[h].catches).into_vec();
        catches.push(Catch { tag, ref_dst: None, dst: base + 1, target: here });
        self.pending_handlers[h].catches = catches.into();
        // Operands: the block's entries, the reserved slot, the payload.
        let stack_len = self.ctrl[idx].stack_len;
        while self.stack.len() > stack_len {
            self.pop();
        }
        self.height = base;
        self.push(false, Loc::Temp);
        if let Some(t) = tag {
            let ty = self.module.func_type_of_type(self.module.tags[t as usize]);
            let params = ty.params().to_vec();
            self.push_results_at(base + 1, &params);
        }
        self.unreachable = false;
        self.open_checkpoint();
        self.last_producer = None;
    }

    /// An atomic memory instruction of `width` bytes (see the `Atomic*` instructions).
    fn atomic(&mut self, m: WpMemArg, op: AtomicOp, width: u8) {
        let mi = self.memarg(MemKind::Atomic { op, width }, &m);
        match op {
            AtomicOp::Load => {
                let a = self.pop_slot();
                self.produce(false, |d| Instr::AtomicLoad { d, a, m: mi });
            }
            AtomicOp::Store => {
                let v = self.pop_slot();
                let a = self.pop_slot();
                self.emit(Instr::AtomicStore { a, v, m: mi });
            }
            AtomicOp::Cmpxchg | AtomicOp::Wait => {
                let x = self.pop_slot();
                let e = self.pop_slot();
                let a = self.pop_slot();
                self.produce(false, |d| Instr::AtomicCmpxchg { d, a, e });
                self.emit(Instr::Arg { x, y: mi, z: 0 });
            }
            _ => {
                let v = self.pop_slot();
                let a = self.pop_slot();
                self.produce(false, |d| Instr::AtomicRmw { d, a, v });
                self.emit(Instr::Arg { x: mi, y: 0, z: 0 });
            }
        }
    }

    /// A wide-arithmetic operation: operands in consecutive slots, two i64 results in place.
    fn wide(&mut self, op: WideOp) {
        let s = self.args_base(op.arity());
        self.emit(Instr::Wide { s, op });
        self.push_results_at(s, &[ValType::I64, ValType::I64]);
    }

    fn after_call(&mut self, _results: &[ValType]) {
        self.last_producer = None;
    }

    fn load_lane(&mut self, m: WpMemArg, width: u8, lane: u8) {
        let v = self.pop_slot();
        let a = self.pop_slot();
        let mi = self.memarg(MemKind::Lane { width, lane }, &m);
        // `v` and the result may share a slot; the executor reads `v` first.
        self.produce(true, |d| Instr::LoadLane { d, a, m: mi });
        self.emit(Instr::Arg { x: v, y: 0, z: 0 });
    }

    fn store_lane(&mut self, m: WpMemArg, width: u8, lane: u8) {
        let v = self.pop_slot();
        let a = self.pop_slot();
        let mi = self.memarg(MemKind::Lane { width, lane }, &m);
        self.emit(Instr::StoreLane { a, v, m: mi });
    }

    fn simd(&mut self, s: SimdInstr) {
        match s {
            SimdInstr::Unary(op) => self.unary(true, |d, a| Instr::V128Unary { d, a, op }),
            SimdInstr::Binary(op) => self.binary(true, |d, a, b| v128_binary(op, d, a, b)),
            SimdInstr::Ternary(op) => {
                let c = self.pop_slot();
                let b = self.pop_slot();
                let a = self.pop_slot();
                self.produce(true, |d| Instr::V128Ternary { d, a, b, op });
                self.emit(Instr::Arg { x: c, y: 0, z: 0 });
            }
            SimdInstr::Test(op) => self.unary(false, |d, a| Instr::V128Test { d, a, op }),
            SimdInstr::Shift(op) => self.binary(true, |d, a, b| Instr::V128Shift { d, a, b, op }),
            SimdInstr::Splat(op) => self.unary(true, |d, a| Instr::V128Splat { d, a, op }),
            SimdInstr::Extract(op, lane) => {
                self.unary(false, |d, a| Instr::V128Extract { d, a, op, lane })
            }
            SimdInstr::Replace(op, lane) => {
                self.binary(true, |d, a, b| Instr::V128Replace { d, a, b, op, lane })
            }
            SimdInstr::Shuffle(lanes) => {
                let k = self.shuffles.len() as u32;
                self.shuffles.push(lanes);
                self.binary(true, |d, a, b| Instr::V128Shuffle { d, a, b });
                self.emit(Instr::Arg { x: k, y: 0, z: 0 });
            }
            SimdInstr::Load(kind, m) => {
                let a = self.pop_slot();
                let mi = self.memarg(MemKind::Simd(kind), &m);
                self.produce(true, |d| Instr::V128LoadExt { d, a, m: mi });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Engine, Module};

    fn translate_wat(wat: &str) -> CompiledFunc {
        let engine = Engine::default();
        let m = Module::new(&engine, wat).unwrap();
        let mut f = translate(&m.inner, m.inner.num_imported_funcs, None).unwrap();
        // The tests read offsets as the wasm gave them.
        decode_access_ends(&mut f.code);
        f
    }

    #[test]
    fn a_load_from_a_constant_address_folds_it_into_the_offset() {
        let f = translate_wat(
            "(module (memory 1) (func (result i32 i32 i32)
               (i32.load offset=8 (i32.const 1024))
               (i32.load offset=9 (i32.const 0xffffffe7))
               (i32.load offset=8 (i32.const 0xffffffe7))))",
        );
        assert_eq!(f.code[0], Instr::I32LoadK { d: 0, o: 1032 }, "{:?}", f.code);
        // The sum past `MAX_FAST_OFFSET` (2^32 - 17) stays an address and an offset, whose sum
        // the handler computes in 64 bits (and traps).
        let want = [Instr::Const32 { d: 1, v: 0xffffffe7 }, Instr::I32Load { d: 1, a: 1, o: 9 }];
        assert_eq!(f.code[1..3], want, "{:?}", f.code);
        assert_eq!(f.code[3], Instr::I32LoadK { d: 2, o: 0xffffffef }, "{:?}", f.code);
    }

    #[test]
    fn two_adds_of_a_constant_in_a_row_pair_unless_a_branch_lands_between() {
        let f = translate_wat(
            "(module (func (param i32 i32) (result i32)
               (local.set 0 (i32.add (local.get 0) (i32.const 1)))
               (local.set 1 (i32.add (local.get 0) (i32.const -8)))
               (loop $l
                 (local.set 0 (i32.add (local.get 0) (i32.const 3)))
                 (local.set 1 (i32.add (local.get 1) (i32.const 4)))
                 (br_if $l (local.get 0)))
               (local.get 0)))",
        );
        let want = [
            Instr::I32AddIAddI { d: 0, a: 0, i: 1 },
            Instr::Arg { x: 1, y: 0, z: -8i32 as u32 },
            // The loop's adds pair too; the branch back lands on the first.
            Instr::I32AddIAddI { d: 0, a: 0, i: 3 },
            Instr::Arg { x: 1, y: 1, z: 4 },
        ];
        assert_eq!(f.code[..4], want, "{:?}", f.code);
        // A branch landing on the second keeps them apart.
        let f = translate_wat(
            "(module (func (param i32 i32) (result i32)
               (local.set 0 (i32.add (local.get 0) (i32.const 1)))
               (loop $l
                 (local.set 1 (i32.add (local.get 1) (i32.const 4)))
                 (br_if $l (local.get 0)))
               (local.get 0)))",
        );
        assert_eq!(f.code[0], Instr::I32AddI { d: 0, a: 0, i: 1 }, "{:?}", f.code);
        assert_eq!(f.code[1], Instr::I32AddI { d: 1, a: 1, i: 4 }, "{:?}", f.code);
    }

    #[test]
    fn a_load_or_a_wide_store_then_an_add_of_a_constant_pair() {
        let f = translate_wat(
            "(module (memory 1) (func (param i32 i32 i64) (result i32) (local i32)
               (local.set 3 (i32.load offset=4 (local.get 0)))
               (local.set 1 (i32.add (local.get 3) (i32.const 7)))
               (i64.store offset=8 (local.get 0) (local.get 2))
               (local.set 0 (i32.add (local.get 0) (i32.const 8)))
               (local.get 1)))",
        );
        let want = [
            Instr::I32LoadThenAddI { d: 3, a: 0, o: 4 },
            Instr::Arg { x: 1, y: 3, z: 7 },
            Instr::I64StoreThenAddI { a: 0, v: 2, o: 8 },
            Instr::Arg { x: 0, y: 0, z: 8 },
        ];
        assert_eq!(f.code[..4], want, "{:?}", f.code);
    }

    #[test]
    fn a_constant_selected_sits_in_the_select() {
        let f = translate_wat(
            "(module (func (param i32 i32) (result i32 i64) (local i32)
               (local.set 2 (select (local.get 1) (i32.const 77) (local.get 0)))
               (i32.add (local.get 2) (select (i32.const -3) (local.get 1) (local.get 0)))
               (select (i64.const 0x123456789) (i64.const 5) (local.get 1))))",
        );
        let want = [
            // Retargeted to the local by `local.set`.
            Instr::SelectElseK { d: 2, a: 1 },
            Instr::Arg { x: 0, y: 77, z: 0 },
            Instr::SelectThenK { d: 4, b: 1 },
            Instr::Arg { x: 0, y: -3i32 as u32, z: 0 },
        ];
        assert_eq!(f.code[..4], want, "{:?}", f.code);
        // With both constants, the first is written to its slot and the second joins the select.
        assert!(
            f.code[5..].starts_with(&[
                Instr::Const64 { d: 4, lo: 0x23456789, hi: 1 },
                Instr::SelectElseK { d: 4, a: 4 },
                Instr::Arg { x: 1, y: 5, z: 0 },
            ]),
            "{:?}",
            f.code
        );
    }

    #[test]
    fn accesses_carry_the_end_of_their_bytes_and_huge_offsets_take_the_general_path() {
        let engine = Engine::default();
        let m = Module::new(
            &engine,
            "(module (memory 1) (func (param i32) (result i32)
               (i32.load8_u offset=3 (local.get 0))
               (i64.store offset=8 (local.get 0) (i64.const 0))
               (i32.load offset=4294967279 (local.get 0))
               i32.add
               (i32.load offset=4294967280 (local.get 0))
               i32.add))",
        )
        .unwrap();
        let f = translate(&m.inner, 0, None).unwrap();
        assert_eq!(f.code[0], Instr::I32Load8U { d: 1, a: 0, o: 4 }, "{:?}", f.code);
        assert_eq!(f.code[1], Instr::I64StoreI { s: 0, a: 0, o: 16, v: 0 }, "{:?}", f.code);
        // The largest offset whose end fits 32 bits, then one more.
        assert_eq!(f.code[2], Instr::I32Load { d: 2, a: 0, o: u32::MAX - 12 }, "{:?}", f.code);
        assert!(matches!(f.code[4], Instr::LoadM { .. }), "{:?}", f.code);
    }

    #[test]
    fn adjacent_copies_pair_increments_jump_and_static_arrays_index() {
        // Call arguments from locals: two copies in one, the third alone.
        let f = translate_wat(
            "(module (func (param i32 i32 i32) (local i32)
                 (call $g (local.get 2) (local.get 0) (local.get 1)))
               (func $g (param i32 i32 i32)))",
        );
        assert_eq!(f.code[0], Instr::CopyPair { d: 4, a: 2, b: 0 }, "{:?}", f.code);
        assert_eq!(f.code[1], Instr::Copy { d: 6, a: 1 }, "{:?}", f.code);
        // `i += 4; br loop` jumps from the increment; `mem[BASE + (i << 2)]` is one load.
        let f = translate_wat(
            "(module (memory 1) (func (param i32) (result i32) (local i32)
               (loop $l
                 (local.set 1 (i32.add (local.get 1)
                   (i32.load (i32.add (i32.shl (local.get 0) (i32.const 2)) (i32.const 4096)))))
                 (local.set 0 (i32.add (local.get 0) (i32.const 4)))
                 (br $l))
               (unreachable)))",
        );
        assert!(
            f.code.contains(&Instr::I32LoadShlAddI { k: 2, d: 3, a: 0, i: 4096 }),
            "{:?}",
            f.code
        );
        assert!(f.code.contains(&Instr::I32AddIBr { d: 0, i: 4, t: 0 }), "{:?}", f.code);
        assert!(!f.code.iter().any(|i| matches!(i, Instr::Br { .. })), "{:?}", f.code);
        let f = translate_wat(
            "(module (func (param i64) (loop $l (local.set 0 (i64.add (local.get 0) (i64.const -8))) (br $l))))",
        );
        assert_eq!(f.code[0], Instr::I64AddIBr { d: 0, i: -8, t: 0 }, "{:?}", f.code);
        // Copies into slots that are not consecutive: two in one, in order.
        let f = translate_wat(
            "(module (func (param i32 i32 i32) (local.set 0 (local.get 1)) (local.set 2 (local.get 0))))",
        );
        assert_eq!(f.code[0], Instr::CopyTwo { d0: 0, a0: 1, d1: 2, a1: 0 }, "{:?}", f.code);
        // A `br_table` on an element of a table in memory loads its index itself.
        let f = translate_wat(
            "(module (memory 1) (func (param i32 i32) (result i32)
               (block (block (br_table 0 1 (i32.load (i32.add (local.get 0)
                                                 (i32.shl (local.get 1) (i32.const 2)))))))
               (i32.const 7)))",
        );
        assert_eq!(f.code[0], Instr::BrTableLoadIdx { k: 2, a: 0, b: 1, n: 2 }, "{:?}", f.code);
        // Kept in a local by `local.tee` too (`switch (op = code[pc])`), but not across a
        // branch target.
        let teed = |between: &str| {
            translate_wat(&format!(
                "(module (memory 1) (func (param i32 i32) (result i32) (local i32)
                   (block (block
                     (i32.load (i32.add (local.get 0) (i32.shl (local.get 1) (i32.const 2))))
                     (local.tee 2) {between}
                     (br_table 0 1)))
                   (local.get 2)))"
            ))
        };
        let f = teed("");
        let want = Instr::BrTableLoadIdxTee { k: 2, d: 2, a: 0, b: 1, n: 2 };
        assert_eq!(f.code[0], want, "{:?}", f.code);
        let f = teed("(block $b (br_if $b (local.get 0)))");
        assert!(
            !f.code.iter().any(|i| matches!(i, Instr::BrTableLoadIdxTee { .. })),
            "{:?}",
            f.code
        );
        let f = translate_wat(
            "(module (memory 1) (func (param i32) (result i32)
               (block (block (br_table 0 1 (i32.add (i32.const -2)
                 (i32.load (i32.add (i32.shl (local.get 0) (i32.const 2)) (i32.const 4096)))))))
               (i32.const 7)))",
        );
        let want = Instr::BrTableLoadShlAddI { k: 2, a: 0, i: 4096, n: 2 };
        assert_eq!(f.code[..2], [want, Instr::Arg { x: -2i32 as u32, y: 0, z: 0 }], "{:?}", f.code);
        // The index a byte loaded just before (an opcode): that load too, unless the memory
        // is shared.
        let wat = |memory: &str| {
            format!(
                "(module (memory {memory}) (func (param i32) (result i32)
                   (block (block (br_table 0 1 (i32.add (i32.const -2)
                     (i32.load (i32.add (i32.shl (i32.load8_u offset=3 (local.get 0)) (i32.const 2))
                                        (i32.const 4096)))))))
                   (i32.const 7)))"
            )
        };
        let f = translate_wat(&wat("1 1"));
        let want = Instr::BrTableLoad8ULoadShlAddI { k: 2, d: 2, i: 4096, n: 2 };
        assert_eq!(f.code[..2], [want, Instr::Arg { x: -2i32 as u32, y: 0, z: 3 }], "{:?}", f.code);
        // Each access keeps its own offset: the byte's on the instruction, the word's on `Arg`.
        assert!(f.offsets[0] < f.offsets[1], "{:?}", f.offsets);
        let unfused = translate_wat(&wat("1 1 shared"));
        assert!(matches!(unfused.code[0], Instr::I32Load8U { .. }), "{:?}", unfused.code);
        assert!(matches!(unfused.code[1], Instr::BrTableLoadShlAddI { .. }), "{:?}", unfused.code);
        assert_eq!(f.offsets[..2], unfused.offsets[..2]);
        // A constant set just before (across the start of a block, which no branch lands on)
        // joins in, its slot and value in a second `Arg` word; not across a loop's start.
        let set = |between: &str| {
            translate_wat(&format!(
                "(module (memory 1) (func (param i32) (result i32) (local i64)
                   (local.set 1 (i64.const 0x300000005)) {between}
                   (block (block (br_table 0 1 (i32.add (i32.const -2)
                     (i32.load (i32.add (i32.shl (i32.load8_u offset=3 (local.get 0)) (i32.const 2))
                                        (i32.const 4096)))))))
                   (i32.const 7){}))",
                if between.is_empty() { "" } else { ")" }
            ))
        };
        let f = set("");
        let want = Instr::ConstBrTableLoad8ULoadShlAddI { k: 2, d: 3, i: 4096, n: 2 };
        assert_eq!(f.code[0], want, "{:?}", f.code);
        assert_eq!(f.code[1], Instr::Arg { x: -2i32 as u32, y: 0, z: 3 }, "{:?}", f.code);
        assert_eq!(f.code[2], Instr::Arg { x: 1, y: 5, z: 3 }, "{:?}", f.code);
        let f = set("(loop (result i32)");
        assert!(matches!(f.code[0], Instr::Const64 { .. }), "{:?}", f.code);
        assert!(matches!(f.code[1], Instr::BrTableLoad8ULoadShlAddI { .. }), "{:?}", f.code);
    }

    #[test]
    fn wrapping_a_value_already_32_bits_wide_emits_nothing() {
        let f = translate_wat(
            "(module (memory 1) (func (param i64 i32) (result i32 i32 i32 i32)
               (i32.wrap_i64 (i64.shr_u (local.get 0) (i64.const 32)))
               (i32.wrap_i64 (i64.and (local.get 0) (i64.const 0xffff)))
               (i32.wrap_i64 (i64.load32_u (local.get 1)))
               (i32.wrap_i64 (i64.shr_u (local.get 0) (i64.const 31)))))",
        );
        let wraps = f.code.iter().filter(|i| matches!(i, Instr::I32WrapI64 { .. })).count();
        assert_eq!(wraps, 0, "{:?}", f.code);
        assert_eq!(f.code[0], Instr::I64ShrUI { d: 2, a: 0, i: 32 }, "{:?}", f.code);
        // The shift by 31 keeps a bit above the low word: it wraps in the same instruction.
        assert_eq!(f.code[3], Instr::I32WrapShrU { d: 5, a: 0, i: 31 }, "{:?}", f.code);
    }

    #[test]
    fn a_load_operated_on_and_stored_back_is_one_instruction() {
        let f = translate_wat(
            "(module (memory 1) (func (param i32 i32) (local i32)
               (i32.store offset=8 (local.get 0) (i32.add (i32.load offset=8 (local.get 0)) (i32.const 1)))
               (i32.store (local.get 0) (i32.or (local.get 1) (i32.load (local.get 0))))
               (i32.store (local.get 0) (i32.sub (i32.load (local.get 0)) (local.get 1)))
               ;; not: the other address, the loaded value kept in a local, subtracted from
               (i32.store (local.get 1) (i32.xor (i32.load (local.get 0)) (local.get 1)))
               (i32.store (local.get 0) (i32.and (local.tee 2 (i32.load (local.get 0))) (local.get 2)))
               (i32.store (local.get 0) (i32.sub (local.get 1) (i32.load (local.get 0))))))",
        );
        assert_eq!(f.code[0], Instr::I32RmwAddI { a: 0, o: 8, i: 1 }, "{:?}", f.code);
        assert_eq!(f.code[1], Instr::I32RmwOr { a: 0, o: 0, b: 1 }, "{:?}", f.code);
        assert_eq!(f.code[2], Instr::I32RmwSub { a: 0, o: 0, b: 1 }, "{:?}", f.code);
        let rmws = f.code.iter().filter(|i| format!("{i:?}").starts_with("I32Rmw")).count();
        assert_eq!(rmws, 3, "{:?}", f.code);
        // A loaded word plus a constant, not stored back (or stored elsewhere): one
        // instruction, the load's offset its own.
        let f = translate_wat(
            "(module (memory 1) (func (param i32 i32) (result i32)
               (i32.store offset=4 (local.get 1) (i32.add (i32.load offset=8 (local.get 0)) (i32.const -3)))
               (i32.add (i32.load offset=12 (local.get 0)) (i32.const 5))))",
        );
        let want = Instr::I32LoadPlusI { a: 0, d: 3, o: 8, i: -3 };
        assert_eq!(f.code[0], want, "{:?}", f.code);
        // The store's offset minus the load's: the load (3 bytes), the constant (2), the add.
        assert_eq!(f.offsets[1] - f.offsets[0], 6, "the load's offset: {:?}", f.offsets);
        assert_eq!(f.code[2], Instr::I32LoadPlusI { a: 0, d: 0, o: 12, i: 5 }, "{:?}", f.code);
    }

    #[test]
    fn a_constant_shifted_or_subtracted_from_is_an_immediate() {
        let f = translate_wat(
            "(module (func (param i32) (result i32 i32)
               (i32.shl (i32.const 1) (local.get 0))
               (i32.sub (i32.const 31) (local.get 0))))",
        );
        assert_eq!(f.code[0], Instr::I32ConstShl { d: 1, a: 0, i: 1 }, "{:?}", f.code);
        assert_eq!(f.code[1], Instr::I32ConstSub { d: 2, a: 0, i: 31 }, "{:?}", f.code);
    }

    #[test]
    fn a_reload_of_the_word_just_stored_reads_the_stored_slot() {
        // A shared memory, so that consecutive accesses stay apart (no `Mem*` pairs).
        let f = translate_wat(
            "(module (memory 1 1 shared) (func (param i32 i64 i32) (result i32 i64 i32)
               (i64.store offset=8 (local.get 0) (i64.add (local.get 1) (i64.const 1)))
               (local.get 0)
               (i64.load offset=8 (local.get 0))
               (i32.store offset=4 (local.get 0) (local.get 2))
               (i32.load offset=4 (local.get 0))
               (i32.store offset=4 (local.get 0) (local.get 2))
               (i32.load offset=8 (local.get 0))
               (drop)))",
        );
        // The i64 reload lands where the sum was: nothing; the i32 reload reads the local.
        assert_eq!(f.code[0], Instr::I64AddI { s: 0, d: 4, a: 1, i: 1 }, "{:?}", f.code);
        assert_eq!(f.code[1], Instr::I64Store { a: 0, v: 4, o: 8 }, "{:?}", f.code);
        assert_eq!(f.code[2], Instr::I32Store { a: 0, v: 2, o: 4 }, "{:?}", f.code);
        // Another offset is a real load.
        assert_eq!(f.code[3], Instr::I32Store { a: 0, v: 2, o: 4 }, "{:?}", f.code);
        assert_eq!(f.code[4], Instr::I32Load { d: 6, a: 0, o: 8 }, "{:?}", f.code);
        // A value computed just before the store is computed where the reload puts it (the
        // store's address entry); a second reload of the same store copies the first's value.
        let f = translate_wat(
            "(module (memory 1 1 shared) (func (param i32 i32) (result i32 i32 i32)
               (i32.store offset=4 (local.get 0) (i32.add (local.get 1) (i32.const 1)))
               (i32.load offset=4 (local.get 0))
               (i32.const 7)
               (i32.load offset=4 (local.get 0))))",
        );
        let want = [
            Instr::I32AddI { d: 2, a: 1, i: 1 },
            Instr::I32Store { a: 0, v: 2, o: 4 },
            Instr::Copy { d: 4, a: 2 },
            Instr::Const32 { d: 3, v: 7 },
        ];
        assert_eq!(f.code[..4], want, "{:?}", f.code);
        // The first reload left the value where it was computed (an alias of the address
        // below it): the second must not move it away from there.
        let f = translate_wat(
            "(module (memory 1 1 shared) (func (param i32 i32) (result i32 i32 i32 i32)
               (local.get 0)
               (i32.store offset=4 (local.get 0) (i32.add (local.get 1) (i32.const 1)))
               (i32.load offset=4 (local.get 0))
               (i32.const 7)
               (i32.load offset=4 (local.get 0))))",
        );
        let want = [Instr::I32AddI { d: 3, a: 1, i: 1 }, Instr::I32Store { a: 0, v: 3, o: 4 }];
        assert_eq!(f.code[..2], want, "{:?}", f.code);
        assert!(f.code.contains(&Instr::Copy { d: 5, a: 3 }), "{:?}", f.code);
    }

    #[test]
    fn a_global_plus_a_constant_is_read_and_written_in_one_instruction() {
        let f = translate_wat(
            "(module (global $sp (mut i32) (i32.const 0)) (memory 1)
               (func (param i32) (result i32)
                 (i32.load offset=4 (i32.add (global.get $sp) (i32.const -16)))
                 (global.set $sp (i32.add (local.get 0) (i32.const 32)))))",
        );
        assert!(matches!(f.code[0], Instr::GlobalGetAddI { d: 1, i: -16, .. }), "{:?}", f.code);
        // (With the return.)
        assert!(
            matches!(f.code[2], Instr::GlobalSetAddIReturnFrom { a: 0, i: 32, .. }),
            "{:?}",
            f.code
        );
    }

    #[test]
    fn local_get_is_free_and_local_set_retargets() {
        let f = translate_wat(
            "(module (func (param i32 i32) (local i32)
               local.get 0 local.get 1 i32.add local.set 2))",
        );
        assert_eq!(f.code[0], Instr::I32Add { d: 2, a: 0, b: 1 });
        assert_eq!(f.code[1], Instr::Return);
        assert_eq!(f.code.len(), 2);
    }

    #[test]
    fn aliased_local_is_saved_before_overwrite() {
        // The first `local.get 0` must keep the old value although local 0 changes before use.
        let f = translate_wat(
            "(module (func (param i32) (result i32)
               local.get 0 i32.const 5 local.set 0 local.get 0 i32.add))",
        );
        assert_eq!(f.code[0], Instr::Copy { d: 1, a: 0 });
        assert_eq!(f.code[1], Instr::Const32 { d: 0, v: 5 });
        // The sum is the result: it goes to slot 0 for the return.
        assert_eq!(f.code[2], Instr::I32Add { d: 0, a: 1, b: 0 });
    }

    #[test]
    fn an_aliased_local_is_saved_in_front_of_the_instruction_that_then_writes_it() {
        // `x + (x = x + 1)`: the old value is saved before the add, which writes the local.
        let f = translate_wat(
            "(module (func (param i32) (result i32)
               local.get 0 local.get 0 i32.const 1 i32.add local.set 0 local.get 0 i32.add))",
        );
        assert_eq!(f.code[0], Instr::Copy { d: 1, a: 0 });
        assert_eq!(f.code[1], Instr::I32AddI { d: 0, a: 0, i: 1 });
        assert_eq!(f.code[2], Instr::I32Add { d: 0, a: 1, b: 0 });
        // Not when a branch lands after the producer: the loop header sits between.
        let g = translate_wat(
            "(module (func (param i32) (result i32)
               local.get 0 local.get 0 i32.const 1 i32.add (loop) local.set 0
               local.get 0 i32.add))",
        );
        assert!(g.code.contains(&Instr::Copy { d: 1, a: 0 }), "{:?}", g.code);
    }

    #[test]
    fn a_function_returns_its_result_from_where_it_was_computed() {
        // A local at the end: returned from the local, no copy to the label's slot first.
        let f = translate_wat(
            "(module (func (param i32) (result i32) (local i32)
               (local.set 1 (i32.const 7)) (local.get 1)))",
        );
        assert_eq!(f.code[..], [Instr::Const32 { d: 1, v: 7 }, Instr::ReturnFrom { s: 1, n: 1 }]);
        // A result just computed, at the end or by `return`: written to slot 0 (here while
        // reading it), then a plain `Return`; also an instruction with an `Arg` word.
        for body in [
            "(i32.add (local.get 1) (local.get 0))",
            "(return (i32.add (local.get 1) (local.get 0)))",
        ] {
            let f = translate_wat(&format!("(module (func (param i32 i32) (result i32) {body}))"));
            assert_eq!(f.code[..2], [Instr::I32Add { d: 0, a: 1, b: 0 }, Instr::Return]);
        }
        let f = translate_wat(
            "(module (func (param i32 i32 i32) (result i32)
               (select (local.get 1) (local.get 2) (i32.gt_u (local.get 0) (local.get 1)))))",
        );
        assert_eq!(f.code.last(), Some(&Instr::Return), "{:?}", f.code);
        assert_eq!(f.code[0].clone().dst_mut().copied(), Some(0), "{:?}", f.code);
        // A branch lands after the producer: the result stays where both paths put it.
        let f = translate_wat(
            "(module (func (param i32 i32) (result i32)
               (block (result i32)
                 (drop (br_if 0 (local.get 0) (local.get 1)))
                 (i32.add (local.get 0) (local.get 1)))))",
        );
        assert!(matches!(f.code.last(), Some(Instr::ReturnFrom { n: 1, .. })), "{:?}", f.code);
        assert!(!f.code.iter().any(|i| i.clone().dst_mut() == Some(&mut 0)), "{:?}", f.code);
    }

    #[test]
    fn a_copy_only_the_next_load_reads_before_it_overwrites_it_goes() {
        // `l = s; l = load(l + 8)`: the load reads `s`.
        let f = translate_wat(
            "(module (memory 1) (func (param i32) (result i32) (local i32)
               (local.set 1 (local.get 0))
               (local.set 1 (i32.load offset=8 (local.get 1)))
               (local.get 1)))",
        );
        assert_eq!(f.code[0], Instr::I32Load { d: 1, a: 0, o: 8 }, "{:?}", f.code);
        // Not when the copy is read again: by an alias on the stack, or by a load writing
        // elsewhere.
        for body in [
            "(local.set 1 (local.get 0)) (local.get 1)
             (local.set 1 (i32.load offset=8 (local.get 1))) (local.get 1) (i32.add)",
            "(local.set 1 (local.get 0)) (local.set 0 (i32.load offset=8 (local.get 1)))
             (local.get 1)",
        ] {
            let f = translate_wat(&format!(
                "(module (memory 1) (func (param i32) (result i32) (local i32) {body}))"
            ));
            assert!(
                f.code.iter().any(|i| matches!(i, Instr::I32Load { a: 1, .. })),
                "{:?}",
                f.code
            );
        }
        // Nor when a branch lands on the load (the other path did not copy).
        let f = translate_wat(
            "(module (memory 1) (func (param i32) (result i32) (local i32)
               (local.set 1 (local.get 0))
               (loop $l (local.set 1 (i32.load offset=8 (local.get 1)))
                        (br_if $l (local.get 1)))
               (local.get 1)))",
        );
        assert!(f.code.iter().any(|i| matches!(i, Instr::I32Load { a: 1, .. })), "{:?}", f.code);
    }

    #[test]
    fn an_epilogue_restoring_the_stack_pointer_returns_too() {
        let wat = |result: &str| {
            format!(
                "(module (global $sp (mut i32) (i32.const 1024))
                   (func (param i32) (result i32) (local i32)
                     (local.set 1 (i32.sub (global.get $sp) (i32.const 16)))
                     (global.set $sp (local.get 1))
                     (global.set $sp (i32.add (local.get 1) (i32.const 16)))
                     {result}))"
            )
        };
        let f = translate_wat(&wat("(local.get 0)"));
        assert!(matches!(f.code.last(), Some(Instr::GlobalSetAddIReturn { a: 1, i: 16, .. })));
        let f = translate_wat(&wat("(local.get 1)"));
        let last = f.code.last();
        assert!(matches!(last, Some(Instr::GlobalSetAddIReturnFrom { a: 1, s: 1, i: 16, .. })));
        // Not when a branch lands on the return.
        let f =
            translate_wat(&wat("(block (result i32) (drop (br_if 0 (local.get 1) (local.get 0)))
                                         (global.set $sp (i32.add (local.get 1) (i32.const 16)))
                                         (local.get 1))"));
        assert!(matches!(f.code.last(), Some(Instr::ReturnFrom { .. })), "{:?}", f.code);
    }

    #[test]
    fn branch_targets_are_resolved() {
        let f = translate_wat(
            "(module (func (param i32) (result i32)
               (block (result i32) (br_if 0 (i32.const 1) (local.get 0)) drop (i32.const 2))))",
        );
        for (i, ins) in f.code.iter().enumerate() {
            if let Instr::Br { t, .. } | Instr::BrIfNez { t, .. } | Instr::BrIfEqz { t, .. } = ins {
                assert!((*t as usize) < f.code.len() && *t as usize != i, "{:?}", f.code);
            }
        }
        assert!(f.code.iter().all(|i| !matches!(i, Instr::Br { t: u32::MAX, .. })));
    }

    /// Many references on the stack across many calls: building exact maps would be
    /// quadratic, so the function is left to conservative scanning once the budget is spent.
    #[test]
    fn stack_maps_stay_linear_for_hostile_functions() {
        let n = 3000;
        let body = format!(
            "{} {} {}",
            "(ref.i31 (i32.const 1))".repeat(n),
            "(call $g)".repeat(n),
            "(drop)".repeat(n)
        );
        let start = std::time::Instant::now();
        let f = translate_wat(&format!("(module (func {body}) (func $g))"));
        assert!(f.stack_maps.conservative);
        assert!(start.elapsed() < std::time::Duration::from_secs(5), "{:?}", start.elapsed());
    }

    #[test]
    fn a_load_from_a_teed_address_computes_it_and_sets_the_local() {
        let f = translate_wat(
            "(module (memory 1) (func (param i32) (result i64 i32) (local i32)
               (i64.load (local.tee 1 (i32.add (local.get 0) (i32.const -8))))
               (local.get 1)))",
        );
        assert!(
            matches!(f.code[0], Instr::I64LoadAddITee { t: 1, a: 0, i: -8, .. }),
            "{:?}",
            f.code
        );
        // A load at an offset, or of the local the add reads, keeps the two instructions.
        let g = translate_wat(
            "(module (memory 1) (func (param i32) (result i32 i32)
               (i32.load offset=4 (local.tee 0 (i32.add (local.get 0) (i32.const 8))))
               (local.get 0)))",
        );
        assert!(!g.code.iter().any(|i| matches!(i, Instr::I32LoadAddITee { .. })), "{:?}", g.code);
    }

    #[test]
    fn a_multiply_by_a_constant_fuses_with_the_added_constant() {
        let f = translate_wat(
            "(module (func (param i32 i64) (result i32 i64)
               (i32.add (i32.mul (local.get 0) (i32.const 5)) (i32.const -3))
               (i64.add (i64.mul (local.get 1) (i64.const 3)) (i64.const 1))))",
        );
        assert!(
            matches!(
                f.code[..],
                [
                    Instr::I32MulAddI { a: 0, i: 5, j: -3, .. },
                    Instr::I64MulAddI { a: 1, i: 3, j: 1, .. },
                    ..
                ]
            ),
            "{:?}",
            f.code
        );
        // A shifted 64-bit constant keeps the two instructions.
        let g = translate_wat(
            "(module (func (param i64) (result i64)
               (i64.add (i64.mul (local.get 0) (i64.const 3)) (i64.const 0x500000000))))",
        );
        assert!(!g.code.iter().any(|i| matches!(i, Instr::I64MulAddI { .. })), "{:?}", g.code);
    }

    #[test]
    fn an_and_of_a_constant_fuses_with_the_select_it_feeds() {
        let f = translate_wat(
            "(module (func (param i32 i64 i32) (result i32 i64 i32)
               (select (local.get 0) (local.get 2) (i32.and (local.get 0) (i32.const 4)))
               (select (local.get 1) (i64.const 9) (i64.eqz (i64.and (local.get 1) (i64.const -2))))
               (select (local.get 0) (local.get 2) (i32.eqz (i32.and (local.get 2) (i32.const 1))))))",
        );
        let fused: Vec<_> = f
            .code
            .iter()
            .zip(f.code.iter().skip(1))
            .filter(|(i, _)| matches!(i, Instr::SelectAnd { .. } | Instr::SelectAnd64 { .. }))
            .map(|(i, arg)| (*i, *arg))
            .collect();
        assert!(
            matches!(
                fused[..],
                [
                    (Instr::SelectAnd { a: 0, b: 2, .. }, Instr::Arg { x: 0, y: 4, z: 0 }),
                    (Instr::SelectAnd64 { b: 1, .. }, Instr::Arg { x: 1, y: 0xffff_fffe, z: 0 }),
                    (Instr::SelectAnd { a: 2, b: 0, .. }, Instr::Arg { x: 2, y: 1, z: 0 }),
                ]
            ),
            "{:?}",
            f.code
        );
        assert!(!f.code.iter().any(|i| matches!(i, Instr::I32AndI { .. } | Instr::I64AndI { .. })));
        // An `and` whose result is also kept, or a shifted 64-bit mask, stays.
        let g = translate_wat(
            "(module (func (param i64) (result i64 i32) (local i64)
               (select (local.get 0) (i64.const 1) (i64.eqz (local.tee 1 (i64.and (local.get 0) (i64.const 3)))))
               (select (i32.const 1) (i32.const 2) (i64.eqz (i64.and (local.get 0) (i64.const 0x300000000))))))",
        );
        assert!(!g.code.iter().any(|i| matches!(i, Instr::SelectAnd64 { .. })), "{:?}", g.code);
    }

    #[test]
    fn a_compare_fuses_with_the_select_it_feeds() {
        let f = translate_wat(
            "(module (func (param i32 i32 i64) (result i32 i64)
               (select (local.get 0) (local.get 1) (i32.gt_u (local.get 0) (local.get 1)))
               (select (local.get 2) (i64.const 7) (i32.lt_s (local.get 1) (local.get 0)))))",
        );
        assert_eq!(f.code[0], Instr::SelI32GtU { d: 3, a: 0, b: 1 }, "{:?}", f.code);
        assert_eq!(f.code[1], Instr::Arg { x: 0, y: 1, z: 0 }, "{:?}", f.code);
        // A constant operand is materialised first; the compare still fuses.
        let sel = f.code.iter().position(|i| matches!(i, Instr::SelI32LtS { .. }));
        let sel = sel.unwrap_or_else(|| panic!("{:?}", f.code));
        assert!(matches!(f.code[sel], Instr::SelI32LtS { a: 1, b: 0, .. }), "{:?}", f.code);
        // A local.set after it writes the local directly.
        let f = translate_wat(
            "(module (func (param i32 i32) (result i32)
               (local.set 1 (select (local.get 0) (local.get 1)
                 (i32.ge_u (local.get 0) (local.get 1))))
               (local.get 1)))",
        );
        assert_eq!(f.code[0], Instr::SelI32GeU { d: 1, a: 0, b: 1 }, "{:?}", f.code);
        // An eqz feeding the select swaps the values instead.
        let g = translate_wat(
            "(module (func (param i32 i64) (result i32 i32)
               (select (local.get 0) (i32.const 5) (i32.eqz (local.get 0)))
               (select (local.get 0) (i32.const 5) (i64.eqz (local.get 1)))))",
        );
        let sel: Vec<_> = g
            .code
            .iter()
            .filter(|i| matches!(i, Instr::Select { .. } | Instr::SelectNz64 { .. }))
            .collect();
        assert!(
            matches!(sel[..], [Instr::Select { b: 0, .. }, Instr::SelectNz64 { b: 0, .. }]),
            "{:?}",
            g.code
        );
        assert!(
            !g.code.iter().any(|i| matches!(i, Instr::I32Eqz { .. } | Instr::I64Eqz { .. })),
            "{:?}",
            g.code
        );
        // A branch landing between the compare and the select keeps them apart.
        let f = translate_wat(
            "(module (func (param i32 i32) (result i32)
               (local.get 0) (local.get 1)
               (block (result i32) (i32.eq (local.get 0) (local.get 1)))
               (select)))",
        );
        assert!(f.code.iter().any(|i| matches!(i, Instr::Select { .. })), "{:?}", f.code);
    }

    #[test]
    fn a_scaled_index_fuses_with_its_add_and_its_load() {
        // base + (i << 2), shift on either side of the add, then loaded.
        let f = translate_wat(
            "(module (memory 1) (func (param i32 i32) (result i32 i32 i32)
               (i32.load (i32.add (local.get 0) (i32.shl (local.get 1) (i32.const 2))))
               (i32.add (i32.shl (local.get 1) (i32.const 35)) (local.get 0))
               (i32.load offset=4 (i32.add (local.get 0) (i32.shl (local.get 1) (i32.const 3))))))",
        );
        assert_eq!(f.code[0], Instr::I32LoadIdx { k: 2, d: 2, a: 0, b: 1 }, "{:?}", f.code);
        // The shift count is taken modulo 32, as `i32.shl` does.
        assert_eq!(f.code[1], Instr::I32AddShl { k: 3, d: 3, a: 0, b: 1 }, "{:?}", f.code);
        // A plain add feeding a byte load, and a 64-bit load, are indexed loads too.
        let g = translate_wat(
            "(module (memory 1) (func (param i32 i32) (result i32 i64)
               (i32.load8_u (i32.add (local.get 0) (local.get 1)))
               (i64.load (i32.add (local.get 0) (i32.shl (local.get 1) (i32.const 3))))))",
        );
        assert_eq!(g.code[0], Instr::I32Load8UIdx { k: 0, d: 2, a: 0, b: 1 }, "{:?}", g.code);
        assert_eq!(g.code[1], Instr::I64LoadIdx { k: 3, d: 3, a: 0, b: 1 }, "{:?}", g.code);
        // A load with an offset keeps its own instruction.
        assert_eq!(f.code[2], Instr::I32AddShl { k: 3, d: 4, a: 0, b: 1 }, "{:?}", f.code);
        assert_eq!(f.code[3], Instr::I32Load { d: 4, a: 4, o: 4 }, "{:?}", f.code);
        // A branch landing between the shift and the add keeps them apart.
        let f = translate_wat(
            "(module (func (param i32 i32) (result i32)
               (local.get 0)
               (block (result i32) (i32.shl (local.get 1) (i32.const 2)))
               (i32.add)))",
        );
        assert!(!f.code.iter().any(|i| matches!(i, Instr::I32AddShl { .. })), "{:?}", f.code);
        // An add of a constant computing the left operand joins in (`&frame[16] + (i << 2)`),
        // unless a branch lands between or the sum is kept in a local.
        let f = |between: &str| {
            translate_wat(&format!(
                "(module (func (param i32 i32) (result i32) (local i32)
                   (i32.add (local.get 0) (i32.const 16)) {between}
                   (i32.shl (local.get 1) (i32.const 2))
                   (i32.add)))"
            ))
        };
        let want = Instr::I32AddIShl { k: 2, d: 0, a: 0, b: 1, i: 16 };
        assert_eq!(f("").code[0], want, "{:?}", f("").code);
        for apart in ["(block)", "(local.tee 2)"] {
            let g = f(apart);
            assert!(!g.code.iter().any(|i| matches!(i, Instr::I32AddIShl { .. })), "{:?}", g.code);
        }
    }

    #[test]
    fn an_add_fuses_with_the_compare_and_branch_on_its_sum() {
        const COMPARE: [(&str, &str); 10] = [
            ("eq", "Eq"),
            ("ne", "Ne"),
            ("lt_s", "LtS"),
            ("lt_u", "LtU"),
            ("gt_s", "GtS"),
            ("gt_u", "GtU"),
            ("le_s", "LeS"),
            ("le_u", "LeU"),
            ("ge_s", "GeS"),
            ("ge_u", "GeU"),
        ];
        let only_branch = |wat: &str| {
            let f = translate_wat(wat);
            let branches: Vec<String> = f
                .code
                .iter()
                .filter(|i| (**i).clone().target_mut().is_some())
                .map(|i| format!("{i:?}"))
                .collect();
            assert_eq!(branches.len(), 1, "{:?}", f.code);
            let adds = f.code.iter().filter(|i| format!("{i:?}").starts_with("I32Add {")).count();
            (branches[0].split(' ').next().unwrap().to_string(), adds)
        };
        for (ty, wide) in [("i32", "I32"), ("i64", "I64")] {
            for (k, (op, name)) in COMPARE.iter().enumerate() {
                let swapped = COMPARE[cmp::swapped(k)].1;
                for (addend, other, fused) in [
                    ("(local.get 1)", "(local.get 2)", format!("{wide}AddBr{name}")),
                    (&format!("({ty}.const 3)"), "(local.get 2)", format!("{wide}AddIBr{name}")),
                    (
                        &format!("({ty}.const 3)"),
                        &format!("({ty}.const 10)"),
                        format!("{wide}AddIBr{name}I"),
                    ),
                ] {
                    let body = |l: &str, r: &str| {
                        format!(
                            "(module (func (param {ty} {ty} {ty}) (local {ty})
                               (block (local.set 3 ({ty}.add (local.get 0) {addend}))
                                      (br_if 0 ({ty}.{op} {l} {r})))))"
                        )
                    };
                    let (got, _) = only_branch(&body("(local.get 3)", other));
                    assert_eq!(got, fused, "{ty}.{op} with {addend}, {other}");
                    // The sum on the right: the compare swaps sides.
                    let (got, _) = only_branch(&body(other, "(local.get 3)"));
                    let want = fused.replace(name, swapped);
                    // Only the slot forms have the sum on either side (an immediate is right).
                    if other.contains("local") {
                        assert_eq!(got, want, "{ty}.{op} with {other} on the left");
                    }
                }
            }
        }
        // `br_if` on the i32 sum itself: a compare with zero.
        let (got, adds) = only_branch(
            "(module (func (param i32) (loop (br_if 0 (local.tee 0 (i32.add (local.get 0) (i32.const -1)))))))",
        );
        assert_eq!((got.as_str(), adds), ("I32AddIBrNeI", 0));
        // No fusion across a branch target, nor for a compare of something else.
        let (got, adds) = only_branch(
            "(module (func (param i32 i32) (local i32)
               (local.set 2 (i32.add (local.get 0) (local.get 1)))
               (loop (br_if 0 (i32.lt_u (local.get 2) (local.get 1))))))",
        );
        assert_eq!((got.as_str(), adds), ("BrI32LtU", 1));
        let (got, adds) = only_branch(
            "(module (func (param i32 i32) (local i32)
               (block (local.set 2 (i32.add (local.get 0) (local.get 1)))
                      (br_if 0 (i32.lt_u (local.get 0) (local.get 1))))))",
        );
        assert_eq!((got.as_str(), adds), ("BrI32LtU", 1));
        // A sum in a slot past 16 bits (after 40,000 two-slot v128 locals) keeps the two
        // instructions.
        let locals = "v128 ".repeat(40_000);
        let (got, adds) = only_branch(&format!(
            "(module (func (param i32 i32) (local {locals} i32)
               (block (local.set 40002 (i32.add (local.get 0) (local.get 1)))
                      (br_if 0 (i32.lt_u (local.get 40002) (local.get 1))))))"
        ));
        assert_eq!((got.as_str(), adds), ("BrI32LtU", 1));
    }

    #[test]
    fn consecutive_memory_accesses_pair_where_nothing_lands_between() {
        let body = "(local.set 1 (i32.load offset=8 (local.get 0)))
                    (i32.store offset=4 (local.get 0) (local.get 1))
                    (local.set 1 (i32.load8_u (local.get 1)))
                    (loop (i64.store (local.get 0) (local.get 2)) (br_if 0 (local.get 1)))";
        let wat =
            |memory: &str| format!("(module (memory {memory}) (func (param i32 i32 i64) {body}))");
        let f = translate_wat(&wat("1"));
        assert_eq!(f.code[0], Instr::MemLd32St32 { p: 1, q: 0, o: 8 }, "{:?}", f.code);
        assert_eq!(f.code[1], Instr::Arg { x: 0, y: 1, z: 4 }, "{:?}", f.code);
        // The third access is alone: the loop's branch lands on the fourth.
        assert_eq!(f.code[2], Instr::I32Load8U { d: 1, a: 1, o: 0 }, "{:?}", f.code);
        assert_eq!(f.code[3], Instr::I64Store { a: 0, v: 2, o: 0 }, "{:?}", f.code);
        // Two words as before, each with its own access's offset (the shared memory's type is
        // one byte longer, which moves every offset by one).
        let unpaired = translate_wat(&wat("1 1 shared"));
        assert_eq!(unpaired.code[0], Instr::I32Load { d: 1, a: 0, o: 8 }, "{:?}", unpaired.code);
        let moved: Vec<u32> = unpaired.offsets.iter().map(|o| o - 1).collect();
        assert_eq!((f.code.len(), &*f.offsets), (unpaired.code.len(), &moved[..]));
        // An indexed byte load and store: a byte copy.
        let f = translate_wat(
            "(module (memory 1) (func (param i32 i32 i32)
               (i32.store8 (i32.add (local.get 0) (local.get 2))
                           (i32.load8_u (i32.add (local.get 1) (local.get 2))))))",
        );
        assert!(matches!(f.code[0], Instr::MemLd8UIdxSt8Idx { .. }), "{:?}", f.code);
    }

    #[test]
    fn an_f64_load_fuses_with_the_arithmetic_it_feeds() {
        let f = translate_wat(
            "(module (memory 1) (func (param f64 i32) (result f64 f64 f64)
               (f64.sub (local.get 0) (f64.load offset=8 (local.get 1)))
               (f64.mul (f64.load (local.get 1)) (local.get 0))
               (f64.div (f64.load (local.get 1)) (local.get 0))))",
        );
        assert_eq!(f.code[0], Instr::F64SubLoad { d: 2, a: 0, p: 1, o: 8 }, "{:?}", f.code);
        assert_eq!(f.code[1], Instr::F64MulLoad { d: 3, a: 0, p: 1, o: 0 }, "{:?}", f.code);
        // A loaded left operand of a division stays a load.
        assert_eq!(f.code[2], Instr::I64Load { d: 4, a: 1, o: 0 }, "{:?}", f.code);
    }

    #[test]
    fn an_f64_operation_fuses_with_the_one_it_feeds() {
        let f = translate_wat(
            "(module (func (param f64 f64 f64) (result f64 f64 f64)
               (f64.add (f64.mul (local.get 0) (local.get 1)) (local.get 2))
               (f64.add (local.get 2) (f64.mul (local.get 0) (local.get 1)))
               (f64.add (f64.mul (local.get 0) (local.get 1)) (f64.const 1))))",
        );
        assert_eq!(f.code[0], Instr::F64MulAdd { d: 3, a: 0, b: 1 }, "{:?}", f.code);
        assert_eq!(f.code[1], Instr::Arg { x: 2, y: 0, z: 0 }, "{:?}", f.code);
        assert_eq!(f.code[2], Instr::F64MulAddR { d: 4, a: 0, b: 1 }, "{:?}", f.code);
        assert_eq!(f.code[3], Instr::Arg { x: 2, y: 0, z: 0 }, "{:?}", f.code);
        // A constant addend keeps the two instructions.
        assert!(matches!(f.code[4], Instr::F64Mul { .. }), "{:?}", f.code);
        // Any two of add, sub, mul and div, the first result on either side; in a chain the
        // first two fuse and the third reads their result.
        let f = translate_wat(
            "(module (func (param f64 f64 f64) (result f64 f64)
               (f64.sub (local.get 2) (f64.div (local.get 0) (local.get 1)))
               (f64.sub (f64.mul (f64.add (local.get 0) (local.get 1)) (local.get 2))
                        (local.get 0))))",
        );
        assert_eq!(f.code[0], Instr::F64DivSubR { d: 3, a: 0, b: 1 }, "{:?}", f.code);
        assert_eq!(f.code[1], Instr::Arg { x: 2, y: 0, z: 0 }, "{:?}", f.code);
        assert_eq!(f.code[2], Instr::F64AddMul { d: 4, a: 0, b: 1 }, "{:?}", f.code);
        assert_eq!(f.code[3], Instr::Arg { x: 2, y: 0, z: 0 }, "{:?}", f.code);
        assert_eq!(f.code[4], Instr::F64Sub { d: 4, a: 4, b: 0 }, "{:?}", f.code);
    }

    #[test]
    fn an_indexed_address_fuses_with_the_store_it_feeds() {
        // Value a local, a constant byte, or computed by a load between the add and the store.
        let f = translate_wat(
            "(module (memory 1) (func (param i32 i32 i32)
               (i32.store (i32.add (local.get 0) (i32.shl (local.get 1) (i32.const 2))) (local.get 2))
               (i32.store8 (i32.add (local.get 0) (local.get 1)) (i32.const 257))
               (i32.store8 (i32.add (local.get 0) (local.get 1))
                 (i32.load8_u (i32.add (local.get 2) (local.get 1))))))",
        );
        assert_eq!(f.code[0], Instr::I32StoreIdx { k: 2, a: 0, b: 1, v: 2 }, "{:?}", f.code);
        assert_eq!(f.code[1], Instr::I32Store8IdxI { k: 0, v: 1, a: 0, b: 1 }, "{:?}", f.code);
        // The indexed byte load and store then pair (a byte copy).
        let copy = Instr::MemLd8UIdxSt8Idx { k: 0, j: 0, d: 4, a: 2, b: 1 };
        assert_eq!(f.code[2], copy, "{:?}", f.code);
        assert_eq!(f.code[3], Instr::Arg { x: 0, y: 1, z: 4 }, "{:?}", f.code);
        assert_eq!(f.offsets.len(), f.code.len());
        // The value's instruction overwrites an operand of the address: no fusion.
        let f = translate_wat(
            "(module (memory 1) (func (param i32) (result i32)
               (i32.store (i32.add (local.get 0) (i32.load (local.get 0)))
                 (i32.load (i32.const 8)))
               (i32.const 0)))",
        );
        assert!(!f.code.iter().any(|i| matches!(i, Instr::I32StoreIdx { .. })), "{:?}", f.code);
        // A call between (its position matters for its stack map) keeps them apart, and so does
        // a branch target.
        let f = translate_wat(
            "(module (memory 1) (func (param i32 i32)
               (i32.store (i32.add (local.get 0) (local.get 1)) (call $g))
               (i32.store (i32.add (local.get 0) (local.get 1))
                 (block (result i32) (i32.load (local.get 0)))))
               (func $g (result i32) (i32.const 1)))",
        );
        assert!(!f.code.iter().any(|i| matches!(i, Instr::I32StoreIdx { .. })), "{:?}", f.code);
    }

    #[test]
    fn common_lane_arithmetic_has_opcodes_of_its_own() {
        let f = translate_wat(
            "(module (func (param v128 v128) (result v128)
               (i8x16.eq (f32x4.mul (local.get 0) (local.get 1)) (i32x4.add (local.get 0) (local.get 1)))))",
        );
        assert!(matches!(f.code[0], Instr::F32x4Mul { .. }), "{:?}", f.code);
        assert!(matches!(f.code[1], Instr::I32x4Add { .. }), "{:?}", f.code);
        let eq = Instr::V128Binary { op: simd::SimdBinary::I8x16Eq, d: 4, a: 4, b: 6 };
        assert!(f.code.contains(&eq), "{:?}", f.code);
    }

    #[test]
    fn jumps_and_br_table_entries_name_their_targets_handlers_once_linked() {
        let mut f = translate_wat(
            "(module (memory 1)
               (func (param i32 i32) (result i32)
                 (block (block (block
                   (br_table 0 1 2 (local.get 0)))
                   (return (i32.mul (local.get 1) (i32.const 3))))
                   (i32.store (local.get 1) (local.get 0))
                   (return (i32.const 5)))
                 (loop $l
                   (local.set 1 (i32.sub (local.get 1) (i32.const 1)))
                   (br_if $l (i32.load (local.get 1))))
                 (if (local.get 0)
                   (then (local.set 1 (i32.const 9)))
                   (else (local.set 1 (i32.const 8))))
                 (f64.lt (f64.convert_i32_s (local.get 1)) (f64.const 2.5))))",
        );
        // Each kind of linked jump is there.
        let kinds = [
            Instr::Br { t: 0, h: 0 },
            Instr::BrIfNez { c: 0, t: 0, h: 0 },
            Instr::BrIfEqz { c: 0, t: 0, h: 0 },
        ];
        for kind in kinds {
            let op = kind.opcode();
            assert!(f.code.iter().any(|i| i.opcode() == op), "{kind:?} in {:?}", f.code);
        }
        let entries = |f: &CompiledFunc| -> Vec<(u32, i32)> {
            (f.code.iter())
                .filter_map(|i| match *i {
                    Instr::Target { t, h } | Instr::Br { t, h } => Some((t, h)),
                    Instr::BrIfNez { t, h, .. } | Instr::BrIfEqz { t, h, .. } => Some((t, h)),
                    _ => None,
                })
                .collect()
        };
        let targets = |f: &CompiledFunc| {
            (f.code.iter()).filter(|i| matches!(i, Instr::Target { .. })).count()
        };
        assert_eq!(targets(&f), 3, "{:?}", f.code);
        assert!(entries(&f).iter().all(|&(_, h)| h == 0), "{:?}", f.code);
        super::super::threaded::link_jumps(&mut f.code);
        let entries = entries(&f);
        // Three different first instructions, so three different handlers.
        let ops: std::collections::HashSet<u16> =
            entries.iter().map(|&(t, _)| f.code[t as usize].opcode()).collect();
        assert!(ops.len() >= 3, "{:?}", f.code);
        for (t, h) in entries {
            let want = match cfg!(ward_tail_dispatch) {
                true => super::super::threaded::handler_offset(f.code[t as usize].opcode()),
                false => 0,
            };
            assert_eq!(h, want, "jump to {t} in {:?}", f.code);
        }
    }

    #[test]
    fn constants_become_immediates_and_stack_pointer_moves_fuse() {
        let f = translate_wat(
            "(module (memory 1) (global $sp (mut i32) (i32.const 0))
               (func (param i32) (result i32)
                 (global.set $sp (i32.sub (global.get $sp) (i32.const 16)))
                 (i32.store8 offset=3 (local.get 0) (i32.const 1))
                 (i32.lt_u (i32.const 7) (local.get 0))))",
        );
        assert!(matches!(f.code[0], Instr::GlobalAddI { d: 1, i: -16, .. }), "{:?}", f.code);
        assert!(!matches!(f.code[1], Instr::GlobalSet { .. }), "{:?}", f.code);
        assert_eq!(f.code[1], Instr::I32Store8I { a: 0, o: 3, v: 1 });
        assert_eq!(f.code[2], Instr::I32GtUI { d: 0, a: 0, i: 7 });
        // A call runs the prologue itself and dispatches on the second instruction.
        assert!(matches!(f.prologue, Prologue::AddI { d: 1, i: -16, .. }), "{:?}", f.prologue);
        assert_eq!(f.entry_op, f.code[1].opcode());
        // The record's copy of it, which the call handler reads instead.
        let Prologue::AddI { g, .. } = f.prologue else { unreachable!() };
        let e = f.entry();
        assert_eq!(e.instrs, f.code.as_ptr().cast());
        assert_eq!(
            (e.frame_slots, e.entry_op, e.zeroes),
            (f.frame_slots as u16, f.entry_op, false)
        );
        let add = crate::runtime::vmctx::InterpEntry::GLOBAL_ADD;
        assert_eq!((e.prologue, e.prologue_d, e.prologue_g, e.prologue_i), (add, 1, g, -16));
        let f = translate_wat(
            "(module (memory 1) (func (param i32 i32) (result i32)
               (i32.store (i32.add (local.get 0) (i32.const 4)) (local.get 1))
               (i32.load (i32.add (local.get 0) (i32.const 8)))))",
        );
        assert_eq!(f.code[0], Instr::I32StoreAddI { a: 0, v: 1, i: 4 });
        assert_eq!(f.code[1], Instr::I32LoadAddI { d: 0, a: 0, i: 8 });
        assert_eq!((f.prologue, f.entry_op), (Prologue::None, f.code[0].opcode()));
        let none = crate::runtime::vmctx::InterpEntry::NO_PROLOGUE;
        assert_eq!((f.entry().prologue, f.entry().entry_op), (none, f.code[0].opcode()));
        // A frame beyond 16 bits has no entry: its calls take the loop's way.
        let locals = " v128".repeat(40_000);
        let f = translate_wat(&format!("(module (func (local{locals})))"));
        assert!(f.frame_slots > u32::from(u16::MAX), "{}", f.frame_slots);
        assert_eq!(f.entry(), crate::runtime::vmctx::InterpEntry::NONE);
        let f = translate_wat(
            "(module (func (param i32) (result i32)
               (i32.sub (i32.add (i32.add (local.get 0) (i32.const 4)) (i32.const -9)) (i32.const 1))))",
        );
        assert_eq!(f.code[0], Instr::I32AddI { d: 0, a: 0, i: -6 });
    }

    #[test]
    fn calls_and_allocations_record_where_references_are() {
        let f = translate_wat(
            r#"(module (type $s (struct))
                 (func (param anyref i32) (local eqref)
                   (ref.i31 (i32.const 1)) (call $g) (struct.new $s) (drop) (drop))
                 (func $g))"#,
        );
        assert_eq!(&*f.stack_maps.ref_locals, &[0, 2]);
        let at = |want: fn(&Instr) -> bool| f.code.iter().position(want).unwrap() as u32;
        let call = at(|i| matches!(i, Instr::Call { .. }));
        assert_eq!(f.stack_maps.temps_at(call + 1), &[3], "the i31 below the call");
        let alloc = at(|i| matches!(i, Instr::Gc { op: GcOp::StructNew, .. }));
        assert_eq!(f.stack_maps.temps_at(alloc + 2), &[3], "resumes after the Arg word");
        assert!(!f.stack_maps.conservative);
    }
}
