//! Cooperative threads (`thread.new-indirect`, `thread.suspend`, `thread.yield-then-resume`,
//! `thread.suspend-then-resume`, `thread.resume-later`, `thread.index`).
//!
//! `$interleave` and a worker thread append letters to a log in memory, switching to each
//! other after each one: only switches that run the right thread at the right time spell
//! `abcdefg`; a thread made ready with `thread.resume-later` then runs at the task's
//! `thread.yield` (`h`) before the task goes on (`i`). It runs in a synchronous lift (the
//! task's own core call cannot park: threads switch in place) and in a stackful async lift (it
//! parks, and the threads switch through the scheduler), under the interpreter and natively.
//!
//! A guest making threads in a loop, or parking suspended threads in a loop, traps instead of
//! growing the host without bound.

use ward_component::{Component, Linker, Val};

const COMPONENT: &str = r#"(component
  (core module $Mem
    (memory (export "mem") 1)
    (table (export "table") 4 funcref))
  (core instance $mem (instantiate $Mem))
  (alias core export $mem "table" (core table $table))
  (core type $start (func (param i32)))
  (canon thread.new-indirect $start (core table $table) (core func $new))
  (canon thread.suspend (core func $suspend))
  (canon thread.yield (core func $yield))
  (canon thread.yield-then-resume (core func $yield-then-resume))
  (canon thread.suspend-then-resume (core func $suspend-then-resume))
  (canon thread.resume-later (core func $resume-later))
  (canon thread.index (core func $index))
  (canon task.return (result string) (memory (core memory $mem "mem")) (core func $return-str))
  (canon task.return (result u32) (core func $return-u32))
  (core module $M
    (import "" "mem" (memory 1))
    (import "" "table" (table 4 funcref))
    (import "" "new" (func $new (param i32 i32) (result i32)))
    (import "" "suspend" (func $suspend (result i32)))
    (import "" "yield" (func $yield (result i32)))
    (import "" "yield-then-resume" (func $yield-then-resume (param i32) (result i32)))
    (import "" "suspend-then-resume" (func $suspend-then-resume (param i32) (result i32)))
    (import "" "resume-later" (func $resume-later (param i32)))
    (import "" "index" (func $index (result i32)))
    (import "" "return-str" (func $return-str (param i32 i32)))
    (import "" "return-u32" (func $return-u32 (param i32)))
    ;; The main thread's index.
    (global $main (mut i32) (i32.const 0))
    ;; The log: its length at 0, its bytes from 16.
    (func $log (param $c i32)
      (i32.store8 (i32.add (i32.const 16) (i32.load (i32.const 0))) (local.get $c))
      (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 1))))
    ;; Start functions. 0: logs b, d and f, switching back to the main thread in between.
    (func $worker (param i32)
      (call $log (i32.const 0x62))
      (drop (call $suspend-then-resume (global.get $main)))
      (call $log (i32.const 0x64))
      (drop (call $suspend-then-resume (global.get $main)))
      (call $log (i32.const 0x66)))
    ;; 1: logs its argument.
    (func $log-arg (param i32) (call $log (local.get 0)))
    ;; 2: returns 7 for its task.
    (func $return-7 (param i32) (call $return-u32 (i32.const 7)))
    ;; 3: suspends, never to be resumed.
    (func $suspend-forever (param i32) (drop (call $suspend)))
    (elem (table 0) (i32.const 0) func $worker $log-arg $return-7 $suspend-forever)

    (func $interleave (local $t i32)
      (i32.store (i32.const 0) (i32.const 0))
      (global.set $main (call $index))
      (local.set $t (call $new (i32.const 0) (i32.const 0)))
      (call $log (i32.const 0x61))
      (if (call $suspend-then-resume (local.get $t)) (then unreachable))
      (call $log (i32.const 0x63))
      (if (call $suspend-then-resume (local.get $t)) (then unreachable))
      (call $log (i32.const 0x65))
      ;; The worker logs f and returns: this thread is ready again.
      (if (call $yield-then-resume (local.get $t)) (then unreachable))
      (call $log (i32.const 0x67))
      (call $resume-later (call $new (i32.const 1) (i32.const 0x68)))
      (drop (call $yield))
      (call $log (i32.const 0x69)))
    (func (export "interleave") (result i32)
      (call $interleave)
      (i32.store (i32.const 8) (i32.const 16))
      (i32.store (i32.const 12) (i32.load (i32.const 0)))
      (i32.const 8))
    (func (export "interleave-async")
      (call $interleave)
      (call $return-str (i32.const 16) (i32.load (i32.const 0))))
    ;; The implicit thread ends without returning; a thread it left ready returns for it.
    (func (export "late-return")
      (call $resume-later (call $new (i32.const 2) (i32.const 0))))
    ;; Nobody returns.
    (func (export "never-returns")
      (call $resume-later (call $new (i32.const 1) (i32.const 0x7a))))
    (func (export "resume-running") (result i32)
      (call $suspend-then-resume (call $index)))
    (func (export "resume-exited") (result i32) (local $t i32)
      (local.set $t (call $new (i32.const 1) (i32.const 0x7a)))
      (drop (call $yield-then-resume (local.get $t)))
      (call $yield-then-resume (local.get $t)))
    (func (export "spawn-forever")
      (loop (drop (call $new (i32.const 1) (i32.const 0))) (br 0)))
    (func (export "park-forever")
      (loop (drop (call $yield-then-resume (call $new (i32.const 3) (i32.const 0)))) (br 0))))
  (core instance $m (instantiate $M (with "" (instance
    (export "mem" (memory $mem "mem"))
    (export "table" (table $table))
    (export "new" (func $new))
    (export "suspend" (func $suspend))
    (export "yield" (func $yield))
    (export "yield-then-resume" (func $yield-then-resume))
    (export "suspend-then-resume" (func $suspend-then-resume))
    (export "resume-later" (func $resume-later))
    (export "index" (func $index))
    (export "return-str" (func $return-str))
    (export "return-u32" (func $return-u32))))))
  (func (export "interleave") (result string)
    (canon lift (core func $m "interleave") (memory (core memory $mem "mem"))))
  (func (export "interleave-async") async (result string)
    (canon lift (core func $m "interleave-async") async (memory (core memory $mem "mem"))))
  (func (export "late-return") async (result u32)
    (canon lift (core func $m "late-return") async))
  (func (export "never-returns") async (result u32)
    (canon lift (core func $m "never-returns") async))
  (func (export "resume-running") (result u32) (canon lift (core func $m "resume-running")))
  (func (export "resume-exited") (result u32) (canon lift (core func $m "resume-exited")))
  (func (export "spawn-forever") (canon lift (core func $m "spawn-forever")))
  (func (export "park-forever") (canon lift (core func $m "park-forever"))))"#;

/// Calls export `name` of a fresh instance under an engine of `tier`, with `fuel` if some:
/// its result (if it has one).
fn call(
    name: &str,
    tier: ward::Tier,
    fuel: Option<u64>,
) -> Result<Option<Val>, ward_component::Error> {
    let mut config = ward::Config::new();
    config.tier(tier);
    config.consume_fuel(fuel.is_some());
    let engine = ward::Engine::new(&config);
    let component = Component::new(&engine, COMPONENT).unwrap();
    let mut store = ward::Store::new(&engine, ());
    if let Some(fuel) = fuel {
        store.set_fuel(fuel).unwrap();
    }
    let instance = Linker::new(&engine).instantiate(&mut store, &component).unwrap();
    let f = instance.get_func(name).unwrap();
    let n = f.ty().and_then(|t| t.result()).is_some() as usize;
    let mut out = vec![Val::U32(0); n];
    f.call(&mut store, &[], &mut out)?;
    Ok(out.pop())
}

fn interp(name: &str) -> Result<Option<Val>, ward_component::Error> {
    call(name, ward::Tier::Interpreter, None)
}

fn trap_of(name: &str) -> String {
    interp(name).expect_err("a trap").to_string()
}

/// The trap of `name` given fuel for far more than the limits it should reach: were there no
/// limit, it would run out of fuel instead.
fn bounded_trap_of(name: &str) -> String {
    let r = call(name, ward::Tier::Interpreter, Some(2_000_000));
    r.expect_err("a trap").to_string()
}

#[test]
fn threads_switch_in_place_in_a_synchronous_lift() {
    let log = Some(Val::String("abcdefghi".into()));
    assert_eq!(interp("interleave").unwrap(), log);
    assert_eq!(call("interleave", ward::Tier::Native, None).unwrap(), log);
}

#[test]
fn threads_switch_through_the_scheduler_in_an_async_lift() {
    let log = Some(Val::String("abcdefghi".into()));
    assert_eq!(interp("interleave-async").unwrap(), log);
    assert_eq!(call("interleave-async", ward::Tier::Native, None).unwrap(), log);
}

#[test]
fn an_explicit_thread_may_return_for_its_task() {
    assert_eq!(interp("late-return").unwrap(), Some(Val::U32(7)));
}

#[test]
fn a_task_whose_threads_all_end_without_returning_traps() {
    assert!(trap_of("never-returns").contains("failed to produce a result"));
}

#[test]
fn only_suspended_threads_are_resumed() {
    assert!(trap_of("resume-running").contains("is not suspended"));
    assert!(trap_of("resume-exited").contains("unknown thread index"));
}

/// Each thread is host memory: a guest making them in a loop reaches the per-instance limit.
#[test]
fn threads_made_in_a_loop_are_bounded() {
    let err = bounded_trap_of("spawn-forever");
    assert!(err.contains("too many threads"), "{err}");
}

/// Each parked thread keeps its interpreter stack: past the scheduler's limit on parked calls
/// a suspending thread suspends in place, where nothing can resume it: the deadlock trap.
#[test]
fn suspended_threads_parked_in_a_loop_are_bounded() {
    let err = bounded_trap_of("park-forever");
    assert!(err.contains("deadlock"), "{err}");
}
