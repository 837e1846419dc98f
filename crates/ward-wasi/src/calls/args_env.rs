//! `args_get`, `args_sizes_get`, `environ_get`, `environ_sizes_get`.

use ward::Linker;

use super::mem_fn;
use crate::ctx::WasiCtx;
use crate::errno::{Errno, WasiResult};
use crate::host::GetCtx;
use crate::mem::{offset, GuestMem};

/// Writes `strings` as C strings into `buf` and their addresses into the pointer array `ptrs`.
///
/// Written straight into guest memory, one string at a time: nothing is allocated on the host.
/// Each string's address must fit the 32-bit pointer slot ([`Errno::Fault`] otherwise).
fn write_strings(
    mem: &mut GuestMem<'_>,
    strings: &[String],
    ptrs: u64,
    buf: u64,
) -> WasiResult<()> {
    // Both areas are checked whole first, so a bad pointer writes nothing.
    let bytes: u64 = strings.iter().map(|s| s.len() as u64 + 1).sum();
    mem.slice(buf, bytes)?;
    mem.slice(ptrs, strings.len() as u64 * 4)?;
    let mut at = buf;
    let mut slot = ptrs;
    for s in strings {
        let addr = u32::try_from(at).map_err(|_| Errno::Fault)?;
        mem.write_u32(slot, addr)?;
        mem.write_bytes(at, s.as_bytes())?;
        at = offset(at, s.len() as u64)?;
        mem.write_u8(at, 0)?;
        at = offset(at, 1)?;
        slot = offset(slot, 4)?;
    }
    Ok(())
}

/// Writes the count of `strings` and the bytes they need (each with its NUL) to two pointers.
fn write_sizes(
    mem: &mut GuestMem<'_>,
    strings: &[String],
    count: u64,
    size: u64,
) -> WasiResult<()> {
    let bytes: usize = strings.iter().map(|s| s.len() + 1).sum();
    let n = u32::try_from(strings.len()).map_err(|_| Errno::Overflow)?;
    let bytes = u32::try_from(bytes).map_err(|_| Errno::Overflow)?;
    mem.write_u32(count, n)?;
    mem.write_u32(size, bytes)
}

pub(crate) fn args_get(
    ctx: &WasiCtx,
    mem: &mut GuestMem<'_>,
    argv: u64,
    buf: u64,
) -> WasiResult<()> {
    write_strings(mem, &ctx.args, argv, buf)
}

pub(crate) fn args_sizes_get(
    ctx: &WasiCtx,
    mem: &mut GuestMem<'_>,
    n: u64,
    size: u64,
) -> WasiResult<()> {
    write_sizes(mem, &ctx.args, n, size)
}

pub(crate) fn environ_get(
    ctx: &WasiCtx,
    mem: &mut GuestMem<'_>,
    env: u64,
    buf: u64,
) -> WasiResult<()> {
    write_strings(mem, &ctx.env, env, buf)
}

pub(crate) fn environ_sizes_get(
    ctx: &WasiCtx,
    mem: &mut GuestMem<'_>,
    n: u64,
    size: u64,
) -> WasiResult<()> {
    write_sizes(mem, &ctx.env, n, size)
}

pub(crate) fn add<T: 'static>(linker: &mut Linker<T>, get: impl GetCtx<T>) -> ward::Result<()> {
    mem_fn!(linker, get, "args_get", |ctx, mem, argv: u32, buf: u32| args_get(
        ctx,
        mem,
        argv.into(),
        buf.into()
    ));
    mem_fn!(linker, get, "args_sizes_get", |ctx, mem, n: u32, size: u32| args_sizes_get(
        ctx,
        mem,
        n.into(),
        size.into()
    ));
    mem_fn!(linker, get, "environ_get", |ctx, mem, env: u32, buf: u32| environ_get(
        ctx,
        mem,
        env.into(),
        buf.into()
    ));
    mem_fn!(linker, get, "environ_sizes_get", |ctx, mem, n: u32, size: u32| environ_sizes_get(
        ctx,
        mem,
        n.into(),
        size.into()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WasiCtxBuilder;

    #[test]
    fn args_are_laid_out_as_c_strings() {
        let ctx = WasiCtxBuilder::new().arg("prog").arg("a b").build();
        let mut bytes = vec![0xffu8; 64];
        let mut mem = GuestMem::new(&mut bytes);
        args_sizes_get(&ctx, &mut mem, 0, 4).unwrap();
        assert_eq!(mem.read_u32(0).unwrap(), 2);
        assert_eq!(mem.read_u32(4).unwrap(), 9);
        args_get(&ctx, &mut mem, 8, 32).unwrap();
        assert_eq!(mem.read_u32(8).unwrap(), 32);
        assert_eq!(mem.read_u32(12).unwrap(), 37);
        assert_eq!(mem.slice(32, 9).unwrap(), b"prog\0a b\0");
        // A buffer that runs off the end of memory is EFAULT.
        assert_eq!(args_get(&ctx, &mut mem, 8, 60), Err(Errno::Fault));
    }

    #[test]
    fn env_is_empty_unless_granted() {
        let ctx = WasiCtxBuilder::new().build();
        let mut bytes = vec![0xffu8; 16];
        let mut mem = GuestMem::new(&mut bytes);
        environ_sizes_get(&ctx, &mut mem, 0, 4).unwrap();
        assert_eq!(mem.read_u64(0).unwrap(), 0);
        let ctx = WasiCtxBuilder::new().env("A", "1").env("A", "2").env("B", "x=y").build();
        assert_eq!(ctx.env, vec!["A=2".to_string(), "B=x=y".to_string()]);
    }
}
