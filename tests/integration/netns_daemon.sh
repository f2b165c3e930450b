#!/usr/bin/env bash
# keepwatchd in a namespace of its own guards services in others (issue 11): two server
# namespaces at start, a third created while it runs (found; its connections killed on
# link loss and on a keepalive stall), one deleted while watched (the daemon lives on and
# kills nothing there), a service selected by cgroup (the connection of the server in the
# kwt- cgroup killed on link loss, the same port served from outside the cgroup spared),
# and --check's errors for bad items. Every process is stopped by PID, every namespace
# and cgroup removed by the exit trap.
source "$(dirname "$0")/../lib/netns.sh"
kw_require_root
command -v nsenter >/dev/null || kw_skip "nsenter (util-linux) not installed"
command -v nft >/dev/null || kw_skip "nft not installed"
kw_init kwt-i11-nsd
kw_syslog_start
P="$KW_PREFIX"
PEER=(python3 -u "$KW_SRC/tests/lib/peer.py")
PROBE="$KW_BUILD/tools/cgroup_probe"

# The cgroup part runs where the kernel can filter by cgroup (Linux >= 5.8, cgroup2).
CGMNT=""
if [ -x "$PROBE" ] && "$PROBE" kernel 2>/dev/null | grep -q '=supported'; then
	CGMNT=$("$PROBE" mount | sed -n 's/^mount=//p')
fi
CG="${CGMNT:+$CGMNT/$P}"
cg_cleanup() {
	kw_cleanup
	[ -n "$CG" ] && [ -d "$CG" ] || return 0
	for _ in $(seq 1 40); do rmdir "$CG" 2>/dev/null && break; sleep 0.05; done
	return 0
}
trap 'cg_cleanup' EXIT

# --check: bad items name file, line and key; nothing runs.
BAD="$KW_TMP/bad.ini"
printf '%s\n' '[service a]' 'local_ports = 1' 'netns = /' '[service b]' 'local_ports = 2' \
	'netns = /proc/1/ns/mnt' '[service c]' 'local_ports = 3' 'cgroup = relative/path' \
	'[service d]' 'local_ports = 4' 'netns = bad/name' >"$BAD"
"$KW_BUILD/keepwatchd" --check -c "$BAD" >"$KW_TMP/check.out" 2>&1
kw_check "--check refuses bad netns/cgroup items" test $? = 1
for want in "bad.ini:3: netns: '/' is a directory" "bad.ini:6: netns: '/proc/1/ns/mnt' is not a network" \
	"bad.ini:9: cgroup: 'relative/path'" "bad.ini:12: netns: 'bad/name'"; do
	kw_check "--check says: $want" grep -qF -- "$want" "$KW_TMP/check.out"
done

# server NS IF IDX CLIENT-NS CIF CIDX NET: a server/client namespace pair on one veth,
# server .1, client .2 of 10.NET.0.0/24.
pair() {
	kw_ns "$1" "$2"
	kw_ns "$3" "$4"
	kw_veth "${!1}" "$5" "$6" "${!3}" "$7" "$8"
	kw_addr "${!1}" "$5" "10.$9.0.1/24"
	kw_addr "${!3}" "$7" "10.$9.0.2/24"
}
# serve NS ADDR PORT LOG [peer args]: a server, and a client from CLIENT-NS.
serve() {
	local ns=$1 cns=$2 addr=$3 port=$4 log=$5
	shift 5
	kw_bg "$ns" "$KW_TMP/$log-srv.log" "${PEER[@]}" server "$addr" "$port" "$@"
	SRV_LAST=$KW_LAST_PID
	kw_grep_wait 5 "$KW_TMP/$log-srv.log" listening || kw_die "$log: server did not start"
	kw_bg "$cns" "$KW_TMP/$log-cli.log" "${PEER[@]}" client "$addr" "$port"
	kw_grep_wait 5 "$KW_TMP/$log-srv.log" accept || kw_die "$log: client did not connect"
}
kills() { grep -cE "keepwatchd\[$DPID\]: action=kill .*$1" "$KW_SYSLOG"; }

kw_ns NS_D d
pair NS_A sa NS_AC ka kwsa0 81 kwka0 82 81
pair NS_B sb NS_BC kb kwsb0 83 kwkb0 84 82
serve "$NS_A" "$NS_AC" 10.81.0.1 2000 a --keepalive 1,1,10
serve "$NS_B" "$NS_BC" 10.82.0.1 2000 b --keepalive 1,1,10
SRV_B=$SRV_LAST

CFG="$KW_TMP/kw.ini"
{
	# keepwatchd's own path: the hook has its own test (it.sockops_netns), which attaches
	# at its own cgroup, never at the root as the default would here
	printf '[global]\npoll_interval = 100ms\nlog = syslog\nsockops = off\n'
	printf '[service alpha]\nlocal_ports = 2000\nnetns = %s\nkeepalive_probes = 2\n' "$NS_A"
	printf '[service beta]\nlocal_ports = 2000-2001\nnetns = %s, %s-sc*\nkeepalive_probes = 2\n' \
		"$NS_B" "$P"
	if [ -n "$CG" ]; then
		printf '[service cg]\nlocal_ports = 7301\nnetns = %s-se\ncgroup = /%s\n' "$P" "$P"
	fi
} >"$CFG"
[ -z "$CG" ] || mkdir "$CG" || kw_die "cannot create cgroup $CG"

# The daemon in its own namespace; nsenter keeps the cgroup2 mount in sight, slave
# propagation the namespaces mounted on /run/netns after it started.
KW_NSENTER=1 KW_PROPAGATION=slave kw_bg_syslog_ready 10 "$NS_D" "$KW_TMP/kwd.err" \
	"$KW_BUILD/keepwatchd" -c "$CFG" -f --ready-fd 3 || {
	cat "$KW_TMP/kwd.err"
	kw_die "keepwatchd did not become ready"
}
DPID=$KW_LAST_PID
kw_check "namespace A found at start" kw_grep_wait 5 "$KW_SYSLOG" "event=netns-up netns=$NS_A services=alpha"
kw_check "namespace B found at start" kw_grep_wait 5 "$KW_SYSLOG" "event=netns-up netns=$NS_B services=beta"
kw_check "the helper runs as keepwatchd-ns" kw_wait 2 pgrep -P "$DPID" -x keepwatchd-ns

# Link loss in A: A's connection killed, B's untouched.
sleep 1.2 # one discovery_interval: both connections are in the tables
# --list: one look at every namespace, each connection with its namespace.
L="$KW_TMP/list.txt"
nsenter --net="/run/netns/$NS_D" "$KW_BUILD/keepwatchd" --list -c "$CFG" >"$L" 2>&1
kw_check "--list: A's connection, NETNS $NS_A" grep -qE "^alpha .*10\.81\.0\.1:2000 .* alive +$NS_A +[^ ]+\$" "$L"
kw_check "--list: B's connection, NETNS $NS_B" grep -qE "^beta .*10\.82\.0\.1:2000 .* alive +$NS_B +[^ ]+\$" "$L"
nsenter --net="/run/netns/$NS_D" "$KW_BUILD/keepwatchd" --list --json -c "$CFG" >"$L.json" 2>&1
kw_check "--list --json: \"netns\":\"$NS_A\"" grep -qF "\"netns\":\"$NS_A\"," "$L.json"
ip -n "$NS_A" link set kwsa0 down
kw_check "A: link loss kills its connection (netns=$NS_A)" kw_grep_wait 5 "$KW_SYSLOG" \
	"action=kill reason=link-down service=alpha src=10.81.0.1:2000 .* netns=$NS_A"
kw_check "A: the server saw the abort" kw_grep_wait 5 "$KW_TMP/a-srv.log" "close .*errno=103"
kw_check "B: untouched" test "$(kills "netns=$NS_B")" = 0

# A namespace created after start: found within 1 s, its connections killed on a keepalive
# stall and on link loss.
t0=$(kw_mono_ms)
pair NS_C sc NS_CC kc kwsc0 85 kwkc0 86 83
kw_check "C: found after start" kw_grep_wait 3 "$KW_SYSLOG" "event=netns-up netns=$NS_C services=beta"
t1=$(grep -m1 "event=netns-up netns=$NS_C" "$KW_SYSLOG" | cut -d' ' -f1)
kw_ok "C: noticed $((${t1:-0} - t0)) ms after ip netns add (veth and addresses included)"
kw_ns NS_C2 kc2
kw_veth "$NS_C" kwsc1 87 "$NS_C2" kwkc1 88
kw_addr "$NS_C" kwsc1 10.84.0.1/24
kw_addr "$NS_C2" kwkc1 10.84.0.2/24
serve "$NS_C" "$NS_CC" 10.83.0.1 2000 c --keepalive 1,1,10
serve "$NS_C" "$NS_C2" 10.84.0.1 2001 c2
sleep 1.2
kw_poweroff "$NS_CC"
kw_check "C: keepalive stall killed (netns=$NS_C)" kw_grep_wait 10 "$KW_SYSLOG" \
	"action=kill reason=keepalive service=beta src=10.83.0.1:2000 .* netns=$NS_C"
ip -n "$NS_C" link set kwsc1 down
kw_check "C: link loss killed (netns=$NS_C)" kw_grep_wait 5 "$KW_SYSLOG" \
	"action=kill reason=link-down service=beta src=10.84.0.1:2001 .* netns=$NS_C"

# B deleted while watched (its server still holds the namespace, with a live connection):
# dropped without a kill line, the daemon lives on.
ip netns del "$NS_B"
kw_check "B: its deletion is noticed" kw_grep_wait 3 "$KW_SYSLOG" "event=netns-gone netns=$NS_B watched=1"
sleep 1
kw_check "B: no kill line" test "$(kills "netns=$NS_B")" = 0
if [ -n "$SRV_B" ]; then
	kw_check "B: its connection is still established" test \
		"$(nsenter --net="/proc/$SRV_B/ns/net" ss -Htn state established | wc -l)" = 1
fi
kw_check "the daemon is alive" kill -0 "$DPID"

# The cgroup-selected service: the server in the cgroup and one outside it on the same port.
if [ -n "$CG" ]; then
	pair NS_E se NS_EC ke kwse0 89 kwke0 90 85
	kw_addr "$NS_E" kwse0 10.85.0.3/24
	kw_check "E: found" kw_grep_wait 3 "$KW_SYSLOG" "event=netns-up netns=$NS_E services=cg"
	nsenter --net="/run/netns/$NS_E" sh -c \
		"echo \$\$ > '$CG/cgroup.procs' && exec ${PEER[*]} server 10.85.0.1 7301" \
		>"$KW_TMP/in.log" 2>&1 </dev/null &
	KW_PIDS+=("$!")
	kw_bg "$NS_E" "$KW_TMP/out.log" "${PEER[@]}" server 10.85.0.3 7301
	kw_grep_wait 5 "$KW_TMP/in.log" listening || kw_die "server in the cgroup did not start"
	kw_grep_wait 5 "$KW_TMP/out.log" listening || kw_die "server outside did not start"
	for a in 10.85.0.1 10.85.0.3; do
		kw_bg "$NS_EC" "$KW_TMP/cli-$a.log" "${PEER[@]}" client $a 7301
		kw_grep_wait 5 "$KW_TMP/cli-$a.log" connected || kw_die "client of $a"
	done
	sleep 1.2
	ip -n "$NS_E" link set kwse0 down
	kw_check "cgroup: the connection of the server in $P killed on link loss" \
		kw_grep_wait 5 "$KW_SYSLOG" \
		"action=kill reason=link-down service=cg src=10.85.0.1:7301 .* netns=$NS_E"
	sleep 1
	kw_check "cgroup: the same port served from outside the cgroup spared" \
		test "$(kills "src=10.85.0.3:7301")" = 0
	kw_check "cgroup: ... and still established" test \
		"$(ip netns exec "$NS_E" ss -Htn state established 'sport = :7301' | wc -l)" = 1
else
	kw_ok "# SKIP cgroup part: no cgroup2 mount or kernel < 5.8"
fi

# A reload that drops service beta: C's instance goes, nothing is killed, A stays.
n_kills=$(kills .)
sed -i '/^\[service beta\]/,/^keepalive_probes/d' "$CFG"
kill -HUP "$DPID"
kw_check "reload: C's instance dropped, unconfigured" kw_grep_wait 5 "$KW_SYSLOG" \
	"event=netns-gone netns=$NS_C watched=[0-9]+ reason=unconfigured"
kw_check "reload: event=reload services=$([ -n "$CG" ] && echo 2 || echo 1)" kw_grep_wait 5 "$KW_SYSLOG" \
	"keepwatchd\[$DPID\]: event=reload .*services=$([ -n "$CG" ] && echo 2 || echo 1) "
sleep 0.5
kw_check "reload: no kill on the way" test "$(kills .)" = "$n_kills"

kw_check "no kill line without netns= (nothing in the daemon's own namespace)" \
	test "$(grep -E "keepwatchd\[$DPID\]: action=kill " "$KW_SYSLOG" | grep -vc 'netns=')" = 0
kw_check "the daemon is alive at the end" kill -0 "$DPID"
kw_stop "$DPID"
kw_check "the helper went with it" bash -c "! pgrep -x keepwatchd-ns -P $DPID"
kw_done
