#!/usr/bin/env bash
# Installs what keepwatch needs to build, test, lint, benchmark and package on Debian 12.
# Idempotent; skips apt-get when everything is already there.
set -euo pipefail
pkgs=(build-essential cmake pkg-config clang libclang-rt-14-dev clang-format clang-tidy shellcheck
      libmnl-dev libnftnl-dev libinih-dev libcap-ng-dev
      libbpf-dev bpftool linux-libc-dev # the sock_ops hook: skeletons, and bpftool in its tests
      iproute2 nftables socat iperf3 python3 procps util-linux
      groff man-db systemd dpkg-dev file
      libsystemd-dev debootstrap systemd-container) # sd_notify; systemd_unit.sh boots Debian
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
