#!/usr/bin/env python3
"""One writer per struct (HACKING.md, "Who writes what"): checks each header's claim.

A struct whose comment (the block right above `struct NAME {`) says "written only by
A.c[, B.c and C.c]" may have its members written only in those files. A write is an
assignment (=, +=, ...), ++ or -- whose target is a member of the struct: `w->svc_mask = 1`
writes struct watch, and so does `ns->watch.svc_mask = 1` (through the embedded member,
which also writes struct kw_netns) or `d->retry[i].ns = m` (an element of a member array
belongs to the struct holding it); `d->cg = next` writes struct kw_daemon. A write through
a pointer member (`a->conn->fate`) writes only the struct pointed to, and a copy of a whole
struct into one's own storage (`held[i] = *act`) is a new instance, not a write. Calls are not writes:
handing &x->member to the owner's functions is how the others ask for a change.

The members are found by type in clang's AST (clang -Xclang -ast-dump), not by name, so a
write through any variable or alias is seen. Not seen: writes through memcpy/memset, through
`*p = value` of a whole struct, or through a pointer to a member handed to a non-owner.

Usage: owners.py [--compile-commands BUILD/compile_commands.json] SRC_DIR FILE.c...
Exit 0 clean; 1 with one line per stray write: FILE:LINE: writes struct S.member (owner).
"""
import json
import os
import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

CLAIM = re.compile(r"written only by\s+((?:[\w/.-]+\.c(?:\s*,\s*|\s+and\s+|\s+or\s+)?)+)",
                   re.IGNORECASE)
STRUCT = re.compile(r"^struct\s+(\w+)\s*\{", re.MULTILINE)


def claims(src):
    """struct name -> (set of owner file basenames, header) from the headers' comments."""
    out = {}
    for root, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".h"):
                continue
            path = os.path.join(root, f)
            text = open(path, encoding="utf-8").read()
            for m in STRUCT.finditer(text):
                before = text[:m.start()].rstrip()
                if not before.endswith("*/"):
                    continue
                comment = before[before.rfind("/*"):]
                c = CLAIM.search(" ".join(comment.split()))
                if not c:
                    continue
                owners = set(re.findall(r"[\w.-]+\.c", c.group(1)))
                out[m.group(1)] = (owners, os.path.relpath(path, src))
    return out


NODE = re.compile(r"^([| `]*[|`]-)?(\w+)(?: (0x[0-9a-f]+))?")
# Locations as clang prints them, in order: a full FILE:LINE:COL, or relative to the last
# file printed (line:L:C, col:C). The first one of a node's line is where it starts.
LOCS = re.compile(r"(/?[\w./+-]+\.[ch]):(\d+):\d+|line:(\d+):\d+|col:\d+")


class Node:
    __slots__ = ("kind", "addr", "text", "kids", "file", "line")

    def __init__(self, kind, addr, text):
        self.kind, self.addr, self.text = kind, addr, text
        self.kids, self.file, self.line = [], None, 0


def parse(lines):
    """The AST dump as a tree; each node knows the file and line it starts at."""
    root = Node("root", None, "")
    stack = [(-1, root)]
    cur_file, cur_line = None, 0
    for raw in lines:
        m = NODE.match(raw)
        if not m:
            continue
        depth = len(m.group(1) or "")
        rest = raw[depth:]
        node = Node(m.group(2), m.group(3), rest)
        first = True
        for lm in LOCS.finditer(rest):
            if lm.group(1):
                cur_file, cur_line = lm.group(1), int(lm.group(2))
            elif lm.group(3):
                cur_line = int(lm.group(3))
            if first:
                node.file, node.line, first = cur_file, cur_line, False
        if first:
            node.file, node.line = cur_file, cur_line
        while stack[-1][0] >= depth:
            stack.pop()
        stack[-1][1].kids.append(node)
        stack.append((depth, node))
    return root


def index_fields(root):
    """FieldDecl address -> (struct name, field name), for the named structs."""
    fields = {}

    def walk(n, record):
        for k in n.kids:
            if k.kind == "RecordDecl":
                m = re.search(r"struct (\w+) definition", k.text)
                walk(k, m.group(1) if m else None)
            elif k.kind == "FieldDecl":
                if record and k.addr:
                    fm = re.search(r" (\w+) '", k.text)
                    fields[k.addr] = (record, fm.group(1) if fm else "?")
                walk(k, None)
            else:
                walk(k, None)
    walk(root, None)
    return fields


SKIP = ("ParenExpr", "ImplicitCastExpr", "CStyleCastExpr")


def strip(n):
    while n is not None and n.kind in SKIP and n.kids:
        n = n.kids[0]
    return n


def targets(lhs, fields):
    """The (struct, member) pairs a write to the expression lhs writes."""
    out = []
    n = strip(lhs)
    while n is not None:
        if n.kind == "MemberExpr":
            m = re.search(r"lvalue (->|\.)(\w+) (0x[0-9a-f]+)", n.text)
            if not m:
                break
            if m.group(3) in fields:
                out.append(fields[m.group(3)])
            if m.group(1) == "->":
                break  # through a pointer: only the struct pointed to is written
            n = strip(n.kids[0]) if n.kids else None
        elif n.kind == "ArraySubscriptExpr":
            n = strip(n.kids[0]) if n.kids else None
            # the element of a member array (or of the heap array a member points to)
            if n is None or n.kind != "MemberExpr":
                break
            m = re.search(r" (->|\.)(\w+) (0x[0-9a-f]+)", n.text)
            if m and m.group(3) in fields:
                out.append(fields[m.group(3)])
            if not m or m.group(1) == "->":
                break
            n = strip(n.kids[0]) if n.kids else None
        else:
            break
    return out


WRITE_OPS = re.compile(r"'(=|\+=|-=|\*=|/=|%=|<<=|>>=|&=|\^=|\|=)'")


def writes(root, fields):
    """(node, (struct, member)) for every write in the tree."""
    stack = [root]
    while stack:
        n = stack.pop()
        stack.extend(n.kids)
        if n.kind in ("BinaryOperator", "CompoundAssignOperator"):
            if not WRITE_OPS.search(n.text):
                continue
        elif not (n.kind == "UnaryOperator" and re.search(r"'(\+\+|--)'", n.text)):
            continue
        for t in targets(n.kids[0], fields) if n.kids else []:
            yield n, t


def main(argv):
    args = argv[1:]
    ccdb = {}
    if args and args[0] == "--compile-commands":
        for e in json.load(open(args[1])):
            ccdb[os.path.realpath(os.path.join(e["directory"], e["file"]))] = e
        args = args[2:]
    src, files = args[0], args[1:]
    owned = claims(src)

    def dump(f):
        cmd = ["clang", "-fsyntax-only", "-Xclang", "-ast-dump", "-fno-color-diagnostics",
               "-D_GNU_SOURCE", "-I" + src, f]
        e = ccdb.get(os.path.realpath(f))
        if e:
            flags = [a for a in e.get("arguments") or shlex.split(e.get("command", ""))
                     if a.startswith(("-D", "-I", "-std", "-isystem"))]
            cmd = ["clang", "-fsyntax-only", "-Xclang", "-ast-dump",
                   "-fno-color-diagnostics"] + flags + [f]
        return f, subprocess.run(cmd, capture_output=True, text=True)

    bad = 0
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(dump, files))
    for f, res in results:
        if res.returncode != 0:
            print(f"owners: {f}: clang failed:\n{res.stderr}", file=sys.stderr)
            return 2
        root = parse(res.stdout.splitlines())
        fields = index_fields(root)
        seen = set()
        for node, (struct, member) in writes(root, fields):
            if struct not in owned:
                continue
            owners, header = owned[struct]
            where = node.file or f
            if os.path.basename(where) in owners:
                continue
            key = (where, node.line, struct, member)
            if key in seen:
                continue
            seen.add(key)
            print(f"{os.path.relpath(where)}:{node.line}: writes struct {struct}.{member} "
                  f"({header}: written only by {', '.join(sorted(owners))})")
            bad = 1
    return bad


if __name__ == "__main__":
    sys.exit(main(sys.argv))
