#!/usr/bin/env bash
# html_chromium.sh MATRIXRUN DATA [NAME=REPORT...]: the HTML summary as a browser sees it.
# matrixrun writes the page of fixture reports (or of the reports given: e2e_bench.sh
# passes two real runs'; a NAME ending in over-limit has its bar drawn red); headless Chromium (no network: every host name resolves to
# nothing and the proxy is a closed local port) parses and renders it; the DOM it dumps
# must hold the SVG chart with each cell's numbers equal to the report's properties, and
# its screenshot must show the chart's and the verdicts' colours. Without chromium this
# test fails: setup.sh installs it.
set -u
mr=$1
data=$2
shift 2
reports=()
if [ $# -gt 0 ]; then
    reports=("$@")
else
    for fixture in run1 chart-edge no-benchmark; do reports+=("$fixture=$data/report/$fixture.xml"); done
fi
fails=0
passes=0
ok() { echo "ok   $1"; passes=$((passes + 1)); }
fail() { echo "FAIL $1"; fails=$((fails + 1)); }

chromium=$(command -v chromium || true)
if [ -z "$chromium" ]; then
    echo "FAIL chromium is not installed: run 'bash setup.sh' (it installs Debian's chromium package)"
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# As root Chromium needs --no-sandbox. The rest keeps it off the network and off the
# host's profile: no background fetches, updates, sync, crash reports or pings, DNS that
# finds nothing, and a proxy on a port nothing listens on.
browse() { # output flag, page
    HOME=$tmp/home XDG_CONFIG_HOME=$tmp/home/.config XDG_CACHE_HOME=$tmp/home/.cache \
        DBUS_SESSION_BUS_ADDRESS=disabled: \
        timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
        --user-data-dir="$tmp/profile" --no-first-run --no-default-browser-check \
        --disable-background-networking --disable-component-update --disable-sync \
        --disable-default-apps --disable-extensions --disable-domain-reliability \
        --disable-breakpad --disable-client-side-phishing-detection --no-pings \
        --metrics-recording-only --host-resolver-rules="MAP * ~NOTFOUND" \
        --proxy-server="127.0.0.1:9" --proxy-bypass-list="<-loopback>" \
        --window-size=1200,1000 --hide-scrollbars "$1" "file://$2" 2>>"$tmp/chromium.log"
}

for entry in "${reports[@]}"; do
    fixture=${entry%%=*}
    report=${entry#*=}
    page=$tmp/$fixture.html
    if ! "$mr" html -q "$report" -o "$page"; then
        fail "$fixture: matrixrun html"
        continue
    fi
    # The only URL in the page is the SVG namespace (nothing to fetch).
    urls=$(grep -oE "https?://[^\"' <>)]*" "$page" | grep -vx 'http://www.w3.org/2000/svg' || true)
    [ -z "$urls" ] && ok "$fixture: no URL but the SVG namespace" || fail "$fixture: URLs: $urls"

    t0=$(date +%s%N)
    if ! browse --dump-dom "$page" >"$tmp/$fixture.dom" || [ ! -s "$tmp/$fixture.dom" ]; then
        fail "$fixture: chromium --dump-dom: $(tail -5 "$tmp/chromium.log")"
        continue
    fi
    # Chromium's DOM against the report: each chart cell's data-* and visible numbers
    # equal the suite's properties, and exactly the cells with usable figures are drawn.
    if python3 - "$report" "$tmp/$fixture.dom" <<'EOF'; then
import math, sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

report, dom = sys.argv[1], sys.argv[2]
P = "benchmark.cpu.overhead"
want = {}
for s in ET.parse(report).getroot().iter("testsuite"):
    props = {p.get("name"): p.get("value") for p in s.iter("property")}
    try:
        v, lo, hi = (float(props[k]) for k in (P + ".pct", P + ".ci95.low.pct", P + ".ci95.high.pct"))
    except (KeyError, ValueError):
        continue
    if all(math.isfinite(x) and -100 < x < 1e6 for x in (v, lo, hi)) and lo <= v <= hi:
        want[s.get("name")] = (v, lo, hi, props.get("benchmark.cpu.noisy", "no"))

class Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.cells, self.cur, self.field, self.depth = {}, None, None, 0
        self.svg = self.scripts = 0
        self.paras = []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if tag == "svg" and "overhead-chart" in cls:
            self.svg += 1
        if tag == "script":
            self.scripts += 1
        if tag == "p":
            self.paras.append(" ".join(cls))
        if tag == "g" and "cell" in cls:
            self.cur = {"attrs": a, "text": {}}
            self.cells[a.get("data-cell")] = self.cur
            self.depth = 0
        elif self.cur is not None:
            if tag == "g":
                self.depth += 1
            for c in ("overhead", "low", "high", "name", "noisy-mark"):
                if c in cls:
                    self.field = c
                    self.cur["text"].setdefault(c, "")
    def handle_endtag(self, tag):
        if tag in ("tspan", "text"):
            self.field = None
        if tag == "g" and self.cur is not None:
            if self.depth == 0:
                self.cur = None
            else:
                self.depth -= 1
    def handle_data(self, d):
        if self.cur is not None and self.field:
            self.cur["text"][self.field] += d

d = Dom()
d.feed(open(dom, encoding="utf-8").read())
bad = []
if d.scripts:
    bad.append("a <script> in the DOM")
if not want:
    if d.svg:
        bad.append("an SVG although no cell has figures")
    if "no-benchmark" not in d.paras:
        bad.append("no 'no benchmark' note")
else:
    if d.svg != 1:
        bad.append("%d SVG elements, want 1" % d.svg)
    if set(d.cells) != set(want):
        bad.append("chart cells %s, report cells with figures %s" % (sorted(d.cells), sorted(want)))
    for name, (v, lo, hi, noisy) in want.items():
        c = d.cells.get(name)
        if not c:
            continue
        for key, exp in (("overhead", v), ("low", lo), ("high", hi)):
            attr, text = c["attrs"].get("data-" + key), c["text"].get(key, "").strip()
            if attr is None or abs(float(attr) - exp) > 0.005:
                bad.append("%s: data-%s %r, report %r" % (name, key, attr, exp))
            if text != attr:
                bad.append("%s: visible %s %r, data-%s %r" % (name, key, text, key, attr))
        if c["attrs"].get("data-noisy") != noisy or (noisy == "yes") != ("noisy-mark" in c["text"]):
            bad.append("%s: noisy %r in the report, %r / mark %s in the chart"
                       % (name, noisy, c["attrs"].get("data-noisy"), "noisy-mark" in c["text"]))
        if len(name) <= 40 and c["text"].get("name") != name:
            bad.append("%s: label %r" % (name, c["text"].get("name")))
for b in bad:
    print("   ", b)
print("    %d chart cell(s) checked against the report" % len(want))
sys.exit(1 if bad else 0)
EOF
        ok "$fixture: Chromium's DOM holds the chart with the report's numbers ($(( ($(date +%s%N) - t0) / 1000000 )) ms with the check)"
    else
        fail "$fixture: Chromium's DOM does not match the report"
    fi

    t0=$(date +%s%N)
    if ! browse --screenshot="$tmp/$fixture.png" "$page" >/dev/null || [ ! -s "$tmp/$fixture.png" ]; then
        fail "$fixture: chromium --screenshot: $(tail -5 "$tmp/chromium.log")"
        continue
    fi
    shot_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    # The PNG decoded with the standard library: not blank, and with the chart's bar
    # colour (#9cc3e6) when there is a chart, the pass colour (#d7f0dc) of the verdicts.
    if python3 - "$tmp/$fixture.png" "$fixture" <<'EOF'; then
import struct, sys, zlib

path, fixture = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat = 8, b""
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
assert depth == 8 and ctype in (2, 6), "unexpected PNG format %d/%d" % (depth, ctype)
bpp = 3 if ctype == 2 else 4
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
colours, nonwhite = {}, 0
for y in range(h):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1:
            line[i] = (line[i] + a) & 255
        elif f == 2:
            line[i] = (line[i] + b) & 255
        elif f == 3:
            line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp):
        px = bytes(line[x:x + 3])
        colours[px] = colours.get(px, 0) + 1
        if px != b"\xff\xff\xff":
            nonwhite += 1
    prev = line
share = nonwhite / (w * h)
bar = colours.get(bytes.fromhex("9cc3e6"), 0)
passed = colours.get(bytes.fromhex("d7f0dc"), 0)
print("    %dx%d, %d colours, %.1f%% not white, %d bar pixels, %d pass-colour pixels"
      % (w, h, len(colours), 100 * share, bar, passed))
problems = []
if len(colours) < 10 or share < 0.01:
    problems.append("the screenshot is blank")
if fixture != "no-benchmark" and not fixture.endswith("over-limit") and bar < 200:
    problems.append("no chart bar drawn")
if passed < 200:
    problems.append("no pass-coloured verdict cell")
for p in problems:
    print("   ", p)
sys.exit(1 if problems else 0)
EOF
        ok "$fixture: the screenshot shows the page (Chromium took $shot_ms ms)"
    else
        fail "$fixture: the screenshot"
    fi
done
echo "html_chromium: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
