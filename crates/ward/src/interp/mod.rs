//! The interpreter tier.
//!
//! Function bodies are translated lazily (on first call) into a compact register-based code
//! (`code`), then executed by a loop (`exec`) that keeps its own call stack, so wasm recursion
//! never recurses on the native stack and a running call is plain data that can be suspended and
//! resumed. Host calls are not made from inside the loop: `run` returns
//! [`Outcome::HostCall`] and the generic driver in the API layer calls the host function with
//! the store, then resumes.

/// Defines, in the calling function, the macros that read and write frame slots through the
/// frame pointer `$sp`: `rd!(s)`, `wr!(s, v)`, `rd128!(s)`, `wr128!(s, v)`, `rdv!(s)`, `wrv!(s, v)`
/// (a v128 as `simd::V128`, which the caller must have in scope), `i32_!(s)`, `f32_!(s)`,
/// `f64_!(s)`, `wf32!(s, v)` and `wf64!(s, v)`.
/// Called as `slot_access!($ sp)`: the `$` token is passed in so that the generated macros can
/// have parameters of their own.
#[rustfmt::skip] // rustfmt re-indents the `$d` tokens on every run.
macro_rules! slot_access {
    ($d:tt $sp:ident) => {
        macro_rules! rd {
            ($d s:expr) => {
                // SAFETY: slots named by translated code are inside the frame window, which
                // `enter` (or the call fast path) checked fits the value stack.
                unsafe { *$sp.add($d s as usize) }
            };
        }
        macro_rules! wr {
            ($d s:expr, $d v:expr) => {{
                let v: u64 = $d v;
                // SAFETY: as for `rd`.
                unsafe { *$sp.add($d s as usize) = v }
            }};
        }
        #[allow(unused_macros)]
        macro_rules! rd128 {
            ($d s:expr) => {
                if cfg!(target_endian = "little") {
                    // SAFETY: as for `rd`; the two slots are 16 contiguous bytes, the low half
                    // first. One 16-byte load: a v128 written by one 16-byte store (`wrv`,
                    // `wr128`) is forwarded to it, where two 8-byte loads, or a 16-byte load of
                    // two 8-byte stores, stall.
                    u128::from_le_bytes(unsafe { ($sp.add($d s as usize) as *const [u8; 16]).read_unaligned() })
                } else {
                    (rd!($d s) as u128) | ((rd!($d s + 1) as u128) << 64)
                }
            };
        }
        #[allow(unused_macros)]
        macro_rules! wr128 {
            ($d s:expr, $d v:expr) => {{
                let v: u128 = $d v;
                if cfg!(target_endian = "little") {
                    // SAFETY: as for `rd128`.
                    unsafe { ($sp.add($d s as usize) as *mut [u8; 16]).write_unaligned(v.to_le_bytes()) }
                } else {
                    wr!($d s, v as u64);
                    wr!($d s + 1, (v >> 64) as u64);
                }
            }};
        }
        // A v128 in slots `s` and `s + 1` as the SIMD operations' byte form. On a little-endian
        // host the two slots' bytes are the vector's bytes in lane order, so this is one 16-byte
        // load or store; elsewhere it goes through the `u128`.
        #[allow(unused_macros)]
        macro_rules! rdv {
            ($d s:expr) => {
                if cfg!(target_endian = "little") {
                    // SAFETY: as for `rd`; the two slots are 16 contiguous bytes.
                    simd::V128(unsafe { ($sp.add($d s as usize) as *const [u8; 16]).read_unaligned() })
                } else {
                    simd::V128::from_bits(rd128!($d s))
                }
            };
        }
        #[allow(unused_macros)]
        macro_rules! wrv {
            ($d s:expr, $d v:expr) => {{
                let v: simd::V128 = $d v;
                if cfg!(target_endian = "little") {
                    // SAFETY: as for `wr`; the two slots are 16 contiguous bytes.
                    unsafe { ($sp.add($d s as usize) as *mut [u8; 16]).write_unaligned(v.0) }
                } else {
                    wr128!($d s, v.to_bits())
                }
            }};
        }
        #[allow(unused_macros)]
        macro_rules! f32_ {
            ($d s:expr) => {
                f32::from_bits(rd!($d s) as u32)
            };
        }
        #[allow(unused_macros)]
        macro_rules! f64_ {
            ($d s:expr) => {
                f64::from_bits(rd!($d s))
            };
        }
        #[allow(unused_macros)]
        macro_rules! wf32 {
            ($d s:expr, $d v:expr) => {
                wr!($d s, ($d v as f32).to_bits() as u64)
            };
        }
        #[allow(unused_macros)]
        macro_rules! wf64 {
            ($d s:expr, $d v:expr) => {
                wr!($d s, ($d v as f64).to_bits())
            };
        }
        #[allow(unused_macros)]
        macro_rules! i32_ {
            ($d s:expr) => {
                rd!($d s) as u32
            };
        }
    };
}

/// Defines, in the calling function, `arg!()`: reads the `Arg` word at `$ip` (the extra
/// operands of the instruction just decoded) as `(x, y, z)` and steps past it. Called as
/// `arg_access!($ ip)`, as `slot_access`.
#[rustfmt::skip] // rustfmt re-indents the `$d` tokens on every run.
macro_rules! arg_access {
    ($d:tt $ip:ident) => {
        #[allow(unused_macros)]
        macro_rules! arg {
            () => {{
                // SAFETY: the translator always emits the `Arg` word after its instruction.
                let a = unsafe { *$ip };
                // SAFETY: as above.
                $ip = unsafe { $ip.add(1) };
                match a {
                    Instr::Arg { x, y, z } => (x, y, z),
                    // SAFETY: the translator emits every instruction that reads an `Arg` word
                    // together with that word (`Translator::emit` of the pair), so no other
                    // instruction follows one. Checked in debug builds; in optimised builds no
                    // panic path keeps the handlers that read operands here off a stack frame.
                    _ => {
                        debug_assert!(false, "missing Arg word");
                        unsafe { std::hint::unreachable_unchecked() }
                    }
                }
            }};
        }
    };
}

pub(crate) mod code;
mod exec;
mod num;
#[cfg(feature = "op-stats")]
mod op_stats;
pub(crate) use crate::runtime::simd;
mod threaded;
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
    let mut c = translate::translate(module, func, interrupt)?;
    threaded::link_jumps(&mut c.code);
    let c = Arc::new(c);
    #[cfg(feature = "op-stats")]
    op_stats::register(&c.code, func);
    if std::env::var_os("WARD_DUMP_CODE").is_some() {
        // Debugging aid: the register code of each function as it is translated.
        eprintln!(
            "func {func} ({:?}): frame {} slots, {} zeroed on entry",
            module.func_name(func),
            c.frame_slots,
            c.zeroed.len()
        );
        for (pc, ins) in c.code.iter().enumerate() {
            eprintln!("  {pc:4}: {ins:?} @{:#x}", c.offsets[pc]);
        }
    }
    Ok(ours(module.code[def].get_or_init(|| c)))
}
