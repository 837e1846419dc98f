//! `ward compile IN -o OUT.cwasm`: a module compiled by the native tier, saved as an
//! ahead-of-time artifact that `ward run OUT.cwasm` runs without compiling again.
//!
//! The artifact is compiled with interruption checks (so `ward run --timeout` and
//! `--wasi-threads` work with it) and, with `--fuel`, with fuel metering (then it must be run
//! with `--fuel N`, and without it otherwise): `ward run` builds its engine to match.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use ward::{Config, Engine, Module, Tier};

use super::diag;
use super::exit;
use super::load::{self, Source};

/// Arguments of `ward compile`.
#[derive(Args, Debug)]
pub struct CompileArgs {
    /// Compile with fuel metering, for `ward run --fuel N` (an artifact compiled without it
    /// runs only without `--fuel`, and the other way round).
    #[arg(long)]
    pub fuel: bool,
    /// Where to write the artifact (default: IN with the extension `.cwasm`).
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// The module to compile (`.wasm` or `.wat`; `-` reads it from stdin).
    #[arg(value_name = "IN")]
    pub input: std::ffi::OsString,
}

/// The engine settings `ward compile` compiles with and `ward run` runs artifacts with: the
/// native tier, interruption checks, and fuel metering if asked for.
pub fn artifact_config(fuel: bool) -> Config {
    let mut config = Config::new();
    config.tier(Tier::Native).interruptible(true).consume_fuel(fuel);
    // Guarded memories let native code leave bounds checks to the MMU (`ward run --tier native`
    // uses the same).
    config.memory_strategy(ward::MemoryStrategy::Guarded);
    config
}

/// Compiles the module and writes the artifact; returns the exit status.
pub fn run(args: CompileArgs) -> anyhow::Result<i32> {
    let source = Source::from_arg(&args.input);
    let name = source.name();
    let output = match (&args.output, &source) {
        (Some(o), _) => o.clone(),
        (None, Source::File(p)) => p.with_extension("cwasm"),
        (None, Source::Stdin) => {
            anyhow::bail!("`ward compile -` needs `-o OUT` (where to write the artifact)")
        }
    };
    let raw = source.read()?;
    if load::is_artifact(&raw) {
        anyhow::bail!("`{name}` is already a Ward artifact (made by `ward compile`)");
    }
    if load::is_component(&raw) {
        anyhow::bail!(
            "`{name}` is a WebAssembly component; `ward compile` compiles core modules only"
        );
    }
    let bytes = load::module_binary(&source, raw)?;
    let engine = Engine::new(&artifact_config(args.fuel));
    let module =
        Module::new(&engine, &bytes).with_context(|| format!("cannot compile `{name}`"))?;
    if let Some(reason) = module.native_fallback_reason() {
        diag::err(&format!(
            "warning: `{name}` runs in the interpreter ({reason}); the artifact holds the \
             module without native code"
        ));
    }
    let artifact = module.serialize().with_context(|| format!("cannot compile `{name}`"))?;
    std::fs::write(&output, artifact)
        .with_context(|| format!("cannot write `{}`", output.display()))?;
    Ok(exit::SUCCESS)
}
