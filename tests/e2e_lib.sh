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

# xp FILE XPATH: the string value of an XPath expression.
xp() { xmllint --xpath "$2" "$1" 2>/dev/null; }

# case_verdict REPORT CELL CASE: error, failure, skipped, pass or missing.
case_verdict() {
    local r=$1 s=$2 c=$3 v
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

mr_domains() { virsh -c "$E2E_URI" list --all --name 2>/dev/null | grep -c '^mr-' || true; }

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

# A scratch folder QEMU (running as its own user) can traverse.
e2e_tmpdir() {
    local d
    d=$(mktemp -d "/tmp/mr-e2e-$1.XXXXXX")
    chmod 0755 "$d"
    echo "$d"
}
