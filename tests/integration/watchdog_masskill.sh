#!/usr/bin/env bash
# A mass kill is logged in bounded form (issue 10, item 7): a link loss under 300 watched
# connections writes the first per-connection lines and one event=kill-summary line with
# exact counts; every owner reads ECONNABORTED and every kill is in the metrics. An
# ordinary kill (one connection) keeps its own line and has no summary.
source "$(dirname "$0")/../lib/netns.sh"
kw_require_root
kw_init kwt-i10mass
kw_syslog_start
N=300
LINES=16 # KILLLOG_LINES_DEFAULT
FARM="$KW_BUILD/tools/connfarm"
[ -x "$FARM" ] || kw_skip "connfarm not built"

metric() { # FILE LABELS: the keepwatch_kills_total value with exactly these labels
	awk -v l="keepwatch_kills_total{$2}" '$1 == l { print $2 }' "$1"
}

# run NAME N: N connections on port 2000, keepwatchd, the server's link set down.
run() {
	local name=$1 n=$2 dir="$KW_TMP/$1"
	mkdir -p "$dir"
	kw_pair
	kw_bg "$KW_NS_SRV" "$dir/srv.out" "$FARM" listen -n "$n" -e "$dir/srv.err" 10.77.0.1 2000
	local farm=$KW_LAST_PID
	kw_grep_wait 10 "$dir/srv.out" '^listening' || kw_die "$name: farm did not listen"
	kw_bg "$KW_NS_CLI" "$dir/cli.out" "$FARM" connect 10.77.0.1 "2000:$n"
	kw_grep_wait 30 "$dir/srv.out" '^ready' || kw_die "$name: connections not ready"
	cat >"$dir/kw.ini" <<INI
[global]
sockops = off
poll_interval = 100ms
log = syslog
metrics_file = $dir/kw.prom

[service web]
local_ports = 2000
INI
	kw_bg_syslog "$KW_NS_SRV" "$dir/kwd.err" "$KW_BUILD/keepwatchd" -f -c "$dir/kw.ini"
	pid=$KW_LAST_PID
	kw_grep_wait 10 "$KW_SYSLOG" "keepwatchd\[$pid\]: event=start" || kw_die "$name: no start"
	kw_wait 10 grep -q 'keepwatch_watched_connections{service="web"} '"$n"'$' "$dir/kw.prom" ||
		kw_die "$name: the daemon did not find the $n connections"
	ip -n "$KW_NS_SRV" link set kwsrv0 down
	kw_check "$name: every owner read its error" kw_grep_wait 10 "$dir/srv.out" '^done'
	kill -USR1 "$farm" # the farm writes its error stamps
	kw_check "$name: all $n errors were ECONNABORTED" \
		kw_wait 5 grep -q "econnaborted=$n " "$dir/srv.err"
	kw_check "$name: kills_total{web,link-down} = $n" \
		kw_wait 5 bash -c "[ \"\$(awk -v l='keepwatch_kills_total{service=\"web\",reason=\"link-down\"}' '\$1 == l { print \$2 }' '$dir/kw.prom')\" = $n ]"
	sleep 0.3
	KILL_LINES=$(grep -c "keepwatchd\[$pid\]: action=kill reason=link-down service=web " "$KW_SYSLOG")
	SUMMARY=$(grep -o "keepwatchd\[$pid\]: event=kill-summary .*" "$KW_SYSLOG")
	echo "# $name: $KILL_LINES kill lines; summary: ${SUMMARY:-none}"
	kw_stop "$pid"
	kw_stop_all_but "$KW_SYSLOG_PID"
	ip netns del "$KW_NS_SRV"
	ip netns del "$KW_NS_CLI"
}

run mass "$N"
kw_check "mass: $LINES per-connection lines" test "$KILL_LINES" = "$LINES"
kw_check "mass: one kill-summary line with exact counts" \
	test "$SUMMARY" = "keepwatchd[$pid]: event=kill-summary service=web reason=link-down killed=$N logged=$LINES"
run one 1
kw_check "one: its own kill line" test "$KILL_LINES" = 1
kw_check "one: no summary" test -z "$SUMMARY"
kw_done
