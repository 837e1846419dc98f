//! Ahead-of-time artifacts: a module compiled by the native tier, saved with
//! [`Module::serialize`] and loaded with [`Module::deserialize`] or
//! [`Module::deserialize_file`] without compiling again.
//!
//! An artifact holds the module's binary (decoded again on load, without validating function
//! bodies: the loader is `unsafe` because it trusts them and the code) and the native tier's
//! linked image (mapped as code as it is, with the addresses of runtime calls written in). All
//! integers are little-endian:
//!
//! ```text
//! 0   magic  b"\0wardaot"
//! 8   format version u32 (FORMAT), then a u32 that must be 0
//! 16  checksum u64: `checksum` of every byte from offset 24 to the end
//! 24  length u64: of the whole artifact
//! 32  strings (u32 length + UTF-8): Ward version, Cranelift version, target triple;
//!     the CPU features the code may use (u32 count + strings); the configuration that shapes
//!     code (u32 count + key, value strings: `config_items`)
//!     kind u8: 0 interpreted (+ the reason string), 1 native
//!     the module binary (u64 length + bytes)
//!     native only: function entries, trampolines (u32 count + u32 offsets each), runtime call
//!     relocations (u32 count + offset u32, runtime call u32, addend i64), trap sites (u32
//!     count + sorted u32 offsets of the accesses left to the guard region), the largest frame
//!     (u32 bytes), catch table (u32
//!     count + u32 words: where the handlers of calls inside `try_table`s are), code (u64
//!     length + bytes, runtime call addresses zero)
//! ```
//!
//! Loading checks, in order, the magic, the format version, the length, the checksum, then
//! each field that must match this process (Ward and Cranelift versions, target, CPU features,
//! configuration), and reports the first difference by name. A truncated or damaged artifact is
//! an error, never a crash (the reader is bounds-checked and every offset into the code is
//! checked against its length); only an artifact that passes the checksum yet was not made by
//! [`Module::serialize`] of this Ward can do harm, which is the loader's safety contract.
//!
//! A module the native tier did not cover (it runs in the interpreter) is saved too, as its
//! binary and the reason, and loads as such.

use crate::engine::{Engine, MemoryStrategy, Tier};
use crate::error::{Error, Result};
use crate::module::{Bodies, Module, ModuleBytes};
use crate::native::{self, LibcallReloc, NativeImage, Prepared};
use std::borrow::Cow;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

/// The first bytes of every artifact.
pub(crate) const MAGIC: [u8; 8] = *b"\0wardaot";
/// The version of the layout described above; a change to it, to the runtime call list
/// (`native::libcalls`) or to the native calling conventions needs a new one.
const FORMAT: u32 = 5;
const HEADER: usize = 32;
const CRANELIFT_VERSION: &str = "0.135.8";
/// The version and the build id (a hash of the crate's sources, `build.rs`): two builds of the
/// same version may generate different code or list runtime calls differently.
const WARD_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "+", env!("WARD_BUILD_ID"));

/// A 64-bit checksum (not cryptographic): four lanes, each step `x -> rotl((x ^ w) * k, 31)`, a
/// bijection of the lane for each word, so any change confined to one 8-byte word always
/// changes the result.
pub(crate) fn checksum(bytes: &[u8]) -> u64 {
    const K: [u64; 4] = [
        0x9e37_79b9_7f4a_7c15,
        0xc2b2_ae3d_27d4_eb4f,
        0x1656_67b1_9e37_79f9,
        0xd6e8_feb8_6659_fd93,
    ];
    let mut h = K;
    let mut chunks = bytes.chunks_exact(32);
    for c in &mut chunks {
        for (i, lane) in h.iter_mut().enumerate() {
            let w = u64::from_le_bytes(c[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
            *lane = ((*lane ^ w).wrapping_mul(K[i])).rotate_left(31);
        }
    }
    let rest = chunks.remainder();
    for (i, word) in rest.chunks(8).enumerate() {
        let mut w = [0u8; 8];
        w[..word.len()].copy_from_slice(word);
        h[i] = ((h[i] ^ u64::from_le_bytes(w)).wrapping_mul(K[i])).rotate_left(31);
    }
    let mut f = bytes.len() as u64;
    for (i, lane) in h.iter().enumerate() {
        f = ((f ^ lane).wrapping_mul(K[(i + 1) % 4])).rotate_left(29);
    }
    f ^ (f >> 32)
}

/// The engine settings that change the code the native tier generates (or what the module may
/// use), as `(key, value)`: an artifact loads only into an engine with the same.
fn config_items(engine: &Engine) -> Vec<(String, String)> {
    let c = engine.config();
    let on = |b: bool| if b { "on" } else { "off" }.to_string();
    let features: Vec<&str> = c.features.iter_names().map(|(name, _)| name).collect();
    vec![
        ("tier".into(), if c.tier == Tier::Native { "native" } else { "interpreter" }.into()),
        ("fuel".into(), on(c.consume_fuel)),
        ("interruptible".into(), on(c.interruptible)),
        ("epoch_interruption".into(), on(c.epoch_interruption)),
        ("max_call_depth".into(), c.max_call_depth.to_string()),
        // Code for guarded memories leaves bounds checks to the guard region: it must never
        // run on dense memories.
        (
            "memory_strategy".into(),
            match c.memory_strategy {
                MemoryStrategy::Dense => "dense",
                MemoryStrategy::Guarded => "guarded",
            }
            .into(),
        ),
        ("features".into(), features.join(" ")),
    ]
}

impl Engine {
    /// Everything an artifact must match to load into this engine, as text: Ward's version and
    /// build, the artifact format, Cranelift's version, the target and its CPU features, and
    /// the engine settings that shape native code. Engines with equal fingerprints load each
    /// other's artifacts ([`Module::serialize`], [`Module::deserialize`]); a compilation cache
    /// keys its entries by the fingerprint and the module's bytes.
    ///
    /// ```
    /// let mut config = ward::Config::new();
    /// config.tier(ward::Tier::Native);
    /// let a = ward::Engine::new(&config);
    /// config.consume_fuel(true);
    /// let b = ward::Engine::new(&config);
    /// assert_ne!(a.artifact_fingerprint(), b.artifact_fingerprint());
    /// ```
    pub fn artifact_fingerprint(&self) -> String {
        let (target, features) = native::host_target().unwrap_or_else(|why| (why, Vec::new()));
        let mut out = format!(
            "ward {WARD_VERSION}; format {FORMAT}; cranelift {CRANELIFT_VERSION}; target {target}; \
             cpu {}",
            features.join(" ")
        );
        for (k, v) in config_items(self) {
            out.push_str(&format!("; {k}={v}"));
        }
        out
    }
}

/// What differs between the settings an artifact was compiled with and the engine's.
fn config_difference(saved: &[(String, String)], ours: &[(String, String)]) -> Option<String> {
    let mut diffs = Vec::new();
    for (key, value) in ours {
        match saved.iter().find(|(k, _)| k == key) {
            Some((_, v)) if v == value => {}
            Some((_, v)) if key == "features" => {
                let set = |s: &str| {
                    s.split(' ').filter(|w| !w.is_empty()).map(String::from).collect::<Vec<_>>()
                };
                let (a, b) = (set(v), set(value));
                let only_saved: Vec<_> = a.iter().filter(|f| !b.contains(f)).cloned().collect();
                let only_ours: Vec<_> = b.iter().filter(|f| !a.contains(f)).cloned().collect();
                diffs.push(format!(
                    "WebAssembly features (the artifact's has {} that the engine's lacks, the \
                     engine's has {} that the artifact's lacks)",
                    list_or_none(&only_saved),
                    list_or_none(&only_ours)
                ));
            }
            Some((_, v)) => diffs.push(format!("{key}={v} (the engine has {key}={value})")),
            None => diffs.push(format!("no {key} setting (the engine has {key}={value})")),
        }
    }
    for (key, v) in saved {
        if !ours.iter().any(|(k, _)| k == key) {
            diffs.push(format!("{key}={v}, which this Ward does not know"));
        }
    }
    (!diffs.is_empty()).then(|| diffs.join(", "))
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

// ---- writing --------------------------------------------------------------------------------

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn len32(&mut self, n: usize) -> Result<()> {
        let n =
            u32::try_from(n).map_err(|_| Error::Usage("the module is too large to save".into()))?;
        self.u32(n);
        Ok(())
    }
    fn str(&mut self, s: &str) -> Result<()> {
        self.len32(s.len())?;
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.0.extend_from_slice(b);
    }
    fn u32s(&mut self, v: &[u32]) -> Result<()> {
        self.len32(v.len())?;
        for x in v {
            self.u32(*x);
        }
        Ok(())
    }
}

/// The artifact of `module` (see the module documentation).
pub(crate) fn serialize(module: &Module) -> Result<Vec<u8>> {
    let m = &module.inner;
    let Some(prepared) = native::prepared(m) else {
        return Err(Error::Usage(
            "only a module compiled by the native tier can be saved as an artifact (its engine \
             runs the interpreter: use `Config::tier(Tier::Native)`)"
                .into(),
        ));
    };
    let (target, features) = native::host_target().map_err(Error::Unsupported)?;
    let code_len = match &prepared {
        Prepared::Native(image) => image.code.len(),
        Prepared::Interpreted(_) => 0,
    };
    let mut w = Writer(Vec::with_capacity(HEADER + 1024 + m.bytes.len() + code_len));
    w.0.extend_from_slice(&MAGIC);
    w.u32(FORMAT);
    w.u32(0);
    w.u64(0); // checksum, filled in below
    w.u64(0); // length, likewise
    w.str(WARD_VERSION)?;
    w.str(CRANELIFT_VERSION)?;
    w.str(&target)?;
    w.len32(features.len())?;
    for f in &features {
        w.str(f)?;
    }
    let items = config_items(&m.engine);
    w.len32(items.len())?;
    for (k, v) in &items {
        w.str(k)?;
        w.str(v)?;
    }
    match &prepared {
        Prepared::Interpreted(reason) => {
            w.u8(0);
            w.str(reason)?;
            w.bytes(&m.bytes);
        }
        Prepared::Native(image) => {
            w.u8(1);
            w.bytes(&m.bytes);
            w.u32s(&image.funcs)?;
            w.u32s(&image.trampolines)?;
            w.len32(image.relocs.len())?;
            for r in &image.relocs {
                w.u32(r.offset);
                w.u32(r.libcall);
                w.u64(r.addend as u64);
            }
            w.u32s(&image.trap_sites)?;
            w.u32(image.max_frame);
            w.u32s(&image.catches)?;
            w.bytes(&image.code);
        }
    }
    let mut out = w.0;
    let len = out.len() as u64;
    out[24..32].copy_from_slice(&len.to_le_bytes());
    let sum = checksum(&out[24..]);
    out[16..24].copy_from_slice(&sum.to_le_bytes());
    Ok(out)
}

// ---- reading --------------------------------------------------------------------------------

/// A bounds-checked reader over the artifact's fields (after the checksum passed, so an error
/// here means an artifact written by something other than this Ward).
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    what: &'a str,
}

impl<'a> Reader<'a> {
    fn corrupt(&self, field: &str) -> Error {
        Error::Artifact(format!(
            "{} is corrupt (its {field} at offset {:#x} is malformed)",
            self.what, self.at
        ))
    }
    fn take(&mut self, n: usize, field: &str) -> Result<Range<usize>> {
        match self.at.checked_add(n).filter(|end| *end <= self.bytes.len()) {
            Some(end) => {
                let r = self.at..end;
                self.at = end;
                Ok(r)
            }
            None => Err(self.corrupt(field)),
        }
    }
    fn u8(&mut self, field: &str) -> Result<u8> {
        let r = self.take(1, field)?;
        Ok(self.bytes[r.start])
    }
    fn u32(&mut self, field: &str) -> Result<u32> {
        let r = self.take(4, field)?;
        Ok(u32::from_le_bytes(self.bytes[r].try_into().expect("4 bytes")))
    }
    fn u64(&mut self, field: &str) -> Result<u64> {
        let r = self.take(8, field)?;
        Ok(u64::from_le_bytes(self.bytes[r].try_into().expect("8 bytes")))
    }
    fn str(&mut self, field: &str) -> Result<&'a str> {
        let n = self.u32(field)? as usize;
        let r = self.take(n, field)?;
        let bytes: &'a [u8] = self.bytes;
        std::str::from_utf8(&bytes[r]).map_err(|_| self.corrupt(field))
    }
    /// A count of items at least `item` bytes each, checked against what is left.
    fn count(&mut self, item: usize, field: &str) -> Result<usize> {
        let n = self.u32(field)? as usize;
        if n.saturating_mul(item) > self.bytes.len() - self.at {
            return Err(self.corrupt(field));
        }
        Ok(n)
    }
    fn u32s(&mut self, field: &str) -> Result<Vec<u32>> {
        let n = self.count(4, field)?;
        (0..n).map(|_| self.u32(field)).collect()
    }
    fn bytes(&mut self, field: &str) -> Result<Range<usize>> {
        let n = usize::try_from(self.u64(field)?).map_err(|_| self.corrupt(field))?;
        self.take(n, field)
    }
}

/// Checks the header of `bytes` and returns a reader positioned after it.
fn open<'a>(bytes: &'a [u8], what: &'a str) -> Result<Reader<'a>> {
    let err = |m: String| Err(Error::Artifact(m));
    if bytes.is_empty() {
        return err(format!("{what} is empty"));
    }
    if !bytes.starts_with(&MAGIC) {
        if MAGIC.starts_with(bytes) {
            return err(format!("{what} is truncated ({} bytes)", bytes.len()));
        }
        if bytes.starts_with(b"\0asm") {
            return err(format!(
                "{what} is a WebAssembly binary, not a Ward artifact (make one with `ward \
                 compile` or `Module::serialize`)"
            ));
        }
        return err(format!("{what} is not a Ward artifact (it does not start with `\\0wardaot`)"));
    }
    if bytes.len() < HEADER {
        return err(format!("{what} is truncated ({} bytes)", bytes.len()));
    }
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let format = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if format != FORMAT {
        return err(format!(
            "{what} is a Ward artifact of format version {format}; Ward {WARD_VERSION} reads \
             version {FORMAT} (compile the module again)"
        ));
    }
    if bytes[12..16] != [0; 4] {
        return err(format!("{what} is corrupt (its reserved header bytes are not zero)"));
    }
    let declared = word(24);
    if declared != bytes.len() as u64 {
        return if declared > bytes.len() as u64 {
            err(format!("{what} is truncated ({} of {declared} bytes)", bytes.len()))
        } else {
            err(format!("{what} is corrupt ({} bytes, its header says {declared})", bytes.len()))
        };
    }
    if checksum(&bytes[24..]) != word(16) {
        return err(format!("{what} is corrupt (checksum mismatch)"));
    }
    Ok(Reader { bytes, at: HEADER, what })
}

/// Reads and checks the artifact `bytes`, named `what` in errors; `wasm` turns the range of the
/// module binary in `bytes` into the module's bytes.
///
/// # Safety
/// As [`Module::deserialize`].
unsafe fn load(
    engine: &Engine,
    bytes: &[u8],
    what: &str,
    wasm: impl FnOnce(Range<usize>) -> ModuleBytes,
) -> Result<Module> {
    let mut r = open(bytes, what)?;
    let mismatch = |m: String| Err(Error::Artifact(m));
    let ward = r.str("Ward version")?;
    if ward != WARD_VERSION {
        return mismatch(format!(
            "{what} was compiled by Ward {ward}; this is Ward {WARD_VERSION}"
        ));
    }
    let cranelift = r.str("Cranelift version")?;
    if cranelift != CRANELIFT_VERSION {
        return mismatch(format!(
            "{what} was compiled with Cranelift {cranelift}; this Ward uses Cranelift \
             {CRANELIFT_VERSION}"
        ));
    }
    let target = r.str("target")?;
    let n = r.count(4, "CPU features")?;
    let features = (0..n).map(|_| r.str("CPU features")).collect::<Result<Vec<_>>>()?;
    let (host, host_features) = native::host_target()
        .map_err(|e| Error::Artifact(format!("{what} cannot be loaded here: {e}")))?;
    if target != host {
        return mismatch(format!("{what} was compiled for {target}; this host is {host}"));
    }
    let missing: Vec<String> = features
        .iter()
        .filter(|f| !host_features.iter().any(|h| h == *f))
        .map(|f| f.to_string())
        .collect();
    if !missing.is_empty() {
        return mismatch(format!(
            "{what} was compiled for CPU features this host lacks: {}",
            missing.join(", ")
        ));
    }
    let n = r.count(8, "configuration")?;
    let mut saved = Vec::with_capacity(n);
    for _ in 0..n {
        saved.push((r.str("configuration")?.to_string(), r.str("configuration")?.to_string()));
    }
    if let Some(diff) = config_difference(&saved, &config_items(engine)) {
        return mismatch(format!("{what} was compiled with {diff}"));
    }
    let prepared = match r.u8("kind")? {
        0 => {
            let reason = r.str("fallback reason")?.to_string();
            let module = wasm(r.bytes("module binary")?);
            return finish(engine, module, Prepared::Interpreted(reason), what);
        }
        1 => {
            let module = r.bytes("module binary")?;
            let funcs = r.u32s("function entries")?;
            let trampolines = r.u32s("trampolines")?;
            let n = r.count(16, "relocations")?;
            let mut relocs = Vec::with_capacity(n);
            for _ in 0..n {
                let offset = r.u32("relocations")?;
                let libcall = r.u32("relocations")?;
                let addend = r.u64("relocations")? as i64;
                relocs.push(LibcallReloc { offset, libcall, addend });
            }
            let trap_sites = r.u32s("trap sites")?;
            let max_frame = r.u32("largest frame")?;
            let catches = r.u32s("catch table")?;
            let code = r.bytes("code")?;
            if r.at != bytes.len() {
                return Err(r.corrupt("end"));
            }
            let image = NativeImage {
                code: Cow::Borrowed(&bytes[code]),
                funcs,
                trampolines,
                relocs,
                trap_sites,
                max_frame,
                catches,
            };
            (wasm(module), Prepared::Native(image))
        }
        _ => return Err(r.corrupt("kind")),
    };
    finish(engine, prepared.0, prepared.1, what)
}

/// Decodes the module binary of an artifact (bodies trusted) and installs its code.
fn finish(
    engine: &Engine,
    wasm: ModuleBytes,
    prepared: Prepared<'_>,
    what: &str,
) -> Result<Module> {
    let module = Module::decode_bytes(engine, wasm, Bodies::Trust).map_err(|e| {
        Error::Artifact(format!("{what} is corrupt (its module binary does not decode: {e})"))
    })?;
    // SAFETY: the caller's contract (`Module::deserialize`): the artifact, whose header matched
    // this Ward, target, CPU and configuration, was written by `serialize` from this binary.
    unsafe { native::install(&module.inner, prepared) }
        .map_err(|e| Error::Artifact(format!("{what} is corrupt ({e})")))?;
    Ok(module)
}

/// # Safety
/// As [`Module::deserialize`].
pub(crate) unsafe fn deserialize(engine: &Engine, bytes: &[u8]) -> Result<Module> {
    // The module keeps its binary; the rest is copied into code memory or dropped.
    // SAFETY: the caller's contract.
    unsafe { load(engine, bytes, "the artifact", |range| bytes[range].into()) }
}

/// A file mapped read-only and private for as long as a module decoded from it lives.
struct Mapping {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is only read, from any thread (the contract of `deserialize_file`: the
// file is not changed while mapped).
unsafe impl Send for Mapping {}
// SAFETY: as for `Send`.
unsafe impl Sync for Mapping {}

impl AsRef<[u8]> for Mapping {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `len` readable bytes from `ptr` until drop.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: mapped by `deserialize_file` with this length; nothing borrows it any more
        // (every `ModuleBytes` over it holds this `Arc`).
        let _ = unsafe { rustix::mm::munmap(self.ptr.cast(), self.len) };
    }
}

/// # Safety
/// As [`Module::deserialize_file`].
pub(crate) unsafe fn deserialize_file(engine: &Engine, path: &Path) -> Result<Module> {
    let what = format!("`{}`", path.display());
    let io = |source| Error::Io { context: format!("cannot read {what}"), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let len =
        usize::try_from(len).map_err(|_| Error::Artifact(format!("{what} is too large to map")))?;
    if len == 0 {
        return Err(Error::Artifact(format!("{what} is empty")));
    }
    // SAFETY: a fresh private read-only mapping of the whole file; the caller's contract is
    // that the file is not changed or truncated while the module lives.
    let ptr = unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            len,
            rustix::mm::ProtFlags::READ,
            rustix::mm::MapFlags::PRIVATE,
            &file,
            0,
        )
    }
    .map_err(|e| io(e.into()))?;
    let mapping: Arc<Mapping> = Arc::new(Mapping { ptr: ptr.cast(), len });
    let owner: Arc<dyn AsRef<[u8]> + Send + Sync> = mapping.clone();
    let bytes: &[u8] = (*mapping).as_ref();
    // SAFETY: the caller's contract.
    unsafe { load(engine, bytes, &what, |range| ModuleBytes::part_of(owner, range)) }
}
