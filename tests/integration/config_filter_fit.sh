#!/usr/bin/env bash
# Filters that do not fit (issue 10, item 4): --check builds the kernel filters and names
# file, line and limit; a SIGHUP to such a config is refused whole (event=reload-failed)
# and the running configuration, its filter included, keeps working.
source "$(dirname "$0")/../lib/netns.sh"
source "$KW_SRC/tests/lib/wd.sh"
kw_require_root
kw_init kwt-i10fit
kw_syslog_start

big() { # 8 services of 64 single ports, 8 a line; service s6 (line 55) no longer fits
	for s in $(seq 0 7); do
		printf '[service s%s]\nlocal_ports = ' "$s"
		for p in $(seq 0 63); do
			[ $((p % 8)) = 0 ] && [ "$p" != 0 ] && printf '  '
			printf '%s' $((10000 + s * 1000 + p * 2))
			if [ $((p % 8)) = 7 ]; then printf '\n'; else printf ','; fi
		done
	done
}
big >"$KW_TMP/big.ini"
out=$("$KW_BUILD/keepwatchd" --check -c "$KW_TMP/big.ini" 2>&1)
rc=$?
echo "$out"
kw_check "--check: exit status 1" test "$rc" = 1
kw_check "--check: names file, line, service, family and limit" \
	grep -q "^$KW_TMP/big.ini:55: \[service s6\]: the kernel filter for IPv4 .*8192 bytes" <<<"$out"

wd_pair 4
wd_relay_setup --keepalive off
wd_config "$WD_DIR/kw.ini"
wd_daemon "$WD_DIR/kw.ini" -f
big >"$WD_DIR/kw.ini"
kill -HUP "$WD_DAEMON"
kw_check "SIGHUP: event=reload-failed" \
	kw_grep_wait 5 "$KW_SYSLOG" "keepwatchd\[$WD_DAEMON\]: event=reload-failed"
kw_check "SIGHUP: no successful reload logged" \
	bash -c "! grep -q 'keepwatchd\[$WD_DAEMON\]: event=reload ' '$KW_SYSLOG'"
kw_check "SIGHUP: no filter error (the filter was never dropped)" \
	bash -c "! grep -q 'keepwatchd\[$WD_DAEMON\]: action=error what=filter' '$KW_SYSLOG'"
ip -n "$NS_SRV" link set kwsrv0 down
kw_check "the old configuration still guards port 2000" \
	kw_grep_wait 5 "$KW_SYSLOG" "$(wd_kill_pattern kill link-down)"
wd_teardown
kw_done
