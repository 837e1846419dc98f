//! Arbitrary bytes into the component model: `Component::from_binary` (decoding, validation,
//! compiling the core modules) must never panic. A component that loads is instantiated
//! against the WASI 0.2 proxy world `ward serve` gives a handler (every interface, nothing
//! granted) under fuel and store limits; a command has its `wasi:cli/run.run` called, an HTTP
//! handler gets one request. Seeded with real components (the WASI 0.2 test programs, the
//! `wasi:http` test handler), mutations reach the canonical ABI, resources and the WASI host.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ward::{Config, Engine, Store, StoreLimitsBuilder};
use ward_component::{Component, Linker};
use ward_fuzz::Stats;
use ward_wasi_p2::{HttpRequest, WasiP2Ctx, WasiP2CtxBuilder};

static STATS: Stats =
    Stats::new(&["inputs", "loaded", "instantiated", "run called", "handler called", "returned"]);

fuzz_target!(|data: &[u8]| {
    STATS.bump(0);
    let mut config = Config::new();
    config.consume_fuel(true);
    let engine = Engine::new(&config);
    let Ok(component) = Component::from_binary(&engine, data) else { return };
    STATS.bump(1);
    let mut linker = Linker::<WasiP2Ctx>::new(&engine);
    let Ok(proxy) = ward_wasi_p2::add_proxy_to_linker(&mut linker, |c: &mut WasiP2Ctx| c) else {
        return;
    };
    let ctx = WasiP2CtxBuilder::new().arg("fuzz").http_max_bytes(1 << 20).build();
    let mut store = Store::new(&engine, ctx);
    store.limiter(
        StoreLimitsBuilder::new()
            .memory_size(64 << 20)
            .total_size(128 << 20)
            .memories(8)
            .tables(16)
            .build(),
    );
    // Enough for a Rust program's start-up and a short run (25 calls' worth).
    if store.set_fuel(25 * ward_fuzz::FUEL_PER_CALL).is_err() {
        return;
    }
    let Ok(instance) = linker.instantiate(&mut store, &component) else { return };
    STATS.bump(2);
    if ward_wasi_p2::command_run(&instance).is_some() {
        STATS.bump(3);
        if ward_wasi_p2::run_command(&mut store, &instance).is_ok() {
            STATS.bump(5);
        }
    } else if proxy.handler(&instance).is_some() {
        STATS.bump(4);
        let request = HttpRequest {
            method: "POST".into(),
            path_with_query: Some("/echo?fuzz=1".into()),
            scheme: Some("http".into()),
            authority: Some("localhost".into()),
            headers: vec![("x-test".into(), b"fuzz".to_vec())],
            body: b"body".to_vec(),
        };
        if proxy.handle(&mut store, &instance, request).is_ok() {
            STATS.bump(5);
        }
    }
});
