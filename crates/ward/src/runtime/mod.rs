//! The runtime data layout shared by every execution tier.
//!
//! A [`StoreInner`] owns every runtime object: functions, memories, tables, globals, tags,
//! instances, host references and exception objects. Objects are addressed by index ("handles");
//! memories, tables and globals are boxed so that the raw pointers kept in each instance's
//! context ([`vmctx`]) stay valid for the life of the store. A function reference value is the
//! address of the function's [`vmctx::VMFuncRef`] record; `exnref` values are `index + 1` into
//! `exns`; `externref` and `anyref` values share the encoding of [`gc::refs`] (host references
//! `index + 1` into `externrefs`, i31s and heap objects tagged); 0 is null.

pub(crate) mod atomics;
pub(crate) mod exceptions;
pub(crate) mod fuel;
pub(crate) mod gc;
pub(crate) mod instantiate;
pub(crate) mod memory;
pub(crate) mod pool;
pub(crate) mod simd;
pub(crate) mod vmctx;

pub(crate) use exceptions::{ExnHeap, ExnObject};
pub use memory::LinearMemory;
pub(crate) use memory::SharedBytes;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::module::ModuleInner;
use crate::types::{FuncType, GlobalType, MemoryType, TableType};
use std::any::Any;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
pub(crate) use vmctx::{FuncRefArena, VMContextBox, VMFuncRef, VMStoreContext};

/// Where a function's code lives.
#[derive(Clone)]
pub(crate) enum FuncKind {
    /// A function defined by a wasm module, in `instance`, with module function index `index`.
    Wasm { instance: u32, index: u32 },
    /// A host function: `host` indexes the store's host-function table.
    Host { host: u32 },
}

/// A function object.
#[derive(Clone)]
pub(crate) struct FuncEntry {
    /// Canonical type id.
    pub(crate) type_id: u32,
    /// Canonical ids of the declared supertypes of the function's type.
    pub(crate) supers: Arc<[u32]>,
    pub(crate) ty: Arc<FuncType>,
    pub(crate) kind: FuncKind,
    /// The function's record: its reference value is this address.
    pub(crate) funcref: FuncRefPtr,
}

/// The address of a function's [`VMFuncRef`] record (in its instance's context or the store's
/// arena; never moves while the store lives).
#[derive(Clone, Copy)]
pub(crate) struct FuncRefPtr(pub(crate) *const VMFuncRef);

// SAFETY: the record belongs to the same store as the entry holding the pointer, and is only
// dereferenced while that store is borrowed.
unsafe impl Send for FuncRefPtr {}
// SAFETY: as for `Send`.
unsafe impl Sync for FuncRefPtr {}

impl FuncEntry {
    /// Whether this function may be called as type `expected` (equal or a declared subtype).
    #[inline]
    pub(crate) fn matches(&self, expected: u32) -> bool {
        self.type_id == expected || self.supers.contains(&expected)
    }
}

/// A global cell. Values are raw bits: i32/f32 in the low 32 bits, references as their
/// reference values. `value` comes first: contexts point at it (see [`vmctx`]).
#[repr(C)]
pub(crate) struct GlobalCell {
    pub(crate) value: u128,
    pub(crate) ty: GlobalType,
}

/// A table instance. Elements are reference values (0 = null).
///
/// `base` and `length` (the table's definition, read by every tier through the contexts that
/// point here) always describe `elems`: everything that may reallocate or resize `elems` goes
/// through [`TableInstance::grow`], which updates them.
#[repr(C)]
pub(crate) struct TableInstance {
    pub(crate) base: *mut u64,
    pub(crate) length: u64,
    pub(crate) elems: Vec<u64>,
    pub(crate) ty: TableType,
    /// Element count limit combining the declared maximum and the store's limits.
    pub(crate) max: u64,
}

// SAFETY: `base` points into `elems`, owned by the table; the store that owns the table moves
// between threads as a whole and mutates it only under `&mut`.
unsafe impl Send for TableInstance {}
// SAFETY: as for `Send`.
unsafe impl Sync for TableInstance {}

impl TableInstance {
    pub(crate) fn new(mut elems: Vec<u64>, ty: TableType, max: u64) -> TableInstance {
        TableInstance { base: elems.as_mut_ptr(), length: elems.len() as u64, elems, ty, max }
    }

    /// Grows by `delta` elements set to `init`; returns the old size or `None`.
    pub(crate) fn grow(&mut self, delta: u64, init: u64) -> Option<u64> {
        let old = self.elems.len() as u64;
        let new = old.checked_add(delta)?;
        let index_max = if self.ty.table64 { u64::MAX } else { u32::MAX as u64 };
        if new > self.max || new > index_max || new > MAX_TABLE_ELEMS {
            return None;
        }
        self.elems.try_reserve(delta as usize).ok()?;
        self.elems.resize(new as usize, init);
        self.base = self.elems.as_mut_ptr();
        self.length = new;
        Some(old)
    }
}

/// Hard cap on table size (elements), whatever the declared maximum: 10 million entries.
pub(crate) const MAX_TABLE_ELEMS: u64 = 10_000_000;

/// An exception tag. Identity is the index in the store.
pub(crate) struct TagEntry {
    pub(crate) type_id: u32,
    pub(crate) ty: Arc<FuncType>,
}

/// An instantiated module: its index spaces resolved to store objects.
pub(crate) struct InstanceData {
    pub(crate) module: Arc<ModuleInner>,
    /// Store function index of each module function.
    pub(crate) funcs: Box<[u32]>,
    /// Store table index of each module table.
    pub(crate) tables: Box<[u32]>,
    /// Store memory index of each module memory.
    pub(crate) memories: Box<[u32]>,
    /// Store global index of each module global.
    pub(crate) globals: Box<[u32]>,
    /// Store tag index of each module tag.
    pub(crate) tags: Box<[u32]>,
    /// Element segments, evaluated (see [`InstanceData::elem`]).
    pub(crate) elems: Box<[Box<[u64]>]>,
    /// Whether each element segment was dropped. A `Cell` because `elem.drop` runs while the
    /// interpreter holds a shared reference to the instance.
    pub(crate) elem_dropped: Box<[Cell<bool>]>,
    /// Whether each data segment was dropped (a `Cell` for the same reason).
    pub(crate) data_dropped: Box<[Cell<bool>]>,
    /// The instance's context: what every tier reads (see [`vmctx`]).
    pub(crate) vmctx: VMContextBox,
}

impl InstanceData {
    /// The contents of element segment `seg`: empty once dropped.
    pub(crate) fn elem(&self, seg: u32) -> &[u64] {
        if self.elem_dropped[seg as usize].get() {
            &[]
        } else {
            &self.elems[seg as usize]
        }
    }
}

// SAFETY: the raw pointers point into boxes owned by the same store, which moves between threads
// as a whole; they are only dereferenced while the store is exclusively borrowed.
unsafe impl Send for InstanceData {}
// SAFETY: see `Send`. The `Cell` flags are only written by code holding the store exclusively
// (`&mut StoreInner`), so shared references never observe a concurrent write.
unsafe impl Sync for InstanceData {}

/// A host reference (`externref`) object.
pub(crate) type ExternObject = Box<dyn Any + Send + Sync>;

/// Resource limits of a store.
#[derive(Clone, Debug)]
pub(crate) struct StoreLimits {
    /// Size cap of any one memory.
    pub(crate) memory_bytes: Option<u64>,
    /// Element cap of any one table.
    pub(crate) table_elements: Option<u64>,
    pub(crate) instances: Option<usize>,
    /// How many memories and tables the store may create (imports of existing ones are free).
    pub(crate) memories: Option<usize>,
    pub(crate) tables: Option<usize>,
    /// Cap on [`StoreInner::accounted_bytes`].
    pub(crate) total_bytes: Option<u64>,
    /// Cap on the bytes of live GC objects.
    pub(crate) gc_heap_bytes: Option<u64>,
}

/// Default count limits: a guest cannot make a store hold more than this many instances,
/// memories or tables unless the embedder raises the limit.
pub(crate) const DEFAULT_COUNT_LIMIT: usize = 10_000;

impl Default for StoreLimits {
    fn default() -> StoreLimits {
        StoreLimits {
            memory_bytes: None,
            table_elements: None,
            instances: Some(DEFAULT_COUNT_LIMIT),
            memories: Some(DEFAULT_COUNT_LIMIT),
            tables: Some(DEFAULT_COUNT_LIMIT),
            total_bytes: None,
            gc_heap_bytes: Some(gc::DEFAULT_GC_HEAP_BYTES),
        }
    }
}

/// Bytes accounted for each table element.
pub(crate) const TABLE_ELEM_BYTES: u64 = std::mem::size_of::<u64>() as u64;

/// The live part of the value stack of an interpreter call suspended in a host function.
#[derive(Clone, Copy)]
pub(crate) struct SuspendedStack {
    pub(crate) start: *const u64,
    pub(crate) len: usize,
    /// The call's frame records (the interpreter's, opaque here) and how many: the collector
    /// reads their stack maps to find the references in the stack.
    pub(crate) frames: *const (),
    pub(crate) frames_len: usize,
}

// SAFETY: the pointers are only read by the collectors, which run inside a wasm call of
// the same store; the suspended call's stack buffer is owned by an `Execution` that stays
// borrowed (on the native stack of the thread running the store) until its host call returns
// and the entry is removed. Moving the store to another thread needs it un-borrowed, which
// cannot happen while a call is suspended in a host function.
unsafe impl Send for SuspendedStack {}

/// Decides, growth by growth, whether a store's memories and tables may grow. Install one with
/// [`Store::resource_limiter`](crate::Store::resource_limiter); it is consulted (after the fixed
/// [`StoreLimits`](crate::StoreLimits) and the declared maximum allow the growth) by
/// `memory.grow`, `table.grow`, [`Memory::grow`](crate::Memory::grow) and
/// [`Table::grow`](crate::Table::grow). Refusing makes the growth fail the way the spec says
/// (`memory.grow` returns -1); it never traps.
///
/// ```
/// use ward::{Engine, Memory, MemoryType, ResourceLimiter, Store};
///
/// /// Lets memories grow to 4 pages in all.
/// struct FourPages;
/// impl ResourceLimiter for FourPages {
///     fn memory_growing(&mut self, _current: u64, desired: u64, _max: Option<u64>) -> bool {
///         desired <= 4 * 65536
///     }
///     fn table_growing(&mut self, _current: u64, _desired: u64, _max: Option<u64>) -> bool {
///         true
///     }
/// }
///
/// let mut store = Store::new(&Engine::default(), ());
/// store.resource_limiter(FourPages);
/// let m = Memory::new(&mut store, MemoryType::new(1, None))?;
/// assert!(m.grow(&mut store, 3).is_ok());
/// assert!(m.grow(&mut store, 1).is_err());
/// # Ok::<(), ward::Error>(())
/// ```
pub trait ResourceLimiter: Send {
    /// A memory wants to grow from `current` to `desired` bytes (`maximum`: its declared
    /// maximum in bytes, if any). Return `false` to refuse.
    fn memory_growing(&mut self, current: u64, desired: u64, maximum: Option<u64>) -> bool;
    /// A table wants to grow from `current` to `desired` elements. Return `false` to refuse.
    fn table_growing(&mut self, current: u64, desired: u64, maximum: Option<u64>) -> bool;
}

static NEXT_STORE_ID: AtomicU64 = AtomicU64::new(1);

/// The non-generic part of a store: every runtime object.
///
/// Memories, tables, globals and instances are boxed on purpose: raw pointers to them are kept
/// in instance data (and will be in native code), so they must not move when the vectors grow.
#[allow(clippy::vec_box)]
pub(crate) struct StoreInner {
    pub(crate) id: u64,
    pub(crate) engine: Engine,
    pub(crate) funcs: Vec<FuncEntry>,
    pub(crate) memories: Vec<Box<LinearMemory>>,
    pub(crate) tables: Vec<Box<TableInstance>>,
    pub(crate) globals: Vec<Box<GlobalCell>>,
    pub(crate) tags: Vec<TagEntry>,
    pub(crate) instances: Vec<Box<InstanceData>>,
    pub(crate) externrefs: Vec<ExternObject>,
    pub(crate) exns: ExnHeap,
    /// Structs and arrays (see [`gc`]).
    pub(crate) gc: gc::GcHeap,
    /// Value stacks of the interpreter calls suspended in host functions (outer levels of a
    /// wasm -> host -> wasm nesting), as `(start, live slots)`: roots for the exception
    /// collector. Entry `k` belongs to nesting level `k`; stale entries left by a panic are
    /// dropped when the next call at that level starts.
    pub(crate) suspended_stacks: Vec<SuspendedStack>,
    /// Value stacks of parked calls (see `ParkedCall`), by parking slot: roots as well.
    pub(crate) parked_stacks: Vec<Option<SuspendedStack>>,
    /// The largest native frame (bytes) of the native code of the store's instances: native
    /// calls keep room for one below their stack limit.
    pub(crate) native_frame: u32,
    pub(crate) limits: StoreLimits,
    /// Host memory held for the guest, store-wide: the size of every linear memory, 8 bytes per
    /// table element, 8 bytes per evaluated element-segment item, and every live GC object.
    /// Checked against `limits.total_bytes`; objects other than GC objects are never freed
    /// before the store, so it only shrinks when a collection frees objects (or to undo a
    /// failed instantiation).
    pub(crate) accounted_bytes: u64,
    /// The per-store context every instance's context points to: fuel, the fuel-yield level,
    /// the epoch deadline and pointers to the epoch counter and the interrupt flag. Boxed: its
    /// address is in every context.
    pub(crate) vm: Box<VMStoreContext>,
    /// The records of host functions (wasm functions' records live in their contexts).
    pub(crate) funcref_arena: FuncRefArena,

    /// Set by another thread to stop running wasm at its next checkpoint (see
    /// `Config::interruptible`).
    pub(crate) interrupt: Arc<std::sync::atomic::AtomicBool>,
    /// The engine's epoch counter (shared); this store's deadline on it is `vm.epoch_deadline`:
    /// running wasm stops at its next checkpoint once `epoch >= deadline` (with
    /// `Config::epoch_interruption`).
    pub(crate) epoch: Arc<AtomicU64>,
    /// The embedder's growth policy, if any.
    pub(crate) limiter: Option<Box<dyn ResourceLimiter>>,
    /// This store's view of each shared memory it imported, by the address of its bytes (kept
    /// alive by the view), so that one shared memory has one index per store.
    pub(crate) shared_views: std::collections::HashMap<usize, u32>,
    /// Calls from the host that ran native code (a diagnostic: `Store::native_entries`).
    pub(crate) native_entries: u64,
}

impl StoreInner {
    pub(crate) fn new(engine: &Engine) -> StoreInner {
        let interrupt = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let epoch = engine.inner.epoch.clone();
        let vm = Box::new(VMStoreContext::new(Arc::as_ptr(&epoch), Arc::as_ptr(&interrupt)));
        StoreInner {
            id: NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed),
            engine: engine.clone(),
            funcs: Vec::new(),
            memories: Vec::new(),
            tables: Vec::new(),
            globals: Vec::new(),
            tags: Vec::new(),
            instances: Vec::new(),
            externrefs: Vec::new(),
            exns: ExnHeap::default(),
            gc: gc::GcHeap::default(),
            suspended_stacks: Vec::new(),
            parked_stacks: Vec::new(),
            native_frame: 0,
            limits: StoreLimits::default(),
            accounted_bytes: 0,
            vm,
            funcref_arena: FuncRefArena::default(),
            interrupt,
            epoch,
            limiter: None,
            shared_views: std::collections::HashMap::new(),
            native_entries: 0,
        }
    }

    /// The reference value of store function `func`: the address of its record.
    #[inline]
    pub(crate) fn funcref_raw(&self, func: u32) -> u64 {
        self.funcs[func as usize].funcref.0 as usize as u64
    }

    /// The store function a non-null function reference value refers to.
    #[inline]
    pub(crate) fn func_of_raw(&self, raw: u64) -> u32 {
        debug_assert_ne!(raw, 0);
        // SAFETY: function reference values in this store's slots, globals, tables and
        // segments are addresses of its records, which live as long as the store.
        unsafe { VMFuncRef::func_index_of(raw) }
    }

    /// Records a host function of type `ty` (canonical id `type_id`, supertypes `supers`)
    /// running host implementation `host`; its store index.
    pub(crate) fn push_host_func(
        &mut self,
        type_id: u32,
        supers: Arc<[u32]>,
        ty: Arc<FuncType>,
        host: u32,
    ) -> u32 {
        let index = self.funcs.len() as u32;
        let funcref = FuncRefPtr(self.funcref_arena.alloc(VMFuncRef::new(
            type_id,
            index,
            std::ptr::null_mut(),
        )));
        self.funcs.push(FuncEntry { type_id, supers, ty, kind: FuncKind::Host { host }, funcref });
        index
    }

    /// Accounts `bytes` more host memory for the guest, or fails naming `what` if that would
    /// pass the store's total limit.
    pub(crate) fn charge(&mut self, bytes: u64, what: impl FnOnce() -> String) -> Result<()> {
        let total = self.accounted_bytes.saturating_add(bytes);
        if let Some(limit) = self.limits.total_bytes {
            if total > limit {
                return Err(Error::Limit(format!(
                    "{} would take the store past its limit of {limit} bytes for memories, \
                     tables and element segments ({} in use)",
                    what(),
                    self.accounted_bytes
                )));
            }
        }
        self.accounted_bytes = total;
        Ok(())
    }

    /// Gives back `bytes` accounted by [`StoreInner::charge`] for something not created.
    pub(crate) fn refund(&mut self, bytes: u64) {
        self.accounted_bytes = self.accounted_bytes.saturating_sub(bytes);
    }

    /// A new linear memory of type `ty`, within the store's count, size and total limits.
    pub(crate) fn new_memory(&mut self, ty: MemoryType) -> Result<LinearMemory> {
        if let Some(max) = self.limits.memories {
            if self.memories.len() >= max {
                return Err(Error::Limit(format!(
                    "the store's limit of {max} memories is reached"
                )));
            }
        }
        let bytes = ty.min.saturating_mul(1u64 << ty.page_size_log2);
        self.charge(bytes, || format!("a memory of {} pages", ty.min))?;
        LinearMemory::new(ty, self.limits.memory_bytes, self.engine.memory_pool())
            .inspect_err(|_| self.refund(bytes))
    }

    /// Checks that the store may create a table of type `ty` and accounts its elements.
    pub(crate) fn admit_table(&mut self, ty: &TableType) -> Result<()> {
        if let Some(max) = self.limits.tables {
            if self.tables.len() >= max {
                return Err(Error::Limit(format!("the store's limit of {max} tables is reached")));
            }
        }
        self.charge(ty.min.saturating_mul(TABLE_ELEM_BYTES), || {
            format!("a table of {} elements", ty.min)
        })
    }

    /// Grows `mem` by `delta` pages if the store's limits and the limiter (if any) agree; the
    /// old size in pages.
    pub(crate) fn grow_memory(&mut self, mem: &mut LinearMemory, delta: u64) -> Option<u64> {
        let page = 1u64 << mem.ty.page_size_log2;
        if let Some(limiter) = self.limiter.as_mut() {
            let current = mem.len() as u64;
            let desired = mem.pages().checked_add(delta)?.checked_mul(page)?;
            let maximum = mem.ty.max.and_then(|m| m.checked_mul(page));
            if delta > 0 && !limiter.memory_growing(current, desired, maximum) {
                return None;
            }
        }
        let bytes = delta.checked_mul(page)?;
        self.charge(bytes, String::new).ok()?;
        let old = mem.grow(delta);
        if old.is_none() {
            self.refund(bytes);
        }
        old
    }

    /// Grows table `table` (store index) by `delta` elements set to `init`, if the store's
    /// limits and the limiter (if any) agree; the old size.
    pub(crate) fn grow_table(&mut self, table: usize, delta: u64, init: u64) -> Option<u64> {
        if let Some(limiter) = self.limiter.as_mut() {
            let t = &self.tables[table];
            let current = t.elems.len() as u64;
            if delta > 0 && !limiter.table_growing(current, current.checked_add(delta)?, t.ty.max) {
                return None;
            }
        }
        let bytes = delta.checked_mul(TABLE_ELEM_BYTES)?;
        self.charge(bytes, String::new).ok()?;
        let old = self.tables[table].grow(delta, init);
        if old.is_none() {
            self.refund(bytes);
        }
        old
    }
}
