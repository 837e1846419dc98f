//! `ward nano APP.toml` against the built binary: an application of two nanoprocesses (a parent
//! that spawns a child from its template, sends it a message and waits for the answer) ends
//! with the parent's exit status; a trapping initial process ends with 125, a missing manifest
//! with a clear error.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn ward_nano(manifest: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ward"))
        .args(["nano", manifest])
        .stdin(Stdio::null())
        .output()
        .expect("run ward")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes the files of an application into a fresh directory; returns the manifest's path.
fn app(name: &str, files: &[(&str, &str)]) -> String {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli_nano").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    dir.join("app.toml").to_string_lossy().into_owned()
}

const PARENT: &str = r#"(module
  (import "ward:nano" "spawn" (func $spawn (param i32 i32) (result i64)))
  (import "ward:nano" "send" (func $send (param i64 i32 i32 i32) (result i32)))
  (import "ward:nano" "receive" (func $receive (param i32 i32 i32 i32) (result i32)))
  (import "ward:nano" "exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "child")
  (func (export "main") (local $child i64)
    (local.set $child (call $spawn (i32.const 0) (i32.const 5)))
    (i32.store (i32.const 100) (i32.const 20))
    (drop (call $send (local.get $child) (i32.const 100) (i32.const 4) (i32.const 1)))
    ;; wait up to 5 s for the answer (tag 2): the child doubles the number and adds 2
    (if (i32.ne (call $receive (i32.const 200) (i32.const 4) (i32.const 5000) (i32.const 2))
                (i32.const 4))
      (then (call $exit (i32.const 3))))
    (call $exit (i32.sub (i32.load (i32.const 200)) (i32.const 35)))))"#;

const CHILD: &str = r#"(module
  (import "ward:nano" "send" (func $send (param i64 i32 i32 i32) (result i32)))
  (import "ward:nano" "receive" (func $receive (param i32 i32 i32 i32) (result i32)))
  (import "ward:nano" "msg_sender" (func $msg_sender (result i64)))
  (memory (export "memory") 1)
  (func (export "main")
    (drop (call $receive (i32.const 0) (i32.const 4) (i32.const -1) (i32.const 1)))
    (i32.store (i32.const 0) (i32.add (i32.mul (i32.load (i32.const 0)) (i32.const 2)) (i32.const 2)))
    (drop (call $send (call $msg_sender) (i32.const 0) (i32.const 4) (i32.const 2)))))"#;

const MANIFEST: &str = r#"
[templates.parent]
module = "parent.wat"
[templates.parent.caps]
spawn = ["child"]
[templates.parent.limits]
deadline_ms = 20000

[templates.child]
module = "child.wat"

[init]
template = "parent"
"#;

#[test]
fn an_application_ends_with_its_initial_process_status() {
    let manifest =
        app("pair", &[("app.toml", MANIFEST), ("parent.wat", PARENT), ("child.wat", CHILD)]);
    let o = ward_nano(&manifest);
    // 20 * 2 + 2 = 42; the parent exits with 42 - 35 = 7.
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
}

#[test]
fn a_trapping_initial_process_ends_with_125() {
    let crash = r#"(module (memory (export "memory") 1) (func (export "main") unreachable))"#;
    let manifest = app(
        "crash",
        &[
            ("app.toml", "[templates.main]\nmodule = \"main.wat\"\n[init]\ntemplate = \"main\"\n"),
            ("main.wat", crash),
        ],
    );
    let o = ward_nano(&manifest);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(stderr(&o).contains("trapped"), "{}", stderr(&o));
}

#[test]
fn a_missing_manifest_is_named() {
    let o = ward_nano("/nonexistent/app.toml");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("/nonexistent/app.toml"), "{}", stderr(&o));
}
