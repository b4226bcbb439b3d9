#!/usr/bin/env bash
# run.sh BUILD_DIR SECONDS [HARNESS...]: runs each libFuzzer harness of a build configured
# with -DMR_FUZZ=ON (BUILD_DIR/tests/fuzz/fuzz_<name>) for SECONDS, over a copy of its
# seed corpus (tests/fuzz/corpus/<name>) with its dictionary (tests/fuzz/dict/<name>.dict)
# when it has one. Without HARNESS names it runs every harness that has a corpus.
#
# Everything a run writes goes under BUILD_DIR/fuzz-runs/<name>/: the corpus it grew,
# the scratch folder the harness writes its inputs to, its log, and in artifacts/ the
# input of any crash, leak, timeout or out-of-memory, whose path is printed. Prints one
# line per harness: executions, corpus growth and the outcome; exits 1 if any failed.
set -uo pipefail
if [ $# -lt 2 ] || ! [[ $2 =~ ^[0-9]+$ ]]; then
    echo "usage: $0 BUILD_DIR SECONDS [HARNESS...]" >&2
    exit 2
fi
build=$(cd "$1" && pwd) || exit 2
secs=$2
shift 2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ $# -gt 0 ]; then
    harnesses=("$@")
else
    harnesses=()
    for d in "$here"/corpus/*/; do harnesses+=("$(basename "$d")"); done
fi

# Per-harness flags. fuzz_matrix_entities reads a short recipe (4 bytes and a text of at
# most 64): longer inputs only repeat what it ignores.
flags_for() {
    case $1 in
    matrix_entities) echo "-max_len=68" ;;
    esac
}

# AddressSanitizer keeps 256 MiB of freed blocks in quarantine by default, so a harness
# that allocates a few MiB per input keeps touching fresh pages: page faults then cost
# most of its time. 16 MiB still holds the blocks one input freed, which is where a
# use-after-free of one run would land. Given options come after, and win.
export ASAN_OPTIONS="quarantine_size_mb=16${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

failed=0
for h in "${harnesses[@]}"; do
    bin=$build/tests/fuzz/fuzz_$h
    if [ ! -x "$bin" ] || [ ! -d "$here/corpus/$h" ]; then
        echo "fuzz: $h: FAILED: no harness $bin or no corpus $here/corpus/$h (configure with -DMR_FUZZ=ON, build the target fuzzers)"
        failed=1
        continue
    fi
    w=$build/fuzz-runs/$h
    rm -rf "$w"
    mkdir -p "$w/corpus" "$w/artifacts" "$w/scratch"
    cp -R "$here/corpus/$h/." "$w/corpus/"
    seeds=$(find "$w/corpus" -type f | wc -l)
    args=(-max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
          -artifact_prefix="$w/artifacts/")
    [ -f "$here/dict/$h.dict" ] && args+=(-dict="$here/dict/$h.dict")
    # shellcheck disable=SC2207
    args+=($(flags_for "$h"))
    start=$(date +%s)
    MR_FUZZ_SCRATCH=$w/scratch "$bin" "${args[@]}" "$w/corpus" >"$w/log" 2>&1
    rc=$?
    took=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$w/log" | tail -n 1)
    grown=$(find "$w/corpus" -type f | wc -l)
    found=$(find "$w/artifacts" -type f | sort)
    summary="fuzz: $h: ${execs:-?} executions in $took s, corpus $seeds -> $grown"
    if [ "$rc" = 0 ] && [ -z "$found" ]; then
        echo "$summary: ok"
        continue
    fi
    failed=1
    echo "$summary: FAILED (exit $rc)"
    # The finding as the sanitizer or libFuzzer words it, then where its input is.
    grep -E -m 3 '^==[0-9]+==ERROR|^SUMMARY:|check failed:|runtime error:|ERROR: libFuzzer' "$w/log" |
        sed 's/^/    /'
    for a in $found; do
        echo "    input: $a"
        echo "    reproduce: MR_FUZZ_SCRATCH=$w/scratch $bin $a"
    done
    echo "    log: $w/log"
done
exit "$failed"
