#!/usr/bin/env python3
"""keepwatch: every event= and action= the code can write is in its man page's LOG FORMAT,
and the man page names none the code cannot write (issue 22).

The names are found in the C sources however they are spelled: in a literal
("event=reload ..."), split over adjacent literals, or through "%s" (action=%s with the
name an argument: a literal, a ternary of literals, a parameter of the enclosing function
followed to every call of that function, or a call of a function that returns literals).
A "%s" whose names cannot be followed that way fails the check, naming the place: the
check never guesses. keepwatchd's names (src/ but src/relay) go to keepwatchd(8), LOG
FORMAT; keepwatch-relay's (src/relay, src/shared) to keepwatch-relay(1), LOG FORMAT.

Usage: log_events.py SRC_ROOT            (the repository; exit 0 = every name documented)
       log_events.py --selftest           (shows the extractor finds what it must)
"""
import os
import re
import sys

NAME = r"[a-z][a-z0-9-]*"
KEY_RE = re.compile(r"\b(event|action)=(" + NAME + r"|%s)")
CONV_RE = re.compile(r"%[-+ #0]*[0-9*]*(?:\.[0-9*]+)?(?:hh|h|ll|l|z|j|t|L)?[a-zA-Z%]")


def strip_comments(text):
    """C comments become blanks (line numbers kept); string and char literals stay."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == '"' or c == "'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def literal_value(lit):
    """The text of a C string literal token (escapes that matter here: \\" and \\\\)."""
    return lit[1:-1].replace('\\"', '"').replace("\\\\", "\\")


STRING_RE = re.compile(r'"(?:[^"\\\n]|\\.)*"')


def literals(expr):
    """Adjacent string literals joined, in order: [(value, offset)]."""
    out = []
    for m in STRING_RE.finditer(expr):
        if out and expr[out[-1][2]:m.start()].strip() == "":
            v, o, _ = out[-1]
            out[-1] = (v + literal_value(m.group()), o, m.end())
        else:
            out.append((literal_value(m.group()), m.start(), m.end()))
    return [(v, o) for v, o, _ in out]


def ternary(expr):
    """The two branches of a top-level `cond ? a : b`, or None."""
    depth, q = 0, -1
    masked = STRING_RE.sub(lambda m: '"' + "x" * (len(m.group()) - 2) + '"', expr)
    for i, c in enumerate(masked):
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif depth == 0 and c == "?" and q < 0:
            q = i
        elif depth == 0 and c == ":" and q >= 0:
            return [expr[q + 1:i].strip(), expr[i + 1:].strip()]
    return None


def split_args(text, start):
    """The arguments of the call whose '(' is at start: [(text, offset)], and its end."""
    depth, i, args, begin = 0, start, [], start + 1
    while i < len(text):
        c = text[i]
        if c == '"' or c == "'":
            j = i + 1
            while j < len(text) and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                args.append((text[begin:i], begin))
                return args, i
        elif c == "," and depth == 1:
            args.append((text[begin:i], begin))
            begin = i + 1
        i += 1
    return args, i


class Source:
    def __init__(self, path, text):
        self.path = path
        self.text = strip_comments(text)

    def line(self, off):
        return self.text.count("\n", 0, off) + 1


FUNC_RE = re.compile(r"^[a-zA-Z_][\w \t\*]*?\b(\w+)\s*\(([^;{)]*)\)\s*\{", re.M)


def functions(src):
    """{name: (params, body_start, body_end)} of the file's function definitions."""
    out = {}
    for m in FUNC_RE.finditer(src.text):
        name = m.group(1)
        if name in ("if", "for", "while", "switch", "return", "sizeof"):
            continue
        params = [p.strip() for p in m.group(2).split(",")]
        names = []
        for p in params:
            pm = re.search(r"(\w+)\s*(\[[^\]]*\])?\s*$", p)
            names.append(pm.group(1) if pm else "")
        depth, i = 0, m.end() - 1
        while i < len(src.text):
            if src.text[i] == "{":
                depth += 1
            elif src.text[i] == "}":
                depth -= 1
                if depth == 0:
                    break
            elif src.text[i] in "\"'":
                q, j = src.text[i], i + 1
                while j < len(src.text) and src.text[j] != q:
                    j += 2 if src.text[j] == "\\" else 1
                i = j
            i += 1
        out[name] = (names, m.end() - 1, i)
    return out


class Extractor:
    def __init__(self, sources):
        self.sources = sources
        self.funcs = {}
        for s in sources:
            for name, (params, b, e) in functions(s).items():
                self.funcs[name] = (s, params, b, e)
        self.names = {}  # (key, name) -> first "path:line"
        self.errors = []

    def add(self, key, name, where):
        self.names.setdefault((key, name), where)

    def enclosing(self, src, off):
        for name, (s, params, b, e) in self.funcs.items():
            if s is src and b <= off <= e:
                return name
        return None

    def calls_of(self, fname):
        """Every call of fname in the sources (not its definition or a prototype):
        (src, args, offset)."""
        pat = re.compile(r"\b" + re.escape(fname) + r"\s*\(")
        for s in self.sources:
            for m in pat.finditer(s.text):
                args, end = split_args(s.text, m.end() - 1)
                after = s.text[end + 1:end + 64].lstrip()
                prefix = s.text[s.text.rfind("\n", 0, m.start()) + 1:m.start()].strip()
                if after.startswith("{"):
                    continue  # the definition
                if prefix and re.fullmatch(r"[\w\s\*]+", prefix) and \
                        not re.search(r"\breturn$", prefix):
                    continue  # a prototype (or a definition's first line)
                yield s, args, m.start()

    def resolve(self, key, src, expr, off, seen):
        """The names an argument expression can take; False after an error."""
        branches = ternary(expr)
        if branches:
            ok = True
            for b in branches:
                ok = self.resolve(key, src, b, off, seen) and ok
            return ok
        lits = literals(expr)
        bare = STRING_RE.sub("", expr).strip()
        where = "%s:%d" % (src.path, src.line(off))
        if lits:
            for v, _ in lits:
                if re.fullmatch(NAME, v):
                    self.add(key, v, where)
                else:
                    self.errors.append("%s: %s=%%s gets %r, not a name" % (where, key, v))
            return True
        call = re.fullmatch(r"(\w+)\s*\((.*)\)", bare, re.S)
        if call and call.group(1) in self.funcs:
            named = self.table_entry(call.group(1), call.group(2).strip())
            if named is not None:
                self.add(key, named, where)
                return True
            return self.returns(key, call.group(1), where, seen)
        ident = re.fullmatch(r"\w+", bare)
        fname = self.enclosing(src, off)
        if ident and fname and bare in self.funcs[fname][1]:
            idx = self.funcs[fname][1].index(bare)
            if (fname, idx) in seen:
                return True
            seen = seen | {(fname, idx)}
            ok, found = True, False
            for s, args, at in self.calls_of(fname):
                if len(args) <= idx:
                    continue
                found = True
                ok = self.resolve(key, s, args[idx][0], args[idx][1], seen) and ok
            if not found:
                self.errors.append("%s: %s=%%s: parameter %s of %s(), which nothing calls"
                                   % (where, key, bare, fname))
                return False
            return ok
        self.errors.append("%s: cannot tell which names %s=%%s writes (from %r): pass a "
                           "literal, or a parameter or function that leads to literals"
                           % (where, key, bare))
        return False

    def table_entry(self, fname, arg):
        """A name table's accessor called with a constant (kw_reason_name(REASON_X)): the
        entry `[REASON_X] = "name"` in the accessor's file; None when it is no such call."""
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", arg):
            return None
        s = self.funcs[fname][0]
        m = re.search(r"\[\s*" + re.escape(arg) + r"\s*\]\s*=\s*(\"(?:[^\"\\\n]|\\.)*\")",
                      s.text)
        return literal_value(m.group(1)) if m else None

    def returns(self, key, fname, where, seen):
        s, _, b, e = self.funcs[fname]
        ok, found = True, False
        for m in re.finditer(r"\breturn\b([^;]*);", s.text[b:e], re.S):
            found = True
            ok = self.resolve(key, s, m.group(1), b + m.start(1), seen) and ok
        if not found:
            self.errors.append("%s: %s() returns nothing to follow" % (where, fname))
        return ok and found

    def run(self):
        for s in self.sources:
            for v, off in literals(s.text):  # adjacent literals joined
                for k in KEY_RE.finditer(v):
                    if k.group(2) != "%s":
                        self.add(k.group(1), k.group(2), "%s:%d" % (s.path, s.line(off)))
                        continue
                    self.dynamic(s, off, k)
        return self.names

    def dynamic(self, s, start, k):
        """key=%s in the literal at start: the argument that fills it."""
        where = "%s:%d" % (s.path, s.line(start))
        # the call this literal (or its run of adjacent literals) is an argument of
        i, depth = start - 1, 0
        while i >= 0:
            c = s.text[i]
            if c == ")":
                depth += 1
            elif c == "(":
                if depth == 0:
                    break
                depth -= 1
            elif c == ";" or c == "{":
                i = -1
                break
            i -= 1
        if i < 0:
            self.errors.append("%s: %s=%%s outside a call" % (where, k.group(1)))
            return
        args, _ = split_args(s.text, i)
        full = None
        for ai, (a, aoff) in enumerate(args):
            if aoff <= start < aoff + len(a):
                full = "".join(v for v, _ in literals(a))
                fmt_index = ai
                break
        if full is None:
            self.errors.append("%s: %s=%%s: its call not understood" % (where, k.group(1)))
            return
        # which conversion is this %s: count those before it in the whole format
        pos = full.find(k.group(0))
        nth = len([c for c in CONV_RE.findall(full[:pos]) if c != "%%"])
        if fmt_index + 1 + nth >= len(args):
            self.errors.append("%s: %s=%%s has no argument" % (where, k.group(1)))
            return
        a, aoff = args[fmt_index + 1 + nth]
        self.resolve(k.group(1), s, a, aoff, frozenset())


def read_sources(root, dirs):
    out = []
    for d in dirs:
        base = os.path.join(root, d)
        for dirpath, _, files in os.walk(base):
            for f in sorted(files):
                if f.endswith(".c"):
                    p = os.path.join(dirpath, f)
                    with open(p, encoding="utf-8") as fh:
                        out.append(Source(os.path.relpath(p, root), fh.read()))
    return out


def documented(page):
    """event= and action= names in the page's LOG FORMAT section, groff escapes undone."""
    with open(page, encoding="utf-8") as fh:
        text = fh.read()
    m = re.search(r'^\.SH "?LOG FORMAT"?\s*$(.*?)(?=^\.SH )', text, re.M | re.S)
    if not m:
        return None
    sec = m.group(1).replace("\\-", "-")
    sec = re.sub(r"\\f[BIRP]|\\f\(..|\\&|\\c", "", sec)
    return {(k, n) for k, n in re.findall(r"\b(event|action)=(" + NAME + ")", sec)}


def check(root, dirs, page, skip=()):
    srcs = [s for s in read_sources(root, dirs) if not any(s.path.startswith(x) for x in skip)]
    ex = Extractor(srcs)
    names = ex.run()
    doc = documented(os.path.join(root, page))
    fail = 0
    for e in ex.errors:
        print("log_events: " + e)
        fail = 1
    if doc is None:
        print("log_events: %s has no LOG FORMAT section" % page)
        return 1
    for (k, n), where in sorted(names.items()):
        if (k, n) not in doc:
            print("log_events: %s=%s (%s) is not in %s, LOG FORMAT" % (k, n, where, page))
            fail = 1
    for k, n in sorted(doc - set(names)):
        print("log_events: %s, LOG FORMAT, names %s=%s, which the code never writes" % (page, k, n))
        fail = 1
    if not fail:
        print("log_events: %s: %d names written, each in LOG FORMAT, none stale"
              % (page, len(names)))
    return fail


SELFTEST_C = r'''
static void say_conn(int prio, const char *action, int x)
{
	log_msg(prio, "action=%s reason=%s n=%d", action, "x", x);
}
static const char *kind_name(int k)
{
	return k ? "planted-b" : "planted-c";
}
static const char *const names[] = { [K_H] = "planted-h" };
static const char *name_of(int k)
{
	return names[k];
}
static void say_event(const char *ev)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "n=%d " "event=%s", 3, ev);
}
void f(int k, const char *v)
{
	say_conn(1, "planted-a", 2);
	say_conn(1, k ? "planted-d" : "planted-e", 2);
	log_msg(2, "x=%d action=%s", k, kind_name(k));
	say_event("planted-f");
	log_msg(3, "event=" "planted-g" " y=1");
	log_msg(3, "event=%s", v);
	log_msg(3, "action=%s", table[k]);
	log_msg(3, "event=%s", k ? name_of(K_H) : "planted-i");
}
'''


def selftest():
    ex = Extractor([Source("planted.c", SELFTEST_C)])
    names = {n for _, n in ex.run()}
    want = {"planted-" + c for c in "abcdefghi"}
    # the last two %s come from a parameter nothing passes a name to and from a table:
    # each said, with its place
    ok = want <= names and len(ex.errors) == 2 and ex.errors[0].startswith("planted.c:27:") \
        and ex.errors[1].startswith("planted.c:28: cannot tell")
    print("log_events selftest: found %s; errors %s: %s"
          % (sorted(names), ex.errors, "ok" if ok else "FAILED"))
    return 0 if ok else 1


def main():
    if sys.argv[1:] == ["--selftest"]:
        return selftest()
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    rc = selftest()
    rc |= check(root, ["src"], "etc/man/keepwatchd.8", skip=("src/relay/",))
    rc |= check(root, ["src/relay", "src/shared"], "etc/man/keepwatch-relay.1")
    return rc


if __name__ == "__main__":
    sys.exit(main())
