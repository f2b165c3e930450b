#!/usr/bin/env bash
# Builds keepwatch four ways (gcc -Werror, clang -Werror, clang with ASan+UBSan and the
# fuzzers, gcc without the sock_ops hook), lints (tests/lint.sh) and runs every test: unit
# under each build, integration (in namespaces) and fuzz under the sanitizers; the build
# without the hook also runs it.sockops_without. Exit 0 = all pass.
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
# without the sock_ops hook: the stubs build, and the fallback is chosen and said
build build-nobpf -DCMAKE_C_COMPILER=gcc -DKEEPWATCH_BPF=OFF

bash tests/lint.sh build-clang

# Unit tests under both compilers' plain builds, then everything under the sanitizers.
(cd build-gcc && ctest --output-on-failure -R '^unit\.')
(cd build-clang && ctest --output-on-failure -R '^unit\.')
(cd build-nobpf && ctest --output-on-failure -R '^unit\.|^it\.sockops_without$')
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure)
