//! Ward's side of the fuzz targets: dummy imports, value conversion and outcome classification,
//! all through Ward's public embedding API.

use crate::{CallOutcome, FinalState, TrapKind, Ty, Value};
use ward::{
    Error, Extern, ExternType, Func, Global, HeapType, Instance, Memory, RefType, Store, Table,
    Tag, TrapCode, Val, ValType,
};

/// What a dummy host function does when called.
#[derive(Clone, Debug)]
pub enum HostBehaviour {
    /// Returns zeros (or nulls) of its result types.
    Zeros,
    /// Fails with a host trap.
    Trap,
    /// Calls the calling instance's export of this name, if it is a function, with zero
    /// arguments (re-entering the interpreter), then returns zeros.
    Reenter(String),
}

/// A store with the fuzz targets' limits (`MEMORY_LIMIT`, `TABLE_LIMIT`, `INSTANCE_LIMIT`).
pub fn limited_store(engine: &ward::Engine) -> Store<()> {
    let mut store = Store::new(engine, ());
    store.limiter(
        ward::StoreLimitsBuilder::new()
            .memory_size(crate::MEMORY_LIMIT)
            .table_elements(crate::TABLE_LIMIT)
            .instances(crate::INSTANCE_LIMIT)
            .build(),
    );
    store
}

/// The names of `module`'s exported functions.
pub fn exported_funcs(module: &ward::Module) -> Vec<String> {
    module
        .exports()
        .filter(|(_, ty)| matches!(ty, ExternType::Func(_)))
        .map(|(name, _)| name.to_string())
        .collect()
}

/// A behaviour, drawn from `u`, for each import of `module` (by import index; only function
/// imports use theirs): mostly zeros, sometimes a trap or a call back into one of the
/// module's exported functions.
pub fn arbitrary_behaviours(
    u: &mut arbitrary::Unstructured<'_>,
    module: &ward::Module,
) -> arbitrary::Result<Vec<HostBehaviour>> {
    let export_funcs = exported_funcs(module);
    let mut behaviours = Vec::new();
    for _ in 0..module.imports().len() {
        behaviours.push(match u.int_in_range(0..=3u8)? {
            0 | 1 => HostBehaviour::Zeros,
            2 => HostBehaviour::Trap,
            _ if export_funcs.is_empty() => HostBehaviour::Zeros,
            _ => HostBehaviour::Reenter(u.choose(&export_funcs)?.clone()),
        });
    }
    Ok(behaviours)
}

/// The zero (or null) value of `t`.
pub fn zero(t: ValType) -> Val {
    match t {
        ValType::I32 => Val::I32(0),
        ValType::I64 => Val::I64(0),
        ValType::F32 => Val::F32(0),
        ValType::F64 => Val::F64(0),
        ValType::V128 => Val::V128(0),
        ValType::Ref(r) => Val::null_of(r),
    }
}

/// The engine-neutral type of `t`.
pub fn ty(t: ValType) -> Ty {
    match t {
        ValType::I32 => Ty::I32,
        ValType::I64 => Ty::I64,
        ValType::F32 => Ty::F32,
        ValType::F64 => Ty::F64,
        ValType::V128 => Ty::V128,
        ValType::Ref(_) => Ty::Ref,
    }
}

/// `v` as a Ward value of type `t` (references: null of `t`).
pub fn to_val(v: Value, t: ValType) -> Val {
    match (v, t) {
        (Value::I32(x), _) => Val::I32(x as i32),
        (Value::I64(x), _) => Val::I64(x as i64),
        (Value::F32(x), _) => Val::F32(x),
        (Value::F64(x), _) => Val::F64(x),
        (Value::V128(x), _) => Val::V128(x),
        (Value::Ref { .. }, t) => zero(t),
    }
}

/// The engine-neutral form of `v`.
pub fn from_val(v: &Val) -> Value {
    match *v {
        Val::I32(x) => Value::I32(x as u32),
        Val::I64(x) => Value::I64(x as u64),
        Val::F32(x) => Value::f32(x),
        Val::F64(x) => Value::f64(x),
        Val::V128(x) => Value::V128(x),
        Val::FuncRef(f) => Value::Ref { null: f.is_none() },
        Val::ExternRef(r) => Value::Ref { null: r.is_none() },
        Val::ExnRef(r) => Value::Ref { null: r.is_none() },
        Val::AnyRef(r) => Value::Ref { null: r.is_none() },
    }
}

/// Panics (a fuzz finding) unless `v` is a value of type `t`, as far as its representation
/// shows: a call must return values of the function's declared result types.
pub fn assert_has_type(v: &Val, t: ValType) {
    let ok = match (v, t) {
        (Val::I32(_), ValType::I32)
        | (Val::I64(_), ValType::I64)
        | (Val::F32(_), ValType::F32)
        | (Val::F64(_), ValType::F64)
        | (Val::V128(_), ValType::V128) => true,
        (Val::FuncRef(f), ValType::Ref(r)) => {
            top(r) == HeapType::Func && (r.nullable || f.is_some())
        }
        (Val::ExternRef(e), ValType::Ref(r)) => {
            top(r) == HeapType::Extern && (r.nullable || e.is_some())
        }
        (Val::ExnRef(e), ValType::Ref(r)) => top(r) == HeapType::Exn && (r.nullable || e.is_some()),
        (Val::AnyRef(a), ValType::Ref(r)) => top(r) == HeapType::Any && (r.nullable || a.is_some()),
        _ => false,
    };
    assert!(ok, "a call returned {v:?} for a result of type {t}");
}

/// The top of a reference type's hierarchy.
fn top(r: RefType) -> HeapType {
    match r.heap {
        HeapType::Func | HeapType::NoFunc | HeapType::Concrete(_) => HeapType::Func,
        HeapType::Extern | HeapType::NoExtern => HeapType::Extern,
        HeapType::Exn | HeapType::NoExn => HeapType::Exn,
        HeapType::Any
        | HeapType::Eq
        | HeapType::I31
        | HeapType::Struct
        | HeapType::Array
        | HeapType::None
        | HeapType::ConcreteStruct(_)
        | HeapType::ConcreteArray(_) => HeapType::Any,
        other => other,
    }
}

/// Classifies how a Ward call ended.
pub fn outcome(result: Result<Vec<Val>, Error>) -> CallOutcome {
    match result {
        Ok(vals) => CallOutcome::Returned(vals.iter().map(from_val).collect()),
        Err(e) => error_outcome(&e),
    }
}

/// Classifies a Ward error: a trap by its kind, anything else as a failure.
pub fn error_outcome(e: &Error) -> CallOutcome {
    match e {
        Error::Trap(t) => CallOutcome::Trapped(trap_kind(t.code())),
        e => CallOutcome::Failed(e.to_string()),
    }
}

/// The coarse kind of a Ward trap code (see [`TrapKind`]).
pub fn trap_kind(code: TrapCode) -> TrapKind {
    match code {
        TrapCode::Unreachable => TrapKind::Unreachable,
        TrapCode::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
        TrapCode::TableOutOfBounds
        | TrapCode::ElementOutOfBounds
        | TrapCode::UninitializedElement
        | TrapCode::UndefinedElement
        | TrapCode::NullReference
        | TrapCode::NullFunctionReference => TrapKind::TableOrIndirect,
        TrapCode::IndirectCallTypeMismatch => TrapKind::BadSignature,
        TrapCode::IntegerDivideByZero => TrapKind::DivideByZero,
        TrapCode::IntegerOverflow => TrapKind::IntegerOverflow,
        TrapCode::InvalidConversionToInteger => TrapKind::BadConversion,
        TrapCode::StackOverflow => TrapKind::StackOverflow,
        TrapCode::OutOfFuel => TrapKind::OutOfFuel,
        other => TrapKind::Other(other.message().to_string()),
    }
}

/// One import for each of `module`'s imports, made from its type: host functions behaving as
/// `behaviour(i)` says for the `i`-th function import, globals holding zero, memories and
/// tables of the declared minimum size, fresh tags.
///
/// Fails (with the store's error) when an item cannot be made, for example a memory over the
/// store's limit. See [`needs_a_non_null_import`] for imports no dummy can satisfy.
pub fn ward_dummy_imports(
    store: &mut Store<()>,
    module: &ward::Module,
    mut behaviour: impl FnMut(usize) -> HostBehaviour,
) -> ward::Result<Vec<Extern>> {
    let mut out = Vec::with_capacity(module.imports().len());
    let mut func_index = 0;
    for (_, _, ty) in module.imports() {
        let ext: Extern = match ty {
            ExternType::Func(ft) => {
                let b = behaviour(func_index);
                func_index += 1;
                Func::new(&mut *store, ft, move |mut caller, _params, _results| match &b {
                    HostBehaviour::Zeros => Ok(()),
                    HostBehaviour::Trap => Err(ward::Trap::host("dummy import trapped").into()),
                    HostBehaviour::Reenter(name) => {
                        let Some(f) = caller.get_export(name).and_then(Extern::into_func) else {
                            return Ok(());
                        };
                        let fty = f.ty(&caller);
                        let args: Vec<Val> = fty.params().iter().map(|t| zero(*t)).collect();
                        let mut res: Vec<Val> = fty.results().iter().map(|t| zero(*t)).collect();
                        f.call(&mut caller, &args, &mut res)
                    }
                })
                .into()
            }
            ExternType::Global(gt) => Global::new(&mut *store, gt, zero(gt.content()))?.into(),
            ExternType::Memory(mt) => Memory::new(&mut *store, mt)?.into(),
            ExternType::Table(tt) => {
                Table::new(&mut *store, tt, Val::null_of(tt.element()))?.into()
            }
            ExternType::Tag(ft) => Tag::new(&mut *store, &ft).into(),
        };
        out.push(ext);
    }
    Ok(out)
}

/// The engine-neutral form of `v` with a float's exact bits (NaN payload kept), for comparing
/// Ward with itself: its two tiers promise the same bits.
pub fn exact_value(v: &Val) -> Value {
    match *v {
        Val::F32(x) => Value::F32(x),
        Val::F64(x) => Value::F64(x),
        ref v => from_val(v),
    }
}

/// The exported globals, memories and tables of `instance`, in export order (globals' floats
/// with NaNs canonicalised).
pub fn final_state(store: &Store<()>, instance: Instance) -> FinalState {
    final_state_with(store, instance, from_val)
}

/// [`final_state`] with globals' values converted by `value` (for example [`exact_value`]).
pub fn final_state_with(
    store: &Store<()>,
    instance: Instance,
    value: fn(&Val) -> Value,
) -> FinalState {
    let mut state = FinalState::default();
    for (name, ext) in instance.exports(store) {
        match ext {
            Extern::Global(g) => state.globals.push((name, value(&g.get(store)))),
            Extern::Memory(m) => state.memories.push((name, memory_bytes(store, m))),
            Extern::Table(t) => {
                let n = t.size(store);
                let elems = (0..n).map(|i| t.get(store, i).is_none_or(|v| v.is_null())).collect();
                state.tables.push((name, elems));
            }
            Extern::Func(_) | Extern::Tag(_) => {}
        }
    }
    state
}

/// What [`call_every_export`] did.
#[derive(Clone, Copy, Debug, Default)]
pub struct CallCounts {
    pub calls: usize,
    pub returned: usize,
    pub out_of_fuel: usize,
}

/// Calls every exported function of `instance`, in export order, each with fresh fuel and with
/// arguments from `arg`, and checks that every result has its declared type.
pub fn call_every_export(
    store: &mut Store<()>,
    instance: Instance,
    fuel: u64,
    mut arg: impl FnMut(Ty) -> Value,
) -> CallCounts {
    let mut counts = CallCounts::default();
    for (_, ext) in instance.exports(&*store) {
        let Extern::Func(f) = ext else { continue };
        let fty = f.ty(&*store);
        let args: Vec<Val> = fty.params().iter().map(|t| to_val(arg(ty(*t)), *t)).collect();
        let mut results: Vec<Val> = fty.results().iter().map(|t| zero(*t)).collect();
        if store.set_fuel(fuel).is_err() {
            return counts;
        }
        counts.calls += 1;
        match f.call(&mut *store, &args, &mut results) {
            Ok(()) => {
                counts.returned += 1;
                for (v, t) in results.iter().zip(fty.results()) {
                    assert_has_type(v, *t);
                }
            }
            Err(Error::Trap(t)) if t.code() == TrapCode::OutOfFuel => counts.out_of_fuel += 1,
            Err(_) => {}
        }
    }
    counts
}

/// Whether `module` imports a global or table of a non-nullable reference type: such an import
/// needs a real object of its type (a struct, a function of a concrete type), which the dummy
/// imports do not make, so the module cannot be instantiated with them.
pub fn needs_a_non_null_import(module: &ward::Module) -> bool {
    module.imports().any(|(_, _, ty)| match ty {
        ExternType::Global(g) => matches!(g.content(), ValType::Ref(r) if !r.nullable),
        ExternType::Table(t) => !t.element().nullable,
        _ => false,
    })
}

/// A copy of `memory`'s bytes. A shared memory's bytes cannot be borrowed (another thread may
/// write them), so they are copied out with [`Memory::read`].
pub fn memory_bytes(store: &Store<()>, memory: Memory) -> Vec<u8> {
    if !memory.is_shared(store) {
        return memory.data(store).to_vec();
    }
    let mut bytes = vec![0; memory.data_size(store)];
    memory.read(store, 0, &mut bytes).expect("a memory is readable to its end");
    bytes
}
