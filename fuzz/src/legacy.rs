//! Legacy exception handling for generated modules: wasm-smith makes `try_table`s but no legacy
//! `try`, so [`to_legacy`] rewrites each `try_table` whose clauses deliver no reference into the
//! legacy form with the same behaviour (the others stay, so both forms nest in one function):
//!
//! ```text
//! try_table (type) (catch $t L) (catch_all M) BODY end
//!   =>  try (type) BODY catch $t br L+1 catch_all br M+1 end
//! ```
//!
//! (a clause's branch is one label deeper inside the `try`; clauses after a `catch_all` can never
//! run and are left out, as the legacy form allows none there).
//!
//! `try_table`s are rare in generated code, so blocks are rewritten too, in turn (from an
//! offset the input chooses) into one of three legacy forms that behave as the block does:
//! `try (type) BODY end` (a scope without clauses), `try (type) BODY catch_all rethrow 0 end`
//! (the same exception goes on), and `try (type) BODY delegate 0` (exceptions go to the scope in
//! force around it); or the block stays.

use wasm_encoder::reencode::{Error, Reencode};
use wasm_encoder::{CodeSection, Instruction};
use wasmparser::{Catch, FunctionBody, Operator};

struct Legacy {
    rewritten: usize,
    /// Blocks met so far, plus the input's offset: which form the next one takes.
    blocks: usize,
}

/// What closes a rewritten construct at its `end`.
enum Close {
    /// A `try_table`'s clauses.
    Clauses(Vec<Catch>),
    /// `catch_all rethrow 0 end`.
    Rethrow,
    /// `delegate 0` instead of `end`.
    Delegate,
}

impl Reencode for Legacy {
    type Error = std::convert::Infallible;

    fn parse_function_body(
        &mut self,
        code: &mut CodeSection,
        func: FunctionBody<'_>,
    ) -> Result<(), Error<std::convert::Infallible>> {
        let mut f = self.new_function_with_parsed_locals(&func)?;
        let mut reader = func.get_operators_reader()?;
        // Per open construct: how a rewritten one closes.
        let mut open: Vec<Option<Close>> = vec![None];
        while !reader.eof() {
            match reader.read()? {
                Operator::TryTable { try_table }
                    if !try_table
                        .catches
                        .iter()
                        .any(|c| matches!(c, Catch::OneRef { .. } | Catch::AllRef { .. })) =>
                {
                    f.instruction(&Instruction::Try(self.block_type(try_table.ty)?));
                    open.push(Some(Close::Clauses(try_table.catches)));
                    self.rewritten += 1;
                }
                Operator::Block { blockty } => {
                    self.blocks += 1;
                    let close = match self.blocks % 4 {
                        0 => None,
                        1 => Some(Close::Clauses(Vec::new())),
                        2 => Some(Close::Rethrow),
                        _ => Some(Close::Delegate),
                    };
                    let ty = self.block_type(blockty)?;
                    if close.is_some() {
                        f.instruction(&Instruction::Try(ty));
                        self.rewritten += 1;
                    } else {
                        f.instruction(&Instruction::Block(ty));
                    }
                    open.push(close);
                }
                op @ (Operator::Loop { .. }
                | Operator::If { .. }
                | Operator::Try { .. }
                | Operator::TryTable { .. }) => {
                    open.push(None);
                    f.instruction(&self.instruction(op)?);
                }
                Operator::End => {
                    let catches = match open.pop().flatten() {
                        None => Vec::new(),
                        Some(Close::Clauses(c)) => c,
                        Some(Close::Rethrow) => {
                            f.instruction(&Instruction::CatchAll);
                            f.instruction(&Instruction::Rethrow(0));
                            Vec::new()
                        }
                        Some(Close::Delegate) => {
                            f.instruction(&Instruction::Delegate(0));
                            continue;
                        }
                    };
                    for c in catches {
                        match c {
                            Catch::One { tag, label } => {
                                f.instruction(&Instruction::Catch(self.tag_index(tag)?));
                                f.instruction(&Instruction::Br(label + 1));
                            }
                            Catch::All { label } => {
                                f.instruction(&Instruction::CatchAll);
                                f.instruction(&Instruction::Br(label + 1));
                                break;
                            }
                            Catch::OneRef { .. } | Catch::AllRef { .. } => {
                                unreachable!("such a try_table is not rewritten")
                            }
                        }
                    }
                    f.instruction(&Instruction::End);
                }
                op => {
                    f.instruction(&self.instruction(op)?);
                }
            }
        }
        code.function(&f);
        Ok(())
    }
}

/// `wasm` with every `try_table` whose clauses deliver no exception reference, and three of every
/// four blocks (from `offset`), rewritten as legacy `try`s, if there was anything to rewrite.
pub fn to_legacy(wasm: &[u8], offset: u8) -> Option<Vec<u8>> {
    let mut legacy = Legacy { rewritten: 0, blocks: usize::from(offset) };
    let mut module = wasm_encoder::Module::new();
    legacy.parse_core_module(&mut module, wasmparser::Parser::new(0), wasm).ok()?;
    (legacy.rewritten > 0).then(|| module.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_try_table_becomes_a_legacy_try_that_behaves_the_same() {
        let wat = r#"(module
          (tag $t (param i32))
          (tag $u)
          (func (export "f") (param i32) (result i32)
            (block $all
              (return (i32.add (i32.const 100)
                (block $h (result i32)
                  (try_table (result i32) (catch $t $h) (catch_all $all)
                    (if (i32.eq (local.get 0) (i32.const 1)) (then (throw $t (i32.const 7))))
                    (if (i32.eq (local.get 0) (i32.const 2)) (then (throw $u)))
                    (i32.const 1))))))
            (i32.const -1)))"#;
        let wasm = wat::parse_str(wat).unwrap();
        let legacy = to_legacy(&wasm, 3).expect("rewritten");
        let text = wasmprinter::print_bytes(&legacy).unwrap();
        assert!(text.contains("try (result i32)") && !text.contains("try_table"), "{text}");
        for bytes in [&wasm, &legacy] {
            let engine = ward::Engine::default();
            let module = ward::Module::new(&engine, bytes).unwrap();
            let mut store = ward::Store::new(&engine, ());
            let i = ward::Instance::new(&mut store, &module, &[]).unwrap();
            let f = i.get_typed_func::<i32, i32>(&mut store, "f").unwrap();
            assert_eq!(f.call(&mut store, 0).unwrap(), 101);
            assert_eq!(f.call(&mut store, 1).unwrap(), 107);
            assert_eq!(f.call(&mut store, 2).unwrap(), -1);
        }
        let with_ref = r#"(module (tag $t) (func (block $h (result exnref)
            (try_table (catch_all_ref $h)) (unreachable)) (drop)))"#;
        assert!(to_legacy(&wat::parse_str(with_ref).unwrap(), 3).is_none(), "nothing to rewrite");
    }
}
