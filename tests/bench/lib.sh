# keepwatch benchmark helpers: kwb-bench namespaces with bench sysctls, connection farms
# (tests/tools/connfarm), CPU and memory of a PID from /proc, medians, aligned tables.
# shellcheck shell=bash
# Source it from a tests/bench script; the netns.sh EXIT trap stops every process by PID.

. "$(dirname "${BASH_SOURCE[0]}")/../lib/netns.sh"

KB_FARM="$KW_BUILD/tools/connfarm"
KB_DAEMON="$KW_BUILD/keepwatchd"
KB_TCK=$(getconf CLK_TCK)
KB_ROWS=""

# kb_init NAME [needs-daemon]: root, built tools, namespaces prefixed kwb-bench-NAME-PID.
kb_init() {
	kw_require_root
	[ -x "$KB_FARM" ] || kw_die "no $KB_FARM (cmake --build the tree first)"
	if [ "${2:-}" = needs-daemon ]; then
		[ -x "$KB_DAEMON" ] || kw_die "no $KB_DAEMON (cmake --build the tree first)"
	fi
	kw_init "kwb-bench-$1"
	KB_ROWS="$KW_TMP/rows"
	: >"$KB_ROWS"
}

# kb_ns VAR NAME: a namespace ready for tens of thousands of connections (namespaced
# sysctls only: the host's settings are untouched). Ephemeral ports start at 10000, so
# listeners below that never collide with an earlier connection's local port.
kb_ns() {
	kw_ns "$1" "$2"
	ip netns exec "${!1}" sysctl -qw net.ipv4.ip_local_port_range="10000 65535" \
		net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535 >/dev/null ||
		kw_die "sysctls in ${!1}"
}

# kb_pair [SUFFIX]: namespaces srvSUFFIX and cliSUFFIX (in NS_SRV, NS_CLI) joined by a veth:
# kwsrv0 10.77.0.1/24 and kwcli0 10.77.0.2/24.
kb_pair() {
	kb_ns NS_SRV "srv${1:-}"
	kb_ns NS_CLI "cli${1:-}"
	kw_veth "$NS_SRV" kwsrv0 77 "$NS_CLI" kwcli0 78
	kw_addr "$NS_SRV" kwsrv0 10.77.0.1/24
	kw_addr "$NS_CLI" kwcli0 10.77.0.2/24
}

# kb_farm VAR NS NAME TIMEOUT ARGS...: connfarm ARGS in NS, output in $KW_TMP/NAME.out;
# waits (bounded) for its "ready" line and stores its PID in VAR.
kb_farm() {
	local var=$1 ns=$2 name=$3 limit=$4
	shift 4
	kw_bg "$ns" "$KW_TMP/$name.out" "$KB_FARM" "$@"
	printf -v "$var" '%s' "$KW_LAST_PID"
	kw_grep_wait "$limit" "$KW_TMP/$name.out" '^ready' && return 0
	cat "$KW_TMP/$name.out" >&2
	kw_die "connfarm $name not ready within ${limit}s"
}

# kb_listen_wait NAME: waits for a listening farm's "listening" line.
kb_listen_wait() {
	kw_grep_wait 10 "$KW_TMP/$1.out" '^listening' && return 0
	cat "$KW_TMP/$1.out" >&2
	kw_die "connfarm $1 did not listen"
}

# kb_bulk NS CONNS BASEPORT: CONNS idle loopback connections (2 x CONNS sockets) in NS,
# split into farms of at most 16,000 per process (the per-process fd cap is 20,000), on
# ports BASEPORT, BASEPORT+1, ... (keep them below 10000).
kb_bulk() {
	local ns=$1 total=$2 port=$3 chunks per i pid
	chunks=$(((total + 15999) / 16000))
	for i in $(seq 0 $((chunks - 1))); do
		per=$(((total + i) / chunks))
		kw_bg "$ns" "$KW_TMP/bulk-l$i.out" "$KB_FARM" listen -n "$per" 127.0.0.1 $((port + i))
		kb_listen_wait "bulk-l$i"
	done
	for i in $(seq 0 $((chunks - 1))); do
		per=$(((total + i) / chunks))
		kb_farm pid "$ns" "bulk-c$i" 120 connect 127.0.0.1 "$((port + i)):$per"
		kw_grep_wait 60 "$KW_TMP/bulk-l$i.out" '^ready' || kw_die "bulk listener $i"
	done
}

# kb_daemon VAR NS CONFIG NAME: keepwatchd in NS logging to stderr (never to the host's
# syslog); waits for event=start and stores its PID in VAR.
kb_daemon() {
	local var=$1
	kw_bg "$2" "$KW_TMP/$4.log" "$KB_DAEMON" -c "$3" -f
	printf -v "$var" '%s' "$KW_LAST_PID"
	kw_grep_wait 20 "$KW_TMP/$4.log" 'event=start' && return 0
	cat "$KW_TMP/$4.log" >&2
	kw_die "keepwatchd ($4) did not start"
}

# kb_config FILE [global keys...] -- [service keys...]: a config with log = stderr and
# one service "bench".
kb_config() {
	local f=$1 kv
	shift
	{
		# the state file beside the config: the host's /run stays untouched
		printf '[global]\nsockops = off\nlog = stderr\nstate_file = %s.state\n' "${f%.*}"
		while [ $# -gt 0 ] && [ "$1" != -- ]; do printf '%s\n' "$1"; shift; done
		[ $# -gt 0 ] && shift
		printf '[service bench]\n'
		for kv in "$@"; do printf '%s\n' "$kv"; done
	} >"$f"
}

# kb_cpu_ns PID: CPU time used so far by every thread of PID, in ns (schedstat: exact,
# unlike the 10 ms ticks of /proc/PID/stat).
kb_cpu_ns() {
	if [ -r "/proc/$1/schedstat" ]; then
		cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%d\n", s }'
	else
		kb_cpu_ticks_ns "$1"
	fi
}

# kb_cpu_ticks_ns PID: utime + stime from /proc/PID/stat, in ns (10 ms resolution).
kb_cpu_ticks_ns() {
	awk -v tck="$KB_TCK" '{ sub(/^.*\) /, ""); printf "%d\n", ($12 + $13) * 1e9 / tck }' \
		"/proc/$1/stat"
}

# kb_hwm_kb PID / kb_rss_kb PID: peak and current resident set, in KiB.
kb_hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
kb_rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# kb_median NUMBERS...: the median (mean of the middle two for an even count).
kb_median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "nan"; exit }
		if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# kb_calc EXPR: floating-point arithmetic (awk), e.g. kb_calc "3 / 7".
kb_calc() { awk "BEGIN { printf \"%.6g\n\", $1 }"; }
# kb_fmt FORMAT EXPR: like kb_calc with a printf format, e.g. kb_fmt %.2f "1/3".
kb_fmt() { awk "BEGIN { printf \"$1\n\", $2 }"; }

# kb_row CELL...: one table row (the first call gives the header).
kb_row() {
	local IFS='|'
	printf '%s\n' "$*" >>"$KB_ROWS"
}

# kb_table: prints the rows so far as an aligned table and starts a new one.
kb_table() {
	awk -F'|' '{ for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) }
		if (NF > nf) nf = NF; n = NR }
		END { for (r = 1; r <= n; r++) { line = ""
			for (i = 1; i <= nf; i++) line = line sprintf(i == 1 ? "%-*s" : "  %*s", w[i], c[r, i])
			print line
			if (r == 1) { line = ""; for (i = 1; i <= nf; i++) { s = sprintf("%*s", w[i], "")
				gsub(/ /, "-", s); line = line (i == 1 ? "" : "  ") s }; print line } } }' "$KB_ROWS"
	: >"$KB_ROWS"
}

# kb_err_field FILE KEY: a key=value from the summary line of a connfarm -e stamps file.
kb_err_field() { head -1 "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2 }'; }

# kb_machine: one line naming the machine the figures come from, with its load average
# (other work on a small machine stretches wall-clock figures, not CPU ones).
kb_machine() {
	printf '%s, %s CPUs, Linux %s, load %s\n' \
		"$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" "$(nproc)" "$(uname -r)" \
		"$(cut -d' ' -f1-3 /proc/loadavg)"
}

# kb_stop PID...: stops each PID (TERM, then KILL after 2 s) and forgets it, so the EXIT
# trap never signals a PID number the system may have handed out again.
kb_stop() {
	local pid p left
	for pid in "$@"; do
		kw_stop "$pid"
		left=()
		for p in "${KW_PIDS[@]}"; do [ "$p" = "$pid" ] || left+=("$p"); done
		KW_PIDS=("${left[@]}")
	done
}

# kb_victims TAG N [LISTEN-OPTS...]: N connections from NS_CLI to 10.77.0.1:2000 in NS_SRV
# (kb_pair) whose server side stamps the first error it reads (connfarm -e). Sets KB_V_SRV
# and KB_V_CLI (PIDs), KB_V_ERR (the stamps file) and KB_V_OUT (the server's output).
kb_victims() {
	local tag=$1 n=$2
	shift 2
	KB_V_ERR="$KW_TMP/$tag.err"
	KB_V_OUT="$KW_TMP/$tag-srv.out"
	rm -f "$KB_V_ERR"
	kw_bg "$NS_SRV" "$KB_V_OUT" "$KB_FARM" listen -n "$n" -e "$KB_V_ERR" "$@" 0.0.0.0 2000
	# shellcheck disable=SC2034 # for the scripts that source this file
	KB_V_SRV=$KW_LAST_PID
	kb_listen_wait "$tag-srv"
	kb_farm KB_V_CLI "$NS_CLI" "$tag-cli" 60 connect 10.77.0.1 "2000:$n"
	kw_grep_wait 30 "$KB_V_OUT" '^ready' || kw_die "victims $tag: server side not ready"
}

# kb_victims_done SECONDS: waits until every victim read its error (or SECONDS pass).
kb_victims_done() { kw_grep_wait "$1" "$KB_V_OUT" '^done' && [ -s "$KB_V_ERR" ]; }

# kb_poweroff NS / kb_poweron NS: the host in NS loses power (every packet in and out
# dropped by an nft table of its own namespace) / comes back.
kb_poweroff() {
	ip netns exec "$1" nft -f - <<'NFT'
table inet kwb_poweroff {
	chain in { type filter hook input priority -300; policy drop; }
	chain out { type filter hook output priority -300; policy drop; }
}
NFT
}
kb_poweron() { ip netns exec "$1" nft delete table inet kwb_poweroff; }

# kb_ms VALUE: milliseconds with two decimals; 1e9 and above (the "never seen" mark) as none.
kb_ms() { awk -v v="$1" 'BEGIN { if (v + 0 >= 1e9) print "none"; else printf "%.2f\n", v }'; }
