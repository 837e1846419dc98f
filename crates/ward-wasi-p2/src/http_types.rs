//! The host objects behind the `wasi:http/types` resources and the rules they keep: field
//! names and values (syntax, forbidden names, immutability), the byte budget every field and
//! body of one guest shares, and the values (`method`, `scheme`, `error-code`) as [`Val`]s.

use crate::body_pipe::{BodySource, BodyWriter, PipeWriteError, SourceReady};
use crate::host::some;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use ward_component::Val;

/// The default of [`crate::WasiP2CtxBuilder::http_max_bytes`]: what one guest's HTTP fields and
/// bodies may hold together.
pub(crate) const DEFAULT_MAX_BYTES: usize = 64 << 20;

/// Field names a guest may not set: they describe the connection, which the host owns
/// (hop-by-hop fields and `host`, which comes from the request's authority).
const FORBIDDEN: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "host",
    "http2-settings",
];

/// A byte count shared by everything one guest's HTTP objects hold, with a ceiling. Objects
/// take bytes when they grow and give them back when they are dropped.
#[derive(Clone, Debug)]
pub(crate) struct Budget {
    used: Arc<AtomicUsize>,
    limit: usize,
}

impl Budget {
    pub(crate) fn new(limit: usize) -> Budget {
        Budget { used: Arc::new(AtomicUsize::new(0)), limit }
    }

    /// Takes `n` bytes; false (and nothing taken) if that would pass the ceiling.
    fn take(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(n).filter(|total| *total <= self.limit)
            })
            .is_ok()
    }

    fn give(&self, n: usize) {
        let _ = self.used.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
            Some(used.saturating_sub(n))
        });
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }
}

/// Why a change to a `fields` failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FieldsError {
    /// `header-error.invalid-syntax`
    InvalidSyntax,
    /// `header-error.forbidden`
    Forbidden,
    /// `header-error.immutable`
    Immutable,
    /// The guest's HTTP byte budget is spent (a trap: `header-error` has no case for it).
    Full,
}

impl FieldsError {
    /// The `header-error` case, or `None` for [`FieldsError::Full`].
    pub(crate) fn case(&self) -> Option<&'static str> {
        match self {
            FieldsError::InvalidSyntax => Some("invalid-syntax"),
            FieldsError::Forbidden => Some("forbidden"),
            FieldsError::Immutable => Some("immutable"),
            FieldsError::Full => None,
        }
    }
}

/// Whether `name` is a field name: an RFC 9110 token.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// Whether `value` is a field value: visible characters, spaces and tabs, no line breaks and
/// no other control characters (bytes 0x80 and above are kept as they are).
pub(crate) fn valid_value(value: &[u8]) -> bool {
    value.iter().all(|b| *b == b'\t' || (*b >= 0x20 && *b != 0x7f))
}

fn forbidden(name: &str) -> bool {
    FORBIDDEN.iter().any(|f| f.eq_ignore_ascii_case(name))
}

/// A `fields` (headers or trailers): entries in order, names lower-cased (field names are
/// case-insensitive), and whether the guest may change them.
#[derive(Debug)]
pub(crate) struct Fields {
    entries: Vec<(String, Vec<u8>)>,
    mutable: bool,
    held: usize,
    budget: Budget,
}

impl Drop for Fields {
    fn drop(&mut self) {
        self.budget.give(self.held);
    }
}

fn entry_size(name: &str, value: &[u8]) -> usize {
    // A little for the entry itself, so that many empty entries still count.
    name.len() + value.len() + 32
}

impl Fields {
    /// Empty, mutable fields.
    pub(crate) fn new(budget: &Budget) -> Fields {
        Fields { entries: Vec::new(), mutable: true, held: 0, budget: budget.clone() }
    }

    /// Fields from host-made entries (a request's headers): immutable. Entries the guest
    /// could not have made (bad names or values) are left out.
    pub(crate) fn from_host(
        budget: &Budget,
        entries: &[(String, Vec<u8>)],
    ) -> Result<Fields, FieldsError> {
        let mut f = Fields::new(budget);
        for (name, value) in entries {
            if valid_name(name) && valid_value(value) {
                f.push(name, value.clone())?;
            }
        }
        f.mutable = false;
        Ok(f)
    }

    /// Fields from a guest's list (`from-list`): every name and value checked, mutable.
    pub(crate) fn from_list(
        budget: &Budget,
        entries: Vec<(String, Vec<u8>)>,
    ) -> Result<Fields, FieldsError> {
        let mut f = Fields::new(budget);
        for (name, value) in entries {
            f.append(&name, value)?;
        }
        Ok(f)
    }

    fn push(&mut self, name: &str, value: Vec<u8>) -> Result<(), FieldsError> {
        let size = entry_size(name, &value);
        if !self.budget.take(size) {
            return Err(FieldsError::Full);
        }
        self.held += size;
        self.entries.push((name.to_ascii_lowercase(), value));
        Ok(())
    }

    fn check(&self, name: &str) -> Result<(), FieldsError> {
        if !self.mutable {
            return Err(FieldsError::Immutable);
        }
        if !valid_name(name) {
            return Err(FieldsError::InvalidSyntax);
        }
        if forbidden(name) {
            return Err(FieldsError::Forbidden);
        }
        Ok(())
    }

    /// Makes these fields immutable (they now belong to a request or response).
    pub(crate) fn freeze(&mut self) {
        self.mutable = false;
    }

    pub(crate) fn get(&self, name: &str) -> Vec<&[u8]> {
        self.entries
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
            .collect()
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.entries.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    pub(crate) fn set(&mut self, name: &str, values: Vec<Vec<u8>>) -> Result<(), FieldsError> {
        self.check(name)?;
        if !values.iter().all(|v| valid_value(v)) {
            return Err(FieldsError::InvalidSyntax);
        }
        self.remove(name);
        for v in values {
            self.push(name, v)?;
        }
        Ok(())
    }

    pub(crate) fn delete(&mut self, name: &str) -> Result<(), FieldsError> {
        self.check(name)?;
        self.remove(name);
        Ok(())
    }

    fn remove(&mut self, name: &str) {
        let mut freed = 0;
        self.entries.retain(|(n, v)| {
            let keep = !n.eq_ignore_ascii_case(name);
            if !keep {
                freed += entry_size(n, v);
            }
            keep
        });
        self.held -= freed;
        self.budget.give(freed);
    }

    pub(crate) fn append(&mut self, name: &str, value: Vec<u8>) -> Result<(), FieldsError> {
        self.check(name)?;
        if !valid_value(&value) {
            return Err(FieldsError::InvalidSyntax);
        }
        self.push(name, value)
    }

    pub(crate) fn entries(&self) -> &[(String, Vec<u8>)] {
        &self.entries
    }

    /// A mutable copy (`clone`), or an immutable one (a child `headers` handle).
    pub(crate) fn copy(&self, mutable: bool) -> Result<Fields, FieldsError> {
        let mut f = Fields::new(&self.budget);
        for (n, v) in &self.entries {
            f.push(n, v.clone())?;
        }
        f.mutable = mutable;
        Ok(f)
    }

    /// The value of `content-length`, if there is exactly one and it is a number.
    pub(crate) fn content_length(&self) -> Option<u64> {
        match self.get("content-length").as_slice() {
            [one] => std::str::from_utf8(one).ok()?.trim().parse().ok(),
            _ => None,
        }
    }

    /// The entries as a list of `(field-name, field-value)` tuples.
    pub(crate) fn to_val(&self) -> Val {
        Val::List(
            self.entries
                .iter()
                .map(|(n, v)| Val::Tuple(vec![Val::String(n.clone()), Val::Bytes(v.clone())]))
                .collect(),
        )
    }
}

/// A body being written (by `outgoing-body`'s stream), buffered up to the guest's budget.
#[derive(Debug)]
pub(crate) struct BodyBuf {
    bytes: Vec<u8>,
    /// `outgoing-body.finish` was called: the body is complete.
    pub(crate) finished: bool,
    /// A write was refused because the budget was spent.
    pub(crate) overflowed: bool,
    /// The length the headers announced (`content-length`), checked at `finish`.
    pub(crate) expected: Option<u64>,
    budget: Budget,
    /// Bytes written in all (buffered or streamed).
    written: u64,
    /// Where the bytes go once the body streams (a response the embedder reads as it is
    /// written) instead of being buffered.
    stream: Option<BodyWriter>,
    /// The trailer fields `finish` was given (they stay charged to the budget).
    pub(crate) trailers: Option<Fields>,
}

impl Drop for BodyBuf {
    fn drop(&mut self) {
        self.budget.give(self.bytes.len());
    }
}

/// A body buffer shared by an `outgoing-body` and the `output-stream` that writes it.
#[derive(Clone, Debug)]
pub(crate) struct SharedBody(Arc<Mutex<BodyBuf>>);

impl SharedBody {
    pub(crate) fn new(budget: &Budget, expected: Option<u64>) -> SharedBody {
        SharedBody(Arc::new(Mutex::new(BodyBuf {
            bytes: Vec::new(),
            finished: false,
            overflowed: false,
            expected,
            budget: budget.clone(),
            written: 0,
            stream: None,
            trailers: None,
        })))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, BodyBuf> {
        // Nothing panics while holding the lock; if something did, the buffer is still whole.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Why a body write failed.
pub(crate) enum BodyWriteError {
    /// The body was finished: the stream is closed.
    Closed,
    /// The budget is spent.
    TooLarge(usize),
    /// A streamed body's reader took nothing before the request's deadline.
    TimedOut,
}

impl BodyBuf {
    pub(crate) fn write(&mut self, bytes: &[u8]) -> Result<(), BodyWriteError> {
        if self.finished {
            return Err(BodyWriteError::Closed);
        }
        if let Some(stream) = &self.stream {
            // Not held, but bounded all the same: a streamed body may not pass the limit.
            if self.written.saturating_add(bytes.len() as u64) > self.budget.limit() as u64 {
                self.overflowed = true;
                return Err(BodyWriteError::TooLarge(self.budget.limit()));
            }
            stream.write(bytes).map_err(|e| match e {
                PipeWriteError::Closed => BodyWriteError::Closed,
                PipeWriteError::TimedOut => BodyWriteError::TimedOut,
            })?;
        } else {
            if !self.budget.take(bytes.len()) {
                self.overflowed = true;
                return Err(BodyWriteError::TooLarge(self.budget.limit()));
            }
            self.bytes.extend_from_slice(bytes);
        }
        self.written = self.written.saturating_add(bytes.len() as u64);
        Ok(())
    }

    /// The budget's limit (bytes).
    pub(crate) fn limit(&self) -> usize {
        self.budget.limit()
    }

    /// Bytes written in all.
    pub(crate) fn len(&self) -> u64 {
        self.written
    }

    /// Wakes a streamed body's reader for what was written.
    pub(crate) fn flush(&self) {
        if let Some(stream) = &self.stream {
            stream.flush();
        }
    }

    /// Marks the body complete (a streamed body's reader then sees its end).
    pub(crate) fn finish(&mut self, trailers: Option<Fields>) {
        self.finished = true;
        self.trailers = trailers;
        if !self.complete() {
            self.abandon();
        } else if let Some(stream) = &self.stream {
            stream.finish_with(self.trailer_entries());
        }
    }

    /// Finished without a refused write: a body that was finished after a write was refused
    /// is short of what the guest meant to send, and its reader must not see it as complete.
    pub(crate) fn complete(&self) -> bool {
        self.finished && !self.overflowed
    }

    /// The trailer fields, as name and value pairs.
    pub(crate) fn trailer_entries(&self) -> Vec<(String, Vec<u8>)> {
        self.trailers.as_ref().map(|t| t.entries().to_vec()).unwrap_or_default()
    }

    /// From now on the body streams to `writer`; what was buffered goes first.
    pub(crate) fn stream_to(&mut self, writer: BodyWriter) -> Result<(), PipeWriteError> {
        let buffered = self.take();
        // An empty queue takes any first write: this cannot wait.
        writer.write(&buffered)?;
        if self.complete() {
            writer.finish_with(self.trailer_entries());
        }
        self.stream = Some(writer);
        Ok(())
    }

    /// Ends a streamed body that was not finished: its reader sees an incomplete body now
    /// rather than when the body is dropped.
    pub(crate) fn abandon(&mut self) {
        if !self.complete() {
            self.stream = None;
        }
    }

    /// The bytes written (the buffer is left empty).
    pub(crate) fn take(&mut self) -> Vec<u8> {
        let bytes = std::mem::take(&mut self.bytes);
        self.budget.give(bytes.len());
        bytes
    }
}

/// An `error-code` the host reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ErrorCode {
    /// `HTTP-request-denied`: the host is not allowed.
    Denied,
    /// `HTTP-request-URI-invalid`
    UriInvalid,
    /// A case without a payload (`connection-refused`, `HTTP-protocol-error`, ...).
    Case(&'static str),
    /// A case whose payload is an option, with `none` (`HTTP-response-header-section-size`).
    CaseNone(&'static str),
    /// `DNS-error` without details.
    Dns,
    /// `HTTP-response-body-size(some(n))`: the body's length differs from `content-length`.
    ResponseBodySize(u64),
    /// `HTTP-request-body-size(some(n))`
    RequestBodySize(u64),
    /// `internal-error(some(message))`
    Internal(String),
    /// `TLS-alert-received` with the alert's description as its message.
    TlsAlert(String),
}

impl ErrorCode {
    pub(crate) fn to_val(&self) -> Val {
        let (case, payload) = match self {
            ErrorCode::Denied => ("HTTP-request-denied", None),
            ErrorCode::UriInvalid => ("HTTP-request-URI-invalid", None),
            ErrorCode::Case(case) => (*case, None),
            ErrorCode::CaseNone(case) => (*case, Some(some(None))),
            ErrorCode::Dns => (
                "DNS-error",
                Some(crate::host::record(vec![("rcode", some(None)), ("info-code", some(None))])),
            ),
            ErrorCode::ResponseBodySize(n) => {
                ("HTTP-response-body-size", Some(some(Some(Val::U64(*n)))))
            }
            ErrorCode::RequestBodySize(n) => {
                ("HTTP-request-body-size", Some(some(Some(Val::U64(*n)))))
            }
            ErrorCode::Internal(m) => ("internal-error", Some(some(Some(Val::String(m.clone()))))),
            ErrorCode::TlsAlert(m) => (
                "TLS-alert-received",
                Some(crate::host::record(vec![
                    ("alert-id", some(None)),
                    ("alert-message", some(Some(Val::String(m.clone())))),
                ])),
            ),
        };
        Val::Variant(case.to_string(), payload.map(Box::new))
    }

    /// A short description of an `error-code` value a guest passed (its case name, and the
    /// message of `internal-error`), at most 200 characters.
    pub(crate) fn describe(v: &Val) -> String {
        let s = match v {
            Val::Variant(case, Some(p)) if case == "internal-error" => match p.as_ref() {
                Val::Option(Some(m)) => match m.as_ref() {
                    Val::String(m) => format!("internal-error: {m}"),
                    _ => case.clone(),
                },
                _ => case.clone(),
            },
            Val::Variant(case, _) => case.clone(),
            other => other.kind().to_string(),
        };
        s.chars().take(200).collect()
    }
}

/// The standard methods by their `method` case names.
const METHODS: &[(&str, &str)] = &[
    ("get", "GET"),
    ("head", "HEAD"),
    ("post", "POST"),
    ("put", "PUT"),
    ("delete", "DELETE"),
    ("connect", "CONNECT"),
    ("options", "OPTIONS"),
    ("trace", "TRACE"),
    ("patch", "PATCH"),
];

/// A method as a `method` value.
pub(crate) fn method_to_val(method: &str) -> Val {
    match METHODS.iter().find(|(_, m)| *m == method) {
        Some((case, _)) => Val::Variant(case.to_string(), None),
        None => Val::Variant("other".into(), Some(Box::new(Val::String(method.to_string())))),
    }
}

/// A `method` value as a method; `None` if it is not one (`other` with a name that is not a
/// token).
pub(crate) fn method_from_val(v: &Val) -> Option<String> {
    match v {
        Val::Variant(case, None) => {
            METHODS.iter().find(|(c, _)| c == case).map(|(_, m)| m.to_string())
        }
        Val::Variant(case, Some(p)) if case == "other" => match p.as_ref() {
            Val::String(m) if valid_name(m) => Some(m.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// A scheme (`http`, `https`, or another) as a `scheme` value.
pub(crate) fn scheme_to_val(scheme: &str) -> Val {
    if scheme.eq_ignore_ascii_case("http") {
        Val::Variant("HTTP".into(), None)
    } else if scheme.eq_ignore_ascii_case("https") {
        Val::Variant("HTTPS".into(), None)
    } else {
        Val::Variant("other".into(), Some(Box::new(Val::String(scheme.to_string()))))
    }
}

/// A `scheme` value as a scheme; `None` if it is not one (RFC 3986: a letter, then letters,
/// digits, `+`, `-`, `.`).
pub(crate) fn scheme_from_val(v: &Val) -> Option<String> {
    match v {
        Val::Variant(case, None) if case == "HTTP" => Some("http".into()),
        Val::Variant(case, None) if case == "HTTPS" => Some("https".into()),
        Val::Variant(case, Some(p)) if case == "other" => match p.as_ref() {
            Val::String(s)
                if s.starts_with(|c: char| c.is_ascii_alphabetic())
                    && s.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
            {
                Some(s.to_ascii_lowercase())
            }
            _ => None,
        },
        _ => None,
    }
}

/// Whether `p` may be a request target's path and query: it starts with `/` (or is `*`) and
/// holds only visible ASCII.
pub(crate) fn valid_path_with_query(p: &str) -> bool {
    (p.starts_with('/') || p == "*") && p.bytes().all(|b| b.is_ascii_graphic())
}

/// Whether `a` may be an authority: `[userinfo@]host[:port]` of visible ASCII without `/`,
/// `?`, `#`, and with a numeric port if one is given.
pub(crate) fn valid_authority(a: &str) -> bool {
    if a.is_empty() || !a.bytes().all(|b| b.is_ascii_graphic() && !b"/?#".contains(&b)) {
        return false;
    }
    let (host, port) = split_authority(a);
    !host.is_empty() && port.is_none_or(|p| p.parse::<u16>().is_ok())
}

/// The host (lower-cased, without brackets around an IPv6 address) and the port of an
/// authority; the userinfo is dropped.
pub(crate) fn split_authority(a: &str) -> (String, Option<&str>) {
    let hostport = a.rsplit_once('@').map_or(a, |(_, h)| h);
    if let Some(rest) = hostport.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((host, tail)) => {
                (host.to_ascii_lowercase(), tail.strip_prefix(':').filter(|p| !p.is_empty()))
            }
            None => (String::new(), None),
        };
    }
    match hostport.rsplit_once(':') {
        Some((host, port)) => (host.to_ascii_lowercase(), Some(port).filter(|p| !p.is_empty())),
        None => (hostport.to_ascii_lowercase(), None),
    }
}

/// Whether the allow-list `allowed` lets a guest send a request to `authority` (with
/// `scheme`): an entry `host` allows every port of that host, an entry `host:port` only that
/// port (the scheme's default port when the authority names none); the entry `*` allows every
/// host (and `*:port` that port of every host). An authority without a host is never allowed.
pub(crate) fn host_allowed(allowed: &[String], scheme: &str, authority: &str) -> bool {
    let (host, port) = split_authority(authority);
    if host.is_empty() {
        return false;
    }
    let default = if scheme == "https" { "443" } else { "80" };
    let port = port.unwrap_or(default);
    allowed.iter().any(|entry| {
        let (h, p) = split_authority(entry);
        (h == "*" || h == host) && p.is_none_or(|p| p == port)
    })
}

/// A request the guest received (`incoming-request`).
#[derive(Debug)]
pub(crate) struct IncomingRequest {
    pub(crate) method: String,
    pub(crate) path_with_query: Option<String>,
    pub(crate) scheme: Option<String>,
    pub(crate) authority: Option<String>,
    pub(crate) headers: Fields,
    /// The body, until `consume` takes it.
    pub(crate) body: Option<BodyData>,
}

/// An incoming body: held whole, or streamed in by the embedder while the guest reads it.
#[derive(Debug)]
pub(crate) enum BodyData {
    Bytes(Arc<[u8]>),
    Source(BodySource),
}

impl From<Vec<u8>> for BodyData {
    fn from(bytes: Vec<u8>) -> BodyData {
        BodyData::Bytes(bytes.into())
    }
}

/// A response the guest received (`incoming-response`).
#[derive(Debug)]
pub(crate) struct IncomingResponse {
    pub(crate) status: u16,
    pub(crate) headers: Fields,
    pub(crate) body: Option<BodyData>,
}

/// A response being built (`outgoing-response`).
#[derive(Debug)]
pub(crate) struct OutgoingResponse {
    pub(crate) status: u16,
    pub(crate) headers: Fields,
    /// The body, once `body` handed it out.
    pub(crate) body: Option<SharedBody>,
}

/// A request being built (`outgoing-request`).
#[derive(Debug)]
pub(crate) struct OutgoingRequest {
    pub(crate) method: String,
    pub(crate) path_with_query: Option<String>,
    pub(crate) scheme: Option<String>,
    pub(crate) authority: Option<String>,
    pub(crate) headers: Fields,
    pub(crate) body: Option<SharedBody>,
}

/// `request-options`: the timeouts a guest asks for.
#[derive(Debug, Default)]
pub(crate) struct RequestOptions {
    pub(crate) connect: Option<Duration>,
    pub(crate) first_byte: Option<Duration>,
    pub(crate) between_bytes: Option<Duration>,
}

/// A `future-incoming-response`: the request is sent when the guest first asks for the
/// response (`get`), so that a body written after `handle` is complete by then.
#[derive(Debug)]
pub(crate) enum FutureResponse {
    Pending(Box<(OutgoingRequest, RequestOptions)>),
    /// `get` returned the result already.
    Taken,
}

/// The host object behind one `wasi:http/types` resource.
#[derive(Debug)]
pub(crate) enum HttpObject {
    Fields(Fields),
    IncomingRequest(IncomingRequest),
    /// An `incoming-body`: its bytes until `stream` hands them out, and for a streamed body
    /// where its end (and trailers) will be seen.
    IncomingBody(Option<BodyData>, Option<SourceReady>),
    /// A `future-trailers`: ready at once with no trailers (a body held whole), or when a
    /// streamed body ends, with its trailers; whether `get` returned it already.
    FutureTrailers {
        taken: bool,
        source: Option<SourceReady>,
    },
    OutgoingResponse(OutgoingResponse),
    /// An `outgoing-body`, whether `write` handed out its stream, and whether it is a
    /// request's (rather than a response's).
    OutgoingBody {
        body: SharedBody,
        written: bool,
        request: bool,
    },
    ResponseOutparam,
    OutgoingRequest(OutgoingRequest),
    RequestOptions(RequestOptions),
    FutureIncomingResponse(FutureResponse),
    IncomingResponse(IncomingResponse),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_rules() {
        let budget = Budget::new(1 << 20);
        let mut f = Fields::new(&budget);
        assert_eq!(f.append("X-A", b"1".to_vec()), Ok(()));
        assert_eq!(f.append("x-a", b"2".to_vec()), Ok(()));
        assert_eq!(f.get("X-a"), vec![&b"1"[..], &b"2"[..]]);
        assert_eq!(f.entries()[0].0, "x-a");
        assert_eq!(f.append("bad name", b"1".to_vec()), Err(FieldsError::InvalidSyntax));
        assert_eq!(f.append("x-b", b"a\r\nb".to_vec()), Err(FieldsError::InvalidSyntax));
        assert_eq!(f.append("Transfer-Encoding", b"chunked".to_vec()), Err(FieldsError::Forbidden));
        assert_eq!(f.set("x-a", vec![b"3".to_vec()]), Ok(()));
        assert_eq!(f.get("x-a"), vec![&b"3"[..]]);
        assert_eq!(f.delete("x-a"), Ok(()));
        assert!(!f.has("x-a"));
        let mut frozen = f.copy(false).unwrap();
        assert_eq!(frozen.append("x-c", b"1".to_vec()), Err(FieldsError::Immutable));
        frozen.freeze();
        assert_eq!(f.append("content-length", b" 12 ".to_vec()), Ok(()));
        assert_eq!(f.content_length(), Some(12));
    }

    #[test]
    fn the_budget_is_shared_and_given_back() {
        let budget = Budget::new(100);
        let mut a = Fields::new(&budget);
        assert_eq!(a.append("x", vec![b'a'; 60]), Ok(()));
        let mut b = Fields::new(&budget);
        assert_eq!(b.append("y", vec![b'a'; 60]), Err(FieldsError::Full));
        drop(a);
        assert_eq!(b.append("y", vec![b'a'; 60]), Ok(()));
        let body = SharedBody::new(&budget, None);
        assert!(matches!(body.lock().write(&[0; 10]), Err(BodyWriteError::TooLarge(100))));
        assert!(body.lock().overflowed);
        b.delete("y").unwrap();
        assert!(body.lock().write(&[0; 10]).is_ok());
        body.lock().finished = true;
        assert!(matches!(body.lock().write(&[0; 1]), Err(BodyWriteError::Closed)));
    }

    #[test]
    fn values_and_authorities() {
        assert_eq!(method_from_val(&method_to_val("PATCH")).as_deref(), Some("PATCH"));
        assert_eq!(method_from_val(&method_to_val("PURGE")).as_deref(), Some("PURGE"));
        let bad = Val::Variant("other".into(), Some(Box::new(Val::String("A B".into()))));
        assert_eq!(method_from_val(&bad), None);
        assert_eq!(scheme_from_val(&scheme_to_val("HTTPS")).as_deref(), Some("https"));
        assert!(valid_authority("example.com:8080"));
        assert!(valid_authority("[::1]:80"));
        assert!(!valid_authority("example.com:http"));
        assert!(!valid_authority("a/b"));
        assert!(valid_path_with_query("/a?b=c"));
        assert!(!valid_path_with_query("/a b"));
        let allowed = vec!["example.com".to_string(), "api.test:8080".to_string()];
        assert!(host_allowed(&allowed, "http", "EXAMPLE.com:1234"));
        assert!(host_allowed(&allowed, "http", "user@api.test:8080"));
        assert!(!host_allowed(&allowed, "http", "api.test"));
        assert!(!host_allowed(&allowed, "http", "example.org"));
        assert!(!host_allowed(&[], "http", "example.com"));
        assert!(host_allowed(&["localhost:80".into()], "http", "localhost"));
        let any = vec!["*".to_string()];
        assert!(host_allowed(&any, "https", "example.org"));
        assert!(host_allowed(&any, "http", "10.0.0.1:8080"));
        assert!(!host_allowed(&any, "http", ""));
        assert!(!host_allowed(&any, "http", ":80"));
        let any_443 = vec!["*:443".to_string()];
        assert!(host_allowed(&any_443, "https", "example.org"));
        assert!(!host_allowed(&any_443, "http", "example.org"));
    }
}
