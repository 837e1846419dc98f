#!/usr/bin/env bash
# Builds demo.wasm from demo.c with zig's C compiler for wasm32-wasi, builds the same source
# natively with gcc, and records the native program's output as expected-output.txt.
#
#   pip install ziglang      # once: zig, packaged for pip
#   examples/wasi-c/build.sh
#
# demo.wasm and expected-output.txt are committed, so tests need no C toolchain. The test
# (tests/cli_run.rs) runs demo.wasm under `ward run` exactly as below and compares its output.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

python3 -m ziglang cc --target=wasm32-wasi -O2 -s -o demo.wasm demo.c
gcc -O2 -Wall -Wextra -o "${TMPDIR:-/tmp}/ward-demo-native" demo.c

# Run natively in an empty directory, with the same arguments, environment and input the test
# gives the wasm build (`ward run --dir WORK::/ --env GREETING=... demo.wasm ...`).
work="$(mktemp -d)"
trap 'rm -rf "$work" "${TMPDIR:-/tmp}/ward-demo-native"' EXIT
(cd "$work" && env -i GREETING="hello from the host" "${TMPDIR:-/tmp}/ward-demo-native" \
    one "two words" --three <"$here/input.txt") >expected-output.txt

echo "built demo.wasm ($(wc -c <demo.wasm) bytes); expected output:"
cat expected-output.txt
