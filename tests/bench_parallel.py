#!/usr/bin/env python3
"""bench_parallel.py: how well matrixrun runs cells side by side. A benchmark, not a test:
it prints figures and checks nothing but that the runs worked.

For N = 1, 2, 4, 8 it runs N copies of the demo's small cell (the minimal image, 1 vCPU,
256 MiB, the demo package and its two tests), in two ways, one table each: all at once
(-j N, with the vCPU overcommit that lets N guests fit), then as matrixrun admits them by
default (within the host's capacity, the rest queued). It prints, from the JUnit each run
wrote and from the run itself:
  wall        the run's wall time
  sum         the sum of the cells' own times
  bound       max(longest cell, total guest CPU time / host cores): no scheduler can
              finish sooner, since every guest needs its CPU time from the host's cores
  efficiency  bound / wall (1.0 is perfect)
  overhead    per cell, everything that is not boot, install or test, split into
              prepare (keys, seed, overlay, waiting for a boot slot), collect (the
              family's log commands in the guest), teardown (destroy, archive) and the rest
  cpu/cell    matrixrun's own CPU time (user + system) per cell
  peak RSS    matrixrun's peak resident memory
  speedup     N times the first row's wall time per cell, over the wall time
Then the memory of a 100-cell matrix: `matrixrun list` on tests/data/matrix/hundred.xml,
and a full scheduling pass over the same 100 cells against libvirt's test driver
(test:///default: no real guests; every cell is placed, started and fails at once).

With --warm, instead: cold boot against warm start (issue 14), side by side, each pair
run one right after the other (the order alternating from pair to pair): 1, 4 and 8 cells
of the minimal image and 3 of the cloud image, each matrix one image times an axis (so
every warm cell restores from one template), matrixrun's own admission. Per pair: both
wall times, warm / cold, the template's time (boot to saved state), the cold boots'
median and the restores' median and largest (the boot testcase's time, from the guest's
start to SSH ready; for warm, with the clock set), each cell's work after its boot, and
the floor: the least warm / cold that any schedule could reach with the parts measured
(every cell restores after the template is saved: the template's time plus the longest
cell's restore and work after it, over the cold wall time).

Usage: tests/bench_parallel.py [BUILD_DIR] [N ...] [--mode all|capacity|both] [--stagger S]
       tests/bench_parallel.py [BUILD_DIR] --warm [--rounds R] [--cells KIND:N ...]
       (default: build, 1 2 4 8, both, matrixrun's own stagger; --rounds 1,
       --cells minimal:1 minimal:4 minimal:8 cloud:3)
Needs the demo image and package (bash setup.sh) and the system libvirtd.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(SRC, "images", "out")


def matrix(n):
    cells = []
    for i in range(1, n + 1):
        cells.append(f"""  <image name="cell-{i}" family="debian" user="root" memory-mib="256" vcpus="1"
         boot-timeout="300">
    <disk path="{OUT}/minimal.qcow2"/>
    <kernel path="{OUT}/minimal.vmlinuz" initrd="{OUT}/minimal.initrd"
            cmdline="console=ttyS0 root=/dev/vda rw"/>
    <hostkey path="{OUT}/minimal.hostkey.pub"/>
  </image>""")
    return f"""<matrix version="1" name="bench{n}" retries="0">
  <host uri="qemu:///system" accel="tcg"/>
{chr(10).join(cells)}
  <package name="mr-demo" version="1.0" install-timeout="300">
    <artifact family="debian" path="{OUT}/mr-demo_1.0_all.deb"/>
  </package>
  <test name="selftest" timeout="120">mr-demo selftest</test>
  <test name="known-bug" timeout="120">mr-demo known-bug</test>
</matrix>
"""


def axis_matrix(kind, n):
    """One image (minimal or cloud) times an axis of n values: n cells of one template."""
    if kind == "minimal":
        image = f"""  <image name="minimal" family="debian" user="root" memory-mib="256" vcpus="1"
         boot-timeout="300">
    <disk path="{OUT}/minimal.qcow2"/>
    <kernel path="{OUT}/minimal.vmlinuz" initrd="{OUT}/minimal.initrd"
            cmdline="console=ttyS0 root=/dev/vda rw"/>
    <hostkey path="{OUT}/minimal.hostkey.pub"/>
  </image>"""
    else:
        image = f"""  <image name="cloud" family="debian" version="12" memory-mib="1024" vcpus="1"
         boot-timeout="600">
    <disk path="{OUT}/cloud.qcow2"/>
  </image>"""
    values = "".join(f"<value>{i}</value>" for i in range(1, n + 1))
    return f"""<matrix version="1" name="{kind}{n}" retries="0">
  <host uri="qemu:///system" accel="tcg"/>
{image}
  <axis name="K">{values}</axis>
  <package name="mr-demo" version="1.0" install-timeout="300">
    <artifact family="debian" path="{OUT}/mr-demo_1.0_all.deb"/>
  </package>
  <test name="selftest" timeout="120">mr-demo selftest</test>
  <test name="known-bug" timeout="120">mr-demo known-bug</test>
</matrix>
"""


def run(argv, env=None):
    """Runs argv; returns (exit code, wall s, its CPU s, its peak RSS KiB, its output)."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         env=env)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    return p.returncode, wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss, out


def props(suite):
    return {p.get("name"): p.get("value") for p in suite.iter("property")}


def run_matrix(mr, text, path, out, what, args):
    """Writes the matrix text to path, runs it into out; returns (wall s, matrixrun's CPU s,
    its peak RSS KiB, the report's suites). Exits when the run failed or a cell did not boot:
    a benchmark of runs that did not happen would print nothing true."""
    with open(path, "w") as f:
        f.write(text)
    rc, wall, cpu, rss, log = run([mr, path, "-o", out, "-q"] + args)
    report = os.path.join(out, "junit.xml")
    if rc not in (0, 1) or not os.path.exists(report):
        errors = log[-3000:]
        if os.path.exists(report):
            errors = "\n".join(f"{s.get('name')}/{c.get('name')}: {e.get('message')}"
                               for s in ET.parse(report).getroot().findall("testsuite")
                               for c in s.findall("testcase") for e in c.findall("error"))
        sys.exit(f"bench: {what} failed (exit {rc}):\n{errors}")
    suites = ET.parse(report).getroot().findall("testsuite")
    for s in suites:
        if s.find("testcase[@name='boot']/error") is not None:
            sys.exit(f"bench: {what}: cell {s.get('name')} did not boot")
    return wall, cpu, rss, suites


def bench(mr, n, cores, tmp, extra, within):
    """One run of n cells; within: matrixrun's own admission, else all n at once."""
    overcommit = max(1.0, n / cores)
    admit = [] if within else ["-j", str(n), "--overcommit", f"{overcommit:g}"]
    wall, cpu, rss, suites = run_matrix(mr, matrix(n), os.path.join(tmp, f"bench{n}.xml"),
                                        os.path.join(tmp, f"r{n}"),
                                        f"the run of {n} cell(s)", admit + extra)
    if len(suites) != n:
        sys.exit(f"bench: {len(suites)} cells reported, {n} expected")
    times, guest_cpu, over = [], 0.0, []
    parts = {"prepare": 0.0, "collect": 0.0, "teardown": 0.0, "rest": 0.0, "slot": 0.0}
    for s in suites:
        pr = props(s)
        t = float(s.get("time"))
        cases = {c.get("name"): float(c.get("time")) for c in s.findall("testcase")}
        work = sum(cases.values())  # boot, install and the tests
        times.append(t)
        guest_cpu += float(pr.get("guest.cpu.seconds", "0"))
        over.append(t - work)
        known = 0.0
        for k in ("prepare", "collect", "teardown"):
            v = float(pr.get(f"time.{k}", "0"))
            parts[k] += v
            known += v
        # The report's times are rounded to the millisecond: rest can come out a hair
        # below 0, which would print as -0.00.
        rest = (t - work) - known
        parts["rest"] += 0.0 if abs(rest) < 0.005 else rest
        # The wait for a boot slot (--stagger) is part of prepare; shown apart too.
        parts["slot"] += float(pr.get("time.boot-slot-wait", "0"))
    bound = max(max(times), guest_cpu / cores)
    return {
        "n": n, "wall": wall, "sum": sum(times), "longest": max(times), "guest_cpu": guest_cpu,
        "bound": bound, "eff": bound / wall, "over": sum(over) / n,
        "parts": {k: v / n for k, v in parts.items()}, "cpu": cpu / n, "rss": rss,
    }


def warm_run(mr, kind, n, how, tmp, tag):
    """One run of n cells of kind, --cold or --warm: wall time, the cells' boot testcase
    times, the template's time, each cell's work after its boot (its testcases but the
    boot, its log collection and its teardown), and (boot, work after it) per cell."""
    wall, _, _, suites = run_matrix(mr, axis_matrix(kind, n), os.path.join(tmp, f"{kind}{n}.xml"),
                                    os.path.join(tmp, f"{kind}{n}-{how}-{tag}"),
                                    f"{kind} x{n} --{how}", [f"--{how}"])
    boots, after, cells, modes, template = [], [], [], set(), None
    for s in suites:
        boot = float(s.find("testcase[@name='boot']").get("time"))
        boots.append(boot)
        pr = props(s)
        after.append(sum(float(c.get("time")) for c in s.findall("testcase")) - boot
                     + float(pr.get("time.collect", "0")) + float(pr.get("time.teardown", "0")))
        cells.append((boot, after[-1]))
        modes.add(pr.get("boot.mode"))
        template = pr.get("time.template", template)
    want = {"warm"} if how == "warm" else {"cold"}
    if modes != want:
        sys.exit(f"bench: {kind} x{n} --{how}: boot modes {modes}, expected {want}")
    return wall, sorted(boots), float(template) if template else None, after, cells


def median(v):
    v = sorted(v)
    return (v[(len(v) - 1) // 2] + v[len(v) // 2]) / 2


WARM_CELLS = ["minimal:1", "minimal:4", "minimal:8", "cloud:3"]


def warm_bench(mr, rounds, cells):
    """Cold against warm, pair by pair."""
    print(f"{'cells':>10} {'cold s':>7} {'warm s':>7} {'warm/cold':>9} {'template s':>10} "
          f"{'cold boot med':>13} {'restore med':>11} {'restore max':>11} "
          f"{'after cold':>10} {'after warm':>10} {'floor/cold':>10}")
    pair = 0
    with tempfile.TemporaryDirectory(prefix="mr-bench-warm-") as tmp:
        for kind, n in cells:
            for r in range(rounds):
                order = ("cold", "warm") if pair % 2 == 0 else ("warm", "cold")
                pair += 1
                res = {how: warm_run(mr, kind, n, how, tmp, r) for how in order}
                cw, cb, _, ca, _ = res["cold"]
                ww, wb, tt, wa, _ = res["warm"]
                # Every warm cell starts its restore after the template is saved, so no
                # schedule of the warm run ends before the template's time plus the longest
                # cell's restore and work after it.
                floor = tt + max(b + a for b, a in res["warm"][4])
                print(f"{kind + ' x' + str(n):>10} {cw:>7.1f} {ww:>7.1f} {ww / cw:>9.2f} "
                      f"{tt:>10.1f} {median(cb):>13.1f} {median(wb):>11.2f} {max(wb):>11.2f} "
                      f"{median(ca):>10.2f} {median(wa):>10.2f} {floor / cw:>10.2f}",
                      flush=True)
    print("\ncold s / warm s: the run's wall time (warm: the template's boot and save included);"
          "\ntemplate s: the template guest's start to its saved state; cold boot med: median"
          "\nboot testcase of the cold run (start to SSH ready); restore med / max: the warm"
          "\ncells' boot testcase (start to SSH ready with the clock set); after cold / warm:"
          "\nmedian of a cell's work after its boot (install, tests, logs, teardown); floor/cold:"
          "\nthe least warm/cold any schedule could reach with these parts (every cell restores"
          "\nafter the template is saved: template + the longest restore and work after it),"
          "\nover the cold wall time. Pairs alternate which runs first.")


def warm_cells(spec):
    kind, _, n = spec.partition(":")
    if kind not in ("minimal", "cloud") or not n.isdigit() or int(n) < 1:
        raise argparse.ArgumentTypeError(f"'{spec}' is not minimal:N or cloud:N")
    return kind, int(n)


MODES = {
    "all": "all at once: -j N and the vCPU overcommit that lets N guests share the cores",
    "capacity": "within capacity: matrixrun's own limits (vCPUs 1:1), the rest queued",
}


def main():
    ap = argparse.ArgumentParser(description="matrixrun's parallel benchmark (see the top "
                                 "of this file for what it prints)")
    ap.add_argument("build", nargs="?", default=os.path.join(SRC, "build"),
                    help="the build folder holding matrixrun (default: build)")
    ap.add_argument("n", nargs="*", type=int, help="cell counts (default: 1 2 4 8)")
    ap.add_argument("--mode", choices=["all", "capacity", "both"], default="both",
                    help="how the N cells are admitted (default: both, one table each)")
    ap.add_argument("--stagger", metavar="S", help="passed to matrixrun (default: its own)")
    ap.add_argument("--warm", action="store_true",
                    help="cold boot against warm start instead (see the top of this file)")
    ap.add_argument("--rounds", type=int, default=1, help="--warm: pairs per size (default 1)")
    ap.add_argument("--cells", nargs="+", type=warm_cells, metavar="KIND:N",
                    default=[warm_cells(c) for c in WARM_CELLS],
                    help=f"--warm: the matrices, minimal:N or cloud:N (default: {' '.join(WARM_CELLS)})")
    a = ap.parse_args()
    if a.build.isdigit():  # only counts were given
        a.n.insert(0, int(a.build))
        a.build = os.path.join(SRC, "build")
    if a.warm:
        mr = os.path.join(a.build, "matrixrun")
        print(f"matrixrun warm start benchmark: {os.cpu_count()} host cores, "
              f"{time.strftime('%Y-%m-%d %H:%M')}, {os.uname().release}")
        warm_bench(mr, a.rounds, a.cells)
        return
    ns = a.n or [1, 2, 4, 8]
    extra = ["--stagger", a.stagger] if a.stagger is not None else []
    modes = ["all", "capacity"] if a.mode == "both" else [a.mode]
    mr = os.path.join(a.build, "matrixrun")
    cores = os.cpu_count()
    hundred = os.path.join(SRC, "tests", "data", "matrix", "hundred.xml")
    print(f"matrixrun parallel benchmark: {cores} host cores, "
          f"{time.strftime('%Y-%m-%d %H:%M')}, {os.uname().release}"
          + (f", {' '.join(extra)}" if extra else ""))
    with tempfile.TemporaryDirectory(prefix="mr-bench-") as tmp:
        rc, wall, _, rss_list, _ = run([mr, "list", hundred])
        if rc != 0:
            sys.exit(f"bench: matrixrun list {hundred} failed")
        print(f"100 cells, `list`: peak RSS {rss_list / 1024:.1f} MiB, {wall:.2f} s")
        env = dict(os.environ, MATRIXRUN_WORKDIR=os.path.join(tmp, "work"))
        rc, wall, _, rss_dry, _ = run([mr, hundred, "--connect", "test:///default", "-q",
                                       "-o", os.path.join(tmp, "dry"), "-j", "100",
                                       "--overcommit", "64", "--stagger", "0"], env)
        cells = len(ET.parse(os.path.join(tmp, "dry", "junit.xml")).getroot().findall("testsuite"))
        print(f"100 cells, scheduled on test:///default: peak RSS {rss_dry / 1024:.1f} MiB, "
              f"{wall:.2f} s, {cells} cells reported (exit {rc})")
        for mode in modes:
            print(f"\n{MODES[mode]}")
            print(f"{'N':>3} {'wall s':>7} {'sum s':>7} {'longest':>7} {'gCPU s':>7} {'bound':>7} "
                  f"{'eff':>5} {'over/cell':>9} {'(prep':>6} {'coll':>5} {'tear':>5} {'rest)':>6} "
                  f"{'slot':>5} {'no-slot':>7} {'cpu/cell':>8} {'RSS MiB':>7} {'speedup':>7}")
            per_cell = None
            for n in ns:
                r = bench(mr, n, cores, tmp, extra, mode == "capacity")
                pa = r["parts"]
                if per_cell is None:
                    per_cell = r["wall"] / n
                speedup = per_cell * n / r["wall"]
                print(f"{r['n']:>3} {r['wall']:>7.1f} {r['sum']:>7.1f} {r['longest']:>7.1f} "
                      f"{r['guest_cpu']:>7.1f} {r['bound']:>7.1f} {r['eff']:>5.2f} "
                      f"{r['over']:>9.2f} {pa['prepare']:>6.2f} {pa['collect']:>5.2f} "
                      f"{pa['teardown']:>5.2f} {pa['rest']:>6.2f} {pa['slot']:>5.2f} "
                      f"{r['over'] - pa['slot']:>7.2f} {r['cpu']:>8.3f} "
                      f"{r['rss'] / 1024:>7.1f} {speedup:>7.2f}", flush=True)
    print("\nwall: the run; sum: the cells' own times; gCPU: the guests' QEMU CPU time;"
          "\nbound: max(longest, gCPU / cores); eff: bound / wall; over/cell: cell time not"
          "\nspent in boot, install or tests (prep: keys, seed, overlay, boot slot; coll: log"
          "\ncommands in the guest; tear: destroy and archive); slot: of prep, the wait for a"
          "\nboot slot (--stagger); no-slot: over/cell without it; cpu/cell: matrixrun's own CPU."
          "\nRSS: matrixrun's peak resident memory in that run; speedup: N cells' time at the"
          "\nfirst row's wall time per cell, over this row's wall time.")


if __name__ == "__main__":
    main()
