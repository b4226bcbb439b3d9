#!/usr/bin/env bash
# e2e_release.sh MATRIXRUN SRCDIR XSD: boots a Debian release other than bookworm, the
# Debian 11 (bullseye) cloud image that images/build-cloud.sh builds with the suite
# "bullseye" (setup.sh builds it), from its disk with matrixrun's NoCloud seed: its own
# OpenSSH (8.4), cloud-init (20.4), systemd (247) and kernel (5.10). Installs the demo package
# with apt, runs its two tests (one fails on purpose) and checks the verdicts, the guest
# kernel, the OS and cloud-init facts the report and its archive carry, schema validity,
# that no private key leaks, and that nothing is left behind.
. "$(dirname "$0")/e2e_lib.sh"
mr=$1
src=$2
xsd=$3
base=$src/images/out/cloud-bullseye.qcow2
deb=$src/images/out/mr-demo_1.0_all.deb
for f in "$base" "$deb"; do
    [ -f "$f" ] || { echo "FAIL $f is missing: run 'bash setup.sh' first"; exit 1; }
done
e2e_init release
sum_before=$(sha256sum <"$base")
doms_before=$(mr_domains)

cat >"$tmp/release.xml" <<XML
<matrix version="1" name="release" retries="0">
  <host uri="qemu:///system" accel="tcg"/>
  <image name="debian-11" family="debian" version="11" memory-mib="1024" vcpus="2" boot-timeout="400">
    <disk path="$base"/>
  </image>
  <package name="mr-demo" version="1.0" install-timeout="300">
    <artifact family="debian" path="$deb"/>
  </package>
  <test name="selftest" timeout="60">mr-demo selftest</test>
  <test name="known-bug" timeout="60">mr-demo known-bug</test>
  <test name="os" timeout="60">. /etc/os-release &amp;&amp; echo "os: \$ID \$VERSION_ID \$VERSION_CODENAME" &amp;&amp; ssh -V 2>&amp;1 &amp;&amp; systemctl --version | head -n 1</test>
</matrix>
XML

MATRIXRUN_WORKDIR=$tmp/work "$mr" "$tmp/release.xml" -o "$tmp/reports" >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?
cat "$tmp/stderr" "$tmp/stdout"
r=$tmp/reports/junit.xml
c=debian-11
expect_eq "exit code (a test fails on purpose)" "$rc" 1
expect_schema_valid "$r" "$xsd"
expect_eq "one cell" "$(xp "$r" 'count(/testsuites/testsuite)')" 1
expect_verdict "$r" $c boot pass
expect_verdict "$r" $c install pass
expect_verdict "$r" $c selftest pass
expect_verdict "$r" $c os pass
expect_verdict "$r" $c known-bug failure
expect_has "selftest output" \
    "$(xp "$r" "string(//testsuite[@name='$c']/testcase[@name='selftest']/system-out)")" "selftest: ok"
expect_has "known-bug failure message" \
    "$(xp "$r" "string(//testsuite[@name='$c']/testcase[@name='known-bug']/failure/@message)")" \
    "exited with status 1"

prop() { xp "$r" "string(//testsuite[@name='$c']/properties/property[@name='$1']/@value)"; }
kernel=$(prop guest.kernel)
if [[ "$kernel" == 5.10.* ]]; then ok "guest kernel $kernel is Debian 11's 5.10"; else bad "guest kernel '$kernel', want 5.10.*"; fi
expect_eq "os.version" "$(prop os.version)" 11
expect_eq "family" "$(prop family)" debian
expect_eq "provisioning" "$(prop provisioning)" "cloud-init seed"
expect_eq "cloud-init finished" "$(prop cloud-init.status)" "done"
# The OS itself says which release it is, in the test's output and on the serial console.
expect_has "/etc/os-release in the guest" \
    "$(xp "$r" "string(//testsuite[@name='$c']/testcase[@name='os']/system-out)")" "os: debian 11 bullseye"
# Debian 11's own OpenSSH (8.4) and systemd (247), not bookworm's 9.2 and 252.
expect_has "OpenSSH in the guest" \
    "$(xp "$r" "string(//testsuite[@name='$c']/testcase[@name='os']/system-out)")" "OpenSSH_8.4"
expect_has "systemd in the guest" \
    "$(xp "$r" "string(//testsuite[@name='$c']/testcase[@name='os']/system-out)")" "systemd 247"
a=$tmp/reports/$c/artifacts.tar.gz
list=$(tar -tzf "$a" 2>&1 | sort | tr '\n' ' ')
for m in serial.log install.txt MANIFEST.txt logs/cloud-init.log logs/dpkg.log logs/journal.txt; do
    expect_has "archive holds $m" "$list" "$m"
done
expect_has "serial console: Debian 11" "$(tar -xzOf "$a" serial.log)" "Welcome to Debian GNU/Linux 11 (bullseye)"
# Debian 11's cloud-init is 20.4 (bookworm's 22.4): the log names the version that ran.
ci=$(tar -xzOf "$a" logs/cloud-init.log | grep -o -m1 'Cloud-init v\. [0-9][0-9.]*')
expect_has "cloud-init version from its log ($ci)" "$ci" "Cloud-init v. 20.4"
expect_has "cloud-init read the NoCloud seed" "$(tar -xzOf "$a" logs/cloud-init.log)" "DataSourceNoCloud"
expect_has "deb installed by apt" "$(tar -xzOf "$a" install.txt)" "apt-get install"
expect_has "dpkg log names the package" "$(tar -xzOf "$a" logs/dpkg.log)" "mr-demo:all 1.0"

expect_no_private_key "$tmp/reports" "$tmp/stdout" "$tmp/stderr"
expect_eq "base image unchanged (sha256)" "$(sha256sum <"$base")" "$sum_before"
expect_clean "$tmp/work" "$doms_before"
grep -h "ssh ready after" "$tmp/stderr" | sed 's/^/measured: /'
rm -rf "$tmp"
e2e_summary e2e-release
