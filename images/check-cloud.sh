#!/usr/bin/env bash
# needs: libvirt-clients qemu-utils xorriso openssh-client rpm e2fsprogs dpkg
#
# Boots images/out/cloud.qcow2 (from images/build-cloud.sh; or IMAGE, e.g. the bullseye or
# trixie image cloud-SUITE.qcow2) once under the system libvirtd,
# TCG, with a NoCloud seed made here, and checks what the runner relies on: the seeded host key
# is the one presented, the seeded user logs in with its key and has passwordless sudo,
# cloud-init finishes; then installs a locally built noarch .rpm (with a %post scriptlet) with
# rpm, dnf and zypper in turn (where the image has them: only the bookworm image does; the
# others say so and skip those three), and a .deb with dpkg and apt-get. Prints timings. Destroys the domain and
# removes its files at the end, also on failure.
#
# usage: bash images/check-cloud.sh [IMAGE] [--bad-user-data]     (as root)
#   --bad-user-data   seed with user-data that is not valid YAML; reports what the guest does.
# env: PORT (host loopback port forwarded to the guest's 22, default 2299), VCPUS (2), MEM_MIB (1024),
#      KEEP=1 leaves the domain running and its files in place, and says how to remove them.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
image=$here/out/cloud.qcow2
bad=no
for a; do
    case $a in
        --bad-user-data) bad=yes ;;
        -*) echo "usage: $0 [IMAGE] [--bad-user-data]" >&2; exit 2 ;;
        *) image=$a ;;
    esac
done
image=$(readlink -f "$image")
port=${PORT:-2299}
vcpus=${VCPUS:-2}
mem=${MEM_MIB:-1024}
uri=qemu:///system
name=cloudcheck-$$
user=matrixrun

say() { printf 'check-cloud: %s\n' "$*"; }
die() { printf 'check-cloud: error: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "must run as root (system libvirtd)"
[ -f "$image" ] || die "no image $image (bash images/build-cloud.sh first)"
for c in virsh qemu-img xorriso ssh ssh-keygen ssh-keyscan rpmbuild dpkg-deb debugfs; do
    command -v "$c" >/dev/null || die "command $c not found"
done
! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || die "127.0.0.1:$port is in use (set PORT)"

# A folder libvirt-qemu can reach (mktemp -d makes 0700).
W=$(mktemp -d /var/tmp/check-cloud.XXXXXX)
chmod 0755 "$W"
started=no
watcher=
cleanup() {
    local rc=$?
    if [ -n "$watcher" ]; then kill "$watcher" 2>/dev/null || true; fi
    if [ "${KEEP:-0}" = 1 ] && [ $started = yes ]; then
        say "KEEP=1: domain $name left running, files in $W (ssh: ssh -p $port -i $W/id" \
            "-o UserKnownHostsFile=$W/known_hosts $user@127.0.0.1); clean up with:" \
            "virsh -c $uri destroy $name; rm -rf $W"
        exit $rc
    fi
    if [ $started = yes ]; then virsh -q -c "$uri" destroy "$name" >/dev/null 2>&1 || true; fi
    rm -rf "$W"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- keys, seed, overlay, domain ----------------------------------------------------------------
ssh-keygen -q -t ed25519 -N '' -C "$user@check-cloud" -f "$W/id"
ssh-keygen -q -t ed25519 -N '' -C "check-cloud-hostkey" -f "$W/hostkey"
printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$W/hostkey.pub")" > "$W/known_hosts"

mkdir "$W/seed"
printf 'instance-id: %s\nlocal-hostname: cloudcheck\n' "$name" > "$W/seed/meta-data"
if [ $bad = yes ]; then
    printf '#cloud-config\nusers: [ {name: %s\nssh_keys: : :\n' "$user" > "$W/seed/user-data"
else
    {
        echo '#cloud-config'
        echo 'users:'
        echo "  - name: $user"
        echo '    shell: /bin/bash'
        echo "    sudo: 'ALL=(ALL) NOPASSWD:ALL'"
        echo '    lock_passwd: true'
        echo '    ssh_authorized_keys:'
        echo "      - $(cat "$W/id.pub")"
        echo 'ssh_deletekeys: true'
        echo 'ssh_keys:'
        echo '  ed25519_private: |'
        sed 's/^/    /' "$W/hostkey"
        echo "  ed25519_public: $(cat "$W/hostkey.pub")"
        echo 'manage_etc_hosts: true'
    } > "$W/seed/user-data"
fi
# DHCP (IPv4) on the NIC, as matrixrun's seed asks. Without network-config cloud-init uses
# its fallback, which from 24.x on also asks for DHCPv6 (ifupdown: "iface ens16 inet6
# dhcp"): slirp answers no DHCPv6, and trixie's networking.service waits for it until its
# 5 min start timeout, so sshd never starts within this script's 300 s.
mac=52:54:00:12:34:56
printf 'version: 1\nconfig:\n  - type: physical\n    name: eth0\n    mac_address: "%s"\n    subnets:\n      - type: dhcp\n' \
    "$mac" > "$W/seed/network-config"
xorriso -as mkisofs -quiet -V cidata -J -R -o "$W/seed.iso" "$W/seed/user-data" "$W/seed/meta-data" \
    "$W/seed/network-config" 2>/dev/null
qemu-img create -q -f qcow2 -F qcow2 -b "$image" "$W/overlay.qcow2"

cat > "$W/dom.xml" <<EOF
<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>$name</name>
  <memory unit='MiB'>$mem</memory>
  <vcpu>$vcpus</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/><source file='$W/overlay.qcow2'/><target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/><source file='$W/seed.iso'/><target dev='hdc' bus='ide'/><readonly/>
    </disk>
    <serial type='file'><source path='$W/serial.log'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
  <qemu:commandline>
    <qemu:arg value='-netdev'/>
    <qemu:arg value='user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$port-:22'/>
    <qemu:arg value='-device'/><qemu:arg value='virtio-net-pci,netdev=n0,addr=0x10,mac=$mac'/>
  </qemu:commandline>
</domain>
EOF

ssh_opts=(-p "$port" -i "$W/id" -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=5
          -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$W/known_hosts" -o LogLevel=ERROR)
g() { ssh "${ssh_opts[@]}" "$user@127.0.0.1" "$@"; }
# The host keys the guest presents, one type at a time: ssh-keyscan's default, all types at
# once, timed out here even with -T 20 (each type alone answers in under a second).
keyscan() {
    local t
    for t in rsa ecdsa ed25519; do ssh-keyscan -T 15 -t "$t" -p "$port" 127.0.0.1 2>/dev/null || true; done
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

say "booting $image as $name (TCG, $vcpus vCPU, $mem MiB, ssh on 127.0.0.1:$port)"
t0=$(now)
virsh -q -c "$uri" create "$W/dom.xml" >/dev/null
started=yes
say "virsh create returned after $(since "$t0") s"
# Boot phases, from the serial console: when each marker first appears (polled every 0.2 s).
(
    for m in 'Loading Linux' 'Welcome to' "running 'init-local'" "running 'init'" \
             "running 'modules:config'" "running 'modules:final'" 'Cloud-init v. .* finished'; do
        until grep -a -q -e "$m" "$W/serial.log" 2>/dev/null; do sleep 0.2; done
        printf '    %5s s  %s\n' "$(since "$t0")" "$m"
    done > "$W/timeline"
) &
watcher=$!

if [ $bad = yes ]; then
    # Wait for sshd (its banner), then for cloud-init's verdict as reported on the console.
    until banner=$(timeout 3 ssh-keyscan -p "$port" -t ed25519 127.0.0.1 2>/dev/null) && [ -n "$banner" ]; do
        [ "$(since "$t0" | cut -d. -f1)" -lt 300 ] || die "sshd never answered"
        sleep 1
    done
    say "sshd answers after $(since "$t0") s"
    for _ in $(seq 120); do grep -q 'Cloud-init v. .* finished' "$W/serial.log" && break; sleep 1; done
    say "host keys presented (ssh-keyscan):"; keyscan | sed 's/^/    /'
    if grep -qF "$(cut -d' ' -f2 "$W/hostkey.pub")" <(keyscan); then
        say "the seeded host key IS presented"
    else
        say "the seeded host key is NOT presented"
    fi
    if g true 2>"$W/err"; then say "login as $user WORKS"; else say "login as $user fails: $(tr '\n' ' ' < "$W/err")"; fi
    say "serial console lines from cloud-init with WARNING, ERROR or Traceback, and the line after:"
    grep -a -A1 -E 'cloud-init.*(WARNING|ERROR|Traceback)' "$W/serial.log" | head -n 40 | sed 's/^/    /'
    # What the guest did, read from its disk: shut it down cleanly (ACPI; debugfs does not
    # replay the journal), then read the overlay's root filesystem (partition 1 at 1 MiB).
    virsh -q -c "$uri" shutdown "$name" >/dev/null
    for _ in $(seq 120); do virsh -q -c "$uri" domstate "$name" >/dev/null 2>&1 || break; sleep 1; done
    virsh -q -c "$uri" destroy "$name" >/dev/null 2>&1 || true; started=no
    say "guest powered off after $(since "$t0") s"
    qemu-img convert -O raw "$W/overlay.qcow2" "$W/disk.raw"
    rd() { debugfs -R "$1" "$W/disk.raw?offset=1048576" 2>/dev/null; }
    say "users with a UID >= 1000 in the guest's /etc/passwd:"
    rd 'cat /etc/passwd' | awk -F: '$3 >= 1000 && $3 < 65534 { print "    " $0 }'
    say "authorized_keys files:"
    for h in /root /home/debian /home/$user; do
        k=$(rd "cat $h/.ssh/authorized_keys")
        [ -z "$k" ] || printf '    %s: %s\n' "$h" "$(head -c 120 <<<"$k")"
    done
    say "cloud-init's /var/lib/cloud/data/result.json:"
    rd 'cat /var/lib/cloud/data/result.json' | sed 's/^/    /'
    say "cloud-init's /var/lib/cloud/data/status.json, errors:"
    rd 'cat /var/lib/cloud/data/status.json' | grep -A3 '"errors"' | sed 's/^/    /'
    exit 0
fi

until g true 2>/dev/null; do
    [ "$(since "$t0" | cut -d. -f1)" -lt 300 ] || { tail -n 30 "$W/serial.log" >&2; die "no SSH within 300 s"; }
    sleep 1
done
t_ssh=$(since "$t0")
say "SSH ready (seeded host key pinned, key login as $user) after $t_ssh s"
g sudo -n true || die "sudo -n true failed"
say "sudo -n true: ok"
set +e
g cloud-init status --wait >"$W/status" 2>&1
ci_rc=$?
set -e
say "cloud-init status --wait returned $ci_rc after $(since "$t0") s: $(tr -d '.\n' < "$W/status" | tr -s ' ')"
g cloud-init status --long 2>&1 | sed 's/^/    /'
say "host keys presented (ssh-keyscan):"; keyscan | sed 's/^/    /'
kill "$watcher" 2>/dev/null || true
say "serial console markers (seconds after virsh create):"; cat "$W/timeline"
g 'uname -r; . /etc/os-release; echo "$PRETTY_NAME"; cloud-init --version 2>&1; sudo -n systemd-analyze time 2>/dev/null | head -n1; hostname; grep cloudcheck /etc/hosts' | sed 's/^/    /'

# --- package installs ---------------------------------------------------------------------------
say "building a noarch .rpm and an all .deb, each with a post-install script"
mkdir -p "$W/rpm/SPECS" "$W/deb/DEBIAN" "$W/deb/usr/share/mrcheck"
cat > "$W/rpm/SPECS/mrcheck.spec" <<'EOF'
Name: mrcheck
Version: 1.2.3
Release: 4
Summary: check-cloud test package
License: MIT
BuildArch: noarch
%description
Test package for check-cloud.sh.
%install
mkdir -p %{buildroot}/usr/share/mrcheck
echo hello > %{buildroot}/usr/share/mrcheck/hello.txt
%post
echo "post $1" > /var/tmp/mrcheck-post
%files
/usr/share/mrcheck/hello.txt
EOF
rpmbuild --quiet --define "_topdir $W/rpm" -bb "$W/rpm/SPECS/mrcheck.spec" >/dev/null 2>&1 ||
    die "rpmbuild failed"
rpmf=$W/rpm/RPMS/noarch/mrcheck-1.2.3-4.noarch.rpm
printf 'Package: mrcheck\nVersion: 1.2.3-4\nArchitecture: all\nMaintainer: check <c@example.org>\nDescription: test\n' \
    > "$W/deb/DEBIAN/control"
printf '#!/bin/sh\necho "post $1" > /var/tmp/mrcheck-post\n' > "$W/deb/DEBIAN/postinst"
chmod 0755 "$W/deb/DEBIAN/postinst"
echo hello > "$W/deb/usr/share/mrcheck/hello.txt"
dpkg-deb -b --root-owner-group "$W/deb" "$W/mrcheck.deb" >/dev/null
scp -q -P "$port" -i "$W/id" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes \
    -o UserKnownHostsFile="$W/known_hosts" "$rpmf" "$W/mrcheck.deb" "$user@127.0.0.1:/tmp/"

# try LABEL INSTALL-COMMAND QUERY-COMMAND REMOVE-COMMAND
fails=0
try() {
    local t rc
    t=$(now)
    if g "sudo -n rm -f /var/tmp/mrcheck-post; $2" >"$W/out" 2>&1; then
        rc=0; else rc=$?; fi
    local v post
    v=$(g "$3" 2>/dev/null || true)
    post=$(g 'cat /var/tmp/mrcheck-post 2>/dev/null' || true)
    say "$1: exit $rc in $(since "$t") s, version '$v', post-install '$post'"
    if [ $rc -ne 0 ] || [ "$v" != 1.2.3-4 ] || [ -z "$post" ]; then
        fails=$((fails + 1)); sed 's/^/    | /' "$W/out"
    fi
    g "$4" >/dev/null 2>&1 || true
}
rq="rpm -q --qf '%{VERSION}-%{RELEASE}' mrcheck"
unchecked=
if g 'command -v rpm && command -v dnf && command -v zypper' >/dev/null 2>&1; then
    try rpm    "sudo -n rpm -i /tmp/mrcheck-1.2.3-4.noarch.rpm" "$rq" "sudo -n rpm -e mrcheck"
    try dnf    "sudo -n dnf install -y /tmp/mrcheck-1.2.3-4.noarch.rpm" "$rq" "sudo -n rpm -e mrcheck"
    try zypper "sudo -n zypper --non-interactive install --allow-unsigned-rpm /tmp/mrcheck-1.2.3-4.noarch.rpm" \
        "$rq" "sudo -n rpm -e mrcheck"
else
    unchecked=" (rpm, dnf, zypper NOT checked: not in this image)"
    say "rpm, dnf and zypper: NOT CHECKED, the image lacks one of them (build-cloud.sh puts them in the bookworm image only)"
fi
try dpkg   "sudo -n env DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/mrcheck.deb" \
    "dpkg-query -W -f='\${Version}' mrcheck" "sudo -n dpkg -P mrcheck"
try apt    "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y /tmp/mrcheck.deb" \
    "dpkg-query -W -f='\${Version}' mrcheck" "sudo -n dpkg -P mrcheck"

[ $fails -eq 0 ] || die "$fails install path(s) failed"
if [ "${KEEP:-0}" != 1 ]; then
    t=$(now)
    virsh -q -c "$uri" shutdown "$name" >/dev/null
    for _ in $(seq 120); do virsh -q -c "$uri" domstate "$name" >/dev/null 2>&1 || break; sleep 0.5; done
    if virsh -q -c "$uri" domstate "$name" >/dev/null 2>&1; then
        say "virsh shutdown: still running after $(since "$t") s"
    else
        started=no; say "virsh shutdown: powered off in $(since "$t") s"
    fi
fi
say "all checks passed$unchecked; total $(since "$t0") s"
