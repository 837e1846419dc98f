//! Calls out of native code to functions that have no native code: host functions and the
//! functions of instances that run in the interpreter.
//!
//! The native tier cannot call a host function itself: host functions take the generic
//! `Store<T>` that only the embedding layer (`api/`) knows. So the driver of a native call hands
//! native code an [`Exit`], the embedding layer's call path for one function; native code
//! reaches it through the runtime call `libcalls::call_out`, with the arguments and then the
//! results in 8-byte slots (the array-call convention). The exit is *installed* for the
//! duration of the native call in a thread-local (native code runs on the calling thread, and
//! calls nest strictly: a host function that calls wasm again installs its own exit and the
//! outer one comes back when that call returns).

use crate::error::Result;
use std::cell::Cell;
use std::marker::PhantomData;
use std::ptr::NonNull;

/// The embedding layer's call path, as native code sees it.
pub(crate) trait Exit {
    /// Calls store function `func` (a host function, or a wasm function without native code)
    /// on behalf of a native function of store instance `caller`. `slots` holds the arguments
    /// and receives the results (at least as many slots as either).
    fn call(&mut self, caller: u32, func: u32, slots: &mut [u64]) -> Result<()>;

    /// The engine's epoch reached the store's deadline: does what the embedder asked for (an
    /// error to trap with, or a new deadline).
    fn epoch_deadline(&mut self) -> Result<()>;
}

thread_local! {
    /// The exit of the innermost native call running on this thread.
    static ACTIVE: Cell<Option<NonNull<dyn Exit>>> = const { Cell::new(None) };
}

/// Keeps an exit installed while it lives; puts the previous one back when dropped (also when a
/// panic that native code parked is resumed).
pub(super) struct Installed<'a> {
    previous: Option<NonNull<dyn Exit>>,
    _exit: PhantomData<&'a mut dyn Exit>,
}

/// Installs `exit` for the native call about to run on this thread.
pub(super) fn install<'a>(exit: &'a mut (dyn Exit + 'a)) -> Installed<'a> {
    let ptr = NonNull::from(exit);
    // SAFETY: only the lifetime changes (same layout). The pointer is used only while the
    // returned guard lives, which borrows `exit` for `'a`, and the guard takes it out of the
    // thread-local again when dropped.
    let ptr: NonNull<dyn Exit + 'static> = unsafe { std::mem::transmute(ptr) };
    let previous = ACTIVE.with(|a| a.replace(Some(ptr)));
    Installed { previous, _exit: PhantomData }
}

impl Drop for Installed<'_> {
    fn drop(&mut self) {
        ACTIVE.with(|a| a.set(self.previous));
    }
}

/// The exit of the native call running on this thread, if any.
pub(super) fn active() -> Option<NonNull<dyn Exit>> {
    ACTIVE.with(Cell::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Count(u32);
    impl Exit for Count {
        fn call(&mut self, caller: u32, _: u32, slots: &mut [u64]) -> Result<()> {
            self.0 += 1;
            slots[0] = caller as u64;
            Ok(())
        }
        fn epoch_deadline(&mut self) -> Result<()> {
            Ok(())
        }
    }

    #[test]
    fn exits_nest_and_are_removed() {
        assert!(active().is_none());
        let mut outer = Count(0);
        {
            let _g = install(&mut outer);
            let mut inner = Count(0);
            {
                let _h = install(&mut inner);
                let mut slots = [0u64];
                // SAFETY: the installed exit is `inner`, alive and not otherwise borrowed.
                unsafe { (*active().unwrap().as_ptr()).call(7, 0, &mut slots) }.unwrap();
                assert_eq!(slots[0], 7);
            }
            assert_eq!(inner.0, 1);
            // SAFETY: `outer` is installed again, alive and not otherwise borrowed.
            unsafe { (*active().unwrap().as_ptr()).call(1, 0, &mut [0]) }.unwrap();
        }
        assert_eq!(outer.0, 1);
        assert!(active().is_none());
    }
}
