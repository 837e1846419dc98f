//! Executable memory: a module's linked machine code, mapped read+execute (never writable and
//! executable at once) for as long as the module lives.

use super::{libcalls, LibcallReloc};
use rustix::mm::{mmap_anonymous, mprotect, munmap, MapFlags, MprotectFlags, ProtFlags};
use std::ptr::NonNull;

/// One mapping holding a module's code.
pub(super) struct CodeMemory {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is immutable (read+execute) from creation to drop; sharing its address
// between threads is as safe as sharing a `&[u8]`.
unsafe impl Send for CodeMemory {}
// SAFETY: as for `Send`.
unsafe impl Sync for CodeMemory {}

fn page_size() -> usize {
    // SAFETY: `sysconf` has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}

impl CodeMemory {
    /// Maps `image` (already linked: calls between its functions are PC-relative) as code,
    /// writing the address in this process of each runtime call `relocs` name. Every
    /// relocation lies inside `image` (checked by the callers) and names a runtime call.
    pub(super) fn new(image: &[u8], relocs: &[LibcallReloc]) -> Result<CodeMemory, String> {
        let len = image.len().max(1).next_multiple_of(page_size());
        // SAFETY: a fresh private anonymous mapping; nothing else refers to it.
        let raw = unsafe {
            mmap_anonymous(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE,
            )
        }
        .map_err(|e| format!("cannot map {len} bytes for native code: {e}"))?;
        let ptr = NonNull::new(raw.cast::<u8>()).ok_or("mmap returned null")?;
        // SAFETY: the mapping is `len >= image.len()` bytes, writable, and does not overlap
        // `image`.
        unsafe { std::ptr::copy_nonoverlapping(image.as_ptr(), ptr.as_ptr(), image.len()) };
        let mem = CodeMemory { ptr, len };
        let addresses = libcalls::addresses();
        for r in relocs {
            let at = r.offset as usize;
            let Some(address) = addresses.get(r.libcall as usize) else {
                return Err(format!(
                    "a relocation names runtime call {}, which does not exist",
                    r.libcall
                ));
            };
            if at + 8 > image.len() {
                return Err(format!("a relocation at {at:#x} lies outside the code"));
            }
            let value = (*address as i64).wrapping_add(r.addend);
            // SAFETY: `at + 8 <= image.len() <= len`: inside the mapping, still writable.
            unsafe { ptr.as_ptr().add(at).cast::<i64>().write_unaligned(value) };
        }
        // SAFETY: the mapping is ours, `len` bytes from `ptr`; from here on it is only read and
        // executed.
        unsafe { mprotect(ptr.as_ptr().cast(), len, MprotectFlags::READ | MprotectFlags::EXEC) }
            .map_err(|e| format!("cannot make native code executable: {e}"))?;
        Ok(mem)
    }

    /// The first `len` bytes of the code (`len` at most the mapping's length).
    pub(super) fn bytes(&self, len: usize) -> &[u8] {
        assert!(len <= self.len);
        // SAFETY: the mapping is readable for `self.len` bytes and never written after `new`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), len) }
    }

    /// The address of byte `offset` of the code.
    pub(super) fn at(&self, offset: u32) -> *const u8 {
        debug_assert!((offset as usize) < self.len);
        // SAFETY: within the mapping.
        unsafe { self.ptr.as_ptr().add(offset as usize) }
    }
}

impl Drop for CodeMemory {
    fn drop(&mut self) {
        // SAFETY: the mapping was created by `new` with this length; the module owning it is
        // being dropped, so no instance (each holds the module) can run its code any more.
        let _ = unsafe { munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}
