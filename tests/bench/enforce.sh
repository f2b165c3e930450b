#!/bin/bash
# enforce_keepalive at a connection rate: new connections at RATE/s (each held 5 s) to a
# service with enforce_keepalive, among OTHER other sockets (idle loopback farms, spread over
# processes of at most 16,000 connections) that no service watches. Measured: every
# connection enforced, the delay from the server's accept() to SO_KEEPALIVE seen on
# (median, p99, max; tests/tools/enfprobe), keepwatchd's CPU (% of one core), and, side by
# side, what finding owners the usual way costs: one `ss -tnp` (which reads every process's
# fds) of the same namespace.
#
# Usage (root): KW_BUILD=build tests/bench/enforce.sh [--quick]
# env: SECS (window, default 30; --quick 10), RATE (default 1000), OTHER (sockets, default
#      100000), HOLD (connections the client keeps open, default 5 x RATE), KW_DEBUG=1
#      (keepwatchd -v; its log stays in the kept temporary directory with KW_KEEP_TMP=1)
. "$(dirname "$0")/lib.sh"
SECS=${SECS:-30}
[ "${1:-}" = --quick ] && SECS=${QUICK_SECS:-10}
RATE=${RATE:-1000}
OTHER=${OTHER:-100000}
HOLD=${HOLD:-$((RATE * 5))}
kb_init i12-enforce needs-daemon
[ -x "$KW_BUILD/tools/enfprobe" ] || kw_die "no $KW_BUILD/tools/enfprobe"
kb_pair
# the client closes first: its TIME_WAITs would use up its ports within a minute
ip netns exec "$NS_CLI" sysctl -qw net.ipv4.tcp_tw_reuse=1 || kw_die "tcp_tw_reuse"

echo "setting up $OTHER other sockets..." >&2
kb_bulk "$NS_SRV" $((OTHER / 2)) 3000
other=$(ip netns exec "$NS_SRV" ss -Htan | wc -l)

# phase NAME ENFORCE-KEY...: enfprobe, keepwatchd with the given service keys, the churning
# client; CPU over the window; then the client paused (its connections held) for 2 s so
# that the last ones are looked at, and everything stopped. Sets PCT_<NAME>, RES_<NAME>,
# MET_<NAME> (enforced counter / failures), HWM_<NAME>.
phase() {
	local name=$1 c0 c1 w0 w1 pid_probe pid_kwd pid_cli
	shift
	kw_bg "$NS_SRV" "$KW_TMP/probe-$name.out" "$KW_BUILD/tools/enfprobe" 10.77.0.1 2000
	pid_probe=$KW_LAST_PID
	kw_grep_wait 5 "$KW_TMP/probe-$name.out" '^listening' || kw_die "enfprobe did not start"
	kb_config "$KW_TMP/$name.ini" "metrics_file = $KW_TMP/$name.prom" -- \
		"local_ports = 2000" "keepalive_probes = 2" "$@"
	if [ -n "${KW_DEBUG:-}" ]; then
		kw_bg "$NS_SRV" "$KW_TMP/kwd-$name.log" "$KB_DAEMON" -c "$KW_TMP/$name.ini" -f -v
		pid_kwd=$KW_LAST_PID
		kw_grep_wait 20 "$KW_TMP/kwd-$name.log" 'event=start' || kw_die "keepwatchd"
	else
		kb_daemon pid_kwd "$NS_SRV" "$KW_TMP/$name.ini" "kwd-$name"
	fi
	kb_farm pid_cli "$NS_CLI" "cli-$name" 10 connect -r "$RATE" -m "$HOLD" 10.77.0.1 2000:0
	sleep 3 # warm-up: the first connection teaches keepwatchd who holds the listener
	c0=$(kb_cpu_ns "$pid_kwd")
	w0=$(date +%s%N)
	sleep "$SECS"
	c1=$(kb_cpu_ns "$pid_kwd")
	w1=$(date +%s%N)
	kill -STOP "$pid_cli"
	sleep 2
	kb_stop "$pid_probe" # before the client resumes: it would catch up on missed ticks
	kill -CONT "$pid_cli"
	kb_stop "$pid_cli"
	sleep 1 # the metrics file is written at most once a second
	printf -v "PCT_$name" '%s' "$(kb_fmt %.2f "($c1 - $c0) / ($w1 - $w0) * 100")"
	printf -v "RES_$name" '%s' "$(grep '^accepted=' "$KW_TMP/probe-$name.out")"
	printf -v "MET_$name" '%s / %s' \
		"$(awk '/^keepwatch_keepalive_enforced_total\{service="bench"/ { s += $2 } END { print s + 0 }' "$KW_TMP/$name.prom")" \
		"$(awk '/^keepwatch_keepalive_enforce_failures_total\{service="bench"/ { s += $2 } END { print s + 0 }' "$KW_TMP/$name.prom")"
	printf -v "HWM_$name" '%s' "$(kb_hwm_kb "$pid_kwd")"
	kb_stop "$pid_kwd"
}

# what phase sets (through printf -v), per phase name
RES_base='' RES_enf='' PCT_base='' PCT_enf='' MET_enf='' HWM_base='' HWM_enf=''
phase base "enforce_keepalive = off"
phase enf "enforce_keepalive = 30s, 10s"
res=$RES_enf
field() { tr ' ' '\n' <<<"$res" | awk -F= -v k="$1" '$1 == k { print $2 }'; }

# the usual way to learn a socket's owner: ss -p reads every process's fd table
ss_ms=()
for i in 1 2 3; do
	t=$(date +%s%N)
	ip netns exec "$NS_SRV" ss -Htnp '( sport = :2000 )' >/dev/null
	ss_ms+=("$((($(date +%s%N) - t) / 1000000))")
done
ss_med=$(kb_median "${ss_ms[@]}")

echo "enforce_keepalive: $RATE new connections/s asked (each held $((HOLD / RATE)) s) among $other other sockets, ${SECS}s window; machine: $(kb_machine)"
pct=$PCT_enf
acc=$(field accepted) enf=$(field enforced) miss=$(field closed_before) pend=$(field pending)
base_on=$(res=$RES_base field enforced)
kb_row "measure" "value" "target"
kb_row "connections accepted (rate achieved /s)" "$acc ($(kb_fmt %.0f "$acc / ($SECS + 3)"))" "-"
kb_row "enforced (seen on by the owner)" "$enf" "all"
kb_row "closed before enforced / still pending" "$miss / $pend" "0 / 0"
kb_row "keepwatchd's enforced counter / failures" "$MET_enf" "-"
kb_row "accept -> enforced, median (ms)" "$(field median_ms)" "-"
kb_row "accept -> enforced, p99 (ms)" "$(field p99_ms)" "-"
kb_row "accept -> enforced, max (ms)" "$(field max_ms)" "-"
kb_row "keepwatchd CPU % of one core" "$pct" "< 5"
kb_row "same load, enforce_keepalive = off: CPU %" "$PCT_base" "-"
kb_row "  (its sockets seen with keepalive on)" "$base_on" "0"
kb_row "keepwatchd peak RSS (KiB), enforcing / off" "$HWM_enf / $HWM_base" "-"
kb_row "one ss -tnp of the namespace (ms, median of 3)" "$ss_med" "-"
kb_table
ss_pct=$(kb_fmt %.1f "$ss_med / 10")
ok_cpu=$(awk -v p="$pct" 'BEGIN { print (p < 5) ? "met" : "MISSED" }')
ok_all=$([ "$enf" = "$acc" ] && [ "$miss" = 0 ] && echo met || echo MISSED)
echo "SUMMARY enforce: enforced=$enf/$acc ($ok_all) median=$(field median_ms)ms p99=$(field p99_ms)ms" \
	"cpu=${pct}% of one core ($ok_cpu, target <5%; ${PCT_base}% with enforce_keepalive off);" \
	"one ss -tnp per second alone would take ${ss_pct}%"
