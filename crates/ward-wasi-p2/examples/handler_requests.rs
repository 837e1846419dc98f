//! What `ward serve` pays per request, without the network: a fresh store, an instance of
//! the `wasi:http` test handler (`tests/wasi-http/handler.wasm`), and one request to its
//! `/echo` route.
//!
//! ```sh
//! cargo run --release -p ward-wasi-p2 --example handler_requests [REQUESTS] [HANDLER.wasm]
//! ```
//!
//! Prints `key value` lines, microseconds per request as the median of 9 batches of REQUESTS
//! (default 2,000) after one untimed batch:
//! - `instantiate_us`: a store and an instance (`Linker::instantiate`, imports resolved each
//!   time);
//! - `pre_instantiate_us`: a store and an instance from an `InstancePre` (imports resolved
//!   once, as `ward serve` does);
//! - `request_us`: a store, an instance from the `InstancePre` and the request answered.

use std::time::Instant;
use ward_component::{Component, Linker};
use ward_wasi_p2::{HttpRequest, WasiP2Ctx, WasiP2CtxBuilder};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let requests: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let path = args.next().unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/wasi-http/handler.wasm").to_string()
    });
    let bytes = std::fs::read(&path).map_err(|e| format!("cannot read `{path}`: {e}"))?;
    let engine = ward::Engine::default();
    let component = Component::from_binary(&engine, &bytes)?;
    let mut linker = Linker::<WasiP2Ctx>::new(&engine);
    let proxy = ward_wasi_p2::add_proxy_to_linker(&mut linker, |ctx: &mut WasiP2Ctx| ctx)?;

    let pre = linker.instantiate_pre(&component)?;
    let instantiate = |how: How| -> Result<(), Box<dyn std::error::Error>> {
        let mut store = ward::Store::new(&engine, WasiP2CtxBuilder::new().build());
        let instance = match how {
            How::Linker => linker.instantiate(&mut store, &component)?,
            How::Pre | How::Request => pre.instantiate(&mut store)?,
        };
        if how == How::Request {
            let response = proxy.handle(&mut store, &instance, echo_request())?;
            assert_eq!(response.status, 201, "the handler answered {}", response.status);
        }
        Ok(())
    };
    for (key, how) in [
        ("instantiate_us", How::Linker),
        ("pre_instantiate_us", How::Pre),
        ("request_us", How::Request),
    ] {
        let mut batches = Vec::new();
        for batch in 0..10 {
            let start = Instant::now();
            for _ in 0..requests {
                instantiate(how)?;
            }
            if batch > 0 {
                batches.push(start.elapsed().as_secs_f64() * 1e6 / f64::from(requests));
            }
        }
        batches.sort_by(f64::total_cmp);
        println!("{key} {:.1}", batches[batches.len() / 2]);
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum How {
    Linker,
    Pre,
    Request,
}

fn echo_request() -> HttpRequest {
    HttpRequest {
        method: "POST".into(),
        path_with_query: Some("/echo".into()),
        scheme: Some("http".into()),
        authority: Some("localhost".into()),
        headers: vec![("content-type".into(), b"text/plain".to_vec())],
        body: b"hello".to_vec(),
    }
}
