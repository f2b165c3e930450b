#!/bin/bash
# keepwatch integration test: privilege separation for namespaces (nsopen) and the namespace
# watch (nsmap) against the real kernel. A process left with CAP_NET_ADMIN alone, in
# namespace B, dumps and destroys namespace A's sockets through a sock_diag socket its helper
# opened there; vanished and wrong namespaces give clean errors; namespaces created and
# deleted are reported within 1 s, one reached by several items once.
source "$(dirname "$0")/../lib/netns.sh"
kw_require_root
PROBE="$KW_BUILD/tools/nsopen_probe"
[ -x "$PROBE" ] || kw_skip "$PROBE not built"
kw_init kwt-i11-open
kw_ns NSA a
kw_ns NSB b
PEER="$KW_SRC/tests/lib/peer.py"

kw_bg "$NSA" "$KW_TMP/srv-a.log" python3 -u "$PEER" server 127.0.0.1 7101
kw_bg "$NSB" "$KW_TMP/srv-b.log" python3 -u "$PEER" server 127.0.0.1 7202
kw_wait 5 ip netns exec "$NSA" ss -Htln sport = :7101 | grep -q . ||
	kw_wait 5 sh -c "ip netns exec $NSA ss -Htln sport = :7101 | grep -q ." ||
	kw_die "server in A did not start"
kw_wait 5 sh -c "ip netns exec $NSB ss -Htln sport = :7202 | grep -q ." ||
	kw_die "server in B did not start"
kw_bg "$NSA" "$KW_TMP/cli-a.log" python3 -u "$PEER" client 127.0.0.1 7101
kw_bg "$NSB" "$KW_TMP/cli-b.log" python3 -u "$PEER" client 127.0.0.1 7202
kw_wait 5 sh -c "ip netns exec $NSA ss -Htn state established | grep -q 7101" ||
	kw_die "connection in A not up"
kw_wait 5 sh -c "ip netns exec $NSB ss -Htn state established | grep -q 7202" ||
	kw_die "connection in B not up"

# 1. From B, with CAP_NET_ADMIN alone: A's sockets, not B's.
OUT="$KW_TMP/dump.txt"
ip netns exec "$NSB" "$PROBE" dump "/run/netns/$NSA" >"$OUT" 2>&1
sed "s/^/    /" "$OUT"
self_ns=$(sed -n 's/^self .*netns=\([0-9]*\).*/\1/p' "$OUT")
target_ns=$(sed -n 's/^target netns=\([0-9]*\).*/\1/p' "$OUT")
self_cap=$(sed -n 's/^self .*capeff=\([0-9a-f]*\).*/\1/p' "$OUT")
helper_cap=$(sed -n 's/^helper .*capeff=\([0-9a-f]*\).*/\1/p' "$OUT")
kw_check "the probe runs in another namespace than the one it dumps" \
	test -n "$self_ns" -a -n "$target_ns" -a "$self_ns" != "$target_ns"
kw_check "the probe holds CAP_NET_ADMIN and not CAP_SYS_ADMIN (CapEff $self_cap)" \
	test -n "$self_cap" -a $((0x${self_cap:-0} & (1 << 21))) = 0 -a \
	$((0x${self_cap:-0} & (1 << 12))) != 0
# CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_SYS_PTRACE, CAP_DAC_OVERRIDE and nothing else
kw_check "the helper holds exactly its four capabilities (CapEff $helper_cap)" \
	test "$helper_cap" = 281002
kw_check "both ends of A's connection are seen (peer.py closed its listener)" \
	test "$(grep -c 'sport=7101\|dport=7101' "$OUT")" = 2
kw_check "B's sockets are not" bash -c "! grep -q 7202 '$OUT'"
kw_check "the dump completed" grep -q '^done' "$OUT"

# 2. SOCK_DESTROY through the passed socket, from the CAP_NET_ADMIN-only process.
ip netns exec "$NSB" "$PROBE" dump "/run/netns/$NSA" --kill-port 7101 >"$OUT" 2>&1
# The first destroy resets the other end, which may be gone (-ENOENT) by the second.
kw_check "destroyed through the helper's socket" \
	grep -q '^destroy sport=7101 .*err=0$\|^destroy .*dport=7101 err=0$' "$OUT"
# The end destroyed first reads ECONNABORTED (103), the other the RST it sent (104).
kw_check "A's server saw its connection end (aborted or reset)" \
	kw_grep_wait 3 "$KW_TMP/srv-a.log" 'close .*errno=10[34]'
kw_check "B's connection is untouched" \
	sh -c "ip netns exec $NSB ss -Htn state established | grep -q 7202"

# 3. Clean errors.
expect_err() { # DESC WANT ARGS...
	local d=$1 want=$2
	shift 2
	ip netns exec "$NSB" "$PROBE" dump "$@" >"$OUT" 2>&1
	if grep -q "^error=$want open" "$OUT"; then kw_ok "$d"; else
		kw_fail "$d"
		sed 's/^/    /' "$OUT"
	fi
}
expect_err "a vanished namespace: -ENOENT" -2 "/run/netns/$KW_PREFIX-gone"
# (no netns item can name it: the configuration refuses it, so the helper does too)
expect_err "a mount namespace: refused (-EPERM)" -1 /proc/self/ns/mnt
expect_err "a plain file: -EINVAL" -22 /etc/hostname
expect_err "a protocol outside the list: -EPERM" -1 "/run/netns/$NSA" --proto bogus
ip netns exec "$NSB" "$PROBE" dump "/run/netns/$NSA" --proto route >"$OUT" 2>&1
kw_check "NETLINK_ROUTE opens" grep -q '^opened' "$OUT"
ip netns exec "$NSB" "$PROBE" dump "/run/netns/$NSA" --proto nf >"$OUT" 2>&1
kw_check "NETLINK_NETFILTER opens" grep -q '^opened' "$OUT"

# 4. The helper and its worker never outlive the process that started them; they ignore
# the signals meant for keepwatchd (a stop for the unit, SIGHUP); a worker that is killed
# leaves its parent a clean -EPIPE.
hold() {
	"$PROBE" hold >"$KW_TMP/hold.txt" 2>&1 &
	HOLD=$!
	KW_PIDS+=("$HOLD")
	kw_grep_wait 5 "$KW_TMP/hold.txt" '^helper pid=' || kw_die "hold did not start"
	HELPER=$(sed -n 's/^helper pid=\([0-9]*\).*/\1/p' "$KW_TMP/hold.txt")
	WORKER=$(sed -n 's/^helper .*worker=\([0-9]*\).*/\1/p' "$KW_TMP/hold.txt")
	KW_PIDS+=("$HELPER" "$WORKER")
}
gone() { ! kill -0 "$1" 2>/dev/null || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
hold
kill -KILL "$HOLD"
kw_check "the helper dies with its parent (SIGKILL)" kw_wait 2 gone "$HELPER"
kw_check "... and so does its worker" kw_wait 2 gone "$WORKER"
hold
kw_check "the worker is named keepwatchd-nsw, the helper keepwatchd-ns" \
	test "$(cat "/proc/$WORKER/comm")/$(cat "/proc/$HELPER/comm")" = keepwatchd-nsw/keepwatchd-ns
kill -TERM "$HELPER" "$WORKER"
kill -HUP "$HELPER" "$WORKER"
sleep 1.2 # one request of the probe's in between
kw_check "the helper and its worker ignore SIGTERM and SIGHUP" \
	bash -c "! grep -q gone '$KW_TMP/hold.txt' && kill -0 $HELPER && kill -0 $WORKER"
kill -KILL "$WORKER"
kw_check "a killed worker: its parent sees a clean -EPIPE" kw_grep_wait 3 "$KW_TMP/hold.txt" 'gone rc=-32'
kw_stop "$HOLD"

# 5. The watch: a namespace by glob, by path and through /proc/PID/ns/net is one namespace;
# created and deleted ones are reported within 1 s; a /proc item goes with its process.
ip netns exec "$NSA" sleep 60 &
SLEEP=$!
KW_PIDS+=("$SLEEP")
in_a() { [ "$(stat -Lc %i "/proc/$SLEEP/ns/net")" = "$(stat -Lc %i "/run/netns/$NSA")" ]; }
kw_wait 5 in_a || kw_die "sleep did not enter A" # ip netns exec setns()es after the fork
W="$KW_TMP/watch.txt"
"$PROBE" watch --for 8000 "$KW_PREFIX-w*" "/run/netns/$KW_PREFIX-w1" \
	"/proc/$SLEEP/ns/net" "/run/netns/$NSA" >"$W" 2>&1 &
WATCH=$!
KW_PIDS+=("$WATCH")
kw_grep_wait 5 "$W" '^watching' || kw_die "watch did not start"
kw_check "A, reached through /proc/PID/ns/net and by path, appears once, by its first item" \
	kw_grep_wait 2 "$W" "event=appeared netns=/proc/$SLEEP/ns/net "
t_add=$(kw_mono_ms)
ip netns add "$KW_PREFIX-w1" && KW_NAMESPACES+=("$KW_PREFIX-w1")
kw_check "a namespace created after start appears" \
	kw_grep_wait 3 "$W" "event=appeared netns=$KW_PREFIX-w1 "
t_seen=$(sed -n "s/^ms=\([0-9]*\) event=appeared netns=$KW_PREFIX-w1 .*/\1/p" "$W")
kw_check "... within 1 s ($((${t_seen:-999999} - t_add)) ms)" \
	test -n "$t_seen" -a $((t_seen - t_add)) -lt 1000
t_del=$(kw_mono_ms)
ip netns del "$KW_PREFIX-w1"
kw_check "a deleted namespace vanishes" \
	kw_grep_wait 3 "$W" "event=vanished netns=$KW_PREFIX-w1 "
t_seen=$(sed -n "s/^ms=\([0-9]*\) event=vanished netns=$KW_PREFIX-w1 .*/\1/p" "$W")
kw_check "... within 1 s ($((${t_seen:-999999} - t_del)) ms)" \
	test -n "$t_seen" -a $((t_seen - t_del)) -lt 1000
kw_stop "$SLEEP"
kw_check "when the process goes, A stays, now named by its path item" \
	kw_grep_wait 2 "$W" "event=changed netns=/run/netns/$NSA "
kw_stop "$WATCH"
kw_check "each namespace was reported once per change" \
	test "$(grep -c 'event=appeared' "$W")" = 2 -a "$(grep -c 'event=vanished' "$W")" = 1
kw_check "the own namespace is not flagged as own" bash -c "! grep -q 'own=1' '$W'"
sed 's/^/    /' "$W"

# 6. A process with no privilege at all (uid nobody) cannot look at /proc/PID/ns/net of a
# root process; through the helper it can, and the helper also tells namespace kinds apart.
ip netns exec "$NSA" sleep 60 &
SLEEP=$!
KW_PIDS+=("$SLEEP")
kw_wait 5 in_a || kw_die "sleep did not enter A"
"$PROBE" watch --as-nobody --for 600 "/proc/$SLEEP/ns/net" >"$W" 2>&1
kw_check "as nobody, alone: the /proc item fails (EACCES), nothing appears" \
	bash -c "grep -q 'failed=1 first_err=-13' '$W' && ! grep -q event= '$W'"
"$PROBE" watch --helper --as-nobody --for 600 "/proc/$SLEEP/ns/net" "/proc/$SLEEP/ns/mnt" \
	>"$W" 2>&1 || true
kw_check "as nobody without capabilities" grep -q '^uid=65534 capeff=0$' "$W"
kw_check "... through the helper, A appears" \
	grep -q "event=appeared netns=/proc/$SLEEP/ns/net ino=$target_ns " "$W"
kw_check "... and a mount namespace is refused (-EPERM: no item may name it), not taken" \
	grep -q 'failed=1 first_err=-1' "$W"
sed 's/^/    /' "$W"
kw_stop "$SLEEP"
kw_done
