//! `ward wast FILE...`: runs spec test scripts and counts their directives.
//!
//! Output is one line per file, `PATH: N passed, M failed`, then `N passed, M failed` over all
//! files. With `--verbose`, each failed directive is printed before its file's line as
//! `PATH:LINE:COLUMN: DIRECTIVE: REASON`; a script that cannot be read or parsed at all is
//! explained that way even without it. The exit status is 1 if any directive failed.
//! `--tier native` runs the scripts' modules in native code where the native tier can compile
//! them, and counts the modules each tier ran before the totals (with `-v`, why each
//! interpreted one fell back).
//! A script in a proposal's directory of the suite (`.../proposals/threads/`) runs with that
//! proposal's feature set, which may lack later features (see
//! `ward_wast::Features::of_suite_dir`); `-W multi-memory=y|n` and `-W reference-types=y|n`
//! (repeatable, or comma-separated) set a feature for every script, overriding that choice.
//! A script with components (the component model's reference tests) runs with the component
//! runner of `ward-component` (`ward_component::wast`), every other one with `ward-wast`, which
//! the spec-suite test also uses.

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
    /// Turn a WebAssembly feature on (`=y`) or off (`=n`) for every script: `multi-memory`,
    /// `reference-types`. By default a script gets the feature set of the suite directory it
    /// is in (the threads proposal's lacks both), and everything else has both on.
    #[arg(short = 'W', long = "wasm", value_name = "FEATURE=y|n", value_delimiter = ',',
          value_parser = parse_feature)]
    pub features: Vec<FeatureSwitch>,
}

/// One `-W FEATURE=y|n` switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeatureSwitch {
    feature: Feature,
    on: bool,
}

/// The features `-W` can switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Feature {
    MultiMemory,
    ReferenceTypes,
}

fn parse_feature(text: &str) -> Result<FeatureSwitch, String> {
    let (name, value) = text.split_once('=').unwrap_or((text, "y"));
    let feature = match name {
        "multi-memory" => Feature::MultiMemory,
        "reference-types" => Feature::ReferenceTypes,
        _ => {
            return Err(format!("unknown feature `{name}` (known: multi-memory, reference-types)"))
        }
    };
    let on = match value {
        "y" | "yes" | "true" | "on" => true,
        "n" | "no" | "false" | "off" => false,
        _ => return Err(format!("`{value}` is not y or n")),
    };
    Ok(FeatureSwitch { feature, on })
}

/// The switches of `-W`, later ones winning.
fn explicit_features(switches: &[FeatureSwitch]) -> ward_wast::Features {
    let mut features = ward_wast::Features::default();
    for s in switches {
        match s.feature {
            Feature::MultiMemory => features.multi_memory = Some(s.on),
            Feature::ReferenceTypes => features.reference_types = Some(s.on),
        }
    }
    features
}

/// Runs the scripts; returns the exit status.
pub fn run(args: WastArgs) -> anyhow::Result<i32> {
    let jobs =
        args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let (mut passed, mut failed) = (0usize, 0usize);
    let (mut native, mut interpreted) = (0usize, 0usize);
    let mut config = ward::Config::new();
    config.tier(args.tier.into());
    if args.tier == TierArg::Native {
        // As `ward run --tier native`: memory bounds left to the MMU where the guard allows.
        config.memory_strategy(ward::MemoryStrategy::Guarded);
    }
    let mut out = std::io::stdout().lock();
    // Write errors (a closed pipe) are ignored: the counts still decide the exit status.
    let explicit = explicit_features(&args.features);
    let config_for = |path: &std::path::Path| {
        let mut config = config.clone();
        ward_wast::Features::of_suite_dir(path).overridden_by(explicit).apply(&mut config);
        config
    };
    // Component-model scripts (`(component ...)`) go to the component runner.
    let run_one = |path: &std::path::Path| match std::fs::read_to_string(path) {
        Ok(source) if ward_component::wast::is_component_script(&source) => {
            ward_component::wast::run_script_with(path, &source, &config_for(path))
        }
        Ok(source) => ward_wast::run_script_with(path, &source, &config_for(path)),
        // The core runner reports the file it cannot read.
        Err(_) => ward_wast::run_file_with(path, &config_for(path)),
    };
    ward_wast::run_files_by(&args.files, jobs, run_one, |report| {
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
