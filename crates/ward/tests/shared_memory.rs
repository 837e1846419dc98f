//! Shared memories across stores and OS threads (threads proposal): atomic counters, wait and
//! notify, timeouts, interruption, and growth seen by another thread, in both tiers (the guest
//! must compile natively under the native tier, not fall back to the interpreter).

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use ward::{Config, Engine, Instance, MemoryType, Module, SharedMemory, Store, Tier, TrapCode};

const GUEST: &str = r#"(module
  (import "env" "memory" (memory 1 4 shared))
  ;; n times: atomically add 1 at 0, and add 1 at 8 with a cmpxchg loop.
  (func (export "count") (param $n i32)
    (local $old i32)
    (loop $l
      (drop (i32.atomic.rmw.add (i32.const 0) (i32.const 1)))
      (block $done
        (loop $retry
          (local.set $old (i32.atomic.load (i32.const 8)))
          (br_if $done (i32.eq (local.get $old)
            (i32.atomic.rmw.cmpxchg (i32.const 8) (local.get $old)
              (i32.add (local.get $old) (i32.const 1)))))
          (br $retry)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  (func (export "wait") (param $addr i32) (param $expected i32) (param $timeout i64) (result i32)
    (memory.atomic.wait32 (local.get $addr) (local.get $expected) (local.get $timeout)))
  (func (export "notify") (param $addr i32) (param $count i32) (result i32)
    (memory.atomic.notify (local.get $addr) (local.get $count)))
  ;; Ping-pong over the word at 16: wait while it is not `me`, then hand it to the other side.
  ;; The wait expects the value the check saw: loading the word again could read `me`, just
  ;; handed over, and wait for a change that only this side would make.
  (func (export "pingpong") (param $me i32) (param $other i32) (param $rounds i32)
    (local $seen i32)
    (loop $l
      (block $mine
        (loop $w
          (local.set $seen (i32.atomic.load (i32.const 16)))
          (br_if $mine (i32.eq (local.get $seen) (local.get $me)))
          (drop (memory.atomic.wait32 (i32.const 16) (local.get $seen) (i64.const -1)))
          (br $w)))
      (i32.atomic.store (i32.const 32) (i32.add (i32.atomic.load (i32.const 32)) (i32.const 1)))
      (i32.atomic.store (i32.const 16) (local.get $other))
      (drop (memory.atomic.notify (i32.const 16) (i32.const 1)))
      (br_if $l (local.tee $rounds (i32.sub (local.get $rounds) (i32.const 1))))))
  ;; Spins until the flag at 24 is set (by a thread that grew the memory), then reads a
  ;; byte of page 2 with a plain load, all in one call (the length cached at entry is stale).
  (func (export "after_growth") (result i32)
    (loop $spin (br_if $spin (i32.eqz (i32.atomic.load (i32.const 24)))))
    (i32.add (i32.load8_u (i32.const 70000)) (memory.size)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "set_flag") (i32.atomic.store (i32.const 24) (i32.const 1)))
)"#;

/// An engine per tier, each configured by `configure` as well.
fn tiers(configure: impl Fn(&mut Config)) -> [Engine; 2] {
    [Tier::Interpreter, Tier::Native].map(|tier| {
        let mut config = Config::new();
        config.tier(tier);
        configure(&mut config);
        Engine::new(&config)
    })
}

/// A store on its own, importing `shared`, with the guest instantiated in it (natively under a
/// native engine).
fn instantiate(engine: &Engine, shared: &SharedMemory) -> (Store<()>, Instance) {
    let module = Module::new(engine, GUEST).unwrap();
    assert_eq!(module.native_fallback_reason(), None, "the native tier takes atomics");
    let mut store = Store::new(engine, ());
    let memory = shared.memory(&mut store).unwrap();
    assert_eq!(shared.memory(&mut store).unwrap(), memory, "one handle per store");
    let instance = Instance::new(&mut store, &module, &[memory.into()]).unwrap();
    (store, instance)
}

fn read_u32(shared: &SharedMemory, at: usize) -> u32 {
    let mut b = [0u8; 4];
    shared.read(at, &mut b).unwrap();
    u32::from_le_bytes(b)
}

#[test]
fn atomic_counters_from_four_threads_reach_the_exact_total() {
    for engine in tiers(|_| {}) {
        let shared = SharedMemory::new(&engine, MemoryType::shared(1, 4)).unwrap();
        let start = Arc::new(Barrier::new(4));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (engine, shared, start) = (engine.clone(), shared.clone(), start.clone());
                thread::spawn(move || {
                    let (mut store, instance) = instantiate(&engine, &shared);
                    let count = instance.get_typed_func::<i32, ()>(&store, "count").unwrap();
                    start.wait();
                    count.call(&mut store, 25_000).unwrap();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(read_u32(&shared, 0), 100_000, "atomic.rmw.add");
        assert_eq!(read_u32(&shared, 8), 100_000, "cmpxchg loop");
    }
}

#[test]
fn wait_and_notify_ping_pong_between_threads() {
    for engine in tiers(|_| {}) {
        let shared = SharedMemory::new(&engine, MemoryType::shared(1, 4)).unwrap();
        shared.write(16, &1u32.to_le_bytes()).unwrap();
        let threads: Vec<_> = [(1, 2), (2, 1)]
            .into_iter()
            .map(|(me, other)| {
                let (engine, shared) = (engine.clone(), shared.clone());
                thread::spawn(move || {
                    let (mut store, instance) = instantiate(&engine, &shared);
                    let f =
                        instance.get_typed_func::<(i32, i32, i32), ()>(&store, "pingpong").unwrap();
                    f.call(&mut store, (me, other, 500)).unwrap();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(read_u32(&shared, 32), 1000, "every round ran once, in turn");
        assert_eq!(read_u32(&shared, 16), 1, "the last hand-over went back to the first side");
    }
}

#[test]
fn notify_wakes_up_to_count_waiters_and_returns_how_many() {
    for engine in tiers(|_| {}) {
        let shared = SharedMemory::new(&engine, MemoryType::shared(1, 4)).unwrap();
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let (engine, shared) = (engine.clone(), shared.clone());
                thread::spawn(move || {
                    let (mut store, instance) = instantiate(&engine, &shared);
                    let wait =
                        instance.get_typed_func::<(i32, i32, i64), i32>(&store, "wait").unwrap();
                    wait.call(&mut store, (40, 0, 10_000_000_000)).unwrap()
                })
            })
            .collect();
        let (mut store, instance) = instantiate(&engine, &shared);
        let notify = instance.get_typed_func::<(i32, i32), i32>(&store, "notify").unwrap();
        // Wait until all three are queued, then wake two, then the rest.
        let mut woken = 0;
        let started = Instant::now();
        while woken < 2 && started.elapsed() < Duration::from_secs(10) {
            if woken == 0 && shared.atomic_notify(41, 5) != 0 {
                panic!("nobody waits at 41");
            }
            thread::sleep(Duration::from_millis(20));
            woken += notify.call(&mut store, (40, 2 - woken)).unwrap();
        }
        assert_eq!(woken, 2);
        let mut last = 0;
        while last == 0 && started.elapsed() < Duration::from_secs(10) {
            last = notify.call(&mut store, (40, 10)).unwrap();
            thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(last, 1, "one waiter was left");
        for w in waiters {
            assert_eq!(w.join().unwrap(), 0, "\"ok\": woken by a notify");
        }
    }
}

#[test]
fn a_wait_times_out_and_a_mismatch_returns_at_once() {
    for engine in tiers(|_| {}) {
        let shared = SharedMemory::new(&engine, MemoryType::shared(1, 4)).unwrap();
        let (mut store, instance) = instantiate(&engine, &shared);
        let wait = instance.get_typed_func::<(i32, i32, i64), i32>(&store, "wait").unwrap();
        assert_eq!(wait.call(&mut store, (0, 7, -1)).unwrap(), 1, "not-equal");
        let t = Instant::now();
        assert_eq!(wait.call(&mut store, (0, 0, 30_000_000)).unwrap(), 2, "timed-out");
        let waited = t.elapsed();
        assert!(waited >= Duration::from_millis(30), "{waited:?}");
        assert!(waited < Duration::from_secs(5), "{waited:?}");
    }
}

#[test]
fn an_endless_wait_is_interrupted_by_the_store_interrupt_handle() {
    for engine in tiers(|c| {
        c.interruptible(true);
    }) {
        let shared = SharedMemory::new(&engine, MemoryType::shared(1, 4)).unwrap();
        let (mut store, instance) = instantiate(&engine, &shared);
        let wait = instance.get_typed_func::<(i32, i32, i64), i32>(&store, "wait").unwrap();
        let handle = store.interrupt_handle();
        let killer = thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            handle.interrupt();
        });
        let err = wait.call(&mut store, (0, 0, -1)).unwrap_err();
        assert_eq!(err.as_trap().unwrap().code(), TrapCode::Interrupted);
        killer.join().unwrap();
    }
}

#[test]
fn growth_by_one_thread_is_seen_by_code_running_in_another() {
    for engine in tiers(|_| {}) {
        let shared = SharedMemory::new(&engine, MemoryType::shared(1, 4)).unwrap();
        let reader = {
            let (engine, shared) = (engine.clone(), shared.clone());
            thread::spawn(move || {
                let (mut store, instance) = instantiate(&engine, &shared);
                let f = instance.get_typed_func::<(), i32>(&store, "after_growth").unwrap();
                f.call(&mut store, ()).unwrap()
            })
        };
        let (mut store, instance) = instantiate(&engine, &shared);
        thread::sleep(Duration::from_millis(20));
        let grow = instance.get_typed_func::<i32, i32>(&store, "grow").unwrap();
        assert_eq!(grow.call(&mut store, 1).unwrap(), 1);
        shared.write(70000, &[40]).unwrap();
        instance
            .get_typed_func::<(), ()>(&store, "set_flag")
            .unwrap()
            .call(&mut store, ())
            .unwrap();
        assert_eq!(reader.join().unwrap(), 42, "byte 40 of page 2, plus memory.size 2");
        assert_eq!(shared.size(), 2);
        assert_eq!(grow.call(&mut store, 3).unwrap(), -1, "beyond the declared maximum");
    }
}

#[test]
fn shared_memories_refuse_borrows_but_copy_and_grow() {
    for engine in tiers(|_| {}) {
        assert!(SharedMemory::new(&engine, MemoryType::new(1, Some(2))).is_err());
        let shared = SharedMemory::new(&engine, MemoryType::shared(1, 2)).unwrap();
        let mut store = Store::new(&engine, ());
        let m = shared.memory(&mut store).unwrap();
        assert!(m.is_shared(&store));
        assert!(m.shared(&store).unwrap().same(&shared));
        m.write(&mut store, 10, b"abc").unwrap();
        assert_eq!(m.grow(&mut store, 1).unwrap(), 1);
        assert_eq!(shared.size(), 2);
        assert!(m.write(&mut store, 2 * 65536 - 1, b"xy").is_err());
        let base = shared.data_ptr();
        assert!(shared.grow(1).is_err());
        assert_eq!(m.data_ptr(&store), base, "a shared memory never moves");
        let borrowed =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| m.data(&store).len()));
        assert!(borrowed.is_err(), "no &[u8] over shared bytes");
    }
}

#[test]
fn the_guest_runs_natively_under_the_native_tier() {
    let [interp, native] = tiers(|_| {});
    assert_eq!(Module::new(&interp, GUEST).unwrap().tier(), Tier::Interpreter);
    assert_eq!(Module::new(&native, GUEST).unwrap().tier(), Tier::Native);
}

/// Atomics on an unshared memory, at its edges: each export's result or trap, the same in the
/// interpreter and in native code on a guarded memory (where plain accesses leave bounds to the
/// guard region, but an atomic must still check bounds before alignment).
const EDGES: &str = r#"(module
  (memory 1 2)
  (data (i32.const 0) "\ff\00\00\00\05\00\00\00")
  (func (export "load_oob_misaligned") (result i32) (i32.atomic.load (i32.const 65535)))
  (func (export "load_oob_offset") (result i64) (i64.atomic.load offset=65528 (i32.const 8)))
  (func (export "load_misaligned") (result i32) (i32.atomic.load (i32.const 2)))
  (func (export "load_misaligned_offset") (result i32) (i32.atomic.load16_u offset=1 (i32.const 0)))
  (func (export "wait_unshared") (result i32)
    (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const 0)))
  (func (export "wait_unshared_misaligned") (result i32)
    (memory.atomic.wait64 (i32.const 4) (i64.const 0) (i64.const 0)))
  (func (export "notify_unshared") (result i32) (memory.atomic.notify (i32.const 0) (i32.const 3)))
  (func (export "notify_oob") (result i32) (memory.atomic.notify (i32.const 65536) (i32.const 3)))
  ;; byte 0 is 0xff: add 0x1_0000_0001 to it as a byte, old value zero-extended, wraps to 0.
  (func (export "rmw8_add") (result i64)
    (i64.add (i64.atomic.rmw8.add_u (i32.const 0) (i64.const 0x100000001))
             (i64.mul (i64.const 1000) (i64.atomic.load8_u (i32.const 0)))))
  ;; the word at 4 is 5: the expected value is cut to 32 bits, so it matches.
  (func (export "cmpxchg32_truncates") (result i64)
    (i64.add (i64.atomic.rmw32.cmpxchg_u (i32.const 4) (i64.const 0xffffffff00000005) (i64.const 9))
             (i64.mul (i64.const 1000) (i64.atomic.load32_u (i32.const 4)))))
  (func (export "rmw16_sub_wraps") (result i32)
    (i32.add (i32.atomic.rmw16.sub_u (i32.const 8) (i32.const 1))
             (i32.atomic.load16_u (i32.const 8))))
  (func (export "xchg_and_grow") (result i32)
    (drop (memory.grow (i32.const 1)))
    (drop (i32.atomic.rmw.xchg (i32.const 65540) (i32.const 77)))
    (i32.add (i32.atomic.load (i32.const 65540)) (memory.size)))
  (func (export "fence") (result i32) (atomic.fence) (i32.const 1))
)"#;

#[test]
fn atomics_on_unshared_memory_at_its_edges_agree_in_both_tiers() {
    let expected: &[(&str, Result<i64, TrapCode>)] = &[
        ("load_oob_misaligned", Err(TrapCode::MemoryOutOfBounds)),
        ("load_oob_offset", Err(TrapCode::MemoryOutOfBounds)),
        ("load_misaligned", Err(TrapCode::UnalignedAtomic)),
        ("load_misaligned_offset", Err(TrapCode::UnalignedAtomic)),
        ("wait_unshared", Err(TrapCode::ExpectedSharedMemory)),
        ("wait_unshared_misaligned", Err(TrapCode::UnalignedAtomic)),
        ("notify_unshared", Ok(0)),
        ("notify_oob", Err(TrapCode::MemoryOutOfBounds)),
        ("rmw8_add", Ok(0xff)),
        ("cmpxchg32_truncates", Ok(5 + 9000)),
        ("rmw16_sub_wraps", Ok(0xffff)),
        ("xchg_and_grow", Ok(79)),
        ("fence", Ok(1)),
    ];
    for engine in tiers(|c| {
        c.memory_strategy(ward::MemoryStrategy::Guarded);
    }) {
        let module = Module::new(&engine, EDGES).unwrap();
        assert_eq!(module.native_fallback_reason(), None);
        for (name, want) in expected {
            // A fresh instance per export: some of them write.
            let mut store = Store::new(&engine, ());
            let instance = Instance::new(&mut store, &module, &[]).unwrap();
            let f = instance.get_func(&mut store, name).unwrap();
            let mut out = [ward::Val::I32(0)];
            let got = f.call(&mut store, &[], &mut out).map(|()| match out[0] {
                ward::Val::I32(v) => i64::from(v),
                ward::Val::I64(v) => v,
                ref other => panic!("{name}: {other:?}"),
            });
            let got = got.map_err(|e| e.as_trap().map(|t| t.code()).expect("a trap"));
            assert_eq!(&got, want, "{name} under {:?}", module.tier());
        }
    }
}
