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

/// A module without imports, instantiated in a fresh store.
fn instantiate(wat: &str) -> (Store<()>, Instance) {
    let engine = Engine::default();
    let module = Module::new(&engine, wat).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
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
    let (mut store, inst) = instantiate(SIMD_PROGRAM);
    let mix = inst.get_typed_func::<i32, i32>(&store, "mix").unwrap();
    // About 20 instructions per iteration, a dozen of them v128: some 40 million transitions.
    let n = 2_000_000u32;
    assert_eq!(mix.call(&mut store, n as i32).unwrap() as u32, simd_expected(n));
}

/// Array elements addressed as `base + (i << k)`: the translator fuses the shift, the add and
/// the load (`I32AddShl`, `I32LoadIdx`). The sums wrap as i32 arithmetic does, an index whose
/// shift overflows 32 bits reads where the address wraps to, and an element past the end of
/// memory traps.
const INDEXED_PROGRAM: &str = r#"(module
  (memory 1)
  (func (export "fill") (param $n i32)
    (local $i i32)
    (loop $next
      (i32.store (i32.add (i32.const 1024) (i32.shl (local.get $i) (i32.const 2)))
                 (i32.mul (local.get $i) (i32.const 2654435761)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (local.get $n)))))
  (func (export "sum") (param $base i32) (param $i i32) (param $n i32) (result i32)
    (local $acc i32)
    (loop $next
      (local.set $acc (i32.add (local.get $acc)
        (i32.load (i32.add (local.get $base) (i32.shl (local.get $i) (i32.const 2))))))
      (local.set $acc (i32.xor (local.get $acc)
        (i32.add (i32.shl (local.get $i) (i32.const 3)) (local.get $base))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $next (local.get $n)))
    (local.get $acc))
  ;; The same memory through byte loads at base + i and 64-bit loads at base + (i << 3).
  (func (export "bytes") (param $base i32) (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (loop $next
      (local.set $acc (i32.add (i32.mul (local.get $acc) (i32.const 31))
        (i32.load8_u (i32.add (local.get $base) (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $acc))
  (func (export "words") (param $base i32) (param $n i32) (result i64)
    (local $i i32) (local $acc i64)
    (loop $next
      (local.set $acc (i64.xor (i64.rotl (local.get $acc) (i64.const 7))
        (i64.load (i32.add (local.get $base) (i32.shl (local.get $i) (i32.const 3))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $acc)))"#;

#[test]
fn scaled_index_loads_wrap_and_trap_like_the_unfused_instructions() {
    let (mut store, inst) = instantiate(INDEXED_PROGRAM);
    let fill = inst.get_typed_func::<i32, ()>(&store, "fill").unwrap();
    let sum = inst.get_typed_func::<(i32, i32, i32), i32>(&store, "sum").unwrap();
    fill.call(&mut store, 1000).unwrap();
    // Memory holds element i at 1024 + 4i for i < 1000 and zeros elsewhere.
    let load = |addr: u32| match addr.checked_sub(1024) {
        Some(off) if off < 4000 => (off / 4).wrapping_mul(2_654_435_761),
        _ => 0,
    };
    let expected = |base: u32, start: u32, n: u32| {
        (0..n).fold(0u32, |acc, j| {
            let i = start.wrapping_add(j);
            let acc = acc.wrapping_add(load(base.wrapping_add(i << 2)));
            acc ^ (i << 3).wrapping_add(base)
        })
    };
    let run = |store: &mut Store<()>, base: u32, start: u32, n: u32| {
        sum.call(store, (base as i32, start as i32, n as i32)).map(|v| v as u32)
    };
    assert_eq!(run(&mut store, 1024, 0, 1000).unwrap(), expected(1024, 0, 1000));
    // From i = 2^30 on, i << 2 overflows to 4 (i - 2^30): the same elements again.
    assert_eq!(run(&mut store, 1024, 1 << 30, 1000).unwrap(), expected(1024, 1 << 30, 1000));
    // From i = 2^30 - 8, base + (i << 2) wraps to 992: zeros, then the first elements.
    let start = (1 << 30) - 8;
    assert_eq!(run(&mut store, 1024, start, 20).unwrap(), expected(1024, start, 20));
    // The last element read lies past the end of the one-page memory.
    let err = run(&mut store, 65536 - 4 * 10, 0, 11).unwrap_err();
    assert_eq!(err.as_trap().map(|t| t.code()), Some(TrapCode::MemoryOutOfBounds), "{err}");

    // Byte and 64-bit views of the same memory, computed from the elements in Rust.
    let byte = |addr: u32| load(addr & !3).to_le_bytes()[(addr & 3) as usize];
    let bytes = inst.get_typed_func::<(i32, i32), i32>(&store, "bytes").unwrap();
    let want =
        (0..4100u32).fold(0u32, |acc, i| acc.wrapping_mul(31).wrapping_add(byte(1000 + i).into()));
    assert_eq!(bytes.call(&mut store, (1000, 4100)).unwrap() as u32, want);
    let word = |addr: u32| u64::from(load(addr)) | (u64::from(load(addr + 4)) << 32);
    let words = inst.get_typed_func::<(i32, i32), i64>(&store, "words").unwrap();
    let want = (0..520u32).fold(0u64, |acc, i| acc.rotate_left(7) ^ word(1016 + 8 * i));
    assert_eq!(words.call(&mut store, (1016, 520)).unwrap() as u64, want);
    let err = bytes.call(&mut store, (65530, 7)).unwrap_err();
    assert_eq!(err.as_trap().map(|t| t.code()), Some(TrapCode::MemoryOutOfBounds), "{err}");
}

/// Every comparison feeding a `select` (fused into one `Sel*` instruction) against Rust, on
/// values where signed and unsigned orders differ.
#[test]
fn compare_selects_agree_with_rust_for_every_comparison() {
    const CMPS: [&str; 10] =
        ["eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u"];
    let mut wat = String::from("(module\n");
    for ty in ["i32", "i64"] {
        for c in CMPS {
            // The selected values are i64 so that all 64 bits are checked to move.
            wat.push_str(&format!(
                "(func (export \"{ty}.{c}\") (param {ty} {ty} i64 i64) (result i64)
                   (select (local.get 2) (local.get 3) ({ty}.{c} (local.get 0) (local.get 1))))\n"
            ));
        }
    }
    for ty in ["i32", "i64"] {
        wat.push_str(&format!(
            "(func (export \"{ty}.eqz\") (param {ty} {ty} i64 i64) (result i64)
               (select (local.get 2) (local.get 3) ({ty}.eqz (local.get 0))))\n"
        ));
    }
    wat.push(')');
    let (mut store, inst) = instantiate(&wat);
    let holds = |c: &str, a: i64, b: i64, wide: bool| -> bool {
        let (ua, ub) = if wide { (a as u64, b as u64) } else { (a as u32 as u64, b as u32 as u64) };
        let (sa, sb) = if wide { (a, b) } else { (a as i32 as i64, b as i32 as i64) };
        match c {
            "eq" => ua == ub,
            "ne" => ua != ub,
            "lt_s" => sa < sb,
            "lt_u" => ua < ub,
            "gt_s" => sa > sb,
            "gt_u" => ua > ub,
            "le_s" => sa <= sb,
            "le_u" => ua <= ub,
            "ge_s" => sa >= sb,
            _ => ua >= ub,
        }
    };
    let values: [i64; 6] = [0, 1, -1, i32::MIN as i64, i64::MIN, 0x1_0000_0000];
    let (x, y) = (0x1234_5678_9abc_def0_i64, -0x0fed_cba9_8765_4321_i64);
    // An eqz feeding a select (the test moves into the select, values swapped): i64::MIN and
    // 2^32 are zero in their low 32 bits only.
    let eqz32 = inst.get_typed_func::<(i32, i32, i64, i64), i64>(&store, "i32.eqz").unwrap();
    let eqz64 = inst.get_typed_func::<(i64, i64, i64, i64), i64>(&store, "i64.eqz").unwrap();
    for &a in &values {
        let want = if a as i32 == 0 { x } else { y };
        assert_eq!(eqz32.call(&mut store, (a as i32, 0, x, y)).unwrap(), want, "i32.eqz {a}");
        let want = if a == 0 { x } else { y };
        assert_eq!(eqz64.call(&mut store, (a, 0, x, y)).unwrap(), want, "i64.eqz {a}");
    }
    for c in CMPS {
        let f32 = inst.get_typed_func::<(i32, i32, i64, i64), i64>(&store, &format!("i32.{c}"));
        let f64 = inst.get_typed_func::<(i64, i64, i64, i64), i64>(&store, &format!("i64.{c}"));
        let (f32, f64) = (f32.unwrap(), f64.unwrap());
        for &a in &values {
            for &b in &values {
                let want = if holds(c, a, b, false) { x } else { y };
                let got = f32.call(&mut store, (a as i32, b as i32, x, y)).unwrap();
                assert_eq!(got, want, "i32.{c} {a} {b}");
                let want = if holds(c, a, b, true) { x } else { y };
                assert_eq!(f64.call(&mut store, (a, b, x, y)).unwrap(), want, "i64.{c} {a} {b}");
            }
        }
    }
}
