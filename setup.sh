#!/usr/bin/env bash
# setup.sh: prepares a Debian 12 machine (as root) to build, test and run matrixrun:
# installs the packages, starts libvirtd, builds matrixrun, and builds the demo guest image
# and the demo package into images/out/. Safe to run again; an image already built from
# the same recipe is kept.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
say() { printf 'setup: %s\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
    echo "setup: run as root (sudo bash setup.sh): it installs packages and uses the system libvirtd" >&2
    exit 2
fi

# iproute2's ss shows what QEMU listens on (tests/e2e_deps.sh). groff-base and man-db
# render the man pages (tests/man_pages.sh); dpkg-dev's
# dpkg-shlibdeps gives the Debian package (cpack) its dependencies.
# gcc-mingw-w64-x86-64 builds mrbench.exe (the CPU benchmark for Windows guests); file is
# what tests/mrbench_usage.sh reads the binaries' kind with. clang builds the fuzzing
# harnesses (tests/fuzz): libFuzzer is in libclang-rt-dev, which clang only recommends,
# llvm brings llvm-symbolizer, without which clang's sanitizers print bare addresses, and
# libyaml-dev the YAML parser fuzz_seed judges the cloud-config guard with.
build_pkgs="cmake make gcc pkg-config libvirt-dev libssh2-1-dev libxml2-dev libarchive-dev check libsubunit-dev gcc-mingw-w64-x86-64 file clang libclang-rt-dev llvm libyaml-dev"
run_pkgs="groff-base man-db iproute2 procps time tini libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils openssh-client libxml2-utils dpkg-dev rpm python3-yaml util-linux chromium"
# Every recipe's "# needs:" line: the image builders and images/check-cloud.sh.
image_pkgs=$(sed -n 's/^# needs: //p' images/*.sh | tr '\n' ' ')
say "installing packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $build_pkgs $run_pkgs $image_pkgs >/dev/null
# The tunnel test (tests/check_tunnel.c) runs an sshd of its own on 127.0.0.1, so it needs
# openssh-server's binary, not its service: the package scripts must not start a
# system-wide sshd on port 22. They ask policy-rc.d first, and 101 means "do not start";
# a policy-rc.d already there (containers have one) is left as it is. Installed only when
# missing, so a machine's running sshd is never upgraded or restarted from here.
if ! dpkg-query -W -f='${Status}' openssh-server 2>/dev/null | grep -q 'ok installed'; then
    say "installing openssh-server without starting its service"
    policy=/usr/sbin/policy-rc.d
    made_policy=
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        made_policy=1
    fi
    rc=0
    apt-get install -y -q --no-install-recommends openssh-server >/dev/null || rc=$?
    if [ -n "$made_policy" ]; then rm -f "$policy"; fi
    [ "$rc" = 0 ] || { echo "setup: installing openssh-server failed" >&2; exit "$rc"; }
fi

# libvirtd: through systemd where it runs, else started by hand (containers, CI machines
# without an init system). Ask the daemon itself whether it answers: a machine restored
# from a snapshot can carry the socket files of a daemon that is no longer running.
libvirt_answers() { virsh -c qemu:///system version >/dev/null 2>&1; }
if ! libvirt_answers; then
    if [ -d /run/systemd/system ]; then
        say "starting libvirtd (systemd)"
        systemctl start virtlogd.socket libvirtd.socket libvirtd.service
    else
        say "starting virtlogd and libvirtd"
        pgrep -x virtlogd >/dev/null || virtlogd -d
        # Under tini as a child subreaper: QEMU daemonizes, so its process is an orphan
        # that PID 1 must reap, and libvirt's destroy polls every 200 ms until it is
        # gone. Without an init system PID 1 may reap late: on this project's machines
        # a destroy took 1.6 to 1.8 s, all of it waiting for that; tini reaps at once.
        if ! pgrep -x libvirtd >/dev/null; then
            mkdir -p /var/log/libvirt
            setsid tini -s -- libvirtd </dev/null >>/var/log/libvirt/libvirtd-matrixrun.log 2>&1 &
        fi
    fi
    for _ in $(seq 100); do libvirt_answers && break; sleep 0.2; done
fi
# Without udev (containers, some CI machines) /dev/kvm stays root-only 0600. libvirt then
# probes QEMU as root and sees KVM, but finds it unusable for its qemu user on every
# domain start, throws its capability cache away and probes again: about a minute per
# guest. Debian's udev rule gives it group kvm, mode 0660; do the same.
if [ -c /dev/kvm ] && [ "$(stat -c %G:%a /dev/kvm)" = root:600 ]; then
    say "giving /dev/kvm the group and mode udev would (kvm, 0660)"
    chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
fi
virsh -c qemu:///system version >/dev/null || { echo "setup: libvirtd does not answer" >&2; exit 3; }

say "building matrixrun"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMR_WERROR=ON >/dev/null
cmake --build build -j "$(nproc)" >/dev/null

# Each image is rebuilt only when its recipe changed (a stamp holds the recipe's hash).
# build-cloud.sh builds one Debian release per run (its second argument): each release's
# image has a stamp of its own.
build_image() { # recipe output-file what [suite]
    local recipe=images/$1 out=images/out/$2 stamp sum
    stamp=images/out/.${1%.sh}${4:+-$4}.recipe
    sum=$(sha256sum "$recipe" | cut -d' ' -f1)
    if [ -f "$out" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$sum" ]; then
        say "$3 up to date ($out)"
    else
        say "building $3 ($recipe${4:+ $4})"
        bash "$recipe" images/out ${4:+"$4"}
        echo "$sum" >"$stamp"
    fi
}
build_image build-minimal.sh minimal.qcow2 "the demo guest image"
build_image build-cloud.sh cloud.qcow2 "the cloud-like test image"
build_image build-cloud.sh cloud-bullseye.qcow2 "the Debian 11 cloud-like image" bullseye
build_image build-legacy.sh legacy.qcow2 "the legacy guest image (CentOS 6 / RHEL 5 constraints)"
bash matrices/build-demo-package.sh images/out
say "ready: ./build/matrixrun matrices/demo.xml"
