# shellcheck shell=bash
# keepwatch test harness for route loss: three namespaces in a row, the guarded server,
# a gateway and a far peer, with a second link to the gateway for another next hop. Source
# after netns.sh; N counts the topologies a script built.
# shellcheck disable=SC2034 # the variables set here are for the scripts that source this file
N=${N:-0}

# topo FAMILY: SRV (keepwatchd, server on port 2000) -- kwsrv0 / kwgw0 -- GW -- kwgw1 /
# kwfar0 -- FAR, plus a second link SRV kwsrv1 / kwgw2 GW for another next hop. SRV
# reaches FAR's network through "ROUTED via GW"; GW's own address is on-link.
topo() {
	N=$((N + 1))
	kw_ns SRV "s$N"
	kw_ns GW "g$N"
	kw_ns FAR "f$N"
	kw_veth "$SRV" kwsrv0 77 "$GW" kwgw0 78
	kw_veth "$SRV" kwsrv1 79 "$GW" kwgw2 80
	kw_veth "$GW" kwgw1 81 "$FAR" kwfar0 82
	kw_addr "$SRV" kwsrv0 10.77.0.1/24
	kw_addr "$GW" kwgw0 10.77.0.2/24
	kw_addr "$SRV" kwsrv1 10.78.0.1/24
	kw_addr "$GW" kwgw2 10.78.0.2/24
	kw_addr "$GW" kwgw1 10.99.0.1/24
	kw_addr "$FAR" kwfar0 10.99.0.2/24
	kw_addr "$SRV" kwsrv0 fd77::1/64
	kw_addr "$GW" kwgw0 fd77::2/64
	kw_addr "$SRV" kwsrv1 fd78::1/64
	kw_addr "$GW" kwgw2 fd78::2/64
	kw_addr "$GW" kwgw1 fd99::1/64
	kw_addr "$FAR" kwfar0 fd99::2/64
	ip netns exec "$GW" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	ip netns exec "$GW" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.kwgw2.rp_filter=0
	ip -n "$FAR" route add default via 10.99.0.1
	ip -n "$FAR" -6 route add default via fd99::1
	ip -n "$SRV" route add 10.99.0.0/24 via 10.77.0.2
	ip -n "$SRV" -6 route add fd99::/64 via fd77::2
	if [ "$1" = 6 ]; then
		S=fd77::1 ONLINK=fd77::2 NET=fd99::/64 GW1=fd77::2 GW2=fd78::2 IP="ip -6"
		SB="\[fd77::1\]" FB="\[fd99::2\]" PFX=fd99::2/128
	else
		S=10.77.0.1 ONLINK=10.77.0.2 NET=10.99.0.0/24 GW1=10.77.0.2 \
			GW2=10.78.0.2 IP="ip -4" SB=10.77.0.1 FB=10.99.0.2 PFX=10.99.0.2/32
	fi
	DIR="$KW_TMP/t$N"
	mkdir -p "$DIR"
}

