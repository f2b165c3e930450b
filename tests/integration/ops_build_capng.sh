#!/usr/bin/env bash
# libcap-ng is required at build time (issue 10, item 9): with every other library found
# and libcap-ng hidden from pkg-config, configuring fails and says why, instead of
# building a keepwatchd that cannot drop its capabilities. Runs cmake's configure step only,
# in a scratch directory; touches no network.
set -u
KW_SRC=${KW_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
command -v cmake >/dev/null || { echo "SKIP: no cmake"; exit 77; }
command -v pkg-config >/dev/null || { echo "SKIP: no pkg-config"; exit 77; }
tmp=$(mktemp -d /tmp/kwt-i10capng.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/pc"
for m in libmnl libnftnl inih; do
	f=$(pkg-config --variable=pcfiledir "$m")/$m.pc
	[ -f "$f" ] || { echo "SKIP: $m.pc not found"; exit 77; }
	ln -s "$f" "$tmp/pc/$m.pc"
done
# libnftnl.pc requires libmnl, which is there; libcap-ng.pc is not
fails=0
out=$(PKG_CONFIG_LIBDIR="$tmp/pc" PKG_CONFIG_PATH="" cmake -S "$KW_SRC" -B "$tmp/b" 2>&1)
rc=$?
if [ "$rc" != 0 ]; then echo "ok - configure fails without libcap-ng"; else
	echo "not ok - configure succeeded without libcap-ng"; fails=$((fails + 1)); fi
if grep -q "libcap-ng" <<<"$out"; then echo "ok - and names libcap-ng"; else
	echo "not ok - the error does not name libcap-ng"; fails=$((fails + 1)); fi
if out=$(cmake -S "$KW_SRC" -B "$tmp/b2" 2>&1); then echo "ok - configure succeeds with it"; else
	echo "not ok - configure fails with libcap-ng present"; echo "$out" | tail -5
	fails=$((fails + 1)); fi
echo "$((3 - fails)) passed, $fails failed"
[ "$fails" = 0 ]
