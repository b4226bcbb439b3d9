#!/usr/bin/env bash
# man_pages.sh SRCDIR BUILDDIR: the installed files, checked as a user gets them.
# - `cmake --install` into a scratch DESTDIR puts the program, mrbench (where
#   runner/cpubench.c looks for it), both man pages and the bash completion in place;
# - both man pages render without a groff warning;
# - every option and verb of `matrixrun --help` is in matrixrun(1), every element and
#   attribute of matrices/matrix.rng in matrixrun-matrix(5);
# - the completion offers the verbs, every option of --help, and the demo matrix's cell
#   ids after --only.
set -u
src=$1
build=$2
mr=$build/matrixrun
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
tmp=$(mktemp -d /tmp/mr-man.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# --- install --------------------------------------------------------------------------
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
if DESTDIR=$tmp/root cmake --install "$build" >"$tmp/install.log" 2>&1; then
    ok "cmake --install into DESTDIR"
else
    bad "cmake --install: $(tail -3 "$tmp/install.log")"
fi
r=$tmp/root$prefix
for f in bin/matrixrun libexec/matrixrun/mrbench share/man/man1/matrixrun.1 \
         share/man/man5/matrixrun-matrix.5 share/bash-completion/completions/matrixrun; do
    if [ -s "$r/$f" ]; then ok "installed $f"; else bad "not installed: $f"; fi
done
# runner/cpubench.c looks in ../libexec/matrixrun from the program's folder.
if [ -x "$r/bin/../libexec/matrixrun/mrbench" ]; then ok "mrbench where matrixrun looks"; else bad "mrbench not at bin/../libexec/matrixrun"; fi
if [ "$("$r/bin/matrixrun" --version)" = "matrixrun $(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")" ]; then
    ok "installed matrixrun runs"
else
    bad "installed matrixrun --version: $("$r/bin/matrixrun" --version 2>&1)"
fi

# --- the Debian package (cpack), as `apt-get install ./matrixrun_*.deb` would get it ------
if cpack -G DEB -B "$tmp/pkg" --config "$build/CPackConfig.cmake" >"$tmp/cpack.log" 2>&1 &&
   deb=$(ls "$tmp"/pkg/matrixrun_*.deb 2>/dev/null) && [ -n "$deb" ]; then
    ok "cpack built ${deb##*/}"
    depends=$(dpkg-deb -f "$deb" Depends)
    for lib in libvirt0 libssh2-1 libxml2 libarchive13 libc6 qemu-utils openssh-client; do
        grep -qE "(^|, )$lib( |,|$)" <<<"$depends" || bad "package Depends lacks $lib: $depends"
    done
    ok "package Depends: $depends"
    dpkg-deb -x "$deb" "$tmp/deb"
    for f in usr/bin/matrixrun usr/libexec/matrixrun/mrbench usr/share/man/man1/matrixrun.1 \
             usr/share/man/man5/matrixrun-matrix.5 usr/share/bash-completion/completions/matrixrun; do
        [ -s "$tmp/deb/$f" ] || bad "package lacks /$f"
    done
    if "$tmp/deb/usr/bin/matrixrun" --version >/dev/null; then ok "packaged matrixrun runs"; else bad "packaged matrixrun does not run"; fi
else
    bad "cpack: $(tail -5 "$tmp/cpack.log")"
fi

# --- rendering --------------------------------------------------------------------------
for page in "$r/share/man/man1/matrixrun.1" "$r/share/man/man5/matrixrun-matrix.5"; do
    name=${page##*/}
    if grep -q '@VERSION@' "$page"; then bad "$name: @VERSION@ not replaced"; fi
    warn=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$page" 2>&1)
    if [ -z "$warn" ]; then ok "$name renders without warnings"; else bad "$name: groff says: ${warn:0:400}"; fi
    warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
    if [ -z "$warn" ]; then ok "$name: man --warnings is quiet"; else bad "$name: man says: ${warn:0:400}"; fi
done
text1=$(LC_ALL=C groff -man -Tascii -P-c -P-b -P-u "$r/share/man/man1/matrixrun.1" 2>/dev/null)
text5=$(LC_ALL=C groff -man -Tascii -P-c -P-b -P-u "$r/share/man/man5/matrixrun-matrix.5" 2>/dev/null)
# groff breaks long words at hyphens only where the source allows; -Tascii keeps '-' plain.
text1=$(tr -s ' \n' ' ' <<<"$text1")
text5=$(tr -s ' \n' ' ' <<<"$text5")

# --- every option and verb of --help in matrixrun(1) -----------------------------------
help=$("$mr" --help)
opts=$(grep -oE -- '(^|[ ,\[|])--?[a-zA-Z][a-z-]*' <<<"$help" | sed 's/^[ ,\[|]//' | sort -u)
[ "$(wc -l <<<"$opts")" -ge 15 ] && ok "--help lists $(wc -l <<<"$opts") options" || bad "too few options read off --help: $opts"
for o in $opts; do
    if grep -qE -- "(^|[ ,\[(|])$o([] ,=|)]|$)" <<<"$text1"; then :; else bad "matrixrun(1) lacks option $o"; fi
done
ok "options of --help checked in matrixrun(1)"
verbs=$(sed -n '/^Verbs:/,/^$/p' <<<"$help" | awk 'NR > 1 && /^  [a-z]/ { print $1 }')
[ "$(wc -w <<<"$verbs")" -ge 7 ] || bad "too few verbs read off --help: $verbs"
for v in $verbs; do
    grep -qw -- "$v" <<<"$text1" || bad "matrixrun(1) lacks verb $v"
done
ok "verbs of --help checked in matrixrun(1): $(tr '\n' ' ' <<<"$verbs")"
for code in 0 1 2 3 130 143; do
    grep -qw "$code" <<<"$(sed -n '/EXIT STATUS/,/ENVIRONMENT/p' <<<"$text1")" || bad "matrixrun(1) EXIT STATUS lacks $code"
done
for env in MATRIXRUN_WORKDIR MATRIXRUN_CATALOGUE MATRIXRUN_MRBENCH; do
    grep -qr "getenv(\"$env\")" "$src/runner" || bad "$env is not read by runner/ any more"
    grep -q "$env" <<<"$text1" || bad "matrixrun(1) lacks $env"
done

# --- every element and attribute of the matrix schema in matrixrun-matrix(5) -----------
names=$(grep -oE '<(element|attribute) name="[^"]+"' "$src/matrices/matrix.rng" | sed 's/.*name="//; s/"$//' | sort -u)
[ "$(wc -l <<<"$names")" -ge 30 ] || bad "too few names read off matrix.rng: $names"
for n in $names; do
    grep -qE -- "(^|[^a-z-])$n([^a-z-]|$)" <<<"$text5" || bad "matrixrun-matrix(5) lacks '$n'"
done
ok "$(wc -l <<<"$names") names of matrix.rng checked in matrixrun-matrix(5)"

# --- bash completion ---------------------------------------------------------------------
# complete_words WORD...: what the completion offers for the last word.
complete_words() {
    PATH=$build:$PATH bash -c '
        source "$1"; shift
        COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        _matrixrun; printf "%s\n" "${COMPREPLY[@]}"' _ "$r/share/bash-completion/completions/matrixrun" "$@"
}
got=$(cd "$src" && complete_words matrixrun "")
for v in $verbs; do grep -qx "$v" <<<"$got" || bad "completion lacks verb $v"; done
ok "completion offers the verbs"
all=$(for v in "" run validate list clean doctor compare html init ssh; do complete_words matrixrun $v -; done | sort -u)
for o in $opts; do grep -qx -- "$o" <<<"$all" || bad "completion lacks option $o"; done
ok "completion offers every option of --help"
got=$(cd "$src" && complete_words matrixrun list matrices/demo.xml --only "")
want=$("$mr" list "$src/matrices/demo.xml" | cut -f1)
if [ -n "$want" ] && [ "$got" = "$want" ]; then ok "completion of --only gives the cell ids"; else bad "--only completion: '$got', want '$want'"; fi
got=$(cd "$src" && complete_words matrixrun init images/out/min)
grep -qx "images/out/minimal.qcow2" <<<"$got" && ! grep -q "minimal.hostkey.pub" <<<"$got" && ok "completion of init's images" || bad "init completion: '$got'"
got=$(cd "$src" && complete_words matrixrun validate matrices/dem)
grep -qx "matrices/demo.xml" <<<"$got" && ok "completion of a matrix file" || bad "matrix file completion: '$got'"

echo "man-pages: $pass passed, $fail failed"
[ "$fail" = 0 ]
