//! The native call driver: entering native code from the host through a function's array-call
//! trampoline, and turning what native code recorded (a trap, a parked error or panic) back
//! into a result.

use super::exit::{self, Exit};
use super::{
    libcalls, signals, stack, trap_error, TRAP_CODES, TRAP_ERROR, TRAP_EXCEPTION, TRAP_PANIC,
};
use crate::error::{clip, Error, FrameInfo, Result, Trap};
use crate::runtime::exceptions::NativeStackTop;
use crate::runtime::StoreInner;

/// Calls store function `func` natively if its record has native code (`None` otherwise).
/// Functions without native code that native code calls go through `exit`.
///
/// # Safety
/// `store` points to a live store that nothing else borrows during the call except through
/// `exit` (which native code uses only while it is stopped in a runtime call, holding no
/// reference into the store).
pub(super) unsafe fn call(
    store: *mut StoreInner,
    func: u32,
    args: &[u64],
    results: &mut [u64],
    exit: &mut dyn Exit,
) -> Option<Result<()>> {
    // SAFETY: the caller's contract; records live as long as the store.
    let record = unsafe { (&(*store).funcs)[func as usize].funcref.0 };
    // SAFETY: as above.
    let (entry, tramp, vmctx) =
        unsafe { ((*record).native_entry, (*record).array_entry, (*record).vmctx) };
    if tramp.is_null() {
        return None;
    }
    let n = args.len().max(results.len());
    let mut small = [0u64; 16];
    let mut large = Vec::new();
    let values = if n <= small.len() {
        &mut small[..n.max(1)]
    } else {
        large.resize(n, 0);
        &mut large[..]
    };
    values[..args.len()].copy_from_slice(args);

    // SAFETY: the store context is boxed in the store; this reference ends before native code
    // runs.
    let vs = unsafe { &mut *(*store).vm };
    let saved = (vs.stack_limit, vs.call_depth, vs.store_inner);
    if vs.stack_limit == 0 {
        // SAFETY: as above (`native_frame` is a plain field of the store).
        vs.stack_limit = stack::limit(unsafe { (*store).native_frame });
    }
    vs.call_depth = 0;
    vs.store_inner = store;
    vs.trap = 0;
    let installed = exit::install(exit);
    // Native frames go below this frame: exception collections scan them from here down.
    let here = std::hint::black_box(0u8);
    let top = NativeStackTop::enter(&raw const here as usize);
    // SAFETY: a non-null `array_entry` is a trampoline of the function's signature, compiled
    // by `compile_module` with the platform's C convention and mapped executable for as long
    // as the function's module lives (its instance holds it); `entry` is the same function's
    // entry, `vmctx` its instance's live context, `values` holds at least as many slots as
    // the function has parameters and results, and the store context is prepared: the stack
    // limit is inside this thread's stack, `store_inner` points to the store, which is not
    // borrowed while native code runs, and the exit for calls out is installed.
    let ended = unsafe { signals::enter(tramp, vmctx.cast(), values.as_mut_ptr(), entry) };
    drop(top);
    drop(installed);
    // SAFETY: native code has returned; nothing else borrows the store.
    let store = unsafe { &mut *store };
    let vs = &mut *store.vm;
    let (trap, trap_func, trap_instance) = (vs.trap, vs.trap_func, vs.trap_instance);
    let exception = std::mem::take(&mut vs.exception);
    (vs.stack_limit, vs.call_depth, vs.store_inner) = saved;
    vs.trap = 0;
    if ended == signals::Entered::Raised && trap == 0 {
        return Some(Err(Error::Unsupported(
            "native code unwound without recording a trap (a bug in Ward)".into(),
        )));
    }
    if let signals::Entered::Faulted(pc) = ended {
        // An unchecked access faulted out of bounds; its frames were abandoned.
        let (instance, func) = super::func_at(store, pc).unwrap_or((u32::MAX, 0));
        return Some(Err(Error::Trap(
            Trap::new(crate::error::TrapCode::MemoryOutOfBounds)
                .with_backtrace(frame(store, func, instance)),
        )));
    }
    match trap {
        0 => {
            results.copy_from_slice(&values[..results.len()]);
            Some(Ok(()))
        }
        TRAP_PANIC => match libcalls::take_panic() {
            Some(payload) => std::panic::resume_unwind(payload),
            None => Some(Err(trap_error(trap))),
        },
        TRAP_EXCEPTION => Some(Err(Error::Trap(Trap::uncaught(exception).with_backtrace(frame(
            store,
            trap_func,
            trap_instance,
        ))))),
        TRAP_ERROR => {
            let e = libcalls::take_error().unwrap_or_else(|| trap_error(trap));
            Some(Err(match e {
                Error::Trap(t) => {
                    Error::Trap(t.with_backtrace(frame(store, trap_func, trap_instance)))
                }
                other => other,
            }))
        }
        _ => Some(Err(trap_with_frame(store, trap, trap_func, trap_instance))),
    }
}

/// The error for trap number `trap` (nonzero), with the trapping function as its one
/// backtrace frame.
fn trap_with_frame(store: &StoreInner, trap: u32, trap_func: u32, trap_instance: u32) -> Error {
    match TRAP_CODES.get((trap as usize).wrapping_sub(1)) {
        Some(code) => {
            Error::Trap(Trap::new(*code).with_backtrace(frame(store, trap_func, trap_instance)))
        }
        None => trap_error(trap),
    }
}

/// A one-frame backtrace: function `func` (module index) of store instance `instance`.
fn frame(store: &StoreInner, func: u32, instance: u32) -> Vec<FrameInfo> {
    let Some(data) = store.instances.get(instance as usize) else {
        return Vec::new();
    };
    let module = &data.module;
    vec![FrameInfo {
        func_index: func,
        func_name: module.func_name(func).map(|n| clip(n, 1024)),
        module_name: module.name.as_deref().map(|n| clip(n, 1024)),
        module: Some(module.clone()),
        offset: None,
    }]
}
