//! The threads proposal's atomic memory instructions (`runtime::atomics` classifies them).
//!
//! Every access is checked explicitly, bounds first and alignment second, whatever the memory's
//! strategy (the guard region would turn an access both out of bounds and misaligned into the
//! wrong trap), and then runs as one sequentially consistent machine atomic of its width:
//! loads zero-extend, stores and read-modify-writes take the operand's low bytes, as
//! `atomics::apply` does for the interpreter. `memory.atomic.notify` and `wait` are runtime calls
//! (`native/atomics.rs`) on the checked wasm address; a wait on an unshared memory traps
//! without one, since the module says which memories are shared. `atomic.fence` is a fence.

use super::{Translator, Unsupported};
use crate::error::TrapCode;
use crate::runtime::atomics::AtomicOp;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, AtomicRmwOp, InstBuilder, MemFlagsData, Type, Value};
use wasmparser::{MemArg, MemArgTarget};

/// Flags of an atomic access: checked before (bounds and alignment), so never trapping, and
/// aligned.
fn atomic_flags() -> MemFlagsData {
    MemFlagsData::new().with_notrap().with_aligned()
}

impl Translator<'_, '_> {
    /// An atomic memory instruction: `op` on `width` bytes at `memarg`; `result` is the type the
    /// operator produces (for loads; the others take it from their operand).
    pub(super) fn atomic(
        &mut self,
        memarg: &MemArg,
        op: AtomicOp,
        width: u8,
        result: Type,
    ) -> Result<(), Unsupported> {
        let operands = match op {
            AtomicOp::Load => 0,
            AtomicOp::Cmpxchg | AtomicOp::Wait => 2,
            _ => 1,
        };
        let args = self.stack.split_off(self.stack.len() - operands);
        let index = memory_index(memarg);
        let (ptr, addr) = self.atomic_address(memarg, index, width)?;
        let narrow = Type::int(u16::from(width) * 8).expect("widths are 1, 2, 4 or 8 bytes");
        let flags = atomic_flags();
        let value = match op {
            AtomicOp::Load => {
                let v = self.b.ins().atomic_load(narrow, flags, ptr);
                Some(self.zero_extend(v, result))
            }
            AtomicOp::Store => {
                let v = self.narrow(args[0], narrow);
                self.b.ins().atomic_store(flags, v, ptr);
                None
            }
            AtomicOp::Cmpxchg => {
                let ty = self.b.func.dfg.value_type(args[0]);
                let (expected, replacement) =
                    (self.narrow(args[0], narrow), self.narrow(args[1], narrow));
                let old = self.b.ins().atomic_cas(flags, ptr, expected, replacement);
                Some(self.zero_extend(old, ty))
            }
            AtomicOp::Notify => {
                let def = self.mem_def(index);
                Some(
                    self.libcall(
                        crate::native::atomics::notify as *const () as usize,
                        &[types::I64, types::I64, types::I32],
                        &[types::I32],
                        &[def, addr, args[0]],
                    )[0],
                )
            }
            AtomicOp::Wait => Some(self.wait(index, width, addr, args[0], args[1])),
            rmw => {
                let ty = self.b.func.dfg.value_type(args[0]);
                let v = self.narrow(args[0], narrow);
                let old = self.b.ins().atomic_rmw(narrow, flags, rmw_op(rmw), ptr, v);
                Some(self.zero_extend(old, ty))
            }
        };
        if let Some(v) = value {
            self.push(v);
        }
        Ok(())
    }

    /// Pops an address and checks `width` bytes at it plus `memarg`'s offset (into memory
    /// `index`): in bounds, then aligned to `width`. Returns the native address and the wasm
    /// effective address (`i64`).
    fn atomic_address(
        &mut self,
        memarg: &MemArg,
        index: u32,
        width: u8,
    ) -> Result<(Value, Value), Unsupported> {
        let access = self.address_in(memarg, u64::from(width), false)?;
        let ptr = self.b.ins().iadd_imm_u(access.ptr, i64::from(access.offset));
        let base = self.mem_base(index);
        let addr = self.b.ins().isub(ptr, base);
        if width > 1 {
            let low = self.b.ins().band_imm_u(addr, i64::from(width) - 1);
            let misaligned = self.b.ins().icmp_imm_u(IntCC::NotEqual, low, 0);
            self.trap_if(misaligned, TrapCode::UnalignedAtomic);
        }
        Ok((ptr, addr))
    }

    /// `memory.atomic.wait32/64` of `expected` with `timeout` at the checked address `addr` of
    /// memory `index`: the `i32` result, after trapping as the runtime call says.
    fn wait(
        &mut self,
        index: u32,
        width: u8,
        addr: Value,
        expected: Value,
        timeout: Value,
    ) -> Value {
        if !self.shared(index) {
            let yes = self.b.ins().iconst(types::I8, 1);
            self.trap_if(yes, TrapCode::ExpectedSharedMemory);
        }
        let def = self.mem_def(index);
        let expected = self.index64(expected);
        let width = self.b.ins().iconst(types::I32, i64::from(width));
        let outcome = self.libcall(
            crate::native::atomics::wait as *const () as usize,
            &[types::I64, types::I64, types::I64, types::I64, types::I64, types::I32],
            &[types::I64],
            &[self.vmctx, def, addr, expected, timeout, width],
        )[0];
        let trap = self.b.ins().ushr_imm_u(outcome, 32);
        let trap = self.b.ins().ireduce(types::I32, trap);
        self.trap_unless_zero(trap);
        self.b.ins().ireduce(types::I32, outcome)
    }

    /// `v` (an `i32` or `i64`) cut to `to` bits.
    fn narrow(&mut self, v: Value, to: Type) -> Value {
        if self.b.func.dfg.value_type(v) == to {
            v
        } else {
            self.b.ins().ireduce(to, v)
        }
    }

    /// `v` zero-extended to `to`.
    fn zero_extend(&mut self, v: Value, to: Type) -> Value {
        if self.b.func.dfg.value_type(v) == to {
            v
        } else {
            self.b.ins().uextend(to, v)
        }
    }
}

/// The memory an atomic instruction addresses (validation allows no other target).
fn memory_index(memarg: &MemArg) -> u32 {
    match memarg.target {
        MemArgTarget::Memory(index) => index,
        _ => unreachable!("atomic instructions address a memory"),
    }
}

/// Cranelift's read-modify-write operation for `op`.
fn rmw_op(op: AtomicOp) -> AtomicRmwOp {
    match op {
        AtomicOp::Add => AtomicRmwOp::Add,
        AtomicOp::Sub => AtomicRmwOp::Sub,
        AtomicOp::And => AtomicRmwOp::And,
        AtomicOp::Or => AtomicRmwOp::Or,
        AtomicOp::Xor => AtomicRmwOp::Xor,
        AtomicOp::Xchg => AtomicRmwOp::Xchg,
        other => unreachable!("not a read-modify-write: {other:?}"),
    }
}
