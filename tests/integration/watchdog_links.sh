#!/usr/bin/env bash
# keepwatchd against real link and address loss, IPv4 and IPv6, each scenario in its own
# namespace pair: the relay's client-side socket is destroyed within a bounded time, the
# relay logs "Software caused connection abort", the unwatched control connection lives.
source "$(dirname "$0")/../lib/netns.sh"
source "$KW_SRC/tests/lib/wd.sh"
kw_require_root
kw_init kwt-wdlink
kw_syslog_start

# scenario FAMILY NAME REASON TRIGGER...: TRIGGER is run after everything is up.
# KEYS (default empty) adds service keys for the next scenario.
KEYS=""
scenario() {
	local fam=$1 name=$2 reason=$3 t0 ms pat
	shift 3
	wd_pair "$fam"
	wd_relay_setup --keepalive off
	wd_config "$WD_DIR/kw.ini" "keepalive_probes = 2" $KEYS
	wd_daemon "$WD_DIR/kw.ini" -f
	t0=$(kw_mono_ms)
	"$@"
	pat=$(wd_kill_pattern kill "$reason")
	if kw_grep_wait 5 "$KW_SYSLOG" "$pat"; then
		ms=$(wd_ms_since "$t0" "$pat")
		kw_ok "IPv$fam $name: killed with reason=$reason after ${ms} ms"
	else
		kw_fail "IPv$fam $name: no '$pat' line"
		tail -5 "$KW_SYSLOG"
	fi
	kw_check "IPv$fam $name: relay saw the abort" \
		kw_grep_wait 5 "$WD_DIR/relay.log" "event=close .*reason=\"Software caused connection abort\""
	kw_check "IPv$fam $name: port 2000 socket gone" kw_wait 5 wd_established 2000 0
	if [ "$name" != "interface removed" ] && [ "$name" != "address removed" ]; then
		kw_check "IPv$fam $name: control connection on port 2100 untouched" wd_control_alive
	else
		# the control socket's link or address is gone too: it must still be ESTABLISHED
		# (the kernel leaves it so), i.e. keepwatchd did not touch it
		kw_check "IPv$fam $name: control connection not killed by keepwatchd" \
			wd_established 2100 1
	fi
	kw_check "IPv$fam $name: no other kill line" \
		test "$(wd_kills)" -eq 1
	wd_teardown
}

# The most fundamental cause is named: a deleted link is link-removed whatever the family
# (the kernel flushes IPv6 addresses before RTM_DELLINK), a down link is link-down.
for fam in 4 6; do
	scenario $fam "interface removed" link-removed eval 'ip -n "$NS_SRV" link del kwsrv0'
	scenario $fam "link set down" link-down eval 'ip -n "$NS_SRV" link set kwsrv0 down'
	scenario $fam "carrier lost" link-down eval 'ip -n "$NS_CLI" link set kwcli0 down'
	scenario $fam "address removed" addr-removed eval 'ip -n "$NS_SRV" addr del "$SRV/$PLEN" dev kwsrv0'
done
# With a grace, an IPv6 link set down loses its addresses at once: the connection is
# killed at once, for the link (not "addr-removed").
KEYS="link_grace=30s"
scenario 6 "link set down, grace 30s" link-down eval 'ip -n "$NS_SRV" link set kwsrv0 down'
scenario 6 "interface removed, grace 30s" link-removed eval 'ip -n "$NS_SRV" link del kwsrv0'
KEYS=""
kw_done
