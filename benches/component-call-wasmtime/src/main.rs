//! A component call carrying a 1 KiB string and a 100-element list of records, on Wasmtime 48:
//! the same component (`benches/component-call.wat`) and the same measurements as Ward's
//! `crates/ward-component/examples/component_call.rs`, for `benches/component_call_side_by_side.sh`.
//!
//! ```sh
//! cd benches/component-call-wasmtime
//! CARGO_TARGET_DIR=/work/target-wasmtime nice -n 10 cargo build --release
//! /work/target-wasmtime/release/component-call-wasmtime [CALLS [noop|dynamic|typed]...]
//! ```
//!
//! Prints `key value` lines: nanoseconds per call, the median of 11 batches of CALLS calls
//! (default 20,000) after one untimed batch, as the thread's CPU time (`KEY_ns`) and as wall
//! time (`KEY_wall_ns`):
//! - `noop_call_ns`: `noop`, a typed call carrying nothing;
//! - `dynamic_call_ns`: `process` through `Func::call` with `Val`s built once;
//! - `typed_call_ns`: `process` through `TypedFunc<(&str, &[Item]), (u32,)>`.
//!
//! Wasmtime is at its defaults (Cranelift, `Config::default()`), except that it is built
//! without its default cargo features (only Cranelift, the component model, the runtime, text).

use std::time::Instant;
use wasmtime::component::{Component, ComponentType, Lift, Linker, Lower, Val};
use wasmtime::{Engine, Store};

const COMPONENT: &str = include_str!("../../component-call.wat");

#[derive(ComponentType, Lower, Lift, Clone, Debug)]
#[component(record)]
struct Item {
    id: u32,
    score: f64,
    flag: bool,
}

include!("../../component-call-measure.rs");

fn main() -> wasmtime::Result<()> {
    let calls: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    // Optionally only some measurements (for profiling): `noop`, `dynamic`, `typed`.
    let only: Vec<String> = std::env::args().skip(2).collect();
    let wanted = |what: &str| only.is_empty() || only.iter().any(|o| o == what);
    let engine = Engine::default();
    let component = Component::new(&engine, COMPONENT)?;
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &component)?;
    let (name, items) = arguments();

    let noop = instance.get_typed_func::<(), ()>(&mut store, "noop")?;
    if wanted("noop") {
        report("noop_call", measure(calls, || noop.call(&mut store, ()).unwrap()));
    }

    let process = instance.get_func(&mut store, "process").expect("export `process`");
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
