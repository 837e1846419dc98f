//! `ward serve` against the built binary: a fresh instance per request by CGI conventions
//! (body on stdin, response with headers on stdout), and the per-request limits: a trapping
//! handler gets 500, a spinning one 504 at its deadline, an oversized body 413 — and the
//! server keeps answering the next request after each; concurrent requests each get their own
//! process (a nanoprocess per request) and their own answer.

mod serve_support;

use serve_support::{request, Server};
use std::path::PathBuf;

/// A handler that writes two headers and echoes its standard input.
const ECHO: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "Content-Type: text/plain\nX-Handler: echo\n\n")
  (func (export "_start") (local $n i32)
    (i32.store (i32.const 1000) (i32.const 0))
    (i32.store (i32.const 1004) (i32.const 42))
    (drop (call $fd_write (i32.const 1) (i32.const 1000) (i32.const 1) (i32.const 1008)))
    (loop $l
      (i32.store (i32.const 1000) (i32.const 2048))
      (i32.store (i32.const 1004) (i32.const 4096))
      (drop (call $fd_read (i32.const 0) (i32.const 1000) (i32.const 1) (i32.const 1008)))
      (local.set $n (i32.load (i32.const 1008)))
      (if (local.get $n)
        (then
          (i32.store (i32.const 1004) (local.get $n))
          (drop (call $fd_write (i32.const 1) (i32.const 1000) (i32.const 1) (i32.const 1012)))
          (br $l))))))"#;

/// Answers by the path: `/trap` traps, `/spin` loops forever, `/missing` is a 404, anything
/// else is echoed (through the ECHO logic above, reached by the same module).
const ROUTER: &str = r#"(module
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 0) "Status: 404 Not Found\nContent-Type: text/plain\n\nno such page\n")
  (data (i32.const 100) "PATH_INFO=/trap")
  (data (i32.const 120) "PATH_INFO=/spin")
  (data (i32.const 140) "PATH_INFO=/missing")
  ;; Whether the environment holds the variable of `len` bytes at `want` (as a whole entry).
  (func $has (param $want i32) (param $len i32) (result i32) (local $i i32) (local $n i32) (local $p i32) (local $k i32)
    (drop (call $sizes (i32.const 200) (i32.const 204)))
    (local.set $n (i32.load (i32.const 200)))
    (drop (call $environ (i32.const 1024) (i32.const 8192)))
    (block $no
      (loop $entries
        (br_if $no (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $p (i32.load (i32.add (i32.const 1024) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $k (i32.const 0))
        (block $differ
          (loop $chars
            (if (i32.eq (local.get $k) (local.get $len))
              (then (if (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $k))))
                      (then (return (i32.const 1))))
                    (br $differ)))
            (br_if $differ (i32.ne (i32.load8_u (i32.add (local.get $p) (local.get $k)))
                                   (i32.load8_u (i32.add (local.get $want) (local.get $k)))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $chars)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $entries)))
    (i32.const 0))
  (func (export "_start")
    (if (call $has (i32.const 100) (i32.const 15)) (then unreachable))
    (if (call $has (i32.const 120) (i32.const 15)) (then (loop $forever (br $forever))))
    (i32.store (i32.const 300) (i32.const 0))
    (i32.store (i32.const 304) (i32.const 61))
    (drop (call $fd_write (i32.const 1) (i32.const 300) (i32.const 1) (i32.const 308)))))"#;

/// Writes `wat` to `name` (each test its own name: tests run in parallel, and a file being
/// rewritten reads as empty) and serves it.
fn start(name: &str, wat: &str, extra: &[&str]) -> Server {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli_serve");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, wat).unwrap();
    serve_support::spawn(&path, extra)
}

#[test]
fn each_request_gets_a_fresh_instance_by_cgi_conventions() {
    let server = start("echo-fresh.wat", ECHO, &[]);
    for i in 0..20 {
        let body = format!("hello number {i}");
        let (status, head, reply) = request(server.1, "POST", "/echo?x=1", body.as_bytes());
        assert_eq!(status, 200, "{head}");
        assert!(head.to_ascii_lowercase().contains("x-handler: echo"), "{head}");
        assert_eq!(reply, body.as_bytes());
    }
}

#[test]
fn concurrent_requests_each_get_their_own_process_and_answer() {
    // 16 clients at once, 25 requests each: every answer is its own request's body (a process's
    // stdout is its own pipe), none is lost or mixed up.
    let server = start("echo-concurrent.wat", ECHO, &[]);
    let port = server.1;
    let clients: Vec<_> = (0..16)
        .map(|c| {
            std::thread::spawn(move || {
                for i in 0..25 {
                    let body = format!("client {c} request {i} {}", "x".repeat(c * 100 + i));
                    let (status, head, reply) = request(port, "POST", "/echo", body.as_bytes());
                    assert_eq!(status, 200, "{head}");
                    assert_eq!(reply, body.as_bytes());
                }
            })
        })
        .collect();
    for c in clients {
        c.join().expect("a client failed");
    }
}

#[test]
fn limits_hold_per_request_and_the_server_survives() {
    let server = start("router.wat", ROUTER, &["--timeout", "300ms", "--max-body", "1KiB"]);
    assert_eq!(request(server.1, "GET", "/missing", b"").0, 404);
    assert_eq!(request(server.1, "GET", "/trap", b"").0, 500);
    let started = std::time::Instant::now();
    assert_eq!(request(server.1, "GET", "/spin", b"").0, 504);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(request(server.1, "POST", "/missing", &[b'x'; 4096]).0, 413);
    let (status, _, body) = request(server.1, "GET", "/missing", b"");
    assert_eq!((status, body.as_slice()), (404, &b"no such page\n"[..]));
}

/// `ward serve` of the echo handler (written to `name`) with `extra` flags must refuse to
/// start: its stderr.
fn refused_at_startup(name: &str, extra: &[&str]) -> String {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli_serve");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, ECHO).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ward"))
        .arg("serve")
        .arg(&path)
        .args(["--addr", "127.0.0.1:0"])
        .args(extra)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_cgi_handler_is_refused_the_http_grants() {
    let stderr = refused_at_startup("echo-grants.wat", &["--allow-http", "example.com"]);
    assert!(stderr.contains("to component handlers only"), "{stderr}");
}

#[test]
fn a_cgi_handler_is_refused_the_native_tier() {
    let stderr = refused_at_startup("echo-native.wat", &["--tier", "native"]);
    assert!(stderr.contains("--tier native applies to component handlers"), "{stderr}");
}
