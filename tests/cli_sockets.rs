//! `ward run` with a component that uses `wasi:sockets` (the `std::net` program of
//! `tests/wasi-sockets`, built `.wasm` checked in): the `-S` network keys grant exactly what
//! they say, a refused connection never reaches the host, `--timeout` ends a guest waiting in
//! `accept`, and the keys are refused where they mean nothing.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};
use support::cli::{stderr, stdout, ward};

fn guest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/wasi-sockets/sockets.wasm")
}

fn run(args: &[&str]) -> Output {
    let mut cmd = ward();
    cmd.arg("run");
    let (flags, rest) = match args.iter().position(|a| *a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (args, &[][..]),
    };
    cmd.args(flags).arg(guest()).args(rest);
    cmd.output().expect("run ward")
}

#[test]
fn tcp_connect_grants_exactly_its_addresses() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap().to_string();
    let t = std::thread::spawn(move || {
        let (mut c, _) = server.accept().unwrap();
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap();
        c.write_all(&[b"echo:", &got[..]].concat()).unwrap();
        server
    });
    let grant = format!("tcp-connect={addr}");
    let o = run(&["-S", &grant, "--", "tcp-client", &addr, "hi"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "reply: echo:hi\n");
    let server = t.join().unwrap();

    // The attack: the same program, no grant for this port. Denied, and the host listener sees
    // no connection.
    server.set_nonblocking(true).unwrap();
    let port = server.local_addr().unwrap().port();
    let other = format!("tcp-connect=127.0.0.1:{}", if port == 1 { 2 } else { port - 1 });
    for flags in [&["-S", other.as_str()][..], &["-S", "tcp-listen=127.0.0.1:*"][..], &[][..]] {
        let mut args = flags.to_vec();
        args.extend(["--", "tcp-client", &addr, "hi"]);
        let o = run(&args);
        assert_eq!(o.status.code(), Some(1), "{flags:?}: {}", stderr(&o));
        assert_eq!(
            stdout(&o),
            "connect: error: PermissionDenied: Permission denied (os error 2)\n",
            "{flags:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
        match server.accept() {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            other => panic!("{flags:?}: the host listener saw {other:?}"),
        }
    }
}

#[test]
fn inherit_network_grants_everything() {
    let host = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = host.local_addr().unwrap().to_string();
    let t = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        let (n, from) = host.recv_from(&mut buf).unwrap();
        host.send_to(&buf[..n], from).unwrap();
    });
    let o = run(&["-S", "inherit-network", "--", "udp", &addr]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("udp reply: ping from {addr}\n"));
    t.join().unwrap();
    let o = run(&["-S", "inherit-network", "--", "lookup", "localhost"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("address: 127.0.0.1\n"), "{}", stdout(&o));
}

#[test]
fn name_lookup_needs_its_own_key() {
    let o = run(&["-S", "tcp-connect=*:*", "--", "lookup", "localhost"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "lookup: error: PermissionDenied: Permission denied (os error 2)\n");
    let o = run(&["-S", "allow-ip-name-lookup", "--", "lookup", "localhost"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("address: 127.0.0.1\n"), "{}", stdout(&o));
}

#[test]
fn max_sockets_bounds_a_guest_opening_100000() {
    let o = run(&["--", "many-sockets", "100000"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("created 1024 of 100000; the others: new-socket-limit\n"));
    let o = run(&["-S", "max-sockets=3", "--", "many-sockets", "10"]);
    assert!(stdout(&o).starts_with("created 3 of 10; the others: new-socket-limit\n"));
}

#[test]
fn timeout_ends_a_guest_waiting_in_accept() {
    let started = Instant::now();
    let o = run(&[
        "--timeout",
        "500ms",
        "-S",
        "tcp-listen=127.0.0.1:*",
        "--",
        "accept-forever",
        "127.0.0.1:0",
    ]);
    assert_eq!(o.status.code(), Some(124), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("listening on 127.0.0.1:"), "{}", stdout(&o));
    assert!(stderr(&o).contains("timed out after 500ms"), "{}", stderr(&o));
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
}

#[test]
fn network_keys_are_refused_where_they_mean_nothing() {
    let dir = std::env::temp_dir().join(format!("ward-cli-sockets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let core = dir.join("core.wat");
    std::fs::write(&core, r#"(module (func (export "_start")))"#).unwrap();
    let o = ward().args(["run", "-S", "tcp-connect=127.0.0.1:80"]).arg(&core).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("is a core module") && err.contains("-S tcp-connect"), "{err}");
    assert!(err.contains("--tcplisten"), "{err}");
    let o = ward().args(["run", "-S", "inherit-network"]).arg(&core).output().unwrap();
    assert!(stderr(&o).contains("-S inherit-network grant wasi:sockets to components"));
    let _ = std::fs::remove_dir_all(&dir);

    let o = run(&["--tcplisten", "127.0.0.1:0"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("-S tcp-listen=PATTERN"), "{}", stderr(&o));

    let o = run(&["-S", "tcp-connect=localhost:80"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not an IP address"), "{}", stderr(&o));
    let o = run(&["-S", "udp=1.2.3.4:5"]);
    assert!(stderr(&o).contains("udp-send=PATTERN"), "{}", stderr(&o));

    let help = ward().args(["run", "--help"]).output().unwrap();
    let help = stdout(&help);
    for key in
        ["inherit-network", "allow-ip-name-lookup", "tcp-connect=PATTERN", "udp-send=PATTERN"]
    {
        assert!(help.contains(key), "--help lacks {key}");
    }
}
