#!/usr/bin/env bash
# e2e_demo.sh MATRIXRUN SRCDIR XSD: runs matrices/demo.xml on real guests (QEMU through the
# system libvirtd) and checks the JUnit it wrote, verdict by verdict, and that nothing is
# left behind and the base image is unchanged.
. "$(dirname "$0")/e2e_lib.sh"
mr=$1
src=$2
xsd=$3
e2e_need_images "$src"
e2e_init demo
base=$src/images/out/minimal.qcow2
sum_before=$(sha256sum <"$base")
doms_before=$(mr_domains)

# As the README runs it: from the repository's root, with a relative matrix path, and on
# a terminal: util-linux script gives matrixrun a pseudo-terminal (stdin from /dev/null,
# so its size is unknown and matrixrun draws 80 columns). stdout and stderr are merged
# there, CRLF-terminated, and hold the live lines' escapes.
(cd "$src" && TERM=xterm MATRIXRUN_WORKDIR=$tmp/work script -qefc \
    "$(printf '%q ' "$mr" matrices/demo.xml -o "$tmp/reports")" /dev/null </dev/null >"$tmp/pty" 2>&1)
rc=$?
tr -d '\r' <"$tmp/pty" >"$tmp/out"
# The log shows what stayed on the screen: escapes and the live block's redraws dropped.
sed $'s/\033\\[[0-9]*[AKJ]//g' "$tmp/out" | grep -v '^  '
r=$tmp/reports/junit.xml
expect_eq "exit code (a test fails on purpose)" "$rc" 1
expect_schema_valid "$r" "$xsd"
expect_eq "the summary ends with the report" "$(tail -n 1 "$tmp/out")" "report: $r"
expect_eq "two cells" "$(xp "$r" 'count(/testsuites/testsuite)')" 2
# The live block: cursor up, clear to the end of a line and of the screen.
for esc in '\[K' '\[[0-9]+A' '\[J'; do
    if grep -qE $'\033'"$esc" "$tmp/out"; then ok "live lines use ESC$esc"; else bad "no ESC$esc in the output"; fi
done
# live_line CELL STEP-REGEX: a live line "  CELL   STEP...   MM:SS" was drawn.
live_line() { grep -E -- "^(.\[J)?(.\[[0-9]+A)?  $1 +$2.* +[0-9]{2}:[0-9]{2}"$'\033'"\[K$" "$tmp/out"; }
for cell in minimal-1cpu minimal-2cpu; do
    for step in preparing 'booting \(tcg' 'installing mr-demo 1\.0' 'test selftest' 'test known-bug' 'benchmark: pair [0-9]+ of 10' 'collecting logs'; do
        if live_line "$cell" "$step" >/dev/null; then ok "$cell live line: $step"; else bad "$cell: no live line '$step'"; fi
    done
    # Nothing happens while a guest boots but the ticker's redraws: the time moves on.
    ticks=$(live_line "$cell" 'booting \(tcg' | grep -oE '[0-9]{2}:[0-9]{2}.\[K$' | sort -u | wc -l)
    if [ "$ticks" -ge 3 ]; then ok "$cell booting line redrawn at $ticks different times"; else bad "$cell booting line shown at $ticks time(s)"; fi
    expect_has "$cell end stays" "$(grep -E "^(.\[J)?(.\[[0-9]+A)?\[[0-9:]{8}\] $cell: done in " "$tmp/out")" "$cell: done in"
    expect_has "$cell summary line" "$(grep -E "^$cell +4 +1 +0 +0 +[0-9]+\.[0-9] s  " "$tmp/out")" \
        "known-bug: 'mr-demo known-bug' exited with status 1"
done
expect_has "summary totals" "$(tail -n 2 "$tmp/out" | head -n 1)" \
    "2 cell(s), 10 testcase(s): 8 passed, 2 failed, 0 error(s), 0 skipped"
for cell in minimal-1cpu minimal-2cpu; do
    expect_verdict "$r" "$cell" boot pass
    expect_verdict "$r" "$cell" install pass
    expect_verdict "$r" "$cell" selftest pass
    expect_verdict "$r" "$cell" known-bug failure
    expect_has "$cell selftest output" \
        "$(xp "$r" "string(//testsuite[@name='$cell']/testcase[@name='selftest']/system-out)")" "selftest: ok"
    expect_has "$cell known-bug failure message" \
        "$(xp "$r" "string(//testsuite[@name='$cell']/testcase[@name='known-bug']/failure/@message)")" \
        "exited with status 1"
    expect_has "$cell known-bug stderr" \
        "$(xp "$r" "string(//testsuite[@name='$cell']/testcase[@name='known-bug']/system-err)")" \
        "fails on purpose"
    expect_eq "$cell accel property" \
        "$(xp "$r" "string(//testsuite[@name='$cell']/properties/property[@name='accel']/@value)")" tcg
    expect_eq "$cell family property" \
        "$(xp "$r" "string(//testsuite[@name='$cell']/properties/property[@name='family']/@value)")" debian
    # What the SSH connection negotiated: the host key algorithm is the type of the key
    # the image's recipe made (its .pub), the others are protocol names.
    expect_eq "$cell ssh.hostkey property" \
        "$(xp "$r" "string(//testsuite[@name='$cell']/properties/property[@name='ssh.hostkey']/@value)")" \
        "$(cut -d' ' -f1 "$src/images/out/minimal.hostkey.pub")"
    for p in ssh.kex ssh.cipher ssh.mac; do
        v=$(xp "$r" "string(//testsuite[@name='$cell']/properties/property[@name='$p']/@value)")
        if [[ "$v" =~ ^[a-z][a-z0-9@.-]+$ ]]; then ok "$cell $p $v"; else bad "$cell $p '$v'"; fi
    done
    # The paired CPU benchmark: the figures are the statistics of the pairs the report
    # lists (recomputed here), consistent with each other; tcg here, so no value is
    # asserted (see e2e_bench.sh for the rest).
    expect_verdict "$r" "$cell" benchmark.cpu pass
    check=$(bench_check "$r" "$cell")
    expect_eq "$cell benchmark figures match its pairs" "$check" "consistent"
    expect_has "$cell benchmark output names the overhead" \
        "$(xp "$r" "string(//testsuite[@name='$cell']/testcase[@name='benchmark.cpu']/system-out)")" "CPU overhead of the guest: "
    kernel=$(xp "$r" "string(//testsuite[@name='$cell']/properties/property[@name='guest.kernel']/@value)")
    if [[ "$kernel" =~ ^[0-9]+\.[0-9]+\.[0-9]+-.*amd64$ ]]; then ok "$cell guest kernel $kernel"; else bad "$cell guest kernel '$kernel'"; fi
    expect_has "$cell serial console logged" "$(cat "$tmp/reports/$cell/serial.log" 2>&1)" "Linux version"
    a=$tmp/reports/$cell/artifacts.tar.gz
    expect_has "$cell artifacts attached" "$(xp "$r" "string(//testsuite[@name='$cell']/system-out)")" "[[ATTACHMENT|$a]]"
    expect_eq "$cell artifacts archive members" "$(tar -tzf "$a" 2>&1 | grep -v '^logs/' | sort | tr '\n' ' ')" \
        "MANIFEST.txt install.txt serial.log "
    # dpkg's own words in the guest, not the command line matrixrun wrote.
    expect_has "$cell archived install output" "$(tar -xzOf "$a" install.txt 2>&1)" "Setting up mr-demo (1.0)"
    expect_has "$cell archived serial log" "$(tar -xzOf "$a" serial.log 2>&1)" "Linux version"
    # The minimal image has no cloud-init: the archive has no such log, and the manifest
    # carries the guest's own error for it instead of failing the cell.
    expect_eq "$cell no cloud-init log archived" "$(tar -tzf "$a" 2>&1 | grep -c '^logs/cloud-init.log$')" 0
    expect_has "$cell manifest carries the guest's error for the missing log" \
        "$(tar -xzOf "$a" MANIFEST.txt 2>&1 | grep -A1 '^logs/cloud-init.log ')" "No such file or directory"
    # The page the run wrote beside the report: the cell's files exist by then, so both
    # are linked, relative to it.
    for f in serial.log artifacts.tar.gz; do
        expect_has "$cell page links its $f" "$(grep -o "href=\"$cell/$f\"" "$tmp/reports/summary.html")" \
            "href=\"$cell/$f\""
    done
done
# The page shows the end of known-bug's stderr in each cell, and a time bar per cell.
expect_eq "page shows known-bug's stderr in both cells" \
    "$(grep -o 'class="tail">[^<]*fails on purpose' "$tmp/reports/summary.html" | wc -l)" 2
expect_eq "page has a time bar per cell" "$(grep -o 'class="time-bar"' "$tmp/reports/summary.html" | wc -l)" 2
expect_eq "1-vCPU cell's vcpus property" \
    "$(xp "$r" "string(//testsuite[@name='minimal-1cpu']/properties/property[@name='vcpus']/@value)")" 1
expect_eq "2-vCPU cell's vcpus property" \
    "$(xp "$r" "string(//testsuite[@name='minimal-2cpu']/properties/property[@name='vcpus']/@value)")" 2
expect_eq "base image unchanged (sha256)" "$(sha256sum <"$base")" "$sum_before"
expect_clean "$tmp/work" "$doms_before"
expect_no_private_key "$tmp/reports" "$tmp/pty"
for cell in minimal-1cpu minimal-2cpu; do
    echo "measured: $cell: ssh ready after $(xp "$r" "string(//testsuite[@name='$cell']/testcase[@name='boot']/@time)") s"
done
rm -rf "$tmp"
e2e_summary e2e-demo
