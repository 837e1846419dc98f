//! Out-of-bounds accesses caught by the MMU: the entry that can be unwound to, the registry of
//! native code and its trap sites, and the `SIGSEGV`/`SIGBUS` handler.
//!
//! On a guarded engine a 32-bit memory with 64 KiB pages reserves its whole index space plus
//! [`GUARD_BYTES`] (`runtime/memory.rs`), inaccessible past its length. An access whose static
//! offset and size stay within the guard can then only touch the reservation, so the translator
//! emits no bounds check: the load or store itself faults when it is out of bounds, and
//! Cranelift records its offset as a trap site (flags with `HEAP_OUT_OF_BOUNDS`).
//!
//! Every native call enters through [`enter`] (`ward_native_enter`, below): it saves the
//! callee-saved registers on the stack and the resulting stack pointer in the thread's
//! [`UNWIND_SP`], then calls the trampoline. The handler, on a fault at a registered trap site
//! while `UNWIND_SP` is set, records the faulting PC and resumes the thread at
//! `ward_native_unwind`, which restores that stack pointer and returns from
//! `ward_native_enter` with 1. Native frames own nothing that needs dropping (their state is in
//! the store context and its objects), so abandoning them is a complete unwind. Between an
//! `enter` and the native code that faults there are only native frames: native code reaches
//! Rust only through runtime calls, and native code reached from Rust again goes through a new
//! `enter` (which saves and restores the outer `UNWIND_SP`).
//!
//! Any other fault — not at a trap site, or on a thread outside native code — goes to the
//! handler that was installed before Ward's (Rust's stack-overflow reporter, an embedder's, or
//! the default action).

use std::cell::Cell;
use std::sync::{Arc, Once, RwLock};

/// Bytes past the 4 GiB index space of a guarded 32-bit memory that are reserved and never
/// accessible: an access with a static offset plus size up to this needs no bounds check.
pub(crate) const GUARD_BYTES: u64 = crate::runtime::memory::GUARD_BYTES_32;

thread_local! {
    /// The stack pointer `ward_native_enter` saved for the innermost native call on this
    /// thread (0 outside native code).
    static UNWIND_SP: Cell<usize> = const { Cell::new(0) };
    /// The PC of the last access the handler turned into a trap on this thread.
    static FAULT_PC: Cell<usize> = const { Cell::new(0) };
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
std::arch::global_asm!(
    ".pushsection .text.ward_native_enter,\"ax\",@progbits",
    ".p2align 4",
    ".globl ward_native_enter",
    ".hidden ward_native_enter",
    ".type ward_native_enter,@function",
    // fn(tramp, vmctx, values, entry, sp_slot: *mut usize) -> u32
    "ward_native_enter:",
    "push rbp",
    "mov rbp, rsp",
    "push rbx",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "sub rsp, 8", // 16-byte alignment at the call below
    "mov [r8], rsp",
    "mov rax, rdi",
    "mov rdi, rsi",
    "mov rsi, rdx",
    "mov rdx, rcx",
    "call rax",
    "xor eax, eax",
    "2:",
    "add rsp, 8",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbx",
    "pop rbp",
    "ret",
    ".size ward_native_enter, . - ward_native_enter",
    ".globl ward_native_unwind",
    ".hidden ward_native_unwind",
    ".type ward_native_unwind,@function",
    // fn(sp, code) -> !: continues as `ward_native_enter` returning `code` with the stack it
    // saved.
    "ward_native_unwind:",
    "mov rsp, rdi",
    "mov eax, esi",
    "jmp 2b",
    ".size ward_native_unwind, . - ward_native_unwind",
    ".popsection",
);

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
unsafe extern "C" {
    fn ward_native_enter(
        tramp: *const u8,
        vmctx: *mut u8,
        values: *mut u64,
        entry: *const u8,
        sp_slot: *mut usize,
    ) -> u32;
    fn ward_native_unwind(sp: usize, code: u32) -> !;
}

/// How a native call entered through [`enter`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Entered {
    /// The trampoline returned (with a trap recorded in the store context or not).
    Returned,
    /// An unchecked access at this PC faulted; the native frames were abandoned.
    Faulted(usize),
    /// Native code recorded a trap in the store context and abandoned its frames ([`raise`]).
    Raised,
}

/// What `ward_native_enter` returns after `ward_native_unwind` from the fault handler.
const UNWOUND_FAULT: u32 = 1;
/// What `ward_native_enter` returns after `ward_native_unwind` from [`raise`].
const UNWOUND_RAISE: u32 = 2;

/// Whether native code unwinds to [`enter`] when it traps ([`raise`]) instead of returning
/// through every frame, so that callers need not test for a trap after each call.
pub(super) const UNWINDS: bool = cfg!(all(target_arch = "x86_64", target_os = "linux"));

/// Calls array-call trampoline `tramp` with `vmctx`, `values` and `entry`, so that a fault at a
/// registered trap site, or a trap native code raises, unwinds back here.
///
/// # Safety
/// The trampoline's contract (`enter::call`): `tramp` is an array-call trampoline compiled by
/// `compile_module` for `entry`'s signature, `vmctx` its instance's live context and `values`
/// large enough for its parameters and results.
pub(super) unsafe fn enter(
    tramp: *const u8,
    vmctx: *mut u8,
    values: *mut u64,
    entry: *const u8,
) -> Entered {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        let outer = UNWIND_SP.get();
        // SAFETY: `ward_native_enter` is the assembly above: it keeps the C convention (saves
        // and restores every callee-saved register, aligns the stack for the call) and writes
        // only `*sp_slot`, this thread's `UNWIND_SP`, valid for the thread's life. The call of
        // `tramp` is the caller's contract.
        let unwound =
            unsafe { ward_native_enter(tramp, vmctx, values, entry, UNWIND_SP.with(Cell::as_ptr)) };
        UNWIND_SP.set(outer);
        match unwound {
            UNWOUND_FAULT => Entered::Faulted(FAULT_PC.get()),
            UNWOUND_RAISE => Entered::Raised,
            _ => Entered::Returned,
        }
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    {
        type ArrayCall = unsafe extern "C" fn(*mut u8, *mut u64, *const u8);
        // SAFETY: the caller's contract.
        unsafe { std::mem::transmute::<*const u8, ArrayCall>(tramp)(vmctx, values, entry) };
        Entered::Returned
    }
}

/// The runtime call of a trap (native code has recorded it in the store context): abandons
/// every native frame of the innermost native call and continues in [`enter`], which returns
/// [`Entered::Raised`]. Between that `enter` and this call there are only native frames and
/// this function's, none of which owns anything to drop (see the module documentation). Where
/// [`UNWINDS`] is false native code never makes this call; if it did, the call would return and
/// the code would return through its frames as it does there.
pub(super) extern "C" fn raise() {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        let sp = UNWIND_SP.get();
        if sp != 0 {
            // SAFETY: `sp` is the stack pointer the innermost `ward_native_enter` on this
            // thread saved, and it has not returned (it resets `UNWIND_SP` when it does):
            // every frame above it is native code's or this function's, which hold nothing
            // that needs dropping.
            unsafe { ward_native_unwind(sp, UNWOUND_RAISE) }
        }
    }
}

/// One module's native code as the handler sees it.
pub(super) struct CodeInfo {
    /// The code's address range.
    pub(super) start: usize,
    pub(super) end: usize,
    /// Offsets (from `start`) of the accesses that may fault out of bounds, sorted.
    pub(super) trap_sites: Vec<u32>,
}

/// Every module's native code that has trap sites, as long as it is mapped.
static REGISTRY: RwLock<Vec<Arc<CodeInfo>>> = RwLock::new(Vec::new());

/// Keeps a module's code in the registry; removes it when dropped (before the code is unmapped:
/// `CompiledModule` declares it first).
pub(super) struct Registration(Arc<CodeInfo>);

/// Registers `info` (and installs the handler, once per process). Code without trap sites is
/// not registered.
pub(super) fn register(info: CodeInfo) -> Option<Registration> {
    if info.trap_sites.is_empty() {
        return None;
    }
    install_handler();
    let info = Arc::new(info);
    REGISTRY.write().unwrap_or_else(|e| e.into_inner()).push(info.clone());
    Some(Registration(info))
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut reg = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
        reg.retain(|i| !Arc::ptr_eq(i, &self.0));
    }
}

/// Whether `pc` is a registered trap site. Called from the signal handler: it takes no lock
/// that the faulting thread could hold (the registry is written only by code outside native
/// calls), and allocates nothing.
fn is_trap_site(pc: usize) -> bool {
    let mut spins = 0u32;
    let reg = loop {
        match REGISTRY.try_read() {
            Ok(r) => break r,
            Err(std::sync::TryLockError::Poisoned(p)) => break p.into_inner(),
            // Another thread is registering or dropping code: it holds the lock briefly. (If
            // this thread held it, the fault is not in native code: give up after a while.)
            Err(std::sync::TryLockError::WouldBlock) if spins < 1 << 24 => {
                spins += 1;
                std::hint::spin_loop()
            }
            Err(std::sync::TryLockError::WouldBlock) => return false,
        }
    };
    reg.iter().any(|c| {
        c.start <= pc && pc < c.end && c.trap_sites.binary_search(&((pc - c.start) as u32)).is_ok()
    })
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod handler {
    use super::{is_trap_site, FAULT_PC, UNWIND_SP};
    use std::mem::MaybeUninit;

    /// The handlers installed before Ward's, for `SIGSEGV` and `SIGBUS`.
    static mut PREVIOUS: [MaybeUninit<libc::sigaction>; 2] =
        [MaybeUninit::uninit(), MaybeUninit::uninit()];

    pub(super) fn install() {
        for (i, sig) in [libc::SIGSEGV, libc::SIGBUS].into_iter().enumerate() {
            // SAFETY: called once (under `Once`) before any registered code can run;
            // `PREVIOUS[i]` is written by `sigaction` before the new handler can read it (the
            // handler is installed by this same call, atomically with saving the old one).
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_fault as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                let prev = (&raw mut PREVIOUS[i]).cast::<libc::sigaction>();
                if libc::sigaction(sig, &action, prev) != 0 {
                    panic!("cannot install the handler for out-of-bounds accesses");
                }
            }
        }
    }

    extern "C" fn on_fault(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        // SAFETY: the kernel passes a valid `ucontext_t` to an `SA_SIGINFO` handler.
        let uc = unsafe { &mut *ctx.cast::<libc::ucontext_t>() };
        let pc = uc.uc_mcontext.gregs[libc::REG_RIP as usize] as usize;
        let sp = UNWIND_SP.get();
        if sp != 0 && is_trap_site(pc) {
            FAULT_PC.set(pc);
            // Resume at `ward_native_unwind(sp)`: the native frames above the innermost
            // `ward_native_enter` are abandoned.
            uc.uc_mcontext.gregs[libc::REG_RIP as usize] =
                super::ward_native_unwind as *const () as usize as i64;
            uc.uc_mcontext.gregs[libc::REG_RDI as usize] = sp as i64;
            uc.uc_mcontext.gregs[libc::REG_RSI as usize] = i64::from(super::UNWOUND_FAULT);
            return;
        }
        let i = usize::from(sig != libc::SIGSEGV);
        // SAFETY: `PREVIOUS` was filled by `install` before this handler was installed and is
        // never written again.
        let prev: &libc::sigaction = unsafe { &*(&raw const PREVIOUS[i]).cast() };
        let h = prev.sa_sigaction;
        if h == libc::SIG_DFL || h == libc::SIG_IGN {
            // Put the previous disposition back and return: the access faults again and gets
            // the default action (for a fault, ignoring is not possible either).
            // SAFETY: restoring a disposition the process had.
            unsafe { libc::sigaction(sig, prev, std::ptr::null_mut()) };
        } else if prev.sa_flags & libc::SA_SIGINFO != 0 {
            // SAFETY: the previous handler was installed with `SA_SIGINFO`, so it takes these
            // three arguments.
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                unsafe { std::mem::transmute(h) };
            f(sig, info, ctx);
        } else {
            // SAFETY: a plain handler takes the signal number.
            let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(h) };
            f(sig);
        }
    }
}

fn install_handler() {
    static ONCE: Once = Once::new();
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    ONCE.call_once(handler::install);
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    ONCE.call_once(|| {});
}

/// Whether this build catches out-of-bounds accesses with the handler (so the translator may
/// drop bounds checks on guarded memories).
pub(super) const SUPPORTED: bool = cfg!(all(target_arch = "x86_64", target_os = "linux"));
