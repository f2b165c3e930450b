#!/usr/bin/env bash
# kill_method = nft: the element goes with its connection (issue 10, item 3). Once the
# daemon confirms the reset connection gone, a new connection from the same client port
# (the same 4-tuple) connects at once instead of being reset until nft_timeout.
source "$(dirname "$0")/../lib/netns.sh"
source "$KW_SRC/tests/lib/wd.sh"
kw_require_root
command -v nft >/dev/null || kw_skip "nft not installed"
kw_init kwt-i10reuse
kw_syslog_start
SPORT=41234

for fam in 4 6; do
	wd_pair "$fam"
	kw_bg "$NS_SRV" "$WD_DIR/server.log" "${WD_PY[@]}" server "$SRV" 2000 --keepalive 1,1,10 --count 2
	kw_wait 5 grep -q listening "$WD_DIR/server.log" || kw_die "server"
	kw_bg "$NS_CLI" "$WD_DIR/client.log" "${WD_PY[@]}" client "$SRV" 2000 --sport $SPORT
	CLIENT=$KW_LAST_PID
	kw_wait 5 wd_established 2000 1 || kw_die "connect"
	wd_config "$WD_DIR/kw.ini" "keepalive_probes = 2"
	wd_global "$WD_DIR/kw.ini" "kill_method = nft" "nft_timeout = 60s"
	wd_daemon "$WD_DIR/kw.ini"
	# the client's host goes silent for this connection
	kw_poweroff "$NS_CLI" kwt_dead "tcp sport 2000" "tcp dport 2000"
	kw_check "IPv$fam: killed through nft" \
		kw_grep_wait 10 "$KW_SYSLOG" "$(wd_kill_pattern kill keepalive).* method=nft"
	kw_check "IPv$fam: confirmed gone" \
		kw_grep_wait 10 "$KW_SYSLOG" "$(wd_kill_pattern confirmed keepalive)"
	kw_check "IPv$fam: the element is gone from the set" \
		bash -c "! ip netns exec '$NS_SRV' nft list table inet keepwatch | grep -q '$SPORT'"
	# the client's old socket is dropped without a trace (its RST would be swallowed),
	# then its host answers again and it reconnects from the same port
	kw_stop "$CLIENT"
	ip netns exec "$NS_CLI" ss -K "sport = :$SPORT" >/dev/null 2>&1
	kw_poweron "$NS_CLI" kwt_dead
	kw_bg "$NS_CLI" "$WD_DIR/client2.log" "${WD_PY[@]}" client "$SRV" 2000 --sport $SPORT
	kw_check "IPv$fam: a new connection from the same port connects at once" \
		kw_grep_wait 3 "$WD_DIR/client2.log" "connected local=$SPORT"
	kw_check "IPv$fam: and stays up" kw_wait 3 wd_established 2000 1
	grep -E "Error|refused" "$WD_DIR/client2.log" | head -2
	wd_teardown
done
kw_done
