//! The compilation cache of `ward run --tier native` against the built `ward`: the second run
//! of a module loads its code instead of compiling it, `-C cache=n` and the interpreter leave
//! the cache alone, and a cache someone else could write into — a world-writable directory, an
//! entry that is group-writable or a symbolic link planted under an entry's name — is never
//! loaded from. A damaged entry is compiled again and replaced. Also `--profile perfmap`.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use support::cli::{stderr, ward};

/// Prints `x = 42` and exits 0.
const PROGRAM: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "x = 42\n")
  (func $compute (export "compute") (result i32)
    (local $i i32) (local $acc i32)
    (loop $l
      (local.set $acc (i32.add (local.get $acc) (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 1000))))
    (local.get $acc))
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 7))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#;

/// A scratch directory holding the program and the cache.
struct Scratch(support::cli::Scratch);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let s = Scratch(support::cli::Scratch::new("cli-cache", name));
        s.0.file("prog.wat", PROGRAM);
        s
    }

    fn module(&self) -> PathBuf {
        self.0.path("prog.wat")
    }

    fn cache(&self) -> PathBuf {
        self.0.path("cache")
    }

    /// `ward run ARGS... prog.wat` with the cache in this scratch directory and the CLI's
    /// debug log on stderr.
    fn run(&self, args: &[&str]) -> Output {
        ward()
            .arg("run")
            .args(args)
            .arg(self.module())
            .env("WARD_CACHE_DIR", self.cache())
            .env("WARD_LOG", "ward_cli=debug")
            .output()
            .expect("run ward")
    }

    fn entries(&self) -> Vec<PathBuf> {
        let Ok(dir) = std::fs::read_dir(self.cache()) else { return Vec::new() };
        let mut v: Vec<PathBuf> = dir.map(|e| e.unwrap().path()).collect();
        v.sort();
        v
    }
}

fn assert_ran(o: &Output) {
    assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "x = 42\n");
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_second_native_run_loads_the_cached_code() {
    let s = Scratch::new("hit");
    let first = s.run(&["--tier", "native"]);
    assert_ran(&first);
    assert!(!stderr(&first).contains("loaded from the compilation cache"), "{}", stderr(&first));
    let entries = s.entries();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(entries[0].extension().is_some_and(|e| e == "cwasm"));
    assert_eq!(mode(&s.cache()), 0o700);
    assert_eq!(mode(&entries[0]), 0o600);
    assert!(std::fs::read(&entries[0]).unwrap().starts_with(b"\0wardaot"));

    let second = s.run(&["--tier", "native"]);
    assert_ran(&second);
    assert!(stderr(&second).contains("loaded from the compilation cache"), "{}", stderr(&second));
    assert_eq!(s.entries(), entries);

    // Settings that shape code make another entry: fuel metering.
    let fuel = s.run(&["--tier", "native", "--fuel", "1000000"]);
    assert_ran(&fuel);
    assert_eq!(s.entries().len(), 2);
}

#[test]
fn no_cache_when_turned_off_or_interpreting() {
    let s = Scratch::new("off");
    assert_ran(&s.run(&["--tier", "native", "-C", "cache=n"]));
    assert_ran(&s.run(&[]));
    assert_ran(&s.run(&["--tier", "interp"]));
    assert!(s.entries().is_empty(), "{:?}", s.entries());
    let o = s.run(&["--tier", "native", "-C", "cache=maybe"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("cache=maybe"), "{}", stderr(&o));
}

/// The attack: another user (here: anyone, the directory is world-writable) plants native
/// code under the name the next run will look up. Ward must not map it.
#[test]
fn a_cache_directory_others_can_write_is_not_used() {
    let s = Scratch::new("open-dir");
    std::fs::create_dir(s.cache()).unwrap();
    std::fs::set_permissions(s.cache(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let o = s.run(&["--tier", "native"]);
    assert_ran(&o);
    assert!(stderr(&o).contains("compilation cache not used"), "{}", stderr(&o));
    assert!(stderr(&o).contains("others may write it"), "{}", stderr(&o));
    assert!(s.entries().is_empty(), "nothing is written there either: {:?}", s.entries());
}

#[test]
fn an_entry_others_can_write_or_a_planted_link_is_not_loaded() {
    let s = Scratch::new("entry");
    assert_ran(&s.run(&["--tier", "native"]));
    let entry = s.entries().pop().unwrap();
    let good = std::fs::read(&entry).unwrap();

    std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o666)).unwrap();
    let o = s.run(&["--tier", "native"]);
    assert_ran(&o);
    assert!(stderr(&o).contains("entry not used"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("loaded from the compilation cache"), "{}", stderr(&o));
    // The entry was compiled again and replaced by a private one.
    assert_eq!(mode(&entry), 0o600);
    assert!(stderr(&s.run(&["--tier", "native"])).contains("loaded from the compilation cache"));

    // A symbolic link under the entry's name, to a file with the right bytes.
    let elsewhere = s.0.path("planted.cwasm");
    std::fs::write(&elsewhere, &good).unwrap();
    std::fs::remove_file(&entry).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &entry).unwrap();
    let o = s.run(&["--tier", "native"]);
    assert_ran(&o);
    assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
    assert!(std::fs::symlink_metadata(&entry).unwrap().is_file(), "replaced by a file");
}

#[test]
fn a_damaged_entry_is_compiled_again() {
    let s = Scratch::new("damaged");
    assert_ran(&s.run(&["--tier", "native"]));
    let entry = s.entries().pop().unwrap();
    let mut bytes = std::fs::read(&entry).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(&entry, &bytes).unwrap();
    let o = s.run(&["--tier", "native"]);
    assert_ran(&o);
    assert!(stderr(&o).contains("checksum"), "{}", stderr(&o));
    bytes.truncate(100);
    std::fs::write(&entry, &bytes).unwrap();
    let o = s.run(&["--tier", "native"]);
    assert_ran(&o);
    assert!(stderr(&o).contains("truncated"), "{}", stderr(&o));
    assert!(stderr(&s.run(&["--tier", "native"])).contains("loaded from the compilation cache"));
}

#[test]
fn perfmap_names_the_native_functions() {
    let s = Scratch::new("perfmap");
    let child = ward()
        .args(["run", "--tier", "native", "-C", "cache=n", "--profile", "perfmap"])
        .arg(s.module())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let map = PathBuf::from(format!("/tmp/perf-{}.map", child.id()));
    let status = child.wait_with_output().unwrap().status;
    assert!(status.success());
    let text = std::fs::read_to_string(&map).unwrap();
    let _ = std::fs::remove_file(&map);
    // The text format keeps the name `$compute` in the name section.
    let line = text.lines().find(|l| l.ends_with("!compute")).unwrap_or_else(|| panic!("{text}"));
    let fields: Vec<&str> = line.splitn(3, ' ').collect();
    assert!(usize::from_str_radix(fields[0], 16).unwrap() > 0, "{line}");
    assert!(usize::from_str_radix(fields[1], 16).unwrap() > 0, "{line}");
    assert_eq!(text.lines().count(), 2, "one line per defined function: {text}");
}
