//! Tail calls (`return_call`, `return_call_indirect`, `return_call_ref`).
//!
//! Wasm functions call each other in Cranelift's `tail` convention, so a tail call to native
//! code (of this module or any other, through a record) is a Cranelift `return_call`: the
//! caller's frame is replaced, and a chain of tail calls runs in constant native stack. The
//! callee gets the caller's own call depth (it takes the caller's place) and the caller's
//! own results area, since the callee has the caller's results. A callee without native code
//! (a host function, an interpreted function) is called through the embedding layer as by
//! `call`, and its results returned: that call returns before the caller does, so the stack
//! stays bounded. Fuel is charged at the interpreter's checkpoints as for any operator.

use super::{trusted, val_type, Translator, Unsupported, REC_NATIVE, REC_VMCTX};
use crate::error::TrapCode;
use crate::types::FuncType;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, BlockArg, InstBuilder, SigRef, Type, Value};

impl Translator<'_, '_> {
    /// The callee's native arguments: its context, this function's call depth (the callee
    /// replaces it), this function's results area (if any), then `wasm_args`.
    fn tail_args(&self, callee_vmctx: Value, wasm_args: &[Value]) -> Vec<Value> {
        let mut args = vec![callee_vmctx, self.depth];
        args.extend(self.results_area);
        args.extend_from_slice(wasm_args);
        args
    }

    pub(super) fn return_call(&mut self, func: u32) -> Result<(), Unsupported> {
        let ty = self.cx.module.func_type(func).clone();
        if func < self.cx.module.num_imported_funcs {
            let (record, sig) = self.imported_record(func)?;
            return self.return_call_record(record, &ty, sig);
        }
        let callee = self.func_ref(func)?;
        let wasm_args = self.stack.split_off(self.stack.len() - ty.params().len());
        let args = self.tail_args(self.vmctx, &wasm_args);
        self.b.ins().return_call(callee, &args);
        self.reachable = false;
        Ok(())
    }

    pub(super) fn return_call_indirect(
        &mut self,
        type_index: u32,
        table: u32,
    ) -> Result<(), Unsupported> {
        let ty = self.cx.module.func_type_of_type(type_index).clone();
        let sig = self.sig_ref(type_index)?;
        let record = self.indirect_record(type_index, table);
        self.return_call_record(record, &ty, sig)
    }

    pub(super) fn return_call_ref(&mut self, type_index: u32) -> Result<(), Unsupported> {
        let r = self.pop();
        let null = self.b.ins().icmp_imm_u(IntCC::Equal, r, 0);
        self.trap_if(null, TrapCode::NullFunctionReference);
        let ty = self.cx.module.func_type_of_type(type_index).clone();
        let sig = self.sig_ref(type_index)?;
        self.return_call_record(r, &ty, sig)
    }

    /// Tail-calls the function of `record` (of type `ty`, native signature `sig`) with the
    /// arguments on the operand stack (see the module documentation).
    fn return_call_record(
        &mut self,
        record: Value,
        ty: &FuncType,
        sig: SigRef,
    ) -> Result<(), Unsupported> {
        let wasm_args = self.stack.split_off(self.stack.len() - ty.params().len());
        let result_types: Vec<Type> =
            ty.results().iter().map(|t| val_type(*t)).collect::<Result<_, _>>()?;
        let entry = self.b.ins().load(types::I64, trusted(), record, REC_NATIVE);
        let native = self.b.create_block();
        let out = self.b.create_block();
        self.b.ins().brif(entry, native, &[], out, &[]);

        self.b.switch_to_block(native);
        self.b.seal_block(native);
        let callee_vmctx = self.b.ins().load(types::I64, trusted(), record, REC_VMCTX);
        let args = self.tail_args(callee_vmctx, &wasm_args);
        self.b.ins().return_call_indirect(sig, entry, &args);

        self.b.switch_to_block(out);
        self.b.seal_block(out);
        let results = self.call_out(record, &wasm_args, &result_types, true);
        let (exit, _) = self.label(self.ctrl.len() as u32 - 1);
        let results: Vec<BlockArg> = results.into_iter().map(BlockArg::Value).collect();
        self.b.ins().jump(exit, &results);
        self.reachable = false;
        Ok(())
    }
}
