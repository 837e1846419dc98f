//! [`WasiCtx`]: everything a guest can reach through WASI, and its builder.
//!
//! Nothing is granted by default: a context from `WasiCtxBuilder::new().build()` has no
//! arguments, no environment variables, no preopened directories, an empty stdin, and output
//! that goes nowhere. Each capability is handed in explicitly by the embedder.

use std::net::TcpListener;
use std::path::Path;

use cap_std::ambient_authority;
use cap_std::fs::Dir;

use crate::confine::DirId;
use crate::random::Random;
use crate::stdio::{Input, Output, OutputPipe};
use crate::table::{Entry, FdTable, Handle};
use crate::types::{filetype, rights};

/// The WASI state of one guest: arguments, environment, descriptor table, randomness.
///
/// Build one with [`WasiCtxBuilder`], keep it in the store's data, and hand
/// [`add_to_linker`](crate::add_to_linker) a function that finds it there.
#[derive(Debug)]
pub struct WasiCtx {
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<String>,
    pub(crate) table: FdTable,
    pub(crate) random: Random,
    /// How many spawned threads (`wasi-threads`) may run at once.
    pub(crate) max_threads: u32,
    /// The group of this guest's threads, once it spawned one (see [`crate::threads`]).
    pub(crate) group: Option<std::sync::Arc<crate::threads::ThreadGroup>>,
}

impl Default for WasiCtx {
    fn default() -> WasiCtx {
        WasiCtx {
            args: Vec::new(),
            env: Vec::new(),
            table: FdTable::default(),
            random: Random::default(),
            max_threads: crate::threads::DEFAULT_MAX_THREADS,
            group: None,
        }
    }
}

impl WasiCtx {
    /// A builder with nothing granted.
    pub fn builder() -> WasiCtxBuilder {
        WasiCtxBuilder::new()
    }
}

/// What a guest may do beneath a preopened directory.
///
/// Enforced with preview 1 *rights*, which a guest can drop but never regain
/// (see `fd_fdstat_get`):
///
/// - [`ReadWrite`](DirAccess::ReadWrite): everything beneath it (the usual grant).
/// - [`ReadOnly`](DirAccess::ReadOnly): open, read, seek, list, stat and read links, beneath it
///   and in every descriptor opened through it. Creating, writing, truncating, allocating,
///   removing, renaming, linking, making symlinks and setting times all fail with
///   `ENOTCAPABLE` ([`Errno::NotCapable`](crate::Errno::NotCapable)); opening with `O_CREAT` or
///   `O_TRUNC` fails the same way, and a file opened through it is open read-only on the host
///   too, whatever rights the guest asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DirAccess {
    /// The guest may read and change what is beneath the directory.
    #[default]
    ReadWrite,
    /// The guest may only read what is beneath the directory.
    ReadOnly,
}

/// Builds a [`WasiCtx`], granting capabilities one by one.
///
/// ```no_run
/// use ward_wasi::WasiCtxBuilder;
///
/// let ctx = WasiCtxBuilder::new()
///     .arg("prog.wasm")
///     .arg("--verbose")
///     .env("LANG", "C")
///     .inherit_stdio()
///     .preopened_dir_path("./data", "/data")?
///     .build();
/// # Ok::<(), ward::Error>(())
/// ```
#[derive(Debug)]
pub struct WasiCtxBuilder {
    args: Vec<String>,
    env: Vec<String>,
    stdin: Input,
    stdout: Output,
    stderr: Output,
    preopens: Vec<(Dir, String, DirAccess)>,
    listeners: Vec<TcpListener>,
    random: Random,
    max_threads: u32,
}

impl Default for WasiCtxBuilder {
    fn default() -> Self {
        WasiCtxBuilder::new()
    }
}

impl WasiCtxBuilder {
    /// A builder that grants nothing.
    pub fn new() -> WasiCtxBuilder {
        WasiCtxBuilder {
            args: Vec::new(),
            env: Vec::new(),
            stdin: Input::Null,
            stdout: Output::Null,
            stderr: Output::Null,
            preopens: Vec::new(),
            listeners: Vec::new(),
            random: Random::Os,
            max_threads: crate::threads::DEFAULT_MAX_THREADS,
        }
    }

    /// Appends one command-line argument. By convention the first is the program's name.
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

    /// Sets one environment variable.
    pub fn env(&mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> &mut Self {
        let (name, value) = (name.as_ref(), value.as_ref());
        let is_name = |e: &String| e.strip_prefix(name).is_some_and(|rest| rest.starts_with('='));
        self.env.retain(|e| !is_name(e));
        // Built in place, not with `format!`: a server sets a dozen variables per request.
        let mut var = String::with_capacity(name.len() + 1 + value.len());
        var.push_str(name);
        var.push('=');
        var.push_str(value);
        self.env.push(var);
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

    /// Gives the guest the host's stdin.
    pub fn inherit_stdin(&mut self) -> &mut Self {
        self.stdin = Input::Inherit;
        self
    }

    /// Sends the guest's stdout to the host's stdout.
    pub fn inherit_stdout(&mut self) -> &mut Self {
        self.stdout = Output::Inherit { stderr: false };
        self
    }

    /// Sends the guest's stderr to the host's stderr.
    pub fn inherit_stderr(&mut self) -> &mut Self {
        self.stderr = Output::Inherit { stderr: true };
        self
    }

    /// Inherits all three standard streams.
    pub fn inherit_stdio(&mut self) -> &mut Self {
        self.inherit_stdin().inherit_stdout().inherit_stderr()
    }

    /// Feeds the guest's stdin from `bytes`, then end of file.
    pub fn stdin_bytes(&mut self, bytes: impl Into<Vec<u8>>) -> &mut Self {
        self.stdin = Input::Bytes(std::io::Cursor::new(bytes.into()));
        self
    }

    /// Captures the guest's stdout in `pipe`.
    pub fn stdout(&mut self, pipe: OutputPipe) -> &mut Self {
        self.stdout = Output::Pipe(pipe);
        self
    }

    /// Captures the guest's stderr in `pipe`.
    pub fn stderr(&mut self, pipe: OutputPipe) -> &mut Self {
        self.stderr = Output::Pipe(pipe);
        self
    }

    /// Grants the guest the directory `dir`, read-write, under the name `guest_path`.
    ///
    /// The guest can reach everything beneath `dir` and nothing outside it: paths are resolved
    /// by `cap-std`, which refuses `..` past the top, absolute paths and symlinks that lead out.
    pub fn preopened_dir(&mut self, dir: Dir, guest_path: impl AsRef<str>) -> &mut Self {
        self.preopened_dir_with(dir, guest_path, DirAccess::ReadWrite)
    }

    /// Grants the guest the directory `dir` under the name `guest_path`, with `access`.
    ///
    /// With [`DirAccess::ReadOnly`] the guest can open, read, list and stat what is beneath
    /// `dir`, and nothing else: see [`DirAccess`].
    pub fn preopened_dir_with(
        &mut self,
        dir: Dir,
        guest_path: impl AsRef<str>,
        access: DirAccess,
    ) -> &mut Self {
        self.preopens.push((dir, guest_path.as_ref().to_string(), access));
        self
    }

    /// Opens the host directory `host_path` and grants it read-write as [`preopened_dir`] does.
    ///
    /// [`preopened_dir`]: WasiCtxBuilder::preopened_dir
    pub fn preopened_dir_path(
        &mut self,
        host_path: impl AsRef<Path>,
        guest_path: impl AsRef<str>,
    ) -> ward::Result<&mut Self> {
        self.preopened_dir_path_with(host_path, guest_path, DirAccess::ReadWrite)
    }

    /// Opens the host directory `host_path` and grants it with `access`, as
    /// [`preopened_dir_with`] does.
    ///
    /// ```no_run
    /// use ward_wasi::{DirAccess, WasiCtxBuilder};
    ///
    /// // The guest may read /data but not change it; /out it may change.
    /// let ctx = WasiCtxBuilder::new()
    ///     .preopened_dir_path_with("./data", "/data", DirAccess::ReadOnly)?
    ///     .preopened_dir_path_with("./out", "/out", DirAccess::ReadWrite)?
    ///     .build();
    /// # Ok::<(), ward::Error>(())
    /// ```
    ///
    /// [`preopened_dir_with`]: WasiCtxBuilder::preopened_dir_with
    pub fn preopened_dir_path_with(
        &mut self,
        host_path: impl AsRef<Path>,
        guest_path: impl AsRef<str>,
        access: DirAccess,
    ) -> ward::Result<&mut Self> {
        let host_path = host_path.as_ref();
        let dir = Dir::open_ambient_dir(host_path, ambient_authority()).map_err(|source| {
            ward::Error::Io {
                context: format!("cannot open `{}` as a directory", host_path.display()),
                source,
            }
        })?;
        Ok(self.preopened_dir_with(dir, guest_path, access))
    }

    /// Hands the guest a listening TCP socket; it gets the next descriptor after the preopened
    /// directories and can `sock_accept` connections on it.
    pub fn preopened_listener(&mut self, listener: TcpListener) -> &mut Self {
        self.listeners.push(listener);
        self
    }

    /// Makes `random_get` deterministic: a fixed pseudo-random sequence from `seed`, for
    /// reproducible runs. Not suitable for anything that needs real randomness.
    pub fn deterministic_random(&mut self, seed: u64) -> &mut Self {
        self.random = Random::seeded(seed);
        self
    }

    /// Builds the context. The builder is left empty (granting nothing).
    /// How many threads the guest may have running at once besides its main thread, through
    /// `wasi-threads` (`thread-spawn`; see [`add_threads_to_linker`](crate::add_threads_to_linker)).
    /// Default: [`DEFAULT_MAX_THREADS`](crate::threads::DEFAULT_MAX_THREADS). A spawn beyond it
    /// fails, which `pthread_create` reports as `EAGAIN`.
    ///
    /// ```
    /// let ctx = ward_wasi::WasiCtxBuilder::new().max_threads(4).build();
    /// # drop(ctx);
    /// ```
    pub fn max_threads(&mut self, n: u32) -> &mut Self {
        self.max_threads = n;
        self
    }

    /// Builds the context.
    pub fn build(&mut self) -> WasiCtx {
        let b = std::mem::take(self);
        let mut table = FdTable::default();
        table.insert_at(0, stdio_entry(Handle::Stdin(b.stdin)));
        table.insert_at(1, stdio_entry(Handle::Stdout(b.stdout)));
        table.insert_at(2, stdio_entry(Handle::Stdout(b.stderr)));
        let mut next = 3;
        for (dir, name, access) in b.preopens {
            let (base, inheriting) = match access {
                DirAccess::ReadWrite => (rights::DIRECTORY_BASE, rights::DIRECTORY_INHERITING),
                DirAccess::ReadOnly => {
                    (rights::DIRECTORY_READ_ONLY_BASE, rights::DIRECTORY_READ_ONLY_INHERITING)
                }
            };
            // Without an identity (the host cannot stat it), no symlink that climbs with `..`
            // can be placed beneath it: the check has nothing to stop at.
            let root = DirId::of(std::os::fd::AsFd::as_fd(&dir)).ok();
            let mut e = Entry::new(Handle::Dir(dir), base, inheriting, filetype::DIRECTORY);
            e.preopen = Some(name);
            e.root = root;
            table.insert_at(next, e);
            next += 1;
        }
        for l in b.listeners {
            let e = Entry::new(
                Handle::Listener(l),
                rights::LISTENER_BASE,
                rights::SOCKET_BASE,
                filetype::SOCKET_STREAM,
            );
            table.insert_at(next, e);
            next += 1;
        }
        WasiCtx {
            args: b.args,
            env: b.env,
            table,
            random: b.random,
            max_threads: b.max_threads,
            group: None,
        }
    }
}

/// The descriptor entry for a standard stream: a character device when the host stream is a
/// terminal (so the guest's `isatty` answers truthfully), otherwise an unknown stream. Neither
/// can seek.
fn stdio_entry(handle: Handle) -> Entry {
    let host = match &handle {
        Handle::Stdin(i) => i.host_fd(),
        Handle::Stdout(o) => o.host_fd(),
        _ => None,
    };
    let ft = match host {
        Some(fd) if crate::stdio::is_tty(fd) => filetype::CHARACTER_DEVICE,
        _ => filetype::UNKNOWN,
    };
    let base = match handle {
        Handle::Stdin(_) => rights::TTY_BASE & !rights::FD_WRITE,
        _ => rights::TTY_BASE & !rights::FD_READ,
    };
    Entry::new(handle, base, 0, ft)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_can_move_between_threads() {
        fn send_and_sync<T: Send + Sync>() {}
        send_and_sync::<WasiCtx>();
    }

    #[test]
    fn the_default_grants_nothing_but_stdio_slots() {
        let ctx = WasiCtxBuilder::new().build();
        assert!(ctx.args.is_empty() && ctx.env.is_empty());
        assert!(ctx.table.get(0).is_ok() && ctx.table.get(2).is_ok());
        assert!(ctx.table.get(3).is_err());
    }

    /// Setting a variable again replaces it, and only it: not one whose name merely starts
    /// with the same letters.
    #[test]
    fn a_variable_set_again_replaces_only_itself() {
        let ctx = WasiCtxBuilder::new()
            .envs([("PATH", "/a"), ("PATH_INFO", "/x"), ("P", "1"), ("PATH", "/b=c")])
            .env("P", "2")
            .build();
        assert_eq!(ctx.env, ["PATH_INFO=/x", "PATH=/b=c", "P=2"]);
    }
}
