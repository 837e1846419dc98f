//! Tasks that block inside their core function park it (the interpreter keeps the call as
//! data) and return to the event loop, so that other tasks — the blocked task's own caller
//! included — go on; the event loop resumes the parked call when what it waits for is ready.
//!
//! `$C.wait-future(fut)` and `$C.rep-after(r, fut)` are synchronous lifts of `async` function
//! types that block in `waitable-set.wait` until the future they are given has a value; only
//! their caller, `$D`, writes it, after its `canon lower ... async` call has returned. Without
//! parking, the caller could never go on: the call would end in the deadlock trap.

mod common;

use ward_component::{Component, Linker, Val};

const COMPONENT: &str = r#"(component
  (component $C
    (core module $Memory (memory (export "mem") 1))
    (core instance $memory (instantiate $Memory))
    (type $R (resource (rep i32)))
    (canon resource.new $R (core func $new-r))
    (core module $CM
      (import "" "mem" (memory 1))
      (import "" "future.read" (func $future.read (param i32 i32) (result i32)))
      (import "" "waitable.join" (func $waitable.join (param i32 i32)))
      (import "" "waitable-set.new" (func $waitable-set.new (result i32)))
      (import "" "waitable-set.wait" (func $waitable-set.wait (param i32 i32) (result i32)))
      (import "" "task.return" (func $task.return (param i32)))
      ;; Blocks until future $futr has a value.
      (func $await (param $futr i32)
        (local $ws i32)
        (if (i32.ne (call $future.read (local.get $futr) (i32.const 0)) (i32.const -1))
          (then unreachable))
        (local.set $ws (call $waitable-set.new))
        (call $waitable.join (local.get $futr) (local.get $ws))
        (if (i32.ne (call $waitable-set.wait (local.get $ws) (i32.const 8)) (i32.const 4 (; FUTURE_READ ;)))
          (then unreachable))
        (if (i32.ne (i32.load (i32.const 8)) (local.get $futr))
          (then unreachable)))
      (func (export "wait-future") (param $futr i32) (result i32)
        (call $await (local.get $futr))
        (i32.const 42))
;; A borrow of its own resource type reaches $C as the representation; the caller's
      ;; handle stays lent while the task is parked and resumed.
      (func (export "rep-after") (param $r i32) (param $futr i32) (result i32)
        (call $await (local.get $futr))
        (local.get $r))
      ;; A stackful async lift: it does not need the instance to itself.
      (func (export "stackful-wait") (param $futr i32)
        (call $await (local.get $futr))
        (call $task.return (i32.const 5))))
    (type $FT (future))
    (canon task.return (result u32) (core func $task.return))
    (canon future.read $FT async (memory (core memory $memory "mem")) (core func $future.read))
    (canon waitable.join (core func $waitable.join))
    (canon waitable-set.new (core func $waitable-set.new))
    (canon waitable-set.wait (memory (core memory $memory "mem")) (core func $waitable-set.wait))
    (core instance $cm (instantiate $CM (with "" (instance
      (export "mem" (memory $memory "mem"))
      (export "future.read" (func $future.read))
      (export "waitable.join" (func $waitable.join))
      (export "waitable-set.new" (func $waitable-set.new))
      (export "waitable-set.wait" (func $waitable-set.wait))
      (export "task.return" (func $task.return))))))
    (export $R' "r" (type $R))
    (func (export "new-r") (param "rep" u32) (result (own $R')) (canon lift (core func $new-r)))
    (func (export "wait-future") async (param "fut" $FT) (result u32)
      (canon lift (core func $cm "wait-future")))
    (func (export "rep-after") async (param "r" (borrow $R')) (param "fut" $FT) (result u32)
      (canon lift (core func $cm "rep-after")))
    (func (export "stackful-wait") async (param "fut" $FT) (result u32)
      (canon lift (core func $cm "stackful-wait") async)))

  (component $D
    (type $FT (future))
    (import "c" (instance $c
      (export "r" (type $R (sub resource)))
      (export "new-r" (func (param "rep" u32) (result (own $R))))
      (export "wait-future" (func async (param "fut" $FT) (result u32)))
      (export "rep-after" (func async (param "r" (borrow $R)) (param "fut" $FT) (result u32)))
      (export "stackful-wait" (func async (param "fut" $FT) (result u32)))))
    (alias export $c "r" (type $R))
    (core module $Memory (memory (export "mem") 1))
    (core instance $memory (instantiate $Memory))
    (core module $DM
      (import "" "mem" (memory 1))
      (import "" "subtask.cancel" (func $subtask.cancel (param i32) (result i32)))
      (import "" "subtask.drop" (func $subtask.drop (param i32)))
      (import "" "future.new" (func $future.new (result i64)))
      (import "" "future.write" (func $future.write (param i32 i32) (result i32)))
      (import "" "waitable.join" (func $waitable.join (param i32 i32)))
      (import "" "waitable-set.new" (func $waitable-set.new (result i32)))
      (import "" "waitable-set.wait" (func $waitable-set.wait (param i32 i32) (result i32)))
      (import "" "new-r" (func $new-r (param i32) (result i32)))
      (import "" "drop-r" (func $drop-r (param i32)))
      (import "" "wait-future" (func $wait-future (param i32 i32) (result i32)))
      (import "" "rep-after" (func $rep-after (param i32 i32 i32) (result i32)))
      (import "" "stackful-wait" (func $stackful-wait (param i32 i32) (result i32)))

      (global $futr (mut i32) (i32.const 0))
      (global $futw (mut i32) (i32.const 0))
      (func $new-future
        (local $f i64)
        (local.set $f (call $future.new))
        (global.set $futr (i32.wrap_i64 (local.get $f)))
        (global.set $futw (i32.wrap_i64 (i64.shr_u (local.get $f) (i64.const 32)))))
      (func $subtask (param $ret i32) (param $state i32) (result i32)
        (if (i32.ne (i32.and (local.get $ret) (i32.const 0xf)) (local.get $state))
          (then unreachable))
        (i32.shr_u (local.get $ret) (i32.const 4)))
      (func $write (if (call $future.write (global.get $futw) (i32.const 0)) (then unreachable)))
      ;; Waits for subtask $s to return; its result is at $retp.
      (func $wait-return (param $s i32) (param $retp i32) (result i32)
        (local $ws i32)
        (local.set $ws (call $waitable-set.new))
        (call $waitable.join (local.get $s) (local.get $ws))
        (if (i32.ne (call $waitable-set.wait (local.get $ws) (i32.const 16)) (i32.const 1 (; SUBTASK ;)))
          (then unreachable))
        (if (i32.ne (i32.load (i32.const 16)) (local.get $s)) (then unreachable))
        (if (i32.ne (i32.load (i32.const 20)) (i32.const 2 (; RETURNED ;))) (then unreachable))
        (call $subtask.drop (local.get $s))
        (i32.load (local.get $retp)))

      ;; The callee blocks until this caller writes the future, after the call returned.
      (func (export "unblock-later") (result i32)
        (local $s i32)
        (call $new-future)
        (local.set $s (call $subtask (call $wait-future (global.get $futr) (i32.const 4)) (i32.const 1 (; STARTED ;))))
        (call $write)
        (call $wait-return (local.get $s) (i32.const 4)))

      ;; A parked task keeps its instance to itself until it returns: a second call waits to
      ;; start, and is cancelled before it starts; cancelling the parked one is only a request
      ;; (a synchronous lift cannot see it), and it returns normally.
      (func (export "cancel-parked") (result i32)
        (local $s1 i32) (local $s2 i32) (local $first i32)
        (call $new-future)
        (local.set $first (global.get $futw))
        (local.set $s1 (call $subtask (call $wait-future (global.get $futr) (i32.const 4)) (i32.const 1 (; STARTED ;))))
        (call $new-future)
        (local.set $s2 (call $subtask (call $wait-future (global.get $futr) (i32.const 8)) (i32.const 0 (; STARTING ;))))
        (if (i32.ne (call $subtask.cancel (local.get $s2)) (i32.const 3 (; CANCELLED_BEFORE_STARTED ;)))
          (then unreachable))
        (call $subtask.drop (local.get $s2))
        (if (i32.ne (call $subtask.cancel (local.get $s1)) (i32.const -1 (; BLOCKED ;)))
          (then unreachable))
        (global.set $futw (local.get $first))
        (call $write)
        (call $wait-return (local.get $s1) (i32.const 4)))

      ;; A borrow lent to a parked call is still good when it resumes, and is given back when
      ;; it returns: the owner can then drop the resource.
      (func (export "borrow-across") (result i32)
        (local $h i32) (local $s i32) (local $r i32)
        (local.set $h (call $new-r (i32.const 7)))
        (call $new-future)
        (local.set $s (call $subtask (call $rep-after (local.get $h) (global.get $futr) (i32.const 4)) (i32.const 1 (; STARTED ;))))
        (call $write)
        (local.set $r (call $wait-return (local.get $s) (i32.const 4)))
        (call $drop-r (local.get $h))
        (local.get $r))

      ;; $n calls that all block at once (stackful: none waits for another to start); then
      ;; every future is written and every call awaited. The sum of their results.
      (func (export "flood") (param $n i32) (result i32)
        (local $i i32) (local $ws i32) (local $sum i32)
        (local.set $ws (call $waitable-set.new))
        (block $done (loop $more
          (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
          (call $new-future)
          (i32.store (i32.add (i32.const 1024) (i32.shl (local.get $i) (i32.const 2))) (global.get $futw))
          (call $waitable.join
            (call $subtask (call $stackful-wait (global.get $futr) (i32.add (i32.const 32768) (i32.shl (local.get $i) (i32.const 2))))
              (i32.const 1 (; STARTED ;)))
            (local.get $ws))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $more)))
        (local.set $i (i32.const 0))
        (block $done (loop $more
          (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
          (global.set $futw (i32.load (i32.add (i32.const 1024) (i32.shl (local.get $i) (i32.const 2)))))
          (call $write)
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $more)))
        (local.set $i (i32.const 0))
        (block $done (loop $more
          (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
          (if (i32.ne (call $waitable-set.wait (local.get $ws) (i32.const 16)) (i32.const 1 (; SUBTASK ;)))
            (then unreachable))
          (if (i32.eq (i32.load (i32.const 20)) (i32.const 2 (; RETURNED ;))) (then
            (call $subtask.drop (i32.load (i32.const 16)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))))
          (br $more)))
        (local.set $i (i32.const 0))
        (block $done (loop $more
          (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
          (local.set $sum (i32.add (local.get $sum)
            (i32.load (i32.add (i32.const 32768) (i32.shl (local.get $i) (i32.const 2))))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $more)))
        (local.get $sum)))
    (canon subtask.cancel async (core func $subtask.cancel))
    (canon subtask.drop (core func $subtask.drop))
    (canon future.new $FT (core func $future.new))
    (canon future.write $FT async (memory (core memory $memory "mem")) (core func $future.write))
    (canon waitable.join (core func $waitable.join))
    (canon waitable-set.new (core func $waitable-set.new))
    (canon waitable-set.wait (memory (core memory $memory "mem")) (core func $waitable-set.wait))
    (canon lower (func $c "new-r") (core func $new-r))
    (canon resource.drop $R (core func $drop-r))
    (canon lower (func $c "wait-future") async (memory (core memory $memory "mem")) (core func $wait-future))
    (canon lower (func $c "rep-after") async (memory (core memory $memory "mem")) (core func $rep-after))
    (canon lower (func $c "stackful-wait") async (memory (core memory $memory "mem")) (core func $stackful-wait))
    (core instance $dm (instantiate $DM (with "" (instance
      (export "mem" (memory $memory "mem"))
      (export "subtask.cancel" (func $subtask.cancel))
      (export "subtask.drop" (func $subtask.drop))
      (export "future.new" (func $future.new))
      (export "future.write" (func $future.write))
      (export "waitable.join" (func $waitable.join))
      (export "waitable-set.new" (func $waitable-set.new))
      (export "waitable-set.wait" (func $waitable-set.wait))
      (export "new-r" (func $new-r))
      (export "drop-r" (func $drop-r))
      (export "wait-future" (func $wait-future))
      (export "rep-after" (func $rep-after))
      (export "stackful-wait" (func $stackful-wait))))))
    (func (export "unblock-later") async (result u32) (canon lift (core func $dm "unblock-later")))
    (func (export "cancel-parked") async (result u32) (canon lift (core func $dm "cancel-parked")))
    (func (export "borrow-across") async (result u32) (canon lift (core func $dm "borrow-across")))
    (func (export "flood") async (param "n" u32) (result u32) (canon lift (core func $dm "flood"))))

  (instance $c (instantiate $C))
  (instance $d (instantiate $D (with "c" (instance $c))))
  (export "unblock-later" (func $d "unblock-later"))
  (export "cancel-parked" (func $d "cancel-parked"))
  (export "borrow-across" (func $d "borrow-across"))
  (export "flood" (func $d "flood")))"#;

fn run(name: &str) -> Result<Val, ward_component::Error> {
    run_with(name, &[])
}

fn run_with(name: &str, args: &[Val]) -> Result<Val, ward_component::Error> {
    common::call_fresh(COMPONENT, name, args)
}

#[test]
fn a_sync_task_blocked_on_its_caller_parks() {
    assert_eq!(run("unblock-later").unwrap(), Val::U32(42));
}

#[test]
fn a_parked_task_holds_its_instance_and_cancelling_it_is_a_request() {
    assert_eq!(run("cancel-parked").unwrap(), Val::U32(42));
}

#[test]
fn borrows_lent_to_a_parked_task_survive_its_resumption() {
    assert_eq!(run("borrow-across").unwrap(), Val::U32(7));
}

/// Calls that park, again and again in one store: each parked call is resumed and finishes
/// (the store reuses its parking slots).
#[test]
fn many_calls_park_and_resume_in_one_store() {
    let engine = ward::Engine::default();
    let component = Component::new(&engine, COMPONENT).unwrap();
    let mut store = ward::Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &component).unwrap();
    let f = instance.get_func("unblock-later").unwrap();
    for _ in 0..2_000 {
        let mut out = [Val::U32(0)];
        f.call(&mut store, &[], &mut out).unwrap();
        assert_eq!(out[0], Val::U32(42));
    }
}

/// Up to 1,024 core calls park at once; they all resume and finish.
#[test]
fn a_thousand_tasks_park_at_once() {
    assert_eq!(run_with("flood", &[Val::U32(1000)]).unwrap(), Val::U32(5000));
}

/// Parked calls are bounded (each keeps its interpreter stack): past 1,024 a task that must
/// block runs the event loop in place, where a wait only its caller can end is the deadlock
/// trap, not unbounded host memory.
#[test]
fn parked_calls_are_bounded() {
    let err = run_with("flood", &[Val::U32(1100)]).unwrap_err();
    assert!(err.to_string().contains("deadlock"), "{err}");
}
