#!/usr/bin/env bash
# Lint: clang-format (check only) on the C sources, clang-tidy (.clang-tidy: bugprone-*,
# clang-analyzer-*) on src/, shellcheck (.shellcheckrc) on every shell script.
# Exit 0 = clean. tests/run.sh runs it; see HACKING.md.
#
# Usage: tests/lint.sh [BUILD_DIR]
#   BUILD_DIR  a configured build with compile_commands.json (default build-clang; it is
#              configured with clang if absent)
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src" || exit 1
build=${1:-build-clang}
fail=0

for tool in clang-format clang-tidy shellcheck; do
	command -v "$tool" >/dev/null || { echo "lint: $tool missing (tests/deps.sh)" >&2; exit 1; }
done

# clang-format: every tracked C file except those tests/lint-format-pending names.
mapfile -t pending < <(grep -v '^#' tests/lint-format-pending | sed '/^$/d')
mapfile -t cfiles < <(git ls-files '*.c' '*.h' 2>/dev/null || find src include tests -name '*.[ch]')
format=()
for f in "${cfiles[@]}"; do
	skip=0
	for p in "${pending[@]}"; do [ "$f" = "$p" ] && skip=1 && break; done
	[ "$skip" = 1 ] || format+=("$f")
done
if clang-format --dry-run -Werror "${format[@]}"; then
	echo "lint: clang-format: ${#format[@]} files ok (${#pending[@]} pending)"
else
	echo "lint: clang-format: run clang-format -i on the files above" >&2
	fail=1
fi

# clang-tidy: src/, with the build's compile commands.
if [ ! -f "$build/compile_commands.json" ]; then
	cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang >/dev/null || exit 1
fi
mapfile -t tidy < <(ls src/*.c)
# (clang-tidy exits non-zero on findings: under pipefail that must not hide them)
if printf '%s\n' "${tidy[@]}" |
	{ xargs -P "$(nproc)" -n 4 clang-tidy -p "$build" --quiet 2>&1 || true; } |
	grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$' |
	grep -E -A3 '(warning|error):'; then
	echo "lint: clang-tidy: findings above" >&2
	fail=1
else
	echo "lint: clang-tidy: ${#tidy[@]} files ok"
fi

# Shell: every script, and the CI entry point.
mapfile -t scripts < <({
	git ls-files '*.sh' 2>/dev/null || find . -name '*.sh' -printf '%P\n'
	[ -f .ci/run ] && echo .ci/run
} | sort -u)
if shellcheck "${scripts[@]}"; then
	echo "lint: shellcheck: ${#scripts[@]} scripts ok"
else
	fail=1
fi
exit $fail
