#!/usr/bin/env bash
# No pending link-down is evicted by link churn (issue 10, item 9): a watched connection's
# link goes down with link_grace = 3s, then 70 other links go down within that grace; when
# the grace ends the connection is still killed (link-down). A fixed list of 64 pending
# links used to forget the oldest.
source "$(dirname "$0")/../lib/netns.sh"
source "$KW_SRC/tests/lib/wd.sh"
kw_require_root
kw_init kwt-i10churn
kw_syslog_start
N=70

wd_pair 4
kw_ns NS_OTHER o
{
	for i in $(seq 1 $N); do
		echo "link add kwc$i index $((200 + i)) type veth peer name kwp$i index $((400 + i)) netns $NS_OTHER"
		echo "link set kwc$i up"
	done
} | ip -n "$NS_SRV" -batch - || kw_die "churn links"
for i in $(seq 1 $N); do ip -n "$NS_OTHER" link set "kwp$i" up; done
wd_relay_setup --keepalive off
wd_config "$WD_DIR/kw.ini" "link_grace = 3s"
wd_daemon "$WD_DIR/kw.ini" -f
t0=$(kw_mono_ms)
ip -n "$NS_SRV" link set kwsrv0 down
sleep 0.3
for i in $(seq 1 $N); do echo "link set kwc$i down"; done | ip -n "$NS_SRV" -batch -
kw_check "$N other links went down (logged)" \
	kw_wait 5 bash -c "[ \$(grep -c 'keepwatchd\[$WD_DAEMON\]: event=link-down ifname=kwc' '$KW_SYSLOG') -ge $N ]"
pat=$(wd_kill_pattern kill link-down)
if kw_grep_wait 8 "$KW_SYSLOG" "$pat"; then
	kw_ok "the first link's connection was killed after its grace: $(($(wd_ms_since "$t0" "$pat"))) ms"
else
	kw_fail "the first link's connection was never killed (its pending down was forgotten)"
fi
kw_check "the relay saw the abort" \
	kw_grep_wait 3 "$WD_DIR/relay.log" "event=close .*reason=\"Software caused connection abort\""
wd_teardown
kw_done
