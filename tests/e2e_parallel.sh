#!/usr/bin/env bash
# e2e_parallel.sh MATRIXRUN SRCDIR XSD: cells of an axis matrix on real guests, side by side:
# capacity limits how many run at once (counted from libvirt while the run goes, not from
# matrixrun's own words), axis variables reach the tests, a dropped SSH connection is
# reconnected, a cell over its time limit ends with the rest skipped, --only runs a
# subset, and SIGTERM with several guests running cleans up everything.
. "$(dirname "$0")/e2e_lib.sh"
mr=$1
src=$2
xsd=$3
e2e_need_images "$src"
e2e_init parallel
host_name=$(virsh -c "$E2E_URI" hostname)
img=$src/images/out
sum_before=$(sha256sum <"$img/minimal.qcow2")
doms_before=$(mr_domains)

# matrix NAME [MATRIX-ATTRIBUTES]: one minimal image, an axis SLOT of three values.
matrix() {
    cat <<XML
<matrix version="1" name="$1" ${2:-}>
  <host uri="$E2E_URI" accel="tcg"/>
  <image name="m" family="debian" user="root" memory-mib="256" vcpus="1" boot-timeout="240">
    <disk path="$img/minimal.qcow2"/>
    <kernel path="$img/minimal.vmlinuz" initrd="$img/minimal.initrd"
            cmdline="console=ttyS0 root=/dev/vda rw"/>
    <hostkey path="$img/minimal.hostkey.pub"/>
  </image>
  <axis name="SLOT"><value>1</value><value>2</value><value>3</value></axis>
  <package name="mr-demo" version="1.0">
    <artifact family="debian" path="$img/mr-demo_1.0_all.deb"/>
  </package>
XML
}

# count_guests FILE: writes the number of this test's guests (mr_domains) every 0.2 s.
count_guests() {
    while :; do
        mr_domains >>"$1"
        sleep 0.2
    done
}
peak() { sort -n "$1" | tail -n1; }

{
    matrix par
    cat <<'XML'
  <test name="env" timeout="60">echo "cell=$MATRIXRUN_CELL slot=$SLOT"; test "$MATRIXRUN_CELL" = "m.SLOT=$SLOT"</test>
  <test name="drop" timeout="60">if [ "$SLOT" = 2 ]; then kill -9 $PPID; sleep 30; fi; echo stayed</test>
  <test name="after" timeout="60">echo alive</test>
</matrix>
XML
} >"$tmp/par.xml"

# 1. Three 1-vCPU cells; this host's capacity is its CPU count (2 here) at the default
#    overcommit of 1: at most 2 guests at once, whatever -j says.
cpus=$(nproc)
count_guests "$tmp/count1" &
counter=$!
MATRIXRUN_WORKDIR=$tmp/work "$mr" "$tmp/par.xml" -o "$tmp/r1" -j 8 >"$tmp/out1" 2>&1
rc=$?
kill "$counter"
wait "$counter" 2>/dev/null
cat "$tmp/out1"
r=$tmp/r1/junit.xml
expect_eq "run 1: exit code (the dropped test is an error)" "$rc" 3
expect_schema_valid "$r" "$xsd"
expect_eq "run 1: three cells, in matrix order" "$(xp "$r" 'string(//testsuite[1]/@name)') $(xp "$r" 'string(//testsuite[3]/@name)')" "m.SLOT=1 m.SLOT=3"
want=$((cpus < 3 ? cpus : 3))
expect_eq "run 1: at most $want guests at once (host has $cpus CPUs, overcommit 1)" "$(peak "$tmp/count1")" "$want"
for s in 1 2 3; do
    c="m.SLOT=$s"
    expect_verdict "$r" "$c" env pass
    expect_has "$c: the axis variable reached the test" "$(xp "$r" "string(//testsuite[@name='$c']/testcase[@name='env']/system-out)")" "cell=$c slot=$s"
    expect_eq "$c: env property" "$(xp "$r" "string(//testsuite[@name='$c']/properties/property[@name='env.SLOT']/@value)")" "$s"
    expect_verdict "$r" "$c" after pass
    expect_eq "$c: host named" "$(xp "$r" "string(//testsuite[@name='$c']/properties/property[@name='host']/@value)")" "$host_name"
done
# The dropped connection: an error of its own type, a new connection, the cell goes on.
expect_verdict "$r" m.SLOT=1 drop pass
expect_verdict "$r" m.SLOT=2 drop error
expect_eq "drop: error type" "$(xp "$r" "string(//testsuite[@name='m.SLOT=2']/testcase[@name='drop']/error/@type)")" connection
expect_has "drop: explained" "$(xp "$r" "string(//testsuite[@name='m.SLOT=2']/testcase[@name='drop']/error/@message)")" "the SSH connection dropped"
expect_eq "drop: one reconnection" "$(xp "$r" "string(//testsuite[@name='m.SLOT=2']/properties/property[@name='ssh.reconnects']/@value)")" 1
t=$(xp "$r" "string(//testsuite[@name='m.SLOT=2']/testcase[@name='drop']/@time)")
if awk -v t="$t" 'BEGIN { exit !(t < 25) }'; then ok "drop noticed after ${t} s, not at the test's end"; else bad "drop took '$t' s"; fi
expect_has "drop: the logs were still collected" "$(tar -tzf "$tmp/r1/m.SLOT=2/artifacts.tar.gz" 2>&1)" "MANIFEST.txt"
expect_clean "$tmp/work" "$doms_before"

# 2. More room (-j 3 --overcommit 2): all three at once; and --only picks cells by id.
count_guests "$tmp/count2" &
counter=$!
MATRIXRUN_WORKDIR=$tmp/work "$mr" "$tmp/par.xml" -o "$tmp/r2" -j 3 --overcommit 2 --stagger 0.5 -q >"$tmp/out2" 2>&1
rc=$?
kill "$counter"
wait "$counter" 2>/dev/null
expect_eq "run 2: exit code" "$rc" 3
want=$((2 * cpus < 3 ? 2 * cpus : 3))
expect_eq "run 2: $want guests at once" "$(peak "$tmp/count2")" "$want"
expect_clean "$tmp/work" "$doms_before"

# 3. A cell time limit: the test that outlives it ends as a timeout naming the limit, the
#    rest is skipped, and the cell ends near its limit, not at the test's own timeout.
{
    matrix limit 'cell-timeout="45"'
    cat <<'XML'
  <test name="long" timeout="300">sleep 280</test>
  <test name="after" timeout="60">echo alive</test>
</matrix>
XML
} >"$tmp/limit.xml"
MATRIXRUN_WORKDIR=$tmp/work "$mr" "$tmp/limit.xml" --only 'm.SLOT=3' -o "$tmp/r3" -q >"$tmp/out3" 2>&1
rc=$?
r=$tmp/r3/junit.xml
expect_eq "limit: exit code" "$rc" 3
expect_schema_valid "$r" "$xsd"
expect_eq "limit: --only ran one cell" "$(xp "$r" 'count(//testsuite)') $(xp "$r" 'string(//testsuite/@name)')" "1 m.SLOT=3"
expect_verdict "$r" m.SLOT=3 long error
expect_has "limit: named" "$(xp "$r" "string(//testcase[@name='long']/error/@message)")" "time limit of 45 s"
expect_verdict "$r" m.SLOT=3 after skipped
t=$(xp "$r" "string(//testsuite/@time)")
if awk -v t="$t" 'BEGIN { exit !(t >= 44 && t < 120) }'; then ok "limit: cell ended after ${t} s"; else bad "limit: cell time '$t'"; fi
expect_clean "$tmp/work" "$doms_before"

# 4. SIGTERM while two guests run at once: both destroyed, all cells reported, exit 143.
{
    matrix term
    echo '  <test name="t" timeout="60">true</test>'
    echo '</matrix>'
} >"$tmp/term.xml"
MATRIXRUN_WORKDIR=$tmp/work "$mr" "$tmp/term.xml" -o "$tmp/r4" -j 2 --overcommit 2 --stagger 0 >"$tmp/out4" 2>&1 &
pid=$!
for _ in $(seq 300); do [ "$(mr_domains)" -ge $((doms_before + 2)) ] && break; sleep 0.1; done
expect_eq "term: two guests running" "$(mr_domains)" $((doms_before + 2))
kill -TERM "$pid"
t0=$(date +%s%N)
wait "$pid"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
cat "$tmp/out4"
expect_eq "term: exit code" "$rc" 143
if [ "$ms" -lt 10000 ]; then ok "term: ended ${ms} ms after the signal"; else bad "term: took ${ms} ms"; fi
r=$tmp/r4/junit.xml
expect_schema_valid "$r" "$xsd"
expect_eq "term: every cell reported" "$(xp "$r" 'count(//testsuite)')" 3
expect_verdict "$r" m.SLOT=3 boot skipped
expect_clean "$tmp/work" "$doms_before"

expect_eq "base image unchanged (sha256)" "$(sha256sum <"$img/minimal.qcow2")" "$sum_before"
rm -rf "$tmp"
e2e_summary e2e-parallel
