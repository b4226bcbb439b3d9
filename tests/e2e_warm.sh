#!/usr/bin/env bash
# e2e_warm.sh MATRIXRUN SRCDIR XSD: warm start against cold boot on real guests. One
# matrix of three cells of the minimal image runs cold and then warm: the same verdicts;
# each warm cell restored from the one template guest; a file written in one cell absent
# in the others (the cells run one at a time, so an earlier cell's file would be there if
# overlays were shared); the clock and host name set after the restore; restores faster
# than cold boots; the base image and the template's overlay unchanged by the run;
# nothing left behind. Then: a damaged saved state makes the later cells fall back to a
# cold boot, said in the report; a template that cannot boot is every cell's boot error,
# retried once as the matrix says; SIGINT during the template's boot and SIGTERM during
# the restores end the run with 130 / 143 and leave nothing behind; and a warm run killed
# with SIGKILL leaves nothing that `matrixrun clean` does not remove.
. "$(dirname "$0")/e2e_lib.sh"
mr=$1
src=$2
xsd=$3
e2e_need_images "$src"
e2e_init warm
img=$src/images/out
doms_before=$(mr_domains)
export MATRIXRUN_WORKDIR=$tmp/work

# matrix BOOT_TIMEOUT RETRIES: three cells (axis N) of one warm image. Test "hold" keeps
# cell a busy for a while (the window the fallback check damages the state in); "mark"
# writes the cell's file to disk, "alone" fails if another cell's file is there (read
# from the disk: a restored guest's page cache holds the template's view of /root, which
# would hide another cell's file on a shared disk); "whoami" prints
# the host name and the guest's clock.
matrix() {
    cat <<XML
<matrix version="1" name="warm" retries="$2">
  <host uri="$E2E_URI" accel="tcg"/>
  <image name="mini" family="debian" user="root" memory-mib="256" vcpus="1"
         boot-timeout="$1" warm="yes">
    <disk path="$img/minimal.qcow2"/>
    <kernel path="$img/minimal.vmlinuz" initrd="$img/minimal.initrd"
            cmdline="console=ttyS0 root=/dev/vda rw"/>
    <hostkey path="$img/minimal.hostkey.pub"/>
  </image>
  <axis name="N"><value>a</value><value>b</value><value>c</value></axis>
  <package name="mr-demo" version="1.0" install-timeout="120">
    <artifact family="debian" path="$img/mr-demo_1.0_all.deb"/>
  </package>
  <test name="selftest" timeout="60">mr-demo selftest</test>
  <test name="hold" timeout="60">[ "\$N" != a ] || sleep "\${HOLD:-0}"</test>
  <test name="mark" timeout="60">echo "\$MATRIXRUN_CELL" &gt;"/root/mark-\$N" &amp;&amp; sync</test>
  <test name="alone" timeout="60">echo 3 &gt;/proc/sys/vm/drop_caches; ls /root; [ "\$(ls /root | grep -c '^mark-')" = 1 ]</test>
  <test name="whoami" timeout="60">echo "host=\$(hostname) clock=\$(date -u +%s)"</test>
</matrix>
XML
}
matrix 180 0 >"$tmp/m.xml"
cells="mini.N=a mini.N=b mini.N=c"
cases="boot install selftest hold mark alone whoami"
prop() { xp "$1" "string(//testsuite[@name='$2']/properties/property[@name='$3']/@value)"; }
out_of() { xp "$1" "string(//testsuite[@name='$2']/testcase[@name='$3']/system-out)"; }
base_sum=$(sha256sum "$img/minimal.qcow2" | cut -d' ' -f1)

# --- cold: the matrix says warm, --cold overrides it.
"$mr" "$tmp/m.xml" --cold -o "$tmp/cold" >"$tmp/cold.out" 2>&1
expect_eq "cold run: exit 0" "$?" 0
rc=$tmp/cold/junit.xml
expect_schema_valid "$rc" "$xsd"
for c in $cells; do expect_eq "$c cold boot.mode" "$(prop "$rc" "$c" boot.mode)" cold; done
if grep -q "@template" "$tmp/cold.out"; then bad "--cold booted a template"; else ok "--cold booted no template"; fi

# --- warm, one cell at a time. The template's overlay is opened as soon as the first
# cell has restored from it (the run deletes the file at its end; the open descriptor
# keeps its content readable) and hashed then and after the run.
"$mr" "$tmp/m.xml" -j 1 -o "$tmp/warm" >"$tmp/warm.out" 2>&1 &
pid=$!
tov=
wait_for "$tmp/warm.out" "mini.N=a: restored" 120 "$pid" &&
    tov=$(ls "$MATRIXRUN_WORKDIR"/*/mini@template.qcow2 2>/dev/null | head -1)
if [ -n "$tov" ]; then
    exec 7<"$tov"
    tov_sum=$(sha256sum </proc/$$/fd/7 | cut -d' ' -f1)
    ok "template overlay found: $tov"
else
    bad "no template overlay while the warm run ran"
fi
wait "$pid"
expect_eq "warm run: exit 0" "$?" 0
cat "$tmp/warm.out"
rw=$tmp/warm/junit.xml
expect_schema_valid "$rw" "$xsd"
if [ -n "$tov" ]; then
    expect_eq "template overlay unchanged by the cells" "$(sha256sum </proc/$$/fd/7 | cut -d' ' -f1)" "$tov_sum"
    exec 7<&-
fi
expect_eq "base image unchanged" "$(sha256sum "$img/minimal.qcow2" | cut -d' ' -f1)" "$base_sum"
expect_eq "one template booted" "$(grep -c 'booting the template guest mini@template' "$tmp/warm.out")" 1
[ -s "$tmp/warm/mini@template/serial.log" ] && ok "the template's serial log is in the report" ||
    bad "no template serial log in $tmp/warm/mini@template"
for c in $cells; do
    for k in $cases; do
        expect_eq "$c/$k: same verdict warm and cold" "$(case_verdict "$rw" "$c" "$k")" \
            "$(case_verdict "$rc" "$c" "$k")"
        expect_verdict "$rw" "$c" "$k" pass
    done
    expect_eq "$c warm boot.mode" "$(prop "$rw" "$c" boot.mode)" warm
    expect_eq "$c boot time is the restore's" "$(xp "$rw" "string(//testsuite[@name='$c']/testcase[@name='boot']/@time)")" \
        "$(prop "$rw" "$c" time.restore)"
    [ -n "$(prop "$rw" "$c" time.template)" ] && ok "$c has time.template" || bad "$c has no time.template"
    who=$(out_of "$rw" "$c" whoami)
    want_host=$(echo "$c" | tr 'A-Z.=' 'a-z--')
    expect_has "$c host name set after restore" "$who" "host=$want_host "
    # The clock: the guest's time when the test ran, against the report's own record of
    # when the cell started and how long it took (seconds, a few of slack).
    clock=${who##*clock=}
    start=$(xp "$rw" "string(//testsuite[@name='$c']/@timestamp)")
    start_s=$(date -u -d "$start" +%s)
    dur=$(xp "$rw" "string(//testsuite[@name='$c']/@time)")
    if python3 -c "import sys; c,s,d=int('$clock'),$start_s,float('$dur'); sys.exit(0 if s-3<=c<=s+d+3 else 1)" 2>/dev/null; then
        ok "$c guest clock set from the host ($clock within the cell's time)"
    else
        bad "$c guest clock $clock is not within $start_s .. +$dur s"
    fi
done
# The restore against the cold boot, side by side in this run: every restore faster than
# the fastest cold boot.
slowest_restore=$(for c in $cells; do prop "$rw" "$c" time.restore; done | sort -g | tail -1)
fastest_cold=$(for c in $cells; do xp "$rc" "string(//testsuite[@name='$c']/testcase[@name='boot']/@time)"; done | sort -g | head -1)
echo "slowest restore ${slowest_restore} s, fastest cold boot ${fastest_cold} s"
if python3 -c "import sys; sys.exit(0 if float('$slowest_restore') < float('$fastest_cold') else 1)"; then
    ok "restores ($slowest_restore s at most) faster than cold boots ($fastest_cold s at least)"
else
    bad "a restore ($slowest_restore s) not faster than the fastest cold boot ($fastest_cold s)"
fi
expect_no_private_key "$tmp/warm" "$tmp/warm.out"
expect_clean "$tmp/work" "$doms_before"

# --- a damaged saved state: cell a holds for 15 s; meanwhile the state file is cut to
# 1 MiB. Cells b and c cannot restore from it and boot cold, and say so.
HOLD=15 "$mr" "$tmp/m.xml" -j 1 -o "$tmp/fallback" --only 'mini.N=[ab]' >"$tmp/fb.out" 2>&1 &
pid=$!
cut_state=
if wait_for "$tmp/fb.out" "mini.N=a: test hold" 180 "$pid"; then
    st=$(ls "$MATRIXRUN_WORKDIR"/*/mini@template.state 2>/dev/null | head -1)
    [ -n "$st" ] && truncate -s 1M "$st" && cut_state=$st
fi
wait "$pid"
expect_eq "fallback run: exit 0" "$?" 0
rf=$tmp/fallback/junit.xml
[ -n "$cut_state" ] && ok "state cut while cell a held" || bad "the state file was not cut in time"
expect_schema_valid "$rf" "$xsd"
expect_eq "cell a restored" "$(prop "$rf" mini.N=a boot.mode)" warm
expect_eq "cell b fell back" "$(prop "$rf" mini.N=b boot.mode)" cold-after-failed-restore
for k in $cases; do expect_verdict "$rf" mini.N=b "$k" pass; done
expect_has "the boot case says why" "$(out_of "$rf" mini.N=b boot)" "warm start: the restore failed ("
expect_has "progress says it" "$(cat "$tmp/fb.out")" "mini.N=b: restore failed ("
expect_clean "$tmp/work" "$doms_before"

# --- a template that cannot boot (4 s is too short under TCG): every cell's boot error,
# the template retried once (retries="1"), no cell retried on its own.
matrix 4 1 >"$tmp/short.xml"
"$mr" "$tmp/short.xml" -o "$tmp/short" >"$tmp/short.out" 2>&1
expect_eq "failed template: exit 3" "$?" 3
rs=$tmp/short/junit.xml
expect_schema_valid "$rs" "$xsd"
for c in $cells; do
    expect_verdict "$rs" "$c" boot error
    expect_has "$c names the template" "$(xp "$rs" "string(//testsuite[@name='$c']/testcase[@name='boot']/error/@message)")" \
        "warm start: the template guest mini@template, from which the cells of image 'mini' are restored, did not boot"
    expect_eq "$c not retried itself" "$(prop "$rs" "$c" retries)" 0
done
expect_eq "the template was booted twice" "$(grep -c 'mini@template: booting' "$tmp/short.out")" 2
[ -f "$tmp/short/mini@template/serial.attempt-1.log" ] && ok "the first attempt's serial log kept" ||
    bad "no serial.attempt-1.log for the template"
expect_clean "$tmp/work" "$doms_before"

# --- SIGINT while the template boots, SIGTERM while the cells restore: the run ends with
# 130 / 143 and a complete report in which no cell finished, and leaves no guest and no
# file (template overlay, saved state, cell overlays) behind, with no `matrixrun clean`.
for sig in INT TERM; do
    if [ "$sig" = INT ]; then want=130 when="mini@template: booting"; else want=143 when="restoring from mini@template"; fi
    "$mr" "$tmp/m.xml" -o "$tmp/sig-$sig" >"$tmp/sig-$sig.out" 2>&1 &
    pid=$!
    wait_for "$tmp/sig-$sig.out" "$when" 90 "$pid" && ok "SIG$sig: sent at '$when'" ||
        bad "SIG$sig: never saw '$when'"
    t0=$(date +%s%N)
    kill -"$sig" "$pid"
    wait "$pid"
    expect_eq "SIG$sig during warm start: exit code" "$?" "$want"
    ms=$((($(date +%s%N) - t0) / 1000000))
    if [ "$ms" -lt 10000 ]; then ok "SIG$sig: ended ${ms} ms after the signal"; else bad "SIG$sig: took ${ms} ms"; fi
    r=$tmp/sig-$sig/junit.xml
    expect_schema_valid "$r" "$xsd"
    expect_eq "SIG$sig: every cell reported" "$(xp "$r" 'count(/testsuites/testsuite)')" 3
    # A started cell lists its unfinished testcases as skipped or error; a cell that
    # never started has one skipped testcase.
    expect_eq "SIG$sig: no cell passed its last test" \
        "$(xp "$r" "count(//testcase[@name='whoami'][not(skipped or error)])")" 0
    expect_eq "SIG$sig: every cell has an unfinished testcase" \
        "$(xp "$r" "count(/testsuites/testsuite[testcase[skipped or error]])")" 3
    expect_has "SIG$sig: the report says why" "$(xp "$r" "string(//testsuite[@name='mini.N=c']/testcase[1]/skipped)")" "interrupted"
    expect_clean "$tmp/work" "$doms_before"
done

# --- SIGKILL mid-run, once cells restore: the guests go with matrixrun's libvirt
# connection (autodestroy) and `matrixrun clean` removes the work folder, the template's
# overlay and saved state in it.
"$mr" "$tmp/m.xml" -o "$tmp/killed" >"$tmp/kill.out" 2>&1 &
pid=$!
wait_for "$tmp/kill.out" "restoring from mini@template" 60 "$pid"
ls "$MATRIXRUN_WORKDIR"/*/mini@template.state >/dev/null 2>&1 && ok "saved state there when killed" ||
    bad "no saved state when killed"
kill -KILL "$pid"
wait "$pid" 2>/dev/null
for _ in $(seq 50); do [ "$(mr_domains)" = "$doms_before" ] && break; sleep 0.2; done
expect_eq "no guest outlives the killed run" "$(mr_domains)" "$doms_before"
"$mr" clean >"$tmp/clean.out" 2>&1
expect_eq "clean: exit 0" "$?" 0
cat "$tmp/clean.out"
expect_clean "$tmp/work" "$doms_before"
expect_eq "base image unchanged after all runs" "$(sha256sum "$img/minimal.qcow2" | cut -d' ' -f1)" "$base_sum"

rm -rf "$tmp"
e2e_summary e2e-warm
