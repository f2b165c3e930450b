#!/usr/bin/env bash
# keepwatchd on the socket shapes real services open (issue 10, items 1-2): a dual-stack
# listener's IPv4 client (an AF_INET6 socket with v4-mapped addresses) is the IPv4
# connection it is for address loss, selectors, nft (IPv4 set) and log lines; sockets bound
# to a device (SO_BINDTODEVICE, IPv6 link-local with its scope) are found and killed.
source "$(dirname "$0")/../lib/netns.sh"
source "$KW_SRC/tests/lib/wd.sh"
kw_require_root
kw_init kwt-i10shape
kw_syslog_start

# server_up ADDR [PEER ARGS...]: a receive-only server on ADDR:2000 in NS_SRV.
server_up() {
	local addr=$1
	shift
	kw_bg "$NS_SRV" "$WD_DIR/server.log" "${WD_PY[@]}" server "$addr" 2000 "$@"
	kw_wait 5 grep -q listening "$WD_DIR/server.log" || kw_die "server did not start"
}
client_up() {
	kw_bg "$NS_CLI" "$WD_DIR/client.log" "${WD_PY[@]}" client "$@"
	kw_wait 5 grep -q accept "$WD_DIR/server.log" || kw_die "client did not connect"
}
# expect_kill WHAT PATTERN: a kill line, the server's read ends with an error, socket gone.
expect_kill() {
	if kw_grep_wait 8 "$KW_SYSLOG" "$2"; then
		kw_ok "$1: $(grep -E -m1 -- "$2" "$KW_SYSLOG" | cut -d' ' -f2-)"
	else
		kw_fail "$1: no line matching '$2'"
		grep "keepwatchd\[$WD_DAEMON\]" "$KW_SYSLOG" | tail -5
	fi
	kw_check "$1: the server saw its connection destroyed" \
		kw_grep_wait 5 "$WD_DIR/server.log" "close .*errno=(103|104)"
	kw_check "$1: no ESTABLISHED socket on port 2000 left" kw_wait 5 wd_established 2000 0
}

# 1. Dual-stack listener [::]:2000, an IPv4 client; selector local_net = 10.77.0.0/24;
#    the server's IPv4 address is removed.
wd_pair 4
server_up "::"
client_up 10.77.0.1 2000
kw_check "dual-stack: the accepted socket is v4-mapped" \
	eval 'ip netns exec "$NS_SRV" ss -Htn state established "sport = :2000" | grep -q "::ffff:10.77.0.1"'
wd_config "$WD_DIR/kw.ini" "local_net = 10.77.0.0/24"
wd_daemon "$WD_DIR/kw.ini" -f
ip netns exec "$NS_SRV" "$KW_BUILD/keepwatchd" -c "$WD_DIR/kw.ini" --list >"$WD_DIR/list.txt" 2>&1
kw_check "dual-stack: --list shows the connection in IPv4 form" \
	grep -q "10.77.0.1:2000" "$WD_DIR/list.txt"
ip -n "$NS_SRV" addr del 10.77.0.1/24 dev kwsrv0
expect_kill "dual-stack, address removed" \
	"keepwatchd\[$WD_DAEMON\]: action=kill reason=addr-removed service=relay src=10.77.0.1:2000 dst=10.77.0.2:"
wd_teardown

# 2. Dual-stack with kill_method = nft: a silent IPv4 peer is reset through the IPv4 set.
if command -v nft >/dev/null; then
	wd_pair 4
	server_up "::" --keepalive 1,1,10
	client_up 10.77.0.1 2000
	wd_config "$WD_DIR/kw.ini" "keepalive_probes = 2"
	wd_global "$WD_DIR/kw.ini" "kill_method = nft"
	wd_daemon "$WD_DIR/kw.ini"
	kw_poweroff "$NS_CLI" kwt_dead "tcp sport 2000" "tcp dport 2000"
	expect_kill "dual-stack nft" \
		"keepwatchd\[$WD_DAEMON\]: action=kill reason=keepalive service=relay src=10.77.0.1:2000 .*method=nft"
	kw_check "dual-stack nft: no kill-expired retry (the IPv4 set matched)" \
		eval '! grep -q "keepwatchd\[$WD_DAEMON\]: action=kill-expired" "$KW_SYSLOG"'
	wd_teardown
fi

# 3. A server bound to its device (SO_BINDTODEVICE): its accepted socket carries
#    idiag_if; the link goes down (IPv4 addresses stay).
wd_pair 4
server_up 10.77.0.1 --bind-dev kwsrv0
client_up 10.77.0.1 2000
wd_config "$WD_DIR/kw.ini"
wd_daemon "$WD_DIR/kw.ini" -f
sleep 0.5 # a few polls: a bound socket must stay in the table, not be dropped as gone
ip netns exec "$NS_SRV" "$KW_BUILD/keepwatchd" -c "$WD_DIR/kw.ini" --list >"$WD_DIR/list.txt" 2>&1
kw_check "bound device: --list shows the connection" grep -q "10.77.0.1:2000" "$WD_DIR/list.txt"
ip -n "$NS_SRV" link set kwsrv0 down
expect_kill "bound device, link down" \
	"keepwatchd\[$WD_DAEMON\]: action=kill reason=link-down service=relay src=10.77.0.1:2000 "
wd_teardown

# 4. IPv6 link-local: the socket's scope is its bound device; the peer's host loses power
#    and keepalive finds it.
wd_pair 6
kw_addr "$NS_SRV" kwsrv0 fe80::77:1/64
kw_addr "$NS_CLI" kwcli0 fe80::77:2/64
server_up "fe80::77:1%kwsrv0" --keepalive 1,1,10
client_up "fe80::77:1%kwcli0" 2000
wd_config "$WD_DIR/kw.ini" "keepalive_probes = 2"
wd_daemon "$WD_DIR/kw.ini" -f
wd_poweroff "$NS_CLI"
expect_kill "link-local" \
	"keepwatchd\[$WD_DAEMON\]: action=kill reason=keepalive service=relay src=\[fe80::77:1\]:2000 "
wd_teardown

kw_done
