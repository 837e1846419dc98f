//! The component model's reference tests (`component-model/test/`), run with
//! `ward_component::wast`.
//!
//! Every `.wast` file not listed in the suite's `nyi.txt` is run and reported (per file and in
//! total). The files in [`ENFORCED`] must pass every directive, so the number can only go up:
//! when a file starts passing fully, add it. The suite is looked for in
//! `../shared/component-model-testsuite/test` next to the workspace, or where
//! `WARD_COMPONENT_TESTSUITE` points. If it is missing the test says so loudly, and fails when
//! `CI` is set (is skipped otherwise). Each file's first three failures are printed; with
//! `WARD_COMPONENT_VERBOSE` set, all of them.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Files (relative to the suite's `test/` directory) that must pass 100%.
const ENFORCED: &[&str] = &[
    "linking/link-time-virtualization.wast",
    "linking/shared-everything-dynamic-linking.wast",
    "linking/tags.wast",
    "linking/unit.wast",
    "resources/borrows.wast",
    "resources/handle-table.wast",
    "resources/multiple-resources.wast",
    "validation/abi.wast",
    "validation/annotated-names.wast",
    "validation/attributes.wast",
    "validation/core-modules.wast",
    "validation/defined-types.wast",
    "validation/extern-names.wast",
    "validation/external-visibility.wast",
    "validation/indicies.wast",
    "validation/instantiation.wast",
    "validation/outer-alias.wast",
    "validation/resources.wast",
    "values/alignment.wast",
    "values/concat.wast",
    "values/numerics.wast",
    "values/realloc.wast",
    "values/strings.wast",
    "values/transcode.wast",
    "async/validate-no-async-abi-for-sync-type.wast",
    "async/validate-no-stream-char.wast",
    "async/cross-abi-calls.wast",
    "async/deadlock.wast",
    "async/drop-cross-task-borrow.wast",
    "async/drop-subtask.wast",
    "async/drop-waitable-set.wast",
    "async/empty-wait.wast",
    "async/same-component-stream-future.wast",
    "async/wait-during-callback.wast",
    "values/post-return.wast",
    "values/variants.wast",
    "async/big-interleaving-test.wast",
    "async/cancel-stream.wast",
    "async/drop-stream.wast",
    "async/partial-stream-copies.wast",
    "async/passing-resources.wast",
    "async/trap-if-done.wast",
    "async/zero-length.wast",
    "async/builtin-trap-poisons-instance.wast",
    "async/closed-stream.wast",
    "async/cross-task-future.wast",
    "async/dont-block-start.wast",
    "async/futures-must-write.wast",
    "async/trap-if-transfer-in-waitable-set.wast",
    "async/trap-on-reenter.wast",
    "async/async-calls-sync.wast",
    "async/cancel-subtask.wast",
    "async/sync-barges-in.wast",
    "async/sync-streams.wast",
    "async/trap-if-block-and-sync.wast",
    "async/trap-if-sync-and-waitable-set.wast",
];

fn loud(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

fn suite_dir() -> PathBuf {
    match std::env::var_os("WARD_COMPONENT_TESTSUITE") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/component-model-testsuite/test"),
    }
}

fn scripts(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.filter_map(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            scripts(&p, out);
        } else if p.extension().is_some_and(|x| x == "wast") {
            out.push(p);
        }
    }
}

fn relative(dir: &Path, p: &Path) -> String {
    p.strip_prefix(dir).unwrap_or(p).to_string_lossy().replace('\\', "/")
}

#[test]
fn reference_suite() {
    let dir = suite_dir();
    let mut files = Vec::new();
    scripts(&dir, &mut files);
    if files.is_empty() {
        let how = format!(
            "\n============ COMPONENT-MODEL REFERENCE SUITE NOT FOUND ============\n\
             No .wast files under {} .\n\
             Get it with\n    git clone https://github.com/WebAssembly/component-model\n\
             and copy its test/ directory to ../shared/component-model-testsuite/test\n\
             (relative to the workspace root), or point WARD_COMPONENT_TESTSUITE at it.\n\
             ====================================================================\n",
            dir.display()
        );
        loud(&how);
        if std::env::var_os("CI").is_some() {
            panic!("the component-model reference suite is required when CI is set{how}");
        }
        loud("reference_suite: SKIPPED (CI is not set)");
        return;
    }
    let nyi: Vec<String> = std::fs::read_to_string(dir.join("nyi.txt"))
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_start_matches("./").to_string())
        .collect();
    files.sort();
    files.retain(|p| !nyi.contains(&relative(&dir, p)));

    let (mut passed, mut failed, mut full) = (0, 0, 0);
    let mut broken = Vec::new();
    for path in &files {
        let name = relative(&dir, path);
        let report = ward_component::wast::run_file(path);
        passed += report.passed;
        failed += report.failed;
        let ok = report.failed == 0 && report.passed > 0;
        full += ok as usize;
        println!("{name}: {} passed, {} failed", report.passed, report.failed);
        let shown =
            if std::env::var_os("WARD_COMPONENT_VERBOSE").is_some() { usize::MAX } else { 3 };
        for f in report.failures.iter().take(shown) {
            println!("    {}: {}: {}", f.line, f.directive, f.message);
        }
        if ENFORCED.contains(&name.as_str()) && !ok {
            broken.push(format!("{name}: {} passed, {} failed", report.passed, report.failed));
        }
    }
    println!(
        "TOTAL: {full}/{} files fully passing; directives {passed} passed, {failed} failed",
        files.len()
    );
    for name in ENFORCED {
        assert!(
            files.iter().any(|p| relative(&dir, p) == *name),
            "enforced file {name} is missing from the suite"
        );
    }
    assert!(broken.is_empty(), "enforced files regressed:\n{}", broken.join("\n"));
}
