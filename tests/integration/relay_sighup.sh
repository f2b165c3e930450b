#!/usr/bin/env bash
# keepwatch-relay ignores SIGHUP (issue 10, item 9): a hang-up leaves the relay running
# and its forwarded connection working; SIGTERM still ends it with status 0.
source "$(dirname "$0")/../lib/netns.sh"
kw_require_root
kw_init kwt-i10hup
kw_ns NS r
PY=(python3 -u "$KW_SRC/tests/lib/peer.py")

kw_bg "$NS" "$KW_TMP/sink.log" "${PY[@]}" sink 127.0.0.1 2001
kw_grep_wait 5 "$KW_TMP/sink.log" listening || kw_die "sink did not start"
kw_bg "$NS" "$KW_TMP/relay.log" "$KW_BUILD/keepwatch-relay" --listen 127.0.0.1:2000 \
	--connect 127.0.0.1:2001
RELAY=$KW_LAST_PID
kw_wait 5 bash -c "ip netns exec '$NS' ss -Hltn 'sport = :2000' | grep -q ." ||
	kw_die "relay did not listen"
kw_bg "$NS" "$KW_TMP/client.log" "${PY[@]}" client 127.0.0.1 2000 --send-every 50
kw_grep_wait 5 "$KW_TMP/client.log" connected || kw_die "client did not connect"
kw_grep_wait 5 "$KW_TMP/sink.log" accept || kw_die "relay did not connect upstream"
rx() { ip netns exec "$NS" ss -Htin state established "sport = :2001" |
	grep -oE 'bytes_received:[0-9]+' | cut -d: -f2; }
has_rx() { [ -n "$(rx)" ]; }
kw_wait 5 has_rx || kw_die "no traffic"
kill -HUP "$RELAY"
sleep 0.5
kw_check "SIGHUP: the relay still runs" kill -0 "$RELAY"
b0=$(rx)
sleep 0.5
kw_check "SIGHUP: the forwarded connection still carries data" test "$(rx)" -gt "${b0:-0}"
kw_check "SIGHUP: no close line" bash -c "! grep -q 'event=close' '$KW_TMP/relay.log'"
kill -TERM "$RELAY"
wait "$RELAY"
kw_check "SIGTERM: exit status 0" test $? = 0
kw_done
