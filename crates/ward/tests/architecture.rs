//! The direction of flow between the library's folders (ARCHITECTURE.md): `module/` (decode,
//! validate) -> `runtime/` (layout, instantiation, pools) -> tiers (`interp/`, `native/`) ;
//! `api/` on top. A folder may only name the folders before it; the tiers do not name each
//! other.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `crate::<folder>` path named by the files of `folder` that is in `forbidden`.
fn violations(folder: &str, forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(folder);
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(!files.is_empty(), "no sources under {}", root.display());
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("a readable source file");
        for (n, line) in text.lines().enumerate() {
            for f in forbidden {
                if line.contains(&format!("crate::{f}::")) || line.contains(&format!("crate::{f};"))
                {
                    found.push(format!(
                        "{}:{}: names `{f}`: {}",
                        file.display(),
                        n + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn decoding_knows_nothing_of_execution() {
    let v = violations("module", &["runtime", "interp", "native", "api"]);
    assert!(v.is_empty(), "module/ must not depend on later layers:\n{}", v.join("\n"));
}

#[test]
fn the_runtime_names_no_tier_and_no_api() {
    let v = violations("runtime", &["interp", "native", "api"]);
    assert!(v.is_empty(), "runtime/ must not depend on tiers or the API:\n{}", v.join("\n"));
}

#[test]
fn the_interpreter_does_not_reach_up_into_the_api() {
    let v = violations("interp", &["api", "native"]);
    assert!(
        v.is_empty(),
        "interp/ must not depend on the API or the native tier:\n{}",
        v.join("\n")
    );
}

#[test]
fn the_native_tier_does_not_reach_up_into_the_api() {
    let v = violations("native", &["api", "interp"]);
    assert!(
        v.is_empty(),
        "native/ must not depend on the API or the interpreter:\n{}",
        v.join("\n")
    );
}
