#!/bin/bash
# keepwatch-relay against the real kernel: byte-exact bulk transfer both ways, 1,000 concurrent
# pairs, half-close both ways, IPv6, upstream refused, client reset, keepalive, power-off, ss -K.
#
# Topology: namespace "srv" (10.77.0.1, fd77::1) runs the relays and the upstream servers on
# its loopback; namespace "cli" (10.77.0.2, fd77::2) runs the clients over a veth link.
# shellcheck disable=SC2016 # eval strings are meant to expand when kw_check runs them
# shellcheck disable=SC2154 # PID_<name> (and med_<m>) are set through printf -v and eval
. "$KW_SRC/tests/lib/netns.sh"
kw_require_root
command -v python3 >/dev/null || kw_skip "python3 not installed"
command -v nft >/dev/null || kw_skip "nft not installed"
RELAY="$KW_BUILD/keepwatch-relay"
[ -x "$RELAY" ] || kw_die "no $RELAY (build first)"
kw_init kwt-relay
kw_pair
SRV=$KW_NS_SRV
CLI=$KW_NS_CLI
PEER="$KW_SRC/tests/lib/peer.py"

# The test peer (tests/lib/peer.py): upstream servers (serve) and clients, by mode.

cli() { timeout 120 ip netns exec "$CLI" python3 -u "$PEER" "$@"; }
# start_relay NAME ARGS...: a relay in srv with its log in $KW_TMP/NAME.log
start_relay() {
	local name=$1
	shift
	kw_bg "$SRV" "$KW_TMP/$name.log" "$RELAY" "$@"
	eval "PID_$name=$KW_LAST_PID"
	kw_grep_wait 5 "$KW_TMP/$name.log" "event=listening" || kw_die "relay $name did not start"
}
start_server() {
	kw_bg "$SRV" "$KW_TMP/$1.log" python3 -u "$PEER" serve "$2" "$3" ${4:+"$4"}
	kw_grep_wait 5 "$KW_TMP/$1.log" "^listening" || kw_die "server $1 did not start"
}
has() { grep -Eq -- "$2" "$KW_TMP/$1.log"; }

# --- bad arguments: one line, the usage, exit 2 ---
for args in "--listen" "--listen 7000" "--listen 7000 --connect nohostport" \
	"--listen 7000 --connect 127.0.0.1:1 --keepalive 1,2" "--listen x:y:z --connect a:1" \
	"--listen 7000 --connect a:1 --bogus" "--listen 7000 --connect a:1 --user-timeout -5"; do
	# shellcheck disable=SC2086
	"$RELAY" $args >"$KW_TMP/args.out" 2>&1
	rc=$?
	kw_check "bad args '$args' exit 2 with one error line and usage" \
		eval '[ $rc = 2 ] && head -1 "$KW_TMP/args.out" | grep -q "^keepwatch-relay: " &&
		sed -n 2p "$KW_TMP/args.out" | grep -q "^Usage: "'
done
kw_check "--help exits 0 and prints usage" eval '"$RELAY" --help | grep -q "^Usage: "'

# --- upstream servers and relays ---
head -c 200M /dev/urandom >"$KW_TMP/up.bin"
head -c 200M /dev/urandom >"$KW_TMP/down.bin"
UP_SHA=$(sha256sum <"$KW_TMP/up.bin" | cut -d' ' -f1)
DOWN_SHA=$(sha256sum <"$KW_TMP/down.bin" | cut -d' ' -f1)
start_server echo 7001 echo
start_server file 7002 file "$KW_TMP/down.bin"
start_server banner 7003 banner
start_relay r1 --listen 7000 --connect 127.0.0.1:7001
start_relay r2 --listen 10.77.0.1:7100 --connect 127.0.0.1:7002
start_relay r3 --listen '[fd77::1]:7200' --connect '[::1]:7001'
start_relay r4 --listen 7300 --connect localhost:7003
start_relay r5 --listen 7400 --connect 127.0.0.1:7009 --connect-timeout 2000

# --- 200 MB each way, byte-exact ---
t0=$(kw_mono_ms)
cli bulk 10.77.0.1 7100 "$KW_TMP/up.bin" >"$KW_TMP/bulk.out" 2>&1
t1=$(kw_mono_ms)
echo "# bulk: 2 x 200 MiB in $((t1 - t0)) ms"
kw_check "200 MiB upstream->client arrives byte-exact" \
	grep -q "^recv 209715200 $DOWN_SHA\$" "$KW_TMP/bulk.out"
kw_check "200 MiB client->upstream arrives byte-exact" \
	kw_grep_wait 10 "$KW_TMP/file.log" "^recv 209715200 $UP_SHA\$"
kw_check "close line counts both directions, reason=\"EOF\"" \
	kw_grep_wait 5 "$KW_TMP/r2.log" \
	"event=close client=10\.77\.0\.2:[0-9]+ upstream=127\.0\.0\.1:7002 reason=\"EOF\" in=209715200 out=209715200\$"
kw_check "open line names both ends" has r2 "event=open client=10\.77\.0\.2:[0-9]+ upstream=127\.0\.0\.1:7002\$"

# --- 1,000 concurrent pairs, each verified ---
kw_bg "$CLI" "$KW_TMP/many.out" python3 -u "$PEER" many 10.77.0.1 7000 1000 32768 "$KW_TMP/go"
MANY=$KW_LAST_PID
kw_grep_wait 60 "$KW_TMP/many.out" "^connected 1000" || kw_fail "1000 clients did not connect"
up_pairs() { ip netns exec "$SRV" ss -Htn state established '( dport = :7001 )' | wc -l; }
kw_wait 30 eval '[ "$(up_pairs)" -ge 1000 ]'
n=$(up_pairs)
echo "# upstream connections open at once: $n"
kw_check "1000 pairs open at the same time" [ "$n" -ge 1000 ]
touch "$KW_TMP/go"
kw_grep_wait 90 "$KW_TMP/many.out" "^verified" || true
kw_check "1000 concurrent connections each echo byte-exact" \
	grep -q "^verified 1000 of 1000" "$KW_TMP/many.out"
wait "$MANY" 2>/dev/null
kw_wait 10 eval '[ "$(grep -c "reason=\"EOF\" in=32768 out=32768" "$KW_TMP/r1.log")" -ge 1000 ]'
kw_check "1000 clean close lines" \
	eval '[ "$(grep -c "reason=\"EOF\" in=32768 out=32768" "$KW_TMP/r1.log")" = 1000 ]'

# --- half-close both ways, IPv4 and IPv6 ---
kw_check "client half-close: echo still flows back (IPv4)" \
	eval 'cli halfclose 10.77.0.1 7000 | grep -q "^halfclose ok"'
kw_check "client half-close over IPv6 (fd77::1 -> ::1)" \
	eval 'cli halfclose fd77::1 7200 | grep -q "^halfclose ok"'
kw_check "IPv6 log line" \
	has r3 "event=close client=\[fd77::2\]:[0-9]+ upstream=\[::1\]:7001 reason=\"EOF\" in=300000 out=300000"
kw_check "upstream half-close first: client still sends after EOF" \
	eval 'cli banner 10.77.0.1 7300 | grep -q "^banner banner"'
kw_check "upstream received the client's late bytes" kw_grep_wait 5 "$KW_TMP/banner.log" "^got late"
kw_check "banner pair closed cleanly" has r4 "reason=\"EOF\" in=5 out=7\$"

# --- upstream refused: client closed with a log line, the relay keeps serving ---
cli refused 10.77.0.1 7400 >"$KW_TMP/refused.out" 2>&1
kw_check "refused: client connection ends" grep -Eq "^(eof|error)" "$KW_TMP/refused.out"
kw_check "refused: close line says Connection refused" \
	has r5 "event=close client=10\.77\.0\.2:[0-9]+ upstream=127\.0\.0\.1:7009 reason=\"Connection refused\" in=0 out=0"
start_server late 7009 echo
kw_check "refused: the same relay serves once upstream is back" \
	eval 'cli halfclose 10.77.0.1 7400 | grep -q "^halfclose ok"'

# --- upstream silent (nothing answers ARP for 10.77.0.99): the connect deadline fires ---
start_relay r7 --listen 7600 --connect 10.77.0.99:7001 --connect-timeout 500
t0=$(kw_mono_ms)
cli refused 10.77.0.1 7600 >"$KW_TMP/silent.out" 2>&1
t1=$(kw_mono_ms)
echo "# connect deadline 500 ms: client closed after $((t1 - t0)) ms"
kw_check "connect timeout: close line says Connection timed out" \
	has r7 "event=close client=10\.77\.0\.2:[0-9]+ upstream=10\.77\.0\.99:7001 reason=\"Connection timed out\" in=0"
kw_check "connect timeout: client closed within 2 s" [ $((t1 - t0)) -lt 2000 ]

# --- out of descriptors: accepting pauses, nothing crashes, service resumes ---
# 24 fds: 11 for the relay itself (2 reserve pipes) leave room for about 6 pairs; 12 clients
# exhaust them (one accepted at the very edge, with no fd left for its upstream, would be
# refused with a close line).
kw_bg "$SRV" "$KW_TMP/r6.log" prlimit --nofile=24:24 -- "$RELAY" --listen 7500 \
	--connect 127.0.0.1:7001 --keepalive off
PID_r6=$KW_LAST_PID
kw_grep_wait 5 "$KW_TMP/r6.log" "event=listening" || kw_die "relay r6 did not start"
kw_bg "$CLI" "$KW_TMP/hold.out" python3 -u "$PEER" hold 10.77.0.1 7500 12 3
kw_check "EMFILE: relay says accepting paused" \
	kw_grep_wait 10 "$KW_TMP/r6.log" \
	"event=accept-paused reason=\"out of file descriptors\" connections=[0-9]+"
ip netns exec "$SRV" ss -tno state established '( sport = :7500 )' >"$KW_TMP/ss_off.txt"
kw_check "--keepalive off: no keepalive timer on the relay's sockets" \
	eval 'grep -q 7500 "$KW_TMP/ss_off.txt" &&
	! grep -q "timer:(keepalive" "$KW_TMP/ss_off.txt"'
kw_grep_wait 30 "$KW_TMP/hold.out" "^released" || { cat "$KW_TMP/hold.out"; kw_fail "hold client did not finish"; }
kw_check "EMFILE: relay still running" kill -0 "$PID_r6"
kw_check "EMFILE: accepting resumes once pairs close" \
	eval 'cli halfclose 10.77.0.1 7500 | grep -q "^halfclose ok"'

# --- client reset mid-stream ---
cli reset 10.77.0.1 7000 >/dev/null 2>&1
kw_check "client reset: reason=\"Connection reset by peer\"" \
	kw_grep_wait 5 "$KW_TMP/r1.log" "reason=\"Connection reset by peer\" in=100000"
kw_check "client reset is passed upstream as a reset" \
	kw_grep_wait 5 "$KW_TMP/echo.log" "^error ECONNRESET"
kw_check "relay still running after the reset" kill -0 "$PID_r1"

# --- keepalive options on both of the relay's sockets ---
kw_bg "$CLI" "$KW_TMP/idle1.out" python3 -u "$PEER" idle 10.77.0.1 7000 60
IDLE1=$KW_LAST_PID
kw_grep_wait 10 "$KW_TMP/idle1.out" "^idle port=" || kw_fail "idle client did not start"
P1=$(sed -n 's/^idle port=//p' "$KW_TMP/idle1.out")
ip netns exec "$SRV" ss -tno state established "( sport = :7000 and dport = :$P1 )" \
	>"$KW_TMP/ss_cli.txt"
ip netns exec "$SRV" ss -tno state established '( dport = :7001 )' >"$KW_TMP/ss_up.txt"
sed 's/^/# /' "$KW_TMP/ss_cli.txt" "$KW_TMP/ss_up.txt"
kw_check "client-side socket has the keepalive timer" \
	grep -q "timer:(keepalive," "$KW_TMP/ss_cli.txt"
kw_check "upstream-side socket has the keepalive timer" \
	grep -q "timer:(keepalive," "$KW_TMP/ss_up.txt"

# --- ss -K on the exact tuple: reason="Software caused connection abort" ---
ip netns exec "$SRV" ss -K state established \
	"( src 10.77.0.1 and sport = :7000 and dst 10.77.0.2 and dport = :$P1 )" \
	>"$KW_TMP/ssk.out" 2>&1 # this iproute2 may print "RTNETLINK answers" for other protocols
kw_check "ss -K: close line says Software caused connection abort" \
	kw_grep_wait 5 "$KW_TMP/r1.log" \
	"event=close client=10\.77\.0\.2:$P1 upstream=127\.0\.0\.1:7001 reason=\"Software caused connection abort\""
wait "$IDLE1" 2>/dev/null

# --- peer power-off: keepalive (default 10,1,2) closes the pair with ETIMEDOUT ---
kw_bg "$CLI" "$KW_TMP/idle2.out" python3 -u "$PEER" idle 10.77.0.1 7000 60
IDLE2=$KW_LAST_PID
kw_grep_wait 10 "$KW_TMP/idle2.out" "^idle port=" || kw_fail "idle client did not start"
P2=$(sed -n 's/^idle port=//p' "$KW_TMP/idle2.out")
t0=$(kw_mono_ms)
kw_poweroff "$CLI"
kw_grep_wait 20 "$KW_TMP/r1.log" "event=close client=10\.77\.0\.2:$P2 upstream=.* reason=\"Connection timed out\""
t1=$(kw_mono_ms)
echo "# power-off: pair closed $((t1 - t0)) ms after the peer went silent (keepalive 10+2x1 s)"
kw_check "power-off: close line says Connection timed out" \
	has r1 "event=close client=10\.77\.0\.2:$P2 upstream=127\.0\.0\.1:7001 reason=\"Connection timed out\" in=5 out=5"
kw_check "power-off: closed within the keepalive time (<= 13 s)" [ $((t1 - t0)) -le 13000 ]
kill "$IDLE2" 2>/dev/null
kw_poweron "$CLI"

# --- --user-timeout: unacknowledged data to a powered-off peer, keepalive off ---
start_server late 7004 late 1.5
start_relay r8 --listen 7700 --connect 127.0.0.1:7004 --keepalive off --user-timeout 2000
kw_bg "$CLI" "$KW_TMP/hold2.out" python3 -u "$PEER" hold 10.77.0.1 7700 1 15
HOLD2=$KW_LAST_PID
kw_grep_wait 10 "$KW_TMP/r8.log" "event=open client=10\.77\.0\.2" || kw_fail "user-timeout pair did not open"
t0=$(kw_mono_ms)
kw_poweroff "$CLI"
kw_grep_wait 15 "$KW_TMP/r8.log" "reason=\"Connection timed out\""
t1=$(kw_mono_ms)
echo "# user-timeout 2000 ms: pair closed $((t1 - t0)) ms after power-off (data sent at 1.5 s)"
kw_check "--user-timeout: close line says Connection timed out" \
	has r8 "event=close client=10\.77\.0\.2:[0-9]+ upstream=127\.0\.0\.1:7004 reason=\"Connection timed out\""
kw_check "--user-timeout: closed within 1.5 s + 2 s + slack (<= 6 s)" [ $((t1 - t0)) -le 6000 ]
kill "$HOLD2" 2>/dev/null
kw_poweron "$CLI"

# --- SIGINT/SIGTERM: everything closed, exit 0 ---
kw_bg "$CLI" "$KW_TMP/idle3.out" python3 -u "$PEER" idle 10.77.0.1 7000 30
kw_grep_wait 10 "$KW_TMP/idle3.out" "^idle port=" || kw_fail "idle client did not start"
kw_stop "$PID_r1"
rc=$?
kw_check "SIGTERM: exit 0" [ "$rc" = 0 ]
kw_check "SIGTERM: open pair logged as closed" has r1 "reason=\"relay exiting\" in=5 out=5"
# spelled as keepwatchd's lines: key=value, the signal by name, severity and time first
kw_check "SIGTERM: event=stop signal=Terminated, with level= and ts=" has r1 \
	"^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+[+-][0-9]{2}:[0-9]{2} level=notice event=stop signal=Terminated connections=1\$"
kw_check "every relay line is ts= level= key=value" \
	eval '! grep -hvE "^ts=[^ ]+ level=(err|warning|notice|info|debug) (event|action)=" "$KW_TMP"/r[0-9].log | grep .'
kw_check "SIGTERM: client sees its connection end" kw_grep_wait 5 "$KW_TMP/idle3.out" "^(eof|error)"
kill -INT "$PID_r3"
kw_wait 5 eval '! kill -0 "$PID_r3"'
wait "$PID_r3"
rc=$?
kw_check "SIGINT: exit 0" [ "$rc" = 0 ]
kw_check "no sanitizer or crash report" \
	eval '! grep -Eq "ERROR: |runtime error|Segmentation" "$KW_TMP"/r*.log'
kw_done
