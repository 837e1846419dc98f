//! The subcommands of `ward`, one module each, the helpers they share, and the exit statuses.

pub mod backtrace;
pub mod cache;
pub mod compile;
pub mod diag;
pub mod load;
pub mod nano;
pub mod options;
pub mod run;
pub mod serve;
pub mod wast;

/// Exit statuses of `ward`.
///
/// | status | meaning |
/// | --- | --- |
/// | 0..=123 | `ward run`: the guest's own exit status (WASI `proc_exit`; 0 when `_start` returns) |
/// | 1 | an error: unreadable, malformed or invalid module, missing or mistyped import, bad arguments to `--invoke`; `ward wast`: some directive failed |
/// | 2 | the command line itself is wrong |
/// | 124 | `--timeout` expired (as `timeout(1)` reports it) |
/// | 125 | the WebAssembly program trapped (`unreachable`, out-of-bounds access, stack exhaustion, out of fuel, ...) |
/// | 126 | the guest exited with a status outside 0..=123 (the status is printed) |
///
/// A guest can end with any status it likes, 1 and 2 included, but never with 124, 125 or
/// 126: those always come from Ward.
pub mod exit {
    use super::run::{GuestStatusOutOfRange, TimedOut, TrapReport};

    /// Success.
    pub const SUCCESS: i32 = 0;
    /// An error, or failed spec directives.
    pub const FAILURE: i32 = 1;
    /// A wrong command line.
    pub const USAGE: i32 = 2;
    /// The highest guest exit status passed through unchanged.
    pub const GUEST_MAX: i32 = 123;
    /// `--timeout` expired.
    pub const TIMEOUT: i32 = 124;
    /// The program trapped.
    pub const TRAP: i32 = 125;
    /// The guest exited with a status outside `0..=GUEST_MAX`.
    pub const GUEST_STATUS_OUT_OF_RANGE: i32 = 126;

    /// The exit status for an error that ended a command.
    pub fn code_for(err: &anyhow::Error) -> i32 {
        for cause in err.chain() {
            if cause.is::<TimedOut>() {
                return TIMEOUT;
            }
            if cause.is::<GuestStatusOutOfRange>() {
                return GUEST_STATUS_OUT_OF_RANGE;
            }
            if cause.is::<TrapReport>() || cause.is::<ward::Trap>() {
                return TRAP;
            }
            match cause.downcast_ref::<ward::Error>() {
                Some(ward::Error::Exit(code)) if (0..=GUEST_MAX).contains(code) => return *code,
                Some(ward::Error::Exit(_)) => return GUEST_STATUS_OUT_OF_RANGE,
                Some(ward::Error::Trap(_)) => return TRAP,
                _ => {}
            }
        }
        FAILURE
    }
}
