#!/usr/bin/env bash
# all.sh SRC BUILD_DIR SECONDS: the fuzzing leg of the test suite (ctest's fuzz.all).
# Configures a build of SRC with clang and -DMR_FUZZ=ON in BUILD_DIR (kept between runs,
# so a second run only rebuilds what changed), builds the harnesses, then runs each for
# SECONDS with tests/fuzz/run.sh, which fails on any crash, leak, timeout or OOM.
set -euo pipefail
if [ $# -ne 3 ]; then
    echo "usage: $0 SRC BUILD_DIR SECONDS" >&2
    exit 2
fi
src=$(cd "$1" && pwd)
build=$2
secs=$3
if ! command -v clang >/dev/null; then
    echo "fuzz: clang not found: libFuzzer comes with clang (setup.sh installs clang, libclang-rt-dev, llvm)" >&2
    exit 1
fi
mkdir -p "$build"
log=$build/fuzz-build.log
start=$(date +%s)
if ! { cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DMR_FUZZ=ON -DMR_WERROR=ON &&
       cmake --build "$build" -j "$(nproc)" --target fuzzers; } >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "fuzz: building the harnesses failed (log: $log)" >&2
    exit 1
fi
echo "fuzz: harnesses built in $(($(date +%s) - start)) s ($build)"
exec bash "$src/tests/fuzz/run.sh" "$build" "$secs"
