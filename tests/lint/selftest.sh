#!/usr/bin/env bash
# Shows that the structure lints fail where they must: an include that points up a layer, a
# system call in the pure layer (directly or through a lower layer's impure function), a
# write to a struct outside the files its header names, a call circle between two files, a
# file over 850 lines. Each planted violation must make its check fail and be named; the
# tree as it is must pass them all.
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

# 4. A stray write: netns.c setting the poller's services itself, through the instance.
cat >>"$tmp/src/pipeline/netns.c" <<'PLANT'
void netns_planted(struct kw_netns *ns);
void netns_planted(struct kw_netns *ns)
{
	ns->watch.svc_mask = 0;
}
PLANT
python3 "$here/owners.py" "$tmp/src" "$tmp/src/pipeline/netns.c" >"$tmp/out5" 2>&1
expect_fail "a write to struct watch from netns.c" "$tmp/out5" $? \
	'netns.c:[0-9]*: writes struct watch.svc_mask (pipeline/watch.h: written only by watch.c)'

# 5. A call circle: two files that call each other, beside the tree's objects.
printf 'void planted_b(void);\nvoid planted_a(void);\nvoid planted_a(void) { planted_b(); }\n' \
	>"$tmp/up.c"
printf 'void planted_a(void);\nvoid planted_b(void);\nvoid planted_b(void) { planted_a(); }\n' \
	>"$tmp/down.c"
"$cc" -c -o "$tmp/up.c.o" "$tmp/up.c" && "$cc" -c -o "$tmp/down.c.o" "$tmp/down.c" || exit 1
# the libraries (CMake recreates each archive whole) and the programs' own objects
mapfile -t objs < <({
	ls "$build"/src/*/lib*.a
	find "$build/src" \( -path '*/keepwatchd.dir/*' -o -path '*/keepwatch-relay.dir/*' \) \
		-name '*.c.o'
} | sort)
python3 "$here/calls.py" "${objs[@]}" "$tmp/up.c.o" "$tmp/down.c.o" >"$tmp/out6" 2>&1
expect_fail "a call circle" "$tmp/out6" $? 'circle among down.c, up.c'

# 6. A file too long.
seq 851 | sed 's|.*|/* line */|' >"$tmp/src/logic/long.c"
bash "$here/sizes.sh" "$tmp/src" >"$tmp/out7" 2>&1
expect_fail "a file of 851 lines" "$tmp/out7" $? 'logic/long.c: 851 lines'

# And the tree itself passes them all.
tree_passes() {
	bash "$here/layers.sh" "$src" && bash "$here/pure.sh" "$build" &&
		bash "$here/sizes.sh" "$src" &&
		python3 "$here/owners.py" --compile-commands "$build/compile_commands.json" "$src" \
			"$src"/*/*.c &&
		python3 "$here/calls.py" "${objs[@]}"
}
if tree_passes >"$tmp/out4" 2>&1; then
	echo "lint selftest: the tree passes them all"
else
	cat "$tmp/out4" >&2
	fail=1
fi
exit $fail
