//! Sending an outgoing request the allow-list let through: plain HTTP/1.1 over TCP with
//! hyper's client, on a current-thread tokio runtime of its own, bounded in time (connect,
//! first byte, whole body; the name lookup counts toward connecting) and in the size of the
//! response body.

use crate::http_types::ErrorCode;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use std::io;
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
    let stream = timeout(bounds.connect, tokio::net::TcpStream::connect(&addrs[..]))
        .await
        .map_err(|_| ErrorCode::Case("connection-timeout"))?
        .map_err(|e| connect_error(&e))?;
    let io = hyper_util::rt::TokioIo::new(stream);
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
