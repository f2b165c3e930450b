#!/bin/bash
# The sock_ops hook against keepwatchd's own path (sockops = off), A/B in one run, on one farm:
#   enforce  1,000 new connections/s to an enforcing service among OTHER other sockets: how
#            many the owner (tests/tools/enfprobe) finds enforced at its first look, right
#            after accept(), and how late the rest; keepwatchd's CPU and peak RSS.
#   million  MILLION established sockets (loopback farms of at most 16,000 connections per
#            process) plus WATCHED watched connections, and 1,000 new watched connections/s
#            for SECS: keepwatchd's CPU and RSS; with the hook every new connection read from
#            the ring (none lost) and how fresh (the delay histogram's p99 against
#            discovery_interval).
#   burst    BURST connections at once (4 clients, 4 servers): every one enforced at the
#            handshake and watched; a ring overflow, if any, counted and followed by a dump.
# Everything runs in kwb-h19- namespaces and in a kwb-h19- cgroup that this shell joins (the
# hook attaches there, never at the cgroup2 root); keepwatchd starts with nsenter.
#
# Usage (root): KW_BUILD=build tests/bench/sockops.sh [--quick] [enforce] [million] [burst]
# env: SECS (window, default 60; --quick 10), RATE (1000), OTHER (enforce: 100000 sockets),
#      MILLION (1000000 sockets), WATCHED (10000), BURST (50000), KW_DEBUG=1 (keepwatchd -v)
. "$(dirname "$0")/lib.sh"
. "$KW_SRC/tests/lib/sockops.sh"
SECS=${SECS:-60}
NAMES=()
for a in "$@"; do
	case "$a" in
	--quick) SECS=${QUICK_SECS:-10} ;;
	enforce | million | burst) NAMES+=("$a") ;;
	*) kw_die "unknown argument $a" ;;
	esac
done
[ ${#NAMES[@]} -gt 0 ] || NAMES=(enforce million burst)
RATE=${RATE:-1000}
OTHER=${OTHER:-100000}
MILLION=${MILLION:-1000000}
WATCHED=${WATCHED:-10000}
BURST=${BURST:-50000}
kw_require_root
for tool in "$KB_FARM" "$KB_DAEMON" "$KW_BUILD/tools/enfprobe"; do
	[ -x "$tool" ] || kw_die "no $tool: build the tree first (cmake --build $KW_BUILD)"
done
so_require
kw_init kwb-h19-sockops
KB_ROWS="$KW_TMP/rows"
: >"$KB_ROWS"
so_cgroup

# kwd NAME SOCKOPS SERVICE-KEYS...: keepwatchd in NS_SRV (nsenter: the cgroup2 mount stays in
# sight), metrics every second; waits for event=start; KWD its PID.
kwd() {
	local name=$1 mode=$2 v=()
	shift 2
	kb_config "$KW_TMP/$name.ini" "sockops = $mode" "sockops_cgroup = $SO_REL" \
		"metrics_file = $KW_TMP/$name.prom" -- "$@"
	[ -n "${KW_DEBUG:-}" ] && v=(-v)
	nsenter --net="/run/netns/$NS_SRV" "$KB_DAEMON" -c "$KW_TMP/$name.ini" -f "${v[@]}" \
		>"$KW_TMP/$name.log" 2>&1 </dev/null &
	KWD=$!
	KW_PIDS+=("$KWD")
	kw_grep_wait 60 "$KW_TMP/$name.log" 'event=start' || {
		cat "$KW_TMP/$name.log" >&2
		kw_die "keepwatchd ($name) did not start"
	}
}
# prom NAME METRIC: a value of the last metrics file (0 when the metric is absent, "none" when
# no file was written yet); a label set may follow the metric name, as in the file.
prom() {
	[ -f "$KW_TMP/$1.prom" ] || { echo none; return; }
	awk -v k="$2" '$1 == k { v = $2 } END { print v + 0 }' "$KW_TMP/$1.prom"
}
# p99 NAME: the histogram bucket holding the 99th percentile of the discovery delay, in ms.
p99() {
	awk -v n="keepwatch_sockops_discovery_delay_seconds_bucket" '
		index($1, n "{le=\"") == 1 { le = substr($1, length(n) + 6); sub(/"}$/, "", le)
			b[++k] = le; c[k] = $2 }
		END { if (!k || !c[k]) { print "-"; exit }
			for (i = 1; i <= k; i++) if (c[i] >= 0.99 * c[k]) {
				print (b[i] == "+Inf" ? "+Inf" : b[i] * 1000) " ms"; exit } }' \
		"$KW_TMP/$1.prom"
}
# window PID SECONDS: keepwatchd's CPU (% of one core) over the next SECONDS.
window() {
	local c0 w0
	c0=$(kb_cpu_ns "$1")
	w0=$(date +%s%N)
	sleep "$2"
	kb_fmt %.3f "($(kb_cpu_ns "$1") - $c0) / ($(date +%s%N) - $w0) * 100"
}
field() { tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k { print $2 }'; }

echo "machine: $(kb_machine)" >&2
kb_pair

# ---- enforce -------------------------------------------------------------------------------
bench_enforce() {
	local mode res pct hwm
	echo "enforce: setting up $OTHER other sockets..." >&2
	kb_bulk "$NS_SRV" $((OTHER / 2)) 3000
	ip netns exec "$NS_CLI" sysctl -qw net.ipv4.tcp_tw_reuse=1
	kb_row "enforce: $RATE new/s, each held 5 s, among $(ip netns exec "$NS_SRV" ss -Htan | wc -l) sockets, ${SECS}s" \
		"at accept()" "enforced" "closed before" "median / p99 ms" "kwd CPU %" "peak RSS KiB"
	for mode in on off; do
		kw_bg "$NS_SRV" "$KW_TMP/probe-$mode.out" "$KW_BUILD/tools/enfprobe" 10.77.0.1 2000
		local probe=$KW_LAST_PID cli
		kw_grep_wait 5 "$KW_TMP/probe-$mode.out" '^listening' || kw_die "enfprobe"
		kwd "enf-$mode" "$mode" "local_ports = 2000" "keepalive_probes = 2" \
			"enforce_keepalive = 30s, 10s"
		kb_farm cli "$NS_CLI" "churn-$mode" 10 connect -r "$RATE" -m $((RATE * 5)) 10.77.0.1 2000:0
		sleep 3
		pct=$(window "$KWD" "$SECS")
		kill -STOP "$cli"
		sleep 2
		kb_stop "$probe"
		kill -CONT "$cli"
		kb_stop "$cli"
		sleep 1.2
		hwm=$(kb_hwm_kb "$KWD")
		kb_stop "$KWD"
		res=$(grep '^accepted=' "$KW_TMP/probe-$mode.out")
		kb_row "sockops = $mode" "$(field at_accept "$res") / $(field accepted "$res")" \
			"$(field enforced "$res")" "$(field closed_before "$res")" \
			"$(field median_ms "$res") / $(field p99_ms "$res")" "$pct" "$hwm"
		printf -v "ENF_$mode" '%s' "$pct at_accept=$(field at_accept "$res")/$(field accepted "$res") enforced=$(field enforced "$res")"
	done
	kb_table
}

# ---- million -------------------------------------------------------------------------------
bench_million() {
	local mode pct hwm rss probe cli lfarm cfarm total born lost p watched held
	echo "million: setting up $MILLION sockets..." >&2
	kb_bulk "$NS_SRV" $(((MILLION - 2 * WATCHED) / 2)) 4000
	kw_bg "$NS_SRV" "$KW_TMP/w-l.out" "$KB_FARM" listen -n "$WATCHED" 10.77.0.1 2000
	lfarm=$KW_LAST_PID
	kb_listen_wait w-l
	kb_farm cfarm "$NS_CLI" w-c 120 connect 10.77.0.1 "2000:$WATCHED"
	kw_grep_wait 60 "$KW_TMP/w-l.out" '^ready' || kw_die "watched farm"
	ip netns exec "$NS_CLI" sysctl -qw net.ipv4.tcp_tw_reuse=1
	total=$(ip netns exec "$NS_SRV" ss -Htan | wc -l)
	kb_row "million: $total sockets, $WATCHED watched, $RATE new watched/s, ${SECS}s" \
		"kwd CPU %" "RSS / peak KiB" "births read" "accepted" "lost" "delay p99" \
		"watched / established"
	for mode in on off; do
		kw_bg "$NS_SRV" "$KW_TMP/mprobe-$mode.out" "$KW_BUILD/tools/enfprobe" 10.77.0.1 2001
		probe=$KW_LAST_PID
		kw_grep_wait 5 "$KW_TMP/mprobe-$mode.out" '^listening' || kw_die "enfprobe"
		kwd "m-$mode" "$mode" "local_ports = 2000-2001" "keepalive_probes = 2"
		kb_farm cli "$NS_CLI" "mchurn-$mode" 10 connect -r "$RATE" -m $((RATE * 5)) 10.77.0.1 2001:0
		sleep 3
		pct=$(window "$KWD" "$SECS")
		kill -STOP "$cli"
		sleep 2.2 # the last births read, and a metrics file written since
		rss=$(kb_rss_kb "$KWD")
		hwm=$(kb_hwm_kb "$KWD")
		born=$(prom "m-$mode" 'keepwatch_sockops_records_total{type="established"}')
		lost=$(prom "m-$mode" keepwatch_sockops_records_lost_total)
		p=$(p99 "m-$mode")
		watched=$(prom "m-$mode" 'keepwatch_watched_connections{service="bench"}')
		held=$(ip netns exec "$NS_SRV" ss -Htn state established '( sport = :2000 or sport = :2001 )' | wc -l)
		kb_stop "$probe"
		kill -CONT "$cli"
		kb_stop "$cli"
		kb_row "sockops = $mode" "$pct" "$rss / $hwm" "$born" \
			"$(field accepted "$(grep '^accepted=' "$KW_TMP/mprobe-$mode.out")")" "$lost" "$p" \
			"$watched / $held"
		printf -v "MIL_$mode" '%s' "$pct% rss=${hwm}KiB births=$born lost=$lost p99=$p"
		kb_stop "$KWD"
	done
	kb_table
	kb_stop "$cfarm" "$lfarm"
}

# ---- burst ---------------------------------------------------------------------------------
bench_burst() {
	local mode i per=$((BURST / 4)) t0 ms acc at enf watched over lost probes=() clis=() pct
	kb_row "burst: $BURST connections at once (4 x $per)" "connected in ms" "at accept()" \
		"enforced in 10 s" "watched" "overflows" "records lost" "kwd CPU ms"
	for mode in on off; do
		probes=() clis=()
		for i in 0 1 2 3; do
			kw_bg "$NS_SRV" "$KW_TMP/bprobe-$mode-$i.out" "$KW_BUILD/tools/enfprobe" 10.77.0.1 $((2000 + i))
			probes+=("$KW_LAST_PID")
			kw_grep_wait 5 "$KW_TMP/bprobe-$mode-$i.out" '^listening' || kw_die "enfprobe $i"
		done
		kwd "b-$mode" "$mode" "local_ports = 2000-2003" "keepalive_probes = 2" \
			"enforce_keepalive = 30s, 10s"
		local c0
		c0=$(kb_cpu_ns "$KWD")
		t0=$(date +%s%N)
		for i in 0 1 2 3; do
			kw_bg "$NS_CLI" "$KW_TMP/bcli-$mode-$i.out" "$KB_FARM" connect 10.77.0.1 "$((2000 + i)):$per"
			clis+=("$KW_LAST_PID")
		done
		for i in 0 1 2 3; do
			kw_grep_wait 60 "$KW_TMP/bcli-$mode-$i.out" '^ready' || kw_die "burst client $i"
		done
		ms=$((($(date +%s%N) - t0) / 1000000))
		sleep 10
		pct=$(kb_fmt %.0f "($(kb_cpu_ns "$KWD") - $c0) / 1000000")
		watched=$(prom "b-$mode" 'keepwatch_watched_connections{service="bench"}')
		over=$(prom "b-$mode" keepwatch_sockops_ring_overflows_total)
		lost=$(prom "b-$mode" keepwatch_sockops_records_lost_total)
		kb_stop "${probes[@]}"
		acc=0 at=0 enf=0
		for i in 0 1 2 3; do
			res=$(grep '^accepted=' "$KW_TMP/bprobe-$mode-$i.out")
			acc=$((acc + $(field accepted "$res")))
			at=$((at + $(field at_accept "$res")))
			enf=$((enf + $(field enforced "$res")))
		done
		kb_row "sockops = $mode" "$ms" "$at / $acc" "$enf" "$watched" "$over" "$lost" "$pct"
		printf -v "BUR_$mode" '%s' "at_accept=$at/$acc enforced=$enf watched=$watched overflows=$over lost=$lost"
		kb_stop "$KWD" "${clis[@]}"
		sleep 1
	done
	kb_table
}

ENF_on='' ENF_off='' MIL_on='' MIL_off='' BUR_on='' BUR_off=''
for n in "${NAMES[@]}"; do "bench_$n"; done
echo "machine at the end: $(kb_machine)"
for n in "${NAMES[@]}"; do
	case $n in
	enforce) echo "SUMMARY sockops enforce: hook ${ENF_on}; fallback ${ENF_off} (CPU % of one core first)" ;;
	million) echo "SUMMARY sockops million: hook ${MIL_on}; fallback ${MIL_off}" ;;
	burst) echo "SUMMARY sockops burst: hook ${BUR_on}; fallback ${BUR_off}" ;;
	esac
done
