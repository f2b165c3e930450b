# shellcheck shell=bash
# keepwatch test harness: minimal Debian 12 roots (debootstrap --variant=minbase), built once
# per package list and cached, for tests that boot or build in one (systemd_unit.sh,
# container_podman.sh). Source after netns.sh.
#
# The cache is $KW_DEBIAN_CACHE (default /var/cache/keepwatch-tests); a root is named
# NAME-KEY, KEY a hash of its package list, so a change of packages builds a new one. Roots
# of that NAME unused for a week are removed then (not sooner: branches with other package
# lists share the machine, and one may be in use). The mirror is the one apt is configured with
# (KW_DEBIAN_MIRROR overrides). Roots are read only: users overlay or copy them.

KW_DEBIAN_CACHE=${KW_DEBIAN_CACHE:-/var/cache/keepwatch-tests}

# The bookworm main mirror apt uses here, else deb.debian.org.
kw_debian_mirror() {
	[ -n "${KW_DEBIAN_MIRROR:-}" ] && { echo "$KW_DEBIAN_MIRROR"; return; }
	apt-cache policy 2>/dev/null |
		awk '$2 ~ /^https?:\/\// && $3 ~ /^bookworm\/main$/ { print $2; found = 1; exit }
		     END { if (!found) print "http://deb.debian.org/debian" }'
}

# kw_debroot VAR NAME PACKAGE...: the cached root NAME-KEY with PACKAGE... installed, built
# now if missing (under a lock, up to 20 minutes); its path goes to VAR. Skips the test
# (exit 77) when debootstrap fails (no mirror reachable) or another run holds the lock.
kw_debroot() {
	local var=$1 name=$2 include key root mirror t0 old lockfd
	shift 2
	include=$(printf '%s\n' "$@" | grep . | sort -u | paste -sd, -)
	key=$(printf '%s' "$include" | md5sum | cut -c1-8)
	root="$KW_DEBIAN_CACHE/$name-$key"
	mkdir -p "$KW_DEBIAN_CACHE"
	exec {lockfd}>"$KW_DEBIAN_CACHE/.lock"
	flock -w 1200 "$lockfd" || kw_skip "another run holds $KW_DEBIAN_CACHE/.lock for over 20 minutes"
	if [ ! -f "$root/.kw-complete" ]; then
		mirror=$(kw_debian_mirror)
		echo "# building $root: debootstrap --variant=minbase bookworm from $mirror (once)"
		rm -rf "$root.tmp"
		t0=$(date +%s)
		if ! timeout 1200 debootstrap --variant=minbase --include="$include" bookworm \
			"$root.tmp" "$mirror" >"$KW_TMP/debootstrap-$name.log" 2>&1; then
			tail -n 5 "$KW_TMP/debootstrap-$name.log"
			rm -rf "$root.tmp"
			exec {lockfd}>&-
			kw_skip "debootstrap from $mirror failed (no network or mirror?)"
		fi
		touch "$root.tmp/.kw-complete"
		for old in "$KW_DEBIAN_CACHE/$name"-*; do
			case "$old" in *.tmp) continue ;; esac
			[ -d "$old" ] && [ -z "$(find "$old/.kw-complete" -mtime -7 2>/dev/null)" ] &&
				rm -rf "$old"
		done
		mv "$root.tmp" "$root"
		echo "# debootstrap took $(($(date +%s) - t0)) s"
	fi
	touch "$root/.kw-complete" # used now: kept for another week
	exec {lockfd}>&-
	printf -v "$var" '%s' "$root"
}
