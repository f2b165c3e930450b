#!/bin/bash
# keepwatch integration test: routelookup against the real kernel — what RTM_GETROUTE
# answers for blackhole, unreachable, prohibit, throw and missing routes (IPv4, IPv6), and
# that mark, uid and a bound device reach the lookup (policy rules select by them).
source "$(dirname "$0")/../lib/netns.sh"
kw_require_root
PROBE="$KW_BUILD/tools/route_probe"
[ -x "$PROBE" ] || kw_skip "$PROBE not built"
kw_init kwt-i13-rtkernel
kw_ns NS host
ip -n "$NS" link add kwrk0 index 77 type veth peer name kwrk1 index 78
ip -n "$NS" link set kwrk0 up
ip -n "$NS" link set kwrk1 up
kw_addr "$NS" kwrk0 10.0.0.1/24
kw_addr "$NS" kwrk1 10.1.0.1/24
kw_addr "$NS" kwrk0 fd00::1/64
ip -n "$NS" route add 10.99.0.0/16 via 10.0.0.2
ip -n "$NS" -6 route add fd99::/16 via fd00::2
for t in blackhole:1 unreachable:2 prohibit:3 throw:4; do
	ip -n "$NS" route add "${t%:*}" "10.99.${t#*:}.0/24"
	ip -n "$NS" -6 route add "${t%:*}" "fd99:${t#*:}::/32"
done
ip -n "$NS" rule add fwmark 7 table 100 pref 100
ip -n "$NS" route add 10.99.0.0/16 via 10.1.0.2 table 100
ip -n "$NS" rule add uidrange 1000-1000 table 101 pref 101
ip -n "$NS" route add unreachable 10.99.0.0/16 table 101

OUT=$(ip netns exec "$NS" "$PROBE" 10.0.0.1,10.99.0.5 10.0.0.1,10.99.1.5 10.0.0.1,10.99.2.5 \
	10.0.0.1,10.99.3.5 10.0.0.1,10.99.4.5 10.0.0.1,10.98.0.5 fd00::1,fd99::5 \
	fd00::1,fd99:1::5 fd00::1,fd99:2::5 fd00::1,fd99:3::5 fd00::1,fd99:4::5 fd00::1,fd98::5 \
	10.0.0.1,10.99.0.5,7 10.0.0.1,10.99.0.5,0,1000 10.0.0.1,10.99.0.5,0,0,78 10.0.0.1,10.0.0.2)
while IFS= read -r l; do echo "# $l"; done <<<"$OUT"
line() { echo "$OUT" | sed -n "${1}p"; }
want() { # N REGEX WHAT
	if line "$1" | grep -Eq "$2"; then kw_ok "$3"; else kw_fail "$3: $(line "$1")"; fi
}
want 1 '^err=0 oif=77 type=1 lost=0$' "IPv4 gateway route: usable via kwrk0"
want 2 '^err=-22 .* lost=1$' "IPv4 blackhole: -EINVAL, lost"
want 3 '^err=-113 .* lost=1$' "IPv4 unreachable: -EHOSTUNREACH, lost"
want 4 '^err=-13 .* lost=1$' "IPv4 prohibit: -EACCES, lost"
want 5 '^err=-101 .* lost=1$' "IPv4 throw with nothing behind: -ENETUNREACH, lost"
want 6 '^err=-101 .* lost=1$' "IPv4 no route: -ENETUNREACH, lost"
want 7 '^err=0 oif=77 type=1 lost=0$' "IPv6 gateway route: usable"
want 8 '^err=-22 .* lost=1$' "IPv6 blackhole: -EINVAL, lost"
want 9 '^err=-113 .* lost=1$' "IPv6 unreachable: -EHOSTUNREACH, lost"
want 10 '^err=-13 .* lost=1$' "IPv6 prohibit: -EACCES, lost"
want 11 '^err=-101 .* lost=1$' "IPv6 throw: -ENETUNREACH, lost"
want 12 '^err=-101 .* lost=1$' "IPv6 no route: -ENETUNREACH, lost"
want 13 '^err=0 oif=78 type=1 lost=0$' "mark 7 selects table 100 (kwrk1)"
want 14 '^err=-113 .* lost=1$' "uid 1000 selects table 101 (unreachable)"
want 15 '^err=0 oif=78 type=1 lost=0$' "bound to kwrk1: the lookup keeps it"
want 16 '^err=0 oif=77 type=1 lost=0$' "on-link peer"
want 17 '^lookups=16$' "one request per query"
kw_done
