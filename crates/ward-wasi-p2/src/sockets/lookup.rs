//! `wasi:sockets/ip-name-lookup`: denied unless granted; an IP address is answered as itself,
//! a name is resolved by the host's resolver (`getaddrinfo`) on a short-lived thread, at most
//! [`MAX_IN_FLIGHT`] at once per context, and at most [`MAX_RESULTS`] addresses are kept.

use super::network::{ip_val, net_result, ErrorCode, NetResult};
use super::{push, SockWait, SocketObject};
use crate::ctx::WasiP2Ctx;
use crate::host::*;
use crate::io::new_pollable;
use crate::table::{wrong, Pollable};
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use ward_component::{Result, Val};

const LOOKUP: &str = "wasi:sockets/ip-name-lookup";

/// The most addresses one lookup yields.
pub(crate) const MAX_RESULTS: usize = 64;
/// The most lookups a context runs at once; past it, `temporary-resolver-failure`.
pub(crate) const MAX_IN_FLIGHT: usize = 8;
/// The longest name looked up (a DNS name has at most 253 characters).
const MAX_NAME: usize = 253;

/// A lookup's outcome, filled in by its thread.
#[derive(Default)]
pub(crate) struct LookupShared {
    outcome: Mutex<Option<NetResult<Vec<IpAddr>>>>,
}

impl LookupShared {
    pub(crate) fn done(&self) -> bool {
        self.outcome.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }
}

/// A `resolve-address-stream`.
pub(crate) struct Lookup {
    shared: Arc<LookupShared>,
    next: usize,
}

/// Whether `name` could be a host name: ASCII letters, digits, `-`, `_` and `.`, in labels of
/// 1 to 63 characters. (The WIT converts Unicode names with IDNA; Ward refuses them.)
fn valid_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The resolver's addresses: IPv4-mapped ones as IPv4 (the WIT never returns them), without
/// repeats, at most [`MAX_RESULTS`].
fn addresses(found: impl Iterator<Item = std::net::SocketAddr>) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = Vec::new();
    for a in found {
        let ip = match a.ip() {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
            v4 => v4,
        };
        if !out.contains(&ip) {
            out.push(ip);
        }
        if out.len() == MAX_RESULTS {
            break;
        }
    }
    out
}

fn resolve(ctx: &mut WasiP2Ctx, p: &[Val]) -> Result<NetResult<Lookup>> {
    super::check_network(ctx, p, 0)?;
    let name = arg_str(p, 1)?;
    if !ctx.net.policy.lookup_allowed() {
        return Ok(Err(ErrorCode::AccessDenied));
    }
    let shared = Arc::new(LookupShared::default());
    if let Ok(ip) = name.parse::<IpAddr>() {
        *shared.outcome.lock().unwrap_or_else(|e| e.into_inner()) = Some(Ok(vec![ip]));
        return Ok(Ok(Lookup { shared, next: 0 }));
    }
    if !valid_name(name) {
        return Ok(Err(ErrorCode::InvalidArgument));
    }
    let in_flight = ctx.net.lookups.clone();
    if in_flight
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < MAX_IN_FLIGHT).then_some(n + 1))
        .is_err()
    {
        return Ok(Err(ErrorCode::TemporaryResolverFailure));
    }
    let (name, out) = (name.to_string(), shared.clone());
    let done = in_flight.clone();
    let spawned = std::thread::Builder::new().name("ward-name-lookup".into()).spawn(move || {
        let r = match (name.as_str(), 0u16).to_socket_addrs() {
            Ok(found) => {
                let found = addresses(found);
                if found.is_empty() {
                    Err(ErrorCode::NameUnresolvable)
                } else {
                    Ok(found)
                }
            }
            Err(e) if e.to_string().contains("emporary") => {
                Err(ErrorCode::TemporaryResolverFailure)
            }
            Err(_) => Err(ErrorCode::NameUnresolvable),
        };
        *out.outcome.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
        done.fetch_sub(1, Ordering::SeqCst);
    });
    if spawned.is_err() {
        in_flight.fetch_sub(1, Ordering::SeqCst);
        return Ok(Err(ErrorCode::TemporaryResolverFailure));
    }
    Ok(Ok(Lookup { shared, next: 0 }))
}

fn lookup(ctx: &mut WasiP2Ctx, rep: u32) -> Result<&mut Lookup> {
    match super::object(ctx, rep) {
        Some(SocketObject::Lookup(l)) => Ok(l),
        _ => Err(wrong("resolve-address-stream")),
    }
}

/// `wasi:sockets/ip-name-lookup`.
pub(crate) fn add_lookup<T: 'static, G>(r: &mut Reg<'_, T, G>) -> Result<()>
where
    G: Fn(&mut T) -> &mut WasiP2Ctx + Send + Sync + Copy + 'static,
{
    let t = r.types.clone();
    r.resource(LOOKUP, "pollable", &t.pollable)?;
    r.resource(LOOKUP, "network", &t.sockets.network)?;
    r.resource(LOOKUP, "resolve-address-stream", &t.sockets.resolve_stream)?;
    r.func(LOOKUP, "resolve-addresses", |ctx, ty, p| match resolve(ctx, p)? {
        Ok(l) => {
            let v = push(ctx, &ty.sockets.resolve_stream, SocketObject::Lookup(l))?;
            net_result(Ok(Some(v)))
        }
        Err(code) => net_result(Err(code)),
    })?;
    let m = |name: &str| format!("[method]resolve-address-stream.{name}");
    r.func(LOOKUP, &m("resolve-next-address"), |ctx, _, p| {
        let l = lookup(ctx, arg_rep(p, 0)?)?;
        let outcome = l.shared.outcome.lock().unwrap_or_else(|e| e.into_inner());
        let r = match &*outcome {
            None => Err(ErrorCode::WouldBlock),
            Some(Err(code)) => Err(*code),
            Some(Ok(list)) => Ok(list.get(l.next).copied()),
        };
        drop(outcome);
        if let Ok(Some(_)) = r {
            l.next += 1;
        }
        net_result(r.map(|ip| Some(some(ip.map(ip_val)))))
    })?;
    r.func(LOOKUP, &m("subscribe"), |ctx, ty, p| {
        let shared = lookup(ctx, arg_rep(p, 0)?)?.shared.clone();
        new_pollable(ctx, ty, Pollable::Socket(SockWait::Lookup(shared)))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("localhost"));
        assert!(valid_name("example.com."));
        assert!(valid_name("a-b_c.d9"));
        for bad in ["", ".", "a..b", "a b", "ex\u{e4}mple.com", &"a".repeat(64), "a/b", "a:80"] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert!(!valid_name(&"a.".repeat(130)));
    }

    #[test]
    fn mapped_addresses_become_ipv4_and_repeats_go() {
        let found =
            ["[::ffff:127.0.0.1]:0", "127.0.0.1:0", "[::1]:0"].iter().map(|s| s.parse().unwrap());
        assert_eq!(
            addresses(found),
            vec!["127.0.0.1".parse::<IpAddr>().unwrap(), "::1".parse().unwrap()]
        );
    }
}
