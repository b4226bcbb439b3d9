#!/usr/bin/env bash
# needs: mmdebstrap apt dpkg debian-archive-keyring e2fsprogs fdisk grub-pc-bin grub-common qemu-utils util-linux coreutils
#
# Builds matrixrun's cloud guest: a Debian disk image like a stock cloud image (systemd,
# openssh-server, cloud-init, Debian's kernel, sudo, ifupdown + DHCP, locales) of one release:
# bookworm (Debian 12, the default), bullseye (11) or trixie (13). The bookworm image also has
# Debian's rpm, dnf and zypper so the runner can exercise its rpm/dnf/zypper install paths.
# No SSH host keys, no user, no authorized_keys, root locked: a cloud-init NoCloud seed (a CD-ROM
# labelled "cidata") provides the user, its key and the host key at first boot.
#
# usage: bash images/build-cloud.sh [OUTDIR] [SUITE]
#        (as root; OUTDIR defaults to images/out, SUITE to bookworm)
#
# Outputs in OUTDIR: cloud.qcow2 (boots from disk: MBR + GRUB for SeaBIOS, ext4 root on
# /dev/vda1) and cloud.manifest (kernel and package versions); for another SUITE than
# bookworm cloud-SUITE.qcow2 and cloud-SUITE.manifest. See images/README.md.
#
# No loop device and no mount: mke2fs writes the root filesystem from a folder straight into
# the partition of a raw disk file (-d, -E offset=), and GRUB's boot sector and core image
# (grub-mkimage) are written into the MBR and the gap before the partition with dd, as
# grub-install would. Packages come only from the Debian archive, through the host's own apt
# sources (whatever /etc/apt names for the suite; for a suite it does not name, its bookworm
# entries with the suite swapped) and its proxy settings, if any.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
outdir=${1:-$here/out}
suite=${2:-bookworm}
case $suite in
    bookworm) name=cloud; release=12 ;;
    bullseye) name=cloud-bullseye; release=11 ;;
    trixie)   name=cloud-trixie; release=13 ;;
    *) echo "build-cloud: error: unknown suite '$suite' (bullseye, bookworm or trixie)" >&2; exit 2 ;;
esac
disk_size_mib=3072          # virtual size of the disk
part_start_mib=1            # the partition starts at 1 MiB; GRUB's core image sits before it
fs_label=cloud-root
# Kernel command line: the runner logs the serial console. "quiet" keeps the kernel to
# warnings and worse; systemd.show_status=true still prints one line per unit started, and
# cloud-init writes its own progress (and its "finished" line) to the console.
# SYSTEMD_COLORS=0 (handed to init as an environment variable) and status_unit_format=name
# keep those lines plain: no ANSI colours, no descriptions cut at 80 columns.
cmdline="console=ttyS0,115200n8 quiet systemd.show_status=true systemd.status_unit_format=name SYSTEMD_COLORS=0"
packages=(
    systemd-sysv udev dbus openssh-server cloud-init linux-image-amd64 sudo netbase
    ifupdown isc-dhcp-client iproute2 locales e2fsprogs
)
# rpm, dnf and zypper serve the runner's rpm/dnf/zypper install paths (matrices/cloud.xml);
# one image with them is enough, and bullseye has no dnf.
rpm_tools=no
if [ "$suite" = bookworm ]; then packages+=(rpm dnf zypper); rpm_tools=yes; fi
grub_dir=/usr/lib/grub/i386-pc

t0=$(date +%s)
say() { printf 'build-cloud: [%3ds] %s\n' "$(( $(date +%s) - t0 ))" "$*"; }
die() { printf 'build-cloud: error: %s\n' "$*" >&2; exit 1; }

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
for c in mmdebstrap apt-config dpkg-query mke2fs sfdisk grub-mkimage qemu-img dd truncate; do
    command -v "$c" >/dev/null || die "command '$c' not found although its package is installed"
done
[ -f "$grub_dir/boot.img" ] && [ -f "$grub_dir/normal.mod" ] || die "$grub_dir lacks GRUB's BIOS images"

# The host's apt sources for $suite: every enabled sources file that names the suite (so
# third-party repositories for other suites are left out). mmdebstrap copies each file's
# content into the image's apt configuration.
host_sources() { # SUITE: the enabled sources files under /etc/apt that name it
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        if grep -v '^[[:space:]]*#' "$f" | grep -qw -- "$1"; then printf '%s\n' "$f"; fi
    done
}
mapfile -t sources < <(host_sources "$suite")
base_sources=()
if [ ${#sources[@]} -eq 0 ] && [ "$suite" != bookworm ]; then
    # A suite the host's apt does not name: the same archive serves it. Take the host's
    # bookworm entries and swap the suite (bookworm-security becomes $suite-security,
    # bookworm-updates $suite-updates), signed by Debian's archive keyring.
    mapfile -t base_sources < <(host_sources bookworm)
    [ ${#base_sources[@]} -gt 0 ] || die "no apt sources file under /etc/apt names '$suite' or bookworm"
    [ -f /usr/share/keyrings/debian-archive-keyring.gpg ] ||
        die "no /usr/share/keyrings/debian-archive-keyring.gpg (apt-get install debian-archive-keyring)"
fi

mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

S=$(mktemp -d /tmp/build-cloud.XXXXXX)
cleanup() {
    local rc=$? m
    # mmdebstrap unmounts what it mounted, even on failure; make sure, then remove the
    # scratch folder without ever crossing into a mounted filesystem.
    if [ -d "$S" ]; then
        while read -r m; do umount -l "$m" 2>/dev/null || true; done \
            < <(awk -v s="$S/" 'index($2, s) == 1 { print $2 }' /proc/self/mounts | sort -r)
        rm -rf --one-file-system "$S"
    fi
    rm -f "$outdir/.$name.qcow2.new" "$outdir/.$name.manifest.new"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
R=$S/rootfs
root_uuid=$(cat /proc/sys/kernel/random/uuid)

if [ ${#base_sources[@]} -gt 0 ]; then
    # deb822 stanzas and one-line entries alike: only entries naming bookworm and signed by
    # Debian's archive keyrings (or naming no keyring), so third-party repositories are left
    # out; the word swapped for the suite (so bookworm-security -> $suite-security), the
    # Signed-By or signed-by option replaced by the archive keyring. Comments are dropped.
    kr=/usr/share/keyrings/debian-archive-keyring.gpg
    for f in "${base_sources[@]}"; do
        case $f in
            *.sources)
                awk -v suite="$suite" -v kr="$kr" '
                    function flush() { if (n && keep && !dead && !foreign) { for (i = 1; i <= n; i++) print st[i];
                                       print "Signed-By: " kr; print "" } n = 0; keep = 0; dead = 0; foreign = 0 }
                    /^[[:space:]]*#/ { next }
                    /^[[:space:]]*$/ { flush(); next }
                    /^[Ss]igned-[Bb]y:/ { skip = 1; if ($0 !~ /debian-archive-/) foreign = 1; next }
                    skip && /^[[:space:]]/ { next }
                    { skip = 0 }
                    /^[Ee]nabled:[[:space:]]*[Nn]o/ { dead = 1 }
                    /^[Ss]uites:/ { if ($0 ~ /(^|[[:space:]])bookworm([-[:space:]]|$)/) keep = 1;
                                    gsub(/bookworm/, suite) }
                    { st[++n] = $0 }
                    END { flush() }' "$f" ;;
            *)
                sed -n -E '/^[[:space:]]*deb(-src)?[[:space:]]/!d
                    /[[:space:]]bookworm([-[:space:]]|$)/!d
                    /signed-by=/{/signed-by=[^] ]*debian-archive-/!d}
                    s/\[[^]]*\][[:space:]]*//
                    s/^([[:space:]]*deb(-src)?)[[:space:]]+/\1 [signed-by='"${kr//\//\\/}"'] /
                    s/([[:space:]])bookworm([-[:space:]]|$)/\1'"$suite"'\2/g
                    p' "$f" ;;
        esac
    done > "$S/$suite.sources.tmp"
    # one-line entries and stanzas cannot share a file: split them
    grep -E '^[[:space:]]*deb(-src)?[[:space:]]' "$S/$suite.sources.tmp" > "$S/$suite.list" || true
    grep -vE '^[[:space:]]*deb(-src)?[[:space:]]' "$S/$suite.sources.tmp" > "$S/$suite.sources" || true
    rm -f "$S/$suite.sources.tmp"
    sources=()
    [ -s "$S/$suite.list" ] && sources+=("$S/$suite.list")
    grep -q '^Suites:' "$S/$suite.sources" && sources+=("$S/$suite.sources")
    [ ${#sources[@]} -gt 0 ] || die "could not derive $suite sources from ${base_sources[*]}"
fi

# Host apt settings that matter for reaching the archive (proxies, snapshot dates). They are
# used for the build only: the customize hook removes them from the image again.
apt-config dump | grep -E '^Acquire::(https?::Proxy|Check-Valid-Until|Check-Date|Max-ValidTime)' \
    > "$S/apt-host.conf" || true

# --- essential hook: runs before the kernel is installed. The initramfs gets the modules that
# mount the root filesystem on a virtio (or SCSI/SATA) disk instead of "most" of them: 8 MiB
# instead of 36, which GRUB reads through the BIOS and the kernel unpacks, both slow under TCG
# (about 10 s per boot). Neither file belongs to a package (no conffile prompt).
# sr_mod matters: cloud-init's ds-identify runs as a systemd generator, before udev starts in the
# root filesystem, and looks for the "cidata" CD-ROM then. Unless the initramfs has already
# made /dev/sr0 (ata_piix + sr_mod for libvirt's IDE CD-ROM), it finds no datasource, cloud-init
# disables itself, and sshd, having no host keys, never starts.
cat > "$S/essential.sh" <<'HOOK'
#!/bin/sh
set -eu
R=$1
mkdir -p "$R/etc/initramfs-tools/conf.d" "$R/etc/initramfs-tools/hooks"
cat > "$R/etc/initramfs-tools/conf.d/cloud-modules.conf" <<'EOF'
# images/build-cloud.sh: only the modules that the hook cloud-modules adds (and their
# dependencies), not MODULES=most.
MODULES=list
EOF
cat > "$R/etc/initramfs-tools/hooks/cloud-modules" <<'EOF'
#!/bin/sh
# images/build-cloud.sh: the disk and filesystem drivers this image boots from.
case "$1" in prereqs) exit 0 ;; esac
. /usr/share/initramfs-tools/hook-functions
manual_add_modules virtio_pci virtio_blk virtio_scsi sd_mod sr_mod ahci ata_piix ext4 crc32c_generic
EOF
chmod 0755 "$R/etc/initramfs-tools/hooks/cloud-modules"
HOOK
chmod 0755 "$S/essential.sh"

# --- customize hook: runs inside mmdebstrap, after all packages are installed, with /proc,
# /sys and /dev mounted in the chroot ($1). --------------------------------------------------
cat > "$S/customize.sh" <<'HOOK'
#!/bin/sh
set -eu
R=$1
in_root() { chroot "$R" "$@"; }

# Identity: nothing from the build host, nothing per machine.
echo localhost > "$R/etc/hostname"
rm -f "$R/etc/resolv.conf"                 # mmdebstrap copied the host's; dhclient writes it
rm -f "$R/etc/ssh/ssh_host_"*              # cloud-init writes the seeded host key
: > "$R/etc/machine-id"                    # systemd makes one at first boot
rm -f "$R/var/lib/dbus/machine-id"
in_root usermod -p '*' root                # root: no password, no password login
rm -f "$R/etc/apt/apt.conf.d/99mmdebstrap" # the build host's apt settings

# A system locale that exists without locale-gen: cloud-init's cc_locale then has nothing to
# generate (with an unset LANG it runs locale-gen en_US.UTF-8, slow under TCG, and without the
# locales package it fails and "cloud-init status" reports an error).
echo 'LANG=C.UTF-8' > "$R/etc/default/locale"

cat > "$R/etc/fstab" <<EOF
# <file system> <mount point> <type> <options> <dump> <pass>
UUID=$ROOT_UUID / ext4 rw,discard,errors=remount-ro 0 1
EOF

if [ "$RPM_TOOLS" = yes ]; then
    # rpm: one system-wide database in /var/lib/rpm, shared by rpm, dnf and zypper (Debian's rpm
    # defaults to ~/.rpmdb, a database per user), initialised now.
    mkdir -p "$R/etc/rpm"
    echo '%_dbpath /var/lib/rpm' > "$R/etc/rpm/macros"
    in_root rpm --initdb
    # Nothing in the rpm database provides /bin/sh, which every package with a scriptlet requires
    # (rpmbuild adds it): dnf and zypper refuse such a package ("nothing provides /bin/sh"). One
    # empty package registers the shells that dpkg installed. Its system-release(releasever)
    # gives dnf a $releasever (otherwise every dnf run warns "Unable to detect release version").
    mkdir -p "$R/tmp/provides/SPECS"
    cat > "$R/tmp/provides/SPECS/provides.spec" <<'EOF'
Name: debian-system-provides
Version: 12
Release: 1
Summary: The shells of the dpkg-managed base system, for rpm's dependency checks
License: MIT
BuildArch: noarch
Provides: /bin/sh
Provides: /bin/bash
Provides: /usr/bin/sh
Provides: /usr/bin/bash
Provides: system-release(releasever) = 12
%description
Registers in the rpm database the shells that Debian's dpkg-managed base system provides,
so that rpm, dnf and zypper can install packages with scriptlets. It owns no files.
%files
EOF
    in_root rpmbuild --quiet --define '_topdir /tmp/provides' -bb /tmp/provides/SPECS/provides.spec
    in_root sh -c 'rpm -i --force-debian /tmp/provides/RPMS/noarch/debian-system-provides-12-1.noarch.rpm'
    rm -rf "$R/tmp/provides" "$R/root/.rpmdb" "$R/var/tmp/rpm-tmp."*
    in_root rpm -q debian-system-provides >/dev/null
fi

# GRUB for SeaBIOS: modules and configuration in /boot/grub; boot.img and core.img are written
# to the disk later. /vmlinuz and /initrd.img are the links the kernel package maintains, so a
# kernel upgrade inside the guest boots without regenerating this file.
mkdir -p "$R/boot/grub/i386-pc"
cp "$GRUB_DIR"/*.mod "$GRUB_DIR"/*.lst "$R/boot/grub/i386-pc/"
cat > "$R/boot/grub/grub.cfg" <<EOF
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
set timeout=0
set timeout_style=hidden
menuentry 'Debian GNU/Linux' {
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
ROOT_UUID=$root_uuid GRUB_DIR=$grub_dir CMDLINE=$cmdline RPM_TOOLS=$rpm_tools \
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

# --- checks and manifest ------------------------------------------------------------------------
kver=$(cd "$R/boot" && ls vmlinuz-* | sed 's/^vmlinuz-//')
[ "$(wc -w <<<"$kver")" -eq 1 ] || die "expected exactly one kernel in /boot, found: $kver"
[ -f "$R/boot/initrd.img-$kver" ] || die "no initramfs for $kver"
[ -L "$R/vmlinuz" ] && [ -L "$R/initrd.img" ] || die "/vmlinuz or /initrd.img link missing"
# Modules may be compressed (trixie's kernel ships .ko.xz) or built into the kernel
# (modules.builtin), which counts as present.
initrd_mods=$(chroot "$R" lsinitramfs "/boot/initrd.img-$kver" |
              sed -n -E 's|.*/([a-z0-9_]*)\.ko(\.(xz\|zst\|gz))?$|\1|p')
builtin_mods=$(sed -n -E 's|.*/([a-z0-9_]*)\.ko$|\1|p' "$R/lib/modules/$kver/modules.builtin" 2>/dev/null || true)
for m in virtio_blk virtio_pci ext4 sr_mod ata_piix; do
    grep -qx "$m" <<<"$initrd_mods" || grep -qx "$m" <<<"$builtin_mods" || die "the initramfs lacks $m"
done
! ls "$R"/etc/ssh/ssh_host_* >/dev/null 2>&1 || die "SSH host keys left in the image"
awk -F: '$3 >= 1000 && $3 < 65534 { found = 1 } END { exit found }' "$R/etc/passwd" ||
    die "the image has a non-system user"
[ -z "$(find "$R/root" "$R/home" -name authorized_keys 2>/dev/null)" ] || die "authorized_keys in the image"

# NAME=VERSION for each installed package whose name matches a dpkg-query pattern.
ver() {
    local out
    out=$(chroot "$R" dpkg-query -W -f='${db:Status-Abbrev}${Package}=${Version}\n' "$1" 2>/dev/null |
          sed -n 's/^ii *//p')
    [ -n "$out" ] || die "package $1 is not installed in the image"
    printf '%s\n' "$out"
}
{
    echo "# matrixrun cloud image, Debian $release ($suite), built $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "suite=$suite"
    echo "kernel=$kver"
    for p in linux-image-amd64 cloud-init openssh-server systemd sudo; do ver "$p"; done
    if [ $rpm_tools = yes ]; then
        for p in rpm dnf python3-dnf 'libdnf[0-9]*' zypper 'libzypp[0-9]*'; do ver "$p"; done
    fi
    echo "root-uuid=$root_uuid"
} > "$S/$name.manifest"
du_root=$(du -sm "$R" | cut -f1)
say "root filesystem: ${du_root} MiB, kernel $kver"

# --- disk -------------------------------------------------------------------------------------------
say "disk: MBR, partition 1 ext4 from ${part_start_mib} MiB, GRUB"
raw=$S/disk.raw
truncate -s "${disk_size_mib}M" "$raw"
printf 'label: dos\nstart=%dMiB, type=83, bootable\n' "$part_start_mib" |
    sfdisk --quiet --no-reread --no-tell-kernel "$raw" >/dev/null
part_blocks=$(( (disk_size_mib - part_start_mib) * 256 ))          # 4 KiB blocks
# metadata_csum_seed is not readable by GRUB 2.06; Debian 12's mke2fs.conf leaves it off, but
# make sure. orphan_file (e2fsprogs 1.47) is unknown to bullseye's kernel 5.10 and e2fsck
# 1.46, which refuse such a filesystem (Debian 12's mke2fs.conf leaves it off, a newer one may
# not); off where this mke2fs knows the feature. -E offset writes the filesystem into the
# partition of the disk file.
features=^metadata_csum_seed
truncate -s 8M "$S/probe.img"
if mke2fs -q -F -t ext4 -O ^orphan_file "$S/probe.img" >/dev/null 2>&1; then features+=,^orphan_file; fi
rm -f "$S/probe.img"
mke2fs -q -F -t ext4 -b 4096 -L "$fs_label" -U "$root_uuid" -O "$features" \
    -E offset=$(( part_start_mib * 1048576 )) -d "$R" "$raw" "$part_blocks" ||
    die "mke2fs failed"

# GRUB as grub-install --target=i386-pc would set it up on an MBR disk: boot.img in the first
# 440 bytes (the partition table and disk signature stay), core.img from sector 1. boot.img
# loads sector 1 (its default); core.img's first sector carries the block list of the rest,
# which grub-mkimage fills in. core.img's embedded configuration finds the root filesystem by
# UUID (whatever BIOS disk number it gets) and sets the prefix: /boot/grub, with normal.mod,
# the other modules and grub.cfg.
printf 'search.fs_uuid %s root\nset prefix=($root)/boot/grub\n' "$root_uuid" > "$S/early.cfg"
grub-mkimage -O i386-pc -d "$grub_dir" -o "$S/core.img" -c "$S/early.cfg" -p /boot/grub \
    biosdisk part_msdos ext2 search_fs_uuid
core_size=$(stat -c %s "$S/core.img")
[ "$core_size" -lt $(( (part_start_mib * 2048 - 1) * 512 )) ] || die "core.img ($core_size bytes) does not fit before the partition"
dd if="$grub_dir/boot.img" of="$raw" bs=440 count=1 conv=notrunc status=none
dd if="$S/core.img" of="$raw" bs=512 seek=1 conv=notrunc status=none

# zstd-compressed clusters: a quarter of the size for a few seconds here; QEMU (5.1 or later)
# decompresses on the host, and an overlay's writes are not compressed.
say "qcow2 (zstd-compressed)"
qemu-img convert -W -c -f raw -O qcow2 -o compression_type=zstd "$raw" "$S/$name.qcow2"
rm -f "$raw"

install -m 0644 "$S/$name.qcow2" "$outdir/.$name.qcow2.new"
install -m 0644 "$S/$name.manifest" "$outdir/.$name.manifest.new"
mv -f "$outdir/.$name.qcow2.new" "$outdir/$name.qcow2"
mv -f "$outdir/.$name.manifest.new" "$outdir/$name.manifest"

# libvirt's QEMU runs as libvirt-qemu: every folder above the base must be searchable.
d=$outdir
while [ "$d" != / ]; do
    [ "$(( 0$(stat -c %a "$d") & 01 ))" -ne 0 ] ||
        say "warning: $d is not searchable by others; libvirt-qemu cannot open the base image"
    d=$(dirname "$d")
done
say "done: $outdir/$name.qcow2 ($(( $(stat -c %s "$outdir/$name.qcow2") / 1048576 )) MiB, ${disk_size_mib} MiB virtual), $outdir/$name.manifest"
