//! Linear memory, in one of two strategies chosen per engine:
//!
//! - *dense* (the default): a small memory takes a slot of the engine's [`MemoryPool`]; one that
//!   outgrows its slot moves to a mapping of its own, which grows (and may move) with `mremap`.
//!   Every access is bounds-checked explicitly, so no guard region is needed and one process can
//!   hold hundreds of thousands of memories.
//! - *guarded*: the whole index space (4 GiB for 32-bit memories) is reserved once, without
//!   access rights, and `memory.grow` only changes protections, so the base never moves. This is
//!   the layout a native tier can use to drop bounds checks.
//!
//! Under the dense strategy the base can move when the memory grows: every tier reloads a
//! memory's base after anything that can grow it (a `memory.grow`, a call, a host call).

use super::pool::MemoryPool;
use crate::error::{Error, Result};
use crate::types::MemoryType;
use rustix::mm::{
    mmap_anonymous, mprotect, mremap, munmap, MapFlags, MprotectFlags, MremapFlags, ProtFlags,
};
use std::ptr::NonNull;
use std::sync::Arc;

/// Address space reserved for a guarded 32-bit memory: the whole 4 GiB index space, so that
/// growth never needs to move the base.
const RESERVE_32: u64 = 1 << 32;
/// Reservation cap for guarded 64-bit memories; growing past it fails (`memory.grow` -1).
const RESERVE_64_CAP: u64 = 16 << 30;
/// The largest memory Ward creates under any strategy (the guarded caps, for consistency).
const fn size_cap(memory64: bool) -> u64 {
    if memory64 {
        RESERVE_64_CAP
    } else {
        RESERVE_32
    }
}

/// How a memory's address space is held.
enum Backing {
    /// A slot of the engine's pool; returned (zeroed) on drop.
    Pooled(Arc<MemoryPool>),
    /// A read/write mapping of `capacity` bytes of its own (dense); grows with `mremap`.
    Owned { capacity: usize },
    /// A reservation of `reserved` bytes, accessible up to the current size (guarded).
    Guarded { reserved: usize },
}

/// A linear memory instance.
pub struct LinearMemory {
    base: NonNull<u8>,
    /// Accessible bytes (current size).
    len: usize,
    backing: Backing,
    pub(crate) ty: MemoryType,
    /// Page count limit combining the declared maximum, the index type and the store's limits.
    max_pages: u64,
}

// SAFETY: the mapping (or pool slot) is owned exclusively by this value; access is
// synchronised by the `&mut` borrow of the store that owns it.
unsafe impl Send for LinearMemory {}
// SAFETY: shared references only read `len`/`base`; writes through the base pointer need `&mut`.
unsafe impl Sync for LinearMemory {}

/// Maps `len` bytes of fresh anonymous memory with protection `prot`.
fn map(len: usize, prot: ProtFlags) -> Result<NonNull<u8>> {
    // SAFETY: a fresh anonymous private mapping; it aliases nothing.
    let ptr = unsafe {
        mmap_anonymous(std::ptr::null_mut(), len, prot, MapFlags::PRIVATE | MapFlags::NORESERVE)
    }
    .map_err(|e| Error::Limit(format!("cannot reserve {len} bytes for a memory: {e}")))?;
    Ok(NonNull::new(ptr.cast::<u8>()).expect("mmap never returns null on success"))
}

/// `n` rounded up to the host page size (4 KiB; larger host pages are multiples of it only in
/// alignment, which `mmap` handles).
fn round_to_host_page(n: usize) -> usize {
    n.div_ceil(4096).saturating_mul(4096).max(4096)
}

impl LinearMemory {
    /// Creates a memory of `ty.minimum()` pages. `limit_bytes` is the store's cap on this memory;
    /// `pool` is the engine's dense pool (`None`: the guarded strategy).
    pub(crate) fn new(
        ty: MemoryType,
        limit_bytes: Option<u64>,
        pool: Option<&Arc<MemoryPool>>,
    ) -> Result<LinearMemory> {
        let page = 1u64 << ty.page_size_log2;
        let mut max_pages = ty.max.unwrap_or(u64::MAX).min(ty.absolute_max_pages());
        if let Some(limit) = limit_bytes {
            max_pages = max_pages.min(limit / page);
        }
        if ty.min > max_pages {
            return Err(Error::Limit(format!(
                "memory of {} pages exceeds the limit of {} pages",
                ty.min, max_pages
            )));
        }
        let cap = size_cap(ty.memory64);
        let min_bytes = ty.min.checked_mul(page).filter(|&b| b <= cap).ok_or_else(|| {
            Error::Limit(format!(
                "memory of {} pages exceeds the largest memory Ward can reserve ({cap} bytes)",
                ty.min
            ))
        })?;
        let max_bytes = max_pages.saturating_mul(page).min(cap);
        let min_len = min_bytes as usize;
        let (base, backing) = match pool {
            Some(pool) if min_len <= pool.slot_size() => {
                let slot = pool.take().ok_or_else(|| {
                    Error::Limit("cannot reserve address space for a memory".into())
                })?;
                (slot, Backing::Pooled(pool.clone()))
            }
            Some(_) => {
                let capacity = round_to_host_page(min_len);
                (map(capacity, ProtFlags::READ | ProtFlags::WRITE)?, Backing::Owned { capacity })
            }
            None => {
                let reserved =
                    usize::try_from(max_bytes.max(min_bytes).max(4096)).map_err(|_| {
                        Error::Limit("memory reservation exceeds the address space".into())
                    })?;
                (map(reserved, ProtFlags::empty())?, Backing::Guarded { reserved })
            }
        };
        let mut mem = LinearMemory { base, len: 0, backing, ty, max_pages };
        mem.resize(min_len)?;
        Ok(mem)
    }

    /// Makes the first `new_len` bytes accessible (`new_len >= len`), moving the memory if its
    /// current backing is too small.
    fn resize(&mut self, new_len: usize) -> Result<()> {
        debug_assert!(new_len >= self.len);
        if let Backing::Pooled(pool) = &self.backing {
            if new_len > pool.slot_size() {
                self.move_out_of_pool(new_len)?;
            }
        }
        match &mut self.backing {
            Backing::Pooled(_) => {}
            Backing::Owned { capacity } => {
                if new_len > *capacity {
                    let new_cap = round_to_host_page(new_len.max(capacity.saturating_mul(2)));
                    let max = size_cap(self.ty.memory64) as usize;
                    let new_cap = new_cap.min(max).max(new_len);
                    // SAFETY: [base, base+capacity) is our own mapping; with MAY_MOVE the kernel
                    // either extends it in place or moves it (the old range is unmapped). The
                    // new tail of a private anonymous mapping reads as zero. Nothing holds a
                    // pointer into it: tiers reload the base after growth.
                    let p = unsafe {
                        mremap(self.base.as_ptr().cast(), *capacity, new_cap, MremapFlags::MAYMOVE)
                    }
                    .map_err(|e| Error::Limit(format!("cannot grow memory: {e}")))?;
                    self.base = NonNull::new(p.cast::<u8>()).expect("mremap never returns null");
                    *capacity = new_cap;
                }
            }
            Backing::Guarded { reserved } => {
                if new_len > *reserved {
                    return Err(Error::Limit("memory reservation exhausted".into()));
                }
                if new_len > self.len {
                    // SAFETY: [base, base+reserved) is our mapping and new_len <= reserved; the
                    // newly accessible pages of an anonymous mapping read as zero.
                    unsafe {
                        mprotect(
                            self.base.as_ptr().cast(),
                            new_len,
                            MprotectFlags::READ | MprotectFlags::WRITE,
                        )
                    }
                    .map_err(|e| Error::Limit(format!("cannot commit memory: {e}")))?;
                }
            }
        }
        self.len = new_len;
        Ok(())
    }

    /// Moves a pooled memory to a mapping of its own big enough for `new_len` bytes.
    fn move_out_of_pool(&mut self, new_len: usize) -> Result<()> {
        let Backing::Pooled(pool) = &self.backing else {
            unreachable!("called for pooled memories")
        };
        let pool = pool.clone();
        let capacity = round_to_host_page(new_len.max(pool.slot_size().saturating_mul(2)))
            .min(size_cap(self.ty.memory64) as usize)
            .max(new_len);
        let new_base = map(capacity, ProtFlags::READ | ProtFlags::WRITE)?;
        // SAFETY: both ranges are mapped read/write, `len` bytes long at least, and distinct
        // mappings, so they do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(self.base.as_ptr(), new_base.as_ptr(), self.len) };
        let (old, used) = (self.base, self.len);
        self.base = new_base;
        self.backing = Backing::Owned { capacity };
        // SAFETY: `old` is this memory's slot from `pool`, and nothing refers to it any more.
        unsafe { pool.give_back(old, used) };
        Ok(())
    }

    /// The base address. Never changes under the guarded strategy; under the dense strategy it
    /// may change when the memory grows.
    #[inline]
    pub(crate) fn base(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    /// The current size in bytes.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The current size in pages.
    pub(crate) fn pages(&self) -> u64 {
        (self.len as u64) >> self.ty.page_size_log2
    }

    /// Grows by `delta` pages, returning the old size in pages, or `None` if the growth is not
    /// possible (beyond the maximum, a limit, or the reservation). Nothing is reserved or
    /// committed before the checks pass.
    pub(crate) fn grow(&mut self, delta: u64) -> Option<u64> {
        let old = self.pages();
        let new = old.checked_add(delta)?;
        if new > self.max_pages {
            return None;
        }
        let new_len = usize::try_from(new.checked_mul(1u64 << self.ty.page_size_log2)?).ok()?;
        self.resize(new_len).ok()?;
        Some(old)
    }

    /// The accessible bytes.
    pub(crate) fn data(&self) -> &[u8] {
        // SAFETY: [base, base+len) is mapped read/write for the life of `self`.
        unsafe { std::slice::from_raw_parts(self.base.as_ptr(), self.len) }
    }

    /// The accessible bytes, mutably.
    pub(crate) fn data_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `data`, and `&mut self` gives exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.base.as_ptr(), self.len) }
    }
}

impl Drop for LinearMemory {
    fn drop(&mut self) {
        match &self.backing {
            // SAFETY: the slot came from this pool and nothing refers to it after drop.
            Backing::Pooled(pool) => unsafe { pool.give_back(self.base, self.len) },
            Backing::Owned { capacity: len } | Backing::Guarded { reserved: len } => {
                // SAFETY: we own the whole mapping and nothing refers to it after drop.
                unsafe {
                    let _ = munmap(self.base.as_ptr().cast(), *len);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grow_keeps_base_and_zeroes() {
        let mut m = LinearMemory::new(MemoryType::new(1, None), None, None).unwrap();
        let base = m.base();
        m.data_mut()[100] = 7;
        assert_eq!(m.grow(3), Some(1));
        assert_eq!(m.base(), base);
        assert_eq!(m.len(), 4 * 65536);
        assert_eq!(m.data()[100], 7);
        assert_eq!(m.data()[3 * 65536 + 5], 0);
    }

    /// A dense memory starts in a pool slot, moves out when it outgrows it (keeping its
    /// contents), keeps growing, and gives the slot back zeroed.
    #[test]
    fn dense_memories_move_out_of_their_slot_and_keep_their_contents() {
        let pool = Arc::new(MemoryPool::new(2 * 65536, 4));
        let mut m = LinearMemory::new(MemoryType::new(1, None), None, Some(&pool)).unwrap();
        assert!(matches!(m.backing, Backing::Pooled(_)));
        let slot = m.base();
        m.data_mut()[100] = 7;
        assert_eq!(m.grow(1), Some(1));
        assert_eq!(m.base(), slot, "growth within the slot stays in place");
        m.data_mut()[2 * 65536 - 1] = 9;
        assert_eq!(m.grow(30), Some(2));
        assert!(matches!(m.backing, Backing::Owned { .. }));
        assert_eq!((m.data()[100], m.data()[2 * 65536 - 1], m.data()[20 * 65536]), (7, 9, 0));
        assert_eq!(m.grow(200), Some(32));
        assert_eq!((m.data()[100], m.len()), (7, 232 * 65536));
        assert_eq!(pool.in_use(), 0, "the slot went back to the pool");
        let again = LinearMemory::new(MemoryType::new(2, None), None, Some(&pool)).unwrap();
        assert_eq!(again.base(), slot);
        assert!(again.data().iter().all(|&b| b == 0), "a reused slot is zeroed");
        drop(m);
        drop(again);
        assert_eq!(pool.in_use(), 0);
    }

    #[test]
    fn grow_respects_maximum_and_limit() {
        let mut m = LinearMemory::new(MemoryType::new(1, Some(2)), None, None).unwrap();
        assert_eq!(m.grow(2), None);
        assert_eq!(m.grow(1), Some(1));
        let mut m = LinearMemory::new(MemoryType::new(0, None), Some(65536 * 3), None).unwrap();
        assert_eq!(m.grow(4), None);
        assert_eq!(m.grow(3), Some(0));
        // A 4 GiB request past the limit fails without touching memory.
        assert_eq!(m.grow(65536), None);
    }

    /// Memories with 1-byte pages (custom page sizes): sizes in bytes, in a pool slot, moved
    /// out of it, guarded, and a 64-bit one whose page count bound does not fit 2^64.
    #[test]
    fn one_byte_pages() {
        let one = |min: u64, max: Option<u64>, memory64: bool| MemoryType {
            min,
            max,
            memory64,
            shared: false,
            page_size_log2: 0,
        };
        let pool = Arc::new(MemoryPool::new(65536, 2));
        let mut m = LinearMemory::new(one(3, Some(70_000), false), None, Some(&pool)).unwrap();
        assert!(matches!(m.backing, Backing::Pooled(_)));
        assert_eq!((m.len(), m.pages()), (3, 3));
        m.data_mut()[2] = 5;
        assert_eq!(m.grow(65533), Some(3));
        assert_eq!(m.len(), 65536);
        assert_eq!(m.grow(1), Some(65536), "moves out of the slot");
        assert!(matches!(m.backing, Backing::Owned { .. }));
        assert_eq!((m.data()[2], m.len()), (5, 65537));
        assert_eq!(m.grow(70_000), None, "beyond the declared maximum");
        drop(m);
        assert_eq!(pool.in_use(), 0);

        let mut g = LinearMemory::new(one(1, None, false), None, None).unwrap();
        assert_eq!(g.grow(4096), Some(1));
        assert_eq!(g.pages(), 4097);
        g.data_mut()[4096] = 1;

        let mut m64 = LinearMemory::new(one(7, None, true), Some(1 << 20), None).unwrap();
        assert_eq!(m64.pages(), 7);
        assert_eq!(m64.grow(u64::MAX), None);
        assert_eq!(m64.grow((1 << 20) - 7), Some(7));
    }

    #[test]
    fn too_large_minimum_is_an_error() {
        assert!(LinearMemory::new(MemoryType::new(10, None), Some(65536), None).is_err());
    }
}
