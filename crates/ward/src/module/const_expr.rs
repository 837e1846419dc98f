//! Constant expressions (global initialisers, segment offsets, element items), decoded once at
//! compile time and evaluated at instantiation.

use crate::error::{Error, Result};

/// One instruction of a constant expression.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ConstOp {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    V128(u128),
    /// `ref.null`; the value is the null reference (0) of any type.
    RefNull,
    /// `ref.func idx` (module function index).
    RefFunc(u32),
    /// `global.get idx` (module global index).
    GlobalGet(u32),
    I32Add,
    I32Sub,
    I32Mul,
    I64Add,
    I64Sub,
    I64Mul,
    /// `ref.i31`.
    RefI31,
    /// `struct.new ty`: the fields are on the stack.
    StructNew(u32),
    /// `struct.new_default ty`.
    StructNewDefault(u32),
    /// `array.new ty`: the initial value and the length are on the stack.
    ArrayNew(u32),
    /// `array.new_default ty`: the length is on the stack.
    ArrayNewDefault(u32),
    /// `array.new_fixed ty n`: the `n` elements are on the stack.
    ArrayNewFixed(u32, u32),
}

/// The initial contents of an object a constant expression allocates.
pub(crate) enum ConstAlloc<'a> {
    /// Every field or element, in order (raw values; v128 whole).
    Values(&'a [u128]),
    /// `len` elements (or, with `len` = the field count, the fields of a struct) all `value`.
    Repeat { value: u128, len: u32 },
    /// An array's contents as little-endian bytes (`array.new_data`).
    Bytes(&'a [u8]),
}

/// What a constant expression reads and makes, supplied by the instance being created.
pub(crate) trait ConstEnv {
    /// The raw value of module global `g`.
    fn global(&self, g: u32) -> u128;
    /// The reference value of module function `f`.
    fn func_ref(&mut self, f: u32) -> u64;
    /// A new struct or array of module type `ty`; its reference value.
    fn alloc(&mut self, ty: u32, init: ConstAlloc<'_>) -> Result<u64>;
    /// The number of fields of struct type `ty` (module type index).
    fn field_count(&self, ty: u32) -> usize;
    /// The reference value of the i31 whose low 31 bits are `v`'s.
    fn i31(&self, v: u32) -> u64;
}

/// A decoded constant expression.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ConstExpr {
    pub(crate) ops: Box<[ConstOp]>,
}

impl ConstExpr {
    pub(crate) fn decode(expr: &wasmparser::ConstExpr<'_>) -> Result<ConstExpr> {
        use wasmparser::Operator as O;
        let mut ops = Vec::new();
        let mut reader = expr.get_operators_reader();
        while !reader.eof() {
            let op = reader.read().map_err(|e| Error::invalid(&e))?;
            ops.push(match op {
                O::I32Const { value } => ConstOp::I32(value),
                O::I64Const { value } => ConstOp::I64(value),
                O::F32Const { value } => ConstOp::F32(value.bits()),
                O::F64Const { value } => ConstOp::F64(value.bits()),
                O::V128Const { value } => ConstOp::V128(u128::from_le_bytes(*value.bytes())),
                O::RefNull { .. } => ConstOp::RefNull,
                O::RefFunc { function_index } => ConstOp::RefFunc(function_index),
                O::GlobalGet { global_index } => ConstOp::GlobalGet(global_index),
                O::I32Add => ConstOp::I32Add,
                O::I32Sub => ConstOp::I32Sub,
                O::I32Mul => ConstOp::I32Mul,
                O::I64Add => ConstOp::I64Add,
                O::I64Sub => ConstOp::I64Sub,
                O::I64Mul => ConstOp::I64Mul,
                O::RefI31 => ConstOp::RefI31,
                O::StructNew { struct_type_index } => ConstOp::StructNew(struct_type_index),
                O::StructNewDefault { struct_type_index } => {
                    ConstOp::StructNewDefault(struct_type_index)
                }
                O::ArrayNew { array_type_index } => ConstOp::ArrayNew(array_type_index),
                O::ArrayNewDefault { array_type_index } => {
                    ConstOp::ArrayNewDefault(array_type_index)
                }
                O::ArrayNewFixed { array_type_index, array_size } => {
                    ConstOp::ArrayNewFixed(array_type_index, array_size)
                }
                // The two hierarchies share one encoding: conversions change nothing.
                O::AnyConvertExtern | O::ExternConvertAny => continue,
                O::End => break,
                other => {
                    return Err(Error::Unsupported(format!(
                        "constant expression instruction {other:?}"
                    )))
                }
            });
        }
        Ok(ConstExpr { ops: ops.into() })
    }

    /// Evaluates the expression in `env`. Fails only if an allocation does.
    pub(crate) fn eval(&self, env: &mut dyn ConstEnv) -> Result<u128> {
        let mut stack: Vec<u128> = Vec::with_capacity(4);
        let pop = |stack: &mut Vec<u128>| stack.pop().unwrap_or(0);
        for op in self.ops.iter() {
            let v = match *op {
                ConstOp::I32(v) => v as u32 as u128,
                ConstOp::I64(v) => v as u64 as u128,
                ConstOp::F32(v) => v as u128,
                ConstOp::F64(v) => v as u128,
                ConstOp::V128(v) => v,
                ConstOp::RefNull => 0,
                ConstOp::RefFunc(f) => env.func_ref(f) as u128,
                ConstOp::GlobalGet(g) => env.global(g),
                ConstOp::I32Add | ConstOp::I32Sub | ConstOp::I32Mul => {
                    let b = pop(&mut stack) as u32;
                    let a = pop(&mut stack) as u32;
                    let r = match op {
                        ConstOp::I32Add => a.wrapping_add(b),
                        ConstOp::I32Sub => a.wrapping_sub(b),
                        _ => a.wrapping_mul(b),
                    };
                    r as u128
                }
                ConstOp::I64Add | ConstOp::I64Sub | ConstOp::I64Mul => {
                    let b = pop(&mut stack) as u64;
                    let a = pop(&mut stack) as u64;
                    let r = match op {
                        ConstOp::I64Add => a.wrapping_add(b),
                        ConstOp::I64Sub => a.wrapping_sub(b),
                        _ => a.wrapping_mul(b),
                    };
                    r as u128
                }
                ConstOp::RefI31 => env.i31(pop(&mut stack) as u32) as u128,
                ConstOp::StructNew(ty) | ConstOp::ArrayNewFixed(ty, _) => {
                    let n = match *op {
                        ConstOp::ArrayNewFixed(_, n) => n as usize,
                        _ => env.field_count(ty),
                    };
                    let values = stack.split_off(stack.len().saturating_sub(n));
                    env.alloc(ty, ConstAlloc::Values(&values))? as u128
                }
                ConstOp::StructNewDefault(ty) => {
                    let len = env.field_count(ty) as u32;
                    env.alloc(ty, ConstAlloc::Repeat { value: 0, len })? as u128
                }
                ConstOp::ArrayNew(ty) => {
                    let len = pop(&mut stack) as u32;
                    let value = pop(&mut stack);
                    env.alloc(ty, ConstAlloc::Repeat { value, len })? as u128
                }
                ConstOp::ArrayNewDefault(ty) => {
                    let len = pop(&mut stack) as u32;
                    env.alloc(ty, ConstAlloc::Repeat { value: 0, len })? as u128
                }
            };
            stack.push(v);
        }
        Ok(stack.pop().unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Globals hold ten times their index; allocations are recorded.
    #[derive(Default)]
    struct Env {
        allocs: Vec<(u32, Vec<u128>)>,
    }

    impl ConstEnv for Env {
        fn global(&self, g: u32) -> u128 {
            g as u128 * 10
        }
        fn func_ref(&mut self, f: u32) -> u64 {
            f as u64 + 100
        }
        fn alloc(&mut self, ty: u32, init: ConstAlloc<'_>) -> Result<u64> {
            let values = match init {
                ConstAlloc::Values(v) => v.to_vec(),
                ConstAlloc::Repeat { value, len } => vec![value; len as usize],
                ConstAlloc::Bytes(b) => b.iter().map(|&b| b.into()).collect(),
            };
            self.allocs.push((ty, values));
            Ok(self.allocs.len() as u64)
        }
        fn field_count(&self, _ty: u32) -> usize {
            2
        }
        fn i31(&self, v: u32) -> u64 {
            u64::from(v & 0x7fff_ffff) | 1 << 40
        }
    }

    #[test]
    fn extended_const_arithmetic_wraps() {
        let e = ConstExpr {
            ops: vec![ConstOp::I32(i32::MAX), ConstOp::I32(2), ConstOp::I32Add].into(),
        };
        let mut env = Env::default();
        assert_eq!(e.eval(&mut env).unwrap(), (i32::MAX as u32).wrapping_add(2) as u128);
        let e =
            ConstExpr { ops: vec![ConstOp::GlobalGet(3), ConstOp::I64(5), ConstOp::I64Mul].into() };
        assert_eq!(e.eval(&mut env).unwrap(), 150);
    }

    #[test]
    fn gc_constants_allocate_with_their_operands() {
        use ConstOp::*;
        let mut env = Env::default();
        let e = ConstExpr { ops: vec![I32(1), I32(2), StructNew(7)].into() };
        assert_eq!(e.eval(&mut env).unwrap(), 1);
        let e = ConstExpr { ops: vec![I32(5), I32(3), ArrayNew(8)].into() };
        assert_eq!(e.eval(&mut env).unwrap(), 2);
        let e = ConstExpr { ops: vec![I32(4), I32(6), I32(9), ArrayNewFixed(9, 3)].into() };
        assert_eq!(e.eval(&mut env).unwrap(), 3);
        assert_eq!(env.allocs[0], (7, vec![1, 2]));
        assert_eq!(env.allocs[1], (8, vec![5, 5, 5]));
        assert_eq!(env.allocs[2], (9, vec![4, 6, 9]));
        let e = ConstExpr { ops: vec![I32(-1), RefI31].into() };
        assert_eq!(e.eval(&mut env).unwrap() as u64, 0x7fff_ffff | 1 << 40);
    }
}
