//! Replays every input the fuzz targets (fuzz/) found a problem with: the files under
//! `tests/fuzz_regressions/` (see the README there). Each module is compiled with every function
//! translated; a module that compiles is instantiated with dummy imports under store limits and
//! every export is called with zero arguments under fuel, in the interpreter and in the native
//! tier. Nothing may panic.

use std::path::{Path, PathBuf};
use ward::{
    Config, Engine, Error, Extern, ExternType, Func, Global, Instance, Memory, Module, Store,
    StoreLimitsBuilder, Table, Tag, Tier, Val, ValType,
};

fn zero(t: ValType) -> Val {
    match t {
        ValType::I32 => Val::I32(0),
        ValType::I64 => Val::I64(0),
        ValType::F32 => Val::F32(0),
        ValType::F64 => Val::F64(0),
        ValType::V128 => Val::V128(0),
        ValType::Ref(r) => Val::null_of(r),
    }
}

fn dummy_imports(store: &mut Store<()>, module: &Module) -> ward::Result<Vec<Extern>> {
    let mut out = Vec::new();
    for (_, _, ty) in module.imports() {
        out.push(match ty {
            ExternType::Func(ft) => Func::new(&mut *store, ft, |_, _, _| Ok(())).into(),
            ExternType::Global(gt) => Global::new(&mut *store, gt, zero(gt.content()))?.into(),
            ExternType::Memory(mt) => Memory::new(&mut *store, mt)?.into(),
            ExternType::Table(tt) => {
                Table::new(&mut *store, tt, Val::null_of(tt.element()))?.into()
            }
            ExternType::Tag(ft) => Tag::new(&mut *store, &ft).into(),
        });
    }
    Ok(out)
}

/// Compiles, instantiates and runs `bytes` as the fuzz targets do. Returns the compilation
/// error, if any.
fn replay(bytes: &[u8], tier: Tier) -> Result<(), Error> {
    let mut config = Config::new();
    config.consume_fuel(true).eager_translation(true).tier(tier);
    let engine = Engine::new(&config);
    let module = Module::new(&engine, bytes)?;
    let mut store = Store::new(&engine, ());
    store.limiter(
        StoreLimitsBuilder::new().memory_size(16 << 20).table_elements(10_000).instances(4).build(),
    );
    let Ok(imports) = dummy_imports(&mut store, &module) else { return Ok(()) };
    store.set_fuel(200_000)?;
    let Ok(instance) = Instance::new(&mut store, &module, &imports) else { return Ok(()) };
    for (_, ext) in instance.exports(&store) {
        let Extern::Func(f) = ext else { continue };
        let ty = f.ty(&store);
        let args: Vec<Val> = ty.params().iter().map(|t| zero(*t)).collect();
        let mut results: Vec<Val> = ty.results().iter().map(|t| zero(*t)).collect();
        store.set_fuel(200_000)?;
        let _ = f.call(&mut store, &args, &mut results);
    }
    Ok(())
}

fn regression_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("wasm" | "wat")))
        .collect();
    files.sort();
    files
}

#[test]
fn every_regression_input_replays_without_panicking() {
    for path in regression_files() {
        let bytes = std::fs::read(&path).unwrap();
        for tier in [Tier::Interpreter, Tier::Native] {
            let outcome = std::panic::catch_unwind(|| replay(&bytes, tier));
            assert!(outcome.is_ok(), "{} panicked ({tier:?})", path.display());
        }
    }
}

/// `differential`, 2026-11-25: export `2` of this wasm-smith module computes a divisor with
/// `select(1, x, i32.eqz x)` (never zero), then `i32.rem_s`, and returns `f64.const 0`. Ward
/// returned 0, as does Wasmtime; wasmi 2.0 (the oracle) trapped with "integer divide by zero".
/// A bug in the oracle, kept here so that Ward's correct answer stays correct.
#[test]
fn differential_rem_after_select_returns_zero() {
    let (mut store, instance) = instance_of("differential-rem-after-select.wasm");
    let f = instance.get_func(&store, "2").unwrap();
    let mut out = [Val::F64(1)];
    let args = [Val::ExternRef(None), Val::FuncRef(None), Val::V128(0)];
    f.call(&mut store, &args, &mut out).unwrap();
    assert_eq!(out[0], Val::F64(0));
}

fn instance_of(file: &str) -> (Store<()>, Instance) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions").join(file);
    let engine = Engine::default();
    let module = Module::new(&engine, std::fs::read(path).unwrap()).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    (store, instance)
}

/// `differential`, 2026-11-25: export `""` (20 parameters, results `i64 v128`) called with
/// zeros returns these values in Ward and in Wasmtime; wasmi 2.0 trapped with "integer divide
/// by zero". An oracle bug.
#[test]
fn differential_many_params_v128_result() {
    let (mut store, instance) = instance_of("differential-many-params-v128-result.wasm");
    let f = instance.get_func(&store, "").unwrap();
    let ty = f.ty(&store);
    let args: Vec<Val> = ty.params().iter().map(|t| zero(*t)).collect();
    let mut out = [Val::I64(0), Val::V128(0)];
    f.call(&mut store, &args, &mut out).unwrap();
    assert_eq!(out, [Val::I64(-137438953473), Val::V128(0xffffffdf_ffffffff_ffffffdf_ffffffff)]);
}

/// `differential`, 2026-11-25: after instantiation (the start function runs) and a call of
/// export `3`, which xors `i32.reinterpret_f32` of its float results into global `4`, the global
/// holds 0x7fc0fffe in Ward and in Wasmtime; wasmi 2.0 computed a canonical NaN (0x7fc00000) for
/// a value that is not a NaN. An oracle bug.
#[test]
fn differential_f32_bits_into_global() {
    let (mut store, instance) = instance_of("differential-f32-bits-into-global.wasm");
    let f = instance.get_func(&store, "3").unwrap();
    f.call(&mut store, &[], &mut []).unwrap();
    let g = instance.get_global(&store, "4").unwrap();
    assert_eq!(g.get(&store), Val::I32(0x7fc0_fffe));
}

/// `differential`, 2026-11-25: export `1` (20 `i64` parameters, result `funcref`) of a module
/// with 64-bit tables and four 64-bit memories, called with zeros, returns null in Ward and in
/// Wasmtime; wasmi 2.0 trapped with "integer divide by zero" inside wasm-smith's guard that
/// replaces a zero divisor by one. An oracle bug.
#[test]
fn differential_multi_memory_funcref_result() {
    let (mut store, instance) = instance_of("differential-multi-memory-funcref-result.wasm");
    let f = instance.get_func(&store, "1").unwrap();
    let args = vec![Val::I64(0); 20];
    let mut out = [Val::FuncRef(None)];
    f.call(&mut store, &args, &mut out).unwrap();
    assert!(out[0].is_null());
}

/// Found by `instantiate_call` with GC on: a tag (or function) import whose type is in a
/// recursion group with another type, satisfied by a host-made tag of the same signature. The
/// types differ (a host type is final and alone in its group), so linking must fail cleanly,
/// and the reason must say why two equal-looking signatures do not match rather than only
/// "expected tag of type (func), found tag of type (func)".
#[test]
fn instantiate_call_host_type_outside_a_recursion_group() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
             (rec (type $t (func)) (type (struct)))
             (type $open (sub (func (param i32))))
             (import "m" "tag" (tag (type $t)))
             (import "m" "f" (func (type $open))))"#,
    )
    .expect("valid");
    let mut store = Store::new(&engine, ());
    let mut imports = dummy_imports(&mut store, &module).expect("dummies");
    let reason = |e: Error| match e {
        Error::IncompatibleImport { reason, .. } => reason,
        other => panic!("expected an incompatible import, got {other:?}"),
    };
    let e = Instance::new(&mut store, &module, &imports).expect_err("the tag does not match");
    let text = reason(e);
    assert!(text.starts_with("expected tag of type (func), found tag of type (func): "), "{text}");
    assert!(text.contains("recursion group"), "{text}");

    // A tag of the module's own type links; then the non-final function type is the mismatch.
    let exporter = Module::new(
        &engine,
        r#"(module (rec (type $t (func)) (type (struct))) (tag (export "tag") (type $t)))"#,
    )
    .expect("valid");
    let owner = Instance::new(&mut store, &exporter, &[]).expect("instantiates");
    imports[0] = owner.get_export(&store, "tag").expect("exported");
    let e = Instance::new(&mut store, &module, &imports).expect_err("the function does not match");
    let text = reason(e);
    assert!(text.contains("(param i32)") && text.contains("not final"), "{text}");

    // Through a linker, the same reason.
    let mut linker = ward::Linker::new(&engine);
    linker.define(&store, "m", "tag", imports[0]).expect("defined");
    linker
        .func_new("m", "f", ward::FuncType::new([ValType::I32], []), |_, _, _| Ok(()))
        .expect("defined");
    let e = linker.instantiate(&mut store, &module).expect_err("the function does not match");
    assert!(reason(e).contains("not final"));
}
