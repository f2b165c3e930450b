# keepwatch test harness: a TCP endpoint that reports what happens to it, one line per
# event, "<monotonic ms> <event> ...", flushed at once so tests can wait on it.
#
#   peer.py server ADDR PORT [--keepalive I,N,C] [--send-every MS] [--chunk N] [--count N]
#   peer.py client ADDR PORT [--keepalive I,N,C] [--send-every MS] [--chunk N]
#                            [--sport PORT] [--bind-dev DEV] [--transparent-src ADDR]
#   peer.py sink ADDR PORT          (accepts and reads forever; any number of clients)
#
# The relay's test peers (relay_forward.sh), which print plain lines without a timestamp:
#   peer.py serve PORT MODE [ARG]   upstream on [::]:PORT; MODE echo, file PATH, late SECS,
#                                   banner
#   peer.py bulk|many|hold|idle|halfclose|banner|reset|refused HOST PORT ...
# The nft kill path's peers (nft_kill.sh), the client's first line picking the mode:
#   peer.py moded-server DIR ADDR4 ADDR6   port 2000 on both; "<ms> <peerport> <event>"
#   peer.py moded-client ADDR MODE         MODE reader, reader3, quiet or echo
# And a strict reader of the metrics file (ops_metrics.sh):
#   peer.py prom-get FILE NAME LABELS      checks the Prometheus text, prints the value
#
# A server accepts --count connections (default 1) and then only reads (or also sends
# every MS): the receive-only service of HACKING.md. Every connection's end is
# reported as "close peer=… errno=N error=<strerror>" or "close peer=… eof".
import argparse
import errno
import hashlib
import math
import os
import re
import select
import selectors
import socket
import sys
import threading
import time


def now_ms():
    return int(time.monotonic() * 1000)


def say(*words):
    sys.stdout.write("%d %s\n" % (now_ms(), " ".join(str(w) for w in words)))
    sys.stdout.flush()


def set_keepalive(s, spec):
    if not spec or spec == "off":
        return
    idle, intvl, cnt = (int(x) for x in spec.split(","))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, intvl)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, cnt)


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def sockaddr(addr, port):
    """(addr, port), or the 4-tuple with its scope for an IPv6 link-local "fe80::1%dev"."""
    if "%" in addr:
        host, dev = addr.split("%", 1)
        return (host, port, 0, socket.if_nametoindex(dev))
    return (addr, port)


def peer_name(s):
    try:
        a = s.getpeername()
        return "%s:%d" % (("[%s]" % a[0]) if ":" in a[0] else a[0], a[1])
    except OSError:
        return "?"


def run(conns, args, listener=None, count=0):
    sel = selectors.DefaultSelector()
    names = {}
    for c in conns:
        c.setblocking(False)
        names[c] = peer_name(c)
        sel.register(c, selectors.EVENT_READ)
    if listener:
        sel.register(listener, selectors.EVENT_READ)
    def drop(c, why):
        if isinstance(why, OSError):
            say("close", "peer=" + names[c], "errno=%d" % why.errno,
                "error=" + os.strerror(why.errno).replace(" ", "_"))
        else:
            say("close", "peer=" + names[c], why)
        sel.unregister(c)
        conns.remove(c)
        c.close()

    payload = b"x" * args.chunk
    next_send = time.monotonic() + args.send_every / 1000.0 if args.send_every else None
    while True:
        timeout = None if next_send is None else max(0.0, next_send - time.monotonic())
        for key, _ in sel.select(timeout):
            s = key.fileobj
            if s is listener:
                c, _ = listener.accept()
                set_keepalive(c, args.keepalive)
                c.setblocking(False)
                names[c] = peer_name(c)
                say("accept", "peer=" + names[c])
                sel.register(c, selectors.EVENT_READ)
                conns.append(c)
                count -= 1
                if count == 0 and args.mode == "server":
                    sel.unregister(listener)
                    listener.close()
                    listener = None
                continue
            try:
                if not s.recv(65536):
                    drop(s, "eof")
            except BlockingIOError:
                pass
            except OSError as e:
                drop(s, e)
        if next_send is not None and time.monotonic() >= next_send:
            next_send += args.send_every / 1000.0
            for c in list(conns):
                try:
                    c.send(payload)
                except BlockingIOError:
                    pass
                except OSError as e:
                    drop(c, e)


# --- the relay's peers (relay_forward.sh) ----------------------------------------

relay_lock = threading.Lock()
def relay_say(*a):
    with relay_lock:
        print(*a, flush=True)

def relay_recv_hash(s):
    h, n, buf = hashlib.sha256(), 0, bytearray(1 << 20)
    mv = memoryview(buf)
    while True:
        k = s.recv_into(buf)
        if k == 0:
            return n, h.hexdigest()
        h.update(mv[:k])
        n += k

def relay_send_file(s, path):
    with open(path, 'rb') as f:
        s.sendfile(f)
    s.shutdown(socket.SHUT_WR)

def relay_errname(e):
    return errno.errorcode.get(e.errno, str(e.errno)) if e.errno else type(e).__name__

def relay_handle(c, mode, arg):
    try:
        if mode == 'echo':
            n = 0
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)
                n += len(d)
            c.shutdown(socket.SHUT_WR)
            relay_say('echo', n)
        elif mode == 'file':
            t = threading.Thread(target=relay_send_file, args=(c, arg))
            t.start()
            n, h = relay_recv_hash(c)
            t.join()
            relay_say('recv', n, h)
        elif mode == 'late':
            time.sleep(float(arg))
            c.sendall(os.urandom(100000))
            n, _ = relay_recv_hash(c)
            relay_say('late done', n)
        elif mode == 'banner':
            c.sendall(b'banner\n')
            c.shutdown(socket.SHUT_WR)
            n, data = 0, b''
            while True:
                d = c.recv(4096)
                if not d:
                    break
                data += d
            relay_say('got', data.decode().strip())
    except OSError as e:
        relay_say('error', relay_errname(e))
    finally:
        c.close()

def relay_serve(port, mode, arg=None):
    threading.stack_size(256 * 1024)
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    ls.bind(('::', port))
    ls.listen(4096)
    relay_say('listening', port)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=relay_handle, args=(c, mode, arg), daemon=True).start()

def relay_connect(host, port):
    return socket.create_connection((host, port), timeout=30)

def relay_bulk(host, port, path):
    s = relay_connect(host, port)
    t = threading.Thread(target=relay_send_file, args=(s, path))
    t.start()
    n, h = relay_recv_hash(s)
    t.join()
    relay_say('recv', n, h)

def relay_many(host, port, count, size, gofile):
    socks, want, got = [], [], []
    for i in range(count):
        socks.append(relay_connect(host, port))
    for s in socks:
        p = os.urandom(size)
        want.append(p)
        got.append(bytearray())
        s.sendall(p)
    relay_say('connected', len(socks))
    for _ in range(600):
        if os.path.exists(gofile):
            break
        time.sleep(0.05)
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        s.shutdown(socket.SHUT_WR)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
    left, deadline = count, time.time() + 60
    while left and time.time() < deadline:
        for key, _ in sel.select(1):
            d = key.fileobj.recv(65536)
            if d:
                got[key.data] += d
            else:
                sel.unregister(key.fileobj)
                left -= 1
    ok = sum(1 for i in range(count) if bytes(got[i]) == want[i])
    relay_say('verified', ok, 'of', count)

def relay_halfclose(host, port):
    s = relay_connect(host, port)
    p = os.urandom(300000)
    s.sendall(p)
    s.shutdown(socket.SHUT_WR)  # we are done sending, yet still want the echo back
    data = bytearray()
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
    relay_say('halfclose', 'ok' if bytes(data) == p else 'bad %d' % len(data))

def relay_banner(host, port):
    s = relay_connect(host, port)
    data = b''
    while True:
        d = s.recv(4096)
        if not d:
            break
        data += d
    s.sendall(b'late\n')  # upstream closed its side first; ours must still work
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
    relay_say('banner', data.decode().strip())

def relay_reset(host, port):
    s = relay_connect(host, port)
    s.sendall(os.urandom(100000))
    time.sleep(0.5)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\x01\x00\x00\x00\x00\x00\x00\x00')
    s.close()
    relay_say('reset sent')

def relay_idle(host, port, secs):
    s = relay_connect(host, port)
    s.sendall(b'ping\n')
    s.recv(16)
    relay_say('idle port=%d' % s.getsockname()[1])
    s.settimeout(secs)
    try:
        d = s.recv(16)
        relay_say('eof' if not d else 'data')
    except socket.timeout:
        relay_say('timeout')
    except OSError as e:
        relay_say('error', relay_errname(e))

def relay_hold(host, port, n, secs):
    socks = [relay_connect(host, port) for _ in range(n)]
    relay_say('holding', n)
    time.sleep(secs)
    for s in socks:
        s.close()
    relay_say('released')

def relay_refused(host, port):
    try:  # the relay's reset may beat even the end of our own relay_connect()
        s = relay_connect(host, port)
        s.settimeout(10)
        d = s.recv(16)
        relay_say('eof' if not d else 'data')
    except OSError as e:
        relay_say('error', relay_errname(e))


# --- the nft kill path's peers (nft_kill.sh) -------------------------------------

# One thread per connection; the client's first line picks the mode:
#   reader   keepalive on (idle = intvl = 1 s, 30 probes), blocks in recv
#   reader3  the same with 3 probes, so the kernel's own keepalive timeout comes soon
#   quiet    keepalive off, sends nothing until the file "$DIR/send-<peerport>" appears
#   echo     echoes lines
# Events go to stdout as "<monotonic ms> <peerport> <event>".

moded_lock = threading.Lock()

def moded_log(port, what):
    with moded_lock:
        print(int(time.monotonic() * 1000), port, what, flush=True)

def moded_errname(e):
    return errno.errorcode.get(e.errno, str(e.errno)) if e.errno else str(e)

def moded_serve(c, port):
    f = c.makefile("rb")
    mode = f.readline().decode().strip()
    moded_log(port, "accepted " + mode)
    try:
        if mode in ("reader", "reader3"):
            c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3 if mode == "reader3" else 30)
            data = c.recv(100)
            moded_log(port, "eof" if not data else "data")
        elif mode == "quiet":
            trigger = os.path.join(moded_dir, "send-%d" % port)
            while True:
                r, _, _ = select.select([c], [], [], 0.1)
                if r:
                    data = c.recv(100)
                    moded_log(port, "eof" if not data else "data")
                    return
                if os.path.exists(trigger):
                    os.unlink(trigger)
                    c.send(b"x")
                    moded_log(port, "sent")
        elif mode == "echo":
            for line in f:
                c.sendall(line)
            moded_log(port, "eof")
    except OSError as e:
        moded_log(port, "error " + moded_errname(e))

def moded_accept_loop(s):
    while True:
        c, peer = s.accept()
        threading.Thread(target=moded_serve, args=(c, peer[1]), daemon=True).start()


def moded_server(directory, addr4, addr6):
    global moded_dir
    moded_dir = directory
    for fam, addr in ((socket.AF_INET, addr4), (socket.AF_INET6, addr6)):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, 2000))
        s.listen(16)
        threading.Thread(target=moded_accept_loop, args=(s,), daemon=True).start()
    moded_log(0, "listening")
    time.sleep(600)

# client.py ADDR MODE: connects to ADDR port 2000 and prints "port <local port>".
# reader/reader3/quiet: then waits (bounded) for the server. echo: a line each 100 ms both ways,
# printing "echo <n>" every 10; on any failure "error <text>" and exit 1.
def moded_client(addr, mode):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    c = socket.create_connection((addr, 2000), timeout=5)
    print("port", c.getsockname()[1], flush=True)
    c.sendall((mode + "\n").encode())
    if mode != "echo":
        time.sleep(600)
        sys.exit(0)
    c.settimeout(3)
    f = c.makefile("rb")
    try:
        for n in range(1, 6000):
            msg = ("ping %d\n" % n).encode()
            c.sendall(msg)
            if f.readline() != msg:
                print("error bad echo", flush=True)
                sys.exit(1)
            if n % 10 == 0:
                print("echo", n, flush=True)
            time.sleep(0.1)
    except OSError as e:
        print("error", e, flush=True)
        sys.exit(1)


# --- the metrics file (ops_metrics.sh) -------------------------------------------

# prom_get FILE NAME LABELS: checks FILE strictly, then prints the value of NAME{LABELS}
# (LABELS as written, e.g. service="web",reason="idle"; "" for none). Exits 1 with the
# reason on stderr if the file is not valid Prometheus text.
def prom_get(path, want_name, want_labels):
    NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
    LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
    SAMPLE = re.compile(r'^(%s)(\{(%s(?:,%s)*)\})? (\S+)( -?\d+)?$' % (NAME, LABEL, LABEL))
    VALUE = re.compile(r'^(NaN|[+-]Inf|[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)$')
    def die(msg, n=0):
        sys.exit("%s:%d: %s" % (path, n, msg))
    text = open(path).read()
    if not text.endswith("\n") or "\r" in text:
        die("must end with a newline, no CR")
    types, helps, closed, seen, series = {}, set(), set(), [], {}
    current = None
    def enter(fam, n):
        nonlocal current
        if fam != current:
            if fam in closed:
                die("family %s not contiguous" % fam, n)
            if current:
                closed.add(current)
            current = fam
    for n, line in enumerate(text[:-1].split("\n"), 1):
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line.split(" ", 3)
            if len(parts) < 4 or not re.fullmatch(NAME, parts[2]):
                die("bad comment", n)
            enter(parts[2], n)
            if parts[1] == "HELP":
                if parts[2] in helps or re.search(r'\\[^\\n]', parts[3]):
                    die("second HELP or bad escape", n)
                helps.add(parts[2])
            else:
                if parts[2] in types or parts[3] not in ("counter", "gauge", "histogram", "summary", "untyped"):
                    die("bad or second TYPE", n)
                if any(s[0] == parts[2] for s in seen):
                    die("TYPE after samples", n)
                types[parts[2]] = parts[3]
            continue
        if line.startswith("#") or not line:
            continue
        m = SAMPLE.match(line)
        if not m or not VALUE.match(m.group(8)):
            die("bad sample line: %r" % line, n)
        name, labels, value = m.group(1), m.group(3) or "", m.group(8)
        pairs = re.findall(LABEL, labels)
        if len({k for k, _ in pairs}) != len(pairs):
            die("duplicate label", n)
        fam = name
        if fam not in types:
            for sfx in ("_bucket", "_sum", "_count"):
                if name.endswith(sfx) and types.get(name[:-len(sfx)]) == "histogram":
                    fam = name[:-len(sfx)]
        if fam not in types:
            die("sample without TYPE: %s" % name, n)
        enter(fam, n)
        key = (name, tuple(sorted(pairs)))
        if key in series:
            die("duplicate series", n)
        v = float(value.replace("Inf", "inf"))
        if types[fam] == "counter" and (not name.endswith("_total") or not v >= 0):
            die("counter must end in _total and be >= 0", n)
        series[key] = v
        seen.append((fam, name, dict(pairs), v))
    for fam, t in types.items():
        if t != "histogram":
            continue
        buckets = [(float(l["le"].replace("Inf", "inf")), v) for f, nm, l, v in seen
                   if f == fam and nm == fam + "_bucket"]
        count = [v for f, nm, l, v in seen if nm == fam + "_count"]
        if not buckets or buckets != sorted(buckets) or not math.isinf(buckets[-1][0]) \
                or [b[1] for b in buckets] != sorted(b[1] for b in buckets) \
                or count != [buckets[-1][1]]:
            die("histogram %s: buckets not cumulative or +Inf != _count" % fam)
    want = (want_name, tuple(sorted(re.findall(LABEL, want_labels))))
    print("%g" % series[want] if want in series else "absent")


OTHER_MODES = {
    "serve": lambda a: relay_serve(int(a[0]), a[1], a[2] if len(a) > 2 else None),
    "bulk": lambda a: relay_bulk(a[0], int(a[1]), a[2]),
    "many": lambda a: relay_many(a[0], int(a[1]), int(a[2]), int(a[3]), a[4]),
    "hold": lambda a: relay_hold(a[0], int(a[1]), int(a[2]), float(a[3])),
    "idle": lambda a: relay_idle(a[0], int(a[1]), float(a[2])),
    "halfclose": lambda a: relay_halfclose(a[0], int(a[1])),
    "banner": lambda a: relay_banner(a[0], int(a[1])),
    "reset": lambda a: relay_reset(a[0], int(a[1])),
    "refused": lambda a: relay_refused(a[0], int(a[1])),
    "moded-server": lambda a: moded_server(a[0], a[1], a[2]),
    "moded-client": lambda a: moded_client(a[0], a[1]),
    "prom-get": lambda a: prom_get(a[0], a[1], a[2]),
}


def main():
    if len(sys.argv) > 1 and sys.argv[1] in OTHER_MODES:
        OTHER_MODES[sys.argv[1]](sys.argv[2:])
        return
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["server", "client", "sink"])
    p.add_argument("addr")
    p.add_argument("port", type=int)
    p.add_argument("--keepalive", default="off")
    p.add_argument("--send-every", type=int, default=0)
    p.add_argument("--chunk", type=int, default=100)
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--sport", type=int, default=0, help="client: bind this local port first")
    p.add_argument("--bind-dev", default="",
                   help="SO_BINDTODEVICE on the socket (a listener's accepted ones inherit it)")
    p.add_argument("--transparent-src", default="",
                   help="client: IP_TRANSPARENT, bound to this (non-local) address first")
    args = p.parse_args()
    fam = family_of(args.addr)
    if args.mode == "client":
        s = socket.socket(fam, socket.SOCK_STREAM)
        set_keepalive(s, args.keepalive)
        if args.bind_dev:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, args.bind_dev.encode())
        if args.transparent_src:
            # a transparent proxy's upstream leg: the client's address as its source
            level, opt = ((socket.SOL_IPV6, 75) if fam == socket.AF_INET6
                          else (socket.SOL_IP, 19))  # IPV6_TRANSPARENT, IP_TRANSPARENT
            s.setsockopt(level, opt, 1)
            s.bind((args.transparent_src, args.sport))
        elif args.sport:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", args.sport))
        s.settimeout(5)
        s.connect(sockaddr(args.addr, args.port))
        say("connected", "local=%s" % (s.getsockname()[1]))
        run([s], args)
        return
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if args.bind_dev:
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, args.bind_dev.encode())
    ls.bind(sockaddr(args.addr, args.port))
    ls.listen(128)
    say("listening")
    run([], args, listener=ls, count=args.count if args.mode == "server" else -1)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
