//! # The guest side of Ward nanoprocesses
//!
//! Safe wrappers over the `ward:nano` import module that `ward-nano` defines for every process
//! (its `src/guest.rs`; the C declarations are `guest/ward_nano.h`). A nanoprocess is a
//! WebAssembly instance with its own memory, mailbox and capabilities; built for
//! `wasm32-wasip1`, an ordinary Rust `fn main` is its entry (the `_start` export).
//!
//! ```no_run
//! use ward_nano_guest::{receive, send, Filter};
//! // An echo: answer every message with tag 1 to its sender, with tag 2.
//! loop {
//!     let m = receive(None, Filter::Tag(1)).unwrap();
//!     if let Some(from) = m.sender {
//!         let _ = send(from, 2, &m.data);
//!     }
//! }
//! ```
//!
//! What the host enforces, and these wrappers only report:
//!
//! - A process may [`send`], [`link`] and [`monitor`] only the processes whose *handles* it
//!   holds: itself, its parent, the children it spawned, handles the host granted it, handles
//!   received in messages ([`send_cap`]) and the process a notice is about. Knowing a pid is not
//!   enough: anything else answers [`Error::Perm`], whether or not the process exists.
//! - It may [`spawn`] only the templates its capabilities name; the child's capabilities and
//!   limits are its template's intersected with its parent's.
//! - Tags ≥ 0 belong to guests; negative tags are the runtime's notices ([`tag`]).
//! - Bounds (the defaults; the embedder may change them): a message is at most
//!   [`MAX_MESSAGE`] bytes; a mailbox holds at most 1024 messages and 4 MiB (a send to a full
//!   one answers [`Error::Full`]); at most 4096 handles, 1024 links and monitors, 64 live
//!   children; a template name is at most 128 bytes.
//!
//! Every function answers an [`Error`] rather than trapping: the host checks each argument
//! against the caller's own memory and authority.

use std::fmt;
use std::num::NonZeroU64;
use std::time::Duration;

mod sys;

/// The largest message the host accepts by default, in bytes (64 KiB). [`receive`] receives
/// messages up to this size; use [`receive_into`] with a larger buffer if the embedder raised
/// the limit.
pub const MAX_MESSAGE: usize = 64 << 10;

/// The runtime's reserved tags: receive filters and notices. Guests send tags ≥ 0 only.
pub mod tag {
    /// Any tag, as a receive filter.
    pub const ANY: i32 = -1;
    /// A monitored (or supervised) process ended. Payload: a [`crate::Notice`].
    pub const DOWN: i32 = -2;
    /// A linked process ended, and this process traps exits ([`crate::trap_exit`]).
    pub const EXIT: i32 = -3;
    /// A supervised child ended abnormally and was restarted (same pid).
    pub const RESTARTED: i32 = -4;
}

/// An error answered by a `ward:nano` function (the `WARD_E_*` codes of `ward_nano.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// `receive`: nothing matching arrived in time.
    #[error("timed out")]
    Timeout,
    /// The message is larger than the receive buffer (it stays in the mailbox), or than the
    /// runtime's message limit (nothing was sent).
    #[error("message too big")]
    TooBig,
    /// A pointer and length do not lie inside this process's memory.
    #[error("bad address")]
    Fault,
    /// This process does not hold that handle or may not spawn that template.
    #[error("permission denied")]
    Perm,
    /// The process has ended.
    #[error("no such process")]
    NoProc,
    /// A bound was reached: the receiver's mailbox, this process's children, its process tree,
    /// or its links and monitors.
    #[error("limit reached")]
    Full,
    /// No template of that name (or the name is longer than 128 bytes).
    #[error("no such template")]
    NoTemplate,
    /// The child could not be instantiated.
    #[error("spawn failed")]
    SpawnFailed,
    /// An invalid argument: a negative tag, linking to or monitoring itself.
    #[error("invalid argument")]
    Inval,
    /// A code this crate does not know (a newer host).
    #[error("error {0}")]
    Unknown(i32),
}

impl Error {
    /// The error a (negative) code stands for.
    pub fn from_code(code: i32) -> Error {
        match code {
            -1 => Error::Timeout,
            -2 => Error::TooBig,
            -3 => Error::Fault,
            -4 => Error::Perm,
            -5 => Error::NoProc,
            -6 => Error::Full,
            -7 => Error::NoTemplate,
            -8 => Error::SpawnFailed,
            -9 => Error::Inval,
            c => Error::Unknown(c),
        }
    }

    /// Its `WARD_E_*` code.
    pub fn code(self) -> i32 {
        match self {
            Error::Timeout => -1,
            Error::TooBig => -2,
            Error::Fault => -3,
            Error::Perm => -4,
            Error::NoProc => -5,
            Error::Full => -6,
            Error::NoTemplate => -7,
            Error::SpawnFailed => -8,
            Error::Inval => -9,
            Error::Unknown(c) => c,
        }
    }
}

/// The result of a `ward:nano` call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `Ok(())` for 0, the error for a negative code.
fn status(code: i32) -> Result<()> {
    if code < 0 {
        Err(Error::from_code(code))
    } else {
        Ok(())
    }
}

/// A pid for a non-negative answer; the error for a negative one; [`Error::NoProc`] for 0.
fn pid_or_error(raw: i64) -> Result<Pid> {
    if raw < 0 {
        return Err(Error::from_code(i32::try_from(raw).unwrap_or(i32::MIN)));
    }
    Pid::from_raw(raw as u64).ok_or(Error::NoProc)
}

/// A process id. Ids are never reused within a runtime; 0 means "no process", so a `Pid` is
/// never 0 and `Option<Pid>` stands for "a process or none".
///
/// A `Pid` is a name, not an authority: whether this process may message it depends on the
/// handles it holds, which only the host tracks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pid(NonZeroU64);

impl Pid {
    /// The pid numbered `raw`, or `None` for 0.
    pub fn from_raw(raw: u64) -> Option<Pid> {
        NonZeroU64::new(raw).map(Pid)
    }

    /// Its number.
    pub fn get(self) -> u64 {
        self.0.get()
    }

    /// Its number as the imports take it.
    fn raw(self) -> i64 {
        self.0.get() as i64
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// This process's pid.
pub fn self_pid() -> Pid {
    let raw = sys::self_();
    // The runtime numbers processes from 1; 0 cannot be a running process.
    Pid::from_raw(raw as u64).unwrap_or_else(|| abort())
}

/// Its parent's pid: the process that spawned it, or `None` if the host did. It holds its
/// parent's handle.
pub fn parent() -> Option<Pid> {
    Pid::from_raw(sys::parent() as u64)
}

/// Spawns a process from the template `name`, which this process's capabilities must name
/// ([`Error::Perm`] otherwise, also for templates that do not exist). The child's capabilities
/// are its template's intersected with this process's; its limits are never above this
/// process's. This process then holds the child's handle, and the child holds its parent's.
///
/// Errors: [`Error::Perm`], [`Error::NoTemplate`] (allowed but not registered, or a name
/// longer than 128 bytes), [`Error::Full`] (children, process tree or runtime full),
/// [`Error::SpawnFailed`].
pub fn spawn(name: &str) -> Result<Pid> {
    let len = i32::try_from(name.len()).map_err(|_| Error::NoTemplate)?;
    pid_or_error(sys::spawn(name.as_ptr() as usize as i32, len))
}

/// As [`spawn`], and the child is *supervised*: when it ends abnormally (a trap, a non-zero
/// exit, an error; not when it is killed or reaches its deadline) it is restarted in place —
/// same pid, fresh instance, empty mailbox — at most `max_restarts` times in any sliding
/// `window` (the host caps `max_restarts` at 1000). This process gets a [`tag::RESTARTED`]
/// notice for each restart and [`tag::DOWN`] when the child ends for good (it monitors it).
pub fn supervise(name: &str, max_restarts: u32, window: Duration) -> Result<Pid> {
    let len = i32::try_from(name.len()).map_err(|_| Error::NoTemplate)?;
    let max = i32::try_from(max_restarts).unwrap_or(i32::MAX);
    let window_ms = i32::try_from(window.as_millis()).unwrap_or(i32::MAX);
    pid_or_error(sys::supervise(name.as_ptr() as usize as i32, len, max, window_ms))
}

/// Copies `data` into the mailbox of `to`, with `tag` (≥ 0; [`Error::Inval`] otherwise).
///
/// Errors: [`Error::Perm`] (this process does not hold `to`'s handle — checked before anything
/// else), [`Error::TooBig`] (over the runtime's message limit), [`Error::NoProc`] (it ended),
/// [`Error::Full`] (its mailbox is full), [`Error::Inval`].
pub fn send(to: Pid, tag: i32, data: &[u8]) -> Result<()> {
    let len = i32::try_from(data.len()).map_err(|_| Error::TooBig)?;
    status(sys::send(to.raw(), data.as_ptr() as usize as i32, len, tag))
}

/// As [`send`], and hands over the handle `cap` (which this process must hold; its own pid is
/// allowed): the receiver may then message, link and monitor `cap`.
pub fn send_cap(to: Pid, tag: i32, data: &[u8], cap: Pid) -> Result<()> {
    let len = i32::try_from(data.len()).map_err(|_| Error::TooBig)?;
    status(sys::send_cap(to.raw(), data.as_ptr() as usize as i32, len, tag, cap.raw()))
}

/// Which messages [`receive`] takes: the oldest one, or the oldest one with a tag, leaving the
/// others queued in order (selective receive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// The oldest message.
    Any,
    /// The oldest message with this tag (a guest tag ≥ 0 or one of [`tag`]'s notices).
    Tag(i32),
}

impl Filter {
    /// Notices that a monitored or supervised process ended.
    pub const DOWN: Filter = Filter::Tag(tag::DOWN);
    /// Notices that a linked process ended (when trapping exits).
    pub const EXIT: Filter = Filter::Tag(tag::EXIT);
    /// Notices that a supervised child was restarted.
    pub const RESTARTED: Filter = Filter::Tag(tag::RESTARTED);

    fn raw(self) -> i32 {
        match self {
            Filter::Any => tag::ANY,
            Filter::Tag(t) => t,
        }
    }
}

/// The host's `timeout_ms`: -1 forever, 0 no wait, else milliseconds rounded up (so that a
/// short positive timeout still waits) and capped at `i32::MAX`.
fn timeout_ms(timeout: Option<Duration>) -> i32 {
    match timeout {
        None => -1,
        Some(d) => {
            let ms = d.as_nanos().div_ceil(1_000_000);
            i32::try_from(ms).unwrap_or(i32::MAX)
        }
    }
}

/// What [`receive_into`] took: the length of the payload it wrote, and about whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// Bytes written at the start of the buffer.
    pub len: usize,
    /// The message's tag.
    pub tag: i32,
    /// Who sent it (`None`: the host). For a notice, the process it is about.
    pub sender: Option<Pid>,
    /// The handle it carried, which this process now holds.
    pub cap: Option<Pid>,
}

/// Takes the oldest message matching `filter` into `buf`. `timeout`: `None` waits forever,
/// `Some(Duration::ZERO)` does not wait, otherwise up to that long (whole milliseconds, rounded
/// up). While it waits the process holds no thread. Receiving a message that carries a handle,
/// or a notice about a process, makes this process hold that handle.
///
/// Errors: [`Error::Timeout`]; [`Error::TooBig`] (the message is longer than `buf`; it stays
/// queued); [`Error::Fault`].
pub fn receive_into(buf: &mut [u8], timeout: Option<Duration>, filter: Filter) -> Result<Envelope> {
    let cap = i32::try_from(buf.len()).unwrap_or(i32::MAX);
    let n = sys::receive(buf.as_mut_ptr() as usize as i32, cap, timeout_ms(timeout), filter.raw());
    if n < 0 {
        return Err(Error::from_code(n));
    }
    Ok(Envelope { len: n as usize, tag: last_tag(), sender: last_sender(), cap: last_cap() })
}

/// A message received with [`receive`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Its tag (≥ 0 from a guest; see [`tag`] for the runtime's notices).
    pub tag: i32,
    /// Who sent it (`None`: the host). For a notice, the process it is about.
    pub sender: Option<Pid>,
    /// The handle it carried, which this process now holds.
    pub cap: Option<Pid>,
    /// The payload.
    pub data: Vec<u8>,
}

impl Message {
    /// The notice it is, if its tag is [`tag::DOWN`], [`tag::EXIT`] or [`tag::RESTARTED`].
    pub fn notice(&self) -> Option<Notice> {
        matches!(self.tag, tag::DOWN | tag::EXIT | tag::RESTARTED)
            .then(|| Notice::parse(&self.data))
            .flatten()
    }
}

/// As [`receive_into`], into a new vector: messages up to [`MAX_MESSAGE`] bytes (a longer one
/// answers [`Error::TooBig`] and stays queued).
pub fn receive(timeout: Option<Duration>, filter: Filter) -> Result<Message> {
    let mut buf: Vec<u8> = Vec::with_capacity(MAX_MESSAGE);
    // The host writes the payload into the spare capacity (no need to zero 64 KiB first).
    let n = sys::receive(
        buf.as_mut_ptr() as usize as i32,
        MAX_MESSAGE as i32,
        timeout_ms(timeout),
        filter.raw(),
    );
    if n < 0 {
        return Err(Error::from_code(n));
    }
    let len = (n as usize).min(MAX_MESSAGE);
    // SAFETY: the host answered `n` ≥ 0 only after writing exactly `n` bytes (at most the
    // capacity it was given) at the start of the buffer, so those bytes are initialised.
    unsafe { buf.set_len(len) };
    buf.shrink_to_fit();
    Ok(Message { tag: last_tag(), sender: last_sender(), cap: last_cap(), data: buf })
}

/// The tag of the last message this process received (0 before the first).
pub fn last_tag() -> i32 {
    sys::msg_tag()
}

/// The sender of the last message this process received (`None`: the host, or none yet).
pub fn last_sender() -> Option<Pid> {
    Pid::from_raw(sys::msg_sender() as u64)
}

/// The handle carried by the last message this process received (`None`: none).
pub fn last_cap() -> Option<Pid> {
    Pid::from_raw(sys::msg_cap() as u64)
}

/// Links this process and `pid` both ways: when either ends abnormally the other is killed,
/// unless it traps exits ([`trap_exit`]) and then gets a [`tag::EXIT`] notice. A normal end
/// kills nobody (a process trapping exits is told of it too).
///
/// Errors: [`Error::Inval`] (itself), [`Error::Perm`] (a handle it does not hold),
/// [`Error::Full`] (1024 links and monitors set up), [`Error::NoProc`] (it has ended).
pub fn link(pid: Pid) -> Result<()> {
    status(sys::link(pid.raw()))
}

/// Monitors `pid`: this process gets a [`tag::DOWN`] notice when it ends — at once, with
/// [`ExitKind::NoProc`], if it already has. Errors as [`link`], except that an ended process is
/// not an error.
pub fn monitor(pid: Pid) -> Result<()> {
    status(sys::monitor(pid.raw()))
}

/// Whether this process traps exits: if it does, a linked process's end arrives as a
/// [`tag::EXIT`] notice instead of killing it.
pub fn trap_exit(on: bool) {
    sys::trap_exit(i32::from(on))
}

/// Ends this process: 0 ends it normally, anything else abnormally (its supervisor restarts
/// it, linked processes are killed). Its children end with it.
pub fn exit(code: i32) -> ! {
    sys::exit(code);
    // The host never returns from `exit`.
    abort()
}

fn abort() -> ! {
    std::process::abort()
}

/// Why a process ended, as a notice reports it (and `ExitReason` in `ward-nano`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitKind {
    /// Its entry returned, or it called `exit(0)`.
    Normal,
    /// It exited with a non-zero code ([`Notice::code`]).
    Exit,
    /// It trapped ([`Notice::reason`] holds the trap message).
    Trap,
    /// It was killed (by the host, or because its parent ended).
    Killed,
    /// A process linked to it ended abnormally.
    Linked,
    /// Its wall-clock deadline passed.
    Deadline,
    /// It did not exist when it was monitored.
    NoProc,
    /// The runtime could not run it (instantiation failed, a host error).
    Error,
    /// A kind this crate does not know.
    Unknown(u32),
}

impl ExitKind {
    fn from_code(kind: u32) -> ExitKind {
        match kind {
            0 => ExitKind::Normal,
            1 => ExitKind::Exit,
            2 => ExitKind::Trap,
            3 => ExitKind::Killed,
            4 => ExitKind::Linked,
            5 => ExitKind::Deadline,
            6 => ExitKind::NoProc,
            7 => ExitKind::Error,
            k => ExitKind::Unknown(k),
        }
    }
}

/// The payload of a [`tag::DOWN`], [`tag::EXIT`] or [`tag::RESTARTED`] notice: `u32 kind, i32
/// code, u64 pid`, then up to 200 bytes of UTF-8 reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// How the process ended.
    pub kind: ExitKind,
    /// The exit code for [`ExitKind::Exit`]; for [`ExitKind::Linked`], the low 32 bits of the
    /// linked process's pid; otherwise 0.
    pub code: i32,
    /// The process that ended (`None` only if the payload said 0).
    pub pid: Option<Pid>,
    /// The reason in words (the trap message, "deadline", ...).
    pub reason: String,
}

impl Notice {
    /// Decodes a notice's payload; `None` if it is shorter than 16 bytes.
    pub fn parse(data: &[u8]) -> Option<Notice> {
        let kind = u32::from_le_bytes(data.get(0..4)?.try_into().ok()?);
        let code = i32::from_le_bytes(data.get(4..8)?.try_into().ok()?);
        let pid = u64::from_le_bytes(data.get(8..16)?.try_into().ok()?);
        Some(Notice {
            kind: ExitKind::from_code(kind),
            code,
            pid: Pid::from_raw(pid),
            reason: String::from_utf8_lossy(&data[16..]).into_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_round_trip_and_match_the_header() {
        // WARD_E_TIMEOUT .. WARD_E_INVAL in guest/ward_nano.h.
        for code in -9..=-1 {
            let e = Error::from_code(code);
            assert!(!matches!(e, Error::Unknown(_)), "{code}");
            assert_eq!(e.code(), code);
        }
        assert_eq!(Error::from_code(-4), Error::Perm);
        assert_eq!(Error::from_code(-42), Error::Unknown(-42));
        assert_eq!(Error::Unknown(-42).code(), -42);
        assert_eq!(status(0), Ok(()));
        assert_eq!(status(-6), Err(Error::Full));
        assert_eq!(pid_or_error(-7), Err(Error::NoTemplate));
        assert_eq!(pid_or_error(i64::MIN), Err(Error::Unknown(i32::MIN)));
        assert_eq!(pid_or_error(0), Err(Error::NoProc));
        assert_eq!(pid_or_error(12).map(Pid::get), Ok(12));
    }

    #[test]
    fn timeouts_map_to_the_hosts_milliseconds() {
        assert_eq!(timeout_ms(None), -1);
        assert_eq!(timeout_ms(Some(Duration::ZERO)), 0);
        assert_eq!(timeout_ms(Some(Duration::from_micros(1))), 1);
        assert_eq!(timeout_ms(Some(Duration::from_millis(1500))), 1500);
        assert_eq!(timeout_ms(Some(Duration::from_secs(u64::MAX))), i32::MAX);
    }

    #[test]
    fn notices_decode_the_hosts_layout() {
        // ExitReason::encode in ward-nano: kind, code, pid, reason.
        let mut data = Vec::new();
        data.extend_from_slice(&1u32.to_le_bytes());
        data.extend_from_slice(&3i32.to_le_bytes());
        data.extend_from_slice(&42u64.to_le_bytes());
        data.extend_from_slice(b"exit");
        let n = Notice::parse(&data).unwrap();
        assert_eq!(n.kind, ExitKind::Exit);
        assert_eq!((n.code, n.pid.map(Pid::get), n.reason.as_str()), (3, Some(42), "exit"));
        assert_eq!(Notice::parse(&data[..15]), None);
        assert_eq!(
            Notice::parse(&[9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).map(|n| n.kind),
            Some(ExitKind::Unknown(9))
        );
        let m = Message { tag: tag::DOWN, sender: Pid::from_raw(42), cap: None, data };
        assert_eq!(m.notice().map(|n| n.kind), Some(ExitKind::Exit));
        assert_eq!(Message { tag: 2, ..m }.notice(), None);
    }

    #[test]
    fn filters_and_pids() {
        assert_eq!(Filter::Any.raw(), -1);
        assert_eq!(Filter::DOWN.raw(), -2);
        assert_eq!(Filter::Tag(5).raw(), 5);
        assert_eq!(Pid::from_raw(0), None);
        assert_eq!(Pid::from_raw(7).unwrap().to_string(), "7");
    }
}
