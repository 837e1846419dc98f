//! Threaded dispatch: every self-contained instruction has a handler function of its own.
//!
//! A handler executes one instruction and then looks up the next instruction's handler in
//! [`HANDLERS`] by its opcode and calls it in tail position (a taken jump reads its target's
//! handler from the jump itself, [`link_jumps`]). With optimisation (the
//! `ward_tail_dispatch` configuration, set by `build.rs` for optimised builds on x86-64 and
//! AArch64 outside Windows) the compiler turns each such call into a jump, so every handler
//! ends in an indirect jump of its own, which the branch predictor learns per handler, and the
//! interpreter state (`ip`, the frame pointer `sp`, memory 0's base and length, the code base)
//! stays in argument registers. Without it the handlers return the next instruction and
//! [`run`] loops, so unoptimised builds never grow the native stack.
//!
//! "Self-contained" means the instruction only reads and writes frame slots, memory 0,
//! globals and the current function's tables, and jumps inside the function. Everything else
//! (calls, returns, host functions, fuel checkpoints, tables, bulk memory, GC, exceptions, ...)
//! reaches [`exit`], which stops the chain with `ip` at that instruction; the loop in
//! `exec.rs` executes it and enters the chain again. A trap also stops the chain: the code is
//! left in [`Ctx::trap`] and `ip` points after the trapping instruction, as the loop's own
//! traps do.

use super::code::{cmp, CompiledFunc, Instr, OPCODES};
use super::exec::{
    add_to_global, global_plus, mem0, move_results_down, refresh_mem0_len, set_global_plus, Frame,
};
use super::num;
use crate::error::TrapCode;
use crate::runtime::simd::{self, SimdBinary};
use crate::runtime::vmctx::{vm_read, InterpEntry, VMContext, VMFuncRef};
use crate::runtime::{GlobalCell, TableInstance};

/// What the handlers share with the loop beyond their register arguments.
pub(super) struct Ctx {
    /// The current function's context (for globals and memory 0's length).
    pub(super) vmctx: *mut VMContext,
    /// The current function's code (for `br_table` targets and v128 constants).
    pub(super) cf: *const CompiledFunc,
    /// Where the chain stopped: the frame pointer, the code of the current function, and
    /// memory 0 (a handler reloads the length when a shared memory may have grown; a call or
    /// return between instances switches memories).
    pub(super) sp: *mut u64,
    pub(super) code: *const Instr,
    pub(super) mem_base: *mut u8,
    pub(super) mem_len: usize,
    /// Set when a handler trapped.
    pub(super) trap: Option<TrapCode>,
    /// The execution's frame records (the current one last); while the handlers run, its
    /// length is stale and `top` is the current record ([`run`] writes the length back).
    frames: *mut Vec<Frame>,
    /// The first record and the current one.
    bottom: *mut Frame,
    top: *mut Frame,
    /// One past the last record the handlers may write: at the depth limit, or before, when
    /// the list must grow first (which the loop does), so that a call checks one bound.
    frames_end: *mut Frame,
    stack: *mut u64,
    /// One past the value stack's last slot.
    stack_end: *mut u64,
    max_depth: usize,
    /// Set by [`exit`] (only the looping dispatch needs to be told).
    #[cfg(not(ward_tail_dispatch))]
    exit: bool,
}

impl Ctx {
    /// A context for an execution with call depth limit `max_depth`; [`Ctx::enter`] points it
    /// at the loop's state before each run.
    pub(super) fn new(max_depth: usize) -> Ctx {
        Ctx {
            vmctx: std::ptr::null_mut(),
            cf: std::ptr::null(),
            sp: std::ptr::null_mut(),
            code: std::ptr::null(),
            mem_base: std::ptr::null_mut(),
            mem_len: 0,
            trap: None,
            frames: std::ptr::null_mut(),
            bottom: std::ptr::null_mut(),
            top: std::ptr::null_mut(),
            frames_end: std::ptr::null_mut(),
            stack: std::ptr::null_mut(),
            stack_end: std::ptr::null_mut(),
            max_depth,
            #[cfg(not(ward_tail_dispatch))]
            exit: false,
        }
    }

    /// Points the context at the loop's current state before [`run`]. The value stack may
    /// have moved since the last run (it grows in the loop only).
    pub(super) fn enter(
        &mut self,
        vmctx: *mut VMContext,
        cf: *const CompiledFunc,
        frames: &mut Vec<Frame>,
        stack: &mut [u64],
    ) {
        self.vmctx = vmctx;
        self.cf = cf;
        assert!(!frames.is_empty(), "the handlers run in a frame");
        let room = self.max_depth.min(frames.capacity());
        let bottom = frames.as_mut_ptr();
        // SAFETY: `len - 1` and `room` are at most the capacity: inside or one past the list's
        // allocation.
        unsafe {
            self.top = bottom.add(frames.len() - 1);
            self.frames_end = bottom.add(room);
        }
        self.bottom = bottom;
        self.frames = frames;
        self.stack = stack.as_mut_ptr();
        self.stack_end = stack.as_mut_ptr_range().end;
    }
}

/// A handler: `(ip, sp, mem_base, mem_len, code, ctx)` → where the chain stopped.
type Handler =
    unsafe fn(*const Instr, *mut u64, *mut u8, usize, *const Instr, *mut Ctx) -> *const Instr;

/// Runs handlers from `ip` until one reaches an instruction they do not handle (returned) or
/// traps (`ctx.trap`, returned `ip` after the trapping instruction). `ctx.mem_len` is then
/// memory 0's length as the handlers last knew it.
///
/// # Safety
/// `ip` points into `code`, the translated code of the function whose frame starts at `sp`
/// (checked to fit the value stack), whose context is `ctx.vmctx` and whose `CompiledFunc` is
/// `ctx.cf`; `[mem_base, mem_base + mem_len)` is memory 0 of that context, or `mem_len` is 0.
pub(super) unsafe fn run(
    ip: *const Instr,
    sp: *mut u64,
    mem_base: *mut u8,
    mem_len: usize,
    code: *const Instr,
    ctx: &mut Ctx,
) -> *const Instr {
    let stopped;
    #[cfg(ward_tail_dispatch)]
    {
        // SAFETY: the caller's contract is each handler's contract.
        stopped = unsafe { handler_of(ip)(ip, sp, mem_base, mem_len, code, ctx) };
    }
    #[cfg(not(ward_tail_dispatch))]
    {
        ctx.exit = false;
        (ctx.sp, ctx.mem_base, ctx.mem_len, ctx.code) = (sp, mem_base, mem_len, code);
        let mut ip = ip;
        let ctx: *mut Ctx = ctx;
        stopped = loop {
            // SAFETY: as above; a handler that continues leaves the state of the instruction
            // `ip` in `ctx`.
            unsafe {
                let c = &*ctx;
                ip = handler_of(ip)(ip, c.sp, c.mem_base, c.mem_len, c.code, ctx);
                if (*ctx).exit {
                    break ip;
                }
            }
        };
    }
    // The handlers kept the frame list's length in `ctx.top`.
    // SAFETY: they kept `top` at the current record, with every record up to it written,
    // within the capacity.
    unsafe {
        let len = ctx.top.offset_from(ctx.bottom) as usize + 1;
        (*ctx.frames).set_len(len);
    }
    stopped
}

/// Continues with the handler of the instruction at `$ip`, with the state given: a call in
/// tail position (a jump once optimised), or, for the looping dispatch, a return to it.
macro_rules! tail {
    ($ip:ident, $sp:ident, $mem_base:ident, $mem_len:ident, $code:ident, $ctx:ident) => {{
        #[cfg(ward_tail_dispatch)]
        // SAFETY: `$ip` is an instruction of the function whose frame is at `$sp`, whose code
        // is `$code`, and whose context and code record `$ctx` holds; `$mem_base`/`$mem_len`
        // are that context's memory 0. That is the contract of `run`.
        return unsafe { handler_of($ip)($ip, $sp, $mem_base, $mem_len, $code, $ctx) };
        #[cfg(not(ward_tail_dispatch))]
        {
            // SAFETY: `$ctx` is the live context `run` was given.
            unsafe {
                (*$ctx).sp = $sp;
                (*$ctx).mem_base = $mem_base;
                (*$ctx).mem_len = $mem_len;
                (*$ctx).code = $code;
            }
            return $ip;
        }
    }};
}

/// As [`tail`], with the handler of the instruction at `$ip` given.
macro_rules! tail_to {
    ($handler:ident, $ip:ident, $sp:ident, $mem_base:ident, $mem_len:ident, $code:ident, $ctx:ident) => {{
        #[cfg(ward_tail_dispatch)]
        // SAFETY: as for `tail`, `$handler` being the handler of the instruction at `$ip`.
        return unsafe { $handler($ip, $sp, $mem_base, $mem_len, $code, $ctx) };
        #[cfg(not(ward_tail_dispatch))]
        {
            let _ = $handler;
            tail!($ip, $sp, $mem_base, $mem_len, $code, $ctx)
        }
    }};
}

/// The handler of the instruction at `ip`.
#[inline(always)]
unsafe fn handler_of(ip: *const Instr) -> Handler {
    // SAFETY: `ip` points to an instruction (caller).
    unsafe { handler_for((*ip).opcode()) }
}

/// The handler of opcode `op`.
///
/// # Safety
/// `op` is an instruction's opcode.
#[inline(always)]
unsafe fn handler_for(op: u16) -> Handler {
    // SAFETY: every opcode, `Instr::OpcodeCount` included, is below `OPCODES + 1`, the table's
    // length.
    unsafe { *HANDLERS.get_unchecked(op as usize) }
}

/// Stops the chain at `ip`, leaving the state in `ctx` for the loop.
unsafe fn exit(
    ip: *const Instr,
    sp: *mut u64,
    mem_base: *mut u8,
    mem_len: usize,
    code: *const Instr,
    ctx: *mut Ctx,
) -> *const Instr {
    // SAFETY: `ctx` is the live context `run` was given.
    unsafe {
        (*ctx).sp = sp;
        (*ctx).mem_base = mem_base;
        (*ctx).mem_len = mem_len;
        (*ctx).code = code;
        #[cfg(not(ward_tail_dispatch))]
        {
            (*ctx).exit = true;
        }
    }
    ip
}

/// `call` of a wasm function whose code is translated, when its frame fits the value stack
/// and the depth limit: pushes its frame record and continues in it. Everything else (a host
/// function, a first call, a stack that must grow, the depth trap) is left to the loop.
unsafe fn call(
    ip: *const Instr,
    sp: *mut u64,
    mem_base: *mut u8,
    mem_len: usize,
    code: *const Instr,
    ctx: *mut Ctx,
) -> *const Instr {
    // SAFETY: `ip` is a `Call` (this handler's table entry) of the current function; `ctx` is
    // the live context `run` was given.
    unsafe {
        let Instr::Call { f, args } = *ip else { std::hint::unreachable_unchecked() };
        // `f` is the context offset of the callee's record pointer; records live as long as
        // the store.
        let record: *const VMFuncRef = vm_read((*ctx).vmctx, f);
        enter(ip, 1, record, args, sp, mem_base, mem_len, code, ctx)
    }
}

/// `call_indirect` whose table element is in range, not null and of exactly the expected type
/// id, then as [`call`]. Everything else (traps, a subtype check, which needs the store) is left
/// to the loop.
unsafe fn call_indirect(
    ip: *const Instr,
    sp: *mut u64,
    mem_base: *mut u8,
    mem_len: usize,
    code: *const Instr,
    ctx: *mut Ctx,
) -> *const Instr {
    // SAFETY: `ip` is a `CallIndirect` (this handler's table entry) followed by its `Arg`
    // word; the translator gave the context offsets of the table's pointer and of the expected
    // type id; tables live as long as the store and `[base, base + length)` are their
    // elements, each null or the address of a live record.
    unsafe {
        let Instr::CallIndirect { args, i } = *ip else { std::hint::unreachable_unchecked() };
        let Instr::Arg { x: table, y: ty, .. } = *ip.add(1) else {
            std::hint::unreachable_unchecked()
        };
        let vmctx = (*ctx).vmctx;
        let t: *const TableInstance = vm_read(vmctx, table);
        // An i32 index is zero-extended in its slot.
        let index = *sp.add(i as usize);
        if index >= (*t).length {
            return exit(ip, sp, mem_base, mem_len, code, ctx);
        }
        let record = *(*t).base.add(index as usize) as usize as *const VMFuncRef;
        if record.is_null() || (*record).type_id != vm_read::<u32>(vmctx, ty) {
            return exit(ip, sp, mem_base, mem_len, code, ctx);
        }
        enter(ip, 2, record, args, sp, mem_base, mem_len, code, ctx)
    }
}

/// Enters the wasm function of `record` from the call at `ip` (`words` long, with its `Arg`),
/// its arguments at slot `args`, or leaves the call to the loop (see [`call`]).
///
/// # Safety
/// `record` is a live function record; `ctx` is the live context `run` was given, its `frames`
/// the execution's frame records with the current frame on top, `stack..stack_end` the
/// value stack holding `sp`; the rest as for a handler.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn enter(
    ip: *const Instr,
    words: usize,
    record: *const VMFuncRef,
    args: u32,
    sp: *mut u64,
    mem_base: *mut u8,
    mem_len: usize,
    code: *const Instr,
    ctx: *mut Ctx,
) -> *const Instr {
    // SAFETY: the caller's contract.
    let (ip, sp, mem_base, mem_len, code, entry_op) = unsafe {
        let c = &mut *ctx;
        // The record's copy of what the call needs of the callee's code (`CompiledFunc::entry`),
        // so that nothing waits for the code's own record: one cache line, then the code. Read
        // field by field where needed (a copy of the whole entry up front would keep it in
        // registers across the frame's set-up, and spill).
        let e: *const InterpEntry = &raw const (*record).interp_entry;
        if (*e).instrs.is_null() {
            return exit(ip, sp, mem_base, mem_len, code, ctx);
        }
        let top = c.top;
        let nsp = sp.add(args as usize);
        // A full frame list is grown by the loop, so this handler never calls out (and keeps
        // its state in scratch registers). `nsp` is a slot of the caller's frame, which fits
        // the stack, so it is at most `stack_end`.
        if top.add(1) >= c.frames_end
            || (c.stack_end.offset_from(nsp) as usize) < usize::from((*e).frame_slots) + 2
        {
            return exit(ip, sp, mem_base, mem_len, code, ctx);
        }
        let (callee, ncode, nvmctx) =
            ((*record).func_index, (*record).interp_code, (*record).vmctx);
        // The entry is set together with the code (`resolve_code`), which is live translated
        // code.
        let ncode = ncode.cast::<CompiledFunc>();
        let nfp = nsp.offset_from(c.stack) as usize;
        // Counted here, where the handler commits (a call left to the loop is counted there).
        #[cfg(feature = "op-stats")]
        super::op_stats::record(&*ip);
        // The frame records first and the callee's zeroed slots last, so that little is live
        // across the zeroing loop.
        // `top` is the current frame (the one making this call).
        (*top).pc = ip.add(words).offset_from(code) as u32;
        // Below the list's end (checked above): written in place rather than by `push`, whose
        // grow path (dead here) would make this handler save registers and keep a stack frame.
        let code = (*e).instrs.cast::<Instr>();
        let top = top.add(1);
        top.write(Frame {
            func: callee,
            code: ncode,
            instrs: code,
            pc: 0,
            fp: nfp as u32,
            vmctx: nvmctx,
        });
        c.top = top;
        c.cf = ncode;
        let (mem_base, mem_len) = if nvmctx != c.vmctx {
            c.vmctx = nvmctx;
            mem0(nvmctx)
        } else {
            (mem_base, mem_len)
        };
        if (*e).zeroes {
            // Checked just above that the callee frame fits the stack.
            for &slot in (*ncode).zeroed.iter() {
                *nsp.add(slot as usize) = 0;
            }
        }
        // The shadow-stack prologue most compiled functions start with runs here, which spares
        // its dispatch (a jump whose target is whatever the callee starts with). The function's
        // code keeps it: the loop and branches back to the start still run it there.
        // `prologue_g` is the context offset of an i32 global's cell pointer in the callee's
        // context (translator); the store is exclusively borrowed; `prologue_d` is a slot of
        // the new frame.
        let entry = match (*e).prologue {
            InterpEntry::NO_PROLOGUE => code,
            kind => {
                let (g, i) = ((*e).prologue_g, (*e).prologue_i);
                let value = match kind {
                    InterpEntry::GLOBAL_ADD => add_to_global(nvmctx, g, i),
                    _ => global_plus(nvmctx, g, i),
                };
                #[cfg(feature = "op-stats")]
                super::op_stats::record(&*code);
                *nsp.add(usize::from((*e).prologue_d)) = u64::from(value);
                code.add(1)
            }
        };
        (entry, nsp, mem_base, mem_len, code, (*e).entry_op)
    };
    // SAFETY: `entry_op` is the opcode of the instruction at `ip` (translator).
    let handler = unsafe { handler_for(entry_op) };
    tail_to!(handler, ip, sp, mem_base, mem_len, code, ctx)
}

/// `ReturnFrom`: moves the results down to slot 0, then returns as [`ret`].
unsafe fn ret_from(
    ip: *const Instr,
    sp: *mut u64,
    mem_base: *mut u8,
    mem_len: usize,
    code: *const Instr,
    ctx: *mut Ctx,
) -> *const Instr {
    // SAFETY: as for `call`; `s + n` slots lie inside the frame (translator invariant). Not
    // for the outermost frame, which `ret` hands to the loop to run the whole instruction.
    unsafe {
        if (*ctx).top != (*ctx).bottom {
            let Instr::ReturnFrom { s, n } = *ip else { std::hint::unreachable_unchecked() };
            move_results_down(sp, s, n);
        }
        ret(ip, sp, mem_base, mem_len, code, ctx)
    }
}

/// `GlobalSetAddIReturn` (an epilogue's stack pointer, then `return`): sets the global, then
/// returns as [`ret`]. For the outermost frame the loop runs the whole instruction again,
/// which sets the global to the same value.
unsafe fn global_set_add_ret(
    ip: *const Instr,
    sp: *mut u64,
    mem_base: *mut u8,
    mem_len: usize,
    code: *const Instr,
    ctx: *mut Ctx,
) -> *const Instr {
    // SAFETY: as for `call`; the translator gave a slot of the frame and the context offset
    // of an i32 global's cell pointer.
    unsafe {
        let Instr::GlobalSetAddIReturn { g, a, i } = *ip else {
            std::hint::unreachable_unchecked()
        };
        set_global_plus((*ctx).vmctx, g, *sp.add(a as usize), i);
        ret(ip, sp, mem_base, mem_len, code, ctx)
    }
}

/// `GlobalSetAddIReturnFrom`: as [`global_set_add_ret`], moving the result in slot `s` to
/// slot 0 first (as [`ret_from`]: not for the outermost frame).
unsafe fn global_set_add_ret_from(
    ip: *const Instr,
    sp: *mut u64,
    mem_base: *mut u8,
    mem_len: usize,
    code: *const Instr,
    ctx: *mut Ctx,
) -> *const Instr {
    // SAFETY: as for `global_set_add_ret`; `s` is a slot of the frame.
    unsafe {
        let Instr::GlobalSetAddIReturnFrom { g, a, s, i } = *ip else {
            std::hint::unreachable_unchecked()
        };
        set_global_plus((*ctx).vmctx, g, *sp.add(a as usize), i);
        if (*ctx).top != (*ctx).bottom {
            move_results_down(sp, s.into(), 1);
        }
        ret(ip, sp, mem_base, mem_len, code, ctx)
    }
}

/// `return`: leaves the current frame for its caller's, unless it is the execution's
/// outermost frame: the loop finishes the call.
///
/// # Safety
/// As for [`call`].
#[inline(always)]
unsafe fn ret(
    ip: *const Instr,
    sp: *mut u64,
    mem_base: *mut u8,
    mem_len: usize,
    code: *const Instr,
    ctx: *mut Ctx,
) -> *const Instr {
    // SAFETY: the caller's contract.
    let (ip, sp, mem_base, mem_len, code) = unsafe {
        if (*ctx).top == (*ctx).bottom {
            return exit(ip, sp, mem_base, mem_len, code, ctx);
        }
        // `Return` or `ReturnFrom`, counted where the handler commits (as for calls).
        #[cfg(feature = "op-stats")]
        super::op_stats::record(&*ip);
        pop_frame(ctx, mem_base, mem_len)
    };
    tail!(ip, sp, mem_base, mem_len, code, ctx)
}

/// Pops the current frame record and gives the state of the frame below (at least one is
/// left): where it continues, its frame pointer, memory 0 of its context and its code.
///
/// # Safety
/// As for [`call`], with at least two frame records; `mem_base`/`mem_len` are memory 0 of
/// the popped frame's context.
#[inline(always)]
unsafe fn pop_frame(
    ctx: *mut Ctx,
    mem_base: *mut u8,
    mem_len: usize,
) -> (*const Instr, *mut u64, *mut u8, usize, *const Instr) {
    // SAFETY: the caller's contract; a saved pc is inside its function's code and a frame
    // base was checked to fit the stack when the frame was entered.
    unsafe {
        let c = &mut *ctx;
        let top = c.top.sub(1);
        c.top = top;
        let top = &*top;
        c.cf = top.code;
        // Memory 0 changes only in the loop (`memory.grow`, host calls), which hands the
        // current base and length to every run, so it is reloaded only for another instance.
        let (mem_base, mem_len) = if top.vmctx != c.vmctx {
            c.vmctx = top.vmctx;
            mem0(top.vmctx)
        } else {
            (mem_base, mem_len)
        };
        let code = top.instrs;
        (code.add(top.pc as usize), c.stack.add(top.fp as usize), mem_base, mem_len, code)
    }
}

/// A memory 0 access at `at` (a one-word instruction) failed its bounds check. The cached
/// length may be stale for a shared memory another thread grew (its base never moves): with
/// the current length the instruction runs again; at the same length it traps. Out of line,
/// so that the accesses' handlers call nothing and need no stack frame.
#[cold]
#[inline(never)]
unsafe fn grown_or_trap(
    at: *const Instr,
    sp: *mut u64,
    mem_base: *mut u8,
    mem_len: usize,
    code: *const Instr,
    ctx: *mut Ctx,
) -> *const Instr {
    // SAFETY: `ctx` is the live context `run` was given.
    let now = refresh_mem0_len(unsafe { (*ctx).vmctx });
    if now != mem_len {
        let (ip, mem_len) = (at, now);
        tail!(ip, sp, mem_base, mem_len, code, ctx)
    }
    // SAFETY: as above; `at` is followed by the next instruction.
    unsafe {
        (*ctx).trap = Some(TrapCode::MemoryOutOfBounds);
        exit(at.add(1), sp, mem_base, mem_len, code, ctx)
    }
}

/// The second access of the memory pair at `at` (a `Mem*` instruction and its `Arg` word) is
/// out of bounds: traps with `ip` after the `Arg` word, whose offset is that access's. Out of
/// line, as [`grown_or_trap`].
#[cold]
#[inline(never)]
unsafe fn second_out_of_bounds(
    at: *const Instr,
    sp: *mut u64,
    mem_base: *mut u8,
    mem_len: usize,
    code: *const Instr,
    ctx: *mut Ctx,
) -> *const Instr {
    // SAFETY: `ctx` is the live context `run` was given; `at` is followed by its `Arg` word.
    unsafe {
        debug_assert_eq!(refresh_mem0_len((*ctx).vmctx), mem_len, "pairs need an unshared memory");
        (*ctx).trap = Some(TrapCode::MemoryOutOfBounds);
        exit(at.add(2), sp, mem_base, mem_len, code, ctx)
    }
}

/// The SIMD handlers' work, out of line, on the frame's slots.
///
/// The lane operations (unary, binary, ternary, tests, shifts) have one function per operation,
/// compiled with the operation fixed, in tables indexed by the operation: each compiles to its
/// few vector instructions (`paddd`, `pcmpeqb`, `mulps` and the NaN fix-up, ...). One function
/// over all operations, or the operations inlined into the handler, compiled the lane loops to
/// byte-by-byte scalar code (`simd` took 7.3 s, against 4.0 s before this change). Out of line,
/// the handler keeps no `V128` in its own frame, whose address passed on would turn its tail
/// jump into a call.
mod v128 {
    use super::super::code::{Instr, Slot};
    use super::super::simd::{
        self, SimdBinary, SimdExtract, SimdReplace, SimdShift, SimdSplat, SimdTernary, SimdTest,
        SimdUnary,
    };
    use super::{handler_of, Ctx, Handler};

    // SAFETY (every function below): `sp` is the frame pointer of the running function and the
    // slots are ones its translated code names, inside the frame window (as for the handlers'
    // `rd!`/`wr!`); a v128 occupies slots `s` and `s + 1`.

    /// A table of `$f::<OP>` for `OP` in `0..16 * rows`, as rows of 16 (an operation at or past
    /// the enum's `COUNT` panics, and the translator never emits one).
    macro_rules! by_op {
        ($f:ident: $($row:literal)*) => {
            [$(by_op!(@row $f $row [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15])),*]
        };
        (@row $f:ident $row:literal [$($col:literal)*]) => {
            [$($f::<{ $row * 16 + $col }>),*]
        };
    }

    /// A handler for one operation of a v128 instruction kind, reached from the kind's handler
    /// (`forward!`) with that handler's arguments, at the instruction.
    macro_rules! op_handler {
        ($name:ident, $variant:ident { $($f:ident),* }, |$ip:ident, $sp:ident| $body:block) => {
            unsafe fn $name<const OP: usize>(
                ip: *const Instr,
                sp: *mut u64,
                mem_base: *mut u8,
                mem_len: usize,
                code: *const Instr,
                ctx: *mut Ctx,
            ) -> *const Instr {
                // SAFETY: only the `$variant` handler forwards here, for the instruction at `ip`.
                let Instr::$variant { $($f,)* .. } = (unsafe { *ip }) else {
                    // SAFETY: as above.
                    unsafe { std::hint::unreachable_unchecked() }
                };
                // SAFETY: every code sequence ends in a branch or return, so a next
                // instruction exists.
                #[allow(unused_mut)]
                let mut $ip = unsafe { ip.add(1) };
                let $sp = sp;
                $body
                let ip = $ip;
                tail!(ip, sp, mem_base, mem_len, code, ctx)
            }
        };
    }

    op_handler!(unary_op, V128Unary { d, a }, |ip, sp| {
        slot_access!($ sp);
        wrv!(d, SimdUnary::from_index(OP).apply(rdv!(a)))
    });
    op_handler!(binary_op, V128Binary { d, a, b }, |ip, sp| {
        slot_access!($ sp);
        wrv!(d, SimdBinary::from_index(OP).apply(rdv!(a), rdv!(b)))
    });
    op_handler!(ternary_op, V128Ternary { d, a, b }, |ip, sp| {
        slot_access!($ sp);
        arg_access!($ ip);
        let (c, _, _) = arg!();
        wrv!(d, SimdTernary::from_index(OP).apply(rdv!(a), rdv!(b), rdv!(c)))
    });
    op_handler!(test_op, V128Test { d, a }, |ip, sp| {
        slot_access!($ sp);
        wr!(d, u64::from(SimdTest::from_index(OP).apply(rdv!(a))))
    });
    op_handler!(shift_op, V128Shift { d, a, b }, |ip, sp| {
        slot_access!($ sp);
        wrv!(d, SimdShift::from_index(OP).apply(rdv!(a), i32_!(b)))
    });

    pub(super) static UNARY: [[Handler; 16]; 4] = by_op!(unary_op: 0 1 2 3);
    pub(super) static BINARY: [[Handler; 16]; 8] = by_op!(binary_op: 0 1 2 3 4 5 6 7);
    pub(super) static TERNARY: [[Handler; 16]; 1] = by_op!(ternary_op: 0);
    pub(super) static TEST: [[Handler; 16]; 1] = by_op!(test_op: 0);
    pub(super) static SHIFT: [[Handler; 16]; 1] = by_op!(shift_op: 0);
    const _: () = assert!(
        SimdUnary::COUNT <= 4 * 16
            && SimdBinary::COUNT <= 8 * 16
            && SimdTernary::COUNT <= 16
            && SimdTest::COUNT <= 16
            && SimdShift::COUNT <= 16
    );

    /// The entry for operation `op` of a table.
    #[inline(always)]
    pub(super) fn entry<F: Copy, const R: usize>(table: &[[F; 16]; R], op: u8) -> F {
        table[usize::from(op) >> 4][usize::from(op) & 15]
    }

    #[inline(never)]
    pub(super) unsafe fn splat(sp: *mut u64, op: SimdSplat, d: Slot, a: Slot) {
        slot_access!($ sp);
        wrv!(d, op.apply(rd!(a)))
    }

    #[inline(never)]
    pub(super) unsafe fn extract(sp: *mut u64, op: SimdExtract, lane: u8, d: Slot, a: Slot) {
        slot_access!($ sp);
        wr!(d, op.apply(rdv!(a), lane))
    }

    #[inline(never)]
    pub(super) unsafe fn replace(
        sp: *mut u64,
        op: SimdReplace,
        lane: u8,
        d: Slot,
        a: Slot,
        b: Slot,
    ) {
        slot_access!($ sp);
        wrv!(d, op.apply(rdv!(a), rd!(b), lane))
    }

    #[inline(never)]
    pub(super) unsafe fn shuffle(sp: *mut u64, lanes: &[u8; 16], d: Slot, a: Slot, b: Slot) {
        slot_access!($ sp);
        wrv!(d, simd::shuffle_v128(rdv!(a), rdv!(b), lanes))
    }
}

/// Keeps a conditional jump a branch. Without it the compiler computes the next `ip` with a
/// conditional move, so the next handler's operand loads wait for the comparison instead of
/// running ahead on the predicted path: every wasm branch became a pipeline-wide dependency
/// (measured on the suite's `fib`: 5.5 s against 3.4 s for the match loop).
#[inline(always)]
fn branch_barrier() {
    #[cfg(ward_tail_dispatch)]
    // SAFETY: an empty instruction sequence: it touches no memory, stack or flags; the
    // compiler only treats it as something it cannot move or duplicate into a select.
    unsafe {
        std::arch::asm!("", options(nomem, nostack, preserves_flags))
    };
}

/// `v`, with the compiler no longer knowing where it came from. `select`'s operands go through
/// it: the compiler otherwise turns "read both slots, keep one" into "choose a slot, read it",
/// which makes the condition, the chosen slot's number and its value three dependent steps
/// (a quarter of `loops.wasm`'s time was in one `select`).
#[inline(always)]
fn opaque(v: u64) -> u64 {
    #[cfg(ward_tail_dispatch)]
    {
        let mut v = v;
        // SAFETY: an instruction sequence that is only a comment, with `v` in and out of one
        // register: it touches no memory, stack or flags and leaves `v` as it was.
        unsafe {
            std::arch::asm!("/* {v} */", v = inout(reg) v, options(pure, nomem, nostack, preserves_flags))
        };
        v
    }
    #[cfg(not(ward_tail_dispatch))]
    v
}

/// A 64-bit immediate: `i`, sign-extended, shifted left by `s` (see [`Instr::I64AddI`]).
#[inline(always)]
fn imm64(i: i32, s: u8) -> i64 {
    i64::from(i) << s
}

/// Compare `K` (numbered as in [`cmp`], without the i64 offset) of `x` and `y`, whose signed
/// readings are `sx` and `sy`.
#[inline(always)]
fn holds<const K: usize, U: Ord, S: Ord>(x: U, y: U, sx: S, sy: S) -> bool {
    match K {
        cmp::EQ => x == y,
        cmp::NE => x != y,
        cmp::LT_S => sx < sy,
        cmp::LT_U => x < y,
        cmp::GT_S => sx > sy,
        cmp::GT_U => x > y,
        cmp::LE_S => sx <= sy,
        cmp::LE_U => x <= y,
        cmp::GE_S => sx >= sy,
        _ => x >= y,
    }
}

/// Compare `K` of two i32s.
#[inline(always)]
fn cmp32<const K: usize>(x: u32, y: u32) -> bool {
    holds::<K, _, _>(x, y, x as i32, y as i32)
}

/// Compare `K` of two i64s.
#[inline(always)]
fn cmp64<const K: usize>(x: u64, y: u64) -> bool {
    holds::<K, _, _>(x, y, x as i64, y as i64)
}

/// Entry `k` of the `br_table` whose entries start at `entries`: the target and, with
/// `ward_tail_dispatch`, the target's handler (see [`link_jumps`]).
///
/// # Safety
/// `entries.add(k)` is an [`Instr::Target`] of the same code (the translator emits a table's
/// entries right after its instruction, and `k` is below their number), of code that went
/// through [`link_jumps`].
#[inline(always)]
unsafe fn table_entry(entries: *const Instr, k: usize) -> (u32, i32) {
    // SAFETY: the caller's contract.
    match unsafe { *entries.add(k) } {
        Instr::Target { t, h } => (t, h),
        // SAFETY: as above: the entry is a `Target`.
        _ => unsafe { std::hint::unreachable_unchecked() },
    }
}

/// Writes into each `br_table` entry and each `Br`, `BrIfNez` and `BrIfEqz` of `code` (final:
/// no instruction changes after this) where its target's handler is ([`handler_offset`]), so
/// that the jump goes to the handler read from the instruction instead of loading the target's
/// opcode and then the handler table: it waits for two loads less, which counts where the jump
/// was mispredicted (a `br_table`'s target in a bytecode interpreter's dispatch, a branch on
/// data). Without `ward_tail_dispatch` the instructions are left as they are (the loop looks
/// the handler up).
pub(super) fn link_jumps(code: &mut [Instr]) {
    if !cfg!(ward_tail_dispatch) {
        return;
    }
    let handler = |code: &[Instr], t: u32| handler_offset(code[t as usize].opcode());
    for i in 0..code.len() {
        code[i] = match code[i] {
            Instr::Target { t, .. } => Instr::Target { t, h: handler(code, t) },
            Instr::Br { t, .. } => Instr::Br { t, h: handler(code, t) },
            Instr::BrIfNez { c, t, .. } => Instr::BrIfNez { c, t, h: handler(code, t) },
            Instr::BrIfEqz { c, t, .. } => Instr::BrIfEqz { c, t, h: handler(code, t) },
            other => other,
        };
    }
}

/// Where the handler of opcode `op` is, relative to [`exit`] (what [`link_jumps`] writes; an
/// instruction has room for 32 bits, not for an address).
pub(super) fn handler_offset(op: u16) -> i32 {
    assert!(usize::from(op) < HANDLERS.len(), "opcode {op} past the handler table");
    // SAFETY: `op` is within the table (checked).
    let h = unsafe { handler_for(op) } as usize;
    let off = h.wrapping_sub(exit as Handler as usize) as isize;
    // The handlers are functions of this one module, a few hundred kilobytes of code.
    i32::try_from(off).expect("a handler lies within 2 GiB of `exit`")
}

/// The handler `off` bytes from [`exit`].
///
/// # Safety
/// `off` is a [`handler_offset`].
#[inline(always)]
unsafe fn handler_at(off: i32) -> Handler {
    let h = (exit as Handler as usize).wrapping_add(off as isize as usize);
    // SAFETY: `h` is the address of a handler (the caller's contract), a `Handler`.
    unsafe { std::mem::transmute::<usize, Handler>(h) }
}

/// Defines one handler per `Name { fields } => body;` entry and the table [`HANDLERS`] that
/// maps each entry's opcode to it (all other opcodes to [`exit`]). Called with the `$` token
/// (so that the macros it defines inside each handler can have parameters) and the names the
/// bodies use for the current function's `CompiledFunc` and context.
#[rustfmt::skip] // rustfmt re-indents the `$d` tokens on every run.
macro_rules! handlers {
    ($d:tt [$cf:ident $vmctx:ident]
     $( $name:ident { $($f:ident),* } => $body:expr; )*) => {
        $(
            #[allow(
                non_snake_case,
                unused_mut,
                unused_variables,
                unused_macros,
                unused_unsafe,
                unreachable_code,
                unused_assignments
            )]
            unsafe fn $name(
                ip: *const Instr,
                sp: *mut u64,
                mem_base: *mut u8,
                mem_len: usize,
                code: *const Instr,
                ctx: *mut Ctx,
            ) -> *const Instr {
                #[cfg(feature = "op-stats")]
                // SAFETY: `ip` points to an instruction (contract of `run`).
                super::op_stats::record(unsafe { &*ip });
                // SAFETY: this handler is only reached at an instruction of this opcode:
                // through `HANDLERS`, or from a jump linked to this instruction (`link_jumps`).
                let Instr::$name { $($f),* } = (unsafe { *ip }) else {
                    // SAFETY: as above.
                    unsafe { std::hint::unreachable_unchecked() }
                };
                let at = ip;
                // SAFETY: every code sequence ends in a branch or return, so the next
                // instruction exists.
                let mut ip = unsafe { ip.add(1) };
                let mut mem_len = mem_len;
                // SAFETY: `ctx.cf` is the current function's code, alive as long as its
                // module (contract of `run`).
                let $cf: &CompiledFunc = unsafe { &*(*ctx).cf };
                // SAFETY: as above.
                let $vmctx: *const VMContext = unsafe { (*ctx).vmctx };
                slot_access!($d sp);
                /// The frame pointer, for helpers that work on the slots themselves.
                macro_rules! frame {
                    () => {
                        sp
                    };
                }
                /// The address of the instruction after this one (where a `br_table`'s
                /// entries start).
                macro_rules! following {
                    () => {
                        ip
                    };
                }
                /// Continues in `f`, another handler for this same instruction.
                macro_rules! forward {
                    ($d f:expr) => {{
                        let f: Handler = $d f;
                        // SAFETY: this handler's own arguments, at its own instruction.
                        return unsafe { f(at, sp, mem_base, mem_len, code, ctx) };
                    }};
                }
                /// Continues with the next instruction's handler.
                macro_rules! next {
                    () => {
                        tail!(ip, sp, mem_base, mem_len, code, ctx)
                    };
                }
                macro_rules! trap {
                    ($d c:expr) => {{
                        // SAFETY: as above.
                        unsafe { (*ctx).trap = Some($d c) };
                        // SAFETY: as above.
                        return unsafe { exit(ip, sp, mem_base, mem_len, code, ctx) };
                    }};
                }
                /// Continues at instruction `t` of the current function.
                macro_rules! jump {
                    ($d t:expr) => {{
                        // SAFETY: branch targets are resolved by the translator to valid
                        // indices.
                        ip = unsafe { code.add($d t as usize) };
                        branch_barrier();
                    }};
                }
                /// Continues at entry `k` of the `br_table` whose entries start at `entries`, with
                /// the handler the entry names (`link_jumps`).
                macro_rules! table_jump {
                    ($d entries:expr, $d k:expr) => {{
                        // SAFETY: the `br_table` instructions call this with their own entries
                        // and an index below their number.
                        let (t, h) = unsafe { table_entry($d entries, $d k) };
                        linked_jump!(t, h)
                    }};
                }
                /// Continues at instruction `t` of the current function, whose handler `h`
                /// locates (`handler_offset`; an instruction's target and handler, written by
                /// `link_jumps` when the code was translated, in `compiled_code`).
                macro_rules! linked_jump {
                    ($d t:expr, $d h:expr) => {{
                        let (t, h): (u32, i32) = ($d t, $d h);
                        jump!(t);
                        #[cfg(ward_tail_dispatch)]
                        {
                            // SAFETY: `h` locates the handler of the instruction at `t`
                            // (`link_jumps`).
                            let h = unsafe { handler_at(h) };
                            tail_to!(h, ip, sp, mem_base, mem_len, code, ctx)
                        }
                        #[cfg(not(ward_tail_dispatch))]
                        {
                            let _ = h;
                        }
                    }};
                }
                arg_access!($d ip);
                // Memory 0 access: the bytes must lie within the current size, or the access
                // is retried or traps in `grown_or_trap`. Memory accesses are one-word
                // instructions, which that relies on. An instruction's offset `o` is the end
                // of the bytes it accesses relative to its address (see `Instr`).
                macro_rules! ea {
                    ($d a:expr, $d o:expr, $d n:expr) => {
                        end_or!((i32_!($d a) as u64) + ($d o as u64), $d n, grown_or_trap)
                    };
                }
                /// The address of the `n` bytes that end at `end` (at least `n`) in memory 0,
                /// or the chain continues in `out` (a handler for this instruction's failed
                /// bounds check). One add computes `end` from an instruction's address and
                /// offset; the load or store then subtracts `n` in its addressing.
                macro_rules! end_or {
                    ($d end:expr, $d n:expr, $d out:ident) => {{
                        let end: u64 = $d end;
                        if end > mem_len as u64 {
                            // SAFETY: `at` is this instruction, the rest this handler's
                            // state.
                            return unsafe { $d out(at, sp, mem_base, mem_len, code, ctx) };
                        }
                        // SAFETY: n <= end <= mem_len, and [mem_base, mem_base+mem_len) is
                        // mapped.
                        unsafe { mem_base.add(end as usize).sub($d n as usize) }
                    }};
                }
                /// A memory pair's load of a `t` into `d` from `a` (ending at offset `o`); out
                /// of bounds, the chain continues in `out`: `grown_or_trap` for the first
                /// access, `second_out_of_bounds` for the second (which stops at the pair's
                /// `Arg` word, whose offset is the second access's; pairs are only made for a
                /// memory that is not shared, whose cached length is never stale).
                macro_rules! pair_load {
                    ($d out:ident, $d d:expr, $d a:expr, $d o:expr, $d t:ty) => {
                        wr!($d d, read_end!($d out; (i32_!($d a) as u64) + ($d o as u64), $d t) as u64)
                    };
                }
                /// A memory pair's store of the low `t` of `v` at `a` (as `pair_load`).
                macro_rules! pair_store {
                    ($d out:ident, $d a:expr, $d v:expr, $d o:expr, $d t:ty) => {
                        store_end!($d out; (i32_!($d a) as u64) + ($d o as u64), rd!($d v) as $d t, $d t)
                    };
                }
                /// `x = y + z` (i32, wrapping) from the `Arg` word: the add a pair ends with
                /// (`pair_added_constants`).
                macro_rules! added_constant {
                    () => {{
                        let (x, y, z) = arg!();
                        wr!(x, (i32_!(y).wrapping_add(z)) as u64)
                    }};
                }
                /// Wasm's `select`: both operands are read before the condition is known
                /// and one is kept by a conditional move (see [`opaque`]).
                macro_rules! pick {
                    ($d cond:expr, $d x:expr, $d y:expr) => {{
                        let (x, y) = (opaque($d x), opaque($d y));
                        core::hint::select_unpredictable($d cond, x, y)
                    }};
                }
                /// `d = cond ? x : y` with `x` and `y` in the `Arg` word: the compare-and-select
                /// instructions.
                macro_rules! select_if {
                    ($d d:expr, $d cond:expr) => {{
                        let (x, y, _) = arg!();
                        wr!($d d, pick!($d cond, rd!(x), rd!(y)))
                    }};
                }
                /// The address `(a + (b << k)) mod 2^32` of the `*Idx` loads.
                macro_rules! idx_addr {
                    ($d a:expr, $d b:expr, $d k:expr) => {
                        i32_!($d a).wrapping_add(i32_!($d b).wrapping_shl(u32::from($d k))) as u64
                    };
                }
                macro_rules! load {
                    ($d d:expr, $d a:expr, $d o:expr, $d t:ty, $d conv:expr) => {
                        wr!($d d, $d conv(read_end!((i32_!($d a) as u64) + ($d o as u64), $d t)))
                    };
                }
                /// The f64 at `p` (ending at offset `o`) in memory 0.
                macro_rules! f64_at {
                    ($d p:expr, $d o:expr) => {
                        f64::from_bits(read_end!((i32_!($d p) as u64) + ($d o as u64), u64))
                    };
                }
                /// The `t` whose bytes end at `end` (little-endian), after the bounds check;
                /// out of bounds, the chain continues in `out` (by default `grown_or_trap`).
                macro_rules! read_end {
                    ($d out:ident; $d end:expr, $d t:ty) => {{
                        let p = end_or!($d end, std::mem::size_of::<$d t>(), $d out);
                        // SAFETY: in bounds per `end_or!`; unaligned reads are allowed.
                        <$d t>::from_le(unsafe { (p as *const $d t).read_unaligned() })
                    }};
                    ($d end:expr, $d t:ty) => {
                        read_end!(grown_or_trap; $d end, $d t)
                    };
                }
                /// The `t` at effective address `ea`, as `read_end`.
                macro_rules! read_at {
                    ($d out:ident; $d ea:expr, $d t:ty) => {
                        read_end!($d out; $d ea + std::mem::size_of::<$d t>() as u64, $d t)
                    };
                    ($d ea:expr, $d t:ty) => {
                        read_at!(grown_or_trap; $d ea, $d t)
                    };
                }
                macro_rules! load_at {
                    ($d d:expr, $d ea:expr, $d t:ty, $d conv:expr) => {
                        wr!($d d, $d conv(read_at!($d ea, $d t)))
                    };
                }
                macro_rules! store {
                    ($d a:expr, $d v:expr, $d o:expr, $d t:ty) => {
                        store_imm!($d a, $d o, rd!($d v) as $d t, $d t)
                    };
                }
                macro_rules! store_imm {
                    ($d a:expr, $d o:expr, $d v:expr, $d t:ty) => {
                        store_end!((i32_!($d a) as u64) + ($d o as u64), $d v, $d t)
                    };
                }
                /// Replaces the 32-bit word `x` at `a` (ending at offset `o`) with `f(x)`, after
                /// one bounds check (the store goes where the load came from).
                macro_rules! rmw32 {
                    ($d a:expr, $d o:expr, $d f:expr) => {{
                        let p = end_or!((i32_!($d a) as u64) + ($d o as u64), 4, grown_or_trap);
                        // SAFETY: `[p, p + 4)` is in bounds per `end_or!`; unaligned accesses
                        // are allowed.
                        unsafe {
                            let x = u32::from_le((p as *const u32).read_unaligned());
                            (p as *mut u32).write_unaligned(($d f)(x).to_le())
                        }
                    }};
                }
                /// Stores `v` (of type `t`) in the bytes that end at `end`, after the bounds
                /// check (out of bounds, continues in `out` as `read_end`).
                macro_rules! store_end {
                    ($d out:ident; $d end:expr, $d v:expr, $d t:ty) => {{
                        let p = end_or!($d end, std::mem::size_of::<$d t>(), $d out);
                        let v: $d t = $d v;
                        // SAFETY: in bounds per `end_or!`; unaligned writes are allowed.
                        unsafe { (p as *mut $d t).write_unaligned(v.to_le()) }
                    }};
                    ($d end:expr, $d v:expr, $d t:ty) => {
                        store_end!(grown_or_trap; $d end, $d v, $d t)
                    };
                }
                /// Stores `v` at effective address `ea`, as `store_end`.
                macro_rules! store_at {
                    ($d out:ident; $d ea:expr, $d v:expr, $d t:ty) => {
                        store_end!($d out; $d ea + std::mem::size_of::<$d t>() as u64, $d v, $d t)
                    };
                    ($d ea:expr, $d v:expr, $d t:ty) => {
                        store_at!(grown_or_trap; $d ea, $d v, $d t)
                    };
                }
                $body;
                next!()
            }
        )*

        /// Each opcode's handler: the entries above, [`call`], [`call_indirect`], [`ret`] and
        /// [`ret_from`], and [`exit`] for every other opcode.
        static HANDLERS: [Handler; OPCODES + 1] = {
            let mut table = [exit as Handler; OPCODES + 1];
            $(
                // SAFETY: every field is an integer or a fieldless enum with a variant 0, for
                // which all-zero bytes are a valid value (only the opcode is read).
                table[Instr::$name { $($f: unsafe { std::mem::zeroed() }),* }.opcode() as usize] =
                    $name;
            )*
            table[Instr::Call { f: 0, args: 0 }.opcode() as usize] = call;
            table[Instr::CallIndirect { args: 0, i: 0 }.opcode() as usize] = call_indirect;
            table[Instr::Return.opcode() as usize] = ret;
            table[Instr::ReturnFrom { s: 0, n: 0 }.opcode() as usize] = ret_from;
            table[Instr::GlobalSetAddIReturn { g: 0, a: 0, i: 0 }.opcode() as usize] =
                global_set_add_ret;
            let from = Instr::GlobalSetAddIReturnFrom { g: 0, a: 0, s: 0, i: 0 };
            table[from.opcode() as usize] = global_set_add_ret_from;
            table
        };
    };
}

/// The loads and the jump of `BrTableLoad8ULoadShlAddI` (and its `Const` form) once its
/// `Arg` word `(j, b, o)` is read: the byte at `b` (ending at offset `o`) into `d`, the case
/// number at `(byte << k) + i`, then the entry for that number plus `j` (the last for any
/// past the end), which follows the `Arg` words. In a handler's body: it uses the handler's
/// own macros.
macro_rules! byte_dispatch {
    ($k:ident, $d:ident, $i:ident, $n:ident, $j:ident, $b:ident, $o:ident) => {{
        let byte = read_end!(u64::from(i32_!($b)) + u64::from($o), u8);
        wr!($d, u64::from(byte));
        let ea = u32::from(byte).wrapping_shl(u32::from($k)).wrapping_add($i as u32);
        let x = read_at!(second_out_of_bounds; u64::from(ea), u32);
        let k = (x.wrapping_add($j) as usize).min($n as usize - 1);
        // SAFETY: as for `BrTable`: the entries follow the `Arg` words.
        table_jump!(following!(), k);
    }};
}

handlers! { $ [cf vmctx]
    Unreachable {} => { trap!(TrapCode::Unreachable) };
    Br { t, h } => { linked_jump!(t, h) };
    BrIfNez { c, t, h } => {
        if i32_!(c) != 0 {
            linked_jump!(t, h)
        }
    };
    BrIfEqz { c, t, h } => {
        if i32_!(c) == 0 {
            linked_jump!(t, h)
        }
    };
    BrTable { i, n } => {
        let k = (i32_!(i) as usize).min(n as usize - 1);
        // SAFETY: the `n` entries of the table follow the instruction.
        table_jump!(following!(), k);
    };
    BrTableI { i, k, n } => {
        let k = (i32_!(i).wrapping_add(k as u32) as usize).min(n as usize - 1);
        // SAFETY: as for `BrTable`.
        table_jump!(following!(), k);
    };
    BrTableLoadIdxTee { k, d, a, b, n } => {
        let i = read_at!(idx_addr!(a, b, k), u32);
        wr!(d, u64::from(i));
        let k = (i as usize).min(n as usize - 1);
        // SAFETY: as for `BrTable`.
        table_jump!(following!(), k);
    };
    BrTableLoadIdx { k, a, b, n } => {
        let i = read_at!(idx_addr!(a, b, k), u32);
        let k = (i as usize).min(n as usize - 1);
        // SAFETY: as for `BrTable`.
        table_jump!(following!(), k);
    };
    BrTableLoadShlAddI { k, a, i, n } => {
        let (j, _, _) = arg!();
        let x = read_at!(i32_!(a).wrapping_shl(u32::from(k)).wrapping_add(i as u32) as u64, u32);
        let k = (x.wrapping_add(j) as usize).min(n as usize - 1);
        // SAFETY: as for `BrTable`: the entries follow the `Arg` word.
        table_jump!(following!(), k);
    };
    ConstBrTableLoad8ULoadShlAddI { k, d, i, n } => {
        let (j, b, o) = arg!();
        // The constant, from the second `Arg` word, before the loads (its slot may be one they
        // read).
        let (c, lo, hi) = arg!();
        wr!(c, u64::from(hi) << 32 | u64::from(lo));
        byte_dispatch!(k, d, i, n, j, b, o)
    };
    BrTableLoad8ULoadShlAddI { k, d, i, n } => {
        let (j, b, o) = arg!();
        byte_dispatch!(k, d, i, n, j, b, o)
    };
    BrOnNull { a, t } => {
        if rd!(a) == 0 {
            jump!(t)
        }
    };
    BrOnNonNull { a, t } => {
        if rd!(a) != 0 {
            jump!(t)
        }
    };
    Copy { d, a } => { wr!(d, rd!(a)) };
    Copy2 { d, a } => {
        // One 16-byte load and store (a v128's slots): the operation that reads the copy
        // gets it forwarded from the store.
        let v = rdv!(a);
        wrv!(d, v);
    };
    CopyPair { d, a, b } => {
        let (x, y) = (rd!(a), rd!(b));
        wr!(d, x);
        wr!(d + 1, y);
    };
    F64AddLoad { d, a, p, o } => { let x = f64_at!(p, o); wf64!(d, f64_!(a) + x) };
    F64SubLoad { d, a, p, o } => { let x = f64_at!(p, o); wf64!(d, f64_!(a) - x) };
    F64MulLoad { d, a, p, o } => { let x = f64_at!(p, o); wf64!(d, f64_!(a) * x) };
    F64DivLoad { d, a, p, o } => { let x = f64_at!(p, o); wf64!(d, f64_!(a) / x) };
    CopyTwo { d0, a0, d1, a1 } => {
        wr!(d0, rd!(a0));
        wr!(d1, rd!(a1));
    };
    I32AddIAddI { d, a, i } => {
        wr!(d, (i32_!(a).wrapping_add(i as u32)) as u64);
        added_constant!()
    };
    I32LoadThenAddI { d, a, o } => {
        load!(d, a, o, u32, |v: u32| v as u64);
        added_constant!()
    };
    I64StoreThenAddI { a, v, o } => {
        store!(a, v, o, u64);
        added_constant!()
    };
    I32AddIBr { d, i, t } => {
        wr!(d, (i32_!(d).wrapping_add(i as u32)) as u64);
        jump!(t)
    };
    I64AddIBr { d, i, t } => {
        wr!(d, rd!(d).wrapping_add(i as u64));
        jump!(t)
    };
    I32AddBrEq { d, a, b, c, t } => { let v = i32_!(a).wrapping_add(i32_!(b)); wr!(d, v as u64); if cmp32::<{ cmp::EQ }>(v, i32_!(c)) { jump!(t) } };
    I32AddBrNe { d, a, b, c, t } => { let v = i32_!(a).wrapping_add(i32_!(b)); wr!(d, v as u64); if cmp32::<{ cmp::NE }>(v, i32_!(c)) { jump!(t) } };
    I32AddBrLtS { d, a, b, c, t } => { let v = i32_!(a).wrapping_add(i32_!(b)); wr!(d, v as u64); if cmp32::<{ cmp::LT_S }>(v, i32_!(c)) { jump!(t) } };
    I32AddBrLtU { d, a, b, c, t } => { let v = i32_!(a).wrapping_add(i32_!(b)); wr!(d, v as u64); if cmp32::<{ cmp::LT_U }>(v, i32_!(c)) { jump!(t) } };
    I32AddBrGtS { d, a, b, c, t } => { let v = i32_!(a).wrapping_add(i32_!(b)); wr!(d, v as u64); if cmp32::<{ cmp::GT_S }>(v, i32_!(c)) { jump!(t) } };
    I32AddBrGtU { d, a, b, c, t } => { let v = i32_!(a).wrapping_add(i32_!(b)); wr!(d, v as u64); if cmp32::<{ cmp::GT_U }>(v, i32_!(c)) { jump!(t) } };
    I32AddBrLeS { d, a, b, c, t } => { let v = i32_!(a).wrapping_add(i32_!(b)); wr!(d, v as u64); if cmp32::<{ cmp::LE_S }>(v, i32_!(c)) { jump!(t) } };
    I32AddBrLeU { d, a, b, c, t } => { let v = i32_!(a).wrapping_add(i32_!(b)); wr!(d, v as u64); if cmp32::<{ cmp::LE_U }>(v, i32_!(c)) { jump!(t) } };
    I32AddBrGeS { d, a, b, c, t } => { let v = i32_!(a).wrapping_add(i32_!(b)); wr!(d, v as u64); if cmp32::<{ cmp::GE_S }>(v, i32_!(c)) { jump!(t) } };
    I32AddBrGeU { d, a, b, c, t } => { let v = i32_!(a).wrapping_add(i32_!(b)); wr!(d, v as u64); if cmp32::<{ cmp::GE_U }>(v, i32_!(c)) { jump!(t) } };
    I64AddBrEq { d, a, b, c, t } => { let v = rd!(a).wrapping_add(rd!(b)); wr!(d, v); if cmp64::<{ cmp::EQ }>(v, rd!(c)) { jump!(t) } };
    I64AddBrNe { d, a, b, c, t } => { let v = rd!(a).wrapping_add(rd!(b)); wr!(d, v); if cmp64::<{ cmp::NE }>(v, rd!(c)) { jump!(t) } };
    I64AddBrLtS { d, a, b, c, t } => { let v = rd!(a).wrapping_add(rd!(b)); wr!(d, v); if cmp64::<{ cmp::LT_S }>(v, rd!(c)) { jump!(t) } };
    I64AddBrLtU { d, a, b, c, t } => { let v = rd!(a).wrapping_add(rd!(b)); wr!(d, v); if cmp64::<{ cmp::LT_U }>(v, rd!(c)) { jump!(t) } };
    I64AddBrGtS { d, a, b, c, t } => { let v = rd!(a).wrapping_add(rd!(b)); wr!(d, v); if cmp64::<{ cmp::GT_S }>(v, rd!(c)) { jump!(t) } };
    I64AddBrGtU { d, a, b, c, t } => { let v = rd!(a).wrapping_add(rd!(b)); wr!(d, v); if cmp64::<{ cmp::GT_U }>(v, rd!(c)) { jump!(t) } };
    I64AddBrLeS { d, a, b, c, t } => { let v = rd!(a).wrapping_add(rd!(b)); wr!(d, v); if cmp64::<{ cmp::LE_S }>(v, rd!(c)) { jump!(t) } };
    I64AddBrLeU { d, a, b, c, t } => { let v = rd!(a).wrapping_add(rd!(b)); wr!(d, v); if cmp64::<{ cmp::LE_U }>(v, rd!(c)) { jump!(t) } };
    I64AddBrGeS { d, a, b, c, t } => { let v = rd!(a).wrapping_add(rd!(b)); wr!(d, v); if cmp64::<{ cmp::GE_S }>(v, rd!(c)) { jump!(t) } };
    I64AddBrGeU { d, a, b, c, t } => { let v = rd!(a).wrapping_add(rd!(b)); wr!(d, v); if cmp64::<{ cmp::GE_U }>(v, rd!(c)) { jump!(t) } };
    I32AddIBrEq { d, a, c, i, t } => { let v = i32_!(a).wrapping_add(i as u32); wr!(d, v as u64); if cmp32::<{ cmp::EQ }>(v, i32_!(c)) { jump!(t) } };
    I32AddIBrNe { d, a, c, i, t } => { let v = i32_!(a).wrapping_add(i as u32); wr!(d, v as u64); if cmp32::<{ cmp::NE }>(v, i32_!(c)) { jump!(t) } };
    I32AddIBrLtS { d, a, c, i, t } => { let v = i32_!(a).wrapping_add(i as u32); wr!(d, v as u64); if cmp32::<{ cmp::LT_S }>(v, i32_!(c)) { jump!(t) } };
    I32AddIBrLtU { d, a, c, i, t } => { let v = i32_!(a).wrapping_add(i as u32); wr!(d, v as u64); if cmp32::<{ cmp::LT_U }>(v, i32_!(c)) { jump!(t) } };
    I32AddIBrGtS { d, a, c, i, t } => { let v = i32_!(a).wrapping_add(i as u32); wr!(d, v as u64); if cmp32::<{ cmp::GT_S }>(v, i32_!(c)) { jump!(t) } };
    I32AddIBrGtU { d, a, c, i, t } => { let v = i32_!(a).wrapping_add(i as u32); wr!(d, v as u64); if cmp32::<{ cmp::GT_U }>(v, i32_!(c)) { jump!(t) } };
    I32AddIBrLeS { d, a, c, i, t } => { let v = i32_!(a).wrapping_add(i as u32); wr!(d, v as u64); if cmp32::<{ cmp::LE_S }>(v, i32_!(c)) { jump!(t) } };
    I32AddIBrLeU { d, a, c, i, t } => { let v = i32_!(a).wrapping_add(i as u32); wr!(d, v as u64); if cmp32::<{ cmp::LE_U }>(v, i32_!(c)) { jump!(t) } };
    I32AddIBrGeS { d, a, c, i, t } => { let v = i32_!(a).wrapping_add(i as u32); wr!(d, v as u64); if cmp32::<{ cmp::GE_S }>(v, i32_!(c)) { jump!(t) } };
    I32AddIBrGeU { d, a, c, i, t } => { let v = i32_!(a).wrapping_add(i as u32); wr!(d, v as u64); if cmp32::<{ cmp::GE_U }>(v, i32_!(c)) { jump!(t) } };
    I64AddIBrEq { d, a, c, i, t } => { let v = rd!(a).wrapping_add(i as u64); wr!(d, v); if cmp64::<{ cmp::EQ }>(v, rd!(c)) { jump!(t) } };
    I64AddIBrNe { d, a, c, i, t } => { let v = rd!(a).wrapping_add(i as u64); wr!(d, v); if cmp64::<{ cmp::NE }>(v, rd!(c)) { jump!(t) } };
    I64AddIBrLtS { d, a, c, i, t } => { let v = rd!(a).wrapping_add(i as u64); wr!(d, v); if cmp64::<{ cmp::LT_S }>(v, rd!(c)) { jump!(t) } };
    I64AddIBrLtU { d, a, c, i, t } => { let v = rd!(a).wrapping_add(i as u64); wr!(d, v); if cmp64::<{ cmp::LT_U }>(v, rd!(c)) { jump!(t) } };
    I64AddIBrGtS { d, a, c, i, t } => { let v = rd!(a).wrapping_add(i as u64); wr!(d, v); if cmp64::<{ cmp::GT_S }>(v, rd!(c)) { jump!(t) } };
    I64AddIBrGtU { d, a, c, i, t } => { let v = rd!(a).wrapping_add(i as u64); wr!(d, v); if cmp64::<{ cmp::GT_U }>(v, rd!(c)) { jump!(t) } };
    I64AddIBrLeS { d, a, c, i, t } => { let v = rd!(a).wrapping_add(i as u64); wr!(d, v); if cmp64::<{ cmp::LE_S }>(v, rd!(c)) { jump!(t) } };
    I64AddIBrLeU { d, a, c, i, t } => { let v = rd!(a).wrapping_add(i as u64); wr!(d, v); if cmp64::<{ cmp::LE_U }>(v, rd!(c)) { jump!(t) } };
    I64AddIBrGeS { d, a, c, i, t } => { let v = rd!(a).wrapping_add(i as u64); wr!(d, v); if cmp64::<{ cmp::GE_S }>(v, rd!(c)) { jump!(t) } };
    I64AddIBrGeU { d, a, c, i, t } => { let v = rd!(a).wrapping_add(i as u64); wr!(d, v); if cmp64::<{ cmp::GE_U }>(v, rd!(c)) { jump!(t) } };
    I32AddIBrEqI { d, a, i, j, t } => { let v = i32_!(a).wrapping_add(i as u32); wr!(d, v as u64); if cmp32::<{ cmp::EQ }>(v, j as u32) { jump!(t) } };
    I32AddIBrNeI { d, a, i, j, t } => { let v = i32_!(a).wrapping_add(i as u32); wr!(d, v as u64); if cmp32::<{ cmp::NE }>(v, j as u32) { jump!(t) } };
    I32AddIBrLtSI { d, a, i, j, t } => { let v = i32_!(a).wrapping_add(i as u32); wr!(d, v as u64); if cmp32::<{ cmp::LT_S }>(v, j as u32) { jump!(t) } };
    I32AddIBrLtUI { d, a, i, j, t } => { let v = i32_!(a).wrapping_add(i as u32); wr!(d, v as u64); if cmp32::<{ cmp::LT_U }>(v, j as u32) { jump!(t) } };
    I32AddIBrGtSI { d, a, i, j, t } => { let v = i32_!(a).wrapping_add(i as u32); wr!(d, v as u64); if cmp32::<{ cmp::GT_S }>(v, j as u32) { jump!(t) } };
    I32AddIBrGtUI { d, a, i, j, t } => { let v = i32_!(a).wrapping_add(i as u32); wr!(d, v as u64); if cmp32::<{ cmp::GT_U }>(v, j as u32) { jump!(t) } };
    I32AddIBrLeSI { d, a, i, j, t } => { let v = i32_!(a).wrapping_add(i as u32); wr!(d, v as u64); if cmp32::<{ cmp::LE_S }>(v, j as u32) { jump!(t) } };
    I32AddIBrLeUI { d, a, i, j, t } => { let v = i32_!(a).wrapping_add(i as u32); wr!(d, v as u64); if cmp32::<{ cmp::LE_U }>(v, j as u32) { jump!(t) } };
    I32AddIBrGeSI { d, a, i, j, t } => { let v = i32_!(a).wrapping_add(i as u32); wr!(d, v as u64); if cmp32::<{ cmp::GE_S }>(v, j as u32) { jump!(t) } };
    I32AddIBrGeUI { d, a, i, j, t } => { let v = i32_!(a).wrapping_add(i as u32); wr!(d, v as u64); if cmp32::<{ cmp::GE_U }>(v, j as u32) { jump!(t) } };
    I64AddIBrEqI { d, a, i, j, t } => { let v = rd!(a).wrapping_add(i as u64); wr!(d, v); if cmp64::<{ cmp::EQ }>(v, j as u64) { jump!(t) } };
    I64AddIBrNeI { d, a, i, j, t } => { let v = rd!(a).wrapping_add(i as u64); wr!(d, v); if cmp64::<{ cmp::NE }>(v, j as u64) { jump!(t) } };
    I64AddIBrLtSI { d, a, i, j, t } => { let v = rd!(a).wrapping_add(i as u64); wr!(d, v); if cmp64::<{ cmp::LT_S }>(v, j as u64) { jump!(t) } };
    I64AddIBrLtUI { d, a, i, j, t } => { let v = rd!(a).wrapping_add(i as u64); wr!(d, v); if cmp64::<{ cmp::LT_U }>(v, j as u64) { jump!(t) } };
    I64AddIBrGtSI { d, a, i, j, t } => { let v = rd!(a).wrapping_add(i as u64); wr!(d, v); if cmp64::<{ cmp::GT_S }>(v, j as u64) { jump!(t) } };
    I64AddIBrGtUI { d, a, i, j, t } => { let v = rd!(a).wrapping_add(i as u64); wr!(d, v); if cmp64::<{ cmp::GT_U }>(v, j as u64) { jump!(t) } };
    I64AddIBrLeSI { d, a, i, j, t } => { let v = rd!(a).wrapping_add(i as u64); wr!(d, v); if cmp64::<{ cmp::LE_S }>(v, j as u64) { jump!(t) } };
    I64AddIBrLeUI { d, a, i, j, t } => { let v = rd!(a).wrapping_add(i as u64); wr!(d, v); if cmp64::<{ cmp::LE_U }>(v, j as u64) { jump!(t) } };
    I64AddIBrGeSI { d, a, i, j, t } => { let v = rd!(a).wrapping_add(i as u64); wr!(d, v); if cmp64::<{ cmp::GE_S }>(v, j as u64) { jump!(t) } };
    I64AddIBrGeUI { d, a, i, j, t } => { let v = rd!(a).wrapping_add(i as u64); wr!(d, v); if cmp64::<{ cmp::GE_U }>(v, j as u64) { jump!(t) } };
    MemLd32Ld32 { p, q, o } => { pair_load!(grown_or_trap, p, q, o, u32); let (x, y, z) = arg!(); pair_load!(second_out_of_bounds, x, y, z, u32) };
    MemLd32Ld64 { p, q, o } => { pair_load!(grown_or_trap, p, q, o, u32); let (x, y, z) = arg!(); pair_load!(second_out_of_bounds, x, y, z, u64) };
    MemLd32Ld8U { p, q, o } => { pair_load!(grown_or_trap, p, q, o, u32); let (x, y, z) = arg!(); pair_load!(second_out_of_bounds, x, y, z, u8) };
    MemLd32St32 { p, q, o } => { pair_load!(grown_or_trap, p, q, o, u32); let (x, y, z) = arg!(); pair_store!(second_out_of_bounds, x, y, z, u32) };
    MemLd32St64 { p, q, o } => { pair_load!(grown_or_trap, p, q, o, u32); let (x, y, z) = arg!(); pair_store!(second_out_of_bounds, x, y, z, u64) };
    MemLd32St8 { p, q, o } => { pair_load!(grown_or_trap, p, q, o, u32); let (x, y, z) = arg!(); pair_store!(second_out_of_bounds, x, y, z, u8) };
    MemLd64Ld32 { p, q, o } => { pair_load!(grown_or_trap, p, q, o, u64); let (x, y, z) = arg!(); pair_load!(second_out_of_bounds, x, y, z, u32) };
    MemLd64Ld64 { p, q, o } => { pair_load!(grown_or_trap, p, q, o, u64); let (x, y, z) = arg!(); pair_load!(second_out_of_bounds, x, y, z, u64) };
    MemLd64Ld8U { p, q, o } => { pair_load!(grown_or_trap, p, q, o, u64); let (x, y, z) = arg!(); pair_load!(second_out_of_bounds, x, y, z, u8) };
    MemLd64St32 { p, q, o } => { pair_load!(grown_or_trap, p, q, o, u64); let (x, y, z) = arg!(); pair_store!(second_out_of_bounds, x, y, z, u32) };
    MemLd64St64 { p, q, o } => { pair_load!(grown_or_trap, p, q, o, u64); let (x, y, z) = arg!(); pair_store!(second_out_of_bounds, x, y, z, u64) };
    MemLd64St8 { p, q, o } => { pair_load!(grown_or_trap, p, q, o, u64); let (x, y, z) = arg!(); pair_store!(second_out_of_bounds, x, y, z, u8) };
    MemLd8ULd32 { p, q, o } => { pair_load!(grown_or_trap, p, q, o, u8); let (x, y, z) = arg!(); pair_load!(second_out_of_bounds, x, y, z, u32) };
    MemLd8ULd64 { p, q, o } => { pair_load!(grown_or_trap, p, q, o, u8); let (x, y, z) = arg!(); pair_load!(second_out_of_bounds, x, y, z, u64) };
    MemLd8ULd8U { p, q, o } => { pair_load!(grown_or_trap, p, q, o, u8); let (x, y, z) = arg!(); pair_load!(second_out_of_bounds, x, y, z, u8) };
    MemLd8USt32 { p, q, o } => { pair_load!(grown_or_trap, p, q, o, u8); let (x, y, z) = arg!(); pair_store!(second_out_of_bounds, x, y, z, u32) };
    MemLd8USt64 { p, q, o } => { pair_load!(grown_or_trap, p, q, o, u8); let (x, y, z) = arg!(); pair_store!(second_out_of_bounds, x, y, z, u64) };
    MemLd8USt8 { p, q, o } => { pair_load!(grown_or_trap, p, q, o, u8); let (x, y, z) = arg!(); pair_store!(second_out_of_bounds, x, y, z, u8) };
    MemSt32Ld32 { p, q, o } => { pair_store!(grown_or_trap, p, q, o, u32); let (x, y, z) = arg!(); pair_load!(second_out_of_bounds, x, y, z, u32) };
    MemSt32Ld64 { p, q, o } => { pair_store!(grown_or_trap, p, q, o, u32); let (x, y, z) = arg!(); pair_load!(second_out_of_bounds, x, y, z, u64) };
    MemSt32Ld8U { p, q, o } => { pair_store!(grown_or_trap, p, q, o, u32); let (x, y, z) = arg!(); pair_load!(second_out_of_bounds, x, y, z, u8) };
    MemSt32St32 { p, q, o } => { pair_store!(grown_or_trap, p, q, o, u32); let (x, y, z) = arg!(); pair_store!(second_out_of_bounds, x, y, z, u32) };
    MemSt32St64 { p, q, o } => { pair_store!(grown_or_trap, p, q, o, u32); let (x, y, z) = arg!(); pair_store!(second_out_of_bounds, x, y, z, u64) };
    MemSt32St8 { p, q, o } => { pair_store!(grown_or_trap, p, q, o, u32); let (x, y, z) = arg!(); pair_store!(second_out_of_bounds, x, y, z, u8) };
    MemSt64Ld32 { p, q, o } => { pair_store!(grown_or_trap, p, q, o, u64); let (x, y, z) = arg!(); pair_load!(second_out_of_bounds, x, y, z, u32) };
    MemSt64Ld64 { p, q, o } => { pair_store!(grown_or_trap, p, q, o, u64); let (x, y, z) = arg!(); pair_load!(second_out_of_bounds, x, y, z, u64) };
    MemSt64Ld8U { p, q, o } => { pair_store!(grown_or_trap, p, q, o, u64); let (x, y, z) = arg!(); pair_load!(second_out_of_bounds, x, y, z, u8) };
    MemSt64St32 { p, q, o } => { pair_store!(grown_or_trap, p, q, o, u64); let (x, y, z) = arg!(); pair_store!(second_out_of_bounds, x, y, z, u32) };
    MemSt64St64 { p, q, o } => { pair_store!(grown_or_trap, p, q, o, u64); let (x, y, z) = arg!(); pair_store!(second_out_of_bounds, x, y, z, u64) };
    MemSt64St8 { p, q, o } => { pair_store!(grown_or_trap, p, q, o, u64); let (x, y, z) = arg!(); pair_store!(second_out_of_bounds, x, y, z, u8) };
    MemSt8Ld32 { p, q, o } => { pair_store!(grown_or_trap, p, q, o, u8); let (x, y, z) = arg!(); pair_load!(second_out_of_bounds, x, y, z, u32) };
    MemSt8Ld64 { p, q, o } => { pair_store!(grown_or_trap, p, q, o, u8); let (x, y, z) = arg!(); pair_load!(second_out_of_bounds, x, y, z, u64) };
    MemSt8Ld8U { p, q, o } => { pair_store!(grown_or_trap, p, q, o, u8); let (x, y, z) = arg!(); pair_load!(second_out_of_bounds, x, y, z, u8) };
    MemSt8St32 { p, q, o } => { pair_store!(grown_or_trap, p, q, o, u8); let (x, y, z) = arg!(); pair_store!(second_out_of_bounds, x, y, z, u32) };
    MemSt8St64 { p, q, o } => { pair_store!(grown_or_trap, p, q, o, u8); let (x, y, z) = arg!(); pair_store!(second_out_of_bounds, x, y, z, u64) };
    MemSt8St8 { p, q, o } => { pair_store!(grown_or_trap, p, q, o, u8); let (x, y, z) = arg!(); pair_store!(second_out_of_bounds, x, y, z, u8) };
    I32ShlAddI { k, d, a, i } => {
        wr!(d, (i32_!(a).wrapping_shl(u32::from(k)).wrapping_add(i as u32)) as u64)
    };
    I32LoadShlAddI { k, d, a, i } => {
        load_at!(d, i32_!(a).wrapping_shl(u32::from(k)).wrapping_add(i as u32) as u64, u32, |v: u32| v as u64)
    };
    Const32 { d, v } => { wr!(d, v as u64) };
    Const64 { d, lo, hi } => { wr!(d, (hi as u64) << 32 | lo as u64) };
    ConstV128 { d, k } => { wr128!(d, cf.v128_consts[k as usize]) };
    Select { d, a, b } => {
        let (c, _, _) = arg!();
        wr!(d, pick!(i32_!(c) != 0, rd!(a), rd!(b)))
    };
    SelectElseK { d, a } => {
        let (c, lo, hi) = arg!();
        wr!(d, pick!(i32_!(c) != 0, rd!(a), u64::from(hi) << 32 | u64::from(lo)))
    };
    SelectThenK { d, b } => {
        let (c, lo, hi) = arg!();
        wr!(d, pick!(i32_!(c) != 0, u64::from(hi) << 32 | u64::from(lo), rd!(b)))
    };
    SelectNz64 { d, a, b } => {
        let (c, _, _) = arg!();
        wr!(d, pick!(rd!(c) != 0, rd!(a), rd!(b)))
    };
    I32MulAddI { a, d, i, j } => {
        wr!(d, i32_!(a).wrapping_mul(i as u32).wrapping_add(j as u32) as u64)
    };
    I64MulAddI { a, d, i, j } => {
        wr!(d, rd!(a).wrapping_mul(i as i64 as u64).wrapping_add(j as i64 as u64))
    };
    SelectAnd { d, a, b } => {
        let (c, m, _) = arg!();
        wr!(d, pick!(i32_!(c) & m != 0, rd!(a), rd!(b)))
    };
    SelectAnd64 { d, a, b } => {
        let (c, m, _) = arg!();
        wr!(d, pick!(rd!(c) & (m as i32 as u64) != 0, rd!(a), rd!(b)))
    };
    Select2 { d, a, b } => {
        let (c, _, _) = arg!();
        wr128!(d, if i32_!(c) != 0 { rd128!(a) } else { rd128!(b) })
    };
    GlobalGet { d, g } => {
        // SAFETY: `g` is the context offset of the global's cell pointer; cells are
        // boxed in the store and live as long as it.
        wr!(d, unsafe { (*vm_read::<*const GlobalCell>(vmctx, g)).value } as u64)
    };
    GlobalSet { g, a } => {
        let v = rd!(a) as u128;
        // SAFETY: as for GlobalGet; the store is exclusively borrowed.
        unsafe { (*vm_read::<*mut GlobalCell>(vmctx, g)).value = v }
    };
    GlobalAddI { g, d, i } => {
        // SAFETY: as for GlobalGet; the store is exclusively borrowed.
        wr!(d, unsafe { add_to_global(vmctx, g, i) } as u64)
    };
    GlobalGetAddI { g, d, i } => {
        // SAFETY: as for GlobalGet.
        wr!(d, unsafe { global_plus(vmctx, g, i) } as u64)
    };
    GlobalSetAddI { g, a, i } => {
        // SAFETY: as for GlobalGet; the store is exclusively borrowed.
        unsafe { set_global_plus(vmctx, g, rd!(a), i) }
    };
    GlobalGet2 { d, g } => {
        // SAFETY: as for GlobalGet.
        wr128!(d, unsafe { (*vm_read::<*const GlobalCell>(vmctx, g)).value })
    };
    GlobalSet2 { g, a } => {
        let v = rd128!(a);
        // SAFETY: as for GlobalSet.
        unsafe { (*vm_read::<*mut GlobalCell>(vmctx, g)).value = v }
    };
    I32Load { d, a, o } => { load!(d, a, o, u32, |v: u32| v as u64) };
    I32LoadK { d, o } => { wr!(d, u64::from(read_end!(u64::from(o), u32))) };
    I64Load { d, a, o } => { load!(d, a, o, u64, |v: u64| v) };
    I32Load8S { d, a, o } => {
        load!(d, a, o, u8, |v: u8| v as i8 as i32 as u32 as u64)
    };
    I32Load8U { d, a, o } => { load!(d, a, o, u8, |v: u8| v as u64) };
    I32Load16S { d, a, o } => {
        load!(d, a, o, u16, |v: u16| v as i16 as i32 as u32 as u64)
    };
    I32Load16U { d, a, o } => { load!(d, a, o, u16, |v: u16| v as u64) };
    I64Load8S { d, a, o } => { load!(d, a, o, u8, |v: u8| v as i8 as i64 as u64) };
    I64Load8U { d, a, o } => { load!(d, a, o, u8, |v: u8| v as u64) };
    I64Load16S { d, a, o } => {
        load!(d, a, o, u16, |v: u16| v as i16 as i64 as u64)
    };
    I64Load16U { d, a, o } => { load!(d, a, o, u16, |v: u16| v as u64) };
    I64Load32S { d, a, o } => {
        load!(d, a, o, u32, |v: u32| v as i32 as i64 as u64)
    };
    I64Load32U { d, a, o } => { load!(d, a, o, u32, |v: u32| v as u64) };
    V128Load { d, a, o } => {
        let p = ea!(a, o, 16);
        // Lane order in memory is the slots' byte order (`simd::V128`): copied as it is, by
        // one 16-byte store that the operation reading the slots gets forwarded.
        // SAFETY: in bounds per `ea!`.
        let v = unsafe { (p as *const [u8; 16]).read_unaligned() };
        wrv!(d, simd::V128(v))
    };
    I32Store { a, v, o } => { store!(a, v, o, u32) };
    I64Store { a, v, o } => { store!(a, v, o, u64) };
    I32Store8 { a, v, o } => { store!(a, v, o, u8) };
    I32Store16 { a, v, o } => { store!(a, v, o, u16) };
    I64Store32 { a, v, o } => { store!(a, v, o, u32) };
    I32LoadPlusI { a, d, o, i } => {
        load!(d, a, o, u32, |v: u32| v.wrapping_add(i as u32) as u64)
    };
    I32LoadAddI { d, a, i } => {
        load_at!(d, i32_!(a).wrapping_add(i as u32) as u64, u32, |v: u32| v as u64)
    };
    I64LoadAddI { d, a, i } => {
        load_at!(d, i32_!(a).wrapping_add(i as u32) as u64, u64, |v| v)
    };
    I32LoadAddITee { t, a, d, i } => {
        let ea = i32_!(a).wrapping_add(i as u32);
        wr!(t, u64::from(ea));
        load_at!(d, u64::from(ea), u32, |v: u32| v as u64)
    };
    I64LoadAddITee { t, a, d, i } => {
        let ea = i32_!(a).wrapping_add(i as u32);
        wr!(t, u64::from(ea));
        load_at!(d, u64::from(ea), u64, |v| v)
    };
    I32Load8UAddI { d, a, i } => {
        load_at!(d, i32_!(a).wrapping_add(i as u32) as u64, u8, |v: u8| v as u64)
    };
    I32StoreAddI { a, v, i } => {
        store_at!(i32_!(a).wrapping_add(i as u32) as u64, rd!(v) as u32, u32)
    };
    I32StoreIdx { k, a, b, v } => { store_at!(idx_addr!(a, b, k), rd!(v) as u32, u32) };
    I32Store8Idx { k, a, b, v } => { store_at!(idx_addr!(a, b, k), rd!(v) as u8, u8) };
    MemLd8UIdxSt8Idx { k, j, d, a, b } => {
        load_at!(d, idx_addr!(a, b, k), u8, u64::from);
        let (x, y, z) = arg!();
        store_at!(second_out_of_bounds; idx_addr!(x, y, j), rd!(z) as u8, u8);
    };
    I32Store8IdxI { k, v, a, b } => { store_at!(idx_addr!(a, b, k), v, u8) };
    I64StoreAddI { a, v, i } => {
        store_at!(i32_!(a).wrapping_add(i as u32) as u64, rd!(v), u64)
    };
    I32StoreI { a, o, v } => { store_imm!(a, o, v, u32) };
    I64StoreI { s, a, o, v } => { store_imm!(a, o, imm64(v, s), i64) };
    I32Store8I { a, o, v } => { store_imm!(a, o, v as u8, u8) };
    I32RmwAddI { a, o, i } => { rmw32!(a, o, |x: u32| x.wrapping_add(i as u32)) };
    I32RmwAdd { a, o, b } => { rmw32!(a, o, |x: u32| x.wrapping_add(i32_!(b))) };
    I32RmwSub { a, o, b } => { rmw32!(a, o, |x: u32| x.wrapping_sub(i32_!(b))) };
    I32RmwAnd { a, o, b } => { rmw32!(a, o, |x: u32| x & i32_!(b)) };
    I32RmwOr { a, o, b } => { rmw32!(a, o, |x: u32| x | i32_!(b)) };
    I32RmwXor { a, o, b } => { rmw32!(a, o, |x: u32| x ^ i32_!(b)) };
    I32Store16I { a, o, v } => { store_imm!(a, o, v as u16, u16) };
    V128Store { a, v, o } => {
        let p = ea!(a, o, 16);
        let val = rdv!(v);
        // SAFETY: in bounds per `ea!`.
        unsafe { (p as *mut [u8; 16]).write_unaligned(val.0) }
    };
    RefIsNull { d, a } => { wr!(d, (rd!(a) == 0) as u64) };
    RefAsNonNull { d, a } => {
        let r = rd!(a);
        if r == 0 {
            trap!(TrapCode::NullReference)
        }
        wr!(d, r)
    };
    RefEq { d, a, b } => { wr!(d, (rd!(a) == rd!(b)) as u64) };
    // ---- immediates and fused compare-branches ----
    I32AddI { d, a, i } => { wr!(d, (i32_!(a).wrapping_add(i as u32)) as u64) };
    // ---- two f64 operations in one (`c` in the `Arg` word) ----
    F64AddAdd { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, (f64_!(a) + f64_!(b)) + f64_!(c)) };
    F64AddSub { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, (f64_!(a) + f64_!(b)) - f64_!(c)) };
    F64AddMul { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, (f64_!(a) + f64_!(b)) * f64_!(c)) };
    F64AddDiv { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, (f64_!(a) + f64_!(b)) / f64_!(c)) };
    F64SubAdd { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, (f64_!(a) - f64_!(b)) + f64_!(c)) };
    F64SubSub { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, (f64_!(a) - f64_!(b)) - f64_!(c)) };
    F64SubMul { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, (f64_!(a) - f64_!(b)) * f64_!(c)) };
    F64SubDiv { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, (f64_!(a) - f64_!(b)) / f64_!(c)) };
    F64MulAdd { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, (f64_!(a) * f64_!(b)) + f64_!(c)) };
    F64MulSub { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, (f64_!(a) * f64_!(b)) - f64_!(c)) };
    F64MulMul { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, (f64_!(a) * f64_!(b)) * f64_!(c)) };
    F64MulDiv { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, (f64_!(a) * f64_!(b)) / f64_!(c)) };
    F64DivAdd { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, (f64_!(a) / f64_!(b)) + f64_!(c)) };
    F64DivSub { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, (f64_!(a) / f64_!(b)) - f64_!(c)) };
    F64DivMul { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, (f64_!(a) / f64_!(b)) * f64_!(c)) };
    F64DivDiv { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, (f64_!(a) / f64_!(b)) / f64_!(c)) };
    F64AddAddR { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, f64_!(c) + (f64_!(a) + f64_!(b))) };
    F64AddSubR { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, f64_!(c) - (f64_!(a) + f64_!(b))) };
    F64AddMulR { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, f64_!(c) * (f64_!(a) + f64_!(b))) };
    F64AddDivR { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, f64_!(c) / (f64_!(a) + f64_!(b))) };
    F64SubAddR { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, f64_!(c) + (f64_!(a) - f64_!(b))) };
    F64SubSubR { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, f64_!(c) - (f64_!(a) - f64_!(b))) };
    F64SubMulR { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, f64_!(c) * (f64_!(a) - f64_!(b))) };
    F64SubDivR { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, f64_!(c) / (f64_!(a) - f64_!(b))) };
    F64MulAddR { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, f64_!(c) + (f64_!(a) * f64_!(b))) };
    F64MulSubR { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, f64_!(c) - (f64_!(a) * f64_!(b))) };
    F64MulMulR { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, f64_!(c) * (f64_!(a) * f64_!(b))) };
    F64MulDivR { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, f64_!(c) / (f64_!(a) * f64_!(b))) };
    F64DivAddR { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, f64_!(c) + (f64_!(a) / f64_!(b))) };
    F64DivSubR { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, f64_!(c) - (f64_!(a) / f64_!(b))) };
    F64DivMulR { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, f64_!(c) * (f64_!(a) / f64_!(b))) };
    F64DivDivR { d, a, b } => { let (c, _, _) = arg!(); wf64!(d, f64_!(c) / (f64_!(a) / f64_!(b))) };
    // ---- compare-and-select ----
    SelI32Eq { d, a, b } => select_if!(d, i32_!(a) == i32_!(b));
    SelI32Ne { d, a, b } => select_if!(d, i32_!(a) != i32_!(b));
    SelI32LtS { d, a, b } => select_if!(d, (i32_!(a) as i32) < (i32_!(b) as i32));
    SelI32LtU { d, a, b } => select_if!(d, i32_!(a) < i32_!(b));
    SelI32GtS { d, a, b } => select_if!(d, (i32_!(a) as i32) > (i32_!(b) as i32));
    SelI32GtU { d, a, b } => select_if!(d, i32_!(a) > i32_!(b));
    SelI32LeS { d, a, b } => select_if!(d, (i32_!(a) as i32) <= (i32_!(b) as i32));
    SelI32LeU { d, a, b } => select_if!(d, i32_!(a) <= i32_!(b));
    SelI32GeS { d, a, b } => select_if!(d, (i32_!(a) as i32) >= (i32_!(b) as i32));
    SelI32GeU { d, a, b } => select_if!(d, i32_!(a) >= i32_!(b));
    SelI64Eq { d, a, b } => select_if!(d, rd!(a) == rd!(b));
    SelI64Ne { d, a, b } => select_if!(d, rd!(a) != rd!(b));
    SelI64LtS { d, a, b } => select_if!(d, (rd!(a) as i64) < (rd!(b) as i64));
    SelI64LtU { d, a, b } => select_if!(d, rd!(a) < rd!(b));
    SelI64GtS { d, a, b } => select_if!(d, (rd!(a) as i64) > (rd!(b) as i64));
    SelI64GtU { d, a, b } => select_if!(d, rd!(a) > rd!(b));
    SelI64LeS { d, a, b } => select_if!(d, (rd!(a) as i64) <= (rd!(b) as i64));
    SelI64LeU { d, a, b } => select_if!(d, rd!(a) <= rd!(b));
    SelI64GeS { d, a, b } => select_if!(d, (rd!(a) as i64) >= (rd!(b) as i64));
    SelI64GeU { d, a, b } => select_if!(d, rd!(a) >= rd!(b));
    I32AddIShl { k, d, a, b, i } => {
        let x = i32_!(a).wrapping_add(i as u32);
        wr!(d, x.wrapping_add(i32_!(b).wrapping_shl(u32::from(k))) as u64)
    };
    I32AddShl { d, a, b, k } => {
        wr!(d, i32_!(a).wrapping_add(i32_!(b).wrapping_shl(u32::from(k))) as u64)
    };
    I32LoadIdx { d, a, b, k } => {
        load_at!(d, idx_addr!(a, b, k), u32, |v: u32| v as u64)
    };
    I32Load8UIdx { d, a, b, k } => {
        load_at!(d, idx_addr!(a, b, k), u8, |v: u8| v as u64)
    };
    I64LoadIdx { d, a, b, k } => {
        load_at!(d, idx_addr!(a, b, k), u64, |v| v)
    };
    I32MulI { d, a, i } => { wr!(d, (i32_!(a).wrapping_mul(i as u32)) as u64) };
    I32AndI { d, a, i } => { wr!(d, (i32_!(a) & (i as u32)) as u64) };
    I32OrI { d, a, i } => { wr!(d, (i32_!(a) | (i as u32)) as u64) };
    I32XorI { d, a, i } => { wr!(d, (i32_!(a) ^ (i as u32)) as u64) };
    I32ShlI { d, a, i } => { wr!(d, (i32_!(a).wrapping_shl(i as u32)) as u64) };
    I32WrapShrU { d, a, i } => { wr!(d, u64::from((rd!(a) >> i) as u32)) };
    I32ConstShl { d, a, i } => { wr!(d, (i as u32).wrapping_shl(i32_!(a)) as u64) };
    I32ConstSub { d, a, i } => { wr!(d, (i as u32).wrapping_sub(i32_!(a)) as u64) };
    I32ShrSI { d, a, i } => {
        wr!(d, ((i32_!(a) as i32).wrapping_shr(i as u32) as u32) as u64)
    };
    I32ShrUI { d, a, i } => { wr!(d, (i32_!(a).wrapping_shr(i as u32)) as u64) };
    I32RotlI { d, a, i } => { wr!(d, i32_!(a).rotate_left(i as u32) as u64) };
    I32RotrI { d, a, i } => { wr!(d, i32_!(a).rotate_right(i as u32) as u64) };
    I32EqI { d, a, i } => { wr!(d, (i32_!(a) == (i as u32)) as u64) };
    I32NeI { d, a, i } => { wr!(d, (i32_!(a) != (i as u32)) as u64) };
    I32LtSI { d, a, i } => { wr!(d, ((i32_!(a) as i32) < i) as u64) };
    I32LtUI { d, a, i } => { wr!(d, (i32_!(a) < (i as u32)) as u64) };
    I32GtSI { d, a, i } => { wr!(d, ((i32_!(a) as i32) > i) as u64) };
    I32GtUI { d, a, i } => { wr!(d, (i32_!(a) > (i as u32)) as u64) };
    I32LeSI { d, a, i } => { wr!(d, ((i32_!(a) as i32) <= i) as u64) };
    I32LeUI { d, a, i } => { wr!(d, (i32_!(a) <= (i as u32)) as u64) };
    I32GeSI { d, a, i } => { wr!(d, ((i32_!(a) as i32) >= i) as u64) };
    I32GeUI { d, a, i } => { wr!(d, (i32_!(a) >= (i as u32)) as u64) };
    I64AddI { s, d, a, i } => {
        let i = imm64(i, s);
        wr!(d, rd!(a).wrapping_add(i as u64))
    };
    I64MulI { s, d, a, i } => {
        let i = imm64(i, s);
        wr!(d, rd!(a).wrapping_mul(i as u64))
    };
    I64AndI { s, d, a, i } => {
        let i = imm64(i, s); wr!(d, rd!(a) & (i as u64)) };
    I64AndNotI { s, d, a, i } => {
        let i = imm64(i, s); wr!(d, rd!(a) & !(i as u64)) };
    I64OrI { s, d, a, i } => {
        let i = imm64(i, s); wr!(d, rd!(a) | (i as u64)) };
    I64XorI { s, d, a, i } => {
        let i = imm64(i, s); wr!(d, rd!(a) ^ (i as u64)) };
    I64ShlI { d, a, i } => { wr!(d, rd!(a).wrapping_shl(i as u32)) };
    I64ShrSI { d, a, i } => {
        wr!(d, ((rd!(a) as i64).wrapping_shr(i as u32)) as u64)
    };
    I64ShrUI { d, a, i } => { wr!(d, rd!(a).wrapping_shr(i as u32)) };
    I64RotlI { d, a, i } => { wr!(d, rd!(a).rotate_left(i as u32)) };
    I64RotrI { d, a, i } => { wr!(d, rd!(a).rotate_right(i as u32)) };
    I64EqI { s, d, a, i } => {
        let i = imm64(i, s); wr!(d, (rd!(a) == (i as u64)) as u64) };
    I64NeI { s, d, a, i } => {
        let i = imm64(i, s); wr!(d, (rd!(a) != (i as u64)) as u64) };
    I64LtSI { s, d, a, i } => {
        let i = imm64(i, s); wr!(d, ((rd!(a) as i64) < i) as u64) };
    I64LtUI { s, d, a, i } => {
        let i = imm64(i, s); wr!(d, (rd!(a) < (i as u64)) as u64) };
    I64GtSI { s, d, a, i } => {
        let i = imm64(i, s); wr!(d, ((rd!(a) as i64) > i) as u64) };
    I64GtUI { s, d, a, i } => {
        let i = imm64(i, s); wr!(d, (rd!(a) > (i as u64)) as u64) };
    I64LeSI { s, d, a, i } => {
        let i = imm64(i, s); wr!(d, ((rd!(a) as i64) <= i) as u64) };
    I64LeUI { s, d, a, i } => {
        let i = imm64(i, s); wr!(d, (rd!(a) <= (i as u64)) as u64) };
    I64GeSI { s, d, a, i } => {
        let i = imm64(i, s); wr!(d, ((rd!(a) as i64) >= i) as u64) };
    I64GeUI { s, d, a, i } => {
        let i = imm64(i, s); wr!(d, (rd!(a) >= (i as u64)) as u64) };
    BrI32Eq { a, b, t } => {
        if i32_!(a) == i32_!(b) {
            jump!(t)
        }
    };
    BrI32EqI { a, i, t } => {
        if i32_!(a) == (i as u32) {
            jump!(t)
        }
    };
    BrI32Ne { a, b, t } => {
        if i32_!(a) != i32_!(b) {
            jump!(t)
        }
    };
    BrI32NeI { a, i, t } => {
        if i32_!(a) != (i as u32) {
            jump!(t)
        }
    };
    BrI32LtS { a, b, t } => {
        if (i32_!(a) as i32) < (i32_!(b) as i32) {
            jump!(t)
        }
    };
    BrI32LtSI { a, i, t } => {
        if (i32_!(a) as i32) < i {
            jump!(t)
        }
    };
    BrI32LtU { a, b, t } => {
        if i32_!(a) < i32_!(b) {
            jump!(t)
        }
    };
    BrI32LtUI { a, i, t } => {
        if i32_!(a) < (i as u32) {
            jump!(t)
        }
    };
    BrI32GtS { a, b, t } => {
        if (i32_!(a) as i32) > (i32_!(b) as i32) {
            jump!(t)
        }
    };
    BrI32GtSI { a, i, t } => {
        if (i32_!(a) as i32) > i {
            jump!(t)
        }
    };
    BrI32GtU { a, b, t } => {
        if i32_!(a) > i32_!(b) {
            jump!(t)
        }
    };
    BrI32GtUI { a, i, t } => {
        if i32_!(a) > (i as u32) {
            jump!(t)
        }
    };
    BrI32LeS { a, b, t } => {
        if (i32_!(a) as i32) <= (i32_!(b) as i32) {
            jump!(t)
        }
    };
    BrI32LeSI { a, i, t } => {
        if (i32_!(a) as i32) <= i {
            jump!(t)
        }
    };
    BrI32LeU { a, b, t } => {
        if i32_!(a) <= i32_!(b) {
            jump!(t)
        }
    };
    BrI32LeUI { a, i, t } => {
        if i32_!(a) <= (i as u32) {
            jump!(t)
        }
    };
    BrI32GeS { a, b, t } => {
        if (i32_!(a) as i32) >= (i32_!(b) as i32) {
            jump!(t)
        }
    };
    BrI32GeSI { a, i, t } => {
        if (i32_!(a) as i32) >= i {
            jump!(t)
        }
    };
    BrI32GeU { a, b, t } => {
        if i32_!(a) >= i32_!(b) {
            jump!(t)
        }
    };
    BrI32GeUI { a, i, t } => {
        if i32_!(a) >= (i as u32) {
            jump!(t)
        }
    };
    BrI64Eq { a, b, t } => {
        if rd!(a) == rd!(b) {
            jump!(t)
        }
    };
    BrI64EqI { s, a, i, t } => {
        let i = imm64(i, s);
        if rd!(a) == (i as u64) {
            jump!(t)
        }
    };
    BrI64Ne { a, b, t } => {
        if rd!(a) != rd!(b) {
            jump!(t)
        }
    };
    BrI64NeI { s, a, i, t } => {
        let i = imm64(i, s);
        if rd!(a) != (i as u64) {
            jump!(t)
        }
    };
    BrI64LtS { a, b, t } => {
        if (rd!(a) as i64) < (rd!(b) as i64) {
            jump!(t)
        }
    };
    BrI64LtSI { s, a, i, t } => {
        let i = imm64(i, s);
        if (rd!(a) as i64) < i {
            jump!(t)
        }
    };
    BrI64LtU { a, b, t } => {
        if rd!(a) < rd!(b) {
            jump!(t)
        }
    };
    BrI64LtUI { s, a, i, t } => {
        let i = imm64(i, s);
        if rd!(a) < (i as u64) {
            jump!(t)
        }
    };
    BrI64GtS { a, b, t } => {
        if (rd!(a) as i64) > (rd!(b) as i64) {
            jump!(t)
        }
    };
    BrI64GtSI { s, a, i, t } => {
        let i = imm64(i, s);
        if (rd!(a) as i64) > i {
            jump!(t)
        }
    };
    BrI64GtU { a, b, t } => {
        if rd!(a) > rd!(b) {
            jump!(t)
        }
    };
    BrI64GtUI { s, a, i, t } => {
        let i = imm64(i, s);
        if rd!(a) > (i as u64) {
            jump!(t)
        }
    };
    BrI64LeS { a, b, t } => {
        if (rd!(a) as i64) <= (rd!(b) as i64) {
            jump!(t)
        }
    };
    BrI64LeSI { s, a, i, t } => {
        let i = imm64(i, s);
        if (rd!(a) as i64) <= i {
            jump!(t)
        }
    };
    BrI64LeU { a, b, t } => {
        if rd!(a) <= rd!(b) {
            jump!(t)
        }
    };
    BrI64LeUI { s, a, i, t } => {
        let i = imm64(i, s);
        if rd!(a) <= (i as u64) {
            jump!(t)
        }
    };
    BrI64GeS { a, b, t } => {
        if (rd!(a) as i64) >= (rd!(b) as i64) {
            jump!(t)
        }
    };
    BrI64GeSI { s, a, i, t } => {
        let i = imm64(i, s);
        if (rd!(a) as i64) >= i {
            jump!(t)
        }
    };
    BrI64GeU { a, b, t } => {
        if rd!(a) >= rd!(b) {
            jump!(t)
        }
    };
    BrI64GeUI { s, a, i, t } => {
        let i = imm64(i, s);
        if rd!(a) >= (i as u64) {
            jump!(t)
        }
    };
    // ---- i32 ----
    I32Add { d, a, b } => { wr!(d, i32_!(a).wrapping_add(i32_!(b)) as u64) };
    I32Sub { d, a, b } => { wr!(d, i32_!(a).wrapping_sub(i32_!(b)) as u64) };
    I32Mul { d, a, b } => { wr!(d, i32_!(a).wrapping_mul(i32_!(b)) as u64) };
    I32DivS { d, a, b } => {
        let (x, y) = (i32_!(a) as i32, i32_!(b) as i32);
        if y == 0 {
            trap!(TrapCode::IntegerDivideByZero)
        }
        if x == i32::MIN && y == -1 {
            trap!(TrapCode::IntegerOverflow)
        }
        wr!(d, (x / y) as u32 as u64)
    };
    I32DivU { d, a, b } => {
        let (x, y) = (i32_!(a), i32_!(b));
        if y == 0 {
            trap!(TrapCode::IntegerDivideByZero)
        }
        wr!(d, (x / y) as u64)
    };
    I32RemS { d, a, b } => {
        let (x, y) = (i32_!(a) as i32, i32_!(b) as i32);
        if y == 0 {
            trap!(TrapCode::IntegerDivideByZero)
        }
        wr!(d, x.wrapping_rem(y) as u32 as u64)
    };
    I32RemU { d, a, b } => {
        let (x, y) = (i32_!(a), i32_!(b));
        if y == 0 {
            trap!(TrapCode::IntegerDivideByZero)
        }
        wr!(d, (x % y) as u64)
    };
    I32And { d, a, b } => { wr!(d, (i32_!(a) & i32_!(b)) as u64) };
    I32Or { d, a, b } => { wr!(d, (i32_!(a) | i32_!(b)) as u64) };
    I32Xor { d, a, b } => { wr!(d, (i32_!(a) ^ i32_!(b)) as u64) };
    I32Shl { d, a, b } => { wr!(d, i32_!(a).wrapping_shl(i32_!(b)) as u64) };
    I32ShrS { d, a, b } => {
        wr!(d, (i32_!(a) as i32).wrapping_shr(i32_!(b)) as u32 as u64)
    };
    I32ShrU { d, a, b } => { wr!(d, i32_!(a).wrapping_shr(i32_!(b)) as u64) };
    I32Rotl { d, a, b } => { wr!(d, i32_!(a).rotate_left(i32_!(b) % 32) as u64) };
    I32Rotr { d, a, b } => { wr!(d, i32_!(a).rotate_right(i32_!(b) % 32) as u64) };
    I32Eq { d, a, b } => { wr!(d, (i32_!(a) == i32_!(b)) as u64) };
    I32Ne { d, a, b } => { wr!(d, (i32_!(a) != i32_!(b)) as u64) };
    I32LtS { d, a, b } => { wr!(d, ((i32_!(a) as i32) < (i32_!(b) as i32)) as u64) };
    I32LtU { d, a, b } => { wr!(d, (i32_!(a) < i32_!(b)) as u64) };
    I32GtS { d, a, b } => { wr!(d, ((i32_!(a) as i32) > (i32_!(b) as i32)) as u64) };
    I32GtU { d, a, b } => { wr!(d, (i32_!(a) > i32_!(b)) as u64) };
    I32LeS { d, a, b } => {
        wr!(d, ((i32_!(a) as i32) <= (i32_!(b) as i32)) as u64)
    };
    I32LeU { d, a, b } => { wr!(d, (i32_!(a) <= i32_!(b)) as u64) };
    I32GeS { d, a, b } => {
        wr!(d, ((i32_!(a) as i32) >= (i32_!(b) as i32)) as u64)
    };
    I32GeU { d, a, b } => { wr!(d, (i32_!(a) >= i32_!(b)) as u64) };
    I32Eqz { d, a } => { wr!(d, (i32_!(a) == 0) as u64) };
    I32Clz { d, a } => { wr!(d, i32_!(a).leading_zeros() as u64) };
    I32Ctz { d, a } => { wr!(d, i32_!(a).trailing_zeros() as u64) };
    I32Popcnt { d, a } => { wr!(d, i32_!(a).count_ones() as u64) };
    // ---- i64 ----
    I64Add { d, a, b } => { wr!(d, rd!(a).wrapping_add(rd!(b))) };
    I64Sub { d, a, b } => { wr!(d, rd!(a).wrapping_sub(rd!(b))) };
    I64Mul { d, a, b } => { wr!(d, rd!(a).wrapping_mul(rd!(b))) };
    I64DivS { d, a, b } => {
        let (x, y) = (rd!(a) as i64, rd!(b) as i64);
        if y == 0 {
            trap!(TrapCode::IntegerDivideByZero)
        }
        if x == i64::MIN && y == -1 {
            trap!(TrapCode::IntegerOverflow)
        }
        wr!(d, (x / y) as u64)
    };
    I64DivU { d, a, b } => {
        let (x, y) = (rd!(a), rd!(b));
        if y == 0 {
            trap!(TrapCode::IntegerDivideByZero)
        }
        wr!(d, x / y)
    };
    I64RemS { d, a, b } => {
        let (x, y) = (rd!(a) as i64, rd!(b) as i64);
        if y == 0 {
            trap!(TrapCode::IntegerDivideByZero)
        }
        wr!(d, x.wrapping_rem(y) as u64)
    };
    I64RemU { d, a, b } => {
        let (x, y) = (rd!(a), rd!(b));
        if y == 0 {
            trap!(TrapCode::IntegerDivideByZero)
        }
        wr!(d, x % y)
    };
    I64And { d, a, b } => { wr!(d, rd!(a) & rd!(b)) };
    I64Or { d, a, b } => { wr!(d, rd!(a) | rd!(b)) };
    I64Xor { d, a, b } => { wr!(d, rd!(a) ^ rd!(b)) };
    I64Shl { d, a, b } => { wr!(d, rd!(a).wrapping_shl(rd!(b) as u32)) };
    I64ShrS { d, a, b } => {
        wr!(d, (rd!(a) as i64).wrapping_shr(rd!(b) as u32) as u64)
    };
    I64ShrU { d, a, b } => { wr!(d, rd!(a).wrapping_shr(rd!(b) as u32)) };
    I64Rotl { d, a, b } => { wr!(d, rd!(a).rotate_left((rd!(b) % 64) as u32)) };
    I64Rotr { d, a, b } => { wr!(d, rd!(a).rotate_right((rd!(b) % 64) as u32)) };
    I64Eq { d, a, b } => { wr!(d, (rd!(a) == rd!(b)) as u64) };
    I64Ne { d, a, b } => { wr!(d, (rd!(a) != rd!(b)) as u64) };
    I64LtS { d, a, b } => { wr!(d, ((rd!(a) as i64) < (rd!(b) as i64)) as u64) };
    I64LtU { d, a, b } => { wr!(d, (rd!(a) < rd!(b)) as u64) };
    I64GtS { d, a, b } => { wr!(d, ((rd!(a) as i64) > (rd!(b) as i64)) as u64) };
    I64GtU { d, a, b } => { wr!(d, (rd!(a) > rd!(b)) as u64) };
    I64LeS { d, a, b } => { wr!(d, ((rd!(a) as i64) <= (rd!(b) as i64)) as u64) };
    I64LeU { d, a, b } => { wr!(d, (rd!(a) <= rd!(b)) as u64) };
    I64GeS { d, a, b } => { wr!(d, ((rd!(a) as i64) >= (rd!(b) as i64)) as u64) };
    I64GeU { d, a, b } => { wr!(d, (rd!(a) >= rd!(b)) as u64) };
    I64Eqz { d, a } => { wr!(d, (rd!(a) == 0) as u64) };
    I64Clz { d, a } => { wr!(d, rd!(a).leading_zeros() as u64) };
    I64Ctz { d, a } => { wr!(d, rd!(a).trailing_zeros() as u64) };
    I64Popcnt { d, a } => { wr!(d, rd!(a).count_ones() as u64) };
    // ---- f32 ----
    F32Add { d, a, b } => { wf32!(d, f32_!(a) + f32_!(b)) };
    F32Sub { d, a, b } => { wf32!(d, f32_!(a) - f32_!(b)) };
    F32Mul { d, a, b } => { wf32!(d, f32_!(a) * f32_!(b)) };
    F32Div { d, a, b } => { wf32!(d, f32_!(a) / f32_!(b)) };
    F32Min { d, a, b } => { wf32!(d, num::f32_min(f32_!(a), f32_!(b))) };
    F32Max { d, a, b } => { wf32!(d, num::f32_max(f32_!(a), f32_!(b))) };
    F32Copysign { d, a, b } => {
        wr!(d, ((i32_!(a) & 0x7fff_ffff) | (i32_!(b) & 0x8000_0000)) as u64)
    };
    F32Eq { d, a, b } => { wr!(d, (f32_!(a) == f32_!(b)) as u64) };
    F32Ne { d, a, b } => { wr!(d, (f32_!(a) != f32_!(b)) as u64) };
    F32Lt { d, a, b } => { wr!(d, (f32_!(a) < f32_!(b)) as u64) };
    F32Gt { d, a, b } => { wr!(d, (f32_!(a) > f32_!(b)) as u64) };
    F32Le { d, a, b } => { wr!(d, (f32_!(a) <= f32_!(b)) as u64) };
    F32Ge { d, a, b } => { wr!(d, (f32_!(a) >= f32_!(b)) as u64) };
    F32Abs { d, a } => { wr!(d, (i32_!(a) & 0x7fff_ffff) as u64) };
    F32Neg { d, a } => { wr!(d, (i32_!(a) ^ 0x8000_0000) as u64) };
    F32Ceil { d, a } => { wf32!(d, num::f32_ceil(f32_!(a))) };
    F32Floor { d, a } => { wf32!(d, num::f32_floor(f32_!(a))) };
    F32Trunc { d, a } => { wf32!(d, num::f32_trunc(f32_!(a))) };
    F32Nearest { d, a } => { wf32!(d, num::f32_nearest(f32_!(a))) };
    F32Sqrt { d, a } => { wf32!(d, f32_!(a).sqrt()) };
    // ---- f64 ----
    F64Add { d, a, b } => { wf64!(d, f64_!(a) + f64_!(b)) };
    F64Sub { d, a, b } => { wf64!(d, f64_!(a) - f64_!(b)) };
    F64Mul { d, a, b } => { wf64!(d, f64_!(a) * f64_!(b)) };
    F64Div { d, a, b } => { wf64!(d, f64_!(a) / f64_!(b)) };
    F64Min { d, a, b } => { wf64!(d, num::f64_min(f64_!(a), f64_!(b))) };
    F64Max { d, a, b } => { wf64!(d, num::f64_max(f64_!(a), f64_!(b))) };
    F64Copysign { d, a, b } => {
        wr!(d, (rd!(a) & 0x7fff_ffff_ffff_ffff) | (rd!(b) & 0x8000_0000_0000_0000))
    };
    F64Eq { d, a, b } => { wr!(d, (f64_!(a) == f64_!(b)) as u64) };
    F64Ne { d, a, b } => { wr!(d, (f64_!(a) != f64_!(b)) as u64) };
    F64Lt { d, a, b } => { wr!(d, (f64_!(a) < f64_!(b)) as u64) };
    F64Gt { d, a, b } => { wr!(d, (f64_!(a) > f64_!(b)) as u64) };
    F64Le { d, a, b } => { wr!(d, (f64_!(a) <= f64_!(b)) as u64) };
    F64Ge { d, a, b } => { wr!(d, (f64_!(a) >= f64_!(b)) as u64) };
    F64Abs { d, a } => { wr!(d, rd!(a) & 0x7fff_ffff_ffff_ffff) };
    F64Neg { d, a } => { wr!(d, rd!(a) ^ 0x8000_0000_0000_0000) };
    F64Ceil { d, a } => { wf64!(d, num::f64_ceil(f64_!(a))) };
    F64Floor { d, a } => { wf64!(d, num::f64_floor(f64_!(a))) };
    F64Trunc { d, a } => { wf64!(d, num::f64_trunc(f64_!(a))) };
    F64Nearest { d, a } => { wf64!(d, num::f64_nearest(f64_!(a))) };
    F64Sqrt { d, a } => { wf64!(d, f64_!(a).sqrt()) };
    // ---- conversions ----
    I32WrapI64 { d, a } => { wr!(d, rd!(a) as u32 as u64) };
    I32TruncF32S { d, a } => match num::i32_trunc_f32_s(f32_!(a)) {
        Ok(v) => wr!(d, v as u32 as u64),
        Err(c) => trap!(c),
    };
    I32TruncF32U { d, a } => match num::i32_trunc_f32_u(f32_!(a)) {
        Ok(v) => wr!(d, v as u64),
        Err(c) => trap!(c),
    };
    I32TruncF64S { d, a } => match num::i32_trunc_f64_s(f64_!(a)) {
        Ok(v) => wr!(d, v as u32 as u64),
        Err(c) => trap!(c),
    };
    I32TruncF64U { d, a } => match num::i32_trunc_f64_u(f64_!(a)) {
        Ok(v) => wr!(d, v as u64),
        Err(c) => trap!(c),
    };
    I64TruncF32S { d, a } => match num::i64_trunc_f32_s(f32_!(a)) {
        Ok(v) => wr!(d, v as u64),
        Err(c) => trap!(c),
    };
    I64TruncF32U { d, a } => match num::i64_trunc_f32_u(f32_!(a)) {
        Ok(v) => wr!(d, v),
        Err(c) => trap!(c),
    };
    I64TruncF64S { d, a } => match num::i64_trunc_f64_s(f64_!(a)) {
        Ok(v) => wr!(d, v as u64),
        Err(c) => trap!(c),
    };
    I64TruncF64U { d, a } => match num::i64_trunc_f64_u(f64_!(a)) {
        Ok(v) => wr!(d, v),
        Err(c) => trap!(c),
    };
    I64ExtendI32S { d, a } => { wr!(d, i32_!(a) as i32 as i64 as u64) };
    I64ExtendI32U { d, a } => { wr!(d, i32_!(a) as u64) };
    F32ConvertI32S { d, a } => { wf32!(d, i32_!(a) as i32 as f32) };
    F32ConvertI32U { d, a } => { wf32!(d, i32_!(a) as f32) };
    F32ConvertI64S { d, a } => { wf32!(d, rd!(a) as i64 as f32) };
    F32ConvertI64U { d, a } => { wf32!(d, rd!(a) as f32) };
    F32DemoteF64 { d, a } => { wf32!(d, f64_!(a) as f32) };
    F64ConvertI32S { d, a } => { wf64!(d, i32_!(a) as i32 as f64) };
    F64ConvertI32U { d, a } => { wf64!(d, i32_!(a) as f64) };
    F64ConvertI64S { d, a } => { wf64!(d, rd!(a) as i64 as f64) };
    F64ConvertI64U { d, a } => { wf64!(d, rd!(a) as f64) };
    F64PromoteF32 { d, a } => { wf64!(d, f32_!(a) as f64) };
    I32Extend8S { d, a } => { wr!(d, rd!(a) as i8 as i32 as u32 as u64) };
    I32Extend16S { d, a } => { wr!(d, rd!(a) as i16 as i32 as u32 as u64) };
    I64Extend8S { d, a } => { wr!(d, rd!(a) as i8 as i64 as u64) };
    I64Extend16S { d, a } => { wr!(d, rd!(a) as i16 as i64 as u64) };
    I64Extend32S { d, a } => { wr!(d, rd!(a) as i32 as i64 as u64) };
    // Rust's float-to-int `as` saturates and maps NaN to 0: exactly trunc_sat.
    I32TruncSatF32S { d, a } => { wr!(d, f32_!(a) as i32 as u32 as u64) };
    I32TruncSatF32U { d, a } => { wr!(d, f32_!(a) as u32 as u64) };
    I32TruncSatF64S { d, a } => { wr!(d, f64_!(a) as i32 as u32 as u64) };
    I32TruncSatF64U { d, a } => { wr!(d, f64_!(a) as u32 as u64) };
    I64TruncSatF32S { d, a } => { wr!(d, f32_!(a) as i64 as u64) };
    I64TruncSatF32U { d, a } => { wr!(d, f32_!(a) as u64) };
    I64TruncSatF64S { d, a } => { wr!(d, f64_!(a) as i64 as u64) };
    I64TruncSatF64U { d, a } => { wr!(d, f64_!(a) as u64) };
    // SAFETY (the v128 arms): the slots are the instruction's own, as for every handler.
    V128Unary { d, a, op } => forward!(v128::entry(&v128::UNARY, op as u8));
    V128Binary { d, a, b, op } => forward!(v128::entry(&v128::BINARY, op as u8));
    V128And { d, a, b } => { wrv!(d, SimdBinary::V128And.apply(rdv!(a), rdv!(b))) };
    V128Or { d, a, b } => { wrv!(d, SimdBinary::V128Or.apply(rdv!(a), rdv!(b))) };
    V128Xor { d, a, b } => { wrv!(d, SimdBinary::V128Xor.apply(rdv!(a), rdv!(b))) };
    I8x16Add { d, a, b } => { wrv!(d, SimdBinary::I8x16Add.apply(rdv!(a), rdv!(b))) };
    I8x16Sub { d, a, b } => { wrv!(d, SimdBinary::I8x16Sub.apply(rdv!(a), rdv!(b))) };
    I16x8Add { d, a, b } => { wrv!(d, SimdBinary::I16x8Add.apply(rdv!(a), rdv!(b))) };
    I16x8Sub { d, a, b } => { wrv!(d, SimdBinary::I16x8Sub.apply(rdv!(a), rdv!(b))) };
    I16x8Mul { d, a, b } => { wrv!(d, SimdBinary::I16x8Mul.apply(rdv!(a), rdv!(b))) };
    I32x4Add { d, a, b } => { wrv!(d, SimdBinary::I32x4Add.apply(rdv!(a), rdv!(b))) };
    I32x4Sub { d, a, b } => { wrv!(d, SimdBinary::I32x4Sub.apply(rdv!(a), rdv!(b))) };
    I32x4Mul { d, a, b } => { wrv!(d, SimdBinary::I32x4Mul.apply(rdv!(a), rdv!(b))) };
    I64x2Add { d, a, b } => { wrv!(d, SimdBinary::I64x2Add.apply(rdv!(a), rdv!(b))) };
    F32x4Add { d, a, b } => { wrv!(d, SimdBinary::F32x4Add.apply(rdv!(a), rdv!(b))) };
    F32x4Sub { d, a, b } => { wrv!(d, SimdBinary::F32x4Sub.apply(rdv!(a), rdv!(b))) };
    F32x4Mul { d, a, b } => { wrv!(d, SimdBinary::F32x4Mul.apply(rdv!(a), rdv!(b))) };
    F64x2Add { d, a, b } => { wrv!(d, SimdBinary::F64x2Add.apply(rdv!(a), rdv!(b))) };
    F64x2Mul { d, a, b } => { wrv!(d, SimdBinary::F64x2Mul.apply(rdv!(a), rdv!(b))) };
    V128Ternary { d, a, b, op } => forward!(v128::entry(&v128::TERNARY, op as u8));
    V128Test { d, a, op } => forward!(v128::entry(&v128::TEST, op as u8));
    V128Shift { d, a, b, op } => forward!(v128::entry(&v128::SHIFT, op as u8));
    V128Splat { d, a, op } => unsafe { v128::splat(frame!(), op, d, a) };
    V128Extract { d, a, op, lane } => unsafe { v128::extract(frame!(), op, lane, d, a) };
    V128Replace { d, a, b, op, lane } => unsafe { v128::replace(frame!(), op, lane, d, a, b) };
    V128Shuffle { d, a, b } => {
        let (k, _, _) = arg!();
        unsafe { v128::shuffle(frame!(), &cf.shuffles[k as usize], d, a, b) }
    };
}
