//! `ward compile IN -o OUT.cwasm` and `ward run OUT.cwasm` against the built `ward`: a WASI
//! program compiled ahead of time runs in another process with the same output; mismatched,
//! damaged or misused artifacts are refused with errors that name the file.

mod support;

use std::path::Path;
use std::process::Output;

use support::cli::{run_with_input, stderr, stdout, ward};

/// A scratch directory of this test binary.
fn scratch(name: &str) -> support::cli::Scratch {
    support::cli::Scratch::new("cli-compile", name)
}

fn run(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut cmd = ward();
    for a in args {
        cmd.arg(a);
    }
    run_with_input(cmd, b"")
}

fn compile(args: &[&dyn AsRef<std::ffi::OsStr>]) {
    let mut all: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"compile"];
    all.extend_from_slice(args);
    let o = run(&all);
    assert_eq!(o.status.code(), Some(0), "ward compile: {}", stderr(&o));
    assert_eq!(stdout(&o), "");
}

/// The C demo of `examples/wasi-c` (files, directories, environment, clock, random, stdin),
/// compiled by `ward compile` and run from the artifact by another process, prints what the
/// same source compiled natively printed.
#[test]
fn a_compiled_wasi_program_runs_from_its_artifact() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/wasi-c");
    let expected = std::fs::read_to_string(example.join("expected-output.txt")).unwrap();
    let input = std::fs::read(example.join("input.txt")).unwrap();
    let s = scratch("demo");
    let artifact = s.path("demo.cwasm");
    compile(&[&example.join("demo.wasm"), &"-o", &artifact]);
    let bytes = std::fs::read(&artifact).unwrap();
    assert!(bytes.starts_with(b"\0wardaot"));

    let root = s.path("root");
    std::fs::create_dir_all(&root).unwrap();
    for implicit in [false, true] {
        let mut cmd = ward();
        if !implicit {
            cmd.arg("run");
        }
        cmd.arg("--dir").arg(format!("{}::/", root.display()));
        cmd.args(["--env", "GREETING=hello from the host"]);
        cmd.arg(&artifact).args(["one", "two words", "--three"]);
        let o = run_with_input(cmd, &input);
        assert_eq!(stdout(&o), expected, "stderr: {}", stderr(&o));
        assert_eq!(o.status.code(), Some(0));
        assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0);
    }
    // The same output with `--tier native` given explicitly.
    let mut cmd = ward();
    cmd.args(["run", "--tier", "native", "--dir"]).arg(format!("{}::/", root.display()));
    cmd.args(["--env", "GREETING=hello from the host"]);
    cmd.arg(&artifact).args(["one", "two words", "--three"]);
    assert_eq!(stdout(&run_with_input(cmd, &input)), expected);
}

#[test]
fn fuel_and_timeouts_work_on_artifacts() {
    let s = scratch("limits");
    let spin = s.file("spin.wat", r#"(module (func (export "_start") (loop (br 0))))"#);
    // Without `-o`: next to the input, with the extension `.cwasm`.
    compile(&[&spin]);
    let plain = s.path("spin.cwasm");
    assert!(plain.exists());
    let o = run(&[&"run", &"--timeout", &"200ms", &plain]);
    assert_eq!(o.status.code(), Some(124), "{}", stderr(&o));

    // Fuel needs an artifact compiled with it, and the other way round: each refusal says so.
    let o = run(&[&"run", &"--fuel", &"1000", &plain]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("spin.cwasm")
            && err.contains("fuel=off")
            && err.contains("ward compile --fuel"),
        "{err}"
    );

    let fueled = s.path("fueled.cwasm");
    compile(&[&"--fuel", &spin, &"-o", &fueled]);
    let o = run(&[&"run", &"--fuel", &"1000", &fueled]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(stderr(&o).contains("all fuel consumed"), "{}", stderr(&o));
    let o = run(&[&"run", &fueled]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("fuel=on (the engine has fuel=off)"), "{}", stderr(&o));
}

#[test]
fn misused_and_damaged_artifacts_are_refused_by_name() {
    let s = scratch("damaged");
    let hello = s.file(
        "hello.wat",
        r#"(module
          (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 16) "hi\n")
          (func (export "_start")
            (i32.store (i32.const 0) (i32.const 16))
            (i32.store (i32.const 4) (i32.const 3))
            (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#,
    );
    let artifact = s.path("hello.cwasm");
    compile(&[&hello, &"-o", &artifact]);
    let o = run(&[&artifact]);
    assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(0), "hi\n"), "{}", stderr(&o));

    // `--tier interp` cannot run native code.
    let o = run(&[&"run", &"--tier", &"interp", &artifact]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("hello.cwasm` is an ahead-of-time artifact"), "{}", stderr(&o));

    // Truncated and bit-flipped copies.
    let bytes = std::fs::read(&artifact).unwrap();
    let cut = s.file("cut.cwasm", &bytes[..bytes.len() / 2]);
    let o = run(&[&cut]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("`") && stderr(&o).contains("cut.cwasm` is truncated"),
        "{}",
        stderr(&o)
    );
    let mut flipped = bytes.clone();
    let at = flipped.len() - 20;
    flipped[at] ^= 0x10;
    let flipped = s.file("flipped.cwasm", flipped);
    let o = run(&[&flipped]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("flipped.cwasm` is corrupt (checksum mismatch)"), "{}", stderr(&o));

    // From stdin: refused, since artifacts are mapped from files.
    let mut cmd = ward();
    cmd.args(["run", "-"]);
    let o = run_with_input(cmd, &bytes);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("artifact, which runs from a file only"), "{}", stderr(&o));

    // `ward compile` errors name the file.
    let o = run(&[&"compile", &s.path("missing.wasm")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("missing.wasm"), "{}", stderr(&o));
    let bad = s.file("bad.wat", "(module (func (result i32)))");
    let o = run(&[&"compile", &bad]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cannot compile `") && stderr(&o).contains("bad.wat"),
        "{}",
        stderr(&o)
    );
    let o = run(&[&"compile", &artifact, &"-o", &s.path("again.cwasm")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("hello.cwasm` is already a Ward artifact"), "{}", stderr(&o));
    let o = run(&[&"compile", &hello, &"-o", &s.path("no/such/dir/out.cwasm")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cannot write `") && stderr(&o).contains("out.cwasm"),
        "{}",
        stderr(&o)
    );
    let empty = s.file("empty.wasm", b"");
    let o = run(&[&"compile", &empty]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("empty.wasm` is empty"), "{}", stderr(&o));
}

/// A module the native tier does not cover yet (a GC operator) is compiled with a warning and
/// runs in the interpreter from its artifact.
#[test]
fn an_interpreted_module_compiles_with_a_warning() {
    let s = scratch("interp");
    let wat = s.file(
        "exn.wat",
        r#"(module
          (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
          (tag $e (param i32))
          (func (export "_start")
            (drop (ref.i31 (i32.const 1)))
            try (result i32)
              i32.const 7
              throw $e
            catch $e
            end
            call $exit))"#,
    );
    let artifact = s.path("exn.cwasm");
    let o = run(&[&"compile", &wat, &"-o", &artifact]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: `") && stderr(&o).contains("runs in the interpreter"),
        "{}",
        stderr(&o)
    );
    let o = run(&[&artifact]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
}
