//! Legacy exception handling (`try`, `catch`, `catch_all`, `delegate`, `rethrow`) in native
//! code: every program gives the interpreter's results, traps and fuel, including a `delegate`
//! that skips a handler that would take the exception, a `rethrow` of an exception caught
//! thousands of exceptions earlier, fuel running out while unwinding, and an artifact that keeps
//! the handlers.

use ward::{Config, Engine, Instance, Module, Store, Tier, TrapCode, Val};

const PROGRAM: &str = r#"(module
  (memory 1)
  (tag $a (param i32))
  (tag $b)
  (func $throw_a (param i32) (throw $a (local.get 0)))
  (func (export "catch_tag") (param i32) (result i32)
    try (result i32)
      (call $throw_a (local.get 0))
      (i32.const -1)
    catch $b
      (i32.const -2)
    catch $a
      (i32.add (i32.const 100))
    end)
  ;; The innermost `try` delegates to the outer one (label 1), past the middle one's `catch $a`.
  (func (export "delegate_skips") (result i32)
    try (result i32)
      try (result i32)
        try (result i32)
          (call $throw_a (i32.const 5))
          (i32.const 0)
        delegate 1
      catch $a
        (drop) (i32.const 2)
      end
    catch $a
      (i32.add (i32.const 10))
    end)
  ;; Delegating to the function's label hands the exception to the caller, past `catch_all`.
  (func $delegate_out (result i32)
    try (result i32)
      try (result i32)
        (call $throw_a (i32.const 9))
        (i32.const 0)
      delegate 1
    catch_all
      (i32.const -5)
    end)
  (func (export "delegate_to_caller") (result i32)
    try (result i32)
      (call $delegate_out)
    catch $a
    end)
  ;; `rethrow 1` inside a nested clause rethrows what the enclosing clause caught.
  (func (export "rethrow_outer") (result i32)
    try (result i32)
      try (result i32)
        (call $throw_a (i32.const 7))
        (i32.const 0)
      catch $a
        (drop)
        try (result i32)
          (throw $b)
        catch_all
          rethrow 1
        end
      end
    catch $a
      (i32.add (i32.const 1000))
    catch $b
      (i32.const -3)
    end)
  ;; A clause catches and releases `n` exceptions before rethrowing the one it holds.
  (func (export "rethrow_after_churn") (param $n i32) (result i32)
    (local $i i32)
    try (result i32)
      try (result i32)
        (call $throw_a (i32.const 42))
        (i32.const 0)
      catch $a
        (drop)
        (loop $l
          try
            (call $throw_a (local.get $i))
          catch $a
            (drop)
          end
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
        rethrow 0
      end
    catch $a
      (i32.add (i32.const 1000))
    end)
  ;; An exception thrown in a clause goes to the enclosing `try`, not to a later clause.
  (func (export "throw_in_clause") (result i32)
    try (result i32)
      try (result i32)
        (throw $b)
      catch $b
        (call $throw_a (i32.const 3))
        (i32.const 0)
      catch $a
        (drop) (i32.const -1)
      end
    catch $a
      (i32.add (i32.const 10))
    end)
  ;; A `try` without clauses lets everything through, but is examined (and charged).
  (func (export "no_clauses") (result i32)
    try (result i32)
      try (result i32)
        (call $throw_a (i32.const 4))
        (i32.const 0)
      end
    catch_all
      (i32.const 44)
    end)
  ;; The callee grows the memory before throwing; the handler sees the new memory.
  (func $grow_throw
    (drop (memory.grow (i32.const 1)))
    (i32.store (i32.const 70000) (i32.const 42))
    (throw $b))
  (func (export "grow") (result i32)
    try
      (call $grow_throw)
    catch $b
    end
    (i32.load (i32.const 70000)))
  (func (export "uncaught") (result i32)
    try (result i32)
      (call $throw_a (i32.const 1))
      (i32.const 0)
    catch $a
      rethrow 0
    end)
  (func (export "trap_in_body") (result i32)
    try (result i32)
      (unreachable)
    catch_all
      (i32.const 1)
    end)
  ;; Every frame has three scopes: the innermost delegates past the middle one (whose clause
  ;; would take the exception) to the outer one, which does not take it.
  (func $down (param i32) (result i32)
    (if (i32.eqz (local.get 0)) (then (throw $a (i32.const 77))))
    try (result i32)
      try (result i32)
        try (result i32)
          (call $down (i32.sub (local.get 0) (i32.const 1)))
        delegate 1
      catch $a
        (drop) (i32.const -100)
      end
    catch $b
      (i32.const -1)
    end)
  (func (export "deep") (param i32) (result i32)
    try (result i32)
      (call $down (local.get 0))
    catch $a
      (i32.add (i32.const 1000))
    end)
)"#;

fn engine(tier: Tier) -> Engine {
    let mut config = Config::new();
    config.tier(tier);
    config.consume_fuel(true);
    Engine::new(&config)
}

/// Calls `name` with `args` on a fresh instance of `PROGRAM` in `tier` with `fuel`: its result
/// (or the trap code) and the fuel left.
fn run(tier: Tier, name: &str, args: &[Val], fuel: u64) -> (Result<i32, TrapCode>, u64) {
    let engine = engine(tier);
    let module = Module::new(&engine, PROGRAM).unwrap();
    assert_eq!(module.tier(), tier, "{:?}", module.native_fallback_reason());
    call(&engine, &module, name, args, fuel)
}

/// Calls `name` with `args` on a fresh instance of `module` with `fuel`: its result (or the
/// trap code) and the fuel left.
fn call(
    engine: &Engine,
    module: &Module,
    name: &str,
    args: &[Val],
    fuel: u64,
) -> (Result<i32, TrapCode>, u64) {
    let mut store = Store::new(engine, ());
    store.set_fuel(fuel).unwrap();
    let instance = Instance::new(&mut store, module, &[]).unwrap();
    let f = instance.get_func(&mut store, name).unwrap();
    let mut out = [Val::I32(0)];
    let r = f
        .call(&mut store, args, &mut out)
        .map(|()| out[0].unwrap_i32())
        .map_err(|e| e.as_trap().unwrap_or_else(|| panic!("not a trap: {e}")).code());
    (r, store.get_fuel().unwrap())
}

#[test]
fn legacy_handlers_run_natively_as_in_the_interpreter_down_to_the_fuel() {
    let cases: [(&str, Vec<Val>, Result<i32, TrapCode>); 12] = [
        ("catch_tag", vec![Val::I32(5)], Ok(105)),
        ("delegate_skips", vec![], Ok(15)),
        ("delegate_to_caller", vec![], Ok(9)),
        ("rethrow_outer", vec![], Ok(1007)),
        ("rethrow_after_churn", vec![Val::I32(3000)], Ok(1042)),
        ("throw_in_clause", vec![], Ok(13)),
        ("no_clauses", vec![], Ok(44)),
        ("grow", vec![], Ok(42)),
        ("uncaught", vec![], Err(TrapCode::UncaughtException)),
        ("trap_in_body", vec![], Err(TrapCode::Unreachable)),
        ("deep", vec![Val::I32(0)], Ok(1077)),
        ("deep", vec![Val::I32(300)], Ok(1077)),
    ];
    for (name, args, want) in cases {
        let native = run(Tier::Native, name, &args, 100_000_000);
        let interp = run(Tier::Interpreter, name, &args, 100_000_000);
        assert_eq!(native.0, want, "{name} natively");
        assert_eq!(interp.0, want, "{name} interpreted");
        assert_eq!(native.1, interp.1, "fuel left after {name}");
    }
}

#[test]
fn unwinding_through_delegates_runs_out_of_fuel_where_the_interpreter_does() {
    let full = 100_000_000;
    let (_, left) = run(Tier::Interpreter, "deep", &[Val::I32(300)], full);
    let total = full - left;
    // The unwinding of 300 frames costs three units each (the frame and the two scopes the
    // exception examines): budgets short of the total run out on the way.
    for short in [1u64, 2, 3, 500, 899] {
        let native = run(Tier::Native, "deep", &[Val::I32(300)], total - short);
        let interp = run(Tier::Interpreter, "deep", &[Val::I32(300)], total - short);
        assert_eq!(native.0, Err(TrapCode::OutOfFuel), "{short} short");
        assert_eq!(native, interp, "{short} short");
    }
}

#[test]
fn an_artifact_keeps_the_legacy_handlers_and_their_fuel() {
    let engine = engine(Tier::Native);
    let module = Module::new(&engine, PROGRAM).unwrap();
    let bytes = module.serialize().unwrap();
    // SAFETY: the artifact was just made by this Ward with this engine's configuration.
    let loaded = unsafe { Module::deserialize(&engine, &bytes) }.unwrap();
    assert_eq!(loaded.tier(), Tier::Native);
    for (name, arg, want) in [
        ("delegate_skips", None, 15),
        ("rethrow_outer", None, 1007),
        ("rethrow_after_churn", Some(500), 1042),
        ("deep", Some(100), 1077),
    ] {
        let args: Vec<Val> = arg.map(Val::I32).into_iter().collect();
        let (_, interp_left) = run(Tier::Interpreter, name, &args, 1_000_000);
        let (result, left) = call(&engine, &loaded, name, &args, 1_000_000);
        assert_eq!(result, Ok(want), "{name} from the artifact");
        assert_eq!(left, interp_left, "fuel left after {name}");
    }
}
