//! # ward-wasi
//!
//! WASI preview 1 (`wasi_snapshot_preview1`) for [Ward](ward), built only on Ward's public
//! embedding API and on the `cap-std` family of crates.
//!
//! A guest gets exactly what its [`WasiCtx`] grants and nothing more: arguments, environment
//! variables, standard streams, preopened directories and sockets are each handed in by the
//! embedder, and the default grants none of them. Paths are always resolved by `cap-std`
//! relative to a directory descriptor the guest holds, so neither `..`, nor an absolute path,
//! nor a symlink can lead outside a preopened directory.
//!
//! ```no_run
//! use ward::{Engine, Linker, Module, Store};
//! use ward_wasi::{WasiCtx, WasiCtxBuilder};
//!
//! let engine = Engine::default();
//! let module = Module::from_file(&engine, "hello.wasm")?;
//! let mut linker: Linker<WasiCtx> = Linker::new(&engine);
//! ward_wasi::add_to_linker(&mut linker, |ctx: &mut WasiCtx| ctx)?;
//! let ctx = WasiCtxBuilder::new().arg("hello.wasm").inherit_stdio().build();
//! let mut store = Store::new(&engine, ctx);
//! let instance = linker.instantiate(&mut store, &module)?;
//! let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
//! match start.call(&mut store, ()) {
//!     Ok(()) => {}
//!     Err(ward::Error::Exit(code)) => std::process::exit(code),
//!     Err(e) => return Err(e),
//! }
//! # Ok::<(), ward::Error>(())
//! ```
//!
//! ## Layout
//! - [`ctx`]: [`WasiCtx`] and [`WasiCtxBuilder`] (what is granted);
//! - `table`: the descriptor table, with rights and flags per descriptor;
//! - `mem`: bounds-checked access to guest memory (bad pointers are `EFAULT`, never a panic);
//! - [`errno`]: [`Errno`] and the mapping of host errors to it;
//! - `calls::*`: the functions, one module per group (args/env, clock, random, fd, path, poll,
//!   proc, sock);
//! - `host`: the glue to Ward's `Linker` and `Caller`;
//! - [`threads`]: `wasi-threads` (`thread-spawn`), the thread group, its limit and its end.

#![warn(missing_docs)]

mod calls;
pub mod confine;
pub mod ctx;
pub mod errno;
mod host;
mod mem;
mod random;
mod stdio;
mod table;
pub mod threads;
#[allow(missing_docs)]
pub mod types;

pub use ctx::{DirAccess, WasiCtx, WasiCtxBuilder};
pub use errno::Errno;
pub use host::GetCtx;
pub use random::Random;
pub use stdio::OutputPipe;
pub use threads::{add_threads_to_linker, ThreadEnd};
pub use types::MODULE;

/// Defines every `wasi_snapshot_preview1` function in `linker`.
///
/// `get_ctx` finds the [`WasiCtx`] in the store's data. A guest's `proc_exit(code)` makes the
/// wasm call that is running return `Err(ward::Error::Exit(code))`.
///
/// ```
/// use ward::{Engine, Linker};
/// struct State { wasi: ward_wasi::WasiCtx, hits: u32 }
///
/// let mut linker: Linker<State> = Linker::new(&Engine::default());
/// ward_wasi::add_to_linker(&mut linker, |s: &mut State| &mut s.wasi)?;
/// # Ok::<(), ward::Error>(())
/// ```
pub fn add_to_linker<T: 'static>(
    linker: &mut ward::Linker<T>,
    get_ctx: impl Fn(&mut T) -> &mut WasiCtx + Send + Sync + Copy + 'static,
) -> ward::Result<()> {
    calls::args_env::add(linker, get_ctx)?;
    calls::clock::add(linker, get_ctx)?;
    calls::random::add(linker, get_ctx)?;
    calls::fd::add(linker, get_ctx)?;
    calls::path::add(linker, get_ctx)?;
    calls::poll::add(linker, get_ctx)?;
    calls::proc::add(linker, get_ctx)?;
    calls::sock::add(linker, get_ctx)?;
    Ok(())
}

/// The names of the functions [`add_to_linker`] defines, in the `wasi_snapshot_preview1` module.
pub const FUNCTIONS: &[&str] = &[
    "args_get",
    "args_sizes_get",
    "environ_get",
    "environ_sizes_get",
    "clock_res_get",
    "clock_time_get",
    "fd_advise",
    "fd_allocate",
    "fd_close",
    "fd_datasync",
    "fd_fdstat_get",
    "fd_fdstat_set_flags",
    "fd_fdstat_set_rights",
    "fd_filestat_get",
    "fd_filestat_set_size",
    "fd_filestat_set_times",
    "fd_pread",
    "fd_prestat_get",
    "fd_prestat_dir_name",
    "fd_pwrite",
    "fd_read",
    "fd_readdir",
    "fd_renumber",
    "fd_seek",
    "fd_sync",
    "fd_tell",
    "fd_write",
    "path_create_directory",
    "path_filestat_get",
    "path_filestat_set_times",
    "path_link",
    "path_open",
    "path_readlink",
    "path_remove_directory",
    "path_rename",
    "path_symlink",
    "path_unlink_file",
    "poll_oneoff",
    "proc_exit",
    "proc_raise",
    "sched_yield",
    "random_get",
    "sock_accept",
    "sock_recv",
    "sock_send",
    "sock_shutdown",
];
