#!/bin/bash
# keepwatch integration test: the sock_diag module against the real kernel — bytecode filters
# agree with an independent evaluation of `ss -tan`, refused bytecode is an error,
# SOCK_DESTROY aborts a blocked reader (IPv4, IPv6), exact lookups honour the cookie.
source "$(dirname "$0")/../lib/netns.sh"
kw_require_root
PROBE="$KW_BUILD/tools/sockdiag_probe"
[ -x "$PROBE" ] || kw_skip "$PROBE not built"
command -v ss >/dev/null || kw_skip "ss (iproute2) not installed"
kw_init kwt-sockdiag
kw_pair
kw_addr "$KW_NS_SRV" kwsrv0 10.77.0.11/24
kw_addr "$KW_NS_SRV" kwsrv0 fd77::11/64
kw_addr "$KW_NS_CLI" kwcli0 10.77.0.12/24
kw_addr "$KW_NS_CLI" kwcli0 fd77::12/64
CTL="$KW_TMP/ctl"
mkdir -p "$CTL"

# The socket holder: a server listening on every port in both families (IPv6 v6only) that
# keeps what it accepts; on READ ports a thread blocks in recv() and prints how it ended;
# the file ctl/close-fin-PORT or ctl/close-rst-PORT closes that port's accepted sockets
# (rst: SO_LINGER 0). As client, it connects dst,dport,src,sport[,count] specs and holds
# them.
cat >"$KW_TMP/hold.py" <<'EOF'
import errno, os, socket, struct, sys, threading, time
mode, ctl = sys.argv[1], sys.argv[2]
def out(*a):
    print(*a, flush=True)
if mode == "client":
    held = []
    for spec in sys.argv[3:]:
        dst, dport, src, sport, *count = spec.split(",")
        fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
        for _ in range(int(count[0]) if count else 1):
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((src, int(sport)))
            s.connect((dst, int(dport)))
            held.append(s)
    out("ready", len(held))
    time.sleep(600)
    sys.exit(0)
ports = [int(p) for p in sys.argv[3].split(",")]
readers = [int(p) for p in sys.argv[4].split(",")]
accepted = {}
def reader(port, s):
    try:
        d = s.recv(100)
        out("recv", port, "eof" if not d else "data")
    except OSError as e:
        out("recv", port, errno.errorcode.get(e.errno, str(e.errno)))
def acceptor(l, port):
    while True:
        s, _ = l.accept()
        accepted.setdefault(port, []).append(s)
        if port in readers:
            threading.Thread(target=reader, args=(port, s), daemon=True).start()
for port in ports:
    for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        l = socket.socket(fam, socket.SOCK_STREAM)
        l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            l.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        l.bind((addr, port))
        l.listen(64)
        threading.Thread(target=acceptor, args=(l, port), daemon=True).start()
out("listening")
for _ in range(12000):
    for f in os.listdir(ctl):
        how, port = f.split("-")[1], int(f.split("-")[2])
        os.unlink(os.path.join(ctl, f))
        for s in accepted.pop(port, []):
            if how == "rst":
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        out("closed", how, port)
    time.sleep(0.05)
EOF

# The reference: the selectors' meaning evaluated in Python over `ss -tanH` (all sockets,
# unfiltered), printing one "src dst" line per match of the family.
cat >"$KW_TMP/expect.py" <<'EOF'
import ipaddress, sys
fam, args = int(sys.argv[1]), sys.argv[2:]
sels, cur = [], None
i = 0
while i < len(args):
    if args[i] == "--or":
        cur = None; i += 1; continue
    if cur is None:
        cur = {"--lport": [], "--rport": [], "--lnet": [], "--rnet": []}; sels.append(cur)
    cur[args[i]].append(args[i + 1]); i += 2
def ep(s):
    host, port = s.rsplit(":", 1)
    host = host.strip("[]").split("%")[0]
    if host == "*":
        host = "0.0.0.0"
    return ipaddress.ip_address(host), 0 if port == "*" else int(port)
def inport(p, specs):
    for s in specs:
        lo, _, hi = s.partition("-")
        if int(lo) <= p <= int(hi or lo):
            return True
    return False
def innet(a, specs):
    return any(a.version == ipaddress.ip_network(n).version and a in ipaddress.ip_network(n)
               for n in specs)
def match(s, l, lp, r, rp):
    return ((not s["--lport"] or inport(lp, s["--lport"])) and
            (not s["--rport"] or inport(rp, s["--rport"])) and
            (not s["--lnet"] or innet(l, s["--lnet"])) and
            (not s["--rnet"] or innet(r, s["--rnet"])))
for line in sys.stdin:
    f = line.split()
    (l, lp), (r, rp) = ep(f[3]), ep(f[4])
    if l.version != fam:
        continue
    if any(match(s, l, lp, r, rp) for s in sels):
        def fmt(a, p):
            return f"[{a}]:{p}" if a.version == 6 else f"{a}:{p}"
        print(fmt(l, lp), fmt(r, rp))
EOF

kw_bg "$KW_NS_SRV" "$KW_TMP/server.log" python3 -u "$KW_TMP/hold.py" server "$CTL" \
	2000,3005,3010,3011,4000,2500,2501,2600,2601,2700,2701,2800 2500,2501
kw_grep_wait 5 "$KW_TMP/server.log" '^listening' || kw_die "server did not start"
# shellcheck disable=SC2054 # each element is one comma-separated tuple
C=(10.77.0.1,2000,10.77.0.2,0 10.77.0.1,2000,10.77.0.2,5001 10.77.0.11,2000,10.77.0.12,5002
	10.77.0.1,3005,10.77.0.2,5003 10.77.0.11,3010,10.77.0.12,0 10.77.0.1,3011,10.77.0.2,0
	10.77.0.1,4000,10.77.0.12,6000
	fd77::1,2000,fd77::2,0 fd77::11,2000,fd77::12,5001 fd77::1,3005,fd77::2,5002
	fd77::11,4000,fd77::12,5003 fd77::1,3011,fd77::12,0 fd77::11,3010,fd77::2,6000
	10.77.0.1,2500,10.77.0.2,0 fd77::1,2501,fd77::2,0
	10.77.0.1,2600,10.77.0.2,0 fd77::1,2601,fd77::2,0
	10.77.0.1,2700,10.77.0.2,0 fd77::1,2701,fd77::2,0)
kw_bg "$KW_NS_CLI" "$KW_TMP/client.log" python3 -u "$KW_TMP/hold.py" client "$CTL" "${C[@]}"
kw_grep_wait 5 "$KW_TMP/client.log" '^ready' || kw_die "client did not connect"
# 600 more on port 2800 for batches of more than one sendmsg.
kw_bg "$KW_NS_CLI" "$KW_TMP/client2.log" python3 -u "$KW_TMP/hold.py" client "$CTL" \
	10.77.0.1,2800,10.77.0.2,0,600
kw_grep_wait 20 "$KW_TMP/client2.log" '^ready 600' || kw_die "client did not connect 600"
established() { ip netns exec "$KW_NS_SRV" ss -tnH state established "$@" | wc -l; }
all_accepted() { [ "$(established)" -ge $((${#C[@]} + 600)) ]; }
kw_wait 10 all_accepted || kw_die "server did not accept every connection"

probe() { ip netns exec "$KW_NS_SRV" "$PROBE" "$@"; }
# probe_has PATTERN ARGS...: the probe's output has a line matching PATTERN (ERE).
probe_has() {
	local pat=$1
	shift
	probe "$@" | grep -Eq -- "$pat"
}
# Pairs "src dst" from a dump's output, sorted.
probe_pairs() {
	probe dump "$@" | sed -n 's/^conn .* src=\([^ ]*\) dst=\([^ ]*\) .*/\1 \2/p' | sort
}

# ---- 1. filters: the kernel running our bytecode agrees with the reference ----
ip netns exec "$KW_NS_SRV" ss -tanH >"$KW_TMP/ss.txt"
ALL=$(wc -l <"$KW_TMP/ss.txt")
CASES=(
	"--lport 2000"
	"--lport 3005-3010"
	"--lport 2000 --lport 3005-3010"
	"--rport 5001-5003"
	"--lnet 10.77.0.11/32"
	"--lnet fd77::11/128"
	"--rnet 10.77.0.12/32 --or --rnet fd77::12/128"
	"--lport 3000-3010 --rnet 10.77.0.0/24 --or --lport 4000 --rnet fd77::/64"
	"--lnet 10.77.0.0/24 --lnet fd77::/64 --lport 2000 --rport 5001-5002"
	"--lport 2000 --rport 5002 --or --lport 4000 --or --lnet fd77::11/128 --lport 3000-3999"
	"--lnet 0.0.0.0/0"
	"--lnet 10.77.0.8/29"
	"--rport 1-65535 --lport 2000-3011"
	"--rnet fd77::10/127 --or --rnet 10.77.0.12/31 --rport 5002-6000"
)
nonempty=0
narrower=0
for c in "${CASES[@]}"; do
	for fam in 4 6; do
		# shellcheck disable=SC2086
		python3 "$KW_TMP/expect.py" $fam $c <"$KW_TMP/ss.txt" | sort >"$KW_TMP/want"
		# shellcheck disable=SC2086
		probe_pairs --family $fam $c >"$KW_TMP/got"
		n=$(wc -l <"$KW_TMP/want")
		[ "$n" -gt 0 ] && nonempty=$((nonempty + 1))
		[ "$n" -lt "$ALL" ] && narrower=$((narrower + 1))
		if cmp -s "$KW_TMP/want" "$KW_TMP/got"; then
			kw_ok "filter IPv$fam [$c]: $n sockets, kernel and reference agree"
		else
			kw_fail "filter IPv$fam [$c]"
			diff "$KW_TMP/want" "$KW_TMP/got" | head -20
		fi
	done
done
echo "# $ALL sockets in the namespace; $nonempty of $((2 * ${#CASES[@]})) filters match some"
kw_check "most filters match something (a filter matching nothing proves little)" \
	[ "$nonempty" -ge 20 ]
kw_check "every filter leaves sockets out" [ "$narrower" -eq $((2 * ${#CASES[@]})) ]
kw_check "IPv6-only nets skip the IPv4 dump" \
	probe_has 'family=4 skipped' dump --family 4 --lnet fd77::11/128

# ---- 2. bytecode the kernel refuses is an error, not an unfiltered dump ----
# JMP with an unaligned offset; S_COND with IPv4 prefix 33.
for bc in 01040600 0710140002210000ffffffff0a4d0000; do
	out=$(probe dump --family 4 --raw-bc $bc)
	rc=$?
	kw_check "refused bytecode $bc: exit 1" [ $rc = 1 ]
	kw_check "refused bytecode $bc: -EINVAL reported" grep -q 'Invalid argument (-22)' <<<"$out"
	kw_check "refused bytecode $bc: no socket listed" grep -q '^matches=0' <<<"$out"
done
# And the same ops, made valid, are taken: JMP to the end accepts everything.
n4=$(probe dump --family 4 --raw-bc 01040400 | grep -c '^conn ')
kw_check "valid raw bytecode (JMP to the end) lists every IPv4 socket ($n4)" \
	[ "$n4" = "$(grep -vc '\[' "$KW_TMP/ss.txt")" ]

# ---- 3. SOCK_DESTROY: a blocked reader gets ECONNABORTED; a gone socket is -ENOENT ----
for v in 4:2500 6:2501; do
	fam=${v%%:*}
	port=${v#*:}
	probe kill --family "$fam" --lport "$port" --twice >"$KW_TMP/kill$port" 2>&1
	cat "$KW_TMP/kill$port"
	kw_check "IPv$fam kill: one connection destroyed (LISTEN left alone)" \
		grep -q "^kill sockets=1 destroyed=1 failed=0 rc=0 " "$KW_TMP/kill$port"
	kw_check "IPv$fam kill: the blocked reader got ECONNABORTED" \
		kw_grep_wait 3 "$KW_TMP/server.log" "^recv $port ECONNABORTED"
	kw_check "IPv$fam kill again: the gone socket answers -ENOENT" \
		grep -q "^kill-again .* result=-2 (No such file or directory)" "$KW_TMP/kill$port"
	kw_check "IPv$fam kill: the listener is still there" \
		probe_has 'state=LISTEN' dump --family "$fam" --lport "$port"
done

# ---- 4. exact lookups: closed sockets, wrong cookie, gone tuple without cookie ----
# The id of the one established connection on a port, as a dump prints it.
conn_id() {
	probe dump --family "$1" --lport "$2" --states conn |
		sed -n 's/^conn .*state=ESTABLISHED .* id=\(.*\)$/\1/p'
}
lookup_state() { probe lookup "$@" | sed -n 's/^lookup result=ok .*state=\([A-Z_0-9]*\) .*/\1/p'; }
for v in 4:2600:2700 6:2601:2701; do
	IFS=: read -r fam fin rst <<<"$v"
	idf=$(conn_id "$fam" "$fin")
	idr=$(conn_id "$fam" "$rst")
	kw_check "IPv$fam lookup: both connections found by dump ($idf, $idr)" \
		test -n "$idf" -a -n "$idr"
	kw_check "IPv$fam lookup of a live socket: ESTABLISHED" \
		[ "$(lookup_state --id "$idf")" = ESTABLISHED ]
	kw_check "IPv$fam lookup with a wrong cookie: ENOENT" \
		probe_has 'result=-2 ' lookup --id "$idf" --cookie-delta 1
	touch "$CTL/close-fin-$fin" "$CTL/close-rst-$rst"
	kw_grep_wait 3 "$KW_TMP/server.log" "^closed rst $rst" || kw_fail "server did not close"
	kw_check "IPv$fam lookup after close (peer still open): FIN_WAIT2" \
		kw_wait 3 probe_has 'state=FIN_WAIT2' lookup --id "$idf"
	kw_check "IPv$fam lookup after an RST close: ENOENT" \
		probe_has 'result=-2 ' lookup --id "$idr"
	kw_check "IPv$fam gone tuple without a cookie: the kernel answers with the LISTEN socket" \
		[ "$(lookup_state --id "$idr" --nocookie)" = LISTEN ]
	# One batch, answers matched by sequence number, in request order.
	out=$(probe lookup --id "$idr" --id "$idf" --id "$idr" --id "$idf" |
		awk '{ print $2 == "result=ok" ? "ok" : / result=-2 / ? "enoent" : "other" }' |
		tr '\n' ' ')
	kw_check "IPv$fam batched lookups answered in request order ($out)" \
		[ "$out" = "enoent ok enoent ok " ]
done

# ---- 5. batches: 600 sockets, several sendmsg, replies dropped by a small receive queue ----
out=$(probe lookup --family 4 --lport 2800 --bench 2)
echo "$out" | grep lookup_bench
kw_check "600 lookups in batches of 256: every one answered, none resent" \
	grep -q "sockets=600 .* errors=0 rc=0 resent=0" <<<"$out"
out=$(probe lookup --family 4 --lport 2800 --bench 2 --batch 512 --rcvbuf 8192)
echo "$out" | grep lookup_bench
kw_check "600 lookups through an 8 KiB receive queue: replies dropped, asked again, all answered" \
	grep -Eq "sockets=600 .* errors=0 rc=0 resent=[1-9]" <<<"$out"
out=$(probe kill --family 4 --lport 2800 --batch 512 --rcvbuf 4096 --time)
echo "$out" | grep -E "^(kill|destroy) "
kw_check "600 destroys through a 4 KiB receive queue: every one acknowledged" \
	grep -Eq "^kill sockets=600 destroyed=600 failed=0 rc=0 resent=[1-9]" <<<"$out"
kw_check "no connection left on port 2800" [ "$(established '( sport = :2800 )')" = 0 ]

kw_done
