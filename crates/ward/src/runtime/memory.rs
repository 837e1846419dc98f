//! Linear memory, in one of two strategies chosen per engine:
//!
//! - *dense* (the default): a small memory takes a slot of the engine's [`MemoryPool`]; one that
//!   outgrows its slot moves to a mapping of its own, which grows (and may move) with `mremap`.
//!   Every access is bounds-checked explicitly, so no guard region is needed and one process can
//!   hold hundreds of thousands of memories.
//! - *guarded*: the whole index space (4 GiB for 32-bit memories, plus a 32 MiB guard after it
//!   for those with 64 KiB pages) is reserved once, without access rights, and `memory.grow`
//!   only changes protections, so the base never moves. The native tier drops the bounds checks
//!   of accesses that stay within the guard (`native/signals.rs` turns a fault into the trap).
//!
//! Under the dense strategy the base can move when the memory grows: every tier reloads a
//! memory's base after anything that can grow it (a `memory.grow`, a call, a host call).
//!
//! A *shared* memory (threads proposal) is neither: its bytes are a [`SharedBytes`], an
//! `Arc`-counted object outside the pool that several stores (on several OS threads) hold. It
//! reserves its declared maximum once (shared memories must declare one), so its base never
//! moves; its length is an atomic, published (`SeqCst`) by `grow` under a lock after the new
//! pages are accessible, so a thread that reads the length may touch every byte below it. Each
//! store keeps a [`LinearMemory`] *view* of it (`Backing::Shared`) so that instances address it
//! like any other memory; the view's `len()` reads the shared length.
//!
//! ## Memory model of shared memories
//!
//! No Rust reference (`&[u8]`, `&mut [u8]`) is ever formed over the bytes of a shared memory:
//! [`LinearMemory::data`] and [`LinearMemory::data_mut`] refuse (panic) for them, and every
//! access goes through a raw pointer below the length read at that moment. Atomic instructions
//! use host atomics (`AtomicUN::from_ptr`, sequentially consistent) on aligned addresses.
//! Non-atomic accesses (plain loads and stores, bulk operations, host copies) are plain
//! unaligned machine loads, stores and `memcpy`s: concurrent ones may tear, as the threads
//! proposal allows for non-atomic accesses, and nothing in the host depends on the value
//! read (each is a guest value, validated wherever the host interprets it). Bytes never
//! become inaccessible: a shared memory only grows, and its mapping lives as long as any view
//! or handle.

use super::pool::MemoryPool;
use crate::error::{Error, Result};
use crate::types::MemoryType;
use rustix::mm::{
    mmap_anonymous, mprotect, mremap, munmap, MapFlags, MprotectFlags, MremapFlags, ProtFlags,
};
use std::collections::{HashMap, VecDeque};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Address space reserved for a guarded 32-bit memory: the whole 4 GiB index space, so that
/// growth never needs to move the base.
const RESERVE_32: u64 = 1 << 32;
/// Reserved and never accessible past the 4 GiB of a guarded 32-bit memory with 64 KiB pages:
/// the native tier drops the bounds check of an access whose static offset plus size is at most
/// this, since such an access can only land in the reservation (and faults past the length).
pub(crate) const GUARD_BYTES_32: u64 = 32 << 20;
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
    /// A view of a shared memory, whose bytes, length and growth live in the `SharedBytes`.
    Shared(Arc<SharedBytes>),
}

/// A linear memory instance.
///
/// `base` and `len` come first and are the memory's definition that every tier reads through
/// instance contexts (see `vmctx`): `{ base: *mut u8 @0, length: usize @8 }`.
#[repr(C)]
pub struct LinearMemory {
    pub(crate) base: NonNull<u8>,
    /// Accessible bytes (current size). For a shared memory a snapshot, never larger than the
    /// real size (another thread may have grown it since): see [`LinearMemory::refresh_len`].
    pub(crate) len: usize,
    backing: Backing,
    pub(crate) ty: MemoryType,
    /// Page count limit combining the declared maximum, the index type and the store's limits.
    max_pages: u64,
}

/// The page count limit of a memory of type `ty` under a store cap of `limit_bytes`.
fn max_pages_of(ty: &MemoryType, limit_bytes: Option<u64>) -> u64 {
    let page = 1u64 << ty.page_size_log2;
    let mut max_pages = ty.max.unwrap_or(u64::MAX).min(ty.absolute_max_pages());
    if let Some(limit) = limit_bytes {
        max_pages = max_pages.min(limit / page);
    }
    max_pages
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

/// Fails if a memory of type `ty` cannot start within `max_pages`.
fn check_minimum(ty: &MemoryType, max_pages: u64) -> Result<()> {
    if ty.min > max_pages {
        return Err(Error::Limit(format!(
            "memory of {} pages exceeds the limit of {max_pages} pages",
            ty.min
        )));
    }
    Ok(())
}

/// `base + offset` if `[offset, offset + n)` lies within `len` accessible bytes at `base`.
#[inline]
fn ptr_in(base: *mut u8, len: usize, offset: u64, n: u64) -> Option<*mut u8> {
    let end = offset.checked_add(n)?;
    if end > len as u64 {
        return None;
    }
    // SAFETY: offset <= end <= len, so the result stays inside the accessible bytes.
    Some(unsafe { base.add(offset as usize) })
}

/// Copies `buf.len()` bytes from `src` (from [`ptr_in`] for that many bytes) into `buf`.
fn copy_out(src: Option<*mut u8>, buf: &mut [u8]) -> bool {
    let Some(p) = src else { return false };
    // SAFETY: `p` is valid for `buf.len()` bytes (`ptr_in` checked them); `buf` is host memory,
    // so the ranges do not overlap. No reference to the guest bytes is formed.
    unsafe { std::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), buf.len()) };
    true
}

/// Copies `buf` to `dst` (from [`ptr_in`] for `buf.len()` bytes).
fn copy_in(dst: Option<*mut u8>, buf: &[u8]) -> bool {
    let Some(p) = dst else { return false };
    // SAFETY: as in `copy_out`.
    unsafe { std::ptr::copy_nonoverlapping(buf.as_ptr(), p, buf.len()) };
    true
}

impl LinearMemory {
    /// Creates a memory of `ty.minimum()` pages. `limit_bytes` is the store's cap on this memory;
    /// `pool` is the engine's dense pool (`None`: the guarded strategy).
    pub(crate) fn new(
        ty: MemoryType,
        limit_bytes: Option<u64>,
        pool: Option<&Arc<MemoryPool>>,
    ) -> Result<LinearMemory> {
        if ty.shared {
            let shared = Arc::new(SharedBytes::new(ty, limit_bytes)?);
            return LinearMemory::view_of(shared, limit_bytes);
        }
        let page = 1u64 << ty.page_size_log2;
        let max_pages = max_pages_of(&ty, limit_bytes);
        check_minimum(&ty, max_pages)?;
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
                // A 32-bit memory with 64 KiB pages reserves the whole index space and the
                // guard after it, whatever its maximum (see `GUARD_BYTES_32`).
                let want = if !ty.memory64 && ty.page_size_log2 == 16 {
                    RESERVE_32 + GUARD_BYTES_32
                } else {
                    max_bytes.max(min_bytes).max(4096)
                };
                let reserved = usize::try_from(want).map_err(|_| {
                    Error::Limit("memory reservation exceeds the address space".into())
                })?;
                (map(reserved, ProtFlags::empty())?, Backing::Guarded { reserved })
            }
        };
        let mut mem = LinearMemory { base, len: 0, backing, ty, max_pages };
        mem.resize(min_len)?;
        Ok(mem)
    }

    /// A store's view of the shared memory `shared`, which the store may grow up to
    /// `limit_bytes` (its memory size limit). Fails if the memory is already larger.
    pub(crate) fn view_of(
        shared: Arc<SharedBytes>,
        limit_bytes: Option<u64>,
    ) -> Result<LinearMemory> {
        let ty = shared.ty;
        let max_pages = max_pages_of(&ty, limit_bytes).min(shared.max_pages);
        let pages = shared.pages();
        if pages > max_pages {
            return Err(Error::Limit(format!(
                "shared memory of {pages} pages exceeds the limit of {max_pages} pages"
            )));
        }
        let len = shared.len();
        Ok(LinearMemory { base: shared.base, len, backing: Backing::Shared(shared), ty, max_pages })
    }

    /// The shared memory this is a view of, if it is one.
    #[inline]
    pub(crate) fn shared(&self) -> Option<&Arc<SharedBytes>> {
        match &self.backing {
            Backing::Shared(s) => Some(s),
            _ => None,
        }
    }

    /// The host address of `[offset, offset + n)`, if it lies within the current size. The
    /// pointer is valid for `n` bytes until the memory grows (shared memories: for the life of
    /// the memory).
    #[inline]
    pub(crate) fn ptr_at(&self, offset: u64, n: u64) -> Option<*mut u8> {
        ptr_in(self.base.as_ptr(), self.len(), offset, n)
    }

    /// Copies `buf.len()` bytes at `offset` into `buf`; `false` (nothing copied) if the range
    /// is out of bounds. A plain copy: on a shared memory, concurrent writes may tear it.
    pub(crate) fn read_at(&self, offset: u64, buf: &mut [u8]) -> bool {
        copy_out(self.ptr_at(offset, buf.len() as u64), buf)
    }

    /// Copies `buf` into the memory at `offset`; `false` (nothing written) if out of bounds.
    /// Takes `&self`: the bytes are behind the base pointer, not inside `self`; callers hold
    /// the store exclusively (unshared) or accept racing guest accesses (shared).
    pub(crate) fn write_at(&self, offset: u64, buf: &[u8]) -> bool {
        copy_in(self.ptr_at(offset, buf.len() as u64), buf)
    }

    /// Sets `n` bytes at `offset` to `byte`; `false` (nothing written) if out of bounds.
    pub(crate) fn fill_at(&self, offset: u64, n: u64, byte: u8) -> bool {
        let Some(p) = self.ptr_at(offset, n) else {
            return false;
        };
        // SAFETY: `p` is valid for `n` bytes (checked above, so `n` fits in usize).
        unsafe { std::ptr::write_bytes(p, byte, n as usize) };
        true
    }

    /// Makes the first `new_len` bytes accessible (`new_len >= len`), moving the memory if its
    /// current backing is too small.
    fn resize(&mut self, new_len: usize) -> Result<()> {
        debug_assert!(new_len >= self.len);
        debug_assert!(self.shared().is_none(), "shared memories grow in `SharedBytes`");
        if let Backing::Pooled(pool) = &self.backing {
            if new_len > pool.slot_size() {
                self.move_out_of_pool(new_len)?;
            }
        }
        match &mut self.backing {
            Backing::Pooled(_) | Backing::Shared(_) => {}
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

    /// The current size in bytes (for a shared memory, read atomically: another thread may
    /// have grown it since this thread last looked).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        match &self.backing {
            Backing::Shared(s) => s.len(),
            _ => self.len,
        }
    }

    /// The current size in bytes, also written to the definition (`len`) so that code reading
    /// the definition sees it: for a shared memory another thread may have grown.
    #[cold]
    pub(crate) fn refresh_len(&mut self) -> usize {
        let len = self.len();
        self.len = len;
        len
    }

    /// The current size in pages.
    pub(crate) fn pages(&self) -> u64 {
        (self.len() as u64) >> self.ty.page_size_log2
    }

    /// Grows by `delta` pages, returning the old size in pages, or `None` if the growth is not
    /// possible (beyond the maximum, a limit, or the reservation). Nothing is reserved or
    /// committed before the checks pass.
    pub(crate) fn grow(&mut self, delta: u64) -> Option<u64> {
        if let Backing::Shared(s) = &self.backing {
            let old = s.grow(delta, self.max_pages);
            self.len = s.len();
            return old;
        }
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
    ///
    /// # Panics
    /// For a shared memory: other threads may write its bytes, so no reference to them may
    /// exist (use [`read_at`](Self::read_at) and friends).
    pub(crate) fn data(&self) -> &[u8] {
        assert!(self.shared().is_none(), "the bytes of a shared memory cannot be borrowed");
        // SAFETY: [base, base+len) is mapped read/write for the life of `self`, and only this
        // store (borrowed through `self`) reaches an unshared memory.
        unsafe { std::slice::from_raw_parts(self.base.as_ptr(), self.len) }
    }

    /// The accessible bytes, mutably.
    ///
    /// # Panics
    /// For a shared memory, as [`data`](Self::data).
    pub(crate) fn data_mut(&mut self) -> &mut [u8] {
        assert!(self.shared().is_none(), "the bytes of a shared memory cannot be borrowed");
        // SAFETY: as in `data`, and `&mut self` gives exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.base.as_ptr(), self.len) }
    }
}

/// The bytes of a shared memory: one reservation of the declared maximum that never moves, an
/// atomic length, a growth lock and the table of threads waiting in `memory.atomic.wait`.
pub struct SharedBytes {
    base: NonNull<u8>,
    /// Bytes reserved (inaccessible beyond `len`).
    reserved: usize,
    /// Accessible bytes; only grows, published after the pages became accessible.
    len: AtomicUsize,
    /// Serialises growth.
    grow_lock: Mutex<()>,
    pub(crate) ty: MemoryType,
    /// Page count limit: the declared maximum within the reservation.
    max_pages: u64,
    /// Waiters of `memory.atomic.wait`, by address.
    waiters: Mutex<HashMap<u64, VecDeque<Arc<Waiter>>>>,
}

// SAFETY: the reservation is owned by this value and unmapped only on drop; the bytes are only
// ever accessed through raw pointers or host atomics (never through references), the length is
// an atomic, growth is serialised by `grow_lock`, and the waiter table is behind a mutex.
unsafe impl Send for SharedBytes {}
// SAFETY: see `Send`.
unsafe impl Sync for SharedBytes {}

/// One thread blocked in `memory.atomic.wait`.
struct Waiter {
    /// Set (under the table lock) by the `notify` that removed it from the queue.
    woken: AtomicBool,
    cv: Condvar,
}

/// How long a waiting thread sleeps before it looks at its store's interrupt flag and epoch
/// deadline again.
const WAIT_SLICE: Duration = Duration::from_millis(5);

impl SharedBytes {
    /// Reserves a shared memory of type `ty` (which must declare a maximum) with `ty.min` pages
    /// accessible; `limit_bytes` caps the reservation (a store's memory size limit).
    pub(crate) fn new(ty: MemoryType, limit_bytes: Option<u64>) -> Result<SharedBytes> {
        let Some(_) = ty.max else {
            return Err(Error::usage("a shared memory must declare a maximum size"));
        };
        let page = 1u64 << ty.page_size_log2;
        let max_pages = max_pages_of(&ty, limit_bytes);
        check_minimum(&ty, max_pages)?;
        let cap = size_cap(ty.memory64);
        let max_bytes = max_pages.saturating_mul(page).min(cap);
        let max_pages = max_bytes / page;
        if ty.min > max_pages {
            return Err(Error::Limit(format!(
                "memory of {} pages exceeds the largest memory Ward can reserve ({cap} bytes)",
                ty.min
            )));
        }
        let reserved = usize::try_from(max_bytes)
            .map(round_to_host_page)
            .map_err(|_| Error::Limit("memory reservation exceeds the address space".into()))?;
        let base = map(reserved, ProtFlags::empty())?;
        let shared = SharedBytes {
            base,
            reserved,
            len: AtomicUsize::new(0),
            grow_lock: Mutex::new(()),
            ty,
            max_pages,
            waiters: Mutex::new(HashMap::new()),
        };
        shared.commit(0, (ty.min * page) as usize)?;
        shared.len.store((ty.min * page) as usize, SeqCst);
        Ok(shared)
    }

    /// Makes `[old_len, new_len)` accessible.
    fn commit(&self, old_len: usize, new_len: usize) -> Result<()> {
        if new_len <= old_len {
            return Ok(());
        }
        if new_len > self.reserved {
            return Err(Error::Limit("memory reservation exhausted".into()));
        }
        // SAFETY: [base, base+reserved) is our reservation and new_len <= reserved; making the
        // prefix readable and writable never takes access away from bytes other threads may
        // be using (the accessible prefix only grows), and new pages read as zero.
        unsafe {
            mprotect(self.base.as_ptr().cast(), new_len, MprotectFlags::READ | MprotectFlags::WRITE)
        }
        .map_err(|e| Error::Limit(format!("cannot commit memory: {e}")))
    }

    /// The base address, fixed for the life of the memory.
    #[inline]
    pub(crate) fn base(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    /// The current size in bytes.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len.load(SeqCst)
    }

    /// The current size in pages.
    pub(crate) fn pages(&self) -> u64 {
        (self.len() as u64) >> self.ty.page_size_log2
    }

    /// Copies bytes at `offset` into `buf` (see [`LinearMemory::read_at`]).
    pub(crate) fn read_at(&self, offset: u64, buf: &mut [u8]) -> bool {
        copy_out(ptr_in(self.base(), self.len(), offset, buf.len() as u64), buf)
    }

    /// Copies `buf` to `offset` (see [`LinearMemory::write_at`]).
    pub(crate) fn write_at(&self, offset: u64, buf: &[u8]) -> bool {
        copy_in(ptr_in(self.base(), self.len(), offset, buf.len() as u64), buf)
    }

    /// Grows by `delta` pages, up to `cap` pages (a store's limit) and the declared maximum,
    /// under the growth lock; the new length is published once the pages are accessible.
    /// Returns the old size in pages.
    pub(crate) fn grow(&self, delta: u64, cap: u64) -> Option<u64> {
        let _guard = self.grow_lock.lock().unwrap_or_else(|e| e.into_inner());
        let old_len = self.len.load(SeqCst);
        let old = (old_len as u64) >> self.ty.page_size_log2;
        let new = old.checked_add(delta)?;
        if new > self.max_pages.min(cap) {
            return None;
        }
        let new_len = usize::try_from(new.checked_mul(1u64 << self.ty.page_size_log2)?).ok()?;
        self.commit(old_len, new_len).ok()?;
        self.len.store(new_len, SeqCst);
        Some(old)
    }

    fn lock_waiters(&self) -> MutexGuard<'_, HashMap<u64, VecDeque<Arc<Waiter>>>> {
        self.waiters.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `memory.atomic.notify`: wakes up to `count` threads waiting at `addr`, oldest first;
    /// returns how many it woke.
    pub(crate) fn notify(&self, addr: u64, count: u32) -> u32 {
        let mut table = self.lock_waiters();
        let Some(queue) = table.get_mut(&addr) else {
            return 0;
        };
        let mut woken = 0;
        while woken < count {
            let Some(w) = queue.pop_front() else { break };
            w.woken.store(true, SeqCst);
            w.cv.notify_one();
            woken += 1;
        }
        if queue.is_empty() {
            table.remove(&addr);
        }
        woken
    }

    /// `memory.atomic.wait32/64` at `addr`: if `load()` (the atomic load of the waited-on
    /// value, done under the waiter table's lock, so that no `notify` can slip between the
    /// comparison and the enqueue) differs from `expected`, 1 ("not-equal"); otherwise blocks
    /// until notified (0, "ok") or until `deadline` (2, "timed-out"). Every few milliseconds it
    /// calls `poll`, which may end the wait with an error (an interrupted store) or as timed
    /// out (`Ok(true)`: the store's epoch deadline passed), so that no guest can keep a thread
    /// waiting beyond its store's limits.
    pub(crate) fn wait<E>(
        &self,
        addr: u64,
        load: impl FnOnce() -> u64,
        expected: u64,
        deadline: Option<Instant>,
        mut poll: impl FnMut() -> std::result::Result<bool, E>,
    ) -> std::result::Result<u64, E> {
        let mut table = self.lock_waiters();
        if load() != expected {
            return Ok(1);
        }
        let me = Arc::new(Waiter { woken: AtomicBool::new(false), cv: Condvar::new() });
        table.entry(addr).or_default().push_back(me.clone());
        let leave = |table: &mut HashMap<u64, VecDeque<Arc<Waiter>>>| {
            if let Some(q) = table.get_mut(&addr) {
                q.retain(|w| !Arc::ptr_eq(w, &me));
                if q.is_empty() {
                    table.remove(&addr);
                }
            }
        };
        loop {
            if me.woken.load(SeqCst) {
                return Ok(0);
            }
            match poll() {
                Ok(false) => {}
                Ok(true) => {
                    leave(&mut table);
                    return Ok(2);
                }
                Err(e) => {
                    leave(&mut table);
                    return Err(e);
                }
            }
            let now = Instant::now();
            let slice = match deadline {
                Some(d) if now >= d => {
                    leave(&mut table);
                    return Ok(2);
                }
                Some(d) => (d - now).min(WAIT_SLICE),
                None => WAIT_SLICE,
            };
            table = me.cv.wait_timeout(table, slice).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

impl Drop for SharedBytes {
    fn drop(&mut self) {
        // SAFETY: we own the reservation; the last view and handle are gone, so nothing
        // refers to it any more.
        unsafe {
            let _ = munmap(self.base.as_ptr().cast(), self.reserved);
        }
    }
}

impl Drop for LinearMemory {
    fn drop(&mut self) {
        match &self.backing {
            // SAFETY: the slot came from this pool and nothing refers to it after drop.
            Backing::Pooled(pool) => unsafe { pool.give_back(self.base, self.len) },
            // The `SharedBytes` unmaps itself when its last holder goes.
            Backing::Shared(_) => {}
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
