//! Helpers shared by the WASI suite runners (`wasi_suite.rs`, `wasi_p2_suite.rs`): copying a
//! test's directory to a writable place and running `ward` with a time limit; `cli` for the
//! tests of the command line.
// Each test binary uses the part it needs.
#![allow(dead_code)]

pub mod cli;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one test program may run before it is killed.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Copies `from` to `to` recursively, making the copy writable (the suite may be read-only).
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(from)?;
    if meta.is_dir() {
        std::fs::create_dir_all(to)?;
        for e in std::fs::read_dir(from)? {
            let e = e?;
            copy_tree(&e.path(), &to.join(e.file_name()))?;
        }
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o755))
    } else if meta.file_type().is_symlink() {
        std::os::unix::fs::symlink(std::fs::read_link(from)?, to)
    } else {
        std::fs::copy(from, to)?;
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o644))
    }
}

/// Exit status and output of one run.
pub struct Outcome {
    /// The exit status (`None`: killed by a signal, or after [`TEST_TIMEOUT`]).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Whether it was killed after [`TEST_TIMEOUT`].
    pub timed_out: bool,
}

/// Runs `cmd` with stdin empty, capturing its output; kills it after [`TEST_TIMEOUT`].
pub fn run(mut cmd: Command) -> std::io::Result<Outcome> {
    let mut child =
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = r.read_to_end(&mut s);
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let err = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() > TEST_TIMEOUT {
            timed_out = true;
            let _ = child.kill();
            break child.wait()?;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Ok(Outcome {
        code: if timed_out { None } else { status.code() },
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        timed_out,
    })
}
