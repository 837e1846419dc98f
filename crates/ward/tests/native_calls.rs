//! Calls across tiers: native code calling host functions, interpreted instances and native
//! functions of other instances (directly, through imported and exported tables), and the host
//! calling native code through tables. Every scenario runs under both tiers and must give the
//! same results, the same errors (code, message) and burn the same fuel.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use ward::{
    Caller, Config, Engine, Error, Extern, Func, FuncType, Instance, Linker, Module, Store, Tier,
    Trap, TrapCode, Val, ValType,
};

fn engine(tier: Tier, fuel: bool) -> Engine {
    let mut config = Config::new();
    config.tier(tier);
    config.consume_fuel(fuel);
    Engine::new(&config)
}

/// Compiles `wat`; under the native tier it must compile natively unless `native` is false.
fn module(engine: &Engine, wat: &str, native: bool) -> Module {
    let m = Module::new(engine, wat).unwrap();
    if engine_is_native(engine) && native {
        assert_eq!(m.tier(), Tier::Native, "fell back: {:?}", m.native_fallback_reason());
    }
    m
}

fn engine_is_native(engine: &Engine) -> bool {
    Module::new(engine, "(module (func))").unwrap().tier() == Tier::Native
}

/// An error as the embedder sees it: a trap's code and message, or the error's text.
fn describe(e: &Error) -> String {
    match e.as_trap() {
        Some(t) => format!("trap {:?}: {}", t.code(), t.message()),
        None => format!("error: {e}"),
    }
}

/// Runs `scenario` under both tiers and asserts that they agree; returns the native outcome.
fn both(scenario: impl Fn(Tier) -> String) -> String {
    let interp = scenario(Tier::Interpreter);
    let native = scenario(Tier::Native);
    assert_eq!(interp, native, "interpreter vs native");
    native
}

const HOST_USER: &str = r#"(module
  (import "host" "add3" (func $add3 (param i32 i64 f64) (result i64)))
  (import "host" "swap" (func $swap (param i32 f32) (result f32 i32)))
  (import "host" "sum" (func $sum (param i32 i32) (result i32)))
  (import "host" "grow" (func $grow (result i32)))
  (import "host" "fail" (func $fail (param i32)))
  (import "host" "ref" (func $ref (param externref) (result externref)))
  (memory (export "memory") 1)
  (data (i32.const 16) "\01\02\03\04\05")
  (func (export "add3") (param i32 i64 f64) (result i64)
    (i64.add (call $add3 (local.get 0) (local.get 1) (local.get 2)) (i64.const 1)))
  (func (export "swap") (param i32 f32) (result f32 i32)
    (call $swap (local.get 0) (local.get 1)))
  (func (export "sum") (result i32) (call $sum (i32.const 16) (i32.const 5)))
  ;; The host grows memory 0: native code must see the new size and base afterwards.
  (func (export "grow") (result i32 i32)
    (call $grow)
    (i32.store (i32.const 70000) (i32.const 7))
    (i32.load (i32.const 70000)))
  (func (export "fail") (param i32) (result i32)
    (call $fail (local.get 0))
    (i32.const 5))
  (func (export "ref") (param externref) (result externref) (call $ref (local.get 0))))"#;

fn host_linker(engine: &Engine) -> Linker<u32> {
    let mut linker = Linker::<u32>::new(engine);
    linker
        .func_wrap("host", "add3", |mut c: Caller<'_, u32>, a: i32, b: i64, x: f64| {
            *c.data_mut() += 1;
            a as i64 + b + x as i64
        })
        .unwrap();
    linker.func_wrap("host", "swap", |a: i32, b: f32| (b * 2.0, a - 1)).unwrap();
    linker
        .func_wrap("host", "sum", |mut c: Caller<'_, u32>, ptr: i32, len: i32| {
            let memory = c.get_export("memory").and_then(Extern::into_memory).unwrap();
            let bytes = &memory.data(&c)[ptr as usize..][..len as usize];
            bytes.iter().map(|b| *b as i32).sum::<i32>()
        })
        .unwrap();
    linker
        .func_wrap("host", "grow", |mut c: Caller<'_, u32>| {
            let memory = c.get_export("memory").and_then(Extern::into_memory).unwrap();
            memory.grow(&mut c, 1).unwrap() as i32
        })
        .unwrap();
    linker
        .func_wrap("host", "fail", |code: i32| -> ward::Result<()> {
            match code {
                0 => Ok(()),
                1 => Err(Trap::host("bad descriptor").into()),
                2 => Err(Error::Exit(3)),
                3 => Err(Error::Park),
                _ => Err(TrapCode::IntegerDivideByZero.into()),
            }
        })
        .unwrap();
    linker
        .func_new(
            "host",
            "ref",
            FuncType::new([ValType::EXTERNREF], [ValType::EXTERNREF]),
            |_, args, results| {
                results[0] = args[0];
                Ok(())
            },
        )
        .unwrap();
    linker
}

#[test]
fn native_code_calls_host_functions() {
    let out = both(|tier| {
        let engine = engine(tier, false);
        let m = module(&engine, HOST_USER, true);
        let mut store = Store::new(&engine, 0u32);
        let instance = host_linker(&engine).instantiate(&mut store, &m).unwrap();
        let mut log = Vec::new();
        let mut call = |store: &mut Store<u32>, name: &str, args: &[Val], n: usize| {
            let f = instance.get_func(&mut *store, name).unwrap();
            assert_eq!(f.tier(&*store), tier);
            let mut out = vec![Val::I32(0); n];
            let r = f.call(&mut *store, args, &mut out);
            log.push(match r {
                // An externref prints its store's id: show what it holds instead.
                Ok(()) => match &out[..] {
                    [Val::ExternRef(Some(r))] => {
                        format!("{name} -> {:?}", r.data(&*store).downcast_ref::<u8>())
                    }
                    _ => format!("{name} -> {out:?}"),
                },
                Err(e) => format!("{name} -> {}", describe(&e)),
            });
        };
        call(&mut store, "add3", &[Val::I32(-5), Val::I64(1 << 40), Val::F64(2.9f64.to_bits())], 1);
        call(&mut store, "swap", &[Val::I32(10), Val::F32(1.5f32.to_bits())], 2);
        call(&mut store, "sum", &[], 1);
        call(&mut store, "grow", &[], 2);
        for code in 0..5 {
            call(&mut store, "fail", &[Val::I32(code)], 1);
        }
        let r = Val::ExternRef(Some(ward::ExternRef::new(&mut store, 5u8)));
        call(&mut store, "ref", &[r], 1);
        call(&mut store, "ref", &[Val::ExternRef(None)], 1);
        log.push(format!("host calls seen: {}", store.data()));
        log.join("\n")
    });
    // The outcomes themselves (both tiers agree on them).
    assert!(out.contains("add3 -> [I64(1099511627774)]"), "{out}");
    assert!(out.contains("sum -> [I32(15)]"), "{out}");
    assert!(out.contains("grow -> [I32(1), I32(7)]"), "{out}");
    assert!(out.contains("fail -> trap HostError: bad descriptor"), "{out}");
    assert!(out.contains("fail -> error: exited with code 3"), "{out}");
    assert!(out.contains("fail -> error: a host function asked to park the call"), "{out}");
    assert!(out.contains("fail -> trap IntegerDivideByZero"), "{out}");
    assert!(out.contains("ref -> Some(5)"), "{out}");
    assert!(out.contains("host calls seen: 1"), "{out}");
}

#[test]
fn host_traps_from_native_code_carry_the_caller_frame() {
    let engine = engine(Tier::Native, false);
    let m = module(&engine, HOST_USER, true);
    let mut store = Store::new(&engine, 0u32);
    let instance = host_linker(&engine).instantiate(&mut store, &m).unwrap();
    let f = instance.get_typed_func::<i32, i32>(&mut store, "fail").unwrap();
    let e = f.call(&mut store, 1).unwrap_err();
    let trap = e.as_trap().unwrap();
    assert_eq!(trap.code(), TrapCode::HostError);
    assert_eq!(trap.backtrace().len(), 1);
    assert_eq!(trap.backtrace()[0].func_index, 10);
}

#[test]
fn a_panicking_host_function_unwinds_through_native_code() {
    let engine = engine(Tier::Native, false);
    let m = module(
        &engine,
        r#"(module (import "host" "boom" (func $b)) (func (export "run") (call $b)))"#,
        true,
    );
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    linker.func_wrap("host", "boom", || -> () { panic!("host boom") }).unwrap();
    let instance = linker.instantiate(&mut store, &m).unwrap();
    let run = instance.get_typed_func::<(), ()>(&mut store, "run").unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run.call(&mut store, ())));
    let payload = r.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"host boom"));
    // The store still works afterwards.
    let f = Func::wrap(&mut store, |x: i32| x + 1);
    assert_eq!(f.typed::<i32, i32>(&store).unwrap().call(&mut store, 1).unwrap(), 2);
}

#[test]
fn async_host_functions_are_refused_in_native_sync_calls_as_in_the_interpreter() {
    both(|tier| {
        let mut config = Config::new();
        config.tier(tier);
        config.async_support(true);
        let engine = Engine::new(&config);
        let m = module(
            &engine,
            r#"(module (import "host" "wait" (func $w (result i32)))
                 (func (export "run") (result i32) (call $w)))"#,
            true,
        );
        let mut linker = Linker::<()>::new(&engine);
        linker
            .func_wrap_async("host", "wait", |_: Caller<'_, ()>, (): ()| {
                Box::pin(async { Ok(1i32) })
            })
            .unwrap();
        let mut store = Store::new(&engine, ());
        let instance = linker.instantiate(&mut store, &m).unwrap();
        let run = instance.get_typed_func::<(), i32>(&mut store, "run").unwrap();
        describe(&run.call(&mut store, ()).unwrap_err())
    });
}

/// A module of helpers that the native tier cannot compile (it uses `ref.i31`, a GC operator,
/// which stays in the interpreter), so it always runs in the interpreter.
const INTERPRETED: &str = r#"(module
  ;; A GC operator keeps this module in the interpreter.
  (func (export "lanes") (param i32) (result i32)
    (drop (ref.i31 (i32.const 1)))
    (local.get 0))
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func (export "pair") (param i64) (result i64 i64)
    (local.get 0) (i64.mul (local.get 0) (i64.const 3))))"#;

const NATIVE_LIB: &str = r#"(module
  (global $calls (export "calls") (mut i32) (i32.const 0))
  (func (export "twice") (param i32) (result i32)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (i32.mul (local.get 0) (i32.const 2)))
  (func (export "trap") (result i32) (unreachable)))"#;

const CALLER: &str = r#"(module
  (import "interp" "lanes" (func $lanes (param i32) (result i32)))
  (import "interp" "div" (func $div (param i32 i32) (result i32)))
  (import "interp" "pair" (func $pair (param i64) (result i64 i64)))
  (import "lib" "twice" (func $twice (param i32) (result i32)))
  (import "lib" "trap" (func $trap (result i32)))
  (import "lib" "calls" (global $calls (mut i32)))
  (type $i2i (func (param i32) (result i32)))
  (table $t (export "table") 4 funcref)
  (elem (i32.const 0) $lanes $twice $own)
  (func $own (param i32) (result i32) (i32.sub (local.get 0) (i32.const 1)))
  (func (export "direct") (param i32) (result i32)
    (i32.add (call $lanes (local.get 0)) (call $twice (local.get 0))))
  (func (export "div") (param i32 i32) (result i32) (call $div (local.get 0) (local.get 1)))
  (func (export "pair") (param i64) (result i64)
    (call $pair (local.get 0)) (i64.sub))
  (func (export "trap") (result i32) (call $trap))
  (func (export "indirect") (param i32 i32) (result i32)
    (call_indirect (type $i2i) (local.get 1) (local.get 0)))
  (func (export "calls") (result i32) (global.get $calls)))"#;

/// Instantiates the interpreted helpers, the native library and the caller of both.
fn three_instances(tier: Tier, fuel: bool) -> (Store<()>, Instance, Instance) {
    let engine = engine(tier, fuel);
    let mut store = Store::new(&engine, ());
    if fuel {
        store.set_fuel(1_000_000).unwrap();
    }
    let interp = Module::new(&engine, INTERPRETED).unwrap();
    assert_eq!(interp.tier(), Tier::Interpreter);
    let lib = module(&engine, NATIVE_LIB, true);
    let caller = module(&engine, CALLER, true);
    let mut linker = Linker::new(&engine);
    let i = linker.instantiate(&mut store, &interp).unwrap();
    linker.instance(&mut store, "interp", i).unwrap();
    let l = linker.instantiate(&mut store, &lib).unwrap();
    linker.instance(&mut store, "lib", l).unwrap();
    let c = linker.instantiate(&mut store, &caller).unwrap();
    (store, c, l)
}

fn call_log(store: &mut Store<()>, instance: Instance, calls: &[(&str, &[Val], usize)]) -> String {
    let mut log = Vec::new();
    for (name, args, n) in calls {
        let f = instance.get_func(&mut *store, name).unwrap();
        let mut out = vec![Val::I32(0); *n];
        log.push(match f.call(&mut *store, args, &mut out) {
            Ok(()) => format!("{name}{args:?} -> {out:?}"),
            Err(e) => format!("{name}{args:?} -> {}", describe(&e)),
        });
    }
    log.join("\n")
}

const CROSS_CALLS: &[(&str, &[Val], usize)] = &[
    ("direct", &[Val::I32(5)], 1),
    ("div", &[Val::I32(7), Val::I32(2)], 1),
    ("div", &[Val::I32(7), Val::I32(0)], 1),
    ("div", &[Val::I32(i32::MIN), Val::I32(-1)], 1),
    ("pair", &[Val::I64(4)], 1),
    ("trap", &[], 1),
    ("indirect", &[Val::I32(0), Val::I32(9)], 1),
    ("indirect", &[Val::I32(1), Val::I32(9)], 1),
    ("indirect", &[Val::I32(2), Val::I32(9)], 1),
    ("indirect", &[Val::I32(3), Val::I32(9)], 1),
    ("indirect", &[Val::I32(4), Val::I32(9)], 1),
    ("calls", &[], 1),
];

#[test]
fn native_code_calls_interpreted_and_other_native_instances() {
    let out = both(|tier| {
        let (mut store, caller, lib) = three_instances(tier, false);
        let twice = lib.get_func(&mut store, "twice").unwrap();
        assert_eq!(twice.tier(&store), tier);
        call_log(&mut store, caller, CROSS_CALLS)
    });
    assert!(out.contains("direct[I32(5)] -> [I32(15)]"), "{out}");
    assert!(out.contains("-> trap IntegerDivideByZero"), "{out}");
    assert!(out.contains("-> trap IntegerOverflow"), "{out}");
    assert!(out.contains("pair[I64(4)] -> [I64(-8)]"), "{out}");
    assert!(out.contains("trap[] -> trap Unreachable"), "{out}");
    assert!(out.contains("indirect[I32(1), I32(9)] -> [I32(18)]"), "{out}");
    assert!(out.contains("indirect[I32(2), I32(9)] -> [I32(8)]"), "{out}");
    assert!(out.contains("indirect[I32(3), I32(9)] -> trap UninitializedElement"), "{out}");
    assert!(out.contains("indirect[I32(4), I32(9)] -> trap UndefinedElement"), "{out}");
    assert!(out.contains("calls[] -> [I32(2)]"), "{out}");
}

#[test]
fn cross_tier_calls_burn_the_same_fuel() {
    for budget in [0u64, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144] {
        both(|tier| {
            let (mut store, caller, _) = three_instances(tier, true);
            store.set_fuel(budget).unwrap();
            let log = call_log(&mut store, caller, CROSS_CALLS);
            format!("{log}\nfuel left: {}", store.get_fuel().unwrap())
        });
    }
}

#[test]
fn the_host_calls_native_functions_through_tables_and_the_table_holds_any_function() {
    let out = both(|tier| {
        let (mut store, caller, lib) = three_instances(tier, false);
        let table = caller.get_table(&mut store, "table").unwrap();
        let mut log = Vec::new();
        // Host -> native (and interpreted) functions found in an exported table.
        for i in 0..3 {
            let Some(Val::FuncRef(Some(f))) = table.get(&mut store, i) else { panic!() };
            let mut out = [Val::I32(0)];
            f.call(&mut store, &[Val::I32(20)], &mut out).unwrap();
            log.push(format!("{i}: {:?}", out[0]));
            // The interpreted helper stays interpreted; the rest is native under native.
            let expected = if i == 0 { Tier::Interpreter } else { tier };
            assert_eq!(f.tier(&store), expected);
        }
        // The embedder puts a host function and another instance's native function in the
        // table; native `call_indirect` reaches both.
        let host = Func::wrap(&mut store, |x: i32| x * 100);
        table.set(&mut store, 3, Val::FuncRef(Some(host))).unwrap();
        let twice = lib.get_func(&mut store, "twice").unwrap();
        table.set(&mut store, 0, Val::FuncRef(Some(twice))).unwrap();
        log.push(call_log(
            &mut store,
            caller,
            &[
                ("indirect", &[Val::I32(3), Val::I32(4)], 1),
                ("indirect", &[Val::I32(0), Val::I32(4)], 1),
            ],
        ));
        log.join("\n")
    });
    assert_eq!(
        out,
        "0: I32(20)\n1: I32(40)\n2: I32(19)\nindirect[I32(3), I32(4)] -> [I32(400)]\n\
         indirect[I32(0), I32(4)] -> [I32(8)]"
    );
}

#[test]
fn host_and_native_code_nest_and_deep_nesting_traps() {
    let depth = Arc::new(AtomicU32::new(0));
    let wat = r#"(module
      (import "host" "again" (func $again (param i32) (result i32)))
      (func (export "down") (param i32) (result i32)
        (if (result i32) (i32.eqz (local.get 0))
          (then (i32.const 0))
          (else (i32.add (i32.const 1) (call $again (i32.sub (local.get 0) (i32.const 1))))))))"#;
    let out = both(|tier| {
        let engine = engine(tier, false);
        let m = module(&engine, wat, true);
        let mut store = Store::new(&engine, ());
        let mut linker = Linker::<()>::new(&engine);
        let seen = depth.clone();
        // The host function calls back into the instance's `down`.
        linker
            .func_wrap("host", "again", move |mut c: Caller<'_, ()>, n: i32| -> ward::Result<i32> {
                seen.fetch_max(n as u32, Ordering::Relaxed);
                let down = c.get_export("down").and_then(Extern::into_func).unwrap();
                let mut out = [Val::I32(0)];
                down.call(&mut c, &[Val::I32(n)], &mut out)?;
                Ok(out[0].unwrap_i32())
            })
            .unwrap();
        let instance = linker.instantiate(&mut store, &m).unwrap();
        let down = instance.get_typed_func::<i32, i32>(&mut store, "down").unwrap();
        let shallow = down.call(&mut store, 10).map_err(|e| describe(&e));
        let deep = down.call(&mut store, 1000).map_err(|e| describe(&e));
        format!("{shallow:?} {deep:?}")
    });
    assert!(out.starts_with("Ok(10) Err(\"trap StackOverflow"), "{out}");
}
