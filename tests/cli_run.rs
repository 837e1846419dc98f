//! `ward run` end to end: WASI programs, exit statuses, error messages.
//!
//! Each test runs the built `ward` binary on a small module (WAT written here, or the committed
//! C demo in `examples/wasi-c`) and checks its stdout, stderr and exit status.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::cli::{run_with_input, stderr, stdout, ward};

/// The exit status of a trap (see `ward::commands::exit`).
const TRAP: i32 = 125;

/// A scratch directory of this test binary.
fn scratch(name: &str) -> support::cli::Scratch {
    support::cli::Scratch::new("cli-run", name)
}

fn run(cmd: Command) -> Output {
    run_with_input(cmd, b"")
}

/// A WASI command that prints its arguments and the variables it was given, one per line, then
/// exits with status `argc` (so the test sees both the output and the exit path).
const ECHO: &str = r#"
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $env_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $env_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  ;; Prints the C string at $p and a newline.
  (func $puts (param $p i32)
    (local $n i32)
    (block $done (loop $scan
      (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $scan)))
    (i32.store8 (i32.add (local.get $p) (local.get $n)) (i32.const 10))
    (i32.store (i32.const 0) (local.get $p))
    (i32.store (i32.const 4) (i32.add (local.get $n) (i32.const 1)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  ;; Prints the $count strings whose pointers are at $ptrs.
  (func $put_all (param $ptrs i32) (param $count i32)
    (local $i i32)
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
      (call $puts (i32.load (i32.add (local.get $ptrs) (i32.mul (local.get $i) (i32.const 4)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each))))
  (func (export "_start")
    (local $argc i32)
    (drop (call $args_sizes (i32.const 16) (i32.const 20)))
    (local.set $argc (i32.load (i32.const 16)))
    (drop (call $args_get (i32.const 1024) (i32.const 8192)))
    (call $put_all (i32.const 1024) (local.get $argc))
    (drop (call $env_sizes (i32.const 16) (i32.const 20)))
    (drop (call $env_get (i32.const 2048) (i32.const 16384)))
    (call $put_all (i32.const 2048) (i32.load (i32.const 16)))
    (call $exit (local.get $argc))))
"#;

#[test]
fn arguments_environment_and_exit_status() {
    let s = scratch("echo");
    let module = s.file("echo.wat", ECHO);
    let mut cmd = ward();
    cmd.env("WARD_TEST_INHERITED", "from host").env("WARD_TEST_NOT_PASSED", "secret");
    cmd.args(["run", "--env", "A=1", "--env", "B=x=y", "--env", "WARD_TEST_INHERITED"]);
    cmd.arg(&module).args(["first", "--second", ""]);
    let o = run(cmd);
    // argv[0] is the module's file name, without the host's directories.
    let expected = "echo.wat\nfirst\n--second\n\nA=1\nB=x=y\nWARD_TEST_INHERITED=from host\n";
    assert_eq!(stdout(&o), expected, "stderr: {}", stderr(&o));
    // proc_exit(argc): 4 arguments including the program name.
    assert_eq!(o.status.code(), Some(4));
    assert!(!stdout(&o).contains("secret"));
}

#[test]
fn module_alone_is_short_for_run() {
    let s = scratch("short");
    let module = s.file("echo.wat", ECHO);
    let mut cmd = ward();
    cmd.arg(&module).arg("x");
    let o = run(cmd);
    assert_eq!(stdout(&o), "echo.wat\nx\n");
    assert_eq!(o.status.code(), Some(2));
}

/// Lists the preopened directories (fd 3, 4, ...) by their guest names.
const PREOPENS: &str = r#"
(module
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_dir_name" (func $name (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 512) "hello.txt")
  (func $print (param $p i32) (param $n i32)
    (i32.store (i32.const 0) (local.get $p))
    (i32.store (i32.const 4) (local.get $n))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start")
    (local $fd i32) (local $len i32)
    (local.set $fd (i32.const 3))
    (block $done (loop $each
      (br_if $done (call $prestat (local.get $fd) (i32.const 16)))
      (local.set $len (i32.load (i32.const 20)))
      (drop (call $name (local.get $fd) (i32.const 1024) (local.get $len)))
      (i32.store8 (i32.add (i32.const 1024) (local.get $len)) (i32.const 10))
      (call $print (i32.const 1024) (i32.add (local.get $len) (i32.const 1)))
      (local.set $fd (i32.add (local.get $fd) (i32.const 1)))
      (br $each)))
    ;; Read hello.txt from the first preopen and print it.
    (if (i32.eqz (call $open (i32.const 3) (i32.const 1) (i32.const 512) (i32.const 9)
                             (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 32)))
      (then
        (i32.store (i32.const 40) (i32.const 2048))
        (i32.store (i32.const 44) (i32.const 100))
        (drop (call $read (i32.load (i32.const 32)) (i32.const 40) (i32.const 1) (i32.const 48)))
        (call $print (i32.const 2048) (i32.load (i32.const 48)))))))
"#;

#[test]
fn dirs_are_preopened_under_their_guest_names() {
    let s = scratch("dirs");
    let module = s.file("pre.wat", PREOPENS);
    let data = s.0.join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("hello.txt"), "hi from a file\n").unwrap();
    let mut cmd = ward();
    cmd.arg("run").arg("--dir").arg(format!("{}::/sandbox", data.display()));
    cmd.arg("--dir").arg(&s.0).arg(&module);
    let o = run(cmd);
    assert_eq!(
        stdout(&o),
        format!("/sandbox\n{}\nhi from a file\n", s.0.display()),
        "stderr: {}",
        stderr(&o)
    );
    assert_eq!(o.status.code(), Some(0));

    // Without --dir the guest has no directory at all.
    let mut cmd = ward();
    cmd.arg("run").arg(&module);
    let o = run(cmd);
    assert_eq!(stdout(&o), "");
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn a_missing_dir_is_an_error_naming_it() {
    let s = scratch("missing-dir");
    let module = s.file("pre.wat", PREOPENS);
    let mut cmd = ward();
    cmd.args(["run", "--dir", "/nonexistent/ward-dir::/x"]).arg(&module);
    let o = run(cmd);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("/nonexistent/ward-dir"), "{}", stderr(&o));
}

#[test]
fn a_trap_reports_message_backtrace_and_exit_status() {
    let s = scratch("trap");
    let module = s.file(
        "trap.wat",
        r#"(module $prog
             (func $inner (unreachable))
             (func $outer (call $inner))
             (func (export "_start") (call $outer)))"#,
    );
    let mut cmd = ward();
    cmd.arg("run").arg(&module);
    let o = run(cmd);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(TRAP), "{err}");
    assert!(err.starts_with("error:"), "{err}");
    assert!(err.contains("unreachable"), "{err}");
    assert!(err.contains("inner") && err.contains("outer"), "backtrace with names: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_inputs_get_a_message_and_status_1_never_a_panic() {
    let s = scratch("bad");
    let not_wasm = s.file("notes.txt", "this is not a module");
    let invalid = s.0.join("invalid.wasm");
    std::fs::write(&invalid, b"\0asm\x01\0\0\0\x01\xff").unwrap();
    let unknown_import = s.file(
        "imp.wat",
        r#"(module (import "wasi_snapshot_preview1" "no_such_call" (func)) (func (export "_start")))"#,
    );
    let other_module = s.file("other.wat", r#"(module (import "env" "f" (func)))"#);
    let no_start = s.file("lib.wat", r#"(module (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))"#);
    let cases: Vec<(PathBuf, &[&str])> = vec![
        (s.0.join("does-not-exist.wasm"), &["does-not-exist.wasm"]),
        (not_wasm, &["notes.txt"]),
        (invalid, &["invalid.wasm"]),
        (unknown_import, &["wasi_snapshot_preview1", "no_such_call"]),
        (other_module, &["env", "f"]),
        (no_start, &["_start"]),
    ];
    for (path, words) in cases {
        let mut cmd = ward();
        cmd.arg("run").arg(&path);
        let o = run(cmd);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{}: {err}", path.display());
        assert!(err.starts_with("error:"), "{err}");
        for w in words {
            assert!(err.contains(w), "{}: message should name `{w}`: {err}", path.display());
        }
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn invoke_calls_an_export_and_prints_results() {
    let s = scratch("invoke");
    let module = s.file(
        "lib.wat",
        r#"(module
             (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
             (memory (export "memory") 1)
             (func (export "add") (param i32 i64) (result i64)
               (i64.add (i64.extend_i32_s (local.get 0)) (local.get 1)))
             (func (export "random_ok") (result i32)
               (call $random (i32.const 0) (i32.const 64))))"#,
    );
    let mut cmd = ward();
    cmd.arg("run").arg("--invoke").arg("add").arg(&module).args(["-2", "40"]);
    let o = run(cmd);
    assert_eq!(stdout(&o), "38\n", "{}", stderr(&o));
    let mut cmd = ward();
    cmd.arg("run").arg("--invoke").arg("random_ok").arg(&module);
    let o = run(cmd);
    assert_eq!(stdout(&o), "0\n", "{}", stderr(&o));
}

#[test]
fn tier_native_runs_the_same_program() {
    let s = scratch("tier");
    let module = s.file(
        "fib.wat",
        r#"(module
             (func $fib (export "fib") (param i32) (result i32)
               (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
                 (then (local.get 0))
                 (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                                (call $fib (i32.sub (local.get 0) (i32.const 2))))))))"#,
    );
    for tier in ["interp", "native"] {
        let mut cmd = ward();
        cmd.args(["run", "--tier", tier, "--invoke", "fib"]).arg(&module).arg("20");
        let o = run(cmd);
        assert_eq!(stdout(&o), "6765\n", "--tier {tier}: {}", stderr(&o));
    }
    let mut cmd = ward();
    cmd.args(["run", "--tier", "jit", "--invoke", "fib"]).arg(&module).arg("20");
    let o = run(cmd);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("native"), "{}", stderr(&o));
}

#[test]
fn stdin_flows_to_the_guest() {
    let s = scratch("stdin");
    let module = s.file(
        "cat.wat",
        r#"(module
             (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
             (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
             (memory (export "memory") 1)
             (func (export "_start")
               (i32.store (i32.const 0) (i32.const 1024))
               (i32.store (i32.const 4) (i32.const 4096))
               (block $eof (loop $copy
                 (drop (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
                 (br_if $eof (i32.eqz (i32.load (i32.const 8))))
                 (i32.store (i32.const 16) (i32.const 1024))
                 (i32.store (i32.const 20) (i32.load (i32.const 8)))
                 (drop (call $write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 8)))
                 (br $copy)))))"#,
    );
    let mut cmd = ward();
    cmd.arg(&module);
    let o = run_with_input(cmd, b"piped through\nthe guest\n");
    assert_eq!(stdout(&o), "piped through\nthe guest\n", "{}", stderr(&o));
}

/// The C demo (examples/wasi-c), compiled by zig for wasm32-wasi, prints exactly what the same
/// source compiled natively printed (recorded in expected-output.txt by build.sh).
#[test]
fn c_demo_matches_native_output() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/wasi-c");
    let expected = std::fs::read_to_string(example.join("expected-output.txt")).unwrap();
    let input = std::fs::read(example.join("input.txt")).unwrap();
    let s = scratch("c-demo");
    let mut cmd = ward();
    cmd.arg("run").arg("--dir").arg(format!("{}::/", s.0.display()));
    cmd.args(["--env", "GREETING=hello from the host"]);
    cmd.arg(example.join("demo.wasm")).args(["one", "two words", "--three"]);
    let o = run_with_input(cmd, &input);
    assert_eq!(stdout(&o), expected, "stderr: {}", stderr(&o));
    assert_eq!(o.status.code(), Some(0));
    // The demo cleans up after itself.
    assert_eq!(std::fs::read_dir(&s.0).unwrap().count(), 0);
}

#[test]
fn timeout_interrupts_a_spinning_guest_and_fuel_stops_it() {
    let s = scratch("limits");
    let spin = s.file("spin.wat", r#"(module (func (export "_start") (loop (br 0))))"#);

    let mut cmd = ward();
    cmd.arg("run").arg("--timeout").arg("200ms").arg(&spin);
    let started = std::time::Instant::now();
    let o = run(cmd);
    let elapsed = started.elapsed();
    assert_eq!(o.status.code(), Some(124), "{}", stderr(&o));
    assert!(stderr(&o).contains("timed out"), "{}", stderr(&o));
    // Interrupted by the runtime, not by the one-second process-exit fallback.
    assert!(elapsed < std::time::Duration::from_millis(1000), "took {elapsed:?}");

    let mut cmd = ward();
    cmd.arg("run").arg("--fuel").arg("10000").arg(&spin);
    let o = run(cmd);
    assert_eq!(o.status.code(), Some(TRAP), "{}", stderr(&o));
    assert!(stderr(&o).contains("all fuel consumed"), "{}", stderr(&o));
}

#[test]
fn max_memory_refuses_a_module_over_the_limit() {
    let s = scratch("maxmem");
    let big = s.file("big.wat", r#"(module (memory 32) (func (export "_start")))"#);
    let mut cmd = ward();
    cmd.arg("run").arg("--max-memory").arg("1MiB").arg(&big);
    let o = run(cmd);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("limit"), "{}", stderr(&o));
    let mut cmd = ward();
    cmd.arg("run").arg("--max-memory").arg("4MiB").arg(&big);
    assert_eq!(run(cmd).status.code(), Some(0));
}

#[test]
fn max_table_elements_refuses_a_large_table() {
    let s = scratch("maxtab");
    let big = s.file("tab.wat", r#"(module (table 1000 funcref) (func (export "_start")))"#);
    let mut cmd = ward();
    cmd.arg("run").arg("--max-table-elements").arg("100").arg(&big);
    let o = run(cmd);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("limit"), "{}", stderr(&o));
    let mut cmd = ward();
    cmd.arg("run").arg("--max-table-elements").arg("1000").arg(&big);
    assert_eq!(run(cmd).status.code(), Some(0));
}
