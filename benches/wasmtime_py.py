#!/usr/bin/env python3
"""A `wasmtime run` stand-in over Wasmtime's Python bindings (`pip install wasmtime==48.0.0`).

Building `wasmtime-cli` 48.0.8 takes about 30 minutes on the 2-core benchmark machine; the
PyPI package `wasmtime` 48.0.0 ships the same engine (`libwasmtime`, the C API of Wasmtime 48)
prebuilt. This script accepts the part of `wasmtime run`'s command line that
`benches/harness.py` uses and runs a WASI preview 1 command the way the CLI does: Cranelift,
the default configuration, the compilation cache on unless `-C cache=n` is given.

    python3 benches/wasmtime_py.py run [-C cache=n] [-W exceptions=y] [--dir H[::G]] M.wasm ARGS
    python3 benches/wasmtime_py.py --version

Differences from the CLI, which the harness report states: the Python interpreter's own
start-up (about 40-60 ms) is part of every run, so start-up numbers are not comparable;
throughput on programs running a second or more is.
"""

import os
import sys

import wasmtime

VERSION = "48.0.0"


def usage(msg: str) -> None:
    print(f"wasmtime_py.py: {msg}", file=sys.stderr)
    sys.exit(2)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--version"]:
        print(f"wasmtime {VERSION} (Python bindings, wasmtime-py {VERSION})")
        return 0
    if argv[:1] != ["run"]:
        usage("only `run` and `--version` are supported")
    args = argv[1:]
    cache = True
    exceptions = False
    dirs: list[tuple[str, str]] = []
    while args and args[0].startswith("-"):
        opt = args.pop(0)
        if opt in ("-C", "-W", "--dir") and not args:
            usage(f"{opt} needs a value")
        if opt == "-C":
            val = args.pop(0)
            if val == "cache=n":
                cache = False
            else:
                usage(f"unsupported -C {val}")
        elif opt == "-W":
            val = args.pop(0)
            if val == "exceptions=y":
                exceptions = True
            else:
                usage(f"unsupported -W {val}")
        elif opt == "--dir":
            val = args.pop(0)
            host, _, guest = val.partition("::")
            dirs.append((host, guest or host))
        else:
            usage(f"unsupported option {opt}")
    if not args:
        usage("no module given")
    path, prog_args = args[0], args[1:]

    config = wasmtime.Config()
    if cache:  # the bindings' default is no cache; they refuse `cache = False`
        config.cache = True
    if exceptions:
        config.wasm_exceptions = True
    engine = wasmtime.Engine(config)
    module = wasmtime.Module.from_file(engine, path)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    wasi = wasmtime.WasiConfig()
    wasi.argv = [os.path.basename(path), *prog_args]
    wasi.inherit_stdin()
    wasi.inherit_stdout()
    wasi.inherit_stderr()
    for host, guest in dirs:
        wasi.preopen_dir(host, guest)
    store = wasmtime.Store(engine)
    store.set_wasi(wasi)
    instance = linker.instantiate(store, module)
    start = instance.exports(store)["_start"]
    try:
        start(store)
    except wasmtime.ExitTrap as e:
        return e.code
    except wasmtime.Trap as e:
        print(f"wasmtime_py.py: {e}", file=sys.stderr)
        return 134
    return 0


if __name__ == "__main__":
    sys.stdout.flush()
    code = main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(code)
