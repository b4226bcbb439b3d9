#!/usr/bin/env bash
# mrbench_usage.sh MRBENCH [MRBENCH_EXE]: the CPU benchmark's command line, output format,
# checksum and build. MRBENCH_EXE is the mingw-w64 build, empty when it was not built.
# Nothing here asserts a time: the machine is shared and noisy; figures are printed only.
set -u
mb=$1
exe=${2:-}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fails=0
passes=0
ok() { echo "ok   $1"; passes=$((passes + 1)); }
fail() { echo "FAIL $1"; fails=$((fails + 1)); }

# The checksum of the work for 100000 iterations (and for 1): recorded once, checked
# against tests/mrbench_reference.py, an independent implementation in Python. Any change
# of the work changes it; change it here only with the reference and mrbench's version.
CHECKSUM_100000=8da616c56948fb65
CHECKSUM_1=ce8713fd4dc073a5

check_usage() { # name, expected stderr piece, arguments...: exit 2, nothing on stdout
    local name=$1 needle=$2
    shift 2
    local out err rc
    err=$("$mb" "$@" 2>&1 >/dev/null)
    rc=$?
    out=$("$mb" "$@" 2>/dev/null)
    if [ "$rc" -ne 2 ] || [[ "$err" != *"$needle"* ]] || [ -n "$out" ]; then
        fail "$name: exit $rc (want 2), stderr: $err, stdout: $out"
    else
        ok "$name"
    fi
}

line_re='^mrbench version=1 rep=([0-9]+) iterations=([0-9]+) seconds=([0-9]+\.[0-9]{6}) checksum=([0-9a-f]{16}) cpu=(-1|[0-9]+)$'

# --help
if out=$("$mb" --help) && [[ "$out" == *"Usage: mrbench"* ]]; then ok help; else fail "help: $out"; fi

# Bad usage: exit 2, one message naming the option and the value.
check_usage seconds-word "--seconds 'abc' is not" --seconds abc
check_usage seconds-zero "--seconds '0' is not" --seconds 0
check_usage seconds-too-small "--seconds '0.001' is not" --seconds 0.001
check_usage seconds-too-big "--seconds '601' is not" --seconds 601
check_usage seconds-inf "--seconds 'inf' is not" --seconds inf
check_usage seconds-exponent "--seconds '1e1' is not" --seconds 1e1
check_usage seconds-negative "--seconds '-1' is not" --seconds=-1
check_usage seconds-two-points "--seconds '1.2.3' is not" --seconds 1.2.3
check_usage seconds-empty "--seconds '' is not" --seconds ''
check_usage iterations-zero "--iterations '0' is not" --iterations 0
check_usage iterations-negative "--iterations '-5' is not" --iterations -5
check_usage iterations-trailing "--iterations '12x' is not" --iterations 12x
check_usage iterations-blank "--iterations ' 12' is not" --iterations ' 12'
check_usage iterations-huge "--iterations '99999999999999999999' is not" --iterations 99999999999999999999
check_usage repetitions-zero "--repetitions '0' is not" --repetitions 0
check_usage repetitions-word "--repetitions 'many' is not" --repetitions many
check_usage cpu-negative "--cpu '-1' is not" --cpu -1
check_usage cpu-word "--cpu 'x' is not" --cpu x
check_usage unknown-option "unknown option '--frobnicate'" --frobnicate
check_usage missing-value "--seconds needs a value" --seconds
check_usage twice "--repetitions given twice" --repetitions 2 --repetitions 3
check_usage seconds-and-iterations "--seconds and --iterations exclude each other" --seconds 1 --iterations 5
check_usage calibrate-with-iterations "--calibrate takes --seconds and --cpu only" --calibrate --iterations 5
check_usage cpu-absent "cannot pin to CPU 1000:" --cpu 1000 --iterations 10
check_usage cpu-out-of-range "cannot pin to CPU 99999:" --cpu 99999 --iterations 10

# Three repetitions of a fixed count: three well-formed lines, reps 1..3, one checksum.
out=$("$mb" --iterations 200000 --repetitions 3)
rc=$?
n_lines=$(printf '%s\n' "$out" | grep -c .)
bad=0
sums=
i=0
while IFS= read -r line; do
    i=$((i + 1))
    if [[ "$line" =~ $line_re ]] && [ "${BASH_REMATCH[1]}" = "$i" ] && [ "${BASH_REMATCH[2]}" = 200000 ]; then
        sums="$sums ${BASH_REMATCH[4]}"
    else
        bad=1
        echo "     bad line: $line"
    fi
done <<<"$out"
distinct=$(printf '%s\n' $sums | sort -u | grep -c .)
if [ "$rc" = 0 ] && [ "$n_lines" = 3 ] && [ "$bad" = 0 ] && [ "$distinct" = 1 ]; then
    ok "3 repetitions, one checksum:$sums"
else
    fail "3 repetitions: exit $rc, $n_lines lines, $distinct checksums: $out"
fi
sum_200000=$(printf '%s\n' $sums | head -n 1)

# Another count, another checksum.
other=$("$mb" --iterations=200001 | sed -n 's/.* checksum=\([0-9a-f]*\) .*/\1/p')
if [ -n "$other" ] && [ "$other" != "$sum_200000" ]; then
    ok "200001 iterations: another checksum ($other)"
else
    fail "200001 iterations: checksum '$other', 200000 gave '$sum_200000'"
fi

# The recorded constants.
for n in 100000 1; do
    want_var=CHECKSUM_$n
    got=$("$mb" --iterations $n | sed -n 's/.* checksum=\([0-9a-f]*\) .*/\1/p')
    if [ "$got" = "${!want_var}" ]; then ok "checksum for $n iterations is ${!want_var}"; else fail "checksum for $n iterations: $got, recorded ${!want_var}"; fi
done
# ... and the independent implementation agrees with them (and on one more count).
if command -v python3 >/dev/null; then
    for n in 100000 1 3000; do
        ref=$(python3 "$here/mrbench_reference.py" $n)
        got=$("$mb" --iterations $n | sed -n 's/.* checksum=\([0-9a-f]*\) .*/\1/p')
        if [ -n "$ref" ] && [ "$got" = "$ref" ]; then ok "reference implementation agrees for $n iterations"; else fail "reference for $n iterations: $ref, mrbench: $got"; fi
    done
else
    fail "python3 is missing: the reference implementation could not run"
fi

# Calibration only: one line with a positive count.
out=$("$mb" --calibrate --seconds 0.2)
rc=$?
if [ "$rc" = 0 ] && [[ "$out" =~ ^mrbench\ version=1\ calibrate\ iterations=([1-9][0-9]*)\ seconds=[0-9]+\.[0-9]{6}$ ]]; then
    ok "calibrate: $out"
else
    fail "calibrate: exit $rc, output: $out"
fi

# Calibrating, then repetitions: one count for all of them.
out=$("$mb" --seconds 0.05 --repetitions 2)
counts=$(printf '%s\n' "$out" | sed -n 's/.* iterations=\([0-9]*\) .*/\1/p' | sort -u | grep -c .)
if [ "$(printf '%s\n' "$out" | grep -cE "$line_re")" = 2 ] && [ "$counts" = 1 ]; then
    ok "--seconds 0.05 --repetitions 2 runs one calibrated count twice"
else
    fail "--seconds 0.05 --repetitions 2: $out"
fi

# Pinned to CPU 0, it reports CPU 0.
out=$("$mb" --cpu 0 --iterations 1000)
if [[ "$out" =~ $line_re ]] && [ "${BASH_REMATCH[5]}" = 0 ]; then ok "--cpu 0 reports cpu=0"; else fail "--cpu 0: $out"; fi

# Statically linked: runs in any x86_64 Linux guest whatever its libc.
desc=$(file -b "$mb")
if [[ "$desc" == *"statically linked"* || "$desc" == *"static-pie linked"* ]] &&
    ldd "$mb" 2>&1 | grep -q "not a dynamic executable"; then
    ok "statically linked"
else
    fail "not statically linked: $desc; ldd: $(ldd "$mb" 2>&1)"
fi

# The Windows build: a PE32+ x86-64 executable, read from its headers (MZ, e_lfanew at
# 0x3c, "PE\0\0", machine 0x8664, optional header magic 0x20b).
if [ -z "$exe" ]; then
    echo "skip mrbench.exe was not built (no x86_64-w64-mingw32-gcc)"
elif [ ! -f "$exe" ]; then
    fail "mrbench.exe: $exe is missing"
else
    hexat() { od -An -tx1 -j "$2" -N "$3" "$1" | tr -d ' \n'; }
    lfanew=$(od -An -tu4 -j 60 -N 4 "$exe" | tr -d ' ')
    if [ "$(hexat "$exe" 0 2)" = 4d5a ] && [ "$(hexat "$exe" "$lfanew" 4)" = 50450000 ] &&
        [ "$(hexat "$exe" $((lfanew + 4)) 2)" = 6486 ] &&
        [ "$(hexat "$exe" $((lfanew + 24)) 2)" = 0b02 ] &&
        [[ "$(file -b "$exe")" == "PE32+ executable"*"x86-64"* ]]; then
        ok "mrbench.exe is a PE32+ x86-64 executable ($(file -b "$exe")); it could not be run here (no Windows)"
    else
        fail "mrbench.exe is not a PE32+ x86-64 executable: $(file -b "$exe")"
    fi
fi

# Figures only, never asserted.
echo "info $("$mb" --seconds 0.3 --repetitions 3 | tr '\n' ' ')"

echo "mrbench: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
