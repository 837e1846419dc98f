//! `ward`: run WebAssembly programs and spec test scripts.
//!
//! ```text
//! ward run [OPTIONS] MODULE [ARGS]...   run a module (`_start`, or `--invoke FUNC`)
//! ward MODULE [ARGS]...                 the same, shorter
//! ward wast [-v] FILE...                run spec test scripts
//! ```
//!
//! Exit status: see [`commands::exit`].

mod commands;

use std::ffi::OsString;
use std::io::Write;

use clap::{Parser, Subcommand};

/// Ward: a secure-by-default WebAssembly runtime.
#[derive(Parser, Debug)]
#[command(name = "ward", version, arg_required_else_help = true)]
#[command(after_help = "`ward MODULE [ARGS]...` is short for `ward run MODULE [ARGS]...`.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a WebAssembly module (`.wasm` or `.wat`).
    Run(commands::run::RunArgs),
    /// Run WebAssembly spec test scripts (`.wast`).
    Wast(commands::wast::WastArgs),
}

/// Words that, as the first argument, are not a module path.
const NOT_A_MODULE: &[&str] = &["run", "wast", "help", "-h", "--help", "-V", "--version"];

/// Turns `ward MODULE ARGS...` into `ward run MODULE ARGS...`.
fn with_implicit_run(mut args: Vec<OsString>) -> Vec<OsString> {
    if let Some(first) = args.get(1) {
        if !NOT_A_MODULE.iter().any(|w| first == *w) {
            args.insert(1, "run".into());
        }
    }
    args
}

fn main() {
    let cli = Cli::parse_from(with_implicit_run(std::env::args_os().collect()));
    let result = match cli.command {
        Command::Run(args) => commands::run::run(args),
        Command::Wast(args) => commands::wast::run(args),
    };
    let code = match result {
        Ok(code) => code,
        Err(err) => {
            let _ = std::io::stdout().flush();
            eprintln!("{}", error_text(&err));
            commands::exit::code_for(&err)
        }
    };
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}

/// An error and its causes, one per line, without the Rust backtrace `{:?}` would add when
/// `RUST_BACKTRACE` is set. A cause whose text its predecessor already contains (error enums
/// that display their source) is left out.
fn error_text(err: &anyhow::Error) -> String {
    let mut text = format!("error: {err}");
    let mut previous = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if previous.contains(&cause) {
            continue;
        }
        text.push_str("\n  caused by: ");
        text.push_str(&cause.replace('\n', "\n  "));
        previous = cause;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn module_path_first_means_run() {
        assert_eq!(
            with_implicit_run(args(&["ward", "m.wat", "x"])),
            args(&["ward", "run", "m.wat", "x"])
        );
        assert_eq!(with_implicit_run(args(&["ward", "--fuel", "9", "m.wat"]))[1], "run");
        assert_eq!(with_implicit_run(args(&["ward", "wast", "a.wast"]))[1], "wast");
        assert_eq!(with_implicit_run(args(&["ward", "--help"]))[1], "--help");
        assert_eq!(with_implicit_run(args(&["ward"])).len(), 1);
    }

    #[test]
    fn error_text_skips_repeated_causes() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = anyhow::Error::new(ward::Error::Io {
            context: "cannot read `m.wasm`".into(),
            source: io,
        })
        .context("cannot load module `m.wasm`");
        assert_eq!(
            error_text(&err),
            "error: cannot load module `m.wasm`\n  caused by: cannot read `m.wasm`: no such file"
        );
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
