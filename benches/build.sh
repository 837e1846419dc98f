#!/usr/bin/env bash
# Builds the benchmark programs in benches/programs/*.c:
#   - to WASI modules in benches/wasm/NAME.wasm with zig's clang
#     (python3 -m ziglang cc --target=wasm32-wasi -O2; simd.c adds -msimd128)
#   - natively with gcc -O2 into benches/.cache/native/NAME (reference times
#     and checksums; not committed)
# Usage: benches/build.sh [wasm|native|all] [NAME...]
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
what="${1:-all}"
[ $# -gt 0 ] && shift
case "$what" in wasm|native|all) ;; *) echo "usage: $0 [wasm|native|all] [NAME...]" >&2; exit 2 ;; esac

ZIG_VERSION=0.17.1
cc_gcc="${CC_NATIVE:-gcc}"

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    for f in "$here"/programs/*.c; do names+=("$(basename "$f" .c)"); done
fi

extra_flags() {
    case "$1" in
        simd) echo "-msimd128" ;;
        *) echo "" ;;
    esac
}

if [ "$what" != native ]; then
    if ! python3 -m ziglang version >/dev/null 2>&1; then
        echo "installing ziglang==$ZIG_VERSION from PyPI" >&2
        python3 -m pip install --quiet "ziglang==$ZIG_VERSION"
    fi
    mkdir -p "$here/wasm"
    for n in "${names[@]}"; do
        src="$here/programs/$n.c"
        echo "wasm   $n" >&2
        # -s strips the DWARF and name sections, which only add megabytes
        python3 -m ziglang cc --target=wasm32-wasi -O2 -s $(extra_flags "$n") \
            "$src" -o "$here/wasm/$n.wasm"
    done
fi

if [ "$what" != wasm ]; then
    mkdir -p "$here/.cache/native"
    for n in "${names[@]}"; do
        echo "native $n" >&2
        "$cc_gcc" -O2 -o "$here/.cache/native/$n" "$here/programs/$n.c" -lm
    done
fi
