//! Shared pieces of Ward's fuzz targets.
//!
//! - [`ward_smith_config`], [`differential_smith_config`] and [`tiers_smith_config`]:
//!   `wasm-smith` configurations within Ward's feature set (for the differential target, within
//!   what Ward and wasmi both run deterministically; for the tiers target, within what Ward's
//!   native tier compiles).
//! - [`ward_dummy_imports`]: an import for every import of a module, made from its type.
//! - [`Value`], [`TrapKind`] and [`CallOutcome`]: the engine-neutral model the differential
//!   target compares.
//! - [`Stats`]: optional counters (`WARD_FUZZ_STATS=1`) reporting how much of the generated input
//!   was actually exercised.
//! - [`legacy::to_legacy`]: a module's `try_table`s rewritten as legacy `try`s.

pub mod legacy;
pub mod oracle;
pub mod ward_side;

use arbitrary::{Result, Unstructured};
use std::sync::atomic::{AtomicU64, Ordering};
use wasm_smith::Config;

/// The store limit on any one linear memory, in bytes, for generated modules.
pub const MEMORY_LIMIT: usize = 16 << 20;
/// The store limit on any one table, in elements.
pub const TABLE_LIMIT: usize = 10_000;
/// The store limit on instances.
pub const INSTANCE_LIMIT: usize = 4;
/// Ward fuel for each call (and for instantiation, which may run a start function).
pub const FUEL_PER_CALL: u64 = 200_000;

/// Turns off what Ward does not implement (shared-everything threads and the other proposals it
/// lacks) and keeps sizes within the store limits most of the time, so that most generated
/// modules instantiate and run.
fn restrict_to_ward(c: &mut Config) {
    c.shared_everything_threads_enabled = false;
    c.custom_descriptors_enabled = false;
    c.compact_imports_enabled = false;
    c.acquire_release_atomics_enabled = false;
    c.multibyte_array_access_enabled = false;
    // Memories up to twice the limit: some instantiations fail with `Error::Limit`, on purpose.
    c.max_memory32_bytes = c.max_memory32_bytes.min(2 * MEMORY_LIMIT as u64);
    c.max_memory64_bytes = c.max_memory64_bytes.min(2 * MEMORY_LIMIT as u128);
    c.max_memories = c.max_memories.min(4);
    c.max_tables = c.max_tables.min(8);
    c.max_table_elements = c.max_table_elements.min(2 * TABLE_LIMIT as u64);
    if !c.simd_enabled {
        c.relaxed_simd_enabled = false;
    }
}

/// A swarm-testing configuration (the input picks which features and sizes are on) within
/// Ward's features: SIMD, relaxed SIMD, bulk memory, reference types, multi-value, tail calls,
/// exceptions, memory64, multi-memory, extended constants, garbage collection (structs, arrays,
/// i31, casts, typed function references), threads (shared memories and atomics, run on one
/// thread), wide arithmetic and custom page sizes may each be on or off. (wasm-smith 0.263
/// generates no legacy exception handling: `try`/`delegate`/`rethrow` are left to the spec suite
/// and the `compile` target.)
pub fn ward_smith_config(u: &mut Unstructured<'_>) -> Result<Config> {
    let mut c: Config = u.arbitrary()?;
    // wasm-smith's `Arbitrary` leaves proposals below phase 4 off; Ward implements these two.
    c.wide_arithmetic_enabled = u.arbitrary()?;
    c.custom_page_sizes_enabled = u.arbitrary()?;
    restrict_to_ward(&mut c);
    // Mostly export everything, so that every function gets called.
    c.export_everything = u.ratio(3, 4)?;
    // wasm-smith's item counts are geometric in the input; half the time ask for a few
    // functions, so that most modules have code to run.
    if u.ratio(1, 2)? {
        c.max_types = c.max_types.max(1);
        c.min_types = 1;
        c.max_funcs = c.max_funcs.max(4);
        c.min_funcs = 4;
    }
    Ok(c)
}

/// The configuration for the differential target: [`ward_smith_config`] restricted to what wasmi
/// 2.0 also implements (no exceptions, no threads, no GC; wide arithmetic and custom page sizes
/// stay), without relaxed SIMD (its results are
/// implementation-defined, so the two engines may legitimately differ), with NaNs canonicalised
/// by the module itself after every float operation (NaN payloads are nondeterministic too), and
/// with every item exported so that the final state can be compared.
pub fn differential_smith_config(u: &mut Unstructured<'_>) -> Result<Config> {
    let mut c = ward_smith_config(u)?;
    c.exceptions_enabled = false;
    // wasmi 2.0 has neither the threads proposal nor garbage collection.
    c.threads_enabled = false;
    c.gc_enabled = false;
    c.relaxed_simd_enabled = false;
    c.canonicalize_nans = true;
    c.export_everything = true;
    // Imported tags only exist with exceptions.
    c.max_tags = 0;
    // wasm-smith's non-trapping guards (`select(1, x, i32.eqz x)` in front of a division, ...)
    // trigger a miscompilation in wasmi 2.0 that makes it trap with "integer divide by zero"
    // where Ward and Wasmtime agree there is no trap (see the `differential-*` files in
    // crates/ward/tests/fuzz_regressions/). Without guards, traps are simply compared.
    c.disallow_traps = false;
    Ok(c)
}

/// The configuration for the tiers target: [`ward_smith_config`] restricted to what the native
/// tier compiles, so that most modules do compile natively: tags in most modules with
/// exceptions, and GC only a quarter of the times it is drawn (threads, shared memories and
/// atomics run on one thread, and wide arithmetic, as the input draws them: the native tier
/// compiles both since 2026-12-03)
/// (wasm-smith's GC switch also brings the typed function references, which the native tier
/// compiles, but struct and array types make a module fall back). NaN canonicalisation is the
/// input's choice (see the target), and every item is exported so that the final state can be
/// compared.
pub fn tiers_smith_config(u: &mut Unstructured<'_>) -> Result<Config> {
    let mut c = ward_smith_config(u)?;
    // wasm-smith's tag count is geometric in the input (mostly none): when exceptions are on,
    // mostly ask for a few tags, so that modules throw and catch.
    if c.exceptions_enabled && u.ratio(3, 4)? {
        c.min_tags = c.min_tags.max(1);
        c.max_tags = c.max_tags.max(4);
    }
    c.gc_enabled = c.gc_enabled && u.ratio(1, 4)?;
    c.canonicalize_nans = u.arbitrary()?;
    c.export_everything = true;
    Ok(c)
}

/// An engine-neutral value: floats as bits with every NaN made the canonical one (sign and
/// payload of a NaN are nondeterministic in WebAssembly), references only by null-ness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    I32(u32),
    I64(u64),
    F32(u32),
    F64(u64),
    V128(u128),
    Ref { null: bool },
}

impl Value {
    /// An `f32` from its bits, NaN canonicalised.
    pub fn f32(bits: u32) -> Value {
        if f32::from_bits(bits).is_nan() {
            Value::F32(0x7fc0_0000)
        } else {
            Value::F32(bits)
        }
    }

    /// An `f64` from its bits, NaN canonicalised.
    pub fn f64(bits: u64) -> Value {
        if f64::from_bits(bits).is_nan() {
            Value::F64(0x7ff8_0000_0000_0000)
        } else {
            Value::F64(bits)
        }
    }
}

/// The value types the argument generator knows, engine-neutrally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    I32,
    I64,
    F32,
    F64,
    V128,
    Ref,
}

/// The zero (or null) value of `ty`.
pub fn zero_value(ty: Ty) -> Value {
    match ty {
        Ty::I32 => Value::I32(0),
        Ty::I64 => Value::I64(0),
        Ty::F32 => Value::F32(0),
        Ty::F64 => Value::F64(0),
        Ty::V128 => Value::V128(0),
        Ty::Ref => Value::Ref { null: true },
    }
}

/// An argument of type `ty` from the fuzz input (zero once the input is used up).
pub fn arbitrary_value(u: &mut Unstructured<'_>, ty: Ty) -> Result<Value> {
    Ok(match ty {
        Ty::I32 => Value::I32(u.arbitrary()?),
        Ty::I64 => Value::I64(u.arbitrary()?),
        Ty::F32 => Value::F32(u.arbitrary()?),
        Ty::F64 => Value::F64(u.arbitrary()?),
        Ty::V128 => Value::V128(u.arbitrary()?),
        Ty::Ref => Value::Ref { null: true },
    })
}

/// Trap kinds, coarsened so that legitimate differences in classification between engines do
/// not count as disagreements. In particular every `call_indirect`/table failure (out of bounds
/// table index, undefined or uninitialised element, null reference) is one kind, because engines
/// legitimately name the same failure differently (Ward's "undefined element" is wasmi's "table
/// out of bounds", Ward's "uninitialized element" is wasmi's "indirect call to null").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrapKind {
    Unreachable,
    MemoryOutOfBounds,
    TableOrIndirect,
    BadSignature,
    DivideByZero,
    IntegerOverflow,
    BadConversion,
    /// Engine-specific limit: makes the rest of the comparison inconclusive.
    StackOverflow,
    /// Engine-specific budget: makes the rest of the comparison inconclusive.
    OutOfFuel,
    Other(String),
}

impl TrapKind {
    /// Whether this trap depends on an engine's own limits (stack size, fuel accounting), so
    /// that the two engines may disagree on it without either being wrong.
    pub fn is_engine_limit(&self) -> bool {
        matches!(self, TrapKind::StackOverflow | TrapKind::OutOfFuel)
    }
}

/// How a call (or instantiation) ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    Returned(Vec<Value>),
    Trapped(TrapKind),
    /// Any other error (linking, limits, unsupported...).
    Failed(String),
}

impl CallOutcome {
    pub fn is_engine_limit(&self) -> bool {
        matches!(self, CallOutcome::Trapped(k) if k.is_engine_limit())
    }
}

/// The observable final state of an instance: exported globals, memories and tables, by export
/// name, in export order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FinalState {
    pub globals: Vec<(String, Value)>,
    pub memories: Vec<(String, Vec<u8>)>,
    /// Each table's elements, as null-ness.
    pub tables: Vec<(String, Vec<bool>)>,
}

/// Counters printed every 2 000 inputs when `WARD_FUZZ_STATS` is set.
pub struct Stats {
    names: &'static [&'static str],
    counts: [AtomicU64; 12],
}

impl Stats {
    pub const fn new(names: &'static [&'static str]) -> Stats {
        Stats { names, counts: [const { AtomicU64::new(0) }; 12] }
    }

    /// Adds `n` to counter `i` (not 0).
    pub fn add(&self, i: usize, n: usize) {
        self.counts[i].fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Adds one to counter `i`; counter 0 is the number of inputs and triggers the report.
    pub fn bump(&self, i: usize) {
        let n = self.counts[i].fetch_add(1, Ordering::Relaxed) + 1;
        if i == 0 && n.is_multiple_of(2_000) && std::env::var_os("WARD_FUZZ_STATS").is_some() {
            let parts: Vec<String> = self
                .names
                .iter()
                .enumerate()
                .map(|(i, name)| format!("{name}={}", self.counts[i].load(Ordering::Relaxed)))
                .collect();
            eprintln!("ward-fuzz stats: {}", parts.join(" "));
        }
    }
}

pub use ward_side::ward_dummy_imports;
