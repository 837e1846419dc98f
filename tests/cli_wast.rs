//! The `ward` binary: `ward wast` output and exit status, and the `ward MODULE` shorthand.

use std::path::PathBuf;
use std::process::{Command, Output};

fn ward(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ward")).args(args).output().expect("run the ward binary")
}

fn write(name: &str, text: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, text).expect("write a test file");
    path
}

fn stdout_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

const GOOD: &str = r#"
(module
  (func (export "fac") (param i64) (result i64)
    (if (result i64) (i64.eqz (local.get 0))
      (then (i64.const 1))
      (else (i64.mul (local.get 0) (call 0 (i64.sub (local.get 0) (i64.const 1))))))))
(assert_return (invoke "fac" (i64.const 5)) (i64.const 120))
(assert_trap (module (func unreachable) (start 0)) "unreachable")
(assert_invalid (module (func (result i32) (i64.const 0))) "type mismatch")
"#;

const BAD: &str = r#"(module (func (export "one") (result i32) (i32.const 1)))
(assert_return (invoke "one") (i32.const 1))
(assert_return (invoke "one") (i32.const 2))
"#;

#[test]
fn wast_passing_script() {
    let good = write("cli_good.wast", GOOD);
    let out = ward(&["wast", good.to_str().unwrap()]);
    let lines = stdout_lines(&out);
    assert_eq!(
        lines,
        [format!("{}: 4 passed, 0 failed", good.display()), "4 passed, 0 failed".to_string()],
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn wast_native_tier_counts_the_modules_of_each_tier() {
    let script = format!("{GOOD}\n(module (type (struct)))\n");
    let path = write("cli_native.wast", &script);
    let out = ward(&["wast", "--tier", "native", "-v", path.to_str().unwrap()]);
    let lines = stdout_lines(&out);
    let shown = path.display();
    assert_eq!(
        lines,
        [
            format!("{shown}: interpreted: it uses garbage collection (struct or array types)"),
            format!("{shown}: 5 passed, 0 failed"),
            "modules: 2 native, 1 interpreted".to_string(),
            "5 passed, 0 failed".to_string(),
        ],
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn wast_failing_script() {
    let good = write("cli_good2.wast", GOOD);
    let bad = write("cli_bad.wast", BAD);
    let out = ward(&["wast", good.to_str().unwrap(), bad.to_str().unwrap()]);
    let lines = stdout_lines(&out);
    assert_eq!(
        lines,
        [
            format!("{}: 4 passed, 0 failed", good.display()),
            format!("{}: 2 passed, 1 failed", bad.display()),
            "6 passed, 1 failed".to_string(),
        ]
    );
    assert_eq!(out.status.code(), Some(1));

    let out = ward(&["wast", "--verbose", bad.to_str().unwrap()]);
    let lines = stdout_lines(&out);
    assert_eq!(lines.len(), 3, "{lines:?}");
    let prefix = format!("{}:3:2: assert_return: ", bad.display());
    assert!(lines[0].starts_with(&prefix), "{lines:?}");
    assert!(lines[0].contains("(i32.const 2)") && lines[0].contains("(i32.const 1)"));
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn wast_missing_file_fails() {
    let out = ward(&["wast", "/nonexistent/missing.wast"]);
    assert_eq!(stdout_lines(&out).last().map(String::as_str), Some("0 passed, 1 failed"));
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn module_shorthand_invokes() {
    let m = write(
        "cli_add.wat",
        r#"(module (func (export "add") (param i32 i32) (result i32)
             local.get 0 local.get 1 i32.add)
           (func (export "boom") unreachable))"#,
    );
    // Ward's options come before the module: everything after it belongs to the guest.
    let out = ward(&["--invoke", "add", m.to_str().unwrap(), "2", "-5"]);
    assert_eq!(stdout_lines(&out), ["-3"], "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0));

    let out = ward(&["run", "--invoke", "boom", m.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unreachable"), "{stderr}");
    assert_eq!(out.status.code(), Some(125));
}

/// Two memories and two tables: valid in WebAssembly 3.0, invalid before multi-memory and
/// reference types.
const TWO_OF_EACH: &str = r#"(assert_invalid (module (memory 1) (memory 1)) "multiple memories")
(assert_invalid (module (table 1 funcref) (table 1 funcref)) "multiple tables")
"#;

#[test]
fn wast_features_follow_the_suite_directory_and_w_overrides_them() {
    // In a `proposals/threads` directory the scripts get the threads proposal's feature set.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli_features/proposals/threads");
    std::fs::create_dir_all(&dir).expect("make the directory");
    let threads = dir.join("two.wast");
    std::fs::write(&threads, TWO_OF_EACH).expect("write a test file");
    let out = ward(&["wast", threads.to_str().unwrap()]);
    assert_eq!(stdout_lines(&out).last().map(String::as_str), Some("2 passed, 0 failed"));
    assert_eq!(out.status.code(), Some(0));

    // Elsewhere both features are on, so the modules are valid and both directives fail.
    let plain = write("cli_two.wast", TWO_OF_EACH);
    let out = ward(&["wast", plain.to_str().unwrap()]);
    assert_eq!(stdout_lines(&out).last().map(String::as_str), Some("0 passed, 2 failed"));
    assert_eq!(out.status.code(), Some(1));

    // -W switches a feature for every script, over the directory's choice.
    let out = ward(&["wast", "-W", "multi-memory=n,reference-types=n", plain.to_str().unwrap()]);
    assert_eq!(stdout_lines(&out).last().map(String::as_str), Some("2 passed, 0 failed"));
    let out = ward(&["wast", "-W", "multi-memory=n", plain.to_str().unwrap()]);
    assert_eq!(stdout_lines(&out).last().map(String::as_str), Some("1 passed, 1 failed"));
    let out = ward(&["wast", "--wasm", "reference-types=y", threads.to_str().unwrap()]);
    assert_eq!(stdout_lines(&out).last().map(String::as_str), Some("1 passed, 1 failed"));

    // An unknown feature is a usage error.
    let out = ward(&["wast", "-W", "gc-everything=y", plain.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown feature"));
}

/// A component script: a string lifted from core code, a trap in a component's start, and one
/// wrong expectation.
const COMPONENT: &str = r#"
(component
  (core module $m
    (memory (export "mem") 1)
    (data (i32.const 16) "hello")
    (func (export "s") (result i32)
      (i32.store (i32.const 0) (i32.const 16))
      (i32.store (i32.const 4) (i32.const 5))
      (i32.const 0)))
  (core instance $i (instantiate $m))
  (func (export "s") (result string)
    (canon lift (core func $i "s") (memory (core memory $i "mem")))))
(assert_return (invoke "s") (str.const "hello"))
(assert_return (invoke "s") (str.const "bye"))
(assert_trap
  (component
    (core module $t (func $start unreachable) (start $start))
    (core instance (instantiate $t)))
  "unreachable")
"#;

#[test]
fn wast_runs_component_scripts_with_the_component_runner() {
    let script = write("cli_component.wast", COMPONENT);
    let core = write("cli_good3.wast", GOOD);
    for tier in ["interp", "native"] {
        let out = ward(&["wast", "--tier", tier, core.to_str().unwrap(), script.to_str().unwrap()]);
        let lines = stdout_lines(&out);
        assert_eq!(
            lines.iter().filter(|l| !l.starts_with("modules:")).collect::<Vec<_>>(),
            [
                &format!("{}: 4 passed, 0 failed", core.display()),
                &format!("{}: 3 passed, 1 failed", script.display()),
                &"7 passed, 1 failed".to_string(),
            ],
            "{tier}; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(1), "{tier}");
    }
}
