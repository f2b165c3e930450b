#!/bin/bash
# One keepwatchd guarding many namespaces (issue 11): 100 namespaces with 100 watched
# connections each, against the same 10,000 connections in one namespace. The daemon runs in
# a namespace of its own and reaches the others through its helper. Measured: the daemon's
# and the helper's (keepwatchd-ns and its worker keepwatchd-nsw together) RSS, the daemon's idle CPU (owners' keepalive 60 s, peers alive), and the
# reaction to a link loss under 100 of the connections (event -> the owner reads
# ECONNABORTED, connfarm stamps).
#
# Usage (root): KW_BUILD=build tests/bench/netns.sh [--quick]
# env: SECS idle window (default 60; --quick: 20), NNS namespaces (default 100), PER
# connections per namespace (default 100).
# Goals: idle cost follows what changes (no per-namespace polling while nothing happens:
# the idle CPU of 100 namespaces stays within a small factor of one namespace's), daemon RSS
# under 16 MB.
# shellcheck disable=SC2154 # PID_<name> are set through printf -v
. "$(dirname "$0")/lib.sh"
SECS=${SECS:-60}
[ "${1:-}" = --quick ] && SECS=${QUICK_SECS:-20}
NNS=${NNS:-100}
PER=${PER:-100}
TOTAL=$((NNS * PER))
kb_init i11-netns needs-daemon
P=$KW_PREFIX
kb_ns NS_D d

# The victims' namespace n001 (a veth to a client namespace) and its PER connections.
victims_ns() {
	kb_ns NS_SRV n001
	kb_ns NS_CLI cli
	kw_veth "$NS_SRV" kwsrv0 77 "$NS_CLI" kwcli0 78
	kw_addr "$NS_SRV" kwsrv0 10.77.0.1/24
	kw_addr "$NS_CLI" kwcli0 10.77.0.2/24
	kb_victims "$1" "$PER" -k 60,10,6
}

# measure TAG NAMESPACES: starts the daemon in NS_D for the namespaces n*, waits until it
# watches TOTAL connections, then the idle window and the link loss; one table row.
# helpers_cpu HELPER [WORKER]: their CPU ns together
helpers_cpu() {
	local s
	s=$(kb_cpu_ns "$1")
	[ -z "${2:-}" ] || s=$((s + $(kb_cpu_ns "$2")))
	echo "$s"
}

measure() {
	local tag=$1 nns=$2 cfg="$KW_TMP/$1.ini" m="$KW_TMP/$1.prom" helper worker c0 c1 h0 h1 t0
	local w=0 rss hwm hrss ab last cpu_react nup
	kb_config "$cfg" "metrics_file = $m" -- "local_ports = 2000-2999" "keepalive_probes = 2" \
		"netns = $P-n*"
	kb_daemon PID_kwd "$NS_D" "$cfg" "kwd-$tag"
	for _ in $(seq 1 600); do
		nup=$(grep -c 'event=netns-up' "$KW_TMP/kwd-$tag.log")
		w=$(awk '/^keepwatch_watched_connections/ { s += $2 } END { print s + 0 }' "$m" 2>/dev/null)
		[ "$nup" = "$nns" ] && [ "${w:-0}" -ge "$TOTAL" ] && break
		sleep 0.1
	done
	[ "${w:-0}" -ge "$TOTAL" ] || kw_die "$tag: watching ${w:-0} of $TOTAL after 60 s"
	# the helper keepwatchd-ns and its worker keepwatchd-nsw, which does the work
	helper=$(pgrep -P "$PID_kwd" -x keepwatchd-ns | head -1)
	worker=$(pgrep -P "${helper:-0}" -x keepwatchd-nsw | head -1)
	sleep 2
	c0=$(kb_cpu_ns "$PID_kwd")
	h0=$(helpers_cpu "$helper" "$worker")
	sleep "$SECS"
	c1=$(kb_cpu_ns "$PID_kwd")
	h1=$(helpers_cpu "$helper" "$worker")
	rss=$(kb_rss_kb "$PID_kwd")
	hwm=$(kb_hwm_kb "$PID_kwd")
	hrss=$(kb_rss_kb "$helper")
	[ -z "$worker" ] || hrss=$((hrss + $(kb_rss_kb "$worker")))
	# the link loss in n001
	t0=$(kb_cpu_ns "$PID_kwd")
	ip netns exec "$NS_SRV" "$KB_FARM" event "$KW_TMP/$tag.ev" link-down kwsrv0 ||
		kw_die "link-down failed"
	kb_victims_done 20 || echo "warning: $tag: not every victim saw an error" >&2
	kill -USR1 "$KB_V_SRV" 2>/dev/null
	sleep 0.1
	cpu_react=$(kb_calc "($(kb_cpu_ns "$PID_kwd") - $t0) / 1e6")
	read -r t0 _ <"$KW_TMP/$tag.ev"
	ab=$(kb_err_field "$KB_V_ERR" econnaborted)
	last=1e12
	[ "${ab:-0}" -gt 0 ] && last=$(kb_calc "($(kb_err_field "$KB_V_ERR" last_ns) - $t0) / 1e6")
	IDLE_PCT[$tag]=$(kb_fmt %.4f "($c1 - $c0) / 1e7 / $SECS")
	HWM[$tag]=$hwm
	kb_row "$tag" "$nns" "$w" "$(kb_fmt %.4f "($c1 - $c0) / 1e7 / $SECS")" \
		"$(kb_fmt %.1f "($h1 - $h0) / 1e6")" "$rss / $hwm" "$hrss" "${ab:-0}/$PER" \
		"$(kb_ms "$last")" "$cpu_react"
	kb_stop "$PID_kwd"
}

declare -A IDLE_PCT HWM
kb_row "layout" "namespaces" "watched" "idle kwd %cpu" "helper CPU ms" "kwd RSS/HWM KiB" \
	"helper RSS KiB" "aborted" "link loss: last ms" "kwd CPU ms (loss)"

# 1: NNS namespaces of PER connections (n001 the victims', n002.. loopback farms).
victims_ns many
for i in $(seq 2 "$NNS"); do
	kb_ns NS_X "$(printf 'n%03d' "$i")"
	kb_bulk "$NS_X" "$PER" 2000
done
measure many "$NNS"
kw_stop_all_but ""
for ns in "${KW_NAMESPACES[@]}"; do [ "$ns" = "$NS_D" ] || ip netns del "$ns" 2>/dev/null; done
KW_NAMESPACES=("$NS_D")

# 2: the same TOTAL connections in one namespace (PER victims, the rest loopback).
victims_ns one
kb_bulk "$NS_SRV" $((TOTAL - PER)) 2001
measure one 1

echo "$TOTAL watched idle connections (owner keepalive 60 s, peers alive), ${SECS}s idle" \
	"window, keepwatchd in its own namespace; machine: $(kb_machine)"
kb_table
ratio=$(kb_fmt %.2f "${IDLE_PCT[many]} / (${IDLE_PCT[one]} + 1e-9)")
ok_rss=$([ "${HWM[many]}" -lt 16384 ] && echo met || echo MISSED)
echo "SUMMARY netns: idle many/one=${ratio}x (${IDLE_PCT[many]}% vs ${IDLE_PCT[one]}% of one" \
	"core) hwm many=${HWM[many]}KiB ($ok_rss, target <16384) one=${HWM[one]}KiB"
