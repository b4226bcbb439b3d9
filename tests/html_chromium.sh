#!/usr/bin/env bash
# html_chromium.sh MATRIXRUN DATA [NAME=REPORT...]: the HTML summary as a browser sees it.
# matrixrun writes the page of fixture reports (or of the reports given: e2e_bench.sh
# passes two real runs'; a NAME ending in over-limit has its bar drawn red); headless
# Chromium (no network: every host name resolves to nothing and the proxy is a closed
# local port) parses and renders it; the DOM it dumps must hold the SVG chart with each
# cell's numbers equal to the report's properties, each failed or errored testcase's end
# of output, each cell's time bar, and links to exactly the cell files that exist
# (resolving to them); its screenshot must show the chart's, the time bars' and the
# verdicts' colours. A fixture is copied to a folder of its own with the files of every
# other cell beside it, as a run leaves them, and its page is written elsewhere, so the
# links go from one folder to the other. Without chromium this test fails: setup.sh
# installs it.
set -u
mr=$1
data=$2
shift 2
reports=()
own=0
if [ $# -gt 0 ]; then
    reports=("$@")
else
    own=1
    for fixture in run1 chart-edge no-benchmark failures; do reports+=("$fixture=$data/report/$fixture.xml"); done
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
        --window-size=1200,2000 --hide-scrollbars "$1" "file://$2" 2>>"$tmp/chromium.log"
}

for entry in "${reports[@]}"; do
    fixture=${entry%%=*}
    report=${entry#*=}
    page=$tmp/$fixture.html
    if [ "$own" = 1 ]; then
        mkdir -p "$tmp/r-$fixture" && cp "$report" "$tmp/r-$fixture/junit.xml"
        report=$tmp/r-$fixture/junit.xml
        python3 - "$report" <<'EOF'
import os, sys
import xml.etree.ElementTree as ET
# Cells 0, 4, 8... get both files, cells 2, 6... only serial.log, odd cells none.
report = sys.argv[1]
for i, s in enumerate(ET.parse(report).getroot().iter("testsuite")):
    name = s.get("name") or ""
    if i % 2 or not name or "/" in name or name in (".", ".."):
        continue
    os.makedirs(os.path.join(os.path.dirname(report), name), exist_ok=True)
    for f in ("serial.log", "artifacts.tar.gz")[: 2 if i % 4 == 0 else 1]:
        with open(os.path.join(os.path.dirname(report), name, f), "w") as out:
            out.write("x\n")
EOF
    fi
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

    # Chromium's DOM against the report, per cell: the end of each failed or errored
    # testcase's output and nothing of the others', the time bar's seconds and widths,
    # and links to the cell's files exactly when they exist, resolving to them.
    if python3 - "$report" "$tmp/$fixture.dom" "$page" "$tmp/$fixture.bars" <<'EOF'; then
import math, os, re, sys, urllib.parse
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

report, dom, page, bars_flag = sys.argv[1:5]
PHASES = ("prepare", "boot", "install", "tests", "benchmark", "collect", "teardown")
FILES = {"serial-log": "serial.log", "artifacts": "artifacts.tar.gz"}

def seconds(v):
    # As the page reads a time: a plain decimal number, finite, above 0, below 1e9.
    if v is None or not re.fullmatch(r"[0-9+\-.eE]+", v):
        return 0.0
    try:
        x = float(v)
    except ValueError:
        return 0.0
    return x if math.isfinite(x) and 0 < x < 1e9 else 0.0

def tail(text):
    # The last 40 lines within the last 4096 bytes, not starting mid-character.
    b = text.encode("utf-8")
    keep = b[-4096:]
    body = keep[:-1] if keep.endswith(b"\n") else keep
    lines = body.split(b"\n")
    out = b"\n".join(lines[-40:])
    if len(b) > len(keep) and len(lines) <= 40:
        while out and out[0] & 0xC0 == 0x80:
            out = out[1:]
    return out.decode("utf-8", "replace")

class Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sections, self.sec, self.row, self.field, self.stream = [], None, None, None, None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if tag == "section" and "cell" in cls:
            self.sec = {"name": a.get("data-cell"), "links": {}, "bar": None, "rows": []}
            self.sections.append(self.sec)
        if self.sec is None:
            return
        if tag == "a" and cls and cls[0] in FILES:
            self.sec["links"][cls[0]] = a.get("href")
        elif tag == "svg" and "time-bar" in cls:
            self.sec["bar"] = {"total": float(a["data-total"]), "phases": []}
        elif tag == "rect" and a.get("data-phase") and self.sec["bar"] is not None:
            self.sec["bar"]["phases"].append((a["data-phase"], float(a["data-seconds"]),
                                              float(a["width"])))
        elif tag == "td" and "name" in cls:
            self.row = {"name": "", "tails": {}}
            self.sec["rows"].append(self.row)
            self.field = "name"
        elif tag == "div" and "tail" in cls and self.row is not None:
            self.stream = a.get("data-stream")
            self.row["tails"][self.stream] = None
        elif tag == "pre" and "tail" in cls and self.stream:
            self.row["tails"][self.stream] = ""
            self.field = "tail"
    def handle_endtag(self, tag):
        if tag in ("td", "pre"):
            self.field = None
        if tag == "div":
            self.stream = None
        if tag == "section":
            self.sec = self.row = None
    def handle_data(self, d):
        if self.field == "name":
            self.row["name"] += d
        elif self.field == "tail":
            self.row["tails"][self.stream] += d

d = Dom()
d.feed(open(dom, encoding="utf-8").read())
root = ET.parse(report).getroot()
suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
bad, tails, links, drawn = [], 0, 0, 0
if len(d.sections) != len(suites):
    bad.append("%d cell sections, %d suites" % (len(d.sections), len(suites)))
page_url = "file://" + urllib.parse.quote(os.path.abspath(page))
for s, sec in zip(suites, d.sections):
    name = s.get("name") or ""
    # Links: to each file that exists, resolving to it; none to a file that does not.
    safe = name and "/" not in name and name not in (".", "..")
    for cls, f in FILES.items():
        path = os.path.join(os.path.dirname(report), name, f)
        exists = bool(safe) and os.path.isfile(path)
        href = sec["links"].get(cls)
        if exists != (href is not None):
            bad.append("%s: %s %s but %s" % (name, f, "exists" if exists else "is absent",
                                             "linked" if href else "not linked"))
        elif href:
            target = urllib.parse.urlparse(urllib.parse.urljoin(page_url, href))
            to = urllib.parse.unquote(target.path)
            if target.scheme != "file" or not os.path.exists(to) or not os.path.samefile(to, path):
                bad.append("%s: %s links %r, which is not the file" % (name, f, href))
            links += 1
    # Time bar: the report's times per phase, each as wide as its share of 600.
    props = {p.get("name"): p.get("value") for p in s.iter("property")}
    sec_of = dict.fromkeys(PHASES, 0.0)
    sec_of["prepare"] = seconds(props.get("time.prepare"))
    sec_of["collect"] = seconds(props.get("time.collect"))
    sec_of["teardown"] = seconds(props.get("time.teardown"))
    seen = set()
    cases = [c for c in s if c.tag == "testcase"]
    for c in cases:
        p = {"boot": "boot", "install": "install", "benchmark.cpu": "benchmark"}.get(c.get("name"), "tests")
        if p in seen:
            p = "tests"
        seen.add(p)
        sec_of[p] += seconds(c.get("time"))
    total = sum(sec_of.values())
    if total <= 0:
        if sec["bar"] is not None:
            bad.append("%s: a time bar without times" % name)
    elif sec["bar"] is None:
        bad.append("%s: no time bar" % name)
    else:
        drawn += 1
        got = {p: (v, w) for p, v, w in sec["bar"]["phases"]}
        for p in PHASES:
            v, w = got.get(p, (None, None))
            if v is None or abs(v - sec_of[p]) > 0.0006 or abs(w - 600 * sec_of[p] / total) > 0.01:
                bad.append("%s: %s %r s, width %r; report %.3f s of %.3f" % (name, p, v, w, sec_of[p], total))
    # Output: the end of each failed or errored case's streams, nothing of the others'.
    rows = sec["rows"]
    if len(rows) != len(cases):
        bad.append("%s: %d testcase rows, %d testcases" % (name, len(rows), len(cases)))
        continue
    for c, row in zip(cases, rows):
        first = [v for v in c if v.tag in ("failure", "error", "skipped")][:1]
        failed = bool(first) and first[0].tag in ("failure", "error")
        for stream in ("system-out", "system-err"):
            el = c.find(stream)
            if not failed or el is None:
                if stream in row["tails"]:
                    bad.append("%s/%s: %s shown for a case that %s" % (name, row["name"], stream,
                               "has none" if failed else "passed or was skipped"))
                continue
            got = row["tails"].get(stream)
            text = el.text or ""
            # Control characters are shown as escapes (\x1b): compared only without them.
            plain = not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text)
            if got is None:
                bad.append("%s/%s: no %s shown" % (name, row["name"], stream))
            elif plain and got != tail(text):
                bad.append("%s/%s: %s shown ...%r, want ...%r" % (name, row["name"], stream,
                                                                 got[-80:], tail(text)[-80:]))
            tails += 1
if drawn:
    open(bars_flag, "w").close()
for b in bad:
    print("   ", b)
print("    %d output ends, %d links, %d time bars checked against the report" % (tails, links, drawn))
sys.exit(1 if bad else 0)
EOF
        ok "$fixture: Chromium's DOM shows each failure's output, the time bars and the links to the cells' files"
    else
        fail "$fixture: Chromium's DOM does not show the failures, time bars or links as the report has them"
    fi

    t0=$(date +%s%N)
    if ! browse --screenshot="$tmp/$fixture.png" "$page" >/dev/null || [ ! -s "$tmp/$fixture.png" ]; then
        fail "$fixture: chromium --screenshot: $(tail -5 "$tmp/chromium.log")"
        continue
    fi
    shot_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    # The PNG decoded with the standard library: not blank, and with the chart's bar
    # colour (#9cc3e6) when there is a chart, the pass colour (#d7f0dc) of the verdicts.
    if python3 - "$tmp/$fixture.png" "$fixture" "$tmp/$fixture.bars" <<'EOF'; then
import os, struct, sys, zlib

path, fixture, bars_flag = sys.argv[1], sys.argv[2], sys.argv[3]
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
# The time bars' phase colours (html.c's .t-* rules).
phases = sum(colours.get(bytes.fromhex(c), 0) for c in
             ("b39ddb", "f2c14e", "6aaa64", "3f7fd9", "e07a5f", "5c6b80", "a8a29e"))
print("    %dx%d, %d colours, %.1f%% not white, %d bar pixels, %d pass-colour pixels, "
      "%d time-bar pixels" % (w, h, len(colours), 100 * share, bar, passed, phases))
problems = []
if len(colours) < 10 or share < 0.01:
    problems.append("the screenshot is blank")
if fixture not in ("no-benchmark", "failures") and not fixture.endswith("over-limit") \
        and bar < 200:
    problems.append("no chart bar drawn")
if os.path.exists(bars_flag) and phases < 200:
    problems.append("no time bar drawn")
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
