//! The runtime: templates, the process table, spawning, worker threads, exits (links, monitors,
//! supervision, process trees) and the host's own endpoints.

use crate::caps::{Caps, Limits, RestartPolicy};
use crate::proc::{tags, ExitReason, Message, Pid, Proc, Shared, Task, DONE, IDLE};
use crate::proc::{PidMap, PidSet};
use crate::proc::{NOTIFIED, RUNNING, SCHEDULED};
use crate::sched::{Sched, TimerKind};
use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use ward::{Config, Engine, InstancePre, Linker, Memory, Module, Store, StoreLimitsBuilder};
use ward_wasi::{DirAccess, OutputPipe, WasiCtx, WasiCtxBuilder};

/// The longest template name a guest may pass to `spawn`.
pub const MAX_TEMPLATE_NAME: usize = 128;

/// Runtime-wide settings and the bounds on everything a guest can make the host hold.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// Worker threads (default: the available parallelism).
    pub workers: usize,
    /// Processes alive at once in the whole runtime.
    pub max_processes: usize,
    /// Largest message a guest may send, in bytes.
    pub max_message_bytes: usize,
    /// Messages a mailbox holds; a send to a full mailbox fails with `E_FULL`.
    pub max_mailbox_messages: usize,
    /// Bytes a mailbox holds.
    pub max_mailbox_bytes: usize,
    /// Process handles one process may hold (handles received beyond it are dropped).
    pub max_handles: usize,
    /// Links plus monitors one process may set up.
    pub max_links: usize,
    /// `Config::max_wasm_stack` of the engine (bytes of interpreter value stack per call).
    pub max_wasm_stack: Option<usize>,
}

impl Default for RuntimeConfig {
    fn default() -> RuntimeConfig {
        RuntimeConfig {
            workers: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            max_processes: 2_000_000,
            max_message_bytes: 64 << 10,
            max_mailbox_messages: 1024,
            max_mailbox_bytes: 4 << 20,
            max_handles: 4096,
            max_links: 1024,
            max_wasm_stack: None,
        }
    }
}

/// A process template as the embedder describes it (a manifest's `[templates.NAME]`).
pub struct TemplateSpec {
    /// Its name, used by `spawn`.
    pub name: String,
    /// The module (compiled with [`Runtime::engine`]).
    pub module: Module,
    /// The export to run: `main` or, if absent, `_start` (a WASI command).
    pub entry: Option<String>,
    /// The capabilities it asks for (a child gets them only as far as its parent holds them).
    pub caps: Caps,
    /// Its limits (a child's are never above its parent's).
    pub limits: Limits,
    /// Arguments (WASI `args`); the first is the program name.
    pub args: Vec<String>,
    /// Where its WASI stdout goes when not inherited.
    pub stdout: Option<OutputPipe>,
    /// Where its WASI stderr goes when not inherited.
    pub stderr: Option<OutputPipe>,
}

impl TemplateSpec {
    /// A template with no capabilities and default limits.
    pub fn new(name: impl Into<String>, module: Module) -> TemplateSpec {
        let name = name.into();
        TemplateSpec {
            args: vec![name.clone()],
            name,
            module,
            entry: None,
            caps: Caps::none(),
            limits: Limits::default(),
            stdout: None,
            stderr: None,
        }
    }
    /// Sets the capabilities it asks for.
    pub fn caps(mut self, caps: Caps) -> Self {
        self.caps = caps;
        self
    }
    /// Sets its limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
    /// Sets the export to run.
    pub fn entry(mut self, entry: impl Into<String>) -> Self {
        self.entry = Some(entry.into());
        self
    }
    /// Captures its WASI stdout.
    pub fn stdout(mut self, pipe: OutputPipe) -> Self {
        self.stdout = Some(pipe);
        self
    }
}

pub(crate) struct Template {
    pub name: String,
    pre: InstancePre<ProcData>,
    entry: String,
    /// Shared by every process spawned with exactly the template's capabilities.
    pub caps: Arc<Caps>,
    pub limits: Limits,
    uses_wasi: bool,
    args: Vec<String>,
    stdout: Option<OutputPipe>,
    stderr: Option<OutputPipe>,
}

/// A process's state inside its store.
pub struct ProcData {
    pub(crate) me: Arc<Proc>,
    pub(crate) rt: Arc<RtInner>,
    pub(crate) caps: Arc<Caps>,
    pub(crate) limits: Limits,
    /// Processes it may message (besides itself).
    pub(crate) handles: PidSet,
    /// Links and monitors it has set up.
    pub(crate) links_made: u32,
    pub(crate) memory: Option<Memory>,
    pub(crate) wasi: Option<WasiCtx>,
    pub(crate) last: (i32, Pid, Pid),
}

/// What a supervised process is restarted from.
pub(crate) struct Supervision {
    policy: RestartPolicy,
    crashes: VecDeque<Instant>,
    recipe: Recipe,
}

#[derive(Clone)]
pub(crate) struct Recipe {
    pub tpl: Arc<Template>,
    pub caps: Arc<Caps>,
    pub limits: Limits,
    pub handles: Vec<Pid>,
    pub tree: Arc<AtomicU32>,
    /// WASI arguments instead of the template's ([`SpawnOptions::args`]).
    pub args: Option<Arc<[String]>>,
    /// WASI stdin bytes ([`SpawnOptions::stdin`]).
    pub stdin: Option<Arc<[u8]>>,
    /// WASI stdout and stderr instead of the template's ([`SpawnOptions::stdout`]).
    pub stdout: Option<OutputPipe>,
    pub stderr: Option<OutputPipe>,
    /// Instantiate on the worker that first runs it ([`SpawnOptions::instantiate_on_worker`]).
    pub on_worker: bool,
}

const SHARDS: usize = 64;

/// One shard of the process registry, on cache lines of its own: the pids of processes that
/// talk to each other are usually consecutive, so unpadded neighbouring shards would share a
/// line that every `send` on two workers writes (the lock) and make the cores contend.
#[repr(align(128))]
#[derive(Default)]
struct Shard(Mutex<PidMap<Arc<Proc>>>);

/// Rounds an idle worker looks for work before it yields (see [`RtInner::worker`]).
const SEARCH_SPINS: u32 = 48;
/// Rounds, each after a yield, before it sleeps.
const SEARCH_YIELDS: u32 = 4;

pub(crate) struct RtInner {
    pub engine: Engine,
    pub config: RuntimeConfig,
    linker: Linker<ProcData>,
    templates: RwLock<HashMap<String, Arc<Template>>>,
    procs: Box<[Shard]>,
    next_pid: AtomicU64,
    live: AtomicUsize,
    pub sched: Arc<Sched>,
    exit_lock: Mutex<()>,
    exit_cv: Condvar,
    exit_waiters: AtomicUsize,
}

/// A set of nanoprocesses and the threads that run them.
///
/// ```
/// use ward_nano::{Runtime, RuntimeConfig, TemplateSpec, ExitReason};
/// let rt = Runtime::new(RuntimeConfig { workers: 1, ..Default::default() })?;
/// let module = ward::Module::new(rt.engine(), r#"(module
///     (import "ward:nano" "exit" (func $exit (param i32)))
///     (func (export "main") (call $exit (i32.const 7))))"#)?;
/// rt.add_template(TemplateSpec::new("seven", module))?;
/// let p = rt.spawn("seven")?;
/// assert_eq!(p.wait(std::time::Duration::from_secs(5)), Some(ExitReason::Exit(7)));
/// # Ok::<(), ward::Error>(())
/// ```
pub struct Runtime {
    inner: Arc<RtInner>,
    threads: Vec<JoinHandle<()>>,
}

/// The host's handle on a process: its pid, whether it lives, how it ended.
#[derive(Clone)]
pub struct ProcHandle {
    proc: Arc<Proc>,
    rt: Arc<RtInner>,
}

/// Options for [`Runtime::spawn_with`].
///
/// `args`, `env` and `stdin` are what the host hands one process it spawns — a request's
/// data, say — and apply only if its module imports WASI. The host is where all authority
/// starts, so `env` is not limited by the template; the variables become part of the process's
/// capabilities (`Runtime::caps_of` shows them) and flow down the tree by the usual rule: a
/// child sees one only if its own template asks for it with the same value
/// ([`Caps::attenuate`]). Arguments and stdin are data, not authority, and are not passed
/// down: a child spawned by a process gets its template's arguments and an empty stdin.
#[derive(Clone, Debug, Default)]
pub struct SpawnOptions {
    /// Capabilities granted (default: the template's). Never above the template's, except
    /// for the variables of `env`, which are added afterwards.
    pub caps: Option<Caps>,
    /// Process handles it starts with (e.g. a host endpoint to report to).
    pub handles: Vec<Pid>,
    /// Restart it when it ends abnormally (each restart gets the same arguments, environment
    /// and stdin again).
    pub restart: Option<RestartPolicy>,
    /// WASI arguments instead of the template's (the first is the program name).
    pub args: Option<Vec<String>>,
    /// WASI environment variables added to its capabilities (replacing a template variable of
    /// the same name). A name must be non-empty and hold no `=` or NUL, a value no NUL.
    pub env: Vec<(String, String)>,
    /// What its WASI stdin reads, then end of file (default: end of file at once).
    pub stdin: Option<Vec<u8>>,
    /// Where its WASI stdout goes (default: the template's). Like stdin, not passed down: a
    /// child gets its template's. Inherited stdio ([`Caps::inherit_stdout`]) takes precedence.
    pub stdout: Option<OutputPipe>,
    /// Where its WASI stderr goes (default: the template's).
    pub stderr: Option<OutputPipe>,
    /// Create its store and instance on the worker thread that first runs it, not on the
    /// thread that calls `spawn`: for a server spawning from its own threads (an async
    /// runtime's), which then spend no time instantiating, and whose processes' memory is then
    /// allocated and freed by the same thread. `spawn` still checks the template, capabilities
    /// and limits at once, but an instantiation that fails (a limit the module's memory does not
    /// fit in, a start function that traps) becomes the process's exit reason
    /// ([`ExitReason::Error`]) instead of the error of `spawn`.
    pub instantiate_on_worker: bool,
}

impl Runtime {
    /// Starts the worker threads and the timer thread.
    pub fn new(config: RuntimeConfig) -> ward::Result<Runtime> {
        let mut c = Config::new();
        c.consume_fuel(true).async_support(true);
        if let Some(s) = config.max_wasm_stack {
            c.max_wasm_stack(s);
        }
        let engine = Engine::new(&c);
        let mut linker = Linker::new(&engine);
        crate::guest::add_to_linker(&mut linker)?;
        ward_wasi::add_to_linker(&mut linker, |d: &mut ProcData| {
            d.wasi.get_or_insert_with(|| WasiCtxBuilder::new().build())
        })?;
        let workers = config.workers.max(1);
        let inner = Arc::new(RtInner {
            engine,
            config,
            linker,
            templates: RwLock::new(HashMap::new()),
            procs: (0..SHARDS).map(|_| Shard::default()).collect(),
            next_pid: AtomicU64::new(1),
            live: AtomicUsize::new(0),
            sched: Sched::new(),
            exit_lock: Mutex::new(()),
            exit_cv: Condvar::new(),
            exit_waiters: AtomicUsize::new(0),
        });
        let mut threads = Vec::new();
        for (i, deque) in inner.sched.make_workers(workers).into_iter().enumerate() {
            let rt = inner.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("ward-nano-{i}"))
                    .spawn(move || rt.worker(i, deque))
                    .map_err(|e| ward::Error::Io {
                        context: "spawning a worker".into(),
                        source: e,
                    })?,
            );
        }
        let sched = inner.sched.clone();
        threads.push(
            std::thread::Builder::new()
                .name("ward-nano-timer".into())
                .spawn(move || sched.run_timers())
                .map_err(|e| ward::Error::Io { context: "spawning the timer".into(), source: e })?,
        );
        Ok(Runtime { inner, threads })
    }

    /// The engine modules for this runtime must be compiled with.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Registers a template (replacing one of the same name). The module is pre-linked against
    /// the `ward:nano` and WASI imports; its entry must take and return nothing.
    pub fn add_template(&self, spec: TemplateSpec) -> ward::Result<()> {
        let pre = self.inner.linker.instantiate_pre(&spec.module)?;
        let entry = match spec.entry {
            Some(e) => e,
            None if spec.module.exports().any(|(n, _)| n == "main") => "main".into(),
            None => "_start".into(),
        };
        match spec.module.exports().find(|(n, _)| *n == entry) {
            Some((_, ward::ExternType::Func(ty)))
                if ty.params().is_empty() && ty.results().is_empty() => {}
            _ => {
                return Err(ward::Error::Usage(format!(
                    "template `{}`: no export `{entry}` taking and returning nothing",
                    spec.name
                )))
            }
        }
        if spec.name.len() > MAX_TEMPLATE_NAME {
            return Err(ward::Error::Usage(format!(
                "template name longer than {MAX_TEMPLATE_NAME}"
            )));
        }
        let uses_wasi = spec.module.imports().any(|(m, _, _)| m == "wasi_snapshot_preview1");
        let mut caps = spec.caps;
        for d in &mut caps.dirs {
            d.host = std::fs::canonicalize(&d.host).map_err(|e| ward::Error::Io {
                context: format!("template `{}`: directory `{}`", spec.name, d.host.display()),
                source: e,
            })?;
        }
        let tpl = Template {
            name: spec.name.clone(),
            pre,
            entry,
            caps: Arc::new(caps),
            limits: spec.limits,
            uses_wasi,
            args: spec.args,
            stdout: spec.stdout,
            stderr: spec.stderr,
        };
        self.inner
            .templates
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(spec.name, Arc::new(tpl));
        Ok(())
    }

    /// Spawns a root process from a template, with the template's capabilities.
    pub fn spawn(&self, template: &str) -> ward::Result<ProcHandle> {
        self.spawn_with(template, SpawnOptions::default())
    }

    /// Spawns a root process with options.
    pub fn spawn_with(&self, template: &str, opts: SpawnOptions) -> ward::Result<ProcHandle> {
        let tpl = self
            .inner
            .template(template)
            .ok_or_else(|| ward::Error::Usage(format!("no template `{template}`")))?;
        // The template's own capabilities are shared, not copied, by every process that gets
        // exactly them (the common case).
        let mut caps = match opts.caps {
            Some(c) => Arc::new(c.attenuate(&tpl.caps)),
            None => tpl.caps.clone(),
        };
        if !opts.env.is_empty() {
            let c = Arc::make_mut(&mut caps);
            for (name, value) in opts.env {
                if name.is_empty() || name.contains(['=', '\0']) || value.contains('\0') {
                    return Err(ward::Error::Usage(format!(
                        "environment variable {name:?}: a name must be non-empty and hold no \
                         `=` or NUL, a value no NUL"
                    )));
                }
                c.env.insert(name, value);
            }
        }
        let tree = Arc::new(AtomicU32::new(tpl.limits.max_tree.max(1)));
        let recipe = Recipe {
            caps,
            limits: tpl.limits,
            handles: opts.handles,
            tree,
            tpl,
            args: opts.args.map(Arc::from),
            stdin: opts.stdin.map(Arc::from),
            stdout: opts.stdout,
            stderr: opts.stderr,
            on_worker: opts.instantiate_on_worker,
        };
        let proc = self.inner.spawn(recipe, 0, opts.restart, None).map_err(ward::Error::Usage)?;
        Ok(ProcHandle { proc, rt: self.inner.clone() })
    }

    /// A mailbox for the host: a pid guests can be granted and send to.
    pub fn endpoint(&self) -> Endpoint {
        let pid = self.inner.next_pid.fetch_add(1, Ordering::Relaxed);
        let proc = Arc::new(Proc {
            pid,
            parent: 0,
            sched: self.inner.sched.clone(),
            state: AtomicU8::new(DONE),
            task: Mutex::new(None),
            shared: Mutex::new(Shared::default()),
            killed: AtomicBool::new(false),
            trap_exit: AtomicBool::new(true),
            host_cv: Some(Condvar::new()),
            supervision: None,
            tree: None,
            caps: Arc::new(Caps::none()),
        });
        self.inner.insert(proc.clone());
        Endpoint { proc, rt: self.inner.clone() }
    }

    /// Sends a message from the host (which may message any process). False if `to` is gone
    /// or its mailbox is full.
    pub fn send(&self, to: Pid, tag: i32, data: &[u8]) -> bool {
        self.inner.send_from(0, to, tag, data, 0)
    }

    /// Kills a process.
    pub fn kill(&self, pid: Pid) {
        if let Some(p) = self.inner.lookup(pid) {
            p.kill(ExitReason::Killed("killed by the host".into()));
        }
    }

    /// The capabilities a live process holds.
    pub fn caps_of(&self, pid: Pid) -> Option<Caps> {
        self.inner.lookup(pid).map(|p| (*p.caps).clone())
    }

    /// Processes alive.
    pub fn live_processes(&self) -> usize {
        self.inner.live.load(Ordering::Acquire)
    }

    /// Waits until no process is runnable (all wait for a message or have ended). False on
    /// timeout.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        // The count is split per thread: settle only on two quiet readings in a row.
        let mut quiet = 0;
        while quiet < 2 {
            if Instant::now() >= end {
                return false;
            }
            quiet = if self.inner.sched.in_flight.total() == 0 { quiet + 1 } else { 0 };
            std::thread::sleep(Duration::from_micros(200));
        }
        true
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let sched = &self.inner.sched;
        sched.shutdown.store(true, Ordering::Release);
        sched.wake_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        // Break the cycles (a process's store holds the runtime) by dropping every task.
        let mut all = sched.drain();
        for shard in &self.inner.procs {
            all.extend(shard.0.lock().unwrap_or_else(|e| e.into_inner()).drain().map(|(_, p)| p));
        }
        for p in all {
            let task = p.task.lock().unwrap_or_else(|e| e.into_inner()).take();
            drop(task);
            // `Exited` futures see the shutdown flag when polled again.
            let wakers = std::mem::take(&mut p.lock().exit_wakers);
            for w in wakers {
                w.wake();
            }
        }
    }
}

impl ProcHandle {
    /// The process id.
    pub fn pid(&self) -> Pid {
        self.proc.pid
    }

    /// How it ended, if it has.
    pub fn exit_reason(&self) -> Option<ExitReason> {
        self.proc.lock().exit.clone()
    }

    /// A future ready when the process has ended, with how it ended; for async hosts (a
    /// server awaiting a request's process), where [`wait`](ProcHandle::wait) would block the
    /// executor's thread. If the runtime is dropped first it reports
    /// `ExitReason::Killed("the runtime shut down")`.
    ///
    /// A supervised process that is restarted has not ended: the future waits for its last end.
    pub fn exited(&self) -> Exited {
        Exited { proc: self.proc.clone() }
    }

    /// Waits up to `timeout` for it to end; returns how it ended.
    pub fn wait(&self, timeout: Duration) -> Option<ExitReason> {
        let end = Instant::now() + timeout;
        self.rt.exit_waiters.fetch_add(1, Ordering::SeqCst);
        let mut g = self.rt.exit_lock.lock().unwrap_or_else(|e| e.into_inner());
        let r = loop {
            if let Some(r) = self.exit_reason() {
                break Some(r);
            }
            let now = Instant::now();
            if now >= end {
                break None;
            }
            g = self
                .rt
                .exit_cv
                .wait_timeout(g, (end - now).min(Duration::from_millis(50)))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        };
        self.rt.exit_waiters.fetch_sub(1, Ordering::SeqCst);
        r
    }
}

/// The future of [`ProcHandle::exited`].
pub struct Exited {
    proc: Arc<Proc>,
}

impl std::future::Future for Exited {
    type Output = ExitReason;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<ExitReason> {
        let mut s = self.proc.lock();
        if let Some(r) = &s.exit {
            return Poll::Ready(r.clone());
        }
        if self.proc.sched.shutdown.load(Ordering::Acquire) {
            return Poll::Ready(ExitReason::Killed("the runtime shut down".into()));
        }
        if !s.exit_wakers.iter().any(|w| w.will_wake(cx.waker())) {
            s.exit_wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// The host's mailbox (see [`Runtime::endpoint`]). Dropping it removes the pid.
pub struct Endpoint {
    proc: Arc<Proc>,
    rt: Arc<RtInner>,
}

impl Endpoint {
    /// Its pid, to grant to processes ([`SpawnOptions::handles`]).
    pub fn pid(&self) -> Pid {
        self.proc.pid
    }

    /// Waits up to `timeout` for the first message whose tag is `tag` (or any, with
    /// [`tags::ANY`]).
    pub fn recv_tag(&self, tag: i32, timeout: Duration) -> Option<Message> {
        let end = Instant::now() + timeout;
        let cv = self.proc.host_cv.as_ref()?;
        let mut s = self.proc.lock();
        loop {
            if let Some(i) = s.queue.iter().position(|m| tag == tags::ANY || m.tag == tag) {
                let m = s.queue.remove(i)?;
                s.bytes -= m.data.len();
                return Some(m);
            }
            let now = Instant::now();
            if now >= end {
                return None;
            }
            s = cv.wait_timeout(s, end - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// Waits for any message.
    pub fn recv(&self, timeout: Duration) -> Option<Message> {
        self.recv_tag(tags::ANY, timeout)
    }

    /// Sends from this endpoint (the host may message anyone); the receiver sees this pid as
    /// the sender, and `cap` (if not 0) is handed over.
    pub fn send(&self, to: Pid, tag: i32, data: &[u8], cap: Pid) -> bool {
        self.rt.send_from(self.proc.pid, to, tag, data, cap)
    }

    /// Monitors `pid`: a `DOWN` message arrives here when it ends.
    pub fn monitor(&self, pid: Pid) {
        self.rt.monitor(self.proc.pid, pid);
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.proc.lock().exit = Some(ExitReason::Normal);
        self.rt.remove(self.proc.pid);
    }
}

impl RtInner {
    pub(crate) fn template(&self, name: &str) -> Option<Arc<Template>> {
        self.templates.read().unwrap_or_else(|e| e.into_inner()).get(name).cloned()
    }

    fn shard(&self, pid: Pid) -> std::sync::MutexGuard<'_, PidMap<Arc<Proc>>> {
        self.procs[(pid as usize) % SHARDS].0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn lookup(&self, pid: Pid) -> Option<Arc<Proc>> {
        self.shard(pid).get(&pid).cloned()
    }

    fn insert(&self, p: Arc<Proc>) {
        self.shard(p.pid).insert(p.pid, p);
    }

    fn remove(&self, pid: Pid) {
        self.shard(pid).remove(&pid);
    }

    pub(crate) fn send_from(&self, from: Pid, to: Pid, tag: i32, data: &[u8], cap: Pid) -> bool {
        let Some(p) = self.lookup(to) else { return false };
        let msg = Message { tag, sender: from, cap, data: data.into() };
        p.deliver(msg, Some((self.config.max_mailbox_messages, self.config.max_mailbox_bytes)))
            .is_ok()
    }

    /// `watcher` gets `DOWN` when `target` ends (at once, with `NoProc`, if it has).
    pub(crate) fn monitor(&self, watcher: Pid, target: Pid) {
        let alive = self.lookup(target).is_some_and(|t| {
            let mut s = t.lock();
            if s.exit.is_some() {
                return false;
            }
            if !s.monitors.contains(&watcher) {
                s.monitors.push(watcher);
            }
            true
        });
        if !alive {
            self.notice(watcher, tags::DOWN, target, &ExitReason::NoProc);
        }
    }

    fn notice(&self, to: Pid, tag: i32, from: Pid, reason: &ExitReason) {
        if let Some(p) = self.lookup(to) {
            let msg = Message { tag, sender: from, cap: 0, data: reason.encode(from) };
            let _ = p.deliver(msg, None);
        }
    }

    /// Creates, registers and queues a process.
    pub(crate) fn spawn(
        self: &Arc<Self>,
        recipe: Recipe,
        parent: Pid,
        restart: Option<RestartPolicy>,
        monitored_by: Option<Pid>,
    ) -> Result<Arc<Proc>, String> {
        if self.sched.shutdown.load(Ordering::Acquire) {
            return Err("the runtime is shutting down".into());
        }
        if self.live.fetch_add(1, Ordering::AcqRel) >= self.config.max_processes {
            self.live.fetch_sub(1, Ordering::AcqRel);
            return Err("too many processes".into());
        }
        if recipe
            .tree
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_err()
        {
            self.live.fetch_sub(1, Ordering::AcqRel);
            return Err("the process tree is full".into());
        }
        let pid = self.next_pid.fetch_add(1, Ordering::Relaxed);
        let supervision = restart.map(|policy| {
            Box::new(Mutex::new(Supervision {
                policy,
                crashes: VecDeque::new(),
                recipe: recipe.clone(),
            }))
        });
        let proc = Arc::new(Proc {
            pid,
            parent,
            sched: self.sched.clone(),
            state: AtomicU8::new(SCHEDULED),
            task: Mutex::new(None),
            shared: Mutex::new(Shared::default()),
            killed: AtomicBool::new(false),
            trap_exit: AtomicBool::new(false),
            host_cv: None,
            supervision,
            tree: Some(recipe.tree.clone()),
            caps: recipe.caps.clone(),
        });
        let task = if recipe.on_worker {
            let (rt, me, r) = (self.clone(), proc.clone(), recipe.clone());
            Box::pin(async move {
                match rt.make_task(&me, &r) {
                    Ok(task) => task.await,
                    Err(e) => ExitReason::Error(e),
                }
            })
        } else {
            match self.make_task(&proc, &recipe) {
                Ok(t) => t,
                Err(e) => {
                    recipe.tree.fetch_add(1, Ordering::AcqRel);
                    self.live.fetch_sub(1, Ordering::AcqRel);
                    return Err(e);
                }
            }
        };
        *proc.task.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
        // A monitor set before the process can run: it cannot end unwatched (a monitor set
        // after its end would only report `noproc`, not how it ended).
        if let Some(watcher) = monitored_by {
            proc.lock().monitors.push(watcher);
        }
        self.insert(proc.clone());
        if let Some(d) = recipe.limits.deadline() {
            self.sched.add_timer(Instant::now() + d, &proc, TimerKind::Kill);
        }
        self.sched.in_flight.add(self.sched.id, 1);
        self.sched.push(proc.clone(), true);
        Ok(proc)
    }

    /// A fresh store and instance for `proc`, and the future that runs its entry.
    fn make_task(self: &Arc<Self>, proc: &Arc<Proc>, r: &Recipe) -> Result<Task, String> {
        let tpl = &r.tpl;
        let wasi = if tpl.uses_wasi { Some(build_wasi(r)?) } else { None };
        let mut handles: PidSet = r.handles.iter().copied().collect();
        if proc.parent != 0 {
            handles.insert(proc.parent);
        }
        let data = ProcData {
            me: proc.clone(),
            rt: self.clone(),
            caps: r.caps.clone(),
            limits: r.limits,
            handles,
            links_made: 0,
            memory: None,
            wasi,
            last: (0, 0, 0),
        };
        let mut store = Store::new(&self.engine, data);
        let clamp = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        store.limiter(
            StoreLimitsBuilder::new()
                .memory_size(clamp(r.limits.memory_bytes))
                .table_elements(clamp(r.limits.table_elements))
                .instances(1)
                .memories(1)
                .tables(4)
                .build(),
        );
        let err = |e: ward::Error| format!("template `{}`: {e}", tpl.name);
        store.set_fuel(r.limits.start_fuel).map_err(err)?;
        let instance = tpl.pre.instantiate(&mut store).map_err(err)?;
        store.set_fuel(r.limits.fuel_total.unwrap_or(u64::MAX)).map_err(err)?;
        store.fuel_async_yield_interval(r.limits.fuel_slice.max(1));
        let memory = instance.get_memory(&store, "memory");
        store.data_mut().memory = memory;
        let entry = instance
            .get_func(&store, &tpl.entry)
            .ok_or_else(|| format!("template `{}`: no export `{}`", tpl.name, tpl.entry))?;
        // The block captures `store` by value and uses it in place: a `let mut store = store;`
        // inside would keep a second copy of the store in every process's future.
        Ok(Box::pin(async move {
            let r = entry.call_async(&mut store, &[], &mut []).await;
            match r {
                Ok(()) | Err(ward::Error::Exit(0)) => ExitReason::Normal,
                Err(ward::Error::Exit(c)) => ExitReason::Exit(c),
                Err(ward::Error::Trap(t)) => ExitReason::Trap(t.message().to_string()),
                Err(e) => ExitReason::Error(e.to_string()),
            }
        }))
    }

    /// A worker thread's loop. Out of work, it searches (checks every queue again) for
    /// `SEARCH_SPINS` rounds, then `SEARCH_YIELDS` rounds that yield the CPU, then sleeps.
    fn worker(self: Arc<Self>, index: usize, deque: crossbeam_deque::Worker<Arc<Proc>>) {
        let sched = self.sched.clone();
        sched.enter(index, deque);
        let mut idle_spins = 0u32;
        let mut searching = false;
        while !sched.shutdown.load(Ordering::Acquire) {
            match sched.next() {
                Some(p) => {
                    if std::mem::take(&mut searching) {
                        sched.found_work();
                    }
                    idle_spins = 0;
                    self.run(p);
                }
                None if idle_spins < SEARCH_SPINS + SEARCH_YIELDS => {
                    if !searching {
                        sched.start_searching();
                        searching = true;
                    }
                    idle_spins += 1;
                    std::hint::spin_loop();
                    // A few yields only: on a busy machine each is a context switch, and a
                    // worker yielding in a loop takes the CPU from the threads that make work
                    // (a server's); one wake-up when work comes costs less.
                    if idle_spins > SEARCH_SPINS {
                        std::thread::yield_now();
                    }
                }
                None => {
                    idle_spins = 0;
                    sched.sleep(std::mem::take(&mut searching));
                }
            }
        }
        if searching {
            sched.found_work();
        }
        drop(sched.leave());
    }

    /// Runs `p` for one slice: until it waits, yields, ends, or is killed.
    fn run(self: &Arc<Self>, p: Arc<Proc>) {
        p.state.store(RUNNING, Ordering::Release);
        let mut guard = p.task.lock().unwrap_or_else(|e| e.into_inner());
        let Some(task) = guard.as_mut() else {
            drop(guard);
            p.state.store(DONE, Ordering::Release);
            self.sched.in_flight.add(self.sched.id, -1);
            return;
        };
        let ended = if p.killed.load(Ordering::Acquire) {
            Some(p.lock().kill.take().unwrap_or(ExitReason::Killed("killed".into())))
        } else {
            let waker = Waker::from(p.clone());
            let mut cx = Context::from_waker(&waker);
            match catch_unwind(AssertUnwindSafe(|| task.as_mut().poll(&mut cx))) {
                Ok(Poll::Ready(r)) => Some(r),
                Ok(Poll::Pending) => None,
                Err(_) => Some(ExitReason::Error("a host function panicked".into())),
            }
        };
        match ended {
            Some(reason) => {
                let task = guard.take();
                drop(guard);
                drop(task);
                self.finish(&p, reason);
            }
            None => {
                drop(guard);
                if p.state
                    .compare_exchange(RUNNING, IDLE, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    self.sched.in_flight.add(self.sched.id, -1);
                } else {
                    debug_assert_eq!(p.state.load(Ordering::Acquire), NOTIFIED);
                    p.state.store(SCHEDULED, Ordering::Release);
                    self.sched.push(p, true);
                }
            }
        }
    }

    /// A process ended: restart it under its policy, or tell its monitors and links, kill its
    /// children, and remove it.
    fn finish(self: &Arc<Self>, p: &Arc<Proc>, reason: ExitReason) {
        if self.try_restart(p, &reason) {
            return;
        }
        let (links, monitors, children, wakers) = {
            let mut s = p.lock();
            s.exit = Some(reason.clone());
            s.kill = None;
            s.queue.clear();
            s.bytes = 0;
            (
                std::mem::take(&mut s.links),
                std::mem::take(&mut s.monitors),
                std::mem::take(&mut s.children),
                std::mem::take(&mut s.exit_wakers),
            )
        };
        for w in wakers {
            w.wake();
        }
        p.state.store(DONE, Ordering::Release);
        self.remove(p.pid);
        if let Some(tree) = &p.tree {
            tree.fetch_add(1, Ordering::AcqRel);
        }
        self.live.fetch_sub(1, Ordering::AcqRel);
        self.sched.in_flight.add(self.sched.id, -1);
        if let Some(parent) = self.lookup(p.parent) {
            parent.lock().children.retain(|c| *c != p.pid);
        }
        for w in monitors {
            self.notice(w, tags::DOWN, p.pid, &reason);
        }
        for l in links {
            let Some(t) = self.lookup(l) else { continue };
            t.lock().links.retain(|x| *x != p.pid);
            if t.trap_exit.load(Ordering::Acquire) {
                self.notice(l, tags::EXIT, p.pid, &reason);
            } else if reason.is_abnormal() {
                t.kill(ExitReason::Linked(p.pid));
            }
        }
        for c in children {
            if let Some(c) = self.lookup(c) {
                c.kill(ExitReason::Killed("its parent ended".into()));
            }
        }
        if self.exit_waiters.load(Ordering::SeqCst) > 0 {
            let _g = self.exit_lock.lock().unwrap_or_else(|e| e.into_inner());
            self.exit_cv.notify_all();
        }
    }

    fn try_restart(self: &Arc<Self>, p: &Arc<Proc>, reason: &ExitReason) -> bool {
        let Some(sup) = &p.supervision else { return false };
        if !reason.is_abnormal() || matches!(reason, ExitReason::Killed(_) | ExitReason::Deadline) {
            return false;
        }
        let mut sup = sup.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let window = sup.policy.window;
        while sup.crashes.front().is_some_and(|t| now.duration_since(*t) > window) {
            sup.crashes.pop_front();
        }
        if sup.crashes.len() >= sup.policy.max_restarts as usize {
            return false;
        }
        sup.crashes.push_back(now);
        let Ok(task) = self.make_task(p, &sup.recipe) else { return false };
        drop(sup);
        {
            let mut s = p.lock();
            s.queue.clear();
            s.bytes = 0;
            s.waiting = false;
            s.kill = None;
        }
        p.killed.store(false, Ordering::Release);
        *p.task.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
        self.notice(p.parent, tags::RESTARTED, p.pid, reason);
        p.state.store(SCHEDULED, Ordering::Release);
        self.sched.push(p.clone(), true);
        true
    }
}

fn build_wasi(r: &Recipe) -> Result<WasiCtx, String> {
    let (tpl, caps) = (&r.tpl, &r.caps);
    let mut b = WasiCtxBuilder::new();
    match &r.args {
        Some(args) => b.args(args.iter()),
        None => b.args(&tpl.args),
    };
    b.envs(caps.env.iter());
    if let Some(bytes) = &r.stdin {
        b.stdin_bytes(bytes.to_vec());
    }
    if caps.inherit_stdout {
        b.inherit_stdout();
    } else if let Some(p) = r.stdout.as_ref().or(tpl.stdout.as_ref()) {
        b.stdout(p.clone());
    }
    if caps.inherit_stderr {
        b.inherit_stderr();
    } else if let Some(p) = r.stderr.as_ref().or(tpl.stderr.as_ref()) {
        b.stderr(p.clone());
    }
    for d in &caps.dirs {
        let access = if d.read_only { DirAccess::ReadOnly } else { DirAccess::ReadWrite };
        b.preopened_dir_path_with(&d.host, &d.guest, access).map_err(|e| e.to_string())?;
    }
    Ok(b.build())
}
