//! A component call carrying a 1 KiB string and a 100-element list of records: the dynamic
//! (`Func::call` with `Val`s) and typed (`TypedFunc`) paths, on the component
//! `benches/component-call.wat`, which `benches/component-call-wasmtime` runs on Wasmtime 48.
//!
//! ```sh
//! cargo run --release -p ward-component --example component_call [CALLS [noop|dynamic|typed]...]
//! benches/component_call_side_by_side.sh     # both runtimes, interleaved
//! ```
//!
//! Prints `key value` lines: nanoseconds per call, the median of 11 batches of CALLS calls
//! (default 20,000) after one untimed batch, as the thread's CPU time (`KEY_ns`) and as wall
//! time (`KEY_wall_ns`):
//! - `noop_call_ns`: `noop`, a typed call carrying nothing;
//! - `dynamic_call_ns`: `process` through `Func::call` with `Val`s built once;
//! - `typed_call_ns`: `process` through `TypedFunc<(&str, &[Item]), (u32,)>`.

use std::time::Instant;
use ward_component::{Component, Linker, Val};

ward_component::record! {
    /// The component's `item` record.
    struct Item {
        id: u32,
        score: f64,
        flag: bool,
    }
}

const COMPONENT: &str = include_str!("../../../benches/component-call.wat");

include!("../../../benches/component-call-measure.rs");

fn main() -> Result<(), ward_component::Error> {
    let calls: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    // Optionally only some measurements (for profiling): `noop`, `dynamic`, `typed`.
    let only: Vec<String> = std::env::args().skip(2).collect();
    let wanted = |what: &str| only.is_empty() || only.iter().any(|o| o == what);
    let engine = ward::Engine::default();
    let component = Component::new(&engine, COMPONENT)?;
    let mut store = ward::Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &component)?;
    let (name, items) = arguments();

    let noop = instance.get_typed_func::<(), ()>(&mut store, "noop")?;
    if wanted("noop") {
        report("noop_call", measure(calls, || noop.call(&mut store, ()).unwrap()));
    }

    let process = instance.get_func("process").expect("export `process`");
    let args = dynamic_arguments(&name, &items);
    let mut out = [Val::Bool(false)];
    process.call(&mut store, &args, &mut out)?;
    assert_eq!(out[0], Val::U32(EXPECTED));
    if wanted("dynamic") {
        report(
            "dynamic_call",
            measure(calls, || process.call(&mut store, &args, &mut out).unwrap()),
        );
    }

    let typed = instance.get_typed_func::<(&str, &[Item]), (u32,)>(&mut store, "process")?;
    assert_eq!(typed.call(&mut store, (&name, &items))?, (EXPECTED,));
    if wanted("typed") {
        report(
            "typed_call",
            measure(calls, || {
                let (n,) = typed.call(&mut store, (&name, &items)).unwrap();
                std::hint::black_box(n);
            }),
        );
    }
    Ok(())
}
