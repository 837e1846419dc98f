//! The compilation cache of `ward run --tier native`: the native code of a module is kept as an
//! artifact (`Module::serialize`) in a private directory and loaded instead of compiled the
//! next time the same module runs on an engine with the same settings.
//!
//! Where: `$WARD_CACHE_DIR`, else `$XDG_CACHE_HOME/ward`, else `$HOME/.cache/ward`. Entries are
//! named by the SHA-256 of the engine's artifact fingerprint (Ward's version and build,
//! Cranelift's, the target and CPU features, the settings that shape code) and the module's
//! bytes. `-C cache=n` turns the cache off.
//!
//! An artifact is mapped as executable code without checking that its code is sound (only its
//! header and checksum are checked), so the cache is only used when nobody else can write it:
//! the directory is created `0700`, and both it and an entry must be owned by this user and
//! not writable by group or others, an entry a regular file (not a symbolic link); otherwise
//! the cache is skipped, with a warning (on stderr for a directory that is not private; in
//! the `ward_cli` log for the rest). Entries are written to a temporary file and renamed
//! into place, so a reader never sees half an entry. The directory is kept under
//! [`MAX_BYTES`]: after a write, the least recently used entries go first.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest, Sha256};
use tracing::{debug, warn};
use ward::{Engine, Module};

use super::diag;

/// The most the cache directory holds; beyond it, the least recently used entries are removed.
pub const MAX_BYTES: u64 = 1 << 30;

const SUFFIX: &str = ".cwasm";

/// An open, private cache directory.
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The user's cache directory, created if missing; `None` (with a warning for a directory
    /// that is not private) when there is none to use.
    pub fn open() -> Option<Cache> {
        let dir = default_dir()?;
        let existed = dir.exists();
        match Cache::at(&dir) {
            Ok(cache) => Some(cache),
            // A directory that is there but not private is worth telling without `WARD_LOG`:
            // someone may have meant to plant code in it.
            Err(why) if existed => {
                diag::err(&format!(
                    "warning: compilation cache not used: `{}`: {why}",
                    diag::escape(&dir.to_string_lossy(), 1024)
                ));
                None
            }
            Err(why) => {
                warn!(target: "ward_cli", dir = %dir.display(), "compilation cache not used: {why}");
                None
            }
        }
    }

    /// The cache in `dir`, created `0700` if missing; an error if it is not private.
    pub fn at(dir: &Path) -> Result<Cache, String> {
        if !dir.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| format!("cannot create it: {e}"))?;
        }
        let meta = fs::symlink_metadata(dir).map_err(|e| e.to_string())?;
        if !meta.is_dir() {
            return Err("it is not a directory".into());
        }
        private(&meta)?;
        Ok(Cache { dir: dir.to_path_buf() })
    }

    /// The module `bytes` for `engine`: loaded from the cache, or compiled and saved there.
    /// `name` names the module in errors.
    pub fn module(&self, engine: &Engine, bytes: &[u8], name: &str) -> ward::Result<Module> {
        let path = self.entry(engine, bytes);
        match self.load(engine, &path) {
            Ok(Some(module)) => {
                debug!(target: "ward_cli", module = %name, entry = %path.display(), "loaded from the compilation cache");
                return Ok(module);
            }
            Ok(None) => {}
            Err(why) => {
                warn!(target: "ward_cli", entry = %path.display(), "compilation cache entry not used: {why}")
            }
        }
        let module = Module::new(engine, bytes)?;
        if let Err(why) = self.save(&module, &path) {
            warn!(target: "ward_cli", entry = %path.display(), "cannot save to the compilation cache: {why}");
        }
        Ok(module)
    }

    fn entry(&self, engine: &Engine, bytes: &[u8]) -> PathBuf {
        let mut h = Sha256::new();
        let fingerprint = engine.artifact_fingerprint();
        h.update((fingerprint.len() as u64).to_le_bytes());
        h.update(fingerprint.as_bytes());
        h.update(bytes);
        let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(format!("{hex}{SUFFIX}"))
    }

    /// The entry at `path`: `None` if there is none, an error if it cannot be trusted or read.
    fn load(&self, engine: &Engine, path: &Path) -> Result<Option<Module>, String> {
        let meta = match fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        if !meta.is_file() {
            return Err("it is not a regular file".into());
        }
        private(&meta)?;
        // SAFETY: the entry was written by `save` of a Ward whose fingerprint (version, build,
        // settings) is part of its name, in a directory only this user can write (checked in
        // `at`, the entry's owner and mode above); the header and checksum are checked again
        // on load, which refuses a damaged or mismatched entry.
        let module =
            unsafe { Module::deserialize_file(engine, path) }.map_err(|e| e.to_string())?;
        // Recently used entries are the last to be evicted.
        if let Ok(f) = fs::File::options().append(true).open(path) {
            let _ = f.set_modified(SystemTime::now());
        }
        Ok(Some(module))
    }

    fn save(&self, module: &Module, path: &Path) -> Result<(), String> {
        let bytes = module.serialize().map_err(|e| e.to_string())?;
        let tmp = self.dir.join(format!(
            ".tmp-{}-{}",
            std::process::id(),
            SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
        ));
        let write = || -> std::io::Result<()> {
            let mut f =
                fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_data()?;
            fs::rename(&tmp, path)
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&tmp);
            return Err(e.to_string());
        }
        self.evict(MAX_BYTES);
        Ok(())
    }

    /// Removes the least recently used entries until the directory holds at most `limit`
    /// bytes of them.
    pub fn evict(&self, limit: u64) {
        let Ok(dir) = fs::read_dir(&self.dir) else { return };
        let mut entries: Vec<(SystemTime, u64, PathBuf)> = dir
            .filter_map(|e| {
                let e = e.ok()?;
                let name = e.file_name();
                if !name.to_str()?.ends_with(SUFFIX) {
                    return None;
                }
                let meta = e.metadata().ok()?;
                Some((meta.modified().ok()?, meta.len(), e.path()))
            })
            .collect();
        let mut total: u64 = entries.iter().map(|e| e.1).sum();
        if total <= limit {
            return;
        }
        entries.sort();
        for (_, len, path) in entries {
            if total <= limit {
                break;
            }
            if fs::remove_file(&path).is_ok() {
                debug!(target: "ward_cli", entry = %path.display(), "evicted from the compilation cache");
                total -= len;
            }
        }
    }
}

/// Whether the file or directory is this user's alone to write.
fn private(meta: &fs::Metadata) -> Result<(), String> {
    // SAFETY: `geteuid` has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(format!("it belongs to user {}, not to this user ({me})", meta.uid()));
    }
    if meta.permissions().mode() & 0o022 != 0 {
        return Err(format!(
            "others may write it (mode {:o}; make it 0700, or 0600 for an entry)",
            meta.permissions().mode() & 0o777
        ));
    }
    Ok(())
}

fn default_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var("WARD_CACHE_DIR") {
        return Some(dir);
    }
    if let Some(dir) = var("XDG_CACHE_HOME").filter(|d| d.is_absolute()) {
        return Some(dir.join("ward"));
    }
    var("HOME").map(|home| home.join(".cache").join("ward"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn eviction_removes_the_least_recently_used_entries_first() {
        let dir = std::env::temp_dir().join(format!("ward-cache-evict-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let cache = Cache::at(&dir).unwrap();
        let now = SystemTime::now();
        for (i, age) in [(0, 30), (1, 10), (2, 20)] {
            let p = dir.join(format!("{i}{SUFFIX}"));
            fs::write(&p, [0u8; 100]).unwrap();
            let f = fs::File::options().append(true).open(&p).unwrap();
            f.set_modified(now - Duration::from_secs(age)).unwrap();
        }
        fs::write(dir.join("other-file"), [0u8; 1000]).unwrap();
        cache.evict(250);
        let mut left: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        // 300 bytes of entries: the oldest (0) goes; files that are not entries stay.
        assert_eq!(left, ["1.cwasm", "2.cwasm", "other-file"]);
        cache.evict(0);
        let left = fs::read_dir(&dir).unwrap().count();
        assert_eq!(left, 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_directory_others_can_write_is_refused() {
        let dir = std::env::temp_dir().join(format!("ward-cache-open-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o775)).unwrap();
        let err = Cache::at(&dir).err().unwrap();
        assert!(err.contains("others may write it"), "{err}");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        assert!(Cache::at(&dir).is_ok());
        fs::remove_dir_all(&dir).unwrap();
    }
}
