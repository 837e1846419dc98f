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
use std::io::{IsTerminal, Write};

use clap::{CommandFactory, Parser, Subcommand};

use commands::{diag, exit};

/// Ward: a secure-by-default WebAssembly runtime.
#[derive(Parser, Debug)]
#[command(name = "ward", version, arg_required_else_help = true)]
#[command(after_help = "`ward MODULE [ARGS]...` is short for `ward run MODULE [ARGS]...`.\n\
    Set WARD_LOG to see what happens inside (e.g. WARD_LOG=ward_wasi=trace for every WASI call).")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a WebAssembly module (`.wasm` or `.wat`).
    Run(Box<commands::run::RunArgs>),
    /// Compile a module with the native tier into an ahead-of-time artifact (`.cwasm`), which
    /// `ward run` runs without compiling again.
    Compile(commands::compile::CompileArgs),
    /// Run WebAssembly spec test scripts (`.wast`), core or component-model.
    Wast(commands::wast::WastArgs),
    /// Run an application of nanoprocesses described by a manifest (`APP.toml`).
    Nano(commands::nano::NanoArgs),
    /// Answer HTTP requests with a fresh instance per request (CGI or wasi:http).
    ///
    /// HANDLER is a WASI program following CGI conventions, or a component exporting
    /// `wasi:http/incoming-handler`.
    Serve(Box<commands::serve::ServeArgs>),
    /// Print a shell completion script for `ward`.
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page of `ward` (roff; e.g. `ward man | man -l -`).
    Man,
}

/// Commands other runtimes have that Ward does not have yet: named as commands, not mistaken
/// for a module called `compile`.
const NOT_YET: &[&str] = &["settings", "config", "explore", "inspect"];

/// Words that, as the first argument, are not a module path.
const NOT_A_MODULE: &[&str] = &[
    "run",
    "compile",
    "wast",
    "nano",
    "serve",
    "completions",
    "man",
    "help",
    "-h",
    "--help",
    "-V",
    "--version",
];

/// Turns `ward MODULE ARGS...` into `ward run MODULE ARGS...`.
fn with_implicit_run(mut args: Vec<OsString>) -> Vec<OsString> {
    if let Some(first) = args.get(1) {
        if !NOT_A_MODULE.iter().chain(NOT_YET).any(|w| first == *w) {
            args.insert(1, "run".into());
        }
    }
    args
}

/// Sends `tracing` output to stderr when `WARD_LOG` is set (an env-filter such as
/// `ward_wasi=trace` or `debug`); nothing is printed otherwise.
fn init_logging() {
    let Some(spec) = std::env::var_os("WARD_LOG") else { return };
    let filter = match tracing_subscriber::EnvFilter::try_new(spec.to_string_lossy()) {
        Ok(f) => f,
        Err(e) => {
            diag::err(&format!("warning: WARD_LOG is not a valid filter ({e}); logging is off"));
            return;
        }
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

fn main() {
    init_logging();
    let args = with_implicit_run(std::env::args_os().collect());
    if let Some(word) = args.get(1).and_then(|w| w.to_str()).filter(|w| NOT_YET.contains(w)) {
        diag::err(&format!(
            "error: `ward {word}` is not available yet in this version of Ward \
             (commands: run, compile, wast, nano, serve, completions, man; see `ward --help`)"
        ));
        std::process::exit(exit::USAGE);
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout, errors to stderr; a closed stream is ignored.
            let _ = e.print();
            std::process::exit(e.exit_code());
        }
    };
    let result = match cli.command {
        Command::Run(args) => commands::run::run(*args),
        Command::Compile(args) => commands::compile::run(args),
        Command::Wast(args) => commands::wast::run(args),
        Command::Nano(args) => commands::nano::run(args),
        Command::Serve(args) => commands::serve::run(*args),
        Command::Completions { shell } => {
            let mut text = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "ward", &mut text);
            Ok(write_stdout(&text))
        }
        Command::Man => {
            let mut text = Vec::new();
            match clap_mangen::Man::new(Cli::command()).render(&mut text) {
                Ok(()) => Ok(write_stdout(&text)),
                Err(e) => Err(anyhow::Error::new(e).context("cannot render the manual page")),
            }
        }
    };
    let code = match result {
        Ok(code) => code,
        Err(err) => {
            let _ = std::io::stdout().flush();
            diag::err(&error_text(&err));
            exit::code_for(&err)
        }
    };
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}

/// Writes `bytes` to stdout (a closed stdout is ignored); the exit status is success.
fn write_stdout(bytes: &[u8]) -> i32 {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes);
    let _ = out.flush();
    exit::SUCCESS
}

/// An error and its causes, one per line, without the Rust backtrace `{:?}` would add when
/// `RUST_BACKTRACE` is set. A cause whose text its predecessor already contains (error enums
/// that display their source) is left out.
fn error_text(err: &anyhow::Error) -> String {
    // A timeout is said as such, whatever was running.
    if let Some(t) = err.chain().find_map(|c| c.downcast_ref::<commands::run::TimedOut>()) {
        return format!("error: {t}");
    }
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
    // Causes may quote names from the guest: no control characters, no endless lines.
    diag::escape_lines(&text)
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
        assert_eq!(with_implicit_run(args(&["ward", "compile", "m.wat"]))[1], "compile");
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
        Cli::command().debug_assert();
    }

    fn parse(words: &[&str]) -> commands::run::RunArgs {
        match Cli::try_parse_from(with_implicit_run(args(words))).expect("parses").command {
            Command::Run(r) => *r,
            other => panic!("not run: {other:?}"),
        }
    }

    #[test]
    fn everything_after_the_module_belongs_to_the_guest() {
        let r = parse(&["ward", "run", "--fuel", "5", "p.wasm", "--dir", "/", "-h", "--", "x"]);
        assert!(r.dirs.is_empty());
        assert_eq!(r.fuel, Some(5));
        assert_eq!(r.module_and_args, args(&["p.wasm", "--dir", "/", "-h", "--", "x"]));
        let r = parse(&["ward", "p.wasm", "--invoke", "f"]);
        assert_eq!(r.invoke, None);
        assert_eq!(r.module_and_args, args(&["p.wasm", "--invoke", "f"]));
        let r = parse(&["ward", "run", "--", "p.wasm", "-x"]);
        assert_eq!(r.module_and_args, args(&["p.wasm", "-x"]));
    }
}
