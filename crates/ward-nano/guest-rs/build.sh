#!/bin/sh
# Rebuilds the example guests written on this crate and copies them next to their manifests,
# where crates/ward-nano/tests/rust_guests.rs and `ward nano` find them:
#   crates/ward-nano/examples/rust-guests/{pingpong,pipeline,supervisor,tenants,envinfo}.wasm
# Needs the wasm32-wasip1 target: rustup target add wasm32-wasip1
set -eu
cd "$(dirname "$0")"
cargo build --release --target wasm32-wasip1 --examples
out=../examples/rust-guests
for example in pingpong pipeline supervisor tenants envinfo; do
    cp "target/wasm32-wasip1/release/examples/$example.wasm" "$out/$example.wasm"
done
ls -l "$out"/*.wasm
