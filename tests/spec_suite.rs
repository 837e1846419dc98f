//! The official WebAssembly spec test suite, run through `ward-wast` (the code behind `ward wast`).
//!
//! Every `.wast` file at the root of the suite must pass 100% of its directives (garbage
//! collection included), and so must the files of `legacy/` and `proposals/*` listed in
//! [`ENFORCED_DIRS`]. The suite is looked for in `../shared/wasm-testsuite` next to the
//! workspace, or where `WARD_SPEC_TESTSUITE` points. `WARD_SPEC_FILTER=text` runs only the files
//! whose name contains `text` (e.g. `WARD_SPEC_FILTER=array`). If it is missing, the test says so loudly; it then fails
//! when `CI` is set and is skipped otherwise, so that a fresh clone still passes `cargo test`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Files that may fail every directive without failing the test: none since garbage
/// collection runs (the GC files are enforced like the others).
fn exempt(_file_name: &str) -> bool {
    false
}

/// Directories of the suite beside the root (legacy features and proposals) and the files in
/// each that must pass every directive. The other files of these directories are run and
/// reported, not enforced.
const ENFORCED_DIRS: &[(&str, &[&str])] = &[
    ("legacy", &["rethrow.wast", "throw.wast", "try_catch.wast", "try_delegate.wast"]),
    ("proposals/wide-arithmetic", &["wide-arithmetic.wast"]),
    (
        "proposals/custom-page-sizes",
        &[
            "binary.wast",
            "custom-page-sizes-invalid.wast",
            "custom-page-sizes.wast",
            "memory_max.wast",
            "memory_max_i64.wast",
        ],
    ),
    // The threads proposal predates multi-memory and reference types (`imports.wast` and
    // `memory.wast` expect modules with two memories or tables to be invalid): its files run
    // with the proposal's own feature set (`ward_wast::Features::of_suite_dir`).
    ("proposals/threads", &["atomic.wast", "exports.wast", "imports.wast", "memory.wast"]),
];

/// Writes to the real stderr, past the test harness's capture, so the notice is always seen.
fn loud(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
}

fn suite_dir() -> PathBuf {
    match std::env::var_os("WARD_SPEC_TESTSUITE") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/wasm-testsuite"),
    }
}

fn root_scripts(dir: &Path) -> Vec<PathBuf> {
    let filter = std::env::var("WARD_SPEC_FILTER").unwrap_or_default();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "wast"))
                .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().contains(&filter)))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Ends the test process, naming the directives still running, if the suite takes far longer
/// than it should (it runs in seconds): a wasm loop that never ends must not hang CI.
/// `WARD_SPEC_TIMEOUT` (seconds, default 900) sets the limit.
struct Watchdog(Arc<AtomicBool>);

impl Watchdog {
    fn start() -> Watchdog {
        let limit = std::env::var("WARD_SPEC_TIMEOUT")
            .ok()
            .and_then(|s| s.parse().ok())
            .map_or(Duration::from_secs(900), Duration::from_secs);
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            while !flag.load(Ordering::Relaxed) {
                if start.elapsed() > limit {
                    let mut text = format!("spec_suite: still running after {limit:?}; stuck in:");
                    for (path, line) in ward_wast::in_progress() {
                        text.push_str(&format!("\n  {}:{line}", path.display()));
                    }
                    loud(&text);
                    std::process::exit(1);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        Watchdog(done)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Says loudly that the suite (or one of its directories) is missing; fails when `CI` is set,
/// and otherwise lets the caller skip it.
fn missing(dir: &Path) {
    let how = format!(
        "\n==================== SPEC SUITE NOT FOUND ====================\n\
         No .wast files in {} (absolute: {}).\n\
         Get the suite with\n    \
         git clone https://github.com/WebAssembly/testsuite ../shared/wasm-testsuite\n\
         (relative to the workspace root), or point WARD_SPEC_TESTSUITE at a clone.\n\
         ==============================================================\n",
        dir.display(),
        std::path::absolute(dir).unwrap_or(dir.to_path_buf()).display()
    );
    loud(&how);
    if std::env::var_os("CI").is_some() {
        panic!("the spec suite is required when CI is set{how}");
    }
    loud("spec_suite: SKIPPED (CI is not set)");
}

/// A file that does not pass every directive, with its first failures, for an assertion.
fn describe_broken(report: &ward_wast::Report) -> String {
    let first: Vec<String> = report
        .failures
        .iter()
        .take(3)
        .map(|f| format!("    {}:{}: {}: {}", f.line, f.column, f.directive, f.message))
        .collect();
    format!(
        "  {}: {} passed, {} failed\n{}",
        report.path.display(),
        report.passed,
        report.failed,
        first.join("\n")
    )
}

/// Runs `files`, printing a line per file; returns the (passed, failed) counts of enforced and
/// of other files, and a description of each enforced file that does not pass every directive.
fn run_enforcing(
    files: &[PathBuf],
    enforced: impl Fn(&str) -> bool,
    label: &str,
) -> ((usize, usize), (usize, usize), Vec<String>) {
    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut enforced_counts = (0usize, 0usize);
    let mut deferred = (0usize, 0usize);
    let mut broken = Vec::new();
    ward_wast::run_files(files, jobs, |report| {
        let name = report.path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let on = enforced(&name);
        println!(
            "{name}: {} passed, {} failed{}",
            report.passed,
            report.failed,
            if on { String::new() } else { format!(" ({label}, not enforced)") }
        );
        let counts = if on { &mut enforced_counts } else { &mut deferred };
        counts.0 += report.passed;
        counts.1 += report.failed;
        if on && (report.failed > 0 || report.total() == 0) {
            broken.push(describe_broken(&report));
        }
    });
    (enforced_counts, deferred, broken)
}

#[test]
fn spec_suite() {
    let dir = suite_dir();
    let files = root_scripts(&dir);
    if files.is_empty() {
        missing(&dir);
        return;
    }

    let _watchdog = Watchdog::start();
    let (enforced, deferred, broken) = run_enforcing(&files, |name| !exempt(name), "exempt");
    println!("enforced: {} passed, {} failed", enforced.0, enforced.1);
    println!("exempt files: {} passed, {} failed", deferred.0, deferred.1);
    assert!(
        broken.is_empty(),
        "{} spec file(s) do not pass every directive (run `ward wast -v FILE` for all failures):\n{}",
        broken.len(),
        broken.join("\n")
    );
}

/// The directories beside the root: every file listed in [`ENFORCED_DIRS`] must pass every
/// directive; a listed file that is missing is a failure too.
#[test]
fn spec_suite_proposals() {
    let _watchdog = Watchdog::start();
    let mut broken = Vec::new();
    for (sub, listed) in ENFORCED_DIRS {
        let dir = suite_dir().join(sub);
        let files = root_scripts(&dir);
        if files.is_empty() {
            missing(&dir);
            continue;
        }
        let filtered = std::env::var_os("WARD_SPEC_FILTER").is_some();
        for name in *listed {
            if !filtered && !files.iter().any(|f| f.file_name().is_some_and(|n| n == *name)) {
                broken.push(format!("  {sub}/{name}: missing"));
            }
        }
        let (enforced, deferred, mut bad) =
            run_enforcing(&files, |name| listed.contains(&name), "not listed");
        println!("{sub}: enforced: {} passed, {} failed", enforced.0, enforced.1);
        println!("{sub}: not enforced: {} passed, {} failed", deferred.0, deferred.1);
        broken.append(&mut bad);
    }
    assert!(
        broken.is_empty(),
        "{} spec file(s) do not pass every directive (run `ward wast -v FILE` for all failures):\n{}",
        broken.len(),
        broken.join("\n")
    );
}

/// The runner itself counts right: a script with one deliberately wrong expectation.
#[test]
fn runner_counts_failures() {
    let script = r#"
        (module $m
          (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
          (func (export "id") (param f32) (result f32) local.get 0)
          (func (export "trap") unreachable))
        (assert_return (invoke "add" (i32.const 1) (i32.const 2)) (i32.const 3))
        (assert_return (invoke "add" (i32.const 1) (i32.const 2)) (i32.const 4))
        (assert_return (invoke "id" (f32.const nan)) (f32.const nan:canonical))
        (assert_trap (invoke "trap") "unreachable")
        (assert_invalid (module (func (result i32))) "type mismatch")
        (assert_malformed (module quote "(func") "unexpected end")
        (assert_return (invoke "no-such-export"))
    "#;
    let report = ward_wast::run_script("counts.wast", script);
    let lines: Vec<usize> = report.failures.iter().map(|f| f.line).collect();
    assert_eq!((report.passed, report.failed), (6, 2), "failures: {:#?}", report.failures);
    assert_eq!(lines, [7, 12]);
    assert_eq!(report.failures[0].directive, "assert_return");
    assert!(report.failures[0].message.contains("(i32.const 4)"), "{}", report.failures[0].message);
}

/// Unparsable scripts and missing files are failures, not panics and not passes.
#[test]
fn runner_reports_bad_input() {
    let report = ward_wast::run_script("bad.wast", "(module (func)) (assert_return (invoke");
    assert_eq!((report.passed, report.failed), (0, 1));
    let report = ward_wast::run_file("/nonexistent/dir/x.wast");
    assert_eq!((report.passed, report.failed), (0, 1));
    assert!(report.failures[0].message.contains("cannot read"));
}

/// What a fallback reason is about, for the native run's summary: the operator's name, or the
/// module-level reason without its details.
fn fallback_kind(reason: &str) -> String {
    let head = match reason.strip_prefix('`') {
        Some(op) => op.split(['`', ' ', '{']).next().unwrap_or(op),
        None => reason.split(" (").next().unwrap_or(reason),
    };
    head.split(" at offset").next().unwrap_or(head).to_string()
}

/// The root files, and the enforced files of [`ENFORCED_DIRS`], again under the native tier
/// (`Config::tier(Tier::Native)`): a module the native tier compiles must behave exactly as in
/// the interpreter, so the same files must pass every directive; modules it does not cover yet
/// run in the interpreter. Prints how many files ran every module natively, and what made the
/// others fall back.
#[test]
fn spec_suite_native() {
    let dir = suite_dir();
    let mut files = root_scripts(&dir);
    if files.is_empty() {
        missing(&dir);
        return;
    }
    for (sub, listed) in ENFORCED_DIRS {
        let enforced = root_scripts(&dir.join(sub)).into_iter();
        files.extend(
            enforced.filter(|f| f.file_name().is_some_and(|n| listed.iter().any(|l| n == *l))),
        );
    }
    let _watchdog = Watchdog::start();
    let mut config = ward::Config::new();
    config.tier(ward::Tier::Native);
    // As `ward wast --tier native`: guarded memories, bounds left to the fault handler.
    config.memory_strategy(ward::MemoryStrategy::Guarded);
    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (mut all_native, mut mixed, mut interpreted) = (0, 0, 0);
    let (mut native_modules, mut interpreted_modules) = (0, 0);
    let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
    let mut broken = Vec::new();
    ward_wast::run_files_with(&files, jobs, &config, |report| {
        let name = report.path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let tiers = match (report.native_modules, report.interpreted_modules) {
            (0, _) => {
                interpreted += 1;
                "interpreted"
            }
            (_, 0) => {
                all_native += 1;
                "native"
            }
            _ => {
                mixed += 1;
                "mixed"
            }
        };
        native_modules += report.native_modules;
        interpreted_modules += report.interpreted_modules;
        for reason in &report.fallbacks {
            *kinds.entry(fallback_kind(reason)).or_default() += 1;
        }
        println!(
            "{name}: {} passed, {} failed; modules: {} native, {} interpreted ({tiers})",
            report.passed, report.failed, report.native_modules, report.interpreted_modules
        );
        if !exempt(&name) && (report.failed > 0 || report.total() == 0) {
            broken.push(describe_broken(&report));
        }
    });
    println!(
        "native tier: {all_native} files ran every module natively, {mixed} some, \
         {interpreted} none; modules: {native_modules} native, {interpreted_modules} interpreted"
    );
    let mut kinds: Vec<(String, usize)> = kinds.into_iter().collect();
    kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for (kind, n) in kinds.iter().take(25) {
        println!("  fell back {n:>5}: {kind}");
    }
    assert!(
        broken.is_empty(),
        "{} spec file(s) do not pass every directive under the native tier (run `ward wast \
         --tier native -v FILE` for all failures):\n{}",
        broken.len(),
        broken.join("\n")
    );
}
