#!/usr/bin/env bash
# recipe_fresh_host.sh SRCDIR: builds the minimal guest image (images/build-minimal.sh)
# into a scratch folder in a private mount namespace where the host's busybox is hidden,
# as on a fresh Debian 12 machine that never installed it. The recipe links the rootfs's
# applets to /usr/bin/busybox (absolute), and a check that followed those links on the
# host passed only where the host had busybox: this test keeps that from returning.
set -uo pipefail
src=$1
out=$(mktemp -d /tmp/mr-recipe.XXXXXX)
log=$(mktemp /tmp/mr-recipe-log.XXXXXX)
trap 'rm -rf "$out" "$log"' EXIT
# unshare -m: the bind mounts below are seen by this command alone and vanish with it.
unshare -m --propagation private bash -c '
    set -e
    for p in /usr/bin/busybox /bin/busybox /usr/sbin/busybox /sbin/busybox; do
        if [ -e "$p" ] && [ ! -L "$p" ]; then mount --bind /dev/null "$p"; echo "hid $p"; fi
    done
    ! [ -x /usr/bin/busybox ] || { echo "FAIL busybox still runs on the host"; exit 1; }
    bash "$1/images/build-minimal.sh" "$2"
' _ "$src" "$out" >"$log" 2>&1
rc=$?
tail -n 15 "$log"
pass=0 fail=0
if [ "$rc" = 0 ]; then pass=$((pass + 1)); echo "ok   the recipe builds with no busybox on the host"
else fail=$((fail + 1)); echo "FAIL the recipe exited with $rc with no busybox on the host"; fi
for f in minimal.qcow2 minimal.vmlinuz minimal.initrd minimal.hostkey.pub; do
    if [ -s "$out/$f" ]; then pass=$((pass + 1)); echo "ok   $f written"
    else fail=$((fail + 1)); echo "FAIL $f missing"; fi
done
echo "recipe-fresh-host: $pass passed, $fail failed"
[ "$fail" = 0 ]
