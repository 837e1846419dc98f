//! `ward run [OPTIONS] MODULE [ARGS]...` (or just `ward MODULE [ARGS]...`): runs a module.
//!
//! Everything after MODULE belongs to the guest: `ward run prog.wasm --dir /` passes `--dir`
//! and `/` to the program and grants nothing. MODULE `-` reads the module from stdin.
//!
//! The module is compiled and instantiated with WASI preview 1 available to it
//! (`wasi_snapshot_preview1`, from `ward-wasi`). The guest gets the host's standard streams,
//! the program arguments (`argv[0]` is the module's file name without its directories, or
//! `--argv0`), the environment variables named with `--env` (or all, with `--inherit-env`),
//! the directories preopened with `--dir` and the sockets of `--tcplisten` — nothing else. Then
//! either `_start` is called (a WASI command), or `--invoke FUNC` is called with ARGS parsed by
//! the function's parameter types and its results printed one per line (after `_initialize`,
//! if the module is a WASI reactor that exports one).
//!
//! The exit status is the guest's `proc_exit` code when it is in 0..=123, and otherwise one of
//! the statuses in [`exit`].

use std::ffi::OsString;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use clap::Args;
use tracing::debug;
use ward::{
    Config, Engine, HeapType, Instance, Linker, Module, Store, StoreLimitsBuilder, Val, ValType,
};
use ward_wasi::{ThreadEnd, WasiCtx, WasiCtxBuilder};

use super::cache::Cache;
use super::load::{self, Source};
use super::options::{
    self, CodegenOption, DirMapping, EnvVar, NetGrant, ProfileArg, TierArg, WasiOption, WasmOption,
};
use super::{backtrace, compile, diag, exit};

/// Room for tables and element segments beside the memories, in the default store-wide budget.
const TABLE_HEADROOM: u64 = 64 << 20;

/// The store-wide budget when `--max-total-memory` is not given: the memory limit (4 GiB, the
/// largest 32-bit memory, when none is given) plus room for tables, so that tables can never
/// hold more host memory than the user allowed the guest's memory plus a fixed margin.
fn default_total_memory(max_memory: Option<u64>) -> u64 {
    max_memory.unwrap_or(4 << 30).saturating_add(TABLE_HEADROOM)
}

/// Arguments of `ward run`.
#[derive(Args, Debug)]
#[command(override_usage = "ward run [OPTIONS] MODULE [ARGS]...")]
#[command(after_help = "Everything after MODULE is passed to the program, flags included: \
    `ward run prog.wasm --dir /` gives the program the arguments `--dir` and `/`.\n\
    Wasmtime's spellings are accepted too: -S inherit-env, -S tcplisten=ADDR, -W fuel=N, \
    -W max-memory-size=SIZE, -W max-table-elements=N, -W timeout=DURATION.\n\
    Network for components (wasi:sockets; nothing unless granted, repeatable, core modules \
    refuse them): -S inherit-network (everything), -S allow-ip-name-lookup, \
    -S tcp-connect=PATTERN, -S tcp-listen=PATTERN, -S udp-bind=PATTERN, -S udp-send=PATTERN, \
    -S max-sockets=N (default 1024). PATTERN is an IP address or CIDR block (or *) and a port, \
    a port range or *: 127.0.0.1:8080, 10.0.0.0/8:8000-8100, [::1]:*, *:443; names are never \
    resolved. Outgoing wasi:http requests (components): --allow-http HOST[:PORT], or -S http \
    for every host.")]
pub struct RunArgs {
    /// Give the guest a host directory, seen by the guest as GUEST (default: HOST); `::ro`
    /// makes it read-only. Repeatable.
    #[arg(long = "dir", value_name = "HOST[::GUEST][::ro]", value_parser = options::parse_dir)]
    pub dirs: Vec<DirMapping>,
    /// Set an environment variable for the guest; NAME alone passes the host's value. Repeatable.
    #[arg(long = "env", value_name = "NAME[=VALUE]", value_parser = options::parse_env)]
    pub envs: Vec<EnvVar>,
    /// Give the guest every environment variable of the host (`--env` entries still apply).
    #[arg(long)]
    pub inherit_env: bool,
    /// Listen on a TCP address and hand the socket to the guest (it can `sock_accept` on it).
    /// Repeatable.
    #[arg(long = "tcplisten", value_name = "ADDR")]
    pub tcplisten: Vec<String>,
    /// Let a component send `wasi:http` requests to HOST (`example.com`: any port of it;
    /// `example.com:8080`: that port only; `*`: every host, as `-S http`; `http` or `https`).
    /// Repeatable. Without it every outgoing request is refused (`HTTP-request-denied`).
    /// Components only.
    #[arg(long = "allow-http", value_name = "HOST[:PORT]")]
    pub allow_http: Vec<String>,
    /// Trust the certificates in the PEM file FILE as roots for `https` requests, beside the
    /// built-in Mozilla roots (for a private certificate authority). Repeatable.
    #[arg(long = "http-ca", value_name = "FILE")]
    pub http_ca: Vec<std::path::PathBuf>,
    /// The program name the guest sees as argv[0] (default: MODULE's file name, without
    /// directories).
    #[arg(long, value_name = "NAME")]
    pub argv0: Option<String>,
    /// Call this exported function instead of `_start`; ARGS are its arguments, written as
    /// in the text format (`-1`, `0xff`, `0x1p3`, `nan`, `i32x4 1 2 3 4`).
    #[arg(long, value_name = "FUNC")]
    pub invoke: Option<String>,
    /// Limit the size of each of the guest's linear memories, e.g. `64MiB` (2^20) or `64MB`
    /// (10^6).
    #[arg(long, value_name = "SIZE", value_parser = options::parse_size)]
    pub max_memory: Option<u64>,
    /// Limit the number of elements of each of the guest's tables.
    #[arg(long, value_name = "N")]
    pub max_table_elements: Option<u64>,
    /// Limit how many tables the guest may create (all its modules together).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_TABLES)]
    pub max_tables: usize,
    /// Limit how many linear memories the guest may create.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_MEMORIES)]
    pub max_memories: usize,
    /// Limit the host memory all of the guest's memories and tables hold together, e.g.
    /// `1GiB` (table elements count 8 bytes each). Default: `--max-memory` plus 64 MiB for
    /// tables and element segments when `--max-memory` is given, otherwise 4 GiB plus 64 MiB.
    #[arg(long, value_name = "SIZE", value_parser = options::parse_size)]
    pub max_total_memory: Option<u64>,
    /// Stop the guest with a trap after about N units of fuel (roughly one per instruction).
    #[arg(long, value_name = "N")]
    pub fuel: Option<u64>,
    /// Stop the program after this long, e.g. `500ms`, `10s`, `2m`, counting from before the
    /// module is compiled (exit status 124).
    #[arg(long, value_name = "DURATION", value_parser = options::parse_duration)]
    pub timeout: Option<Duration>,
    /// The execution tier: `interp` (the default) or `native` (Cranelift, compiled before the
    /// program starts; a module the native tier cannot compile yet runs in the interpreter).
    /// An artifact of `ward compile` always runs its native code (`--tier interp` is refused).
    #[arg(long, value_enum)]
    pub tier: Option<TierArg>,
    /// Enable `wasi-threads`: the guest may start threads (`thread-spawn`), each a new
    /// instance sharing the memory the module imports; at most `--max-threads` at once.
    #[arg(long)]
    pub wasi_threads: bool,
    /// With `--wasi-threads`: how many threads the guest may run at once besides its main one.
    #[arg(long, value_name = "N", default_value_t = ward_wasi::threads::DEFAULT_MAX_THREADS)]
    pub max_threads: u32,
    /// WASI options as Wasmtime spells them: inherit-env, tcplisten=ADDR, cli, threads; and the
    /// network of a component: inherit-network, allow-ip-name-lookup, tcp-connect=PATTERN,
    /// tcp-listen=PATTERN, udp-bind=PATTERN, udp-send=PATTERN, max-sockets=N (see below).
    #[arg(short = 'S', value_name = "KEY[=VALUE]", value_delimiter = ',',
          value_parser = options::parse_wasi_option)]
    pub wasi_options: Vec<WasiOption>,
    /// Wasm options as Wasmtime spells them: fuel=N, max-memory-size=SIZE,
    /// max-table-elements=N, timeout=DURATION.
    #[arg(short = 'W', value_name = "KEY=VALUE", value_delimiter = ',',
          value_parser = options::parse_wasm_option)]
    pub wasm_options: Vec<WasmOption>,
    /// Compilation options as Wasmtime spells them: cache=y|n (`--tier native` keeps compiled
    /// code in a private cache directory, `$WARD_CACHE_DIR` or `~/.cache/ward`; on by default).
    #[arg(short = 'C', value_name = "KEY=VALUE", value_delimiter = ',',
          value_parser = options::parse_codegen_option)]
    pub codegen: Vec<CodegenOption>,
    /// Profiling support: `perfmap` writes `/tmp/perf-<pid>.map` so that `perf report` names
    /// the functions of native code (`--tier native`).
    #[arg(long, value_enum, value_name = "STRATEGY")]
    pub profile: Option<ProfileArg>,
    /// Wasmtime's optimization options: not supported.
    #[arg(short = 'O', hide = true, value_parser = options::unsupported_group("O"))]
    pub optimize: Vec<String>,
    /// Wasmtime's debug options: not supported.
    #[arg(short = 'D', hide = true, value_parser = options::unsupported_group("D"))]
    pub debug: Vec<String>,
    /// The module to run (`.wasm` or `.wat`; `-` reads it from stdin), then the program's
    /// arguments (or those of `--invoke FUNC`).
    #[arg(value_name = "MODULE", required = true, trailing_var_arg = true,
          allow_hyphen_values = true, num_args = 1..)]
    pub module_and_args: Vec<OsString>,
    /// The `wasi:sockets` grants of `-S` (components only).
    #[arg(skip)]
    pub net: NetArgs,
}

/// What `-S` grants a component on the network.
#[derive(Debug, Default)]
pub struct NetArgs {
    /// `-S inherit-network`.
    pub inherit: bool,
    /// `-S allow-ip-name-lookup`.
    pub lookup: bool,
    /// `-S tcp-connect=`, `tcp-listen=`, `udp-bind=`, `udp-send=`.
    pub grants: Vec<NetGrant>,
    /// `-S max-sockets=N`.
    pub max_sockets: Option<usize>,
}

impl NetArgs {
    /// The `-S` keys given, for an error about them.
    fn keys(&self) -> Vec<&'static str> {
        let mut keys: Vec<&'static str> = Vec::new();
        if self.inherit {
            keys.push("inherit-network");
        }
        if self.lookup {
            keys.push("allow-ip-name-lookup");
        }
        if self.max_sockets.is_some() {
            keys.push("max-sockets");
        }
        for g in &self.grants {
            if !keys.contains(&g.key()) {
                keys.push(g.key());
            }
        }
        keys
    }
}

impl RunArgs {
    /// Folds the `-S`/`-W` spellings into Ward's own options.
    fn resolve_option_groups(&mut self) {
        for o in std::mem::take(&mut self.wasi_options) {
            match o {
                WasiOption::InheritEnv(on) => self.inherit_env = on,
                WasiOption::TcpListen(addr) => self.tcplisten.push(addr),
                WasiOption::Cli => {}
                WasiOption::Threads(on) => self.wasi_threads = on,
                WasiOption::InheritNetwork(on) => self.net.inherit = on,
                WasiOption::IpNameLookup(on) => self.net.lookup = on,
                WasiOption::Net(grant) => self.net.grants.push(grant),
                WasiOption::MaxSockets(n) => self.net.max_sockets = Some(n),
                WasiOption::Http(true) => self.allow_http.push("*".into()),
                WasiOption::Http(false) => self.allow_http.retain(|h| h != "*"),
            }
        }
        for o in std::mem::take(&mut self.wasm_options) {
            match o {
                WasmOption::Fuel(n) => self.fuel = Some(n),
                WasmOption::MaxMemory(n) => self.max_memory = Some(n),
                WasmOption::MaxTableElements(n) => self.max_table_elements = Some(n),
                WasmOption::MaxTables(n) => self.max_tables = n,
                WasmOption::MaxMemories(n) => self.max_memories = n,
                WasmOption::Timeout(d) => self.timeout = Some(d),
            }
        }
    }

    /// Whether `-C cache` leaves the compilation cache on (the default).
    fn cache(&self) -> bool {
        self.codegen.iter().rev().map(|CodegenOption::Cache(on)| *on).next().unwrap_or(true)
    }

    fn source(&self) -> Source {
        Source::from_arg(&self.module_and_args[0])
    }

    /// The guest's arguments after argv[0], which must be UTF-8 (WASI strings are).
    fn guest_args(&self) -> anyhow::Result<Vec<String>> {
        self.module_and_args[1..]
            .iter()
            .enumerate()
            .map(|(i, a)| {
                a.to_str().map(str::to_string).ok_or_else(|| {
                    anyhow!("argument {} for the program, {a:?}, is not valid UTF-8", i + 1)
                })
            })
            .collect()
    }
}

/// `ward run`'s default for `--max-tables`: far above what compilers emit (one or two), far
/// below the library's 10,000.
pub const DEFAULT_MAX_TABLES: usize = 100;
/// `ward run`'s default for `--max-memories`.
pub const DEFAULT_MAX_MEMORIES: usize = 100;

/// A guest's exit status outside 0..=123, reported as [`exit::GUEST_STATUS_OUT_OF_RANGE`].
#[derive(Debug)]
pub struct GuestStatusOutOfRange(pub i32);

impl std::fmt::Display for GuestStatusOutOfRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the program exited with status {}, outside 0..={} (ward reports it as status {})",
            self.0,
            exit::GUEST_MAX,
            exit::GUEST_STATUS_OUT_OF_RANGE
        )
    }
}

impl std::error::Error for GuestStatusOutOfRange {}

/// A trap, already rendered with its backtrace (see [`backtrace::report`]).
#[derive(Debug)]
pub struct TrapReport(pub String);

impl std::fmt::Display for TrapReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TrapReport {}

/// The exit status for a guest's `proc_exit(code)`.
fn guest_exit(code: i32) -> anyhow::Result<i32> {
    if (0..=exit::GUEST_MAX).contains(&code) {
        Ok(code)
    } else {
        Err(GuestStatusOutOfRange(code).into())
    }
}

/// Runs the module; returns the exit status.
pub fn run(mut args: RunArgs) -> anyhow::Result<i32> {
    args.resolve_option_groups();
    let source = args.source();
    let name = source.name();
    let guest_args = args.guest_args()?;

    // An ahead-of-time artifact (`ward compile`) is told by its first bytes, before anything
    // else is read: it runs with the settings `ward compile` compiled it with.
    let artifact = match &source {
        Source::File(path) if load::file_is_artifact(path) => Some(path.clone()),
        _ => None,
    };
    let config = match &artifact {
        Some(_) if args.tier == Some(TierArg::Interp) => anyhow::bail!(
            "`{name}` is an ahead-of-time artifact of native code, which `--tier interp` cannot \
             run (run the module it was compiled from instead)"
        ),
        Some(_) => compile::artifact_config(args.fuel.is_some()),
        None => {
            let mut config = Config::new();
            let tier = args.tier.unwrap_or(TierArg::Interp);
            config.tier(tier.into());
            if tier == TierArg::Native {
                // Guarded memories let native code leave bounds checks to the MMU.
                config.memory_strategy(ward::MemoryStrategy::Guarded);
            }
            config.consume_fuel(args.fuel.is_some());
            config.native_perf_map(args.profile == Some(ProfileArg::Perfmap));
            // A thread's exit or trap stops the other threads by interrupting their stores.
            config.interruptible(args.timeout.is_some() || args.wasi_threads);
            config
        }
    };
    let engine = Engine::new(&config);
    let mut store = Store::new(&engine, wasi_context(&args, &source, &guest_args)?);
    // The deadline covers reading, compiling and instantiating the module too.
    let watchdog = args.timeout.map(|limit| Watchdog::start(limit, store.interrupt_handle()));

    let started = Instant::now();
    if artifact.is_some() {
        // An artifact is a compiled core module.
        refuse_component_grants_for_core(&args, &name)?;
    }
    let module = match &artifact {
        // SAFETY: running an artifact is trusting it, as running an executable is (README): it
        // is `ward compile`'s output, mapped for as long as the program runs; its header and
        // checksum refuse a damaged or mismatched one.
        Some(path) => unsafe { Module::deserialize_file(&engine, path) }.map_err(|e| {
            let hint = if e.to_string().contains("fuel=") {
                " (`ward compile --fuel` makes an artifact for `ward run --fuel N`; one compiled \
                 without it runs without `--fuel`)"
            } else {
                ""
            };
            anyhow::Error::new(e).context(format!("cannot load `{name}`{hint}"))
        })?,
        None => {
            let raw = source.read()?;
            if load::is_component(&raw) {
                return run_component(&args, &source, &guest_args, &engine, raw, watchdog.as_ref());
            }
            refuse_component_grants_for_core(&args, &name)?;
            // These errors name the file and say what it is.
            let bytes = load::module_binary(&source, raw)?;
            let cache = (args.tier == Some(TierArg::Native) && args.cache()).then(Cache::open);
            match cache.flatten() {
                Some(cache) => cache.module(&engine, &bytes, &name),
                None => Module::new(&engine, &bytes),
            }
            .with_context(|| format!("cannot load module `{name}`"))?
        }
    };
    debug!(target: "ward_cli", module = %name, elapsed = ?started.elapsed(), "compiled");
    let report = |trap: &ward::Trap| TrapReport(backtrace::report(trap));
    if let Some(w) = &watchdog {
        w.running();
    }

    store.limiter(store_limits(&args));
    if let Some(fuel) = args.fuel {
        store.set_fuel(fuel)?;
    }
    let mut linker = Linker::<WasiCtx>::new(&engine);
    ward_wasi::add_to_linker(&mut linker, |ctx: &mut WasiCtx| ctx)?;
    if args.wasi_threads {
        add_threads(&args, &engine, &module, &mut store, &mut linker)?;
    }
    let instance = match linker.instantiate(&mut store, &module) {
        Ok(instance) => instance,
        // A start function may already end the program.
        Err(ward::Error::Exit(code)) => return guest_exit(code),
        Err(e) => {
            let context = format!("cannot instantiate module `{name}`{}", import_hint(&e));
            return Err(describe(e, &report, args.timeout)).context(context);
        }
    };
    debug!(target: "ward_cli", module = %name, "instantiated");
    let mut outcome = match &args.invoke {
        None => run_command(&mut store, instance, &name),
        Some(func) => invoke(&mut store, instance, &name, func, &guest_args),
    };
    // The main thread is done: the program is over for every thread. A thread's `proc_exit`
    // or trap, which interrupted the main thread, is how the program ended.
    store.data().stop_threads();
    match store.data().take_thread_end() {
        Some(ThreadEnd::Exit(code)) => return guest_exit(code),
        Some(ThreadEnd::Failed(error)) => {
            let context = format!("a thread of `{name}` failed");
            outcome = Err(Failed { error, context });
        }
        None => {}
    }
    match outcome {
        Ok(()) => Ok(exit::SUCCESS),
        Err(Failed { error: ward::Error::Exit(code), .. }) => guest_exit(code),
        Err(Failed { error, context }) => {
            Err(describe(error, &report, args.timeout)).context(context)
        }
    }
}

/// `--wasi-threads`: the shared memory the module imports, defined where it imports it, and
/// `wasi::thread-spawn`, whose threads get stores with the same limits and fuel.
fn add_threads(
    args: &RunArgs,
    engine: &Engine,
    module: &Module,
    store: &mut Store<WasiCtx>,
    linker: &mut Linker<WasiCtx>,
) -> anyhow::Result<()> {
    for (m, n, ty) in module.imports() {
        if let ward::ExternType::Memory(ty) = ty {
            if ty.is_shared() {
                let shared = ward::SharedMemory::new(engine, ty)
                    .with_context(|| format!("cannot create the shared memory `{m}::{n}`"))?;
                let memory = shared.memory(&mut *store)?;
                linker.define(&*store, m, n, memory)?;
            }
        }
    }
    let (engine, limits, fuel) = (engine.clone(), store_limits(args), args.fuel);
    ward_wasi::add_threads_to_linker(
        linker,
        module,
        |ctx: &mut WasiCtx| ctx,
        move |parent| {
            let mut store = Store::new(&engine, parent.thread_ctx());
            store.limiter(limits.clone());
            if let Some(fuel) = fuel {
                store.set_fuel(fuel)?;
            }
            Ok(store)
        },
    )?;
    Ok(())
}

/// The store limits of `--max-memory`, `--max-table-elements`, `--max-tables`,
/// `--max-memories` and `--max-total-memory`.
fn store_limits(args: &RunArgs) -> ward::StoreLimits {
    let total = args.max_total_memory.unwrap_or_else(|| default_total_memory(args.max_memory));
    let mut limits = StoreLimitsBuilder::new()
        .tables(args.max_tables)
        .memories(args.max_memories)
        .total_size(total);
    if let Some(bytes) = args.max_memory {
        limits = limits.memory_size(usize::try_from(bytes).unwrap_or(usize::MAX));
    }
    if let Some(n) = args.max_table_elements {
        limits = limits.table_elements(usize::try_from(n).unwrap_or(usize::MAX));
    }
    limits.build()
}

// --- components ---------------------------------------------------------------------------

/// Runs a `wasm32-wasip2` command component: WASI preview 2 from `ward-wasi-p2` with the same
/// grants as a core module (arguments, `--env`/`--inherit-env`, `--dir` with `::ro`, host
/// stdio), the same store limits, fuel and timeout; calls its `wasi:cli/run` export.
fn run_component(
    args: &RunArgs,
    source: &Source,
    guest_args: &[String],
    engine: &Engine,
    raw: Vec<u8>,
    watchdog: Option<&Watchdog>,
) -> anyhow::Result<i32> {
    use ward_component::{Component, Linker as ComponentLinker};
    use ward_wasi_p2::WasiP2Ctx;
    let name = source.name();
    if args.invoke.is_some() {
        anyhow::bail!(
            "`{name}` is a WebAssembly component; --invoke calls core module exports only \
             (components are run as WASI commands through `wasi:cli/run`)"
        );
    }
    if !args.tcplisten.is_empty() {
        anyhow::bail!(
            "`{name}` is a WebAssembly component; --tcplisten hands a listening socket to a \
             core module (WASI preview 1); grant a component its network with -S \
             tcp-listen=PATTERN and the other -S network keys (see `ward run --help`)"
        );
    }
    if args.wasi_threads {
        anyhow::bail!(
            "`{name}` is a WebAssembly component; --wasi-threads is for core modules only"
        );
    }
    let bytes = load::component_binary(source, raw)?;
    let component = Component::from_binary(engine, &bytes)
        .map_err(|e| anyhow!("{}", diag::escape(&e.to_string(), diag::MAX_LINE_CHARS)))
        .with_context(|| format!("cannot load component `{name}`"))?;
    debug!(target: "ward_cli", component = %name, bytes = bytes.len(), "compiled");
    let mut store = Store::new(engine, p2_context(args, source, guest_args)?);
    if let Some(w) = watchdog {
        w.retarget(store.interrupt_handle());
        w.running();
    }
    store.limiter(store_limits(args));
    if let Some(fuel) = args.fuel {
        store.set_fuel(fuel)?;
    }
    let report = |trap: &ward::Trap| TrapReport(backtrace::report(trap));
    let fail = |e: ward_component::Error, context: String| -> anyhow::Error {
        match e {
            ward_component::Error::Wasm(e) => describe(e, &report, args.timeout).context(context),
            other => anyhow!("{}", diag::escape(&other.to_string(), diag::MAX_LINE_CHARS))
                .context(context),
        }
    };
    let mut linker = ComponentLinker::<WasiP2Ctx>::new(engine);
    // `wasi:http` too: its outgoing requests are denied unless --allow-http names their host.
    ward_wasi_p2::add_proxy_to_linker(&mut linker, |ctx: &mut WasiP2Ctx| ctx)
        .map_err(|e| anyhow!("{e}"))?;
    let instance = match linker.instantiate(&mut store, &component) {
        Ok(instance) => instance,
        Err(ward_component::Error::Wasm(ward::Error::Exit(code))) => return guest_exit(code),
        Err(e) => {
            let hint = match &e {
                ward_component::Error::UnknownImport(_) => {
                    " (Ward provides wasi:cli, wasi:io, wasi:clocks, wasi:random, \
                     wasi:filesystem, wasi:sockets and wasi:http 0.2.x to components)"
                }
                _ => "",
            };
            return Err(fail(e, format!("cannot instantiate component `{name}`{hint}")));
        }
    };
    debug!(target: "ward_cli", component = %name, "instantiated");
    match ward_wasi_p2::run_command(&mut store, &instance) {
        Ok(code) => guest_exit(code),
        Err(ward_component::Error::Usage(msg)) => {
            let msg = diag::escape(&msg, diag::MAX_LINE_CHARS);
            Err(anyhow!("`{name}` is a WebAssembly component but {msg}"))
        }
        Err(e) => Err(fail(e, format!("`wasi:cli/run` of component `{name}` failed"))),
    }
}

/// The WASI preview 2 context for a component: the same grants as [`wasi_context`].
fn p2_context(
    args: &RunArgs,
    source: &Source,
    guest_args: &[String],
) -> anyhow::Result<ward_wasi_p2::WasiP2Ctx> {
    let mut b = ward_wasi_p2::WasiP2CtxBuilder::new();
    b.inherit_stdio();
    b.arg(args.argv0.clone().unwrap_or_else(|| source.argv0()));
    b.args(guest_args);
    b.envs(guest_env(args));
    for dir in &args.dirs {
        b.preopened_dir_path_with(&dir.host, &dir.guest, dir.access())
            .with_context(|| format!("cannot give the guest directory `{}`", dir.host.display()))?;
    }
    if args.net.inherit {
        b.inherit_network();
    }
    b.allow_ip_name_lookup(args.net.lookup);
    if let Some(n) = args.net.max_sockets {
        b.max_sockets(n);
    }
    for grant in &args.net.grants {
        match grant.clone() {
            NetGrant::TcpConnect(p) => b.allow_tcp_connect(p),
            NetGrant::TcpListen(p) => b.allow_tcp_listen(p),
            NetGrant::UdpBind(p) => b.allow_udp_bind(p),
            NetGrant::UdpSend(p) => b.allow_udp_send(p),
        };
    }
    for host in &args.allow_http {
        b.allow_http_host(host);
    }
    for root in options::http_roots(&args.http_ca)? {
        b.http_root_certificate(root);
    }
    Ok(b.build())
}

/// The `-S` network keys (`wasi:sockets`) and the HTTP grants (`wasi:http`) are for components,
/// which import those interfaces: refused for a core module rather than silently ignored.
fn refuse_component_grants_for_core(args: &RunArgs, name: &str) -> anyhow::Result<()> {
    if !args.allow_http.is_empty() || !args.http_ca.is_empty() {
        anyhow::bail!(
            "`{name}` is a core module (WASI preview 1); --allow-http, -S http and --http-ca \
             grant wasi:http to components only"
        );
    }
    let keys = args.net.keys();
    if keys.is_empty() {
        return Ok(());
    }
    let keys = keys.iter().map(|k| format!("-S {k}")).collect::<Vec<_>>().join(", ");
    anyhow::bail!(
        "`{name}` is a core module (WASI preview 1); {keys} grant wasi:sockets to components \
         only (a core module gets a listening socket with --tcplisten ADDR)"
    )
}

/// `--timeout` expired.
#[derive(Debug)]
pub struct TimedOut(pub Duration);

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "timed out after {}", humantime::format_duration(self.0))
    }
}

impl std::error::Error for TimedOut {}

/// An error from the library, with guest-controlled names escaped, and a trap rendered with
/// its backtrace.
fn describe(
    e: ward::Error,
    report: &dyn Fn(&ward::Trap) -> TrapReport,
    timeout: Option<Duration>,
) -> anyhow::Error {
    let name = |s: &str| diag::escape(s, diag::MAX_NAME_CHARS);
    match e {
        ward::Error::Trap(t) if t.code() == ward::TrapCode::Interrupted => {
            anyhow::Error::new(TimedOut(timeout.unwrap_or_default()))
        }
        ward::Error::Trap(t) => anyhow::Error::new(report(&t)),
        ward::Error::UnknownImport { module, name: field } => {
            anyhow!("unknown import: `{}::{}` has not been defined", name(&module), name(&field))
        }
        ward::Error::IncompatibleImport { module, name: field, reason } => anyhow!(
            "incompatible import type for `{}::{}`: {}",
            name(&module),
            name(&field),
            diag::escape(&reason, diag::MAX_LINE_CHARS)
        ),
        other => anyhow::Error::new(other),
    }
}

/// A hint for an import Ward does not provide, when the cause is a likely one.
fn import_hint(e: &ward::Error) -> &'static str {
    match e {
        ward::Error::UnknownImport { module, .. } if module == "wasi_unstable" => {
            " (it was built for WASI preview 0, `wasi_unstable`; Ward provides preview 1, \
             `wasi_snapshot_preview1`: rebuild it for wasm32-wasip1)"
        }
        ward::Error::UnknownImport { module, .. } if module.starts_with("wasi:") => {
            " (it is a WASI preview 2 component import; Ward runs preview 1 core modules)"
        }
        _ => "",
    }
}

/// The WASI context for the guest: host stdio, the arguments, and only the environment
/// variables, directories and sockets named on the command line.
fn wasi_context(args: &RunArgs, source: &Source, guest_args: &[String]) -> anyhow::Result<WasiCtx> {
    let mut b = WasiCtxBuilder::new();
    b.inherit_stdio();
    b.max_threads(args.max_threads);
    b.arg(args.argv0.clone().unwrap_or_else(|| source.argv0()));
    if args.invoke.is_none() {
        b.args(guest_args);
    }
    b.envs(guest_env(args));
    for dir in &args.dirs {
        b.preopened_dir_path_with(&dir.host, &dir.guest, dir.access())
            .with_context(|| format!("cannot give the guest directory `{}`", dir.host.display()))?;
    }
    for addr in &args.tcplisten {
        let listener = std::net::TcpListener::bind(addr)
            .with_context(|| format!("cannot listen on `{addr}` for --tcplisten"))?;
        debug!(target: "ward_cli", addr = %addr, local = ?listener.local_addr().ok(), "listening");
        b.preopened_listener(listener);
    }
    Ok(b.build())
}

/// The guest's environment: the host's whole environment with `--inherit-env`, then the
/// `--env` entries in order (later ones win in the builders).
fn guest_env(args: &RunArgs) -> Vec<(String, String)> {
    let mut vars = Vec::new();
    if args.inherit_env {
        // Variables whose name or value is not UTF-8 cannot be WASI strings; they are left out.
        vars.extend(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        );
    }
    for var in &args.envs {
        match &var.value {
            Some(value) => vars.push((var.name.clone(), value.clone())),
            // `--env NAME` passes the host's value, if it has one.
            None => {
                if let Ok(value) = std::env::var(&var.name) {
                    vars.push((var.name.clone(), value));
                }
            }
        }
    }
    vars
}

/// A failed call: the library's error and what was being done.
struct Failed {
    error: ward::Error,
    context: String,
}

/// Calls `_start`, the entry point of a WASI command.
fn run_command(store: &mut Store<WasiCtx>, instance: Instance, name: &str) -> Result<(), Failed> {
    let usage = |msg: String| Failed { error: ward::Error::Usage(msg), context: String::new() };
    let start = instance.get_func(&mut *store, "_start").ok_or_else(|| {
        usage(format!("module `{name}` exports no `_start` function; name one with --invoke FUNC"))
    })?;
    let ty = start.ty(&*store);
    if !ty.params().is_empty() || !ty.results().is_empty() {
        return Err(usage(format!(
            "`_start` of module `{name}` has type {ty}; a WASI command's `_start` takes and returns nothing"
        )));
    }
    debug!(target: "ward_cli", "calling _start");
    start
        .call(&mut *store, &[], &mut [])
        .map_err(|error| Failed { error, context: format!("`_start` of module `{name}` failed") })
}

/// Calls export `func` with `texts` parsed as its arguments and prints its results.
fn invoke(
    store: &mut Store<WasiCtx>,
    instance: Instance,
    name: &str,
    func: &str,
    texts: &[String],
) -> Result<(), Failed> {
    let shown = diag::escape(func, diag::MAX_NAME_CHARS);
    let usage = |msg: String| Failed { error: ward::Error::Usage(msg), context: String::new() };
    let f = instance
        .get_func(&mut *store, func)
        .ok_or_else(|| usage(format!("module `{name}` exports no function named `{shown}`")))?;
    let ty = f.ty(&*store);
    if ty.params().len() != texts.len() {
        return Err(usage(format!(
            "`{shown}` takes {} argument(s) {ty}, {} given",
            ty.params().len(),
            texts.len()
        )));
    }
    let params = ty
        .params()
        .iter()
        .zip(texts)
        .enumerate()
        .map(|(i, (t, text))| {
            ward_wast::parse_value(*t, text).map_err(|e| {
                usage(format!("argument {} of `{shown}`: {}", i + 1, diag::escape(&e, 200)))
            })
        })
        .collect::<Result<Vec<Val>, Failed>>()?;
    // A WASI reactor sets itself up in `_initialize` before any other export is called.
    if func != "_initialize" {
        if let Some(init) = instance.get_func(&mut *store, "_initialize") {
            init.call(&mut *store, &[], &mut []).map_err(|error| Failed {
                error,
                context: format!("`_initialize` of module `{name}` failed"),
            })?;
        }
    }
    let mut results: Vec<Val> = ty.results().iter().map(|t| placeholder(*t)).collect();
    debug!(target: "ward_cli", func = %shown, "invoking");
    f.call(&mut *store, &params, &mut results).map_err(|error| Failed {
        error,
        context: format!("`{shown}` of module `{name}` failed"),
    })?;
    for r in &results {
        diag::out(&format_val(r));
    }
    Ok(())
}

/// Ends the program when `--timeout` expires, whatever the guest and its pipes are doing.
///
/// While the module is read and compiled (which cannot be interrupted), the deadline ends the
/// process at once. Once it runs, the deadline first interrupts the guest, which traps at its
/// next loop iteration or call and `run` reports the timeout; a guest blocked in a host call
/// (a read of stdin, a write to a full pipe, `poll_oneoff`) cannot notice that, so after
/// [`Watchdog::GRACE`] the process ends anyway. Ending it takes no lock of the standard
/// streams (a guest blocked writing to a full pipe holds one) and flushes nothing.
struct Watchdog {
    phase: Arc<AtomicU8>,
    handle: Arc<std::sync::Mutex<ward::InterruptHandle>>,
}

impl Watchdog {
    const LOADING: u8 = 0;
    const RUNNING: u8 = 1;
    const GRACE: Duration = Duration::from_millis(500);

    fn start(limit: Duration, handle: ward::InterruptHandle) -> Watchdog {
        let phase = Arc::new(AtomicU8::new(Self::LOADING));
        let seen = Arc::clone(&phase);
        let handle = Arc::new(std::sync::Mutex::new(handle));
        let target = Arc::clone(&handle);
        std::thread::spawn(move || {
            std::thread::sleep(limit);
            if seen.load(Ordering::SeqCst) == Self::RUNNING {
                target.lock().unwrap_or_else(|e| e.into_inner()).interrupt();
                std::thread::sleep(Self::GRACE);
            }
            // The message is written from a thread of its own: if stderr is a full pipe the
            // write blocks that thread, not the exit.
            let message = format!("error: {}\n", TimedOut(limit));
            std::thread::spawn(move || diag::raw_stderr(&message));
            std::thread::sleep(Duration::from_millis(50));
            diag::hard_exit(exit::TIMEOUT);
        });
        Watchdog { phase, handle }
    }

    /// Interrupt the store of `handle` instead (a component runs in a store of its own).
    fn retarget(&self, handle: ward::InterruptHandle) {
        *self.handle.lock().unwrap_or_else(|e| e.into_inner()) = handle;
    }

    /// The module is compiled; from now on the guest can be interrupted.
    fn running(&self) {
        self.phase.store(Self::RUNNING, Ordering::SeqCst);
    }
}

/// A value to be overwritten by a result of type `ty`.
fn placeholder(ty: ValType) -> Val {
    match ty {
        ValType::I32 => Val::I32(0),
        ValType::I64 => Val::I64(0),
        ValType::F32 => Val::F32(0),
        ValType::F64 => Val::F64(0),
        ValType::V128 => Val::V128(0),
        ValType::Ref(r) => match r.heap {
            HeapType::Extern | HeapType::NoExtern => Val::ExternRef(None),
            HeapType::Exn | HeapType::NoExn => Val::ExnRef(None),
            _ => Val::FuncRef(None),
        },
    }
}

fn format_val(v: &Val) -> String {
    match v {
        Val::I32(x) => x.to_string(),
        Val::I64(x) => x.to_string(),
        Val::F32(b) => f32::from_bits(*b).to_string(),
        Val::F64(b) => f64::from_bits(*b).to_string(),
        Val::V128(x) => format!("{x:#034x}"),
        Val::FuncRef(None) | Val::ExternRef(None) | Val::ExnRef(None) => "null".to_string(),
        Val::FuncRef(Some(_)) => "funcref".to_string(),
        Val::ExternRef(Some(_)) => "externref".to_string(),
        Val::ExnRef(Some(_)) => "exnref".to_string(),
        #[allow(unreachable_patterns)]
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_use_the_text_format_syntax() {
        let p = |ty, text| ward_wast::parse_value(ty, text);
        assert!(matches!(p(ValType::I32, "-1"), Ok(Val::I32(-1))));
        assert!(matches!(p(ValType::I32, "0xffffffff"), Ok(Val::I32(-1))));
        assert!(p(ValType::I32, "4294967296").is_err());
        assert!(matches!(p(ValType::I64, "-0x10"), Ok(Val::I64(-16))));
        assert!(matches!(p(ValType::F32, "1.5"), Ok(Val::F32(b)) if b == 1.5f32.to_bits()));
        assert!(matches!(p(ValType::F32, "0x1p3"), Ok(Val::F32(b)) if b == 8f32.to_bits()));
        assert!(p(ValType::I32, "1) (i32.const 2").is_err());
        assert_eq!(format_val(&Val::I32(-7)), "-7");
        assert_eq!(format_val(&Val::F64(2.5f64.to_bits())), "2.5");
    }

    #[test]
    fn guest_status_range() {
        assert_eq!(guest_exit(0).unwrap(), 0);
        assert_eq!(guest_exit(123).unwrap(), 123);
        for code in [124, 125, 126, 256, -1] {
            assert!(guest_exit(code).is_err(), "{code}");
        }
    }
}
