#!/usr/bin/env bash
# doctor.sh MATRIXRUN: `matrixrun doctor` against facts this script finds out itself with
# shell tools (/proc/cpuinfo, /dev/kvm, /sys/module, the nested parameter, PATH, virsh),
# so it holds on a KVM host as on this project's kvm_pvm machines. Boots nothing.
set -u
mr=$1
fails=0
passes=0
ok() { echo "ok   $1"; passes=$((passes + 1)); }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
# expect NAME TEXT ERE: TEXT has a line matching the extended regular expression.
expect() {
    if grep -qE -- "$3" <<<"$2"; then ok "$1"; else bad "$1: no line matching '$3' in:"; echo "$2"; fi
}
# Every warn and FAIL line is followed by a fix line; lines are checks, fixes or the verdict.
shape() { # name, output
    local prev="" line
    local -i n=0
    while IFS= read -r line; do
        n+=1
        if [[ $prev =~ ^(warn|FAIL)\  ]] && [[ $line != "      fix: "?* ]]; then
            bad "$1: line $n should be a fix line: '$line'"; return
        fi
        if [[ $line == "      fix: "* ]] && ! [[ $prev =~ ^(warn|FAIL)\  ]]; then
            bad "$1: fix line $n follows no warn or FAIL: '$prev'"; return
        fi
        if ! [[ $line =~ ^(ok\ \ \ \ |warn\ \ |FAIL\ \ )[a-z][a-z\ ]*:\ .|^\ \ \ \ \ \ fix:\ .|^verdict:\ . ]]; then
            bad "$1: unexpected line $n: '$line'"; return
        fi
        prev=$line
    done <<<"$2"
    [[ $prev == verdict:* ]] || { bad "$1: the last line is no verdict: '$prev'"; return; }
    ok "$1"
}
# The x86_64 domain types a capabilities XML offers, as "qemu, kvm" (empty when none).
x86_types() {
    xmllint --xpath "//guest/arch[@name='x86_64']/domain/@type" - 2>/dev/null |
        grep -o "type=\"[a-z]*\"" | cut -d'"' -f2 | awk '!seen[$0]++' | paste -sd, - | sed 's/,/, /g'
}

out=$(timeout 60 "$mr" doctor)
rc=$?
[ "$rc" -ne 124 ] || bad "doctor took more than 60 s"
echo "$out" | sed 's/^/    | /'
shape "output shape" "$out"

# 1. CPU flags, counted per CPU in the flags lines (grep -cw vmx over the whole file also
#    counts the "vmx flags" lines of newer kernels).
vendor=$(grep -m1 '^vendor_id' /proc/cpuinfo | sed 's/^[^:]*: *//')
vmx=$(grep -E '^flags[[:space:]]*:' /proc/cpuinfo | grep -cw vmx)
svm=$(grep -E '^flags[[:space:]]*:' /proc/cpuinfo | grep -cw svm)
cpus=$(grep -c '^processor' /proc/cpuinfo)
if [ "$vmx" -eq 0 ] && [ "$svm" -eq 0 ]; then
    expect "cpu: no vmx/svm is a FAIL" "$out" "^FAIL  cpu: $vendor, .*no vmx or svm flag on any of $cpus CPU\(s\) \(vmx 0, svm 0\)"
else
    have=$((vmx > svm ? vmx : svm))
    expect "cpu: $vmx vmx, $svm svm" "$out" "^(ok  |warn)  cpu: $vendor, .* $have of $cpus CPU\(s\)"
fi

# 2. /dev/kvm and the module behind it.
mod=""
for m in kvm_intel kvm_amd kvm_pvm; do
    [ -d "/sys/module/$m" ] && { mod=$m; break; }
done
if [ ! -e /dev/kvm ]; then
    expect "kvm: absent" "$out" "^FAIL  kvm: /dev/kvm is absent"
    grep -q "kvm guest:" <<<"$out" && bad "kvm guest line without /dev/kvm"
elif [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
    expect "kvm: opens, module ${mod:-unknown}" "$out" "^ok    kvm: /dev/kvm opens read-write, API version 12, KVM_CREATE_VM works; module ${mod:-unknown}"
    case $mod in
    kvm_pvm) expect "kvm guest: kvm_pvm runs no stock kernel" "$out" \
        "^FAIL  kvm guest: .*KVM here cannot run a stock kernel: the module is kvm_pvm" ;;
    kvm_intel | kvm_amd) expect "kvm guest: $mod runs the test guests" "$out" "^ok    kvm guest: " ;;
    esac
else
    expect "kvm: may not open" "$out" "^FAIL  kvm: cannot open /dev/kvm: Permission denied"
fi

# 3. The nested parameter.
nested=unknown
pfile=""
for m in kvm_intel kvm_amd; do
    [ -e "/sys/module/$m/parameters/nested" ] && { pfile=/sys/module/$m/parameters/nested; break; }
done
if [ -z "$pfile" ]; then
    expect "nested: no parameter" "$out" "^warn  nested: no nested parameter: neither kvm_intel nor kvm_amd is loaded${mod:+ \($mod is\)}$"
else
    v=$(cat "$pfile")
    m=$(basename "$(dirname "$(dirname "$pfile")")")
    case $v in Y | 1) nested=yes; lvl="ok   " ;; N | 0) nested=no; lvl="warn " ;; *) lvl="....." ;; esac
    expect "nested: $m nested=$v" "$out" "^$lvl nested: $m nested=$v: "
fi

# 4. QEMU: the binary the line names answers --version with the version the line quotes.
qline=$(grep -E '^(ok  |FAIL)  qemu: ' <<<"$out")
if [[ $qline == ok* ]]; then
    qpath=$(sed -E 's/^ok    qemu: ([^ ]+) .*/\1/' <<<"$qline")
    qver=$("$qpath" --version | head -n 1)
    [[ $qline == *": $qver" ]] && ok "qemu: $qpath says '$qver'" || bad "qemu: line '$qline', binary says '$qver'"
    [ "$(basename "$qpath")" = qemu-system-x86_64 ] || bad "qemu: $qpath is no qemu-system-x86_64"
elif command -v qemu-system-x86_64 >/dev/null; then
    bad "qemu: $(command -v qemu-system-x86_64) exists, doctor says '$qline'"
else
    expect "qemu: none" "$out" "^FAIL  qemu: no qemu-system-x86_64 on PATH"
fi

# 5. libvirt and its x86_64 domain types, from virsh.
verdict="guests cannot run"
want_rc=3
if caps=$(virsh -c qemu:///system capabilities 2>/dev/null); then
    types=$(x86_types <<<"$caps")
    lver=$(virsh -c qemu:///system version | sed -n 's/^Using library: libvirt //p')
    expect "libvirt: answers, libvirt $lver, x86_64: $types" "$out" \
        "^ok    libvirt: qemu:///system answers: libvirt $lver, .*x86_64: ${types:-none}(;|$)"
    if [[ -n $qline && $qline == ok* && ( $types == *qemu* || $types == *kvm* ) ]]; then
        want_rc=0
        if [[ $types == *kvm* && ( $mod == kvm_intel || $mod == kvm_amd ) && -r /dev/kvm && -w /dev/kvm ]]; then
            verdict="kvm (nested guests: $nested)"
        elif [[ $types == *qemu* ]]; then
            verdict="tcg only (software emulation, about 10x slower)"
        else
            want_rc=3
        fi
    fi
else
    expect "libvirt: no answer" "$out" "^FAIL  libvirt: cannot connect to libvirt at 'qemu:///system'"
fi

# The verdict and the exit code.
[ "$(tail -n 1 <<<"$out")" = "verdict: $verdict" ] && ok "verdict: $verdict" ||
    bad "verdict: '$(tail -n 1 <<<"$out")', want 'verdict: $verdict'"
[ "$rc" -eq "$want_rc" ] && ok "exit $rc" || bad "exit $rc, want $want_rc"

# -q: the verdict line alone, and the same exit code.
q=$("$mr" doctor -q)
qrc=$?
[ "$q" = "verdict: $verdict" ] && [ "$qrc" -eq "$rc" ] && ok "-q: the verdict line only" ||
    bad "-q: '$q', exit $qrc"

# A URI that cannot connect: libvirt FAIL with its fix line, exit 3, whatever the host.
for uri in test:///nonexistent-file nosuch:///x; do
    for opt in -c --connect; do
        o=$("$mr" doctor "$opt" "$uri")
        r=$?
        [ "$r" -eq 3 ] && ok "$opt $uri: exit 3" || bad "$opt $uri: exit $r"
        expect "$opt $uri: libvirt FAIL" "$o" "^FAIL  libvirt: cannot connect to libvirt at '$uri': "
        grep -A1 '^FAIL  libvirt:' <<<"$o" | tail -n 1 | grep -q '^      fix: ' &&
            ok "$opt $uri: a fix line follows" || bad "$opt $uri: no fix line after the libvirt FAIL"
        [ "$(tail -n 1 <<<"$o")" = "verdict: guests cannot run" ] || bad "$opt $uri: verdict '$(tail -n 1 <<<"$o")'"
    done
done

# libvirt's test driver answers; the types doctor names are the ones virsh shows, and no
# x86_64 qemu or kvm domain there means guests cannot run.
o=$("$mr" doctor -c test:///default)
r=$?
shape "test driver: output shape" "$o"
ttypes=$(virsh -c test:///default capabilities | x86_types)
tall=$(virsh -c test:///default capabilities |
    xmllint --xpath "//guest/arch/domain/@type" - | grep -o '"[a-z]*"' | tr -d '"' | sort -u | paste -sd' ')
expect "test driver: libvirt answers" "$o" "^ok    libvirt: test:///default answers: libvirt [0-9.]+, TEST "
for t in $tall; do
    expect "test driver: offers '$t'" "$o" "^ok    libvirt: .*offers .*$t"
done
if [ -z "$ttypes" ]; then
    expect "test driver: no x86_64 qemu/kvm is a FAIL" "$o" "^FAIL  domain types: test:///default offers no qemu or kvm domains for x86_64"
    [ "$r" -eq 3 ] && ok "test driver: exit 3" || bad "test driver: exit $r"
fi

# Usage errors: exit 2.
for args in "doctor extra" "doctor -c" "doctor --connect" "doctor --bogus"; do
    # shellcheck disable=SC2086
    "$mr" $args >/dev/null 2>&1
    r=$?
    [ "$r" -eq 2 ] && ok "usage: '$args' exits 2" || bad "usage: '$args' exits $r"
done
"$mr" --help | grep -q "^       matrixrun doctor \[-c URI\] \[-q\]" && "$mr" --help | grep -q "^  doctor     " &&
    ok "--help names doctor" || bad "--help does not name doctor"

echo "doctor: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
