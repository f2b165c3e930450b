#!/usr/bin/env bash
# The namespace helper under faults (issue 20, items 1-3): keepwatchd at its fd limit fails
# one namespace at a time, says the limit and how many fit, and opens them once fds are
# free; SIGHUP and SIGTERM leave the helper alone; a killed or stalled worker is replaced
# (with backoff, logged), while a link loss in the daemon's own namespace still reaches its
# owner at once; a namespace identified through the helper is kept while the helper is
# away; a lost helper and worker end keepwatchd with 75 for systemd to restart it. And the
# helper's confinement: only what the configuration's items name is opened or identified,
# and a keepwatchd holding CAP_SYS_PTRACE cannot ptrace it.
# shellcheck disable=SC2153 # NS_* are set by kw_ns
source "$(dirname "$0")/../lib/netns.sh"
kw_require_root
command -v nsenter >/dev/null || kw_skip "nsenter (util-linux) not installed"
command -v prlimit >/dev/null || kw_skip "prlimit (util-linux) not installed"
PROBE="$KW_BUILD/tools/nsopen_probe"
kw_init kwt-h20-nsh
kw_syslog_start
P="$KW_PREFIX"
PY=(python3 -u "$KW_SRC/tests/lib/peer.py")

# daemon NAME CFG [WRAPPER...]: keepwatchd in namespace D (of its own), with the config,
# debug lines on; DPID.
daemon() {
	local cfg=$1 t0
	shift
	t0=$(kw_mono_ms)
	KW_NSENTER=1 KW_PROPAGATION=slave kw_bg_syslog_ready 30 "$NS_D" "$KW_TMP/kwd.err" \
		"$@" "$KW_BUILD/keepwatchd" -c "$cfg" -f -v --ready-fd 3 || {
		cat "$KW_TMP/kwd.err"
		kw_die "keepwatchd did not become ready ($(($(kw_mono_ms) - t0)) ms," \
			"$(kill -0 "$KW_LAST_PID" 2>/dev/null && echo running || echo gone))"
	}
	DPID=$KW_LAST_PID
}
line() { kw_grep_wait "${2:-5}" "$KW_SYSLOG" "keepwatchd\[$DPID\]: $1"; }
count() { grep -cE "keepwatchd\[$DPID\]: $1" "$KW_SYSLOG"; }
helper() { pgrep -P "$DPID" -x keepwatchd-ns; }
# (before workers existed, the helper served: the stall and the loss then hit it)
worker() { pgrep -P "$(helper)" -x keepwatchd-nsw || helper; }
nsw() { pgrep -P "$(helper)" -x keepwatchd-nsw; }
newns() { # NAME: a namespace matched by the items below, with lo up
	local v
	kw_ns v "$1"
	NEWNS=$v
}
kw_ns NS_D d

# ---- 1. EMFILE: at an fd limit of 80, ten namespaces --------------------------------------
CFG="$KW_TMP/kw.ini"
printf '[global]\nsockops = off\npoll_interval = 100ms\nlog = syslog\n[service pods]\nlocal_ports = 2000\nnetns = %s-n*\n' \
	"$P" >"$CFG"
for i in 01 02 03 04 05 06 07 08 09 10; do newns "n$i"; done
daemon "$CFG" prlimit --nofile=80:80
kw_check "start: the fd budget is said, the namespaces that fit" \
	line "event=fd-budget fd_limit=80 fds_in_use=[0-9]+ per_netns=8 netns=10 netns_fit=[0-9] hint="
fit=$(grep -m1 "keepwatchd\[$DPID\]: event=fd-budget" "$KW_SYSLOG" | sed 's/.*netns_fit=\([0-9]*\).*/\1/')
kw_check "EMFILE: one namespace fails alone, the line names the limit and what fits" \
	line "action=error what=netns-open netns=$P-n[0-9]+ path=\S+ step=fds error=\"Too many open files\" fd_limit=80 per_netns=8 netns_fit=[0-9]+ retry_ms="
sleep 1.5
up=$(count "event=netns-up netns=$P-n")
kw_ok "EMFILE: $up of 10 namespaces up at an fd limit of 80 (netns_fit=$fit)"
kw_check "EMFILE: the helper lives on (no helper error, no loss)" \
	test "$(count 'step=helper|netns-helper-lost')" = 0
kw_check "EMFILE: its worker is still there" test -n "$(nsw)"
for i in 01 02 03 04 05 06; do ip netns del "$P-n$i"; done
all_up() {
	local i
	for i in 07 08 09 10; do
		grep -qE "keepwatchd\[$DPID\]: event=netns-up netns=$P-n$i " "$KW_SYSLOG" || return 1
	done
}
kw_check "EMFILE: once fds are free, the namespaces that failed are opened" kw_wait 10 all_up
kw_stop "$DPID"
for i in 07 08 09 10; do ip netns del "$P-n$i"; done

# ---- 2. signals, a killed worker, a stalled one; a link loss meanwhile ----------------------
# the daemon's own namespace guards a server too (no netns): its link loss must be prompt
kw_ns NS_C c
kw_veth "$NS_D" kwd0 71 "$NS_C" kwc0 72
kw_addr "$NS_D" kwd0 10.71.0.1/24
kw_addr "$NS_C" kwc0 10.71.0.2/24
{
	printf '[global]\nsockops = off\npoll_interval = 100ms\nlog = syslog\n'
	printf '[service pods]\nlocal_ports = 2000\nnetns = %s-p*\n' "$P"
	printf '[service own]\nlocal_ports = 3000\n'
} >"$CFG"
newns p1
daemon "$CFG"
kw_check "the helper keepwatchd-ns and its worker keepwatchd-nsw run" test -n "$(nsw)"

# a stalled worker: what is asked of it waits, the loop does not
kw_bg "$NS_D" "$KW_TMP/own.log" "${PY[@]}" server 10.71.0.1 3000
kw_grep_wait 5 "$KW_TMP/own.log" listening || kw_die "own server did not start"
kw_bg "$NS_C" "$KW_TMP/ownc.log" "${PY[@]}" client 10.71.0.1 3000
kw_grep_wait 5 "$KW_TMP/own.log" accept || kw_die "own client did not connect"
sleep 1.5
W=$(worker)
kill -STOP "$W"
newns p2 # asked of the stalled worker
sleep 0.3
t0=$(kw_mono_ms)
ip -n "$NS_D" link set kwd0 down
kw_grep_wait 8 "$KW_TMP/own.log" "close .*errno=103" || true
t1=$(grep -m1 "close .*errno=103" "$KW_TMP/own.log" | cut -d' ' -f1)
ms=$((${t1:-999999} - t0))
if [ "$ms" -lt 500 ]; then
	kw_ok "helper stalled: a link loss in the own namespace reached its owner after $ms ms"
else
	kw_fail "helper stalled: the own namespace's link loss reached its owner after $ms ms"
fi
kw_check "a stalled worker: replaced after its request timed out" \
	line "event=netns-helper-lost what=worker pid=$W cause=stalled" 8
kw_check "... and the namespace asked of it opens" line "event=netns-up netns=$NEWNS " 5
kill -CONT "$W" 2>/dev/null

H=$(helper)
W=$(worker)
kill -HUP "$H" "$W"
kill -TERM "$H" "$W"
sleep 0.5
kw_check "SIGHUP, SIGTERM: the helper and its worker live on" bash -c "kill -0 $H && kill -0 $W"
newns p3
kw_check "... and serve: a new namespace opens" line "event=netns-up netns=$NEWNS "
kill -KILL "$W"
kw_check "a killed worker: said" line "event=netns-helper-lost what=worker pid=$W restart_in_ms=[0-9]+"
kw_check "... and replaced" line "event=netns-helper-restart pid=[0-9]+ restarts=2"
newns p4
kw_check "... which serves: a new namespace opens" line "event=netns-up netns=$NEWNS "
kw_stop "$DPID"
ip -n "$NS_D" link set kwd0 up

# ---- 3. a namespace identified through the helper is kept while the helper is away --------
# a process of another user holds it: keepwatchd (CAP_NET_ADMIN only) cannot look at its
# /proc/PID/ns/net, the helper can
newns q1
NSQ=$NEWNS
kw_ns NS_QC qc
kw_veth "$NSQ" kwq0 73 "$NS_QC" kwqc0 74
kw_addr "$NSQ" kwq0 10.73.0.1/24
kw_addr "$NS_QC" kwqc0 10.73.0.2/24
kw_bg "$NSQ" "$KW_TMP/holder.log" setpriv --reuid=65534 --regid=65534 --clear-groups sleep 600
QPID=$KW_LAST_PID # ip netns exec, setpriv and sleep: one process, exec after exec
in_q() { [ "$(stat -Lc %i "/run/netns/$NSQ")" = "$(stat -Lc %i "/proc/$QPID/ns/net" 2>/dev/null)" ]; }
kw_wait 5 in_q || kw_die "the holder (nobody) did not enter its namespace"
kw_bg "$NSQ" "$KW_TMP/q.log" "${PY[@]}" server 10.73.0.1 2000
kw_grep_wait 5 "$KW_TMP/q.log" listening || kw_die "server did not start"
kw_bg "$NS_QC" "$KW_TMP/qc.log" "${PY[@]}" client 10.73.0.1 2000
kw_grep_wait 5 "$KW_TMP/q.log" accept || kw_die "client of the server as nobody"
# sockops = off: with the handshake hook attached no process of keepwatchd holds
# CAP_SYS_PTRACE, and another user's /proc/PID/ns/net cannot be opened (keepwatchd(8))
printf '[global]\npoll_interval = 100ms\nlog = syslog\nsockops = off\n[service q]\nlocal_ports = 2000\nnetns = /proc/%s/ns/net\n' \
	"$QPID" >"$CFG"
daemon "$CFG"
kw_check "a /proc/PID/ns/net of another user: found through the helper" \
	line "event=netns-up netns=/proc/$QPID/ns/net " 5
sleep 1.2
W=$(worker)
kill -STOP "$W"
sleep 7 # its rescans (every 0.5 s) cannot ask; the stalled worker is replaced after 5 s
kill -CONT "$W" 2>/dev/null
kw_check "helper away for 7 s: the namespace was kept (no netns-gone)" \
	test "$(count "event=netns-gone netns=/proc/$QPID/ns/net")" = 0
ip -n "$NSQ" link set kwq0 down
kw_check "... and its connection is still guarded (killed on link loss)" \
	line "action=kill reason=link-down service=q src=10.73.0.1:2000 .* netns=/proc/$QPID/ns/net\$"
kw_stop "$DPID"

# ---- 4. the helper lost, then its worker: exit 75 -------------------------------------------
printf '[global]\nsockops = off\npoll_interval = 100ms\nlog = syslog\n[service pods]\nlocal_ports = 2000\nnetns = %s-r*\n' \
	"$P" >"$CFG"
daemon "$CFG"
H=$(helper)
W=$(worker)
kill -KILL "$H"
kw_check "the helper killed: said" line "event=netns-helper-lost what=helper pid=$H "
newns r1
kw_check "... its worker still serves" line "event=netns-up netns=$NEWNS "
kill -KILL "$W"
kw_check "... the worker killed too: keepwatchd stops, saying why" \
	line "event=stop reason=\"namespace helper lost, no new worker can be started\" exit=75"
if kw_wait 5 bash -c "! kill -0 $DPID 2>/dev/null"; then
	wait "$DPID"
	rc=$?
else
	rc="still running"
	kw_stop "$DPID"
fi
kw_check "... with exit status 75, for systemd to restart it (was $rc)" test "$rc" = 75

# ---- 5. confinement -----------------------------------------------------------------------
newns a
NSA=$NEWNS
newns b
NSB=$NEWNS
printf '[service s]\nlocal_ports = 1\nnetns = %s\n' "$NSA" >"$KW_TMP/a.ini"
out=$(ip netns exec "$NS_D" "$PROBE" forge --config "$KW_TMP/a.ini" "/run/netns/$NSB" 2>&1)
printf '    %s\n' "${out//$'\n'/$'\n'    }"
kw_check "a request for a namespace no item names: refused (-EPERM)" \
	grep -q "^forge socket rc=-1$" <<<"$out"
kw_check "... so its lo stays up" bash -c "ip -n '$NSB' link show lo | grep -q '<LOOPBACK,UP'"
mkdir -m 0700 "$KW_TMP/closed"
touch "$KW_TMP/closed/exists"
chown -R 65534 "$KW_TMP/closed"
out=$(ip netns exec "$NS_D" "$PROBE" ident --config "$KW_TMP/a.ini" "$KW_TMP/closed/exists" \
	"$KW_TMP/closed/missing" 2>&1)
printf '    %s\n' "${out//$'\n'/$'\n'    }"
kw_check "identity of files no item names: refused alike (-EPERM), existing or not" \
	test "$(grep -c 'rc=-1$' <<<"$out")" = 2
printf '[service s]\nlocal_ports = 1\nnetns = %s/closed/exists, %s/closed/missing\n' "$KW_TMP" \
	"$KW_TMP" >"$KW_TMP/f.ini"
out=$(ip netns exec "$NS_D" "$PROBE" ident --config "$KW_TMP/f.ini" "$KW_TMP/closed/exists" \
	"$KW_TMP/closed/missing" 2>&1)
printf '    %s\n' "${out//$'\n'/$'\n'    }"
kw_check "named files that are no namespace: the same answer (-ENOENT), existing or not" \
	test "$(grep -c 'rc=-2$' <<<"$out")" = 2
out=$("$PROBE" ptrace 2>&1)
printf '    %s\n' "${out//$'\n'/$'\n'    }"
kw_check "with CAP_NET_ADMIN alone: no ptrace, /proc/PID/mem or process_vm_readv of the helper" \
	test "$(grep -c '^reach .* rc=0$' <<<"$out")" = 0
out=$("$PROBE" ptrace --keep-ptrace --confine 2>&1)
printf '    %s\n' "${out//$'\n'/$'\n'    }"
kw_check "with CAP_SYS_PTRACE and keepwatchd's seccomp filter: no ptrace of helper or worker" \
	test "$(grep -cE '^reach (helper|worker) ptrace-seize rc=-1$' <<<"$out")" = 2
kw_check "... no process_vm_readv of them" \
	test "$(grep -cE '^reach (helper|worker) process-vm-readv rc=-1$' <<<"$out")" = 2
# keepwatchd itself installs that filter when it keeps CAP_SYS_PTRACE: enforce_keepalive
# without the handshake hook (sockops = off), in its own namespace (only the hook enforces
# in others)
printf '[global]\nlog = syslog\nsockops = off\n[service e]\nlocal_ports = 2000\nkeepalive_probes = 2\nenforce_keepalive = 30s, 10s\n' \
	>"$CFG"
daemon "$CFG"
kw_check "keepwatchd with CAP_SYS_PTRACE runs under its seccomp filter" \
	grep -qE '^Seccomp:\s+2$' "/proc/$DPID/status"
kw_stop "$DPID"
kw_done
