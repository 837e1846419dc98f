//! Runtime calls for bulk memory, segment and table operations (`memory.fill/copy/init`,
//! `data.drop`, `table.grow/fill/copy/init`, `elem.drop`), with the interpreter's semantics:
//! the same bounds rules and trap codes. Each returns 0 or the number of the trap to raise;
//! native code charges the operation's fuel (by length, as the interpreter does) before the
//! call. Memories are passed as their definitions (the `LinearMemory` the context points at);
//! addresses, indices and lengths as 64-bit values (32-bit ones zero-extended).

use super::libcalls::with_store;
use super::{trap_number, TRAP_PANIC};
use crate::error::TrapCode;
use crate::runtime::vmctx::VMContext;
use crate::runtime::{InstanceData, LinearMemory};

/// `start..start + len` if it lies within `size`.
fn range_in(size: usize, start: u64, len: u64) -> Option<std::ops::Range<usize>> {
    let end = start.checked_add(len)?;
    (end <= size as u64).then_some(start as usize..end as usize)
}

fn memory_oob() -> u32 {
    trap_number(TrapCode::MemoryOutOfBounds)
}

fn table_oob() -> u32 {
    trap_number(TrapCode::TableOutOfBounds)
}

/// `memory.fill` of the memory defined at `mem`.
///
/// # Safety
/// Called by native code only, with `mem` the definition of a memory of the running function's
/// instance (boxed in the store, so it outlives the call).
pub(super) unsafe extern "C" fn memory_fill(
    mem: *const LinearMemory,
    dst: u64,
    val: u32,
    n: u64,
) -> u32 {
    // SAFETY: the caller's contract.
    let mem = unsafe { &*mem };
    if mem.fill_at(dst, n, val as u8) {
        0
    } else {
        memory_oob()
    }
}

/// `memory.copy` from the memory defined at `from` to the one at `to` (perhaps the same).
///
/// # Safety
/// As for [`memory_fill`], for both memories.
pub(super) unsafe extern "C" fn memory_copy(
    to: *const LinearMemory,
    from: *const LinearMemory,
    dst: u64,
    src: u64,
    n: u64,
) -> u32 {
    // SAFETY: the caller's contract.
    let (to, from) = unsafe { (&*to, &*from) };
    match (range_in(to.len(), dst, n), range_in(from.len(), src, n)) {
        (Some(d), Some(s)) => {
            // SAFETY: both ranges lie within their memories' current sizes; `copy` allows
            // overlap (within one memory).
            unsafe { std::ptr::copy(from.base().add(s.start), to.base().add(d.start), d.len()) };
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

/// `memory.init` of the memory defined at `mem` from data segment `seg`.
///
/// # Safety
/// As for [`memory_fill`], with the context of the running function; `seg` is a data segment
/// of its module (validated).
pub(super) unsafe extern "C" fn memory_init(
    vmctx: *mut VMContext,
    mem: *const LinearMemory,
    seg: u32,
    dst: u64,
    src: u32,
    n: u32,
) -> u32 {
    // SAFETY: the caller's contract.
    unsafe {
        with_instance(vmctx, |inst| {
            let mem = &*mem;
            let data: &[u8] = if inst.data_dropped[seg as usize].get() {
                &[]
            } else {
                &inst.module.bytes[inst.module.datas[seg as usize].range.clone()]
            };
            match range_in(data.len(), src as u64, n as u64) {
                Some(s) if mem.write_at(dst, &data[s.clone()]) => 0,
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
/// size, or `u64::MAX`.
///
/// # Safety
/// Called by native code only, with the context of the running function; `table` is a table
/// of its module (validated).
pub(super) unsafe extern "C" fn table_grow(
    vmctx: *mut VMContext,
    table: u32,
    init: u64,
    delta: u64,
) -> u64 {
    // SAFETY: the caller's contract.
    unsafe {
        let instance = (*vmctx).header.instance as usize;
        with_store(vmctx, u64::MAX, |store| {
            let t = store.instances[instance].tables[table as usize] as usize;
            store.grow_table(t, delta, init).unwrap_or(u64::MAX)
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
    at: u64,
    val: u64,
    n: u64,
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
    dst: u64,
    src: u64,
    n: u64,
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
    dst: u64,
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
            match (range_in(to.len(), dst, n as u64), range_in(elems.len(), src as u64, n as u64)) {
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
        assert_eq!(range_in(10, u32::MAX as u64, u32::MAX as u64), None);
        assert_eq!(range_in(10, u64::MAX, 2), None);
        assert_eq!(range_in(0, 0, 0), Some(0..0));
    }
}
