//! [`Store`]: the owner of every runtime object and of the embedder's data, plus its limits.

use super::call::{HostFuture, UpdateDeadline};
use super::caller::Caller;
use super::canonical::canonical_func_type_id;
use super::context::StoreContextMut;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::interp::Execution;
use crate::runtime::{self, StoreInner};
use crate::types::FuncType;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A host function as the store keeps it: it reads its parameters from `slots` (from index 0)
/// and writes its results there (from index 0). `slots` is at least as long as the larger of the
/// parameter and result slot counts.
pub(crate) type HostFunc<T> = Arc<SyncHostFn<T>>;

/// The closure behind a [`HostFunc`].
pub(crate) type SyncHostFn<T> =
    dyn Fn(Caller<'_, T>, &mut [u64]) -> Result<()> + Send + Sync + 'static;

/// An async host function: as [`HostFunc`], but its work is a future the async driver awaits.
pub(crate) type AsyncHostFunc<T> =
    Arc<dyn for<'a> Fn(Caller<'a, T>, &'a mut [u64]) -> HostFuture<'a, ()> + Send + Sync + 'static>;

/// A host function of either kind.
pub(crate) enum HostImpl<T> {
    Sync(HostFunc<T>),
    Async(AsyncHostFunc<T>),
}

impl<T> Clone for HostImpl<T> {
    fn clone(&self) -> Self {
        match self {
            HostImpl::Sync(f) => HostImpl::Sync(f.clone()),
            HostImpl::Async(f) => HostImpl::Async(f.clone()),
        }
    }
}

/// The epoch-deadline callback (see [`Store::epoch_deadline_callback`]).
type EpochCallback<T> =
    Box<dyn FnMut(StoreContextMut<'_, T>) -> Result<UpdateDeadline> + Send + 'static>;

/// What reaching the epoch deadline does.
pub(crate) enum EpochBehavior<T> {
    Trap,
    YieldAndUpdate(u64),
    Callback(EpochCallback<T>),
}

/// The owner of all WebAssembly objects (instances, functions, memories, tables, globals, tags,
/// host references) and of the embedder's data `T`.
///
/// Handles such as [`Func`](crate::Func) or [`Memory`](crate::Memory) are indices into a store.
/// Using a handle with a store other than the one that created it panics with
/// `object used with the wrong store`. Objects live as long as their store.
///
/// A `Store<T>` is `Send` when `T` is `Send`.
///
/// ```
/// use ward::{Engine, Store};
/// let engine = Engine::default();
/// let mut store = Store::new(&engine, 41);
/// *store.data_mut() += 1;
/// assert_eq!(*store.data(), 42);
/// assert_eq!(store.into_data(), 42);
/// ```
pub struct Store<T> {
    pub(crate) inner: StoreInner,
    pub(crate) host_funcs: Vec<HostImpl<T>>,
    /// Calls parked by a host function (see [`ParkedCall`](crate::ParkedCall)), by slot.
    pub(crate) parked: Vec<Option<Execution>>,
    pub(crate) free_parked: Vec<u32>,
    pub(crate) epoch_behavior: EpochBehavior<T>,
    /// Fuel units between two yields of an async call (0: never).
    fuel_yield_interval: u64,
    /// Store function index of each linker-defined host function already materialised in this
    /// store, keyed by the definition's unique id. A list: a store holds a few of them, and a
    /// map's table would be one more allocation for every store (every nanoprocess).
    pub(crate) linker_funcs: Vec<(u64, u32)>,
    /// Canonical type ids of host function signatures seen by this store.
    type_ids: HashMap<FuncType, (u32, Arc<FuncType>)>,
    /// Wasm calls currently active in this store, each entered from a host function called by
    /// the previous one (see `func::call_raw`).
    pub(crate) wasm_nesting: u32,
    data: T,
}

impl<T> Store<T> {
    /// A new, empty store for `engine`, holding `data`.
    ///
    /// ```
    /// let store = ward::Store::new(&ward::Engine::default(), "host state");
    /// assert_eq!(*store.data(), "host state");
    /// ```
    pub fn new(engine: &Engine, data: T) -> Store<T> {
        Store {
            inner: StoreInner::new(engine),
            host_funcs: Vec::new(),
            parked: Vec::new(),
            free_parked: Vec::new(),
            epoch_behavior: EpochBehavior::Trap,
            fuel_yield_interval: 0,
            linker_funcs: Vec::new(),
            type_ids: HashMap::new(),
            wasm_nesting: 0,
            data,
        }
    }

    /// The engine this store belongs to.
    ///
    /// ```
    /// let engine = ward::Engine::default();
    /// let store = ward::Store::new(&engine, ());
    /// assert!(ward::Engine::same(store.engine(), &engine));
    /// ```
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The embedder's data.
    ///
    /// ```
    /// let store = ward::Store::new(&ward::Engine::default(), vec![1, 2]);
    /// assert_eq!(store.data().len(), 2);
    /// ```
    pub fn data(&self) -> &T {
        &self.data
    }

    /// The embedder's data, mutably.
    ///
    /// ```
    /// let mut store = ward::Store::new(&ward::Engine::default(), Vec::new());
    /// store.data_mut().push(3);
    /// assert_eq!(store.data(), &[3]);
    /// ```
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.data
    }

    /// Consumes the store, returning the embedder's data.
    ///
    /// ```
    /// let store = ward::Store::new(&ward::Engine::default(), String::from("x"));
    /// assert_eq!(store.into_data(), "x");
    /// ```
    pub fn into_data(self) -> T {
        self.data
    }

    /// Sets the fuel available to wasm code run in this store: roughly one unit per instruction.
    /// When it runs out, execution traps with `all fuel consumed`.
    ///
    /// Fails with [`Error::Usage`] unless the engine was configured with
    /// [`Config::consume_fuel(true)`](crate::Config::consume_fuel).
    ///
    /// ```
    /// let mut config = ward::Config::new();
    /// config.consume_fuel(true);
    /// let mut store = ward::Store::new(&ward::Engine::new(&config), ());
    /// store.set_fuel(1_000)?;
    /// assert_eq!(store.get_fuel()?, 1_000);
    ///
    /// let mut plain = ward::Store::new(&ward::Engine::default(), ());
    /// assert!(plain.set_fuel(10).is_err());
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn set_fuel(&mut self, fuel: u64) -> Result<()> {
        self.check_fuel_enabled()?;
        self.inner.vm.fuel = fuel;
        Ok(())
    }

    /// How many calls from the host (or from layers built on the public API, such as
    /// components) ran native code rather than the interpreter. Meant for tests and
    /// diagnostics.
    #[doc(hidden)]
    pub fn native_entries(&self) -> u64 {
        self.inner.native_entries
    }

    /// The fuel left. Fails with [`Error::Usage`] unless the engine consumes fuel.
    ///
    /// ```
    /// let store = ward::Store::new(&ward::Engine::default(), ());
    /// let err = store.get_fuel().unwrap_err();
    /// assert!(err.to_string().contains("consume_fuel"));
    /// ```
    pub fn get_fuel(&self) -> Result<u64> {
        self.check_fuel_enabled()?;
        Ok(self.inner.vm.fuel)
    }

    fn check_fuel_enabled(&self) -> Result<()> {
        if self.inner.engine.config().consume_fuel {
            Ok(())
        } else {
            Err(Error::usage(
                "fuel is not enabled: configure the engine with `Config::consume_fuel(true)`",
            ))
        }
    }

    /// Sets the store's resource limits. They apply to memories, tables and instances created
    /// afterwards (a memory's or table's limit is fixed when it is created).
    ///
    /// ```
    /// use ward::{Engine, Memory, MemoryType, Store, StoreLimitsBuilder};
    /// let mut store = Store::new(&Engine::default(), ());
    /// store.limiter(StoreLimitsBuilder::new().memory_size(2 * 65536).build());
    /// assert!(Memory::new(&mut store, MemoryType::new(3, None)).is_err());
    /// let mem = Memory::new(&mut store, MemoryType::new(1, None))?;
    /// assert!(mem.grow(&mut store, 2).is_err());
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn limiter(&mut self, limits: StoreLimits) {
        self.inner.limits = limits.inner;
    }

    /// Sets the epoch deadline `ticks` after the engine's current epoch: wasm running in this
    /// store stops at its next checkpoint once [`Engine::increment_epoch`] has been called that
    /// many times (with [`Config::epoch_interruption`](crate::Config::epoch_interruption)). What
    /// happens then is set by [`Store::epoch_deadline_trap`] (the default),
    /// [`Store::epoch_deadline_callback`] or [`Store::epoch_deadline_async_yield_and_update`].
    /// A new store's deadline is the epoch 0, so set one before running wasm.
    ///
    /// ```
    /// use ward::{Config, Engine, Instance, Module, Store, TrapCode};
    /// let mut config = Config::new();
    /// config.epoch_interruption(true);
    /// let engine = Engine::new(&config);
    /// let module = Module::new(&engine, r#"(module (func (export "spin") (loop (br 0))))"#)?;
    /// let mut store = Store::new(&engine, ());
    /// store.set_epoch_deadline(1);
    /// let spin = Instance::new(&mut store, &module, &[])?.get_typed_func::<(), ()>(&mut store, "spin")?;
    /// let timer = engine.clone();
    /// std::thread::spawn(move || {
    ///     std::thread::sleep(std::time::Duration::from_millis(10));
    ///     timer.increment_epoch();
    /// });
    /// let err = spin.call(&mut store, ()).unwrap_err();
    /// assert_eq!(err.as_trap().unwrap().code(), TrapCode::Interrupted);
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn set_epoch_deadline(&mut self, ticks: u64) {
        let now = self.inner.epoch.load(Ordering::Relaxed);
        self.inner.vm.epoch_deadline = now.saturating_add(ticks);
    }

    /// Reaching the epoch deadline traps with [`TrapCode::Interrupted`](crate::TrapCode) (the
    /// default).
    pub fn epoch_deadline_trap(&mut self) {
        self.epoch_behavior = EpochBehavior::Trap;
    }

    /// Reaching the epoch deadline calls `f`, which returns an error (ending the call with it)
    /// or an [`UpdateDeadline`] (a new deadline, optionally yielding first in an async call).
    ///
    /// ```
    /// use ward::{Config, Engine, Store, UpdateDeadline};
    /// let mut config = Config::new();
    /// config.epoch_interruption(true);
    /// let mut store = Store::new(&Engine::new(&config), 0u32);
    /// store.epoch_deadline_callback(|mut cx| {
    ///     *cx.data_mut() += 1; // count the slices
    ///     Ok(UpdateDeadline::Continue(1))
    /// });
    /// ```
    pub fn epoch_deadline_callback(
        &mut self,
        f: impl FnMut(StoreContextMut<'_, T>) -> Result<UpdateDeadline> + Send + 'static,
    ) {
        self.epoch_behavior = EpochBehavior::Callback(Box::new(f));
    }

    /// Reaching the epoch deadline makes an async call yield to its executor, then run on with
    /// a deadline `delta` ticks later (a plain call just runs on). This is how many guests share
    /// an executor's threads fairly.
    pub fn epoch_deadline_async_yield_and_update(&mut self, delta: u64) {
        self.epoch_behavior = EpochBehavior::YieldAndUpdate(delta);
    }

    /// An async call yields to its executor each time it has consumed `interval` units of fuel
    /// (0: never, the default). Needs [`Config::consume_fuel`](crate::Config::consume_fuel) and
    /// fuel in the store.
    pub fn fuel_async_yield_interval(&mut self, interval: u64) {
        self.fuel_yield_interval = interval;
    }

    /// Sets the fuel level at which a running async call yields next.
    pub(crate) fn arm_fuel_yield(&mut self) {
        self.inner.vm.fuel_yield_level = if self.fuel_yield_interval == 0 {
            0
        } else {
            self.inner.vm.fuel.saturating_sub(self.fuel_yield_interval).max(1)
        };
    }

    /// Installs a [`ResourceLimiter`](crate::ResourceLimiter) that decides each growth of this
    /// store's memories and tables (see its documentation for an example).
    pub fn resource_limiter(&mut self, limiter: impl crate::ResourceLimiter + 'static) {
        self.inner.limiter = Some(Box::new(limiter));
    }

    /// A handle that interrupts wasm running in this store, from any thread.
    ///
    /// Interruption needs an engine configured with
    /// [`Config::interruptible(true)`](crate::Config::interruptible) (or consuming fuel): running
    /// wasm then traps with [`TrapCode::Interrupted`](crate::TrapCode::Interrupted) at its next
    /// checkpoint (function entry or loop back-edge).
    ///
    /// ```
    /// use ward::{Config, Engine, Instance, Module, Store, TrapCode};
    /// let mut config = Config::new();
    /// config.interruptible(true);
    /// let engine = Engine::new(&config);
    /// let module = Module::new(&engine, r#"(module (func (export "spin") (loop (br 0))))"#)?;
    /// let mut store = Store::new(&engine, ());
    /// let spin = Instance::new(&mut store, &module, &[])?.get_typed_func::<(), ()>(&store, "spin")?;
    /// let handle = store.interrupt_handle();
    /// let killer = std::thread::spawn(move || {
    ///     std::thread::sleep(std::time::Duration::from_millis(20));
    ///     handle.interrupt();
    /// });
    /// let err = spin.call(&mut store, ()).unwrap_err();
    /// assert_eq!(err.as_trap().unwrap().code(), TrapCode::Interrupted);
    /// killer.join().unwrap();
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn interrupt_handle(&self) -> InterruptHandle {
        InterruptHandle { flag: self.inner.interrupt.clone() }
    }

    /// Panics unless `store_id` names this store.
    #[track_caller]
    #[inline]
    pub(crate) fn check(&self, store_id: u64) {
        if store_id != self.inner.id {
            wrong_store()
        }
    }

    /// The runtime objects and the embedder's data, borrowed separately.
    pub(crate) fn inner_and_data_mut(&mut self) -> (&mut StoreInner, &mut T) {
        (&mut self.inner, &mut self.data)
    }

    /// The store's unique id.
    #[inline]
    pub(crate) fn id(&self) -> u64 {
        self.inner.id
    }

    /// The canonical type id of a host function signature (cached per store).
    pub(crate) fn func_type_id(&mut self, ty: FuncType) -> (u32, Arc<FuncType>) {
        if let Some(found) = self.type_ids.get(&ty) {
            return found.clone();
        }
        let id = canonical_func_type_id(&self.inner.engine, &ty);
        let entry = (id, Arc::new(ty.clone()));
        self.type_ids.insert(ty, entry.clone());
        entry
    }

    /// Makes room for `n` more host functions (see `push_host_func`) in one allocation each.
    pub(crate) fn reserve_host_funcs(&mut self, n: usize) {
        self.host_funcs.reserve_exact(n);
        self.linker_funcs.reserve_exact(n);
        self.inner.funcref_arena.reserve(n);
    }

    /// Adds a host function to the store, returning its store function index.
    pub(crate) fn push_host_func(
        &mut self,
        type_id: u32,
        ty: Arc<FuncType>,
        f: HostImpl<T>,
    ) -> u32 {
        let host = u32::try_from(self.host_funcs.len()).expect("too many host functions");
        self.host_funcs.push(f);
        u32::try_from(self.inner.funcs.len()).expect("too many functions");
        let supers = self.inner.engine.inner.no_supers.clone();
        self.inner.push_host_func(type_id, supers, ty, host)
    }
}

/// The panic for a handle used with a store that did not create it.
#[cold]
#[track_caller]
pub(crate) fn wrong_store() -> ! {
    panic!("object used with the wrong store")
}

impl<T> fmt::Debug for Store<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("id", &self.inner.id)
            .field("instances", &self.inner.instances.len())
            .field("funcs", &self.inner.funcs.len())
            .finish_non_exhaustive()
    }
}

/// Interrupts wasm running in a [`Store`] from any thread; see [`Store::interrupt_handle`].
///
/// The request is sticky: once interrupted, every later wasm call in the store traps at its
/// first checkpoint until [`reset`](InterruptHandle::reset) is called.
///
/// ```
/// let store = ward::Store::new(&ward::Engine::default(), ());
/// let handle = store.interrupt_handle();
/// handle.interrupt();
/// assert!(handle.is_interrupted());
/// handle.reset();
/// assert!(!handle.is_interrupted());
/// ```
#[derive(Clone, Debug)]
pub struct InterruptHandle {
    flag: Arc<AtomicBool>,
}

impl InterruptHandle {
    /// Asks running (and later) wasm in the store to stop with an `Interrupted` trap.
    ///
    /// ```
    /// let store = ward::Store::new(&ward::Engine::default(), ());
    /// store.interrupt_handle().interrupt();
    /// assert!(store.interrupt_handle().is_interrupted());
    /// ```
    pub fn interrupt(&self) {
        self.flag.store(true, Ordering::Relaxed);
    }

    /// Withdraws the request, so that wasm can run in the store again.
    ///
    /// ```
    /// let store = ward::Store::new(&ward::Engine::default(), ());
    /// let handle = store.interrupt_handle();
    /// handle.interrupt();
    /// handle.reset();
    /// assert!(!handle.is_interrupted());
    /// ```
    pub fn reset(&self) {
        self.flag.store(false, Ordering::Relaxed);
    }

    /// Whether an interruption is pending.
    ///
    /// ```
    /// let store = ward::Store::new(&ward::Engine::default(), ());
    /// assert!(!store.interrupt_handle().is_interrupted());
    /// ```
    pub fn is_interrupted(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }
}

/// Resource limits of a [`Store`], built with [`StoreLimitsBuilder`] and installed with
/// [`Store::limiter`].
///
/// ```
/// let limits = ward::StoreLimitsBuilder::new().instances(1).build();
/// let mut store = ward::Store::new(&ward::Engine::default(), ());
/// store.limiter(limits);
/// ```
#[derive(Clone, Debug, Default)]
pub struct StoreLimits {
    inner: runtime::StoreLimits,
}

/// Builds [`StoreLimits`]. A store may hold at most 10,000 instances, 10,000 memories and 10,000
/// tables unless told otherwise; the other limits are unset (unlimited) until given.
///
/// ```
/// use ward::{Engine, Module, Instance, Store, StoreLimitsBuilder};
/// let engine = Engine::default();
/// let module = Module::new(&engine, "(module)")?;
/// let mut store = Store::new(&engine, ());
/// store.limiter(StoreLimitsBuilder::new().instances(1).build());
/// Instance::new(&mut store, &module, &[])?;
/// let err = Instance::new(&mut store, &module, &[]).unwrap_err();
/// assert!(matches!(err, ward::Error::Limit(_)));
/// # Ok::<(), ward::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct StoreLimitsBuilder {
    limits: StoreLimits,
}

impl StoreLimitsBuilder {
    /// No limits.
    ///
    /// ```
    /// let limits = ward::StoreLimitsBuilder::new().build();
    /// # let _ = limits;
    /// ```
    pub fn new() -> StoreLimitsBuilder {
        StoreLimitsBuilder::default()
    }

    /// The largest size, in bytes, of any one linear memory (at creation and when growing).
    ///
    /// ```
    /// let limits = ward::StoreLimitsBuilder::new().memory_size(1 << 20).build();
    /// # let _ = limits;
    /// ```
    pub fn memory_size(mut self, bytes: usize) -> StoreLimitsBuilder {
        self.limits.inner.memory_bytes = Some(bytes as u64);
        self
    }

    /// The largest number of elements of any one table (at creation and when growing).
    ///
    /// ```
    /// let limits = ward::StoreLimitsBuilder::new().table_elements(1000).build();
    /// # let _ = limits;
    /// ```
    pub fn table_elements(mut self, elements: usize) -> StoreLimitsBuilder {
        self.limits.inner.table_elements = Some(elements as u64);
        self
    }

    /// The largest number of instances the store may hold. Instantiating past it fails with
    /// [`Error::Limit`].
    ///
    /// ```
    /// let limits = ward::StoreLimitsBuilder::new().instances(10).build();
    /// # let _ = limits;
    /// ```
    pub fn instances(mut self, instances: usize) -> StoreLimitsBuilder {
        self.limits.inner.instances = Some(instances);
        self
    }

    /// The largest number of memories the store may create (instantiation or
    /// [`Memory::new`](crate::Memory::new)); default 10,000. Past it, creation fails with
    /// [`Error::Limit`].
    ///
    /// ```
    /// use ward::{Engine, Memory, MemoryType, Store, StoreLimitsBuilder};
    /// let mut store = Store::new(&Engine::default(), ());
    /// store.limiter(StoreLimitsBuilder::new().memories(1).build());
    /// Memory::new(&mut store, MemoryType::new(0, None))?;
    /// assert!(Memory::new(&mut store, MemoryType::new(0, None)).is_err());
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn memories(mut self, memories: usize) -> StoreLimitsBuilder {
        self.limits.inner.memories = Some(memories);
        self
    }

    /// The largest number of tables the store may create; default 10,000.
    ///
    /// ```
    /// use ward::{Engine, Module, Instance, Store, StoreLimitsBuilder};
    /// let engine = Engine::default();
    /// let module = Module::new(&engine, "(module (table 0 funcref) (table 0 funcref))")?;
    /// let mut store = Store::new(&engine, ());
    /// store.limiter(StoreLimitsBuilder::new().tables(1).build());
    /// assert!(Instance::new(&mut store, &module, &[]).is_err());
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn tables(mut self, tables: usize) -> StoreLimitsBuilder {
        self.limits.inner.tables = Some(tables);
        self
    }

    /// The largest amount of host memory, in bytes, that the store's guests may hold together:
    /// the sizes of all its linear memories, plus 8 bytes per table element and per evaluated
    /// element-segment item. Creation or growth past it fails (`memory.grow` and `table.grow`
    /// return -1).
    ///
    /// ```
    /// use ward::{Engine, Memory, MemoryType, Store, StoreLimitsBuilder};
    /// let mut store = Store::new(&Engine::default(), ());
    /// store.limiter(StoreLimitsBuilder::new().total_size(3 * 65536).build());
    /// let a = Memory::new(&mut store, MemoryType::new(2, None))?;
    /// let b = Memory::new(&mut store, MemoryType::new(1, None))?;
    /// assert!(a.grow(&mut store, 1).is_err(), "the store's three pages are all in use");
    /// # let _ = b;
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn total_size(mut self, bytes: u64) -> StoreLimitsBuilder {
        self.limits.inner.total_bytes = Some(bytes);
        self
    }

    /// Caps the bytes of live GC objects (structs and arrays, 48 bytes each plus their
    /// contents) the store may hold; an allocation past it traps with
    /// [`TrapCode::GcHeapExhausted`](crate::TrapCode::GcHeapExhausted) after a collection.
    /// The default is 1 GiB. GC objects also count toward
    /// [`total_size`](StoreLimitsBuilder::total_size).
    ///
    /// ```
    /// let limits = ward::StoreLimitsBuilder::new().gc_heap_size(16 << 20).build();
    /// ```
    pub fn gc_heap_size(mut self, bytes: u64) -> StoreLimitsBuilder {
        self.limits.inner.gc_heap_bytes = Some(bytes);
        self
    }

    /// The limits.
    ///
    /// ```
    /// let limits: ward::StoreLimits = ward::StoreLimitsBuilder::new().build();
    /// # let _ = limits;
    /// ```
    pub fn build(self) -> StoreLimits {
        self.limits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    #[test]
    fn store_is_send_when_data_is() {
        fn assert_send<S: Send>() {}
        assert_send::<Store<()>>();
        assert_send::<Store<Vec<u8>>>();
    }

    #[test]
    fn fuel_needs_config() {
        let mut store = Store::new(&Engine::default(), ());
        let e = store.set_fuel(5).unwrap_err();
        assert!(matches!(e, Error::Usage(_)), "{e}");
        assert!(store.get_fuel().is_err());
        let mut config = Config::new();
        config.consume_fuel(true);
        let mut store = Store::new(&Engine::new(&config), ());
        assert_eq!(store.get_fuel().unwrap(), 0);
        store.set_fuel(77).unwrap();
        assert_eq!(store.get_fuel().unwrap(), 77);
    }

    #[test]
    fn host_type_ids_are_cached_and_canonical() {
        let mut store = Store::new(&Engine::default(), ());
        let ty = FuncType::new([crate::ValType::I32], []);
        let (a, _) = store.func_type_id(ty.clone());
        let (b, _) = store.func_type_id(ty);
        assert_eq!(a, b);
        let (c, _) = store.func_type_id(FuncType::new([crate::ValType::I64], []));
        assert_ne!(a, c);
    }
}
