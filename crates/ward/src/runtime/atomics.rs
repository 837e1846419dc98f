//! The threads proposal's atomic memory instructions, as both tiers see them: which operation
//! and width each operator is ([`classify`]), the host atomics that carry them out on a linear
//! memory's bytes ([`apply`]), and `memory.atomic.wait` under a store's limits ([`wait`]).
//! The interpreter runs every atomic through [`apply`]; the native tier emits the same
//! sequentially consistent machine atomics inline and calls [`wait`] for a wait.

use super::{SharedBytes, StoreInner};
use crate::error::TrapCode;
use wasmparser::{MemArg, Operator};

/// The operation of an atomic memory instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AtomicOp {
    Load,
    Store,
    Add,
    Sub,
    And,
    Or,
    Xor,
    Xchg,
    Cmpxchg,
    Notify,
    Wait,
}

/// The memory argument, operation and access width in bytes of an atomic memory operator
/// (every one but `atomic.fence`, which has no memory argument); `None` for other operators.
/// Loads zero-extend their result; narrow stores and read-modify-writes use the operand's low
/// bytes; `memory.atomic.notify` reads a 4-byte location, `wait32`/`wait64` 4 and 8.
pub(crate) fn classify(op: &Operator<'_>) -> Option<(MemArg, AtomicOp, u8)> {
    use AtomicOp::*;
    use Operator as O;
    Some(match *op {
        O::I32AtomicLoad { memarg } | O::I64AtomicLoad32U { memarg } => (memarg, Load, 4),
        O::I64AtomicLoad { memarg } => (memarg, Load, 8),
        O::I32AtomicLoad8U { memarg } | O::I64AtomicLoad8U { memarg } => (memarg, Load, 1),
        O::I32AtomicLoad16U { memarg } | O::I64AtomicLoad16U { memarg } => (memarg, Load, 2),
        O::I32AtomicStore { memarg } | O::I64AtomicStore32 { memarg } => (memarg, Store, 4),
        O::I64AtomicStore { memarg } => (memarg, Store, 8),
        O::I32AtomicStore8 { memarg } | O::I64AtomicStore8 { memarg } => (memarg, Store, 1),
        O::I32AtomicStore16 { memarg } | O::I64AtomicStore16 { memarg } => (memarg, Store, 2),
        O::MemoryAtomicNotify { memarg } => (memarg, Notify, 4),
        O::MemoryAtomicWait32 { memarg } => (memarg, Wait, 4),
        O::MemoryAtomicWait64 { memarg } => (memarg, Wait, 8),
        ref other => return rmw(other),
    })
}

/// The memory argument, operation and width of an atomic read-modify-write or compare-exchange
/// operator.
fn rmw(op: &Operator<'_>) -> Option<(MemArg, AtomicOp, u8)> {
    use AtomicOp::*;
    use Operator as O;
    Some(match *op {
        O::I32AtomicRmwAdd { memarg } | O::I64AtomicRmw32AddU { memarg } => (memarg, Add, 4),
        O::I64AtomicRmwAdd { memarg } => (memarg, Add, 8),
        O::I32AtomicRmw8AddU { memarg } | O::I64AtomicRmw8AddU { memarg } => (memarg, Add, 1),
        O::I32AtomicRmw16AddU { memarg } | O::I64AtomicRmw16AddU { memarg } => (memarg, Add, 2),
        O::I32AtomicRmwSub { memarg } | O::I64AtomicRmw32SubU { memarg } => (memarg, Sub, 4),
        O::I64AtomicRmwSub { memarg } => (memarg, Sub, 8),
        O::I32AtomicRmw8SubU { memarg } | O::I64AtomicRmw8SubU { memarg } => (memarg, Sub, 1),
        O::I32AtomicRmw16SubU { memarg } | O::I64AtomicRmw16SubU { memarg } => (memarg, Sub, 2),
        O::I32AtomicRmwAnd { memarg } | O::I64AtomicRmw32AndU { memarg } => (memarg, And, 4),
        O::I64AtomicRmwAnd { memarg } => (memarg, And, 8),
        O::I32AtomicRmw8AndU { memarg } | O::I64AtomicRmw8AndU { memarg } => (memarg, And, 1),
        O::I32AtomicRmw16AndU { memarg } | O::I64AtomicRmw16AndU { memarg } => (memarg, And, 2),
        O::I32AtomicRmwOr { memarg } | O::I64AtomicRmw32OrU { memarg } => (memarg, Or, 4),
        O::I64AtomicRmwOr { memarg } => (memarg, Or, 8),
        O::I32AtomicRmw8OrU { memarg } | O::I64AtomicRmw8OrU { memarg } => (memarg, Or, 1),
        O::I32AtomicRmw16OrU { memarg } | O::I64AtomicRmw16OrU { memarg } => (memarg, Or, 2),
        O::I32AtomicRmwXor { memarg } | O::I64AtomicRmw32XorU { memarg } => (memarg, Xor, 4),
        O::I64AtomicRmwXor { memarg } => (memarg, Xor, 8),
        O::I32AtomicRmw8XorU { memarg } | O::I64AtomicRmw8XorU { memarg } => (memarg, Xor, 1),
        O::I32AtomicRmw16XorU { memarg } | O::I64AtomicRmw16XorU { memarg } => (memarg, Xor, 2),
        O::I32AtomicRmwXchg { memarg } | O::I64AtomicRmw32XchgU { memarg } => (memarg, Xchg, 4),
        O::I64AtomicRmwXchg { memarg } => (memarg, Xchg, 8),
        O::I32AtomicRmw8XchgU { memarg } | O::I64AtomicRmw8XchgU { memarg } => (memarg, Xchg, 1),
        O::I32AtomicRmw16XchgU { memarg } | O::I64AtomicRmw16XchgU { memarg } => (memarg, Xchg, 2),
        O::I32AtomicRmwCmpxchg { memarg } | O::I64AtomicRmw32CmpxchgU { memarg } => {
            (memarg, Cmpxchg, 4)
        }
        O::I64AtomicRmwCmpxchg { memarg } => (memarg, Cmpxchg, 8),
        O::I32AtomicRmw8CmpxchgU { memarg } | O::I64AtomicRmw8CmpxchgU { memarg } => {
            (memarg, Cmpxchg, 1)
        }
        O::I32AtomicRmw16CmpxchgU { memarg } | O::I64AtomicRmw16CmpxchgU { memarg } => {
            (memarg, Cmpxchg, 2)
        }
        _ => return None,
    })
}

/// The low `width` bytes of `v`.
pub(crate) fn truncate(v: u64, width: u8) -> u64 {
    if width >= 8 {
        v
    } else {
        v & ((1u64 << (width as u32 * 8)) - 1)
    }
}

// Wasm memory is little-endian; the host atomics below operate on native integers in place.
const _: () = assert!(cfg!(target_endian = "little"), "atomics assume a little-endian host");

/// Performs the atomic operation `op` (not `Notify`/`Wait`) of `width` bytes at `p` with operand
/// `v` (the expected value, for `Cmpxchg`) and replacement `r`, sequentially consistent, and
/// returns the old value zero-extended (0 for a store).
///
/// # Safety
/// `p` lies inside a live linear memory, `width` bytes are accessible from it, and it is aligned
/// to `width` (memory bases are page-aligned and the wasm address is a multiple of `width`).
/// Other accesses to these bytes from this thread are not in progress: the store is
/// exclusively borrowed while the instruction runs.
pub(crate) unsafe fn apply(p: *mut u8, op: AtomicOp, width: u8, v: u64, r: u64) -> u64 {
    use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering::SeqCst};
    macro_rules! on {
        ($atomic:ty, $int:ty) => {{
            // SAFETY: the caller guarantees `p` is valid for `width` bytes and aligned for
            // `$int`, whose size is `width`.
            let a = unsafe { <$atomic>::from_ptr(p.cast::<$int>()) };
            let (v, r) = (v as $int, r as $int);
            (match op {
                AtomicOp::Load => a.load(SeqCst),
                AtomicOp::Store => {
                    a.store(v, SeqCst);
                    0
                }
                AtomicOp::Add => a.fetch_add(v, SeqCst),
                AtomicOp::Sub => a.fetch_sub(v, SeqCst),
                AtomicOp::And => a.fetch_and(v, SeqCst),
                AtomicOp::Or => a.fetch_or(v, SeqCst),
                AtomicOp::Xor => a.fetch_xor(v, SeqCst),
                AtomicOp::Xchg => a.swap(v, SeqCst),
                AtomicOp::Cmpxchg => match a.compare_exchange(v, r, SeqCst, SeqCst) {
                    Ok(old) | Err(old) => old,
                },
                AtomicOp::Notify | AtomicOp::Wait => 0,
            }) as u64
        }};
    }
    match width {
        1 => on!(AtomicU8, u8),
        2 => on!(AtomicU16, u16),
        4 => on!(AtomicU32, u32),
        _ => on!(AtomicU64, u64),
    }
}

/// `memory.atomic.wait` on shared memory `shared` at wasm address `addr`: "not-equal" (1) if
/// `load()` differs from `expected`, otherwise waits until a `notify` (0) or the timeout
/// (nanoseconds; negative: forever) passes (2, "timed-out"). The wait stays under the store's
/// control: interruption traps, and reaching the store's epoch deadline ends the wait early as
/// if timed out, so that the guest's next checkpoint handles the deadline. Only a store that is
/// neither interruptible nor under epochs can wait forever, like a guest that loops forever.
pub(crate) fn wait(
    store: &StoreInner,
    shared: &SharedBytes,
    addr: u64,
    load: impl FnOnce() -> u64,
    expected: u64,
    timeout: i64,
) -> Result<u64, TrapCode> {
    use std::sync::atomic::Ordering::Relaxed;
    use std::time::{Duration, Instant};
    let deadline = u64::try_from(timeout)
        .ok()
        .and_then(|ns| Instant::now().checked_add(Duration::from_nanos(ns)));
    let epochs = store.engine.config().epoch_interruption;
    shared.wait(addr, load, expected, deadline, || {
        if store.interrupt.load(Relaxed) {
            return Err(TrapCode::Interrupted);
        }
        Ok(epochs && store.epoch.load(Relaxed) >= store.vm.epoch_deadline)
    })
}
