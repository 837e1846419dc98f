//! Calls that park, async calls and epoch deadlines (runtime v2): a host function can park a
//! call and another thread can resume it; async host functions run under tokio; a busy guest
//! yields to the executor at epoch deadlines and fuel intervals.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use ward::{
    CallStatus, Caller, Config, Engine, Error, Instance, Linker, Module, Store, TrapCode,
    UpdateDeadline, Val,
};

fn engine_with(f: impl FnOnce(&mut Config)) -> Engine {
    let mut config = Config::new();
    f(&mut config);
    Engine::new(&config)
}

fn trap_code(e: &Error) -> TrapCode {
    e.as_trap().map(|t| t.code()).unwrap_or_else(|| panic!("expected a trap, got {e:?}"))
}

/// A guest that sums three messages it receives from a host `receive` that always parks.
const RECEIVER: &str = r#"(module
    (import "host" "receive" (func $receive (param i32) (result i32)))
    (func (export "sum3") (result i32)
      (i32.add (call $receive (i32.const 1))
        (i32.add (call $receive (i32.const 2)) (call $receive (i32.const 3))))))"#;

fn receiver_linker(engine: &Engine) -> Linker<()> {
    let mut linker = Linker::new(engine);
    linker
        .func_wrap("host", "receive", |_: Caller<'_, ()>, _slot: i32| -> ward::Result<i32> {
            Err(Error::Park)
        })
        .unwrap();
    linker
}

#[test]
fn a_parked_call_resumes_on_another_thread() {
    let engine = Engine::default();
    let module = Module::new(&engine, RECEIVER).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = receiver_linker(&engine).instantiate(&mut store, &module).unwrap();
    let sum3 = instance.get_func(&mut store, "sum3").unwrap();
    let mut out = [Val::I32(0)];
    let mut status = sum3.call_resumable(&mut store, &[], &mut out).unwrap();
    let mut asked = Vec::new();
    let mut messages = [100, 20, 3].into_iter();
    while let CallStatus::Parked(parked) = status {
        asked.push(parked.host_params(&store)[0]);
        let message = messages.next().expect("three receives");
        // The store and the parked call move to another thread and resume there.
        let (s, st, o) = std::thread::spawn(move || {
            let mut out = [Val::I32(0)];
            let st = parked.resume(&mut store, &[Val::I32(message)], &mut out).unwrap();
            (store, st, out)
        })
        .join()
        .unwrap();
        store = s;
        status = st;
        out = o;
    }
    assert_eq!(out[0], Val::I32(123));
    // Wasm evaluates the operands left to right: receive(1) first.
    assert_eq!(asked, vec![Val::I32(1), Val::I32(2), Val::I32(3)]);
}

#[test]
fn a_plain_call_cannot_park() {
    let engine = Engine::default();
    let module = Module::new(&engine, RECEIVER).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = receiver_linker(&engine).instantiate(&mut store, &module).unwrap();
    let sum3 = instance.get_typed_func::<(), i32>(&mut store, "sum3").unwrap();
    let e = sum3.call(&mut store, ()).unwrap_err();
    assert!(e.to_string().contains("call_resumable"), "{e}");
    // The store is still usable: a resumable call parks as asked.
    let f = instance.get_func(&mut store, "sum3").unwrap();
    let status = f.call_resumable(&mut store, &[], &mut [Val::I32(0)]).unwrap();
    assert!(matches!(status, CallStatus::Parked(_)));
}

/// A parked call holds an exception reference in a local while other calls in the store throw
/// enough exceptions to run the collector: the parked call's stack is a root.
#[test]
fn exceptions_held_by_a_parked_call_survive_collections() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
            (import "host" "wait" (func $wait))
            (tag $e (param i32))
            (func $catch (param i32) (result exnref)
              (block $h (result exnref)
                (try_table (catch_all_ref $h) (throw $e (local.get 0)))
                (ref.null exn)))
            (func (export "hold") (result i32) (local $x exnref)
              (local.set $x (call $catch (i32.const 77)))
              (call $wait)
              (block $h (result i32)
                (try_table (catch $e $h) (throw_ref (local.get $x)))
                (i32.const -1)))
            (func (export "churn") (param $n i32)
              (loop $l
                (drop (call $catch (local.get $n)))
                (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))"#,
    )
    .unwrap();
    let mut linker: Linker<()> = Linker::new(&engine);
    linker
        .func_wrap("host", "wait", |_: Caller<'_, ()>| -> ward::Result<()> { Err(Error::Park) })
        .unwrap();
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let hold = instance.get_func(&mut store, "hold").unwrap();
    let mut out = [Val::I32(0)];
    let CallStatus::Parked(parked) = hold.call_resumable(&mut store, &[], &mut out).unwrap() else {
        panic!("expected to park");
    };
    let churn = instance.get_typed_func::<i32, ()>(&mut store, "churn").unwrap();
    churn.call(&mut store, 20_000).unwrap();
    let status = parked.resume(&mut store, &[], &mut out).unwrap();
    assert!(matches!(status, CallStatus::Finished));
    assert_eq!(out[0], Val::I32(77));
}

const SPIN: &str = r#"(module
    (import "host" "stop" (func $stop (result i32)))
    (func (export "spin") (result i32) (local $n i32)
      (loop $l
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br_if $l (i32.eqz (call $stop))))
      (local.get $n))
    (func (export "forever") (loop (br 0))))"#;

#[test]
fn an_epoch_deadline_traps_a_spinning_guest() {
    let engine = engine_with(|c| {
        c.epoch_interruption(true);
    });
    let module = Module::new(&engine, SPIN).unwrap();
    let mut store = Store::new(&engine, ());
    let mut linker: Linker<()> = Linker::new(&engine);
    linker.func_wrap("host", "stop", || 0i32).unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let forever = instance.get_typed_func::<(), ()>(&mut store, "forever").unwrap();
    store.set_epoch_deadline(2);
    let timer = engine.clone();
    let ticker = std::thread::spawn(move || {
        for _ in 0..2 {
            std::thread::sleep(Duration::from_millis(5));
            timer.increment_epoch();
        }
    });
    let e = forever.call(&mut store, ()).unwrap_err();
    assert_eq!(trap_code(&e), TrapCode::Interrupted);
    ticker.join().unwrap();
}

#[test]
fn an_epoch_callback_extends_the_deadline_and_can_end_the_call() {
    let engine = engine_with(|c| {
        c.epoch_interruption(true);
    });
    let module = Module::new(&engine, SPIN).unwrap();
    let mut store = Store::new(&engine, 0u32);
    let mut linker: Linker<u32> = Linker::new(&engine);
    linker.func_wrap("host", "stop", || 0i32).unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let forever = instance.get_typed_func::<(), ()>(&mut store, "forever").unwrap();
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|mut cx| {
        *cx.data_mut() += 1;
        if *cx.data() < 3 {
            Ok(UpdateDeadline::Continue(1))
        } else {
            Err(ward::Trap::host("three slices are enough").into())
        }
    });
    let done = Arc::new(AtomicBool::new(false));
    let (timer, stop) = (engine.clone(), done.clone());
    let ticker = std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(2));
            timer.increment_epoch();
        }
    });
    let e = forever.call(&mut store, ()).unwrap_err();
    done.store(true, Ordering::Relaxed);
    ticker.join().unwrap();
    assert!(e.to_string().contains("three slices"), "{e}");
    assert_eq!(*store.data(), 3);
}

/// Two guests on a single-threaded tokio runtime: one spins until the other, an async task,
/// tells it to stop. Without yields at epoch deadlines the spinning guest would hold the only
/// thread forever (and end by running out of fuel instead).
#[test]
fn a_spinning_guest_yields_to_other_tasks_at_epoch_deadlines() {
    let engine = engine_with(|c| {
        c.epoch_interruption(true).async_support(true).consume_fuel(true);
    });
    let module = Module::new(&engine, SPIN).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut linker: Linker<()> = Linker::new(&engine);
    let flag = stop.clone();
    linker.func_wrap("host", "stop", move || flag.load(Ordering::Relaxed) as i32).unwrap();
    let mut store = Store::new(&engine, ());
    store.set_fuel(500_000_000).unwrap();
    store.set_epoch_deadline(1);
    store.epoch_deadline_async_yield_and_update(1);
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let spin = instance.get_typed_func::<(), i32>(&mut store, "spin").unwrap();

    let ticking = Arc::new(AtomicBool::new(true));
    let (timer, running) = (engine.clone(), ticking.clone());
    let ticker = std::thread::spawn(move || {
        while running.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(1));
            timer.increment_epoch();
        }
    });
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let result = rt.block_on(async {
        let stopper = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            stop.store(true, Ordering::Relaxed);
        });
        let n = spin.call_async(&mut store, ()).await;
        stopper.await.unwrap();
        n
    });
    ticking.store(false, Ordering::Relaxed);
    ticker.join().unwrap();
    let n = result.expect("stopped by the other task, not by running out of fuel");
    assert!(n > 0);
}

#[test]
fn async_host_functions_run_under_tokio() {
    let engine = engine_with(|c| {
        c.async_support(true);
    });
    let module = Module::new(
        &engine,
        r#"(module
            (import "host" "slow_double" (func $d (param i32) (result i32)))
            (func (export "run") (param i32) (result i32)
              (call $d (call $d (local.get 0)))))"#,
    )
    .unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let mut linker: Linker<Arc<AtomicU32>> = Linker::new(&engine);
    linker
        .func_wrap_async(
            "host",
            "slow_double",
            |caller: Caller<'_, Arc<AtomicU32>>, (x,): (i32,)| {
                Box::pin(async move {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    caller.data().fetch_add(1, Ordering::Relaxed);
                    Ok(x * 2)
                })
            },
        )
        .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let mut store = Store::new(&engine, calls.clone());
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let run = instance.get_typed_func::<i32, i32>(&mut store, "run").unwrap();
    // The call future is `Send`: it can be spawned on a multi-threaded runtime.
    let handle = rt.spawn(async move { run.call_async(&mut store, 5).await });
    assert_eq!(rt.block_on(handle).unwrap().unwrap(), 20);
    assert_eq!(calls.load(Ordering::Relaxed), 2);

    // A plain call that reaches an async host function fails clearly.
    let mut store = Store::new(&engine, calls);
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let run = instance.get_typed_func::<i32, i32>(&mut store, "run").unwrap();
    let e = run.call(&mut store, 1).unwrap_err();
    assert!(e.to_string().contains("call_async"), "{e}");
}

/// With a fuel interval, an async call returns `Pending` to its poller every so often.
#[test]
fn async_calls_yield_every_fuel_interval() {
    let engine = engine_with(|c| {
        c.async_support(true).consume_fuel(true);
    });
    let module = Module::new(
        &engine,
        r#"(module (func (export "count") (param $n i32)
            (loop $l (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    store.set_fuel(10_000_000).unwrap();
    store.fuel_async_yield_interval(10_000);
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let count = instance.get_typed_func::<i32, ()>(&mut store, "count").unwrap();
    let mut call = std::pin::pin!(count.call_async(&mut store, 100_000));
    let mut cx = Context::from_waker(Waker::noop());
    let mut pending = 0;
    loop {
        match call.as_mut().poll(&mut cx) {
            Poll::Ready(r) => break r.unwrap(),
            Poll::Pending => pending += 1,
        }
    }
    // About 400,000 units of fuel (4 per iteration): some 40 intervals.
    assert!((20..=80).contains(&pending), "yielded {pending} times");
}

/// A resumable call made from inside a host function parks its own execution and lets the host
/// function (and the outer call) go on; another host function resumes it later. A host
/// function reached through a nested plain call cannot park.
#[test]
fn a_resumable_call_inside_a_host_function_parks_alone() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
            (import "host" "receive" (func $receive (result i32)))
            (import "host" "spawn" (func $spawn (result i32)))
            (import "host" "finish" (func $finish (result i32)))
            (import "host" "plain" (func $plain (result i32)))
            (func (export "inner") (result i32) (i32.add (call $receive) (i32.const 1)))
            (func (export "outer") (result i32)
              ;; spawn parks `inner` and says 0 (not finished); finish resumes it: 41 + 1.
              (i32.add (i32.mul (call $spawn) (i32.const 1000)) (call $finish)))
            (func (export "nested") (result i32) (call $plain)))"#,
    )
    .unwrap();
    let mut linker: Linker<Vec<ward::ParkedCall>> = Linker::new(&engine);
    linker
        .func_wrap("host", "receive", |c: Caller<'_, Vec<ward::ParkedCall>>| -> ward::Result<i32> {
            if c.can_park() {
                Err(Error::Park)
            } else {
                Ok(-100)
            }
        })
        .unwrap();
    linker
        .func_wrap(
            "host",
            "spawn",
            |mut c: Caller<'_, Vec<ward::ParkedCall>>| -> ward::Result<i32> {
                let inner = c.get_export("inner").and_then(|e| e.into_func()).unwrap();
                let mut out = [Val::I32(0)];
                match inner.call_resumable(&mut c, &[], &mut out)? {
                    CallStatus::Parked(p) => {
                        c.data_mut().push(p);
                        Ok(0)
                    }
                    CallStatus::Finished => Ok(1),
                }
            },
        )
        .unwrap();
    linker
        .func_wrap(
            "host",
            "finish",
            |mut c: Caller<'_, Vec<ward::ParkedCall>>| -> ward::Result<i32> {
                let parked = c.data_mut().pop().expect("a parked call");
                let mut out = [Val::I32(0)];
                let status = parked.resume(&mut c, &[Val::I32(41)], &mut out)?;
                assert!(matches!(status, CallStatus::Finished));
                Ok(out[0].unwrap_i32())
            },
        )
        .unwrap();
    linker
        .func_wrap(
            "host",
            "plain",
            |mut c: Caller<'_, Vec<ward::ParkedCall>>| -> ward::Result<i32> {
                // `inner` called plainly from here: its `receive` cannot park.
                let inner = c.get_export("inner").and_then(|e| e.into_func()).unwrap();
                let mut out = [Val::I32(0)];
                inner.call(&mut c, &[], &mut out)?;
                Ok(out[0].unwrap_i32())
            },
        )
        .unwrap();
    let mut store = Store::new(&engine, Vec::new());
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let outer = instance.get_typed_func::<(), i32>(&mut store, "outer").unwrap();
    assert_eq!(outer.call(&mut store, ()).unwrap(), 42);
    assert!(store.data().is_empty());
    let nested = instance.get_typed_func::<(), i32>(&mut store, "nested").unwrap();
    assert_eq!(nested.call(&mut store, ()).unwrap(), -99);
    // A call parked inside a host function can also be resumed from the top level.
    let spawn_only = instance.get_func(&mut store, "inner").unwrap();
    let mut out = [Val::I32(0)];
    let CallStatus::Parked(p) = spawn_only.call_resumable(&mut store, &[], &mut out).unwrap()
    else {
        panic!("expected to park");
    };
    assert!(matches!(
        p.resume(&mut store, &[Val::I32(6)], &mut out).unwrap(),
        CallStatus::Finished
    ));
    assert_eq!(out[0], Val::I32(7));
}
