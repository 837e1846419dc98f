//! Runtime calls for bulk memory, segment and table operations (`memory.fill/copy/init`,
//! `data.drop`, `table.grow/fill/copy/init`, `elem.drop`), with the interpreter's semantics:
//! the same bounds rules and trap codes. Each returns 0 or the number of the trap to raise;
//! native code charges the operation's fuel (by length, as the interpreter does) before the
//! call. Operands are the wasm values: 32-bit indices and lengths (memory 0 and every table of
//! a native module are 32-bit), zero-extended.

use super::libcalls::with_store;
use super::{trap_number, TRAP_PANIC};
use crate::error::TrapCode;
use crate::runtime::vmctx::VMContext;
use crate::runtime::{InstanceData, LinearMemory};

/// `start..start + len` if it lies within `size`.
fn range_in(size: usize, start: u32, len: u32) -> Option<std::ops::Range<usize>> {
    let end = start as u64 + len as u64;
    (end <= size as u64).then_some(start as usize..end as usize)
}

fn memory_oob() -> u32 {
    trap_number(TrapCode::MemoryOutOfBounds)
}

fn table_oob() -> u32 {
    trap_number(TrapCode::TableOutOfBounds)
}

/// Memory 0 of the running function's instance.
///
/// # Safety
/// `vmctx` is the live context of an instance with a memory.
unsafe fn memory0<'a>(vmctx: *mut VMContext) -> &'a LinearMemory {
    // SAFETY: the caller's contract; memories are boxed in the store and outlive the call.
    unsafe { &*(*vmctx).header.memory0 }
}

/// `memory.fill` of memory 0.
///
/// # Safety
/// Called by native code only, with the context of the running function (which has a memory).
pub(super) unsafe extern "C" fn memory_fill(
    vmctx: *mut VMContext,
    dst: u32,
    val: u32,
    n: u32,
) -> u32 {
    // SAFETY: the caller's contract.
    let mem = unsafe { memory0(vmctx) };
    if mem.fill_at(dst as u64, n as u64, val as u8) {
        0
    } else {
        memory_oob()
    }
}

/// `memory.copy` within memory 0.
///
/// # Safety
/// As for [`memory_fill`].
pub(super) unsafe extern "C" fn memory_copy(
    vmctx: *mut VMContext,
    dst: u32,
    src: u32,
    n: u32,
) -> u32 {
    // SAFETY: the caller's contract.
    let mem = unsafe { memory0(vmctx) };
    let size = mem.len();
    match (range_in(size, dst, n), range_in(size, src, n)) {
        (Some(d), Some(s)) => {
            // SAFETY: both ranges lie within the memory's current size; `copy` allows overlap.
            unsafe { std::ptr::copy(mem.base().add(s.start), mem.base().add(d.start), d.len()) };
            0
        }
        _ => memory_oob(),
    }
}

/// Runs `f` with the running function's instance data.
///
/// # Safety
/// As for `libcalls::with_store`.
unsafe fn with_instance(vmctx: *mut VMContext, f: impl FnOnce(&InstanceData) -> u32) -> u32 {
    // SAFETY: the caller's contract.
    unsafe {
        let instance = (*vmctx).header.instance as usize;
        with_store(vmctx, TRAP_PANIC, |store| f(&store.instances[instance]))
    }
}

/// `memory.init` of memory 0 from data segment `seg`.
///
/// # Safety
/// As for [`memory_fill`]; `seg` is a data segment of the function's module (validated).
pub(super) unsafe extern "C" fn memory_init(
    vmctx: *mut VMContext,
    seg: u32,
    dst: u32,
    src: u32,
    n: u32,
) -> u32 {
    // SAFETY: the caller's contract.
    unsafe {
        with_instance(vmctx, |inst| {
            let mem = memory0(vmctx);
            let data: &[u8] = if inst.data_dropped[seg as usize].get() {
                &[]
            } else {
                &inst.module.bytes[inst.module.datas[seg as usize].range.clone()]
            };
            match range_in(data.len(), src, n) {
                Some(s) if mem.write_at(dst as u64, &data[s.clone()]) => 0,
                _ => memory_oob(),
            }
        })
    }
}

/// `data.drop` of data segment `seg`.
///
/// # Safety
/// As for [`memory_init`].
pub(super) unsafe extern "C" fn data_drop(vmctx: *mut VMContext, seg: u32) -> u32 {
    // SAFETY: the caller's contract.
    unsafe {
        with_instance(vmctx, |inst| {
            inst.data_dropped[seg as usize].set(true);
            0
        })
    }
}

/// `elem.drop` of element segment `seg`.
///
/// # Safety
/// As for [`memory_init`], for an element segment.
pub(super) unsafe extern "C" fn elem_drop(vmctx: *mut VMContext, seg: u32) -> u32 {
    // SAFETY: the caller's contract.
    unsafe {
        with_instance(vmctx, |inst| {
            inst.elem_dropped[seg as usize].set(true);
            0
        })
    }
}

/// `table.grow` of table `table` (module index) by `delta` elements set to `init`: the old
/// size, or `u32::MAX`.
///
/// # Safety
/// Called by native code only, with the context of the running function; `table` is a table
/// of its module (validated).
pub(super) unsafe extern "C" fn table_grow(
    vmctx: *mut VMContext,
    table: u32,
    init: u64,
    delta: u32,
) -> u32 {
    // SAFETY: the caller's contract.
    unsafe {
        let instance = (*vmctx).header.instance as usize;
        with_store(vmctx, u32::MAX, |store| {
            let t = store.instances[instance].tables[table as usize] as usize;
            store.grow_table(t, delta as u64, init).map_or(u32::MAX, |old| old as u32)
        })
    }
}

/// `table.fill` of table `table` (module index).
///
/// # Safety
/// As for [`table_grow`].
pub(super) unsafe extern "C" fn table_fill(
    vmctx: *mut VMContext,
    table: u32,
    at: u32,
    val: u64,
    n: u32,
) -> u32 {
    // SAFETY: the caller's contract.
    unsafe {
        let instance = (*vmctx).header.instance as usize;
        with_store(vmctx, TRAP_PANIC, |store| {
            let t = store.instances[instance].tables[table as usize] as usize;
            let elems = &mut store.tables[t].elems;
            match range_in(elems.len(), at, n) {
                Some(r) => {
                    elems[r].fill(val);
                    0
                }
                None => table_oob(),
            }
        })
    }
}

/// `table.copy` from table `src_table` to `dst_table` (module indices).
///
/// # Safety
/// As for [`table_grow`], for both tables.
pub(super) unsafe extern "C" fn table_copy(
    vmctx: *mut VMContext,
    dst_table: u32,
    src_table: u32,
    dst: u32,
    src: u32,
    n: u32,
) -> u32 {
    // SAFETY: the caller's contract.
    unsafe {
        let instance = (*vmctx).header.instance as usize;
        with_store(vmctx, TRAP_PANIC, |store| {
            let tables = &store.instances[instance].tables;
            let (dt, st) =
                (tables[dst_table as usize] as usize, tables[src_table as usize] as usize);
            let (dl, sl) = (store.tables[dt].elems.len(), store.tables[st].elems.len());
            let (Some(d), Some(s)) = (range_in(dl, dst, n), range_in(sl, src, n)) else {
                return table_oob();
            };
            if dt == st {
                store.tables[dt].elems.copy_within(s, d.start);
            } else {
                let [to, from] = store.tables.get_disjoint_mut([dt, st]).expect("distinct tables");
                to.elems[d].copy_from_slice(&from.elems[s]);
            }
            0
        })
    }
}

/// `table.init` of table `table` from element segment `seg` (module indices).
///
/// # Safety
/// As for [`table_grow`]; `seg` is an element segment of the module (validated).
pub(super) unsafe extern "C" fn table_init(
    vmctx: *mut VMContext,
    table: u32,
    seg: u32,
    dst: u32,
    src: u32,
    n: u32,
) -> u32 {
    // SAFETY: the caller's contract.
    unsafe {
        let instance = (*vmctx).header.instance as usize;
        with_store(vmctx, TRAP_PANIC, |store| {
            let inst = &store.instances[instance];
            let t = inst.tables[table as usize] as usize;
            let elems = inst.elem(seg);
            let to = &mut store.tables[t].elems;
            match (range_in(to.len(), dst, n), range_in(elems.len(), src, n)) {
                (Some(d), Some(s)) => {
                    to[d].copy_from_slice(&elems[s]);
                    0
                }
                _ => table_oob(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::range_in;

    #[test]
    fn ranges_are_checked_without_overflow() {
        assert_eq!(range_in(10, 2, 8), Some(2..10));
        assert_eq!(range_in(10, 10, 0), Some(10..10));
        assert_eq!(range_in(10, 11, 0), None);
        assert_eq!(range_in(10, u32::MAX, u32::MAX), None);
        assert_eq!(range_in(0, 0, 0), Some(0..0));
    }
}
