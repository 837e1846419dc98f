//! Micro-benchmarks of the embedding API: compile (decode + validate) throughput, instantiation
//! of a small and a large module, and the cost of crossing between host and wasm.
//!
//! Run with `cargo bench -p ward --bench api`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ward::{Config, Engine, Func, Linker, Module, Store};

/// A module with `n` functions of straight-line arithmetic and a 1-page memory: about
/// 60 bytes of code per function.
fn large_module(n: usize) -> Vec<u8> {
    let mut wat = String::from("(module (memory 1) (global $g (mut i32) (i32.const 0))\n");
    for i in 0..n {
        wat.push_str(&format!(
            "(func (export \"f{i}\") (param i32 i32) (result i32) (local i32)
               local.get 0 local.get 1 i32.add local.tee 2 i32.const {i} i32.mul
               local.get 2 i32.load offset=16 i32.xor global.get $g i32.add
               (if (result i32) (i32.eqz (local.get 0)) (then i32.const 1) (else local.get 1))
               i32.add)\n"
        ));
    }
    wat.push(')');
    wat::parse_str(&wat).expect("valid wat")
}

const SMALL: &str = r#"(module
  (memory (export "memory") 1)
  (global (mut i32) (i32.const 7))
  (table 4 funcref)
  (func $f (export "f") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (elem (i32.const 0) $f)
  (data (i32.const 8) "hello"))"#;

fn compile(c: &mut Criterion) {
    let engine = Engine::default();
    let bytes = large_module(5_000);
    let mut g = c.benchmark_group("compile");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.sample_size(20);
    g.bench_function("validate+decode 5000 functions", |b| {
        b.iter(|| Module::from_binary(&engine, &bytes).unwrap())
    });
    let mut eager = Config::new();
    eager.eager_translation(true);
    let eager = Engine::new(&eager);
    g.bench_function("validate+decode+translate 5000 functions", |b| {
        b.iter(|| Module::from_binary(&eager, &bytes).unwrap())
    });
    g.finish();
}

fn instantiate(c: &mut Criterion) {
    let engine = Engine::default();
    let small = Module::new(&engine, SMALL).unwrap();
    let large = Module::from_binary(&engine, &large_module(5_000)).unwrap();
    let linker = Linker::<()>::new(&engine);
    let small_pre = linker.instantiate_pre(&small).unwrap();
    let large_pre = linker.instantiate_pre(&large).unwrap();
    let mut g = c.benchmark_group("instantiate");
    g.bench_function("small module (new store each time)", |b| {
        b.iter_batched(
            || Store::new(&engine, ()),
            |mut store| small_pre.instantiate(&mut store).unwrap(),
            BatchSize::SmallInput,
        )
    });
    // The same small module compiled natively, saved as an artifact and loaded back (issue 10's
    // "instantiate from an artifact" target).
    let mut native = Config::new();
    native.tier(ward::Tier::Native);
    let native = Engine::new(&native);
    let artifact = Module::new(&native, SMALL).unwrap().serialize().unwrap();
    // SAFETY: the artifact was made by this same engine a line above.
    let loaded = unsafe { Module::deserialize(&native, &artifact) }.unwrap();
    assert_eq!(loaded.tier(), ward::Tier::Native, "the artifact holds native code");
    let native_pre = Linker::<()>::new(&native).instantiate_pre(&loaded).unwrap();
    g.bench_function("small module from a native artifact (new store each time)", |b| {
        b.iter_batched(
            || Store::new(&native, ()),
            |mut store| native_pre.instantiate(&mut store).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("large module, 5000 functions (new store each time)", |b| {
        b.iter_batched(
            || Store::new(&engine, ()),
            |mut store| large_pre.instantiate(&mut store).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn calls(c: &mut Criterion) {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
             (import "host" "inc" (func $inc (param i32) (result i32)))
             (func (export "id") (param i32) (result i32) local.get 0)
             (func (export "call_host_1000") (param i32) (result i32)
               (local $i i32)
               (loop $l
                 (local.set 0 (call $inc (local.get 0)))
                 (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1)))
                                     (i32.const 1000))))
               local.get 0))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let inc = Func::wrap(&mut store, |x: i32| x.wrapping_add(1));
    let mut linker = Linker::new(&engine);
    linker.define(&store, "host", "inc", inc).unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let id = instance.get_typed_func::<i32, i32>(&store, "id").unwrap();
    let loop_host = instance.get_typed_func::<i32, i32>(&store, "call_host_1000").unwrap();
    let mut g = c.benchmark_group("calls");
    g.bench_function("host -> wasm (typed, identity)", |b| {
        b.iter(|| id.call(&mut store, 5).unwrap())
    });
    g.throughput(Throughput::Elements(1000));
    g.bench_function("wasm -> host x1000", |b| b.iter(|| loop_host.call(&mut store, 0).unwrap()));
    g.finish();
}

criterion_group!(benches, compile, instantiate, calls);
criterion_main!(benches);
