//! `wasi:http` through the library: the Rust `wasi:http/proxy` component of
//! `tests/wasi-http` (built `.wasm` checked in) is linked with `add_proxy_to_linker` and
//! called with `HttpProxy::handle`, one fresh store and instance per request.

use ward_component::{Component, Linker};
use ward_wasi_p2::{
    HandleError, HttpProxy, HttpRequest, HttpResponse, WasiP2Ctx, WasiP2CtxBuilder,
};

const HANDLER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/wasi-http/handler.wasm");

struct Host {
    engine: ward::Engine,
    linker: Linker<WasiP2Ctx>,
    proxy: HttpProxy<WasiP2Ctx>,
    component: Component,
}

fn host() -> Host {
    let engine = ward::Engine::default();
    let mut linker = Linker::<WasiP2Ctx>::new(&engine);
    let proxy = ward_wasi_p2::add_proxy_to_linker(&mut linker, |ctx: &mut WasiP2Ctx| ctx).unwrap();
    let component = Component::from_file(&engine, HANDLER).unwrap();
    Host { engine, linker, proxy, component }
}

impl Host {
    fn send(
        &self,
        ctx: &mut WasiP2CtxBuilder,
        req: HttpRequest,
    ) -> Result<HttpResponse, HandleError> {
        let mut store = ward::Store::new(&self.engine, ctx.build());
        let instance = self.linker.instantiate(&mut store, &self.component).unwrap();
        self.proxy.handle(&mut store, &instance, req)
    }
}

fn get(path: &str) -> HttpRequest {
    HttpRequest {
        method: "GET".into(),
        path_with_query: Some(path.into()),
        scheme: Some("http".into()),
        authority: Some("localhost:8080".into()),
        headers: vec![],
        body: vec![],
    }
}

fn text(r: &HttpResponse) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

fn header<'a>(r: &'a HttpResponse, name: &str) -> Vec<&'a [u8]> {
    r.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_slice()).collect()
}

#[test]
fn echoes_the_request() {
    let h = host();
    let req = HttpRequest {
        method: "POST".into(),
        path_with_query: Some("/echo?x=1".into()),
        headers: vec![
            ("X-Test".into(), b"hello".to_vec()),
            ("x-test".into(), b"again".to_vec()),
            ("bad name".into(), b"dropped".to_vec()),
        ],
        body: b"the body".to_vec(),
        ..get("/")
    };
    let r = h.send(&mut WasiP2CtxBuilder::new(), req).unwrap();
    assert_eq!(r.status, 201);
    assert_eq!(header(&r, "x-ward"), vec![&b"echo"[..]]);
    assert_eq!(header(&r, "content-type"), vec![&b"text/plain"[..]]);
    assert_eq!(
        text(&r),
        "method: POST\npath: /echo?x=1\nscheme: http\nauthority: localhost:8080\n\
         x-test: hello,again\nbody: the body\n"
    );
    let r = h.send(&mut WasiP2CtxBuilder::new(), get("/missing")).unwrap();
    assert_eq!(r.status, 404);
    let other = HttpRequest { method: "PURGE".into(), ..get("/x") };
    let r = h.send(&mut WasiP2CtxBuilder::new(), other).unwrap();
    assert!(text(&r).starts_with("method: PURGE\n"), "{}", text(&r));
}

#[test]
fn fields_keep_the_header_rules() {
    let r = host().send(&mut WasiP2CtxBuilder::new(), get("/fields")).unwrap();
    assert_eq!(
        text(&r),
        "immutable: HeaderError::Immutable\ncloned: ok\n\
         invalid name: HeaderError::InvalidSyntax\ninvalid value: HeaderError::InvalidSyntax\n\
         forbidden: HeaderError::Forbidden\nmulti: a,b\ndelete: ok false\nfrom-list: ok 1\n\
         from-list bad: HeaderError::InvalidSyntax\n"
    );
}

#[test]
fn a_trap_or_no_response_is_an_error() {
    let h = host();
    match h.send(&mut WasiP2CtxBuilder::new(), get("/trap")) {
        Err(HandleError::Call(ward_component::Error::Wasm(ward::Error::Trap(_)))) => {}
        other => panic!("expected a trap, got {other:?}"),
    }
    assert!(matches!(
        h.send(&mut WasiP2CtxBuilder::new(), get("/no-response")),
        Err(HandleError::NoResponse)
    ));
}

/// A one-shot HTTP/1.1 server on 127.0.0.1: answers `x-reply: pong` and the body `pong`, and
/// hands back the request it read (head and body).
fn upstream() -> (u16, std::thread::JoinHandle<String>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        // The guest's body is `ping`: read until the head and those 4 bytes are in.
        while !got.windows(8).any(|w| w == b"\r\n\r\nping") {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "the request ended early: {:?}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
        s.write_all(b"HTTP/1.1 200 OK\r\nx-reply: pong\r\ncontent-length: 4\r\n\r\npong").unwrap();
        String::from_utf8_lossy(&got).into_owned()
    });
    (port, server)
}

#[test]
fn outgoing_requests_are_denied_unless_allowed() {
    let h = host();
    let r = h.send(&mut WasiP2CtxBuilder::new(), get("/outgoing")).unwrap();
    assert_eq!(text(&r), "outgoing: ErrorCode::HttpRequestDenied\n");
    let r = h.send(WasiP2CtxBuilder::new().allow_http_host("other.example"), get("/outgoing"));
    assert_eq!(text(&r.unwrap()), "outgoing: ErrorCode::HttpRequestDenied\n");
    // Another port of an allowed host:port is denied too.
    let to = get("/outgoing?to=127.0.0.1:1");
    let r = h.send(WasiP2CtxBuilder::new().allow_http_host("127.0.0.1:2"), to);
    assert_eq!(text(&r.unwrap()), "outgoing: ErrorCode::HttpRequestDenied\n");
}

#[test]
fn allowed_outgoing_requests_are_sent() {
    let h = host();
    let (port, server) = upstream();
    let to = get(&format!("/outgoing?to=127.0.0.1:{port}"));
    let r = h.send(WasiP2CtxBuilder::new().allow_http_host(format!("127.0.0.1:{port}")), to);
    assert_eq!(text(&r.unwrap()), "outgoing: status 200, x-reply: pong, body: pong\n");
    let got = server.join().unwrap().to_ascii_lowercase();
    assert!(got.starts_with("post /from-guest http/1.1\r\n"), "{got}");
    assert!(got.contains(&format!("\r\nhost: 127.0.0.1:{port}\r\n")), "{got}");
    assert!(got.contains("\r\nx-from: guest\r\n"), "{got}");
    assert!(got.ends_with("\r\n\r\nping"), "{got}");
    // Nobody listens on port 1: the guest learns the connection was refused.
    let to = get("/outgoing?to=127.0.0.1:1");
    let r = h.send(WasiP2CtxBuilder::new().allow_http_host("127.0.0.1"), to);
    assert_eq!(text(&r.unwrap()), "outgoing: ErrorCode::ConnectionRefused\n");
}

#[test]
fn the_response_is_bounded() {
    let h = host();
    let req = HttpRequest { body: vec![b'a'; 100_000], ..get("/echo") };
    let small = h.send(WasiP2CtxBuilder::new().http_max_bytes(50_000), req.clone());
    assert!(matches!(small, Err(HandleError::TooLarge(50_000))), "{small:?}");
    let big = h.send(WasiP2CtxBuilder::new().http_max_bytes(1 << 20), req).unwrap();
    assert_eq!(big.body.len(), 100_000 + "method: GET\npath: /echo\nscheme: http\nauthority: localhost:8080\nx-test: \nbody: \n".len());
}
