//! `proc_exit`, `proc_raise`, `sched_yield`.

use ward::{Caller, Linker, Trap};

use super::ctx_fn;
use crate::errno::Errno;
use crate::host::GetCtx;
use crate::types::{signal, MODULE};

/// What `proc_raise(sig)` does: signals whose default action is to be ignored are ignored;
/// every other signal ends the program, as its default action would, with a trap naming it.
pub(crate) fn raise(sig: u32) -> Result<(), ward::Error> {
    let Ok(sig) = u8::try_from(sig) else {
        return Ok(()); // reported as EINVAL by the caller
    };
    match sig {
        signal::NONE | signal::CHLD | signal::CONT | signal::URG | signal::WINCH => Ok(()),
        s => Err(Trap::host(format!("the program raised signal SIG{}", signal::name(s))).into()),
    }
}

pub(crate) fn add<T: 'static>(linker: &mut Linker<T>, get: impl GetCtx<T>) -> ward::Result<()> {
    // `proc_exit` unwinds the guest: the error travels out of the wasm call to the embedder,
    // which turns it into the process's exit status.
    linker.func_wrap(
        MODULE,
        "proc_exit",
        |_caller: Caller<'_, T>, code: u32| -> ward::Result<()> {
            tracing::trace!(target: crate::host::TRACE_TARGET, code, "proc_exit");
            Err(ward::Error::Exit(code as i32))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "proc_raise",
        |_caller: Caller<'_, T>, sig: u32| -> ward::Result<i32> {
            tracing::trace!(target: crate::host::TRACE_TARGET, sig, "proc_raise");
            if sig > 30 {
                return Ok(Errno::Inval.raw() as i32);
            }
            raise(sig)?;
            Ok(0)
        },
    )?;
    ctx_fn!(linker, get, "sched_yield", |_ctx| {
        std::thread::yield_now();
        Ok(())
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignorable_signals_are_ignored_and_others_trap() {
        assert!(raise(0).is_ok());
        assert!(raise(16).is_ok());
        let e = raise(6).unwrap_err();
        assert!(e.to_string().contains("SIGABRT"), "{e}");
    }
}
