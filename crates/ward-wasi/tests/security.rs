//! Regression tests for the WASI findings of the security review (issue 8) and the WASI
//! logging of issue 13, each written as the attack: a guest module (WAT) driven through Ward's
//! embedding API, with the clean outcome the guest must get instead.
//!
//! A counting global allocator records the largest single allocation made on the test's
//! thread, so the tests can assert that no host allocation is sized by what the guest asks.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{TcpListener, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use ward::{Engine, Instance, Linker, Memory, Module, Store, Val};
use ward_wasi::{DirAccess, Errno, OutputPipe, WasiCtx, WasiCtxBuilder};

// ---------------------------------------------------------------------------------------------
// Allocation accounting

struct Counting;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|c| c.set(c.get().max(size)));
}

// SAFETY: every method forwards to the system allocator with the caller's arguments unchanged;
// `note` only updates a thread-local counter and does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: forwarded as is; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: forwarded as is; the caller upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: forwarded as is; the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is; `ptr` came from this allocator, i.e. from `System`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns its result with the largest single allocation it made on this thread.
fn largest_allocation<R>(f: impl FnOnce() -> R) -> (R, usize) {
    LARGEST.with(|c| c.set(0));
    let r = f();
    (r, LARGEST.with(Cell::get))
}

// ---------------------------------------------------------------------------------------------
// The guest: one export per WASI import, forwarding its arguments.

/// `(name, parameter types)` of the WASI functions the tests call; all return an errno.
const CALLS: &[(&str, &str)] = &[
    ("fd_close", "i32"),
    ("fd_write", "i32 i32 i32 i32"),
    ("fd_read", "i32 i32 i32 i32"),
    ("fd_pwrite", "i32 i32 i32 i64 i32"),
    ("fd_renumber", "i32 i32"),
    ("fd_fdstat_get", "i32 i32"),
    ("fd_fdstat_set_rights", "i32 i64 i64"),
    ("fd_prestat_get", "i32 i32"),
    ("fd_filestat_set_size", "i32 i64"),
    ("fd_filestat_set_times", "i32 i64 i64 i32"),
    ("fd_allocate", "i32 i64 i64"),
    ("path_open", "i32 i32 i32 i32 i32 i64 i64 i32 i32"),
    ("path_create_directory", "i32 i32 i32"),
    ("path_remove_directory", "i32 i32 i32"),
    ("path_unlink_file", "i32 i32 i32"),
    ("path_rename", "i32 i32 i32 i32 i32 i32"),
    ("path_link", "i32 i32 i32 i32 i32 i32 i32"),
    ("path_symlink", "i32 i32 i32 i32 i32"),
    ("path_filestat_set_times", "i32 i32 i32 i32 i64 i64 i32"),
    ("poll_oneoff", "i32 i32 i32 i32"),
    ("sock_accept", "i32 i32 i32"),
    ("sock_send", "i32 i32 i32 i32 i32"),
];

/// The guest module with memory declaration `memory` (e.g. `1` or `i64 65537`).
fn guest_wat(memory: &str) -> String {
    let mut wat = String::from("(module\n");
    for (name, params) in CALLS {
        wat += &format!(
            "  (import \"wasi_snapshot_preview1\" \"{name}\" \
             (func ${name} (param {params}) (result i32)))\n"
        );
    }
    wat += &format!("  (memory (export \"memory\") {memory})\n");
    for (name, params) in CALLS {
        let gets: String =
            (0..params.split(' ').count()).map(|i| format!(" (local.get {i})")).collect();
        wat += &format!(
            "  (func (export \"{name}\") (param {params}) (result i32) (call ${name}{gets}))\n"
        );
    }
    wat + ")"
}

/// The store's data: the WASI context, and a switch that makes the embedder's accessor panic
/// on its `panic_at`-th use (0: never).
struct State {
    wasi: WasiCtx,
    gets: u32,
    panic_at: u32,
}

fn get_ctx(s: &mut State) -> &mut WasiCtx {
    s.gets += 1;
    if s.gets == s.panic_at {
        panic!("the embedder's accessor panicked (on purpose)");
    }
    &mut s.wasi
}

struct Guest {
    store: Store<State>,
    instance: Instance,
    memory: Memory,
}

/// Where the tests put things in guest memory.
const OUT: u64 = 64;
const IOV: u64 = 128;
const PATH: u64 = 1024;
const PATH2: u64 = 2048;
const BUF: u64 = 4096;

impl Guest {
    fn new(ctx: WasiCtx) -> Guest {
        Guest::with_memory(ctx, "1")
    }

    fn with_memory(ctx: WasiCtx, memory: &str) -> Guest {
        // A small interpreter stack, so that the one allocation each call makes for it stays
        // below what the tests measure.
        let mut config = ward::Config::new();
        config.max_wasm_stack(16 << 10);
        let engine = Engine::new(&config);
        let module = Module::new(&engine, guest_wat(memory)).unwrap();
        let mut linker: Linker<State> = Linker::new(&engine);
        ward_wasi::add_to_linker(&mut linker, get_ctx).unwrap();
        let mut store = Store::new(&engine, State { wasi: ctx, gets: 0, panic_at: 0 });
        let instance = linker.instantiate(&mut store, &module).unwrap();
        let memory = instance.get_memory(&mut store, "memory").unwrap();
        Guest { store, instance, memory }
    }

    /// Calls WASI function `name` through the guest; returns the errno.
    fn call(&mut self, name: &str, args: &[Val]) -> Result<(), Errno> {
        let f = self.instance.get_func(&mut self.store, name).unwrap();
        let mut res = [Val::I32(0)];
        f.call(&mut self.store, args, &mut res).unwrap();
        let Val::I32(code) = res[0] else { panic!("{name} returned {:?}", res[0]) };
        match code {
            0 => Ok(()),
            c => Err(errno(c)),
        }
    }

    fn write(&mut self, at: u64, bytes: &[u8]) {
        self.memory.write(&mut self.store, at as usize, bytes).unwrap();
    }

    fn read(&self, at: u64, len: usize) -> Vec<u8> {
        let mut buf = vec![0u8; len];
        self.memory.read(&self.store, at as usize, &mut buf).unwrap();
        buf
    }

    fn u32_at(&self, at: u64) -> u32 {
        u32::from_le_bytes(self.read(at, 4).try_into().unwrap())
    }

    fn u64_at(&self, at: u64) -> u64 {
        u64::from_le_bytes(self.read(at, 8).try_into().unwrap())
    }

    /// Writes one ciovec `(buf, len)` at `at`.
    fn iovec(&mut self, at: u64, buf: u32, len: u32) {
        self.write(at, &buf.to_le_bytes());
        self.write(at + 4, &len.to_le_bytes());
    }

    /// Writes `data` at [`BUF`] and calls `fd_write(fd, [BUF..])`; returns bytes written.
    fn fd_write(&mut self, fd: i32, data: &[u8]) -> Result<u32, Errno> {
        self.write(BUF, data);
        self.iovec(IOV, BUF as u32, data.len() as u32);
        self.call("fd_write", &[i(fd), i(IOV as i32), i(1), i(OUT as i32)])?;
        Ok(self.u32_at(OUT))
    }

    /// Opens `path` beneath directory `dir` with `oflags` and `rights` (inheriting the same).
    fn open(&mut self, dir: i32, path: &str, oflags: i32, rights: i64) -> Result<i32, Errno> {
        self.write(PATH, path.as_bytes());
        let args = [
            i(dir),
            i(0),
            i(PATH as i32),
            i(path.len() as i32),
            i(oflags),
            Val::I64(rights),
            Val::I64(rights),
            i(0),
            i(OUT as i32),
        ];
        self.call("path_open", &args)?;
        Ok(self.u32_at(OUT) as i32)
    }

    /// Calls a `path_*` function taking `(fd, path, path_len)`.
    fn path_call(&mut self, name: &str, dir: i32, path: &str) -> Result<(), Errno> {
        self.write(PATH, path.as_bytes());
        self.call(name, &[i(dir), i(PATH as i32), i(path.len() as i32)])
    }

    /// `path_symlink(target, dir, link)`.
    fn symlink(&mut self, target: &str, dir: i32, link: &str) -> Result<(), Errno> {
        self.write(PATH, target.as_bytes());
        self.write(PATH2, link.as_bytes());
        let (tl, ll) = (target.len() as i32, link.len() as i32);
        self.call("path_symlink", &[i(PATH as i32), i(tl), i(dir), i(PATH2 as i32), i(ll)])
    }

    /// A call with two paths: `path_rename(dir, a, dir, b)` or `path_link(dir, 0, a, dir, b)`.
    fn two_paths(&mut self, name: &str, dir: i32, a: &str, b: &str) -> Result<(), Errno> {
        self.write(PATH, a.as_bytes());
        self.write(PATH2, b.as_bytes());
        let (pa, la, pb, lb) = (PATH as i32, a.len() as i32, PATH2 as i32, b.len() as i32);
        match name {
            "path_rename" => self.call(name, &[i(dir), i(pa), i(la), i(dir), i(pb), i(lb)]),
            _ => self.call(name, &[i(dir), i(0), i(pa), i(la), i(dir), i(pb), i(lb)]),
        }
    }
}

fn i(v: i32) -> Val {
    Val::I32(v)
}

/// The [`Errno`] with ABI value `code`.
fn errno(code: i32) -> Errno {
    let all = [
        Errno::Badf,
        Errno::Fault,
        Errno::Inval,
        Errno::NoSpc,
        Errno::NotCapable,
        Errno::NameTooLong,
        Errno::NoEnt,
        Errno::Exist,
        Errno::IsDir,
        Errno::Perm,
        Errno::Acces,
        Errno::Rofs,
        Errno::NotDir,
        Errno::Overflow,
    ];
    all.into_iter().find(|e| e.raw() as i32 == code).unwrap_or_else(|| panic!("errno {code}"))
}

const O_CREAT: i32 = 1;
const O_DIRECTORY: i32 = 2;
const O_TRUNC: i32 = 8;
const FD_READ: i64 = 1 << 1;
const FD_WRITE: i64 = 1 << 6;
const ALL_RIGHTS: i64 = (1 << 30) - 1;
/// Every right but those that need a file open for writing (asking them of a directory is
/// EISDIR).
const DIR_RIGHTS: i64 = ALL_RIGHTS & !(FD_WRITE | 1 << 8 | 1 << 22);
const PRE: i32 = 3;

/// Names and contents of every file beneath `dir`, to compare before and after an attack.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let meta = std::fs::symlink_metadata(&p).unwrap();
        if meta.is_dir() {
            for (n, c) in snapshot(&p) {
                out.push((format!("{name}/{n}"), c));
            }
            out.push((format!("{name}/"), Vec::new()));
        } else if meta.is_symlink() {
            out.push((name, std::fs::read_link(&p).unwrap().into_os_string().into_encoded_bytes()));
        } else {
            let mtime = meta.modified().unwrap();
            let mut c = std::fs::read(&p).unwrap();
            c.extend_from_slice(format!("@{mtime:?}").as_bytes());
            out.push((name, c));
        }
    }
    out.sort();
    out
}

/// A guest holding `dir` as descriptor 3, its stdout captured in the returned pipe.
fn guest_with_dir(dir: &Path) -> (Guest, OutputPipe) {
    let out = OutputPipe::new();
    let ctx =
        WasiCtxBuilder::new().stdout(out.clone()).preopened_dir_path(dir, "/").unwrap().build();
    (Guest::new(ctx), out)
}

// ---------------------------------------------------------------------------------------------
// 1. Descriptor allocation never reuses the standard streams' numbers.

#[test]
fn a_file_opened_after_closing_stdout_does_not_become_stdout() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut g, out) = guest_with_dir(tmp.path());
    // The attack, as Yosys does it: close stdout, open a file, keep writing "to stdout".
    g.call("fd_close", &[i(1)]).unwrap();
    let fd = g.open(PRE, "top.json", O_CREAT, FD_READ | FD_WRITE).unwrap();
    assert!(fd > PRE, "the new file got descriptor {fd}");
    assert_eq!(g.fd_write(1, b"log line\n"), Err(Errno::Badf));
    assert_eq!(g.fd_write(fd, b"{}"), Ok(2));
    assert_eq!(std::fs::read(tmp.path().join("top.json")).unwrap(), b"{}");
    // Closing everything but the file still never hands out 0-2.
    g.call("fd_close", &[i(0)]).unwrap();
    g.call("fd_close", &[i(2)]).unwrap();
    let fd2 = g.open(PRE, "other", O_CREAT, FD_WRITE).unwrap();
    assert!(fd2 > PRE && fd2 != fd, "{fd2}");
    // Moving a descriptor onto a standard stream's number is explicit: fd_renumber onto an
    // open descriptor (here a reopened file at a number the guest chose).
    assert_eq!(g.call("fd_renumber", &[i(fd), i(1)]), Err(Errno::Badf));
    g.call("fd_renumber", &[i(fd), i(fd2)]).unwrap();
    assert_eq!(g.fd_write(fd2, b"!"), Ok(1));
    assert_eq!(std::fs::read(tmp.path().join("top.json")).unwrap(), b"{}!");
    assert!(out.contents().is_empty());
}

#[test]
fn fd_renumber_onto_an_open_standard_stream_still_works() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut g, out) = guest_with_dir(tmp.path());
    let fd = g.open(PRE, "log", O_CREAT, FD_WRITE).unwrap();
    g.call("fd_renumber", &[i(fd), i(1)]).unwrap();
    assert_eq!(g.fd_write(1, b"to the file"), Ok(11));
    assert_eq!(std::fs::read(tmp.path().join("log")).unwrap(), b"to the file");
    assert!(out.contents().is_empty());
}

// ---------------------------------------------------------------------------------------------
// 2. Host allocations sized by the guest are bounded before they are made.

/// 100 000 iovecs over the same 16 MiB ask `sock_send` to send 1.6 TB.
#[test]
fn sock_send_of_100_000_iovecs_over_16_mib_does_not_allocate_their_sum() {
    const MIB16: u32 = 16 << 20;
    const COUNT: u32 = 100_000;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let ctx = WasiCtxBuilder::new().preopened_listener(listener).build();
    // 16 MiB of data at 64 KiB, then the iovec table (800 000 bytes).
    let mut g = Guest::with_memory(ctx, "280");
    let data = 65536u32;
    let table = u64::from(data + MIB16);
    let mut entry = [0u8; 8];
    entry[..4].copy_from_slice(&data.to_le_bytes());
    entry[4..].copy_from_slice(&MIB16.to_le_bytes());
    let bytes: Vec<u8> = entry.iter().copied().cycle().take(COUNT as usize * 8).collect();
    g.write(table, &bytes);
    g.write(data.into(), &vec![b'x'; MIB16 as usize]);

    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let mut c = TcpStream::connect(addr).unwrap();
        let mut all = Vec::new();
        c.read_to_end(&mut all).unwrap();
        all
    });
    // Accept non-blocking, so the send takes what the socket buffer holds and returns.
    g.call("sock_accept", &[i(3), i(4), i(OUT as i32)]).unwrap();
    let conn = g.u32_at(OUT) as i32;
    let (r, largest) = largest_allocation(|| {
        g.call("sock_send", &[i(conn), i(table as i32), i(COUNT as i32), i(0), i(OUT as i32)])
    });
    r.unwrap();
    let sent = g.u32_at(OUT) as usize;
    assert!(sent > 0, "nothing sent");
    assert!(largest < 1 << 20, "sock_send allocated {largest} bytes at once");
    drop(g);
    let got = reader.join().unwrap();
    assert_eq!(got.len(), sent);
    assert!(got.iter().all(|b| *b == b'x'));
}

/// A million empty iovecs: nothing on the host is sized by their count.
#[test]
fn fd_write_and_fd_read_of_a_million_iovecs_allocate_nothing_per_iovec() {
    const COUNT: i32 = 1_000_000;
    let ctx = WasiCtxBuilder::new().stdin_bytes(b"input".to_vec()).build();
    // The table: 8 MB of zeroed iovecs (buffer 0, length 0) at 64 KiB.
    let mut g = Guest::with_memory(ctx, "200");
    let table = 65536;
    for (fd, call) in [(1, "fd_write"), (0, "fd_read")] {
        let (r, largest) =
            largest_allocation(|| g.call(call, &[i(fd), i(table), i(COUNT), i(OUT as i32)]));
        r.unwrap();
        assert_eq!(g.u32_at(OUT), 0);
        assert!(largest < 64 << 10, "{call} allocated {largest} bytes at once");
    }
    // The last iovec is honoured: the stream is read into it.
    g.iovec(table as u64 + (COUNT as u64 - 1) * 8, BUF as u32, 16);
    g.call("fd_read", &[i(0), i(table), i(COUNT), i(OUT as i32)]).unwrap();
    assert_eq!(g.read(BUF, g.u32_at(OUT) as usize), b"input");
}

/// Two million subscriptions: refused before the host decodes (and stores) them.
#[test]
fn poll_oneoff_with_millions_of_subscriptions_is_refused_without_allocating() {
    const COUNT: i32 = 2_000_000;
    let mut g = Guest::with_memory(WasiCtxBuilder::new().build(), "2600");
    // Input: 2M zeroed subscriptions (relative realtime clocks, timeout 0) at 64 KiB; output
    // after them.
    let input = 65536;
    let output = input + COUNT * 48;
    let (r, largest) = largest_allocation(|| {
        g.call("poll_oneoff", &[i(input), i(output), i(COUNT), i(OUT as i32)])
    });
    assert_eq!(r, Err(Errno::Inval));
    assert!(largest < 64 << 10, "poll_oneoff allocated {largest} bytes at once");
    // A reasonable number is served.
    g.call("poll_oneoff", &[i(input), i(output), i(3), i(OUT as i32)]).unwrap();
    assert_eq!(g.u32_at(OUT), 3);
}

/// A 16 MiB path is not copied to the host: it is too long before it is read.
#[test]
fn a_16_mib_path_is_too_long_without_being_copied() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = WasiCtxBuilder::new().preopened_dir_path(tmp.path(), "/").unwrap().build();
    let mut g = Guest::with_memory(ctx, "300");
    let len = 16 << 20;
    g.write(65536, &vec![b'a'; len]);
    let args = |oflags: i32| {
        [
            i(PRE),
            i(0),
            i(65536),
            i(len as i32),
            i(oflags),
            Val::I64(0),
            Val::I64(0),
            i(0),
            i(OUT as i32),
        ]
    };
    let (r, largest) = largest_allocation(|| g.call("path_open", &args(O_CREAT)));
    assert_eq!(r, Err(Errno::NameTooLong));
    assert!(largest < 64 << 10, "path_open allocated {largest} bytes at once");
    let (r, largest) = largest_allocation(|| {
        g.call("path_symlink", &[i(65536), i(len as i32), i(PRE), i(PATH as i32), i(1)])
    });
    assert_eq!(r, Err(Errno::NameTooLong));
    assert!(largest < 64 << 10, "path_symlink allocated {largest} bytes at once");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

// ---------------------------------------------------------------------------------------------
// 3. A 64-bit memory above 4 GiB.

#[test]
fn a_64_bit_memory_above_4_gib_works_with_wasi() {
    const FOUR_GIB: u64 = 1 << 32;
    let out = OutputPipe::new();
    let ctx = WasiCtxBuilder::new().stdout(out.clone()).build();
    // 4 GiB + 64 KiB: reserved, and committed only where touched.
    let mut g = Guest::with_memory(ctx, "i64 65537");
    // An iovec array that straddles 4 GiB: its second entry lies above it.
    let table = FOUR_GIB - 8;
    g.iovec(table, BUF as u32, 3);
    g.iovec(FOUR_GIB, BUF as u32 + 16, 3);
    g.write(BUF, b"abc");
    g.write(BUF + 16, b"def");
    g.call("fd_write", &[i(1), i(table as u32 as i32), i(2), i(OUT as i32)]).unwrap();
    assert_eq!(g.u32_at(OUT), 6);
    assert_eq!(out.contents(), b"abcdef");
    // A record that straddles 4 GiB is written where it belongs.
    let at = FOUR_GIB - 16;
    g.call("fd_fdstat_get", &[i(1), i(at as u32 as i32)]).unwrap();
    let inheriting = g.u64_at(at + 16);
    assert_eq!(inheriting, 0, "stdout hands down no rights");
    let base = g.u64_at(at + 8);
    assert_ne!(base & FD_WRITE as u64, 0);
    // Nothing landed at the wrapped-around address.
    assert_eq!(g.read(0, 8), vec![0; 8]);
}

#[test]
fn a_record_past_the_end_of_a_4_gib_memory_is_efault() {
    let mut g = Guest::with_memory(WasiCtxBuilder::new().build(), "i64 65536");
    let at = (1u64 << 32) - 16;
    assert_eq!(g.call("fd_fdstat_get", &[i(1), i(at as u32 as i32)]), Err(Errno::Fault));
    assert_eq!(g.call("fd_write", &[i(1), i(-8), i(2), i(OUT as i32)]), Err(Errno::Fault));
}

// ---------------------------------------------------------------------------------------------
// 5. Capture pipes are bounded.

#[test]
fn an_output_pipe_holds_its_capacity_and_reports_overflow() {
    let out = OutputPipe::with_capacity(1000);
    let mut g = Guest::new(WasiCtxBuilder::new().stdout(out.clone()).build());
    assert_eq!(g.fd_write(1, &[b'a'; 600]), Ok(600));
    assert!(!out.overflowed());
    // A write that does not fit is short...
    assert_eq!(g.fd_write(1, &[b'b'; 600]), Ok(400));
    assert!(out.overflowed());
    // ...and once full, writing fails as on a full disk.
    assert_eq!(g.fd_write(1, b"c"), Err(Errno::NoSpc));
    let got = out.contents();
    assert_eq!(got.len(), 1000);
    assert!(got[..600].iter().all(|b| *b == b'a') && got[600..].iter().all(|b| *b == b'b'));
    // The default is bounded too.
    assert_eq!(OutputPipe::new().capacity(), OutputPipe::DEFAULT_CAPACITY);
}

#[test]
fn a_flood_of_output_stays_within_the_pipe() {
    let out = OutputPipe::with_capacity(64 << 10);
    let mut g = Guest::with_memory(WasiCtxBuilder::new().stdout(out.clone()).build(), "300");
    // 1000 iovecs of 16 MiB each: 16 GB asked for.
    let table = (16 << 20) + 65536;
    for k in 0..1000u64 {
        g.iovec(table + k * 8, 0, 16 << 20);
    }
    let (r, largest) =
        largest_allocation(|| g.call("fd_write", &[i(1), i(table as i32), i(1000), i(OUT as i32)]));
    r.unwrap();
    assert_eq!(g.u32_at(OUT), 64 << 10);
    assert!(largest <= 64 << 10, "allocated {largest} bytes at once");
    assert_eq!(out.contents().len(), 64 << 10);
    assert!(out.overflowed());
}

// ---------------------------------------------------------------------------------------------
// 6. A panic inside a WASI call does not lose the WASI context.

#[test]
fn a_panic_inside_a_wasi_call_keeps_the_context() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("f"), "x").unwrap();
    // Panic at each use of the embedder's accessor in turn: wherever the panic happens, the
    // context must still be there afterwards.
    for panic_at in 1..=4 {
        let (mut g, out) = guest_with_dir(tmp.path());
        let fd = g.open(PRE, "f", 0, FD_READ).unwrap();
        g.store.data_mut().gets = 0;
        g.store.data_mut().panic_at = panic_at;
        let caught = catch_unwind(AssertUnwindSafe(|| {
            for _ in 0..4 {
                let _ = g.fd_write(1, b"hi");
            }
        }));
        assert!(caught.is_err(), "no panic at use {panic_at}");
        g.store.data_mut().panic_at = 0;
        // Everything the guest held is still there: the preopen, the file, stdout.
        g.call("fd_prestat_get", &[i(PRE), i(OUT as i32)]).unwrap();
        g.call("fd_fdstat_get", &[i(fd), i(OUT as i32)]).unwrap();
        assert_eq!(g.fd_write(1, b"after"), Ok(5), "panic at use {panic_at}");
        assert!(out.contents().ends_with(b"after"));
    }
}

// ---------------------------------------------------------------------------------------------
// 7. Every WASI call is traced.

mod trace {
    use std::sync::{Arc, Mutex};
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    /// Collects each event as `target: message field=value ...`.
    #[derive(Clone, Default)]
    pub struct Collect(pub Arc<Mutex<Vec<String>>>);

    struct Line(String);

    impl Visit for Line {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                self.0 = format!("{value:?}{}", self.0);
            } else {
                self.0 += &format!(" {}={value:?}", field.name());
            }
        }
    }

    impl Subscriber for Collect {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut line = Line(String::new());
            event.record(&mut line);
            let target = event.metadata().target();
            self.0.lock().unwrap().push(format!("{target}: {}", line.0));
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }
}

#[test]
fn every_wasi_call_is_traced_with_its_arguments_and_errno() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = WasiCtxBuilder::new().preopened_dir_path(tmp.path(), "/").unwrap().build();
    let mut g = Guest::new(ctx);
    let collect = trace::Collect::default();
    tracing::subscriber::with_default(collect.clone(), || {
        g.fd_write(1, b"hello").unwrap();
        assert_eq!(g.call("fd_close", &[i(99)]), Err(Errno::Badf));
        g.open(PRE, "new.txt", O_CREAT, FD_WRITE).unwrap();
    });
    let lines = collect.0.lock().unwrap().clone();
    let expect = [
        format!("ward_wasi: fd_write fd=1 iovs={IOV} n=1 out={OUT} errno=Success"),
        "ward_wasi: fd_close fd=99 errno=Badf".to_string(),
        "ward_wasi:  path=\"new.txt\"".to_string(),
        format!("ward_wasi: path_open fd=3 lookup=0 p={PATH} pl=7 oflags=1"),
    ];
    for e in &expect {
        assert!(lines.iter().any(|l| l.starts_with(e.as_str())), "no `{e}` in {lines:#?}");
    }
    assert!(lines
        .iter()
        .any(|l| l.starts_with("ward_wasi: path_open") && l.ends_with("errno=Success")));
    // Without a subscriber nothing is recorded (and nothing breaks).
    g.fd_write(1, b"quiet").unwrap();
    assert_eq!(collect.0.lock().unwrap().len(), lines.len());
}

// ---------------------------------------------------------------------------------------------
// 8. Read-only preopens.

#[test]
fn a_read_only_preopen_refuses_every_change() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::write(root.join("f.txt"), "original").unwrap();
    std::fs::create_dir(root.join("d")).unwrap();
    std::fs::write(root.join("d/inner"), "inner").unwrap();
    std::os::unix::fs::symlink("f.txt", root.join("link")).unwrap();
    let before = snapshot(root);

    let ctx = WasiCtxBuilder::new()
        .preopened_dir_path_with(root, "/data", DirAccess::ReadOnly)
        .unwrap()
        .build();
    let mut g = Guest::new(ctx);
    let no = Err(Errno::NotCapable);

    // Reading works.
    let f = g.open(PRE, "f.txt", 0, ALL_RIGHTS).unwrap();
    g.iovec(IOV, BUF as u32, 100);
    g.call("fd_read", &[i(f), i(IOV as i32), i(1), i(OUT as i32)]).unwrap();
    assert_eq!(g.read(BUF, g.u32_at(OUT) as usize), b"original");

    // The file was opened without any right to change it, whatever was asked for...
    g.call("fd_fdstat_get", &[i(f), i(OUT as i32)]).unwrap();
    let base = g.u64_at(OUT + 8) as i64;
    assert_eq!(base & FD_WRITE, 0);
    // ...so every change through it fails, and rights cannot be taken back.
    assert_eq!(g.fd_write(f, b"changed"), no.map(|()| 0));
    g.iovec(IOV, BUF as u32, 7);
    assert_eq!(g.call("fd_pwrite", &[i(f), i(IOV as i32), i(1), Val::I64(0), i(OUT as i32)]), no);
    assert_eq!(g.call("fd_filestat_set_size", &[i(f), Val::I64(0)]), no);
    assert_eq!(g.call("fd_allocate", &[i(f), Val::I64(0), Val::I64(1 << 20)]), no);
    assert_eq!(g.call("fd_filestat_set_times", &[i(f), Val::I64(0), Val::I64(0), i(5)]), no);
    assert_eq!(g.call("fd_fdstat_set_rights", &[i(f), Val::I64(ALL_RIGHTS), Val::I64(0)]), no);
    // The directory itself cannot have its times set either.
    assert_eq!(g.call("fd_filestat_set_times", &[i(PRE), Val::I64(0), Val::I64(0), i(5)]), no);

    // Creating, truncating, removing, renaming, linking, symlinking, setting times: refused.
    assert_eq!(g.open(PRE, "new.txt", O_CREAT, FD_WRITE), no.map(|()| 0));
    assert_eq!(g.open(PRE, "f.txt", O_TRUNC, FD_WRITE), no.map(|()| 0));
    assert_eq!(g.path_call("path_create_directory", PRE, "newdir"), no);
    assert_eq!(g.path_call("path_remove_directory", PRE, "d"), no);
    assert_eq!(g.path_call("path_unlink_file", PRE, "f.txt"), no);
    assert_eq!(g.path_call("path_unlink_file", PRE, "link"), no);
    assert_eq!(g.two_paths("path_rename", PRE, "f.txt", "g.txt"), no);
    assert_eq!(g.two_paths("path_link", PRE, "f.txt", "g.txt"), no);
    assert_eq!(g.symlink("f.txt", PRE, "l2"), no);
    g.write(PATH, b"f.txt");
    let times = [i(PRE), i(0), i(PATH as i32), i(5), Val::I64(0), Val::I64(0), i(5)];
    assert_eq!(g.call("path_filestat_set_times", &times), no);

    // The same through a subdirectory opened from it: read-only all the way down.
    let d = g.open(PRE, "d", O_DIRECTORY, DIR_RIGHTS).unwrap();
    assert_eq!(g.open(d, "new", O_CREAT, FD_WRITE), no.map(|()| 0));
    assert_eq!(g.path_call("path_unlink_file", d, "inner"), no);
    let inner = g.open(d, "inner", 0, ALL_RIGHTS).unwrap();
    assert_eq!(g.fd_write(inner, b"x"), no.map(|()| 0));

    assert_eq!(snapshot(root), before, "the read-only directory changed");
}

#[test]
fn a_read_write_preopen_next_to_a_read_only_one_stays_writable() {
    let ro = tempfile::tempdir().unwrap();
    let rw = tempfile::tempdir().unwrap();
    let ctx = WasiCtxBuilder::new()
        .preopened_dir_path_with(ro.path(), "/ro", DirAccess::ReadOnly)
        .unwrap()
        .preopened_dir_path(rw.path(), "/rw")
        .unwrap()
        .build();
    let mut g = Guest::new(ctx);
    assert_eq!(g.open(3, "x", O_CREAT, FD_WRITE), Err(Errno::NotCapable));
    let fd = g.open(4, "x", O_CREAT, FD_WRITE).unwrap();
    assert_eq!(g.fd_write(fd, b"ok"), Ok(2));
    assert_eq!(std::fs::read(rw.path().join("x")).unwrap(), b"ok");
    assert!(!ro.path().join("x").exists());
}
