#!/usr/bin/env bash
# The layer rule (HACKING.md, "Layers"): a file under src/LAYER/ includes only headers of its
# own layer or of the layers below it, and the relay only the shared helpers. Exit 0 = clean.
#
# Usage: tests/lint/layers.sh [SRC_DIR]   (default: the checkout's src/)
set -uo pipefail
src=${1:-$(cd "$(dirname "$0")/../../src" && pwd)}
# Bottom to top. The relay stands beside the watchdog: shared helpers only.
order=(shared config logic kernel pipeline daemon)
declare -A rank=([relay]=-1)
for i in "${!order[@]}"; do rank[${order[$i]}]=$i; done

may_include() { # from to
	local from=$1 to=$2
	[ -n "${rank[$to]+x}" ] || return 1
	if [ "$from" = relay ]; then
		[ "$to" = relay ] || [ "$to" = shared ]
		return
	fi
	[ "$to" != relay ] && [ "${rank[$to]}" -le "${rank[$from]}" ]
}

fail=0
while IFS= read -r f; do
	rel=${f#"$src"/}
	layer=${rel%%/*}
	if [ -z "${rank[$layer]+x}" ]; then
		echo "$rel: not in a layer folder (${order[*]} relay)"
		fail=1
		continue
	fi
	while IFS=: read -r line inc; do
		to=${inc%%/*}
		if ! may_include "$layer" "$to"; then
			echo "$rel:$line: includes \"$inc\": $layer may not include $to"
			fail=1
		fi
	done < <(awk '/^[ \t]*#[ \t]*include[ \t]*"/ {
		match($0, /"[^"]*"/); print FNR ":" substr($0, RSTART + 1, RLENGTH - 2) }' "$f")
done < <(find "$src" -name '*.[ch]' | sort)
exit $fail
