//! The glue between Ward's embedding API and the WASI call implementations.
//!
//! A host function finds the guest's exported `memory` and the [`WasiCtx`] in the store's data,
//! runs the implementation against both, and turns its result into the errno the guest sees.
//! Only the public API is used: `Caller::get_export`, `Memory::data_mut`, `Caller::data_mut`.

use ward::{Caller, Trap};

use crate::ctx::WasiCtx;
use crate::errno::WasiResult;
use crate::mem::GuestMem;

/// How the host functions find the [`WasiCtx`] in the store's data `T`.
///
/// Any `Fn(&mut T) -> &mut WasiCtx` closure that is `Send + Sync + Copy + 'static` qualifies,
/// for example `|data: &mut MyState| &mut data.wasi`.
pub trait GetCtx<T>: Fn(&mut T) -> &mut WasiCtx + Send + Sync + Copy + 'static {}

impl<T, F> GetCtx<T> for F where F: Fn(&mut T) -> &mut WasiCtx + Send + Sync + Copy + 'static {}

/// The errno value returned to the guest for a call's result.
pub(crate) fn errno_code(r: WasiResult<()>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => e.raw() as i32,
    }
}

/// Runs a call that needs guest memory.
///
/// The context is taken out of the store's data for the duration of the call, so that it and
/// the memory (both owned by the store) can be used together; nothing in a WASI call re-enters
/// wasm, so nobody can observe the store without it. A module that does not export a memory
/// named `memory` cannot make such calls: that is a trap, as the caller broke the WASI ABI.
pub(crate) fn with_mem<T>(
    caller: &mut Caller<'_, T>,
    get: impl GetCtx<T>,
    name: &str,
    f: impl FnOnce(&mut WasiCtx, &mut GuestMem<'_>) -> WasiResult<()>,
) -> ward::Result<i32> {
    let Some(memory) = caller.get_export("memory").and_then(|e| e.into_memory()) else {
        return Err(Trap::host(format!(
            "WASI function `{name}` needs the module to export its memory as \"memory\""
        ))
        .into());
    };
    let mut ctx = std::mem::take(get(caller.data_mut()));
    let bytes = memory.data_mut(&mut *caller);
    let r = f(&mut ctx, &mut GuestMem::new(bytes));
    *get(caller.data_mut()) = ctx;
    Ok(errno_code(r))
}

/// Runs a call that needs no guest memory.
pub(crate) fn with_ctx<T>(
    caller: &mut Caller<'_, T>,
    get: impl GetCtx<T>,
    f: impl FnOnce(&mut WasiCtx) -> WasiResult<()>,
) -> ward::Result<i32> {
    Ok(errno_code(f(get(caller.data_mut()))))
}
