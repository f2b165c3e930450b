#!/bin/bash
# Runs every keepwatch benchmark (poll, idle, kill, reaction, detect, relay, route, enforce) one after the
# other and writes their tables and summary lines to a markdown file.
#
# Usage (root): tests/bench/run.sh [-b BUILD_DIR] [-o FILE] [--quick] [NAME...]
#   -b DIR    the build to measure (default: $KW_BUILD, else build/); built first if absent
#   -o FILE   where the markdown goes (default tests/bench/results.md)
#   --quick   shorter windows and fewer runs, for development (not for the README)
#   NAME...   only these benchmarks (default: poll idle kill reaction detect relay route enforce)
#             (not by default: netns, sockops (the latter sets up 1,000,000 sockets), and
#             tests/bench/containers.sh, keepwatchd as the node agent of 100 podman
#             containers, ~8 min; run that alone: KW_BUILD=build bash ...)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
BUILD=${KW_BUILD:-$SRC/build}
OUT=$HERE/results.md
QUICK=0
NAMES=()
while [ $# -gt 0 ]; do
	case "$1" in
	-b) BUILD=$(cd "$2" 2>/dev/null && pwd || echo "$2"); shift 2 ;;
	-o) OUT=$2; shift 2 ;;
	--quick) QUICK=1; shift ;;
	-h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	*) NAMES+=("$1"); shift ;;
	esac
done
[ ${#NAMES[@]} -gt 0 ] || NAMES=(poll idle kill reaction detect relay route enforce)
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (network namespaces)" >&2; exit 77; }
# Always (re)build: an incremental build is cheap, a stale binary measures the wrong code.
if [ ! -f "$BUILD/CMakeCache.txt" ] &&
	! cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null; then
	echo "run.sh: configure failed" >&2
	exit 1
fi
if ! cmake --build "$BUILD" -j2 >/dev/null; then
	echo "run.sh: build failed" >&2
	exit 1
fi
export KW_BUILD=$BUILD KW_SRC=$SRC
if [ "$QUICK" = 1 ]; then
	export WINDOW=${WINDOW:-8} RUNS=${RUNS:-2}
	IDLE_ARGS=(--quick)
else
	IDLE_ARGS=()
fi

LOGDIR=$(mktemp -d /tmp/kwb-bench-run.XXXXXX)
trap 'rm -rf "$LOGDIR"' EXIT
declare -A STATUS SUMMARY
for name in "${NAMES[@]}"; do
	script="$HERE/$name.sh"
	[ -f "$script" ] || { echo "run.sh: no benchmark $name" >&2; exit 2; }
	args=()
	[ "$name" = idle ] || [ "$name" = enforce ] && args=("${IDLE_ARGS[@]}")
	# relay.sh reads SECS as its iperf3 length: keep its own default unless quick
	echo "== $name" >&2
	start=$(date +%s)
	if [ "$name" = relay ] && [ "$QUICK" = 0 ]; then
		env -u SECS -u RUNS timeout 1800 bash "$script" "${args[@]}" >"$LOGDIR/$name.out" 2>&1
	else
		timeout 1800 bash "$script" "${args[@]}" >"$LOGDIR/$name.out" 2>&1
	fi
	rc=$?
	case $rc in 0) STATUS[$name]=ok ;; 77) STATUS[$name]=skipped ;; *) STATUS[$name]="failed ($rc)" ;; esac
	SUMMARY[$name]=$(grep '^SUMMARY' "$LOGDIR/$name.out" | tail -1 | sed 's/^SUMMARY //')
	echo "   ${STATUS[$name]} in $(($(date +%s) - start)) s: ${SUMMARY[$name]:-no summary}" >&2
done

{
	echo "# keepwatch benchmarks"
	echo
	echo "Machine: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)," \
		"$(nproc) CPUs, $(free -g | awk '/^Mem:/ { print $2 }') GiB, Linux $(uname -r)." \
		"$(date -u '+%Y-%m-%d %H:%M UTC')$([ "$QUICK" = 1 ] && echo ', --quick (development figures)')."
	echo "Build: $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
		"($(git -C "$SRC" status --porcelain 2>/dev/null | grep -q . && echo 'with local changes' || echo clean))," \
		"$(awk -F= '/^CMAKE_BUILD_TYPE:/ { print $2 }' "$BUILD/CMakeCache.txt" 2>/dev/null)."
	echo "Reproduce: \`sudo tests/bench/run.sh\` (one command; each script also runs alone)."
	echo
	echo "| benchmark | status | summary (same-run ratios) |"
	echo "|---|---|---|"
	for name in "${NAMES[@]}"; do
		echo "| $name | ${STATUS[$name]} | ${SUMMARY[$name]:--} |"
	done
	for name in "${NAMES[@]}"; do
		echo
		echo "## $name.sh"
		echo
		echo '```'
		grep -v '^SUMMARY' "$LOGDIR/$name.out" | grep -v '^warning: ' | tail -40
		echo '```'
		if grep -q '^warning: ' "$LOGDIR/$name.out"; then
			echo
			grep '^warning: ' "$LOGDIR/$name.out" | sed 's/^/- /'
		fi
	done
} >"$OUT"
echo "results: $OUT" >&2
for name in "${NAMES[@]}"; do
	case "${STATUS[$name]}" in ok | skipped) ;; *) exit 1 ;; esac
done
exit 0
