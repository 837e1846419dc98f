//! The context layout every execution tier reads: fixed-offset, `#[repr(C)]`.
//!
//! Each instance owns one [`VMContext`]: a header followed by arrays whose offsets depend on
//! the module's counts ([`VMOffsets`]). The arrays hold *pointers* to the store's objects,
//! whose first fields are themselves `#[repr(C)]` definitions, so that one instance importing
//! another's memory, table or global sees every change the owner makes:
//!
//! ```text
//! VMContext (one allocation per instance, never moves)
//! +0   header   { magic: u32, instance: u32, store: *mut VMStoreContext,
//!                 memory0: *mut LinearMemory }
//! +M   memories [*mut LinearMemory; memories]  -> { base: *mut u8 @0, length: usize @8, .. }
//! +T   tables   [*mut TableInstance; tables]  -> { base: *mut u64 @0, length: u64 @8, .. }
//! +G   globals  [*mut GlobalCell; globals]    -> { value: u128 @0, .. }
//! +F   funcrefs [*const VMFuncRef; funcs]     -> imported: the exporter's record
//! +Y   type_ids [u32; types]                  canonical type id of each module type
//! +D   defined  [VMFuncRef; defined funcs]    the records of this instance's own functions
//! ```
//!
//! A function reference value (in a slot, a global or a table element) is the address of its
//! [`VMFuncRef`] record, 0 for null. Records never move: a wasm function's lives in its
//! instance's context, a host function's in the store's [`FuncRefArena`]. So a table element
//! reaches the code and context of its function in two loads (element, then record field).
//!
//! Native code uses the same offsets as constants; the interpreter's translator embeds them
//! in its instructions (`global.get`, `call`, `ref.func`), and the loop reads memory 0, globals,
//! function references, tables, type ids, fuel and the interruption state through this layout.
//! Operations that change sizes or need metadata (`memory.grow`, `table.grow`, bulk and segment
//! operations, atomics waits) are runtime calls that take the instance and an index, as a
//! native tier's libcalls would.

use crate::runtime::{GlobalCell, LinearMemory, StoreInner, TableInstance};
use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64};

/// A pointer-sized field.
const PTR: u32 = std::mem::size_of::<usize>() as u32;

/// Marks a live context (`"WARD"`), checked in debug builds.
pub(crate) const VMCTX_MAGIC: u32 = u32::from_le_bytes(*b"WARD");

/// A function reference: everything a caller needs to call the function, in any tier.
///
/// 64 bytes and aligned to 64, so that a record is one cache line: a call reads the callee's
/// record and, from the interpreter, nothing else before the callee's code.
#[repr(C, align(64))]
pub(crate) struct VMFuncRef {
    /// The native tier's entry, in Ward's native calling convention (`native` module docs);
    /// null unless the function's module was compiled to native code.
    pub(crate) native_entry: *const u8,
    /// The native tier's array-call trampoline for the function's signature, called as
    /// `extern "C" fn(vmctx, values: *mut u64, native_entry)` with the arguments and then the
    /// results in 64-bit slots; null unless `native_entry` is set (host functions are called by
    /// the driver in `api/call.rs`).
    pub(crate) array_entry: *const u8,
    /// Canonical type id of the function's type (see `Engine`).
    pub(crate) type_id: u32,
    /// The store's index of the function (its `FuncEntry`: host function, supertypes, handle).
    pub(crate) func_index: u32,
    /// The context of the function's instance; null for host functions.
    pub(crate) vmctx: *mut VMContext,
    /// The interpreter's translated code (`interp::CompiledFunc`), null until first called.
    pub(crate) interp_code: *const (),
    /// What the interpreter's call needs of that code, copied into the record when the code is
    /// set (see [`InterpEntry`]).
    pub(crate) interp_entry: InterpEntry,
}

/// The part of the interpreter's translated code a call reads, kept in the function's record
/// so that a call does not wait for a second cache line (`interp::CompiledFunc::entry` makes
/// it; the runtime only zeroes it). `instrs` null: the call goes the interpreter's general way
/// (code not translated yet, or a frame or prologue too large for these fields).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct InterpEntry {
    /// The code's first instruction.
    pub(crate) instrs: *const (),
    /// The frame's size in slots.
    pub(crate) frame_slots: u16,
    /// The opcode the call continues at (after the prologue, if any).
    pub(crate) entry_op: u16,
    /// The shadow-stack prologue the call runs: [`InterpEntry::NO_PROLOGUE`],
    /// [`InterpEntry::GLOBAL_ADD`] or [`InterpEntry::GLOBAL_GET_ADD`].
    pub(crate) prologue: u8,
    /// Whether some slots must be zeroed on entry (the list is in the translated code).
    pub(crate) zeroes: bool,
    /// The prologue's destination slot, global (context offset) and added constant.
    pub(crate) prologue_d: u16,
    pub(crate) prologue_g: u32,
    pub(crate) prologue_i: i32,
}

impl InterpEntry {
    /// `prologue`: none.
    pub(crate) const NO_PROLOGUE: u8 = 0;
    /// `prologue`: `GlobalAddI` (the global moves by the constant; the slot gets its new value).
    pub(crate) const GLOBAL_ADD: u8 = 1;
    /// `prologue`: `GlobalGetAddI` (the slot gets the global plus the constant).
    pub(crate) const GLOBAL_GET_ADD: u8 = 2;

    /// No entry: calls take the general way.
    pub(crate) const NONE: InterpEntry = InterpEntry {
        instrs: std::ptr::null(),
        frame_slots: 0,
        entry_op: 0,
        prologue: InterpEntry::NO_PROLOGUE,
        zeroes: false,
        prologue_d: 0,
        prologue_g: 0,
        prologue_i: 0,
    };
}

impl VMFuncRef {
    pub(crate) fn new(type_id: u32, func_index: u32, vmctx: *mut VMContext) -> VMFuncRef {
        VMFuncRef {
            native_entry: std::ptr::null(),
            array_entry: std::ptr::null(),
            type_id,
            func_index,
            vmctx,
            interp_code: std::ptr::null(),
            interp_entry: InterpEntry::NONE,
        }
    }

    /// The store function index behind a non-null reference value.
    ///
    /// # Safety
    /// `raw` is a function reference value taken from a slot, global, table or segment of a
    /// live store (the address of one of its records).
    #[inline]
    pub(crate) unsafe fn func_index_of(raw: u64) -> u32 {
        // SAFETY: the caller's contract: `raw` is the address of a live record.
        unsafe { (*(raw as usize as *const VMFuncRef)).func_index }
    }
}

/// The per-store part of the context, reached from every instance's header.
///
/// Running wasm writes it all the time (fuel, call depth), so it has its cache lines to itself
/// (128 bytes: a line and the one the hardware prefetches with it): with many stores run by
/// many threads — nanoprocesses — two stores' contexts sharing a line would make each thread's
/// writes slow down the other's.
#[repr(C, align(128))]
pub(crate) struct VMStoreContext {
    /// Remaining fuel (when the engine consumes fuel).
    pub(crate) fuel: u64,
    /// A running async call yields when `fuel` drops below this (0: never).
    pub(crate) fuel_yield_level: u64,
    /// Running wasm stops at its next checkpoint once `*epoch >= epoch_deadline`.
    pub(crate) epoch_deadline: u64,
    /// The engine's epoch counter.
    pub(crate) epoch: *const AtomicU64,
    /// Set by another thread to stop running wasm at its next checkpoint.
    pub(crate) interrupt: *const AtomicBool,
    /// The deepest native stack address native code may use (0 while no native call runs; the
    /// interpreter bounds its own value stack by `max_wasm_stack`).
    pub(crate) stack_limit: usize,
    /// Nonzero once native code trapped: the trap's code (see `native`). Every native call site
    /// checks it after the callee returns and returns at once if set; the driver reads and
    /// clears it.
    pub(crate) trap: u32,
    /// With `trap`: the module function index of the function that trapped.
    pub(crate) trap_func: u32,
    /// The call depth the outermost function of a native call from the host starts at (the
    /// array-call trampoline passes it on; each native function gets its depth as a parameter
    /// and checks it against the engine's maximum call depth at entry).
    pub(crate) call_depth: u32,
    /// With `trap`: the store index of the instance whose function trapped.
    pub(crate) trap_instance: u32,
    /// The store running native code, for the runtime calls native code makes (`memory.grow`,
    /// signature checks); null while none runs.
    pub(crate) store_inner: *mut StoreInner,
    /// With `trap` set to the native tier's "exception in flight" number: the reference value
    /// of the exception a call out of native code let through, for native code to unwind with.
    pub(crate) exception: u64,
}

impl VMStoreContext {
    /// A store context with no fuel and no deadline, reading the given epoch and interrupt flag.
    pub(crate) fn new(epoch: *const AtomicU64, interrupt: *const AtomicBool) -> VMStoreContext {
        VMStoreContext {
            fuel: 0,
            fuel_yield_level: 0,
            epoch_deadline: 0,
            epoch,
            interrupt,
            stack_limit: 0,
            trap: 0,
            trap_func: 0,
            call_depth: 0,
            trap_instance: 0,
            store_inner: std::ptr::null_mut(),
            exception: 0,
        }
    }
}

// SAFETY: the pointers point to atomics owned (through `Arc`s) by the same store, which moves
// between threads as a whole; the plain fields are only touched while the store is borrowed.
unsafe impl Send for VMStoreContext {}
// SAFETY: as for `Send`.
unsafe impl Sync for VMStoreContext {}

/// The fixed start of every [`VMContext`].
#[repr(C)]
pub(crate) struct VMContextHeader {
    pub(crate) magic: u32,
    /// The store's index of the instance.
    pub(crate) instance: u32,
    pub(crate) store: *mut VMStoreContext,
    /// Memory 0 (the same pointer as the first entry of the memories array), or null.
    pub(crate) memory0: *mut LinearMemory,
}

/// An instance's context. Only its header has a Rust type; the arrays after it are reached by
/// the offsets of its module's [`VMOffsets`].
#[repr(C)]
pub(crate) struct VMContext {
    pub(crate) header: VMContextHeader,
}

/// The counts a context's layout depends on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct VMCounts {
    pub(crate) memories: u32,
    pub(crate) tables: u32,
    pub(crate) globals: u32,
    pub(crate) funcs: u32,
    pub(crate) defined_funcs: u32,
    pub(crate) types: u32,
}

impl VMCounts {
    /// The counts of `m`'s index spaces (imported and defined).
    pub(crate) fn of(m: &crate::module::ModuleInner) -> VMCounts {
        VMCounts {
            memories: m.memories.len() as u32,
            tables: m.tables.len() as u32,
            globals: m.globals.len() as u32,
            funcs: m.funcs.len() as u32,
            defined_funcs: m.funcs.len() as u32 - m.num_imported_funcs,
            types: m.types.len() as u32,
        }
    }
}

/// Byte offsets of the arrays of a module's [`VMContext`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct VMOffsets {
    pub(crate) counts: VMCounts,
    memories: u32,
    tables: u32,
    globals: u32,
    funcrefs: u32,
    type_ids: u32,
    defined_funcrefs: u32,
    size: u32,
}

/// Index spaces are bounded by the validator's limits (a million functions, 100,000 memories
/// ...), so every offset fits a `u32`; `checked` guards the arithmetic anyway.
fn checked(parts: &[(u32, u32)], start: u32) -> Option<u32> {
    parts.iter().try_fold(start, |at, &(n, size)| at.checked_add(n.checked_mul(size)?))
}

impl VMOffsets {
    /// The layout for `counts`, or `None` if it would not fit 4 GiB.
    pub(crate) fn new(counts: VMCounts) -> Option<VMOffsets> {
        let memories = std::mem::size_of::<VMContextHeader>() as u32;
        let tables = checked(&[(counts.memories, PTR)], memories)?;
        let globals = checked(&[(counts.tables, PTR)], tables)?;
        let funcrefs = checked(&[(counts.globals, PTR)], globals)?;
        let type_ids = checked(&[(counts.funcs, PTR)], funcrefs)?;
        let end_ids = checked(&[(counts.types, 4)], type_ids)?;
        let align = std::mem::align_of::<VMFuncRef>() as u32;
        let defined_funcrefs = end_ids.checked_next_multiple_of(align)?;
        let record = std::mem::size_of::<VMFuncRef>() as u32;
        let size = checked(&[(counts.defined_funcs, record)], defined_funcrefs)?;
        Some(VMOffsets {
            counts,
            memories,
            tables,
            globals,
            funcrefs,
            type_ids,
            defined_funcrefs,
            size,
        })
    }

    /// Offset of the pointer to memory `i`.
    #[inline]
    pub(crate) fn memory(&self, i: u32) -> u32 {
        debug_assert!(i < self.counts.memories);
        self.memories + i * PTR
    }

    /// Offset of the pointer to table `i`.
    #[inline]
    pub(crate) fn table(&self, i: u32) -> u32 {
        debug_assert!(i < self.counts.tables);
        self.tables + i * PTR
    }

    /// Offset of the pointer to global `i`'s cell.
    #[inline]
    pub(crate) fn global(&self, i: u32) -> u32 {
        debug_assert!(i < self.counts.globals);
        self.globals + i * PTR
    }

    /// Offset of the pointer to function `i`'s record.
    #[inline]
    pub(crate) fn funcref(&self, i: u32) -> u32 {
        debug_assert!(i < self.counts.funcs);
        self.funcrefs + i * PTR
    }

    /// Offset of the canonical id of module type `i`.
    #[inline]
    pub(crate) fn type_id(&self, i: u32) -> u32 {
        debug_assert!(i < self.counts.types);
        self.type_ids + i * 4
    }

    /// Offset of the record of defined function `i` (counting defined functions only).
    #[inline]
    pub(crate) fn defined_funcref(&self, i: u32) -> u32 {
        debug_assert!(i < self.counts.defined_funcs);
        self.defined_funcrefs + i * std::mem::size_of::<VMFuncRef>() as u32
    }

    /// Size of the whole context in bytes.
    pub(crate) fn size(&self) -> u32 {
        self.size
    }
}

/// Reads the `T` at byte offset `off` of the context `vmctx`.
///
/// # Safety
/// `vmctx` is a live context and `off` an offset its module's [`VMOffsets`] gives for a field
/// of type `T`.
#[inline(always)]
pub(crate) unsafe fn vm_read<T: Copy>(vmctx: *const VMContext, off: u32) -> T {
    // SAFETY: the caller's contract; fields are naturally aligned by `VMOffsets`.
    unsafe { *(vmctx as *const u8).add(off as usize).cast::<T>() }
}

/// The owning allocation of one instance's [`VMContext`]. Never moves once allocated, so the
/// pointers to it (in function records, in frames) stay valid for the life of the instance.
pub(crate) struct VMContextBox {
    ptr: NonNull<VMContext>,
    layout: Layout,
    offsets: VMOffsets,
}

// SAFETY: the context holds raw pointers into the store that owns the instance; it is only
// read or written while that store is borrowed (shared or exclusively, as for the store's
// other objects), and it moves between threads only with the whole store.
unsafe impl Send for VMContextBox {}
// SAFETY: as for `Send`.
unsafe impl Sync for VMContextBox {}

impl VMContextBox {
    /// A zeroed context for `offsets`, its header filled in.
    pub(crate) fn new(offsets: VMOffsets, instance: u32, store: *mut VMStoreContext) -> Self {
        let align = std::mem::align_of::<VMFuncRef>().max(std::mem::align_of::<VMContextHeader>());
        let layout = Layout::from_size_align(offsets.size() as usize, align)
            .expect("a context layout within 4 GiB");
        // SAFETY: the size is at least the header's (non-zero).
        let raw = unsafe { std::alloc::alloc_zeroed(layout) };
        let Some(ptr) = NonNull::new(raw.cast::<VMContext>()) else {
            std::alloc::handle_alloc_error(layout)
        };
        // SAFETY: freshly allocated, large enough for the header, suitably aligned.
        unsafe {
            ptr.as_ptr().write(VMContext {
                header: VMContextHeader {
                    magic: VMCTX_MAGIC,
                    instance,
                    store,
                    memory0: std::ptr::null_mut(),
                },
            })
        };
        VMContextBox { ptr, layout, offsets }
    }

    #[inline]
    pub(crate) fn as_ptr(&self) -> *mut VMContext {
        self.ptr.as_ptr()
    }

    /// Writes `value` at `off`.
    ///
    /// # Safety
    /// `off` is an offset of `self.offsets()` for a field of type `T`.
    unsafe fn write<T>(&mut self, off: u32, value: T) {
        // SAFETY: the caller's contract; the allocation spans `offsets.size()` bytes.
        unsafe { (self.ptr.as_ptr() as *mut u8).add(off as usize).cast::<T>().write(value) }
    }

    pub(crate) fn set_memory(&mut self, i: u32, mem: *mut LinearMemory) {
        // SAFETY: `memory(i)` is a pointer field of the layout.
        unsafe { self.write(self.offsets.memory(i), mem) };
        if i == 0 {
            // SAFETY: the header is always present.
            unsafe { (*self.ptr.as_ptr()).header.memory0 = mem };
        }
    }

    pub(crate) fn set_table(&mut self, i: u32, table: *mut TableInstance) {
        // SAFETY: `table(i)` is a pointer field of the layout.
        unsafe { self.write(self.offsets.table(i), table) }
    }

    pub(crate) fn set_global(&mut self, i: u32, cell: *mut GlobalCell) {
        // SAFETY: `global(i)` is a pointer field of the layout.
        unsafe { self.write(self.offsets.global(i), cell) }
    }

    pub(crate) fn set_funcref(&mut self, i: u32, record: *const VMFuncRef) {
        // SAFETY: `funcref(i)` is a pointer field of the layout.
        unsafe { self.write(self.offsets.funcref(i), record) }
    }

    pub(crate) fn set_type_id(&mut self, i: u32, id: u32) {
        // SAFETY: `type_id(i)` is a `u32` field of the layout.
        unsafe { self.write(self.offsets.type_id(i), id) }
    }

    /// Writes the record of defined function `i` and returns its (stable) address.
    pub(crate) fn init_defined_funcref(&mut self, i: u32, record: VMFuncRef) -> *const VMFuncRef {
        let off = self.offsets.defined_funcref(i);
        // SAFETY: `defined_funcref(i)` is a record field of the layout.
        unsafe { self.write(off, record) };
        // SAFETY: in bounds, as just written.
        unsafe { (self.ptr.as_ptr() as *const u8).add(off as usize).cast() }
    }

    /// Sets the native tier's entry and array-call trampoline in the record of defined
    /// function `i` (written by `init_defined_funcref` before).
    pub(crate) fn set_native_entries(&mut self, i: u32, native: *const u8, array: *const u8) {
        let off = self.offsets.defined_funcref(i);
        // SAFETY: `defined_funcref(i)` is a record of the layout, initialised at allocation;
        // only its two entry fields are written.
        unsafe {
            let record = (self.ptr.as_ptr() as *mut u8).add(off as usize).cast::<VMFuncRef>();
            (*record).native_entry = native;
            (*record).array_entry = array;
        }
    }

    /// The pointer to memory `i`.
    #[inline]
    pub(crate) fn memory(&self, i: u32) -> *mut LinearMemory {
        // SAFETY: `memory(i)` is a pointer field, written when the instance was allocated.
        unsafe { vm_read(self.ptr.as_ptr(), self.offsets.memory(i)) }
    }

    /// The record pointer of function `i` (imported or defined).
    pub(crate) fn funcref(&self, i: u32) -> *const VMFuncRef {
        // SAFETY: `funcref(i)` is a pointer field, written when the instance was allocated.
        unsafe { vm_read(self.ptr.as_ptr(), self.offsets.funcref(i)) }
    }
}

impl Drop for VMContextBox {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout; nothing in it needs dropping.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr().cast(), self.layout) }
    }
}

/// The records of a store's host functions: chunks that are never reallocated, so records
/// never move.
#[derive(Default)]
pub(crate) struct FuncRefArena {
    chunks: Vec<Vec<VMFuncRef>>,
}

// SAFETY: records hold raw pointers into the same store (null for host functions) and are
// only touched while that store is borrowed.
unsafe impl Send for FuncRefArena {}
// SAFETY: as for `Send`.
unsafe impl Sync for FuncRefArena {}

impl FuncRefArena {
    /// Makes room for `n` more records. A store's first chunk gets exactly the room asked
    /// for (most stores make their host functions once, for one instantiation); later chunks
    /// at least double.
    pub(crate) fn reserve(&mut self, n: usize) {
        let room = self.chunks.last().map_or(0, |c| c.capacity() - c.len());
        if n <= room {
            return;
        }
        let cap = match self.chunks.last() {
            None => {
                self.chunks.reserve_exact(1);
                n
            }
            Some(c) => n.max((c.capacity() * 2).min(1024)),
        };
        self.chunks.push(Vec::with_capacity(cap));
    }

    /// Stores `record`; its address stays valid for the life of the arena.
    pub(crate) fn alloc(&mut self, record: VMFuncRef) -> *const VMFuncRef {
        let full = self.chunks.last().is_none_or(|c| c.len() == c.capacity());
        if full {
            let cap = self.chunks.last().map_or(8, |c| (c.capacity() * 2).min(1024));
            self.chunks.push(Vec::with_capacity(cap));
        }
        let chunk = self.chunks.last_mut().expect("a chunk with room");
        chunk.push(record); // within capacity: never reallocates
                            // SAFETY: the element just pushed; a pointer derived from the buffer's own pointer,
                            // valid (also for writes) while the chunk is neither dropped nor reallocated.
        unsafe { chunk.as_mut_ptr().add(chunk.len() - 1) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    /// Records never move, whether their chunk was sized by `reserve` or grown by `alloc`,
    /// and a reservation makes exactly one chunk of the room asked for.
    #[test]
    fn arena_records_stay_put_across_reservations_and_growth() {
        let mut arena = FuncRefArena::default();
        arena.reserve(3);
        assert_eq!(arena.chunks.len(), 1);
        assert_eq!(arena.chunks[0].capacity(), 3);
        let mut records = Vec::new();
        for i in 0..40u32 {
            if i == 10 {
                arena.reserve(5);
            }
            let p = arena.alloc(VMFuncRef::new(7, i, std::ptr::null_mut()));
            records.push(p);
        }
        arena.reserve(0);
        for (i, &p) in records.iter().enumerate() {
            // SAFETY: `p` came from `arena.alloc`, and the arena is alive and never moves its
            // records.
            let r = unsafe { &*p };
            assert_eq!((r.type_id, r.func_index), (7, i as u32));
        }
        assert_eq!(arena.chunks.iter().map(Vec::len).sum::<usize>(), 40);
    }

    #[test]
    fn fixed_structs_have_the_documented_layout() {
        assert_eq!(offset_of!(VMFuncRef, native_entry), 0);
        assert_eq!(offset_of!(VMFuncRef, array_entry), 8);
        assert_eq!(offset_of!(VMFuncRef, type_id), 16);
        assert_eq!(offset_of!(VMFuncRef, func_index), 20);
        assert_eq!(offset_of!(VMFuncRef, vmctx), 24);
        assert_eq!(offset_of!(VMFuncRef, interp_code), 32);
        assert_eq!(offset_of!(VMFuncRef, interp_entry), 40);
        assert_eq!(std::mem::size_of::<InterpEntry>(), 24);
        assert_eq!(std::mem::size_of::<VMFuncRef>(), 64);
        assert_eq!(std::mem::align_of::<VMFuncRef>(), 64);

        assert_eq!(std::mem::align_of::<VMStoreContext>(), 128);
        assert_eq!(offset_of!(VMStoreContext, fuel), 0);
        assert_eq!(offset_of!(VMStoreContext, fuel_yield_level), 8);
        assert_eq!(offset_of!(VMStoreContext, epoch_deadline), 16);
        assert_eq!(offset_of!(VMStoreContext, epoch), 24);
        assert_eq!(offset_of!(VMStoreContext, interrupt), 32);
        assert_eq!(offset_of!(VMStoreContext, stack_limit), 40);
        assert_eq!(offset_of!(VMStoreContext, trap), 48);
        assert_eq!(offset_of!(VMStoreContext, trap_func), 52);
        assert_eq!(offset_of!(VMStoreContext, call_depth), 56);
        assert_eq!(offset_of!(VMStoreContext, trap_instance), 60);
        assert_eq!(offset_of!(VMStoreContext, store_inner), 64);

        assert_eq!(offset_of!(VMContextHeader, magic), 0);
        assert_eq!(offset_of!(VMContextHeader, instance), 4);
        assert_eq!(offset_of!(VMContextHeader, store), 8);
        assert_eq!(offset_of!(VMContextHeader, memory0), 16);
        assert_eq!(std::mem::size_of::<VMContextHeader>(), 24);

        // The definitions the context's arrays point at start their objects.
        assert_eq!(offset_of!(LinearMemory, base), 0);
        assert_eq!(offset_of!(LinearMemory, len), 8);
        assert_eq!(offset_of!(TableInstance, base), 0);
        assert_eq!(offset_of!(TableInstance, length), 8);
        assert_eq!(offset_of!(GlobalCell, value), 0);
    }

    #[test]
    fn offsets_follow_the_counts() {
        let counts =
            VMCounts { memories: 2, tables: 3, globals: 5, funcs: 7, defined_funcs: 4, types: 3 };
        let o = VMOffsets::new(counts).unwrap();
        assert_eq!(o.memory(0), 24);
        assert_eq!(o.memory(1), 32);
        assert_eq!(o.table(0), 40);
        assert_eq!(o.global(0), 64);
        assert_eq!(o.funcref(0), 104);
        assert_eq!(o.type_id(0), 160);
        assert_eq!(o.type_id(2), 168);
        // 172 rounded up to the record alignment (a cache line).
        assert_eq!(o.defined_funcref(0), 192);
        assert_eq!(o.defined_funcref(3), 192 + 3 * 64);
        assert_eq!(o.size(), 192 + 4 * 64);

        let empty = VMOffsets::new(VMCounts::default()).unwrap();
        // The header, rounded up to where the (here no) records would start.
        assert_eq!(empty.size(), 64);
        let huge = VMCounts { funcs: u32::MAX, ..VMCounts::default() };
        assert!(VMOffsets::new(huge).is_none());
    }

    #[test]
    fn a_context_reads_back_what_was_written_at_each_offset() {
        let counts =
            VMCounts { memories: 1, tables: 1, globals: 2, funcs: 2, defined_funcs: 1, types: 2 };
        let o = VMOffsets::new(counts).unwrap();
        let mut store_ctx = VMStoreContext::new(std::ptr::null(), std::ptr::null());
        store_ctx.fuel = 7;
        let mut b = VMContextBox::new(o, 9, &mut store_ctx);
        let mut cells = [
            GlobalCell {
                value: 1,
                ty: crate::types::GlobalType::new(crate::ValType::I32, crate::Mutability::Const),
            },
            GlobalCell {
                value: 2,
                ty: crate::types::GlobalType::new(crate::ValType::I64, crate::Mutability::Var),
            },
        ];
        b.set_global(0, &mut cells[0]);
        b.set_global(1, &mut cells[1]);
        b.set_type_id(0, 11);
        b.set_type_id(1, 12);
        let rec = b.init_defined_funcref(0, VMFuncRef::new(12, 4, b.as_ptr()));
        let host = VMFuncRef::new(11, 3, std::ptr::null_mut());
        b.set_funcref(0, &host);
        b.set_funcref(1, rec);
        let vm = b.as_ptr();
        // SAFETY: the offsets are this context's, the fields just written.
        unsafe {
            assert_eq!((*vm).header.magic, VMCTX_MAGIC);
            assert_eq!((*vm).header.instance, 9);
            assert_eq!((*(*vm).header.store).fuel, 7);
            assert!((*vm).header.memory0.is_null());
            let g1: *mut GlobalCell = vm_read(vm, o.global(1));
            assert_eq!((*g1).value, 2);
            assert_eq!(vm_read::<u32>(vm, o.type_id(1)), 12);
            let r: *const VMFuncRef = vm_read(vm, o.funcref(1));
            assert_eq!(r, rec);
            assert_eq!((*r).func_index, 4);
            assert_eq!((*r).vmctx, vm);
            assert_eq!(VMFuncRef::func_index_of(r as u64), 4);
            let h: *const VMFuncRef = vm_read(vm, o.funcref(0));
            assert_eq!((*h).type_id, 11);
        }
        assert_eq!(b.funcref(1), rec);
    }

    #[test]
    fn arena_records_never_move() {
        let mut arena = FuncRefArena::default();
        let first = arena.alloc(VMFuncRef::new(1, 0, std::ptr::null_mut()));
        let all: Vec<_> =
            (1..5000).map(|i| arena.alloc(VMFuncRef::new(1, i, std::ptr::null_mut()))).collect();
        // SAFETY: records live as long as the arena.
        unsafe {
            assert_eq!((*first).func_index, 0);
            for (i, r) in all.iter().enumerate() {
                assert_eq!((**r).func_index, i as u32 + 1);
            }
        }
    }
}
