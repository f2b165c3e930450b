# shellcheck shell=bash
# keepwatch test harness for keepwatchd scenarios: a server/client namespace pair per
# scenario, the relay as the guarded service, a control connection on an unwatched port.
# Source after netns.sh.

WD_PY=(python3 -u "$KW_SRC/tests/lib/peer.py")
WD_N=0

# wd_pair FAMILY(4|6): a fresh namespace pair; sets NS_SRV NS_CLI SRV CLI (addresses),
# SRVB (address as in "[v6]" or v4 for host:port strings) and PLEN.
wd_pair() {
	WD_N=$((WD_N + 1))
	kw_ns NS_SRV "s$WD_N"
	kw_ns NS_CLI "c$WD_N"
	kw_veth "$NS_SRV" kwsrv0 77 "$NS_CLI" kwcli0 78
	kw_addr "$NS_SRV" kwsrv0 10.77.0.1/24 fd77::1/64
	kw_addr "$NS_CLI" kwcli0 10.77.0.2/24 fd77::2/64
	# shellcheck disable=SC2034 # CLI and PLEN are for the scripts that source this file
	if [ "$1" = 6 ]; then
		SRV=fd77::1 CLI=fd77::2 SRVB="[fd77::1]" PLEN=64
	else
		SRV=10.77.0.1 CLI=10.77.0.2 SRVB=10.77.0.1 PLEN=24
	fi
	WD_DIR="$KW_TMP/sc$WD_N"
	mkdir -p "$WD_DIR"
}

# wd_config FILE SERVICE-KEYS...: a config with one service "relay" on port 2000 (its
# state_file FILE without .ini, .state), run on keepwatchd's own path (sockops = off:
# discovery dumps, pidfd_getfd enforcement). WD_SOCKOPS other than off must name the test's
# own cgroup (sockops_cgroup = /kwt-...): a test never attaches the hook at the cgroup2 root.
wd_config() {
	local f=$1
	shift
	{
		printf '[global]\npoll_interval = 100ms\nlog = syslog\n'
		# the state file beside the config: the host's /run stays untouched
		printf 'state_file = %s.state\n' "${f%.*}"
		printf '%s\n' "${WD_SOCKOPS:-sockops = off}"
		printf '[service relay]\nlocal_ports = 2000\n'
		for kv in "$@"; do printf '%s\n' "$kv"; done
	} >"$f"
}

# wd_global FILE LINES...: adds the lines (e.g. "kill_method = nft") to the [global]
# section of a wd_config file, in order.
wd_global() {
	local f=$1
	shift
	awk -v add="$(printf '%s\n' "$@")" \
		'{ print } /^\[global\]$/ && !done { print add; done = 1 }' "$f" >"$f.new" &&
		mv "$f.new" "$f"
}

# wd_daemon CONFIG [ARGS...]: keepwatchd in NS_SRV with our syslog; returns once it is
# ready (--ready-fd: its first dumps are done, so every later loss is seen).
wd_daemon() {
	local cfg=$1 ready=0
	shift
	kw_bg_syslog_ready 30 "$NS_SRV" "$WD_DIR/keepwatchd.err" "$KW_BUILD/keepwatchd" \
		-c "$cfg" --ready-fd 3 "$@" && ready=1
	WD_DAEMON=$KW_LAST_PID
	if [ "$ready" != 1 ] ||
		! kw_grep_wait 5 "$KW_SYSLOG" "keepwatchd\[$WD_DAEMON\]: event=start"; then
		cat "$WD_DIR/keepwatchd.err"
		kw_die "keepwatchd did not become ready"
	fi
}

# wd_relay_setup [RELAY ARGS...]: sink on 127.0.0.1:2001, relay on SRV:2000 -> sink,
# client in NS_CLI through the relay, and a control pair on the unwatched port 2100.
wd_relay_setup() {
	kw_bg "$NS_SRV" "$WD_DIR/sink.log" "${WD_PY[@]}" sink 127.0.0.1 2001
	kw_wait 5 grep -q listening "$WD_DIR/sink.log" || kw_die "sink did not start"
	kw_bg "$NS_SRV" "$WD_DIR/relay.log" "$KW_BUILD/keepwatch-relay" --listen "$SRVB:2000" \
		--connect 127.0.0.1:2001 "$@"
	# shellcheck disable=SC2034 # for the scripts that source this file
	WD_RELAY=$KW_LAST_PID
	kw_wait 5 wd_listening 2000 || { cat "$WD_DIR/relay.log"; kw_die "relay did not start"; }
	wd_control
	kw_bg "$NS_CLI" "$WD_DIR/client.log" "${WD_PY[@]}" client "$SRV" 2000
	kw_wait 5 grep -q connected "$WD_DIR/client.log" || kw_die "client did not connect"
	kw_wait 5 wd_established 2000 1 || kw_die "relay connection not established"
}

# wd_server_setup [PEER SERVER ARGS...]: a receive-only python server on SRV:2000 with
# one client, and the control pair.
wd_server_setup() {
	kw_bg "$NS_SRV" "$WD_DIR/server.log" "${WD_PY[@]}" server "$SRV" 2000 "$@"
	kw_wait 5 grep -q listening "$WD_DIR/server.log" || kw_die "server did not start"
	wd_control
	kw_bg "$NS_CLI" "$WD_DIR/client.log" "${WD_PY[@]}" client "$SRV" 2000
	kw_wait 5 grep -q accept "$WD_DIR/server.log" || kw_die "client did not connect"
}

# The control connection: same hosts, port 2100, which no service watches.
wd_control() {
	kw_bg "$NS_SRV" "$WD_DIR/control-server.log" "${WD_PY[@]}" server "$SRV" 2100
	kw_wait 5 grep -q listening "$WD_DIR/control-server.log" || kw_die "control server"
	kw_bg "$NS_CLI" "$WD_DIR/control-client.log" "${WD_PY[@]}" client "$SRV" 2100
	kw_wait 5 grep -q accept "$WD_DIR/control-server.log" || kw_die "control client"
}

wd_listening() { ip netns exec "$NS_SRV" ss -Hltn "sport = :$1" | grep -q .; }
# wd_established PORT N: exactly N established connections with local port PORT in NS_SRV.
wd_established() {
	[ "$(ip netns exec "$NS_SRV" ss -Htn state established "sport = :$1" | wc -l)" = "$2" ]
}

# wd_poweroff NS: the host loses power: every packet in and out is dropped.
wd_poweroff() { kw_poweroff "$1"; }

# wd_kill_pattern ACTION REASON [SERVICE PORT]: an ERE for this scenario's daemon's line
# about the port-2000 (or PORT) connection.
wd_kill_pattern() {
	local src="${SRVB//[/\\[}"
	src="${src//]/\\]}"
	echo "keepwatchd\\[$WD_DAEMON\\]: action=$1 reason=$2 service=${3:-relay} src=$src:${4:-2000} "
}

# wd_kills: how many action=kill lines this scenario's daemon wrote.
wd_kills() { grep -c "keepwatchd\[$WD_DAEMON\]: action=kill " "$KW_SYSLOG"; }

# wd_ms_since T0 LINE-PATTERN: ms between T0 and the first syslog line matching.
wd_ms_since() {
	local t
	t=$(grep -E -m1 -- "$2" "$KW_SYSLOG" | cut -d' ' -f1)
	[ -n "$t" ] && echo $((t - $1))
}

# wd_control_alive: the control connection is untouched.
wd_control_alive() {
	wd_established 2100 1 && ! grep -q close "$WD_DIR/control-server.log"
}

# wd_teardown: stops this scenario's processes and namespaces (the EXIT trap remains
# the safety net).
wd_teardown() {
	kw_stop_all_but "${KW_SYSLOG_PID:-}"
	ip netns del "$NS_SRV" 2>/dev/null
	ip netns del "$NS_CLI" 2>/dev/null
}
