#!/bin/bash
# keepwatch integration test: the nftables kill path (nft_reset.c through nftkill_probe).
# Proves against the real kernel, IPv4 and IPv6: a doomed tuple's next keepalive probe is
# answered with a RST the local socket receives (ECONNRESET) within one keepalive
# interval; a socket that sends nothing is never reset (until it sends); the owner table
# exists only while its process lives (SIGTERM and SIGKILL); the user's own table is
# untouched; a healthy connection between the same hosts keeps working throughout.
#
# Helpers defined here (not in netns.sh): nft_* functions below and two python programs
# written to $KW_TMP (a multi-mode TCP server and client).

. "$(dirname "$0")/../lib/netns.sh"

kw_require_root
command -v nft >/dev/null || kw_skip "nft not installed"
command -v python3 >/dev/null || kw_skip "python3 not installed"
PROBE="$KW_BUILD/tools/nftkill_probe"
[ -x "$PROBE" ] || kw_die "$PROBE not built"

kw_init kwt-nft
kw_pair
SRV=$KW_NS_SRV
CLI=$KW_NS_CLI
SRVLOG=$KW_TMP/server.log
KA_INTVL_MS=1000 # the server sockets' TCP_KEEPIDLE and TCP_KEEPINTVL

# --- the TCP programs: tests/lib/peer.py moded-server and moded-client ------------------
PEER="$KW_SRC/tests/lib/peer.py"

# --- helpers ---------------------------------------------------------------------------
# client_port LOGFILE: the local port a client printed.
client_port() { kw_wait 5 grep -q '^port ' "$1" && awk '/^port /{print $2; exit}' "$1"; }
# echo_count LOGFILE: the last round trip count a healthy client reported.
echo_count() { awk '/^echo /{n=$2} END{print n+0}' "$1"; }
echo_ok() { ! grep -q '^error' "$1" && kill -0 "$2" 2>/dev/null; }
echo_above() { [ "$(echo_count "$1")" -gt "$2" ]; }
# echo_advances LOGFILE PID: the healthy client completes more round trips from now on.
echo_advances() {
	local before
	before=$(echo_count "$1")
	kw_wait 5 echo_above "$1" "$((before + 10))" && echo_ok "$1" "$2"
}
fails() { ! "$@" 2>/dev/null; }
has_table() { ip netns exec "$1" nft list tables | grep -qx "table inet $2"; }
no_table() { ! has_table "$@"; }
# srv_event PORT EVENT: the server logged EVENT for the connection from PORT.
# SRV and SRVLOG name the server namespace and log the helpers below look at.
srv_event() { grep -Eq "^[0-9]+ $1 $2\$" "$SRVLOG"; }
srv_event_ms() { awk -v p="$1" -v e="$2" '$2 == p && $3" "$4 == e {print $1; exit}' "$SRVLOG"; }
# srv_error PORT: the error the server's reader of PORT got, or "".
srv_error() { awk -v p="$1" '$2 == p && $3 == "error" {print $4; exit}' "$SRVLOG"; }
srv_has_error() { [ -n "$(srv_error "$1")" ]; }
# tcp_state PORT: the server-side state of the connection from client port PORT, or "".
tcp_state() { ip netns exec "$SRV" ss -Htna "( dport = :$1 )" | awk '{print $1}'; }
# rule_packets FAMILY: packets the keepwatch rule for ip/ip6 has reset so far.
rule_packets() {
	ip netns exec "$SRV" nft list chain inet keepwatch output |
		awk -v f="$1" '$1 == f && $2 == "saddr" {
			for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }'
}
# probe_cmd LINE: one command to the running probe; waits for its answer.
probe_answers() { grep -c -E '^(ok|error)' "$KW_TMP/probe.log"; }
probe_answers_above() { [ "$(probe_answers)" -gt "$1" ]; }
probe_cmd() {
	local n
	n=$(probe_answers)
	echo "$1" >&3
	kw_wait 5 probe_answers_above "$n" &&
		[ "$(grep -E '^(ok|error)' "$KW_TMP/probe.log" | tail -n 1)" = ok ]
}
start_probe() {
	: >"$KW_TMP/probe.log"
	kw_bg "$SRV" "$KW_TMP/probe.log" bash -c "exec '$PROBE' hold <'$KW_TMP/cmd'"
	PROBE_PID=$KW_LAST_PID
	kw_grep_wait 5 "$KW_TMP/probe.log" '^ready$'
}

# --- the user's own ruleset, which must come through untouched --------------------------
ip netns exec "$SRV" nft -f - <<'EOF' || kw_die "user table"
table inet userfw {
	chain input {
		type filter hook input priority filter; policy accept;
		ct state invalid drop
		tcp dport 9 drop
	}
	chain output {
		type filter hook output priority filter; policy accept;
		ip daddr 192.0.2.1 drop
	}
}
EOF
ip netns exec "$SRV" nft list ruleset >"$KW_TMP/ruleset.before"

mkfifo "$KW_TMP/cmd"
exec 3<>"$KW_TMP/cmd" # read-write: neither side of the fifo blocks on open

kw_bg "$SRV" "$KW_TMP/server.log" python3 -u "$PEER" moded-server "$KW_TMP" 10.77.0.1 fd77::1
kw_grep_wait 5 "$KW_TMP/server.log" ' listening$' || kw_die "server did not start"
kw_bg "$CLI" "$KW_TMP/echo4.log" python3 -u "$PEER" moded-client 10.77.0.1 echo
ECHO4=$KW_LAST_PID
kw_bg "$CLI" "$KW_TMP/echo6.log" python3 -u "$PEER" moded-client fd77::1 echo
ECHO6=$KW_LAST_PID

start_probe || kw_die "probe did not start: $(cat "$KW_TMP/probe.log")"
kw_check "keepwatch table listed while the process runs" has_table "$SRV" keepwatch
ip netns exec "$SRV" nft list table inet userfw >"$KW_TMP/userfw.during"
sed -n '/^table inet userfw/,/^}/p' "$KW_TMP/ruleset.before" >"$KW_TMP/userfw.before"
kw_check "user table byte-identical while keepwatch's table is loaded" \
	cmp -s "$KW_TMP/userfw.before" "$KW_TMP/userfw.during"

kw_check "another process cannot change the owner table" \
	fails ip netns exec "$SRV" nft add element inet keepwatch doomed4 \
	"{ 10.77.0.9 . 1 . 10.77.0.8 . 2 timeout 1s }" 2>/dev/null
kw_check "a second killer is refused while the first holds the table" \
	fails ip netns exec "$SRV" "$PROBE" hold
probe_cmd "add 10.77.0.9 1 10.77.0.8 2 999999999999999"
kw_check "a kernel error comes back through the ACK (timeout out of range)" \
	test "$(grep -E '^(ok|error)' "$KW_TMP/probe.log" | tail -n 1)" = \
	"error: Numerical result out of range"
kw_check "adding the same tuple twice succeeds" \
	eval 'probe_cmd "add 10.77.0.9 1 10.77.0.8 2 1000" && probe_cmd "add 10.77.0.9 1 10.77.0.8 2 1000"'

# run_family ip|ip6 SADDR CADDR
run_family() {
	local f=$1 saddr=$2 caddr=$3 dport qport t0 t1 pk0 pk1
	kw_bg "$CLI" "$KW_TMP/doomed$f.log" python3 -u "$PEER" moded-client "$saddr" reader
	kw_bg "$CLI" "$KW_TMP/quiet$f.log" python3 -u "$PEER" moded-client "$saddr" quiet
	dport=$(client_port "$KW_TMP/doomed$f.log") || kw_die "$f reader client"
	qport=$(client_port "$KW_TMP/quiet$f.log") || kw_die "$f quiet client"
	kw_wait 5 srv_event "$dport" "accepted reader" || kw_die "$f reader not accepted"
	kw_wait 5 srv_event "$qport" "accepted quiet" || kw_die "$f quiet not accepted"

	# Power the peer off for these two connections only: the client host drops their
	# segments both ways, so the server's keepalive probes go unanswered.
	kw_poweroff "$CLI" "poweroff_$f" "tcp dport { $dport, $qport }" \
		"tcp sport { $dport, $qport }" || kw_die "poweroff table"
	sleep 1.5 # keepalive (idle 1 s) is probing now, unanswered
	kw_check "$f: reader unharmed by the dead peer alone" test "$(tcp_state "$dport")" = ESTAB

	pk0=$(rule_packets "$f")
	t0=$(kw_mono_ms)
	kw_check "$f: add the dead reader's tuple" \
		probe_cmd "add $saddr 2000 $caddr $dport 60000"
	kw_check "$f: add the quiet socket's tuple" \
		probe_cmd "add $saddr 2000 $caddr $qport 60000"
	kw_wait 5 srv_event "$dport" "error ECONNRESET"
	kw_check "$f: reader got ECONNRESET" srv_event "$dport" "error ECONNRESET"
	t1=$(srv_event_ms "$dport" "error ECONNRESET")
	echo "# $f: reset $((${t1:-999999} - t0)) ms after the tuple was added"
	kw_check "$f: reset within one keepalive interval (${KA_INTVL_MS} ms + 500 ms slack)" \
		test "$((${t1:-999999} - t0))" -le $((KA_INTVL_MS + 500))
	kw_check "$f: server socket gone" test -z "$(tcp_state "$dport")"
	pk1=$(rule_packets "$f")
	echo "# $f: rule reset counter $pk0 -> $pk1"
	kw_check "$f: the rule matched the keepalive probe" test "${pk1:-0}" -gt "${pk0:-0}"

	# Case (1): a socket that sends nothing is never reset, whatever the set holds.
	sleep $((3 * KA_INTVL_MS / 1000))
	kw_check "$f: quiet socket (no keepalive, no data) still ESTABLISHED after 3 s" \
		test "$(tcp_state "$qport")" = ESTAB
	kw_check "$f: quiet socket's reader saw nothing" \
		test -z "$(grep -E "^[0-9]+ $qport (error|eof|data)" "$SRVLOG")"
	# ...until it sends: its first data segment is answered with the reset.
	touch "$KW_TMP/send-$qport"
	kw_wait 5 srv_event "$qport" "error ECONNRESET"
	kw_check "$f: quiet socket reset as soon as it sends data" \
		srv_event "$qport" "error ECONNRESET"
	kw_check "$f: quiet server socket gone" test -z "$(tcp_state "$qport")"
}

run_family ip 10.77.0.1 10.77.0.2
run_family ip6 fd77::1 fd77::2
kw_check "healthy v4 connection kept working" echo_advances "$KW_TMP/echo4.log" "$ECHO4"
kw_check "healthy v6 connection kept working" echo_advances "$KW_TMP/echo6.log" "$ECHO6"

kw_stop "$PROBE_PID"
kw_check "probe exits 0 on SIGTERM" test $? = 0
kw_check "no keepwatch table after SIGTERM" kw_wait 2 no_table "$SRV" keepwatch
ip netns exec "$SRV" nft list ruleset >"$KW_TMP/ruleset.after"
kw_check "nft list ruleset byte-identical after SIGTERM" \
	cmp -s "$KW_TMP/ruleset.before" "$KW_TMP/ruleset.after"

kw_check "probe starts again" start_probe
kw_check "keepwatch table back" has_table "$SRV" keepwatch
kill -KILL "$PROBE_PID"
wait "$PROBE_PID" 2>/dev/null
kw_check "no keepwatch table after SIGKILL (owner flag)" kw_wait 2 no_table "$SRV" keepwatch
ip netns exec "$SRV" nft list ruleset >"$KW_TMP/ruleset.after"
kw_check "nft list ruleset byte-identical after SIGKILL" \
	cmp -s "$KW_TMP/ruleset.before" "$KW_TMP/ruleset.after"

# --- case (2): the connection's route or address goes away -------------------------------
# no_routes: IPv4 and IPv6 segments the kernel dropped for want of a route (OutNoRoutes).
no_routes() {
	ip netns exec "$SRV" awk '$1 == "Ip:" && $2 ~ /^[0-9]/ {v4 = $13}
		$1 == "Ip6OutNoRoutes" {v6 = $2} END {print v4 + v6}' /proc/net/snmp /proc/net/snmp6
}

# route_case NAME IFINDEX ACTION EXPECT: a fresh namespace pair whose server holds the
# tuples of a reader3 connection per family (keepalive 1 s, 3 probes) in the table, then
# ACTION (addr-del | link-del | carrier | addr-del-v6-keep-route) and one of
#   reset       the next probe reaches the hook and the reader gets ECONNRESET
#   noroute     route lookup fails before the output hook: the rule never sees a segment,
#               the socket stays until the kernel's own keepalive gives up (not ECONNRESET)
#   misrouted   the rule fires, but the RST is addressed to an address no longer local
#               and leaves on the wire: the socket is not reset either
route_case() {
	local name=$1 idx=$2 action=$3 expect=$4 s c pid f port nr0 nr1 pk
	local -A ports=()
	kw_ns s "${name}s"
	kw_ns c "${name}c"
	kw_veth "$s" kwsrv0 "$idx" "$c" kwcli0 "$((idx + 1))"
	kw_addr "$s" kwsrv0 10.77.0.1/24
	kw_addr "$c" kwcli0 10.77.0.2/24
	kw_addr "$s" kwsrv0 fd77::1/64
	kw_addr "$c" kwcli0 fd77::2/64
	SRV=$s
	SRVLOG=$KW_TMP/$name.server.log
	kw_bg "$s" "$SRVLOG" python3 -u "$PEER" moded-server "$KW_TMP" 10.77.0.1 fd77::1
	kw_grep_wait 5 "$SRVLOG" ' listening$' || kw_die "$name: server"
	for f in ip ip6; do
		[ "$action" = addr-del-v6-keep-route ] && [ $f = ip ] && continue
		kw_bg "$c" "$KW_TMP/$name.$f.log" python3 -u "$PEER" moded-client \
			"$([ $f = ip ] && echo 10.77.0.1 || echo fd77::1)" reader3
		ports[$f]=$(client_port "$KW_TMP/$name.$f.log") || kw_die "$name: $f client"
		kw_wait 5 srv_event "${ports[$f]}" "accepted reader3" || kw_die "$name: $f accept"
	done
	local args=()
	[ -n "${ports[ip]:-}" ] && args+=(10.77.0.1 2000 10.77.0.2 "${ports[ip]}" 60000)
	[ -n "${ports[ip6]:-}" ] && args+=(fd77::1 2000 fd77::2 "${ports[ip6]}" 60000)
	kw_bg "$s" "$KW_TMP/$name.probe.log" "$PROBE" hold "${args[@]}"
	pid=$KW_LAST_PID
	kw_grep_wait 5 "$KW_TMP/$name.probe.log" '^ready$' || kw_die "$name: probe"
	nr0=$(no_routes)
	case $action in
	addr-del)
		ip -n "$s" addr del 10.77.0.1/24 dev kwsrv0
		ip -n "$s" addr del fd77::1/64 dev kwsrv0 ;;
	link-del) ip -n "$s" link del kwsrv0 ;;
	carrier) ip -n "$c" link set kwcli0 down ;;
	addr-del-v6-keep-route) # a second address keeps the prefix route fd77::/64
		kw_addr "$s" kwsrv0 fd77::5/64
		ip -n "$s" addr del fd77::1/64 dev kwsrv0 ;;
	esac
	[ "$expect" = reset ] || sleep 2.5 # more than two keepalive intervals
	for f in "${!ports[@]}"; do
		port=${ports[$f]}
		pk=$(rule_packets "$f")
		case $expect in
		reset)
			kw_wait 3 srv_has_error "$port"
			kw_check "$name/$f: $action: reader reset (ECONNRESET)" \
				test "$(srv_error "$port")" = ECONNRESET
			kw_check "$name/$f: $action: the rule matched" test "$(rule_packets "$f")" -gt 0
			continue ;;
		noroute)
			kw_check "$name/$f: $action: no segment reached the output hook" test "$pk" = 0 ;;
		misrouted)
			kw_check "$name/$f: $action: the rule fired ($pk times) all the same" \
				test "$pk" -gt 0 ;;
		esac
		kw_check "$name/$f: $action: not reset, still ESTABLISHED after 2.5 s" \
			test "$(tcp_state "$port")" = ESTAB
	done
	[ "$expect" = reset ] || for f in "${!ports[@]}"; do
		port=${ports[$f]}
		kw_wait 8 srv_has_error "$port"
		echo "# $name/$f: $action: the kernel's own keepalive ended it: $(srv_error "$port")"
		kw_check "$name/$f: $action: ended by the kernel's keepalive, not a reset" \
			test -n "$(srv_error "$port")" -a "$(srv_error "$port")" != ECONNRESET
	done
	if [ "$expect" = noroute ]; then
		nr1=$(no_routes)
		echo "# $name: $action: OutNoRoutes $nr0 -> $nr1"
		kw_check "$name: $action: the probes failed route lookup (OutNoRoutes grew)" \
			test "$nr1" -gt "$nr0"
	fi
	kw_stop "$pid"
}

route_case rt1 81 carrier reset
route_case rt2 83 addr-del noroute
route_case rt3 85 link-del noroute
route_case rt4 87 addr-del-v6-keep-route misrouted
SRV=$KW_NS_SRV
SRVLOG=$KW_TMP/server.log

kw_check "healthy v4 connection still working at the end" \
	echo_advances "$KW_TMP/echo4.log" "$ECHO4"
kw_check "healthy v6 connection still working at the end" \
	echo_advances "$KW_TMP/echo6.log" "$ECHO6"
echo "# healthy round trips: v4 $(echo_count "$KW_TMP/echo4.log")," \
	"v6 $(echo_count "$KW_TMP/echo6.log")"
kw_done
