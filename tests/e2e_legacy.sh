#!/usr/bin/env bash
# e2e_legacy.sh MATRIXRUN SRCDIR XSD: the old releases' constraints, tested for real (issue
# 13 item 5). One run, three cells:
#   centos6-emu  images/out/legacy.qcow2 (images/build-legacy.sh) as family centos, version 6,
#                through the pre-provisioned <login> (no cloud-init): OpenSSH 5.3's algorithm
#                lists, an ssh-rsa host key only, sudo with requiretty, SysV init, no
#                journalctl, timeout or mktemp. The demo package, its test, the logs, and the
#                negotiated algorithms in the report.
#   centos6-ed25519  the same image, logging in with an ed25519 user key that is in the
#                user's authorized_keys (the recipe puts it there): refused for its type, as
#                OpenSSH 5.3 refuses it, and the error names the refused login.
#   cloud-rsa    the cloud-like image (images/out/cloud.qcow2, cloud-init) as family debian,
#                version 8, whose catalogue entry says <ssh keytype="rsa">: the seed hands
#                cloud-init rsa_private/rsa_public and the run pins that ssh-rsa key; in
#                the guest the key is the rsa host key file and no other type exists (an
#                RSA key handed over as ed25519_private would be presented as ssh-rsa by
#                this cloud-init and sshd too, but cloud-init 0.7.5 would ignore it).
#
# What is EMULATED, plainly:
#   - The legacy guest is Debian 12 (kernel 6.1, OpenSSH 9.2, sudo 1.9, dpkg) configured
#     with CentOS 6's constraints, not CentOS 6. Its package manager is dpkg, and the demo
#     package is a .deb, so the shipped centos entry (yum localinstall of an .rpm) cannot run
#     there: the run uses a catalogue of its own (-C), a copy of images/families.xml whose
#     centos family is the shipped one (same <ssh keytype="rsa" tty="yes"> for <= 6, same
#     SysV logs by version: /var/log/messages, no journalctl before 7) with dpkg in place of
#     yum/dnf (format deb, dpkg -i, dpkg-query, dpkg.log for yum.log) and one more log,
#     /var/log/secure, where sudo says which terminal it ran on.
#   - cloud-rsa is Debian 12's cloud-init 22.4 and OpenSSH 9.2 standing in for Debian 8
#     (cloud-init 0.7.6, no ed25519 in ssh_keys). OpenSSH 9.2 refuses the SHA-1 RSA
#     signature (ssh-rsa) that libssh2 1.10 makes for the user key, which the old releases
#     accept, and offers an RSA host key only as rsa-sha2-256/512, which libssh2 1.10 does
#     not know (the old releases offer ssh-rsa). So a <cloud-config> drop-in gives sshd
#     `HostKeyAlgorithms +ssh-rsa` and `PubkeyAcceptedAlgorithms +ssh-rsa` (write_files
#     runs before cloud-init's ssh module and before sshd starts).
. "$(dirname "$0")/e2e_lib.sh"
mr=$1
src=$2
xsd=$3
img=$src/images/out
for f in legacy.qcow2 legacy.hostkey.pub legacy.user.key legacy.user.key.pub legacy.user-ed25519.key cloud.qcow2 mr-demo_1.0_all.deb; do
    if [ ! -f "$img/$f" ]; then
        echo "FAIL $img/$f is missing: run 'bash setup.sh' first"
        exit 1
    fi
done
e2e_init legacy
doms_before=$(mr_domains)
export MATRIXRUN_WORKDIR=$tmp/work
t_start=$(date +%s)

# The catalogue: images/families.xml with its centos family on dpkg (see above).
python3 - "$src/images/families.xml" "$tmp/families.xml" <<'PY'
import re, sys
src = open(sys.argv[1]).read()
centos = '''<!-- EMULATED (tests/e2e_legacy.sh): the shipped centos family, on dpkg: the legacy
       guest is Debian with CentOS 6's constraints, and the package a .deb. -->
  <family name="centos" format="deb" user="cloud-user" shell="sh" seed="cloud-init"
          boot-timeout="360" tmpdir="/tmp">
    <ssh keytype="rsa" tty="yes" max-version="6"/>
    <ssh keytype="rsa" min-version="7" max-version="7"/>
    <ssh keytype="ed25519" min-version="8"/>
    <install>{sudo}env DEBIAN_FRONTEND=noninteractive dpkg -i {artifacts}</install>
    <version>dpkg-query -W -f='${Version}' {package}</version>
    <log name="cloud-init.log">{sudo}cat /var/log/cloud-init.log</log>
    <log name="cloud-init-output.log">{sudo}cat /var/log/cloud-init-output.log</log>
    <log name="cloud-init-status.txt" min-version="8">cloud-init status --long</log>
    <log name="dpkg.log">{sudo}cat /var/log/dpkg.log</log>
    <log name="journal.txt" min-version="7">{sudo}journalctl -b --no-pager -n 5000</log>
    <log name="messages" max-version="6">{sudo}tail -n 5000 /var/log/messages</log>
    <log name="secure" max-version="6">{sudo}tail -n 5000 /var/log/secure</log>
    <!-- A log with no version range, as a catalogue may forget: the guest lacks the
         program, and under sudo that must still read as absent (127), not failed. -->
    <log name="journal-any.txt">{sudo}journalctl -b --no-pager -n 50</log>
  </family>'''
out, n = re.subn(r'<family name="centos".*?</family>', lambda m: centos, src, flags=re.S)
assert n == 1, "no centos family in the catalogue"
open(sys.argv[2], "w").write(out)
PY
expect_eq "the test's catalogue is valid" "$(xmllint --noout --relaxng "$src/images/families.rng" "$tmp/families.xml" 2>&1 | tail -1)" "$tmp/families.xml validates"

cat >"$tmp/rsa-login.yaml" <<'YAML'
write_files:
  - path: /etc/ssh/sshd_config.d/50-matrixrun-ssh-rsa.conf
    content: |
      # e2e_legacy.sh: accept the SHA-1 RSA signature (ssh-rsa) libssh2 1.10 makes, as
      # the old releases this cell stands in for do.
      HostKeyAlgorithms +ssh-rsa
      PubkeyAcceptedAlgorithms +ssh-rsa
YAML

# A test that runs in every cell; in the legacy one it also checks the image's constraints.
cat >"$tmp/legacy.xml" <<XML
<matrix version="1" name="legacy" retries="0">
  <host uri="$E2E_URI" accel="tcg"/>
  <image name="centos6-emu" family="centos" version="6" memory-mib="384" vcpus="1" boot-timeout="180">
    <disk path="$img/legacy.qcow2"/>
    <login user="cloud-user" key="$img/legacy.user.key" hostkey="$img/legacy.hostkey.pub"/>
  </image>
  <image name="centos6-ed25519" family="centos" version="6" memory-mib="384" vcpus="1" boot-timeout="240">
    <disk path="$img/legacy.qcow2"/>
    <login user="cloud-user" key="$img/legacy.user-ed25519.key" hostkey="$img/legacy.hostkey.pub"/>
  </image>
  <image name="cloud-rsa" family="debian" version="8" user="debian" memory-mib="1024" vcpus="2" boot-timeout="240">
    <disk path="$img/cloud.qcow2"/>
    <cloud-config path="$tmp/rsa-login.yaml"/>
  </image>
  <package name="mr-demo" version="1.0" install-timeout="180">
    <artifact family="centos" path="$img/mr-demo_1.0_all.deb"/>
    <artifact family="debian" path="$img/mr-demo_1.0_all.deb"/>
  </package>
  <test name="selftest" timeout="60">mr-demo selftest</test>
  <test name="constraints" timeout="60"><![CDATA[case \$MATRIXRUN_CELL in centos6-*)
    for c in timeout mktemp journalctl systemctl cloud-init; do
      if command -v \$c >/dev/null; then echo "the legacy guest has \$c"; exit 1; fi; done
    setsid -w sudo -n true 2>&1 </dev/null | grep -q 'must have a tty' || { echo "sudo without a tty was not refused"; exit 1; }
    [ "\$(cat /proc/1/comm)" = init ] || { echo "pid 1 is \$(cat /proc/1/comm)"; exit 1; } ;;
  cloud-rsa)
    # cloud-init 0.7.5 reads rsa_private/rsa_public only: the seeded key must arrive as
    # the rsa host key, and no ed25519 host key may exist.
    sudo -n test -s /etc/ssh/ssh_host_rsa_key || { echo "no ssh_host_rsa_key: the seed did not give rsa_private"; exit 1; }
    if sudo -n ls /etc/ssh | grep -E '^ssh_host_(ed25519|ecdsa|dsa)_key'; then echo "host keys other than rsa"; exit 1; fi ;;
  esac; echo constraints-ok]]></test>
</matrix>
XML

expect_has "list: centos 6 takes the rsa/tty entry, logged in as pre-provisioned" \
    "$("$mr" -C "$tmp/families.xml" list "$tmp/legacy.xml" | grep '^centos6-emu')" "provisioning=login"

"$mr" -C "$tmp/families.xml" "$tmp/legacy.xml" -o "$tmp/r" --overcommit 3 >"$tmp/out" 2>&1
rc=$?
cat "$tmp/out"
r=$tmp/r/junit.xml
expect_eq "exit 3: the ed25519 cell is an error, the others pass" "$rc" 3
expect_schema_valid "$r" "$xsd"
prop() { xp "$r" "string(//testsuite[@name='$1']/properties/property[@name='$2']/@value)"; }

# --- centos6-emu: the legacy guest through the pre-provisioned login ---------------------
c=centos6-emu
for t in boot install selftest constraints; do expect_verdict "$r" $c $t pass; done
expect_eq "$c: provisioning" "$(prop $c provisioning)" "pre-provisioned login"
expect_eq "$c: host key type" "$(prop $c ssh.hostkey)" ssh-rsa
case $(prop $c ssh.kex) in
    diffie-hellman-group-exchange-sha1 | diffie-hellman-group14-sha1) ok "$c: kex $(prop $c ssh.kex)" ;;
    *) bad "$c: kex '$(prop $c ssh.kex)' is not one of OpenSSH 5.3's sha1 exchanges" ;;
esac
case $(prop $c ssh.cipher) in
    aes128-ctr | aes192-ctr | aes256-ctr | aes128-cbc | aes256-cbc) ok "$c: cipher $(prop $c ssh.cipher)" ;;
    *) bad "$c: cipher '$(prop $c ssh.cipher)' is not in the guest's list" ;;
esac
expect_eq "$c: mac" "$(prop $c ssh.mac)" hmac-sha1
mkdir -p "$tmp/a"
tar -xzf "$tmp/r/$c/artifacts.tar.gz" -C "$tmp/a"
manifest=$(cat "$tmp/a/MANIFEST.txt" 2>/dev/null)
expect_has "$c: no journal on SysV init: recorded absent" "$(grep '^logs/journal.txt ' <<<"$manifest")" "absent: centos 6 does not have it"
expect_eq "$c: nothing in the manifest is a failed log command but the missing cloud-init logs" \
    "$(grep -E 'exited with status|killed' <<<"$manifest" | grep -vE '^logs/cloud-init(-output)?\.log ' )" ""
expect_has "$c: journalctl under sudo on a guest without it: recorded absent, not failed" \
    "$(grep '^logs/journal-any.txt ' <<<"$manifest")" "absent: the guest has no such command (status 127)"
expect_has "$c: /var/log/messages collected" "$(grep '^logs/messages ' <<<"$manifest")" "bytes"
# The install went through sudo on a pseudo-terminal: sudo's requiretty let it through
# (without one it refuses, which the constraints test checks), and sudo logged the terminal.
sudo_install=$(grep 'COMMAND=/usr/bin/env DEBIAN_FRONTEND=noninteractive dpkg -i' "$tmp/a/logs/secure" 2>/dev/null | head -1)
expect_has "$c: the install ran through sudo on a terminal (/var/log/secure)" "$sudo_install" "TTY=pts/"
expect_has "$c: the package's postinst ran" "$(cat "$tmp/a/logs/dpkg.log" 2>/dev/null)" "status installed mr-demo:all 1.0"
expect_no_private_key "$tmp/r" "$tmp/out"

# --- centos6-ed25519: refused as OpenSSH 5.3 refuses an ed25519 key ------------------------
c=centos6-ed25519
expect_verdict "$r" $c boot error
msg=$(xp "$r" "string(//testsuite[@name='$c']/testcase[@name='boot']/error/@message)")
expect_has "$c: the refused login is named" "$msg" "boot: public key authentication as 'cloud-user' failed"
expect_eq "$c: a refused login, at once (not a boot timeout)" \
    "$(xp "$r" "string(//testsuite[@name='$c']/testcase[@name='boot']/error/@type)")" refused

# --- cloud-rsa: an RSA host key seeded through cloud-init, and pinned ----------------------
c=cloud-rsa
for t in boot install selftest constraints; do expect_verdict "$r" $c $t pass; done
expect_eq "$c: provisioning" "$(prop $c provisioning)" "cloud-init seed"
expect_eq "$c: the seeded RSA host key was pinned" "$(prop $c ssh.hostkey)" ssh-rsa

expect_clean "$tmp/work" "$doms_before"
echo "e2e-legacy: the run took $(( $(date +%s) - t_start )) s; boot to SSH login:" \
    "centos6-emu $(xp "$r" "string(//testsuite[@name='centos6-emu']/testcase[@name='boot']/@time)") s," \
    "cloud-rsa $(xp "$r" "string(//testsuite[@name='cloud-rsa']/testcase[@name='boot']/@time)") s"
if [ "$E2E_FAIL" -eq 0 ]; then rm -rf "$tmp"; else echo "e2e-legacy: kept $tmp for a look"; fi
e2e_summary e2e-legacy
