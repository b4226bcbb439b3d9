#!/usr/bin/env bash
# Builds the demo package matrices/demo.xml installs: OUTDIR/mr-demo_1.0_all.deb, and the
# same files as OUTDIR/mr-demo-1.0-1.noarch.rpm for the rpm families.
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
