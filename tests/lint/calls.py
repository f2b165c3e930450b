#!/usr/bin/env python3
"""No call circle among src/ files (HACKING.md, "Which way calls go").

The call graph by file, from the built objects: file A calls file B when A's object leaves
undefined (nm -u) a symbol that B's object defines; a function handed over as a pointer
counts where it is named, like a call. A circle is a set of two or more files that reach
each other (a strongly connected component): each one is printed with the symbols that
close it. Calls through a pointer that was handed down (a loop handler, linkmon's event
callback) are not edges: the lower file names nothing of the upper one.

Usage: calls.py OBJECT_OR_ARCHIVE...   Exit 0 clean, 1 with the circles.
"""
import os
import re
import subprocess
import sys
from collections import defaultdict


LINE = re.compile(r"^(?:.*?\.a:)?(?P<obj>[^:]*\.o):\s*\S*\s+(?P<kind>\w)\s+(?P<sym>\S+)$")


def objects(paths):
    """file name -> (defined symbols, undefined symbols), one entry per object."""
    out = {}
    for p in paths:
        res = subprocess.run(["nm", "-A", p], capture_output=True, text=True, check=True)
        for line in res.stdout.splitlines():
            m = LINE.match(line)
            if not m:
                continue
            name = os.path.basename(m.group("obj"))[:-2]  # daemon.c.o -> daemon.c
            d, u = out.setdefault(name, (set(), set()))
            if m.group("kind") == "U":
                u.add(m.group("sym"))
            elif m.group("kind") in "TDBR":
                d.add(m.group("sym"))
    return out


def sccs(nodes, edges):
    """Tarjan's strongly connected components."""
    index, low, on, stack, out, n = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def main(paths):
    objs = objects(paths)
    owner = {}
    for name, (d, _) in objs.items():
        for s in d:
            owner[s] = name
    edges, why = defaultdict(set), defaultdict(set)
    for name, (_, u) in objs.items():
        for s in u:
            to = owner.get(s)
            if to and to != name:
                edges[name].add(to)
                why[(name, to)].add(s)
    bad = 0
    for comp in sccs(objs.keys(), edges):
        if len(comp) < 2:
            continue
        bad = 1
        members = set(comp)
        print("calls: circle among " + ", ".join(sorted(comp)) + ":")
        for a in sorted(comp):
            for b in sorted(edges[a] & members):
                print(f"  {a} -> {b}: {' '.join(sorted(why[(a, b)]))}")
    return bad


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
