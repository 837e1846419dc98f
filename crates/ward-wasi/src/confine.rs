//! Confinement rules shared by every WASI version Ward implements (preview 1 here, 0.2 in
//! `ward-wasi-p2`): where a symlink the guest places may point.
//!
//! Path resolution itself is confined by `cap-std`. What it cannot see is a link's *text*: a
//! guest may place `report.txt -> ../../../etc/passwd` beneath its preopen and never follow it,
//! but a host program reading the directory later would. So a link whose text, read lexically
//! from the link's own directory, leads above the preopen is refused, and so is a rename or
//! hard link that would move an existing link to a place where its text leads out. Both WASI
//! versions call these functions, so the rule cannot drift between them.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use cap_std::fs::Dir;

/// A directory's identity on the host: device and inode numbers. A preopen records its own, so
/// that walking up from a directory recognises the preopen's root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirId {
    dev: u64,
    ino: u64,
}

impl DirId {
    /// The identity of the directory open as `fd`.
    // The field types of `struct stat` differ between platforms; the casts are needed on some.
    #[allow(clippy::unnecessary_cast)]
    pub fn of(fd: BorrowedFd<'_>) -> io::Result<DirId> {
        let st = rustix::fs::fstat(fd)?;
        Ok(DirId { dev: st.st_dev as u64, ino: st.st_ino as u64 })
    }
}

/// How far above its own directory a symlink's text reaches, read lexically: the most `..`
/// levels outstanding at any point (`a/../../x` reaches 1).
pub fn climb(target: &[u8]) -> usize {
    let (mut level, mut most) = (0isize, 0isize);
    for c in target.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                level += 1;
                most = most.max(level);
            }
            _ => level -= 1,
        }
    }
    most as usize
}

/// Whether a symlink with text `target`, placed at `link` (relative to `dir`, beneath the
/// preopen whose root is `root`), would lead outside the preopen: an absolute target, or more
/// `..` than the link's depth beneath the preopen. Without a known root, any climb leads out.
///
/// The link's directory is located for real (the path to it may go through symlinks), and its
/// depth is measured by walking up from it on the host, one `..` at a time, until the climb is
/// covered or the preopen is met: the answer holds however the guest reached the directory.
pub fn symlink_leads_out(
    dir: &Dir,
    root: Option<DirId>,
    link: &str,
    target: &[u8],
) -> io::Result<bool> {
    use rustix::fs::{openat, Mode, OFlags};
    if target.first() == Some(&b'/') {
        return Ok(true);
    }
    let need = climb(target);
    if need == 0 {
        return Ok(false);
    }
    let Some(root) = root else { return Ok(true) };
    let mut cur: Option<OwnedFd> = match link.rfind('/') {
        Some(i) => Some(dir.open_dir(&link[..i])?.into_std_file().into()),
        None => None,
    };
    for _ in 0..need {
        let fd = cur.as_ref().map_or_else(|| dir.as_fd(), |f| f.as_fd());
        if DirId::of(fd)? == root {
            // The preopen is reached with levels still to climb: the target leads out.
            return Ok(true);
        }
        // Host-side only, never handed to the guest: the parent, to measure the depth.
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        cur = Some(openat(fd, "..", flags, Mode::empty())?);
    }
    Ok(false)
}

/// For a rename or hard link of `old` (relative to `src`) to `new` (relative to `dst`, beneath
/// the preopen whose root is `root`): whether `old` is a symlink whose text would lead out from
/// its new place (see [`symlink_leads_out`]). Not a symlink, or missing: `false` (the operation
/// itself answers).
pub fn moved_symlink_leads_out(
    src: &Dir,
    old: &str,
    dst: &Dir,
    root: Option<DirId>,
    new: &str,
) -> io::Result<bool> {
    use std::os::unix::ffi::OsStrExt;
    match src.symlink_metadata(old) {
        Ok(m) if m.is_symlink() => {
            let target = src.read_link_contents(old)?;
            symlink_leads_out(dst, root, new, target.as_os_str().as_bytes())
        }
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn climb_reads_the_target_lexically() {
        assert_eq!(climb(b"x/y"), 0);
        assert_eq!(climb(b"x/.."), 0);
        assert_eq!(climb(b"../b"), 1);
        assert_eq!(climb(b"a/../../x"), 1);
        assert_eq!(climb(b"./..//../x/../.."), 3);
        assert_eq!(climb(b"../../../etc/passwd"), 3);
    }
}
