//! The interpreter tier.
//!
//! Function bodies are translated lazily (on first call) into a compact register-based code
//! (`code`), then executed by a loop (`exec`) that keeps its own call stack, so wasm recursion
//! never recurses on the native stack and a running call is plain data that can be suspended and
//! resumed. Host calls are not made from inside the loop: `run` returns
//! [`Outcome::HostCall`] and the generic driver in the API layer calls the host function with
//! the store, then resumes.

pub(crate) mod code;
mod exec;
mod num;
#[cfg(feature = "op-stats")]
mod op_stats;
pub(crate) use crate::runtime::simd;
mod translate;

pub(crate) use code::CompiledFunc;
pub(crate) use exec::{Execution, Outcome};

use crate::error::Result;
use crate::module::ModuleInner;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// The translated code of module function `func` (a module function index of a defined function),
/// translating it on first use. Translation stops with an `Interrupted` trap soon after
/// `interrupt` (if given) is set, so that a huge function cannot delay an interruption.
pub(crate) fn compiled_code(
    module: &ModuleInner,
    func: u32,
    interrupt: Option<&AtomicBool>,
) -> Result<Arc<CompiledFunc>> {
    let def = (func - module.num_imported_funcs) as usize;
    let ours = |c: &crate::module::TierCode| {
        c.clone().downcast::<CompiledFunc>().expect("only the interpreter translates code")
    };
    if let Some(c) = module.code[def].get() {
        return Ok(ours(c));
    }
    let c = Arc::new(translate::translate(module, func, interrupt)?);
    if std::env::var_os("WARD_DUMP_CODE").is_some() {
        // Debugging aid: the register code of each function as it is translated.
        eprintln!("func {func} ({:?}): frame {} slots", module.func_name(func), c.frame_slots);
        for (pc, ins) in c.code.iter().enumerate() {
            eprintln!("  {pc:4}: {ins:?}");
        }
    }
    Ok(ours(module.code[def].get_or_init(|| c)))
}
