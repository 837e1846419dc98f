//! Resource limits through the public embedding API: memory, table elements, instances, fuel,
//! interruption (deadlines), deep recursion and allocation bombs. Each limit must end in a clean
//! error or trap — never a panic, a native stack overflow or a large host allocation.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};
use ward::{
    Config, Engine, Error, Instance, Linker, Memory, MemoryType, Module, RefType, Store,
    StoreLimitsBuilder, Table, TableType, TrapCode, Val,
};

const PAGE: usize = 65536;

fn engine_with(f: impl FnOnce(&mut Config)) -> Engine {
    let mut config = Config::new();
    f(&mut config);
    Engine::new(&config)
}

fn instantiate<T>(store: &mut Store<T>, wat: &str) -> Instance {
    let module = Module::new(store.engine(), wat).expect("test module compiles");
    Instance::new(store, &module, &[]).expect("test module instantiates")
}

fn trap_code(e: &Error) -> TrapCode {
    match e.as_trap() {
        Some(t) => t.code(),
        None => panic!("expected a trap, got {e:?}"),
    }
}

// ---- memory ---------------------------------------------------------------------------------

#[test]
fn memory_over_the_limit_fails_instantiation() {
    let engine = Engine::default();
    let module = Module::new(&engine, "(module (memory (export \"m\") 3))").unwrap();
    let mut store = Store::new(&engine, ());
    store.limiter(StoreLimitsBuilder::new().memory_size(2 * PAGE).build());
    let e = Instance::new(&mut store, &module, &[]).unwrap_err();
    assert!(matches!(e, Error::Limit(_)), "{e:?}");
    assert!(e.to_string().contains("resource limit exceeded"), "{e}");

    // Exactly at the limit is fine.
    let module = Module::new(&engine, "(module (memory (export \"m\") 2))").unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let mem = instance.get_memory(&store, "m").unwrap();
    assert_eq!(mem.data_size(&store), 2 * PAGE);
}

#[test]
fn memory_grow_past_the_limit_returns_minus_one() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    store.limiter(StoreLimitsBuilder::new().memory_size(4 * PAGE).build());
    let instance = instantiate(
        &mut store,
        r#"(module
            (memory (export "m") 1)
            (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
            (func (export "size") (result i32) (memory.size)))"#,
    );
    let grow = instance.get_typed_func::<i32, i32>(&store, "grow").unwrap();
    let size = instance.get_typed_func::<(), i32>(&store, "size").unwrap();
    assert_eq!(grow.call(&mut store, 4).unwrap(), -1, "1 + 4 pages is past the 4-page limit");
    assert_eq!(size.call(&mut store, ()).unwrap(), 1, "a failed grow changes nothing");
    assert_eq!(grow.call(&mut store, 3).unwrap(), 1);
    assert_eq!(size.call(&mut store, ()).unwrap(), 4);
    assert_eq!(grow.call(&mut store, 1).unwrap(), -1);
    assert_eq!(grow.call(&mut store, 0).unwrap(), 4, "growing by zero always succeeds");

    // The embedder's view agrees, and growing from the host is refused the same way.
    let mem = instance.get_memory(&store, "m").unwrap();
    assert_eq!(mem.data_size(&store), 4 * PAGE);
    assert!(matches!(mem.grow(&mut store, 1), Err(Error::Limit(_))));
}

#[test]
fn memory_limit_applies_to_host_created_memories() {
    let mut store = Store::new(&Engine::default(), ());
    store.limiter(StoreLimitsBuilder::new().memory_size(PAGE).build());
    let e = Memory::new(&mut store, MemoryType::new(2, None)).unwrap_err();
    assert!(matches!(e, Error::Limit(_)), "{e:?}");
    let e = Memory::new(&mut store, MemoryType::new64(2, None)).unwrap_err();
    assert!(matches!(e, Error::Limit(_)), "{e:?}");
    let m = Memory::new(&mut store, MemoryType::new(1, None)).unwrap();
    assert!(m.grow(&mut store, 1).is_err());
}

#[test]
fn four_gib_memory_grow_fails_fast() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    store.limiter(StoreLimitsBuilder::new().memory_size(16 << 20).build());
    let instance = instantiate(
        &mut store,
        r#"(module
            (memory 1)
            (memory $m64 i64 1)
            (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
            (func (export "grow64") (param i64) (result i64) (memory.grow $m64 (local.get 0))))"#,
    );
    let grow = instance.get_typed_func::<i32, i32>(&store, "grow").unwrap();
    let grow64 = instance.get_typed_func::<i64, i64>(&store, "grow64").unwrap();
    let start = Instant::now();
    // 65536 pages = 4 GiB; 0xffff_ffff pages is the largest 32-bit operand.
    assert_eq!(grow.call(&mut store, 65536).unwrap(), -1);
    assert_eq!(grow.call(&mut store, -1).unwrap(), -1);
    assert_eq!(grow64.call(&mut store, 65536).unwrap(), -1);
    assert_eq!(grow64.call(&mut store, 1 << 40).unwrap(), -1);
    assert_eq!(grow64.call(&mut store, -1).unwrap(), -1);
    assert!(start.elapsed() < Duration::from_secs(1), "took {:?}", start.elapsed());

    // Without a store limit the index space still bounds a 32-bit memory: 1 + 65536 pages is
    // more than 4 GiB, so the grow fails at once, without committing anything.
    let mut store = Store::new(&engine, ());
    let instance = instantiate(
        &mut store,
        r#"(module
            (memory 1)
            (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#,
    );
    let grow = instance.get_typed_func::<i32, i32>(&store, "grow").unwrap();
    let start = Instant::now();
    assert_eq!(grow.call(&mut store, 65536).unwrap(), -1);
    assert_eq!(grow.call(&mut store, -1).unwrap(), -1);
    assert!(start.elapsed() < Duration::from_secs(1), "took {:?}", start.elapsed());
}

// ---- tables ---------------------------------------------------------------------------------

#[test]
fn table_elements_limit() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    store.limiter(StoreLimitsBuilder::new().table_elements(10).build());

    let big = Module::new(&engine, "(module (table 11 funcref))").unwrap();
    let e = Instance::new(&mut store, &big, &[]).unwrap_err();
    assert!(matches!(e, Error::Limit(_)), "{e:?}");

    let instance = instantiate(
        &mut store,
        r#"(module
            (table (export "t") 4 funcref)
            (func (export "grow") (param i32) (result i32)
                (table.grow (ref.null func) (local.get 0)))
            (func (export "size") (result i32) (table.size)))"#,
    );
    let grow = instance.get_typed_func::<i32, i32>(&store, "grow").unwrap();
    let size = instance.get_typed_func::<(), i32>(&store, "size").unwrap();
    assert_eq!(grow.call(&mut store, 7).unwrap(), -1, "4 + 7 is past the limit of 10");
    assert_eq!(size.call(&mut store, ()).unwrap(), 4);
    assert_eq!(grow.call(&mut store, 6).unwrap(), 4);
    assert_eq!(grow.call(&mut store, 1).unwrap(), -1);
    // A huge request fails at once, without allocating.
    let start = Instant::now();
    assert_eq!(grow.call(&mut store, -1).unwrap(), -1);
    assert!(start.elapsed() < Duration::from_secs(1));

    let table = instance.get_table(&store, "t").unwrap();
    assert!(matches!(table.grow(&mut store, 1, Val::FuncRef(None)), Err(Error::Limit(_))));
    let e = Table::new(&mut store, TableType::new(RefType::FUNCREF, 11, None), Val::FuncRef(None))
        .unwrap_err();
    assert!(matches!(e, Error::Limit(_)), "{e:?}");
}

#[test]
fn huge_table_without_a_limit_fails_fast() {
    // No store limit: a table.grow of billions of elements must still fail quickly (-1) rather
    // than try to allocate.
    let mut store = Store::new(&Engine::default(), ());
    let instance = instantiate(
        &mut store,
        r#"(module
            (table 0 externref)
            (func (export "grow") (param i32) (result i32)
                (table.grow (ref.null extern) (local.get 0))))"#,
    );
    let grow = instance.get_typed_func::<i32, i32>(&store, "grow").unwrap();
    let start = Instant::now();
    assert_eq!(grow.call(&mut store, -1).unwrap(), -1);
    assert_eq!(grow.call(&mut store, i32::MAX).unwrap(), -1);
    assert!(start.elapsed() < Duration::from_secs(1), "took {:?}", start.elapsed());
}

// ---- instances ------------------------------------------------------------------------------

#[test]
fn instance_count_limit() {
    let engine = Engine::default();
    let module = Module::new(&engine, "(module (func (export \"f\")))").unwrap();
    let mut store = Store::new(&engine, ());
    store.limiter(StoreLimitsBuilder::new().instances(3).build());
    for _ in 0..3 {
        Instance::new(&mut store, &module, &[]).unwrap();
    }
    let e = Instance::new(&mut store, &module, &[]).unwrap_err();
    assert!(matches!(e, Error::Limit(_)), "{e:?}");
    assert!(e.to_string().contains("instance limit"), "{e}");
    // The linker path is limited too.
    let linker = Linker::<()>::new(&engine);
    assert!(matches!(linker.instantiate(&mut store, &module), Err(Error::Limit(_))));
    // Another store has its own count.
    let mut other = Store::new(&engine, ());
    other.limiter(StoreLimitsBuilder::new().instances(1).build());
    Instance::new(&mut other, &module, &[]).unwrap();
}

// ---- fuel -----------------------------------------------------------------------------------

const COUNTER: &str = r#"(module
    (func (export "count") (param $n i32) (result i32)
        (local $i i32)
        (block $done
            (loop $next
                (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $next)))
        (local.get $i))
    (func (export "spin") (loop $l (br $l))))"#;

fn fuel_engine() -> Engine {
    engine_with(|c| {
        c.consume_fuel(true);
    })
}

#[test]
fn out_of_fuel_traps_and_refill_resumes() {
    let engine = fuel_engine();
    let mut store = Store::new(&engine, ());
    let instance = instantiate(&mut store, COUNTER);
    let count = instance.get_typed_func::<i32, i32>(&store, "count").unwrap();
    let spin = instance.get_typed_func::<(), ()>(&store, "spin").unwrap();

    // With no fuel, nothing runs.
    store.set_fuel(0).unwrap();
    let e = count.call(&mut store, 10).unwrap_err();
    assert_eq!(trap_code(&e), TrapCode::OutOfFuel);
    assert!(e.to_string().contains("all fuel consumed"), "{e}");

    // An infinite loop ends when the fuel does.
    store.set_fuel(100_000).unwrap();
    let e = spin.call(&mut store, ()).unwrap_err();
    assert_eq!(trap_code(&e), TrapCode::OutOfFuel);
    assert!(store.get_fuel().unwrap() < 100_000);

    // A bounded loop that needs more than there is traps, then succeeds once refilled.
    store.set_fuel(50).unwrap();
    assert_eq!(trap_code(&count.call(&mut store, 1000).unwrap_err()), TrapCode::OutOfFuel);
    store.set_fuel(1_000_000).unwrap();
    assert_eq!(count.call(&mut store, 1000).unwrap(), 1000);
    let left = store.get_fuel().unwrap();
    assert!(left > 0 && left < 1_000_000, "{left}");
}

#[test]
fn fuel_consumption_is_deterministic() {
    let engine = fuel_engine();
    let consumed = |store: &mut Store<()>, n: i32| {
        let instance = instantiate(store, COUNTER);
        let count = instance.get_typed_func::<i32, i32>(&*store, "count").unwrap();
        store.set_fuel(10_000_000).unwrap();
        assert_eq!(count.call(&mut *store, n).unwrap(), n);
        10_000_000 - store.get_fuel().unwrap()
    };
    let mut a = Store::new(&engine, ());
    let mut b = Store::new(&engine, ());
    let first = consumed(&mut a, 5000);
    assert_eq!(consumed(&mut b, 5000), first, "same program, same fuel, in another store");
    assert_eq!(consumed(&mut a, 5000), first, "and again in the same store");
    // Fuel grows with the work done: at least one unit per loop iteration.
    let small = consumed(&mut a, 100);
    assert!(first > small && first >= 5000, "{first} vs {small}");

    // The point at which a budget runs out is deterministic too.
    let run_out = |budget: u64| {
        let mut store = Store::new(&engine, ());
        let instance = instantiate(&mut store, COUNTER);
        let count = instance.get_typed_func::<i32, i32>(&store, "count").unwrap();
        store.set_fuel(budget).unwrap();
        let r = count.call(&mut store, 1 << 30).unwrap_err();
        assert_eq!(trap_code(&r), TrapCode::OutOfFuel);
        store.get_fuel().unwrap()
    };
    assert_eq!(run_out(12_345), run_out(12_345));
}

#[test]
fn fuel_is_shared_by_nested_host_and_wasm_calls() {
    // wasm -> host -> wasm: the inner call draws on the same budget, and running out inside it
    // ends the whole computation with OutOfFuel.
    let engine = fuel_engine();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap(
            "host",
            "reenter",
            |mut caller: ward::Caller<'_, ()>, n: i32| -> ward::Result<i32> {
                let f = caller.get_export("count").and_then(|e| e.into_func()).unwrap();
                let mut out = [Val::I32(0)];
                f.call(&mut caller, &[Val::I32(n)], &mut out)?;
                Ok(out[0].unwrap_i32())
            },
        )
        .unwrap();
    let module = Module::new(
        &engine,
        r#"(module
            (import "host" "reenter" (func $reenter (param i32) (result i32)))
            (func (export "outer") (param i32) (result i32) (call $reenter (local.get 0)))
            (func (export "count") (param $n i32) (result i32)
                (local $i i32)
                (block $done
                    (loop $next
                        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
                        (local.set $i (i32.add (local.get $i) (i32.const 1)))
                        (br $next)))
                (local.get $i)))"#,
    )
    .unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let outer = instance.get_typed_func::<i32, i32>(&store, "outer").unwrap();
    store.set_fuel(1_000_000).unwrap();
    assert_eq!(outer.call(&mut store, 100).unwrap(), 100);
    store.set_fuel(1_000).unwrap();
    let e = outer.call(&mut store, 1 << 30).unwrap_err();
    assert_eq!(trap_code(&e), TrapCode::OutOfFuel, "{e}");
}

// ---- interruption ---------------------------------------------------------------------------

#[test]
fn interrupt_from_another_thread_stops_an_infinite_loop() {
    let engine = engine_with(|c| {
        c.interruptible(true);
    });
    let mut store = Store::new(&engine, ());
    let instance = instantiate(
        &mut store,
        r#"(module
            (func $spin (loop $l (br $l)))
            (func (export "spin") (call $spin))
            (func (export "ok") (result i32) (i32.const 7)))"#,
    );
    let spin = instance.get_typed_func::<(), ()>(&store, "spin").unwrap();
    let ok = instance.get_typed_func::<(), i32>(&store, "ok").unwrap();
    let handle = store.interrupt_handle();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let killer = thread::spawn(move || {
        started_rx.recv().unwrap();
        thread::sleep(Duration::from_millis(50));
        handle.interrupt();
    });
    started_tx.send(()).unwrap();
    let start = Instant::now();
    let e = spin.call(&mut store, ()).unwrap_err();
    assert_eq!(trap_code(&e), TrapCode::Interrupted);
    assert!(e.to_string().contains("interrupted"), "{e}");
    assert!(start.elapsed() < Duration::from_secs(10), "took {:?}", start.elapsed());
    killer.join().unwrap();

    // The request is sticky until reset; then the store runs wasm again.
    assert_eq!(trap_code(&ok.call(&mut store, ()).unwrap_err()), TrapCode::Interrupted);
    store.interrupt_handle().reset();
    assert_eq!(ok.call(&mut store, ()).unwrap(), 7);
}

#[test]
fn deadline_interrupts_deep_recursion_and_loops_in_callees() {
    // A deadline built from the interrupt handle: a watchdog thread interrupts after a timeout.
    // The guest spins inside a callee of a callee, in a loop that makes calls, so checkpoints on
    // both function entry and loop back-edges are exercised.
    let engine = engine_with(|c| {
        c.interruptible(true);
    });
    let mut store = Store::new(&engine, ());
    let instance = instantiate(
        &mut store,
        r#"(module
            (func $leaf (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
            (func $mid (local $x i32) (loop $l (local.set $x (call $leaf (local.get $x))) (br $l)))
            (func (export "run") (call $mid)))"#,
    );
    let run = instance.get_typed_func::<(), ()>(&store, "run").unwrap();
    let handle = store.interrupt_handle();
    let deadline = Duration::from_millis(100);
    let watchdog = thread::spawn(move || {
        thread::sleep(deadline);
        handle.interrupt();
    });
    let start = Instant::now();
    let e = run.call(&mut store, ()).unwrap_err();
    let elapsed = start.elapsed();
    watchdog.join().unwrap();
    assert_eq!(trap_code(&e), TrapCode::Interrupted);
    assert!(elapsed >= deadline / 2 && elapsed < Duration::from_secs(10), "{elapsed:?}");
}

#[test]
fn interrupt_and_fuel_together() {
    let engine = engine_with(|c| {
        c.interruptible(true).consume_fuel(true);
    });
    let mut store = Store::new(&engine, ());
    let instance = instantiate(&mut store, COUNTER);
    let spin = instance.get_typed_func::<(), ()>(&store, "spin").unwrap();
    // Fuel runs out first when there is little of it...
    store.set_fuel(1000).unwrap();
    assert_eq!(trap_code(&spin.call(&mut store, ()).unwrap_err()), TrapCode::OutOfFuel);
    // ...and an interrupt wins when there is plenty.
    store.set_fuel(u64::MAX).unwrap();
    let handle = store.interrupt_handle();
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(30));
        handle.interrupt();
    });
    assert_eq!(trap_code(&spin.call(&mut store, ()).unwrap_err()), TrapCode::Interrupted);
    t.join().unwrap();
}

// ---- stack ----------------------------------------------------------------------------------

/// Runs `f` on a thread with a small native stack: if the interpreter recursed natively for wasm
/// calls, the deep-recursion tests would overflow it and abort the test process.
fn on_small_stack<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    thread::Builder::new().stack_size(256 * 1024).spawn(f).unwrap().join().unwrap()
}

#[test]
fn infinite_recursion_is_a_clean_trap() {
    on_small_stack(|| {
        let mut store = Store::new(&Engine::default(), ());
        let instance = instantiate(
            &mut store,
            r#"(module
                (func $f (export "f") (call $f))
                (func $g (export "g") (param i64) (result i64)
                    (i64.add (call $g (i64.add (local.get 0) (i64.const 1))) (i64.const 1))))"#,
        );
        let f = instance.get_typed_func::<(), ()>(&store, "f").unwrap();
        let e = f.call(&mut store, ()).unwrap_err();
        assert_eq!(trap_code(&e), TrapCode::StackOverflow);
        assert!(e.to_string().contains("call stack exhausted"), "{e}");
        let g = instance.get_typed_func::<i64, i64>(&store, "g").unwrap();
        assert_eq!(trap_code(&g.call(&mut store, 0).unwrap_err()), TrapCode::StackOverflow);
        // The store is still usable afterwards.
        assert_eq!(trap_code(&f.call(&mut store, ()).unwrap_err()), TrapCode::StackOverflow);
    });
}

#[test]
fn recursion_with_large_frames_exhausts_the_value_stack_cleanly() {
    on_small_stack(|| {
        let engine = engine_with(|c| {
            c.max_wasm_stack(64 * 1024);
        });
        let mut store = Store::new(&engine, ());
        // Each frame has 200 v128 locals (3200 bytes): the value stack runs out long before
        // the call depth limit.
        let locals = "(local v128) ".repeat(200);
        let wat = format!(r#"(module (func $f (export "f") {locals} (call $f)))"#);
        let instance = instantiate(&mut store, &wat);
        let f = instance.get_typed_func::<(), ()>(&store, "f").unwrap();
        assert_eq!(trap_code(&f.call(&mut store, ()).unwrap_err()), TrapCode::StackOverflow);
    });
}

#[test]
fn call_depth_limit_is_configurable() {
    on_small_stack(|| {
        let engine = engine_with(|c| {
            c.max_call_depth(100);
        });
        let mut store = Store::new(&engine, ());
        let instance = instantiate(
            &mut store,
            r#"(module
                (func $down (export "down") (param i32) (result i32)
                    (if (result i32) (i32.eqz (local.get 0))
                        (then (i32.const 0))
                        (else (i32.add (i32.const 1)
                            (call $down (i32.sub (local.get 0) (i32.const 1))))))))"#,
        );
        let down = instance.get_typed_func::<i32, i32>(&store, "down").unwrap();
        assert_eq!(down.call(&mut store, 50).unwrap(), 50);
        assert_eq!(trap_code(&down.call(&mut store, 10_000).unwrap_err()), TrapCode::StackOverflow);
        assert_eq!(down.call(&mut store, 50).unwrap(), 50, "usable after the trap");
    });
}

#[test]
fn deep_recursion_through_the_host_is_a_clean_trap() {
    // wasm -> host -> wasm -> host ... : each host call re-enters the interpreter on the native
    // stack. Unbounded, it must end in a trap, not a native stack overflow; bounded (a few
    // levels), it must work.
    on_small_stack(|| {
        let engine = Engine::default();
        let mut store = Store::new(&engine, 0u32);
        let mut linker = Linker::new(&engine);
        linker
            .func_wrap(
                "host",
                "again",
                |mut caller: ward::Caller<'_, u32>, n: i32| -> ward::Result<i32> {
                    *caller.data_mut() = (*caller.data()).max(n as u32);
                    let f = caller.get_export("f").and_then(|e| e.into_func()).unwrap();
                    let mut out = [Val::I32(0)];
                    f.call(&mut caller, &[Val::I32(n + 1)], &mut out)?;
                    Ok(out[0].unwrap_i32())
                },
            )
            .unwrap();
        let module = Module::new(
            &engine,
            r#"(module
                (import "host" "again" (func $again (param i32) (result i32)))
                (global $stop (mut i32) (i32.const -1))
                (func (export "set_stop") (param i32) (global.set $stop (local.get 0)))
                (func (export "f") (param i32) (result i32)
                    (if (result i32) (i32.eq (local.get 0) (global.get $stop))
                        (then (local.get 0))
                        (else (call $again (local.get 0))))))"#,
        )
        .unwrap();
        let instance = linker.instantiate(&mut store, &module).unwrap();
        let f = instance.get_typed_func::<i32, i32>(&store, "f").unwrap();
        let set_stop = instance.get_typed_func::<i32, ()>(&store, "set_stop").unwrap();

        let e = f.call(&mut store, 0).unwrap_err();
        assert_eq!(trap_code(&e), TrapCode::StackOverflow, "{e}");
        assert!(e.to_string().contains("call stack exhausted"), "{e}");
        let reached = *store.data();
        assert!((8..10_000).contains(&reached), "nesting reached {reached}");

        // The store is usable afterwards, and moderate nesting works.
        set_stop.call(&mut store, 8).unwrap();
        assert_eq!(f.call(&mut store, 0).unwrap(), 8);
        assert_eq!(trap_code(&f.call(&mut store, 9).unwrap_err()), TrapCode::StackOverflow);
    });
}

/// Bulk memory operations are charged by length, so fuel bounds them as well as loops.
#[test]
fn bulk_memory_costs_fuel_by_length() {
    let mut config = Config::new();
    config.consume_fuel(true);
    let engine = Engine::new(&config);
    let module = Module::new(
        &engine,
        r#"(module (memory 256)
             (func (export "fill") (param i32)
               (memory.fill (i32.const 0) (i32.const 7) (local.get 0))))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &module).unwrap();
    let fill = instance.get_typed_func::<i32, ()>(&store, "fill").unwrap();
    // 16 MiB costs 262,144 units: more than the budget.
    store.set_fuel(100_000).unwrap();
    let err = fill.call(&mut store, 16 << 20).unwrap_err();
    assert_eq!(err.as_trap().map(|t| t.code()), Some(TrapCode::OutOfFuel));
    // A small fill fits, and costs more than an empty one.
    store.set_fuel(100_000).unwrap();
    fill.call(&mut store, 0).unwrap();
    let empty = 100_000 - store.get_fuel().unwrap();
    store.set_fuel(100_000).unwrap();
    fill.call(&mut store, 64 * 100).unwrap();
    let hundred_blocks = 100_000 - store.get_fuel().unwrap();
    assert_eq!(hundred_blocks, empty + 100);
}

/// A resource limiter sees every growth, from wasm and from the API, and can refuse it.
#[test]
fn resource_limiter_decides_each_growth() {
    use std::sync::{Arc, Mutex};
    type Growth = (&'static str, u64, u64);
    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<Growth>>>);
    impl ward::ResourceLimiter for Log {
        fn memory_growing(&mut self, current: u64, desired: u64, _max: Option<u64>) -> bool {
            self.0.lock().unwrap().push(("memory", current, desired));
            desired <= 3 * 65536
        }
        fn table_growing(&mut self, current: u64, desired: u64, _max: Option<u64>) -> bool {
            self.0.lock().unwrap().push(("table", current, desired));
            desired <= 5
        }
    }
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module (memory (export "m") 1) (table 2 funcref)
             (func (export "grow_mem") (param i32) (result i32) (memory.grow (local.get 0)))
             (func (export "grow_tab") (param i32) (result i32)
               (table.grow (ref.null func) (local.get 0))))"#,
    )
    .unwrap();
    let log = Log::default();
    let mut store = Store::new(&engine, ());
    store.resource_limiter(log.clone());
    let instance = Linker::new(&engine).instantiate(&mut store, &module).unwrap();
    let grow_mem = instance.get_typed_func::<i32, i32>(&store, "grow_mem").unwrap();
    let grow_tab = instance.get_typed_func::<i32, i32>(&store, "grow_tab").unwrap();
    assert_eq!(grow_mem.call(&mut store, 2).unwrap(), 1);
    assert_eq!(grow_mem.call(&mut store, 1).unwrap(), -1, "refused: 4 pages > 3");
    assert_eq!(grow_tab.call(&mut store, 3).unwrap(), 2);
    assert_eq!(grow_tab.call(&mut store, 1).unwrap(), -1, "refused: 6 elements > 5");
    let m = instance.get_memory(&store, "m").unwrap();
    assert!(m.grow(&mut store, 1).is_err(), "the API asks the limiter too");
    let seen = log.0.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            ("memory", 65536, 3 * 65536),
            ("memory", 3 * 65536, 4 * 65536),
            ("table", 2, 5),
            ("table", 5, 6),
            ("memory", 3 * 65536, 4 * 65536),
        ]
    );
}
