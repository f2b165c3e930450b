#!/usr/bin/env bash
# Builds keepwatch three ways (gcc -Werror, clang -Werror, clang with ASan+UBSan and the
# fuzzers), lints (tests/lint.sh) and runs every test: unit under each build, integration
# (in namespaces) and fuzz under the sanitizers. Exit 0 = all pass.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"
bash tests/deps.sh
jobs=$(nproc)

# The prefix /usr, Debian's layout: keepwatchd's default config is then
# /etc/keepwatch/keepwatch.ini, and it.ops_install and it.systemd_unit package the build.
build() { # dir, extra cmake args...
	local dir=$1
	shift
	cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr "$@" >/dev/null
	cmake --build "$dir" -j "$jobs" >/dev/null
	echo "built $dir"
}

build build-gcc -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release # -O3: gcc warns most here
build build-clang -DCMAKE_C_COMPILER=clang
build build-asan -DCMAKE_C_COMPILER=clang -DKEEPWATCH_SANITIZE=ON -DKEEPWATCH_FUZZ=ON

bash tests/lint.sh build-clang

# Unit tests under both compilers' plain builds, then everything under the sanitizers.
(cd build-gcc && ctest --output-on-failure -R '^unit\.')
(cd build-clang && ctest --output-on-failure -R '^unit\.')
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure)
