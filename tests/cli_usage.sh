#!/usr/bin/env bash
# cli_usage.sh MATRIXRUN DATA: the command line's exit codes and messages on bad usage and
# bad matrices. Nothing here boots a guest: every bad matrix must fail before libvirt.
set -u
mr=$1
data=$2
fails=0
passes=0
check() { # name, expected exit, expected stderr piece, command...
    local name=$1 want=$2 needle=$3
    shift 3
    local err rc
    err=$("$@" 2>&1 >/dev/null)
    rc=$?
    if [ "$rc" -ne "$want" ] || [[ "$err" != *"$needle"* ]]; then
        echo "FAIL $name: exit $rc (want $want), stderr: $err"
        fails=$((fails + 1))
    else
        echo "ok   $name"
        passes=$((passes + 1))
    fi
}
check help 0 "" "$mr" --help
"$mr" --help | grep -q "Exit codes" || { echo "FAIL help text"; fails=$((fails + 1)); }
check no-args 2 "no matrix given" "$mr"
check bad-option 2 "Try 'matrixrun --help'" "$mr" --frobnicate x.xml
check bad-accel 2 "--accel 'hvf' is not one of" "$mr" --accel hvf "$data/matrix/good.xml"
check unknown-verb 2 "unknown verb 'frob'" "$mr" frob "$data/matrix/good.xml"
check verb-without-matrix 2 "'validate' needs a matrix file" "$mr" validate
check missing-matrix 2 "nope.xml: cannot read matrix" "$mr" validate "$data/matrix/nope.xml"
check validate-good 0 "" "$mr" validate "$data/matrix/good.xml"
check list-good 0 "" "$mr" list "$data/matrix/good.xml"
[ "$("$mr" list "$data/matrix/good.xml" | cut -f1 | tr '\n' ' ')" = "deb-a deb-b rhel-9 " ] ||
    { echo "FAIL list output"; fails=$((fails + 1)); }
# run, validate and the implicit run verb all refuse a bad matrix with exit 2 and
# FILE:LINE: in one message, before connecting to libvirt (the URI below would fail
# with exit 3 if they got that far).
for f in "$data"/matrix/bad-*.xml; do
    check "run $(basename "$f")" 2 "$f:" "$mr" run --connect nosuch:///x -o /tmp/mr-cli-never "$f"
    check "implicit $(basename "$f")" 2 "$f:" "$mr" "$f" --connect nosuch:///x -o /tmp/mr-cli-never
done
[ ! -e /tmp/mr-cli-never ] || { echo "FAIL a bad matrix created the report folder"; fails=$((fails + 1)); }
# The family catalogue: a bad one is a usage error naming its file and line; another one
# replaces the built-in families (so good.xml's debian becomes unknown).
check catalogue-dup 2 "bad-duplicate.xml:6: family 'debian' is defined twice" \
    "$mr" validate -C "$data/catalogue/bad-duplicate.xml" "$data/matrix/good.xml"
check catalogue-schema 2 "bad-shell.xml:2: <family> does not match the family catalogue schema" \
    "$mr" validate -C "$data/catalogue/bad-shell.xml" "$data/matrix/good.xml"
check catalogue-missing 2 "nope.xml" "$mr" validate -C "$data/catalogue/nope.xml" "$data/matrix/good.xml"
check catalogue-replaces 2 "family 'debian' is unknown (known: plan9; catalogue: $data/catalogue/only-plan9.xml)" \
    env MATRIXRUN_CATALOGUE="$data/catalogue/only-plan9.xml" "$mr" validate "$data/matrix/good.xml"
"$mr" --help | grep -q -- "-C, --catalogue FILE" || { echo "FAIL help names --catalogue"; fails=$((fails + 1)); }

check clean-extra 2 "unexpected argument 'x.xml'" "$mr" clean x.xml
"$mr" --help | grep -q "clean      remove what killed runs left behind" || { echo "FAIL help names clean"; fails=$((fails + 1)); }

# A matrix that is fine but a libvirt URI that is not: infrastructure error, exit 3, and
# the report still lists every cell as an error.
out=$(mktemp -d)
check bad-uri 3 "" "$mr" "$data/matrix/good.xml" --connect nosuch:///x -o "$out" -q
if [ "$(grep -c "<testsuite " "$out/junit.xml")" != 3 ] || ! grep -q "nosuch:///x" "$out/junit.xml"; then
    echo "FAIL bad-uri report"; fails=$((fails + 1))
fi
rm -rf "$out"
echo "cli: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
