#!/bin/sh
# Builds the test command component (tests/wasi-sockets/sockets.wasm, checked in) used by
# crates/ward-wasi-p2/tests/sockets.rs and tests/cli_sockets.rs. Needs the wasm32-wasip2
# target (`rustup target add wasm32-wasip2`) and crates.io for the `wasi` crate. Run from
# anywhere.
set -eu
cd "$(dirname "$0")"
cargo build --release --target wasm32-wasip2
cp target/wasm32-wasip2/release/sockets.wasm sockets.wasm
ls -l sockets.wasm
