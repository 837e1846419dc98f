#!/usr/bin/env bash
# Installs the peers the benchmark harness compares Ward with, outside the project, in
# ${PEERS:-/work/peers} (idempotent: what is there is kept):
#   - Wasmtime 48's engine through its Python bindings, with the `wasmtime run` stand-in
#     benches/wasmtime_py.py behind the wrapper $PEERS/wasmtime-cli (about a minute; the
#     Wasmtime CLI itself, `cargo install wasmtime-cli --version 48.0.8 --locked`, takes 30);
#   - wasmi 2.0's CLI (`cargo install wasmi_cli`, about 5 minutes), unless WASMI=n.
# wasm3 is built from a snapshot of its repository (see benches/README.md), which this script
# cannot fetch. Prints the harness options that use what it installed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
peers="${PEERS:-/work/peers}"
mkdir -p "$peers"

if [ ! -x "$peers/wasmtime-py/bin/python3" ] || ! "$peers/wasmtime-py/bin/python3" -c 'import wasmtime' 2>/dev/null; then
    python3 -m venv "$peers/wasmtime-py"
    "$peers/wasmtime-py/bin/pip" install --quiet wasmtime==48.0.0
fi
printf '#!/bin/sh\nexec %s/wasmtime-py/bin/python3 %s/wasmtime_py.py "$@"\n' "$peers" "$here" \
    > "$peers/wasmtime-cli"
chmod +x "$peers/wasmtime-cli"
"$peers/wasmtime-cli" --version

if [ "${WASMI:-y}" != n ] && ! command -v wasmi >/dev/null; then
    cargo install --quiet wasmi_cli
fi
command -v wasmi >/dev/null && wasmi --version || echo "wasmi: not installed"

echo "harness options: --wasmtime $peers/wasmtime-cli${WASM3:+ --wasm3 $WASM3}"
