//! The engine-wide pool of memory slots used by *dense* linear memories.
//!
//! A slab is one anonymous mapping, readable and writable throughout and reserved without
//! commitment (`MAP_NORESERVE`), cut into equal slots. A small memory lives in one slot: creating
//! it takes a slot from the free list (no system call), dropping it zeroes the pages it touched
//! with `madvise(MADV_DONTNEED)` and gives the slot back. Because a whole slab is one mapping with
//! one protection, a hundred thousand memories cost a few hundred kernel mappings, far below
//! `vm.max_map_count`; untouched pages cost nothing.
//!
//! Isolation between the memories of one slab rests on the explicit bounds check of every
//! access (dense memories never rely on guard pages).

use rustix::mm::{madvise, mmap_anonymous, munmap, Advice, MapFlags, ProtFlags};
use std::ptr::NonNull;
use std::sync::Mutex;

/// One mapping cut into slots.
struct Slab {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: the slab's mapping is owned by the pool; which thread maps or unmaps it does not
// matter, and slots are handed to one memory at a time under the pool's lock.
unsafe impl Send for Slab {}

impl Drop for Slab {
    fn drop(&mut self) {
        // SAFETY: the pool owns the mapping and is being dropped; no slot is in use (every
        // `PooledSlot` holds an `Arc` of the pool, so the pool outlives them).
        unsafe {
            let _ = munmap(self.base.as_ptr().cast(), self.len);
        }
    }
}

struct PoolState {
    slabs: Vec<Slab>,
    /// Free slots, as addresses.
    free: Vec<usize>,
}

/// Slots of `slot_size` bytes, `slab_slots` to a slab.
pub(crate) struct MemoryPool {
    slot_size: usize,
    slab_slots: usize,
    state: Mutex<PoolState>,
}

impl MemoryPool {
    /// A pool of slots of `slot_size` bytes (a multiple of the host page size).
    pub(crate) fn new(slot_size: usize, slab_slots: usize) -> MemoryPool {
        MemoryPool {
            slot_size,
            slab_slots: slab_slots.max(1),
            state: Mutex::new(PoolState { slabs: Vec::new(), free: Vec::new() }),
        }
    }

    /// The size of every slot.
    pub(crate) fn slot_size(&self) -> usize {
        self.slot_size
    }

    /// A zeroed slot, mapping a new slab if none is free; `None` if the address space is
    /// exhausted.
    pub(crate) fn take(&self) -> Option<NonNull<u8>> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.free.is_empty() {
            let len = self.slot_size.checked_mul(self.slab_slots)?;
            // SAFETY: a fresh private anonymous mapping; it aliases nothing.
            let ptr = unsafe {
                mmap_anonymous(
                    std::ptr::null_mut(),
                    len,
                    ProtFlags::READ | ProtFlags::WRITE,
                    MapFlags::PRIVATE | MapFlags::NORESERVE,
                )
            }
            .ok()?;
            let base = NonNull::new(ptr.cast::<u8>())?;
            let start = base.as_ptr() as usize;
            // Hand out low addresses first.
            state.free.extend((0..self.slab_slots).rev().map(|i| start + i * self.slot_size));
            state.slabs.push(Slab { base, len });
        }
        let addr = state.free.pop()?;
        NonNull::new(addr as *mut u8)
    }

    /// Returns a slot whose first `used` bytes may have been written.
    ///
    /// # Safety
    ///
    /// `slot` came from [`MemoryPool::take`] on this pool and nothing refers to its contents
    /// any more.
    pub(crate) unsafe fn give_back(&self, slot: NonNull<u8>, used: usize) {
        let used = used.min(self.slot_size);
        if used > 0 {
            // SAFETY: [slot, slot+used) lies inside a slab mapping of this pool (caller's
            // contract); discarding private anonymous pages makes them read as zero again.
            let ok = unsafe { madvise(slot.as_ptr().cast(), used, Advice::LinuxDontNeed) };
            if ok.is_err() {
                // Never hand out a slot that might hold another tenant's data.
                return;
            }
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.free.push(slot.as_ptr() as usize);
    }

    /// Slots currently handed out.
    #[cfg(test)]
    pub(crate) fn in_use(&self) -> usize {
        let state = self.state.lock().unwrap();
        state.slabs.len() * self.slab_slots - state.free.len()
    }
}

/// Interpreter value stacks kept for reuse, engine-wide, so that an idle store holds none.
#[derive(Default)]
pub(crate) struct StackPool {
    stacks: Mutex<Vec<Vec<u64>>>,
}

impl StackPool {
    /// How many stacks are kept at most.
    const KEPT: usize = 64;

    /// A stack left by an earlier call, if any. Its contents are stale: the interpreter writes
    /// every slot before reading it (locals are zeroed on entry; validation orders the rest).
    pub(crate) fn take(&self) -> Option<Vec<u64>> {
        self.stacks.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    /// Keeps `stack` for reuse, unless enough are kept already.
    pub(crate) fn give_back(&self, stack: Vec<u64>) {
        let mut stacks = self.stacks.lock().unwrap_or_else(|e| e.into_inner());
        if stacks.len() < Self::KEPT {
            stacks.push(stack);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_reused_zeroed_and_slabs_grow() {
        let pool = MemoryPool::new(64 * 1024, 2);
        let a = pool.take().unwrap();
        let b = pool.take().unwrap();
        let c = pool.take().unwrap(); // a second slab
        assert_eq!(pool.in_use(), 3);
        // SAFETY: `a` is a fresh slot of 64 KiB.
        unsafe { a.as_ptr().add(100).write(7) };
        // SAFETY: `a` came from this pool and is no longer used.
        unsafe { pool.give_back(a, 4096) };
        let again = pool.take().unwrap();
        assert_eq!(again, a, "the freed slot is handed out again");
        // SAFETY: as above: a slot of this pool.
        assert_eq!(unsafe { again.as_ptr().add(100).read() }, 0, "and it reads as zero");
        for s in [again, b, c] {
            // SAFETY: each came from this pool.
            unsafe { pool.give_back(s, 0) };
        }
        assert_eq!(pool.in_use(), 0);
    }
}
