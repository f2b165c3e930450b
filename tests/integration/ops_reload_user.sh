#!/usr/bin/env bash
# SIGHUP with `user =` (issue 10, item 9): a reload reads the config as that user. With a
# config that user can read, SIGHUP reloads; with one readable by root only, keepwatchd
# refuses to start and says why, instead of starting and failing every later reload.
. "$(dirname "$0")/../lib/netns.sh"
KWD="$KW_BUILD/keepwatchd"
kw_require_root
id -u nobody >/dev/null 2>&1 || kw_skip "no user nobody"
kw_init kwt-i10user
chmod 0711 "$KW_TMP"
kw_ns NS srv

conf() {
	printf '[global]\nsockops = off\nlog = stderr\nuser = nobody\n\n[service web]\nlocal_ports = 2000\n' >"$1"
	chmod "$2" "$1"
}

# readable by nobody: starts, and a SIGHUP reloads
mkdir -m 0755 "$KW_TMP/ok"
conf "$KW_TMP/ok/kw.ini" 0644
kw_bg "$NS" "$KW_TMP/ok/kwd.log" "$KWD" -f -c "$KW_TMP/ok/kw.ini"
pid=$KW_LAST_PID
kw_check "readable config: started" kw_grep_wait 5 "$KW_TMP/ok/kwd.log" "event=start"
kill -HUP "$pid"
kw_check "readable config: SIGHUP reloads" kw_grep_wait 5 "$KW_TMP/ok/kwd.log" "event=reload "
kw_stop "$pid"

# readable by root only: refused at start with the reason
mkdir -m 0755 "$KW_TMP/root"
conf "$KW_TMP/root/kw.ini" 0600
kw_bg "$NS" "$KW_TMP/root/kwd.log" "$KWD" -f -c "$KW_TMP/root/kw.ini"
pid=$KW_LAST_PID
for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$pid" 2>/dev/null; then
	rc=running
	kw_stop "$pid"
else
	wait "$pid"
	rc=$?
fi
cat "$KW_TMP/root/kwd.log"
kw_check "root-only config: start refused (exit 1)" test "$rc" = 1
kw_check "root-only config: says the config is not readable by the user, and what to do" \
	grep -q "config $KW_TMP/root/kw.ini is not readable by user nobody .*chmod 640" \
	"$KW_TMP/root/kwd.log"
kw_check "root-only config: no event=start" bash -c "! grep -q event=start '$KW_TMP/root/kwd.log'"
kw_done
