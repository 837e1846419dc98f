//! `wasi-threads`: `thread-spawn` in the `wasi` module, and the thread group that a guest's
//! threads share.
//!
//! A guest built for `wasm32-wasip1-threads` imports a shared memory and `wasi::thread-spawn`,
//! and exports `wasi_thread_start(tid, start_arg)`. Each spawned thread is a new store holding
//! a new instance of the same module, importing the same [`ward::SharedMemory`], run on a new
//! OS thread. The threads of one guest form a *group*:
//!
//! - the descriptor table and the random source are shared: the first `thread-spawn` moves
//!   them out of the spawning context into the group (a single-threaded guest never pays for a
//!   lock), and from then on every WASI call of any of the threads holds the group's lock for
//!   its duration (so WASI calls of a threaded guest are serialised);
//! - thread ids are allocated from 1 upward, unique, at most `0x1FFF_FFFF` (the proposal keeps
//!   the top bits free for the C library's lock words);
//! - at most [`WasiCtxBuilder::max_threads`](crate::WasiCtxBuilder::max_threads) spawned
//!   threads run at once (default [`DEFAULT_MAX_THREADS`]); beyond that `thread-spawn` fails
//!   (a negative result, which `pthread_create` reports as `EAGAIN`);
//! - `proc_exit` in any thread, or a trap in any spawned thread, ends the whole program: the
//!   group records the first such end ([`WasiCtx::take_thread_end`]) and interrupts every
//!   thread's store (their engines must be [interruptible](ward::Config::interruptible)), so
//!   that running or waiting wasm stops at its next checkpoint.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use ward::{Caller, ExternType, InterruptHandle, Linker, Module, Store};

use crate::ctx::WasiCtx;
use crate::host::GetCtx;
use crate::random::Random;
use crate::table::FdTable;

/// How many spawned threads a guest may run at once unless its context says otherwise.
pub const DEFAULT_MAX_THREADS: u32 = 64;

/// The largest thread id (the proposal reserves the top three bits).
const MAX_TID: u32 = 0x1FFF_FFFF;

/// What ended a threaded program early.
#[derive(Debug)]
pub enum ThreadEnd {
    /// A thread called `proc_exit` with this status.
    Exit(i32),
    /// A spawned thread trapped (or failed to start); the program ends with this error.
    Failed(ward::Error),
}

/// The state the threads of one guest share.
#[derive(Debug)]
pub(crate) struct ThreadGroup {
    /// The descriptor table and random source of every thread in the group.
    state: Mutex<(FdTable, Random)>,
    max_threads: u32,
    next_tid: AtomicU32,
    /// Spawned threads still running.
    live: AtomicU32,
    /// Set once the program is ending; no new thread starts after that.
    ending: AtomicBool,
    end: Mutex<Option<ThreadEnd>>,
    /// The interrupt handles of every thread's store, the spawner's included.
    stores: Mutex<Vec<InterruptHandle>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ThreadGroup {
    /// Records how the program ends (the first end wins) and interrupts every thread.
    pub(crate) fn end(&self, why: ThreadEnd) {
        {
            let mut end = lock(&self.end);
            if end.is_none() {
                *end = Some(why);
            }
        }
        self.interrupt_all();
    }

    fn interrupt_all(&self) {
        self.ending.store(true, Ordering::SeqCst);
        for h in lock(&self.stores).iter() {
            h.interrupt();
        }
    }
}

impl WasiCtx {
    /// Runs `f` with the context's descriptor table and random source in place: for a context
    /// in a thread group, they are taken from the group (under its lock) for the duration.
    pub(crate) fn with_shared<R>(&mut self, f: impl FnOnce(&mut WasiCtx) -> R) -> R {
        let Some(group) = self.group.clone() else {
            return f(self);
        };
        let mut state = lock(&group.state);
        std::mem::swap(&mut self.table, &mut state.0);
        std::mem::swap(&mut self.random, &mut state.1);
        // Swap back even if `f` panics, so the group keeps its table.
        struct Restore<'a, 'b>(&'a mut WasiCtx, &'a mut MutexGuard<'b, (FdTable, Random)>);
        impl Drop for Restore<'_, '_> {
            fn drop(&mut self) {
                std::mem::swap(&mut self.0.table, &mut self.1 .0);
                std::mem::swap(&mut self.0.random, &mut self.1 .1);
            }
        }
        let r = Restore(self, &mut state);
        f(r.0)
    }

    /// The group of this context's threads, created (moving the descriptor table and random
    /// source into it) on the first spawn.
    fn group(&mut self, spawner: InterruptHandle) -> Arc<ThreadGroup> {
        if let Some(g) = &self.group {
            return g.clone();
        }
        let table = std::mem::take(&mut self.table);
        let random = std::mem::take(&mut self.random);
        let g = Arc::new(ThreadGroup {
            state: Mutex::new((table, random)),
            max_threads: self.max_threads,
            next_tid: AtomicU32::new(1),
            live: AtomicU32::new(0),
            ending: AtomicBool::new(false),
            end: Mutex::new(None),
            stores: Mutex::new(vec![spawner]),
        });
        self.group = Some(g.clone());
        g
    }

    /// A context for a new thread of this context's guest: the same arguments, environment,
    /// thread limit and group (hence descriptors). Meant for the `new_store` callback of
    /// [`add_threads_to_linker`]; outside a thread group it is a context with no descriptors.
    pub fn thread_ctx(&self) -> WasiCtx {
        WasiCtx {
            args: self.args.clone(),
            env: self.env.clone(),
            table: FdTable::default(),
            random: Random::default(),
            max_threads: self.max_threads,
            group: self.group.clone(),
        }
    }

    /// How a threaded program ended early, if it did: a thread's `proc_exit` or a spawned
    /// thread's trap. The embedder checks this when the main thread's call fails (it is then
    /// typically an `Interrupted` trap, caused by the group ending the program).
    pub fn take_thread_end(&self) -> Option<ThreadEnd> {
        lock(&self.group.as_ref()?.end).take()
    }

    /// Stops every spawned thread of this context's guest (at their next checkpoint): what an
    /// embedder does when the main thread has finished and the program is over.
    pub fn stop_threads(&self) {
        if let Some(g) = &self.group {
            g.interrupt_all();
        }
    }
}

/// Defines `wasi::thread-spawn` in `linker`, for instances of `module` (the module whose
/// threads it starts). Call it after everything else is defined: spawned threads instantiate
/// `module` with a copy of `linker` as it is at the end of this call, with the shared memory
/// `module` imports replaced by the new store's handle for it.
///
/// `new_store` makes the store of a new thread from the spawning thread's data; it should give
/// the store the same limits and a WASI context from [`WasiCtx::thread_ctx`], e.g.
/// `|parent| Ok(Store::new(&engine, parent.thread_ctx()))`. The engine should be
/// [interruptible](ward::Config::interruptible), so that a thread's exit can stop the others.
pub fn add_threads_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    module: &Module,
    get_ctx: impl GetCtx<T>,
    new_store: impl Fn(&mut T) -> ward::Result<Store<T>> + Send + Sync + 'static,
) -> ward::Result<()> {
    let memory_import = module
        .imports()
        .find(|(_, _, ty)| matches!(ty, ExternType::Memory(m) if m.is_shared()))
        .map(|(m, n, _)| (m.to_string(), n.to_string()));
    let cell: Arc<std::sync::OnceLock<Linker<T>>> = Arc::new(std::sync::OnceLock::new());
    let spawner = Arc::new(Spawner { module: module.clone(), memory_import, linker: cell.clone() });
    let new_store = Arc::new(new_store);
    linker.func_wrap("wasi", "thread-spawn", move |mut caller: Caller<'_, T>, arg: i32| {
        let r = spawner.spawn(&mut caller, get_ctx, &*new_store, arg);
        tracing::trace!(target: crate::host::TRACE_TARGET, arg, result = r, "thread-spawn");
        Ok(r)
    })?;
    let _ = cell.set(linker.clone());
    Ok(())
}

struct Spawner<T> {
    module: Module,
    /// Where `module` imports its shared memory.
    memory_import: Option<(String, String)>,
    linker: Arc<std::sync::OnceLock<Linker<T>>>,
}

impl<T: Send + 'static> Spawner<T> {
    /// Starts a thread running `wasi_thread_start(tid, arg)`; its id, or -1 if it cannot.
    fn spawn(
        &self,
        caller: &mut Caller<'_, T>,
        get_ctx: impl GetCtx<T>,
        new_store: &(impl Fn(&mut T) -> ward::Result<Store<T>> + Send + Sync + 'static),
        arg: i32,
    ) -> i32 {
        let (Some((imp_module, imp_name)), Some(linker)) = (&self.memory_import, self.linker.get())
        else {
            return -1;
        };
        let Some(shared) = caller
            .get_export("memory")
            .and_then(|e| e.into_memory())
            .and_then(|m| m.shared(&*caller))
        else {
            return -1;
        };
        let handle = caller.interrupt_handle();
        let group = get_ctx(caller.data_mut()).group(handle);
        if group.ending.load(Ordering::SeqCst) {
            return -1;
        }
        // Reserve a place among the live threads, within the limit.
        if group
            .live
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < group.max_threads).then_some(n + 1)
            })
            .is_err()
        {
            return -1;
        }
        let release = |g: &ThreadGroup| g.live.fetch_sub(1, Ordering::SeqCst);
        let tid = match group
            .next_tid
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| (t <= MAX_TID).then_some(t + 1))
        {
            Ok(t) => t,
            Err(_) => {
                release(&group);
                return -1;
            }
        };
        let prepared = (|| -> ward::Result<(Store<T>, ward::Instance)> {
            let mut store = new_store(caller.data_mut())?;
            let memory = shared.memory(&mut store)?;
            let mut linker = linker.clone();
            linker.allow_shadowing(true);
            linker.define(&store, imp_module, imp_name, memory)?;
            let instance = linker.instantiate(&mut store, &self.module)?;
            Ok((store, instance))
        })();
        let (mut store, instance) = match prepared {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(target: crate::host::TRACE_TARGET, error = %e, "thread-spawn failed");
                release(&group);
                return -1;
            }
        };
        lock(&group.stores).push(store.interrupt_handle());
        if group.ending.load(Ordering::SeqCst) {
            store.interrupt_handle().interrupt();
        }
        let g = group.clone();
        let started =
            std::thread::Builder::new().name(format!("wasi-thread-{tid}")).spawn(move || {
                let r = instance
                    .get_typed_func::<(i32, i32), ()>(&store, "wasi_thread_start")
                    .and_then(|f| f.call(&mut store, (tid as i32, arg)));
                match r {
                    Ok(()) => {}
                    Err(ward::Error::Exit(code)) => g.end(ThreadEnd::Exit(code)),
                    // Interrupted because the program is ending anyway.
                    Err(_) if g.ending.load(Ordering::SeqCst) => {}
                    Err(e) => g.end(ThreadEnd::Failed(e)),
                }
                release(&g);
            });
        match started {
            Ok(_) => tid as i32,
            Err(_) => {
                release(&group);
                -1
            }
        }
    }
}
