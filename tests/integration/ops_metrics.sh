#!/usr/bin/env bash
# keepwatch: the metrics file of a running keepwatchd — it appears, parses as Prometheus
# text (promtool when installed, and always a strict checker here), counts the watched
# connection, and its counters move when a link loss kills (or, dry run, would kill).
. "$(dirname "$0")/../lib/netns.sh"

KWD="$KW_BUILD/keepwatchd"
kw_require_root
[ -x "$KWD" ] || kw_skip "$KWD not built"
"$KWD" --version 2>&1 | grep -q "not built yet" && kw_skip "keepwatchd: not built yet"
grep -q keepwatch_kills_total "$KWD" || kw_skip "metrics not wired into keepwatchd yet"
kw_init kwt-ops
PORT=5998

# prom_get FILE NAME LABELS: checks FILE strictly, then prints the value of NAME{LABELS}
# (LABELS as written, e.g. service="web",reason="idle"; "" for none). Exit 1 with the
# reason on stderr if the file is not valid Prometheus text.
prom_get() { python3 "$KW_SRC/tests/lib/peer.py" prom-get "$@"; }

# metric_is FILE NAME LABELS VALUE: the file is valid and NAME{LABELS} == VALUE.
metric_is() { [ "$(prom_get "$1" "$2" "$3" 2>/dev/null)" = "$4" ]; }

listening() { ip netns exec "$KW_NS_SRV" ss -Hltn "sport = :$PORT" | grep -q .; }

# scenario NAME FLAGS...: a connection on $PORT, keepwatchd with a metrics file, the link cut.
scenario() {
	local name=$1 dir="$KW_TMP/$1" m pid kill_metric other_metric
	shift
	mkdir -p "$dir/metrics"
	m="$dir/metrics/keepwatch.prom"
	kw_pair
	kw_bg "$KW_NS_SRV" "$dir/server.log" python3 -u "$KW_SRC/tests/lib/peer.py" server 10.77.0.1 "$PORT"
	kw_wait 5 listening || kw_die "server did not listen"
	kw_bg "$KW_NS_CLI" "$dir/client.log" python3 -u "$KW_SRC/tests/lib/peer.py" client 10.77.0.1 "$PORT"
	kw_grep_wait 5 "$dir/server.log" " accept peer=" || kw_die "no connection"
	cat >"$dir/kw.ini" <<EOF
[global]
sockops = off
poll_interval = 100ms
log = stderr
metrics_file = $m

[service web]
local_ports = $PORT
keepalive_probes = 2
EOF
	kw_bg "$KW_NS_SRV" "$dir/kwd.log" "$KWD" -f -c "$dir/kw.ini" "$@"
	pid=$KW_LAST_PID
	kw_check "$name: metrics file written" kw_wait 5 test -s "$m"
	if command -v promtool >/dev/null; then
		kw_check "$name: promtool check metrics" bash -c "promtool check metrics <'$m'"
	fi
	prom_get "$m" keepwatch_build_info "" >/dev/null
	kw_check "$name: metrics file parses as Prometheus text" test $? = 0
	kw_check "$name: mode 0644" test "$(stat -c %a "$m")" = 644
	kw_check "$name: watched_connections{service=web} reaches 1" \
		kw_wait 5 metric_is "$m" keepwatch_watched_connections 'service="web"' 1
	if [ "$name" = dryrun ]; then
		kill_metric=keepwatch_would_kills_total other_metric=keepwatch_kills_total
	else
		kill_metric=keepwatch_kills_total other_metric=keepwatch_would_kills_total
	fi
	kw_check "$name: $kill_metric{web,link-down} starts at 0" \
		metric_is "$m" $kill_metric 'service="web",reason="link-down"' 0
	ip -n "$KW_NS_CLI" link set kwcli0 down
	kw_check "$name: $kill_metric{web,link-down} moves to 1" \
		kw_wait 5 metric_is "$m" $kill_metric 'service="web",reason="link-down"' 1
	kw_check "$name: link_events_total{link-carrier-lost} counted" \
		kw_wait 3 metric_is "$m" keepwatch_link_events_total 'event="link-carrier-lost"' 1
	kw_check "$name: $other_metric{web,link-down} stays 0" \
		metric_is "$m" $other_metric 'service="web",reason="link-down"' 0
	kw_check "$name: poll histogram counts polls" \
		bash -c "[ \"\$(prom_get '$m' keepwatch_poll_duration_seconds_count '')\" != 0 ]"
	kw_check "$name: no temporary file left" test ! -e "$m.tmp"
	kw_check "$name: SIGTERM exits 0" kw_stop "$pid"
	grep -E "^keepwatch_(kills|would_kills)_total.*link-down" "$m" | sed "s/^/# $name: /"
	ip netns del "$KW_NS_SRV"
	ip netns del "$KW_NS_CLI"
}
export -f prom_get

scenario kill
scenario dryrun -n
kw_done
