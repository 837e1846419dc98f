//! [`Engine`] and [`Config`]: process-wide compilation settings and the type registry.

use crate::runtime::pool::{MemoryPool, StackPool};
use crate::types::FuncType;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use wasmparser::{Validator, WasmFeatures};

/// Settings shared by every module and store of an [`Engine`].
///
/// ```
/// let mut config = ward::Config::new();
/// config.max_wasm_stack(1 << 20).consume_fuel(true);
/// let engine = ward::Engine::new(&config);
/// # let _ = engine;
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) max_stack_slots: usize,
    pub(crate) max_call_depth: usize,
    pub(crate) consume_fuel: bool,
    pub(crate) interruptible: bool,
    pub(crate) epoch_interruption: bool,
    pub(crate) async_support: bool,
    pub(crate) eager_translation: bool,
    pub(crate) memory_strategy: MemoryStrategy,
    pub(crate) dense_slot_size: usize,
    pub(crate) features: WasmFeatures,
    pub(crate) tier: Tier,
    pub(crate) native_perf_map: bool,
}

/// Which execution tier runs a module's functions (see [`Config::tier`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Tier {
    /// The interpreter: each function is translated on its first call to a compact register
    /// code. Starts instantly, runs everything Ward supports, and a call can be parked or
    /// yield. The default.
    #[default]
    Interpreter,
    /// Native code compiled with Cranelift when the module is created. Faster for programs that
    /// run long, slower to start. Covers a subset of WebAssembly for now: a module that uses
    /// anything outside it (imported functions, SIMD, bulk memory, reference-typed operations,
    /// ...) runs in the interpreter as a whole, as it also does when the engine has epoch
    /// interruption or Ward was built without the `native` feature. Async calls
    /// ([`Func::call_async`](crate::Func::call_async)) always run in the interpreter.
    Native,
}

/// How linear memories hold their address space (see [`Config::memory_strategy`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryStrategy {
    /// Small memories share large pooled mappings, one slot each; a memory that outgrows its slot
    /// moves to a mapping of its own that grows with `mremap`. Accesses are bounds-checked
    /// explicitly. Suits many small tenants: creating a memory costs no system call and a
    /// process can hold hundreds of thousands of them. The default.
    Dense,
    /// Each memory reserves its whole index space up front (4 GiB for a 32-bit memory, plus a
    /// 32 MiB guard region) and never moves. Each costs two kernel mappings, so a process holds
    /// at most about 30,000. Under [`Tier::Native`](crate::Tier::Native), accesses to a 32-bit
    /// memory with 64 KiB pages are not bounds-checked in code: an out-of-bounds one faults, and
    /// Ward's `SIGSEGV`/`SIGBUS` handler turns the fault into the trap (faults it does not own
    /// go to the handler installed before it).
    Guarded,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_stack_slots: 1 << 20,
            max_call_depth: 20_000,
            consume_fuel: false,
            interruptible: false,
            epoch_interruption: false,
            async_support: false,
            eager_translation: false,
            memory_strategy: MemoryStrategy::Dense,
            dense_slot_size: DEFAULT_DENSE_SLOT,
            features: default_features(),
            tier: Tier::Interpreter,
            native_perf_map: false,
        }
    }
}

fn default_features() -> WasmFeatures {
    // WebAssembly 3.0 as the validator knows it; GC types validate but GC instructions are
    // rejected by the interpreter's translator until the GC issue lands.
    let mut f = WasmFeatures::WASM3;
    f.remove(WasmFeatures::SHARED_EVERYTHING_THREADS);
    f.insert(WasmFeatures::LEGACY_EXCEPTIONS);
    f.insert(WasmFeatures::WIDE_ARITHMETIC);
    f.insert(WasmFeatures::CUSTOM_PAGE_SIZES);
    f
}

impl Config {
    /// The default configuration.
    pub fn new() -> Config {
        Config::default()
    }

    /// The size of the interpreter's value stack, in bytes (rounded down to 8-byte slots).
    /// A call that needs more ends in a `call stack exhausted` trap.
    pub fn max_wasm_stack(&mut self, bytes: usize) -> &mut Config {
        self.max_stack_slots = (bytes / 8).clamp(1024, u32::MAX as usize);
        self
    }

    /// The deepest nesting of wasm calls before `call stack exhausted`.
    pub fn max_call_depth(&mut self, depth: usize) -> &mut Config {
        self.max_call_depth = depth.max(1);
        self
    }

    /// Whether stores of this engine count fuel (see [`Store::set_fuel`](crate::Store::set_fuel)).
    pub fn consume_fuel(&mut self, on: bool) -> &mut Config {
        self.consume_fuel = on;
        self
    }

    /// Whether running wasm can be interrupted from another thread (see
    /// [`Store::interrupt_handle`](crate::Store::interrupt_handle)). Costs a check per loop
    /// iteration and call.
    pub fn interruptible(&mut self, on: bool) -> &mut Config {
        self.interruptible = on;
        self
    }

    /// Whether running wasm checks the engine's epoch against its store's deadline (see
    /// [`Engine::increment_epoch`] and [`Store::set_epoch_deadline`](crate::Store::set_epoch_deadline)).
    /// Costs a check per loop iteration and call, like [`Config::interruptible`].
    ///
    /// ```
    /// let mut config = ward::Config::new();
    /// config.epoch_interruption(true);
    /// let engine = ward::Engine::new(&config);
    /// engine.increment_epoch();
    /// ```
    pub fn epoch_interruption(&mut self, on: bool) -> &mut Config {
        self.epoch_interruption = on;
        self
    }

    /// Whether calls may be made as futures ([`Func::call_async`](crate::Func::call_async)) and
    /// async host functions defined ([`Linker::func_wrap_async`](crate::Linker::func_wrap_async)).
    ///
    /// ```
    /// let mut config = ward::Config::new();
    /// config.async_support(true);
    /// ```
    pub fn async_support(&mut self, on: bool) -> &mut Config {
        self.async_support = on;
        self
    }

    /// Whether translated code needs checkpoints (fuel, interruption or epochs).
    pub(crate) fn checkpoints(&self) -> bool {
        self.consume_fuel || self.interruptible || self.epoch_interruption
    }

    /// How linear memories hold their address space: [`MemoryStrategy::Dense`] (the default) or
    /// [`MemoryStrategy::Guarded`].
    ///
    /// ```
    /// let mut config = ward::Config::new();
    /// config.memory_strategy(ward::MemoryStrategy::Guarded);
    /// ```
    pub fn memory_strategy(&mut self, strategy: MemoryStrategy) -> &mut Config {
        self.memory_strategy = strategy;
        self
    }

    /// The slot size of the dense strategy's pool, in bytes (rounded up to 64 KiB; default
    /// 1 MiB): memories up to this size live in a shared slot, larger ones in a mapping of their
    /// own.
    ///
    /// ```
    /// let mut config = ward::Config::new();
    /// config.dense_slot_size(4 << 20);
    /// ```
    pub fn dense_slot_size(&mut self, bytes: usize) -> &mut Config {
        self.dense_slot_size = bytes.div_ceil(65536).max(1) * 65536;
        self
    }

    /// Which tier runs the functions of modules compiled with this engine: [`Tier::Interpreter`]
    /// (the default) or [`Tier::Native`], which compiles each module as a whole to machine code
    /// when the [`Module`](crate::Module) is created (and falls back to the interpreter for the
    /// whole module if it uses something the native tier does not cover yet).
    ///
    /// ```
    /// let mut config = ward::Config::new();
    /// config.tier(ward::Tier::Native);
    /// let engine = ward::Engine::new(&config);
    /// let module = ward::Module::new(&engine, r#"(module
    ///     (func (export "add") (param i32 i32) (result i32)
    ///       local.get 0 local.get 1 i32.add))"#)?;
    /// let mut store = ward::Store::new(&engine, ());
    /// let instance = ward::Instance::new(&mut store, &module, &[])?;
    /// let add = instance.get_typed_func::<(i32, i32), i32>(&mut store, "add")?;
    /// assert_eq!(add.call(&mut store, (2, 3))?, 5);
    /// # Ok::<(), ward::Error>(())
    /// ```
    pub fn tier(&mut self, tier: Tier) -> &mut Config {
        self.tier = tier;
        self
    }

    /// Whether modules may have more than one memory (the multi-memory feature, part of
    /// WebAssembly 3.0; on by default). Off, a module with two memories (defined or imported)
    /// is invalid, as it was before the feature.
    ///
    /// ```
    /// let mut config = ward::Config::new();
    /// config.wasm_multi_memory(false);
    /// let engine = ward::Engine::new(&config);
    /// assert!(ward::Module::new(&engine, "(module (memory 1) (memory 1))").is_err());
    /// assert!(ward::Module::new(&engine, "(module (memory 1))").is_ok());
    /// ```
    pub fn wasm_multi_memory(&mut self, on: bool) -> &mut Config {
        self.features.set(WasmFeatures::MULTI_MEMORY, on);
        self
    }

    /// Whether the reference types feature is on (part of WebAssembly 2.0; on by default).
    /// Off, a module may have at most one table, and `funcref` tables are its only reference
    /// types: value types `funcref` and `externref`, `ref.*` and `table.*` instructions other
    /// than `call_indirect`, and typed `select` are invalid. The features built on it (typed
    /// function references, garbage collection, exception handling's `exnref`) then have no
    /// reference types to use either.
    ///
    /// ```
    /// let mut config = ward::Config::new();
    /// config.wasm_reference_types(false);
    /// let engine = ward::Engine::new(&config);
    /// assert!(ward::Module::new(&engine, "(module (table 1 funcref) (table 1 funcref))").is_err());
    /// assert!(ward::Module::new(&engine, "(module (global externref (ref.null extern)))").is_err());
    /// assert!(ward::Module::new(&engine, "(module (table 1 funcref))").is_ok());
    /// ```
    pub fn wasm_reference_types(&mut self, on: bool) -> &mut Config {
        self.features.set(WasmFeatures::REFERENCE_TYPES, on);
        self
    }

    /// Whether the native tier writes a perf map (`/tmp/perf-<pid>.map`, one line per compiled
    /// or loaded function: address, size, `module!name`) so that `perf report` names the
    /// functions of native code. Off by default; it changes nothing that runs.
    pub fn native_perf_map(&mut self, on: bool) -> &mut Config {
        self.native_perf_map = on;
        self
    }

    /// Translate every function when the module is compiled instead of on its first call.
    pub fn eager_translation(&mut self, on: bool) -> &mut Config {
        self.eager_translation = on;
        self
    }
}

/// The shared context for modules and stores: configuration and the type registry.
///
/// Cheap to clone (an `Arc`); `Send + Sync`.
///
/// ```
/// let engine = ward::Engine::default();
/// let clone = engine.clone();
/// # let _ = clone;
/// ```
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<EngineInner>,
}

pub(crate) struct EngineInner {
    pub(crate) config: Config,
    /// One validator for the whole engine: wasmparser keeps its type arena across `reset`, so
    /// structurally equal (iso-recursive) types of different modules get the same `CoreTypeId`.
    /// That id is Ward's canonical type id for signature checks at link and call time.
    pub(crate) validator: Mutex<Validator>,
    /// The canonical ids of host signatures already asked for (`api/canonical.rs`): finding
    /// one validates a module, and every validation grows the validator's type arena, so a
    /// host that makes functions again and again (a component instantiated per request) asks
    /// once per signature.
    pub(crate) func_type_ids: Mutex<HashMap<FuncType, u32>>,
    /// The epoch: a counter that only [`Engine::increment_epoch`] changes. Stores compare it
    /// with their deadline at checkpoints.
    pub(crate) epoch: Arc<AtomicU64>,
    /// The slots of dense memories (`None` under the guarded strategy).
    pub(crate) memory_pool: Option<Arc<MemoryPool>>,
    /// Interpreter value stacks between calls.
    pub(crate) stack_pool: StackPool,
    /// The (empty) supertype list of every host function, shared so that making a host
    /// function in a store allocates nothing for it.
    pub(crate) no_supers: Arc<[u32]>,
}

/// Default slot size of the dense pool (1 MiB), and slots per slab (256 MiB of address space).
const DEFAULT_DENSE_SLOT: usize = 1 << 20;
const SLOTS_PER_SLAB: usize = 256;

impl Default for Engine {
    fn default() -> Engine {
        Engine::new(&Config::default())
    }
}

impl Engine {
    /// An engine with the given configuration.
    pub fn new(config: &Config) -> Engine {
        Engine {
            inner: Arc::new(EngineInner {
                config: config.clone(),
                validator: Mutex::new(Validator::new_with_features(config.features)),
                func_type_ids: Mutex::new(HashMap::new()),
                epoch: Arc::new(AtomicU64::new(0)),
                stack_pool: StackPool::default(),
                no_supers: Arc::from([]),
                memory_pool: (config.memory_strategy == MemoryStrategy::Dense)
                    .then(|| Arc::new(MemoryPool::new(config.dense_slot_size, SLOTS_PER_SLAB))),
            }),
        }
    }

    /// Whether two engine handles are the same engine.
    pub fn same(a: &Engine, b: &Engine) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
    }

    /// Advances the epoch by one. Wasm running in a store of this engine (with
    /// [`Config::epoch_interruption`]) reaches its deadline when the epoch passes it; a timer
    /// thread calling this every few milliseconds gives every store a time slice. Cheap and safe
    /// to call from any thread, also from a signal handler.
    ///
    /// ```
    /// let engine = ward::Engine::default();
    /// let timer = engine.clone();
    /// std::thread::spawn(move || timer.increment_epoch()).join().unwrap();
    /// ```
    pub fn increment_epoch(&self) {
        self.inner.epoch.fetch_add(1, Ordering::Relaxed);
    }

    /// The pool of dense memories, under the dense strategy.
    pub(crate) fn memory_pool(&self) -> Option<&Arc<MemoryPool>> {
        self.inner.memory_pool.as_ref()
    }

    pub(crate) fn config(&self) -> &Config {
        &self.inner.config
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}
