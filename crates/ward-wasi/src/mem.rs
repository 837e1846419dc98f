//! Bounds-checked access to guest memory.
//!
//! Guest pointers are untrusted offsets. Preview 1 passes them as 32-bit values, but a guest's
//! memory may be a 64-bit one larger than 4 GiB, and a record or an array that starts below
//! 4 GiB may end above it. All address arithmetic is therefore done in 64 bits and checked:
//! every access goes through [`GuestMem`], which checks `ptr + len` against the memory's current
//! size (without overflow) and answers [`Errno::Fault`] when it does not fit, so a bad pointer
//! becomes an error code for the guest, never a host panic or a wrapped-around address.
//! Multi-byte values are little-endian and need not be aligned.
//!
//! Nothing here allocates host memory in proportion to guest input: iovec arrays are validated
//! and then read one entry at a time ([`Iovecs`]), strings are borrowed from guest memory.

use crate::errno::{Errno, WasiResult};
use crate::types::layout::IOVEC_SIZE;

/// The longest path (or symlink target) a guest may pass, in bytes: Linux's `PATH_MAX`
/// (which counts the terminating NUL). Longer ones are [`Errno::NameTooLong`] before anything
/// is copied.
pub(crate) const MAX_PATH_LEN: u64 = 4095;

/// The most bytes one read or write call moves: the count is returned to the guest as a
/// 32-bit `size`, so a call over iovecs that add up to more (many buffers, or buffers in a
/// 64-bit memory) is a short read or write of this many bytes.
pub(crate) const MAX_IO_PER_CALL: u64 = u32::MAX as u64;

/// `len` cut so that `done + len` stays within [`MAX_IO_PER_CALL`].
pub(crate) fn io_budget(len: u64, done: usize) -> u64 {
    len.min(MAX_IO_PER_CALL.saturating_sub(done as u64))
}

/// `base + offset` as a guest address, or [`Errno::Fault`] if it overflows.
pub(crate) fn offset(base: u64, offset: u64) -> WasiResult<u64> {
    base.checked_add(offset).ok_or(Errno::Fault)
}

/// A view of a guest's linear memory for the duration of one WASI call.
pub(crate) struct GuestMem<'a> {
    bytes: &'a mut [u8],
}

/// A validated `iovec`/`ciovec` array in guest memory: its table and every buffer it names lie
/// within memory. Read its entries with [`GuestMem::iovec`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Iovecs {
    ptr: u64,
    count: u32,
}

impl Iovecs {
    /// The number of entries.
    pub(crate) fn len(&self) -> u32 {
        self.count
    }
}

impl<'a> GuestMem<'a> {
    pub(crate) fn new(bytes: &'a mut [u8]) -> GuestMem<'a> {
        GuestMem { bytes }
    }

    /// The memory's size in bytes.
    pub(crate) fn size(&self) -> u64 {
        self.bytes.len() as u64
    }

    fn range(&self, ptr: u64, len: u64) -> WasiResult<std::ops::Range<usize>> {
        let end = ptr.checked_add(len).ok_or(Errno::Fault)?;
        if end > self.size() {
            return Err(Errno::Fault);
        }
        // Both fit in `usize`: they are at most the length of a slice.
        Ok(ptr as usize..end as usize)
    }

    /// `len` bytes at `ptr`.
    pub(crate) fn slice(&self, ptr: u64, len: u64) -> WasiResult<&[u8]> {
        let r = self.range(ptr, len)?;
        Ok(&self.bytes[r])
    }

    /// `len` bytes at `ptr`, writable.
    pub(crate) fn slice_mut(&mut self, ptr: u64, len: u64) -> WasiResult<&mut [u8]> {
        let r = self.range(ptr, len)?;
        Ok(&mut self.bytes[r])
    }

    fn array<const N: usize>(&self, ptr: u64) -> WasiResult<[u8; N]> {
        let s = self.slice(ptr, N as u64)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(crate) fn read_u8(&self, ptr: u64) -> WasiResult<u8> {
        Ok(self.array::<1>(ptr)?[0])
    }

    pub(crate) fn read_u16(&self, ptr: u64) -> WasiResult<u16> {
        Ok(u16::from_le_bytes(self.array(ptr)?))
    }

    pub(crate) fn read_u32(&self, ptr: u64) -> WasiResult<u32> {
        Ok(u32::from_le_bytes(self.array(ptr)?))
    }

    pub(crate) fn read_u64(&self, ptr: u64) -> WasiResult<u64> {
        Ok(u64::from_le_bytes(self.array(ptr)?))
    }

    pub(crate) fn write_bytes(&mut self, ptr: u64, data: &[u8]) -> WasiResult<()> {
        self.slice_mut(ptr, data.len() as u64)?.copy_from_slice(data);
        Ok(())
    }

    pub(crate) fn write_u8(&mut self, ptr: u64, v: u8) -> WasiResult<()> {
        self.write_bytes(ptr, &[v])
    }

    pub(crate) fn write_u16(&mut self, ptr: u64, v: u16) -> WasiResult<()> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }

    pub(crate) fn write_u32(&mut self, ptr: u64, v: u32) -> WasiResult<()> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }

    pub(crate) fn write_u64(&mut self, ptr: u64, v: u64) -> WasiResult<()> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }

    /// A UTF-8 string of `len` bytes at `ptr` (a name passed by the guest).
    ///
    /// Invalid UTF-8 is [`Errno::Ilseq`]; a NUL byte, which no host path can contain, is
    /// [`Errno::Inval`].
    pub(crate) fn str(&self, ptr: u64, len: u64) -> WasiResult<&str> {
        let bytes = self.slice(ptr, len)?;
        let s = std::str::from_utf8(bytes).map_err(|_| Errno::Ilseq)?;
        if s.contains('\0') {
            return Err(Errno::Inval);
        }
        Ok(s)
    }

    /// A path of `len` bytes at `ptr`: a [`str`](GuestMem::str) of at most [`MAX_PATH_LEN`]
    /// bytes ([`Errno::NameTooLong`] otherwise, checked before the bytes are looked at).
    pub(crate) fn path(&self, ptr: u64, len: u64) -> WasiResult<&str> {
        if len > MAX_PATH_LEN {
            return Err(Errno::NameTooLong);
        }
        self.str(ptr, len)
    }

    /// Validates the `iovec`/`ciovec` array of `count` entries at `ptr`: the table and every
    /// buffer must lie within memory, so a bad one is refused before anything is done.
    pub(crate) fn iovecs(&self, ptr: u64, count: u32) -> WasiResult<Iovecs> {
        let table_len = u64::from(count) * IOVEC_SIZE;
        self.range(ptr, table_len)?;
        let iovs = Iovecs { ptr, count };
        for i in 0..count {
            let (buf, len) = self.iovec(iovs, i)?;
            self.range(buf, len)?;
        }
        Ok(iovs)
    }

    /// Entry `i` of a validated iovec array: `(buf, buf_len)`.
    pub(crate) fn iovec(&self, iovs: Iovecs, i: u32) -> WasiResult<(u64, u64)> {
        if i >= iovs.count {
            return Err(Errno::Fault);
        }
        let at = offset(iovs.ptr, u64::from(i) * IOVEC_SIZE)?;
        let buf = self.read_u32(at)?;
        let len = self.read_u32(offset(at, 4)?)?;
        Ok((u64::from(buf), u64::from(len)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_in_bounds() {
        let mut bytes = vec![0u8; 64];
        let mut m = GuestMem::new(&mut bytes);
        m.write_u64(8, 0x0102_0304_0506_0708).unwrap();
        assert_eq!(m.read_u64(8).unwrap(), 0x0102_0304_0506_0708);
        assert_eq!(m.read_u8(8).unwrap(), 0x08);
        m.write_u32(60, 7).unwrap();
        assert_eq!(m.read_u32(60).unwrap(), 7);
        // Unaligned access is fine.
        m.write_u16(3, 0xbeef).unwrap();
        assert_eq!(m.read_u16(3).unwrap(), 0xbeef);
    }

    #[test]
    fn out_of_bounds_is_efault_not_a_panic() {
        let mut bytes = vec![0u8; 16];
        let mut m = GuestMem::new(&mut bytes);
        assert_eq!(m.read_u32(13), Err(Errno::Fault));
        assert_eq!(m.write_u64(9, 1), Err(Errno::Fault));
        assert_eq!(m.slice(u32::MAX.into(), 2).err(), Some(Errno::Fault));
        assert_eq!(m.slice(u64::MAX, 2).err(), Some(Errno::Fault));
        assert_eq!(m.slice(2, u64::MAX).err(), Some(Errno::Fault));
        assert_eq!(m.slice(16, 0).map(|s| s.len()), Ok(0));
        assert_eq!(m.slice(17, 0).err(), Some(Errno::Fault));
        assert_eq!(m.iovecs(0, u32::MAX).err(), Some(Errno::Fault));
        assert_eq!(offset(u64::MAX, 1), Err(Errno::Fault));
    }

    #[test]
    fn iovecs_are_checked_and_read_in_order() {
        let mut bytes = vec![0u8; 64];
        let mut m = GuestMem::new(&mut bytes);
        // Two iovecs at 0: (32, 3) and (40, 4).
        m.write_u32(0, 32).unwrap();
        m.write_u32(4, 3).unwrap();
        m.write_u32(8, 40).unwrap();
        m.write_u32(12, 4).unwrap();
        let iovs = m.iovecs(0, 2).unwrap();
        assert_eq!(iovs.len(), 2);
        assert_eq!(m.iovec(iovs, 0), Ok((32, 3)));
        assert_eq!(m.iovec(iovs, 1), Ok((40, 4)));
        assert_eq!(m.iovec(iovs, 2), Err(Errno::Fault));
        // An iovec whose buffer leaves memory is refused up front.
        m.write_u32(12, 100).unwrap();
        assert_eq!(m.iovecs(0, 2).err(), Some(Errno::Fault));
    }

    #[test]
    fn strings_must_be_utf8_without_nul_and_paths_short() {
        let mut bytes = b"ok\0\xff".to_vec();
        let m = GuestMem::new(&mut bytes);
        assert_eq!(m.str(0, 2), Ok("ok"));
        assert_eq!(m.str(0, 3), Err(Errno::Inval));
        assert_eq!(m.str(3, 1), Err(Errno::Ilseq));
        assert_eq!(m.path(0, 2), Ok("ok"));
        // Too long is refused before the (out-of-range) bytes are even looked at.
        assert_eq!(m.path(0, MAX_PATH_LEN + 1), Err(Errno::NameTooLong));
    }
}
