//! The interpreter's threaded handlers (`interp/threaded.rs`) over long runs: every kind of
//! handler (arithmetic, select, memory 0 loads and stores, branches, calls and returns between
//! wasm functions, a chain stopping at a host call and at a trap) many millions of times in one
//! call. Optimised builds (tests build `ward` at opt-level 2) chain the handlers by jumps; a
//! handler that called the next one instead would exhaust the native stack here long before
//! the loop ends, and a wrong result or trap location would show in the assertions. The v128
//! lane operations, which a kind's handler forwards to a handler per operation, run the same way.

use ward::{Engine, Func, Instance, Module, Store, TrapCode};

const PROGRAM: &str = r#"(module
  (import "host" "tick" (func $tick (param i32) (result i32)))
  (memory 1)
  ;; One step of a mixing function: loads, stores, arithmetic, a select and a branch.
  (func $step (param $i i32) (param $acc i32) (result i32)
    (local $addr i32)
    (local.set $addr (i32.and (i32.mul (local.get $i) (i32.const 4)) (i32.const 0xfffc)))
    (i32.store (local.get $addr)
      (i32.add (i32.load (local.get $addr)) (local.get $i)))
    (local.set $acc
      (i32.xor (i32.rotl (local.get $acc) (i32.const 5)) (i32.load (local.get $addr))))
    (select (i32.add (local.get $acc) (i32.const 1)) (local.get $acc)
      (i32.and (local.get $i) (i32.const 1))))
  ;; `n` steps, each a call and a return; the host is called every 2^20 steps, which stops
  ;; the handler chain and enters it again.
  (func (export "run") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (local.set $acc (i32.const 7))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $acc (call $step (local.get $i) (local.get $acc)))
        (if (i32.eqz (i32.and (local.get $i) (i32.const 0xfffff)))
          (then (local.set $acc (call $tick (local.get $acc)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $acc))
  ;; Counts down, then reads past the end of memory: a trap from inside the chain.
  (func (export "overrun") (param $n i32) (result i32)
    (loop $down
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $down (local.get $n)))
    (i32.load (i32.const 65534))))"#;

/// The same computation in Rust.
fn expected(n: u32) -> u32 {
    let mut mem = vec![0u32; 16384];
    let mut acc: u32 = 7;
    for i in 0..n {
        let addr = (i.wrapping_mul(4) & 0xfffc) as usize / 4;
        mem[addr] = mem[addr].wrapping_add(i);
        acc = acc.rotate_left(5) ^ mem[addr];
        if i & 1 == 1 {
            acc = acc.wrapping_add(1);
        }
        if i & 0xfffff == 0 {
            acc = acc.wrapping_mul(3);
        }
    }
    acc
}

fn instance() -> (Store<u32>, Instance) {
    let engine = Engine::default();
    let module = Module::new(&engine, PROGRAM).unwrap();
    let mut store = Store::new(&engine, 0u32);
    let tick = Func::wrap(&mut store, |mut caller: ward::Caller<'_, u32>, acc: i32| -> i32 {
        *caller.data_mut() += 1;
        acc.wrapping_mul(3)
    });
    let instance = Instance::new(&mut store, &module, &[tick.into()]).unwrap();
    (store, instance)
}

#[test]
fn millions_of_handlers_run_without_growing_the_native_stack() {
    let (mut store, inst) = instance();
    let run = inst.get_typed_func::<i32, i32>(&store, "run").unwrap();
    // About 25 instructions per step: some 100 million handler transitions in one call.
    let n = 4_000_000u32;
    assert_eq!(run.call(&mut store, n as i32).unwrap() as u32, expected(n));
    assert_eq!(*store.data(), n.div_ceil(1 << 20), "the host was called every 2^20 steps");
}

#[test]
fn a_trap_deep_in_a_chain_is_reported_and_the_store_stays_usable() {
    let (mut store, inst) = instance();
    let overrun = inst.get_typed_func::<i32, i32>(&store, "overrun").unwrap();
    let err = overrun.call(&mut store, 3_000_000).unwrap_err();
    assert_eq!(err.as_trap().map(|t| t.code()), Some(TrapCode::MemoryOutOfBounds), "{err}");
    // The next call starts a fresh chain.
    let run = inst.get_typed_func::<i32, i32>(&store, "run").unwrap();
    assert_eq!(run.call(&mut store, 1000).unwrap() as u32, expected(1000));
}

/// Lane operations of every handler kind (splat, binary, shifts, shuffle, extract, replace,
/// unary, ternary, test) in a loop, each iteration a dozen v128 handlers.
const SIMD_PROGRAM: &str = r#"(module
  (func (export "mix") (param $n i32) (result i32)
    (local $i i32) (local $acc v128) (local $hits i32)
    (local.set $acc (v128.const i32x4 1 2 3 4))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $acc (i32x4.add (local.get $acc) (i32x4.splat (local.get $i))))
        (local.set $acc (v128.xor (i32x4.shl (local.get $acc) (i32.const 3))
                                  (i32x4.shr_u (local.get $acc) (i32.const 5))))
        (local.set $acc (i8x16.shuffle 4 5 6 7 8 9 10 11 12 13 14 15 0 1 2 3
                          (local.get $acc) (local.get $acc)))
        (local.set $acc (i32x4.replace_lane 0 (local.get $acc)
                          (i32.add (i32x4.extract_lane 3 (local.get $acc)) (local.get $i))))
        (local.set $acc (v128.bitselect (i32x4.neg (local.get $acc)) (local.get $acc)
                          (v128.const i32x4 0xffff0000 0 0xffffffff 0x00ff00ff)))
        (local.set $hits (i32.add (local.get $hits) (i32x4.all_true (local.get $acc))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.xor
      (i32.xor (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
      (i32.xor (i32x4.extract_lane 2 (local.get $acc))
               (i32.add (i32x4.extract_lane 3 (local.get $acc)) (local.get $hits))))))"#;

/// `SIMD_PROGRAM`'s `mix` in Rust, lane by lane.
fn simd_expected(n: u32) -> u32 {
    let mut acc = [1u32, 2, 3, 4];
    let mut hits = 0u32;
    let mask = [0xffff_0000u32, 0, 0xffff_ffff, 0x00ff_00ff];
    for i in 0..n {
        for l in &mut acc {
            *l = l.wrapping_add(i);
            *l = (*l << 3) ^ (*l >> 5);
        }
        acc = [acc[1], acc[2], acc[3], acc[0]];
        acc[0] = acc[3].wrapping_add(i);
        for (l, m) in acc.iter_mut().zip(mask) {
            *l = (l.wrapping_neg() & m) | (*l & !m);
        }
        hits += u32::from(acc.iter().all(|&l| l != 0));
    }
    acc[0] ^ acc[1] ^ (acc[2] ^ acc[3].wrapping_add(hits))
}

#[test]
fn millions_of_v128_handlers_run_without_growing_the_native_stack() {
    let engine = Engine::default();
    let module = Module::new(&engine, SIMD_PROGRAM).unwrap();
    let mut store = Store::new(&engine, ());
    let inst = Instance::new(&mut store, &module, &[]).unwrap();
    let mix = inst.get_typed_func::<i32, i32>(&store, "mix").unwrap();
    // About 20 instructions per iteration, a dozen of them v128: some 40 million transitions.
    let n = 2_000_000u32;
    assert_eq!(mix.call(&mut store, n as i32).unwrap() as u32, simd_expected(n));
}

/// Calls from the handlers read the callee's frame size, prologue and whether it zeroes slots
/// from the callee's record (`VMFuncRef::interp_entry`): a callee whose frame does not fit that
/// entry's 16 bits (80,001 slots here) is called through the loop, a callee that may read a
/// local before writing it finds it zeroed on every call (where the previous iteration's
/// `$big` left its argument), and both compute what they should.
#[test]
fn calls_into_huge_frames_and_zeroed_locals_compute_the_same() {
    let locals = " v128".repeat(40_000);
    let wat = format!(
        r#"(module
          (func $big (param i32) (result i32) (local{locals})
            (local.set 40000 (i32x4.splat (local.get 0)))
            (i32.add (i32x4.extract_lane 0 (local.get 40000))
                     (i32x4.extract_lane 1 (local.get 20000))))
          (func $small (param i32) (result i32) (local i32)
            (if (i32.and (local.get 0) (i32.const 1)) (then (local.set 1 (i32.const 5))))
            (i32.add (local.get 1) (local.get 0)))
          (func (export "run") (param $n i32) (result i32) (local $i i32) (local $acc i32)
            (block $done
              (loop $next
                (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
                (local.set $acc (i32.add (local.get $acc)
                  (i32.add (call $small (local.get $i)) (call $big (local.get $i)))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $next)))
            (local.get $acc)))"#
    );
    let engine = Engine::default();
    let module = Module::new(&engine, &wat).unwrap();
    let mut store = Store::new(&engine, 0u32);
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let run = instance.get_typed_func::<u32, u32>(&store, "run").unwrap();
    let n = 300u32;
    let expected = (0..n).map(|i| 2 * i + if i % 2 == 1 { 5 } else { 0 }).sum::<u32>();
    assert_eq!(run.call(&mut store, n).unwrap(), expected);
}
