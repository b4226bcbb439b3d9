#!/usr/bin/env bash
# e2e_login.sh MATRIXRUN SRCDIR XSD: a pre-provisioned login (<login user key hostkey>),
# for images that have their own key and no cloud-init. The minimal guest stands in for
# such an image: its kernel command line, written in the matrix, already carries the
# user's own key (matrixrun adds none), and its host key is pinned from its .pub. The
# cell logs in with the user's key file, which stays out of the report and the archive;
# a key file others can read is refused before anything boots; a key the guest does not
# know is a refused login, named as such.
. "$(dirname "$0")/e2e_lib.sh"
mr=$1
src=$2
xsd=$3
e2e_need_images "$src"
e2e_init login
img=$src/images/out
doms_before=$(mr_domains)
export MATRIXRUN_WORKDIR=$tmp/work
mkdir -p "$tmp/keys"
ssh-keygen -q -t ed25519 -N "" -C "qa@example" -f "$tmp/keys/qa"
ssh-keygen -q -t ed25519 -N "" -C "other" -f "$tmp/keys/other"
blob=$(cut -d' ' -f2 "$tmp/keys/qa.pub")

matrix() { # key-file
    cat <<XML
<matrix version="1" name="login">
  <host uri="$E2E_URI" accel="tcg"/>
  <image name="golden" family="debian" memory-mib="256" vcpus="1" boot-timeout="120">
    <disk path="$img/minimal.qcow2"/>
    <kernel path="$img/minimal.vmlinuz" initrd="$img/minimal.initrd"
            cmdline="console=ttyS0 root=/dev/vda rw matrixrun.authorized_key=ssh-ed25519:$blob"/>
    <login user="root" key="$1" hostkey="$img/minimal.hostkey.pub"/>
  </image>
  <package name="mr-demo" version="1.0">
    <artifact family="debian" path="$img/mr-demo_1.0_all.deb"/>
  </package>
  <test name="selftest" timeout="60">mr-demo selftest</test>
</matrix>
XML
}

matrix "$tmp/keys/qa" >"$tmp/login.xml"
expect_has "list says login" "$("$mr" list "$tmp/login.xml")" "provisioning=login"
"$mr" "$tmp/login.xml" -o "$tmp/r1" -q >"$tmp/out1" 2>&1
rc=$?
cat "$tmp/out1"
r=$tmp/r1/junit.xml
expect_eq "logs in with the image's own key: exit 0" "$rc" 0
expect_schema_valid "$r" "$xsd"
expect_verdict "$r" golden boot pass
expect_verdict "$r" golden install pass
expect_verdict "$r" golden selftest pass
expect_eq "provisioning property" "$(xp "$r" "string(//property[@name='provisioning']/@value)")" "pre-provisioned login"
expect_eq "host key pinned from the file" "$(xp "$r" "string(//property[@name='ssh.hostkey']/@value)")" "$(cut -d' ' -f1 "$img/minimal.hostkey.pub")"
# Nothing of the key file in the report, the archive or the work folder.
expect_no_private_key "$tmp/r1" "$tmp/out1"
priv_b64=$(sed -n '2p' "$tmp/keys/qa")
if grep -rqF "$priv_b64" "$tmp/r1" 2>/dev/null || tar -xzOf "$tmp/r1/golden/artifacts.tar.gz" 2>/dev/null | grep -qF "$priv_b64"; then
    bad "the key's content is in the report folder"
else
    ok "the key's content is nowhere in the report folder"
fi

# Readable by others: refused before anything boots, with the file and its mode.
chmod 644 "$tmp/keys/qa"
out=$("$mr" validate "$tmp/login.xml" 2>&1)
expect_eq "a key others can read: exit 2" "$?" 2
expect_has "its mode named" "$out" "can be read or written by others (mode 0644)"
chmod 600 "$tmp/keys/qa"

# A key the image does not know: the login is refused, and the error says so.
matrix "$tmp/keys/other" >"$tmp/wrong.xml"
sed -i 's/matrix version="1" name="login"/matrix version="1" name="login" retries="0"/; s/boot-timeout="120"/boot-timeout="45"/' "$tmp/wrong.xml"
"$mr" "$tmp/wrong.xml" -o "$tmp/r2" -q >"$tmp/out2" 2>&1
expect_eq "an unknown key: exit 3" "$?" 3
msg=$(xp "$tmp/r2/junit.xml" "string(//testcase[@name='boot']/error/@message)")
expect_has "the refused login is named" "$msg" "public key authentication as 'root' failed"
expect_clean "$tmp/work" "$doms_before"
rm -rf "$tmp"
e2e_summary e2e-login
