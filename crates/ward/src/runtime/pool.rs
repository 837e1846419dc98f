//! The engine-wide pool of memory slots used by *dense* linear memories.
//!
//! A slab is one anonymous mapping, readable and writable throughout and reserved without
//! commitment (`MAP_NORESERVE`), cut into equal slots. A small memory lives in one slot: creating
//! it takes a slot from the free list (no system call), dropping it zeroes the pages it touched
//! and gives the slot back. Because a whole slab is one mapping with
//! one protection, a hundred thousand memories cost a few hundred kernel mappings, far below
//! `vm.max_map_count`; untouched pages cost nothing.
//!
//! Zeroing a slot: `madvise(MADV_DONTNEED)` over the pages a memory may have written, which
//! makes the next tenant fault every page in again. A slot whose tenant touched only a few
//! pages (`mincore` tells which are resident) is instead zeroed in place and kept *warm*: its
//! resident pages are cleared with a write, the non-resident ranges between them still get
//! `MADV_DONTNEED` when the host has swap (a non-resident page may then be swapped out, holding
//! data; without swap it was never written), and the next memory
//! finds its first pages without a fault. At most [`WARM_SLOTS`] slots of at most
//! [`WARM_PAGES`] pages each are kept warm, so an idle engine holds a bounded amount.
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
    /// Free slots zeroed in place whose first pages are still resident: handed out first.
    warm: Vec<usize>,
}

/// How many zeroed slots are kept warm at most.
pub(crate) const WARM_SLOTS: usize = 256;
/// A slot is kept warm only if at most this many of its pages were resident.
pub(crate) const WARM_PAGES: usize = 8;
/// `mincore` is asked about at most this many pages; larger used ranges are discarded whole.
const MINCORE_PAGES: usize = 64;

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
            state: Mutex::new(PoolState { slabs: Vec::new(), free: Vec::new(), warm: Vec::new() }),
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
        if let Some(addr) = state.warm.pop() {
            return NonNull::new(addr as *mut u8);
        }
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
        let room_for_warm = {
            let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.warm.len() < WARM_SLOTS
        };
        // SAFETY: the caller's contract, passed on.
        if used > 0 && room_for_warm && unsafe { zero_in_place(slot, used) } {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.warm.push(slot.as_ptr() as usize);
            return;
        }
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
        state.slabs.len() * self.slab_slots - state.free.len() - state.warm.len()
    }

    /// Free slots kept warm.
    #[cfg(test)]
    pub(crate) fn warm(&self) -> usize {
        self.state.lock().unwrap().warm.len()
    }
}

/// The host's page size.
fn host_page_size() -> usize {
    static SIZE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    // SAFETY: sysconf only reads a system parameter.
    *SIZE.get_or_init(|| match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        n if n > 0 => n as usize,
        _ => 4096,
    })
}

/// Zeroes the first `used` bytes of `slot` keeping its resident pages resident, if at most
/// [`WARM_PAGES`] of them are: resident pages are cleared with a write, every other page in
/// range is discarded with `MADV_DONTNEED`. `false` (and nothing guaranteed) if the slot does
/// not qualify or a system call fails: the caller then discards the whole range.
///
/// # Safety
/// `[slot, slot + used)` lies in a read/write mapping that nothing else refers to.
unsafe fn zero_in_place(slot: NonNull<u8>, used: usize) -> bool {
    let page = host_page_size();
    let pages = used.div_ceil(page);
    if pages > MINCORE_PAGES {
        return false;
    }
    let mut resident = [0u8; MINCORE_PAGES];
    // SAFETY: the range is mapped (caller's contract) and `resident` has room for `pages`
    // entries; mincore only writes that vector.
    let rc = unsafe { libc::mincore(slot.as_ptr().cast(), pages * page, resident.as_mut_ptr()) };
    if rc != 0 {
        return false;
    }
    let is_resident = |i: usize| resident[i] & 1 != 0;
    // Without swap, a page that is not resident was never written (there is nowhere else its
    // data could be): only resident pages need clearing. `swapoff` brings every page back
    // before it completes, so "no swap now" covers pages swapped out earlier too.
    let no_swap = {
        // SAFETY: an all-zero `sysinfo` is a valid value for the call to fill.
        let mut info: libc::sysinfo = unsafe { std::mem::zeroed() };
        // SAFETY: sysinfo only writes the struct it is given.
        unsafe { libc::sysinfo(&mut info) == 0 && info.totalswap == 0 }
    };
    if (0..pages).filter(|&i| is_resident(i)).count() > WARM_PAGES {
        return false;
    }
    let mut i = 0;
    while i < pages {
        let mut j = i + 1;
        while j < pages && is_resident(j) == is_resident(i) {
            j += 1;
        }
        // SAFETY: pages i..j lie inside the range (caller's contract).
        let start = unsafe { slot.as_ptr().add(i * page) };
        if is_resident(i) {
            // SAFETY: as above; nothing else refers to these bytes.
            unsafe { std::ptr::write_bytes(start, 0, (j - i) * page) };
        } else if !no_swap {
            // SAFETY: as above; discarding private anonymous pages makes them read as zero.
            if unsafe { madvise(start.cast(), (j - i) * page, Advice::LinuxDontNeed) }.is_err() {
                return false;
            }
        }
        i = j;
    }
    true
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

    /// A tenant's data never reaches the next tenant of a slot, whichever way it is zeroed: a
    /// few touched pages (kept warm) or many (discarded whole).
    #[test]
    fn warm_and_cold_slots_both_come_back_zeroed() {
        let page = host_page_size();
        let pool = MemoryPool::new(64 * page, 4);
        for touched in [1usize, 3, WARM_PAGES, WARM_PAGES + 1, 40] {
            let s = pool.take().unwrap();
            for k in 0..touched {
                // Spread the writes: every other page, so resident and non-resident ranges
                // alternate.
                // SAFETY: inside the 64-page slot.
                unsafe { s.as_ptr().add((2 * k % 64) * page + 17).write(0xAB) };
            }
            let warm_before = pool.warm();
            // SAFETY: `s` came from this pool and is no longer used.
            unsafe { pool.give_back(s, 64 * page) };
            let kept_warm = pool.warm() > warm_before;
            assert!(pool.warm() <= 1);
            assert_eq!(kept_warm, touched <= WARM_PAGES, "{touched} touched pages");
            let again = pool.take().unwrap();
            assert_eq!(again, s, "the slot is handed out again");
            for k in 0..64 {
                // SAFETY: inside the slot.
                let b = unsafe { again.as_ptr().add(k * page + 17).read() };
                assert_eq!(b, 0, "page {k} after {touched} touched pages");
            }
            // Reading mapped the zero page everywhere (mincore counts it resident), so this
            // slot now goes back cold, and the next round starts from a clean slate.
            // SAFETY: came from this pool.
            unsafe { pool.give_back(again, 64 * page) };
            assert_eq!(pool.warm(), 0);
        }
    }
}
