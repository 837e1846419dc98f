//! The async canonical ABI: tasks, `task.return`, `context.get/set`, backpressure, waitable
//! sets, subtasks, callback-driven (stackless) async lifts, async lowers, `thread.yield`,
//! cooperative threads ([`threads`]), streams and futures.
//!
//! There are no separate stacks here: Ward's interpreter keeps a call's stack as data, and a
//! task's core call (its core function, or a callback) is made *resumable*
//! (`ward::Func::call_resumable`), so what suspends is data:
//!
//! - a *callback* task (`canon lift ... async (callback ...)`) that returned `WAIT` or `YIELD`
//!   is a [`Task`] in its scheduler's waiting list; the event loop calls its callback with the
//!   next event;
//! - a task whose start waits for backpressure (or its instance's exclusive lock) is waiting
//!   data too, with its lifted arguments;
//! - an async lower (`canon lower ... async`) returns at once with a subtask handle;
//! - a task that *blocks* inside its core call (a synchronous call of a callee that has not
//!   returned, `waitable-set.wait`, `thread.yield`, a synchronous stream or future copy or
//!   `subtask.cancel`) *parks* that call: the built-in records what the task waits for (a
//!   [`Block`]) and returns `ward::Error::Park`, the call's execution is kept in the store as
//!   a `ward::ParkedCall` (no thread, no native stack), and whoever started or resumed the
//!   task goes on — the waiter's own caller included. The event loop resumes the parked call
//!   with the built-in's results once the block is ready ([`Block::ready`]);
//! - a thread made by `thread.new-indirect` is a [`Task`] too (its `owner` is the task it
//!   belongs to), whose start function is called resumably: a thread that suspends or switches
//!   to another parks its call the same way, and the thread it switches to runs at once (see
//!   [`threads`]).
//!
//! A built-in can park only the core call it was called from directly (`Caller::can_park`):
//! one reached through a nested plain call (a resource destructor, a synchronous lift called
//! by a synchronous lower) *blocks in place* instead, running the event loop ([`run_until`])
//! nested on the host stack until what it waits for has happened, as does a block when
//! [`MAX_PARKED`] calls are parked already. When nothing can make progress that is the
//! canonical ABI's deadlock trap. A blocked task keeps its instance's exclusive lock until it
//! returns (its result is delivered), as the specification's blocked thread does until it
//! exits.
//!
//! Every instance linked into one component graph shares one [`Sched`] (instances made by one
//! `Linker::instantiate`, and instances it imports from). The guest-controlled state is
//! bounded: handle-table entries (waitables, sets, stream and future ends) by the table's
//! limit, waiting tasks by [`MAX_WAITING`], parked core calls (each keeps its interpreter stack,
//! at most `Config::max_wasm_stack`) by [`MAX_PARKED`], threads by each instance's
//! [`threads::MAX_THREADS`], a copy's buffer lives in guest memory (only its address and length
//! are kept), and stream elements cross as bytes or, for non-plain types, one value at a time.

use crate::abi::{core_bits, core_val, trap, Lifter, Lowerer, Options, Side, MAX_FLAT_PARAMS};
use crate::decode::Builtin;
use crate::error::Error;
use crate::func::Func;
use crate::resources::{next_id, Entry, InstanceState};
use crate::types::{flatten_all, Flat, Type};
use crate::values::Val;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use ward::{AsContextMut, StoreContextMut};

mod threads;

/// `MAX_FLAT_ASYNC_PARAMS`: an async lower passes at most this many flat parameters.
pub(crate) const MAX_FLAT_ASYNC_PARAMS: usize = 4;

/// The most tasks one scheduler keeps waiting (suspended callback tasks and tasks waiting to
/// start). A guest that starts more without letting them finish traps.
pub(crate) const MAX_WAITING: usize = 1 << 16;

/// The most core calls one scheduler keeps parked at once. Each keeps its interpreter stack;
/// a task that must block when this many are parked blocks in place (see the module
/// documentation) instead.
pub(crate) const MAX_PARKED: usize = 1 << 10;

/// Event codes.
const EVENT_NONE: u32 = 0;
const EVENT_SUBTASK: u32 = 1;
const EVENT_STREAM_READ: u32 = 2;
const EVENT_STREAM_WRITE: u32 = 3;
const EVENT_FUTURE_READ: u32 = 4;
const EVENT_FUTURE_WRITE: u32 = 5;
const EVENT_TASK_CANCELLED: u32 = 6;

/// Subtask states.
const STARTING: u32 = 0;
const STARTED: u32 = 1;
const RETURNED: u32 = 2;
const CANCELLED_BEFORE_STARTED: u32 = 3;
const CANCELLED_BEFORE_RETURNED: u32 = 4;

/// Copy results.
const COMPLETED: u32 = 0;
const DROPPED: u32 = 1;
const CANCELLED: u32 = 2;

const BLOCKED: u32 = 0xffff_ffff;

/// The most elements one stream copy may name (the canonical ABI's `Buffer.MAX_LENGTH`).
const MAX_BUFFER_LENGTH: u32 = (1 << 28) - 1;

fn block_trap() -> ward::Error {
    trap("cannot block a synchronous task before returning")
}

fn deadlock() -> ward::Error {
    trap("deadlock detected: event loop cannot make further progress")
}

// ---- per-instance state ------------------------------------------------------------------------

/// The most async-ABI handles (waitable sets, subtasks, stream and future ends) one instance
/// may hold at once. Each costs the host about a hundred bytes; the handle table's own limit
/// (2^28 entries) would let a guest make the host hold gigabytes.
pub(crate) const MAX_ASYNC_HANDLES: u32 = 1 << 16;

/// The async ABI's state of one component instance.
#[derive(Default)]
pub(crate) struct InstConc {
    /// Async-ABI handles in the table (see [`MAX_ASYNC_HANDLES`]).
    entries: u32,
    backpressure: u32,
    /// The task (its id; 0: none) that has the instance to itself: a synchronous or callback
    /// lift of an async function type running core code, or blocked in it before returning.
    exclusive: u64,
    /// The thread table (`thread.index`, the `thread.*` built-ins' operands): explicit
    /// threads, and the implicit threads of live tasks that asked for their index.
    threads: threads::Threads,
}

impl InstConc {
    pub(crate) fn count_entry(&mut self) -> ward::Result<()> {
        if self.entries >= MAX_ASYNC_HANDLES {
            return Err(trap("too many waitables and waitable sets in one component instance"));
        }
        self.entries += 1;
        Ok(())
    }

    pub(crate) fn uncount_entry(&mut self) {
        self.entries = self.entries.saturating_sub(1);
    }
}

/// A waitable set: the waitables joined to it, and how many waits are on it.
#[derive(Default)]
pub(crate) struct WaitSet {
    elems: Vec<u32>,
    num_waiting: u32,
}

/// A waitable: a subtask or one end of a stream or future.
pub(crate) struct Waitable {
    /// The set it is joined to (0: none).
    wset: u32,
    pending: Option<Pending>,
    sync_waiter: bool,
    kind: WaitKind,
}

enum Pending {
    /// The subtask made progress: its state is read when the event is delivered.
    Subtask,
    /// A copy on this end finished (or, with `reclaim`, moved elements while staying
    /// pending): the result; the progress is read, and the end's state set, on delivery.
    Copy { result: u32, reclaim: bool },
}

enum WaitKind {
    Subtask { task: Arc<Task>, delivered: bool },
    End(End),
}

impl Waitable {
    fn new(kind: WaitKind) -> Waitable {
        Waitable { wset: 0, pending: None, sync_waiter: false, kind }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CopyState {
    Idle,
    Copying,
    Cancelling,
    Done,
}

/// One end of a stream or future.
pub(crate) struct End {
    shared: Arc<Mutex<Shared>>,
    future: bool,
    write: bool,
    state: CopyState,
    /// The buffer of the copy in progress (guest memory: its address and length).
    buf: Option<Buf>,
}

/// A copy's buffer: `len` elements at `ptr` in the memory of `opts`, `progress` of them done.
#[derive(Clone)]
struct Buf {
    opts: Options,
    ptr: u32,
    len: u32,
    progress: u32,
}

/// What the two ends of a stream or future share: whether one end was dropped, and which end
/// has a copy waiting for the other (its instance and handle index).
struct Shared {
    elem: Option<Type>,
    dropped: bool,
    pending: Option<(Arc<InstanceState>, u32)>,
}

impl crate::resources::StateInner {
    fn waitable(&mut self, i: u32) -> ward::Result<&mut Waitable> {
        match self.get_mut(i)? {
            Entry::Waitable(w) => Ok(w),
            _ => Err(trap(format!("handle index {i} is not a waitable"))),
        }
    }

    fn set(&mut self, i: u32) -> ward::Result<&mut WaitSet> {
        match self.get_mut(i)? {
            Entry::Set(s) => Ok(s),
            _ => Err(trap(format!("handle index {i} is not a waitable set"))),
        }
    }

    fn has_event(&self, si: u32) -> bool {
        let Some(Some(Entry::Set(set))) = self.handles.get(si as usize) else { return false };
        set.elems.iter().any(|w| {
            matches!(self.handles.get(*w as usize), Some(Some(Entry::Waitable(w))) if w.pending.is_some())
        })
    }

    /// Takes the event of waitable `i` (which has one).
    fn take_event(&mut self, i: u32) -> (u32, u32, u32) {
        let Ok(w) = self.waitable(i) else { return (EVENT_NONE, 0, 0) };
        match (w.pending.take(), &mut w.kind) {
            (Some(Pending::Subtask), WaitKind::Subtask { task, delivered }) => {
                let state = task.lock().subtask_state();
                if state >= RETURNED {
                    *delivered = true;
                }
                (EVENT_SUBTASK, i, state)
            }
            (Some(Pending::Copy { result, reclaim }), WaitKind::End(e)) => {
                let code = match (e.future, e.write) {
                    (false, false) => EVENT_STREAM_READ,
                    (false, true) => EVENT_STREAM_WRITE,
                    (true, false) => EVENT_FUTURE_READ,
                    (true, true) => EVENT_FUTURE_WRITE,
                };
                let progress = e.buf.take().map_or(0, |b| b.progress);
                if reclaim {
                    let mut sh = e.shared.lock().unwrap_or_else(|p| p.into_inner());
                    if sh.pending.as_ref().is_some_and(|(_, pi)| *pi == i) {
                        sh.pending = None;
                    }
                }
                e.state = match (e.future, result) {
                    (_, DROPPED) | (true, COMPLETED) => CopyState::Done,
                    _ => CopyState::Idle,
                };
                let payload = if e.future { result } else { result | (progress << 4) };
                (code, i, payload)
            }
            _ => (EVENT_NONE, 0, 0),
        }
    }

    /// Takes an event of set `si`, if one is there (the first joined waitable that has one).
    fn take_set_event(&mut self, si: u32) -> Option<(u32, u32, u32)> {
        let Some(Some(Entry::Set(set))) = self.handles.get(si as usize) else { return None };
        let w = set.elems.iter().copied().find(|w| {
            matches!(self.handles.get(*w as usize), Some(Some(Entry::Waitable(w))) if w.pending.is_some())
        })?;
        Some(self.take_event(w))
    }

    fn join(&mut self, wi: u32, si: u32) -> ward::Result<()> {
        let w = self.waitable(wi)?;
        if w.sync_waiter {
            return Err(trap(
                "waitable cannot be used synchronously while added to a waitable set",
            ));
        }
        let old = w.wset;
        if si != 0 {
            self.set(si)?;
        }
        if old != 0 {
            if let Ok(set) = self.set(old) {
                set.elems.retain(|e| *e != wi);
            }
        }
        if si != 0 {
            self.set(si)?.elems.push(wi);
        }
        self.waitable(wi)?.wset = si;
        Ok(())
    }
}

// ---- tasks -------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TaskState {
    Starting,
    Started,
    PendingCancel,
    CancelDelivered,
    Resolved,
}

/// What a suspended task waits for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wait {
    None,
    /// To start (backpressure or the exclusive lock).
    Start,
    /// A callback task that returned `YIELD`.
    Yield,
    /// A callback task that returned `WAIT` on this set.
    Set(u32),
    /// A task whose core call is parked ([`TaskMut::parked`]) until its block is ready.
    Parked,
    /// An explicit thread that has not run yet, made ready by `thread.resume-later`.
    Thread,
}

/// What a parked core call waits for, and how the built-in that parked it finishes.
pub(crate) enum Block {
    /// `waitable-set.wait` on set `si`: the event goes to `ptr` in `mem`.
    Wait { si: u32, ptr: u32, mem: Option<ward::Memory> },
    /// `thread.yield`: ready at once, after the tasks ahead of it.
    Yield,
    /// A synchronous lower of `callee`, which has not returned: its result is lowered by
    /// `lower` when it has.
    Call { callee: Arc<Task>, lower: SyncLower },
    /// A synchronous `subtask.cancel` of subtask `i` (task `task`).
    Cancel { i: u32, task: Arc<Task> },
    /// A synchronous stream or future copy (`sync_waiter`) or copy cancellation on end `i`.
    Copy { i: u32, sync_waiter: bool },
    /// A thread that suspended (or switched to another thread): ready once `resumed` (by
    /// `thread.resume-later`; a switch to it resumes it directly).
    Suspend { resumed: bool },
}

impl Block {
    /// Marks the wait where the specification keeps count of it.
    fn enter(&self, inst: &InstanceState) {
        let mut s = inst.lock();
        match self {
            Block::Wait { si, .. } => {
                if let Ok(set) = s.set(*si) {
                    set.num_waiting += 1;
                }
            }
            Block::Copy { i, sync_waiter: true } => {
                if let Ok(w) = s.waitable(*i) {
                    w.sync_waiter = true;
                }
            }
            _ => {}
        }
    }

    /// Undoes [`Block::enter`]; a call's lenders get their handles back.
    fn leave(&self, inst: &InstanceState) {
        if let Block::Call { lower, .. } = self {
            lower.lenders.iter().for_each(|l| inst.unlend(*l));
        }
        let mut s = inst.lock();
        match self {
            Block::Wait { si, .. } => {
                if let Ok(set) = s.set(*si) {
                    set.num_waiting = set.num_waiting.saturating_sub(1);
                }
            }
            Block::Copy { i, sync_waiter: true } => {
                if let Ok(w) = s.waitable(*i) {
                    w.sync_waiter = false;
                }
            }
            _ => {}
        }
    }

    /// Whether the task blocked in `inst` can go on.
    fn ready(&self, inst: &InstanceState) -> bool {
        match self {
            Block::Wait { si, .. } => inst.lock().has_event(*si),
            Block::Yield => true,
            Block::Suspend { resumed } => *resumed,
            Block::Call { callee: task, .. } | Block::Cancel { task, .. } => task.resolved(),
            Block::Copy { i, .. } => inst.lock().waitable(*i).is_ok_and(|w| w.pending.is_some()),
        }
    }

    /// Finishes the blocked built-in (the block is ready): its core results.
    fn finish<T: 'static>(
        self,
        ctx: &mut StoreContextMut<'_, T>,
        inst: &Arc<InstanceState>,
    ) -> ward::Result<Vec<ward::Val>> {
        self.leave(inst);
        let one = |v: u32| vec![ward::Val::I32(v as i32)];
        match self {
            Block::Wait { si, ptr, mem } => {
                let (code, p1, p2) = inst.lock().take_set_event(si).unwrap_or((EVENT_NONE, 0, 0));
                write_event(ctx, mem, ptr, p1, p2)?;
                Ok(one(code))
            }
            Block::Yield => {
                Ok(one(current(inst).is_some_and(|t| deliver_cancel(&t.owning_task())) as u32))
            }
            Block::Suspend { .. } => Ok(one(0)),
            Block::Call { callee, lower } => {
                let result = callee.lock().result.take();
                let vals = result.ok_or_else(|| trap("the call was cancelled"))?;
                lower.finish(ctx, inst, &vals)
            }
            Block::Cancel { i, .. } | Block::Copy { i, .. } => Ok(one(inst.lock().take_event(i).2)),
        }
    }
}

/// The shape of a synchronous `canon lower`'s results, made once per lowered function.
pub(crate) struct LowerShape {
    pub(crate) opts: Options,
    pub(crate) results: Box<[Type]>,
    pub(crate) spilled: bool,
    /// Core result types (empty when the results spill to `out_ptr`).
    pub(crate) core_results: Vec<Flat>,
}

/// One synchronous lower's call, as far as lowering its results goes.
pub(crate) struct SyncLower {
    pub(crate) shape: Arc<LowerShape>,
    pub(crate) out_ptr: Option<u32>,
    /// Handles the caller lent for the call, released when it returns.
    pub(crate) lenders: Vec<u32>,
}

impl SyncLower {
    /// Lowers the callee's results `vals` into the caller `inst`: the core results.
    pub(crate) fn finish<T: 'static>(
        &self,
        ctx: &mut StoreContextMut<'_, T>,
        inst: &Arc<InstanceState>,
        vals: &[Val],
    ) -> ward::Result<Vec<ward::Val>> {
        let sh = &self.shape;
        let mut lw = Lowerer::new(&mut *ctx, &sh.opts, inst, 0, Side::Guest);
        let flat = lw.lower_values(sh.spilled, vals, &sh.results, self.out_ptr)?;
        Ok(sh.core_results.iter().zip(flat).map(|(t, bits)| core_val(*t, bits)).collect())
    }
}

/// A task's parked core call.
struct Parked {
    call: ward::ParkedCall,
    block: Block,
    after: After,
}

/// What a task's core call is, for what its results mean.
#[derive(Clone, Copy)]
enum After {
    /// A callback lift's core function or callback: the packed callback code.
    Callback,
    /// A stackful async lift's core function: nothing (it returned with `task.return`).
    Exit,
    /// A synchronous lift's core function: the results, lifted into the task's result.
    SyncLift,
    /// An explicit thread's start function: nothing.
    Thread,
}

/// Where a task's result goes.
enum Sink {
    /// A synchronous caller (the host or a synchronous lower) takes it from the task.
    Sync,
    /// An async lower: lowered into the caller's memory at `out_ptr`; `index` is the subtask's
    /// handle in the caller (0 until it has one).
    Subtask { caller: Arc<InstanceState>, opts: Options, out_ptr: Option<u32>, index: u32 },
}

/// A call of a lifted function (the spec's `Task` with its implicit thread), or an explicit
/// thread of one (see [`threads`]).
pub(crate) struct Task {
    id: u64,
    inst: Arc<InstanceState>,
    /// An explicit thread's task (None: this is a task, and its implicit thread).
    owner: Option<Arc<Task>>,
    /// The called function (async lifts; a synchronous lift's task has none).
    func: Option<Func>,
    /// The function type is `async` (the task may block before returning).
    may_block: bool,
    /// The lift was `async`: `task.return` is how it returns.
    is_async: bool,
    needs_exclusive: bool,
    m: Mutex<TaskMut>,
}

struct TaskMut {
    state: TaskState,
    /// The subtask state once resolved (`RETURNED` or a cancellation).
    resolved_as: u32,
    result: Option<Vec<Val>>,
    storage: [u64; 2],
    sink: Sink,
    wait: Wait,
    thread: u32,
    args: Option<Vec<Val>>,
    /// The core function (and callbacks) are done: no more callbacks.
    exited: bool,
    /// Handles the caller lent for the call, released when it resolves.
    lenders: Vec<u32>,
    /// The core call runs resumably: a built-in it calls directly may park it.
    driven: bool,
    /// What a built-in that is parking the core call waits for (taken when it has parked).
    block: Option<Block>,
    /// The parked core call.
    parked: Option<Parked>,
    /// The thread is suspended: only a `thread.*` built-in naming it resumes it.
    suspended: bool,
    /// The thread a built-in that is parking the core call switches to.
    switch_to: Option<Arc<Task>>,
    /// An explicit thread that has not run yet: its start function and argument.
    start_call: Option<(ward::Func, ward::Val)>,
    /// A task's live explicit threads.
    threads: u32,
}

impl TaskMut {
    fn subtask_state(&self) -> u32 {
        match self.state {
            TaskState::Starting => STARTING,
            TaskState::Resolved => self.resolved_as,
            _ => STARTED,
        }
    }
}

impl Task {
    fn lock(&self) -> MutexGuard<'_, TaskMut> {
        self.m.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn new(
        inst: &Arc<InstanceState>,
        func: Option<Func>,
        opts: &Options,
        may_block: bool,
        sink: Sink,
    ) -> Arc<Task> {
        Arc::new(Task {
            id: next_id(),
            inst: inst.clone(),
            owner: None,
            func,
            may_block,
            is_async: opts.is_async,
            needs_exclusive: !opts.is_async || opts.callback.is_some(),
            m: Mutex::new(TaskMut { sink, ..TaskMut::empty() }),
        })
    }

    /// A new explicit thread of `owner` that will call `start` with `closure`, suspended.
    fn thread(owner: &Arc<Task>, start: ward::Func, closure: ward::Val) -> Arc<Task> {
        let mut m = TaskMut::empty();
        m.state = TaskState::Started;
        m.suspended = true;
        m.start_call = Some((start, closure));
        Arc::new(Task {
            id: next_id(),
            inst: owner.inst.clone(),
            owner: Some(owner.clone()),
            func: None,
            may_block: true,
            is_async: owner.is_async,
            needs_exclusive: false,
            m: Mutex::new(m),
        })
    }

    /// The task this thread belongs to (itself, for a task's implicit thread).
    fn owning_task(self: &Arc<Task>) -> Arc<Task> {
        self.owner.clone().unwrap_or_else(|| self.clone())
    }

    /// A synchronous lift's task (already started); `id` scopes its borrows.
    pub(crate) fn sync(inst: &Arc<InstanceState>, may_block: bool, id: u64) -> Arc<Task> {
        let mut m = TaskMut::empty();
        m.state = TaskState::Started;
        Arc::new(Task {
            id,
            inst: inst.clone(),
            owner: None,
            func: None,
            may_block,
            is_async: false,
            needs_exclusive: true,
            m: Mutex::new(m),
        })
    }

    fn resolved(&self) -> bool {
        self.lock().state == TaskState::Resolved
    }

    /// Whether this thread may block now: it is an explicit thread (its task's caller does not
    /// wait for it), or its task's type is `async`, or its task has returned.
    fn can_block(&self) -> bool {
        self.owner.is_some() || self.may_block || self.resolved()
    }

    /// Takes the thread out of its instance's thread table.
    pub(crate) fn release_thread(&self) {
        let thread = std::mem::take(&mut self.lock().thread);
        if thread != 0 {
            self.inst.lock().conc.threads.remove(thread);
        }
    }
}

impl TaskMut {
    fn empty() -> TaskMut {
        TaskMut {
            state: TaskState::Starting,
            resolved_as: 0,
            result: None,
            storage: [0; 2],
            sink: Sink::Sync,
            wait: Wait::None,
            thread: 0,
            args: None,
            exited: false,
            lenders: Vec::new(),
            driven: false,
            block: None,
            parked: None,
            suspended: false,
            switch_to: None,
            start_call: None,
            threads: 0,
        }
    }
}

// ---- the scheduler -----------------------------------------------------------------------------

/// The scheduler shared by linked component instances: the running tasks (innermost last) and
/// the waiting ones.
#[derive(Default)]
pub(crate) struct Sched {
    m: Mutex<SchedInner>,
}

#[derive(Default)]
struct SchedInner {
    current: Vec<Arc<Task>>,
    waiting: VecDeque<Arc<Task>>,
    /// How many of the waiting tasks have a parked core call.
    parked: usize,
}

impl Sched {
    fn lock(&self) -> MutexGuard<'_, SchedInner> {
        self.m.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn current(&self) -> Option<Arc<Task>> {
        self.lock().current.last().cloned()
    }

    fn park(&self, task: &Arc<Task>, wait: Wait) -> ward::Result<()> {
        let mut s = self.lock();
        if s.waiting.len() >= MAX_WAITING {
            return Err(trap("too many waiting tasks"));
        }
        task.lock().wait = wait;
        s.waiting.push_back(task.clone());
        Ok(())
    }

    fn unpark(&self, task: &Arc<Task>) -> bool {
        let mut s = self.lock();
        let before = s.waiting.len();
        s.waiting.retain(|t| !Arc::ptr_eq(t, task));
        task.lock().wait = Wait::None;
        s.waiting.len() != before
    }

    /// Takes the first waiting task that can run now.
    fn pick(&self) -> Option<(Arc<Task>, Wait)> {
        self.pick_where(|_| true)
    }

    /// Takes the first waiting task for which `filter` holds that can run now.
    fn pick_where(&self, filter: impl Fn(&Task) -> bool) -> Option<(Arc<Task>, Wait)> {
        let mut s = self.lock();
        let pos = s.waiting.iter().position(|t| {
            if !filter(t) {
                return false;
            }
            let m = t.lock();
            if m.wait == Wait::Parked {
                // A blocked task keeps its exclusive lock (if it has it): only its block counts.
                return m.parked.as_ref().is_some_and(|p| p.block.ready(&t.inst));
            }
            let wait = m.wait;
            drop(m);
            let inst = t.inst.lock();
            let free = inst.conc.exclusive == 0 || !t.needs_exclusive;
            match wait {
                Wait::None | Wait::Parked => false,
                Wait::Thread => true,
                Wait::Start => free && inst.conc.backpressure == 0,
                Wait::Yield => free,
                Wait::Set(si) => free && inst.has_event(si),
            }
        })?;
        let t = s.waiting.remove(pos)?;
        let wait = std::mem::replace(&mut t.lock().wait, Wait::None);
        Some((t, wait))
    }
}

/// Makes `task` the current one until dropped.
pub(crate) struct Current {
    sched: Arc<Sched>,
}

impl Current {
    pub(crate) fn enter(task: &Arc<Task>) -> Current {
        let sched = task.inst.sched.clone();
        sched.lock().current.push(task.clone());
        Current { sched }
    }
}

impl Drop for Current {
    fn drop(&mut self) {
        self.sched.lock().current.pop();
    }
}

/// Gives `task` its instance's exclusive lock, if it needs it and has not returned.
fn take_exclusive(task: &Task) {
    if task.needs_exclusive && !task.resolved() {
        task.inst.lock().conc.exclusive = task.id;
    }
}

/// Takes the instance's exclusive lock from `task`, if it has it.
fn release_exclusive(task: &Task) {
    let mut s = task.inst.lock();
    if s.conc.exclusive == task.id {
        s.conc.exclusive = 0;
    }
}

/// A core call of a task: to make, or to resume with the results of the built-in that parked
/// it.
enum CoreCall<'a> {
    Start(ward::Func, &'a [ward::Val]),
    Resume(ward::ParkedCall, Vec<ward::Val>),
}

/// Makes (or resumes) `task`'s core call, resumably, as its current task with its exclusive
/// lock; then acts on its results as `after` says. If a built-in parks it, the task waits
/// ([`Wait::Parked`]) and this returns (after running the thread it switched to, if any): the
/// event loop resumes it.
fn drive<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    task: &Arc<Task>,
    call: CoreCall<'_>,
    after: After,
) -> ward::Result<()> {
    let next = drive_one(ctx, task, call, after)?;
    threads::run_threads(ctx, next)
}

/// [`drive`], up to the thread its core call switched to as it parked (returned, not run).
fn drive_one<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    task: &Arc<Task>,
    call: CoreCall<'_>,
    after: After,
) -> ward::Result<Option<Arc<Task>>> {
    let n = match after {
        After::Callback => 1,
        After::Exit | After::Thread => 0,
        After::SyncLift => task
            .func
            .as_ref()
            .and_then(|f| f.lifted_parts())
            .map_or(0, |p| p.2.core_results.len().min(crate::abi::MAX_FLAT_RESULTS)),
    };
    let mut out = vec![ward::Val::I32(0); n];
    let status = {
        let _current = Current::enter(task);
        take_exclusive(task);
        let was = std::mem::replace(&mut task.lock().driven, true);
        let status = match call {
            CoreCall::Start(f, args) => f.call_resumable(&mut *ctx, args, &mut out),
            CoreCall::Resume(p, host) => p.resume(&mut *ctx, &host, &mut out),
        };
        task.lock().driven = was;
        status
    };
    let parked = match status {
        Err(e) => {
            let mut m = task.lock();
            m.block = None;
            m.switch_to = None;
            drop(m);
            release_exclusive(task);
            return Err(e);
        }
        Ok(ward::CallStatus::Parked(parked)) => parked,
        Ok(ward::CallStatus::Finished) => {
            let r = finish_core(ctx, task, after, &out);
            release_exclusive(task);
            return r.map(|()| None);
        }
    };
    let (block, next) = {
        let mut m = task.lock();
        (m.block.take(), m.switch_to.take())
    };
    let Some(block) = block else {
        release_exclusive(task);
        return Err(trap("a host function parked a component task's core call"));
    };
    task.lock().parked = Some(Parked { call: parked, block, after });
    let r = task.inst.sched.park(task, Wait::Parked);
    match r {
        Ok(()) => task.inst.sched.lock().parked += 1,
        Err(_) => {
            task.lock().parked = None;
            release_exclusive(task);
        }
    }
    r.map(|()| next)
}

/// `task`'s core call returned `out`.
fn finish_core<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    task: &Arc<Task>,
    after: After,
    out: &[ward::Val],
) -> ward::Result<()> {
    match after {
        After::Callback => callback_code(task, out.first().map_or(0, core_bits) as u32),
        After::Exit => exit(task),
        After::SyncLift => {
            let func = task.func.as_ref().ok_or_else(|| trap("a task without a function"))?;
            let (_, opts, plan) =
                func.lifted_parts().ok_or_else(|| trap("not a lifted function"))?;
            let flat: Vec<u64> = out.iter().map(core_bits).collect();
            let vals = {
                let mem: &[u8] = match opts.memory {
                    Some(m) => m.data(&*ctx),
                    None => &[],
                };
                let inst = &task.inst;
                let mut lifter =
                    Lifter { opts, inst, mem, side: Side::Guest, lenders: Vec::new(), lifted: 0 };
                lifter.lift_values(plan.results_spilled, &flat, &plan.results)?.0
            };
            resolve(ctx, task, Some(vals))?;
            if let Some(post) = opts.post_return {
                task.inst.set_may_leave(false);
                let r = post.call(&mut *ctx, out, &mut []);
                task.inst.set_may_leave(true);
                r?;
            }
            exit(task)
        }
        After::Thread => threads::exit(task),
    }
}

/// The task whose core call a built-in of `inst` that `can_park` may park, if there is one
/// and the scheduler has room for another parked call.
fn parkable(inst: &InstanceState, can_park: bool) -> Option<Arc<Task>> {
    if !can_park {
        return None;
    }
    let task = current(inst)?;
    if !task.lock().driven {
        return None;
    }
    let room = inst.sched.lock().parked < MAX_PARKED;
    room.then_some(task)
}

/// Blocks the current task of `inst` until `block` is ready, and finishes the blocked
/// built-in: parks the task's core call if it can (then this is `Err(Park)`, which the
/// built-in returns), else runs the event loop in place.
fn block_on<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    inst: &Arc<InstanceState>,
    can_park: bool,
    block: Block,
) -> ward::Result<Vec<ward::Val>> {
    block.enter(inst);
    if let Some(task) = parkable(inst, can_park) {
        task.lock().block = Some(block);
        return Err(ward::Error::Park);
    }
    let r = run_until(ctx, &inst.sched, || block.ready(inst));
    if let Err(e) = r {
        block.leave(inst);
        return Err(e);
    }
    block.finish(ctx, inst)
}

/// [`block_on`] for a built-in with one `i32` result.
fn block_on_one<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    inst: &Arc<InstanceState>,
    can_park: bool,
    block: Block,
) -> ward::Result<Option<u64>> {
    let out = block_on(ctx, inst, can_park, block)?;
    Ok(out.first().map(core_bits))
}

/// Runs waiting tasks until `done` holds; traps if nothing can make progress.
///
/// Tasks that only yield can keep the loop busy while what it waits for can only happen once
/// the waiter's own stack unwinds (a blocked-in-place caller: see the module documentation),
/// so the loop gives up after [`MAX_STEPS`] resumptions, with the deadlock trap.
fn run_until<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    sched: &Sched,
    done: impl FnMut() -> bool,
) -> ward::Result<()> {
    run_until_where(ctx, sched, |_| true, done, deadlock)
}

/// [`run_until`], running only waiting tasks for which `filter` holds; `stuck` is the trap
/// when none can run.
fn run_until_where<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    sched: &Sched,
    filter: impl Fn(&Task) -> bool,
    mut done: impl FnMut() -> bool,
    stuck: fn() -> ward::Error,
) -> ward::Result<()> {
    for _ in 0..MAX_STEPS {
        if done() {
            return Ok(());
        }
        let Some((task, wait)) = sched.pick_where(&filter) else { return Err(stuck()) };
        resume(ctx, &task, wait)?;
    }
    if done() {
        return Ok(());
    }
    Err(stuck())
}

/// The most tasks one blocking wait resumes before it is taken for a deadlock.
const MAX_STEPS: usize = 100_000;

/// Runs every task that is ready now, once (`thread.yield`).
fn run_ready<T: 'static>(ctx: &mut StoreContextMut<'_, T>, sched: &Sched) -> ward::Result<()> {
    let n = sched.lock().waiting.len();
    for _ in 0..n {
        let Some((task, wait)) = sched.pick() else { break };
        resume(ctx, &task, wait)?;
    }
    Ok(())
}

fn resume<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    task: &Arc<Task>,
    wait: Wait,
) -> ward::Result<()> {
    match wait {
        Wait::None => Ok(()),
        Wait::Start => {
            let args = task.lock().args.take().unwrap_or_default();
            start(ctx, task, args)
        }
        Wait::Yield => {
            let cancelled = deliver_cancel(task);
            let event = if cancelled { (EVENT_TASK_CANCELLED, 0, 0) } else { (EVENT_NONE, 0, 0) };
            callback(ctx, task, event)
        }
        Wait::Set(si) => {
            let event = if deliver_cancel(task) {
                Some((EVENT_TASK_CANCELLED, 0, 0))
            } else {
                task.inst.lock().take_set_event(si)
            };
            if let Ok(set) = task.inst.lock().set(si) {
                set.num_waiting = set.num_waiting.saturating_sub(1);
            }
            callback(ctx, task, event.unwrap_or((EVENT_NONE, 0, 0)))
        }
        Wait::Parked => {
            let next = resume_parked(ctx, task)?;
            threads::run_threads(ctx, next)
        }
        Wait::Thread => threads::run_threads(ctx, Some(task.clone())),
    }
}

/// Resumes `task`'s parked core call (taken out of the waiting list) with the results of the
/// built-in that parked it, up to the thread it switches to as it parks again.
fn resume_parked<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    task: &Arc<Task>,
) -> ward::Result<Option<Arc<Task>>> {
    let Some(Parked { call, block, after }) = task.lock().parked.take() else {
        return Ok(None);
    };
    {
        let mut s = task.inst.sched.lock();
        s.parked = s.parked.saturating_sub(1);
    }
    let host = {
        // The built-in finishes as part of the task (`thread.yield` asks it).
        let _current = Current::enter(task);
        block.finish(ctx, &task.inst)
    };
    let host = match host {
        Ok(host) => host,
        Err(e) => {
            release_exclusive(task);
            return Err(e);
        }
    };
    drive_one(ctx, task, CoreCall::Resume(call, host), after)
}

fn deliver_cancel(task: &Task) -> bool {
    let mut m = task.lock();
    if m.state == TaskState::PendingCancel {
        m.state = TaskState::CancelDelivered;
        true
    } else {
        false
    }
}

/// Calls a callback task's callback with `event` and acts on its code.
fn callback<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    task: &Arc<Task>,
    (code, p1, p2): (u32, u32, u32),
) -> ward::Result<()> {
    let Some(cb) = task.func.as_ref().and_then(|f| f.lifted_opts()).and_then(|o| o.callback) else {
        return Err(trap("a callback task without a callback"));
    };
    let args = [ward::Val::I32(code as i32), ward::Val::I32(p1 as i32), ward::Val::I32(p2 as i32)];
    drive(ctx, task, CoreCall::Start(cb, &args), After::Callback)
}

/// Acts on what a callback (or a callback lift's core function) returned.
fn callback_code(task: &Arc<Task>, packed: u32) -> ward::Result<()> {
    match packed & 0xf {
        0 => exit(task),
        1 => task.inst.sched.park(task, Wait::Yield),
        2 => {
            let si = packed >> 4;
            task.inst.lock().set(si)?.num_waiting += 1;
            task.inst.sched.park(task, Wait::Set(si))
        }
        _ => Err(trap("unsupported callback code")),
    }
}

/// The task's core code is done: it must have returned (or been cancelled), unless an
/// explicit thread of it still runs (which may yet return).
fn exit(task: &Arc<Task>) -> ward::Result<()> {
    let (resolved, threads) = {
        let mut m = task.lock();
        m.exited = true;
        (m.state == TaskState::Resolved, m.threads)
    };
    task.release_thread();
    if !resolved && threads == 0 {
        return Err(trap("async-lifted export failed to produce a result"));
    }
    Ok(())
}

// ---- calls -------------------------------------------------------------------------------------

/// Whether `inst` must make a new task of a function with `needs_exclusive` wait to start.
fn must_wait(inst: &InstanceState, needs_exclusive: bool) -> bool {
    let s = inst.lock();
    s.conc.backpressure > 0 || (needs_exclusive && s.conc.exclusive != 0)
}

/// Starts a task (lowers its arguments, calls its core function, acts on a callback's code).
fn start<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    task: &Arc<Task>,
    args: Vec<Val>,
) -> ward::Result<()> {
    let func = task.func.clone().ok_or_else(|| trap("a task without a function"))?;
    let (core, opts, plan) = func.lifted_parts().ok_or_else(|| trap("not a lifted function"))?;
    task.lock().state = TaskState::Started;
    progress(task);
    let _current = Current::enter(task);
    let flat = {
        let mut lw = Lowerer::new(&mut *ctx, opts, &task.inst, task.id, Side::Guest);
        lw.lower_values(plan.params_spilled, &args, &plan.params, None)?
    };
    let mut core_args = Vec::with_capacity(flat.len());
    for (t, bits) in plan.core_params.iter().zip(&flat) {
        core_args.push(core_val(*t, *bits));
    }
    drop(_current);
    let after = match (opts.is_async, opts.callback.is_some()) {
        (true, true) => After::Callback,
        (true, false) => After::Exit,
        (false, _) => After::SyncLift,
    };
    drive(ctx, task, CoreCall::Start(core, &core_args), after)
}

/// Tells the caller of an async lower that its subtask made progress.
fn progress(task: &Task) {
    let (caller, index) = match &task.lock().sink {
        Sink::Subtask { caller, index, .. } if *index != 0 => (caller.clone(), *index),
        _ => return,
    };
    let mut s = caller.lock();
    if let Ok(w) = s.waitable(index) {
        w.pending = Some(Pending::Subtask);
    }
}

/// Resolves `task` with its result (None: cancelled), delivering it to its caller.
fn resolve<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    task: &Arc<Task>,
    result: Option<Vec<Val>>,
) -> ward::Result<()> {
    let (caller, opts, out_ptr, lenders) = {
        let mut m = task.lock();
        if m.state == TaskState::Resolved {
            return Err(trap("cannot return a result twice"));
        }
        if result.is_none() && m.state != TaskState::CancelDelivered {
            return Err(trap("cannot cancel a task before cancellation is requested"));
        }
        let lenders = std::mem::take(&mut m.lenders);
        match &m.sink {
            Sink::Sync => {
                m.result = result.clone();
                (None, Options::default(), None, lenders)
            }
            Sink::Subtask { caller, opts, out_ptr, .. } => {
                (Some(caller.clone()), opts.clone(), *out_ptr, lenders)
            }
        }
    };
    task.inst.end_task(task.id)?;
    if let Some(caller) = &caller {
        lenders.iter().for_each(|i| caller.unlend(*i));
        if let (Some(vals), Some(f)) = (&result, &task.func) {
            if let (Some(ptr), Some(ty)) = (out_ptr, f.ty()) {
                let tys = ty.result_types();
                let mut lw = Lowerer::new(&mut *ctx, &opts, caller, 0, Side::Guest);
                lw.lower_values(true, vals, &tys, Some(ptr))?;
            }
        }
    }
    {
        let mut m = task.lock();
        m.resolved_as = match (&result, m.state) {
            (Some(_), _) => RETURNED,
            (None, TaskState::Starting) => CANCELLED_BEFORE_STARTED,
            (None, _) => CANCELLED_BEFORE_RETURNED,
        };
        m.state = TaskState::Resolved;
    }
    // The exclusive lock is the call's: a task blocked after returning does not keep others
    // of its instance from starting.
    release_exclusive(task);
    progress(task);
    Ok(())
}

/// The current task of `inst`'s scheduler, if it runs in `inst`.
fn current(inst: &InstanceState) -> Option<Arc<Task>> {
    inst.sched.current().filter(|t| t.inst.id == inst.id)
}

/// Whether the current task may block (there is none in a start function: it may not).
fn may_block(inst: &InstanceState) -> bool {
    current(inst).is_some_and(|t| t.can_block())
}

/// Traps unless the current task may block.
pub(crate) fn check_block(inst: &InstanceState) -> ward::Result<()> {
    match current(inst) {
        Some(t) if !t.can_block() => Err(block_trap()),
        None => Err(block_trap()),
        _ => Ok(()),
    }
}

/// A synchronous call (from the host or a synchronous lower) of an async-lifted function:
/// starts the task, then runs the event loop until it has returned.
pub(crate) fn call_sync<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    f: &Func,
    caller: Option<&Arc<InstanceState>>,
    args: Vec<Val>,
) -> ward::Result<Vec<Val>> {
    let task = start_sync(ctx, f, caller, args)?;
    if !task.resolved() {
        if let Some(c) = caller {
            check_block(c)?;
        }
        run_until(ctx, &task.inst.sched, || task.resolved())?;
    }
    let result = task.lock().result.take();
    result.ok_or_else(|| trap("the call was cancelled"))
}

/// A synchronous lower's call of async-lifted `f` from `caller`: starts the task; if it has
/// not returned, the caller's task blocks until it has ([`Block::Call`]: parked if it can be).
/// The core results, lowered as `lower` says.
pub(crate) fn call_sync_lowered<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    f: &Func,
    caller: &Arc<InstanceState>,
    args: Vec<Val>,
    lower: SyncLower,
    can_park: bool,
) -> ward::Result<Vec<ward::Val>> {
    let task = match start_sync(ctx, f, Some(caller), args) {
        Ok(task) => task,
        Err(e) => {
            lower.lenders.iter().for_each(|l| caller.unlend(*l));
            return Err(e);
        }
    };
    let block = Block::Call { callee: task.clone(), lower };
    if !task.resolved() {
        if let Err(e) = check_block(caller) {
            block.leave(caller);
            return Err(e);
        }
        return block_on(ctx, caller, can_park, block);
    }
    block.finish(ctx, caller)
}

/// Starts a task for a synchronous call of async-lifted `f` (it may have to wait to start).
fn start_sync<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    f: &Func,
    caller: Option<&Arc<InstanceState>>,
    args: Vec<Val>,
) -> ward::Result<Arc<Task>> {
    let (_, opts, _) = f.lifted_parts().ok_or_else(|| trap("not a lifted function"))?;
    let inst = f.lifted_inst().ok_or_else(|| trap("not a lifted function"))?;
    let may_block = f.ty().is_some_and(|t| t.is_async);
    let task = Task::new(&inst, Some(f.clone()), opts, may_block, Sink::Sync);
    {
        let entered = crate::func::Entered::enter_call(&inst, caller)?;
        let r = if must_wait(&inst, task.needs_exclusive) {
            caller.map_or(Ok(()), |c| check_block(c)).and_then(|()| {
                task.lock().args = Some(args);
                inst.sched.park(&task, Wait::Start)
            })
        } else {
            start(ctx, &task, args)
        };
        if r.is_err() {
            entered.poison();
        }
        r?;
    }
    Ok(task)
}

/// `canon lower ... async`: a core function that lifts its arguments, starts the callee and
/// returns `RETURNED` if it finished, or its state and a subtask handle.
pub(crate) fn lower_async<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    callee: Func,
    sig: crate::func::Sig,
    opts: Options,
    inst: Arc<InstanceState>,
) -> Result<ward::Func, String> {
    let params = sig.ty.param_types();
    let results = sig.ty.result_types();
    let flat_params = flatten_all(&params, MAX_FLAT_ASYNC_PARAMS);
    let params_spilled = flat_params.is_none();
    let mut core_params = flat_params.unwrap_or_else(|| vec![crate::types::Flat::I32]);
    if !results.is_empty() {
        core_params.push(crate::types::Flat::I32);
    }
    let core_ty = ward::FuncType::new(
        core_params.iter().map(|t| crate::abi::core_type(*t)),
        [ward::ValType::I32],
    );
    let may_block = sig.ty.is_async;
    let callee = callee.at_type(sig)?;
    Ok(ward::Func::new(ctx.as_context_mut(), core_ty, move |mut caller, args, out| {
        inst.check_may_leave()?;
        let mut ctx = caller.as_context_mut();
        let flat: Vec<u64> = args.iter().map(core_bits).collect();
        let (vals, used, lenders) = {
            let mem: &[u8] = match opts.memory {
                Some(m) => m.data(&ctx),
                None => &[],
            };
            Lifter::lift_guest_args(&opts, &inst, mem, params_spilled, &flat, &params)?
        };
        let out_ptr = if results.is_empty() { None } else { flat.get(used).map(|p| *p as u32) };
        let is_async_lift = callee.lifted_parts().is_some_and(|(_, o, _)| o.is_async);
        // A synchronous lift of an `async` function type may block: it runs as a task too.
        let is_task = is_async_lift || (callee.lifted_parts().is_some() && may_block);
        if !is_task {
            // A host function or a synchronous lift that cannot block runs to completion now.
            let called = crate::func::call_func(&mut ctx, &callee, Some(&inst), &vals);
            lenders.iter().for_each(|i| inst.unlend(*i));
            let vals = called.map_err(Error::into_wasm)?;
            if let Some(ptr) = out_ptr {
                let mut lw = Lowerer::new(&mut ctx, &opts, &inst, 0, Side::Guest);
                lw.lower_values(true, &vals, &results, Some(ptr))?;
            }
            out[0] = ward::Val::I32(RETURNED as i32);
            return Ok(());
        }
        let (_, copts, _) = callee.lifted_parts().expect("checked above");
        let callee_inst = callee.lifted_inst().expect("a lifted function");
        let sink = Sink::Subtask { caller: inst.clone(), opts: opts.clone(), out_ptr, index: 0 };
        let task = Task::new(&callee_inst, Some(callee.clone()), copts, may_block, sink);
        task.lock().lenders = lenders;
        {
            let entered = crate::func::Entered::enter_call(&callee_inst, Some(&inst))?;
            let r = if must_wait(&callee_inst, task.needs_exclusive) {
                task.lock().args = Some(vals);
                callee_inst.sched.park(&task, Wait::Start)
            } else {
                start(&mut ctx, &task, vals)
            };
            if r.is_err() {
                entered.poison();
            }
            r?;
        }
        let state = task.lock().subtask_state();
        if state == RETURNED {
            out[0] = ward::Val::I32(RETURNED as i32);
            return Ok(());
        }
        let index = inst.lock().add(Entry::Waitable(Waitable::new(WaitKind::Subtask {
            task: task.clone(),
            delivered: false,
        })))?;
        if let Sink::Subtask { index: i, .. } = &mut task.lock().sink {
            *i = index;
        }
        // Progress made between the start and now is an event already.
        let now = task.lock().subtask_state();
        if now != state {
            progress(&task);
        }
        out[0] = ward::Val::I32((state | (index << 4)) as i32);
        Ok(())
    }))
}

// ---- built-ins ---------------------------------------------------------------------------------

/// What a built-in needs from its definition's scope.
pub(crate) struct BuiltinEnv {
    /// `task.return`'s and the copies' options; the memory of `waitable-set.wait/poll`.
    pub(crate) opts: Options,
    /// `task.return`'s result type; a stream's or future's element type.
    pub(crate) elem: Option<Type>,
    /// `thread.new-indirect`'s table of start functions.
    pub(crate) table: Option<ward::Table>,
}

fn arg(args: &[ward::Val], i: usize) -> u32 {
    args.get(i).map_or(0, |v| core_bits(v) as u32)
}

fn write_event<T>(
    ctx: &mut StoreContextMut<'_, T>,
    mem: Option<ward::Memory>,
    ptr: u32,
    p1: u32,
    p2: u32,
) -> ward::Result<()> {
    let mem = mem.ok_or_else(|| trap("no memory"))?;
    let data = mem.data_mut(&mut *ctx);
    if !ptr.is_multiple_of(4) {
        return Err(trap("unaligned pointer"));
    }
    let dst = (ptr as usize)
        .checked_add(8)
        .and_then(|end| data.get_mut(ptr as usize..end))
        .ok_or_else(|| trap("pointer out of bounds of memory"))?;
    dst[..4].copy_from_slice(&p1.to_le_bytes());
    dst[4..].copy_from_slice(&p2.to_le_bytes());
    Ok(())
}

/// Makes the core function of built-in `b` for instance `inst`.
pub(crate) fn builtin<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    env: &BuiltinEnv,
    b: &Builtin,
    core_ty: &ward::FuncType,
    inst: Arc<InstanceState>,
) -> Result<ward::Func, Error> {
    let b = b.clone();
    let opts = env.opts.clone();
    let elem = env.elem.clone();
    let table = env.table;
    Ok(ward::Func::new(ctx.as_context_mut(), core_ty.clone(), move |mut caller, args, out| {
        let can_park = caller.can_park();
        let mut ctx = caller.as_context_mut();
        let env = Env { opts: &opts, elem: &elem, inst: &inst, table, can_park };
        let r = run_builtin(&mut ctx, &b, &env, args)?;
        if let (Some(slot), Some(v)) = (out.first_mut(), r) {
            *slot = match slot {
                ward::Val::I64(_) => ward::Val::I64(v as i64),
                _ => ward::Val::I32(v as u32 as i32),
            };
        }
        Ok(())
    }))
}

/// A built-in's call: its definition's options, element type and table, its instance, and
/// whether it may park the core call it was called from.
struct Env<'a> {
    opts: &'a Options,
    elem: &'a Option<Type>,
    inst: &'a Arc<InstanceState>,
    table: Option<ward::Table>,
    can_park: bool,
}

fn run_builtin<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    b: &Builtin,
    env: &Env<'_>,
    args: &[ward::Val],
) -> ward::Result<Option<u64>> {
    use Builtin as B;
    let (opts, elem, inst) = (env.opts, env.elem, env.inst);
    match b {
        B::ContextGet(i) => {
            let t = current(inst).ok_or_else(|| trap("no current task"))?;
            let v = t.lock().storage.get(*i as usize).copied().unwrap_or(0);
            return Ok(Some(v));
        }
        B::ContextSet(i) => {
            let t = current(inst).ok_or_else(|| trap("no current task"))?;
            let v = args.first().map_or(0, core_bits);
            if let Some(slot) = t.lock().storage.get_mut(*i as usize) {
                *slot = v;
            }
            return Ok(None);
        }
        B::BackpressureInc => {
            let mut s = inst.lock();
            if s.conc.backpressure >= u16::MAX as u32 {
                return Err(trap("backpressure counter overflow"));
            }
            s.conc.backpressure += 1;
            return Ok(None);
        }
        B::BackpressureDec => {
            let mut s = inst.lock();
            if s.conc.backpressure == 0 {
                return Err(trap("backpressure counter underflow"));
            }
            s.conc.backpressure -= 1;
            return Ok(None);
        }
        _ => {}
    }
    inst.check_may_leave()?;
    match b {
        B::ContextGet(_) | B::ContextSet(_) | B::BackpressureInc | B::BackpressureDec => Ok(None),
        B::TaskReturn { .. } => {
            let task = current(inst).ok_or_else(|| trap("no current task"))?.owning_task();
            if !task.is_async {
                return Err(trap("invalid task.return: the task was not lifted `async`"));
            }
            let want = task.func.as_ref().and_then(|f| f.ty()).and_then(|t| t.result.clone());
            if want != *elem {
                return Err(trap(
                    "invalid `task.return` signature and/or options for current task",
                ));
            }
            let flat: Vec<u64> = args.iter().map(core_bits).collect();
            let tys: Vec<Type> = elem.iter().cloned().collect();
            let spilled = flatten_all(&tys, MAX_FLAT_PARAMS).is_none();
            let vals = {
                let mem: &[u8] = match opts.memory {
                    Some(m) => m.data(&*ctx),
                    None => &[],
                };
                let mut lifter =
                    Lifter { opts, inst, mem, side: Side::Guest, lenders: Vec::new(), lifted: 0 };
                lifter.lift_values(spilled, &flat, &tys)?.0
            };
            resolve(ctx, &task, Some(vals))?;
            Ok(None)
        }
        B::TaskCancel => {
            let task = current(inst).ok_or_else(|| trap("no current task"))?.owning_task();
            if !task.is_async {
                return Err(trap("invalid task.cancel: the task was not lifted `async`"));
            }
            resolve(ctx, &task, None)?;
            Ok(None)
        }
        B::ThreadYield => {
            if parkable(inst, env.can_park).is_some() {
                return block_on_one(ctx, inst, true, Block::Yield);
            }
            run_ready(ctx, &inst.sched)?;
            let cancelled = current(inst).is_some_and(|t| deliver_cancel(&t.owning_task()));
            Ok(Some(cancelled as u64))
        }
        B::ThreadIndex => {
            // A task's implicit thread gets its index on first use: most never ask.
            let t = current(inst).ok_or_else(|| trap("no current task"))?;
            let mut m = t.lock();
            if m.thread == 0 {
                m.thread = inst.lock().conc.threads.add_implicit(&t)?;
            }
            Ok(Some(m.thread as u64))
        }
        B::ThreadNewIndirect { .. } => threads::new_indirect(ctx, env, args),
        B::ThreadSuspend => threads::suspend(ctx, env),
        B::ThreadYieldThenResume => threads::switch(ctx, env, args, false),
        B::ThreadSuspendThenResume => threads::switch(ctx, env, args, true),
        B::ThreadResumeLater => threads::resume_later(env, args),
        B::WaitableSetNew => Ok(Some(inst.lock().add(Entry::Set(WaitSet::default()))? as u64)),
        B::WaitableSetWait { .. } => {
            let (si, ptr) = (arg(args, 0), arg(args, 1));
            let has = {
                let mut s = inst.lock();
                s.set(si)?;
                s.has_event(si)
            };
            if !has {
                check_block(inst)?;
                let block = Block::Wait { si, ptr, mem: opts.memory };
                return block_on_one(ctx, inst, env.can_park, block);
            }
            let (code, p1, p2) = inst.lock().take_set_event(si).unwrap_or((EVENT_NONE, 0, 0));
            write_event(ctx, opts.memory, ptr, p1, p2)?;
            Ok(Some(code as u64))
        }
        B::WaitableSetPoll { .. } => {
            let (si, ptr) = (arg(args, 0), arg(args, 1));
            let event = {
                let mut s = inst.lock();
                s.set(si)?;
                s.take_set_event(si)
            };
            let (code, p1, p2) = event.unwrap_or((EVENT_NONE, 0, 0));
            write_event(ctx, opts.memory, ptr, p1, p2)?;
            Ok(Some(code as u64))
        }
        B::WaitableSetDrop => {
            let si = arg(args, 0);
            let mut s = inst.lock();
            let set = s.set(si)?;
            if set.num_waiting > 0 {
                return Err(trap("cannot drop waitable set with waiters"));
            }
            if !set.elems.is_empty() {
                return Err(trap("cannot drop waitable set with waitables still in it"));
            }
            s.take(si);
            Ok(None)
        }
        B::WaitableJoin => {
            inst.lock().join(arg(args, 0), arg(args, 1))?;
            Ok(None)
        }
        B::SubtaskDrop => {
            let i = arg(args, 0);
            let mut s = inst.lock();
            match &s.waitable(i)?.kind {
                WaitKind::Subtask { delivered: true, .. } => {}
                WaitKind::Subtask { .. } => {
                    return Err(trap("cannot drop a subtask which has not yet resolved"))
                }
                _ => return Err(trap(format!("handle index {i} is not a subtask"))),
            }
            s.join(i, 0)?;
            s.take(i);
            Ok(None)
        }
        // The synchronous forms of the built-ins that may block trap in a task that may not
        // block before they look at their operands, as Wasmtime does.
        B::SubtaskCancel { is_async: false }
        | B::Copy { opts: crate::decode::OptsDef { is_async: false, .. }, .. }
        | B::CancelCopy { is_async: false, .. }
            if !may_block(inst) =>
        {
            Err(block_trap())
        }
        B::SubtaskCancel { is_async } => subtask_cancel(ctx, env, arg(args, 0), *is_async),
        B::CopyNew { future, .. } => {
            let shared =
                Arc::new(Mutex::new(Shared { elem: elem.clone(), dropped: false, pending: None }));
            let mut s = inst.lock();
            let end = |write| End {
                shared: shared.clone(),
                future: *future,
                write,
                state: CopyState::Idle,
                buf: None,
            };
            let r = s.add(Entry::Waitable(Waitable::new(WaitKind::End(end(false)))))?;
            let w = match s.add(Entry::Waitable(Waitable::new(WaitKind::End(end(true))))) {
                Ok(w) => w,
                Err(e) => {
                    s.take(r);
                    return Err(e);
                }
            };
            Ok(Some(r as u64 | (w as u64) << 32))
        }
        B::Copy { future, write, .. } => copy(ctx, env, *future, *write, args),
        B::CancelCopy { future, write, is_async, .. } => {
            cancel_copy(ctx, env, *future, *write, *is_async, arg(args, 0))
        }
        B::DropEnd { future, write, .. } => {
            drop_end(inst, *future, *write, arg(args, 0))?;
            Ok(None)
        }
        B::Unimplemented(what) => Err(trap(format!("unsupported: {what}"))),
    }
}

fn subtask_cancel<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    env: &Env<'_>,
    i: u32,
    is_async: bool,
) -> ward::Result<Option<u64>> {
    let inst = env.inst;
    let task = {
        let mut s = inst.lock();
        let w = s.waitable(i)?;
        if w.wset != 0 && !is_async {
            return Err(trap(
                "waitable cannot be used synchronously while added to a waitable set",
            ));
        }
        match &w.kind {
            WaitKind::Subtask { delivered: true, .. } => {
                return Err(trap("cannot cancel a subtask that has already resolved"))
            }
            WaitKind::Subtask { task, .. } => task.clone(),
            _ => return Err(trap(format!("handle index {i} is not a subtask"))),
        }
    };
    if !task.resolved() {
        let state = task.lock().state;
        match state {
            TaskState::Starting => {
                task.inst.sched.unpark(&task);
                task.lock().state = TaskState::CancelDelivered;
                let mut m = task.lock();
                m.state = TaskState::Resolved;
                m.resolved_as = CANCELLED_BEFORE_STARTED;
                drop(m);
                task.release_thread();
                let lenders = std::mem::take(&mut task.lock().lenders);
                lenders.iter().for_each(|l| inst.unlend(*l));
                progress(&task);
            }
            TaskState::Started => {
                let wait = task.lock().wait;
                if matches!(wait, Wait::Yield | Wait::Set(_)) && !task.lock().exited {
                    // Deliver the cancellation to the callback now.
                    task.inst.sched.unpark(&task);
                    if let Wait::Set(si) = wait {
                        if let Ok(set) = task.inst.lock().set(si) {
                            set.num_waiting = set.num_waiting.saturating_sub(1);
                        }
                    }
                    task.lock().state = TaskState::CancelDelivered;
                    callback(ctx, &task, (EVENT_TASK_CANCELLED, 0, 0))?;
                } else {
                    task.lock().state = TaskState::PendingCancel;
                }
            }
            _ => return Err(trap("cannot cancel a subtask twice")),
        }
        if !task.resolved() {
            if is_async {
                return Ok(Some(BLOCKED as u64));
            }
            check_block(inst)?;
            return block_on_one(ctx, inst, env.can_park, Block::Cancel { i, task });
        }
    }
    let (_, _, state) = inst.lock().take_event(i);
    Ok(Some(state as u64))
}

// ---- streams and futures -----------------------------------------------------------------------

fn end_parts(
    inst: &InstanceState,
    i: u32,
    future: bool,
    write: bool,
) -> ward::Result<(Arc<Mutex<Shared>>, CopyState, u32)> {
    let mut s = inst.lock();
    let w = s.waitable(i)?;
    match &w.kind {
        WaitKind::End(e) if e.future == future && e.write == write => {
            Ok((e.shared.clone(), e.state, w.wset))
        }
        _ => Err(trap(format!("handle index {i} is not the expected stream or future end"))),
    }
}

fn with_end<R>(inst: &InstanceState, i: u32, f: impl FnOnce(&mut End) -> R) -> Option<R> {
    let mut s = inst.lock();
    match s.waitable(i) {
        Ok(Waitable { kind: WaitKind::End(e), .. }) => Some(f(e)),
        _ => None,
    }
}

/// The spec's `on_copy` / `on_copy_done`: end `i` of `inst` gets an event with `result`.
fn notify(inst: &InstanceState, i: u32, result: u32, reclaim: bool) {
    if let Ok(w) = inst.lock().waitable(i) {
        w.pending = Some(Pending::Copy { result, reclaim });
    }
}

/// Copies `n` elements from one guest buffer to another.
fn move_elems<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    elem: &Option<Type>,
    (src_inst, src): (&Arc<InstanceState>, &Buf),
    (dst_inst, dst): (&Arc<InstanceState>, &Buf),
    n: u32,
) -> ward::Result<()> {
    let Some(t) = elem else { return Ok(()) };
    if n == 0 {
        return Ok(());
    }
    let size = t.size();
    let src_ptr = src.ptr as u64 + src.progress as u64 * size;
    let dst_ptr = dst.ptr as u64 + dst.progress as u64 * size;
    if t.is_plain() {
        let len = size * n as u64;
        let mem = src.opts.memory.ok_or_else(|| trap("no memory"))?;
        let bytes = {
            let data = mem.data(&*ctx);
            let end = src_ptr.checked_add(len).filter(|e| *e <= data.len() as u64);
            let end = end.ok_or_else(|| trap("pointer out of bounds of memory"))?;
            data[src_ptr as usize..end as usize].to_vec()
        };
        let mut lw = Lowerer::new(&mut *ctx, &dst.opts, dst_inst, 0, Side::Guest);
        return lw.write(dst_ptr, &bytes);
    }
    for k in 0..n as u64 {
        let v = {
            let mem: &[u8] = match src.opts.memory {
                Some(m) => m.data(&*ctx),
                None => &[],
            };
            let mut lifter = Lifter {
                opts: &src.opts,
                inst: src_inst,
                mem,
                side: Side::Guest,
                lenders: Vec::new(),
                lifted: 0,
            };
            lifter.load(src_ptr + k * size, t)?
        };
        let mut lw = Lowerer::new(&mut *ctx, &dst.opts, dst_inst, 0, Side::Guest);
        lw.store(&v, t, dst_ptr + k * size)?;
    }
    Ok(())
}

/// Moves `n` elements between the buffers of `a` (end `ai` of `a_inst`, this copy) and the
/// pending copy's end, in the direction `write` says, advancing both buffers.
#[allow(clippy::too_many_arguments)]
fn transfer<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    elem: &Option<Type>,
    write: bool,
    (a_inst, ai): (&Arc<InstanceState>, u32),
    (b_inst, bi): (&Arc<InstanceState>, u32),
    n: u32,
) -> ward::Result<()> {
    let a = with_end(a_inst, ai, |e| e.buf.clone()).flatten();
    let b = with_end(b_inst, bi, |e| e.buf.clone()).flatten();
    let (Some(a), Some(b)) = (a, b) else { return Err(trap("a copy without a buffer")) };
    if write {
        move_elems(ctx, elem, (a_inst, &a), (b_inst, &b), n)?;
    } else {
        move_elems(ctx, elem, (b_inst, &b), (a_inst, &a), n)?;
    }
    for (inst, i) in [(a_inst, ai), (b_inst, bi)] {
        with_end(inst, i, |e| {
            if let Some(buf) = &mut e.buf {
                buf.progress += n;
            }
        });
    }
    Ok(())
}

fn remain(inst: &InstanceState, i: u32) -> (u32, u32) {
    with_end(inst, i, |e| e.buf.as_ref().map_or((0, 0), |b| (b.len - b.progress, b.len)))
        .unwrap_or((0, 0))
}

#[allow(clippy::too_many_arguments)]
fn copy<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    env: &Env<'_>,
    future: bool,
    write: bool,
    args: &[ward::Val],
) -> ward::Result<Option<u64>> {
    let (inst, opts, elem) = (env.inst, env.opts, env.elem);
    let (i, ptr) = (arg(args, 0), arg(args, 1));
    let len = if future { 1 } else { arg(args, 2) };
    let (shared, state, wset) = end_parts(inst, i, future, write)?;
    if state == CopyState::Done {
        return Err(trap(match (future, write) {
            (false, false) => {
                "cannot read from stream after being notified that the writable end dropped"
            }
            (false, true) => {
                "cannot write to stream after being notified that the readable end dropped"
            }
            (true, false) => "cannot read from future after previous read succeeded",
            (true, true) => {
                "cannot write to future after previous write succeeded or readable end dropped"
            }
        }));
    }
    if state != CopyState::Idle {
        return Err(trap("cannot have concurrent operations active on a future/stream"));
    }
    if wset != 0 && !opts.is_async {
        return Err(trap("waitable cannot be used synchronously while added to a waitable set"));
    }
    if len > MAX_BUFFER_LENGTH {
        return Err(trap("buffer too long"));
    }
    if let (Some(t), true) = (elem, len > 0) {
        let mem_len = opts.memory.map_or(0, |m| m.data_size(&*ctx) as u64);
        if !(ptr as u64).is_multiple_of(t.align() as u64) {
            return Err(trap("unaligned pointer"));
        }
        if ptr as u64 + len as u64 * t.size() > mem_len {
            return Err(trap("pointer out of bounds of memory"));
        }
    }
    with_end(inst, i, |e| {
        e.state = CopyState::Copying;
        e.buf = Some(Buf { opts: opts.clone(), ptr, len, progress: 0 });
    });
    let (dropped, pending, elem) = {
        let sh = shared.lock().unwrap_or_else(|e| e.into_inner());
        (sh.dropped, sh.pending.clone(), sh.elem.clone())
    };
    let set_pending = |p: Option<(Arc<InstanceState>, u32)>| {
        shared.lock().unwrap_or_else(|e| e.into_inner()).pending = p;
    };
    match pending {
        _ if dropped => notify(inst, i, DROPPED, false),
        None => set_pending(Some((inst.clone(), i))),
        Some((o_inst, oi)) => {
            if Arc::ptr_eq(&o_inst, inst) && !is_number(&elem) {
                with_end(inst, i, |e| {
                    e.state = CopyState::Idle;
                    e.buf = None;
                });
                return Err(trap(if future {
                    "cannot read from and write to intra-component future"
                } else {
                    "cannot read from and write to intra-component stream"
                }));
            }
            let (o_remain, o_len) = remain(&o_inst, oi);
            if future {
                transfer(ctx, &elem, write, (inst, i), (&o_inst, oi), 1)?;
                set_pending(None);
                notify(&o_inst, oi, COMPLETED, false);
                notify(inst, i, COMPLETED, false);
            } else if o_remain > 0 {
                if len > 0 {
                    transfer(ctx, &elem, write, (inst, i), (&o_inst, oi), len.min(o_remain))?;
                    notify(&o_inst, oi, COMPLETED, true);
                }
                notify(inst, i, COMPLETED, false);
            } else if write && len == 0 && o_len == 0 {
                notify(inst, i, COMPLETED, false);
            } else {
                set_pending(None);
                notify(&o_inst, oi, COMPLETED, false);
                set_pending(Some((inst.clone(), i)));
            }
        }
    }
    let has = inst.lock().waitable(i)?.pending.is_some();
    if !has {
        if opts.is_async {
            return Ok(Some(BLOCKED as u64));
        }
        check_block(inst)?;
        return block_on_one(ctx, inst, env.can_park, Block::Copy { i, sync_waiter: true });
    }
    let (_, _, payload) = inst.lock().take_event(i);
    Ok(Some(payload as u64))
}

fn is_number(t: &Option<Type>) -> bool {
    matches!(
        t,
        None | Some(
            Type::U8
                | Type::U16
                | Type::U32
                | Type::U64
                | Type::S8
                | Type::S16
                | Type::S32
                | Type::S64
                | Type::F32
                | Type::F64
        )
    )
}

fn cancel_copy<T: 'static>(
    ctx: &mut StoreContextMut<'_, T>,
    env: &Env<'_>,
    future: bool,
    write: bool,
    is_async: bool,
    i: u32,
) -> ward::Result<Option<u64>> {
    let inst = env.inst;
    let (shared, state, wset) = end_parts(inst, i, future, write)?;
    let sync_waiter = inst.lock().waitable(i)?.sync_waiter;
    if state != CopyState::Copying || sync_waiter {
        return Err(trap("cannot cancel a copy that is not in progress"));
    }
    if wset != 0 && !is_async {
        return Err(trap("waitable cannot be used synchronously while added to a waitable set"));
    }
    set_end_state(inst, i, CopyState::Cancelling);
    // A copy that moved some elements but is still pending is cancelled with what it moved.
    {
        let mut s = inst.lock();
        let w = s.waitable(i)?;
        if let Some(Pending::Copy { result, reclaim }) = &mut w.pending {
            if *reclaim {
                *result = CANCELLED;
            }
        }
    }
    let has = inst.lock().waitable(i)?.pending.is_some();
    if !has {
        // The copy is the pending one: cancel it.
        let mut sh = shared.lock().unwrap_or_else(|e| e.into_inner());
        if sh.pending.as_ref().is_some_and(|(pi, pidx)| pi.id == inst.id && *pidx == i) {
            sh.pending = None;
            drop(sh);
            notify(inst, i, CANCELLED, false);
        }
    }
    let has = inst.lock().waitable(i)?.pending.is_some();
    if !has {
        if is_async {
            return Ok(Some(BLOCKED as u64));
        }
        check_block(inst)?;
        return block_on_one(ctx, inst, env.can_park, Block::Copy { i, sync_waiter: false });
    }
    let (_, _, payload) = inst.lock().take_event(i);
    Ok(Some(payload as u64))
}

fn set_end_state(inst: &InstanceState, i: u32, state: CopyState) {
    with_end(inst, i, |e| e.state = state);
}

fn drop_end(inst: &Arc<InstanceState>, future: bool, write: bool, i: u32) -> ward::Result<()> {
    let (shared, state, _) = end_parts(inst, i, future, write)?;
    if matches!(state, CopyState::Copying | CopyState::Cancelling) {
        return Err(trap(match (future, write) {
            (false, false) => "cannot remove busy stream",
            (false, true) => "cannot drop busy stream",
            (true, false) => "cannot remove busy future",
            (true, true) => "cannot drop busy future",
        }));
    }
    if future && write && state != CopyState::Done {
        return Err(trap("cannot drop future write end without first writing a value"));
    }
    {
        let mut s = inst.lock();
        s.join(i, 0)?;
        s.take(i);
    }
    let other = {
        let mut sh = shared.lock().unwrap_or_else(|e| e.into_inner());
        if sh.dropped {
            None
        } else {
            sh.dropped = true;
            sh.pending.take()
        }
    };
    if let Some((o_inst, oi)) = other {
        notify(&o_inst, oi, DROPPED, false);
    }
    Ok(())
}

// ---- streams and futures crossing calls --------------------------------------------------------

/// The readable end of a stream or future while it crosses from one instance to another (a
/// [`Val::Stream`]): lifting takes it out of the source instance's table, lowering adds it to
/// the destination's.
#[derive(Clone)]
pub struct AsyncEnd {
    shared: Arc<Mutex<Shared>>,
    future: bool,
}

impl AsyncEnd {
    /// Whether this is a future (else a stream).
    pub fn is_future(&self) -> bool {
        self.future
    }
}

impl PartialEq for AsyncEnd {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl std::fmt::Debug for AsyncEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.future { "future" } else { "stream" })
    }
}

fn elem_type(ty: &Type) -> (bool, Option<Type>) {
    match ty {
        Type::Future(t) => (true, t.as_deref().cloned()),
        Type::Stream(t) => (false, t.as_deref().cloned()),
        _ => (false, None),
    }
}

/// `lift_stream` / `lift_future`: takes readable end `i` out of `inst`.
pub(crate) fn lift_end(inst: &InstanceState, i: u32, ty: &Type) -> ward::Result<Val> {
    let (future, elem) = elem_type(ty);
    let what = if future { "future" } else { "stream" };
    let mut s = inst.lock();
    let w = s.waitable(i)?;
    let WaitKind::End(e) = &w.kind else {
        return Err(trap(format!("handle index {i} is not a {what}")));
    };
    if e.write || e.future != future {
        return Err(trap(format!("handle index {i} is not the readable end of a {what}")));
    }
    if e.shared.lock().unwrap_or_else(|p| p.into_inner()).elem != elem {
        return Err(trap(format!("{what} of the wrong element type")));
    }
    match e.state {
        CopyState::Idle => {}
        CopyState::Done if future => {
            return Err(trap("cannot lift future after previous read succeeded"))
        }
        CopyState::Done => {
            return Err(trap(
                "cannot lift stream after being notified that the writable end dropped",
            ))
        }
        _ => return Err(trap(format!("cannot remove busy {what}"))),
    }
    if w.wset != 0 {
        return Err(trap(format!("cannot lift {what} while it's in a waitable set")));
    }
    let shared = e.shared.clone();
    s.take(i);
    Ok(Val::Stream(AsyncEnd { shared, future }))
}

/// `lower_stream` / `lower_future`: adds a readable end to `inst`.
pub(crate) fn lower_end(inst: &InstanceState, end: &AsyncEnd, ty: &Type) -> ward::Result<u32> {
    let (future, elem) = elem_type(ty);
    if end.future != future || end.shared.lock().unwrap_or_else(|p| p.into_inner()).elem != elem {
        return Err(ward::Error::Usage("stream or future of the wrong type".into()));
    }
    let e =
        End { shared: end.shared.clone(), future, write: false, state: CopyState::Idle, buf: None };
    inst.lock().add(Entry::Waitable(Waitable::new(WaitKind::End(e))))
}
