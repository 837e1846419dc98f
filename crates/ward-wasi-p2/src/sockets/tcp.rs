//! `wasi:sockets/tcp` and `tcp-create-socket`: the WIT's state machine over a non-blocking
//! host socket, and the socket's `wasi:io` streams.
//!
//! Bind and listen happen in `start-*` (the host call cannot block); their `finish-*` only
//! complete the transition. `start-connect` starts a non-blocking connect and `finish-connect`
//! asks the socket whether it completed. An output stream holds at most [`PERMIT`] bytes the
//! host could not send yet; `check-write` permits no more until they are gone.

use super::network::{self, addr_val, arg_addr, net_result, ErrorCode, Family, NetResult};
use super::policy::Use;
use super::{push, unit_result, HostSocket, SockWait, SocketObject};
use crate::ctx::WasiP2Ctx;
use crate::host::*;
use crate::io::{new_pollable, StreamErr};
use crate::table::{wrong, InputStream, Object, OutputStream, Pollable};
use crate::wait::{self, Interest};
use rustix::event::PollFlags;
use rustix::fd::{AsFd, BorrowedFd};
use rustix::io::Errno;
use rustix::net::{RecvFlags, SendFlags, Shutdown, SocketFlags, SocketType};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use ward::InterruptHandle;
use ward_component::{Result, Val};

const TCP: &str = "wasi:sockets/tcp";
const CREATE: &str = "wasi:sockets/tcp-create-socket";

/// What `check-write` permits at once, and the most a TCP output stream holds in the host.
pub(crate) const PERMIT: u64 = 64 << 10;
/// The most bytes one read of a TCP input stream returns.
const MAX_READ: u64 = 64 << 10;
/// Bounds of the keep-alive options (Linux's own).
const MAX_KEEPALIVE_SECS: u64 = 32_767;
const MAX_KEEPALIVE_COUNT: u32 = 127;

/// What the socket's pollable waits for (`TcpShared::phase`).
const PHASE_READY: u8 = 0;
const PHASE_CONNECTING: u8 = 1;
const PHASE_LISTENING: u8 = 2;

/// The host side of a TCP socket, shared by the socket, its streams and pollables.
pub(crate) struct TcpShared {
    sock: HostSocket,
    phase: AtomicU8,
    /// `shutdown(receive)`: the input stream is closed.
    recv_shut: AtomicBool,
    send: Mutex<SendState>,
}

/// The output side: bytes accepted from the guest and not yet sent, and whether the stream is
/// closed (shut down, or a send failed).
#[derive(Default)]
struct SendState {
    pending: Vec<u8>,
    closed: bool,
}

impl TcpShared {
    fn new(sock: HostSocket, phase: u8) -> Arc<TcpShared> {
        Arc::new(TcpShared {
            sock,
            phase: AtomicU8::new(phase),
            recv_shut: AtomicBool::new(false),
            send: Mutex::new(SendState::default()),
        })
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.sock.fd.as_fd()
    }

    fn send_state(&self) -> MutexGuard<'_, SendState> {
        self.send.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn socket_interest(&self) -> Interest<'_> {
        match self.phase.load(Ordering::SeqCst) {
            PHASE_CONNECTING => Interest::Fd(self.fd(), PollFlags::OUT),
            PHASE_LISTENING => Interest::Fd(self.fd(), PollFlags::IN),
            _ => Interest::Ready,
        }
    }

    pub(crate) fn read_interest(&self) -> Interest<'_> {
        if self.recv_shut.load(Ordering::SeqCst) {
            Interest::Ready
        } else {
            Interest::Fd(self.fd(), PollFlags::IN)
        }
    }

    pub(crate) fn write_interest(&self) -> Interest<'_> {
        let s = self.send_state();
        if s.closed || s.pending.is_empty() {
            Interest::Ready
        } else {
            Interest::Fd(self.fd(), PollFlags::OUT)
        }
    }

    /// Sends what is pending without blocking; a failure closes the stream.
    fn try_flush(&self, s: &mut SendState) -> Result<(), StreamErr> {
        while !s.pending.is_empty() {
            match rustix::net::send(self.fd(), &s.pending, SendFlags::NOSIGNAL) {
                Ok(n) => {
                    s.pending.drain(..n);
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => return Ok(()),
                Err(e) => {
                    s.closed = true;
                    s.pending = Vec::new();
                    return Err(StreamErr::Failed(e.into()));
                }
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Unbound,
    BindStarted,
    Bound,
    ListenStarted,
    Listening,
    Connecting,
    Connected,
    Closed,
}

impl State {
    fn in_progress(self) -> bool {
        matches!(self, State::BindStarted | State::ListenStarted | State::Connecting)
    }
}

/// A `tcp-socket`.
pub(crate) struct TcpSocket {
    family: Family,
    state: State,
    shared: Arc<TcpShared>,
    backlog: u32,
}

impl super::Socket for TcpSocket {
    fn get(ctx: &mut WasiP2Ctx, rep: u32) -> Result<&mut TcpSocket> {
        match super::object(ctx, rep) {
            Some(SocketObject::Tcp(s)) => Ok(s),
            _ => Err(wrong("tcp-socket")),
        }
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.shared.fd()
    }

    fn family(&self) -> Family {
        self.family
    }
}

fn socket(ctx: &mut WasiP2Ctx, rep: u32) -> Result<&mut TcpSocket> {
    <TcpSocket as super::Socket>::get(ctx, rep)
}

/// The streams of a connected socket.
fn streams(ctx: &mut WasiP2Ctx, ty: &Types, shared: &Arc<TcpShared>) -> Result<(Val, Val)> {
    let input = ctx.push(Object::Input(InputStream::Tcp(shared.clone())))?;
    let output = ctx.push(Object::Output(OutputStream::Tcp(shared.clone())))?;
    Ok((own(&ty.input, input), own(&ty.output, output)))
}

fn start_bind(ctx: &mut WasiP2Ctx, p: &[Val]) -> Result<NetResult<()>> {
    super::check_network(ctx, p, 1)?;
    let addr = arg_addr(p, 2)?;
    let allowed = ctx.net.policy.allows(Use::TcpBind, addr);
    let s = socket(ctx, arg_rep(p, 0)?)?;
    Ok((|| {
        match s.state {
            State::Unbound => {}
            st if st.in_progress() => return Err(ErrorCode::ConcurrencyConflict),
            _ => return Err(ErrorCode::InvalidState),
        }
        // The WIT: a recently closed socket's TIME_WAIT must not stop a bind.
        super::bind(s.shared.fd(), s.family, addr, allowed, true)?;
        s.state = State::BindStarted;
        Ok(())
    })())
}

fn start_connect(ctx: &mut WasiP2Ctx, p: &[Val]) -> Result<NetResult<()>> {
    super::check_network(ctx, p, 1)?;
    let addr = arg_addr(p, 2)?;
    let allowed = ctx.net.policy.allows(Use::TcpConnect, addr);
    let s = socket(ctx, arg_rep(p, 0)?)?;
    Ok((|| {
        match s.state {
            State::Unbound | State::Bound => {}
            st if st.in_progress() => return Err(ErrorCode::ConcurrencyConflict),
            _ => return Err(ErrorCode::InvalidState),
        }
        network::check_remote(s.family, addr)?;
        if !allowed {
            return Err(ErrorCode::AccessDenied);
        }
        match rustix::net::connect(s.shared.fd(), &addr) {
            Ok(()) | Err(Errno::INPROGRESS) | Err(Errno::INTR) => {
                s.state = State::Connecting;
                s.shared.phase.store(PHASE_CONNECTING, Ordering::SeqCst);
                Ok(())
            }
            Err(e) => {
                s.state = State::Closed;
                Err(ErrorCode::from_errno(e))
            }
        }
    })())
}

fn finish_connect(ctx: &mut WasiP2Ctx, ty: &Types, p: &[Val]) -> Result<Option<Val>> {
    let s = socket(ctx, arg_rep(p, 0)?)?;
    if s.state != State::Connecting {
        return net_result(Err(ErrorCode::NotInProgress));
    }
    if !wait::fd_ready(s.shared.fd(), PollFlags::OUT) {
        return net_result(Err(ErrorCode::WouldBlock));
    }
    s.shared.phase.store(PHASE_READY, Ordering::SeqCst);
    let failed = match rustix::net::sockopt::socket_error(s.shared.fd()) {
        Ok(Ok(())) => None,
        Ok(Err(e)) | Err(e) => Some(ErrorCode::from_errno(e)),
    };
    if let Some(code) = failed {
        s.state = State::Closed;
        return net_result(Err(code));
    }
    s.state = State::Connected;
    let shared = s.shared.clone();
    let (i, o) = streams(ctx, ty, &shared)?;
    net_result(Ok(Some(Val::Tuple(vec![i, o]))))
}

fn start_listen(ctx: &mut WasiP2Ctx, p: &[Val]) -> Result<NetResult<()>> {
    let s = socket(ctx, arg_rep(p, 0)?)?;
    Ok((|| {
        match s.state {
            State::Bound => {}
            st if st.in_progress() => return Err(ErrorCode::ConcurrencyConflict),
            _ => return Err(ErrorCode::InvalidState),
        }
        rustix::net::listen(s.shared.fd(), s.backlog as i32).map_err(ErrorCode::from_errno)?;
        s.state = State::ListenStarted;
        Ok(())
    })())
}

fn accept(ctx: &mut WasiP2Ctx, ty: &Types, p: &[Val]) -> Result<Option<Val>> {
    let rep = arg_rep(p, 0)?;
    let s = socket(ctx, rep)?;
    if s.state != State::Listening {
        return net_result(Err(ErrorCode::InvalidState));
    }
    let (family, backlog, listener) = (s.family, s.backlog, s.shared.clone());
    // A place in the count first: past the limit, the connection stays queued in the host.
    let slot = match ctx.net.slot() {
        Ok(slot) => slot,
        Err(code) => return net_result(Err(code)),
    };
    let fd = loop {
        match rustix::net::accept_with(listener.fd(), SocketFlags::NONBLOCK | SocketFlags::CLOEXEC)
        {
            Ok(fd) => break fd,
            Err(Errno::INTR) => continue,
            Err(e) => return net_result(Err(ErrorCode::from_errno(e))),
        }
    };
    let shared = TcpShared::new(HostSocket::accepted(fd, slot), PHASE_READY);
    let sock = TcpSocket { family, state: State::Connected, shared: shared.clone(), backlog };
    let sock = push(ctx, &ty.sockets.tcp_socket, SocketObject::Tcp(Box::new(sock)))?;
    let (i, o) = streams(ctx, ty, &shared)?;
    net_result(Ok(Some(Val::Tuple(vec![sock, i, o]))))
}

fn local_address(ctx: &mut WasiP2Ctx, p: &[Val]) -> Result<Option<Val>> {
    let s = socket(ctx, arg_rep(p, 0)?)?;
    let bound = !matches!(s.state, State::Unbound | State::BindStarted | State::Closed);
    super::local_address(bound, s.shared.fd())
}

fn remote_address(ctx: &mut WasiP2Ctx, p: &[Val]) -> Result<Option<Val>> {
    let s = socket(ctx, arg_rep(p, 0)?)?;
    if s.state != State::Connected {
        return net_result(Err(ErrorCode::InvalidState));
    }
    let r = rustix::net::getpeername(s.shared.fd()).map_err(ErrorCode::from_errno);
    net_result(
        r.and_then(|a| a.ok_or(ErrorCode::InvalidState))
            .and_then(network::from_host)
            .map(|a| Some(addr_val(a))),
    )
}

fn set_backlog(ctx: &mut WasiP2Ctx, p: &[Val]) -> Result<Option<Val>> {
    let max = ctx.net.policy.limits.max_backlog;
    let value = arg_u64(p, 1)?;
    let s = socket(ctx, arg_rep(p, 0)?)?;
    if value == 0 {
        return unit_result(Err(ErrorCode::InvalidArgument));
    }
    if matches!(s.state, State::Connecting | State::Connected) {
        return unit_result(Err(ErrorCode::InvalidState));
    }
    s.backlog = value.min(u64::from(max)).max(1) as u32;
    if s.state == State::Listening {
        // Linux changes a listening socket's backlog by listening again.
        let r = rustix::net::listen(s.shared.fd(), s.backlog as i32);
        return unit_result(r.map_err(ErrorCode::from_errno));
    }
    unit_result(Ok(()))
}

fn shutdown(ctx: &mut WasiP2Ctx, p: &[Val]) -> Result<Option<Val>> {
    let how = match arg_enum(p, 1)? {
        "receive" => Shutdown::Read,
        "send" => Shutdown::Write,
        "both" => Shutdown::Both,
        _ => return Err(bad_arg(1, "shutdown-type")),
    };
    let s = socket(ctx, arg_rep(p, 0)?)?;
    if s.state != State::Connected {
        return unit_result(Err(ErrorCode::InvalidState));
    }
    if matches!(how, Shutdown::Read | Shutdown::Both) {
        s.shared.recv_shut.store(true, Ordering::SeqCst);
    }
    if matches!(how, Shutdown::Write | Shutdown::Both) {
        let mut st = s.shared.send_state();
        // What the guest wrote goes out first, as far as the host can send it now.
        let _ = s.shared.try_flush(&mut st);
        st.closed = true;
    }
    // The peer may already be gone; the WIT makes shutdown idempotent.
    match rustix::net::shutdown(s.shared.fd(), how) {
        Ok(()) | Err(Errno::NOTCONN) => unit_result(Ok(())),
        Err(e) => unit_result(Err(ErrorCode::from_errno(e))),
    }
}

/// A keep-alive duration option: whole seconds in the host, nanoseconds in the guest.
fn keepalive_secs(nanos: u64) -> NetResult<Duration> {
    if nanos == 0 {
        return Err(ErrorCode::InvalidArgument);
    }
    let secs = nanos.div_ceil(1_000_000_000).clamp(1, MAX_KEEPALIVE_SECS);
    Ok(Duration::from_secs(secs))
}

// --- streams -------------------------------------------------------------------------------

/// Reads at most `len` bytes; with `blocking`, waits until there is at least one (or the end).
pub(crate) fn read(
    s: &TcpShared,
    len: u64,
    blocking: bool,
    interrupt: Option<&InterruptHandle>,
) -> Result<Vec<u8>, StreamErr> {
    if s.recv_shut.load(Ordering::SeqCst) {
        return Err(StreamErr::Closed);
    }
    let want = len.min(MAX_READ) as usize;
    if want == 0 {
        return Ok(Vec::new());
    }
    let mut buf = vec![0u8; want];
    loop {
        match rustix::net::recv(s.fd(), &mut buf[..], RecvFlags::empty()) {
            Ok((_, 0)) => return Err(StreamErr::Closed),
            Ok((_, n)) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) if blocking => wait::block_on_fd(s.fd(), PollFlags::IN, interrupt)?,
            Err(Errno::AGAIN) => return Ok(Vec::new()),
            Err(e) => return Err(StreamErr::Failed(e.into())),
        }
    }
}

/// `check-write`: [`PERMIT`] once everything written before is sent, else 0.
pub(crate) fn check_write(s: &TcpShared) -> Result<u64, StreamErr> {
    let mut st = s.send_state();
    if st.closed {
        return Err(StreamErr::Closed);
    }
    s.try_flush(&mut st)?;
    Ok(if st.pending.is_empty() { PERMIT } else { 0 })
}

/// `write`: the bytes are the host's to send (at most what `check-write` permitted).
pub(crate) fn write(s: &TcpShared, bytes: &[u8]) -> Result<(), StreamErr> {
    let mut st = s.send_state();
    if st.closed {
        return Err(StreamErr::Closed);
    }
    if (st.pending.len() + bytes.len()) as u64 > PERMIT {
        return Err(StreamErr::Fatal(trap(format!(
            "output-stream.write: {} bytes, more than check-write permitted",
            bytes.len()
        ))));
    }
    st.pending.extend_from_slice(bytes);
    s.try_flush(&mut st)
}

/// `flush`; with `blocking`, waits until everything is sent.
pub(crate) fn flush(
    s: &TcpShared,
    blocking: bool,
    interrupt: Option<&InterruptHandle>,
) -> Result<(), StreamErr> {
    loop {
        let mut st = s.send_state();
        if st.closed && st.pending.is_empty() {
            return Err(StreamErr::Closed);
        }
        s.try_flush(&mut st)?;
        if st.pending.is_empty() || !blocking {
            return Ok(());
        }
        drop(st);
        wait::block_on_fd(s.fd(), PollFlags::OUT, interrupt)?;
    }
}

/// `blocking-write-and-flush`: sends all of `bytes` (the guest's own, already in the host),
/// waiting as needed.
pub(crate) fn write_all(
    s: &TcpShared,
    bytes: &[u8],
    interrupt: Option<&InterruptHandle>,
) -> Result<(), StreamErr> {
    for chunk in bytes.chunks(PERMIT as usize) {
        loop {
            let permit = check_write(s)?;
            if permit > 0 {
                break;
            }
            wait::block_on_fd(s.fd(), PollFlags::OUT, interrupt)?;
        }
        write(s, chunk)?;
    }
    flush(s, true, interrupt)
}

// --- registration --------------------------------------------------------------------------

/// `wasi:sockets/tcp` and `wasi:sockets/tcp-create-socket`.
pub(crate) fn add_tcp<T: 'static, G>(r: &mut Reg<'_, T, G>) -> Result<()>
where
    G: Fn(&mut T) -> &mut WasiP2Ctx + Send + Sync + Copy + 'static,
{
    let t = r.types.clone();
    let s = &t.sockets;
    r.resource(CREATE, "network", &s.network)?;
    r.resource(CREATE, "tcp-socket", &s.tcp_socket)?;
    r.func(CREATE, "create-tcp-socket", |ctx, ty, p| {
        let family = Family::arg(p, 0)?;
        let backlog = ctx.net.policy.limits.max_backlog;
        let made = HostSocket::open(&ctx.net, family, SocketType::STREAM).map(|sock| {
            let shared = TcpShared::new(sock, PHASE_READY);
            SocketObject::Tcp(Box::new(TcpSocket {
                family,
                state: State::Unbound,
                shared,
                backlog,
            }))
        });
        super::created(ctx, &ty.sockets.tcp_socket, made)
    })?;

    let resources = [
        ("input-stream", &t.input),
        ("output-stream", &t.output),
        ("pollable", &t.pollable),
        ("network", &s.network),
        ("tcp-socket", &s.tcp_socket),
    ];
    for (name, ty) in resources {
        r.resource(TCP, name, ty)?;
    }
    let m = |name: &str| format!("[method]tcp-socket.{name}");
    r.func(TCP, &m("start-bind"), |ctx, _, p| unit_result(start_bind(ctx, p)?))?;
    r.func(TCP, &m("finish-bind"), |ctx, _, p| {
        let s = socket(ctx, arg_rep(p, 0)?)?;
        super::finish_step(&mut s.state, State::BindStarted, State::Bound)
    })?;
    r.func(TCP, &m("start-connect"), |ctx, _, p| unit_result(start_connect(ctx, p)?))?;
    r.func(TCP, &m("finish-connect"), finish_connect)?;
    r.func(TCP, &m("start-listen"), |ctx, _, p| unit_result(start_listen(ctx, p)?))?;
    r.func(TCP, &m("finish-listen"), |ctx, _, p| {
        let s = socket(ctx, arg_rep(p, 0)?)?;
        if s.state == State::ListenStarted {
            s.shared.phase.store(PHASE_LISTENING, Ordering::SeqCst);
        }
        super::finish_step(&mut s.state, State::ListenStarted, State::Listening)
    })?;
    r.func(TCP, &m("accept"), accept)?;
    r.func(TCP, &m("local-address"), |ctx, _, p| local_address(ctx, p))?;
    r.func(TCP, &m("remote-address"), |ctx, _, p| remote_address(ctx, p))?;
    r.func(TCP, &m("is-listening"), |ctx, _, p| {
        Ok(Some(Val::Bool(socket(ctx, arg_rep(p, 0)?)?.state == State::Listening)))
    })?;
    r.func(TCP, &m("address-family"), |ctx, _, p| {
        Ok(Some(socket(ctx, arg_rep(p, 0)?)?.family.val()))
    })?;
    r.func(TCP, &m("set-listen-backlog-size"), |ctx, _, p| set_backlog(ctx, p))?;
    r.func(TCP, &m("subscribe"), |ctx, ty, p| {
        let shared = socket(ctx, arg_rep(p, 0)?)?.shared.clone();
        new_pollable(ctx, ty, Pollable::Socket(SockWait::Tcp(shared)))
    })?;
    r.func(TCP, &m("shutdown"), |ctx, _, p| shutdown(ctx, p))?;

    use rustix::net::sockopt as so;
    r.func(TCP, &m("keep-alive-enabled"), |ctx, _, p| {
        super::with_fd::<TcpSocket>(ctx, arg_rep(p, 0)?, &mut |fd, _| {
            super::option_result(so::socket_keepalive(fd), Val::Bool)
        })
    })?;
    r.func(TCP, &m("set-keep-alive-enabled"), |ctx, _, p| {
        let on = match p.get(1) {
            Some(Val::Bool(b)) => *b,
            _ => return Err(bad_arg(1, "bool")),
        };
        super::with_fd::<TcpSocket>(ctx, arg_rep(p, 0)?, &mut |fd, _| {
            unit_result(so::set_socket_keepalive(fd, on).map_err(ErrorCode::from_errno))
        })
    })?;
    // The two keep-alive durations: the WIT's nanoseconds, the host's whole seconds.
    type Read = fn(BorrowedFd<'_>) -> rustix::io::Result<Duration>;
    type Write = fn(BorrowedFd<'_>, Duration) -> rustix::io::Result<()>;
    let durations: [(&str, Read, Write); 2] = [
        ("keep-alive-idle-time", |fd| so::tcp_keepidle(fd), |fd, d| so::set_tcp_keepidle(fd, d)),
        ("keep-alive-interval", |fd| so::tcp_keepintvl(fd), |fd, d| so::set_tcp_keepintvl(fd, d)),
    ];
    for (name, read, write) in durations {
        r.func(TCP, &m(name), move |ctx, _, p| {
            super::with_fd::<TcpSocket>(ctx, arg_rep(p, 0)?, &mut |fd, _| {
                let nanos = |d: Duration| Val::U64(d.as_nanos().min(u128::from(u64::MAX)) as u64);
                super::option_result(read(fd), nanos)
            })
        })?;
        r.func(TCP, &m(&format!("set-{name}")), move |ctx, _, p| {
            let d = keepalive_secs(arg_u64(p, 1)?);
            super::with_fd::<TcpSocket>(ctx, arg_rep(p, 0)?, &mut |fd, _| {
                unit_result(d.and_then(|d| write(fd, d).map_err(ErrorCode::from_errno)))
            })
        })?;
    }
    r.func(TCP, &m("keep-alive-count"), |ctx, _, p| {
        super::with_fd::<TcpSocket>(ctx, arg_rep(p, 0)?, &mut |fd, _| {
            super::option_result(so::tcp_keepcnt(fd), Val::U32)
        })
    })?;
    r.func(TCP, &m("set-keep-alive-count"), |ctx, _, p| {
        let n = match p.get(1) {
            Some(Val::U32(n)) => *n,
            _ => return Err(bad_arg(1, "u32")),
        };
        super::with_fd::<TcpSocket>(ctx, arg_rep(p, 0)?, &mut |fd, _| {
            if n == 0 {
                return unit_result(Err(ErrorCode::InvalidArgument));
            }
            let n = n.min(MAX_KEEPALIVE_COUNT);
            unit_result(so::set_tcp_keepcnt(fd, n).map_err(ErrorCode::from_errno))
        })
    })?;
    super::add_common_options(r, TCP, "tcp-socket", "hop-limit", super::with_fd::<TcpSocket>)?;
    Ok(())
}
