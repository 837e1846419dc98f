//! SIMD (`v128`) operators, relaxed SIMD included, to Cranelift IR, with the interpreter's
//! results bit for bit (`runtime::simd` defines them).
//!
//! A vector is an `i8x16` SSA value everywhere (locals, the operand stack, block parameters,
//! calls); each operator bitcasts its operands to the lane shape it works on and its result
//! back. Most operators are lowered inline. Float operations that compute a value return the
//! canonical NaN whenever the result is a NaN, as `runtime::simd` does, so no NaN payload
//! depends on how Cranelift lowers them (the canonicalisation waits until something would see
//! the NaN's bits: see `nan`); operators that only move bits (`abs`, `neg`, `pmin`,
//! splats, lanes) keep payloads. The relaxed dot products, which Cranelift has no operation
//! for with Ward's deterministic choice (signed x signed, saturating pairs), are runtime calls
//! to the shared semantics ([`simd_eval`]).
//!
//! Memory accesses are bounds-checked like scalar ones, over the bytes they touch (the lane's
//! for lane accesses, 8 for the extending loads), which is also the interpreter's check.

use super::{vector_slot, Translator, Unsupported};
use crate::runtime::simd::{
    self, SimdBinary, SimdExtract, SimdInstr, SimdLoad, SimdReplace, SimdShift, SimdSplat,
    SimdTernary, SimdTest, SimdUnary,
};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{
    types, ConstantData, Endianness, InstBuilder, MemFlagsData, Type, Value,
};
use wasmparser::{MemArg, Operator};

/// The operators native code evaluates by a runtime call ([`simd_eval`]), which names one by
/// its position here: a number, not an address, so that code stays valid in another process
/// (ahead-of-time artifacts).
const EVALUATED: [SimdInstr; 2] = [
    SimdInstr::Binary(SimdBinary::I16x8RelaxedDotI8x16I7x16S),
    SimdInstr::Ternary(SimdTernary::RelaxedDotI8x16I7x16AddS),
];

const V: Type = types::I8X16;
const I8X16: Type = types::I8X16;
const I16X8: Type = types::I16X8;
const I32X4: Type = types::I32X4;
const I64X2: Type = types::I64X2;
const F32X4: Type = types::F32X4;
const F64X2: Type = types::F64X2;

/// Byte offsets in the scratch area of a [`simd_eval`] call: three vector operands (the
/// result is written over the first), then a scalar operand.
const ARG_A: i32 = 0;
const ARG_B: i32 = 16;
const ARG_C: i32 = 32;
const ARG_X: i32 = 48;
const SCRATCH: u32 = 64;

/// Evaluates the SIMD operator `EVALUATED[op]` with the shared semantics over the scratch area
/// `args` (see `ARG_A`...): vectors as little-endian 16-byte values, a scalar as a 64-bit
/// value; the result (a vector, or a scalar zero-extended to 64 bits) is written at `ARG_A`.
///
/// # Safety
/// Called by native code only: `args` points to `SCRATCH` writable bytes. An `op` out of range
/// (which the translator never emits) leaves the area as it is.
pub(in crate::native) unsafe extern "C" fn simd_eval(op: u64, args: *mut u8) {
    let Some(&instr) = usize::try_from(op).ok().and_then(|op| EVALUATED.get(op)) else {
        return;
    };
    // SAFETY: the caller's contract; the area is only 8-byte aligned, so unaligned accesses.
    let (read, x) = unsafe {
        let read = |at: i32| args.add(at as usize).cast::<u128>().read_unaligned();
        (read, args.add(ARG_X as usize).cast::<u64>().read_unaligned())
    };
    let (a, b, c) = (read(ARG_A), read(ARG_B), read(ARG_C));
    let r: u128 = match instr {
        SimdInstr::Unary(op) => op.eval(a),
        SimdInstr::Binary(op) => op.eval(a, b),
        SimdInstr::Ternary(op) => op.eval(a, b, c),
        SimdInstr::Test(op) => u128::from(op.eval(a)),
        SimdInstr::Shift(op) => op.eval(a, x as u32),
        SimdInstr::Splat(op) => op.eval(x),
        SimdInstr::Extract(op, lane) => u128::from(op.eval(a, lane)),
        SimdInstr::Replace(op, lane) => op.eval(a, x, lane),
        SimdInstr::Shuffle(lanes) => simd::shuffle(a, b, &lanes),
        // Loads are always translated inline; a vector of zeros keeps this total.
        SimdInstr::Load(..) => 0,
    };
    // SAFETY: the caller's contract.
    unsafe { args.add(ARG_A as usize).cast::<u128>().write_unaligned(r) };
}

/// Flags of a bitcast between vector shapes (Cranelift wants the lane order stated).
fn lanes() -> MemFlagsData {
    MemFlagsData::new().with_endianness(Endianness::Little)
}

impl Translator<'_, '_> {
    /// Translates a SIMD operator; anything else is outside the native tier's subset.
    pub(super) fn simd(&mut self, op: Operator<'_>) -> Result<(), Unsupported> {
        use Operator as O;
        match op {
            O::V128Const { value } => {
                let v = super::v128_const(&mut self.b, u128::from_le_bytes(*value.bytes()));
                self.push(v);
                return Ok(());
            }
            O::V128Store { memarg } => {
                let v = self.pop();
                let super::Access { ptr: p, offset: o, flags } = self.address(&memarg, 16)?;
                self.b.ins().store(flags, v, p, o);
                return Ok(());
            }
            O::V128Load8Lane { memarg, lane } => return self.load_lane(&memarg, I8X16, lane),
            O::V128Load16Lane { memarg, lane } => return self.load_lane(&memarg, I16X8, lane),
            O::V128Load32Lane { memarg, lane } => return self.load_lane(&memarg, I32X4, lane),
            O::V128Load64Lane { memarg, lane } => return self.load_lane(&memarg, I64X2, lane),
            O::V128Store8Lane { memarg, lane } => return self.store_lane(&memarg, I8X16, lane),
            O::V128Store16Lane { memarg, lane } => return self.store_lane(&memarg, I16X8, lane),
            O::V128Store32Lane { memarg, lane } => return self.store_lane(&memarg, I32X4, lane),
            O::V128Store64Lane { memarg, lane } => return self.store_lane(&memarg, I64X2, lane),
            _ => {}
        }
        let Some(instr) = simd::classify(&op) else {
            return Err(self.unsupported(format!("`{op:?}`")));
        };
        match instr {
            SimdInstr::Load(kind, memarg) => self.simd_load(kind, &memarg),
            SimdInstr::Unary(u) => match self.unary_inline(u) {
                Some(()) => Ok(()),
                None => self.call_eval(instr, 1),
            },
            SimdInstr::Binary(o) => match self.binary_inline(o) {
                Some(()) => Ok(()),
                None => self.call_eval(instr, 2),
            },
            SimdInstr::Ternary(t) => match self.ternary_inline(t) {
                Some(()) => Ok(()),
                None => self.call_eval(instr, 3),
            },
            SimdInstr::Test(t) => {
                self.test(t);
                Ok(())
            }
            SimdInstr::Shift(s) => {
                self.shift(s);
                Ok(())
            }
            SimdInstr::Splat(s) => {
                self.splat(s);
                Ok(())
            }
            SimdInstr::Extract(e, lane) => {
                self.extract(e, lane);
                Ok(())
            }
            SimdInstr::Replace(r, lane) => {
                self.replace(r, lane);
                Ok(())
            }
            SimdInstr::Shuffle(mask) => {
                let y = self.pop();
                let x = self.pop();
                let imm = self.b.func.dfg.immediates.push(ConstantData::from(mask.as_slice()));
                let v = self.b.ins().shuffle(x, y, imm);
                self.push(v);
                Ok(())
            }
        }
    }

    // ---- helpers ----------------------------------------------------------------------------

    /// `v` reinterpreted as a vector of type `ty`.
    fn cast(&mut self, v: Value, ty: Type) -> Value {
        if self.b.func.dfg.value_type(v) == ty {
            v
        } else {
            self.b.ins().bitcast(ty, lanes(), v)
        }
    }

    /// Pops a vector as type `ty`.
    fn pop_as(&mut self, ty: Type) -> Value {
        let v = self.pop();
        self.cast(v, ty)
    }

    /// Pushes vector `v` (of any vector type) as the canonical `i8x16`.
    fn push_vec(&mut self, v: Value) {
        let v = self.cast(v, V);
        self.push(v);
    }

    /// Vector `v` (an `i8x16` value) with every NaN lane of lane shape `shape` (`F32X4` or
    /// `F64X2`) replaced by the canonical NaN: how a pending result is settled (see `nan`).
    fn canonical(&mut self, v: Value, shape: Type) -> Value {
        let (int, canon) = if shape == F32X4 {
            let c = 0x7fc0_0000u128;
            (I32X4, c | c << 32 | c << 64 | c << 96)
        } else {
            (I64X2, (0x7ff8_0000_0000_0000u128 << 64) | 0x7ff8_0000_0000_0000)
        };
        let x = self.cast(v, shape);
        let nan = self.b.ins().fcmp(FloatCC::Unordered, x, x);
        let canon = super::v128_const(&mut self.b, canon);
        let canon = self.cast(canon, int);
        let bits = self.cast(v, int);
        let c = self.b.ins().bitselect(nan, canon, bits);
        self.cast(c, V)
    }

    fn vunary(&mut self, ty: Type, f: impl FnOnce(&mut Self, Value) -> Value) {
        let x = self.pop_as(ty);
        let v = f(self, x);
        self.push_vec(v);
    }

    fn vbinary(&mut self, ty: Type, f: impl FnOnce(&mut Self, Value, Value) -> Value) {
        let y = self.pop_as(ty);
        let x = self.pop_as(ty);
        let v = f(self, x, y);
        self.push_vec(v);
    }

    /// Makes the operand stack's pending values ready for `op` (see `nan`): canonicalises
    /// those `op` reads and does not accept uncanonicalised; keeps the others pending.
    pub(super) fn settle_pending(&mut self, op: &Operator<'_>) {
        let accepts = super::nan::accepts(op, &self.lazy);
        let reach = accepts.as_ref().map_or_else(|| super::nan::reach(op), |a| a.arity);
        let below = self.stack.len().saturating_sub(reach);
        let keeps_operand = matches!(op, Operator::LocalTee { .. });
        for (slot, v, shape) in std::mem::take(&mut self.pending) {
            debug_assert_eq!(self.stack.get(slot), Some(&v), "a pending value moved");
            if slot < below {
                // Untouched by `op`.
                self.pending.push((slot, v, shape));
            } else if accepts.as_ref().is_some_and(|a| a.shape.is_none_or(|s| s == shape)) {
                if keeps_operand {
                    self.pending.push((slot, v, shape));
                }
            } else {
                self.stack[slot] = self.canonical(v, shape);
            }
        }
    }

    /// Makes the locals of the loop being entered lazy (see `nan`) where the value they enter
    /// with, set in the straight-line code just before the loop, is canonical with their shape.
    pub(super) fn open_lazy_loop(&mut self) {
        for (local, shape) in std::mem::take(&mut self.loop_candidates) {
            let at = local as usize;
            let fits = match self.written[at] {
                (stretch, _) if stretch != self.stretch => false,
                (_, super::nan::Written::Canonical) => true,
                (_, super::nan::Written::Pending(s)) => s == shape,
                _ => false,
            };
            if fits && self.lazy[at].is_none() {
                self.lazy[at] = Some(shape);
                self.loop_lazy.push((local, shape));
            }
        }
    }

    /// Canonicalises the open loop's lazy locals where `op` could let them be seen outside the
    /// loop; at its `end`, they stop being lazy.
    pub(super) fn settle_loop_locals(&mut self, op: &Operator<'_>) {
        use Operator as O;
        let leaves = match op {
            O::Br { relative_depth } | O::BrIf { relative_depth } => *relative_depth != 0,
            O::BrTable { .. }
            | O::BrOnNull { .. }
            | O::BrOnNonNull { .. }
            | O::BrOnCast { .. }
            | O::BrOnCastFail { .. }
            | O::End => true,
            // A handler in this function reads the locals.
            O::Call { .. }
            | O::CallIndirect { .. }
            | O::CallRef { .. }
            | O::Throw { .. }
            | O::ThrowRef
            | O::Rethrow { .. } => !self.open_scopes.is_empty(),
            _ => false,
        };
        if leaves && self.reachable {
            for i in 0..self.loop_lazy.len() {
                let (local, shape) = self.loop_lazy[i];
                let var = self.locals[local as usize];
                let v = self.b.use_var(var);
                let c = self.canonical(v, shape);
                self.b.def_var(var, c);
            }
        }
        if let O::End = op {
            for (local, _) in std::mem::take(&mut self.loop_lazy) {
                self.lazy[local as usize] = None;
            }
        }
    }

    fn icmp_lanes(&mut self, ty: Type, cc: IntCC) {
        self.vbinary(ty, |t, x, y| t.b.ins().icmp(cc, x, y));
    }

    fn fcmp_lanes(&mut self, ty: Type, cc: FloatCC) {
        self.vbinary(ty, |t, x, y| t.b.ins().fcmp(cc, x, y));
    }

    /// Calls [`simd_eval`] for `instr` with the top `vectors` operands; pushes its (vector)
    /// result.
    fn call_eval(&mut self, instr: SimdInstr, vectors: usize) -> Result<(), Unsupported> {
        let operands = self.stack.split_off(self.stack.len() - vectors);
        let area = super::slots(&mut self.b, SCRATCH / 8);
        let args = self.b.ins().stack_addr(types::I64, area, 0);
        for (v, at) in operands.iter().zip([ARG_A, ARG_B, ARG_C]) {
            self.b.ins().store(vector_slot(), *v, args, at);
        }
        let Some(op) = EVALUATED.iter().position(|e| *e == instr) else {
            return Err(self.unsupported(format!("no runtime evaluation of {instr:?}")));
        };
        let op = self.b.ins().iconst(types::I64, op as i64);
        self.libcall(simd_eval as *const () as usize, &[types::I64, types::I64], &[], &[op, args]);
        let v = super::load_slot(&mut self.b, V, args, ARG_A);
        self.push(v);
        Ok(())
    }

    // ---- memory -----------------------------------------------------------------------------

    fn simd_load(&mut self, kind: SimdLoad, memarg: &MemArg) -> Result<(), Unsupported> {
        use SimdLoad as L;
        let super::Access { ptr: p, offset: o, flags } =
            self.address(memarg, u64::from(kind.width()))?;
        let ins = self.b.ins();
        let v = match kind {
            L::V128 => ins.load(V, flags, p, o),
            L::I8x8S | L::I8x8U | L::I16x4S | L::I16x4U | L::I32x2S | L::I32x2U => {
                let bits = ins.load(types::I64, flags, p, o);
                let low = self.b.ins().scalar_to_vector(I64X2, bits);
                let (narrow, signed) = match kind {
                    L::I8x8S => (I8X16, true),
                    L::I8x8U => (I8X16, false),
                    L::I16x4S => (I16X8, true),
                    L::I16x4U => (I16X8, false),
                    L::I32x2S => (I32X4, true),
                    _ => (I32X4, false),
                };
                let low = self.cast(low, narrow);
                if signed {
                    self.b.ins().swiden_low(low)
                } else {
                    self.b.ins().uwiden_low(low)
                }
            }
            L::Splat8 => {
                let x = ins.load(types::I8, flags, p, o);
                self.b.ins().splat(I8X16, x)
            }
            L::Splat16 => {
                let x = ins.load(types::I16, flags, p, o);
                self.b.ins().splat(I16X8, x)
            }
            L::Splat32 => {
                let x = ins.load(types::I32, flags, p, o);
                self.b.ins().splat(I32X4, x)
            }
            L::Splat64 => {
                let x = ins.load(types::I64, flags, p, o);
                self.b.ins().splat(I64X2, x)
            }
            L::Zero32 => {
                let x = ins.load(types::I32, flags, p, o);
                self.b.ins().scalar_to_vector(I32X4, x)
            }
            L::Zero64 => {
                let x = ins.load(types::I64, flags, p, o);
                self.b.ins().scalar_to_vector(I64X2, x)
            }
        };
        self.push_vec(v);
        Ok(())
    }

    fn load_lane(&mut self, memarg: &MemArg, ty: Type, lane: u8) -> Result<(), Unsupported> {
        let vec = self.pop_as(ty);
        let super::Access { ptr: p, offset: o, flags } =
            self.address(memarg, u64::from(ty.lane_type().bytes()))?;
        let x = self.b.ins().load(ty.lane_type(), flags, p, o);
        let v = self.b.ins().insertlane(vec, x, lane % ty.lane_count() as u8);
        self.push_vec(v);
        Ok(())
    }

    fn store_lane(&mut self, memarg: &MemArg, ty: Type, lane: u8) -> Result<(), Unsupported> {
        let vec = self.pop_as(ty);
        let super::Access { ptr: p, offset: o, flags } =
            self.address(memarg, u64::from(ty.lane_type().bytes()))?;
        let x = self.b.ins().extractlane(vec, lane % ty.lane_count() as u8);
        self.b.ins().store(flags, x, p, o);
        Ok(())
    }

    // ---- lanes ------------------------------------------------------------------------------

    /// The vector type a splat, extract or replace of this shape works on, and whether its
    /// scalar is an `i32` narrowed to the lane.
    fn lane_shape(i8: bool, i16: bool, i32: bool, i64: bool, f32: bool) -> (Type, bool) {
        match (i8, i16, i32, i64, f32) {
            (true, ..) => (I8X16, true),
            (_, true, ..) => (I16X8, true),
            (_, _, true, ..) => (I32X4, false),
            (_, _, _, true, _) => (I64X2, false),
            (.., true) => (F32X4, false),
            _ => (F64X2, false),
        }
    }

    fn splat(&mut self, s: SimdSplat) {
        use SimdSplat as S;
        let (ty, narrow) = Self::lane_shape(
            s == S::I8x16,
            s == S::I16x8,
            s == S::I32x4,
            s == S::I64x2,
            s == S::F32x4,
        );
        let mut x = self.pop();
        if narrow {
            x = self.b.ins().ireduce(ty.lane_type(), x);
        }
        let v = self.b.ins().splat(ty, x);
        self.push_vec(v);
    }

    fn extract(&mut self, e: SimdExtract, lane: u8) {
        use SimdExtract as E;
        let (ty, narrow) = Self::lane_shape(
            matches!(e, E::I8x16S | E::I8x16U),
            matches!(e, E::I16x8S | E::I16x8U),
            e == E::I32x4,
            e == E::I64x2,
            e == E::F32x4,
        );
        let vec = self.pop_as(ty);
        let mut x = self.b.ins().extractlane(vec, lane % ty.lane_count() as u8);
        if narrow {
            x = match e {
                E::I8x16S | E::I16x8S => self.b.ins().sextend(types::I32, x),
                _ => self.b.ins().uextend(types::I32, x),
            };
        }
        self.push(x);
    }

    fn replace(&mut self, r: SimdReplace, lane: u8) {
        use SimdReplace as R;
        let (ty, narrow) = Self::lane_shape(
            r == R::I8x16,
            r == R::I16x8,
            r == R::I32x4,
            r == R::I64x2,
            r == R::F32x4,
        );
        let mut x = self.pop();
        let vec = self.pop_as(ty);
        if narrow {
            x = self.b.ins().ireduce(ty.lane_type(), x);
        }
        let v = self.b.ins().insertlane(vec, x, lane % ty.lane_count() as u8);
        self.push_vec(v);
    }

    // ---- tests and shifts -------------------------------------------------------------------

    fn test(&mut self, t: SimdTest) {
        use SimdTest as T;
        let x = self.pop();
        let r = match t {
            T::AnyTrue => {
                let b = self.b.ins().vany_true(x);
                self.b.ins().uextend(types::I32, b)
            }
            T::I8x16AllTrue | T::I16x8AllTrue | T::I32x4AllTrue | T::I64x2AllTrue => {
                let ty = match t {
                    T::I8x16AllTrue => I8X16,
                    T::I16x8AllTrue => I16X8,
                    T::I32x4AllTrue => I32X4,
                    _ => I64X2,
                };
                let x = self.cast(x, ty);
                let b = self.b.ins().vall_true(x);
                self.b.ins().uextend(types::I32, b)
            }
            T::I8x16Bitmask | T::I16x8Bitmask | T::I32x4Bitmask | T::I64x2Bitmask => {
                let ty = match t {
                    T::I8x16Bitmask => I8X16,
                    T::I16x8Bitmask => I16X8,
                    T::I32x4Bitmask => I32X4,
                    _ => I64X2,
                };
                let x = self.cast(x, ty);
                self.b.ins().vhigh_bits(types::I32, x)
            }
        };
        self.push(r);
    }

    fn shift(&mut self, s: SimdShift) {
        use SimdShift as S;
        let ty = match s {
            S::I8x16Shl | S::I8x16ShrS | S::I8x16ShrU => I8X16,
            S::I16x8Shl | S::I16x8ShrS | S::I16x8ShrU => I16X8,
            S::I32x4Shl | S::I32x4ShrS | S::I32x4ShrU => I32X4,
            _ => I64X2,
        };
        let n = self.pop();
        let x = self.pop_as(ty);
        // Cranelift takes vector shift amounts modulo the lane width, as wasm does.
        let v = match s {
            S::I8x16Shl | S::I16x8Shl | S::I32x4Shl | S::I64x2Shl => self.b.ins().ishl(x, n),
            S::I8x16ShrS | S::I16x8ShrS | S::I32x4ShrS | S::I64x2ShrS => self.b.ins().sshr(x, n),
            _ => self.b.ins().ushr(x, n),
        };
        self.push_vec(v);
    }

    // ---- arithmetic -------------------------------------------------------------------------

    /// Lowers unary operator `u` inline, or returns `None` to have it evaluated by a runtime
    /// call.
    fn unary_inline(&mut self, u: SimdUnary) -> Option<()> {
        use SimdUnary as U;
        match u {
            U::V128Not => self.vunary(V, |t, x| t.b.ins().bnot(x)),
            U::I8x16Abs => self.vunary(I8X16, |t, x| t.b.ins().iabs(x)),
            U::I16x8Abs => self.vunary(I16X8, |t, x| t.b.ins().iabs(x)),
            U::I32x4Abs => self.vunary(I32X4, |t, x| t.b.ins().iabs(x)),
            U::I64x2Abs => self.vunary(I64X2, |t, x| t.b.ins().iabs(x)),
            U::I8x16Neg => self.vunary(I8X16, |t, x| t.b.ins().ineg(x)),
            U::I16x8Neg => self.vunary(I16X8, |t, x| t.b.ins().ineg(x)),
            U::I32x4Neg => self.vunary(I32X4, |t, x| t.b.ins().ineg(x)),
            U::I64x2Neg => self.vunary(I64X2, |t, x| t.b.ins().ineg(x)),
            U::I8x16Popcnt => self.vunary(I8X16, |t, x| t.b.ins().popcnt(x)),
            U::F32x4Abs => self.vunary(F32X4, |t, x| t.b.ins().fabs(x)),
            U::F64x2Abs => self.vunary(F64X2, |t, x| t.b.ins().fabs(x)),
            U::F32x4Neg => self.vunary(F32X4, |t, x| t.b.ins().fneg(x)),
            U::F64x2Neg => self.vunary(F64X2, |t, x| t.b.ins().fneg(x)),
            U::F32x4Sqrt => self.vunary(F32X4, |t, x| t.b.ins().sqrt(x)),
            U::F64x2Sqrt => self.vunary(F64X2, |t, x| t.b.ins().sqrt(x)),
            U::F32x4Ceil => self.vunary(F32X4, |t, x| t.b.ins().ceil(x)),
            U::F64x2Ceil => self.vunary(F64X2, |t, x| t.b.ins().ceil(x)),
            U::F32x4Floor => self.vunary(F32X4, |t, x| t.b.ins().floor(x)),
            U::F64x2Floor => self.vunary(F64X2, |t, x| t.b.ins().floor(x)),
            U::F32x4Trunc => self.vunary(F32X4, |t, x| t.b.ins().trunc(x)),
            U::F64x2Trunc => self.vunary(F64X2, |t, x| t.b.ins().trunc(x)),
            U::F32x4Nearest => self.vunary(F32X4, |t, x| t.b.ins().nearest(x)),
            U::F64x2Nearest => self.vunary(F64X2, |t, x| t.b.ins().nearest(x)),
            U::I16x8ExtAddPairwiseI8x16S => self.pairwise(I8X16, true),
            U::I16x8ExtAddPairwiseI8x16U => self.pairwise(I8X16, false),
            U::I32x4ExtAddPairwiseI16x8S => self.pairwise(I16X8, true),
            U::I32x4ExtAddPairwiseI16x8U => self.pairwise(I16X8, false),
            U::I16x8ExtendLowI8x16S => self.vunary(I8X16, |t, x| t.b.ins().swiden_low(x)),
            U::I16x8ExtendHighI8x16S => self.vunary(I8X16, |t, x| t.b.ins().swiden_high(x)),
            U::I16x8ExtendLowI8x16U => self.vunary(I8X16, |t, x| t.b.ins().uwiden_low(x)),
            U::I16x8ExtendHighI8x16U => self.vunary(I8X16, |t, x| t.b.ins().uwiden_high(x)),
            U::I32x4ExtendLowI16x8S => self.vunary(I16X8, |t, x| t.b.ins().swiden_low(x)),
            U::I32x4ExtendHighI16x8S => self.vunary(I16X8, |t, x| t.b.ins().swiden_high(x)),
            U::I32x4ExtendLowI16x8U => self.vunary(I16X8, |t, x| t.b.ins().uwiden_low(x)),
            U::I32x4ExtendHighI16x8U => self.vunary(I16X8, |t, x| t.b.ins().uwiden_high(x)),
            U::I64x2ExtendLowI32x4S => self.vunary(I32X4, |t, x| t.b.ins().swiden_low(x)),
            U::I64x2ExtendHighI32x4S => self.vunary(I32X4, |t, x| t.b.ins().swiden_high(x)),
            U::I64x2ExtendLowI32x4U => self.vunary(I32X4, |t, x| t.b.ins().uwiden_low(x)),
            U::I64x2ExtendHighI32x4U => self.vunary(I32X4, |t, x| t.b.ins().uwiden_high(x)),
            U::I32x4TruncSatF32x4S | U::I32x4RelaxedTruncF32x4S => {
                self.vunary(F32X4, |t, x| t.b.ins().fcvt_to_sint_sat(I32X4, x))
            }
            U::I32x4TruncSatF32x4U | U::I32x4RelaxedTruncF32x4U => {
                self.vunary(F32X4, |t, x| t.b.ins().fcvt_to_uint_sat(I32X4, x))
            }
            U::F32x4ConvertI32x4S => self.vunary(I32X4, |t, x| t.b.ins().fcvt_from_sint(F32X4, x)),
            U::F32x4ConvertI32x4U => self.vunary(I32X4, |t, x| t.b.ins().fcvt_from_uint(F32X4, x)),
            U::F64x2ConvertLowI32x4S => self.vunary(I32X4, |t, x| {
                let wide = t.b.ins().swiden_low(x);
                t.b.ins().fcvt_from_sint(F64X2, wide)
            }),
            U::F64x2ConvertLowI32x4U => self.vunary(I32X4, |t, x| {
                let wide = t.b.ins().uwiden_low(x);
                t.b.ins().fcvt_from_uint(F64X2, wide)
            }),
            U::F32x4DemoteF64x2Zero => self.vunary(F64X2, |t, x| t.b.ins().fvdemote(x)),
            U::F64x2PromoteLowF32x4 => self.vunary(F32X4, |t, x| t.b.ins().fvpromote_low(x)),
            // Saturating to 64 bits, then narrowing with zeros: the shape Cranelift lowers as
            // one operation (the zero vector must be a constant of type `i64x2`).
            U::I32x4TruncSatF64x2SZero | U::I32x4RelaxedTruncF64x2SZero => {
                self.vunary(F64X2, |t, x| {
                    let wide = t.b.ins().fcvt_to_sint_sat(I64X2, x);
                    let zero = t.zeros(I64X2);
                    t.b.ins().snarrow(wide, zero)
                })
            }
            U::I32x4TruncSatF64x2UZero | U::I32x4RelaxedTruncF64x2UZero => {
                self.vunary(F64X2, |t, x| {
                    let wide = t.b.ins().fcvt_to_uint_sat(I64X2, x);
                    let zero = t.zeros(I64X2);
                    t.b.ins().uunarrow(wide, zero)
                })
            }
        }
        Some(())
    }

    /// A vector of zeros of type `ty`, as a constant of that type.
    fn zeros(&mut self, ty: Type) -> Value {
        let handle = self.b.func.dfg.constants.insert(ConstantData::from([0u8; 16].as_slice()));
        self.b.ins().vconst(ty, handle)
    }

    /// `extadd_pairwise` from lanes of type `ty`.
    fn pairwise(&mut self, ty: Type, signed: bool) {
        self.vunary(ty, |t, x| {
            let (lo, hi) = if signed {
                (t.b.ins().swiden_low(x), t.b.ins().swiden_high(x))
            } else {
                (t.b.ins().uwiden_low(x), t.b.ins().uwiden_high(x))
            };
            t.b.ins().iadd_pairwise(lo, hi)
        });
    }

    /// `extmul_low/high` of lanes of type `ty`.
    fn extmul(&mut self, ty: Type, high: bool, signed: bool) {
        self.vbinary(ty, |t, x, y| {
            let ins = |t: &mut Self, v: Value| match (high, signed) {
                (false, true) => t.b.ins().swiden_low(v),
                (true, true) => t.b.ins().swiden_high(v),
                (false, false) => t.b.ins().uwiden_low(v),
                (true, false) => t.b.ins().uwiden_high(v),
            };
            let (x, y) = (ins(t, x), ins(t, y));
            t.b.ins().imul(x, y)
        });
    }

    /// Lowers binary operator `o` inline, or returns `None` to have it evaluated by a runtime
    /// call.
    fn binary_inline(&mut self, o: SimdBinary) -> Option<()> {
        use FloatCC as F;
        use IntCC as I;
        use SimdBinary as B;
        match o {
            B::V128And => self.vbinary(V, |t, x, y| t.b.ins().band(x, y)),
            B::V128AndNot => self.vbinary(V, |t, x, y| t.b.ins().band_not(x, y)),
            B::V128Or => self.vbinary(V, |t, x, y| t.b.ins().bor(x, y)),
            B::V128Xor => self.vbinary(V, |t, x, y| t.b.ins().bxor(x, y)),

            B::I8x16Eq => self.icmp_lanes(I8X16, I::Equal),
            B::I8x16Ne => self.icmp_lanes(I8X16, I::NotEqual),
            B::I8x16LtS => self.icmp_lanes(I8X16, I::SignedLessThan),
            B::I8x16LtU => self.icmp_lanes(I8X16, I::UnsignedLessThan),
            B::I8x16GtS => self.icmp_lanes(I8X16, I::SignedGreaterThan),
            B::I8x16GtU => self.icmp_lanes(I8X16, I::UnsignedGreaterThan),
            B::I8x16LeS => self.icmp_lanes(I8X16, I::SignedLessThanOrEqual),
            B::I8x16LeU => self.icmp_lanes(I8X16, I::UnsignedLessThanOrEqual),
            B::I8x16GeS => self.icmp_lanes(I8X16, I::SignedGreaterThanOrEqual),
            B::I8x16GeU => self.icmp_lanes(I8X16, I::UnsignedGreaterThanOrEqual),
            B::I16x8Eq => self.icmp_lanes(I16X8, I::Equal),
            B::I16x8Ne => self.icmp_lanes(I16X8, I::NotEqual),
            B::I16x8LtS => self.icmp_lanes(I16X8, I::SignedLessThan),
            B::I16x8LtU => self.icmp_lanes(I16X8, I::UnsignedLessThan),
            B::I16x8GtS => self.icmp_lanes(I16X8, I::SignedGreaterThan),
            B::I16x8GtU => self.icmp_lanes(I16X8, I::UnsignedGreaterThan),
            B::I16x8LeS => self.icmp_lanes(I16X8, I::SignedLessThanOrEqual),
            B::I16x8LeU => self.icmp_lanes(I16X8, I::UnsignedLessThanOrEqual),
            B::I16x8GeS => self.icmp_lanes(I16X8, I::SignedGreaterThanOrEqual),
            B::I16x8GeU => self.icmp_lanes(I16X8, I::UnsignedGreaterThanOrEqual),
            B::I32x4Eq => self.icmp_lanes(I32X4, I::Equal),
            B::I32x4Ne => self.icmp_lanes(I32X4, I::NotEqual),
            B::I32x4LtS => self.icmp_lanes(I32X4, I::SignedLessThan),
            B::I32x4LtU => self.icmp_lanes(I32X4, I::UnsignedLessThan),
            B::I32x4GtS => self.icmp_lanes(I32X4, I::SignedGreaterThan),
            B::I32x4GtU => self.icmp_lanes(I32X4, I::UnsignedGreaterThan),
            B::I32x4LeS => self.icmp_lanes(I32X4, I::SignedLessThanOrEqual),
            B::I32x4LeU => self.icmp_lanes(I32X4, I::UnsignedLessThanOrEqual),
            B::I32x4GeS => self.icmp_lanes(I32X4, I::SignedGreaterThanOrEqual),
            B::I32x4GeU => self.icmp_lanes(I32X4, I::UnsignedGreaterThanOrEqual),
            B::I64x2Eq => self.icmp_lanes(I64X2, I::Equal),
            B::I64x2Ne => self.icmp_lanes(I64X2, I::NotEqual),
            B::I64x2LtS => self.icmp_lanes(I64X2, I::SignedLessThan),
            B::I64x2GtS => self.icmp_lanes(I64X2, I::SignedGreaterThan),
            B::I64x2LeS => self.icmp_lanes(I64X2, I::SignedLessThanOrEqual),
            B::I64x2GeS => self.icmp_lanes(I64X2, I::SignedGreaterThanOrEqual),
            B::F32x4Eq => self.fcmp_lanes(F32X4, F::Equal),
            B::F32x4Ne => self.fcmp_lanes(F32X4, F::NotEqual),
            B::F32x4Lt => self.fcmp_lanes(F32X4, F::LessThan),
            B::F32x4Gt => self.fcmp_lanes(F32X4, F::GreaterThan),
            B::F32x4Le => self.fcmp_lanes(F32X4, F::LessThanOrEqual),
            B::F32x4Ge => self.fcmp_lanes(F32X4, F::GreaterThanOrEqual),
            B::F64x2Eq => self.fcmp_lanes(F64X2, F::Equal),
            B::F64x2Ne => self.fcmp_lanes(F64X2, F::NotEqual),
            B::F64x2Lt => self.fcmp_lanes(F64X2, F::LessThan),
            B::F64x2Gt => self.fcmp_lanes(F64X2, F::GreaterThan),
            B::F64x2Le => self.fcmp_lanes(F64X2, F::LessThanOrEqual),
            B::F64x2Ge => self.fcmp_lanes(F64X2, F::GreaterThanOrEqual),

            B::I8x16NarrowI16x8S => self.vbinary(I16X8, |t, x, y| t.b.ins().snarrow(x, y)),
            B::I8x16NarrowI16x8U => self.vbinary(I16X8, |t, x, y| t.b.ins().unarrow(x, y)),
            B::I16x8NarrowI32x4S => self.vbinary(I32X4, |t, x, y| t.b.ins().snarrow(x, y)),
            B::I16x8NarrowI32x4U => self.vbinary(I32X4, |t, x, y| t.b.ins().unarrow(x, y)),

            B::I8x16Add => self.vbinary(I8X16, |t, x, y| t.b.ins().iadd(x, y)),
            B::I16x8Add => self.vbinary(I16X8, |t, x, y| t.b.ins().iadd(x, y)),
            B::I32x4Add => self.vbinary(I32X4, |t, x, y| t.b.ins().iadd(x, y)),
            B::I64x2Add => self.vbinary(I64X2, |t, x, y| t.b.ins().iadd(x, y)),
            B::I8x16Sub => self.vbinary(I8X16, |t, x, y| t.b.ins().isub(x, y)),
            B::I16x8Sub => self.vbinary(I16X8, |t, x, y| t.b.ins().isub(x, y)),
            B::I32x4Sub => self.vbinary(I32X4, |t, x, y| t.b.ins().isub(x, y)),
            B::I64x2Sub => self.vbinary(I64X2, |t, x, y| t.b.ins().isub(x, y)),
            B::I16x8Mul => self.vbinary(I16X8, |t, x, y| t.b.ins().imul(x, y)),
            B::I32x4Mul => self.vbinary(I32X4, |t, x, y| t.b.ins().imul(x, y)),
            B::I64x2Mul => self.vbinary(I64X2, |t, x, y| t.b.ins().imul(x, y)),
            B::I8x16AddSatS => self.vbinary(I8X16, |t, x, y| t.b.ins().sadd_sat(x, y)),
            B::I8x16AddSatU => self.vbinary(I8X16, |t, x, y| t.b.ins().uadd_sat(x, y)),
            B::I16x8AddSatS => self.vbinary(I16X8, |t, x, y| t.b.ins().sadd_sat(x, y)),
            B::I16x8AddSatU => self.vbinary(I16X8, |t, x, y| t.b.ins().uadd_sat(x, y)),
            B::I8x16SubSatS => self.vbinary(I8X16, |t, x, y| t.b.ins().ssub_sat(x, y)),
            B::I8x16SubSatU => self.vbinary(I8X16, |t, x, y| t.b.ins().usub_sat(x, y)),
            B::I16x8SubSatS => self.vbinary(I16X8, |t, x, y| t.b.ins().ssub_sat(x, y)),
            B::I16x8SubSatU => self.vbinary(I16X8, |t, x, y| t.b.ins().usub_sat(x, y)),
            B::I8x16MinS => self.vbinary(I8X16, |t, x, y| t.b.ins().smin(x, y)),
            B::I8x16MinU => self.vbinary(I8X16, |t, x, y| t.b.ins().umin(x, y)),
            B::I8x16MaxS => self.vbinary(I8X16, |t, x, y| t.b.ins().smax(x, y)),
            B::I8x16MaxU => self.vbinary(I8X16, |t, x, y| t.b.ins().umax(x, y)),
            B::I16x8MinS => self.vbinary(I16X8, |t, x, y| t.b.ins().smin(x, y)),
            B::I16x8MinU => self.vbinary(I16X8, |t, x, y| t.b.ins().umin(x, y)),
            B::I16x8MaxS => self.vbinary(I16X8, |t, x, y| t.b.ins().smax(x, y)),
            B::I16x8MaxU => self.vbinary(I16X8, |t, x, y| t.b.ins().umax(x, y)),
            B::I32x4MinS => self.vbinary(I32X4, |t, x, y| t.b.ins().smin(x, y)),
            B::I32x4MinU => self.vbinary(I32X4, |t, x, y| t.b.ins().umin(x, y)),
            B::I32x4MaxS => self.vbinary(I32X4, |t, x, y| t.b.ins().smax(x, y)),
            B::I32x4MaxU => self.vbinary(I32X4, |t, x, y| t.b.ins().umax(x, y)),
            B::I8x16AvgrU => self.vbinary(I8X16, |t, x, y| t.b.ins().avg_round(x, y)),
            B::I16x8AvgrU => self.vbinary(I16X8, |t, x, y| t.b.ins().avg_round(x, y)),
            // Cranelift's swizzle gives 0 for an index of 16 or more, as `i8x16.swizzle` does.
            B::I8x16Swizzle | B::I8x16RelaxedSwizzle => {
                self.vbinary(I8X16, |t, x, y| t.b.ins().swizzle(x, y))
            }
            // Saturating: -32768 * -32768 gives 32767.
            B::I16x8Q15MulrSatS | B::I16x8RelaxedQ15mulrS => {
                self.vbinary(I16X8, |t, x, y| t.b.ins().sqmul_round_sat(x, y))
            }
            B::I16x8ExtMulLowI8x16S => self.extmul(I8X16, false, true),
            B::I16x8ExtMulHighI8x16S => self.extmul(I8X16, true, true),
            B::I16x8ExtMulLowI8x16U => self.extmul(I8X16, false, false),
            B::I16x8ExtMulHighI8x16U => self.extmul(I8X16, true, false),
            B::I32x4ExtMulLowI16x8S => self.extmul(I16X8, false, true),
            B::I32x4ExtMulHighI16x8S => self.extmul(I16X8, true, true),
            B::I32x4ExtMulLowI16x8U => self.extmul(I16X8, false, false),
            B::I32x4ExtMulHighI16x8U => self.extmul(I16X8, true, false),
            B::I64x2ExtMulLowI32x4S => self.extmul(I32X4, false, true),
            B::I64x2ExtMulHighI32x4S => self.extmul(I32X4, true, true),
            B::I64x2ExtMulLowI32x4U => self.extmul(I32X4, false, false),
            B::I64x2ExtMulHighI32x4U => self.extmul(I32X4, true, false),
            B::I32x4DotI16x8S => self.vbinary(I16X8, |t, x, y| {
                let (xl, yl) = (t.b.ins().swiden_low(x), t.b.ins().swiden_low(y));
                let (xh, yh) = (t.b.ins().swiden_high(x), t.b.ins().swiden_high(y));
                let lo = t.b.ins().imul(xl, yl);
                let hi = t.b.ins().imul(xh, yh);
                t.b.ins().iadd_pairwise(lo, hi)
            }),

            B::F32x4Add => self.vbinary(F32X4, |t, x, y| t.b.ins().fadd(x, y)),
            B::F64x2Add => self.vbinary(F64X2, |t, x, y| t.b.ins().fadd(x, y)),
            B::F32x4Sub => self.vbinary(F32X4, |t, x, y| t.b.ins().fsub(x, y)),
            B::F64x2Sub => self.vbinary(F64X2, |t, x, y| t.b.ins().fsub(x, y)),
            B::F32x4Mul => self.vbinary(F32X4, |t, x, y| t.b.ins().fmul(x, y)),
            B::F64x2Mul => self.vbinary(F64X2, |t, x, y| t.b.ins().fmul(x, y)),
            B::F32x4Div => self.vbinary(F32X4, |t, x, y| t.b.ins().fdiv(x, y)),
            B::F64x2Div => self.vbinary(F64X2, |t, x, y| t.b.ins().fdiv(x, y)),
            // Cranelift's `fmin`/`fmax` are wasm's (NaN if either is, -0 < +0).
            B::F32x4Min | B::F32x4RelaxedMin => self.vbinary(F32X4, |t, x, y| t.b.ins().fmin(x, y)),
            B::F64x2Min | B::F64x2RelaxedMin => self.vbinary(F64X2, |t, x, y| t.b.ins().fmin(x, y)),
            B::F32x4Max | B::F32x4RelaxedMax => self.vbinary(F32X4, |t, x, y| t.b.ins().fmax(x, y)),
            B::F64x2Max | B::F64x2RelaxedMax => self.vbinary(F64X2, |t, x, y| t.b.ins().fmax(x, y)),
            B::F32x4PMin => self.pminmax(F32X4, I32X4, true),
            B::F64x2PMin => self.pminmax(F64X2, I64X2, true),
            B::F32x4PMax => self.pminmax(F32X4, I32X4, false),
            B::F64x2PMax => self.pminmax(F64X2, I64X2, false),

            B::I16x8RelaxedDotI8x16I7x16S => return None,
        }
        Some(())
    }

    /// `pmin` (`y < x ? y : x`) or `pmax` (`x < y ? y : x`): one operand bit for bit.
    fn pminmax(&mut self, ty: Type, int: Type, min: bool) {
        self.vbinary(ty, |t, x, y| {
            let take_y = if min {
                t.b.ins().fcmp(FloatCC::LessThan, y, x)
            } else {
                t.b.ins().fcmp(FloatCC::LessThan, x, y)
            };
            let (x, y) = (t.cast(x, int), t.cast(y, int));
            t.b.ins().bitselect(take_y, y, x)
        });
    }

    /// Lowers ternary operator `o` inline, or returns `None` to have it evaluated by a runtime
    /// call.
    fn ternary_inline(&mut self, o: SimdTernary) -> Option<()> {
        use SimdTernary as T;
        let (ty, negate) = match o {
            T::Bitselect
            | T::RelaxedLaneselectI8x16
            | T::RelaxedLaneselectI16x8
            | T::RelaxedLaneselectI32x4
            | T::RelaxedLaneselectI64x2 => {
                let c = self.pop();
                let y = self.pop();
                let x = self.pop();
                let v = self.b.ins().bitselect(c, x, y);
                self.push(v);
                return Some(());
            }
            T::RelaxedMaddF32x4 => (F32X4, false),
            T::RelaxedNmaddF32x4 => (F32X4, true),
            T::RelaxedMaddF64x2 => (F64X2, false),
            T::RelaxedNmaddF64x2 => (F64X2, true),
            T::RelaxedDotI8x16I7x16AddS => return None,
        };
        // Unfused: the product is rounded, then the sum.
        let c = self.pop_as(ty);
        let y = self.pop_as(ty);
        let x = self.pop_as(ty);
        let mut p = self.b.ins().fmul(x, y);
        if negate {
            p = self.b.ins().fneg(p);
        }
        let s = self.b.ins().fadd(p, c);
        self.push_vec(s);
        Some(())
    }
}
