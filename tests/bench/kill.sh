#!/bin/bash
# Mass kill rate: 1k and 10k connections killed by keepwatchd on an address removal versus
# `ss -K -t src ADDR` on an identical fresh set, alternated, medians of RUNS.
#
# Usage (root): KW_BUILD=build tests/bench/kill.sh          env: RUNS (default 3), SIZES
# Rate = connections / (end - start). keepwatchd: start = just before the RTM_DELADDR request
# leaves (connfarm event), end = the owner's last ECONNABORTED read. ss -K: start = just before
# ss is forked, end = the later of ss's exit and the owner's last read. The owner is one
# process reading every socket through epoll; it is the same for both. "kwd CPU ms" is the
# daemon's own CPU from the event to the last read (idle in the ss -K rows), "owner CPU ms"
# the owner's: on two cores, what neither explains is waiting for a core.
# shellcheck disable=SC2154 # PID_<name> (and med_<m>) are set through printf -v and eval
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-3}
SIZES=${SIZES:-"1000 10000"}
kb_init kill needs-daemon
command -v ss >/dev/null || kw_skip "ss not installed"
kb_pair
kb_config "$KW_TMP/kill.ini" -- "local_ports = 2000" "on_link_loss = kill"
kb_daemon PID_kwd "$NS_SRV" "$KW_TMP/kill.ini" kwd

# one METHOD N RUN: sets R_RATE (conn/s), R_MS, R_AB (ECONNABORTED reads) and R_CPU (the
# daemon's CPU ms meanwhile). Not run in a subshell: the processes it starts must stay on
# the cleanup list.
one() {
	local method=$1 n=$2 run=$3 tag="$1-$2-$3" t0 end last aborted c0 o0
	kb_victims "$tag" "$n"
	sleep 1.5 # past discovery_interval: the daemon knows them (the known-table path)
	c0=$(kb_cpu_ns "$PID_kwd")
	o0=$(kb_cpu_ns "$KB_V_SRV")
	if [ "$method" = kwd ]; then
		ip netns exec "$NS_SRV" "$KB_FARM" event "$KW_TMP/$tag.ev" addr-del kwsrv0 10.77.0.1/24 ||
			kw_die "address removal failed"
	else
		ip netns exec "$NS_SRV" "$KB_FARM" run "$KW_TMP/$tag.ev" ss -K -t src 10.77.0.1 >/dev/null
	fi
	kb_victims_done 30 || echo "warning: $tag: not every connection saw an error" >&2
	kill -USR1 "$KB_V_SRV" 2>/dev/null # stamps so far, for the timeout case
	sleep 0.1
	R_CPU=$(kb_calc "($(kb_cpu_ns "$PID_kwd") - $c0) / 1e6")
	R_OWN=$(kb_calc "($(kb_cpu_ns "$KB_V_SRV") - $o0) / 1e6")
	read -r t0 end _ <"$KW_TMP/$tag.ev"
	[ "$method" = kwd ] && end=0
	last=$(kb_err_field "$KB_V_ERR" last_ns)
	aborted=$(kb_err_field "$KB_V_ERR" econnaborted)
	[ "${last:-0}" -gt "$end" ] && end=$last
	kb_stop "$KB_V_SRV" "$KB_V_CLI"
	if [ "$method" = kwd ]; then
		ip -n "$NS_SRV" addr add 10.77.0.1/24 dev kwsrv0 || kw_die "address re-add"
		sleep 0.3
	fi
	R_AB=${aborted:-0}
	if [ "$method" = kwd ] && [ "$R_AB" = 0 ]; then
		R_RATE=0 R_MS=1e12 # nothing killed: shown as "none"
		return
	fi
	# the connections that really read ECONNABORTED (all of them, when things work)
	[ "$method" = kwd ] && n=$R_AB
	R_RATE=$(kb_calc "$n * 1e9 / ($end - $t0)")
	R_MS=$(kb_calc "($end - $t0) / 1e6")
}

declare -A RATES MS ABORT CPU OWN
for run in $(seq 1 "$RUNS"); do
	for n in $SIZES; do
		for m in kwd ss; do
			one "$m" "$n" "$run"
			RATES[$m,$n]+=" $R_RATE"
			MS[$m,$n]+=" $R_MS"
			ABORT[$m,$n]+=" $R_AB"
			CPU[$m,$n]+=" $R_CPU"
			OWN[$m,$n]+=" $R_OWN"
		done
	done
done
kills=$(grep -c 'action=kill reason=addr-removed' "$KW_TMP/kwd.log")
kb_stop "$PID_kwd"

echo "kill by address removal: keepwatchd vs ss -K -t src ADDR, $RUNS runs each, medians;" \
	"machine: $(kb_machine)"
kb_row "connections" "method" "conn/s" "ms" "kwd CPU ms" "owner CPU ms" "ECONNABORTED seen" \
	"runs conn/s"
summary=""
# shellcheck disable=SC2086 # each cell holds a space-separated list of run values
for n in $SIZES; do
	for m in kwd ss; do
		med=$(kb_median ${RATES[$m,$n]})
		label=$([ "$m" = kwd ] && echo "keepwatchd addr-removed" || echo "ss -K -t src ADDR")
		kb_row "$n" "$label" "$(kb_fmt %.0f "$med")" "$(kb_ms "$(kb_median ${MS[$m,$n]})")" \
			"$(kb_fmt %.1f "$(kb_median ${CPU[$m,$n]})")" \
			"$(kb_fmt %.1f "$(kb_median ${OWN[$m,$n]})")" \
			"$(echo ${ABORT[$m,$n]} | tr ' ' /)" \
			"$(for r in ${RATES[$m,$n]}; do kb_fmt %.0f "$r"; done | paste -sd' ')"
		eval "med_$m=$med"
	done
	summary+=" kwd/ss@$n=$(kb_fmt %.2f "$med_kwd / ($med_ss > 0 ? $med_ss : 1)")x"
	summary+=" kwd@$n=$(kb_fmt %.0f "$med_kwd")/s ss@$n=$(kb_fmt %.0f "$med_ss")/s"
done
kb_table
echo "keepwatchd logged $kills addr-removed kills in all"
echo "SUMMARY kill:$summary (target: kwd/ss >= 1.5x)"
