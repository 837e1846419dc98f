//! Issue 13 against the built `ward`: what people coming from other runtimes type, logging,
//! backtraces, errors that say what a file is, sizes and values, the test command, completions
//! and the manual page.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn ward() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ward"))
}

fn output(mut cmd: Command) -> Output {
    cmd.stdin(Stdio::null()).output().expect("run ward")
}

fn run(args: &[&str]) -> Output {
    let mut cmd = ward();
    cmd.args(args);
    output(cmd)
}

fn with_input(args: &[&str], input: &[u8]) -> Output {
    let mut child = ward()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ward");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes a file under the test's scratch directory; returns its path as a string.
fn write(name: &str, contents: impl AsRef<[u8]>) -> String {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli_everyday");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.to_string_lossy().into_owned()
}

const SPIN: &str = r#"(module (func (export "_start") (loop (br 0))))"#;

/// Exits with the status `fd_fdstat_get(3)` gives as the file type (6: a stream socket), or 99
/// if there is no descriptor 3.
const FD3_TYPE: &str = r#"
(module
  (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $stat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (call $exit (if (result i32) (i32.eqz (call $stat (i32.const 3) (i32.const 16)))
      (then (i32.load8_u (i32.const 16))) (else (i32.const 99))))))
"#;

/// Prints its environment, one variable a line.
const ENV: &str = r#"
(module
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (func (export "_start")
    (local $n i32)
    (drop (call $sizes (i32.const 0) (i32.const 4)))
    (drop (call $get (i32.const 1024) (i32.const 65536)))
    ;; The strings are contiguous and NUL-separated: turn the NULs into newlines, print them.
    (local.set $n (i32.load (i32.const 4)))
    (block $done (loop $each
      (br_if $done (i32.eqz (local.get $n)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (if (i32.eqz (i32.load8_u (i32.add (i32.const 65536) (local.get $n))))
        (then (i32.store8 (i32.add (i32.const 65536) (local.get $n)) (i32.const 10))))
      (br $each)))
    (i32.store (i32.const 8) (i32.const 65536))
    (i32.store (i32.const 12) (i32.load (i32.const 4)))
    (drop (call $write (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 16)))))
"#;

#[test]
fn wasmtime_option_groups_are_wards_flags() {
    let spin = write("spin.wat", SPIN);
    let o = run(&["run", "-W", "fuel=10000", &spin]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(stderr(&o).contains("all fuel consumed"), "{}", stderr(&o));

    let o = run(&["run", "-W", "timeout=200ms", &spin]);
    assert_eq!(o.status.code(), Some(124), "{}", stderr(&o));

    // 977 pages = 64,028,672 bytes: over 64MB (10^6), under 64MiB (2^20).
    let mem = write("mem.wat", r#"(module (memory 977) (func (export "_start")))"#);
    for (flag, size, code) in [
        ("-W", "max-memory-size=64MB", 1),
        ("-W", "max-memory-size=64MiB", 0),
        ("--max-memory", "64MB", 1),
        ("--max-memory", "64MiB", 0),
    ] {
        let o = run(&["run", flag, size, &mem]);
        assert_eq!(o.status.code(), Some(code), "{flag} {size}: {}", stderr(&o));
    }

    let env = write("env.wat", ENV);
    for inherit in [&["-S", "inherit-env"][..], &["--inherit-env"][..]] {
        let mut cmd = ward();
        cmd.arg("run").args(inherit).arg(&env).env("WARD_TEST_FROM_HOST", "yes");
        let o = output(cmd);
        assert!(stdout(&o).lines().any(|l| l == "WARD_TEST_FROM_HOST=yes"), "{}", stdout(&o));
    }
    let mut cmd = ward();
    cmd.args(["run", &env]).env("WARD_TEST_FROM_HOST", "yes");
    assert!(!stdout(&output(cmd)).contains("WARD_TEST_FROM_HOST"), "inherited by default");

    // Options Ward does not have are named, with status 2.
    for (args, named) in [
        (&["-S", "tcp=y"][..], "-S tcp"),
        (&["-W", "threads=y"][..], "threads"),
        (&["-O", "opt-level=2"][..], "-O opt-level=2"),
    ] {
        let mut cmd = ward();
        cmd.arg("run").args(args).arg(&spin);
        let o = output(cmd);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(named) && stderr(&o).contains("not supported"),
            "{}",
            stderr(&o)
        );
    }
}

#[test]
fn tcplisten_hands_the_guest_a_listening_socket() {
    let m = write("fd3.wat", FD3_TYPE);
    assert_eq!(run(&["run", &m]).status.code(), Some(99));
    for args in [&["--tcplisten", "127.0.0.1:0"][..], &["-S", "tcplisten=127.0.0.1:0"][..]] {
        let mut cmd = ward();
        cmd.arg("run").args(args).arg(&m);
        let o = output(cmd);
        assert_eq!(o.status.code(), Some(6), "{args:?}: {}", stderr(&o));
    }
    let o = run(&["run", "--tcplisten", "not an address", &m]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not an address"), "{}", stderr(&o));
}

#[test]
fn a_module_can_come_from_stdin() {
    let o = with_input(&["run", "-", "a"], ENV.as_bytes());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = with_input(&["-"], b"(module (func (export \"_start\") unreachable))");
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    let o = with_input(&["run", "-"], b"");
    assert!(stderr(&o).contains("<stdin>` is empty"), "{}", stderr(&o));
}

#[test]
fn other_runtimes_commands_are_answered_as_commands() {
    for word in ["settings", "config", "explore"] {
        let o = run(&[word, "x.wasm"]);
        assert_eq!(o.status.code(), Some(2), "{word}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains(&format!("`ward {word}`")) && err.contains("not available yet"),
            "{err}"
        );
        assert!(!err.contains("cannot load module"), "{err}");
    }
    // `compile` exists (tests/cli_compile.rs): a missing input is named.
    let o = run(&["compile", "x.wasm"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot read `x.wasm`"), "{}", stderr(&o));
    // `serve` exists: a missing handler is named as such, not taken for a module called `serve`.
    let o = run(&["serve", "x.wasm"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("x.wasm"), "{}", stderr(&o));
}

#[test]
fn read_only_dirs_cannot_be_written() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli_everyday_ro");
    std::fs::create_dir_all(&dir).unwrap();
    let _ = std::fs::remove_file(dir.join("new.txt"));
    // Creates new.txt in the first preopen; exits with the errno (0: created).
    let m = write(
        "create.wat",
        r#"(module
             (import "wasi_snapshot_preview1" "path_open"
               (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
             (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
             (memory (export "memory") 1)
             (data (i32.const 100) "new.txt")
             (func (export "_start")
               (call $exit (call $open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 7)
                 (i32.const 1) (i64.const 0x7fffffff) (i64.const 0x7fffffff) (i32.const 0)
                 (i32.const 200)))))"#,
    );
    let spec = format!("{}::/d::ro", dir.display());
    let o = run(&["run", "--dir", &spec, &m]);
    // The guest is refused with a WASI errno (EPERM 63, EROFS 69 or ENOTCAPABLE 76), and
    // nothing is written.
    assert!(matches!(o.status.code(), Some(63 | 69 | 76)), "{:?} {}", o.status, stderr(&o));
    assert!(!dir.join("new.txt").exists(), "a read-only directory was written");

    let spec = format!("{}::/d", dir.display());
    let o = run(&["run", "--dir", &spec, &m]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(dir.join("new.txt").exists());
}

#[test]
fn logging_is_off_by_default_and_on_with_ward_log() {
    let spin = write("log.wat", r#"(module (func (export "_start")))"#);
    let o = run(&["run", &spin]);
    assert_eq!(stderr(&o), "");
    let mut cmd = ward();
    cmd.args(["run", &spin]).env("WARD_LOG", "ward_cli=debug");
    let o = output(cmd);
    assert!(
        stderr(&o).contains("compiled") && stderr(&o).contains("instantiated"),
        "{}",
        stderr(&o)
    );
    let mut cmd = ward();
    cmd.args(["run", &spin]).env("WARD_LOG", "not a [valid filter");
    let o = output(cmd);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("WARD_LOG"), "{}", stderr(&o));
}

#[test]
fn wasi_calls_are_logged_under_ward_wasi() {
    let hello = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello.wat");
    let mut cmd = ward();
    cmd.arg("run").arg(&hello).env("WARD_LOG", "ward_wasi=trace");
    let o = output(cmd);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("fd_write"), "{}", stderr(&o));
    assert!(!stdout(&o).contains("fd_write"), "logs go to stderr only");
}

#[test]
fn backtraces_are_demangled_with_source_lines() {
    let m = write(
        "mangled.wat",
        r#"(module
  (func $_Z3addii unreachable)
  (func $_ZN4core9panicking5panic17h0123456789abcdefE (call $_Z3addii))
  (func $_RNvNtCsdHhIpgkcIfN_4core9panicking9panic_fmt (call 1))
  (func (export "_start") (call 2)))
"#,
    );
    let o = run(&["run", &m]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(125), "{err}");
    assert!(err.contains("add(int, int)"), "{err}");
    assert!(
        err.contains("core::panicking::panic\n") || err.contains("core::panicking::panic\r"),
        "{err}"
    );
    assert!(err.contains("core::panicking::panic_fmt"), "{err}");
    assert!(!err.contains("_ZN4core"), "{err}");
    // Text modules carry DWARF line tables: each frame has its file and line.
    assert!(err.contains("mangled.wat:2:"), "{err}");
    assert!(err.contains("mangled.wat:3:"), "{err}");
    assert!(err.contains("mangled.wat:5:"), "{err}");
}

#[test]
fn errors_say_what_a_file_is() {
    let cases: Vec<(String, String)> = vec![
        (write("notes.txt", "meeting at noon"), "`{}` is neither a WebAssembly binary nor text".into()),
        (write("x.wasm", b"\0asm\x0d\0\x01\0"), "`{}` is a WebAssembly component but not a WASI command: it exports no `wasi:cli/run` interface with a `run` function (it exports nothing)".into()),
        (write("c.wat", "(component)"), "is a WebAssembly component".into()),
        (write("x", ""), "`{}` is empty".into()),
        (write("v2.wasm", b"\0asm\x02\0\0\0"), "version 2".into()),
        (write("broken.wat", "(module (func"), "is WebAssembly text with an error".into()),
    ];
    for (path, expected) in cases {
        let o = run(&["run", &path]);
        let expected = expected.replace("{}", &path);
        assert_eq!(o.status.code(), Some(1), "{path}");
        assert!(stderr(&o).contains(&expected), "{path}: {}", stderr(&o));
    }
}

#[test]
fn invoke_takes_text_format_numbers() {
    let m = write(
        "nums.wat",
        r#"(module
             (func (export "f64") (param f64) (result f64) (local.get 0))
             (func (export "i32") (param i32) (result i32) (local.get 0))
             (func (export "v") (param v128) (result i32) (i32x4.extract_lane 3 (local.get 0))))"#,
    );
    for (func, arg, expected) in [
        ("f64", "0x1p3", "8"),
        ("f64", "-inf", "-inf"),
        ("i32", "0xffff_ffff", "-1"),
        ("v", "i32x4 1 2 3 4", "4"),
    ] {
        let o = run(&["run", "--invoke", func, &m, arg]);
        assert_eq!(stdout(&o), format!("{expected}\n"), "{func} {arg}: {}", stderr(&o));
    }
    let o = run(&["run", "--invoke", "i32", &m, "4294967296"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("`4294967296` is not a valid i32"), "{}", stderr(&o));
}

#[test]
fn readme_test_command_is_what_ci_runs_and_covers_the_workspace() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let quick_start = readme.split("## Quick start").nth(1).expect("a quick start section");
    let command = quick_start
        .lines()
        .map(|l| l.split('#').next().unwrap().trim())
        .find(|l| l.starts_with("cargo test"))
        .expect("a cargo test command in the quick start");
    let ci = std::fs::read_to_string(root.join(".ci/run")).unwrap();
    let ci_command = ci.lines().rev().find(|l| !l.trim().is_empty()).unwrap().trim();
    assert_eq!(ci_command, command, ".ci/run must run README's test command");
    assert!(ci.contains("export CI="), ".ci/run keeps CI set");

    // `cargo test` in the root runs every member.
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let list = |key: &str| -> Vec<String> {
        let start = manifest.find(&format!("\n{key} = [")).unwrap_or_else(|| panic!("{key}"));
        let rest = &manifest[start..];
        let body = &rest[rest.find('[').unwrap() + 1..rest.find(']').unwrap()];
        let mut v: Vec<String> = body
            .split(',')
            .map(|s| s.trim().trim_matches('"').to_string())
            .filter(|s| !s.is_empty())
            .collect();
        v.sort();
        v
    };
    assert_eq!(list("default-members"), list("members"));
}

#[test]
fn completions_and_man_page_come_from_the_cli_definition() {
    for shell in ["bash", "zsh", "fish"] {
        let o = run(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}: {}", stderr(&o));
        assert!(stdout(&o).contains("run") && stdout(&o).contains("max-memory"), "{shell}");
    }
    let o = run(&["man"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with(".ie") || stdout(&o).contains(".TH"), "{}", stdout(&o));
    assert!(stdout(&o).contains("run"));
}

/// A C++ program built by clang with DWARF line tables (tests/fixtures/build-trap.sh).
#[test]
fn a_compiled_cpp_program_traps_with_demangled_names_and_lines() {
    let m = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/trap.wasm");
    let o = run(&["run", m.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(125), "{err}");
    // Each frame's line is followed by its source position.
    let lines: Vec<&str> = err.lines().map(str::trim).collect();
    let frame = |name: &str| lines.iter().position(|l| l.ends_with(name));
    let area = frame("!geometry::area(geometry::Box const&)").expect(&err);
    let total = frame("!total(int, int)").expect(&err);
    assert!(area < total, "{err}");
    assert!(lines[area + 1].starts_with("at ./trap.cpp:11:"), "{err}");
    assert!(lines[total + 1].starts_with("at ./trap.cpp:19:"), "{err}");
}

/// The library's own spans and events (target `ward`): compile, instantiate, and a trap inside
/// a call, shown with `WARD_LOG=ward=trace` and not otherwise.
#[test]
fn the_library_logs_compile_instantiate_and_traps_under_ward() {
    let m = write("trap.wat", r#"(module (func (export "_start") unreachable))"#);
    let mut cmd = ward();
    cmd.args(["run", &m]).env("WARD_LOG", "ward=trace");
    let o = output(cmd);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    let log = stderr(&o);
    for needle in ["compile", "compiled", "instantiate", "call", "trap"] {
        assert!(log.contains(needle), "missing `{needle}` in:\n{log}");
    }
    let mut cmd = ward();
    cmd.args(["run", &m]);
    let o = output(cmd);
    assert!(!stderr(&o).contains("compiled"), "{}", stderr(&o));
}
