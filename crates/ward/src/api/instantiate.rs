//! Instantiation: import checking, creation of the instance's objects, segment initialisation and
//! the start function, in the order the WebAssembly spec prescribes.

use super::call::call_raw;
use super::externs::Extern;
use super::func::check_count;
use super::instance::Instance;
use super::store::Store;
use super::subtyping::val_subtype;
use super::table::new_table_instance;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::module::{Import, ImportKind, Module, ModuleInner, SegmentMode};
use crate::runtime::{FuncEntry, FuncKind, GlobalCell, InstanceData, LinearMemory, TagEntry};
use crate::types::{MemoryType, Mutability, TableType};
use crate::TrapCode;
use std::cell::Cell;
use std::sync::Arc;

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
    if let Some(max) = store.inner.limits.instances {
        if store.inner.instances.len() >= max {
            return Err(Error::Limit(format!("instance limit of {max} reached")));
        }
    }
    check_count("import", m.imports.len(), imports.len())?;
    for (imp, ext) in m.imports.iter().zip(imports) {
        check_import(store, m, imp, ext)?;
    }

    // Allocation. Until the instance is recorded nothing can observe the new objects, so a
    // failure (a resource limit) rolls the store back.
    let before = Lengths::of(store);
    let allocated = allocate(store, &module.inner, imports);
    let data = match allocated {
        Ok(data) => data,
        Err(e) => {
            before.restore(store);
            return Err(e);
        }
    };
    let index = store.inner.instances.len() as u32;
    debug_assert_eq!(before.instances, store.inner.instances.len());
    store.inner.instances.push(Box::new(data));
    let instance = Instance { store_id: store.id(), index };

    // Initialisation. From here on effects are visible (through imported tables and memories)
    // and stay even if a later step traps.
    init_elems(store, m, index)?;
    init_datas(store, m, index)?;
    tracing::debug!(target: "ward", instance = index, "instantiated");
    if let Some(start) = m.start {
        let func = store.inner.instances[index as usize].funcs[start as usize];
        call_raw(store, func, &[], &mut [])?;
    }
    Ok(instance)
}

/// Store vector lengths, to undo a failed allocation.
struct Lengths {
    funcs: usize,
    memories: usize,
    tables: usize,
    globals: usize,
    tags: usize,
    instances: usize,
    accounted_bytes: u64,
}

impl Lengths {
    fn of<T>(store: &Store<T>) -> Lengths {
        let s = &store.inner;
        Lengths {
            funcs: s.funcs.len(),
            memories: s.memories.len(),
            tables: s.tables.len(),
            globals: s.globals.len(),
            tags: s.tags.len(),
            instances: s.instances.len(),
            accounted_bytes: s.accounted_bytes,
        }
    }

    fn restore<T>(&self, store: &mut Store<T>) {
        let s = &mut store.inner;
        s.funcs.truncate(self.funcs);
        s.memories.truncate(self.memories);
        let kept = self.memories;
        s.shared_views.retain(|_, i| (*i as usize) < kept);
        s.tables.truncate(self.tables);
        s.globals.truncate(self.globals);
        s.tags.truncate(self.tags);
        s.accounted_bytes = self.accounted_bytes;
    }
}

/// Creates the module's functions, memories, globals, tables and tags and evaluates its element
/// segments; returns the instance data (not yet recorded in the store).
fn allocate<T>(
    store: &mut Store<T>,
    m: &Arc<ModuleInner>,
    imports: &[Extern],
) -> Result<InstanceData> {
    let instance = store.inner.instances.len() as u32;
    let (mut funcs, mut tables, mut memories, mut globals, mut tags) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for ext in imports {
        match ext {
            Extern::Func(f) => funcs.push(f.index),
            Extern::Table(t) => tables.push(t.index),
            Extern::Memory(mem) => memories.push(mem.index),
            Extern::Global(g) => globals.push(g.index),
            Extern::Tag(t) => tags.push(t.index),
        }
    }
    let s = &mut store.inner;

    for ty in &m.memories[m.num_imported_memories as usize..] {
        let mem = s.new_memory(*ty)?;
        memories.push(s.memories.len() as u32);
        s.memories.push(Box::new(mem));
    }

    for index in m.num_imported_funcs..m.funcs.len() as u32 {
        let t = &m.types[m.funcs[index as usize] as usize];
        funcs.push(s.funcs.len() as u32);
        s.funcs.push(FuncEntry {
            type_id: t.id,
            supers: t.supers.clone(),
            ty: m.func_type_of_type(m.funcs[index as usize]).clone(),
            kind: FuncKind::Wasm { instance, index },
        });
    }
    let mut func_ref = |f: u32| u64::from(funcs[f as usize]) + 1;

    // Globals in order: an initialiser may read imported and earlier globals.
    for def in &m.globals[m.num_imported_globals as usize..] {
        let value = {
            let read = |g: u32| s.globals[globals[g as usize] as usize].value;
            def.init.eval(&read, &mut func_ref)
        };
        globals.push(s.globals.len() as u32);
        s.globals.push(Box::new(GlobalCell { value, ty: def.ty }));
    }
    let read_global =
        |s: &crate::runtime::StoreInner, g: u32| s.globals[globals[g as usize] as usize].value;

    for def in &m.tables[m.num_imported_tables as usize..] {
        let init = match &def.init {
            Some(e) => e.eval(&|g| read_global(s, g), &mut func_ref) as u64,
            None => 0,
        };
        s.admit_table(&def.ty)?;
        let table = new_table_instance(&s.limits, def.ty, init)?;
        tables.push(s.tables.len() as u32);
        s.tables.push(Box::new(table));
    }

    for &t in &m.tags[m.num_imported_tags as usize..] {
        tags.push(s.tags.len() as u32);
        s.tags
            .push(TagEntry { type_id: m.types[t as usize].id, ty: m.func_type_of_type(t).clone() });
    }

    // Evaluated segments are host memory sized by the module: account for them first.
    let items: u64 = m.elems.iter().map(|seg| seg.items.len() as u64).sum();
    s.charge(items.saturating_mul(crate::runtime::TABLE_ELEM_BYTES), || {
        format!("{items} element-segment items")
    })?;
    let elems: Box<[Box<[u64]>]> =
        m.elems.iter().map(|seg| seg.items.eval(&|g| read_global(s, g), &mut func_ref)).collect();

    let memory_ptrs = memories
        .iter()
        .map(|&i| std::ptr::from_mut::<LinearMemory>(&mut s.memories[i as usize]))
        .collect();
    let global_ptrs = globals
        .iter()
        .map(|&i| std::ptr::from_mut::<GlobalCell>(&mut s.globals[i as usize]))
        .collect();
    Ok(InstanceData {
        module: m.clone(),
        funcs: funcs.into(),
        tables: tables.into(),
        memories: memories.into(),
        memory_ptrs,
        globals: globals.into(),
        global_ptrs,
        tags: tags.into(),
        elem_dropped: (0..elems.len()).map(|_| Cell::new(false)).collect(),
        elems,
        data_dropped: (0..m.datas.len()).map(|_| Cell::new(false)).collect(),
    })
}

/// Writes the active element segments to their tables, in order, and drops active and declared
/// segments. An out-of-bounds segment traps; earlier segments' writes stay.
fn init_elems<T>(store: &mut Store<T>, m: &ModuleInner, instance: u32) -> Result<()> {
    let s = &mut store.inner;
    for (i, seg) in m.elems.iter().enumerate() {
        match &seg.mode {
            SegmentMode::Passive => continue,
            SegmentMode::Declared => {}
            SegmentMode::Active { index, offset } => {
                let data = &s.instances[instance as usize];
                let read = |g: u32| s.globals[data.globals[g as usize] as usize].value;
                let offset =
                    offset.eval(&read, &mut |f| u64::from(data.funcs[f as usize]) + 1) as u64;
                let table = data.tables[*index as usize] as usize;
                let items = &s.instances[instance as usize].elems[i];
                let elems = &mut s.tables[table].elems;
                let dst = usize::try_from(offset)
                    .ok()
                    .and_then(|o| Some(o..o.checked_add(items.len())?))
                    .and_then(|r| elems.get_mut(r))
                    .ok_or_else(|| Error::from(TrapCode::TableOutOfBounds))?;
                dst.copy_from_slice(items);
            }
        }
        s.instances[instance as usize].elem_dropped[i].set(true);
    }
    Ok(())
}

/// Writes the active data segments to their memories, in order, and drops them. An
/// out-of-bounds segment traps; earlier segments' writes stay.
fn init_datas<T>(store: &mut Store<T>, m: &ModuleInner, instance: u32) -> Result<()> {
    let s = &mut store.inner;
    for (i, seg) in m.datas.iter().enumerate() {
        let SegmentMode::Active { index, offset } = &seg.mode else {
            continue;
        };
        let data = &s.instances[instance as usize];
        let read = |g: u32| s.globals[data.globals[g as usize] as usize].value;
        let offset = offset.eval(&read, &mut |f| u64::from(data.funcs[f as usize]) + 1) as u64;
        let memory = data.memories[*index as usize] as usize;
        let bytes = &m.bytes[seg.range.clone()];
        // A raw copy: the memory may be shared with other threads (no reference to its bytes).
        if !s.memories[memory].write_at(offset, bytes) {
            return Err(TrapCode::MemoryOutOfBounds.into());
        }
        s.instances[instance as usize].data_dropped[i].set(true);
    }
    Ok(())
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
                return Err(incompatible(format!(
                    "expected func of type {}, found func of type {}",
                    m.func_type_of_type(*t),
                    entry.ty
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
                return Err(incompatible(format!(
                    "expected tag of type {}, found tag of type {have_ty}",
                    m.func_type_of_type(*t)
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
