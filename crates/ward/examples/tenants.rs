//! Many tenants in one process: how fast a tenant is instantiated and first called, and how
//! little an idle one costs.
//!
//! ```sh
//! cargo run --release -p ward --example tenants -- 100000
//! ```
//!
//! Prints, for a small tenant module shaped like a C program (a shadow stack in linear memory,
//! a data segment, a function table, one export that touches memory):
//! - `instantiate_ns`: instantiating from a pre-linked template (`InstancePre`) into a fresh
//!   store (the store and instance dropped after each);
//! - `spawn_first_call_ns`: a fresh store, instantiation and the first call of the export;
//! - `live_instances`, `resident_bytes_per_instance`: N stores each holding an instance called
//!   once, all alive at the same time, and the growth of the process's resident set per instance.
//!
//! The module can be replaced: `-- N path/to/tenant.wasm EXPORT` (EXPORT takes and returns i32).
//! With `--artifact` (anywhere after `--`) the tenant runs in the native tier, compiled ahead
//! of time: the module is compiled, saved with `Module::serialize` and loaded back with
//! `Module::deserialize`, and the numbers are for the loaded module.

use std::time::Instant;
use ward::{Engine, InstancePre, Linker, Module, Store, TypedFunc};

const TENANT: &str = r#"(module
  (memory (export "memory") 2)
  (global $sp (mut i32) (i32.const 65536))
  (type $unary (func (param i32) (result i32)))
  (table 2 funcref)
  (elem (i32.const 0) $inc $dbl)
  (data (i32.const 1024) "tenant greeting: hello, world!\00")
  (func $inc (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func $dbl (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
  (func (export "handle") (param $n i32) (result i32) (local $p i32) (local $i i32) (local $sum i32)
    ;; a 64-byte frame on the shadow stack holding a copy of the greeting
    (local.set $p (i32.sub (global.get $sp) (i32.const 64)))
    (global.set $sp (local.get $p))
    (memory.copy (local.get $p) (i32.const 1024) (i32.const 32))
    (i32.store (i32.add (local.get $p) (i32.const 32)) (local.get $n))
    (loop $l
      (local.set $sum (i32.add (local.get $sum)
        (i32.load8_u (i32.add (local.get $p) (local.get $i)))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 36))))
    (global.set $sp (i32.add (local.get $p) (i32.const 64)))
    (call_indirect (type $unary) (local.get $sum) (i32.and (local.get $n) (i32.const 1)))))"#;

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

fn spawn(pre: &InstancePre<()>, engine: &Engine, export: &str) -> (Store<()>, TypedFunc<i32, i32>) {
    let mut store = Store::new(engine, ());
    let instance = pre.instantiate(&mut store).expect("instantiate");
    let f = instance.get_typed_func::<i32, i32>(&mut store, export).expect("export");
    (store, f)
}

fn main() {
    let mut args: Vec<String> = std::env::args().collect();
    let artifact = args.iter().any(|a| a == "--artifact");
    args.retain(|a| a != "--artifact");
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let mut config = ward::Config::new();
    if artifact {
        config.tier(ward::Tier::Native);
    }
    let engine = Engine::new(&config);
    let (mut module, export) = match args.get(2) {
        Some(path) => (
            Module::from_file(&engine, path).expect("module"),
            args.get(3).cloned().unwrap_or_else(|| "handle".into()),
        ),
        None => (Module::new(&engine, TENANT).expect("tenant module"), "handle".to_string()),
    };
    if artifact {
        assert_eq!(module.tier(), ward::Tier::Native, "{:?}", module.native_fallback_reason());
        let bytes = module.serialize().expect("serialize");
        // SAFETY: the bytes are `serialize`'s output of this process, on the same engine.
        module = unsafe { Module::deserialize(&engine, &bytes) }.expect("deserialize");
        println!("tier native (from an artifact of {} bytes)", bytes.len());
    }
    let linker: Linker<()> = Linker::new(&engine);
    let pre = linker.instantiate_pre(&module).expect("pre-link");

    // Warm up the pool and the translated code.
    for _ in 0..1000 {
        let (mut store, f) = spawn(&pre, &engine, &export);
        f.call(&mut store, 1).expect("call");
    }

    let rounds = 20_000;
    let start = Instant::now();
    for _ in 0..rounds {
        let mut store = Store::new(&engine, ());
        let instance = pre.instantiate(&mut store).expect("instantiate");
        std::hint::black_box(instance);
    }
    println!("instantiate_ns {}", start.elapsed().as_nanos() / rounds as u128);

    let start = Instant::now();
    for i in 0..rounds {
        let (mut store, f) = spawn(&pre, &engine, &export);
        std::hint::black_box(f.call(&mut store, i).expect("call"));
    }
    println!("spawn_first_call_ns {}", start.elapsed().as_nanos() / rounds as u128);

    let before = resident_bytes();
    let start = Instant::now();
    let mut tenants = Vec::with_capacity(n);
    for i in 0..n {
        let (mut store, f) = spawn(&pre, &engine, &export);
        f.call(&mut store, i as i32).expect("call");
        tenants.push((store, f));
    }
    let elapsed = start.elapsed();
    let grown = resident_bytes().saturating_sub(before);
    println!("live_instances {}", tenants.len());
    println!("live_spawn_ns {}", elapsed.as_nanos() / n.max(1) as u128);
    println!("resident_bytes_per_instance {}", grown / n.max(1) as u64);
    // Every tenant is still usable.
    let (store, f) = tenants.last_mut().expect("at least one tenant");
    f.call(store, 7).expect("a live tenant answers");
}
