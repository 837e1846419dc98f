//! Linear memory: an address-space reservation made once, committed page range by page range.
//!
//! The base pointer never moves after creation, so raw pointers held by instance contexts (and,
//! later, by native code) stay valid across `memory.grow`.

use crate::error::{Error, Result};
use crate::types::MemoryType;
use rustix::mm::{mmap_anonymous, mprotect, munmap, MapFlags, MprotectFlags, ProtFlags};
use std::ptr::NonNull;

/// Address space reserved for a 32-bit memory without a (small) declared maximum: the whole
/// 4 GiB index space, so that growth never needs to move the base.
const RESERVE_32: u64 = 1 << 32;
/// Reservation cap for 64-bit memories; growing past it fails (`memory.grow` returns -1).
const RESERVE_64_CAP: u64 = 16 << 30;

/// A linear memory instance.
pub struct LinearMemory {
    base: NonNull<u8>,
    /// Accessible bytes (current size).
    len: usize,
    /// Reserved bytes (`len <= reserved`).
    reserved: usize,
    pub(crate) ty: MemoryType,
    /// Page count limit combining the declared maximum, the index type and the store's limits.
    max_pages: u64,
}

// SAFETY: the mapping is owned exclusively by this value; access is synchronised by the `&mut`
// borrow of the store that owns it.
unsafe impl Send for LinearMemory {}
// SAFETY: shared references only read `len`/`base`; writes through the base pointer need `&mut`.
unsafe impl Sync for LinearMemory {}

impl LinearMemory {
    /// Creates a memory of `ty.minimum()` pages. `limit_bytes` is the store's cap on this memory.
    pub(crate) fn new(ty: MemoryType, limit_bytes: Option<u64>) -> Result<LinearMemory> {
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
        let cap = if ty.memory64 { RESERVE_64_CAP } else { RESERVE_32 };
        let min_bytes = ty.min.checked_mul(page).filter(|&b| b <= cap).ok_or_else(|| {
            Error::Limit(format!(
                "memory of {} pages exceeds the largest memory Ward can reserve ({cap} bytes)",
                ty.min
            ))
        })?;
        let reserve = max_pages.saturating_mul(page).min(cap).max(min_bytes).max(4096);
        let reserve = usize::try_from(reserve)
            .map_err(|_| Error::Limit("memory reservation exceeds the address space".into()))?;
        // SAFETY: a fresh anonymous private mapping with no access rights; it aliases nothing.
        let ptr = unsafe {
            mmap_anonymous(
                std::ptr::null_mut(),
                reserve,
                ProtFlags::empty(),
                MapFlags::PRIVATE | MapFlags::NORESERVE,
            )
        }
        .map_err(|e| Error::Limit(format!("cannot reserve {reserve} bytes for a memory: {e}")))?;
        let base = NonNull::new(ptr.cast::<u8>()).expect("mmap never returns null on success");
        let mut mem = LinearMemory { base, len: 0, reserved: reserve, ty, max_pages };
        mem.commit(min_bytes as usize)?;
        Ok(mem)
    }

    /// Makes the first `new_len` bytes accessible.
    fn commit(&mut self, new_len: usize) -> Result<()> {
        if new_len > self.len {
            debug_assert!(new_len <= self.reserved);
            // SAFETY: [base, base+reserved) is our mapping and new_len <= reserved; the newly
            // accessible pages of an anonymous mapping read as zero.
            unsafe {
                mprotect(
                    self.base.as_ptr().cast(),
                    new_len,
                    MprotectFlags::READ | MprotectFlags::WRITE,
                )
            }
            .map_err(|e| Error::Limit(format!("cannot commit memory: {e}")))?;
        }
        self.len = new_len;
        Ok(())
    }

    /// The base address. Never changes for the life of the memory.
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
        let new_len = new.checked_mul(1u64 << self.ty.page_size_log2)?;
        if new_len > self.reserved as u64 {
            return None;
        }
        self.commit(new_len as usize).ok()?;
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
        // SAFETY: we own the whole reservation and nothing refers to it after drop.
        unsafe {
            let _ = munmap(self.base.as_ptr().cast(), self.reserved);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grow_keeps_base_and_zeroes() {
        let mut m = LinearMemory::new(MemoryType::new(1, None), None).unwrap();
        let base = m.base();
        m.data_mut()[100] = 7;
        assert_eq!(m.grow(3), Some(1));
        assert_eq!(m.base(), base);
        assert_eq!(m.len(), 4 * 65536);
        assert_eq!(m.data()[100], 7);
        assert_eq!(m.data()[3 * 65536 + 5], 0);
    }

    #[test]
    fn grow_respects_maximum_and_limit() {
        let mut m = LinearMemory::new(MemoryType::new(1, Some(2)), None).unwrap();
        assert_eq!(m.grow(2), None);
        assert_eq!(m.grow(1), Some(1));
        let mut m = LinearMemory::new(MemoryType::new(0, None), Some(65536 * 3)).unwrap();
        assert_eq!(m.grow(4), None);
        assert_eq!(m.grow(3), Some(0));
        // A 4 GiB request past the limit fails without touching memory.
        assert_eq!(m.grow(65536), None);
    }

    #[test]
    fn too_large_minimum_is_an_error() {
        assert!(LinearMemory::new(MemoryType::new(10, None), Some(65536)).is_err());
    }
}
