//! Perf maps: `/tmp/perf-<pid>.map`, the file in which `perf report` looks up the names of
//! code it found no symbols for (JIT code). Written when the engine's configuration asks for it
//! ([`Config::native_perf_map`](crate::Config::native_perf_map)); one line per function:
//! `START SIZE NAME`, addresses in hex.

use std::io::Write;
use std::sync::Mutex;

/// The map is appended to from any thread compiling or loading a module; lines must not mix.
static FILE: Mutex<Option<std::fs::File>> = Mutex::new(None);

/// Appends the functions whose code starts at the offsets `funcs` (ascending) of the code at
/// `start` (`len` bytes, the trampolines after the last function) under names `name(i)`.
/// Failures are logged, never fatal: profiling must not change what runs.
pub(super) fn record(start: usize, len: usize, funcs: &[u32], name: impl Fn(usize) -> String) {
    let mut text = String::new();
    for (i, &at) in funcs.iter().enumerate() {
        let end = funcs.get(i + 1).map_or(len, |&next| next as usize);
        let size = end.saturating_sub(at as usize);
        // Perf reads the name to the end of the line.
        let name: String = name(i).chars().map(|c| if c.is_control() { '?' } else { c }).collect();
        text.push_str(&format!("{:x} {size:x} {name}\n", start + at as usize));
    }
    let mut file = FILE.lock().unwrap_or_else(|e| e.into_inner());
    if file.is_none() {
        let path = format!("/tmp/perf-{}.map", std::process::id());
        match std::fs::OpenOptions::new().create(true).append(true).open(&path) {
            Ok(f) => *file = Some(f),
            Err(e) => {
                tracing::warn!(target: "ward", %path, error = %e, "cannot write the perf map");
                return;
            }
        }
    }
    if let Some(f) = file.as_mut() {
        if let Err(e) = f.write_all(text.as_bytes()) {
            tracing::warn!(target: "ward", error = %e, "cannot write the perf map");
        }
    }
}
