//! Defining host functions on a component linker, and the values they take and return.

use crate::ctx::WasiP2Ctx;
use crate::sockets::SocketTypes;
use std::sync::Arc;
use ward_component::{Error, Linker, ResourceAny, ResourceType, Result, Val};

/// The interface version the host defines. A component importing any `0.2.x` is served by it
/// (the linker resolves semver-compatible versions).
pub const VERSION: &str = "0.2.6";

/// The resource types of the WASI interfaces, one set per [`crate::add_to_linker`] call.
pub(crate) struct Types {
    pub(crate) pollable: ResourceType,
    pub(crate) error: ResourceType,
    pub(crate) input: ResourceType,
    pub(crate) output: ResourceType,
    pub(crate) descriptor: ResourceType,
    pub(crate) dir_entries: ResourceType,
    pub(crate) terminal_input: ResourceType,
    pub(crate) terminal_output: ResourceType,
    pub(crate) http: HttpTypes,
    pub(crate) sockets: SocketTypes,
}

/// The resource types of `wasi:http/types`.
pub(crate) struct HttpTypes {
    pub(crate) fields: ResourceType,
    pub(crate) incoming_request: ResourceType,
    pub(crate) outgoing_request: ResourceType,
    pub(crate) request_options: ResourceType,
    pub(crate) response_outparam: ResourceType,
    pub(crate) incoming_response: ResourceType,
    pub(crate) incoming_body: ResourceType,
    pub(crate) future_trailers: ResourceType,
    pub(crate) outgoing_response: ResourceType,
    pub(crate) outgoing_body: ResourceType,
    pub(crate) future_incoming_response: ResourceType,
}

/// A host function body: the context, the resource types, the parameters; the result value,
/// if the function has one.
pub(crate) type Body = dyn Fn(&mut WasiP2Ctx, &Types, &[Val]) -> Result<Option<Val>> + Send + Sync;

/// Registers functions and resource types of one linker.
pub(crate) struct Reg<'a, T, G> {
    pub(crate) linker: &'a mut Linker<T>,
    pub(crate) get: G,
    pub(crate) types: Arc<Types>,
}

/// The full, versioned name of interface `iface` (`wasi:io/streams`).
pub(crate) fn versioned(iface: &str) -> String {
    format!("{iface}@{VERSION}")
}

impl<T: 'static, G> Reg<'_, T, G>
where
    G: Fn(&mut T) -> &mut WasiP2Ctx + Send + Sync + Copy + 'static,
{
    /// Defines `name` in interface `iface`.
    pub(crate) fn func(
        &mut self,
        iface: &str,
        name: &str,
        body: impl Fn(&mut WasiP2Ctx, &Types, &[Val]) -> Result<Option<Val>> + Send + Sync + 'static,
    ) -> Result<()> {
        let get = self.get;
        let types = self.types.clone();
        let body: Arc<Body> = Arc::new(body);
        let full = format!("{iface}#{name}");
        self.linker.func_new(&versioned(iface), name, move |mut store, params, results| {
            if get(store.data_mut()).interrupt.is_none() {
                // Waits check it (see `wait.rs`); the store's handle is the same on every call.
                let handle = store.interrupt_handle();
                get(store.data_mut()).interrupt = Some(handle);
            }
            let ctx = get(store.data_mut());
            let out = body(ctx, &types, params);
            trace(&full, params, &out);
            match (out?, results.first_mut()) {
                (Some(v), Some(slot)) => *slot = v,
                (None, None) => {}
                _ => return Err(Error::Usage(format!("`{full}` result count mismatch"))),
            }
            Ok(())
        })
    }

    /// Defines resource type `name` in interface `iface`.
    pub(crate) fn resource(&mut self, iface: &str, name: &str, ty: &ResourceType) -> Result<()> {
        self.linker.resource(&versioned(iface), name, ty.clone())
    }
}

/// A fresh host resource type whose handles, when the guest drops them, free their object.
pub(crate) fn resource_type<T: 'static>(
    name: &str,
    get: impl Fn(&mut T) -> &mut WasiP2Ctx + Send + Sync + Copy + 'static,
) -> ResourceType {
    let shown = name.to_string();
    ResourceType::host_with_drop::<T>(name, move |mut store, rep| {
        let ctx = get(store.data_mut());
        let gone = ctx.table.delete(rep).is_some();
        tracing::trace!(target: "ward_wasi_p2", resource = %shown, rep, gone, "drop");
        Ok(())
    })
}

/// A `tracing` event per call (target `ward_wasi_p2`), with arguments and result shortened.
fn trace(name: &str, params: &[Val], out: &Result<Option<Val>>) {
    if !tracing::enabled!(target: "ward_wasi_p2", tracing::Level::TRACE) {
        return;
    }
    let args: Vec<String> = params.iter().map(brief).collect();
    let result = match out {
        Ok(Some(v)) => brief(v),
        Ok(None) => "()".to_string(),
        Err(e) => format!("error: {e}"),
    };
    tracing::trace!(target: "ward_wasi_p2", func = %name, args = %args.join(", "), result = %result);
}

/// A value shown in at most 200 characters, guest bytes as a count.
fn brief(v: &Val) -> String {
    let s = match v {
        Val::Bytes(b) => format!("<{} bytes>", b.len()),
        other => other.to_string(),
    };
    if s.chars().count() > 200 {
        let cut: String = s.chars().take(200).collect();
        format!("{cut}...")
    } else {
        s
    }
}

// --- values -------------------------------------------------------------------------------

pub(crate) fn bad_arg(i: usize, what: &str) -> Error {
    Error::Usage(format!("argument {i} is not a {what}"))
}

pub(crate) fn arg_u64(p: &[Val], i: usize) -> Result<u64> {
    match p.get(i) {
        Some(Val::U64(x)) => Ok(*x),
        _ => Err(bad_arg(i, "u64")),
    }
}

pub(crate) fn arg_u8(p: &[Val], i: usize) -> Result<u8> {
    match p.get(i) {
        Some(Val::U8(x)) => Ok(*x),
        _ => Err(bad_arg(i, "u8")),
    }
}

pub(crate) fn arg_str(p: &[Val], i: usize) -> Result<&str> {
    match p.get(i) {
        Some(Val::String(s)) => Ok(s),
        _ => Err(bad_arg(i, "string")),
    }
}

/// The representation of a resource argument.
pub(crate) fn arg_rep(p: &[Val], i: usize) -> Result<u32> {
    match p.get(i) {
        Some(Val::Resource(r)) => Ok(r.rep()),
        _ => Err(bad_arg(i, "resource")),
    }
}

pub(crate) fn arg_flags(p: &[Val], i: usize) -> Result<&[String]> {
    match p.get(i) {
        Some(Val::Flags(f)) => Ok(f),
        _ => Err(bad_arg(i, "flags")),
    }
}

pub(crate) fn arg_enum(p: &[Val], i: usize) -> Result<&str> {
    match p.get(i) {
        Some(Val::Enum(e)) => Ok(e),
        _ => Err(bad_arg(i, "enum")),
    }
}

/// A `list<u8>` argument, however the caller represented it.
pub(crate) fn arg_bytes(p: &[Val], i: usize) -> Result<std::borrow::Cow<'_, [u8]>> {
    match p.get(i) {
        Some(Val::Bytes(b)) => Ok(b.as_slice().into()),
        Some(Val::List(items)) => items
            .iter()
            .map(|v| match v {
                Val::U8(b) => Ok(*b),
                _ => Err(bad_arg(i, "list<u8>")),
            })
            .collect::<Result<Vec<u8>>>()
            .map(Into::into),
        _ => Err(bad_arg(i, "list<u8>")),
    }
}

pub(crate) fn has(flags: &[String], name: &str) -> bool {
    flags.iter().any(|f| f == name)
}

pub(crate) fn own(ty: &ResourceType, rep: u32) -> Val {
    Val::Resource(ResourceAny::new_own(ty, rep))
}

pub(crate) fn ok(v: Option<Val>) -> Val {
    Val::Result(Ok(v.map(Box::new)))
}

pub(crate) fn err(v: Option<Val>) -> Val {
    Val::Result(Err(v.map(Box::new)))
}

pub(crate) fn some(v: Option<Val>) -> Val {
    Val::Option(v.map(Box::new))
}

pub(crate) fn record(fields: Vec<(&str, Val)>) -> Val {
    Val::Record(fields.into_iter().map(|(n, v)| (n.to_string(), v)).collect())
}

/// A `datetime` record.
pub(crate) fn datetime(seconds: u64, nanoseconds: u32) -> Val {
    record(vec![("seconds", Val::U64(seconds)), ("nanoseconds", Val::U32(nanoseconds))])
}

/// A trap raised by the host: the guest broke a rule of the interface.
pub(crate) fn trap(msg: impl Into<String>) -> Error {
    Error::Wasm(ward::Error::Trap(ward::Trap::host(msg.into())))
}
