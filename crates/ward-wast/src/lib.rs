//! Runs WebAssembly spec test scripts (`.wast` files) against Ward.
//!
//! This is the engine room of `ward wast` and of the spec-suite test (`tests/spec_suite.rs`): both
//! call [`run_file`] (or [`run_files`]) and print the returned [`Report`]s.
//!
//! A script is parsed with the `wast` crate and its directives run in order against one
//! [`ward::Store`] and one [`ward::Linker`], which holds the `spectest` host module and every
//! `register`ed instance. Each directive counts once, as passed or failed; a failure keeps its
//! source position and a one-line reason. A script in a proposal's directory of the suite runs
//! with that proposal's feature set ([`Features::of_suite_dir`]). Nothing here panics on any
//! input: a panic inside Ward while running a directive is caught and counted as that
//! directive's failure.
//!
//! ```
//! let report = ward_wast::run_script("inline.wast", r#"
//!     (module (func (export "add") (param i32 i32) (result i32)
//!       local.get 0 local.get 1 i32.add))
//!     (assert_return (invoke "add" (i32.const 2) (i32.const 3)) (i32.const 5))
//!     (assert_return (invoke "add" (i32.const 2) (i32.const 3)) (i32.const 6))
//! "#);
//! assert_eq!((report.passed, report.failed), (2, 1));
//! assert_eq!(report.failures[0].line, 5);
//! ```

#![warn(missing_docs)]

mod legacy;
mod spectest;
mod values;

pub use values::parse_value;

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex, Once};

use ward::{Config, Engine, Instance, Linker, Module, Store, Tier, Trap, TrapCode, Val};
use wast::lexer::Lexer;
use wast::parser::{self, ParseBuffer};
use wast::token::Id;
use wast::{QuoteWat, QuoteWatTest, Wast, WastDirective, WastExecute, WastInvoke, Wat};

/// Native stack for the thread that runs one script. Text parsing, validation and the runner
/// recurse over nested syntax; the interpreter itself does not use the native stack for wasm
/// calls. Test-harness threads have only 2 MiB, hence a thread of our own.
const SCRIPT_STACK_BYTES: usize = 64 << 20;

/// One failed directive.
#[derive(Clone, Debug)]
pub struct Failure {
    /// 1-based line of the directive in the script (0 if the file could not be read).
    pub line: usize,
    /// 1-based column of the directive.
    pub column: usize,
    /// The directive's keyword, e.g. `assert_return`; `file` if the script could not be read,
    /// `script` if it could not be parsed (or the runner could not be set up for it).
    pub directive: &'static str,
    /// Why it failed, on one line.
    pub message: String,
}

/// The outcome of one script.
#[derive(Clone, Debug)]
pub struct Report {
    /// The script's path (or the name it was given).
    pub path: PathBuf,
    /// Directives that passed.
    pub passed: usize,
    /// Directives that failed; equals `failures.len()`.
    pub failed: usize,
    /// Every failure, in script order.
    pub failures: Vec<Failure>,
    /// Modules the script compiled that run in native code (see [`ward::Config::tier`]).
    pub native_modules: usize,
    /// Modules the script compiled that run in the interpreter.
    pub interpreted_modules: usize,
    /// With the native tier asked for: why each interpreted module fell back, in script order.
    pub fallbacks: Vec<String>,
}

impl Report {
    /// An empty report for the script at `path`.
    pub fn new(path: &Path) -> Report {
        Report {
            path: path.to_path_buf(),
            passed: 0,
            failed: 0,
            failures: Vec::new(),
            native_modules: 0,
            interpreted_modules: 0,
            fallbacks: Vec::new(),
        }
    }

    fn fail(&mut self, line: usize, column: usize, directive: &'static str, message: String) {
        self.failed += 1;
        self.failures.push(Failure { line, column, directive, message });
    }

    /// All directives counted.
    pub fn total(&self) -> usize {
        self.passed + self.failed
    }
}

/// Reads and runs one script, with the feature set of the suite directory it is in
/// ([`Features::of_suite_dir`]). An unreadable or unparsable file is one failure.
pub fn run_file(path: impl AsRef<Path>) -> Report {
    let mut config = Config::new();
    Features::of_suite_dir(path.as_ref()).apply(&mut config);
    run_file_with(path, &config)
}

/// Reads and runs one script with an engine of configuration `config` (its tier, say), used as
/// given.
pub fn run_file_with(path: impl AsRef<Path>, config: &Config) -> Report {
    let path = path.as_ref();
    match std::fs::read_to_string(path) {
        Ok(source) => run_script_with(path, &source, config),
        Err(e) => {
            let mut report = Report::new(path);
            report.fail(0, 0, "file", format!("cannot read `{}`: {e}", path.display()));
            report
        }
    }
}

/// Runs several scripts on up to `jobs` threads and hands each report to `each` in the order of
/// `paths`, as soon as it and all before it are done.
pub fn run_files(paths: &[PathBuf], jobs: usize, each: impl FnMut(Report)) {
    run_files_with(paths, jobs, &Config::new(), each)
}

/// [`run_files`] with an engine of configuration `config` for every script, adjusted to the
/// feature set of the suite directory each script is in ([`Features::of_suite_dir`]).
pub fn run_files_with(paths: &[PathBuf], jobs: usize, config: &Config, each: impl FnMut(Report)) {
    run_files_configured(
        paths,
        jobs,
        |path| {
            let mut config = config.clone();
            Features::of_suite_dir(path).apply(&mut config);
            config
        },
        each,
    )
}

/// [`run_files`] with the engine configuration `config_for(path)` for each script, used as
/// given.
pub fn run_files_configured(
    paths: &[PathBuf],
    jobs: usize,
    config_for: impl Fn(&Path) -> Config + Sync,
    each: impl FnMut(Report),
) {
    run_files_by(paths, jobs, |path| run_file_with(path, &config_for(path)), each)
}

/// Runs `run(path)` for each of `paths` on up to `jobs` threads and hands each report to
/// `each` in the order of `paths`, as soon as it and all before it are done: the scheduling of
/// [`run_files`] for any runner (a caller may run some scripts with another runner, such as
/// component scripts).
pub fn run_files_by(
    paths: &[PathBuf],
    jobs: usize,
    run: impl Fn(&Path) -> Report + Sync,
    mut each: impl FnMut(Report),
) {
    let jobs = jobs.clamp(1, paths.len().max(1));
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, Report)>();
    std::thread::scope(|s| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let next = &next;
            let run = &run;
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(path) = paths.get(i) else { break };
                if tx.send((i, run(path))).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut pending = BTreeMap::new();
        let mut wanted = 0;
        for (i, report) in rx {
            pending.insert(i, report);
            while let Some(report) = pending.remove(&wanted) {
                each(report);
                wanted += 1;
            }
        }
    });
}

/// Feature switches for the engine a script runs in; `None` leaves the configuration's own
/// setting (WebAssembly 3.0 and the proposals Ward implements, all on by default).
///
/// A proposal's test suite is written against the proposal's own feature set, which may predate
/// later features: `proposals/threads/` expects a module with two memories or two tables to be
/// invalid, as it was before multi-memory and reference types.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features {
    /// More than one memory per module ([`Config::wasm_multi_memory`]).
    pub multi_memory: Option<bool>,
    /// Reference types, and more than one table per module ([`Config::wasm_reference_types`]).
    pub reference_types: Option<bool>,
}

impl Features {
    /// The feature set of the spec-suite directory `path` is in, recognised by its last two
    /// components (`proposals/NAME`): the threads proposal has neither multi-memory nor
    /// reference types. Anything else (the suite's root, `legacy/`, the other proposals, files
    /// elsewhere) gets no switches.
    pub fn of_suite_dir(path: &Path) -> Features {
        let mut dirs = path.parent().into_iter().flat_map(|d| d.components().rev());
        let name = dirs.next().map(|c| c.as_os_str());
        let parent = dirs.next().map(|c| c.as_os_str());
        match (parent.and_then(|p| p.to_str()), name.and_then(|n| n.to_str())) {
            (Some("proposals"), Some("threads")) => {
                Features { multi_memory: Some(false), reference_types: Some(false) }
            }
            _ => Features::default(),
        }
    }

    /// `self` with every switch `over` sets replaced by `over`'s.
    pub fn overridden_by(self, over: Features) -> Features {
        Features {
            multi_memory: over.multi_memory.or(self.multi_memory),
            reference_types: over.reference_types.or(self.reference_types),
        }
    }

    /// Sets the switches that are `Some` on `config`.
    pub fn apply(&self, config: &mut Config) {
        if let Some(on) = self.multi_memory {
            config.wasm_multi_memory(on);
        }
        if let Some(on) = self.reference_types {
            config.wasm_reference_types(on);
        }
    }
}

/// Runs a script given as text; `path` only names it in the report.
pub fn run_script(path: impl AsRef<Path>, source: &str) -> Report {
    run_script_with(path, source, &Config::new())
}

/// [`run_script`] with an engine of configuration `config`.
pub fn run_script_with(path: impl AsRef<Path>, source: &str, config: &Config) -> Report {
    let path = path.as_ref();
    std::thread::scope(|s| {
        let spawned = std::thread::Builder::new()
            .name(format!("wast {}", path.display()))
            .stack_size(SCRIPT_STACK_BYTES)
            .spawn_scoped(s, || {
                QUIET_PANICS.set(true);
                run_script_here(path, source, config)
            });
        match spawned {
            Ok(handle) => handle.join().unwrap_or_else(|payload| {
                let mut report = Report::new(path);
                report.fail(0, 0, "script", format!("runner panicked: {}", panic_text(&*payload)));
                report
            }),
            // No thread to be had: run on this one.
            Err(_) => run_script_here(path, source, config),
        }
    })
}

fn run_script_here(path: &Path, source: &str, config: &Config) -> Report {
    install_panic_hook();
    let mut report = Report::new(path);
    if source.trim().is_empty() {
        return report;
    }
    let source: &str = &legacy::unfold_try(source);
    // Bidirectional-text control characters are a lint of the `wast` crate, not a spec rule;
    // `names.wast` uses them in names.
    let buf = match catch_unwind(|| {
        let mut lexer = Lexer::new(source);
        lexer.allow_confusing_unicode(true);
        ParseBuffer::new_with_lexer(lexer)
    }) {
        Ok(Ok(buf)) => buf,
        Ok(Err(e)) => {
            let (line, column, message) = parse_error(e, source);
            report.fail(line, column, "script", message);
            return report;
        }
        Err(payload) => {
            report.fail(0, 0, "script", format!("the lexer panicked: {}", panic_text(&*payload)));
            return report;
        }
    };
    let script = match catch_unwind(AssertUnwindSafe(|| parser::parse::<Wast>(&buf))) {
        Ok(Ok(script)) => script,
        Ok(Err(e)) => {
            let (line, column, message) = parse_error(e, source);
            report.fail(line, column, "script", message);
            return report;
        }
        Err(payload) => {
            report.fail(0, 0, "script", format!("the parser panicked: {}", panic_text(&*payload)));
            return report;
        }
    };

    let mut runner = match catch_unwind(|| Runner::new(config)) {
        Ok(Ok(runner)) => Some(runner),
        Ok(Err(e)) => {
            report.fail(0, 0, "script", e);
            None
        }
        Err(payload) => {
            report.fail(
                0,
                0,
                "script",
                format!("setting up the store panicked: {}", panic_text(&*payload)),
            );
            None
        }
    };
    let lines = LineIndex::new(source);
    let running = Running::start(path);
    for directive in script.directives {
        let (line, column) = lines.position(directive.span().offset());
        running.at(line);
        let name = directive_name(&directive);
        let Some(r) = runner.as_mut() else {
            report.fail(line, column, name, "not run: the runner could not be set up".into());
            continue;
        };
        match catch_unwind(AssertUnwindSafe(|| r.run(directive))) {
            Ok(Ok(())) => report.passed += 1,
            Ok(Err(message)) => report.fail(line, column, name, message),
            Err(payload) => {
                report.fail(line, column, name, format!("panicked: {}", panic_text(&*payload)))
            }
        }
    }
    if let Some(r) = runner {
        report.native_modules = r.native_modules.get();
        report.interpreted_modules = r.interpreted_modules.get();
        report.fallbacks = r.fallbacks.into_inner();
    }
    report
}

/// The position and text of a script's parse error.
fn parse_error(e: wast::Error, source: &str) -> (usize, usize, String) {
    let (line, column) = LineIndex::new(source).position(e.span().offset());
    (line, column, format!("cannot parse the script: {}", e.message()))
}

/// 1-based line and column (in bytes) of byte offsets in a script.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(source: &str) -> LineIndex {
        let newlines = source.match_indices('\n').map(|(i, _)| i + 1);
        LineIndex { starts: std::iter::once(0).chain(newlines).collect() }
    }

    fn position(&self, offset: usize) -> (usize, usize) {
        let line = self.starts.partition_point(|&start| start <= offset).max(1);
        (line, offset - self.starts[line - 1] + 1)
    }
}

/// Scripts being run right now and the line of the directive each is at, for [`in_progress`].
static RUNNING: Mutex<BTreeMap<u64, (PathBuf, usize)>> = Mutex::new(BTreeMap::new());

/// The scripts being run at this moment, with the line of the directive each one is running:
/// what to print when a run takes far too long (a directive that never returns).
pub fn in_progress() -> Vec<(PathBuf, usize)> {
    let running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    running.values().cloned().collect()
}

/// An entry of [`RUNNING`], removed when dropped.
struct Running(u64);

impl Running {
    fn start(path: &Path) -> Running {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        RUNNING.lock().unwrap_or_else(|e| e.into_inner()).insert(id, (path.to_path_buf(), 0));
        Running(id)
    }

    fn at(&self, line: usize) {
        if let Some(entry) = RUNNING.lock().unwrap_or_else(|e| e.into_inner()).get_mut(&self.0) {
            entry.1 = line;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.0);
    }
}

thread_local! {
    /// Set on script threads: their panics are caught and reported as failures, so the panic
    /// hook records the message and location instead of printing them.
    static QUIET_PANICS: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs (once per process) a panic hook that keeps script threads quiet and defers to the
/// previous hook everywhere else.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET_PANICS.get() {
                let mut text = payload_text(info.payload());
                if let Some(at) = info.location() {
                    text = format!("{text} (at {}:{})", at.file(), at.line());
                }
                LAST_PANIC.set(Some(text));
            } else {
                previous(info);
            }
        }));
    });
}

/// The text of a caught panic: as recorded by the hook (with its location) if it was, else the
/// payload's message.
fn panic_text(payload: &(dyn Any + Send)) -> String {
    LAST_PANIC.take().unwrap_or_else(|| payload_text(payload))
}

fn payload_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

fn directive_name(d: &WastDirective<'_>) -> &'static str {
    match d {
        WastDirective::Module(_) => "module",
        WastDirective::ModuleDefinition(_) => "module definition",
        WastDirective::ModuleInstance { .. } => "module instance",
        WastDirective::AssertMalformed { .. } => "assert_malformed",
        WastDirective::AssertInvalid { .. } => "assert_invalid",
        WastDirective::AssertInvalidCustom { .. } => "assert_invalid_custom",
        WastDirective::AssertMalformedCustom { .. } => "assert_malformed_custom",
        WastDirective::Register { .. } => "register",
        WastDirective::Invoke(_) => "invoke",
        WastDirective::AssertTrap { .. } => "assert_trap",
        WastDirective::AssertReturn { .. } => "assert_return",
        WastDirective::AssertExhaustion { .. } => "assert_exhaustion",
        WastDirective::AssertUnlinkable { .. } => "assert_unlinkable",
        WastDirective::AssertException { .. } => "assert_exception",
        WastDirective::AssertSuspension { .. } => "assert_suspension",
        WastDirective::Thread(_) => "thread",
        WastDirective::Wait { .. } => "wait",
    }
}

/// The first line of an error's text (traps append a multi-line backtrace).
fn first_line(e: &impl std::fmt::Display) -> String {
    let text = e.to_string();
    text.lines().next().unwrap_or("").to_string()
}

/// Why a module could not be compiled.
enum CompileError {
    /// Ward cannot even try (components).
    Unsupported(String),
    /// Rejected as malformed or invalid: by the text parser or by Ward.
    Rejected(String),
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CompileError::Unsupported(m) | CompileError::Rejected(m) => f.write_str(m),
        }
    }
}

/// The result of running something: values, or the error Ward returned. The outer `Result` of
/// [`Runner::execute`] is for failures of the script itself (no such export, no instance).
type Outcome = ward::Result<Vec<Val>>;

/// The state of one script run.
struct Runner {
    engine: Engine,
    store: Store<()>,
    linker: Linker<()>,
    /// The most recently instantiated module: the target of `invoke` without a module name.
    /// `Err` holds why the most recent module directive failed, so that the directives after it
    /// say so instead of talking to an older instance.
    current: Result<Instance, String>,
    /// Instances by their `$name`.
    instances: HashMap<String, Instance>,
    /// `module definition`s by their `$name`.
    definitions: HashMap<String, Module>,
    last_definition: Option<Module>,
    refs: values::HostRefs,
    /// Compiled modules by the tier that runs them, and why each interpreted one fell back.
    native_modules: Cell<usize>,
    interpreted_modules: Cell<usize>,
    fallbacks: RefCell<Vec<String>>,
}

impl Runner {
    fn new(config: &Config) -> Result<Runner, String> {
        let engine = Engine::new(config);
        let mut store = Store::new(&engine, ());
        let mut linker = Linker::new(&engine);
        // Scripts register several instances under one name; the last one wins.
        linker.allow_shadowing(true);
        spectest::define(&mut linker, &mut store)
            .map_err(|e| format!("cannot define the `spectest` module: {e}"))?;
        Ok(Runner {
            engine,
            store,
            linker,
            current: Err("no module has been instantiated yet".to_string()),
            instances: HashMap::new(),
            definitions: HashMap::new(),
            last_definition: None,
            refs: values::HostRefs::default(),
            native_modules: Cell::new(0),
            interpreted_modules: Cell::new(0),
            fallbacks: RefCell::new(Vec::new()),
        })
    }

    fn run(&mut self, directive: WastDirective<'_>) -> Result<(), String> {
        match directive {
            WastDirective::Module(mut module) => {
                let name = module.name();
                let result = match self.compile(&mut module) {
                    Ok(module) => self.instantiate(&module).map_err(|e| instantiate_failed(&e)),
                    Err(e) => Err(compile_failed(&e)),
                };
                self.set_current(result.clone(), name);
                result.map(drop)
            }
            WastDirective::ModuleDefinition(mut module) => {
                let name = module.name();
                let module = self.compile(&mut module).map_err(|e| compile_failed(&e))?;
                if let Some(name) = name {
                    self.definitions.insert(name.name().to_string(), module.clone());
                }
                self.last_definition = Some(module);
                Ok(())
            }
            WastDirective::ModuleInstance { instance, module, .. } => {
                let definition = match module {
                    Some(id) => self
                        .definitions
                        .get(id.name())
                        .cloned()
                        .ok_or_else(|| format!("no module definition named `${}`", id.name()))?,
                    None => {
                        self.last_definition.clone().ok_or("no module definition to instantiate")?
                    }
                };
                let result = self.instantiate(&definition).map_err(|e| instantiate_failed(&e));
                self.set_current(result.clone(), instance);
                result.map(drop)
            }
            WastDirective::Register { name, module, .. } => {
                let instance = self.instance(module)?;
                self.linker
                    .instance(&mut self.store, name, instance)
                    .map_err(|e| format!("cannot register the instance as `{name}`: {e}"))?;
                Ok(())
            }
            WastDirective::Invoke(invoke) => match self.invoke(&invoke)? {
                Ok(_) => Ok(()),
                Err(e) => Err(format!("`{}` failed: {}", invoke.name, first_line(&e))),
            },
            WastDirective::AssertReturn { exec, results, .. } => {
                let what = describe_exec(&exec);
                match self.execute(exec)? {
                    Ok(actual) => values::check_results(&results, &actual, &self.store)
                        .map_err(|e| format!("{what}: {e}")),
                    Err(e) => Err(format!("{what}: expected a return, got: {}", first_line(&e))),
                }
            }
            WastDirective::AssertTrap { exec, message, .. } => {
                let what = describe_exec(&exec);
                match self.execute(exec)? {
                    Ok(actual) => Err(format!(
                        "{what}: expected trap `{message}`, got a return: {}",
                        values::describe_vals(&actual, &self.store)
                    )),
                    Err(e) => check_trap(&e, message).map_err(|e| format!("{what}: {e}")),
                }
            }
            WastDirective::AssertExhaustion { call, message, .. } => match self.invoke(&call)? {
                Ok(actual) => Err(format!(
                    "`{}`: expected exhaustion `{message}`, got a return: {}",
                    call.name,
                    values::describe_vals(&actual, &self.store)
                )),
                Err(e) => check_trap(&e, message).map_err(|e| format!("`{}`: {e}", call.name)),
            },
            WastDirective::AssertException { exec, .. } => {
                let what = describe_exec(&exec);
                match self.execute(exec)? {
                    Ok(actual) => Err(format!(
                        "{what}: expected an uncaught exception, got a return: {}",
                        values::describe_vals(&actual, &self.store)
                    )),
                    Err(e) => match e.as_trap() {
                        Some(t) if t.code() == TrapCode::UncaughtException => Ok(()),
                        _ => Err(format!(
                            "{what}: expected an uncaught exception, got: {}",
                            first_line(&e)
                        )),
                    },
                }
            }
            WastDirective::AssertInvalid { mut module, message, .. }
            | WastDirective::AssertMalformed { mut module, message, .. } => {
                match self.compile(&mut module) {
                    Ok(_) => {
                        Err(format!("module compiled, but it should be rejected: `{message}`"))
                    }
                    Err(CompileError::Rejected(_)) => Ok(()),
                    Err(CompileError::Unsupported(e)) => Err(e),
                }
            }
            WastDirective::AssertUnlinkable { module, message, .. } => {
                let module =
                    self.compile(&mut QuoteWat::Wat(module)).map_err(|e| compile_failed(&e))?;
                match self.instantiate(&module) {
                    Ok(_) => Err(format!("module linked, but it should fail with `{message}`")),
                    Err(e) => check_link_error(&e, message),
                }
            }
            WastDirective::AssertInvalidCustom { .. }
            | WastDirective::AssertMalformedCustom { .. } => {
                Err("custom-section assertions (annotations proposal) are not supported".into())
            }
            WastDirective::AssertSuspension { .. } => {
                Err("stack switching (`assert_suspension`) is not supported".into())
            }
            WastDirective::Thread(_) | WastDirective::Wait { .. } => {
                Err("threads (`thread`, `wait`) are not supported".into())
            }
        }
    }

    /// Makes the outcome of a module directive current, under its `$name` too if it has one.
    fn set_current(&mut self, instance: Result<Instance, String>, name: Option<Id<'_>>) {
        if let Some(name) = name {
            match &instance {
                Ok(instance) => self.instances.insert(name.name().to_string(), *instance),
                Err(_) => self.instances.remove(name.name()),
            };
        }
        self.current = instance;
    }

    /// The named instance, or the current one.
    fn instance(&self, name: Option<Id<'_>>) -> Result<Instance, String> {
        match name {
            Some(id) => self
                .instances
                .get(id.name())
                .copied()
                .ok_or_else(|| format!("no module instance named `${}`", id.name())),
            None => self.current.clone().map_err(|e| format!("no current module: {e}")),
        }
    }

    fn compile(&self, module: &mut QuoteWat<'_>) -> Result<Module, CompileError> {
        if matches!(module, QuoteWat::Wat(Wat::Component(_)) | QuoteWat::QuoteComponent(..)) {
            return Err(CompileError::Unsupported("components are not supported".into()));
        }
        let module = match module.to_test() {
            Err(e) => Err(CompileError::Rejected(format!("text format: {}", e.message()))),
            Ok(QuoteWatTest::Binary(bytes)) => Module::from_binary(&self.engine, &bytes)
                .map_err(|e| CompileError::Rejected(e.to_string())),
            // `module quote`: the text goes through Ward's own text front end.
            Ok(QuoteWatTest::Text(text)) => {
                Module::new(&self.engine, &text).map_err(|e| CompileError::Rejected(e.to_string()))
            }
        }?;
        match module.tier() {
            Tier::Native => self.native_modules.set(self.native_modules.get() + 1),
            Tier::Interpreter => {
                self.interpreted_modules.set(self.interpreted_modules.get() + 1);
                if let Some(reason) = module.native_fallback_reason() {
                    self.fallbacks.borrow_mut().push(reason.to_string());
                }
            }
        }
        Ok(module)
    }

    fn instantiate(&mut self, module: &Module) -> ward::Result<Instance> {
        self.linker.instantiate(&mut self.store, module)
    }

    fn execute(&mut self, exec: WastExecute<'_>) -> Result<Outcome, String> {
        match exec {
            WastExecute::Invoke(invoke) => self.invoke(&invoke),
            WastExecute::Wat(wat) => {
                let module =
                    self.compile(&mut QuoteWat::Wat(wat)).map_err(|e| compile_failed(&e))?;
                Ok(self.instantiate(&module).map(|_| Vec::new()))
            }
            WastExecute::Get { module, global, .. } => {
                let instance = self.instance(module)?;
                let global = instance
                    .get_global(&mut self.store, global)
                    .ok_or_else(|| format!("no global exported as `{global}`"))?;
                Ok(Ok(vec![global.get(&mut self.store)]))
            }
        }
    }

    fn invoke(&mut self, invoke: &WastInvoke<'_>) -> Result<Outcome, String> {
        let instance = self.instance(invoke.module)?;
        let func = instance
            .get_func(&mut self.store, invoke.name)
            .ok_or_else(|| format!("no function exported as `{}`", invoke.name))?;
        let mut args = Vec::with_capacity(invoke.args.len());
        for arg in &invoke.args {
            args.push(values::arg(arg, &mut self.store, &mut self.refs)?);
        }
        let ty = func.ty(&self.store);
        let mut results: Vec<Val> = ty.results().iter().map(|t| values::placeholder(*t)).collect();
        Ok(func.call(&mut self.store, &args, &mut results).map(|()| results))
    }
}

fn compile_failed(e: &CompileError) -> String {
    format!("module failed to compile: {e}")
}

fn instantiate_failed(e: &ward::Error) -> String {
    format!("module failed to instantiate: {}", first_line(e))
}

fn describe_exec(exec: &WastExecute<'_>) -> String {
    match exec {
        WastExecute::Invoke(i) => {
            let args: Vec<String> = i
                .args
                .iter()
                .map(|a| match a {
                    wast::WastArg::Core(a) => values::describe_arg(a),
                    _ => "(component value)".to_string(),
                })
                .collect();
            format!("`{}`({})", i.name, args.join(", "))
        }
        WastExecute::Wat(_) => "module".to_string(),
        WastExecute::Get { global, .. } => format!("global `{global}`"),
    }
}

/// Whether a trap is the one a script expects. Ward's messages use the spec's wording (see
/// [`TrapCode::message`]); a few expectations in the suite are more specific than the code
/// (`uninitialized element 2`, `null function reference`) or use the spec interpreter's older
/// wording for the same condition (`undefined element` for an index past the end of a table).
fn trap_matches(trap: &Trap, expected: &str) -> bool {
    let code = trap.code();
    if trap.to_string().contains(expected) || expected.starts_with(code.message()) {
        return true;
    }
    match expected {
        "undefined element" => {
            matches!(code, TrapCode::TableOutOfBounds | TrapCode::UninitializedElement)
        }
        e if e.starts_with("null ") && e.ends_with(" reference") => code == TrapCode::NullReference,
        _ => false,
    }
}

fn check_trap(e: &ward::Error, expected: &str) -> Result<(), String> {
    match e.as_trap() {
        Some(trap) if trap_matches(trap, expected) => Ok(()),
        Some(trap) => Err(format!("expected trap `{expected}`, got trap `{}`", first_line(trap))),
        None => Err(format!("expected trap `{expected}`, got error: {}", first_line(e))),
    }
}

fn check_link_error(e: &ward::Error, expected: &str) -> Result<(), String> {
    match e {
        ward::Error::UnknownImport { .. } | ward::Error::IncompatibleImport { .. } => Ok(()),
        e if e.as_trap().is_none() && e.to_string().contains(expected) => Ok(()),
        e => Err(format!("expected link error `{expected}`, got: {}", first_line(e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suite_directories_choose_their_feature_sets() {
        let off = Features { multi_memory: Some(false), reference_types: Some(false) };
        let of = |p: &str| Features::of_suite_dir(Path::new(p));
        assert_eq!(of("../shared/wasm-testsuite/proposals/threads/memory.wast"), off);
        assert_eq!(of("proposals/threads/x.wast"), off);
        for other in [
            "../shared/wasm-testsuite/memory.wast",
            "../shared/wasm-testsuite/proposals/wide-arithmetic/wide-arithmetic.wast",
            "../shared/wasm-testsuite/legacy/throw.wast",
            "threads/memory.wast",
            "memory.wast",
            "",
        ] {
            assert_eq!(of(other), Features::default(), "{other}");
        }
        let on = Features { multi_memory: Some(true), reference_types: None };
        assert_eq!(
            off.overridden_by(on),
            Features { multi_memory: Some(true), reference_types: Some(false) }
        );
    }

    #[test]
    fn features_reach_the_validator() {
        let script = r#"(assert_invalid (module (memory 1) (memory 1)) "multiple memories")
            (module (table 1 funcref) (func $f) (elem (i32.const 0) $f)
              (type $t (func))
              (func (export "call") (call_indirect (type $t) (i32.const 0))))
            (assert_return (invoke "call"))"#;
        let mut config = Config::new();
        let report = run_script_with("x.wast", script, &config);
        assert_eq!((report.passed, report.failed), (2, 1));
        Features { multi_memory: Some(false), reference_types: Some(false) }.apply(&mut config);
        let report = run_script_with("x.wast", script, &config);
        assert_eq!((report.passed, report.failed), (3, 0), "{:?}", report.failures);
    }
}
