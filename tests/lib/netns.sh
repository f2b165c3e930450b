# shellcheck shell=bash
# keepwatch test harness: namespaces, veth pairs, background processes and a private
# syslog receiver, all removed by an EXIT trap (by PID, never by name). Source it.
#
# Safety rules (HACKING.md, "Tests"): everything runs in namespaces this file creates, named
# with the caller's prefix (kwt- tests, kwb- benchmarks, kwdemo- demo); every wait is
# bounded; cleanup runs even when the test fails.

set -u

KW_BUILD=${KW_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}
KW_SRC=${KW_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
KW_NAMESPACES=()
KW_PIDS=()
KW_TMP=""
KW_FAILS=0
KW_PASSES=0

kw_skip() { echo "SKIP: $*"; exit 77; }
kw_die() { echo "FATAL: $*" >&2; exit 1; }

kw_require_root() {
	[ "$(id -u)" = 0 ] || kw_skip "needs root to create network namespaces"
	command -v ip >/dev/null || kw_skip "iproute2 (ip) not installed"
}

kw_cleanup() {
	local pid ns
	for pid in "${KW_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	for pid in "${KW_PIDS[@]}"; do
		for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	for ns in "${KW_NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
	[ -n "$KW_TMP" ] && [ -z "${KW_KEEP_TMP:-}" ] && rm -rf "$KW_TMP"
	return 0
}

# kw_init PREFIX: one per script. PREFIX must start with kwt-, kwb- or kwdemo-.
kw_init() {
	case "$1" in kwt-* | kwb-* | kwdemo-*) ;; *) kw_die "bad namespace prefix $1" ;; esac
	KW_PREFIX="$1-$$"
	KW_TMP=$(mktemp -d "/tmp/$1.XXXXXX")
	trap 'kw_cleanup' EXIT
	trap 'exit 130' INT TERM
}

# kw_ns VAR NAME: creates namespace $KW_PREFIX-NAME with lo up and stores its full name
# in VAR (not printed: a command substitution would lose it from the cleanup list).
kw_ns() {
	local ns="$KW_PREFIX-$2"
	ip netns add "$ns" || kw_die "ip netns add $ns"
	KW_NAMESPACES+=("$ns")
	ip -n "$ns" link set lo up
	printf -v "$1" '%s' "$ns"
}

# kw_veth NS_A IF_A IDX_A NS_B IF_B IDX_B: a veth pair with distinct ifindexes (so
# carrier changes reach rtnetlink at once, not through linkwatch's 1 s delay), both up.
kw_veth() {
	ip link add "$2" index "$3" netns "$1" type veth peer name "$5" index "$6" netns "$4" ||
		kw_die "veth $2/$5"
	ip -n "$1" link set "$2" up
	ip -n "$4" link set "$5" up
}

# kw_addr NS IF ADDR/PREFIX...: adds each address; IPv6 without DAD so it is usable at once.
kw_addr() {
	local ns=$1 dev=$2 a
	shift 2
	for a in "$@"; do
		case "$a" in
		*:*) ip -n "$ns" addr add "$a" dev "$dev" nodad ;;
		*) ip -n "$ns" addr add "$a" dev "$dev" ;;
		esac
	done
}

# kw_pair: the usual two hosts, "srv" and "cli", on one veth link, IPv4 10.77.0.1/2 and
# IPv6 fd77::1/2. Sets KW_NS_SRV, KW_NS_CLI.
kw_pair() {
	kw_ns KW_NS_SRV srv
	kw_ns KW_NS_CLI cli
	kw_veth "$KW_NS_SRV" kwsrv0 77 "$KW_NS_CLI" kwcli0 78
	kw_addr "$KW_NS_SRV" kwsrv0 10.77.0.1/24 fd77::1/64
	kw_addr "$KW_NS_CLI" kwcli0 10.77.0.2/24 fd77::2/64
}

# kw_bg NS LOGFILE CMD...: runs CMD in NS in the background; its PID goes to KW_LAST_PID
# and to the cleanup list.
kw_bg() {
	local ns=$1 log=$2
	shift 2
	ip netns exec "$ns" "$@" >"$log" 2>&1 </dev/null &
	KW_LAST_PID=$!
	KW_PIDS+=("$KW_LAST_PID")
}

# kw_syslog_start: a syslog receiver on $KW_TMP/log.sock; each datagram becomes one line
# "<monotonic ms> <message>" in $KW_SYSLOG.
kw_syslog_start() {
	KW_SYSLOG="$KW_TMP/syslog.txt"
	: >"$KW_SYSLOG"
	python3 -u "$KW_SRC/tests/lib/syslog_sink.py" "$KW_TMP/log.sock" "$KW_SYSLOG" &
	KW_SYSLOG_PID=$!
	KW_PIDS+=("$KW_SYSLOG_PID")
	kw_wait 5 test -S "$KW_TMP/log.sock" || kw_die "syslog sink did not start"
}

# kw_bg_syslog NS LOGFILE CMD...: like kw_bg, but CMD sees our receiver as /dev/log, in a
# private mount namespace (a tmpfs /dev with null, zero, random, urandom and log), so
# the host's /dev and any real syslog daemon are untouched. KW_PROPAGATION=slave lets
# mounts made later on the host (ip netns add) show in there too.
kw_bg_syslog() {
	local ns=$1 log=$2 enter=(ip netns exec "$1")
	shift 2
	# KW_NSENTER: nsenter --net keeps the host's /sys (ip netns exec remounts it, and the
	# cgroup2 mount with it).
	[ -z "${KW_NSENTER:-}" ] || enter=(nsenter --net="/run/netns/$ns")
	"${enter[@]}" unshare -m --propagation "${KW_PROPAGATION:-private}" \
		bash "$KW_SRC/tests/lib/with_devlog.sh" "$KW_TMP/log.sock" "$@" \
		>"$log" 2>&1 </dev/null &
	KW_LAST_PID=$!
	KW_PIDS+=("$KW_LAST_PID")
}

# kw_bg_syslog_ready SECONDS NS LOGFILE CMD...: kw_bg_syslog for a daemon given
# `--ready-fd 3` (in CMD): fd 3 is a FIFO, and this returns 0 once the daemon wrote READY=1
# there (keepwatchd: after its first link, address and socket dumps), 1 if it exited first
# or SECONDS ran out. No fixed sleep: readiness, not hope.
kw_bg_syslog_ready() {
	local limit=$1 fifo rfd line="" part=""
	shift
	fifo=$(mktemp -u "$KW_TMP/ready.XXXXXX")
	mkfifo "$fifo" || return 1
	exec {rfd}<>"$fifo" # read-write: never blocks, whether or not the daemon opens it
	{ kw_bg_syslog "$@"; } 3>"$fifo"
	rm -f "$fifo"
	# bash reads a pipe a byte at a time: on a loaded machine a 0.1 s timeout can fall
	# between two bytes of the one write, and read then keeps what came in part
	for _ in $(seq 1 $((limit * 10))); do
		if read -r -t 0.1 -u "$rfd" part; then
			line+=$part
			break
		fi
		line+=$part
		kill -0 "$KW_LAST_PID" 2>/dev/null || break
	done
	[ "$line" = READY=1 ] || { read -r -t 0.05 -u "$rfd" part && line+=$part; }
	exec {rfd}<&-
	[ "$line" = READY=1 ]
}

# kw_stop PID: SIGTERM, wait up to 2 s, then SIGKILL. Returns the exit status.
kw_stop() {
	local rc
	kill -TERM "$1" 2>/dev/null
	for _ in $(seq 1 40); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	rc=$?
	return $rc
}

# kw_wait SECONDS CMD...: polls CMD every 50 ms until it succeeds or time runs out.
kw_wait() {
	local limit=$1
	shift
	for _ in $(seq 1 $((limit * 20))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}

# kw_grep_wait SECONDS FILE PATTERN: waits until FILE has a line matching PATTERN (ERE).
kw_grep_wait() { kw_wait "$1" grep -Eq -- "$3" "$2"; }

kw_ok() { KW_PASSES=$((KW_PASSES + 1)); echo "ok - $*"; }
kw_fail() { KW_FAILS=$((KW_FAILS + 1)); echo "not ok - $*"; }
# kw_check DESCRIPTION CMD...: records a pass or a failure.
kw_check() {
	local d=$1
	shift
	if "$@"; then kw_ok "$d"; else kw_fail "$d"; fi
}

# kw_done: prints the closing line and exits with the right status.
kw_done() {
	echo "$KW_PASSES passed, $KW_FAILS failed"
	[ "$KW_FAILS" = 0 ]
	exit $?
}

# kw_stop_all_but PID...: stops every process started so far except the ones named, and
# forgets them (a scenario's teardown; the EXIT trap stays the safety net).
kw_stop_all_but() {
	local keep=" $* " pid left=()
	for pid in "${KW_PIDS[@]}"; do
		case "$keep" in *" $pid "*) left+=("$pid"); continue ;; esac
		kw_stop "$pid"
	done
	KW_PIDS=("${left[@]}")
}

kw_mono_ms() {
	if [ -x "$KW_BUILD/tools/mono_ms" ]; then
		"$KW_BUILD/tools/mono_ms"
	else
		python3 -c 'import time; print(int(time.monotonic()*1000))'
	fi
}

# kw_poweroff NS [TABLE [IN_MATCH OUT_MATCH]]: the host in NS loses power, as its peers see
# it: an nft table TABLE (default kwt_poweroff) drops every packet in and out, before
# anything else sees it (priority -300), or only those matching IN_MATCH / OUT_MATCH (nft
# expressions, e.g. "tcp sport 2000"). kw_poweron NS [TABLE] restores power.
kw_poweroff() {
	local ns=$1 table=${2:-kwt_poweroff} in out
	if [ $# -ge 4 ]; then
		in="$3 drop;" out="$4 drop;"
	else
		in="policy drop;" out="policy drop;"
	fi
	ip netns exec "$ns" nft -f - <<NFT
table inet $table {
	chain in { type filter hook input priority -300; $in }
	chain out { type filter hook output priority -300; $out }
}
NFT
}

kw_poweron() {
	ip netns exec "$1" nft delete table inet "${2:-kwt_poweroff}"
}
