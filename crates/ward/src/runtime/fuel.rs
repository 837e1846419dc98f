//! What each operator costs in fuel. Every tier charges exactly this, at the same checkpoints,
//! so a program consumes the same fuel whichever tier runs it.
//!
//! | operators | cost |
//! |---|---|
//! | `nop`, `drop`, `block`, `loop`, `else`, `end`, `unreachable`, `return` | 0 |
//! | every other operator | 1 |
//!
//! Bulk operations (`memory.fill`/`copy`/`init`, `table.fill`/`copy`/`init`, `table.grow`) also
//! pay one unit per 64 bytes or elements they touch, when they run; exception unwinding pays one
//! unit per frame it leaves. Structural operators are free because they produce no work at run
//! time; this matches how the most used runtimes count, so fuel budgets carry over.

use wasmparser::Operator;

/// The fuel charged for executing `op` once.
pub(crate) fn operator_cost(op: &Operator<'_>) -> u32 {
    match op {
        Operator::Nop
        | Operator::Drop
        | Operator::Block { .. }
        | Operator::Loop { .. }
        | Operator::Else
        | Operator::End
        | Operator::Unreachable
        | Operator::Return => 0,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structural_operators_are_free_and_work_costs_one() {
        assert_eq!(operator_cost(&Operator::Nop), 0);
        assert_eq!(operator_cost(&Operator::End), 0);
        assert_eq!(operator_cost(&Operator::Drop), 0);
        assert_eq!(operator_cost(&Operator::I32Add), 1);
        assert_eq!(operator_cost(&Operator::Br { relative_depth: 0 }), 1);
        assert_eq!(operator_cost(&Operator::Call { function_index: 0 }), 1);
        // Exception handling, legacy included, counts as work (as `try_table` does).
        assert_eq!(operator_cost(&Operator::Rethrow { relative_depth: 0 }), 1);
        assert_eq!(operator_cost(&Operator::Delegate { relative_depth: 0 }), 1);
        assert_eq!(operator_cost(&Operator::CatchAll), 1);
        assert_eq!(operator_cost(&Operator::I64Add128), 1);
        assert_eq!(operator_cost(&Operator::I64MulWideS), 1);
        assert_eq!(
            operator_cost(&Operator::AtomicFence { ordering: wasmparser::Ordering::SeqCst }),
            1
        );
    }
}
