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

    /// Evaluates the expression. `global` reads a global's raw value, `func_ref` turns a module
    /// function index into a reference value.
    pub(crate) fn eval(
        &self,
        global: &dyn Fn(u32) -> u128,
        func_ref: &mut dyn FnMut(u32) -> u64,
    ) -> u128 {
        let mut stack: Vec<u128> = Vec::with_capacity(4);
        for op in self.ops.iter() {
            let v = match *op {
                ConstOp::I32(v) => v as u32 as u128,
                ConstOp::I64(v) => v as u64 as u128,
                ConstOp::F32(v) => v as u128,
                ConstOp::F64(v) => v as u128,
                ConstOp::V128(v) => v,
                ConstOp::RefNull => 0,
                ConstOp::RefFunc(f) => func_ref(f) as u128,
                ConstOp::GlobalGet(g) => global(g),
                ConstOp::I32Add | ConstOp::I32Sub | ConstOp::I32Mul => {
                    let b = stack.pop().unwrap_or(0) as u32;
                    let a = stack.pop().unwrap_or(0) as u32;
                    let r = match op {
                        ConstOp::I32Add => a.wrapping_add(b),
                        ConstOp::I32Sub => a.wrapping_sub(b),
                        _ => a.wrapping_mul(b),
                    };
                    r as u128
                }
                ConstOp::I64Add | ConstOp::I64Sub | ConstOp::I64Mul => {
                    let b = stack.pop().unwrap_or(0) as u64;
                    let a = stack.pop().unwrap_or(0) as u64;
                    let r = match op {
                        ConstOp::I64Add => a.wrapping_add(b),
                        ConstOp::I64Sub => a.wrapping_sub(b),
                        _ => a.wrapping_mul(b),
                    };
                    r as u128
                }
            };
            stack.push(v);
        }
        stack.pop().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extended_const_arithmetic_wraps() {
        let e = ConstExpr {
            ops: vec![ConstOp::I32(i32::MAX), ConstOp::I32(2), ConstOp::I32Add].into(),
        };
        assert_eq!(e.eval(&|_| 0, &mut |_| 0), (i32::MAX as u32).wrapping_add(2) as u128);
        let e =
            ConstExpr { ops: vec![ConstOp::GlobalGet(3), ConstOp::I64(5), ConstOp::I64Mul].into() };
        assert_eq!(e.eval(&|g| g as u128 * 10, &mut |_| 0), 150);
    }
}
