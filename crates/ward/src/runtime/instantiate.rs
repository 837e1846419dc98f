//! Instantiation in the runtime: creating an instance's objects and context, evaluating its
//! element segments, and initialising tables and memories from its active segments, in the
//! order the WebAssembly spec prescribes. Imports arrive as store indices already checked
//! against the module's types (by the API layer, which also runs the start function).

use crate::error::{Error, Result};
use crate::module::{ConstAlloc, ConstEnv, ModuleInner, SegmentMode};
use crate::runtime::vmctx::{VMCounts, VMOffsets};
use crate::runtime::{
    FuncEntry, FuncKind, FuncRefPtr, GlobalCell, InstanceData, StoreInner, StoreLimits,
    TableInstance, TagEntry, VMContextBox, VMFuncRef, VMStoreContext, MAX_TABLE_ELEMS,
};
use crate::types::TableType;
use crate::TrapCode;
use std::cell::Cell;
use std::sync::Arc;

/// An import resolved to a store object, in module import order.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ImportIndex {
    Func(u32),
    Table(u32),
    Memory(u32),
    Global(u32),
    Tag(u32),
}

/// Creates an instance of `m` in `s` with `imports` and initialises it from its active
/// segments; its store index. Allocation failures leave the store as it was; a segment that
/// traps leaves the instance (and the writes of earlier segments) in place, as the spec says.
pub(crate) fn instantiate(
    s: &mut StoreInner,
    m: &Arc<ModuleInner>,
    imports: &[ImportIndex],
) -> Result<u32> {
    if let Some(max) = s.limits.instances {
        if s.instances.len() >= max {
            return Err(Error::Limit(format!("instance limit of {max} reached")));
        }
    }
    // Allocation. Until the instance is recorded nothing can observe the new objects, so a
    // failure (a resource limit) rolls the store back.
    let before = Lengths::of(s);
    let data = match allocate(s, m, imports) {
        Ok(data) => data,
        Err(e) => {
            before.restore(s);
            return Err(e);
        }
    };
    let index = s.instances.len() as u32;
    s.instances.push(Box::new(data));

    // Initialisation. From here on effects are visible (through imported tables and memories)
    // and stay even if a later step traps.
    init_elems(s, m, index)?;
    init_datas(s, m, index)?;
    tracing::debug!(target: "ward", instance = index, "instantiated");
    Ok(index)
}

/// A table instance of type `ty` with `ty.minimum()` elements set to `init` (a raw reference),
/// within the store's limits.
pub(crate) fn new_table_instance(
    limits: &StoreLimits,
    ty: TableType,
    init: u64,
) -> Result<TableInstance> {
    let mut max = ty.max.unwrap_or(u64::MAX);
    if let Some(limit) = limits.table_elements {
        max = max.min(limit);
    }
    if ty.min > max || ty.min > MAX_TABLE_ELEMS {
        return Err(Error::Limit(format!(
            "table of {} elements exceeds the limit of {} elements",
            ty.min,
            max.min(MAX_TABLE_ELEMS)
        )));
    }
    let mut elems = Vec::new();
    elems
        .try_reserve_exact(ty.min as usize)
        .map_err(|_| Error::Limit(format!("cannot allocate a table of {} elements", ty.min)))?;
    elems.resize(ty.min as usize, init);
    Ok(TableInstance::new(elems, ty, max))
}

/// Store vector lengths, to undo a failed allocation.
struct Lengths {
    funcs: usize,
    memories: usize,
    tables: usize,
    globals: usize,
    tags: usize,
    accounted_bytes: u64,
    gc_bytes: u64,
}

impl Lengths {
    fn of(s: &StoreInner) -> Lengths {
        Lengths {
            funcs: s.funcs.len(),
            memories: s.memories.len(),
            tables: s.tables.len(),
            globals: s.globals.len(),
            tags: s.tags.len(),
            accounted_bytes: s.accounted_bytes,
            gc_bytes: s.gc.live_bytes(),
        }
    }

    fn restore(&self, s: &mut StoreInner) {
        s.funcs.truncate(self.funcs);
        s.memories.truncate(self.memories);
        let kept = self.memories;
        s.shared_views.retain(|_, i| (*i as usize) < kept);
        s.tables.truncate(self.tables);
        s.globals.truncate(self.globals);
        s.tags.truncate(self.tags);
        // GC objects the failed instance's constant expressions made stay in the heap until
        // the next collection frees them (and refunds them): they stay accounted until then.
        let gc_made = s.gc.live_bytes().saturating_sub(self.gc_bytes);
        s.accounted_bytes = self.accounted_bytes + gc_made;
    }
}

/// Creates the module's functions, memories, globals, tables and tags and evaluates its element
/// segments; returns the instance data (not yet recorded in the store).
fn allocate(
    s: &mut StoreInner,
    m: &Arc<ModuleInner>,
    imports: &[ImportIndex],
) -> Result<InstanceData> {
    let instance = s.instances.len() as u32;
    // Exact capacities: each list becomes a boxed slice of the instance without reallocating,
    // and an instance is created for every nanoprocess, so every allocation counts.
    let (mut funcs, mut tables, mut memories, mut globals, mut tags) = (
        Vec::with_capacity(m.funcs.len()),
        Vec::with_capacity(m.tables.len()),
        Vec::with_capacity(m.memories.len()),
        Vec::with_capacity(m.globals.len()),
        Vec::with_capacity(m.tags.len()),
    );
    s.funcs.reserve(m.funcs.len() - m.num_imported_funcs as usize);
    s.memories.reserve(m.memories.len() - m.num_imported_memories as usize);
    s.globals.reserve(m.globals.len() - m.num_imported_globals as usize);
    s.tables.reserve(m.tables.len() - m.num_imported_tables as usize);
    for &import in imports {
        match import {
            ImportIndex::Func(i) => funcs.push(i),
            ImportIndex::Table(i) => tables.push(i),
            ImportIndex::Memory(i) => memories.push(i),
            ImportIndex::Global(i) => globals.push(i),
            ImportIndex::Tag(i) => tags.push(i),
        }
    }
    let offsets = VMOffsets::new(VMCounts::of(m)).ok_or_else(|| {
        Error::Limit("the module's index spaces are too large for an instance context".into())
    })?;
    let store_ctx: *mut VMStoreContext = &mut *s.vm;
    let mut vmctx = VMContextBox::new(offsets, instance, store_ctx);
    for (i, t) in m.types.iter().enumerate() {
        vmctx.set_type_id(i as u32, t.id);
    }

    for ty in &m.memories[m.num_imported_memories as usize..] {
        let mem = s.new_memory(*ty)?;
        memories.push(s.memories.len() as u32);
        s.memories.push(Box::new(mem));
    }
    for (i, &mem) in memories.iter().enumerate() {
        vmctx.set_memory(i as u32, &mut *s.memories[mem as usize]);
    }

    for (i, &f) in funcs.iter().enumerate() {
        vmctx.set_funcref(i as u32, s.funcs[f as usize].funcref.0);
    }
    for index in m.num_imported_funcs..m.funcs.len() as u32 {
        let t = &m.types[m.funcs[index as usize] as usize];
        let func_index = s.funcs.len() as u32;
        let record = VMFuncRef::new(t.id, func_index, vmctx.as_ptr());
        let funcref = vmctx.init_defined_funcref(index - m.num_imported_funcs, record);
        vmctx.set_funcref(index, funcref);
        funcs.push(func_index);
        s.funcs.push(FuncEntry {
            type_id: t.id,
            supers: t.supers.clone(),
            ty: m.func_type_of_type(m.funcs[index as usize]).clone(),
            kind: FuncKind::Wasm { instance, index },
            funcref: FuncRefPtr(funcref),
        });
    }
    // Globals in order: an initialiser may read imported and earlier globals.
    for def in &m.globals[m.num_imported_globals as usize..] {
        let value = def.init.eval(&mut InstanceEnv { s, m, globals: &globals, funcs: &funcs })?;
        globals.push(s.globals.len() as u32);
        s.globals.push(Box::new(GlobalCell { value, ty: def.ty }));
    }

    for def in &m.tables[m.num_imported_tables as usize..] {
        let init = match &def.init {
            Some(e) => e.eval(&mut InstanceEnv { s, m, globals: &globals, funcs: &funcs })? as u64,
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
    let elems: Box<[Box<[u64]>]> = m
        .elems
        .iter()
        .map(|seg| seg.items.eval(&mut InstanceEnv { s, m, globals: &globals, funcs: &funcs }))
        .collect::<Result<_>>()?;

    for (i, &g) in globals.iter().enumerate() {
        vmctx.set_global(i as u32, &mut *s.globals[g as usize]);
    }
    for (i, &t) in tables.iter().enumerate() {
        vmctx.set_table(i as u32, &mut *s.tables[t as usize]);
    }
    Ok(InstanceData {
        module: m.clone(),
        funcs: funcs.into(),
        tables: tables.into(),
        memories: memories.into(),
        globals: globals.into(),
        tags: tags.into(),
        elem_dropped: (0..elems.len()).map(|_| Cell::new(false)).collect(),
        elems,
        data_dropped: (0..m.datas.len()).map(|_| Cell::new(false)).collect(),
        vmctx,
    })
}

/// What constant expressions of an instance being created read and allocate.
struct InstanceEnv<'a> {
    s: &'a mut StoreInner,
    m: &'a ModuleInner,
    /// Store indices of the module's globals created so far.
    globals: &'a [u32],
    /// Store indices of the module's functions.
    funcs: &'a [u32],
}

impl ConstEnv for InstanceEnv<'_> {
    fn global(&self, g: u32) -> u128 {
        self.s.globals[self.globals[g as usize] as usize].value
    }

    fn func_ref(&mut self, f: u32) -> u64 {
        self.s.funcref_raw(self.funcs[f as usize])
    }

    fn alloc(&mut self, ty: u32, init: ConstAlloc<'_>) -> Result<u64> {
        Ok(self.s.gc_alloc_init(self.m.gc_type(ty), init)?)
    }

    fn field_count(&self, ty: u32) -> usize {
        match &self.m.gc_type(ty).kind {
            crate::module::gc_types::GcKind::Struct(l) => l.fields.len(),
            crate::module::gc_types::GcKind::Array(_) => 0,
        }
    }

    fn i31(&self, v: u32) -> u64 {
        crate::runtime::gc::refs::i31(v)
    }
}

/// Evaluates `e` for the recorded instance `instance` of `m`.
fn eval_in_instance(
    s: &mut StoreInner,
    m: &ModuleInner,
    instance: u32,
    e: &crate::module::ConstExpr,
) -> Result<u128> {
    // Borrowed out of the instance for the evaluation (which reads no instance), not copied:
    // a module may have many segments and many functions.
    let data = &mut s.instances[instance as usize];
    let globals = std::mem::take(&mut data.globals);
    let funcs = std::mem::take(&mut data.funcs);
    let value = e.eval(&mut InstanceEnv { s, m, globals: &globals, funcs: &funcs });
    let data = &mut s.instances[instance as usize];
    (data.globals, data.funcs) = (globals, funcs);
    value
}

/// Writes the active element segments to their tables, in order, and drops active and declared
/// segments. An out-of-bounds segment traps; earlier segments' writes stay.
fn init_elems(s: &mut StoreInner, m: &ModuleInner, instance: u32) -> Result<()> {
    for (i, seg) in m.elems.iter().enumerate() {
        match &seg.mode {
            SegmentMode::Passive => continue,
            SegmentMode::Declared => {}
            SegmentMode::Active { index, offset } => {
                let offset = eval_in_instance(s, m, instance, offset)? as u64;
                let table = s.instances[instance as usize].tables[*index as usize] as usize;
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
fn init_datas(s: &mut StoreInner, m: &ModuleInner, instance: u32) -> Result<()> {
    for (i, seg) in m.datas.iter().enumerate() {
        let SegmentMode::Active { index, offset } = &seg.mode else {
            continue;
        };
        let offset = eval_in_instance(s, m, instance, offset)? as u64;
        let memory = s.instances[instance as usize].memories[*index as usize] as usize;
        let bytes = &m.bytes[seg.range.clone()];
        // A raw copy: the memory may be shared with other threads (no reference to its bytes).
        if !s.memories[memory].write_at(offset, bytes) {
            return Err(TrapCode::MemoryOutOfBounds.into());
        }
        s.instances[instance as usize].data_dropped[i].set(true);
    }
    Ok(())
}
