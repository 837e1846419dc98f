//! Sandbox-escape tests for WASI: a guest holding a preopened directory tries to reach outside
//! it by every route a path offers (`..`, absolute paths, symlinks out, hard links and renames
//! out, symlinks created to absolute targets), and by bad pointers and missing rights. Each
//! attempt must be refused with the right errno, and nothing outside the preopen may change.
//!
//! The guest is a small WAT module whose exports are thin wrappers over the WASI imports; the
//! test drives them through Ward's embedding API with paths it writes into guest memory.

use std::path::{Path, PathBuf};

use ward::{Engine, Instance, Linker, Module, Store};
use ward_wasi::{Errno, OutputPipe, WasiCtx, WasiCtxBuilder};

const GUEST: &str = r#"
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_create_directory"
    (func $mkdir (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_remove_directory"
    (func $rmdir (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_unlink_file"
    (func $unlink (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_filestat_get"
    (func $stat (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_link"
    (func $link (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_rename"
    (func $rename (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_symlink"
    (func $symlink (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_readlink"
    (func $readlink (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_filestat_set_times"
    (func $set_times (param i32 i32 i32 i32 i64 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_set_rights"
    (func $set_rights (param i32 i64 i64) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_get"
    (func $prestat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get"
    (func $env_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get"
    (func $args_get (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "open") (param $dir i32) (param $lookup i32) (param $p i32) (param $l i32)
                        (param $oflags i32) (param $rights i64) (param $out i32) (result i32)
    (call $path_open (local.get $dir) (local.get $lookup) (local.get $p) (local.get $l)
                     (local.get $oflags) (local.get $rights) (i64.const -1) (i32.const 0)
                     (local.get $out)))
  (func (export "mkdir") (param i32 i32 i32) (result i32)
    (call $mkdir (local.get 0) (local.get 1) (local.get 2)))
  (func (export "rmdir") (param i32 i32 i32) (result i32)
    (call $rmdir (local.get 0) (local.get 1) (local.get 2)))
  (func (export "unlink") (param i32 i32 i32) (result i32)
    (call $unlink (local.get 0) (local.get 1) (local.get 2)))
  (func (export "stat") (param i32 i32 i32 i32 i32) (result i32)
    (call $stat (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)))
  (func (export "link") (param i32 i32 i32 i32 i32 i32 i32) (result i32)
    (call $link (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)
                (local.get 5) (local.get 6)))
  (func (export "rename") (param i32 i32 i32 i32 i32 i32) (result i32)
    (call $rename (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)
                  (local.get 5)))
  (func (export "symlink") (param i32 i32 i32 i32 i32) (result i32)
    (call $symlink (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)))
  (func (export "readlink") (param i32 i32 i32 i32 i32 i32) (result i32)
    (call $readlink (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)
                    (local.get 5)))
  (func (export "set_times") (param i32 i32 i32 i32 i64 i64 i32) (result i32)
    (call $set_times (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)
                     (local.get 5) (local.get 6)))
  (func (export "read") (param i32 i32 i32 i32) (result i32)
    (call $fd_read (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
  (func (export "write") (param i32 i32 i32 i32) (result i32)
    (call $fd_write (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
  (func (export "set_rights") (param i32 i64 i64) (result i32)
    (call $set_rights (local.get 0) (local.get 1) (local.get 2)))
  (func (export "prestat") (param i32 i32) (result i32)
    (call $prestat (local.get 0) (local.get 1)))
  (func (export "env_sizes") (param i32 i32) (result i32)
    (call $env_sizes (local.get 0) (local.get 1)))
  (func (export "args_get") (param i32 i32) (result i32)
    (call $args_get (local.get 0) (local.get 1))))
"#;

/// Where the test puts things in guest memory.
const PATH_A: i32 = 1024;
const PATH_B: i32 = 2048;
const OUT: i32 = 64;
const BUF: i32 = 4096;

/// The preopened directory's descriptor.
const PRE: i32 = 3;

const LOOKUP_FOLLOW: i32 = 1;
const O_CREAT: i32 = 1;
const O_DIRECTORY: i32 = 2;
const RIGHT_FD_READ: i64 = 1 << 1;
const RIGHT_PATH_OPEN: i64 = 1 << 13;
const RIGHT_PATH_FILESTAT_GET: i64 = 1 << 18;

/// A scratch area: `sandbox/` is given to the guest, `outside/` must stay untouched.
struct World {
    root: PathBuf,
}

impl World {
    fn new(name: &str) -> World {
        let root = std::env::temp_dir().join(format!("ward-sandbox-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("sandbox/sub")).unwrap();
        std::fs::create_dir_all(root.join("outside")).unwrap();
        std::fs::write(root.join("outside/secret.txt"), "secret").unwrap();
        std::fs::write(root.join("sandbox/file.txt"), "inside").unwrap();
        let link = |target: &str, name: &str| {
            std::os::unix::fs::symlink(target, root.join("sandbox").join(name)).unwrap()
        };
        link("/etc/passwd", "passwd");
        link("../outside/secret.txt", "up_file");
        link("../outside", "up_dir");
        link("../../outside/secret.txt", "sub/up_twice");
        link(root.join("outside").to_str().unwrap(), "abs_dir");
        link("file.txt", "ok_link");
        World { root }
    }

    fn sandbox(&self) -> PathBuf {
        self.root.join("sandbox")
    }

    /// Names and contents of everything in `outside/`, to compare before and after.
    fn outside_snapshot(&self) -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(self.root.join("outside"))
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let data = std::fs::read(e.path()).unwrap_or_default();
                (e.file_name().to_string_lossy().into_owned(), data)
            })
            .collect();
        v.sort();
        v
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

struct Guest {
    store: Store<WasiCtx>,
    instance: Instance,
}

fn errno(code: i32) -> Result<(), Errno> {
    if code == 0 {
        return Ok(());
    }
    let all = [
        Errno::Acces,
        Errno::Badf,
        Errno::Exist,
        Errno::Fault,
        Errno::Ilseq,
        Errno::Inval,
        Errno::IsDir,
        Errno::Loop,
        Errno::NoEnt,
        Errno::NotDir,
        Errno::NotEmpty,
        Errno::NotCapable,
        Errno::Perm,
        Errno::Xdev,
    ];
    Err(all.into_iter().find(|e| e.raw() as i32 == code).unwrap_or_else(|| panic!("errno {code}")))
}

impl Guest {
    fn new(ctx: WasiCtx) -> Guest {
        let engine = Engine::default();
        let module = Module::new(&engine, GUEST).unwrap();
        let mut linker: Linker<WasiCtx> = Linker::new(&engine);
        ward_wasi::add_to_linker(&mut linker, |c: &mut WasiCtx| c).unwrap();
        let mut store = Store::new(&engine, ctx);
        let instance = linker.instantiate(&mut store, &module).unwrap();
        Guest { store, instance }
    }

    fn with_sandbox(world: &World) -> Guest {
        let mut b = WasiCtxBuilder::new();
        b.preopened_dir_path(world.sandbox(), "/").unwrap();
        Guest::new(b.build())
    }

    fn put(&mut self, at: i32, bytes: &[u8]) -> (i32, i32) {
        let mem = self.instance.get_memory(&mut self.store, "memory").unwrap();
        mem.write(&mut self.store, at as usize, bytes).unwrap();
        (at, bytes.len() as i32)
    }

    fn read_u32(&mut self, at: i32) -> u32 {
        let mem = self.instance.get_memory(&mut self.store, "memory").unwrap();
        let mut b = [0u8; 4];
        mem.read(&self.store, at as usize, &mut b).unwrap();
        u32::from_le_bytes(b)
    }

    fn call<P: ward::WasmParams>(&mut self, name: &str, params: P) -> Result<(), Errno> {
        let f = self.instance.get_typed_func::<P, i32>(&mut self.store, name).unwrap();
        errno(f.call(&mut self.store, params).expect("no trap"))
    }

    fn open_with(
        &mut self,
        lookup: i32,
        path: &str,
        oflags: i32,
        rights: i64,
    ) -> Result<u32, Errno> {
        let (p, l) = self.put(PATH_A, path.as_bytes());
        self.call("open", (PRE, lookup, p, l, oflags, rights, OUT))?;
        Ok(self.read_u32(OUT))
    }

    fn open(&mut self, path: &str) -> Result<u32, Errno> {
        self.open_with(LOOKUP_FOLLOW, path, 0, RIGHT_FD_READ)
    }

    fn path_call(&mut self, name: &str, path: &str) -> Result<(), Errno> {
        let (p, l) = self.put(PATH_A, path.as_bytes());
        self.call(name, (PRE, p, l))
    }

    fn two_paths(&mut self, name: &str, from: &str, to: &str) -> Result<(), Errno> {
        let (a, al) = self.put(PATH_A, from.as_bytes());
        let (b, bl) = self.put(PATH_B, to.as_bytes());
        match name {
            "link" => self.call("link", (PRE, 0, a, al, PRE, b, bl)),
            "link_follow" => self.call("link", (PRE, LOOKUP_FOLLOW, a, al, PRE, b, bl)),
            "rename" => self.call("rename", (PRE, a, al, PRE, b, bl)),
            "symlink" => self.call("symlink", (a, al, PRE, b, bl)),
            _ => unreachable!(),
        }
    }

    /// Reads up to 64 bytes from `fd`.
    fn read_fd(&mut self, fd: u32) -> Result<Vec<u8>, Errno> {
        let iov = [BUF.to_le_bytes(), 64i32.to_le_bytes()].concat();
        self.put(128, &iov);
        self.call("read", (fd as i32, 128, 1, OUT))?;
        let n = self.read_u32(OUT) as usize;
        let mem = self.instance.get_memory(&mut self.store, "memory").unwrap();
        let mut data = vec![0u8; n];
        mem.read(&self.store, BUF as usize, &mut data).unwrap();
        Ok(data)
    }
}

#[test]
fn reading_inside_the_sandbox_works() {
    let w = World::new("inside");
    let mut g = Guest::with_sandbox(&w);
    let fd = g.open("file.txt").unwrap();
    assert_eq!(g.read_fd(fd).unwrap(), b"inside");
    let fd = g.open("ok_link").unwrap();
    assert_eq!(g.read_fd(fd).unwrap(), b"inside");
    let fd = g.open("sub/../file.txt").unwrap();
    assert_eq!(g.read_fd(fd).unwrap(), b"inside");
}

#[test]
fn dot_dot_cannot_leave_the_preopen() {
    let w = World::new("dotdot");
    let before = w.outside_snapshot();
    let mut g = Guest::with_sandbox(&w);
    assert_eq!(g.open("../outside/secret.txt"), Err(Errno::NotCapable));
    assert_eq!(g.open(".."), Err(Errno::NotCapable));
    assert_eq!(g.open("sub/../../outside/secret.txt"), Err(Errno::NotCapable));
    assert_eq!(g.open_with(0, "../outside/new.txt", O_CREAT, 0), Err(Errno::NotCapable));
    assert_eq!(g.path_call("mkdir", "../outside/newdir"), Err(Errno::NotCapable));
    assert_eq!(g.path_call("unlink", "../outside/secret.txt"), Err(Errno::NotCapable));
    assert_eq!(g.path_call("rmdir", "../outside"), Err(Errno::NotCapable));
    let (p, l) = g.put(PATH_A, b"../outside/secret.txt");
    assert_eq!(g.call("stat", (PRE, 0, p, l, OUT)), Err(Errno::NotCapable));
    assert_eq!(g.call("set_times", (PRE, 0, p, l, 0i64, 0i64, 4)), Err(Errno::NotCapable));
    assert_eq!(w.outside_snapshot(), before);
}

#[test]
fn absolute_paths_are_refused() {
    let w = World::new("absolute");
    let mut g = Guest::with_sandbox(&w);
    assert_eq!(g.open("/etc/passwd"), Err(Errno::NotCapable));
    let outside = w.root.join("outside/secret.txt");
    assert_eq!(g.open(outside.to_str().unwrap()), Err(Errno::NotCapable));
    assert_eq!(g.path_call("mkdir", "/tmp/ward-escape"), Err(Errno::NotCapable));
    assert!(!Path::new("/tmp/ward-escape").exists());
}

#[test]
fn symlinks_cannot_lead_out() {
    let w = World::new("symlinks");
    let before = w.outside_snapshot();
    let mut g = Guest::with_sandbox(&w);
    // Followed symlinks to absolute and to relative targets outside the preopen.
    assert_eq!(g.open("passwd"), Err(Errno::NotCapable));
    assert_eq!(g.open("up_file"), Err(Errno::NotCapable));
    assert_eq!(g.open("up_dir/secret.txt"), Err(Errno::NotCapable));
    assert_eq!(g.open("sub/up_twice"), Err(Errno::NotCapable));
    assert_eq!(g.open("abs_dir/secret.txt"), Err(Errno::NotCapable));
    assert_eq!(g.open_with(LOOKUP_FOLLOW, "up_dir", O_DIRECTORY, 0), Err(Errno::NotCapable));
    // Writing through a symlink that points out.
    assert_eq!(g.open_with(LOOKUP_FOLLOW, "up_dir/new.txt", O_CREAT, 0), Err(Errno::NotCapable));
    assert_eq!(g.path_call("mkdir", "up_dir/newdir"), Err(Errno::NotCapable));
    assert_eq!(g.path_call("unlink", "up_dir/secret.txt"), Err(Errno::NotCapable));
    // Not following the last component: the link itself is what is opened, and O_NOFOLLOW
    // refuses it.
    assert_eq!(g.open_with(0, "passwd", 0, RIGHT_FD_READ), Err(Errno::Loop));
    // Stat through a link out is refused; stat of the link itself is fine (it is inside).
    let (p, l) = g.put(PATH_A, b"passwd");
    assert_eq!(g.call("stat", (PRE, LOOKUP_FOLLOW, p, l, OUT)), Err(Errno::NotCapable));
    assert_eq!(g.call("stat", (PRE, 0, p, l, OUT)), Ok(()));
    // Reading a link's text is not following it.
    assert_eq!(g.call("readlink", (PRE, p, l, BUF, 64, OUT)), Ok(()));
    assert_eq!(g.read_u32(OUT), "/etc/passwd".len() as u32);
    // Setting times through a link out is refused.
    let (p, l) = g.put(PATH_A, b"up_file");
    assert_eq!(
        g.call("set_times", (PRE, LOOKUP_FOLLOW, p, l, 0i64, 0i64, 4)),
        Err(Errno::NotCapable)
    );
    assert_eq!(w.outside_snapshot(), before);
}

#[test]
fn creating_links_out_is_refused() {
    let w = World::new("links");
    let before = w.outside_snapshot();
    let mut g = Guest::with_sandbox(&w);
    // A hard link whose new name is outside.
    assert_eq!(g.two_paths("link", "file.txt", "../outside/hard"), Err(Errno::NotCapable));
    // A hard link to a file outside (reached by `..` or through a symlink).
    assert_eq!(g.two_paths("link", "../outside/secret.txt", "stolen"), Err(Errno::NotCapable));
    assert_eq!(g.two_paths("link", "up_dir/secret.txt", "stolen"), Err(Errno::NotCapable));
    assert_eq!(g.two_paths("link_follow", "up_file", "stolen"), Err(Errno::NotCapable));
    assert!(!w.sandbox().join("stolen").exists());
    // A symlink with an absolute target is never created.
    assert_eq!(g.two_paths("symlink", "/etc/passwd", "new_abs"), Err(Errno::NotCapable));
    assert!(std::fs::symlink_metadata(w.sandbox().join("new_abs")).is_err());
    // A symlink whose own name is outside.
    assert_eq!(g.two_paths("symlink", "file.txt", "../outside/ln"), Err(Errno::NotCapable));
    // A relative symlink whose text leads out is not created either (a host tool reading the
    // sandbox later would follow it); see `planted_symlinks_may_not_point_out`.
    assert_eq!(g.two_paths("symlink", "../outside/secret.txt", "new_up"), Err(Errno::NotCapable));
    assert!(std::fs::symlink_metadata(w.sandbox().join("new_up")).is_err());
    assert_eq!(w.outside_snapshot(), before);
}

/// A guest plants `a/report.txt -> ../../../etc/passwd` for a host tool that later reads the
/// sandbox: refused, whatever route the guest takes to place the link. Targets are read
/// lexically from the link's own directory; ones that stay beneath the preopen are fine.
#[test]
fn planted_symlinks_may_not_point_out() {
    let w = World::new("plant");
    let before = w.outside_snapshot();
    let mut g = Guest::with_sandbox(&w);
    assert_eq!(g.path_call("mkdir", "a"), Ok(()));
    assert_eq!(g.path_call("mkdir", "b"), Ok(()));
    let refused = [
        ("../../../etc/passwd", "a/report.txt"),
        ("../../outside/secret.txt", "a/r2"),
        ("..", "l1"),
        ("../sandbox", "l2"),
        ("a/../../outside", "l3"),
        ("./../outside", "sub/../l4"),
        // Through a directory symlink: the link lands in `sub`, one level down, for real.
        ("../../x", "ok_dir/l5"),
    ];
    std::os::unix::fs::symlink("sub", w.sandbox().join("ok_dir")).unwrap();
    for (target, link) in refused {
        assert_eq!(g.two_paths("symlink", target, link), Err(Errno::NotCapable), "{link}");
        assert!(std::fs::symlink_metadata(w.sandbox().join(link)).is_err(), "{link} exists");
    }
    // Links that stay beneath the preopen, however they climb, are made as asked.
    for (target, link) in
        [("../b", "a/x"), ("..", "a/top"), ("b/../a", "y"), ("../file.txt", "ok_dir/f")]
    {
        assert_eq!(g.two_paths("symlink", target, link), Ok(()), "{link}");
        let made = std::fs::read_link(w.sandbox().join(link)).unwrap();
        assert_eq!(made.to_str(), Some(target));
    }
    // Moving a harmless link to where its text would lead out is refused too, by rename or by
    // hard link; moving it where it still points inside is fine.
    assert_eq!(g.two_paths("rename", "a/x", "x"), Err(Errno::NotCapable));
    assert_eq!(g.two_paths("link", "a/x", "x"), Err(Errno::NotCapable));
    assert_eq!(g.two_paths("rename", "a/x", "b/x"), Ok(()));
    assert_eq!(w.outside_snapshot(), before);
}

#[test]
fn renaming_out_or_in_is_refused() {
    let w = World::new("rename");
    let before = w.outside_snapshot();
    let mut g = Guest::with_sandbox(&w);
    assert_eq!(g.two_paths("rename", "file.txt", "../outside/moved"), Err(Errno::NotCapable));
    assert_eq!(g.two_paths("rename", "../outside/secret.txt", "got"), Err(Errno::NotCapable));
    assert_eq!(g.two_paths("rename", "file.txt", "up_dir/moved"), Err(Errno::NotCapable));
    assert_eq!(g.two_paths("rename", "sub", "/tmp/ward-moved"), Err(Errno::NotCapable));
    assert!(w.sandbox().join("file.txt").exists());
    assert!(!w.sandbox().join("got").exists());
    // Renaming a symlink moves the link, not its target; one whose text leads out (here put
    // there by the host) cannot be placed anywhere by the guest.
    assert_eq!(g.two_paths("rename", "ok_link", "ok_link2"), Ok(()));
    assert_eq!(
        std::fs::read_link(w.sandbox().join("ok_link2")).unwrap().to_str(),
        Some("file.txt")
    );
    assert_eq!(g.two_paths("rename", "up_dir", "up_dir2"), Err(Errno::NotCapable));
    assert_eq!(w.outside_snapshot(), before);
}

#[test]
fn bad_pointers_are_efault_not_a_crash() {
    let w = World::new("pointers");
    let mut g = Guest::with_sandbox(&w);
    let end: i32 = 65536;
    // A path running off the end of memory.
    assert_eq!(g.call("mkdir", (PRE, end - 2, 10)), Err(Errno::Fault));
    assert_eq!(g.call("mkdir", (PRE, -1, 10)), Err(Errno::Fault));
    // An iovec whose buffer runs off the end, and an iovec array off the end.
    let iov = [(end - 4).to_le_bytes(), 100i32.to_le_bytes()].concat();
    let (p, _) = g.put(128, &iov);
    assert_eq!(g.call("write", (1, p, 1, OUT)), Err(Errno::Fault));
    assert_eq!(g.call("write", (1, end - 4, 1, OUT)), Err(Errno::Fault));
    assert_eq!(g.call("write", (1, 0, i32::MAX, OUT)), Err(Errno::Fault));
    // A result pointer off the end: the file must not be opened (and leaked) anyway.
    let (p, l) = g.put(PATH_A, b"file.txt");
    assert_eq!(g.call("open", (PRE, 0, p, l, 0, RIGHT_FD_READ, end)), Err(Errno::Fault));
    assert_eq!(g.call("prestat", (4, OUT)), Err(Errno::Badf));
    // Paths must be UTF-8 without NUL.
    let (p, l) = g.put(PATH_A, b"fi\xffle");
    assert_eq!(g.call("mkdir", (PRE, p, l)), Err(Errno::Ilseq));
    let (p, l) = g.put(PATH_A, b"file.txt\0");
    assert_eq!(g.call("mkdir", (PRE, p, l)), Err(Errno::Inval));
}

#[test]
fn rights_limit_what_a_descriptor_can_do() {
    let w = World::new("rights");
    let mut g = Guest::with_sandbox(&w);
    // A file opened for reading only cannot be written.
    let fd = g.open("file.txt").unwrap();
    let iov = [BUF.to_le_bytes(), 4i32.to_le_bytes()].concat();
    g.put(128, &iov);
    assert_eq!(g.call("write", (fd as i32, 128, 1, OUT)), Err(Errno::NotCapable));
    // Rights can be dropped but never regained.
    assert_eq!(g.call("set_rights", (PRE, RIGHT_PATH_FILESTAT_GET, 0i64)), Ok(()));
    assert_eq!(g.open("file.txt"), Err(Errno::NotCapable));
    assert_eq!(g.call("set_rights", (PRE, RIGHT_PATH_OPEN, 0i64)), Err(Errno::NotCapable));
    assert_eq!(std::fs::read(w.sandbox().join("file.txt")).unwrap(), b"inside");
}

#[test]
fn nothing_is_granted_by_default() {
    let mut g = Guest::new(WasiCtxBuilder::new().build());
    // No preopened directory: descriptor 3 does not exist.
    assert_eq!(g.call("prestat", (3, OUT)), Err(Errno::Badf));
    assert_eq!(g.open("etc/passwd"), Err(Errno::Badf));
    // No environment variables, no arguments.
    assert_eq!(g.call("env_sizes", (OUT, OUT + 4)), Ok(()));
    assert_eq!(g.read_u32(OUT), 0);
    assert_eq!(g.read_u32(OUT + 4), 0);
    // Output goes nowhere unless captured: writing to stdout succeeds silently.
    let iov = [BUF.to_le_bytes(), 4i32.to_le_bytes()].concat();
    g.put(128, &iov);
    assert_eq!(g.call("write", (1, 128, 1, OUT)), Ok(()));
    // Stdin is empty.
    assert_eq!(g.read_fd(0), Ok(vec![]));
}

#[test]
fn captured_output_and_given_input() {
    let out = OutputPipe::new();
    let mut b = WasiCtxBuilder::new();
    b.stdout(out.clone()).stdin_bytes("abc").arg("prog");
    let mut g = Guest::new(b.build());
    g.put(BUF, b"hey!");
    let iov = [BUF.to_le_bytes(), 4i32.to_le_bytes()].concat();
    g.put(128, &iov);
    assert_eq!(g.call("write", (1, 128, 1, OUT)), Ok(()));
    assert_eq!(out.contents(), b"hey!");
    assert_eq!(g.read_fd(0), Ok(b"abc".to_vec()));
    assert_eq!(g.call("args_get", (OUT, BUF)), Ok(()));
}
