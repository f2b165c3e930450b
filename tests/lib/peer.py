# keepwatch test harness: a TCP endpoint that reports what happens to it, one line per
# event, "<monotonic ms> <event> ...", flushed at once so tests can wait on it.
#
#   peer.py server ADDR PORT [--keepalive I,N,C] [--send-every MS] [--chunk N] [--count N]
#   peer.py client ADDR PORT [--keepalive I,N,C] [--send-every MS] [--chunk N]
#   peer.py sink ADDR PORT          (accepts and reads forever; any number of clients)
#
# A server accepts --count connections (default 1) and then only reads (or also sends
# every MS): the receive-only service of DEVELOPERS.md. Every connection's end is
# reported as "close peer=… errno=N error=<strerror>" or "close peer=… eof".
import argparse
import errno
import os
import selectors
import socket
import sys
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


def main():
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
    args = p.parse_args()
    fam = family_of(args.addr)
    if args.mode == "client":
        s = socket.socket(fam, socket.SOCK_STREAM)
        set_keepalive(s, args.keepalive)
        if args.bind_dev:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, args.bind_dev.encode())
        if args.sport:
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
