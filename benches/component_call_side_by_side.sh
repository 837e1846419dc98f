#!/usr/bin/env bash
# A component call carrying a 1 KiB string and a 100-element list of records, Ward side by side
# with Wasmtime 48, on the same component (benches/component-call.wat) with the same arguments
# and measurement code (benches/component-call-measure.rs, included by both programs).
#
#   benches/component_call_side_by_side.sh [CALLS]      (CALLS per batch, default 20000)
#
# Runs Ward's example (`cargo run --release -p ward-component --example component_call`) and the
# prebuilt Wasmtime bench (benches/component-call-wasmtime) interleaved (Ward, Wasmtime, Ward,
# ...) RUNS times (default 5), and prints the median of the runs per measurement and runtime, and
# the Ward/Wasmtime ratio (below 1: Ward is faster). Each run's number is itself the median of 11
# batches; `*_ns` is the thread's CPU time per call, `*_wall_ns` the wall time (the CPU time is
# the steadier of the two on a busy machine).
#
# The Wasmtime bench is not built here; build it first with
#
#   (cd benches/component-call-wasmtime && CARGO_TARGET_DIR=/work/target-wasmtime nice -n 10 cargo build --release)
#
# Environment: WASMTIME_COMPONENT_CALL (the bench binary; default
# /work/target-wasmtime/release/component-call-wasmtime), RUNS (default 5). CARGO_TARGET_DIR is
# passed on to the Ward `cargo run` as usual. The report records the load average.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

calls="${1:-20000}"
runs="${RUNS:-5}"
wasmtime_bin="${WASMTIME_COMPONENT_CALL:-/work/target-wasmtime/release/component-call-wasmtime}"

if [[ ! -x "$wasmtime_bin" ]]; then
    echo "error: no Wasmtime bench binary at $wasmtime_bin; build it with" >&2
    echo "  (cd benches/component-call-wasmtime && CARGO_TARGET_DIR=/work/target-wasmtime nice -n 10 cargo build --release)" >&2
    echo "or point WASMTIME_COMPONENT_CALL at it" >&2
    exit 1
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

echo "# component call side by side: $calls calls per batch, $runs interleaved runs"
echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# Build Ward's example first, so the compiler never shares the machine with a timed run.
cargo build --release -q -p ward-component --example component_call
for i in $(seq 1 "$runs"); do
    echo "## run $i: ward" >&2
    cargo run --release -q -p ward-component --example component_call -- "$calls" >"$out/ward.$i"
    echo "## run $i: wasmtime" >&2
    "$wasmtime_bin" "$calls" >"$out/wasmtime.$i"
done

python3 - "$out" "$runs" <<'PY'
import os, statistics, sys

out, runs = sys.argv[1], int(sys.argv[2])
metrics = [
    ("noop_call", "`noop`: a call carrying nothing"),
    ("dynamic_call", "`process`, dynamic (`Func::call` with `Val`s)"),
    ("typed_call", "`process`, typed (`TypedFunc<(&str, &[Item]), (u32,)>`)"),
]

def parse(path):
    values = {}
    for line in open(path):
        key, _, rest = line.strip().partition(" ")
        try:
            values[key] = float(rest)
        except ValueError:
            pass
    return values

rows = {}
for rt in ("ward", "wasmtime"):
    for i in range(1, runs + 1):
        for k, v in parse(os.path.join(out, f"{rt}.{i}")).items():
            rows.setdefault((rt, k), []).append(v)

print()
print(f"| ns per call (median of {runs} runs) | Ward CPU | Wasmtime 48 CPU | Ward/Wasmtime | Ward wall | Wasmtime 48 wall |")
print("|---|--:|--:|--:|--:|--:|")
for k, label in metrics:
    med = lambda rt, key: statistics.median(rows[(rt, key)]) if (rt, key) in rows else None
    w, t = med("ward", k + "_ns"), med("wasmtime", k + "_ns")
    ww, tw = med("ward", k + "_wall_ns"), med("wasmtime", k + "_wall_ns")
    fmt = lambda v: "missing" if v is None else f"{v:,.0f}"
    ratio = f"{w / t:.2f}" if w is not None and t else "-"
    print(f"| {label} | {fmt(w)} | {fmt(t)} | {ratio} | {fmt(ww)} | {fmt(tw)} |")
print()
print(f"load average after: {' '.join(open('/proc/loadavg').read().split()[:3])}")
PY
