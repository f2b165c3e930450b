#!/usr/bin/env bash
# keepwatch: the operator's first hour (issue 22), walked through as an operator would:
#  1. the README's install commands, run as they stand into a DESTDIR: the unit's config
#     path, the binary's default and the README name one file, and a bare --check and
#     --list read it; an install under another prefix is refused and leaves nothing;
#  2. `keepwatchd -c FILE` with no syslog and no -e: what it does is said on stderr, each
#     line with ts= and level=, the missing syslog said once;
#  3. on a terminal, with syslog working: the lines on the terminal as well;
#  4. enforce_keepalive at the default level: an action=enforce-keepalive line, --list's
#     ENFORCED column, the state file; stopped, the socket keeps it and --list says so;
#     dry run: action=would-enforce, nothing changed;
#  5. --reload of a process that is not keepwatchd: refused, the process unharmed; of a
#     file that needs a restart: refused, nothing reloaded; a bad file: its first error;
#  6. the command line: -V, --json alone, '#' comments;
#  7. every event= and action= this walk saw is in the man pages' LOG FORMAT, and the
#     sources' are too (tests/lint/log_events.py).
. "$(dirname "$0")/../lib/netns.sh"
. "$KW_SRC/tests/lib/wd.sh"

kw_init kwt-h22
kw_require_root
for tool in cmake unshare nsenter script python3 ss; do
	command -v "$tool" >/dev/null || kw_skip "$tool not installed"
done
KWD="$KW_BUILD/keepwatchd"
[ -x "$KWD" ] || kw_skip "keepwatchd not built in $KW_BUILD"
grep -qw overlay /proc/filesystems || kw_skip "no overlayfs (the install is looked at through one)"
kw_syslog_start
TS='ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}[+-][0-9]{2}:[0-9]{2}'
LEVEL='level=(err|warning|notice|info|debug)'

# every_line_stamped FILE: each line of FILE is "ts=... level=... event=|action=..."
every_line_stamped() {
	[ -s "$1" ] && ! grep -vE "^$TS $LEVEL (event|action)=" "$1" | grep -q .
}

# ---- 1. the README's install -------------------------------------------------------------
echo "# 1. the README's install commands, into a DESTDIR"
line=$(grep -m1 -E '^cmake -S \. -B build .*&& cmake --install build$' "$KW_SRC/README.md")
kw_check "README: the install command line" test -n "$line"
B="$KW_TMP/build"
R="$KW_TMP/root"
# as written, with the build directory in this test's own: the checkout is left alone
cmd=$(sed -E "s#(^| )build( |\$)#\\1$B\\2#g" <<<"$line")
echo "# $cmd"
t0=$(kw_mono_ms)
(cd "$KW_SRC" && DESTDIR="$R" bash -c "$cmd") >"$KW_TMP/install.log" 2>&1
rc=$?
echo "# built and installed in $((($(kw_mono_ms) - t0) / 1000)) s"
kw_check "the README's commands build and install" test $rc = 0 || tail -n 20 "$KW_TMP/install.log"
UNIT="$R/usr/lib/systemd/system/keepwatchd.service"
unit_conf=$(sed -n 's/^ExecStart=[^ ]*keepwatchd -c \([^ ]*\)$/\1/p' "$UNIT" 2>/dev/null)
bin_conf=$("$R/usr/sbin/keepwatchd" -h 2>/dev/null | sed -n 's/.*(default \([^)]*\)).*/\1/p')
readme_conf=$(sed -n '/^## Using it/,/^## /p' "$KW_SRC/README.md" |
	grep -oE '/[a-z/]+/keepwatch\.ini' | sort -u | paste -sd' ')
echo "# unit: $unit_conf; keepwatchd -h: $bin_conf; README: $readme_conf"
kw_check "the unit, the binary's default and the README name one config file" \
	test -n "$unit_conf" -a "$unit_conf" = "$bin_conf" -a "$bin_conf" = "$readme_conf"
kw_check "the install put the shipped config there" \
	cmp -s "$KW_SRC/etc/keepwatch.ini" "$R$unit_conf"
kw_check "keepwatchd(8) FILES names it" grep -qxF ".I $unit_conf" "$KW_SRC/etc/man/keepwatchd.8"
kw_check "the unit reloads and checks the same file" bash -c \
	"grep -qxF 'ExecReload=/usr/sbin/keepwatchd --reload \$MAINPID -c $unit_conf' '$UNIT' &&
	 grep -qxF 'ExecStartPre=/usr/sbin/keepwatchd --check -c $unit_conf' '$UNIT'"
# The installed /etc over the host's, in a mount namespace of its own (the host's /etc is
# not touched), in a network namespace of this test's: what an operator's bare commands
# find after the install.
kw_ns NS_I inst
as_installed() {
	nsenter --net="/run/netns/$NS_I" unshare -m --propagation private bash -c \
		'mount -t overlay kwt-h22 -o "lowerdir=$1/etc:/etc" /etc && shift && exec "$@"' \
		_ "$R" "$@"
}
out=$(as_installed "$R/usr/sbin/keepwatchd" --check 2>&1)
kw_check "a bare keepwatchd --check reads the installed file ($out)" \
	test "$out" = "config ok: $unit_conf, 1 service"
as_installed "$R/usr/sbin/keepwatchd" --list >"$KW_TMP/list0.txt" 2>&1
rc=$?
kw_check "a bare keepwatchd --list runs on it (exit 0, its table)" \
	bash -c "[ $rc = 0 ] && head -n1 '$KW_TMP/list0.txt' | grep -q '^SERVICE .* VERDICT'" ||
	cat "$KW_TMP/list0.txt"
DESTDIR="$KW_TMP/root2" cmake --install "$B" --prefix /opt/kwt >"$KW_TMP/install2.log" 2>&1
rc=$?
kw_check "an install under another prefix is refused, saying how to configure for it" \
	bash -c "[ $rc != 0 ] && grep -q 'DCMAKE_INSTALL_PREFIX=/opt/kwt' '$KW_TMP/install2.log'"
kw_check "... and leaves nothing behind" test ! -e "$KW_TMP/root2"
rm -rf "$B" "$R"

# ---- 2. no syslog, no -e -------------------------------------------------------------------
echo "# 2. keepwatchd -c FILE where nothing listens on /dev/log, without -e"
wd_pair 4
wd_relay_setup --keepalive off
cfg="$WD_DIR/kw.ini"
wd_config "$cfg"
KW_DEVLOG="$KW_TMP/nobody-listens.sock" kw_bg_syslog_ready 10 "$NS_SRV" "$WD_DIR/kwd.err" \
	"$KWD" -c "$cfg" --ready-fd 3 || { cat "$WD_DIR/kwd.err"; kw_die "keepwatchd did not start"; }
pid=$KW_LAST_PID
ip -n "$NS_CLI" link set kwcli0 down # the client's cable is pulled
kw_check "the kill is said on stderr, as a warning" kw_grep_wait 5 "$WD_DIR/kwd.err" \
	"^$TS level=warning action=kill reason=link-down service=relay src=$SRV:2000 "
kw_check "the start is said there" grep -qE "^$TS level=notice event=start version=" "$WD_DIR/kwd.err"
kw_check "the missing syslog is said, once, first" bash -c \
	"head -n1 '$WD_DIR/kwd.err' | grep -qE 'level=warning event=syslog-unreachable path=/dev/log error=\"No such file or directory\"' &&
	 [ \$(grep -c event=syslog-unreachable '$WD_DIR/kwd.err') = 1 ]"
kw_check "every stderr line carries its time and severity" every_line_stamped "$WD_DIR/kwd.err"
kw_check "the relay's lines too: ts=, level=, key=value" every_line_stamped "$WD_DIR/relay.log"
kw_check "the relay says what keepwatchd did" grep -qE \
	"level=info event=close client=$CLI:[0-9]+ upstream=127\.0\.0\.1:2001 reason=\"Software caused connection abort\"" \
	"$WD_DIR/relay.log"
kw_check "nothing of it reached our syslog" bash -c "! grep -q 'keepwatchd\[$pid\]' '$KW_SYSLOG'"
cat "$WD_DIR/kwd.err" >>"$KW_TMP/seen.log"
cat "$WD_DIR/relay.log" >>"$KW_TMP/seen.log"
wd_teardown

# ---- 3. a terminal -------------------------------------------------------------------------
echo "# 3. keepwatchd -c FILE on a terminal, syslog working"
wd_pair 4
wd_server_setup
wd_config "$cfg"
kw_bg_syslog "$NS_SRV" "$WD_DIR/tty.out" script -qfec "exec $KWD -c $cfg" /dev/null
kw_check "syslog has the start" kw_grep_wait 10 "$KW_SYSLOG" "keepwatchd\[[0-9]+\]: event=start .*config=$cfg "
pid=$(grep -E "keepwatchd\[[0-9]+\]: event=start .*config=$cfg " "$KW_SYSLOG" | tail -n1 |
	sed 's/.*keepwatchd\[\([0-9]*\)\]: .*/\1/')
kw_check "so has the terminal, with time and severity" \
	kw_grep_wait 5 "$WD_DIR/tty.out" "^$TS level=notice event=start version=.* config=$cfg "
[ -n "$pid" ] && kw_stop "$pid"
kw_check "the stop is said on the terminal too" \
	kw_grep_wait 5 "$WD_DIR/tty.out" "level=notice event=stop signal=Terminated"
tr -d '\r' <"$WD_DIR/tty.out" >>"$KW_TMP/seen.log"
wd_teardown

# ---- 4. enforcement at the default level -----------------------------------------------------
echo "# 4. enforce_keepalive, default log level"
wd_pair 4
wd_server_setup --count 2
wd_config "$cfg" "keepalive_probes = 2" "enforce_keepalive = 20s, 5s"
state="${cfg%.*}.state"
wd_daemon "$cfg"
kw_check "one action=enforce-keepalive line, at the default level" kw_grep_wait 5 "$KW_SYSLOG" \
	"keepwatchd\[$WD_DAEMON\]: action=enforce-keepalive service=relay src=$SRV:2000 dst=$CLI:[0-9]+ pid=[0-9]+ idle=20 intvl=5 cnt=[0-9]+ was=off,"
list_enforced() {
	ip netns exec "$NS_SRV" "$KWD" --list -c "$cfg" 2>&1 |
		grep -qE "^relay .* $CLI:[0-9]+ .* alive +20,5,[0-9]+ +[^ ]+\$"
}
kw_check "--list: the ENFORCED column shows what was set" kw_wait 5 list_enforced
kw_check "--list --json: \"enforced\":{...}" bash -c \
	"ip netns exec '$NS_SRV' '$KWD' --list --json -c '$cfg' | grep -q '\"enforced\":{\"idle_s\":20,\"intvl_s\":5,\"cnt\":[0-9]*}}'"
kw_check "the state file records it" grep -qE \
	"^enforced cookie=[0-9]+ idle=20 intvl=5 cnt=[0-9]+ service=relay src=$SRV:2000 dst=$CLI:" "$state"
kw_check "syslog working, no terminal: nothing on stderr" test ! -s "$WD_DIR/keepwatchd.err"
kw_stop "$WD_DAEMON"
kw_check "stopped: the socket keeps the keepalive keepwatchd set" bash -c \
	"ip netns exec '$NS_SRV' ss -Htno state established '( sport = :2000 )' | grep -q 'timer:(keepalive'"
kw_check "stopped: --list still says keepwatchd changed it" list_enforced
# Dry run: a second connection is judged, its keepalive left as it is, and said so.
wd_daemon "$cfg" -n
kw_bg "$NS_CLI" "$WD_DIR/client2.log" "${WD_PY[@]}" client "$SRV" 2000
kw_check "dry run: action=would-enforce at the default level" kw_grep_wait 5 "$KW_SYSLOG" \
	"keepwatchd\[$WD_DAEMON\]: action=would-enforce service=relay src=$SRV:2000 .* idle=20 intvl=5 "
kw_check "dry run: that socket has no keepalive timer" bash -c \
	"sleep 1; [ \$(ip netns exec '$NS_SRV' ss -Htno state established '( sport = :2000 )' | grep -c 'timer:(keepalive') = 1 ]"
wd_teardown

# ---- 5. --reload -----------------------------------------------------------------------------
echo "# 5. --reload: the wrong process, a file that needs a restart, a bad file"
wd_pair 4
wd_server_setup
wd_config "$cfg"
wd_daemon "$cfg"
kw_bg "$NS_SRV" "$WD_DIR/sleep.log" sleep 300
SLEEPER=$KW_LAST_PID
kw_wait 5 grep -qx sleep "/proc/$SLEEPER/comm" # ip netns exec has become the sleep
out=$("$KWD" --reload "$SLEEPER" -c "$cfg" 2>&1)
rc=$?
echo "# $out" | tail -n1
kw_check "--reload of a sleep: refused, exit 1" test "$rc" = 1
kw_check "... naming what it is" grep -q "process $SLEEPER is sleep, not keepwatchd: nothing signalled" <<<"$out"
sleep 0.3
kw_check "... and the sleep is unharmed" kill -0 "$SLEEPER"
wd_config "$cfg" "keepalive_probes = 2" "enforce_keepalive = 20s, 5s"
reloads=$(grep -c "keepwatchd\[$WD_DAEMON\]: event=reload " "$KW_SYSLOG")
out=$("$KWD" --reload "$WD_DAEMON" -c "$cfg" 2>&1)
rc=$?
kw_check "--reload of a file that needs CAP_SYS_PTRACE the daemon dropped: refused, exit 1" \
	bash -c "[ $rc = 1 ] && grep -q 'needs a restart: enforce_keepalive (\[service relay\]) needs CAP_SYS_PTRACE' <<<'$out'"
sleep 0.3
kw_check "... nothing reloaded" test "$(grep -c "keepwatchd\[$WD_DAEMON\]: event=reload " "$KW_SYSLOG")" = "$reloads"
wd_config "$cfg" "local_ports = 2001 x"
out=$("$KWD" --reload "$WD_DAEMON" -c "$cfg" 2>&1)
rc=$?
kw_check "--reload of a bad file: refused with its errors" \
	bash -c "[ $rc = 1 ] && grep -q \"^$cfg:[0-9]*: local_ports\" <<<'$out'"
kill -HUP "$WD_DAEMON"
kw_check "SIGHUP with a bad file: reload-failed names its first error" kw_grep_wait 5 "$KW_SYSLOG" \
	"keepwatchd\[$WD_DAEMON\]: event=reload-failed file=$cfg error=\"$cfg:[0-9]+: local_ports: .*\" keeping=running-config errors=[0-9]+"
wd_config "$cfg" "idle_timeout = 1h  # the feed is quiet" "on_link_loss = kill ; and '#' too"
out=$("$KWD" --reload "$WD_DAEMON" -c "$cfg" 2>&1)
rc=$?
kw_check "--reload of a good file with inline '#' comments: exit 0" test "$rc" = 0 || echo "$out"
kw_check "... reloaded" kw_grep_wait 5 "$KW_SYSLOG" "keepwatchd\[$WD_DAEMON\]: event=reload file=$cfg "
grep "keepwatchd\[[0-9]*\]: " "$KW_SYSLOG" | sed 's/.*keepwatchd\[[0-9]*\]: //' >>"$KW_TMP/seen.log"
wd_teardown

# ---- 6. the command line -------------------------------------------------------------------
echo "# 6. the command line"
kw_check "-V prints the version" bash -c "'$KWD' -V | grep -qE '^keepwatchd [0-9]+\.[0-9]+\.[0-9]+ '"
out=$("$KWD" --json 2>&1)
rc=$?
# (the output as an argument: the usage text holds quotes)
kw_check "--json alone: says why, exit 2" bash -c \
	'[ "$1" = 2 ] && head -n1 <<<"$2" | grep -qx "keepwatchd: --json goes with --list only"' _ "$rc" "$out"
kw_check "-t is --check" bash -c "'$KWD' -t -c '$KW_SRC/etc/keepwatch.ini' | grep -q '^config ok:'"

# ---- 7. every event and action documented ------------------------------------------------
echo "# 7. every event= and action= seen here is in LOG FORMAT"
logformat() { sed -n '/^\.SH LOG FORMAT/,/^\.SH /p' "$1" | sed 's/\\-/-/g; s/\\f[BIRP]//g'; }
{ logformat "$KW_SRC/etc/man/keepwatchd.8"; logformat "$KW_SRC/etc/man/keepwatch-relay.1"; } \
	>"$KW_TMP/logformat.txt"
seen=$(grep -ohE '(event|action)=[a-z][a-z0-9-]*' "$KW_TMP/seen.log" | sort -u)
echo "# seen: $(paste -sd' ' <<<"$seen")"
missing=""
for name in $seen; do
	grep -qE "(^|[^a-z-])$name([^a-z0-9-]|\$)" "$KW_TMP/logformat.txt" || missing+=" $name"
done
kw_check "each of the $(wc -w <<<"$seen") names seen is documented${missing:+ (missing:$missing)}" \
	test -z "$missing"
kw_check "and every name the sources can write (tests/lint/log_events.py)" \
	python3 "$KW_SRC/tests/lint/log_events.py" "$KW_SRC"
kw_done
