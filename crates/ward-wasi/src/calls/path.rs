//! The `path_*` calls: operations on a path relative to a directory descriptor.
//!
//! All resolution goes through `cap-std`, whose every operation is confined to the directory it
//! is called on: a `..` that would climb above it, an absolute path, or a symlink that leads out
//! (at any step, including the last) fails instead of reaching outside. `cap-std` reports such
//! an attempt as `PermissionDenied` without an OS code, which maps to [`Errno::NotCapable`].
//!
//! POSIX gives trailing slashes meaning ("this must be a directory"); where `cap-std` would not
//! reproduce the POSIX answer, the calls below work it out before acting.

use cap_fs_ext::{
    DirExt, FollowSymlinks, OpenOptionsFollowExt, OpenOptionsMaybeDirExt, OpenOptionsSyncExt,
    SystemTimeSpec,
};
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};
use ward::Linker;

use super::fd::{Filestat, Time, TimeChange};
use super::mem_fn;
use crate::confine::{self, DirId};
use crate::ctx::WasiCtx;
use crate::errno::{Errno, WasiResult};
use crate::host::GetCtx;
use crate::mem::GuestMem;
use crate::table::{filetype_of, Entry, Handle};
use crate::types::{fdflags, filetype, lookupflags, oflags, rights};

/// Rights that need the host file to be open for writing.
const WRITE_RIGHTS: u64 = rights::FD_WRITE | rights::FD_ALLOCATE | rights::FD_FILESTAT_SET_SIZE;

/// Rejects paths no resolution could accept, before touching the file system.
fn check_path(path: &str) -> WasiResult<()> {
    if path.is_empty() {
        return Err(Errno::NoEnt);
    }
    if path.starts_with('/') {
        return Err(Errno::NotCapable);
    }
    Ok(())
}

/// The path without its trailing slashes, and whether it had any.
fn split_trailing_slashes(path: &str) -> (&str, bool) {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        (path, false)
    } else {
        (trimmed, trimmed.len() != path.len())
    }
}

fn follows(lookup: u32) -> bool {
    lookup & lookupflags::SYMLINK_FOLLOW != 0
}

fn dir_of(ctx: &WasiCtx, fd: u32, needed: u64) -> WasiResult<&Dir> {
    ctx.table.get(fd)?.dir(needed)
}

/// The answer POSIX gives for creating `path` (a new name ending in a slash) as a non-directory:
/// an existing directory is EEXIST, an existing non-directory ENOTDIR, nothing ENOENT.
fn slash_create_error(dir: &Dir, name: &str) -> Errno {
    match dir.symlink_metadata(name) {
        Ok(m) if m.is_dir() => Errno::Exist,
        Ok(_) => Errno::NotDir,
        Err(e) => Errno::from_io(&e),
    }
}

fn time_spec(t: Option<Time>) -> Option<SystemTimeSpec> {
    t.map(|t| match t {
        Time::Now => SystemTimeSpec::SymbolicNow,
        Time::At(ns) => SystemTimeSpec::Absolute(cap_std::time::SystemTime::from_std(
            std::time::UNIX_EPOCH + std::time::Duration::from_nanos(ns),
        )),
    })
}

/// Opens `path` relative to directory descriptor `fd` and returns the new descriptor.
///
/// The new descriptor's rights are those asked for, limited to what `fd` may hand down and to
/// what applies to the kind of object opened.
#[allow(clippy::too_many_arguments)]
pub(crate) fn path_open(
    ctx: &mut WasiCtx,
    fd: u32,
    lookup: u32,
    path: &str,
    oflags: u16,
    base: u64,
    inheriting: u64,
    fdflags: u16,
) -> WasiResult<u32> {
    let parent = ctx.table.get(fd)?;
    let root = parent.root;
    let mut needed = rights::PATH_OPEN;
    if oflags & oflags::CREAT != 0 {
        needed |= rights::PATH_CREATE_FILE;
    }
    if oflags & oflags::TRUNC != 0 {
        needed |= rights::PATH_FILESTAT_SET_SIZE;
    }
    let dir = parent.dir(needed)?;
    if oflags & !oflags::ALL != 0 || fdflags & !fdflags::ALL != 0 {
        return Err(Errno::Inval);
    }
    check_path(path)?;
    // Asking to write a directory is an error whatever the parent may hand down...
    let asks_write = base & WRITE_RIGHTS != 0;
    // ...but the host file is opened for writing only if the new descriptor can write: a
    // file opened through a read-only directory is read-only on the host too.
    let wants_write = base & parent.inheriting & WRITE_RIGHTS != 0;
    let base = base & parent.inheriting;
    let inheriting = inheriting & parent.inheriting;
    let follow = if follows(lookup) { FollowSymlinks::Yes } else { FollowSymlinks::No };

    let mut entry = if oflags & oflags::DIRECTORY != 0 {
        if oflags & (oflags::CREAT | oflags::TRUNC) != 0 {
            return Err(Errno::Inval);
        }
        let d = match follow {
            FollowSymlinks::Yes => dir.open_dir(path)?,
            FollowSymlinks::No => dir.open_dir_nofollow(path)?,
        };
        if asks_write {
            return Err(Errno::IsDir);
        }
        Entry::new(Handle::Dir(d), base & rights::DIRECTORY_BASE, inheriting, filetype::DIRECTORY)
    } else {
        let create = oflags & oflags::CREAT != 0;
        let trunc = oflags & oflags::TRUNC != 0;
        let read = base & (rights::FD_READ | rights::FD_READDIR) != 0;
        // Creating and truncating need a writable host handle even if the guest did not ask
        // to write; the descriptor's rights still decide what the guest may do with it.
        let write = wants_write || create || trunc;
        let mut opts = OpenOptions::new();
        opts.read(read || !write)
            .write(write)
            .create(create)
            .create_new(create && oflags & oflags::EXCL != 0)
            .truncate(trunc)
            .follow(follow)
            .maybe_dir(true)
            .sync(fdflags & fdflags::SYNC != 0)
            .dsync(fdflags & fdflags::DSYNC != 0)
            .rsync(fdflags & fdflags::RSYNC != 0)
            .nonblock(fdflags & fdflags::NONBLOCK != 0);
        if fdflags & fdflags::APPEND != 0 {
            // Passed as a raw flag: append mode combines with truncation in POSIX.
            opts.custom_flags(rustix::fs::OFlags::APPEND.bits() as i32);
        }
        let f = dir.open_with(path, &opts)?;
        let ft = f.metadata()?.file_type();
        if ft.is_dir() {
            if asks_write {
                return Err(Errno::IsDir);
            }
            let d = Dir::from_std_file(f.into_std());
            Entry::new(
                Handle::Dir(d),
                base & rights::DIRECTORY_BASE,
                inheriting,
                filetype::DIRECTORY,
            )
        } else {
            Entry::new(Handle::File(f), base & rights::FILE_BASE, inheriting, filetype_of(ft))
        }
    };
    entry.fdflags = fdflags;
    if matches!(entry.handle, Handle::Dir(_)) {
        entry.root = root;
    }
    ctx.table.push(entry)
}

pub(crate) fn path_create_directory(ctx: &mut WasiCtx, fd: u32, path: &str) -> WasiResult<()> {
    let dir = dir_of(ctx, fd, rights::PATH_CREATE_DIRECTORY)?;
    check_path(path)?;
    let (name, _) = split_trailing_slashes(path);
    Ok(dir.create_dir(name)?)
}

pub(crate) fn path_remove_directory(ctx: &mut WasiCtx, fd: u32, path: &str) -> WasiResult<()> {
    let dir = dir_of(ctx, fd, rights::PATH_REMOVE_DIRECTORY)?;
    check_path(path)?;
    let (name, _) = split_trailing_slashes(path);
    Ok(dir.remove_dir(name)?)
}

pub(crate) fn path_unlink_file(ctx: &mut WasiCtx, fd: u32, path: &str) -> WasiResult<()> {
    let dir = dir_of(ctx, fd, rights::PATH_UNLINK_FILE)?;
    check_path(path)?;
    if split_trailing_slashes(path).1 {
        // `name/` names a directory (or a symlink to one): never a file to unlink.
        let m = dir.metadata(path)?;
        return Err(if m.is_dir() { Errno::IsDir } else { Errno::NotDir });
    }
    Ok(dir.remove_file(path)?)
}

pub(crate) fn path_filestat_get(
    ctx: &mut WasiCtx,
    fd: u32,
    lookup: u32,
    path: &str,
) -> WasiResult<Filestat> {
    let dir = dir_of(ctx, fd, rights::PATH_FILESTAT_GET)?;
    check_path(path)?;
    let m = if follows(lookup) { dir.metadata(path)? } else { dir.symlink_metadata(path)? };
    Ok(Filestat::from_metadata(&m))
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn path_filestat_set_times(
    ctx: &mut WasiCtx,
    fd: u32,
    lookup: u32,
    path: &str,
    atim: u64,
    mtim: u64,
    flags: u16,
) -> WasiResult<()> {
    let change = TimeChange::new(atim, mtim, flags)?;
    let dir = dir_of(ctx, fd, rights::PATH_FILESTAT_SET_TIMES)?;
    check_path(path)?;
    let (a, m) = (time_spec(change.atime), time_spec(change.mtime));
    if follows(lookup) {
        Ok(dir.set_times(path, a, m)?)
    } else {
        Ok(dir.set_symlink_times(path, a, m)?)
    }
}

pub(crate) fn path_link(
    ctx: &mut WasiCtx,
    old_fd: u32,
    lookup: u32,
    old_path: &str,
    new_fd: u32,
    new_path: &str,
) -> WasiResult<()> {
    let src = dir_of(ctx, old_fd, rights::PATH_LINK_SOURCE)?;
    let dst = dir_of(ctx, new_fd, rights::PATH_LINK_TARGET)?;
    check_path(old_path)?;
    check_path(new_path)?;
    let (new_name, new_slash) = split_trailing_slashes(new_path);
    if new_slash {
        return Err(slash_create_error(dst, new_name));
    }
    if follows(lookup) {
        // Link what the symlink points at; the resolved path stays inside `src`.
        let target = src.canonicalize(old_path)?;
        return Ok(src.hard_link(target, dst, new_name)?);
    }
    // A hard link to a symlink is a symlink at a new place: its text must suit that place.
    check_moved_symlink(src, old_path, dst, dst_root(ctx, new_fd), new_name)?;
    Ok(src.hard_link(old_path, dst, new_name)?)
}

pub(crate) fn path_rename(
    ctx: &mut WasiCtx,
    old_fd: u32,
    old_path: &str,
    new_fd: u32,
    new_path: &str,
) -> WasiResult<()> {
    let src = dir_of(ctx, old_fd, rights::PATH_RENAME_SOURCE)?;
    let dst = dir_of(ctx, new_fd, rights::PATH_RENAME_TARGET)?;
    check_path(old_path)?;
    check_path(new_path)?;
    let (old_name, old_slash) = split_trailing_slashes(old_path);
    let (new_name, new_slash) = split_trailing_slashes(new_path);
    if (old_slash || new_slash) && !src.symlink_metadata(old_name)?.is_dir() {
        // Trailing slashes say "directory"; the source is not one.
        return Err(Errno::NotDir);
    }
    // A symlink moved elsewhere must still point beneath the preopen from its new place.
    check_moved_symlink(src, old_name, dst, dst_root(ctx, new_fd), new_name)?;
    Ok(src.rename(old_name, dst, new_name)?)
}

pub(crate) fn path_symlink(
    ctx: &mut WasiCtx,
    target: &str,
    fd: u32,
    new_path: &str,
) -> WasiResult<()> {
    let entry = ctx.table.get(fd)?;
    let dir = entry.dir(rights::PATH_SYMLINK)?;
    check_path(new_path)?;
    // A link to an absolute path would point outside the sandbox (or, worse, inside the host
    // when something other than the guest follows it): refuse to create one.
    if target.starts_with('/') {
        return Err(Errno::NotCapable);
    }
    if target.is_empty() {
        return Err(Errno::NoEnt);
    }
    let (name, slash) = split_trailing_slashes(new_path);
    if slash {
        return Err(slash_create_error(dir, name));
    }
    check_symlink_target(dir, entry.root, name, target.as_bytes())?;
    Ok(dir.symlink(target, name)?)
}

/// Refuses a symlink whose text would lead outside the preopen (see
/// [`confine::symlink_leads_out`]).
fn check_symlink_target(
    dir: &Dir,
    root: Option<DirId>,
    link: &str,
    target: &[u8],
) -> WasiResult<()> {
    if confine::symlink_leads_out(dir, root, link, target)? {
        return Err(Errno::NotCapable);
    }
    Ok(())
}

/// Refuses a rename or hard link that would move a symlink to where its text leads out (see
/// [`confine::moved_symlink_leads_out`]).
fn check_moved_symlink(
    src: &Dir,
    old: &str,
    dst: &Dir,
    root: Option<DirId>,
    new: &str,
) -> WasiResult<()> {
    if confine::moved_symlink_leads_out(src, old, dst, root, new)? {
        return Err(Errno::NotCapable);
    }
    Ok(())
}

/// The preopen identity of directory descriptor `fd` (already checked to be one).
fn dst_root(ctx: &WasiCtx, fd: u32) -> Option<DirId> {
    ctx.table.get(fd).ok().and_then(|e| e.root)
}

/// The contents of the symlink at `path`.
pub(crate) fn path_readlink(ctx: &mut WasiCtx, fd: u32, path: &str) -> WasiResult<Vec<u8>> {
    use std::os::unix::ffi::OsStringExt;
    let dir = dir_of(ctx, fd, rights::PATH_READLINK)?;
    check_path(path)?;
    Ok(dir.read_link_contents(path)?.into_os_string().into_vec())
}

/// Reads a path argument, then runs `f` with it (the guest memory is not used afterwards).
///
/// The path is at most [`MAX_PATH_LEN`](crate::mem::MAX_PATH_LEN) bytes, checked before it is
/// copied.
fn with_path<R>(
    mem: &GuestMem<'_>,
    ptr: u32,
    len: u32,
    f: impl FnOnce(&str) -> WasiResult<R>,
) -> WasiResult<R> {
    let path = read_path(mem, ptr, len)?;
    f(&path)
}

/// A copy of the path argument at `ptr` (at most `MAX_PATH_LEN` bytes), traced.
fn read_path(mem: &GuestMem<'_>, ptr: u32, len: u32) -> WasiResult<String> {
    let path = mem.path(ptr.into(), len.into())?;
    tracing::trace!(target: crate::host::TRACE_TARGET, path);
    Ok(path.to_owned())
}

pub(crate) fn add<T: 'static>(linker: &mut Linker<T>, get: impl GetCtx<T>) -> ward::Result<()> {
    mem_fn!(linker, get, "path_create_directory", |ctx, mem, fd: u32, p: u32, pl: u32| {
        with_path(mem, p, pl, |path| path_create_directory(ctx, fd, path))
    });
    mem_fn!(
        linker,
        get,
        "path_filestat_get",
        |ctx, mem, fd: u32, lookup: u32, p: u32, pl: u32, out: u32| {
            let st = with_path(mem, p, pl, |path| path_filestat_get(ctx, fd, lookup, path))?;
            st.write(mem, out.into())
        }
    );
    mem_fn!(
        linker,
        get,
        "path_filestat_set_times",
        |ctx, mem, fd: u32, lookup: u32, p: u32, pl: u32, atim: u64, mtim: u64, flags: u32| {
            let flags = u16::try_from(flags).map_err(|_| Errno::Inval)?;
            with_path(mem, p, pl, |path| {
                path_filestat_set_times(ctx, fd, lookup, path, atim, mtim, flags)
            })
        }
    );
    mem_fn!(linker, get, "path_link", |ctx,
                                       mem,
                                       old_fd: u32,
                                       lookup: u32,
                                       op: u32,
                                       opl: u32,
                                       new_fd: u32,
                                       np: u32,
                                       npl: u32| {
        let old = read_path(mem, op, opl)?;
        let new = read_path(mem, np, npl)?;
        path_link(ctx, old_fd, lookup, &old, new_fd, &new)
    });
    mem_fn!(linker, get, "path_open", |ctx,
                                       mem,
                                       fd: u32,
                                       lookup: u32,
                                       p: u32,
                                       pl: u32,
                                       oflags: u32,
                                       base: u64,
                                       inheriting: u64,
                                       fdflags: u32,
                                       out: u32| {
        let oflags = u16::try_from(oflags).map_err(|_| Errno::Inval)?;
        let fdflags = u16::try_from(fdflags).map_err(|_| Errno::Inval)?;
        // Check the result pointer first, so a bad one cannot leak an open descriptor.
        mem.slice(out.into(), 4)?;
        let new_fd = with_path(mem, p, pl, |path| {
            path_open(ctx, fd, lookup, path, oflags, base, inheriting, fdflags)
        })?;
        mem.write_u32(out.into(), new_fd)
    });
    mem_fn!(linker, get, "path_readlink", |ctx,
                                           mem,
                                           fd: u32,
                                           p: u32,
                                           pl: u32,
                                           buf: u32,
                                           len: u32,
                                           out: u32| {
        let target = with_path(mem, p, pl, |path| path_readlink(ctx, fd, path))?;
        // A target longer than the buffer is cut to fit, as `readlink` does.
        let n = target.len().min(len as usize);
        mem.write_bytes(buf.into(), &target[..n])?;
        mem.write_u32(out.into(), n as u32)
    });
    mem_fn!(linker, get, "path_remove_directory", |ctx, mem, fd: u32, p: u32, pl: u32| {
        with_path(mem, p, pl, |path| path_remove_directory(ctx, fd, path))
    });
    mem_fn!(linker, get, "path_rename", |ctx,
                                         mem,
                                         old_fd: u32,
                                         op: u32,
                                         opl: u32,
                                         new_fd: u32,
                                         np: u32,
                                         npl: u32| {
        let old = read_path(mem, op, opl)?;
        let new = read_path(mem, np, npl)?;
        path_rename(ctx, old_fd, &old, new_fd, &new)
    });
    mem_fn!(linker, get, "path_symlink", |ctx,
                                          mem,
                                          op: u32,
                                          opl: u32,
                                          fd: u32,
                                          np: u32,
                                          npl: u32| {
        let target = read_path(mem, op, opl)?;
        let new = read_path(mem, np, npl)?;
        path_symlink(ctx, &target, fd, &new)
    });
    mem_fn!(linker, get, "path_unlink_file", |ctx, mem, fd: u32, p: u32, pl: u32| {
        with_path(mem, p, pl, |path| path_unlink_file(ctx, fd, path))
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calls::fd::{fd_close, fd_fdstat_set_rights};
    use crate::WasiCtxBuilder;

    const PRE: u32 = 3;

    fn setup() -> (tempfile::TempDir, WasiCtx) {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("dir")).unwrap();
        std::fs::write(tmp.path().join("file"), "data").unwrap();
        let ctx = WasiCtxBuilder::new().preopened_dir_path(tmp.path(), "/").unwrap().build();
        (tmp, ctx)
    }

    #[test]
    fn opened_rights_are_limited_by_parent_and_kind() {
        let (_tmp, mut ctx) = setup();
        let all = rights::ALL;
        let fd = path_open(&mut ctx, PRE, 0, "file", 0, all, all, 0).unwrap();
        let e = ctx.table.get(fd).unwrap();
        assert_eq!(e.base, rights::FILE_BASE);
        assert_eq!(e.filetype, filetype::REGULAR_FILE);
        let fd = path_open(&mut ctx, PRE, 0, "dir", oflags::DIRECTORY, rights::FD_READDIR, 0, 0);
        assert_eq!(ctx.table.get(fd.unwrap()).unwrap().base, rights::FD_READDIR);
        // Asking to write a directory is EISDIR, whether or not O_DIRECTORY is given.
        let w = rights::FD_WRITE;
        assert_eq!(
            path_open(&mut ctx, PRE, 0, "dir", oflags::DIRECTORY, w, 0, 0),
            Err(Errno::IsDir)
        );
        assert_eq!(path_open(&mut ctx, PRE, 0, "dir", 0, w, 0, 0), Err(Errno::IsDir));
        // A directory that may not hand down FD_WRITE gives files without it.
        fd_fdstat_set_rights(&mut ctx, PRE, rights::DIRECTORY_BASE, rights::FD_READ).unwrap();
        let fd = path_open(&mut ctx, PRE, 0, "file", 0, all, all, 0).unwrap();
        assert_eq!(ctx.table.get(fd).unwrap().base, rights::FD_READ);
        fd_close(&mut ctx, fd).unwrap();
        // Creating needs PATH_CREATE_FILE on the directory.
        fd_fdstat_set_rights(&mut ctx, PRE, rights::PATH_OPEN, rights::FD_READ).unwrap();
        assert_eq!(
            path_open(&mut ctx, PRE, 0, "new", oflags::CREAT, 0, 0, 0),
            Err(Errno::NotCapable)
        );
    }

    #[test]
    fn trailing_slashes_answer_as_posix_does() {
        let (tmp, mut ctx) = setup();
        assert_eq!(path_unlink_file(&mut ctx, PRE, "dir/"), Err(Errno::IsDir));
        assert_eq!(path_unlink_file(&mut ctx, PRE, "dir"), Err(Errno::IsDir));
        assert_eq!(path_unlink_file(&mut ctx, PRE, "file/"), Err(Errno::NotDir));
        assert_eq!(path_symlink(&mut ctx, "x", PRE, "missing/"), Err(Errno::NoEnt));
        assert_eq!(path_symlink(&mut ctx, "x", PRE, "dir/"), Err(Errno::Exist));
        assert_eq!(path_symlink(&mut ctx, "x", PRE, "file/"), Err(Errno::NotDir));
        assert_eq!(path_link(&mut ctx, PRE, 0, "file", PRE, "link/"), Err(Errno::NoEnt));
        assert_eq!(path_rename(&mut ctx, PRE, "file/", PRE, "other"), Err(Errno::NotDir));
        path_rename(&mut ctx, PRE, "dir/", PRE, "moved/").unwrap();
        assert!(tmp.path().join("moved").is_dir());
        path_create_directory(&mut ctx, PRE, "made/").unwrap();
        path_remove_directory(&mut ctx, PRE, "made/").unwrap();
        assert_eq!(path_remove_directory(&mut ctx, PRE, "file/"), Err(Errno::NotDir));
    }

    #[test]
    fn empty_and_absolute_paths_are_refused_early() {
        let (_tmp, mut ctx) = setup();
        assert_eq!(path_open(&mut ctx, PRE, 0, "", 0, 0, 0, 0), Err(Errno::NoEnt));
        assert_eq!(path_open(&mut ctx, PRE, 0, "/file", 0, 0, 0, 0), Err(Errno::NotCapable));
        assert_eq!(path_symlink(&mut ctx, "/etc", PRE, "l"), Err(Errno::NotCapable));
        assert_eq!(path_open(&mut ctx, 9, 0, "file", 0, 0, 0, 0), Err(Errno::Badf));
        let fd = path_open(&mut ctx, PRE, 0, "file", 0, 0, 0, 0).unwrap();
        assert_eq!(path_open(&mut ctx, fd, 0, "x", 0, 0, 0, 0), Err(Errno::NotDir));
    }

    #[test]
    fn readlink_returns_the_text() {
        let (_tmp, mut ctx) = setup();
        path_symlink(&mut ctx, "../somewhere/else", PRE, "dir/l").unwrap();
        assert_eq!(path_readlink(&mut ctx, PRE, "dir/l").unwrap(), b"../somewhere/else");
        assert_eq!(path_readlink(&mut ctx, PRE, "file"), Err(Errno::Inval));
    }

    #[test]
    fn symlinks_placed_by_the_guest_stay_beneath_the_preopen() {
        let (_tmp, mut ctx) = setup();
        path_create_directory(&mut ctx, PRE, "dir/deeper").unwrap();
        // Up to the preopen itself is fine, from wherever the link lives.
        path_symlink(&mut ctx, "../file", PRE, "dir/ok").unwrap();
        path_symlink(&mut ctx, "../../file", PRE, "dir/deeper/ok").unwrap();
        path_symlink(&mut ctx, "x/../file", PRE, "ok").unwrap();
        // One level more is out.
        for (target, link) in
            [("..", "up"), ("../x", "up"), ("../../file", "dir/up"), ("a/../../x", "up")]
        {
            assert_eq!(path_symlink(&mut ctx, target, PRE, link), Err(Errno::NotCapable));
        }
        // Through a descriptor for a subdirectory: its depth is measured, not assumed.
        let (base, inh) = (rights::DIRECTORY_BASE, rights::DIRECTORY_INHERITING);
        let sub = path_open(&mut ctx, PRE, 0, "dir", oflags::DIRECTORY, base, inh, 0).unwrap();
        path_symlink(&mut ctx, "../file", sub, "ok2").unwrap();
        assert_eq!(path_symlink(&mut ctx, "../../file", sub, "up"), Err(Errno::NotCapable));
        // Moving a link to where its text would lead out is refused too.
        assert_eq!(path_rename(&mut ctx, PRE, "dir/ok", PRE, "moved"), Err(Errno::NotCapable));
        assert_eq!(path_link(&mut ctx, PRE, 0, "dir/ok", PRE, "moved"), Err(Errno::NotCapable));
        path_rename(&mut ctx, PRE, "dir/ok", PRE, "dir/deeper/moved").unwrap();
    }
}
