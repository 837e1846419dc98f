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
//! | `wasi:sockets` | `network`, `instance-network`, `tcp`, `tcp-create-socket`, `udp`, `udp-create-socket`, `ip-name-lookup` |
//! | `wasi:http` | `types`, `outgoing-handler` (with [`add_proxy_to_linker`] only) |
//!
//! They are defined at version [`VERSION`]; the linker serves any semver-compatible `0.2.x`
//! import with them. A component importing anything else fails to instantiate with an error
//! naming the import.
//!
//! `wasi:sockets` reaches the network only as far as the context grants, and nothing by
//! default: [`WasiP2CtxBuilder::allow_tcp_connect`], [`allow_tcp_listen`],
//! [`allow_udp_bind`] and [`allow_udp_send`] take a [`SocketAddrPattern`] (an IP address or
//! CIDR block and a port, port range or `*`), [`allow_ip_name_lookup`] the host's resolver,
//! [`inherit_network`] all of it. Each address is checked before any host call; a refusal is
//! `error-code.access-denied`. Sockets are non-blocking host sockets, at most
//! [`max_sockets`] at once (default 1024; `new-socket-limit` past it), and every wait
//! (`poll`, `pollable.block`, blocking stream calls) ends with an `Interrupted` trap when the
//! store is interrupted. TCP streams are the ordinary `wasi:io` streams.
//!
//! [`allow_tcp_listen`]: WasiP2CtxBuilder::allow_tcp_listen
//! [`allow_udp_bind`]: WasiP2CtxBuilder::allow_udp_bind
//! [`allow_udp_send`]: WasiP2CtxBuilder::allow_udp_send
//! [`allow_ip_name_lookup`]: WasiP2CtxBuilder::allow_ip_name_lookup
//! [`inherit_network`]: WasiP2CtxBuilder::inherit_network
//! [`max_sockets`]: WasiP2CtxBuilder::max_sockets
//!
//! A `wasi:http/proxy` component (one exporting `wasi:http/incoming-handler`) is linked with
//! [`add_proxy_to_linker`] and called with [`HttpProxy::handle`]: the request and its body are
//! handed over whole, the response and its body are buffered whole (bounded by
//! [`WasiP2CtxBuilder::http_max_bytes`]); trailers are accepted and not sent. Outgoing
//! requests are refused with `error-code.HTTP-request-denied` unless their host is allowed
//! with [`WasiP2CtxBuilder::allow_http_host`]; an allowed one is sent over plain HTTP/1.1
//! (`https` is refused with `internal-error`) when the guest first asks for its response, its
//! body whole (it must be finished by then), and the response is read whole, within
//! timeouts (10 s to connect, 30 s to the response head, 30 s for the body; the guest's
//! `request-options` may shorten them) and the byte budget.
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

mod body_pipe;
mod client;
mod ctx;
mod fs;
mod host;
mod http;
mod http_types;
mod io;
mod sockets;
mod table;
mod wait;

pub use body_pipe::{request_body, BodyError, BodyGone, BodyReader, BodySender, BodySource};
pub use client::{pem_certificates, PemError};
pub use ctx::{DirAccess, OutputPipe, WasiP2Ctx, WasiP2CtxBuilder};
pub use host::VERSION;
pub use http::{
    is_incoming_handler, HandleError, HttpProxy, HttpRequest, HttpResponse, StreamedResponse,
    INCOMING_HANDLER,
};
pub use sockets::policy::{PatternError, SocketAddrPattern};

use host::{resource_type, HttpTypes, Reg, Types};
use std::sync::Arc;
use ward_component::{Error, Instance, Linker, Result, Val};

/// The export a command component runs: `wasi:cli/run` (any `0.2.x`), function `run`.
pub const RUN_INTERFACE: &str = "wasi:cli/run";

/// Defines the WASI 0.2 interfaces of a command in `linker` (all of the table above but
/// `wasi:http`; `wasi:sockets` included). `get_ctx` finds the [`WasiP2Ctx`] in the store's data. `wasi:cli/exit` makes
/// the running call return `Err(Error::Wasm(ward::Error::Exit(code)))`.
pub fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    get_ctx: impl Fn(&mut T) -> &mut WasiP2Ctx + Send + Sync + Copy + 'static,
) -> Result<()> {
    add_command(linker, get_ctx).map(|_| ())
}

/// Defines what [`add_to_linker`] defines, plus `wasi:http/types` and
/// `wasi:http/outgoing-handler`: everything a component of the `wasi:http/proxy` world
/// imports. The [`HttpProxy`] it returns calls such a component's
/// `wasi:http/incoming-handler` with a request. Outgoing requests go only to the hosts the
/// context allows ([`WasiP2CtxBuilder::allow_http_host`]).
pub fn add_proxy_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    get_ctx: impl Fn(&mut T) -> &mut WasiP2Ctx + Send + Sync + Copy + 'static,
) -> Result<HttpProxy<T>> {
    let types = add_command(linker, get_ctx)?;
    let mut r = Reg { linker, get: get_ctx, types: types.clone() };
    http::add_http(&mut r)?;
    Ok(HttpProxy::new(types, get_ctx))
}

fn add_command<T: 'static>(
    linker: &mut Linker<T>,
    get_ctx: impl Fn(&mut T) -> &mut WasiP2Ctx + Send + Sync + Copy + 'static,
) -> Result<Arc<Types>> {
    let ty = |name: &str| resource_type::<T>(name, get_ctx);
    let types = Arc::new(Types {
        pollable: ty("pollable"),
        error: ty("error"),
        input: ty("input-stream"),
        output: ty("output-stream"),
        descriptor: ty("descriptor"),
        dir_entries: ty("directory-entry-stream"),
        terminal_input: ty("terminal-input"),
        terminal_output: ty("terminal-output"),
        http: HttpTypes {
            fields: ty("fields"),
            incoming_request: ty("incoming-request"),
            outgoing_request: ty("outgoing-request"),
            request_options: ty("request-options"),
            response_outparam: ty("response-outparam"),
            incoming_response: ty("incoming-response"),
            incoming_body: ty("incoming-body"),
            future_trailers: ty("future-trailers"),
            outgoing_response: ty("outgoing-response"),
            outgoing_body: ty("outgoing-body"),
            future_incoming_response: ty("future-incoming-response"),
        },
        sockets: sockets::SocketTypes {
            network: ty("network"),
            tcp_socket: ty("tcp-socket"),
            udp_socket: ty("udp-socket"),
            incoming_datagrams: ty("incoming-datagram-stream"),
            outgoing_datagrams: ty("outgoing-datagram-stream"),
            resolve_stream: ty("resolve-address-stream"),
        },
    });
    let mut r = Reg { linker, get: get_ctx, types: types.clone() };
    io::add_io(&mut r)?;
    io::add_cli(&mut r)?;
    io::add_clocks_random(&mut r)?;
    fs::add_fs(&mut r)?;
    sockets::add_sockets(&mut r)?;
    Ok(types)
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
