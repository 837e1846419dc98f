//! Bounds-checked access to guest memory.
//!
//! Guest pointers are untrusted 32-bit offsets. Every access goes through [`GuestMem`], which
//! checks `ptr + len` against the memory's current size (without overflow) and answers
//! [`Errno::Fault`] when it does not fit, so a bad pointer becomes an error code for the guest,
//! never a host panic. Multi-byte values are little-endian and need not be aligned.

use crate::errno::{Errno, WasiResult};
use crate::types::layout::IOVEC_SIZE;

/// A view of a guest's linear memory for the duration of one WASI call.
pub(crate) struct GuestMem<'a> {
    bytes: &'a mut [u8],
}

impl<'a> GuestMem<'a> {
    pub(crate) fn new(bytes: &'a mut [u8]) -> GuestMem<'a> {
        GuestMem { bytes }
    }

    fn range(&self, ptr: u32, len: u32) -> WasiResult<std::ops::Range<usize>> {
        let start = ptr as usize;
        let end = start.checked_add(len as usize).ok_or(Errno::Fault)?;
        if end > self.bytes.len() {
            return Err(Errno::Fault);
        }
        Ok(start..end)
    }

    /// `len` bytes at `ptr`.
    pub(crate) fn slice(&self, ptr: u32, len: u32) -> WasiResult<&[u8]> {
        let r = self.range(ptr, len)?;
        Ok(&self.bytes[r])
    }

    /// `len` bytes at `ptr`, writable.
    pub(crate) fn slice_mut(&mut self, ptr: u32, len: u32) -> WasiResult<&mut [u8]> {
        let r = self.range(ptr, len)?;
        Ok(&mut self.bytes[r])
    }

    fn array<const N: usize>(&self, ptr: u32) -> WasiResult<[u8; N]> {
        let s = self.slice(ptr, N as u32)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(crate) fn read_u8(&self, ptr: u32) -> WasiResult<u8> {
        Ok(self.array::<1>(ptr)?[0])
    }

    pub(crate) fn read_u16(&self, ptr: u32) -> WasiResult<u16> {
        Ok(u16::from_le_bytes(self.array(ptr)?))
    }

    pub(crate) fn read_u32(&self, ptr: u32) -> WasiResult<u32> {
        Ok(u32::from_le_bytes(self.array(ptr)?))
    }

    pub(crate) fn read_u64(&self, ptr: u32) -> WasiResult<u64> {
        Ok(u64::from_le_bytes(self.array(ptr)?))
    }

    pub(crate) fn write_bytes(&mut self, ptr: u32, data: &[u8]) -> WasiResult<()> {
        let len = u32::try_from(data.len()).map_err(|_| Errno::Fault)?;
        self.slice_mut(ptr, len)?.copy_from_slice(data);
        Ok(())
    }

    pub(crate) fn write_u8(&mut self, ptr: u32, v: u8) -> WasiResult<()> {
        self.write_bytes(ptr, &[v])
    }

    pub(crate) fn write_u16(&mut self, ptr: u32, v: u16) -> WasiResult<()> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }

    pub(crate) fn write_u32(&mut self, ptr: u32, v: u32) -> WasiResult<()> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }

    pub(crate) fn write_u64(&mut self, ptr: u32, v: u64) -> WasiResult<()> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }

    /// A UTF-8 string of `len` bytes at `ptr` (a path or name passed by the guest).
    ///
    /// Invalid UTF-8 is [`Errno::Ilseq`]; a NUL byte, which no host path can contain, is
    /// [`Errno::Inval`].
    pub(crate) fn str(&self, ptr: u32, len: u32) -> WasiResult<&str> {
        let bytes = self.slice(ptr, len)?;
        let s = std::str::from_utf8(bytes).map_err(|_| Errno::Ilseq)?;
        if s.contains('\0') {
            return Err(Errno::Inval);
        }
        Ok(s)
    }

    /// The `(buf, buf_len)` pairs of an `iovec`/`ciovec` array of `count` entries at `ptr`.
    ///
    /// Each buffer is checked to lie within memory, so callers can index it afterwards.
    pub(crate) fn iovecs(&self, ptr: u32, count: u32) -> WasiResult<Vec<(u32, u32)>> {
        let table_len = count.checked_mul(IOVEC_SIZE).ok_or(Errno::Fault)?;
        self.range(ptr, table_len)?;
        let mut out = Vec::with_capacity(count as usize);
        for i in 0..count {
            let at = ptr + i * IOVEC_SIZE;
            let buf = self.read_u32(at)?;
            let len = self.read_u32(at + 4)?;
            self.range(buf, len)?;
            out.push((buf, len));
        }
        Ok(out)
    }

    /// The bytes of a `ciovec` array, gathered into one buffer (for writes).
    pub(crate) fn gather(&self, iovs: &[(u32, u32)]) -> WasiResult<Vec<u8>> {
        let total: usize = iovs.iter().map(|&(_, l)| l as usize).sum();
        let mut out = Vec::with_capacity(total);
        for &(buf, len) in iovs {
            out.extend_from_slice(self.slice(buf, len)?);
        }
        Ok(out)
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
        assert_eq!(m.slice(u32::MAX, 2).err(), Some(Errno::Fault));
        assert_eq!(m.slice(16, 0).map(|s| s.len()), Ok(0));
        assert_eq!(m.slice(17, 0).err(), Some(Errno::Fault));
        assert_eq!(m.iovecs(0, u32::MAX).err(), Some(Errno::Fault));
    }

    #[test]
    fn iovecs_are_checked_and_gathered_in_order() {
        let mut bytes = vec![0u8; 64];
        let mut m = GuestMem::new(&mut bytes);
        // Two iovecs at 0: (32, 3) and (40, 4).
        m.write_u32(0, 32).unwrap();
        m.write_u32(4, 3).unwrap();
        m.write_u32(8, 40).unwrap();
        m.write_u32(12, 4).unwrap();
        let iovs = m.iovecs(0, 2).unwrap();
        assert_eq!(iovs, vec![(32, 3), (40, 4)]);
        m.write_bytes(32, b"abc").unwrap();
        m.write_bytes(40, b"def").unwrap();
        assert_eq!(m.gather(&iovs).unwrap(), b"abcdef\0");
        // An iovec whose buffer leaves memory is refused up front.
        m.write_u32(12, 100).unwrap();
        assert_eq!(m.iovecs(0, 2).err(), Some(Errno::Fault));
    }

    #[test]
    fn strings_must_be_utf8_without_nul() {
        let mut bytes = b"ok\0\xff".to_vec();
        let m = GuestMem::new(&mut bytes);
        assert_eq!(m.str(0, 2), Ok("ok"));
        assert_eq!(m.str(0, 3), Err(Errno::Inval));
        assert_eq!(m.str(3, 1), Err(Errno::Ilseq));
    }
}
