//! `sock_accept`, `sock_recv`, `sock_send`, `sock_shutdown`.
//!
//! Preview 1 cannot create sockets: a guest only has the listening sockets its host handed in
//! ([`WasiCtxBuilder::preopened_listener`](crate::WasiCtxBuilder::preopened_listener)) and the
//! connections accepted on them.

use std::io::{IoSlice, Read, Write};
use std::os::fd::AsFd;

use rustix::net::Shutdown;
use ward::Linker;

use super::{ctx_fn, mem_fn};
use crate::ctx::WasiCtx;
use crate::errno::{Errno, WasiResult};
use crate::host::GetCtx;
use crate::mem::{io_budget, GuestMem};
use crate::table::{Entry, Handle};
use crate::types::{fdflags, filetype, rights, sockflags};

/// The most buffers one `sock_send` hands to the host (Linux's `IOV_MAX`).
const MAX_SEND_IOVECS: usize = 1024;

pub(crate) fn sock_accept(ctx: &mut WasiCtx, fd: u32, flags: u16) -> WasiResult<u32> {
    if flags & !fdflags::NONBLOCK != 0 {
        return Err(Errno::Inval);
    }
    let e = ctx.table.get(fd)?;
    let Handle::Listener(l) = &e.handle else {
        return Err(Errno::NotSock);
    };
    e.require(rights::SOCK_ACCEPT)?;
    let (stream, _) = l.accept()?;
    stream.set_nonblocking(flags & fdflags::NONBLOCK != 0)?;
    let mut entry = Entry::new(
        Handle::Stream(stream),
        rights::SOCKET_BASE & e.inheriting,
        0,
        filetype::SOCKET_STREAM,
    );
    entry.fdflags = flags;
    ctx.table.push(entry)
}

fn stream(ctx: &mut WasiCtx, fd: u32, right: u64) -> WasiResult<&mut std::net::TcpStream> {
    let e = ctx.table.get_mut(fd)?;
    e.require(right)?;
    match &mut e.handle {
        Handle::Stream(s) => Ok(s),
        _ => Err(Errno::NotSock),
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn sock_recv(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem<'_>,
    fd: u32,
    iovs: u64,
    n: u32,
    flags: u16,
    out_len: u64,
    out_flags: u64,
) -> WasiResult<()> {
    if flags & !(sockflags::RECV_PEEK | sockflags::RECV_WAITALL) != 0 {
        return Err(Errno::Inval);
    }
    let iovs = mem.iovecs(iovs, n)?;
    let s = stream(ctx, fd, rights::FD_READ)?;
    let peek = flags & sockflags::RECV_PEEK != 0;
    let waitall = flags & sockflags::RECV_WAITALL != 0 && !peek;
    let mut total = 0usize;
    for i in 0..iovs.len() {
        let (buf, len) = mem.iovec(iovs, i)?;
        let len = io_budget(len, total);
        if len == 0 {
            continue;
        }
        let dst = mem.slice_mut(buf, len)?;
        let mut filled = 0;
        loop {
            let rest = &mut dst[filled..];
            let got = if peek { s.peek(rest)? } else { s.read(rest)? };
            filled += got;
            if got == 0 || filled == dst.len() || !waitall {
                break;
            }
        }
        total += filled;
        // Without WAITALL one receive is enough: a second one could block.
        if !waitall || filled < dst.len() {
            break;
        }
    }
    mem.write_u32(out_len, u32::try_from(total).map_err(|_| Errno::Overflow)?)?;
    mem.write_u16(out_flags, 0)
}

pub(crate) fn sock_send(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem<'_>,
    fd: u32,
    iovs: u64,
    n: u32,
    flags: u16,
    out_len: u64,
) -> WasiResult<()> {
    if flags != 0 {
        return Err(Errno::Inval);
    }
    let iovs = mem.iovecs(iovs, n)?;
    let s = stream(ctx, fd, rights::FD_WRITE)?;
    // One vectored send straight from guest memory, as `sendmsg` would do. The host-side
    // array of slices is bounded: at most `MAX_SEND_IOVECS` non-empty buffers per call (the
    // rest are left for the guest's next call, as a short send tells it to).
    let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(MAX_SEND_IOVECS.min(n as usize));
    let mut queued = 0usize;
    for i in 0..iovs.len() {
        if slices.len() == MAX_SEND_IOVECS {
            break;
        }
        let (buf, len) = mem.iovec(iovs, i)?;
        let len = io_budget(len, queued);
        if len > 0 {
            slices.push(IoSlice::new(mem.slice(buf, len)?));
            queued += len as usize;
        }
    }
    let sent = if slices.is_empty() { 0 } else { s.write_vectored(&slices)? };
    drop(slices);
    mem.write_u32(out_len, u32::try_from(sent).map_err(|_| Errno::Overflow)?)
}

pub(crate) fn sock_shutdown(ctx: &mut WasiCtx, fd: u32, how: u8) -> WasiResult<()> {
    let e = ctx.table.get(fd)?;
    let sock = match &e.handle {
        Handle::Stream(s) => s.as_fd(),
        Handle::Listener(l) => l.as_fd(),
        _ => return Err(Errno::NotSock),
    };
    e.require(rights::SOCK_SHUTDOWN)?;
    let how = match how {
        sockflags::SHUT_RD => Shutdown::Read,
        sockflags::SHUT_WR => Shutdown::Write,
        h if h == sockflags::SHUT_RD | sockflags::SHUT_WR => Shutdown::Both,
        _ => return Err(Errno::Inval),
    };
    Ok(rustix::net::shutdown(sock, how)?)
}

pub(crate) fn add<T: 'static>(linker: &mut Linker<T>, get: impl GetCtx<T>) -> ward::Result<()> {
    mem_fn!(linker, get, "sock_accept", |ctx, mem, fd: u32, flags: u32, out: u32| {
        let flags = u16::try_from(flags).map_err(|_| Errno::Inval)?;
        mem.slice(out.into(), 4)?;
        let new_fd = sock_accept(ctx, fd, flags)?;
        mem.write_u32(out.into(), new_fd)
    });
    mem_fn!(linker, get, "sock_recv", |ctx,
                                       mem,
                                       fd: u32,
                                       iovs: u32,
                                       n: u32,
                                       flags: u32,
                                       out_len: u32,
                                       out_flags: u32| {
        let flags = u16::try_from(flags).map_err(|_| Errno::Inval)?;
        sock_recv(ctx, mem, fd, iovs.into(), n, flags, out_len.into(), out_flags.into())
    });
    mem_fn!(linker, get, "sock_send", |ctx,
                                       mem,
                                       fd: u32,
                                       iovs: u32,
                                       n: u32,
                                       flags: u32,
                                       out_len: u32| {
        let flags = u16::try_from(flags).map_err(|_| Errno::Inval)?;
        sock_send(ctx, mem, fd, iovs.into(), n, flags, out_len.into())
    });
    ctx_fn!(linker, get, "sock_shutdown", |ctx, fd: u32, how: u32| {
        sock_shutdown(ctx, fd, u8::try_from(how).map_err(|_| Errno::Inval)?)
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WasiCtxBuilder;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn a_handed_in_listener_accepts_and_echoes() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut ctx = WasiCtxBuilder::new().preopened_listener(listener).build();
        let client = std::thread::spawn(move || {
            let mut c = TcpStream::connect(addr).unwrap();
            c.write_all(b"ping").unwrap();
            let mut back = Vec::new();
            c.read_to_end(&mut back).unwrap();
            back
        });
        let fd = sock_accept(&mut ctx, 3, 0).unwrap();
        let mut bytes = vec![0u8; 256];
        let mut mem = GuestMem::new(&mut bytes);
        // One iovec (64, 4) at 0; results at 16 and 20.
        mem.write_u32(0, 64).unwrap();
        mem.write_u32(4, 4).unwrap();
        sock_recv(&mut ctx, &mut mem, fd, 0, 1, sockflags::RECV_WAITALL, 16, 20).unwrap();
        assert_eq!(mem.read_u32(16).unwrap(), 4);
        assert_eq!(mem.slice(64, 4).unwrap(), b"ping");
        sock_send(&mut ctx, &mut mem, fd, 0, 1, 0, 16).unwrap();
        assert_eq!(mem.read_u32(16).unwrap(), 4);
        sock_shutdown(&mut ctx, fd, sockflags::SHUT_WR).unwrap();
        assert_eq!(client.join().unwrap(), b"ping");
        // Not sockets, or not descriptors at all.
        assert_eq!(sock_shutdown(&mut ctx, 1, sockflags::SHUT_RD), Err(Errno::NotSock));
        assert_eq!(sock_shutdown(&mut ctx, 99, sockflags::SHUT_RD), Err(Errno::Badf));
        assert_eq!(sock_shutdown(&mut ctx, fd, 0), Err(Errno::Inval));
        assert_eq!(sock_accept(&mut ctx, 0, 0), Err(Errno::NotSock));
    }
}
