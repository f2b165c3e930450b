#!/bin/bash
# keepwatch integration test: linkmon against the real kernel in private namespaces — admin
# down, carrier loss through the veth peer, IPv4/IPv6 addresses, veth deletion, ENOBUFS.
. "${KW_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/netns.sh"

kw_require_root
WATCH=$KW_BUILD/tools/linkmon_watch
[ -x "$WATCH" ] || kw_skip "$WATCH not built"
kw_init kwt-linkmon

# ---- helpers of this script: event lines since a mark

LM_LOG=""
LM_MARK=0
lm_mark() { LM_MARK=$(wc -l <"$LM_LOG"); }
lm_since() { tail -n +$((LM_MARK + 1)) "$LM_LOG" | grep '^event='; }
lm_seen() { lm_since | grep -Eq -- "$1"; }
# lm_expect DESC PATTERN [SECONDS]: an event line matching PATTERN shows up after the mark.
lm_expect() {
	if kw_wait "${3:-2}" lm_seen "$2"; then
		kw_ok "$1"
	else
		kw_fail "$1 (wanted /$2/, got: $(lm_since | tr '\n' '|'))"
	fi
}
lm_lower_up() { ip -n "$1" link show "$2" | grep -q 'LOWER_UP'; }

kw_ns NS_A a
kw_ns NS_B b
kw_veth "$NS_A" kwlm0 77 "$NS_B" kwlm1 78
kw_wait 2 lm_lower_up "$NS_A" kwlm0 || kw_die "kwlm0 has no carrier"

LM_LOG=$KW_TMP/watch.log
kw_bg "$NS_A" "$LM_LOG" "$WATCH" --dump
WATCH_PID=$KW_LAST_PID
kw_grep_wait 5 "$LM_LOG" '^ready ' || kw_die "linkmon_watch did not start: $(cat "$LM_LOG")"
kw_check "initial dump holds kwlm0 up with carrier" \
	grep -Eq '^link ifindex=77 ifname=kwlm0 flags=0x1[0-9a-f]{3}[13579bdf] ' "$LM_LOG"

E77='ifindex=77 ifname=kwlm0'

lm_mark
ip -n "$NS_A" link set kwlm0 down
lm_expect "admin down" "^event=link-admin-down $E77 "
lm_mark
ip -n "$NS_A" link set kwlm0 up
lm_expect "admin up again" "^event=link-up $E77 "

lm_mark
ip -n "$NS_B" link set kwlm1 down
lm_expect "peer down: carrier lost" "^event=link-carrier-lost $E77 "
lm_no_admin_down() { ! lm_since | grep -q admin-down; }
kw_check "peer down is not an admin down" lm_no_admin_down
lm_mark
ip -n "$NS_B" link set kwlm1 up
lm_expect "peer up: link up" "^event=link-up $E77 "

# An mtu change is an RTM_NEWLINK too; the next event must be the address that follows.
lm_mark
ip -n "$NS_A" link set kwlm0 mtu 1400
ip -n "$NS_A" addr add 10.77.5.1/24 dev kwlm0
lm_expect "IPv4 address added" "^event=addr-added $E77 .* addr=10\.77\.5\.1/24$"
lm_first_is() { lm_since | head -1 | grep -Eq -- "$1"; }
kw_check "mtu change made no event" lm_first_is 'addr=10\.77\.5\.1/24$'

lm_mark
kw_addr "$NS_A" kwlm0 fd77:5::1/64
lm_expect "IPv6 address added" "^event=addr-added $E77 .* addr=fd77:5::1/64$"
lm_mark
ip -n "$NS_A" addr add 10.77.6.1 peer 10.77.6.2 dev kwlm0
lm_expect "point-to-point: IFA_LOCAL reported" "^event=addr-added $E77 .* addr=10\.77\.6\.1/32$"
kw_check "point-to-point: peer not reported" bash -c "! grep -q 'addr=10.77.6.2' '$LM_LOG'"

lm_mark
ip -n "$NS_A" addr del 10.77.5.1/24 dev kwlm0
lm_expect "IPv4 address removed" "^event=addr-removed $E77 .* addr=10\.77\.5\.1/24$"
lm_mark
ip -n "$NS_A" addr del fd77:5::1/64 dev kwlm0
lm_expect "IPv6 address removed" "^event=addr-removed $E77 .* addr=fd77:5::1/64$"

# ---- a forged "link down" unicast by a user process to linkmon's event socket
lm_forge_link_down() { # NS IFINDEX: to every socket subscribed to exactly our groups
	# (LINK, IPV4/IPV6_IFADDR, IPV4/IPV6_ROUTE, IPV4/IPV6_RULE, NEXTHOP: mask 0x800405d1)
	ip netns exec "$1" python3 - "$2" <<'PY'
import socket, struct, sys
ports = [int(l.split()[2]) for l in open("/proc/net/netlink").readlines()[1:]
         if l.split()[1] == "0" and l.split()[3] == "800405d1"]
msg = struct.pack("=IHHII", 32, 16, 0, 0, 0) + struct.pack("=BxHiII", 0, 1, int(sys.argv[1]),
                                                            0x1002, 0xffffffff)
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
for p in ports:
    s.sendto(msg, (p, 0))
print(len(ports))
PY
}
lm_mark
kw_check "forged message sent to the event socket" [ "$(lm_forge_link_down "$NS_A" 77)" = 1 ]
ip -n "$NS_A" addr add 10.77.7.1/24 dev kwlm0
lm_expect "address after the forged message" "^event=addr-added $E77 .* addr=10\.77\.7\.1/24$"
# (no link event at all since: an IPv6 link-local address leaving DAD may come in between)
lm_no_link_event() { ! lm_since | grep -q '^event=link-'; }
kw_check "forged link down from user space ignored" lm_no_link_event

# ---- veth deletion, with the raw kernel sequence from ip monitor as a witness
lm_mark
kw_addr "$NS_A" kwlm0 10.77.5.1/24
kw_addr "$NS_A" kwlm0 fd77:5::1/64
lm_expect "addresses back" "addr=fd77:5::1/64$"
MON_LOG=$KW_TMP/monitor.log
kw_bg "$NS_A" "$MON_LOG" ip -ts monitor link address
MON_PID=$KW_LAST_PID
sleep 0.3 # ip monitor has no ready signal; a missed line only weakens the witness
lm_mark
ip -n "$NS_A" link del kwlm0
lm_expect "veth deleted: link removed" "^event=link-removed $E77 "
kw_stop "$MON_PID"
echo "# kernel messages on veth deletion (ip monitor):"
sed 's/^/#   /' "$MON_LOG"
echo "# linkmon events on veth deletion:"
lm_since | sed 's/^/#   /'
# (a link-local address leaving its 1-2 s of DAD may be announced in between: not part of
# the deletion)
lm_since | sed -E 's/^event=([a-z-]+) .* addr=([^ ]+)$/\1:\2/' |
	grep -v '^addr-added:fe80:' >"$KW_TMP/seq.txt"
seq_first() { [ "$(head -1 "$KW_TMP/seq.txt")" = "$1" ]; }
seq_last() { [ "$(tail -1 "$KW_TMP/seq.txt")" = "$1" ]; }
seq_middle_only() { ! sed '1d;$d' "$KW_TMP/seq.txt" | grep -v "^$1"; }
seq_before() { # seq_before A B: line A occurs, and before line B
	local a b
	a=$(grep -nxF "$1" "$KW_TMP/seq.txt" | head -1 | cut -d: -f1)
	b=$(grep -nxF "$2" "$KW_TMP/seq.txt" | head -1 | cut -d: -f1)
	[ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ]
}
# The kernel unlists the device right after announcing it down, and sends RTM_DELLINK
# only after an RCU grace period. When linkmon reads the down after the unlisting (the
# usual case) it reports link-removed at once, with the addresses gone with the link and
# nothing after; when it reads the down first, the kernel's own order follows.
kw_check "deletion: link-removed exactly once" \
	test "$(grep -c '^link-removed:-$' "$KW_TMP/seq.txt")" = 1
kw_check "deletion: link-removed last" seq_last link-removed:-
if seq_first link-removed:-; then
	kw_ok "deletion: reported removed at the down (device already unlisted)"
	kw_check "deletion: nothing else" test "$(wc -l <"$KW_TMP/seq.txt")" = 1
else
	kw_check "deletion: link-admin-down first" seq_first link-admin-down:-
	kw_check "deletion: only addr-removed in between" seq_middle_only addr-removed:
	for a in 10.77.5.1/24 10.77.6.1/32 fd77:5::1/64; do
		kw_check "deletion: $a removed before the link" seq_before "addr-removed:$a" link-removed:-
	done
fi

kw_stop "$WATCH_PID"
kw_check "watcher exits 0 on SIGTERM" [ $? = 0 ]
kw_check "no malformed message, no resync" grep -q '^stats resyncs=0 malformed=0 ' "$LM_LOG"

# ---- ENOBUFS: a tiny buffer and a late reader; the resync must give the right final state
kw_ns NS_C c
kw_veth "$NS_C" kwlm2 79 "$NS_B" kwlm3 80
LM_LOG=$KW_TMP/watch-enobufs.log
kw_bg "$NS_C" "$LM_LOG" "$WATCH" --rcvbuf 4096 --delay-ms 700
WATCH_PID=$KW_LAST_PID
kw_grep_wait 5 "$LM_LOG" '^ready ' || kw_die "linkmon_watch did not start: $(cat "$LM_LOG")"
BATCH=$KW_TMP/batch
: >"$BATCH"
for i in $(seq 1 200); do
	echo "addr add 10.77.$((100 + i / 100)).$((i % 100 + 1))/32 dev kwlm2" >>"$BATCH"
done
for i in $(seq 1 40); do echo "addr add fd77:100::$i/128 dev kwlm2 nodad" >>"$BATCH"; done
for i in $(seq 1 2 200); do
	echo "addr del 10.77.$((100 + i / 100)).$((i % 100 + 1))/32 dev kwlm2" >>"$BATCH"
done
for i in $(seq 1 2 40); do echo "addr del fd77:100::$i/128 dev kwlm2" >>"$BATCH"; done
lm_mark
ip -n "$NS_C" -batch "$BATCH" || kw_die "ip -batch failed"
kw_addr "$NS_C" kwlm2 10.77.109.1/32
lm_expect "burst: the address after it is reported" "^event=addr-added .*=10\.77\.109\.1/32$" 10
lm_before_resync() { lm_since | sed '/^event=resync /,$d' | grep -c "$1"; }
kw_check "burst: resync event emitted" lm_seen '^event=resync '
kw_check "burst: the resync reported added addresses" [ "$(lm_before_resync addr-added)" -gt 0 ]

# A second burst removes what the first left and takes the link down; the buffer grew
# only to 8 KiB, so it overflows again and the resync has removals and a link change.
: >"$BATCH"
for i in $(seq 2 2 200); do
	echo "addr del 10.77.$((100 + i / 100)).$((i % 100 + 1))/32 dev kwlm2" >>"$BATCH"
done
for i in $(seq 2 2 40); do echo "addr del fd77:100::$i/128 dev kwlm2" >>"$BATCH"; done
echo "link set kwlm2 down" >>"$BATCH"
lm_mark
ip -n "$NS_C" -batch "$BATCH" || kw_die "ip -batch failed"
kw_addr "$NS_C" kwlm2 10.77.109.2/32
lm_expect "burst 2: the address after it is reported" "^event=addr-added .*=10\.77\.109\.2/32$" 10
kw_check "burst 2: resync event emitted" lm_seen '^event=resync '
kw_check "burst 2: the resync reported removed addresses" \
	[ "$(lm_before_resync addr-removed)" -gt 0 ]
lm_last_link79() { grep '^event=link-[a-z-]* ifindex=79 ' "$LM_LOG" | tail -1 | grep -q "^$1 "; }
kw_check "burst 2: the link ends admin down" lm_last_link79 event=link-admin-down
kw_stop "$WATCH_PID"
kw_check "burst: two ENOBUFS resyncs at least" \
	grep -Eq '^stats resyncs=([2-9]|[1-9][0-9])' "$LM_LOG"
kw_check "burst: receive buffer grown" bash -c \
	"[ \$(sed -n 's/^stats.* rcvbuf=\([0-9]*\).*/\1/p' '$LM_LOG') -gt \
	   \$(sed -n 's/^ready.* rcvbuf=\([0-9]*\).*/\1/p' '$LM_LOG') ]"
# Replaying the events must give exactly the kernel's final list of the test addresses.
lm_replay() {
	awk '/^event=addr-added/ { a = $NF; sub("addr=", "", a); s[a] = 1 }
	     /^event=addr-removed/ { a = $NF; sub("addr=", "", a); delete s[a] }
	     END { for (a in s) print a }' "$LM_LOG" | grep -E '^(10\.77\.1|fd77:100::)' | sort
}
ip -n "$NS_C" addr show dev kwlm2 | awk '$1 ~ /^inet/ { print $2 }' |
	grep -E '^(10\.77\.1|fd77:100::)' | sort >"$KW_TMP/kernel.txt"
lm_replay >"$KW_TMP/replay.txt"
echo "# burst: $(grep -c '^event=' "$LM_LOG") events, $(grep '^stats' "$LM_LOG")," \
	"kernel holds $(wc -l <"$KW_TMP/kernel.txt") test addresses"
kw_check "burst: replayed events equal the kernel's addresses" \
	diff "$KW_TMP/kernel.txt" "$KW_TMP/replay.txt"
kw_check "burst: kernel holds just the two marker addresses" \
	[ "$(wc -l <"$KW_TMP/kernel.txt")" = 2 ]

kw_done
