//! A `wasi:http/proxy` component for `tests/cli_serve_http.rs`, served by `ward serve`.
//!
//! Routes, by path:
//! - `/trap`: traps (`unreachable`) before setting a response;
//! - `/spin`: loops forever;
//! - `/outgoing?to=AUTHORITY`: sends `POST http://AUTHORITY/from-guest` (default authority:
//!   `example.com`) through `wasi:http/outgoing-handler` and answers with what happened
//!   (`outgoing: <error code>`, or the status, the field `x-reply` and the body it got);
//! - `/outgoing-https?to=AUTHORITY`: the same with `https`;
//! - `/fields`: exercises the `header-error` cases of `fields` and answers with them;
//! - `/no-response`: returns without setting a response;
//! - `/stream?bytes=N`: answers 200 with N bytes written in 64 KiB pieces (each `abc...z`
//!   repeated) after the response was set; a refused write ends the handler without finishing
//!   the body;
//! - `/stream-trap?bytes=N`: the same, then traps instead of finishing the body;
//! - `/gated-late?to=AUTHORITY`: answers 200, then sends the request of `/outgoing` to
//!   AUTHORITY before writing anything, and writes what happened (a test holds that request
//!   until it has read the response's head);
//! - `/trailers`: answers 200 with the body `body` and the trailer `x-checksum: abc`
//!   (announced by the header `trailer: x-checksum`);
//! - `/request-trailers`: reads the request body, then answers 200 with its trailer fields
//!   (`name: value` lines, or `no trailers`, or `trailers failed`);
//! - `/first-line`: reads the request body only up to its first newline and answers 200 with
//!   `first line: LINE`;
//! - `/count`: reads the whole request body and answers 200 with `read N bytes`, or `read
//!   failed after N bytes` if the stream failed;
//! - `/stream-gated?to=AUTHORITY`: answers 200, writes `first\n`, then sends the request of
//!   `/outgoing` to AUTHORITY and writes what happened before finishing the body (a test
//!   holds that request until it has read `first`);
//! - anything else: echoes the method, path with query, scheme, authority, the header
//!   `x-test` and the request body, with status 201 (`/missing`: 404) and the header
//!   `x-ward: echo`.
//!
//! Built by `build.sh` into `handler.wasm` (checked in, so tests need no wasm toolchain).

use wasi::http::outgoing_handler;
use wasi::http::types::{
    Fields, HeaderError, IncomingBody, IncomingRequest, Method, OutgoingBody, OutgoingRequest,
    OutgoingResponse, ResponseOutparam, Scheme,
};

struct Handler;

wasi::http::proxy::export!(Handler);

impl wasi::exports::http::incoming_handler::Guest for Handler {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        match path.split('?').next().unwrap_or_default() {
            "/trap" => core::arch::wasm32::unreachable(),
            "/spin" => loop {
                std::hint::black_box(());
            },
            "/no-response" => {}
            "/outgoing" => {
                let to = path.split_once("?to=").map_or("example.com", |(_, to)| to);
                respond(response_out, 200, &outgoing(&Scheme::Http, to))
            }
            "/outgoing-https" => {
                let to = path.split_once("?to=").map_or("example.com", |(_, to)| to);
                respond(response_out, 200, &outgoing(&Scheme::Https, to))
            }
            "/fields" => respond(response_out, 200, &fields(&request)),
            "/stream" | "/stream-trap" => {
                let bytes = path.split_once("?bytes=").and_then(|(_, n)| n.parse().ok());
                stream(response_out, bytes.unwrap_or(0), path.starts_with("/stream-trap"))
            }
            "/gated-late" => {
                let to = path.split_once("?to=").map_or("example.com", |(_, to)| to);
                gated_late(response_out, to)
            }
            "/trailers" => with_trailers(response_out),
            "/request-trailers" => respond(response_out, 200, &request_trailers(&request)),
            "/first-line" => {
                let line = first_line(&request);
                respond(response_out, 200, &format!("first line: {line}\n"))
            }
            "/count" => respond(response_out, 200, &count(&request)),
            "/stream-gated" => {
                let to = path.split_once("?to=").map_or("example.com", |(_, to)| to);
                gated(response_out, to)
            }
            "/missing" => respond(response_out, 404, &echo(request, &path)),
            _ => respond(response_out, 201, &echo(request, &path)),
        }
    }
}

/// Sets a response with `status`, the header `x-ward: echo` and `body`.
fn respond(out: ResponseOutparam, status: u16, body: &str) {
    let headers = Fields::new();
    headers.set("X-Ward", &[b"echo".to_vec()]).expect("a valid header");
    headers.append("content-type", b"text/plain").expect("a valid header");
    let response = OutgoingResponse::new(headers);
    response.set_status_code(status).expect("a valid status");
    let outgoing = response.body().expect("the body, once");
    ResponseOutparam::set(out, Ok(response));
    let stream = outgoing.write().expect("the stream, once");
    for chunk in body.as_bytes().chunks(4096) {
        // A refused write (the host's limit) ends the body; the host sees it was cut short.
        if stream.blocking_write_and_flush(chunk).is_err() {
            break;
        }
    }
    drop(stream);
    OutgoingBody::finish(outgoing, None).expect("finishing the body");
}

/// Answers 200 and writes `n` bytes of the alphabet repeated after setting the response;
/// traps at the end instead of finishing if `trap`.
fn stream(out: ResponseOutparam, n: usize, trap: bool) {
    let response = OutgoingResponse::new(Fields::new());
    let outgoing = response.body().expect("the body, once");
    ResponseOutparam::set(out, Ok(response));
    let stream = outgoing.write().expect("the stream, once");
    let piece: Vec<u8> = (0..65536).map(|i| b'a' + (i % 26) as u8).collect();
    let mut left = n;
    while left > 0 {
        // Every piece starts the alphabet again: byte i of the body is `a` + i % 65536 % 26.
        // Plain writes, no flush: a short body finished at once reaches the host as one.
        let len = left.min(piece.len());
        if stream.check_write().is_err() || stream.write(&piece[..len]).is_err() {
            return;
        }
        left -= len;
    }
    drop(stream);
    if trap {
        core::arch::wasm32::unreachable();
    }
    OutgoingBody::finish(outgoing, None).expect("finishing the body");
}

/// Answers 200, then writes what an outgoing request to `to` got (nothing before it).
fn gated_late(out: ResponseOutparam, to: &str) {
    let response = OutgoingResponse::new(Fields::new());
    let outgoing = response.body().expect("the body, once");
    ResponseOutparam::set(out, Ok(response));
    let reply = self::outgoing(&Scheme::Http, to);
    let stream = outgoing.write().expect("the stream, once");
    stream.blocking_write_and_flush(reply.as_bytes()).expect("writing the body");
    drop(stream);
    OutgoingBody::finish(outgoing, None).expect("finishing the body");
}

/// Answers 200 with the body `body` and the trailer field `x-checksum: abc`.
fn with_trailers(out: ResponseOutparam) {
    // HTTP/1.1 announces trailer fields in the head.
    let headers = Fields::new();
    headers.append("trailer", b"x-checksum").expect("a valid header");
    let response = OutgoingResponse::new(headers);
    let outgoing = response.body().expect("the body, once");
    ResponseOutparam::set(out, Ok(response));
    let stream = outgoing.write().expect("the stream, once");
    stream.blocking_write_and_flush(b"body").expect("writing the body");
    drop(stream);
    let trailers = Fields::new();
    trailers.append("x-checksum", b"abc").expect("a valid trailer");
    OutgoingBody::finish(outgoing, Some(trailers)).expect("finishing the body");
}

/// Reads the request body, then describes its trailer fields.
fn request_trailers(request: &IncomingRequest) -> String {
    let body = request.consume().expect("the body, once");
    {
        let stream = body.stream().expect("the stream, once");
        while stream.blocking_read(65536).is_ok() {}
    }
    let trailers = IncomingBody::finish(body);
    trailers.subscribe().block();
    match trailers.get() {
        Some(Ok(Ok(Some(fields)))) => fields
            .entries()
            .iter()
            .map(|(n, v)| format!("{n}: {}\n", String::from_utf8_lossy(v)))
            .collect(),
        Some(Ok(Ok(None))) => "no trailers\n".to_string(),
        _ => "trailers failed\n".to_string(),
    }
}

/// The request body up to its first newline (read no further).
fn first_line(request: &IncomingRequest) -> String {
    let body = request.consume().expect("the body, once");
    let stream = body.stream().expect("the stream, once");
    let mut line = Vec::new();
    while !line.contains(&b'\n') {
        match stream.blocking_read(1) {
            Ok(byte) => line.extend_from_slice(&byte),
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(line.strip_suffix(b"\n").unwrap_or(&line)).into_owned()
}

/// Reads the whole request body and says how much it got.
fn count(request: &IncomingRequest) -> String {
    let body = request.consume().expect("the body, once");
    let stream = body.stream().expect("the stream, once");
    let mut n = 0;
    loop {
        match stream.blocking_read(65536) {
            Ok(chunk) => n += chunk.len(),
            Err(wasi::io::streams::StreamError::Closed) => return format!("read {n} bytes\n"),
            Err(_) => return format!("read failed after {n} bytes\n"),
        }
    }
}

/// Answers 200, writes `first\n`, then writes what an outgoing request to `to` got.
fn gated(out: ResponseOutparam, to: &str) {
    let response = OutgoingResponse::new(Fields::new());
    let outgoing = response.body().expect("the body, once");
    ResponseOutparam::set(out, Ok(response));
    let stream = outgoing.write().expect("the stream, once");
    stream.blocking_write_and_flush(b"first\n").expect("writing the body");
    let reply = self::outgoing(&Scheme::Http, to);
    stream.blocking_write_and_flush(reply.as_bytes()).expect("writing the body");
    drop(stream);
    OutgoingBody::finish(outgoing, None).expect("finishing the body");
}

fn echo(request: IncomingRequest, path: &str) -> String {
    let method = match request.method() {
        Method::Get => "GET".to_string(),
        Method::Post => "POST".to_string(),
        Method::Put => "PUT".to_string(),
        Method::Other(m) => m,
        other => format!("{other:?}"),
    };
    let scheme = match request.scheme() {
        Some(Scheme::Http) => "http".to_string(),
        Some(Scheme::Https) => "https".to_string(),
        Some(Scheme::Other(s)) => s,
        None => "none".to_string(),
    };
    let authority = request.authority().unwrap_or_else(|| "none".to_string());
    let headers = request.headers();
    let test: Vec<String> =
        headers.get("x-test").iter().map(|v| String::from_utf8_lossy(v).into_owned()).collect();
    drop(headers);
    let body = read_body(&request);
    format!(
        "method: {method}\npath: {path}\nscheme: {scheme}\nauthority: {authority}\n\
         x-test: {}\nbody: {}\n",
        test.join(","),
        String::from_utf8_lossy(&body)
    )
}

fn read_body(request: &IncomingRequest) -> Vec<u8> {
    let body = request.consume().expect("the body, once");
    let again = request.consume().is_err();
    let mut bytes = Vec::new();
    {
        let stream = body.stream().expect("the stream, once");
        loop {
            match stream.blocking_read(65536) {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(_) => break,
            }
        }
    }
    let trailers = IncomingBody::finish(body);
    trailers.subscribe().block();
    let trailers = match trailers.get() {
        Some(Ok(Ok(None))) => "none",
        Some(Ok(Ok(Some(_)))) => "some",
        _ => "error",
    };
    if !again || trailers != "none" {
        bytes.extend_from_slice(b" (consume twice or trailers wrong)");
    }
    bytes
}

/// Sends `POST /from-guest` with the field `x-from: guest` and the body `ping` to the
/// authority `to` (the body written after `handle`, as a streaming guest would); describes
/// the response or the error code.
fn outgoing(scheme: &Scheme, to: &str) -> String {
    let headers = Fields::new();
    headers.append("x-from", b"guest").expect("a valid header");
    let request = OutgoingRequest::new(headers);
    request.set_method(&Method::Post).expect("a method");
    request.set_scheme(Some(scheme)).expect("a scheme");
    request.set_authority(Some(to)).expect("an authority");
    request.set_path_with_query(Some("/from-guest")).expect("a path");
    let body = request.body().expect("the body, once");
    let future = match outgoing_handler::handle(request, None) {
        Err(code) => return format!("outgoing: {code:?}\n"),
        Ok(future) => future,
    };
    let stream = body.write().expect("the stream, once");
    stream.blocking_write_and_flush(b"ping").expect("writing the body");
    drop(stream);
    OutgoingBody::finish(body, None).expect("finishing the body");
    future.subscribe().block();
    match future.get() {
        Some(Ok(Ok(response))) => {
            let reply = response.headers().get("x-reply");
            let reply: Vec<String> =
                reply.iter().map(|v| String::from_utf8_lossy(v).into_owned()).collect();
            let status = response.status();
            let body = response.consume().expect("the body, once");
            let mut bytes = Vec::new();
            let stream = body.stream().expect("the stream, once");
            while let Ok(chunk) = stream.blocking_read(65536) {
                bytes.extend_from_slice(&chunk);
            }
            format!(
                "outgoing: status {status}, x-reply: {}, body: {}\n",
                reply.join(","),
                String::from_utf8_lossy(&bytes)
            )
        }
        Some(Ok(Err(code))) => format!("outgoing: {code:?}\n"),
        other => format!("outgoing: {other:?}\n"),
    }
}

fn fields(request: &IncomingRequest) -> String {
    let name = |r: Result<(), HeaderError>| match r {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("{e:?}"),
    };
    let incoming = request.headers();
    let immutable = name(incoming.set("x-new", &[b"1".to_vec()]));
    let copy = incoming.clone();
    let cloned = name(copy.append("x-new", b"1"));
    let fresh = Fields::new();
    let invalid_name = name(fresh.append("bad name", b"1"));
    let invalid_value = name(fresh.append("x-a", b"line\nbreak"));
    let forbidden = name(fresh.append("Connection", b"close"));
    fresh.append("X-Multi", b"a").expect("valid");
    fresh.append("x-multi", b"b").expect("valid");
    let multi: Vec<String> =
        fresh.get("X-MULTI").iter().map(|v| String::from_utf8_lossy(v).into_owned()).collect();
    let deleted = name(fresh.delete("x-multi"));
    let has_after = fresh.has("x-multi");
    let from_list = match Fields::from_list(&[("ok".to_string(), b"1".to_vec())]) {
        Ok(f) => format!("ok {}", f.entries().len()),
        Err(e) => format!("{e:?}"),
    };
    let from_bad = match Fields::from_list(&[("bad:name".to_string(), b"1".to_vec())]) {
        Ok(_) => "ok".to_string(),
        Err(e) => format!("{e:?}"),
    };
    format!(
        "immutable: {immutable}\ncloned: {cloned}\ninvalid name: {invalid_name}\n\
         invalid value: {invalid_value}\nforbidden: {forbidden}\nmulti: {}\n\
         delete: {deleted} {has_after}\nfrom-list: {from_list}\nfrom-list bad: {from_bad}\n",
        multi.join(",")
    )
}
