//! A `wasm32-wasip2` command for Ward's `wasi:sockets` tests
//! (`crates/ward-wasi-p2/tests/sockets.rs`, `tests/cli_sockets.rs`). The first argument names
//! the scenario:
//!
//! - `tcp-client ADDR MESSAGE`: `std::net::TcpStream` to ADDR, sends MESSAGE, shuts down its
//!   sending side, prints `reply: ...` with everything read back;
//! - `tcp-server ADDR`: `std::net::TcpListener` on ADDR, prints `listening on ADDR`, accepts
//!   one client, reads until it shuts down, answers `hello, <what it read>`, prints
//!   `served PEER`;
//! - `accept-forever ADDR`: listens on ADDR and waits in `accept` for a client that never comes;
//! - `udp PEER`: a `std::net::UdpSocket` on `127.0.0.1:0` sends `ping` to PEER and prints the
//!   reply and who sent it;
//! - `lookup NAME`: `ToSocketAddrs` on NAME, prints each address;
//! - `many-sockets N`: creates N TCP sockets through the raw `wasi:sockets` bindings, keeping
//!   them, and prints how many it got and how the others failed;
//! - `misuse`: the raw bindings, out of order: prints each call and its `error-code`;
//! - `send-unpermitted`: sends a datagram without `check-send` (the host must trap).
//!
//! Errors are printed as `WHAT: error: KIND: MESSAGE` (std) or `WHAT: CODE` (raw calls), and
//! the exit status is then 1.
//!
//! Built by `build.sh` into `sockets.wasm` (checked in, so tests need no wasm toolchain).

use std::fmt::Debug;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use wasi::sockets::instance_network::instance_network;
use wasi::sockets::network::{
    ErrorCode, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress,
};
use wasi::sockets::tcp::ShutdownType;
use wasi::sockets::tcp_create_socket::create_tcp_socket;
use wasi::sockets::udp::OutgoingDatagram;
use wasi::sockets::udp_create_socket::create_udp_socket;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let code = match arg(1).as_str() {
        "tcp-client" => tcp_client(&arg(2), &arg(3)),
        "tcp-server" => tcp_server(&arg(2)),
        "accept-forever" => accept_forever(&arg(2)),
        "udp" => udp(&arg(2)),
        "lookup" => lookup(&arg(2)),
        "many-sockets" => many_sockets(arg(2).parse().unwrap_or(0)),
        "misuse" => misuse(),
        "send-unpermitted" => send_unpermitted(),
        other => {
            eprintln!("unknown scenario `{other}`");
            2
        }
    };
    std::process::exit(code);
}

fn report(what: &str, e: std::io::Error) -> i32 {
    println!("{what}: error: {:?}: {e}", e.kind());
    1
}

fn say(line: String) {
    println!("{line}");
    let _ = std::io::stdout().flush();
}

fn tcp_client(addr: &str, message: &str) -> i32 {
    let mut stream = match TcpStream::connect(addr) {
        Ok(s) => s,
        Err(e) => return report("connect", e),
    };
    if let Err(e) = stream.write_all(message.as_bytes()).and_then(|_| stream.flush()) {
        return report("write", e);
    }
    if let Err(e) = stream.shutdown(Shutdown::Write) {
        return report("shutdown", e);
    }
    let mut reply = String::new();
    if let Err(e) = stream.read_to_string(&mut reply) {
        return report("read", e);
    }
    say(format!("reply: {reply}"));
    0
}

fn tcp_server(addr: &str) -> i32 {
    let listener = match TcpListener::bind(addr) {
        Ok(l) => l,
        Err(e) => return report("bind", e),
    };
    match listener.local_addr() {
        Ok(a) => say(format!("listening on {a}")),
        Err(e) => return report("local_addr", e),
    }
    let (mut stream, peer) = match listener.accept() {
        Ok(c) => c,
        Err(e) => return report("accept", e),
    };
    let mut got = String::new();
    if let Err(e) = stream.read_to_string(&mut got) {
        return report("read", e);
    }
    if let Err(e) = stream.write_all(format!("hello, {got}").as_bytes()) {
        return report("write", e);
    }
    drop(stream);
    say(format!("served {peer}"));
    0
}

fn accept_forever(addr: &str) -> i32 {
    let listener = match TcpListener::bind(addr) {
        Ok(l) => l,
        Err(e) => return report("bind", e),
    };
    if let Ok(a) = listener.local_addr() {
        say(format!("listening on {a}"));
    }
    match listener.accept() {
        Ok((_, peer)) => say(format!("a client came: {peer}")),
        Err(e) => return report("accept", e),
    }
    0
}

fn udp(peer: &str) -> i32 {
    let sock = match UdpSocket::bind("127.0.0.1:0") {
        Ok(s) => s,
        Err(e) => return report("bind", e),
    };
    if let Err(e) = sock.send_to(b"ping", peer) {
        return report("send_to", e);
    }
    let mut buf = [0u8; 1500];
    match sock.recv_from(&mut buf) {
        Ok((n, from)) => say(format!("udp reply: {} from {from}", String::from_utf8_lossy(&buf[..n]))),
        Err(e) => return report("recv_from", e),
    }
    0
}

fn lookup(name: &str) -> i32 {
    match (name, 0).to_socket_addrs() {
        Ok(found) => {
            let mut ips: Vec<String> = found.map(|a| a.ip().to_string()).collect();
            ips.sort();
            ips.dedup();
            for ip in ips {
                say(format!("address: {ip}"));
            }
            0
        }
        Err(e) => report("lookup", e),
    }
}

fn many_sockets(n: u32) -> i32 {
    let mut kept = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    for _ in 0..n {
        match create_tcp_socket(IpAddressFamily::Ipv4) {
            Ok(s) => kept.push(s),
            Err(e) => {
                if !failures.contains(&e.name().to_string()) {
                    failures.push(e.name().to_string());
                }
            }
        }
    }
    say(format!("created {} of {n}; the others: {}", kept.len(), failures.join(", ")));
    kept.clear();
    let again = create_tcp_socket(IpAddressFamily::Ipv4).map(|_| ());
    show("after dropping them, create-tcp-socket", again);
    0
}

/// Prints a raw call's outcome: `ok` or its error code.
fn show<T: Debug>(what: &str, r: Result<T, ErrorCode>) {
    match r {
        Ok(_) => say(format!("{what}: ok")),
        Err(e) => say(format!("{what}: {}", e.name())),
    }
}

fn v4(a: u8, b: u8, c: u8, d: u8, port: u16) -> IpSocketAddress {
    IpSocketAddress::Ipv4(Ipv4SocketAddress { port, address: (a, b, c, d) })
}

fn v6(segments: (u16, u16, u16, u16, u16, u16, u16, u16), port: u16) -> IpSocketAddress {
    IpSocketAddress::Ipv6(Ipv6SocketAddress { port, flow_info: 0, address: segments, scope_id: 0 })
}

fn misuse() -> i32 {
    let net = instance_network();
    let s = create_tcp_socket(IpAddressFamily::Ipv4).expect("a TCP socket");
    show("finish-bind before start-bind", s.finish_bind());
    show("start-listen unbound", s.start_listen());
    show("accept unbound", s.accept().map(|_| ()));
    show("finish-connect before start-connect", s.finish_connect().map(|_| ()));
    show("local-address unbound", s.local_address());
    show("remote-address unconnected", s.remote_address());
    show("set-listen-backlog-size 0", s.set_listen_backlog_size(0));
    show("set-hop-limit 0", s.set_hop_limit(0));
    show("set-receive-buffer-size 0", s.set_receive_buffer_size(0));
    show("set-keep-alive-idle-time 0", s.set_keep_alive_idle_time(0));
    show("set-keep-alive-idle-time 7 s", s.set_keep_alive_idle_time(7_000_000_000));
    println!("keep-alive-idle-time: {:?}", s.keep_alive_idle_time());
    show("set-keep-alive-interval 3 s", s.set_keep_alive_interval(3_000_000_000));
    println!("keep-alive-interval: {:?}", s.keep_alive_interval());
    show("shutdown unconnected", s.shutdown(ShutdownType::Both));
    show("start-connect to 0.0.0.0", s.start_connect(&net, v4(0, 0, 0, 0, 80)));
    show("start-connect to port 0", s.start_connect(&net, v4(127, 0, 0, 1, 0)));
    show("start-bind to an IPv6 address", s.start_bind(&net, v6((0, 0, 0, 0, 0, 0, 0, 1), 0)));
    let s6 = create_tcp_socket(IpAddressFamily::Ipv6).expect("an IPv6 TCP socket");
    let mapped = v6((0, 0, 0, 0, 0, 0xffff, 0x7f00, 1), 80);
    show("start-connect to an IPv4-mapped address", s6.start_connect(&net, mapped));
    show("start-bind", s.start_bind(&net, v4(127, 0, 0, 1, 0)));
    show("start-bind again", s.start_bind(&net, v4(127, 0, 0, 1, 0)));
    show("finish-bind", s.finish_bind());
    show("finish-bind again", s.finish_bind());
    show("start-bind when bound", s.start_bind(&net, v4(127, 0, 0, 1, 0)));
    show("finish-listen before start-listen", s.finish_listen());
    show("set-listen-backlog-size 1000000", s.set_listen_backlog_size(1_000_000));
    show("start-listen", s.start_listen());
    show("start-connect while listen is in progress", s.start_connect(&net, v4(127, 0, 0, 1, 9)));
    show("finish-listen", s.finish_listen());
    show("accept with no client", s.accept().map(|_| ()));
    show("start-connect when listening", s.start_connect(&net, v4(127, 0, 0, 1, 9)));
    say(format!("is-listening: {}", s.is_listening()));

    let u = create_udp_socket(IpAddressFamily::Ipv4).expect("a UDP socket");
    show("udp stream unbound", u.stream(None).map(|_| ()));
    show("udp start-bind", u.start_bind(&net, v4(127, 0, 0, 1, 0)));
    show("udp finish-bind", u.finish_bind());
    let Ok(local) = u.local_address() else {
        say("no UDP socket: stopping".into());
        return 0;
    };
    let (inc, out) = u.stream(None).expect("streams");
    show("receive 0", inc.receive(0).map(|l| l.len()));
    match inc.receive(u64::MAX) {
        Ok(l) => say(format!("receive u64::MAX with nothing waiting: {} datagrams", l.len())),
        Err(e) => say(format!("receive u64::MAX with nothing waiting: {}", e.name())),
    }
    say(format!("check-send: {:?}", out.check_send()));
    let none = OutgoingDatagram { data: b"x".to_vec(), remote_address: None };
    show("send without an address", out.send(&[none]));
    let huge = OutgoingDatagram { data: vec![7; 70_000], remote_address: Some(local) };
    let _ = out.check_send();
    show("send a 70000-byte datagram", out.send(&[huge]));
    drop((inc, out));
    let (inc, out) = u.stream(None).expect("streams again");
    // 20 datagrams to itself, each permitted by check-send; then receive asks for all it can.
    let mut sent = 0;
    while sent < 20 {
        let d = OutgoingDatagram { data: b"to myself".to_vec(), remote_address: Some(local) };
        if out.check_send().unwrap_or(0) > 0 && out.send(&[d]) == Ok(1) {
            sent += 1;
        } else {
            out.subscribe().block();
        }
    }
    say(format!("sent {sent} datagrams to myself"));
    let mut batches = Vec::new();
    let mut total = 0;
    while total < 20 {
        inc.subscribe().block();
        match inc.receive(u64::MAX) {
            Ok(l) => {
                total += l.len();
                assert!(l.iter().all(|d| d.data == b"to myself"));
                assert!(l.iter().all(|d| format!("{:?}", d.remote_address) == format!("{local:?}")));
                batches.push(l.len());
            }
            Err(e) => {
                say(format!("receive: {}", e.name()));
                break;
            }
        }
    }
    say(format!("received them in batches of {batches:?} with receive(u64::MAX)"));
    show(
        "lookup of an invalid name",
        wasi::sockets::ip_name_lookup::resolve_addresses(&net, "not a name").map(|_| ()),
    );
    0
}

fn send_unpermitted() -> i32 {
    let net = instance_network();
    let u = create_udp_socket(IpAddressFamily::Ipv4).expect("a UDP socket");
    u.start_bind(&net, v4(127, 0, 0, 1, 0)).expect("start-bind");
    u.finish_bind().expect("finish-bind");
    let local = u.local_address().expect("a bound address");
    let (_inc, out) = u.stream(None).expect("streams");
    let d = OutgoingDatagram { data: b"x".to_vec(), remote_address: Some(local) };
    say("sending without check-send".into());
    let r = out.send(&[d]);
    say(format!("the host let it through: {r:?}"));
    0
}
