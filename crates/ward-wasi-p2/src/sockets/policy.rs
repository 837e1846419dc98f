//! What a guest may do on the network: address patterns and the grants made of them.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// A set of socket addresses a grant covers: an IP address or CIDR block (or `*`, every
/// address) and a port, a port range or `*` (every port, 0 included).
///
/// Written `ADDR:PORT`, with an IPv6 address in brackets; ADDR is `1.2.3.4`, `10.0.0.0/8`,
/// `[::1]`, `[fd00::/8]` or `*`; PORT is `80`, `8000-8100` or `*`. `ADDR` alone (an IPv6
/// address without brackets) means every port.
///
/// ```
/// use ward_wasi_p2::SocketAddrPattern;
/// let p: SocketAddrPattern = "127.0.0.0/8:8000-8100".parse().unwrap();
/// assert!(p.matches("127.0.0.1:8080".parse().unwrap()));
/// assert!(!p.matches("127.0.0.1:80".parse().unwrap()));
/// assert!(!p.matches("10.0.0.1:8080".parse().unwrap()));
/// let any: SocketAddrPattern = "*:*".parse().unwrap();
/// assert!(any.matches("[::1]:1".parse().unwrap()));
/// assert!("[::1]:443".parse::<SocketAddrPattern>().unwrap().matches("[::1]:443".parse().unwrap()));
/// assert!("localhost:80".parse::<SocketAddrPattern>().is_err()); // names are never resolved
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketAddrPattern {
    /// `None`: every address of both families.
    net: Option<(IpAddr, u8)>,
    ports: (u16, u16),
}

/// Why a [`SocketAddrPattern`] could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not an address pattern such as 127.0.0.1:8080, 10.0.0.0/8:8000-8100, [::1]:*, \
     *:443 or 192.168.1.5 ({1})"
)]
pub struct PatternError(String, &'static str);

impl SocketAddrPattern {
    /// Every address and every port.
    pub fn any() -> SocketAddrPattern {
        SocketAddrPattern { net: None, ports: (0, u16::MAX) }
    }

    /// Exactly `addr`.
    pub fn exact(addr: SocketAddr) -> SocketAddrPattern {
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        SocketAddrPattern { net: Some((addr.ip(), bits)), ports: (addr.port(), addr.port()) }
    }

    /// Whether `addr` is in the pattern. An IPv4 pattern never matches an IPv6 address (an
    /// IPv4-mapped IPv6 address included: the guest may not use those at all).
    pub fn matches(&self, addr: SocketAddr) -> bool {
        let port_ok = (self.ports.0..=self.ports.1).contains(&addr.port());
        let ip_ok = match (self.net, addr.ip()) {
            (None, _) => true,
            (Some((IpAddr::V4(net), bits)), IpAddr::V4(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), bits)
            }
            (Some((IpAddr::V6(net), bits)), IpAddr::V6(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), bits)
            }
            _ => false,
        };
        port_ok && ip_ok
    }
}

/// Whether the first `bits` bits of `a` and `b` are equal.
fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let full = usize::from(bits / 8);
    if a[..full] != b[..full] {
        return false;
    }
    let rest = bits % 8;
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    (a[full] & mask) == (b[full] & mask)
}

impl FromStr for SocketAddrPattern {
    type Err = PatternError;

    fn from_str(s: &str) -> Result<Self, PatternError> {
        let bad = |why| PatternError(s.to_string(), why);
        let s = s.trim();
        // Split ADDR and PORT: `[v6]:port`, `v4:port`, `*:port`, or an address alone.
        let (addr, port) = if let Some(rest) = s.strip_prefix('[') {
            let (inside, after) = rest.split_once(']').ok_or_else(|| bad("no `]`"))?;
            match after {
                "" => (inside, None),
                _ => (inside, Some(after.strip_prefix(':').ok_or_else(|| bad("`:` after `]`"))?)),
            }
        } else if s.matches(':').count() == 1 {
            let (a, p) = s.split_once(':').unwrap_or((s, ""));
            (a, Some(p))
        } else {
            (s, None)
        };
        let net = if addr == "*" {
            None
        } else {
            let (ip, bits) = match addr.split_once('/') {
                Some((ip, bits)) => (ip, Some(bits)),
                None => (addr, None),
            };
            let ip: IpAddr = ip.parse().map_err(|_| bad("not an IP address"))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                Some(b) => b.parse::<u8>().ok().filter(|b| *b <= max).ok_or_else(|| {
                    bad(if max == 32 {
                        "prefix length above 32"
                    } else {
                        "prefix length above 128"
                    })
                })?,
                None => max,
            };
            Some((ip, bits))
        };
        let ports = match port {
            None | Some("*") => (0, u16::MAX),
            Some(p) => {
                let num = |t: &str| t.trim().parse::<u16>().map_err(|_| bad("not a port"));
                match p.split_once('-') {
                    Some((lo, hi)) => {
                        let (lo, hi) = (num(lo)?, num(hi)?);
                        if lo > hi {
                            return Err(bad("empty port range"));
                        }
                        (lo, hi)
                    }
                    None => {
                        let p = num(p)?;
                        (p, p)
                    }
                }
            }
        };
        Ok(SocketAddrPattern { net, ports })
    }
}

impl fmt::Display for SocketAddrPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.net {
            None => f.write_str("*")?,
            Some((IpAddr::V4(ip), 32)) => write!(f, "{ip}")?,
            Some((IpAddr::V4(ip), bits)) => write!(f, "{ip}/{bits}")?,
            Some((IpAddr::V6(ip), 128)) => write!(f, "[{ip}]")?,
            Some((IpAddr::V6(ip), bits)) => write!(f, "[{ip}/{bits}]")?,
        }
        match self.ports {
            (0, u16::MAX) => f.write_str(":*"),
            (lo, hi) if lo == hi => write!(f, ":{lo}"),
            (lo, hi) => write!(f, ":{lo}-{hi}"),
        }
    }
}

/// What a guest may do with sockets; nothing unless granted.
#[derive(Clone, Debug)]
pub(crate) struct NetPolicy {
    /// Every grant below at once.
    pub(crate) inherit: bool,
    pub(crate) tcp_connect: Vec<SocketAddrPattern>,
    pub(crate) tcp_bind: Vec<SocketAddrPattern>,
    pub(crate) udp_bind: Vec<SocketAddrPattern>,
    pub(crate) udp_send: Vec<SocketAddrPattern>,
    pub(crate) lookup: bool,
    pub(crate) limits: NetLimits,
}

/// Bounds on what a guest's sockets hold in the host.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NetLimits {
    /// Sockets (TCP and UDP, accepted ones included) alive at once.
    pub(crate) max_sockets: usize,
    /// The largest listen backlog a guest may ask for.
    pub(crate) max_backlog: u32,
}

/// The default of [`NetLimits::max_sockets`].
pub(crate) const DEFAULT_MAX_SOCKETS: usize = 1024;
/// The default of [`NetLimits::max_backlog`] (and the backlog when the guest asks for none).
pub(crate) const DEFAULT_BACKLOG: u32 = 128;

impl Default for NetPolicy {
    fn default() -> Self {
        NetPolicy {
            inherit: false,
            tcp_connect: Vec::new(),
            tcp_bind: Vec::new(),
            udp_bind: Vec::new(),
            udp_send: Vec::new(),
            lookup: false,
            limits: NetLimits { max_sockets: DEFAULT_MAX_SOCKETS, max_backlog: DEFAULT_BACKLOG },
        }
    }
}

/// An operation a grant covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Use {
    TcpConnect,
    TcpBind,
    UdpBind,
    UdpSend,
}

impl NetPolicy {
    /// Whether the guest may do `what` with `addr`.
    pub(crate) fn allows(&self, what: Use, addr: SocketAddr) -> bool {
        if self.inherit {
            return true;
        }
        let list = match what {
            Use::TcpConnect => &self.tcp_connect,
            Use::TcpBind => &self.tcp_bind,
            Use::UdpBind => &self.udp_bind,
            Use::UdpSend => &self.udp_send,
        };
        list.iter().any(|p| p.matches(addr))
    }

    pub(crate) fn lookup_allowed(&self) -> bool {
        self.inherit || self.lookup
    }

    /// Whether anything at all is granted (for `Debug`).
    pub(crate) fn summary(&self) -> String {
        if self.inherit {
            return "everything".into();
        }
        let list = |name: &str, l: &[SocketAddrPattern]| {
            l.iter().map(|p| format!("{name}={p}")).collect::<Vec<_>>()
        };
        let mut all = list("tcp-connect", &self.tcp_connect);
        all.extend(list("tcp-listen", &self.tcp_bind));
        all.extend(list("udp-bind", &self.udp_bind));
        all.extend(list("udp-send", &self.udp_send));
        if self.lookup {
            all.push("ip-name-lookup".into());
        }
        if all.is_empty() {
            "nothing".into()
        } else {
            all.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> SocketAddrPattern {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn patterns_parse_and_match() {
        assert!(p("127.0.0.1:80").matches(a("127.0.0.1:80")));
        assert!(!p("127.0.0.1:80").matches(a("127.0.0.1:81")));
        assert!(!p("127.0.0.1:80").matches(a("127.0.0.2:80")));
        assert!(p("127.0.0.1").matches(a("127.0.0.1:1")));
        assert!(p("127.0.0.1:*").matches(a("127.0.0.1:0")));
        assert!(p("10.1.0.0/16:1-2").matches(a("10.1.255.3:2")));
        assert!(!p("10.1.0.0/16:1-2").matches(a("10.2.0.3:2")));
        assert!(p("10.0.0.0/9:*").matches(a("10.127.0.0:5")));
        assert!(!p("10.0.0.0/9:*").matches(a("10.128.0.0:5")));
        assert!(p("0.0.0.0/0:*").matches(a("8.8.8.8:53")));
        assert!(!p("0.0.0.0/0:*").matches(a("[::1]:53")));
        assert!(p("[::1]:443").matches(a("[::1]:443")));
        assert!(p("::1").matches(a("[::1]:9")));
        assert!(p("[fd00::/8]:*").matches(a("[fd12::1]:9")));
        assert!(!p("127.0.0.1:*").matches(a("[::ffff:127.0.0.1]:80")));
        assert!(p("*:53").matches(a("[::1]:53")));
        assert!(!p("*:53").matches(a("1.1.1.1:54")));
        for bad in ["", "localhost:80", "1.2.3.4:70000", "1.2.3.4:9-3", "1.2.3.4/33:1", "[::1", "x"]
        {
            assert!(bad.parse::<SocketAddrPattern>().is_err(), "{bad}");
        }
    }

    #[test]
    fn patterns_display_as_parsed() {
        for s in ["127.0.0.1:80", "10.0.0.0/8:1-2", "[::1]:*", "*:443", "[fd00::/8]:7"] {
            assert_eq!(p(s).to_string(), s);
            assert_eq!(p(&p(s).to_string()), p(s));
        }
        assert_eq!(SocketAddrPattern::exact(a("1.2.3.4:5")).to_string(), "1.2.3.4:5");
        assert_eq!(SocketAddrPattern::any().to_string(), "*:*");
    }

    #[test]
    fn nothing_is_allowed_by_default() {
        let policy = NetPolicy::default();
        for what in [Use::TcpConnect, Use::TcpBind, Use::UdpBind, Use::UdpSend] {
            assert!(!policy.allows(what, a("127.0.0.1:80")));
        }
        assert!(!policy.lookup_allowed());
        let all = NetPolicy { inherit: true, ..NetPolicy::default() };
        assert!(all.allows(Use::UdpSend, a("[::1]:1")) && all.lookup_allowed());
    }
}
