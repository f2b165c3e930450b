#!/usr/bin/env bash
# Shows that the layer lints fail where they must: an include that points up a layer, and a
# system call in the pure layer, directly or through a lower layer's impure function. Each
# planted violation must make its check fail and be named; the tree as it is must pass.
#
# Usage: tests/lint/selftest.sh BUILD_DIR   (a built tree: pure.sh reads its libraries)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../src" && pwd)
build=${1:?usage: selftest.sh BUILD_DIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
expect_fail() { # what, output file, rc, pattern
	if [ "$3" -ne 0 ] && grep -q -- "$4" "$2"; then
		echo "lint selftest: $1: caught ($(grep -m1 -- "$4" "$2"))"
	else
		echo "lint selftest: $1: NOT caught (rc $3)" >&2
		cat "$2" >&2
		fail=1
	fi
}

# 1. An upward include: the pure layer reaching for the sock_diag socket's header.
cp -r "$src" "$tmp/src"
printf '#include "kernel/sockdiag.h"\n' >>"$tmp/src/logic/policy.c"
bash "$here/layers.sh" "$tmp/src" >"$tmp/out1" 2>&1
expect_fail "upward include" "$tmp/out1" $? 'logic/policy.c:.*logic may not include kernel'

# 2. A system call in the pure layer, and 3. one reached through the config layer's loader.
cc=${CC:-cc}
printf '#include <sys/socket.h>\nint planted_sock(void) { return socket(AF_INET, SOCK_STREAM, 0); }\n' \
	>"$tmp/sys.c"
printf 'struct kw_config;\nint config_load(const char *, struct kw_config *, void *, void *);\n%s\n' \
	'int planted_load(struct kw_config *c) { return config_load("x", c, 0, 0); }' >"$tmp/via.c"
"$cc" -c -o "$tmp/sys.o" "$tmp/sys.c" && "$cc" -c -o "$tmp/via.o" "$tmp/via.c" || exit 1
lib=$build/src
bash "$here/pure.sh" --objects "$lib/logic/libkwlogic.a" "$tmp/sys.o" -- \
	"$lib/shared/libkwshared.a" "$lib/config/libkwconfig.a" >"$tmp/out2" 2>&1
expect_fail "socket() in the pure layer" "$tmp/out2" $? 'sys.o reaches what is not pure: socket'
bash "$here/pure.sh" --objects "$lib/logic/libkwlogic.a" "$tmp/via.o" -- \
	"$lib/shared/libkwshared.a" "$lib/config/libkwconfig.a" >"$tmp/out3" 2>&1
expect_fail "file I/O through config_load" "$tmp/out3" $? 'via.o reaches what is not pure: config_load'

# And the tree itself passes both.
if bash "$here/layers.sh" "$src" >"$tmp/out4" 2>&1 && bash "$here/pure.sh" "$build" >>"$tmp/out4" 2>&1; then
	echo "lint selftest: the tree passes both"
else
	cat "$tmp/out4" >&2
	fail=1
fi
exit $fail
