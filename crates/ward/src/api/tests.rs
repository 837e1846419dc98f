//! Cross-module tests of the embedding API: linking rules, instantiation order and traps, limits,
//! and host functions called from wasm.

use crate::*;

fn engine_store() -> (Engine, Store<()>) {
    let engine = Engine::default();
    let store = Store::new(&engine, ());
    (engine, store)
}

fn module(engine: &Engine, wat: &str) -> Module {
    Module::new(engine, wat).unwrap()
}

fn incompatible_reason(e: Error) -> String {
    match e {
        Error::IncompatibleImport { reason, .. } => reason,
        other => panic!("expected an incompatible import error, got {other:?}"),
    }
}

#[test]
fn thread_safety_of_shared_and_handle_types() {
    fn send_sync<X: Send + Sync>() {}
    send_sync::<Linker<()>>();
    send_sync::<InstancePre<()>>();
    send_sync::<InterruptHandle>();
    send_sync::<Func>();
    send_sync::<Instance>();
    send_sync::<Val>();
    send_sync::<TypedFunc<(i32, i64), f64>>();
    fn send<X: Send>() {}
    send::<Store<String>>();
}

// ---- linking ----

#[test]
fn missing_import_is_unknown() {
    let (engine, mut store) = engine_store();
    let m = module(&engine, r#"(module (import "env" "f" (func)))"#);
    let e = Linker::new(&engine).instantiate(&mut store, &m).unwrap_err();
    assert!(matches!(&e, Error::UnknownImport { module, name } if module == "env" && name == "f"));
    assert!(e.to_string().contains("unknown import"), "{e}");
    let e = Linker::<()>::new(&engine).instantiate_pre(&m).unwrap_err();
    assert!(matches!(e, Error::UnknownImport { .. }));
}

#[test]
fn function_imports_need_the_same_type() {
    let (engine, mut store) = engine_store();
    let m = module(&engine, r#"(module (import "env" "f" (func (param i32) (result i32))))"#);
    let good = Func::wrap(&mut store, |x: i32| x);
    Instance::new(&mut store, &m, &[good.into()]).unwrap();
    let bad = Func::wrap(&mut store, |x: i32| x as i64);
    let e = Instance::new(&mut store, &m, &[bad.into()]).unwrap_err();
    assert!(e.to_string().contains("incompatible import type"), "{e}");
    assert_eq!(
        incompatible_reason(e),
        "expected func of type (func (param i32) (result i32)), \
         found func of type (func (param i32) (result i64))"
    );
    // The same check through a linker, at pre-instantiation time.
    let mut linker = Linker::<()>::new(&engine);
    linker.func_wrap("env", "f", |x: i64| x).unwrap();
    assert!(matches!(linker.instantiate_pre(&m), Err(Error::IncompatibleImport { .. })));
}

#[test]
fn wasm_functions_satisfy_function_imports() {
    let (engine, mut store) = engine_store();
    let lib =
        module(&engine, r#"(module (func (export "f") (param i32) (result i32) local.get 0))"#);
    let app = module(
        &engine,
        r#"(module (type $t (func (param i32) (result i32))) (import "lib" "f" (func (type $t))))"#,
    );
    let mut linker = Linker::new(&engine);
    let lib = linker.instantiate(&mut store, &lib).unwrap();
    linker.instance(&mut store, "lib", lib).unwrap();
    linker.instantiate(&mut store, &app).unwrap();
}

#[test]
fn kind_mismatch_is_incompatible() {
    let (engine, mut store) = engine_store();
    let m = module(&engine, r#"(module (import "env" "m" (memory 1)))"#);
    let f = Func::wrap(&mut store, || {});
    let e = Instance::new(&mut store, &m, &[f.into()]).unwrap_err();
    assert_eq!(incompatible_reason(e), "expected memory, found func");
    let mut linker = Linker::new(&engine);
    linker.func_wrap("env", "m", || {}).unwrap();
    let e = linker.instantiate(&mut store, &m).unwrap_err();
    assert_eq!(incompatible_reason(e), "expected memory, found func");
}

#[test]
fn memory_import_limits() {
    let (engine, mut store) = engine_store();
    let m = module(&engine, r#"(module (import "env" "m" (memory 2 4)))"#);
    let try_mem = |store: &mut Store<()>, min: u32, max: Option<u32>| {
        let mem = Memory::new(&mut *store, MemoryType::new(min, max)).unwrap();
        Instance::new(&mut *store, &m, &[mem.into()])
    };
    assert!(try_mem(&mut store, 2, Some(4)).is_ok());
    assert!(try_mem(&mut store, 3, Some(3)).is_ok());
    let e = try_mem(&mut store, 1, Some(4)).unwrap_err();
    assert_eq!(
        incompatible_reason(e),
        "expected memory {min 2, max 4}, found memory {min 1, max 4}"
    );
    assert!(try_mem(&mut store, 2, None).is_err()); // no maximum where one is required
    assert!(try_mem(&mut store, 2, Some(5)).is_err()); // maximum too large
                                                       // The current size counts, not the size at creation.
    let mem = Memory::new(&mut store, MemoryType::new(1, Some(4))).unwrap();
    mem.grow(&mut store, 1).unwrap();
    Instance::new(&mut store, &m, &[mem.into()]).unwrap();
    // An import without a maximum accepts any.
    let any = module(&engine, r#"(module (import "env" "m" (memory 0)))"#);
    let mem = Memory::new(&mut store, MemoryType::new(0, None)).unwrap();
    Instance::new(&mut store, &any, &[mem.into()]).unwrap();
}

#[test]
fn table_import_limits_and_element_type() {
    let (engine, mut store) = engine_store();
    let m = module(&engine, r#"(module (import "env" "t" (table 1 2 funcref)))"#);
    let table = |store: &mut Store<()>, ty: RefType, min: u32, max: Option<u32>| {
        Table::new(&mut *store, TableType::new(ty, min, max), Val::null_of(ty)).unwrap()
    };
    let ok = table(&mut store, RefType::FUNCREF, 2, Some(2));
    Instance::new(&mut store, &m, &[ok.into()]).unwrap();
    let small = table(&mut store, RefType::FUNCREF, 0, Some(2));
    assert!(Instance::new(&mut store, &m, &[small.into()]).is_err());
    let unbounded = table(&mut store, RefType::FUNCREF, 1, None);
    assert!(Instance::new(&mut store, &m, &[unbounded.into()]).is_err());
    let externs = table(&mut store, RefType::EXTERNREF, 1, Some(2));
    let e = Instance::new(&mut store, &m, &[externs.into()]).unwrap_err();
    assert!(incompatible_reason(e).contains("(ref null extern)"));
}

#[test]
fn global_import_rules() {
    let (engine, mut store) = engine_store();
    let consts = module(&engine, r#"(module (import "env" "g" (global funcref)))"#);
    let vars = module(&engine, r#"(module (import "env" "g" (global (mut funcref))))"#);
    let nullfunc = ValType::Ref(RefType { nullable: true, heap: HeapType::NoFunc });
    let sub =
        Global::new(&mut store, GlobalType::new(nullfunc, Mutability::Const), Val::FuncRef(None))
            .unwrap();
    // Immutable globals are covariant.
    Instance::new(&mut store, &consts, &[sub.into()]).unwrap();
    // Mutability must agree.
    let e = Instance::new(&mut store, &vars, &[sub.into()]).unwrap_err();
    assert_eq!(
        incompatible_reason(e),
        "expected global (mut (ref null func)), found global (ref null nofunc)"
    );
    // Mutable globals are invariant.
    let var_sub =
        Global::new(&mut store, GlobalType::new(nullfunc, Mutability::Var), Val::FuncRef(None))
            .unwrap();
    assert!(Instance::new(&mut store, &vars, &[var_sub.into()]).is_err());
    let var_exact = Global::new(
        &mut store,
        GlobalType::new(ValType::FUNCREF, Mutability::Var),
        Val::FuncRef(None),
    )
    .unwrap();
    Instance::new(&mut store, &vars, &[var_exact.into()]).unwrap();
    let i64g =
        Global::new(&mut store, GlobalType::new(ValType::I64, Mutability::Const), Val::I64(0))
            .unwrap();
    assert!(Instance::new(&mut store, &consts, &[i64g.into()]).is_err());
}

#[test]
fn tag_imports_need_the_same_type() {
    let (engine, mut store) = engine_store();
    let m = module(&engine, r#"(module (import "env" "e" (tag (param i32))))"#);
    let good = Tag::new(&mut store, &FuncType::new([ValType::I32], []));
    Instance::new(&mut store, &m, &[good.into()]).unwrap();
    let bad = Tag::new(&mut store, &FuncType::new([ValType::I64], []));
    let e = Instance::new(&mut store, &m, &[bad.into()]).unwrap_err();
    assert!(incompatible_reason(e).starts_with("expected tag of type (func (param i32))"));
}

#[test]
fn import_count_must_match() {
    let (engine, mut store) = engine_store();
    let m = module(&engine, r#"(module (import "env" "f" (func)) (import "env" "g" (func)))"#);
    let f = Func::wrap(&mut store, || {});
    let e = Instance::new(&mut store, &m, &[f.into()]).unwrap_err();
    assert_eq!(e.to_string(), "expected 2 imports, got 1");
}

#[test]
fn shadowing_is_refused_by_default() {
    let (engine, mut store) = engine_store();
    let mut linker = Linker::new(&engine);
    linker.func_wrap("m", "f", || 1i32).unwrap();
    let e = linker.func_wrap("m", "f", || 2i32).unwrap_err();
    assert!(e.to_string().contains("defined twice"), "{e}");
    linker.allow_shadowing(true);
    linker.func_wrap("m", "f", || 3i32).unwrap();
    let f = linker.get(&mut store, "m", "f").unwrap().into_func().unwrap();
    assert_eq!(f.typed::<(), i32>(&store).unwrap().call(&mut store, ()).unwrap(), 3);
}

#[test]
fn linker_host_funcs_become_one_func_per_store() {
    let engine = Engine::default();
    let mut linker = Linker::new(&engine);
    linker.func_wrap("m", "f", || {}).unwrap();
    let mut a = Store::new(&engine, ());
    let mut b = Store::new(&engine, ());
    let fa1 = linker.get(&mut a, "m", "f").unwrap();
    let fa2 = linker.get(&mut a, "m", "f").unwrap();
    let fb = linker.get(&mut b, "m", "f").unwrap();
    assert_eq!(fa1, fa2);
    assert_ne!(fa1, fb);
}

#[test]
fn items_of_another_store_are_refused() {
    let engine = Engine::default();
    let mut a = Store::new(&engine, ());
    let mut b = Store::new(&engine, ());
    let m = module(&engine, r#"(module (import "env" "f" (func)))"#);
    let f = Func::wrap(&mut a, || {});
    let e = Instance::new(&mut b, &m, &[f.into()]).unwrap_err();
    assert!(matches!(e, Error::Usage(_)), "{e}");
    assert!(e.to_string().contains("different store"));
    let mut linker = Linker::new(&engine);
    assert!(linker.define(&b, "env", "f", f).is_err());
    linker.define(&a, "env", "f", f).unwrap();
    assert!(linker.instantiate(&mut b, &m).is_err());
    linker.instantiate(&mut a, &m).unwrap();
}

#[test]
#[should_panic(expected = "object used with the wrong store")]
fn instance_used_with_wrong_store_panics() {
    let engine = Engine::default();
    let mut a = Store::new(&engine, ());
    let b = Store::new(&engine, ());
    let m = module(&engine, r#"(module (memory (export "m") 1))"#);
    let instance = Instance::new(&mut a, &m, &[]).unwrap();
    let _ = instance.get_memory(&b, "m");
}

#[test]
fn modules_of_another_engine_are_refused() {
    let (_, mut store) = engine_store();
    let other = Engine::default();
    let m = module(&other, "(module)");
    assert!(matches!(Instance::new(&mut store, &m, &[]), Err(Error::Usage(_))));
}

// ---- instantiation ----

#[test]
fn globals_initialise_in_order_from_imports() {
    let (engine, mut store) = engine_store();
    let m = module(
        &engine,
        r#"(module
            (import "env" "base" (global i32))
            (global $a i32 (i32.add (global.get 0) (i32.const 1)))
            (global (export "b") i64 (i64.const -1))
            (global (export "c") i32 (i32.mul (global.get $a) (i32.const 10))))"#,
    );
    let base =
        Global::new(&mut store, GlobalType::new(ValType::I32, Mutability::Const), Val::I32(4))
            .unwrap();
    let i = Instance::new(&mut store, &m, &[base.into()]).unwrap();
    assert_eq!(i.get_global(&store, "c").unwrap().get(&store), Val::I32(50));
    assert_eq!(i.get_global(&store, "b").unwrap().get(&store), Val::I64(-1));
}

#[test]
fn element_segments_fill_tables_with_instance_functions() {
    let (engine, mut store) = engine_store();
    let m = module(
        &engine,
        r#"(module
            (import "env" "h" (func $h (result i32)))
            (table (export "t") 4 funcref)
            (func $f (result i32) i32.const 1)
            (elem (i32.const 1) $f $h)
            (elem declare func $f)
            (elem $p func $h))"#,
    );
    let h = Func::wrap(&mut store, || 2i32);
    let i = Instance::new(&mut store, &m, &[h.into()]).unwrap();
    let t = i.get_table(&store, "t").unwrap();
    assert_eq!(t.get(&store, 0), Some(Val::FuncRef(None)));
    assert_eq!(t.get(&store, 2), Some(Val::FuncRef(Some(h))));
    let f = t.get(&store, 1).unwrap().funcref().unwrap().unwrap();
    assert_eq!(f.ty(&store), FuncType::new([], [ValType::I32]));
    // Active and declared segments are dropped, passive ones kept.
    let data = &store.inner.instances[i.index as usize];
    assert!(data.elem(0).is_empty());
    assert!(data.elem(1).is_empty());
    assert_eq!(data.elem(2), &[h.raw]); // the reference value: the record's address
}

#[test]
fn table_initialisers_may_use_imported_globals_and_functions() {
    let (engine, mut store) = engine_store();
    let m = module(
        &engine,
        r#"(module
            (import "env" "g" (global $g funcref))
            (func $f)
            (table (export "t") 2 funcref (global.get $g))
            (table (export "u") 1 funcref (ref.func $f)))"#,
    );
    let h = Func::wrap(&mut store, || {});
    let g = Global::new(&mut store, GlobalType::new(ValType::FUNCREF, Mutability::Const), h.into())
        .unwrap();
    let i = Instance::new(&mut store, &m, &[g.into()]).unwrap();
    let t = i.get_table(&store, "t").unwrap();
    assert_eq!(t.get(&store, 0), Some(Val::FuncRef(Some(h))));
    assert_eq!(t.get(&store, 1), Some(Val::FuncRef(Some(h))));
    let u = i.get_table(&store, "u").unwrap();
    let f = u.get(&store, 0).unwrap().funcref().unwrap().unwrap();
    assert_ne!(f, h);
}

#[test]
fn data_segments_write_in_order_and_a_trap_keeps_earlier_writes() {
    let (engine, mut store) = engine_store();
    let mem = Memory::new(&mut store, MemoryType::new(1, None)).unwrap();
    let table =
        Table::new(&mut store, TableType::new(RefType::FUNCREF, 2, None), Val::FuncRef(None))
            .unwrap();
    let m = module(
        &engine,
        r#"(module
            (import "env" "m" (memory 1))
            (import "env" "t" (table 2 funcref))
            (func $f)
            (elem (i32.const 0) $f)
            (data (i32.const 0) "ab")
            (data (i32.const 65535) "cd")
            (data (i32.const 2) "ef"))"#,
    );
    let e = Instance::new(&mut store, &m, &[mem.into(), table.into()]).unwrap_err();
    assert_eq!(e.as_trap().unwrap().code(), TrapCode::MemoryOutOfBounds);
    assert_eq!(e.to_string(), "out of bounds memory access");
    assert_eq!(&mem.data(&store)[..4], b"ab\0\0");
    // The element segment ran before the data segments; its function stays usable.
    let f = table.get(&store, 0).unwrap().funcref().unwrap().unwrap();
    assert!(f.ty(&store).params().is_empty());
}

#[test]
fn element_segment_out_of_bounds_traps_before_data() {
    let (engine, mut store) = engine_store();
    let mem = Memory::new(&mut store, MemoryType::new(1, None)).unwrap();
    let m = module(
        &engine,
        r#"(module
            (import "env" "m" (memory 1))
            (table 1 funcref)
            (func $f)
            (elem (i32.const 1) $f)
            (data (i32.const 0) "x"))"#,
    );
    let e = Instance::new(&mut store, &m, &[mem.into()]).unwrap_err();
    assert_eq!(e.as_trap().unwrap().code(), TrapCode::TableOutOfBounds);
    assert_eq!(mem.data(&store)[0], 0);
    // An empty segment at exactly the end is fine; one past the end traps.
    let at_end = module(&engine, r#"(module (table 1 funcref) (elem (i32.const 1)))"#);
    Instance::new(&mut store, &at_end, &[]).unwrap();
    let past = module(&engine, r#"(module (table 1 funcref) (elem (i32.const 2)))"#);
    assert!(Instance::new(&mut store, &past, &[]).is_err());
    let past = module(&engine, r#"(module (memory 0) (data (i32.const 1)))"#);
    assert!(Instance::new(&mut store, &past, &[]).is_err());
}

#[test]
fn instance_limit() {
    let (engine, mut store) = engine_store();
    store.limiter(StoreLimitsBuilder::new().instances(2).build());
    let m = module(&engine, "(module)");
    Instance::new(&mut store, &m, &[]).unwrap();
    Instance::new(&mut store, &m, &[]).unwrap();
    let e = Instance::new(&mut store, &m, &[]).unwrap_err();
    assert!(matches!(e, Error::Limit(_)), "{e}");
}

#[test]
fn failed_allocation_rolls_back() {
    let (engine, mut store) = engine_store();
    store.limiter(StoreLimitsBuilder::new().memory_size(65536).table_elements(5).build());
    let funcs_before = store.inner.funcs.len();
    let big_mem = module(&engine, "(module (func) (memory 2))");
    assert!(matches!(Instance::new(&mut store, &big_mem, &[]), Err(Error::Limit(_))));
    let big_table =
        module(&engine, "(module (func) (memory 1) (global i32 (i32.const 0)) (table 6 funcref))");
    assert!(matches!(Instance::new(&mut store, &big_table, &[]), Err(Error::Limit(_))));
    assert_eq!(store.inner.funcs.len(), funcs_before);
    assert!(store.inner.memories.is_empty());
    assert!(store.inner.globals.is_empty());
    assert!(store.inner.instances.is_empty());
}

#[test]
fn exports_resolve_to_imported_items() {
    let (engine, mut store) = engine_store();
    let m = module(
        &engine,
        r#"(module
            (import "env" "m" (memory 1))
            (import "env" "f" (func $f))
            (export "m2" (memory 0))
            (export "f2" (func $f)))"#,
    );
    let mem = Memory::new(&mut store, MemoryType::new(1, None)).unwrap();
    let f = Func::wrap(&mut store, || {});
    let i = Instance::new(&mut store, &m, &[mem.into(), f.into()]).unwrap();
    assert_eq!(i.get_memory(&store, "m2"), Some(mem));
    assert_eq!(i.get_func(&store, "f2"), Some(f));
    assert_eq!(i.exports(&store).len(), 2);
}

#[test]
fn typed_func_lookup_errors_name_the_export() {
    let (engine, mut store) = engine_store();
    let m = module(&engine, r#"(module (func (export "f") (param i32)) (memory (export "m") 0))"#);
    let i = Instance::new(&mut store, &m, &[]).unwrap();
    let e = i.get_typed_func::<(), ()>(&store, "f").unwrap_err();
    assert!(e.to_string().starts_with("exported function `f`: type mismatch"), "{e}");
    let e = i.get_typed_func::<(), ()>(&store, "m").unwrap_err();
    assert_eq!(e.to_string(), "no exported function named `m`");
}

// ---- calls into wasm (need the interpreter) ----

#[test]
fn start_function_runs_and_its_trap_fails_instantiation() {
    let (engine, mut store) = engine_store();
    let mem = Memory::new(&mut store, MemoryType::new(1, None)).unwrap();
    let m = module(
        &engine,
        r#"(module
            (import "env" "m" (memory 1))
            (func $start (i32.store8 (i32.const 3) (i32.const 9)))
            (start $start))"#,
    );
    Instance::new(&mut store, &m, &[mem.into()]).unwrap();
    assert_eq!(mem.data(&store)[3], 9);
    let trapping = module(&engine, "(module (func $s unreachable) (start $s))");
    let e = Instance::new(&mut store, &trapping, &[]).unwrap_err();
    assert_eq!(e.as_trap().unwrap().code(), TrapCode::Unreachable);
}

#[test]
fn host_function_reads_callers_memory() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, String::new());
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap(
            "env",
            "print",
            |mut caller: Caller<'_, String>, ptr: u32, len: u32| -> Result<()> {
                let mem = caller
                    .get_export("memory")
                    .and_then(Extern::into_memory)
                    .ok_or_else(|| Trap::host("no memory"))?;
                let (bytes, out) = mem.data_and_store_mut(&mut caller);
                let s = bytes
                    .get(ptr as usize..(ptr + len) as usize)
                    .ok_or_else(|| Trap::new(TrapCode::MemoryOutOfBounds))?;
                out.push_str(std::str::from_utf8(s).map_err(|e| Trap::host(e.to_string()))?);
                Ok(())
            },
        )
        .unwrap();
    let m = module(
        &engine,
        r#"(module
            (import "env" "print" (func $print (param i32 i32)))
            (memory (export "memory") 1)
            (data (i32.const 16) "hello, ward")
            (func (export "run") (call $print (i32.const 16) (i32.const 11)))
            (func (export "bad") (call $print (i32.const 65530) (i32.const 11))))"#,
    );
    let i = linker.instantiate(&mut store, &m).unwrap();
    i.get_typed_func::<(), ()>(&store, "run").unwrap().call(&mut store, ()).unwrap();
    assert_eq!(store.data(), "hello, ward");
    let e = i.get_typed_func::<(), ()>(&store, "bad").unwrap().call(&mut store, ()).unwrap_err();
    assert_eq!(e.as_trap().unwrap().code(), TrapCode::MemoryOutOfBounds);
}

#[test]
fn host_functions_can_call_back_into_wasm() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, None::<Func>);
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap("env", "twice", |mut caller: Caller<'_, Option<Func>>, x: i32| -> Result<i32> {
            let f = caller.data().unwrap().typed::<i32, i32>(&caller)?;
            let y = f.call(&mut caller, x)?;
            f.call(&mut caller, y)
        })
        .unwrap();
    let m = module(
        &engine,
        r#"(module
            (import "env" "twice" (func $twice (param i32) (result i32)))
            (func (export "inc") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
            (func (export "run") (param i32) (result i32) (call $twice (local.get 0))))"#,
    );
    let i = linker.instantiate(&mut store, &m).unwrap();
    *store.data_mut() = i.get_func(&store, "inc");
    let run = i.get_typed_func::<i32, i32>(&store, "run").unwrap();
    assert_eq!(run.call(&mut store, 40).unwrap(), 42);
}

#[test]
fn dynamic_call_into_wasm_with_all_value_kinds() {
    let (engine, mut store) = engine_store();
    let m = module(
        &engine,
        r#"(module (func (export "f")
            (param i32 i64 f32 f64 v128 funcref externref)
            (result externref funcref v128 f64 f32 i64 i32)
            local.get 6 local.get 5 local.get 4 local.get 3 local.get 2 local.get 1 local.get 0))"#,
    );
    let i = Instance::new(&mut store, &m, &[]).unwrap();
    let f = i.get_func(&store, "f").unwrap();
    let r = ExternRef::new(&mut store, "x");
    let params = [
        Val::I32(-7),
        Val::I64(1 << 40),
        Val::from(1.25f32),
        Val::from(-2.5f64),
        Val::V128(u128::MAX / 3),
        Val::FuncRef(Some(f)),
        Val::ExternRef(Some(r)),
    ];
    let mut out = [Val::I32(0); 7];
    f.call(&mut store, &params, &mut out).unwrap();
    let mut expected = params;
    expected.reverse();
    assert_eq!(out, expected);
}

#[test]
fn fuel_runs_out() {
    let mut config = Config::new();
    config.consume_fuel(true);
    let engine = Engine::new(&config);
    let mut store = Store::new(&engine, ());
    let m = module(&engine, r#"(module (func (export "spin") (loop br 0)))"#);
    let i = Instance::new(&mut store, &m, &[]).unwrap();
    store.set_fuel(10_000).unwrap();
    let e = i.get_typed_func::<(), ()>(&store, "spin").unwrap().call(&mut store, ()).unwrap_err();
    assert_eq!(e.as_trap().unwrap().code(), TrapCode::OutOfFuel);
    assert_eq!(store.get_fuel().unwrap(), 0);
}
