//! Exception handling in native code (`try_table`, `throw`, `throw_ref`): every program gives
//! the interpreter's results, traps and fuel; exception references held by native frames
//! survive collections; exceptions cross between native and interpreted instances as they do
//! between interpreted ones, and host functions stay a barrier in both tiers; artifacts keep
//! their catch tables.

use ward::{Caller, Config, Engine, Extern, Instance, Linker, Module, Store, Tier, TrapCode, Val};

fn engine(tier: Tier, fuel: bool) -> Engine {
    let mut config = Config::new();
    config.tier(tier);
    config.consume_fuel(fuel);
    Engine::new(&config)
}

const PROGRAM: &str = r#"(module
  (tag $a (param i32))
  (tag $b (param i64 f64))
  (tag $c)
  (func $thrower (param i32) (throw $a (local.get 0)))
  ;; Recursion whose every frame has a try_table that does not take $a (one clause for $b,
  ;; and an empty one inside), so each frame left charges its examined try_tables.
  (func $down (param i32) (result i32)
    (if (i32.eqz (local.get 0)) (then (throw $a (i32.const 77))))
    (block $skip (result i64 f64)
      (try_table (result i32) (catch $b $skip)
        (try_table (result i32)
          (call $down (i32.sub (local.get 0) (i32.const 1)))))
      (return))
    (drop) (drop) (i32.const -1))
  (func (export "deep") (param i32) (result i32)
    (block $h (result i32)
      (try_table (result i32) (catch $a $h) (call $down (local.get 0)))
      (return))
    (i32.add (i32.const 1000)))
  ;; A payload of two values, caught by reference, thrown again and caught by tag.
  (func (export "multi") (result f64)
    (local $r exnref) (local $x f64)
    (block $h (result i64 f64 exnref)
      (try_table (catch_ref $b $h) (throw $b (i64.const 40) (f64.const 2.5)))
      (unreachable))
    (local.set $r) (drop) (drop)
    (block $h2 (result i64 f64)
      (try_table (catch $b $h2) (throw_ref (local.get $r)))
      (unreachable))
    (local.set $x)
    (f64.add (f64.convert_i64_s) (local.get $x)))
  (func (export "all") (result i32)
    (block $h
      (try_table (catch_all $h) (call $thrower (i32.const 3)))
      (return (i32.const 0)))
    (i32.const 1))
  (func (export "trap_inside") (result i32)
    (block $h
      (try_table (catch_all $h) (unreachable)))
    (i32.const 1))
  (func (export "null_ref") (throw_ref (ref.null exn)))
  ;; Throws and catches by reference `n` times, keeping only the first exception in a local
  ;; across all the collections those allocations cause, then rethrows it.
  (func (export "keep_first") (param $n i32) (result i32)
    (local $i i32) (local $first exnref) (local $r exnref)
    (loop $again
      (block $h (result i32 exnref)
        (try_table (catch_ref $a $h) (call $thrower (local.get $i)))
        (unreachable))
      (local.set $r) (drop)
      (if (i32.eqz (local.get $i)) (then (local.set $first (local.get $r))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (local.get $n))))
    (block $h (result i32)
      (try_table (catch $a $h) (throw_ref (local.get $first)))
      (unreachable))
    (i32.add (i32.const 500)))
  (func (export "uncaught") (result i32) (call $down (i32.const 3)))
  ;; A tail call leaves the frame's try_table: the caller's caller catches.
  (func $tail (result i32)
    (block $h
      (try_table (catch_all $h) (return_call $thrower2))
      (return (i32.const -1)))
    (i32.const -2))
  (func $thrower2 (result i32) (throw $c))
  (func (export "tail") (result i32)
    (block $h
      (try_table (catch $c $h) (return (call $tail))))
    (i32.const 5))
  ;; A call with arguments on the stack (twelve), caught: the handler runs with the frame's
  ;; stack pointer as at the call, and the locals live across it intact.
  (tag $d (param i64))
  (func $twelve (param i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64) (result i64)
    (if (i64.eqz (local.get 11)) (then (throw $d (i64.add (local.get 0) (local.get 10)))))
    (i64.add (local.get 0) (local.get 11)))
  (func (export "stack_args") (param $x i64) (param $z i64) (result i64)
    (local $a i64) (local $b i64)
    (local.set $a (i64.mul (local.get $x) (i64.const 3)))
    (local.set $b (i64.mul (local.get $x) (i64.const 5)))
    (block $h (result i64)
      (try_table (result i64) (catch $d $h)
        (call $twelve (local.get $x) (i64.const 1) (i64.const 2) (i64.const 3) (i64.const 4)
          (i64.const 5) (i64.const 6) (i64.const 7) (i64.const 8) (i64.const 9) (local.get $a)
          (local.get $z)))
      (i64.add (local.get $b))
      (return))
    (i64.add (local.get $a))
    (i64.add (local.get $b)))
)"#;

/// Calls `name` with `args` on a fresh instance of `PROGRAM` in `tier` with fuel: its results
/// (or the trap code) and the fuel it burnt.
fn run(tier: Tier, name: &str, args: &[Val]) -> (Result<Vec<String>, TrapCode>, u64) {
    let engine = engine(tier, true);
    let module = Module::new(&engine, PROGRAM).unwrap();
    assert_eq!(module.tier(), tier, "{:?}", module.native_fallback_reason());
    let mut store = Store::new(&engine, ());
    store.set_fuel(100_000_000).unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let f = instance.get_func(&mut store, name).unwrap();
    let mut out = vec![Val::I32(0); f.ty(&store).results().len()];
    let before = store.get_fuel().unwrap();
    let r = f
        .call(&mut store, args, &mut out)
        .map(|()| out.iter().map(|v| format!("{v:?}")).collect())
        .map_err(|e| e.as_trap().unwrap_or_else(|| panic!("not a trap: {e}")).code());
    (r, before - store.get_fuel().unwrap())
}

#[test]
fn native_code_throws_and_catches_as_the_interpreter_does_down_to_the_fuel() {
    let f64_42_5 = format!("F64({})", 42.5f64.to_bits());
    type Case<'a> = (&'a str, Vec<Val>, Result<Vec<&'a str>, TrapCode>);
    let cases: [Case<'_>; 11] = [
        ("deep", vec![Val::I32(0)], Ok(vec!["I32(1077)"])),
        ("deep", vec![Val::I32(200)], Ok(vec!["I32(1077)"])),
        ("multi", vec![], Ok(vec![&f64_42_5])),
        ("all", vec![], Ok(vec!["I32(1)"])),
        ("trap_inside", vec![], Err(TrapCode::Unreachable)),
        ("null_ref", vec![], Err(TrapCode::NullExceptionReference)),
        ("keep_first", vec![Val::I32(5000)], Ok(vec!["I32(500)"])),
        ("uncaught", vec![], Err(TrapCode::UncaughtException)),
        ("tail", vec![], Ok(vec!["I32(5)"])),
        ("stack_args", vec![Val::I64(2), Val::I64(1)], Ok(vec!["I64(13)"])),
        ("stack_args", vec![Val::I64(2), Val::I64(0)], Ok(vec!["I64(24)"])),
    ];
    for (name, args, want) in cases {
        let want = want.map(|v| v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let (native, native_fuel) = run(Tier::Native, name, &args);
        let (interp, interp_fuel) = run(Tier::Interpreter, name, &args);
        assert_eq!(native, want, "{name} natively");
        assert_eq!(interp, want, "{name} interpreted");
        assert_eq!(native_fuel, interp_fuel, "fuel of {name}");
    }
}

#[test]
fn unwinding_runs_out_of_fuel_where_the_interpreter_does() {
    // `deep(200)` ends by unwinding 200 frames, three units each (the frame and its two
    // try_tables): budgets short of its total run out while the exception passes them.
    let (_, total) = run(Tier::Interpreter, "deep", &[Val::I32(200)]);
    for short in [1u64, 10, 300, 599] {
        let budget = total - short;
        let mut outcomes = Vec::new();
        for tier in [Tier::Native, Tier::Interpreter] {
            let engine = engine(tier, true);
            let module = Module::new(&engine, PROGRAM).unwrap();
            let mut store = Store::new(&engine, ());
            store.set_fuel(budget).unwrap();
            let instance = Instance::new(&mut store, &module, &[]).unwrap();
            let deep = instance.get_typed_func::<i32, i32>(&mut store, "deep").unwrap();
            let r = deep.call(&mut store, 200).map_err(|e| e.as_trap().map(|t| t.code()));
            outcomes.push((r, store.get_fuel().unwrap()));
        }
        assert_eq!(outcomes[0].0, Err(Some(TrapCode::OutOfFuel)), "{short} short");
        assert_eq!(outcomes[0], outcomes[1], "{short} short");
    }
}

/// A module that the native tier leaves to the interpreter (it uses `ref.i31`, a GC operator),
/// which exports a tag and a function that throws it.
const INTERPRETED_THROWER: &str = r#"(module
  (tag $e (export "e") (param i32))
  (func (drop (ref.i31 (i32.const 1))))
  (func (export "throw") (param i32)
    try
      local.get 0
      throw $e
    catch_all
      rethrow 0
    end))"#;

const NATIVE_CATCHER: &str = r#"(module
  (tag $e (import "lib" "e") (param i32))
  (func $throw (import "lib" "throw") (param i32))
  (func (export "catch") (param i32) (result i32)
    (block $h (result i32)
      (try_table (catch $e $h) (call $throw (local.get 0)))
      (unreachable))
    (i32.add (i32.const 1)))
  (func (export "let_through") (param i32) (call $throw (local.get 0))))"#;

#[test]
fn exceptions_from_an_interpreted_instance_reach_native_handlers() {
    let engine = engine(Tier::Native, false);
    let lib = Module::new(&engine, INTERPRETED_THROWER).unwrap();
    assert_eq!(lib.tier(), Tier::Interpreter, "`ref.i31` keeps it interpreted");
    let app = Module::new(&engine, NATIVE_CATCHER).unwrap();
    assert_eq!(app.tier(), Tier::Native, "{:?}", app.native_fallback_reason());
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    let lib = linker.instantiate(&mut store, &lib).unwrap();
    linker.instance(&mut store, "lib", lib).unwrap();
    let app = linker.instantiate(&mut store, &app).unwrap();
    let catch = app.get_typed_func::<i32, i32>(&mut store, "catch").unwrap();
    for i in 0..3000 {
        assert_eq!(catch.call(&mut store, i).unwrap(), i + 1);
    }
    let through = app.get_typed_func::<i32, ()>(&mut store, "let_through").unwrap();
    let e = through.call(&mut store, 1).unwrap_err();
    assert_eq!(e.as_trap().map(|t| t.code()), Some(TrapCode::UncaughtException));
}

/// A native function that tail-calls the interpreted thrower: its frame is gone when the
/// exception comes back, so leaving it costs nothing, as in an all-interpreted store.
const TAIL_CATCHER: &str = r#"(module
  (tag $e (import "lib" "e") (param i32))
  (func $throw (import "lib" "throw") (param i32))
  (func $tail (param i32) (return_call $throw (local.get 0)))
  (func (export "catch") (param i32) (result i32)
    (block $h (result i32)
      (try_table (catch $e $h) (call $tail (local.get 0)))
      (unreachable))
    (i32.add (i32.const 1))))"#;

#[test]
fn exceptions_through_a_tail_call_out_cost_what_the_interpreter_charges() {
    let mut outcomes = Vec::new();
    for tier in [Tier::Native, Tier::Interpreter] {
        let engine = engine(tier, true);
        let lib = Module::new(&engine, INTERPRETED_THROWER).unwrap();
        let app = Module::new(&engine, TAIL_CATCHER).unwrap();
        assert_eq!(app.tier(), tier, "{:?}", app.native_fallback_reason());
        let mut store = Store::new(&engine, ());
        store.set_fuel(1_000_000).unwrap();
        let mut linker = Linker::new(&engine);
        let lib = linker.instantiate(&mut store, &lib).unwrap();
        linker.instance(&mut store, "lib", lib).unwrap();
        let app = linker.instantiate(&mut store, &app).unwrap();
        let catch = app.get_typed_func::<i32, i32>(&mut store, "catch").unwrap();
        let before = store.get_fuel().unwrap();
        let r = catch.call(&mut store, 41).unwrap();
        outcomes.push((r, before - store.get_fuel().unwrap()));
    }
    assert_eq!(outcomes[0].0, 42);
    assert_eq!(outcomes[0], outcomes[1], "native, then interpreted: (result, fuel)");
}

#[test]
fn a_host_function_stops_exceptions_in_both_tiers() {
    let wat = r#"(module
      (import "host" "reenter" (func $reenter))
      (tag $e)
      (func (export "throw") (throw $e))
      (func (export "outer") (result i32)
        (block $h
          (try_table (catch_all $h) (call $reenter))
          (return (i32.const 0)))
        (i32.const 1)))"#;
    for tier in [Tier::Native, Tier::Interpreter] {
        let engine = engine(tier, false);
        let module = Module::new(&engine, wat).unwrap();
        assert_eq!(module.tier(), tier);
        let mut linker = Linker::<Vec<String>>::new(&engine);
        linker
            .func_wrap("host", "reenter", |mut c: Caller<'_, Vec<String>>| -> ward::Result<()> {
                let f = c.get_export("throw").and_then(Extern::into_func).unwrap();
                let r = f.call(&mut c, &[], &mut []);
                let code = r.as_ref().err().and_then(|e| e.as_trap()).map(|t| t.code());
                c.data_mut().push(format!("{code:?}"));
                r
            })
            .unwrap();
        let mut store = Store::new(&engine, Vec::new());
        let instance = linker.instantiate(&mut store, &module).unwrap();
        let outer = instance.get_typed_func::<(), i32>(&mut store, "outer").unwrap();
        let e = outer.call(&mut store, ()).unwrap_err();
        assert_eq!(e.as_trap().map(|t| t.code()), Some(TrapCode::UncaughtException), "{tier:?}");
        assert_eq!(store.data(), &["Some(UncaughtException)"], "{tier:?}");
    }
}

#[test]
fn an_artifact_keeps_its_catch_table() {
    let engine = engine(Tier::Native, false);
    let module = Module::new(&engine, PROGRAM).unwrap();
    let bytes = module.serialize().unwrap();
    // SAFETY: the artifact was just made by this Ward with this engine's configuration.
    let module = unsafe { Module::deserialize(&engine, &bytes) }.unwrap();
    assert_eq!(module.tier(), Tier::Native);
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let deep = instance.get_typed_func::<i32, i32>(&mut store, "deep").unwrap();
    assert_eq!(deep.call(&mut store, 50).unwrap(), 1077);
    let keep = instance.get_typed_func::<i32, i32>(&mut store, "keep_first").unwrap();
    assert_eq!(keep.call(&mut store, 3000).unwrap(), 500);
}
