#!/usr/bin/env python3
"""Before/after timing of two Ward binaries on the suite's programs, interleaved.

    python3 benches/ab.py OLD_WARD NEW_WARD [RUNS [PROGRAM,PROGRAM...]]

Runs `ward run benches/wasm/<program>.wasm` with each binary RUNS times (default 5), the two
alternating so that machine noise hits both alike, and prints the median wall time of each,
their ratio (new/old) per program and the geometric mean of the ratios. A run that fails is
reported and its program left out of the mean. A comma-separated list after RUNS keeps only
those programs.
"""
import glob
import math
import os
import statistics
import subprocess
import sys
import time


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    bins = {"old": sys.argv[1], "new": sys.argv[2]}
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    only = set(sys.argv[4].split(",")) if len(sys.argv) > 4 else None
    here = os.path.dirname(os.path.abspath(__file__))
    ratios = {}
    for path in sorted(glob.glob(os.path.join(here, "wasm", "*.wasm"))):
        name = os.path.basename(path)[:-5]
        if name == "hello" or (only is not None and name not in only):
            continue
        times = {"old": [], "new": []}
        failed = None
        for _ in range(runs):
            for which, binary in bins.items():
                start = time.perf_counter()
                out = subprocess.run([binary, "run", path], capture_output=True)
                times[which].append(time.perf_counter() - start)
                if out.returncode != 0:
                    failed = f"{which} exited {out.returncode}: {out.stderr[:200]!r}"
        if failed:
            print(f"{name:10s} FAILED ({failed})")
            continue
        old, new = statistics.median(times["old"]), statistics.median(times["new"])
        ratios[name] = new / old
        print(f"{name:10s} old {old:.3f}s  new {new:.3f}s  new/old {new / old:.3f}", flush=True)
    if ratios:
        mean = math.exp(sum(math.log(r) for r in ratios.values()) / len(ratios))
        print(f"geomean new/old {mean:.3f} over {len(ratios)} programs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
