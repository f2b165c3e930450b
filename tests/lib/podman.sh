# shellcheck shell=bash
# keepwatch test harness: podman as a node's container engine, apart from the host's — a
# private configuration and storage (under $KW_DEBIAN_CACHE/podman, reused between runs, one
# run at a time), runc (crun refuses a hybrid cgroup layout), the cgroupfs driver, and every
# podman command run inside a network namespace of the test's, the "node": the bridge, veths
# and firewall rules netavark makes are made there, never in the host's namespace. Images
# come from debootstrap roots (tests/lib/debroot.sh): no registry is needed. Source after
# netns.sh and debroot.sh; call pm_cleanup from the test's EXIT trap before kw_cleanup.

PM_DIR="$KW_DEBIAN_CACHE/podman"
PM_RUN=/run/keepwatch-tests/podman
PM_NODE=""
PM_LOCK=""
PM_IMAGE=""
PM_CGPARENT=""

# P ARGS...: podman in the node's network namespace, bounded.
P() { timeout 300 nsenter --net="/run/netns/$PM_NODE" podman "$@"; }

# pm_init: the node namespace ($KW_PREFIX-node, in PM_NODE), the lock, the configuration;
# leftovers of a run that was killed are removed. Skips when podman cannot run a container.
pm_init() {
	local tool hn hu
	for tool in podman runc nsenter tar timeout flock findmnt; do
		command -v "$tool" >/dev/null || kw_skip "$tool not installed (tests/deps.sh installs it)"
	done
	mkdir -p "$PM_DIR" "$PM_RUN"
	exec {PM_LOCK}>"$PM_DIR.lock"
	flock -w 900 "$PM_LOCK" || kw_skip "another run holds $PM_DIR.lock for over 15 minutes"
	# podman's default limits (1048576 files) exceed what may be the hard limit here (20,000
	# files; and runc's setrlimit was refused above 32768 processes): modest ones, enough
	hn=$(ulimit -Hn)
	hu=$(ulimit -Hu)
	[ "$hn" = unlimited ] || [ "$hn" -gt 8192 ] && hn=8192
	[ "$hu" = unlimited ] || [ "$hu" -gt 16384 ] && hu=16384
	cat >"$PM_DIR/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$hn:$hn", "nproc=$hu:$hu"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$PM_RUN/events.log"
tmp_dir = "$PM_RUN/libpod"
[network]
network_backend = "netavark"
network_config_dir = "$PM_DIR/networks"
EOF
	cat >"$PM_DIR/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$PM_DIR/storage"
runroot = "$PM_RUN/storage"
EOF
	export CONTAINERS_CONF="$PM_DIR/containers.conf"
	export CONTAINERS_STORAGE_CONF="$PM_DIR/storage.conf"
	kw_ns PM_NODE node
	P rm -a -f -t 0 >/dev/null 2>&1 # a killed run's containers: this store is ours alone
	P info >"$KW_TMP/podman-info.txt" 2>&1 ||
		{ tail -n 3 "$KW_TMP/podman-info.txt"; kw_skip "podman info fails: no engine here"; }
}

# pm_runtime_ok IMAGE: can this engine run a container at all (crun on a hybrid layout
# cannot)? Skips with podman's own words when not.
pm_runtime_ok() {
	P run --rm --network none "$1" true >"$KW_TMP/podman-run.txt" 2>&1 ||
		{ tail -n 3 "$KW_TMP/podman-run.txt"; kw_skip "podman with runc cannot run a container here"; }
}

# pm_import VAR ROOT: ROOT (a debootstrap root) as the image localhost/kwt-base:NAME-KEY
# (the root's own name), imported once; older imports are removed. VAR gets the name.
pm_import() {
	local img stem old
	img="localhost/kwt-base:$(basename "$2")"
	stem=${img%-*}
	if ! P image exists "$img"; then
		echo "# podman import $2 (once)"
		tar -C "$2" -c . | P import - "$img" >"$KW_TMP/import.log" 2>&1 ||
			{ tail -n 5 "$KW_TMP/import.log"; kw_die "podman import $2"; }
		for old in $(P images --format '{{.Repository}}:{{.Tag}}' | grep -F "$stem-" | grep -vxF "$img"); do
			P rmi "$old" >/dev/null 2>&1
		done
	fi
	printf -v "$1" '%s' "$img"
}

# pm_build TAG: the tree's Containerfile built offline (no pull, no network) on the cached
# roots: the runtime base with the .deb's dependencies (the systemd test's root, shared), the
# build base with the packages the Containerfile's first stage asks for. PM_IMAGE = TAG.
pm_build() {
	local deps build_pkgs run_root build_root run_img build_img t0
	deps=$(sed -n 's/^set(CPACK_DEBIAN_PACKAGE_DEPENDS "\(.*\)")$/\1/p' "$KW_BUILD/CPackConfig.cmake" |
		tr ',' '\n' | sed 's/[(|].*//; s/[[:space:]]//g')
	[ -n "$deps" ] || kw_skip "no package dependencies in $KW_BUILD/CPackConfig.cmake"
	build_pkgs=$(awk '/^RUN apt-need/ { on = 1 } on { printf "%s ", $0; if ($0 !~ /\\$/) exit }' \
		"$KW_SRC/Containerfile" | sed 's/^RUN apt-need//; s/\\//g')
	[ -n "$build_pkgs" ] || kw_die "no 'RUN apt-need' line in $KW_SRC/Containerfile"
	# shellcheck disable=SC2086 # lists of package names
	kw_debroot run_root bookworm-minbase systemd systemd-sysv $deps
	# shellcheck disable=SC2086
	kw_debroot build_root bookworm-build $build_pkgs
	pm_import run_img "$run_root"
	pm_import build_img "$build_root"
	pm_runtime_ok "$run_img"
	PM_IMAGE=$1 # from now on: the trap removes it, even after an interrupted build
	t0=$(date +%s)
	if ! P build --pull=never --network none --build-arg BASE="$run_img" \
		--build-arg BUILD_BASE="$build_img" -t "$1" -f "$KW_SRC/Containerfile" "$KW_SRC" \
		>"$KW_TMP/build.log" 2>&1; then
		tail -n 20 "$KW_TMP/build.log"
		kw_die "podman build of the Containerfile failed offline"
	fi
	echo "# podman build (offline, from the tree): $(($(date +%s) - t0)) s"
}

# pm_cgroup_parent: PM_CGPARENT=/$KW_PREFIX-pods, a cgroup parent of the test's own for
# `podman run --cgroup-parent` (the cgroupfs driver makes it, in every hierarchy, with the
# container's libpod-<id> below it and conmon's beside): a BPF program attached there sees
# the test's containers and nothing else. pm_cleanup removes it.
pm_cgroup_parent() { PM_CGPARENT="/$KW_PREFIX-pods"; }

# pm_cleanup: every container named $KW_PREFIX-*, the image built, dangling layers, the
# cgroup parent; then the lock. The node namespace goes with kw_cleanup, after this.
pm_cleanup() {
	local c mnt d
	[ -n "$PM_NODE" ] || return 0
	for c in $(P ps -a --format '{{.Names}}' 2>/dev/null | grep "^$KW_PREFIX-"); do
		P rm -f -t 0 "$c" >/dev/null 2>&1
	done
	if [ -n "$PM_CGPARENT" ]; then
		# deepest first, each once its processes (conmon's too) are gone; bounded
		for mnt in $(findmnt -n -t cgroup,cgroup2 -o TARGET); do
			[ -d "$mnt$PM_CGPARENT" ] || continue
			while IFS= read -r d; do
				for _ in $(seq 1 40); do rmdir "$d" 2>/dev/null && break; sleep 0.05; done
			done < <(find "$mnt$PM_CGPARENT" -depth -type d)
		done
	fi
	[ -n "$PM_IMAGE" ] && P rmi -f "$PM_IMAGE" >/dev/null 2>&1
	P image prune -f >/dev/null 2>&1
	[ -n "$PM_LOCK" ] && exec {PM_LOCK}>&-
	return 0
}
