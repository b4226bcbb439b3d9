#!/usr/bin/env bash
# e2e_deps.sh MATRIXRUN SRCDIR XSD: packages with dependencies, and the network option,
# on real guests (the minimal image: dpkg).
# 1. mr-demo-plus alone, in an isolated cell: an install error that names the missing
#    mr-demo-lib, says the cell is isolated and points to <depends> and network="outbound".
# 2. mr-demo-plus with <depends> on mr-demo-lib: both installed in one dpkg call, and the
#    test that needs mr-demo-lib's file passes. The .rpm alone, through dnf on the
#    cloud-like image: the same message, from dnf's words. (With <depends>, the rpm paths
#    install in e2e_cloud.sh: dnf and zypper of several files.)
# 3. network: from inside the guest, a listener on the host's 127.0.0.1 (slirp's 10.0.2.2)
#    is unreachable from an isolated cell and reached from an outbound one; the outbound
#    guest's QEMU listens on 127.0.0.1 only. No traffic leaves 127.0.0.1.
. "$(dirname "$0")/e2e_lib.sh"
mr=$1
src=$2
xsd=$3
e2e_need_images "$src"
img=$src/images/out
for f in mr-demo-plus_1.0_all.deb mr-demo-lib_1.0_all.deb mr-demo-plus-1.0-1.noarch.rpm cloud.qcow2; do
    [ -f "$img/$f" ] || { echo "FAIL $img/$f is missing: run 'bash setup.sh' first"; exit 1; }
done
e2e_init deps
doms_before=$(mr_domains)
export MATRIXRUN_WORKDIR=$tmp/work

image() { # name [network]
    cat <<XML
  <image name="$1" family="debian" user="root" memory-mib="256" vcpus="1" boot-timeout="180"${2:+ network=\"$2\"}>
    <disk path="$img/minimal.qcow2"/>
    <kernel path="$img/minimal.vmlinuz" initrd="$img/minimal.initrd" cmdline="console=ttyS0 root=/dev/vda rw"/>
    <hostkey path="$img/minimal.hostkey.pub"/>
  </image>
XML
}
matrix() { # depends-element
    cat <<XML
<matrix version="1" name="deps">
  <host uri="$E2E_URI" accel="tcg"/>
$(image plus)
  <package name="mr-demo-plus" version="1.0">
    <artifact family="debian" path="$img/mr-demo-plus_1.0_all.deb">$1</artifact>
  </package>
  <test name="uses-lib" timeout="60">[ "\$(mr-demo-plus)" = "hello from mr-demo-lib" ]</test>
</matrix>
XML
}

matrix "" >"$tmp/alone.xml"
"$mr" "$tmp/alone.xml" -o "$tmp/r1" -q >"$tmp/out1" 2>&1
expect_eq "alone: exit 3 (install error)" "$?" 3
r=$tmp/r1/junit.xml
expect_schema_valid "$r" "$xsd"
expect_verdict "$r" plus install error
expect_verdict "$r" plus uses-lib skipped
msg=$(xp "$r" "string(//testcase[@name='install']/error/@message)")
expect_has "the missing dependency named" "$msg" "the package needs 'mr-demo-lib'"
expect_has "the cell said to be isolated" "$msg" "the cell is isolated"
expect_has "<depends> suggested" "$msg" "<depends path="
expect_has "network=outbound suggested" "$msg" 'network="outbound"'
expect_eq "network property" "$(xp "$r" "string(//property[@name='network']/@value)")" isolated

matrix "<depends path=\"$img/mr-demo-lib_1.0_all.deb\"/>" >"$tmp/with.xml"
"$mr" "$tmp/with.xml" -o "$tmp/r2" -q >"$tmp/out2" 2>&1
expect_eq "with <depends>: exit 0" "$?" 0
r=$tmp/r2/junit.xml
expect_schema_valid "$r" "$xsd"
expect_verdict "$r" plus install pass
expect_verdict "$r" plus uses-lib pass
expect_has "one install command for both" "$(xp "$r" "string(//testcase[@name='install']/system-out)")$(tar -xzOf "$tmp/r2/plus/artifacts.tar.gz" install.txt 2>/dev/null)" "mr-demo-lib_1.0_all.deb"

# The rpm path: the cloud-like image as a rhel 9 guest (Debian's dnf and rpm, seeded by
# cloud-init), mr-demo-plus's .rpm alone: dnf's own words name the missing dependency.
cat >"$tmp/rpm.xml" <<XML
<matrix version="1" name="deps-rpm" retries="0">
  <host uri="$E2E_URI" accel="tcg"/>
  <image name="rpm" family="rhel" version="9" memory-mib="1024" vcpus="2" boot-timeout="400">
    <disk path="$img/cloud.qcow2"/>
  </image>
  <package name="mr-demo-plus" version="1.0" install-timeout="300">
    <artifact family="rhel" path="$img/mr-demo-plus-1.0-1.noarch.rpm" version="1.0-1"/>
  </package>
  <test name="uses-lib" timeout="60">[ "\$(mr-demo-plus)" = "hello from mr-demo-lib" ]</test>
</matrix>
XML
"$mr" "$tmp/rpm.xml" -o "$tmp/r4" -q --overcommit 2 >"$tmp/out4" 2>&1
expect_eq "rpm alone: exit 3 (install error)" "$?" 3
r=$tmp/r4/junit.xml
expect_schema_valid "$r" "$xsd"
expect_verdict "$r" rpm install error
msg=$(xp "$r" "string(//testcase[@name='install']/error/@message)")
expect_has "rpm: dnf's missing dependency named" "$msg" "the package needs 'mr-demo-lib'"
expect_has "rpm: the cell said to be isolated" "$msg" "the cell is isolated"
expect_has "rpm: dnf's own words in the output" "$(xp "$r" "string(//testcase[@name='install']/system-out)")$(xp "$r" "string(//testcase[@name='install']/system-err)")" "nothing provides mr-demo-lib"

# A listener on the host's loopback; slirp shows the host's 127.0.0.1 to the guest as
# 10.0.2.2, unless restrict=on.
port_file=$tmp/listener.port
python3 - "$port_file" <<'PY' &
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.settimeout(600)
while True:
    c, _ = s.accept()
    c.sendall(b"reached\n")
    c.close()
PY
listener=$!
e2e_on_exit() { kill "$listener" 2>/dev/null; }
for _ in $(seq 50); do [ -s "$port_file" ] && break; sleep 0.1; done
port=$(cat "$port_file")
cat >"$tmp/net.xml" <<XML
<matrix version="1" name="net">
  <host uri="$E2E_URI" accel="tcg"/>
$(image isolated)
$(image outbound outbound)
  <package name="mr-demo" version="1.0">
    <artifact family="debian" path="$img/mr-demo_1.0_all.deb"/>
  </package>
  <test name="reach-host" timeout="60">out=\$(nc -w 5 10.0.2.2 $port &lt;/dev/null 2&gt;&amp;1); echo "got: \$out"; [ "\$out" = reached ]</test>
</matrix>
XML
"$mr" "$tmp/net.xml" -o "$tmp/r3" --overcommit 2 --keep >"$tmp/out3" 2>&1
rc=$?
cat "$tmp/out3"
r=$tmp/r3/junit.xml
expect_eq "network: exit 1 (the isolated cell cannot reach the host)" "$rc" 1
expect_schema_valid "$r" "$xsd"
expect_verdict "$r" outbound reach-host pass
expect_verdict "$r" isolated reach-host failure
expect_eq "outbound property" "$(xp "$r" "string(//testsuite[@name='outbound']//property[@name='network']/@value)")" outbound
run=$(xp "$r" "string(//testsuite[@name='outbound']//property[@name='run.id']/@value)")
pid=$(cat "/run/libvirt/qemu/mr-$run-outbound.pid" 2>/dev/null)
if [ -n "$pid" ]; then
    listens=$(ss -ltnpH 2>/dev/null | grep "pid=$pid," | awk '{print $4}')
    expect_has "the outbound guest's QEMU listens" "$listens" "127.0.0.1:"
    expect_eq "only on 127.0.0.1" "$(grep -v '^127\.0\.0\.1:' <<<"$listens")" ""
else
    bad "no pid file for mr-$run-outbound (kept with --keep)"
fi
"$mr" clean --kept >/dev/null 2>&1
expect_clean "$tmp/work" "$doms_before"
rm -rf "$tmp"
e2e_summary e2e-deps
