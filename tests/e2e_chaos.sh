#!/usr/bin/env bash
# e2e_chaos.sh MATRIXRUN SRCDIR XSD: the host and the guests misbehave at once (issue 12,
# "Faults"). Each fault must end with clear verdicts, a schema-valid report, bounded
# memory, nothing left behind and the right exit code:
#  1. a test floods 100 MB of random bytes on stdout (peak RSS bounded, output cut at the
#     cap with a note); another 8 MB of NULs on each stream (the report stays readable);
#  2. the guest's disk fills during install (a clear install failure, tests skipped);
#  3. libvirtd is killed and started again while a cell runs a test (the guest is still
#     destroyed at teardown);
#  4. the report folder's filesystem is full (a message naming the path and ENOSPC, no
#     half-written junit.xml).
# Runs 1+3 (one matrixrun, two cells) and 2 (another matrixrun) side by side, then 4 beside
# the NUL flood of 1 (one cell each).
. "$(dirname "$0")/e2e_lib.sh"
mr=$1
src=$2
xsd=$3
e2e_need_images "$src"
img=$src/images/out
cmdline="console=ttyS0 root=/dev/vda rw"
# matrixrun keeps test output in a spill file: about 30 MiB here under these floods.
rss_limit_kb=$((100 * 1024))

libvirt_answers() { virsh -c "$E2E_URI" version >/dev/null 2>&1; }
# Started exactly as setup.sh starts it (under tini as a child subreaper), or by systemd.
start_libvirtd() {
    if [ -d /run/systemd/system ]; then
        systemctl start libvirtd.service
    else
        mkdir -p /var/log/libvirt
        setsid tini -s -- libvirtd </dev/null >>/var/log/libvirt/libvirtd-matrixrun.log 2>&1 &
    fi
    for _ in $(seq 150); do libvirt_answers && return 0; sleep 0.2; done
    return 1
}
small_fs=
# Runs before e2e_lib's EXIT trap destroys this test's guests: libvirtd must answer then.
e2e_on_exit() {
    if ! libvirt_answers; then
        echo "e2e: libvirtd does not answer: starting it again"
        pgrep -x libvirtd >/dev/null || start_libvirtd
    fi
    if [ -n "$small_fs" ] && mountpoint -q "$small_fs"; then umount -l "$small_fs"; fi
}
e2e_init chaos
work=$tmp/work
sum_before=$(sha256sum <"$img/minimal.qcow2")
doms_before=$(mr_domains)
t_begin=$SECONDS

# foreign_guests: the running guests this test's runs do not own (names, space-separated).
foreign_guests() {
    local d
    for d in $(virsh -c "$E2E_URI" list --name 2>/dev/null); do
        virsh -c "$E2E_URI" metadata "$d" urn:x-matrixrun:run:1 2>/dev/null |
            grep -q "dir=\"$E2E_SCOPE/" || printf '%s ' "$d"
    done
}
# peak_rss TIMEFILE: matrixrun's peak RSS in kB, from /usr/bin/time -v.
peak_rss() { sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$1"; }
expect_rss() {
    local kb
    kb=$(peak_rss "$2")
    if [ -n "$kb" ] && [ "$kb" -lt "$rss_limit_kb" ]; then
        ok "$1: peak RSS $((kb / 1024)) MiB (< $((rss_limit_kb / 1024)) MiB)"
    else
        bad "$1: peak RSS '${kb}' kB, want < $rss_limit_kb kB"
    fi
}
tc() { echo "//testsuite[@name='$2']/testcase[@name='$3']"; } # REPORT-less XPath of a case

# The package every cell installs: mr-chaos 1.0, whose postinst fills the root filesystem
# and fails, but only on a guest booted with "mr.fill" on its kernel command line.
mkdir -p "$tmp/pkg/DEBIAN"
cat >"$tmp/pkg/DEBIAN/control" <<'EOF'
Package: mr-chaos
Version: 1.0
Architecture: all
Maintainer: matrixrun tests <matrixrun@localhost>
Description: matrixrun e2e_chaos: fills the guest's disk when asked to
EOF
cat >"$tmp/pkg/DEBIAN/postinst" <<'EOF'
#!/bin/sh
grep -qw mr.fill /proc/cmdline || exit 0
df -k /
# Most of the free space at once (no data written), then dd writes until ENOSPC.
free_kb=$(df -k / | awk 'NR == 2 { print $4 }')
fallocate -l "$(( (free_kb - 256) * 1024 ))" /mr-chaos-fill || true
dd if=/dev/zero of=/mr-chaos-fill.2 bs=64k
df -k /
echo "mr-chaos: the root filesystem is full" >&2
exit 1
EOF
chmod 0755 "$tmp/pkg/DEBIAN/postinst"
dpkg-deb --root-owner-group --build "$tmp/pkg" "$tmp/mr-chaos_1.0_all.deb" >/dev/null ||
    bad "could not build the mr-chaos package"

image() { # name, cmdline
    cat <<XML
  <image name="$1" family="debian" user="root" memory-mib="256" vcpus="1" boot-timeout="180">
    <disk path="$img/minimal.qcow2"/>
    <kernel path="$img/minimal.vmlinuz" initrd="$img/minimal.initrd" cmdline="$2"/>
    <hostkey path="$img/minimal.hostkey.pub"/>
  </image>
XML
}
package() {
    cat <<XML
  <package name="mr-chaos" version="1.0" install-timeout="180">
    <artifact family="debian" path="$tmp/mr-chaos_1.0_all.deb"/>
  </package>
XML
}
# The flood: a hostile head, 100 MB of random bytes, a hostile tail.
head_bytes='start\000\033[0m]]&gt;\377\300\257'
flood_total=$((100000000 + 2 * $(printf "${head_bytes/&gt;/>}" | wc -c)))
cat >"$tmp/chaos.xml" <<XML
<matrix version="1" name="chaos" retries="0">
  <host uri="$E2E_URI" accel="tcg"/>
$(image flood "$cmdline")
$(image restart "$cmdline")
$(package)
  <test name="flood" timeout="300">if [ "\$MATRIXRUN_CELL" = flood ]; then printf '$head_bytes'; head -c 100000000 /dev/urandom; printf '$head_bytes'; fi</test>
  <test name="window" timeout="300">if [ "\$MATRIXRUN_CELL" = restart ]; then sleep 45; fi; echo survived</test>
  <test name="after" timeout="60">echo after</test>
</matrix>
XML
cat >"$tmp/diskfull.xml" <<XML
<matrix version="1" name="diskfull" retries="0">
  <host uri="$E2E_URI" accel="tcg"/>
$(image diskfull "$cmdline mr.fill")
$(package)
  <test name="after-install" timeout="60">echo should-not-run</test>
</matrix>
XML

# ---- faults 1 and 3 (run A) beside fault 2 (run B) ----
# Fault 3 kills the host's libvirtd: not under another test's or user's guests (see below).
# Wait for an idle host first, a bounded while (E2E_CHAOS_IDLE_WAIT seconds, default 300).
idle_deadline=$((SECONDS + ${E2E_CHAOS_IDLE_WAIT:-300}))
seen=
while others=$(foreign_guests) && [ -n "$others" ] && [ "$SECONDS" -lt "$idle_deadline" ]; do
    [ "$others" != "$seen" ] &&
        echo "e2e: waiting (at most $((idle_deadline - SECONDS)) s more) for other guests on this host to end: $others"
    seen=$others
    sleep 5
done
export MATRIXRUN_WORKDIR=$work
/usr/bin/time -v -o "$tmp/timeA" "$mr" "$tmp/chaos.xml" -o "$tmp/rA" --overcommit 2 \
    >"$tmp/outA" 2>"$tmp/errA" &
pidA=$!
/usr/bin/time -v -o "$tmp/timeB" "$mr" "$tmp/diskfull.xml" -o "$tmp/rB" --overcommit 2 \
    >"$tmp/outB" 2>"$tmp/errB" &
pidB=$!

# Run B ends first; then libvirtd dies while the restart cell sleeps in its "window" test
# and no other cell of this test is in flight (each check stays attributable).
wait "$pidB"
rcB=$?
echo "---- run B (disk full) ----"
cat "$tmp/errB" "$tmp/outB"
if wait_for "$tmp/errA" "restart: test window" 240 && wait_for "$tmp/errA" "flood: done in" 120; then
    ok "the restart cell is in its test, every other cell is done"
else
    bad "the restart cell never reached its window test with the others done"
fi
# libvirtd is the host's: a guest of another test or user running now would lose its
# client's connection (and its autodestroy) too. Wait a little for them; else do not kill.
others=
for _ in $(seq 75); do
    others=$(foreign_guests)
    [ -z "$others" ] && break
    sleep 0.2
done
lv_pid=$(pidof libvirtd)
killed=
if [ -n "$others" ]; then
    bad "libvirtd not killed: other guests run on this host ($others); run e2e.chaos on an idle host"
elif [ -n "$lv_pid" ] && [ "$(wc -w <<<"$lv_pid")" = 1 ] && grep -q "restart: test window" "$tmp/errA" &&
    ! grep -q "restart: done in" "$tmp/errA"; then
    t_kill=$SECONDS
    kill -KILL "$lv_pid"
    for _ in $(seq 50); do kill -0 "$lv_pid" 2>/dev/null || break; sleep 0.1; done
    if libvirt_answers; then bad "libvirtd still answers after SIGKILL"; else ok "libvirtd (pid $lv_pid) killed mid-test"; fi
    if start_libvirtd; then ok "libvirtd started again"; else bad "libvirtd did not come back"; fi
    killed=1
    echo "e2e: libvirtd was down for $((SECONDS - t_kill)) s"
else
    bad "libvirtd not killed (pid '$lv_pid')"
fi
wait "$pidA"
rcA=$?
echo "---- run A (flood, libvirtd restart) ----"
cat "$tmp/errA" "$tmp/outA"
grep -q "restart: done in" "$tmp/errA" && [ -n "$killed" ] &&
    expect_has "the restart cell was still running when libvirtd came back" \
        "$(sed -n '/restart: test window/,$p' "$tmp/errA")" "restart: test window: pass"

rA=$tmp/rA/junit.xml
expect_eq "run A: exit code 0 (matrixrun survived the libvirtd restart)" "$rcA" 0
expect_schema_valid "$rA" "$xsd"
expect_rss "run A (100 MB flood)" "$tmp/timeA"

# Fault 1: the flood passes, cut at the cap with a note naming what was dropped.
expect_verdict "$rA" flood boot pass
expect_verdict "$rA" flood install pass
expect_verdict "$rA" flood flood pass
expect_verdict "$rA" flood window pass
expect_verdict "$rA" flood after pass
cap=$((4 * 1024 * 1024))
note="[matrixrun: $((flood_total - cap)) more bytes of stdout not kept]"
flood_out=$(xp "$rA" "string($(tc "$rA" flood flood)/system-out)" | tail -c 300)
# 4 MiB of random bytes clean to about 9 MB of text (an invalid byte is 3 bytes of U+FFFD,
# a control one 4 characters), past junit.xml's 8 000 000 per text: the text ends with
# that cut's note, which gives the length matrixrun kept: the cap, and the cap's note.
kept=$(sed -n 's/.*\[matrixrun: stdout cut here: written as XML text its \([0-9]*\) bytes.*/\1/p' <<<"$flood_out")
if [ -n "$kept" ] && [ "$kept" -ge "$cap" ] && [ "$kept" -le $((cap + ${#note} + 8)) ]; then
    ok "flood: $kept bytes kept for a cap of $cap (and its note)"
else
    bad "flood: no XML-text cut note with the kept length: '${flood_out: -200}'"
fi
size=$(printf '%.0f' "$(xp "$rA" "string-length($(tc "$rA" flood flood)/system-out)")")
# Kept bytes become characters (a control character 4 of them, \xNN; a multi-byte
# sequence 1): about the cap's count, never more than 4 x; 100 MB kept would be 25 x.
if [ "${size:-0}" -ge $((cap / 2)) ] && [ "$size" -le $((4 * cap + 200)) ]; then
    ok "flood: system-out cut at the cap ($size characters for $cap bytes)"
else
    bad "flood: system-out length '$size' for a cap of $cap bytes"
fi
# Control characters escaped, invalid UTF-8 replaced (U+FFFD per byte), ]]> kept as text.
expect_has "flood: the kept head is escaped" \
    "$(xp "$rA" "substring($(tc "$rA" flood flood)/system-out, 1, 40)")" \
    "start\\x00\\x1b[0m]]>$(printf '\357\277\275\357\277\275\357\277\275')"


# Fault 3: the restart cell's test outlived libvirtd; never a false pass elsewhere.
expect_verdict "$rA" restart boot pass
expect_verdict "$rA" restart window pass
expect_eq "restart: the window test saw it through" \
    "$(xp "$rA" "string($(tc "$rA" restart window)/system-out)")" survived
expect_verdict "$rA" restart after pass
t=$(xp "$rA" "string($(tc "$rA" restart window)/@time)")
if awk -v t="$t" 'BEGIN { exit !(t >= 44 && t < 120) }'; then ok "restart: window took ${t} s"; else bad "restart: window time '$t'"; fi

# Fault 2: the install is a clear failure naming the install, the rest skipped.
rB=$tmp/rB/junit.xml
expect_eq "run B: exit code 3 (the install failed)" "$rcB" 3
expect_schema_valid "$rB" "$xsd"
expect_rss "run B (disk full)" "$tmp/timeB"
expect_verdict "$rB" diskfull boot pass
expect_verdict "$rB" diskfull install error
# The install command's own failure, not a later step's (the version check fails too).
expect_has "diskfull: the install command's failure named" \
    "$(xp "$rB" "string($(tc "$rB" diskfull install)/error/@message)")" "install: '"
expect_has "diskfull: its exit status named" \
    "$(xp "$rB" "string($(tc "$rB" diskfull install)/error/@message)")" "' exited with status 1"
expect_has "diskfull: ENOSPC in the install's output" \
    "$(xp "$rB" "string($(tc "$rB" diskfull install)/system-out)")$(xp "$rB" "string($(tc "$rB" diskfull install)/system-err)")" \
    "No space left on device"
expect_verdict "$rB" diskfull after-install skipped
expect_has "diskfull: skip reason" "$(xp "$rB" "string($(tc "$rB" diskfull after-install)/skipped)")" "install"

expect_clean "$work" "$doms_before"
expect_eq "no overlay left" "$(find "$work" "$tmp/rA" "$tmp/rB" -name '*.qcow2' 2>/dev/null)" ""

# ---- fault 4 (run C): the report folder's filesystem fills up ----
# A small tmpfs in libvirt's own mount namespace: QEMU writes the serial log there too.
# (Inside `unshare -m` QEMU, a child of libvirtd, would not see it and fail to boot.)
small_fs=$tmp/small
mkdir "$small_fs"
mount -t tmpfs -o size=256k,mode=0755 mr-e2e-chaos "$small_fs" || bad "cannot mount a tmpfs at $small_fs"
# 1 MB of printable output: junit.xml cannot fit; the serial log and archive do.
cat >"$tmp/full.xml" <<XML
<matrix version="1" name="full" retries="0">
  <host uri="$E2E_URI" accel="tcg"/>
$(image full "$cmdline")
$(package)
  <test name="big" timeout="120">yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx | head -c 1500000</test>
</matrix>
XML
# Fault 1's NULs (run D): every kept NUL is escaped as 4 characters, so 4 MiB of them
# would make a 16 MiB text node, past the 10 MB that libxml2 (xmllint, lxml) reads by
# default: the writer stops each text at 8 000 000 bytes, so the file stays readable.
cat >"$tmp/nuls.xml" <<XML
<matrix version="1" name="nuls" retries="0">
  <host uri="$E2E_URI" accel="tcg"/>
$(image nuls "$cmdline")
$(package)
  <test name="nuls" timeout="120">head -c 8000000 /dev/zero; head -c 8000000 /dev/zero &gt;&amp;2</test>
</matrix>
XML
/usr/bin/time -v -o "$tmp/timeD" "$mr" "$tmp/nuls.xml" -o "$tmp/rD" --overcommit 2 \
    >"$tmp/outD" 2>"$tmp/errD" &
pidD=$!
/usr/bin/time -v -o "$tmp/timeC" "$mr" "$tmp/full.xml" -o "$small_fs/r" --overcommit 2 \
    >"$tmp/outC" 2>"$tmp/errC"
rcC=$?
wait "$pidD"
rcD=$?
echo "---- run D (NUL flood) ----"
cat "$tmp/errD" "$tmp/outD"
rD=$tmp/rD/junit.xml
expect_eq "run D: exit code 0" "$rcD" 0
expect_schema_valid "$rD" "$xsd"
expect_rss "run D (8 MB of NULs on each stream)" "$tmp/timeD"
# What the run recorded, read with --huge so that it is checked whatever the above says.
xph() { xmllint --huge --xpath "$2" "$1" 2>/dev/null; }
expect_eq "nuls/nuls verdict (read with --huge)" \
    "$(xph "$rD" "count($(tc "$rD" nuls nuls)[not(*[not(self::system-out or self::system-err)])])")" 1
for stream in out err; do
    # The stream was cut at the 4 MiB cap; its 4 MiB of NULs, as "\x00", would be 16 MB
    # of text: junit.xml stops it at 8 000 000 bytes and says so.
    expect_has "nuls: system-$stream cut as XML text with a note" \
        "$(xph "$rD" "string($(tc "$rD" nuls nuls)/system-$stream)" | tail -c 200)" \
        "[matrixrun: std$stream cut here: written as XML text its "
done
echo "---- run C (report folder full) ----"
cat "$tmp/errC" "$tmp/outC"
df -k "$small_fs"
ls -la "$small_fs/r" "$small_fs/r/full" 2>&1
expect_eq "run C: exit code 3 (the report could not be written)" "$rcC" 3
expect_has "run C: the error names the report" "$(cat "$tmp/errC")" "$small_fs/r/junit.xml"
expect_has "run C: the error says why" "$(cat "$tmp/errC")" "No space left on device"
if [ -e "$small_fs/r/junit.xml" ]; then bad "a junit.xml was left on a full disk"; else ok "no junit.xml written"; fi
expect_eq "no temporary report left (junit.xml.tmp.*)" "$(find "$small_fs" -name 'junit*' | head -3)" ""
expect_rss "run C (report folder full)" "$tmp/timeC"
umount "$small_fs" && small_fs=

expect_eq "base image unchanged (sha256)" "$(sha256sum <"$img/minimal.qcow2")" "$sum_before"
expect_clean "$work" "$doms_before"
expect_no_private_key "$tmp/rA" "$tmp/rB" "$tmp/rD" "$tmp/errA" "$tmp/errB" "$tmp/errC" "$tmp/errD"
echo "e2e-chaos: peak RSS A $(peak_rss "$tmp/timeA") kB, B $(peak_rss "$tmp/timeB") kB, C $(peak_rss "$tmp/timeC") kB, D $(peak_rss "$tmp/timeD") kB; $((SECONDS - t_begin)) s"
rm -rf "$tmp"
e2e_summary e2e-chaos
