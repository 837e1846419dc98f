//! `clock_res_get`, `clock_time_get`.
//!
//! All four preview 1 clocks are served from the host's clocks: realtime (nanoseconds since the
//! Unix epoch), monotonic, and the process and thread CPU-time clocks.

use rustix::time::{clock_getres, clock_gettime, ClockId, Timespec};
use ward::Linker;

use super::mem_fn;
use crate::errno::{Errno, WasiResult};
use crate::host::GetCtx;
use crate::types::clockid;

fn host_clock(id: u32) -> WasiResult<ClockId> {
    Ok(match id {
        clockid::REALTIME => ClockId::Realtime,
        clockid::MONOTONIC => ClockId::Monotonic,
        clockid::PROCESS_CPUTIME_ID => ClockId::ProcessCPUTime,
        clockid::THREAD_CPUTIME_ID => ClockId::ThreadCPUTime,
        _ => return Err(Errno::Inval),
    })
}

fn nanos(t: Timespec) -> u64 {
    (t.tv_sec as u64).wrapping_mul(1_000_000_000).wrapping_add(t.tv_nsec as u64)
}

/// The current time of clock `id` in nanoseconds.
pub(crate) fn now(id: u32) -> WasiResult<u64> {
    Ok(nanos(clock_gettime(host_clock(id)?)))
}

/// The resolution of clock `id` in nanoseconds (at least 1).
pub(crate) fn resolution(id: u32) -> WasiResult<u64> {
    Ok(nanos(clock_getres(host_clock(id)?)).max(1))
}

pub(crate) fn add<T: 'static>(linker: &mut Linker<T>, get: impl GetCtx<T>) -> ward::Result<()> {
    mem_fn!(linker, get, "clock_res_get", |_ctx, mem, id: u32, out: u32| {
        mem.write_u64(out.into(), resolution(id)?)
    });
    mem_fn!(linker, get, "clock_time_get", |_ctx, mem, id: u32, _precision: u64, out: u32| {
        mem.write_u64(out.into(), now(id)?)
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_tick_and_unknown_ids_are_einval() {
        let a = now(clockid::MONOTONIC).unwrap();
        let b = now(clockid::MONOTONIC).unwrap();
        assert!(a <= b);
        // Realtime is after 2020-01-01.
        assert!(now(clockid::REALTIME).unwrap() > 1_577_836_800_000_000_000);
        for id in 0..4 {
            assert!(resolution(id).unwrap() >= 1);
            now(id).unwrap();
        }
        assert_eq!(now(4), Err(Errno::Inval));
        assert_eq!(resolution(99), Err(Errno::Inval));
    }
}
