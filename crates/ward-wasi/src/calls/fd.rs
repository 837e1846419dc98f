//! The `fd_*` calls: operations on an open descriptor.
//!
//! Every call first checks that the descriptor exists ([`Errno::Badf`]) and carries the rights
//! the operation needs ([`Errno::NotCapable`]), then acts on the host object.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::num::NonZeroU64;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::DirEntryExt;

use cap_std::fs::{Dir, File, OpenOptions};
use ward::Linker;

use super::{ctx_fn, mem_fn};
use crate::ctx::WasiCtx;
use crate::errno::{Errno, WasiResult};
use crate::host::GetCtx;
use crate::mem::{io_budget, GuestMem, Iovecs};
use crate::table::{filetype_of, DirRecord, Entry, Handle};
use crate::types::layout::{DIRENT_SIZE, FDSTAT_SIZE, FILESTAT_SIZE, PRESTAT_SIZE};
use crate::types::{advice, fdflags, filetype, fstflags, preopentype, rights, whence};

/// `filestat`: what `fd_filestat_get` and `path_filestat_get` report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Filestat {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    pub(crate) filetype: u8,
    pub(crate) nlink: u64,
    pub(crate) size: u64,
    pub(crate) atim: u64,
    pub(crate) mtim: u64,
    pub(crate) ctim: u64,
}

fn nanos(sec: i64, nsec: i64) -> u64 {
    if sec < 0 {
        return 0;
    }
    (sec as u64).saturating_mul(1_000_000_000).saturating_add(nsec as u64)
}

impl Filestat {
    // The field types of `struct stat` differ between platforms; the casts are needed on some.
    #[allow(clippy::unnecessary_cast)]
    pub(crate) fn from_stat(st: &rustix::fs::Stat) -> Filestat {
        let ft = rustix::fs::FileType::from_raw_mode(st.st_mode as _);
        use rustix::fs::FileType as F;
        let filetype = match ft {
            F::RegularFile => filetype::REGULAR_FILE,
            F::Directory => filetype::DIRECTORY,
            F::Symlink => filetype::SYMBOLIC_LINK,
            F::CharacterDevice => filetype::CHARACTER_DEVICE,
            F::BlockDevice => filetype::BLOCK_DEVICE,
            F::Socket => filetype::SOCKET_STREAM,
            _ => filetype::UNKNOWN,
        };
        Filestat {
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            filetype,
            nlink: st.st_nlink as u64,
            size: st.st_size as u64,
            atim: nanos(st.st_atime as i64, st.st_atime_nsec as i64),
            mtim: nanos(st.st_mtime as i64, st.st_mtime_nsec as i64),
            ctim: nanos(st.st_ctime as i64, st.st_ctime_nsec as i64),
        }
    }

    pub(crate) fn from_metadata(m: &cap_std::fs::Metadata) -> Filestat {
        use cap_std::fs::MetadataExt;
        Filestat {
            dev: m.dev(),
            ino: m.ino(),
            filetype: filetype_of(m.file_type()),
            nlink: m.nlink(),
            size: m.len(),
            atim: nanos(m.atime(), m.atime_nsec()),
            mtim: nanos(m.mtime(), m.mtime_nsec()),
            ctim: nanos(m.ctime(), m.ctime_nsec()),
        }
    }

    pub(crate) fn write(&self, mem: &mut GuestMem<'_>, ptr: u64) -> WasiResult<()> {
        // Checked first, so the field offsets below cannot overflow.
        mem.slice_mut(ptr, FILESTAT_SIZE)?.fill(0);
        mem.write_u64(ptr, self.dev)?;
        mem.write_u64(ptr + 8, self.ino)?;
        mem.write_u8(ptr + 16, self.filetype)?;
        mem.write_u64(ptr + 24, self.nlink)?;
        mem.write_u64(ptr + 32, self.size)?;
        mem.write_u64(ptr + 40, self.atim)?;
        mem.write_u64(ptr + 48, self.mtim)?;
        mem.write_u64(ptr + 56, self.ctim)
    }
}

/// Host timestamps for a `*_set_times` call: `None` leaves a time unchanged.
pub(crate) struct TimeChange {
    pub(crate) atime: Option<Time>,
    pub(crate) mtime: Option<Time>,
}

#[derive(Clone, Copy)]
pub(crate) enum Time {
    Now,
    At(u64),
}

impl TimeChange {
    /// Decodes `fstflags`; asking for both a time and "now" for the same field is EINVAL.
    pub(crate) fn new(atim: u64, mtim: u64, flags: u16) -> WasiResult<TimeChange> {
        use fstflags::*;
        if flags & !ALL != 0
            || flags & (ATIM | ATIM_NOW) == ATIM | ATIM_NOW
            || flags & (MTIM | MTIM_NOW) == MTIM | MTIM_NOW
        {
            return Err(Errno::Inval);
        }
        let pick = |set: u16, now: u16, t: u64| {
            if flags & now != 0 {
                Some(Time::Now)
            } else if flags & set != 0 {
                Some(Time::At(t))
            } else {
                None
            }
        };
        Ok(TimeChange { atime: pick(ATIM, ATIM_NOW, atim), mtime: pick(MTIM, MTIM_NOW, mtim) })
    }

    fn timespec(t: Option<Time>) -> rustix::fs::Timespec {
        match t {
            None => rustix::fs::Timespec { tv_sec: 0, tv_nsec: rustix::fs::UTIME_OMIT },
            Some(Time::Now) => rustix::fs::Timespec { tv_sec: 0, tv_nsec: rustix::fs::UTIME_NOW },
            Some(Time::At(ns)) => rustix::fs::Timespec {
                tv_sec: (ns / 1_000_000_000) as _,
                tv_nsec: (ns % 1_000_000_000) as _,
            },
        }
    }

    pub(crate) fn timestamps(&self) -> rustix::fs::Timestamps {
        rustix::fs::Timestamps {
            last_access: Self::timespec(self.atime),
            last_modification: Self::timespec(self.mtime),
        }
    }
}

/// A directory's own descriptor may be a path-only handle; operations that need a real open
/// descriptor (sync, set times) go through a fresh read-only handle to `.` instead.
pub(crate) fn reopen_dir(dir: &Dir) -> WasiResult<File> {
    use cap_fs_ext::OpenOptionsMaybeDirExt;
    let mut opts = OpenOptions::new();
    opts.read(true).maybe_dir(true);
    Ok(dir.open_with(".", &opts)?)
}

fn retry<R>(mut f: impl FnMut() -> io::Result<R>) -> io::Result<R> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// Reads from a stream into the first non-empty buffer only: a second read could block even
/// though data was already delivered.
fn read_stream(
    mut read: impl FnMut(&mut [u8]) -> io::Result<usize>,
    mem: &mut GuestMem<'_>,
    iovs: Iovecs,
) -> WasiResult<usize> {
    for i in 0..iovs.len() {
        let (buf, len) = mem.iovec(iovs, i)?;
        if len > 0 {
            let dst = mem.slice_mut(buf, len)?;
            return Ok(retry(|| read(dst))?);
        }
    }
    Ok(0)
}

/// Reads from a file into the buffers in order, until one is not filled (end of file).
fn read_file(
    mut read: impl FnMut(&mut [u8], u64) -> io::Result<usize>,
    mem: &mut GuestMem<'_>,
    iovs: Iovecs,
) -> WasiResult<usize> {
    let mut total = 0usize;
    for i in 0..iovs.len() {
        let (buf, len) = mem.iovec(iovs, i)?;
        let len = io_budget(len, total);
        if len == 0 {
            continue;
        }
        let dst = mem.slice_mut(buf, len)?;
        match retry(|| read(dst, total as u64)) {
            Ok(n) => {
                total += n;
                if n < dst.len() {
                    break;
                }
            }
            Err(_) if total > 0 => break,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(total)
}

/// Writes the buffers in order; a failure after some bytes were written reports the count.
fn write_all_iovs(
    mut write: impl FnMut(&[u8], u64) -> io::Result<usize>,
    mem: &GuestMem<'_>,
    iovs: Iovecs,
) -> WasiResult<usize> {
    let mut total = 0usize;
    for i in 0..iovs.len() {
        let (buf, len) = mem.iovec(iovs, i)?;
        let mut src = mem.slice(buf, io_budget(len, total))?;
        while !src.is_empty() {
            match retry(|| write(src, total as u64)) {
                Ok(0) => return if total > 0 { Ok(total) } else { Err(Errno::Io) },
                Ok(n) => {
                    total += n;
                    src = &src[n..];
                }
                Err(_) if total > 0 => return Ok(total),
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(total)
}

pub(crate) fn fd_read(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem<'_>,
    fd: u32,
    iovs: u64,
    n: u32,
    out: u64,
) -> WasiResult<()> {
    let iovs = mem.iovecs(iovs, n)?;
    let e = ctx.table.get_mut(fd)?;
    e.require(rights::FD_READ)?;
    let count = match &mut e.handle {
        Handle::File(f) => read_file(|b, _| (&*f).read(b), mem, iovs)?,
        Handle::Dir(_) => return Err(Errno::IsDir),
        Handle::Stdin(input) => read_stream(|b| input.read(b), mem, iovs)?,
        Handle::Stream(s) => read_stream(|b| s.read(b), mem, iovs)?,
        Handle::Stdout(_) | Handle::Listener(_) => return Err(Errno::Badf),
    };
    mem.write_u32(out, u32::try_from(count).map_err(|_| Errno::Overflow)?)
}

pub(crate) fn fd_pread(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem<'_>,
    fd: u32,
    iovs: u64,
    n: u32,
    offset: u64,
    out: u64,
) -> WasiResult<()> {
    let iovs = mem.iovecs(iovs, n)?;
    let e = ctx.table.get(fd)?;
    let f = e.file(rights::FD_READ | rights::FD_SEEK)?;
    let count =
        read_file(|b, done| Ok(rustix::io::pread(f, b, offset.saturating_add(done))?), mem, iovs)?;
    mem.write_u32(out, u32::try_from(count).map_err(|_| Errno::Overflow)?)
}

pub(crate) fn fd_write(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem<'_>,
    fd: u32,
    iovs: u64,
    n: u32,
    out: u64,
) -> WasiResult<()> {
    let iovs = mem.iovecs(iovs, n)?;
    let e = ctx.table.get_mut(fd)?;
    e.require(rights::FD_WRITE)?;
    let count = match &mut e.handle {
        Handle::File(f) => write_all_iovs(|b, _| (&*f).write(b), mem, iovs)?,
        Handle::Dir(_) => return Err(Errno::IsDir),
        Handle::Stdout(o) => write_all_iovs(|b, _| o.write(b), mem, iovs)?,
        Handle::Stream(s) => write_all_iovs(|b, _| s.write(b), mem, iovs)?,
        Handle::Stdin(_) | Handle::Listener(_) => return Err(Errno::Badf),
    };
    mem.write_u32(out, u32::try_from(count).map_err(|_| Errno::Overflow)?)
}

pub(crate) fn fd_pwrite(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem<'_>,
    fd: u32,
    iovs: u64,
    n: u32,
    offset: u64,
    out: u64,
) -> WasiResult<()> {
    let iovs = mem.iovecs(iovs, n)?;
    let e = ctx.table.get(fd)?;
    let f = e.file(rights::FD_WRITE | rights::FD_SEEK)?;
    let count = write_all_iovs(
        |b, done| Ok(rustix::io::pwrite(f, b, offset.saturating_add(done))?),
        mem,
        iovs,
    )?;
    mem.write_u32(out, u32::try_from(count).map_err(|_| Errno::Overflow)?)
}

pub(crate) fn fd_seek(ctx: &mut WasiCtx, fd: u32, offset: i64, whence: u8) -> WasiResult<u64> {
    let e = ctx.table.get(fd)?;
    // Asking for the current position needs only the right to tell.
    let needed = if offset == 0 && whence == whence::CUR && e.base & rights::FD_TELL != 0 {
        rights::FD_TELL
    } else {
        rights::FD_SEEK
    };
    let f = e.file(needed)?;
    let pos = match whence {
        whence::SET => SeekFrom::Start(u64::try_from(offset).map_err(|_| Errno::Inval)?),
        whence::CUR => SeekFrom::Current(offset),
        whence::END => SeekFrom::End(offset),
        _ => return Err(Errno::Inval),
    };
    Ok((&*f).seek(pos)?)
}

pub(crate) fn fd_tell(ctx: &mut WasiCtx, fd: u32) -> WasiResult<u64> {
    let f = ctx.table.get(fd)?.file(rights::FD_TELL)?;
    Ok((&*f).stream_position()?)
}

pub(crate) fn fd_close(ctx: &mut WasiCtx, fd: u32) -> WasiResult<()> {
    ctx.table.remove(fd).map(drop)
}

pub(crate) fn fd_renumber(ctx: &mut WasiCtx, from: u32, to: u32) -> WasiResult<()> {
    ctx.table.renumber(from, to)
}

/// `fd_sync` (`data_only == false`) and `fd_datasync`.
pub(crate) fn fd_sync(ctx: &mut WasiCtx, fd: u32, data_only: bool) -> WasiResult<()> {
    let e = ctx.table.get(fd)?;
    e.require(if data_only { rights::FD_DATASYNC } else { rights::FD_SYNC })?;
    let sync = |fd: BorrowedFd<'_>| -> WasiResult<()> {
        if data_only {
            Ok(rustix::fs::fdatasync(fd)?)
        } else {
            Ok(rustix::fs::fsync(fd)?)
        }
    };
    match &e.handle {
        Handle::File(f) => sync(f.as_fd()),
        Handle::Dir(d) => sync(reopen_dir(d)?.as_fd()),
        _ => Err(Errno::Inval),
    }
}

pub(crate) fn fd_advise(
    ctx: &mut WasiCtx,
    fd: u32,
    offset: u64,
    len: u64,
    adv: u8,
) -> WasiResult<()> {
    use rustix::fs::Advice;
    let advice = match adv {
        advice::NORMAL => Advice::Normal,
        advice::SEQUENTIAL => Advice::Sequential,
        advice::RANDOM => Advice::Random,
        advice::WILLNEED => Advice::WillNeed,
        advice::DONTNEED => Advice::DontNeed,
        advice::NOREUSE => Advice::NoReuse,
        _ => return Err(Errno::Inval),
    };
    let f = ctx.table.get(fd)?.file(rights::FD_ADVISE)?;
    Ok(rustix::fs::fadvise(f, offset, NonZeroU64::new(len), advice)?)
}

pub(crate) fn fd_allocate(ctx: &mut WasiCtx, fd: u32, offset: u64, len: u64) -> WasiResult<()> {
    let f = ctx.table.get(fd)?.file(rights::FD_ALLOCATE)?;
    let end = offset.checked_add(len).ok_or(Errno::Fbig)?;
    if i64::try_from(end).is_err() {
        return Err(Errno::Fbig);
    }
    if len == 0 {
        return Err(Errno::Inval);
    }
    match rustix::fs::fallocate(f, rustix::fs::FallocateFlags::empty(), offset, len) {
        Ok(()) => Ok(()),
        // Some file systems cannot reserve space; growing the file is what callers can observe.
        Err(rustix::io::Errno::OPNOTSUPP) => {
            if f.metadata()?.len() < end {
                f.set_len(end)?;
            }
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn fd_fdstat_get(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem<'_>,
    fd: u32,
    out: u64,
) -> WasiResult<()> {
    let e = ctx.table.get(fd)?;
    mem.slice_mut(out, FDSTAT_SIZE)?.fill(0);
    mem.write_u8(out, e.filetype)?;
    // Checked above, so the field offsets cannot overflow.
    mem.write_u16(out + 2, e.fdflags)?;
    mem.write_u64(out + 8, e.base)?;
    mem.write_u64(out + 16, e.inheriting)
}

pub(crate) fn fd_fdstat_set_flags(ctx: &mut WasiCtx, fd: u32, flags: u16) -> WasiResult<()> {
    use rustix::fs::OFlags;
    if flags & !fdflags::ALL != 0 {
        return Err(Errno::Inval);
    }
    let e = ctx.table.get_mut(fd)?;
    e.require(rights::FD_FDSTAT_SET_FLAGS)?;
    const SYNCS: u16 = fdflags::SYNC | fdflags::DSYNC | fdflags::RSYNC;
    let changed = flags ^ e.fdflags;
    match &e.handle {
        Handle::File(f) => {
            // The host cannot change the synchronisation mode of an open file.
            if changed & SYNCS != 0 {
                return Err(Errno::NotSup);
            }
            let mut of = rustix::fs::fcntl_getfl(f)?;
            of.set(OFlags::APPEND, flags & fdflags::APPEND != 0);
            of.set(OFlags::NONBLOCK, flags & fdflags::NONBLOCK != 0);
            rustix::fs::fcntl_setfl(f, of)?;
        }
        Handle::Stream(s) => {
            if changed & !fdflags::NONBLOCK != 0 {
                return Err(Errno::NotSup);
            }
            s.set_nonblocking(flags & fdflags::NONBLOCK != 0)?;
        }
        Handle::Listener(l) => {
            if changed & !fdflags::NONBLOCK != 0 {
                return Err(Errno::NotSup);
            }
            l.set_nonblocking(flags & fdflags::NONBLOCK != 0)?;
        }
        // Directories have no data stream for these flags to act on.
        Handle::Dir(_) => {
            if changed & !fdflags::NONBLOCK != 0 {
                return Err(Errno::NotSup);
            }
        }
        // The host's standard streams are shared with the host process: leave them alone.
        Handle::Stdin(_) | Handle::Stdout(_) => {
            if changed != 0 {
                return Err(Errno::NotSup);
            }
        }
    }
    e.fdflags = flags;
    Ok(())
}

pub(crate) fn fd_fdstat_set_rights(
    ctx: &mut WasiCtx,
    fd: u32,
    base: u64,
    inheriting: u64,
) -> WasiResult<()> {
    let e = ctx.table.get_mut(fd)?;
    // Rights can only ever be dropped.
    if base & !e.base != 0 || inheriting & !e.inheriting != 0 {
        return Err(Errno::NotCapable);
    }
    e.base = base;
    e.inheriting = inheriting;
    Ok(())
}

fn fstat(fd: BorrowedFd<'_>) -> WasiResult<Filestat> {
    Ok(Filestat::from_stat(&rustix::fs::fstat(fd)?))
}

pub(crate) fn filestat_of(e: &Entry) -> WasiResult<Filestat> {
    let mut st = match &e.handle {
        Handle::File(f) => fstat(f.as_fd())?,
        Handle::Dir(d) => fstat(d.as_fd())?,
        Handle::Stream(s) => fstat(s.as_fd())?,
        Handle::Listener(l) => fstat(l.as_fd())?,
        Handle::Stdin(i) => i.host_fd().map(fstat).transpose()?.unwrap_or_default(),
        Handle::Stdout(o) => o.host_fd().map(fstat).transpose()?.unwrap_or_default(),
    };
    if !matches!(e.handle, Handle::File(_) | Handle::Dir(_)) {
        st.filetype = e.filetype;
    }
    Ok(st)
}

pub(crate) fn fd_filestat_get(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem<'_>,
    fd: u32,
    out: u64,
) -> WasiResult<()> {
    let e = ctx.table.get(fd)?;
    e.require(rights::FD_FILESTAT_GET)?;
    filestat_of(e)?.write(mem, out)
}

pub(crate) fn fd_filestat_set_size(ctx: &mut WasiCtx, fd: u32, size: u64) -> WasiResult<()> {
    let f = ctx.table.get(fd)?.file(rights::FD_FILESTAT_SET_SIZE)?;
    if i64::try_from(size).is_err() {
        return Err(Errno::Fbig);
    }
    Ok(f.set_len(size)?)
}

pub(crate) fn fd_filestat_set_times(
    ctx: &mut WasiCtx,
    fd: u32,
    atim: u64,
    mtim: u64,
    flags: u16,
) -> WasiResult<()> {
    let change = TimeChange::new(atim, mtim, flags)?;
    let e = ctx.table.get(fd)?;
    e.require(rights::FD_FILESTAT_SET_TIMES)?;
    let ts = change.timestamps();
    match &e.handle {
        Handle::File(f) => Ok(rustix::fs::futimens(f, &ts)?),
        Handle::Dir(d) => Ok(rustix::fs::futimens(reopen_dir(d)?, &ts)?),
        _ => Err(Errno::Badf),
    }
}

pub(crate) fn fd_prestat_get(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem<'_>,
    fd: u32,
    out: u64,
) -> WasiResult<()> {
    let e = ctx.table.get(fd)?;
    let name = e.preopen.as_ref().ok_or(Errno::Badf)?;
    mem.slice_mut(out, PRESTAT_SIZE)?.fill(0);
    mem.write_u8(out, preopentype::DIR)?;
    mem.write_u32(out + 4, name.len() as u32)
}

pub(crate) fn fd_prestat_dir_name(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem<'_>,
    fd: u32,
    buf: u64,
    len: u32,
) -> WasiResult<()> {
    let e = ctx.table.get(fd)?;
    let name = e.preopen.as_ref().ok_or(Errno::Badf)?;
    if (len as usize) < name.len() {
        return Err(Errno::NameTooLong);
    }
    mem.write_bytes(buf, name.as_bytes())
}

/// Lists a directory for `fd_readdir`: `.` and `..` first, then the entries in the order the
/// host returns them.
fn list_dir(dir: &Dir) -> WasiResult<Vec<DirRecord>> {
    use cap_std::fs::MetadataExt;
    let self_ino = rustix::fs::fstat(dir)?.st_ino as u64;
    // `..` of a directory the guest was handed is outside its world: report the directory's
    // own inode for it, as for the root of a file system.
    let parent_ino = dir.metadata("..").map(|m| m.ino()).unwrap_or(self_ino);
    let mut out = vec![
        DirRecord { name: b".".to_vec(), ino: self_ino, filetype: filetype::DIRECTORY },
        DirRecord { name: b"..".to_vec(), ino: parent_ino, filetype: filetype::DIRECTORY },
    ];
    for ent in dir.entries()? {
        let ent = ent?;
        let filetype = ent.file_type().map(filetype_of).unwrap_or(filetype::UNKNOWN);
        out.push(DirRecord { name: ent.file_name().into_vec(), ino: ent.ino(), filetype });
    }
    Ok(out)
}

pub(crate) fn fd_readdir(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem<'_>,
    fd: u32,
    buf: u64,
    len: u32,
    cookie: u64,
    out: u64,
) -> WasiResult<()> {
    let e = ctx.table.get_mut(fd)?;
    let dir = e.dir(rights::FD_READDIR)?;
    if cookie == 0 || e.listing.is_none() {
        let listing = list_dir(dir)?;
        e.listing = Some(listing);
    }
    let listing = e.listing.as_deref().unwrap_or_default();
    let dst = mem.slice_mut(buf, len.into())?;
    let mut used = 0usize;
    // Copies as much of `bytes` as fits; false once the buffer is full.
    let mut put = |bytes: &[u8]| {
        let n = bytes.len().min(dst.len() - used);
        dst[used..used + n].copy_from_slice(&bytes[..n]);
        used += n;
        used < dst.len()
    };
    let start = usize::try_from(cookie).unwrap_or(usize::MAX);
    for (i, rec) in listing.iter().enumerate().skip(start) {
        let mut header = [0u8; DIRENT_SIZE as usize];
        header[0..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
        header[8..16].copy_from_slice(&rec.ino.to_le_bytes());
        header[16..20].copy_from_slice(&(rec.name.len() as u32).to_le_bytes());
        header[20] = rec.filetype;
        // A record that does not fit is cut off: a full buffer tells the guest to come back
        // with a larger one or from this entry's cookie.
        if !put(&header) || !put(&rec.name) {
            break;
        }
    }
    mem.write_u32(out, used as u32)
}

pub(crate) fn add<T: 'static>(linker: &mut Linker<T>, get: impl GetCtx<T>) -> ward::Result<()> {
    ctx_fn!(linker, get, "fd_advise", |ctx, fd: u32, offset: u64, len: u64, adv: u32| {
        fd_advise(ctx, fd, offset, len, u8::try_from(adv).map_err(|_| Errno::Inval)?)
    });
    ctx_fn!(linker, get, "fd_allocate", |ctx, fd: u32, offset: u64, len: u64| {
        fd_allocate(ctx, fd, offset, len)
    });
    ctx_fn!(linker, get, "fd_close", |ctx, fd: u32| fd_close(ctx, fd));
    ctx_fn!(linker, get, "fd_datasync", |ctx, fd: u32| fd_sync(ctx, fd, true));
    ctx_fn!(linker, get, "fd_sync", |ctx, fd: u32| fd_sync(ctx, fd, false));
    mem_fn!(linker, get, "fd_fdstat_get", |ctx, mem, fd: u32, out: u32| fd_fdstat_get(
        ctx,
        mem,
        fd,
        out.into()
    ));
    ctx_fn!(linker, get, "fd_fdstat_set_flags", |ctx, fd: u32, flags: u32| {
        fd_fdstat_set_flags(ctx, fd, u16::try_from(flags).map_err(|_| Errno::Inval)?)
    });
    ctx_fn!(linker, get, "fd_fdstat_set_rights", |ctx, fd: u32, base: u64, inh: u64| {
        fd_fdstat_set_rights(ctx, fd, base, inh)
    });
    mem_fn!(linker, get, "fd_filestat_get", |ctx, mem, fd: u32, out: u32| fd_filestat_get(
        ctx,
        mem,
        fd,
        out.into()
    ));
    ctx_fn!(linker, get, "fd_filestat_set_size", |ctx, fd: u32, size: u64| {
        fd_filestat_set_size(ctx, fd, size)
    });
    ctx_fn!(
        linker,
        get,
        "fd_filestat_set_times",
        |ctx, fd: u32, atim: u64, mtim: u64, flags: u32| {
            let flags = u16::try_from(flags).map_err(|_| Errno::Inval)?;
            fd_filestat_set_times(ctx, fd, atim, mtim, flags)
        }
    );
    mem_fn!(linker, get, "fd_pread", |ctx,
                                      mem,
                                      fd: u32,
                                      iovs: u32,
                                      n: u32,
                                      offset: u64,
                                      out: u32| {
        fd_pread(ctx, mem, fd, iovs.into(), n, offset, out.into())
    });
    mem_fn!(linker, get, "fd_prestat_get", |ctx, mem, fd: u32, out: u32| fd_prestat_get(
        ctx,
        mem,
        fd,
        out.into()
    ));
    mem_fn!(linker, get, "fd_prestat_dir_name", |ctx, mem, fd: u32, buf: u32, len: u32| {
        fd_prestat_dir_name(ctx, mem, fd, buf.into(), len)
    });
    mem_fn!(linker, get, "fd_pwrite", |ctx,
                                       mem,
                                       fd: u32,
                                       iovs: u32,
                                       n: u32,
                                       offset: u64,
                                       out: u32| {
        fd_pwrite(ctx, mem, fd, iovs.into(), n, offset, out.into())
    });
    mem_fn!(linker, get, "fd_read", |ctx, mem, fd: u32, iovs: u32, n: u32, out: u32| fd_read(
        ctx,
        mem,
        fd,
        iovs.into(),
        n,
        out.into()
    ));
    mem_fn!(linker, get, "fd_readdir", |ctx,
                                        mem,
                                        fd: u32,
                                        buf: u32,
                                        len: u32,
                                        cookie: u64,
                                        out: u32| {
        fd_readdir(ctx, mem, fd, buf.into(), len, cookie, out.into())
    });
    ctx_fn!(linker, get, "fd_renumber", |ctx, from: u32, to: u32| fd_renumber(ctx, from, to));
    mem_fn!(linker, get, "fd_seek", |ctx, mem, fd: u32, offset: i64, whence: u32, out: u32| {
        let whence = u8::try_from(whence).map_err(|_| Errno::Inval)?;
        mem.slice(out.into(), 8)?;
        let pos = fd_seek(ctx, fd, offset, whence)?;
        mem.write_u64(out.into(), pos)
    });
    mem_fn!(linker, get, "fd_tell", |ctx, mem, fd: u32, out: u32| {
        mem.slice(out.into(), 8)?;
        let pos = fd_tell(ctx, fd)?;
        mem.write_u64(out.into(), pos)
    });
    mem_fn!(linker, get, "fd_write", |ctx, mem, fd: u32, iovs: u32, n: u32, out: u32| fd_write(
        ctx,
        mem,
        fd,
        iovs.into(),
        n,
        out.into()
    ));
    Ok(())
}
