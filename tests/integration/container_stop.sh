#!/usr/bin/env bash
# A container stops (issue 20, items 9 and 10), as runtimes do it: its server exits (its
# sockets go FIN-WAIT / TIME-WAIT), about 100 ms later the runtime deletes its veth. No kill
# is logged or counted for sockets that had left ESTABLISHED, with keepwatchd in the
# container's namespace and in a namespace of its own (netns =). A veth deleted under live
# connections gives link-removed for IPv4 and IPv6, in every namespace, whichever end is
# deleted, and event=link-removed (not a link-down with cause=admin-down).
# shellcheck disable=SC2153 # SRV and CLI are set by kw_ns
source "$(dirname "$0")/../lib/netns.sh"
kw_require_root
command -v nsenter >/dev/null || kw_skip "nsenter (util-linux) not installed"
kw_init kwt-h20-ctr
kw_syslog_start
PY=(python3 -u "$KW_SRC/tests/lib/peer.py")
N=0

# setup WHERE: SRV (the container: servers on 10.77.0.1:2000 and [fd77::1]:2001, one client
# each from CLI, the host side) and keepwatchd in SRV (WHERE=own) or in D (WHERE=foreign).
setup() {
	N=$((N + 1))
	kw_ns SRV "s$N"
	kw_ns CLI "c$N"
	kw_veth "$SRV" kwsrv0 77 "$CLI" kwcli0 78
	kw_addr "$SRV" kwsrv0 10.77.0.1/24
	kw_addr "$CLI" kwcli0 10.77.0.2/24
	kw_addr "$SRV" kwsrv0 fd77::1/64
	kw_addr "$CLI" kwcli0 fd77::2/64
	DIR="$KW_TMP/t$N"
	mkdir -p "$DIR"
	{
		printf '[global]\nsockops = off\npoll_interval = 100ms\nlog = syslog\nmetrics_file = %s\n' "$DIR/kw.prom"
		printf '[service web]\nlocal_ports = 2000-2001\nkeepalive_probes = 2\nlink_grace = %s\n' \
			"${GRACE:-0}"
		[ "$1" = own ] || printf 'netns = %s\n' "$SRV"
	} >"$DIR/kw.ini"
	if [ "$1" = own ]; then
		kw_bg_syslog_ready 30 "$SRV" "$DIR/kw.err" "$KW_BUILD/keepwatchd" -c "$DIR/kw.ini" \
			-f --ready-fd 3 || { cat "$DIR/kw.err"; kw_die "keepwatchd did not start"; }
		SUFFIX=""
	else
		kw_ns D "d$N"
		KW_NSENTER=1 KW_PROPAGATION=slave kw_bg_syslog_ready 30 "$D" "$DIR/kw.err" \
			"$KW_BUILD/keepwatchd" -c "$DIR/kw.ini" -f --ready-fd 3 ||
			{ cat "$DIR/kw.err"; kw_die "keepwatchd did not start"; }
		kw_grep_wait 5 "$KW_SYSLOG" "keepwatchd\[$KW_LAST_PID\]: event=netns-up netns=$SRV " ||
			kw_die "the container's namespace was not opened"
		SUFFIX=" netns=$SRV"
	fi
	KWD=$KW_LAST_PID
	kw_bg "$SRV" "$DIR/srv4.log" "${PY[@]}" server 10.77.0.1 2000
	SRV4=$KW_LAST_PID
	kw_bg "$SRV" "$DIR/srv6.log" "${PY[@]}" server fd77::1 2001
	SRV6=$KW_LAST_PID
	kw_wait 5 grep -q listening "$DIR/srv4.log" || kw_die "server 4 did not start"
	kw_wait 5 grep -q listening "$DIR/srv6.log" || kw_die "server 6 did not start"
	kw_bg "$CLI" "$DIR/cli4.log" "${PY[@]}" client 10.77.0.1 2000
	kw_bg "$CLI" "$DIR/cli6.log" "${PY[@]}" client fd77::1 2001
	kw_wait 5 grep -q accept "$DIR/srv4.log" || kw_die "client 4 did not connect"
	kw_wait 5 grep -q accept "$DIR/srv6.log" || kw_die "client 6 did not connect"
	sleep 1.6 # a discovery has seen both
}
teardown() {
	kw_stop_all_but "$KW_SYSLOG_PID"
	for ns in "$SRV" "$CLI" ${D:+"$D"}; do ip netns del "$ns" 2>/dev/null; done
	D=""
}
kills() { grep -c "keepwatchd\[$KWD\]: action=kill " "$KW_SYSLOG"; }
counted() { # the metrics file's kill counters, summed
	awk '/^keepwatch_kills_total/ { s += $2 } END { print s + 0 }' "$DIR/kw.prom"
}
# delete SIDE: the runtime deletes the veth from the container's side or the host's.
delete() {
	if [ "$1" = srv ]; then ip -n "$SRV" link del kwsrv0; else ip -n "$CLI" link del kwcli0; fi
}

# A container stop: the servers exit, the veth goes 100 ms later.
for where in own foreign; do
	for side in srv cli; do
		setup $where
		kw_stop "$SRV4"
		kw_stop "$SRV6"
		sleep 0.1
		delete $side
		kw_grep_wait 3 "$KW_SYSLOG" "keepwatchd\[$KWD\]: event=link-(removed|down) ifname=kwsrv0" ||
			kw_fail "$where/$side: no link event seen"
		sleep 1.2 # past a look and a metrics write
		kw_check "container stop ($where, veth deleted on the $side side): no kill logged" \
			test "$(kills)" = 0
		kw_check "container stop ($where, $side side): no kill counted" test "$(counted)" = 0
		kw_check "container stop ($where, $side side): the event is link-removed, no link-down" \
			bash -c "grep -qE 'keepwatchd\[$KWD\]: event=link-removed ifname=kwsrv0 ifindex=77$SUFFIX\$' '$KW_SYSLOG' &&
				! grep -qE 'keepwatchd\[$KWD\]: event=link-down ifname=kwsrv0' '$KW_SYSLOG'"
		teardown
	done
done

# A veth deleted under live connections: both families killed as link-removed, at once,
# with and without a grace (the shipped config's 2 s).
for case in own/srv/0 own/cli/0 foreign/srv/0 foreign/cli/0 own/srv/2s foreign/cli/2s; do
	IFS=/ read -r where side GRACE <<<"$case"
	setup "$where"
	delete "$side"
	for a in "10.77.0.1:2000" "\[fd77::1\]:2001"; do
		kw_check "veth deleted ($where, $side side, grace $GRACE): $a killed as link-removed" \
			kw_grep_wait 1 "$KW_SYSLOG" \
			"keepwatchd\[$KWD\]: action=kill reason=link-removed service=web src=$a .*$SUFFIX\$"
	done
	kw_check "veth deleted ($where, $side side, grace $GRACE): no other kill" test "$(kills)" = 2
	kw_check "veth deleted ($where, $side side, grace $GRACE): event=link-removed, no link-down" \
		bash -c "grep -qE 'keepwatchd\[$KWD\]: event=link-removed ifname=kwsrv0' '$KW_SYSLOG' &&
			! grep -qE 'keepwatchd\[$KWD\]: event=link-down ifname=kwsrv0' '$KW_SYSLOG'"
	teardown
done
GRACE=0
kw_done
