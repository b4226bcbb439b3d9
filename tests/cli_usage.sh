#!/usr/bin/env bash
# cli_usage.sh MATRIXRUN DATA: the command line's exit codes and messages on bad usage and
# bad matrices. Nothing here boots a guest: every bad matrix must fail before libvirt.
set -u
mr=$1
data=$2
fails=0
passes=0
# A report folder that must never be created: a fresh name in a scratch folder of ours.
scratch=$(mktemp -d /tmp/mr-cli.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
never=$scratch/never
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

# --only, --shard and the options of run: good values pass (validate reads them like run
# does), bad ones are exit 2 with one message naming the option and the value.
good=$data/matrix/good.xml
ids() { "$mr" list "$good" "$@" | cut -f1 | tr '\n' ' '; }
expect_ids() { # name, wanted ids, list options...
    local name=$1 want=$2 got
    shift 2
    got=$(ids "$@")
    if [ "$got" = "$want" ]; then
        echo "ok   $name"
        passes=$((passes + 1))
    else
        echo "FAIL $name: got '$got', want '$want'"
        fails=$((fails + 1))
    fi
}
expect_ids list-only-exact "deb-a " --only deb-a
expect_ids list-only-glob "deb-a deb-b " --only 'deb-*'
expect_ids list-only-repeated "deb-a rhel-9 " --only rhel-9 --only deb-a
expect_ids list-only-class "deb-b rhel-9 " --only '*-[b9]'
expect_ids list-shard-1of1 "deb-a deb-b rhel-9 " --shard 1/1
expect_ids list-shard-1of2 "deb-a rhel-9 " --shard 1/2
expect_ids list-shard-2of2 "deb-b " --shard 2/2
expect_ids list-shard-4of4-empty "" --shard 4/4
expect_ids list-only-then-shard "deb-b " --only 'deb-*' --shard 2/2
check only-no-match 2 "--only 'centos-*' matches no cell" "$mr" list "$good" --only 'centos-*'
check only-one-of-two-no-match 2 "--only 'nope' matches no cell" "$mr" list "$good" --only deb-a --only nope
check only-empty 2 "--only '' matches no cell" "$mr" list "$good" --only ''
check validate-only-no-match 2 "--only 'nope' matches no cell" "$mr" validate "$good" --only nope
[ "$("$mr" list "$good" --only deb-a)" = "deb-a	image=deb-a	family=debian	version=-	vcpus=2	memory-mib=300	provisioning=cmdline	catalogue=debian" ] ||
    { echo "FAIL list line of deb-a: $("$mr" list "$good" --only deb-a)"; fails=$((fails + 1)); }
[ "$("$mr" list "$good" --only rhel-9)" = "rhel-9	image=rhel-9	family=rhel	version=9.4	vcpus=1	memory-mib=512	provisioning=seed	catalogue=rhel>=8" ] ||
    { echo "FAIL list line of rhel-9: $("$mr" list "$good" --only rhel-9)"; fails=$((fails + 1)); }
# Windows: each cell's catalogue entry by version, and a warning (stderr, exit 0) for a
# 2016 image with no Win32-OpenSSH package.
win=$data/matrix/windows.xml
[ "$("$mr" list "$win" 2>/dev/null | cut -f1,8 | tr '\t\n' ' /')" = "w2008r2 catalogue=windows<=2012/w2016 catalogue=windows>=2016/w2019 catalogue=windows>=2016/" ] ||
    { echo "FAIL list of windows.xml: $("$mr" list "$win" 2>&1)"; fails=$((fails + 1)); }
check validate-windows-warns 0 "warning: $win:6: <image> 'w2016' version='2016' has no <sshd>" "$mr" validate "$win"
case $("$mr" validate "$good" --only 'deb-*') in
*"3 image(s), 3 cell(s) (2 selected), 2 test(s)"*) echo "ok   validate counts selected cells"; passes=$((passes + 1)) ;;
*) echo "FAIL validate counts: $("$mr" validate "$good" --only 'deb-*')"; fails=$((fails + 1)) ;;
esac
# The shards of 1/N..N/N are disjoint and together hold every cell.
all=$("$mr" list "$good" | cut -f1 | sort)
for n in 1 2 3 4; do
    union=$(for i in $(seq 1 "$n"); do "$mr" list "$good" --shard "$i/$n" | cut -f1; done | sort)
    if [ "$union" = "$all" ]; then
        echo "ok   shards of $n: union is the list, no cell twice"
        passes=$((passes + 1))
    else
        echo "FAIL shards of $n: $(echo $union) vs $(echo $all)"
        fails=$((fails + 1))
    fi
done
for v in 1/1 3/3 1000/1000 07/10; do
    check "shard-good $v" 0 "" "$mr" validate "$good" --shard "$v"
done
check shard-i-above-n 2 "--shard '3/2': I must be between 1 and N" "$mr" list "$good" --shard 3/2
check shard-i-zero 2 "--shard '0/2': I must be between 1 and N" "$mr" list "$good" --shard 0/2
check shard-n-zero 2 "--shard '1/0': N must be between 1 and 1000" "$mr" list "$good" --shard 1/0
check shard-n-big 2 "--shard '1/1001': N must be between 1 and 1000" "$mr" run "$good" --shard 1/1001
for v in 2 a/2 1/ /2 1/2/3 " 1/2" +1/2 -1/2 1/2x 1.0/2 ""; do
    check "shard-malformed '$v'" 2 "--shard '$v': expected I/N" "$mr" list "$good" --shard "$v"
done
for v in 1 256 8; do
    check "jobs-good $v" 0 "" "$mr" validate "$good" -j "$v"
done
check jobs-long-good 0 "" "$mr" validate "$good" --jobs=4
for v in 0 257 -1 x 2.5 " 4" 4x ""; do
    check "jobs-bad '$v'" 2 "-j '$v': expected a whole number from 1 to 256" "$mr" validate "$good" -j "$v"
done
check jobs-long-bad 2 "--jobs '0': expected a whole number from 1 to 256" "$mr" run "$good" --jobs 0
for v in 2 2:0.8 0.5:1 64:64 .5 1.; do
    check "overcommit-good $v" 0 "" "$mr" validate "$good" --overcommit "$v"
done
for v in 0 0:1 1:0 65 1:64.5 -1 2: :2 1:2:3 nan inf 1e1 0x2 abc ""; do
    check "overcommit-bad '$v'" 2 "--overcommit '$v': expected CPU or CPU:MEM, ratios above 0 and at most 64" \
        "$mr" validate "$good" --overcommit "$v"
done
for v in 0 0.5 1 60 60.0 2.25; do
    check "stagger-good $v" 0 "" "$mr" validate "$good" --stagger "$v"
done
for v in 61 60.1 -1 . 1.2.3 1s x ""; do
    check "stagger-bad '$v'" 2 "--stagger '$v': expected seconds from 0 to 60" "$mr" validate "$good" --stagger "$v"
done
# A bad option value stops run before the report folder exists; so does an --only that
# selects nothing.
check run-bad-jobs 2 "-j '0'" "$mr" run "$good" -j 0 --connect nosuch:///x -o "$never"
check run-only-no-match 2 "--only 'nope' matches no cell" "$mr" run "$good" --only nope --connect nosuch:///x -o "$never"
for o in "--only PATTERN" "--shard I/N" "-j, --jobs N" "--overcommit CPU[:MEM]" "--stagger SECONDS"; do
    "$mr" --help | grep -qF -- "$o" || { echo "FAIL help names $o"; fails=$((fails + 1)); }
done
# check_msg NAME EXIT MESSAGE COMMAND...: the exit code and the whole of stderr. A
# MESSAGE ending in '...' need only begin stderr (libxml2's own words vary by version).
check_msg() {
    local name=$1 want=$2 msg=$3
    shift 3
    local err rc same
    err=$("$@" 2>&1 >/dev/null)
    rc=$?
    if [[ $msg == *... ]]; then [[ $err == "${msg%...}"* ]]; else [[ $err == "$msg" ]]; fi
    same=$?
    if [ "$rc" -ne "$want" ] || [ "$same" -ne 0 ]; then
        echo "FAIL $name: exit $rc (want $want), stderr: $err"
        echo "     want: $msg"
        fails=$((fails + 1))
    else
        echo "ok   $name"
        passes=$((passes + 1))
    fi
}
# The whole message for each bad matrix fixture, after "matrixrun: FILE:" (check_matrix.c
# tests the loader itself; this, that the command line passes its message on unchanged).
declare -A bad_matrix=(
    [bad-accel.xml]="2: <host> accel='hyperv' is not one of: kvm, tcg"
    [bad-all-excluded.xml]="10: <exclude> removes the last cell: every cell of the matrix is excluded"
    [bad-artifact-format.xml]="6: <artifact> path='$data/matrix/files/pkg.deb' does not end in '.rpm', the package format of family 'sles'"
    [bad-axis-duplicate-value.xml]="11: <axis> 'vcpus' value '02' is given twice (first at line 9)"
    [bad-axis-duplicate.xml]="10: <axis> name 'PROFILE' is used twice (first at line 8)"
    [bad-axis-empty-value.xml]="10: <axis> 'PROFILE' value '' is empty"
    [bad-axis-image.xml]="8: <axis> name 'image' is reserved: <exclude> and <include> name the image with it"
    [bad-axis-name.xml]="8: <axis> name '2FAST' is neither vcpus, memory-mib nor an environment variable name (letters, digits and '_', not starting with a digit)"
    [bad-axis-no-value.xml]="8: <axis> 'PROFILE' needs at least 1 <value>"
    [bad-axis-reserved.xml]="8: <axis> name 'MATRIXRUN_CELL' is reserved: variables starting with MATRIXRUN_ are matrixrun's own"
    [bad-axis-size.xml]="8: <axis> 'memory-mib' value '32' is not a whole number from 64 to 1048576"
    [bad-axis-value.xml]="10: <axis> 'PROFILE' value 'fast/slow' may hold only letters, digits, '_', '.', '+' and '-'"
    [bad-benchmark-limit.xml]="23: <benchmark> max-overhead-pct='-5' is not a number from 0 to 1e+06"
    [bad-benchmark-repetitions.xml]="23: <benchmark> repetitions='1' is not a whole number from 2 to 1000"
    [bad-benchmark-seconds.xml]="23: <benchmark> seconds='0' is not a number from 0.01 to 600"
    [bad-benchmark-twice.xml]="24: <benchmark> may appear only 1 time(s) inside <matrix>"
    [bad-cell-timeout.xml]="2: <matrix> cell-timeout='0' is not a whole number from 1 to 604800"
    [bad-catalogue-doctype.xml]="2: a DOCTYPE is not allowed in a matrix (refused before any entity or default attribute in it is read)"
    [bad-doctype-bomb.xml]="2: a DOCTYPE is not allowed in a matrix (refused before any entity or default attribute in it is read)"
    [bad-doctype-default-attr.xml]="3: a DOCTYPE is not allowed in a matrix (refused before any entity or default attribute in it is read)"
    [bad-doctype-entity.xml]="2: a DOCTYPE is not allowed in a matrix (refused before any entity or default attribute in it is read)"
    [bad-doctype-external.xml]="2: a DOCTYPE is not allowed in a matrix (refused before any entity or default attribute in it is read)"
    [bad-cell-junit.xml]="2: cell 'junit.xml' would have its folder where the run writes its 'junit.xml' in the report folder: rename the <image>"
    [bad-cell-summary.xml]="2: cell 'Summary.HTML' would have its folder where the run writes its 'summary.html' in the report folder: rename the <image>"
    [bad-sshd-linux.xml]="4: <sshd> path='files/OpenSSH-Win64.zip': a Win32-OpenSSH package is for Windows images (a cloudbase-init seed); family 'debian' is seeded for cloud-init"
    [bad-sshd-not-zip.xml]="4: <sshd> path='files/not-a.zip' is not a zip archive (the Win32-OpenSSH release archive, OpenSSH-Win64.zip)"
    [bad-cell-tmp.xml]="2: cell 'junit.xml.tmp.AbC123' would have its folder where the run writes its 'junit.xml' in the report folder: rename the <image>"
    [bad-cloud-config-quoted.xml]="4: <cloud-config> '$data/matrix/files/sets-keys-quoted.yaml' line 3 sets 'ssh_keys', which matrixrun's seed sets itself (user, keys, host name)"
    [bad-cloud-config-key.xml]="4: <cloud-config> '$data/matrix/files/sets-users.yaml' line 3 sets 'users', which matrixrun's seed sets itself (user, keys, host name)"
    [bad-duplicate-image.xml]="6: <image> name 'a' is used twice (first at line 2)"
    [bad-duplicate-test.xml]="8: <test> name 't' is used twice (first at line 7)"
    [bad-exclude-no-attribute.xml]="9: <exclude> has no attribute: give the image and/or axis values (shell patterns) of the cells to remove"
    [bad-exclude-nothing.xml]="9: <exclude PROFILE='slo'> matches no cell"
    [bad-exclude-unknown-axis.xml]="9: <exclude> attribute 'PROFIL' names no axis (axes: PROFILE)"
    [bad-host-twice.xml]="4: <host> uri 'test:///default' is listed twice (first at line 3)"
    [bad-hostkey-without-kernel.xml]="2: <image> 'a' has a <hostkey> but no <kernel>: an image with its own host key gets the run's key on the kernel command line; leave <hostkey> out to have matrixrun seed it with cloud-init"
    [bad-include-duplicate.xml]="10: <include> adds cell 'a.PROFILE=slow', which the matrix already has (from the <include> at line 9)"
    [bad-include-existing.xml]="9: <include> adds cell 'a.vcpus=2', which the matrix already has (from its images and axes)"
    [bad-include-missing-axis.xml]="10: <include> gives no value for axis 'CC'"
    [bad-include-size.xml]="9: <include> vcpus='999' is not a whole number from 1 to 512"
    [bad-include-unknown-axis.xml]="9: <include> attribute 'CC' names no axis (axes: PROFILE)"
    [bad-include-unknown-image.xml]="9: <include> image='b' is not an <image> of the matrix"
    [bad-include-value.xml]="9: <include> PROFILE='a;b' may hold only letters, digits, '_', '.', '+' and '-'"
    [bad-long-cell-id.xml]="9: cell 'a.PROFILE=fast.NOTE=$(printf 'x%.0s' $(seq 190))' has an id of 210 characters; at most 200 (it names the cell's files and guest)"
    [bad-malformed.xml]="9: not well-formed XML: ..."
    [bad-memory.xml]="2: <image> memory-mib='lots' is not a whole number from 64 to 1048576"
    [bad-missing-artifact-file.xml]="6: <artifact> path='files/gone.deb': no such file (looked for '$data/matrix/files/gone.deb'); needed by image(s) 'a'"
    [bad-missing-file.xml]="3: <disk> path='files/nope.qcow2': no such file (looked for '$data/matrix/files/nope.qcow2')"
    [bad-not-utf8.xml]="1: not well-formed XML: Input is not proper UTF-8, indicate encoding ! Bytes: 0xFF..."
    [bad-name.xml]="2: <image> name 'a b' may hold only letters, digits, '-', '_' and '.'"
    [bad-no-artifact.xml]="2: <image> 'a' has family 'ubuntu' but <package> has no artifact for it"
    [bad-no-boot.xml]="2: <image> 'a' has neither <disk> nor <kernel>"
    [bad-no-package.xml]="1: <matrix> needs at least 1 <package>"
    [bad-os-version.xml]="2: <image> 'a' version='el9' does not start with the OS's major release number (say '9', '8.9' or '15-SP5')"
    [bad-reserved-test.xml]="7: <test> name 'boot' is reserved for matrixrun's own step"
    [bad-retries.xml]="1: <matrix> retries='many' is not a whole number from 0 to 10"
    [bad-too-many-cells.xml]="111: <axis> 'B' brings the matrix to 10100 cells (images times the values of the axes so far); a matrix has at most 10000"
    [bad-unknown-element.xml]="6: unknown element <imagez> inside <matrix>"
    [bad-unknown-family.xml]="2: <image> family 'plan9' is unknown (known: debian, ubuntu, rhel, centos, sles, windows; catalogue: built-in)"
    [bad-version.xml]="1: <matrix> version='2' is not supported (this matrixrun reads version '1')"
    [bad-zero-vcpus.xml]="2: <image> vcpus='0' is not a whole number from 1 to 512"
)
# run and the implicit run verb refuse each bad matrix with exit 2 and its whole
# message, FILE:LINE: first, before connecting to libvirt (the URI below would fail with
# exit 3 if they got that far). Every fixture has its message here, and every message
# its fixture.
for f in "$data"/matrix/bad-*.xml; do
    b=$(basename "$f")
    if [ -z "${bad_matrix[$b]+set}" ]; then
        echo "FAIL $b: no expected message in bad_matrix"; fails=$((fails + 1)); continue
    fi
    want="matrixrun: $f:${bad_matrix[$b]}"
    check_msg "run $b" 2 "$want" "$mr" run --connect nosuch:///x -o "$never" "$f"
    check_msg "implicit $b" 2 "$want" "$mr" "$f" --connect nosuch:///x -o "$never"
done
for b in "${!bad_matrix[@]}"; do
    [ -e "$data/matrix/$b" ] || { echo "FAIL bad_matrix names no fixture: $b"; fails=$((fails + 1)); }
done
[ ! -e "$never" ] || { echo "FAIL a bad matrix created the report folder"; fails=$((fails + 1)); }
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

check clean-extra 2 "unexpected argument 'y.xml'" "$mr" clean x.xml y.xml
check clean-bad-matrix 2 "x.xml" "$mr" clean x.xml
# clean MATRIX visits every host of the matrix; the killed run's folder (no live lock)
# goes only once every host was cleaned: hosts.xml's second host is unreachable.
cw=$(mktemp -d)
mkdir "$cw/20990101-000000-abcd" && touch "$cw/20990101-000000-abcd/.lock"
check clean-host-down 3 "1 work folder(s) kept: a host could not be cleaned" \
    env MATRIXRUN_WORKDIR="$cw" "$mr" clean "$data/matrix/hosts.xml"
[ -d "$cw/20990101-000000-abcd" ] || { echo "FAIL clean removed a folder with a host down"; fails=$((fails + 1)); }
check clean-connect 0 "" env MATRIXRUN_WORKDIR="$cw" "$mr" clean --connect test:///default
[ ! -e "$cw/20990101-000000-abcd" ] || { echo "FAIL clean --connect left the stale folder"; fails=$((fails + 1)); }
# -q: nothing on stdout, though a stale folder goes.
mkdir -p "$cw/20990101-000000-dcba"
[ -z "$(env MATRIXRUN_WORKDIR="$cw" "$mr" clean -q --connect test:///default)" ] && [ ! -e "$cw/20990101-000000-dcba" ] ||
    { echo "FAIL clean -q printed something or left the folder"; fails=$((fails + 1)); }
rm -rf "$cw"
"$mr" --help | grep -q "clean      remove what killed runs left behind" || { echo "FAIL help names clean"; fails=$((fails + 1)); }

# A matrix that is fine but a libvirt URI that is not: infrastructure error, exit 3, and
# the report still lists every cell as an error.
out=$(mktemp -d)
check bad-uri 3 "" "$mr" "$data/matrix/good.xml" --connect nosuch:///x -o "$out" -q
if [ "$(grep -c "<testsuite " "$out/junit.xml")" != 3 ] || ! grep -q "nosuch:///x" "$out/junit.xml"; then
    echo "FAIL bad-uri report"; fails=$((fails + 1))
fi
# -q: no progress lines and no summary, so nothing at all on either stream.
"$mr" "$data/matrix/good.xml" --connect nosuch:///x -o "$out" -q >"$out/q.stdout" 2>"$out/q.stderr"
rc=$?
if [ "$rc" = 3 ] && [ ! -s "$out/q.stdout" ] && [ ! -s "$out/q.stderr" ]; then
    echo "ok   -q: nothing on stdout or stderr"; passes=$((passes + 1))
else
    echo "FAIL -q: exit $rc, stdout: $(cat "$out/q.stdout"), stderr: $(cat "$out/q.stderr")"; fails=$((fails + 1))
fi
# Not a terminal (a CI log): one timestamped line per event on stderr; on stdout the
# summary: a header, one line per cell with its first problem, the totals, and last the
# report's path.
"$mr" "$good" --connect nosuch:///x -o "$out" >"$out/stdout" 2>"$out/stderr"
rc=$?
want_lines() { # name, file, grep -E patterns...
    local name=$1 file=$2 p
    shift 2
    for p in "$@"; do
        if ! grep -qE -- "$p" "$file"; then
            echo "FAIL $name: no line matching '$p' in: $(cat "$file")"
            fails=$((fails + 1))
            return
        fi
    done
    echo "ok   $name"
    passes=$((passes + 1))
}
[ "$rc" = 3 ] || { echo "FAIL bad-uri without -q: exit $rc"; fails=$((fails + 1)); }
want_lines "lines mode: timestamped progress" "$out/stderr" \
    '^\[[0-9]{2}:[0-9]{2}:[0-9]{2}\] run [0-9-]+-[0-9a-f]+: ' \
    "^\\[[0-9:]{8}\\] ERROR cannot connect to libvirt at 'nosuch:///x'"
if grep -q $'\033' "$out/stderr" "$out/stdout"; then
    echo "FAIL lines mode: escape sequences in a log"; fails=$((fails + 1))
fi
want_lines "summary table" "$out/stdout" '^cell +passed +failed +errors +skipped +time +first problem$' \
    "^deb-a +0 +0 +1 +0 +0\\.[0-9] s  boot: cannot connect to libvirt at 'nosuch:///x'" \
    '^deb-b +0 +0 +1 +0 ' '^rhel-9 +0 +0 +1 +0 ' \
    '^3 cell\(s\), 3 testcase\(s\): 0 passed, 0 failed, 3 error\(s\), 0 skipped$'
[ "$(tail -n 1 "$out/stdout")" = "report: $out/junit.xml" ] ||
    { echo "FAIL summary's last line: $(tail -n 1 "$out/stdout")"; fails=$((fails + 1)); }
rm -rf "$out"
# A terminal (util-linux script gives matrixrun a pty): good.xml's own URI is libvirt's
# test driver, where every cell fails at once (its base image is no qcow2, and
# the test driver refuses autodestroy), after its start, a step or two, an ERROR and its
# end: the live block comes and goes, errors and ends stay, the summary ends the output.
out=$(mktemp -d)
TERM=xterm MATRIXRUN_WORKDIR=$out/work timeout 120 script -qefc \
    "$(printf '%q ' "$mr" "$good" -o "$out/r")" /dev/null </dev/null >"$out/pty" 2>&1
rc=$?
tr -d '\r' <"$out/pty" >"$out/tty"
[ "$rc" = 3 ] || { echo "FAIL tty run: exit $rc: $(cat -A "$out/tty" | head -20)"; fails=$((fails + 1)); }
want_lines "tty mode: live lines, then errors and ends that stay" "$out/tty" \
    $'\033\\[K' $'\033\\[1A' $'\033\\[J' \
    $'^(\033\\[J)?(\033\\[[0-9]+A)?  deb-a +preparing +00:0[0-9]\033\\[K$' \
    $'  deb-b +booting \\(' \
    '\] deb-a: ERROR boot: ' '\] deb-b: ERROR boot: cannot start guest' '\] rhel-9: done in ' \
    '^report: '
[ "$(tail -n 1 "$out/tty")" = "report: $out/r/junit.xml" ] ||
    { echo "FAIL tty summary's last line: $(tail -n 1 "$out/tty" | cat -A)"; fails=$((fails + 1)); }
rm -rf "$out"
# The defaults, as the progress states them (libvirt's test driver, one cell at a time so
# that each cell is placed alone): overcommit 1:1, guest starts 1 s apart, and each cell
# counted with its memory (deb-a 300 MiB, the others the default 512) plus 128 MiB for QEMU.
out=$(mktemp -d)
MATRIXRUN_WORKDIR=$out/work "$mr" "$good" -j 1 -o "$out/r" >/dev/null 2>"$out/stderr"
want_lines "defaults: overcommit 1:1, stagger 1 s, memory 512 MiB + 128 MiB for QEMU" "$out/stderr" \
    ': [0-9]+ CPUs x 1\.00 - [0-9]+ vCPU\(s\) of other guests = [0-9]+ vCPUs; [0-9]+ MiB available x 1\.00 = ' \
    'each counted with 128 MiB for QEMU' \
    '^\[[0-9:]{8}\] at most 1 cell\(s\) at once, as capacity allows; guest starts 1\.0 s apart$' \
    '\] deb-a: on [^ ]+ \(2/[0-9]+ vCPUs, 428/[0-9]+ MiB in use\)$' \
    '\] deb-b: on [^ ]+ \(1/[0-9]+ vCPUs, 640/[0-9]+ MiB in use\)$' \
    '\] rhel-9: on [^ ]+ \(1/[0-9]+ vCPUs, 640/[0-9]+ MiB in use\)$'
# Without -j: no limit but capacity.
"$mr" "$good" -o "$out/r" 2>&1 >/dev/null | grep -q '\] as many cells at once as capacity allows; guest starts 1\.0 s apart$' &&
    { echo "ok   defaults: no -j, no limit but capacity"; passes=$((passes + 1)); } ||
    { echo "FAIL defaults: no 'as many cells at once' line"; fails=$((fails + 1)); }
# A terminal with TERM=dumb gets the lines mode: timestamped lines, no escapes.
TERM=dumb MATRIXRUN_WORKDIR=$out/work timeout 120 script -qefc \
    "$(printf '%q ' "$mr" "$good" -o "$out/r")" /dev/null </dev/null >"$out/pty" 2>&1
tr -d '\r' <"$out/pty" >"$out/dumb"
want_lines "TERM=dumb on a terminal: lines mode" "$out/dumb" \
    '^\[[0-9]{2}:[0-9]{2}:[0-9]{2}\] run [0-9-]+-[0-9a-f]+: ' '^\[[0-9:]{8}\] deb-a: ERROR boot: '
if grep -q $'\033' "$out/dumb"; then
    echo "FAIL TERM=dumb: escape sequences on the terminal"; fails=$((fails + 1))
fi
rm -rf "$out"
# run passes the selection to the pipeline: the report holds the selected cells only.
# (Needs the pipeline that honours mr_run_opts.cells; the one before it ran every cell.)
out=$(mktemp -d)
check run-only 3 "" "$mr" run "$good" --only deb-a --connect nosuch:///x -o "$out" -q -j 2 --overcommit 2:0.5 --stagger 0
suites=$(grep -o '<testsuite name="[^"]*"' "$out/junit.xml" | cut -d'"' -f2 | tr '\n' ' ')
[ "$suites" = "deb-a " ] || { echo "FAIL run --only deb-a: report holds '$suites'"; fails=$((fails + 1)); }
rm -rf "$out"
# A cell bigger than every host's budget is not refused: it runs alone, with a warning
# (libvirt's test driver: 16 CPUs x 0.05 leaves no vCPU for the run).
out=$(mktemp -d)
MATRIXRUN_WORKDIR=$out/work "$mr" run "$good" --overcommit 0.05 -o "$out/r" >/dev/null 2>"$out/stderr"
rc=$?
if [ "$rc" -ne 3 ] || [ "$(grep -c "more than any host offers the run; it runs alone" "$out/stderr")" != 3 ] ||
    [ "$(grep -c "<testsuite " "$out/r/junit.xml")" != 3 ]; then
    echo "FAIL oversized cells run alone: exit $rc, stderr: $(cat "$out/stderr")"; fails=$((fails + 1))
else
    echo "ok   oversized cells run alone"; passes=$((passes + 1))
fi
rm -rf "$out"
# compare and html read reports back: a bad file is exit 2 naming it; the table on the
# fixtures has the expected rows, and * marks exactly the changes whose intervals do not
# overlap (deb12-1cpu only).
rep=$data/report
check compare-no-file 2 "'compare' needs one or more report files" "$mr" compare
check compare-missing 2 "$rep/nope.xml: cannot read the report: No such file" "$mr" compare "$rep/run1.xml" "$rep/nope.xml"
check compare-not-junit 2 "$rep/bad-root.xml:2: root element <matrix>, not <testsuites> or <testsuite>" "$mr" compare "$rep/bad-root.xml"
check compare-malformed 2 "$rep/bad-truncated.xml:5: not well-formed XML" "$mr" compare "$rep/run1.xml" "$rep/bad-truncated.xml"
check compare-doctype 2 "$rep/bad-doctype.xml:2: has a DOCTYPE" "$mr" compare "$rep/bad-doctype.xml"
check compare-empty 2 "$rep/bad-empty.xml: empty file" "$mr" compare "$rep/bad-empty.xml"
check compare-not-matrixrun 2 "$rep/not-matrixrun.xml: not a matrixrun report" "$mr" compare "$rep/not-matrixrun.xml" "$rep/run1.xml"
check compare-folder 2 "$rep: cannot read the report: not a regular file" "$mr" compare "$rep"
out=$(mktemp -d)
"$mr" compare "$rep/run1.xml" "$rep/run2.xml" >"$out/stdout" 2>"$out/stderr"
rc=$?
[ "$rc" = 0 ] && [ ! -s "$out/stderr" ] || { echo "FAIL compare exit $rc: $(cat "$out/stderr")"; fails=$((fails + 1)); }
want_lines "compare: runs, warning, header and rows" "$out/stdout" \
    "^run 1: $rep/run1.xml\$" \
    '^  run\.id 20261120-091502-3f2a, accel tcg, host buildbox, host kernel 6\.1\.0-27-amd64$' \
    '^warning: the runs compared used different host kernels: run 1 6\.1\.0-27-amd64, run 2 6\.1\.0-28-amd64' \
    '^cell +image +guest kernel +run 1 +run 2 +change 1->2$' \
    '^deb12-1cpu +deb12 +6\.1\.0-27-amd64 -> 6\.1\.0-28-amd64 +912\.34 \[880\.10, 950\.22\] +640\.12 \[610\.00, 671\.55\] +-272\.22 \*$' \
    '^deb12-2cpu +deb12 +6\.1\.0-27-amd64 -> 6\.1\.0-28-amd64 +1043\.50 \[1001\.20, 1090\.80\] ~ +1010\.75 \[970\.00, 1052\.30\] +-32\.75$' \
    '^alma9-2cpu +alma9 +5\.14\.0-427\.13\.1\.el9_4\.x86_64 +1387\.65 \[1320\.00, 1455\.40\] +1402\.10 \[1350\.50, 1460\.00\] +\+14\.45$' \
    '^win-stub +win2022 +- +skipped +- +-$' \
    '^sles15-1cpu +sles15 +5\.14\.21-150500\.55\.39-default +- +998\.00 \[950\.00, 1049\.99\] +-$' \
    '^\* +the two 95% intervals do not overlap'
marked=$(grep -E ' \*$' "$out/stdout" | cut -d' ' -f1 | tr '\n' ' ')
[ "$marked" = "deb12-1cpu " ] || { echo "FAIL compare marks: '$marked'"; fails=$((fails + 1)); }
# Columns line up: every row's run 2 figure starts where the header's "run 2" does.
awk 'NR == 1 { next } /^cell / { col = index($0, "run 2"); next }
     col && /^(deb12|alma9|sles15|win-stub)/ { c = substr($0, col, 1); if (c == " ") bad = 1 }
     END { exit !(col && !bad) }' "$out/stdout" ||
    { echo "FAIL compare columns: $(cat "$out/stdout")"; fails=$((fails + 1)); }
"$mr" compare "$rep/run1.xml" "$rep/chart-edge.xml" >"$out/stdout" 2>&1
want_lines "compare warns of another accelerator and host" "$out/stdout" \
    '^warning: the runs compared used different accelerators: run 1 tcg, run 2 kvm' \
    '^warning: the runs compared used different hosts: run 1 buildbox, run 2 kvmhost' \
    '^garbage +deb12 +6\.1\.0-28-amd64 +- +invalid +-$'
"$mr" compare "$rep/run1.xml" >"$out/stdout" 2>&1 || { echo "FAIL compare of one run"; fails=$((fails + 1)); }
if grep -q 'change' "$out/stdout"; then echo "FAIL compare of one run has a change column"; fails=$((fails + 1)); fi

check html-no-file 2 "'html' needs a JUnit report file" "$mr" html
check html-two-files 2 "unexpected argument '$rep/run2.xml'" "$mr" html "$rep/run1.xml" "$rep/run2.xml"
check html-missing 2 "$rep/nope.xml: cannot read the report" "$mr" html "$rep/nope.xml" -o "$out/x.html"
check html-not-junit 2 "$rep/bad-root.xml:2: root element <matrix>" "$mr" html "$rep/bad-root.xml" -o "$out/x.html"
check html-unwritable 2 "$out/none/x.html" "$mr" html "$rep/run1.xml" -o "$out/none/x.html"
[ ! -e "$out/x.html" ] || { echo "FAIL html wrote a page for a bad report"; fails=$((fails + 1)); }
cp "$rep/run2.xml" "$out/junit.xml"
[ "$("$mr" html "$out/junit.xml")" = "summary: $out/summary.html" ] && grep -q '<svg' "$out/summary.html" ||
    { echo "FAIL html default path"; fails=$((fails + 1)); }
"$mr" html -q "$out/junit.xml" -o "$out/other.html" >"$out/stdout" && [ ! -s "$out/stdout" ] &&
    grep -q 'sles15-1cpu' "$out/other.html" || { echo "FAIL html -o FILE -q"; fails=$((fails + 1)); }
"$mr" --help | grep -q "compare    print the CPU overhead" || { echo "FAIL help names compare"; fails=$((fails + 1)); }
"$mr" --help | grep -q "html JUNIT.xml \[-o FILE\]" || { echo "FAIL help names html"; fails=$((fails + 1)); }
rm -rf "$out"
# A run writes its HTML summary next to its JUnit (here all cells fail to connect).
out=$(mktemp -d)
"$mr" "$good" --connect nosuch:///x -o "$out" -q
[ -s "$out/summary.html" ] && grep -q 'deb-a' "$out/summary.html" ||
    { echo "FAIL a run's summary.html"; fails=$((fails + 1)); }
rm -rf "$out"
# init: a starter matrix that validate takes as written; its errors are exit 2.
out=$(mktemp -d)
mkdir "$out/img" "$out/pkg"
: >"$out/img/debian-12-genericcloud-amd64.qcow2"
: >"$out/img/CentOS-7-x86_64-GenericCloud.qcow2"
: >"$out/pkg/tool_2.1-1_all.deb"
: >"$out/pkg/tool-2.1-1.noarch.rpm"
check init-one-file 2 "'init' needs image files and package files" "$mr" init "$out/pkg/tool_2.1-1_all.deb"
check init-no-rpm 2 "looks like centos, whose packages are .rpm, and no .rpm package was given" \
    "$mr" init "$out/img/CentOS-7-x86_64-GenericCloud.qcow2" "$out/pkg/tool_2.1-1_all.deb"
check init-writes 0 "version 7 (guessed: check)" "$mr" init -o "$out/m.xml" "$out"/img/*.qcow2 "$out"/pkg/*
check init-validates 0 "" "$mr" validate "$out/m.xml"
[ "$("$mr" list "$out/m.xml" | cut -f1,3,4 | sort | tr '\t\n' ' ')" = \
  "CentOS-7-x86_64-GenericCloud family=centos version=7 debian-12-genericcloud-amd64 family=debian version=12 " ] ||
    { echo "FAIL init's cells: $("$mr" list "$out/m.xml")"; fails=$((fails + 1)); }
check init-no-overwrite 2 "$out/m.xml exists" "$mr" init -o "$out/m.xml" "$out"/img/*.qcow2 "$out"/pkg/*
(cd "$out/img" && "$mr" init -q debian-12-genericcloud-amd64.qcow2 ../pkg/tool_2.1-1_all.deb >"$out/stdout.xml" 2>"$out/stderr") &&
    [ ! -s "$out/stderr" ] && grep -q 'path="../pkg/tool_2.1-1_all.deb"' "$out/stdout.xml" ||
    { echo "FAIL init to stdout, -q"; fails=$((fails + 1)); }
rm -rf "$out"
echo "cli: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
