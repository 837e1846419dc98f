//! The guest interface: the `ward:nano` import module.
//!
//! Every function checks its arguments against the caller's own memory and authority and
//! answers a negative error code ([`errors`]) instead of trapping; nothing a guest passes can
//! make the host panic or allocate more than the documented bounds.

use crate::caps::RestartPolicy;
use crate::proc::{tags, Message, Pid, Undeliverable};
use crate::runtime::{ProcData, Recipe, MAX_TEMPLATE_NAME};
use std::future::poll_fn;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};
use ward::{Caller, Linker};

/// The import module name.
pub const MODULE: &str = "ward:nano";

/// Error codes returned by the `ward:nano` functions (all negative).
pub mod errors {
    /// `receive`: nothing matching arrived in time.
    pub const TIMEOUT: i32 = -1;
    /// The message is larger than the buffer (it stays in the mailbox) or than the limit.
    pub const TOO_BIG: i32 = -2;
    /// A pointer and length do not lie inside the caller's memory (or it exports none).
    pub const FAULT: i32 = -3;
    /// The caller does not hold that authority (handle, template).
    pub const PERM: i32 = -4;
    /// No such process (it ended).
    pub const NO_PROC: i32 = -5;
    /// A bound was reached: the receiver's mailbox, children, the process tree, links.
    pub const FULL: i32 = -6;
    /// No template of that name.
    pub const NO_TEMPLATE: i32 = -7;
    /// The child could not be instantiated.
    pub const SPAWN_FAILED: i32 = -8;
    /// An invalid argument (a negative tag, linking to itself).
    pub const INVAL: i32 = -9;
}
use errors::*;

fn read_guest(caller: &Caller<'_, ProcData>, ptr: i32, len: i32) -> Result<Vec<u8>, i32> {
    let mem = caller.data().memory.ok_or(FAULT)?;
    let len = usize::try_from(len).map_err(|_| FAULT)?;
    let mut buf = vec![0u8; len];
    mem.read(caller, ptr as u32 as usize, &mut buf).map_err(|_| FAULT)?;
    Ok(buf)
}

fn holds(d: &ProcData, pid: Pid) -> bool {
    pid == d.me.pid || d.handles.contains(&pid)
}

fn send(caller: &Caller<'_, ProcData>, to: i64, ptr: i32, len: i32, tag: i32, cap: i64) -> i32 {
    let d = caller.data();
    let (to, cap) = (to as u64, cap as u64);
    if tag < 0 {
        return INVAL;
    }
    if !holds(d, to) || (cap != 0 && !holds(d, cap)) {
        return PERM;
    }
    if len < 0 || len as usize > d.rt.config.max_message_bytes {
        return TOO_BIG;
    }
    let data = match read_guest(caller, ptr, len) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let Some(target) = d.rt.lookup(to) else { return NO_PROC };
    let msg = Message { tag, sender: d.me.pid, cap, data: data.into_boxed_slice() };
    let c = &d.rt.config;
    match target.deliver(msg, Some((c.max_mailbox_messages, c.max_mailbox_bytes))) {
        Ok(()) => 0,
        Err(Undeliverable::Dead) => NO_PROC,
        Err(Undeliverable::Full) => FULL,
    }
}

/// Takes the first message matching `filter` into `buf`, if there is one; otherwise marks the
/// process as waiting (under the mailbox lock, so a concurrent delivery schedules it).
fn take(caller: &mut Caller<'_, ProcData>, buf: i32, cap: i32, filter: i32) -> Option<i32> {
    let mem_size = caller.data().memory.map(|m| m.data_size(&*caller));
    let d = caller.data_mut();
    let me = d.me.clone();
    let mut s = me.lock();
    let Some(i) = s.queue.iter().position(|m| filter == tags::ANY || m.tag == filter) else {
        s.waiting = true;
        return None;
    };
    s.waiting = false;
    let len = s.queue[i].data.len();
    if len > usize::try_from(cap).unwrap_or(0) {
        return Some(TOO_BIG);
    }
    let start = buf as u32 as usize;
    match (d.memory, mem_size) {
        (Some(_), Some(size)) if start.checked_add(len).is_some_and(|end| end <= size) => {}
        _ => return Some(FAULT),
    }
    let msg = s.queue.remove(i)?;
    s.bytes -= len;
    drop(s);
    d.last = (msg.tag, msg.sender, msg.cap);
    if msg.cap != 0 && d.handles.len() < d.rt.config.max_handles {
        d.handles.insert(msg.cap);
    }
    if msg.sender != 0 && msg.tag < 0 {
        // A notice about a process (DOWN, EXIT, RESTARTED) lets the receiver name it.
        d.handles.insert(msg.sender);
    }
    let mem = d.memory?;
    match mem.write(&mut *caller, start, &msg.data) {
        Ok(()) => Some(len as i32),
        Err(_) => Some(FAULT),
    }
}

fn spawn(
    caller: &mut Caller<'_, ProcData>,
    ptr: i32,
    len: i32,
    restart: Option<RestartPolicy>,
) -> i64 {
    if !(0..=MAX_TEMPLATE_NAME as i32).contains(&len) {
        return NO_TEMPLATE as i64;
    }
    let name = match read_guest(caller, ptr, len).map(String::from_utf8) {
        Ok(Ok(n)) => n,
        Ok(Err(_)) => return NO_TEMPLATE as i64,
        Err(e) => return e as i64,
    };
    let d = caller.data();
    if !d.caps.spawn.contains(&name) {
        return PERM as i64;
    }
    let Some(tpl) = d.rt.template(&name) else { return NO_TEMPLATE as i64 };
    if d.me.lock().children.len() >= d.limits.max_children as usize {
        return FULL as i64;
    }
    let Some(tree) = d.me.tree.clone() else { return PERM as i64 };
    let recipe = Recipe {
        caps: Arc::new(tpl.caps.attenuate(&d.caps)),
        limits: tpl.limits.attenuate(&d.limits),
        handles: Vec::new(),
        tree,
        tpl,
        args: None,
        stdin: None,
        stdout: None,
        stderr: None,
        on_worker: false,
    };
    let rt = d.rt.clone();
    let me = d.me.clone();
    // Recorded as a child before it can run (and end), so its exit always finds the entry.
    // A supervised child is monitored from before it can run, so that its first end (it may
    // crash at once, on another worker) is reported with its reason.
    let child = match rt.spawn(recipe, me.pid, restart, restart.map(|_| me.pid)) {
        Ok(c) => c,
        Err(e) if e.contains("full") || e.contains("too many") => return FULL as i64,
        Err(_) => return SPAWN_FAILED as i64,
    };
    {
        let mut s = me.lock();
        s.children.push(child.pid);
    }
    if child.lock().exit.is_some() {
        me.lock().children.retain(|c| *c != child.pid);
    }
    let d = caller.data_mut();
    d.handles.insert(child.pid);
    child.pid as i64
}

fn link_or_monitor(caller: &mut Caller<'_, ProcData>, pid: i64, link: bool) -> i32 {
    let d = caller.data_mut();
    let pid = pid as u64;
    if pid == d.me.pid {
        return INVAL;
    }
    if !holds(d, pid) {
        return PERM;
    }
    if d.links_made as usize >= d.rt.config.max_links {
        return FULL;
    }
    d.links_made += 1;
    if !link {
        d.rt.monitor(d.me.pid, pid);
        return 0;
    }
    let Some(t) = d.rt.lookup(pid) else { return NO_PROC };
    {
        let mut s = t.lock();
        if s.exit.is_some() {
            return NO_PROC;
        }
        if !s.links.contains(&d.me.pid) {
            s.links.push(d.me.pid);
        }
    }
    let mut s = d.me.lock();
    if !s.links.contains(&pid) {
        s.links.push(pid);
    }
    0
}

/// Defines the `ward:nano` functions.
pub(crate) fn add_to_linker(linker: &mut Linker<ProcData>) -> ward::Result<()> {
    linker
        .func_wrap(MODULE, "self", |c: Caller<'_, ProcData>| c.data().me.pid as i64)?
        .func_wrap(MODULE, "parent", |c: Caller<'_, ProcData>| c.data().me.parent as i64)?
        .func_wrap(MODULE, "spawn", |mut c: Caller<'_, ProcData>, ptr: i32, len: i32| {
            spawn(&mut c, ptr, len, None)
        })?
        .func_wrap(
            MODULE,
            "supervise",
            |mut c: Caller<'_, ProcData>, ptr: i32, len: i32, max: i32, window_ms: i32| {
                let policy = RestartPolicy {
                    max_restarts: max.clamp(0, 1000) as u32,
                    window: Duration::from_millis(window_ms.max(0) as u64),
                };
                spawn(&mut c, ptr, len, Some(policy))
            },
        )?
        .func_wrap(
            MODULE,
            "send",
            |c: Caller<'_, ProcData>, to: i64, ptr: i32, len: i32, tag: i32| {
                send(&c, to, ptr, len, tag, 0)
            },
        )?
        .func_wrap(
            MODULE,
            "send_cap",
            |c: Caller<'_, ProcData>, to: i64, ptr: i32, len: i32, tag: i32, cap: i64| {
                send(&c, to, ptr, len, tag, cap)
            },
        )?
        .func_wrap(MODULE, "msg_tag", |c: Caller<'_, ProcData>| c.data().last.0)?
        .func_wrap(MODULE, "msg_sender", |c: Caller<'_, ProcData>| c.data().last.1 as i64)?
        .func_wrap(MODULE, "msg_cap", |c: Caller<'_, ProcData>| c.data().last.2 as i64)?
        .func_wrap(MODULE, "link", |mut c: Caller<'_, ProcData>, pid: i64| {
            link_or_monitor(&mut c, pid, true)
        })?
        .func_wrap(MODULE, "monitor", |mut c: Caller<'_, ProcData>, pid: i64| {
            link_or_monitor(&mut c, pid, false)
        })?
        .func_wrap(MODULE, "trap_exit", |c: Caller<'_, ProcData>, on: i32| {
            c.data().me.trap_exit.store(on != 0, Ordering::Release)
        })?
        .func_wrap(MODULE, "exit", |_: Caller<'_, ProcData>, code: i32| -> ward::Result<()> {
            Err(ward::Error::Exit(code))
        })?
        .func_wrap_async(
            MODULE,
            "receive",
            |mut caller: Caller<'_, ProcData>,
             (buf, cap, timeout_ms, filter): (i32, i32, i32, i32)| {
                Box::pin(async move {
                    let deadline = (timeout_ms > 0)
                        .then(|| Instant::now() + Duration::from_millis(timeout_ms as u64));
                    let mut timer_set = false;
                    let got = poll_fn(|_cx| {
                        if let Some(r) = take(&mut caller, buf, cap, filter) {
                            return Poll::Ready(r);
                        }
                        let expired =
                            timeout_ms == 0 || deadline.is_some_and(|d| Instant::now() >= d);
                        if expired {
                            caller.data().me.lock().waiting = false;
                            return Poll::Ready(TIMEOUT);
                        }
                        if let (Some(d), false) = (deadline, timer_set) {
                            let me = caller.data().me.clone();
                            me.sched.add_timer(d, &me, crate::sched::TimerKind::Wake);
                            timer_set = true;
                        }
                        Poll::Pending
                    })
                    .await;
                    Ok(got)
                })
            },
        )?;
    Ok(())
}
