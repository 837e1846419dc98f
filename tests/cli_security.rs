//! Issue 8's findings against the `ward` command, each run as the attack on the built binary:
//! flags after the module, exit statuses a guest could fake, argv[0] leaking host paths,
//! `--timeout` against stalled or closed pipes and slow loading, and guest names that try to
//! drive the terminal or flood it.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn ward() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ward"))
}

fn output(mut cmd: Command) -> Output {
    cmd.stdin(Stdio::null()).output().expect("run ward")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A file under the test's scratch directory.
fn write(name: &str, contents: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli_security");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// Waits for `child` up to `limit`; kills it and fails if it is still running then.
fn wait_within(child: &mut Child, limit: Duration) -> (Option<i32>, Duration) {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return (status.code(), started.elapsed());
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ward still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Prints each argument on a line, then `PREOPEN` if descriptor 3 is a preopened directory.
const ARGS_AND_PREOPEN: &str = r#"
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 900) "PREOPEN\n")
  (func $print (param $p i32) (param $n i32)
    (i32.store (i32.const 0) (local.get $p))
    (i32.store (i32.const 4) (local.get $n))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start")
    (local $i i32) (local $p i32) (local $n i32)
    (drop (call $sizes (i32.const 16) (i32.const 20)))
    (drop (call $args (i32.const 1024) (i32.const 4096)))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $i) (i32.load (i32.const 16))))
      (local.set $p (i32.load (i32.add (i32.const 1024) (i32.mul (local.get $i) (i32.const 4)))))
      (local.set $n (i32.const 0))
      (block $end (loop $scan
        (br_if $end (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $scan)))
      (i32.store8 (i32.add (local.get $p) (local.get $n)) (i32.const 10))
      (call $print (local.get $p) (i32.add (local.get $n) (i32.const 1)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each)))
    (if (i32.eqz (call $prestat (i32.const 3) (i32.const 32)))
      (then (call $print (i32.const 900) (i32.const 8))))))
"#;

#[test]
fn flags_after_the_module_are_the_guests_arguments() {
    let m = write("args.wat", ARGS_AND_PREOPEN);
    // The attack: a flag after the module must not grant the host's root directory.
    for prefix in [&["run"][..], &[][..]] {
        let mut cmd = ward();
        cmd.args(prefix).arg(&m).args(["--dir", "/", "-h", "--", "--env", "X=1"]);
        let o = output(cmd);
        assert_eq!(stdout(&o), "args.wat\n--dir\n/\n-h\n--\n--env\nX=1\n", "{}", stderr(&o));
        assert!(!stdout(&o).contains("PREOPEN"), "a directory was granted");
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    // Before the module, the same flag is Ward's.
    let mut cmd = ward();
    cmd.args(["run", "--dir"]).arg(std::env::temp_dir()).arg(&m).arg("x");
    let o = output(cmd);
    assert_eq!(stdout(&o), "args.wat\nx\nPREOPEN\n", "{}", stderr(&o));
}

#[test]
fn argv0_is_the_file_name_without_host_directories() {
    let m = write("args.wat", ARGS_AND_PREOPEN);
    assert!(m.is_absolute());
    let mut cmd = ward();
    cmd.arg("run").arg(&m).arg("a");
    let o = output(cmd);
    assert_eq!(stdout(&o), "args.wat\na\n", "{}", stderr(&o));
    let dir = m.parent().unwrap().to_string_lossy().into_owned();
    assert!(!stdout(&o).contains(&dir), "host path leaked: {}", stdout(&o));

    let mut cmd = ward();
    cmd.args(["run", "--argv0", "prog"]).arg(&m).arg("a");
    assert_eq!(stdout(&output(cmd)), "prog\na\n");
}

#[test]
fn a_guest_cannot_fake_wards_own_exit_statuses() {
    for (code, expected) in
        [(0, 0), (7, 7), (123, 123), (124, 126), (125, 126), (126, 126), (256, 126), (-1, 126)]
    {
        let m = write(
            &format!("exit{code}.wat"),
            &format!(
                r#"(module
                     (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
                     (func (export "_start") (call $exit (i32.const {code}))))"#
            ),
        );
        let mut cmd = ward();
        cmd.arg("run").arg(&m);
        let o = output(cmd);
        assert_eq!(o.status.code(), Some(expected), "proc_exit({code}): {}", stderr(&o));
        if expected == 126 {
            assert!(stderr(&o).contains(&format!("status {code}")), "{}", stderr(&o));
        } else {
            assert_eq!(stderr(&o), "");
        }
    }
}

/// Writes 64 KiB blocks to descriptor `fd` forever, ignoring errors.
fn flood(fd: u32) -> String {
    format!(
        r#"(module
             (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
             (memory (export "memory") 2)
             (func (export "_start")
               (memory.fill (i32.const 64) (i32.const 120) (i32.const 65536))
               (i32.store (i32.const 0) (i32.const 64))
               (i32.store (i32.const 4) (i32.const 65536))
               (loop $again
                 (drop (call $write (i32.const {fd}) (i32.const 0) (i32.const 1) (i32.const 8)))
                 (br $again))))"#
    )
}

#[test]
fn timeout_fires_while_the_guest_is_blocked_on_a_stalled_pipe() {
    for fd in [1, 2] {
        let m = write(&format!("flood{fd}.wat"), &flood(fd));
        // Nobody reads either pipe (as with `| sleep 15`): the guest blocks inside its write.
        let mut child = ward()
            .args(["run", "--timeout", "300ms"])
            .arg(&m)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run ward");
        let (code, elapsed) = wait_within(&mut child, Duration::from_secs(10));
        assert_eq!(code, Some(124), "fd {fd}");
        assert!(elapsed < Duration::from_secs(3), "fd {fd}: took {elapsed:?}");
        let mut err = Vec::new();
        child.stderr.take().unwrap().read_to_end(&mut err).unwrap();
        assert!(!String::from_utf8_lossy(&err).contains("panicked"), "fd {fd}");
    }
}

#[test]
fn timeout_covers_loading_the_module() {
    // The module comes from stdin, which never ends: the deadline must still hold.
    let mut child = ward()
        .args(["run", "--timeout", "300ms", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ward");
    let (code, elapsed) = wait_within(&mut child, Duration::from_secs(10));
    assert_eq!(code, Some(124));
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(err.contains("timed out"), "{err}");
}

/// Runs `script` with `sh`, the path of `ward` in `$WARD`.
fn sh(script: &str) -> Output {
    let o = Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("WARD", env!("CARGO_BIN_EXE_ward"))
        .stdin(Stdio::null())
        .output()
        .expect("run sh");
    assert!(o.status.success(), "sh: {}", stderr(&o));
    o
}

#[test]
fn a_closed_stdout_or_stderr_is_a_quiet_exit_never_a_panic() {
    let lib = write(
        "results.wat",
        r#"(module (func (export "pair") (result i32 i64) (i32.const 1) (i64.const 2)))"#,
    );
    let trap = write("boom.wat", r#"(module (func (export "_start") unreachable))"#);
    // `true` exits at once; ward writes after that, into a pipe nobody reads. Its status
    // goes to descriptor 3, which is the test's stdout.
    let o = sh(&format!(
        "{{ {{ sleep 0.3; \"$WARD\" run --invoke pair '{}'; echo status=$? >&3; }} | true; }} 3>&1",
        lib.display()
    ));
    assert_eq!(stdout(&o).trim(), "status=0", "stderr: {}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));

    let o = sh(&format!(
        "{{ {{ sleep 0.3; \"$WARD\" run '{}' 2>&1 >/dev/null; echo status=$? >&3; }} | true; }} 3>&1",
        trap.display()
    ));
    assert_eq!(stdout(&o).trim(), "status=125", "stderr: {}", stderr(&o));
}

#[test]
fn guest_names_are_escaped_and_bounded_in_every_diagnostic() {
    let esc = "\\1b]0;pwned\\07\\1b[2J";
    // A trap through functions and a module with terminal escapes in their names.
    let m = write(
        "names.wat",
        &format!(
            r#"(module $"{esc}m"
                 (func $"{esc}f" unreachable)
                 (func (export "_start") (call 0)))"#
        ),
    );
    let mut cmd = ward();
    cmd.arg("run").arg(&m);
    let o = output(cmd);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(!o.stderr.contains(&0x1b), "raw escape printed: {:?}", stderr(&o));
    assert!(stderr(&o).contains("\\u{1b}]0;pwned\\u{7}"), "{}", stderr(&o));

    // An import the runtime does not have, named with escapes.
    let m = write(
        "import.wat",
        &format!(r#"(module (import "{esc}" "{esc}" (func)) (func (export "_start")))"#),
    );
    let mut cmd = ward();
    cmd.arg("run").arg(&m);
    let o = output(cmd);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!o.stderr.contains(&0x1b), "raw escape printed: {:?}", stderr(&o));
    assert!(stderr(&o).contains("\\u{1b}[2J"), "{}", stderr(&o));

    // Deep recursion through a function with a 100 KB name: the report stays small.
    let long = "n".repeat(100_000);
    let m = write(
        "long.wat",
        &format!(r#"(module (func $"{long}" (call 0)) (func (export "_start") (call 0)))"#),
    );
    let mut cmd = ward();
    cmd.arg("run").arg(&m);
    let o = output(cmd);
    assert_eq!(o.status.code(), Some(125), "{}", &stderr(&o)[..200.min(o.stderr.len())]);
    assert!(o.stderr.len() < 32 * 1024, "{} bytes of diagnostics", o.stderr.len());
    assert!(stderr(&o).contains("more frames"));
}

#[test]
fn table_and_memory_counts_are_limited_by_default() {
    // Many empty tables: each costs the host a table object; 200 is past ward run's default.
    let tables: String = (0..200).map(|_| "(table 0 funcref) ").collect();
    let m = write("tables.wat", &format!(r#"(module {tables} (func (export "_start")))"#));
    let mut cmd = ward();
    cmd.arg("run").arg(&m);
    let o = output(cmd);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("limit"), "{}", stderr(&o));
    for raise in [&["--max-tables", "200"][..], &["-W", "max-tables=200"][..]] {
        let mut cmd = ward();
        cmd.arg("run").args(raise).arg(&m);
        let o = output(cmd);
        assert_eq!(o.status.code(), Some(0), "{raise:?}: {}", stderr(&o));
    }
    // A store-wide budget covers all memories together: two memories of 1 MiB each do not
    // fit in 1.5 MiB though each alone would.
    let m = write("two.wat", r#"(module (memory 16) (memory 16) (func (export "_start")))"#);
    let mut cmd = ward();
    cmd.args(["run", "--max-memory", "1MiB", "--max-total-memory", "1.5MiB"]).arg(&m);
    let o = output(cmd);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let mut cmd = ward();
    cmd.args(["run", "--max-memory", "1MiB", "--max-total-memory", "2MiB"]).arg(&m);
    assert_eq!(output(cmd).status.code(), Some(0));
}

/// The review's attack: a 99-byte module growing tables under `--max-memory 64KiB` reached
/// 786 MB. Tables now count against a store-wide budget that `--max-memory` sets by default
/// (the memory limit plus 64 MiB), so growth stops there and `table.grow` returns -1.
#[test]
fn max_memory_bounds_tables_too() {
    let m = write(
        "tablebomb.wat",
        r#"(module
            (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
            (table $t 0 funcref)
            (func (export "_start") (local $grown i32)
              ;; ask for 10 million elements (80 MB) twenty times: 1.6 GB in all
              (block $full
                (loop $l
                  (br_if $full (i32.eq (table.grow $t (ref.null func) (i32.const 10000000))
                                       (i32.const -1)))
                  (local.set $grown (i32.add (local.get $grown) (i32.const 1)))
                  (br_if $l (i32.lt_u (local.get $grown) (i32.const 20)))))
              (call $exit (local.get $grown))))"#,
    );
    let mut cmd = ward();
    cmd.args(["run", "--max-memory", "64KiB"]).arg(&m);
    let o = output(cmd);
    // 64 MiB of headroom holds no 80 MB growth at all.
    assert_eq!(o.status.code(), Some(0), "grew {:?} times: {}", o.status.code(), stderr(&o));
}
