//! The call driver: runs wasm code in the interpreter and services what makes it stop — host
//! calls, epoch deadlines, fuel yields — synchronously, as a resumable (parkable) call, or as a
//! future. A plain call of a function with native code runs it natively instead (`native`);
//! resumable and async calls always interpret.
//!
//! An interpreted call is plain data ([`Execution`]), so a host function can *park* it: the
//! call returns [`CallStatus::Parked`] and is resumed later, from any thread, with the host
//! function's results. The async driver awaits async host functions and yields to the executor
//! at epoch deadlines and fuel intervals; it never blocks a thread on guest code for longer than
//! a slice.

use super::caller::Caller;
use super::func::{check_count, encode_vals, Func};
use super::store::{EpochBehavior, HostImpl, Store, SyncHostFn};
use super::val::Val;
use crate::error::{Error, Result, TrapCode};
use crate::interp::{Execution, Outcome};
use crate::runtime::{FuncKind, SuspendedStack};
use crate::types::FuncType;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// How many wasm calls may be active at once in one store, each entered from a host function
/// called by the previous one. Each level costs about 1–2 KiB of native stack (more in
/// unoptimised builds) plus whatever the host functions in between use, and its own interpreter
/// value stack.
pub(crate) const MAX_WASM_NESTING: u32 = 64;

/// How a driver may treat a host function's request to park.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ParkMode {
    /// Parking is an error (a plain call, or a call made from inside a host function).
    Refuse,
    /// Parking ends the drive with the execution intact.
    Allow,
}

/// What stopped a drive that did not fail.
enum Stop {
    Done,
    /// Parked in the host function with this store function index.
    Parked(u32),
}

/// Calls store function `func` with `args` (slot-encoded), writing its result slots to
/// `results` (whose length must be the function's result slot count). An exception that leaves
/// the call is an uncaught-exception trap, and its object is freed if nothing refers to it.
pub(crate) fn call_raw<T>(
    store: &mut Store<T>,
    func: u32,
    args: &[u64],
    results: &mut [u64],
) -> Result<()> {
    call_wasm(store, func, args, results).map_err(|e| match e {
        Error::Trap(t) => match t.exception() {
            Some(exn) => {
                store.inner.exns.release_if_unreferenced(exn);
                Error::Trap(t.without_exception())
            }
            None => Error::Trap(t),
        },
        other => other,
    })
}

/// [`call_raw`], except that an exception that leaves the call stays in the trap (with its
/// object), for native code that called out to go on unwinding with it.
fn call_wasm<T>(store: &mut Store<T>, func: u32, args: &[u64], results: &mut [u64]) -> Result<()> {
    if let FuncKind::Host { host } = store.inner.funcs[func as usize].kind {
        return call_host_directly(store, func, host, args, results);
    }
    let _span = tracing::trace_span!(target: "ward", "call", func).entered();
    let nesting = Nesting::enter(store)?;
    let store_ptr: *mut Store<T> = &mut *nesting.store;
    let mut exit = NativeExit { store: store_ptr };
    // SAFETY: the store is exclusively borrowed (through `nesting`) and not otherwise used
    // until the native call returns; native code reaches it only through `exit`, while stopped
    // in a runtime call that holds no reference into it.
    let native =
        unsafe { crate::native::call(&raw mut (*store_ptr).inner, func, args, results, &mut exit) };
    if let Some(outcome) = native {
        nesting.store.inner.native_entries += 1;
        if let Err(Error::Trap(t)) = &outcome {
            tracing::debug!(target: "ward", trap = %t.message(), "trap");
        }
        return outcome;
    }
    let mut ex = Execution::new(&mut nesting.store.inner, func, args)?;
    let outcome = drive(nesting.store, &mut ex, ParkMode::Refuse).map(|_| ());
    finish(nesting.store, ex, outcome, results)
}

/// How native code calls the functions that have no native code: through the store's ordinary
/// call path (see `native::Exit`).
struct NativeExit<T> {
    store: *mut Store<T>,
}

impl<T> crate::native::Exit for NativeExit<T> {
    fn call(&mut self, caller: u32, func: u32, slots: &mut [u64]) -> Result<()> {
        // SAFETY: `call_raw` made this exit from its exclusive borrow of the store and keeps the
        // store unused while native code runs; native code calls this while stopped in a
        // runtime call that holds no reference into the store.
        let store = unsafe { &mut *self.store };
        call_from_native(store, caller, func, slots)
    }

    fn epoch_deadline(&mut self) -> Result<()> {
        // SAFETY: as in `call`.
        let store = unsafe { &mut *self.store };
        epoch_deadline(store, false).map(|_| ())
    }
}

/// Calls store function `func` (a host function, or a wasm function without native code) for
/// a native function of store instance `caller`: `slots` holds the arguments and receives the
/// results. Host functions see the caller's instance; parking and async host functions are
/// refused as in any synchronous call.
fn call_from_native<T>(
    store: &mut Store<T>,
    caller: u32,
    func: u32,
    slots: &mut [u64],
) -> Result<()> {
    let ty = &store.inner.funcs[func as usize].ty;
    let (params, results) = (ty.param_slots() as usize, ty.result_slots() as usize);
    if slots.len() < params.max(results) {
        return Err(Error::Unsupported(format!(
            "native code called a function with {} slots for {params} parameters and {results} \
             results (a bug in Ward's native tier)",
            slots.len()
        )));
    }
    let level = suspend_native(store);
    let outcome = match store.inner.funcs[func as usize].kind {
        FuncKind::Host { host } => match &store.host_funcs[host as usize] {
            HostImpl::Sync(f) => {
                let f: *const SyncHostFn<T> = Arc::as_ptr(f);
                // SAFETY: as in `drive`: the store never removes or replaces its host
                // functions, so the closure stays alive at this address while it runs; it is
                // only used through shared references.
                let f = unsafe { &*f };
                f(Caller::new(store, Some(caller)), slots).map_err(refuse_park)
            }
            HostImpl::Async(_) => Err(async_in_sync_call()),
        },
        FuncKind::Wasm { .. } => {
            let mut args = Scratch::new(params);
            let args = args.slots();
            args.copy_from_slice(&slots[..params]);
            call_wasm(store, func, args, &mut slots[..results])
        }
    };
    store.inner.suspended_stacks.truncate(level);
    outcome
}

/// Scratch slots for a call's values: on the native stack when few, otherwise on the heap.
struct Scratch {
    small: [u64; 16],
    large: Vec<u64>,
    n: usize,
}

impl Scratch {
    fn new(n: usize) -> Scratch {
        let large = if n > 16 { vec![0; n] } else { Vec::new() };
        Scratch { small: [0; 16], large, n }
    }

    fn slots(&mut self) -> &mut [u64] {
        if self.n > self.small.len() {
            &mut self.large[..]
        } else {
            &mut self.small[..self.n]
        }
    }
}

/// Registers an empty root entry for the nesting level of a native call while it calls out
/// (native frames hold no exception references), so that the calls it makes find their entries
/// at their own levels; returns the level to truncate back to.
fn suspend_native<T>(store: &mut Store<T>) -> usize {
    let level = store.wasm_nesting.saturating_sub(1) as usize;
    store.inner.suspended_stacks.truncate(level);
    let empty = SuspendedStack {
        start: std::ptr::NonNull::dangling().as_ptr(),
        len: 0,
        frames: std::ptr::null(),
        frames_len: 0,
    };
    store.inner.suspended_stacks.push(empty);
    level
}

/// Calls a host function from the embedder (no wasm caller).
fn call_host_directly<T>(
    store: &mut Store<T>,
    func: u32,
    host: u32,
    args: &[u64],
    results: &mut [u64],
) -> Result<()> {
    let ty = &store.inner.funcs[func as usize].ty;
    let n = ty.param_slots().max(ty.result_slots()) as usize;
    let mut slots = Scratch::new(n);
    let slots = slots.slots();
    slots[..args.len()].copy_from_slice(args);
    match store.host_funcs[host as usize].clone() {
        HostImpl::Sync(f) => f(Caller::new(store, None), slots).map_err(refuse_park)?,
        HostImpl::Async(_) => return Err(async_in_sync_call()),
    }
    results.copy_from_slice(&slots[..results.len()]);
    Ok(())
}

/// Copies the results out of a finished execution and gives its stack back.
fn finish<T>(
    store: &mut Store<T>,
    ex: Execution,
    outcome: Result<()>,
    results: &mut [u64],
) -> Result<()> {
    match &outcome {
        Ok(()) => results.copy_from_slice(&ex.results()[..results.len()]),
        Err(Error::Trap(t)) => tracing::debug!(target: "ward", trap = %t.message(), "trap"),
        Err(_) => {}
    }
    ex.finish(&mut store.inner);
    outcome
}

/// Counts one level of wasm call nesting while it lives, and restores the count when dropped,
/// also when a host function panics through the call and the embedder catches the panic.
///
/// A wasm call made while another is running (from a host function) re-enters on the native
/// stack: the nesting is bounded so that wasm -> host -> wasm -> ... recursion ends in a trap
/// instead of a native stack overflow.
struct Nesting<'a, T> {
    store: &'a mut Store<T>,
    outer: u32,
}

impl<'a, T> Nesting<'a, T> {
    fn enter(store: &'a mut Store<T>) -> Result<Nesting<'a, T>> {
        let outer = store.wasm_nesting;
        if outer >= MAX_WASM_NESTING {
            return Err(TrapCode::StackOverflow.into());
        }
        // Entries left by calls at this level or deeper that ended by a panic are stale.
        store.inner.suspended_stacks.truncate(outer as usize);
        store.wasm_nesting = outer + 1;
        Ok(Nesting { store, outer })
    }
}

impl<T> Drop for Nesting<'_, T> {
    fn drop(&mut self) {
        self.store.wasm_nesting = self.outer;
    }
}

/// Runs `ex` until it finishes (or parks, if `mode` allows), servicing host calls and
/// deadlines synchronously.
fn drive<T>(store: &mut Store<T>, ex: &mut Execution, mode: ParkMode) -> Result<Stop> {
    loop {
        match ex.run(&mut store.inner)? {
            Outcome::Done => return Ok(Stop::Done),
            Outcome::HostCall { host } => {
                // Not an `Arc` clone: a linker's host function is shared by every store it was
                // instantiated in, and bumping its count on each call would make threads that
                // run different stores contend for one cache line.
                let f: *const SyncHostFn<T> = match &store.host_funcs[host as usize] {
                    HostImpl::Sync(f) => Arc::as_ptr(f),
                    HostImpl::Async(_) => {
                        return Err(ex.host_failed(&store.inner, async_in_sync_call()))
                    }
                };
                // SAFETY: a store never removes or replaces its host functions, so the `Arc` in
                // `host_funcs` keeps the closure alive, at this address, for the life of the
                // store — also if the vector reallocates while the closure runs. The closure is
                // only ever used through shared references.
                let f = unsafe { &*f };
                let level = suspend_stack(store, ex);
                let mut caller = Caller::new(store, ex.caller_instance());
                caller.can_park = mode == ParkMode::Allow;
                let outcome = f(caller, ex.host_slots());
                store.inner.suspended_stacks.truncate(level);
                match outcome {
                    Ok(()) => {}
                    Err(Error::Park) if mode == ParkMode::Allow => {
                        return Ok(Stop::Parked(ex.host_func()));
                    }
                    Err(e) => return Err(ex.host_failed(&store.inner, refuse_park(e))),
                }
            }
            Outcome::EpochDeadline => {
                if let Err(e) = epoch_deadline(store, false) {
                    return Err(ex.host_failed(&store.inner, e));
                }
            }
            Outcome::FuelYield => store.inner.vm.fuel_yield_level = 0,
        }
    }
}

/// Registers `ex`'s stack as a root for the exception collector while a host function runs (it
/// may call wasm again); returns the level to truncate back to.
fn suspend_stack<T>(store: &mut Store<T>, ex: &Execution) -> usize {
    let level = store.wasm_nesting.saturating_sub(1) as usize;
    store.inner.suspended_stacks.truncate(level);
    store.inner.suspended_stacks.push(ex.suspended_stack());
    level
}

/// What an epoch deadline does; `Ok(true)` asks an async driver to yield first.
fn epoch_deadline<T>(store: &mut Store<T>, can_yield: bool) -> Result<bool> {
    let behavior = std::mem::replace(&mut store.epoch_behavior, EpochBehavior::Trap);
    let (result, behavior) = match behavior {
        EpochBehavior::Trap => (Err(TrapCode::Interrupted.into()), EpochBehavior::Trap),
        EpochBehavior::YieldAndUpdate(delta) => {
            store.set_epoch_deadline(delta);
            (Ok(can_yield), EpochBehavior::YieldAndUpdate(delta))
        }
        EpochBehavior::Callback(mut f) => {
            let r = f(super::context::StoreContextMut(store));
            let r = match r {
                Ok(UpdateDeadline::Continue(delta)) => {
                    store.set_epoch_deadline(delta);
                    Ok(false)
                }
                Ok(UpdateDeadline::Yield(delta)) => {
                    store.set_epoch_deadline(delta);
                    Ok(can_yield)
                }
                Err(e) => Err(e),
            };
            (r, EpochBehavior::Callback(f))
        }
    };
    store.epoch_behavior = behavior;
    result
}

fn refuse_park(e: Error) -> Error {
    match e {
        Error::Park => Error::usage(
            "a host function asked to park the call, which is possible only for a host function \
             called directly by the wasm code of a call made with `Func::call_resumable`",
        ),
        e => e,
    }
}

fn async_in_sync_call() -> Error {
    Error::usage(
        "an async host function was called from a synchronous call; use `Func::call_async` or \
         `TypedFunc::call_async`",
    )
}

/// What the epoch-deadline callback asks for (see
/// [`Store::epoch_deadline_callback`](crate::Store::epoch_deadline_callback)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateDeadline {
    /// Keep running, with a new deadline this many ticks after the current epoch.
    Continue(u64),
    /// Yield to the async executor first (in an async call; a plain call just continues), then
    /// keep running with a new deadline this many ticks after the current epoch.
    Yield(u64),
}

// ---- resumable calls --------------------------------------------------------------------------

/// The outcome of [`Func::call_resumable`] and [`ParkedCall::resume`].
#[derive(Debug)]
#[must_use]
pub enum CallStatus {
    /// The call returned; its results are in the results buffer.
    Finished,
    /// A host function parked the call (by returning [`Error::Park`]); resume it later.
    Parked(ParkedCall),
}

/// A call parked by a host function: plain data kept in the store, holding no thread and no
/// native stack. Resume it with the host function's results, on any thread that has the store.
///
/// A `ParkedCall` that is dropped without being resumed keeps its (small) state in the store
/// until the store is dropped.
///
/// ```
/// use ward::{CallStatus, Caller, Engine, Error, Linker, Module, Store, Val};
///
/// let engine = Engine::default();
/// let module = Module::new(&engine, r#"
///     (module
///       (import "host" "receive" (func $receive (result i32)))
///       (func (export "run") (result i32)
///         (i32.add (call $receive) (i32.const 1))))
/// "#)?;
/// let mut linker = Linker::new(&engine);
/// // `receive` has nothing yet: it parks the call.
/// linker.func_wrap("host", "receive", |_: Caller<'_, ()>| -> ward::Result<i32> { Err(Error::Park) })?;
/// let mut store = Store::new(&engine, ());
/// let instance = linker.instantiate(&mut store, &module)?;
/// let run = instance.get_func(&mut store, "run").unwrap();
/// let mut out = [Val::I32(0)];
/// let CallStatus::Parked(parked) = run.call_resumable(&mut store, &[], &mut out)? else {
///     panic!("expected the call to park");
/// };
/// // Later (perhaps on another thread): the message is 41.
/// let status = parked.resume(&mut store, &[Val::I32(41)], &mut out)?;
/// assert!(matches!(status, CallStatus::Finished));
/// assert_eq!(out[0], Val::I32(42));
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug)]
pub struct ParkedCall {
    store_id: u64,
    /// Slot in the store's parked executions.
    slot: u32,
    /// The host function that parked the call.
    host: Func,
    /// The type of the function that was called.
    ty: Arc<FuncType>,
}

impl Func {
    /// Calls the function like [`Func::call`], but a host function it reaches may *park* the
    /// call by returning [`Error::Park`]: the call then returns [`CallStatus::Parked`] and can
    /// be resumed later with [`ParkedCall::resume`]. This is how an embedder waits for an event
    /// (a message, I/O) without holding a thread per guest.
    ///
    /// A resumable call may be made (and a parked call resumed) from inside a host function:
    /// it parks only its own execution, which is data; the host function it runs in goes on
    /// when it parks. Only a host function called directly by the resumable call's own wasm
    /// code can park it ([`Caller::can_park`]); one reached through a nested plain call
    /// cannot (parking would have to unwind the host function's native frames), and there
    /// [`Error::Park`] fails the call.
    ///
    /// See [`ParkedCall`] for an example.
    pub fn call_resumable<T>(
        &self,
        mut store: impl super::context::AsContextMut<Data = T>,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<CallStatus> {
        let store = store.as_context_mut().0;
        store.check(self.store_id);
        let ty = store.inner.funcs[self.index as usize].ty.clone();
        let args = self.encode_params(store, &ty, params, results)?;
        if let FuncKind::Host { .. } = store.inner.funcs[self.index as usize].kind {
            let mut out = vec![0u64; ty.result_slots() as usize];
            call_raw(store, self.index, &args, &mut out)?;
            super::func::read_vals(ty.results(), &out, &store.inner, results);
            return Ok(CallStatus::Finished);
        }
        let nesting = Nesting::enter(store)?;
        let ex = Execution::new(&mut nesting.store.inner, self.index, &args)?;
        run_resumable(nesting.store, ex, ty, results)
    }
}

impl ParkedCall {
    /// The host function that parked the call.
    pub fn host_func(&self) -> Func {
        self.host
    }

    /// The arguments the host function was called with.
    ///
    /// Panics with `object used with the wrong store` if `store` is not the call's store, and if
    /// the call was already resumed.
    pub fn host_params<T>(&self, store: impl super::context::AsContext<Data = T>) -> Vec<Val> {
        let store = store.as_context().0;
        store.check(self.store_id);
        let ex = store.parked[self.slot as usize].as_ref().expect("a parked call");
        let ty = store.inner.funcs[self.host.index as usize].ty.clone();
        let mut out = vec![Val::I32(0); ty.params().len()];
        super::func::read_vals(ty.params(), ex.host_params(), &store.inner, &mut out);
        out
    }

    /// Resumes the call: `host_results` are the parking host function's results (checked
    /// against its type); the call runs on until it finishes, traps or parks again. `results`
    /// receives the called function's results when it finishes.
    pub fn resume<T>(
        self,
        mut store: impl super::context::AsContextMut<Data = T>,
        host_results: &[Val],
        results: &mut [Val],
    ) -> Result<CallStatus> {
        let store = store.as_context_mut().0;
        store.check(self.store_id);
        check_count("result", self.ty.results().len(), results.len())?;
        let host_ty = store.inner.funcs[self.host.index as usize].ty.clone();
        check_count("host result", host_ty.results().len(), host_results.len())?;
        let slots = encode_vals(store, "host result", host_ty.results(), host_results)?;
        let mut ex = store.parked[self.slot as usize].take().expect("a parked call");
        store.inner.parked_stacks[self.slot as usize] = None;
        store.free_parked.push(self.slot);
        ex.host_slots()[..slots.len()].copy_from_slice(&slots);
        let nesting = Nesting::enter(store)?;
        run_resumable(nesting.store, ex, self.ty, results)
    }
}

/// Drives `ex` (a call of a function of type `ty`) until it finishes or parks.
fn run_resumable<T>(
    store: &mut Store<T>,
    mut ex: Execution,
    ty: Arc<FuncType>,
    results: &mut [Val],
) -> Result<CallStatus> {
    match drive(store, &mut ex, ParkMode::Allow) {
        Ok(Stop::Parked(host)) => {
            let slot = match store.free_parked.pop() {
                Some(slot) => slot,
                None => {
                    store.parked.push(None);
                    store.inner.parked_stacks.push(None);
                    (store.parked.len() - 1) as u32
                }
            };
            store.inner.parked_stacks[slot as usize] = Some(ex.suspended_stack());
            store.parked[slot as usize] = Some(ex);
            let host = Func::of(&store.inner, host);
            Ok(CallStatus::Parked(ParkedCall { store_id: store.id(), slot, host, ty }))
        }
        Ok(Stop::Done) => {
            let mut out = vec![0u64; ty.result_slots() as usize];
            finish(store, ex, Ok(()), &mut out)?;
            super::func::read_vals(ty.results(), &out, &store.inner, results);
            Ok(CallStatus::Finished)
        }
        Err(e) => {
            ex.finish(&mut store.inner);
            Err(e)
        }
    }
}

// ---- async calls ------------------------------------------------------------------------------

/// A future boxed for an async host function.
pub type HostFuture<'a, R> = Pin<Box<dyn Future<Output = Result<R>> + Send + 'a>>;

/// The closure behind an async host function (`AsyncHostFunc` without its `Arc`).
type AsyncHostFn<T> =
    dyn for<'a> Fn(Caller<'a, T>, &'a mut [u64]) -> HostFuture<'a, ()> + Send + Sync + 'static;

/// Calls store function `func` as a future: async host functions are awaited, and the call
/// yields to the executor at epoch deadlines (when the store asks for it) and fuel intervals.
pub(crate) async fn call_raw_async<T: Send>(
    store: &mut Store<T>,
    func: u32,
    args: &[u64],
    results: &mut [u64],
) -> Result<()> {
    if !store.inner.engine.config().async_support {
        return Err(Error::usage("async calls need an engine with `Config::async_support(true)`"));
    }
    if store.wasm_nesting > 0 {
        return Err(Error::usage("an async call cannot be made from inside a host function"));
    }
    let ty = store.inner.funcs[func as usize].ty.clone();
    if let FuncKind::Host { host } = store.inner.funcs[func as usize].kind {
        if let HostImpl::Async(f) = store.host_funcs[host as usize].clone() {
            let n = ty.param_slots().max(ty.result_slots()) as usize;
            let mut slots = vec![0u64; n];
            slots[..args.len()].copy_from_slice(args);
            f(Caller::new(store, None), &mut slots).await.map_err(refuse_park)?;
            results.copy_from_slice(&slots[..results.len()]);
            return Ok(());
        }
        return call_raw(store, func, args, results);
    }
    let nesting = Nesting::enter(store)?;
    let store = &mut *nesting.store;
    let mut ex = Execution::new(&mut store.inner, func, args)?;
    store.arm_fuel_yield();
    let outcome = drive_async(store, &mut ex).await;
    store.inner.vm.fuel_yield_level = 0;
    finish(store, ex, outcome, results)
}

async fn drive_async<T: Send>(store: &mut Store<T>, ex: &mut Execution) -> Result<()> {
    loop {
        match ex.run(&mut store.inner)? {
            Outcome::Done => return Ok(()),
            Outcome::HostCall { host } => {
                let level = suspend_stack(store, ex);
                let instance = ex.caller_instance();
                // Not an `Arc` clone, as in `drive`: many stores on many threads share a
                // linker's host functions, and counting each call on one cache line makes the
                // threads contend.
                let outcome = match &store.host_funcs[host as usize] {
                    HostImpl::Sync(f) => {
                        let f: *const SyncHostFn<T> = Arc::as_ptr(f);
                        // SAFETY: a store never removes or replaces its host functions, so the
                        // `Arc` in `host_funcs` keeps the closure alive, at this address, for the
                        // life of the store, also while the closure runs with the store
                        // borrowed. It is only ever used through shared references.
                        let f = unsafe { &*f };
                        f(Caller::new(store, instance), ex.host_slots())
                    }
                    HostImpl::Async(f) => {
                        let f: *const AsyncHostFn<T> = Arc::as_ptr(f);
                        // SAFETY: as above. The future `f` returns borrows only the caller and
                        // the slots (its lifetime is theirs), not the closure.
                        let f = unsafe { &*f };
                        f(Caller::new(store, instance), ex.host_slots()).await
                    }
                };
                store.inner.suspended_stacks.truncate(level);
                if let Err(e) = outcome {
                    return Err(ex.host_failed(&store.inner, refuse_park(e)));
                }
            }
            Outcome::EpochDeadline => match epoch_deadline(store, true) {
                Ok(true) => YieldNow(false).await,
                Ok(false) => {}
                Err(e) => return Err(ex.host_failed(&store.inner, e)),
            },
            Outcome::FuelYield => {
                YieldNow(false).await;
                store.arm_fuel_yield();
            }
        }
    }
}

/// A future that is pending once (waking itself), then ready: lets the executor run others.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Func {
    /// Calls the function as a future (the engine needs [`Config::async_support`]): async host
    /// functions (see [`Linker::func_wrap_async`]) are awaited, and a busy guest yields to the
    /// executor at epoch deadlines ([`Store::epoch_deadline_async_yield_and_update`]) and every
    /// [fuel interval](Store::fuel_async_yield_interval), so it never blocks the executor for
    /// long. Otherwise as [`Func::call`].
    ///
    /// [`Config::async_support`]: crate::Config::async_support
    /// [`Linker::func_wrap_async`]: crate::Linker::func_wrap_async
    /// [`Store::epoch_deadline_async_yield_and_update`]: crate::Store::epoch_deadline_async_yield_and_update
    /// [fuel interval]: crate::Store::fuel_async_yield_interval
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     use std::task::{Context, Poll, Waker};
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = Context::from_waker(Waker::noop());
    /// #     loop { if let Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// use ward::{Config, Engine, Func, Store, Val};
    /// let mut config = Config::new();
    /// config.async_support(true);
    /// let mut store = Store::new(&Engine::new(&config), ());
    /// let f = Func::wrap(&mut store, |a: i32| a * 3);
    /// let mut out = [Val::I32(0)];
    /// block_on(f.call_async(&mut store, &[Val::I32(5)], &mut out))?;
    /// assert_eq!(out[0], Val::I32(15));
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub async fn call_async<T: Send>(
        &self,
        mut store: impl super::context::AsContextMut<Data = T>,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<()> {
        let store = store.as_context_mut().0;
        store.check(self.store_id);
        let ty = store.inner.funcs[self.index as usize].ty.clone();
        let args = self.encode_params(store, &ty, params, results)?;
        let mut out = vec![0u64; ty.result_slots() as usize];
        call_raw_async(store, self.index, &args, &mut out).await?;
        super::func::read_vals(ty.results(), &out, &store.inner, results);
        Ok(())
    }
}
