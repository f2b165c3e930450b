#!/usr/bin/env bash
# The sock_diag and nftables readers take answers from the kernel only (issue 10, item 6):
# a process that unicasts a forged "socket alive", a forged dump entry or a forged nft
# refusal to keepwatch's port ids is ignored and counted; the kernel's answers still count.
source "$(dirname "$0")/../lib/netns.sh"
kw_require_root
kw_init kwt-i10nlsend
kw_ns NS fg

out=$(ip netns exec "$NS" "$KW_BUILD/tools/nl_forge" sockdiag 2>&1)
echo "$out"
kw_check "sock_diag: a forged 'alive' answer is not taken (the kernel's ENOENT is)" \
	grep -q "^lookup rc=0 err=-2$" <<<"$out"
kw_check "sock_diag: a forged dump entry is not walked" grep -q "^dump rc=0 fake=0$" <<<"$out"
kw_check "sock_diag: both forgeries counted" grep -q "^sockdiag foreign=2$" <<<"$out"
if command -v nft >/dev/null; then
	out=$(ip netns exec "$NS" "$KW_BUILD/tools/nl_forge" nft 2>&1)
	echo "$out"
	kw_check "nft: a forged refusal is ignored, the element is added" \
		grep -q "^nft add rc=0$" <<<"$out"
	kw_check "nft: the forgery counted" grep -q "^nft foreign=1$" <<<"$out"
fi
kw_done
