#!/usr/bin/env bash
# No file of src/ over 850 lines (HACKING.md, Style: one concern per file, ~800 lines at
# most). Exit 0 = clean; each failure names the file and its length.
#
# Usage: tests/lint/sizes.sh [SRC_DIR] [MAX]   (default: the checkout's src/, 850)
set -uo pipefail
src=${1:-$(cd "$(dirname "$0")/../../src" && pwd)}
max=${2:-850}
fail=0
while IFS= read -r f; do
	n=$(wc -l <"$f")
	if [ "$n" -gt "$max" ]; then
		echo "sizes: ${f#"$src"/}: $n lines (at most $max: split it by concern)"
		fail=1
	fi
done < <(find "$src" -name '*.[ch]' | sort)
exit $fail
