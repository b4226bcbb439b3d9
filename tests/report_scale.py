#!/usr/bin/env python3
"""report_scale.py: how `matrixrun html` and `matrixrun compare` cope with big and hostile
JUnit reports. A benchmark, not a test: it prints wall times and peak memory, and checks
only that each command succeeded.

It writes, into a temporary folder, reports of three shapes:
  suites   N suites, each with distinct name, host, host kernel and run id (the values a
           lookup by suite name or a list of distinct values goes through), a dozen
           properties, the benchmark figures and four testcases
  props    one suite with N properties of distinct names
  cases    one suite with N testcases
and runs `matrixrun html` on each and `matrixrun compare` on two copies of each, printing
for every command its wall time, its peak resident memory and that as a multiple of the
report's size.

Usage: tests/report_scale.py [MATRIXRUN ...] [--suites N] [--props N] [--cases N]
       (default: build/matrixrun, 100000 of each)
Several binaries (say one built before a change and one after) are measured in turn.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time


def suite_xml(i, n_props=0, n_cases=0):
    name = f"cell-{i:06d}"
    props = [
        ("image", f"img{i % 7}"), ("family", "debian"), ("os.version", "12"),
        ("accel", "kvm"), ("libvirt.uri", "qemu:///system"), ("host", f"host-{i}"),
        ("run.id", f"run-{i}"), ("vcpus", "1"), ("memory.mib", "512"),
        ("guest.kernel", f"6.1.0-{i}"), ("host.kernel", f"6.1.{i}"),
        ("host.cpu.model", "cpu"), ("host.nested", "no"),
        ("benchmark.cpu.overhead.pct", f"{i % 50}.00"),
        ("benchmark.cpu.overhead.ci95.low.pct", f"{i % 50 - 1}.00"),
        ("benchmark.cpu.overhead.ci95.high.pct", f"{i % 50 + 1}.00"),
        ("benchmark.cpu.noisy", "no"),
    ]
    props += [(f"extra.{k}", str(k)) for k in range(n_props)]
    out = [f'  <testsuite name="{name}" tests="{4 + n_cases}" failures="0" errors="0" '
           f'skipped="0" time="1.000" timestamp="2026-11-20T09:15:02" hostname="host-{i}">',
           "    <properties>"]
    out += [f'      <property name="{k}" value="{v}"/>' for k, v in props]
    out.append("    </properties>")
    for c in ["boot", "install", "test"] + [f"case-{k}" for k in range(n_cases)]:
        out.append(f'    <testcase name="{c}" classname="m.{name}" time="0.100"/>')
    out.append(f'    <testcase name="benchmark.cpu" classname="m.{name}" time="1.000"/>')
    out.append("  </testsuite>")
    return "\n".join(out) + "\n"


def write_report(path, suites):
    with open(path, "w") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="scale">\n')
        for s in suites:
            f.write(s)
        f.write("</testsuites>\n")
    return os.path.getsize(path)


def measure(cmd):
    """Wall seconds and peak RSS in KiB of cmd, through /usr/bin/time."""
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()}")
    return wall, int(p.stderr.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("matrixrun", nargs="*", default=["build/matrixrun"])
    ap.add_argument("--suites", type=int, default=100000)
    ap.add_argument("--props", type=int, default=100000)
    ap.add_argument("--cases", type=int, default=100000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mr-scale-") as d:
        shapes = [
            ("suites", a.suites, lambda: (suite_xml(i) for i in range(a.suites))),
            ("props", a.props, lambda: [suite_xml(0, n_props=a.props)]),
            ("cases", a.cases, lambda: [suite_xml(0, n_cases=a.cases)]),
        ]
        print(f"{'binary':<28} {'shape':<7} {'N':>7} {'MiB':>6}  {'command':<8} "
              f"{'wall s':>7} {'peak MiB':>9} {'x file':>7}")
        for shape, n, gen in shapes:
            if n <= 0:
                continue
            path = os.path.join(d, f"{shape}.xml")
            size = write_report(path, gen())
            for mr in a.matrixrun:
                for what, cmd in (("html", [mr, "html", "-q", path, "-o",
                                            os.path.join(d, "out.html")]),
                                  ("compare", [mr, "compare", path, path])):
                    wall, rss = measure(cmd)
                    print(f"{mr[-28:]:<28} {shape:<7} {n:>7} {size / 2**20:>6.1f}  "
                          f"{what:<8} {wall:>7.2f} {rss / 1024:>9.1f} "
                          f"{rss * 1024 / size:>7.1f}", flush=True)


if __name__ == "__main__":
    main()
