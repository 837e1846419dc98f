//! The guest's file descriptor table.
//!
//! A descriptor number indexes an [`Entry`]: the host object (a `cap-std` file or directory, a
//! stdio stream, a socket), the descriptor's rights and flags, and for a preopened directory
//! the name the guest knows it by. The guest can only name objects that are in its table; the
//! only way to get a new one is to open a path relative to a directory already in the table
//! (or to accept on a socket the host handed in).

use std::net::{TcpListener, TcpStream};

use cap_std::fs::{Dir, File};

use crate::errno::{Errno, WasiResult};
use crate::stdio::{Input, Output};
use crate::types::filetype;

/// The most descriptors a guest may have open at once.
pub(crate) const MAX_FDS: usize = 16 * 1024;

/// The first number a newly created descriptor may get. Numbers 0–2 are the standard streams:
/// a program that closed its stdout still writes "to stdout" (to descriptor 1) in places it
/// does not control, so a file opened afterwards must never take that number, or the output
/// would land in the file. Only `fd_renumber` can put a descriptor there, explicitly.
pub(crate) const FIRST_FREE_FD: usize = 3;

/// The host object behind a descriptor.
#[derive(Debug)]
pub(crate) enum Handle {
    File(File),
    Dir(Dir),
    Stdin(Input),
    Stdout(Output),
    Listener(TcpListener),
    Stream(TcpStream),
}

/// One open descriptor.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) handle: Handle,
    /// Rights for operations on this descriptor.
    pub(crate) base: u64,
    /// Rights handed down to descriptors opened through this one.
    pub(crate) inheriting: u64,
    /// The `fdflags` the descriptor was opened or last set with.
    pub(crate) fdflags: u16,
    /// For a preopened directory: the path the guest knows it by.
    pub(crate) preopen: Option<String>,
    /// The WASI file type, fixed when the descriptor is created.
    pub(crate) filetype: u8,
    /// For a directory being read with `fd_readdir`: its entries, listed when reading starts
    /// (cookie 0) so that later cookies index a stable list.
    pub(crate) listing: Option<Vec<DirRecord>>,
    /// For a directory: the identity of the preopened directory it lies beneath (itself for a
    /// preopen), against which the targets of symlinks the guest places are checked.
    pub(crate) root: Option<crate::confine::DirId>,
}

/// One directory entry as `fd_readdir` reports it.
#[derive(Clone, Debug)]
pub(crate) struct DirRecord {
    pub(crate) name: Vec<u8>,
    pub(crate) ino: u64,
    pub(crate) filetype: u8,
}

impl Entry {
    pub(crate) fn new(handle: Handle, base: u64, inheriting: u64, filetype: u8) -> Entry {
        Entry {
            handle,
            base,
            inheriting,
            fdflags: 0,
            preopen: None,
            filetype,
            listing: None,
            root: None,
        }
    }

    /// Fails with [`Errno::NotCapable`] unless the descriptor has all of `rights`.
    pub(crate) fn require(&self, rights: u64) -> WasiResult<()> {
        if self.base & rights == rights {
            Ok(())
        } else {
            Err(Errno::NotCapable)
        }
    }

    /// The directory behind this descriptor, checking `rights`.
    ///
    /// A descriptor that is not a directory is [`Errno::NotDir`].
    pub(crate) fn dir(&self, rights: u64) -> WasiResult<&Dir> {
        match &self.handle {
            Handle::Dir(d) => {
                self.require(rights)?;
                Ok(d)
            }
            _ => Err(Errno::NotDir),
        }
    }

    /// The regular file behind this descriptor, checking `rights`.
    ///
    /// A directory is [`Errno::IsDir`]; a stream (stdio, socket) is [`Errno::Spipe`] or
    /// [`Errno::Badf`] as POSIX would answer for the operations that need a file.
    pub(crate) fn file(&self, rights: u64) -> WasiResult<&File> {
        self.require(rights)?;
        match &self.handle {
            Handle::File(f) => Ok(f),
            Handle::Dir(_) => Err(Errno::IsDir),
            _ => Err(Errno::Spipe),
        }
    }
}

/// Descriptor number -> open descriptor.
#[derive(Debug, Default)]
pub(crate) struct FdTable {
    slots: Vec<Option<Entry>>,
}

impl FdTable {
    /// Puts `entry` at the lowest free number from [`FIRST_FREE_FD`] on: a new descriptor never
    /// takes a standard stream's number (0–2), even if that stream was closed.
    pub(crate) fn push(&mut self, entry: Entry) -> WasiResult<u32> {
        if self.slots.len() < FIRST_FREE_FD {
            self.slots.resize_with(FIRST_FREE_FD, || None);
        }
        let free = self.slots.iter().skip(FIRST_FREE_FD).position(Option::is_none);
        if let Some(i) = free.map(|i| i + FIRST_FREE_FD) {
            self.slots[i] = Some(entry);
            return Ok(i as u32);
        }
        if self.slots.len() >= MAX_FDS {
            return Err(Errno::Mfile);
        }
        self.slots.push(Some(entry));
        Ok((self.slots.len() - 1) as u32)
    }

    /// Puts `entry` at number `fd`, replacing what was there (used when building the table).
    pub(crate) fn insert_at(&mut self, fd: u32, entry: Entry) {
        let i = fd as usize;
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || None);
        }
        self.slots[i] = Some(entry);
    }

    pub(crate) fn get(&self, fd: u32) -> WasiResult<&Entry> {
        self.slots.get(fd as usize).and_then(Option::as_ref).ok_or(Errno::Badf)
    }

    pub(crate) fn get_mut(&mut self, fd: u32) -> WasiResult<&mut Entry> {
        self.slots.get_mut(fd as usize).and_then(Option::as_mut).ok_or(Errno::Badf)
    }

    /// Removes and returns descriptor `fd`; the host object closes when dropped.
    pub(crate) fn remove(&mut self, fd: u32) -> WasiResult<Entry> {
        let e = self.slots.get_mut(fd as usize).and_then(Option::take).ok_or(Errno::Badf)?;
        while matches!(self.slots.last(), Some(None)) {
            self.slots.pop();
        }
        Ok(e)
    }

    /// Moves descriptor `from` to number `to`, closing what `to` held. Both must be open.
    pub(crate) fn renumber(&mut self, from: u32, to: u32) -> WasiResult<()> {
        self.get(from)?;
        self.get(to)?;
        if from == to {
            return Ok(());
        }
        let e = self.remove(from)?;
        self.slots[to as usize] = Some(e);
        Ok(())
    }
}

/// The WASI file type for a host file type.
pub(crate) fn filetype_of(ft: cap_std::fs::FileType) -> u8 {
    use cap_std::fs::FileTypeExt;
    if ft.is_dir() {
        filetype::DIRECTORY
    } else if ft.is_file() {
        filetype::REGULAR_FILE
    } else if ft.is_symlink() {
        filetype::SYMBOLIC_LINK
    } else if ft.is_char_device() {
        filetype::CHARACTER_DEVICE
    } else if ft.is_block_device() {
        filetype::BLOCK_DEVICE
    } else if ft.is_socket() {
        filetype::SOCKET_STREAM
    } else {
        filetype::UNKNOWN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn null_entry() -> Entry {
        Entry::new(Handle::Stdin(Input::Null), 0, 0, filetype::UNKNOWN)
    }

    #[test]
    fn lowest_free_number_above_stdio_is_reused() {
        let mut t = FdTable::default();
        assert_eq!(t.push(null_entry()), Ok(3));
        assert_eq!(t.push(null_entry()), Ok(4));
        assert_eq!(t.push(null_entry()), Ok(5));
        t.remove(4).unwrap();
        assert_eq!(t.push(null_entry()), Ok(4));
        assert_eq!(t.remove(7).err(), Some(Errno::Badf));
    }

    #[test]
    fn closed_stdio_numbers_are_never_handed_out() {
        let mut t = FdTable::default();
        for fd in 0..3 {
            t.insert_at(fd, null_entry());
        }
        t.remove(1).unwrap();
        t.remove(0).unwrap();
        assert_eq!(t.push(null_entry()), Ok(3));
        assert_eq!(t.push(null_entry()), Ok(4));
        assert!(t.get(0).is_err() && t.get(1).is_err());
        // Closing everything shrinks the table; new descriptors still start at 3.
        for fd in 2..5 {
            t.remove(fd).unwrap();
        }
        assert_eq!(t.push(null_entry()), Ok(3));
        // An explicit renumber onto a standard stream's number works.
        t.insert_at(1, null_entry());
        t.renumber(3, 1).unwrap();
        assert!(t.get(1).is_ok() && t.get(3).is_err());
    }

    #[test]
    fn the_table_is_bounded() {
        let mut t = FdTable::default();
        for _ in FIRST_FREE_FD..MAX_FDS {
            t.push(null_entry()).unwrap();
        }
        assert_eq!(t.push(null_entry()), Err(Errno::Mfile));
    }

    #[test]
    fn renumber_needs_both_open_and_closes_the_source() {
        let mut t = FdTable::default();
        t.insert_at(0, null_entry());
        let mut e = null_entry();
        e.base = 42;
        assert_eq!(t.push(e), Ok(3));
        assert_eq!(t.renumber(3, 5).err(), Some(Errno::Badf));
        t.renumber(3, 0).unwrap();
        assert_eq!(t.get(0).unwrap().base, 42);
        assert_eq!(t.get(3).err(), Some(Errno::Badf));
        t.renumber(0, 0).unwrap();
        assert!(t.get(0).is_ok());
    }

    #[test]
    fn rights_are_checked() {
        let mut e = null_entry();
        e.base = crate::types::rights::FD_READ;
        assert!(e.require(crate::types::rights::FD_READ).is_ok());
        assert_eq!(e.require(crate::types::rights::FD_WRITE), Err(Errno::NotCapable));
        assert_eq!(e.dir(0).err(), Some(Errno::NotDir));
        assert_eq!(e.file(0).err(), Some(Errno::Spipe));
    }
}
