# keepwatch test harness: a minimal syslog receiver on a Unix datagram socket. Each
# message becomes "<monotonic ms> <raw message>" on its own line, flushed at once.
import os
import socket
import sys
import time

path, out = sys.argv[1], sys.argv[2]
if os.path.exists(path):
    os.unlink(path)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
with open(out, "a", buffering=1) as f:
    while True:
        data = s.recv(65536)
        f.write("%d %s\n" % (int(time.monotonic() * 1000),
                             data.decode("utf-8", "replace").rstrip("\n")))
