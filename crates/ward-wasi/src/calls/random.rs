//! `random_get`.

use ward::Linker;

use super::mem_fn;
use crate::host::GetCtx;

pub(crate) fn add<T: 'static>(linker: &mut Linker<T>, get: impl GetCtx<T>) -> ward::Result<()> {
    mem_fn!(linker, get, "random_get", |ctx, mem, buf: u32, len: u32| {
        let out = mem.slice_mut(buf.into(), len.into())?;
        ctx.random.fill(out)
    });
    Ok(())
}
