//! `wasi:sockets/udp` and `udp-create-socket`: a non-blocking host datagram socket and the
//! datagram streams `stream` hands out (only the latest pair works; older ones answer
//! `invalid-state`).
//!
//! Bounds: a datagram carries at most [`MAX_DATAGRAM`] bytes (`datagram-too-large` beyond, before
//! any host call); `receive` returns at most [`MAX_RECEIVE`] datagrams whatever the guest asks
//! for, into one buffer of [`MAX_DATAGRAM`] bytes; `check-send` permits at most [`MAX_SEND`].

use super::network::{self, addr_val, arg_addr, net_result, ErrorCode, Family, NetResult};
use super::policy::Use;
use super::{push, unit_result, HostSocket, SockWait, SocketObject};
use crate::ctx::WasiP2Ctx;
use crate::host::*;
use crate::io::new_pollable;
use crate::table::{wrong, Pollable};
use rustix::event::PollFlags;
use rustix::fd::{AsFd, BorrowedFd};
use rustix::io::Errno;
use rustix::net::{RecvFlags, SendFlags, SocketType};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use ward_component::{Result, Val};

const UDP: &str = "wasi:sockets/udp";
const CREATE: &str = "wasi:sockets/udp-create-socket";

/// The largest datagram sent or received.
pub(crate) const MAX_DATAGRAM: usize = 65_535;
/// The most datagrams one `receive` returns.
pub(crate) const MAX_RECEIVE: u64 = 16;
/// The most datagrams one `check-send` permits.
pub(crate) const MAX_SEND: u64 = 16;

/// The host socket, shared by the socket and its streams.
pub(crate) struct UdpShared {
    pub(crate) sock: HostSocket,
    /// Which pair of streams is current.
    generation: AtomicU64,
}

impl UdpShared {
    fn fd(&self) -> BorrowedFd<'_> {
        self.sock.fd.as_fd()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Unbound,
    BindStarted,
    Bound,
}

/// A `udp-socket`.
pub(crate) struct UdpSocket {
    family: Family,
    state: State,
    shared: Arc<UdpShared>,
    remote: Option<SocketAddr>,
}

/// An `incoming-datagram-stream`.
pub(crate) struct IncomingDatagrams {
    shared: Arc<UdpShared>,
    generation: u64,
}

/// An `outgoing-datagram-stream`.
pub(crate) struct OutgoingDatagrams {
    shared: Arc<UdpShared>,
    generation: u64,
    family: Family,
    remote: Option<SocketAddr>,
    /// What the last `check-send` permitted and no `send` used yet.
    permit: u64,
}

impl super::Socket for UdpSocket {
    fn get(ctx: &mut WasiP2Ctx, rep: u32) -> Result<&mut UdpSocket> {
        match super::object(ctx, rep) {
            Some(SocketObject::Udp(s)) => Ok(s),
            _ => Err(wrong("udp-socket")),
        }
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.shared.fd()
    }

    fn family(&self) -> Family {
        self.family
    }
}

fn socket(ctx: &mut WasiP2Ctx, rep: u32) -> Result<&mut UdpSocket> {
    <UdpSocket as super::Socket>::get(ctx, rep)
}

fn incoming(ctx: &mut WasiP2Ctx, rep: u32) -> Result<&mut IncomingDatagrams> {
    match super::object(ctx, rep) {
        Some(SocketObject::Incoming(s)) => Ok(s),
        _ => Err(wrong("incoming-datagram-stream")),
    }
}

fn outgoing(ctx: &mut WasiP2Ctx, rep: u32) -> Result<&mut OutgoingDatagrams> {
    match super::object(ctx, rep) {
        Some(SocketObject::Outgoing(s)) => Ok(s),
        _ => Err(wrong("outgoing-datagram-stream")),
    }
}

fn current(shared: &UdpShared, generation: u64) -> NetResult<()> {
    if shared.generation.load(Ordering::SeqCst) == generation {
        Ok(())
    } else {
        Err(ErrorCode::InvalidState)
    }
}

fn start_bind(ctx: &mut WasiP2Ctx, p: &[Val]) -> Result<NetResult<()>> {
    super::check_network(ctx, p, 1)?;
    let addr = arg_addr(p, 2)?;
    let allowed = ctx.net.policy.allows(Use::UdpBind, addr);
    let s = socket(ctx, arg_rep(p, 0)?)?;
    Ok((|| {
        match s.state {
            State::Unbound => {}
            State::BindStarted => return Err(ErrorCode::ConcurrencyConflict),
            State::Bound => return Err(ErrorCode::InvalidState),
        }
        super::bind(s.shared.fd(), s.family, addr, allowed, false)?;
        s.state = State::BindStarted;
        Ok(())
    })())
}

fn stream(ctx: &mut WasiP2Ctx, ty: &Types, p: &[Val]) -> Result<Option<Val>> {
    let remote = match p.get(1) {
        Some(Val::Option(None)) => None,
        Some(Val::Option(Some(v))) => {
            Some(network::socket_addr_of(v).ok_or_else(|| bad_arg(1, "ip-socket-address"))?)
        }
        _ => return Err(bad_arg(1, "option<ip-socket-address>")),
    };
    let allowed = remote.is_none_or(|a| ctx.net.policy.allows(Use::UdpSend, a));
    let s = socket(ctx, arg_rep(p, 0)?)?;
    let r = (|| {
        if s.state != State::Bound {
            return Err(ErrorCode::InvalidState);
        }
        if let Some(a) = remote {
            network::check_remote(s.family, a)?;
            if !allowed {
                return Err(ErrorCode::AccessDenied);
            }
        }
        if s.remote.is_some() {
            rustix::net::connect_unspec(s.shared.fd()).map_err(ErrorCode::from_errno)?;
            s.remote = None;
        }
        if let Some(a) = remote {
            rustix::net::connect(s.shared.fd(), &a).map_err(ErrorCode::from_errno)?;
            s.remote = Some(a);
        }
        Ok(s.shared.generation.fetch_add(1, Ordering::SeqCst) + 1)
    })();
    let generation = match r {
        Ok(g) => g,
        Err(code) => return net_result(Err(code)),
    };
    let (shared, family, remote) = (s.shared.clone(), s.family, s.remote);
    let inc = IncomingDatagrams { shared: shared.clone(), generation };
    let out = OutgoingDatagrams { shared, generation, family, remote, permit: 0 };
    let inc = push(ctx, &ty.sockets.incoming_datagrams, SocketObject::Incoming(inc))?;
    let out = push(ctx, &ty.sockets.outgoing_datagrams, SocketObject::Outgoing(out))?;
    net_result(Ok(Some(Val::Tuple(vec![inc, out]))))
}

fn receive(ctx: &mut WasiP2Ctx, p: &[Val]) -> Result<Option<Val>> {
    let max = arg_u64(p, 1)?.min(MAX_RECEIVE);
    let s = incoming(ctx, arg_rep(p, 0)?)?;
    if let Err(code) = current(&s.shared, s.generation) {
        return net_result(Err(code));
    }
    let mut got = Vec::new();
    if max == 0 {
        return net_result(Ok(Some(Val::List(got))));
    }
    let mut buf = vec![0u8; MAX_DATAGRAM];
    while (got.len() as u64) < max {
        match rustix::net::recvfrom(s.shared.fd(), &mut buf[..], RecvFlags::empty()) {
            Ok((_, n, Some(from))) => {
                let Ok(from) = network::from_host(from) else { continue };
                let data = Val::Bytes(buf[..n.min(MAX_DATAGRAM)].to_vec());
                got.push(record(vec![("data", data), ("remote-address", addr_val(from))]));
            }
            Ok((_, _, None)) => {}
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => break,
            Err(e) if got.is_empty() => return net_result(Err(ErrorCode::from_errno(e))),
            Err(_) => break,
        }
    }
    net_result(Ok(Some(Val::List(got))))
}

fn check_send(ctx: &mut WasiP2Ctx, p: &[Val]) -> Result<Option<Val>> {
    let s = outgoing(ctx, arg_rep(p, 0)?)?;
    if let Err(code) = current(&s.shared, s.generation) {
        return net_result(Err(code));
    }
    s.permit = if crate::wait::fd_ready(s.shared.fd(), PollFlags::OUT) { MAX_SEND } else { 0 };
    net_result(Ok(Some(Val::U64(s.permit))))
}

/// One `outgoing-datagram`: its bytes and address.
fn datagram(v: &Val) -> Option<(Vec<u8>, Option<SocketAddr>)> {
    let Val::Record(fields) = v else { return None };
    let mut data = None;
    let mut remote = None;
    for (name, v) in fields {
        match (name.as_str(), v) {
            ("data", v) => {
                data = Some(arg_bytes(std::slice::from_ref(v), 0).ok()?.into_owned());
            }
            ("remote-address", Val::Option(None)) => remote = Some(None),
            ("remote-address", Val::Option(Some(a))) => {
                remote = Some(Some(network::socket_addr_of(a)?));
            }
            _ => return None,
        }
    }
    Some((data?, remote?))
}

fn send(ctx: &mut WasiP2Ctx, p: &[Val]) -> Result<Option<Val>> {
    let Some(Val::List(items)) = p.get(1) else {
        return Err(bad_arg(1, "list<outgoing-datagram>"));
    };
    let policy = ctx.net.policy.clone();
    let s = outgoing(ctx, arg_rep(p, 0)?)?;
    if let Err(code) = current(&s.shared, s.generation) {
        return net_result(Err(code));
    }
    if items.len() as u64 > s.permit {
        return Err(trap(format!(
            "outgoing-datagram-stream.send: {} datagrams, but check-send permitted {}",
            items.len(),
            s.permit
        )));
    }
    s.permit = 0;
    let mut sent = 0u64;
    for item in items {
        let (data, to) = datagram(item).ok_or_else(|| bad_arg(1, "outgoing-datagram"))?;
        let r = (|| {
            if data.len() > MAX_DATAGRAM {
                return Err(ErrorCode::DatagramTooLarge);
            }
            let flags = SendFlags::NOSIGNAL | SendFlags::DONTWAIT;
            let host = |e: Errno| match e {
                Errno::AGAIN => ErrorCode::WouldBlock,
                e => ErrorCode::from_errno(e),
            };
            match (s.remote, to) {
                (Some(remote), Some(to)) if to != remote => Err(ErrorCode::InvalidArgument),
                (Some(_), _) => rustix::net::send(s.shared.fd(), &data, flags).map_err(host),
                (None, None) => Err(ErrorCode::InvalidArgument),
                (None, Some(to)) => {
                    network::check_remote(s.family, to)?;
                    if !policy.allows(Use::UdpSend, to) {
                        return Err(ErrorCode::AccessDenied);
                    }
                    rustix::net::sendto(s.shared.fd(), &data, flags, &to).map_err(host)
                }
            }
        })();
        match r {
            Ok(_) => sent += 1,
            // Nothing more can go now: report what went.
            Err(ErrorCode::WouldBlock) => break,
            Err(code) if sent == 0 => return net_result(Err(code)),
            Err(_) => break,
        }
    }
    net_result(Ok(Some(Val::U64(sent))))
}

/// `wasi:sockets/udp` and `wasi:sockets/udp-create-socket`.
pub(crate) fn add_udp<T: 'static, G>(r: &mut Reg<'_, T, G>) -> Result<()>
where
    G: Fn(&mut T) -> &mut WasiP2Ctx + Send + Sync + Copy + 'static,
{
    let t = r.types.clone();
    let s = &t.sockets;
    r.resource(CREATE, "network", &s.network)?;
    r.resource(CREATE, "udp-socket", &s.udp_socket)?;
    r.func(CREATE, "create-udp-socket", |ctx, ty, p| {
        let family = Family::arg(p, 0)?;
        let made = HostSocket::open(&ctx.net, family, SocketType::DGRAM).map(|sock| {
            let shared = Arc::new(UdpShared { sock, generation: AtomicU64::new(0) });
            let state = State::Unbound;
            SocketObject::Udp(Box::new(UdpSocket { family, state, shared, remote: None }))
        });
        super::created(ctx, &ty.sockets.udp_socket, made)
    })?;

    let resources = [
        ("pollable", &t.pollable),
        ("network", &s.network),
        ("udp-socket", &s.udp_socket),
        ("incoming-datagram-stream", &s.incoming_datagrams),
        ("outgoing-datagram-stream", &s.outgoing_datagrams),
    ];
    for (name, ty) in resources {
        r.resource(UDP, name, ty)?;
    }
    let m = |name: &str| format!("[method]udp-socket.{name}");
    r.func(UDP, &m("start-bind"), |ctx, _, p| unit_result(start_bind(ctx, p)?))?;
    r.func(UDP, &m("finish-bind"), |ctx, _, p| {
        let s = socket(ctx, arg_rep(p, 0)?)?;
        super::finish_step(&mut s.state, State::BindStarted, State::Bound)
    })?;
    r.func(UDP, &m("stream"), stream)?;
    r.func(UDP, &m("local-address"), |ctx, _, p| {
        let s = socket(ctx, arg_rep(p, 0)?)?;
        super::local_address(s.state == State::Bound, s.shared.fd())
    })?;
    r.func(UDP, &m("remote-address"), |ctx, _, p| {
        let s = socket(ctx, arg_rep(p, 0)?)?;
        net_result(s.remote.map(|a| Some(addr_val(a))).ok_or(ErrorCode::InvalidState))
    })?;
    r.func(UDP, &m("address-family"), |ctx, _, p| {
        Ok(Some(socket(ctx, arg_rep(p, 0)?)?.family.val()))
    })?;
    r.func(UDP, &m("subscribe"), |ctx, ty, p| {
        socket(ctx, arg_rep(p, 0)?)?;
        // Every operation of the socket itself completes at once.
        new_pollable(ctx, ty, Pollable::Ready)
    })?;
    super::add_common_options(
        r,
        UDP,
        "udp-socket",
        "unicast-hop-limit",
        super::with_fd::<UdpSocket>,
    )?;

    let inc = |name: &str| format!("[method]incoming-datagram-stream.{name}");
    r.func(UDP, &inc("receive"), |ctx, _, p| receive(ctx, p))?;
    r.func(UDP, &inc("subscribe"), |ctx, ty, p| {
        let shared = incoming(ctx, arg_rep(p, 0)?)?.shared.clone();
        new_pollable(ctx, ty, Pollable::Socket(SockWait::UdpRead(shared)))
    })?;
    let out = |name: &str| format!("[method]outgoing-datagram-stream.{name}");
    r.func(UDP, &out("check-send"), |ctx, _, p| check_send(ctx, p))?;
    r.func(UDP, &out("send"), |ctx, _, p| send(ctx, p))?;
    r.func(UDP, &out("subscribe"), |ctx, ty, p| {
        let shared = outgoing(ctx, arg_rep(p, 0)?)?.shared.clone();
        new_pollable(ctx, ty, Pollable::Socket(SockWait::UdpWrite(shared)))
    })?;
    Ok(())
}
