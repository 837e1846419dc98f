//! The shared record of one process: its scheduling state, its suspended run (a future holding
//! the store and the parked call), its mailbox, links and monitors.

use crate::sched::Sched;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::Wake;

/// A process id. Ids are never reused within a runtime; 0 is no process.
pub type Pid = u64;

/// A fast hasher for pids (runtime-assigned numbers, not chosen by guests).
#[derive(Default, Clone, Copy)]
pub(crate) struct PidHasher(u64);

impl std::hash::Hasher for PidHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type PidBuild = std::hash::BuildHasherDefault<PidHasher>;
pub(crate) type PidMap<V> = std::collections::HashMap<Pid, V, PidBuild>;
pub(crate) type PidSet = std::collections::HashSet<Pid, PidBuild>;

/// The suspended run of a process: owns its store; while it waits it is plain data.
pub(crate) type Task = Pin<Box<dyn Future<Output = ExitReason> + Send>>;

pub(crate) const IDLE: u8 = 0;
pub(crate) const SCHEDULED: u8 = 1;
pub(crate) const RUNNING: u8 = 2;
pub(crate) const NOTIFIED: u8 = 3;
pub(crate) const DONE: u8 = 4;

/// Reserved message tags (guests send tags ≥ 0 only).
pub mod tags {
    /// Any tag, as a receive filter.
    pub const ANY: i32 = -1;
    /// A monitored process ended (payload: see [`crate::ExitReason::encode`]).
    pub const DOWN: i32 = -2;
    /// A linked process ended and this process traps exits.
    pub const EXIT: i32 = -3;
    /// A supervised child crashed and was restarted (same pid).
    pub const RESTARTED: i32 = -4;
}

/// A message: bytes copied out of the sender's memory, a tag, and optionally a process handle
/// handed over to the receiver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The tag (≥ 0 from guests; see [`tags`] for the runtime's).
    pub tag: i32,
    /// Who sent it (0: the host).
    pub sender: Pid,
    /// A process handle carried by the message (0: none).
    pub cap: Pid,
    /// The payload.
    pub data: Box<[u8]>,
}

/// Why a process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitReason {
    /// Its entry function returned, or it called `exit(0)`.
    Normal,
    /// It called `exit(code)` (or WASI `proc_exit`) with a non-zero code.
    Exit(i32),
    /// It trapped (the message).
    Trap(String),
    /// It was killed (by the host, or because its parent ended).
    Killed(String),
    /// A process it was linked to ended abnormally.
    Linked(Pid),
    /// Its wall-clock deadline passed.
    Deadline,
    /// It did not exist (answer to a monitor of a dead process).
    NoProc,
    /// The runtime could not run it (instantiation failed, a host panic).
    Error(String),
}

impl ExitReason {
    /// Whether links should propagate it and supervisors restart on it.
    pub fn is_abnormal(&self) -> bool {
        !matches!(self, ExitReason::Normal)
    }

    /// The payload of `DOWN`, `EXIT` and `RESTARTED` messages: kind (u32 LE: 0 normal, 1 exit,
    /// 2 trap, 3 killed, 4 linked, 5 deadline, 6 noproc, 7 error), code (i32 LE: the exit code,
    /// or for `Linked` the low 32 bits of the pid), the pid that ended (u64 LE), then the reason
    /// as UTF-8 text, at most 200 bytes.
    pub fn encode(&self, pid: Pid) -> Box<[u8]> {
        let (kind, code, text): (u32, i32, &str) = match self {
            ExitReason::Normal => (0, 0, "normal"),
            ExitReason::Exit(c) => (1, *c, "exit"),
            ExitReason::Trap(m) => (2, 0, m),
            ExitReason::Killed(m) => (3, 0, m),
            ExitReason::Linked(p) => (4, *p as i32, "linked process ended"),
            ExitReason::Deadline => (5, 0, "deadline"),
            ExitReason::NoProc => (6, 0, "noproc"),
            ExitReason::Error(m) => (7, 0, m),
        };
        let mut cut = text.len().min(200);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut out = Vec::with_capacity(16 + cut);
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&code.to_le_bytes());
        out.extend_from_slice(&pid.to_le_bytes());
        out.extend_from_slice(&text.as_bytes()[..cut]);
        out.into_boxed_slice()
    }
}

/// What other threads may touch, under one lock.
#[derive(Default)]
pub(crate) struct Shared {
    pub queue: VecDeque<Message>,
    pub bytes: usize,
    /// Blocked in `receive`: a delivery schedules it.
    pub waiting: bool,
    pub links: Vec<Pid>,
    /// Processes to tell (DOWN) when this one ends.
    pub monitors: Vec<Pid>,
    pub children: Vec<Pid>,
    pub exit: Option<ExitReason>,
    pub kill: Option<ExitReason>,
    /// Host futures waiting for it to end ([`crate::ProcHandle::exited`]).
    pub exit_wakers: Vec<std::task::Waker>,
}

/// Why a delivery failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Undeliverable {
    Dead,
    Full,
}

pub(crate) struct Proc {
    pub pid: Pid,
    pub parent: Pid,
    pub sched: Arc<Sched>,
    pub state: AtomicU8,
    pub task: Mutex<Option<Task>>,
    pub shared: Mutex<Shared>,
    pub killed: AtomicBool,
    pub trap_exit: AtomicBool,
    /// Host endpoints have no task; deliveries notify this instead.
    pub host_cv: Option<Condvar>,
    pub supervision: Option<Box<Mutex<crate::runtime::Supervision>>>,
    /// The budget of its process tree (shared with its root), given back when it ends.
    pub tree: Option<Arc<std::sync::atomic::AtomicU32>>,
    /// The capabilities it was granted.
    pub caps: Arc<crate::caps::Caps>,
}

impl Proc {
    pub fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts `msg` in the mailbox; `bounds` (messages, bytes) apply to guest messages, not to
    /// the runtime's notices (whose number is bounded by links and monitors).
    pub fn deliver(
        self: &Arc<Self>,
        msg: Message,
        bounds: Option<(usize, usize)>,
    ) -> Result<(), Undeliverable> {
        let mut s = self.lock();
        if s.exit.is_some() {
            return Err(Undeliverable::Dead);
        }
        if let Some((max_msgs, max_bytes)) = bounds {
            if s.queue.len() >= max_msgs || s.bytes.saturating_add(msg.data.len()) > max_bytes {
                return Err(Undeliverable::Full);
            }
        }
        s.bytes += msg.data.len();
        s.queue.push_back(msg);
        let wake = std::mem::take(&mut s.waiting);
        drop(s);
        if let Some(cv) = &self.host_cv {
            cv.notify_all();
        } else if wake {
            schedule(self);
        }
        Ok(())
    }

    /// Asks the process to end with `reason` at its next scheduling point.
    pub fn kill(self: &Arc<Self>, reason: ExitReason) {
        if self.host_cv.is_some() {
            return;
        }
        let mut s = self.lock();
        if s.exit.is_some() || s.kill.is_some() {
            return;
        }
        s.kill = Some(reason);
        drop(s);
        self.killed.store(true, Ordering::Release);
        schedule(self);
    }
}

/// Makes `p` runnable (if it is idle) or notes that it must run again (if it is running).
pub(crate) fn schedule(p: &Arc<Proc>) {
    let mut s = p.state.load(Ordering::Acquire);
    loop {
        let next = match s {
            IDLE => SCHEDULED,
            RUNNING => NOTIFIED,
            _ => return,
        };
        match p.state.compare_exchange_weak(s, next, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {
                if next == SCHEDULED {
                    p.sched.in_flight.add(p.sched.id, 1);
                    p.sched.push(p.clone(), false);
                }
                return;
            }
            Err(now) => s = now,
        }
    }
}

impl Wake for Proc {
    fn wake(self: Arc<Self>) {
        schedule(&self);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        schedule(self);
    }
}
