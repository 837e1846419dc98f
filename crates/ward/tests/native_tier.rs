//! The native tier against the interpreter: the same functions run under both tiers must give
//! the same results, the same traps and burn the same fuel; modules the native tier does not
//! cover yet fall back to the interpreter and still run.

use ward::{
    Config, Engine, Error, Extern, Instance, Module, RefType, Store, Table, TableType, Tier,
    TrapCode, UpdateDeadline, Val,
};

fn make_engine(tier: Tier, setup: &dyn Fn(&mut Config)) -> Engine {
    let mut config = Config::new();
    config.tier(tier);
    setup(&mut config);
    Engine::new(&config)
}

/// What a call gave: values (floats as bits) or a trap code.
type Outcome = Result<Vec<Val>, TrapCode>;

fn outcome(r: ward::Result<Vec<Val>>) -> Outcome {
    r.map_err(|e| match e.as_trap() {
        Some(t) => t.code(),
        None => panic!("not a trap: {e}"),
    })
}

/// Equal, except that any two NaNs of the same width are equal: with two NaN operands the
/// hardware (and so either tier) may pick either payload, as the spec allows.
fn same(a: &Outcome, b: &Outcome) -> bool {
    match (a, b) {
        (Ok(x), Ok(y)) => {
            x.len() == y.len()
                && x.iter().zip(y).all(|(p, q)| match (p, q) {
                    (Val::I32(p), Val::I32(q)) => p == q,
                    (Val::I64(p), Val::I64(q)) => p == q,
                    (Val::F32(p), Val::F32(q)) => {
                        p == q || (f32::from_bits(*p).is_nan() && f32::from_bits(*q).is_nan())
                    }
                    (Val::F64(p), Val::F64(q)) => {
                        p == q || (f64::from_bits(*p).is_nan() && f64::from_bits(*q).is_nan())
                    }
                    _ => false,
                })
        }
        (Err(x), Err(y)) => x == y,
        _ => false,
    }
}

/// One module instantiated under each tier.
struct Both {
    interp: (Store<()>, Instance),
    native: (Store<()>, Instance),
}

impl Both {
    fn new(wat: &str) -> Both {
        Both::with(wat, &|_| {})
    }

    fn with(wat: &str, setup: &dyn Fn(&mut Config)) -> Both {
        Both::with_imports(wat, setup, &|_| Vec::new())
    }

    /// As [`Both::new`], for a module importing a `spectest.t` table of 4 to 4 functions.
    fn with_table_import(wat: &str) -> Both {
        Both::with_imports(wat, &|_| {}, &|store| {
            let ty = TableType::new(RefType::FUNCREF, 4, Some(4));
            vec![Table::new(store, ty, Val::FuncRef(None)).unwrap().into()]
        })
    }

    /// The module instantiated under each tier, with the imports `imports` makes in each store.
    fn with_imports(
        wat: &str,
        setup: &dyn Fn(&mut Config),
        imports: &dyn Fn(&mut Store<()>) -> Vec<Extern>,
    ) -> Both {
        let make = |tier| {
            let engine = make_engine(tier, setup);
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
            if engine_fuel(setup) {
                store.set_fuel(u64::MAX / 2).unwrap();
            }
            let imports = imports(&mut store);
            let instance = Instance::new(&mut store, &module, &imports).unwrap();
            (store, instance)
        };
        Both { interp: make(Tier::Interpreter), native: make(Tier::Native) }
    }

    fn run(side: &mut (Store<()>, Instance), name: &str, args: &[Val]) -> Outcome {
        let (store, instance) = side;
        let f = instance.get_func(&mut *store, name).unwrap_or_else(|| panic!("no `{name}`"));
        let n = f.ty(&*store).results().len();
        let mut out = vec![Val::I32(0); n];
        outcome(f.call(&mut *store, args, &mut out).map(|()| out))
    }

    /// Calls `name` under both tiers and asserts the outcomes agree.
    fn check(&mut self, name: &str, args: &[Val]) {
        let _ = self.value(name, args);
    }

    /// As [`Both::check`], returning the (native) outcome.
    fn value(&mut self, name: &str, args: &[Val]) -> Outcome {
        let a = Both::run(&mut self.interp, name, args);
        let b = Both::run(&mut self.native, name, args);
        assert!(same(&a, &b), "`{name}`{args:?}: interpreter {a:?}, native {b:?}");
        b
    }

    /// Calls each of `calls` under both tiers (engines with fuel): the outcomes and the fuel
    /// each call burns must agree.
    fn check_fuel(&mut self, calls: &[(&str, Vec<Val>)]) {
        for (name, args) in calls {
            let before = (self.interp.0.get_fuel().unwrap(), self.native.0.get_fuel().unwrap());
            self.check(name, args);
            let used = (
                before.0 - self.interp.0.get_fuel().unwrap(),
                before.1 - self.native.0.get_fuel().unwrap(),
            );
            assert_eq!(used.0, used.1, "`{name}`{args:?}");
        }
    }

    fn native_func_tier(&mut self, name: &str) -> Tier {
        let (store, instance) = &mut self.native;
        instance.get_func(&mut *store, name).unwrap().tier(&*store)
    }
}

fn engine_fuel(setup: &dyn Fn(&mut Config)) -> bool {
    // The engine's fuel setting is not readable; probe it with a throwaway store.
    let engine = make_engine(Tier::Interpreter, setup);
    Store::new(&engine, ()).get_fuel().is_ok()
}

const I32S: &[i32] =
    &[0, 1, -1, 2, -2, 7, -7, 31, 32, 33, 63, 64, 0x7fff_ffff, i32::MIN, 0x1234_5678];
const I64S: &[i64] = &[
    0,
    1,
    -1,
    7,
    -7,
    31,
    32,
    63,
    64,
    65,
    i32::MAX as i64,
    i32::MIN as i64,
    u32::MAX as i64,
    i64::MAX,
    i64::MIN,
    0x1234_5678_9abc_def0,
];
const F32S: &[f32] = &[
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    -0.5,
    1.5,
    2.5,
    -2.5,
    3.7,
    -3.7,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::NAN,
    f32::MIN_POSITIVE,
    1e-45,
    2147483648.0,
    -2147483904.0,
    -2147483648.0,
    4294967296.0,
    4294967040.0,
    9223372036854775808.0,
    -9223373136366403584.0,
    1.8446743e19,
    f32::MAX,
];
const F64S: &[f64] = &[
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    -0.5,
    1.5,
    2.5,
    -2.5,
    3.7,
    -3.7,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    f64::MIN_POSITIVE,
    5e-324,
    2147483647.9,
    2147483648.0,
    -2147483648.9,
    -2147483649.0,
    4294967295.9,
    4294967296.0,
    9223372036854775807.0,
    -9223372036854777856.0,
    18446744073709549568.0,
    18446744073709551616.0,
    f64::MAX,
];

fn vals(ty: &str) -> Vec<Val> {
    match ty {
        "i32" => I32S.iter().map(|v| Val::I32(*v)).collect(),
        "i64" => I64S.iter().map(|v| Val::I64(*v)).collect(),
        "f32" => F32S
            .iter()
            .map(|v| Val::F32(v.to_bits()))
            // A signalling NaN with a payload, to see it quieted alike.
            .chain([Val::F32(0x7fa0_0001), Val::F32(0xffc0_0123)])
            .collect(),
        "f64" => F64S
            .iter()
            .map(|v| Val::F64(v.to_bits()))
            .chain([Val::F64(0x7ff4_0000_0000_0001), Val::F64(0xfff8_0000_0000_0123)])
            .collect(),
        _ => unreachable!(),
    }
}

/// `(operator, operand types, result type)` of every numeric operator.
fn numeric_ops() -> Vec<(String, Vec<&'static str>, &'static str)> {
    type Op = (String, Vec<&'static str>, &'static str);
    let mut ops: Vec<Op> = Vec::new();
    let add = |ops: &mut Vec<Op>, names: &[&str], prefix: &str, params: &[&'static str], result| {
        for n in names {
            ops.push((format!("{prefix}.{n}"), params.to_vec(), result));
        }
    };
    let int_bin = [
        "add", "sub", "mul", "div_s", "div_u", "rem_s", "rem_u", "and", "or", "xor", "shl",
        "shr_s", "shr_u", "rotl", "rotr",
    ];
    let int_cmp = ["eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u"];
    add(&mut ops, &int_bin, "i32", &["i32", "i32"], "i32");
    add(&mut ops, &int_cmp, "i32", &["i32", "i32"], "i32");
    add(
        &mut ops,
        &["eqz", "clz", "ctz", "popcnt", "extend8_s", "extend16_s"],
        "i32",
        &["i32"],
        "i32",
    );
    add(&mut ops, &int_bin, "i64", &["i64", "i64"], "i64");
    add(&mut ops, &int_cmp, "i64", &["i64", "i64"], "i32");
    add(&mut ops, &["eqz"], "i64", &["i64"], "i32");
    add(
        &mut ops,
        &["clz", "ctz", "popcnt", "extend8_s", "extend16_s", "extend32_s"],
        "i64",
        &["i64"],
        "i64",
    );
    for f in ["f32", "f64"] {
        add(&mut ops, &["add", "sub", "mul", "div", "min", "max", "copysign"], f, &[f, f], f);
        add(&mut ops, &["eq", "ne", "lt", "gt", "le", "ge"], f, &[f, f], "i32");
        add(&mut ops, &["abs", "neg", "ceil", "floor", "trunc", "nearest", "sqrt"], f, &[f], f);
    }
    add(&mut ops, &["wrap_i64"], "i32", &["i64"], "i32");
    add(&mut ops, &["extend_i32_s", "extend_i32_u"], "i64", &["i32"], "i64");
    for (int, float) in [("i32", "f32"), ("i32", "f64"), ("i64", "f32"), ("i64", "f64")] {
        for sat in ["", "_sat"] {
            for sign in ["s", "u"] {
                ops.push((format!("{int}.trunc{sat}_{float}_{sign}"), vec![float], int));
            }
        }
        for sign in ["s", "u"] {
            ops.push((format!("{float}.convert_{int}_{sign}"), vec![int], float));
        }
    }
    add(&mut ops, &["demote_f64"], "f32", &["f64"], "f32");
    add(&mut ops, &["promote_f32"], "f64", &["f32"], "f64");
    add(&mut ops, &["reinterpret_f32"], "i32", &["f32"], "i32");
    add(&mut ops, &["reinterpret_f64"], "i64", &["f64"], "i64");
    add(&mut ops, &["reinterpret_i32"], "f32", &["i32"], "f32");
    add(&mut ops, &["reinterpret_i64"], "f64", &["i64"], "f64");
    ops
}

#[test]
fn every_numeric_operator_agrees_on_edge_cases() {
    let ops = numeric_ops();
    let mut wat = String::from("(module\n");
    for (op, params, result) in &ops {
        let ps: Vec<String> = params.iter().map(|p| format!("(param {p})")).collect();
        let gets: Vec<String> = (0..params.len()).map(|i| format!("local.get {i}")).collect();
        wat.push_str(&format!(
            "(func (export \"{op}\") {} (result {result}) {} {op})\n",
            ps.join(" "),
            gets.join(" ")
        ));
    }
    wat.push(')');
    let mut both = Both::new(&wat);
    let mut calls = 0;
    for (op, params, _) in &ops {
        assert_eq!(both.native_func_tier(op), Tier::Native);
        let first = vals(params[0]);
        if params.len() == 1 {
            for a in &first {
                both.check(op, std::slice::from_ref(a));
                calls += 1;
            }
        } else {
            for a in &first {
                for b in vals(params[1]) {
                    both.check(op, &[*a, b]);
                    calls += 1;
                }
            }
        }
    }
    assert!(calls > 10_000, "{calls}");
}

#[test]
fn control_flow_agrees() {
    let mut both = Both::new(
        r#"(module
          (func $fib (export "fib") (param i32) (result i32)
            (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
              (then (local.get 0))
              (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                             (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
          (func (export "sum") (param i32) (result i64) (local i64)
            (block $done
              (loop $next
                (br_if $done (i32.eqz (local.get 0)))
                (local.set 1 (i64.add (local.get 1) (i64.extend_i32_u (local.get 0))))
                (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
                (br $next)))
            (local.get 1))
          (func (export "switch") (param i32) (result i32)
            (block $d (block $c (block $b (block $a
              (br_table $a $b $c $a $d (local.get 0)))
              (return (i32.const 10)))
              (return (i32.const 20)))
              (return (i32.const 30)))
            (i32.const 40))
          (func (export "switch_values") (param i32) (result i32 i64)
            (block $outer (result i32 i64)
              (block $inner (result i32 i64)
                (i32.const 1) (i64.const 2)
                (br_table $inner $outer $inner (local.get 0)))
              (drop) (drop) (i32.const 7) (i64.const 8)))
          (func (export "multi") (param i32 i64 f32 f64) (result f64 f32 i64 i32)
            (local.get 3) (local.get 2) (local.get 1) (local.get 0))
          (func $swap (param i32 i32) (result i32 i32) (local.get 1) (local.get 0))
          (func (export "swap_sub") (param i32 i32) (result i32)
            (call $swap (local.get 0) (local.get 1)) (i32.sub))
          (func (export "if_params") (param i32 i32) (result i32)
            (local.get 1)
            (if (param i32) (result i32) (local.get 0)
              (then (i32.const 100) (i32.add))
              (else (i32.const 200) (i32.mul))))
          (func (export "if_no_else") (param i32) (result i32)
            (i32.const 5)
            (if (param i32) (result i32) (local.get 0) (then (i32.const 1) (i32.add))))
          (func (export "loop_params") (param i32) (result i32)
            (i32.const 0) (local.get 0)
            (loop $l (param i32 i32) (result i32)
              (local.set 0)
              (i32.add (local.get 0))
              (i32.sub (local.get 0) (i32.const 1))
              (local.tee 0)
              (br_if $l (local.get 0))
              (drop)))
          (func (export "select") (param i32 i64 i64) (result i64)
            (select (local.get 1) (local.get 2) (local.get 0)))
          (func (export "nested_br") (param i32) (result i32)
            (block $a (result i32)
              (block $b
                (block $c
                  (br_if $c (i32.eq (local.get 0) (i32.const 0)))
                  (br_if $b (i32.eq (local.get 0) (i32.const 1)))
                  (br $a (i32.const 3)))
                (return (i32.const 0)))
              (i32.const 1)))
          (func (export "dead_code") (param i32) (result i32)
            (block (result i32)
              (br 0 (local.get 0))
              (i32.const 1) (i32.add) (loop (br 0)) (unreachable)))
          (func (export "unreachable") unreachable)
          (func $even (param i64) (result i32)
            (if (result i32) (i64.eqz (local.get 0)) (then (i32.const 1))
              (else (call $odd (i64.sub (local.get 0) (i64.const 1))))))
          (func $odd (export "odd") (param i64) (result i32)
            (if (result i32) (i64.eqz (local.get 0)) (then (i32.const 0))
              (else (call $even (i64.sub (local.get 0) (i64.const 1))))))
          (func $forever (export "forever") (param i32) (result i32)
            (call $forever (i32.add (local.get 0) (i32.const 1))))
        )"#,
    );
    for n in [0, 1, 2, 10, 20] {
        both.check("fib", &[Val::I32(n)]);
    }
    for n in [0, 1, 1000, 100_000] {
        both.check("sum", &[Val::I32(n)]);
    }
    for i in [-1, 0, 1, 2, 3, 4, 5, 100] {
        both.check("switch", &[Val::I32(i)]);
        both.check("switch_values", &[Val::I32(i)]);
        both.check("nested_br", &[Val::I32(i)]);
        both.check("if_params", &[Val::I32(i), Val::I32(7)]);
        both.check("if_no_else", &[Val::I32(i)]);
        both.check("dead_code", &[Val::I32(i)]);
        both.check("select", &[Val::I32(i), Val::I64(-3), Val::I64(4)]);
    }
    both.check("loop_params", &[Val::I32(10)]);
    let r = both.value(
        "multi",
        &[Val::I32(1), Val::I64(-2), Val::F32(3.5f32.to_bits()), Val::F64(4.25f64.to_bits())],
    );
    assert_eq!(r.unwrap()[3], Val::I32(1));
    assert_eq!(both.value("swap_sub", &[Val::I32(10), Val::I32(3)]), Ok(vec![Val::I32(-7)]));
    assert_eq!(both.value("unreachable", &[]), Err(TrapCode::Unreachable));
    both.check("odd", &[Val::I64(9_999)]);
    assert_eq!(both.value("forever", &[Val::I32(0)]), Err(TrapCode::StackOverflow));
    // The store works on after a trap, on both tiers.
    assert_eq!(both.value("fib", &[Val::I32(15)]), Ok(vec![Val::I32(610)]));
}

#[test]
fn memory_agrees_and_is_reloaded_after_growth() {
    let mut both = Both::new(
        r#"(module
          (memory 1 100)
          (data (i32.const 8) "\01\02\03\04\05\06\07\08\f0\f1\f2\f3\f4\f5\f6\f7")
          (func (export "load") (param i32) (result i64 i64 i64 i64 i64 i64 i64)
            (i64.load (local.get 0))
            (i64.extend_i32_u (i32.load8_s (local.get 0)))
            (i64.extend_i32_u (i32.load16_u offset=2 (local.get 0)))
            (i64.load32_s offset=4 (local.get 0))
            (i64.load8_u (local.get 0))
            (i64.load16_s (local.get 0))
            (i64.reinterpret_f64 (f64.load (local.get 0))))
          (func (export "store") (param i32 i64)
            (i64.store (local.get 0) (local.get 1))
            (i32.store8 offset=9 (local.get 0) (i32.wrap_i64 (local.get 1)))
            (i64.store16 offset=11 (local.get 0) (local.get 1))
            (i64.store32 offset=13 (local.get 0) (local.get 1))
            (f32.store offset=20 (local.get 0) (f32.const -1.5)))
          (func (export "load_i32") (param i32) (result i32) (i32.load (local.get 0)))
          (func (export "load_far") (param i32) (result i32) (i32.load offset=65532 (local.get 0)))
          (func (export "size") (result i32) memory.size)
          (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
          (func (export "grow_and_touch") (param i32) (result i32)
            (local i32)
            (local.set 1 (memory.grow (local.get 0)))
            (i32.store (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 4))
              (i32.const 0x55667788))
            (i32.add (local.get 1)
              (i32.load (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 4)))))
        )"#,
    );
    for a in [0, 1, 8, 12, 65528, 65529, 65535, 65536, -1, -8] {
        both.check("load", &[Val::I32(a)]);
        both.check("load_i32", &[Val::I32(a)]);
        both.check("load_far", &[Val::I32(a)]);
    }
    for a in [0, 40, 65500, 65512, 65513] {
        both.check("store", &[Val::I32(a), Val::I64(0x0102_0304_0506_0708)]);
        both.check("load", &[Val::I32(a)]);
    }
    both.check("size", &[]);
    // Grow past the dense pool's 1 MiB slot: the memory moves to a mapping of its own.
    assert_eq!(both.value("grow_and_touch", &[Val::I32(20)]), Ok(vec![Val::I32(0x55667789)]));
    assert_eq!(both.value("size", &[]), Ok(vec![Val::I32(21)]));
    both.check("load_i32", &[Val::I32(21 * 65536 - 4)]);
    both.check("load_i32", &[Val::I32(21 * 65536 - 3)]);
    both.check("load", &[Val::I32(8)]);
    assert_eq!(both.value("grow", &[Val::I32(100)]), Ok(vec![Val::I32(-1)]));
    both.check("grow_and_touch", &[Val::I32(0)]);
}

#[test]
fn call_indirect_and_globals_agree() {
    let mut both = Both::new(
        r#"(module
          (type $ii (func (param i32) (result i32)))
          (type $v (func))
          (table 6 funcref)
          (elem (i32.const 0) $inc $dbl $nop $inc)
          (global $g (mut i32) (i32.const 5))
          (global $h (mut i64) (i64.const -1))
          (global $f (mut f32) (f32.const 1.5))
          (global $d (mut f64) (f64.const 2.5))
          (global $k i32 (i32.const 42))
          (func $inc (type $ii) (i32.add (local.get 0) (global.get $g)))
          (func $dbl (type $ii) (i32.mul (local.get 0) (i32.const 2)))
          (func $nop (type $v))
          (func (export "call") (param i32 i32) (result i32)
            (call_indirect (type $ii) (local.get 1) (local.get 0)))
          (func (export "call_v") (param i32) (call_indirect (type $v) (local.get 0)))
          (func (export "bump") (result i32 i64 f32 f64 i32)
            (global.set $g (i32.add (global.get $g) (i32.const 1)))
            (global.set $h (i64.mul (global.get $h) (i64.const 3)))
            (global.set $f (f32.mul (global.get $f) (f32.const 2)))
            (global.set $d (f64.neg (global.get $d)))
            (global.get $g) (global.get $h) (global.get $f) (global.get $d) (global.get $k))
          (global (export "g") (mut i32) (i32.const 0))
        )"#,
    );
    for i in [-1, 0, 1, 2, 3, 4, 5, 6, 7] {
        both.check("call", &[Val::I32(i), Val::I32(10)]);
        both.check("call_v", &[Val::I32(i)]);
    }
    for _ in 0..3 {
        both.check("bump", &[]);
        both.check("call", &[Val::I32(0), Val::I32(10)]);
    }
}

/// A table whose maximum is its minimum cannot grow, so native code takes its length as a
/// constant and its elements' address as fixed: bounds, nulls, `table.size`, `table.grow` and
/// writes through `table.set` must still agree with the interpreter, for a defined and an
/// imported fixed table.
#[test]
fn fixed_size_tables_agree() {
    let body = r#"
          (type $ii (func (param i32) (result i32)))
          (elem (table $t) (i32.const 0) func $inc $dbl)
          (func $inc (type $ii) (i32.add (local.get 0) (i32.const 1)))
          (func $dbl (type $ii) (i32.mul (local.get 0) (i32.const 2)))
          (func (export "call") (param i32 i32) (result i32)
            (call_indirect $t (type $ii) (local.get 1) (local.get 0)))
          (func (export "size") (result i32) (table.size $t))
          (func (export "grow") (param i32) (result i32)
            (table.grow $t (ref.null func) (local.get 0)))
          (func (export "set") (param i32 i32)
            (table.set $t (local.get 0) (table.get $t (local.get 1))))
          (func (export "is_null") (param i32) (result i32)
            (ref.is_null (table.get $t (local.get 0))))
        )"#;
    let defined = format!("(module (table $t 4 4 funcref) {body}");
    let imported = format!("(module (import \"spectest\" \"t\" (table $t 4 4 funcref)) {body}");
    for wat in [defined, imported] {
        let mut both =
            if wat.contains("import") { Both::with_table_import(&wat) } else { Both::new(&wat) };
        for round in 0..2 {
            for i in [-1, 0, 1, 2, 3, 4, 5] {
                both.check("call", &[Val::I32(i), Val::I32(10)]);
                both.check("is_null", &[Val::I32(i)]);
            }
            both.check("size", &[]);
            for n in [0, 1, 2] {
                both.check("grow", &[Val::I32(n)]);
            }
            both.check("size", &[]);
            both.check("set", &[Val::I32(3 - round), Val::I32(round)]);
            both.check("set", &[Val::I32(4), Val::I32(0)]);
        }
    }
}

#[test]
fn a_start_function_and_exported_globals_see_native_writes() {
    let wat = r#"(module
        (global $g (export "g") (mut i64) (i64.const 1))
        (func $start (global.set $g (i64.const 0x1_0000_0002)))
        (start $start)
        (func (export "f32") (result f32) (f32.const -0.0)))"#;
    let engine = make_engine(Tier::Native, &|_| {});
    let module = Module::new(&engine, wat).unwrap();
    assert_eq!(module.tier(), Tier::Native);
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let g = instance.get_global(&mut store, "g").unwrap();
    assert_eq!(g.get(&mut store), Val::I64(0x1_0000_0002));
    let f = instance.get_typed_func::<(), f32>(&mut store, "f32").unwrap();
    assert_eq!(f.call(&mut store, ()).unwrap().to_bits(), 0x8000_0000);
}

#[test]
fn unsupported_modules_fall_back_and_still_run() {
    let engine = make_engine(Tier::Native, &|_| {});
    // An operator outside the subset, named in the reason.
    let wat = r#"(module
        (func $never (drop (ref.i31 (i32.const 1))))
        (func (export "run") (result i32) (i32.const 7)))"#;
    let module = Module::new(&engine, wat).unwrap();
    assert_eq!(module.tier(), Tier::Interpreter);
    let reason = module.native_fallback_reason().unwrap();
    assert!(reason.contains("RefI31"), "{reason}");
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let run = instance.get_typed_func::<(), i32>(&mut store, "run").unwrap();
    assert_eq!(run.call(&mut store, ()).unwrap(), 7);

    // Unsupported code that can never run does not stop native compilation.
    let wat = r#"(module
        (func (export "run") (result i32)
          (return (i32.const 3))
          (drop (ref.i31 (i32.const 1)))
          (i32.const 4)))"#;
    assert_eq!(Module::new(&engine, wat).unwrap().tier(), Tier::Native);

    // The interpreter tier never compiles natively.
    let plain = Engine::default();
    let module = Module::new(&plain, "(module (func (export \"f\")))").unwrap();
    assert_eq!(module.tier(), Tier::Interpreter);
    assert_eq!(module.native_fallback_reason(), None);
}

/// A module that exercises every kind of checkpoint: loops, `if`/`else`, `br_table`, block
/// ends reached by branches, calls and recursion.
const FUEL_WAT: &str = r#"(module
  (memory 1)
  (func $fib (export "fib") (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
  (func (export "mix") (param i32) (result i32) (local i32)
    (block $out
      (loop $l
        (block $a (block $b (block $c
          (br_table $a $b $c (i32.rem_u (local.get 0) (i32.const 3))))
          (local.set 1 (i32.add (local.get 1) (i32.const 1))))
          (if (i32.and (local.get 0) (i32.const 1))
            (then (local.set 1 (i32.mul (local.get 1) (i32.const 3))))
            (else nop)))
        (i32.store (i32.const 0) (local.get 1))
        (br_if $out (i32.eqz (local.get 0)))
        (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
        (br $l)))
    (local.get 1)))"#;

/// Runs `name(arg)` of `FUEL_WAT` in `tier` under epoch interruption with a callback that sets
/// the deadline to the current epoch, so that every checkpoint reaches it: the callback
/// counts them and traps at the `stop`th (or never, if 0). Returns the outcome and the count.
fn epoch_checkpoints(tier: Tier, name: &str, arg: i32, stop: u32) -> (Result<i32, TrapCode>, u32) {
    let engine = make_engine(tier, &|c| {
        c.epoch_interruption(true);
    });
    let module = Module::new(&engine, FUEL_WAT).unwrap();
    assert_eq!(module.tier(), tier, "{:?}", module.native_fallback_reason());
    let mut store = Store::new(&engine, 0u32);
    store.set_epoch_deadline(1);
    engine.increment_epoch();
    store.epoch_deadline_callback(move |mut cx| {
        *cx.data_mut() += 1;
        if *cx.data() == stop {
            return Err(TrapCode::Interrupted.into());
        }
        // The deadline is the current epoch: the next checkpoint reaches it again.
        Ok(UpdateDeadline::Continue(0))
    });
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let f = instance.get_typed_func::<i32, i32>(&mut store, name).unwrap();
    let r = f.call(&mut store, arg).map_err(|e| e.as_trap().map(|t| t.code()).unwrap());
    (r, *store.data())
}

#[test]
fn epoch_deadlines_call_back_at_the_interpreters_checkpoints() {
    for (name, arg) in [("fib", 10), ("mix", 50)] {
        let native = epoch_checkpoints(Tier::Native, name, arg, 0);
        let interp = epoch_checkpoints(Tier::Interpreter, name, arg, 0);
        assert_eq!(native, interp, "`{name}`({arg})");
        assert!(native.1 > 20, "`{name}` reached {} deadlines", native.1);
        // The embedder traps at the 7th deadline: the same trap after the same callbacks.
        let native = epoch_checkpoints(Tier::Native, name, arg, 7);
        assert_eq!(native, (Err(TrapCode::Interrupted), 7), "`{name}`");
        assert_eq!(native, epoch_checkpoints(Tier::Interpreter, name, arg, 7));
    }
}

#[test]
fn both_tiers_burn_the_same_fuel() {
    let fuel = |c: &mut Config| {
        c.consume_fuel(true);
    };
    let mut both = Both::with(FUEL_WAT, &fuel);
    for (name, arg) in [("fib", 15), ("mix", 100), ("fib", 0), ("mix", 0)] {
        let before = (both.interp.0.get_fuel().unwrap(), both.native.0.get_fuel().unwrap());
        both.check(name, &[Val::I32(arg)]);
        let used_interp = before.0 - both.interp.0.get_fuel().unwrap();
        let used_native = before.1 - both.native.0.get_fuel().unwrap();
        assert_eq!(used_interp, used_native, "`{name}`({arg})");
        assert!(used_native > 0);
    }
    // Running out: the same trap at the same point, with the same fuel left, for every budget.
    for budget in 0..400 {
        both.interp.0.set_fuel(budget).unwrap();
        both.native.0.set_fuel(budget).unwrap();
        for (name, arg) in [("fib", 6), ("mix", 7)] {
            both.check(name, &[Val::I32(arg)]);
            assert_eq!(
                both.interp.0.get_fuel().unwrap(),
                both.native.0.get_fuel().unwrap(),
                "`{name}` with {budget} fuel"
            );
        }
    }
    both.native.0.set_fuel(10).unwrap();
    assert_eq!(Both::run(&mut both.native, "fib", &[Val::I32(20)]), Err(TrapCode::OutOfFuel));
}

#[test]
fn an_interrupt_stops_a_native_loop() {
    let engine = make_engine(Tier::Native, &|c| {
        c.interruptible(true);
    });
    let module =
        Module::new(&engine, r#"(module (func (export "spin") (loop $l (br $l))))"#).unwrap();
    assert_eq!(module.tier(), Tier::Native);
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let spin = instance.get_typed_func::<(), ()>(&mut store, "spin").unwrap();
    let handle = store.interrupt_handle();
    let t = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(50));
        handle.interrupt();
    });
    let err = spin.call(&mut store, ()).unwrap_err();
    t.join().unwrap();
    assert_eq!(err.as_trap().map(|t| t.code()), Some(TrapCode::Interrupted), "{err}");
}

#[test]
fn deep_but_finite_recursion_runs_and_traps_name_the_function() {
    let wat = r#"(module $m
      (func $down (export "down") (param i32) (result i32)
        (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
          (else (i32.add (i32.const 1) (call $down (i32.sub (local.get 0) (i32.const 1)))))))
      (func $boom (export "boom") (param i32) (result i32)
        (i32.div_u (i32.const 1) (local.get 0))))"#;
    let mut both = Both::new(wat);
    assert_eq!(both.value("down", &[Val::I32(10_000)]), Ok(vec![Val::I32(10_000)]));
    let (store, instance) = &mut both.native;
    let boom = instance.get_typed_func::<i32, i32>(&mut *store, "boom").unwrap();
    let err = boom.call(&mut *store, 0).unwrap_err();
    let Error::Trap(trap) = &err else { panic!("{err}") };
    assert_eq!(trap.code(), TrapCode::IntegerDivideByZero);
    assert_eq!(trap.backtrace()[0].func_name.as_deref(), Some("boom"), "{err}");
}

#[test]
fn a_panicking_limiter_unwinds_through_native_code() {
    struct Panics;
    impl ward::ResourceLimiter for Panics {
        fn memory_growing(&mut self, _: u64, _: u64, _: Option<u64>) -> bool {
            panic!("limiter says no");
        }
        fn table_growing(&mut self, _: u64, _: u64, _: Option<u64>) -> bool {
            true
        }
    }
    let engine = make_engine(Tier::Native, &|_| {});
    let module = Module::new(
        &engine,
        r#"(module (memory 1) (func (export "grow") (result i32) (memory.grow (i32.const 1))))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, ());
    store.resource_limiter(Panics);
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let grow = instance.get_typed_func::<(), i32>(&mut store, "grow").unwrap();
    let caught =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| grow.call(&mut store, ())));
    let payload = caught.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"limiter says no"));
}

#[test]
fn async_calls_of_native_modules_run_in_the_interpreter() {
    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        use std::task::{Context, Poll, Waker};
        let mut f = std::pin::pin!(f);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }
    let engine = make_engine(Tier::Native, &|c| {
        c.async_support(true).consume_fuel(true);
    });
    let module = Module::new(&engine, FUEL_WAT).unwrap();
    assert_eq!(module.tier(), Tier::Native);
    let mut store = Store::new(&engine, ());
    store.set_fuel(1_000_000).unwrap();
    store.fuel_async_yield_interval(100);
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let fib = instance.get_func(&mut store, "fib").unwrap();
    let mut out = [Val::I32(0)];
    block_on(fib.call_async(&mut store, &[Val::I32(12)], &mut out)).unwrap();
    assert_eq!(out[0], Val::I32(144));
    let used = 1_000_000 - store.get_fuel().unwrap();
    // The same call made synchronously runs natively and burns the same fuel.
    store.set_fuel(1_000_000).unwrap();
    fib.call(&mut store, &[Val::I32(12)], &mut out).unwrap();
    assert_eq!(1_000_000 - store.get_fuel().unwrap(), used);
}

/// A recursive function keeping `n` i64 values live across its call (loaded from memory, so
/// that the compiler cannot recompute them after the call instead of keeping them).
fn big_frames(n: usize) -> String {
    let mut body = String::new();
    for i in 0..n {
        body.push_str(&format!("(local.set {} (i64.load (i32.const {})))\n", i + 1, 8 * i));
    }
    body.push_str("(call $big (i32.add (local.get 0) (i32.const 1)))\n");
    for i in 0..n {
        body.push_str(&format!("(local.get {}) (i64.add)\n", i + 1));
    }
    format!(
        "(module (memory 2) (func $big (export \"big\") (param i32) (result i64) (local {}) {body}))",
        "i64 ".repeat(n)
    )
}

#[test]
fn runaway_recursion_with_large_frames_traps_cleanly() {
    // Hundreds of frames of a few KiB each: the stack limit, not the depth, stops it.
    let mut both = Both::new(&big_frames(300));
    assert_eq!(both.value("big", &[Val::I32(0)]), Err(TrapCode::StackOverflow));
    // On a thread with a small stack too.
    let small = std::thread::Builder::new()
        .stack_size(512 << 10)
        .spawn(|| {
            let engine = make_engine(Tier::Native, &|_| {});
            let module = Module::new(&engine, big_frames(300)).unwrap();
            let mut store = Store::new(&engine, ());
            let instance = Instance::new(&mut store, &module, &[]).unwrap();
            let big = instance.get_typed_func::<i32, i64>(&mut store, "big").unwrap();
            big.call(&mut store, 0).unwrap_err().as_trap().map(|t| t.code())
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(small, Some(TrapCode::StackOverflow));
    // A function with more values live than the native tier compiles in reasonable time makes
    // the module fall back, quickly.
    let engine = make_engine(Tier::Native, &|_| {});
    let started = std::time::Instant::now();
    let module = Module::new(&engine, big_frames(9000)).unwrap();
    assert_eq!(module.tier(), Tier::Interpreter);
    assert!(module.native_fallback_reason().unwrap().contains("values live"));
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    // Below that, the single-pass allocator keeps compilation fast.
    let started = std::time::Instant::now();
    assert_eq!(Module::new(&engine, big_frames(1500)).unwrap().tier(), Tier::Native);
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
}

/// Bulk memory, segment, table and reference operations, with their traps and their fuel.
const BULK_WAT: &str = r#"(module
  (memory 1 3)
  (data $d "\01\02\03\04\05\06\07\08")
  (type $i2i (func (param i32) (result i32)))
  (table $t 4 10 funcref)
  (table $x 2 externref)
  (elem $e func $inc $dbl $inc)
  (elem declare func $dbl)
  (func $inc (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func $dbl (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
  ;; Returns a checksum of memory [0, 300) so that every byte written counts.
  (func $sum (result i32) (local i32 i32)
    (loop $l
      (local.set 1 (i32.add (i32.mul (local.get 1) (i32.const 31))
                            (i32.load8_u (local.get 0))))
      (local.set 0 (i32.add (local.get 0) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get 0) (i32.const 300))))
    (local.get 1))
  (func (export "fill") (param i32 i32 i32) (result i32)
    (memory.fill (local.get 0) (local.get 1) (local.get 2)) (call $sum))
  (func (export "copy") (param i32 i32 i32) (result i32)
    (memory.copy (local.get 0) (local.get 1) (local.get 2)) (call $sum))
  (func (export "init") (param i32 i32 i32) (result i32)
    (memory.init $d (local.get 0) (local.get 1) (local.get 2)) (call $sum))
  (func (export "drop_data") (data.drop $d))
  (func (export "tinit") (param i32 i32 i32) (result i32)
    (table.init $t $e (local.get 0) (local.get 1) (local.get 2)) (table.size $t))
  (func (export "drop_elem") (elem.drop $e))
  (func (export "tcopy") (param i32 i32 i32) (table.copy $t $t (local.get 0) (local.get 1) (local.get 2)))
  (func (export "tfill") (param i32 i32) (table.fill $t (local.get 0) (ref.func $dbl) (local.get 1)))
  (func (export "tgrow") (param i32) (result i32) (table.grow $t (ref.null func) (local.get 0)))
  (func (export "tsize") (result i32) (table.size $t))
  (func (export "tcall") (param i32 i32) (result i32)
    (call_indirect $t (type $i2i) (local.get 1) (local.get 0)))
  (func (export "tget_null") (param i32) (result i32) (ref.is_null (table.get $t (local.get 0))))
  (func (export "tset") (param i32) (table.set $t (local.get 0) (ref.func $inc)))
  (func (export "xset") (param i32 externref) (table.set $x (local.get 0) (local.get 1)))
  (func (export "xget_null") (param i32) (result i32) (ref.is_null (table.get $x (local.get 0))))
  (func (export "select_ref") (param i32) (result i32)
    (ref.is_null (select (result funcref) (ref.null func) (ref.func $dbl) (local.get 0)))))"#;

#[test]
fn bulk_memory_and_table_operations_match_the_interpreter() {
    let fuel = |c: &mut Config| {
        c.consume_fuel(true);
    };
    let mut both = Both::with(BULK_WAT, &fuel);
    let i = |v: i32| Val::I32(v);
    let mut calls: Vec<(&str, Vec<Val>)> = vec![
        ("fill", vec![i(10), i(0xab), i(100)]),
        ("fill", vec![i(65530), i(1), i(6)]),
        ("fill", vec![i(65530), i(1), i(7)]),
        ("fill", vec![i(65536), i(1), i(0)]),
        ("fill", vec![i(65537), i(1), i(0)]),
        ("copy", vec![i(5), i(10), i(50)]),
        ("copy", vec![i(20), i(5), i(50)]),
        ("copy", vec![i(0), i(65535), i(2)]),
        ("copy", vec![i(-1), i(0), i(2)]),
        ("init", vec![i(100), i(2), i(6)]),
        ("init", vec![i(100), i(2), i(7)]),
        ("init", vec![i(65536), i(8), i(0)]),
        ("drop_data", vec![]),
        ("init", vec![i(100), i(0), i(1)]),
        ("init", vec![i(100), i(0), i(0)]),
        ("tinit", vec![i(0), i(0), i(3)]),
        ("tinit", vec![i(2), i(1), i(3)]),
        ("tcall", vec![i(0), i(5)]),
        ("tcall", vec![i(1), i(5)]),
        ("tcall", vec![i(3), i(5)]),
        ("tcopy", vec![i(1), i(0), i(3)]),
        ("tcopy", vec![i(2), i(0), i(3)]),
        ("tcall", vec![i(3), i(5)]),
        ("tfill", vec![i(2), i(2)]),
        ("tfill", vec![i(3), i(2)]),
        ("tcall", vec![i(3), i(5)]),
        ("tgrow", vec![i(3)]),
        ("tgrow", vec![i(4)]),
        ("tsize", vec![]),
        ("tget_null", vec![i(6)]),
        ("tget_null", vec![i(0)]),
        ("tget_null", vec![i(7)]),
        ("tset", vec![i(6)]),
        ("tset", vec![i(7)]),
        ("tcall", vec![i(6), i(5)]),
        ("tcall", vec![i(5), i(5)]),
        ("drop_elem", vec![]),
        ("tinit", vec![i(0), i(0), i(1)]),
        ("tinit", vec![i(0), i(0), i(0)]),
        ("xget_null", vec![i(1)]),
        ("xset", vec![i(1), Val::ExternRef(None)]),
        ("xget_null", vec![i(2)]),
        ("select_ref", vec![i(0)]),
        ("select_ref", vec![i(1)]),
    ];
    // Long operations charge fuel by length.
    calls.push(("fill", vec![i(0), i(7), i(65536)]));
    calls.push(("copy", vec![i(0), i(100), i(60000)]));
    both.check_fuel(&calls);
    assert_eq!(both.native_func_tier("fill"), Tier::Native);
    // Running out of fuel inside a bulk charge: the same trap and fuel left.
    for budget in [0, 1, 5, 100, 1000, 1024, 1030, 1040] {
        for (name, args) in [("fill", [i(0), i(3), i(65536)]), ("copy", [i(1), i(0), i(65535)])] {
            both.interp.0.set_fuel(budget).unwrap();
            both.native.0.set_fuel(budget).unwrap();
            both.check(name, &args);
            assert_eq!(
                both.interp.0.get_fuel().unwrap(),
                both.native.0.get_fuel().unwrap(),
                "`{name}` with {budget} fuel"
            );
        }
    }
}

/// Several memories, a 64-bit one among them, and a 64-bit table: accesses at the bounds,
/// growth, bulk operations across memories, their traps and their fuel.
const MULTI_WAT: &str = r#"(module
  (memory $a 1)
  (memory $b i64 1 4)
  (memory $c 0)
  (table $t i64 2 funcref)
  (type $v2i (func (result i32)))
  (elem (table $t) (i64.const 0) func $seven)
  (func $seven (result i32) (i32.const 7))
  (func (export "store_b") (param i64 i32) (i32.store $b (local.get 0) (local.get 1)))
  (func (export "load_b") (param i64) (result i32) (i32.load $b offset=2 (local.get 0)))
  (func (export "load_b_far") (param i64) (result i64)
    (i64.load $b offset=0xffff_ffff_ffff_fff0 (local.get 0)))
  (func (export "load_c") (param i32) (result i32) (i32.load8_u $c (local.get 0)))
  (func (export "grow_b") (param i64) (result i64) (memory.grow $b (local.get 0)))
  (func (export "grow_c") (param i32) (result i32) (memory.grow $c (local.get 0)))
  (func (export "sizes") (result i32 i64 i32)
    (memory.size $a) (memory.size $b) (memory.size $c))
  (func (export "fill_b") (param i64 i32 i64) (memory.fill $b (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy_ab") (param i32 i64 i32) (result i32)
    (memory.copy $a $b (local.get 0) (local.get 1) (local.get 2))
    (i32.load $a (local.get 0)))
  (func (export "copy_ba") (param i64 i32 i32) (result i32)
    (memory.copy $b $a (local.get 0) (local.get 1) (local.get 2))
    (i32.load $b (local.get 0)))
  (func (export "tcall") (param i64) (result i32) (call_indirect $t (type $v2i) (local.get 0)))
  (func (export "tgrow") (param i64) (result i64) (table.grow $t (ref.null func) (local.get 0)))
  (func (export "tsize") (result i64) (table.size $t)))"#;

#[test]
fn several_and_64_bit_memories_and_tables_match_the_interpreter() {
    let fuel = |c: &mut Config| {
        c.consume_fuel(true);
    };
    let mut both = Both::with(MULTI_WAT, &fuel);
    let (i, l) = (Val::I32, Val::I64);
    let calls: Vec<(&str, Vec<Val>)> = vec![
        ("store_b", vec![l(65532), i(0x0102_0304)]),
        ("store_b", vec![l(65533), i(1)]),
        ("store_b", vec![l(-1), i(1)]),
        ("load_b", vec![l(65530)]),
        ("load_b", vec![l(65531)]),
        ("load_b_far", vec![l(0)]),
        ("load_b_far", vec![l(16)]),
        ("load_c", vec![i(0)]),
        ("sizes", vec![]),
        ("grow_c", vec![i(1)]),
        ("load_c", vec![i(65535)]),
        ("grow_b", vec![l(2)]),
        ("grow_b", vec![l(2)]),
        ("grow_b", vec![l(-1)]),
        ("sizes", vec![]),
        ("store_b", vec![l(3 * 65536 - 4), i(9)]),
        ("fill_b", vec![l(100), i(0x55), l(1000)]),
        ("fill_b", vec![l(3 * 65536 - 10), i(1), l(11)]),
        ("copy_ab", vec![i(8), l(100), i(600)]),
        ("copy_ab", vec![i(65530), l(100), i(7)]),
        ("copy_ba", vec![l(3 * 65536 - 8), i(8), i(8)]),
        ("copy_ba", vec![l(3 * 65536 - 8), i(8), i(9)]),
        ("tcall", vec![l(0)]),
        ("tcall", vec![l(1)]),
        ("tcall", vec![l(2)]),
        ("tcall", vec![l(-1)]),
        ("tgrow", vec![l(3)]),
        ("tsize", vec![]),
    ];
    both.check_fuel(&calls);
    assert_eq!(both.native_func_tier("copy_ab"), Tier::Native);
}

/// Typed function references: `call_ref`, `ref.as_non_null`, `br_on_null`, `br_on_non_null`.
const FUNCREF_WAT: &str = r#"(module
  (type $i2i (func (param i32) (result i32)))
  (elem declare func $inc)
  (func $inc (type $i2i) (i32.add (local.get 0) (i32.const 1)))
  (func $pick (param i32) (result (ref null $i2i))
    (if (result (ref null $i2i)) (local.get 0) (then (ref.func $inc)) (else (ref.null $i2i))))
  (func (export "call") (param i32 i32) (result i32)
    (call_ref $i2i (local.get 1) (call $pick (local.get 0))))
  (func (export "as_non_null") (param i32) (result i32)
    (call_ref $i2i (i32.const 10) (ref.as_non_null (call $pick (local.get 0)))))
  (func (export "on_null") (param i32) (result i32)
    (block $null
      (return (call_ref $i2i (i32.const 20) (br_on_null $null (call $pick (local.get 0))))))
    (i32.const -1))
  (func (export "on_non_null") (param i32) (result i32) (local $f (ref null $i2i))
    (local.set $f
      (block $some (result (ref $i2i))
        (br_on_non_null $some (call $pick (local.get 0)))
        (return (i32.const -2))))
    (call_ref $i2i (i32.const 30) (local.get $f))))"#;

#[test]
fn typed_function_references_match_the_interpreter() {
    let fuel = |c: &mut Config| {
        c.consume_fuel(true);
    };
    let mut both = Both::with(FUNCREF_WAT, &fuel);
    let i = Val::I32;
    let mut calls = Vec::new();
    for pick in [0, 1] {
        calls.push(("call", vec![i(pick), i(5)]));
        calls.push(("as_non_null", vec![i(pick)]));
        calls.push(("on_null", vec![i(pick)]));
        calls.push(("on_non_null", vec![i(pick)]));
    }
    both.check_fuel(&calls);
    assert_eq!(both.value("call", &[i(0), i(5)]), Err(TrapCode::NullFunctionReference));
    assert_eq!(both.value("as_non_null", &[i(0)]), Err(TrapCode::NullReference));
    assert_eq!(both.value("on_null", &[i(0)]), Ok(vec![i(-1)]));
    assert_eq!(both.value("on_non_null", &[i(1)]), Ok(vec![i(31)]));
}

/// A trap unwinds native frames only up to the innermost entry into native code: native code
/// calls the host, the host calls native code that traps deep in its recursion and the host
/// handles the error, and the outer native code goes on (its frames, its call depth and its
/// memory as they were). Then a trap the host passes on ends the outer call as that trap.
#[test]
fn a_trap_unwinds_only_to_the_innermost_native_entry() {
    let wat = r#"(module
      (import "host" "reenter" (func $reenter (param i32) (result i32)))
      (memory (export "mem") 1)
      (func $deep (export "deep") (param i32) (result i32)
        (if (i32.eqz (local.get 0)) (then (unreachable)))
        (i32.add (i32.const 1) (call $deep (i32.sub (local.get 0) (i32.const 1)))))
      (func $down (param i32) (result i32)
        (if (result i32) (i32.eqz (local.get 0))
          (then (call $reenter (i32.const 50)))
          (else (i32.add (i32.const 1) (call $down (i32.sub (local.get 0) (i32.const 1)))))))
      (func (export "outer") (param i32) (result i32)
        (i32.store (i32.const 0) (i32.const 7))
        (i32.add (call $down (local.get 0)) (i32.load (i32.const 0)))))"#;
    for guarded in [false, true] {
        let mut config = Config::new();
        config.tier(Tier::Native);
        if guarded {
            config.memory_strategy(ward::MemoryStrategy::Guarded);
        }
        let engine = Engine::new(&config);
        let module = Module::new(&engine, wat).unwrap();
        assert_eq!(module.tier(), Tier::Native, "{:?}", module.native_fallback_reason());
        for pass_on in [false, true] {
            let mut store = Store::new(&engine, ());
            let mut linker = ward::Linker::new(&engine);
            linker
                .func_wrap("host", "reenter", move |mut caller: ward::Caller<'_, ()>, n: i32| {
                    let deep = caller.get_export("deep").unwrap().into_func().unwrap();
                    let deep = deep.typed::<i32, i32>(&caller).unwrap();
                    match deep.call(&mut caller, n) {
                        Ok(v) => Ok(v),
                        Err(e) if pass_on => Err(e),
                        Err(e) => {
                            assert_eq!(e.as_trap().map(|t| t.code()), Some(TrapCode::Unreachable));
                            Ok(1000)
                        }
                    }
                })
                .unwrap();
            let instance = linker.instantiate(&mut store, &module).unwrap();
            let outer = instance.get_typed_func::<i32, i32>(&mut store, "outer").unwrap();
            for _ in 0..3 {
                let r = outer.call(&mut store, 30);
                if pass_on {
                    let e = r.unwrap_err();
                    assert_eq!(e.as_trap().map(|t| t.code()), Some(TrapCode::Unreachable), "{e}");
                } else {
                    // 30 frames of `down`, the host's 1000, the 7 stored before.
                    assert_eq!(r.unwrap(), 30 + 1000 + 7);
                }
            }
            // Deep recursion after all that still reaches the same depth limit: the call depth
            // was restored each time.
            let deep = instance.get_typed_func::<i32, i32>(&mut store, "deep").unwrap();
            assert_eq!(
                deep.call(&mut store, 5000).unwrap_err().as_trap().map(|t| t.code()),
                Some(TrapCode::Unreachable)
            );
        }
    }
}
