#!/usr/bin/env bash
# Builds the demo package matrices/demo.xml installs: OUTDIR/mr-demo_1.0_all.deb.
# needs: dpkg (dpkg-deb)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../images/out}
mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp -a "$here/demo-package/." "$stage/"
# Files in a package belong to root whoever builds it.
dpkg-deb --root-owner-group --build "$stage" "$out/mr-demo_1.0_all.deb" >/dev/null
echo "built $out/mr-demo_1.0_all.deb"
