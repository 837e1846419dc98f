//! Resource types are generative: two instances of one component define two resource types,
//! even though the component remembers its converted function types between instantiations
//! (`sig_cache.rs`). Written as the attack: a handle made by one instance, passed to the other
//! instance's function taking `borrow<r>`, must be refused, not read out of the wrong table.

use ward_component::{Component, Linker, Val};

const COMPONENT: &str = r#"(component
  (type $r (resource (rep i32)))
  (core func $new (canon resource.new $r))
  (core func $rep (canon resource.rep $r))
  (core module $m
    (import "r" "new" (func $new (param i32) (result i32)))
    (func (export "make") (param i32) (result i32) (call $new (local.get 0)))
    (func (export "rep") (param i32) (result i32) (local.get 0)))
  (core instance $i (instantiate $m (with "r" (instance (export "new" (func $new))))))
  (export $rx "r" (type $r))
  (func (export "make") (param "n" u32) (result (own $rx)) (canon lift (core func $i "make")))
  (func (export "rep") (param "x" (borrow $rx)) (result u32)
    (canon lift (core func $i "rep"))))"#;

#[test]
fn a_handle_of_one_instance_is_refused_by_another() {
    let engine = ward::Engine::default();
    let component = Component::new(&engine, COMPONENT).unwrap();
    let linker = Linker::<()>::new(&engine);
    let mut store = ward::Store::new(&engine, ());
    let a = linker.instantiate(&mut store, &component).unwrap();
    let b = linker.instantiate(&mut store, &component).unwrap();
    let make = |store: &mut ward::Store<()>, i: &ward_component::Instance, n: u32| {
        let mut out = [Val::Bool(false)];
        i.get_func("make").unwrap().call(&mut *store, &[Val::U32(n)], &mut out).unwrap();
        out[0].clone()
    };
    let rep = |store: &mut ward::Store<()>, i: &ward_component::Instance, h: &Val| {
        let mut out = [Val::U32(0)];
        i.get_func("rep")
            .unwrap()
            .call(&mut *store, std::slice::from_ref(h), &mut out)
            .map(|_| out[0].clone())
    };
    let from_a = make(&mut store, &a, 7);
    let from_b = make(&mut store, &b, 9);
    // Each instance's functions take its own handles (a borrow of a resource the callee
    // defines reaches it as the representation).
    assert_eq!(rep(&mut store, &a, &from_a).unwrap(), Val::U32(7));
    assert_eq!(rep(&mut store, &b, &from_b).unwrap(), Val::U32(9));
    // Across instances: refused, both ways, for every further instantiation too.
    assert!(rep(&mut store, &b, &from_a).is_err(), "b accepted a's handle");
    assert!(rep(&mut store, &a, &from_b).is_err(), "a accepted b's handle");
    for _ in 0..6 {
        let c = linker.instantiate(&mut store, &component).unwrap();
        let from_c = make(&mut store, &c, 3);
        assert_eq!(rep(&mut store, &c, &from_c).unwrap(), Val::U32(3));
        assert!(rep(&mut store, &c, &from_a).is_err(), "a later instance accepted a's handle");
        assert!(rep(&mut store, &a, &from_c).is_err(), "a accepted a later instance's handle");
    }
}
