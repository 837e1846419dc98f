#!/usr/bin/env bash
# Many tenants, Ward side by side with Wasmtime 48's pooling allocator, on the same tenant module.
#
#   benches/tenants_side_by_side.sh [N [path.wasm EXPORT]]      (N defaults to 100000)
#
# Runs Ward's example (`cargo run --release -p ward --example tenants -- N ...`) and the
# prebuilt Wasmtime bench (benches/tenants-wasmtime) with the same arguments, interleaved
# (Ward, Wasmtime, Ward, ...) RUNS times (default 3), and prints the median of the runs per
# metric and runtime, and the Ward/Wasmtime ratio (below 1: Ward is faster or smaller).
#
# The Wasmtime bench is not built here (it takes 15-30 minutes); build it first with
#
#   (cd benches/tenants-wasmtime && CARGO_TARGET_DIR=/work/target-wasmtime nice -n 10 cargo build --release)
#
# Environment: WASMTIME_TENANTS (the bench binary; default
# /work/target-wasmtime/release/tenants-wasmtime), RUNS (default 3). CARGO_TARGET_DIR is passed
# on to the Ward `cargo run` as usual. Run on an otherwise quiet machine: the report records the
# load average.
#
# A run that stops early is not dropped: `live_instances` is the count it reached, and the error
# (Wasmtime's `live_error` line, or Ward's panic message) is listed under the table.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

n="${1:-100000}"
shift || true
extra=("$@")
runs="${RUNS:-3}"
wasmtime_bin="${WASMTIME_TENANTS:-/work/target-wasmtime/release/tenants-wasmtime}"

if [[ ! -x "$wasmtime_bin" ]]; then
    echo "error: no Wasmtime bench binary at $wasmtime_bin; build it with" >&2
    echo "  (cd benches/tenants-wasmtime && CARGO_TARGET_DIR=/work/target-wasmtime nice -n 10 cargo build --release)" >&2
    echo "or point WASMTIME_TENANTS at it" >&2
    exit 1
fi

# Both sides must run the same built-in tenant: the TENANT text of the two sources must be equal.
tenant_of() { sed -n '/^const TENANT: &str = r#"/,/"#;$/p' "$1"; }
ward_src=crates/ward/examples/tenants.rs
wasmtime_src=benches/tenants-wasmtime/src/main.rs
if [[ -z "$(tenant_of "$ward_src")" ]] || ! diff <(tenant_of "$ward_src") <(tenant_of "$wasmtime_src") >/dev/null; then
    echo "error: TENANT in $wasmtime_src differs from $ward_src; copy it over verbatim" >&2
    diff <(tenant_of "$ward_src") <(tenant_of "$wasmtime_src") >&2 || true
    exit 1
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

echo "# tenants side by side: N=$n ${extra[*]:-(built-in tenant)}, $runs interleaved runs"
echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# `cargo run` builds Ward's example (if it is not fresh) before it starts it, so the compiler
# never shares the machine with a timed run; the times are measured inside each program.
for i in $(seq 1 "$runs"); do
    echo "## run $i: ward" >&2
    if ! cargo run --release -q -p ward --example tenants -- "$n" "${extra[@]}" \
        >"$out/ward.$i" 2>"$out/ward.$i.err"; then
        echo "ward_exit_failed 1" >>"$out/ward.$i"
    fi
    echo "## run $i: wasmtime" >&2
    if ! "$wasmtime_bin" "$n" "${extra[@]}" >"$out/wasmtime.$i" 2>"$out/wasmtime.$i.err"; then
        echo "wasmtime_exit_failed 1" >>"$out/wasmtime.$i"
    fi
done

python3 - "$out" "$runs" "$n" <<'EOF'
import os, statistics, sys

out, runs, n = sys.argv[1], int(sys.argv[2]), sys.argv[3]
metrics = [
    ("instantiate_ns", "instantiate from InstancePre, fresh store (ns)"),
    ("spawn_first_call_ns", "spawn + first call (ns)"),
    ("live_spawn_ns", "spawn + call while filling up (ns per live instance)"),
    ("live_instances", f"live instances reached (of {n})"),
    ("resident_bytes_per_instance", "resident bytes per live instance"),
]

def parse(path):
    values, errors = {}, []
    with open(path) as f:
        for line in f:
            key, _, rest = line.strip().partition(" ")
            if key == "live_error":
                errors.append(rest)
            elif key == "live_error_mappings":
                errors.append(f"then {rest.split()[0]} mappings {' '.join(rest.split()[1:])}")
            elif key.endswith("_exit_failed"):
                errors.append("exited with an error")
            elif rest:
                try:
                    values[key] = int(rest)
                except ValueError:
                    pass
    err = path + ".err"
    if errors and os.path.exists(err):
        # A panic prints "thread 'main' panicked at FILE:LINE:COL:" and then the message.
        lines = [l.strip() for l in open(err) if l.strip()]
        for j, l in enumerate(lines):
            if "panicked" in l:
                errors.append(" ".join(lines[j:j + 2]))
    return values, errors

rows = {}
notes = []
for rt in ("ward", "wasmtime"):
    for i in range(1, runs + 1):
        values, errors = parse(os.path.join(out, f"{rt}.{i}"))
        print(f"{rt} run {i}: " + ", ".join(f"{k}={values[k]}" for k, _ in metrics if k in values))
        for e in errors:
            notes.append(f"{rt} run {i}: {e}")
        for k, _ in metrics:
            if k in values:
                rows.setdefault((rt, k), []).append(values[k])

print()
print(f"| measurement (median of {runs}) | Ward | Wasmtime 48 (pooling) | Ward/Wasmtime |")
print("|---|--:|--:|--:|")
for k, label in metrics:
    w = rows.get(("ward", k))
    t = rows.get(("wasmtime", k))
    wm = statistics.median(w) if w else None
    tm = statistics.median(t) if t else None
    fmt = lambda v: "missing" if v is None else f"{v:,.0f}"
    ratio = f"{wm / tm:.2f}" if wm is not None and tm else "-"
    print(f"| {label} | {fmt(wm)} | {fmt(tm)} | {ratio} |")
print()
print(f"load average after: {' '.join(open('/proc/loadavg').read().split()[:3])}")
if notes:
    print("where a run stopped:")
    for note in notes:
        print(f"- {note}")
EOF
