//! `ward wast FILE...`: runs spec test scripts and counts their directives.
//!
//! Output is one line per file, `PATH: N passed, M failed`, then `N passed, M failed` over all
//! files. With `--verbose`, each failed directive is printed before its file's line as
//! `PATH:LINE:COLUMN: DIRECTIVE: REASON`; a script that cannot be read or parsed at all is
//! explained that way even without it. The exit status is 1 if any directive failed.
//! `--tier native` runs the scripts' modules in native code where the native tier can compile
//! them, and counts the modules each tier ran before the totals (with `-v`, why each
//! interpreted one fell back).
//! The work itself is done by the `ward-wast` crate, which the spec-suite test also uses.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::options::TierArg;
use super::{diag, exit};

/// Arguments of `ward wast`.
#[derive(Args, Debug)]
pub struct WastArgs {
    /// Spec test scripts (`.wast`) to run.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// Print every failed directive with its line, column and reason.
    #[arg(short, long)]
    pub verbose: bool,
    /// How many scripts to run at once (default: the number of CPUs). Output keeps file order.
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
    /// The execution tier: `interp` (the default) or `native` (Cranelift; modules it cannot
    /// compile yet run in the interpreter, and the summary counts them).
    #[arg(long, value_enum, default_value = "interp")]
    pub tier: TierArg,
}

/// Runs the scripts; returns the exit status.
pub fn run(args: WastArgs) -> anyhow::Result<i32> {
    let jobs =
        args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let (mut passed, mut failed) = (0usize, 0usize);
    let (mut native, mut interpreted) = (0usize, 0usize);
    let mut config = ward::Config::new();
    config.tier(args.tier.into());
    let mut out = std::io::stdout().lock();
    // Write errors (a closed pipe) are ignored: the counts still decide the exit status.
    ward_wast::run_files_with(&args.files, jobs, &config, |report| {
        let path = report.path.display();
        // A script that could not be read or parsed ran nothing: say why even without -v.
        for f in &report.failures {
            if args.verbose || matches!(f.directive, "file" | "script") {
                // Messages quote names from the script's modules: escaped and cut.
                let message = diag::escape(&f.message, diag::MAX_LINE_CHARS);
                let _ = if f.line == 0 {
                    writeln!(out, "{path}: {}: {message}", f.directive)
                } else {
                    writeln!(out, "{path}:{}:{}: {}: {message}", f.line, f.column, f.directive)
                };
            }
        }
        if args.verbose && args.tier == TierArg::Native {
            for reason in &report.fallbacks {
                let reason = diag::escape(reason, diag::MAX_LINE_CHARS);
                let _ = writeln!(out, "{path}: interpreted: {reason}");
            }
        }
        let _ = writeln!(out, "{path}: {} passed, {} failed", report.passed, report.failed);
        passed += report.passed;
        failed += report.failed;
        native += report.native_modules;
        interpreted += report.interpreted_modules;
    });
    if args.tier == TierArg::Native {
        let _ = writeln!(out, "modules: {native} native, {interpreted} interpreted");
    }
    let _ = writeln!(out, "{passed} passed, {failed} failed");
    let _ = out.flush();
    Ok(if failed > 0 { exit::FAILURE } else { exit::SUCCESS })
}
