//! Cooperative threads: `thread.new-indirect`, `thread.suspend`, `thread.yield-then-resume`,
//! `thread.suspend-then-resume`, `thread.resume-later` (and the thread table behind
//! `thread.index`).
//!
//! A thread is a [`Task`]: a task's implicit thread is the task itself, an explicit thread
//! (made by `thread.new-indirect`) is a `Task` whose `owner` is the task it belongs to. Like a
//! task's core call, an explicit thread's call of its start function is made resumably, so
//! that what suspends is data:
//!
//! - a new thread keeps its start function and argument until it first runs;
//! - a thread that suspends (or switches to another) from a core call that can park parks it
//!   with [`Block::Suspend`]: in the scheduler's waiting list, but never ready until it is
//!   resumed;
//! - switching to a thread starts it, or resumes its parked call, at once; the switching
//!   thread parks first, naming the thread to run next (`TaskMut::switch_to`) to the code that
//!   drove its call ([`run_threads`]), so that threads switching back and forth do not nest on
//!   the host stack;
//! - a thread that cannot park (a synchronous lift's core call is a plain call) suspends *in
//!   place*: it runs other threads nested until one resumes it. In a task that may not block
//!   (a synchronous function type that has not returned) only threads of its own instance run,
//!   and when none is ready that is the trap of a synchronous task that would block, as in
//!   the end of the specification's `canon_lift`.
//!
//! Each instance's thread table holds at most [`MAX_THREADS`] threads (explicit ones and
//! implicit ones that asked for their index); a guest that makes more traps. The `thread.*`
//! built-ins here have no `cancellable` form (wasmparser rejects it since
//! WebAssembly/component-model#716), so they always return 0 (not cancelled).

use super::{
    current, drive_one, parkable, resume_parked, run_until_where, After, Block, CoreCall, Env,
    Task, Wait,
};
use crate::abi::{core_bits, trap};
use std::sync::{Arc, Weak};
use ward::StoreContextMut;

/// The most threads one component instance's thread table holds.
pub(crate) const MAX_THREADS: usize = 1 << 14;

/// One entry of an instance's thread table.
enum Slot {
    Free,
    /// A task's implicit thread: the task is kept alive by whoever called it.
    Implicit(Weak<Task>),
    /// An explicit thread: the table keeps it alive until its start function returns.
    Explicit(Arc<Task>),
}

/// An instance's thread table: thread index `i` is entry `i - 1`.
#[derive(Default)]
pub(crate) struct Threads {
    slots: Vec<Slot>,
    free: Vec<u32>,
}

impl Threads {
    fn add(&mut self, slot: Slot) -> ward::Result<u32> {
        if let Some(i) = self.free.pop() {
            self.slots[i as usize - 1] = slot;
            return Ok(i);
        }
        if self.slots.len() >= MAX_THREADS {
            return Err(trap(format!(
                "too many threads in one component instance (the limit is {MAX_THREADS})"
            )));
        }
        self.slots.push(slot);
        Ok(self.slots.len() as u32)
    }

    /// An index for `task`'s implicit thread.
    pub(super) fn add_implicit(&mut self, task: &Arc<Task>) -> ward::Result<u32> {
        self.add(Slot::Implicit(Arc::downgrade(task)))
    }

    pub(super) fn remove(&mut self, i: u32) {
        if let Some(slot) = self.slots.get_mut((i as usize).wrapping_sub(1)) {
            if !matches!(slot, Slot::Free) {
                *slot = Slot::Free;
                self.free.push(i);
            }
        }
    }

    fn get(&self, i: u32) -> Option<Arc<Task>> {
        match self.slots.get((i as usize).wrapping_sub(1))? {
            Slot::Free => None,
            Slot::Implicit(t) => t.upgrade(),
            Slot::Explicit(t) => Some(t.clone()),
        }
    }
}

fn arg(args: &[ward::Val], i: usize) -> u32 {
    args.get(i).map_or(0, |v| core_bits(v) as u32)
}

/// The current thread of `env`'s instance.
fn current_thread(env: &Env<'_>) -> ward::Result<Arc<Task>> {
    current(env.inst).ok_or_else(|| trap("no current thread"))
}

/// Thread `i` of `env`'s instance, which must be suspended.
fn suspended_thread(env: &Env<'_>, i: u32) -> ward::Result<Arc<Task>> {
    let thread = env.inst.lock().conc.threads.get(i);
    let thread = thread.ok_or_else(|| trap(format!("unknown thread index {i}")))?;
    if !thread.lock().suspended {
        return Err(trap(format!("thread {i} is not suspended")));
    }
    Ok(thread)
}

/// `thread.new-indirect`: a new, suspended thread of the current task that will call function
/// `args[0]` of the built-in's table with `args[1]`.
pub(super) fn new_indirect<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    env: &Env<'_>,
    args: &[ward::Val],
) -> ward::Result<Option<u64>> {
    let owner = current_thread(env)?.owning_task();
    let start = start_func(ctx, env, arg(args, 0), args.get(1))?;
    let closure = args.get(1).copied().unwrap_or(ward::Val::I32(0));
    let thread = Task::thread(&owner, start, closure);
    let index = env.inst.lock().conc.threads.add(Slot::Explicit(thread.clone()))?;
    thread.lock().thread = index;
    owner.lock().threads += 1;
    Ok(Some(index as u64))
}

/// Function `fi` of the built-in's table, which must have the start function type (one
/// parameter of `closure`'s type, no results).
fn start_func<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    env: &Env<'_>,
    fi: u32,
    closure: Option<&ward::Val>,
) -> ward::Result<ward::Func> {
    let table = env.table.ok_or_else(|| trap("thread.new-indirect without a table"))?;
    let f = match table.get(&*ctx, fi as u64) {
        None => return Err(trap("thread start function index out of bounds of the table")),
        Some(ward::Val::FuncRef(Some(f))) => f,
        Some(ward::Val::FuncRef(None)) => return Err(trap("uninitialized thread start function")),
        Some(_) => return Err(trap("thread start function table holds no functions")),
    };
    let param = match closure {
        Some(ward::Val::I64(_)) => ward::ValType::I64,
        _ => ward::ValType::I32,
    };
    if f.ty(&*ctx) != ward::FuncType::new([param], []) {
        return Err(trap("thread start function of the wrong type"));
    }
    Ok(f)
}

/// `thread.resume-later`: suspended thread `args[0]` becomes ready to run; the event loop
/// runs it.
pub(super) fn resume_later(env: &Env<'_>, args: &[ward::Val]) -> ward::Result<Option<u64>> {
    let thread = suspended_thread(env, arg(args, 0))?;
    let not_started = {
        let mut m = thread.lock();
        m.suspended = false;
        if let Some(p) = &mut m.parked {
            p.block = Block::Suspend { resumed: true };
        }
        m.start_call.is_some()
    };
    if not_started {
        env.inst.sched.park(&thread, Wait::Thread)?;
    }
    Ok(None)
}

/// `thread.suspend`: the current thread waits until another resumes it.
pub(super) fn suspend<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    env: &Env<'_>,
) -> ward::Result<Option<u64>> {
    let me = current_thread(env)?;
    switch_from(ctx, env, &me, None, true)
}

/// `thread.yield-then-resume` (`suspend` false) and `thread.suspend-then-resume` (`suspend`
/// true): switches to suspended thread `args[0]`, leaving the current one ready to run or
/// suspended.
pub(super) fn switch<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    env: &Env<'_>,
    args: &[ward::Val],
    suspend: bool,
) -> ward::Result<Option<u64>> {
    let me = current_thread(env)?;
    let other = suspended_thread(env, arg(args, 0))?;
    switch_from(ctx, env, &me, Some(other), suspend)
}

/// The current thread `me` stops (suspended if `suspend`, else ready to run) and `other`, if
/// any, runs. The built-in's result: 0 (these forms never report cancellation).
fn switch_from<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    env: &Env<'_>,
    me: &Arc<Task>,
    other: Option<Arc<Task>>,
    suspend: bool,
) -> ward::Result<Option<u64>> {
    if parkable(env.inst, env.can_park).is_some() {
        let mut m = me.lock();
        m.suspended = suspend;
        m.block = Some(Block::Suspend { resumed: !suspend });
        m.switch_to = other;
        return Err(ward::Error::Park);
    }
    // In place: `other` runs nested, then (suspended) the others run until one resumes `me`.
    me.lock().suspended = suspend;
    let mut r = run_threads(ctx, other);
    if suspend && r.is_ok() {
        r = wait_resumed(ctx, env, me);
    }
    if r.is_err() {
        me.lock().suspended = false;
    }
    r.map(|()| Some(0))
}

/// Runs `next`, and whoever it switches to, until one parks or finishes without switching.
pub(super) fn run_threads<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    mut next: Option<Arc<Task>>,
) -> ward::Result<()> {
    while let Some(thread) = next {
        next = enter(ctx, &thread)?;
    }
    Ok(())
}

/// Switches to suspended `thread`: starts it, resumes its parked call, or (suspended in place,
/// further down the host stack) lets its wait end. The thread to switch to next, if it names
/// one.
fn enter<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    thread: &Arc<Task>,
) -> ward::Result<Option<Arc<Task>>> {
    let (start, parked) = {
        let mut m = thread.lock();
        m.suspended = false;
        (m.start_call.take(), m.parked.is_some())
    };
    if let Some((f, closure)) = start {
        return drive_one(ctx, thread, CoreCall::Start(f, &[closure]), After::Thread);
    }
    if parked {
        thread.inst.sched.unpark(thread);
        return resume_parked(ctx, thread);
    }
    Ok(None)
}

/// Runs other threads until suspended `me` (blocked in place) is resumed. A thread whose task
/// may not block runs only threads of its own instance, and traps as a synchronous task that
/// would block when none can run.
fn wait_resumed<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    env: &Env<'_>,
    me: &Arc<Task>,
) -> ward::Result<()> {
    let (id, sched) = (env.inst.id, &env.inst.sched);
    let resumed = || !me.lock().suspended;
    if me.can_block() {
        return run_until_where(ctx, sched, |_| true, resumed, super::deadlock);
    }
    // The specification's `canon_lift` resumes the instance's ready threads: not tasks that
    // have yet to start.
    let own = |t: &Task| t.inst.id == id && t.lock().wait != Wait::Start;
    run_until_where(ctx, sched, own, resumed, super::block_trap)
}

/// An explicit thread's start function returned: it leaves the thread table, and its task, if
/// its other threads are done too, must have returned.
pub(super) fn exit(thread: &Arc<Task>) -> ward::Result<()> {
    thread.release_thread();
    let Some(owner) = &thread.owner else { return Ok(()) };
    let mut m = owner.lock();
    m.threads = m.threads.saturating_sub(1);
    if m.threads == 0 && m.exited && m.state != super::TaskState::Resolved {
        return Err(trap("async-lifted export failed to produce a result"));
    }
    Ok(())
}
