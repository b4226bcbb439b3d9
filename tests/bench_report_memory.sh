#!/usr/bin/env bash
# bench_report_memory.sh [BUILD-DIR] [CELLS...]: peak memory of a run's report with the
# spill file and without it, side by side, for each number of cells (default 16 64 256),
# 4 MiB of test output per cell (the per-stream cap). Prints one line per run; the
# scratch folder is removed afterwards. Not a pass/fail test: it prints figures.
set -euo pipefail
build=${1:-build}
shift || true
[ $# -gt 0 ] || set -- 16 64 256
bin=$build/tests/bench_report_memory
[ -x "$bin" ] || { echo "bench_report_memory.sh: build $bin first (cmake --build $build)" >&2; exit 2; }
dir=$(mktemp -d /var/tmp/mr-bench-memory.XXXXXX)
trap 'rm -rf "$dir"' EXIT
for n in "$@"; do
    for mode in spill memory; do
        "$bin" "$n" 4 "$mode" "$dir"
    done
done
