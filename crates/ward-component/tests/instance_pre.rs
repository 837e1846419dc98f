//! `Linker::instantiate_pre`: imports resolved once, instantiated in many stores; imports
//! after a resource definition still resolved per instantiation; errors at resolution; a
//! store of another engine refused.

use ward_component::{Component, Error, Linker, Val};

/// Imports `a:b/c` (host functions, one taking a host resource, whose type the component
/// only knows through the instance's type) before its own resource type, and a function
/// `late` after it.
const COMPONENT: &str = r#"(component
  (import "a:b/c" (instance $c
    (export "thing" (type $t (sub resource)))
    (export "make" (func (param "n" u32) (result (own $t))))
    (export "peek" (func (param "x" (borrow $t)) (result u32)))))
  (alias export $c "make" (func $make))
  (alias export $c "peek" (func $peek))
  (type $mine (resource (rep i32)))
  (import "late" (func $late (result u32)))
  (core func $make (canon lower (func $make)))
  (core func $peek (canon lower (func $peek)))
  (core func $late (canon lower (func $late)))
  (core module $m
    (import "h" "make" (func $make (param i32) (result i32)))
    (import "h" "peek" (func $peek (param i32) (result i32)))
    (import "h" "late" (func $late (result i32)))
    (func (export "run") (param i32) (result i32) (local $h i32)
      (local.set $h (call $make (local.get 0)))
      (i32.add (call $peek (local.get $h)) (call $late))))
  (core instance $i (instantiate $m (with "h" (instance
    (export "make" (func $make)) (export "peek" (func $peek))
    (export "late" (func $late))))))
  (func (export "run") (param "n" u32) (result u32) (canon lift (core func $i "run"))))"#;

fn linker(engine: &ward::Engine) -> Linker<u32> {
    let thing = ward_component::ResourceType::host("thing");
    let mut linker = Linker::<u32>::new(engine);
    linker.resource("a:b/c", "thing", thing.clone()).unwrap();
    linker
        .func_new("a:b/c", "make", move |_, params, results| {
            let Val::U32(n) = params[0] else { unreachable!() };
            results[0] = Val::Resource(ward_component::ResourceAny::new_own(&thing, n));
            Ok(())
        })
        .unwrap();
    linker
        .func_new("a:b/c", "peek", |mut store, params, results| {
            let Val::Resource(r) = &params[0] else { unreachable!() };
            *store.data_mut() += 1;
            results[0] = Val::U32(r.rep());
            Ok(())
        })
        .unwrap();
    linker
        .func_new("", "late", |store, _, results| {
            results[0] = Val::U32(1000 * *store.data());
            Ok(())
        })
        .unwrap();
    linker
}

#[test]
fn one_resolution_serves_many_stores() {
    let engine = ward::Engine::default();
    let component = Component::new(&engine, COMPONENT).unwrap();
    let pre = linker(&engine).instantiate_pre(&component).unwrap();
    for n in 1..=5u32 {
        let mut store = ward::Store::new(&engine, 0u32);
        let instance = pre.instantiate(&mut store).unwrap();
        let run = instance.get_func("run").unwrap();
        let mut out = [Val::U32(0)];
        run.call(&mut store, &[Val::U32(n)], &mut out).unwrap();
        // peek saw the handle's representation and counted itself in this store only; late
        // (resolved after the resource definition, at each instantiation) saw that count.
        assert_eq!(out[0], Val::U32(n + 1000));
        assert_eq!(*store.data(), 1);
    }
}

#[test]
fn a_missing_import_is_an_error_at_resolution() {
    let engine = ward::Engine::default();
    let component = Component::new(&engine, COMPONENT).unwrap();
    let err = Linker::<u32>::new(&engine).instantiate_pre(&component).unwrap_err();
    assert!(matches!(&err, Error::UnknownImport(name) if name == "a:b/c"), "{err}");
}

#[test]
fn a_store_of_another_engine_is_refused() {
    let engine = ward::Engine::default();
    let component = Component::new(&engine, COMPONENT).unwrap();
    let pre = linker(&engine).instantiate_pre(&component).unwrap();
    let other = ward::Engine::default();
    let mut store = ward::Store::new(&other, 0u32);
    let err = pre.instantiate(&mut store).unwrap_err();
    assert!(err.to_string().contains("another engine"), "{err}");
}
