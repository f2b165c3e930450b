#!/bin/bash
# Detection of a powered-off peer: the server's socket has keepalive 1,1,20 (idle 1 s,
# interval 1 s, 20 probes); the client's namespace starts dropping every packet. Time from
# the last packet the server received to the owner reading the error: keepwatchd
# (keepalive_probes = 2) versus the kernel alone (its 20 probes, ~21 s).
#
# Usage (root): KW_BUILD=build tests/bench/detect.sh   env: RUNS (default 5), POLL_MS (200)
# The last packet's time T comes from `ss -ti` (lastack) right after the power-off. The
# nominal target moment is T + idle + 2 x interval = T + 3000 ms: the second probe has gone
# unanswered for a whole interval. The kernel's keepalive timers fire late by their own slack
# (timer wheel granularity: see the kernel-alone row against its nominal T + 21000 ms), so
# the real moment is when the kernel sent probe 2, plus the 1 s interval; probes are
# stamped on the wire by a packet socket on the peer's veth (connfarm sniff; it sees
# packets before the peer's nft drops them). The target is judged against that moment
# (a kill before it would be EARLY); the nominal one is shown too.
# shellcheck disable=SC2154 # PID_<name> (and med_<m>) are set through printf -v and eval
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-5}
POLL_MS=${POLL_MS:-200} # the shipped default
kb_init detect needs-daemon
command -v nft >/dev/null || kw_skip "nft not installed"
command -v ss >/dev/null || kw_skip "ss not installed"

# last_packet_ns TAG: T, monotonic ns of the last ACK the server side received.
last_packet_ns() {
	local a b lastack
	a=$(ip netns exec "$NS_SRV" "$KB_FARM" now)
	lastack=$(ip netns exec "$NS_SRV" ss -Htin state established '( sport = :2000 )' |
		sed -n 's/.*lastack:\([0-9]*\).*/\1/p' | head -1)
	b=$(ip netns exec "$NS_SRV" "$KB_FARM" now)
	[ -n "$lastack" ] || kw_die "$1: no lastack from ss"
	echo $(((a + b) / 2 - lastack * 1000000))
}

# The kernel-alone pair runs its ~21 s beside the keepwatchd runs.
kb_pair k
KSRV=$NS_SRV KCLI=$NS_CLI
kb_victims kernel 1 -k 1,1,20
K_SRV=$KB_V_SRV K_OUT=$KB_V_OUT K_ERR=$KB_V_ERR
sleep 2.5
kb_poweroff "$KCLI" || kw_die "nft power-off"
K_T=$(last_packet_ns kernel)
[ -n "$K_T" ] || kw_die "kernel: no time of the last packet"

kb_pair
kb_config "$KW_TMP/detect.ini" "poll_interval = ${POLL_MS}ms" -- "local_ports = 2000" \
	"keepalive_probes = 2"
kb_daemon PID_kwd "$NS_SRV" "$KW_TMP/detect.ini" kwd
declare -a KILL_MS DELTA LOG_MS PROBE3 LAG RST
for run in $(seq 1 "$RUNS"); do
	kb_victims "kwd-$run" 1 -k 1,1,20
	kw_bg "$NS_CLI" "$KW_TMP/sniff-$run.out" "$KB_FARM" sniff "$KW_TMP/sniff-$run.txt" kwcli0 2000
	PID_sniff=$KW_LAST_PID
	kw_grep_wait 5 "$KW_TMP/sniff-$run.out" '^sniffing' || kw_die "sniffer did not start"
	sleep 2.5 # discovered, and a few probes answered
	kb_poweroff "$NS_CLI" || kw_die "nft power-off"
	t=$(last_packet_ns "kwd-$run")
	[ -n "$t" ] || kw_die "run $run: no time of the last packet"
	kb_victims_done 10 || echo "warning: run $run: no error within 10 s" >&2
	sleep 0.1
	kb_stop "$PID_sniff"
	first=$(kb_err_field "$KB_V_ERR" first_ns)
	why=$(kb_err_field "$KB_V_ERR" econnaborted)
	# after T: bare ACKs are keepalive probes, the RST is the kill leaving the server
	p3=$(awk -v t="$t" '$1 > t + 100000000 && $2 == "0x10" && $3 == 0 { if (++n == 3) { print $1; exit } }' \
		"$KW_TMP/sniff-$run.txt")
	# the target moment: the second probe's interval (1 s) has passed unanswered
	p2=$(awk -v t="$t" '$1 > t + 100000000 && $2 == "0x10" && $3 == 0 { if (++n == 2) { print $1; exit } }' \
		"$KW_TMP/sniff-$run.txt")
	rst=$(awk -v t="$t" '$1 > t && ($2 == "0x04" || $2 == "0x14") { print $1; exit }' \
		"$KW_TMP/sniff-$run.txt")
	if [ "${why:-0}" = 1 ]; then
		KILL_MS+=("$(kb_calc "($first - $t) / 1e6")")
		DELTA+=("$(kb_calc "($first - $t) / 1e6 - 3000")")
		PROBE3+=("$([ -n "$p3" ] && kb_calc "($p3 - $t) / 1e6" || echo 1e12)")
		if [ -n "$p2" ]; then
			LAG+=("$(kb_calc "($first - $p2) / 1e6 - 1000")")
		else
			LAG+=(1e12)
		fi
		RST+=("$([ -n "$rst" ] && kb_calc "($rst - $t) / 1e6" || echo 1e12)")
	else
		KILL_MS+=(1e12) DELTA+=(1e12) PROBE3+=(1e12) LAG+=(1e12) RST+=(1e12)
	fi
	LOG_MS+=("$(grep 'action=kill' "$KW_TMP/kwd.log" | sed -n "$run"p |
		sed -n 's/.*last_recv_ms=\([0-9]*\).*/\1/p')")
	kb_stop "$KB_V_SRV" "$KB_V_CLI"
	kb_poweron "$NS_CLI"
done
kb_stop "$PID_kwd"

NS_SRV=$KSRV
kw_grep_wait 30 "$K_OUT" '^done' || echo "warning: the kernel alone did not give up in 30 s" >&2
kill -USR1 "$K_SRV" 2>/dev/null
sleep 0.1
k_first=$(kb_err_field "$K_ERR" first_ns)
k_ms=1e12
[ "${k_first:-0}" -gt 0 ] && k_ms=$(kb_calc "($k_first - $K_T) / 1e6")
k_err=$(kb_err_field "$K_ERR" etimedout)
kb_stop "$K_SRV"

med=$(kb_median "${KILL_MS[@]}")
dmed=$(kb_median "${DELTA[@]}")
lag=$(kb_median "${LAG[@]}")
list() { for v in "$@"; do kb_ms "$v"; done | paste -sd' '; }
echo "peer power-off, server keepalive 1,1,20: ms after the last packet the server received" \
	"(T); poll_interval ${POLL_MS}ms; medians of $RUNS runs; machine: $(kb_machine)"
kb_row "who" "error read" "at T+" "nominal" "vs nominal" "probe 3 at T+" "after p2+intvl" "RST at T+"
kb_row "keepwatchd keepalive_probes=2" ECONNABORTED "$(kb_ms "$med")" 3000 "$(kb_ms "$dmed")" \
	"$(kb_ms "$(kb_median "${PROBE3[@]}")")" "$(kb_ms "$lag")" "$(kb_ms "$(kb_median "${RST[@]}")")"
kb_row "kernel alone (20 probes)" "ETIMEDOUT x${k_err:-0}" "$(kb_ms "$k_ms")" 21000 \
	"$(kb_ms "$(kb_calc "$k_ms - 21000")")" "-" "-" "-"
kb_table
echo "runs, error read at T+ (ms): $(list "${KILL_MS[@]}"); after probe 2 + interval (ms): $(list "${LAG[@]}");" \
	"daemon's last_recv_ms at the kill: ${LOG_MS[*]}"
verdict=$(awk -v d="$lag" 'BEGIN { print (d < 0) ? "EARLY" : (d < 100) ? "met" : "MISSED" }')
echo "SUMMARY detect: kwd=$(kb_ms "$med")ms after the last packet, $(kb_ms "$lag")ms after the" \
	"second probe's interval passed ($verdict, target <100ms; $(kb_ms "$dmed")ms vs nominal T+3000)" \
	"kernel-alone=$(kb_ms "$k_ms")ms speedup=$(kb_fmt %.1f "$k_ms / $med")x"
