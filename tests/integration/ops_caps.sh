#!/usr/bin/env bash
# keepwatch: least privilege — keepwatchd started as root keeps CAP_NET_ADMIN alone
# (/proc/PID/status), can switch to `user =` and still kill, refuses clearly without the
# capability, runs unprivileged with CAP_NET_ADMIN alone, and says which capability a user
# switch lacks under a systemd-like bounding set. Each run in its own kwt-ops namespaces.
. "$(dirname "$0")/../lib/netns.sh"

KWD="$KW_BUILD/keepwatchd"
kw_require_root
[ -x "$KWD" ] || kw_skip "$KWD not built"
"$KWD" --version 2>&1 | grep -q "not built yet" && kw_skip "keepwatchd: not built yet"
command -v setpriv >/dev/null || kw_skip "setpriv (util-linux) not installed"
kw_init kwt-ops
chmod 0711 "$KW_TMP" # the runs as nobody read their config from here
PORT=5999
NOBODY=$(id -u nobody 2>/dev/null) || kw_skip "no user nobody"
CAP_NET_ADMIN_MASK=0000000000001000

# conf FILE [GLOBAL LINE]: one service on $PORT, logging to stderr only.
conf() {
	cat >"$1" <<EOF
[global]
sockops = off
poll_interval = 100ms
log = stderr
$2

[service caps]
local_ports = $PORT
keepalive_probes = 2
on_link_loss = kill
EOF
	chmod 0644 "$1"
}

# status_field PID FIELD: a field of /proc/PID/status, tabs squeezed to single spaces.
status_field() { awk -v f="$2:" '$1 == f { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status"; }

listening() { ip netns exec "$KW_NS_SRV" ss -Hltn "sport = :$PORT" | grep -q .; }

# A server on srv:$PORT that reports how its accepted connection ends, and a client.
pair_with_connection() {
	kw_pair
	kw_bg "$KW_NS_SRV" "$1/server.log" python3 -u "$KW_SRC/tests/lib/peer.py" server 10.77.0.1 "$PORT"
	kw_wait 5 listening || kw_die "server did not listen"
	kw_bg "$KW_NS_CLI" "$1/client.log" python3 -u "$KW_SRC/tests/lib/peer.py" client 10.77.0.1 "$PORT"
	kw_grep_wait 5 "$1/server.log" " accept peer=" || kw_die "no connection"
}

# run_root NAME USER_LINE: keepwatchd as root; caps checked, then a link cut must kill.
run_root() {
	local name=$1 dir pid
	dir="$KW_TMP/$(tr -c 'a-z\n' _ <<<"$1")"
	mkdir -m 0755 "$dir"
	pair_with_connection "$dir"
	conf "$dir/kw.ini" "$2"
	kw_bg "$KW_NS_SRV" "$dir/kwd.log" "$KWD" -f -c "$dir/kw.ini"
	pid=$KW_LAST_PID
	if ! kw_grep_wait 5 "$dir/kwd.log" "event=start"; then
		kw_fail "$name: keepwatchd started"
		cat "$dir/kwd.log"
		return
	fi
	echo "# $name: $(status_field "$pid" Uid | tr ' ' /) $(grep -E '^Cap' "/proc/$pid/status" | tr -s '\t\n' ' ')"
	kw_check "$name: CapEff is exactly CAP_NET_ADMIN" test "$(status_field "$pid" CapEff)" = $CAP_NET_ADMIN_MASK
	kw_check "$name: CapPrm is exactly CAP_NET_ADMIN" test "$(status_field "$pid" CapPrm)" = $CAP_NET_ADMIN_MASK
	kw_check "$name: CapBnd is exactly CAP_NET_ADMIN" test "$(status_field "$pid" CapBnd)" = $CAP_NET_ADMIN_MASK
	kw_check "$name: CapInh empty" test "$(status_field "$pid" CapInh)" = 0000000000000000
	kw_check "$name: CapAmb empty" test "$(status_field "$pid" CapAmb)" = 0000000000000000
	kw_check "$name: NoNewPrivs set" test "$(status_field "$pid" NoNewPrivs)" = 1
	if [ -n "$2" ]; then
		kw_check "$name: runs as nobody" test "$(status_field "$pid" Uid)" = "$NOBODY $NOBODY $NOBODY $NOBODY"
		kw_check "$name: no supplementary groups" test -z "$(status_field "$pid" Groups)"
	else
		kw_check "$name: runs as root" test "$(status_field "$pid" Uid)" = "0 0 0 0"
	fi
	# the capability kept is the one that matters: a lost link still gets its kill
	ip -n "$KW_NS_CLI" link set kwcli0 down
	kw_check "$name: link loss still kills (action=kill reason=link-down)" \
		kw_grep_wait 5 "$dir/kwd.log" "action=kill reason=link-down service=caps src=10.77.0.1:$PORT "
	kw_check "$name: the owner got ECONNABORTED" \
		kw_grep_wait 5 "$dir/server.log" "close .*errno=103 error=Software_caused_connection_abort"
	kw_check "$name: SIGTERM exits 0" kw_stop "$pid"
	ip netns del "$KW_NS_SRV"
	ip netns del "$KW_NS_CLI"
}

run_root "root" ""
run_root "root with user = nobody" "user = nobody"

# Unprivileged, no capability: a clear refusal, exit 1.
dir="$KW_TMP/nocap"
mkdir -m 0755 "$dir"
conf "$dir/kw.ini" ""
kw_ns NS nocap
ip netns exec "$NS" setpriv --reuid="$NOBODY" --regid="$NOBODY" --clear-groups \
	--inh-caps=-all "$KWD" -f -c "$dir/kw.ini" >"$dir/kwd.log" 2>&1 </dev/null &
KW_PIDS+=("$!")
wait $!
rc=$?
kw_check "no capability: exit status 1" test $rc = 1
kw_check "no capability: says CAP_NET_ADMIN missing" grep -q "CAP_NET_ADMIN missing" "$dir/kwd.log"
grep "CAP_NET_ADMIN" "$dir/kwd.log" | head -1 | sed 's/^/# /'

# Unprivileged with CAP_NET_ADMIN alone (what AmbientCapabilities= and User= give).
dir="$KW_TMP/ambient"
mkdir -m 0755 "$dir"
conf "$dir/kw.ini" ""
kw_ns NS ambient
kw_bg "$NS" "$dir/kwd.log" setpriv --reuid="$NOBODY" --regid="$NOBODY" --clear-groups \
	--inh-caps=+net_admin --ambient-caps=+net_admin "$KWD" -f -c "$dir/kw.ini"
pid=$KW_LAST_PID
if kw_grep_wait 5 "$dir/kwd.log" "event=start"; then
	kw_check "unprivileged + CAP_NET_ADMIN: CapEff exactly CAP_NET_ADMIN" \
		test "$(status_field "$pid" CapEff)" = $CAP_NET_ADMIN_MASK
	kw_check "unprivileged + CAP_NET_ADMIN: CapAmb cleared" \
		test "$(status_field "$pid" CapAmb)" = 0000000000000000
	kw_check "unprivileged + CAP_NET_ADMIN: SIGTERM exits 0" kw_stop "$pid"
else
	kw_fail "unprivileged + CAP_NET_ADMIN: keepwatchd started"
	cat "$dir/kwd.log"
fi

# Root under a systemd-like bounding set (CAP_NET_ADMIN only) asked to switch user: the
# message names the missing capability and the way out.
dir="$KW_TMP/bounded"
mkdir -m 0755 "$dir"
conf "$dir/kw.ini" "user = nobody"
kw_ns NS bounded
ip netns exec "$NS" setpriv --bounding-set=-all,+net_admin --inh-caps=-all \
	"$KWD" -f -c "$dir/kw.ini" >"$dir/kwd.log" 2>&1 </dev/null &
KW_PIDS+=("$!")
wait $!
rc=$?
kw_check "bounded root, user = nobody: exit status 1" test $rc = 1
kw_check "bounded root, user = nobody: says CAP_SETUID missing" \
	grep -q "cannot switch to user nobody: CAP_SETUID missing" "$dir/kwd.log"

kw_done
