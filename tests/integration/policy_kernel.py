#!/usr/bin/env python3
# keepwatch: the probe behind policy_kernel.sh — a TCP server that samples its own connection
# through NETLINK_SOCK_DIAG (timer, expires, tcp_info in one message), a client, and checks.
"""
server --port P [--ka IDLE,INTVL,CNT] [--mode idle|send|fill] --duration S --out FILE
    accepts one connection, then every --interval ms writes one JSON sample of it to FILE.
    send: 100 bytes every 250 ms; fill: writes until the peer's window is full.
client --addr A --port P [--ka IDLE,INTVL,CNT] [--noread] [--rcvbuf N] --duration S
expect FILE [--verdicts VFILE] --after MS 'EXPR'
    EXPR over S, the samples taken at or after MS (with d["v"], d["next"] from VFILE,
    policy_replay's output for the same samples)
fields FILE                     the samples as policy_replay reads them
show FILE                       prints the samples as a table
"""
import argparse
import json
import select
import socket
import struct
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from peer import set_keepalive  # noqa: E402  (tests/lib/peer.py)

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_DUMP = 1, 0x300
INET_DIAG_INFO = 2
TCP_LISTEN = 10
FIELDS = ("t", "state", "timer", "expires", "retrans", "probes", "backoff", "retransmits",
          "unacked", "last_data_recv", "last_ack_recv", "last_data_sent", "bytes_acked",
          "rto", "wqueue", "info_len")


def now_ms():
    return int(time.monotonic() * 1000)


def tcp_info_fields(info):
    # Offsets of struct tcp_info (linux/tcp.h); the kernel may send a shorter one.
    d = {"info_len": len(info)}
    if len(info) >= 60:
        d["retransmits"], d["probes"], d["backoff"] = info[2], info[3], info[4]
        d["rto"], = struct.unpack_from("=I", info, 8)
        d["unacked"], = struct.unpack_from("=I", info, 24)
        d["last_data_sent"], = struct.unpack_from("=I", info, 44)
        d["last_data_recv"], d["last_ack_recv"] = struct.unpack_from("=II", info, 52)
    if len(info) >= 128:
        d["bytes_acked"], = struct.unpack_from("=Q", info, 120)
    return d


def diag_sample(nl, port, seq):
    states = 0xfff & ~(1 << TCP_LISTEN)
    sockid = bytes(4) + bytes(32) + struct.pack("=III", 0, 0xffffffff, 0xffffffff)
    req = struct.pack("=BBBBI", socket.AF_INET, socket.IPPROTO_TCP,
                      1 << (INET_DIAG_INFO - 1), 0, states) + sockid
    nl.send(struct.pack("=IHHII", 16 + len(req), SOCK_DIAG_BY_FAMILY,
                        NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + req)
    found = None
    while True:
        buf = nl.recv(65536)
        off = 0
        while off + 16 <= len(buf):
            mlen, mtype = struct.unpack_from("=IH", buf, off)
            if mtype == NLMSG_DONE:
                return found
            if mtype == NLMSG_ERROR:
                raise OSError("inet_diag dump failed")
            found = parse_diag(buf[off + 16:off + mlen], port) or found
            off += (mlen + 3) & ~3


def parse_diag(p, port):
    family, state, timer, retrans = struct.unpack_from("=BBBB", p, 0)
    sport, = struct.unpack_from(">H", p, 4)
    expires, rq, wq = struct.unpack_from("=III", p, 52)
    if sport != port or state == TCP_LISTEN:
        return None
    d = {"t": now_ms(), "state": state, "timer": timer, "retrans": retrans,
         "expires": expires, "wqueue": wq, "info_len": 0}
    off = 72
    while off + 4 <= len(p):
        alen, atype = struct.unpack_from("=HH", p, off)
        if alen < 4:
            break
        if atype == INET_DIAG_INFO:
            d.update(tcp_info_fields(p[off + 4:off + alen]))
        off += (alen + 3) & ~3
    return d


def server(a):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", a.port))
    ls.listen(4)
    print("listening", flush=True)
    ls.settimeout(10)
    c, _ = ls.accept()
    set_keepalive(c, a.ka)
    c.setblocking(False)
    nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
    end, seq, next_send = now_ms() + a.duration * 1000, 1, 0
    with open(a.out, "w") as out:
        while now_ms() < end:
            t = now_ms()
            try:
                if a.mode == "send" and t >= next_send:
                    c.send(b"x" * 100)
                    next_send = t + 250
                elif a.mode == "fill":
                    while c.send(b"y" * 65536) > 0:
                        pass
            except (BlockingIOError, InterruptedError):
                pass
            d = diag_sample(nl, a.port, seq)
            seq += 1
            if d:
                out.write(json.dumps(d) + "\n")
                out.flush()
            time.sleep(a.interval / 1000)
    print("done", flush=True)


def client(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if a.rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
    set_keepalive(s, a.ka)
    s.connect((a.addr, a.port))
    print("connected", flush=True)
    end = time.monotonic() + a.duration
    while time.monotonic() < end:
        if a.noread:
            time.sleep(0.1)
            continue
        r, _, _ = select.select([s], [], [], 0.1)
        if r and not s.recv(65536):
            break


REPLAY_FIELDS = ("t", "state", "timer", "expires", "probes", "retransmits", "unacked",
                 "last_data_recv", "last_ack_recv", "bytes_acked", "info_len")


def load(path, after, verdicts=None):
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    if verdicts:
        with open(verdicts) as f:
            for d, line in zip(rows, f):
                t, d["v"], d["next"] = line.split()
                d["next"] = int(d["next"])
    return [d for d in rows if d["t"] >= after]


def show(rows):
    print(" ".join("%8.8s" % f for f in FIELDS))
    t0 = rows[0]["t"] if rows else 0
    for d in rows:
        print(" ".join("%8s" % (d.get(f, "-") if f != "t" else d["t"] - t0)
                       for f in FIELDS))


def expect(a):
    S = load(a.file, a.after, a.verdicts)
    # F: the first sample with a verdict other than alive, if any.
    F = next((d for d in S if d.get("v", "alive") != "alive"), None)
    ok = bool(S) and bool(eval(a.expr, {"S": S, "F": F}))
    if not ok:
        print("expectation failed: %s (%d samples)" % (a.expr, len(S)))
        show(S)
        if a.verdicts:
            print("verdicts:", " ".join("%d:%s/%d" % (d["t"] - S[0]["t"], d["v"], d["next"])
                                        for d in S))
    sys.exit(0 if ok else 1)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("server")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ka")
    p.add_argument("--mode", choices=("idle", "send", "fill"), default="idle")
    p.add_argument("--duration", type=int, default=5)
    p.add_argument("--interval", type=int, default=100)
    p.add_argument("--out", required=True)
    p = sub.add_parser("client")
    p.add_argument("--addr", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ka")
    p.add_argument("--noread", action="store_true")
    p.add_argument("--rcvbuf", type=int, default=0)
    p.add_argument("--duration", type=int, default=30)
    p = sub.add_parser("expect")
    p.add_argument("file")
    p.add_argument("--after", type=int, default=0)
    p.add_argument("--verdicts")
    p.add_argument("expr")
    p = sub.add_parser("fields")
    p.add_argument("file")
    p = sub.add_parser("show")
    p.add_argument("file")
    p.add_argument("--after", type=int, default=0)
    a = ap.parse_args()
    if a.cmd == "server":
        server(a)
    elif a.cmd == "client":
        client(a)
    elif a.cmd == "expect":
        expect(a)
    elif a.cmd == "fields":
        for d in load(a.file, 0):
            print(" ".join(str(d.get(f, 0)) for f in REPLAY_FIELDS))
    else:
        show(load(a.file, a.after))


if __name__ == "__main__":
    main()
