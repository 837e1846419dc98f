//! Probe: do wasm -> host calls scale across threads? Each thread has its own store and
//! instance from one `InstancePre`; `pure` loops without host calls, `host` calls a
//! linker-defined host function per iteration. Run:
//! `cargo run --release -p ward-nano --example host_call_scaling`.
//! On the 2-core machine (busy): pure 1 -> 2 threads 1.16x; host calls 0.86x (slower with two
//! threads) while Ward's call driver cloned the linker's shared host-function `Arc` on every
//! host call; after it stopped doing so (2026-12-01), host calls 22.4 -> 32.5 Mops/s (1.45x) in a
//! run where other builds held the machine.
use std::time::Instant;
use ward::{Caller, Engine, Linker, Module, Store};
fn main() {
    let engine = Engine::default();
    let m = Module::new(&engine, r#"(module
      (import "h" "f" (func $f (result i32)))
      (func (export "host") (param $n i32) (local $s i32)
        (loop $l (local.set $s (i32.add (local.get $s) (call $f)))
          (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
      (func (export "pure") (param $n i32) (local $s i32)
        (loop $l (local.set $s (i32.add (local.get $s) (i32.const 1))) (local.set $s (i32.add (local.get $s) (i32.const 1)))
          (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))"#).unwrap();
    let mut linker: Linker<()> = Linker::new(&engine);
    linker.func_wrap("h", "f", |_: Caller<'_, ()>| 1i32).unwrap();
    let pre = linker.instantiate_pre(&m).unwrap();
    for export in ["pure", "host"] {
        for threads in [1i32, 2] {
            let n = 20_000_000 / threads;
            let start = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..threads {
                    let pre = pre.clone();
                    let engine = engine.clone();
                    s.spawn(move || {
                        let mut store = Store::new(&engine, ());
                        let i = pre.instantiate(&mut store).unwrap();
                        let f = i.get_typed_func::<i32, ()>(&mut store, export).unwrap();
                        f.call(&mut store, n).unwrap();
                    });
                }
            });
            println!(
                "{export} threads={threads} {:.1} Mops/s",
                20.0 / start.elapsed().as_secs_f64()
            );
        }
    }
}
