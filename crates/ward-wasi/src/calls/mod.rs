//! The `wasi_snapshot_preview1` functions, one module per group of calls.
//!
//! Each module holds the implementations, written against [`WasiCtx`](crate::WasiCtx) and
//! [`GuestMem`](crate::mem::GuestMem) so they can be tested without wasm, and an `add`
//! function that registers the group's host functions with a [`ward::Linker`].

pub(crate) mod args_env;
pub(crate) mod clock;
pub(crate) mod fd;
pub(crate) mod path;
pub(crate) mod poll;
pub(crate) mod proc;
pub(crate) mod random;
pub(crate) mod sock;

/// Registers a host function that uses guest memory:
/// `mem_fn!(linker, get_ctx, "name", |ctx, mem, a: u32, b: u64| body)`.
///
/// Each call is traced (target `ward_wasi`, level `TRACE`) with its arguments and errno.
macro_rules! mem_fn {
    ($linker:expr, $get:expr, $name:literal, |$ctx:ident, $mem:ident $(, $arg:ident : $ty:ty)*| $body:expr) => {{
        let get = $get;
        $linker.func_wrap(
            $crate::types::MODULE,
            $name,
            move |mut caller: ::ward::Caller<'_, T>, $($arg: $ty),*| -> ::ward::Result<i32> {
                let r = $crate::host::with_mem(&mut caller, get, $name, |$ctx, $mem| $body)?;
                let errno = $crate::host::errno_of(r);
                ::tracing::trace!(target: "ward_wasi", $($arg,)* ?errno, "{}", $name);
                Ok(errno.raw() as i32)
            },
        )?;
    }};
}

/// Registers a host function that needs no guest memory:
/// `ctx_fn!(linker, get_ctx, "name", |ctx, a: u32| body)`.
///
/// Each call is traced (target `ward_wasi`, level `TRACE`) with its arguments and errno.
macro_rules! ctx_fn {
    ($linker:expr, $get:expr, $name:literal, |$ctx:ident $(, $arg:ident : $ty:ty)*| $body:expr) => {{
        let get = $get;
        $linker.func_wrap(
            $crate::types::MODULE,
            $name,
            move |mut caller: ::ward::Caller<'_, T>, $($arg: $ty),*| -> ::ward::Result<i32> {
                let r = $crate::host::with_ctx(&mut caller, get, |$ctx| $body)?;
                let errno = $crate::host::errno_of(r);
                ::tracing::trace!(target: "ward_wasi", $($arg,)* ?errno, "{}", $name);
                Ok(errno.raw() as i32)
            },
        )?;
    }};
}

pub(crate) use {ctx_fn, mem_fn};
