//! Waiting: `poll`, `pollable.block` and the blocking stream calls. Host sockets are waited for
//! with `poll(2)`, deadlines with its timeout, and every wait is cut into slices of at most
//! [`SLICE`]: between two slices the store's interruption (`--timeout`, an embedder's
//! `InterruptHandle::interrupt`) is checked, and a wait that sees it ends the guest with an
//! `Interrupted` trap. No thread is started for a wait.

use rustix::event::{PollFd, PollFlags, Timespec};
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};
use ward::InterruptHandle;
use ward_component::{Error, Result};

/// The longest a wait goes without checking for interruption.
pub(crate) const SLICE: Duration = Duration::from_millis(50);
/// How often a wait re-checks something it cannot poll (a name lookup on its thread).
const RECHECK: Duration = Duration::from_millis(5);

/// What one pollable waits for, right now.
pub(crate) enum Interest<'a> {
    /// Nothing: it is ready.
    Ready,
    /// An event on a host descriptor (`POLLIN`, `POLLOUT`); errors and hang-ups count too.
    Fd(BorrowedFd<'a>, PollFlags),
    /// An instant (`None`: never).
    Deadline(Option<Instant>),
    /// Something outside the host's descriptors: asked again every few milliseconds.
    Later,
}

/// The trap a wait ends with when the store is interrupted.
pub(crate) fn interrupted() -> Error {
    Error::Wasm(ward::Error::Trap(ward::Trap::new(ward::TrapCode::Interrupted)))
}

fn check(interrupt: Option<&InterruptHandle>) -> Result<()> {
    match interrupt {
        Some(h) if h.is_interrupted() => Err(interrupted()),
        _ => Ok(()),
    }
}

/// Waits until at least one of the pollables `interests` describes (asked again after each
/// slice: readiness changes) is ready; returns the indices of the ready ones, in order. Ends
/// with [`interrupted`] when `interrupt` is raised.
pub(crate) fn wait_any<'a>(
    interests: impl Fn() -> Result<Vec<Interest<'a>>>,
    interrupt: Option<&InterruptHandle>,
) -> Result<Vec<usize>> {
    loop {
        check(interrupt)?;
        let interests = interests()?;
        let now = Instant::now();
        let mut ready = Vec::new();
        let mut timeout = SLICE;
        let mut fds = Vec::new();
        let mut fd_index = Vec::new();
        for (i, interest) in interests.iter().enumerate() {
            match interest {
                Interest::Ready => ready.push(i),
                Interest::Deadline(Some(d)) if *d <= now => ready.push(i),
                Interest::Deadline(Some(d)) => timeout = timeout.min(*d - now),
                Interest::Deadline(None) => {}
                Interest::Later => timeout = timeout.min(RECHECK),
                Interest::Fd(fd, flags) => {
                    fds.push(PollFd::from_borrowed_fd(*fd, *flags));
                    fd_index.push(i);
                }
            }
        }
        if !ready.is_empty() {
            return Ok(ready);
        }
        if poll(&mut fds, timeout) > 0 {
            for (pfd, i) in fds.iter().zip(&fd_index) {
                if !pfd.revents().is_empty() {
                    ready.push(*i);
                }
            }
            if !ready.is_empty() {
                return Ok(ready);
            }
        }
    }
}

/// `poll(2)` on `fds` for at most `timeout` (sleeps when there are none); the number of
/// descriptors with events. Interrupted calls count as no events.
fn poll(fds: &mut [PollFd<'_>], timeout: Duration) -> usize {
    let ts =
        Timespec { tv_sec: timeout.as_secs() as i64, tv_nsec: i64::from(timeout.subsec_nanos()) };
    rustix::event::poll(fds, Some(&ts)).unwrap_or(0)
}

/// Whether `fd` has one of `flags` (or an error or hang-up) now, without waiting.
pub(crate) fn fd_ready(fd: BorrowedFd<'_>, flags: PollFlags) -> bool {
    let mut fds = [PollFd::from_borrowed_fd(fd, flags)];
    poll(&mut fds, Duration::ZERO) > 0 && !fds[0].revents().is_empty()
}

/// Waits until `fd` has one of `flags` (or an error or hang-up).
pub(crate) fn block_on_fd(
    fd: BorrowedFd<'_>,
    flags: PollFlags,
    interrupt: Option<&InterruptHandle>,
) -> Result<()> {
    loop {
        check(interrupt)?;
        let mut fds = [PollFd::from_borrowed_fd(fd, flags)];
        if poll(&mut fds, SLICE) > 0 && !fds[0].revents().is_empty() {
            return Ok(());
        }
    }
}
