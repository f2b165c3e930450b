#!/usr/bin/env bash
# keepwatch's main job, end to end, on the shipped etc/keepwatch.ini: keepwatch-relay
# guarded by keepwatchd in a private namespace pair; a client's cable is pulled; the
# timeline of the kernel alone is printed beside the one with keepwatchd; then a client loses
# power while another stays quiet, with keepwatchd turning the relay's keepalive on.
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src" || exit 1
bash tests/deps.sh demo || exit 1
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr >/dev/null || exit 1
cmake --build build -j "$(nproc)" >/dev/null || exit 1
export KW_BUILD="$src/build" KW_SRC="$src"
source tests/lib/netns.sh
kw_require_root
kw_init kwdemo-main
SHIPPED="$src/etc/keepwatch.ini"
"$KW_BUILD/keepwatchd" --check -c "$SHIPPED" || exit 1
# The shipped file as it is, but for where it records the sockets whose keepalive it set:
# in this run's directory, not the host's /run/keepwatch.
CONFIG="$KW_TMP/keepwatch.ini"
sed "s|^state_file = .*|state_file = $KW_TMP/keepwatchd.state|" "$SHIPPED" >"$CONFIG"
# The relay listens on the first port the shipped config guards.
PORT=$(sed -n 's/^[[:space:]]*local_ports[[:space:]]*=[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$CONFIG" | head -n 1)
[ -n "$PORT" ] || kw_die "no local_ports in $SHIPPED"
kw_syslog_start

# Milliseconds on the clock the syslog receiver stamps lines with (CLOCK_MONOTONIC).
ms_now() { kw_mono_ms; }
# A stderr line without its ts= and level= (the timeline has its own clock).
unstamp() { sed 's/^ts=[^ ]* level=[^ ]* //'; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "+%7.3f s", (b - a) / 1000 }'; }

# one_run LABEL WITH_KEEPWATCHD(0|1) RUN_ID BOUND_S [RELAY ARGS...]
one_run() {
	local label=$1 with=$2 id=$3 bound=$4 srv cli t0 t1 line relaylog
	shift 4
	kw_ns srv "srv-$id"
	kw_ns cli "cli-$id"
	kw_veth "$srv" kwdemo0 77 "$cli" kwdemo1 78
	kw_addr "$srv" kwdemo0 10.77.0.1/24
	kw_addr "$cli" kwdemo1 10.77.0.2/24
	relaylog="$KW_TMP/relay-$id.log"
	kw_bg "$srv" "$KW_TMP/sink-$id.log" python3 -u tests/lib/peer.py sink 127.0.0.1 9
	kw_wait 5 grep -q listening "$KW_TMP/sink-$id.log"
	kw_bg "$srv" "$relaylog" "$KW_BUILD/keepwatch-relay" --listen "10.77.0.1:$PORT" \
		--connect 127.0.0.1:9 "$@"
	kw_wait 5 bash -c "ip netns exec $srv ss -Hltn 'sport = :$PORT' | grep -q ."
	if [ "$with" = 1 ]; then
		kw_bg_syslog_ready 10 "$srv" "$KW_TMP/keepwatchd.err" "$KW_BUILD/keepwatchd" \
			-c "$CONFIG" --ready-fd 3 || kw_die "keepwatchd did not become ready"
	fi
	kw_bg "$cli" "$KW_TMP/client-$id.log" python3 -u tests/lib/peer.py client 10.77.0.1 "$PORT"
	kw_wait 5 grep -q "event=open " "$relaylog" || kw_die "the client did not get through the relay"
	sleep 0.5
	echo
	echo "== $label"
	grep "event=open " "$relaylog" | unstamp | sed 's/^/          relay: /'
	t0=$(ms_now)
	ip -n "$cli" link set kwdemo1 down
	echo "$(elapsed "$t0" "$t0")  the client's cable is pulled (its end of the link goes down)"
	for _ in $(seq 1 $((bound * 100))); do
		grep -q "event=close " "$relaylog" && break
		[ $(($(ms_now) - t0)) -ge $((bound * 1000)) ] && break
		sleep 0.01
	done
	t1=$(ms_now)
	if [ "$with" = 1 ]; then
		line=$(grep -m1 "action=kill" "$KW_SYSLOG")
		[ -n "$line" ] && echo "$(elapsed "$t0" "${line%% *}")  keepwatchd: ${line#*]: }"
	fi
	if grep -q "event=close " "$relaylog"; then
		echo "$(elapsed "$t0" "$t1")  relay: $(grep -m1 'event=close ' "$relaylog" | unstamp)"
	else
		echo "$(elapsed "$t0" "$t1")  the relay still holds the dead connection ($(ip netns exec "$srv" ss -Htn state established "sport = :$PORT" | wc -l) ESTABLISHED); giving up"
	fi
	RESULT[id]=$((t1 - t0))
	kw_stop_all_but "$KW_SYSLOG_PID"
}

# poweroff_run ID: the shipped config's enforce_keepalive on a relay without keepalive: one
# client loses power (every packet dropped, its link stays up), another stays connected,
# healthy and silent. keepwatchd turns the kernel's keepalive on for both (30s, 10s): the
# dead one is ended after two unanswered probes, the healthy one answers them and stays.
poweroff_run() {
	local id=$1 srv cli cli2 t0 t1 line relaylog kwd
	kw_ns srv "srv-$id"
	kw_ns cli "cli-$id"
	kw_ns cli2 "ok-$id"
	kw_veth "$srv" kwdemo0 77 "$cli" kwdemo1 78
	kw_veth "$srv" kwdemo2 79 "$cli2" kwdemo3 80
	kw_addr "$srv" kwdemo0 10.77.0.1/24
	kw_addr "$cli" kwdemo1 10.77.0.2/24
	kw_addr "$srv" kwdemo2 10.78.0.1/24
	kw_addr "$cli2" kwdemo3 10.78.0.2/24
	relaylog="$KW_TMP/relay-$id.log"
	kw_bg "$srv" "$KW_TMP/sink-$id.log" python3 -u tests/lib/peer.py sink 127.0.0.1 9
	kw_wait 5 grep -q listening "$KW_TMP/sink-$id.log"
	kw_bg "$srv" "$relaylog" "$KW_BUILD/keepwatch-relay" --listen "0.0.0.0:$PORT" \
		--connect 127.0.0.1:9 --keepalive off
	kw_wait 5 bash -c "ip netns exec $srv ss -Hltn 'sport = :$PORT' | grep -q ."
	kw_bg_syslog "$srv" "$KW_TMP/keepwatchd-$id.err" "$KW_BUILD/keepwatchd" -c "$CONFIG"
	kwd=$KW_LAST_PID
	kw_grep_wait 10 "$KW_SYSLOG" "keepwatchd\[$kwd\]: event=start" || kw_die "keepwatchd did not start"
	kw_bg "$cli" "$KW_TMP/client-$id.log" python3 -u tests/lib/peer.py client 10.77.0.1 "$PORT"
	kw_bg "$cli2" "$KW_TMP/client2-$id.log" python3 -u tests/lib/peer.py client 10.78.0.1 "$PORT"
	kw_wait 5 bash -c "grep -c 'event=open ' '$relaylog' | grep -qx 2" || kw_die "the clients did not get through the relay"
	kw_grep_wait 5 "$KW_SYSLOG" "keepwatchd\[$kwd\]: action=enforce-keepalive .*dst=10.78.0.2" ||
		kw_die "no enforce-keepalive"
	echo
	echo "== with keepwatchd -c etc/keepwatch.ini (enforce_keepalive = 30s, 10s), relay without keepalive: a client loses power, another stays quiet"
	grep "event=open " "$relaylog" | unstamp | sed 's/^/          relay: /'
	grep "keepwatchd\[$kwd\]: action=enforce-keepalive" "$KW_SYSLOG" | sed "s/^.*\]: /          keepwatchd: /"
	t0=$(ms_now)
	ip netns exec "$cli" nft -f - <<'NFT'
table inet kwdemo_poweroff {
	chain in { type filter hook input priority -300; policy drop; }
	chain out { type filter hook output priority -300; policy drop; }
}
NFT
	echo "$(elapsed "$t0" "$t0")  the client at 10.77.0.2 loses power (all its packets dropped; links stay up)"
	for _ in $(seq 1 9000); do
		grep -q "event=close " "$relaylog" && break
		[ $(($(ms_now) - t0)) -ge 90000 ] && break
		sleep 0.01
	done
	t1=$(ms_now)
	line=$(grep -m1 "keepwatchd\[$kwd\]: action=kill" "$KW_SYSLOG")
	[ -n "$line" ] && echo "$(elapsed "$t0" "${line%% *}")  keepwatchd: ${line#*]: }"
	if grep -q "event=close " "$relaylog"; then
		echo "$(elapsed "$t0" "$t1")  relay: $(grep -m1 'event=close ' "$relaylog" | unstamp)"
	else
		echo "$(elapsed "$t0" "$t1")  the relay still holds the dead connection; giving up"
	fi
	RESULT[id]=$((t1 - t0))
	sleep 5
	if ip netns exec "$srv" ss -Htn state established "sport = :$PORT" | grep -q 10.78.0.2; then
		echo "$(elapsed "$t0" "$(ms_now)")  the quiet healthy client at 10.78.0.2 is still connected (it answers the probes)"
		HEALTHY=yes
	else
		echo "$(elapsed "$t0" "$(ms_now)")  the quiet healthy client at 10.78.0.2 was disconnected (unexpected)"
		HEALTHY=no
	fi
	kw_stop_all_but "$KW_SYSLOG_PID"
}

declare -a RESULT
HEALTHY=no
one_run "the kernel alone, relay without keepalive (a receive-only service)" 0 0 20 --keepalive off
one_run "the kernel alone, relay with keepalive 10,1,2 (its default)" 0 1 30
one_run "with keepwatchd -c etc/keepwatch.ini, relay without keepalive" 1 2 30 --keepalive off
poweroff_run 3
echo
printf 'summary: the dead connection was closed by the kernel alone: never (gave up after %d ms) without keepalive, after %d ms with keepalive 10,1,2; with keepwatchd: after %d ms\n' \
	"${RESULT[0]}" "${RESULT[1]}" "${RESULT[2]}"
printf 'summary: a client that lost power, relay without keepalive, keepwatchd enforcing keepalive 30s, 10s: its connection ended after %d ms; the quiet healthy client still connected: %s\n' \
	"${RESULT[3]}" "$HEALTHY"
