#!/usr/bin/env bash
# e2e_faults.sh MATRIXRUN SRCDIR XSD: real guests that misbehave: a wrong pinned host key,
# a guest that never reaches SSH, a test killed by a signal, a test that outlives its
# timeout, hostile output, a broken package and a version mismatch. Every one must end
# as the right verdict in schema-valid JUnit, with exit 3 and nothing left behind.
. "$(dirname "$0")/e2e_lib.sh"
mr=$1
src=$2
xsd=$3
e2e_need_images "$src"
e2e_init faults
img=$src/images/out
sum_before=$(sha256sum <"$img/minimal.qcow2")
doms_before=$(mr_domains)
ssh-keygen -q -t ed25519 -N "" -f "$tmp/impostor" -C impostor

image() { # name, hostkey, cmdline, boot-timeout
    cat <<XML
  <image name="$1" family="debian" user="root" memory-mib="256" vcpus="1" boot-timeout="$4">
    <disk path="$img/minimal.qcow2"/>
    <kernel path="$img/minimal.vmlinuz" initrd="$img/minimal.initrd" cmdline="$3"/>
    <hostkey path="$2"/>
  </image>
XML
}
cmdline="console=ttyS0 root=/dev/vda rw"

cat >"$tmp/faults.xml" <<XML
<matrix version="1" name="faults">
  <host uri="$E2E_URI" accel="tcg"/>
$(image good "$img/minimal.hostkey.pub" "$cmdline" 180)
$(image impostor "$tmp/impostor.pub" "$cmdline" 180)
$(image noboot "$img/minimal.hostkey.pub" "console=ttyS0 root=/dev/nonexistent panic=-1" 25)
  <package name="mr-demo" version="1.0">
    <artifact family="debian" path="$img/mr-demo_1.0_all.deb"/>
  </package>
  <test name="signal" timeout="30">kill -SEGV \$\$</test>
  <test name="slow" timeout="3">sleep 60</test>
  <test name="hostile" timeout="60">head -c 2000000 /dev/urandom; printf 'end\001\033[0m]]&gt;\377\300\257'; printf 'err\000\002]]&gt;\355\240\200' &gt;&amp;2</test>
  <test name="status" timeout="30">echo to-stdout; echo to-stderr &gt;&amp;2; exit 3</test>
  <test name="console-flood" timeout="120">head -c 7000000 /dev/zero | tr '\\000' x &gt; /dev/ttyS0</test>
  <test name="after-all" timeout="30">test -s /var/lib/mr-demo/installed-on</test>
</matrix>
XML

MATRIXRUN_WORKDIR=$tmp/work "$mr" "$tmp/faults.xml" -o "$tmp/r1" >"$tmp/out1" 2>&1
rc=$?
cat "$tmp/out1"
r=$tmp/r1/junit.xml
expect_eq "faults: exit code 3 (infrastructure errors)" "$rc" 3
expect_schema_valid "$r" "$xsd"
expect_eq "faults: every cell reported" "$(xp "$r" 'count(/testsuites/testsuite)')" 3

# The good cell: each kind of test result.
expect_verdict "$r" good boot pass
expect_verdict "$r" good install pass
expect_verdict "$r" good signal failure
expect_has "signal named" "$(xp "$r" "string(//testsuite[@name='good']/testcase[@name='signal']/failure/@message)")" "signal SEGV"
expect_verdict "$r" good slow error
expect_eq "timeout error type" "$(xp "$r" "string(//testsuite[@name='good']/testcase[@name='slow']/error/@type)")" timeout
expect_has "timeout named" "$(xp "$r" "string(//testsuite[@name='good']/testcase[@name='slow']/error/@message)")" "timeout of 3 s"
expect_verdict "$r" good hostile pass
size=$(printf '%.0f' "$(xp "$r" "string-length(//testsuite[@name='good']/testcase[@name='hostile']/system-out)")")
if [ "${size:-0}" -gt 1900000 ]; then ok "hostile output kept ($size characters)"; else bad "hostile output length '$size'"; fi
expect_has "hostile output end escaped" "$(xp "$r" "substring(//testsuite[@name='good']/testcase[@name='hostile']/system-out, $((size - 40)))")" 'end\x01\x1b[0m]]>'
expect_verdict "$r" good status failure
expect_has "exit status named" "$(xp "$r" "string(//testsuite[@name='good']/testcase[@name='status']/failure/@message)")" "exited with status 3"
expect_eq "stdout captured" "$(xp "$r" "string(//testsuite[@name='good']/testcase[@name='status']/system-out)")" "to-stdout"
expect_eq "stderr captured" "$(xp "$r" "string(//testsuite[@name='good']/testcase[@name='status']/system-err)")" "to-stderr"
expect_verdict "$r" good after-all pass
# 7 MB on the serial console: virtlogd rolls the log over at 2 MiB, so the report folder
# holds a bounded serial log, whatever the guest writes.
expect_verdict "$r" good console-flood pass
serial_size=$(stat -c %s "$tmp/r1/good/serial.log" 2>/dev/null || echo missing)
if [ "$serial_size" != missing ] && [ "$serial_size" -le 2097152 ]; then ok "serial log capped ($serial_size bytes)"; else bad "serial log size '$serial_size'"; fi
if [ -s "$tmp/r1/good/serial.log.0" ]; then ok "serial log rolled over"; else bad "no serial.log.0: $(ls "$tmp/r1/good")"; fi

# The impostor: the guest's real host key is not the pinned one.
expect_verdict "$r" impostor boot error
expect_has "host key mismatch named" "$(xp "$r" "string(//testsuite[@name='impostor']/testcase[@name='boot']/error/@message)")" "host key mismatch"
expect_verdict "$r" impostor install skipped
expect_verdict "$r" impostor signal skipped
expect_has "skip reason" "$(xp "$r" "string(//testsuite[@name='impostor']/testcase[@name='install']/skipped)")" "boot failed"

# The guest that never boots: an error by its boot timeout, not a hang.
expect_verdict "$r" noboot boot error
expect_eq "boot timeout type" "$(xp "$r" "string(//testsuite[@name='noboot']/testcase[@name='boot']/error/@type)")" timeout
expect_has "boot timeout named" "$(xp "$r" "string(//testsuite[@name='noboot']/testcase[@name='boot']/error/@message)")" "boot timeout of 25 s"
t=$(xp "$r" "string(//testsuite[@name='noboot']/testcase[@name='boot']/@time)")
if awk -v t="$t" 'BEGIN { exit !(t >= 24 && t < 60) }'; then ok "noboot gave up after ${t} s"; else bad "noboot time '$t'"; fi
expect_has "serial console attached to the boot error" "$(xp "$r" "string(//testsuite[@name='noboot']/testcase[@name='boot']/system-out)")" "serial console"
expect_verdict "$r" noboot after-all skipped
# A boot that timed out is retried once (the default), and the report says so.
expect_eq "noboot retried once" "$(xp "$r" "string(//testsuite[@name='noboot']/properties/property[@name='retries']/@value)")" 1
expect_has "retry explained" "$(xp "$r" "string(//testsuite[@name='noboot']/system-out)")" \
    "attempt 1 of this cell failed at boot and was retried: boot: the guest did not answer SSH within its boot timeout of 25 s"
expect_has "first attempt's serial log kept" "$(cat "$tmp/r1/noboot/serial.attempt-1.log" 2>&1)" "Linux version"
expect_has "first attempt's artifacts kept" "$(tar -tzf "$tmp/r1/noboot/artifacts.attempt-1.tar.gz" 2>&1)" "serial.log"
# A refused host key is not retried: another boot would show the same key.
expect_eq "impostor not retried" "$(xp "$r" "string(//testsuite[@name='impostor']/properties/property[@name='retries']/@value)")" 0
expect_eq "impostor error type" "$(xp "$r" "string(//testsuite[@name='impostor']/testcase[@name='boot']/error/@type)")" refused
expect_eq "good cell not retried" "$(xp "$r" "string(//testsuite[@name='good']/properties/property[@name='retries']/@value)")" 0
expect_clean "$tmp/work" "$doms_before"

# A package whose version is not the one the matrix names; then a package that is no
# package at all. Both are install errors with the tests skipped.
sed -e 's/version="1.0"/version="9.9"/' -e '/<image name="impostor"/,/<\/image>/d' \
    -e '/<image name="noboot"/,/<\/image>/d' "$tmp/faults.xml" >"$tmp/version.xml"
# install_error_run NAME MATRIX REPORT [OPTION...]: runs a one-cell matrix whose install must fail and
# checks what every such run must show; prints nothing else.
install_error_run() {
    MATRIXRUN_WORKDIR=$tmp/work "$mr" "$2" -o "$3" -q "${@:4}" >"$3.out" 2>&1
    expect_eq "$1: exit code" "$?" 3
    expect_schema_valid "$3/junit.xml" "$xsd"
    expect_verdict "$3/junit.xml" good install error
    expect_verdict "$3/junit.xml" good signal skipped
}
install_message() { xp "$1/junit.xml" "string(//testcase[@name='install']/error/@message)"; }

# This run's catalogue adds a debian log command that kills the shell it runs in: the one
# script that collects every log at once then dies, and matrixrun must fall back to one
# exec per log command (and one for the guest's kernel).
# It also asks for a tool the guest lacks (exit 127: absent, not a failure) and for a log
# only releases up to 11 have (this image says it is 12: not asked, noted absent).
sed -e '/<log name="journal.txt"/a\    <log name="kills-shell.txt">echo partial; kill -9 $$</log>' \
    -e '/<log name="journal.txt"/a\    <log name="no-such-tool.txt">mr-no-such-tool --log</log>' \
    -e '/<log name="journal.txt"/a\    <log name="old-only.txt" max-version="11">echo old</log>' \
    "$src/images/families.xml" >"$tmp/families.xml"
sed -i 's/<image name="good" family="debian"/<image name="good" family="debian" version="12"/' "$tmp/version.xml"
install_error_run "version mismatch" "$tmp/version.xml" "$tmp/r2" -C "$tmp/families.xml"
expect_has "version mismatch named" "$(install_message "$tmp/r2")" "reports version '1.0' after install, the matrix expects '9.9'"
manifest=$(tar -xzOf "$tmp/r2/good/artifacts.tar.gz" MANIFEST.txt 2>&1)
expect_has "log fallback: the shell-killing log noted" "$(grep kills-shell <<<"$manifest")" "command killed by signal KILL"
expect_has "log fallback: the other logs still asked" "$manifest" "logs/journal.txt"
expect_eq "log fallback: its output kept" "$(tar -xzOf "$tmp/r2/good/artifacts.tar.gz" logs/kills-shell.txt 2>&1)" partial
expect_has "a missing tool's log is absent" "$(grep no-such-tool <<<"$manifest")" "absent: the guest has no such command (status 127)"
expect_has "a log of older releases is not asked" "$(grep old-only <<<"$manifest")" "absent: debian 12 does not have it"
kernel=$(xp "$tmp/r2/junit.xml" "string(//testsuite[@name='good']/properties/property[@name='guest.kernel']/@value)")
if [[ "$kernel" =~ ^[0-9]+\.[0-9]+\.[0-9]+- ]]; then ok "log fallback: guest kernel $kernel"; else bad "log fallback: guest kernel '$kernel'"; fi

head -c 3000 /dev/urandom >"$tmp/broken_1.0_all.deb"
sed -e "s#$img/mr-demo_1.0_all.deb#$tmp/broken_1.0_all.deb#" "$tmp/version.xml" >"$tmp/broken.xml"
install_error_run "broken package" "$tmp/broken.xml" "$tmp/r3"
expect_has "install failure named" "$(install_message "$tmp/r3")" "exited with status"
expect_has "package manager output attached" "$(xp "$tmp/r3/junit.xml" "string(//testcase[@name='install']/system-out)")$(xp "$tmp/r3/junit.xml" "string(//testcase[@name='install']/system-err)")" "dpkg"

expect_eq "base image unchanged (sha256)" "$(sha256sum <"$img/minimal.qcow2")" "$sum_before"
expect_clean "$tmp/work" "$doms_before"
expect_no_private_key "$tmp/r1" "$tmp/r2" "$tmp/r3" "$tmp/out1"
rm -rf "$tmp"
e2e_summary e2e-faults
