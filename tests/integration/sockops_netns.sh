#!/usr/bin/env bash
# enforce_keepalive in other network namespaces and by cgroup, through the sock_ops hook
# (issue 19): keepwatchd in a namespace of its own; a `netns =` service whose server never
# sets keepalive gets it at the handshake, its powered-off client is ended after the probes
# and a healthy quiet one stays; a namespace created after start is enforced from its first
# connection, and so is a service a reload adds; a `cgroup =` service's server in the
# selected cgroup is enforced, the same port served from another cgroup is not (the program
# reads the socket's cgroup: CAP_PERFMON at load); keepwatchd ends with CAP_NET_ADMIN alone
# and its namespace helper without CAP_SYS_PTRACE. Namespaces and cgroups of its own, removed
# by the trap.
source "$(dirname "$0")/../lib/netns.sh"
source "$KW_SRC/tests/lib/wd.sh"
source "$KW_SRC/tests/lib/sockops.sh"
kw_require_root
so_require
kw_init kwt-h19-nsd
so_cgroup
kw_syslog_start
P="$KW_PREFIX"
EP=(python3 -u "$KW_SRC/tests/integration/enforce_peer.py")

# pair SRV-VAR SRV-NAME CLI-VAR CLI-NAME SIF SIDX CIF CIDX NET: server .1, client .2.
pair() {
	kw_ns "$1" "$2"
	kw_ns "$3" "$4"
	kw_veth "${!1}" "$5" "$6" "${!3}" "$7" "$8"
	kw_addr "${!1}" "$5" "10.$9.0.1/24"
	kw_addr "${!3}" "$7" "10.$9.0.2/24"
}
# client NS ADDR PORT LOG: a silent client; CL_PORT its local port once connected.
client() {
	kw_bg "$1" "$4" "${WD_PY[@]}" client "$2" "$3"
	kw_wait 5 grep -q connected "$4" || kw_die "client of $2:$3 did not connect"
	CL_PORT=$(grep -oE 'local=[0-9]+' "$4" | cut -d= -f2)
}
# first LOG PEER: the owner's first look at that connection (at its accept()).
first() { kw_wait 5 grep -q " opts peer=$2 " "$1" && grep -m1 " opts peer=$2 " "$1" | grep -oE 'on=.*'; }

kw_ns NS_D d
pair NS_A sa NS_AC ka kwsa0 81 kwka0 82 81
kw_ns NS_AH kh
kw_veth "$NS_A" kwsa1 83 "$NS_AH" kwkh0 84
kw_addr "$NS_A" kwsa1 10.91.0.1/24
kw_addr "$NS_AH" kwkh0 10.91.0.2/24
pair NS_B sb NS_BC kb kwsb0 85 kwkb0 86 82
kw_addr "$NS_B" kwsb0 10.82.0.3/24
so_sub sel
so_sub other
kw_bg "$NS_A" "$KW_TMP/a.log" "${EP[@]}" 0.0.0.0 2000
so_in "$SO_CG/sel" "$NS_B" "$KW_TMP/sel.log" "${EP[@]}" 10.82.0.1 7301
so_in "$SO_CG/other" "$NS_B" "$KW_TMP/other.log" "${EP[@]}" 10.82.0.3 7301
for l in a sel other; do kw_grep_wait 5 "$KW_TMP/$l.log" listening || kw_die "server $l"; done

CFG="$KW_TMP/kw.ini"
cat >"$CFG" <<EOF
[global]
poll_interval = 100ms
log = syslog
sockops = on
sockops_cgroup = $SO_REL
metrics_file = $KW_TMP/kw.prom
[service alpha]
local_ports = 2000
netns = $P-sa*
keepalive_probes = 2
enforce_keepalive = 2s, 1s
[service cg]
local_ports = 7301
netns = $P-sb
cgroup = $SO_REL/sel
keepalive_probes = 2
enforce_keepalive = 2s, 1s
EOF
KW_PROPAGATION=slave kw_bg_syslog_ready 10 "$NS_D" "$KW_TMP/kwd.err" \
	"$KW_BUILD/keepwatchd" -c "$CFG" -f -v --ready-fd 3 || {
	cat "$KW_TMP/kwd.err"
	kw_die "keepwatchd did not become ready"
}
DPID=$KW_LAST_PID
kw_check "attached at the test's cgroup, the variant that reads cgroups" \
	kw_grep_wait 2 "$KW_SYSLOG" "keepwatchd\[$DPID\]: event=sockops state=attached cgroup=$SO_CG .* variant=cgroup "
kw_check "namespaces A and B opened" \
	kw_wait 5 bash -c "grep -q 'event=netns-up netns=$NS_A ' '$KW_SYSLOG' && grep -q 'event=netns-up netns=$NS_B ' '$KW_SYSLOG'"
kw_check "keepwatchd: CAP_NET_ADMIN alone (CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE given up)" \
	test "$(so_caps "$DPID" CapEff)/$(so_caps "$DPID" CapPrm)" = 0000000000001000/0000000000001000
HELPER=$(pgrep -P "$DPID" -x keepwatchd-ns)
# CAP_DAC_OVERRIDE (1), CAP_NET_ADMIN (12), CAP_SYS_ADMIN (21): not CAP_SYS_PTRACE (19)
kw_check "the namespace helper holds no CAP_SYS_PTRACE (forked after it was given up)" \
	test "$(so_caps "${HELPER:-0}" CapEff 2>/dev/null)" = 0000000000201002

# netns: a dead client and a healthy one of a server that never sets keepalive
client "$NS_AC" 10.81.0.1 2000 "$KW_TMP/dead.log"
DEAD=$CL_PORT
client "$NS_AH" 10.91.0.1 2000 "$KW_TMP/healthy.log"
kw_check "netns = A: the owner sees keepalive at accept() (2,1,9)" \
	test "$(first "$KW_TMP/a.log" "10.81.0.2:$DEAD")" = "on=1 idle=2 intvl=1 cnt=9"
kw_check "netns = A: enforced at the handshake, said with netns=" \
	kw_grep_wait 3 "$KW_SYSLOG" "keepwatchd\[$DPID\]: action=enforce-keepalive service=alpha src=10.81.0.1:2000 dst=10.81.0.2:$DEAD at=handshake idle=2 intvl=1 cnt=9 was=off,7200,75,9 netns=$NS_A"
sleep 1.2 # a ring read: both in the table
t0=$(kw_mono_ms)
kw_poweroff "$NS_AC"
pat="keepwatchd\[$DPID\]: action=kill reason=keepalive service=alpha src=10.81.0.1:2000 dst=10.81.0.2:$DEAD .* netns=$NS_A"
if kw_grep_wait 12 "$KW_SYSLOG" "$pat"; then
	kw_ok "netns = A: the powered-off client ended after its probes ($(($(grep -m1 -E "$pat" "$KW_SYSLOG" | cut -d' ' -f1) - t0)) ms after power-off)"
else
	kw_fail "netns = A: no keepalive kill within 12 s"
fi
kw_check "netns = A: its owner read ECONNABORTED" kw_grep_wait 5 "$KW_TMP/a.log" "close peer=10.81.0.2:$DEAD errno=103"
sleep 5
kw_check "netns = A: the healthy quiet client stays" bash -c "! grep -q 'close peer=10.91.0.2' '$KW_TMP/a.log'"

# cgroup: the server in the selected cgroup, and the same port served from another one
client "$NS_BC" 10.82.0.1 7301 "$KW_TMP/c-sel.log"
SEL=$CL_PORT
client "$NS_BC" 10.82.0.3 7301 "$KW_TMP/c-other.log"
OTHER=$CL_PORT
kw_check "cgroup = sel: the owner sees keepalive at accept()" \
	test "$(first "$KW_TMP/sel.log" "10.82.0.2:$SEL")" = "on=1 idle=2 intvl=1 cnt=9"
kw_check "cgroup = sel: the same port in another cgroup is left alone" \
	test "$(first "$KW_TMP/other.log" "10.82.0.2:$OTHER")" = "on=0 idle=7200 intvl=75 cnt=9"
kw_check "cgroup = sel: one enforcement line, for the selected one" \
	kw_grep_wait 3 "$KW_SYSLOG" "keepwatchd\[$DPID\]: action=enforce-keepalive service=cg src=10.82.0.1:7301 dst=10.82.0.2:$SEL at=handshake .* netns=$NS_B"
kw_check "cgroup = sel: none for the other" bash -c "! grep -q 'service=cg src=10.82.0.3' '$KW_SYSLOG'"

# a namespace created after start: enforced from its first connection on
pair NS_A2 sa2 NS_A2C ka2 kwsc0 87 kwkc0 88 83
kw_check "a namespace created after start is found" \
	kw_grep_wait 5 "$KW_SYSLOG" "keepwatchd\[$DPID\]: event=netns-up netns=$NS_A2 services=alpha"
kw_bg "$NS_A2" "$KW_TMP/a2.log" "${EP[@]}" 0.0.0.0 2000
kw_grep_wait 5 "$KW_TMP/a2.log" listening || kw_die "server in A2"
client "$NS_A2C" 10.83.0.1 2000 "$KW_TMP/a2c.log"
kw_check "... and its first connection enforced at the handshake" \
	test "$(first "$KW_TMP/a2.log" "10.83.0.2:$CL_PORT")" = "on=1 idle=2 intvl=1 cnt=9"
kw_check "nothing counted as unenforced (no connection was born before the hook saw it)" \
	bash -c "! grep -q 'keepwatchd\[$DPID\]: event=sockops-unenforced' '$KW_SYSLOG'"
kw_check "metrics: 4 enforced at the handshake (alpha 3, cg 1)" kw_wait 3 bash -c \
	"grep -q '^keepwatch_keepalive_enforced_total{service=\"alpha\",at=\"handshake\"} 3$' '$KW_TMP/kw.prom' && grep -q '^keepwatch_keepalive_enforced_total{service=\"cg\",at=\"handshake\"} 1$' '$KW_TMP/kw.prom'"
# a reload that adds a service in a namespace already watched: its maps are written as the
# new configuration sees the namespaces (the first connection after the reload is enforced)
kw_bg "$NS_A2" "$KW_TMP/a2b.log" "${EP[@]}" 0.0.0.0 2001
kw_grep_wait 5 "$KW_TMP/a2b.log" listening || kw_die "second server in A2"
cat >>"$CFG" <<EOF
[service beta]
local_ports = 2001
netns = $P-sa2
keepalive_probes = 2
enforce_keepalive = 3s, 1s
EOF
kill -HUP "$DPID"
kw_grep_wait 5 "$KW_SYSLOG" "keepwatchd\[$DPID\]: event=reload " || kw_fail "no reload"
client "$NS_A2C" 10.83.0.1 2001 "$KW_TMP/a2bc.log"
kw_check "reload: a new service in a watched namespace, enforced from its first connection" \
	test "$(first "$KW_TMP/a2b.log" "10.83.0.2:$CL_PORT")" = "on=1 idle=3 intvl=1 cnt=9"
kw_stop "$DPID"
kw_check "on exit: nothing attached" test -z "$(so_attached "$SO_CG")"
kw_done
