//! Capabilities and limits, and how they are attenuated from parent to child.

use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

/// A host directory granted to a process, seen by its guest as `guest`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirGrant {
    /// The host directory. [`crate::TemplateSpec::new`] and the manifest canonicalise it, so
    /// that containment is decided on real paths.
    pub host: PathBuf,
    /// The name the guest sees (e.g. `/data`).
    pub guest: String,
    /// The guest may only read beneath it.
    #[serde(default)]
    pub read_only: bool,
}

/// What a process may do beyond computing on its own memory: the authority it holds.
///
/// Which processes it may message is not here: that is the set of process handles it holds at
/// run time (its parent, the children it spawned, itself, and handles received in messages).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Caps {
    /// Templates it may spawn (by name).
    pub spawn: BTreeSet<String>,
    /// Environment variables it sees (WASI).
    pub env: BTreeMap<String, String>,
    /// Directories it may open (WASI).
    pub dirs: Vec<DirGrant>,
    /// Its WASI stdout is the host's stdout (otherwise the template's pipe, or nothing).
    pub inherit_stdout: bool,
    /// Its WASI stderr is the host's stderr (otherwise the template's pipe, or nothing).
    pub inherit_stderr: bool,
}

impl Caps {
    /// No authority at all.
    pub fn none() -> Caps {
        Caps::default()
    }

    /// What a child asking for `self` (its template's capabilities) gets from a parent holding
    /// `parent`: the intersection. A template may spawn only what the parent may spawn, see an
    /// environment variable only if the parent sees it with the same value, open a directory only
    /// if it lies beneath one of the parent's (read-only if the parent's is), inherit stdio only
    /// if the parent does. The result is never more than `parent`.
    pub fn attenuate(&self, parent: &Caps) -> Caps {
        Caps {
            spawn: self.spawn.intersection(&parent.spawn).cloned().collect(),
            env: self
                .env
                .iter()
                .filter(|(k, v)| parent.env.get(*k) == Some(*v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            dirs: self
                .dirs
                .iter()
                .filter_map(|d| {
                    let within: Vec<&DirGrant> =
                        parent.dirs.iter().filter(|p| d.host.starts_with(&p.host)).collect();
                    if within.is_empty() {
                        return None;
                    }
                    let writable = within.iter().any(|p| !p.read_only);
                    Some(DirGrant { read_only: d.read_only || !writable, ..d.clone() })
                })
                .collect(),
            inherit_stdout: self.inherit_stdout && parent.inherit_stdout,
            inherit_stderr: self.inherit_stderr && parent.inherit_stderr,
        }
    }

    /// Whether `self` holds nothing `parent` does not.
    pub fn is_within(&self, parent: &Caps) -> bool {
        self.attenuate(parent) == *self
    }
}

/// A process's limits. In a manifest these are the `[templates.NAME.limits]` table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Bytes of its linear memory.
    pub memory_bytes: u64,
    /// Elements of each table.
    pub table_elements: u64,
    /// Fuel (about one unit per wasm instruction) the process runs before it yields its
    /// worker thread to the next runnable process: its time slice.
    pub fuel_slice: u64,
    /// Fuel for its whole life (`None`: unlimited); running out traps.
    pub fuel_total: Option<u64>,
    /// Fuel its start function and instantiation may use (a start function is not preempted).
    pub start_fuel: u64,
    /// Wall-clock time it may live, in milliseconds (`None`: no deadline).
    pub deadline_ms: Option<u64>,
    /// Children it may have alive at once.
    pub max_children: u32,
    /// Processes its whole subtree (itself included) may have alive at once, when it is the
    /// root of a tree (spawned by the host); children share their root's budget.
    pub max_tree: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            memory_bytes: 16 << 20,
            table_elements: 10_000,
            fuel_slice: 20_000,
            fuel_total: None,
            start_fuel: 10_000_000,
            deadline_ms: None,
            max_children: 64,
            max_tree: 10_000,
        }
    }
}

impl Limits {
    /// The limits a child gets: its template's, but never above its parent's.
    pub fn attenuate(&self, parent: &Limits) -> Limits {
        let min_opt = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Limits {
            memory_bytes: self.memory_bytes.min(parent.memory_bytes),
            table_elements: self.table_elements.min(parent.table_elements),
            fuel_slice: self.fuel_slice.max(1),
            fuel_total: min_opt(self.fuel_total, parent.fuel_total),
            start_fuel: self.start_fuel.min(parent.start_fuel),
            deadline_ms: min_opt(self.deadline_ms, parent.deadline_ms),
            max_children: self.max_children.min(parent.max_children),
            max_tree: self.max_tree.min(parent.max_tree),
        }
    }

    pub(crate) fn deadline(&self) -> Option<Duration> {
        self.deadline_ms.map(Duration::from_millis)
    }
}

/// When a supervised child that ended abnormally is restarted: at most `max_restarts` times in
/// any `window`; one more crash inside the window ends it for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestartPolicy {
    /// Restarts allowed in the window.
    pub max_restarts: u32,
    /// The sliding window.
    pub window: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(p: &str, ro: bool) -> DirGrant {
        DirGrant { host: p.into(), guest: "/d".into(), read_only: ro }
    }

    #[test]
    fn attenuation_never_exceeds_parent() {
        let parent = Caps {
            spawn: ["a".to_string()].into(),
            env: [("K".to_string(), "1".to_string())].into(),
            dirs: vec![dir("/srv/data", true)],
            inherit_stdout: true,
            inherit_stderr: false,
        };
        let asked = Caps {
            spawn: ["a".to_string(), "b".to_string()].into(),
            env: [("K".to_string(), "2".to_string()), ("J".to_string(), "x".to_string())].into(),
            dirs: vec![
                dir("/srv/data/sub", false),
                dir("/srv/database", false),
                dir("/etc", false),
            ],
            inherit_stdout: true,
            inherit_stderr: true,
        };
        let got = asked.attenuate(&parent);
        assert_eq!(got.spawn, ["a".to_string()].into());
        assert!(got.env.is_empty());
        assert_eq!(got.dirs, vec![dir("/srv/data/sub", true)]);
        assert!(got.inherit_stdout && !got.inherit_stderr);
        assert!(got.is_within(&parent));
        assert!(!asked.is_within(&parent));
    }
}
