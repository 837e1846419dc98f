//! Under a native engine, a synchronously lifted function runs its core function as native
//! code (a plain call); the async ABI's tasks run theirs as resumable calls, which interpret,
//! so that a blocking built-in can park them.

use ward_component::{Component, Linker, Val};

/// Sums 0..n in a loop of its core module, through a lifted export.
const SYNC: &str = r#"(component
  (core module $m
    (func (export "sum") (param $n i32) (result i32) (local $i i32) (local $s i32)
      (block $out
        (loop $l
          (br_if $out (i32.ge_u (local.get $i) (local.get $n)))
          (local.set $s (i32.add (local.get $s) (local.get $i)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $l)))
      (local.get $s)))
  (core instance $i (instantiate $m))
  (func (export "sum") (param "n" u32) (result u32) (canon lift (core func $i "sum"))))"#;

/// Calls `sum(1000)` on `wat` under an engine of `tier`; returns the result and how many
/// calls ran native code.
fn sum(wat: &str, tier: ward::Tier) -> (u32, u64) {
    let mut config = ward::Config::new();
    config.tier(tier);
    let engine = ward::Engine::new(&config);
    let component = Component::new(&engine, wat).unwrap();
    let mut store = ward::Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &component).unwrap();
    let f = instance.get_func("sum").unwrap();
    let mut out = [Val::U32(0)];
    f.call(&mut store, &[Val::U32(1000)], &mut out).unwrap();
    let Val::U32(n) = out[0] else { panic!("not a u32: {:?}", out[0]) };
    (n, store.native_entries())
}

#[test]
fn a_synchronous_lift_runs_its_core_code_natively() {
    assert_eq!(sum(SYNC, ward::Tier::Native), (499_500, 1));
    assert_eq!(sum(SYNC, ward::Tier::Interpreter), (499_500, 0));
}
