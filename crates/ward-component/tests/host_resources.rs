//! Host resources with destructors (`ResourceType::host_with_drop`): a component dropping an
//! owned handle of a host resource runs the host's destructor with its representation; an
//! error from the destructor traps the component.

use ward_component::{Component, Error, Linker, ResourceAny, ResourceType, Val};

const GUEST: &str = r#"(component
  (import "host:r/api@1.0.0" (instance $api
    (export "thing" (type $t (sub resource)))
    (export "make" (func (param "n" u32) (result (own $t))))))
  (alias export $api "thing" (type $thing))
  (alias export $api "make" (func $make))
  (core func $make (canon lower (func $make)))
  (core func $drop (canon resource.drop $thing))
  (core module $m
    (import "h" "make" (func $make (param i32) (result i32)))
    (import "h" "drop" (func $drop (param i32)))
    (func (export "run") (param i32) (call $drop (call $make (local.get 0)))))
  (core instance $i (instantiate $m
    (with "h" (instance (export "make" (func $make)) (export "drop" (func $drop))))))
  (func (export "run") (param "n" u32) (canon lift (core func $i "run"))))"#;

fn setup() -> (ward::Store<Vec<u32>>, ward_component::Func) {
    let engine = ward::Engine::default();
    let ty = ResourceType::host_with_drop::<Vec<u32>>("thing", |mut store, rep| {
        if rep == 13 {
            return Err(Error::Usage("thirteen cannot be dropped".into()));
        }
        store.data_mut().push(rep);
        Ok(())
    });
    let mut linker = Linker::<Vec<u32>>::new(&engine);
    // Defined at 1.2.0: the import at 1.0.0 is served by it (semver-compatible).
    linker.resource("host:r/api@1.2.0", "thing", ty.clone()).unwrap();
    linker
        .func_new("host:r/api@1.2.0", "make", move |_, params, results| {
            let Val::U32(n) = params[0] else { unreachable!() };
            results[0] = Val::Resource(ResourceAny::new_own(&ty, n));
            Ok(())
        })
        .unwrap();
    let component = Component::new(&engine, GUEST).unwrap();
    let mut store = ward::Store::new(&engine, Vec::new());
    let instance = linker.instantiate(&mut store, &component).unwrap();
    let run = instance.get_func("run").unwrap();
    (store, run)
}

#[test]
fn dropping_an_owned_host_handle_runs_the_destructor() {
    let (mut store, run) = setup();
    run.call(&mut store, &[Val::U32(7)], &mut []).unwrap();
    run.call(&mut store, &[Val::U32(9)], &mut []).unwrap();
    assert_eq!(store.data(), &[7, 9]);
}

#[test]
fn a_failing_destructor_traps() {
    let (mut store, run) = setup();
    let err = run.call(&mut store, &[Val::U32(13)], &mut []).unwrap_err();
    assert!(err.to_string().contains("thirteen cannot be dropped"), "{err}");
    assert!(store.data().is_empty());
}
