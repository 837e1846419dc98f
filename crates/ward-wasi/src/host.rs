//! The glue between Ward's embedding API and the WASI call implementations.
//!
//! A host function finds the guest's exported `memory` and the [`WasiCtx`] in the store's data,
//! runs the implementation against both, and turns its result into the errno the guest sees.
//! Only the public API is used: `Caller::get_export`, `Memory::data_and_store_mut`,
//! `Caller::data_mut`.
//!
//! The context is only ever *borrowed* from the store's data, never moved out of it, so a call
//! that panics (in the embedder's accessor or anywhere below) leaves it in place: an embedder
//! that catches the panic with `catch_unwind` finds the guest's descriptors and state intact.
//!
//! Every call is reported as a `tracing` event at `TRACE` level with target `ward_wasi`: the
//! function's name, its arguments and the resulting errno. With no subscriber interested, the
//! cost is one check of a cached per-call-site flag.

use ward::{Caller, Trap};

use crate::ctx::WasiCtx;
use crate::errno::{Errno, WasiResult};
use crate::mem::GuestMem;

/// The `tracing` target of the per-call events.
pub(crate) const TRACE_TARGET: &str = "ward_wasi";

/// How the host functions find the [`WasiCtx`] in the store's data `T`.
///
/// Any `Fn(&mut T) -> &mut WasiCtx` closure that is `Send + Sync + Copy + 'static` qualifies,
/// for example `|data: &mut MyState| &mut data.wasi`.
pub trait GetCtx<T>: Fn(&mut T) -> &mut WasiCtx + Send + Sync + Copy + 'static {}

impl<T, F> GetCtx<T> for F where F: Fn(&mut T) -> &mut WasiCtx + Send + Sync + Copy + 'static {}

/// A call's result as an errno ([`Errno::Success`] for `Ok`), for the guest and for tracing.
pub(crate) fn errno_of(r: WasiResult<()>) -> Errno {
    r.err().unwrap_or(Errno::Success)
}

/// Runs a call that needs guest memory.
///
/// The context and the memory, both owned by the store, are borrowed together through
/// `Memory::data_and_store_mut`. A module that does not export a memory named `memory` cannot
/// make such calls: that is a trap, as the caller broke the WASI ABI.
pub(crate) fn with_mem<T>(
    caller: &mut Caller<'_, T>,
    get: impl GetCtx<T>,
    name: &str,
    f: impl FnOnce(&mut WasiCtx, &mut GuestMem<'_>) -> WasiResult<()>,
) -> ward::Result<WasiResult<()>> {
    let Some(memory) = caller.get_export("memory").and_then(|e| e.into_memory()) else {
        tracing::trace!(target: TRACE_TARGET, "{name}: no exported memory, trapping");
        return Err(Trap::host(format!(
            "WASI function `{name}` needs the module to export its memory as \"memory\""
        ))
        .into());
    };
    if memory.is_shared(&*caller) {
        let (base, len) = (memory.data_ptr(&*caller), memory.data_size(&*caller));
        // SAFETY: the first `len` bytes at `base` are accessible for the life of the shared
        // memory, which the caller's store keeps alive for this call. KNOWN LIMIT: this is a
        // `&mut [u8]` over bytes the guest's other threads may access during the call; a
        // guest that races its own WASI buffers can only garble its own data (every value the
        // host reads from them is validated where it is used), but it is a data race in
        // Rust's model. Making `GuestMem` copy through raw pointers removes it.
        let bytes = unsafe { std::slice::from_raw_parts_mut(base, len) };
        let ctx = get(caller.data_mut());
        return Ok(ctx.with_shared(|ctx| f(ctx, &mut GuestMem::new(bytes))));
    }
    let (bytes, data) = memory.data_and_store_mut(&mut *caller);
    Ok(get(data).with_shared(|ctx| f(ctx, &mut GuestMem::new(bytes))))
}

/// Runs a call that needs no guest memory.
pub(crate) fn with_ctx<T>(
    caller: &mut Caller<'_, T>,
    get: impl GetCtx<T>,
    f: impl FnOnce(&mut WasiCtx) -> WasiResult<()>,
) -> ward::Result<WasiResult<()>> {
    Ok(get(caller.data_mut()).with_shared(f))
}
