//! Exception handling (`try_table`, `throw`, `throw_ref`, and the legacy `try`, `catch`,
//! `catch_all`, `delegate` and `rethrow`): calls inside a `try_table` or a legacy `try`'s body
//! become `try_call`s whose exception tables the unwinder reads (`native::catch`,
//! `native::unwind`), and each catch clause gets a handler block that takes the payload out of
//! the exception object and branches to the clause's label (`try_table`) or starts the clause's
//! code (legacy `catch`).
//!
//! Scopes form a tree, as the interpreter's handlers do: an exception no clause of a scope takes
//! goes to the scope's parent, the enclosing scope, or for a legacy `try ... delegate l`, the
//! scope in force inside label `l`. A scope's depth is its distance from the root plus one, so
//! the unwinder charges the interpreter's fuel (one unit per scope examined) from the depths in
//! the catch table alone. Where a legacy `try` delegates is known only at its end, so the
//! first legacy `try` of a function makes the translator read the body ahead once
//! ([`legacy_tries`]).

use super::{
    load_slot, slot_offsets, slots, store_slot, trusted, val_type, Frame, Kind, Translator,
    Unsupported, TRAP, WASM_CONV,
};
use crate::error::TrapCode;
use crate::native::catch::{CatchKind, Entry};
use crate::native::{trap_number, unwind, TRAP_EXCEPTION};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    types, Block, BlockArg, ExceptionTableData, ExceptionTableItem, ExceptionTag, FuncRef,
    InstBuilder, SigRef, Type, Value,
};
use wasmparser::{BlockType, Catch, Operator, OperatorsReader, TryTable};

/// The offset of the in-flight exception in the store context.
const EXCEPTION: i32 =
    std::mem::offset_of!(crate::runtime::vmctx::VMStoreContext, exception) as i32;

/// Deepest `try_table` nesting the native tier compiles (deeper makes the module fall back).
const MAX_TRY_DEPTH: usize = 1_000;

/// Most exception-table items (one per enclosing catch clause, per call) one function may have:
/// every item is an edge Cranelift compiles, and a guest controls calls times clauses. A
/// function with more makes the module fall back to the interpreter.
pub(super) const MAX_HANDLER_ITEMS: usize = 1_000_000;

/// What a call is made to.
pub(super) enum Callee {
    /// A function of the module, by name.
    Direct(FuncRef),
    /// An address, with the callee's signature.
    Indirect(Value, SigRef),
}

/// One exception scope (a `try_table`, or a legacy `try`'s body).
pub(super) struct Scope {
    /// Each clause's entry (index in the function's catch entries) and handler block.
    clauses: Vec<(u32, Block)>,
    /// Where an exception none of the clauses takes goes next (`None`: the caller).
    parent: Option<usize>,
    /// 1 + the parent's depth (1 for a scope whose parent is the caller).
    depth: u32,
}

/// The shape of one legacy `try` of a function body, read ahead (see [`legacy_tries`]).
pub(super) struct LegacyTry {
    /// The module tag of each catch clause, in order (`None`: `catch_all`).
    clauses: Vec<Option<u32>>,
    /// The label of the `delegate` that ends it, if one does.
    delegate: Option<u32>,
}

/// The legacy `try`s of the function body `ops` reads, in the order they appear.
pub(super) fn legacy_tries(
    ops: OperatorsReader<'_>,
) -> Result<Vec<LegacyTry>, wasmparser::BinaryReaderError> {
    use Operator as O;
    let mut tries: Vec<LegacyTry> = Vec::new();
    // Per open construct: the index of the legacy `try` it is, if it is one.
    let mut open: Vec<Option<usize>> = Vec::new();
    for op in ops {
        match op? {
            O::Block { .. } | O::Loop { .. } | O::If { .. } | O::TryTable { .. } => open.push(None),
            O::Try { .. } => {
                open.push(Some(tries.len()));
                tries.push(LegacyTry { clauses: Vec::new(), delegate: None });
            }
            O::Catch { tag_index } => {
                if let Some(Some(t)) = open.last() {
                    tries[*t].clauses.push(Some(tag_index));
                }
            }
            O::CatchAll => {
                if let Some(Some(t)) = open.last() {
                    tries[*t].clauses.push(None);
                }
            }
            O::Delegate { relative_depth } => {
                if let Some(Some(t)) = open.pop() {
                    tries[t].delegate = Some(relative_depth);
                }
            }
            O::End => {
                open.pop();
            }
            _ => {}
        }
    }
    Ok(tries)
}

impl Translator<'_, '_> {
    /// Makes a call (a `try_call` inside a `try_table`) and returns its results.
    pub(super) fn emit_call(&mut self, callee: Callee, args: &[Value]) -> Vec<Value> {
        if self.open_scopes.is_empty() {
            let call = match callee {
                Callee::Direct(f) => self.b.ins().call(f, args),
                Callee::Indirect(addr, sig) => self.b.ins().call_indirect(sig, addr, args),
            };
            return self.b.inst_results(call).to_vec();
        }
        let sig = match callee {
            Callee::Direct(f) => self.b.func.dfg.ext_funcs[f].signature,
            Callee::Indirect(_, sig) => sig,
        };
        let returns: Vec<Type> =
            self.b.func.dfg.signatures[sig].returns.iter().map(|r| r.value_type).collect();
        let normal = self.new_block_with(&returns);
        let table = self.exception_table(sig, normal, returns.len());
        match callee {
            Callee::Direct(f) => self.b.ins().try_call(f, args, table),
            Callee::Indirect(addr, _) => self.b.ins().try_call_indirect(addr, args, table),
        };
        self.b.switch_to_block(normal);
        self.b.seal_block(normal);
        self.b.block_params(normal).to_vec()
    }

    /// The exception table of a call of signature `sig` made here, returning to `normal` with
    /// its `n` results: the caller's context, the marker of the innermost scope's depth, then
    /// the clauses of every scope an exception would examine, innermost first (see
    /// `native::catch`).
    fn exception_table(
        &mut self,
        sig: SigRef,
        normal: Block,
        n: usize,
    ) -> cranelift_codegen::ir::ExceptionTable {
        let rets: Vec<BlockArg> = (0..n as u32).map(BlockArg::TryCallRet).collect();
        let normal = self.b.func.dfg.block_call(normal, &rets);
        let inner = *self.open_scopes.last().expect("a call with handlers is inside a scope");
        let depth = self.scopes[inner].depth;
        let marker = match self.markers.get(&depth) {
            Some(e) => *e,
            None => {
                let e = self.entries.len() as u32;
                self.entries.push(Entry::Marker { depth });
                self.markers.insert(depth, e);
                e
            }
        };
        // The unwinder never resumes at a marker.
        let never = self.trap_block(trap_number(TrapCode::Unreachable));
        let never = self.b.func.dfg.block_call(never, &[]);
        let mut items = vec![
            ExceptionTableItem::Context(self.vmctx),
            ExceptionTableItem::Tag(ExceptionTag::from_u32(marker), never),
        ];
        let mut scope = Some(inner);
        while let Some(s) = scope {
            for &(entry, handler) in &self.scopes[s].clauses {
                let call = self.b.func.dfg.block_call(handler, &[BlockArg::TryCallExn(0)]);
                items.push(ExceptionTableItem::Tag(ExceptionTag::from_u32(entry), call));
            }
            scope = self.scopes[s].parent;
        }
        self.handler_items += items.len();
        self.b.func.dfg.exception_tables.push(ExceptionTableData::new(sig, normal, items))
    }

    /// `try_table`: a block whose calls get the clauses as handlers. Each clause's label is
    /// resolved outside the `try_table`, and its handler block is emitted here.
    pub(super) fn op_try_table(&mut self, tt: TryTable) -> Result<(), Unsupported> {
        self.exceptions_supported()?;
        let parent = self.open_scopes.last().copied();
        let depth = self.scope_depth(parent)?;
        let (params, results) = self.block_type(tt.ty)?;
        let mut clauses = Vec::with_capacity(tt.catches.len());
        for c in &tt.catches {
            let (kind, label) = match *c {
                Catch::One { tag, label } => (CatchKind::Tag(tag), label),
                Catch::OneRef { tag, label } => (CatchKind::TagRef(tag), label),
                Catch::All { label } => (CatchKind::All, label),
                Catch::AllRef { label } => (CatchKind::AllRef, label),
            };
            let (target, _) = self.label(label);
            clauses.push((kind, target));
        }
        // Handler blocks are emitted now, outside the body: end the current block first.
        let body = self.b.create_block();
        self.b.ins().jump(body, &[]);
        let mut scope = Vec::with_capacity(clauses.len());
        for (kind, target) in clauses {
            let handler = self.new_block_with(&[types::I64]);
            self.b.set_cold_block(handler);
            self.b.switch_to_block(handler);
            let exn = self.b.block_params(handler)[0];
            self.catch_handler(kind, exn, target)?;
            let entry = self.entries.len() as u32;
            self.entries.push(Entry::Catch { kind, depth });
            scope.push((entry, handler));
        }
        self.b.switch_to_block(body);
        self.b.seal_block(body);
        let s = self.open_scope(scope, parent, depth);
        self.push_frame(Kind::TryTable, params, results).scope = Some(s);
        Ok(())
    }

    /// The depth of a new scope whose parent is `parent` (see [`Scope`]).
    fn scope_depth(&self, parent: Option<usize>) -> Result<u32, Unsupported> {
        let depth = parent.map_or(1, |p| self.scopes[p].depth + 1);
        if depth as usize > MAX_TRY_DEPTH {
            return Err(format!("exception handlers nested more than {MAX_TRY_DEPTH} deep"));
        }
        Ok(depth)
    }

    /// Opens a scope with `clauses` (see [`Scope`]), in force from here on; returns its index.
    fn open_scope(
        &mut self,
        clauses: Vec<(u32, Block)>,
        parent: Option<usize>,
        depth: u32,
    ) -> usize {
        self.scopes.push(Scope { clauses, parent, depth });
        let s = self.scopes.len() - 1;
        self.open_scopes.push(s);
        s
    }

    /// Closes a `try_table` or a legacy `try` whose body ends without a `catch` (its `end` or
    /// `delegate`): its clauses no longer apply.
    pub(super) fn close_try_table(&mut self, f: &Frame) {
        if matches!(f.kind, Kind::TryTable | Kind::Try) {
            self.open_scopes.pop();
        }
    }

    /// A legacy `try`: a block whose calls get its clauses as handlers, whose scope's parent
    /// is the label its `delegate` names if it ends with one. Each clause's handler block is
    /// made now and filled at its `catch` ([`op_catch`](Self::op_catch)).
    pub(super) fn op_try(&mut self, bt: BlockType) -> Result<(), Unsupported> {
        self.exceptions_supported()?;
        let shape = self
            .legacy
            .as_ref()
            .and_then(|l| l.get(self.tries_seen.wrapping_sub(1)))
            .ok_or("a legacy try the read-ahead did not find")?;
        let kinds: Vec<CatchKind> =
            shape.clauses.iter().map(|t| t.map_or(CatchKind::All, CatchKind::Tag)).collect();
        let parent = match shape.delegate {
            // Labels count from the construct around the `try`.
            Some(label) => self.ctrl[self.ctrl.len() - 1 - label as usize].scope,
            None => self.open_scopes.last().copied(),
        };
        let depth = self.scope_depth(parent)?;
        let (params, results) = self.block_type(bt)?;
        let mut scope = Vec::with_capacity(kinds.len());
        let mut blocks = Vec::with_capacity(kinds.len());
        for kind in kinds {
            let handler = self.new_block_with(&[types::I64]);
            self.b.set_cold_block(handler);
            let entry = self.entries.len() as u32;
            self.entries.push(Entry::Catch { kind, depth });
            scope.push((entry, handler));
            blocks.push(handler);
        }
        blocks.reverse();
        let s = self.open_scope(scope, parent, depth);
        let f = self.push_frame(Kind::Try, params, results);
        f.scope = Some(s);
        f.clauses = blocks;
        Ok(())
    }

    /// A legacy `catch tag` (`Some`) or `catch_all`: ends the body (its scope closes) or the
    /// previous clause, then starts the clause at its handler block, with the payload as
    /// operands. The handler releases the exception unless a `rethrow` in the clause needs it.
    pub(super) fn op_catch(&mut self, tag: Option<u32>) -> Result<(), Unsupported> {
        let i = self.ctrl.len() - 1;
        if self.reachable {
            let args = self.top_args(self.ctrl[i].results.len());
            self.b.ins().jump(self.ctrl[i].end, &args);
            self.ctrl[i].end_reached = true;
        }
        if self.ctrl[i].kind == Kind::Try {
            self.open_scopes.pop();
            self.ctrl[i].kind = Kind::TryCatch;
            self.ctrl[i].scope = self.open_scopes.last().copied();
        }
        let handler = self.ctrl[i].clauses.pop().ok_or("a catch the read-ahead did not find")?;
        self.b.switch_to_block(handler);
        self.b.seal_block(handler);
        let height = self.ctrl[i].height;
        self.stack.truncate(height);
        let exn = self.b.block_params(handler)[0];
        let keep = self.iconst(types::I32, 0);
        let keep_inst = self.b.func.dfg.value_def(keep).inst().expect("an iconst");
        let payload = self.take_payload(tag, exn, keep)?;
        self.stack.extend(payload);
        self.ctrl[i].caught = Some((exn, keep_inst));
        self.reachable = true;
        self.open_checkpoint();
        Ok(())
    }

    /// `rethrow l`: unwinds again the exception the catch clause of label `l` caught, from here;
    /// that clause's handler keeps the exception (patched now: a clause without a `rethrow`
    /// releases it as soon as the payload is out, as the interpreter does).
    pub(super) fn op_rethrow(&mut self, label: u32) {
        let i = self.ctrl.len() - 1 - label as usize;
        let (exn, keep) = self.ctrl[i].caught.expect("validated: rethrow names a catch clause");
        self.b.func.replace(keep).iconst(types::I32, 1);
        self.throw_exn(exn, false);
    }

    /// The code of a catch clause's handler block, receiving exception `exn`: the payload (and
    /// the reference, for the `_ref` clauses) to the label `target`.
    fn catch_handler(
        &mut self,
        kind: CatchKind,
        exn: Value,
        target: Block,
    ) -> Result<(), Unsupported> {
        let keep = self.iconst(types::I32, unwind::keeps_ref(kind) as i64);
        let mut args: Vec<BlockArg> =
            self.take_payload(kind.tag(), exn, keep)?.into_iter().map(BlockArg::Value).collect();
        if unwind::keeps_ref(kind) {
            args.push(BlockArg::Value(exn));
        }
        self.b.ins().jump(target, &args);
        Ok(())
    }

    /// In a handler that caught exception `exn`: the payload of module tag `tag` (nothing for
    /// `None`, a `catch_all`), taken out of the object (`exn_take`, which keeps the object if
    /// `keep` is non-zero and may free it otherwise). Reloads memory 0 first: it may have
    /// grown in the frames that were left.
    fn take_payload(
        &mut self,
        tag: Option<u32>,
        exn: Value,
        keep: Value,
    ) -> Result<Vec<Value>, Unsupported> {
        self.reload_memory();
        let tys = match tag {
            Some(tag) => self.tag_params(tag)?,
            None => Vec::new(),
        };
        let (at, n) = slot_offsets(&tys);
        let buf = self.payload_area(n);
        let take = unwind::exn_take as *const () as usize;
        let sig = [types::I64, types::I64, types::I64, types::I32];
        self.libcall(take, &sig, &[], &[self.vmctx, exn, buf, keep]);
        self.check_trap();
        Ok(tys.iter().zip(at).map(|(t, at)| load_slot(&mut self.b, *t, buf, at)).collect())
    }

    /// The address of the function's payload area, made at least `n` 8-byte slots long (one
    /// area serves every `throw` and handler of the function: each uses it only between its
    /// runtime call and the loads or stores next to it); null for no slots.
    fn payload_area(&mut self, n: u32) -> Value {
        if n == 0 {
            return self.iconst(types::I64, 0);
        }
        let slot = match self.payload {
            Some(slot) => {
                let data = &mut self.b.func.sized_stack_slots[slot];
                data.size = data.size.max(8 * n);
                slot
            }
            None => {
                let slot = slots(&mut self.b, n);
                self.payload = Some(slot);
                slot
            }
        };
        self.b.ins().stack_addr(types::I64, slot, 0)
    }

    /// The native types of the payload of module tag `tag`.
    fn tag_params(&self, tag: u32) -> Result<Vec<Type>, Unsupported> {
        let ty = self.cx.module.func_type_of_type(self.cx.module.tags[tag as usize]);
        ty.params().iter().map(|t| val_type(*t)).collect()
    }

    /// `throw tag`: a new exception with the payload from the operand stack, unwound.
    pub(super) fn op_throw(&mut self, tag: u32) -> Result<(), Unsupported> {
        self.exceptions_supported()?;
        let tys = self.tag_params(tag)?;
        let values = self.stack.split_off(self.stack.len() - tys.len());
        let (at, n) = slot_offsets(&tys);
        let buf = self.payload_area(n);
        for (v, at) in values.iter().zip(at) {
            store_slot(&mut self.b, *v, buf, at);
        }
        let tag = self.iconst(types::I32, tag as i64);
        let exn = self.libcall(
            unwind::exn_new as *const () as usize,
            &[types::I64, types::I32, types::I64],
            &[types::I64],
            &[self.vmctx, tag, buf],
        )[0];
        self.check_trap();
        self.throw_exn(exn, false);
        Ok(())
    }

    /// `throw_ref`: unwinds the exception popped (a null reference traps).
    pub(super) fn op_throw_ref(&mut self) -> Result<(), Unsupported> {
        self.exceptions_supported()?;
        let exn = self.pop();
        let null = self.b.ins().icmp_imm_u(IntCC::Equal, exn, 0);
        self.trap_if(null, TrapCode::NullExceptionReference);
        self.throw_exn(exn, false);
        Ok(())
    }

    /// Unwinds exception `exn` from here (`unwind::ward_native_throw`, which never returns).
    /// `replaced`: this frame already made way for a tail call (see `check_call_out`), so
    /// leaving it costs no fuel.
    fn throw_exn(&mut self, exn: Value, replaced: bool) {
        // In the `tail` convention, so that the `try_call`'s exceptional edge clobbers every
        // register (see `native::unwind`).
        let (addr, sig) = self.libcall_callee(
            unwind::ward_native_throw as *const () as usize,
            WASM_CONV,
            &[types::I64; 3],
            &[],
        );
        let replaced = self.iconst(types::I64, replaced as i64);
        self.emit_call(Callee::Indirect(addr, sig), &[self.vmctx, exn, replaced]);
        let never = self.trap_block(trap_number(TrapCode::Unreachable));
        self.b.ins().jump(never, &[]);
        self.reachable = false;
    }

    /// After a call out of native code: if the callee let an exception through, unwinds it
    /// from here (with this call's handlers unless `tail`: a tail call has left the frame's
    /// `try_table`s, as in the interpreter). Other traps return as `check_trap` does.
    pub(super) fn check_call_out(&mut self, tail: bool) {
        if !self.cx.unwinds {
            self.check_trap();
            return;
        }
        let trap = self.b.ins().load(types::I32, trusted(), self.vs, TRAP);
        let slow = self.b.create_block();
        let next = self.b.create_block();
        self.b.set_cold_block(slow);
        self.b.ins().brif(trap, slow, &[], next, &[]);
        self.b.switch_to_block(slow);
        self.b.seal_block(slow);
        let is_exn = self.b.ins().icmp_imm_u(IntCC::Equal, trap, TRAP_EXCEPTION as i64);
        let exn_block = self.b.create_block();
        let out = self.propagate_block();
        self.b.ins().brif(is_exn, exn_block, &[], out, &[]);
        self.b.switch_to_block(exn_block);
        self.b.seal_block(exn_block);
        let zero = self.iconst(types::I32, 0);
        self.b.ins().store(trusted(), zero, self.vs, TRAP);
        let exn = self.b.ins().load(types::I64, trusted(), self.vs, EXCEPTION);
        let scopes = if tail { std::mem::take(&mut self.open_scopes) } else { Vec::new() };
        self.throw_exn(exn, tail);
        if tail {
            self.open_scopes = scopes;
        }
        self.reachable = true;
        self.b.switch_to_block(next);
        self.b.seal_block(next);
    }

    fn exceptions_supported(&self) -> Result<(), Unsupported> {
        if self.cx.unwinds {
            Ok(())
        } else {
            Err("exception handling needs the native unwinder (x86-64 Linux)".into())
        }
    }
}
