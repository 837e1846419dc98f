//! `ward serve` with a `wasi:http/proxy` component (the Rust handler of `tests/wasi-http`,
//! built `.wasm` checked in): each request through `wasi:http/incoming-handler` in a fresh
//! instance; the echoed method, path, header and body; a trap answered with 500 and a spinning
//! handler with 504, the server answering after each; outgoing requests denied; `https`
//! requests to a local TLS upstream, refused until `--http-ca` trusts its authority; a
//! component that is not an HTTP handler refused at startup.

mod serve_support;

use serve_support::{request, request_with, spawn, tls_upstream, Server};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn handler(extra: &[&str]) -> Server {
    spawn(&root().join("tests/wasi-http/handler.wasm"), extra)
}

fn text(body: &[u8]) -> &str {
    std::str::from_utf8(body).expect("a UTF-8 body")
}

#[test]
fn requests_reach_the_incoming_handler() {
    let server = handler(&[]);
    for i in 0..10 {
        let body = format!("hello number {i}");
        let (status, head, reply) = request_with(
            server.1,
            "POST",
            "/echo?x=1",
            &[("X-Test", "from the test")],
            body.as_bytes(),
        );
        assert_eq!(status, 201, "{head}");
        let head = head.to_ascii_lowercase();
        assert!(head.contains("\r\nx-ward: echo\r\n"), "{head}");
        assert!(head.contains("\r\ncontent-type: text/plain\r\n"), "{head}");
        assert_eq!(
            text(&reply),
            format!(
                "method: POST\npath: /echo?x=1\nscheme: http\nauthority: localhost\n\
                 x-test: from the test\nbody: {body}\n"
            )
        );
    }
    let (status, _, reply) = request(server.1, "GET", "/missing", b"");
    assert_eq!(status, 404);
    assert!(text(&reply).starts_with("method: GET\npath: /missing\n"), "{}", text(&reply));
}

#[test]
fn fields_keep_their_rules_in_the_guest() {
    let server = handler(&[]);
    let (status, _, reply) = request(server.1, "GET", "/fields", b"");
    assert_eq!(status, 200);
    let reply = text(&reply);
    assert!(reply.contains("immutable: HeaderError::Immutable\n"), "{reply}");
    assert!(reply.contains("forbidden: HeaderError::Forbidden\n"), "{reply}");
    assert!(reply.contains("invalid name: HeaderError::InvalidSyntax\n"), "{reply}");
}

#[test]
fn failures_are_500_or_504_and_the_server_keeps_serving() {
    for tier in ["interp", "native"] {
        let server = handler(&["--timeout", "300ms", "--tier", tier]);
        let (status, _, reply) = request(server.1, "GET", "/trap", b"");
        assert_eq!((status, text(&reply)), (500, "the handler failed\n"), "{tier}");
        assert_eq!(request(server.1, "GET", "/no-response", b"").0, 500, "{tier}");
        let started = std::time::Instant::now();
        assert_eq!(request(server.1, "GET", "/spin", b"").0, 504, "{tier}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{tier}");
        let (status, _, reply) = request(server.1, "PUT", "/after", b"still here");
        assert_eq!(status, 201, "{tier}");
        assert!(text(&reply).ends_with("body: still here\n"), "{tier}: {}", text(&reply));
    }
}

#[test]
fn limits_on_bodies_hold() {
    let server = handler(&["--max-body", "1KiB", "--max-output", "64KiB"]);
    assert_eq!(request(server.1, "POST", "/echo", &[b'x'; 4096]).0, 413);
    // The echo of a body under --max-body but a reply over --max-output: the handler's first
    // write is refused, so no byte of the body was sent: 500.
    let server = handler(&["--max-output", "2KiB"]);
    assert_eq!(request(server.1, "POST", "/echo", &[b'x'; 4096]).0, 500);
    assert_eq!(request(server.1, "POST", "/echo", b"small").0, 201);
}

#[test]
fn outgoing_requests_are_denied_unless_allowed() {
    let denied = (200, "outgoing: ErrorCode::HttpRequestDenied\n");
    let server = handler(&[]);
    let (status, _, reply) = request(server.1, "GET", "/outgoing", b"");
    assert_eq!((status, text(&reply)), denied);
    // An upstream `ward serve` (the same handler) is reached only once it is allowed.
    let upstream = handler(&[]);
    let to = format!("/outgoing?to=127.0.0.1:{}", upstream.1);
    let (status, _, reply) = request(server.1, "GET", &to, b"");
    assert_eq!((status, text(&reply)), denied);
    let allowed = format!("127.0.0.1:{}", upstream.1);
    let server = handler(&["--allow-http", &allowed]);
    let (status, _, reply) = request(server.1, "GET", &to, b"");
    assert_eq!(status, 200);
    assert_eq!(
        text(&reply),
        format!(
            "outgoing: status 201, x-reply: , body: method: POST\npath: /from-guest\n\
             scheme: http\nauthority: {allowed}\nx-test: \nbody: ping\n\n"
        )
    );
}

#[test]
fn a_component_that_is_not_an_http_handler_is_refused() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ward"))
        .arg("serve")
        .arg(Path::new(&root()).join("tests/wasi-p2/echo.wasm"))
        .args(["--addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not an HTTP handler"), "{stderr}");
    assert!(stderr.contains("wasi:http/incoming-handler"), "{stderr}");
    assert!(stderr.contains("wasi:cli/run"), "{stderr}");
}

#[test]
fn outgoing_https_reaches_an_upstream_only_a_trusted_root_vouches_for() {
    let port = tls_upstream(&root());
    let allowed = format!("127.0.0.1:{port}");
    let to = format!("/outgoing-https?to={allowed}");
    // Not allowed: denied before any connection.
    let server = handler(&[]);
    let (_, _, reply) = request(server.1, "GET", &to, b"");
    assert_eq!(text(&reply), "outgoing: ErrorCode::HttpRequestDenied\n");
    // Allowed, but its certificate's authority is not trusted: refused in the handshake.
    let server = handler(&["--allow-http", &allowed]);
    let (status, _, reply) = request(server.1, "GET", &to, b"");
    assert_eq!((status, text(&reply)), (200, "outgoing: ErrorCode::TlsCertificateError\n"));
    // Trusted with --http-ca.
    let ca = root().join("crates/ward-wasi-p2/tests/data/tls/ca.pem");
    let server = handler(&["--allow-http", &allowed, "--http-ca", ca.to_str().unwrap()]);
    let (status, _, reply) = request(server.1, "GET", &to, b"");
    assert_eq!(status, 200);
    assert_eq!(text(&reply), "outgoing: status 200, x-reply: tls, body: hello over tls\n");
}

#[test]
fn an_http_ca_file_that_holds_no_certificate_is_refused_at_startup() {
    let wasm = root().join("tests/wasi-http/handler.wasm");
    for (file, why) in [
        (root().join("no-such-ca.pem"), "cannot read --http-ca"),
        (wasm.clone(), "holds no PEM certificate"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ward"))
            .arg("serve")
            .arg(&wasm)
            .args(["--addr", "127.0.0.1:0", "--http-ca"])
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(why), "{stderr}");
        assert!(stderr.contains(&file.display().to_string()), "{stderr}");
    }
}
