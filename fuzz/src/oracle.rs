//! The differential oracle: wasmi 2.0, driven like Ward (same dummy imports, same limits,
//! fuel as a backstop), with its values and traps mapped to the engine-neutral model.

use crate::{CallOutcome, FinalState, TrapKind, Ty, Value};
use wasmi::{
    Config, Engine, Error, Extern, ExternType, Func, Global, Instance, Memory, Module, Ref, Store,
    StoreLimits, StoreLimitsBuilder, Table, TrapCode, Val, ValType,
};

/// A wasmi engine with the features of the differential configuration and fuel metering on.
pub fn engine() -> Engine {
    let mut c = Config::default();
    c.consume_fuel(true)
        .wasm_multi_value(true)
        .wasm_multi_memory(true)
        .wasm_bulk_memory(true)
        .wasm_reference_types(true)
        .wasm_tail_call(true)
        .wasm_extended_const(true)
        .wasm_memory64(true)
        .wasm_simd(true)
        .wasm_relaxed_simd(false)
        .wasm_wide_arithmetic(true)
        .wasm_custom_page_sizes(true);
    Engine::new(&c)
}

/// A store with the same limits as Ward's store in the differential target.
pub fn store(engine: &Engine) -> Store<StoreLimits> {
    let limits = StoreLimitsBuilder::new()
        .memory_size(crate::MEMORY_LIMIT)
        .table_elements(crate::TABLE_LIMIT)
        .instances(crate::INSTANCE_LIMIT)
        .build();
    let mut store = Store::new(engine, limits);
    store.limiter(|limits| limits);
    store
}

/// The engine-neutral type of `t`.
pub fn ty(t: ValType) -> Ty {
    match t {
        ValType::I32 => Ty::I32,
        ValType::I64 => Ty::I64,
        ValType::F32 => Ty::F32,
        ValType::F64 => Ty::F64,
        ValType::V128 => Ty::V128,
        ValType::FuncRef | ValType::ExternRef => Ty::Ref,
    }
}

/// `v` as a wasmi value of type `t` (references: null of `t`).
pub fn to_val(v: Value, t: ValType) -> Val {
    match v {
        Value::I32(x) => Val::I32(x as i32),
        Value::I64(x) => Val::I64(x as i64),
        Value::F32(x) => Val::F32(wasmi::F32::from_bits(x)),
        Value::F64(x) => Val::F64(wasmi::F64::from_bits(x)),
        Value::V128(x) => Val::V128(wasmi::V128::from(x)),
        Value::Ref { .. } => Val::default_for_ty(t),
    }
}

/// The engine-neutral form of `v`.
pub fn from_val(v: &Val) -> Value {
    match v {
        Val::I32(x) => Value::I32(*x as u32),
        Val::I64(x) => Value::I64(*x as u64),
        Val::F32(x) => Value::f32(x.to_bits()),
        Val::F64(x) => Value::f64(x.to_bits()),
        Val::V128(x) => Value::V128(x.as_u128()),
        Val::FuncRef(f) => Value::Ref { null: f.is_null() },
        Val::ExternRef(r) => Value::Ref { null: r.is_null() },
    }
}

/// The coarse kind of a wasmi trap code (see [`TrapKind`]).
pub fn trap_kind(code: TrapCode) -> TrapKind {
    match code {
        TrapCode::UnreachableCodeReached => TrapKind::Unreachable,
        TrapCode::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
        TrapCode::TableOutOfBounds | TrapCode::IndirectCallToNull => TrapKind::TableOrIndirect,
        TrapCode::BadSignature => TrapKind::BadSignature,
        TrapCode::IntegerDivisionByZero => TrapKind::DivideByZero,
        TrapCode::IntegerOverflow => TrapKind::IntegerOverflow,
        TrapCode::BadConversionToInteger => TrapKind::BadConversion,
        TrapCode::StackOverflow => TrapKind::StackOverflow,
        TrapCode::OutOfFuel => TrapKind::OutOfFuel,
        other => TrapKind::Other(format!("{other:?}")),
    }
}

/// Classifies how a wasmi call ended. An out-of-system-memory trap is an engine limit.
pub fn outcome(result: Result<Vec<Val>, Error>) -> CallOutcome {
    match result {
        Ok(vals) => CallOutcome::Returned(vals.iter().map(from_val).collect()),
        Err(e) => error_outcome(&e),
    }
}

/// Classifies a wasmi error: a trap by its kind (running out of system memory counts as an
/// engine limit), anything else as a failure.
pub fn error_outcome(e: &Error) -> CallOutcome {
    match e.as_trap_code() {
        Some(TrapCode::OutOfSystemMemory) => CallOutcome::Trapped(TrapKind::OutOfFuel),
        Some(code) => CallOutcome::Trapped(trap_kind(code)),
        None => CallOutcome::Failed(e.to_string()),
    }
}

/// One import for each of `module`'s imports, as Ward's side makes them: host functions
/// returning zeros, globals holding zero, memories and tables of the declared minimum size.
pub fn dummy_imports(
    store: &mut Store<StoreLimits>,
    module: &Module,
) -> Result<Vec<Extern>, Error> {
    let mut out = Vec::new();
    for import in module.imports() {
        let ext: Extern = match import.ty() {
            ExternType::Func(ft) => {
                let results: Vec<ValType> = ft.results().to_vec();
                Func::new(&mut *store, ft.clone(), move |_caller, _params, out| {
                    for (slot, t) in out.iter_mut().zip(&results) {
                        *slot = Val::default_for_ty(*t);
                    }
                    Ok(())
                })
                .into()
            }
            ExternType::Global(gt) => {
                Global::new(&mut *store, Val::default_for_ty(gt.content()), gt.mutability()).into()
            }
            ExternType::Memory(mt) => Memory::new(&mut *store, *mt)?.into(),
            ExternType::Table(tt) => Table::new(&mut *store, *tt, Ref::null(tt.element()))?.into(),
        };
        out.push(ext);
    }
    Ok(out)
}

/// The exported globals, memories and tables of `instance`, in the export order of `names`.
pub fn final_state(store: &Store<StoreLimits>, instance: Instance, names: &[String]) -> FinalState {
    let mut state = FinalState::default();
    for name in names {
        match instance.get_export(store, name) {
            Some(Extern::Global(g)) => state.globals.push((name.clone(), from_val(&g.get(store)))),
            Some(Extern::Memory(m)) => state.memories.push((name.clone(), m.data(store).to_vec())),
            Some(Extern::Table(t)) => {
                let n = t.size(store);
                let elems = (0..n).map(|i| t.get(store, i).is_none_or(|r| r.is_null())).collect();
                state.tables.push((name.clone(), elems));
            }
            Some(Extern::Func(_)) | None => {}
        }
    }
    state
}
