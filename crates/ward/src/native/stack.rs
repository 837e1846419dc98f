//! How deep native code may go on the calling thread's stack.
//!
//! Native wasm frames live on the thread that calls into them. The driver sets the store
//! context's `stack_limit` to the lowest address of the thread's stack plus a reserve
//! ([`reserve`]), and every native function compares its stack pointer with it on entry (after
//! its frame is allocated). The reserve therefore has to hold one native frame (the largest of
//! the store's native code, at most `compile::MAX_FRAME`; larger frames make the module fall
//! back) and whatever a runtime call made from a frame that passed the check uses
//! (`memory.grow`, the embedder's resource limiter).

use std::cell::Cell;

/// Bytes kept free at the bottom of the thread's stack for runtime calls, below the largest
/// native frame.
const RUNTIME_CALLS: usize = 192 << 10;

/// Native frames up to this size never raise the reserve above its usual 256 KiB.
const SMALL_FRAME: usize = 64 << 10;

/// Bytes kept free at the bottom of the thread's stack when the largest native frame of the
/// store is `max_frame` bytes.
pub(super) fn reserve(max_frame: u32) -> usize {
    (max_frame as usize).max(SMALL_FRAME) + RUNTIME_CALLS
}

/// The stack native code may use when the thread's stack bounds are unknown (or the caller
/// runs on a stack of its own, outside them).
const FALLBACK_BUDGET: usize = 512 << 10;

thread_local! {
    /// This thread's stack as `(lowest, highest)` address; `(0, 0)` until first asked, then
    /// `(1, 0)` if unknown.
    static BOUNDS: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

/// The `stack_limit` for a native call made from here, whose frames are at most `max_frame`
/// bytes.
pub(super) fn limit(max_frame: u32) -> usize {
    let marker = 0u8;
    let here = std::hint::black_box(&marker) as *const u8 as usize;
    let (low, high) = BOUNDS.with(|b| {
        if b.get() == (0, 0) {
            b.set(thread_stack().unwrap_or((1, 0)));
        }
        b.get()
    });
    if low < here && here <= high {
        // If the stack has less than the reserve left, the limit is above us: the first native
        // function traps at once with `call stack exhausted`.
        low.saturating_add(reserve(max_frame))
    } else {
        here.saturating_sub(FALLBACK_BUDGET.max(2 * reserve(max_frame)))
    }
}

/// The bounds of the calling thread's stack.
#[cfg(target_os = "linux")]
fn thread_stack() -> Option<(usize, usize)> {
    // SAFETY: `attr` is initialised by `pthread_getattr_np` before it is read and destroyed
    // once; the out-pointers are valid locals.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let r = libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        (r == 0 && !addr.is_null()).then(|| (addr as usize, addr as usize + size))
    }
}

#[cfg(not(target_os = "linux"))]
fn thread_stack() -> Option<(usize, usize)> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_below_us_on_a_normal_thread() {
        let marker = 0u8;
        let here = &marker as *const u8 as usize;
        let limit = std::thread::spawn(|| limit(0)).join().unwrap();
        assert!(limit > 0);
        let mine = limit_here();
        assert!(mine < here, "{mine:#x} {here:#x}");
        // A 2 MiB thread leaves most of its stack to native code.
        let on_small = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(|| {
                let m = 0u8;
                (&m as *const u8 as usize) - limit_here()
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(on_small > (1 << 20), "{on_small}");
    }

    fn limit_here() -> usize {
        limit(0)
    }

    #[test]
    fn large_frames_raise_the_reserve() {
        assert_eq!(reserve(0), 256 << 10);
        assert_eq!(reserve(64 << 10), 256 << 10);
        assert_eq!(reserve(200 << 10), (200 << 10) + RUNTIME_CALLS);
        let low = std::thread::spawn(|| (limit(0), limit(500 << 10))).join().unwrap();
        assert_eq!(low.1 - low.0, (500 << 10) - SMALL_FRAME);
    }
}
