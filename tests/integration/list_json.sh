#!/usr/bin/env bash
# keepwatchd --list --json is valid JSON whatever the interface is called (issue 10, item
# 9): Linux takes any byte in a name but '/', ':' and white space, so quotes, backslashes
# and control bytes must be escaped; the name must come back unchanged from a parser.
source "$(dirname "$0")/../lib/netns.sh"
kw_require_root
kw_init kwt-i10json
kw_ns NS_SRV srv
kw_ns NS_CLI cli
IFN=$'k"w\\\x01'
kw_veth "$NS_SRV" "$IFN" 77 "$NS_CLI" kwcli0 78
kw_addr "$NS_SRV" "$IFN" 10.77.0.1/24
kw_addr "$NS_CLI" kwcli0 10.77.0.2/24
PY=(python3 -u "$KW_SRC/tests/lib/peer.py")
kw_bg "$NS_SRV" "$KW_TMP/server.log" "${PY[@]}" server 10.77.0.1 2000
kw_grep_wait 5 "$KW_TMP/server.log" listening || kw_die "server did not start"
kw_bg "$NS_CLI" "$KW_TMP/client.log" "${PY[@]}" client 10.77.0.1 2000
kw_grep_wait 5 "$KW_TMP/server.log" accept || kw_die "client did not connect"
printf '[service web]\nlocal_ports = 2000\n' >"$KW_TMP/kw.ini"
ip netns exec "$NS_SRV" "$KW_BUILD/keepwatchd" -c "$KW_TMP/kw.ini" --list --json \
	>"$KW_TMP/list.json" 2>"$KW_TMP/list.err"
cat "$KW_TMP/list.json"
kw_check "--list --json: one line" test "$(wc -l <"$KW_TMP/list.json")" = 1
kw_check "--list --json: every line parses, the interface name comes back unchanged" \
	python3 -c '
import json, sys
want = sys.argv[2].encode("utf-8", "surrogateescape").decode("latin-1")
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
sys.exit(0 if rows and all(r["ifname"] == want and r["service"] == "web" for r in rows) else 1)
' "$KW_TMP/list.json" "$IFN"
kw_done
