#!/usr/bin/env bash
# keepwatch: keepwatchd under a real systemd — the .deb installed with dpkg into a minimal
# Debian 12 (debootstrap minbase, cached), booted with systemd-nspawn on a private network,
# and checked by systemd itself: readiness, STATUS=, journal, reload (good and bad), a bad
# config at start (failed, no restart loop), a crash and a hang (restarted), stop, a User=
# drop-in, a kill through the sandbox, and `systemd-analyze security` <= 2.5.
#
# The root is built once under $KW_DEBIAN_CACHE (default /var/cache/keepwatch-tests) from
# the Debian mirror apt is configured with (KW_DEBIAN_MIRROR overrides), with the .deb's
# dependencies preinstalled; a change of dependencies builds a new one. That takes about a
# minute with a fast mirror (35 s here), several on a slow one; the rest takes ~20 s.
# The container has its own network namespace: keepwatchd inside kills nothing on the host.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/debroot.sh"

kw_init kwt-sysd
kw_require_root
for tool in systemd-nspawn debootstrap nsenter cpack dpkg-deb findmnt flock timeout; do
	command -v "$tool" >/dev/null || kw_skip "$tool not installed (tests/deps.sh installs it)"
done
[ -f "$KW_BUILD/CPackConfig.cmake" ] || kw_skip "no configured build in $KW_BUILD"
grep -qx 'CMAKE_INSTALL_PREFIX:PATH=/usr' "$KW_BUILD/CMakeCache.txt" ||
	kw_skip "$KW_BUILD is not configured with -DCMAKE_INSTALL_PREFIX=/usr, which a .deb needs"
"$KW_BUILD/keepwatchd" --version 2>/dev/null | grep -q '+libsystemd' ||
	kw_skip "keepwatchd built without libsystemd: its unit is Type=simple, nothing to test"
CG2=$(findmnt -n -t cgroup2 -o TARGET | head -n1)
[ -n "$CG2" ] || kw_skip "no cgroup2 mount: systemd-nspawn cannot boot a container here"

SHARE="$KW_TMP/share"
CONF=/etc/keepwatch/keepwatch.ini
NSPAWN_PID=""
CG=""
LEADER=""
mkdir -p "$SHARE"

# ---- teardown: the container, then its cgroups (nspawn leaves payload/ and supervisor/
# behind, in the cgroup2 tree and in the name=systemd one of a hybrid layout) ---------------
sysd_cleanup() {
	local d
	if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
		kill -TERM "$NSPAWN_PID" 2>/dev/null # nspawn powers the container off
		for _ in $(seq 1 100); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$NSPAWN_PID" 2>/dev/null && [ -f "$CG/cgroup.kill" ] && echo 1 >"$CG/cgroup.kill"
		kill -KILL "$NSPAWN_PID" 2>/dev/null
		wait "$NSPAWN_PID" 2>/dev/null
	fi
	if [ -n "$CG" ] && [ -d "$CG" ]; then
		[ -f "$CG/cgroup.kill" ] && echo 1 >"$CG/cgroup.kill" 2>/dev/null
		for _ in $(seq 1 50); do [ -z "$(cat "$CG/cgroup.procs" 2>/dev/null)" ] && break; sleep 0.1; done
	fi
	for d in "$CG" "/sys/fs/cgroup/systemd/$KW_PREFIX"; do
		if [ -z "$d" ] || [ ! -d "$d" ]; then continue; fi
		case "$d" in */kwt-sysd-*) ;; *) continue ;; esac
		for _ in $(seq 1 20); do
			find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
			[ -d "$d" ] || break
			sleep 0.1
		done
	done
	kw_cleanup
}
trap sysd_cleanup EXIT

# ---- the package -------------------------------------------------------------------------
(cd "$KW_TMP" && cpack -G DEB --config "$KW_BUILD/CPackConfig.cmake" -B "$KW_TMP/pkg") \
	>"$KW_TMP/cpack.log" 2>&1 || { cat "$KW_TMP/cpack.log"; kw_die "cpack -G DEB failed"; }
DEB=$(find "$KW_TMP/pkg" -maxdepth 1 -name '*.deb' 2>/dev/null | head -n1)
[ -f "$DEB" ] || kw_die "cpack built no .deb"
cp "$DEB" "$SHARE/keepwatch.deb"
DEPS=$(dpkg-deb -f "$DEB" Depends | tr ',' '\n' | sed 's/[(|].*//; s/[[:space:]]//g' | grep . | sort -u)

# ---- the root: debootstrap minbase once, cached (tests/lib/debroot.sh) ----------------------
ROOT=""
# shellcheck disable=SC2086 # DEPS is a list of package names
kw_debroot ROOT bookworm-minbase systemd systemd-sysv $DEPS

# ---- boot ---------------------------------------------------------------------------------
# In a cgroup of its own (nspawn moves itself into payload/ and supervisor/ below the
# cgroup it starts in); --volatile=overlay: the cached root is never written.
# --system-call-filter=pidfd_getfd: nspawn's own seccomp filter (systemd 252) refuses it to
# the whole container with EPERM, even with CAP_SYS_PTRACE; enforce_keepalive needs it
# (a host's keepwatchd runs under the unit's filter alone). The same for bpf, and
# --capability=CAP_BPF,CAP_PERFMON, which nspawn leaves out of the container's bounding set:
# the sock_ops hook then loads under the unit's sandbox and attaches at the container's
# cgroup2 root, which is the test's own cgroup (never the host's root).
CG="$CG2/$KW_PREFIX"
mkdir "$CG" || kw_skip "cannot create a cgroup under $CG2"
t0=$(kw_mono_ms)
(
	echo "$BASHPID" >"$CG/cgroup.procs" || exit 1
	exec env SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn -q -D "$ROOT" --boot \
		--register=no --keep-unit --private-network --volatile=overlay \
		--machine="$KW_PREFIX" --bind-ro="$SHARE:/kw" --system-call-filter='pidfd_getfd bpf' \
		--capability=CAP_BPF,CAP_PERFMON
) >"$KW_TMP/console.log" 2>&1 </dev/null &
NSPAWN_PID=$!

# the container's init: nspawn's child named systemd (its first child can be the outer
# child that forks it and exits, whose PID then names nothing)
leader() {
	LEADER=$(ps -o pid=,comm= --ppid "$NSPAWN_PID" 2>/dev/null | awk '$2 == "systemd" { print $1; exit }')
	[ -n "$LEADER" ]
}
kw_wait 10 leader || { cat "$KW_TMP/console.log"; kw_skip "systemd-nspawn did not start a container"; }
C() { timeout 30 nsenter -t "$LEADER" -a "$@"; }
booted() { leader && case "$(C systemctl is-system-running 2>/dev/null)" in running | degraded) return 0 ;; esac; return 1; }
# 60 s: on a loaded 2-CPU machine the boot's last jobs have been seen to take over 30
if ! kw_wait 60 booted; then
	tail -n 20 "$KW_TMP/console.log"
	C systemctl list-jobs --no-pager 2>&1 | head -n 20
	kw_skip "the container's systemd did not finish booting in 60 s"
fi
echo "# booted in $(($(kw_mono_ms) - t0)) ms ($(C systemctl --version | head -n1))"

# ---- helpers ------------------------------------------------------------------------------
prop() { C systemctl show -P "$1" keepwatchd; }
journal() { C journalctl -q -o cat -u keepwatchd --no-pager; }
journal_has() { journal | grep -Eq -- "$1"; }
journal_count() { journal | grep -Ec -- "$1"; }
state_is() { [ "$(prop ActiveState)/$(prop SubState)" = "$1" ]; }
# signal SIG PID: bash's kill inside the container (no /bin/kill there), never to 0 or 1.
signal() { case "$2" in '' | *[!0-9]* | 0 | 1) return 1 ;; esac; C bash -c "kill -$1 $2"; }
put_config() { C sh -c "cat >$CONF" <"$1"; }

# A service on port 2000 in the container's network namespace; idle connections die in 3 s.
GOOD="$KW_TMP/good.ini"
cat >"$GOOD" <<'EOF'
[global]
poll_interval = 200ms
log = syslog
[service relay]
local_ports = 2000
idle_timeout = 3s
on_link_loss = kill
EOF
BAD="$KW_TMP/bad.ini"
cp "$GOOD" "$BAD"
printf 'poll_interval = 10 parsecs\n' >>"$BAD" # line 8, in [service relay]

C dpkg -i /kw/keepwatch.deb >"$KW_TMP/dpkg.log" 2>&1
rc=$?
kw_check "dpkg -i keepwatch.deb on minbase bookworm" test $rc = 0
[ $rc = 0 ] || cat "$KW_TMP/dpkg.log"
kw_check "minimal install: no /bin/kill (procps absent)" C sh -c '! command -v kill >/dev/null 2>&1 || [ "$(command -v kill)" = kill ]'
put_config "$GOOD"
# LeakSanitizer's exit check needs ptrace, which the unit's SystemCallFilter rightly
# refuses: a sanitizer build runs with detect_leaks=0 here (the sandbox is unchanged).
if grep -q __asan_init "$KW_BUILD/keepwatchd"; then
	echo "# ASan build: Environment=ASAN_OPTIONS=detect_leaks=0 in a drop-in"
	C mkdir -p /etc/systemd/system/keepwatchd.service.d
	printf '[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0\n' |
		C sh -c 'cat >/etc/systemd/system/keepwatchd.service.d/sanitizer.conf'
	C systemctl daemon-reload
fi

# ---- a connection to watch, before keepwatchd starts -------------------------------------------
# Host tools in the container's network namespace (ours, private): a server on port 2000 and
# one idle client. READY=1 must come after the first socket dump, so STATUS= sent with it
# already counts this connection.
NETNS="/proc/$LEADER/ns/net"
nsenter --net="$NETNS" ip link set lo up 2>/dev/null
PY=(python3 -u "$KW_SRC/tests/lib/peer.py")
nsenter --net="$NETNS" "${PY[@]}" server 127.0.0.1 2000 >"$KW_TMP/server.log" 2>&1 </dev/null &
KW_PIDS+=("$!")
kw_wait 5 grep -q listening "$KW_TMP/server.log" || kw_die "server did not start"
nsenter --net="$NETNS" "${PY[@]}" client 127.0.0.1 2000 >"$KW_TMP/client.log" 2>&1 </dev/null &
KW_PIDS+=("$!")
kw_wait 5 grep -q accept "$KW_TMP/server.log" || kw_die "client did not connect"

# ---- start: returns once READY=1, active (running), journal, STATUS= -------------------------
t0=$(kw_mono_ms)
C systemctl start keepwatchd
rc=$?
echo "# systemctl start took $(($(kw_mono_ms) - t0)) ms"
kw_check "systemctl start: exit 0" test "$rc" = 0
kw_check "active (running) when start returns" state_is active/running
PID1=$(prop MainPID)
typ="$(prop Type)/$(prop WatchdogUSec)"
kw_check "Type=notify with a watchdog (notify/30s)" test "$typ" = notify/30s
[ "$typ" = notify/30s ] || echo "# Type/WatchdogUSec: $typ"
kw_check "journal: event=start" kw_wait 5 journal_has "^event=start version=.* config=$CONF services=1 "
status=$(prop StatusText)
echo "# STATUS=$status"
kw_check "STATUS= at READY=1 names what is watched, the first socket dump done" \
	test "$status" = "watching 1 connection of 1 service (relay), 0 links down, kills: destroy"
kw_check "CAP_NET_ADMIN only" C grep -qx 'CapEff:.*0000000000001000' "/proc/$PID1/status"
kw_check "the sock_ops hook attached under the unit's sandbox (CAP_BPF, bpf() allowed)" \
	journal_has '^event=sockops state=attached cgroup=/sys/fs/cgroup '

# ---- a kill through the sandbox (sock_diag destroy under SystemCallFilter etc.) -------------
kw_check "the idle connection is killed from inside the sandbox" \
	kw_wait 10 journal_has '^action=kill reason=idle service=relay '
kw_check "the server saw it closed" kw_wait 5 grep -q close "$KW_TMP/server.log"

# ---- reload: good, then bad ------------------------------------------------------------------
C systemctl reload keepwatchd
kw_check "systemctl reload: exit 0 (no /bin/kill needed)" test $? = 0
kw_check "journal: event=reload" kw_wait 5 journal_has '^event=reload file='
kw_check "still active (running), same PID after reload" \
	bash -c "[ '$(prop ActiveState)/$(prop SubState)/$(prop MainPID)' = 'active/running/$PID1' ]"
# The nft kill method through the sandbox: a reload to kill_method = nft makes the table
# (NETLINK_NETFILTER under RestrictAddressFamilies= and the syscall filter).
sed 's/^\[service relay\]/kill_method = nft\n&/' "$GOOD" >"$KW_TMP/nft.ini"
put_config "$KW_TMP/nft.ini"
C systemctl reload keepwatchd
kw_check "reload to kill_method = nft: event=kill-method method=nft" \
	kw_wait 5 journal_has '^event=kill-method method=nft '
kw_check "nft: the daemon's table exists in the container's network" \
	nsenter --net="$NETNS" nft list table inet keepwatch
kw_check "nft: no error logged" bash -c "! timeout 10 nsenter -t $LEADER -a journalctl -q -o cat -u keepwatchd --no-pager | grep -q '^action=error'"
put_config "$GOOD"
reloads=$(journal_count '^event=reload file=')
put_config "$BAD"
C systemctl reload keepwatchd 2>/dev/null
kw_check "bad config: systemctl reload fails" test $? != 0
kw_check "bad config on reload: the journal names $CONF:8" kw_wait 5 journal_has "^$CONF:8: "
sleep 0.5
kw_check "bad config on reload: still active (running), same PID" \
	bash -c "[ '$(prop ActiveState)/$(prop SubState)/$(prop MainPID)' = 'active/running/$PID1' ]"
kw_check "bad config on reload: the daemon did not reload" test "$(journal_count '^event=reload file=')" = "$reloads"
put_config "$GOOD"

# ---- a crash restarts it; so does a hang (the watchdog) -----------------------------------------
signal KILL "$PID1"
restarted() { state_is active/running && [ "$(prop MainPID)" != "$PID1" ] && [ "$(prop MainPID)" != 0 ]; }
kw_check "SIGKILL: restarted (Restart=on-abnormal)" kw_wait 10 restarted
kw_check "SIGKILL: NRestarts=1" test "$(prop NRestarts)" = 1
C mkdir -p /run/systemd/system/keepwatchd.service.d
printf '[Service]\nWatchdogSec=2s\n' | C sh -c 'cat >/run/systemd/system/keepwatchd.service.d/wd.conf'
C systemctl daemon-reload
C systemctl restart keepwatchd
PID2=$(prop MainPID)
sleep 4 # two watchdog periods: pinged, not killed
kw_check "watchdog 2 s: pinged from the loop, alive after 4 s" \
	bash -c "[ '$(prop MainPID)/$(prop ActiveState)' = '$PID2/active' ]"
signal STOP "$PID2"
hung_restarted() { [ "$(prop MainPID)" != "$PID2" ] && state_is active/running; }
kw_check "a hung daemon (SIGSTOP) is restarted by the watchdog" kw_wait 10 hung_restarted
kw_check "journal: watchdog timeout" journal_has 'Watchdog timeout'
C rm -f /run/systemd/system/keepwatchd.service.d/wd.conf
C systemctl daemon-reload

# ---- netns =: the helper enters another namespace from inside the sandbox -----------------------
# (CapabilityBoundingSet= with CAP_SYS_ADMIN, RestrictNamespaces=net, setns under the filter)
C sh -c 'mkdir -p /run/netns && touch /run/netns/kwt-unit && unshare --net=/run/netns/kwt-unit true'
kw_check "netns: a namespace in the container" test "$(C stat -f -c %T /run/netns/kwt-unit)" = nsfs
{ cat "$GOOD"; printf '[service pods]\nlocal_ports = 2999\nnetns = kwt-unit\n'; } >"$KW_TMP/ns.ini"
put_config "$KW_TMP/ns.ini"
nsups=$(journal_count '^event=netns-up netns=kwt-unit ')
C systemctl restart keepwatchd
kw_check "netns: the service's namespace opened through the helper" \
	kw_wait 5 bash -c "[ \$(timeout 10 nsenter -t $LEADER -a journalctl -q -o cat -u keepwatchd --no-pager | grep -c '^event=netns-up netns=kwt-unit services=pods') -gt $nsups ]"
kw_check "netns: no netns-open error" bash -c "! timeout 10 nsenter -t $LEADER -a journalctl -q -o cat -u keepwatchd --no-pager | grep -q 'what=netns-open'"
PIDN=$(prop MainPID)
HELPER=$(C cat "/proc/$PIDN/task/$PIDN/children" | tr -d " ") # no pgrep: procps is absent
kw_check "netns: the main process keeps CAP_NET_ADMIN only" C grep -qx 'CapEff:.*0000000000001000' "/proc/$PIDN/status"
# CAP_DAC_OVERRIDE (1), CAP_NET_ADMIN (12), CAP_SYS_ADMIN (21); CAP_SYS_PTRACE (19) was given
# up before the helper was forked, as the hook is in use: no process of keepwatchd holds it
kw_check "netns: the main process's one child is keepwatchd-ns" test "$(C cat "/proc/${HELPER:-0}/comm")" = keepwatchd-ns
kw_check "netns, the hook in use: the helper holds SYS_ADMIN, NET_ADMIN, DAC_OVERRIDE, not SYS_PTRACE" \
	C grep -qx 'CapEff:.*0000000000201002' "/proc/${HELPER:-0}/status"
put_config "$GOOD"
C systemctl restart keepwatchd
C sh -c 'umount /run/netns/kwt-unit; rm -f /run/netns/kwt-unit'

# ---- stop --------------------------------------------------------------------------------------
C systemctl stop keepwatchd
kw_check "systemctl stop: exit 0" test $? = 0
kw_check "stopped: inactive (dead), Result=success" \
	bash -c "[ '$(prop ActiveState)/$(prop SubState)/$(prop Result)' = 'inactive/dead/success' ]"
kw_check "stopped: main process exit status 0" test "$(prop ExecMainStatus)" = 0
kw_check "journal: event=stop signal=Terminated" journal_has '^event=stop signal=Terminated'
kw_check "stopped: nothing left in the unit's cgroup" test -z "$(C cat /sys/fs/cgroup/system.slice/keepwatchd.service/cgroup.procs 2>/dev/null)"

# ---- a bad config at start: failed within seconds, no restart loop ---------------------------------
put_config "$BAD"
C systemctl reset-failed keepwatchd 2>/dev/null
t0=$(kw_mono_ms)
C systemctl start keepwatchd 2>/dev/null
rc=$?
echo "# failed start took $(($(kw_mono_ms) - t0)) ms"
kw_check "bad config: systemctl start fails" test "$rc" != 0
sleep 5 # two RestartSec= periods
kw_check "bad config: failed and stays failed" state_is failed/failed
kw_check "bad config: no restart (NRestarts=0)" test "$(prop NRestarts)" = 0
C systemctl status keepwatchd --no-pager -n 20 >"$KW_TMP/status.txt" 2>&1
kw_check "systemctl status shows $CONF:8" grep -q "$CONF:8: " "$KW_TMP/status.txt"
grep -q "$CONF:8: " "$KW_TMP/status.txt" || cat "$KW_TMP/status.txt"
put_config "$GOOD"
C systemctl reset-failed keepwatchd

# ---- User= drop-in ----------------------------------------------------------------------------
C useradd --system --no-create-home --shell /usr/sbin/nologin keepwatch
printf '[Service]\nUser=keepwatch\n' | C sh -c 'cat >/run/systemd/system/keepwatchd.service.d/user.conf'
C systemctl daemon-reload
C systemctl start keepwatchd
kw_check "User=keepwatch: start exit 0, active (running)" state_is active/running
PID3=$(prop MainPID)
uid=$(C id -u keepwatch)
kw_check "User=keepwatch: runs as uid $uid" C grep -Eq "^Uid:[[:space:]]+${uid}[[:space:]]" "/proc/$PID3/status"
kw_check "User=keepwatch: CAP_NET_ADMIN only" C grep -qx 'CapEff:.*0000000000001000' "/proc/$PID3/status"
C systemctl reload keepwatchd
kw_check "User=keepwatch: reload works" kw_wait 5 bash -c \
	"[ \$(timeout 10 nsenter -t $LEADER -a journalctl -q -o cat -u keepwatchd --no-pager | grep -c '^event=reload file=') -gt $reloads ]"
C systemctl stop keepwatchd
kw_check "User=keepwatch: stop, exit status 0" test "$(prop ExecMainStatus)" = 0
C rm -f /run/systemd/system/keepwatchd.service.d/user.conf
C systemctl daemon-reload

# ---- enforce_keepalive through the sandbox ----------------------------------------------------
# keepwatch-relay from the .deb, inside the container as nobody, without keepalive. With the
# hook (its listener's cgroup is the container's, where the program runs) keepwatchd holds
# CAP_NET_ADMIN alone and the program sets keepalive at the handshake; with sockops = off,
# keepwatchd (root, CAP_SYS_PTRACE kept) must see the relay under ProtectProc=invisible, read
# its /proc/PID/fd and pidfd_getfd its socket under SystemCallFilter=.
ENF="$KW_TMP/enforce.ini"
cat >"$ENF" <<'EOF'
[global]
poll_interval = 200ms
log = syslog
log_level = debug
[service fwd]
local_ports = 2100
keepalive_probes = 2
enforce_keepalive = 3s, 1s
EOF
nsenter --net="$NETNS" "${PY[@]}" sink 127.0.0.1 2200 >"$KW_TMP/sink.log" 2>&1 </dev/null &
KW_PIDS+=("$!")
kw_wait 5 grep -q listening "$KW_TMP/sink.log" || echo "# the sink did not start"
C systemd-run -q --unit=kwt-fwd -p User=nobody /usr/bin/keepwatch-relay \
	--listen 127.0.0.1:2100 --connect 127.0.0.1:2200 --keepalive off
kw_wait 5 bash -c "nsenter --net='$NETNS' ss -Hltn 'sport = :2100' | grep -q ." ||
	echo "# the relay is not listening"
list_enforced() {
	C env ASAN_OPTIONS=detect_leaks=0 /usr/sbin/keepwatchd --list 2>&1 |
		grep -Eq '^fwd .* (3,1,[0-9]+|handshake) +[^ ]+$'
}
state_kept() { C test -s /run/keepwatch/keepwatchd.state && list_enforced; }
for path in handshake fallback; do
	if [ $path = handshake ]; then
		put_config "$ENF"
		want_caps=0000000000001000 who='at=handshake' what="CAP_NET_ADMIN alone"
	else
		sed 's/^\[global\]$/[global]\nsockops = off/' "$ENF" >"$KW_TMP/enforce-off.ini"
		put_config "$KW_TMP/enforce-off.ini"
		want_caps=0000000000081000 who='pid=[0-9]+' what="CAP_NET_ADMIN and CAP_SYS_PTRACE"
	fi
	enforced=$(journal_count "^action=enforce-keepalive service=fwd src=127.0.0.1:2100 .* $who idle=3 intvl=1 ")
	C systemctl start keepwatchd
	PID4=$(prop MainPID)
	kw_check "enforce_keepalive ($path): $what" \
		C grep -qx "CapEff:.*$want_caps" "/proc/$PID4/status"
	nsenter --net="$NETNS" "${PY[@]}" client 127.0.0.1 2100 >"$KW_TMP/fwd-$path.log" 2>&1 </dev/null &
	KW_PIDS+=("$!")
	kw_check "enforce_keepalive ($path): the relay's socket (user nobody) enforced from inside the sandbox" \
		kw_wait 10 bash -c "[ \$(timeout 10 nsenter -t $LEADER -a journalctl -q -o cat -u keepwatchd --no-pager | grep -Ec '^action=enforce-keepalive service=fwd src=127.0.0.1:2100 .* $who idle=3 intvl=1 ') -gt $enforced ]"
	kw_check "enforce_keepalive ($path): no enforce-failed" bash -c \
		"! timeout 10 nsenter -t $LEADER -a journalctl -q -o cat -u keepwatchd --no-pager | grep -q '^action=enforce-failed'"
	kw_check "enforce_keepalive ($path): the kernel's keepalive timer runs on the relay's socket" \
		kw_wait 5 bash -c "nsenter --net='$NETNS' ss -Htno state established '( sport = :2100 )' | grep -q 'timer:(keepalive'"
	journal | grep -E '^(action=enforce|event=(enforce|privileges|sockops))' | tail -n 4 | sed 's/^/# /'
	# What it changed is on record where --list finds it: the state file in the unit's
	# RuntimeDirectory= (writable under ProtectSystem=strict), the default config path.
	kw_check "enforce_keepalive ($path): --list (default config) shows the socket in ENFORCED" \
		kw_wait 5 list_enforced
	C systemctl stop keepwatchd
	kw_check "stopped ($path): the state file stays (RuntimeDirectoryPreserve=), --list still shows it" \
		state_kept
done
C systemctl stop kwt-fwd
put_config "$GOOD"

# ---- systemd-analyze security ------------------------------------------------------------------
C systemd-analyze security keepwatchd --no-pager >"$KW_TMP/security.txt" 2>&1
score=$(sed -n 's/.*Overall exposure level for keepwatchd.service: \([0-9.]*\).*/\1/p' "$KW_TMP/security.txt")
echo "# systemd-analyze security keepwatchd: ${score:-?}"
kw_check "systemd-analyze security: exposure <= 2.5" awk -v s="${score:-99}" 'BEGIN { exit !(s <= 2.5) }'

kw_done
