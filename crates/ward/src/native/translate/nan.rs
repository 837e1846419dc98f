//! Deferred NaN canonicalisation of vector float results.
//!
//! Ward's vector float operations return the canonical NaN whenever a lane's result is a NaN
//! (`runtime::simd`). Canonicalising every result puts a compare and a blend after every
//! `f32x4.add`, on the critical path of any loop that accumulates. But most results only feed
//! other operations for which the NaN payload of an operand cannot matter: another arithmetic
//! operation (a NaN operand gives a NaN lane, which that operation canonicalises), a comparison,
//! a saturating truncation. So the translator leaves a result *pending*: the raw value stays
//! on the operand stack, and it is canonicalised only when something else is about to see it
//! (a store, a lane operation, a branch, a call). Observable results are those of eager
//! canonicalisation, bit for bit; the interpreter still canonicalises eagerly.
//!
//! A local can hold pending values too (a *lazy* local), so that an accumulator carried around
//! a loop is not canonicalised on each iteration: every read of it is pending. That is sound
//! only if everything it ever holds is canonical once canonicalised with the local's lane shape,
//! so [`lazy_locals`] admits a non-parameter `v128` local (which starts as zero, a canonical
//! value) only if every `local.set`/`local.tee` of it directly follows an operator whose result
//! is pending with one and the same lane shape.
//!
//! A local LLVM reuses for other vectors is not lazy for the whole function, but it can be lazy
//! inside an innermost loop (a loop that opens no construct): [`loop_candidates`] finds the
//! locals such a loop sets only with pending results of one lane shape, and the translator
//! makes them lazy there if the value they enter the loop with is canonical with that shape
//! (known when it was set in the straight-line code just before the loop). It canonicalises
//! them again wherever they could be seen outside the loop: before a branch out of it, before a
//! call or throw inside a `try` (a handler reads the locals), and at its `end`.

use cranelift_codegen::ir::{types, Type};
use wasmparser::{
    BlockType, ContType, FrameKind, FuncType, ModuleArity, Operator, OperatorsReader, RefType,
    SubType,
};

/// The lane shape (`F32X4` or `F64X2`) whose NaNs `op`'s result leaves uncanonicalised, for the
/// operators whose result is pending.
pub(super) fn pending_result(op: &Operator<'_>) -> Option<Type> {
    use Operator as O;
    Some(match op {
        O::F32x4Add
        | O::F32x4Sub
        | O::F32x4Mul
        | O::F32x4Div
        | O::F32x4Min
        | O::F32x4Max
        | O::F32x4RelaxedMin
        | O::F32x4RelaxedMax
        | O::F32x4Sqrt
        | O::F32x4Ceil
        | O::F32x4Floor
        | O::F32x4Trunc
        | O::F32x4Nearest
        | O::F32x4DemoteF64x2Zero
        | O::F32x4RelaxedMadd
        | O::F32x4RelaxedNmadd => types::F32X4,
        O::F64x2Add
        | O::F64x2Sub
        | O::F64x2Mul
        | O::F64x2Div
        | O::F64x2Min
        | O::F64x2Max
        | O::F64x2RelaxedMin
        | O::F64x2RelaxedMax
        | O::F64x2Sqrt
        | O::F64x2Ceil
        | O::F64x2Floor
        | O::F64x2Trunc
        | O::F64x2Nearest
        | O::F64x2PromoteLowF32x4
        | O::F64x2RelaxedMadd
        | O::F64x2RelaxedNmadd => types::F64X2,
        _ => return None,
    })
}

/// What an operator accepts uncanonicalised: its top `arity` operands, if they are pending with
/// lane shape `shape` (`None`: any shape).
pub(super) struct Accepts {
    pub arity: usize,
    pub shape: Option<Type>,
}

/// The operands `op` may take while still pending: those whose NaN payloads cannot change
/// anything `op` produces. `lazy` gives each local's lane shape if it is lazy.
pub(super) fn accepts(op: &Operator<'_>, lazy: &[Option<Type>]) -> Option<Accepts> {
    use Operator as O;
    let (f32x4, f64x2) = (Some(types::F32X4), Some(types::F64X2));
    if let Some(result) = pending_result(op) {
        // Arithmetic: a NaN operand lane gives a NaN result lane, which is canonicalised.
        let (arity, shape) = match op {
            O::F64x2PromoteLowF32x4 => (1, types::F32X4),
            O::F32x4DemoteF64x2Zero => (1, types::F64X2),
            O::F32x4Sqrt
            | O::F32x4Ceil
            | O::F32x4Floor
            | O::F32x4Trunc
            | O::F32x4Nearest
            | O::F64x2Sqrt
            | O::F64x2Ceil
            | O::F64x2Floor
            | O::F64x2Trunc
            | O::F64x2Nearest => (1, result),
            O::F32x4RelaxedMadd
            | O::F32x4RelaxedNmadd
            | O::F64x2RelaxedMadd
            | O::F64x2RelaxedNmadd => (3, result),
            _ => (2, result),
        };
        return Some(Accepts { arity, shape: Some(shape) });
    }
    let (arity, shape) = match op {
        O::Drop => (1, None),
        O::LocalSet { local_index } | O::LocalTee { local_index } => {
            let shape = lazy.get(*local_index as usize).copied().flatten()?;
            (1, Some(shape))
        }
        // Comparisons and saturating truncations treat every NaN alike.
        O::F32x4Eq | O::F32x4Ne | O::F32x4Lt | O::F32x4Gt | O::F32x4Le | O::F32x4Ge => (2, f32x4),
        O::F64x2Eq | O::F64x2Ne | O::F64x2Lt | O::F64x2Gt | O::F64x2Le | O::F64x2Ge => (2, f64x2),
        O::I32x4TruncSatF32x4S
        | O::I32x4TruncSatF32x4U
        | O::I32x4RelaxedTruncF32x4S
        | O::I32x4RelaxedTruncF32x4U => (1, f32x4),
        O::I32x4TruncSatF64x2SZero
        | O::I32x4TruncSatF64x2UZero
        | O::I32x4RelaxedTruncF64x2SZero
        | O::I32x4RelaxedTruncF64x2UZero => (1, f64x2),
        _ => return None,
    };
    Some(Accepts { arity, shape })
}

/// How many operand slots, counted from the top, `op` may read: its operand count for a plain
/// operator, everything for control flow, calls and anything whose count needs the module.
///
/// A pending value below a control operator is canonicalised there, never later: its
/// canonical value, defined where it is canonicalised, must dominate every later use, and
/// within straight-line code it does.
pub(super) fn reach(op: &Operator<'_>) -> usize {
    use Operator as O;
    if branches(op) {
        return usize::MAX;
    }
    match op {
        O::Call { .. }
        | O::CallIndirect { .. }
        | O::CallRef { .. }
        | O::ReturnCall { .. }
        | O::ReturnCallIndirect { .. }
        | O::ReturnCallRef { .. } => usize::MAX,
        _ => op.operator_arity(&NoModule).map_or(usize::MAX, |(params, _)| params as usize),
    }
}

/// Whether code after `op` can be reached other than through `op` (the continuation of an
/// `end`, an `else`, a loop header, a handler): what ends a stretch in which each operator
/// dominates the next.
pub(super) fn merges(op: &Operator<'_>) -> bool {
    use Operator as O;
    matches!(
        op,
        O::Loop { .. } | O::Else | O::End | O::Catch { .. } | O::CatchAll | O::Delegate { .. }
    )
}

/// Whether `op` opens, continues or closes a construct, or branches.
fn branches(op: &Operator<'_>) -> bool {
    use Operator as O;
    matches!(
        op,
        O::Block { .. }
            | O::Loop { .. }
            | O::If { .. }
            | O::Else
            | O::End
            | O::Br { .. }
            | O::BrIf { .. }
            | O::BrTable { .. }
            | O::BrOnNull { .. }
            | O::BrOnNonNull { .. }
            | O::BrOnCast { .. }
            | O::BrOnCastFail { .. }
            | O::Return
            | O::Unreachable
            | O::Try { .. }
            | O::TryTable { .. }
            | O::Catch { .. }
            | O::CatchAll
            | O::Delegate { .. }
            | O::Rethrow { .. }
            | O::Throw { .. }
            | O::ThrowRef
    )
}

/// Answers no question about the module, so that `operator_arity` gives a count only for
/// operators that need none.
struct NoModule;

impl ModuleArity for NoModule {
    fn sub_type_at(&self, _: u32) -> Option<&SubType> {
        None
    }
    fn tag_type_arity(&self, _: u32) -> Option<(u32, u32)> {
        None
    }
    fn type_index_of_function(&self, _: u32) -> Option<u32> {
        None
    }
    fn func_type_of_cont_type(&self, _: &ContType) -> Option<&FuncType> {
        None
    }
    fn sub_type_of_ref_type(&self, _: &RefType) -> Option<&SubType> {
        None
    }
    fn control_stack_height(&self) -> u32 {
        0
    }
    fn label_block(&self, _: u32) -> Option<(BlockType, FrameKind)> {
        None
    }
}

/// What an operator leaves on the stack, for a `local.set` right after it.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Written {
    /// A value equal to its canonicalisation with either lane shape.
    Canonical,
    /// A pending value of this lane shape.
    Pending(Type),
    Other,
}

pub(super) fn written_by(op: &Operator<'_>) -> Written {
    match op {
        // Such as the zero an accumulator starts from.
        Operator::V128Const { value } if canonical_in_both(u128::from_le_bytes(*value.bytes())) => {
            Written::Canonical
        }
        op => pending_result(op).map_or(Written::Other, Written::Pending),
    }
}

/// Whether `op` opens a construct.
fn opens(op: &Operator<'_>) -> bool {
    use Operator as O;
    matches!(
        op,
        O::Block { .. } | O::Loop { .. } | O::If { .. } | O::Try { .. } | O::TryTable { .. }
    )
}

/// The locals a loop could keep lazy, with their lane shapes: `ops` reads the loop's body from
/// just after its `loop`; if the body opens no construct, the locals it sets, each only with
/// results pending with one lane shape (or canonical constants) and at least once with such a
/// result. Empty for any other loop.
pub(super) fn loop_candidates(ops: OperatorsReader<'_>) -> Vec<(u32, Type)> {
    let mut sets: Vec<(u32, State)> = Vec::new();
    let mut previous = Written::Other;
    for op in ops {
        let Ok(op) = op else { return Vec::new() };
        if opens(&op) {
            return Vec::new();
        }
        if let Operator::End = op {
            break;
        }
        if let Operator::LocalSet { local_index } | Operator::LocalTee { local_index } = op {
            let at = sets.iter().position(|s| s.0 == local_index).unwrap_or_else(|| {
                sets.push((local_index, State::Unwritten));
                sets.len() - 1
            });
            sets[at].1 = sets[at].1.after(previous);
        }
        previous = written_by(&op);
    }
    sets.into_iter()
        .filter_map(|(l, state)| match state {
            State::Lazy(shape) => Some((l, shape)),
            _ => None,
        })
        .collect()
}

/// What is known of the values a local is set to.
#[derive(Clone, Copy, PartialEq)]
enum State {
    /// Nothing but canonical constants (or its initial zero).
    Unwritten,
    /// Those, and results pending with this lane shape.
    Lazy(Type),
    /// Anything.
    Eager,
}

impl State {
    /// The state after a `local.set` of what `written` describes.
    fn after(self, written: Written) -> State {
        match (self, written) {
            (s, Written::Canonical) => s,
            (State::Unwritten, Written::Pending(shape)) => State::Lazy(shape),
            (State::Lazy(a), Written::Pending(b)) if a == b => State::Lazy(a),
            _ => State::Eager,
        }
    }
}

/// The lane shape of each lazy local (see the module documentation), `None` for the others.
/// `local_types` lists every local, the `params` parameters first.
pub(super) fn lazy_locals(
    ops: OperatorsReader<'_>,
    local_types: &[Type],
    params: usize,
) -> Vec<Option<Type>> {
    let mut state: Vec<State> = local_types
        .iter()
        .enumerate()
        .map(
            |(i, t)| {
                if i >= params && *t == types::I8X16 {
                    State::Unwritten
                } else {
                    State::Eager
                }
            },
        )
        .collect();
    if state.iter().all(|s| *s == State::Eager) {
        return vec![None; local_types.len()];
    }
    let mut previous = Written::Other;
    for op in ops {
        // An unreadable body fails translation anyway; nothing is lazy then.
        let Ok(op) = op else {
            return vec![None; local_types.len()];
        };
        if let Operator::LocalSet { local_index } | Operator::LocalTee { local_index } = op {
            if let Some(s) = state.get_mut(local_index as usize) {
                *s = s.after(previous);
            }
        }
        previous = written_by(&op);
    }
    state
        .into_iter()
        .map(|s| match s {
            State::Lazy(shape) => Some(shape),
            _ => None,
        })
        .collect()
}

/// Whether no lane of `bits` is a NaN other than the canonical one, seen as `f32x4` and as
/// `f64x2`.
fn canonical_in_both(bits: u128) -> bool {
    let f32_ok = (0..4).all(|i| {
        let x = (bits >> (32 * i)) as u32;
        x & 0x7fff_ffff <= 0x7f80_0000 || x == 0x7fc0_0000
    });
    let f64_ok = (0..2).all(|i| {
        let x = (bits >> (64 * i)) as u64;
        x & 0x7fff_ffff_ffff_ffff <= 0x7ff0_0000_0000_0000 || x == 0x7ff8_0000_0000_0000
    });
    f32_ok && f64_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lazy locals of the first function of `wat`.
    fn lazy_of(wat: &str) -> Vec<Option<Type>> {
        let bytes = wat::parse_str(wat).unwrap();
        for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
            if let wasmparser::Payload::CodeSectionEntry(body) = payload.unwrap() {
                let mut types = vec![types::I8X16]; // the one parameter of every test function
                for local in body.get_locals_reader().unwrap() {
                    let (n, t) = local.unwrap();
                    let t = match t {
                        wasmparser::ValType::V128 => types::I8X16,
                        _ => types::I32,
                    };
                    types.extend(std::iter::repeat_n(t, n as usize));
                }
                return lazy_locals(body.get_operators_reader().unwrap(), &types, 1);
            }
        }
        panic!("no function")
    }

    #[test]
    fn an_accumulator_of_one_shape_is_lazy() {
        // Zero, then results of one lane shape: every value it holds is canonical once
        // canonicalised with that shape.
        let lazy = lazy_of(
            "(module (func (param v128) (local v128 v128 i32)
               (local.set 1 (v128.const i64x2 0 0))
               (local.set 1 (f32x4.add (local.get 1) (local.get 0)))
               (local.set 1 (f32x4.mul (local.get 1) (local.get 1)))
               (local.set 2 (f64x2.sqrt (local.get 0)))))",
        );
        assert_eq!(lazy, vec![None, Some(types::F32X4), Some(types::F64X2), None]);
    }

    #[test]
    fn raw_bits_mixed_shapes_and_parameters_are_eager() {
        // A parameter's value comes from the caller; a load's and a non-canonical NaN
        // constant's bits must survive; two lane shapes cannot share one canonicalisation.
        let lazy = lazy_of(
            "(module (func (param v128) (local v128 v128 v128 v128)
               (local.set 0 (f32x4.add (local.get 0) (local.get 0)))
               (local.set 4 (v128.const f32x4 nan:0x200000 0 0 0))
               (local.set 4 (f32x4.add (local.get 4) (local.get 0)))
               (local.set 1 (f32x4.add (local.get 1) (local.get 0)))
               (local.set 1 (v128.load (i32.const 0)))
               (local.set 2 (f32x4.add (local.get 2) (local.get 0)))
               (local.set 2 (f64x2.add (local.get 2) (local.get 0)))
               (local.set 3 (f32x4.abs (local.get 0))))
             (memory 1))",
        );
        assert_eq!(lazy, vec![None; 5]);
    }
}

#[cfg(test)]
mod reach_tests {
    use super::*;

    #[test]
    fn plain_operators_reach_their_operands_and_control_reaches_everything() {
        assert_eq!(reach(&Operator::I32Add), 2);
        assert_eq!(reach(&Operator::V128Bitselect), 3);
        assert_eq!(reach(&Operator::LocalGet { local_index: 0 }), 0);
        assert_eq!(reach(&Operator::Block { blockty: BlockType::Empty }), usize::MAX);
        assert_eq!(reach(&Operator::Call { function_index: 0 }), usize::MAX);
        assert_eq!(reach(&Operator::StructNew { struct_type_index: 0 }), usize::MAX);
        assert_eq!(reach(&Operator::End), usize::MAX);
    }
}
