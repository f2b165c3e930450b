#!/bin/bash
# keepwatch-relay throughput and CPU cost (default 1 MiB, 256 KiB and 64 KiB pipes) against
# plain socat, socat -b 262144 and a direct connection: iperf3 on the loopback of one kwb-
# namespace, variants alternated, medians.
#
# Usage (root): KW_BUILD=build tests/bench/relay.sh     env: RUNS (default 5), SECS (default 3)
# CPU is utime+stime of the forwarding process from /proc/PID/stat (socat: its forked
# children's too, counted in the parent's cutime+cstime once reaped).
. "$(dirname "$0")/../lib/netns.sh"
kw_require_root
for t in iperf3 socat python3; do command -v $t >/dev/null || kw_skip "$t not installed"; done
RELAY="$KW_BUILD/keepwatch-relay"
[ -x "$RELAY" ] || kw_die "no $RELAY (build first)"
RUNS=${RUNS:-5}
SECS=${SECS:-3}
kw_init kwb-relay
kw_ns NS bench
TCK=$(getconf CLK_TCK)

kw_bg "$NS" "$KW_TMP/iperf3.log" iperf3 -s -p 5201
kw_bg "$NS" "$KW_TMP/relay.log" "$RELAY" --listen 127.0.0.1:6001 --connect 127.0.0.1:5201
PID_relay=$KW_LAST_PID
kw_bg "$NS" "$KW_TMP/relay64k.log" "$RELAY" --listen 127.0.0.1:6002 --connect 127.0.0.1:5201 \
	--pipe-size 65536
PID_relay64k=$KW_LAST_PID
kw_bg "$NS" "$KW_TMP/relay256k.log" "$RELAY" --listen 127.0.0.1:6005 --connect 127.0.0.1:5201 \
	--pipe-size 262144
PID_relay256k=$KW_LAST_PID
kw_bg "$NS" "$KW_TMP/socat.log" socat TCP-LISTEN:6003,bind=127.0.0.1,reuseaddr,fork \
	TCP:127.0.0.1:5201
PID_socat=$KW_LAST_PID
kw_bg "$NS" "$KW_TMP/socatb.log" socat -b 262144 TCP-LISTEN:6004,bind=127.0.0.1,reuseaddr,fork \
	TCP:127.0.0.1:5201
PID_socatb=$KW_LAST_PID
listening() { [ "$(ip netns exec "$NS" ss -Htln | wc -l)" -ge 6 ]; }
kw_wait 5 listening || kw_die "listeners did not start"

VARIANTS="direct relay relay256k relay64k socat socatb"
declare -A PORT=([direct]=5201 [relay]=6001 [relay256k]=6005 [relay64k]=6002 [socat]=6003
	[socatb]=6004)
declare -A PID=([direct]="" [relay]=$PID_relay [relay256k]=$PID_relay256k
	[relay64k]=$PID_relay64k [socat]=$PID_socat [socatb]=$PID_socatb)

# kw_bg runs "ip netns exec ... CMD"; the forwarder is the child that ip exec'd into, so
# the PID is the forwarder itself.
cpu_ticks() {
	# fields after the "(comm)": utime=14 stime=15 cutime=16 cstime=17 (1-based, whole line)
	awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$1/stat"
}

# Other load on the machine skews every variant (a forwarder adds a third busy process):
# say how busy it was.
echo "# $(nproc) CPUs, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$KW_TMP/results"
for run in $(seq 1 "$RUNS"); do
	for v in $VARIANTS; do
		pid=${PID[$v]}
		[ -n "$pid" ] && c0=$(cpu_ticks "$pid")
		timeout $((SECS + 20)) ip netns exec "$NS" iperf3 -c 127.0.0.1 -p "${PORT[$v]}" \
			-t "$SECS" -J >"$KW_TMP/iperf.json" 2>&1 || kw_die "iperf3 via $v failed"
		sleep 0.3 # lets socat reap its forked child so the child's CPU is counted
		cpu="-"
		[ -n "$pid" ] && cpu=$(( $(cpu_ticks "$pid") - c0 ))
		read -r bytes secs < <(python3 -c 'import json, sys
e = json.load(open(sys.argv[1]))["end"]["sum_received"]
print(e["bytes"], e["seconds"])' "$KW_TMP/iperf.json")
		echo "$v $run $bytes $secs $cpu" >>"$KW_TMP/results"
	done
done

echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$KW_TMP/results" "$TCK" "$RUNS" "$SECS" <<'EOF'
import statistics, sys
rows, tck = {}, int(sys.argv[2])
for line in open(sys.argv[1]):
    v, run, b, s, cpu = line.split()
    gib = int(b) / 2**30
    cps = (int(cpu) / tck) / gib if cpu != '-' else None
    rows.setdefault(v, []).append((gib / float(s), cps))
labels = {'direct': 'direct (no forwarder)', 'relay': 'keepwatch-relay (1 MiB pipes)',
          'relay256k': 'keepwatch-relay --pipe-size 256KiB',
          'relay64k': 'keepwatch-relay --pipe-size 64KiB',
          'socat': 'socat', 'socatb': 'socat -b 262144'}
med = {}
for v, r in rows.items():
    tp = statistics.median(x[0] for x in r)
    cp = [x[1] for x in r if x[1] is not None]
    med[v] = (tp, statistics.median(cp) if cp else None, [x[0] for x in r])
d = med['direct'][0]
print('loopback iperf3, %s runs x %s s each, variants alternated; medians'
      % (sys.argv[3], sys.argv[4]))
print('%-34s %9s %9s %11s  %s' % ('variant', 'GiB/s', 'x direct', 'CPU-s/GiB', 'runs GiB/s'))
for v in ['direct', 'relay', 'relay256k', 'relay64k', 'socat', 'socatb']:
    tp, cp, runs = med[v]
    print('%-34s %9.2f %9.2f %11s  %s' % (labels[v], tp, tp / d, '-' if cp is None else '%.3f' % cp,
                                          ' '.join('%.2f' % x for x in runs)))
r = med['relay']
print('SUMMARY relay/direct=%.2f relay/socat=%.2f relay/socat-b262144=%.2f '
      'relay_cpu_s_per_gib=%.3f (targets: >=0.70, >=2.50, <=0.35)'
      % (r[0] / d, r[0] / med['socat'][0], r[0] / med['socatb'][0], r[1]))
EOF
