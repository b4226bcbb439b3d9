#!/usr/bin/env bash
# sanitize.sh SRC [BUILD_DIR [unit|e2e.demo|e2e.warm]]: builds SRC with AddressSanitizer
# and UndefinedBehaviorSanitizer (gcc, -DMR_SANITIZE=ON -DMR_WERROR=ON) in BUILD_DIR
# (default SRC/build-asan), then runs under them either its unit-labelled tests but
# html.chromium (the default) or tests/e2e_demo.sh or tests/e2e_warm.sh with the sanitized
# matrixrun (real guests: they need setup.sh's images in images/out and a running
# libvirtd; warm start passes file descriptors through libvirt and restores guests, the
# code the demo does not reach). Leaks are detected and every
# report is fatal, so a finding fails the test it happens in.
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 3 ]; then
    echo "usage: $0 SRC [BUILD_DIR [unit|e2e.demo|e2e.warm]]" >&2
    exit 2
fi
src=$(cd "$1" && pwd)
build=${2:-$src/build-asan}
what=${3:-unit}
case $what in
unit | e2e.demo | e2e.warm) ;;
*) echo "sanitize: unknown leg '$what' (unit, e2e.demo or e2e.warm)" >&2; exit 2 ;;
esac
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The sanitizers make the code several times slower (AddressSanitizer's realloc always
# moves the block, so a test that grows a 16 MiB buffer pays for every copy): Check's
# per-test time limits are stretched to match, as Check allows through this variable.
export CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-5}

mkdir -p "$build"
log=$build/sanitize-build.log
start=$(date +%s)
if ! { cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DMR_SANITIZE=ON -DMR_WERROR=ON &&
       cmake --build "$build" -j "$(nproc)"; } >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "sanitize: the build failed (log: $log)" >&2
    exit 1
fi
echo "sanitize: built in $(($(date +%s) - start)) s ($build)"
case $what in
# html.chromium is left out: what it adds to unit.html is Chromium's rendering, which no
# sanitizer sees, and it is the slowest of the unit tests.
unit) exec ctest --test-dir "$build" -L unit -E '^html[.]chromium$' --output-on-failure ;;
e2e.*) exec bash "$src/tests/e2e_${what#e2e.}.sh" "$build/matrixrun" "$src" \
    "$src/tests/schemas/jenkins-junit.xsd" ;;
esac
