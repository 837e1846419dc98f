//! Run queues (a global injector, a FIFO deque and a LIFO slot per worker, stealing between
//! them), worker sleep and wake-up, and the timer thread.

use crate::proc::{schedule, ExitReason, Proc};
use crossbeam_deque::{Injector, Steal, Stealer, Worker};
use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{fence, AtomicBool, AtomicIsize, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

static NEXT_SCHED: AtomicU64 = AtomicU64::new(1);

/// How many times in a row a worker runs the process it just woke before it takes the oldest
/// runnable one: a message ping-pong stays on one core, but cannot starve the queue.
const LIFO_STREAK: u32 = 16;

pub(crate) struct Sched {
    pub id: u64,
    injector: Injector<Arc<Proc>>,
    stealers: OnceLock<Vec<Stealer<Arc<Proc>>>>,
    sleep_lock: Mutex<()>,
    sleep_cv: Condvar,
    sleeping: AtomicUsize,
    /// Workers looking for work (spinning before they sleep): while one is, a push needs to
    /// wake nobody.
    searching: AtomicUsize,
    pub shutdown: AtomicBool,
    /// Processes scheduled or running.
    pub in_flight: InFlight,
    timers: Mutex<BinaryHeap<Reverse<Timer>>>,
    timer_cv: Condvar,
}

pub(crate) enum TimerKind {
    Wake,
    Kill,
}

pub(crate) struct Timer {
    at: Instant,
    seq: u64,
    proc: Weak<Proc>,
    kind: TimerKind,
}

impl PartialEq for Timer {
    fn eq(&self, o: &Timer) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Timer {}
impl PartialOrd for Timer {
    fn partial_cmp(&self, o: &Timer) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Timer {
    fn cmp(&self, o: &Timer) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// A worker thread's own queues, reachable from code it runs (a guest's `send` wakes the
/// receiver into the sender's worker).
pub(crate) struct Local {
    sched_id: u64,
    pub index: usize,
    deque: Worker<Arc<Proc>>,
    lifo: Option<Arc<Proc>>,
    streak: u32,
    tick: u32,
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

static TIMER_SEQ: AtomicU64 = AtomicU64::new(0);

impl Sched {
    pub fn new() -> Arc<Sched> {
        Arc::new(Sched {
            id: NEXT_SCHED.fetch_add(1, Ordering::Relaxed),
            injector: Injector::new(),
            stealers: OnceLock::new(),
            sleep_lock: Mutex::new(()),
            sleep_cv: Condvar::new(),
            sleeping: AtomicUsize::new(0),
            searching: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            in_flight: InFlight::new(),
            timers: Mutex::new(BinaryHeap::new()),
            timer_cv: Condvar::new(),
        })
    }

    /// Makes the deques of `n` workers; each is installed on its thread by [`Sched::enter`].
    pub fn make_workers(&self, n: usize) -> Vec<Worker<Arc<Proc>>> {
        self.in_flight.resize(n + 1);
        let workers: Vec<_> = (0..n).map(|_| Worker::new_fifo()).collect();
        let _ = self.stealers.set(workers.iter().map(|w| w.stealer()).collect());
        workers
    }

    /// Installs worker `index`'s deque on the current thread.
    pub fn enter(&self, index: usize, deque: Worker<Arc<Proc>>) {
        LOCAL.with(|l| {
            *l.borrow_mut() =
                Some(Local { sched_id: self.id, index, deque, lifo: None, streak: 0, tick: 0 })
        });
    }

    pub fn leave(&self) -> Vec<Arc<Proc>> {
        let local = LOCAL.with(|l| l.borrow_mut().take());
        let mut left = Vec::new();
        if let Some(mut l) = local {
            left.extend(l.lifo.take());
            while let Some(p) = l.deque.pop() {
                left.push(p);
            }
        }
        left
    }

    /// Queues a runnable process: a process woken on a worker goes to that worker's LIFO slot
    /// (runs next, on the same core), a process that used up its slice (`yielded`) to the back
    /// of the worker's deque; from other threads to the global injector.
    pub fn push(&self, p: Arc<Proc>, yielded: bool) {
        let rest = LOCAL.with(|cell| {
            let Ok(mut cell) = cell.try_borrow_mut() else { return Some(p) };
            match cell.as_mut() {
                Some(l) if l.sched_id == self.id => {
                    if yielded {
                        l.deque.push(p);
                        self.notify();
                    } else if let Some(prev) = l.lifo.replace(p) {
                        l.deque.push(prev);
                        self.notify();
                    }
                    None
                }
                _ => Some(p),
            }
        });
        if let Some(p) = rest {
            self.injector.push(p);
            self.notify();
        }
    }

    /// After a push: wakes a sleeping worker, unless one is searching (it will find the work:
    /// a searcher checks the queues again after it stops counting itself as searching).
    fn notify(&self) {
        fence(Ordering::SeqCst);
        if self.searching.load(Ordering::SeqCst) > 0 {
            return;
        }
        self.wake_one();
    }

    fn wake_one(&self) {
        if self.sleeping.load(Ordering::SeqCst) > 0 {
            let _g = self.sleep_lock.lock().unwrap_or_else(|e| e.into_inner());
            self.sleep_cv.notify_one();
        }
    }

    /// The current worker found its queues empty and starts looking for work.
    pub fn start_searching(&self) {
        self.searching.fetch_add(1, Ordering::SeqCst);
    }

    /// The current worker, searching, found work. If it was the last searcher and more work is
    /// queued, it wakes a sleeper: pushes it saw while searching woke nobody.
    pub fn found_work(&self) {
        if self.searching.fetch_sub(1, Ordering::SeqCst) == 1 && self.has_work() {
            self.wake_one();
        }
    }

    pub fn wake_all(&self) {
        let _g = self.sleep_lock.lock().unwrap_or_else(|e| e.into_inner());
        self.sleep_cv.notify_all();
        self.timer_cv.notify_all();
    }

    /// The next process for the current worker: its LIFO slot (up to a streak), its deque, the
    /// injector, then the other workers' deques.
    pub fn next(&self) -> Option<Arc<Proc>> {
        LOCAL.with(|cell| {
            let mut cell = cell.borrow_mut();
            let l = cell.as_mut()?;
            l.tick = l.tick.wrapping_add(1);
            if l.tick % 61 == 0 {
                if let Some(p) = self.steal_injector(&l.deque) {
                    return Some(p);
                }
            }
            if let Some(p) = l.lifo.take() {
                if l.streak < LIFO_STREAK {
                    l.streak += 1;
                    return Some(p);
                }
                // Now stealable. If other processes wait behind it, a sleeping worker must hear
                // of them, or a worker that found nothing a moment ago sleeps while this one
                // runs every pair in turn; alone, it runs next here (waking another worker
                // would only move a ping-pong pair to another core and back).
                l.deque.push(p);
                if l.deque.len() > 1 {
                    self.notify();
                }
            }
            l.streak = 0;
            if let Some(p) = l.deque.pop() {
                return Some(p);
            }
            if let Some(p) = self.steal_injector(&l.deque) {
                return Some(p);
            }
            let stealers = self.stealers.get()?;
            let n = stealers.len();
            for k in 1..n {
                let s = &stealers[(l.index + k) % n];
                loop {
                    match s.steal_batch_and_pop(&l.deque) {
                        Steal::Success(p) => return Some(p),
                        Steal::Empty => break,
                        Steal::Retry => continue,
                    }
                }
            }
            None
        })
    }

    fn steal_injector(&self, deque: &Worker<Arc<Proc>>) -> Option<Arc<Proc>> {
        loop {
            match self.injector.steal_batch_and_pop(deque) {
                Steal::Success(p) => return Some(p),
                Steal::Empty => return None,
                Steal::Retry => continue,
            }
        }
    }

    fn has_work(&self) -> bool {
        !self.injector.is_empty()
            || self.stealers.get().is_some_and(|s| s.iter().any(|s| !s.is_empty()))
    }

    /// Sleeps the current worker until work is pushed (or a while passes). `searching`: it was
    /// counted as searching until now.
    pub fn sleep(&self, searching: bool) {
        // Counted as sleeping before it stops counting as searching, so that a push in between
        // sees one or the other; the queues are checked again under the lock the waker takes.
        self.sleeping.fetch_add(1, Ordering::SeqCst);
        if searching {
            self.searching.fetch_sub(1, Ordering::SeqCst);
        }
        fence(Ordering::SeqCst);
        {
            let g = self.sleep_lock.lock().unwrap_or_else(|e| e.into_inner());
            if !self.has_work() && !self.shutdown.load(Ordering::Acquire) {
                let _ = self.sleep_cv.wait_timeout(g, Duration::from_millis(20));
            }
        }
        self.sleeping.fetch_sub(1, Ordering::SeqCst);
    }

    /// Every process still queued (at shutdown).
    pub fn drain(&self) -> Vec<Arc<Proc>> {
        let mut out = Vec::new();
        loop {
            match self.injector.steal() {
                Steal::Success(p) => out.push(p),
                Steal::Empty => break,
                Steal::Retry => {}
            }
        }
        if let Some(stealers) = self.stealers.get() {
            for s in stealers {
                loop {
                    match s.steal() {
                        Steal::Success(p) => out.push(p),
                        Steal::Empty => break,
                        Steal::Retry => {}
                    }
                }
            }
        }
        self.timers.lock().unwrap_or_else(|e| e.into_inner()).clear();
        out
    }

    /// Wakes (or kills) `p` at `at`. Entries of processes that ended are skipped when due;
    /// the heap is compacted when it holds many of them, so it stays proportional to the live
    /// processes.
    pub fn add_timer(&self, at: Instant, p: &Arc<Proc>, kind: TimerKind) {
        let seq = TIMER_SEQ.fetch_add(1, Ordering::Relaxed);
        let mut heap = self.timers.lock().unwrap_or_else(|e| e.into_inner());
        let earliest = heap.peek().is_none_or(|Reverse(t)| at < t.at);
        heap.push(Reverse(Timer { at, seq, proc: Arc::downgrade(p), kind }));
        let live = self.in_flight.total().max(0) as usize;
        if heap.len() > 4096 && heap.len() > 8 * live.max(1) {
            heap.retain(|Reverse(t)| t.proc.strong_count() > 0);
        }
        drop(heap);
        if earliest {
            self.timer_cv.notify_one();
        }
    }

    /// The timer thread's loop.
    pub fn run_timers(&self) {
        let mut heap = self.timers.lock().unwrap_or_else(|e| e.into_inner());
        while !self.shutdown.load(Ordering::Acquire) {
            let now = Instant::now();
            let mut due = Vec::new();
            while let Some(Reverse(t)) = heap.peek() {
                if t.at > now {
                    break;
                }
                if let Some(Reverse(t)) = heap.pop() {
                    due.push(t);
                }
            }
            if !due.is_empty() {
                drop(heap);
                for t in due {
                    if let Some(p) = t.proc.upgrade() {
                        match t.kind {
                            TimerKind::Wake => schedule(&p),
                            TimerKind::Kill => p.kill(ExitReason::Deadline),
                        }
                    }
                }
                heap = self.timers.lock().unwrap_or_else(|e| e.into_inner());
                continue;
            }
            let wait = heap
                .peek()
                .map(|Reverse(t)| t.at.saturating_duration_since(now))
                .unwrap_or(Duration::from_millis(100))
                .min(Duration::from_millis(100));
            heap = self.timer_cv.wait_timeout(heap, wait).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

#[repr(align(128))]
struct Padded(AtomicIsize);

/// A count of the processes scheduled or running, split per worker thread (each on its own
/// cache line, so counting costs no traffic between cores); only its total means anything.
pub(crate) struct InFlight {
    shards: OnceLock<Box<[Padded]>>,
    other: Padded,
}

impl InFlight {
    fn new() -> InFlight {
        InFlight { shards: OnceLock::new(), other: Padded(AtomicIsize::new(0)) }
    }

    fn resize(&self, n: usize) {
        let _ = self.shards.set((0..n).map(|_| Padded(AtomicIsize::new(0))).collect());
    }

    /// Adds `d` on the current thread's shard.
    pub fn add(&self, sched: u64, d: isize) {
        let index = LOCAL.with(|l| {
            l.try_borrow()
                .ok()
                .and_then(|l| l.as_ref().filter(|l| l.sched_id == sched).map(|l| l.index))
        });
        let cell = match (index, self.shards.get()) {
            (Some(i), Some(s)) if i < s.len() => &s[i].0,
            _ => &self.other.0,
        };
        cell.fetch_add(d, Ordering::AcqRel);
    }

    /// The total (exact only while nothing changes).
    pub fn total(&self) -> isize {
        let shards =
            self.shards.get().map_or(0, |s| s.iter().map(|c| c.0.load(Ordering::Acquire)).sum());
        shards + self.other.0.load(Ordering::Acquire)
    }
}
