//! The native tier on guarded memories, where accesses within the guard region are not
//! bounds-checked and an out-of-bounds one faults: the fault handler must turn every such fault
//! into the trap the interpreter gives, leave memory as the interpreter leaves it, unwind to the
//! right native call when calls nest through the host, and work on several threads at once.

use ward::{
    Caller, Config, Engine, Extern, Instance, Linker, MemoryStrategy, Module, Store, Tier,
    TrapCode, Val,
};

fn engine(tier: Tier, strategy: MemoryStrategy, fuel: bool) -> Engine {
    let mut config = Config::new();
    config.tier(tier);
    config.memory_strategy(strategy);
    config.consume_fuel(fuel);
    Engine::new(&config)
}

const ACCESSES: &str = r#"(module
  (memory (export "memory") 1 3)
  (func (export "load32") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "load8") (param i32) (result i32) (i32.load8_u offset=7 (local.get 0)))
  (func (export "load64") (param i32) (result i64) (i64.load offset=65535 (local.get 0)))
  (func (export "loadv") (param i32) (result i32)
    (i32x4.extract_lane 3 (v128.load (local.get 0))))
  (func (export "store64") (param i32) (i64.store (local.get 0) (i64.const -1)))
  (func (export "storev") (param i32) (v128.store (local.get 0) (v128.const i64x2 -1 -1)))
  (func (export "far") (param i32) (result i32) (i32.load offset=0x7fffffff (local.get 0)))
  (func (export "grow") (result i32) (memory.grow (i32.const 1)))
  ;; A deep chain of native frames above the faulting access.
  (func $down (export "down") (param i32 i32) (result i32)
    (if (result i32) (local.get 0)
      (then (i32.add (i32.const 1)
              (call $down (i32.sub (local.get 0) (i32.const 1)) (local.get 1))))
      (else (i32.load (local.get 1))))))"#;

fn instance(tier: Tier, strategy: MemoryStrategy, fuel: bool) -> (Store<()>, Instance) {
    let engine = engine(tier, strategy, fuel);
    let module = Module::new(&engine, ACCESSES).unwrap();
    assert_eq!(module.tier(), tier, "{:?}", module.native_fallback_reason());
    let mut store = Store::new(&engine, ());
    if fuel {
        store.set_fuel(1_000_000).unwrap();
    }
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    (store, instance)
}

/// Calls `name` with `args`: its results, or the trap code; and the memory's last 64 bytes and
/// size afterwards.
fn call(
    (store, instance): &mut (Store<()>, Instance),
    name: &str,
    args: &[Val],
) -> (Result<Vec<String>, TrapCode>, Vec<u8>, u64) {
    let f = instance.get_func(&mut *store, name).unwrap();
    let n = f.ty(&*store).results().len();
    let mut out = vec![Val::I32(0); n];
    let r = f
        .call(&mut *store, args, &mut out)
        .map(|()| out.iter().map(|v| format!("{v:?}")).collect())
        .map_err(|e| e.as_trap().unwrap_or_else(|| panic!("not a trap: {e}")).code());
    let memory = instance.get_memory(&*store, "memory").unwrap();
    let len = memory.data_size(&*store);
    let mut tail = vec![0; 64];
    memory.read(&*store, len - 64, &mut tail).unwrap();
    (r, tail, len as u64)
}

#[test]
fn faults_trap_exactly_where_the_interpreter_traps() {
    let mut interp = instance(Tier::Interpreter, MemoryStrategy::Dense, false);
    let mut native = instance(Tier::Native, MemoryStrategy::Guarded, false);
    let page = 65536i64;
    let mut traps = 0;
    for phase in 0..2 {
        for name in ["load32", "load8", "load64", "loadv", "store64", "storev", "far"] {
            for base in [0, page, 2 * page, page * 3, 1 << 31, u32::MAX as i64 + 1] {
                for delta in [-17i64, -16, -9, -8, -7, -4, -3, -1, 0, 1, 4] {
                    let addr = (base + delta) as i32;
                    let a = call(&mut interp, name, &[Val::I32(addr)]);
                    let b = call(&mut native, name, &[Val::I32(addr)]);
                    assert_eq!(a, b, "{name}({addr}) in phase {phase}");
                    traps += usize::from(a.0.is_err());
                }
            }
        }
        // Grown, the next page is accessible in both; the one after still faults.
        let a = call(&mut interp, "grow", &[]);
        let b = call(&mut native, "grow", &[]);
        assert_eq!(a, b);
        assert_eq!(a.2, (phase + 2) * page as u64);
    }
    assert!(traps > 300, "only {traps} calls trapped");
}

#[test]
fn a_fault_under_many_native_frames_unwinds_them_all() {
    let (mut store, instance) = instance(Tier::Native, MemoryStrategy::Guarded, false);
    let down = instance.get_typed_func::<(i32, i32), i32>(&mut store, "down").unwrap();
    for depth in [0, 1, 10, 1000] {
        let e = down.call(&mut store, (depth, 65533)).unwrap_err();
        assert_eq!(e.as_trap().map(|t| t.code()), Some(TrapCode::MemoryOutOfBounds));
        // The store is usable afterwards, at full call depth.
        assert_eq!(down.call(&mut store, (depth, 8)).unwrap(), depth);
    }
}

#[test]
fn guarded_faults_burn_the_interpreters_fuel() {
    for addr in [0, 65532, 65533, 70000] {
        let mut used = Vec::new();
        for (tier, strategy) in
            [(Tier::Interpreter, MemoryStrategy::Dense), (Tier::Native, MemoryStrategy::Guarded)]
        {
            let mut inst = instance(tier, strategy, true);
            let r = call(&mut inst, "down", &[Val::I32(5), Val::I32(addr)]).0;
            used.push((r, 1_000_000 - inst.0.get_fuel().unwrap()));
        }
        assert_eq!(used[0], used[1], "address {addr}");
    }
}

/// wasm -> host -> wasm -> fault: the inner call traps, the host sees the trap and returns a
/// value, and the outer native call goes on; then the outer one faults itself.
#[test]
fn nested_native_calls_unwind_to_the_innermost() {
    let wat = r#"(module
      (import "host" "probe" (func $probe (param i32) (result i32)))
      (memory (export "memory") 1)
      (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
      (func (export "outer") (param i32 i32) (result i32)
        (i32.add (call $probe (local.get 0)) (i32.load (local.get 1)))))"#;
    let engine = engine(Tier::Native, MemoryStrategy::Guarded, false);
    let module = Module::new(&engine, wat).unwrap();
    assert_eq!(module.tier(), Tier::Native);
    let mut linker = Linker::<Vec<String>>::new(&engine);
    linker
        .func_wrap("host", "probe", |mut c: Caller<'_, Vec<String>>, addr: i32| -> i32 {
            let load = c.get_export("load").and_then(Extern::into_func).unwrap();
            let mut out = [Val::I32(0)];
            let r = load.call(&mut c, &[Val::I32(addr)], &mut out);
            let seen = match r {
                Ok(()) => format!("ok {:?}", out[0]),
                Err(e) => format!("trap {:?}", e.as_trap().map(|t| t.code())),
            };
            c.data_mut().push(seen);
            100
        })
        .unwrap();
    let mut store = Store::new(&engine, Vec::new());
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let memory = instance.get_memory(&store, "memory").unwrap();
    memory.write(&mut store, 8, &7i32.to_le_bytes()).unwrap();
    let outer = instance.get_typed_func::<(i32, i32), i32>(&mut store, "outer").unwrap();
    assert_eq!(outer.call(&mut store, (70000, 8)).unwrap(), 107);
    assert_eq!(outer.call(&mut store, (8, 8)).unwrap(), 107);
    let e = outer.call(&mut store, (65535, 65535)).unwrap_err();
    assert_eq!(e.as_trap().map(|t| t.code()), Some(TrapCode::MemoryOutOfBounds));
    assert_eq!(
        store.data(),
        &["trap Some(MemoryOutOfBounds)", "ok I32(7)", "trap Some(MemoryOutOfBounds)"]
    );
}

#[test]
fn threads_fault_at_once_each_into_its_own_call() {
    let handles: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                // Each thread compiles its own module too: registering and dropping code while
                // other threads fault.
                for round in 0..50 {
                    let (mut store, instance) =
                        instance(Tier::Native, MemoryStrategy::Guarded, false);
                    let load = instance.get_typed_func::<i32, i32>(&mut store, "load32").unwrap();
                    for i in 0..20 {
                        let addr = 65536 + (t * 7 + round + i) % 4000;
                        let e = load.call(&mut store, addr).unwrap_err();
                        assert_eq!(
                            e.as_trap().map(|t| t.code()),
                            Some(TrapCode::MemoryOutOfBounds)
                        );
                        assert_eq!(load.call(&mut store, 0).unwrap(), 0);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn a_fault_names_the_function_in_its_backtrace() {
    let (mut store, instance) = instance(Tier::Native, MemoryStrategy::Guarded, false);
    let load = instance.get_typed_func::<i32, i64>(&mut store, "load64").unwrap();
    let e = load.call(&mut store, 1).unwrap_err();
    let trap = e.as_trap().unwrap();
    assert_eq!(trap.code(), TrapCode::MemoryOutOfBounds);
    assert_eq!(trap.backtrace().first().map(|f| f.func_index), Some(2), "{e}");
}

fn guarded_artifact() -> Vec<u8> {
    let module = Module::new(&engine(Tier::Native, MemoryStrategy::Guarded, false), ACCESSES);
    module.unwrap().serialize().unwrap()
}

/// The attack: code compiled for guarded memories has no bounds checks, so on a dense memory
/// (no guard region after it) it could reach past the memory. Such an artifact must be refused.
#[test]
fn an_artifact_for_guarded_memories_never_runs_on_dense_ones() {
    let bytes = guarded_artifact();
    let dense = engine(Tier::Native, MemoryStrategy::Dense, false);
    // SAFETY: `bytes` comes from `serialize` of this Ward.
    let Err(e) = (unsafe { Module::deserialize(&dense, &bytes) }) else {
        panic!("code for guarded memories loaded on dense ones");
    };
    assert!(e.to_string().contains("memory_strategy=guarded"), "{e}");
}

#[test]
fn an_artifact_keeps_its_trap_sites() {
    let bytes = guarded_artifact();
    let guarded = engine(Tier::Native, MemoryStrategy::Guarded, false);
    // SAFETY: `bytes` comes from `serialize` of this Ward.
    let module = unsafe { Module::deserialize(&guarded, &bytes) }.unwrap();
    let mut store = Store::new(&guarded, ());
    let loaded = Instance::new(&mut store, &module, &[]).unwrap();
    let mut native = (store, loaded);
    let mut interp = instance(Tier::Interpreter, MemoryStrategy::Dense, false);
    for addr in [0, 65532, 65533, 65536, -1] {
        for name in ["load32", "store64", "storev", "loadv"] {
            let a = call(&mut interp, name, &[Val::I32(addr)]);
            assert_eq!(a, call(&mut native, name, &[Val::I32(addr)]), "{name}({addr})");
        }
    }
}
