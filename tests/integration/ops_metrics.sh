#!/usr/bin/env bash
# keepwatch: the metrics file of a running keepwatchd — it appears, parses as Prometheus
# text (promtool when installed, and always a strict checker here), counts the watched
# connection, and its counters move when a link loss kills (or, dry run, would kill).
. "$(dirname "$0")/../lib/netns.sh"

KWD="$KW_BUILD/keepwatchd"
kw_require_root
[ -x "$KWD" ] || kw_skip "$KWD not built"
"$KWD" --version 2>&1 | grep -q "not built yet" && kw_skip "keepwatchd: not built yet"
grep -q keepwatch_kills_total "$KWD" || kw_skip "metrics not wired into keepwatchd yet"
kw_init kwt-ops
PORT=5998

# prom_get FILE NAME LABELS: checks FILE strictly, then prints the value of NAME{LABELS}
# (LABELS as written, e.g. service="web",reason="idle"; "" for none). Exit 1 with the
# reason on stderr if the file is not valid Prometheus text.
prom_get() {
	python3 - "$@" <<'EOF'
import math, re, sys
path, want_name, want_labels = sys.argv[1], sys.argv[2], sys.argv[3]
NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
SAMPLE = re.compile(r'^(%s)(\{(%s(?:,%s)*)\})? (\S+)( -?\d+)?$' % (NAME, LABEL, LABEL))
VALUE = re.compile(r'^(NaN|[+-]Inf|[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)$')
def die(msg, n=0):
    sys.exit("%s:%d: %s" % (path, n, msg))
text = open(path).read()
if not text.endswith("\n") or "\r" in text:
    die("must end with a newline, no CR")
types, helps, closed, seen, series = {}, set(), set(), [], {}
current = None
def enter(fam, n):
    global current
    if fam != current:
        if fam in closed:
            die("family %s not contiguous" % fam, n)
        if current:
            closed.add(current)
        current = fam
for n, line in enumerate(text[:-1].split("\n"), 1):
    if line.startswith("# HELP ") or line.startswith("# TYPE "):
        parts = line.split(" ", 3)
        if len(parts) < 4 or not re.fullmatch(NAME, parts[2]):
            die("bad comment", n)
        enter(parts[2], n)
        if parts[1] == "HELP":
            if parts[2] in helps or re.search(r'\\[^\\n]', parts[3]):
                die("second HELP or bad escape", n)
            helps.add(parts[2])
        else:
            if parts[2] in types or parts[3] not in ("counter", "gauge", "histogram", "summary", "untyped"):
                die("bad or second TYPE", n)
            if any(s[0] == parts[2] for s in seen):
                die("TYPE after samples", n)
            types[parts[2]] = parts[3]
        continue
    if line.startswith("#") or not line:
        continue
    m = SAMPLE.match(line)
    if not m or not VALUE.match(m.group(8)):
        die("bad sample line: %r" % line, n)
    name, labels, value = m.group(1), m.group(3) or "", m.group(8)
    pairs = re.findall(LABEL, labels)
    if len({k for k, _ in pairs}) != len(pairs):
        die("duplicate label", n)
    fam = name
    if fam not in types:
        for sfx in ("_bucket", "_sum", "_count"):
            if name.endswith(sfx) and types.get(name[:-len(sfx)]) == "histogram":
                fam = name[:-len(sfx)]
    if fam not in types:
        die("sample without TYPE: %s" % name, n)
    enter(fam, n)
    key = (name, tuple(sorted(pairs)))
    if key in series:
        die("duplicate series", n)
    v = float(value.replace("Inf", "inf"))
    if types[fam] == "counter" and (not name.endswith("_total") or not v >= 0):
        die("counter must end in _total and be >= 0", n)
    series[key] = v
    seen.append((fam, name, dict(pairs), v))
for fam, t in types.items():
    if t != "histogram":
        continue
    buckets = [(float(l["le"].replace("Inf", "inf")), v) for f, nm, l, v in seen
               if f == fam and nm == fam + "_bucket"]
    count = [v for f, nm, l, v in seen if nm == fam + "_count"]
    if not buckets or buckets != sorted(buckets) or not math.isinf(buckets[-1][0]) \
            or [b[1] for b in buckets] != sorted(b[1] for b in buckets) \
            or count != [buckets[-1][1]]:
        die("histogram %s: buckets not cumulative or +Inf != _count" % fam)
want = (want_name, tuple(sorted(re.findall(LABEL, want_labels))))
print("%g" % series[want] if want in series else "absent")
EOF
}

# metric_is FILE NAME LABELS VALUE: the file is valid and NAME{LABELS} == VALUE.
metric_is() { [ "$(prom_get "$1" "$2" "$3" 2>/dev/null)" = "$4" ]; }

listening() { ip netns exec "$KW_NS_SRV" ss -Hltn "sport = :$PORT" | grep -q .; }

# scenario NAME FLAGS...: a connection on $PORT, keepwatchd with a metrics file, the link cut.
scenario() {
	local name=$1 dir="$KW_TMP/$1" m pid kill_metric other_metric
	shift
	mkdir -p "$dir/metrics"
	m="$dir/metrics/keepwatch.prom"
	kw_pair
	kw_bg "$KW_NS_SRV" "$dir/server.log" python3 -u "$KW_SRC/tests/lib/peer.py" server 10.77.0.1 "$PORT"
	kw_wait 5 listening || kw_die "server did not listen"
	kw_bg "$KW_NS_CLI" "$dir/client.log" python3 -u "$KW_SRC/tests/lib/peer.py" client 10.77.0.1 "$PORT"
	kw_grep_wait 5 "$dir/server.log" " accept peer=" || kw_die "no connection"
	cat >"$dir/kw.ini" <<EOF
[global]
poll_interval = 100ms
log = stderr
metrics_file = $m

[service web]
local_ports = $PORT
keepalive_probes = 2
EOF
	kw_bg "$KW_NS_SRV" "$dir/kwd.log" "$KWD" -f -c "$dir/kw.ini" "$@"
	pid=$KW_LAST_PID
	kw_check "$name: metrics file written" kw_wait 5 test -s "$m"
	if command -v promtool >/dev/null; then
		kw_check "$name: promtool check metrics" bash -c "promtool check metrics <'$m'"
	fi
	prom_get "$m" keepwatch_build_info "" >/dev/null
	kw_check "$name: metrics file parses as Prometheus text" test $? = 0
	kw_check "$name: mode 0644" test "$(stat -c %a "$m")" = 644
	kw_check "$name: watched_connections{service=web} reaches 1" \
		kw_wait 5 metric_is "$m" keepwatch_watched_connections 'service="web"' 1
	if [ "$name" = dryrun ]; then
		kill_metric=keepwatch_would_kills_total other_metric=keepwatch_kills_total
	else
		kill_metric=keepwatch_kills_total other_metric=keepwatch_would_kills_total
	fi
	kw_check "$name: $kill_metric{web,link-down} starts at 0" \
		metric_is "$m" $kill_metric 'service="web",reason="link-down"' 0
	ip -n "$KW_NS_CLI" link set kwcli0 down
	kw_check "$name: $kill_metric{web,link-down} moves to 1" \
		kw_wait 5 metric_is "$m" $kill_metric 'service="web",reason="link-down"' 1
	kw_check "$name: link_events_total{link-carrier-lost} counted" \
		kw_wait 3 metric_is "$m" keepwatch_link_events_total 'event="link-carrier-lost"' 1
	kw_check "$name: $other_metric{web,link-down} stays 0" \
		metric_is "$m" $other_metric 'service="web",reason="link-down"' 0
	kw_check "$name: poll histogram counts polls" \
		bash -c "[ \"\$(prom_get '$m' keepwatch_poll_duration_seconds_count '')\" != 0 ]"
	kw_check "$name: no temporary file left" test ! -e "$m.tmp"
	kw_check "$name: SIGTERM exits 0" kw_stop "$pid"
	grep -E "^keepwatch_(kills|would_kills)_total.*link-down" "$m" | sed "s/^/# $name: /"
	ip netns del "$KW_NS_SRV"
	ip netns del "$KW_NS_CLI"
}
export -f prom_get

scenario kill
scenario dryrun -n
kw_done
