//! The WASI preview 2 conformance set (`wasm32-wasip2` command components built from the
//! official WASI tests), run through `ward run`.
//!
//! For each component `NAME.wasm` with its optional spec `NAME.json` (`args`, `env`, `root`,
//! `exit_code`, `stdout`, `stderr`, as in the preview 1 suite), the runner copies the
//! component and its `root` directory to a fresh temporary directory, runs
//! `ward run [--env K=V]... [--dir ROOT::/] NAME.wasm [ARGS]...` with stdin empty, and compares
//! the exit status and, when the spec gives them, stdout and stderr exactly. It prints one line
//! per test and the total.
//!
//! [`PASSING`] lists the tests that pass today, and each of them must keep passing: the number
//! can only go up (add a name when a test starts to pass). Tests not on the list may fail.
//!
//! The set is looked for in `../shared/wasi-testsuite-p2` next to the workspace, or where
//! `WARD_WASI_P2_TESTSUITE` points. If it is missing, the test says so loudly; it then fails
//! when `CI` is set and is skipped otherwise, so that a fresh clone still passes `cargo test`.

mod support;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use support::{copy_tree, run, TEST_TIMEOUT};

/// The tests that pass; each must keep passing.
const PASSING: &[&str] = &[
    "big_random_buf",
    "clock_time_get",
    "close_preopen",
    "dangling_fd",
    "dangling_symlink",
    "dir_fd_op_failures",
    "directory_seek",
    "fd_advise",
    "fd_fdstat_set_rights",
    "fd_filestat_set",
    "fd_flags_set",
    "fd_readdir",
    "file_allocate",
    "file_pread_pwrite",
    "file_seek_tell",
    "file_truncation",
    "file_unbuffered_write",
    "fstflags_validate",
    "interesting_paths",
    "isatty",
    "nofollow_errors",
    "overwrite_preopen",
    "path_exists",
    "path_filestat",
    "path_link",
    "path_open_create_existing",
    "path_open_dirfd_not_dir",
    "path_open_missing",
    "path_open_nonblock",
    "path_open_preopen",
    "path_open_read_write",
    "path_rename",
    "path_rename_dir_trailing_slashes",
    "path_symlink_trailing_slashes",
    "poll_oneoff_stdio",
    "readlink",
    "remove_directory_trailing_slashes",
    "remove_nonempty_directory",
    "renumber",
    "sched_yield",
    "stdio",
    "symlink_create",
    "symlink_filestat",
    "symlink_loop",
    "truncation_rights",
    "unlink_file_trailing_slashes",
];

/// Writes to the real stderr, past the test harness's capture, so the notice is always seen.
fn loud(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

fn suite_dir() -> PathBuf {
    match std::env::var_os("WARD_WASI_P2_TESTSUITE") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/wasi-testsuite-p2"),
    }
}

/// Every `tests/*/testsuite/wasm32-wasip2/*.wasm`, sorted.
fn components(suite: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for lang in std::fs::read_dir(suite.join("tests")).into_iter().flatten().flatten() {
        let dir = lang.path().join("testsuite/wasm32-wasip2");
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if e.path().extension().is_some_and(|x| x == "wasm") {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

/// A test's setup and expectations, with the specification's defaults.
#[derive(Debug, Default)]
struct Spec {
    args: Vec<String>,
    env: BTreeMap<String, String>,
    root: Option<String>,
    exit_code: i64,
    stdout: Option<String>,
    stderr: Option<String>,
}

fn read_spec(wasm: &Path) -> Result<Spec, String> {
    let path = wasm.with_extension("json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(Spec::default());
    };
    let at = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| at(&e))?;
    let obj = json.as_object().ok_or_else(|| at(&"not an object"))?;
    let mut spec = Spec::default();
    for (key, value) in obj {
        let bad = || at(&format!("bad value for `{key}`"));
        let text = |v: &serde_json::Value| v.as_str().map(str::to_string).ok_or_else(bad);
        match key.as_str() {
            "args" => {
                for a in value.as_array().ok_or_else(bad)? {
                    spec.args.push(text(a)?);
                }
            }
            "env" => {
                for (k, v) in value.as_object().ok_or_else(bad)? {
                    spec.env.insert(k.clone(), text(v)?);
                }
            }
            "root" => spec.root = Some(text(value)?),
            "exit_code" => spec.exit_code = value.as_i64().ok_or_else(bad)?,
            "stdout" => spec.stdout = Some(text(value)?),
            "stderr" => spec.stderr = Some(text(value)?),
            other => return Err(at(&format!("unsupported key `{other}`"))),
        }
    }
    Ok(spec)
}

/// Runs one test in `dir`; `Err` says why it failed.
fn run_test(wasm: &Path, dir: &Path) -> Result<(), String> {
    let spec = read_spec(wasm)?;
    let component = dir.join(wasm.file_name().expect("component file name"));
    std::fs::copy(wasm, &component).map_err(|e| format!("copying the component: {e}"))?;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ward"));
    cmd.arg("run");
    for (k, v) in &spec.env {
        cmd.arg("--env").arg(format!("{k}={v}"));
    }
    if let Some(root) = &spec.root {
        let dst = dir.join(root);
        copy_tree(&wasm.with_file_name(root), &dst)
            .map_err(|e| format!("copying `{root}`: {e}"))?;
        let mut mapping = dst.into_os_string();
        mapping.push("::/");
        cmd.arg("--dir").arg(mapping);
    }
    cmd.arg(&component).args(&spec.args);
    let out = run(cmd).map_err(|e| format!("cannot run ward: {e}"))?;
    let tail = |s: &str| {
        s.trim_end()
            .chars()
            .rev()
            .take(800)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<String>()
    };
    let Some(code) = out.code else { return Err(format!("no exit after {TEST_TIMEOUT:?}")) };
    if i64::from(code) != spec.exit_code {
        return Err(format!(
            "exit status {code}, expected {}\n      stderr: {}",
            spec.exit_code,
            tail(&out.stderr)
        ));
    }
    if spec.stdout.as_ref().is_some_and(|s| *s != out.stdout) {
        return Err(format!("stdout {:?}, expected {:?}", out.stdout, spec.stdout));
    }
    if spec.stderr.as_ref().is_some_and(|s| *s != out.stderr) {
        return Err(format!("stderr {:?}, expected {:?}", out.stderr, spec.stderr));
    }
    Ok(())
}

#[test]
fn wasi_p2_testsuite() {
    let suite = suite_dir();
    let all = components(&suite);
    if all.is_empty() {
        let msg = format!(
            "\n================================================================\n\
             WASI P2 TEST SET NOT FOUND: no tests/*/testsuite/wasm32-wasip2/*.wasm under\n  {}\n\
             Put the wasm32-wasip2 builds of WebAssembly/wasi-testsuite's Rust tests there\n\
             (see its README), or point WARD_WASI_P2_TESTSUITE at a copy.\n\
             ================================================================",
            suite.display()
        );
        loud(&msg);
        if std::env::var_os("CI").is_some() {
            panic!("the WASI p2 test set is required under CI{msg}");
        }
        loud("wasi_p2_suite: SKIPPED (set CI to make this a failure)");
        return;
    }
    let mut passed = Vec::new();
    let mut regressions = Vec::new();
    for wasm in &all {
        let name = wasm.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let dir = std::env::temp_dir().join(format!("ward-wasi-p2-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        let result = run_test(wasm, &dir);
        let _ = std::fs::remove_dir_all(&dir);
        match result {
            Ok(()) => {
                loud(&format!("  pass  {name}"));
                passed.push(name);
            }
            Err(why) => {
                let listed = PASSING.contains(&name.as_str());
                loud(&format!("  {}  {name}: {why}", if listed { "FAIL" } else { "fail" }));
                if listed {
                    regressions.push(name);
                }
            }
        }
    }
    loud(&format!("wasi-testsuite-p2 (wasm32-wasip2): {}/{} tests pass", passed.len(), all.len()));
    let missing: Vec<&&str> =
        PASSING.iter().filter(|n| !all.iter().any(|w| w.file_stem() == Some(n.as_ref()))).collect();
    assert!(missing.is_empty(), "tests listed as passing are missing from the set: {missing:?}");
    assert!(
        regressions.is_empty(),
        "{} test(s) listed as passing failed: {}",
        regressions.len(),
        regressions.join(", ")
    );
    let unlisted: Vec<&String> = passed.iter().filter(|n| !PASSING.contains(&n.as_str())).collect();
    if !unlisted.is_empty() {
        loud(&format!("now passing, add to PASSING: {unlisted:?}"));
    }
}

// --- `ward run` on components, beside the suite -------------------------------------------

/// A command component whose `run` runs core function body `body` (returning an i32: 0 for
/// `ok`, 1 for `err`), with `wasi:cli/exit` imported as `$exit (param i32)`.
fn command(body: &str) -> String {
    format!(
        r#"(component
  (import "wasi:cli/exit@0.2.3" (instance $e (export "exit" (func (param "status" (result))))))
  (core func $exit (canon lower (func $e "exit")))
  (core module $m
    (import "e" "exit" (func $exit (param i32)))
    (func (export "run") (result i32) {body}))
  (core instance $i (instantiate $m (with "e" (instance (export "exit" (func $exit))))))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $r (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $r)))"#
    )
}

/// Runs `ward run ARGS... FILE` on `text` written to a temporary file; status and stderr.
fn ward_on(name: &str, text: &str, args: &[&str]) -> (Option<i32>, String) {
    let dir = std::env::temp_dir().join(format!("ward-p2-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ward"));
    cmd.arg("run").args(args).arg(&file);
    let out = run(cmd).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (out.code, out.stderr)
}

#[test]
fn component_exit_statuses() {
    assert_eq!(ward_on("ok.wat", &command("(i32.const 0)"), &[]).0, Some(0));
    assert_eq!(ward_on("err.wat", &command("(i32.const 1)"), &[]).0, Some(1));
    let exit_err = command("(call $exit (i32.const 1)) (i32.const 0)");
    assert_eq!(ward_on("exit.wat", &exit_err, &[]).0, Some(1));
    let (code, err) = ward_on("trap.wat", &command("unreachable"), &[]);
    assert_eq!(code, Some(125), "{err}");
    assert!(err.contains("unreachable") && err.contains("wasm backtrace"), "{err}");
    let spin = command("(loop $l (br $l)) (i32.const 0)");
    assert_eq!(ward_on("spin.wat", &spin, &["--timeout", "300ms"]).0, Some(124));
    let (code, err) = ward_on("fuel.wat", &spin, &["--fuel", "10000"]);
    assert_eq!(code, Some(125), "{err}");
    assert!(err.contains("fuel"), "{err}");
}

#[test]
fn components_ward_cannot_run_are_named() {
    let lib = r#"(component
  (core module $m (func (export "f") (result i32) i32.const 1))
  (core instance $i (instantiate $m))
  (func $f (result u32) (canon lift (core func $i "f")))
  (instance $api (export "f" (func $f)))
  (export "my:lib/api" (instance $api)))"#;
    let (code, err) = ward_on("lib.wat", lib, &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("not a WASI command") && err.contains("`my:lib/api`"), "{err}");
    let keyvalue = r#"(component (import "wasi:keyvalue/store@0.2.6" (instance)))"#;
    let (code, err) = ward_on("kv.wat", keyvalue, &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("`wasi:keyvalue/store@0.2.6` has not been defined"), "{err}");
    assert!(err.contains("wasi:filesystem, wasi:sockets and wasi:http 0.2.x"), "{err}");
    let (code, err) = ward_on("ok.wat", &command("(i32.const 0)"), &["--invoke", "run"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("--invoke calls core module exports only"), "{err}");
}

/// A suite test that writes, run with its directory read-only: it fails, and the directory is
/// left as it was.
#[test]
fn read_only_dir_through_ward_run() {
    let suite = suite_dir();
    let wasm = components(&suite)
        .into_iter()
        .find(|w| w.file_stem().is_some_and(|s| s == "path_open_read_write"));
    let Some(wasm) = wasm else {
        loud("read_only_dir_through_ward_run: SKIPPED (the WASI p2 test set is missing)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("ward-p2-ro-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("root")).unwrap();
    std::fs::write(dir.join("root/keep.txt"), b"unchanged").unwrap();
    let mut mapping = dir.join("root").into_os_string();
    mapping.push("::/::ro");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ward"));
    cmd.arg("run").arg("--dir").arg(mapping).arg(&wasm);
    let out = run(cmd).unwrap();
    let entries: Vec<_> = std::fs::read_dir(dir.join("root")).unwrap().flatten().collect();
    let keep = std::fs::read(dir.join("root/keep.txt")).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_ne!(out.code, Some(0), "a writing test passed on a read-only directory");
    assert_eq!(entries.len(), 1, "something was created beneath the read-only directory");
    assert_eq!(keep, b"unchanged");
}

/// Runs `ward run ARGS...` with `input` on stdin; status, stdout, stderr.
fn ward_with_input(args: &[&std::ffi::OsStr], input: &[u8]) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ward"))
        .arg("run")
        .args(args)
        .env_remove("GREETING")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// `tests/wasi-p2/echo.wasm` (a Rust program built for wasm32-wasip2) gets the arguments,
/// the variables, the directory and the stdin `ward run` grants, and nothing else.
#[test]
fn a_rust_wasip2_command_gets_what_ward_run_grants() {
    let echo = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wasi-p2/echo.wasm");
    let dir = std::env::temp_dir().join(format!("ward-p2-echo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("in.txt"), "hello file\n").unwrap();
    let os = |s: &str| std::ffi::OsString::from(s);
    let mut mapping = dir.clone().into_os_string();
    mapping.push("::/data");

    let args = [
        os("--dir"),
        mapping.clone(),
        os("--env"),
        os("GREETING=hi"),
        echo.clone().into(),
        os("0"),
        os("two words"),
    ];
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let (code, out, err) = ward_with_input(&args, b"piped in\n");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out,
        "args: echo.wasm 0 two words\nGREETING=hi\nvars: 1\nin.txt: hello file\nwrote out.txt\n\
         /etc/passwd: NotFound\nstdin: piped in\n"
    );
    assert_eq!(err, "to stderr\n");
    assert_eq!(std::fs::read_to_string(dir.join("out.txt")).unwrap(), "HELLO FILE\n");
    std::fs::remove_file(dir.join("out.txt")).unwrap();

    // Read-only: the file is read, the write is refused, nothing is created.
    let mut ro = mapping.clone();
    ro.push("::ro");
    let args = [os("--dir"), ro, echo.clone().into(), os("3")];
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let (code, out, _) = ward_with_input(&args, b"");
    assert_eq!(code, Some(1));
    assert!(out.contains("in.txt: hello file\ncannot write out.txt: PermissionDenied\n"), "{out}");
    assert!(out.contains("GREETING unset\nvars: 0\n"), "{out}");
    assert!(!dir.join("out.txt").exists());

    // Nothing granted: no directory, no variables.
    let args = [echo.into_os_string()];
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let (code, out, _) = ward_with_input(&args, b"");
    assert_eq!(code, Some(0));
    assert!(out.contains("vars: 0\ncannot read in.txt: NotFound\n"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
