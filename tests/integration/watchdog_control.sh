#!/usr/bin/env bash
# keepwatchd's controls against the real kernel: link_grace over a 200 ms flap, dry-run,
# SIGHUP with a bad and with a new configuration, --check, SIGTERM within 100 ms.
source "$(dirname "$0")/../lib/netns.sh"
source "$KW_SRC/tests/lib/wd.sh"
kw_require_root
kw_init kwt-wdctl
kw_syslog_start
KWD="$KW_BUILD/keepwatchd"

# link_grace: a 200 ms flap costs nothing; a longer outage kills after the grace.
# (IPv4: a link going down takes its IPv6 addresses with it, which no grace can undo.)
wd_pair 4
wd_relay_setup --keepalive off
wd_config "$WD_DIR/kw.ini" "link_grace = 1s"
wd_daemon "$WD_DIR/kw.ini"
ip -n "$NS_SRV" link set kwsrv0 down
sleep 0.2
ip -n "$NS_SRV" link set kwsrv0 up
sleep 1.5
kw_check "grace: a 200 ms flap kills nothing" test "$(wd_kills)" -eq 0
kw_check "grace: the flap was seen (link-down then link-up)" \
	grep -Eq 'event=link-up ifname=kwsrv0 ifindex=77 down_ms=' "$KW_SYSLOG"
kw_check "grace: the relayed connection is alive" wd_established 2000 1
t0=$(kw_mono_ms)
ip -n "$NS_SRV" link set kwsrv0 down
pat=$(wd_kill_pattern kill link-down)
if kw_grep_wait 5 "$KW_SYSLOG" "$pat"; then
	ms=$(wd_ms_since "$t0" "$pat")
	kw_check "grace: a longer outage kills after the 1 s grace (${ms} ms)" \
		test "$ms" -ge 1000 -a "$ms" -le 1600
else
	kw_fail "grace: no kill after the grace"
fi
wd_teardown

# dry-run: decides, logs would-kill, kills nothing.
wd_pair 4
wd_relay_setup --keepalive off
wd_config "$WD_DIR/kw.ini"
wd_daemon "$WD_DIR/kw.ini" --dry-run
ip -n "$NS_SRV" link set kwsrv0 down
kw_check "dry-run: would-kill logged" kw_grep_wait 5 "$KW_SYSLOG" "$(wd_kill_pattern would-kill link-down)"
sleep 1
kw_check "dry-run: no kill line" test "$(wd_kills)" -eq 0
kw_check "dry-run: the socket is still there" wd_established 2000 1
kw_check "dry-run: the relay saw nothing" bash -c "! grep -q 'event=close' '$WD_DIR/relay.log'"
wd_teardown

# SIGHUP: a bad file is reported with file and line and the running config stays; a
# good one with a new service is applied.
wd_pair 4
wd_relay_setup --keepalive off
cfg="$WD_DIR/kw.ini"
wd_config "$cfg"
wd_daemon "$cfg"
printf '[global]\npoll_interval = 100ms\n[service relay]\nlocal_ports = 2000\nbogus_key = 1\n' >"$cfg"
kill -HUP "$WD_DAEMON"
kw_check "SIGHUP bad: error names file, line and key" \
	kw_grep_wait 5 "$KW_SYSLOG" "$cfg:5: bogus_key"
kw_check "SIGHUP bad: reload refused, naming the file's first error" kw_grep_wait 5 "$KW_SYSLOG" \
	"event=reload-failed file=$cfg error=\"$cfg:5: bogus_key: unknown key.*\" keeping=running-config errors=1"
kw_check "SIGHUP bad: daemon still running" kill -0 "$WD_DAEMON"
wd_config "$cfg" "" "[service control]" "local_ports = 2100"
kill -HUP "$WD_DAEMON"
kw_check "SIGHUP good: new config applied" kw_grep_wait 5 "$KW_SYSLOG" "event=reload .*services=2"
ip -n "$NS_SRV" addr del "$SRV/$PLEN" dev kwsrv0
kw_check "SIGHUP good: old service still acts" \
	kw_grep_wait 5 "$KW_SYSLOG" "$(wd_kill_pattern kill addr-removed)"
kw_check "SIGHUP good: new service acts" \
	kw_grep_wait 5 "$KW_SYSLOG" "$(wd_kill_pattern kill addr-removed control 2100)"
# the daemon is our child: time kill-to-reap, with a 2 s SIGKILL backstop
(sleep 2; kill -KILL "$WD_DAEMON" 2>/dev/null) &
backstop=$!
t0=$EPOCHREALTIME
kill -TERM "$WD_DAEMON"
wait "$WD_DAEMON"
rc=$?
t1=$EPOCHREALTIME
kill "$backstop" 2>/dev/null
wait "$backstop" 2>/dev/null
ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }')
kw_check "SIGTERM: exit 0 (got $rc)" test "$rc" = 0
kw_check "SIGTERM: gone within 100 ms (took $ms ms)" test "$ms" -le 100
wd_teardown

# A connection born after start-up is found (discovery gated by the namespace's open
# counters) and judged within poll_interval plus its threshold; --list shows what the
# daemon sees.
wd_pair 4
kw_bg "$NS_SRV" "$WD_DIR/server.log" "${WD_PY[@]}" server "$SRV" 2000
kw_wait 5 grep -q listening "$WD_DIR/server.log" || kw_die "server"
wd_config "$WD_DIR/kw.ini" "keepalive_probes = 0" "idle_timeout = 2s"
wd_daemon "$WD_DIR/kw.ini"
sleep 1.5 # several polls with nothing to find
kw_bg "$NS_CLI" "$WD_DIR/client.log" "${WD_PY[@]}" client "$SRV" 2000
kw_wait 5 grep -q accept "$WD_DIR/server.log" || kw_die "client"
ip netns exec "$NS_SRV" "$KWD" --list -c "$WD_DIR/kw.ini" >"$WD_DIR/list.txt" 2>&1
kw_check "--list: header and the connection with its service and state" \
	grep -Eq "^relay +ESTABLISHED +10.77.0.1:2000 +10.77.0.2:[0-9]+ .* alive +[^ ]+$" "$WD_DIR/list.txt"
ip netns exec "$NS_SRV" "$KWD" --list --json -c "$WD_DIR/kw.ini" >"$WD_DIR/list.json" 2>&1
kw_check "--list --json: one valid object per connection" python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 1 and rows[0]["service"] == "relay" and rows[0]["state"] == "ESTABLISHED"
assert rows[0]["src"] == "10.77.0.1:2000" and rows[0]["verdict"] == "alive"
' "$WD_DIR/list.json"
pat=$(wd_kill_pattern kill idle)
if kw_grep_wait 6 "$KW_SYSLOG" "$pat"; then
	t_acc=$(grep -m1 accept "$WD_DIR/server.log" | cut -d' ' -f1)
	t_kill=$(grep -E -m1 -- "$pat" "$KW_SYSLOG" | cut -d' ' -f1)
	ms=$((t_kill - t_acc))
	kw_check "new connection judged idle ${ms} ms after accept (2 s threshold + 100 ms poll + 100 ms slack)" \
		test "$ms" -ge 1900 -a "$ms" -le 2200
else
	kw_fail "new connection never judged"
fi
wd_teardown

# max_kills_per_second: five idle verdicts at once, two kills a second; the rest are
# logged as deferred and killed in the following seconds, none dropped.
wd_pair 4
kw_bg "$NS_SRV" "$WD_DIR/server.log" "${WD_PY[@]}" server "$SRV" 2000 --count 5
kw_wait 5 grep -q listening "$WD_DIR/server.log" || kw_die "server"
for i in 1 2 3 4 5; do
	kw_bg "$NS_CLI" "$WD_DIR/client$i.log" "${WD_PY[@]}" client "$SRV" 2000
done
kw_wait 5 wd_established 2000 5 || kw_die "five clients"
wd_config "$WD_DIR/kw.ini" "keepalive_probes = 0" "idle_timeout = 1s"
wd_global "$WD_DIR/kw.ini" "max_kills_per_second = 2"
wd_daemon "$WD_DIR/kw.ini"
kw_wait 8 test "$(wd_kills)" -ge 5
kw_check "budget: all five killed in the end" test "$(wd_kills)" -eq 5
kw_check "budget: the excess was logged as deferred" \
	grep -q "keepwatchd\[$WD_DAEMON\]: action=deferred reason=idle .*limit=max_kills_per_second" "$KW_SYSLOG"
# no window of 1000 ms holds more than two kills
kw_check "budget: never more than 2 kills in any second" python3 -c '
import re, sys
ts = [int(l.split()[0]) for l in open(sys.argv[1]) if re.search(r"keepwatchd\[%s\]: action=kill " % sys.argv[2], l)]
# 100 ms of slack for syslog delivery on a loaded machine
assert all(ts[i + 2] - ts[i] >= 900 for i in range(len(ts) - 2)), ts
' "$KW_SYSLOG" "$WD_DAEMON"
wd_teardown

# --check: every error with file:line, exit 1; a good file: "config ok", exit 0.
bad="$KW_TMP/bad.ini"
printf '[global]\npoll_interval = 10 parsecs\n[service a]\nkeepalive_probes = 2\n[nonsense]\n' >"$bad"
"$KWD" --check -c "$bad" >"$KW_TMP/check.out" 2>&1
rc=$?
kw_check "--check bad: exit 1" test "$rc" = 1
kw_check "--check bad: poll_interval error at line 2" grep -q "^$bad:2: poll_interval" "$KW_TMP/check.out"
kw_check "--check bad: unknown section at line 5" grep -q "^$bad:5:" "$KW_TMP/check.out"
kw_check "--check bad: every error reported (3)" test "$(wc -l <"$KW_TMP/check.out")" = 3
[ "$KW_FAILS" = 0 ] || cat "$KW_TMP/check.out"
kw_check "--check good: shipped config is ok" "$KWD" --check -c "$KW_SRC/etc/keepwatch.ini"
if "$KWD" --help | grep -q -- "--check"; then kw_ok "--help lists the options"; else kw_fail "--help"; fi
"$KWD" --bogus >/dev/null 2>&1
kw_check "bad option: exit 2" test $? = 2
kw_done
