//! `ward nano APP.toml`: runs an application of nanoprocesses described by a manifest (see
//! `crates/ward-nano`): its process templates, their modules, capabilities and limits, and the
//! initial process. The command ends when the initial process ends, with an exit status as
//! `ward run` has: its own status (0..=123), 125 if it trapped, 124 if its deadline passed, 126
//! for a status out of range, 1 if it could not run or was killed.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use ward_nano::ExitReason;

use super::{diag, exit};

/// Arguments of `ward nano`.
#[derive(Args, Debug)]
pub struct NanoArgs {
    /// The application manifest (TOML).
    #[arg(value_name = "APP.toml")]
    pub manifest: PathBuf,
}

/// Runs the application; returns the exit status.
pub fn run(args: NanoArgs) -> anyhow::Result<i32> {
    let reason = ward_nano::run_manifest(&args.manifest)
        .with_context(|| format!("cannot run the application `{}`", args.manifest.display()))?;
    Ok(match reason {
        ExitReason::Normal => exit::SUCCESS,
        ExitReason::Exit(code) if (0..=exit::GUEST_MAX).contains(&code) => code,
        ExitReason::Exit(code) => fail(
            &format!("the initial process exited with status {code}"),
            exit::GUEST_STATUS_OUT_OF_RANGE,
        ),
        ExitReason::Trap(message) => {
            fail(&format!("the initial process trapped: {message}"), exit::TRAP)
        }
        ExitReason::Deadline => fail("the initial process ran past its deadline", exit::TIMEOUT),
        other => fail(&format!("the initial process ended: {other:?}"), exit::FAILURE),
    })
}

/// Prints `text` (escaped: it may quote the guest) as an error; returns `code`.
fn fail(text: &str, code: i32) -> i32 {
    diag::err(&format!("error: {}", diag::escape_lines(text)));
    code
}
