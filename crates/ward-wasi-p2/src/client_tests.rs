//! `https` requests against a local TLS server whose certificate (for `127.0.0.1` only) a test
//! certificate authority issued (`tests/data/tls/`; the key is a test key, valid until 2126).

use super::*;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;

const CA: &[u8] = include_bytes!("../tests/data/tls/ca.pem");
const SERVER_CERT: &[u8] = include_bytes!("../tests/data/tls/server.pem");
const SERVER_KEY: &[u8] = include_bytes!("../tests/data/tls/server.key");

/// A TLS server on a free port of 127.0.0.1 answering each connection's first request with
/// `200` and `hello over tls`; sends the request heads it read to the returned receiver.
fn tls_server() -> (u16, mpsc::Receiver<String>) {
    let cert = CertificateDer::from_pem_slice(SERVER_CERT).unwrap();
    let key = PrivateKeyDer::from_pem_slice(SERVER_KEY).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { continue };
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            // A client that refuses the certificate ends the handshake: nothing to answer.
            while !head.ends_with(b"\r\n\r\n") {
                match tls.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            if head.ends_with(b"\r\n\r\n") {
                let body = "hello over tls";
                let reply =
                    format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}", body.len());
                let _ = tls.write_all(reply.as_bytes());
                let _ = tls.flush();
                let _ = tx.send(String::from_utf8_lossy(&head).into_owned());
            }
        }
    });
    (port, rx)
}

fn request(host: &str, port: u16, tls: Arc<ClientConfig>) -> Outgoing {
    Outgoing {
        method: "GET".into(),
        host: host.into(),
        port,
        authority: format!("{host}:{port}"),
        path_with_query: "/secret?q=1".into(),
        headers: vec![("x-test".into(), b"1".to_vec())],
        body: Vec::new(),
        tls: Some(tls),
    }
}

fn bounds() -> Bounds {
    Bounds {
        connect: Duration::from_secs(5),
        first_byte: Duration::from_secs(5),
        body: Duration::from_secs(5),
        max_body: 1 << 20,
    }
}

fn trusted() -> Arc<ClientConfig> {
    tls_config(&pem_certificates(CA).unwrap()).unwrap()
}

#[test]
fn https_reaches_a_server_whose_certificate_chains_to_a_trusted_root() {
    let (port, heads) = tls_server();
    let got = send(request("127.0.0.1", port, trusted()), &bounds()).unwrap();
    assert_eq!(got.status, 200);
    assert_eq!(got.body, b"hello over tls");
    let head = heads.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(head.starts_with("GET /secret?q=1 HTTP/1.1\r\n"), "{head}");
    assert!(head.to_ascii_lowercase().contains("x-test: 1\r\n"), "{head}");
}

#[test]
fn a_server_certificate_no_trusted_root_vouches_for_is_refused() {
    // A man in the middle with a certificate of its own making: the built-in roots alone do not
    // vouch for it, and nothing of the request is sent.
    let (port, heads) = tls_server();
    let err = send(request("127.0.0.1", port, tls_config(&[]).unwrap()), &bounds()).unwrap_err();
    assert_eq!(err, ErrorCode::Case("TLS-certificate-error"));
    assert!(heads.recv_timeout(Duration::from_millis(300)).is_err(), "the request was sent");
}

#[test]
fn a_certificate_for_another_host_is_refused() {
    // The certificate names 127.0.0.1 only; `localhost` reaches the same server.
    let (port, heads) = tls_server();
    let err = send(request("localhost", port, trusted()), &bounds()).unwrap_err();
    assert_eq!(err, ErrorCode::Case("TLS-certificate-error"));
    assert!(heads.recv_timeout(Duration::from_millis(300)).is_err(), "the request was sent");
}

#[test]
fn plain_http_to_a_tls_server_is_a_protocol_error_not_a_hang() {
    let (port, _heads) = tls_server();
    let mut plain = request("127.0.0.1", port, trusted());
    plain.tls = None;
    let err = send(plain, &bounds()).unwrap_err();
    assert!(
        matches!(err, ErrorCode::Case("HTTP-protocol-error" | "HTTP-response-incomplete")),
        "{err:?}"
    );
}

#[test]
fn pem_files_give_their_certificates_and_name_what_is_wrong() {
    assert_eq!(pem_certificates(CA).unwrap().len(), 1);
    let both = [CA, SERVER_CERT].concat();
    assert_eq!(pem_certificates(&both).unwrap().len(), 2);
    assert!(matches!(pem_certificates(SERVER_KEY), Err(PemError::NoCertificate)));
    assert!(matches!(pem_certificates(b"not pem at all"), Err(PemError::NoCertificate)));
    let broken = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
    assert!(matches!(pem_certificates(broken), Err(PemError::Malformed(_))));
    // Well-formed PEM around bytes that are no certificate: refused when read, naming which.
    let not_der =
        [CA, b"-----BEGIN CERTIFICATE-----\nAAECAwQ=\n-----END CERTIFICATE-----\n"].concat();
    assert!(matches!(pem_certificates(&not_der), Err(PemError::Unusable(2, _))));
    let config = tls_config(&[b"not a certificate".to_vec()]);
    assert!(matches!(config, Err(ErrorCode::Internal(_))), "{:?}", config.err());
}
