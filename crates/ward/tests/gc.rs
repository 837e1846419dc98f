//! Garbage collection: the collector frees what nothing reaches, keeps what locals, operand-stack
//! temporaries, globals, tables, suspended calls and the host reach, and a guest that keeps
//! allocating gets a trap at the store's limit while the host carries on.

use ward::{
    Engine, FuncType, Instance, Linker, Module, Store, StoreLimitsBuilder, TrapCode, Val, ValType,
};

/// A store whose GC heap holds at most `bytes`.
fn store_with_heap(engine: &Engine, bytes: u64) -> Store<()> {
    let mut store = Store::new(engine, ());
    store.limiter(StoreLimitsBuilder::new().gc_heap_size(bytes).build());
    store
}

fn call_i32(store: &mut Store<()>, i: &Instance, name: &str, args: &[Val]) -> ward::Result<i32> {
    let f = i.get_func(&mut *store, name).unwrap();
    let mut out = [Val::I32(0)];
    f.call(&mut *store, args, &mut out)?;
    Ok(out[0].unwrap_i32())
}

/// Allocates `n` arrays of 1 KiB and drops them (nothing keeps them).
const CHURN: &str = r#"
  (type $bytes (array (mut i8)))
  (type $node (struct (field $v i32) (field $next (ref null $node))))
  (func $churn (param $n i32)
    (loop $l
      (drop (array.new_default $bytes (i32.const 1024)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
"#;

#[test]
fn garbage_is_collected_so_a_bounded_heap_runs_unbounded_allocation() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        format!(r#"(module {CHURN} (func (export "run") (result i32) (call $churn (i32.const 20000)) (i32.const 1)))"#),
    )
    .unwrap();
    // 20,000 arrays of 1 KiB (20 MB in all) through a 2 MiB heap.
    let mut store = store_with_heap(&engine, 2 << 20);
    let i = Instance::new(&mut store, &module, &[]).unwrap();
    assert_eq!(call_i32(&mut store, &i, "run", &[]).unwrap(), 1);
}

#[test]
fn reachable_objects_survive_collections_in_every_kind_of_root() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        format!(
            r#"(module {CHURN}
              (global $g (mut (ref null $node)) (ref.null $node))
              (table $t 1 (ref null $node))
              ;; Builds a list 1..n, churning between nodes: the list is in a local.
              (func $list (param $n i32) (result (ref null $node))
                (local $head (ref null $node))
                (loop $l
                  (local.set $head (struct.new $node (local.get $n) (local.get $head)))
                  (call $churn (i32.const 64))
                  (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
                (local.get $head))
              (func $sum (param $p (ref null $node)) (result i32)
                (local $s i32)
                (block $done
                  (loop $l
                    (br_if $done (ref.is_null (local.get $p)))
                    (local.set $s (i32.add (local.get $s) (struct.get $node $v (local.get $p))))
                    (local.set $p (struct.get $node $next (local.get $p)))
                    (br $l)))
                (local.get $s))
              (func $churn_then (param $x i32) (result i32)
                (call $churn (i32.const 3000)) (local.get $x))
              (func (export "in_local") (result i32) (call $sum (call $list (i32.const 100))))
              (func (export "in_global") (result i32)
                (global.set $g (call $list (i32.const 50)))
                (call $churn (i32.const 3000))
                (call $sum (global.get $g)))
              (func (export "in_table") (result i32)
                (table.set $t (i32.const 0) (call $list (i32.const 40)))
                (call $churn (i32.const 3000))
                (call $sum (table.get $t (i32.const 0))))
              ;; The list is an operand-stack temporary (not in any local) while $churn_then
              ;; allocates megabytes.
              (func (export "in_temp") (result i32)
                (i32.add
                  (call $sum (call $list (i32.const 30)))
                  (call $churn_then (i32.const 0)))
                (drop)
                (struct.get $node $v
                  (struct.new $node (i32.const 5) (ref.null $node)))
                (call $churn_then (i32.const 1))
                (i32.add))
              (func (export "temp_across_call") (result i32)
                (call $sum2
                  (call $list (i32.const 20))
                  (call $churn_then (i32.const 7))))
              (func $sum2 (param $p (ref null $node)) (param $k i32) (result i32)
                (i32.add (call $sum (local.get $p)) (local.get $k))))"#
        ),
    )
    .unwrap();
    let mut store = store_with_heap(&engine, 2 << 20);
    let i = Instance::new(&mut store, &module, &[]).unwrap();
    assert_eq!(call_i32(&mut store, &i, "in_local", &[]).unwrap(), 5050);
    assert_eq!(call_i32(&mut store, &i, "in_global", &[]).unwrap(), 1275);
    assert_eq!(call_i32(&mut store, &i, "in_table", &[]).unwrap(), 820);
    assert_eq!(call_i32(&mut store, &i, "in_temp", &[]).unwrap(), 6);
    assert_eq!(call_i32(&mut store, &i, "temp_across_call", &[]).unwrap(), 210 + 7);
}

#[test]
fn references_in_calls_suspended_in_host_functions_survive() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        format!(
            r#"(module
              (import "host" "reenter" (func $reenter))
              {CHURN}
              (func (export "churn") (call $churn (i32.const 4000)))
              (func (export "run") (result i32)
                (local $keep (ref null $node))
                (local.set $keep (struct.new $node (i32.const 41) (ref.null $node)))
                ;; An operand-stack temporary too, below the host call.
                (struct.new $node (i32.const 1) (ref.null $node))
                (call $reenter)
                (struct.get $node $v)
                (struct.get $node $v (local.get $keep))
                (i32.add)))"#
        ),
    )
    .unwrap();
    let mut store = store_with_heap(&engine, 2 << 20);
    let mut linker = Linker::new(&engine);
    linker
        .func_new("host", "reenter", FuncType::new([], []), |mut caller, _params, _results| {
            let churn = caller.get_export("churn").and_then(|e| e.into_func()).unwrap();
            churn.call(&mut caller, &[], &mut [])
        })
        .unwrap();
    let i = linker.instantiate(&mut store, &module).unwrap();
    assert_eq!(call_i32(&mut store, &i, "run", &[]).unwrap(), 42);
}

#[test]
fn objects_the_host_holds_survive_collections() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        format!(
            r#"(module {CHURN}
              (func (export "make") (result anyref) (struct.new $node (i32.const 9) (ref.null $node)))
              (func (export "churn") (call $churn (i32.const 4000)))
              (func (export "get") (param anyref) (result i32)
                (struct.get $node $v (ref.cast (ref $node) (local.get 0)))))"#
        ),
    )
    .unwrap();
    let mut store = store_with_heap(&engine, 2 << 20);
    let i = Instance::new(&mut store, &module, &[]).unwrap();
    let mut out = [Val::AnyRef(None)];
    i.get_func(&mut store, "make").unwrap().call(&mut store, &[], &mut out).unwrap();
    let held = out[0];
    i.get_func(&mut store, "churn").unwrap().call(&mut store, &[], &mut []).unwrap();
    assert_eq!(call_i32(&mut store, &i, "get", &[held]).unwrap(), 9);
}

/// The attack: a guest that keeps everything it allocates reachable (a list in a global) gets a
/// trap at the store's GC heap limit, not a host out-of-memory; the store and the host go on.
#[test]
fn unbounded_live_allocation_traps_at_the_limit_and_the_host_survives() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
          (type $chunk (array (mut i64)))
          (type $cell (struct (field (ref $chunk)) (field (ref null $cell))))
          (global $all (mut (ref null $cell)) (ref.null $cell))
          (func (export "hoard")
            (loop $l
              (global.set $all
                (struct.new $cell (array.new_default $chunk (i32.const 8192)) (global.get $all)))
              (br $l)))
          (func (export "huge") (result i32)
            (array.len (array.new_default $chunk (i32.const 0x7fffffff))))
          (func (export "release") (global.set $all (ref.null $cell)))
          (func (export "ok") (result i32)
            (array.len (array.new_default $chunk (i32.const 100)))))"#,
    )
    .unwrap();
    let mut store = store_with_heap(&engine, 16 << 20);
    let i = Instance::new(&mut store, &module, &[]).unwrap();
    let hoard = i.get_func(&mut store, "hoard").unwrap();
    let err = hoard.call(&mut store, &[], &mut []).unwrap_err();
    assert_eq!(err.as_trap().map(|t| t.code()), Some(TrapCode::GcHeapExhausted), "{err}");
    // One allocation larger than the host could give: a trap, not an attempt.
    let err = call_i32(&mut store, &i, "huge", &[]).unwrap_err();
    assert_eq!(err.as_trap().map(|t| t.code()), Some(TrapCode::GcHeapExhausted), "{err}");
    // Once the guest lets go, the same store allocates again.
    i.get_func(&mut store, "release").unwrap().call(&mut store, &[], &mut []).unwrap();
    assert_eq!(call_i32(&mut store, &i, "ok", &[]).unwrap(), 100);
}

/// Without an explicit GC limit, the store's total limit bounds the GC heap too.
#[test]
fn the_total_limit_bounds_the_gc_heap() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
          (type $chunk (array (mut i64)))
          (table $keep 0 anyref)
          (func (export "hoard")
            (loop $l
              (drop (table.grow $keep (array.new_default $chunk (i32.const 4096)) (i32.const 1)))
              (br $l))))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    store.limiter(StoreLimitsBuilder::new().total_size(8 << 20).build());
    let i = Instance::new(&mut store, &module, &[]).unwrap();
    let err = i.get_func(&mut store, "hoard").unwrap().call(&mut store, &[], &mut []).unwrap_err();
    assert_eq!(err.as_trap().map(|t| t.code()), Some(TrapCode::GcHeapExhausted), "{err}");
}

#[test]
fn gc_traps_use_the_spec_messages() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
          (type $s (struct (field i32)))
          (type $a (array i32))
          (func (export "null_struct") (result i32) (struct.get $s 0 (ref.null $s)))
          (func (export "oob") (result i32)
            (array.get $a (array.new_default $a (i32.const 2)) (i32.const 2)))
          (func (export "cast") (result i32)
            (drop (ref.cast (ref $s) (ref.i31 (i32.const 1)))) (i32.const 0)))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let i = Instance::new(&mut store, &module, &[]).unwrap();
    for (name, code, message) in [
        ("null_struct", TrapCode::NullReference, "null reference"),
        ("oob", TrapCode::ArrayOutOfBounds, "out of bounds array access"),
        ("cast", TrapCode::CastFailure, "cast failure"),
    ] {
        let err = call_i32(&mut store, &i, name, &[]).unwrap_err();
        let trap = err.as_trap().unwrap();
        assert_eq!(trap.code(), code);
        assert!(trap.to_string().contains(message), "{trap}");
    }
}

/// Modules with GC types run in the interpreter under the native tier, and say why.
#[cfg(feature = "native")]
#[test]
fn the_native_tier_falls_back_for_gc_modules() {
    let mut config = ward::Config::new();
    config.tier(ward::Tier::Native);
    let engine = Engine::new(&config);
    let module = Module::new(
        &engine,
        r#"(module (type $s (struct (field i32)))
             (func (export "f") (result i32) (struct.get $s 0 (struct.new $s (i32.const 3)))))"#,
    )
    .unwrap();
    let reason = module.native_fallback_reason().unwrap_or_default().to_string();
    assert!(reason.contains("garbage collection"), "{reason}");
    let mut store = Store::new(&engine, ());
    let i = Instance::new(&mut store, &module, &[]).unwrap();
    assert_eq!(call_i32(&mut store, &i, "f", &[]).unwrap(), 3);
}

#[test]
fn i31_and_anyref_values_cross_the_host_boundary() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
          (func (export "get") (param i31ref) (result i32) (i31.get_s (local.get 0)))
          (global (export "g") (mut anyref) (ref.i31 (i32.const -3))))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let i = Instance::new(&mut store, &module, &[]).unwrap();
    let g = i.get_global(&mut store, "g").unwrap();
    let v = g.get(&mut store);
    assert_eq!(v.anyref().unwrap().unwrap().i31_s(), Some(-3));
    assert_eq!(g.ty(&store).content(), ValType::ANYREF);
    let r = ward::AnyRef::from_i31(&store, 77);
    assert_eq!(call_i32(&mut store, &i, "get", &[Val::AnyRef(Some(r))]).unwrap(), 77);
}
