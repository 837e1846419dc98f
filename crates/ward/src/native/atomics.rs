//! Runtime calls for the threads proposal: the current length of a shared memory, and
//! `memory.atomic.notify` / `memory.atomic.wait32/64` (the other atomic instructions are machine
//! atomics inline, see `translate/atomics.rs`). Memories are passed as their definitions (the
//! `LinearMemory` the context points at); wasm addresses have been checked (in bounds, aligned)
//! by the code before the call.

use super::libcalls::with_store;
use super::{trap_number, TRAP_PANIC};
use crate::runtime::atomics::{self, AtomicOp};
use crate::runtime::vmctx::VMContext;
use crate::runtime::LinearMemory;

/// The current length in bytes of the shared memory defined at `mem`, also written to its
/// definition (this store's snapshot, which another thread's `memory.grow` may have left
/// behind).
///
/// # Safety
/// Called by native code only, with `mem` the definition of a memory of the running function's
/// instance (boxed in the store, so it outlives the call; the store is not otherwise borrowed
/// while native code runs).
pub(super) unsafe extern "C" fn shared_len(mem: *mut LinearMemory) -> u64 {
    // SAFETY: the caller's contract.
    let mem = unsafe { &mut *mem };
    mem.refresh_len() as u64
}

/// `memory.atomic.notify` of `count` waiters at wasm address `addr` of the memory defined at
/// `mem`: how many it woke (0 for an unshared memory, where nobody can wait).
///
/// # Safety
/// As for [`shared_len`].
pub(super) unsafe extern "C" fn notify(mem: *const LinearMemory, addr: u64, count: u32) -> u32 {
    // SAFETY: the caller's contract.
    let mem = unsafe { &*mem };
    mem.shared().map_or(0, |shared| shared.notify(addr, count))
}

/// `memory.atomic.wait32` (`width` 4) or `wait64` (8) at wasm address `addr` of the shared
/// memory defined at `mem`, for `expected` (zero-extended) and `timeout` nanoseconds (negative:
/// none). Returns the result (0 "ok", 1 "not-equal", 2 "timed-out") in the low 32 bits and the
/// number of the trap to raise (or 0) in the high 32 bits: a wait ends with a trap when the store
/// is interrupted, as in the interpreter.
///
/// # Safety
/// As for [`shared_len`], with the context of the running function; `addr` is in bounds of the
/// memory and aligned to `width`.
pub(super) unsafe extern "C" fn wait(
    vmctx: *mut VMContext,
    mem: *const LinearMemory,
    addr: u64,
    expected: u64,
    timeout: i64,
    width: u32,
) -> u64 {
    // SAFETY: the caller's contract.
    let mem = unsafe { &*mem };
    let Some(shared) = mem.shared() else {
        // Native code traps before calling for an unshared memory (it knows from the module).
        return u64::from(trap_number(crate::error::TrapCode::ExpectedSharedMemory)) << 32;
    };
    let width = width as u8;
    let base = shared.base();
    let outcome = |store: &mut crate::runtime::StoreInner| {
        // SAFETY: `addr` is in bounds and aligned to `width` (the caller's contract), and a
        // shared memory's bytes never become inaccessible.
        let load =
            || unsafe { atomics::apply(base.add(addr as usize), AtomicOp::Load, width, 0, 0) };
        let expected = atomics::truncate(expected, width);
        match atomics::wait(store, shared, addr, load, expected, timeout) {
            Ok(result) => result,
            Err(code) => u64::from(trap_number(code)) << 32,
        }
    };
    // SAFETY: the caller's contract (see `with_store`).
    unsafe { with_store(vmctx, u64::from(TRAP_PANIC) << 32, outcome) }
}
