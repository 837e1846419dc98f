//! SIMD in the native tier against the interpreter: every `v128` operator, relaxed SIMD
//! included, on edge-case and pseudo-random vectors, must give the same bits (NaN payloads
//! included: both tiers canonicalise computed NaNs); vectors in locals, globals, blocks, native,
//! indirect and host calls; memory accesses at the bounds trap alike; fuel is burnt alike.
//! Also tail calls (which pass vectors too).

use ward::{
    Config, Engine, FuncType, Global, GlobalType, Instance, Linker, Module, Mutability, Store,
    Tier, TrapCode, Val, ValType,
};

type Outcome = Result<Vec<Val>, TrapCode>;

fn engine(tier: Tier, fuel: bool) -> Engine {
    let mut config = Config::new();
    config.tier(tier);
    config.consume_fuel(fuel);
    Engine::new(&config)
}

/// One module instantiated under each tier, with a host function `host.twist` and a vector
/// global `host.g` to import.
struct Both {
    sides: Vec<(Store<()>, Instance)>,
}

impl Both {
    fn new(wat: &str) -> Both {
        Both::with(wat, false)
    }

    fn with(wat: &str, fuel: bool) -> Both {
        let make = |tier| {
            let engine = engine(tier, fuel);
            let module = Module::new(&engine, wat).unwrap();
            if tier == Tier::Native {
                assert_eq!(
                    module.tier(),
                    Tier::Native,
                    "fell back: {:?}",
                    module.native_fallback_reason()
                );
            }
            let mut store = Store::new(&engine, ());
            if fuel {
                store.set_fuel(u64::MAX / 2).unwrap();
            }
            let mut linker = Linker::new(&engine);
            let ty = FuncType::new([ValType::V128, ValType::I32], [ValType::V128, ValType::I64]);
            linker
                .func_new("host", "twist", ty, |_, args, out| {
                    let (Val::V128(v), Val::I32(x)) = (args[0], args[1]) else {
                        unreachable!("typed")
                    };
                    out[0] = Val::V128(v.rotate_left(8) ^ u128::from(x as u32));
                    out[1] = Val::I64(i64::from(x) * 3);
                    Ok(())
                })
                .unwrap();
            let g = Global::new(
                &mut store,
                GlobalType::new(ValType::V128, Mutability::Var),
                Val::V128(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210),
            )
            .unwrap();
            linker.define(&store, "host", "g", g).unwrap();
            let instance = linker.instantiate(&mut store, &module).unwrap();
            (store, instance)
        };
        Both { sides: vec![make(Tier::Interpreter), make(Tier::Native)] }
    }

    fn run(side: &mut (Store<()>, Instance), name: &str, args: &[Val]) -> Outcome {
        let (store, instance) = side;
        let f = instance.get_func(&mut *store, name).unwrap_or_else(|| panic!("no `{name}`"));
        let n = f.ty(&*store).results().len();
        let mut out = vec![Val::I32(0); n];
        f.call(&mut *store, args, &mut out).map(|()| out).map_err(|e| match e.as_trap() {
            Some(t) => t.code(),
            None => panic!("`{name}`: not a trap: {e}"),
        })
    }

    /// Calls `name` under both tiers; the outcomes must be identical bit for bit.
    fn check(&mut self, name: &str, args: &[Val]) {
        let a = Both::run(&mut self.sides[0], name, args);
        let b = Both::run(&mut self.sides[1], name, args);
        assert!(
            same(&a, &b),
            "`{name}`{}: interpreter {}, native {}",
            show(args),
            fmt(&a),
            fmt(&b)
        );
    }

    /// As [`Both::check`], and both tiers burn the same fuel.
    fn check_fuel(&mut self, name: &str, args: &[Val]) {
        let before: Vec<u64> = self.sides.iter().map(|s| s.0.get_fuel().unwrap()).collect();
        self.check(name, args);
        let used: Vec<u64> =
            self.sides.iter().zip(before).map(|(s, b)| b - s.0.get_fuel().unwrap()).collect();
        assert_eq!(used[0], used[1], "fuel of `{name}`{}", show(args));
    }
}

/// Bit-for-bit equality (`Val` has no `PartialEq` for every variant we need here).
fn same(a: &Outcome, b: &Outcome) -> bool {
    match (a, b) {
        (Ok(x), Ok(y)) => {
            x.len() == y.len()
                && x.iter().zip(y).all(|(p, q)| match (p, q) {
                    (Val::I32(p), Val::I32(q)) => p == q,
                    (Val::I64(p), Val::I64(q)) => p == q,
                    (Val::F32(p), Val::F32(q)) => p == q,
                    (Val::F64(p), Val::F64(q)) => p == q,
                    (Val::V128(p), Val::V128(q)) => p == q,
                    _ => false,
                })
        }
        (Err(x), Err(y)) => x == y,
        _ => false,
    }
}

fn show(vals: &[Val]) -> String {
    let parts: Vec<String> = vals
        .iter()
        .map(|v| match v {
            Val::V128(x) => format!("{x:#034x}"),
            other => format!("{other:?}"),
        })
        .collect();
    format!("({})", parts.join(", "))
}

fn fmt(o: &Outcome) -> String {
    match o {
        Ok(v) => show(v),
        Err(t) => format!("trap {t:?}"),
    }
}

/// Edge-case vectors (float specials in every lane position, integer extremes, NaNs with
/// payloads, signalling NaNs) and pseudo-random ones.
fn vectors() -> Vec<u128> {
    let f32s: Vec<u32> = [
        0.0f32,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        1.5,
        2.5,
        -2.5,
        3.7,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MIN_POSITIVE,
        1e-45,
        2147483648.0,
        -2147483904.0,
        4294967296.0,
        4294967040.0,
        f32::MAX,
        -f32::MAX,
    ]
    .iter()
    .map(|f| f.to_bits())
    .chain([0x7fc0_0000, 0xffc0_0000, 0x7fa0_0001, 0xffc0_0123, 0x7f80_0001])
    .collect();
    let f64s: Vec<u64> = [
        0.0f64,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -2.5,
        2.5,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MIN_POSITIVE,
        5e-324,
        2147483647.9,
        -2147483648.9,
        -2147483649.0,
        4294967295.9,
        4294967296.0,
        1e300,
        3.4028235677973366e38,
        1.0000000000000002,
        f64::MAX,
    ]
    .iter()
    .map(|f| f.to_bits())
    .chain([
        0x7ff8_0000_0000_0000,
        0xfff8_0000_0000_0000,
        0x7ff4_0000_0000_0001,
        0xfff8_0000_0000_0123,
    ])
    .collect();
    let mut out = vec![0, u128::MAX, 1, 0x8000_0000_0000_0000_0000_0000_0000_0000];
    for i in 0..f32s.len() {
        let lane = |k: usize| u128::from(f32s[(i + k * 7) % f32s.len()]) << (32 * k);
        out.push(lane(0) | lane(1) | lane(2) | lane(3));
    }
    for i in 0..f64s.len() {
        let lane = |k: usize| u128::from(f64s[(i + k * 5) % f64s.len()]) << (64 * k);
        out.push(lane(0) | lane(1));
    }
    // Integer extremes in every lane width.
    out.extend([
        0x7f80_7f80_7f80_7f80_7f80_7f80_7f80_7f80,
        0x8000_7fff_ffff_0001_8000_7fff_ffff_0001,
        0x8000_0000_7fff_ffff_ffff_ffff_0000_0001,
        0x7fff_ffff_ffff_ffff_8000_0000_0000_0000,
        0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10,
        0x1f1e_1d1c_1b1a_1918_1716_1514_1312_1110,
        0x8081_fe7f_0110_2030_4050_6070_8090_a0ff,
    ]);
    let mut x = 0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834u128;
    for _ in 0..8 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push(x);
    }
    out
}

const UNARY: &[&str] = &[
    "v128.not",
    "i8x16.abs",
    "i8x16.neg",
    "i8x16.popcnt",
    "i16x8.abs",
    "i16x8.neg",
    "i32x4.abs",
    "i32x4.neg",
    "i64x2.abs",
    "i64x2.neg",
    "f32x4.abs",
    "f32x4.neg",
    "f32x4.sqrt",
    "f32x4.ceil",
    "f32x4.floor",
    "f32x4.trunc",
    "f32x4.nearest",
    "f64x2.abs",
    "f64x2.neg",
    "f64x2.sqrt",
    "f64x2.ceil",
    "f64x2.floor",
    "f64x2.trunc",
    "f64x2.nearest",
    "i16x8.extadd_pairwise_i8x16_s",
    "i16x8.extadd_pairwise_i8x16_u",
    "i32x4.extadd_pairwise_i16x8_s",
    "i32x4.extadd_pairwise_i16x8_u",
    "i16x8.extend_low_i8x16_s",
    "i16x8.extend_high_i8x16_s",
    "i16x8.extend_low_i8x16_u",
    "i16x8.extend_high_i8x16_u",
    "i32x4.extend_low_i16x8_s",
    "i32x4.extend_high_i16x8_s",
    "i32x4.extend_low_i16x8_u",
    "i32x4.extend_high_i16x8_u",
    "i64x2.extend_low_i32x4_s",
    "i64x2.extend_high_i32x4_s",
    "i64x2.extend_low_i32x4_u",
    "i64x2.extend_high_i32x4_u",
    "i32x4.trunc_sat_f32x4_s",
    "i32x4.trunc_sat_f32x4_u",
    "f32x4.convert_i32x4_s",
    "f32x4.convert_i32x4_u",
    "i32x4.trunc_sat_f64x2_s_zero",
    "i32x4.trunc_sat_f64x2_u_zero",
    "f64x2.convert_low_i32x4_s",
    "f64x2.convert_low_i32x4_u",
    "f32x4.demote_f64x2_zero",
    "f64x2.promote_low_f32x4",
    "i32x4.relaxed_trunc_f32x4_s",
    "i32x4.relaxed_trunc_f32x4_u",
    "i32x4.relaxed_trunc_f64x2_s_zero",
    "i32x4.relaxed_trunc_f64x2_u_zero",
];

const BINARY: &[&str] = &[
    "v128.and",
    "v128.andnot",
    "v128.or",
    "v128.xor",
    "i8x16.eq",
    "i8x16.ne",
    "i8x16.lt_s",
    "i8x16.lt_u",
    "i8x16.gt_s",
    "i8x16.gt_u",
    "i8x16.le_s",
    "i8x16.le_u",
    "i8x16.ge_s",
    "i8x16.ge_u",
    "i16x8.eq",
    "i16x8.ne",
    "i16x8.lt_s",
    "i16x8.lt_u",
    "i16x8.gt_s",
    "i16x8.gt_u",
    "i16x8.le_s",
    "i16x8.le_u",
    "i16x8.ge_s",
    "i16x8.ge_u",
    "i32x4.eq",
    "i32x4.ne",
    "i32x4.lt_s",
    "i32x4.lt_u",
    "i32x4.gt_s",
    "i32x4.gt_u",
    "i32x4.le_s",
    "i32x4.le_u",
    "i32x4.ge_s",
    "i32x4.ge_u",
    "i64x2.eq",
    "i64x2.ne",
    "i64x2.lt_s",
    "i64x2.gt_s",
    "i64x2.le_s",
    "i64x2.ge_s",
    "f32x4.eq",
    "f32x4.ne",
    "f32x4.lt",
    "f32x4.gt",
    "f32x4.le",
    "f32x4.ge",
    "f64x2.eq",
    "f64x2.ne",
    "f64x2.lt",
    "f64x2.gt",
    "f64x2.le",
    "f64x2.ge",
    "i8x16.narrow_i16x8_s",
    "i8x16.narrow_i16x8_u",
    "i16x8.narrow_i32x4_s",
    "i16x8.narrow_i32x4_u",
    "i8x16.add",
    "i8x16.add_sat_s",
    "i8x16.add_sat_u",
    "i8x16.sub",
    "i8x16.sub_sat_s",
    "i8x16.sub_sat_u",
    "i8x16.min_s",
    "i8x16.min_u",
    "i8x16.max_s",
    "i8x16.max_u",
    "i8x16.avgr_u",
    "i8x16.swizzle",
    "i16x8.q15mulr_sat_s",
    "i16x8.add",
    "i16x8.add_sat_s",
    "i16x8.add_sat_u",
    "i16x8.sub",
    "i16x8.sub_sat_s",
    "i16x8.sub_sat_u",
    "i16x8.mul",
    "i16x8.min_s",
    "i16x8.min_u",
    "i16x8.max_s",
    "i16x8.max_u",
    "i16x8.avgr_u",
    "i16x8.extmul_low_i8x16_s",
    "i16x8.extmul_high_i8x16_s",
    "i16x8.extmul_low_i8x16_u",
    "i16x8.extmul_high_i8x16_u",
    "i32x4.add",
    "i32x4.sub",
    "i32x4.mul",
    "i32x4.min_s",
    "i32x4.min_u",
    "i32x4.max_s",
    "i32x4.max_u",
    "i32x4.dot_i16x8_s",
    "i32x4.extmul_low_i16x8_s",
    "i32x4.extmul_high_i16x8_s",
    "i32x4.extmul_low_i16x8_u",
    "i32x4.extmul_high_i16x8_u",
    "i64x2.add",
    "i64x2.sub",
    "i64x2.mul",
    "i64x2.extmul_low_i32x4_s",
    "i64x2.extmul_high_i32x4_s",
    "i64x2.extmul_low_i32x4_u",
    "i64x2.extmul_high_i32x4_u",
    "f32x4.add",
    "f32x4.sub",
    "f32x4.mul",
    "f32x4.div",
    "f32x4.min",
    "f32x4.max",
    "f32x4.pmin",
    "f32x4.pmax",
    "f64x2.add",
    "f64x2.sub",
    "f64x2.mul",
    "f64x2.div",
    "f64x2.min",
    "f64x2.max",
    "f64x2.pmin",
    "f64x2.pmax",
    "i8x16.relaxed_swizzle",
    "f32x4.relaxed_min",
    "f32x4.relaxed_max",
    "f64x2.relaxed_min",
    "f64x2.relaxed_max",
    "i16x8.relaxed_q15mulr_s",
    "i16x8.relaxed_dot_i8x16_i7x16_s",
];

const TERNARY: &[&str] = &[
    "v128.bitselect",
    "f32x4.relaxed_madd",
    "f32x4.relaxed_nmadd",
    "f64x2.relaxed_madd",
    "f64x2.relaxed_nmadd",
    "i8x16.relaxed_laneselect",
    "i16x8.relaxed_laneselect",
    "i32x4.relaxed_laneselect",
    "i64x2.relaxed_laneselect",
    "i32x4.relaxed_dot_i8x16_i7x16_add_s",
];

const TESTS: &[&str] = &[
    "v128.any_true",
    "i8x16.all_true",
    "i16x8.all_true",
    "i32x4.all_true",
    "i64x2.all_true",
    "i8x16.bitmask",
    "i16x8.bitmask",
    "i32x4.bitmask",
    "i64x2.bitmask",
];

const SHIFTS: &[&str] = &[
    "i8x16.shl",
    "i8x16.shr_s",
    "i8x16.shr_u",
    "i16x8.shl",
    "i16x8.shr_s",
    "i16x8.shr_u",
    "i32x4.shl",
    "i32x4.shr_s",
    "i32x4.shr_u",
    "i64x2.shl",
    "i64x2.shr_s",
    "i64x2.shr_u",
];

fn func(name: &str, params: &str, result: &str, body: &str) -> String {
    format!("(func (export \"{name}\") {params} (result {result}) {body})\n")
}

#[test]
fn every_vector_operator_agrees_bit_for_bit() {
    let mut wat = String::from("(module\n");
    for op in UNARY {
        wat += &func(op, "(param v128)", "v128", &format!("({op} (local.get 0))"));
    }
    for op in BINARY {
        wat +=
            &func(op, "(param v128 v128)", "v128", &format!("({op} (local.get 0) (local.get 1))"));
    }
    for op in TERNARY {
        let body = format!("({op} (local.get 0) (local.get 1) (local.get 2))");
        wat += &func(op, "(param v128 v128 v128)", "v128", &body);
    }
    for op in TESTS {
        wat += &func(op, "(param v128)", "i32", &format!("({op} (local.get 0))"));
    }
    for op in SHIFTS {
        wat +=
            &func(op, "(param v128 i32)", "v128", &format!("({op} (local.get 0) (local.get 1))"));
    }
    wat += ")";
    let mut both = Both::new(&wat);
    let vs = vectors();
    let v = |x: u128| Val::V128(x);
    for op in UNARY.iter().chain(TESTS) {
        for a in &vs {
            both.check(op, &[v(*a)]);
        }
    }
    for op in BINARY {
        for a in &vs {
            for b in &vs {
                both.check(op, &[v(*a), v(*b)]);
            }
        }
    }
    let few: Vec<u128> = vs.iter().step_by(4).copied().collect();
    for op in TERNARY {
        for a in &few {
            for b in &few {
                for c in &few {
                    both.check(op, &[v(*a), v(*b), v(*c)]);
                }
            }
        }
    }
    for op in SHIFTS {
        for a in vs.iter().step_by(3) {
            for n in [0, 1, 7, 8, 9, 15, 16, 31, 32, 33, 63, 64, 65, -1, i32::MIN, 1000] {
                both.check(op, &[v(*a), Val::I32(n)]);
            }
        }
    }
}

#[test]
fn lanes_splats_and_shuffles_agree() {
    let mut wat = String::from("(module\n");
    let shapes = [("i8x16", 16, "i32"), ("i16x8", 8, "i32"), ("i32x4", 4, "i32")];
    let shapes =
        shapes.iter().chain(&[("i64x2", 2, "i64"), ("f32x4", 4, "f32"), ("f64x2", 2, "f64")]);
    for (shape, lanes, scalar) in shapes.clone() {
        wat += &func(
            &format!("{shape}.splat"),
            &format!("(param {scalar})"),
            "v128",
            &format!("({shape}.splat (local.get 0))"),
        );
        for lane in 0..*lanes {
            let extracts: &[&str] =
                if *lanes > 4 && scalar == &"i32" { &["_s", "_u"] } else { &[""] };
            for sfx in extracts {
                let name = format!("{shape}.extract_lane{sfx} {lane}");
                wat += &func(
                    &name,
                    "(param v128)",
                    scalar,
                    &format!("({shape}.extract_lane{sfx} {lane} (local.get 0))"),
                );
            }
            let name = format!("{shape}.replace_lane {lane}");
            let body = format!("({shape}.replace_lane {lane} (local.get 0) (local.get 1))");
            wat += &func(&name, &format!("(param v128 {scalar})"), "v128", &body);
        }
    }
    let masks: [[u8; 16]; 5] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        [31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16],
        [0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23],
        [5, 5, 5, 5, 31, 0, 9, 16, 3, 28, 12, 1, 14, 30, 2, 19],
        [8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31],
    ];
    for (k, m) in masks.iter().enumerate() {
        let lanes: Vec<String> = m.iter().map(|l| l.to_string()).collect();
        let body = format!("(i8x16.shuffle {} (local.get 0) (local.get 1))", lanes.join(" "));
        wat += &func(&format!("shuffle{k}"), "(param v128 v128)", "v128", &body);
    }
    wat += ")";
    let mut both = Both::new(&wat);
    let vs = vectors();
    let scalars = |ty: &str| -> Vec<Val> {
        match ty {
            "i32" => [
                0,
                1,
                -1,
                127,
                128,
                255,
                256,
                0x7fff,
                0x8000,
                0xffff,
                i32::MIN,
                i32::MAX,
                0x1234_5678,
            ]
            .iter()
            .map(|x| Val::I32(*x))
            .collect(),
            "i64" => [0, 1, -1, i64::MIN, i64::MAX, 0x1234_5678_9abc_def0]
                .iter()
                .map(|x| Val::I64(*x))
                .collect(),
            "f32" => [0x7fa0_0001u32, 0xffc0_0000, 0x8000_0000, 0x3f80_0000, 0x7f80_0000]
                .iter()
                .map(|x| Val::F32(*x))
                .collect(),
            _ => [
                0x7ff4_0000_0000_0001u64,
                0xfff8_0000_0000_0000,
                0x8000_0000_0000_0000,
                0x3ff0_0000_0000_0000,
            ]
            .iter()
            .map(|x| Val::F64(*x))
            .collect(),
        }
    };
    for (shape, lanes, scalar) in shapes {
        for x in scalars(scalar) {
            both.check(&format!("{shape}.splat"), &[x]);
        }
        for lane in 0..*lanes {
            for a in vs.iter().step_by(3) {
                let extracts: &[&str] =
                    if *lanes > 4 && scalar == &"i32" { &["_s", "_u"] } else { &[""] };
                for sfx in extracts {
                    both.check(&format!("{shape}.extract_lane{sfx} {lane}"), &[Val::V128(*a)]);
                }
                for x in scalars(scalar) {
                    both.check(&format!("{shape}.replace_lane {lane}"), &[Val::V128(*a), x]);
                }
            }
        }
    }
    for k in 0..masks.len() {
        for a in vs.iter().step_by(5) {
            for b in vs.iter().step_by(7) {
                both.check(&format!("shuffle{k}"), &[Val::V128(*a), Val::V128(*b)]);
            }
        }
    }
}

#[test]
fn vector_memory_accesses_agree_and_trap_at_the_bounds() {
    let loads = [
        ("v128.load", 16),
        ("v128.load8x8_s", 8),
        ("v128.load8x8_u", 8),
        ("v128.load16x4_s", 8),
        ("v128.load16x4_u", 8),
        ("v128.load32x2_s", 8),
        ("v128.load32x2_u", 8),
        ("v128.load8_splat", 1),
        ("v128.load16_splat", 2),
        ("v128.load32_splat", 4),
        ("v128.load64_splat", 8),
        ("v128.load32_zero", 4),
        ("v128.load64_zero", 8),
    ];
    let mut wat = String::from(
        "(module (memory (export \"mem\") 1)\n\
         (func (export \"fill\") (local i32)\n\
           (loop $l (i32.store8 (local.get 0) (i32.xor (i32.mul (local.get 0) (i32.const 37)) (i32.shr_u (local.get 0) (i32.const 8))))\n\
             (local.set 0 (i32.add (local.get 0) (i32.const 1)))\n\
             (br_if $l (i32.lt_u (local.get 0) (i32.const 65536)))))\n\
         (func (export \"peek\") (param i32) (result i64 i64)\n\
           (i64.load (local.get 0)) (i64.load offset=8 (local.get 0)))\n",
    );
    for (op, _) in loads {
        wat += &func(op, "(param i32)", "v128", &format!("({op} (local.get 0))"));
        wat += &func(
            &format!("{op} off"),
            "(param i32)",
            "v128",
            &format!("({op} offset=65530 (local.get 0))"),
        );
    }
    wat += &func(
        "v128.store",
        "(param i32 v128)",
        "i32",
        "(v128.store (local.get 0) (local.get 1)) (i32.const 1)",
    );
    wat += &func(
        "v128.store off",
        "(param i32 v128)",
        "i32",
        "(v128.store offset=65530 (local.get 0) (local.get 1)) (i32.const 1)",
    );
    let lane_ops = [("8", 16, 1), ("16", 8, 2), ("32", 4, 4), ("64", 2, 8)];
    for (w, lanes, _) in lane_ops {
        for lane in [0, lanes - 1] {
            let name = format!("v128.load{w}_lane {lane}");
            wat += &func(
                &name,
                "(param i32 v128)",
                "v128",
                &format!("(v128.load{w}_lane {lane} (local.get 0) (local.get 1))"),
            );
            let name = format!("v128.store{w}_lane {lane}");
            wat += &func(
                &name,
                "(param i32 v128)",
                "i32",
                &format!("(v128.store{w}_lane {lane} (local.get 0) (local.get 1)) (i32.const 1)"),
            );
        }
    }
    wat += ")";
    let mut both = Both::new(&wat);
    both.check("fill", &[]);
    let addrs = |width: i32| -> Vec<i32> {
        let mut a = vec![0, 1, 3, 100, 4096, -1, i32::MIN, 65536, 65537];
        for d in -2..=2 {
            a.push(65536 - width + d);
        }
        a
    };
    for (op, width) in loads {
        for a in addrs(width) {
            both.check(op, &[Val::I32(a)]);
        }
        for a in [0, 1, 6 - width, 7 - width, 8 - width, 5] {
            both.check(&format!("{op} off"), &[Val::I32(a)]);
        }
    }
    let v = Val::V128(0x0f0e_0d0c_0b0a_0908_0706_0504_0302_0100);
    for a in addrs(16) {
        both.check("v128.store", &[Val::I32(a), v]);
        both.check("peek", &[Val::I32(a.clamp(0, 65520))]);
    }
    for a in [-10, -11, 0, 1] {
        both.check("v128.store off", &[Val::I32(a), v]);
        both.check("peek", &[Val::I32(65520)]);
    }
    for (w, lanes, width) in lane_ops {
        for lane in [0, lanes - 1] {
            for a in addrs(width) {
                both.check(&format!("v128.load{w}_lane {lane}"), &[Val::I32(a), v]);
                both.check(&format!("v128.store{w}_lane {lane}"), &[Val::I32(a), v]);
                both.check("peek", &[Val::I32(a.clamp(0, 65520))]);
            }
        }
    }
}

/// Vectors in locals, globals (defined and imported), block and loop parameters, `select`,
/// multi-value results and calls of every kind (native, indirect, host).
const PLUMBING: &str = r#"(module
  (import "host" "twist" (func $twist (param v128 i32) (result v128 i64)))
  (import "host" "g" (global $imported (mut v128)))
  (global $g (export "g") (mut v128) (v128.const i64x2 7 -7))
  (global $k v128 (v128.const f32x4 nan -nan:0x1 inf -0))
  (table 2 funcref)
  (elem (i32.const 0) $pair $twist)
  (type $pair_t (func (param v128 i32) (result v128 i64)))
  (func $pair (param v128 i32) (result v128 i64)
    (i32x4.add (local.get 0) (i32x4.splat (local.get 1)))
    (i64.extend_i32_s (local.get 1)))
  (func $sum (param $v v128) (param $n i32) (result v128)
    (local $acc v128)
    (local.get $v)
    (block $done (param v128) (result v128)
      (loop $l (param v128) (result v128)
        (local.set $acc (i16x8.add (local.get $acc)))
        (br_if $done (local.get $acc) (i32.eqz (local.get $n)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (i8x16.add (local.get $acc) (local.get $v))
        (br $l))))
  (func $rec (param v128 i32) (result v128)
    (if (result v128) (i32.eqz (local.get 1))
      (then (local.get 0))
      (else (call $rec (f32x4.mul (local.get 0) (v128.const f32x4 1.5 -2 0.25 3))
                       (i32.sub (local.get 1) (i32.const 1))))))
  (func (export "run") (param $v v128) (param $x i32) (result v128 i64 v128 i32 v128)
    (local $t v128) (local $i i64)
    (call $pair (local.get $v) (local.get $x))
    (local.set $i)
    (local.set $t)
    (call_indirect (type $pair_t) (local.get $t) (local.get $x) (i32.and (local.get $x) (i32.const 1)))
    (local.set $i (i64.add (local.get $i)))
    (local.set $t (v128.xor (local.get $t)))
    (call $twist (local.get $t) (i32.add (local.get $x) (i32.const 5)))
    (local.set $i (i64.add (local.get $i)))
    (global.set $g (i64x2.add (global.get $g)))
    (global.set $imported (v128.or (global.get $imported) (global.get $g)))
    (call $sum (local.get $v) (i32.and (local.get $x) (i32.const 15)))
    (local.get $i)
    (select (result v128) (global.get $imported) (global.get $k) (local.get $x))
    (i32x4.bitmask (call $rec (local.get $v) (i32.and (local.get $x) (i32.const 7))))
    (call $rec (global.get $k) (i32.const 3)))
  (func (export "zero") (result v128) (local v128) (local.get 0)))"#;

#[test]
fn vectors_travel_through_locals_globals_blocks_and_calls() {
    let mut both = Both::new(PLUMBING);
    both.check("zero", &[]);
    for (k, v) in vectors().into_iter().step_by(3).enumerate() {
        both.check("run", &[Val::V128(v), Val::I32(k as i32 * 5 - 9)]);
        both.check("run", &[Val::V128(v), Val::I32(k as i32)]);
    }
    for side in &mut both.sides {
        let (store, instance) = side;
        let g = instance.get_global(&mut *store, "g").unwrap();
        assert!(matches!(g.get(&*store), Val::V128(_)));
    }
    let g = |side: &mut (Store<()>, Instance)| {
        let (store, instance) = side;
        match instance.get_global(&mut *store, "g").unwrap().get(&*store) {
            Val::V128(x) => x,
            _ => unreachable!(),
        }
    };
    let (a, b) = (g(&mut both.sides[0]), g(&mut both.sides[1]));
    assert_eq!(a, b);
}

const FUEL_WAT: &str = r#"(module
  (memory 1)
  (func (export "work") (param $n i32) (result v128)
    (local $acc v128) (local $i i32)
    (loop $l
      (local.set $acc
        (f32x4.add (local.get $acc)
          (f32x4.convert_i32x4_s (i32x4.splat (local.get $i)))))
      (v128.store (i32.and (i32.mul (local.get $i) (i32.const 16)) (i32.const 0xfff0))
        (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get $acc) (local.get $acc)
          (v128.load (i32.const 32))))
      (if (i32.and (local.get $i) (i32.const 1))
        (then (local.set $acc (i32x4.trunc_sat_f64x2_s_zero (local.get $acc)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $acc)))"#;

#[test]
fn both_tiers_burn_the_same_fuel_on_vector_code() {
    let mut both = Both::with(FUEL_WAT, true);
    for n in [0, 1, 2, 3, 10, 100] {
        both.check_fuel("work", &[Val::I32(n)]);
    }
    for budget in 0..300u64 {
        for side in &mut both.sides {
            side.0.set_fuel(budget).unwrap();
        }
        both.check("work", &[Val::I32(7)]);
        let left: Vec<u64> = both.sides.iter().map(|s| s.0.get_fuel().unwrap()).collect();
        assert_eq!(left[0], left[1], "fuel left with a budget of {budget}");
    }
}

/// Tail calls of every kind: direct (deeper than the call-depth limit), through a table (native
/// and host callees), through a reference, with several results (vectors among them).
const TAIL: &str = r#"(module
  (import "host" "twist" (func $twist (param v128 i32) (result v128 i64)))
  (type $pair_t (func (param v128 i32) (result v128 i64)))
  (type $count_t (func (param i64 i64) (result i64)))
  (table 2 funcref)
  (elem (i32.const 0) $pair $twist)
  (elem declare func $count)
  (func $pair (param v128 i32) (result v128 i64)
    (i32x4.add (local.get 0) (i32x4.splat (local.get 1)))
    (i64.extend_i32_s (local.get 1)))
  (func $count (export "count") (type $count_t) (param $n i64) (param $acc i64) (result i64)
    (if (result i64) (i64.eqz (local.get $n))
      (then (local.get $acc))
      (else (return_call $count (i64.sub (local.get $n) (i64.const 1))
                                (i64.add (local.get $acc) (local.get $n))))))
  (func $count_ref (export "count_ref") (param $n i64) (param $acc i64) (result i64)
    (if (result i64) (i64.eqz (local.get $n))
      (then (local.get $acc))
      (else (return_call_ref $count_t (i64.sub (local.get $n) (i64.const 1))
                             (i64.xor (local.get $acc) (local.get $n)) (ref.func $count)))))
  (func (export "indirect") (param v128 i32) (result v128 i64)
    (return_call_indirect (type $pair_t) (local.get 0) (local.get 1)
      (i32.and (local.get 1) (i32.const 1))))
  (func (export "host") (param v128 i32) (result v128 i64)
    (return_call $twist (local.get 0) (local.get 1)))
  (func (export "bad") (param i32) (result v128 i64)
    (return_call_indirect (type $pair_t) (v128.const i64x2 1 2) (i32.const 3) (local.get 0))))"#;

#[test]
fn tail_calls_agree_and_run_in_constant_stack() {
    let mut both = Both::new(TAIL);
    for n in [0i64, 1, 10, 100_000, 1_000_000] {
        both.check("count", &[Val::I64(n), Val::I64(0)]);
        both.check("count_ref", &[Val::I64(n), Val::I64(5)]);
    }
    for (k, v) in vectors().into_iter().step_by(5).enumerate() {
        both.check("indirect", &[Val::V128(v), Val::I32(k as i32)]);
        both.check("host", &[Val::V128(v), Val::I32(k as i32 - 3)]);
    }
    for i in [0, 1, 2, -1] {
        both.check("bad", &[Val::I32(i)]);
    }
    let mut fuel = Both::with(TAIL, true);
    for n in [0i64, 1, 7, 1000] {
        fuel.check_fuel("count", &[Val::I64(n), Val::I64(0)]);
        fuel.check_fuel("count_ref", &[Val::I64(n), Val::I64(0)]);
    }
    fuel.check_fuel("indirect", &[Val::V128(7), Val::I32(3)]);
    fuel.check_fuel("host", &[Val::V128(7), Val::I32(3)]);
}

/// Float vector results whose NaNs the native tier canonicalises only when something could see
/// them (`native/translate/nan.rs`): by a store, a lane, a bit operation, another lane shape, a
/// select, a call, a block, a branch out of a loop, a handler, the function's result; carried in
/// lazy locals (one lane shape for the whole function) and in a loop's lazy locals (locals
/// reused for raw bits outside the loop).
const DEFERRED_NANS: &str = r#"(module
  (memory 1)
  (tag $boom)
  (func $maybe_throw (param i32) (if (i32.eq (local.get 0) (i32.const 2)) (then (throw $boom))))
  (func $id (param v128) (result v128) (local.get 0))
  (func (export "seen") (param $a v128) (param $b v128) (param $n i32) (result v128)
    (v128.store (i32.const 0) (f32x4.add (local.get $a) (local.get $b)))
    (v128.xor
      (v128.xor (v128.load (i32.const 0))
                (f64x2.mul (f32x4.sub (local.get $a) (local.get $b)) (local.get $b)))
      (i32x4.replace_lane 0 (f32x4.div (local.get $a) (local.get $b))
        (i32x4.extract_lane 1 (f32x4.mul (local.get $b) (local.get $a))))))
  (func (export "chain") (param $a v128) (param $b v128) (param $n i32) (result v128)
    (f32x4.eq (f32x4.add (f32x4.mul (local.get $a) (local.get $b)) (f32x4.sqrt (local.get $a)))
              (local.get $b))
    (f64x2.promote_low_f32x4
      (f32x4.max (local.get $a) (f32x4.demote_f64x2_zero (f64x2.min (local.get $a) (local.get $b)))))
    (v128.xor)
    (i32x4.trunc_sat_f32x4_s (f32x4.nearest (local.get $b)))
    (v128.xor)
    (f32x4.relaxed_madd (f32x4.add (local.get $a) (local.get $a)) (local.get $b)
                        (f32x4.neg (f32x4.mul (local.get $a) (local.get $b))))
    (v128.xor))
  (func (export "below") (param $a v128) (param $b v128) (param $n i32) (result v128)
    (f32x4.add (local.get $a) (local.get $b))
    (drop (i32.add (local.get $n) (i32.const 1)))
    (drop (v128.load (i32.const 0)))
    (block (result v128) (f64x2.add (local.get $a) (local.get $b)))
    (v128.xor)
    (select (f32x4.sub (local.get $a) (local.get $b)) (local.get $b) (local.get $n))
    (v128.xor)
    (call $id (f64x2.sub (local.get $b) (local.get $a)))
    (v128.xor))
  (func (export "accumulate") (param $a v128) (param $b v128) (param $n i32) (result v128)
    (local $acc v128) (local $i i32)
    (local.set $acc (v128.const i64x2 0 0))
    (block $out
      (loop $l
        (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $a) (local.get $b))))
        (br_if $out (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (local.get $acc))
  (func (export "reused") (param $a v128) (param $b v128) (param $n i32) (result v128)
    (local $t v128) (local $i i32) (local $r v128)
    (local.set $t (local.get $a))
    (local.set $r (v128.xor (local.get $t) (local.get $b)))
    (local.set $t (v128.const i64x2 0 0))
    (block $out
      (loop $l
        (local.set $t (f64x2.add (local.get $t) (local.get $a)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $out (i32.eq (local.get $i) (i32.const 3)))
        (local.set $t (f64x2.mul (local.get $t) (local.get $b)))
        (br_if $l (i32.lt_u (local.get $i) (local.get $n)))))
    (v128.xor (local.get $r) (local.get $t)))
  (func (export "caught") (param $a v128) (param $b v128) (param $n i32) (result v128)
    (local $t v128) (local $i i32)
    (local.set $t (local.get $b))
    (local.set $t (v128.const i64x2 0 0))
    (block $h
      (try_table (catch_all $h)
        (loop $l
          (local.set $t (f32x4.sub (local.get $t) (local.get $a)))
          (call $maybe_throw (local.get $i))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (local.get $n))))))
    (local.get $t))
  (func (export "table") (param $a v128) (param $b v128) (param $n i32) (result v128)
    (local $t v128) (local $i i32)
    (local.set $t (local.get $b))
    (local.set $t (f32x4.mul (local.get $a) (local.get $a)))
    (block $x
      (block $y
        (loop $l
          (local.set $t (f32x4.add (local.get $t) (local.get $b)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_table $l $y $x (i32.and (i32.sub (local.get $n) (local.get $i)) (i32.const 3)))))
      (local.set $t (i64x2.add (local.get $t) (local.get $a))))
    (local.get $t))
  (func (export "tee") (param $a v128) (param $b v128) (param $n i32) (result v128)
    (local $t v128)
    (v128.store (i32.const 16) (local.tee $t (f32x4.add (local.get $a) (local.get $b))))
    (select (local.get $t) (f32x4.mul (local.get $t) (local.get $a)) (local.get $n))
    (v128.load (i32.const 16))
    (v128.xor)))"#;

#[test]
fn deferred_nan_canonicalisation_is_never_seen() {
    let mut both = Both::new(DEFERRED_NANS);
    let vs = vectors();
    let names = ["seen", "chain", "below", "accumulate", "reused", "caught", "table", "tee"];
    for (k, a) in vs.iter().enumerate() {
        let b = vs[(k * 7 + 3) % vs.len()];
        for n in [0, 1, 2, 3, 6, 13] {
            for name in names {
                both.check(name, &[Val::V128(*a), Val::V128(b), Val::I32(n)]);
            }
        }
    }
}
