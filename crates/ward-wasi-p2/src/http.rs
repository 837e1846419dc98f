//! `wasi:http` 0.2: the `types` and `outgoing-handler` interfaces a `wasi:http/proxy`
//! component imports, and [`HttpProxy`], which calls its `incoming-handler` export with one
//! request and collects the response.
//!
//! Bodies are whole byte strings on the host side: a request body is handed to the guest as
//! one input stream over bytes the host already holds, and a response body is buffered until
//! the guest finishes it, within the guest's HTTP byte budget. Trailers are accepted and not
//! sent. Outgoing requests are answered with `error-code.HTTP-request-denied` unless their
//! host is on the context's allow-list; a request to an allowed host is sent (`http` or
//! `https`, see `client.rs`) when the guest first asks for its response, with its body whole.

use crate::body_pipe::{body_pipe, BodyReader, BodySource};
use crate::client;
use crate::ctx::WasiP2Ctx;
use crate::host::*;
use crate::http_types::*;
use crate::io::new_pollable;
use crate::table::{wrong, InputStream, Object, OutputStream, Pollable};
use std::sync::Arc;
use std::time::Duration;
use ward_component::{Error, Func, Instance, Result, Val};

const TYPES: &str = "wasi:http/types";
const OUTGOING: &str = "wasi:http/outgoing-handler";

/// The export a `wasi:http/proxy` component serves requests with: `wasi:http/incoming-handler`
/// (any `0.2.x`), function `handle`.
pub const INCOMING_HANDLER: &str = "wasi:http/incoming-handler";

/// Whether export name `name` is `wasi:http/incoming-handler` at some `0.2.x` version (or
/// unversioned).
pub fn is_incoming_handler(name: &str) -> bool {
    match name.split_once('@') {
        Some((base, version)) => base == INCOMING_HANDLER && version.starts_with("0.2."),
        None => name == INCOMING_HANDLER,
    }
}

/// What a guest's HTTP objects share: the allow-list, the byte budget, and the response the
/// guest set through its `response-outparam`.
#[derive(Debug)]
pub(crate) struct HttpState {
    pub(crate) allowed_hosts: Vec<String>,
    /// Root certificates trusted for `https` beside the built-in ones (DER).
    roots: Vec<Vec<u8>>,
    pub(crate) budget: Budget,
    outcome: Option<Outcome>,
    /// Set while [`HttpProxy::handle_streaming`] runs: where the response goes when the guest
    /// sets it.
    streaming: Option<Streaming>,
}

/// Where a streamed response goes.
struct Streaming {
    on_head: Box<dyn FnOnce(StreamedResponse) + Send>,
    /// Writes of the body wait for the reader at most until then.
    deadline: Option<std::time::Instant>,
}

impl std::fmt::Debug for Streaming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streaming").field("deadline", &self.deadline).finish_non_exhaustive()
    }
}

impl HttpState {
    pub(crate) fn new(
        allowed_hosts: Vec<String>,
        roots: Vec<Vec<u8>>,
        max_bytes: usize,
    ) -> HttpState {
        HttpState {
            allowed_hosts,
            roots,
            budget: Budget::new(max_bytes),
            outcome: None,
            streaming: None,
        }
    }
}

/// What the guest passed to `response-outparam.set`.
#[derive(Debug)]
enum Outcome {
    Response(OutgoingResponse),
    /// A response handed to the embedder as it was set; its body (if any) streams.
    Streamed(Option<SharedBody>),
    /// An `error-code`, described.
    Error(String),
}

// --- the host objects ----------------------------------------------------------------------

fn push(ctx: &mut WasiP2Ctx, o: HttpObject) -> Result<u32> {
    ctx.push(Object::Http(o))
}

fn object(ctx: &mut WasiP2Ctx, rep: u32) -> Option<&mut HttpObject> {
    match ctx.table.get_mut(rep) {
        Some(Object::Http(o)) => Some(o),
        _ => None,
    }
}

/// Removes the object behind an owned handle the guest gave the host, if `is` accepts it.
fn take(
    ctx: &mut WasiP2Ctx,
    rep: u32,
    what: &str,
    is: impl Fn(&HttpObject) -> bool,
) -> Result<HttpObject> {
    match ctx.table.get(rep) {
        Some(Object::Http(o)) if is(o) => {}
        _ => return Err(wrong(what)),
    }
    match ctx.table.delete(rep) {
        Some(Object::Http(o)) => Ok(o),
        _ => Err(wrong(what)),
    }
}

fn take_fields(ctx: &mut WasiP2Ctx, rep: u32) -> Result<Fields> {
    match take(ctx, rep, "fields", |o| matches!(o, HttpObject::Fields(_)))? {
        HttpObject::Fields(f) => Ok(f),
        _ => Err(wrong("fields")),
    }
}

/// `fn $name(ctx, rep) -> Result<&mut $ty>`: the object behind a handle of resource `$what`,
/// which the host keeps as `HttpObject::$variant`.
macro_rules! accessor {
    ($name:ident, $variant:ident, $ty:ty, $what:literal) => {
        fn $name(ctx: &mut WasiP2Ctx, rep: u32) -> Result<&mut $ty> {
            match object(ctx, rep) {
                Some(HttpObject::$variant(x)) => Ok(x),
                _ => Err(wrong($what)),
            }
        }
    };
}

accessor!(fields, Fields, Fields, "fields");
accessor!(incoming_request, IncomingRequest, IncomingRequest, "incoming-request");
accessor!(outgoing_request, OutgoingRequest, OutgoingRequest, "outgoing-request");
accessor!(outgoing_response, OutgoingResponse, OutgoingResponse, "outgoing-response");
accessor!(incoming_response, IncomingResponse, IncomingResponse, "incoming-response");
accessor!(request_options, RequestOptions, RequestOptions, "request-options");

/// The headers of a request or response (`resource` names which), for its `headers` method.
fn headers_of<'a>(ctx: &'a mut WasiP2Ctx, rep: u32, resource: &str) -> Result<&'a mut Fields> {
    match (resource, object(ctx, rep)) {
        ("incoming-request", Some(HttpObject::IncomingRequest(r))) => Ok(&mut r.headers),
        ("outgoing-request", Some(HttpObject::OutgoingRequest(r))) => Ok(&mut r.headers),
        ("incoming-response", Some(HttpObject::IncomingResponse(r))) => Ok(&mut r.headers),
        ("outgoing-response", Some(HttpObject::OutgoingResponse(r))) => Ok(&mut r.headers),
        _ => Err(wrong(resource)),
    }
}

/// `body` of an outgoing request (`request`) or response: its `outgoing-body`, once.
fn outgoing_body(ctx: &mut WasiP2Ctx, ty: &Types, rep: u32, request: bool) -> Result<Option<Val>> {
    let budget = ctx.http.budget.clone();
    let (slot, headers) = match object(ctx, rep) {
        Some(HttpObject::OutgoingRequest(r)) if request => (&mut r.body, &r.headers),
        Some(HttpObject::OutgoingResponse(r)) if !request => (&mut r.body, &r.headers),
        _ => return Err(wrong(if request { "outgoing-request" } else { "outgoing-response" })),
    };
    if slot.is_some() {
        return Ok(unit(false));
    }
    let body = SharedBody::new(&budget, headers.content_length());
    *slot = Some(body.clone());
    let rep = push(ctx, HttpObject::OutgoingBody { body, written: false, request })?;
    Ok(Some(ok(Some(own(&ty.http.outgoing_body, rep)))))
}

/// `consume` of an incoming request or response: its `incoming-body`, once (`body` is `None`
/// the second time).
fn consume(ctx: &mut WasiP2Ctx, ty: &Types, body: Option<BodyData>) -> Result<Option<Val>> {
    let Some(body) = body else { return Ok(unit(false)) };
    let source = match &body {
        BodyData::Source(s) => Some(s.readiness()),
        BodyData::Bytes(_) => None,
    };
    let rep = push(ctx, HttpObject::IncomingBody(Some(body), source))?;
    Ok(Some(ok(Some(own(&ty.http.incoming_body, rep)))))
}

/// A trap for a guest that filled its HTTP byte budget.
fn full(ctx: &WasiP2Ctx) -> Error {
    trap(format!(
        "the guest's HTTP fields and bodies pass its limit of {} bytes",
        ctx.http.budget.limit()
    ))
}

/// `result<_, header-error>` (or a trap when the budget is spent).
fn header_result(ctx: &WasiP2Ctx, r: Result<(), FieldsError>) -> Result<Option<Val>> {
    match r {
        Ok(()) => Ok(Some(ok(None))),
        Err(e) => match e.case() {
            Some(case) => Ok(Some(err(Some(Val::Variant(case.into(), None))))),
            None => Err(full(ctx)),
        },
    }
}

// --- values --------------------------------------------------------------------------------

fn bytes_of(v: &Val, i: usize) -> Result<Vec<u8>> {
    arg_bytes(std::slice::from_ref(v), 0)
        .map(|b| b.into_owned())
        .map_err(|_| bad_arg(i, "list<u8>"))
}

fn opt_string(s: &Option<String>) -> Val {
    some(s.clone().map(Val::String))
}

/// An `option<T>` argument's payload.
fn arg_option(p: &[Val], i: usize) -> Result<Option<&Val>> {
    match p.get(i) {
        Some(Val::Option(o)) => Ok(o.as_deref()),
        _ => Err(bad_arg(i, "option")),
    }
}

fn arg_u16(p: &[Val], i: usize) -> Result<u16> {
    match p.get(i) {
        Some(Val::U16(x)) => Ok(*x),
        _ => Err(bad_arg(i, "u16")),
    }
}

/// `result` with no payloads.
fn unit(okay: bool) -> Option<Val> {
    Some(if okay { ok(None) } else { err(None) })
}

fn duration_val(d: Option<Duration>) -> Val {
    some(d.map(|d| Val::U64(d.as_nanos().min(u64::MAX as u128) as u64)))
}

fn arg_duration(p: &[Val], i: usize) -> Result<Option<Duration>> {
    match arg_option(p, i)? {
        None => Ok(None),
        Some(Val::U64(n)) => Ok(Some(Duration::from_nanos(*n))),
        Some(_) => Err(bad_arg(i, "option<duration>")),
    }
}

// --- the interfaces ------------------------------------------------------------------------

/// `wasi:http/types` and `wasi:http/outgoing-handler`.
pub(crate) fn add_http<T: 'static, G>(r: &mut Reg<'_, T, G>) -> Result<()>
where
    G: Fn(&mut T) -> &mut WasiP2Ctx + Send + Sync + Copy + 'static,
{
    let t = r.types.clone();
    let h = &t.http;
    for (name, ty) in [
        ("fields", &h.fields),
        ("headers", &h.fields),
        ("trailers", &h.fields),
        ("incoming-request", &h.incoming_request),
        ("outgoing-request", &h.outgoing_request),
        ("request-options", &h.request_options),
        ("response-outparam", &h.response_outparam),
        ("incoming-response", &h.incoming_response),
        ("incoming-body", &h.incoming_body),
        ("future-trailers", &h.future_trailers),
        ("outgoing-response", &h.outgoing_response),
        ("outgoing-body", &h.outgoing_body),
        ("future-incoming-response", &h.future_incoming_response),
        ("input-stream", &t.input),
        ("output-stream", &t.output),
        ("io-error", &t.error),
        ("pollable", &t.pollable),
    ] {
        r.resource(TYPES, name, ty)?;
    }
    add_fields(r)?;
    for resource in
        ["incoming-request", "outgoing-request", "incoming-response", "outgoing-response"]
    {
        // A child `headers` handle: an immutable copy.
        r.func(TYPES, &format!("[method]{resource}.headers"), move |ctx, ty, p| {
            let copy = headers_of(ctx, arg_rep(p, 0)?, resource)?.copy(false);
            let copy = copy.map_err(|_| full(ctx))?;
            let rep = push(ctx, HttpObject::Fields(copy))?;
            Ok(Some(own(&ty.http.fields, rep)))
        })?;
    }
    add_requests(r)?;
    add_responses(r)?;
    add_bodies(r)?;
    r.func(TYPES, "http-error-code", |_, _, _| Ok(Some(some(None))))?;

    for (name, ty) in [
        ("outgoing-request", &h.outgoing_request),
        ("request-options", &h.request_options),
        ("future-incoming-response", &h.future_incoming_response),
    ] {
        r.resource(OUTGOING, name, ty)?;
    }
    r.func(OUTGOING, "handle", |ctx, ty, p| {
        let request = match take(ctx, arg_rep(p, 0)?, "outgoing-request", |o| {
            matches!(o, HttpObject::OutgoingRequest(_))
        })? {
            HttpObject::OutgoingRequest(r) => r,
            _ => return Err(wrong("outgoing-request")),
        };
        let options = match arg_option(p, 1)? {
            Some(Val::Resource(o)) => match take(ctx, o.rep(), "request-options", |o| {
                matches!(o, HttpObject::RequestOptions(_))
            })? {
                HttpObject::RequestOptions(o) => o,
                _ => return Err(wrong("request-options")),
            },
            _ => RequestOptions::default(),
        };
        let checked = check(ctx, &request);
        tracing::debug!(
            target: "ward_wasi_p2",
            authority = request.authority.as_deref().unwrap_or(""),
            refused = ?checked.as_ref().err(),
            "outgoing request"
        );
        Ok(Some(match checked {
            Ok(()) => {
                let pending = FutureResponse::Pending(Box::new((request, options)));
                let rep = push(ctx, HttpObject::FutureIncomingResponse(pending))?;
                ok(Some(own(&ty.http.future_incoming_response, rep)))
            }
            Err(code) => err(Some(code.to_val())),
        }))
    })?;
    Ok(())
}

/// Whether an outgoing request may go: it names an authority whose host the context allows,
/// and its scheme is `http` or `https` (no scheme means `https`).
fn check(ctx: &WasiP2Ctx, request: &OutgoingRequest) -> Result<(), ErrorCode> {
    let scheme = request.scheme.as_deref().unwrap_or("https");
    let Some(authority) = request.authority.as_deref() else {
        return Err(ErrorCode::UriInvalid);
    };
    if !host_allowed(&ctx.http.allowed_hosts, scheme, authority) {
        return Err(ErrorCode::Denied);
    }
    if scheme != "http" && scheme != "https" {
        return Err(ErrorCode::Internal(format!(
            "only http and https requests are supported, not {scheme}"
        )));
    }
    Ok(())
}

/// Sends an allowed request and waits for its whole response (blocking the guest's thread,
/// within the request's timeouts).
fn resolve(
    ctx: &mut WasiP2Ctx,
    request: OutgoingRequest,
    options: RequestOptions,
) -> Result<IncomingResponse, ErrorCode> {
    let body = match &request.body {
        None => Vec::new(),
        Some(b) => {
            let mut buf = b.lock();
            if !buf.finished {
                return Err(ErrorCode::Internal(
                    "the request body was not finished before the response was awaited".into(),
                ));
            }
            buf.take()
        }
    };
    let authority = request.authority.clone().unwrap_or_default();
    let (host, port) = split_authority(&authority);
    let https = request.scheme.as_deref().is_none_or(|s| s == "https");
    let port = port.and_then(|p| p.parse().ok()).unwrap_or(if https { 443 } else { 80 });
    let tls = if https { Some(client::tls_config(&ctx.http.roots)?) } else { None };
    let outgoing = client::Outgoing {
        method: request.method.clone(),
        host,
        port,
        authority: authority.clone(),
        path_with_query: request.path_with_query.clone().unwrap_or_else(|| "/".into()),
        headers: request.headers.entries().to_vec(),
        body,
        tls,
    };
    use client::{
        BODY_TIMEOUT as BODY, CONNECT_TIMEOUT as CONNECT, FIRST_BYTE_TIMEOUT as FIRST_BYTE,
    };
    let bounds = client::Bounds {
        connect: options.connect.map_or(CONNECT, |d| d.min(CONNECT)),
        first_byte: options.first_byte.map_or(FIRST_BYTE, |d| d.min(FIRST_BYTE)),
        body: options.between_bytes.map_or(BODY, |d| d.min(BODY)),
        max_body: ctx.http.budget.limit(),
    };
    let received = client::send(outgoing, &bounds);
    tracing::debug!(
        target: "ward_wasi_p2",
        %authority,
        status = received.as_ref().ok().map(|r| r.status),
        error = ?received.as_ref().err(),
        "outgoing response"
    );
    let received = received?;
    let headers = Fields::from_host(&ctx.http.budget, &received.headers)
        .map_err(|_| ErrorCode::CaseNone("HTTP-response-header-section-size"))?;
    Ok(IncomingResponse { status: received.status, headers, body: Some(received.body.into()) })
}

fn add_fields<T: 'static, G>(r: &mut Reg<'_, T, G>) -> Result<()>
where
    G: Fn(&mut T) -> &mut WasiP2Ctx + Send + Sync + Copy + 'static,
{
    r.func(TYPES, "[constructor]fields", |ctx, ty, _| {
        let f = Fields::new(&ctx.http.budget);
        let rep = push(ctx, HttpObject::Fields(f))?;
        Ok(Some(own(&ty.http.fields, rep)))
    })?;
    r.func(TYPES, "[static]fields.from-list", |ctx, ty, p| {
        let Some(Val::List(items)) = p.first() else { return Err(bad_arg(0, "list")) };
        let mut entries = Vec::with_capacity(items.len());
        for item in items {
            let Val::Tuple(pair) = item else { return Err(bad_arg(0, "list<tuple>")) };
            match pair.as_slice() {
                [Val::String(n), v] => entries.push((n.clone(), bytes_of(v, 0)?)),
                _ => return Err(bad_arg(0, "list<tuple<string, list<u8>>>")),
            }
        }
        match Fields::from_list(&ctx.http.budget, entries) {
            Ok(f) => {
                let rep = push(ctx, HttpObject::Fields(f))?;
                Ok(Some(ok(Some(own(&ty.http.fields, rep)))))
            }
            Err(e) => header_result(ctx, Err(e)),
        }
    })?;
    r.func(TYPES, "[method]fields.get", |ctx, _, p| {
        let name = arg_str(p, 1)?;
        let values = fields(ctx, arg_rep(p, 0)?)?.get(name);
        Ok(Some(Val::List(values.into_iter().map(|v| Val::Bytes(v.to_vec())).collect())))
    })?;
    r.func(TYPES, "[method]fields.has", |ctx, _, p| {
        let name = arg_str(p, 1)?;
        Ok(Some(Val::Bool(fields(ctx, arg_rep(p, 0)?)?.has(name))))
    })?;
    r.func(TYPES, "[method]fields.set", |ctx, _, p| {
        let name = arg_str(p, 1)?;
        let Some(Val::List(items)) = p.get(2) else { return Err(bad_arg(2, "list")) };
        let values = items.iter().map(|v| bytes_of(v, 2)).collect::<Result<Vec<_>>>()?;
        let r = fields(ctx, arg_rep(p, 0)?)?.set(name, values);
        header_result(ctx, r)
    })?;
    r.func(TYPES, "[method]fields.delete", |ctx, _, p| {
        let name = arg_str(p, 1)?;
        let r = fields(ctx, arg_rep(p, 0)?)?.delete(name);
        header_result(ctx, r)
    })?;
    r.func(TYPES, "[method]fields.append", |ctx, _, p| {
        let name = arg_str(p, 1)?;
        let value = arg_bytes(p, 2)?.into_owned();
        let r = fields(ctx, arg_rep(p, 0)?)?.append(name, value);
        header_result(ctx, r)
    })?;
    r.func(TYPES, "[method]fields.entries", |ctx, _, p| {
        Ok(Some(fields(ctx, arg_rep(p, 0)?)?.to_val()))
    })?;
    r.func(TYPES, "[method]fields.clone", |ctx, ty, p| {
        let copy = fields(ctx, arg_rep(p, 0)?)?.copy(true).map_err(|_| full(ctx))?;
        let rep = push(ctx, HttpObject::Fields(copy))?;
        Ok(Some(own(&ty.http.fields, rep)))
    })?;
    Ok(())
}

fn add_requests<T: 'static, G>(r: &mut Reg<'_, T, G>) -> Result<()>
where
    G: Fn(&mut T) -> &mut WasiP2Ctx + Send + Sync + Copy + 'static,
{
    const IN: &str = "[method]incoming-request.";
    r.func(TYPES, &format!("{IN}method"), |ctx, _, p| {
        Ok(Some(method_to_val(&incoming_request(ctx, arg_rep(p, 0)?)?.method)))
    })?;
    r.func(TYPES, &format!("{IN}path-with-query"), |ctx, _, p| {
        Ok(Some(opt_string(&incoming_request(ctx, arg_rep(p, 0)?)?.path_with_query)))
    })?;
    r.func(TYPES, &format!("{IN}scheme"), |ctx, _, p| {
        let scheme = &incoming_request(ctx, arg_rep(p, 0)?)?.scheme;
        Ok(Some(some(scheme.as_deref().map(scheme_to_val))))
    })?;
    r.func(TYPES, &format!("{IN}authority"), |ctx, _, p| {
        Ok(Some(opt_string(&incoming_request(ctx, arg_rep(p, 0)?)?.authority)))
    })?;
    r.func(TYPES, &format!("{IN}consume"), |ctx, ty, p| {
        let body = incoming_request(ctx, arg_rep(p, 0)?)?.body.take();
        consume(ctx, ty, body)
    })?;

    const OUT: &str = "[method]outgoing-request.";
    r.func(TYPES, "[constructor]outgoing-request", |ctx, ty, p| {
        let mut headers = take_fields(ctx, arg_rep(p, 0)?)?;
        headers.freeze();
        let req = OutgoingRequest {
            method: "GET".into(),
            path_with_query: None,
            scheme: None,
            authority: None,
            headers,
            body: None,
        };
        let rep = push(ctx, HttpObject::OutgoingRequest(req))?;
        Ok(Some(own(&ty.http.outgoing_request, rep)))
    })?;
    r.func(TYPES, &format!("{OUT}body"), |ctx, ty, p| {
        outgoing_body(ctx, ty, arg_rep(p, 0)?, true)
    })?;
    r.func(TYPES, &format!("{OUT}method"), |ctx, _, p| {
        Ok(Some(method_to_val(&outgoing_request(ctx, arg_rep(p, 0)?)?.method)))
    })?;
    r.func(TYPES, &format!("{OUT}set-method"), |ctx, _, p| {
        let req = outgoing_request(ctx, arg_rep(p, 0)?)?;
        let Some(m) = p.get(1).and_then(method_from_val) else { return Ok(unit(false)) };
        req.method = m;
        Ok(unit(true))
    })?;
    r.func(TYPES, &format!("{OUT}scheme"), |ctx, _, p| {
        let scheme = &outgoing_request(ctx, arg_rep(p, 0)?)?.scheme;
        Ok(Some(some(scheme.as_deref().map(scheme_to_val))))
    })?;
    r.func(TYPES, &format!("{OUT}set-scheme"), |ctx, _, p| {
        let value = match arg_option(p, 1)? {
            None => None,
            Some(v) => match scheme_from_val(v) {
                Some(s) => Some(s),
                None => return Ok(unit(false)),
            },
        };
        outgoing_request(ctx, arg_rep(p, 0)?)?.scheme = value;
        Ok(unit(true))
    })?;
    /// A string of an outgoing request: its name, its syntax, where it is kept.
    type StrField =
        (&'static str, fn(&str) -> bool, fn(&mut OutgoingRequest) -> &mut Option<String>);
    let strings: [StrField; 2] = [
        ("path-with-query", valid_path_with_query, |r| &mut r.path_with_query),
        ("authority", valid_authority, |r| &mut r.authority),
    ];
    for (name, valid, slot) in strings {
        r.func(TYPES, &format!("{OUT}{name}"), move |ctx, _, p| {
            Ok(Some(opt_string(slot(outgoing_request(ctx, arg_rep(p, 0)?)?))))
        })?;
        r.func(TYPES, &format!("{OUT}set-{name}"), move |ctx, _, p| {
            let value = match arg_option(p, 1)? {
                None => None,
                Some(Val::String(s)) if valid(s) => Some(s.clone()),
                Some(Val::String(_)) => return Ok(unit(false)),
                Some(_) => return Err(bad_arg(1, "option<string>")),
            };
            *slot(outgoing_request(ctx, arg_rep(p, 0)?)?) = value;
            Ok(unit(true))
        })?;
    }

    const OPT: &str = "[method]request-options.";
    r.func(TYPES, "[constructor]request-options", |ctx, ty, _| {
        let rep = push(ctx, HttpObject::RequestOptions(RequestOptions::default()))?;
        Ok(Some(own(&ty.http.request_options, rep)))
    })?;
    type Slot = fn(&mut RequestOptions) -> &mut Option<Duration>;
    let slots: [(&str, Slot); 3] = [
        ("connect-timeout", |o| &mut o.connect),
        ("first-byte-timeout", |o| &mut o.first_byte),
        ("between-bytes-timeout", |o| &mut o.between_bytes),
    ];
    for (name, slot) in slots {
        r.func(TYPES, &format!("{OPT}{name}"), move |ctx, _, p| {
            Ok(Some(duration_val(*slot(request_options(ctx, arg_rep(p, 0)?)?))))
        })?;
        r.func(TYPES, &format!("{OPT}set-{name}"), move |ctx, _, p| {
            let d = arg_duration(p, 1)?;
            *slot(request_options(ctx, arg_rep(p, 0)?)?) = d;
            Ok(unit(true))
        })?;
    }
    Ok(())
}

fn add_responses<T: 'static, G>(r: &mut Reg<'_, T, G>) -> Result<()>
where
    G: Fn(&mut T) -> &mut WasiP2Ctx + Send + Sync + Copy + 'static,
{
    r.func(TYPES, "[method]response-outparam.send-informational", |ctx, _, p| {
        take_fields(ctx, arg_rep(p, 2)?)?;
        let code = ErrorCode::Internal("informational responses are not supported".into());
        Ok(Some(err(Some(code.to_val()))))
    })?;
    r.func(TYPES, "[static]response-outparam.set", |ctx, _, p| {
        take(ctx, arg_rep(p, 0)?, "response-outparam", |o| {
            matches!(o, HttpObject::ResponseOutparam)
        })?;
        let outcome = match p.get(1) {
            Some(Val::Result(Ok(Some(v)))) => match v.as_ref() {
                Val::Resource(res) => match take(ctx, res.rep(), "outgoing-response", |o| {
                    matches!(o, HttpObject::OutgoingResponse(_))
                })? {
                    HttpObject::OutgoingResponse(resp) => Outcome::Response(resp),
                    _ => return Err(wrong("outgoing-response")),
                },
                _ => return Err(bad_arg(1, "result<outgoing-response, error-code>")),
            },
            Some(Val::Result(Err(Some(code)))) => Outcome::Error(ErrorCode::describe(code)),
            _ => return Err(bad_arg(1, "result<outgoing-response, error-code>")),
        };
        let outcome = match (outcome, ctx.http.streaming.take()) {
            (Outcome::Response(resp), Some(streaming)) => stream_response(resp, streaming),
            (outcome, streaming) => {
                ctx.http.streaming = streaming;
                outcome
            }
        };
        ctx.http.outcome = Some(outcome);
        Ok(None)
    })?;

    const OUT: &str = "[method]outgoing-response.";
    r.func(TYPES, "[constructor]outgoing-response", |ctx, ty, p| {
        let mut headers = take_fields(ctx, arg_rep(p, 0)?)?;
        headers.freeze();
        let resp = OutgoingResponse { status: 200, headers, body: None };
        let rep = push(ctx, HttpObject::OutgoingResponse(resp))?;
        Ok(Some(own(&ty.http.outgoing_response, rep)))
    })?;
    r.func(TYPES, &format!("{OUT}status-code"), |ctx, _, p| {
        Ok(Some(Val::U16(outgoing_response(ctx, arg_rep(p, 0)?)?.status)))
    })?;
    r.func(TYPES, &format!("{OUT}set-status-code"), |ctx, _, p| {
        let status = arg_u16(p, 1)?;
        let resp = outgoing_response(ctx, arg_rep(p, 0)?)?;
        if !(100..=999).contains(&status) {
            return Ok(unit(false));
        }
        resp.status = status;
        Ok(unit(true))
    })?;
    r.func(TYPES, &format!("{OUT}body"), |ctx, ty, p| {
        outgoing_body(ctx, ty, arg_rep(p, 0)?, false)
    })?;

    const IN: &str = "[method]incoming-response.";
    r.func(TYPES, &format!("{IN}status"), |ctx, _, p| {
        Ok(Some(Val::U16(incoming_response(ctx, arg_rep(p, 0)?)?.status)))
    })?;
    r.func(TYPES, &format!("{IN}consume"), |ctx, ty, p| {
        let body = incoming_response(ctx, arg_rep(p, 0)?)?.body.take();
        consume(ctx, ty, body)
    })?;

    const FUT: &str = "[method]future-incoming-response.";
    r.func(TYPES, &format!("{FUT}subscribe"), |ctx, ty, p| match object(ctx, arg_rep(p, 0)?) {
        Some(HttpObject::FutureIncomingResponse(_)) => new_pollable(ctx, ty, Pollable::Ready),
        _ => Err(wrong("future-incoming-response")),
    })?;
    r.func(TYPES, &format!("{FUT}get"), |ctx, ty, p| {
        let rep = arg_rep(p, 0)?;
        let state = match object(ctx, rep) {
            Some(HttpObject::FutureIncomingResponse(state)) => {
                std::mem::replace(state, FutureResponse::Taken)
            }
            _ => return Err(wrong("future-incoming-response")),
        };
        // Always resolved once asked: `some(ok(...))` once, `some(err)` after.
        let FutureResponse::Pending(pending) = state else {
            return Ok(Some(some(Some(err(None)))));
        };
        let (request, options) = *pending;
        let result = resolve(ctx, request, options);
        Ok(Some(some(Some(ok(Some(match result {
            Err(code) => err(Some(code.to_val())),
            Ok(resp) => {
                let rep = push(ctx, HttpObject::IncomingResponse(resp))?;
                ok(Some(own(&ty.http.incoming_response, rep)))
            }
        }))))))
    })?;
    Ok(())
}

fn add_bodies<T: 'static, G>(r: &mut Reg<'_, T, G>) -> Result<()>
where
    G: Fn(&mut T) -> &mut WasiP2Ctx + Send + Sync + Copy + 'static,
{
    r.func(TYPES, "[method]incoming-body.stream", |ctx, ty, p| {
        let data = match object(ctx, arg_rep(p, 0)?) {
            Some(HttpObject::IncomingBody(data, _)) => data.take(),
            _ => return Err(wrong("incoming-body")),
        };
        let stream = match data {
            None => return Ok(unit(false)),
            Some(BodyData::Bytes(data)) => InputStream::Bytes { data, pos: 0 },
            Some(BodyData::Source(source)) => InputStream::Source(source),
        };
        let rep = ctx.push(Object::Input(stream))?;
        Ok(Some(ok(Some(own(&ty.input, rep)))))
    })?;
    r.func(TYPES, "[static]incoming-body.finish", |ctx, ty, p| {
        let source = match take(ctx, arg_rep(p, 0)?, "incoming-body", |o| {
            matches!(o, HttpObject::IncomingBody(..))
        })? {
            HttpObject::IncomingBody(_, source) => source,
            _ => return Err(wrong("incoming-body")),
        };
        let rep = push(ctx, HttpObject::FutureTrailers { taken: false, source })?;
        Ok(Some(own(&ty.http.future_trailers, rep)))
    })?;
    r.func(TYPES, "[method]future-trailers.subscribe", |ctx, ty, p| {
        let wait = match object(ctx, arg_rep(p, 0)?) {
            Some(HttpObject::FutureTrailers { source: Some(s), .. }) => {
                Pollable::Trailers(s.clone())
            }
            Some(HttpObject::FutureTrailers { source: None, .. }) => Pollable::Ready,
            _ => return Err(wrong("future-trailers")),
        };
        new_pollable(ctx, ty, wait)
    })?;
    r.func(TYPES, "[method]future-trailers.get", |ctx, ty, p| {
        let (taken, source) = match object(ctx, arg_rep(p, 0)?) {
            Some(HttpObject::FutureTrailers { taken, source }) => (taken, source.clone()),
            _ => return Err(wrong("future-trailers")),
        };
        // A body held whole has no trailers; a streamed one has them once it ended. The
        // value is given once (`some(err)` after).
        let ending = match &source {
            None => Ok(Vec::new()),
            Some(s) => match s.ending() {
                None => return Ok(Some(some(None))),
                Some(e) => e,
            },
        };
        if std::mem::replace(taken, true) {
            return Ok(Some(some(Some(err(None)))));
        }
        let inner = match ending {
            Ok(trailers) if trailers.is_empty() => ok(Some(some(None))),
            Ok(trailers) => {
                let budget = ctx.http.budget.clone();
                let fields = Fields::from_host(&budget, &trailers).map_err(|_| full(ctx))?;
                let rep = push(ctx, HttpObject::Fields(fields))?;
                ok(Some(some(Some(own(&ty.http.fields, rep)))))
            }
            Err(()) => {
                let code = ErrorCode::Internal("the request body ended early".into());
                err(Some(code.to_val()))
            }
        };
        Ok(Some(some(Some(ok(Some(inner))))))
    })?;
    r.func(TYPES, "[method]outgoing-body.write", |ctx, ty, p| {
        let body = match object(ctx, arg_rep(p, 0)?) {
            Some(HttpObject::OutgoingBody { body, written, .. }) => {
                if std::mem::replace(written, true) {
                    return Ok(unit(false));
                }
                body.clone()
            }
            _ => return Err(wrong("outgoing-body")),
        };
        let rep = ctx.push(Object::Output(OutputStream::Body(body)))?;
        Ok(Some(ok(Some(own(&ty.output, rep)))))
    })?;
    r.func(TYPES, "[static]outgoing-body.finish", |ctx, _, p| {
        let (body, request) = match take(ctx, arg_rep(p, 0)?, "outgoing-body", |o| {
            matches!(o, HttpObject::OutgoingBody { .. })
        })? {
            HttpObject::OutgoingBody { body, request, .. } => (body, request),
            _ => return Err(wrong("outgoing-body")),
        };
        // Trailers go with the body (an outgoing request's are dropped: it is sent whole).
        let trailers = match arg_option(p, 1)? {
            Some(Val::Resource(t)) => Some(take_fields(ctx, t.rep())?),
            _ => None,
        };
        let mut buf = body.lock();
        let len = buf.len();
        if buf.expected.is_some_and(|n| n != len) {
            let code = if request {
                ErrorCode::RequestBodySize(len)
            } else {
                ErrorCode::ResponseBodySize(len)
            };
            return Ok(Some(err(Some(code.to_val()))));
        }
        buf.finish(trailers);
        Ok(Some(ok(None)))
    })?;
    Ok(())
}

// --- serving a request ---------------------------------------------------------------------

/// A request for a guest's `wasi:http/incoming-handler`, body included.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method (`GET`, ...).
    pub method: String,
    /// The path and query (`/a?b=c`).
    pub path_with_query: Option<String>,
    /// The scheme the request came in with (`http`).
    pub scheme: Option<String>,
    /// The authority (`example.com:8080`), from the request target or the `Host` field.
    pub authority: Option<String>,
    /// The header fields, in order. Entries with invalid names or values are left out.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The whole body.
    pub body: Vec<u8>,
}

/// The response a guest set, body included.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code (100..=999).
    pub status: u16,
    /// The header fields, names lower-cased, in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The whole body.
    pub body: Vec<u8>,
    /// The trailer fields the guest finished the body with, in order.
    pub trailers: Vec<(String, Vec<u8>)>,
}

/// A response handed over as the guest set it: the head, and the body as the guest writes it
/// ([`HttpProxy::handle_streaming`]).
#[derive(Debug)]
pub struct StreamedResponse {
    /// The status code (100..=999).
    pub status: u16,
    /// The header fields, names lower-cased, in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body, read while the guest writes it.
    pub body: BodyReader,
}

/// Wakes the reader of the response being streamed, if any, for what the guest wrote: the
/// guest is about to wait (its bytes should not wait with it).
pub(crate) fn flush_streamed(ctx: &WasiP2Ctx) {
    if let Some(Outcome::Streamed(Some(body))) = &ctx.http.outcome {
        body.lock().flush();
    }
}

/// Hands a response just set to the embedder, its body switched to streaming.
fn stream_response(resp: OutgoingResponse, streaming: Streaming) -> Outcome {
    let (writer, reader) = body_pipe(streaming.deadline);
    match &resp.body {
        Some(body) => {
            // The queue is empty: the bytes written so far go in without waiting, and a
            // reader cannot be gone yet.
            let _ = body.lock().stream_to(writer);
        }
        None => writer.finish(),
    }
    (streaming.on_head)(StreamedResponse {
        status: resp.status,
        headers: resp.headers.entries().to_vec(),
        body: reader,
    });
    Outcome::Streamed(resp.body)
}

/// Why a guest produced no response.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The instance exports no `wasi:http/incoming-handler` with a `handle` function.
    #[error("the component exports no `{INCOMING_HANDLER}` interface with a `handle` function")]
    NotAHandler,
    /// The call failed: a trap, an exit, a deadline, a broken interface rule.
    #[error("the handler failed: {0}")]
    Call(#[source] Error),
    /// `handle` returned without setting the response.
    #[error("the handler returned without setting a response")]
    NoResponse,
    /// The guest set an `error-code` instead of a response (its case, shortened).
    #[error("the handler answered with error code {0}")]
    ErrorCode(String),
    /// The guest did not finish the response body (`outgoing-body.finish`), or finished it
    /// with a length other than its `content-length`.
    #[error("the handler did not finish the response body")]
    IncompleteBody,
    /// The response passed the guest's HTTP byte budget (in bytes).
    #[error("the response passes the limit of {0} bytes")]
    TooLarge(usize),
}

/// Calls the `wasi:http/incoming-handler` of component instances linked with
/// [`add_proxy_to_linker`](crate::add_proxy_to_linker) (made by it: it knows the linker's
/// resource types).
pub struct HttpProxy<T> {
    types: Arc<Types>,
    get: Arc<dyn Fn(&mut T) -> &mut WasiP2Ctx + Send + Sync>,
}

impl<T> Clone for HttpProxy<T> {
    fn clone(&self) -> Self {
        HttpProxy { types: self.types.clone(), get: self.get.clone() }
    }
}

impl<T> std::fmt::Debug for HttpProxy<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpProxy").finish_non_exhaustive()
    }
}

impl<T: 'static> HttpProxy<T> {
    pub(crate) fn new(
        types: Arc<Types>,
        get: impl Fn(&mut T) -> &mut WasiP2Ctx + Send + Sync + 'static,
    ) -> HttpProxy<T> {
        HttpProxy { types, get: Arc::new(get) }
    }

    /// The `handle` function of the instance's `wasi:http/incoming-handler` export.
    pub fn handler(&self, instance: &Instance) -> Option<Func> {
        let names = instance.export_names();
        let name = names.iter().find(|n| is_incoming_handler(n))?;
        instance.get_instance(name)?.get_func("handle")
    }

    /// Hands `request` to the instance's `wasi:http/incoming-handler.handle` and returns the
    /// response it set. The store's context should be fresh (one request per instance): the
    /// response slot and the HTTP byte budget are the context's.
    pub fn handle(
        &self,
        mut store: impl ward::AsContextMut<Data = T>,
        instance: &Instance,
        mut request: HttpRequest,
    ) -> std::result::Result<HttpResponse, HandleError> {
        let mut cx = store.as_context_mut();
        let limit = (self.get)(cx.data_mut()).http.budget.limit();
        let body = std::mem::take(&mut request.body).into();
        self.call_handler(&mut cx, instance, request, body)?;
        let ctx = (self.get)(cx.data_mut());
        let response = match ctx.http.outcome.take() {
            None => return Err(HandleError::NoResponse),
            Some(Outcome::Error(code)) => return Err(HandleError::ErrorCode(code)),
            Some(Outcome::Response(r)) => r,
            Some(Outcome::Streamed(_)) => return Err(HandleError::NoResponse),
        };
        let (body, trailers) = match &response.body {
            None => (Vec::new(), Vec::new()),
            Some(b) => {
                let mut buf = b.lock();
                if buf.overflowed {
                    return Err(HandleError::TooLarge(limit));
                }
                if !buf.finished {
                    return Err(HandleError::IncompleteBody);
                }
                (buf.take(), buf.trailer_entries())
            }
        };
        Ok(HttpResponse {
            status: response.status,
            headers: response.headers.entries().to_vec(),
            body,
            trailers,
        })
    }
    /// Hands `request` and a fresh `response-outparam` to the instance's `handle`.
    fn call_handler(
        &self,
        cx: &mut ward::StoreContextMut<'_, T>,
        instance: &Instance,
        request: HttpRequest,
        body: BodyData,
    ) -> std::result::Result<(), HandleError> {
        let func = self.handler(instance).ok_or(HandleError::NotAHandler)?;
        let h = &self.types.http;
        let ctx = (self.get)(cx.data_mut());
        let limit = ctx.http.budget.limit();
        let headers = Fields::from_host(&ctx.http.budget, &request.headers)
            .map_err(|_| HandleError::TooLarge(limit))?;
        let incoming = IncomingRequest {
            method: request.method,
            path_with_query: request.path_with_query,
            scheme: request.scheme,
            authority: request.authority,
            headers,
            body: Some(body),
        };
        ctx.http.outcome = None;
        let req = push(ctx, HttpObject::IncomingRequest(incoming)).map_err(HandleError::Call)?;
        let out = push(ctx, HttpObject::ResponseOutparam).map_err(HandleError::Call)?;
        let args = [own(&h.incoming_request, req), own(&h.response_outparam, out)];
        func.call(&mut *cx, &args, &mut []).map_err(HandleError::Call)
    }

    /// Like [`HttpProxy::handle`], but hands the response over as soon as the guest sets it:
    /// `on_head` receives the status, the headers and a [`BodyReader`] that yields the body
    /// while the guest writes it, so the body is never held whole (it may still not pass the
    /// HTTP byte budget's limit in total). At most 1 MiB of it waits for the reader; a write
    /// that finds no room waits until `deadline`, then fails (the guest sees a failed stream).
    /// With `body`, the request's body is not `request.body` but what the embedder sends
    /// through the [`BodySender`](crate::BodySender) of [`request_body`](crate::request_body)
    /// while the guest reads it. Returns once the guest's `handle` has returned: an error then
    /// means the body (if the head was handed over) ended incomplete, and the reader sees
    /// [`BodyError::Incomplete`](crate::BodyError::Incomplete). `on_head` is not called when
    /// the guest sets no response or an error code.
    pub fn handle_streaming(
        &self,
        mut store: impl ward::AsContextMut<Data = T>,
        instance: &Instance,
        mut request: HttpRequest,
        body: Option<BodySource>,
        deadline: Option<std::time::Instant>,
        on_head: impl FnOnce(StreamedResponse) + Send + 'static,
    ) -> std::result::Result<(), HandleError> {
        let mut cx = store.as_context_mut();
        let ctx = (self.get)(cx.data_mut());
        ctx.http.streaming = Some(Streaming { on_head: Box::new(on_head), deadline });
        let body = match body {
            Some(source) => BodyData::Source(source),
            None => std::mem::take(&mut request.body).into(),
        };
        let called = self.call_handler(&mut cx, instance, request, body);
        let ctx = (self.get)(cx.data_mut());
        ctx.http.streaming = None;
        let outcome = ctx.http.outcome.take();
        if let Some(Outcome::Streamed(Some(body))) = &outcome {
            let mut buf = body.lock();
            if called.is_err() || !buf.complete() {
                buf.abandon();
                called?;
                if buf.overflowed {
                    return Err(HandleError::TooLarge(buf.limit()));
                }
                return Err(HandleError::IncompleteBody);
            }
        }
        called?;
        match outcome {
            None => Err(HandleError::NoResponse),
            Some(Outcome::Error(code)) => Err(HandleError::ErrorCode(code)),
            Some(Outcome::Streamed(_)) => Ok(()),
            // Set while not streaming: cannot happen, `streaming` was set for the whole call.
            Some(Outcome::Response(_)) => Err(HandleError::NoResponse),
        }
    }
}
