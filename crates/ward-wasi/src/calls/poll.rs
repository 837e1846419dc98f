//! `poll_oneoff`: wait for clocks and descriptor readiness.
//!
//! Regular files, directories and in-memory streams are always ready. Host streams (inherited
//! stdio, sockets) are polled with the host's `poll`. Clock subscriptions bound the wait; the
//! call returns as soon as at least one subscription has an event.

use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use ward::Linker;

use super::clock;
use super::mem_fn;
use crate::ctx::WasiCtx;
use crate::errno::{Errno, WasiResult};
use crate::host::GetCtx;
use crate::mem::GuestMem;
use crate::stdio::Input;
use crate::table::Handle;
use crate::types::layout::{EVENT_SIZE, SUBSCRIPTION_SIZE};
use crate::types::{eventrwflags, eventtype, rights, subclockflags};

/// The most subscriptions one `poll_oneoff` accepts: two per descriptor a guest may hold,
/// with room for clocks.
pub(crate) const MAX_SUBSCRIPTIONS: u32 = 2 * crate::table::MAX_FDS as u32 + 1024;

/// One event to report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Event {
    pub(crate) userdata: u64,
    pub(crate) error: Errno,
    pub(crate) kind: u8,
    pub(crate) nbytes: u64,
    pub(crate) flags: u16,
}

impl Event {
    fn new(userdata: u64, kind: u8) -> Event {
        Event { userdata, error: Errno::Success, kind, nbytes: 0, flags: 0 }
    }

    fn error(userdata: u64, kind: u8, error: Errno) -> Event {
        Event { error, ..Event::new(userdata, kind) }
    }

    fn write(&self, mem: &mut GuestMem<'_>, ptr: u64) -> WasiResult<()> {
        // Checked first, so the field offsets below cannot overflow.
        mem.slice_mut(ptr, EVENT_SIZE)?.fill(0);
        mem.write_u64(ptr, self.userdata)?;
        mem.write_u16(ptr + 8, self.error.raw())?;
        mem.write_u8(ptr + 10, self.kind)?;
        mem.write_u64(ptr + 16, self.nbytes)?;
        mem.write_u16(ptr + 24, self.flags)
    }
}

/// A decoded subscription.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Subscription {
    /// Fires at `deadline`.
    Clock { userdata: u64, deadline: Instant },
    /// Fires when `fd` is ready for reading (`kind == FD_READ`) or writing.
    Fd { userdata: u64, kind: u8, fd: u32 },
}

/// Decodes the subscriptions; ones that are invalid become immediate error events.
fn decode(
    mem: &GuestMem<'_>,
    ptr: u64,
    n: u32,
    errors: &mut Vec<Event>,
) -> WasiResult<Vec<Subscription>> {
    mem.slice(ptr, u64::from(n) * SUBSCRIPTION_SIZE)?;
    let mut subs = Vec::with_capacity(n as usize);
    let start = Instant::now();
    for i in 0..n {
        // In range: the whole array was checked above.
        let at = ptr + u64::from(i) * SUBSCRIPTION_SIZE;
        let userdata = mem.read_u64(at)?;
        let tag = mem.read_u8(at + 8)?;
        match tag {
            eventtype::CLOCK => {
                let id = mem.read_u32(at + 16)?;
                let timeout = mem.read_u64(at + 24)?;
                let flags = mem.read_u16(at + 40)?;
                let wait = if flags & subclockflags::SUBSCRIPTION_CLOCK_ABSTIME != 0 {
                    match clock::now(id) {
                        Ok(now) => timeout.saturating_sub(now),
                        Err(e) => {
                            errors.push(Event::error(userdata, tag, e));
                            continue;
                        }
                    }
                } else {
                    if let Err(e) = clock::now(id) {
                        errors.push(Event::error(userdata, tag, e));
                        continue;
                    }
                    timeout
                };
                // Clamp absurd timeouts to something `Instant` can represent (~30 years).
                let wait = Duration::from_nanos(wait.min(1 << 60));
                subs.push(Subscription::Clock { userdata, deadline: start + wait });
            }
            eventtype::FD_READ | eventtype::FD_WRITE => {
                let fd = mem.read_u32(at + 16)?;
                subs.push(Subscription::Fd { userdata, kind: tag, fd });
            }
            _ => errors.push(Event::error(userdata, tag, Errno::Inval)),
        }
    }
    Ok(subs)
}

/// How one descriptor subscription is served: ready now, or polled on a host descriptor.
enum Readiness<'a> {
    Now(Event),
    Host(BorrowedFd<'a>),
}

fn readiness<'a>(ctx: &'a WasiCtx, userdata: u64, kind: u8, fd: u32) -> Readiness<'a> {
    use std::os::fd::AsFd;
    let e = match ctx.table.get(fd) {
        Ok(e) => e,
        Err(err) => return Readiness::Now(Event::error(userdata, kind, err)),
    };
    if let Err(err) = e.require(rights::POLL_FD_READWRITE) {
        return Readiness::Now(Event::error(userdata, kind, err));
    }
    let mut ev = Event::new(userdata, kind);
    match &e.handle {
        Handle::File(f) => {
            if kind == eventtype::FD_READ {
                use std::io::Seek;
                let size = f.metadata().map(|m| m.len()).unwrap_or(0);
                let pos = (&*f).stream_position().unwrap_or(size);
                ev.nbytes = size.saturating_sub(pos);
            }
            Readiness::Now(ev)
        }
        Handle::Dir(_) => Readiness::Now(ev),
        Handle::Stdin(input) => match (input.host_fd(), input) {
            (Some(fd), _) => Readiness::Host(fd),
            (None, Input::Bytes(c)) => {
                ev.nbytes = (c.get_ref().len() as u64).saturating_sub(c.position());
                Readiness::Now(ev)
            }
            (None, _) => Readiness::Now(ev),
        },
        Handle::Stdout(out) => match out.host_fd() {
            Some(fd) => Readiness::Host(fd),
            None => Readiness::Now(ev),
        },
        Handle::Stream(s) => Readiness::Host(s.as_fd()),
        Handle::Listener(l) => Readiness::Host(l.as_fd()),
    }
}

/// Waits for the subscriptions and returns the events that fired.
pub(crate) fn wait(
    ctx: &WasiCtx,
    subs: &[Subscription],
    mut events: Vec<Event>,
) -> WasiResult<Vec<Event>> {
    let mut host: Vec<(u64, u8, BorrowedFd<'_>)> = Vec::new();
    for s in subs {
        if let Subscription::Fd { userdata, kind, fd } = *s {
            match readiness(ctx, userdata, kind, fd) {
                Readiness::Now(ev) => events.push(ev),
                Readiness::Host(hfd) => host.push((userdata, kind, hfd)),
            }
        }
    }
    let deadlines = subs.iter().filter_map(|s| match s {
        Subscription::Clock { deadline, .. } => Some(*deadline),
        _ => None,
    });
    let earliest = deadlines.min();
    loop {
        let now = Instant::now();
        let timeout = if !events.is_empty() {
            Some(Duration::ZERO)
        } else {
            earliest.map(|d| d.saturating_duration_since(now))
        };
        if host.is_empty() {
            if let Some(t) = timeout {
                std::thread::sleep(t);
            }
        } else {
            let mut fds: Vec<PollFd<'_>> = host
                .iter()
                .map(|(_, kind, fd)| {
                    let flags =
                        if *kind == eventtype::FD_READ { PollFlags::IN } else { PollFlags::OUT };
                    PollFd::from_borrowed_fd(*fd, flags)
                })
                .collect();
            let ts = timeout
                .map(|t| Timespec { tv_sec: t.as_secs() as _, tv_nsec: t.subsec_nanos() as _ });
            match poll(&mut fds, ts.as_ref()) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
            for ((userdata, kind, hfd), p) in host.iter().zip(&fds) {
                let r = p.revents();
                if r.is_empty() {
                    continue;
                }
                let mut ev = Event::new(*userdata, *kind);
                if r.contains(PollFlags::NVAL) {
                    ev.error = Errno::Badf;
                } else if r.contains(PollFlags::ERR) {
                    ev.error = Errno::Io;
                }
                if r.contains(PollFlags::HUP) {
                    ev.flags |= eventrwflags::FD_READWRITE_HANGUP;
                }
                if *kind == eventtype::FD_READ {
                    ev.nbytes = rustix::io::ioctl_fionread(hfd).unwrap_or(0);
                }
                events.push(ev);
            }
        }
        let now = Instant::now();
        for s in subs {
            if let Subscription::Clock { userdata, deadline } = *s {
                if deadline <= now {
                    events.push(Event::new(userdata, eventtype::CLOCK));
                }
            }
        }
        if !events.is_empty() || (host.is_empty() && earliest.is_none()) {
            return Ok(events);
        }
    }
}

pub(crate) fn poll_oneoff(
    ctx: &mut WasiCtx,
    mem: &mut GuestMem<'_>,
    input: u64,
    output: u64,
    n: u32,
    nevents: u64,
) -> WasiResult<()> {
    // The host keeps a few words per subscription while waiting: bound how many, as the
    // host's `poll` does (EINVAL for more descriptors than a process may have).
    if n == 0 || n > MAX_SUBSCRIPTIONS {
        return Err(Errno::Inval);
    }
    mem.slice(input, u64::from(n) * SUBSCRIPTION_SIZE)?;
    mem.slice(output, u64::from(n) * EVENT_SIZE)?;
    mem.slice(nevents, 4)?;
    let mut immediate = Vec::new();
    let subs = decode(mem, input, n, &mut immediate)?;
    let events = wait(ctx, &subs, immediate)?;
    for (i, ev) in events.iter().enumerate() {
        // At most `n` events, and the output array was checked for `n`.
        ev.write(mem, output + i as u64 * EVENT_SIZE)?;
    }
    mem.write_u32(nevents, events.len() as u32)
}

pub(crate) fn add<T: 'static>(linker: &mut Linker<T>, get: impl GetCtx<T>) -> ward::Result<()> {
    mem_fn!(linker, get, "poll_oneoff", |ctx,
                                         mem,
                                         input: u32,
                                         output: u32,
                                         n: u32,
                                         nevents: u32| {
        poll_oneoff(ctx, mem, input.into(), output.into(), n, nevents.into())
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::clockid;

    fn clock_sub(mem: &mut GuestMem<'_>, at: u64, userdata: u64, timeout: u64) {
        mem.write_u64(at, userdata).unwrap();
        mem.write_u8(at + 8, eventtype::CLOCK).unwrap();
        mem.write_u32(at + 16, clockid::MONOTONIC).unwrap();
        mem.write_u64(at + 24, timeout).unwrap();
    }

    #[test]
    fn a_relative_clock_fires_after_its_timeout() {
        let mut ctx = crate::WasiCtxBuilder::new().build();
        let mut bytes = vec![0u8; 512];
        let mut mem = GuestMem::new(&mut bytes);
        clock_sub(&mut mem, 0, 7, 5_000_000);
        let t = Instant::now();
        poll_oneoff(&mut ctx, &mut mem, 0, 256, 1, 500).unwrap();
        assert!(t.elapsed() >= Duration::from_millis(5));
        assert_eq!(mem.read_u32(500).unwrap(), 1);
        assert_eq!(mem.read_u64(256).unwrap(), 7);
        assert_eq!(mem.read_u8(256 + 10).unwrap(), eventtype::CLOCK);
    }

    #[test]
    fn ready_descriptors_win_over_a_long_clock() {
        // stdin is empty by default, hence always readable (at end of file).
        let mut ctx = crate::WasiCtxBuilder::new().build();
        let mut bytes = vec![0u8; 512];
        let mut mem = GuestMem::new(&mut bytes);
        clock_sub(&mut mem, 0, 1, 60_000_000_000);
        mem.write_u64(48, 2).unwrap();
        mem.write_u8(48 + 8, eventtype::FD_READ).unwrap();
        mem.write_u32(48 + 16, 0).unwrap();
        // A subscription on a descriptor that does not exist reports EBADF.
        mem.write_u64(96, 3).unwrap();
        mem.write_u8(96 + 8, eventtype::FD_WRITE).unwrap();
        mem.write_u32(96 + 16, 99).unwrap();
        let t = Instant::now();
        poll_oneoff(&mut ctx, &mut mem, 0, 256, 3, 500).unwrap();
        assert!(t.elapsed() < Duration::from_secs(5));
        assert_eq!(mem.read_u32(500).unwrap(), 2);
        let mut seen = vec![];
        for i in 0..2 {
            let at = 256 + i * EVENT_SIZE;
            seen.push((mem.read_u64(at).unwrap(), mem.read_u16(at + 8).unwrap()));
        }
        seen.sort();
        assert_eq!(seen, vec![(2, 0), (3, Errno::Badf.raw())]);
    }

    #[test]
    fn no_subscriptions_is_einval() {
        let mut ctx = crate::WasiCtxBuilder::new().build();
        let mut bytes = vec![0u8; 64];
        let mut mem = GuestMem::new(&mut bytes);
        assert_eq!(poll_oneoff(&mut ctx, &mut mem, 0, 0, 0, 0), Err(Errno::Inval));
        assert_eq!(poll_oneoff(&mut ctx, &mut mem, 0, 40, 1, 0), Err(Errno::Fault));
    }
}
