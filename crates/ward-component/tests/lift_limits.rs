//! A guest cannot make the host hold much more than its own memory by describing the same
//! bytes many times: a `list<string>` whose elements all point at one 1 MiB string would lift
//! into 1 GiB of host strings. Lifts are bounded (256 MiB of host memory per call) and trap
//! beyond, before the host function runs.

use ward_component::{Component, Linker, Val};

/// `run(n)` calls the host's `take` with a list of `n` strings, each the same 1 MiB at 64 KiB.
const GUEST: &str = r#"(component
  (import "host:l/api" (instance $api (export "take" (func (param "l" (list string))))))
  (alias export $api "take" (func $take))
  (core module $mem (memory (export "mem") 40))
  (core instance $mem (instantiate $mem))
  (core func $take (canon lower (func $take) (memory (core memory $mem "mem"))))
  (core module $m
    (import "mem" "mem" (memory 1))
    (import "h" "take" (func $take (param i32 i32)))
    (func (export "run") (param $n i32)
      (local $i i32)
      (block $done (loop $fill
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        ;; list at 0x200000 + 8*i: (ptr 0x10000, len 1 MiB)
        (i32.store (i32.add (i32.const 0x200000) (i32.shl (local.get $i) (i32.const 3)))
          (i32.const 0x10000))
        (i32.store offset=4 (i32.add (i32.const 0x200000) (i32.shl (local.get $i) (i32.const 3)))
          (i32.const 0x100000))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $fill)))
      (call $take (i32.const 0x200000) (local.get $n))))
  (core instance $i (instantiate $m
    (with "mem" (instance (export "mem" (memory $mem "mem"))))
    (with "h" (instance (export "take" (func $take))))))
  (func (export "run") (param "n" u32) (canon lift (core func $i "run"))))"#;

fn run(n: u32) -> (Result<(), ward_component::Error>, u32) {
    let engine = ward::Engine::default();
    let mut linker = Linker::<u32>::new(&engine);
    linker
        .func_new("host:l/api", "take", |mut store, params, _| {
            let Val::List(items) = &params[0] else { unreachable!() };
            *store.data_mut() = items.len() as u32;
            Ok(())
        })
        .unwrap();
    let component = Component::new(&engine, GUEST).unwrap();
    let mut store = ward::Store::new(&engine, 0u32);
    let instance = linker.instantiate(&mut store, &component).unwrap();
    let r = instance.get_func("run").unwrap().call(&mut store, &[Val::U32(n)], &mut []);
    (r, *store.data())
}

#[test]
fn a_few_copies_are_lifted() {
    let (r, got) = run(8);
    r.unwrap();
    assert_eq!(got, 8);
}

#[test]
fn a_thousand_copies_of_one_mebibyte_trap() {
    let (r, got) = run(1024);
    let err = r.unwrap_err();
    assert!(err.to_string().contains("MiB of host memory"), "{err}");
    assert_eq!(got, 0, "the host function must not run");
}
