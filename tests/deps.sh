#!/usr/bin/env bash
# Installs what keepwatch needs on Debian 12, and says what: the packages asked for, then
# apt's own list of everything it installs with them. Idempotent; no apt-get when all is
# there.
#   bash tests/deps.sh        build, test, lint, benchmark and package (tests/run.sh)
#   bash tests/deps.sh demo   only what tests/demo.sh needs: build and run in namespaces
set -euo pipefail
build=(build-essential cmake pkg-config libmnl-dev libnftnl-dev libinih-dev libcap-ng-dev
	libsystemd-dev # libsystemd: sd_notify, optional at build time
	clang libbpf-dev bpftool linux-libc-dev) # the sock_ops hook (optional): clang -target bpf, skeletons
run=(iproute2 nftables python3 procps util-linux) # namespaces, veths, the demo's peers
test=(libclang-rt-14-dev clang-format clang-tidy shellcheck socat iperf3 groff man-db
	systemd dpkg-dev file debootstrap systemd-container # systemd_unit.sh boots Debian
	podman runc netavark iptables) # container_podman.sh: runc (crun refuses hybrid cgroups),
	# netavark's firewall rules (in the test's node namespace)
case "${1:-all}" in
demo) pkgs=("${build[@]}" "${run[@]}") ;;
all) pkgs=("${build[@]}" "${run[@]}" "${test[@]}") ;;
*) echo "usage: deps.sh [demo|all]" >&2; exit 2 ;;
esac
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: the ${#pkgs[@]} packages needed are installed"
	exit 0
fi
echo "deps: installing ${#missing[@]} of the ${#pkgs[@]} packages needed: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# apt's list of what it installs (the packages above and their dependencies) and its
# count; the unpacking and setting up is left out.
apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null |
	sed -n '/^The following NEW packages will be installed:/,/newly installed/p'
