//! Sending an outgoing request the allow-list let through: HTTP/1.1 with hyper's client over
//! TCP, or over TLS (rustls) for `https`, on a current-thread tokio runtime of its own, bounded
//! in time (connect, first byte, whole body; the name lookup and the TLS handshake count toward
//! connecting) and in the size of the response body.
//!
//! An `https` server must present a certificate for the request's host that chains to one of
//! Mozilla's roots (`webpki-roots`, built in, so the host's own store plays no part) or to a
//! certificate the embedder added (`WasiP2CtxBuilder::http_root_certificate`); anything else
//! is `TLS-certificate-error`.

use crate::http_types::ErrorCode;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::ClientConfig;
use std::io;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::time::timeout;

/// How long to wait to connect when the guest's `request-options` say nothing.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the response head when the options say nothing.
pub(crate) const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for the whole response body when the options say nothing (the option
/// `between-bytes-timeout` bounds the whole body here).
pub(crate) const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// A request ready to be sent.
pub(crate) struct Outgoing {
    pub(crate) method: String,
    pub(crate) host: String,
    pub(crate) port: u16,
    /// Sent as the `host` field.
    pub(crate) authority: String,
    pub(crate) path_with_query: String,
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    pub(crate) body: Vec<u8>,
    /// For `https`: how to speak TLS ([`tls_config`]).
    pub(crate) tls: Option<Arc<ClientConfig>>,
}

/// The TLS configuration of `https` requests: Mozilla's roots and `extra` (DER certificates
/// the embedder trusts as well). Without extra roots it is made once per process.
pub(crate) fn tls_config(extra: &[Vec<u8>]) -> Result<Arc<ClientConfig>, ErrorCode> {
    static DEFAULT: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    if extra.is_empty() {
        if let Some(config) = DEFAULT.get() {
            return Ok(config.clone());
        }
        let config = Arc::new(make_tls_config(extra)?);
        return Ok(DEFAULT.get_or_init(|| config).clone());
    }
    make_tls_config(extra).map(Arc::new)
}

fn make_tls_config(extra: &[Vec<u8>]) -> Result<ClientConfig, ErrorCode> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for der in extra {
        roots.add(CertificateDer::from(der.clone())).map_err(|e| {
            ErrorCode::Internal(format!("a trusted root certificate is unusable: {e}"))
        })?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ErrorCode::Internal(format!("cannot configure TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Why [`pem_certificates`] found no certificate.
#[derive(Debug, thiserror::Error)]
pub enum PemError {
    /// No `CERTIFICATE` section.
    #[error("it holds no PEM certificate (`-----BEGIN CERTIFICATE-----`)")]
    NoCertificate,
    /// A section that is not valid PEM.
    #[error("its PEM is malformed: {0}")]
    Malformed(String),
    /// A certificate that cannot serve as a trust root.
    #[error("certificate {0} cannot serve as a root: {1}")]
    Unusable(usize, String),
}

/// The certificates (DER) of the PEM text `pem`, each checked to be usable as a trust root,
/// for [`WasiP2CtxBuilder::http_root_certificate`](crate::WasiP2CtxBuilder::http_root_certificate);
/// other PEM sections (keys) are skipped.
pub fn pem_certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, PemError> {
    use rustls::pki_types::pem::PemObject;
    let mut out = Vec::new();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| PemError::Malformed(e.to_string()))?;
        rustls::RootCertStore::empty()
            .add(cert.clone())
            .map_err(|e| PemError::Unusable(out.len() + 1, e.to_string()))?;
        out.push(cert.as_ref().to_vec());
    }
    if out.is_empty() {
        return Err(PemError::NoCertificate);
    }
    Ok(out)
}

/// The `error-code` of a failed TLS handshake.
fn tls_error(e: &io::Error) -> ErrorCode {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidCertificate(_)) => ErrorCode::Case("TLS-certificate-error"),
        Some(rustls::Error::AlertReceived(alert)) => ErrorCode::TlsAlert(format!("{alert:?}")),
        _ => ErrorCode::Case("TLS-protocol-error"),
    }
}

/// The bounds of one request: the guest's `request-options` may shorten the timeouts, never
/// lengthen them (a request blocks its host call, beyond the reach of the epoch deadline).
pub(crate) struct Bounds {
    pub(crate) connect: Duration,
    pub(crate) first_byte: Duration,
    pub(crate) body: Duration,
    pub(crate) max_body: usize,
}

/// A response received.
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    pub(crate) body: Vec<u8>,
}

/// Sends `req` and waits for the whole response (blocking the calling thread).
pub(crate) fn send(req: Outgoing, bounds: &Bounds) -> Result<Received, ErrorCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ErrorCode::Internal(format!("cannot start the HTTP client: {e}")))?;
    runtime.block_on(exchange(req, bounds))
}

fn connect_error(e: &io::Error) -> ErrorCode {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => ErrorCode::Case("connection-refused"),
        io::ErrorKind::TimedOut => ErrorCode::Case("connection-timeout"),
        _ => ErrorCode::Case("destination-unavailable"),
    }
}

fn protocol_error(e: hyper::Error) -> ErrorCode {
    if e.is_incomplete_message() || e.is_closed() {
        ErrorCode::Case("HTTP-response-incomplete")
    } else {
        ErrorCode::Case("HTTP-protocol-error")
    }
}

async fn exchange(req: Outgoing, bounds: &Bounds) -> Result<Received, ErrorCode> {
    let lookup = tokio::net::lookup_host((req.host.as_str(), req.port));
    let addrs: Vec<_> = match timeout(bounds.connect, lookup).await {
        Ok(Ok(addrs)) => addrs.collect(),
        Ok(Err(_)) => return Err(ErrorCode::Dns),
        Err(_) => return Err(ErrorCode::Case("DNS-timeout")),
    };
    if addrs.is_empty() {
        return Err(ErrorCode::Case("destination-not-found"));
    }
    let connect = async {
        let stream =
            tokio::net::TcpStream::connect(&addrs[..]).await.map_err(|e| connect_error(&e))?;
        let Some(config) = req.tls.clone() else { return Ok(Stream::Plain(stream)) };
        let name = ServerName::try_from(req.host.clone())
            .map_err(|_| ErrorCode::Case("HTTP-request-URI-invalid"))?;
        let tls = tokio_rustls::TlsConnector::from(config).connect(name, stream).await;
        Ok(Stream::Tls(Box::new(tls.map_err(|e| tls_error(&e))?)))
    };
    let stream = timeout(bounds.connect, connect)
        .await
        .map_err(|_| ErrorCode::Case("connection-timeout"))??;
    match stream {
        Stream::Plain(s) => over(hyper_util::rt::TokioIo::new(s), req, bounds).await,
        Stream::Tls(s) => over(hyper_util::rt::TokioIo::new(s), req, bounds).await,
    }
}

/// A connection to the server.
enum Stream {
    Plain(tokio::net::TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>),
}

/// Sends `req` over the connection `io` and reads the response.
async fn over<I>(io: I, req: Outgoing, bounds: &Bounds) -> Result<Received, ErrorCode>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(io).await.map_err(protocol_error)?;
    // The connection is driven beside the request on this runtime; it ends with it.
    tokio::spawn(conn);
    let mut builder = hyper::Request::builder()
        .method(req.method.as_str())
        .uri(req.path_with_query.as_str())
        .header(hyper::header::HOST, req.authority.as_str());
    for (name, value) in &req.headers {
        builder = builder.header(name.as_str(), value.as_slice());
    }
    let request = builder.body(Full::new(Bytes::from(req.body))).map_err(|_| {
        // Names, values, method and path were checked when the guest set them.
        ErrorCode::Case("HTTP-request-URI-invalid")
    })?;
    let response = timeout(bounds.first_byte, sender.send_request(request))
        .await
        .map_err(|_| ErrorCode::Case("connection-read-timeout"))?
        .map_err(protocol_error)?;
    let (parts, body) = response.into_parts();
    let body = timeout(bounds.body, Limited::new(body, bounds.max_body).collect())
        .await
        .map_err(|_| ErrorCode::Case("connection-read-timeout"))?
        .map_err(|e| match e.downcast::<hyper::Error>() {
            Ok(e) => protocol_error(*e),
            Err(_) => ErrorCode::ResponseBodySize(bounds.max_body as u64),
        })?;
    Ok(Received {
        status: parts.status.as_u16(),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), v.as_bytes().to_vec()))
            .collect(),
        body: body.to_bytes().to_vec(),
    })
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
