#!/usr/bin/env bash
# keepwatch's main job, end to end, on the shipped etc/keepwatch.ini: keepwatch-relay
# guarded by keepwatchd in a private namespace pair; a client's cable is pulled; the
# timeline of the kernel alone is printed beside the one with keepwatchd.
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"
bash tests/deps.sh || exit 1
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
cmake --build build -j "$(nproc)" >/dev/null || exit 1
export KW_BUILD="$src/build" KW_SRC="$src"
source tests/lib/netns.sh
kw_require_root
kw_init kwdemo
CONFIG="$src/etc/keepwatch.ini"
"$KW_BUILD/keepwatchd" --check -c "$CONFIG" || exit 1
# The relay listens on the first port the shipped config guards.
PORT=$(awk -F= '/^[[:space:]]*local_ports[[:space:]]*=/ { gsub(/[^0-9].*/, "", $2); sub(/^ */, "", $2); }
	/^[[:space:]]*local_ports[[:space:]]*=/ { v = $2; sub(/^[[:space:]]*/, "", v); split(v, a, /[^0-9]/); print a[1]; exit }' "$CONFIG")
[ -n "$PORT" ] || kw_die "no local_ports in $CONFIG"
kw_syslog_start

ms_now() { kw_mono_ms; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "+%7.3f s", (b - a) / 1000 }'; }

# one_run LABEL WITH_KEEPWATCHD(0|1)
one_run() {
	local label=$1 with=$2 srv cli t0 t1 line relaylog i
	kw_ns srv "srv-$with"
	kw_ns cli "cli-$with"
	kw_veth "$srv" kwdemo0 77 "$cli" kwdemo1 78
	kw_addr "$srv" kwdemo0 10.77.0.1/24
	kw_addr "$cli" kwdemo1 10.77.0.2/24
	relaylog="$KW_TMP/relay-$with.log"
	kw_bg "$srv" "$KW_TMP/sink-$with.log" python3 -u tests/lib/peer.py sink 127.0.0.1 9
	kw_bg "$srv" "$relaylog" "$KW_BUILD/keepwatch-relay" --listen "10.77.0.1:$PORT" --connect 127.0.0.1:9
	kw_wait 5 grep -q listening "$KW_TMP/sink-$with.log"
	kw_wait 5 bash -c "ip netns exec $srv ss -Hltn 'sport = :$PORT' | grep -q ."
	if [ "$with" = 1 ]; then
		kw_bg_syslog "$srv" "$KW_TMP/keepwatchd.err" "$KW_BUILD/keepwatchd" -c "$CONFIG"
		kw_grep_wait 10 "$KW_SYSLOG" "event=start" || kw_die "keepwatchd did not start"
	fi
	kw_bg "$cli" "$KW_TMP/client-$with.log" python3 -u tests/lib/peer.py client 10.77.0.1 "$PORT"
	kw_wait 5 grep -q "^open" "$relaylog" || kw_wait 5 grep -q "open " "$relaylog"
	sleep 1
	echo
	echo "== $label"
	grep "open " "$relaylog" | sed 's/^/          relay: /'
	t0=$(ms_now)
	ip -n "$cli" link set kwdemo1 down
	echo "$(elapsed "$t0" "$t0")  the client's cable is pulled (its end of the link goes down)"
	for i in $(seq 1 3000); do
		grep -q "close " "$relaylog" && break
		sleep 0.01
	done
	t1=$(ms_now)
	if [ "$with" = 1 ]; then
		line=$(grep -m1 "action=kill" "$KW_SYSLOG")
		[ -n "$line" ] && echo "$(elapsed "$t0" "${line%% *}")  keepwatchd: ${line#*]: }"
	fi
	if grep -q "close " "$relaylog"; then
		echo "$(elapsed "$t0" "$t1")  relay: $(grep -m1 'close ' "$relaylog" | sed 's/^keepwatch-relay: //')"
	else
		echo "$(elapsed "$t0" "$t1")  the relay still holds the dead connection"
	fi
	RESULT[$with]=$((t1 - t0))
}

declare -a RESULT
one_run "the kernel alone (relay keepalive 10,1,2)" 0
one_run "with keepwatchd -c etc/keepwatch.ini" 1
echo
printf 'summary: dead connection closed after %d ms by the kernel alone, %d ms with keepwatchd\n' \
	"${RESULT[0]}" "${RESULT[1]}"
