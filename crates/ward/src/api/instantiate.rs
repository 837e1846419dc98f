//! Instantiation as the API sees it: import checking against the module's declared types, then
//! the runtime's allocation and segment initialisation (`runtime::instantiate`), then the start
//! function, in the order the WebAssembly spec prescribes.

use super::call::call_raw;
use super::externs::Extern;
use super::func::check_count;
use super::instance::Instance;
use super::store::Store;
use super::subtyping::val_subtype;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::module::{Import, ImportKind, Module, ModuleInner};
use crate::runtime::{self, instantiate::ImportIndex};
use crate::types::{FuncType, MemoryType, Mutability, TableType};

/// Instantiates `module` in `store` with `imports` (in module import order).
pub(crate) fn instantiate<T>(
    store: &mut Store<T>,
    module: &Module,
    imports: &[Extern],
) -> Result<Instance> {
    let m = &*module.inner;
    let _span = tracing::debug_span!(target: "ward", "instantiate", module = ?m.name).entered();
    if !Engine::same(&m.engine, &store.inner.engine) {
        return Err(Error::usage("the module and the store belong to different engines"));
    }
    check_count("import", m.imports.len(), imports.len())?;
    for (imp, ext) in m.imports.iter().zip(imports) {
        check_import(store, m, imp, ext)?;
    }

    let imports: Vec<ImportIndex> = imports
        .iter()
        .map(|ext| match ext {
            Extern::Func(f) => ImportIndex::Func(f.index),
            Extern::Table(t) => ImportIndex::Table(t.index),
            Extern::Memory(mem) => ImportIndex::Memory(mem.index),
            Extern::Global(g) => ImportIndex::Global(g.index),
            Extern::Tag(t) => ImportIndex::Tag(t.index),
        })
        .collect();
    let index = runtime::instantiate::instantiate(&mut store.inner, &module.inner, &imports)?;
    crate::native::attach(&mut store.inner, index);
    let instance = Instance { store_id: store.id(), index };
    if let Some(start) = m.start {
        let func = store.inner.instances[index as usize].funcs[start as usize];
        call_raw(store, func, &[], &mut [])?;
    }
    Ok(instance)
}

/// Checks one import against the module's declared import type.
fn check_import<T>(store: &Store<T>, m: &ModuleInner, imp: &Import, ext: &Extern) -> Result<()> {
    if ext.store_id() != store.id() {
        return Err(Error::usage(format!(
            "import `{}::{}` is an item of a different store",
            imp.module, imp.name
        )));
    }
    let s = &store.inner;
    let incompatible = |reason: String| Error::IncompatibleImport {
        module: imp.module.clone(),
        name: imp.name.clone(),
        reason,
    };
    match (&imp.kind, ext) {
        (ImportKind::Func(t), Extern::Func(f)) => {
            let entry = &s.funcs[f.index as usize];
            if !entry.matches(m.types[*t as usize].id) {
                return Err(incompatible(signature_mismatch(
                    "func",
                    m.func_type_of_type(*t),
                    &entry.ty,
                )));
            }
        }
        (ImportKind::Table(want), Extern::Table(t)) => {
            let table = &s.tables[t.index as usize];
            let have = TableType { min: table.elems.len() as u64, ..table.ty };
            if !table_matches(have, *want) {
                return Err(incompatible(format!(
                    "expected {}, found {}",
                    describe_table(*want),
                    describe_table(have)
                )));
            }
        }
        (ImportKind::Memory(want), Extern::Memory(mem)) => {
            let memory = &s.memories[mem.index as usize];
            let have = MemoryType { min: memory.pages(), ..memory.ty };
            if !memory_matches(have, *want) {
                return Err(incompatible(format!(
                    "expected {}, found {}",
                    describe_memory(*want),
                    describe_memory(have)
                )));
            }
        }
        (ImportKind::Global(want), Extern::Global(g)) => {
            let have = s.globals[g.index as usize].ty;
            let ok = have.mutability == want.mutability
                && match want.mutability {
                    Mutability::Const => val_subtype(have.content, want.content, Some(m)),
                    Mutability::Var => have.content == want.content,
                };
            if !ok {
                return Err(incompatible(format!(
                    "expected global {}, found global {}",
                    describe_global(*want),
                    describe_global(have)
                )));
            }
        }
        (ImportKind::Tag(t), Extern::Tag(tag)) => {
            let (have_id, have_ty) = tag.entry_type(s);
            if have_id != m.types[*t as usize].id {
                return Err(incompatible(signature_mismatch(
                    "tag",
                    m.func_type_of_type(*t),
                    &have_ty,
                )));
            }
        }
        (want, have) => {
            let want = match want {
                ImportKind::Func(_) => "func",
                ImportKind::Table(_) => "table",
                ImportKind::Memory(_) => "memory",
                ImportKind::Global(_) => "global",
                ImportKind::Tag(_) => "tag",
            };
            return Err(incompatible(format!("expected {want}, found {}", kind_name(have))));
        }
    }
    Ok(())
}

pub(crate) fn kind_name(e: &Extern) -> &'static str {
    match e {
        Extern::Func(_) => "func",
        Extern::Table(_) => "table",
        Extern::Memory(_) => "memory",
        Extern::Global(_) => "global",
        Extern::Tag(_) => "tag",
    }
}

/// Import matching of limits: at least the declared minimum, and a maximum within the declared
/// one (if any).
fn limits_match(
    have_min: u64,
    have_max: Option<u64>,
    want_min: u64,
    want_max: Option<u64>,
) -> bool {
    have_min >= want_min
        && match want_max {
            None => true,
            Some(w) => have_max.is_some_and(|h| h <= w),
        }
}

fn table_matches(have: TableType, want: TableType) -> bool {
    have.element == want.element
        && have.table64 == want.table64
        && limits_match(have.min, have.max, want.min, want.max)
}

fn memory_matches(have: MemoryType, want: MemoryType) -> bool {
    have.memory64 == want.memory64
        && have.shared == want.shared
        && have.page_size_log2 == want.page_size_log2
        && limits_match(have.min, have.max, want.min, want.max)
}

fn describe_limits(min: u64, max: Option<u64>) -> String {
    match max {
        Some(max) => format!("{{min {min}, max {max}}}"),
        None => format!("{{min {min}, no max}}"),
    }
}

fn describe_table(t: TableType) -> String {
    let index = if t.table64 { "i64 " } else { "" };
    format!("table {index}{} of {}", describe_limits(t.min, t.max), t.element)
}

fn describe_memory(t: MemoryType) -> String {
    let index = if t.memory64 { "i64 " } else { "" };
    let shared = if t.shared { " shared" } else { "" };
    format!("memory {index}{}{shared}", describe_limits(t.min, t.max))
}

fn describe_global(g: crate::types::GlobalType) -> String {
    match g.mutability {
        Mutability::Const => format!("{}", g.content),
        Mutability::Var => format!("(mut {})", g.content),
    }
}

/// Why a function or tag of type `have` does not match an import of type `want`. Two types with
/// the same signature differ when one is in a recursion group with other types or is not final
/// (a type the host makes from a `FuncType` is always final and alone in its group): then the
/// printed signatures are equal, and the reason says so.
pub(crate) fn signature_mismatch(kind: &str, want: &FuncType, have: &FuncType) -> String {
    let text = format!("expected {kind} of type {want}, found {kind} of type {have}");
    if want != have {
        return text;
    }
    format!(
        "{text}: the same signature but a different type (the expected type is in a recursion \
         group with other types, or is not final; a type made by the host is final and alone in \
         its group)"
    )
}
