# e2e_lib.sh: helpers the end-to-end scripts source. They count checks and print
# "NAME: N passed, M failed" at the end; a script exits non-zero if any check failed.
set -u
E2E_PASS=0
E2E_FAIL=0
E2E_URI=qemu:///system

ok() { E2E_PASS=$((E2E_PASS + 1)); echo "ok   $*"; }
bad() { E2E_FAIL=$((E2E_FAIL + 1)); echo "FAIL $*"; }

# expect_eq WHAT GOT WANT
expect_eq() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$2', want '$3'"; fi; }
# expect_has WHAT TEXT NEEDLE
expect_has() { if [[ "$2" == *"$3"* ]]; then ok "$1"; else bad "$1: '$3' not in '${2:0:400}'"; fi; }

# wait_for FILE REGEX SECONDS [PID]: polls a progress log every 0.1 s until a line
# matches the extended regular expression; fails when SECONDS pass first, or when PID
# (the run writing the log) has ended without writing it.
wait_for() {
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        grep -qE "$2" "$1" 2>/dev/null && return 0
        if [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null; then
            grep -qE "$2" "$1" 2>/dev/null
            return
        fi
        sleep 0.1
    done
    return 1
}

# xp FILE XPATH: the string value of an XPath expression.
xp() { xmllint --xpath "$2" "$1" 2>/dev/null; }

# case_verdict REPORT CELL CASE: error, failure, skipped, pass or missing; "no-report"
# when REPORT is absent, empty or not well-formed XML (so that expecting "error" never
# passes on a run that wrote no report at all).
case_verdict() {
    local r=$1 s=$2 c=$3 v
    if [ ! -s "$r" ] || ! xmllint --noout "$r" 2>/dev/null; then
        echo no-report
        return
    fi
    for v in error failure skipped; do
        if [ "$(xp "$r" "count(//testsuite[@name='$s']/testcase[@name='$c']/$v)")" != 0 ]; then
            echo "$v"
            return
        fi
    done
    if [ "$(xp "$r" "count(//testsuite[@name='$s']/testcase[@name='$c'])")" = 1 ]; then
        echo pass
    else
        echo missing
    fi
}

expect_verdict() { expect_eq "$2/$3 verdict" "$(case_verdict "$1" "$2" "$3")" "$4"; }

expect_schema_valid() {
    local out
    if out=$(xmllint --noout --schema "$2" "$1" 2>&1); then ok "$1 is valid JUnit"; else bad "$1 invalid: ${out:0:600}"; fi
}

# mr_domains: how many guests this test's runs own on the libvirt host: domains whose
# matrixrun metadata names a run folder under E2E_SCOPE (the test's scratch folder, set by
# e2e_init). Guests of other runs on the same host (another test, a user's run) are not
# counted, whatever their name.
mr_domains() {
    local d n=0
    [ -n "${E2E_SCOPE:-}" ] || { echo "e2e_lib: mr_domains before e2e_init" >&2; echo -1; return; }
    for d in $(virsh -c "$E2E_URI" list --all --name 2>/dev/null); do
        virsh -c "$E2E_URI" metadata "$d" urn:x-matrixrun:run:1 2>/dev/null |
            grep -q "dir=\"$E2E_SCOPE/" && n=$((n + 1))
    done
    echo "$n"
}

# e2e_destroy_scope: destroys every guest mr_domains counts (the EXIT trap's job when a
# test dies mid-way; a passing test has none left).
e2e_destroy_scope() {
    local d
    [ -n "${E2E_SCOPE:-}" ] || return 0
    for d in $(virsh -c "$E2E_URI" list --name 2>/dev/null); do
        if virsh -c "$E2E_URI" metadata "$d" urn:x-matrixrun:run:1 2>/dev/null |
            grep -q "dir=\"$E2E_SCOPE/"; then
            echo "e2e: destroying leftover guest $d"
            virsh -c "$E2E_URI" destroy "$d" >/dev/null 2>&1 || true
        fi
    done
}

# e2e_init NAME: sets tmp (a scratch folder QEMU can traverse) and E2E_SCOPE, and an EXIT
# trap that destroys this test's guests and runs e2e_on_exit (a test may define it).
e2e_init() {
    tmp=$(e2e_tmpdir "$1")
    E2E_SCOPE=$tmp
    trap 'declare -F e2e_on_exit >/dev/null && e2e_on_exit; e2e_destroy_scope' EXIT
}

# expect_no_private_key PATH...: no private key in the files under PATHs, nor inside any
# gzip'd tar archive among them (grep alone cannot see into those).
expect_no_private_key() {
    local leak a
    leak=$(grep -rl "PRIVATE KEY" "$@" 2>/dev/null)
    while IFS= read -r a; do
        tar -xzOf "$a" 2>/dev/null | grep -q "PRIVATE KEY" && leak+=" $a"
    done < <(find "$@" -name '*.tar.gz' 2>/dev/null)
    expect_eq "no private key in reports, archives or logs" "$leak" ""
}

# expect_clean WORKDIR DOMAINS_BEFORE: no guest and no overlay left behind.
expect_clean() {
    expect_eq "no matrixrun guest left" "$(mr_domains)" "$2"
    if [ -d "$1" ]; then
        expect_eq "work folder empty" "$(find "$1" -mindepth 1 | head -5)" ""
    else
        ok "work folder empty"
    fi
}

e2e_summary() {
    echo "$1: $E2E_PASS passed, $E2E_FAIL failed"
    [ "$E2E_FAIL" -eq 0 ]
}

e2e_need_images() {
    local f
    for f in minimal.qcow2 minimal.vmlinuz minimal.initrd minimal.hostkey.pub mr-demo_1.0_all.deb; do
        if [ ! -f "$1/images/out/$f" ]; then
            echo "FAIL $1/images/out/$f is missing: run 'bash setup.sh' first"
            exit 1
        fi
    done
}

# bench_check REPORT CELL: the cell's benchmark.cpu figures recomputed from the pair
# times it lists: as many pairs as benchmark.cpu.repetitions, the median ratio, an
# interval around it within the ratios, overheads = (ratio - 1) x 100, and each side's
# coefficient of variation. Prints "consistent" or what is not.
bench_check() {
    local p
    bp_() { xp "$1" "string(//testsuite[@name='$2']/properties/property[@name='benchmark.cpu.$3']/@value)"; }
    python3 - $(for p in host.seconds guest.seconds ratio ratio.ci95.low ratio.ci95.high overhead.pct \
        overhead.ci95.low.pct overhead.ci95.high.pct host.cv.pct guest.cv.pct repetitions; do
        printf '%s ' "$(bp_ "$1" "$2" "$p")"; done) <<'PY'
import statistics, sys
try:
    h = [float(x) for x in sys.argv[1].split(",")]
    g = [float(x) for x in sys.argv[2].split(",")]
    ratio, lo, hi, over, olo, ohi, hcv, gcv, reps = map(float, sys.argv[3:12])
except (IndexError, ValueError) as e:
    print("figures missing or not numbers: %s" % e)
    sys.exit()
r = [b / a for a, b in zip(h, g)]
p = []
if len(h) != reps or len(g) != reps: p.append("pairs %d/%d, want %d" % (len(h), len(g), reps))
if abs(statistics.median(r) - ratio) > 5e-4: p.append("median ratio %.4f vs %.4f" % (statistics.median(r), ratio))
if not (min(r) - 5e-4 <= lo <= ratio <= hi <= max(r) + 5e-4): p.append("interval [%s, %s] not around %s within the ratios" % (lo, hi, ratio))
for a, b in ((over, ratio), (olo, lo), (ohi, hi)):
    if abs((b - 1) * 100 - a) > 0.06: p.append("%s%% is not (%s - 1) x 100" % (a, b))
for name, v, cv in (("host", h, hcv), ("guest", g, gcv)):
    want = statistics.stdev(v) / statistics.mean(v) * 100
    if abs(want - cv) > 0.01: p.append("%s cv %s, want %.2f" % (name, cv, want))
print("; ".join(p) or "consistent")
PY
}

# A scratch folder QEMU (running as its own user) can traverse.
e2e_tmpdir() {
    local d
    d=$(mktemp -d "/tmp/mr-e2e-$1.XXXXXX")
    chmod 0755 "$d"
    echo "$d"
}
