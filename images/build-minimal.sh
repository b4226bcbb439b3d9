#!/usr/bin/env bash
# needs: apt dpkg libc-bin tar gzip cpio kmod e2fsprogs qemu-utils openssh-client dropbear-bin
#
# Builds matrixrun's minimal guest from Debian packages only: Debian's stock kernel,
# a busybox initramfs that mounts /dev/vda and switch_roots into it, and an ext4 root
# filesystem (in a qcow2) with busybox, dropbear + sftp-server and the real dpkg tools.
#
# usage: bash images/build-minimal.sh [OUTDIR]      (as root; OUTDIR defaults to images/out)
#
# Outputs in OUTDIR: minimal.qcow2, minimal.vmlinuz, minimal.initrd, minimal.hostkey.pub.
# Boot contract: see images/README.md. The host packages this script runs are listed on the
# "# needs:" line above (CI installs exactly those); nothing is installed on the host.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
outdir=${1:-$here/out}

# Modules (and, computed below, their dependencies) that the initramfs needs to mount the
# root disk, and that the root filesystem's init loads: virtio_rng (used only if the domain
# has <rng model='virtio'>, which seeds the kernel's CRNG sooner) and the network.
initrd_modules="virtio_pci virtio_blk ext4"
guest_modules="virtio_rng virtio_net"
disk_size=512M
arch_triplet=x86_64-linux-gnu

t0=$(date +%s)
say() { printf 'build-minimal: %s\n' "$*"; }
die() { printf 'build-minimal: error: %s\n' "$*" >&2; exit 1; }

# --- preconditions --------------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "must run as root (the root filesystem must be owned by root)"
[ "$(dpkg --print-architecture)" = amd64 ] || die "only amd64 hosts are supported"

needs=$(sed -n 's/^# needs: //p' "${BASH_SOURCE[0]}")
missing=()
for p in $needs; do
    st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
    case $st in ii*) ;; *) missing+=("$p") ;; esac
done
[ ${#missing[@]} -eq 0 ] || die "missing host packages: ${missing[*]} (apt-get install ${missing[*]})"
for c in apt-get dpkg-deb ldd ldconfig cpio gzip modinfo depmod mke2fs qemu-img ssh-keygen \
         dropbearconvert dropbearkey; do
    command -v "$c" >/dev/null || die "command '$c' not found although its package is installed"
done

mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

S=$(mktemp -d /tmp/build-minimal.XXXXXX)
trap 'rm -rf "$S"' EXIT
chmod 0755 "$S"
mkdir -p "$S/dl" "$S/x" "$S/root" "$S/initrd"
# apt-get download drops privileges to _apt; let it write there to avoid its warning.
if id _apt >/dev/null 2>&1; then chown _apt "$S/dl"; fi
R=$S/root

# --- fetching Debian packages ---------------------------------------------------------------
# fetch PKG...: download (apt-get download) and extract each package to $S/x/NAME.
fetch() {
    local todo=() p
    for p; do [ -d "$S/x/${p%%:*}" ] || todo+=("$p"); done
    [ ${#todo[@]} -gt 0 ] || return 0
    (cd "$S/dl" && apt-get -q=2 download "${todo[@]}") ||
        die "apt-get download ${todo[*]} failed (run apt-get update?)"
    for p in "${todo[@]}"; do
        local deb
        deb=$(ls "$S/dl/${p%%:*}"_*.deb 2>/dev/null | head -n1)
        [ -n "$deb" ] || die "no .deb for $p after download"
        mkdir -p "$S/x/${p%%:*}"
        dpkg-deb -x "$deb" "$S/x/${p%%:*}"
    done
}

kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
       awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
[ -n "$kpkg" ] || die "cannot find the kernel package behind linux-image-amd64 (apt-get update?)"

say "downloading $kpkg busybox-static dash dropbear-bin openssh-sftp-server dpkg tar libc-bin"
fetch "$kpkg" busybox-static dash dropbear-bin openssh-sftp-server dpkg tar libc-bin

K=$S/x/$kpkg
kver=$(ls "$K/lib/modules")
[ -n "$kver" ] && [ -f "$K/boot/vmlinuz-$kver" ] || die "$kpkg has no vmlinuz/modules"
say "kernel $kver"

# --- root filesystem skeleton (merged /usr, as Debian 12) ------------------------------------
mkdir -p "$R"/usr/{bin,sbin,lib/$arch_triplet,lib64} "$R"/{etc,dev,proc,sys,run,tmp,mnt,root,home} \
         "$R"/var/{log,tmp,lib/dpkg} "$R"/etc/{dropbear,matrixrun}
ln -s usr/bin "$R/bin"
ln -s usr/sbin "$R/sbin"
ln -s usr/lib "$R/lib"
ln -s usr/lib64 "$R/lib64"
mkdir -p "$R/lib/modules/$kver"
ln -s ../run "$R/var/run"
chmod 0700 "$R/root"
chmod 1777 "$R/tmp" "$R/var/tmp"

# in_tree TREE PATH: the real file PATH names inside TREE, following symlinks within TREE
# (an absolute link target is taken relative to TREE, never to the host's /).
in_tree() {
    local tree=$1 p=$2 n=0 l
    while [ -L "$tree$p" ]; do
        l=$(readlink "$tree$p")
        case $l in /*) p=$l ;; *) p=$(dirname "$p")/$l ;; esac
        n=$((n + 1)); [ $n -lt 20 ] || return 1
    done
    [ -f "$tree$p" ] && printf '%s\n' "$tree$p"
}

# put SRCROOT [PATH...]: copy PATHs (relative to SRCROOT) into the rootfs, keeping the
# rootfs's /bin -> usr/bin style directory symlinks.
put() {
    local src=$1; shift
    tar -C "$src" -cf - "$@" | tar -C "$R" -xf - --keep-directory-symlink
}

say "installing busybox, dash, dropbear, sftp-server, dpkg, tar, ldconfig"
put "$S/x/busybox-static" ./bin/busybox
# /bin/sh is dash, as on Debian: busybox-static's ash is a "standalone shell" that runs its
# own applets before anything in PATH, so "sh -c 'dpkg -i x.deb'" would run busybox's dpkg.
put "$S/x/dash" ./bin/dash
ln -s dash "$R/usr/bin/sh"
put "$S/x/dropbear-bin" ./usr/sbin/dropbear
put "$S/x/tar" ./bin/tar
put "$S/x/libc-bin" ./sbin/ldconfig
# dpkg: the whole package apart from docs and things that need cron/systemd/logrotate.
put "$S/x/dpkg" --exclude=./usr/share/doc --exclude=./usr/share/man --exclude=./usr/share/locale \
    --exclude=./usr/share/lintian --exclude=./usr/share/bug --exclude=./usr/share/polkit-1 \
    --exclude=./etc/cron.daily --exclude=./etc/logrotate.d --exclude=./lib/systemd .

# sftp-server goes where Debian's dropbear looks for it (it runs the subsystem by path).
sftp_path=$(grep -ao '/[a-z0-9/._-]*sftp-server' "$R/usr/sbin/dropbear" | head -n1)
[ -n "$sftp_path" ] || die "cannot find the sftp-server path compiled into dropbear"
mkdir -p "$R$(dirname "$sftp_path")"
cp "$S/x/openssh-sftp-server/usr/lib/openssh/sftp-server" "$R$sftp_path"
chmod 0755 "$R$sftp_path"
say "sftp-server at $sftp_path"

# busybox applets, linked without overwriting the real tools installed above and without
# the "busybox" entry itself: linking that replaces the binary with a link to itself (ELOOP).
bb=$R/usr/bin/busybox
[ -f "$bb" ] && [ ! -L "$bb" ] || die "busybox binary missing"
while read -r a; do
    name=${a##*/}
    case $name in busybox|linuxrc|'') continue ;; esac
    case $a in
        bin/*|usr/bin/*) dst=$R/usr/bin/$name ;;
        *) dst=$R/usr/sbin/$name ;;
    esac
    # -L as well as -e: -e follows an absolute link on the host.
    [ -e "$dst" ] || [ -L "$dst" ] || [ -e "$R/usr/bin/$name" ] || [ -L "$R/usr/bin/$name" ] ||
        [ -e "$R/usr/sbin/$name" ] || [ -L "$R/usr/sbin/$name" ] || ln -s /usr/bin/busybox "$dst"
done < <("$bb" --list-full)
[ -f "$bb" ] && [ ! -L "$bb" ] || die "busybox was replaced by a link"
# The applet links are absolute (/usr/bin/busybox): a plain [ -x "$R/usr/bin/rm" ] would
# follow them on the host and pass only where the host has busybox. in_tree resolves every
# link inside the rootfs instead.
for t in sh dpkg dpkg-deb dpkg-query tar ldconfig start-stop-daemon rm diff; do
    f=$(in_tree "$R" "/usr/bin/$t") || f=$(in_tree "$R" "/usr/sbin/$t") || die "rootfs lacks $t"
    [ -x "$f" ] || die "rootfs's $t ($f) is not executable"
done

# --- shared libraries, from the Debian packages that own them ---------------------------------

# owner PATH: the package owning a host library path, trying the merged-/usr aliases.
owner() {
    local p cand
    for p in "$1" "$(readlink -f "$1")"; do
        for cand in "$p" "/usr${p}" "${p#/usr}"; do
            dpkg -S "$cand" 2>/dev/null | awk -F': ' 'NR == 1 { print $1 }' | grep . && return 0
        done
    done
    return 1
}

mapfile -t elfs < <(find "$R/usr" -type f -perm -u+x -exec sh -c \
    'head -c4 "$1" | grep -q "ELF" && echo "$1"' _ {} \;)
declare -A lib_pkg=()
for f in "${elfs[@]}"; do
    out=$(ldd "$f" 2>&1 || true)
    case $out in *"not a dynamic executable"*|*"statically linked"*) continue ;; esac
    ! grep -q 'not found' <<<"$out" || die "ldd ${f#"$R"}: $(grep 'not found' <<<"$out" | head -n1)"
    while read -r so path; do
        [ -n "$path" ] && [ -z "${lib_pkg[$so]:-}" ] || continue
        pkg=$(owner "$path") || die "no Debian package owns $path (needed by ${f#"$R"})"
        lib_pkg[$so]=$pkg
    done < <(awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 } $1 ~ /^\/.*ld-linux/ { print "ld-linux-x86-64.so.2", $1 }' <<<"$out")
done
say "libraries from: $(printf '%s\n' "${lib_pkg[@]}" | sort -u | tr '\n' ' ')"
mapfile -t libpkgs < <(printf '%s\n' "${lib_pkg[@]}" | sort -u)
fetch "${libpkgs[@]}"
for so in "${!lib_pkg[@]}"; do
    tree=$S/x/${lib_pkg[$so]%%:*}
    src=
    for d in /lib/$arch_triplet /usr/lib/$arch_triplet /lib64 /usr/lib64; do
        src=$(in_tree "$tree" "$d/$so") && break
    done
    [ -n "$src" ] || die "$so not found in package ${lib_pkg[$so]}"
    cp "$src" "$R/usr/lib/$arch_triplet/$so"
done
ln -sf ../lib/$arch_triplet/ld-linux-x86-64.so.2 "$R/usr/lib64/ld-linux-x86-64.so.2"
echo "/usr/lib/$arch_triplet" > "$R/etc/ld.so.conf"
ldconfig -r "$R"
# Check with the guest's own loader that every binary resolves inside the rootfs.
for f in "${elfs[@]}"; do
    out=$("$R/usr/lib/$arch_triplet/ld-linux-x86-64.so.2" --library-path "$R/usr/lib/$arch_triplet" \
          --list "$f" 2>&1) || continue     # static binaries
    bad=$(awk -v r="$R" '$2 == "=>" && index($3, r) != 1 && $3 !~ /^\(/' <<<"$out")
    [ -z "$bad" ] || die "${f#"$R"} resolves libraries outside the rootfs: $bad"
done
# And that the shell the runner gets finds the real tools, not busybox applets.
chroot "$R" /bin/sh -c 'dpkg --version && dpkg-deb --version && dpkg-query --version && tar --version' \
    >"$S/versions" 2>&1 || die "tools do not run in the rootfs: $(tail -n3 "$S/versions")"
grep -q "Debian 'dpkg' package management program" "$S/versions" && grep -q 'GNU tar' "$S/versions" ||
    die "the rootfs shell does not run the real dpkg/tar"

# --- kernel modules, in dependency order ------------------------------------------------------
KM=$K/lib/modules/$kver
depmod -b "$K" "$kver"              # only for modules.alias, to resolve softdep aliases
declare -A mod_path=() mod_state=() mod_opt=()
while read -r p; do
    n=${p##*/}; n=${n%.ko}; n=${n//-/_}
    mod_path[$n]=${p#"$KM"/}
done < <(find "$KM/kernel" -name '*.ko')
mod_order=()

# visit NAME OPTIONAL: append NAME after its dependencies (modinfo depends, and softdep "pre:"
# modules, which are optional: crc32c_intel cannot load on a CPU without SSE4.2, e.g. TCG).
visit() {
    local n=${1//-/_} opt=$2 d t m
    [ -n "${mod_path[$n]:-}" ] || die "module $n not found in $kpkg"
    if [ -n "${mod_state[$n]:-}" ]; then
        [ "$opt" = 1 ] || mod_opt[$n]=0
        return 0
    fi
    mod_state[$n]=visiting
    mod_opt[$n]=$opt
    local f=$KM/${mod_path[$n]}
    for t in $(modinfo -F softdep "$f" | sed -n 's/^.*pre:\(.*\)/\1/p' | sed 's/post:.*//'); do
        if [ -n "${mod_path[${t//-/_}]:-}" ]; then
            visit "$t" 1
        else
            for m in $(awk -v a="$t" '$1 == "alias" && $2 == a { print $3 }' "$KM/modules.alias"); do
                visit "$m" 1
            done
        fi
    done
    for d in $(modinfo -F depends "$f" | tr ',' ' '); do visit "$d" "$opt"; done
    mod_state[$n]=visited
    mod_order+=("$n")
}
# emit_order: "NAME PATH required|optional" lines for mod_order
emit_order() {
    local n
    for n in "${mod_order[@]}"; do
        printf '%s %s %s\n' "$n" "${mod_path[$n]}" "$([ "${mod_opt[$n]}" = 0 ] && echo required || echo optional)"
    done
}
for m in $initrd_modules; do visit "$m" 0; done
initrd_order=$(emit_order)
mod_order=()
for m in $guest_modules; do visit "$m" 0; done   # already-visited ones are not repeated
guest_order=$(emit_order)
say "initrd modules: $(awk '{ print $1 }' <<<"$initrd_order" | tr '\n' ' ')"
say "guest modules: $(awk '{ print $1 }' <<<"$guest_order" | tr '\n' ' ')"

# Copy all of them into the rootfs too, with a modules.dep, so lsmod/modprobe make sense there.
for line in "$initrd_order" "$guest_order"; do
    while read -r n p _; do
        mkdir -p "$R/lib/modules/$kver/$(dirname "$p")"
        cp "$KM/$p" "$R/lib/modules/$kver/$p"
    done <<<"$line"
done
cp "$KM"/modules.builtin "$KM"/modules.builtin.modinfo "$KM"/modules.order "$R/lib/modules/$kver/"
depmod -b "$R" "$kver"
printf '%s\n' "$guest_order" > "$R/etc/matrixrun/modules"

# --- configuration of the root filesystem -------------------------------------------------------
cat > "$R/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat > "$R/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
# "*": no password can match, but the account is not locked (dropbear refuses "!" accounts).
printf 'root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n' > "$R/etc/shadow"
chmod 0600 "$R/etc/shadow"
printf '/bin/sh\n' > "$R/etc/shells"
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n' > "$R/etc/nsswitch.conf"
printf 'matrixrun-guest\n' > "$R/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 matrixrun-guest\n' > "$R/etc/hosts"
printf 'nameserver 10.0.2.3\n' > "$R/etc/resolv.conf"
cat > "$R/etc/os-release" <<EOF
PRETTY_NAME="matrixrun minimal guest (Debian packages, kernel $kver)"
NAME="matrixrun-minimal"
ID=matrixrun-minimal
ID_LIKE=debian
EOF

# dpkg's database, empty: the guest has no packages registered.
mkdir -p "$R"/var/lib/dpkg/{info,updates,triggers,alternatives,parts}
: > "$R/var/lib/dpkg/status"
: > "$R/var/lib/dpkg/available"

cat > "$R/etc/inittab" <<'EOF'
::sysinit:/etc/init.d/rcS
::shutdown:/etc/init.d/rcK
::ctrlaltdel:/sbin/reboot
::restart:/sbin/init
EOF
mkdir -p "$R/etc/init.d"
cat > "$R/etc/init.d/rcS" <<'EOF'
#!/bin/sh
# matrixrun minimal guest: mount, network, authorized key from the kernel command line, dropbear.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
say() { echo "matrixrun-guest: $*"; }

# The initramfs hands over /dev (devtmpfs); proc and sys are mounted afresh.
[ -e /proc/self ] || mount -t proc proc /proc
[ -d /sys/kernel ] || mount -t sysfs sysfs /sys
[ -e /dev/null ] || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
hostname -F /etc/hostname
ip link set lo up
syslogd
# Only errors and worse from the kernel on the console from here on, so they do not
# interleave with the status lines the runner looks for.
echo 4 > /proc/sys/kernel/printk

kver=$(uname -r)
while read -r name path need; do
    [ -d "/sys/module/$name" ] && continue
    insmod "/lib/modules/$kver/$path" 2>/dev/null || [ "$need" = optional ] || say "cannot load $name"
done < /etc/matrixrun/modules

i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if [ -e /sys/class/net/eth0 ]; then
    ip link set eth0 up
    ip addr add 10.0.2.15/24 dev eth0
    ip route add default via 10.0.2.2
else
    say "no eth0"
fi

# matrixrun.authorized_key=TYPE:BASE64BLOB -> /root/.ssh/authorized_keys
mkdir -p /root/.ssh
chmod 0700 /root /root/.ssh
: > /root/.ssh/authorized_keys
chmod 0600 /root/.ssh/authorized_keys
for arg in $(cat /proc/cmdline); do
    case $arg in
        matrixrun.authorized_key=*:*)
            v=${arg#matrixrun.authorized_key=}
            case ${v%%:*}${v#*:} in
                *[!A-Za-z0-9+/=@.-]*) say "ignoring a malformed matrixrun.authorized_key" ;;
                *) echo "${v%%:*} ${v#*:}" >> /root/.ssh/authorized_keys ;;
            esac ;;
    esac
done
[ -s /root/.ssh/authorized_keys ] || say "no matrixrun.authorized_key on the kernel command line"

# -s: no password logins. Root may log in with a key (dropbear's default).
dropbear -r /etc/dropbear/dropbear_ed25519_host_key -p 22 -s -P /run/dropbear.pid
# dropbear binds after it forks: report ready only once port 22 listens.
i=0
while ! grep -qE '^ *[0-9]+: [0-9A-F]+:0016 [0-9A-F]+:[0-9A-F]+ 0A' /proc/net/tcp /proc/net/tcp6 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 200 ]; then say "dropbear did not start"; exit 1; fi
    sleep 0.1
done
say "ssh ready"
EOF
cat > "$R/etc/init.d/rcK" <<'EOF'
#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
echo "matrixrun-guest: shutting down"
[ -f /run/dropbear.pid ] && kill "$(cat /run/dropbear.pid)" 2>/dev/null
sync
umount -a -r 2>/dev/null
mount -o remount,ro / 2>/dev/null
sync
EOF
chmod 0755 "$R/etc/init.d/rcS" "$R/etc/init.d/rcK"

# --- SSH host key -------------------------------------------------------------------------------
say "generating the ed25519 host key"
ssh-keygen -q -t ed25519 -N '' -C matrixrun-minimal-hostkey -f "$S/hostkey"
dropbearconvert openssh dropbear "$S/hostkey" "$R/etc/dropbear/dropbear_ed25519_host_key" >/dev/null 2>&1 ||
    die "dropbearconvert failed"
chmod 0600 "$R/etc/dropbear/dropbear_ed25519_host_key"
[ "$(dropbearkey -y -f "$R/etc/dropbear/dropbear_ed25519_host_key" | awk '/^ssh-ed25519 / { print $2 }')" = \
  "$(awk '{ print $2 }' "$S/hostkey.pub")" ] || die "converted host key does not match"

# --- initramfs ------------------------------------------------------------------------------------
say "building the initramfs"
I=$S/initrd
mkdir -p "$I"/{bin,dev,proc,sys,newroot,etc,lib/modules}
cp "$S/x/busybox-static/bin/busybox" "$I/bin/busybox"
while read -r a; do
    name=${a##*/}
    case $name in busybox|linuxrc|'') continue ;; esac
    [ -e "$I/bin/$name" ] || ln -s busybox "$I/bin/$name"
done < <("$I/bin/busybox" --list-full)
mknod -m 0600 "$I/dev/console" c 5 1
while read -r n p _; do
    mkdir -p "$I/lib/modules/$(dirname "$p")"
    cp "$KM/$p" "$I/lib/modules/$p"
done <<<"$initrd_order"
printf '%s\n' "$initrd_order" > "$I/etc/modules"
cat > "$I/init" <<'EOF'
#!/bin/sh
# matrixrun minimal initramfs: load block and filesystem modules, mount root, switch_root.
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
say() { echo "matrixrun-initrd: $*"; }
rescue() { say "$*; starting a shell"; exec sh; }

while read -r name path need; do
    [ -d "/sys/module/$name" ] && continue
    insmod "/lib/modules/$path" 2>/dev/null || [ "$need" = optional ] || say "cannot load $name"
done < /etc/modules

# dropbear blocks in getrandom() until the kernel's CRNG is ready, which under TCG takes
# seconds. A reader blocked on /dev/random makes the kernel gather jitter entropy now,
# while the root disk is mounted and the network comes up, instead of when dropbear starts.
head -c1 /dev/random >/dev/null 2>&1 &

root=/dev/vda fstype=ext4 mode=rw
for arg in $(cat /proc/cmdline); do
    case $arg in
        root=*) root=${arg#root=} ;;
        rootfstype=*) fstype=${arg#rootfstype=} ;;
        ro|rw) mode=$arg ;;
    esac
done
i=0
while [ ! -b "$root" ]; do
    i=$((i + 1)); [ $i -le 300 ] || rescue "$root did not appear"
    sleep 0.1
done
mount -t "$fstype" -o "$mode" "$root" /newroot || rescue "cannot mount $root"
# (an absolute symlink there points into the new root, so test the link, not its target)
[ -L /newroot/sbin/init ] || [ -x /newroot/sbin/init ] || rescue "$root has no /sbin/init"
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/init
EOF
chmod 0755 "$I/init"
(cd "$I" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -9n) > "$S/initrd.gz"

# --- disk image -------------------------------------------------------------------------------------
say "making the ext4 root filesystem ($disk_size) and the qcow2"
mke2fs -q -F -t ext4 -L matrixrun-root -m 0 -d "$R" "$S/root.raw" "$disk_size" >/dev/null
qemu-img convert -f raw -O qcow2 "$S/root.raw" "$S/minimal.qcow2"

# Replace the outputs by rename, so a reader never sees a half-written file.
install -m 0644 "$S/minimal.qcow2" "$outdir/.minimal.qcow2.new"
install -m 0644 "$K/boot/vmlinuz-$kver" "$outdir/.minimal.vmlinuz.new"
install -m 0644 "$S/initrd.gz" "$outdir/.minimal.initrd.new"
install -m 0644 "$S/hostkey.pub" "$outdir/.minimal.hostkey.pub.new"
for f in minimal.qcow2 minimal.vmlinuz minimal.initrd minimal.hostkey.pub; do
    mv -f "$outdir/.$f.new" "$outdir/$f"
done
say "done in $(( $(date +%s) - t0 )) s: $outdir/{minimal.qcow2,minimal.vmlinuz,minimal.initrd,minimal.hostkey.pub}"
