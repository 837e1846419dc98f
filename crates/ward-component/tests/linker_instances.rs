//! A linker's instance definitions are built once and shared by instantiations, and a member
//! defined after an instantiation is seen by the next one.

use ward_component::{Component, Linker, Val};

#[test]
fn a_member_added_after_an_instantiation_is_seen_by_the_next() {
    let engine = ward::Engine::default();
    let mut linker = Linker::<u32>::new(&engine);
    linker
        .func_new("a:b/c", "f", |mut store, _, results| {
            *store.data_mut() += 1;
            results[0] = Val::U32(1);
            Ok(())
        })
        .unwrap();
    let only_f = Component::new(
        &engine,
        r#"(component
          (import "a:b/c" (instance $i (export "f" (func (result u32)))))
          (alias export $i "f" (func $f))
          (export "f" (func $f)))"#,
    )
    .unwrap();
    let f_and_g = Component::new(
        &engine,
        r#"(component
          (import "a:b/c" (instance $i
            (export "f" (func (result u32)))
            (export "g" (func (result u32)))))
          (alias export $i "g" (func $g))
          (export "g" (func $g)))"#,
    )
    .unwrap();
    let mut store = ward::Store::new(&engine, 0u32);
    for _ in 0..2 {
        let i = linker.instantiate(&mut store, &only_f).unwrap();
        let mut out = [Val::U32(0)];
        i.get_func("f").unwrap().call(&mut store, &[], &mut out).unwrap();
        assert_eq!(out[0], Val::U32(1));
    }
    let err = linker.instantiate(&mut store, &f_and_g).unwrap_err().to_string();
    assert!(err.contains('g'), "{err}");
    linker
        .func_new("a:b/c", "g", |_, _, results| {
            results[0] = Val::U32(2);
            Ok(())
        })
        .unwrap();
    let i = linker.instantiate(&mut store, &f_and_g).unwrap();
    let mut out = [Val::U32(0)];
    i.get_func("g").unwrap().call(&mut store, &[], &mut out).unwrap();
    assert_eq!(out[0], Val::U32(2));
    assert_eq!(*store.data(), 2, "f ran once per instance");
}
