//! Parsers for the values of `ward run`'s options: sizes, durations, directories, variables, and
//! the `-S`/`-W` option groups that Wasmtime users type from habit; and the `--http-ca` files
//! `ward run` and `ward serve` share.
//!
//! Sizes follow `bytesize` (`MB` = 10^6 bytes, `MiB` = 2^20 bytes, `K`/`M`/`G` alone are
//! decimal too); durations follow `humantime` (`500ms`, `10s`, `2m`, `1h 30m`), and a bare
//! number is seconds.

use anyhow::Context;
use std::path::PathBuf;
use std::time::Duration;
use ward_wasi_p2::SocketAddrPattern;

/// A size in bytes: `65536`, `64KiB`, `64MB` (64 × 10^6), `1.5GiB`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "`{s}` is not a size such as 65536, 64KiB, 16MiB, 1GiB (or 64KB, 16MB: powers of 10)"
        )
    };
    if s.trim().starts_with('-') {
        return Err(bad());
    }
    s.trim().parse::<bytesize::ByteSize>().map(|b| b.as_u64()).map_err(|_| bad())
}

/// A duration: `500ms`, `10s`, `2m`, `1h 30m`; a bare number is seconds (`1.5`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("`{s}` is not a duration such as 500ms, 10s, 2m or 1h");
    if let Ok(seconds) = s.trim().parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).map_err(|_| bad());
    }
    humantime::parse_duration(s.trim()).map_err(|_| bad())
}

/// A `--dir HOST[::GUEST][::ro]` mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirMapping {
    /// The directory on the host.
    pub host: PathBuf,
    /// Where the guest sees it.
    pub guest: String,
    /// Whether the guest may only read it.
    pub read_only: bool,
}

impl DirMapping {
    /// The access both WASI versions grant to this directory.
    pub fn access(&self) -> ward_wasi::DirAccess {
        if self.read_only {
            ward_wasi::DirAccess::ReadOnly
        } else {
            ward_wasi::DirAccess::ReadWrite
        }
    }
}

/// `HOST`, `HOST::GUEST` or `HOST::GUEST::ro` (read-only; `::rw` is the default).
pub fn parse_dir(s: &str) -> Result<DirMapping, String> {
    let bad = || format!("`{s}` is not HOST, HOST::GUEST or HOST::GUEST::ro");
    let parts: Vec<&str> = s.split("::").collect();
    let (host, guest, read_only) = match parts.as_slice() {
        [host] => (*host, *host, false),
        [host, guest] => (*host, *guest, false),
        [host, guest, "ro"] => (*host, *guest, true),
        [host, guest, "rw"] => (*host, *guest, false),
        _ => return Err(bad()),
    };
    if host.is_empty() || guest.is_empty() {
        return Err(bad());
    }
    Ok(DirMapping { host: PathBuf::from(host), guest: guest.to_string(), read_only })
}

/// An `--env NAME[=VALUE]` setting; `value: None` means the host's value of NAME.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvVar {
    /// The variable's name.
    pub name: String,
    /// Its value, if given.
    pub value: Option<String>,
}

/// `NAME=VALUE`, or `NAME` for the host's value.
pub fn parse_env(s: &str) -> Result<EnvVar, String> {
    let (name, value) = match s.split_once('=') {
        Some((name, value)) => (name, Some(value.to_string())),
        None => (s, None),
    };
    if name.is_empty() {
        return Err(format!("`{s}` is not NAME or NAME=VALUE"));
    }
    Ok(EnvVar { name: name.to_string(), value })
}

/// One `-S KEY[=VALUE]` (WASI) option, as Wasmtime spells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WasiOption {
    /// `-S inherit-env[=y|n]`: `--inherit-env`.
    InheritEnv(bool),
    /// `-S tcplisten=ADDR`: `--tcplisten ADDR`.
    TcpListen(String),
    /// `-S cli[=y]`: WASI command-line support, which Ward always has.
    Cli,
    /// `-S threads[=y|n]`: `--wasi-threads`.
    Threads(bool),
    /// `-S inherit-network[=y|n]`: a component may use the whole network (`wasi:sockets`).
    InheritNetwork(bool),
    /// `-S allow-ip-name-lookup[=y|n]`: a component may look up host names.
    IpNameLookup(bool),
    /// `-S tcp-connect=PATTERN`, `tcp-listen=`, `udp-bind=`, `udp-send=`: one `wasi:sockets`
    /// grant for a component.
    Net(NetGrant),
    /// `-S max-sockets=N`: how many sockets a component may hold at once.
    MaxSockets(usize),
    /// `-S http[=y|n]`: a component may send `wasi:http` requests to every host
    /// (`--allow-http '*'`).
    Http(bool),
}

/// A `wasi:sockets` grant of `-S`, by the addresses it covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetGrant {
    /// `tcp-connect=PATTERN`: connect TCP sockets to these addresses.
    TcpConnect(SocketAddrPattern),
    /// `tcp-listen=PATTERN`: bind (and listen on) TCP sockets at these local addresses.
    TcpListen(SocketAddrPattern),
    /// `udp-bind=PATTERN`: bind UDP sockets at these local addresses.
    UdpBind(SocketAddrPattern),
    /// `udp-send=PATTERN`: send UDP datagrams to these addresses.
    UdpSend(SocketAddrPattern),
}

impl NetGrant {
    /// The `-S` key that grants it.
    pub fn key(&self) -> &'static str {
        match self {
            NetGrant::TcpConnect(_) => "tcp-connect",
            NetGrant::TcpListen(_) => "tcp-listen",
            NetGrant::UdpBind(_) => "udp-bind",
            NetGrant::UdpSend(_) => "udp-send",
        }
    }
}

/// One `-W KEY=VALUE` (wasm) option, as Wasmtime spells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WasmOption {
    /// `-W fuel=N`: `--fuel N`.
    Fuel(u64),
    /// `-W max-memory-size=SIZE`: `--max-memory SIZE`.
    MaxMemory(u64),
    /// `-W max-table-elements=N`: `--max-table-elements N`.
    MaxTableElements(u64),
    /// `-W timeout=DURATION`: `--timeout DURATION`.
    Timeout(Duration),
    /// `-W max-tables=N`: `--max-tables N`.
    MaxTables(usize),
    /// `-W max-memories=N`: `--max-memories N`.
    MaxMemories(usize),
}

const WASI_KEYS: &str = "inherit-env, tcplisten=ADDR, cli, threads, inherit-network, \
                         allow-ip-name-lookup, tcp-connect=PATTERN, tcp-listen=PATTERN, \
                         udp-bind=PATTERN, udp-send=PATTERN, max-sockets=N, http";
const WASM_KEYS: &str = "fuel=N, max-memory-size=SIZE, max-table-elements=N, max-tables=N, \
                         max-memories=N, timeout=DURATION";

fn key_value(s: &str) -> (&str, Option<&str>) {
    match s.split_once('=') {
        Some((k, v)) => (k.trim(), Some(v.trim())),
        None => (s.trim(), None),
    }
}

fn flag(group: char, key: &str, value: Option<&str>) -> Result<bool, String> {
    match value {
        None | Some("y" | "yes" | "true") => Ok(true),
        Some("n" | "no" | "false") => Ok(false),
        Some(v) => Err(format!("`-{group} {key}={v}`: the value must be y or n")),
    }
}

fn needs_value<'a>(group: char, key: &str, value: Option<&'a str>) -> Result<&'a str, String> {
    value.ok_or_else(|| format!("`-{group} {key}` needs a value: `-{group} {key}=...`"))
}

/// Parses one `-S` item.
pub fn parse_wasi_option(s: &str) -> Result<WasiOption, String> {
    let (key, value) = key_value(s);
    match key {
        "inherit-env" => Ok(WasiOption::InheritEnv(flag('S', key, value)?)),
        "tcplisten" => Ok(WasiOption::TcpListen(needs_value('S', key, value)?.to_string())),
        "threads" => Ok(WasiOption::Threads(flag('S', key, value)?)),
        "inherit-network" => Ok(WasiOption::InheritNetwork(flag('S', key, value)?)),
        "http" => Ok(WasiOption::Http(flag('S', key, value)?)),
        "allow-ip-name-lookup" => Ok(WasiOption::IpNameLookup(flag('S', key, value)?)),
        "tcp-connect" | "tcp-listen" | "udp-bind" | "udp-send" => {
            let pattern: SocketAddrPattern = needs_value('S', key, value)?
                .parse()
                .map_err(|e| format!("`-S {key}=...`: {e}"))?;
            Ok(WasiOption::Net(match key {
                "tcp-connect" => NetGrant::TcpConnect(pattern),
                "tcp-listen" => NetGrant::TcpListen(pattern),
                "udp-bind" => NetGrant::UdpBind(pattern),
                _ => NetGrant::UdpSend(pattern),
            }))
        }
        "max-sockets" => {
            let v = needs_value('S', key, value)?;
            let n = v.parse::<usize>().map_err(|_| format!("`-S {key}={v}`: not a number"))?;
            Ok(WasiOption::MaxSockets(n))
        }
        "cli" if flag('S', key, value)? => Ok(WasiOption::Cli),
        "cli" => Err("`-S cli=n` is not supported: Ward always provides WASI preview 1".into()),
        _ => Err(format!("`-S {key}` is not supported by Ward (supported: {WASI_KEYS})")),
    }
}

/// Parses one `-W` item.
pub fn parse_wasm_option(s: &str) -> Result<WasmOption, String> {
    let (key, value) = key_value(s);
    let number = |v: &str| v.parse::<u64>().map_err(|_| format!("`-W {key}={v}`: not a number"));
    match key {
        "fuel" => Ok(WasmOption::Fuel(number(needs_value('W', key, value)?)?)),
        "max-memory-size" => Ok(WasmOption::MaxMemory(parse_size(needs_value('W', key, value)?)?)),
        "max-table-elements" => {
            Ok(WasmOption::MaxTableElements(number(needs_value('W', key, value)?)?))
        }
        "timeout" => Ok(WasmOption::Timeout(parse_duration(needs_value('W', key, value)?)?)),
        "max-tables" => Ok(WasmOption::MaxTables(number(needs_value('W', key, value)?)? as usize)),
        "max-memories" => {
            Ok(WasmOption::MaxMemories(number(needs_value('W', key, value)?)? as usize))
        }
        _ => Err(format!("`-W {key}` is not supported by Ward (supported: {WASM_KEYS})")),
    }
}

/// A `-C` option (Wasmtime's codegen group); Ward knows `cache`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodegenOption {
    /// `-C cache=y|n`: whether `ward run --tier native` keeps compiled code in the cache.
    Cache(bool),
}

/// Parses one `-C KEY[=VALUE]`.
pub fn parse_codegen_option(s: &str) -> Result<CodegenOption, String> {
    let (key, value) = key_value(s);
    match key {
        "cache" => match value.unwrap_or("y") {
            "y" | "yes" | "true" => Ok(CodegenOption::Cache(true)),
            "n" | "no" | "false" => Ok(CodegenOption::Cache(false)),
            v => Err(format!("`-C cache={v}`: say `y` or `n`")),
        },
        _ => Err(format!("`-C {key}` is not supported by Ward (supported: cache=y|n)")),
    }
}

/// Rejects a Wasmtime option group Ward has no counterpart for (`-C`, `-O`, `-D`).
pub fn unsupported_group(group: &'static str) -> impl Fn(&str) -> Result<String, String> + Clone {
    move |s: &str| {
        Err(format!(
            "`-{group} {s}` is not supported: Ward has no `-{group}` options (see `ward run --help`)"
        ))
    }
}

/// The certificates of the `--http-ca` files, each file required to hold at least one.
pub fn http_roots(files: &[PathBuf]) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut roots = Vec::new();
    for file in files {
        let pem = std::fs::read(file)
            .with_context(|| format!("cannot read --http-ca `{}`", file.display()))?;
        let certs = ward_wasi_p2::pem_certificates(&pem)
            .with_context(|| format!("cannot use --http-ca `{}`", file.display()))?;
        roots.extend(certs);
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_decimal_or_binary_as_written() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64KiB"), Ok(64 << 10));
        assert_eq!(parse_size("64MB"), Ok(64_000_000));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("-1MiB").is_err());
        assert!(parse_size("12 parsecs").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1").is_err());
    }

    #[test]
    fn dirs_and_envs() {
        let dir = |host: &str, guest: &str, read_only| DirMapping {
            host: host.into(),
            guest: guest.into(),
            read_only,
        };
        assert_eq!(parse_dir("/tmp/x::/data"), Ok(dir("/tmp/x", "/data", false)));
        assert_eq!(parse_dir("/tmp/x::/data::ro"), Ok(dir("/tmp/x", "/data", true)));
        assert_eq!(parse_dir("."), Ok(dir(".", ".", false)));
        assert!(parse_dir("a::b::c").is_err());
        assert_eq!(parse_env("A=b=c"), Ok(EnvVar { name: "A".into(), value: Some("b=c".into()) }));
        assert_eq!(parse_env("HOME"), Ok(EnvVar { name: "HOME".into(), value: None }));
        assert!(parse_env("=x").is_err());
    }

    #[test]
    fn option_groups() {
        assert_eq!(parse_wasi_option("inherit-env"), Ok(WasiOption::InheritEnv(true)));
        assert_eq!(parse_wasi_option("inherit-env=n"), Ok(WasiOption::InheritEnv(false)));
        assert_eq!(
            parse_wasi_option("tcplisten=127.0.0.1:0"),
            Ok(WasiOption::TcpListen("127.0.0.1:0".into()))
        );
        assert_eq!(parse_wasi_option("inherit-network"), Ok(WasiOption::InheritNetwork(true)));
        assert_eq!(parse_wasi_option("http"), Ok(WasiOption::Http(true)));
        assert_eq!(parse_wasi_option("http=n"), Ok(WasiOption::Http(false)));
        assert_eq!(
            parse_wasi_option("allow-ip-name-lookup=n"),
            Ok(WasiOption::IpNameLookup(false))
        );
        let pattern = |s: &str| s.parse::<SocketAddrPattern>().unwrap();
        assert_eq!(
            parse_wasi_option("tcp-connect=127.0.0.1:8000-8100"),
            Ok(WasiOption::Net(NetGrant::TcpConnect(pattern("127.0.0.1:8000-8100"))))
        );
        assert_eq!(
            parse_wasi_option("udp-send=[::1]:*"),
            Ok(WasiOption::Net(NetGrant::UdpSend(pattern("[::1]:*"))))
        );
        assert!(parse_wasi_option("tcp-listen").unwrap_err().contains("needs a value"));
        assert!(parse_wasi_option("tcp-listen=localhost:80").unwrap_err().contains("not an IP"));
        assert!(parse_wasi_option("udp=1.2.3.4:5").unwrap_err().contains("udp-send=PATTERN"));
        assert_eq!(parse_wasm_option("fuel=10"), Ok(WasmOption::Fuel(10)));
        assert_eq!(parse_wasm_option("max-memory-size=1MB"), Ok(WasmOption::MaxMemory(1_000_000)));
        assert_eq!(
            parse_wasm_option("timeout=2s"),
            Ok(WasmOption::Timeout(Duration::from_secs(2)))
        );
        assert!(parse_wasm_option("fuel").is_err());
        assert!(parse_wasm_option("threads").unwrap_err().contains("threads"));
    }
}

/// The execution tier, as `--tier` spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TierArg {
    /// The interpreter (the default): starts at once, runs everything.
    Interp,
    /// Cranelift native code, compiled when the module is loaded; a module using something
    /// the native tier does not cover yet runs in the interpreter.
    Native,
}

impl From<TierArg> for ward::Tier {
    fn from(t: TierArg) -> ward::Tier {
        match t {
            TierArg::Interp => ward::Tier::Interpreter,
            TierArg::Native => ward::Tier::Native,
        }
    }
}

/// A profiling aid, as `--profile` spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProfileArg {
    /// Write `/tmp/perf-<pid>.map`, naming the functions of native code for `perf report`.
    Perfmap,
}
