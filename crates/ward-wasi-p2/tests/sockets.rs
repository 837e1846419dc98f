//! `wasi:sockets` through a real `wasm32-wasip2` program (`tests/wasi-sockets`, built `.wasm`
//! checked in) using `std::net` and the raw bindings, against host sockets made here: what a
//! grant lets through, what is refused (and that the refused host socket sees nothing), the
//! socket limit against a guest opening 100,000 sockets, a guest blocked in `accept` ended by
//! interruption, and the WIT's errors for calls out of order.
//!
//! Every socket binds `127.0.0.1:0` (a free port), so tests run in parallel.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use ward_component::{Component, Linker};
use ward_wasi_p2::{OutputPipe, SocketAddrPattern, WasiP2Ctx, WasiP2CtxBuilder};

fn guest_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/wasi-sockets/sockets.wasm")
}

/// The engine and the compiled guest, shared by the tests.
fn compiled() -> &'static (ward::Engine, Component) {
    static C: OnceLock<(ward::Engine, Component)> = OnceLock::new();
    C.get_or_init(|| {
        let engine = ward::Engine::default();
        let bytes = std::fs::read(guest_path()).expect("tests/wasi-sockets/sockets.wasm");
        let component = Component::from_binary(&engine, &bytes).expect("the guest compiles");
        (engine, component)
    })
}

fn pattern(s: &str) -> SocketAddrPattern {
    s.parse().unwrap_or_else(|e| panic!("{e}"))
}

/// A guest ready to run: its store and what it prints.
struct Guest {
    store: ward::Store<WasiP2Ctx>,
    out: OutputPipe,
}

impl Guest {
    /// The guest with `args` (scenario first) and the grants `grant` makes.
    fn new(args: &[&str], grant: impl FnOnce(&mut WasiP2CtxBuilder)) -> Guest {
        let out = OutputPipe::new();
        let mut b = WasiP2CtxBuilder::new();
        b.arg("sockets").args(args).stdout(out.clone()).stderr(out.clone());
        grant(&mut b);
        let store = ward::Store::new(&compiled().0, b.build());
        Guest { store, out }
    }

    /// Runs it to the end: the exit status (or the error) and the output.
    fn run(mut self) -> (Result<i32, ward_component::Error>, String, ward::Store<WasiP2Ctx>) {
        let (engine, component) = compiled();
        let mut linker = Linker::<WasiP2Ctx>::new(engine);
        ward_wasi_p2::add_to_linker(&mut linker, |c: &mut WasiP2Ctx| c).unwrap();
        let code = linker
            .instantiate(&mut self.store, component)
            .and_then(|i| ward_wasi_p2::run_command(&mut self.store, &i));
        let text = String::from_utf8_lossy(&self.out.contents()).into_owned();
        (code, text, self.store)
    }
}

/// Runs the guest and returns its status and output.
fn run(args: &[&str], grant: impl FnOnce(&mut WasiP2CtxBuilder)) -> (i32, String) {
    let (code, out, _) = Guest::new(args, grant).run();
    match code {
        Ok(code) => (code, out),
        Err(e) => panic!("the guest failed: {e}\n{out}"),
    }
}

/// Waits until `pipe` holds a line starting with `prefix`; the rest of that line.
fn wait_for_line(pipe: &OutputPipe, prefix: &str) -> String {
    let start = Instant::now();
    loop {
        let text = String::from_utf8_lossy(&pipe.contents()).into_owned();
        if let Some(line) = text.lines().find(|l| l.starts_with(prefix)) {
            return line[prefix.len()..].to_string();
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no `{prefix}` line in {text:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A host listener on a free port that is never accepted from (non-blocking, so the test can
/// ask whether anybody connected).
fn bystander() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

fn nobody_connected(l: &TcpListener) {
    std::thread::sleep(Duration::from_millis(100));
    match l.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        Ok((_, peer)) => panic!("the host listener saw a connection from {peer}"),
        Err(e) => panic!("accept: {e}"),
    }
}

/// An echo server on a free port, answering one client with `echo:` and what it sent.
fn echo_server() -> (SocketAddr, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let (mut c, _) = l.accept().unwrap();
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap();
        c.write_all(b"echo:").unwrap();
        c.write_all(&got).unwrap();
    });
    (addr, t)
}

#[test]
fn tcp_client_reaches_a_granted_server() {
    let (addr, server) = echo_server();
    let a = addr.to_string();
    let (code, out) = run(&["tcp-client", &a, "hello over wasi:sockets"], |b| {
        b.allow_tcp_connect(SocketAddrPattern::exact(addr));
    });
    assert_eq!((code, out.as_str()), (0, "reply: echo:hello over wasi:sockets\n"));
    server.join().unwrap();
}

/// The attack: a guest granted one port connects to another. It gets `access-denied` (std
/// reports `PermissionDenied`) and the host socket on the other port never sees a connection.
#[test]
fn connecting_where_not_granted_is_denied_and_reaches_nobody() {
    let (victim, victim_addr) = bystander();
    let (_granted, granted_addr) = bystander();
    let v = victim_addr.to_string();
    for grant in [Some(granted_addr), None] {
        let (code, out) = run(&["tcp-client", &v, "let me in"], |b| {
            if let Some(g) = grant {
                b.allow_tcp_connect(SocketAddrPattern::exact(g));
            }
            // Binding and UDP grants do not grant connecting.
            b.allow_tcp_listen(pattern("127.0.0.1:*")).allow_udp_send(pattern("127.0.0.1:*"));
        });
        assert_eq!(code, 1, "{out}");
        assert_eq!(out, "connect: error: PermissionDenied: Permission denied (os error 2)\n");
        nobody_connected(&victim);
    }
    // The same port on another address of the loopback network is not granted either.
    let (code, out) = run(&["tcp-client", &v, "x"], |b| {
        b.allow_tcp_connect(pattern(&format!("127.0.0.2:{}", victim_addr.port())));
    });
    assert_eq!(code, 1, "{out}");
    nobody_connected(&victim);
    // A name is not a way around it: the lookup itself is denied by default.
    let (code, out) =
        run(&["tcp-client", &format!("localhost:{}", victim_addr.port()), "x"], |b| {
            b.allow_tcp_connect(SocketAddrPattern::exact(granted_addr));
        });
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("connect: error: PermissionDenied"), "{out}");
    nobody_connected(&victim);
}

#[test]
fn tcp_server_accepts_a_host_client() {
    let guest = Guest::new(&["tcp-server", "127.0.0.1:0"], |b| {
        b.allow_tcp_listen(pattern("127.0.0.1:*"));
    });
    let out = guest.out.clone();
    let running = std::thread::spawn(move || guest.run());
    let addr: SocketAddr = wait_for_line(&out, "listening on ").parse().unwrap();
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"from the host").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut reply = String::new();
    c.read_to_string(&mut reply).unwrap();
    assert_eq!(reply, "hello, from the host");
    let (code, text, store) = running.join().unwrap();
    assert_eq!(code.unwrap(), 0, "{text}");
    assert!(text.contains(&format!("served {}", c.local_addr().unwrap())), "{text}");
    assert_eq!(store.data().live_sockets(), 0, "every socket was dropped");
}

#[test]
fn listening_needs_a_grant() {
    let (code, out) = run(&["tcp-server", "127.0.0.1:0"], |_| {});
    assert_eq!(
        (code, out.as_str()),
        (1, "bind: error: PermissionDenied: Permission denied (os error 2)\n")
    );
    // A grant for another address does not cover this one.
    let (code, out) = run(&["tcp-server", "127.0.0.1:0"], |b| {
        b.allow_tcp_listen(pattern("127.0.0.1:8000-8100")).allow_tcp_connect(pattern("*:*"));
    });
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("bind: error: PermissionDenied"), "{out}");
}

#[test]
fn udp_round_trip_and_a_denied_send() {
    let host = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = host.local_addr().unwrap();
    let responder = std::thread::spawn(move || {
        let mut buf = [0u8; 100];
        let (n, from) = host.recv_from(&mut buf).unwrap();
        host.send_to(&[b"pong:", &buf[..n]].concat(), from).unwrap();
        host
    });
    let a = addr.to_string();
    let (code, out) = run(&["udp", &a], |b| {
        b.allow_udp_bind(pattern("127.0.0.1:*")).allow_udp_send(SocketAddrPattern::exact(addr));
    });
    assert_eq!((code, out), (0, format!("udp reply: pong:ping from {addr}\n")));
    let host = responder.join().unwrap();

    // Bound but not allowed to send there: nothing arrives.
    let (code, out) = run(&["udp", &a], |b| {
        b.allow_udp_bind(pattern("127.0.0.1:*")).allow_tcp_connect(SocketAddrPattern::exact(addr));
    });
    assert_eq!(
        (code, out.as_str()),
        (1, "send_to: error: PermissionDenied: Permission denied (os error 2)\n")
    );
    host.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut buf = [0u8; 100];
    let got = host.recv_from(&mut buf);
    assert!(got.is_err(), "a datagram arrived: {got:?}");
}

#[test]
fn name_lookup_is_denied_unless_granted() {
    let (code, out) = run(&["lookup", "localhost"], |b| {
        b.allow_tcp_connect(pattern("*:*"));
    });
    assert_eq!(
        (code, out.as_str()),
        (1, "lookup: error: PermissionDenied: Permission denied (os error 2)\n")
    );
    let (code, out) = run(&["lookup", "localhost"], |b| {
        b.allow_ip_name_lookup(true);
    });
    assert_eq!(code, 0, "{out}");
    assert!(out.lines().all(|l| l == "address: 127.0.0.1" || l == "address: ::1"), "{out}");
    assert!(out.contains("address: 127.0.0.1\n"), "{out}");
    let (code, out) = run(&["lookup", "localhost"], |b| {
        b.inherit_network();
    });
    assert_eq!(code, 0, "{out}");
}

/// The attack: a guest opens 100,000 sockets and keeps them. It gets the first 1024 (the
/// default limit), then `new-socket-limit` every time; the host's descriptors stay bounded,
/// and the places come back when the guest drops its sockets.
#[test]
fn a_guest_opening_100000_sockets_hits_the_limit() {
    let fds = || std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0);
    let before = fds();
    let guest = Guest::new(&["many-sockets", "100000"], |_| {});
    let running = std::thread::spawn(move || guest.run());
    let mut most = before;
    while !running.is_finished() {
        most = most.max(fds());
        std::thread::sleep(Duration::from_millis(2));
    }
    let (code, out, store) = running.join().unwrap();
    assert_eq!(code.unwrap(), 0, "{out}");
    assert_eq!(
        out,
        "created 1024 of 100000; the others: new-socket-limit\n\
         after dropping them, create-tcp-socket: ok\n"
    );
    // Other tests of this binary open a few descriptors meanwhile.
    assert!(most <= before + 1024 + 64, "{most} descriptors open, {before} before");
    assert_eq!(store.data().live_sockets(), 0);

    let (code, out) = run(&["many-sockets", "50"], |b| {
        b.max_sockets(7);
    });
    assert_eq!(code, 0);
    assert!(out.starts_with("created 7 of 50; the others: new-socket-limit\n"), "{out}");
}

/// A guest waiting in `accept` for a client that never comes is ended by the store's
/// interruption (what `--timeout` raises) within a slice of the wait, as a trap.
#[test]
fn interruption_ends_a_guest_blocked_in_accept() {
    let guest = Guest::new(&["accept-forever", "127.0.0.1:0"], |b| {
        b.allow_tcp_listen(pattern("127.0.0.1:*"));
    });
    let handle = guest.store.interrupt_handle();
    let out = guest.out.clone();
    let running = std::thread::spawn(move || guest.run());
    wait_for_line(&out, "listening on ");
    std::thread::sleep(Duration::from_millis(100));
    assert!(!running.is_finished(), "the guest should be waiting in accept");
    let asked = Instant::now();
    handle.interrupt();
    let (code, text, _) = running.join().unwrap();
    assert!(asked.elapsed() < Duration::from_secs(2), "took {:?}", asked.elapsed());
    match code {
        Err(ward_component::Error::Wasm(ward::Error::Trap(t))) => {
            assert_eq!(t.code(), ward::TrapCode::Interrupted, "{t}")
        }
        other => panic!("not an interruption: {other:?}\n{text}"),
    }
}

/// Calls out of order get the WIT's error codes, never a trap or a panic; hostile sizes are
/// refused or capped.
#[test]
fn state_machine_misuse_gets_the_wit_errors() {
    let (code, out) = run(&["misuse"], |b| {
        b.allow_tcp_listen(pattern("127.0.0.1:*"))
            .allow_udp_bind(pattern("127.0.0.1:*"))
            .allow_udp_send(pattern("127.0.0.1:*"))
            .allow_ip_name_lookup(true);
    });
    assert_eq!(code, 0, "{out}");
    let expected = "\
finish-bind before start-bind: not-in-progress
start-listen unbound: invalid-state
accept unbound: invalid-state
finish-connect before start-connect: not-in-progress
local-address unbound: invalid-state
remote-address unconnected: invalid-state
set-listen-backlog-size 0: invalid-argument
set-hop-limit 0: invalid-argument
set-receive-buffer-size 0: invalid-argument
set-keep-alive-idle-time 0: invalid-argument
set-keep-alive-idle-time 7 s: ok
keep-alive-idle-time: Ok(7000000000)
set-keep-alive-interval 3 s: ok
keep-alive-interval: Ok(3000000000)
shutdown unconnected: invalid-state
start-connect to 0.0.0.0: invalid-argument
start-connect to port 0: invalid-argument
start-bind to an IPv6 address: invalid-argument
start-connect to an IPv4-mapped address: invalid-argument
start-bind: ok
start-bind again: concurrency-conflict
finish-bind: ok
finish-bind again: not-in-progress
start-bind when bound: invalid-state
finish-listen before start-listen: not-in-progress
set-listen-backlog-size 1000000: ok
start-listen: ok
start-connect while listen is in progress: concurrency-conflict
finish-listen: ok
accept with no client: would-block
start-connect when listening: invalid-state
is-listening: true
udp stream unbound: invalid-state
udp start-bind: ok
udp finish-bind: ok
receive 0: ok
receive u64::MAX with nothing waiting: 0 datagrams
check-send: Ok(16)
send without an address: invalid-argument
send a 70000-byte datagram: datagram-too-large
sent 20 datagrams to myself
received them in batches of [16, 4] with receive(u64::MAX)
lookup of an invalid name: invalid-argument
";
    assert_eq!(out, expected);
}

/// `send` beyond what `check-send` permitted is a trap, as the WIT requires (not a panic).
#[test]
fn sending_without_check_send_traps() {
    let (code, out, _) = Guest::new(&["send-unpermitted"], |b| {
        b.allow_udp_bind(pattern("127.0.0.1:*"));
    })
    .run();
    let e = code.expect_err("the host must trap");
    assert!(e.to_string().contains("send: 1 datagrams, but check-send permitted 0"), "{e}\n{out}");
    assert!(!out.contains("let it through"), "{out}");
}

#[test]
fn nothing_is_granted_by_default() {
    let ctx = WasiP2CtxBuilder::new().build();
    assert!(format!("{ctx:?}").contains("network: \"nothing\""), "{ctx:?}");
    let (code, out) = run(&["misuse"], |_| {});
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("start-bind: access-denied\n"), "{out}");
    assert!(out.contains("udp start-bind: access-denied\n"), "{out}");
}

/// IPv4 and IPv6 grants are separate: `127.0.0.1` grants nothing on `::1`.
#[test]
fn ipv6_needs_an_ipv6_grant() {
    let Ok(server) = TcpListener::bind("[::1]:0") else {
        eprintln!("ipv6_needs_an_ipv6_grant: SKIPPED (no IPv6 loopback here)");
        return;
    };
    let addr = server.local_addr().unwrap();
    let a = addr.to_string();
    server.set_nonblocking(true).unwrap();
    let (code, out) = run(&["tcp-client", &a, "x"], |b| {
        b.allow_tcp_connect(pattern("127.0.0.0/8:*"));
    });
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("connect: error: PermissionDenied"), "{out}");
    nobody_connected(&server);
    server.set_nonblocking(false).unwrap();
    let t = std::thread::spawn(move || {
        let (mut c, _) = server.accept().unwrap();
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap();
        c.write_all(&got).unwrap();
    });
    let (code, out) = run(&["tcp-client", &a, "over IPv6"], |b| {
        b.allow_tcp_connect(pattern(&format!("[::1]:{}", addr.port())));
    });
    assert_eq!((code, out.as_str()), (0, "reply: over IPv6\n"));
    t.join().unwrap();
}

/// A granted address nobody listens on: the host's answer reaches the guest as the WIT's
/// `connection-refused` (std: `ConnectionRefused`), and the socket is closed, not leaked.
#[test]
fn a_refused_connection_is_reported() {
    let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let a = addr.to_string();
    let (code, out, store) = Guest::new(&["tcp-client", &a, "x"], |b| {
        b.allow_tcp_connect(SocketAddrPattern::exact(addr));
    })
    .run();
    assert_eq!(code.unwrap(), 1, "{out}");
    assert!(out.starts_with("connect: error: ConnectionRefused"), "{out}");
    assert_eq!(store.data().live_sockets(), 0);
}
