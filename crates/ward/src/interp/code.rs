//! The interpreter's internal code: a register machine over 64-bit frame slots.
//!
//! A frame is a window of the value stack: slots `0..P` hold the parameters, `P..L` the other
//! locals, and `L..` the operand-stack temporaries, whose positions the translator knows
//! statically. A `v128` occupies two consecutive slots (low half first). Every instruction names
//! its operand and result slots directly, so `local.get` costs nothing and most instructions
//! read locals in place. Results of a call land where its arguments were: the callee's frame
//! starts at the caller's argument slots.

use super::simd::{
    SimdBinary, SimdExtract, SimdLoad, SimdReplace, SimdShift, SimdSplat, SimdTernary, SimdTest,
    SimdUnary,
};
use crate::runtime::atomics::AtomicOp;
use crate::runtime::vmctx::InterpEntry;

/// A frame-relative slot index.
pub(crate) type Slot = u32;

macro_rules! define_instrs {
    (
        binary: [$($bin:ident),* $(,)?],
        unary: [$($un:ident),* $(,)?],
        load: [$($load:ident),* $(,)?],
        store: [$($store:ident),* $(,)?],
        binary_imm: [$($bimm:ident),* $(,)?],
        binary_imm64: [$($bimm64:ident),* $(,)?],
        branch: [$($br:ident),* $(,)?],
        branch_imm: [$($brimm:ident),* $(,)?],
        branch_imm64: [$($brimm64:ident),* $(,)?],
        select: [$($sel:ident),* $(,)?],
        f64_pair: [$($pair:ident),* $(,)?],
        add_branch: [$($ab:ident),* $(,)?],
        addi_branch: [$($abi:ident),* $(,)?],
        addi_branch_imm: [$($abii:ident),* $(,)?],
        mem_pair: [$($mp:ident),* $(,)?],
        v128_binary: [$($vb:ident),* $(,)?],
        other: { $($rest:tt)* }
    ) => {
        /// One interpreter instruction. Kept at 16 bytes; instructions that need more operands
        /// are followed by an [`Instr::Arg`] word or use a side table of [`CompiledFunc`].
        ///
        /// `repr(u16)`: the opcode is the first two bytes and variants are numbered in
        /// declaration order, so the threaded dispatch (`threaded.rs`) can index its handler
        /// table with it (see [`Instr::opcode`]). No variant may hold a field aligned to 8
        /// bytes, or the payload would move to offset 8 and the instruction grow to 24 bytes.
        ///
        /// A memory 0 access's offset `o` (and a memory pair's `z`, the byte load's `z` of
        /// `BrTableLoad8ULoadShlAddI` and its `Const` form) is the wasm offset while the translator works, and the
        /// offset plus the access's size, the end of the bytes accessed, once it is done
        /// ([`encode_access_ends`]): a handler adds it to the address and compares the sum with
        /// the memory's length, one add instead of two.
        #[derive(Clone, Copy, Debug, PartialEq)]
        #[repr(u16)]
        pub(crate) enum Instr {
            $(
                #[doc = concat!("`", stringify!($bin), "`: `d = a op b`.")]
                $bin { d: Slot, a: Slot, b: Slot },
            )*
            $(
                #[doc = concat!("`", stringify!($un), "`: `d = op a`.")]
                $un { d: Slot, a: Slot },
            )*
            $(
                #[doc = concat!("`", stringify!($load), "` from memory 0 at `a + o`.")]
                $load { d: Slot, a: Slot, o: u32 },
            )*
            $(
                #[doc = concat!("`", stringify!($store), "` of `v` to memory 0 at `a + o`.")]
                $store { a: Slot, v: Slot, o: u32 },
            )*
            $(
                #[doc = concat!("`", stringify!($bimm), "`: `d = a op i` with a sign-extended immediate.")]
                $bimm { d: Slot, a: Slot, i: i32 },
            )*
            $(
                #[doc = concat!("`", stringify!($bimm64), "`: `d = a op (i << s)` with `i` sign-extended to 64 bits (`s < 64`: a constant such as a tag in the high word is an immediate too).")]
                $bimm64 { s: u8, d: Slot, a: Slot, i: i32 },
            )*
            $(
                #[doc = concat!("`", stringify!($br), "`: jump to `t` if `a cmp b`.")]
                $br { a: Slot, b: Slot, t: u32 },
            )*
            $(
                #[doc = concat!("`", stringify!($brimm), "`: jump to `t` if `a cmp i`.")]
                $brimm { a: Slot, i: i32, t: u32 },
            )*
            $(
                #[doc = concat!("`", stringify!($brimm64), "`: jump to `t` if `a cmp (i << s)`, `i` sign-extended to 64 bits.")]
                $brimm64 { s: u8, a: Slot, i: i32, t: u32 },
            )*
            $(
                #[doc = concat!("`", stringify!($sel), "`: `d = if a cmp b { x } else { y }`, with `x` and `y` in the `Arg` word that follows (a compare fused with the `select` it feeds).")]
                $sel { d: Slot, a: Slot, b: Slot },
            )*
            $(
                #[doc = concat!("`", stringify!($pair), "`: two f64 operations in one, `d = (a op1 b) op2 c` (or, with a name ending in `R`, `d = c op2 (a op1 b)`), `c` in the `Arg` word that follows: the first operation's result is a temporary only the second reads. Rounded twice, as the two instructions are.")]
                $pair { d: Slot, a: Slot, b: Slot },
            )*
            $(
                #[doc = concat!("`", stringify!($ab), "`: `d = a + b`, then jump to `t` if `d cmp c` (an add fused with the compare-and-branch on its sum that follows it, as loops end). Slots are 16 bits here, so that five operands fit one word.")]
                $ab { d: u16, a: u16, b: u16, c: u16, t: u32 },
            )*
            $(
                #[doc = concat!("`", stringify!($abi), "`: `d = a + i` (`i` sign-extended), then jump to `t` if `d cmp c`.")]
                $abi { d: u16, a: u16, c: u16, i: i32, t: u32 },
            )*
            $(
                #[doc = concat!("`", stringify!($abii), "`: `d = a + i`, then jump to `t` if `d cmp j` (both immediates sign-extended).")]
                $abii { d: u16, a: u16, i: i16, j: i32, t: u32 },
            )*
            $(
                #[doc = concat!("`", stringify!($mp), "`: two memory 0 accesses in one, in order: the first as its own instruction (`p, q, o` are a load's `d, a, o` or a store's `a, v, o`), the second from the `Arg` word that follows (`x, y, z` as `p, q, o`). A trap in the second stops at the `Arg` word, which carries the second access's wasm offset.")]
                $mp { p: Slot, q: Slot, o: u32 },
            )*
            $(
                #[doc = concat!("`d = a op b`: [`SimdBinary::", stringify!($vb), "`] with an opcode of its own ([`v128_binary`]).")]
                $vb { d: Slot, a: Slot, b: Slot },
            )*
            $($rest)*
            /// Never emitted: its opcode is the number of real opcodes ([`OPCODES`]).
            OpcodeCount,
        }

        /// `d = a op b` for the v128 binary operation `op`: the most common lane arithmetic and
        /// bitwise operations (the `v128_binary` list) are instructions of their own, dispatched
        /// once like any other, where `V128Binary`'s handler forwards through a second table to
        /// the operation's handler.
        pub(crate) fn v128_binary(op: SimdBinary, d: Slot, a: Slot, b: Slot) -> Instr {
            match op {
                $(SimdBinary::$vb => Instr::$vb { d, a, b },)*
                _ => Instr::V128Binary { op, d, a, b },
            }
        }

        impl Instr {
            /// The result slot of a single-result instruction, for retargeting by the
            /// translator (`local.set` after an operation writes the local directly).
            pub(crate) fn dst_mut(&mut self) -> Option<&mut Slot> {
                match self {
                    $(Instr::$bin { d, .. } => Some(d),)*
                    $(Instr::$un { d, .. } => Some(d),)*
                    $(Instr::$load { d, .. } => Some(d),)*
                    $(Instr::$bimm { d, .. } => Some(d),)*
                    $(Instr::$bimm64 { d, .. } => Some(d),)*
                    $(Instr::$sel { d, .. } => Some(d),)*
                    $(Instr::$pair { d, .. } => Some(d),)*
                    Instr::Const32 { d, .. } | Instr::Const64 { d, .. }
                    | Instr::GlobalGet { d, .. } | Instr::Copy { d, .. }
                    | Instr::Select { d, .. } | Instr::Select2 { d, .. }
                    | Instr::SelectElseK { d, .. } | Instr::SelectThenK { d, .. }
                    | Instr::SelectNz64 { d, .. }
                    | Instr::SelectAnd { d, .. } | Instr::SelectAnd64 { d, .. }
                    | Instr::I32LoadAddI { d, .. } | Instr::I64LoadAddI { d, .. }
                    | Instr::I32LoadAddITee { d, .. } | Instr::I64LoadAddITee { d, .. }
                    | Instr::I32Load8UAddI { d, .. } | Instr::I32AddShl { d, .. }
                    | Instr::I32AddIShl { d, .. } | Instr::I32LoadPlusI { d, .. }
                    | Instr::I32LoadIdx { d, .. } | Instr::I32Load8UIdx { d, .. }
                    | Instr::I64LoadIdx { d, .. }
                    | Instr::I32ShlAddI { d, .. }
                    | Instr::I32ConstShl { d, .. } | Instr::I32ConstSub { d, .. }
                    | Instr::I32WrapShrU { d, .. }
                    | Instr::GlobalGetAddI { d, .. }
                    | Instr::I32LoadShlAddI { d, .. }
                    | Instr::F64AddLoad { d, .. } | Instr::F64SubLoad { d, .. }
                    | Instr::F64MulLoad { d, .. } | Instr::F64DivLoad { d, .. }
                    | Instr::I32MulAddI { d, .. } | Instr::I64MulAddI { d, .. }
                    | Instr::I64AndNotI { d, .. } | Instr::I32LoadK { d, .. } => Some(d),
                    _ => None,
                }
            }

            /// The jump target of a branch instruction.
            pub(crate) fn target_mut(&mut self) -> Option<&mut u32> {
                match self {
                    $(Instr::$br { t, .. } => Some(t),)*
                    $(Instr::$brimm { t, .. } => Some(t),)*
                    $(Instr::$brimm64 { t, .. } => Some(t),)*
                    Instr::Br { t, .. }
                    | Instr::BrIfNez { t, .. }
                    | Instr::BrIfEqz { t, .. }
                    | Instr::BrOnNull { t, .. }
                    | Instr::BrOnNonNull { t, .. }
                    | Instr::Target { t, .. }
                    | Instr::I32AddIBr { t, .. }
                    | Instr::I64AddIBr { t, .. }
                    | Instr::BrOnCast { t, .. } => Some(t),
                    $(Instr::$ab { t, .. } => Some(t),)*
                    $(Instr::$abi { t, .. } => Some(t),)*
                    $(Instr::$abii { t, .. } => Some(t),)*
                    _ => None,
                }
            }

            /// A compare-and-branch taken apart: the compare (numbered as in [`cmp`]), its left
            /// operand, its right operand and the target. `BrIfNez`/`BrIfEqz` are an i32
            /// compare with zero.
            pub(crate) fn compare_branch(&self) -> Option<(usize, Slot, Rhs, u32)> {
                let op = self.opcode();
                let from = |first: Instr| usize::from(op - first.opcode());
                match *self {
                    $(Instr::$br { a, b, t } => {
                        Some((from(Instr::BrI32Eq { a: 0, b: 0, t: 0 }), a, Rhs::Slot(b), t))
                    })*
                    $(Instr::$brimm { a, i, t } => {
                        Some((from(Instr::BrI32EqI { a: 0, i: 0, t: 0 }), a, Rhs::Imm(i.into()), t))
                    })*
                    $(Instr::$brimm64 { s, a, i, t } => {
                        let k = cmp::I64 + from(Instr::BrI64EqI { s: 0, a: 0, i: 0, t: 0 });
                        Some((k, a, Rhs::Imm(i64::from(i) << s), t))
                    })*
                    Instr::BrIfNez { c, t, .. } => Some((cmp::NE, c, Rhs::Imm(0), t)),
                    Instr::BrIfEqz { c, t, .. } => Some((cmp::EQ, c, Rhs::Imm(0), t)),
                    _ => None,
                }
            }

            /// F64 pair form `k` in declaration order (see [`f64_pair`]).
            fn f64_pair_form(k: usize, d: Slot, a: Slot, b: Slot) -> Instr {
                const MAKE: [fn(Slot, Slot, Slot) -> Instr; 32] =
                    [$(|d, a, b| Instr::$pair { d, a, b }),*];
                MAKE[k](d, a, b)
            }

            /// The pair of memory accesses `k = 6 * first + second` (numbered as by
            /// [`memory_access`]), the first's operands given.
            pub(crate) fn mem_pair(k: usize, p: Slot, q: Slot, o: u32) -> Instr {
                const MAKE: [fn(Slot, Slot, u32) -> Instr; MEMORY_ACCESSES * MEMORY_ACCESSES] =
                    [$(|p, q, o| Instr::$mp { p, q, o }),*];
                MAKE[k](p, q, o)
            }

            /// A memory pair's number `k = 6 * first + second` (as for [`Instr::mem_pair`])
            /// and its first access's offset.
            pub(crate) fn mem_pair_offset_mut(&mut self) -> Option<(usize, &mut u32)> {
                let first = Instr::mem_pair(0, 0, 0, 0).opcode();
                let k = usize::from(self.opcode().wrapping_sub(first));
                match self {
                    $(Instr::$mp { o, .. } => Some((k, o)),)*
                    _ => None,
                }
            }

            /// `d = a + b`, then jump to `t` if `d` compares (compare `k`, see [`cmp`]) with `c`.
            pub(crate) fn add_branch(k: usize, d: u16, a: u16, b: u16, c: u16, t: u32) -> Instr {
                const MAKE: [fn(u16, u16, u16, u16, u32) -> Instr; 2 * cmp::I64] =
                    [$(|d, a, b, c, t| Instr::$ab { d, a, b, c, t }),*];
                MAKE[k](d, a, b, c, t)
            }

            /// `d = a + i`, then jump to `t` if `d` compares (compare `k`) with `c`.
            pub(crate) fn addi_branch(k: usize, d: u16, a: u16, c: u16, i: i32, t: u32) -> Instr {
                const MAKE: [fn(u16, u16, u16, i32, u32) -> Instr; 2 * cmp::I64] =
                    [$(|d, a, c, i, t| Instr::$abi { d, a, c, i, t }),*];
                MAKE[k](d, a, c, i, t)
            }

            /// `d = a + i`, then jump to `t` if `d` compares (compare `k`) with `j`.
            pub(crate) fn addi_branch_imm(k: usize, d: u16, a: u16, i: i16, j: i32, t: u32) -> Instr {
                const MAKE: [fn(u16, u16, i16, i32, u32) -> Instr; 2 * cmp::I64] =
                    [$(|d, a, i, j, t| Instr::$abii { d, a, i, j, t }),*];
                MAKE[k](d, a, i, j, t)
            }
        }
    };
}

define_instrs! {
    binary: [
        I32Add, I32Sub, I32Mul, I32DivS, I32DivU, I32RemS, I32RemU, I32And, I32Or, I32Xor,
        I32Shl, I32ShrS, I32ShrU, I32Rotl, I32Rotr, I32Eq, I32Ne, I32LtS, I32LtU, I32GtS,
        I32GtU, I32LeS, I32LeU, I32GeS, I32GeU,
        I64Add, I64Sub, I64Mul, I64DivS, I64DivU, I64RemS, I64RemU, I64And, I64Or, I64Xor,
        I64Shl, I64ShrS, I64ShrU, I64Rotl, I64Rotr, I64Eq, I64Ne, I64LtS, I64LtU, I64GtS,
        I64GtU, I64LeS, I64LeU, I64GeS, I64GeU,
        F32Add, F32Sub, F32Mul, F32Div, F32Min, F32Max, F32Copysign, F32Eq, F32Ne, F32Lt,
        F32Gt, F32Le, F32Ge,
        F64Add, F64Sub, F64Mul, F64Div, F64Min, F64Max, F64Copysign, F64Eq, F64Ne, F64Lt,
        F64Gt, F64Le, F64Ge,
    ],
    unary: [
        I32Eqz, I32Clz, I32Ctz, I32Popcnt, I64Eqz, I64Clz, I64Ctz, I64Popcnt,
        F32Abs, F32Neg, F32Ceil, F32Floor, F32Trunc, F32Nearest, F32Sqrt,
        F64Abs, F64Neg, F64Ceil, F64Floor, F64Trunc, F64Nearest, F64Sqrt,
        I32WrapI64, I32TruncF32S, I32TruncF32U, I32TruncF64S, I32TruncF64U,
        I64ExtendI32S, I64ExtendI32U, I64TruncF32S, I64TruncF32U, I64TruncF64S, I64TruncF64U,
        F32ConvertI32S, F32ConvertI32U, F32ConvertI64S, F32ConvertI64U, F32DemoteF64,
        F64ConvertI32S, F64ConvertI32U, F64ConvertI64S, F64ConvertI64U, F64PromoteF32,
        I32Extend8S, I32Extend16S, I64Extend8S, I64Extend16S, I64Extend32S,
        I32TruncSatF32S, I32TruncSatF32U, I32TruncSatF64S, I32TruncSatF64U,
        I64TruncSatF32S, I64TruncSatF32U, I64TruncSatF64S, I64TruncSatF64U,
        RefIsNull, RefAsNonNull,
    ],
    load: [
        I32Load, I64Load, I32Load8S, I32Load8U, I32Load16S, I32Load16U, I64Load8S, I64Load8U,
        I64Load16S, I64Load16U, I64Load32S, I64Load32U, V128Load,
    ],
    store: [I32Store, I64Store, I32Store8, I32Store16, I64Store32, V128Store],
    binary_imm: [I32AddI, I32MulI, I32AndI, I32OrI, I32XorI, I32ShlI, I32ShrSI, I32ShrUI, I32RotlI, I32RotrI, I32EqI, I32NeI, I32LtSI, I32LtUI, I32GtSI, I32GtUI, I32LeSI, I32LeUI, I32GeSI, I32GeUI, I64ShlI, I64ShrSI, I64ShrUI, I64RotlI, I64RotrI],
    binary_imm64: [I64AddI, I64MulI, I64AndI, I64OrI, I64XorI, I64EqI, I64NeI, I64LtSI, I64LtUI, I64GtSI, I64GtUI, I64LeSI, I64LeUI, I64GeSI, I64GeUI],
    branch: [BrI32Eq, BrI32Ne, BrI32LtS, BrI32LtU, BrI32GtS, BrI32GtU, BrI32LeS, BrI32LeU, BrI32GeS, BrI32GeU, BrI64Eq, BrI64Ne, BrI64LtS, BrI64LtU, BrI64GtS, BrI64GtU, BrI64LeS, BrI64LeU, BrI64GeS, BrI64GeU],
    branch_imm: [BrI32EqI, BrI32NeI, BrI32LtSI, BrI32LtUI, BrI32GtSI, BrI32GtUI, BrI32LeSI, BrI32LeUI, BrI32GeSI, BrI32GeUI],
    branch_imm64: [BrI64EqI, BrI64NeI, BrI64LtSI, BrI64LtUI, BrI64GtSI, BrI64GtUI, BrI64LeSI, BrI64LeUI, BrI64GeSI, BrI64GeUI],
    select: [SelI32Eq, SelI32Ne, SelI32LtS, SelI32LtU, SelI32GtS, SelI32GtU, SelI32LeS, SelI32LeU, SelI32GeS, SelI32GeU, SelI64Eq, SelI64Ne, SelI64LtS, SelI64LtU, SelI64GtS, SelI64GtU, SelI64LeS, SelI64LeU, SelI64GeS, SelI64GeU],
    f64_pair: [
        F64AddAdd, F64AddSub, F64AddMul, F64AddDiv, F64SubAdd, F64SubSub, F64SubMul, F64SubDiv,
        F64MulAdd, F64MulSub, F64MulMul, F64MulDiv, F64DivAdd, F64DivSub, F64DivMul, F64DivDiv,
        F64AddAddR, F64AddSubR, F64AddMulR, F64AddDivR, F64SubAddR, F64SubSubR, F64SubMulR, F64SubDivR,
        F64MulAddR, F64MulSubR, F64MulMulR, F64MulDivR, F64DivAddR, F64DivSubR, F64DivMulR, F64DivDivR
    ],
    add_branch: [
        I32AddBrEq, I32AddBrNe, I32AddBrLtS, I32AddBrLtU, I32AddBrGtS, I32AddBrGtU, I32AddBrLeS, I32AddBrLeU, I32AddBrGeS, I32AddBrGeU,
        I64AddBrEq, I64AddBrNe, I64AddBrLtS, I64AddBrLtU, I64AddBrGtS, I64AddBrGtU, I64AddBrLeS, I64AddBrLeU, I64AddBrGeS, I64AddBrGeU
    ],
    addi_branch: [
        I32AddIBrEq, I32AddIBrNe, I32AddIBrLtS, I32AddIBrLtU, I32AddIBrGtS, I32AddIBrGtU, I32AddIBrLeS, I32AddIBrLeU, I32AddIBrGeS, I32AddIBrGeU,
        I64AddIBrEq, I64AddIBrNe, I64AddIBrLtS, I64AddIBrLtU, I64AddIBrGtS, I64AddIBrGtU, I64AddIBrLeS, I64AddIBrLeU, I64AddIBrGeS, I64AddIBrGeU
    ],
    addi_branch_imm: [
        I32AddIBrEqI, I32AddIBrNeI, I32AddIBrLtSI, I32AddIBrLtUI, I32AddIBrGtSI, I32AddIBrGtUI, I32AddIBrLeSI, I32AddIBrLeUI, I32AddIBrGeSI, I32AddIBrGeUI,
        I64AddIBrEqI, I64AddIBrNeI, I64AddIBrLtSI, I64AddIBrLtUI, I64AddIBrGtSI, I64AddIBrGtUI, I64AddIBrLeSI, I64AddIBrLeUI, I64AddIBrGeSI, I64AddIBrGeUI
    ],
    mem_pair: [
        MemLd32Ld32, MemLd32Ld64, MemLd32Ld8U, MemLd32St32, MemLd32St64, MemLd32St8, MemLd64Ld32, MemLd64Ld64, MemLd64Ld8U, MemLd64St32, MemLd64St64, MemLd64St8, MemLd8ULd32, MemLd8ULd64, MemLd8ULd8U, MemLd8USt32, MemLd8USt64, MemLd8USt8, MemSt32Ld32, MemSt32Ld64, MemSt32Ld8U, MemSt32St32, MemSt32St64, MemSt32St8, MemSt64Ld32, MemSt64Ld64, MemSt64Ld8U, MemSt64St32, MemSt64St64, MemSt64St8, MemSt8Ld32, MemSt8Ld64, MemSt8Ld8U, MemSt8St32, MemSt8St64, MemSt8St8
    ],
    v128_binary: [
        V128And, V128Or, V128Xor, I8x16Add, I8x16Sub, I16x8Add, I16x8Sub, I16x8Mul,
        I32x4Add, I32x4Sub, I32x4Mul, I64x2Add, F32x4Add, F32x4Sub, F32x4Mul, F64x2Add, F64x2Mul,
    ],
    other: {
        /// Extra operands of the preceding instruction.
        Arg { x: u32, y: u32, z: u32 },
        /// Trap: `unreachable`.
        Unreachable,
        /// Checkpoint: charge `n` units of fuel and check for interruption (only emitted when
        /// the engine consumes fuel or is interruptible).
        Check { n: u32 },
        /// Jump to instruction `t`. In `Br`, `BrIfNez` and `BrIfEqz`, `h` locates the handler
        /// of instruction `t` when the handlers jump to each other (its address relative to
        /// a fixed handler's, written by `threaded::link_jumps` once the code is final; 0
        /// until then).
        Br { t: u32, h: i32 },
        /// Jump to `t` if the i32 in `c` is non-zero.
        BrIfNez { c: Slot, t: u32, h: i32 },
        /// Jump to `t` if the i32 in `c` is zero.
        BrIfEqz { c: Slot, t: u32, h: i32 },
        /// Jump through the `n` [`Instr::Target`] words that follow, indexed by the i32 in `i`
        /// (the last word is the default). The table sits in the code itself, so the jump
        /// reads its target next to the instruction, not through a side table.
        BrTable { i: Slot, n: u32 },
        /// As `BrTable`, indexed by `i + k` (i32, wrapping): a `br_table` whose index is an
        /// `i32.add` of a constant.
        BrTableI { i: Slot, k: i32, n: u32 },
        /// As `BrTable`, indexed by the i32 loaded from memory 0 at `(a + (b << k)) mod 2^32`
        /// (an `I32LoadIdx` fused with the `br_table` it feeds: a dispatch through a table of
        /// case numbers).
        BrTableLoadIdx { k: u8, a: Slot, b: Slot, n: u32 },
        /// As `BrTableLoadIdx`, the loaded index also written to `d` (16-bit slots): the
        /// `local.tee` of the load before the `br_table` (a bytecode interpreter's
        /// `switch (op = code[pc])`).
        BrTableLoadIdxTee { k: u8, d: u16, a: u16, b: u16, n: u32 },
        /// As `BrTable`, indexed by `x + j` (i32, wrapping) for the i32 `x` loaded from memory
        /// 0 at `((a << k) + i) mod 2^32` and `j` in the `Arg` word that follows (before the
        /// entries): an `I32LoadShlAddI` and an `i32.add` of a constant fused with the
        /// `br_table` they feed (a `switch` through a static table of case numbers).
        BrTableLoadShlAddI { k: u8, a: Slot, i: i32, n: u32 },
        /// As `BrTableLoadShlAddI`, its `a` the byte loaded from memory 0 at `b + o` into `d`,
        /// with `j`, `b` and `o` in the `Arg` word (`x`, `y`, `z`): an `i32.load8_u` fused too
        /// (QuickJS's dispatch: the opcode byte, kept in a local, its handler's case number,
        /// `br_table`). The byte's access traps at the instruction's offset, the table's at the
        /// `Arg` word's; only for a memory 0 that is not shared (a stale length would retry
        /// only the first access).
        BrTableLoad8ULoadShlAddI { k: u8, d: Slot, i: i32, n: u32 },
        /// As `BrTableLoad8ULoadShlAddI`, first setting slot `x` to the constant `z << 32 | y`
        /// from a second `Arg` word (after the first): the `Const32` or `Const64` just before,
        /// when nothing lands between (QuickJS resets a local at the top of its dispatch loop).
        ConstBrTableLoad8ULoadShlAddI { k: u8, d: Slot, i: i32, n: u32 },
        /// An entry of the `br_table` before it: jump to `t`. Never executed. `h` locates the
        /// handler of instruction `t`, as in `Br`, so that a `br_table`, whose target is
        /// rarely predicted, waits for two loads less.
        Target { t: u32, h: i32 },
        /// Jump to `t` if the reference in `a` is null.
        BrOnNull { a: Slot, t: u32 },
        /// Jump to `t` if the reference in `a` is not null.
        BrOnNonNull { a: Slot, t: u32 },
        /// Return; the results already sit in slots `0..`.
        Return,
        /// Copy `n` slots from `s..` to `0..`, then return.
        ReturnFrom { s: Slot, n: u32 },
        /// `GlobalSetAddI { g, a, i }`, then `Return`: a stack pointer restored by the
        /// epilogue, then the return.
        GlobalSetAddIReturn { g: u32, a: Slot, i: i32 },
        /// `GlobalSetAddI { g, a, i }`, then `ReturnFrom { s, n: 1 }` (16-bit slots).
        GlobalSetAddIReturnFrom { g: u32, a: u16, s: u16, i: i32 },
        /// Call the function whose record pointer is at context offset `f`; arguments start at
        /// slot `args`, results land there.
        Call { f: u32, args: Slot },
        /// `call_indirect`: element `i` of the table whose pointer is at context offset `Arg.x`,
        /// expected canonical type id at context offset `Arg.y`.
        CallIndirect { args: Slot, i: Slot },
        /// `call_ref` through the function reference in `r`.
        CallRef { args: Slot, r: Slot },
        /// Tail call of the function whose record pointer is at context offset `f`.
        ReturnCall { f: u32, args: Slot },
        /// Tail `call_indirect` (operands as `CallIndirect`).
        ReturnCallIndirect { args: Slot, i: Slot },
        /// Tail `call_ref`.
        ReturnCallRef { args: Slot, r: Slot },
        /// Throw module tag `tag` with payload at `args..`.
        Throw { tag: u32, args: Slot },
        /// Rethrow the exception referenced by `r`.
        ThrowRef { r: Slot },
        /// `d = a` (one slot).
        Copy { d: Slot, a: Slot },
        /// `d = a` (two slots: a v128).
        Copy2 { d: Slot, a: Slot },
        /// `d = a` and `d + 1 = b` (one slot each): two adjacent copies, as call arguments are
        /// laid out (the translator never pairs them when `b` is `d`).
        CopyPair { d: Slot, a: Slot, b: Slot },
        /// `I32Load8UIdx { k, d, a, b }`, then `I32Store8Idx { k: j, a: x, b: y, v: z }` with
        /// `x, y, z` in the `Arg` word that follows: a byte copy `dst[i] = src[i]` (see
        /// [`pair_memory_accesses`]; a trap in the store stops at the `Arg` word).
        MemLd8UIdxSt8Idx { k: u8, j: u8, d: Slot, a: Slot, b: Slot },
        /// `d = a + x` (f64) for the f64 `x` loaded from memory 0 at `p + o`: an `f64.load`
        /// fused with the arithmetic it feeds (`c[j] + a * b[j]`). `a` and `p` are 16-bit slots.
        F64AddLoad { d: Slot, a: u16, p: u16, o: u32 },
        /// `d = a - x`, `x` loaded as for `F64AddLoad`.
        F64SubLoad { d: Slot, a: u16, p: u16, o: u32 },
        /// `d = a * x`, `x` loaded as for `F64AddLoad`.
        F64MulLoad { d: Slot, a: u16, p: u16, o: u32 },
        /// `d = a / x`, `x` loaded as for `F64AddLoad`.
        F64DivLoad { d: Slot, a: u16, p: u16, o: u32 },
        /// `d = a * i + j` (i32, wrapping): an `i32.mul` by a constant and the `i32.add` of a
        /// constant it feeds (`3 * x + 1`, a linear congruential step). `a` is a 16-bit slot.
        I32MulAddI { a: u16, d: Slot, i: i32, j: i32 },
        /// As `I32MulAddI`, i64, both constants sign-extended (unshifted immediates only).
        I64MulAddI { a: u16, d: Slot, i: i32, j: i32 },
        /// `d0 = a0`, then `d1 = a1` (one slot each): two copies in one, in order, for slots
        /// that fit 16 bits (the copies of a loop's rotating variables).
        CopyTwo { d0: u16, a0: u16, d1: u16, a1: u16 },
        /// `d = a + i`, then `Arg.x = Arg.y + Arg.z` (i32, wrapping, in that order): two adds of
        /// a constant in a row, paired once the code is otherwise done (QuickJS moves its
        /// bytecode pointer and its stack pointer together).
        I32AddIAddI { d: Slot, a: Slot, i: i32 },
        /// `I32Load { d, a, o }`, then `Arg.x = Arg.y + Arg.z` (i32, wrapping; see
        /// `pair_added_constants`).
        I32LoadThenAddI { d: Slot, a: Slot, o: u32 },
        /// `I64Store { a, v, o }`, then `Arg.x = Arg.y + Arg.z` (as `I32LoadThenAddI`).
        I64StoreThenAddI { a: Slot, v: Slot, o: u32 },
        /// `d = d + i` (i32, wrapping), then jump to `t`: the increment at the end of a loop or
        /// `switch` case followed by its branch.
        I32AddIBr { d: Slot, i: i32, t: u32 },
        /// `d = d + i` (i64, `i` sign-extended, wrapping), then jump to `t`.
        I64AddIBr { d: Slot, i: i32, t: u32 },
        /// `d = (a << k) + i` (i32, wrapping; `k < 32`): an `i32.shl` by a constant fused with
        /// the `i32.add` of a constant it feeds, the address of an element of a static array.
        I32ShlAddI { k: u8, d: Slot, a: Slot, i: i32 },
        /// `i32.load` from memory 0 at `((a << k) + i) mod 2^32` (offset 0): an `I32ShlAddI`
        /// fused with the load it feeds.
        I32LoadShlAddI { k: u8, d: Slot, a: Slot, i: i32 },
        /// `d = a & !(i << s)` (i64, `i` sign-extended): an `i64.and` with a mask whose
        /// complement is an immediate, such as the low bits of a word (`0xffff_ffff`,
        /// `0x000f_ffff_ffff_ffff`).
        I64AndNotI { s: u8, d: Slot, a: Slot, i: i32 },
        /// `i32.load` from memory 0 at `o`: a constant address (a static variable) plus the
        /// load's offset.
        I32LoadK { d: Slot, o: u32 },
        /// `d = v` (32 bits, zero-extended).
        Const32 { d: Slot, v: u32 },
        /// `d = hi << 32 | lo` (two halves: a `u64` field would make `Instr` 24 bytes).
        Const64 { d: Slot, lo: u32, hi: u32 },
        /// `d = v128_consts[k]`.
        ConstV128 { d: Slot, k: u32 },
        /// `d = c != 0 ? a : b` with `c` in the following `Arg.x` (one slot).
        Select { d: Slot, a: Slot, b: Slot },
        /// As `Select`, for v128.
        Select2 { d: Slot, a: Slot, b: Slot },
        /// `d = c != 0 ? a : k` with `c` in the following `Arg.x` and the constant `k` in its
        /// `Arg.y` (low half) and `Arg.z` (high half): a `select` whose second value is a
        /// constant.
        SelectElseK { d: Slot, a: Slot },
        /// `d = c != 0 ? k : b`, `c` and `k` in the `Arg` word as for `SelectElseK`.
        SelectThenK { d: Slot, b: Slot },
        /// `d = c != 0 ? a : b` with `c` (all 64 bits) in the following `Arg.x`: a `select` on
        /// an `i64.eqz`, with `a` and `b` swapped.
        SelectNz64 { d: Slot, a: Slot, b: Slot },
        /// `d = c & m != 0 ? a : b`, with `c` in the following `Arg.x` and the mask `m` in its
        /// `Arg.y`: a `select` on an `i32.and` of a constant, or on the `i32.eqz` of one (`a`
        /// and `b` swapped).
        SelectAnd { d: Slot, a: Slot, b: Slot },
        /// As `SelectAnd`, on the `i64.eqz` of an `i64.and` of a constant (all 64 bits of `c`,
        /// the mask sign-extended).
        SelectAnd64 { d: Slot, a: Slot, b: Slot },
        /// `d = global`, the global's cell pointer at context offset `g`.
        GlobalGet { d: Slot, g: u32 },
        /// `global = a`, the global's cell pointer at context offset `g`.
        GlobalSet { g: u32, a: Slot },
        /// `d = global + i` (i32, wrapping), then `global = d`: a stack-pointer adjustment.
        GlobalAddI { g: u32, d: Slot, i: i32 },
        /// `d = global + i` (i32, wrapping): a `global.get` fused with the `i32.add` of a
        /// constant it feeds (a frame below the stack pointer that is not moved).
        GlobalGetAddI { g: u32, d: Slot, i: i32 },
        /// `global = a + i` (i32, wrapping): an `i32.add` of a constant fused with the
        /// `global.set` it feeds (the stack pointer restored in an epilogue).
        GlobalSetAddI { g: u32, a: Slot, i: i32 },
        /// v128 `global.get`.
        GlobalGet2 { d: Slot, g: u32 },
        /// v128 `global.set`.
        GlobalSet2 { g: u32, a: Slot },
        /// A load with a memory argument from `memargs[m]` (any memory, any offset).
        LoadM { d: Slot, a: Slot, m: u32 },
        /// A store with a memory argument from `memargs[m]`.
        StoreM { a: Slot, v: Slot, m: u32 },
        /// `i32.load` from memory 0 at `(a + i) mod 2^32`: an `i32.add` of a constant fused with
        /// the load it feeds (offset 0).
        I32LoadAddI { d: Slot, a: Slot, i: i32 },
        /// `d = x + i` (i32, wrapping) for the `x` loaded by `i32.load` from memory 0 at
        /// `a + o` (a 16-bit slot): the load fused with the add of a constant it feeds (a field
        /// read and adjusted). Traps at the load's offset.
        I32LoadPlusI { a: u16, d: Slot, o: u32, i: i32 },
        /// `i64.load` from memory 0 at `(a + i) mod 2^32` (as `I32LoadAddI`).
        I64LoadAddI { d: Slot, a: Slot, i: i32 },
        /// `i32.load8_u` from memory 0 at `(a + i) mod 2^32` (as `I32LoadAddI`).
        I32Load8UAddI { d: Slot, a: Slot, i: i32 },
        /// `t = (a + i) mod 2^32`, then `i32.load` from memory 0 at `t` into `d`: an `i32.add`
        /// of a constant kept in a local (`local.tee`) and the load at offset 0 of that local
        /// (`p = sp - 8; x = *p`). `t` and `a` are different 16-bit slots, so a rerun after a
        /// failed bounds check computes the same address.
        I32LoadAddITee { t: u16, a: u16, d: Slot, i: i32 },
        /// As `I32LoadAddITee`, an `i64.load`.
        I64LoadAddITee { t: u16, a: u16, d: Slot, i: i32 },
        /// `d = a + (b << k)` (i32, wrapping; `k < 32`): an `i32.shl` by a constant fused with
        /// the `i32.add` it feeds, as in the address of an array element.
        I32AddShl { k: u8, d: Slot, a: Slot, b: Slot },
        /// `d = a + i + (b << k)` (i32, wrapping; `a` and `b` 16-bit slots): an `I32AddShl`
        /// whose left operand the `i32.add` of a constant just before computed (`&frame[16]`
        /// plus a scaled index).
        I32AddIShl { k: u8, d: Slot, a: u16, b: u16, i: i32 },
        /// `i32.load` from memory 0 at `(a + (b << k)) mod 2^32` (offset 0): an `I32AddShl`, or
        /// an `i32.add` (`k = 0`), fused with the load it feeds (`k` first so that the
        /// instruction fits 16 bytes).
        I32LoadIdx { k: u8, d: Slot, a: Slot, b: Slot },
        /// `i32.load8_u` at `(a + (b << k)) mod 2^32` (as `I32LoadIdx`).
        I32Load8UIdx { k: u8, d: Slot, a: Slot, b: Slot },
        /// `i64.load` at `(a + (b << k)) mod 2^32` (as `I32LoadIdx`).
        I64LoadIdx { k: u8, d: Slot, a: Slot, b: Slot },
        /// `i32.store` of `v` to memory 0 at `(a + i) mod 2^32` (offset 0).
        I32StoreAddI { a: Slot, v: Slot, i: i32 },
        /// `i32.store` of `v` to memory 0 at `(a + (b << k)) mod 2^32` (offset 0): an
        /// `I32AddShl`, or an `i32.add` (`k = 0`), fused with the store it feeds.
        I32StoreIdx { k: u8, a: Slot, b: Slot, v: Slot },
        /// `i32.store8` of the low byte of `v` at `(a + (b << k)) mod 2^32` (as `I32StoreIdx`).
        I32Store8Idx { k: u8, a: Slot, b: Slot, v: Slot },
        /// `i32.store8` of the constant byte `v` at `(a + (b << k)) mod 2^32`.
        I32Store8IdxI { k: u8, v: u8, a: Slot, b: Slot },
        /// `i64.store` of `v` to memory 0 at `(a + i) mod 2^32` (offset 0).
        I64StoreAddI { a: Slot, v: Slot, i: i32 },
        /// Store of the constant `v` (32 bits) to memory 0 at `a + o` (`i32.store`,
        /// `i64.store32`, `f32.store` of a constant).
        I32StoreI { a: Slot, o: u32, v: u32 },
        /// Store of the constant `v`, sign-extended to 64 bits and shifted left by `s`, to
        /// memory 0 at `a + o`.
        I64StoreI { s: u8, a: Slot, o: u32, v: i32 },
        /// Store of the low byte of the constant `v` to memory 0 at `a + o`.
        I32Store8I { a: Slot, o: u32, v: u32 },
        /// Store of the low 16 bits of the constant `v` to memory 0 at `a + o`.
        I32Store16I { a: Slot, o: u32, v: u32 },
        /// `d = (a >> i) mod 2^32` (`a` an i64, `i < 64`): an `i64.shr_u` by a constant and the
        /// `i32.wrap_i64` of its result.
        I32WrapShrU { d: Slot, a: Slot, i: i32 },
        /// `d = i << a` (i32, the count taken mod 32): a shift of a constant, as `1 << n`
        /// makes a bit mask.
        I32ConstShl { d: Slot, a: Slot, i: i32 },
        /// `d = i - a` (i32, wrapping): a subtraction from a constant (`0 - n`, `31 - n`).
        I32ConstSub { d: Slot, a: Slot, i: i32 },
        /// The 32-bit word at `a + o` in memory 0 plus `i`, stored back: an `i32.load`, an
        /// `i32.add` of a constant and an `i32.store` to the same address (a counter in memory,
        /// a reference count). Traps where the load did.
        I32RmwAddI { a: Slot, o: u32, i: i32 },
        /// The word at `a + o` plus the value in `b`, stored back (as `I32RmwAddI`).
        I32RmwAdd { a: Slot, o: u32, b: Slot },
        /// The word at `a + o` minus the value in `b`, stored back (as `I32RmwAddI`).
        I32RmwSub { a: Slot, o: u32, b: Slot },
        /// The word at `a + o` and the value in `b`, stored back (as `I32RmwAddI`).
        I32RmwAnd { a: Slot, o: u32, b: Slot },
        /// The word at `a + o` or the value in `b`, stored back (as `I32RmwAddI`): a bit set in
        /// a bitmap.
        I32RmwOr { a: Slot, o: u32, b: Slot },
        /// The word at `a + o` xor the value in `b`, stored back (as `I32RmwAddI`).
        I32RmwXor { a: Slot, o: u32, b: Slot },
        /// `v128.loadN_lane`: `d = replace lane of v with the loaded value`; memarg `memargs[m]`.
        LoadLane { d: Slot, a: Slot, m: u32 },
        /// `v128.storeN_lane` of the vector `v`; memarg `memargs[m]`.
        StoreLane { a: Slot, v: Slot, m: u32 },
        /// `d = memory.size` of memory `m`.
        MemorySize { d: Slot, m: u32 },
        /// `d = memory.grow(a)` of memory `m`.
        MemoryGrow { d: Slot, a: Slot, m: u32 },
        /// `memory.fill(d, v, n)` of memory `Arg.x`.
        MemoryFill { d: Slot, v: Slot, n: Slot },
        /// `memory.copy(d, s, n)` from memory `Arg.y` to memory `Arg.x`.
        MemoryCopy { d: Slot, s: Slot, n: Slot },
        /// `memory.init(d, s, n)` of data segment `Arg.x` into memory `Arg.y`.
        MemoryInit { d: Slot, s: Slot, n: Slot },
        /// `data.drop`.
        DataDrop { seg: u32 },
        /// `d = table t [i]`.
        TableGet { d: Slot, i: Slot, t: u32 },
        /// `table t [i] = v`.
        TableSet { i: Slot, v: Slot, t: u32 },
        /// `d = table.size t`.
        TableSize { d: Slot, t: u32 },
        /// `d = table.grow t (init, n)`, table in `Arg.x`.
        TableGrow { d: Slot, init: Slot, n: Slot },
        /// `table.fill(i, v, n)`, table in `Arg.x`.
        TableFill { i: Slot, v: Slot, n: Slot },
        /// `table.copy(d, s, n)` from table `Arg.y` to table `Arg.x`.
        TableCopy { d: Slot, s: Slot, n: Slot },
        /// `table.init(d, s, n)` of element segment `Arg.x` into table `Arg.y`.
        TableInit { d: Slot, s: Slot, n: Slot },
        /// `elem.drop`.
        ElemDrop { seg: u32 },
        /// `d = ref.func`: the record pointer at context offset `f`.
        RefFunc { d: Slot, f: u32 },
        /// `d = (a == b)` for references (i32 result).
        RefEq { d: Slot, a: Slot, b: Slot },
        /// v128 unary operation.
        V128Unary { op: SimdUnary, d: Slot, a: Slot },
        /// v128 binary operation (the most common ones have opcodes of their own: the
        /// `v128_binary` list).
        V128Binary { op: SimdBinary, d: Slot, a: Slot, b: Slot },
        /// v128 ternary operation; third operand in `Arg.x`.
        V128Ternary { op: SimdTernary, d: Slot, a: Slot, b: Slot },
        /// v128 -> i32 test.
        V128Test { op: SimdTest, d: Slot, a: Slot },
        /// v128 shift by the i32 in `b`.
        V128Shift { op: SimdShift, d: Slot, a: Slot, b: Slot },
        /// Scalar splat.
        V128Splat { op: SimdSplat, d: Slot, a: Slot },
        /// Lane extract.
        V128Extract { op: SimdExtract, lane: u8, d: Slot, a: Slot },
        /// Lane replace with the scalar in `b`.
        V128Replace { op: SimdReplace, lane: u8, d: Slot, a: Slot, b: Slot },
        /// `i8x16.shuffle` with lanes `shuffles[Arg.x]`.
        V128Shuffle { d: Slot, a: Slot, b: Slot },
        /// SIMD load variants (splat, extend, zero); kind and memarg in `memargs[m]`.
        V128LoadExt { d: Slot, a: Slot, m: u32 },
        /// Atomic load; kind (`MemKind::Atomic`) and memarg in `memargs[m]`.
        AtomicLoad { d: Slot, a: Slot, m: u32 },
        /// Atomic store of `v`; memarg in `memargs[m]`.
        AtomicStore { a: Slot, v: Slot, m: u32 },
        /// Atomic read-modify-write with operand `v` (or `memory.atomic.notify` with count `v`):
        /// `d` = the old value (the number of waiters woken); memarg in `memargs[Arg.x]`.
        AtomicRmw { d: Slot, a: Slot, v: Slot },
        /// Atomic compare-exchange of expected `e` with replacement `Arg.x` (or
        /// `memory.atomic.waitN` of expected `e` with timeout `Arg.x`): `d` = the old value (the
        /// wait's result); memarg in `memargs[Arg.y]`.
        AtomicCmpxchg { d: Slot, a: Slot, e: Slot },
        /// `atomic.fence`.
        AtomicFence,
        /// A garbage-collection instruction (see [`GcOp`] for its operands), run outside the
        /// hot loop.
        Gc { op: GcOp, d: Slot, a: Slot },
        /// `d = ref.test` of the reference in `a` against `casts[c]`.
        RefTest { d: Slot, a: Slot, c: u32 },
        /// `d = ref.cast` of the reference in `a` to `casts[c]` (traps if it is not one).
        RefCast { d: Slot, a: Slot, c: u32 },
        /// `br_on_cast`/`br_on_cast_fail`: jump to `t` when whether the reference in `a` is a
        /// `casts[c]` equals `casts[c].jump_if`.
        BrOnCast { a: Slot, t: u32, c: u32 },
        /// Wide arithmetic on the operands at `s..` (four for `add128`/`sub128`, two for the
        /// multiplications); the two i64 results (low, high) land at `s` and `s + 1`.
        Wide { s: Slot, op: WideOp },
    }
}

/// The garbage-collection operations of [`Instr::Gc`], with where their operands are: `d` and
/// `a` are the instruction's slots, `x`, `y`, `z` those of the `Arg` word that follows it (every
/// `Gc` instruction has one). Type operands are module type indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GcOp {
    /// `d = struct.new x` of the fields at `a..`.
    StructNew,
    /// `d = struct.new_default x`.
    StructNewDefault,
    /// `d = struct.get x y` of the struct in `a`; `_s`/`_u` extend packed fields.
    StructGet,
    StructGetS,
    StructGetU,
    /// `struct.set x y` of the struct in `d` to the value in `a`.
    StructSet,
    /// `d = array.new x` of `a` repeated (length in `y`).
    ArrayNew,
    /// `d = array.new_default x` of length `a`.
    ArrayNewDefault,
    /// `d = array.new_fixed x` of the `y` elements at `a..`.
    ArrayNewFixed,
    /// `d = array.new_data x` of data segment `z` from offset `a`, length `y`.
    ArrayNewData,
    /// `d = array.new_elem x` of element segment `z` from offset `a`, length `y`.
    ArrayNewElem,
    /// `d = array.get` of the array in `a` at index `x`; `_s`/`_u` extend packed elements.
    ArrayGet,
    ArrayGetS,
    ArrayGetU,
    /// `array.set` of the array in `d` at index `a` to the value in `x`.
    ArraySet,
    /// `d = array.len` of the array in `a`.
    ArrayLen,
    /// `array.fill` of the array in `d` from index `a` with the value in `x`, `y` elements.
    ArrayFill,
    /// `array.copy` to the array in `d` at `a` from the array in `x` at `y`, `z` elements.
    ArrayCopy,
    /// `array.init_data` of the array in `d` from index `a`: `y` elements from offset `x` of
    /// data segment `z`.
    ArrayInitData,
    /// As `ArrayInitData`, of element segment `z`.
    ArrayInitElem,
    /// `d = ref.i31` of the i32 in `a`.
    RefI31,
    /// `d = i31.get_s`/`i31.get_u` of the i31 in `a`.
    I31GetS,
    I31GetU,
}

impl GcOp {
    /// Whether the operation allocates (and so may collect).
    pub(crate) fn allocates(self) -> bool {
        matches!(
            self,
            GcOp::StructNew
                | GcOp::StructNewDefault
                | GcOp::ArrayNew
                | GcOp::ArrayNewDefault
                | GcOp::ArrayNewFixed
                | GcOp::ArrayNewData
                | GcOp::ArrayNewElem
        )
    }
}

/// A reference type tested or cast to, and for `BrOnCast` which outcome jumps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cast {
    pub(crate) ty: crate::types::RefType,
    pub(crate) jump_if: bool,
}

/// Which frame slots hold references at the points where a collection can happen (calls and
/// allocations), for the collector to find its roots precisely.
///
/// Every reference-typed local is a root at every such point; the operand-stack temporaries
/// that hold references are recorded per point, by the index of the instruction the frame
/// resumes at (the one after the call or allocation and its `Arg` words). A function whose
/// maps would take more than [`StackMaps::MAX_SLOTS`] stack entries to build (so translation
/// stays linear) keeps none and is scanned conservatively (every slot of its frame a candidate), which can only keep garbage alive
/// longer: references carry a tag and a generation, so no integer can resurrect a freed object.
#[derive(Debug, Default)]
pub(crate) struct StackMaps {
    /// Slots of the reference-typed locals.
    pub(crate) ref_locals: Box<[Slot]>,
    pcs: Box<[u32]>,
    /// End of each point's entries in `slots` (its start is the previous point's end).
    ends: Box<[u32]>,
    slots: Box<[Slot]>,
    /// The maps were too large: scan the whole frame.
    pub(crate) conservative: bool,
}

impl StackMaps {
    /// The most stack entries building one function's maps may examine (and so the most
    /// entries its maps may have).
    pub(crate) const MAX_SLOTS: usize = 1 << 20;

    /// The temporaries holding references when the frame resumes at `pc`.
    pub(crate) fn temps_at(&self, pc: u32) -> &[Slot] {
        match self.pcs.binary_search(&pc) {
            Ok(k) => {
                let start = if k == 0 { 0 } else { self.ends[k - 1] as usize };
                &self.slots[start..self.ends[k] as usize]
            }
            Err(_) => &[],
        }
    }
}

/// Collects [`StackMaps`] during translation.
#[derive(Default)]
pub(crate) struct StackMapBuilder {
    pcs: Vec<u32>,
    ends: Vec<u32>,
    slots: Vec<Slot>,
    /// Stack entries examined so far.
    work: usize,
    conservative: bool,
}

impl StackMapBuilder {
    /// Records the temporaries `temps` holding references at resume point `pc` (points with
    /// none are not recorded), found among `examined` stack entries.
    pub(crate) fn record(&mut self, pc: u32, examined: usize, temps: impl Iterator<Item = Slot>) {
        self.work = self.work.saturating_add(examined);
        if self.conservative {
            return;
        }
        if self.work > StackMaps::MAX_SLOTS {
            *self = StackMapBuilder { conservative: true, ..Default::default() };
            return;
        }
        let before = self.slots.len();
        self.slots.extend(temps);
        if self.slots.len() > StackMaps::MAX_SLOTS {
            *self = StackMapBuilder { conservative: true, ..Default::default() };
            return;
        }
        if self.slots.len() > before {
            self.pcs.push(pc);
            self.ends.push(self.slots.len() as u32);
        }
    }

    pub(crate) fn finish(self, ref_locals: Vec<Slot>) -> StackMaps {
        StackMaps {
            ref_locals: ref_locals.into(),
            pcs: self.pcs.into(),
            ends: self.ends.into(),
            slots: self.slots.into(),
            conservative: self.conservative,
        }
    }
}

/// The wide-arithmetic operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WideOp {
    Add128,
    Sub128,
    MulWideS,
    MulWideU,
}

impl WideOp {
    /// How many i64 operands the operation takes.
    pub(crate) fn arity(self) -> usize {
        match self {
            WideOp::Add128 | WideOp::Sub128 => 4,
            WideOp::MulWideS | WideOp::MulWideU => 2,
        }
    }

    /// The result (low, high) for operands `x` (only the first `arity` are read).
    pub(crate) fn eval(self, x: [u64; 4]) -> (u64, u64) {
        let pair = |lo: u64, hi: u64| (lo as u128) | ((hi as u128) << 64);
        let r = match self {
            WideOp::Add128 => pair(x[0], x[1]).wrapping_add(pair(x[2], x[3])),
            WideOp::Sub128 => pair(x[0], x[1]).wrapping_sub(pair(x[2], x[3])),
            WideOp::MulWideS => (x[0] as i64 as i128).wrapping_mul(x[1] as i64 as i128) as u128,
            WideOp::MulWideU => (x[0] as u128) * (x[1] as u128),
        };
        (r as u64, (r >> 64) as u64)
    }
}

/// The integer compares, numbered as the compare-and-branch and add-and-branch instructions
/// are declared: i32 first (`0..I64`), then the same ten for i64 (`I64 + k`).
pub(crate) mod cmp {
    pub(crate) const EQ: usize = 0;
    pub(crate) const NE: usize = 1;
    pub(crate) const LT_S: usize = 2;
    pub(crate) const LT_U: usize = 3;
    pub(crate) const GT_S: usize = 4;
    pub(crate) const GT_U: usize = 5;
    pub(crate) const LE_S: usize = 6;
    pub(crate) const LE_U: usize = 7;
    pub(crate) const GE_S: usize = 8;
    pub(crate) const GE_U: usize = 9;
    /// The number of the first i64 compare.
    pub(crate) const I64: usize = 10;

    /// The compare that holds for `(y, x)` exactly when `k` holds for `(x, y)`.
    pub(crate) fn swapped(k: usize) -> usize {
        let (base, c) = (k - k % I64, k % I64);
        base + match c {
            LT_S => GT_S,
            LT_U => GT_U,
            GT_S => LT_S,
            GT_U => LT_U,
            LE_S => GE_S,
            LE_U => GE_U,
            GE_S => LE_S,
            GE_U => LE_U,
            _ => c,
        }
    }
}

/// The right operand of a compare: a slot or an immediate (sign-extended to 64 bits).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Rhs {
    Slot(Slot),
    Imm(i64),
}

/// An add (`I32Add`, `I32AddI`, `I64Add`, or `I64AddI` of a 32-bit immediate) and the
/// compare-and-branch that follows it, as one instruction, when the branch compares the sum
/// (on either side) with a slot or, after an add of an immediate, with an immediate. `None`
/// for every other pair, and when a slot does not fit 16 bits or an immediate its field.
pub(crate) fn fuse_add_branch(add: Instr, br: Instr) -> Option<Instr> {
    let (wide, d, a, b) = match add {
        Instr::I32Add { d, a, b } => (false, d, a, Rhs::Slot(b)),
        Instr::I32AddI { d, a, i } => (false, d, a, Rhs::Imm(i.into())),
        Instr::I64Add { d, a, b } => (true, d, a, Rhs::Slot(b)),
        Instr::I64AddI { s: 0, d, a, i } => (true, d, a, Rhs::Imm(i.into())),
        _ => return None,
    };
    let (k, x, y, t) = br.compare_branch()?;
    if (k >= cmp::I64) != wide {
        return None;
    }
    // The sum on the left: `c cmp d` is `d cmp' c` for the swapped compare.
    let (k, c) = match (x == d, y) {
        (true, _) => (k, y),
        (false, Rhs::Slot(y)) if y == d => (cmp::swapped(k), Rhs::Slot(x)),
        _ => return None,
    };
    let s = |v: Slot| u16::try_from(v).ok();
    let (d, a) = (s(d)?, s(a)?);
    match (b, c) {
        (Rhs::Slot(b), Rhs::Slot(c)) => Some(Instr::add_branch(k, d, a, s(b)?, s(c)?, t)),
        (Rhs::Imm(i), Rhs::Slot(c)) => Some(Instr::addi_branch(k, d, a, s(c)?, i as i32, t)),
        (Rhs::Imm(i), Rhs::Imm(j)) => {
            Some(Instr::addi_branch_imm(k, d, a, i16::try_from(i).ok()?, i32::try_from(j).ok()?, t))
        }
        (Rhs::Slot(_), Rhs::Imm(_)) => None,
    }
}

/// The number of memory accesses [`memory_access`] numbers.
pub(crate) const MEMORY_ACCESSES: usize = 6;

/// A memory 0 access that pairs with another (see [`pair_memory_accesses`]): its number
/// (`I32Load`, `I64Load`, `I32Load8U`, `I32Store`, `I64Store`, `I32Store8`: 0 to 5) and its
/// operands (a load's `d, a, o`, a store's `a, v, o`).
pub(crate) fn memory_access(ins: Instr) -> Option<(usize, Slot, Slot, u32)> {
    match ins {
        Instr::I32Load { d, a, o } => Some((0, d, a, o)),
        Instr::I64Load { d, a, o } => Some((1, d, a, o)),
        Instr::I32Load8U { d, a, o } => Some((2, d, a, o)),
        Instr::I32Store { a, v, o } => Some((3, a, v, o)),
        Instr::I64Store { a, v, o } => Some((4, a, v, o)),
        Instr::I32Store8 { a, v, o } => Some((5, a, v, o)),
        _ => None,
    }
}

/// The largest wasm offset of a memory 0 access the translator gives its own instruction
/// (larger ones go through the memory-argument table): the offset plus the access's size, up
/// to 16 bytes, must fit the instruction's 32-bit field ([`encode_access_ends`]).
pub(crate) const MAX_FAST_OFFSET: u64 = u32::MAX as u64 - 16;

/// The size in bytes of the memory access [`memory_access`] numbers `k`.
fn memory_access_size(k: usize) -> u32 {
    const SIZES: [u32; MEMORY_ACCESSES] = [4, 8, 1, 4, 8, 1];
    SIZES[k]
}

/// Turns every memory 0 access's wasm offset into the end of the bytes it accesses relative
/// to its address (offset plus size; see [`Instr`]). The last step of translation: every
/// comparison of offsets the translator makes is between wasm offsets. Offsets are at most
/// [`MAX_FAST_OFFSET`], so the sums fit.
pub(crate) fn encode_access_ends(code: &mut [Instr]) {
    map_access_offsets(code, |o, size| o + size);
}

/// The inverse of [`encode_access_ends`]: the wasm offsets back (for tests that read the code
/// as the translator built it).
#[cfg(test)]
pub(crate) fn decode_access_ends(code: &mut [Instr]) {
    map_access_offsets(code, |o, size| o - size);
}

/// Replaces each memory 0 access's offset field `o` by `f(o, size)`.
fn map_access_offsets(code: &mut [Instr], f: impl Fn(u32, u32) -> u32) {
    let mut i = 0;
    while i < code.len() {
        // The access's size, and for the two-access instructions the size of the access whose
        // offset is in the `Arg` word that follows.
        let (field, size, second): (Option<&mut u32>, u32, Option<u32>) = match &mut code[i] {
            Instr::I32Load8S { o, .. }
            | Instr::I32Load8U { o, .. }
            | Instr::I64Load8S { o, .. }
            | Instr::I64Load8U { o, .. }
            | Instr::I32Store8 { o, .. }
            | Instr::I32Store8I { o, .. } => (Some(o), 1, None),
            Instr::I32Load16S { o, .. }
            | Instr::I32Load16U { o, .. }
            | Instr::I64Load16S { o, .. }
            | Instr::I64Load16U { o, .. }
            | Instr::I32Store16 { o, .. }
            | Instr::I32Store16I { o, .. } => (Some(o), 2, None),
            Instr::I32Load { o, .. }
            | Instr::I64Load32S { o, .. }
            | Instr::I64Load32U { o, .. }
            | Instr::I32Store { o, .. }
            | Instr::I64Store32 { o, .. }
            | Instr::I32StoreI { o, .. }
            | Instr::I32LoadPlusI { o, .. }
            | Instr::I32LoadK { o, .. }
            | Instr::I32LoadThenAddI { o, .. }
            | Instr::I32RmwAddI { o, .. }
            | Instr::I32RmwAdd { o, .. }
            | Instr::I32RmwSub { o, .. }
            | Instr::I32RmwAnd { o, .. }
            | Instr::I32RmwOr { o, .. }
            | Instr::I32RmwXor { o, .. } => (Some(o), 4, None),
            Instr::I64Load { o, .. }
            | Instr::I64Store { o, .. }
            | Instr::I64StoreThenAddI { o, .. }
            | Instr::I64StoreI { o, .. }
            | Instr::F64AddLoad { o, .. }
            | Instr::F64SubLoad { o, .. }
            | Instr::F64MulLoad { o, .. }
            | Instr::F64DivLoad { o, .. } => (Some(o), 8, None),
            Instr::V128Load { o, .. } | Instr::V128Store { o, .. } => (Some(o), 16, None),
            // The byte load's offset is in the `Arg` word.
            Instr::BrTableLoad8ULoadShlAddI { .. }
            | Instr::ConstBrTableLoad8ULoadShlAddI { .. } => (None, 0, Some(1)),
            ins => match ins.mem_pair_offset_mut() {
                Some((k, o)) => (
                    Some(o),
                    memory_access_size(k / MEMORY_ACCESSES),
                    Some(memory_access_size(k % MEMORY_ACCESSES)),
                ),
                None => (None, 0, None),
            },
        };
        if let Some(o) = field {
            *o = f(*o, size);
        }
        i += 1;
        if let Some(size) = second {
            match &mut code[i] {
                Instr::Arg { z, .. } => *z = f(*z, size),
                other => unreachable!("an Arg word follows a two-access instruction: {other:?}"),
            }
            i += 1;
        }
    }
}

/// Two consecutive memory 0 accesses as one instruction and its `Arg` word (the same two
/// words, so no index moves): two accesses [`memory_access`] numbers, or an indexed byte load
/// and an indexed byte store (a byte copy loop); `None` for anything else.
pub(crate) fn pair_memory_accesses(first: Instr, second: Instr) -> Option<(Instr, Instr)> {
    if let (Instr::I32Load8UIdx { k, d, a, b }, Instr::I32Store8Idx { k: j, a: x, b: y, v: z }) =
        (first, second)
    {
        return Some((Instr::MemLd8UIdxSt8Idx { k, j, d, a, b }, Instr::Arg { x, y, z }));
    }
    let (k1, p, q, o) = memory_access(first)?;
    let (k2, x, y, z) = memory_access(second)?;
    Some((Instr::mem_pair(k1 * MEMORY_ACCESSES + k2, p, q, o), Instr::Arg { x, y, z }))
}

/// An f64 add, sub, mul or div as its number for [`f64_pair`] (0 to 3) and its operands.
pub(crate) fn f64_arith(ins: Instr) -> Option<(u8, Slot, Slot)> {
    match ins {
        Instr::F64Add { a, b, .. } => Some((0, a, b)),
        Instr::F64Sub { a, b, .. } => Some((1, a, b)),
        Instr::F64Mul { a, b, .. } => Some((2, a, b)),
        Instr::F64Div { a, b, .. } => Some((3, a, b)),
        _ => None,
    }
}

/// The fused instruction for the f64 operation `inner` feeding `outer` (numbered as by
/// [`f64_arith`]), the inner result being the outer operation's left operand (`left`) or its
/// right: the forms are declared inner-major, the `...R` ones after the others.
pub(crate) fn f64_pair(inner: u8, outer: u8, left: bool, d: Slot, a: Slot, b: Slot) -> Instr {
    assert!(inner < 4 && outer < 4, "f64 operations are numbered 0 to 3");
    let k = usize::from(!left) * 16 + usize::from(inner) * 4 + usize::from(outer);
    Instr::f64_pair_form(k, d, a, b)
}

/// The fused compare-and-select form of a compare instruction (`SelI32GtU` for `I32GtU`, ...),
/// with `d` to be set; `None` if `ins` is not a register-register compare.
pub(crate) fn fuse_compare_select(ins: Instr) -> Option<Instr> {
    macro_rules! map {
        ($($cmp:ident => $sel:ident),* $(,)?) => {
            match ins {
                $(Instr::$cmp { a, b, .. } => Some(Instr::$sel { d: 0, a, b }),)*
                _ => None,
            }
        };
    }
    map!(
        I32Eq => SelI32Eq,
        I32Ne => SelI32Ne,
        I32LtS => SelI32LtS,
        I32LtU => SelI32LtU,
        I32GtS => SelI32GtS,
        I32GtU => SelI32GtU,
        I32LeS => SelI32LeS,
        I32LeU => SelI32LeU,
        I32GeS => SelI32GeS,
        I32GeU => SelI32GeU,
        I64Eq => SelI64Eq,
        I64Ne => SelI64Ne,
        I64LtS => SelI64LtS,
        I64LtU => SelI64LtU,
        I64GtS => SelI64GtS,
        I64GtU => SelI64GtU,
        I64LeS => SelI64LeS,
        I64LeU => SelI64LeU,
        I64GeS => SelI64GeS,
        I64GeU => SelI64GeU,
    )
}

/// The fused compare-and-branch form of a compare instruction: jump when the compare holds, or
/// (`negate`) when it fails. `None` if `ins` is not a fusable compare.
pub(crate) fn fuse_compare_branch(ins: Instr, negate: bool, t: u32) -> Option<Instr> {
    Some(match ins {
        Instr::I32Eq { a, b, .. } => {
            if negate {
                Instr::BrI32Ne { a, b, t }
            } else {
                Instr::BrI32Eq { a, b, t }
            }
        }
        Instr::I32EqI { a, i, .. } => {
            if negate {
                Instr::BrI32NeI { a, i, t }
            } else {
                Instr::BrI32EqI { a, i, t }
            }
        }
        Instr::I32Ne { a, b, .. } => {
            if negate {
                Instr::BrI32Eq { a, b, t }
            } else {
                Instr::BrI32Ne { a, b, t }
            }
        }
        Instr::I32NeI { a, i, .. } => {
            if negate {
                Instr::BrI32EqI { a, i, t }
            } else {
                Instr::BrI32NeI { a, i, t }
            }
        }
        Instr::I32LtS { a, b, .. } => {
            if negate {
                Instr::BrI32GeS { a, b, t }
            } else {
                Instr::BrI32LtS { a, b, t }
            }
        }
        Instr::I32LtSI { a, i, .. } => {
            if negate {
                Instr::BrI32GeSI { a, i, t }
            } else {
                Instr::BrI32LtSI { a, i, t }
            }
        }
        Instr::I32LtU { a, b, .. } => {
            if negate {
                Instr::BrI32GeU { a, b, t }
            } else {
                Instr::BrI32LtU { a, b, t }
            }
        }
        Instr::I32LtUI { a, i, .. } => {
            if negate {
                Instr::BrI32GeUI { a, i, t }
            } else {
                Instr::BrI32LtUI { a, i, t }
            }
        }
        Instr::I32GtS { a, b, .. } => {
            if negate {
                Instr::BrI32LeS { a, b, t }
            } else {
                Instr::BrI32GtS { a, b, t }
            }
        }
        Instr::I32GtSI { a, i, .. } => {
            if negate {
                Instr::BrI32LeSI { a, i, t }
            } else {
                Instr::BrI32GtSI { a, i, t }
            }
        }
        Instr::I32GtU { a, b, .. } => {
            if negate {
                Instr::BrI32LeU { a, b, t }
            } else {
                Instr::BrI32GtU { a, b, t }
            }
        }
        Instr::I32GtUI { a, i, .. } => {
            if negate {
                Instr::BrI32LeUI { a, i, t }
            } else {
                Instr::BrI32GtUI { a, i, t }
            }
        }
        Instr::I32LeS { a, b, .. } => {
            if negate {
                Instr::BrI32GtS { a, b, t }
            } else {
                Instr::BrI32LeS { a, b, t }
            }
        }
        Instr::I32LeSI { a, i, .. } => {
            if negate {
                Instr::BrI32GtSI { a, i, t }
            } else {
                Instr::BrI32LeSI { a, i, t }
            }
        }
        Instr::I32LeU { a, b, .. } => {
            if negate {
                Instr::BrI32GtU { a, b, t }
            } else {
                Instr::BrI32LeU { a, b, t }
            }
        }
        Instr::I32LeUI { a, i, .. } => {
            if negate {
                Instr::BrI32GtUI { a, i, t }
            } else {
                Instr::BrI32LeUI { a, i, t }
            }
        }
        Instr::I32GeS { a, b, .. } => {
            if negate {
                Instr::BrI32LtS { a, b, t }
            } else {
                Instr::BrI32GeS { a, b, t }
            }
        }
        Instr::I32GeSI { a, i, .. } => {
            if negate {
                Instr::BrI32LtSI { a, i, t }
            } else {
                Instr::BrI32GeSI { a, i, t }
            }
        }
        Instr::I32GeU { a, b, .. } => {
            if negate {
                Instr::BrI32LtU { a, b, t }
            } else {
                Instr::BrI32GeU { a, b, t }
            }
        }
        Instr::I32GeUI { a, i, .. } => {
            if negate {
                Instr::BrI32LtUI { a, i, t }
            } else {
                Instr::BrI32GeUI { a, i, t }
            }
        }
        Instr::I64Eq { a, b, .. } => {
            if negate {
                Instr::BrI64Ne { a, b, t }
            } else {
                Instr::BrI64Eq { a, b, t }
            }
        }
        Instr::I64EqI { s, a, i, .. } => {
            if negate {
                Instr::BrI64NeI { s, a, i, t }
            } else {
                Instr::BrI64EqI { s, a, i, t }
            }
        }
        Instr::I64Ne { a, b, .. } => {
            if negate {
                Instr::BrI64Eq { a, b, t }
            } else {
                Instr::BrI64Ne { a, b, t }
            }
        }
        Instr::I64NeI { s, a, i, .. } => {
            if negate {
                Instr::BrI64EqI { s, a, i, t }
            } else {
                Instr::BrI64NeI { s, a, i, t }
            }
        }
        Instr::I64LtS { a, b, .. } => {
            if negate {
                Instr::BrI64GeS { a, b, t }
            } else {
                Instr::BrI64LtS { a, b, t }
            }
        }
        Instr::I64LtSI { s, a, i, .. } => {
            if negate {
                Instr::BrI64GeSI { s, a, i, t }
            } else {
                Instr::BrI64LtSI { s, a, i, t }
            }
        }
        Instr::I64LtU { a, b, .. } => {
            if negate {
                Instr::BrI64GeU { a, b, t }
            } else {
                Instr::BrI64LtU { a, b, t }
            }
        }
        Instr::I64LtUI { s, a, i, .. } => {
            if negate {
                Instr::BrI64GeUI { s, a, i, t }
            } else {
                Instr::BrI64LtUI { s, a, i, t }
            }
        }
        Instr::I64GtS { a, b, .. } => {
            if negate {
                Instr::BrI64LeS { a, b, t }
            } else {
                Instr::BrI64GtS { a, b, t }
            }
        }
        Instr::I64GtSI { s, a, i, .. } => {
            if negate {
                Instr::BrI64LeSI { s, a, i, t }
            } else {
                Instr::BrI64GtSI { s, a, i, t }
            }
        }
        Instr::I64GtU { a, b, .. } => {
            if negate {
                Instr::BrI64LeU { a, b, t }
            } else {
                Instr::BrI64GtU { a, b, t }
            }
        }
        Instr::I64GtUI { s, a, i, .. } => {
            if negate {
                Instr::BrI64LeUI { s, a, i, t }
            } else {
                Instr::BrI64GtUI { s, a, i, t }
            }
        }
        Instr::I64LeS { a, b, .. } => {
            if negate {
                Instr::BrI64GtS { a, b, t }
            } else {
                Instr::BrI64LeS { a, b, t }
            }
        }
        Instr::I64LeSI { s, a, i, .. } => {
            if negate {
                Instr::BrI64GtSI { s, a, i, t }
            } else {
                Instr::BrI64LeSI { s, a, i, t }
            }
        }
        Instr::I64LeU { a, b, .. } => {
            if negate {
                Instr::BrI64GtU { a, b, t }
            } else {
                Instr::BrI64LeU { a, b, t }
            }
        }
        Instr::I64LeUI { s, a, i, .. } => {
            if negate {
                Instr::BrI64GtUI { s, a, i, t }
            } else {
                Instr::BrI64LeUI { s, a, i, t }
            }
        }
        Instr::I64GeS { a, b, .. } => {
            if negate {
                Instr::BrI64LtS { a, b, t }
            } else {
                Instr::BrI64GeS { a, b, t }
            }
        }
        Instr::I64GeSI { s, a, i, .. } => {
            if negate {
                Instr::BrI64LtSI { s, a, i, t }
            } else {
                Instr::BrI64GeSI { s, a, i, t }
            }
        }
        Instr::I64GeU { a, b, .. } => {
            if negate {
                Instr::BrI64LtU { a, b, t }
            } else {
                Instr::BrI64GeU { a, b, t }
            }
        }
        Instr::I64GeUI { s, a, i, .. } => {
            if negate {
                Instr::BrI64LtUI { s, a, i, t }
            } else {
                Instr::BrI64GeUI { s, a, i, t }
            }
        }
        Instr::I32Eqz { a, .. } => {
            if negate {
                Instr::BrIfNez { c: a, t, h: 0 }
            } else {
                Instr::BrIfEqz { c: a, t, h: 0 }
            }
        }
        _ => return None,
    })
}

/// The same operation with its operands swapped (`a op b` == `b op' a`), for a binary
/// instruction that has such a form: commutative operations map to themselves, ordered
/// comparisons to their mirror. Lets a constant left operand become an immediate.
pub(crate) fn commuted(ins: Instr) -> Option<Instr> {
    macro_rules! mirror {
        ($($from:ident => $to:ident),* $(,)?) => {
            match ins {
                $(Instr::$from { d, a, b } => Some(Instr::$to { d, a: b, b: a }),)*
                _ => None,
            }
        };
    }
    mirror! {
        I32Add => I32Add, I32Mul => I32Mul, I32And => I32And, I32Or => I32Or,
        I32Xor => I32Xor, I32Eq => I32Eq, I32Ne => I32Ne,
        I32LtS => I32GtS, I32LtU => I32GtU, I32GtS => I32LtS, I32GtU => I32LtU,
        I32LeS => I32GeS, I32LeU => I32GeU, I32GeS => I32LeS, I32GeU => I32LeU,
        I64Add => I64Add, I64Mul => I64Mul, I64And => I64And, I64Or => I64Or,
        I64Xor => I64Xor, I64Eq => I64Eq, I64Ne => I64Ne,
        I64LtS => I64GtS, I64LtU => I64GtU, I64GtS => I64LtS, I64GtU => I64LtU,
        I64LeS => I64GeS, I64LeU => I64GeU, I64GeS => I64LeS, I64GeU => I64LeU,
    }
}

/// The immediate form of a binary instruction whose right operand is the constant `v`
/// (raw slot bits), if there is one and the constant fits. An ordered i64 comparison whose
/// constant does not fit may still have one through the neighbouring constant: `a > c` is
/// `a >= c + 1` (QuickJS compares values with `(tag << 32) | 0xffff_ffff`, whose successor is
/// `(tag + 1) << 32`); an `i64.and` keeps a mask whose complement fits (`0x7fff_ffff_ffff_ffff`)
/// as [`Instr::I64AndNotI`].
pub(crate) fn with_immediate(ins: Instr, v: u64) -> Option<Instr> {
    direct_immediate(ins, v).or_else(|| neighbour_immediate(ins, v))
}

/// [`with_immediate`] through the neighbouring constant or the complement (see there).
fn neighbour_immediate(ins: Instr, v: u64) -> Option<Instr> {
    let (u, x) = (v, v as i64);
    // `a op v` as `a op' w`: for each ordered comparison, the other one and the constant
    // next to `v` on the side that makes them equal, when that constant exists.
    let (other, w) = match ins {
        Instr::I64GtU { d, a, b } => (Instr::I64GeU { d, a, b }, u.checked_add(1)?),
        Instr::I64GeU { d, a, b } => (Instr::I64GtU { d, a, b }, u.checked_sub(1)?),
        Instr::I64LtU { d, a, b } => (Instr::I64LeU { d, a, b }, u.checked_sub(1)?),
        Instr::I64LeU { d, a, b } => (Instr::I64LtU { d, a, b }, u.checked_add(1)?),
        Instr::I64GtS { d, a, b } => (Instr::I64GeS { d, a, b }, x.checked_add(1)? as u64),
        Instr::I64GeS { d, a, b } => (Instr::I64GtS { d, a, b }, x.checked_sub(1)? as u64),
        Instr::I64LtS { d, a, b } => (Instr::I64LeS { d, a, b }, x.checked_sub(1)? as u64),
        Instr::I64LeS { d, a, b } => (Instr::I64LtS { d, a, b }, x.checked_add(1)? as u64),
        Instr::I64And { d, a, .. } => {
            let (i, s) = split_imm64(!x)?;
            return Some(Instr::I64AndNotI { s, d, a, i });
        }
        _ => return None,
    };
    direct_immediate(other, w)
}

fn direct_immediate(ins: Instr, v: u64) -> Option<Instr> {
    let i32_imm = v as u32 as i32;
    let i64_imm = split_imm64(v as i64);
    Some(match ins {
        Instr::I32Add { d, a, .. } => Instr::I32AddI { d, a, i: i32_imm },
        Instr::I32Mul { d, a, .. } => Instr::I32MulI { d, a, i: i32_imm },
        Instr::I32And { d, a, .. } => Instr::I32AndI { d, a, i: i32_imm },
        Instr::I32Or { d, a, .. } => Instr::I32OrI { d, a, i: i32_imm },
        Instr::I32Xor { d, a, .. } => Instr::I32XorI { d, a, i: i32_imm },
        Instr::I32Shl { d, a, .. } => Instr::I32ShlI { d, a, i: i32_imm },
        Instr::I32ShrS { d, a, .. } => Instr::I32ShrSI { d, a, i: i32_imm },
        Instr::I32ShrU { d, a, .. } => Instr::I32ShrUI { d, a, i: i32_imm },
        Instr::I32Rotl { d, a, .. } => Instr::I32RotlI { d, a, i: i32_imm },
        Instr::I32Rotr { d, a, .. } => Instr::I32RotrI { d, a, i: i32_imm },
        Instr::I32Eq { d, a, .. } => Instr::I32EqI { d, a, i: i32_imm },
        Instr::I32Ne { d, a, .. } => Instr::I32NeI { d, a, i: i32_imm },
        Instr::I32LtS { d, a, .. } => Instr::I32LtSI { d, a, i: i32_imm },
        Instr::I32LtU { d, a, .. } => Instr::I32LtUI { d, a, i: i32_imm },
        Instr::I32GtS { d, a, .. } => Instr::I32GtSI { d, a, i: i32_imm },
        Instr::I32GtU { d, a, .. } => Instr::I32GtUI { d, a, i: i32_imm },
        Instr::I32LeS { d, a, .. } => Instr::I32LeSI { d, a, i: i32_imm },
        Instr::I32LeU { d, a, .. } => Instr::I32LeUI { d, a, i: i32_imm },
        Instr::I32GeS { d, a, .. } => Instr::I32GeSI { d, a, i: i32_imm },
        Instr::I32GeU { d, a, .. } => Instr::I32GeUI { d, a, i: i32_imm },
        Instr::I64Add { d, a, .. } => {
            let (i, s) = i64_imm?;
            Instr::I64AddI { s, d, a, i }
        }
        Instr::I64Mul { d, a, .. } => {
            let (i, s) = i64_imm?;
            Instr::I64MulI { s, d, a, i }
        }
        Instr::I64And { d, a, .. } => {
            let (i, s) = i64_imm?;
            Instr::I64AndI { s, d, a, i }
        }
        Instr::I64Or { d, a, .. } => {
            let (i, s) = i64_imm?;
            Instr::I64OrI { s, d, a, i }
        }
        Instr::I64Xor { d, a, .. } => {
            let (i, s) = i64_imm?;
            Instr::I64XorI { s, d, a, i }
        }
        Instr::I64Shl { d, a, .. } => Instr::I64ShlI { d, a, i: (v & 63) as i32 },
        Instr::I64ShrS { d, a, .. } => Instr::I64ShrSI { d, a, i: (v & 63) as i32 },
        Instr::I64ShrU { d, a, .. } => Instr::I64ShrUI { d, a, i: (v & 63) as i32 },
        Instr::I64Rotl { d, a, .. } => Instr::I64RotlI { d, a, i: (v & 63) as i32 },
        Instr::I64Rotr { d, a, .. } => Instr::I64RotrI { d, a, i: (v & 63) as i32 },
        Instr::I64Eq { d, a, .. } => {
            let (i, s) = i64_imm?;
            Instr::I64EqI { s, d, a, i }
        }
        Instr::I64Ne { d, a, .. } => {
            let (i, s) = i64_imm?;
            Instr::I64NeI { s, d, a, i }
        }
        Instr::I64LtS { d, a, .. } => {
            let (i, s) = i64_imm?;
            Instr::I64LtSI { s, d, a, i }
        }
        Instr::I64LtU { d, a, .. } => {
            let (i, s) = i64_imm?;
            Instr::I64LtUI { s, d, a, i }
        }
        Instr::I64GtS { d, a, .. } => {
            let (i, s) = i64_imm?;
            Instr::I64GtSI { s, d, a, i }
        }
        Instr::I64GtU { d, a, .. } => {
            let (i, s) = i64_imm?;
            Instr::I64GtUI { s, d, a, i }
        }
        Instr::I64LeS { d, a, .. } => {
            let (i, s) = i64_imm?;
            Instr::I64LeSI { s, d, a, i }
        }
        Instr::I64LeU { d, a, .. } => {
            let (i, s) = i64_imm?;
            Instr::I64LeUI { s, d, a, i }
        }
        Instr::I64GeS { d, a, .. } => {
            let (i, s) = i64_imm?;
            Instr::I64GeSI { s, d, a, i }
        }
        Instr::I64GeU { d, a, .. } => {
            let (i, s) = i64_imm?;
            Instr::I64GeUI { s, d, a, i }
        }
        Instr::I32Sub { d, a, .. } => Instr::I32AddI { d, a, i: i32_imm.wrapping_neg() },
        Instr::I64Sub { d, a, .. } => {
            let (i, s) = split_imm64((v as i64).wrapping_neg())?;
            Instr::I64AddI { s, d, a, i }
        }
        _ => return None,
    })
}

/// A 64-bit constant as an immediate `(i, s)` with `v == (i as i64) << s`, if it has that form:
/// any constant that fits 32 bits signed (`s = 0`), and constants whose low bits are zero, such
/// as a tag in the high word (`6 << 32`) or a mask of it (`-1 << 32`).
pub(crate) fn split_imm64(v: i64) -> Option<(i32, u8)> {
    let s = if i32::try_from(v).is_ok() { 0 } else { v.trailing_zeros().min(63) as u8 };
    let i = i32::try_from(v >> s).ok()?;
    (i64::from(i) << s == v).then_some((i, s))
}

/// The kind of a generic load or store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MemKind {
    I32Load,
    I64Load,
    I32Load8S,
    I32Load8U,
    I32Load16S,
    I32Load16U,
    I64Load8S,
    I64Load8U,
    I64Load16S,
    I64Load16U,
    I64Load32S,
    I64Load32U,
    V128Load,
    I32Store,
    I64Store,
    I32Store8,
    I32Store16,
    I64Store32,
    V128Store,
    /// A SIMD load variant.
    Simd(SimdLoad),
    /// Lane load/store of `width` bytes at `lane`.
    Lane {
        width: u8,
        lane: u8,
    },
    /// An atomic access of `width` bytes (results zero-extended).
    Atomic {
        op: AtomicOp,
        width: u8,
    },
}

/// A memory argument that does not fit the fast path (other memory, 64-bit, large offset).
#[derive(Clone, Copy, Debug)]
pub(crate) struct MemArg {
    pub(crate) kind: MemKind,
    pub(crate) mem: u32,
    pub(crate) offset: u64,
    pub(crate) is64: bool,
}

/// One catch clause of a `try_table` or of a legacy `try`.
#[derive(Clone, Debug)]
pub(crate) struct Catch {
    /// Module tag index, or `None` for `catch_all`.
    pub(crate) tag: Option<u32>,
    /// Where the exception reference is written, if it is delivered (`catch_ref`,
    /// `catch_all_ref`: after the payload; a legacy `catch` whose body has a `rethrow`: in the
    /// slot the translator reserved below the payload).
    pub(crate) ref_dst: Option<Slot>,
    /// Where the payload is written.
    pub(crate) dst: Slot,
    /// The branch target.
    pub(crate) target: u32,
}

/// The handlers of one `try_table` or legacy `try`.
#[derive(Clone, Debug)]
pub(crate) struct Handler {
    pub(crate) catches: Box<[Catch]>,
    /// Where an exception no catch clause takes goes next (index in
    /// [`CompiledFunc::handlers`]), or `u32::MAX`: the caller. Normally the innermost enclosing
    /// handler; for a legacy `try ... delegate l`, the handler in force inside label `l`.
    pub(crate) parent: u32,
}

impl Handler {
    /// The innermost enclosing `try_table`, if any.
    pub(crate) fn parent(&self) -> Option<u32> {
        (self.parent != u32::MAX).then_some(self.parent)
    }
}

/// The shadow-stack prologue a function's code may start with (a stack pointer moved down,
/// or read with an offset added), which a call from the threaded handlers runs itself and
/// enters after (the code keeps the instruction for every other way in).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Prologue {
    None,
    /// `GlobalAddI { g, d, i }`.
    AddI {
        g: u32,
        d: Slot,
        i: i32,
    },
    /// `GlobalGetAddI { g, d, i }`.
    GetAddI {
        g: u32,
        d: Slot,
        i: i32,
    },
}

impl Prologue {
    /// The prologue `code` starts with, and the index of the instruction after it.
    pub(crate) fn of(code: &[Instr]) -> (Prologue, usize) {
        match code.first() {
            Some(&Instr::GlobalAddI { g, d, i }) => (Prologue::AddI { g, d, i }, 1),
            Some(&Instr::GlobalGetAddI { g, d, i }) => (Prologue::GetAddI { g, d, i }, 1),
            _ => (Prologue::None, 0),
        }
    }
}

/// A translated function.
///
/// `repr(C)` keeps what a call reads (the code, the zeroed slots, the frame size and how it
/// enters) together at the start, in the cache line the record's pointer leads to.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct CompiledFunc {
    pub(crate) code: Box<[Instr]>,
    /// The slots of the declared locals a frame must start with zeroed: those the function may
    /// read before it writes them, and every reference (see `translate/assigned.rs`).
    pub(crate) zeroed: Box<[Slot]>,
    /// Total frame size in slots (locals and the deepest operand stack).
    pub(crate) frame_slots: u32,
    /// The opcode of the instruction a call from a handler continues at: the first, or the
    /// second after a prologue the call runs itself. Read with the rest of this header, so the
    /// call's jump does not wait for the code's first instruction.
    pub(crate) entry_op: u16,
    /// The shadow-stack prologue the code starts with, if any.
    pub(crate) prologue: Prologue,
    pub(crate) memargs: Box<[MemArg]>,
    pub(crate) v128_consts: Box<[u128]>,
    pub(crate) shuffles: Box<[[u8; 16]]>,
    /// Exception handlers, one per `try_table`, in the order they open.
    pub(crate) handlers: Box<[Handler]>,
    /// Which handler is innermost where: `(pc, handler)` sorted by `pc`, meaning that from `pc`
    /// on (until the next entry) the innermost `try_table` is `handler` (`u32::MAX`: none).
    pub(crate) handler_map: Box<[(u32, u32)]>,
    /// Byte offset in the module of the wasm instruction each instruction came from.
    pub(crate) offsets: Box<[u32]>,
    /// Where the references are at calls and allocations (garbage collection roots).
    pub(crate) stack_maps: StackMaps,
    /// The targets of `RefTest`, `RefCast` and `BrOnCast`.
    pub(crate) casts: Box<[Cast]>,
}

impl CompiledFunc {
    /// What a call from the handlers reads of this code, for the function's record; no entry
    /// (`instrs` null: the loop makes such calls) when the frame or the prologue's slot does
    /// not fit 16 bits.
    pub(crate) fn entry(&self) -> InterpEntry {
        let Ok(frame_slots) = u16::try_from(self.frame_slots) else { return InterpEntry::NONE };
        let (prologue, d, g, i) = match self.prologue {
            Prologue::None => (InterpEntry::NO_PROLOGUE, 0, 0, 0),
            Prologue::AddI { g, d, i } => (InterpEntry::GLOBAL_ADD, d, g, i),
            Prologue::GetAddI { g, d, i } => (InterpEntry::GLOBAL_GET_ADD, d, g, i),
        };
        let Ok(prologue_d) = u16::try_from(d) else { return InterpEntry::NONE };
        InterpEntry {
            instrs: self.code.as_ptr().cast(),
            frame_slots,
            entry_op: self.entry_op,
            prologue,
            zeroes: !self.zeroed.is_empty(),
            prologue_d,
            prologue_g: g,
            prologue_i: i,
        }
    }

    /// The innermost `try_table` covering instruction `pc`, by binary search.
    pub(crate) fn innermost_handler(&self, pc: u32) -> Option<u32> {
        let k = self.handler_map.partition_point(|&(at, _)| at <= pc);
        let h = self.handler_map.get(k.checked_sub(1)?)?.1;
        (h != u32::MAX).then_some(h)
    }
}

impl Instr {
    /// The opcode: the variant's number in declaration order.
    pub(crate) const fn opcode(&self) -> u16 {
        // SAFETY: `Instr` is `repr(u16)`, so its first two bytes are the initialised tag.
        unsafe { *(self as *const Instr as *const u16) }
    }
}

/// The number of opcodes (the size of a table indexed by [`Instr::opcode`]).
pub(crate) const OPCODES: usize = Instr::OpcodeCount.opcode() as usize;

const _: () = assert!(std::mem::size_of::<Instr>() == 16, "Instr must stay 16 bytes");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_that_do_not_fit_take_a_neighbour_or_their_complement() {
        let (d, a, b) = (1, 2, 3);
        // `x > 0xffff_ffff` is `x >= 1 << 32`; `x <= (-9 << 32) - 1` is `x < -9 << 32`.
        let gt = with_immediate(Instr::I64GtU { d, a, b }, 0xffff_ffff);
        assert_eq!(gt, Some(Instr::I64GeUI { s: 32, d, a, i: 1 }));
        let le = with_immediate(Instr::I64LeS { d, a, b }, ((-9i64 << 32) - 1) as u64);
        assert_eq!(le, Some(Instr::I64LtSI { s: 32, d, a, i: -9 }));
        let ge = with_immediate(Instr::I64GeU { d, a, b }, (2 << 32) + 1);
        assert_eq!(ge, Some(Instr::I64GtUI { s: 33, d, a, i: 1 }));
        // No neighbour past the ends of the order.
        assert_eq!(with_immediate(Instr::I64LeS { d, a, b }, i64::MAX as u64), None);
        assert_eq!(with_immediate(Instr::I64GtS { d, a, b }, i64::MAX as u64), None);
        let ge = with_immediate(Instr::I64GeS { d, a, b }, (i64::MIN + 1) as u64);
        assert_eq!(ge, Some(Instr::I64GtSI { s: 63, d, a, i: -1 }));
        // Equality has no neighbour.
        assert_eq!(with_immediate(Instr::I64Eq { d, a, b }, 0xffff_ffff), None);
        let and = with_immediate(Instr::I64And { d, a, b }, i64::MAX as u64);
        assert_eq!(and, Some(Instr::I64AndNotI { s: 63, d, a, i: -1 }));
    }

    #[test]
    fn constants_split_into_a_sign_extended_word_and_a_shift() {
        assert_eq!(split_imm64(-5), Some((-5, 0)));
        assert_eq!(split_imm64(i64::from(i32::MAX)), Some((i32::MAX, 0)));
        assert_eq!(split_imm64(6 << 32), Some((3, 33)));
        assert_eq!(split_imm64(-1 << 32), Some((-1, 32)));
        assert_eq!(split_imm64(i64::MIN), Some((-1, 63)));
        assert_eq!(split_imm64(0x8000_0000), Some((1, 31)));
        // Bits on both sides of a 32-bit window: no immediate.
        assert_eq!(split_imm64(0x1122_3344_5566_7788), None);
        assert_eq!(split_imm64(0xffff_ffff), None);
        assert_eq!(split_imm64(-0x8000_0001), None);
        for v in [6 << 32, -9 << 32, 3 << 62, 0xfff8 << 48, 1 << 40, -3] {
            let (i, s) = split_imm64(v).unwrap();
            assert_eq!(i64::from(i) << s, v);
        }
    }

    #[test]
    fn opcodes_follow_declaration_order() {
        assert_eq!(Instr::I32Add { d: 0, a: 0, b: 0 }.opcode(), 0);
        assert_eq!(Instr::I32Sub { d: 1, a: 2, b: 3 }.opcode(), 1);
        assert!(Instr::Copy { d: 0, a: 0 }.opcode() < OPCODES as u16);
        assert_ne!(Instr::Copy { d: 0, a: 0 }.opcode(), Instr::Copy2 { d: 0, a: 0 }.opcode());
    }

    #[test]
    fn stack_maps_find_points_and_give_up_when_too_large() {
        let mut b = StackMapBuilder::default();
        b.record(3, 2, [4, 5].into_iter());
        b.record(7, 1, std::iter::empty());
        b.record(9, 1, [6].into_iter());
        let m = b.finish(vec![1]);
        assert_eq!(m.temps_at(3), &[4, 5]);
        assert_eq!(m.temps_at(7), &[] as &[Slot]);
        assert_eq!(m.temps_at(9), &[6]);
        assert_eq!(&*m.ref_locals, &[1]);
        assert!(!m.conservative);
        let mut b = StackMapBuilder::default();
        for pc in 0..3 {
            b.record(
                pc,
                StackMaps::MAX_SLOTS / 2,
                std::iter::repeat_n(0, StackMaps::MAX_SLOTS / 2),
            );
        }
        let m = b.finish(vec![]);
        assert!(m.conservative && m.temps_at(0).is_empty());
        // Examining entries counts, even when none is recorded.
        let mut b = StackMapBuilder::default();
        for pc in 0..3 {
            b.record(pc, StackMaps::MAX_SLOTS / 2, std::iter::empty());
        }
        let m = b.finish(vec![]);
        assert!(m.conservative && m.temps_at(0).is_empty());
    }

    #[test]
    fn wide_arithmetic() {
        assert_eq!(WideOp::Add128.eval([u64::MAX, 0, 1, 0]), (0, 1));
        assert_eq!(WideOp::Sub128.eval([0, 0, 1, 0]), (u64::MAX, u64::MAX));
        assert_eq!(WideOp::MulWideS.eval([-1i64 as u64, 2, 0, 0]), (-2i64 as u64, u64::MAX));
        assert_eq!(WideOp::MulWideU.eval([u64::MAX, 2, 0, 0]), (u64::MAX - 1, 1));
    }

    #[test]
    fn dst_of_binary_op_can_be_retargeted() {
        let mut i = Instr::I32Add { d: 5, a: 1, b: 2 };
        *i.dst_mut().unwrap() = 0;
        assert_eq!(i, Instr::I32Add { d: 0, a: 1, b: 2 });
        assert!(Instr::Return.clone().dst_mut().is_none());
    }
}
