#!/bin/bash
# keepwatchd as the node agent of 100 containers (issue 21): its RSS and CPU in its container
# (the DaemonSet's settings as podman flags, tests/lib/podman.sh), against what a user would
# otherwise run: one keepwatchd per workload (a sidecar in each container's namespace), and
# the same daemon on the node outside a container. Each workload container runs
# keepwatch-relay on port 2000 (its own keepalive 60 s, 10 s, 6) with PER clients from the
# node. Measured per layout: the daemons' RSS and peak (VmHWM; the agent's namespace helper
# and its container's memory cgroup too), CPU to start and find every connection, CPU over
# an idle window; for the agent, the link loss of one container (its eth0 deleted) to the
# last of its relay's ECONNABORTED lines (conmon's stamps).
#
# Usage (root): KW_BUILD=build tests/bench/containers.sh [--quick]
# env: NC containers (default 100), PER clients each (default 10), SECS idle window
# (default 60; --quick: 20). Takes ~8 min here (100 containers started one by one).
# shellcheck disable=SC2154 # PID_<name> are set through printf -v
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../lib/debroot.sh"
. "$(dirname "$0")/../lib/podman.sh"
SECS=${SECS:-60}
[ "${1:-}" = --quick ] && SECS=${QUICK_SECS:-20}
NC=${NC:-100}
PER=${PER:-10}
TOTAL=$((NC * PER))
kb_init ctr needs-daemon
trap 'pm_cleanup; kw_cleanup' EXIT
CG2=$(findmnt -n -t cgroup2 -o TARGET | head -n1)
[ -n "$CG2" ] || kw_skip "no cgroup2 mount"
pm_init
ON_NODE=(nsenter --net="/run/netns/$PM_NODE")
pm_build "localhost/keepwatch:$KW_PREFIX"
IMG=$PM_IMAGE
# One binary for every layout: the image's own (its libraries are the node's, Debian 12's).
KB_DAEMON="$KW_TMP/keepwatchd"
if ! P run --rm --network none --entrypoint cat "$IMG" /usr/sbin/keepwatchd >"$KB_DAEMON" ||
	! chmod 755 "$KB_DAEMON" || ! "$KB_DAEMON" --version >/dev/null; then
	kw_die "the image's keepwatchd"
fi
GW=$(P network inspect podman --format '{{range .Subnets}}{{.Gateway}}{{end}}')

# ---- the node: a sink for the relays' upstreams, NC workloads, PER clients each ------------
"${ON_NODE[@]}" python3 -u "$KW_SRC/tests/lib/peer.py" sink 0.0.0.0 2200 >"$KW_TMP/sink.log" 2>&1 </dev/null &
KW_PIDS+=("$!")
kw_grep_wait 5 "$KW_TMP/sink.log" listening || kw_die "the sink did not start"
t0=$(date +%s)
WS=()
for i in $(seq 1 "$NC"); do
	w=$(printf '%s-w%03d' "$KW_PREFIX" "$i")
	P run -d --name "$w" --log-driver k8s-file --log-opt "path=$KW_TMP/$w.log" \
		--entrypoint /usr/bin/keepwatch-relay "$IMG" --listen 0.0.0.0:2000 \
		--connect "$GW:2200" --keepalive 60,10,6 >/dev/null || kw_die "podman run $w"
	WS+=("$w")
done
echo "# $NC containers started in $(($(date +%s) - t0)) s"
for w in "${WS[@]}"; do
	ip=$(P inspect --format '{{.NetworkSettings.IPAddress}}' "$w")
	kw_wait 20 "${ON_NODE[@]}" bash -c "exec 3<>/dev/tcp/$ip/2000" || kw_die "$w does not listen"
	"${ON_NODE[@]}" "$KB_FARM" connect "$ip" "2000:$PER" >"$KW_TMP/$w-cli.out" 2>&1 </dev/null &
	KW_PIDS+=("$!")
	kw_grep_wait 20 "$KW_TMP/$w-cli.out" '^ready' || kw_die "clients of $w"
done
echo "# $TOTAL connections held"
ns_of() { basename "$(P inspect --format '{{.NetworkSettings.SandboxKey}}' "$1")"; }

CFG="$KW_TMP/cfg"
MET="$KW_TMP/metrics"
mkdir -p "$CFG" "$MET"
cat >"$CFG/keepwatch.ini" <<'EOF'
[global]
sockops = off
log = stderr
metrics_file = /var/lib/keepwatch/keepwatch.prom
[service pods]
netns = netns-*
cgroup = /libpod_parent/*
local_ports = 2000
keepalive_probes = 2
on_link_loss = kill
EOF
# sidecar_cfg W: a sidecar's configuration (its own metrics file, as the agent has one).
sidecar_cfg() {
	printf '[global]\nsockops = off\nlog = stderr\nmetrics_file = %s/%s.prom\n[service pod]\n' "$MET" "$1"
	printf 'local_ports = 2000\nkeepalive_probes = 2\non_link_loss = kill\n'
}

# watched PROM...: connections the metrics files say are watched.
watched() {
	awk '/^keepwatch_watched_connections/ { s += $2 } END { print s + 0 }' "$@" 2>/dev/null || echo 0
}
# settle PROM PIDS...: until the daemon watches TOTAL connections (bounded, 120 s), then the
# CPU its processes used so far (ms) and the time it took (s): "CPU_MS SECS".
settle() {
	local log=$1 t0 c=0 p
	shift
	t0=$(kw_mono_ms)
	for _ in $(seq 1 1200); do
		[ "$(watched "$log")" -ge "$TOTAL" ] && break
		sleep 0.1
	done
	[ "$(watched "$log")" -ge "$TOTAL" ] || echo "warning: watching $(watched "$log") of $TOTAL" >&2
	for p in "$@"; do c=$((c + $(kb_cpu_ns "$p"))); done
	echo "$((c / 1000000)) $(kb_fmt %.1f "($(kw_mono_ms) - $t0) / 1000")"
}
# idle PIDS...: CPU % of one core over SECS, all of PIDS together.
idle() {
	local c0=0 c1=0 p
	for p in "$@"; do c0=$((c0 + $(kb_cpu_ns "$p"))); done
	sleep "$SECS"
	for p in "$@"; do c1=$((c1 + $(kb_cpu_ns "$p"))); done
	kb_fmt %.3f "($c1 - $c0) / 1e7 / $SECS"
}
sum_kb() { # FIELD PIDS...: VmRSS or VmHWM summed, KiB
	local f=$1 s=0 p
	shift
	for p in "$@"; do s=$((s + $(awk -v f="$f:" '$1 == f { print $2 }' "/proc/$p/status"))); done
	echo "$s"
}

kb_row "layout" "processes" "watched" "RSS KiB" "peak KiB" "start CPU ms" "idle %cpu" "memory cgroup KiB"

# ---- 1: the node agent in its container (the manifest's settings) -------------------------
caps=$(sed -n 's/^ *add: \[\(.*\)\].*/\1/p' "$KW_SRC/etc/keepwatch-daemonset.yaml" | tr -d ' "')
AGENT="$KW_PREFIX-agent"
ALOG="$KW_TMP/agent.log"
# shellcheck disable=SC2054 # ro,rslave is one mount option list
P run -d --name "$AGENT" --network host --cgroupns private --user 0 --cap-drop all \
	--cap-add "$caps" --security-opt no-new-privileges --read-only --memory 64m \
	-v /run/netns:/run/netns:ro,rslave -v "$CG2:/sys/fs/cgroup:ro" -v "$CFG:/etc/keepwatch:ro" \
	-v "$MET:/var/lib/keepwatch" \
	--log-driver k8s-file --log-opt "path=$ALOG" "$IMG" -c /etc/keepwatch/keepwatch.ini \
	>/dev/null || kw_die "podman run of the agent"
kw_grep_wait 20 "$ALOG" 'event=start' || { cat "$ALOG"; kw_die "the agent did not start"; }
APID=$(P inspect --format '{{.State.Pid}}' "$AGENT")
AHELPER=$(tr -d ' ' <"/proc/$APID/task/$APID/children")
read -r a_start a_secs < <(settle "$MET/keepwatch.prom" "$APID" "$AHELPER")
a_idle=$(idle "$APID" "$AHELPER")
a_mem=$(awk '{ printf "%d\n", $1 / 1024 }' \
	"/sys/fs/cgroup/memory/libpod_parent/libpod-$(P inspect --format '{{.Id}}' "$AGENT")/memory.usage_in_bytes" 2>/dev/null)
kb_row "node agent, in its container" "2" "$(watched "$MET/keepwatch.prom")" \
	"$(kb_rss_kb "$APID") + $(kb_rss_kb "$AHELPER")" "$(kb_hwm_kb "$APID") + $(kb_hwm_kb "$AHELPER")" \
	"$a_start" "$a_idle" "${a_mem:-?}"
echo "# agent: every connection found ${a_secs} s after its start"

# the link loss of one container, with the agent watching all of them
VICTIM=${WS[0]}
VNS=$(ns_of "$VICTIM")
tl=$(date +%s%N)
nsenter --net="/run/netns/$VNS" ip link del eth0
kw_wait 10 bash -c "[ \$(grep -c 'Software caused connection abort' '$KW_TMP/$VICTIM.log') -ge $PER ]" ||
	echo "warning: the victim's relay logged $(grep -c 'Software caused connection abort' "$KW_TMP/$VICTIM.log") aborts of $PER" >&2
last=$(grep 'Software caused connection abort' "$KW_TMP/$VICTIM.log" | tail -n1 | cut -d' ' -f1)
LOSS_MS=$([ -n "$last" ] && kb_fmt %.1f "($(date -d "$last" +%s%N) - $tl) / 1e6" || echo none)
P stop -t 5 "$AGENT" >/dev/null
rm -f "$MET/keepwatch.prom"
P restart -t 2 "$VICTIM" >/dev/null # a new namespace; its clients reconnect below
ip=$(P inspect --format '{{.NetworkSettings.IPAddress}}' "$VICTIM")
kw_wait 20 "${ON_NODE[@]}" bash -c "exec 3<>/dev/tcp/$ip/2000" || kw_die "$VICTIM back"
"${ON_NODE[@]}" "$KB_FARM" connect "$ip" "2000:$PER" >"$KW_TMP/$VICTIM-cli2.out" 2>&1 </dev/null &
KW_PIDS+=("$!")
kw_grep_wait 20 "$KW_TMP/$VICTIM-cli2.out" '^ready' || kw_die "clients of $VICTIM again"

# ---- 2: the same daemon on the node, outside a container ------------------------------------
HLOG="$KW_TMP/host.log"
sed "s|/var/lib/keepwatch/|$MET/|" "$CFG/keepwatch.ini" >"$KW_TMP/host.ini"
"${ON_NODE[@]}" "$KB_DAEMON" -f -c "$KW_TMP/host.ini" >"$HLOG" 2>&1 </dev/null &
HPID=$!
KW_PIDS+=("$HPID")
kw_grep_wait 20 "$HLOG" 'event=start' || { cat "$HLOG"; kw_die "keepwatchd on the node did not start"; }
HHELPER=$(tr -d ' ' <"/proc/$HPID/task/$HPID/children")
read -r h_start _ < <(settle "$MET/keepwatch.prom" "$HPID" "$HHELPER")
h_idle=$(idle "$HPID" "$HHELPER")
kb_row "node agent, on the node" "2" "$(watched "$MET/keepwatch.prom")" \
	"$(kb_rss_kb "$HPID") + $(kb_rss_kb "$HHELPER")" "$(kb_hwm_kb "$HPID") + $(kb_hwm_kb "$HHELPER")" \
	"$h_start" "$h_idle" "-"
kb_stop "$HPID"

# ---- 3: one keepwatchd per container, in its namespace (sidecars) -----------------------------
SPIDS=()
: >"$KW_TMP/side-all.log"
for w in "${WS[@]}"; do
	sidecar_cfg "$w" >"$KW_TMP/side-$w.ini"
	nsenter --net="/run/netns/$(ns_of "$w")" "$KB_DAEMON" -f -c "$KW_TMP/side-$w.ini" \
		>"$KW_TMP/side-$w.log" 2>&1 </dev/null &
	SPIDS+=("$!")
	KW_PIDS+=("$!")
done
for w in "${WS[@]}"; do
	kw_grep_wait 20 "$KW_TMP/side-$w.log" 'event=start' || kw_die "sidecar of $w did not start"
done
s_found=0
for _ in $(seq 1 600); do
	s_found=$(cat "$MET"/"$KW_PREFIX"-w*.prom 2>/dev/null | watched /dev/stdin)
	[ "$s_found" -ge "$TOTAL" ] && break
	sleep 0.2
done
s_start=0
for p in "${SPIDS[@]}"; do s_start=$((s_start + $(kb_cpu_ns "$p"))); done
s_idle=$(idle "${SPIDS[@]}")
kb_row "sidecars, one per container" "$NC" "$s_found" "$(sum_kb VmRSS "${SPIDS[@]}")" \
	"$(sum_kb VmHWM "${SPIDS[@]}")" "$((s_start / 1000000))" "$s_idle" "-"
kb_stop "${SPIDS[@]}"

echo "$NC podman containers (runc, cgroupfs) on a node namespace, $PER idle clients each" \
	"(owners' keepalive 60 s, peers alive), ${SECS}s idle window; machine: $(kb_machine)"
kb_table
echo "link loss of one container (eth0 deleted), with the agent watching all $TOTAL: its" \
	"$PER connections' last ECONNABORTED after $LOSS_MS ms"
echo "SUMMARY containers: agent idle=${a_idle}% sidecars idle=${s_idle}% on-node idle=${h_idle}%" \
	"agent memory cgroup=${a_mem:-?}KiB (limit 65536) link-loss=${LOSS_MS}ms"
