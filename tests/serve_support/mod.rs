//! Helpers shared by the `ward serve` tests (`cli_serve.rs`, `cli_serve_http.rs`) and
//! `cli_run_http.rs`: starting the built binary on an ephemeral port, a plain HTTP/1.1 client
//! over a `TcpStream`, and a TLS upstream with the test certificate.

// Each test binary that includes this module uses part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running `ward serve` and its port; killed when dropped.
pub struct Server(Child, pub u16);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `ward serve HANDLER --addr 127.0.0.1:0 EXTRA...` and reads the port from the line
/// it prints on stderr.
pub fn spawn(handler: &Path, extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ward"))
        .arg("serve")
        .arg(handler)
        .args(["--addr", "127.0.0.1:0"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ward serve");
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap()).read_line(&mut line).unwrap();
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    Server(child, port)
}

/// Sends one HTTP/1.1 request with extra header lines; returns the status code, the raw head
/// and the body.
pub fn request_with(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head += &format!("{name}: {value}\r\n");
    }
    head += "\r\n";
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).expect("a status code");
    let body = &out[split + 4..];
    let body = if is_chunked(&head) {
        dechunk(body).unwrap_or_else(|| panic!("a chunked body cut short ({} bytes)", body.len()))
    } else {
        body.to_vec()
    };
    (status, head, body)
}

/// A connection to the server on `port` whose reads give up after `read_timeout_s` seconds.
pub fn connect(port: u16, read_timeout_s: u64) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(read_timeout_s))).unwrap();
    s
}

/// Sends GET `path` and reads the whole response off the connection, raw: the head, and the
/// body as sent (still chunk-coded, possibly cut short).
pub fn raw_get(port: u16, path: &str) -> (String, Vec<u8>) {
    raw_get_with(port, path, &[])
}

/// [`raw_get`] with extra header lines.
pub fn raw_get_with(port: u16, path: &str, headers: &[(&str, &str)]) -> (String, Vec<u8>) {
    let mut s = connect(port, 30);
    let mut head = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (name, value) in headers {
        head += &format!("{name}: {value}\r\n");
    }
    write!(s, "{head}\r\n").unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    split_response(&out)
}

/// The head of raw response `raw` and what follows it.
pub fn split_response(raw: &[u8]) -> (String, Vec<u8>) {
    let at = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    (String::from_utf8_lossy(&raw[..at]).into_owned(), raw[at + 4..].to_vec())
}

/// Whether a response head announces a chunked body.
pub fn is_chunked(head: &str) -> bool {
    head.to_ascii_lowercase().contains("\r\ntransfer-encoding: chunked")
}

/// The body of chunked transfer coding `raw`; `None` if it ends before its last chunk.
pub fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&raw[..line_end]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            // Trailer lines, if any, then the empty line.
            while !raw.starts_with(b"\r\n") {
                let end = raw.windows(2).position(|w| w == b"\r\n")?;
                raw = &raw[end + 2..];
            }
            return Some(body);
        }
        body.extend_from_slice(raw.get(..size)?);
        raw = raw.get(size..)?.strip_prefix(b"\r\n")?;
    }
}

/// Sends one HTTP/1.1 request; returns the status code, the raw head and the body.
pub fn request(port: u16, method: &str, path: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
    request_with(port, method, path, &[], body)
}

/// A TLS server on a free port of 127.0.0.1 with the test certificate of
/// `crates/ward-wasi-p2/tests/data/tls/` (for 127.0.0.1, issued by the test CA there): answers
/// every request with `200`, `x-reply: tls` and `hello over tls`.
pub fn tls_upstream(root: &Path) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use std::io::{Read, Write};
    use std::sync::Arc;
    let dir = root.join("crates/ward-wasi-p2/tests/data/tls");
    let cert = CertificateDer::from_pem_file(dir.join("server.pem")).unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let config = Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let config = config.clone();
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match tls.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let body = "hello over tls";
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nx-reply: tls\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(reply.as_bytes());
                let _ = tls.flush();
            });
        }
    });
    port
}
