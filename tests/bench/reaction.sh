#!/bin/bash
# Reaction time: from a link or address event to the owning process reading ECONNABORTED, for
# 1, 1k and 10k affected connections, with 100k unrelated sockets on the host (in another
# namespace: the established hash every lookup and dump walks is shared).
#
# Usage (root): KW_BUILD=build tests/bench/reaction.sh
# env: RUNS (default 5), SIZES (default "1 1000 10000"), EVENTS (default "addr link"),
#      BULK (unrelated connections, default 50000 = 100k sockets)
# The event time is taken just before the RTM_DELADDR / RTM_NEWLINK(down) request is sent
# (connfarm event, no process start-up in between); the owner (one process, epoll) stamps
# each ECONNABORTED read. "first", "median" and "last" are over the affected connections;
# "kernel ack" is when the kernel answered the request: the kernel's own share of the time.
# shellcheck disable=SC2154 # PID_<name> (and med_<m>) are set through printf -v and eval
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-5}
SIZES=${SIZES:-"1 1000 10000"}
EVENTS=${EVENTS:-"addr link"}
BULK=${BULK:-50000}
kb_init react needs-daemon
kb_ns NS_BULK bulk
kb_bulk "$NS_BULK" "$BULK" 6000
kb_pair
kb_config "$KW_TMP/react.ini" -- "local_ports = 2000" "on_link_loss = kill"
kb_daemon PID_kwd "$NS_SRV" "$KW_TMP/react.ini" kwd

link_back() { ip -n "$NS_SRV" link show kwsrv0 | grep -q LOWER_UP; }

# one EVENT N RUN: sets R_FIRST R_MED R_LAST (ms after the event), R_AB, R_ACK (ms until
# the kernel acknowledged the request: its own share of the time) and R_CPU (the daemon's
# CPU ms from before the event until every owner read its error: the kills, their log lines
# and the one discovery walk that follows an event) and R_OWN (the owner's CPU ms).
one() {
	local ev=$1 n=$2 tag="$1-$2-$3" t0 t1 c0 o0
	kb_victims "$tag" "$n"
	sleep 1.5 # past discovery_interval, so the daemon knows them
	c0=$(kb_cpu_ns "$PID_kwd")
	o0=$(kb_cpu_ns "$KB_V_SRV")
	if [ "$ev" = addr ]; then
		ip netns exec "$NS_SRV" "$KB_FARM" event "$KW_TMP/$tag.ev" addr-del kwsrv0 10.77.0.1/24
	else
		ip netns exec "$NS_SRV" "$KB_FARM" event "$KW_TMP/$tag.ev" link-down kwsrv0
	fi || kw_die "$ev event failed"
	kb_victims_done 20 || echo "warning: $tag: not every connection saw an error" >&2
	kill -USR1 "$KB_V_SRV" 2>/dev/null
	sleep 0.1
	R_CPU=$(kb_calc "($(kb_cpu_ns "$PID_kwd") - $c0) / 1e6")
	R_OWN=$(kb_calc "($(kb_cpu_ns "$KB_V_SRV") - $o0) / 1e6")
	read -r t0 t1 <"$KW_TMP/$tag.ev"
	R_ACK=$(kb_calc "($t1 - $t0) / 1e6")
	R_AB=$(kb_err_field "$KB_V_ERR" econnaborted)
	R_FIRST=1e12 R_MED=1e12 R_LAST=1e12 # none seen: shown as "none"
	if [ "${R_AB:-0}" -gt 0 ]; then
		R_FIRST=$(kb_calc "($(kb_err_field "$KB_V_ERR" first_ns) - $t0) / 1e6")
		R_MED=$(kb_calc "($(kb_err_field "$KB_V_ERR" median_ns) - $t0) / 1e6")
		R_LAST=$(kb_calc "($(kb_err_field "$KB_V_ERR" last_ns) - $t0) / 1e6")
	fi
	kb_stop "$KB_V_SRV" "$KB_V_CLI"
	if [ "$ev" = addr ]; then
		ip -n "$NS_SRV" addr add 10.77.0.1/24 dev kwsrv0 || kw_die "address re-add"
	else
		ip -n "$NS_SRV" link set kwsrv0 up || kw_die "link up"
		kw_wait 5 link_back || kw_die "link did not return"
	fi
	sleep 0.3
}

declare -A FIRST MED LAST ABORT ACK CPU OWN
for run in $(seq 1 "$RUNS"); do
	for ev in $EVENTS; do
		for n in $SIZES; do
			one "$ev" "$n" "$run"
			FIRST[$ev,$n]+=" $R_FIRST"
			MED[$ev,$n]+=" $R_MED"
			LAST[$ev,$n]+=" $R_LAST"
			ABORT[$ev,$n]+=" ${R_AB:-0}"
			ACK[$ev,$n]+=" $R_ACK"
			CPU[$ev,$n]+=" $R_CPU"
			OWN[$ev,$n]+=" $R_OWN"
		done
	done
done
kills=$(grep -c 'action=kill' "$KW_TMP/kwd.log")
sockets=$(ip netns exec "$NS_BULK" ss -Htan | wc -l)
kb_stop "$PID_kwd"

echo "event -> owner reads ECONNABORTED, ms; medians of $RUNS runs; $sockets unrelated" \
	"sockets in another namespace; machine: $(kb_machine)"
kb_row "event" "affected" "kernel ack" "first" "median" "last (all)" "kwd CPU ms" "owner CPU ms" \
	"ECONNABORTED seen" \
	"runs: last ms"
summary=""
# shellcheck disable=SC2086 # each cell holds a space-separated list of run values
for ev in $EVENTS; do
	for n in $SIZES; do
		last=$(kb_median ${LAST[$ev,$n]})
		kb_row "$([ "$ev" = addr ] && echo "ip addr del" || echo "ip link set down")" "$n" \
			"$(kb_ms "$(kb_median ${ACK[$ev,$n]})")" \
			"$(kb_ms "$(kb_median ${FIRST[$ev,$n]})")" \
			"$(kb_ms "$(kb_median ${MED[$ev,$n]})")" "$(kb_ms "$last")" \
			"$(kb_fmt %.1f "$(kb_median ${CPU[$ev,$n]})")" \
			"$(kb_fmt %.1f "$(kb_median ${OWN[$ev,$n]})")" \
			"$(echo ${ABORT[$ev,$n]} | tr ' ' /)" \
			"$(for r in ${LAST[$ev,$n]}; do kb_ms "$r"; done | paste -sd' ')"
		summary+=" $ev@$n=$(kb_ms "$last")ms"
	done
done
kb_table
echo "keepwatchd logged $kills kills in all"
echo "SUMMARY reaction (median, last connection):$summary (targets: <2ms for 1, <100ms for 10k)"
