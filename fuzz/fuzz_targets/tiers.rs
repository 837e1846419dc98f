//! Ward's two tiers against each other: the same `wasm-smith` module (within what the native tier
//! compiles, see `tiers_smith_config`) runs on an interpreter engine and on a native engine
//! (`Tier::Native`), both with dense or both with guarded memories (the input chooses), with the
//! same dummy imports and the same fuel budget for instantiation and for each call. Every exported
//! function is called with the same arguments, and the outcomes must be identical: returned
//! values bit for bit, the exact `TrapCode`, and the fuel left after the call (both tiers charge
//! the same costs at the same checkpoints, so running out of fuel at the same point is an equal
//! outcome); then the final contents of every exported memory, global and table. Half the
//! inputs have their `try_table`s and most blocks rewritten as legacy `try`s (with `catch`,
//! `catch_all`, `rethrow` and `delegate`; `ward_fuzz::legacy`) before both tiers run them.
//!
//! Two documented freedoms are allowed for. With two NaN operands, a scalar float operation may
//! return either one's payload (the hardware's choice, see ARCHITECTURE.md, "The native tier"):
//! so half the inputs have wasm-smith canonicalise NaNs after each float operation and are
//! compared bit for bit everywhere, the other half compare any two scalar NaNs of a result or
//! global as equal (memories stay bit for bit). And a stack overflow that the tiers do not reach
//! identically (native frames are not the interpreter's) makes the rest of the input
//! inconclusive. A module the native tier does not compile falls back to the interpreter as a
//! whole: it is counted, not compared.

#![no_main]

use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use ward::{Config, Engine, Error, Instance, MemoryStrategy, Module, Store, Tier, TrapCode, Val};
use ward_fuzz::ward_side::{self, HostBehaviour};
use ward_fuzz::{arbitrary_value, zero_value, FinalState, Stats, Value};

/// Fuel for instantiation and for each call, unless the input asks for a small budget.
const FUEL: u64 = 100_000;
/// Low enough that deep recursion stops at the call depth in both tiers, not at the native stack.
const MAX_CALL_DEPTH: usize = 500;

static STATS: Stats = Stats::new(&[
    "inputs",
    "generated",
    "native",
    "fell_back",
    "guarded",
    "instantiated",
    "calls_compared",
    "out_of_fuel",
    "inconclusive",
    "unmatchable_imports",
    "legacy_try",
]);

fuzz_target!(|data: &[u8]| {
    STATS.bump(0);
    let _ = run(data);
});

/// How a call or an instantiation ended, exactly.
#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    Returned(Vec<Value>),
    Trapped(TrapCode),
    Failed(String),
}

/// One tier: its store and, once instantiated, its instance.
struct Side {
    store: Store<()>,
    instance: Option<Instance>,
}

impl Side {
    fn new(engine: &Engine) -> Side {
        Side { store: ward_side::limited_store(engine), instance: None }
    }

    /// Dummy imports (as `behaviours` say), then instantiation with `fuel`.
    fn instantiate(
        &mut self,
        module: &Module,
        behaviours: &[HostBehaviour],
        fuel: u64,
    ) -> (Outcome, u64) {
        let imports = ward_side::ward_dummy_imports(&mut self.store, module, |i| {
            behaviours.get(i).cloned().unwrap_or(HostBehaviour::Zeros)
        });
        self.store.set_fuel(fuel).expect("fuel is enabled");
        let result = imports.and_then(|imports| Instance::new(&mut self.store, module, &imports));
        let out = match result {
            Ok(instance) => {
                self.instance = Some(instance);
                Outcome::Returned(Vec::new())
            }
            Err(e) => outcome(Err(e)),
        };
        (out, self.store.get_fuel().expect("fuel is enabled"))
    }

    /// Calls export `name` with `args` and `fuel`: the outcome and the fuel left.
    fn call(&mut self, name: &str, args: &[Value], fuel: u64) -> (Outcome, u64) {
        let f = self.instance.and_then(|i| i.get_func(&self.store, name)).expect("exported");
        let ty = f.ty(&self.store);
        let args: Vec<Val> =
            args.iter().zip(ty.params()).map(|(v, t)| ward_side::to_val(*v, *t)).collect();
        let mut results: Vec<Val> = ty.results().iter().map(|t| ward_side::zero(*t)).collect();
        self.store.set_fuel(fuel).expect("fuel is enabled");
        let out = outcome(f.call(&mut self.store, &args, &mut results).map(|()| results));
        (out, self.store.get_fuel().expect("fuel is enabled"))
    }

    fn final_state(&self) -> FinalState {
        ward_side::final_state_with(&self.store, self.instance.unwrap(), ward_side::exact_value)
    }
}

fn outcome(result: ward::Result<Vec<Val>>) -> Outcome {
    match result {
        Ok(vals) => Outcome::Returned(vals.iter().map(ward_side::exact_value).collect()),
        Err(Error::Trap(t)) => Outcome::Trapped(t.code()),
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let mut smith = ward_fuzz::tiers_smith_config(&mut u)?;
    let nans_canonical = smith.canonicalize_nans;
    let guarded: bool = u.arbitrary()?;
    let interruptible: bool = u.arbitrary()?;
    let fuel = if u.ratio(1, 4)? { u.int_in_range(0..=2_000)? } else { FUEL };
    let legacy = u.arbitrary()?;
    if legacy {
        // Modules to rewrite: exceptions and tags.
        smith.exceptions_enabled = true;
        smith.min_tags = smith.min_tags.max(1);
        smith.max_tags = smith.max_tags.max(4);
    }
    let generated = wasm_smith::Module::new(smith, &mut u)?;
    let mut bytes = generated.to_bytes();
    STATS.bump(1);
    // Half the time, `try_table`s and most blocks become legacy `try`s (wasm-smith makes none
    // itself).
    if legacy {
        if let Some(rewritten) = ward_fuzz::legacy::to_legacy(&bytes, u.arbitrary()?) {
            bytes = rewritten;
            STATS.bump(10);
        }
    }
    if let Some(path) = std::env::var_os("WARD_FUZZ_DUMP") {
        // Debugging aid: keep the generated module of the input being replayed.
        std::fs::write(path, &bytes).expect("WARD_FUZZ_DUMP is writable");
    }

    let engine = |tier| {
        let mut config = Config::new();
        config
            .tier(tier)
            .consume_fuel(true)
            .interruptible(interruptible)
            .max_call_depth(MAX_CALL_DEPTH)
            .memory_strategy(if guarded { MemoryStrategy::Guarded } else { MemoryStrategy::Dense });
        Engine::new(&config)
    };
    let (i_engine, n_engine) = (engine(Tier::Interpreter), engine(Tier::Native));
    let compile = |engine| {
        Module::new(engine, &bytes)
            .unwrap_or_else(|e| panic!("Ward rejected a valid wasm-smith module: {e}"))
    };
    let (i_module, n_module) = (compile(&i_engine), compile(&n_engine));
    if n_module.tier() != Tier::Native {
        STATS.bump(3);
        return Ok(());
    }
    STATS.bump(2);
    if guarded {
        STATS.bump(4);
    }
    if ward_side::needs_a_non_null_import(&i_module) {
        STATS.bump(9);
        return Ok(());
    }

    // The same host behaviour for each function import on both sides.
    let behaviours = ward_side::arbitrary_behaviours(&mut u, &i_module)?;

    let (mut interp, mut native) = (Side::new(&i_engine), Side::new(&n_engine));
    let a = interp.instantiate(&i_module, &behaviours, fuel);
    let b = native.instantiate(&n_module, &behaviours, fuel);
    if !agree(&a, &b, nans_canonical, "instantiation") {
        return Ok(());
    }
    if interp.instance.is_none() {
        return Ok(());
    }
    STATS.bump(5);

    for name in &ward_side::exported_funcs(&i_module) {
        let ty = interp.instance.unwrap().get_func(&interp.store, name).unwrap().ty(&interp.store);
        let args: Vec<Value> = ty
            .params()
            .iter()
            .map(|t| {
                let t = ward_side::ty(*t);
                arbitrary_value(&mut u, t).unwrap_or(zero_value(t))
            })
            .collect();
        let a = interp.call(name, &args, fuel);
        let b = native.call(name, &args, fuel);
        if !agree(&a, &b, nans_canonical, &format!("call of export `{name}` with {args:?}")) {
            return Ok(());
        }
        STATS.bump(6);
        if a.0 == Outcome::Trapped(TrapCode::OutOfFuel) {
            STATS.bump(7);
        }
    }

    let (a, b) = (interp.final_state(), native.final_state());
    assert_eq!(a.tables, b.tables, "final tables (null-ness of elements) differ");
    assert!(
        a.globals.len() == b.globals.len()
            && a.globals.iter().zip(&b.globals).all(|(x, y)| same(&x.1, &y.1, nans_canonical)),
        "final globals differ:\n  interpreter: {:?}\n  native:      {:?}",
        a.globals,
        b.globals
    );
    assert_eq!(a.memories.len(), b.memories.len(), "number of exported memories differs");
    for ((name, x), (_, y)) in a.memories.iter().zip(&b.memories) {
        assert_eq!(x.len(), y.len(), "final size of memory `{name}` differs");
        if let Some(at) = x.iter().zip(y).position(|(p, q)| p != q) {
            panic!(
                "final contents of memory `{name}` differ at offset {at:#x}: interpreter {:#04x}, native {:#04x}",
                x[at], y[at]
            );
        }
    }
    Ok(())
}

/// Whether the two tiers' `(outcome, fuel left)` agree; panics (a finding) if they do not,
/// unless a stack overflow on either side explains it (then: inconclusive, `false`).
fn agree(a: &(Outcome, u64), b: &(Outcome, u64), nans_canonical: bool, what: &str) -> bool {
    let equal = a.1 == b.1
        && match (&a.0, &b.0) {
            (Outcome::Returned(x), Outcome::Returned(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q, nans_canonical))
            }
            (x, y) => x == y,
        };
    if equal {
        return true;
    }
    let overflow = Outcome::Trapped(TrapCode::StackOverflow);
    if a.0 == overflow || b.0 == overflow {
        STATS.bump(8);
        return false;
    }
    panic!(
        "{what} differs:\n  interpreter: {:?}, fuel left {}\n  native:      {:?}, fuel left {}",
        a.0, a.1, b.0, b.1
    );
}

/// Equal bits; without canonicalisation, any two scalar NaNs of one width are equal too.
fn same(a: &Value, b: &Value, nans_canonical: bool) -> bool {
    a == b
        || !nans_canonical
            && match (*a, *b) {
                (Value::F32(x), Value::F32(y)) => {
                    f32::from_bits(x).is_nan() && f32::from_bits(y).is_nan()
                }
                (Value::F64(x), Value::F64(y)) => {
                    f64::from_bits(x).is_nan() && f64::from_bits(y).is_nan()
                }
                _ => false,
            }
}
