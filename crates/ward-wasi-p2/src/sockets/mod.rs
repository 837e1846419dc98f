//! `wasi:sockets` 0.2: `network`, `instance-network`, `tcp`, `tcp-create-socket`, `udp`,
//! `udp-create-socket` and `ip-name-lookup`, on non-blocking host sockets.
//!
//! Nothing is reachable unless granted ([`policy`]): binding, connecting and sending check the
//! address against the context's grants *before* any host call, and a refusal is
//! `error-code.access-denied`. Sockets (accepted ones included) are counted per context; past
//! the limit, creating or accepting one is `new-socket-limit`. A socket's host descriptor is
//! shared with its streams and pollables and closed when the last of them is dropped; its
//! place in the count is freed at the same moment.
//!
//! - `network.rs`: error codes, addresses and their checks;
//! - `tcp.rs`: TCP sockets and their `wasi:io` streams;
//! - `udp.rs`: UDP sockets and datagram streams;
//! - `lookup.rs`: `ip-name-lookup`, each lookup on a short-lived thread of its own.

pub(crate) mod lookup;
pub(crate) mod network;
pub(crate) mod policy;
pub(crate) mod tcp;
pub(crate) mod udp;

use crate::ctx::WasiP2Ctx;
use crate::host::*;
use crate::table::Object;
use crate::wait::Interest;
use network::{ErrorCode, Family, NetResult};
use policy::NetPolicy;
use rustix::event::PollFlags;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::net::{SocketFlags, SocketType};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use ward_component::{ResourceType, Result, Val};

/// The resource types of `wasi:sockets`.
pub(crate) struct SocketTypes {
    pub(crate) network: ResourceType,
    pub(crate) tcp_socket: ResourceType,
    pub(crate) udp_socket: ResourceType,
    pub(crate) incoming_datagrams: ResourceType,
    pub(crate) outgoing_datagrams: ResourceType,
    pub(crate) resolve_stream: ResourceType,
}

/// A context's network state: what it was granted and how many sockets it holds.
#[derive(Debug, Default)]
pub(crate) struct NetState {
    pub(crate) policy: NetPolicy,
    pub(crate) live: Arc<AtomicUsize>,
    /// Name lookups running on their threads now.
    pub(crate) lookups: Arc<AtomicUsize>,
}

/// One of the context's socket places, given back when dropped.
#[derive(Debug)]
pub(crate) struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl NetState {
    /// A place for one more socket, or `new-socket-limit`.
    pub(crate) fn slot(&self) -> NetResult<Slot> {
        let max = self.policy.limits.max_sockets;
        self.live
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < max).then_some(n + 1))
            .map(|_| Slot(self.live.clone()))
            .map_err(|_| ErrorCode::NewSocketLimit)
    }
}

/// A host socket with its place in the count.
#[derive(Debug)]
pub(crate) struct HostSocket {
    pub(crate) fd: OwnedFd,
    _slot: Slot,
}

impl HostSocket {
    /// A new non-blocking host socket of `family` and `ty`, counted against the limit.
    pub(crate) fn open(net: &NetState, family: Family, ty: SocketType) -> NetResult<HostSocket> {
        let slot = net.slot()?;
        let fd = rustix::net::socket_with(
            family.host(),
            ty,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            None,
        )
        .map_err(|e| match ErrorCode::from_errno(e) {
            ErrorCode::InvalidArgument => ErrorCode::NotSupported,
            code => code,
        })?;
        if family == Family::V6 {
            // The WIT: IPv6 sockets are IPv6-only, always.
            rustix::net::sockopt::set_ipv6_v6only(&fd, true).map_err(ErrorCode::from_errno)?;
        }
        Ok(HostSocket { fd, _slot: slot })
    }

    /// An accepted connection's descriptor, counted with `slot`.
    pub(crate) fn accepted(fd: OwnedFd, slot: Slot) -> HostSocket {
        HostSocket { fd, _slot: slot }
    }
}

/// The objects behind the `wasi:sockets` resources.
pub(crate) enum SocketObject {
    Network,
    Tcp(Box<tcp::TcpSocket>),
    Udp(Box<udp::UdpSocket>),
    Incoming(udp::IncomingDatagrams),
    Outgoing(udp::OutgoingDatagrams),
    Lookup(lookup::Lookup),
}

/// What a socket pollable waits for.
pub(crate) enum SockWait {
    /// A TCP socket's pending operation (connect: writable; listening: a client waits).
    Tcp(Arc<tcp::TcpShared>),
    TcpRead(Arc<tcp::TcpShared>),
    TcpWrite(Arc<tcp::TcpShared>),
    UdpRead(Arc<udp::UdpShared>),
    UdpWrite(Arc<udp::UdpShared>),
    Lookup(Arc<lookup::LookupShared>),
}

impl SockWait {
    pub(crate) fn interest(&self) -> Interest<'_> {
        match self {
            SockWait::Tcp(s) => s.socket_interest(),
            SockWait::TcpRead(s) => s.read_interest(),
            SockWait::TcpWrite(s) => s.write_interest(),
            SockWait::UdpRead(s) => Interest::Fd(s.sock.fd.as_fd(), PollFlags::IN),
            SockWait::UdpWrite(s) => Interest::Fd(s.sock.fd.as_fd(), PollFlags::OUT),
            SockWait::Lookup(l) => {
                if l.done() {
                    Interest::Ready
                } else {
                    Interest::Later
                }
            }
        }
    }
}

/// The object behind a socket resource handle.
pub(crate) fn object(ctx: &mut WasiP2Ctx, rep: u32) -> Option<&mut SocketObject> {
    match ctx.table.get_mut(rep) {
        Some(Object::Socket(o)) => Some(o),
        _ => None,
    }
}

/// A new socket resource of type `ty`.
pub(crate) fn push(ctx: &mut WasiP2Ctx, ty: &ResourceType, o: SocketObject) -> Result<Val> {
    let rep = ctx.push(Object::Socket(o))?;
    Ok(own(ty, rep))
}

/// The `network` argument `i` must be a live network handle.
pub(crate) fn check_network(ctx: &mut WasiP2Ctx, p: &[Val], i: usize) -> Result<()> {
    match object(ctx, arg_rep(p, i)?) {
        Some(SocketObject::Network) => Ok(()),
        _ => Err(crate::table::wrong("network")),
    }
}

/// Defines every `wasi:sockets` interface.
pub(crate) fn add_sockets<T: 'static, G>(r: &mut Reg<'_, T, G>) -> Result<()>
where
    G: Fn(&mut T) -> &mut WasiP2Ctx + Send + Sync + Copy + 'static,
{
    let t = r.types.clone();
    let s = &t.sockets;
    const NETWORK: &str = "wasi:sockets/network";
    r.resource(NETWORK, "network", &s.network)?;
    r.resource(NETWORK, "error", &t.error)?;
    // Unstable in the WIT (`network-error-code`): the code of a stream's error, if it has one.
    r.func(NETWORK, "network-error-code", |ctx, _, p| {
        let code = match ctx.table.get(arg_rep(p, 0)?) {
            Some(Object::Error(e)) => ErrorCode::from_io(e),
            _ => return Err(crate::table::wrong("error")),
        };
        Ok(Some(some(code.map(|c| Val::Enum(c.name().into())))))
    })?;
    const INSTANCE: &str = "wasi:sockets/instance-network";
    r.resource(INSTANCE, "network", &s.network)?;
    r.func(INSTANCE, "instance-network", |ctx, ty, _| {
        Ok(Some(push(ctx, &ty.sockets.network, SocketObject::Network)?))
    })?;
    tcp::add_tcp(r)?;
    udp::add_udp(r)?;
    lookup::add_lookup(r)?;
    Ok(())
}

/// The `result` of a socket option: a host call's value or its error code.
pub(crate) fn option_result<V>(
    r: rustix::io::Result<V>,
    val: impl FnOnce(V) -> Val,
) -> Result<Option<Val>> {
    network::net_result(r.map(|v| Some(val(v))).map_err(ErrorCode::from_errno))
}

/// Checks of a `set-*-buffer-size` value: 0 is `invalid-argument`; others are capped at
/// [`MAX_BUFFER`] (the host caps them further).
pub(crate) fn buffer_size(v: u64) -> NetResult<usize> {
    if v == 0 {
        return Err(ErrorCode::InvalidArgument);
    }
    Ok(v.min(MAX_BUFFER as u64) as usize)
}

/// The largest socket buffer a guest may ask for.
pub(crate) const MAX_BUFFER: usize = 4 << 20;

/// A TCP or UDP socket object: how to find it, its host descriptor and family.
pub(crate) trait Socket: Sized {
    fn get(ctx: &mut WasiP2Ctx, rep: u32) -> Result<&mut Self>;
    fn fd(&self) -> BorrowedFd<'_>;
    fn family(&self) -> Family;
}

/// Calls `f` with the host descriptor and family of socket `rep` (or fails as a wrong handle).
pub(crate) type WithFd = fn(
    &mut WasiP2Ctx,
    u32,
    &mut dyn FnMut(BorrowedFd<'_>, Family) -> Result<Option<Val>>,
) -> Result<Option<Val>>;

/// The [`WithFd`] of socket kind `S`.
pub(crate) fn with_fd<S: Socket>(
    ctx: &mut WasiP2Ctx,
    rep: u32,
    f: &mut dyn FnMut(BorrowedFd<'_>, Family) -> Result<Option<Val>>,
) -> Result<Option<Val>> {
    let s = S::get(ctx, rep)?;
    f(s.fd(), s.family())
}

/// The checks and host call of `start-bind` once the socket's state allows it: the address
/// (see [`network::check_local`]), then the grant, then the bind (`reuse`: with
/// `SO_REUSEADDR`, which the WIT asks of TCP).
pub(crate) fn bind(
    fd: BorrowedFd<'_>,
    family: Family,
    addr: std::net::SocketAddr,
    allowed: bool,
    reuse: bool,
) -> NetResult<()> {
    network::check_local(family, addr)?;
    if !allowed {
        return Err(ErrorCode::AccessDenied);
    }
    if reuse {
        rustix::net::sockopt::set_socket_reuseaddr(fd, true).map_err(ErrorCode::from_errno)?;
    }
    rustix::net::bind(fd, &addr).map_err(ErrorCode::from_errno)
}

/// Defines `[method]RES.NAME` for the buffer-size and hop-limit options of a socket kind
/// (`hop` names the hop-limit option), given how to reach its descriptor.
pub(crate) fn add_common_options<T: 'static, G>(
    r: &mut Reg<'_, T, G>,
    iface: &'static str,
    res: &'static str,
    hop: &'static str,
    with_fd: WithFd,
) -> Result<()>
where
    G: Fn(&mut T) -> &mut WasiP2Ctx + Send + Sync + Copy + 'static,
{
    use rustix::net::sockopt as so;
    r.func(iface, &format!("[method]{res}.{hop}"), move |ctx, _, p| {
        with_fd(ctx, arg_rep(p, 0)?, &mut |fd, family| match family {
            Family::V4 => option_result(so::ip_ttl(fd), |v| Val::U8(v.min(255) as u8)),
            Family::V6 => option_result(so::ipv6_unicast_hops(fd), Val::U8),
        })
    })?;
    r.func(iface, &format!("[method]{res}.set-{hop}"), move |ctx, _, p| {
        let v = arg_u8(p, 1)?;
        with_fd(ctx, arg_rep(p, 0)?, &mut |fd, family| {
            if v == 0 {
                return unit_result(Err(ErrorCode::InvalidArgument));
            }
            let set = match family {
                Family::V4 => so::set_ip_ttl(fd, u32::from(v)),
                Family::V6 => so::set_ipv6_unicast_hops(fd, Some(v)),
            };
            unit_result(set.map_err(ErrorCode::from_errno))
        })
    })?;
    for (name, recv) in [("receive-buffer-size", true), ("send-buffer-size", false)] {
        r.func(iface, &format!("[method]{res}.{name}"), move |ctx, _, p| {
            with_fd(ctx, arg_rep(p, 0)?, &mut |fd, _| {
                let got = if recv {
                    so::socket_recv_buffer_size(fd)
                } else {
                    so::socket_send_buffer_size(fd)
                };
                option_result(got, |v| Val::U64(v as u64))
            })
        })?;
        r.func(iface, &format!("[method]{res}.set-{name}"), move |ctx, _, p| {
            let size = buffer_size(arg_u64(p, 1)?);
            with_fd(ctx, arg_rep(p, 0)?, &mut |fd, _| {
                let size = match size {
                    Ok(size) => size,
                    Err(e) => return unit_result(Err(e)),
                };
                let set = if recv {
                    so::set_socket_recv_buffer_size(fd, size)
                } else {
                    so::set_socket_send_buffer_size(fd, size)
                };
                unit_result(set.map_err(ErrorCode::from_errno))
            })
        })?;
    }
    Ok(())
}

/// A `finish-*` call: `from` (the operation's started state) becomes `to`; any other state
/// answers `not-in-progress`.
pub(crate) fn finish_step<S: PartialEq + Copy>(
    state: &mut S,
    from: S,
    to: S,
) -> Result<Option<Val>> {
    if *state != from {
        return unit_result(Err(ErrorCode::NotInProgress));
    }
    *state = to;
    unit_result(Ok(()))
}

/// `local-address` of a socket that is `bound` (or `invalid-state`).
pub(crate) fn local_address(bound: bool, fd: BorrowedFd<'_>) -> Result<Option<Val>> {
    if !bound {
        return network::net_result(Err(ErrorCode::InvalidState));
    }
    let r = rustix::net::getsockname(fd).map_err(ErrorCode::from_errno);
    network::net_result(r.and_then(network::from_host).map(|a| Some(network::addr_val(a))))
}

/// The answer of `create-*-socket`: the new socket resource, or why there is none.
pub(crate) fn created(
    ctx: &mut WasiP2Ctx,
    ty: &ResourceType,
    made: NetResult<SocketObject>,
) -> Result<Option<Val>> {
    match made {
        Ok(o) => {
            let v = push(ctx, ty, o)?;
            network::net_result(Ok(Some(v)))
        }
        Err(code) => network::net_result(Err(code)),
    }
}

/// `result<_, error-code>` as a value.
pub(crate) fn unit_result(r: NetResult<()>) -> Result<Option<Val>> {
    network::net_result(r.map(|()| None))
}
