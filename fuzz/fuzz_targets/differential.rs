//! Differential testing against wasmi 2.0: the same `wasm-smith` module (within the features
//! both engines implement deterministically) is instantiated in both with the same dummy
//! imports and store limits, every exported function is called with the same arguments, and
//! the outcomes are compared — returned values (floats with NaNs canonicalised), trap versus no
//! trap and the coarse trap kind (see `TrapKind`) — followed by the final contents of every
//! exported memory, global and table.
//!
//! Termination: `wasm-smith`'s `ensure_termination` instruments every loop header and function
//! entry with a decrement of a global budget that traps with `unreachable` when it is spent, so
//! both engines stop at exactly the same point. Each engine's own fuel is only a backstop (the
//! two meter fuel differently): when either runs out of fuel or stack, the two executions may
//! legitimately diverge from there on and the rest of the input is not compared.

#![no_main]

use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use ward_fuzz::{
    arbitrary_value, oracle, ward_side, zero_value, CallOutcome, FinalState, Stats, Value,
};

/// Loop iterations plus function entries each instance may execute (wasm-smith's counter).
const TERMINATION_BUDGET: u32 = 1_000;
/// Each engine's own fuel per call: a backstop only.
const BACKSTOP_FUEL: u64 = 20_000_000;

static STATS: Stats = Stats::new(&[
    "inputs",
    "generated",
    "both_instantiated",
    "calls_compared",
    "inconclusive",
    "wasmi_rejected",
    "states_compared",
]);

fuzz_target!(|data: &[u8]| {
    STATS.bump(0);
    let _ = run(data);
});

fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let smith = ward_fuzz::differential_smith_config(&mut u)?;
    let mut generated = wasm_smith::Module::new(smith, &mut u)?;
    if generated.ensure_termination(TERMINATION_BUDGET).is_err() {
        return Ok(());
    }
    let bytes = generated.to_bytes();
    STATS.bump(1);
    if let Some(path) = std::env::var_os("WARD_FUZZ_DUMP") {
        // Debugging aid: keep the generated module of the input being replayed.
        std::fs::write(path, &bytes).expect("WARD_FUZZ_DUMP is writable");
    }

    // Compile in both. wasm-smith output is valid, so Ward must accept it; wasmi may lack a
    // feature (then there is nothing to compare).
    let mut config = ward::Config::new();
    config.consume_fuel(true);
    let w_engine = ward::Engine::new(&config);
    let w_module = ward::Module::new(&w_engine, &bytes)
        .unwrap_or_else(|e| panic!("Ward rejected a valid wasm-smith module: {e}"));
    let i_engine = oracle::engine();
    let Ok(i_module) = wasmi::Module::new(&i_engine, &bytes) else {
        STATS.bump(5);
        return Ok(());
    };

    let mut w_store = ward_side::limited_store(&w_engine);
    let mut i_store = oracle::store(&i_engine);
    let w_imports =
        ward_fuzz::ward_dummy_imports(&mut w_store, &w_module, |_| ward_side::HostBehaviour::Zeros);
    let i_imports = oracle::dummy_imports(&mut i_store, &i_module);
    let (Ok(w_imports), Ok(i_imports)) = (w_imports, i_imports) else {
        // An imported memory or table over the limits: nothing to run.
        return Ok(());
    };

    // Instantiate in both: they must agree on success, trap kind or (any) other failure.
    w_store.set_fuel(BACKSTOP_FUEL).expect("fuel is enabled");
    i_store.set_fuel(BACKSTOP_FUEL).expect("fuel is enabled");
    let w_inst = ward::Instance::new(&mut w_store, &w_module, &w_imports);
    let i_inst = wasmi::Instance::new(&mut i_store, &i_module, &i_imports);
    let w_out = match &w_inst {
        Ok(_) => CallOutcome::Returned(Vec::new()),
        Err(e) => ward_side::error_outcome(e),
    };
    let i_out = match &i_inst {
        Ok(_) => CallOutcome::Returned(Vec::new()),
        Err(e) => oracle::error_outcome(e),
    };
    if w_out.is_engine_limit() || i_out.is_engine_limit() {
        STATS.bump(4);
        return Ok(());
    }
    // Only success versus failure is compared here: wasmi reports some instantiation failures
    // that Ward reports as traps (an element segment out of bounds) as plain errors.
    assert_eq!(
        w_inst.is_ok(),
        i_inst.is_ok(),
        "instantiation differs:\n  ward:  {w_out:?}\n  wasmi: {i_out:?}"
    );
    let (Ok(w_inst), Ok(i_inst)) = (w_inst, i_inst) else { return Ok(()) };
    STATS.bump(2);

    // Call every exported function, in export order, with the same arguments.
    let exports: Vec<(String, bool)> = w_module
        .exports()
        .map(|(name, ty)| (name.to_string(), matches!(ty, ward::ExternType::Func(_))))
        .collect();
    for (name, is_func) in &exports {
        if !is_func {
            continue;
        }
        let w_func = w_inst.get_func(&w_store, name).expect("exported by Ward");
        let i_func = i_inst.get_func(&i_store, name).expect("exported by wasmi");
        let w_ty = w_func.ty(&w_store);
        let i_ty = i_func.ty(&i_store);
        let args: Vec<Value> = w_ty
            .params()
            .iter()
            .map(|t| {
                let t = ward_side::ty(*t);
                arbitrary_value(&mut u, t).unwrap_or(zero_value(t))
            })
            .collect();

        let w_args: Vec<ward::Val> =
            args.iter().zip(w_ty.params()).map(|(v, t)| ward_side::to_val(*v, *t)).collect();
        let mut w_results: Vec<ward::Val> =
            w_ty.results().iter().map(|t| ward_side::zero(*t)).collect();
        w_store.set_fuel(BACKSTOP_FUEL).expect("fuel is enabled");
        let w_out = ward_side::outcome(
            w_func.call(&mut w_store, &w_args, &mut w_results).map(|()| w_results),
        );

        let i_args: Vec<wasmi::Val> =
            args.iter().zip(i_ty.params()).map(|(v, t)| oracle::to_val(*v, *t)).collect();
        let mut i_results: Vec<wasmi::Val> =
            i_ty.results().iter().map(|t| wasmi::Val::default_for_ty(*t)).collect();
        i_store.set_fuel(BACKSTOP_FUEL).expect("fuel is enabled");
        let i_out =
            oracle::outcome(i_func.call(&mut i_store, &i_args, &mut i_results).map(|()| i_results));

        if w_out.is_engine_limit() || i_out.is_engine_limit() {
            STATS.bump(4);
            return Ok(());
        }
        assert!(
            same(&w_out, &i_out),
            "call of export `{name}` with {args:?} differs:\n  ward:  {w_out:?}\n  wasmi: {i_out:?}"
        );
        STATS.bump(3);
    }

    // Compare the final state.
    let names: Vec<String> = exports.iter().map(|(n, _)| n.clone()).collect();
    let w_state = ward_side::final_state(&w_store, w_inst);
    let i_state = oracle::final_state(&i_store, i_inst, &names);
    compare_states(&w_state, &i_state);
    STATS.bump(6);
    Ok(())
}

/// Whether two outcomes agree: equal values, equal coarse trap kinds, or both failing with
/// some non-trap error (their messages differ between engines).
fn same(a: &CallOutcome, b: &CallOutcome) -> bool {
    match (a, b) {
        (CallOutcome::Failed(_), CallOutcome::Failed(_)) => true,
        _ => a == b,
    }
}

fn compare_states(w: &FinalState, i: &FinalState) {
    assert_eq!(w.globals, i.globals, "final globals differ");
    assert_eq!(w.tables, i.tables, "final tables (null-ness of elements) differ");
    assert_eq!(w.memories.len(), i.memories.len(), "number of exported memories differs");
    for ((name, wm), (_, im)) in w.memories.iter().zip(&i.memories) {
        assert_eq!(wm.len(), im.len(), "final size of memory `{name}` differs");
        if let Some(at) = wm.iter().zip(im).position(|(a, b)| a != b) {
            panic!(
                "final contents of memory `{name}` differ at offset {at:#x}: ward {:#04x}, wasmi {:#04x}",
                wm[at], im[at]
            );
        }
    }
}
