//! Many tenants in one process, Wasmtime 48 with its pooling allocator: the same tenant module
//! and the same measurements as Ward's `crates/ward/examples/tenants.rs`, so the two can be run
//! side by side (`benches/tenants_side_by_side.sh`).
//!
//! ```sh
//! cd benches/tenants-wasmtime
//! CARGO_TARGET_DIR=/work/target-wasmtime nice -n 10 cargo build --release
//! /work/target-wasmtime/release/tenants-wasmtime 100000
//! ```
//!
//! Prints the keys the Ward example prints:
//! - `instantiate_ns`: instantiating from a pre-linked template (`InstancePre`) into a fresh
//!   store (the store and instance dropped after each);
//! - `spawn_first_call_ns`: a fresh store, instantiation and the first call of the export;
//! - `live_instances`, `live_spawn_ns`, `resident_bytes_per_instance`: up to N stores each
//!   holding an instance called once, all alive at the same time, and the growth of the
//!   process's resident set per instance.
//!
//! Unlike the Ward example, the live phase does not panic when an instantiation or call fails: it
//! stops at the first failure, reports the count reached (`live_instances`) and prints
//! `live_error <message>` and `live_error_mappings` (the process's mappings then, and Linux's
//! `vm.max_map_count`); `live_requested N` gives the count asked for.
//!
//! The module can be replaced: `-- N path/to/tenant.wasm EXPORT` (EXPORT takes and returns i32).
//! `TENANTS_WASMTIME_MEMORY_RESERVATION` (bytes, default 1 MiB) changes the per-memory slot
//! size for modules whose memory does not fit in 1 MiB.
//!
//! Configuration (what Wasmtime's documentation describes for many tenants, printed on stderr):
//! `InstanceAllocationStrategy::Pooling` sized for N (total core instances, memories and tables
//! = N); dense memory slots: `memory_reservation` = `max_memory_size` = 1 MiB, no guard region
//! after or before a memory (`memory_guard_size(0)`, `guard_before_linear_memory(false)`), so
//! Cranelift emits explicit bounds checks; copy-on-write memory images
//! (`memory_init_cow(true)`, Wasmtime's default); everything else at Wasmtime's defaults (lazy
//! table init, `max_unused_warm_slots` 100, decommit batch 1, no memory kept resident).

use std::time::Instant;
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Module,
    PoolingAllocationConfig, Store, TypedFunc,
};

/// The tenant module. It MUST stay byte-for-byte equal to `TENANT` in
/// `crates/ward/examples/tenants.rs` (the side-by-side script checks this before it runs).
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

const MIB: u64 = 1 << 20;

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

/// The number of the process's mappings (lines of /proc/self/maps), counted through a buffer on
/// the stack: at the limit, a large heap allocation (itself a new mapping) would fail.
fn mappings() -> usize {
    use std::io::Read;
    let Ok(mut file) = std::fs::File::open("/proc/self/maps") else { return 0 };
    let mut buf = [0u8; 16384];
    let mut lines = 0;
    while let Ok(read) = file.read(&mut buf) {
        if read == 0 {
            break;
        }
        lines += buf[..read].iter().filter(|&&b| b == b'\n').count();
    }
    lines
}

fn engine_for(n: usize) -> Engine {
    let slots = u32::try_from(n.max(1)).unwrap_or(u32::MAX);
    let reservation: u64 = std::env::var("TENANTS_WASMTIME_MEMORY_RESERVATION")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(MIB);

    let mut pool = PoolingAllocationConfig::new();
    pool.total_core_instances(slots)
        .total_memories(slots)
        .total_tables(slots)
        .max_memory_size(usize::try_from(reservation).expect("reservation fits usize"));

    let mut config = Config::new();
    config
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        .memory_reservation(reservation)
        .memory_guard_size(0)
        .guard_before_linear_memory(false)
        .memory_init_cow(true);
    eprintln!(
        "wasmtime 48.0.8: pooling allocator, {slots} core instances / memories / tables, \
         memory_reservation = max_memory_size = {reservation} bytes, memory_guard_size 0, \
         no guard before memories, memory_init_cow on"
    );
    Engine::new(&config).expect("engine with the pooling allocator")
}

fn spawn(
    pre: &InstancePre<()>,
    engine: &Engine,
    export: &str,
) -> wasmtime::Result<(Store<()>, TypedFunc<i32, i32>)> {
    let mut store = Store::new(engine, ());
    let instance = pre.instantiate(&mut store)?;
    let f = instance.get_typed_func::<i32, i32>(&mut store, export)?;
    Ok((store, f))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let engine = engine_for(n);
    let (module, export) = match args.get(2) {
        Some(path) => (
            Module::from_file(&engine, path).expect("module"),
            args.get(3).cloned().unwrap_or_else(|| "handle".into()),
        ),
        None => (Module::new(&engine, TENANT).expect("tenant module"), "handle".to_string()),
    };
    let linker: Linker<()> = Linker::new(&engine);
    let pre = linker.instantiate_pre(&module).expect("pre-link");

    // Warm up the pool and the compiled code.
    for _ in 0..1000 {
        let (mut store, f) = spawn(&pre, &engine, &export).expect("spawn");
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
        let (mut store, f) = spawn(&pre, &engine, &export).expect("spawn");
        std::hint::black_box(f.call(&mut store, i).expect("call"));
    }
    println!("spawn_first_call_ns {}", start.elapsed().as_nanos() / rounds as u128);

    let before = resident_bytes();
    let start = Instant::now();
    let mut tenants = Vec::with_capacity(n);
    let mut failure = None;
    for i in 0..n {
        let spawned = spawn(&pre, &engine, &export).and_then(|(mut store, f)| {
            f.call(&mut store, i as i32)?;
            Ok((store, f))
        });
        match spawned {
            Ok(tenant) => tenants.push(tenant),
            Err(e) => {
                failure = Some(format!("{e:?}").replace('\n', " | "));
                break;
            }
        }
    }
    let elapsed = start.elapsed();
    let grown = resident_bytes().saturating_sub(before);
    let live = tenants.len();
    println!("live_requested {n}");
    println!("live_instances {live}");
    println!("live_spawn_ns {}", elapsed.as_nanos() / live.max(1) as u128);
    println!("resident_bytes_per_instance {}", grown / live.max(1) as u64);
    if let Some(error) = failure {
        println!("live_error {error}");
        // Why it stopped: Linux caps the mappings of a process at vm.max_map_count, and every
        // live memory slot splits the pool's reservation into several mappings.
        let maps = mappings();
        let max = std::fs::read_to_string("/proc/sys/vm/max_map_count").unwrap_or_default();
        println!("live_error_mappings {maps} (vm.max_map_count {})", max.trim());
    }
    // Every tenant is still usable.
    if let Some((store, f)) = tenants.last_mut() {
        f.call(store, 7).expect("a live tenant answers");
    }
}
