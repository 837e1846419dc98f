//! `ward serve HANDLER.wasm`: an HTTP server that answers each request with a fresh instance of
//! a WASI preview 1 program, by CGI conventions: the request line and headers in the
//! environment (`REQUEST_METHOD`, `PATH_INFO`, `QUERY_STRING`, `CONTENT_TYPE`,
//! `CONTENT_LENGTH`, `HTTP_*`), the body on standard input, the response on standard output
//! (header lines such as `Status: 404 Not Found` and `Content-Type: text/plain`, a blank line,
//! then the body).
//!
//! Every request gets its own store and instance, made from one pre-linked template, with its
//! own limits: memory (`--max-memory`), a deadline (`--timeout`, answered with 504), optional
//! fuel, and caps on the request body and on the output. A handler that traps or exits with a
//! non-zero status is answered with 500; its output is discarded. The handler gets no files, no
//! sockets and no host environment.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use tracing::debug;
use ward::{Config, Engine, InstancePre, Linker, Module, Store, StoreLimitsBuilder};
use ward_wasi::{OutputPipe, WasiCtx, WasiCtxBuilder};

use super::load::{self, Source};
use super::{diag, options};

/// Arguments of `ward serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The handler: a WASI command (`.wasm` or `.wat`) following CGI conventions.
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
    /// The largest request body accepted (413 past it).
    #[arg(long, value_name = "SIZE", value_parser = options::parse_size, default_value = "1MiB")]
    pub max_body: u64,
    /// The largest response a handler may write (500 past it).
    #[arg(long, value_name = "SIZE", value_parser = options::parse_size, default_value = "16MiB")]
    pub max_output: u64,
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
    pre: InstancePre<WasiCtx>,
    name: String,
    args: ServeArgs,
}

/// Serves until the process is stopped; returns an exit status only on a startup error.
pub fn run(args: ServeArgs) -> anyhow::Result<i32> {
    let source = Source::File(args.module.clone());
    let name = source.name();
    let mut config = Config::new();
    config.epoch_interruption(true).consume_fuel(args.fuel.is_some());
    let engine = Engine::new(&config);
    // One ticker for every request's deadline (epochs), instead of a timer per request.
    let ticker = engine.clone();
    std::thread::spawn(move || loop {
        std::thread::sleep(EPOCH_TICK);
        ticker.increment_epoch();
    });
    let bytes = load::module_binary(&source, source.read()?)?;
    let module =
        Module::new(&engine, &bytes).with_context(|| format!("cannot load module `{name}`"))?;
    let mut linker = Linker::<WasiCtx>::new(&engine);
    ward_wasi::add_to_linker(&mut linker, |ctx: &mut WasiCtx| ctx)?;
    let pre = linker
        .instantiate_pre(&module)
        .with_context(|| format!("cannot link module `{name}` as a WASI handler"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the server's runtime")?;
    let server = Arc::new(Server { engine, pre, name, args });
    runtime.block_on(serve(server))
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
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let limit = usize::try_from(server.args.max_body).unwrap_or(usize::MAX);
    let body = match Limited::new(body, limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Ok(plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n")),
    };
    if server.args.no_instance {
        return Ok(cgi_response(&[b"Content-Type: text/plain\n\n", &body[..]].concat()));
    }
    let env = cgi_env(&parts, body.len());
    let work = tokio::task::spawn_blocking(move || run_handler(&server, env, body.to_vec()));
    Ok(match work.await {
        Ok(Answer::Output(out)) => cgi_response(&out),
        Ok(Answer::TimedOut) => plain(StatusCode::GATEWAY_TIMEOUT, "the handler ran too long\n"),
        Ok(Answer::Failed(why)) => {
            debug!(target: "ward_cli", %why, "handler failed");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "the handler failed\n")
        }
        Err(_) => plain(StatusCode::INTERNAL_SERVER_ERROR, "the handler failed\n"),
    })
}

/// How one request's instance ended.
enum Answer {
    Output(Vec<u8>),
    TimedOut,
    Failed(String),
}

/// Runs the handler for one request in a fresh store (on a blocking thread).
fn run_handler(server: &Server, env: Vec<(String, String)>, body: Vec<u8>) -> Answer {
    let args = &server.args;
    let stdout = OutputPipe::with_capacity(usize::try_from(args.max_output).unwrap_or(usize::MAX));
    let ctx = WasiCtxBuilder::new()
        .arg(&server.name)
        .envs(env)
        .stdin_bytes(body)
        .stdout(stdout.clone())
        .build();
    let mut store = Store::new(&server.engine, ctx);
    let memory = usize::try_from(args.max_memory).unwrap_or(usize::MAX);
    store.limiter(
        StoreLimitsBuilder::new()
            .memory_size(memory)
            .total_size(args.max_memory.saturating_add(16 << 20))
            .memories(4)
            .tables(16)
            .build(),
    );
    if let Some(fuel) = args.fuel {
        if let Err(e) = store.set_fuel(fuel) {
            return Answer::Failed(e.to_string());
        }
    }
    // The deadline, in epoch ticks (rounded up; the trap at the deadline is `Interrupted`).
    let ticks = args.timeout.as_nanos().div_ceil(EPOCH_TICK.as_nanos()).max(1);
    store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
    let outcome = server.pre.instantiate(&mut store).and_then(|instance| {
        let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
        start.call(&mut store, ())
    });
    match outcome {
        Ok(()) | Err(ward::Error::Exit(0)) if !stdout.overflowed() => {
            Answer::Output(stdout.contents())
        }
        Ok(()) | Err(ward::Error::Exit(0)) => Answer::Failed("the response was too large".into()),
        Err(ward::Error::Trap(t)) if t.code() == ward::TrapCode::Interrupted => Answer::TimedOut,
        Err(e) => Answer::Failed(e.to_string()),
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
        env.push((key, value.to_string()));
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
