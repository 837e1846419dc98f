//! Exceptions in native code: `throw` and `throw_ref`, and the unwinder that finds their
//! handler.
//!
//! A `throw` allocates the exception object ([`exn_new`], the same store objects as the
//! interpreter's), then calls [`ward_native_throw`] with it; `throw_ref` calls it with the
//! reference it pops, and so does a call out of native code that let an exception through
//! (`libcalls::call_out` reports it with the "exception in flight" trap number). Inside a
//! `try_table` those calls, like every call there, are Cranelift `try_call`s, whose handlers
//! the catch table describes (`catch`).
//!
//! `ward_native_throw` is a few instructions of assembly: it takes the return address its
//! caller pushed and the caller's frame pointer, then jumps to [`unwind_from`], which walks the
//! frame-pointer chain (Cranelift keeps frame pointers) from that call outwards, one wasm frame
//! at a time, as the interpreter's unwinder walks its frames, charging the same fuel (one unit
//! per frame left, one per `try_table` examined) and checking interruption at every frame:
//!
//! - a call with handlers: the caller's context is read from the slot the catch table names,
//!   and the clauses are tried innermost first against the instance's tag identities. A match
//!   resumes at the clause's handler block ([`ward_native_resume`]: stack pointer, frame
//!   pointer, the reference in `rax` as Cranelift's exception payload; the handler's frame
//!   still holds its own call depth, a parameter); the block copies the payload out
//!   (`exn_take`) and branches to the clause's label.
//! - a return address outside wasm functions (the array-call trampoline of the innermost native
//!   entry): the exception leaves native code. It is recorded in the store context and the
//!   frames are abandoned as for a trap (`signals::raise`); the driver returns it as an
//!   uncaught-exception trap that carries the reference, so that native code that called out
//!   goes on unwinding with it.
//!
//! Every frame between the unwinder and the handler is native code's or this module's; none
//! owns anything that needs dropping (see `signals`), so resuming in an outer frame is a
//! complete unwind. The handler's registers are all considered clobbered by Cranelift
//! (`try_call` to the `tail` convention), so only the stack and frame pointers are restored.

use super::catch::{CatchKind, Entry};
use super::libcalls::{self, with_store};
use super::{signals, trap_number, TRAP_EXCEPTION};
use crate::error::TrapCode;
use crate::runtime::vmctx::VMContext;
use crate::runtime::{ExnObject, StoreInner};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
std::arch::global_asm!(
    ".pushsection .text.ward_native_throw,\"ax\",@progbits",
    ".p2align 4",
    ".globl ward_native_throw",
    ".hidden ward_native_throw",
    ".type ward_native_throw,@function",
    // fn(vmctx, exn, replaced) -> ! in Cranelift's `tail` convention (rdi, rsi, rdx), called by
    // native code. Its caller's return address is at the top of the stack and its frame pointer
    // in rbp; `unwind_from(vmctx, exn, pc, fp, replaced)` starts there, with the stack as at a
    // call's entry.
    "ward_native_throw:",
    "mov r8, rdx",
    "mov rdx, [rsp]",
    "mov rcx, rbp",
    "jmp {unwind}",
    ".size ward_native_throw, . - ward_native_throw",
    ".globl ward_native_resume",
    ".hidden ward_native_resume",
    ".type ward_native_resume,@function",
    // fn(sp, fp, pc, exn) -> !: continues at handler `pc` of the frame `sp`/`fp` with the
    // exception reference as Cranelift's first exception payload (rax).
    "ward_native_resume:",
    "mov rsp, rdi",
    "mov rbp, rsi",
    "mov rax, rcx",
    "jmp rdx",
    ".size ward_native_resume, . - ward_native_resume",
    ".popsection",
    unwind = sym unwind_from,
);

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
unsafe extern "C" {
    /// The runtime call of `throw`, `throw_ref` and a rethrow after a call out (see above).
    pub(super) fn ward_native_throw();
    fn ward_native_resume(sp: usize, fp: usize, pc: usize, exn: u64) -> !;
}

/// Where the unwinder goes.
enum Unwound {
    /// To the handler at `pc` of the frame with stack pointer `sp` and frame pointer `fp`.
    Handler { sp: usize, fp: usize, pc: usize },
    /// Out of native code (no wasm frame of this native call takes it).
    Escaped { func: u32, instance: u32 },
    /// A trap while unwinding (fuel ran out, or the store was interrupted).
    Trap { code: TrapCode, func: u32, instance: u32 },
}

/// Unwinds exception `exn` from the call whose return address is `pc` in the frame `fp` (see
/// the module documentation). Never returns. `replaced` (0 or 1): the thrower's frame already
/// made way for a tail call (a call out made as a tail call), so, as in the interpreter, leaving
/// it costs no fuel.
///
/// # Safety
/// Reached only through `ward_native_throw` from native code of the running native call:
/// `vmctx` is the thrower's live context, `exn` a live exception object of its store, and `pc`
/// and `fp` the thrower's call site and frame pointer, with the frame-pointer chain of native
/// frames intact above it up to the native entry.
unsafe extern "C" fn unwind_from(
    vmctx: *mut VMContext,
    exn: u64,
    pc: usize,
    fp: usize,
    replaced: u64,
) -> ! {
    // SAFETY: the caller's contract.
    let vs = unsafe { (*vmctx).header.store };
    // SAFETY: as in `libcalls::with_store`: the store is not otherwise borrowed while native
    // code runs.
    let store = unsafe { &mut *(*vs).store_inner };
    // SAFETY: the caller's contract (the chain from `pc`/`fp` is native frames').
    let found = catch_unwind(AssertUnwindSafe(|| unsafe {
        find_handler(store, exn, pc, fp, replaced != 0)
    }));
    // SAFETY: the store context outlives the native call; nothing else uses it now.
    let vs = unsafe { &mut *vs };
    match found {
        Ok(Unwound::Handler { sp, fp, pc }) => {
            // SAFETY: `find_handler` found `pc` as the handler of a call site of a live native
            // frame of this native call with frame pointer `fp` and stack pointer `sp` at the
            // call (from the catch table); the frames below it are abandoned, which is a
            // complete unwind (module documentation). Nothing in this frame needs dropping.
            unsafe { ward_native_resume(sp, fp, pc, exn) }
        }
        Ok(Unwound::Escaped { func, instance }) => {
            vs.exception = exn;
            vs.trap = TRAP_EXCEPTION;
            vs.trap_func = func;
            vs.trap_instance = instance;
        }
        Ok(Unwound::Trap { code, func, instance }) => {
            vs.trap = trap_number(code);
            vs.trap_func = func;
            vs.trap_instance = instance;
        }
        // SAFETY: the store context is live (above).
        Err(payload) => unsafe { libcalls::park_panic(vs, payload) },
    }
    signals::raise();
    // `raise` returns only where traps do not unwind, and there the translator emits no
    // exception handling at all.
    std::process::abort()
}

/// Walks the wasm frames from call site `pc` of frame `fp` outwards to the first handler of
/// `exn`, charging fuel and checking interruption per frame as the interpreter does (nothing for
/// the first frame if it was `replaced` by a tail call).
///
/// # Safety
/// As [`unwind_from`].
unsafe fn find_handler(
    store: &mut StoreInner,
    exn: u64,
    mut pc: usize,
    mut fp: usize,
    replaced: bool,
) -> Unwound {
    let exn_tag = store.exns.get(exn).tag;
    let fuel = store.engine.config().consume_fuel;
    let mut first = true;
    let mut last = (0, 0);
    loop {
        let Some((instance, code, func)) = super::wasm_frame_at(store, pc) else {
            return Unwound::Escaped { func: last.0, instance: last.1 };
        };
        last = (func, instance);
        // A frame replaced by a tail call is no frame in the interpreter: free, no handlers.
        let mut cost = u64::from(!(replaced && first));
        let mut handler = None;
        if let Some(site) = code.catch_site(pc) {
            let sp = fp - site.frame as usize;
            // SAFETY: the catch table says the caller's context is in this slot of the frame,
            // which is live (the chain is intact, the caller's contract).
            let ctx = unsafe { *((sp + site.context as usize) as *const *const VMContext) };
            // SAFETY: a context native code passed to its own call is live.
            let instance = unsafe { (*ctx).header.instance } as usize;
            let tags = &store.instances[instance].tags;
            let mut depth = 0;
            for &(entry, at) in &site.handlers {
                match code.catch_entries()[entry as usize] {
                    Entry::Marker { depth: d } => depth = d,
                    Entry::Catch { kind, depth: d } => {
                        if kind.tag().is_none_or(|t| tags[t as usize] == exn_tag) {
                            cost += u64::from(depth - d + 1);
                            handler = Some(Unwound::Handler { sp, fp, pc: code.address(at) });
                            break;
                        }
                    }
                }
            }
            if handler.is_none() {
                cost += u64::from(depth);
            }
        }
        if fuel {
            if store.vm.fuel < cost {
                return Unwound::Trap { code: TrapCode::OutOfFuel, func, instance };
            }
            store.vm.fuel -= cost;
        }
        if store.interrupt.load(Ordering::Relaxed) {
            return Unwound::Trap { code: TrapCode::Interrupted, func, instance };
        }
        if let Some(h) = handler {
            return h;
        }
        first = false;
        // SAFETY: `fp` is the frame pointer of a live native frame (Cranelift keeps frame
        // pointers): its saved caller frame pointer is at `fp` and its return address above.
        unsafe {
            pc = *((fp + 8) as *const usize);
            fp = *(fp as *const usize);
        }
    }
}

/// The runtime call of `throw`: a new exception of module tag `tag` of the caller's instance,
/// with the payload in the 8-byte slots at `payload`; returns its reference (0 after a panic,
/// reported as a trap).
///
/// # Safety
/// Called by native code only, with the context of the running function, a tag index of its
/// module and as many slots at `payload` as the tag's parameters take (null if none).
pub(super) unsafe extern "C" fn exn_new(
    vmctx: *mut VMContext,
    tag: u32,
    payload: *const u64,
) -> u64 {
    // SAFETY: the caller's contract (see `with_store`).
    unsafe {
        let instance = (*vmctx).header.instance as usize;
        with_store(vmctx, 0, |store| {
            let tag = store.instances[instance].tags[tag as usize];
            let n = store.tags[tag as usize].ty.param_slots() as usize;
            // A tag without parameters has no payload area (`payload` is null then).
            let values: Box<[u64]> =
                if n == 0 { Box::new([]) } else { std::slice::from_raw_parts(payload, n).into() };
            if store.exns.wants_collection() {
                store.collect_exns(&[]);
            }
            store.exns.alloc(ExnObject::new(tag, values))
        })
    }
}

/// The runtime call of a catch clause's handler: copies exception `exn`'s payload to the slots
/// at `payload` (unless null), then keeps the object if `keep` (the clause delivers the
/// reference) or frees it if nothing else can refer to it.
///
/// # Safety
/// Called by native code only, with the context of the running function, a live exception
/// object of its store and, unless null, as many slots at `payload` as its tag's parameters
/// take.
pub(super) unsafe extern "C" fn exn_take(
    vmctx: *mut VMContext,
    exn: u64,
    payload: *mut u64,
    keep: u32,
) {
    // SAFETY: the caller's contract (see `with_store`).
    unsafe {
        with_store(vmctx, (), |store| {
            if !payload.is_null() {
                let values = &store.exns.get(exn).values;
                std::ptr::copy_nonoverlapping(values.as_ptr(), payload, values.len());
            }
            if keep != 0 {
                store.exns.get_mut(exn).referenced = true;
            } else {
                store.exns.release_if_unreferenced(exn);
            }
        })
    }
}

/// Whether `kind` delivers the reference.
pub(super) fn keeps_ref(kind: CatchKind) -> bool {
    matches!(kind, CatchKind::TagRef(_) | CatchKind::AllRef)
}
