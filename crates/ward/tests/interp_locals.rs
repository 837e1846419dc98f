//! Declared locals start at zero (or null) however the value stack was used before: the
//! interpreter zeroes only the locals a function may read before writing them (see
//! `interp/translate/assigned.rs`), so a frame that reuses the slots of a frame that wrote other
//! values must still read zeros wherever it reads a local it has not written on that path.

use ward::{Engine, Instance, Module, Store};

const GUEST: &str = r#"(module
  ;; Fills its locals (the slots the next callee's locals will take) with all-ones.
  (func $dirty (local i64 i64 i64 i64 i64 i64 v128 v128)
    (local.set 0 (i64.const -1)) (local.set 1 (i64.const -1)) (local.set 2 (i64.const -1))
    (local.set 3 (i64.const -1)) (local.set 4 (i64.const -1)) (local.set 5 (i64.const -1))
    (local.set 6 (v128.const i64x2 -1 -1)) (local.set 7 (v128.const i64x2 -1 -1)))
  ;; Local 1 is written on one path only, local 2 never, local 3 always before its read.
  (func $paths (param i32) (result i64) (local i64 i64 i64)
    (local.set 3 (i64.const 100))
    (if (local.get 0) (then (local.set 1 (i64.const 5))))
    (i64.add (local.get 3) (i64.add (local.get 1) (local.get 2))))
  ;; A loop reads local 1 before writing it on the first iteration.
  (func $loop (param i32) (result i64) (local i64 i64)
    (loop $l
      (local.set 2 (i64.add (local.get 2) (local.get 1)))
      (local.set 1 (i64.const 1))
      (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
    (local.get 2))
  ;; Vector and reference locals read unwritten.
  (func $others (result i64) (local v128 v128 externref)
    (i64.add (i64x2.extract_lane 0 (local.get 1))
             (i64.extend_i32_u (ref.is_null (local.get 2)))))
  (func (export "paths") (param i32) (result i64) (call $dirty) (call $paths (local.get 0)))
  (func (export "loop") (param i32) (result i64) (call $dirty) (call $loop (local.get 0)))
  (func (export "others") (result i64) (call $dirty) (call $others)))"#;

#[test]
fn locals_read_before_written_are_zero_after_a_frame_that_dirtied_the_stack() {
    let engine = Engine::default();
    let module = Module::new(&engine, GUEST).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let paths = instance.get_typed_func::<i32, i64>(&store, "paths").unwrap();
    assert_eq!(paths.call(&mut store, 0).unwrap(), 100, "locals 1 and 2 unwritten");
    assert_eq!(paths.call(&mut store, 1).unwrap(), 105, "local 2 unwritten");
    let looped = instance.get_typed_func::<i32, i64>(&store, "loop").unwrap();
    assert_eq!(looped.call(&mut store, 3).unwrap(), 2, "0 on the first iteration, then 1, 1");
    let others = instance.get_typed_func::<(), i64>(&store, "others").unwrap();
    assert_eq!(others.call(&mut store, ()).unwrap(), 1, "a zero vector lane and a null reference");
}
