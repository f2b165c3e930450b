#!/usr/bin/env bash
# keepwatch: install and packaging — `cmake --install` into a DESTDIR puts every file where
# the man pages say, the unit passes `systemd-analyze verify`, every man page renders
# without a warning, and `cpack -G DEB` builds a .deb that `dpkg -i` installs into a test
# root with its dependencies and its conffile. Needs no namespace; the dpkg part needs root.
. "$(dirname "$0")/../lib/netns.sh"

kw_init kwt-ops
for tool in cmake cpack groff man dpkg dpkg-deb systemd-analyze; do
	command -v "$tool" >/dev/null || kw_skip "$tool not installed"
done
[ -f "$KW_BUILD/cmake_install.cmake" ] || kw_skip "no configured build in $KW_BUILD"
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$KW_BUILD/CMakeCache.txt")
[ "$prefix" = /usr ] || kw_skip "$KW_BUILD is configured for the prefix $prefix; Debian's layout and \
the .deb need -DCMAKE_INSTALL_PREFIX=/usr (tests/run.sh configures so)"
if ! [ -x "$KW_BUILD/keepwatchd" ] || ! [ -x "$KW_BUILD/keepwatch-relay" ]; then
	kw_skip "keepwatchd/keepwatch-relay not built in $KW_BUILD"
fi

R="$KW_TMP/root"
CONF=/etc/keepwatch/keepwatch.ini
UNIT=/usr/lib/systemd/system/keepwatchd.service
# What an install with the prefix /usr must hold (the man pages' FILES sections say the
# same; checked below), man pages aside.
EXPECTED=(/usr/sbin/keepwatchd /usr/bin/keepwatch-relay "$CONF" "$UNIT"
	/usr/share/doc/keepwatch/copyright)
PAGES=(keepwatchd.8 keepwatch.ini.5 keepwatch-relay.1)

# The absolute paths named in a man page's FILES section.
man_files() {
	awk '/^\.SH /{ in_files = ($2 == "FILES") ; next }
	     in_files && /^\.(I|IR|B|BR) \// { print $2 }' "$1" | sed 's/\\-/-/g'
}

# ---- cmake --install -------------------------------------------------------------------
echo "# cmake --install into $R with the prefix /usr"
DESTDIR="$R" cmake --install "$KW_BUILD" --prefix /usr >"$KW_TMP/install.log" 2>&1
kw_check "cmake --install succeeds" test $? = 0 || cat "$KW_TMP/install.log"

for f in "${EXPECTED[@]}"; do
	kw_check "installed: $f" test -f "$R$f"
done
kw_check "keepwatchd in sbin is executable" test -x "$R/usr/sbin/keepwatchd"
kw_check "keepwatch-relay in bin is executable" test -x "$R/usr/bin/keepwatch-relay"
kw_check "config installed as the shipped file" cmp -s "$KW_SRC/etc/keepwatch.ini" "$R$CONF"
kw_check "the installed keepwatchd reads $CONF by default" \
	bash -c "'$R/usr/sbin/keepwatchd' -h | grep -qF '(default $CONF)'"

for page in "${PAGES[@]}"; do
	kw_check "man page $page exists in etc/man" test -f "$KW_SRC/etc/man/$page"
done
for src in "$KW_SRC"/etc/man/*.[158]; do
	[ -e "$src" ] || continue
	page=$(basename "$src")
	kw_check "man page $page installed in man${page##*.}" \
		cmp -s "$src" "$R/usr/share/man/man${page##*.}/$page"
done

# Every file a FILES section names under /usr or /etc is installed, and keepwatchd(8)
# names every installed file.
for src in "$KW_SRC"/etc/man/*.[158]; do
	[ -e "$src" ] || continue
	while read -r path; do
		case "$path" in
		/usr/* | /etc/*) kw_check "$(basename "$src") FILES: $path installed" test -e "$R$path" ;;
		esac
	done < <(man_files "$src")
done
if [ -f "$KW_SRC/etc/man/keepwatchd.8" ]; then
	named=$(man_files "$KW_SRC/etc/man/keepwatchd.8")
	for f in "${EXPECTED[@]}"; do
		case "$f" in /usr/share/doc/*) continue ;; esac
		kw_check "keepwatchd(8) FILES names $f" grep -qxF -- "$f" <<<"$named"
	done
fi

# The unit points at the installed daemon and config, and nothing enables it.
kw_check "unit ExecStart is /usr/sbin/keepwatchd -c $CONF" \
	grep -qxF "ExecStart=/usr/sbin/keepwatchd -c $CONF" "$R$UNIT"
kw_check "unit has no unfilled @ placeholders" bash -c "! grep -q '@[A-Z_]*@' '$R$UNIT'"
kw_check "unit not enabled (no .wants links)" bash -c "! find '$R' -name '*.wants' | grep -q ."

# An operator's config survives a second install.
echo "# local change" >>"$R$CONF"
DESTDIR="$R" cmake --install "$KW_BUILD" --prefix /usr >"$KW_TMP/install2.log" 2>&1
kw_check "second install succeeds" test $? = 0
kw_check "existing config kept" grep -qx "# local change" "$R$CONF"
kw_check "install says it kept the config" grep -q "Keeping existing config" "$KW_TMP/install2.log"

# ---- systemd-analyze verify ------------------------------------------------------------
# verify wants the Exec binaries to exist: check a copy pointing into the install root,
# with MANPATH there too, so its Documentation=man: check finds the installed pages.
mkdir -p "$KW_TMP/verify"
sed "s#=/usr/sbin/keepwatchd#=$R/usr/sbin/keepwatchd#" "$R$UNIT" >"$KW_TMP/verify/keepwatchd.service"
out=$(cd "$KW_TMP/verify" && MANPATH="$R/usr/share/man" \
	systemd-analyze verify ./keepwatchd.service 2>&1)
rc=$?
[ -n "$out" ] && echo "$out"
kw_check "systemd-analyze verify: exit 0" test $rc = 0
kw_check "systemd-analyze verify: no complaint" test -z "$out"
for key in "CapabilityBoundingSet=CAP_NET_ADMIN CAP_SYS_ADMIN CAP_SYS_PTRACE CAP_DAC_OVERRIDE CAP_BPF CAP_PERFMON" \
	"AmbientCapabilities=CAP_NET_ADMIN CAP_SYS_PTRACE CAP_BPF CAP_PERFMON" "SystemCallFilter=pidfd_getfd" \
	"RestrictNamespaces=net" \
	"NoNewPrivileges=yes" "ProtectSystem=strict" "ProtectHome=yes" "PrivateTmp=yes" \
	"RestrictAddressFamilies=AF_NETLINK AF_UNIX" \
	"MemoryDenyWriteExecute=yes" "SystemCallArchitectures=native" "LockPersonality=yes" \
	"Restart=on-abnormal" "ExecReload=/usr/sbin/keepwatchd --reload \$MAINPID -c $CONF"; do
	kw_check "unit: $key" grep -qxF -- "$key" "$R$UNIT"
done

# ---- man pages render without warnings ---------------------------------------------------
for src in "$KW_SRC"/etc/man/*.[158]; do
	[ -e "$src" ] || continue
	page=$(basename "$src")
	name=${page%.*}
	sect=${page##*.}
	kw_check "$page: .TH names it" grep -qiE "^\.TH \"?${name//-/\\\\?-}\"? $sect " "$src"
	out=$(groff -ww -man -Tutf8 -z "$src" 2>&1)
	[ -n "$out" ] && echo "$out"
	kw_check "$page: groff -ww -man renders without warnings" test -z "$out"
	out=$(MANWIDTH=80 man --warnings -l "$src" 2>&1 >/dev/null)
	[ -n "$out" ] && echo "$out"
	kw_check "$page: man -l renders without warnings" test -z "$out"
done

# ---- the Kubernetes example ----------------------------------------------------------------
# Its embedded config must pass the real checker; the manifest must say what it promises.
DS="$KW_SRC/etc/keepwatch-daemonset.yaml"
kw_check "DaemonSet example exists" test -f "$DS"
if [ -f "$DS" ]; then
	awk '/^  keepwatch.ini: \|$/ { on = 1; next } on && /^    / { sub(/^    /, ""); print; next }
	     on && /^$/ { print; next } on { exit }' "$DS" >"$KW_TMP/ds.ini"
	out=$("$KW_BUILD/keepwatchd" --check -c "$KW_TMP/ds.ini" 2>&1)
	kw_check "DaemonSet config passes keepwatchd --check" test $? = 0 || echo "$out"
	kw_check "DaemonSet: hostNetwork" grep -qx "      hostNetwork: true" "$DS"
	kw_check "DaemonSet: CAP_NET_ADMIN, the namespace helper's, the hook's" grep -qx \
		'              add: \["NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE", "DAC_OVERRIDE", "BPF", "PERFMON"\]' "$DS"
	kw_check "DaemonSet: the node's /run/netns, new namespaces included" grep -qx \
		"              mountPropagation: HostToContainer" "$DS"
	kw_check "DaemonSet: a service selecting pods by cgroup" grep -qE '^    cgroup = /kubepods' "$DS"
	kw_check "DaemonSet: config from a ConfigMap" grep -qx "            name: keepwatch" "$DS"
	if python3 -c 'import yaml' 2>/dev/null; then
		kw_check "DaemonSet: valid YAML, a ConfigMap and a DaemonSet" python3 -c '
import sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
assert [d["kind"] for d in docs] == ["ConfigMap", "DaemonSet"]
pod = docs[1]["spec"]["template"]["spec"]
sc = pod["containers"][0]["securityContext"]
assert pod["hostNetwork"] and sc["capabilities"] == {
    "drop": ["ALL"],
    "add": ["NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE", "DAC_OVERRIDE", "BPF", "PERFMON"]}
assert "hostPID" not in pod
mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
assert mounts["netns"]["mountPath"] == "/run/netns"
assert mounts["netns"]["mountPropagation"] == "HostToContainer"
assert pod["volumes"][0]["configMap"]["name"] == docs[0]["metadata"]["name"]
' "$DS"
	fi
fi

# ---- cpack -G DEB ------------------------------------------------------------------------
echo "# cpack -G DEB"
(cd "$KW_TMP" && cpack -G DEB --config "$KW_BUILD/CPackConfig.cmake" -B "$KW_TMP/pkg") \
	>"$KW_TMP/cpack.log" 2>&1
kw_check "cpack -G DEB succeeds" test $? = 0 || cat "$KW_TMP/cpack.log"
debs=("$KW_TMP"/pkg/*.deb)
kw_check "exactly one .deb built" test "${#debs[@]}" = 1 -a -f "${debs[0]}"
DEB=${debs[0]}
if [ -f "$DEB" ]; then
	depends=$(dpkg-deb -f "$DEB" Depends)
	echo "# Depends: $depends"
	for dep in libmnl0 libnftnl11 libinih1 libcap-ng0; do
		kw_check "Depends names $dep" grep -qw -- "$dep" <<<"$depends"
	done
	dpkg-deb -e "$DEB" "$KW_TMP/control"
	kw_check "conffiles lists $CONF" grep -qxF "$CONF" "$KW_TMP/control/conffiles"
	kw_check "no maintainer scripts (the unit is not enabled or started)" \
		bash -c "! ls '$KW_TMP/control' | grep -Eq '^(pre|post)(inst|rm)$'"
	dpkg-deb -c "$DEB" | awk '{ print $6 }' | sed 's#^\.##' | grep -v '/$' | sort \
		>"$KW_TMP/deb.files"
	(cd "$R" && find . -type f | sed 's#^\.##' | sort) >"$KW_TMP/install.files"
	kw_check "the .deb holds exactly the files cmake --install puts in place" \
		diff -u "$KW_TMP/install.files" "$KW_TMP/deb.files"
fi

# ---- dpkg -i into a test root ------------------------------------------------------------
# An empty dpkg database whose status holds the host's records of the dependencies (not
# their files): dpkg checks Depends against it, and nothing on the host is touched.
dpkg_root() {
	local d=$1 p
	mkdir -p "$d/var/lib/dpkg/info" "$d/var/lib/dpkg/updates" "$d/var/lib/dpkg/triggers"
	: >"$d/var/lib/dpkg/available"
	: >"$d/var/lib/dpkg/status"
	shift
	for p in "$@"; do
		dpkg-query -s "$p" >>"$d/var/lib/dpkg/status" 2>/dev/null || return 1
		echo >>"$d/var/lib/dpkg/status"
		: >"$d/var/lib/dpkg/info/$p.list"
		: >"$d/var/lib/dpkg/info/$p:$(dpkg --print-architecture).list"
	done
}

if [ "$(id -u)" != 0 ]; then
	echo "# not root: dpkg -i into a test root skipped"
elif [ -f "$DEB" ]; then
	D="$KW_TMP/dpkgroot"
	E="$KW_TMP/dpkgempty"
	dpkg_root "$E"
	dpkg --root="$E" -i "$DEB" >"$KW_TMP/dpkg-empty.log" 2>&1 </dev/null
	kw_check "dpkg -i refuses a root without the dependencies" \
		grep -q "depends on libmnl0" "$KW_TMP/dpkg-empty.log"

	# Every package the .deb depends on (libsystemd0 too in a build with libsystemd).
	deps=$(dpkg-deb -f "$DEB" Depends | tr ',' '\n' | sed 's/[(|].*//; s/[[:space:]]//g' | grep .)
	# shellcheck disable=SC2086
	if dpkg_root "$D" $deps; then
		dpkg --root="$D" -i "$DEB" >"$KW_TMP/dpkg.log" 2>&1 </dev/null
		kw_check "dpkg -i into the test root succeeds" test $? = 0 || cat "$KW_TMP/dpkg.log"
		kw_check "package state: install ok installed" test \
			"$(dpkg-query --root="$D" -W -f='${Status}' keepwatch)" = "install ok installed"
		dpkg --root="$D" -L keepwatch | sort >"$KW_TMP/dpkg.list"
		echo "# dpkg -L keepwatch:"
		grep -v -e '^/usr$' -e '^/etc$' "$KW_TMP/dpkg.list" | sed 's/^/#   /'
		while read -r f; do
			kw_check "dpkg -L lists $f" grep -qxF -- "$f" "$KW_TMP/dpkg.list"
			kw_check "dpkg put $f in the root" test -f "$D$f"
		done <"$KW_TMP/install.files"
		kw_check "dpkg records $CONF as a conffile" \
			grep -q "^ $CONF [0-9a-f]\{32\}$" \
			<(dpkg-query --root="$D" -W -f='${Conffiles}\n' keepwatch)

		# conffile semantics: a local edit survives reinstalling and removing
		echo "# local change" >>"$D$CONF"
		dpkg --root="$D" -i "$DEB" >"$KW_TMP/dpkg2.log" 2>&1 </dev/null
		kw_check "reinstall succeeds" test $? = 0
		kw_check "reinstall keeps the edited conffile" grep -qx "# local change" "$D$CONF"
		dpkg --root="$D" -r keepwatch >"$KW_TMP/dpkg3.log" 2>&1 </dev/null
		kw_check "remove leaves the conffile" grep -qx "# local change" "$D$CONF"
		kw_check "remove takes the daemon" test ! -e "$D/usr/sbin/keepwatchd"
		dpkg --root="$D" -P keepwatch >"$KW_TMP/dpkg4.log" 2>&1 </dev/null
		kw_check "purge takes the conffile" test ! -e "$D$CONF"
	else
		kw_fail "the host lacks a dependency's dpkg record ($(tr -s '\n' ' ' <<<"$deps"))"
	fi
fi

kw_done
