#!/usr/bin/env bash
# e2e_keep.sh MATRIXRUN SRCDIR XSD: --keep-failed on real guests. Of two cells, the one
# whose test fails stays running after the run; the command matrixrun prints logs into
# it (the run's key, the pinned host key, no prompt; a wrong pinned key is refused), and
# so does `matrixrun ssh`; `clean --list` lists it, a plain `clean` leaves it (its time
# has not run out), `clean --kept` removes it and its folder. A run interrupted with
# SIGINT keeps nothing, even with --keep.
. "$(dirname "$0")/e2e_lib.sh"
mr=$1
src=$2
xsd=$3
e2e_need_images "$src"
e2e_init keep
img=$src/images/out
doms_before=$(mr_domains)
export MATRIXRUN_WORKDIR=$tmp/work

image() { # name
    cat <<XML
  <image name="$1" family="debian" user="root" memory-mib="256" vcpus="1" boot-timeout="180">
    <disk path="$img/minimal.qcow2"/>
    <kernel path="$img/minimal.vmlinuz" initrd="$img/minimal.initrd" cmdline="console=ttyS0 root=/dev/vda rw"/>
    <hostkey path="$img/minimal.hostkey.pub"/>
  </image>
XML
}
cat >"$tmp/keep.xml" <<XML
<matrix version="1" name="keep">
  <host uri="$E2E_URI" accel="tcg"/>
$(image good)
$(image bad)
  <package name="mr-demo" version="1.0">
    <artifact family="debian" path="$img/mr-demo_1.0_all.deb"/>
  </package>
  <test name="check" timeout="60">echo marker &gt;/root/left-by-test; [ "\$MATRIXRUN_CELL" != bad ]</test>
</matrix>
XML

"$mr" "$tmp/keep.xml" -o "$tmp/r1" --keep-failed --keep-for 1h --overcommit 2 >"$tmp/out1" 2>"$tmp/err1"
rc=$?
cat "$tmp/err1" "$tmp/out1"
r=$tmp/r1/junit.xml
expect_eq "exit code 1 (a test failed)" "$rc" 1
expect_schema_valid "$r" "$xsd"
expect_verdict "$r" good check pass
expect_verdict "$r" bad check failure
run=$(xp "$r" "string(//testsuite[@name='bad']/properties/property[@name='run.id']/@value)")
expect_has "the failed cell is kept" "$(cat "$tmp/err1")" "kept: bad of run $run until"
if grep -q "kept: good" "$tmp/err1"; then bad "the passing cell was kept"; else ok "the passing cell was not kept"; fi
until=$(xp "$r" "string(//testsuite[@name='bad']/properties/property[@name='kept.until']/@value)")
if [[ "$until" =~ ^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$ ]]; then ok "kept.until $until"; else bad "kept.until '$until'"; fi
expect_eq "no kept.until on the passing cell" "$(xp "$r" "count(//testsuite[@name='good']/properties/property[@name='kept.until'])")" 0
expect_eq "the kept guest runs" "$(virsh -c "$E2E_URI" domstate "mr-$run-bad" 2>&1)" running
expect_eq "only the kept guest is left" "$(mr_domains)" "$((doms_before + 1))"
expect_eq "stdout still ends with the report" "$(tail -n 1 "$tmp/out1")" "report: $r"

# The printed command, as a user pastes it (with a command instead of a shell).
cmd=$(grep -A1 "^kept: bad of run" "$tmp/err1" | tail -n 1 | sed 's/^ *//')
expect_has "the command pins the host key" "$cmd" "StrictHostKeyChecking=yes"
got=$(eval "${cmd/ssh /ssh -o BatchMode=yes -o ConnectTimeout=30 }" cat /root/left-by-test </dev/null 2>&1)
expect_eq "the printed command logs into the kept guest, whose files are still there" "$got" marker
# A host key other than the pinned one is refused: no trust on first use.
kh=$(sed -n 's/.*UserKnownHostsFile=\([^ ]*\).*/\1/p' <<<"$cmd")
ssh-keygen -q -t ed25519 -N "" -f "$tmp/impostor" -C impostor
port=$(sed -n 's/.* -p \([0-9]*\) .*/\1/p' <<<"$cmd")
printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$tmp/impostor.pub")" >"$tmp/wrong_known_hosts"
got=$(eval "${cmd/$kh/$tmp/wrong_known_hosts} -o BatchMode=yes true" </dev/null 2>&1)
expect_has "a different pinned key is refused" "$got" "REMOTE HOST IDENTIFICATION HAS CHANGED"
got=$("$mr" ssh "$run" bad -- echo via-verb </dev/null 2>&1)
expect_eq "matrixrun ssh RUN CELL logs in" "$got" via-verb
got=$("$mr" ssh "$run" good -- true 2>&1)
expect_has "matrixrun ssh refuses a cell that was not kept" "$got" "no kept cell 'good' of run '$run'"
expect_has "clean --list lists it" "$("$mr" clean --list)" "kept: bad of run $run"
out=$("$mr" clean 2>&1)
expect_has "a plain clean leaves it" "$out" "1 kept cell(s) left alone"
expect_eq "the kept guest still runs after clean" "$(virsh -c "$E2E_URI" domstate "mr-$run-bad" 2>&1)" running
"$mr" clean --kept >"$tmp/clean" 2>&1
cat "$tmp/clean"
expect_has "clean --kept removes it" "$(cat "$tmp/clean")" "destroying guest mr-$run-bad"
expect_eq "clean --list: nothing kept" "$("$mr" clean --list)" "no kept cells"
expect_clean "$tmp/work" "$doms_before"

# SIGINT in the middle of a test keeps nothing, even with --keep.
sed 's#<test name="check" timeout="60">.*</test>#<test name="slow" timeout="120">sleep 100</test>#' \
    "$tmp/keep.xml" >"$tmp/slow.xml"
"$mr" "$tmp/slow.xml" -o "$tmp/r2" --keep --only good >"$tmp/out2" 2>"$tmp/err2" &
pid=$!
wait_for "$tmp/err2" "good: test slow" 300
expect_has "the slow test started" "$(cat "$tmp/err2")" "good: test slow"
kill -INT "$pid"
wait "$pid"
expect_eq "interrupted: exit 130" "$?" 130
if grep -q "^kept:" "$tmp/err2"; then bad "an interrupted run kept a guest"; else ok "an interrupted run keeps nothing"; fi
expect_eq "clean --list after the interrupt" "$("$mr" clean --list)" "no kept cells"
expect_clean "$tmp/work" "$doms_before"
expect_no_private_key "$tmp/r1" "$tmp/r2" "$tmp/out1" "$tmp/err1"
rm -rf "$tmp"
e2e_summary e2e-keep
