#!/usr/bin/env bash
# keepwatch soak test (issue 20): one keepwatchd, in a namespace of its own like a node agent,
# guards services in others while everything around it moves, for DURATION seconds:
# namespaces created and deleted (pods), containers "stopping" (the server exits, its veth
# goes 100 ms later), links flapping within their grace and links deleted under live
# connections, routes, rules and nexthops changing over 1,000 routed healthy connections with
# keepalive, reloads, the namespace helper's worker killed and its helper signalled, and dead
# connections (a peer that stops answering) appearing at random. It must end every dead one
# within its bound, kill nothing else, keep its descriptors and memory flat, and (under the
# sanitizers) report nothing.
#
# Usage (root): KW_BUILD=build-asan bash tests/soak/soak.sh        (10 minutes)
#        DURATION=60 KW_BUILD=build-asan bash tests/soak/soak.sh  (the CI's short run)
# env: DURATION seconds (default 600), STABLE healthy connections (default 1000), SEED.
# Prints a summary and a markdown row for tests/bench/results.md; exit 0 = every check held.
# Everything runs in kwt-soak-PID-* namespaces, every process is stopped by PID, every
# namespace removed, by the exit trap.
# shellcheck disable=SC2153 # the NS variables are set by kw_ns
source "$(dirname "$0")/../lib/netns.sh"
kw_require_root
command -v nft >/dev/null || kw_skip "nft not installed"
command -v nsenter >/dev/null || kw_skip "nsenter (util-linux) not installed"
DURATION=${DURATION:-600}
STABLE=${STABLE:-1000}
RANDOM=${SEED:-$$}
DEAD_BOUND_MS=8000 # owner keepalive 1 s + 2 probes of 1 s, the timer wheel, a poll
DEL_BOUND_MS=3000
FARM="$KW_BUILD/tools/connfarm"
[ -x "$FARM" ] || kw_die "no $FARM (build the tree first)"
kw_init kwt-soak
kw_syslog_start
P="$KW_PREFIX"
PY=(python3 -u "$KW_SRC/tests/lib/peer.py")
# (a small quarantine: the default 256 MB would read as growth in a 10 minute RSS series)
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}:quarantine_size_mb=4:log_path=$KW_TMP/asan"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}:log_path=$KW_TMP/ubsan"
FAILS=()
fail() { FAILS+=("$*"); echo "FAIL: $*"; }
now_ms() { kw_mono_ms; }
# gone PID...: stopped, and forgotten by the exit trap (which must never signal a PID number
# the system has handed out again over a long run)
gone() {
	local pid p left
	for pid in "$@"; do
		[ -n "$pid" ] || continue
		kw_stop "$pid"
		left=()
		for p in "${KW_PIDS[@]}"; do [ "$p" = "$pid" ] || left+=("$p"); done
		KW_PIDS=("${left[@]}")
	done
}

# ---- the world ---------------------------------------------------------------------------
kw_ns NS_D d   # keepwatchd
kw_ns NS_S s   # the stable and dead-connection servers (their owners)
kw_ns NS_C c   # their peers; 10.61.0.2 reached through a gateway route
kw_ns NS_F f   # a service whose link flaps within its grace
kw_ns NS_FC fc
kw_ns NS_N node # the pods' peers
kw_veth "$NS_S" kws0 61 "$NS_C" kwc0 62
kw_addr "$NS_S" kws0 10.60.0.1/24
kw_addr "$NS_C" kwc0 10.60.0.2/24
kw_addr "$NS_C" kwc0 10.61.0.2/32
ip -n "$NS_S" route add 10.61.0.0/24 via 10.60.0.2
ip netns exec "$NS_C" sysctl -qw net.ipv4.ip_local_port_range="20000 29999"
kw_veth "$NS_F" kwf0 63 "$NS_FC" kwfc0 64
kw_addr "$NS_F" kwf0 10.62.0.1/24
kw_addr "$NS_FC" kwfc0 10.62.0.2/24
# the dead connections' peers lose power one connection at a time: their ports in a set
ip netns exec "$NS_C" nft -f - <<'NFT' || kw_die "nft in C"
table inet kwt_soak {
	set dead { type inet_service; }
	chain in { type filter hook input priority -300; tcp dport @dead drop; }
	chain out { type filter hook output priority -300; tcp sport @dead drop; }
}
NFT

CFG="$KW_TMP/kw.ini"
config() { # POLL: the one key reloads change; written whole, then moved in place
	{
		printf '[global]\nsockops = off\npoll_interval = %s\nlog = syslog\nmetrics_file = %s\n' "$1" "$KW_TMP/kw.prom"
		printf '[service stable]\nlocal_ports = 5000\nnetns = %s\nkeepalive_probes = 2\nlink_grace = 2s\n' "$NS_S"
		printf '[service dead]\nlocal_ports = 6000\nnetns = %s\nkeepalive_probes = 2\n' "$NS_S"
		printf '[service flap]\nlocal_ports = 7100\nnetns = %s\nkeepalive_probes = 2\nlink_grace = 3s\n' "$NS_F"
		printf '[service pods]\nlocal_ports = 7000\nnetns = %s-pod*\nkeepalive_probes = 2\n' "$P"
		printf '[service del]\nlocal_ports = 7500\nnetns = %s-del*\nkeepalive_probes = 2\n' "$P"
	} >"$CFG.new"
	mv "$CFG.new" "$CFG"
}
config 100ms

# 1,000 healthy routed connections whose owner set keepalive 2 s (peers answer)
kw_bg "$NS_S" "$KW_TMP/stable-l.out" "$FARM" listen -k 2,1,3 -n "$STABLE" 10.60.0.1 5000
kw_grep_wait 10 "$KW_TMP/stable-l.out" '^listening' || kw_die "stable listener"
kw_bg "$NS_C" "$KW_TMP/stable-c.out" "$FARM" connect -b 10.61.0.2 10.60.0.1 "5000:$STABLE"
kw_grep_wait 60 "$KW_TMP/stable-l.out" '^ready' || kw_die "stable connections"
# the dead connections' owner: keepalive 1 s
kw_bg "$NS_S" "$KW_TMP/dead-srv.log" "${PY[@]}" server 10.60.0.1 6000 --keepalive 1,1,5 --count 100000
kw_grep_wait 10 "$KW_TMP/dead-srv.log" listening || kw_die "dead server"
kw_bg "$NS_F" "$KW_TMP/flap-srv.log" "${PY[@]}" server 10.62.0.1 7100 --keepalive 5,2,5
kw_grep_wait 10 "$KW_TMP/flap-srv.log" listening || kw_die "flap server"
kw_bg "$NS_FC" "$KW_TMP/flap-cli.log" "${PY[@]}" client 10.62.0.1 7100
kw_grep_wait 10 "$KW_TMP/flap-srv.log" accept || kw_die "flap client"

KW_NSENTER=1 KW_PROPAGATION=slave kw_bg_syslog_ready 60 "$NS_D" "$KW_TMP/kwd.err" \
	"$KW_BUILD/keepwatchd" -c "$CFG" -f --ready-fd 3 || {
	cat "$KW_TMP/kwd.err"
	kw_die "keepwatchd did not become ready"
}
KWD=$KW_LAST_PID
helper() { pgrep -P "$KWD" -x keepwatchd-ns; }
worker() { pgrep -P "$(helper)" -x keepwatchd-nsw; }
fds() { find "/proc/$KWD/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$KWD/status"; }
watched() { awk '/^keepwatch_watched_connections/ { s += $2 } END { print s + 0 }' "$KW_TMP/kw.prom" 2>/dev/null; }
kw_wait 60 bash -c "[ \$(awk '/^keepwatch_watched_connections/ { s += \$2 } END { print s + 0 }' '$KW_TMP/kw.prom' 2>/dev/null || echo 0) -ge $STABLE ]" ||
	kw_die "keepwatchd did not watch the $STABLE stable connections"
FD0=$(fds)
RSS0=$(rss)

# ---- the actors --------------------------------------------------------------------------
NPOD=0 NDEL=0 NDEAD=0 NFLAP=0 NROUTE=0 NRELOAD=0 NKILLW=0 NSTOP=0
declare -A POD_BORN=() POD_NS=() POD_SRV=() POD_CLI=() DEAD_AT=() DEAD_PID=() DEL_AT=() DEL_PIDS=()
pod_new() {
	local i=$((++NPOD)) ns v
	kw_ns v "pod$i"
	ns=$v
	ip link add "kwp$i" index $((2000 + 2 * i)) netns "$ns" type veth peer name "kwn$i" \
		index $((2001 + 2 * i)) netns "$NS_N" || return
	ip -n "$ns" link set "kwp$i" up
	ip -n "$NS_N" link set "kwn$i" up
	kw_addr "$ns" "kwp$i" "10.70.$((i % 250)).1/24"
	kw_addr "$NS_N" "kwn$i" "10.70.$((i % 250)).2/24"
	kw_bg "$ns" "$KW_TMP/pod$i.log" "${PY[@]}" server "10.70.$((i % 250)).1" 7000 --keepalive 5,2,5 --count 2
	POD_SRV[$i]=$KW_LAST_PID
	kw_grep_wait 5 "$KW_TMP/pod$i.log" listening || return
	kw_bg "$NS_N" "$KW_TMP/podc$i.log" "${PY[@]}" client "10.70.$((i % 250)).1" 7000
	POD_CLI[$i]=$KW_LAST_PID
	POD_BORN[$i]=$(now_ms)
	POD_NS[$i]=$ns
}
pod_end() { # I: a container stop (server exits, veth goes 100 ms later), or a deletion
	local i=$1
	if ((RANDOM % 3)); then
		gone "${POD_SRV[$i]}"
		sleep 0.1
		ip -n "$NS_N" link del "kwn$i" 2>/dev/null
		NSTOP=$((NSTOP + 1))
	fi
	ip netns del "${POD_NS[$i]}" 2>/dev/null
	gone "${POD_SRV[$i]}" "${POD_CLI[$i]}"
	unset "POD_BORN[$i]" "POD_NS[$i]" "POD_SRV[$i]" "POD_CLI[$i]"
}
del_new() { # a link deleted under a live connection: a true kill, link-removed
	local i=$((++NDEL)) ns nc v t0
	kw_ns v "del$i"
	ns=$v
	kw_ns v "delc$i"
	nc=$v
	kw_veth "$ns" kwl0 $((3000 + 2 * i)) "$nc" kwlc0 $((3001 + 2 * i))
	kw_addr "$ns" kwl0 10.75.0.1/24
	kw_addr "$nc" kwlc0 10.75.0.2/24
	kw_bg "$ns" "$KW_TMP/del$i.log" "${PY[@]}" server 10.75.0.1 7500
	DEL_PIDS[$ns]=$KW_LAST_PID
	kw_grep_wait 5 "$KW_TMP/del$i.log" listening || return
	kw_bg "$nc" "$KW_TMP/delc$i.log" "${PY[@]}" client 10.75.0.1 7500
	DEL_PIDS[$ns]+=" $KW_LAST_PID"
	kw_grep_wait 5 "$KW_TMP/del$i.log" accept || return
	kw_grep_wait 5 "$KW_SYSLOG" "keepwatchd\[$KWD\]: event=netns-up netns=$ns " || return
	sleep 1.6 # a discovery has seen it
	t0=$(now_ms)
	ip -n "$ns" link del kwl0
	DEL_AT[$ns]=$t0
}
dead_new() { # a connection whose peer stops answering
	local port=$((30000 + ++NDEAD))
	kw_bg "$NS_C" "$KW_TMP/dead$port.log" "${PY[@]}" client 10.60.0.1 6000 --sport "$port"
	DEAD_PID[$port]=$KW_LAST_PID
	kw_grep_wait 5 "$KW_TMP/dead$port.log" connected || return
	sleep 1.6 # found by a discovery, alive
	ip netns exec "$NS_C" nft add element inet kwt_soak dead "{ $port }"
	DEAD_AT[$port]=$(now_ms)
}
flap() {
	NFLAP=$((NFLAP + 1))
	ip -n "$NS_F" link set kwf0 down
	sleep 0.5
	ip -n "$NS_F" link set kwf0 up
}
routes() { # changes over the stable connections' peers that leave their path as it is
	NROUTE=$((NROUTE + 1))
	case $((RANDOM % 6)) in
	0) ip -n "$NS_S" route replace 10.61.0.0/24 via 10.60.0.2 ;;
	1) ip -n "$NS_S" route add 10.61.0.0/25 via 10.60.0.2 2>/dev/null ||
		ip -n "$NS_S" route del 10.61.0.0/25 ;;
	2) ip -n "$NS_S" route add "10.99.$((RANDOM % 200)).0/24" via 10.60.0.2 2>/dev/null ;;
	3) ip -n "$NS_S" rule add to 10.98.0.0/16 lookup main pref 500 2>/dev/null ||
		ip -n "$NS_S" rule del pref 500 ;;
	4) ip -n "$NS_S" nexthop add id 9 via 10.60.0.2 dev kws0 2>/dev/null ||
		ip -n "$NS_S" nexthop del id 9 ;;
	5) ip -n "$NS_S" route flush 10.99.0.0/16 2>/dev/null ;;
	esac
}
reload() {
	NRELOAD=$((NRELOAD + 1))
	config "$((NRELOAD % 2 ? 120 : 100))ms"
	kill -HUP "$KWD"
}
helper_faults() {
	local w h
	NKILLW=$((NKILLW + 1))
	w=$(worker)
	h=$(helper)
	[ -n "$h" ] && kill -HUP "$h" && kill -TERM "$h"
	[ -n "$w" ] && kill -KILL "$w"
}

# checks that run along
check_dead() {
	local port at t
	for port in "${!DEAD_AT[@]}"; do
		at=${DEAD_AT[$port]}
		t=$(grep -m1 -E "keepwatchd\[$KWD\]: action=kill reason=keepalive service=dead src=10\.60\.0\.1:6000 dst=10\.60\.0\.2:$port " "$KW_SYSLOG" | cut -d' ' -f1)
		if [ -n "$t" ]; then
			[ $((t - at)) -le "$DEAD_BOUND_MS" ] ||
				fail "dead connection :$port ended after $((t - at)) ms (bound $DEAD_BOUND_MS)"
			DEAD_MS+=" $((t - at))"
		elif [ $(($(now_ms) - at)) -gt $((DEAD_BOUND_MS + 2000)) ]; then
			fail "dead connection :$port not ended within $DEAD_BOUND_MS ms"
		else
			continue
		fi
		unset "DEAD_AT[$port]"
		gone "${DEAD_PID[$port]}"
		unset "DEAD_PID[$port]"
	done
}
check_del() {
	local ns at t
	for ns in "${!DEL_AT[@]}"; do
		at=${DEL_AT[$ns]}
		t=$(grep -m1 -E "keepwatchd\[$KWD\]: action=kill reason=link-removed service=del .* netns=$ns\$" "$KW_SYSLOG" | cut -d' ' -f1)
		if [ -n "$t" ]; then
			[ $((t - at)) -le "$DEL_BOUND_MS" ] ||
				fail "deleted link in $ns: its connection ended after $((t - at)) ms"
		elif [ $(($(now_ms) - at)) -gt $((DEL_BOUND_MS + 2000)) ]; then
			fail "deleted link in $ns: its connection not ended"
		else
			continue
		fi
		unset "DEL_AT[$ns]"
		# shellcheck disable=SC2086 # two PIDs
		gone ${DEL_PIDS[$ns]}
		unset "DEL_PIDS[$ns]"
		ip netns del "$ns" 2>/dev/null
		ip netns del "${ns/-del/-delc}" 2>/dev/null
	done
}

# ---- the run -----------------------------------------------------------------------------
DEAD_MS=""
SAMPLES=""
T0=$(now_ms)
END=$((T0 + DURATION * 1000))
next_pod=$T0 next_dead=$((T0 + 3000)) next_del=$((T0 + 20000)) next_flap=$((T0 + 9000))
next_route=$T0 next_reload=$((T0 + 25000)) next_helper=$((T0 + 35000)) next_sample=$T0
echo "soak: $DURATION s; keepwatchd $KWD; fds $FD0, RSS $RSS0 KiB at start"
while [ "$(now_ms)" -lt "$END" ]; do
	t=$(now_ms)
	kill -0 "$KWD" 2>/dev/null || { fail "keepwatchd died"; break; }
	if [ "$t" -ge "$next_pod" ]; then
		for i in "${!POD_BORN[@]}"; do
			[ $((t - POD_BORN[$i])) -ge $((15000 + RANDOM % 15000)) ] && pod_end "$i"
		done
		[ "${#POD_BORN[@]}" -lt 4 ] && pod_new
		next_pod=$((t + 8000))
	fi
	[ "$t" -ge "$next_dead" ] && { dead_new; next_dead=$((t + 5000 + RANDOM % 10000)); }
	[ "$t" -ge "$next_del" ] && { del_new; next_del=$((t + 40000 + RANDOM % 10000)); }
	[ "$t" -ge "$next_flap" ] && { flap; next_flap=$((t + 15000 + RANDOM % 10000)); }
	[ "$t" -ge "$next_route" ] && { routes; next_route=$((t + 2000 + RANDOM % 2000)); }
	[ "$t" -ge "$next_reload" ] && { reload; next_reload=$((t + 25000)); }
	[ "$t" -ge "$next_helper" ] && { helper_faults; next_helper=$((t + 35000)); }
	if [ "$t" -ge "$next_sample" ]; then
		SAMPLES+=" $(((t - T0) / 1000)):$(fds):$(rss)"
		next_sample=$((t + 10000))
	fi
	check_dead
	check_del
	sleep 0.5
done

# ---- the end: the same world as at the start, then the checks ----------------------------
for i in "${!POD_BORN[@]}"; do pod_end "$i"; done
for _ in $(seq 1 30); do
	check_dead
	check_del
	[ "${#DEAD_AT[@]}" = 0 ] && [ "${#DEL_AT[@]}" = 0 ] && break
	sleep 0.5
done
for ns in $(ip netns list | awk '{ print $1 }' | grep -E "^$P-(pod|del|delc)[0-9]+$"); do
	ip netns del "$ns"
done
sleep 3 # the namespaces' instances gone, a rescan or two
FD1=$(fds)
RSS1=$(rss)
alive=$(ip netns exec "$NS_S" ss -Htn state established '( sport = :5000 )' | wc -l)
false_kills=$(grep -cE "keepwatchd\[$KWD\]: action=kill .*service=(stable|flap|pods) " "$KW_SYSLOG")
true_kills=$(grep -cE "keepwatchd\[$KWD\]: action=kill .*service=(dead|del) " "$KW_SYSLOG")
restarts=$(grep -c "keepwatchd\[$KWD\]: event=netns-helper-restart" "$KW_SYSLOG")
nsups=$(grep -c "keepwatchd\[$KWD\]: event=netns-up" "$KW_SYSLOG")
kw_stop "$KWD"
kwd_rc=$?
[ "$false_kills" = 0 ] || fail "$false_kills kills of healthy connections (stable, flap, pods)"
grep -E "keepwatchd\[$KWD\]: action=kill .*service=(stable|flap|pods) " "$KW_SYSLOG" | head -5
[ "$alive" = "$STABLE" ] || fail "$alive of $STABLE stable connections alive at the end"
[ "$FD1" -le $((FD0 + 4)) ] || fail "descriptors grew: $FD0 at start, $FD1 at the end"
# warm-up first (every kind of event has happened, the allocator has its caches): the
# first sample past a fifth of the run, and two minutes at least, is the reference for RSS;
# a shorter run reports it without a verdict
warm=$((DURATION / 5 > 120 ? DURATION / 5 : 120))
ref=$(for s in $SAMPLES; do echo "$s"; done | awk -F: -v w="$warm" '$1 >= w { print $3; exit }')
if [ -n "$ref" ]; then
	[ "$RSS1" -le $((ref + ref / 10 + 2048)) ] ||
		fail "RSS grew: $ref KiB after warm-up, $RSS1 KiB at the end"
else
	ref="-"
	echo "soak: RSS not judged: no sample after a warm-up of ${warm}s"
fi
[ "$kwd_rc" = 0 ] || fail "keepwatchd exited $kwd_rc at SIGTERM"
if ls "$KW_TMP"/asan.* "$KW_TMP"/ubsan.* >/dev/null 2>&1; then
	fail "sanitizer reports"
	cat "$KW_TMP"/asan.* "$KW_TMP"/ubsan.* 2>/dev/null | head -40
fi
grep -q 'ERROR: AddressSanitizer\|runtime error:' "$KW_TMP/kwd.err" && fail "sanitizer report on stderr"
dead_n=$(echo "$DEAD_MS" | wc -w)
dead_max=$(for v in $DEAD_MS; do echo "$v"; done | sort -n | tail -1)
dead_med=$(for v in $DEAD_MS; do echo "$v"; done | sort -n | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "-" }')

echo "samples (s:fds:RSS KiB):$SAMPLES"
echo "SUMMARY soak ${DURATION}s: false_kills=$false_kills true_kills=$true_kills" \
	"dead=$dead_n (median ${dead_med:-none} ms, max ${dead_max:-none} ms, bound $DEAD_BOUND_MS)" \
	"links_deleted=$NDEL pods=$NPOD container_stops=$NSTOP flaps=$NFLAP route_changes=$NROUTE" \
	"reloads=$NRELOAD worker_kills=$NKILLW restarts=$restarts netns_up=$nsups" \
	"stable_alive=$alive/$STABLE fds=$FD0->$FD1 rss_kib=$RSS0/$ref->$RSS1 exit=$kwd_rc" \
	"machine: $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| $(date +%F) | ${DURATION}s | $(basename "$KW_BUILD") | $STABLE | $false_kills | $dead_n: median ${dead_med:-none} ms, max ${dead_max:-none} ms (bound $DEAD_BOUND_MS) | $true_kills | $NPOD / $NSTOP | $NFLAP | $NROUTE | $NRELOAD | $NKILLW / $restarts | $FD0 -> $FD1 | $RSS0 / $ref -> $RSS1 | $([ ${#FAILS[@]} = 0 ] && echo none || echo "${#FAILS[@]} failed") |"
if [ ${#FAILS[@]} != 0 ]; then
	printf 'FAILED: %s\n' "${FAILS[@]}"
	exit 1
fi
echo "soak: every check held"
exit 0
