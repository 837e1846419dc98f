//! `wasi:sockets/network` values: error codes, address families, socket addresses, and the
//! checks every address a guest passes goes through before it reaches the host.

use crate::host::{bad_arg, err, record};
use rustix::io::Errno;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use ward_component::{Result, Val};

/// `error-code`, the cases Ward returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorCode {
    Unknown,
    AccessDenied,
    NotSupported,
    InvalidArgument,
    OutOfMemory,
    Timeout,
    ConcurrencyConflict,
    NotInProgress,
    WouldBlock,
    InvalidState,
    NewSocketLimit,
    AddressNotBindable,
    AddressInUse,
    RemoteUnreachable,
    ConnectionRefused,
    ConnectionReset,
    ConnectionAborted,
    DatagramTooLarge,
    NameUnresolvable,
    TemporaryResolverFailure,
}

impl ErrorCode {
    pub(crate) fn name(self) -> &'static str {
        use ErrorCode::*;
        match self {
            Unknown => "unknown",
            AccessDenied => "access-denied",
            NotSupported => "not-supported",
            InvalidArgument => "invalid-argument",
            OutOfMemory => "out-of-memory",
            Timeout => "timeout",
            ConcurrencyConflict => "concurrency-conflict",
            NotInProgress => "not-in-progress",
            WouldBlock => "would-block",
            InvalidState => "invalid-state",
            NewSocketLimit => "new-socket-limit",
            AddressNotBindable => "address-not-bindable",
            AddressInUse => "address-in-use",
            RemoteUnreachable => "remote-unreachable",
            ConnectionRefused => "connection-refused",
            ConnectionReset => "connection-reset",
            ConnectionAborted => "connection-aborted",
            DatagramTooLarge => "datagram-too-large",
            NameUnresolvable => "name-unresolvable",
            TemporaryResolverFailure => "temporary-resolver-failure",
        }
    }

    /// The code for a failed host call.
    pub(crate) fn from_errno(e: Errno) -> ErrorCode {
        use ErrorCode::*;
        match e {
            Errno::ACCESS | Errno::PERM => AccessDenied,
            Errno::ADDRINUSE => AddressInUse,
            Errno::ADDRNOTAVAIL => AddressNotBindable,
            Errno::CONNREFUSED => ConnectionRefused,
            Errno::CONNRESET | Errno::PIPE => ConnectionReset,
            Errno::CONNABORTED => ConnectionAborted,
            Errno::TIMEDOUT => Timeout,
            Errno::HOSTUNREACH
            | Errno::HOSTDOWN
            | Errno::NETUNREACH
            | Errno::NETDOWN
            | Errno::NONET => RemoteUnreachable,
            Errno::AGAIN | Errno::INPROGRESS => WouldBlock,
            Errno::ALREADY => ConcurrencyConflict,
            Errno::MFILE | Errno::NFILE => NewSocketLimit,
            Errno::NOMEM | Errno::NOBUFS => OutOfMemory,
            Errno::INVAL | Errno::AFNOSUPPORT | Errno::DESTADDRREQ => InvalidArgument,
            Errno::OPNOTSUPP | Errno::PROTONOSUPPORT => NotSupported,
            Errno::MSGSIZE => DatagramTooLarge,
            Errno::NOTCONN | Errno::ISCONN => InvalidState,
            _ => Unknown,
        }
    }

    /// The code for a host I/O error, if it carries an OS error number.
    pub(crate) fn from_io(e: &io::Error) -> Option<ErrorCode> {
        e.raw_os_error().map(|n| ErrorCode::from_errno(Errno::from_raw_os_error(n)))
    }
}

/// What a socket call returns: a value (`ok`) or an error code (`err`).
pub(crate) type NetResult<T = Option<Val>> = std::result::Result<T, ErrorCode>;

/// `result<T, error-code>` as a value.
pub(crate) fn net_result(r: NetResult) -> Result<Option<Val>> {
    Ok(Some(match r {
        Ok(v) => crate::host::ok(v),
        Err(code) => err(Some(Val::Enum(code.name().into()))),
    }))
}

/// `ip-address-family`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    V4,
    V6,
}

impl Family {
    pub(crate) fn arg(p: &[Val], i: usize) -> Result<Family> {
        match p.get(i) {
            Some(Val::Enum(e)) if e == "ipv4" => Ok(Family::V4),
            Some(Val::Enum(e)) if e == "ipv6" => Ok(Family::V6),
            _ => Err(bad_arg(i, "ip-address-family")),
        }
    }

    pub(crate) fn val(self) -> Val {
        Val::Enum(if self == Family::V4 { "ipv4" } else { "ipv6" }.into())
    }

    pub(crate) fn host(self) -> rustix::net::AddressFamily {
        match self {
            Family::V4 => rustix::net::AddressFamily::INET,
            Family::V6 => rustix::net::AddressFamily::INET6,
        }
    }

    pub(crate) fn of(addr: &SocketAddr) -> Family {
        if addr.is_ipv4() {
            Family::V4
        } else {
            Family::V6
        }
    }
}

fn field<'a>(fields: &'a [(String, Val)], name: &str) -> Option<&'a Val> {
    fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

fn u16_of(v: Option<&Val>) -> Option<u16> {
    match v {
        Some(Val::U16(x)) => Some(*x),
        _ => None,
    }
}

fn u32_of(v: Option<&Val>) -> Option<u32> {
    match v {
        Some(Val::U32(x)) => Some(*x),
        _ => None,
    }
}

/// An `ip-socket-address` value as a host address.
pub(crate) fn socket_addr_of(v: &Val) -> Option<SocketAddr> {
    let Val::Variant(case, Some(payload)) = v else { return None };
    let Val::Record(fields) = &**payload else { return None };
    let port = u16_of(field(fields, "port"))?;
    let Some(Val::Tuple(parts)) = field(fields, "address") else { return None };
    match case.as_str() {
        "ipv4" => {
            let mut o = [0u8; 4];
            if parts.len() != 4 {
                return None;
            }
            for (slot, p) in o.iter_mut().zip(parts) {
                let Val::U8(b) = p else { return None };
                *slot = *b;
            }
            Some(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(o), port)))
        }
        "ipv6" => {
            let mut s = [0u16; 8];
            if parts.len() != 8 {
                return None;
            }
            for (slot, p) in s.iter_mut().zip(parts) {
                let Val::U16(x) = p else { return None };
                *slot = *x;
            }
            let flow = u32_of(field(fields, "flow-info"))?;
            let scope = u32_of(field(fields, "scope-id"))?;
            Some(SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(s), port, flow, scope)))
        }
        _ => None,
    }
}

/// Argument `i`, an `ip-socket-address`.
pub(crate) fn arg_addr(p: &[Val], i: usize) -> Result<SocketAddr> {
    p.get(i).and_then(socket_addr_of).ok_or_else(|| bad_arg(i, "ip-socket-address"))
}

/// `ip-address` as a value.
pub(crate) fn ip_val(ip: IpAddr) -> Val {
    match ip {
        IpAddr::V4(a) => Val::Variant(
            "ipv4".into(),
            Some(Box::new(Val::Tuple(a.octets().iter().map(|b| Val::U8(*b)).collect()))),
        ),
        IpAddr::V6(a) => Val::Variant(
            "ipv6".into(),
            Some(Box::new(Val::Tuple(a.segments().iter().map(|s| Val::U16(*s)).collect()))),
        ),
    }
}

/// `ip-socket-address` as a value.
pub(crate) fn addr_val(addr: SocketAddr) -> Val {
    let (case, fields) = match addr {
        SocketAddr::V4(a) => (
            "ipv4",
            record(vec![
                ("port", Val::U16(a.port())),
                ("address", Val::Tuple(a.ip().octets().iter().map(|b| Val::U8(*b)).collect())),
            ]),
        ),
        SocketAddr::V6(a) => (
            "ipv6",
            record(vec![
                ("port", Val::U16(a.port())),
                ("flow-info", Val::U32(a.flowinfo())),
                ("address", Val::Tuple(a.ip().segments().iter().map(|s| Val::U16(*s)).collect())),
                ("scope-id", Val::U32(a.scope_id())),
            ]),
        ),
    };
    Val::Variant(case.into(), Some(Box::new(fields)))
}

/// Whether `ip` is an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), which the WIT refuses
/// everywhere: with it a guest could reach an IPv4 address through an IPv6 socket.
pub(crate) fn is_mapped(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some())
}

fn is_multicast_or_broadcast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_multicast() || a.is_broadcast(),
        IpAddr::V6(a) => a.is_multicast(),
    }
}

/// The checks of a local address (bind): the socket's family, unicast, not IPv4-mapped.
pub(crate) fn check_local(family: Family, addr: SocketAddr) -> NetResult<()> {
    if Family::of(&addr) != family || is_mapped(addr.ip()) || is_multicast_or_broadcast(addr.ip()) {
        return Err(ErrorCode::InvalidArgument);
    }
    Ok(())
}

/// The checks of a remote address (connect, send): those of [`check_local`], and neither the
/// unspecified address nor port 0.
pub(crate) fn check_remote(family: Family, addr: SocketAddr) -> NetResult<()> {
    check_local(family, addr)?;
    if addr.ip().is_unspecified() || addr.port() == 0 {
        return Err(ErrorCode::InvalidArgument);
    }
    Ok(())
}

/// A host socket address (from `getsockname`, `recvfrom`, ...) as a std one.
pub(crate) fn from_host(a: rustix::net::SocketAddrAny) -> NetResult<SocketAddr> {
    SocketAddr::try_from(a).map_err(|_| ErrorCode::Unknown)
}
