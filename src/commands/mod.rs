//! The subcommands of `ward`, one module each, and the exit statuses they share.

pub mod run;
pub mod wast;

/// Exit statuses of `ward`.
///
/// | status | meaning |
/// | --- | --- |
/// | 0 | success (`ward wast`: every directive passed) |
/// | 1 | an error: unreadable, malformed or invalid module, missing or mistyped import, bad arguments to `--invoke`; `ward wast`: some directive failed |
/// | 2 | the command line itself is wrong (reported by the argument parser) |
/// | 124 | `--timeout` expired (as `timeout(1)` reports it) |
/// | 125 | the WebAssembly program trapped (`unreachable`, out-of-bounds access, stack exhaustion, out of fuel, ...) |
/// | other | a guest's own exit code, passed through unchanged (WASI `proc_exit`) |
///
/// 125 keeps traps apart from ordinary errors and out of the range of signal deaths
/// (128 + signal); a guest can still pick 125 itself, which no choice could prevent.
pub mod exit {
    /// Success.
    pub const SUCCESS: i32 = 0;
    /// An error, or failed spec directives.
    pub const FAILURE: i32 = 1;
    /// `--timeout` expired.
    pub const TIMEOUT: i32 = 124;
    /// The program trapped.
    pub const TRAP: i32 = 125;

    /// The exit status for an error that ended a command.
    pub fn code_for(err: &anyhow::Error) -> i32 {
        for cause in err.chain() {
            match cause.downcast_ref::<ward::Error>() {
                Some(ward::Error::Exit(code)) => return *code,
                Some(ward::Error::Trap(_)) => return TRAP,
                _ => {}
            }
            if cause.downcast_ref::<ward::Trap>().is_some() {
                return TRAP;
            }
        }
        FAILURE
    }
}
