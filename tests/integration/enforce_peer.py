# keepwatch test harness for enforce_keepalive: a receive-only TCP server whose sockets'
# keepalive is reported as it changes, so a test sees what keepwatchd set from outside.
#
#   enforce_peer.py ADDR PORT [--keepalive bug|off|I,N,C] [--prefork] [--accept-after S]
#
# --keepalive bug: the origin question's set_sock_opt(): SO_REUSEADDR, then SO_KEEPALIVE at
#   level IPPROTO_TCP (which is TCP_DEFER_ACCEPT there: keepalive stays off), TCP_KEEPCNT 2,
#   TCP_KEEPIDLE 10, TCP_KEEPINTVL 1, on the listener and on each accepted socket.
# --prefork: each connection is handled by a forked child (as sshd does); the parent keeps
#   only the listener. Children die with the parent (PR_SET_PDEATHSIG).
# --accept-after S: accept nothing for S seconds after listening (connections wait, without
#   an owner, in the accept queue).
# Lines: "<ms> listening", "<ms> accept peer=P pid=N", "<ms> opts peer=P on=0|1 idle=I
# intvl=V cnt=C" (at accept and at each change, looked at every 50 ms), "<ms> close peer=P
# errno=N error=..." or "<ms> close peer=P eof".
import argparse
import ctypes
import os
import selectors
import signal
import socket
import sys
import time

# tests/lib/peer.py: beside this file when run from a copy (as nobody), else in ../lib
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "lib")]
from peer import set_keepalive  # noqa: E402


def say(*words):
    sys.stdout.write("%d %s\n" % (int(time.monotonic() * 1000), " ".join(str(w) for w in words)))
    sys.stdout.flush()


def setup(s, mode):
    if mode == "bug":
        s.setsockopt(socket.IPPROTO_TCP, socket.SO_KEEPALIVE, 1)  # the bug, verbatim
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 2)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
    else:
        set_keepalive(s, mode)


def opts(s):
    g = s.getsockopt
    return "on=%d idle=%d intvl=%d cnt=%d" % (
        g(socket.SOL_SOCKET, socket.SO_KEEPALIVE), g(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
        g(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL), g(socket.IPPROTO_TCP, socket.TCP_KEEPCNT))


def name(s):
    a = s.getpeername()
    return "%s:%d" % (("[%s]" % a[0]) if ":" in a[0] else a[0], a[1])


def serve(conns, listener, args):
    sel = selectors.DefaultSelector()
    last = {}
    names = {}

    def add(c):
        c.setblocking(False)
        names[c] = name(c)
        say("accept", "peer=" + names[c], "pid=%d" % os.getpid())
        sel.register(c, selectors.EVENT_READ)
        conns.append(c)

    for c in list(conns):
        conns.remove(c)
        add(c)
    if listener:
        sel.register(listener, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select(0.05):
            s = key.fileobj
            if s is listener:
                c, _ = listener.accept()
                setup(c, args.keepalive)
                if args.prefork:
                    if os.fork() == 0:
                        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
                        if os.getppid() == 1:
                            os._exit(0)
                        # the epoll instance is shared with the parent: leave it alone
                        listener.close()
                        serve([c], None, args)
                        os._exit(0)
                    c.close()
                    continue
                add(c)
                continue
            try:
                data = s.recv(65536)
                if not data:
                    say("close", "peer=" + names[s], "eof")
                else:
                    continue
            except BlockingIOError:
                continue
            except OSError as e:
                say("close", "peer=" + names[s], "errno=%d" % e.errno,
                    "error=" + os.strerror(e.errno).replace(" ", "_"))
            sel.unregister(s)
            conns.remove(s)
            last.pop(s, None)
            s.close()
            if listener is None and not conns:
                return
        for c in conns:
            try:
                o = opts(c)
            except OSError:
                continue
            if last.get(c) != o:
                last[c] = o
                say("opts", "peer=" + names[c], o)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("addr")
    p.add_argument("port", type=int)
    p.add_argument("--keepalive", default="off")
    p.add_argument("--prefork", action="store_true")
    p.add_argument("--accept-after", type=float, default=0,
                   help="seconds to leave connections in the accept queue at first")
    args = p.parse_args()
    if args.prefork:
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    fam = socket.AF_INET6 if ":" in args.addr else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    setup(ls, args.keepalive)
    ls.bind((args.addr, args.port))
    ls.listen(128)
    say("listening", "pid=%d" % os.getpid())
    time.sleep(args.accept_after)
    serve([], ls, args)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
