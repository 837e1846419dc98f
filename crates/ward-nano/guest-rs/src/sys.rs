//! The raw `ward:nano` imports (see `ward-nano`'s `src/guest.rs`), wrapped as safe functions:
//! every argument is a plain number the host checks, so calling them cannot break this
//! process's memory safety — pointers are only read or written by the host, within this
//! process's memory, after a bounds check.
//!
//! Outside WebAssembly (a host `cargo test` or `cargo doc`) the imports do not exist; these
//! functions then abort, and only the crate's pure parts can be used.

#[cfg(target_family = "wasm")]
mod imp {
    #[link(wasm_import_module = "ward:nano")]
    extern "C" {
        #[link_name = "self"]
        fn ward_self() -> i64;
        #[link_name = "parent"]
        fn ward_parent() -> i64;
        #[link_name = "spawn"]
        fn ward_spawn(name: i32, name_len: i32) -> i64;
        #[link_name = "supervise"]
        fn ward_supervise(name: i32, name_len: i32, max_restarts: i32, window_ms: i32) -> i64;
        #[link_name = "send"]
        fn ward_send(to: i64, ptr: i32, len: i32, tag: i32) -> i32;
        #[link_name = "send_cap"]
        fn ward_send_cap(to: i64, ptr: i32, len: i32, tag: i32, cap: i64) -> i32;
        #[link_name = "receive"]
        fn ward_receive(buf: i32, cap: i32, timeout_ms: i32, tag_filter: i32) -> i32;
        #[link_name = "msg_tag"]
        fn ward_msg_tag() -> i32;
        #[link_name = "msg_sender"]
        fn ward_msg_sender() -> i64;
        #[link_name = "msg_cap"]
        fn ward_msg_cap() -> i64;
        #[link_name = "link"]
        fn ward_link(pid: i64) -> i32;
        #[link_name = "monitor"]
        fn ward_monitor(pid: i64) -> i32;
        #[link_name = "trap_exit"]
        fn ward_trap_exit(on: i32);
        #[link_name = "exit"]
        fn ward_exit(code: i32);
    }

    // SAFETY (every function below): the imports take and return plain integers; the host
    // reads or writes this process's memory only at the addresses passed, after checking that
    // they lie inside it, and the safe wrappers in lib.rs pass addresses of live Rust buffers of
    // the lengths given.
    pub fn self_() -> i64 {
        unsafe { ward_self() }
    }
    pub fn parent() -> i64 {
        unsafe { ward_parent() }
    }
    pub fn spawn(name: i32, len: i32) -> i64 {
        unsafe { ward_spawn(name, len) }
    }
    pub fn supervise(name: i32, len: i32, max_restarts: i32, window_ms: i32) -> i64 {
        unsafe { ward_supervise(name, len, max_restarts, window_ms) }
    }
    pub fn send(to: i64, ptr: i32, len: i32, tag: i32) -> i32 {
        unsafe { ward_send(to, ptr, len, tag) }
    }
    pub fn send_cap(to: i64, ptr: i32, len: i32, tag: i32, cap: i64) -> i32 {
        unsafe { ward_send_cap(to, ptr, len, tag, cap) }
    }
    pub fn receive(buf: i32, cap: i32, timeout_ms: i32, filter: i32) -> i32 {
        unsafe { ward_receive(buf, cap, timeout_ms, filter) }
    }
    pub fn msg_tag() -> i32 {
        unsafe { ward_msg_tag() }
    }
    pub fn msg_sender() -> i64 {
        unsafe { ward_msg_sender() }
    }
    pub fn msg_cap() -> i64 {
        unsafe { ward_msg_cap() }
    }
    pub fn link(pid: i64) -> i32 {
        unsafe { ward_link(pid) }
    }
    pub fn monitor(pid: i64) -> i32 {
        unsafe { ward_monitor(pid) }
    }
    pub fn trap_exit(on: i32) {
        unsafe { ward_trap_exit(on) }
    }
    pub fn exit(code: i32) {
        unsafe { ward_exit(code) }
    }
}

#[cfg(not(target_family = "wasm"))]
mod imp {
    fn absent() -> ! {
        eprintln!("ward-nano-guest: the `ward:nano` imports exist only inside a nanoprocess");
        std::process::abort()
    }
    pub fn self_() -> i64 {
        absent()
    }
    pub fn parent() -> i64 {
        absent()
    }
    pub fn spawn(_: i32, _: i32) -> i64 {
        absent()
    }
    pub fn supervise(_: i32, _: i32, _: i32, _: i32) -> i64 {
        absent()
    }
    pub fn send(_: i64, _: i32, _: i32, _: i32) -> i32 {
        absent()
    }
    pub fn send_cap(_: i64, _: i32, _: i32, _: i32, _: i64) -> i32 {
        absent()
    }
    pub fn receive(_: i32, _: i32, _: i32, _: i32) -> i32 {
        absent()
    }
    pub fn msg_tag() -> i32 {
        absent()
    }
    pub fn msg_sender() -> i64 {
        absent()
    }
    pub fn msg_cap() -> i64 {
        absent()
    }
    pub fn link(_: i64) -> i32 {
        absent()
    }
    pub fn monitor(_: i64) -> i32 {
        absent()
    }
    pub fn trap_exit(_: i32) {
        absent()
    }
    pub fn exit(_: i32) {
        absent()
    }
}

pub use imp::*;
