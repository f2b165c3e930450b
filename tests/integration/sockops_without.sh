#!/usr/bin/env bash
# keepwatchd built without the sock_ops hook (KEEPWATCH_BPF=OFF; issue 19): the fallback is
# said at start with its reason (built-without) and enforces as before, by keepwatchd (pid=),
# holding CAP_SYS_PTRACE for it; sockops = on refuses to start and says why; `--check` warns
# of what would refuse: sockops = on, and enforce_keepalive in other namespaces. Skips in a
# build that has the hook (tests/run.sh builds build-nobpf for it). Namespaces of its own,
# removed by the trap; nothing is attached anywhere.
source "$(dirname "$0")/../lib/netns.sh"
source "$KW_SRC/tests/lib/wd.sh"
source "$KW_SRC/tests/lib/sockops.sh"
kw_require_root
"$KW_BUILD/keepwatchd" --version | grep -q -- '-sockops' ||
	kw_skip "keepwatchd has the sock_ops hook: this test is for a build without it (build-nobpf)"
kw_init kwt-h19-wo
kw_syslog_start
EP=(python3 -u "$KW_SRC/tests/integration/enforce_peer.py")

wd_pair 4
kw_bg "$NS_SRV" "$WD_DIR/server.log" "${EP[@]}" 0.0.0.0 2000
kw_wait 5 grep -q listening "$WD_DIR/server.log" || kw_die "server did not start"

# --check: what keepwatchd would refuse is a warning, with the reason
CFG="$WD_DIR/on.ini"
WD_SOCKOPS='sockops = on' wd_config "$CFG" "enforce_keepalive = 2s, 1s"
out=$("$KW_BUILD/keepwatchd" --check -c "$CFG" 2>&1)
kw_check "--check, sockops = on: a warning that names the reason and the refusal" \
	grep -q "sockops: warning: sockops = on, but the hook cannot run here: keepwatchd was built without the hook .*(keepwatchd would refuse to start)" <<<"$out"
NSCFG="$WD_DIR/ns.ini"
WD_SOCKOPS='sockops = auto' wd_config "$NSCFG" "netns = kwt-h19-nothing*" \
	"enforce_keepalive = 2s, 1s"
out=$("$KW_BUILD/keepwatchd" --check -c "$NSCFG" 2>&1)
kw_check "--check, enforce_keepalive in other namespaces: a warning on the service" \
	grep -q "\[service relay\]: warning: enforce_keepalive in other network namespaces needs the sockops hook, which cannot run here: keepwatchd was built without the hook" <<<"$out"

# sockops = on: refuses to start, says why
KW_NSENTER=1 kw_bg_syslog "$NS_SRV" "$WD_DIR/on.err" "$KW_BUILD/keepwatchd" -c "$CFG" -f
pid=$KW_LAST_PID
kw_wait 5 bash -c "! kill -0 $pid 2>/dev/null"
wait "$pid"
rc=$?
kw_check "sockops = on: refuses to start (exit 1)" test "$rc" = 1
kw_check "sockops = on: says why" \
	grep -q 'action=error what=sockops error="sockops = on, but the hook cannot run: keepwatchd was built without the hook' "$WD_DIR/on.err"

# sockops = auto (the default): the fallback, said once, enforces as before
CFG="$WD_DIR/auto.ini"
WD_SOCKOPS='# sockops: the default (auto)' wd_config "$CFG" "keepalive_probes = 2" \
	"enforce_keepalive = 2s, 1s"
wd_daemon "$CFG" -v
kw_check "auto: the fallback, its reason said at start" \
	kw_grep_wait 2 "$KW_SYSLOG" "keepwatchd\[$WD_DAEMON\]: event=sockops state=fallback reason=built-without "
kw_check "auto: said once" \
	test "$(grep -c "keepwatchd\[$WD_DAEMON\]: event=sockops " "$KW_SYSLOG")" = 1
kw_check "auto: the fallback keeps CAP_SYS_PTRACE to enforce" \
	test "$(so_caps "$WD_DAEMON" CapEff)" = 0000000000081000
kw_bg "$NS_CLI" "$WD_DIR/client.log" "${WD_PY[@]}" client 10.77.0.1 2000
kw_wait 5 grep -q connected "$WD_DIR/client.log" || kw_die "client did not connect"
CL_PORT=$(grep -oE 'local=[0-9]+' "$WD_DIR/client.log" | cut -d= -f2)
kw_check "auto: enforced by keepwatchd after the handshake (pid=)" \
	kw_grep_wait 5 "$KW_SYSLOG" "keepwatchd\[$WD_DAEMON\]: action=enforce-keepalive service=relay src=10.77.0.1:2000 dst=10.77.0.2:$CL_PORT pid=[0-9]+ idle=2 intvl=1 "
kw_check "--list: the hook's line says it is not built in" bash -c \
	"ip netns exec '$NS_SRV' '$KW_BUILD/keepwatchd' --list -c '$CFG' | grep -q '^# sockops: unavailable at -: built without the hook$'"
kw_stop "$WD_DAEMON"
kw_done
