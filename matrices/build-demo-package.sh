#!/usr/bin/env bash
# Builds the demo package matrices/demo.xml installs: OUTDIR/mr-demo_1.0_all.deb, and the
# same files as OUTDIR/mr-demo-1.0-1.noarch.rpm for the rpm families. Also a pair for the
# dependency tests (tests/e2e_deps.sh): mr-demo-plus, whose command needs a file of
# mr-demo-lib and which depends on it, as .deb and .rpm.
# needs: dpkg rpm
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../images/out}
mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/deb" "$stage/rpm"
cp -a "$here/demo-package/DEBIAN" "$here/demo-package/usr" "$stage/deb/"
# Files in a package belong to root whoever builds it.
dpkg-deb --root-owner-group --build "$stage/deb" "$out/mr-demo_1.0_all.deb" >/dev/null
echo "built $out/mr-demo_1.0_all.deb"
# rpmbuild works in its own tree; the build host's rpm database is not consulted.
rpmbuild -bb --nodeps --quiet --define "_topdir $stage/rpm" --define "mr_src $here/demo-package" \
    "$here/demo-package/mr-demo.spec" >/dev/null
cp "$stage/rpm/RPMS/noarch/mr-demo-1.0-1.noarch.rpm" "$out/"
echo "built $out/mr-demo-1.0-1.noarch.rpm"

# The dependency pair: mr-demo-lib ships a file, mr-demo-plus prints it and depends on
# mr-demo-lib (>= 1.0), so installing mr-demo-plus alone fails on the missing dependency.
pair=$stage/pair
mkdir -p "$pair/lib/DEBIAN" "$pair/lib/usr/share/mr-demo-lib" "$pair/plus/DEBIAN" "$pair/plus/usr/bin"
echo "hello from mr-demo-lib" >"$pair/lib/usr/share/mr-demo-lib/greeting"
printf '#!/bin/sh\nexec cat /usr/share/mr-demo-lib/greeting\n' >"$pair/plus/usr/bin/mr-demo-plus"
chmod 0755 "$pair/plus/usr/bin/mr-demo-plus"
control() { # name, extra field line, description
    printf 'Package: %s\nVersion: 1.0\nArchitecture: all\nMaintainer: matrixrun developers <dev@matrixrun.invalid>\n%sDescription: %s\n' "$1" "$2" "$3"
}
control mr-demo-lib "" "a file mr-demo-plus needs (matrixrun's dependency tests)" >"$pair/lib/DEBIAN/control"
control mr-demo-plus "Depends: mr-demo-lib (>= 1.0)
" "prints mr-demo-lib's file (matrixrun's dependency tests)" >"$pair/plus/DEBIAN/control"
for p in lib plus; do
    dpkg-deb --root-owner-group --build "$pair/$p" "$out/mr-demo-${p}_1.0_all.deb" >/dev/null
    echo "built $out/mr-demo-${p}_1.0_all.deb"
done
cat >"$pair/pair.spec" <<'SPEC'
Name:      mr-demo-%{which}
Version:   1.0
Release:   1
Summary:   matrixrun's dependency test package (%{which})
License:   MIT
BuildArch: noarch
%if "%{which}" == "plus"
Requires:  mr-demo-lib >= 1.0
%endif
%description
mr-demo-lib ships a file; mr-demo-plus prints it and depends on mr-demo-lib.
%install
mkdir -p %{buildroot}/usr
cp -a %{pairdir}/%{which}/usr/. %{buildroot}/usr/
%files
%if "%{which}" == "plus"
/usr/bin/mr-demo-plus
%else
/usr/share/mr-demo-lib
%endif
SPEC
for p in lib plus; do
    rpmbuild -bb --nodeps --quiet --define "_topdir $stage/rpm" --define "which $p" \
        --define "pairdir $pair" "$pair/pair.spec" >/dev/null
    cp "$stage/rpm/RPMS/noarch/mr-demo-$p-1.0-1.noarch.rpm" "$out/"
    echo "built $out/mr-demo-$p-1.0-1.noarch.rpm"
done
