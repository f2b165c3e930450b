#!/usr/bin/env bash
# keepwatchd with kill_method = nft, IPv4 and IPv6: a peer that stops answering is reset
# through the daemon's owner table; the table lives exactly as long as the daemon (gone
# after SIGTERM and after SIGKILL); the user's own ruleset is untouched; a healthy
# connection between the same hosts keeps working throughout.
source "$(dirname "$0")/../lib/netns.sh"
source "$KW_SRC/tests/lib/wd.sh"
kw_require_root
command -v nft >/dev/null || kw_skip "nft not installed"
kw_init kwt-wdnft
kw_syslog_start

# stateless (-s): the rule counter moves with traffic; the rules themselves must not
user_table() { ip netns exec "$NS_SRV" nft -s list table inet userfw; }
has_kw_table() { ip netns exec "$NS_SRV" nft list tables | grep -q "table inet keepwatch"; }
# bytes the server received on the healthy connection (port 2100)
healthy_rx() {
	ip netns exec "$NS_SRV" ss -Htin state established "sport = :2100" |
		grep -oE 'bytes_received:[0-9]+' | cut -d: -f2
}

for fam in 4 6; do
	wd_pair "$fam"
	ip netns exec "$NS_SRV" nft -f - <<'NFT'
table inet userfw {
	set trusted { type ipv4_addr; elements = { 10.77.0.2 } }
	chain input {
		type filter hook input priority 0; policy accept;
		ct state invalid drop
		tcp dport 2000-2100 counter accept
	}
}
NFT
	user_table >"$WD_DIR/user.before"
	# the doomed connection on 2000; a healthy one on 2100, busy both ways
	kw_bg "$NS_SRV" "$WD_DIR/server.log" "${WD_PY[@]}" server "$SRV" 2000 --keepalive 1,1,10
	kw_bg "$NS_SRV" "$WD_DIR/control-server.log" "${WD_PY[@]}" server "$SRV" 2100 --send-every 100
	kw_wait 5 grep -q listening "$WD_DIR/server.log" || kw_die "server"
	kw_wait 5 grep -q listening "$WD_DIR/control-server.log" || kw_die "control server"
	kw_bg "$NS_CLI" "$WD_DIR/client.log" "${WD_PY[@]}" client "$SRV" 2000
	kw_bg "$NS_CLI" "$WD_DIR/control-client.log" "${WD_PY[@]}" client "$SRV" 2100 --send-every 100
	if ! kw_wait 5 wd_established 2000 1 || ! kw_wait 5 wd_established 2100 1; then
		kw_die "connect"
	fi
	wd_config "$WD_DIR/kw.ini" "keepalive_probes = 2"
	wd_global "$WD_DIR/kw.ini" "kill_method = nft"
	wd_daemon "$WD_DIR/kw.ini"
	kw_check "IPv$fam the keepwatch table exists while the daemon runs" has_kw_table
	kw_check "IPv$fam kill method nft announced" \
		grep -q "keepwatchd\[$WD_DAEMON\]: event=kill-method method=nft" "$KW_SYSLOG"
	rx0=$(healthy_rx)
	# the peer of port 2000 only goes silent: its host drops that connection's packets
	kw_poweroff "$NS_CLI" kwt_dead "tcp sport 2000" "tcp dport 2000"
	pat=$(wd_kill_pattern kill keepalive)
	if kw_grep_wait 10 "$KW_SYSLOG" "$pat.* method=nft"; then
		t_kill=$(grep -E -m1 -- "$pat" "$KW_SYSLOG" | cut -d' ' -f1)
		if kw_grep_wait 3 "$WD_DIR/server.log" "close .*errno=104"; then
			t_rst=$(grep -m1 "close .*errno=104" "$WD_DIR/server.log" | cut -d' ' -f1)
			kw_check "IPv$fam reset $((t_rst - t_kill)) ms after the verdict (<= one keepalive interval + 200 ms)" \
				test $((t_rst - t_kill)) -le 1200
		else
			kw_fail "IPv$fam the server never read ECONNRESET"
		fi
	else
		kw_fail "IPv$fam no nft kill line"
		tail -5 "$KW_SYSLOG"
	fi
	kw_check "IPv$fam the reset is confirmed" \
		kw_grep_wait 5 "$KW_SYSLOG" "keepwatchd\\[$WD_DAEMON\\]: action=confirmed reason=keepalive"
	kw_check "IPv$fam healthy connection still established" wd_established 2100 1
	sleep 0.5
	rx1=$(healthy_rx)
	kw_check "IPv$fam healthy connection kept moving data ($rx0 -> $rx1 bytes)" \
		test "${rx1:-0}" -gt "${rx0:-0}"
	kw_check "IPv$fam healthy connection saw no close" \
		bash -c "! grep -q close '$WD_DIR/control-server.log' '$WD_DIR/control-client.log'"
	kw_stop "$WD_DAEMON"
	kw_check "IPv$fam SIGTERM: exit 0" test $? = 0
	kw_check "IPv$fam SIGTERM: the keepwatch table is gone" bash -c "! ip netns exec $NS_SRV nft list tables | grep -q 'inet keepwatch'"
	wd_daemon "$WD_DIR/kw.ini"
	kw_check "IPv$fam restarted: table back" has_kw_table
	kill -KILL "$WD_DAEMON"
	wait "$WD_DAEMON" 2>/dev/null
	kw_check "IPv$fam SIGKILL: the keepwatch table is gone" kw_wait 2 bash -c "! ip netns exec $NS_SRV nft list tables | grep -q 'inet keepwatch'"
	user_table >"$WD_DIR/user.after"
	kw_check "IPv$fam the user's table is byte-identical" cmp -s "$WD_DIR/user.before" "$WD_DIR/user.after"
	wd_teardown
done
kw_done
