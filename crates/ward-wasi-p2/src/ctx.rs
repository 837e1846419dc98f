//! The WASI preview 2 context a store carries, and its builder.

use crate::http::HttpState;
use crate::sockets::policy::SocketAddrPattern;
use crate::sockets::NetState;
use crate::table::{Object, Table};
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
pub use ward_wasi::DirAccess;

/// A guest's WASI preview 2 state: what it was granted (arguments, environment, standard
/// streams, preopened directories) and the host objects behind its resources.
///
/// Build one with [`WasiP2CtxBuilder`]; nothing is granted by default.
pub struct WasiP2Ctx {
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) stdin: Input,
    pub(crate) stdout: Output,
    pub(crate) stderr: Output,
    pub(crate) preopens: Vec<(Preopen, String)>,
    pub(crate) table: Table,
    pub(crate) random: Random,
    pub(crate) started: Instant,
    pub(crate) http: HttpState,
    pub(crate) net: NetState,
    /// The store's interruption, for waits (set by the first host call).
    pub(crate) interrupt: Option<ward::InterruptHandle>,
}

impl std::fmt::Debug for WasiP2Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasiP2Ctx")
            .field("args", &self.args.len())
            .field("env", &self.env.len())
            .field("preopens", &self.preopens.iter().map(|(_, g)| g).collect::<Vec<_>>())
            .field("live_resources", &self.table.live())
            .field("http_allowed_hosts", &self.http.allowed_hosts)
            .field("network", &self.net.policy.summary())
            .finish()
    }
}

impl WasiP2Ctx {
    /// A builder with nothing granted.
    pub fn builder() -> WasiP2CtxBuilder {
        WasiP2CtxBuilder::new()
    }

    /// How many host objects (descriptors, streams, pollables, errors) the guest holds now.
    pub fn live_resources(&self) -> usize {
        self.table.live()
    }

    /// How many sockets (TCP and UDP, accepted ones included) the guest holds now: each holds
    /// one host descriptor, until the socket and its streams are all dropped.
    pub fn live_sockets(&self) -> usize {
        self.net.live.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub(crate) fn push(&mut self, o: Object) -> ward_component::Result<u32> {
        self.table.push(o)
    }
}

/// A preopened directory and what the guest may do beneath it.
pub(crate) struct Preopen {
    pub(crate) dir: Arc<Dir>,
    pub(crate) access: DirAccess,
}

/// Where the guest's standard input comes from.
pub(crate) enum Input {
    Empty,
    Inherit,
    Bytes(Vec<u8>, usize),
}

/// Where the guest's standard output or error goes.
#[derive(Clone)]
pub(crate) enum Output {
    Discard,
    Stdout,
    Stderr,
    Pipe(OutputPipe),
}

/// An in-memory capture of a guest's output, bounded: the same type as preview 1's
/// ([`ward_wasi::OutputPipe`]). Writes beyond the capacity are short, then fail (the stream
/// reports `last-operation-failed`), and [`OutputPipe::overflowed`] says output was refused.
pub use ward_wasi::OutputPipe;

/// The random generator: preview 1's ([`ward_wasi::Random`]), the OS's or a seeded one.
pub(crate) use ward_wasi::Random;

/// Builds a [`WasiP2Ctx`], granting capabilities one by one. Mirrors
/// `ward_wasi::WasiCtxBuilder`.
///
/// ```
/// use ward_wasi_p2::{OutputPipe, WasiP2CtxBuilder};
/// let out = OutputPipe::new();
/// let ctx = WasiP2CtxBuilder::new().arg("prog").env("K", "V").stdout(out.clone()).build();
/// assert_eq!(ctx.live_resources(), 0);
/// ```
pub struct WasiP2CtxBuilder {
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Input,
    stdout: Output,
    stderr: Output,
    preopens: Vec<(Preopen, String)>,
    random: Random,
    http_allowed_hosts: Vec<String>,
    http_roots: Vec<Vec<u8>>,
    http_max_bytes: usize,
    net: crate::sockets::policy::NetPolicy,
}

impl Default for WasiP2CtxBuilder {
    fn default() -> Self {
        WasiP2CtxBuilder::new()
    }
}

impl WasiP2CtxBuilder {
    /// Nothing granted: no arguments, no environment, empty stdin, output discarded, no
    /// directories, no network, no outgoing HTTP requests, the OS random generator.
    pub fn new() -> WasiP2CtxBuilder {
        WasiP2CtxBuilder {
            args: Vec::new(),
            env: Vec::new(),
            stdin: Input::Empty,
            stdout: Output::Discard,
            stderr: Output::Discard,
            preopens: Vec::new(),
            random: Random::Os,
            http_allowed_hosts: Vec::new(),
            http_roots: Vec::new(),
            http_max_bytes: crate::http_types::DEFAULT_MAX_BYTES,
            net: Default::default(),
        }
    }

    /// Appends a command-line argument (the first is the program name).
    pub fn arg(&mut self, arg: impl AsRef<str>) -> &mut Self {
        self.args.push(arg.as_ref().to_string());
        self
    }

    /// Appends command-line arguments.
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<str>>(&mut self, args: I) -> &mut Self {
        for a in args {
            self.arg(a);
        }
        self
    }

    /// Sets an environment variable.
    pub fn env(&mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> &mut Self {
        let (name, value) = (name.as_ref().to_string(), value.as_ref().to_string());
        self.env.retain(|(n, _)| *n != name);
        self.env.push((name, value));
        self
    }

    /// Sets environment variables.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        for (k, v) in vars {
            self.env(k, v);
        }
        self
    }

    /// The guest reads the host's standard input.
    pub fn inherit_stdin(&mut self) -> &mut Self {
        self.stdin = Input::Inherit;
        self
    }

    /// The guest writes to the host's standard output.
    pub fn inherit_stdout(&mut self) -> &mut Self {
        self.stdout = Output::Stdout;
        self
    }

    /// The guest writes to the host's standard error.
    pub fn inherit_stderr(&mut self) -> &mut Self {
        self.stderr = Output::Stderr;
        self
    }

    /// All three standard streams are the host's.
    pub fn inherit_stdio(&mut self) -> &mut Self {
        self.inherit_stdin().inherit_stdout().inherit_stderr()
    }

    /// The guest's standard input is these bytes.
    pub fn stdin_bytes(&mut self, bytes: impl Into<Vec<u8>>) -> &mut Self {
        self.stdin = Input::Bytes(bytes.into(), 0);
        self
    }

    /// The guest's standard output goes to `pipe`.
    pub fn stdout(&mut self, pipe: OutputPipe) -> &mut Self {
        self.stdout = Output::Pipe(pipe);
        self
    }

    /// The guest's standard error goes to `pipe`.
    pub fn stderr(&mut self, pipe: OutputPipe) -> &mut Self {
        self.stderr = Output::Pipe(pipe);
        self
    }

    /// Preopens `dir`, read-write, as `guest_path`.
    pub fn preopened_dir(&mut self, dir: Dir, guest_path: impl AsRef<str>) -> &mut Self {
        self.preopened_dir_with(dir, guest_path, DirAccess::ReadWrite)
    }

    /// Preopens `dir` as `guest_path` with `access`.
    pub fn preopened_dir_with(
        &mut self,
        dir: Dir,
        guest_path: impl AsRef<str>,
        access: DirAccess,
    ) -> &mut Self {
        let preopen = Preopen { dir: Arc::new(dir), access };
        self.preopens.push((preopen, guest_path.as_ref().to_string()));
        self
    }

    /// Opens host directory `host` and preopens it, read-write, as `guest_path`.
    pub fn preopened_dir_path(
        &mut self,
        host: impl AsRef<Path>,
        guest_path: impl AsRef<str>,
    ) -> io::Result<&mut Self> {
        self.preopened_dir_path_with(host, guest_path, DirAccess::ReadWrite)
    }

    /// Opens host directory `host` and preopens it as `guest_path` with `access`.
    pub fn preopened_dir_path_with(
        &mut self,
        host: impl AsRef<Path>,
        guest_path: impl AsRef<str>,
        access: DirAccess,
    ) -> io::Result<&mut Self> {
        let dir = Dir::open_ambient_dir(host, ambient_authority())?;
        Ok(self.preopened_dir_with(dir, guest_path, access))
    }

    /// Random bytes from a deterministic generator seeded with `seed` (for reproducible runs;
    /// never for secrets).
    pub fn deterministic_random(&mut self, seed: u64) -> &mut Self {
        self.random = Random::Seeded(seed);
        self
    }

    /// Lets the guest send `wasi:http` requests to `host` (with
    /// [`add_proxy_to_linker`](crate::add_proxy_to_linker)): `example.com` allows every port
    /// of that host, `example.com:8080` only that port (a request naming no port is on port
    /// 80, or 443 for `https`); `*` allows every host, `*:443` port 443 of every host. Names are compared without regard to case, never resolved:
    /// allowing `localhost` does not allow `127.0.0.1`, and a name is allowed wherever it
    /// resolves to. Without any, every outgoing request is answered with
    /// `error-code.HTTP-request-denied`. Requests are sent over `http` or `https` (TLS, the
    /// server's certificate checked against Mozilla's roots and those added with
    /// [`http_root_certificate`](Self::http_root_certificate)).
    pub fn allow_http_host(&mut self, host: impl AsRef<str>) -> &mut Self {
        self.http_allowed_hosts.push(host.as_ref().to_string());
        self
    }

    /// Trusts the certificate `der` (DER-encoded X.509) as a root for `https` requests, beside
    /// the built-in Mozilla roots: for a private certificate authority. A certificate that
    /// cannot serve as a root makes each `https` request fail with `internal-error`.
    pub fn http_root_certificate(&mut self, der: Vec<u8>) -> &mut Self {
        self.http_roots.push(der);
        self
    }

    /// The most bytes the guest's `wasi:http` fields and bodies may hold together in the host
    /// (default 64 MiB). Past it, changing fields traps and writing a body fails.
    pub fn http_max_bytes(&mut self, bytes: usize) -> &mut Self {
        self.http_max_bytes = bytes;
        self
    }

    /// Lets the guest connect TCP sockets to addresses in `pattern` (`wasi:sockets/tcp`
    /// `start-connect`). Every other address is refused with `error-code.access-denied`
    /// before the host is asked.
    pub fn allow_tcp_connect(&mut self, pattern: SocketAddrPattern) -> &mut Self {
        self.net.tcp_connect.push(pattern);
        self
    }

    /// Lets the guest bind TCP sockets to local addresses in `pattern`, and so listen and
    /// accept connections there (from any peer). Port 0 (a free port of the host's choosing)
    /// is in a pattern whose ports are `*`.
    pub fn allow_tcp_listen(&mut self, pattern: SocketAddrPattern) -> &mut Self {
        self.net.tcp_bind.push(pattern);
        self
    }

    /// Lets the guest bind UDP sockets to local addresses in `pattern`, and so receive
    /// datagrams there (from any peer).
    pub fn allow_udp_bind(&mut self, pattern: SocketAddrPattern) -> &mut Self {
        self.net.udp_bind.push(pattern);
        self
    }

    /// Lets the guest send UDP datagrams to addresses in `pattern` (and `stream` a UDP socket
    /// to one of them).
    pub fn allow_udp_send(&mut self, pattern: SocketAddrPattern) -> &mut Self {
        self.net.udp_send.push(pattern);
        self
    }

    /// Whether the guest may look up host names (`wasi:sockets/ip-name-lookup`) with the
    /// host's resolver; denied by default (`access-denied`, even for an IP address written
    /// out).
    pub fn allow_ip_name_lookup(&mut self, allow: bool) -> &mut Self {
        self.net.lookup = allow;
        self
    }

    /// Grants the whole network: every TCP and UDP address, and name lookup (`ward run -S
    /// inherit-network`). The socket limits still apply.
    pub fn inherit_network(&mut self) -> &mut Self {
        self.net.inherit = true;
        self
    }

    /// The most sockets the guest may hold at once (default 1024); past it, creating or
    /// accepting one is `error-code.new-socket-limit`.
    pub fn max_sockets(&mut self, n: usize) -> &mut Self {
        self.net.limits.max_sockets = n;
        self
    }

    /// The largest listen backlog the guest may ask for (default 128, also the backlog of a
    /// socket that asks for none).
    pub fn max_listen_backlog(&mut self, n: u32) -> &mut Self {
        self.net.limits.max_backlog = n.max(1);
        self
    }

    /// The context. The builder is left empty.
    pub fn build(&mut self) -> WasiP2Ctx {
        let b = std::mem::take(self);
        WasiP2Ctx {
            args: b.args,
            env: b.env,
            stdin: b.stdin,
            stdout: b.stdout,
            stderr: b.stderr,
            preopens: b.preopens,
            table: Table::default(),
            random: b.random,
            started: Instant::now(),
            http: HttpState::new(b.http_allowed_hosts, b.http_roots, b.http_max_bytes),
            net: NetState { policy: b.net, ..NetState::default() },
            interrupt: None,
        }
    }
}
