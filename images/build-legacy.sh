#!/usr/bin/env bash
# needs: mmdebstrap apt dpkg debian-archive-keyring e2fsprogs fdisk grub-pc-bin grub-common qemu-utils util-linux coreutils openssh-client
#
# Builds matrixrun's legacy guest: a Debian 12 disk image that stands in for the old
# releases of the guide's list (CentOS 6.5, RHEL 5.11) with their constraints, for a
# pre-provisioned <login> (no cloud-init, no seed):
#   - SysV init (sysvinit-core), no systemd: no journalctl, no systemctl;
#   - openssh-server limited to OpenSSH 5.3's algorithm lists: one ssh-rsa host key (RSA
#     3072, PEM), kex diffie-hellman-group-exchange-sha1 and diffie-hellman-group14-sha1,
#     aes-ctr/cbc ciphers, hmac-sha1, and PubkeyAcceptedAlgorithms ssh-rsa (an ed25519 user
#     key is refused, as 5.3 refuses it);
#   - a non-root user, cloud-user, with passwordless sudo under `Defaults requiretty`;
#   - no `timeout` and no `mktemp` binaries (diverted away from coreutils);
#   - rsyslog writing /var/log/messages and /var/log/secure as CentOS does (its SysV
#     script comes from orphan-sysvinit-scripts: Debian 12's rsyslog ships none);
#   - no cloud-init.
# It is emulation: the kernel, OpenSSH 9.2, sudo 1.9 and dpkg are Debian 12's; only the
# constraints above are the old releases'. The package manager stays dpkg.
#
# usage: bash images/build-legacy.sh [OUTDIR]      (as root; OUTDIR defaults to images/out)
#
# Outputs in OUTDIR: legacy.qcow2 (boots from disk: MBR + GRUB, ext4 root on /dev/vda1),
# legacy.manifest (package versions, sshd's effective algorithms), legacy.hostkey.pub (the
# host key to pin), legacy.user.key (mode 0600) and legacy.user.key.pub (cloud-user's key
# pair, RSA 3072 PEM): a matrix logs in with
#   <login user="cloud-user" key="legacy.user.key" hostkey="legacy.hostkey.pub"/>
# and legacy.user-ed25519.key(.pub), an ed25519 pair that is in authorized_keys too but
# that the guest refuses for its type (tests/e2e_legacy.sh checks it is refused).
#
# As build-cloud.sh: packages from the host's apt sources for bookworm, no loop device, no
# mount (mke2fs -d, GRUB written with dd). Nothing under the root filesystem is resolved
# through the host: checks use -e/-L on paths whose links are relative, or chroot.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
outdir=${1:-$here/out}
suite=bookworm
name=legacy
user=cloud-user
disk_size_mib=1024
part_start_mib=1
fs_label=legacy-root
# net.ifnames=0: the NIC is eth0, which /etc/network/interfaces names.
cmdline="console=ttyS0,115200n8 net.ifnames=0 quiet"
packages=(
    sysvinit-core openssh-server sudo linux-image-amd64 ifupdown isc-dhcp-client netbase
    rsyslog orphan-sysvinit-scripts e2fsprogs
)
grub_dir=/usr/lib/grub/i386-pc

t0=$(date +%s)
say() { printf 'build-legacy: [%3ds] %s\n' "$(( $(date +%s) - t0 ))" "$*"; }
die() { printf 'build-legacy: error: %s\n' "$*" >&2; exit 1; }

# --- preconditions --------------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "must run as root (mmdebstrap --mode=root, files owned by root)"
[ "$(dpkg --print-architecture)" = amd64 ] || die "only amd64 hosts are supported"
needs=$(sed -n 's/^# needs: //p' "${BASH_SOURCE[0]}")
missing=()
for p in $needs; do
    st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
    case $st in ii*) ;; *) missing+=("$p") ;; esac
done
[ ${#missing[@]} -eq 0 ] || die "missing host packages: ${missing[*]} (apt-get install ${missing[*]})"
for c in mmdebstrap apt-config mke2fs sfdisk grub-mkimage qemu-img dd truncate ssh-keygen; do
    command -v "$c" >/dev/null || die "command '$c' not found although its package is installed"
done
[ -f "$grub_dir/boot.img" ] && [ -f "$grub_dir/normal.mod" ] || die "$grub_dir lacks GRUB's BIOS images"

sources=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    if grep -v '^[[:space:]]*#' "$f" | grep -qw -- "$suite"; then sources+=("$f"); fi
done
[ ${#sources[@]} -gt 0 ] || die "no apt sources file under /etc/apt names '$suite'"

mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

S=$(mktemp -d /tmp/build-legacy.XXXXXX)
cleanup() {
    local rc=$? m
    if [ -d "$S" ]; then
        while read -r m; do umount -l "$m" 2>/dev/null || true; done \
            < <(awk -v s="$S/" 'index($2, s) == 1 { print $2 }' /proc/self/mounts | sort -r)
        rm -rf --one-file-system "$S"
    fi
    rm -f "$outdir"/.$name.*.new
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
R=$S/rootfs
root_uuid=$(cat /proc/sys/kernel/random/uuid)

# --- keys: made here, on the host, before the root filesystem ----------------------------------
# RSA 3072 in PEM: the format OpenSSH 4.3/5.3 and libssh2 1.10 read.
mkdir -m 0700 "$S/keys"
ssh-keygen -q -t rsa -b 3072 -m PEM -N '' -C "legacy-host" -f "$S/keys/ssh_host_rsa_key"
ssh-keygen -q -t rsa -b 3072 -m PEM -N '' -C "$user@legacy" -f "$S/keys/user"
# An ed25519 key, authorized too: the guest must refuse it for its type alone, as OpenSSH
# 5.3 does (PubkeyAcceptedAlgorithms), not for being unknown.
ssh-keygen -q -t ed25519 -N '' -C "$user@legacy-ed25519" -f "$S/keys/user-ed25519"
head -n1 "$S/keys/user" | grep -q -- '-----BEGIN RSA PRIVATE KEY-----' || die "the user key is not PEM"

apt-config dump | grep -E '^Acquire::(https?::Proxy|Check-Valid-Until|Check-Date|Max-ValidTime)' \
    > "$S/apt-host.conf" || true

# --- essential hook: a small initramfs (the modules for a virtio disk and ext4) --------------
cat > "$S/essential.sh" <<'HOOK'
#!/bin/sh
set -eu
R=$1
mkdir -p "$R/etc/initramfs-tools/conf.d" "$R/etc/initramfs-tools/hooks"
echo 'MODULES=list' > "$R/etc/initramfs-tools/conf.d/legacy-modules.conf"
cat > "$R/etc/initramfs-tools/hooks/legacy-modules" <<'EOF'
#!/bin/sh
# images/build-legacy.sh: the disk and filesystem drivers this image boots from.
case "$1" in prereqs) exit 0 ;; esac
. /usr/share/initramfs-tools/hook-functions
manual_add_modules virtio_pci virtio_blk ext4 crc32c_generic virtio_net
EOF
chmod 0755 "$R/etc/initramfs-tools/hooks/legacy-modules"
HOOK
chmod 0755 "$S/essential.sh"

# --- customize hook: inside mmdebstrap, /proc, /sys and /dev mounted in the chroot ($1) --------
cat > "$S/customize.sh" <<'HOOK'
#!/bin/sh
set -eu
R=$1
in_root() { chroot "$R" "$@"; }

echo legacy > "$R/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tlegacy\n' > "$R/etc/hosts"
rm -f "$R/etc/resolv.conf"                 # the build host's; dhclient writes it
rm -f "$R/etc/apt/apt.conf.d/99mmdebstrap"
in_root usermod -p '*' root
: > "$R/etc/machine-id"
rm -f "$R/var/lib/dbus/machine-id"

cat > "$R/etc/fstab" <<EOF
# <file system> <mount point> <type> <options> <dump> <pass>
# pass 0: no fsck at boot (a fresh overlay each run; fsck costs seconds under TCG)
UUID=$ROOT_UUID / ext4 rw,errors=remount-ro 0 0
EOF
cat > "$R/etc/network/interfaces" <<'EOF'
auto lo
iface lo inet loopback
auto eth0
iface eth0 inet dhcp
EOF

# SSH: OpenSSH 5.3's algorithm lists, one RSA host key (made by the build script).
rm -f "$R/etc/ssh/ssh_host_"*
install -m 0600 "$KEYS/ssh_host_rsa_key" "$R/etc/ssh/ssh_host_rsa_key"
install -m 0644 "$KEYS/ssh_host_rsa_key.pub" "$R/etc/ssh/ssh_host_rsa_key.pub"
cat > "$R/etc/ssh/sshd_config.d/legacy.conf" <<'EOF'
# images/build-legacy.sh: what OpenSSH 5.3 (CentOS 6) offers and takes.
HostKey /etc/ssh/ssh_host_rsa_key
HostKeyAlgorithms ssh-rsa
KexAlgorithms diffie-hellman-group-exchange-sha1,diffie-hellman-group14-sha1
Ciphers aes128-ctr,aes192-ctr,aes256-ctr,aes128-cbc,aes256-cbc
MACs hmac-sha1
PubkeyAcceptedAlgorithms ssh-rsa
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
EOF

# The user, its key, sudo with requiretty (as RHEL/CentOS 5 and 6 ship it).
in_root useradd -m -s /bin/bash "$LUSER"
in_root usermod -p '*' "$LUSER"
install -d -m 0700 "$R/home/$LUSER/.ssh"
cat "$KEYS/user.pub" "$KEYS/user-ed25519.pub" > "$R/home/$LUSER/.ssh/authorized_keys"
chmod 0600 "$R/home/$LUSER/.ssh/authorized_keys"
in_root chown -R "$LUSER:$LUSER" "/home/$LUSER/.ssh"
cat > "$R/etc/sudoers.d/legacy" <<EOF
# images/build-legacy.sh: RHEL/CentOS 5 and 6 ship sudo with requiretty.
Defaults requiretty
$LUSER ALL=(ALL) NOPASSWD: ALL
EOF
chmod 0440 "$R/etc/sudoers.d/legacy"
in_root visudo -c -q

# rsyslog as on CentOS: /var/log/messages and /var/log/secure (sudo logs there, with its TTY).
cat > "$R/etc/rsyslog.d/legacy.conf" <<'EOF'
# images/build-legacy.sh: CentOS 6's log files.
*.info;mail.none;authpriv.none;cron.none    /var/log/messages
authpriv.*                                  /var/log/secure
EOF

# No timeout, no mktemp: RHEL 5's coreutils 5.97 has neither. Diverted (renamed) away from
# coreutils, wherever coreutils puts them, then removed; an upgrade would not bring them back.
for b in timeout mktemp; do
    for p in $(in_root dpkg-query -L coreutils | grep -E "/$b\$"); do
        in_root dpkg-divert --quiet --local --no-rename --divert "$p.legacy-removed" --add "$p"
        rm -f "$R$p"
    done
done

# sshd's effective configuration (needs its privilege separation folder; /run is a tmpfs
# at boot).
mkdir -p "$R/run/sshd"
in_root /usr/sbin/sshd -t
in_root /usr/sbin/sshd -T -C user="$LUSER",host=legacy,addr=127.0.0.1 |
    grep -E '^(hostkeyalgorithms|kexalgorithms|ciphers|macs|pubkeyacceptedalgorithms|hostkey) ' \
    > "$KEYS/sshd-effective"

# sudo as the user with no controlling terminal (setsid): requiretty must refuse it.
setsid chroot "$R" su -s /bin/sh "$LUSER" -c 'sudo -n true' </dev/null >"$KEYS/sudo-no-tty" 2>&1 || true

# GRUB for SeaBIOS, as build-cloud.sh.
mkdir -p "$R/boot/grub/i386-pc"
cp "$GRUB_DIR"/*.mod "$GRUB_DIR"/*.lst "$R/boot/grub/i386-pc/"
cat > "$R/boot/grub/grub.cfg" <<EOF
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
set timeout=0
set timeout_style=hidden
menuentry 'Debian GNU/Linux (legacy constraints)' {
    search --no-floppy --fs-uuid --set=root $ROOT_UUID
    echo 'Loading Linux ...'
    linux /vmlinuz root=UUID=$ROOT_UUID ro $CMDLINE
    echo 'Loading initial ramdisk ...'
    initrd /initrd.img
}
EOF
HOOK
chmod 0755 "$S/customize.sh"

# --- root filesystem ----------------------------------------------------------------------------
say "mmdebstrap $suite (sources: ${sources[*]})"
include=$(IFS=,; echo "${packages[*]}")
aptopts=()
[ -s "$S/apt-host.conf" ] && aptopts+=("--aptopt=$S/apt-host.conf")
ROOT_UUID=$root_uuid GRUB_DIR=$grub_dir CMDLINE=$cmdline KEYS=$S/keys LUSER=$user \
mmdebstrap --quiet --variant=minbase --mode=root --format=directory \
    --include="$include" "${aptopts[@]}" \
    --hook-dir=/usr/share/mmdebstrap/hooks/eatmydata \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --essential-hook="$S/essential.sh" \
    --customize-hook="$S/customize.sh" \
    "$suite" "$R" "${sources[@]}" ||
    die "mmdebstrap failed"

# --- checks (never through the host: -e/-L on paths inside $R, or chroot) ------------------------
gone() { [ ! -e "$R$1" ] && [ ! -L "$R$1" ]; }
for b in timeout mktemp journalctl systemctl cloud-init; do
    for d in /usr/bin /bin /usr/sbin /sbin; do
        gone "$d/$b" || die "the image has $d/$b"
    done
    ! chroot "$R" sh -c "command -v $b" >/dev/null 2>&1 || die "$b is on the image's PATH"
done
for p in systemd systemd-sysv cloud-init; do
    st=$(chroot "$R" dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
    case $st in ii*) die "package $p is installed" ;; esac
done
[ "$(chroot "$R" dpkg-query -S /sbin/init 2>/dev/null | cut -d: -f1)" = sysvinit-core ] ||
    die "/sbin/init is not sysvinit-core's"
keys=$(cd "$R/etc/ssh" && ls ssh_host_*)
[ "$keys" = "$(printf 'ssh_host_rsa_key\nssh_host_rsa_key.pub')" ] || die "host keys in the image: $keys"
eff=$S/keys/sshd-effective
grep -qx 'hostkeyalgorithms ssh-rsa' "$eff" || die "sshd: $(cat "$eff")"
grep -qx 'kexalgorithms diffie-hellman-group-exchange-sha1,diffie-hellman-group14-sha1' "$eff" || die "sshd: $(cat "$eff")"
grep -qx 'ciphers aes128-ctr,aes192-ctr,aes256-ctr,aes128-cbc,aes256-cbc' "$eff" || die "sshd: $(cat "$eff")"
grep -qx 'macs hmac-sha1' "$eff" || die "sshd: $(cat "$eff")"
grep -qx 'pubkeyacceptedalgorithms ssh-rsa' "$eff" || die "sshd: $(cat "$eff")"
grep -q 'you must have a tty' "$S/keys/sudo-no-tty" ||
    die "sudo without a terminal did not ask for one (requiretty not in effect?): $(cat "$S/keys/sudo-no-tty")"
for d in bin sbin lib lib64; do
    case $(readlink "$R/$d" || true) in /*) die "/$d is an absolute link: checks would follow it onto the host" ;; esac
done
[ -e "$R/etc/init.d/rsyslog" ] && [ -e "$R/etc/init.d/ssh" ] || die "no SysV script for rsyslog or ssh"
[ -n "$(find "$R/etc/rc2.d" -name 'S*rsyslog')" ] && [ -n "$(find "$R/etc/rc2.d" -name 'S*ssh')" ] ||
    die "rsyslog or ssh is not started in runlevel 2"
kver=$(cd "$R/boot" && ls vmlinuz-* | sed 's/^vmlinuz-//')
[ "$(wc -w <<<"$kver")" -eq 1 ] || die "expected exactly one kernel in /boot, found: $kver"
[ -f "$R/boot/initrd.img-$kver" ] || die "no initramfs for $kver"
[ -L "$R/vmlinuz" ] && [ -L "$R/initrd.img" ] || die "/vmlinuz or /initrd.img link missing"

ver() {
    local out
    out=$(chroot "$R" dpkg-query -W -f='${db:Status-Abbrev}${Package}=${Version}\n' "$1" 2>/dev/null |
          sed -n 's/^ii *//p')
    [ -n "$out" ] || die "package $1 is not installed in the image"
    printf '%s\n' "$out"
}
{
    echo "# matrixrun legacy image (Debian 12 with CentOS 6 / RHEL 5 constraints), built $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "suite=$suite"
    echo "kernel=$kver"
    echo "user=$user"
    for p in linux-image-amd64 sysvinit-core openssh-server sudo coreutils dpkg rsyslog; do ver "$p"; done
    echo "initrd-bytes=$(stat -c %s "$R/boot/initrd.img-$kver")"
    sed 's/^/sshd./; s/ /=/' "$eff"
    echo "hostkey=$(ssh-keygen -l -f "$S/keys/ssh_host_rsa_key.pub")"
    echo "authorized=$(ssh-keygen -l -f "$S/keys/user.pub") / $(ssh-keygen -l -f "$S/keys/user-ed25519.pub")"
    echo "root-uuid=$root_uuid"
} > "$S/$name.manifest"
say "root filesystem: $(du -sm "$R" | cut -f1) MiB, kernel $kver"

# --- disk (as build-cloud.sh) ---------------------------------------------------------------------
raw=$S/disk.raw
truncate -s "${disk_size_mib}M" "$raw"
printf 'label: dos\nstart=%dMiB, type=83, bootable\n' "$part_start_mib" |
    sfdisk --quiet --no-reread --no-tell-kernel "$raw" >/dev/null
part_blocks=$(( (disk_size_mib - part_start_mib) * 256 ))
features=^metadata_csum_seed
truncate -s 8M "$S/probe.img"
if mke2fs -q -F -t ext4 -O ^orphan_file "$S/probe.img" >/dev/null 2>&1; then features+=,^orphan_file; fi
rm -f "$S/probe.img"
mke2fs -q -F -t ext4 -b 4096 -L "$fs_label" -U "$root_uuid" -O "$features" \
    -E offset=$(( part_start_mib * 1048576 )) -d "$R" "$raw" "$part_blocks" || die "mke2fs failed"
printf 'search.fs_uuid %s root\nset prefix=($root)/boot/grub\n' "$root_uuid" > "$S/early.cfg"
grub-mkimage -O i386-pc -d "$grub_dir" -o "$S/core.img" -c "$S/early.cfg" -p /boot/grub \
    biosdisk part_msdos ext2 search_fs_uuid
core_size=$(stat -c %s "$S/core.img")
[ "$core_size" -lt $(( (part_start_mib * 2048 - 1) * 512 )) ] || die "core.img ($core_size bytes) does not fit before the partition"
dd if="$grub_dir/boot.img" of="$raw" bs=440 count=1 conv=notrunc status=none
dd if="$S/core.img" of="$raw" bs=512 seek=1 conv=notrunc status=none
say "qcow2 (zstd-compressed)"
qemu-img convert -W -c -f raw -O qcow2 -o compression_type=zstd "$raw" "$S/$name.qcow2"
rm -f "$raw"

install -m 0644 "$S/$name.qcow2" "$outdir/.$name.qcow2.new"
install -m 0644 "$S/$name.manifest" "$outdir/.$name.manifest.new"
install -m 0644 "$S/keys/ssh_host_rsa_key.pub" "$outdir/.$name.hostkey.pub.new"
install -m 0600 "$S/keys/user" "$outdir/.$name.user.key.new"
install -m 0644 "$S/keys/user.pub" "$outdir/.$name.user.key.pub.new"
install -m 0600 "$S/keys/user-ed25519" "$outdir/.$name.user-ed25519.key.new"
install -m 0644 "$S/keys/user-ed25519.pub" "$outdir/.$name.user-ed25519.key.pub.new"
for f in qcow2 manifest hostkey.pub user.key user.key.pub user-ed25519.key user-ed25519.key.pub; do
    mv -f "$outdir/.$name.$f.new" "$outdir/$name.$f"
done
say "done: $outdir/$name.qcow2 ($(( $(stat -c %s "$outdir/$name.qcow2") / 1048576 )) MiB, ${disk_size_mib} MiB virtual), $name.manifest, $name.hostkey.pub, $name.user.key(.pub)"
