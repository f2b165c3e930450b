#!/bin/bash
# keepwatch: proves the verdict's kernel facts (tests/unit/test_policy.c fixtures) on a live
# kernel: what idiag_timer/expires and tcp_info say in each case the verdict tells apart.
#
# Server 10.77.0.1 (the watched side) and client 10.77.0.2 in namespaces; the client
# "powers off" by loading a drop-all nft table in its own namespace. policy_kernel.py samples
# the server's connection every 100 ms through NETLINK_SOCK_DIAG (one message per sample).
#   a  healthy idle, server keepalive 1,1,20: the peer answers probes
#   b  peer power-off, keepalive running
#   c  peer power-off while the server sends (keepalive set, but suspended)
#   d  zero window, peer alive: the client stops reading
#   e  zero window, then peer power-off
#   f  only the client runs keepalive: its probes show nowhere in the server's tcp_info
. "$(dirname "$0")/../lib/netns.sh"
kw_require_root
command -v nft >/dev/null || kw_skip "nft not installed"
kw_init kwt-policy
kw_pair
PY=(python3 "$KW_SRC/tests/integration/policy_kernel.py")
power_off() { kw_poweroff "$KW_NS_CLI" kwt_off || kw_die "nft"; }
power_on() { kw_poweron "$KW_NS_CLI" kwt_off 2>/dev/null; true; }
# has_sample FILE PYEXPR: the latest sample d satisfies PYEXPR.
has_sample() { "${PY[@]}" expect "$1" "$2" >/dev/null; }
# expect NAME DESCRIPTION EXPR: EXPR over the samples of NAME taken after its mark.
expect() { kw_check "$1: $2" "${PY[@]}" expect "$KW_TMP/$1.jsonl" --after "${MARK[$1]:-0}" "$3"; }

REPLAY="$KW_BUILD/tools/policy_replay"
[ -x "$REPLAY" ] || kw_die "$REPLAY not built"
# judge NAME PROBES IDLE_MS UNACKED_MS DESCRIPTION EXPR: replays every sample of NAME
# through policy_judge() with those limits; EXPR sees d["v"], d["next"] and F.
judge() {
	local v="$KW_TMP/$1.v.$2-$3-$4"
	"${PY[@]}" fields "$KW_TMP/$1.jsonl" | "$REPLAY" "$2" "$3" "$4" >"$v"
	kw_check "$1: policy probes=$2 idle=$3 unacked=$4: $5" \
		"${PY[@]}" expect "$KW_TMP/$1.jsonl" --verdicts "$v" "$6"
}

declare -A MARK SRV CLI
# start NAME PORT DURATION SERVER_ARGS -- CLIENT_ARGS
start() {
	local name=$1 port=$2 dur=$3 sargs=() cargs=()
	shift 3
	while [ $# -gt 0 ] && [ "$1" != -- ]; do sargs+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	cargs=("$@")
	kw_bg "$KW_NS_SRV" "$KW_TMP/$name.srv.log" "${PY[@]}" server --port "$port" \
		--duration "$dur" --out "$KW_TMP/$name.jsonl" "${sargs[@]}"
	SRV[$name]=$KW_LAST_PID
	kw_grep_wait 5 "$KW_TMP/$name.srv.log" listening || kw_die "$name: server did not start"
	kw_bg "$KW_NS_CLI" "$KW_TMP/$name.cli.log" "${PY[@]}" client --addr 10.77.0.1 --port "$port" \
		"${cargs[@]}"
	CLI[$name]=$KW_LAST_PID
	kw_wait 5 test -s "$KW_TMP/$name.jsonl" || kw_die "$name: no sample"
}
# finish NAME: waits for the server's end (bounded), restores the link, prints the samples.
finish() {
	kw_grep_wait 30 "$KW_TMP/$1.srv.log" '^done' || kw_fail "$1: server did not finish"
	power_on
	kw_stop "${CLI[$1]}"
	kw_stop "${SRV[$1]}"
	echo "# $1 (t: ms since the first sample shown; mark at ${MARK[$1]:-start})"
	"${PY[@]}" show "$KW_TMP/$1.jsonl" --after "${MARK[$1]:-0}"
}
mark() { MARK[$1]=$(kw_mono_ms); }

# (a) Healthy idle: probes answered, so last_ack_recv stays near the 1 s interval while
# last_data_recv grows; probes is 0 but for the odd sample inside a probe's round trip.
start a 5101 5 --ka 1,1,20 -- --duration 20
sleep 1
mark a
finish a
expect a "keepalive timer runs" 'all(d["timer"] == 2 for d in S)'
expect a "answered probes leave probes at 0" 'sum(d["probes"] > 0 for d in S) <= 1'
expect a "last_ack_recv refreshed by probe answers" 'max(d["last_ack_recv"] for d in S) <= 1500'
expect a "last_data_recv grows" 'S[-1]["last_data_recv"] >= 3500'
expect a "nothing in flight" 'all(d["unacked"] == 0 for d in S)'
judge a 1 2000 1000 "a quiet peer answering probes is alive" 'F is None'
judge a 2 2000 0 "next check: the keepalive timer" \
	'all(d["next"] == (d["expires"] or 20) for d in S if d["t"] >= S[0]["t"] + 1000)'

# (b) Peer power-off with keepalive running: probes climb one per interval, timer stays 2.
start b 5102 6 --ka 1,1,20 -- --duration 20
sleep 1
mark b
power_off
finish b
expect b "keepalive timer runs" 'all(d["timer"] == 2 for d in S)'
expect b "probes climb to 3+" 'max(d["probes"] for d in S) >= 3'
expect b "probes never fall" 'all(x["probes"] <= y["probes"] for x, y in zip(S, S[1:]))'
expect b "idiag_retrans equals tcpi_probes" 'all(d["retrans"] == d["probes"] for d in S)'
expect b "last_ack_recv grows" 'S[-1]["last_ack_recv"] >= 4000'
expect b "nothing in flight" 'all(d["unacked"] == 0 for d in S)'
judge b 2 0 0 "keepalive once the 2nd probe's interval is out" \
	'F["v"] == "keepalive" and (F["probes"] == 3 or F["probes"] == 2 and F["expires"] == 0)'
judge b 1 0 0 "keepalive once the 1st probe's interval is out" \
	'F["v"] == "keepalive" and (F["probes"] == 2 or F["probes"] == 1 and F["expires"] == 0)'
judge b 2 1500 0 "idle first, keepalive takes precedence once both hold" \
	'F["v"] == "idle" and all(d["v"] == "keepalive" for d in S if d["probes"] >= 3)'
judge b 0 2500 0 "idle without keepalive_probes" \
	'F["v"] == "idle" and F["last_ack_recv"] >= 2500'

# (c) Peer power-off while the server sends: retransmit timer, keepalive suspended.
start c 5103 6 --ka 1,1,20 --mode send -- --duration 20
sleep 1
mark c
power_off
finish c
MARK[c]=$((MARK[c] + 700))
expect c "retransmit timer runs" 'all(d["timer"] == 1 for d in S)'
expect c "data in flight" 'all(d["unacked"] > 0 for d in S)'
expect c "no probes counted" 'all(d["probes"] == 0 for d in S)'
expect c "retransmits climb" 'S[-1]["retransmits"] >= 3 and S[-1]["backoff"] >= 3'
expect c "bytes_acked frozen" 'len(set(d["bytes_acked"] for d in S)) == 1'
judge c 2 0 0 "no keepalive verdict while data is in flight" 'F is None'
judge c 2 0 2000 "unacked 2 s after the last ACK progress" \
	'F["v"] == "unacked" and 2000 <= F["t"] - min(x["t"] for x in S
		if x["bytes_acked"] == F["bytes_acked"]) <= 2500'

# (d) Zero window, peer alive: persist timer; answered window probes leave probes at 0
# while backoff climbs.
start d 5104 5 --mode fill -- --noread --rcvbuf 4096 --duration 20
kw_wait 5 has_sample "$KW_TMP/d.jsonl" 'S[-1]["timer"] == 4' || kw_fail "d: no persist timer"
mark d
finish d
expect d "persist timer runs" 'all(d["timer"] == 4 for d in S)'
expect d "nothing in flight, data queued" 'all(d["unacked"] == 0 and d["wqueue"] > 0 for d in S)'
# The client's kernel answers out-of-window probes at most once per tcp_invalid_ratelimit
# (500 ms): the probe sent 400 ms after an answered one (backoff 1) goes unanswered.
expect d "a live peer leaves at most one window probe unanswered" \
	'max(d["probes"] for d in S) <= 1 and S[-1]["probes"] == 0'
expect d "backoff climbs all the same" 'S[-1]["backoff"] >= 3'
judge d 1 1000 0 "a live peer behind a zero window is alive" 'F is None'

# (d0) As d with the client's rate limit off: every window probe is answered.
ip netns exec "$KW_NS_CLI" sysctl -qw net.ipv4.tcp_invalid_ratelimit=0 || kw_die sysctl
start d0 5107 4 --mode fill -- --noread --rcvbuf 4096 --duration 20
kw_wait 5 has_sample "$KW_TMP/d0.jsonl" 'S[-1]["timer"] == 4' || kw_fail "d0: no persist timer"
mark d0
finish d0
ip netns exec "$KW_NS_CLI" sysctl -qw net.ipv4.tcp_invalid_ratelimit=500
expect d0 "persist timer runs" 'all(d["timer"] == 4 for d in S)'
expect d0 "every window probe answered" 'sum(d["probes"] > 0 for d in S) <= 1'

# (e) Zero window, then peer power-off: window probes go unanswered and count up.
start e 5105 7 --mode fill -- --noread --rcvbuf 4096 --duration 20
kw_wait 5 has_sample "$KW_TMP/e.jsonl" 'S[-1]["timer"] == 4' || kw_fail "e: no persist timer"
mark e
power_off
finish e
expect e "persist timer runs" 'all(d["timer"] == 4 for d in S)'
expect e "window probes climb to 2+" 'max(d["probes"] for d in S) >= 2'
expect e "idiag_retrans equals tcpi_probes" 'all(d["retrans"] == d["probes"] for d in S)'
expect e "nothing in flight" 'all(d["unacked"] == 0 for d in S)'
judge e 2 0 0 "zero-window, not keepalive" \
	'F["v"] == "zero-window" and (F["probes"] == 3 or F["probes"] == 2 and F["expires"] == 0)'
judge e 1 0 0 "one unanswered window probe is not enough" \
	'F["v"] == "zero-window" and F["probes"] >= 2'
judge e 0 1000 0 "idle once two window probes go unanswered" \
	'F["v"] == "idle" and F["probes"] >= 2'

# (f) Only the client probes: the server answers them, but they are out-of-window
# segments that never reach tcp_ack(), so its last_ack_recv grows like a dead peer's.
start f 5106 4 -- --ka 1,1,20 --duration 20
sleep 1
mark f
finish f
expect f "no timer on the server" 'all(d["timer"] == 0 for d in S)'
expect f "client probes refresh nothing" \
	'S[-1]["last_ack_recv"] >= 3500 and S[-1]["last_data_recv"] >= 3500'
judge f 2 2000 0 "idle: the peer's own keepalive is no sign of life here" \
	'F["v"] == "idle" and min(F["last_ack_recv"], F["last_data_recv"]) >= 2000'

kw_done
