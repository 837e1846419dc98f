//! Arbitrary bytes into module compilation: `Module::new` must never panic, whatever the input
//! (binary or text). Every function body is translated too (`Config::eager_translation`), and a
//! module that compiles is instantiated with dummy imports and each of its exports is called
//! under fuel, so mutated real-world modules from the seed corpus also exercise execution.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ward::{Config, Engine, Instance, Module};
use ward_fuzz::ward_side::{self, call_every_export, HostBehaviour};
use ward_fuzz::{zero_value, Stats};

static STATS: Stats = Stats::new(&["inputs", "compiled", "instantiated", "calls", "returned"]);

fuzz_target!(|data: &[u8]| {
    STATS.bump(0);
    let mut config = Config::new();
    config.eager_translation(true).consume_fuel(true);
    let engine = Engine::new(&config);
    let Ok(module) = Module::new(&engine, data) else { return };
    STATS.bump(1);
    let mut store = ward_side::limited_store(&engine);
    let Ok(imports) = ward_fuzz::ward_dummy_imports(&mut store, &module, |_| HostBehaviour::Zeros)
    else {
        return;
    };
    if store.set_fuel(ward_fuzz::FUEL_PER_CALL / 4).is_err() {
        return;
    }
    let Ok(instance) = Instance::new(&mut store, &module, &imports) else { return };
    STATS.bump(2);
    let counts = call_every_export(&mut store, instance, ward_fuzz::FUEL_PER_CALL / 4, zero_value);
    STATS.add(3, counts.calls);
    STATS.add(4, counts.returned);
});
