#!/usr/bin/env bash
# The pure layer stays pure (HACKING.md, "Layers"): no object of src/logic/ may reach a
# system call, directly or through a function of a layer below it. An object is pure when
# every symbol it leaves undefined (nm -u) is a pure C library function (ALLOWED below: no
# file, socket, process or clock access) or is defined by another pure object of the
# shared, config or logic libraries. Exit 0 = clean; each failure names the object and the
# symbols that make it impure.
#
# Usage: tests/lint/pure.sh BUILD_DIR | tests/lint/pure.sh --objects PURE.o... -- OTHER.o...
set -uo pipefail

# Memory, strings, formatting into buffers, sorting, address text: nothing that leaves the
# process or reads its surroundings. (strerror only names an errno.)
ALLOWED='memcpy memmove memset memcmp bcmp memchr strlen strnlen strcmp strncmp strcasecmp
strncasecmp strdup strchr strrchr strstr strspn strcspn strpbrk strcpy strncpy strtok_r strtol
strtoll strtoul strtoull snprintf vsnprintf qsort bsearch malloc calloc realloc free
__ctype_b_loc __ctype_tolower_loc __ctype_toupper_loc tolower toupper inet_pton inet_ntop
fnmatch __errno_location strerror __stack_chk_fail __assert_fail'

pure=() others=()
if [ "${1:-}" = --objects ]; then
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do pure+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	others=("$@")
else
	build=${1:?usage: pure.sh BUILD_DIR}
	for lib in shared/libkwshared.a config/libkwconfig.a; do
		others+=("$build/src/$lib")
	done
	pure=("$build/src/logic/libkwlogic.a")
	for f in "${pure[@]}" "${others[@]}"; do
		[ -f "$f" ] || { echo "pure: $f missing: build first" >&2; exit 1; }
	done
fi

# One line per object: "OBJ<TAB>defined symbols<TAB>undefined symbols".
table() {
	local f
	for f in "$@"; do
		nm -A "$f" 2>/dev/null | awk -v file="$f" '
			{ split($1, p, ":"); obj = file ~ /\.a$/ ? file ":" p[2] : file }
			$2 == "U" || $2 == "w" { und[obj] = und[obj] " " $3; seen[obj] = 1; next }
			NF >= 3 && $2 ~ /^[TDBRC]$/ { def[obj] = def[obj] " " $3; seen[obj] = 1 }
			END { for (o in seen) print o "\t" def[o] "\t" und[o] }'
	done
}

table "${pure[@]}" | sed 's/^/P\t/' >/tmp/kw-pure.$$
table "${others[@]}" | sed 's/^/O\t/' >>/tmp/kw-pure.$$
trap 'rm -f /tmp/kw-pure.$$' EXIT

# Fixed point: start from the allowed functions, add what pure objects define, until no
# object changes side; then every object of the pure layer must be on the pure side.
awk -F'\t' -v allowed="$ALLOWED" '
	BEGIN { n = split(allowed, a, /[ \n]+/); for (i = 1; i <= n; i++) if (a[i] != "") ok[a[i]] = 1 }
	{ kind[NR] = $1; obj[NR] = $2; def[NR] = $3; und[NR] = $4; rows = NR }
	function clean(r,    n, u, i, s) {
		n = split(und[r], u, " ")
		for (i = 1; i <= n; i++) {
			s = u[i]
			if (s == "" || s ~ /^__(asan|ubsan|sanitizer|msan|tsan)_/ || s ~ /^__sancov/) continue
			if (!(s in ok)) return 0
		}
		return 1
	}
	END {
		do {
			changed = 0
			for (r = 1; r <= rows; r++) {
				if (pure[r] || !clean(r)) continue
				pure[r] = 1; changed = 1
				n = split(def[r], d, " ")
				for (i = 1; i <= n; i++) ok[d[i]] = 1
			}
		} while (changed)
		bad = 0
		for (r = 1; r <= rows; r++) {
			if (kind[r] != "P" || pure[r]) continue
			n = split(und[r], u, " "); list = ""
			for (i = 1; i <= n; i++)
				if (u[i] != "" && !(u[i] in ok) && u[i] !~ /^__(asan|ubsan|sanitizer)_/)
					list = list " " u[i]
			print "pure: " obj[r] " reaches what is not pure:" list
			bad = 1
		}
		exit bad
	}' /tmp/kw-pure.$$
