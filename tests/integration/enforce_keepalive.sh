#!/usr/bin/env bash
# enforce_keepalive against real services: keepwatchd sets kernel keepalive on the sockets
# of a server that never asked for it (the origin question's IPPROTO_TCP/SO_KEEPALIVE bug),
# so a powered-off peer is killed with reason=keepalive while a healthy silent peer of the
# same service lives on; slow owner timers are tightened, faster ones left alone; dry-run
# changes nothing; a prefork server's child is found; CAP_SYS_PTRACE only when needed.
source "$(dirname "$0")/../lib/netns.sh"
source "$KW_SRC/tests/lib/wd.sh"
kw_require_root
kw_init kwt-i12-enf
kw_syslog_start

EP=(python3 -u "$KW_SRC/tests/integration/enforce_peer.py")

# en_server ARGS...: the enforce_peer server on 0.0.0.0:2000 in NS_SRV; EN_SERVER = its pid.
en_server() {
	kw_bg "$NS_SRV" "$WD_DIR/server.log" "${EP[@]}" 0.0.0.0 2000 "$@"
	EN_SERVER=$KW_LAST_PID
	kw_wait 5 grep -q listening "$WD_DIR/server.log" || kw_die "server did not start"
}

# en_client NS ADDR LOG: a silent client (no keepalive of its own); waits for its accept.
en_client() {
	kw_bg "$1" "$3" "${WD_PY[@]}" client "$2" 2000
	kw_wait 5 grep -q connected "$3" || kw_die "client did not connect"
}

# en_opts PEER-IP: the server's last reported keepalive of the connection from PEER-IP.
en_opts() { grep " opts peer=$1:" "$WD_DIR/server.log" | tail -1 | grep -oE 'on=.*'; }

# en_opts_wait SECONDS PEER-IP WANT
en_opts_wait() { kw_wait "$1" bash -c "grep ' opts peer=$2:' '$WD_DIR/server.log' | tail -1 | grep -q '$3'"; }

en_cap_ptrace() { # PID: 0 when CAP_SYS_PTRACE (bit 19) is in its effective set
	local eff
	eff=$(awk '/^CapEff:/ {print $2}' "/proc/$1/status")
	(((0x$eff >> 19) & 1))
}

en_no_cap_ptrace() { ! en_cap_ptrace "$1"; }

# --- 1: the origin bug; one client loses power, another stays healthy and silent ---
wd_pair 4
kw_ns NS_CLI2 c2x
kw_veth "$NS_SRV" kwsrv1 79 "$NS_CLI2" kwcli1 80
kw_addr "$NS_SRV" kwsrv1 10.78.0.1/24
kw_addr "$NS_CLI2" kwcli1 10.78.0.2/24
en_server --keepalive bug
wd_control
en_client "$NS_CLI" 10.77.0.1 "$WD_DIR/dead.log"
en_client "$NS_CLI2" 10.78.0.1 "$WD_DIR/healthy.log"
kw_check "origin bug: the server's keepalive is off before keepwatchd" \
	en_opts_wait 3 10.77.0.2 "on=0 idle=10 intvl=1 cnt=2"
wd_config "$WD_DIR/kw.ini" "keepalive_probes = 2" "enforce_keepalive = 2s, 1s"
sed -i "s|^log = syslog|log = syslog\nmetrics_file = $WD_DIR/kw.prom|" "$WD_DIR/kw.ini"
wd_daemon "$WD_DIR/kw.ini" -v
kw_check "CAP_SYS_PTRACE kept while a service enforces" en_cap_ptrace "$WD_DAEMON"
# the owner's faster interval (1 s) stays; idle 10 -> 2; count 2 -> 5 so that keepwatchd's
# 2-probe verdict comes before the kernel's own timeout
kw_check "origin bug: keepalive on, 2,1,5 on the dead peer's socket" \
	en_opts_wait 5 10.77.0.2 "on=1 idle=2 intvl=1 cnt=5"
kw_check "origin bug: same on the healthy peer's socket" \
	en_opts_wait 5 10.78.0.2 "on=1 idle=2 intvl=1 cnt=5"
kw_check "action=enforce-keepalive logged with the owner's pid and what it had" \
	kw_grep_wait 2 "$KW_SYSLOG" "keepwatchd\[$WD_DAEMON\]: action=enforce-keepalive service=relay src=10.77.0.1:2000 dst=10.77.0.2:[0-9]+ pid=$EN_SERVER idle=2 intvl=1 cnt=5 was=off,10,1,2"
t0=$(kw_mono_ms)
wd_poweroff "$NS_CLI"
pat=$(wd_kill_pattern kill keepalive)
if kw_grep_wait 12 "$KW_SYSLOG" "$pat"; then
	kw_ok "origin bug: powered-off peer killed, reason=keepalive, $(wd_ms_since "$t0" "$pat") ms after power-off"
else
	kw_fail "origin bug: no '$pat' within 12 s"
	tail -5 "$KW_SYSLOG"
fi
kw_check "origin bug: the server read ECONNABORTED" \
	kw_grep_wait 5 "$WD_DIR/server.log" "close peer=10.77.0.2:[0-9]+ errno=103"
sleep 10
kw_check "healthy silent peer of the same service alive 10 s later" \
	bash -c "! grep -q 'close peer=10.78.0.2' '$WD_DIR/server.log' && ip netns exec '$NS_SRV' ss -Htn state established '( sport = :2000 )' | grep -q 10.78.0.2"
kw_check "exactly one kill" test "$(wd_kills)" -eq 1
kw_check "control connection (unwatched port) untouched" wd_control_alive
kw_check "metrics: two connections enforced" \
	kw_grep_wait 3 "$WD_DIR/kw.prom" '^keepwatch_keepalive_enforced_total\{service="relay"\} 2$'
wd_teardown
ip netns del "$NS_CLI2" 2>/dev/null

# --- 1b: nothing else happens after the enforcement (no new connection, no discovery): the
# poller must still follow the keepalive timer that now runs ---
wd_pair 4
en_server --keepalive bug
en_client "$NS_CLI" 10.77.0.1 "$WD_DIR/client.log"
wd_config "$WD_DIR/kw.ini" "keepalive_probes = 2" "enforce_keepalive = 4s, 1s"
wd_daemon "$WD_DIR/kw.ini" -v
kw_grep_wait 5 "$KW_SYSLOG" "keepwatchd\[$WD_DAEMON\]: action=enforce-keepalive" ||
	kw_fail "lone connection: not enforced"
t0=$(kw_mono_ms)
wd_poweroff "$NS_CLI"
pat=$(wd_kill_pattern kill keepalive)
if kw_grep_wait 15 "$KW_SYSLOG" "$pat"; then
	kw_ok "lone connection: powered-off peer killed $(wd_ms_since "$t0" "$pat") ms after power-off (4 s idle + 2 x 1 s)"
else
	kw_fail "lone connection: no '$pat' within 15 s (the poller did not follow the new timer)"
fi
wd_teardown

# --- 1c: found while still in the accept queue (no owner, no inode yet), enforced once
# accepted ---
wd_pair 4
en_server --accept-after 3
en_client "$NS_CLI" 10.77.0.1 "$WD_DIR/client.log"
wd_config "$WD_DIR/kw.ini" "keepalive_probes = 2" "enforce_keepalive = 4s, 1s"
wd_daemon "$WD_DIR/kw.ini" -v
kw_check "accept queue: enforced once accepted" \
	kw_grep_wait 8 "$KW_SYSLOG" "keepwatchd\[$WD_DAEMON\]: action=enforce-keepalive service=relay src=10.77.0.1:2000 .* pid=$EN_SERVER idle=4 intvl=1 "
kw_check "accept queue: its socket has keepalive on" en_opts_wait 2 10.77.0.2 "on=1 idle=4 intvl=1"
kw_check "accept queue: no failure logged" \
	bash -c "! grep -q 'keepwatchd\[$WD_DAEMON\]: action=enforce-failed' '$KW_SYSLOG'"
wd_teardown

# --- 1d: --list with an enforcing service lists, changes no socket, exits 0 (and, in the
# sanitizer build, leaks nothing) ---
wd_pair 4
en_server
en_client "$NS_CLI" 10.77.0.1 "$WD_DIR/client.log"
wd_config "$WD_DIR/kw.ini" "keepalive_probes = 2" "enforce_keepalive = 4s, 1s"
kw_check "--list with enforce_keepalive: exit 0, the connection listed" \
	bash -c "ip netns exec '$NS_SRV' '$KW_BUILD/keepwatchd' --list -c '$WD_DIR/kw.ini' 2>&1 | grep -q '^relay .*10.77.0.2:'"
sleep 0.3
kw_check "--list with enforce_keepalive: the socket unchanged" \
	test "$(en_opts 10.77.0.2)" = "on=0 idle=7200 intvl=75 cnt=9"
wd_teardown

# --- 2: an owner with 60,10,9 is tightened; 3: a faster owner is left alone ---
for case in "60,10,9:on=1 idle=5 intvl=2 cnt=9:tightened" "1,1,3:on=1 idle=1 intvl=1 cnt=3:left alone"; do
	ka=${case%%:*} rest=${case#*:}
	want=${rest%%:*} what=${rest#*:}
	wd_pair 4
	en_server --keepalive "$ka"
	en_client "$NS_CLI" 10.77.0.1 "$WD_DIR/client.log"
	wd_config "$WD_DIR/kw.ini" "keepalive_probes = 2" "enforce_keepalive = 5s, 2s"
	wd_daemon "$WD_DIR/kw.ini" -v
	if [ "$what" = tightened ]; then
		kw_check "owner $ka $what to: $want" en_opts_wait 5 10.77.0.2 "$want"
		kw_check "owner $ka: was=on,60,10,9 logged" \
			kw_grep_wait 2 "$KW_SYSLOG" "keepwatchd\[$WD_DAEMON\]: action=enforce-keepalive .* idle=5 intvl=2 cnt=9 was=on,60,10,9"
	else
		kw_check "owner $ka: keepalive-kept reason=owner-faster logged" \
			kw_grep_wait 5 "$KW_SYSLOG" "keepwatchd\[$WD_DAEMON\]: action=keepalive-kept .* reason=owner-faster"
		kw_check "owner $ka $what: $want" test "$(en_opts 10.77.0.2)" = "$want"
		kw_check "owner $ka: no enforce-keepalive line" bash -c "! grep -q 'keepwatchd\[$WD_DAEMON\]: action=enforce-keepalive' '$KW_SYSLOG'"
	fi
	wd_teardown
done

# --- 4: dry-run changes nothing ---
wd_pair 4
en_server --keepalive bug
en_client "$NS_CLI" 10.77.0.1 "$WD_DIR/client.log"
wd_config "$WD_DIR/kw.ini" "keepalive_probes = 2" "enforce_keepalive = 2s, 1s"
wd_daemon "$WD_DIR/kw.ini" -v --dry-run
kw_check "dry-run: action=would-enforce logged" \
	kw_grep_wait 5 "$KW_SYSLOG" "keepwatchd\[$WD_DAEMON\]: action=would-enforce service=relay src=10.77.0.1:2000 .* idle=2 intvl=1 cnt=5 was=off,10,1,2"
sleep 1
kw_check "dry-run: the socket is unchanged" test "$(en_opts 10.77.0.2)" = "on=0 idle=10 intvl=1 cnt=2"
kw_check "dry-run: no enforce-keepalive line" bash -c "! grep -q 'keepwatchd\[$WD_DAEMON\]: action=enforce-keepalive' '$KW_SYSLOG'"
wd_teardown

# --- 5: a prefork server: each session lives in a child ---
wd_pair 4
en_server --prefork
wd_config "$WD_DIR/kw.ini" "keepalive_probes = 2" "enforce_keepalive = 3s, 1s"
wd_daemon "$WD_DIR/kw.ini" -v
for n in 1 2 3; do
	kw_bg "$NS_CLI" "$WD_DIR/client$n.log" "${WD_PY[@]}" client 10.77.0.1 2000
	kw_wait 5 grep -q connected "$WD_DIR/client$n.log" || kw_die "client $n did not connect"
	port=$(grep -oE 'local=[0-9]+' "$WD_DIR/client$n.log" | cut -d= -f2)
	kw_grep_wait 5 "$WD_DIR/server.log" "accept peer=10.77.0.2:$port " || kw_die "no accept $n"
	child=$(grep -E "accept peer=10.77.0.2:$port " "$WD_DIR/server.log" | grep -oE 'pid=[0-9]+' | cut -d= -f2)
	kw_check "prefork: session $n in child $child (not the listener $EN_SERVER), enforced" \
		kw_grep_wait 5 "$KW_SYSLOG" "keepwatchd\[$WD_DAEMON\]: action=enforce-keepalive service=relay src=10.77.0.1:2000 dst=10.77.0.2:$port pid=$child idle=3 intvl=1 "
	if [ -z "$child" ] || [ "$child" = "$EN_SERVER" ]; then
		kw_fail "prefork: session $n not in a child"
	fi
done
kw_check "prefork: the child's socket has keepalive on" en_opts_wait 2 10.77.0.2 "on=1 idle=3 intvl=1"
# after the first, owners come from the cache: the listener holder's children
kw_check "prefork: later sessions found without scanning every process" \
	bash -c "grep -E 'keepwatchd\\[$WD_DAEMON\\]: event=enforce queued=[1-9]' '$KW_SYSLOG' | tail -2 | grep -c 'full_scans=0' | grep -qx 2"
wd_teardown

# --- 6: an owner running as another user (nobody): its /proc/PID/fd is closed to root
# without CAP_DAC_READ_SEARCH, its fdinfo is not ---
# (the system's python: a shim under /root would not run as nobody)
# nobody must be able to read the peer: the checkout may sit under a 0700 directory (a
# fresh clone in mktemp -d does), so a copy goes where nobody can reach it.
chmod 711 "$KW_TMP"
mkdir -p "$KW_TMP/pub" && chmod 755 "$KW_TMP/pub"
install -m 644 "$KW_SRC/tests/integration/enforce_peer.py" "$KW_SRC/tests/lib/peer.py" \
	"$KW_TMP/pub/"
wd_pair 4
kw_bg "$NS_SRV" "$WD_DIR/server.log" setpriv --reuid=65534 --regid=65534 --clear-groups \
	/usr/bin/python3 -u "$KW_TMP/pub/enforce_peer.py" 0.0.0.0 2000
kw_wait 5 grep -q listening "$WD_DIR/server.log" || kw_die "server (nobody) did not start"
EN_SERVER=$(grep -oE 'pid=[0-9]+' "$WD_DIR/server.log" | head -1 | cut -d= -f2)
en_client "$NS_CLI" 10.77.0.1 "$WD_DIR/client.log"
wd_config "$WD_DIR/kw.ini" "keepalive_probes = 2" "enforce_keepalive = 4s, 2s"
wd_daemon "$WD_DIR/kw.ini" -v
kw_check "owner as nobody: enforced (pid $EN_SERVER)" \
	kw_grep_wait 5 "$KW_SYSLOG" "keepwatchd\[$WD_DAEMON\]: action=enforce-keepalive service=relay src=10.77.0.1:2000 .* pid=$EN_SERVER idle=4 intvl=2 "
kw_check "owner as nobody: its socket has keepalive on" en_opts_wait 2 10.77.0.2 "on=1 idle=4 intvl=2"
wd_teardown

# --- 6b: dual-stack: a [::] listener, an IPv6 client and an IPv4 one (v4-mapped) ---
wd_pair 6
kw_bg "$NS_SRV" "$WD_DIR/server.log" "${EP[@]}" :: 2000
kw_wait 5 grep -q listening "$WD_DIR/server.log" || kw_die "server [::] did not start"
en_client "$NS_CLI" fd77::1 "$WD_DIR/client6.log"
en_client "$NS_CLI" 10.77.0.1 "$WD_DIR/client4.log"
wd_config "$WD_DIR/kw.ini" "keepalive_probes = 2" "enforce_keepalive = 4s, 2s"
wd_daemon "$WD_DIR/kw.ini" -v
kw_check "dual-stack: the IPv6 connection enforced" \
	kw_grep_wait 5 "$KW_SYSLOG" "keepwatchd\[$WD_DAEMON\]: action=enforce-keepalive service=relay src=\[fd77::1\]:2000 dst=\[fd77::2\]:"
kw_check "dual-stack: the v4-mapped connection enforced" \
	kw_grep_wait 5 "$KW_SYSLOG" "keepwatchd\[$WD_DAEMON\]: action=enforce-keepalive service=relay src=(\[::ffff:)?10.77.0.1\]?:2000 "
kw_check "dual-stack: both sockets have keepalive on" \
	kw_wait 3 bash -c "[ \$(grep -c ' opts .* on=1 idle=4 intvl=2' '$WD_DIR/server.log') = 2 ]"
wd_teardown

# --- 6c: reloads: a tighter setting reaches existing connections; off drops the capability
wd_pair 4
en_server
en_client "$NS_CLI" 10.77.0.1 "$WD_DIR/client.log"
wd_config "$WD_DIR/kw.ini" "keepalive_probes = 2" "enforce_keepalive = 6s, 3s"
wd_daemon "$WD_DIR/kw.ini" -v
kw_check "reload: first enforced at 6,3" en_opts_wait 5 10.77.0.2 "on=1 idle=6 intvl=3"
wd_config "$WD_DIR/kw.ini" "keepalive_probes = 2" "enforce_keepalive = 3s, 1s"
kill -HUP "$WD_DAEMON"
kw_check "reload: a tighter setting reaches the existing connection" \
	en_opts_wait 5 10.77.0.2 "on=1 idle=3 intvl=1"
wd_config "$WD_DIR/kw.ini" "keepalive_probes = 2"
kill -HUP "$WD_DAEMON"
kw_check "reload to off: CAP_SYS_PTRACE given up (logged)" \
	kw_grep_wait 5 "$KW_SYSLOG" "keepwatchd\[$WD_DAEMON\]: event=privileges caps=CAP_NET_ADMIN note=\"CAP_SYS_PTRACE dropped"
kw_check "reload to off: CAP_SYS_PTRACE no longer held" en_no_cap_ptrace "$WD_DAEMON"
wd_config "$WD_DIR/kw.ini" "keepalive_probes = 2" "enforce_keepalive = 3s, 1s"
kill -HUP "$WD_DAEMON"
kw_check "reload back on: says a restart is needed" \
	kw_grep_wait 5 "$KW_SYSLOG" "keepwatchd\[$WD_DAEMON\]: event=privileges warning=\"enforce_keepalive set by a reload, but CAP_SYS_PTRACE was dropped"
wd_teardown

# --- 7: CAP_SYS_PTRACE absent when no service enforces ---
wd_pair 4
wd_config "$WD_DIR/kw.ini" "keepalive_probes = 2"
wd_daemon "$WD_DIR/kw.ini"
kw_check "no enforce_keepalive: CAP_SYS_PTRACE not held" en_no_cap_ptrace "$WD_DAEMON"
wd_teardown

# --check: keepalive_probes must be > 0 where enforce_keepalive is set
printf '[service a]\nlocal_ports = 2000\nkeepalive_probes = 0\nidle_timeout = 1m\nenforce_keepalive = 30s, 5s\n' >"$KW_TMP/bad.ini"
kw_check "--check refuses enforce_keepalive with keepalive_probes = 0" \
	bash -c "! '$KW_BUILD/keepwatchd' --check -c '$KW_TMP/bad.ini' 2>'$KW_TMP/check.err' && grep -q 'bad.ini:1: \[service a\]: enforce_keepalive is set but keepalive_probes = 0' '$KW_TMP/check.err'"
kw_done
