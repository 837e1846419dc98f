//! `wasi:filesystem/types` and `wasi:filesystem/preopens` on `cap-std`.
//!
//! Every path is resolved by `cap-std` beneath the directory descriptor it is relative to
//! (`openat2` with `RESOLVE_BENEATH` on Linux), so `..` above a preopen, absolute paths and
//! symlinks leading out all fail (`not-permitted`). A read-only preopen
//! ([`DirAccess::ReadOnly`]) and everything opened through it refuse every change with
//! `not-permitted`, and files beneath it are opened read-only on the host. Symlinks the guest
//! creates, renames or hard-links must not lead above their preopen, even as text (the rule of
//! SECURITY.md §2.2, written again here: `ward-wasi` keeps its version crate-private).

use crate::ctx::{DirAccess, WasiP2Ctx};
use crate::host::*;
use crate::io::MAX_READ;
use crate::table::{wrong, DescKind, Descriptor, InputStream, Object, OutputStream};
use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt, OpenOptionsMaybeDirExt};
use cap_std::fs::Dir;
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use ward_component::{Error, Result, Val};
use ward_wasi::Errno;

const TYPES: &str = "wasi:filesystem/types";
const PREOPENS: &str = "wasi:filesystem/preopens";
/// Longer paths are `name-too-long` before anything else.
const MAX_PATH: usize = 4095;

pub(crate) use ward_wasi::confine::{self, DirId};

/// How a filesystem call failed: an `error-code` for the guest, or a trap.
pub(crate) enum Fs {
    Code(&'static str),
    Fatal(Error),
}

type FsRes<T> = std::result::Result<T, Fs>;

impl From<io::Error> for Fs {
    fn from(e: io::Error) -> Self {
        Fs::Code(code(&e))
    }
}

impl From<Error> for Fs {
    fn from(e: Error) -> Self {
        Fs::Fatal(e)
    }
}

/// The `error-code` for a host error (through preview 1's errno mapping, which also knows
/// `cap-std`'s sandbox refusals).
pub(crate) fn code(e: &io::Error) -> &'static str {
    match Errno::from_io(e) {
        Errno::TooBig => "invalid",
        Errno::Acces => "access",
        Errno::Again => "would-block",
        Errno::Already => "already",
        Errno::Badf => "bad-descriptor",
        Errno::Busy => "busy",
        Errno::Deadlk => "deadlock",
        Errno::Dquot => "quota",
        Errno::Exist => "exist",
        Errno::Fbig => "file-too-large",
        Errno::Ilseq => "illegal-byte-sequence",
        Errno::InProgress => "in-progress",
        Errno::Intr => "interrupted",
        Errno::Inval => "invalid",
        Errno::IsDir => "is-directory",
        Errno::Loop => "loop",
        Errno::Mlink => "too-many-links",
        Errno::MsgSize => "message-size",
        Errno::NameTooLong => "name-too-long",
        Errno::NoDev => "no-device",
        Errno::NoEnt => "no-entry",
        Errno::NoLck => "no-lock",
        Errno::NoMem | Errno::Mfile | Errno::Nfile => "insufficient-memory",
        Errno::NoSpc => "insufficient-space",
        Errno::NotDir => "not-directory",
        Errno::NotEmpty => "not-empty",
        Errno::NotRecoverable => "not-recoverable",
        Errno::NotSup | Errno::NoSys => "unsupported",
        Errno::NoTty => "no-tty",
        Errno::Nxio => "no-such-device",
        Errno::Overflow => "overflow",
        Errno::Perm | Errno::NotCapable => "not-permitted",
        Errno::Pipe => "pipe",
        Errno::Rofs => "read-only",
        Errno::Spipe => "invalid-seek",
        Errno::TxtBsy => "text-file-busy",
        Errno::Xdev => "cross-device",
        _ => "io",
    }
}

fn fs_result(r: FsRes<Option<Val>>) -> Result<Option<Val>> {
    Ok(Some(match r {
        Ok(v) => ok(v),
        Err(Fs::Code(c)) => err(Some(Val::Enum(c.into()))),
        Err(Fs::Fatal(e)) => return Err(e),
    }))
}

fn desc(ctx: &WasiP2Ctx, rep: u32) -> FsRes<&Descriptor> {
    Ok(ctx.table.descriptor(rep)?)
}

fn dir_of(d: &Descriptor) -> FsRes<&Arc<Dir>> {
    match &d.kind {
        DescKind::Dir(dir) => Ok(dir),
        DescKind::File(_) => Err(Fs::Code("not-directory")),
    }
}

fn file_of(d: &Descriptor) -> FsRes<&Arc<File>> {
    match &d.kind {
        DescKind::File(f) => Ok(f),
        DescKind::Dir(_) => Err(Fs::Code("bad-descriptor")),
    }
}

/// The directory of descriptor `rep`, which the guest means to change beneath.
fn mutable_dir(ctx: &WasiP2Ctx, rep: u32) -> FsRes<(&Arc<Dir>, &Descriptor)> {
    let d = desc(ctx, rep)?;
    let dir = dir_of(d)?;
    if d.access == DirAccess::ReadOnly {
        return Err(Fs::Code("not-permitted"));
    }
    Ok((dir, d))
}

fn path_arg(p: &[Val], i: usize) -> FsRes<&str> {
    let path = arg_str(p, i)?;
    if path.len() > MAX_PATH {
        return Err(Fs::Code("name-too-long"));
    }
    if path.starts_with('/') {
        return Err(Fs::Code("not-permitted"));
    }
    Ok(path)
}

/// The path without its trailing slashes, and whether it had any.
fn trailing_slashes(path: &str) -> (&str, bool) {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        (path, false)
    } else {
        (trimmed, trimmed.len() != path.len())
    }
}

/// What creating a non-directory at `name/` answers, as POSIX does.
fn slash_create_error(dir: &Dir, name: &str) -> Fs {
    match dir.symlink_metadata(name) {
        Ok(m) if m.is_dir() => Fs::Code("exist"),
        Ok(_) => Fs::Code("not-directory"),
        Err(e) => e.into(),
    }
}

/// `descriptor-stat` and identity, from either kind of metadata.
struct Stat {
    ty: &'static str,
    nlink: u64,
    size: u64,
    times: [(i64, i64); 3],
    dev: u64,
    ino: u64,
}

fn type_name(dir: bool, file: bool, link: bool, ft: &impl FileTypeBits) -> &'static str {
    if dir {
        "directory"
    } else if file {
        "regular-file"
    } else if link {
        "symbolic-link"
    } else if ft.block() {
        "block-device"
    } else if ft.char() {
        "character-device"
    } else if ft.fifo() {
        "fifo"
    } else if ft.socket() {
        "socket"
    } else {
        "unknown"
    }
}

trait FileTypeBits {
    fn block(&self) -> bool;
    fn char(&self) -> bool;
    fn fifo(&self) -> bool;
    fn socket(&self) -> bool;
}

impl FileTypeBits for cap_std::fs::FileType {
    fn block(&self) -> bool {
        cap_std::fs::FileTypeExt::is_block_device(self)
    }
    fn char(&self) -> bool {
        cap_std::fs::FileTypeExt::is_char_device(self)
    }
    fn fifo(&self) -> bool {
        cap_std::fs::FileTypeExt::is_fifo(self)
    }
    fn socket(&self) -> bool {
        cap_std::fs::FileTypeExt::is_socket(self)
    }
}

impl From<cap_std::fs::Metadata> for Stat {
    fn from(m: cap_std::fs::Metadata) -> Stat {
        use cap_std::fs::MetadataExt;
        let ft = m.file_type();
        Stat {
            ty: type_name(ft.is_dir(), ft.is_file(), ft.is_symlink(), &ft),
            nlink: m.nlink(),
            size: m.len(),
            times: [
                (m.atime(), m.atime_nsec()),
                (m.mtime(), m.mtime_nsec()),
                (m.ctime(), m.ctime_nsec()),
            ],
            dev: m.dev(),
            ino: m.ino(),
        }
    }
}

impl Stat {
    fn of(d: &Descriptor) -> io::Result<Stat> {
        Ok(match &d.kind {
            DescKind::Dir(dir) => dir.dir_metadata()?.into(),
            DescKind::File(f) => cap_std::fs::Metadata::from_file(f)?.into(),
        })
    }

    fn val(&self) -> Val {
        let time = |(s, ns): (i64, i64)| {
            some((s >= 0).then(|| datetime(s as u64, ns.clamp(0, 999_999_999) as u32)))
        };
        record(vec![
            ("type", Val::Enum(self.ty.into())),
            ("link-count", Val::U64(self.nlink)),
            ("size", Val::U64(self.size)),
            ("data-access-timestamp", time(self.times[0])),
            ("data-modification-timestamp", time(self.times[1])),
            ("status-change-timestamp", time(self.times[2])),
        ])
    }

    fn hash(&self) -> Val {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.dev, self.ino).hash(&mut h);
        let lower = h.finish();
        (self.ino, self.dev, 1u8).hash(&mut h);
        record(vec![("lower", Val::U64(lower)), ("upper", Val::U64(h.finish()))])
    }
}

fn stat_at(dir: &Dir, follow: bool, path: &str) -> io::Result<Stat> {
    Ok(if follow { dir.metadata(path)? } else { dir.symlink_metadata(path)? }.into())
}

/// A `new-timestamp` argument: None for `no-change`.
fn new_timestamp(v: Option<&Val>) -> FsRes<Option<cap_fs_ext::SystemTimeSpec>> {
    use cap_fs_ext::SystemTimeSpec;
    match v {
        Some(Val::Variant(case, payload)) => match (case.as_str(), payload.as_deref()) {
            ("no-change", _) => Ok(None),
            ("now", _) => Ok(Some(SystemTimeSpec::SymbolicNow)),
            ("timestamp", Some(Val::Record(fields))) => {
                let get = |n: &str| fields.iter().find(|(f, _)| f == n).map(|(_, v)| v);
                let (Some(Val::U64(s)), Some(Val::U32(ns))) = (get("seconds"), get("nanoseconds"))
                else {
                    return Err(Fs::Fatal(bad_arg(0, "datetime")));
                };
                if *ns >= 1_000_000_000 {
                    return Err(Fs::Code("invalid"));
                }
                let t = SystemTime::UNIX_EPOCH
                    .checked_add(Duration::new(*s, *ns))
                    .ok_or(Fs::Code("overflow"))?;
                Ok(Some(SystemTimeSpec::Absolute(cap_std::time::SystemTime::from_std(t))))
            }
            _ => Err(Fs::Fatal(bad_arg(0, "new-timestamp"))),
        },
        _ => Err(Fs::Fatal(bad_arg(0, "new-timestamp"))),
    }
}

/// Refuses a symlink whose text would lead above the preopen, by the rule preview 1 applies too
/// ([`confine::symlink_leads_out`]).
fn check_symlink_target(dir: &Dir, root: Option<DirId>, link: &str, target: &str) -> FsRes<()> {
    if confine::symlink_leads_out(dir, root, link.trim_end_matches('/'), target.as_bytes())? {
        return Err(Fs::Code("not-permitted"));
    }
    Ok(())
}

/// For a rename or hard link of `old` to `new`: a symlink must suit its new place
/// ([`confine::moved_symlink_leads_out`]).
fn check_moved_symlink(
    src: &Dir,
    old: &str,
    dst: &Dir,
    root: Option<DirId>,
    new: &str,
) -> FsRes<()> {
    if confine::moved_symlink_leads_out(src, old, dst, root, new)? {
        return Err(Fs::Code("not-permitted"));
    }
    Ok(())
}

fn new_descriptor(ctx: &mut WasiP2Ctx, ty: &Types, d: Descriptor) -> FsRes<Option<Val>> {
    let rep = ctx.push(Object::Descriptor(d))?;
    Ok(Some(own(&ty.descriptor, rep)))
}

fn dir_flags(access: DirAccess) -> Vec<String> {
    let mut f = vec!["read".to_string()];
    if access == DirAccess::ReadWrite {
        f.push("mutate-directory".to_string());
    }
    f
}

/// `open-at`.
fn open_at(ctx: &mut WasiP2Ctx, ty: &Types, p: &[Val]) -> FsRes<Option<Val>> {
    let parent = desc(ctx, arg_rep(p, 0)?)?;
    let dir = dir_of(parent)?.clone();
    let (access, root) = (parent.access, parent.root);
    let follow = has(arg_flags(p, 1)?, "symlink-follow");
    let path = path_arg(p, 2)?;
    let oflags = arg_flags(p, 3)?;
    let flags = arg_flags(p, 4)?;
    let (create, directory, exclusive, truncate) = (
        has(oflags, "create"),
        has(oflags, "directory"),
        has(oflags, "exclusive"),
        has(oflags, "truncate"),
    );
    let (read, write, mutate) =
        (has(flags, "read"), has(flags, "write"), has(flags, "mutate-directory"));
    if access == DirAccess::ReadOnly && (create || truncate || write || mutate) {
        return Err(Fs::Code("not-permitted"));
    }
    if directory && (create || exclusive || truncate) {
        return Err(Fs::Code("invalid"));
    }
    if directory {
        if write {
            return Err(Fs::Code("is-directory"));
        }
        let sub = if follow { dir.open_dir(path)? } else { dir.open_dir_nofollow(path)? };
        return new_descriptor(
            ctx,
            ty,
            Descriptor {
                kind: DescKind::Dir(Arc::new(sub)),
                read: true,
                write: false,
                access,
                root,
                flags: dir_flags(access),
            },
        );
    }
    let mut opts = cap_std::fs::OpenOptions::new();
    let host_write = write || create || truncate;
    opts.read(read || !host_write).write(host_write);
    if create && exclusive {
        opts.create_new(true);
    } else if create {
        opts.create(true);
    }
    opts.truncate(truncate);
    opts.follow(if follow { FollowSymlinks::Yes } else { FollowSymlinks::No });
    opts.maybe_dir(true);
    let sync: Vec<String> = ["file-integrity-sync", "data-integrity-sync", "requested-write-sync"]
        .into_iter()
        .filter(|f| has(flags, f))
        .map(str::to_string)
        .collect();
    {
        use cap_fs_ext::OpenOptionsSyncExt;
        opts.sync(has(&sync, "file-integrity-sync"))
            .dsync(has(&sync, "data-integrity-sync"))
            .rsync(has(&sync, "requested-write-sync"));
    }
    let (name, slash) = trailing_slashes(path);
    if slash && create {
        // `name/` can only be a directory, never created as a file.
        if dir.symlink_metadata(name).is_err() {
            return Err(slash_create_error(&dir, name));
        }
    }
    let file = dir.open_with(path, &opts)?.into_std();
    let is_dir = file.metadata()?.is_dir();
    let d = if is_dir {
        if write {
            return Err(Fs::Code("is-directory"));
        }
        Descriptor {
            kind: DescKind::Dir(Arc::new(Dir::from_std_file(file))),
            read: true,
            write: false,
            access,
            root,
            flags: dir_flags(access),
        }
    } else {
        if slash {
            return Err(Fs::Code("not-directory"));
        }
        let mut f = Vec::new();
        let read = read || !write;
        if read {
            f.push("read".to_string());
        }
        if write {
            f.push("write".to_string());
        }
        f.extend(sync);
        Descriptor { kind: DescKind::File(Arc::new(file)), read, write, access, root, flags: f }
    };
    new_descriptor(ctx, ty, d)
}

/// `wasi:filesystem/*`.
pub(crate) fn add_fs<T: 'static, G>(r: &mut Reg<'_, T, G>) -> Result<()>
where
    G: Fn(&mut T) -> &mut WasiP2Ctx + Send + Sync + Copy + 'static,
{
    let t = r.types.clone();
    r.resource(TYPES, "descriptor", &t.descriptor)?;
    r.resource(TYPES, "directory-entry-stream", &t.dir_entries)?;
    r.resource(TYPES, "input-stream", &t.input)?;
    r.resource(TYPES, "output-stream", &t.output)?;
    r.resource(TYPES, "error", &t.error)?;
    r.resource(PREOPENS, "descriptor", &t.descriptor)?;

    r.func(PREOPENS, "get-directories", |ctx, ty, _| {
        let mut out = Vec::with_capacity(ctx.preopens.len());
        for i in 0..ctx.preopens.len() {
            let (pre, guest) = &ctx.preopens[i];
            let root = DirId::of(pre.dir.as_fd()).ok();
            let d = Descriptor {
                kind: DescKind::Dir(pre.dir.clone()),
                read: true,
                write: false,
                access: pre.access,
                root,
                flags: dir_flags(pre.access),
            };
            let guest = guest.clone();
            let rep = ctx.push(Object::Descriptor(d))?;
            out.push(Val::Tuple(vec![own(&ty.descriptor, rep), Val::String(guest)]));
        }
        Ok(Some(Val::List(out)))
    })?;

    macro_rules! method {
        ($name:expr, |$ctx:ident, $ty:ident, $p:ident| $body:expr) => {
            r.func(TYPES, concat!("[method]descriptor.", $name), |$ctx, $ty, $p| {
                let _ = &$ty;
                #[allow(clippy::redundant_closure_call)]
                let r = (|| -> FsRes<Option<Val>> { $body })();
                fs_result(r)
            })?;
        };
    }

    method!("open-at", |ctx, ty, p| open_at(ctx, ty, p));
    method!("read-via-stream", |ctx, ty, p| {
        let d = desc(ctx, arg_rep(p, 0)?)?;
        let file = file_of(d)?.clone();
        if !d.read {
            return Err(Fs::Code("bad-descriptor"));
        }
        let rep = ctx.push(Object::Input(InputStream::File { file, pos: arg_u64(p, 1)? }))?;
        Ok(Some(own(&ty.input, rep)))
    });
    method!("write-via-stream", |ctx, ty, p| {
        let d = desc(ctx, arg_rep(p, 0)?)?;
        let file = file_of(d)?.clone();
        if !d.write {
            return Err(Fs::Code("bad-descriptor"));
        }
        let rep = ctx.push(Object::Output(OutputStream::File { file, pos: arg_u64(p, 1)? }))?;
        Ok(Some(own(&ty.output, rep)))
    });
    method!("append-via-stream", |ctx, ty, p| {
        let d = desc(ctx, arg_rep(p, 0)?)?;
        let file = file_of(d)?.clone();
        if !d.write {
            return Err(Fs::Code("bad-descriptor"));
        }
        let rep = ctx.push(Object::Output(OutputStream::Append(file)))?;
        Ok(Some(own(&ty.output, rep)))
    });
    method!("advise", |ctx, ty, p| {
        file_of(desc(ctx, arg_rep(p, 0)?)?)?;
        arg_enum(p, 3)?;
        Ok(None)
    });
    for (name, data) in [("sync-data", true), ("sync", false)] {
        r.func(TYPES, &format!("[method]descriptor.{name}"), move |ctx, _, p| {
            fs_result((|| {
                let d = desc(ctx, arg_rep(p, 0)?)?;
                match &d.kind {
                    DescKind::File(f) if data => f.sync_data()?,
                    DescKind::File(f) => f.sync_all()?,
                    DescKind::Dir(dir) => match rustix::fs::fsync(dir.as_fd()) {
                        // Some file systems cannot sync a directory: nothing to do then.
                        Ok(()) | Err(rustix::io::Errno::INVAL) => {}
                        Err(e) => return Err(io::Error::from(e).into()),
                    },
                }
                Ok(None)
            })())
        })?;
    }
    method!("get-flags", |ctx, ty, p| {
        let d = desc(ctx, arg_rep(p, 0)?)?;
        Ok(Some(Val::Flags(d.flags.clone())))
    });
    method!("get-type", |ctx, ty, p| {
        let d = desc(ctx, arg_rep(p, 0)?)?;
        Ok(Some(Val::Enum(Stat::of(d)?.ty.into())))
    });
    method!("set-size", |ctx, ty, p| {
        let d = desc(ctx, arg_rep(p, 0)?)?;
        let f = file_of(d)?;
        if !d.write || d.access == DirAccess::ReadOnly {
            return Err(Fs::Code("bad-descriptor"));
        }
        f.set_len(arg_u64(p, 1)?)?;
        Ok(None)
    });
    method!("set-times", |ctx, ty, p| {
        let d = desc(ctx, arg_rep(p, 0)?)?;
        if d.access == DirAccess::ReadOnly {
            return Err(Fs::Code("not-permitted"));
        }
        let (a, m) = (new_timestamp(p.get(1))?, new_timestamp(p.get(2))?);
        let fd = match &d.kind {
            DescKind::Dir(dir) => dir.as_fd(),
            DescKind::File(f) => f.as_fd(),
        };
        rustix::fs::futimens(fd, &timestamps(a, m)).map_err(io::Error::from)?;
        Ok(None)
    });
    method!("read", |ctx, ty, p| {
        let d = desc(ctx, arg_rep(p, 0)?)?;
        let f = file_of(d)?;
        if !d.read {
            return Err(Fs::Code("bad-descriptor"));
        }
        let (len, offset) = (arg_u64(p, 1)?, arg_u64(p, 2)?);
        let want = len.min(MAX_READ) as usize;
        let mut buf = vec![0u8; want];
        let n = f.read_at(&mut buf, offset)?;
        buf.truncate(n);
        let eof = n == 0 && want > 0;
        Ok(Some(Val::Tuple(vec![Val::Bytes(buf), Val::Bool(eof)])))
    });
    method!("write", |ctx, ty, p| {
        let d = desc(ctx, arg_rep(p, 0)?)?;
        let f = file_of(d)?;
        if !d.write {
            return Err(Fs::Code("bad-descriptor"));
        }
        let bytes = arg_bytes(p, 1)?;
        f.write_all_at(&bytes, arg_u64(p, 2)?)?;
        Ok(Some(Val::U64(bytes.len() as u64)))
    });
    method!("read-directory", |ctx, ty, p| {
        let dir = dir_of(desc(ctx, arg_rep(p, 0)?)?)?;
        let entries = dir.entries()?;
        let rep = ctx.push(Object::DirEntries(Box::new(entries)))?;
        Ok(Some(own(&ty.dir_entries, rep)))
    });
    method!("create-directory-at", |ctx, ty, p| {
        let (dir, _) = mutable_dir(ctx, arg_rep(p, 0)?)?;
        let (name, _) = trailing_slashes(path_arg(p, 1)?);
        dir.create_dir(name)?;
        Ok(None)
    });
    method!("stat", |ctx, ty, p| Ok(Some(Stat::of(desc(ctx, arg_rep(p, 0)?)?)?.val())));
    method!("stat-at", |ctx, ty, p| {
        let dir = dir_of(desc(ctx, arg_rep(p, 0)?)?)?;
        let follow = has(arg_flags(p, 1)?, "symlink-follow");
        Ok(Some(stat_at(dir, follow, path_arg(p, 2)?)?.val()))
    });
    method!("set-times-at", |ctx, ty, p| {
        let (dir, _) = mutable_dir(ctx, arg_rep(p, 0)?)?;
        let follow = has(arg_flags(p, 1)?, "symlink-follow");
        let path = path_arg(p, 2)?;
        let (a, m) = (new_timestamp(p.get(3))?, new_timestamp(p.get(4))?);
        if follow {
            dir.set_times(path, a, m)?;
        } else {
            dir.set_symlink_times(path, a, m)?;
        }
        Ok(None)
    });
    method!("link-at", |ctx, ty, p| {
        let (src, _) = mutable_dir(ctx, arg_rep(p, 0)?)?;
        if has(arg_flags(p, 1)?, "symlink-follow") {
            return Err(Fs::Code("invalid"));
        }
        let old = path_arg(p, 2)?;
        let (dst, dd) = mutable_dir(ctx, arg_rep(p, 3)?)?;
        let new = path_arg(p, 4)?;
        check_moved_symlink(src, old, dst, dd.root, new)?;
        src.hard_link(old, dst, new)?;
        Ok(None)
    });
    method!("readlink-at", |ctx, ty, p| {
        let dir = dir_of(desc(ctx, arg_rep(p, 0)?)?)?;
        let target = dir.read_link_contents(path_arg(p, 1)?)?;
        let s =
            target.into_os_string().into_string().map_err(|_| Fs::Code("illegal-byte-sequence"))?;
        Ok(Some(Val::String(s)))
    });
    method!("remove-directory-at", |ctx, ty, p| {
        let (dir, _) = mutable_dir(ctx, arg_rep(p, 0)?)?;
        let (name, _) = trailing_slashes(path_arg(p, 1)?);
        dir.remove_dir(name)?;
        Ok(None)
    });
    method!("rename-at", |ctx, ty, p| {
        let (src, _) = mutable_dir(ctx, arg_rep(p, 0)?)?;
        let old = path_arg(p, 1)?;
        let (dst, dd) = mutable_dir(ctx, arg_rep(p, 2)?)?;
        let new = path_arg(p, 3)?;
        check_moved_symlink(src, old, dst, dd.root, new)?;
        src.rename(old, dst, new)?;
        Ok(None)
    });
    method!("symlink-at", |ctx, ty, p| {
        let (dir, d) = mutable_dir(ctx, arg_rep(p, 0)?)?;
        let target = arg_str(p, 1)?;
        if target.len() > MAX_PATH {
            return Err(Fs::Code("name-too-long"));
        }
        let new = path_arg(p, 2)?;
        if target.starts_with('/') {
            return Err(Fs::Code("not-permitted"));
        }
        if target.is_empty() {
            return Err(Fs::Code("no-entry"));
        }
        let (name, slash) = trailing_slashes(new);
        if slash {
            return Err(slash_create_error(dir, name));
        }
        check_symlink_target(dir, d.root, name, target)?;
        dir.symlink(target, name)?;
        Ok(None)
    });
    method!("unlink-file-at", |ctx, ty, p| {
        let (dir, _) = mutable_dir(ctx, arg_rep(p, 0)?)?;
        let path = path_arg(p, 1)?;
        if trailing_slashes(path).1 {
            // `name/` names a directory (or a symlink to one): never a file to unlink.
            let m = dir.metadata(path)?;
            return Err(Fs::Code(if m.is_dir() { "is-directory" } else { "not-directory" }));
        }
        dir.remove_file(path)?;
        Ok(None)
    });
    r.func(TYPES, "[method]descriptor.is-same-object", |ctx, _, p| {
        let id = |rep| -> Result<Option<(u64, u64)>> {
            let d = ctx.table.descriptor(rep)?;
            Ok(Stat::of(d).ok().map(|s| (s.dev, s.ino)))
        };
        let (a, b) = (id(arg_rep(p, 0)?)?, id(arg_rep(p, 1)?)?);
        Ok(Some(Val::Bool(a.is_some() && a == b)))
    })?;
    method!("metadata-hash", |ctx, ty, p| Ok(Some(Stat::of(desc(ctx, arg_rep(p, 0)?)?)?.hash())));
    method!("metadata-hash-at", |ctx, ty, p| {
        let dir = dir_of(desc(ctx, arg_rep(p, 0)?)?)?;
        let follow = has(arg_flags(p, 1)?, "symlink-follow");
        Ok(Some(stat_at(dir, follow, path_arg(p, 2)?)?.hash()))
    });

    r.func(TYPES, "[method]directory-entry-stream.read-directory-entry", |ctx, _, p| {
        fs_result((|| {
            let Some(Object::DirEntries(entries)) = ctx.table.get_mut(arg_rep(p, 0)?) else {
                return Err(Fs::Fatal(wrong("directory-entry-stream")));
            };
            let Some(entry) = entries.next() else { return Ok(Some(some(None))) };
            let entry = entry?;
            let name =
                entry.file_name().into_string().map_err(|_| Fs::Code("illegal-byte-sequence"))?;
            let ft = entry.file_type()?;
            let ty = type_name(ft.is_dir(), ft.is_file(), ft.is_symlink(), &ft);
            Ok(Some(some(Some(record(vec![
                ("type", Val::Enum(ty.into())),
                ("name", Val::String(name)),
            ])))))
        })())
    })?;
    r.func(TYPES, "filesystem-error-code", |ctx, _, p| match ctx.table.get(arg_rep(p, 0)?) {
        Some(Object::Error(e)) => Ok(Some(some(Some(Val::Enum(code(e).into()))))),
        Some(_) => Ok(Some(some(None))),
        None => Err(wrong("error")),
    })?;
    Ok(())
}

fn timestamps(
    a: Option<cap_fs_ext::SystemTimeSpec>,
    m: Option<cap_fs_ext::SystemTimeSpec>,
) -> rustix::fs::Timestamps {
    use cap_fs_ext::SystemTimeSpec;
    let spec = |t: Option<SystemTimeSpec>| match t {
        None => rustix::fs::Timespec { tv_sec: 0, tv_nsec: rustix::fs::UTIME_OMIT },
        Some(SystemTimeSpec::SymbolicNow) => {
            rustix::fs::Timespec { tv_sec: 0, tv_nsec: rustix::fs::UTIME_NOW }
        }
        Some(SystemTimeSpec::Absolute(t)) => {
            let d = t.into_std().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
            rustix::fs::Timespec {
                tv_sec: d.as_secs().min(i64::MAX as u64) as i64,
                tv_nsec: d.subsec_nanos() as _,
            }
        }
    };
    rustix::fs::Timestamps { last_access: spec(a), last_modification: spec(m) }
}
