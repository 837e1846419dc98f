#!/bin/sh
# Builds the test handler component (tests/wasi-http/handler.wasm, checked in) used by
# tests/cli_serve_http.rs, and the command component fetch.wasm used by tests/cli_run_http.rs.
# Needs the wasm32-wasip2 target (`rustup target add wasm32-wasip2`) and crates.io for the
# `wasi` crate. Run from anywhere.
set -eu
cd "$(dirname "$0")"
cargo build --release --target wasm32-wasip2
cp target/wasm32-wasip2/release/ward_test_http_handler.wasm handler.wasm
cp target/wasm32-wasip2/release/fetch.wasm fetch.wasm
ls -l handler.wasm fetch.wasm
