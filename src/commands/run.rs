//! `ward run MODULE [ARGS]...` (or just `ward MODULE [ARGS]...`): runs a module.
//!
//! The module is compiled and instantiated with WASI preview 1 available to it
//! (`wasi_snapshot_preview1`, from `ward-wasi`). The guest gets the host's standard streams,
//! the program arguments (the module path as `argv[0]`, then ARGS), the environment variables
//! named with `--env`, and the directories preopened with `--dir` — nothing else. Then either
//! `_start` is called (a WASI command), or `--invoke FUNC` is called with ARGS parsed by the
//! function's parameter types and its results printed one per line (after `_initialize`, if the
//! module is a WASI reactor that exports one).
//!
//! A guest's `proc_exit(code)` becomes the exit status; a trap is reported with its wasm
//! backtrace and exit status [`exit::TRAP`].

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use clap::Args;
use ward::{
    Config, Engine, HeapType, Instance, Linker, Module, Store, StoreLimitsBuilder, Val, ValType,
};
use ward_wasi::{WasiCtx, WasiCtxBuilder};

use super::exit;

/// Arguments of `ward run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Give the guest a host directory, seen by the guest as GUEST (default: HOST). Repeatable.
    #[arg(long = "dir", value_name = "HOST[::GUEST]", value_parser = parse_dir)]
    pub dirs: Vec<DirMapping>,
    /// Set an environment variable for the guest; NAME alone passes the host's value. Repeatable.
    #[arg(long = "env", value_name = "NAME[=VALUE]", value_parser = parse_env)]
    pub envs: Vec<EnvVar>,
    /// Call this exported function instead of `_start`; ARGS are its arguments.
    #[arg(long, value_name = "FUNC")]
    pub invoke: Option<String>,
    /// Limit the size of each of the guest's linear memories, e.g. `64MiB` (K, M, G are 1024-based).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_memory: Option<u64>,
    /// Limit the number of elements of each of the guest's tables.
    #[arg(long, value_name = "N")]
    pub max_table_elements: Option<u64>,
    /// Stop the guest with a trap after about N units of fuel (roughly one per instruction).
    #[arg(long, value_name = "N")]
    pub fuel: Option<u64>,
    /// Stop the program after this long, e.g. `500ms`, `10s`, `2m` (exit status 124).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// The module to run (`.wasm` or `.wat`).
    #[arg(value_name = "MODULE")]
    pub module: PathBuf,
    /// Arguments for the program (or for `--invoke FUNC`).
    #[arg(value_name = "ARGS", trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// A `--dir HOST[::GUEST]` mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirMapping {
    /// The directory on the host.
    pub host: PathBuf,
    /// Where the guest sees it.
    pub guest: String,
}

/// An `--env NAME[=VALUE]` setting; `value: None` means the host's value of NAME.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvVar {
    /// The variable's name.
    pub name: String,
    /// Its value, if given.
    pub value: Option<String>,
}

/// Runs the module; returns the exit status.
pub fn run(args: RunArgs) -> anyhow::Result<i32> {
    let path = args.module.display();

    let mut config = Config::new();
    config.consume_fuel(args.fuel.is_some());
    config.interruptible(args.timeout.is_some());
    let engine = Engine::new(&config);
    let module = Module::from_file(&engine, &args.module)
        .with_context(|| format!("cannot load module `{path}`"))?;
    let mut store = Store::new(&engine, wasi_context(&args)?);
    // `ward run` instantiates exactly one module, so an instance limit has no flag here; it is
    // part of the embedding API (`StoreLimitsBuilder::instances`).
    let mut limits = StoreLimitsBuilder::new();
    if let Some(bytes) = args.max_memory {
        limits = limits.memory_size(usize::try_from(bytes).unwrap_or(usize::MAX));
    }
    if let Some(n) = args.max_table_elements {
        limits = limits.table_elements(usize::try_from(n).unwrap_or(usize::MAX));
    }
    store.limiter(limits.build());
    if let Some(fuel) = args.fuel {
        store.set_fuel(fuel)?;
    }
    if let Some(limit) = args.timeout {
        start_watchdog(limit, store.interrupt_handle());
    }
    let mut linker = Linker::<WasiCtx>::new(&engine);
    ward_wasi::add_to_linker(&mut linker, |ctx: &mut WasiCtx| ctx)?;
    let instance = match linker.instantiate(&mut store, &module) {
        Ok(instance) => instance,
        // A start function may already end the program.
        Err(ward::Error::Exit(code)) => return Ok(code),
        Err(e) => {
            let hint = import_hint(&e);
            return Err(anyhow::Error::new(e))
                .with_context(|| format!("cannot instantiate module `{path}`{hint}"));
        }
    };
    let outcome = match &args.invoke {
        None => run_command(&mut store, instance, &path.to_string()),
        Some(name) => invoke(&mut store, instance, &path.to_string(), name, &args.args),
    };
    match outcome {
        Ok(()) => Ok(exit::SUCCESS),
        Err(e) => match e.downcast_ref::<ward::Error>() {
            Some(ward::Error::Exit(code)) => Ok(*code),
            Some(ward::Error::Trap(t)) if t.code() == ward::TrapCode::Interrupted => {
                eprintln!("error: timed out after {:?}", args.timeout.unwrap_or_default());
                Ok(exit::TIMEOUT)
            }
            _ => Err(e),
        },
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
/// variables and directories named on the command line.
fn wasi_context(args: &RunArgs) -> anyhow::Result<WasiCtx> {
    let mut b = WasiCtxBuilder::new();
    b.inherit_stdio();
    b.arg(args.module.to_string_lossy());
    if args.invoke.is_none() {
        b.args(&args.args);
    }
    for var in &args.envs {
        match &var.value {
            Some(value) => {
                b.env(&var.name, value);
            }
            None => {
                // `--env NAME` passes the host's value, if it has one.
                if let Ok(value) = std::env::var(&var.name) {
                    b.env(&var.name, value);
                }
            }
        }
    }
    for dir in &args.dirs {
        b.preopened_dir_path(&dir.host, &dir.guest)
            .with_context(|| format!("cannot give the guest directory `{}`", dir.host.display()))?;
    }
    Ok(b.build())
}

/// Calls `_start`, the entry point of a WASI command.
fn run_command(store: &mut Store<WasiCtx>, instance: Instance, path: &str) -> anyhow::Result<()> {
    let start = instance.get_func(&mut *store, "_start").ok_or_else(|| {
        anyhow!("module `{path}` exports no `_start` function; name one with --invoke FUNC")
    })?;
    let ty = start.ty(&*store);
    if !ty.params().is_empty() || !ty.results().is_empty() {
        bail!("`_start` of module `{path}` has type {ty}; a WASI command's `_start` takes and returns nothing");
    }
    start
        .call(&mut *store, &[], &mut [])
        .map_err(anyhow::Error::new)
        .with_context(|| format!("`_start` of module `{path}` failed"))
}

/// Calls export `name` with `texts` parsed as its arguments and prints its results.
fn invoke(
    store: &mut Store<WasiCtx>,
    instance: Instance,
    path: &str,
    name: &str,
    texts: &[String],
) -> anyhow::Result<()> {
    let func = instance
        .get_func(&mut *store, name)
        .ok_or_else(|| anyhow!("module `{path}` exports no function named `{name}`"))?;
    let ty = func.ty(&*store);
    if ty.params().len() != texts.len() {
        bail!("`{name}` takes {} argument(s) {ty}, {} given", ty.params().len(), texts.len());
    }
    let params = ty
        .params()
        .iter()
        .zip(texts)
        .enumerate()
        .map(|(i, (t, text))| {
            parse_val(*t, text).with_context(|| format!("argument {} of `{name}`", i + 1))
        })
        .collect::<anyhow::Result<Vec<Val>>>()?;
    // A WASI reactor sets itself up in `_initialize` before any other export is called.
    if name != "_initialize" {
        if let Some(init) = instance.get_func(&mut *store, "_initialize") {
            init.call(&mut *store, &[], &mut [])
                .map_err(anyhow::Error::new)
                .with_context(|| format!("`_initialize` of module `{path}` failed"))?;
        }
    }
    let mut results: Vec<Val> = ty.results().iter().map(|t| placeholder(*t)).collect();
    func.call(&mut *store, &params, &mut results)
        .map_err(anyhow::Error::new)
        .with_context(|| format!("`{name}` of module `{path}` failed"))?;
    for r in &results {
        println!("{}", format_val(r));
    }
    Ok(())
}

/// When `limit` has passed, interrupts the guest (it traps at its next loop iteration or call
/// and `run` reports the timeout). A guest blocked inside a host call (a read of stdin,
/// `poll_oneoff`) cannot notice the interruption, so after a further second the process ends.
fn start_watchdog(limit: Duration, handle: ward::InterruptHandle) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        handle.interrupt();
        std::thread::sleep(Duration::from_secs(1));
        use std::io::Write;
        let _ = std::io::stdout().flush();
        eprintln!("error: timed out after {limit:?}");
        std::process::exit(exit::TIMEOUT);
    });
}

fn parse_val(ty: ValType, text: &str) -> anyhow::Result<Val> {
    let bad = || anyhow!("`{text}` is not a valid {ty}");
    Ok(match ty {
        ValType::I32 => {
            let v = parse_int(text).ok_or_else(bad)?;
            if !(i32::MIN as i128..=u32::MAX as i128).contains(&v) {
                return Err(bad());
            }
            Val::I32(v as i32)
        }
        ValType::I64 => {
            let v = parse_int(text).ok_or_else(bad)?;
            if !(i64::MIN as i128..=u64::MAX as i128).contains(&v) {
                return Err(bad());
            }
            Val::I64(v as i64)
        }
        ValType::F32 => Val::F32(text.parse::<f32>().map_err(|_| bad())?.to_bits()),
        ValType::F64 => Val::F64(text.parse::<f64>().map_err(|_| bad())?.to_bits()),
        ValType::V128 => {
            let v = match text.strip_prefix("0x") {
                Some(hex) => u128::from_str_radix(&hex.replace('_', ""), 16),
                None => text.parse::<u128>(),
            };
            Val::V128(v.map_err(|_| bad())?)
        }
        ValType::Ref(r) if r.nullable && text == "null" => placeholder(ty),
        ValType::Ref(_) => bail!("only `null` can be passed for a {ty} from the command line"),
    })
}

/// A decimal or `0x` hexadecimal integer, optionally negative, with `_` separators.
fn parse_int(text: &str) -> Option<i128> {
    let digits = text.replace('_', "");
    let (negative, digits) = match digits.strip_prefix('-') {
        Some(rest) => (true, rest.to_string()),
        None => (false, digits),
    };
    let magnitude = match digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        Some(hex) => i128::from_str_radix(hex, 16).ok()?,
        None => digits.parse::<i128>().ok()?,
    };
    Some(if negative { -magnitude } else { magnitude })
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

fn parse_dir(s: &str) -> Result<DirMapping, String> {
    let (host, guest) = match s.split_once("::") {
        Some((host, guest)) => (host, guest),
        None => (s, s),
    };
    if host.is_empty() || guest.is_empty() {
        return Err(format!("`{s}` is not HOST or HOST::GUEST"));
    }
    Ok(DirMapping { host: PathBuf::from(host), guest: guest.to_string() })
}

fn parse_env(s: &str) -> Result<EnvVar, String> {
    let (name, value) = match s.split_once('=') {
        Some((name, value)) => (name, Some(value.to_string())),
        None => (s, None),
    };
    if name.is_empty() {
        return Err(format!("`{s}` is not NAME or NAME=VALUE"));
    }
    Ok(EnvVar { name: name.to_string(), value })
}

/// `4096`, `64K`, `64KiB`, `16M`, `1.5GiB`: bytes, with 1024-based units.
fn parse_size(s: &str) -> Result<u64, String> {
    let bad = || format!("`{s}` is not a size such as 65536, 64KiB, 16MiB or 1GiB");
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let number: f64 = number.parse().map_err(|_| bad())?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return Err(bad()),
    };
    let bytes = number * scale as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as u64)
}

/// `500ms`, `10s`, `1.5m`, `1h`; a bare number is seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("`{s}` is not a duration such as 500ms, 10s, 2m or 1h");
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let number: f64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit.trim() {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" | "min" => number * 60.0,
        "h" => number * 3600.0,
        _ => return Err(bad()),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64KiB"), Ok(64 << 10));
        assert_eq!(parse_size("16M"), Ok(16 << 20));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("12 parsecs").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn dirs_and_envs() {
        assert_eq!(
            parse_dir("/tmp/x::/data"),
            Ok(DirMapping { host: "/tmp/x".into(), guest: "/data".into() })
        );
        assert_eq!(parse_dir("."), Ok(DirMapping { host: ".".into(), guest: ".".into() }));
        assert_eq!(parse_env("A=b=c"), Ok(EnvVar { name: "A".into(), value: Some("b=c".into()) }));
        assert_eq!(parse_env("HOME"), Ok(EnvVar { name: "HOME".into(), value: None }));
        assert!(parse_env("=x").is_err());
    }

    #[test]
    fn values() {
        assert!(matches!(parse_val(ValType::I32, "-1"), Ok(Val::I32(-1))));
        assert!(matches!(parse_val(ValType::I32, "0xffffffff"), Ok(Val::I32(-1))));
        assert!(parse_val(ValType::I32, "4294967296").is_err());
        assert!(matches!(parse_val(ValType::I64, "-0x10"), Ok(Val::I64(-16))));
        assert!(matches!(parse_val(ValType::F32, "1.5"), Ok(Val::F32(b)) if b == 1.5f32.to_bits()));
        assert_eq!(format_val(&Val::I32(-7)), "-7");
        assert_eq!(format_val(&Val::F64(2.5f64.to_bits())), "2.5");
    }
}
