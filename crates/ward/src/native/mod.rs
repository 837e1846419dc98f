//! The native tier: whole modules compiled to machine code with Cranelift.
//!
//! Under [`Tier::Native`] a module is compiled as a whole when the [`Module`](crate::Module) is
//! created (`api/module.rs` calls [`prepare`]). If it uses anything this tier does not cover yet
//! — GC operators — the module runs in the interpreter as a whole: the
//! reason (naming the first unsupported operator) is logged with `tracing::debug!` and kept
//! ([`fallback_reason`]). Nothing is ever half native.
//!
//! ## Execution model
//!
//! Native code runs on the calling thread's stack. The call driver (`api/call.rs`) enters it
//! through the function's *array-call trampoline* (the record's `array_entry`, one per
//! signature): `extern "C" fn(vmctx, values: *mut u64, native_entry)` loads the arguments from
//! 64-bit slots, calls the function, and stores its results back into the slots. Native
//! functions call each other directly (module-internal calls are PC-relative; `call_indirect`
//! goes through the table, the callee's record and its `native_entry`), in Ward's native
//! calling convention: Cranelift's `tail` convention (so that `return_call*` are real tail
//! calls; trampolines and runtime calls use the platform's C convention) with the callee's
//! context first, then, for
//! a function with several results, a pointer to a results area (8-byte slots, two for a
//! `v128`, low half first, as everywhere values sit in slots),
//! then the wasm parameters; a single result is returned in a register.
//!
//! A function without native code (a host function, a function of an interpreted instance),
//! reached by a call of an import or through a table, is called through the runtime call
//! `libcalls::call_out` and the [`Exit`] the driver installed for the native call: the embedding
//! layer's own call path, with the arguments and results in 8-byte slots (see `exit`).
//!
//! Native code reads everything through the context layout (`runtime/vmctx.rs`): memory 0's
//! base and length through the definition the context points at (kept in variables, reloaded
//! after every call and `memory.grow`, since a dense memory moves; a guarded memory's base as a
//! read-only value, since it never does; other memories' at each access), globals through their cells, tables through
//! their definitions, expected type ids from the context's `type_ids`. Memory accesses are
//! bounds-checked explicitly, the address also clamped with a Spectre-safe select, except on
//! guarded 32-bit memories, where accesses within the guard region are left to the MMU and a
//! fault becomes the trap (`signals`).
//!
//! ## Traps
//!
//! A trap is a branch to a per-function block that stores the trap code and the function index
//! in the store context (`VMStoreContext::trap`, `trap_func`), then makes the runtime call
//! `signals::raise`, which abandons every native frame up to the innermost entry
//! (`ward_native_enter`, the same unwind the fault handler uses), so calls of native code need
//! no test when they return; the driver then reads the code. Runtime calls that can fail (a
//! call out of native code, `memory.grow` with a limiter, ...) record the trap the same way and
//! are followed by a test of that field, which leads to the same block. (Where the unwind is not
//! built, `signals::UNWINDS` false, every call site tests the field and a trap returns through
//! every frame.) Runtime calls catch
//! panics from host code (a resource limiter, a host function) and report them the same way;
//! the driver resumes the panic. An error returned by a function called out of native code is
//! parked likewise (`TRAP_ERROR`) and returned by the driver as it is.
//!
//! ## Calls, stack and checkpoints
//!
//! Every native function gets its call depth as a parameter (the trampoline of an entry from the
//! host passes `VMStoreContext::call_depth`, which the driver sets to 0; a call passes its
//! caller's depth plus one, a tail call the caller's own, so nothing is written to memory per
//! call), checks it at entry against the engine's `max_call_depth` (the interpreter's limit, so
//! deep recursion traps at the same depth), and compares the stack pointer with `stack_limit`, which the driver sets from the
//! calling thread's stack bounds, keeping room free for one frame (the largest of the store's
//! native code; frames are at most [`compile::MAX_FRAME`] bytes, larger ones fall back) and
//! the runtime calls (`stack::reserve`). When
//! the thread's stack is smaller than `max_call_depth` frames need, deep recursion traps
//! earlier (`call stack exhausted`) than in the interpreter.
//!
//! Fuel and interruption are checked at the interpreter's checkpoints (function entry, loop
//! headers, `else`, and the continuation of every `end`) with the same charges (the operators
//! translated since the previous checkpoint, priced by `runtime::fuel`), so a module burns the
//! same fuel on either tier. An epoch deadline reached at a checkpoint calls back into the
//! embedder there (the runtime call `libcalls::epoch_reached`, through the [`Exit`]), as a
//! synchronous interpreted call does. Fuel yields, yielding at epoch deadlines and parking
//! need a suspendable call: async and resumable calls run in the interpreter.
//!
//! ## Artifacts
//!
//! The linked image embeds no address of the process: calls between the module's functions
//! are PC-relative, runtime calls are 8-byte relocations filled in when the image is mapped
//! (`libcalls::addresses`), type ids come from the context. So [`prepared`] gives an image
//! that [`install`] maps in another process (`api/artifact.rs` writes and checks artifacts).

#[cfg(feature = "native")]
mod atomics;
#[cfg(feature = "native")]
mod bulk;
#[cfg(feature = "native")]
mod catch;
#[cfg(feature = "native")]
mod code;
#[cfg(feature = "native")]
mod compile;
#[cfg(feature = "native")]
mod enter;
mod exit;
#[cfg(feature = "native")]
mod libcalls;
#[cfg(feature = "native")]
mod perf_map;
#[cfg(feature = "native")]
mod signals;
#[cfg(feature = "native")]
mod stack;
#[cfg(feature = "native")]
mod translate;
#[cfg(feature = "native")]
mod unwind;

use crate::engine::Tier;
use crate::error::{Error, Result, TrapCode};
use crate::module::ModuleInner;
use crate::runtime::StoreInner;
pub(crate) use exit::Exit;
use std::sync::Arc;

/// What the native tier made of a module (kept in its `module_code` slot).
enum NativeModule {
    #[cfg(feature = "native")]
    Compiled(compile::CompiledModule),
    /// The module runs in the interpreter, for this reason.
    Fallback(String),
}

/// Compiles `module` natively if its engine asks for the native tier; otherwise, or if the
/// module uses something the tier does not cover, it runs in the interpreter.
pub(crate) fn prepare(module: &ModuleInner) {
    if module.engine.config().tier != Tier::Native || module.module_code.get().is_some() {
        return;
    }
    let state = build(module);
    if let NativeModule::Fallback(reason) = &state {
        tracing::debug!(
            target: "ward",
            module = ?module.name,
            %reason,
            "native tier: the module runs in the interpreter"
        );
    }
    let _ = module.module_code.set(Arc::new(state));
}

#[cfg(feature = "native")]
fn build(module: &ModuleInner) -> NativeModule {
    let _span = tracing::debug_span!(target: "ward", "native_compile").entered();
    match compile::compile_module(module) {
        Ok(c) => {
            c.announce(module);
            NativeModule::Compiled(c)
        }
        Err(reason) => NativeModule::Fallback(reason),
    }
}

#[cfg(not(feature = "native"))]
fn build(_: &ModuleInner) -> NativeModule {
    NativeModule::Fallback("Ward was built without the `native` feature".into())
}

fn state(module: &ModuleInner) -> Option<&NativeModule> {
    module.module_code.get()?.downcast_ref::<NativeModule>()
}

/// Where a module's code holds the address of a runtime call: the 8 bytes at `offset` are the
/// address of runtime call number `libcall` (`libcalls::addresses`) plus `addend`, written when
/// the code is mapped into a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LibcallReloc {
    pub(crate) offset: u32,
    pub(crate) libcall: u32,
    pub(crate) addend: i64,
}

/// A module's native code in a form that means the same in any process (what an artifact
/// stores): the linked image with the runtime call addresses zeroed, where each defined
/// function and its signature's trampoline start, and the runtime call relocations.
pub(crate) struct NativeImage<'a> {
    pub(crate) code: std::borrow::Cow<'a, [u8]>,
    pub(crate) funcs: Vec<u32>,
    pub(crate) trampolines: Vec<u32>,
    pub(crate) relocs: Vec<LibcallReloc>,
    /// Offsets of the accesses left unchecked (guarded memories), sorted: the fault handler
    /// turns a fault at one of them into the out-of-bounds trap.
    pub(crate) trap_sites: Vec<u32>,
    /// The largest frame of the code, in bytes (native calls keep room for one, `stack`).
    pub(crate) max_frame: u32,
    /// The catch table (`catch::CatchTable::encode`): where the handlers of calls inside
    /// `try_table`s are.
    pub(crate) catches: Vec<u32>,
}

/// What the native tier made of a module, for an artifact.
pub(crate) enum Prepared<'a> {
    /// Native code.
    Native(NativeImage<'a>),
    /// The module runs in the interpreter, for this reason.
    Interpreted(String),
}

/// The native code of `module`, or why it has none (`None`: its engine does not use the
/// native tier).
pub(crate) fn prepared(module: &ModuleInner) -> Option<Prepared<'static>> {
    match state(module)? {
        #[cfg(feature = "native")]
        NativeModule::Compiled(c) => Some(Prepared::Native(c.image())),
        NativeModule::Fallback(reason) => Some(Prepared::Interpreted(reason.clone())),
    }
}

/// Gives `module` (decoded from an artifact, not yet compiled) the native code or the fallback
/// reason the artifact holds, instead of compiling it.
///
/// # Safety
/// The image came from [`prepared`] of a module with the same binary, compiled by this build of
/// Ward with the same code-affecting configuration, for a CPU this one has the features of:
/// it is mapped as executable code as it is.
pub(crate) unsafe fn install(module: &ModuleInner, prepared: Prepared<'_>) -> Result<(), String> {
    let state = match prepared {
        Prepared::Interpreted(reason) => NativeModule::Fallback(reason),
        #[cfg(feature = "native")]
        Prepared::Native(image) => {
            let c = compile::CompiledModule::load(image, module.bodies.len(), module.tags.len())?;
            c.announce(module);
            NativeModule::Compiled(c)
        }
        #[cfg(not(feature = "native"))]
        Prepared::Native(_) => {
            return Err("Ward was built without the `native` feature".into());
        }
    };
    module.module_code.set(Arc::new(state)).map_err(|_| "the module already has code".to_string())
}

/// The target native code is compiled for (`x86_64-...`) and the CPU features it may use, as
/// Cranelift names them (`has_avx2`, ...), or why this host has no native tier.
pub(crate) fn host_target() -> std::result::Result<(String, Vec<String>), String> {
    #[cfg(feature = "native")]
    {
        compile::host_target()
    }
    #[cfg(not(feature = "native"))]
    {
        Err("Ward was built without the `native` feature".into())
    }
}

/// Which tier runs the functions of `module`.
pub(crate) fn module_tier(module: &ModuleInner) -> Tier {
    match state(module) {
        #[cfg(feature = "native")]
        Some(NativeModule::Compiled(_)) => Tier::Native,
        _ => Tier::Interpreter,
    }
}

/// Why `module` runs in the interpreter although its engine asked for native code.
pub(crate) fn fallback_reason(module: &ModuleInner) -> Option<&str> {
    match state(module)? {
        NativeModule::Fallback(reason) => Some(reason),
        #[cfg(feature = "native")]
        NativeModule::Compiled(_) => None,
    }
}

/// The instance (store index) and module function index whose native code holds `pc`.
#[cfg(feature = "native")]
fn func_at(store: &StoreInner, pc: usize) -> Option<(u32, u32)> {
    find_code(store, |c| c.func_at(pc)).map(|(i, _, f)| (i, f))
}

/// The wasm function (not a trampoline) whose code holds return address `pc`: its store
/// instance (the first with that module), its module's code and its module function index.
#[cfg(feature = "native")]
fn wasm_frame_at(store: &StoreInner, pc: usize) -> Option<(u32, &compile::CompiledModule, u32)> {
    find_code(store, |c| c.wasm_func_at(pc))
}

/// The first instance of the store whose module's native code `find` finds a defined function
/// in: the instance, the code, and that function's module index.
#[cfg(feature = "native")]
fn find_code(
    store: &StoreInner,
    find: impl Fn(&compile::CompiledModule) -> Option<u32>,
) -> Option<(u32, &compile::CompiledModule, u32)> {
    store.instances.iter().enumerate().find_map(|(i, data)| match state(&data.module) {
        Some(NativeModule::Compiled(c)) => {
            find(c).map(|f| (i as u32, c, data.module.num_imported_funcs + f))
        }
        _ => None,
    })
}

/// Which tier runs store function `func` when the embedder calls it.
pub(crate) fn func_tier(store: &StoreInner, func: u32) -> Tier {
    let record = store.funcs[func as usize].funcref.0;
    // SAFETY: records live as long as the store.
    if unsafe { (*record).array_entry }.is_null() {
        Tier::Interpreter
    } else {
        Tier::Native
    }
}

/// Fills the native entries of the function records of instance `instance`, if its module was
/// compiled natively. Called right after instantiation, before the start function.
pub(crate) fn attach(store: &mut StoreInner, instance: u32) {
    #[cfg(feature = "native")]
    {
        let data = &mut store.instances[instance as usize];
        let module = data.module.clone();
        if let Some(NativeModule::Compiled(c)) = state(&module) {
            c.attach(&mut data.vmctx);
            store.native_frame = store.native_frame.max(c.max_frame());
        }
    }
    #[cfg(not(feature = "native"))]
    let _ = (store, instance);
}

/// Calls store function `func` in native code if it has any (`None` otherwise): `args` are its
/// parameters in slots, `results` receives its result slots. Native code calls the functions
/// that have no native code (host functions, interpreted instances) through `exit`.
///
/// # Safety
/// `store` points to a live store that nothing else borrows during the call, except `exit`,
/// which may borrow it whenever it is called (native code holds no reference into the store
/// then).
pub(crate) unsafe fn call(
    store: *mut StoreInner,
    func: u32,
    args: &[u64],
    results: &mut [u64],
    exit: &mut dyn Exit,
) -> Option<Result<()>> {
    #[cfg(feature = "native")]
    {
        // SAFETY: the caller's contract.
        unsafe { enter::call(store, func, args, results, exit) }
    }
    #[cfg(not(feature = "native"))]
    {
        let _ = (store, func, args, results, exit);
        None
    }
}

/// The trap codes native code reports, numbered from 1 (0 is "no trap").
const TRAP_CODES: [TrapCode; 18] = [
    TrapCode::Unreachable,
    TrapCode::MemoryOutOfBounds,
    TrapCode::UninitializedElement,
    TrapCode::UndefinedElement,
    TrapCode::IndirectCallTypeMismatch,
    TrapCode::IntegerDivideByZero,
    TrapCode::IntegerOverflow,
    TrapCode::InvalidConversionToInteger,
    TrapCode::StackOverflow,
    TrapCode::OutOfFuel,
    TrapCode::Interrupted,
    TrapCode::TableOutOfBounds,
    TrapCode::NullReference,
    TrapCode::NullFunctionReference,
    TrapCode::NullExceptionReference,
    TrapCode::UncaughtException,
    TrapCode::UnalignedAtomic,
    TrapCode::ExpectedSharedMemory,
];

/// A runtime call panicked; the payload waits in `libcalls`.
#[cfg_attr(not(feature = "native"), allow(dead_code))]
const TRAP_PANIC: u32 = 0xfe;
/// The number of a trap code native code never reports (see `trap_number`); reported as an
/// error rather than a crash.
#[cfg_attr(not(feature = "native"), allow(dead_code))]
const TRAP_NO_NATIVE: u32 = 0xfd;
/// A call out of native code (`libcalls::call_out`) failed; the error waits in `libcalls`.
#[cfg_attr(not(feature = "native"), allow(dead_code))]
const TRAP_ERROR: u32 = 0xfc;

/// An exception is in flight: a call out of native code let it through, or it left a native
/// call; its reference is in the store context's `exception` field (see `unwind`).
#[cfg_attr(not(feature = "native"), allow(dead_code))]
const TRAP_EXCEPTION: u32 = 0xfb;

/// The number native code stores for `code`.
#[cfg_attr(not(feature = "native"), allow(dead_code))]
fn trap_number(code: TrapCode) -> u32 {
    TRAP_CODES.iter().position(|c| *c == code).map_or(TRAP_NO_NATIVE, |i| i as u32 + 1)
}

/// The error for trap number `n` (nonzero) reported by native code.
#[cfg_attr(not(feature = "native"), allow(dead_code))]
fn trap_error(n: u32) -> Error {
    match TRAP_CODES.get((n as usize).wrapping_sub(1)) {
        Some(code) => (*code).into(),
        None => Error::Unsupported(format!(
            "native code stopped with trap number {n:#x}, which means nothing (a bug in Ward's \
             native tier)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trap_numbers_round_trip() {
        for code in TRAP_CODES {
            let n = trap_number(code);
            assert!(
                n != 0
                    && n != TRAP_PANIC
                    && n != TRAP_NO_NATIVE
                    && n != TRAP_ERROR
                    && n != TRAP_EXCEPTION
            );
            assert!(matches!(trap_error(n), Error::Trap(t) if t.code() == code));
        }
        assert_eq!(trap_number(TrapCode::HostError), TRAP_NO_NATIVE);
        assert!(matches!(trap_error(TRAP_NO_NATIVE), Error::Unsupported(_)));
    }
}
