#!/usr/bin/env python3
"""include_cycles.py RUNNER_DIR: fails when two or more modules of RUNNER_DIR include
each other, directly or through others.

A module is a name x with x.c and/or x.h; a private header xpriv.h belongs to module x,
as libvirt's *priv.h files do. Every `#include "y.h"` in a module's files is an edge
from that module to module y (system headers, <...>, are not modules). A cycle among
those edges means neither module can be understood, built or tested without the other,
so the test names each cycle it finds and exits 1.
"""
import os
import re
import sys

INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]+"([^"]+)"', re.MULTILINE)


def module_of(filename):
    """The module a file name (x.c, x.h, xpriv.h) belongs to, or None."""
    base, ext = os.path.splitext(os.path.basename(filename))
    if ext not in (".c", ".h"):
        return None
    if ext == ".h" and base.endswith("priv") and len(base) > len("priv"):
        base = base[: -len("priv")]
    return base


def strip_comments(text):
    """The text without /* */ and // comments, so a commented-out include is no edge."""
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def read_graph(root):
    """{module: {included module: "file:line" of the first include making that edge}}"""
    graph = {}
    for name in sorted(os.listdir(root)):
        mod = module_of(name)
        path = os.path.join(root, name)
        if mod is None or not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            text = strip_comments(f.read())
        edges = graph.setdefault(mod, {})
        for m in INCLUDE.finditer(text):
            target = module_of(m.group(1))
            if target is None or target == mod:
                continue
            line = text.count("\n", 0, m.start()) + 1
            edges.setdefault(target, "%s:%d" % (name, line))
    # Only edges to modules that exist here: an include of a generated or system-like
    # header that has no file in the folder is no module of ours.
    for mod in graph:
        graph[mod] = {t: w for t, w in graph[mod].items() if t in graph}
    return graph


def strongly_connected(graph):
    """Tarjan's algorithm: the components with more than one module, each sorted."""
    index, low, stack, on_stack, comps = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(comps)


def one_cycle(graph, comp):
    """A shortest cycle through the component's first module: [a, b, ..., a]."""
    members = set(comp)
    start = comp[0]
    prev = {start: None}
    queue = [start]
    for v in queue:
        for w in sorted(graph[v]):
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [start]
            if w in members and w not in prev:
                prev[w] = v
                queue.append(w)
    raise AssertionError("no cycle through %s" % start)


def main(argv):
    if len(argv) != 2 or not os.path.isdir(argv[1]):
        print("usage: include_cycles.py RUNNER_DIR", file=sys.stderr)
        return 2
    graph = read_graph(argv[1])
    comps = strongly_connected(graph)
    for comp in comps:
        cycle = one_cycle(graph, comp)
        steps = " -> ".join(
            "%s (%s)" % (a, graph[a][b]) for a, b in zip(cycle, cycle[1:])) + " -> " + cycle[-1]
        print("include cycle among %s: %s" % (", ".join(comp), steps))
    if comps:
        return 1
    print("no include cycle among the %d modules of %s" % (len(graph), argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
