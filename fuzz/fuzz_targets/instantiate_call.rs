//! `wasm-smith` modules within Ward's features (GC, threads' atomics on one thread, wide
//! arithmetic and custom page sizes included), instantiated with dummy imports and every
//! exported function called under fuel and store limits. Asserts that nothing panics, that Ward
//! accepts every valid module, and that every call returns values of its declared types (or
//! traps, or fails cleanly).
//!
//! The input also chooses the engine configuration (eager or lazy translation, interruption
//! checks, a small value stack and call depth) and what each imported host function does:
//! return zeros, trap, or re-enter the instance by calling one of its exports.

#![no_main]

use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use ward::{Config, Engine, Error, Instance, Module};
use ward_fuzz::ward_side::{self, call_every_export, HostBehaviour};
use ward_fuzz::{arbitrary_value, zero_value, Stats};

static STATS: Stats = Stats::new(&[
    "inputs",
    "generated",
    "instantiated",
    "limit_errors",
    "calls",
    "returned",
    "out_of_fuel",
    "unmatchable_imports",
]);

fuzz_target!(|data: &[u8]| {
    STATS.bump(0);
    let _ = run(data);
});

fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let smith = ward_fuzz::ward_smith_config(&mut u)?;
    let gc = smith.gc_enabled;
    let eager: bool = u.arbitrary()?;
    let interruptible: bool = u.arbitrary()?;
    let small_stack: bool = u.arbitrary()?;
    let generated = wasm_smith::Module::new(smith, &mut u)?;
    let bytes = generated.to_bytes();
    STATS.bump(1);
    if let Some(path) = std::env::var_os("WARD_FUZZ_DUMP") {
        // Debugging aid: keep the generated module of the input being replayed.
        std::fs::write(path, &bytes).expect("WARD_FUZZ_DUMP is writable");
    }

    let mut config = Config::new();
    config.consume_fuel(true).eager_translation(eager).interruptible(interruptible);
    if small_stack {
        config.max_wasm_stack(64 << 10).max_call_depth(200);
    }
    let engine = Engine::new(&config);
    let module = match Module::new(&engine, &bytes) {
        Ok(m) => m,
        Err(e) => panic!("Ward rejected a valid wasm-smith module: {e}"),
    };

    if ward_fuzz::ward_side::needs_a_non_null_import(&module) {
        STATS.bump(7);
        return Ok(());
    }

    let mut store = ward_side::limited_store(&engine);
    let behaviours = ward_side::arbitrary_behaviours(&mut u, &module)?;
    let imports = match ward_fuzz::ward_dummy_imports(&mut store, &module, |i| {
        behaviours.get(i).cloned().unwrap_or(HostBehaviour::Zeros)
    }) {
        Ok(imports) => imports,
        Err(e) => {
            assert!(matches!(e, Error::Limit(_)), "making a dummy import failed: {e}");
            STATS.bump(3);
            return Ok(());
        }
    };
    store.set_fuel(ward_fuzz::FUEL_PER_CALL).expect("fuel is enabled");
    let instance = match Instance::new(&mut store, &module, &imports) {
        Ok(instance) => instance,
        Err(e) => {
            // A valid module with matching imports can only fail to instantiate by trapping
            // (segment initialisation, the start function) or by hitting a store limit. With
            // GC, a function or tag import's type may be in a recursion group or not final,
            // which the host-made dummy's type never is: then the import does not match.
            let host_type = gc && matches!(e, Error::IncompatibleImport { .. });
            assert!(
                matches!(e, Error::Trap(_) | Error::Limit(_)) || host_type,
                "instantiation failed with an unexpected error: {e:?}"
            );
            if host_type {
                STATS.bump(7);
            }
            if matches!(e, Error::Limit(_)) {
                STATS.bump(3);
            }
            return Ok(());
        }
    };
    STATS.bump(2);
    let counts = call_every_export(&mut store, instance, ward_fuzz::FUEL_PER_CALL, |t| {
        arbitrary_value(&mut u, t).unwrap_or(zero_value(t))
    });
    STATS.add(4, counts.calls);
    STATS.add(5, counts.returned);
    STATS.add(6, counts.out_of_fuel);
    // Every exported memory is readable to its end (a shared one through `Memory::read`).
    for (_, ext) in instance.exports(&store) {
        if let ward::Extern::Memory(m) = ext {
            let data = ward_fuzz::ward_side::memory_bytes(&store, m);
            assert_eq!(data.len(), m.data_size(&store));
            std::hint::black_box(data.iter().fold(0u8, |a, b| a ^ b));
        }
    }
    Ok(())
}
