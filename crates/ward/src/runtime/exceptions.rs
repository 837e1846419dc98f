//! The store's exception objects, and their collection.
//!
//! A `throw` allocates an object here; `exnref` values in slots, globals, tables and other
//! exceptions' payloads are `index + 1`. Objects are freed, so that a guest that throws and
//! catches forever runs in bounded host memory:
//!
//! - at once, when a `catch` or `catch_all` (without `_ref`) takes an exception that no
//!   `exnref` ever pointed to, or when such an exception escapes the call as a trap;
//! - by a collection, for exceptions that were caught by reference. The collector is
//!   conservative: every slot of every active interpreter stack, every `exnref` global and table
//!   element, and every payload slot of a live exception counts as a possible reference, so it
//!   never frees a reachable object (an integer that looks like a reference only keeps garbage
//!   alive a little longer). It runs when the number of live objects doubles.
//! - never, for an exception the host has seen (an `ExnRef` handed to the embedder is pinned
//!   for the life of the store, since Ward cannot see the host's handles).
//!
//! Native code keeps `exnref` values in registers and in its frames, where no stack map
//! describes them. While native code runs on this thread (between the outermost native entry,
//! which records [`NativeStackTop`], and its return), a collection also counts, conservatively,
//! every 8-byte word of the thread's stack from the collector up to that entry and the
//! callee-saved registers at the collector: every native frame of the store's running call is
//! there, and a value in a register is either still in one of those registers or was saved in
//! a frame in between.

use super::StoreInner;
use std::cell::Cell;

/// A thrown exception: its tag and payload slots.
pub(crate) struct ExnObject {
    pub(crate) tag: u32,
    pub(crate) values: Box<[u64]>,
    /// Whether an `exnref` to this object was ever written anywhere.
    pub(crate) referenced: bool,
    /// Whether the host holds (or held) a handle to it.
    pinned: Cell<bool>,
}

impl ExnObject {
    pub(crate) fn new(tag: u32, values: Box<[u64]>) -> ExnObject {
        ExnObject { tag, values, referenced: false, pinned: Cell::new(false) }
    }
}

/// Live collections start once this many objects exist.
const MIN_COLLECT: usize = 1024;

/// The exception objects of one store.
pub(crate) struct ExnHeap {
    slots: Vec<Option<ExnObject>>,
    free: Vec<u32>,
    live: usize,
    next_collect: usize,
}

impl Default for ExnHeap {
    fn default() -> ExnHeap {
        ExnHeap { slots: Vec::new(), free: Vec::new(), live: 0, next_collect: MIN_COLLECT }
    }
}

impl ExnHeap {
    /// Stores `obj`; returns its reference value (`index + 1`).
    pub(crate) fn alloc(&mut self, obj: ExnObject) -> u64 {
        self.live += 1;
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(obj);
                u64::from(i) + 1
            }
            None => {
                self.slots.push(Some(obj));
                self.slots.len() as u64
            }
        }
    }

    /// The object behind reference value `r`.
    ///
    /// Panics if `r` is not a live object: references reach here only from slots the
    /// collector treats as roots, and from pinned handles.
    pub(crate) fn get(&self, r: u64) -> &ExnObject {
        self.slots[(r - 1) as usize].as_ref().expect("a live exception object")
    }

    pub(crate) fn get_mut(&mut self, r: u64) -> &mut ExnObject {
        self.slots[(r - 1) as usize].as_mut().expect("a live exception object")
    }

    /// Frees `r` if nothing can refer to it (it was never referenced and the host never saw it).
    pub(crate) fn release_if_unreferenced(&mut self, r: u64) {
        let o = self.get(r);
        if !o.referenced && !o.pinned.get() {
            self.free_slot((r - 1) as usize);
        }
    }

    fn free_slot(&mut self, i: usize) {
        self.slots[i] = None;
        self.free.push(i as u32);
        self.live -= 1;
    }

    /// Calls `f` with the tag and payload of every live object.
    pub(crate) fn for_each(&self, mut f: impl FnMut(u32, &[u64])) {
        for o in self.slots.iter().flatten() {
            f(o.tag, &o.values);
        }
    }

    /// Pins `r` (a handle to it was given to the host).
    pub(crate) fn pin(&self, r: u64) {
        if let Some(Some(o)) = self.slots.get((r as usize).wrapping_sub(1)) {
            o.pinned.set(true);
        }
    }

    /// The number of live objects.
    #[cfg(test)]
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// Whether enough objects were allocated since the last collection to run one.
    pub(crate) fn wants_collection(&self) -> bool {
        self.live >= self.next_collect
    }

    /// Frees every object not reachable from `roots` (possible reference values), pinned
    /// objects, or the payloads of reachable objects.
    pub(crate) fn collect(&mut self, roots: impl IntoIterator<Item = u64>) {
        let n = self.slots.len();
        let mut marked = vec![false; n];
        let mut work: Vec<usize> = Vec::new();
        let mark = |v: u64, marked: &mut Vec<bool>, work: &mut Vec<usize>| {
            let i = (v as usize).wrapping_sub(1);
            if i < n && !marked[i] && self.slots[i].is_some() {
                marked[i] = true;
                work.push(i);
            }
        };
        for v in roots {
            mark(v, &mut marked, &mut work);
        }
        for (i, o) in self.slots.iter().enumerate() {
            if o.as_ref().is_some_and(|o| o.pinned.get()) {
                mark(i as u64 + 1, &mut marked, &mut work);
            }
        }
        while let Some(i) = work.pop() {
            let values = &self.slots[i].as_ref().expect("marked objects are live").values;
            for &v in values.iter() {
                let j = (v as usize).wrapping_sub(1);
                if j < n && !marked[j] && self.slots[j].is_some() {
                    marked[j] = true;
                    work.push(j);
                }
            }
        }
        for (i, m) in marked.iter().enumerate() {
            if !m && self.slots[i].is_some() {
                self.free_slot(i);
            }
        }
        self.next_collect = (self.live * 2).max(MIN_COLLECT);
    }
}

thread_local! {
    /// The highest stack address of the outermost native call running on this thread (0: none).
    static NATIVE_STACK_TOP: Cell<usize> = const { Cell::new(0) };
}

/// Marks the stack of this thread up to the address it was created at as holding native frames
/// (if no native call is running on the thread yet), until dropped.
pub(crate) struct NativeStackTop {
    outer: usize,
}

impl NativeStackTop {
    /// `top` must be an address in the caller's frame, above every frame the native call will
    /// push.
    #[cfg_attr(not(feature = "native"), allow(dead_code))]
    pub(crate) fn enter(top: usize) -> NativeStackTop {
        let outer = NATIVE_STACK_TOP.get();
        if outer == 0 {
            NATIVE_STACK_TOP.set(top);
        }
        NativeStackTop { outer }
    }
}

impl Drop for NativeStackTop {
    fn drop(&mut self) {
        NATIVE_STACK_TOP.set(self.outer);
    }
}

/// Most bytes of stack the conservative scan reads; a thread's stack is never larger than its
/// limit, and a top this far away means the scan is not on the stack native code runs on.
const MAX_SCAN_BYTES: usize = 1 << 30;

/// Adds to `roots` every word that may be a reference held by native frames of this thread: the
/// callee-saved registers here and every 8-byte word of the stack from here up to
/// [`NativeStackTop`]. Nothing when no native call runs on this thread.
#[inline(never)]
fn native_stack_roots(roots: &mut Vec<u64>) {
    let top = NATIVE_STACK_TOP.get();
    if top == 0 {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    {
        let regs: [u64; 6];
        // SAFETY: only reads registers into outputs; no memory, stack or flags are touched.
        unsafe {
            let (a, b, c, d, e, f): (u64, u64, u64, u64, u64, u64);
            std::arch::asm!(
                "mov {0}, rbx",
                "mov {1}, rbp",
                "mov {2}, r12",
                "mov {3}, r13",
                "mov {4}, r14",
                "mov {5}, r15",
                out(reg) a, out(reg) b, out(reg) c, out(reg) d, out(reg) e, out(reg) f,
                options(nomem, nostack, preserves_flags),
            );
            regs = [a, b, c, d, e, f];
        }
        roots.extend_from_slice(&regs);
    }
    let here = std::hint::black_box(0u64);
    let from = (&raw const here as usize) & !7;
    if from >= top || top - from > MAX_SCAN_BYTES {
        return;
    }
    let mut at = from;
    while at + 8 <= top {
        // SAFETY: `[from, top)` is this thread's stack between this frame and the frame of the
        // outermost native entry, which is still running (it resets the top when it returns):
        // mapped, readable memory. Each word is read as an opaque integer, never dereferenced.
        roots.push(unsafe { std::ptr::read_volatile(at as *const u64) });
        at += 8;
    }
}

impl StoreInner {
    /// Frees the exception objects nothing can reach. Roots: `own` (the value stack of the
    /// running interpreted call, if any), the value stacks of the calls suspended in host
    /// functions or parked, `exnref` globals and table elements, references stored in GC
    /// objects, and the native frames of this thread (see the module documentation).
    pub(crate) fn collect_exns(&mut self, own: &[u64]) {
        let suspended = self.suspended_stacks.iter().chain(self.parked_stacks.iter().flatten());
        let suspended = suspended.flat_map(|s| {
            // SAFETY: see `SuspendedStack`: the buffer is alive and not written while its call
            // is suspended, and `len` is within it.
            unsafe { std::slice::from_raw_parts(s.start, s.len) }.iter().copied()
        });
        let is_exn = |t: &crate::types::ValType| matches!(t, crate::types::ValType::Ref(r) if r.heap == crate::types::HeapType::Exn);
        let globals = self.globals.iter().filter(|g| is_exn(&g.ty.content)).map(|g| g.value as u64);
        let tables = self
            .tables
            .iter()
            .filter(|t| t.ty.element.heap == crate::types::HeapType::Exn)
            .flat_map(|t| t.elems.iter().copied());
        let mut roots: Vec<u64> =
            own.iter().copied().chain(suspended).chain(globals).chain(tables).collect();
        let exn = crate::module::gc_types::RefKind::Exn;
        self.gc.for_each_stored_ref(exn, |r| roots.push(r));
        native_stack_roots(&mut roots);
        self.exns.collect(roots);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(values: &[u64]) -> ExnObject {
        ExnObject::new(0, values.into())
    }

    #[test]
    fn unreferenced_objects_are_released_and_slots_reused() {
        let mut h = ExnHeap::default();
        let a = h.alloc(obj(&[1]));
        h.release_if_unreferenced(a);
        assert_eq!(h.live(), 0);
        let b = h.alloc(obj(&[2]));
        assert_eq!(a, b, "the freed slot is reused");
        h.get_mut(b).referenced = true;
        h.release_if_unreferenced(b);
        assert_eq!(h.live(), 1, "a referenced object waits for a collection");
    }

    #[test]
    fn collection_keeps_roots_payload_chains_and_pinned_objects() {
        let mut h = ExnHeap::default();
        let leaf = h.alloc(obj(&[]));
        let parent = h.alloc(obj(&[leaf]));
        let garbage = h.alloc(obj(&[]));
        let pinned = h.alloc(obj(&[]));
        h.pin(pinned);
        h.collect([parent]);
        assert_eq!(h.live(), 3);
        assert!(h.slots[(garbage - 1) as usize].is_none());
        assert_eq!(h.get(leaf).values.len(), 0);
        assert_eq!(h.get(parent).values[0], leaf);
        h.collect([]);
        assert_eq!(h.live(), 1, "only the pinned object survives without roots");
        assert!(h.slots[(pinned - 1) as usize].is_some());
    }

    #[test]
    fn the_native_stack_scan_sees_words_of_frames_below_the_top() {
        #[inline(never)]
        fn scan_from_deeper_frame() -> Vec<u64> {
            let mut roots = Vec::new();
            native_stack_roots(&mut roots);
            roots
        }
        let marker = std::hint::black_box([0x5eed_1234_u64; 4]);
        let top = (&raw const marker as usize) + std::mem::size_of_val(&marker);
        assert!(scan_from_deeper_frame().is_empty(), "no native call: no scan");
        let guard = NativeStackTop::enter(top);
        let roots = scan_from_deeper_frame();
        drop(guard);
        assert!(roots.contains(&0x5eed_1234), "a word in a frame between collector and top");
        assert_eq!(NATIVE_STACK_TOP.get(), 0, "the top is reset when the outermost call ends");
    }
}
