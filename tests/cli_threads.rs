//! `ward run --wasi-threads` (`-S threads`): the wasi-threads guests of `tests/wasi-threads/`
//! (WAT, following the wasi-threads ABI: an imported shared memory, `wasi::thread-spawn`, the
//! `wasi_thread_start(tid, start_arg)` export) and their expected outputs and statuses.

use std::path::PathBuf;
use std::process::{Command, Output};

fn guest(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/wasi-threads").join(name)
}

fn run(args: &[&str], name: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ward"))
        .arg("run")
        .args(args)
        .arg("--timeout")
        .arg("60s")
        .arg(guest(name))
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn threads_share_an_atomic_counter() {
    let o = run(&["--wasi-threads"], "counter.wat");
    assert_eq!(stdout(&o), "spawned 4 threads\ncounter = 40000\n", "{o:?}");
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn threads_hand_a_token_back_and_forth_with_wait_and_notify() {
    let o = run(&["-S", "threads"], "pingpong.wat");
    assert_eq!(stdout(&o), "ping-pong: 1000 + 1000 turns\n", "{o:?}");
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn proc_exit_in_a_spawned_thread_ends_the_program() {
    let o = run(&["--wasi-threads"], "exit.wat");
    assert_eq!(stdout(&o), "thread exiting with 7\n", "{o:?}");
    assert_eq!(o.status.code(), Some(7));
}

#[test]
fn a_guest_cannot_start_more_threads_than_the_limit() {
    let o = run(&["--wasi-threads", "--max-threads", "3"], "limit.wat");
    assert_eq!(stdout(&o), "started 3 threads, the next spawn failed\n", "{o:?}");
    assert_eq!(o.status.code(), Some(0));
    let o = run(&["--wasi-threads", "--max-threads", "0"], "limit.wat");
    assert_eq!(stdout(&o), "started 0 threads, the next spawn failed\n", "{o:?}");
}

#[test]
fn a_trap_in_a_spawned_thread_ends_the_program_with_that_trap() {
    let o = run(&["--wasi-threads"], "trap.wat");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("trap.wat` failed") && err.contains("unreachable"), "{err}");
    assert_ne!(o.status.code(), Some(0));
}

#[test]
fn without_the_option_thread_spawn_is_not_provided() {
    let o = run(&[], "counter.wat");
    assert_ne!(o.status.code(), Some(0));
    assert!(stdout(&o).is_empty());
}

/// The guests compiled ahead of time (native code, no warning about the interpreter) and run
/// from their artifacts print and exit as they do interpreted: shared memory, atomics, wait
/// and notify, and exit from a spawned thread, natively.
#[test]
fn the_guests_run_natively_from_their_artifacts() {
    let dir = std::env::temp_dir().join(format!("ward-cli-threads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, expected, status) in [
        ("counter.wat", "spawned 4 threads\ncounter = 40000\n", 0),
        ("pingpong.wat", "ping-pong: 1000 + 1000 turns\n", 0),
        ("exit.wat", "thread exiting with 7\n", 7),
    ] {
        let artifact = dir.join(name).with_extension("cwasm");
        let o = Command::new(env!("CARGO_BIN_EXE_ward"))
            .arg("compile")
            .arg(guest(name))
            .arg("-o")
            .arg(&artifact)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{o:?}");
        assert!(o.stderr.is_empty(), "compiled natively: {}", String::from_utf8_lossy(&o.stderr));
        let o = Command::new(env!("CARGO_BIN_EXE_ward"))
            .args(["run", "--wasi-threads", "--timeout", "60s"])
            .arg(&artifact)
            .output()
            .unwrap();
        assert_eq!(stdout(&o), expected, "{name}: {o:?}");
        assert_eq!(o.status.code(), Some(status), "{name}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
