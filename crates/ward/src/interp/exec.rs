//! The execution loop.
//!
//! [`Execution`] is a suspended or running wasm call as plain data: the value stack, the frames
//! and, while a host function runs, which one. `run` executes until the call finishes, traps, or
//! reaches a host function; the generic driver in the API layer calls the host and runs again.

use super::code::{CompiledFunc, Instr, MemKind};
use super::threaded;
use crate::error::{clip, Error, FrameInfo, Result, Trap, TrapCode};
use crate::runtime::atomics::{self, AtomicOp};

/// The longest function or module name kept in a backtrace frame, in bytes.
const MAX_NAME_BYTES: usize = 1024;
use crate::runtime::vmctx::{vm_read, VMContext, VMFuncRef};
use crate::runtime::{
    ExnObject, FuncKind, GlobalCell, InstanceData, LinearMemory, StoreInner, SuspendedStack,
    TableInstance,
};

/// What stopped [`Execution::run`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The call returned; see [`Execution::results`].
    Done,
    /// A host function must be called; see [`Execution::host_slots`].
    HostCall {
        /// Index into the store's host-function table.
        host: u32,
    },
    /// The engine's epoch reached the store's deadline at a checkpoint; `run` continues after
    /// it.
    EpochDeadline,
    /// Fuel dropped below the store's yield level at a checkpoint; `run` continues after it.
    FuelYield,
}

mod gc;

pub(super) struct Frame {
    /// Store function index (for backtraces).
    pub(super) func: u32,
    pub(super) code: *const CompiledFunc,
    /// `code`'s instructions (a return reads them here, one load fewer).
    pub(super) instrs: *const Instr,
    /// Where to continue in this frame.
    pub(super) pc: u32,
    /// Frame base in the value stack (the stack never exceeds `u32::MAX` slots).
    pub(super) fp: u32,
    /// The context of the function's instance.
    pub(super) vmctx: *mut VMContext,
}

struct PendingHost {
    base: usize,
    len: usize,
    /// The store instance of the wasm function that made the call. Not always the top frame's:
    /// a tail call to a host function pops its caller's frame first.
    caller: u32,
    /// The store index of the host function.
    func: u32,
}

/// Slots a fresh value stack starts with (256 bytes); it grows on demand (doubling) up to the
/// engine's `max_wasm_stack`. A call that parks or is suspended holds its stack for as long as it
/// waits, so a small start keeps many waiting calls (nanoprocesses blocked in `receive`) cheap to
/// create and to hold; a stack that grew is kept by the engine's pool for later calls.
const INITIAL_STACK_SLOTS: usize = 32;
/// Stacks larger than this (512 KiB) are not kept for reuse, so an idle store stays small.
const MAX_SPARE_STACK_SLOTS: usize = 1 << 16;

/// A wasm call in progress.
pub(crate) struct Execution {
    /// The value stack. It grows (moves) only in `ensure_stack`, called where no raw pointer
    /// into it is live; the loop recomputes its frame pointer after every call.
    stack: Vec<u64>,
    /// The size the stack may grow to, in slots.
    max_stack: usize,
    frames: Vec<Frame>,
    host: Option<PendingHost>,
    result_slots: usize,
    max_depth: usize,
    consume_fuel: bool,
    /// Whether checkpoints compare the engine's epoch with the store's deadline.
    epochs: bool,
    /// The reference of the exception that left every frame (0: none): the trap carries it,
    /// so that native code that called this call can go on unwinding with it.
    escaped: u64,
}

// SAFETY: `code` pointers refer to translated code owned (through `Arc<ModuleInner>`) by
// instances of the store the execution runs in; the execution only dereferences them while it
// has that store exclusively borrowed.
unsafe impl Send for Execution {}

impl Execution {
    /// Prepares a call of the wasm function `func` (store index) with arguments `args` (slots).
    pub(crate) fn new(store: &mut StoreInner, func: u32, args: &[u64]) -> Result<Execution> {
        let cfg = store.engine.config();
        let (max_stack, max_depth, consume_fuel, epochs) =
            (cfg.max_stack_slots, cfg.max_call_depth, cfg.consume_fuel, cfg.epoch_interruption);
        let stack = match store.engine.inner.stack_pool.take() {
            Some(stack) => stack,
            None => vec![0u64; INITIAL_STACK_SLOTS.min(max_stack)],
        };
        let result_slots = store.funcs[func as usize].ty.result_slots() as usize;
        let mut ex = Execution {
            stack,
            max_stack,
            frames: Vec::new(),
            host: None,
            result_slots,
            max_depth,
            consume_fuel,
            epochs,
            escaped: 0,
        };
        if ex.ensure_stack(args.len().max(result_slots) + 2).is_err() {
            return Err(ex.trap(store, TrapCode::StackOverflow));
        }
        ex.stack[..args.len()].copy_from_slice(args);
        match store.funcs[func as usize].kind {
            FuncKind::Wasm { .. } => {
                if let Err(code) = ex.enter(store, func, 0) {
                    return Err(ex.trap(store, code));
                }
            }
            FuncKind::Host { .. } => {
                return Err(Error::usage("Execution::new needs a wasm function"));
            }
        }
        Ok(ex)
    }

    /// During [`Outcome::HostCall`]: the parameter slots, to be overwritten with the results.
    pub(crate) fn host_slots(&mut self) -> &mut [u64] {
        let h = self.host.as_ref().expect("host_slots outside a host call");
        &mut self.stack[h.base..h.base + h.len]
    }

    /// During [`Outcome::HostCall`] (and while parked there): the host function's store index.
    pub(crate) fn host_func(&self) -> u32 {
        self.host.as_ref().expect("host_func outside a host call").func
    }

    /// During [`Outcome::HostCall`]: the parameter slots (and beyond: the slot window).
    pub(crate) fn host_params(&self) -> &[u64] {
        let h = self.host.as_ref().expect("host_params outside a host call");
        &self.stack[h.base..h.base + h.len]
    }

    /// During [`Outcome::HostCall`]: the store instance of the wasm function that called the
    /// host function (for a tail call, the instance of the frame that made it, already popped).
    pub(crate) fn caller_instance(&self) -> Option<u32> {
        self.host.as_ref().map(|h| h.caller)
    }

    /// Attaches the current wasm backtrace to an error returned by a host function.
    pub(crate) fn host_failed(&mut self, store: &StoreInner, e: Error) -> Error {
        self.host = None;
        match e {
            Error::Trap(t) => Error::Trap(t.with_backtrace(self.backtrace(store))),
            other => other,
        }
    }

    /// After [`Outcome::Done`]: the result slots.
    pub(crate) fn results(&self) -> &[u64] {
        &self.stack[..self.result_slots]
    }

    /// Gives the value stack back to the engine for reuse (unless it grew large).
    pub(crate) fn finish(self, store: &mut StoreInner) {
        if self.stack.len() <= MAX_SPARE_STACK_SLOTS {
            store.engine.inner.stack_pool.give_back(self.stack);
        }
    }

    /// Makes the value stack at least `slots` long (doubling, up to the engine's maximum), or
    /// reports a stack overflow. Moves the stack: callers recompute raw pointers into it.
    #[cold]
    fn grow_stack(&mut self, slots: usize) -> Result<(), TrapCode> {
        if slots > self.max_stack {
            return Err(TrapCode::StackOverflow);
        }
        let new_len = slots.max(self.stack.len() * 2).min(self.max_stack);
        let extra = new_len - self.stack.len();
        self.stack.try_reserve_exact(extra).map_err(|_| TrapCode::StackOverflow)?;
        self.stack.resize(new_len, 0);
        Ok(())
    }

    #[inline]
    fn ensure_stack(&mut self, slots: usize) -> Result<(), TrapCode> {
        if slots > self.stack.len() {
            self.grow_stack(slots)?;
        }
        Ok(())
    }

    fn backtrace(&self, store: &StoreInner) -> Vec<FrameInfo> {
        let mut out = Vec::new();
        // Deep recursion can leave thousands of frames; keep the innermost ones.
        for f in self.frames.iter().rev().take(1000) {
            let FuncKind::Wasm { instance, index } = store.funcs[f.func as usize].kind else {
                continue;
            };
            let module = &store.instances[instance as usize].module;
            // SAFETY: see the `Send` impl: the code is owned by the module of a live instance.
            let code = unsafe { &*f.code };
            let offset = code.offsets.get((f.pc as usize).saturating_sub(1)).map(|o| *o as usize);
            out.push(FrameInfo {
                func_index: index,
                // Names are the guest's: keep them short (a backtrace may have 1,000 frames).
                func_name: module.func_name(index).map(|n| clip(n, MAX_NAME_BYTES)),
                module_name: module.name.as_deref().map(|n| clip(n, MAX_NAME_BYTES)),
                module: Some(module.clone()),
                offset,
            });
        }
        out
    }

    fn trap(&self, store: &StoreInner, code: TrapCode) -> Error {
        let trap = match code {
            TrapCode::UncaughtException if self.escaped != 0 => Trap::uncaught(self.escaped),
            _ => Trap::new(code),
        };
        Error::Trap(trap.with_backtrace(self.backtrace(store)))
    }

    /// Pushes a frame for wasm function `func` whose arguments are at `fp`.
    #[inline]
    fn enter(&mut self, store: &mut StoreInner, func: u32, fp: usize) -> Result<(), TrapCode> {
        if self.frames.len() >= self.max_depth {
            return Err(TrapCode::StackOverflow);
        }
        let record = store.funcs[func as usize].funcref.0;
        // SAFETY: records live as long as the store; a wasm function's has its context.
        let (code, vmctx) = unsafe { ((*record).interp_code, (*record).vmctx) };
        let code = match code.is_null() {
            false => code.cast::<CompiledFunc>(),
            true => resolve_code(store, func)?,
        };
        // SAFETY: a record's code is translated code owned by the module of a live instance of
        // this store.
        let cf = unsafe { &*code };
        self.ensure_stack(fp + cf.frame_slots as usize + 2)?;
        for &slot in cf.zeroed.iter() {
            self.stack[fp + slot as usize] = 0;
        }
        let instrs = cf.code.as_ptr();
        self.frames.push(Frame { func, code, instrs, pc: 0, fp: fp as u32, vmctx });
        Ok(())
    }

    /// Sets up a call of store function `callee` with arguments at absolute slot `base`.
    /// Returns `Some(host)` if it is a host function.
    #[inline]
    fn call(
        &mut self,
        store: &mut StoreInner,
        callee: u32,
        base: usize,
        caller: *const VMContext,
    ) -> Result<Option<u32>, TrapCode> {
        let entry = &store.funcs[callee as usize];
        match entry.kind {
            FuncKind::Wasm { .. } => {
                self.enter(store, callee, base)?;
                Ok(None)
            }
            FuncKind::Host { host } => {
                let len = entry.ty.param_slots().max(entry.ty.result_slots()) as usize;
                self.ensure_stack(base + len)?;
                // SAFETY: the caller's context is live (its frame is, or was until a tail call).
                let caller = unsafe { (*caller).header.instance };
                self.host = Some(PendingHost { base, len, caller, func: callee });
                Ok(Some(host))
            }
        }
    }

    /// Runs until the call completes, traps or needs a host function.
    pub(crate) fn run(&mut self, store: &mut StoreInner) -> Result<Outcome> {
        self.host = None;
        let r = self.run_inner(store);
        #[cfg(feature = "op-stats")]
        super::op_stats::flush();
        match r {
            Ok(o) => Ok(o),
            Err(code) => Err(self.trap(store, code)),
        }
    }

    fn run_inner(&mut self, store: &mut StoreInner) -> Result<Outcome, TrapCode> {
        // The current frame lives in these locals; `self.frames` holds every frame record, the
        // current one last (its `pc` is written back only when control leaves it).
        let Some(top) = self.frames.last() else {
            return Ok(Outcome::Done);
        };
        // SAFETY: translated code lives as long as the module of a live instance.
        let mut cf: &CompiledFunc = unsafe { &*top.code };
        let mut code = cf.code.as_ptr();
        // SAFETY: a saved pc is always inside its function's code.
        let mut ip: *const Instr = unsafe { code.add(top.pc as usize) };
        // SAFETY: `enter` checked fp + frame_slots (+2 for a v128 result) <= stack.len().
        let mut sp = unsafe { self.stack.as_mut_ptr().add(top.fp as usize) };
        let mut vmctx = top.vmctx;
        let (mut mem_base, mut mem_len) = mem0(vmctx);

        // Switches the locals to the frame now on top (after a call or a return).
        macro_rules! load_top {
            () => {{
                let Some(top) = self.frames.last() else {
                    return Ok(Outcome::Done);
                };
                // SAFETY: as above.
                cf = unsafe { &*top.code };
                code = cf.code.as_ptr();
                // SAFETY: as above.
                ip = unsafe { code.add(top.pc as usize) };
                // SAFETY: as above; the frame was checked when it was entered.
                sp = unsafe { self.stack.as_mut_ptr().add(top.fp as usize) };
                vmctx = top.vmctx;
                // A callee may have grown the memory.
                (mem_base, mem_len) = mem0(vmctx);
            }};
        }

        // The frame base (slot index of `sp` in the stack). Recomputed rather than kept in a
        // register: the loop's registers are better spent on `ip`, `sp` and memory 0.
        macro_rules! fp {
            () => {
                // SAFETY: `sp` points into the stack buffer.
                unsafe { sp.offset_from(self.stack.as_ptr()) as usize }
            };
        }
        // The current instance's data (for runtime calls), found through the context.
        macro_rules! inst {
            () => {
                instance_of(store, vmctx)
            };
        }
        /// The index of the next instruction.
        macro_rules! pc {
            () => {
                // SAFETY: `ip` always points into (or one past) the current code.
                unsafe { ip.offset_from(code) as usize }
            };
        }
        slot_access!($ sp);
        macro_rules! trap {
            ($c:expr) => {{
                self.frames.last_mut().unwrap().pc = pc!() as u32;
                return Err($c);
            }};
        }
        arg_access!($ ip);
        macro_rules! save_pc {
            () => {
                self.frames.last_mut().unwrap().pc = pc!() as u32;
            };
        }
        macro_rules! do_call {
            ($callee:expr, $args:expr) => {{
                save_pc!();
                match self.call(store, $callee, fp!() + $args as usize, vmctx) {
                    Ok(None) => {
                        load_top!();
                        continue;
                    }
                    Ok(Some(host)) => return Ok(Outcome::HostCall { host }),
                    Err(c) => return Err(c),
                }
            }};
        }
        macro_rules! do_return_call {
            ($callee:expr, $args:expr) => {{
                let callee = $callee;
                let n = store.funcs[callee as usize].ty.param_slots() as usize;
                let fp = fp!();
                self.stack.copy_within(fp + $args as usize..fp + $args as usize + n, fp);
                self.frames.pop();
                match self.call(store, callee, fp, vmctx) {
                    Ok(None) => {
                        load_top!();
                        continue;
                    }
                    Ok(Some(host)) => return Ok(Outcome::HostCall { host }),
                    Err(c) => {
                        return Err(c);
                    }
                }
            }};
        }
        macro_rules! indirect_callee {
            ($i:expr, $table:expr, $ty:expr) => {{
                // SAFETY: the translator gave the offsets of this table's pointer and of the
                // expected type id in the current context; tables live as long as the store.
                let (base, len, expected) = unsafe {
                    let t: *const TableInstance = vm_read(vmctx, $table);
                    ((*t).base, (*t).length, vm_read::<u32>(vmctx, $ty))
                };
                // An i32 index is zero-extended in its slot.
                let i = rd!($i);
                if i >= len {
                    trap!(TrapCode::UndefinedElement)
                }
                // SAFETY: i < length, and [base, base + length) are the table's elements.
                let r = unsafe { *base.add(i as usize) };
                if r == 0 {
                    trap!(TrapCode::UninitializedElement)
                }
                let record = r as usize as *const VMFuncRef;
                // SAFETY: a non-null table element is the address of a live record.
                let (type_id, callee) = unsafe { ((*record).type_id, (*record).func_index) };
                if type_id != expected && !store.funcs[callee as usize].matches(expected) {
                    trap!(TrapCode::IndirectCallTypeMismatch)
                }
                callee
            }};
        }

        let mut threaded_ctx = threaded::Ctx::new(self.max_depth);
        loop {
            // The self-contained instructions, and calls and returns between translated wasm
            // functions, run in the threaded handlers; they stop at the first instruction
            // this loop executes (or at a trap), and may have left the current frame.
            threaded_ctx.enter(vmctx, cf, &mut self.frames, &mut self.stack);
            // SAFETY: `ip` points into `code`, the code of the frame at `sp` (checked to fit the
            // stack when it was entered) and on top of `self.frames`, whose context is `vmctx`;
            // `mem_base`/`mem_len` are its memory 0 (or a length of 0).
            ip = unsafe { threaded::run(ip, sp, mem_base, mem_len, code, &mut threaded_ctx) };
            (sp, code, vmctx, mem_base, mem_len) = (
                threaded_ctx.sp,
                threaded_ctx.code,
                threaded_ctx.vmctx,
                threaded_ctx.mem_base,
                threaded_ctx.mem_len,
            );
            // SAFETY: the handlers leave the code of the frame they stopped in.
            cf = unsafe { &*threaded_ctx.cf };
            if let Some(c) = threaded_ctx.trap.take() {
                trap!(c)
            }
            // SAFETY: every code sequence ends in a return or branch, targets are in range.
            let ins: &Instr = unsafe { &*ip };
            // SAFETY: the next instruction exists (see above).
            ip = unsafe { ip.add(1) };
            #[cfg(feature = "op-stats")]
            super::op_stats::record(ins);
            match *ins {
                Instr::Arg { .. } => {}
                Instr::Check { n } => {
                    // SAFETY: every context points to its store's context, alive while the store
                    // is borrowed; the epoch and interrupt pointers to atomics the store owns.
                    let vs = unsafe { &mut *(*vmctx).header.store };
                    if self.consume_fuel {
                        if vs.fuel < n as u64 {
                            trap!(TrapCode::OutOfFuel)
                        }
                        vs.fuel -= n as u64;
                        if vs.fuel < vs.fuel_yield_level {
                            save_pc!();
                            return Ok(Outcome::FuelYield);
                        }
                    }
                    // SAFETY: as above.
                    if unsafe { &*vs.interrupt }.load(std::sync::atomic::Ordering::Relaxed) {
                        trap!(TrapCode::Interrupted)
                    }
                    if self.epochs
                        // SAFETY: as above.
                        && unsafe { &*vs.epoch }.load(std::sync::atomic::Ordering::Relaxed)
                            >= vs.epoch_deadline
                    {
                        save_pc!();
                        return Ok(Outcome::EpochDeadline);
                    }
                }
                Instr::Return => {
                    self.frames.pop();
                    {
                        load_top!();
                        continue;
                    }
                }
                Instr::ReturnFrom { s, n } => {
                    // SAFETY: `s + n` slots lie inside the frame (translator invariant).
                    unsafe { move_results_down(sp, s, n) };
                    self.frames.pop();
                    {
                        load_top!();
                        continue;
                    }
                }
                Instr::GlobalSetAddIReturn { g, a, i } => {
                    // SAFETY: `a` is a slot of the frame; `g` the context offset of a global's
                    // cell pointer (translator invariants).
                    unsafe { set_global_plus(vmctx, g, *sp.add(a as usize), i) };
                    self.frames.pop();
                    {
                        load_top!();
                        continue;
                    }
                }
                Instr::GlobalSetAddIReturnFrom { g, a, s, i } => {
                    // SAFETY: as above; `s` is a slot of the frame.
                    unsafe {
                        set_global_plus(vmctx, g, *sp.add(a as usize), i);
                        move_results_down(sp, s.into(), 1);
                    }
                    self.frames.pop();
                    {
                        load_top!();
                        continue;
                    }
                }
                Instr::Call { f, args } => {
                    // The threaded `call` enters translated callees that fit; what reaches here
                    // (a first call, a host function, a stack or frame list that must grow, the
                    // depth trap) takes the general path.
                    // SAFETY: `f` is the context offset of the callee's record pointer; records
                    // live as long as the store.
                    let callee = unsafe { (*vm_read::<*const VMFuncRef>(vmctx, f)).func_index };
                    do_call!(callee, args)
                }
                Instr::CallIndirect { args, i } => {
                    let (table, ty, _) = arg!();
                    let callee = indirect_callee!(i, table, ty);
                    do_call!(callee, args)
                }
                Instr::CallRef { args, r } => {
                    let r = rd!(r);
                    if r == 0 {
                        trap!(TrapCode::NullFunctionReference)
                    }
                    do_call!(store.func_of_raw(r), args)
                }
                Instr::ReturnCall { f, args } => {
                    // SAFETY: `f` is the context offset of the callee's record pointer.
                    let callee = unsafe { (*vm_read::<*const VMFuncRef>(vmctx, f)).func_index };
                    do_return_call!(callee, args)
                }
                Instr::ReturnCallIndirect { args, i } => {
                    let (table, ty, _) = arg!();
                    let callee = indirect_callee!(i, table, ty);
                    do_return_call!(callee, args)
                }
                Instr::ReturnCallRef { args, r } => {
                    let r = rd!(r);
                    if r == 0 {
                        trap!(TrapCode::NullFunctionReference)
                    }
                    do_return_call!(store.func_of_raw(r), args)
                }
                Instr::Throw { tag, args } => {
                    let tag = inst!().tags[tag as usize];
                    let n = store.tags[tag as usize].ty.param_slots() as usize;
                    // A copy of the frame pointer for the closure: capturing `sp` itself would
                    // take its address and keep it out of a register for the whole loop.
                    let frame = sp as *const u64;
                    // SAFETY: the payload slots lie inside the frame (translator invariant).
                    let values: Box<[u64]> =
                        (0..n).map(|k| unsafe { *frame.add(args as usize + k) }).collect();
                    save_pc!();
                    if store.exns.wants_collection() {
                        self.collect_exns(store);
                    }
                    let exn = store.exns.alloc(ExnObject::new(tag, values));
                    self.unwind(store, exn)?;
                    {
                        load_top!();
                        continue;
                    }
                }
                Instr::ThrowRef { r } => {
                    let exn = rd!(r);
                    if exn == 0 {
                        trap!(TrapCode::NullExceptionReference)
                    }
                    save_pc!();
                    self.unwind(store, exn)?;
                    {
                        load_top!();
                        continue;
                    }
                }
                Instr::MemorySize { d, m } => {
                    let mem = mem_at(inst!(), m);
                    // SAFETY: memories are boxed in the store and live as long as it.
                    wr!(d, unsafe { (*mem).pages() })
                }
                Instr::MemoryGrow { d, a, m } => {
                    let memp = mem_at(inst!(), m);
                    // SAFETY: as for MemorySize; the store is exclusively borrowed.
                    let mem = unsafe { &mut *memp };
                    let delta = if mem.ty.memory64 { rd!(a) } else { i32_!(a) as u64 };
                    let r = store.grow_memory(mem, delta).unwrap_or(u64::MAX);
                    wr!(d, if mem.ty.memory64 { r } else { r as u32 as u64 });
                    (mem_base, mem_len) = mem0(vmctx);
                }
                Instr::RefFunc { d, f } => {
                    // SAFETY: `f` is the context offset of the function's record pointer.
                    wr!(d, unsafe { vm_read::<*const VMFuncRef>(vmctx, f) } as usize as u64)
                }

                Instr::DataDrop { .. }
                | Instr::ElemDrop { .. }
                | Instr::LoadLane { .. }
                | Instr::LoadM { .. }
                | Instr::MemoryCopy { .. }
                | Instr::MemoryFill { .. }
                | Instr::MemoryInit { .. }
                | Instr::StoreLane { .. }
                | Instr::StoreM { .. }
                | Instr::TableCopy { .. }
                | Instr::TableFill { .. }
                | Instr::TableGet { .. }
                | Instr::TableGrow { .. }
                | Instr::TableInit { .. }
                | Instr::TableSet { .. }
                | Instr::TableSize { .. }
                | Instr::V128LoadExt { .. }
                | Instr::Wide { .. }
                | Instr::AtomicLoad { .. }
                | Instr::AtomicStore { .. }
                | Instr::AtomicRmw { .. }
                | Instr::AtomicCmpxchg { .. }
                | Instr::AtomicFence => match exec_cold(store, vmctx, cf, sp, ins, ip) {
                    Ok(next) => ip = next,
                    Err(c) => trap!(c),
                },
                Instr::Gc { .. }
                | Instr::RefTest { .. }
                | Instr::RefCast { .. }
                | Instr::BrOnCast { .. } => {
                    match self.exec_gc(store, vmctx, cf, code, sp, ins, ip) {
                        Ok(next) => ip = next,
                        Err(c) => trap!(c),
                    }
                }
                // Everything else runs in the threaded handlers (`threaded.rs`).
                _ => unreachable!("a threaded instruction reached the slow loop"),
            }
        }
    }

    /// Unwinds to the nearest handler of exception `exn` (a reference value). On success the top
    /// frame's pc is the handler target; otherwise every frame is popped and the exception
    /// escapes as a trap.
    ///
    /// Each frame left costs one unit of fuel, and each `try_table` examined one more; the
    /// interrupt flag is checked at every frame, so a throw through many frames is bounded like
    /// any other work.
    fn unwind(&mut self, store: &mut StoreInner, exn: u64) -> Result<(), TrapCode> {
        let tag = store.exns.get(exn).tag;
        while let Some(frame) = self.frames.last_mut() {
            // SAFETY: as in `run_inner`.
            let cf = unsafe { &*frame.code };
            let at = frame.pc.saturating_sub(1);
            let inst = instance_of(store, frame.vmctx);
            let mut cost = 1u64;
            let mut handler = cf.innermost_handler(at);
            let mut caught = None;
            'search: while let Some(h) = handler {
                cost += 1;
                let h = &cf.handlers[h as usize];
                for c in h.catches.iter() {
                    if c.tag.is_none_or(|t| inst.tags[t as usize] == tag) {
                        caught = Some(c);
                        break 'search;
                    }
                }
                handler = h.parent();
            }
            if self.consume_fuel {
                if store.vm.fuel < cost {
                    return Err(TrapCode::OutOfFuel);
                }
                store.vm.fuel -= cost;
            }
            if store.interrupt.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(TrapCode::Interrupted);
            }
            if let Some(c) = caught {
                let dst = frame.fp as usize + c.dst as usize;
                let obj = store.exns.get(exn);
                if c.tag.is_some() {
                    self.stack[dst..dst + obj.values.len()].copy_from_slice(&obj.values);
                }
                if let Some(r) = c.ref_dst {
                    self.stack[frame.fp as usize + r as usize] = exn;
                    store.exns.get_mut(exn).referenced = true;
                } else {
                    store.exns.release_if_unreferenced(exn);
                }
                frame.pc = c.target;
                return Ok(());
            }
            self.frames.pop();
        }
        self.escaped = exn;
        Err(TrapCode::UncaughtException)
    }

    /// The number of value-stack slots the frames of this call use.
    fn live_slots(&self) -> usize {
        let frames = self
            .frames
            .iter()
            // SAFETY: as in `run_inner`.
            .map(|f| f.fp as usize + unsafe { &*f.code }.frame_slots as usize)
            .max()
            .unwrap_or(0);
        let host = self.host.as_ref().map_or(0, |h| h.base + h.len);
        frames.max(host).min(self.stack.len())
    }

    /// The live part of the value stack, to be registered as a root while this call is
    /// suspended in a host function (see `StoreInner::suspended_stacks`).
    pub(crate) fn suspended_stack(&self) -> SuspendedStack {
        SuspendedStack {
            start: self.stack.as_ptr(),
            len: self.live_slots(),
            frames: self.frames.as_ptr().cast(),
            frames_len: self.frames.len(),
        }
    }

    /// Frees the exception objects nothing can reach (see `StoreInner::collect_exns`), with
    /// every slot of this call's frames as roots too.
    fn collect_exns(&self, store: &mut StoreInner) {
        store.collect_exns(&self.stack[..self.live_slots()]);
    }
}

/// Instructions kept out of the main loop: generic and lane memory accesses, bulk memory and
/// table operations, and SIMD. Keeping their code out of `run_inner` leaves the hot loop small
/// enough for its state to stay in registers.
///
/// Takes the instruction pointer by value and returns where to continue (past any `Arg` words
/// it consumed): the loop's `ip` must never have its address taken, or it would live in memory
/// instead of a register for the whole loop.
#[inline(never)]
fn exec_cold(
    store: &mut StoreInner,
    vmctx: *const VMContext,
    cf: &CompiledFunc,
    sp: *mut u64,
    ins: &Instr,
    ip: *const Instr,
) -> Result<*const Instr, TrapCode> {
    let mut next = ip;
    exec_cold_body(store, vmctx, cf, sp, ins, &mut next)?;
    Ok(next)
}

#[inline(always)]
fn exec_cold_body(
    store: &mut StoreInner,
    vmctx: *const VMContext,
    cf: &CompiledFunc,
    sp: *mut u64,
    ins: &Instr,
    ip: &mut *const Instr,
) -> Result<(), TrapCode> {
    // The instance's data, looked up only by the instructions that need it (SIMD and most
    // other cold instructions do not).
    macro_rules! inst {
        () => {
            instance_of(store, vmctx)
        };
    }
    slot_access!($ sp);
    macro_rules! trap {
        ($c:expr) => {
            return Err($c)
        };
    }
    macro_rules! arg {
        () => {{
            // SAFETY: the translator always emits the `Arg` word after its instruction.
            let a = unsafe { **ip };
            // SAFETY: as above.
            *ip = unsafe { ip.add(1) };
            match a {
                Instr::Arg { x, y, z } => (x, y, z),
                _ => unreachable!("missing Arg word"),
            }
        }};
    }
    // Bulk operations cost fuel in proportion to their length (one unit per 64 bytes or
    // elements, on top of the unit of the instruction itself), so fuel bounds their time too.
    macro_rules! charge_bulk {
        ($n:expr) => {{
            if store.engine.config().consume_fuel {
                let units = rd!($n) / 64;
                if store.vm.fuel < units {
                    trap!(TrapCode::OutOfFuel)
                }
                store.vm.fuel -= units;
            }
        }};
    }
    match *ins {
        Instr::LoadM { d, a, m } => {
            let ma = cf.memargs[m as usize];
            let mem = mem_at(inst!(), ma.mem);
            let addr = if ma.is64 { rd!(a) } else { i32_!(a) as u64 };
            match generic_load(mem, ma.kind, addr, ma.offset) {
                Some(v) => match ma.kind {
                    MemKind::V128Load => wr128!(d, v),
                    _ => wr!(d, v as u64),
                },
                None => trap!(TrapCode::MemoryOutOfBounds),
            }
        }
        Instr::StoreM { a, v, m } => {
            let ma = cf.memargs[m as usize];
            let mem = mem_at(inst!(), ma.mem);
            let addr = if ma.is64 { rd!(a) } else { i32_!(a) as u64 };
            let val = if ma.kind == MemKind::V128Store { rd128!(v) } else { rd!(v) as u128 };
            if generic_store(mem, ma.kind, addr, ma.offset, val).is_none() {
                trap!(TrapCode::MemoryOutOfBounds)
            }
        }
        Instr::V128LoadExt { d, a, m } => {
            let ma = cf.memargs[m as usize];
            let MemKind::Simd(kind) = ma.kind else { unreachable!() };
            let mem = mem_at(inst!(), ma.mem);
            let addr = if ma.is64 { rd!(a) } else { i32_!(a) as u64 };
            let w = kind.width() as u64;
            match load_bytes(mem, addr, ma.offset, w) {
                Some(b) => wr128!(d, kind.eval(&b[..w as usize])),
                None => trap!(TrapCode::MemoryOutOfBounds),
            }
        }
        Instr::LoadLane { d, a, m } => {
            let (v, _, _) = arg!();
            let ma = cf.memargs[m as usize];
            let MemKind::Lane { width, lane } = ma.kind else { unreachable!() };
            let mem = mem_at(inst!(), ma.mem);
            let addr = if ma.is64 { rd!(a) } else { i32_!(a) as u64 };
            let vec = rd128!(v);
            match load_bytes(mem, addr, ma.offset, width as u64) {
                Some(b) => {
                    let mut x = [0u8; 8];
                    x[..width as usize].copy_from_slice(&b[..width as usize]);
                    let x = u64::from_le_bytes(x) as u128;
                    let bits = width as u32 * 8;
                    let mask = if bits == 128 {
                        !0u128
                    } else {
                        ((1u128 << bits) - 1) << (lane as u32 * bits)
                    };
                    wr128!(d, (vec & !mask) | (x << (lane as u32 * bits)))
                }
                None => trap!(TrapCode::MemoryOutOfBounds),
            }
        }
        Instr::StoreLane { a, v, m } => {
            let ma = cf.memargs[m as usize];
            let MemKind::Lane { width, lane } = ma.kind else { unreachable!() };
            let mem = mem_at(inst!(), ma.mem);
            let addr = if ma.is64 { rd!(a) } else { i32_!(a) as u64 };
            let bits = width as u32 * 8;
            let x = (rd128!(v) >> (lane as u32 * bits)) as u64;
            if store_bytes(mem, addr, ma.offset, &x.to_le_bytes()[..width as usize]).is_none() {
                trap!(TrapCode::MemoryOutOfBounds)
            }
        }
        Instr::MemoryFill { d, v, n } => {
            charge_bulk!(n);
            let (m, _, _) = arg!();
            // SAFETY: memories are boxed in the store and live as long as it.
            let mem = unsafe { &*mem_at(inst!(), m) };
            let (dst, len) =
                if mem.ty.memory64 { (rd!(d), rd!(n)) } else { (i32_!(d) as u64, i32_!(n) as u64) };
            if !mem.fill_at(dst, len, rd!(v) as u8) {
                trap!(TrapCode::MemoryOutOfBounds)
            }
        }
        Instr::MemoryCopy { d, s, n } => {
            charge_bulk!(n);
            let (dm, smi, _) = arg!();
            let dmem = mem_at(inst!(), dm);
            let smem = mem_at(inst!(), smi);
            // SAFETY: as for MemoryGrow; shared reads before the exclusive write.
            let (d64, s64) = unsafe { ((*dmem).ty.memory64, (*smem).ty.memory64) };
            let dst = if d64 { rd!(d) } else { i32_!(d) as u64 };
            let src = if s64 { rd!(s) } else { i32_!(s) as u64 };
            let len = if d64 && s64 { rd!(n) } else { i32_!(n) as u64 };
            // SAFETY: both memories are live; lengths read through shared refs.
            let (dl, sl) = unsafe { ((*dmem).len(), (*smem).len()) };
            match (range_in(dl, dst, len), range_in(sl, src, len)) {
                (Some(dr), Some(sr)) => {
                    // SAFETY: both ranges are in bounds; `copy` handles overlap.
                    unsafe {
                        std::ptr::copy(
                            (*smem).base().add(sr.start),
                            (*dmem).base().add(dr.start),
                            dr.len(),
                        )
                    }
                }
                _ => trap!(TrapCode::MemoryOutOfBounds),
            }
        }
        Instr::MemoryInit { d, s, n } => {
            charge_bulk!(n);
            let (seg, m, _) = arg!();
            // SAFETY: memories are boxed in the store and live as long as it.
            let mem = unsafe { &*mem_at(inst!(), m) };
            let dst = if mem.ty.memory64 { rd!(d) } else { i32_!(d) as u64 };
            let (src, len) = (i32_!(s) as u64, i32_!(n) as u64);
            let data: &[u8] = if inst!().data_dropped[seg as usize].get() {
                &[]
            } else {
                &inst!().module.bytes[inst!().module.datas[seg as usize].range.clone()]
            };
            match range_in(data.len(), src, len) {
                Some(sr) if mem.write_at(dst, &data[sr.clone()]) => {}
                _ => trap!(TrapCode::MemoryOutOfBounds),
            }
        }
        Instr::DataDrop { seg } => {
            inst!().data_dropped[seg as usize].set(true);
        }
        Instr::TableGet { d, i, t } => {
            let tab = &store.tables[inst!().tables[t as usize] as usize];
            let i = if tab.ty.table64 { rd!(i) } else { i32_!(i) as u64 };
            match tab.elems.get(i as usize).filter(|_| i < tab.elems.len() as u64) {
                Some(v) => wr!(d, *v),
                None => trap!(TrapCode::TableOutOfBounds),
            }
        }
        Instr::TableSet { i, v, t } => {
            let ti = inst!().tables[t as usize] as usize;
            let tab = &mut store.tables[ti];
            let i = if tab.ty.table64 { rd!(i) } else { i32_!(i) as u64 };
            if i >= tab.elems.len() as u64 {
                trap!(TrapCode::TableOutOfBounds)
            }
            tab.elems[i as usize] = rd!(v);
        }
        Instr::TableSize { d, t } => {
            let tab = &store.tables[inst!().tables[t as usize] as usize];
            wr!(d, tab.elems.len() as u64)
        }
        Instr::TableGrow { d, init, n } => {
            charge_bulk!(n);
            let (t, _, _) = arg!();
            let ti = inst!().tables[t as usize] as usize;
            let is64 = store.tables[ti].ty.table64;
            let delta = if is64 { rd!(n) } else { i32_!(n) as u64 };
            let r = store.grow_table(ti, delta, rd!(init)).unwrap_or(u64::MAX);
            wr!(d, if is64 { r } else { r as u32 as u64 })
        }
        Instr::TableFill { i, v, n } => {
            charge_bulk!(n);
            let (t, _, _) = arg!();
            let ti = inst!().tables[t as usize] as usize;
            let tab = &mut store.tables[ti];
            let (i, n) =
                if tab.ty.table64 { (rd!(i), rd!(n)) } else { (i32_!(i) as u64, i32_!(n) as u64) };
            match range_in(tab.elems.len(), i, n) {
                Some(r) => tab.elems[r].fill(rd!(v)),
                None => trap!(TrapCode::TableOutOfBounds),
            }
        }
        Instr::TableCopy { d, s, n } => {
            charge_bulk!(n);
            let (dt, st, _) = arg!();
            let (dti, sti) =
                (inst!().tables[dt as usize] as usize, inst!().tables[st as usize] as usize);
            let d64 = store.tables[dti].ty.table64;
            let s64 = store.tables[sti].ty.table64;
            let dst = if d64 { rd!(d) } else { i32_!(d) as u64 };
            let src = if s64 { rd!(s) } else { i32_!(s) as u64 };
            let len = if d64 && s64 { rd!(n) } else { i32_!(n) as u64 };
            let (dl, sl) = (store.tables[dti].elems.len(), store.tables[sti].elems.len());
            match (range_in(dl, dst, len), range_in(sl, src, len)) {
                (Some(dr), Some(sr)) => {
                    if dti == sti {
                        store.tables[dti].elems.copy_within(sr, dr.start);
                    } else {
                        let tmp: Vec<u64> = store.tables[sti].elems[sr].to_vec();
                        store.tables[dti].elems[dr].copy_from_slice(&tmp);
                    }
                }
                _ => trap!(TrapCode::TableOutOfBounds),
            }
        }
        Instr::TableInit { d, s, n } => {
            charge_bulk!(n);
            let (seg, t, _) = arg!();
            let inst = inst!();
            let tab = &mut store.tables[inst.tables[t as usize] as usize];
            let dst = if tab.ty.table64 { rd!(d) } else { i32_!(d) as u64 };
            let (src, len) = (i32_!(s) as u64, i32_!(n) as u64);
            let elems = inst.elem(seg);
            match (range_in(tab.elems.len(), dst, len), range_in(elems.len(), src, len)) {
                (Some(dr), Some(sr)) => tab.elems[dr].copy_from_slice(&elems[sr]),
                _ => trap!(TrapCode::TableOutOfBounds),
            }
        }
        Instr::ElemDrop { seg } => {
            inst!().elem_dropped[seg as usize].set(true);
        }
        Instr::AtomicLoad { d, a, m } => {
            let (p, op, width) = atomic_target(inst!(), cf, m, rd!(a))?;
            // SAFETY: `atomic_target` checked bounds and alignment.
            wr!(d, unsafe { atomics::apply(p, op, width, 0, 0) })
        }
        Instr::AtomicStore { a, v, m } => {
            let (p, op, width) = atomic_target(inst!(), cf, m, rd!(a))?;
            let v = rd!(v);
            // SAFETY: as above.
            unsafe { atomics::apply(p, op, width, v, 0) };
        }
        Instr::AtomicRmw { d, a, v } => {
            let (m, _, _) = arg!();
            let (p, op, width) = atomic_target(inst!(), cf, m, rd!(a))?;
            let r = if op == AtomicOp::Notify {
                let ma = cf.memargs[m as usize];
                // SAFETY: memories are boxed in the store and live as long as it.
                match unsafe { (*mem_at(inst!(), ma.mem)).shared() } {
                    // The address is the wasm effective address, checked by `atomic_target`.
                    Some(shared) => {
                        let ea = effective(ma.is64, rd!(a)).wrapping_add(ma.offset);
                        u64::from(shared.notify(ea, i32_!(v)))
                    }
                    // Nobody can wait on an unshared memory.
                    None => 0,
                }
            } else {
                let v = rd!(v);
                // SAFETY: as above.
                unsafe { atomics::apply(p, op, width, v, 0) }
            };
            wr!(d, r)
        }
        Instr::AtomicCmpxchg { d, a, e } => {
            let (x, m, _) = arg!();
            let (p, op, width) = atomic_target(inst!(), cf, m, rd!(a))?;
            let r = if op == AtomicOp::Wait {
                let ma = cf.memargs[m as usize];
                // SAFETY: memories are boxed in the store and live as long as it.
                let Some(shared) = (unsafe { (*mem_at(inst!(), ma.mem)).shared() }) else {
                    trap!(TrapCode::ExpectedSharedMemory)
                };
                let ea = effective(ma.is64, rd!(a)).wrapping_add(ma.offset);
                // SAFETY: as above.
                let load = || unsafe { atomics::apply(p, AtomicOp::Load, width, 0, 0) };
                atomics::wait(
                    store,
                    shared,
                    ea,
                    load,
                    atomics::truncate(rd!(e), width),
                    rd!(x) as i64,
                )?
            } else {
                let (e, x) = (rd!(e), rd!(x));
                // SAFETY: as above.
                unsafe { atomics::apply(p, op, width, e, x) }
            };
            wr!(d, r)
        }
        Instr::AtomicFence => std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst),
        Instr::Wide { s, op } => {
            let mut x = [0u64; 4];
            for (k, v) in x.iter_mut().enumerate().take(op.arity()) {
                *v = rd!(s + k as u32);
            }
            let (lo, hi) = op.eval(x);
            wr!(s, lo);
            wr!(s + 1, hi);
        }
        _ => unreachable!("not a cold instruction: {ins:?}"),
    }
    Ok(())
}

/// The host address of the atomic access `memargs[m]` at wasm address `addr` (raw slot bits),
/// with its operation and width, after the bounds and alignment checks the threads proposal
/// requires.
fn atomic_target(
    inst: &InstanceData,
    cf: &CompiledFunc,
    m: u32,
    addr: u64,
) -> Result<(*mut u8, AtomicOp, u8), TrapCode> {
    let ma = cf.memargs[m as usize];
    let MemKind::Atomic { op, width } = ma.kind else { unreachable!("not an atomic memarg") };
    let addr = effective(ma.is64, addr);
    let mem = mem_at(inst, ma.mem);
    // SAFETY: memories are boxed in the store and live as long as it.
    let (base, len) = unsafe { ((*mem).base(), (*mem).len()) };
    let ea = addr.checked_add(ma.offset).ok_or(TrapCode::MemoryOutOfBounds)?;
    let range = range_in(len, ea, width as u64).ok_or(TrapCode::MemoryOutOfBounds)?;
    if ea % width as u64 != 0 {
        return Err(TrapCode::UnalignedAtomic);
    }
    // SAFETY: the range is inside the accessible bytes of the memory.
    Ok((unsafe { base.add(range.start) }, op, width))
}

/// A wasm address operand (raw slot bits) as a 64-bit address.
#[inline]
fn effective(is64: bool, addr: u64) -> u64 {
    if is64 {
        addr
    } else {
        addr as u32 as u64
    }
}

/// Translates (if needed) and caches the code of wasm function `func` (store index).
#[cold]
fn resolve_code(store: &mut StoreInner, func: u32) -> Result<*const CompiledFunc, TrapCode> {
    let FuncKind::Wasm { instance, index } = store.funcs[func as usize].kind else {
        unreachable!("resolve_code is only called for wasm functions")
    };
    let module = &store.instances[instance as usize].module;
    // Translation of validated code only fails for unsupported (GC) instructions, or when
    // interrupted.
    let code = super::compiled_code(module, index, Some(&store.interrupt)).map_err(|e| match e
        .as_trap()
        .map(|t| t.code())
    {
        Some(TrapCode::Interrupted) => TrapCode::Interrupted,
        _ => TrapCode::Unreachable,
    })?;
    let ptr = std::sync::Arc::as_ptr(&code);
    let record = store.funcs[func as usize].funcref.0.cast_mut();
    // SAFETY: a wasm function's record lives in its instance's context (writable, alive as
    // long as the store, which is exclusively borrowed); the code is owned by the module the
    // instance holds, so it outlives every use through the record.
    unsafe {
        (*record).interp_code = ptr.cast();
        (*record).interp_entry = code.entry();
    }
    Ok(ptr)
}

/// The instance data of a context.
#[inline]
fn instance_of<'s>(store: &StoreInner, vmctx: *const VMContext) -> &'s InstanceData {
    // SAFETY: contexts are owned by instances, which are boxed in the store and never removed
    // while it lives; the store outlives the running call.
    unsafe {
        debug_assert_eq!((*vmctx).header.magic, crate::runtime::vmctx::VMCTX_MAGIC);
        &*(&*store.instances[(*vmctx).header.instance as usize] as *const InstanceData)
    }
}

/// `GlobalAddI`'s work: the i32 global whose cell pointer is at context offset `g` moves by
/// `i` (wrapping); its new value is returned.
///
/// # Safety
/// As for [`set_global_plus`].
#[inline(always)]
pub(super) unsafe fn add_to_global(vmctx: *const VMContext, g: u32, i: i32) -> u32 {
    // SAFETY: the caller's contract.
    unsafe {
        let cell = vm_read::<*mut GlobalCell>(vmctx, g);
        let v = ((*cell).value as u32).wrapping_add(i as u32);
        (*cell).value = v as u128;
        v
    }
}

/// `GlobalGetAddI`'s work: the i32 global whose cell pointer is at context offset `g`, plus
/// `i` (wrapping).
///
/// # Safety
/// `vmctx` is a live context and `g` the offset of one of its i32 globals' cell pointers.
#[inline(always)]
pub(super) unsafe fn global_plus(vmctx: *const VMContext, g: u32, i: i32) -> u32 {
    // SAFETY: the caller's contract.
    unsafe { ((*vm_read::<*const GlobalCell>(vmctx, g)).value as u32).wrapping_add(i as u32) }
}

/// `GlobalSetAddI`'s work: the i32 global whose cell pointer is at context offset `g` becomes
/// `a + i` (wrapping; `a` a slot's value, zero-extended).
///
/// # Safety
/// `vmctx` is a live context and `g` the offset of one of its i32 globals' cell pointers
/// (cells are boxed in the store and live as long as it); the store is exclusively borrowed.
#[inline(always)]
pub(super) unsafe fn set_global_plus(vmctx: *const VMContext, g: u32, a: u64, i: i32) {
    let v = (a as u32).wrapping_add(i as u32);
    // SAFETY: the caller's contract.
    unsafe { (*vm_read::<*mut GlobalCell>(vmctx, g)).value = v as u128 }
}

/// `ReturnFrom`'s move: the `n` results in slots `s..` of the frame at `sp` to slots `0..`.
/// Ascending, which is correct because results move down.
///
/// # Safety
/// Slots `0..s + n` lie inside the frame.
#[inline(always)]
pub(super) unsafe fn move_results_down(sp: *mut u64, s: u32, n: u32) {
    // SAFETY: the caller's contract.
    unsafe {
        *sp = *sp.add(s as usize);
        let mut k = 1;
        while k < n as usize {
            *sp.add(k) = *sp.add(s as usize + k);
            k += 1;
        }
    }
}

/// Base and length of memory 0 of the context's instance ((null, 0) without memories).
#[inline]
pub(super) fn mem0(vmctx: *const VMContext) -> (*mut u8, usize) {
    // SAFETY: a context's memory pointers point to memories boxed in the store.
    unsafe {
        let m = (*vmctx).header.memory0;
        if m.is_null() {
            (std::ptr::null_mut(), 0)
        } else {
            ((*m).base.as_ptr(), (*m).len)
        }
    }
}

/// The length of memory 0 read afresh (a shared memory may have been grown by another thread).
#[cold]
pub(super) fn refresh_mem0_len(vmctx: *const VMContext) -> usize {
    // SAFETY: as in `mem0`; the store is exclusively borrowed by the running call.
    unsafe {
        let m = (*vmctx).header.memory0;
        if m.is_null() {
            0
        } else {
            (*m).refresh_len()
        }
    }
}

fn mem_at(inst: &InstanceData, m: u32) -> *mut LinearMemory {
    inst.vmctx.memory(m)
}

/// The byte range `[start, start+len)` if it lies within `size`.
#[inline]
fn range_in(size: usize, start: u64, len: u64) -> Option<std::ops::Range<usize>> {
    let end = start.checked_add(len)?;
    if end > size as u64 {
        return None;
    }
    Some(start as usize..end as usize)
}

/// The `n <= 16` bytes at `addr + offset`, copied (no reference to memory bytes is formed, so
/// this is the same for shared memories), or `None` if out of bounds.
fn load_bytes(
    mem: *mut crate::runtime::LinearMemory,
    addr: u64,
    offset: u64,
    n: u64,
) -> Option<[u8; 16]> {
    // SAFETY: the memory is live for the duration of the instruction.
    let mem = unsafe { &*mem };
    let mut buf = [0u8; 16];
    mem.read_at(addr.checked_add(offset)?, &mut buf[..n as usize]).then_some(buf)
}

/// Copies `bytes` to `addr + offset`, or `None` (nothing written) if out of bounds.
fn store_bytes(
    mem: *mut crate::runtime::LinearMemory,
    addr: u64,
    offset: u64,
    bytes: &[u8],
) -> Option<()> {
    // SAFETY: the memory is live for the duration of the instruction.
    let mem = unsafe { &*mem };
    mem.write_at(addr.checked_add(offset)?, bytes).then_some(())
}

fn generic_load(
    mem: *mut crate::runtime::LinearMemory,
    kind: MemKind,
    addr: u64,
    offset: u64,
) -> Option<u128> {
    let n = match kind {
        MemKind::I32Load8S | MemKind::I32Load8U | MemKind::I64Load8S | MemKind::I64Load8U => 1,
        MemKind::I32Load16S | MemKind::I32Load16U | MemKind::I64Load16S | MemKind::I64Load16U => 2,
        MemKind::I32Load | MemKind::I64Load32S | MemKind::I64Load32U => 4,
        MemKind::I64Load => 8,
        _ => 16,
    };
    let raw = u128::from_le_bytes(load_bytes(mem, addr, offset, n)?);
    Some(match kind {
        MemKind::I32Load8S => raw as u8 as i8 as i32 as u32 as u128,
        MemKind::I32Load16S => raw as u16 as i16 as i32 as u32 as u128,
        MemKind::I64Load8S => raw as u8 as i8 as i64 as u64 as u128,
        MemKind::I64Load16S => raw as u16 as i16 as i64 as u64 as u128,
        MemKind::I64Load32S => raw as u32 as i32 as i64 as u64 as u128,
        _ => raw,
    })
}

fn generic_store(
    mem: *mut crate::runtime::LinearMemory,
    kind: MemKind,
    addr: u64,
    offset: u64,
    v: u128,
) -> Option<()> {
    let n = match kind {
        MemKind::I32Store8 => 1,
        MemKind::I32Store16 => 2,
        MemKind::I32Store | MemKind::I64Store32 => 4,
        MemKind::I64Store => 8,
        _ => 16,
    };
    store_bytes(mem, addr, offset, &v.to_le_bytes()[..n as usize])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Engine, Func, Instance, Linker, Module, Store};

    /// A call uses a small value stack that grows as deep recursion needs it, up to the
    /// engine's maximum; the store keeps only small stacks for reuse.
    #[test]
    fn value_stacks_start_small_and_grow_on_demand() {
        let engine = Engine::default();
        let module = Module::new(&engine, module_text_of_rec()).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let rec = instance.get_typed_func::<i32, i32>(&mut store, "rec").unwrap();
        assert_eq!(rec.call(&mut store, 3).unwrap(), 3);
        let kept = |store: &Store<()>| store.inner.engine.inner.stack_pool.take();
        let stack = kept(&store).expect("the stack went back to the engine's pool");
        assert_eq!(stack.len(), INITIAL_STACK_SLOTS);
        // 15,000 frames of a few slots each need far more than the initial stack.
        assert_eq!(rec.call(&mut store, 15_000).unwrap(), 15_000);
        assert!(kept(&store).is_none_or(|s| s.len() <= MAX_SPARE_STACK_SLOTS));

        let mut config = crate::Config::new();
        config.max_wasm_stack(64 * 1024);
        let engine = Engine::new(&config);
        let module = Module::new(&engine, module_text_of_rec()).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let rec = instance.get_typed_func::<i32, i32>(&mut store, "rec").unwrap();
        let e = rec.call(&mut store, 15_000).unwrap_err();
        assert_eq!(e.as_trap().unwrap().code(), TrapCode::StackOverflow);
    }

    fn module_text_of_rec() -> &'static str {
        r#"(module
             (func $rec (export "rec") (param i32) (result i32)
               (if (result i32) (local.get 0)
                 (then (i32.add (i32.const 1)
                         (call $rec (i32.sub (local.get 0) (i32.const 1)))))
                 (else (i32.const 0)))))"#
    }

    /// A call that reaches host functions is suspended as plain data and resumed later: the
    /// driver here plays the host by hand, between `run` calls.
    #[test]
    fn execution_suspends_at_host_calls_and_resumes() {
        let engine = Engine::default();
        let module = Module::new(
            &engine,
            r#"(module
                 (import "h" "f" (func $f (param i32) (result i32)))
                 (func (export "g") (param i32) (result i32)
                   (call $f (i32.add (call $f (local.get 0)) (i32.const 1)))))"#,
        )
        .unwrap();
        let mut store = Store::new(&engine, ());
        let f = Func::wrap(&mut store, |x: i32| x);
        let mut linker = Linker::new(&engine);
        linker.define(&store, "h", "f", f).unwrap();
        let instance = linker.instantiate(&mut store, &module).unwrap();
        let g = instance.get_func(&store, "g").unwrap();

        let mut ex = Execution::new(&mut store.inner, g.index, &[10]).unwrap();
        // First host call: argument 10; answer 100 instead of running the closure.
        assert!(matches!(ex.run(&mut store.inner).unwrap(), Outcome::HostCall { .. }));
        assert_eq!(ex.host_slots()[0], 10);
        ex.host_slots()[0] = 100;
        // The suspended execution can move to another thread and come back.
        let mut ex = std::thread::spawn(move || ex).join().unwrap();
        assert!(matches!(ex.run(&mut store.inner).unwrap(), Outcome::HostCall { .. }));
        assert_eq!(ex.host_slots()[0], 101);
        ex.host_slots()[0] = 7;
        assert_eq!(ex.run(&mut store.inner).unwrap(), Outcome::Done);
        assert_eq!(ex.results(), &[7]);
        ex.finish(&mut store.inner);
    }

    /// Legacy exception handling: a `delegate` to a plain block skips the handlers in between,
    /// one to a `try` in its catch clause goes further out, `rethrow` of an outer clause's
    /// exception, and a catch in a loop under fuel.
    #[test]
    fn legacy_try_catch_delegate_and_rethrow() {
        let mut config = crate::Config::new();
        config.consume_fuel(true);
        let engine = Engine::new(&config);
        let module = Module::new(
            &engine,
            r#"(module
              (tag $e (param i32))
              (func $thr (param i32) (local.get 0) (throw $e))
              (func (export "to-block") (result i32)
                try (result i32)
                  block $b (result i32)
                    try (result i32)
                      try (result i32) i32.const 3 call $thr i32.const 0 delegate $b
                    catch $e drop i32.const 55
                    end
                  end
                catch $e
                end)
              (func (export "to-clause") (result i32)
                try (result i32)
                  try $t (result i32)
                    i32.const 1 call $thr i32.const 0
                  catch $e
                    drop
                    try (result i32) i32.const 2 call $thr i32.const 0 delegate $t
                  end
                catch $e i32.const 10 i32.add
                end)
              (func (export "rethrow-outer") (result i32)
                try (result i32)
                  try (result i32)
                    i32.const 7 call $thr i32.const 0
                  catch_all
                    try (result i32) i32.const 8 call $thr i32.const 0
                    catch $e drop rethrow 1
                    end
                  end
                catch $e
                end)
              (func (export "loop") (param i32) (result i32) (local i32)
                block $done
                  loop $l
                    local.get 0 i32.eqz br_if $done
                    try local.get 0 call $thr
                    catch $e local.get 1 i32.add local.set 1
                    end
                    local.get 0 i32.const 1 i32.sub local.set 0
                    br $l
                  end
                end
                local.get 1))"#,
        )
        .unwrap();
        let mut store = Store::new(&engine, ());
        store.set_fuel(1_000_000).unwrap();
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        for (name, want) in [("to-block", 3), ("to-clause", 12), ("rethrow-outer", 7)] {
            let f = instance.get_typed_func::<(), i32>(&store, name).unwrap();
            assert_eq!(f.call(&mut store, ()).unwrap(), want, "{name}");
        }
        let f = instance.get_typed_func::<i32, i32>(&store, "loop").unwrap();
        assert_eq!(f.call(&mut store, 100).unwrap(), 5050);
        // Unwinding is charged: a small budget runs out in the loop.
        store.set_fuel(500).unwrap();
        let e = f.call(&mut store, 100).unwrap_err();
        assert_eq!(e.as_trap().unwrap().code(), TrapCode::OutOfFuel);
    }

    /// Atomics on shared and unshared memories: read-modify-write and compare-exchange results,
    /// the alignment trap, `wait` on an unshared memory, a timed `wait` that times out after
    /// its timeout, `notify` with nobody waiting, and an infinite `wait` ended by interruption.
    #[test]
    fn atomics_single_threaded() {
        let engine = Engine::default();
        let module = Module::new(
            &engine,
            r#"(module
              (memory $s 1 1 shared)
              (memory $u 1)
              (func (export "rmw") (result i64)
                (drop (i32.atomic.rmw.add $s (i32.const 8) (i32.const 5)))
                (drop (i32.atomic.rmw8.sub_u $s (i32.const 8) (i32.const 7)))
                (drop (i64.atomic.rmw32.cmpxchg_u $u (i32.const 0) (i64.const 0) (i64.const 9)))
                (i64.add (i64.atomic.load32_u $s (i32.const 8)) (i64.atomic.load $u (i32.const 0))))
              (func (export "unaligned") (result i32) (i32.atomic.load $u (i32.const 2)))
              (func (export "wait-unshared") (result i32)
                (memory.atomic.wait32 $u (i32.const 0) (i32.const 0) (i64.const 0)))
              (func (export "wait") (param i64) (result i32)
                (memory.atomic.wait64 $s (i32.const 16) (i64.const 0) (local.get 0)))
              (func (export "notify") (result i32)
                (memory.atomic.notify $s (i32.const 16) (i32.const 3))))"#,
        )
        .unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let rmw = instance.get_typed_func::<(), i64>(&store, "rmw").unwrap();
        // 5 - 7 in the low byte wraps to 0xfe; the unshared memory's word became 9.
        assert_eq!(rmw.call(&mut store, ()).unwrap(), 0xfe + 9);
        let code = |r: Result<i32>| r.unwrap_err().as_trap().unwrap().code();
        let unaligned = instance.get_typed_func::<(), i32>(&store, "unaligned").unwrap();
        assert_eq!(code(unaligned.call(&mut store, ())), TrapCode::UnalignedAtomic);
        let wait_u = instance.get_typed_func::<(), i32>(&store, "wait-unshared").unwrap();
        assert_eq!(code(wait_u.call(&mut store, ())), TrapCode::ExpectedSharedMemory);
        let wait = instance.get_typed_func::<i64, i32>(&store, "wait").unwrap();
        let start = std::time::Instant::now();
        assert_eq!(wait.call(&mut store, 20_000_000).unwrap(), 2, "timed-out");
        assert!(start.elapsed() >= std::time::Duration::from_millis(20));
        let notify = instance.get_typed_func::<(), i32>(&store, "notify").unwrap();
        assert_eq!(notify.call(&mut store, ()).unwrap(), 0);
        let handle = store.interrupt_handle();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(30));
            handle.interrupt();
        });
        assert_eq!(code(wait.call(&mut store, -1)), TrapCode::Interrupted);
        t.join().unwrap();
    }

    #[test]
    fn unbounded_recursion_is_a_clean_trap() {
        let engine = Engine::default();
        let module = Module::new(&engine, r#"(module (func $r (export "r") (call $r)))"#).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Linker::new(&engine).instantiate(&mut store, &module).unwrap();
        let r = instance.get_typed_func::<(), ()>(&store, "r").unwrap();
        let err = r.call(&mut store, ()).unwrap_err();
        let trap = err.as_trap().expect("a trap");
        assert_eq!(trap.code(), TrapCode::StackOverflow);
        assert!(!trap.backtrace().is_empty());
    }
}
