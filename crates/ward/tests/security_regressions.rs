//! Regression tests for the core-library findings of the security review (issue 8). Each test
//! is the attack — a guest module or a host program — followed by the clean outcome it must now
//! have. Time bounds are deliberately loose (ten or more times what the fixed code needs): they
//! separate "linear" from "quadratic or unbounded", not fast from slow.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};
use ward::{
    Caller, Config, Engine, Error, Extern, GuestText, Instance, Linker, Module, Store,
    StoreLimitsBuilder, Tier, Trap, TrapCode, Val,
};

fn engine_with(f: impl FnOnce(&mut Config)) -> Engine {
    let mut config = Config::new();
    f(&mut config);
    Engine::new(&config)
}

fn trap_code(e: &Error) -> TrapCode {
    match e.as_trap() {
        Some(t) => t.code(),
        None => panic!("expected a trap, got {e:?}"),
    }
}

// ---- 1. a tail call to a host function sees the right caller ---------------------------------

/// Module B writes into "its" memory through a host function reached by every form of tail
/// call; module A (the caller, with its own memory) calls B. The host must see B's memory.
#[test]
fn tail_called_host_functions_see_the_tail_caller_not_its_caller() {
    let engine = Engine::default();
    let mut linker: Linker<()> = Linker::new(&engine);
    // The host function writes the byte 0x42 at address 0 of its caller's memory.
    linker
        .func_wrap("host", "poke", |mut caller: Caller<'_, ()>| -> ward::Result<()> {
            let Some(Extern::Memory(mem)) = caller.get_export("memory") else {
                return Err(Trap::host("caller has no memory export").into());
            };
            mem.data_mut(&mut caller)[0] = 0x42;
            Ok(())
        })
        .unwrap();
    let mut store = Store::new(&engine, ());
    let b = Module::new(
        &engine,
        r#"(module
            (import "host" "poke" (func $poke))
            (type $t (func))
            (memory (export "memory") 1)
            (table 1 funcref) (elem (i32.const 0) $poke)
            (elem declare func $poke)
            (func (export "direct") (return_call $poke))
            (func (export "indirect") (return_call_indirect (type $t) (i32.const 0)))
            (func (export "by_ref") (return_call_ref $t (ref.func $poke))))"#,
    )
    .unwrap();
    let b_inst = linker.instantiate(&mut store, &b).unwrap();
    linker.instance(&mut store, "b", b_inst).unwrap();
    let a = Module::new(
        &engine,
        r#"(module
            (import "b" "direct" (func $direct))
            (import "b" "indirect" (func $indirect))
            (import "b" "by_ref" (func $by_ref))
            (memory (export "memory") 1)
            (func (export "direct") (call $direct))
            (func (export "indirect") (call $indirect))
            (func (export "by_ref") (call $by_ref)))"#,
    )
    .unwrap();
    let a_inst = linker.instantiate(&mut store, &a).unwrap();
    let a_mem = a_inst.get_memory(&store, "memory").unwrap();
    let b_mem = b_inst.get_memory(&store, "memory").unwrap();
    for export in ["direct", "indirect", "by_ref"] {
        b_mem.data_mut(&mut store)[0] = 0;
        let f = a_inst.get_typed_func::<(), ()>(&mut store, export).unwrap();
        f.call(&mut store, ()).unwrap();
        assert_eq!(a_mem.data(&store)[0], 0, "{export}: A's memory was written");
        assert_eq!(b_mem.data(&store)[0], 0x42, "{export}: B's memory was not written");
        // Called directly from the host, the outermost frame's tail call still has a caller.
        b_mem.data_mut(&mut store)[0] = 0;
        let f = b_inst.get_typed_func::<(), ()>(&mut store, export).unwrap();
        f.call(&mut store, ()).unwrap();
        assert_eq!(b_mem.data(&store)[0], 0x42, "{export} from the host");
    }
}

// ---- 4. exceptions run in bounded host memory ------------------------------------------------

/// Resident set size of this process, in bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

/// A catch-and-rethrow loop with a 1,000 x v128 payload (16 KB per exception): 100,000 rounds
/// would hold 1.6 GB if exceptions were never freed. Both forms: catching without a reference
/// (the object dies at once) and catching by reference then rethrowing (the collector frees it).
/// In both tiers: native code's exception references are found by scanning its frames.
#[test]
fn throw_and_catch_loops_run_in_bounded_memory() {
    for tier in [Tier::Interpreter, Tier::Native] {
        throw_and_catch_loops_in(tier);
    }
}

fn throw_and_catch_loops_in(tier: Tier) {
    let params = "v128 ".repeat(1000);
    let args = "(v128.const i64x2 1 2) ".repeat(1000);
    let wat = format!(
        r#"(module
            (tag $e (param {params}))
            (func $throw (throw $e {args}))
            (func (export "plain") (param $n i32)
              (loop $l
                (block $h
                  (try_table (catch_all $h) (call $throw)))
                (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
            (func (export "by_ref") (param $n i32)
              (loop $l
                (block $outer
                  (try_table (catch_all $outer)
                    (throw_ref
                      (block $h (result exnref)
                        (try_table (catch_all_ref $h) (call $throw))
                        (unreachable)))))
                (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))"#
    );
    let engine = engine_with(|c| {
        c.tier(tier);
    });
    let module = Module::new(&engine, wat).unwrap();
    assert_eq!(module.tier(), tier, "{:?}", module.native_fallback_reason());
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let before = rss();
    for export in ["plain", "by_ref"] {
        let f = instance.get_typed_func::<i32, ()>(&mut store, export).unwrap();
        f.call(&mut store, 100_000).unwrap();
    }
    let grown = rss().saturating_sub(before);
    assert!(
        grown < 400 << 20,
        "{tier:?}: 200,000 exceptions of 16 KB grew the process by {grown} bytes"
    );
}

/// Exceptions the host receives stay valid after later throws and collections, in both tiers.
#[test]
fn exceptions_handed_to_the_host_survive_collections() {
    for tier in [Tier::Interpreter, Tier::Native] {
        exceptions_handed_to_the_host_survive_in(tier);
    }
}

fn exceptions_handed_to_the_host_survive_in(tier: Tier) {
    let engine = engine_with(|c| {
        c.tier(tier);
    });
    let module = Module::new(
        &engine,
        r#"(module
            (tag $e (param i32))
            (func (export "catch") (param i32) (result exnref)
              (block $h (result exnref)
                (try_table (catch_all_ref $h) (throw $e (local.get 0)))
                (ref.null exn)))
            (func (export "churn") (param $n i32)
              (loop $l
                (block $h (result exnref)
                  (try_table (catch_all_ref $h) (throw $e (local.get $n)))
                  (ref.null exn))
                drop
                (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let catch = instance.get_func(&mut store, "catch").unwrap();
    let mut kept = Vec::new();
    for i in 0..10 {
        let mut out = [Val::ExnRef(None)];
        catch.call(&mut store, &[Val::I32(i)], &mut out).unwrap();
        kept.push(out[0].exnref().unwrap().unwrap());
    }
    let churn = instance.get_typed_func::<i32, ()>(&mut store, "churn").unwrap();
    churn.call(&mut store, 50_000).unwrap();
    for (i, exn) in kept.iter().enumerate() {
        assert_eq!(exn.fields(&store), vec![Val::I32(i as i32)]);
    }
}

// ---- 5. work that fuel and interruption cannot stop ------------------------------------------

/// A `br_table` with 200,000 entries: translating it copied the table once per entry.
#[test]
fn huge_br_tables_translate_in_linear_time() {
    let n = 200_000;
    let targets = "0 ".repeat(n);
    let wat = format!(
        r#"(module (func (export "f") (param i32) (result i32)
            (block (br_table {targets} 0 (local.get 0)))
            (i32.const 7)))"#
    );
    let engine = Engine::default();
    let module = Module::new(&engine, wat).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let f = instance.get_typed_func::<i32, i32>(&mut store, "f").unwrap();
    let start = Instant::now();
    assert_eq!(f.call(&mut store, 12345).unwrap(), 7);
    assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
}

/// `local.set` under a deep operand stack that holds an alias of another local: every
/// `local.set` scanned the whole stack.
#[test]
fn local_set_under_a_deep_stack_translates_in_linear_time() {
    let depth = 50_000;
    let sets = 200_000;
    let pushes = "(i32.const 1) ".repeat(depth);
    let body = "(local.set 1 (i32.const 2)) ".repeat(sets);
    let drops = "drop ".repeat(depth + 1);
    let wat = format!(
        r#"(module (func (export "f") (param i32) (local i32)
            (local.get 0) {pushes} {body} {drops}))"#
    );
    let engine = Engine::default();
    let module = Module::new(&engine, wat).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let f = instance.get_typed_func::<i32, ()>(&mut store, "f").unwrap();
    let start = Instant::now();
    f.call(&mut store, 0).unwrap();
    assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
}

/// An interruption requested before the first call of a huge function lands during its
/// translation; the function still runs once the flag is cleared.
#[test]
fn translation_of_a_huge_function_can_be_interrupted() {
    let body = "(drop (i32.add (local.get 0) (i32.const 1))) ".repeat(200_000);
    let wat = format!(r#"(module (func (export "f") (param i32) {body}))"#);
    let engine = engine_with(|c| {
        c.interruptible(true);
    });
    let module = Module::new(&engine, wat).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let f = instance.get_typed_func::<i32, ()>(&mut store, "f").unwrap();
    store.interrupt_handle().interrupt();
    let e = f.call(&mut store, 0).unwrap_err();
    assert_eq!(trap_code(&e), TrapCode::Interrupted);
    store.interrupt_handle().reset();
    f.call(&mut store, 0).unwrap();
}

/// One throw through 1,000 frames, each inside 200 nested `try_table`s that do not match: the
/// unwinder examined 200,000 handlers for a few units of fuel. Now every frame and handler
/// costs fuel, so a small budget stops it. In both tiers.
#[test]
fn unwinding_through_many_handlers_is_charged_fuel() {
    for tier in [Tier::Interpreter, Tier::Native] {
        unwinding_through_many_handlers_in(tier);
    }
}

fn unwinding_through_many_handlers_in(tier: Tier) {
    let depth = 200;
    let open = "(try_table (catch $other 0) ".repeat(depth);
    let close = ")".repeat(depth);
    let wat = format!(
        r#"(module
            (tag $e) (tag $other)
            (func $rec (export "rec") (param $n i32)
              (block
                {open}
                  (if (local.get $n)
                    (then (call $rec (i32.sub (local.get $n) (i32.const 1))))
                    (else (throw $e)))
                {close})))"#
    );
    let engine = engine_with(|c| {
        c.consume_fuel(true);
        c.tier(tier);
    });
    let module = Module::new(&engine, wat).unwrap();
    assert_eq!(module.tier(), tier, "{:?}", module.native_fallback_reason());
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let rec = instance.get_typed_func::<i32, ()>(&mut store, "rec").unwrap();
    // Reaching the throw costs about 10 units per level; unwinding costs 201 per frame.
    store.set_fuel(30_000).unwrap();
    let e = rec.call(&mut store, 1000).unwrap_err();
    assert_eq!(trap_code(&e), TrapCode::OutOfFuel);
    // With enough fuel the exception escapes as usual.
    store.set_fuel(10_000_000).unwrap();
    let e = rec.call(&mut store, 1000).unwrap_err();
    assert_eq!(trap_code(&e), TrapCode::UncaughtException);
}

// ---- 7. tables escape the limits -------------------------------------------------------------

/// A module declaring 20,000 tables: past the default limit of 10,000 tables per store.
#[test]
fn a_store_holds_a_bounded_number_of_tables_by_default() {
    let tables = "(table 1 funcref) ".repeat(20_000);
    let engine = Engine::default();
    let module = Module::new(&engine, format!("(module {tables})")).unwrap();
    let mut store = Store::new(&engine, ());
    let e = Instance::new(&mut store, &module, &[]).unwrap_err();
    assert!(matches!(e, Error::Limit(_)), "{e:?}");
    assert!(e.to_string().contains("10000 tables"), "{e}");
}

/// Tables count against the store's total size with the memories: `table.grow` fails once
/// memories and tables together reach it.
#[test]
fn tables_and_memories_share_one_store_wide_budget() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
            (memory 1)
            (table $t 0 funcref)
            (func (export "grow") (param i32) (result i32)
              (table.grow $t (ref.null func) (local.get 0))))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    // One page of memory (65,536 bytes) plus 1,000 elements (8,000 bytes) fit; 2,000 more do not.
    store.limiter(StoreLimitsBuilder::new().total_size(65_536 + 8_000).build());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let grow = instance.get_typed_func::<i32, i32>(&mut store, "grow").unwrap();
    assert_eq!(grow.call(&mut store, 1000).unwrap(), 0);
    assert_eq!(grow.call(&mut store, 2000).unwrap(), -1);
    assert_eq!(grow.call(&mut store, 1).unwrap(), -1);
}

/// `table.grow` by a huge delta under a tiny fuel budget: it used to cost one unit.
#[test]
fn table_grow_is_charged_by_its_delta() {
    let engine = engine_with(|c| {
        c.consume_fuel(true);
    });
    let module = Module::new(
        &engine,
        r#"(module (table $t 0 funcref)
            (func (export "grow") (param i32) (result i32)
              (table.grow $t (ref.null func) (local.get 0))))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let grow = instance.get_typed_func::<i32, i32>(&mut store, "grow").unwrap();
    store.set_fuel(200).unwrap();
    let e = grow.call(&mut store, 5_000_000).unwrap_err();
    assert_eq!(trap_code(&e), TrapCode::OutOfFuel);
}

// ---- 9. lower findings -----------------------------------------------------------------------

/// Element segments are host memory: they count against the store's total size.
#[test]
fn element_segments_count_against_the_store_budget() {
    let items = "$f ".repeat(10_000);
    let wat = format!("(module (func $f) (elem funcref (ref.func $f)) (elem func {items}))");
    let engine = Engine::default();
    let module = Module::new(&engine, wat).unwrap();
    let mut store = Store::new(&engine, ());
    store.limiter(StoreLimitsBuilder::new().total_size(40_000).build());
    let e = Instance::new(&mut store, &module, &[]).unwrap_err();
    assert!(matches!(e, Error::Limit(_)), "{e:?}");
    let mut store = Store::new(&engine, ());
    store.limiter(StoreLimitsBuilder::new().total_size(100_000).build());
    Instance::new(&mut store, &module, &[]).unwrap();
}

/// A host function that panics, caught by the embedder each time: after 64 of them every call
/// failed with "call stack exhausted" because the nesting count was never restored.
#[test]
fn the_store_stays_usable_after_caught_host_panics() {
    let engine = Engine::default();
    let mut linker: Linker<()> = Linker::new(&engine);
    linker.func_wrap("host", "boom", || -> i32 { panic!("host function failed") }).unwrap();
    let module = Module::new(
        &engine,
        r#"(module (import "host" "boom" (func $boom (result i32)))
            (func (export "boom") (result i32) (call $boom))
            (func (export "ok") (result i32) (i32.const 5)))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let boom = instance.get_typed_func::<(), i32>(&mut store, "boom").unwrap();
    let ok = instance.get_typed_func::<(), i32>(&mut store, "ok").unwrap();
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for _ in 0..100 {
        let r = catch_unwind(AssertUnwindSafe(|| boom.call(&mut store, ())));
        assert!(r.is_err(), "the panic reaches the embedder");
    }
    std::panic::set_hook(prev);
    assert_eq!(ok.call(&mut store, ()).unwrap(), 5);
}

/// A memory64 declaring a minimum of 2^48 pages: its byte size overflowed to 0 and the memory
/// was created with `memory.size` = 0.
#[test]
fn a_memory_too_large_to_reserve_is_refused() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module (memory i64 0x1000000000000)
            (func (export "size") (result i64) (memory.size)))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    let e = Instance::new(&mut store, &module, &[]).unwrap_err();
    assert!(matches!(e, Error::Limit(_)), "{e:?}");
}

/// Guest-chosen names with terminal escapes and 100 KB lengths, in a trap 1,000 frames deep:
/// the report shows escapes, not raw control characters, and stays small.
#[test]
fn backtraces_escape_and_bound_guest_names() {
    let name = format!("\u{1b}[2J\u{1b}]0;pwned\u{7}{}", "n".repeat(100_000));
    let quoted = escape_wat(&name);
    let wat = format!(
        r#"(module (@name "{quoted}")
            (func $f (@name "{quoted}") (export "f") (param i32)
              (if (local.get 0)
                (then (call $f (i32.sub (local.get 0) (i32.const 1))))
                (else (unreachable)))))"#
    );
    let engine = Engine::default();
    let module = Module::new(&engine, wat).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let f = instance.get_typed_func::<i32, ()>(&mut store, "f").unwrap();
    let e = f.call(&mut store, 999).unwrap_err();
    let report = e.to_string();
    assert!(report.contains("\\u{1b}[2J"), "escaped: {}", &report[..200.min(report.len())]);
    assert!(!report.contains('\u{1b}') && !report.contains('\u{7}'), "no raw control characters");
    assert!(report.len() < 64 * 1024, "report of {} bytes", report.len());
    let frames = e.as_trap().unwrap().backtrace();
    assert_eq!(frames.len(), 1000);
    assert!(frames.iter().all(|f| f.func_name.as_ref().is_some_and(|n| n.len() <= 1100)));
    assert_eq!(GuestText("a\u{202e}b").to_string(), "a\\u{202e}b");
}

/// `s` as the contents of a WAT string, byte by byte.
fn escape_wat(s: &str) -> String {
    s.bytes().map(|b| format!("\\{b:02x}")).collect()
}
