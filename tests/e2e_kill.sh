#!/usr/bin/env bash
# e2e_kill.sh MATRIXRUN SRCDIR XSD: SIGKILL a real run mid-boot and count what remains;
# then `matrixrun clean` removes the leftovers (the killed run's work folder, and a guest
# tagged as matrixrun's whose run is over) while a run that is alive and another
# machine's guest are left alone, and a new run warns about the leftovers at its start.
# (Leftover volumes in a remote host's pool: e2e_hosts.sh.)
. "$(dirname "$0")/e2e_lib.sh"
mr=$1
src=$2
xsd=$3
e2e_need_images "$src"
e2e_init kill
work=$tmp/work
export MATRIXRUN_WORKDIR=$work
doms_before=$(mr_domains)

"$mr" "$src/matrices/demo.xml" -o "$tmp/r1" 2>"$tmp/err1" >/dev/null &
pid=$!
wait_for "$tmp/err1" "booting" 60 || bad "the first run never started booting"
for _ in $(seq 300); do [ "$(mr_domains)" -gt "$doms_before" ] && break; sleep 0.2; done
expect_eq "a guest was running when the run was killed" "$(mr_domains)" "$((doms_before + 1))"
kill -KILL "$pid"
wait "$pid"
expect_eq "matrixrun died of SIGKILL" "$?" 137
killed_id=$(sed -n 's/.*\] run \([0-9a-f-]*\):.*/\1/p' "$tmp/err1")
for _ in $(seq 50); do [ "$(mr_domains)" = "$doms_before" ] && break; sleep 0.2; done
expect_eq "libvirt's autodestroy removed the killed run's guest" "$(mr_domains)" "$doms_before"
expect_eq "the killed run's work folder stays" "$(ls "$work")" "$killed_id"
expect_eq "with its overlay" "$(find "$work/$killed_id" -name '*.qcow2' | wc -l)" 1
if [ -e "$tmp/r1/junit.xml" ]; then bad "a killed run left a report"; else ok "no half-written report"; fi

# A guest of a run that is over but still running (what a libvirtd restart or a crash of
# its client bookkeeping leaves): tagged with matrixrun's metadata, its run folder gone.
dom=mr-leftover-test-$$
cat >"$tmp/dom.xml" <<XML
<domain type='qemu'>
  <name>$dom</name>
  <metadata><mr:run xmlns:mr="urn:x-matrixrun:run:1" id="20990101-000000-dead" cell="x" dir="$work/20990101-000000-dead"/></metadata>
  <memory unit='MiB'>128</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$src/images/out/minimal.vmlinuz</kernel><initrd>$src/images/out/minimal.initrd</initrd>
    <cmdline>console=ttyS0</cmdline></os>
  <devices><memballoon model='none'/></devices>
</domain>
XML
virsh -c "$E2E_URI" create "$tmp/dom.xml" >/dev/null || bad "could not create the leftover guest"
expect_eq "leftover guest running" "$(mr_domains)" "$((doms_before + 1))"
# Another machine's guest on the same libvirt host (its metadata names another
# controller): neither the warning nor clean may count or touch it.
foreign=mr-foreign-test-$$
sed -e "s/<name>$dom</<name>$foreign</" -e 's/cell="x"/cell="x" controller="another-machine"/' \
    "$tmp/dom.xml" >"$tmp/foreign.xml"
virsh -c "$E2E_URI" create "$tmp/foreign.xml" >/dev/null || bad "could not create the foreign guest"

# A live run: it warns about the leftovers, and clean must not touch it.
"$mr" "$src/matrices/demo.xml" -o "$tmp/r2" 2>"$tmp/err2" >/dev/null &
pid2=$!
wait_for "$tmp/err2" "booting" 60 || bad "the second run never started booting"
live_id=$(sed -n 's/.*\] run \([0-9a-f-]*\):.*/\1/p' "$tmp/err2")
expect_has "a new run warns about the leftovers" "$(cat "$tmp/err2")" \
    "WARNING earlier runs left 1 work folder(s) in $work, 1 guest(s) and 0 volume(s) of pool matrixrun on $E2E_URI behind; 'matrixrun clean' removes them"
"$mr" clean >"$tmp/clean.out" 2>&1
expect_eq "clean exit code" "$?" 0
cat "$tmp/clean.out"
expect_has "clean destroys the leftover guest" "$(cat "$tmp/clean.out")" "destroying guest $dom"
expect_has "clean removes the killed run's folder" "$(cat "$tmp/clean.out")" "removing work folder $work/$killed_id"
expect_has "clean counts" "$(cat "$tmp/clean.out")" "clean: 1 guest(s), 0 pool volume(s) and 1 work folder(s) of earlier runs removed"
expect_has "clean names the guest it leaves alone" "$(cat "$tmp/clean.out")" "leaving 1 guest(s) on $E2E_URI alone: another machine started them"
expect_eq "the foreign guest still runs" "$(virsh -c "$E2E_URI" domstate "$foreign" 2>&1)" "running"
virsh -c "$E2E_URI" destroy "$foreign" >/dev/null
if grep -q "$live_id" "$tmp/clean.out"; then bad "clean touched the live run"; else ok "clean left the live run alone"; fi
expect_eq "only the live run's folder remains" "$(ls "$work")" "$live_id"
wait "$pid2"
expect_eq "the live run finished normally (a test fails on purpose)" "$?" 1
expect_schema_valid "$tmp/r2/junit.xml" "$xsd"
for cell in minimal-1cpu minimal-2cpu; do expect_verdict "$tmp/r2/junit.xml" "$cell" selftest pass; done
expect_clean "$work" "$doms_before"
"$mr" clean >"$tmp/clean2.out" 2>&1
expect_has "a second clean finds nothing" "$(cat "$tmp/clean2.out")" "clean: 0 guest(s), 0 pool volume(s) and 0 work folder(s)"
rm -rf "$tmp"
e2e_summary e2e-kill
