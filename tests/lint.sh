#!/usr/bin/env bash
# Lint: the structure rules (tests/lint/: includes point down, the pure layer reaches no
# system call, each struct is written only by the files its header names, no call circle
# among src/ files, no file over 850 lines; each check shown to catch a planted violation),
# clang-format (check only) on the C sources, clang-tidy (.clang-tidy: bugprone-*,
# clang-analyzer-*) on src/, shellcheck (.shellcheckrc) on every shell script, and no
# control bytes in the man pages.
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

# clang-format: every tracked C file.
mapfile -t format < <(git ls-files '*.c' '*.h' 2>/dev/null || find src tests -name '*.[ch]')
if clang-format --dry-run -Werror "${format[@]}"; then
	echo "lint: clang-format: ${#format[@]} files ok"
else
	echo "lint: clang-format: run clang-format -i on the files above" >&2
	fail=1
fi

# clang-tidy: src/, with the build's compile commands.
if [ ! -f "$build/compile_commands.json" ]; then
	cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang >/dev/null || exit 1
fi
mapfile -t tidy < <(ls src/*/*.c)
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

# Structure: includes point down (layers.sh), the pure layer's objects reach no system call
# (pure.sh, on the build's libraries), each struct is written only where its header says
# (owners.py), no call circle among src/ files (calls.py, on the build's objects), no file
# over 850 lines (sizes.sh); each fails on a planted violation (selftest.sh).
cmake --build "$build" -j "$(nproc)" --target keepwatchd keepwatch-relay >/dev/null || exit 1
if bash tests/lint/selftest.sh "$build"; then
	echo "lint: structure: includes point down, src/logic reaches no system call, one writer" \
		"per struct, no call circle, no file over 850 lines"
else
	echo "lint: structure: see above (HACKING.md, Layers and Who writes what)" >&2
	fail=1
fi

# Man pages: no raw control bytes (a \f written through a shell that expanded it becomes a
# form feed, which man(1) warns about and drops).
if grep -nP '[\x00-\x08\x0b-\x1f\x7f]' etc/man/*; then
	echo "lint: man pages: control bytes on the lines above (write backslash-f as two characters)" >&2
	fail=1
else
	echo "lint: man pages: no control bytes"
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
