//! Runtime calls made by native code: plain `extern "C"` functions, which the code names by
//! their index in [`addresses`] (an 8-byte absolute relocation that linking fills in with the
//! address in this process, so that an ahead-of-time artifact's code is valid in another). Each reaches the store through the context (`VMStoreContext::store_inner`, set by
//! the driver for the duration of a native call) and never unwinds: a panic (from the
//! embedder's resource limiter, say) is caught, parked here, reported to native code as a trap
//! that unwinds every native frame, and resumed by the driver.

use super::{exit, TRAP_ERROR, TRAP_EXCEPTION, TRAP_PANIC};
use crate::error::Error;
use crate::runtime::vmctx::{VMContext, VMFuncRef, VMStoreContext};
use crate::runtime::{LinearMemory, StoreInner};
use std::any::Any;
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// How many runtime calls there are (the length of [`addresses`]).
pub(super) const COUNT: usize = 21;

/// The address in this process of every runtime call native code makes. The order is part of
/// the artifact format (`api/artifact.rs`): code names a runtime call by its index here, so a
/// new runtime call goes at the end, and changing the order or a signature means a new format
/// version.
pub(super) fn addresses() -> [usize; COUNT] {
    use super::bulk;
    use super::translate::simd_eval;
    [
        memory_grow as *const () as usize,
        signature_matches as *const () as usize,
        call_out as *const () as usize,
        bulk::memory_fill as *const () as usize,
        bulk::memory_copy as *const () as usize,
        bulk::memory_init as *const () as usize,
        bulk::data_drop as *const () as usize,
        bulk::elem_drop as *const () as usize,
        bulk::table_grow as *const () as usize,
        bulk::table_fill as *const () as usize,
        bulk::table_copy as *const () as usize,
        bulk::table_init as *const () as usize,
        simd_eval as *const () as usize,
        super::signals::raise as *const () as usize,
        super::unwind::ward_native_throw as *const () as usize,
        super::unwind::exn_new as *const () as usize,
        super::unwind::exn_take as *const () as usize,
        epoch_reached as *const () as usize,
        super::atomics::shared_len as *const () as usize,
        super::atomics::notify as *const () as usize,
        super::atomics::wait as *const () as usize,
    ]
}

/// The index in [`addresses`] of the runtime call at `addr`.
pub(super) fn index_of(addr: usize) -> Option<u32> {
    addresses().iter().position(|a| *a == addr).map(|i| i as u32)
}

thread_local! {
    /// The payload of a panic caught in a runtime call, until the driver resumes it.
    static PANIC: RefCell<Option<Box<dyn Any + Send>>> = const { RefCell::new(None) };
    /// The error of a call out of native code (`TRAP_ERROR`), until the driver returns it.
    static ERROR: RefCell<Option<Error>> = const { RefCell::new(None) };
}

/// The panic caught by a runtime call of the native call that just ended, if any.
pub(super) fn take_panic() -> Option<Box<dyn Any + Send>> {
    PANIC.with(|p| p.borrow_mut().take())
}

/// The error that ended the native call that just ended with `TRAP_ERROR`, if any.
pub(super) fn take_error() -> Option<Error> {
    ERROR.with(|e| e.borrow_mut().take())
}

/// Parks `payload` and reports it to native code as a `TRAP_PANIC` trap.
///
/// # Safety
/// `vs` is the live store context of the running native call.
pub(super) unsafe fn park_panic(vs: *mut VMStoreContext, payload: Box<dyn Any + Send>) {
    PANIC.with(|p| *p.borrow_mut() = Some(payload));
    // SAFETY: the caller's contract.
    unsafe { (*vs).trap = TRAP_PANIC };
}

/// Runs `f` with the store of the native call that `vmctx` belongs to; a panic becomes a
/// `TRAP_PANIC` trap and `fallback` is returned.
///
/// # Safety
/// `vmctx` is the live context of an instance of the store that is running this native call
/// (so its store context's `store_inner` points to that store, which nothing else uses while
/// native code runs).
pub(super) unsafe fn with_store<R>(
    vmctx: *mut VMContext,
    fallback: R,
    f: impl FnOnce(&mut StoreInner) -> R,
) -> R {
    // SAFETY: the caller's contract.
    let vs = unsafe { (*vmctx).header.store };
    // SAFETY: as above; the driver set `store_inner` before entering native code and holds no
    // reference into the store while it runs.
    let store = unsafe { &mut *(*vs).store_inner };
    match catch_unwind(AssertUnwindSafe(|| f(store))) {
        Ok(r) => r,
        Err(payload) => {
            // SAFETY: the store context outlives the call; the `&mut StoreInner` above is no
            // longer used.
            unsafe { park_panic(vs, payload) };
            fallback
        }
    }
}

/// `memory.grow` of the memory defined at `mem` by `delta` pages: the old size in pages, or
/// `u64::MAX`.
///
/// # Safety
/// Called by native code only, with the context of the running function and `mem` the
/// definition of one of its instance's memories.
pub(super) unsafe extern "C" fn memory_grow(
    vmctx: *mut VMContext,
    mem: *mut LinearMemory,
    delta: u64,
) -> u64 {
    // SAFETY: the caller's contract (see `with_store`).
    unsafe {
        with_store(vmctx, u64::MAX, |store| {
            // Memories are boxed in the store and outlive it; growing one needs the store's
            // account and limiter as well, as in the interpreter.
            let mem = &mut *mem;
            store.grow_memory(mem, delta).unwrap_or(u64::MAX)
        })
    }
}

/// Whether the function of `record` may be called as type `expected` (a canonical type id its
/// own id differs from): 1 if one of its declared supertypes is `expected`, else 0.
///
/// # Safety
/// Called by native code only, with the context of the running function and a record of the
/// same store.
pub(super) unsafe extern "C" fn signature_matches(
    vmctx: *mut VMContext,
    record: *const VMFuncRef,
    expected: u32,
) -> u32 {
    // SAFETY: the caller's contract (see `with_store`); records live as long as the store.
    unsafe {
        let func = (*record).func_index;
        with_store(vmctx, 0, |store| store.funcs[func as usize].matches(expected) as u32)
    }
}

/// Calls the function of `record`, which has no native code (a host function or a function of
/// an interpreted instance), through the exit of the running native call (see `exit`).
/// `values` holds `len` 8-byte slots: the arguments, then the results. A failure is parked and
/// reported to native code as a `TRAP_ERROR` trap of `caller_func` (the calling function's
/// module index), which the driver turns back into the error; a panic as `TRAP_PANIC`; an
/// exception the callee let through as `TRAP_EXCEPTION`, with its reference in the store
/// context, for native code to unwind with (`unwind`).
///
/// # Safety
/// Called by native code only, with the context of the running function, a record of the same
/// store and `values` pointing to `len` writable slots.
pub(super) unsafe extern "C" fn call_out(
    vmctx: *mut VMContext,
    record: *const VMFuncRef,
    values: *mut u64,
    len: u32,
    caller_func: u32,
) {
    // SAFETY: the caller's contract: a live context and record; the store context outlives the
    // call.
    let (vs, instance, func) =
        unsafe { ((*vmctx).header.store, (*vmctx).header.instance, (*record).func_index) };
    let outcome = with_exit(|exit| {
        // SAFETY: the caller's contract; native code does not touch the slots until this call
        // returns.
        let slots = unsafe { std::slice::from_raw_parts_mut(values, len as usize) };
        exit.call(instance, func, slots)
    });
    // SAFETY: the store context is live (the caller's contract); nothing else borrows it now.
    unsafe { report(vs, instance, caller_func, outcome) }
}

/// The engine's epoch reached the store's deadline at a checkpoint of `caller_func` (module
/// index): runs what the embedder asked for through the exit of the running native call; an
/// error (the embedder chose to trap) is reported as a `TRAP_ERROR` trap, as by `call_out`.
///
/// # Safety
/// Called by native code only, with the context of the running function.
pub(super) unsafe extern "C" fn epoch_reached(vmctx: *mut VMContext, caller_func: u32) {
    // SAFETY: the caller's contract: a live context; the store context outlives the call.
    let (vs, instance) = unsafe { ((*vmctx).header.store, (*vmctx).header.instance) };
    let outcome = with_exit(|exit| exit.epoch_deadline());
    // SAFETY: as above; nothing else borrows the store context now.
    unsafe { report(vs, instance, caller_func, outcome) }
}

/// Runs `f` with the exit of the running native call, catching panics.
fn with_exit(
    f: impl FnOnce(&mut dyn exit::Exit) -> Result<(), Error>,
) -> std::thread::Result<Result<(), Error>> {
    match exit::active() {
        Some(exit) => {
            // SAFETY: the installed exit lives (and is borrowed for nothing else) while the
            // native call that installed it runs, which includes the runtime call running this.
            let exit = unsafe { &mut *exit.as_ptr() };
            catch_unwind(AssertUnwindSafe(|| f(exit)))
        }
        None => Ok(Err(Error::Unsupported(
            "native code called out with no embedding layer installed (a bug in Ward's native \
             tier)"
                .into(),
        ))),
    }
}

/// Reports what a call through the exit gave to native code: nothing on success; an exception
/// the callee let through as `TRAP_EXCEPTION` with its reference; another error as
/// `TRAP_ERROR` (parked for the driver); a panic as `TRAP_PANIC`. The trap is `caller_func`'s
/// of store instance `instance`.
///
/// # Safety
/// `vs` is the live store context of the running native call, not otherwise borrowed.
unsafe fn report(
    vs: *mut VMStoreContext,
    instance: u32,
    caller_func: u32,
    outcome: std::thread::Result<Result<(), Error>>,
) {
    let trap = match outcome {
        Ok(Ok(())) => return,
        Ok(Err(Error::Trap(t))) if t.exception().is_some() => {
            // An exception the callee let through: native code goes on unwinding with it.
            // SAFETY: the caller's contract.
            unsafe { (*vs).exception = t.exception().unwrap_or(0) };
            TRAP_EXCEPTION
        }
        Ok(Err(e)) => {
            ERROR.with(|slot| *slot.borrow_mut() = Some(e));
            TRAP_ERROR
        }
        // SAFETY: the caller's contract.
        Err(payload) => return unsafe { park_panic(vs, payload) },
    };
    // SAFETY: the caller's contract.
    unsafe {
        (*vs).trap = trap;
        (*vs).trap_func = caller_func;
        (*vs).trap_instance = instance;
    }
}
