//! Applications described in TOML.
//!
//! ```toml
//! [runtime]                 # optional
//! workers = 2
//! max_processes = 100000
//!
//! [templates.main]
//! module = "main.wat"       # .wat or .wasm, relative to the manifest's directory
//! entry = "main"            # optional: `main`, else `_start`
//! args = ["main", "--x"]    # optional WASI arguments
//! [templates.main.caps]
//! spawn = ["worker"]
//! env = { LANG = "C" }
//! dirs = [{ host = "data", guest = "/data", read_only = true }]
//! inherit_stdout = true
//! [templates.main.limits]
//! memory_bytes = 16777216
//! fuel_slice = 20000
//! deadline_ms = 60000
//!
//! [templates.worker]
//! module = "worker.wat"
//!
//! [init]
//! template = "main"
//! ```
//!
//! A relative `host` directory is relative to the manifest's directory. The initial process is
//! spawned by the host with its template's capabilities; everything else is spawned by
//! processes, attenuated down the tree.

use crate::caps::{Caps, Limits};
use crate::proc::ExitReason;
use crate::runtime::{Runtime, RuntimeConfig, TemplateSpec};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A parsed manifest.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Runtime settings.
    #[serde(default)]
    pub runtime: RuntimeSection,
    /// Templates by name.
    pub templates: BTreeMap<String, TemplateSection>,
    /// The process started first.
    pub init: InitSection,
}

/// `[runtime]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeSection {
    /// Worker threads (default: available parallelism).
    pub workers: Option<usize>,
    /// Processes alive at once.
    pub max_processes: Option<usize>,
    /// Largest message, bytes.
    pub max_message_bytes: Option<usize>,
    /// Messages per mailbox.
    pub max_mailbox_messages: Option<usize>,
}

/// `[templates.NAME]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSection {
    /// Path of the module.
    pub module: PathBuf,
    /// The export to run.
    pub entry: Option<String>,
    /// WASI arguments (default: the template's name).
    pub args: Option<Vec<String>>,
    /// Capabilities it asks for.
    #[serde(default)]
    pub caps: Caps,
    /// Its limits.
    #[serde(default)]
    pub limits: Limits,
}

/// `[init]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitSection {
    /// The template of the first process.
    pub template: String,
}

fn err(msg: String) -> ward::Error {
    ward::Error::Usage(msg)
}

impl Manifest {
    /// Parses a manifest from text.
    pub fn parse(text: &str) -> ward::Result<Manifest> {
        toml::from_str(text).map_err(|e| err(format!("manifest: {e}")))
    }

    /// Reads and parses a manifest file.
    pub fn from_file(path: &Path) -> ward::Result<Manifest> {
        let text = std::fs::read_to_string(path).map_err(|e| ward::Error::Io {
            context: format!("reading `{}`", path.display()),
            source: e,
        })?;
        Manifest::parse(&text)
    }

    /// Builds the runtime with every template; `base` is the directory relative paths start
    /// from. Returns it ready for [`Runtime::spawn`] of `self.init.template`.
    pub fn build(&self, base: &Path) -> ward::Result<Runtime> {
        self.build_with(base, |spec| spec)
    }

    /// As [`Manifest::build`], passing each template through `adjust` before it is registered
    /// (to capture its output with [`TemplateSpec::stdout`], say).
    pub fn build_with(
        &self,
        base: &Path,
        mut adjust: impl FnMut(TemplateSpec) -> TemplateSpec,
    ) -> ward::Result<Runtime> {
        let d = RuntimeConfig::default();
        let r = &self.runtime;
        let rt = Runtime::new(RuntimeConfig {
            workers: r.workers.unwrap_or(d.workers),
            max_processes: r.max_processes.unwrap_or(d.max_processes),
            max_message_bytes: r.max_message_bytes.unwrap_or(d.max_message_bytes),
            max_mailbox_messages: r.max_mailbox_messages.unwrap_or(d.max_mailbox_messages),
            ..d
        })?;
        for (name, t) in &self.templates {
            let module = ward::Module::from_file(rt.engine(), base.join(&t.module))?;
            let mut caps = t.caps.clone();
            for dir in &mut caps.dirs {
                dir.host = base.join(&dir.host);
            }
            let mut spec = TemplateSpec::new(name.clone(), module).caps(caps).limits(t.limits);
            spec.entry = t.entry.clone();
            if let Some(a) = &t.args {
                spec.args = a.clone();
            }
            rt.add_template(adjust(spec))?;
        }
        if !self.templates.contains_key(&self.init.template) {
            return Err(err(format!("manifest: no template `{}` for [init]", self.init.template)));
        }
        Ok(rt)
    }
}

/// Runs the application a manifest file describes: spawns its initial process and waits for
/// it to end (its whole tree ends with it). This is the entry point for `ward nano app.toml`.
pub fn run_manifest(path: &Path) -> ward::Result<ExitReason> {
    let manifest = Manifest::from_file(path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let rt = manifest.build(base)?;
    let init = rt.spawn(&manifest.init.template)?;
    loop {
        if let Some(r) = init.wait(Duration::from_secs(3600)) {
            return Ok(r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_manifest() {
        let m = Manifest::parse(
            r#"
            [runtime]
            workers = 1
            [templates.main]
            module = "main.wat"
            [templates.main.caps]
            spawn = ["worker"]
            env = { LANG = "C" }
            dirs = [{ host = "data", guest = "/data", read_only = true }]
            [templates.main.limits]
            memory_bytes = 1048576
            deadline_ms = 100
            [templates.worker]
            module = "w.wasm"
            [init]
            template = "main"
            "#,
        )
        .unwrap();
        assert_eq!(m.runtime.workers, Some(1));
        let main = &m.templates["main"];
        assert!(main.caps.spawn.contains("worker"));
        assert!(main.caps.dirs[0].read_only);
        assert_eq!(main.limits.memory_bytes, 1 << 20);
        assert_eq!(main.limits.fuel_slice, Limits::default().fuel_slice);
        assert!(Manifest::parse("[init]\ntemplate = 1").is_err());
        assert!(Manifest::parse("bogus = 1\n[templates]\n[init]\ntemplate='x'").is_err());
    }
}
