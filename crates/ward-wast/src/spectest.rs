//! The `spectest` host module that spec scripts import from.
//!
//! Its contents are fixed by the spec interpreter: `print*` functions (which print nothing here,
//! so that script output stays readable), four constant globals holding 666 or 666.6, a funcref
//! table of 10 elements (maximum 20) and a memory of one page (maximum 2). What the suite at the
//! root of the official test suite imports was checked by grepping it; it also needs `table64`,
//! an i64-indexed funcref table of 10 elements (maximum 20), and the threads proposal's
//! `shared_memory` (one page, maximum 2, shared).

use ward::{
    Global, GlobalType, Instance, Linker, Memory, MemoryType, Module, Mutability, RefType, Store,
    Table, TableType, Val, ValType,
};

/// Defines `spectest` in `linker`, with its memory, table and globals living in `store`.
pub(crate) fn define(linker: &mut Linker<()>, store: &mut Store<()>) -> ward::Result<()> {
    linker.func_wrap("spectest", "print", || {})?;
    linker.func_wrap("spectest", "print_i32", |_: i32| {})?;
    linker.func_wrap("spectest", "print_i64", |_: i64| {})?;
    linker.func_wrap("spectest", "print_f32", |_: f32| {})?;
    linker.func_wrap("spectest", "print_f64", |_: f64| {})?;
    linker.func_wrap("spectest", "print_i32_f32", |_: i32, _: f32| {})?;
    linker.func_wrap("spectest", "print_f64_f64", |_: f64, _: f64| {})?;

    let globals = [
        ("global_i32", ValType::I32, Val::I32(666)),
        ("global_i64", ValType::I64, Val::I64(666)),
        ("global_f32", ValType::F32, Val::F32(666.6f32.to_bits())),
        ("global_f64", ValType::F64, Val::F64(666.6f64.to_bits())),
    ];
    for (name, ty, value) in globals {
        let global = Global::new(&mut *store, GlobalType::new(ty, Mutability::Const), value)?;
        linker.define(&*store, "spectest", name, global)?;
    }

    let table = Table::new(
        &mut *store,
        TableType::new(RefType::FUNCREF, 10, Some(20)),
        Val::FuncRef(None),
    )?;
    linker.define(&*store, "spectest", "table", table)?;
    // The embedding API builds only 32-bit `TableType`s; a one-line module makes `table64`.
    let module =
        Module::new(store.engine(), r#"(module (table (export "table64") i64 10 20 funcref))"#)?;
    let instance = Instance::new(&mut *store, &module, &[])?;
    let table64 = instance
        .get_table(&mut *store, "table64")
        .ok_or_else(|| ward::Error::Usage("no `table64` export".into()))?;
    linker.define(&*store, "spectest", "table64", table64)?;

    let memory = Memory::new(&mut *store, MemoryType::new(1, Some(2)))?;
    linker.define(&*store, "spectest", "memory", memory)?;
    // The threads proposal's scripts import `shared_memory`: one page (maximum 2), shared.
    let module =
        Module::new(store.engine(), r#"(module (memory (export "shared_memory") 1 2 shared))"#)?;
    let instance = Instance::new(&mut *store, &module, &[])?;
    let shared = instance
        .get_memory(&mut *store, "shared_memory")
        .ok_or_else(|| ward::Error::Usage("no `shared_memory` export".into()))?;
    linker.define(&*store, "spectest", "shared_memory", shared)?;
    Ok(())
}
