#!/usr/bin/env bash
# keepwatchd's tcp_info verdicts against real dead and live peers, IPv4 and IPv6: a peer
# that loses power (all its packets dropped) is found by the keepalive, idle or unacked
# verdict; a healthy quiet peer and a slow sender are left alone.
source "$(dirname "$0")/../lib/netns.sh"
source "$KW_SRC/tests/lib/wd.sh"
kw_require_root
kw_init kwt-wdverd
kw_syslog_start

# dead FAMILY NAME REASON BOUND_S SERVER-ARGS -- CONFIG-KEYS...
dead() {
	local fam=$1 name=$2 reason=$3 bound=$4 t0 ms pat sargs=() keys=()
	shift 4
	while [ $# -gt 0 ] && [ "$1" != -- ]; do sargs+=("$1"); shift; done
	shift
	keys=("$@")
	wd_pair "$fam"
	wd_server_setup "${sargs[@]}"
	wd_config "$WD_DIR/kw.ini" "${keys[@]}"
	wd_daemon "$WD_DIR/kw.ini"
	t0=$(kw_mono_ms)
	wd_poweroff "$NS_CLI"
	pat=$(wd_kill_pattern kill "$reason")
	if kw_grep_wait "$bound" "$KW_SYSLOG" "$pat"; then
		ms=$(wd_ms_since "$t0" "$pat")
		kw_ok "IPv$fam $name: reason=$reason ${ms} ms after power-off ($(grep -E -m1 -- "$pat" "$KW_SYSLOG" | grep -oE 'probes=[0-9]+ last_recv_ms=[0-9]+ unacked=[0-9]+'))"
	else
		kw_fail "IPv$fam $name: no '$pat' within ${bound}s"
		tail -5 "$KW_SYSLOG"
	fi
	kw_check "IPv$fam $name: the server read ECONNABORTED" \
		kw_grep_wait 5 "$WD_DIR/server.log" "close .*errno=103"
	kw_check "IPv$fam $name: control connection untouched" wd_control_alive
	kw_check "IPv$fam $name: exactly one kill" test "$(wd_kills)" -eq 1
	wd_teardown
}

for fam in 4 6; do
	# keepalive 1,1,10: the kernel alone would give up after 11 s
	dead $fam "peer power-off, keepalive stalled" keepalive 8 --keepalive 1,1,10 -- \
		"keepalive_probes = 2"
	dead $fam "peer power-off, server without keepalive" idle 8 -- \
		"keepalive_probes = 0" "idle_timeout = 2s"
	dead $fam "peer power-off while the server sends" unacked 8 --send-every 100 -- \
		"keepalive_probes = 0" "unacked_timeout = 2s"
done

# Healthy peers for 10 s under every threshold at once: a quiet peer answering the
# server's keepalive probes, and a client sending a few bytes every 2 s.
for fam in 4 6; do
	wd_pair "$fam"
	wd_server_setup --keepalive 1,1,5 --count 2
	kw_bg "$NS_CLI" "$WD_DIR/slow.log" "${WD_PY[@]}" client "$SRV" 2000 --send-every 2000 --chunk 10
	kw_wait 5 wd_established 2000 2 || kw_die "slow sender did not connect"
	wd_config "$WD_DIR/kw.ini" "keepalive_probes = 2" "idle_timeout = 3s" "unacked_timeout = 3s"
	wd_daemon "$WD_DIR/kw.ini"
	sleep 10
	kw_check "IPv$fam healthy idle peer and slow sender alive after 10 s" wd_established 2000 2
	kw_check "IPv$fam no kill and no would-kill line" \
		bash -c "! grep -Eq 'keepwatchd\\[$WD_DAEMON\\]: action=(kill|would-kill) ' '$KW_SYSLOG'"
	kw_check "IPv$fam the server saw no close" bash -c "! grep -q close '$WD_DIR/server.log'"
	wd_teardown
done
kw_done
