//! # WASI preview 2 for Ward
//!
//! Host implementations of the WASI 0.2 interfaces a `wasm32-wasip2` command component
//! imports, defined on a [`ward_component::Linker`]:
//!
//! | package | interfaces |
//! |---|---|
//! | `wasi:cli` | `environment`, `exit`, `stdin`, `stdout`, `stderr`, `terminal-input`, `terminal-output`, `terminal-stdin`, `terminal-stdout`, `terminal-stderr` |
//! | `wasi:io` | `error`, `poll`, `streams` |
//! | `wasi:clocks` | `wall-clock`, `monotonic-clock` |
//! | `wasi:random` | `random`, `insecure`, `insecure-seed` |
//! | `wasi:filesystem` | `types`, `preopens` |
//!
//! They are defined at version [`VERSION`]; the linker serves any semver-compatible `0.2.x`
//! import with them. `wasi:sockets` and `wasi:http` are not provided: a component importing
//! them fails to instantiate with an error naming the import.
//!
//! Capabilities are those of preview 1 (`ward-wasi`), granted one by one with
//! [`WasiP2CtxBuilder`]: nothing by default. Files are reached only beneath preopened
//! directories, resolved by `cap-std`; a read-only preopen ([`DirAccess::ReadOnly`]) refuses
//! every change with `not-permitted`. Every call emits a `tracing` event at `TRACE` level,
//! target `ward_wasi_p2`.
//!
//! ```
//! use ward_component::{Component, Linker};
//! use ward_wasi_p2::{OutputPipe, WasiP2Ctx, WasiP2CtxBuilder};
//!
//! let engine = ward::Engine::default();
//! let mut linker = Linker::<WasiP2Ctx>::new(&engine);
//! ward_wasi_p2::add_to_linker(&mut linker, |ctx: &mut WasiP2Ctx| ctx)?;
//! let out = OutputPipe::new();
//! let ctx = WasiP2CtxBuilder::new().arg("hello").stdout(out.clone()).build();
//! let mut store = ward::Store::new(&engine, ctx);
//! let component = Component::new(&engine, "(component)")?;
//! let instance = linker.instantiate(&mut store, &component)?;
//! assert!(ward_wasi_p2::run_command(&mut store, &instance).is_err()); // not a command
//! # Ok::<(), ward_component::Error>(())
//! ```

#![warn(missing_docs)]

mod ctx;
mod fs;
mod host;
mod io;
mod table;

pub use ctx::{DirAccess, OutputPipe, WasiP2Ctx, WasiP2CtxBuilder};
pub use host::VERSION;

use host::{resource_type, Reg, Types};
use std::sync::Arc;
use ward_component::{Error, Instance, Linker, Result, Val};

/// The export a command component runs: `wasi:cli/run` (any `0.2.x`), function `run`.
pub const RUN_INTERFACE: &str = "wasi:cli/run";

/// Defines every WASI 0.2 interface this crate implements in `linker`. `get_ctx` finds the
/// [`WasiP2Ctx`] in the store's data. `wasi:cli/exit` makes the running call return
/// `Err(Error::Wasm(ward::Error::Exit(code)))`.
pub fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    get_ctx: impl Fn(&mut T) -> &mut WasiP2Ctx + Send + Sync + Copy + 'static,
) -> Result<()> {
    let types = Arc::new(Types {
        pollable: resource_type::<T>("pollable", get_ctx),
        error: resource_type::<T>("error", get_ctx),
        input: resource_type::<T>("input-stream", get_ctx),
        output: resource_type::<T>("output-stream", get_ctx),
        descriptor: resource_type::<T>("descriptor", get_ctx),
        dir_entries: resource_type::<T>("directory-entry-stream", get_ctx),
        terminal_input: resource_type::<T>("terminal-input", get_ctx),
        terminal_output: resource_type::<T>("terminal-output", get_ctx),
    });
    let mut r = Reg { linker, get: get_ctx, types };
    io::add_io(&mut r)?;
    io::add_cli(&mut r)?;
    io::add_clocks_random(&mut r)?;
    fs::add_fs(&mut r)?;
    Ok(())
}

/// The `run` function of a command component's `wasi:cli/run` export, if it has one.
pub fn command_run(instance: &Instance) -> Option<ward_component::Func> {
    let names = instance.export_names();
    let name = names.iter().find(|n| is_run_interface(n))?;
    instance.get_instance(name)?.get_func("run")
}

/// Whether export name `name` is `wasi:cli/run` at some `0.2.x` version (or unversioned).
pub fn is_run_interface(name: &str) -> bool {
    match name.split_once('@') {
        Some((base, version)) => base == RUN_INTERFACE && version.starts_with("0.2."),
        None => name == RUN_INTERFACE,
    }
}

/// Runs a command component's `wasi:cli/run.run`. Returns the exit status: 0 when `run`
/// returns `ok`, 1 when it returns `err`, the guest's status when it calls `wasi:cli/exit`.
/// Traps and other failures are errors; an instance without `wasi:cli/run` is
/// [`Error::Usage`] naming what it exports.
pub fn run_command<T: 'static>(
    mut store: impl ward::AsContextMut<Data = T>,
    instance: &Instance,
) -> Result<i32> {
    let Some(run) = command_run(instance) else {
        let names = instance.export_names();
        let exports = if names.is_empty() {
            "nothing".to_string()
        } else {
            names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
        };
        return Err(Error::Usage(format!(
            "not a WASI command: it exports no `{RUN_INTERFACE}` interface with a `run` \
             function (it exports {exports})"
        )));
    };
    let mut out = [Val::Bool(false)];
    match run.call(&mut store, &[], &mut out) {
        Ok(()) => Ok(match &out[0] {
            Val::Result(Ok(_)) => 0,
            _ => 1,
        }),
        Err(Error::Wasm(ward::Error::Exit(code))) => Ok(code),
        Err(e) => Err(e),
    }
}
