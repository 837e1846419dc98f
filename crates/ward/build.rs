//! Gives the crate a build id, `WARD_BUILD_ID`: a hash of its own source files. Ahead-of-time
//! artifacts carry it, so code compiled by one build of Ward is never loaded by another build
//! with the same version number whose native code or runtime calls differ (`api/artifact.rs`).
//! Also decides whether the interpreter's handlers jump to each other (`ward_tail_dispatch`).

use std::path::{Path, PathBuf};

fn main() {
    // Read at run time, not with `env!`: a build script compiled for a checkout elsewhere that
    // shares this target directory may be reused, and must hash this checkout's files.
    let manifest_dir =
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest_dir);
    let mut files = Vec::new();
    collect(&root.join("src"), &mut files);
    files.push(root.join("Cargo.toml"));
    files.sort();
    // FNV-1a, 64 bits, over each file's path (relative) and contents: enough to tell builds
    // apart, not a defence against anyone (artifacts are trusted input).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        h = (h ^ 0xff).wrapping_mul(0x0100_0000_01b3);
    };
    for f in &files {
        let rel = f.strip_prefix(root).unwrap_or(f);
        eat(rel.to_string_lossy().as_bytes());
        eat(&std::fs::read(f).unwrap_or_else(|e| panic!("cannot read {}: {e}", f.display())));
    }
    println!("cargo:rustc-env=WARD_BUILD_ID={h:016x}");

    // The interpreter's threaded dispatch (`src/interp/threaded.rs`) ends each handler with a
    // call in tail position. Optimised builds on these targets turn it into a jump; anywhere
    // else the handlers return to a loop instead, so the native stack never grows with the
    // number of instructions run. Debug assertions add checks that keep some tail calls calls
    // (seen: memory access handlers at opt-level 2), so they select the loop as well.
    println!("cargo::rustc-check-cfg=cfg(ward_tail_dispatch)");
    let optimised = matches!(std::env::var("OPT_LEVEL").as_deref(), Ok("2" | "3" | "s" | "z"))
        && std::env::var_os("CARGO_CFG_DEBUG_ASSERTIONS").is_none();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if optimised && matches!(arch.as_str(), "x86_64" | "aarch64") && os != "windows" {
        println!("cargo::rustc-cfg=ward_tail_dispatch");
    }
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=Cargo.toml");
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}
