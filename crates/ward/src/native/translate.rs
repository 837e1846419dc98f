//! Wasm function bodies (validated by wasmparser when the module was decoded) to Cranelift IR.
//!
//! The translator keeps the operand stack as SSA values and the locals as Cranelift variables;
//! each wasm label is a Cranelift block whose parameters are the label's values (a loop's
//! header, any other construct's continuation). Anything outside the native tier's subset is
//! reported as [`Unsupported`], which makes the whole module fall back to the interpreter.
//!
//! Fuel and interruption checkpoints sit exactly where the interpreter's translator puts its
//! `Check` instructions (function entry, loop headers, `else`, the continuation of `end`) and
//! charge the same count: the cost (`runtime::fuel`) of the operators translated in reachable
//! code since the previous checkpoint. The count is only known when the next checkpoint opens,
//! so each checkpoint's constant is patched then.

mod atomics;
mod exceptions;
mod nan;
mod simd;
mod tail;

pub(super) use simd::simd_eval;

use super::catch::Entry;
use super::trap_number;
use crate::error::TrapCode;
use crate::module::ModuleInner;
use crate::runtime::atomics::classify as atomic_operator;
use crate::runtime::fuel::operator_cost;
use crate::runtime::vmctx::{VMContextHeader, VMFuncRef, VMOffsets, VMStoreContext};
use crate::runtime::{GlobalCell, LinearMemory, TableInstance};
use crate::types::{FuncType, Mutability, ValType};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64};
use cranelift_codegen::ir::{
    types, AbiParam, Block, BlockArg, ConstantData, ExtFuncData, ExternalName, FuncRef, Function,
    Inst, InstBuilder, JumpTableData, MemFlagsData, SigRef, Signature, StackSlot, StackSlotData,
    StackSlotKind, Type, UserExternalName, UserFuncName, Value,
};
use cranelift_codegen::isa::{CallConv, TargetFrontendConfig};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use std::collections::{BTreeMap, HashMap};
use std::mem::offset_of;
use wasmparser::{BinaryReader, BlockType, FunctionBody, MemArg, Operator};

/// Why a module cannot be compiled natively (it then runs in the interpreter).
pub(super) type Unsupported = String;

/// What the translation of every function of a module shares.
pub(super) struct ModuleCx<'m> {
    pub(super) module: &'m ModuleInner,
    pub(super) vm: VMOffsets,
    pub(super) call_conv: CallConv,
    pub(super) frontend: TargetFrontendConfig,
    /// Whether checkpoints charge fuel.
    pub(super) consume_fuel: bool,
    /// Whether checkpoints compare the engine's epoch with the store's deadline.
    pub(super) epochs: bool,
    /// Whether there are checkpoints at all (fuel or interruption).
    pub(super) checkpoints: bool,
    pub(super) max_depth: u32,
    /// Whether 32-bit memories with 64 KiB pages are guarded (the engine's strategy) and the
    /// signal handler catches faults (`signals`): accesses within the guard are not checked.
    pub(super) guarded: bool,
    /// Whether a trap unwinds every native frame at once (`signals::raise`): calls of native
    /// code then need no test for a trap when they return.
    pub(super) unwinds: bool,
}

/// The calling convention of wasm functions among themselves: Cranelift's `tail`, the only one
/// with tail calls (`return_call*`). Trampolines and runtime calls use the platform's.
const WASM_CONV: CallConv = CallConv::Tail;

/// Namespace of the external names of the module's functions (their module index).
pub(super) const FUNC_NAMESPACE: u32 = 0;

/// Namespace of the external names of runtime calls (their index in `libcalls::ADDRESSES`):
/// the code loads a runtime call's address from an 8-byte absolute relocation, which linking
/// fills in with the address in this process (so an artifact's code is valid in another).
pub(super) const LIBCALL_NAMESPACE: u32 = 2;

/// The Cranelift type of a wasm value type the native tier supports.
pub(super) fn val_type(t: ValType) -> Result<Type, Unsupported> {
    Ok(match t {
        ValType::I32 => types::I32,
        ValType::I64 => types::I64,
        ValType::F32 => types::F32,
        ValType::F64 => types::F64,
        // Vectors are kept as `i8x16` and bitcast to the lane shape each operator works on.
        ValType::V128 => types::I8X16,
        // References travel as their 64-bit values; no operator looks into them (exception
        // references are found by the collector's scan of native frames, see
        // `runtime::exceptions`). A body's own local and block types name module type indices,
        // which read as `Other`; GC operators themselves are not in the subset.
        ValType::Ref(_) => types::I64,
    })
}

/// The native signature of a wasm function type: `(vmctx, depth, [results area,] params...)`,
/// one result in a register, several through the area (8-byte slots, see [`slot_offsets`]).
/// `depth` (an `i32`) is the callee's call depth: the number of native wasm frames below it in
/// the current entry from the host.
pub(super) fn wasm_signature(ty: &FuncType) -> Result<Signature, Unsupported> {
    let mut sig = Signature::new(WASM_CONV);
    sig.params.push(AbiParam::new(types::I64));
    sig.params.push(AbiParam::new(types::I32));
    if ty.results().len() > 1 {
        sig.params.push(AbiParam::new(types::I64));
    }
    for p in ty.params() {
        sig.params.push(AbiParam::new(val_type(*p)?));
    }
    for r in ty.results() {
        let t = val_type(*r)?;
        if ty.results().len() == 1 {
            sig.returns.push(AbiParam::new(t));
        }
    }
    Ok(sig)
}

/// Flags of loads and stores of the context and the objects it points at: aligned, never
/// trapping.
fn trusted() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// As [`trusted`], for fields that do not change while native code runs.
fn readonly() -> MemFlagsData {
    MemFlagsData::trusted().with_readonly().with_can_move()
}

/// Flags of wasm memory accesses: bounds-checked before, possibly unaligned.
fn heap() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

/// Flags of wasm memory accesses left to the guard region: possibly unaligned, and a trap site
/// (`HEAP_OUT_OF_BOUNDS`) that the signal handler turns into an out-of-bounds trap.
fn guarded_heap() -> MemFlagsData {
    MemFlagsData::new().with_trap_code(Some(cranelift_codegen::ir::TrapCode::HEAP_OUT_OF_BOUNDS))
}

/// A checked wasm memory access: the native address, the static offset to add to it, and the
/// flags the load or store takes.
pub(super) struct Access {
    pub(super) ptr: Value,
    pub(super) offset: i32,
    pub(super) flags: MemFlagsData,
}

/// Flags of a vector access to a slot, a global or a results area: never trapping, but not
/// declared aligned, so Cranelift never folds it into an SSE operand (which would need 16-byte
/// alignment; slots are 8-byte aligned).
fn vector_slot() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

/// The offset of each of `tys` in consecutive 8-byte slots (a vector takes two, as in the
/// interpreter and the array-call convention), and the number of slots they take.
pub(super) fn slot_offsets(tys: &[Type]) -> (Vec<i32>, u32) {
    let mut offsets = Vec::with_capacity(tys.len());
    let mut n = 0u32;
    for t in tys {
        offsets.push(8 * n as i32);
        n += if t.is_vector() { 2 } else { 1 };
    }
    (offsets, n)
}

/// Stores `v` into the 8-byte slot(s) at `base + offset`: scalars zero-extended to 64 bits,
/// vectors in two slots (low half first).
fn store_slot(b: &mut FunctionBuilder<'_>, v: Value, base: Value, offset: i32) {
    if b.func.dfg.value_type(v).is_vector() {
        b.ins().store(vector_slot(), v, base, offset);
    } else {
        let wide = widen(b, v);
        b.ins().store(trusted(), wide, base, offset);
    }
}

/// Loads a value of type `ty` from the slot(s) at `base + offset` (see [`store_slot`]).
fn load_slot(b: &mut FunctionBuilder<'_>, ty: Type, base: Value, offset: i32) -> Value {
    let flags = if ty.is_vector() { vector_slot() } else { trusted() };
    b.ins().load(ty, flags, base, offset)
}

const STORE_OFFSET: i32 = offset_of!(VMContextHeader, store) as i32;
const MEMORY0_OFFSET: i32 = offset_of!(VMContextHeader, memory0) as i32;
const INSTANCE_OFFSET: i32 = offset_of!(VMContextHeader, instance) as i32;
const FUEL: i32 = offset_of!(VMStoreContext, fuel) as i32;
const INTERRUPT: i32 = offset_of!(VMStoreContext, interrupt) as i32;
const EPOCH: i32 = offset_of!(VMStoreContext, epoch) as i32;
const EPOCH_DEADLINE: i32 = offset_of!(VMStoreContext, epoch_deadline) as i32;
const STACK_LIMIT: i32 = offset_of!(VMStoreContext, stack_limit) as i32;
const TRAP: i32 = offset_of!(VMStoreContext, trap) as i32;
const TRAP_FUNC: i32 = offset_of!(VMStoreContext, trap_func) as i32;
const CALL_DEPTH: i32 = offset_of!(VMStoreContext, call_depth) as i32;
const TRAP_INSTANCE: i32 = offset_of!(VMStoreContext, trap_instance) as i32;
const MEM_BASE: i32 = offset_of!(LinearMemory, base) as i32;
const MEM_LEN: i32 = offset_of!(LinearMemory, len) as i32;
const TABLE_BASE: i32 = offset_of!(TableInstance, base) as i32;
const TABLE_LEN: i32 = offset_of!(TableInstance, length) as i32;
const GLOBAL_VALUE: i32 = offset_of!(GlobalCell, value) as i32;
const REC_NATIVE: i32 = offset_of!(VMFuncRef, native_entry) as i32;
const REC_TYPE: i32 = offset_of!(VMFuncRef, type_id) as i32;
const REC_VMCTX: i32 = offset_of!(VMFuncRef, vmctx) as i32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Func,
    Block,
    Loop,
    If,
    Else,
    TryTable,
    /// A legacy `try` before its first `catch`.
    Try,
    /// A legacy `try` in one of its catch clauses.
    TryCatch,
}

/// An open control construct.
struct Frame {
    kind: Kind,
    /// Operand stack height below the construct's parameters.
    height: usize,
    params: Vec<Type>,
    results: Vec<Type>,
    /// The continuation after `end` (parameters: the results). The function's is its exit.
    end: Block,
    /// A loop's header (parameters: the loop's parameters).
    header: Option<Block>,
    /// An `if`'s else branch, until `else` (or `end`) switches to it.
    else_block: Option<Block>,
    /// An `if`'s parameters, for its else branch.
    if_params: Vec<Value>,
    /// Whether control can reach `end`'s continuation (a branch to it, or falling through).
    end_reached: bool,
    /// The exception scope in force inside the construct (index in `Translator::scopes`):
    /// its own for a `try_table` or a legacy `try`'s body, the enclosing one otherwise.
    scope: Option<usize>,
    /// A legacy `try`'s catch clauses not yet reached: their handler blocks, in order.
    clauses: Vec<Block>,
    /// In a legacy `try`'s catch clause: the exception caught and the instruction choosing
    /// whether its handler keeps it (see `exceptions::op_rethrow`).
    caught: Option<(Value, Inst)>,
}

/// Memory 0 as the function sees it.
struct Memory {
    /// The `LinearMemory` definition (fixed per instance).
    def: Value,
    /// Variables holding the base and length, reloaded after anything that may move or grow
    /// the memory; `None` for a guarded memory, whose base never moves (it is loaded as a
    /// read-only value, which Cranelift shares and hoists) and whose length is read where it
    /// is needed (explicit checks, `memory.size`).
    vars: Option<(Variable, Variable)>,
}

struct Translator<'a, 'f> {
    cx: &'a ModuleCx<'a>,
    b: FunctionBuilder<'f>,
    /// Module index of the function being translated.
    func: u32,
    locals: Vec<Variable>,
    stack: Vec<Value>,
    ctrl: Vec<Frame>,
    reachable: bool,
    /// Constructs opened in unreachable code, not translated.
    dead_depth: u32,
    vmctx: Value,
    /// The store context.
    vs: Value,
    /// This function's call depth (its `depth` parameter), which a tail call passes on.
    depth: Value,
    /// The call depth of the functions this one calls (`depth + 1`).
    callee_depth: Value,
    memory: Option<Memory>,
    /// The results area of a function with several results.
    results_area: Option<Value>,
    results: Vec<Type>,
    /// One trap block per trap number, filled in at the end.
    traps: BTreeMap<u32, Block>,
    /// Returns from the function after a trap (the trap is already recorded).
    propagate: Option<Block>,
    /// Records the trap whose number is its parameter, then returns (see `propagate`).
    record: Option<Block>,
    /// The open checkpoint's fuel constant (patched when it closes) and its count so far.
    checkpoint: Option<(Option<Inst>, u32)>,
    sigs: HashMap<u32, SigRef>,
    funcs: HashMap<u32, FuncRef>,
    /// Signatures of runtime calls, by calling convention and their parameters' and results'
    /// types.
    libcall_sigs: HashMap<(CallConv, Vec<Type>, Vec<Type>), SigRef>,
    /// Runtime calls imported so far, by their index in `libcalls::addresses()`.
    libcall_refs: HashMap<u32, FuncRef>,
    offset: usize,
    /// Every exception scope (`try_table` or legacy `try`) opened so far.
    scopes: Vec<exceptions::Scope>,
    /// The scopes open here, outermost first (a legacy `try`'s closes at its first `catch`).
    open_scopes: Vec<usize>,
    /// The shape of every legacy `try` of the function, read ahead when the first is met.
    legacy: Option<Vec<exceptions::LegacyTry>>,
    /// Legacy `try`s met so far (live or not): the last one's index in `legacy`.
    tries_seen: usize,
    /// The function's catch entries (see `native::catch`), and the marker entry of each depth.
    entries: Vec<Entry>,
    markers: HashMap<u32, u32>,
    /// Exception-table items emitted so far (bounded by `exceptions::MAX_HANDLER_ITEMS`).
    handler_items: usize,
    /// The stack slot exception payloads pass through (see `exceptions`), once needed.
    payload: Option<StackSlot>,
    /// The lane shape of each local that may hold uncanonicalised NaNs (see `nan`).
    lazy: Vec<Option<Type>>,
    /// The operand stack's values whose NaNs are not canonicalised yet: slot, value, lane shape.
    pending: Vec<(usize, Value, Type)>,
    /// The innermost loop about to open: the locals it could keep lazy (`nan::loop_candidates`).
    loop_candidates: Vec<(u32, Type)>,
    /// The open innermost loop's lazy locals and their lane shapes.
    loop_lazy: Vec<(u32, Type)>,
    /// Stretches of straight-line code translated so far (see `nan::merges`).
    stretch: u32,
    /// Per local (if the function has vector locals): the stretch of its last `local.set`, and
    /// what that set wrote.
    written: Vec<(u32, nan::Written)>,
    /// What the previous operator left on the stack.
    previous: nan::Written,
}

/// Translates defined function `func` (module index) of `cx.module`; also returns the number of
/// its locals plus the highest its operand stack gets (a bound on the values live at once), and
/// its catch entries (see `native::catch`).
pub(super) fn translate(
    cx: &ModuleCx<'_>,
    func: u32,
    fctx: &mut FunctionBuilderContext,
) -> Result<(Function, usize, Vec<Entry>), Unsupported> {
    let m = cx.module;
    let def = (func - m.num_imported_funcs) as usize;
    let range = m.bodies[def].range.clone();
    let body = FunctionBody::new(BinaryReader::new(&m.bytes[range.clone()], range.start as u64));
    let ty = m.func_type(func).clone();
    let sig = wasm_signature(&ty)?;
    let mut function = Function::with_name_signature(UserFuncName::user(FUNC_NAMESPACE, func), sig);
    let invalid = |e: wasmparser::BinaryReaderError| format!("unreadable body: {e}");

    let mut local_types = Vec::new();
    for p in ty.params() {
        local_types.push(val_type(*p)?);
    }
    for local in body.get_locals_reader().map_err(invalid)? {
        let (count, t) = local.map_err(invalid)?;
        let t = val_type(ValType::from_wasmparser(t))?;
        // Validation bounds the number of locals (50,000).
        local_types.extend(std::iter::repeat_n(t, count as usize));
    }
    let results: Vec<Type> = ty.results().iter().map(|r| val_type(*r)).collect::<Result<_, _>>()?;
    let lazy = nan::lazy_locals(
        body.get_operators_reader().map_err(invalid)?,
        &local_types,
        ty.params().len(),
    );
    // A parameter's bits come from the caller; the other locals start as zero.
    let written = if local_types.contains(&types::I8X16) {
        let start =
            |i| if i < ty.params().len() { nan::Written::Other } else { nan::Written::Canonical };
        (0..local_types.len()).map(|i| (0, start(i))).collect()
    } else {
        Vec::new()
    };

    let mut b = FunctionBuilder::new(&mut function, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let params = b.block_params(entry).to_vec();
    let vmctx = params[0];
    let depth = params[1];
    let results_area = (results.len() > 1).then(|| params[2]);
    let first_param = if results.len() > 1 { 3 } else { 2 };

    let mut locals = Vec::with_capacity(local_types.len());
    for (i, t) in local_types.iter().enumerate() {
        let var = b.declare_var(*t);
        let init = if i < ty.params().len() { params[first_param + i] } else { zero(&mut b, *t) };
        b.def_var(var, init);
        locals.push(var);
    }
    let vs = b.ins().load(types::I64, readonly(), vmctx, STORE_OFFSET);

    let exit = b.create_block();
    for r in &results {
        b.append_block_param(exit, *r);
    }
    let mut t = Translator {
        cx,
        b,
        func,
        locals,
        stack: Vec::new(),
        ctrl: Vec::new(),
        reachable: true,
        dead_depth: 0,
        vmctx,
        vs,
        depth,
        callee_depth: depth,
        memory: None,
        results_area,
        results: results.clone(),
        traps: BTreeMap::new(),
        propagate: None,
        record: None,
        checkpoint: None,
        sigs: HashMap::new(),
        funcs: HashMap::new(),
        libcall_sigs: HashMap::new(),
        libcall_refs: HashMap::new(),
        offset: range.start,
        scopes: Vec::new(),
        open_scopes: Vec::new(),
        legacy: None,
        tries_seen: 0,
        entries: Vec::new(),
        markers: HashMap::new(),
        handler_items: 0,
        payload: None,
        lazy,
        pending: Vec::new(),
        loop_candidates: Vec::new(),
        loop_lazy: Vec::new(),
        stretch: 0,
        written,
        previous: nan::Written::Other,
    };
    t.prologue();
    t.ctrl.push(Frame {
        kind: Kind::Func,
        height: 0,
        params: Vec::new(),
        results,
        end: exit,
        header: None,
        else_block: None,
        if_params: Vec::new(),
        end_reached: false,
        scope: None,
        clauses: Vec::new(),
        caught: None,
    });
    t.open_checkpoint();

    let mut ops = body.get_operators_reader().map_err(invalid)?;
    let mut highest = 0;
    while !ops.eof() {
        let (op, offset) = ops.read_with_offset().map_err(invalid)?;
        t.offset = offset as usize;
        if matches!(op, Operator::Loop { .. }) && t.reachable && !t.written.is_empty() {
            t.loop_candidates = nan::loop_candidates(ops.clone());
        }
        if let Operator::Try { .. } = op {
            if t.legacy.is_none() {
                let ops = body.get_operators_reader().map_err(invalid)?;
                t.legacy = Some(exceptions::legacy_tries(ops).map_err(invalid)?);
            }
            t.tries_seen += 1;
        }
        t.op(op)?;
        highest = highest.max(t.stack.len());
        if t.ctrl.is_empty() {
            break;
        }
    }
    let pressure = t.locals.len() + highest;
    t.close_checkpoint();
    t.finish_traps();
    t.b.seal_all_blocks();
    let entries = std::mem::take(&mut t.entries);
    t.b.finalize(cx.frontend);
    Ok((function, pressure, entries))
}

/// The array-call trampoline for functions of type `ty`: `extern "C" fn(vmctx, values,
/// callee)` reads the arguments from `values` (8-byte slots), calls `callee` with Ward's native
/// convention (at the call depth in the store context) and writes the results back
/// (zero-extended to 8 bytes).
pub(super) fn trampoline(
    cx: &ModuleCx<'_>,
    ty: &FuncType,
    index: u32,
    fctx: &mut FunctionBuilderContext,
) -> Result<Function, Unsupported> {
    let mut sig = Signature::new(cx.call_conv);
    for _ in 0..3 {
        sig.params.push(AbiParam::new(types::I64));
    }
    let mut function = Function::with_name_signature(UserFuncName::user(1, index), sig);
    let mut b = FunctionBuilder::new(&mut function, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let p = b.block_params(entry).to_vec();
    let (vmctx, values, callee) = (p[0], p[1], p[2]);
    // The callee starts counting calls at the store's `call_depth` (the driver sets it).
    let vs = b.ins().load(types::I64, readonly(), vmctx, STORE_OFFSET);
    let depth = b.ins().load(types::I32, trusted(), vs, CALL_DEPTH);
    let mut args = vec![vmctx, depth];
    let params: Vec<Type> = ty.params().iter().map(|t| val_type(*t)).collect::<Result<_, _>>()?;
    let results: Vec<Type> = ty.results().iter().map(|t| val_type(*t)).collect::<Result<_, _>>()?;
    let area = results_area(&mut b, &results);
    if let Some((slot, _)) = &area {
        args.push(b.ins().stack_addr(types::I64, *slot, 0));
    }
    let (param_at, _) = slot_offsets(&params);
    for (t, at) in params.iter().zip(param_at) {
        args.push(load_slot(&mut b, *t, values, at));
    }
    let wasm_sig = b.import_signature(wasm_signature(ty)?);
    let call = b.ins().call_indirect(wasm_sig, callee, &args);
    let (result_at, _) = slot_offsets(&results);
    let values_out: Vec<Value> = match area {
        Some((slot, _)) => {
            let addr = b.ins().stack_addr(types::I64, slot, 0);
            results.iter().zip(&result_at).map(|(t, at)| load_slot(&mut b, *t, addr, *at)).collect()
        }
        None => b.inst_results(call).to_vec(),
    };
    for (v, at) in values_out.into_iter().zip(result_at) {
        store_slot(&mut b, v, values, at);
    }
    b.ins().return_(&[]);
    b.finalize(cx.frontend);
    Ok(function)
}

/// A stack slot for the results (of types `tys`) of a call with several results, and the
/// offset of each in it.
fn results_area(b: &mut FunctionBuilder<'_>, tys: &[Type]) -> Option<(StackSlot, Vec<i32>)> {
    (tys.len() > 1).then(|| {
        let (at, n) = slot_offsets(tys);
        (slots(b, n), at)
    })
}

/// The address of a call's results area and the offset of each result in it.
type ResultsArea = (Value, Vec<i32>);

/// A 16-byte-aligned stack slot of `n` 8-byte slots.
fn slots(b: &mut FunctionBuilder<'_>, n: u32) -> StackSlot {
    b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 8 * n, 4))
}

/// `v` as a 64-bit integer with its bits zero-extended (how values sit in 8-byte slots).
fn widen(b: &mut FunctionBuilder<'_>, v: Value) -> Value {
    let ty = b.func.dfg.value_type(v);
    match ty {
        types::I32 => b.ins().uextend(types::I64, v),
        types::F32 => {
            let bits = b.ins().bitcast(types::I32, MemFlagsData::new(), v);
            b.ins().uextend(types::I64, bits)
        }
        types::F64 => b.ins().bitcast(types::I64, MemFlagsData::new(), v),
        _ => v,
    }
}

fn zero(b: &mut FunctionBuilder<'_>, ty: Type) -> Value {
    match ty {
        types::F32 => b.ins().f32const(Ieee32::with_bits(0)),
        types::F64 => b.ins().f64const(Ieee64::with_bits(0)),
        types::I8X16 => v128_const(b, 0),
        _ => b.ins().iconst(ty, 0),
    }
}

/// The `i8x16` constant whose little-endian bytes are `bits`.
fn v128_const(b: &mut FunctionBuilder<'_>, bits: u128) -> Value {
    let data = ConstantData::from(bits.to_le_bytes().as_slice());
    let handle = b.func.dfg.constants.insert(data);
    b.ins().vconst(types::I8X16, handle)
}

/// Exclusive bounds of a trapping float-to-int truncation, as in the interpreter
/// (`interp::num`): exactly representable in the source type.
fn trunc_bounds(to: Type, from: Type, signed: bool) -> (f64, f64) {
    match (to, from, signed) {
        (types::I32, types::F32, true) => (-2147483904.0, 2147483648.0),
        (types::I32, types::F64, true) => (-2147483649.0, 2147483648.0),
        (types::I32, _, false) => (-1.0, 4294967296.0),
        (types::I64, types::F32, true) => (-9223373136366403584.0, 9223372036854775808.0),
        (types::I64, types::F64, true) => (-9223372036854777856.0, 9223372036854775808.0),
        _ => (-1.0, 18446744073709551616.0),
    }
}

impl Translator<'_, '_> {
    fn unsupported(&self, what: impl std::fmt::Display) -> Unsupported {
        format!("{what} at offset {:#x} of function {}", self.offset, self.func)
    }

    // ---- stack ----------------------------------------------------------------------------

    fn push(&mut self, v: Value) {
        self.stack.push(v);
    }

    fn pop(&mut self) -> Value {
        self.stack.pop().expect("validated: operand stack underflow")
    }

    /// The top `n` values as block arguments (left on the stack).
    fn top_args(&self, n: usize) -> Vec<BlockArg> {
        self.stack[self.stack.len() - n..].iter().map(|v| BlockArg::Value(*v)).collect()
    }

    fn iconst(&mut self, ty: Type, v: i64) -> Value {
        let v = if ty == types::I32 { v as u32 as i64 } else { v };
        self.b.ins().iconst(ty, v)
    }

    // ---- entry, exit, traps ---------------------------------------------------------------

    /// Call depth and stack checks, and memory 0.
    fn prologue(&mut self) {
        let max = self.iconst(types::I32, self.cx.max_depth as i64);
        let deep = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, self.depth, max);
        self.trap_if(deep, TrapCode::StackOverflow);
        self.callee_depth = self.b.ins().iadd_imm_u(self.depth, 1);
        let sp = self.b.ins().get_stack_pointer(types::I64);
        let limit = self.b.ins().load(types::I64, trusted(), self.vs, STACK_LIMIT);
        let low = self.b.ins().icmp(IntCC::UnsignedLessThan, sp, limit);
        self.trap_if(low, TrapCode::StackOverflow);
        if !self.cx.module.memories.is_empty() {
            let def = self.b.ins().load(types::I64, readonly(), self.vmctx, MEMORY0_OFFSET);
            let vars = (!self.guarded(0) && !self.shared(0))
                .then(|| (self.b.declare_var(types::I64), self.b.declare_var(types::I64)));
            self.memory = Some(Memory { def, vars });
            self.reload_memory();
        }
    }

    /// Reads memory 0's base and length afresh (after anything that may have grown it).
    fn reload_memory(&mut self) {
        if let Some(Memory { def, vars: Some((base_var, len_var)) }) = self.memory {
            let base = self.b.ins().load(types::I64, trusted(), def, MEM_BASE);
            let len = self.b.ins().load(types::I64, trusted(), def, MEM_LEN);
            self.b.def_var(base_var, base);
            self.b.def_var(len_var, len);
        }
    }

    fn trap_block(&mut self, code: u32) -> Block {
        if let Some(b) = self.traps.get(&code) {
            return *b;
        }
        let block = self.b.create_block();
        self.b.set_cold_block(block);
        self.traps.insert(code, block);
        block
    }

    fn propagate_block(&mut self) -> Block {
        match self.propagate {
            Some(b) => b,
            None => {
                let block = self.b.create_block();
                self.b.set_cold_block(block);
                self.propagate = Some(block);
                block
            }
        }
    }

    /// Continues in a fresh block, or traps with `code` if `cond` (an `i8` or wider) is set.
    fn trap_if(&mut self, cond: Value, code: TrapCode) {
        self.trap_if_number(cond, trap_number(code));
    }

    fn trap_if_number(&mut self, cond: Value, number: u32) {
        let trap = self.trap_block(number);
        let next = self.b.create_block();
        self.b.ins().brif(cond, trap, &[], next, &[]);
        self.b.switch_to_block(next);
        self.b.seal_block(next);
    }

    /// After a call of native code: returns at once if the callee trapped, unless traps unwind
    /// (then a callee that traps never returns here).
    fn check_native_trap(&mut self) {
        if !self.cx.unwinds {
            self.check_trap();
        }
    }

    /// After a runtime call: returns at once if it (or what it called) trapped.
    fn check_trap(&mut self) {
        let trap = self.b.ins().load(types::I32, trusted(), self.vs, TRAP);
        let out = self.propagate_block();
        let next = self.b.create_block();
        self.b.ins().brif(trap, out, &[], next, &[]);
        self.b.switch_to_block(next);
        self.b.seal_block(next);
    }

    /// The block that records the trap whose number it receives, then returns.
    fn record_block(&mut self) -> Block {
        match self.record {
            Some(b) => b,
            None => {
                let block = self.new_block_with(&[types::I32]);
                self.b.set_cold_block(block);
                self.record = Some(block);
                block
            }
        }
    }

    /// Continues in a fresh block, or traps with `number` (an `i32` trap number, see
    /// `native::TRAP_CODES`) if it is not zero.
    fn trap_unless_zero(&mut self, number: Value) {
        let record = self.record_block();
        let next = self.b.create_block();
        self.b.ins().brif(number, record, &[BlockArg::Value(number)], next, &[]);
        self.b.switch_to_block(next);
        self.b.seal_block(next);
    }

    /// Fills in the trap blocks (record the trap, then return) and the return path after a
    /// trap (dummy results).
    fn finish_traps(&mut self) {
        let traps: Vec<(u32, Block)> = std::mem::take(&mut self.traps).into_iter().collect();
        if !traps.is_empty() {
            let record = self.record_block();
            for (code, block) in traps {
                self.b.switch_to_block(block);
                let code = self.iconst(types::I32, code as i64);
                self.b.ins().jump(record, &[BlockArg::Value(code)]);
            }
        }
        if let Some(record) = self.record {
            let out = self.propagate_block();
            self.b.switch_to_block(record);
            let code = self.b.block_params(record)[0];
            let func = self.iconst(types::I32, self.func as i64);
            let instance = self.b.ins().load(types::I32, readonly(), self.vmctx, INSTANCE_OFFSET);
            self.b.ins().store(trusted(), code, self.vs, TRAP);
            self.b.ins().store(trusted(), func, self.vs, TRAP_FUNC);
            self.b.ins().store(trusted(), instance, self.vs, TRAP_INSTANCE);
            self.b.ins().jump(out, &[]);
        }
        if let Some(out) = self.propagate {
            self.b.switch_to_block(out);
            if self.cx.unwinds {
                // Does not return: the callers' frames are abandoned with this one.
                self.libcall(super::signals::raise as *const () as usize, &[], &[], &[]);
            }
            let values: Vec<Value> = if self.results_area.is_some() {
                Vec::new()
            } else {
                self.results.clone().into_iter().map(|t| zero(&mut self.b, t)).collect()
            };
            self.b.ins().return_(&values);
        }
    }

    /// The exit block: returns the results.
    fn finish_exit(&mut self, exit: Block) {
        self.b.switch_to_block(exit);
        self.b.seal_block(exit);
        let values = self.b.block_params(exit).to_vec();
        match self.results_area {
            Some(area) => {
                let (at, _) = slot_offsets(&self.results);
                for (v, at) in values.iter().zip(at) {
                    let flags = if self.b.func.dfg.value_type(*v).is_vector() {
                        vector_slot()
                    } else {
                        trusted()
                    };
                    self.b.ins().store(flags, *v, area, at);
                }
                self.b.ins().return_(&[]);
            }
            None => {
                self.b.ins().return_(&values);
            }
        }
    }

    // ---- checkpoints ----------------------------------------------------------------------

    /// A fuel and interruption checkpoint, where the interpreter places its `Check`.
    fn open_checkpoint(&mut self) {
        if !self.cx.checkpoints {
            return;
        }
        self.close_checkpoint();
        let mut charge = None;
        if self.cx.consume_fuel {
            let fuel = self.b.ins().load(types::I64, trusted(), self.vs, FUEL);
            let n = self.b.ins().iconst(types::I64, 0);
            charge = self.b.func.dfg.value_def(n).inst();
            let short = self.b.ins().icmp(IntCC::UnsignedLessThan, fuel, n);
            self.trap_if(short, TrapCode::OutOfFuel);
            let left = self.b.ins().isub(fuel, n);
            self.b.ins().store(trusted(), left, self.vs, FUEL);
        }
        // Another thread sets the flag: an atomic load, which no optimisation merges with an
        // earlier one (a plain load in a loop without stores would be read once).
        let flag = self.b.ins().load(types::I64, readonly(), self.vs, INTERRUPT);
        let set = self.b.ins().atomic_load(types::I8, trusted(), flag);
        self.trap_if(set, TrapCode::Interrupted);
        if self.cx.epochs {
            self.check_epoch();
        }
        self.checkpoint = Some((charge, 0));
    }

    /// At a checkpoint: if the engine's epoch reached the store's deadline, what the embedder
    /// asked for (`libcalls::epoch_reached`: a trap, or a new deadline).
    fn check_epoch(&mut self) {
        let counter = self.b.ins().load(types::I64, readonly(), self.vs, EPOCH);
        let now = self.b.ins().atomic_load(types::I64, trusted(), counter);
        let deadline = self.b.ins().load(types::I64, trusted(), self.vs, EPOCH_DEADLINE);
        let reached = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, now, deadline);
        let slow = self.b.create_block();
        let next = self.b.create_block();
        self.b.set_cold_block(slow);
        self.b.ins().brif(reached, slow, &[], next, &[]);
        self.b.switch_to_block(slow);
        self.b.seal_block(slow);
        let func = self.iconst(types::I32, self.func as i64);
        self.libcall(
            super::libcalls::epoch_reached as *const () as usize,
            &[types::I64, types::I32],
            &[],
            &[self.vmctx, func],
        );
        self.check_trap();
        // The embedder's callback may have grown a memory.
        self.reload_memory();
        self.b.ins().jump(next, &[]);
        self.b.switch_to_block(next);
        self.b.seal_block(next);
    }

    fn close_checkpoint(&mut self) {
        if let Some((Some(inst), n)) = self.checkpoint.take() {
            self.b.func.replace(inst).iconst(types::I64, n as i64);
        }
    }

    // ---- control --------------------------------------------------------------------------

    fn block_type(&self, bt: BlockType) -> Result<(Vec<Type>, Vec<Type>), Unsupported> {
        Ok(match bt {
            BlockType::Empty => (vec![], vec![]),
            BlockType::Type(t) => (vec![], vec![val_type(ValType::from_wasmparser(t))?]),
            BlockType::FuncType(idx) => {
                let f = self.cx.module.func_type_of_type(idx);
                let p = f.params().iter().map(|t| val_type(*t)).collect::<Result<_, _>>()?;
                let r = f.results().iter().map(|t| val_type(*t)).collect::<Result<_, _>>()?;
                (p, r)
            }
        })
    }

    fn new_block_with(&mut self, types: &[Type]) -> Block {
        let block = self.b.create_block();
        for t in types {
            self.b.append_block_param(block, *t);
        }
        block
    }

    /// The block a branch to label `depth` goes to, and the number of values it carries.
    fn label(&mut self, depth: u32) -> (Block, usize) {
        let i = self.ctrl.len() - 1 - depth as usize;
        let f = &mut self.ctrl[i];
        if f.kind == Kind::Loop {
            (f.header.expect("a loop has a header"), f.params.len())
        } else {
            f.end_reached = true;
            (f.end, f.results.len())
        }
    }

    fn br(&mut self, depth: u32) {
        let (target, n) = self.label(depth);
        let args = self.top_args(n);
        self.b.ins().jump(target, &args);
        self.reachable = false;
    }

    fn br_if(&mut self, depth: u32) {
        let cond = self.pop();
        let (target, n) = self.label(depth);
        let args = self.top_args(n);
        let next = self.b.create_block();
        self.b.ins().brif(cond, target, &args, next, &[]);
        self.b.switch_to_block(next);
        self.b.seal_block(next);
    }

    fn br_table(&mut self, depths: &[u32], default: u32) {
        let index = self.pop();
        // Labels with values get a stub block that passes them (a jump table cannot).
        let mut stubs: BTreeMap<u32, Block> = BTreeMap::new();
        let mut target_of = |t: &mut Self, depth: u32| {
            let (target, n) = t.label(depth);
            if n == 0 {
                target
            } else {
                *stubs.entry(depth).or_insert_with(|| t.b.create_block())
            }
        };
        let entries: Vec<Block> = depths.iter().map(|d| target_of(self, *d)).collect();
        let default_block = target_of(self, default);
        let calls: Vec<_> = entries.iter().map(|b| self.b.func.dfg.block_call(*b, &[])).collect();
        let default_call = self.b.func.dfg.block_call(default_block, &[]);
        let jt = self.b.create_jump_table(JumpTableData::new(default_call, &calls));
        self.b.ins().br_table(index, jt);
        for (depth, stub) in stubs {
            self.b.switch_to_block(stub);
            self.b.seal_block(stub);
            let (target, n) = self.label(depth);
            let args = self.top_args(n);
            self.b.ins().jump(target, &args);
        }
        self.reachable = false;
    }

    fn push_frame(&mut self, kind: Kind, params: Vec<Type>, results: Vec<Type>) -> &mut Frame {
        let end = self.new_block_with(&results);
        let height = self.stack.len() - params.len();
        let scope = self.open_scopes.last().copied();
        self.ctrl.push(Frame {
            kind,
            height,
            params,
            results,
            end,
            header: None,
            else_block: None,
            if_params: Vec::new(),
            end_reached: false,
            scope,
            clauses: Vec::new(),
            caught: None,
        });
        self.ctrl.last_mut().expect("just pushed")
    }

    fn op_block(&mut self, bt: BlockType) -> Result<(), Unsupported> {
        let (params, results) = self.block_type(bt)?;
        self.push_frame(Kind::Block, params, results);
        Ok(())
    }

    fn op_loop(&mut self, bt: BlockType) -> Result<(), Unsupported> {
        let (params, results) = self.block_type(bt)?;
        let header = self.new_block_with(&params);
        let args = self.top_args(params.len());
        self.b.ins().jump(header, &args);
        self.b.switch_to_block(header);
        let n = params.len();
        self.stack.truncate(self.stack.len() - n);
        let values = self.b.block_params(header).to_vec();
        self.stack.extend(values);
        self.push_frame(Kind::Loop, params, results).header = Some(header);
        self.open_checkpoint();
        Ok(())
    }

    fn op_if(&mut self, bt: BlockType) -> Result<(), Unsupported> {
        let cond = self.pop();
        let (params, results) = self.block_type(bt)?;
        let then = self.b.create_block();
        let else_block = self.b.create_block();
        self.b.ins().brif(cond, then, &[], else_block, &[]);
        self.b.switch_to_block(then);
        self.b.seal_block(then);
        let if_params = self.stack[self.stack.len() - params.len()..].to_vec();
        let f = self.push_frame(Kind::If, params, results);
        f.else_block = Some(else_block);
        f.if_params = if_params;
        Ok(())
    }

    fn op_else(&mut self) {
        let i = self.ctrl.len() - 1;
        if self.reachable {
            let n = self.ctrl[i].results.len();
            let args = self.top_args(n);
            self.b.ins().jump(self.ctrl[i].end, &args);
            self.ctrl[i].end_reached = true;
        }
        let f = &mut self.ctrl[i];
        f.kind = Kind::Else;
        let else_block = f.else_block.take().expect("validated: else after if");
        let (height, params) = (f.height, std::mem::take(&mut f.if_params));
        self.b.switch_to_block(else_block);
        self.b.seal_block(else_block);
        self.stack.truncate(height);
        self.stack.extend(params);
        self.reachable = true;
        self.open_checkpoint();
    }

    fn op_end(&mut self) {
        let mut f = self.ctrl.pop().expect("validated: end closes a construct");
        if self.reachable {
            let args = self.top_args(f.results.len());
            self.b.ins().jump(f.end, &args);
            f.end_reached = true;
        }
        if let Some(else_block) = f.else_block.take() {
            // An `if` without `else`: the false branch passes the parameters on as results.
            self.b.switch_to_block(else_block);
            self.b.seal_block(else_block);
            let args: Vec<BlockArg> = f.if_params.iter().map(|v| BlockArg::Value(*v)).collect();
            self.b.ins().jump(f.end, &args);
            f.end_reached = true;
        }
        if let Some(header) = f.header {
            self.b.seal_block(header);
        }
        self.stack.truncate(f.height);
        self.close_try_table(&f);
        if f.kind == Kind::Func {
            if f.end_reached {
                self.finish_exit(f.end);
            }
            return;
        }
        if f.end_reached {
            self.b.switch_to_block(f.end);
            self.b.seal_block(f.end);
            let values = self.b.block_params(f.end).to_vec();
            self.stack.extend(values);
            self.reachable = true;
            self.open_checkpoint();
        } else {
            self.reachable = false;
        }
    }

    // ---- calls ----------------------------------------------------------------------------

    fn sig_ref(&mut self, type_index: u32) -> Result<SigRef, Unsupported> {
        if let Some(s) = self.sigs.get(&type_index) {
            return Ok(*s);
        }
        let ty = self.cx.module.func_type_of_type(type_index).clone();
        let sig = self.b.import_signature(wasm_signature(&ty)?);
        self.sigs.insert(type_index, sig);
        Ok(sig)
    }

    fn func_ref(&mut self, func: u32) -> Result<FuncRef, Unsupported> {
        if let Some(f) = self.funcs.get(&func) {
            return Ok(*f);
        }
        let signature = self.sig_ref(self.cx.module.funcs[func as usize])?;
        let name =
            self.b.func.declare_imported_user_function(UserExternalName::new(FUNC_NAMESPACE, func));
        let f = self.b.import_function(ExtFuncData {
            name: ExternalName::user(name),
            signature,
            colocated: true,
            patchable: false,
        });
        self.funcs.insert(func, f);
        Ok(f)
    }

    /// Pops the arguments of a call of type `ty` and returns the native argument list (with
    /// `callee_vmctx` first) and the results area, if any.
    fn call_args(
        &mut self,
        ty: &FuncType,
        callee_vmctx: Value,
    ) -> Result<(Vec<Value>, Option<ResultsArea>), Unsupported> {
        let n = ty.params().len();
        let wasm_args = self.stack.split_off(self.stack.len() - n);
        let mut args = vec![callee_vmctx, self.callee_depth];
        let results: Vec<Type> =
            ty.results().iter().map(|t| val_type(*t)).collect::<Result<_, _>>()?;
        let area = results_area(&mut self.b, &results).map(|(slot, at)| {
            let addr = self.b.ins().stack_addr(types::I64, slot, 0);
            args.push(addr);
            (addr, at)
        });
        args.extend(wasm_args);
        Ok((args, area))
    }

    /// After a call (whose register results are `direct`): trap propagation, results, memory
    /// reload.
    fn after_call(
        &mut self,
        direct: Vec<Value>,
        ty: &FuncType,
        area: Option<ResultsArea>,
    ) -> Result<(), Unsupported> {
        self.check_native_trap();
        match area {
            Some((addr, at)) => {
                for (t, at) in ty.results().iter().zip(at) {
                    let v = load_slot(&mut self.b, val_type(*t)?, addr, at);
                    self.push(v);
                }
            }
            None => self.stack.extend(direct),
        }
        self.reload_memory();
        Ok(())
    }

    /// The record and native signature of imported function `func`: the exporter's record,
    /// fixed once the instance exists.
    fn imported_record(&mut self, func: u32) -> Result<(Value, SigRef), Unsupported> {
        let at = self.cx.vm.funcref(func) as i32;
        let record = self.b.ins().load(types::I64, readonly(), self.vmctx, at);
        let sig = self.sig_ref(self.cx.module.funcs[func as usize])?;
        Ok((record, sig))
    }

    fn call(&mut self, func: u32) -> Result<(), Unsupported> {
        let ty = self.cx.module.func_type(func).clone();
        if func < self.cx.module.num_imported_funcs {
            let (record, sig) = self.imported_record(func)?;
            return self.call_record(record, &ty, sig);
        }
        let callee = self.func_ref(func)?;
        let (args, area) = self.call_args(&ty, self.vmctx)?;
        let direct = self.emit_call(exceptions::Callee::Direct(callee), &args);
        self.after_call(direct, &ty, area)
    }

    fn call_indirect(&mut self, type_index: u32, table: u32) -> Result<(), Unsupported> {
        let ty = self.cx.module.func_type_of_type(type_index).clone();
        let sig = self.sig_ref(type_index)?;
        let record = self.indirect_record(type_index, table);
        self.call_record(record, &ty, sig)
    }

    /// Pops a table index and returns the record of table `table`'s element there, trapping
    /// unless it is a function of type `type_index` (or a subtype).
    fn indirect_record(&mut self, type_index: u32, table: u32) -> Value {
        let index = self.pop();
        let (base, len) = self.table_bounds(table);
        let i = self.index64(index);
        let past = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, i, len);
        self.trap_if(past, TrapCode::UndefinedElement);
        let off = self.b.ins().ishl_imm_u(i, 3);
        let at = self.b.ins().iadd(base, off);
        let record = self.b.ins().load(types::I64, trusted(), at, 0);
        let null = self.b.ins().icmp_imm_u(IntCC::Equal, record, 0);
        self.trap_if(null, TrapCode::UninitializedElement);
        let have = self.b.ins().load(types::I32, trusted(), record, REC_TYPE);
        let want = self.b.ins().load(
            types::I32,
            readonly(),
            self.vmctx,
            self.cx.vm.type_id(type_index) as i32,
        );
        let differ = self.b.ins().icmp(IntCC::NotEqual, have, want);
        let slow = self.b.create_block();
        let ok = self.b.create_block();
        self.b.set_cold_block(slow);
        self.b.ins().brif(differ, slow, &[], ok, &[]);
        // A different id may still be a declared subtype: ask the store.
        self.b.switch_to_block(slow);
        self.b.seal_block(slow);
        let matches = self.libcall(
            super::libcalls::signature_matches as *const () as usize,
            &[types::I64, types::I64, types::I32],
            &[types::I32],
            &[self.vmctx, record, want],
        )[0];
        self.check_trap();
        let mismatch = self.b.ins().icmp_imm_u(IntCC::Equal, matches, 0);
        self.trap_if(mismatch, TrapCode::IndirectCallTypeMismatch);
        self.b.ins().jump(ok, &[]);
        self.b.switch_to_block(ok);
        self.b.seal_block(ok);
        record
    }

    /// Calls the function of `record` (of type `ty`, native signature `sig`), with the
    /// arguments on the operand stack: directly if it has native code (of any instance),
    /// otherwise through the embedding layer (`libcalls::call_out`: a host function or an
    /// interpreted function), with the arguments and results in 8-byte slots.
    fn call_record(
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
        let merge = self.new_block_with(&result_types);
        // Native modules call native code; host functions and interpreted modules' functions
        // are the exception, laid out of the way.
        self.b.set_cold_block(out);
        self.b.ins().brif(entry, native, &[], out, &[]);

        self.b.switch_to_block(native);
        self.b.seal_block(native);
        let callee_vmctx = self.b.ins().load(types::I64, trusted(), record, REC_VMCTX);
        let mut args = vec![callee_vmctx, self.callee_depth];
        let area = results_area(&mut self.b, &result_types).map(|(slot, at)| {
            let addr = self.b.ins().stack_addr(types::I64, slot, 0);
            args.push(addr);
            (addr, at)
        });
        args.extend_from_slice(&wasm_args);
        let direct = self.emit_call(exceptions::Callee::Indirect(entry, sig), &args);
        self.check_native_trap();
        let results: Vec<BlockArg> = match area {
            Some((addr, at)) => result_types
                .iter()
                .zip(at)
                .map(|(t, at)| BlockArg::Value(load_slot(&mut self.b, *t, addr, at)))
                .collect(),
            None => direct.into_iter().map(BlockArg::Value).collect(),
        };
        self.b.ins().jump(merge, &results);

        self.b.switch_to_block(out);
        self.b.seal_block(out);
        let results = self.call_out(record, &wasm_args, &result_types, false);
        let results: Vec<BlockArg> = results.into_iter().map(BlockArg::Value).collect();
        self.b.ins().jump(merge, &results);

        self.b.switch_to_block(merge);
        self.b.seal_block(merge);
        let values = self.b.block_params(merge).to_vec();
        self.stack.extend(values);
        self.reload_memory();
        Ok(())
    }

    /// Calls the function of `record`, which has no native code, through the embedding layer
    /// (`libcalls::call_out`) with `wasm_args`, the arguments and results in 8-byte slots;
    /// returns its results (of types `result_types`). An exception the callee lets through is
    /// unwound from here (with this call's handlers unless it is a `tail` call).
    fn call_out(
        &mut self,
        record: Value,
        wasm_args: &[Value],
        result_types: &[Type],
        tail: bool,
    ) -> Vec<Value> {
        let arg_types: Vec<Type> =
            wasm_args.iter().map(|v| self.b.func.dfg.value_type(*v)).collect();
        let (arg_at, arg_slots) = slot_offsets(&arg_types);
        let (result_at, result_slots) = slot_offsets(result_types);
        let len = arg_slots.max(result_slots).max(1);
        let area = slots(&mut self.b, len);
        let values = self.b.ins().stack_addr(types::I64, area, 0);
        for (v, at) in wasm_args.iter().zip(arg_at) {
            store_slot(&mut self.b, *v, values, at);
        }
        let len = self.iconst(types::I32, len as i64);
        let caller = self.iconst(types::I32, self.func as i64);
        self.libcall(
            super::libcalls::call_out as *const () as usize,
            &[types::I64, types::I64, types::I64, types::I32, types::I32],
            &[],
            &[self.vmctx, record, values, len, caller],
        );
        self.check_call_out(tail);
        result_types
            .iter()
            .zip(result_at)
            .map(|(t, at)| load_slot(&mut self.b, *t, values, at))
            .collect()
    }

    /// Calls the runtime function at `addr` (an `extern "C"` function of this process, listed in
    /// `libcalls::addresses`).
    fn libcall(
        &mut self,
        addr: usize,
        params: &[Type],
        returns: &[Type],
        args: &[Value],
    ) -> Vec<Value> {
        let (callee, sig) = self.libcall_callee(addr, self.cx.call_conv, params, returns);
        let call = self.b.ins().call_indirect(sig, callee, args);
        self.b.inst_results(call).to_vec()
    }

    /// The address and signature (in calling convention `conv`) of the runtime call at `addr`,
    /// each imported into the function once.
    fn libcall_callee(
        &mut self,
        addr: usize,
        conv: CallConv,
        params: &[Type],
        returns: &[Type],
    ) -> (Value, SigRef) {
        let key = (conv, params.to_vec(), returns.to_vec());
        let sig = match self.libcall_sigs.get(&key) {
            Some(s) => *s,
            None => {
                let mut sig = Signature::new(conv);
                sig.params.extend(params.iter().map(|t| AbiParam::new(*t)));
                sig.returns.extend(returns.iter().map(|t| AbiParam::new(*t)));
                let s = self.b.import_signature(sig);
                self.libcall_sigs.insert(key, s);
                s
            }
        };
        // The address itself is not embedded: the code names the runtime call, and linking
        // writes its address in this process (see `LIBCALL_NAMESPACE`).
        let index = super::libcalls::index_of(addr)
            .expect("every runtime call native code makes is listed in `libcalls::addresses`");
        let callee = match self.libcall_refs.get(&index) {
            Some(f) => *f,
            None => {
                let name = self.b.func.declare_imported_user_function(UserExternalName::new(
                    LIBCALL_NAMESPACE,
                    index,
                ));
                let f = self.b.import_function(ExtFuncData {
                    name: ExternalName::user(name),
                    signature: sig,
                    colocated: false,
                    patchable: false,
                });
                self.libcall_refs.insert(index, f);
                f
            }
        };
        (self.b.ins().func_addr(types::I64, callee), sig)
    }

    // ---- bulk memory, segments and tables -------------------------------------------------

    /// Fuel for a bulk operation of length `n`: one unit per 64 bytes or elements,
    /// charged before the operation, as the interpreter does.
    fn charge_bulk(&mut self, n: Value) {
        if !self.cx.consume_fuel {
            return;
        }
        let n = self.index64(n);
        let units = self.b.ins().ushr_imm_u(n, 6);
        let fuel = self.b.ins().load(types::I64, trusted(), self.vs, FUEL);
        let short = self.b.ins().icmp(IntCC::UnsignedLessThan, fuel, units);
        self.trap_if(short, TrapCode::OutOfFuel);
        let left = self.b.ins().isub(fuel, units);
        self.b.ins().store(trusted(), left, self.vs, FUEL);
    }

    /// Charges the fuel of a bulk operation of length `n`, then calls the runtime function at
    /// `addr` (in `native::bulk`) with `args` (see [`Translator::bulk_call`]).
    fn bulk(&mut self, addr: usize, args: &[Value], n: Value) {
        self.charge_bulk(n);
        self.bulk_call(addr, args);
    }

    /// Calls the runtime function at `addr` (in `native::bulk`) with `args`; traps with the
    /// trap number it returns, if not zero.
    fn bulk_call(&mut self, addr: usize, args: &[Value]) {
        let params: Vec<Type> = args.iter().map(|v| self.b.func.dfg.value_type(*v)).collect();
        let code = self.libcall(addr, &params, &[types::I32], args)[0];
        self.trap_unless_zero(code);
    }

    /// Checks that table `table` holds references native code may keep (not exceptions,
    /// which the collector finds only in the interpreter's frames).
    fn table_elems(&self, table: u32) -> Result<(), Unsupported> {
        let elem = self.cx.module.tables[table as usize].ty.element;
        val_type(ValType::Ref(elem))
            .map(|_| ())
            .map_err(|e| self.unsupported(format!("a table of {e}")))
    }

    /// The `TableInstance` of table `table` (fixed per instance).
    fn table_ptr(&mut self, table: u32) -> Value {
        self.b.ins().load(types::I64, readonly(), self.vmctx, self.cx.vm.table(table) as i32)
    }

    /// Table `table`'s elements and length. A table whose maximum is its minimum never
    /// grows (an imported one too: its exporter's maximum is at most the import's), so its
    /// elements never move: their address is loaded as a read-only value, which Cranelift
    /// shares and hoists, and its length is a constant.
    fn table_bounds(&mut self, table: u32) -> (Value, Value) {
        let ty = self.cx.module.tables[table as usize].ty;
        let tptr = self.table_ptr(table);
        if ty.max == Some(ty.min) {
            let base = self.b.ins().load(types::I64, readonly(), tptr, TABLE_BASE);
            let len = self.b.ins().iconst(types::I64, ty.min as i64);
            return (base, len);
        }
        let base = self.b.ins().load(types::I64, trusted(), tptr, TABLE_BASE);
        let len = self.b.ins().load(types::I64, trusted(), tptr, TABLE_LEN);
        (base, len)
    }

    /// The address of element `index` of table `table`, trapping if out of bounds.
    fn table_elem(&mut self, table: u32, index: Value) -> Value {
        let (base, len) = self.table_bounds(table);
        let i = self.index64(index);
        let past = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, i, len);
        self.trap_if(past, TrapCode::TableOutOfBounds);
        let off = self.b.ins().ishl_imm_u(i, 3);
        self.b.ins().iadd(base, off)
    }

    fn table_get(&mut self, table: u32) -> Result<(), Unsupported> {
        self.table_elems(table)?;
        let index = self.pop();
        let at = self.table_elem(table, index);
        let v = self.b.ins().load(types::I64, trusted(), at, 0);
        self.push(v);
        Ok(())
    }

    fn table_set(&mut self, table: u32) -> Result<(), Unsupported> {
        self.table_elems(table)?;
        let v = self.pop();
        let index = self.pop();
        let at = self.table_elem(table, index);
        self.b.ins().store(trusted(), v, at, 0);
        Ok(())
    }

    fn table_grow(&mut self, table: u32) -> Result<(), Unsupported> {
        self.table_elems(table)?;
        let delta = self.pop();
        let init = self.pop();
        self.charge_bulk(delta);
        let delta = self.index64(delta);
        let t = self.iconst(types::I32, table as i64);
        let old = self.libcall(
            super::bulk::table_grow as *const () as usize,
            &[types::I64, types::I32, types::I64, types::I64],
            &[types::I64],
            &[self.vmctx, t, init, delta],
        )[0];
        // A panicking resource limiter.
        self.check_trap();
        let v = if self.table64(table) { old } else { self.b.ins().ireduce(types::I32, old) };
        self.push(v);
        Ok(())
    }

    fn table_size(&mut self, table: u32) {
        let (_, len) = self.table_bounds(table);
        let v = if self.table64(table) { len } else { self.b.ins().ireduce(types::I32, len) };
        self.push(v);
    }

    /// Whether table `table` is 64-bit.
    fn table64(&self, table: u32) -> bool {
        self.cx.module.tables[table as usize].ty.table64
    }

    // ---- memory and globals ---------------------------------------------------------------

    /// Whether memory `index` is guarded (the engine's strategy, for 32-bit memories with
    /// 64 KiB pages): its whole index space plus the guard is reserved, so its base never
    /// moves, and accesses within the guard are left to the MMU (see `address`).
    fn guarded(&self, index: u32) -> bool {
        let ty = &self.cx.module.memories[index as usize];
        self.cx.guarded && !ty.memory64 && !ty.shared && ty.page_size_log2 == 16
    }

    /// Whether memory `index` is shared (threads proposal): its base never moves, and the
    /// length in its definition is this store's snapshot, which another thread's `memory.grow`
    /// may have left behind (see `address` and `memory_size`).
    pub(super) fn shared(&self, index: u32) -> bool {
        self.cx.module.memories[index as usize].shared
    }

    /// Memory `index`'s definition (fixed per instance).
    pub(super) fn mem_def(&mut self, index: u32) -> Value {
        match &self.memory {
            Some(m) if index == 0 => m.def,
            _ => {
                let at = self.cx.vm.memory(index) as i32;
                self.b.ins().load(types::I64, readonly(), self.vmctx, at)
            }
        }
    }

    /// Memory `index`'s base: memory 0's from the variable the function keeps (reloaded after
    /// anything that may move it), a guarded or shared memory's as a read-only value (it never
    /// moves), any other's loaded afresh.
    pub(super) fn mem_base(&mut self, index: u32) -> Value {
        if let Some(Memory { vars: Some((base, _)), .. }) = self.memory {
            if index == 0 {
                return self.b.use_var(base);
            }
        }
        let def = self.mem_def(index);
        let flags = if self.guarded(index) || self.shared(index) { readonly() } else { trusted() };
        self.b.ins().load(types::I64, flags, def, MEM_BASE)
    }

    /// Memory `index`'s length in bytes: memory 0's from the variable the function keeps,
    /// any other's (or a guarded memory 0's, which keeps none) loaded afresh.
    fn mem_len(&mut self, index: u32) -> Value {
        if let Some(Memory { vars: Some((_, len)), .. }) = self.memory {
            if index == 0 {
                return self.b.use_var(len);
            }
        }
        let def = self.mem_def(index);
        self.b.ins().load(types::I64, trusted(), def, MEM_LEN)
    }

    /// Whether memory `index` is 64-bit.
    fn memory64(&self, index: u32) -> bool {
        self.cx.module.memories[index as usize].memory64
    }

    /// `v` (an `i32` or `i64` address, index or length) as an `i64`.
    fn index64(&mut self, v: Value) -> Value {
        if self.b.func.dfg.value_type(v) == types::I32 {
            self.b.ins().uextend(types::I64, v)
        } else {
            v
        }
    }

    /// Pops an address and checks `size` bytes at it plus `memarg`'s offset against the memory
    /// `memarg` names; returns the native address, the static offset to add and the flags.
    ///
    /// On a guarded 32-bit memory with 64 KiB pages, an access whose offset plus size fits in
    /// the guard region is not checked: it lands in the memory's reservation and, past the
    /// length, faults; the handler (`signals`) makes that the same trap.
    pub(super) fn address(&mut self, memarg: &MemArg, size: u64) -> Result<Access, Unsupported> {
        self.address_in(memarg, size, true)
    }

    /// As [`Translator::address`]; the guard region is left to check bounds only if
    /// `use_guard` (an atomic access checks them first, so that an access both out of bounds
    /// and misaligned traps as out of bounds, as in the interpreter).
    pub(super) fn address_in(
        &mut self,
        memarg: &MemArg,
        size: u64,
        use_guard: bool,
    ) -> Result<Access, Unsupported> {
        let wasmparser::MemArgTarget::Memory(index) = memarg.target else {
            return Err(self.unsupported("an access to a GC array's payload"));
        };
        let base = self.mem_base(index);
        let addr = self.pop();
        let a = self.index64(addr);
        if use_guard && self.guarded(index) && memarg.offset + size <= super::signals::GUARD_BYTES {
            let ptr = self.b.ins().iadd(base, a);
            // The offset is below the guard size, so it fits in an `i32`.
            return Ok(Access { ptr, offset: memarg.offset as i32, flags: guarded_heap() });
        }
        let len = self.mem_len(index);
        let mut oob = self.out_of_bounds(index, a, memarg.offset, size, len);
        if self.shared(index) {
            // The length is this store's snapshot: past it, ask for the current length (which
            // only grows) before trapping.
            let slow = self.b.create_block();
            self.b.set_cold_block(slow);
            let checked = self.new_block_with(&[types::I8]);
            self.b.ins().brif(oob, slow, &[], checked, &[BlockArg::Value(oob)]);
            self.b.switch_to_block(slow);
            self.b.seal_block(slow);
            let now = self.shared_len(index);
            let still = self.out_of_bounds(index, a, memarg.offset, size, now);
            self.b.ins().jump(checked, &[BlockArg::Value(still)]);
            self.b.switch_to_block(checked);
            self.b.seal_block(checked);
            oob = self.b.block_params(checked)[0];
        }
        let at = self.b.ins().iadd(base, a);
        // Even speculatively, an out-of-bounds access reads address 0, not the host's memory.
        let null = self.b.ins().iconst(types::I64, 0);
        let at = self.b.ins().select_spectre_guard(oob, null, at);
        self.trap_if(oob, TrapCode::MemoryOutOfBounds);
        Ok(match i32::try_from(memarg.offset) {
            Ok(offset) => Access { ptr: at, offset, flags: heap() },
            Err(_) => Access {
                ptr: self.b.ins().iadd_imm_u(at, memarg.offset as i64),
                offset: 0,
                flags: heap(),
            },
        })
    }

    /// Whether `size` bytes at address `a` (an `i64`) plus `offset` reach past `len` bytes of
    /// memory `index`: an `i8` condition.
    fn out_of_bounds(&mut self, index: u32, a: Value, offset: u64, size: u64, len: Value) -> Value {
        if !self.memory64(index) {
            // A 32-bit memory: the offset is below 2^32, nothing overflows.
            let end = self.b.ins().iadd_imm_u(a, (offset + size) as i64);
            self.b.ins().icmp(IntCC::UnsignedGreaterThan, end, len)
        } else {
            match offset.checked_add(size) {
                // In bounds iff `len >= k` and `a <= len - k`.
                Some(k) => {
                    let k = self.b.ins().iconst(types::I64, k as i64);
                    let short = self.b.ins().icmp(IntCC::UnsignedLessThan, len, k);
                    let room = self.b.ins().isub(len, k);
                    let past = self.b.ins().icmp(IntCC::UnsignedGreaterThan, a, room);
                    self.b.ins().bor(short, past)
                }
                None => self.b.ins().iconst(types::I8, 1),
            }
        }
    }

    /// The current length in bytes of shared memory `index`, which also refreshes this
    /// store's snapshot (a runtime call: another thread may have grown it).
    fn shared_len(&mut self, index: u32) -> Value {
        let def = self.mem_def(index);
        self.libcall(
            super::atomics::shared_len as *const () as usize,
            &[types::I64],
            &[types::I64],
            &[def],
        )[0]
    }

    fn memory_size(&mut self, index: u32) {
        let log2 = self.cx.module.memories[index as usize].page_size_log2;
        let len = if self.shared(index) { self.shared_len(index) } else { self.mem_len(index) };
        let pages = self.b.ins().ushr_imm_u(len, log2 as i64);
        let v = if self.memory64(index) { pages } else { self.b.ins().ireduce(types::I32, pages) };
        self.push(v);
    }

    fn memory_grow(&mut self, index: u32) {
        let delta = self.pop();
        let delta = self.index64(delta);
        let def = self.mem_def(index);
        let old = self.libcall(
            super::libcalls::memory_grow as *const () as usize,
            &[types::I64, types::I64, types::I64],
            &[types::I64],
            &[self.vmctx, def, delta],
        )[0];
        self.check_trap();
        self.reload_memory();
        let v = if self.memory64(index) { old } else { self.b.ins().ireduce(types::I32, old) };
        self.push(v);
    }

    fn load(
        &mut self,
        memarg: &MemArg,
        ty: Type,
        size: u64,
        kind: LoadKind,
    ) -> Result<(), Unsupported> {
        let Access { ptr: p, offset: o, flags } = self.address(memarg, size)?;
        let ins = self.b.ins();
        let v = match kind {
            LoadKind::Full => ins.load(ty, flags, p, o),
            LoadKind::U8 => ins.uload8(ty, flags, p, o),
            LoadKind::S8 => ins.sload8(ty, flags, p, o),
            LoadKind::U16 => ins.uload16(ty, flags, p, o),
            LoadKind::S16 => ins.sload16(ty, flags, p, o),
            LoadKind::U32 => ins.uload32(flags, p, o),
            LoadKind::S32 => ins.sload32(flags, p, o),
        };
        self.push(v);
        Ok(())
    }

    fn store(&mut self, memarg: &MemArg, size: u64) -> Result<(), Unsupported> {
        let v = self.pop();
        let Access { ptr: p, offset: o, flags } = self.address(memarg, size)?;
        let vt = self.b.func.dfg.value_type(v);
        let ins = self.b.ins();
        match (size, vt.bytes()) {
            (1, _) => ins.istore8(flags, v, p, o),
            (2, _) => ins.istore16(flags, v, p, o),
            (4, 8) => ins.istore32(flags, v, p, o),
            _ => ins.store(flags, v, p, o),
        };
        Ok(())
    }

    fn global_cell(&mut self, index: u32) -> Value {
        self.b.ins().load(types::I64, readonly(), self.vmctx, self.cx.vm.global(index) as i32)
    }

    fn global_get(&mut self, index: u32) -> Result<(), Unsupported> {
        let g = self.cx.module.globals[index as usize].ty;
        let ty = val_type(g.content).map_err(|e| self.unsupported(format!("a global of {e}")))?;
        let cell = self.global_cell(index);
        let flags = if ty.is_vector() {
            vector_slot()
        } else if g.mutability == Mutability::Const {
            readonly()
        } else {
            trusted()
        };
        let v = self.b.ins().load(ty, flags, cell, GLOBAL_VALUE);
        self.push(v);
        Ok(())
    }

    fn global_set(&mut self, index: u32) -> Result<(), Unsupported> {
        let g = self.cx.module.globals[index as usize].ty;
        val_type(g.content).map_err(|e| self.unsupported(format!("a global of {e}")))?;
        let v = self.pop();
        let cell = self.global_cell(index);
        // The cell holds the value zero-extended to 128 bits (a scalar's upper half stays zero).
        store_slot(&mut self.b, v, cell, GLOBAL_VALUE);
        Ok(())
    }

    // ---- numeric shapes -------------------------------------------------------------------

    fn unary(&mut self, f: impl FnOnce(&mut FunctionBuilder<'_>, Value) -> Value) {
        let a = self.pop();
        let v = f(&mut self.b, a);
        self.push(v);
    }

    fn binary(&mut self, f: impl FnOnce(&mut FunctionBuilder<'_>, Value, Value) -> Value) {
        let y = self.pop();
        let x = self.pop();
        let v = f(&mut self.b, x, y);
        self.push(v);
    }

    fn icmp(&mut self, cc: IntCC) {
        self.binary(|b, x, y| {
            let c = b.ins().icmp(cc, x, y);
            b.ins().uextend(types::I32, c)
        })
    }

    fn fcmp(&mut self, cc: FloatCC) {
        self.binary(|b, x, y| {
            let c = b.ins().fcmp(cc, x, y);
            b.ins().uextend(types::I32, c)
        })
    }

    fn eqz(&mut self) {
        self.unary(|b, x| {
            let c = b.ins().icmp_imm_u(IntCC::Equal, x, 0);
            b.ins().uextend(types::I32, c)
        })
    }

    /// Integer division and remainder, trapping as wasm requires.
    fn divide(&mut self, ty: Type, op: Div) {
        let y = self.pop();
        let x = self.pop();
        let zero = self.b.ins().icmp_imm_u(IntCC::Equal, y, 0);
        self.trap_if(zero, TrapCode::IntegerDivideByZero);
        let v = match op {
            Div::S => {
                let min = if ty == types::I32 { i32::MIN as i64 } else { i64::MIN };
                let min = self.iconst(ty, min);
                let minus_one = self.iconst(ty, -1);
                let a = self.b.ins().icmp(IntCC::Equal, x, min);
                let b = self.b.ins().icmp(IntCC::Equal, y, minus_one);
                let overflow = self.b.ins().band(a, b);
                self.trap_if(overflow, TrapCode::IntegerOverflow);
                self.b.ins().sdiv(x, y)
            }
            Div::U => self.b.ins().udiv(x, y),
            // Cranelift's `srem` of MIN by -1 is 0, as wasm wants.
            Div::RemS => self.b.ins().srem(x, y),
            Div::RemU => self.b.ins().urem(x, y),
        };
        self.push(v);
    }

    /// A trapping float-to-int truncation.
    fn trunc(&mut self, to: Type, signed: bool) {
        let x = self.pop();
        let from = self.b.func.dfg.value_type(x);
        let nan = self.b.ins().fcmp(FloatCC::Unordered, x, x);
        self.trap_if(nan, TrapCode::InvalidConversionToInteger);
        let (lo, hi) = trunc_bounds(to, from, signed);
        let (lo, hi) = if from == types::F32 {
            (
                self.b.ins().f32const(Ieee32::with_float(lo as f32)),
                self.b.ins().f32const(Ieee32::with_float(hi as f32)),
            )
        } else {
            (
                self.b.ins().f64const(Ieee64::with_float(lo)),
                self.b.ins().f64const(Ieee64::with_float(hi)),
            )
        };
        let below = self.b.ins().fcmp(FloatCC::LessThanOrEqual, x, lo);
        let above = self.b.ins().fcmp(FloatCC::GreaterThanOrEqual, x, hi);
        let out = self.b.ins().bor(below, above);
        self.trap_if(out, TrapCode::IntegerOverflow);
        let v = if signed {
            self.b.ins().fcvt_to_sint_sat(to, x)
        } else {
            self.b.ins().fcvt_to_uint_sat(to, x)
        };
        self.push(v);
    }

    // ---- the big switch -------------------------------------------------------------------

    fn op(&mut self, op: Operator<'_>) -> Result<(), Unsupported> {
        use Operator as O;
        if self.reachable {
            if let Some((_, n)) = &mut self.checkpoint {
                *n += operator_cost(&op);
            }
        } else {
            match op {
                O::Block { .. }
                | O::Loop { .. }
                | O::If { .. }
                | O::TryTable { .. }
                | O::Try { .. } => {
                    self.dead_depth += 1;
                    return Ok(());
                }
                O::End | O::Delegate { .. } if self.dead_depth > 0 => {
                    self.dead_depth -= 1;
                    return Ok(());
                }
                O::End | O::Else | O::Catch { .. } | O::CatchAll | O::Delegate { .. }
                    if self.dead_depth == 0 => {}
                _ => return Ok(()),
            }
        }
        if !self.pending.is_empty() {
            self.settle_pending(&op);
        }
        if !self.loop_lazy.is_empty() {
            self.settle_loop_locals(&op);
        }
        if let O::LocalSet { local_index } | O::LocalTee { local_index } = op {
            if let Some(w) = self.written.get_mut(local_index as usize) {
                *w = (self.stretch, self.previous);
            }
        }
        let writes = nan::written_by(&op);
        let merges = nan::merges(&op);
        let (i32, i64, f32, f64) = (types::I32, types::I64, types::F32, types::F64);
        match op {
            O::Unreachable => {
                let trap = self.trap_block(trap_number(TrapCode::Unreachable));
                self.b.ins().jump(trap, &[]);
                self.reachable = false;
            }
            O::Nop => {}
            O::Block { blockty } => self.op_block(blockty)?,
            O::Loop { blockty } => {
                self.op_loop(blockty)?;
                self.open_lazy_loop();
            }
            O::If { blockty } => self.op_if(blockty)?,
            O::Else => self.op_else(),
            O::End => self.op_end(),
            O::Br { relative_depth } => self.br(relative_depth),
            O::BrIf { relative_depth } => self.br_if(relative_depth),
            O::BrTable { targets } => {
                let mut depths = Vec::with_capacity(targets.len() as usize);
                for d in targets.targets() {
                    depths.push(d.map_err(|e| format!("unreadable br_table: {e}"))?);
                }
                self.br_table(&depths, targets.default());
            }
            O::Return => self.br(self.ctrl.len() as u32 - 1),
            O::Call { function_index } => self.call(function_index)?,
            O::TryTable { try_table } => self.op_try_table(try_table)?,
            O::Try { blockty } => self.op_try(blockty)?,
            O::Catch { tag_index } => self.op_catch(Some(tag_index))?,
            O::CatchAll => self.op_catch(None)?,
            // The body's exceptions already go to the label's scope (see `op_try`).
            O::Delegate { .. } => self.op_end(),
            O::Rethrow { relative_depth } => self.op_rethrow(relative_depth),
            O::Throw { tag_index } => self.op_throw(tag_index)?,
            O::ThrowRef => self.op_throw_ref()?,
            O::CallIndirect { type_index, table_index } => {
                self.call_indirect(type_index, table_index)?
            }
            O::Drop => {
                self.pop();
            }
            O::Select | O::TypedSelect { .. } => {
                let c = self.pop();
                let b = self.pop();
                let a = self.pop();
                let v = self.b.ins().select(c, a, b);
                self.push(v);
            }
            O::LocalGet { local_index } => {
                let v = self.b.use_var(self.locals[local_index as usize]);
                self.push(v);
                if let Some(shape) = self.lazy[local_index as usize] {
                    self.pending.push((self.stack.len() - 1, v, shape));
                }
            }
            O::LocalSet { local_index } => {
                let v = self.pop();
                self.b.def_var(self.locals[local_index as usize], v);
            }
            O::LocalTee { local_index } => {
                let v = *self.stack.last().expect("validated: local.tee operand");
                self.b.def_var(self.locals[local_index as usize], v);
            }
            O::GlobalGet { global_index } => self.global_get(global_index)?,
            O::GlobalSet { global_index } => self.global_set(global_index)?,

            O::I32Load { memarg } => self.load(&memarg, i32, 4, LoadKind::Full)?,
            O::I64Load { memarg } => self.load(&memarg, i64, 8, LoadKind::Full)?,
            O::F32Load { memarg } => self.load(&memarg, f32, 4, LoadKind::Full)?,
            O::F64Load { memarg } => self.load(&memarg, f64, 8, LoadKind::Full)?,
            O::I32Load8S { memarg } => self.load(&memarg, i32, 1, LoadKind::S8)?,
            O::I32Load8U { memarg } => self.load(&memarg, i32, 1, LoadKind::U8)?,
            O::I32Load16S { memarg } => self.load(&memarg, i32, 2, LoadKind::S16)?,
            O::I32Load16U { memarg } => self.load(&memarg, i32, 2, LoadKind::U16)?,
            O::I64Load8S { memarg } => self.load(&memarg, i64, 1, LoadKind::S8)?,
            O::I64Load8U { memarg } => self.load(&memarg, i64, 1, LoadKind::U8)?,
            O::I64Load16S { memarg } => self.load(&memarg, i64, 2, LoadKind::S16)?,
            O::I64Load16U { memarg } => self.load(&memarg, i64, 2, LoadKind::U16)?,
            O::I64Load32S { memarg } => self.load(&memarg, i64, 4, LoadKind::S32)?,
            O::I64Load32U { memarg } => self.load(&memarg, i64, 4, LoadKind::U32)?,
            O::I32Store { memarg } | O::F32Store { memarg } => self.store(&memarg, 4)?,
            O::I64Store { memarg } | O::F64Store { memarg } => self.store(&memarg, 8)?,
            O::I32Store8 { memarg } | O::I64Store8 { memarg } => self.store(&memarg, 1)?,
            O::I32Store16 { memarg } | O::I64Store16 { memarg } => self.store(&memarg, 2)?,
            O::I64Store32 { memarg } => self.store(&memarg, 4)?,
            O::MemorySize { mem } => self.memory_size(mem),
            O::MemoryGrow { mem } => self.memory_grow(mem),

            O::I32Const { value } => {
                let v = self.iconst(i32, value as i64);
                self.push(v);
            }
            O::I64Const { value } => {
                let v = self.iconst(i64, value);
                self.push(v);
            }
            O::F32Const { value } => {
                let v = self.b.ins().f32const(Ieee32::with_bits(value.bits()));
                self.push(v);
            }
            O::F64Const { value } => {
                let v = self.b.ins().f64const(Ieee64::with_bits(value.bits()));
                self.push(v);
            }

            O::I32Eqz | O::I64Eqz => self.eqz(),
            O::I32Eq | O::I64Eq => self.icmp(IntCC::Equal),
            O::I32Ne | O::I64Ne => self.icmp(IntCC::NotEqual),
            O::I32LtS | O::I64LtS => self.icmp(IntCC::SignedLessThan),
            O::I32LtU | O::I64LtU => self.icmp(IntCC::UnsignedLessThan),
            O::I32GtS | O::I64GtS => self.icmp(IntCC::SignedGreaterThan),
            O::I32GtU | O::I64GtU => self.icmp(IntCC::UnsignedGreaterThan),
            O::I32LeS | O::I64LeS => self.icmp(IntCC::SignedLessThanOrEqual),
            O::I32LeU | O::I64LeU => self.icmp(IntCC::UnsignedLessThanOrEqual),
            O::I32GeS | O::I64GeS => self.icmp(IntCC::SignedGreaterThanOrEqual),
            O::I32GeU | O::I64GeU => self.icmp(IntCC::UnsignedGreaterThanOrEqual),
            O::I32Clz | O::I64Clz => self.unary(|b, x| b.ins().clz(x)),
            O::I32Ctz | O::I64Ctz => self.unary(|b, x| b.ins().ctz(x)),
            O::I32Popcnt | O::I64Popcnt => self.unary(|b, x| b.ins().popcnt(x)),
            O::I32Add | O::I64Add => self.binary(|b, x, y| b.ins().iadd(x, y)),
            O::I32Sub | O::I64Sub => self.binary(|b, x, y| b.ins().isub(x, y)),
            O::I32Mul | O::I64Mul => self.binary(|b, x, y| b.ins().imul(x, y)),
            O::I32DivS => self.divide(i32, Div::S),
            O::I64DivS => self.divide(i64, Div::S),
            O::I32DivU => self.divide(i32, Div::U),
            O::I64DivU => self.divide(i64, Div::U),
            O::I32RemS => self.divide(i32, Div::RemS),
            O::I64RemS => self.divide(i64, Div::RemS),
            O::I32RemU => self.divide(i32, Div::RemU),
            O::I64RemU => self.divide(i64, Div::RemU),
            O::I32And | O::I64And => self.binary(|b, x, y| b.ins().band(x, y)),
            O::I32Or | O::I64Or => self.binary(|b, x, y| b.ins().bor(x, y)),
            O::I32Xor | O::I64Xor => self.binary(|b, x, y| b.ins().bxor(x, y)),
            // Cranelift masks shift and rotate amounts to the type's width, as wasm does.
            O::I32Shl | O::I64Shl => self.binary(|b, x, y| b.ins().ishl(x, y)),
            O::I32ShrS | O::I64ShrS => self.binary(|b, x, y| b.ins().sshr(x, y)),
            O::I32ShrU | O::I64ShrU => self.binary(|b, x, y| b.ins().ushr(x, y)),
            O::I32Rotl | O::I64Rotl => self.binary(|b, x, y| b.ins().rotl(x, y)),
            O::I32Rotr | O::I64Rotr => self.binary(|b, x, y| b.ins().rotr(x, y)),

            O::F32Eq | O::F64Eq => self.fcmp(FloatCC::Equal),
            O::F32Ne | O::F64Ne => self.fcmp(FloatCC::NotEqual),
            O::F32Lt | O::F64Lt => self.fcmp(FloatCC::LessThan),
            O::F32Gt | O::F64Gt => self.fcmp(FloatCC::GreaterThan),
            O::F32Le | O::F64Le => self.fcmp(FloatCC::LessThanOrEqual),
            O::F32Ge | O::F64Ge => self.fcmp(FloatCC::GreaterThanOrEqual),
            O::F32Abs | O::F64Abs => self.unary(|b, x| b.ins().fabs(x)),
            O::F32Neg | O::F64Neg => self.unary(|b, x| b.ins().fneg(x)),
            // SSE4.1 rounding (required, see `compile::isa`) quiets NaNs like the interpreter.
            O::F32Ceil | O::F64Ceil => self.unary(|b, x| b.ins().ceil(x)),
            O::F32Floor | O::F64Floor => self.unary(|b, x| b.ins().floor(x)),
            O::F32Trunc | O::F64Trunc => self.unary(|b, x| b.ins().trunc(x)),
            O::F32Nearest | O::F64Nearest => self.unary(|b, x| b.ins().nearest(x)),
            O::F32Sqrt | O::F64Sqrt => self.unary(|b, x| b.ins().sqrt(x)),
            O::F32Add | O::F64Add => self.binary(|b, x, y| b.ins().fadd(x, y)),
            O::F32Sub | O::F64Sub => self.binary(|b, x, y| b.ins().fsub(x, y)),
            O::F32Mul | O::F64Mul => self.binary(|b, x, y| b.ins().fmul(x, y)),
            O::F32Div | O::F64Div => self.binary(|b, x, y| b.ins().fdiv(x, y)),
            O::F32Min | O::F64Min => self.binary(|b, x, y| b.ins().fmin(x, y)),
            O::F32Max | O::F64Max => self.binary(|b, x, y| b.ins().fmax(x, y)),
            O::F32Copysign | O::F64Copysign => self.binary(|b, x, y| b.ins().fcopysign(x, y)),

            O::I32WrapI64 => self.unary(|b, x| b.ins().ireduce(types::I32, x)),
            O::I64ExtendI32S => self.unary(|b, x| b.ins().sextend(types::I64, x)),
            O::I64ExtendI32U => self.unary(|b, x| b.ins().uextend(types::I64, x)),
            O::I32Extend8S => self.unary(|b, x| {
                let n = b.ins().ireduce(types::I8, x);
                b.ins().sextend(types::I32, n)
            }),
            O::I32Extend16S => self.unary(|b, x| {
                let n = b.ins().ireduce(types::I16, x);
                b.ins().sextend(types::I32, n)
            }),
            O::I64Extend8S => self.unary(|b, x| {
                let n = b.ins().ireduce(types::I8, x);
                b.ins().sextend(types::I64, n)
            }),
            O::I64Extend16S => self.unary(|b, x| {
                let n = b.ins().ireduce(types::I16, x);
                b.ins().sextend(types::I64, n)
            }),
            O::I64Extend32S => self.unary(|b, x| {
                let n = b.ins().ireduce(types::I32, x);
                b.ins().sextend(types::I64, n)
            }),
            O::I32TruncF32S | O::I32TruncF64S => self.trunc(i32, true),
            O::I32TruncF32U | O::I32TruncF64U => self.trunc(i32, false),
            O::I64TruncF32S | O::I64TruncF64S => self.trunc(i64, true),
            O::I64TruncF32U | O::I64TruncF64U => self.trunc(i64, false),
            O::I32TruncSatF32S | O::I32TruncSatF64S => {
                self.unary(|b, x| b.ins().fcvt_to_sint_sat(types::I32, x))
            }
            O::I32TruncSatF32U | O::I32TruncSatF64U => {
                self.unary(|b, x| b.ins().fcvt_to_uint_sat(types::I32, x))
            }
            O::I64TruncSatF32S | O::I64TruncSatF64S => {
                self.unary(|b, x| b.ins().fcvt_to_sint_sat(types::I64, x))
            }
            O::I64TruncSatF32U | O::I64TruncSatF64U => {
                self.unary(|b, x| b.ins().fcvt_to_uint_sat(types::I64, x))
            }
            O::F32ConvertI32S | O::F32ConvertI64S => {
                self.unary(|b, x| b.ins().fcvt_from_sint(types::F32, x))
            }
            O::F32ConvertI32U | O::F32ConvertI64U => {
                self.unary(|b, x| b.ins().fcvt_from_uint(types::F32, x))
            }
            O::F64ConvertI32S | O::F64ConvertI64S => {
                self.unary(|b, x| b.ins().fcvt_from_sint(types::F64, x))
            }
            O::F64ConvertI32U | O::F64ConvertI64U => {
                self.unary(|b, x| b.ins().fcvt_from_uint(types::F64, x))
            }
            O::F32DemoteF64 => self.unary(|b, x| b.ins().fdemote(types::F32, x)),
            O::F64PromoteF32 => self.unary(|b, x| b.ins().fpromote(types::F64, x)),
            O::I32ReinterpretF32 => {
                self.unary(|b, x| b.ins().bitcast(types::I32, MemFlagsData::new(), x))
            }
            O::I64ReinterpretF64 => {
                self.unary(|b, x| b.ins().bitcast(types::I64, MemFlagsData::new(), x))
            }
            O::F32ReinterpretI32 => {
                self.unary(|b, x| b.ins().bitcast(types::F32, MemFlagsData::new(), x))
            }
            O::F64ReinterpretI64 => {
                self.unary(|b, x| b.ins().bitcast(types::F64, MemFlagsData::new(), x))
            }

            O::MemoryFill { mem } => {
                let n = self.pop();
                let v = self.pop();
                let d = self.pop();
                let def = self.mem_def(mem);
                let (d, n) = (self.index64(d), self.index64(n));
                self.bulk(super::bulk::memory_fill as *const () as usize, &[def, d, v, n], n);
            }
            O::MemoryCopy { dst_mem, src_mem } => {
                let n = self.pop();
                let src = self.pop();
                let dst = self.pop();
                let to = self.mem_def(dst_mem);
                let from = self.mem_def(src_mem);
                let (d, s, n) = (self.index64(dst), self.index64(src), self.index64(n));
                self.bulk(super::bulk::memory_copy as *const () as usize, &[to, from, d, s, n], n);
            }
            O::MemoryInit { data_index, mem } => {
                let n = self.pop();
                let src = self.pop();
                let dst = self.pop();
                let def = self.mem_def(mem);
                let d = self.index64(dst);
                let seg = self.iconst(types::I32, data_index as i64);
                let args = [self.vmctx, def, seg, d, src, n];
                self.bulk(super::bulk::memory_init as *const () as usize, &args, n);
            }
            O::DataDrop { data_index } => {
                let seg = self.iconst(types::I32, data_index as i64);
                let args = [self.vmctx, seg];
                self.bulk_call(super::bulk::data_drop as *const () as usize, &args);
            }
            O::ElemDrop { elem_index } => {
                let seg = self.iconst(types::I32, elem_index as i64);
                let args = [self.vmctx, seg];
                self.bulk_call(super::bulk::elem_drop as *const () as usize, &args);
            }
            O::TableFill { table } => {
                self.table_elems(table)?;
                let n = self.pop();
                let v = self.pop();
                let i = self.pop();
                let (i, n) = (self.index64(i), self.index64(n));
                let t = self.iconst(types::I32, table as i64);
                let args = [self.vmctx, t, i, v, n];
                self.bulk(super::bulk::table_fill as *const () as usize, &args, n);
            }
            O::TableCopy { dst_table, src_table } => {
                self.table_elems(dst_table)?;
                let n = self.pop();
                let src = self.pop();
                let dst = self.pop();
                let (d, s, n) = (self.index64(dst), self.index64(src), self.index64(n));
                let dt = self.iconst(types::I32, dst_table as i64);
                let st = self.iconst(types::I32, src_table as i64);
                let args = [self.vmctx, dt, st, d, s, n];
                self.bulk(super::bulk::table_copy as *const () as usize, &args, n);
            }
            O::TableInit { elem_index, table } => {
                self.table_elems(table)?;
                let n = self.pop();
                let src = self.pop();
                let dst = self.pop();
                let d = self.index64(dst);
                let t = self.iconst(types::I32, table as i64);
                let seg = self.iconst(types::I32, elem_index as i64);
                let args = [self.vmctx, t, seg, d, src, n];
                self.bulk(super::bulk::table_init as *const () as usize, &args, n);
            }
            O::TableGrow { table } => self.table_grow(table)?,
            O::TableGet { table } => self.table_get(table)?,
            O::TableSet { table } => self.table_set(table)?,
            O::TableSize { table } => self.table_size(table),
            O::RefNull { .. } => {
                let v = self.b.ins().iconst(i64, 0);
                self.push(v);
            }
            O::RefIsNull => self.eqz(),
            O::RefAsNonNull => {
                let r = *self.stack.last().expect("validated: ref.as_non_null operand");
                let null = self.b.ins().icmp_imm_u(IntCC::Equal, r, 0);
                self.trap_if(null, TrapCode::NullReference);
            }
            O::BrOnNull { relative_depth } => {
                let r = self.pop();
                let (target, n) = self.label(relative_depth);
                let args = self.top_args(n);
                let next = self.b.create_block();
                let null = self.b.ins().icmp_imm_u(IntCC::Equal, r, 0);
                self.b.ins().brif(null, target, &args, next, &[]);
                self.b.switch_to_block(next);
                self.b.seal_block(next);
                self.push(r);
            }
            O::BrOnNonNull { relative_depth } => {
                // The reference is the label's last value when taken, dropped otherwise.
                let (target, n) = self.label(relative_depth);
                let args = self.top_args(n);
                let r = self.pop();
                let next = self.b.create_block();
                self.b.ins().brif(r, target, &args, next, &[]);
                self.b.switch_to_block(next);
                self.b.seal_block(next);
            }
            O::ReturnCall { function_index } => self.return_call(function_index)?,
            O::ReturnCallIndirect { type_index, table_index } => {
                self.return_call_indirect(type_index, table_index)?
            }
            O::ReturnCallRef { type_index } => self.return_call_ref(type_index)?,
            O::CallRef { type_index } => {
                let r = self.pop();
                let null = self.b.ins().icmp_imm_u(IntCC::Equal, r, 0);
                self.trap_if(null, TrapCode::NullFunctionReference);
                let ty = self.cx.module.func_type_of_type(type_index).clone();
                let sig = self.sig_ref(type_index)?;
                self.call_record(r, &ty, sig)?;
            }
            O::RefFunc { function_index } => {
                let at = self.cx.vm.funcref(function_index) as i32;
                let v = self.b.ins().load(i64, readonly(), self.vmctx, at);
                self.push(v);
            }

            // Wide arithmetic: 128-bit sums and differences of (low, high) pairs, and the full
            // 128-bit product of two 64-bit values, as (low, high).
            O::I64Add128 | O::I64Sub128 => {
                let [a_lo, a_hi, b_lo, b_hi]: [Value; 4] =
                    self.stack.split_off(self.stack.len() - 4).try_into().expect("four operands");
                let a = self.b.ins().iconcat(a_lo, a_hi);
                let b = self.b.ins().iconcat(b_lo, b_hi);
                let r = match op {
                    O::I64Add128 => self.b.ins().iadd(a, b),
                    _ => self.b.ins().isub(a, b),
                };
                let (lo, hi) = self.b.ins().isplit(r);
                self.push(lo);
                self.push(hi);
            }
            O::I64MulWideS | O::I64MulWideU => {
                let y = self.pop();
                let x = self.pop();
                let lo = self.b.ins().imul(x, y);
                let hi = match op {
                    O::I64MulWideS => self.b.ins().smulhi(x, y),
                    _ => self.b.ins().umulhi(x, y),
                };
                self.push(lo);
                self.push(hi);
            }
            O::AtomicFence { .. } => {
                self.b.ins().fence();
            }
            other if atomic_operator(&other).is_some() => {
                if let Some((memarg, op, width)) = atomic_operator(&other) {
                    let result = match other {
                        O::I64AtomicLoad { .. }
                        | O::I64AtomicLoad8U { .. }
                        | O::I64AtomicLoad16U { .. }
                        | O::I64AtomicLoad32U { .. } => i64,
                        _ => i32,
                    };
                    self.atomic(&memarg, op, width, result)?;
                }
            }
            other => self.simd(other)?,
        }
        if let nan::Written::Pending(shape) = writes {
            let top = self.stack.len() - 1;
            self.pending.push((top, self.stack[top], shape));
        }
        self.previous = writes;
        if merges {
            self.stretch += 1;
        }
        if self.handler_items > exceptions::MAX_HANDLER_ITEMS {
            return Err(format!(
                "more than {} exception handlers over its calls",
                exceptions::MAX_HANDLER_ITEMS
            ));
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum LoadKind {
    Full,
    U8,
    S8,
    U16,
    S16,
    U32,
    S32,
}

#[derive(Clone, Copy)]
enum Div {
    S,
    U,
    RemS,
    RemU,
}
