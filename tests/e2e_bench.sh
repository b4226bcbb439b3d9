#!/usr/bin/env bash
# e2e_bench.sh MATRIXRUN SRCDIR XSD MRBENCH: the paired CPU benchmark in a real guest, two
# runs. Run A measures; its figures must be the statistics of the pairs it lists, its
# checksum the one mrbench prints on this host for the same iterations (so the guest
# computed the same work), and its context the host's. Run B sets a limit of 0 % and an
# interval limit of 0 %: the benchmark is a <failure> naming the measured overhead, and
# the measurement is flagged noisy. Then `compare` reads both reports and the HTML
# summaries of both runs are rendered in headless Chromium, whose DOM must carry the
# reports' numbers. The host here runs guests under TCG: no value is asserted.
. "$(dirname "$0")/e2e_lib.sh"
mr=$1
src=$2
xsd=$3
mrbench=$4
e2e_need_images "$src"
e2e_init bench
img=$src/images/out
doms_before=$(mr_domains)

matrix() { # NAME BENCHMARK-ATTRIBUTES
    cat <<XML
<matrix version="1" name="$1">
  <host uri="$E2E_URI" accel="tcg"/>
  <image name="m" family="debian" user="root" memory-mib="256" vcpus="1" boot-timeout="240">
    <disk path="$img/minimal.qcow2"/>
    <kernel path="$img/minimal.vmlinuz" initrd="$img/minimal.initrd"
            cmdline="console=ttyS0 root=/dev/vda rw"/>
    <hostkey path="$img/minimal.hostkey.pub"/>
  </image>
  <package name="mr-demo" version="1.0">
    <artifact family="debian" path="$img/mr-demo_1.0_all.deb"/>
  </package>
  <test name="selftest" timeout="60">mr-demo selftest</test>
  <benchmark $2/>
</matrix>
XML
}
matrix a 'seconds="0.2" repetitions="6" warmup="1"' >"$tmp/a.xml"
matrix b 'seconds="0.2" repetitions="4" warmup="0" max-overhead-pct="0" max-interval-pct="0"' >"$tmp/b.xml"

# --accel auto: the accelerator doctor's verdict names (tcg on a kvm_pvm host like this
# project's, where libvirt offers kvm and /dev/kvm opens, but a stock kernel would hang).
# Without vmx or svm in the host's CPU flags no KVM guest can run, whatever doctor says;
# with them, doctor's test guests decide (a kvm_pvm host offers /dev/kvm that hangs
# stock kernels), and the guest's own boot log tells which accelerator it ran under.
if [ "$(grep -cwE 'vmx|svm' /proc/cpuinfo)" = 0 ]; then
    want_accel=tcg
else
    want_accel=$("$mr" doctor -q | sed -n 's/^verdict: \(kvm\|tcg\).*/\1/p')
fi
MATRIXRUN_WORKDIR=$tmp/work "$mr" "$tmp/a.xml" --accel auto -o "$tmp/ra" >"$tmp/out-a" 2>&1
rc=$?
cat "$tmp/out-a"
ra=$tmp/ra/junit.xml
expect_eq "run A: exit code" "$rc" 0
expect_schema_valid "$ra" "$xsd"
expect_verdict "$ra" m benchmark.cpu pass
pa() { xp "$ra" "string(//testsuite[@name='m']/properties/property[@name='$1']/@value)"; }
check=$(bench_check "$ra" m)
expect_eq "run A: the figures are the statistics of the listed pairs" "$check" "consistent"
expect_eq "run A: six pairs" "$(pa benchmark.cpu.repetitions)" 6
iters=$(pa benchmark.cpu.iterations)
local_sum=$("$mrbench" --iterations "$iters" | sed -n 's/.*checksum=\([0-9a-f]*\).*/\1/p')
expect_eq "run A: the guest's checksum is this host's for $iters iterations" "$(pa benchmark.cpu.checksum)" "$local_sum"
expect_eq "run A: accel auto chose what this host can run" "$(pa accel)" "$want_accel"
if grep -q "Hypervisor detected: KVM" "$tmp/ra/m/serial.log" 2>/dev/null; then guest_saw=kvm; else guest_saw=tcg; fi
expect_eq "run A: the guest's kernel saw that accelerator" "$guest_saw" "$want_accel"
expect_eq "run A: host kernel" "$(pa host.kernel)" "$(uname -r)"
expect_eq "run A: host CPU model" "$(pa host.cpu.model)" \
    "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
case "$(pa host.nested)" in yes | no | unknown) ok "run A: host.nested is $(pa host.nested)" ;; *) bad "run A: host.nested '$(pa host.nested)'" ;; esac
expect_eq "run A: vcpus" "$(pa vcpus)" 1
last=$(($(nproc) - 1))
expect_eq "run A: pinning" "$(pa benchmark.cpu.pinned)" \
    "guest vCPU 0 and the host runs on host CPU $last; guest run on its CPU 0"
gk=$(pa guest.kernel)
if [[ "$gk" =~ ^[0-9]+\.[0-9]+ ]]; then ok "run A: guest kernel $gk"; else bad "run A: guest kernel '$gk'"; fi
expect_has "run A: the progress shows the overhead" "$(cat "$tmp/out-a")" "m: benchmark: overhead "
expect_no_private_key "$tmp/ra" "$tmp/out-a"

MATRIXRUN_WORKDIR=$tmp/work "$mr" "$tmp/b.xml" -o "$tmp/rb" >"$tmp/out-b" 2>&1
rc=$?
rb=$tmp/rb/junit.xml
expect_eq "run B: exit code (the overhead limit fails)" "$rc" 1
expect_schema_valid "$rb" "$xsd"
expect_verdict "$rb" m benchmark.cpu failure
pb() { xp "$rb" "string(//testsuite[@name='m']/properties/property[@name='$1']/@value)"; }
msg=$(xp "$rb" "string(//testsuite[@name='m']/testcase[@name='benchmark.cpu']/failure/@message)")
expect_eq "run B: the failure states the overhead and its interval" "$msg" \
    "CPU overhead $(pb benchmark.cpu.overhead.pct)% (95% interval $(pb benchmark.cpu.overhead.ci95.low.pct)% to $(pb benchmark.cpu.overhead.ci95.high.pct)%) exceeds the matrix's limit of 0%"
expect_eq "run B: flagged noisy (interval limit 0 %)" "$(pb benchmark.cpu.noisy)" yes
expect_eq "run B: four pairs" "$(pb benchmark.cpu.repetitions)" 4
expect_clean "$tmp/work" "$doms_before"

# compare: one row for the cell, each run's overhead and interval as in its report,
# and the change between them.
"$mr" compare "$ra" "$rb" >"$tmp/compare" 2>&1
expect_eq "compare: exit code" "$?" 0
cat "$tmp/compare"
row=$(grep -E '^m ' "$tmp/compare")
expect_has "compare: run A's overhead and interval" "$row" \
    "$(pa benchmark.cpu.overhead.pct) [$(pa benchmark.cpu.overhead.ci95.low.pct), $(pa benchmark.cpu.overhead.ci95.high.pct)]"
expect_has "compare: run B's overhead and interval" "$row" \
    "$(pb benchmark.cpu.overhead.pct) [$(pb benchmark.cpu.overhead.ci95.low.pct), $(pb benchmark.cpu.overhead.ci95.high.pct)]"
change=$(python3 -c "print('%+.2f' % ($(pb benchmark.cpu.overhead.pct) - $(pa benchmark.cpu.overhead.pct)))")
expect_has "compare: the change between the runs" "$row" "$change"
expect_has "compare: the guest kernel" "$row" "$gk"

# The HTML summary each run wrote next to its report, rendered by headless Chromium.
for r in "$tmp/ra" "$tmp/rb"; do
    if [ -s "$r/summary.html" ]; then ok "$r/summary.html written by the run"; else bad "no $r/summary.html"; fi
done
expect_has "run A's page names the overhead" "$(cat "$tmp/ra/summary.html")" "data-overhead=\"$(pa benchmark.cpu.overhead.pct)\""
if bash "$src/tests/html_chromium.sh" "$mr" "$src/tests/data" "run-a=$ra" "run-b-over-limit=$rb" >"$tmp/chromium.out" 2>&1; then
    ok "Chromium renders both runs' pages with the reports' numbers"
else
    bad "Chromium and the real reports: $(cat "$tmp/chromium.out")"
fi
cat "$tmp/chromium.out"

if [ "$E2E_FAIL" -eq 0 ]; then rm -rf "$tmp"; else echo "kept for a look: $tmp"; fi
e2e_summary e2e-bench
