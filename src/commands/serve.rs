//! `ward serve HANDLER.wasm`: an HTTP server that answers each request with a fresh instance of
//! a WASI preview 1 program, by CGI conventions: the request line and headers in the
//! environment (`REQUEST_METHOD`, `PATH_INFO`, `QUERY_STRING`, `CONTENT_TYPE`,
//! `CONTENT_LENGTH`, `HTTP_*`), the body on standard input, the response on standard output
//! (header lines such as `Status: 404 Not Found` and `Content-Type: text/plain`, a blank line,
//! then the body).
//!
//! A WebAssembly *component* exporting `wasi:http/incoming-handler` (the `wasi:http/proxy`
//! world, 0.2.x) is served through that interface instead: the request becomes an
//! `incoming-request` (its body streamed to the handler as the client sends it, at most
//! `--max-body`: one announced larger is answered 413 at once, one that turns out larger
//! ends early for the handler), and the response the
//! handler sets through its `response-outparam` is sent as soon as it is set: its head at
//! once, its body streamed while the handler writes it (at most 1 MiB waiting for a slow
//! client, at most `--max-output` in all, the handler's writes failing at the request's
//! deadline if the client stops reading). A handler that fails after setting its response
//! has its response aborted (the connection closes before the body's end). Its outgoing
//! requests are refused (`HTTP-request-denied`) unless `--allow-http` names
//! their host; allowed ones are sent as plain HTTP/1.1 and their responses read whole.
//!
//! Every request gets its own store and instance, made from one template compiled (and, for a
//! core module, linked) once, with its own limits: memory (`--max-memory`), a deadline
//! (`--timeout`, answered with 504), optional fuel, and caps on the request body and on the
//! output. A handler that traps, exits with a non-zero status or (a component) sets no
//! response is answered with 500; its output is discarded. The handler gets no files, no
//! sockets and no host environment.
//!
//! A CGI handler runs as a fresh *nanoprocess* per request (`ward-nano`): the module is a
//! template of a nanoprocess runtime whose worker threads run the requests' processes, each
//! spawned with the request's environment, stdin and a stdout pipe of its own, under the
//! template's limits (its deadline kills it at the next fuel slice), and awaited without
//! holding a thread. A component runs on tokio's blocking threads.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body as _, Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use tracing::debug;
use ward::{Config, Engine, Module, Store, StoreLimitsBuilder};
use ward_component::{Component, InstancePre, Linker as ComponentLinker};
use ward_nano::{ExitReason, Limits, RuntimeConfig, SpawnOptions, TemplateSpec};
use ward_wasi::OutputPipe;
use ward_wasi_p2::{
    BodyError, BodyReader, BodySender, BodySource, HandleError, HttpProxy, HttpRequest,
    StreamedResponse, WasiP2Ctx,
};

use super::load::{self, Source};
use super::{diag, options};

/// Arguments of `ward serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The handler: a WASI command (`.wasm` or `.wat`) following CGI conventions, or a
    /// component exporting `wasi:http/incoming-handler`.
    #[arg(value_name = "HANDLER")]
    pub module: std::path::PathBuf,
    /// Where to listen (port 0: any free port; the address is printed on stderr).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// The largest linear memory of one request's instance.
    #[arg(long, value_name = "SIZE", value_parser = options::parse_size, default_value = "64MiB")]
    pub max_memory: u64,
    /// How long one request may run (answered with 504 past it).
    #[arg(long, value_name = "DURATION", value_parser = options::parse_duration, default_value = "10s")]
    pub timeout: Duration,
    /// Fuel for one request (unlimited when not given).
    #[arg(long, value_name = "N")]
    pub fuel: Option<u64>,
    /// The largest request body accepted (413 when announced larger; past it a `wasi:http`
    /// handler's read of the streamed body fails, a CGI handler's request is answered 413).
    #[arg(long, value_name = "SIZE", value_parser = options::parse_size, default_value = "1MiB")]
    pub max_body: u64,
    /// The largest response a handler may write (a CGI handler's: 500 past it; a `wasi:http`
    /// handler's streamed body: aborted past it).
    #[arg(long, value_name = "SIZE", value_parser = options::parse_size, default_value = "16MiB")]
    pub max_output: u64,
    /// Let a `wasi:http` handler send requests to HOST (`example.com`: any port of it;
    /// `example.com:8080`: that port only; `*`: every host; `http` or `https`). Repeatable.
    /// Without it every outgoing request is refused (`HTTP-request-denied`).
    #[arg(long = "allow-http", value_name = "HOST[:PORT]")]
    pub allow_http: Vec<String>,
    /// Trust the certificates in the PEM file FILE as roots for a handler's `https` requests,
    /// beside the built-in Mozilla roots (for a private certificate authority). Repeatable.
    #[arg(long = "http-ca", value_name = "FILE")]
    pub http_ca: Vec<std::path::PathBuf>,
    /// The execution tier of a `wasi:http` component handler's core code: `interp` (the
    /// default) or `native` (compiled once with Cranelift at startup). CGI handlers run in
    /// nanoprocesses, which park calls and so are interpreted.
    #[arg(long, value_enum, default_value = "interp")]
    pub tier: options::TierArg,
    /// Benchmark baseline: answer every request with the request body and no instance, to
    /// measure what the per-request instance costs.
    #[arg(long, hide = true)]
    pub no_instance: bool,
}

/// How often the engine's epoch advances: the resolution of `--timeout`.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// What every request shares.
struct Server {
    engine: Engine,
    handler: Handler,
    name: String,
    args: ServeArgs,
}

/// The name of the CGI handler's template in its nanoprocess runtime.
const CGI_TEMPLATE: &str = "handler";

/// The handler's template.
enum Handler {
    /// A WASI preview 1 command answering by CGI conventions: the template of a nanoprocess
    /// runtime, linked once.
    Cgi(ward_nano::Runtime),
    /// A `wasi:http/proxy` component, instantiated per request.
    Http(Box<HttpHandler>),
}

struct HttpHandler {
    /// The component with its imports resolved once, at startup.
    pre: InstancePre<WasiP2Ctx>,
    proxy: HttpProxy<WasiP2Ctx>,
    /// The guest's `argv[0]`: the file name without its directories.
    argv0: String,
    /// The `--http-ca` certificates (DER).
    roots: Vec<Vec<u8>>,
}

/// Serves until the process is stopped; returns an exit status only on a startup error.
pub fn run(args: ServeArgs) -> anyhow::Result<i32> {
    let source = Source::File(args.module.clone());
    let name = source.name();
    let raw = source.read()?;
    let component = load::is_component(&raw);
    if !component && args.tier == options::TierArg::Native {
        anyhow::bail!(
            "`{name}` is a core module (a CGI handler), which runs in a nanoprocess: \
             nanoprocesses park calls as data, which needs the interpreter; --tier native \
             applies to component handlers"
        );
    }
    let mut config = Config::new();
    config.epoch_interruption(true).consume_fuel(args.fuel.is_some()).tier(args.tier.into());
    let engine = Engine::new(&config);
    // One ticker for every request's deadline (epochs), instead of a timer per request.
    let ticker = engine.clone();
    std::thread::spawn(move || loop {
        std::thread::sleep(EPOCH_TICK);
        ticker.increment_epoch();
    });
    let handler = if component {
        Handler::Http(Box::new(http_handler(&engine, &source, raw, &args)?))
    } else {
        if !args.allow_http.is_empty() || !args.http_ca.is_empty() {
            anyhow::bail!(
                "`{name}` is a core module (a CGI handler); --allow-http and --http-ca grant \
                 outgoing wasi:http requests to component handlers only"
            );
        }
        let bytes = load::module_binary(&source, raw)?;
        Handler::Cgi(cgi_runtime(&bytes, &name, &args)?)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the server's runtime")?;
    let server = Arc::new(Server { engine, handler, name, args });
    runtime.block_on(serve(server))
}

/// The nanoprocess runtime a CGI handler runs in: one template, the module linked against WASI
/// (and `ward:nano`, which grants it nothing: no templates to spawn, no other process to
/// message), with a request's limits and no capabilities.
fn cgi_runtime(bytes: &[u8], name: &str, args: &ServeArgs) -> anyhow::Result<ward_nano::Runtime> {
    let rt = ward_nano::Runtime::new(RuntimeConfig::default())
        .context("cannot start the nanoprocess runtime")?;
    let module =
        Module::new(rt.engine(), bytes).with_context(|| format!("cannot load module `{name}`"))?;
    let deadline_ms =
        u64::try_from(args.timeout.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX);
    let limits = Limits {
        memory_bytes: args.max_memory,
        // Tables are bounded by the store's table count and this many elements each.
        table_elements: 1 << 20,
        fuel_total: args.fuel,
        deadline_ms: Some(deadline_ms.max(1)),
        max_children: 0,
        max_tree: 1,
        ..Limits::default()
    };
    let mut spec = TemplateSpec::new(CGI_TEMPLATE, module).entry("_start").limits(limits);
    spec.args = vec![name.to_string()];
    rt.add_template(spec)
        .with_context(|| format!("cannot link module `{name}` as a WASI handler"))?;
    Ok(rt)
}

/// Compiles and links a `wasi:http/proxy` component; instantiates it once, in a store with a
/// request's limits, so that a component that cannot be linked is refused at startup.
fn http_handler(
    engine: &Engine,
    source: &Source,
    raw: Vec<u8>,
    args: &ServeArgs,
) -> anyhow::Result<HttpHandler> {
    let name = source.name();
    let bytes = load::component_binary(source, raw)?;
    let component = Component::from_binary(engine, &bytes)
        .map_err(|e| anyhow::anyhow!("{}", diag::escape(&e.to_string(), diag::MAX_LINE_CHARS)))
        .with_context(|| format!("cannot load component `{name}`"))?;
    if !component.exports().any(ward_wasi_p2::is_incoming_handler) {
        let exports: Vec<String> = component.exports().map(|e| format!("`{e}`")).collect();
        let exports = if exports.is_empty() { "nothing".to_string() } else { exports.join(", ") };
        anyhow::bail!(
            "`{name}` is a WebAssembly component but not an HTTP handler: it exports no \
             `{}` interface (it exports {})",
            ward_wasi_p2::INCOMING_HANDLER,
            diag::escape(&exports, diag::MAX_LINE_CHARS)
        );
    }
    let mut linker = ComponentLinker::<WasiP2Ctx>::new(engine);
    let proxy = ward_wasi_p2::add_proxy_to_linker(&mut linker, |ctx: &mut WasiP2Ctx| ctx)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let roots = options::http_roots(&args.http_ca)?;
    let refused = |e: ward_component::Error| {
        anyhow::anyhow!("{}", diag::escape(&e.to_string(), diag::MAX_LINE_CHARS))
            .context(format!("cannot instantiate component `{name}` as an HTTP handler"))
    };
    let pre = linker.instantiate_pre(&component).map_err(refused)?;
    let handler = HttpHandler { pre, proxy, argv0: source.argv0(), roots };
    let mut store = request_store(engine, handler.context(args), args)?;
    handler.pre.instantiate(&mut store).map_err(refused)?;
    Ok(handler)
}

impl HttpHandler {
    /// A request's WASI context: the program name, the `--allow-http` hosts and the
    /// `--http-ca` roots, no other grant; the HTTP byte budget is `--max-output`.
    fn context(&self, args: &ServeArgs) -> WasiP2Ctx {
        let mut b = ward_wasi_p2::WasiP2CtxBuilder::new();
        b.arg(&self.argv0);
        for host in &args.allow_http {
            b.allow_http_host(host);
        }
        for root in &self.roots {
            b.http_root_certificate(root.clone());
        }
        b.http_max_bytes(usize::try_from(args.max_output).unwrap_or(usize::MAX)).build()
    }
}

async fn serve(server: Arc<Server>) -> anyhow::Result<i32> {
    let listener = tokio::net::TcpListener::bind(server.args.addr)
        .await
        .with_context(|| format!("cannot listen on `{}`", server.args.addr))?;
    let local = listener.local_addr()?;
    diag::err(&format!("ward serve: `{}` listening on http://{local}", server.name));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                debug!(target: "ward_cli", error = %e, "accept failed");
                continue;
            }
        };
        let server = server.clone();
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let service = hyper::service::service_fn(move |req| handle(server.clone(), req));
            if let Err(e) =
                hyper::server::conn::http1::Builder::new().serve_connection(io, service).await
            {
                debug!(target: "ward_cli", %peer, error = %e, "connection ended");
            }
        });
    }
}

async fn handle(
    server: Arc<Server>,
    req: Request<Incoming>,
) -> Result<Response<ServeBody>, Infallible> {
    Ok(answer(server, req).await)
}

async fn answer(server: Arc<Server>, req: Request<Incoming>) -> Response<ServeBody> {
    let (parts, body) = req.into_parts();
    let limit = usize::try_from(server.args.max_body).unwrap_or(usize::MAX);
    let too_large = || plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n");
    if let (Handler::Http(_), false) = (&server.handler, server.args.no_instance) {
        // A body announced too large is refused before any instance runs; one that turns
        // out too large while streaming ends early for the handler.
        if body.size_hint().lower() > limit as u64 {
            return boxed(too_large());
        }
        let request = http_request(&parts, Vec::new());
        let (sender, source) = ward_wasi_p2::request_body();
        tokio::spawn(pump_request_body(body, sender, limit));
        let (head_tx, head) = tokio::sync::oneshot::channel();
        let work = tokio::task::spawn_blocking(move || run_http(&server, request, source, head_tx));
        // The head arrives when the handler sets its response; the handler may still be
        // writing the body, and its end is only logged.
        if let Ok(head) = head.await {
            return respond_streamed(head, work).await;
        }
        return boxed(no_response(work).await);
    }
    let body = match Limited::new(body, limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return boxed(too_large()),
    };
    if server.args.no_instance {
        let out = [b"Content-Type: text/plain\n\n", &body[..]].concat();
        return boxed(cgi_response(&out));
    }
    let env = cgi_env(&parts, body.len());
    boxed(match run_handler(&server, env, body.to_vec()).await {
        Answer::Output(out) => cgi_response(&out),
        answer => failure(answer),
    })
}

/// Sends a request's body (and trailer fields) to a `wasi:http` handler as the client sends
/// it, at most `limit` bytes: a body that passes the limit, or that the client breaks off,
/// ends early for the handler (its read fails); one the handler stops reading is left unread.
async fn pump_request_body(mut body: Incoming, mut sender: BodySender, limit: usize) {
    let mut total = 0usize;
    let mut trailers = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { return };
        let data = match frame.into_data() {
            Ok(data) => data,
            Err(frame) => {
                if let Ok(fields) = frame.into_trailers() {
                    trailers.extend(
                        fields.iter().map(|(n, v)| (n.as_str().to_string(), v.as_bytes().to_vec())),
                    );
                }
                continue;
            }
        };
        total = total.saturating_add(data.len());
        if total > limit {
            return;
        }
        if std::future::poll_fn(|cx| sender.poll_ready(cx)).await.is_err()
            || sender.send(data.to_vec()).is_err()
        {
            return;
        }
    }
    sender.finish_with(trailers);
}

/// The response for a `wasi:http` handler that gave none: its run's failure (500, 504), or
/// 500 if it ended without one.
async fn no_response(work: tokio::task::JoinHandle<Result<(), Answer>>) -> Response<Full<Bytes>> {
    match work.await {
        Ok(Err(answer)) => failure(answer),
        Ok(Ok(())) | Err(_) => plain(StatusCode::INTERNAL_SERVER_ERROR, "the handler failed\n"),
    }
}

/// The response for a handler that produced none.
fn failure(answer: Answer) -> Response<Full<Bytes>> {
    match answer {
        Answer::Output(out) => cgi_response(&out),
        Answer::TimedOut => plain(StatusCode::GATEWAY_TIMEOUT, "the handler ran too long\n"),
        Answer::Failed(why) => {
            debug!(target: "ward_cli", %why, "handler failed");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "the handler failed\n")
        }
    }
}

/// How one request's instance ended.
enum Answer {
    Output(Vec<u8>),
    TimedOut,
    Failed(String),
}

/// Runs the CGI handler for one request in a fresh nanoprocess and awaits its end.
async fn run_handler(server: &Server, env: Vec<(String, String)>, body: Vec<u8>) -> Answer {
    let Handler::Cgi(rt) = &server.handler else {
        return Answer::Failed("not a CGI handler".into());
    };
    let stdout =
        OutputPipe::with_capacity(usize::try_from(server.args.max_output).unwrap_or(usize::MAX));
    let opts = SpawnOptions {
        env,
        stdin: Some(body),
        stdout: Some(stdout.clone()),
        // The server's threads only parse and answer; the request's instance is made, run and
        // dropped on one nanoprocess worker.
        instantiate_on_worker: true,
        ..SpawnOptions::default()
    };
    let proc = match rt.spawn_with(CGI_TEMPLATE, opts) {
        Ok(proc) => proc,
        Err(e) => return Answer::Failed(e.to_string()),
    };
    match proc.exited().await {
        ExitReason::Normal if !stdout.overflowed() => Answer::Output(stdout.contents()),
        ExitReason::Normal => Answer::Failed("the response was too large".into()),
        ExitReason::Deadline => Answer::TimedOut,
        other => Answer::Failed(format!("{other:?}")),
    }
}

/// A store for one request (either kind of handler): `data`, the memory limits, the fuel and
/// the deadline in epoch ticks (rounded up; the trap at the deadline is `Interrupted`).
fn request_store<T: 'static>(
    engine: &Engine,
    data: T,
    args: &ServeArgs,
) -> Result<Store<T>, ward::Error> {
    let mut store = Store::new(engine, data);
    store.limiter(
        StoreLimitsBuilder::new()
            .memory_size(usize::try_from(args.max_memory).unwrap_or(usize::MAX))
            .total_size(args.max_memory.saturating_add(16 << 20))
            .memories(4)
            .tables(16)
            .build(),
    );
    if let Some(fuel) = args.fuel {
        store.set_fuel(fuel)?;
    }
    let ticks = args.timeout.as_nanos().div_ceil(EPOCH_TICK.as_nanos()).max(1);
    store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
    Ok(store)
}

/// Runs a `wasi:http` handler for one request in a fresh store and instance (on a blocking
/// thread), its body read from `body` as the client sends it. The response goes to `head` as
/// soon as the handler sets it, its body streaming while the handler writes it (until the
/// request's deadline).
fn run_http(
    server: &Server,
    request: HttpRequest,
    body: BodySource,
    head: tokio::sync::oneshot::Sender<StreamedResponse>,
) -> Result<(), Answer> {
    let Handler::Http(h) = &server.handler else {
        return Err(Answer::Failed("not an HTTP handler".into()));
    };
    let args = &server.args;
    let mut store = request_store(&server.engine, h.context(args), args)
        .map_err(|e| Answer::Failed(e.to_string()))?;
    let answer = |e: ward_component::Error| match e {
        ward_component::Error::Wasm(ward::Error::Trap(t))
            if t.code() == ward::TrapCode::Interrupted =>
        {
            Answer::TimedOut
        }
        other => Answer::Failed(other.to_string()),
    };
    let deadline = std::time::Instant::now() + args.timeout;
    let instance = h.pre.instantiate(&mut store).map_err(answer)?;
    let on_head = move |response| {
        // The request's task may be gone (the client left): nobody reads the body then, and
        // the handler's writes fail.
        let _ = head.send(response);
    };
    h.proxy
        .handle_streaming(&mut store, &instance, request, Some(body), Some(deadline), on_head)
        .map_err(|e| match e {
            HandleError::Call(e) => answer(e),
            other => Answer::Failed(other.to_string()),
        })
}

/// The `incoming-request` a hyper request becomes: the scheme is `http` (the server speaks
/// plain HTTP), the authority is the request target's or else the `Host` field's.
fn http_request(parts: &hyper::http::request::Parts, body: Vec<u8>) -> HttpRequest {
    let authority = parts.uri.authority().map(|a| a.as_str().to_string()).or_else(|| {
        parts.headers.get(hyper::header::HOST).and_then(|h| h.to_str().ok()).map(str::to_string)
    });
    HttpRequest {
        method: parts.method.as_str().to_string(),
        path_with_query: Some(parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string()),
        scheme: Some("http".to_string()),
        authority,
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), v.as_bytes().to_vec()))
            .collect(),
        body,
    }
}

/// The hyper response for the head a `wasi:http` handler set, with `body`; or, for a status
/// hyper cannot send as a final response (below 200) or a malformed header, the text of the
/// 502 to answer instead.
/// `content-length` is dropped unless `keep_length` (a streamed body keeps the guest's, whose
/// `outgoing-body.finish` checked it; a buffered body gets its own from hyper).
fn with_head<B>(
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: B,
    keep_length: bool,
) -> Result<Response<B>, &'static str> {
    let code = match StatusCode::from_u16(status) {
        Ok(s) if status >= 200 => s,
        _ => return Err("the handler set an invalid status\n"),
    };
    let mut response = Response::new(body);
    *response.status_mut() = code;
    for (name, value) in headers {
        if !keep_length && name.eq_ignore_ascii_case("content-length") {
            continue;
        }
        match (
            hyper::header::HeaderName::from_bytes(name.as_bytes()),
            hyper::header::HeaderValue::from_bytes(&value),
        ) {
            (Ok(n), Ok(v)) => {
                response.headers_mut().append(n, v);
            }
            _ => return Err("the handler set a malformed header\n"),
        }
    }
    Ok(response)
}

/// A body that ends within this many bytes of its first is sent whole (with its length);
/// a longer one streams.
const WHOLE_MAX: usize = 64 << 10;

/// Answers with the response a `wasi:http` handler set (`head`), once its body has begun (bytes
/// written, a flush, the handler waiting, or the body's end): whole if the body is finished
/// within its first [`WHOLE_MAX`] bytes ready, with the handler's error (500 or 504) if the
/// body fails before any of it was sent, and otherwise streamed as the handler goes on
/// writing (a failure then aborts it). `work` is the
/// handler's run; its end is only logged once the body streams.
async fn respond_streamed(
    mut head: StreamedResponse,
    work: tokio::task::JoinHandle<Result<(), Answer>>,
) -> Response<ServeBody> {
    std::future::poll_fn(|cx| head.body.poll_begun(cx)).await;
    let mut first = Vec::new();
    while first.len() < WHOLE_MAX {
        match head.body.try_next() {
            Some(Some(Ok(chunk))) => first.extend_from_slice(&chunk),
            Some(Some(Err(_))) => return boxed(no_response(work).await),
            // Trailers need the chunked coding: such a body streams even when it is short.
            Some(None) if !head.body.has_trailers() => return whole(head, first),
            Some(None) | None => break,
        }
    }
    tokio::spawn(async move {
        match work.await {
            Ok(Err(Answer::Failed(why))) => {
                debug!(target: "ward_cli", %why, "handler failed while streaming its response");
            }
            Ok(Err(Answer::TimedOut)) => {
                debug!(target: "ward_cli", "handler ran too long while streaming its response");
            }
            _ => {}
        }
    });
    let first = (!first.is_empty()).then(|| Bytes::from(first));
    // HTTP/1.1 sends only the trailer fields the head announced (`trailer`); a body that
    // already ended has its fields announced here if the handler did not.
    let mut headers = head.headers;
    if head.body.has_trailers() && !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("trailer")) {
        let names: Vec<String> = head.body.trailer_names();
        headers.push(("trailer".to_string(), names.join(", ").into_bytes()));
    }
    let body = StreamedBody { first, rest: head.body, ended: false };
    match with_head(head.status, headers, body, true) {
        Ok(response) => response.map(BodyExt::boxed),
        Err(refused) => boxed(plain(StatusCode::BAD_GATEWAY, refused)),
    }
}

/// A finished body, sent whole with its own length.
fn whole(head: StreamedResponse, body: Vec<u8>) -> Response<ServeBody> {
    boxed(
        with_head(head.status, head.headers, Full::new(Bytes::from(body)), false)
            .unwrap_or_else(|refused| plain(StatusCode::BAD_GATEWAY, refused)),
    )
}

/// A response body as hyper sends it: whole, or streamed from a handler.
type ServeBody = BoxBody<Bytes, BodyError>;

fn boxed(r: Response<Full<Bytes>>) -> Response<ServeBody> {
    r.map(|b| b.map_err(|never| match never {}).boxed())
}

/// A handler's response body, sent as the handler writes it: what was ready when the
/// response began, then the rest. A body the handler did not finish ends in an error, which
/// makes hyper abort the response.
struct StreamedBody {
    first: Option<Bytes>,
    rest: BodyReader,
    /// The trailer fields were sent (or there were none).
    ended: bool,
}

impl hyper::body::Body for StreamedBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        if let Some(first) = this.first.take() {
            return std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(first))));
        }
        if this.ended {
            return std::task::Poll::Ready(None);
        }
        match std::task::ready!(this.rest.poll_chunk(cx)) {
            Some(chunk) => std::task::Poll::Ready(Some(
                chunk.map(|bytes| hyper::body::Frame::data(Bytes::from(bytes))),
            )),
            None => {
                this.ended = true;
                let mut trailers = hyper::HeaderMap::new();
                for (name, value) in this.rest.take_trailers() {
                    // The guest's fields follow the header rules; one hyper still refuses is
                    // left out rather than failing the finished response.
                    if let (Ok(n), Ok(v)) = (
                        hyper::header::HeaderName::from_bytes(name.as_bytes()),
                        hyper::header::HeaderValue::from_bytes(&value),
                    ) {
                        trailers.append(n, v);
                    }
                }
                std::task::Poll::Ready(
                    (!trailers.is_empty()).then(|| Ok(hyper::body::Frame::trailers(trailers))),
                )
            }
        }
    }
}

/// The CGI environment of a request.
fn cgi_env(parts: &hyper::http::request::Parts, body_len: usize) -> Vec<(String, String)> {
    let mut env = vec![
        ("GATEWAY_INTERFACE".to_string(), "CGI/1.1".to_string()),
        ("SERVER_SOFTWARE".to_string(), format!("ward/{}", env!("CARGO_PKG_VERSION"))),
        ("SERVER_PROTOCOL".to_string(), format!("{:?}", parts.version)),
        ("REQUEST_METHOD".to_string(), parts.method.as_str().to_string()),
        ("PATH_INFO".to_string(), parts.uri.path().to_string()),
        ("QUERY_STRING".to_string(), parts.uri.query().unwrap_or("").to_string()),
        ("CONTENT_LENGTH".to_string(), body_len.to_string()),
    ];
    for (name, value) in &parts.headers {
        // Header values that are not visible ASCII are left out rather than mangled.
        let Ok(value) = value.to_str() else { continue };
        if name == hyper::header::CONTENT_TYPE {
            env.push(("CONTENT_TYPE".to_string(), value.to_string()));
            continue;
        }
        let key = format!("HTTP_{}", name.as_str().to_ascii_uppercase().replace('-', "_"));
        // A repeated field is one variable, its values joined as HTTP joins them.
        match env.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => {
                v.push_str(", ");
                v.push_str(value);
            }
            None => env.push((key, value.to_string())),
        }
    }
    env
}

/// The HTTP response a handler's CGI output describes: header lines up to a blank line (a
/// `Status:` line sets the status), then the body. Output without the blank line, or with a
/// header that is not valid HTTP, is answered with 502.
fn cgi_response(out: &[u8]) -> Response<Full<Bytes>> {
    let (head, body) = match find_blank_line(out) {
        Some((end, rest)) => (&out[..end], &out[rest..]),
        None => return plain(StatusCode::BAD_GATEWAY, "the handler's response has no headers\n"),
    };
    let mut response = Response::new(Full::new(Bytes::copy_from_slice(body)));
    for line in head.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            // Only an empty header block splits into one empty line.
            continue;
        }
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            return plain(StatusCode::BAD_GATEWAY, "the handler wrote a malformed header\n");
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"status") {
            let code = value.split(|b| *b == b' ').next().unwrap_or_default();
            match std::str::from_utf8(code).ok().and_then(|c| c.parse::<u16>().ok()) {
                Some(c) => match StatusCode::from_u16(c) {
                    Ok(s) => *response.status_mut() = s,
                    Err(_) => return plain(StatusCode::BAD_GATEWAY, "invalid Status header\n"),
                },
                None => return plain(StatusCode::BAD_GATEWAY, "invalid Status header\n"),
            }
            continue;
        }
        match (
            hyper::header::HeaderName::from_bytes(name),
            hyper::header::HeaderValue::from_bytes(value),
        ) {
            (Ok(n), Ok(v)) => {
                response.headers_mut().append(n, v);
            }
            _ => return plain(StatusCode::BAD_GATEWAY, "the handler wrote a malformed header\n"),
        }
    }
    response
}

/// Where the header block ends (`\n\n` or `\r\n\r\n`): the end of the headers and the start of
/// the body.
fn find_blank_line(out: &[u8]) -> Option<(usize, usize)> {
    if out.starts_with(b"\n") {
        return Some((0, 1));
    }
    if out.starts_with(b"\r\n") {
        return Some((0, 2));
    }
    let i = out.windows(2).position(|w| w == b"\n\n");
    let j = out.windows(4).position(|w| w == b"\r\n\r\n");
    match (i, j) {
        (Some(i), Some(j)) if j < i => Some((j, j + 4)),
        (Some(i), _) => Some((i, i + 2)),
        (None, Some(j)) => Some((j, j + 4)),
        (None, None) => None,
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("text/plain"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgi_env_has_the_request_and_joins_repeated_fields() {
        let req = Request::builder()
            .method("POST")
            .uri("/a/b?x=1")
            .header("content-type", "text/plain")
            .header("x-tag", "one")
            .header("x-tag", "two")
            .body(())
            .unwrap();
        let (parts, ()) = req.into_parts();
        let env = cgi_env(&parts, 5);
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("REQUEST_METHOD"), Some("POST"));
        assert_eq!(get("PATH_INFO"), Some("/a/b"));
        assert_eq!(get("QUERY_STRING"), Some("x=1"));
        assert_eq!(get("CONTENT_TYPE"), Some("text/plain"));
        assert_eq!(get("CONTENT_LENGTH"), Some("5"));
        assert_eq!(get("HTTP_X_TAG"), Some("one, two"));
        assert_eq!(env.iter().filter(|(n, _)| n == "HTTP_X_TAG").count(), 1);
    }

    #[test]
    fn cgi_output_becomes_a_response() {
        let r = cgi_response(b"Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope");
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(r.headers()["content-type"], "text/plain");
        let r = cgi_response(b"X-A: 1\n\nbody\n\nmore");
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["x-a"], "1");
        assert_eq!(cgi_response(b"no blank line").status(), StatusCode::BAD_GATEWAY);
        assert_eq!(cgi_response(b"bad header\n\n").status(), StatusCode::BAD_GATEWAY);
        assert_eq!(cgi_response(b"Status: 99999\n\n").status(), StatusCode::BAD_GATEWAY);
        assert_eq!(cgi_response(b"\nonly a body").status(), StatusCode::OK);
    }
}
