//! `ward serve` streams a `wasi:http` handler's response: the head and the first bytes reach
//! the client while the handler is still running; a long body arrives whole through the
//! bounded queue; a short finished body goes whole, with its length; a body past
//! `--max-output` and a handler that traps mid-body abort the response instead of
//! completing it. And the request's body: the handler reads it while the client sends it;
//! one past `--max-body` ends early for the handler (413 if announced).

mod serve_support;

use serve_support::{
    connect, dechunk, is_chunked, raw_get, request, spawn, split_response, Server,
};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

fn handler(extra: &[&str]) -> Server {
    spawn(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/wasi-http/handler.wasm"), extra)
}

/// Byte `i` of the test handler's `/stream` body.
fn expected(i: usize) -> u8 {
    b'a' + (i % 65536 % 26) as u8
}

#[test]
fn a_long_body_arrives_whole_through_the_bounded_queue() {
    let server = handler(&["--max-output", "16MiB"]);
    let n = 5_000_000;
    let (status, head, body) = request(server.1, "GET", &format!("/stream?bytes={n}"), b"");
    assert_eq!(status, 200, "{head}");
    assert!(is_chunked(&head), "a streamed body has no length in advance: {head}");
    assert_eq!(body.len(), n);
    assert!(body.iter().enumerate().all(|(i, b)| *b == expected(i)), "the bytes changed");
}

#[test]
fn a_short_finished_body_goes_whole_with_its_length() {
    let server = handler(&[]);
    let (status, head, body) = request(server.1, "GET", "/stream?bytes=1000", b"");
    assert_eq!(status, 200, "{head}");
    assert!(!is_chunked(&head), "{head}");
    assert!(head.to_ascii_lowercase().contains("\r\ncontent-length: 1000"), "{head}");
    assert!(body.iter().enumerate().all(|(i, b)| *b == expected(i)));
}

/// Both bodies pass the 1 MiB the server queues before the handler waits, so the response
/// has begun streaming when the handler fails.
#[test]
fn a_body_past_the_limit_or_a_trap_mid_body_aborts_the_response() {
    let server = handler(&["--max-output", "4MiB"]);
    for path in ["/stream?bytes=6000000", "/stream-trap?bytes=3000000"] {
        let (head, body) = raw_get(server.1, path);
        // The head went out before the failure; the body ends without its last chunk.
        assert!(head.starts_with("HTTP/1.1 200"), "{path}: {head}");
        assert!(is_chunked(&head), "{path}: {head}");
        assert_eq!(dechunk(&body), None, "{path}: the body ended as if complete");
        assert!(body.len() < 4_300_000, "{path}: more than the limit was sent");
    }
    // The server goes on serving.
    let (status, _, body) = request(server.1, "GET", "/stream?bytes=1000", b"");
    assert_eq!((status, body.len()), (200, 1000));
}

/// Starts a gate: an upstream that answers the handler's outgoing request with `released`
/// once the test sends on the returned channel (or with `timed out` after 10 s).
fn gate() -> (u16, mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let gate = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = gate.local_addr().unwrap().port();
    let (release, released) = mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let (mut conn, _) = gate.accept().unwrap();
        let mut request = [0u8; 4096];
        let _ = conn.read(&mut request).unwrap();
        let reply = match released.recv_timeout(Duration::from_secs(10)) {
            Ok(()) => "released",
            Err(_) => "timed out",
        };
        write!(
            conn,
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
            reply.len()
        )
        .unwrap();
    });
    (port, release, thread)
}

/// GETs `path?to=GATE` from a handler allowed to reach a fresh gate, reads until the response
/// holds `until`, releases the gate, and returns the whole response's head and body (decoded).
fn gated_get(path: &str, until: &[u8]) -> (String, Vec<u8>) {
    let (gate_port, release, gate_thread) = gate();
    let allowed = format!("127.0.0.1:{gate_port}");
    let server = handler(&["--allow-http", &allowed, "--timeout", "60s"]);
    let mut s = connect(server.1, 30);
    write!(s, "GET {path}?to={allowed} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    while !raw.windows(until.len()).any(|w| w == until) {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "the response ended early: {}", String::from_utf8_lossy(&raw));
        raw.extend_from_slice(&buf[..n]);
    }
    release.send(()).expect("the gate gave up waiting: the response was not streamed");
    s.read_to_end(&mut raw).unwrap();
    gate_thread.join().unwrap();
    let (head, body) = split_response(&raw);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    (head, dechunk(&body).expect("a complete body"))
}

/// The handler writes `first`, then makes an outgoing request to a gate this test holds
/// until the client has read `first`: only a streamed response gets past the gate (a
/// buffered one would wait for the handler, which waits for the gate, which gives up after
/// 10 s and answers `timed out`).
#[test]
fn the_head_and_first_bytes_arrive_while_the_handler_runs() {
    let (_, body) = gated_get("/stream-gated", b"first\n");
    assert_eq!(
        String::from_utf8_lossy(&body),
        "first\noutgoing: status 200, x-reply: , body: released\n"
    );
}

/// The handler sets its response, then waits on the gate before writing anything: the head
/// goes out while it waits (as a server-sent-events handler needs).
#[test]
fn the_head_arrives_while_the_handler_waits_before_writing() {
    let (_, body) = gated_get("/gated-late", b"\r\n\r\n");
    assert_eq!(String::from_utf8_lossy(&body), "outgoing: status 200, x-reply: , body: released\n");
}

/// The client sends the head and the body's first line, then waits for the answer before
/// sending the rest: only a handler that reads the body as it arrives can answer.
#[test]
fn the_handler_reads_the_request_body_while_the_client_sends_it() {
    let server = handler(&[]);
    let mut s = connect(server.1, 20);
    write!(
        s,
        "POST /first-line HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Transfer-Encoding: chunked\r\n\r\n6\r\nhello\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf).expect("the answer before the rest of the body");
        assert!(n > 0, "the connection closed: {}", String::from_utf8_lossy(&raw));
        raw.extend_from_slice(&buf[..n]);
        if raw.windows(6).any(|w| w == b"hello\n") {
            break;
        }
    }
    // The rest of the body, which the handler never reads.
    let _ = write!(s, "5\r\nworld\r\n0\r\n\r\n");
    let (head, _) = split_response(&raw);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(String::from_utf8_lossy(&raw).contains("first line: hello\n"));
}

#[test]
fn a_request_body_past_the_limit_ends_early_for_the_handler() {
    let server = handler(&["--max-body", "64KiB"]);
    // Announced: refused before the handler runs.
    let (status, _, _) = request(server.1, "POST", "/count", &[b'x'; 100_000]);
    assert_eq!(status, 413);
    // Sent without a length: the handler reads up to the limit, then its read fails.
    let mut s = connect(server.1, 20);
    write!(
        s,
        "POST /count HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Transfer-Encoding: chunked\r\n\r\n"
    )
    .unwrap();
    let chunk = [b'y'; 10_000];
    for _ in 0..10 {
        if write!(s, "{:x}\r\n", chunk.len()).is_err() || s.write_all(&chunk).is_err() {
            break;
        }
        let _ = s.write_all(b"\r\n");
    }
    let _ = s.write_all(b"0\r\n\r\n");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let (head, body) = split_response(&raw);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let body = if is_chunked(&head) { dechunk(&body).unwrap() } else { body };
    let text = String::from_utf8_lossy(&body);
    let n: usize = text
        .strip_prefix("read failed after ")
        .and_then(|t| t.strip_suffix(" bytes\n"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert!(n <= 64 << 10, "{n} bytes passed the limit");
    // A body within the limit reads whole.
    let (status, _, body) = request(server.1, "POST", "/count", &[b'z'; 50_000]);
    assert_eq!((status, String::from_utf8_lossy(&body).as_ref()), (200, "read 50000 bytes\n"));
}

/// Trailer fields the handler finishes its body with reach a client that accepts them.
#[test]
fn trailers_reach_a_client_that_accepts_them() {
    let server = handler(&[]);
    let (status, head, body) =
        serve_support::request_with(server.1, "GET", "/trailers", &[("TE", "trailers")], b"");
    assert_eq!(status, 200, "{head}");
    assert!(is_chunked(&head), "{head}");
    assert_eq!(body, b"body");
    let (head, raw) = serve_support::raw_get_with(server.1, "/trailers", &[("TE", "trailers")]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let raw = String::from_utf8_lossy(&raw).to_ascii_lowercase();
    assert!(raw.ends_with("0\r\nx-checksum: abc\r\n\r\n"), "{raw:?}");
}

/// A chunked request body's trailer fields reach the handler through `incoming-body.finish`.
#[test]
fn request_trailers_reach_the_handler() {
    let server = handler(&[]);
    let mut s = connect(server.1, 20);
    write!(
        s,
        "POST /request-trailers HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Transfer-Encoding: chunked\r\nTrailer: x-sum\r\n\r\n4\r\nbody\r\n0\r\nx-sum: 42\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let (head, body) = split_response(&raw);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let body = if is_chunked(&head) { dechunk(&body).unwrap() } else { body };
    assert_eq!(String::from_utf8_lossy(&body), "x-sum: 42\n");
    // Without trailers: none, and a whole body: none either.
    let (status, _, body) = request(server.1, "POST", "/request-trailers", b"plain");
    assert_eq!((status, String::from_utf8_lossy(&body).as_ref()), (200, "no trailers\n"));
}
