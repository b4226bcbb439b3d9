#!/usr/bin/env bash
# e2e_cloud.sh MATRIXRUN SRCDIR XSD: boots the stock-cloud-like image (images/build-cloud.sh:
# systemd, openssh-server, cloud-init, no user, no key) from its disk with matrixrun's
# NoCloud seed, once per install path: deb (apt), rpm through dnf (family rhel 9) and
# rpm through zypper (family sles), with packages this script builds with dpkg-deb and
# rpmbuild; and once with a seed cloud-init rejects. Checks verdicts, versions, the
# artifacts archive of every cell, that no private key leaks, and that nothing is left.
. "$(dirname "$0")/e2e_lib.sh"
mr=$1
src=$2
xsd=$3
base=$src/images/out/cloud.qcow2
[ -f "$base" ] || { echo "FAIL $base is missing: run 'bash setup.sh' first"; exit 1; }
e2e_init cloud
sum_before=$(sha256sum <"$base")
doms_before=$(mr_domains)

# The package under test, built here: a .deb and a .rpm of the same files.
pkg=$tmp/pkg
mkdir -p "$pkg/root/usr/bin" "$pkg/root/DEBIAN" "$pkg/rpm"
cat >"$pkg/root/usr/bin/mr-probe" <<'SH'
#!/bin/sh
# mr-probe: reports where it runs; fails if its install script did not run.
cat /var/lib/mr-probe/stamp && echo "probe ok on $(hostname)"
SH
chmod 0755 "$pkg/root/usr/bin/mr-probe"
cat >"$pkg/root/DEBIAN/control" <<'CTL'
Package: mr-probe
Version: 2.5-1
Architecture: all
Maintainer: matrixrun tests <dev@matrixrun.invalid>
Description: package the end-to-end tests install
CTL
printf '#!/bin/sh\nmkdir -p /var/lib/mr-probe && echo "installed by dpkg" >/var/lib/mr-probe/stamp\n' \
    >"$pkg/root/DEBIAN/postinst"
chmod 0755 "$pkg/root/DEBIAN/postinst"
dpkg-deb --root-owner-group --build "$pkg/root" "$tmp/mr-probe_2.5-1_all.deb" >/dev/null ||
    { echo "FAIL dpkg-deb"; exit 1; }
cat >"$pkg/mr-probe.spec" <<SPEC
Name: mr-probe
Version: 2.5
Release: 1
Summary: package the end-to-end tests install
License: MIT
BuildArch: noarch
%description
package the end-to-end tests install
%install
mkdir -p %{buildroot}/usr/bin
install -m 0755 $pkg/root/usr/bin/mr-probe %{buildroot}/usr/bin/mr-probe
%post
mkdir -p /var/lib/mr-probe && echo "installed by rpm" >/var/lib/mr-probe/stamp
%files
/usr/bin/mr-probe
SPEC
rpmbuild -bb --nodeps --quiet --define "_topdir $pkg/rpm" "$pkg/mr-probe.spec" >/dev/null ||
    { echo "FAIL rpmbuild"; exit 1; }
cp "$pkg/rpm/RPMS/noarch/mr-probe-2.5-1.noarch.rpm" "$tmp/"

# Extra cloud-config from the matrix, merged into matrixrun's seed; and one that is not
# YAML at all, which cloud-init rejects (the guest then never gets the user or host key).
cat >"$tmp/extra.yaml" <<'YAML'
#cloud-config
write_files:
  - path: /etc/matrixrun-extra
    content: "from the matrix\n"
YAML
printf '#cloud-config\nwrite_files: [ {path: /etc/x, content: "unclosed\n' >"$tmp/broken.yaml"

cell() { # name family version [boot-timeout] [cloud-config]
    cat <<XML
  <image name="$1" family="$2" version="$3" memory-mib="1024" vcpus="2" boot-timeout="${4:-400}">
    <disk path="$base"/>
    <cloud-config path="${5:-extra.yaml}"/>
  </image>
XML
}
{
    # retries="0": the rejected seed would fail the same way again (e2e_faults tests retries)
    echo '<matrix version="1" name="cloud" retries="0">'
    echo '  <host uri="qemu:///system" accel="tcg"/>'
    cell debian-12 debian 12
    cell rhel-9 rhel 9
    cell sles-15 sles 15-SP5
    cell bad-seed debian 12 150 broken.yaml
    cat <<XML
  <package name="mr-probe" version="2.5-1" install-timeout="300">
    <artifact family="debian" path="mr-probe_2.5-1_all.deb">
      <depends path="$src/images/out/mr-demo-lib_1.0_all.deb"/>
    </artifact>
    <artifact family="rhel" path="mr-probe-2.5-1.noarch.rpm">
      <depends path="$src/images/out/mr-demo-lib-1.0-1.noarch.rpm"/>
    </artifact>
    <artifact family="sles" path="mr-probe-2.5-1.noarch.rpm">
      <depends path="$src/images/out/mr-demo-lib-1.0-1.noarch.rpm"/>
    </artifact>
  </package>
  <test name="probe" timeout="60">mr-probe</test>
  <!-- <depends>: installed with the artifact in one apt-get, dnf or zypper call. -->
  <test name="depends" timeout="60">test -f /usr/share/mr-demo-lib/greeting</test>
  <test name="sudo" timeout="60">sudo -n true &amp;&amp; test "\$(id -u)" != 0</test>
  <test name="extra-config" timeout="60">grep -q "from the matrix" /etc/matrixrun-extra</test>
</matrix>
XML
} >"$tmp/cloud.xml"

MATRIXRUN_WORKDIR=$tmp/work "$mr" "$tmp/cloud.xml" -o "$tmp/reports" >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?
cat "$tmp/stderr" "$tmp/stdout"
r=$tmp/reports/junit.xml
expect_eq "exit code (the rejected seed is an infrastructure error)" "$rc" 3
expect_schema_valid "$r" "$xsd"
expect_eq "four cells" "$(xp "$r" 'count(/testsuites/testsuite)')" 4

prop() { xp "$r" "string(//testsuite[@name='$1']/properties/property[@name='$2']/@value)"; }
for c in debian-12 rhel-9 sles-15; do
    for t in boot install probe sudo extra-config; do expect_verdict "$r" "$c" "$t" pass; done
    expect_eq "$c provisioning" "$(prop "$c" provisioning)" "cloud-init seed"
    expect_eq "$c cloud-init finished" "$(prop "$c" cloud-init.status)" done
    kernel=$(prop "$c" guest.kernel)
    if [[ "$kernel" =~ ^[0-9]+\.[0-9]+\.[0-9]+-.*amd64$ ]]; then ok "$c guest kernel $kernel"; else bad "$c guest kernel '$kernel'"; fi
    expect_has "$c probe ran in the guest named after the cell" \
        "$(xp "$r" "string(//testsuite[@name='$c']/testcase[@name='probe']/system-out)")" "probe ok on $c"
    a=$tmp/reports/$c/artifacts.tar.gz
    expect_has "$c archive attached" "$(xp "$r" "string(//testsuite[@name='$c']/system-out)")" "[[ATTACHMENT|$a]]"
    list=$(tar -tzf "$a" 2>&1 | sort | tr '\n' ' ')
    for m in serial.log install.txt MANIFEST.txt logs/cloud-init.log logs/cloud-init-output.log logs/journal.txt; do
        expect_has "$c archive holds $m" "$list" "$m"
    done
    expect_has "$c cloud-init log shows the NoCloud seed" "$(tar -xzOf "$a" logs/cloud-init.log)" "DataSourceNoCloud"
    expect_has "$c serial log in the archive" "$(tar -xzOf "$a" serial.log)" "Welcome to Debian"
done
# Each install path really ran, and its own log shows it.
expect_has "deb installed by apt" "$(tar -xzOf "$tmp/reports/debian-12/artifacts.tar.gz" install.txt)" "apt-get install"
expect_has "dpkg log names the package" "$(tar -xzOf "$tmp/reports/debian-12/artifacts.tar.gz" logs/dpkg.log)" "mr-probe:all 2.5-1"
expect_has "rpm installed by dnf" "$(tar -xzOf "$tmp/reports/rhel-9/artifacts.tar.gz" install.txt)" "dnf -y install"
for c in debian-12 rhel-9 sles-15; do
    expect_verdict "$r" "$c" depends pass
    expect_has "$c: the dependency in the same install command" \
        "$(tar -xzOf "$tmp/reports/$c/artifacts.tar.gz" install.txt | head -n 1)" "mr-demo-lib"
done
expect_has "probe stamp from rpm (rhel)" "$(xp "$r" "string(//testsuite[@name='rhel-9']/testcase[@name='probe']/system-out)")" "installed by rpm"
expect_has "rpm installed by zypper" "$(tar -xzOf "$tmp/reports/sles-15/artifacts.tar.gz" install.txt)" "zypper --non-interactive"
expect_has "probe stamp from rpm (sles)" "$(xp "$r" "string(//testsuite[@name='sles-15']/testcase[@name='probe']/system-out)")" "installed by rpm"
expect_has "zypper log kept" "$(tar -tzf "$tmp/reports/sles-15/artifacts.tar.gz")" "logs/zypper.log"

# The seed cloud-init rejected: an error naming the cell and the boot timeout; the rest
# skipped; its serial log archived.
expect_verdict "$r" bad-seed boot error
expect_verdict "$r" bad-seed install skipped
expect_has "bad-seed message" "$(xp "$r" "string(//testsuite[@name='bad-seed']/testcase[@name='boot']/error/@message)")" \
    "did not answer SSH within its boot timeout of 150 s"
# What the guest shows meanwhile varies from run to run (no SSH yet, a failing handshake,
# or host keys cloud-init made itself, which matrixrun refuses): only the outcome is
# checked.
expect_has "bad-seed progress names the cell" "$(cat "$tmp/stderr")" "bad-seed: ERROR boot:"
expect_has "bad-seed serial log archived" "$(tar -tzf "$tmp/reports/bad-seed/artifacts.tar.gz")" "serial.log"

# Nothing secret in the reports, the logs or inside any archive.
expect_no_private_key "$tmp/reports" "$tmp/stdout" "$tmp/stderr"
expect_eq "base image unchanged (sha256)" "$(sha256sum <"$base")" "$sum_before"
expect_clean "$tmp/work" "$doms_before"
grep -h "ssh ready after" "$tmp/stderr" | sed 's/^/measured: /'
rm -rf "$tmp"
e2e_summary e2e-cloud
