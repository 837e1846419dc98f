//! The async ABI's guest-controlled state is bounded: a guest that makes waitable sets (or
//! streams, futures, subtasks) without dropping them traps once its instance holds 65,536 of
//! them, rather than making the host hold up to 2^28 table entries; one that drops them can
//! go on forever.

mod common;

use ward_component::Val;

/// `run(n, drop)` makes `n` waitable sets, dropping each at once if `drop` is set; it returns
/// how many it made.
const GUEST: &str = r#"(component
  (canon waitable-set.new (core func $new))
  (canon waitable-set.drop (core func $drop))
  (type $s (stream u8))
  (canon stream.new $s (core func $stream.new))
  (core module $m
    (import "" "new" (func $new (result i32)))
    (import "" "drop" (func $drop (param i32)))
    (import "" "stream.new" (func $stream.new (result i64)))
    (func (export "run") (param $n i32) (param $drop i32) (result i32)
      (local $i i32) (local $s i32)
      (block $done (loop $more
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $s (call $new))
        (if (local.get $drop) (then (call $drop (local.get $s))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $more)))
      (local.get $i))
    (func (export "streams") (param $n i32) (result i32)
      (local $i i32)
      (block $done (loop $more
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (drop (call $stream.new))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $more)))
      (local.get $i)))
  (core instance $i (instantiate $m (with "" (instance
    (export "new" (func $new))
    (export "drop" (func $drop))
    (export "stream.new" (func $stream.new))))))
  (func (export "run") (param "n" u32) (param "drop" bool) (result u32)
    (canon lift (core func $i "run")))
  (func (export "streams") (param "n" u32) (result u32)
    (canon lift (core func $i "streams"))))"#;

fn call(name: &str, args: &[Val]) -> Result<Val, ward_component::Error> {
    common::call_fresh(GUEST, name, args)
}

#[test]
fn sets_that_are_dropped_are_not_counted() {
    let got = call("run", &[Val::U32(200_000), Val::Bool(true)]).unwrap();
    assert_eq!(got, Val::U32(200_000));
}

#[test]
fn hoarding_waitable_sets_traps() {
    let err = call("run", &[Val::U32(1_000_000), Val::Bool(false)]).unwrap_err();
    assert!(err.to_string().contains("too many waitables"), "{err}");
}

#[test]
fn hoarding_streams_traps() {
    // Two handles per stream.
    let err = call("streams", &[Val::U32(1_000_000)]).unwrap_err();
    assert!(err.to_string().contains("too many waitables"), "{err}");
    let ok = call("streams", &[Val::U32(30_000)]).unwrap();
    assert_eq!(ok, Val::U32(30_000));
}
