//! [`Engine`] and [`Config`]: process-wide compilation settings and the type registry.

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
    pub(crate) eager_translation: bool,
    pub(crate) features: WasmFeatures,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_stack_slots: 1 << 20,
            max_call_depth: 20_000,
            consume_fuel: false,
            interruptible: false,
            eager_translation: false,
            features: default_features(),
        }
    }
}

fn default_features() -> WasmFeatures {
    // WebAssembly 3.0 as the validator knows it; GC types validate but GC instructions are
    // rejected by the interpreter's translator until the GC issue lands.
    let mut f = WasmFeatures::WASM3;
    f.remove(WasmFeatures::THREADS);
    f.remove(WasmFeatures::SHARED_EVERYTHING_THREADS);
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
}

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
            }),
        }
    }

    /// Whether two engine handles are the same engine.
    pub fn same(a: &Engine, b: &Engine) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
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
