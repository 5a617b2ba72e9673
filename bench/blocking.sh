#!/bin/sh
# blocking.sh - what N concurrent blocking queries cost one agent in
# memory, and how long one write takes to wake them all.
#
# Usage: bench/blocking.sh [--smoke]   (or BENCH_MODE=smoke|full)
#   full:    N = 10000; writes bench/results/blocking.md
#   --smoke: N = 1000; writes bench/results/blocking-smoke.md (not
#            tracked); proves the harness works
# Either way the table is also spliced into the mode's KV report
# (bench/results/latest.md or smoke.md) between blocking markers.
#
# One `proconsul agent -dev` on 127.0.252.1:8500 ($BENCH_NET.1; t/lib.sh
# reserves 127.0.250 and above for bench/). A setup write creates what the
# queries watch; its X-Consul-Index I is read back. Then bench/blockers.c
# (built into build/bench/) opens N keep-alive connections and sends on
# each GET PATH?index=I&wait=5m. Measured:
#   - the agent's VmRSS idle (just before) and with the N queries held
#     (once every server-side socket has been read empty, per ss, and the
#     RSS is stable); bytes per query = the difference / N;
#   - an unrelated write: queries answered from sending it until 2 s after
#     its answer are spurious wake-ups (must be 0);
#   - the waking write: time from sending it to the last of the N answers
#     (each must be a 200 with an X-Consul-Index above I).
#
# What is watched (BENCH_BLOCK_PATH, default /v1/kv/bench/blocked):
#   /v1/kv/KEY[?...]          setup and wake PUT KEY; the unrelated write
#                             is PUT /v1/kv/bench-unrelated/key
#   /v1/health/service/NAME[?...], /v1/catalog/service/NAME[?...]
#                             setup registers NAME-0 on node bench-blk and
#                             wake NAME-1 (PUT /v1/catalog/register); the
#                             unrelated write registers service
#                             bench-unrelated on node bench-unrelated
#   anything else             needs the three writes below
# BENCH_BLOCK_SETUP, BENCH_BLOCK_WAKE, BENCH_BLOCK_OTHER override them, each
# "METHOD PATH [BODY]" (BODY is the rest of the string); BENCH_BLOCK_OTHER
# =none skips the spurious wake-up check.
#
# Exit: 0 ok; 1 the agent or a check failed (a query answered early, not
# woken, not 200 or without a higher index, or woken by the unrelated
# write); 2 usage, missing tools or an open-file limit we cannot raise.
# Environment: BENCH_MODE, BENCH_BLOCK_N, BENCH_BLOCK_PATH, BENCH_BLOCK_WAIT
# (5m), BENCH_BLOCK_SETUP/WAKE/OTHER, BENCH_NET (first three octets),
# PROCONSUL (default bin/proconsul), CC.
set -u

usage () {
	echo "usage: bench/blocking.sh [--smoke]" >&2
	exit 2
}

MODE=${BENCH_MODE:-full}
case ${1:-} in
--smoke) MODE=smoke ;;
'') ;;
*) usage ;;
esac
[ $# -le 1 ] || usage
case $MODE in
full) N=${BENCH_BLOCK_N:-10000} ;;
smoke) N=${BENCH_BLOCK_N:-1000} ;;
*) usage ;;
esac
case $N in
'' | *[!0-9]* | 0) usage ;;
esac

cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
# shellcheck source=bench/report.sh
. bench/report.sh
PROCONSUL=${PROCONSUL:-$ROOT/bin/proconsul}
NET=${BENCH_NET:-127.0.252}
IP=$NET.1
PORT=8500
BASE=http://$IP:$PORT
OUT=$ROOT/build/bench
RESULTS=$ROOT/bench/results
BPATH=${BENCH_BLOCK_PATH:-/v1/kv/bench/blocked}
WAIT=${BENCH_BLOCK_WAIT:-5m}
QUIET_MS=2000
BOUND_S=120             # blockers: to get ready, and again to finish

# Proxies must never see this traffic.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
NO_PROXY='*'
no_proxy='*'
export NO_PROXY no_proxy

for tool in curl cc pkg-config awk ss sed grep sort; do
	command -v $tool >/dev/null 2>&1 || {
		echo "blocking: $tool is missing (scripts/deps.sh --bench)" >&2
		exit 2
	}
done
[ -x "$PROCONSUL" ] || {
	echo "blocking: no $PROCONSUL (run make)" >&2
	exit 2
}
mkdir -p "$OUT" "$RESULTS" || exit 1

# Each query holds a socket in the agent and one in blockers (both
# inherit this limit; the agent also raises its soft limit to the hard one).
NEED=$((N + 1024))
# shellcheck disable=SC3045
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $NEED ]; then
	ulimit -n $NEED 2>/dev/null || {
		echo "blocking: cannot raise the open-file limit to $NEED" \
			"(hard limit $(ulimit -Hn); raising that needs CAP_SYS_RESOURCE," \
			"or lower BENCH_BLOCK_N)" >&2
		exit 2
	}
fi

now_ms () {
	echo $(($(date +%s%N) / 1000000))
}

die () {
	echo "blocking: $*" >&2
	exit 1
}

# --- the writes

# split_req VAR "METHOD PATH [BODY]": sets VAR_M, VAR_P, VAR_B.
split_req () {
	s_rest=${2#* }
	eval "$1_M=\${2%% *}"
	eval "$1_P=\${s_rest%% *}"
	case $s_rest in
	*' '*) eval "$1_B=\${s_rest#* }" ;;
	*) eval "$1_B=" ;;
	esac
}

register () {  # register NODE ADDRESS ID SERVICE PORT
	echo "PUT /v1/catalog/register {\"Node\":\"$1\",\"Address\":\"$2\"," \
		"\"Service\":{\"ID\":\"$3\",\"Service\":\"$4\",\"Port\":$5}}"
}

case $BPATH in
/v1/kv/?*)
	key=${BPATH#/v1/kv/}
	key=${key%%\?*}
	D_SETUP="PUT /v1/kv/$key setup"
	D_WAKE="PUT /v1/kv/$key wake"
	D_OTHER="PUT /v1/kv/bench-unrelated/key other"
	;;
/v1/health/service/?* | /v1/catalog/service/?*)
	name=${BPATH#/v1/*/service/}
	name=${name%%\?*}
	D_SETUP=$(register bench-blk 127.0.0.1 "$name-0" "$name" 1000)
	D_WAKE=$(register bench-blk 127.0.0.1 "$name-1" "$name" 1001)
	D_OTHER=$(register bench-unrelated 127.0.0.2 bench-unrelated \
		bench-unrelated 1002)
	;;
*)
	D_SETUP='' D_WAKE='' D_OTHER=''
	;;
esac
SETUP=${BENCH_BLOCK_SETUP:-$D_SETUP}
WAKE=${BENCH_BLOCK_WAKE:-$D_WAKE}
OTHER=${BENCH_BLOCK_OTHER:-$D_OTHER}
if [ -z "$SETUP" ] || [ -z "$WAKE" ] || [ -z "$OTHER" ]; then
	echo "blocking: no default writes for $BPATH; set BENCH_BLOCK_SETUP," \
		"BENCH_BLOCK_WAKE and BENCH_BLOCK_OTHER" >&2
	exit 2
fi
OTHER_M='' OTHER_P='' OTHER_B=''
split_req SETUP "$SETUP"
split_req WAKE "$WAKE"
[ "$OTHER" = none ] || split_req OTHER "$OTHER"

# --- processes we start, stopped by PID at exit

AGENT_PID=''
BLOCKERS_PID=''

alive () {  # alive PID: running, not a zombie
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
	! sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | grep -q '^Z'
}

stop_pid () {  # stop_pid PID NAME: TERM, bounded wait (10 s), then KILL
	[ -n "$1" ] || return 0
	kill -s TERM "$1" 2>/dev/null || { wait "$1" 2>/dev/null; return 0; }
	i=0
	while [ $i -lt 100 ] && alive "$1"; do
		sleep 0.1
		i=$((i + 1))
	done
	if alive "$1"; then
		echo "blocking: $2 (pid $1) ignored SIGTERM for 10 s; killing it" >&2
		kill -s KILL "$1" 2>/dev/null
	fi
	wait "$1" 2>/dev/null
}

cleanup () {
	stop_pid "$BLOCKERS_PID" blockers
	stop_pid "$AGENT_PID" agent
	BLOCKERS_PID='' AGENT_PID=''
}
trap 'cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- helpers

http () {  # http METHOD PATH BODY: the status code; the body in $OUT/blocking.body
	curl -q -s --noproxy '*' -m 10 -X "$1" --data-binary "$3" \
		-o "$OUT/blocking.body" -w '%{http_code}' "$BASE$2" 2>/dev/null
}

wait_up () {  # bounded (30 s) wait for a leader
	i=0
	while [ $i -lt 300 ]; do
		alive "$AGENT_PID" || die "the agent exited; see $OUT/blocking-agent.log"
		b=$(curl -q -s --noproxy '*' -m 2 "$BASE/v1/status/leader" 2>/dev/null) &&
			[ -n "$b" ] && [ "$b" != '""' ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	die "no leader within 30 s; see $OUT/blocking-agent.log"
}

rss_kb () {
	awk '/^VmRSS:/ { print $2 }' "/proc/$AGENT_PID/status"
}

# rss_stable: the agent's VmRSS (kB) once two samples 250 ms apart are
# within 64 kB of each other (at most 10 s).
rss_stable () {
	r_prev=$(rss_kb)
	r_i=0
	while [ $r_i -lt 40 ]; do
		sleep 0.25
		r_now=$(rss_kb)
		d=$((r_now - r_prev))
		[ ${d#-} -le 64 ] && break
		r_prev=$r_now
		r_i=$((r_i + 1))
	done
	echo "$r_now"
}

# held: how many of the agent's sockets on $IP:$PORT are established
# with nothing left unread.
held () {
	ss -Htn state established src "$IP:$PORT" 2>/dev/null |
		awk '$1 == 0 { n++ } END { print n + 0 }'
}

# --- build the load client

BLOCKERS=$OUT/blockers
# shellcheck disable=SC3013
if [ ! -x "$BLOCKERS" ] || [ bench/blockers.c -nt "$BLOCKERS" ]; then
	# shellcheck disable=SC2046
	${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -o "$BLOCKERS" \
		bench/blockers.c $(pkg-config --cflags --libs libuv) ||
		die "cannot build blockers"
fi

# --- the agent and what it watches

if curl -q -s --noproxy '*' -m 1 -o /dev/null "$BASE/" 2>/dev/null; then
	die "something already listens on $IP:$PORT (an earlier run?)"
fi
"$PROCONSUL" agent -dev -client "$IP" -bind "$IP" -log-level=warn \
	-hcl "limits { http_max_conns_per_client = $((N + 100)) }" \
	</dev/null >"$OUT/blocking-agent.log" 2>&1 &
AGENT_PID=$!
wait_up

code=$(http "$SETUP_M" "$SETUP_P" "$SETUP_B")
[ "$code" = 200 ] || die "setup $SETUP_M $SETUP_P answered ${code:-nothing}"
# The unrelated write's latency with no query held, for comparison:
# median of 5 (curl's time_total, connection included, as in blockers).
OTHER_IDLE_MS=-
if [ "$OTHER" != none ]; then
	i=0
	while [ $i -lt 5 ]; do
		curl -q -s --noproxy '*' -m 10 -X "$OTHER_M" \
			--data-binary "$OTHER_B" -o /dev/null \
			-w '%{http_code} %{time_total}\n' "$BASE$OTHER_P" 2>/dev/null
		i=$((i + 1))
	done >"$OUT/blocking.idle"
	[ "$(grep -c '^200 ' "$OUT/blocking.idle")" = 5 ] ||
		die "the unrelated write $OTHER_M $OTHER_P failed"
	OTHER_IDLE_MS=$(awk '{ print $2 * 1000 }' "$OUT/blocking.idle" |
		sort -n | awk 'NR == 3 { printf "%.2f", $1 }')
fi
curl -q -sS --noproxy '*' -m 10 -D "$OUT/blocking.headers" -o /dev/null \
	"$BASE$BPATH" || die "cannot GET $BPATH"
INDEX=$(tr -d '\r' <"$OUT/blocking.headers" |
	awk 'tolower($1) == "x-consul-index:" { print $2 }')
case $INDEX in
'' | *[!0-9]*) die "GET $BPATH: no X-Consul-Index" ;;
esac
case $BPATH in
*\?*) GPATH="$BPATH&index=$INDEX&wait=$WAIT" ;;
*) GPATH="$BPATH?index=$INDEX&wait=$WAIT" ;;
esac

# --- hold N queries

sleep 0.5
RSS_IDLE=$(rss_stable)
echo "blocking: $MODE run: $N x GET $GPATH; agent idle at $RSS_IDLE kB" >&2
set -- -n "$N" -i "$INDEX" -g "$GPATH" -w "$WAKE_M $WAKE_P" -W "$WAKE_B" \
	-q $QUIET_MS -t $BOUND_S
[ "$OTHER" = none ] || set -- "$@" -o "$OTHER_M $OTHER_P" -O "$OTHER_B"
T0=$(now_ms)
"$BLOCKERS" "$@" "$IP" $PORT </dev/null >"$OUT/blockers.out" \
	2>"$OUT/blockers.err" &
BLOCKERS_PID=$!

i=0
while ! grep -q '^ready ' "$OUT/blockers.out" 2>/dev/null; do
	alive "$BLOCKERS_PID" || {
		cat "$OUT/blockers.err" >&2
		die "blockers exited before all $N queries were sent"
	}
	[ $i -lt 1300 ] || die "blockers not ready within $BOUND_S s"
	sleep 0.1
	i=$((i + 1))
done
T_SENT=$(($(now_ms) - T0))
i=0
while [ "$(held)" -lt "$N" ]; do
	alive "$AGENT_PID" || die "the agent exited; see $OUT/blocking-agent.log"
	[ $i -lt 600 ] || die "the agent holds only $(held) of $N connections after 60 s"
	sleep 0.1
	i=$((i + 1))
done
T_HELD=$(($(now_ms) - T0))
RSS_WITH=$(rss_stable)
echo "blocking: all $N sent after $T_SENT ms, read by the agent after" \
	"$T_HELD ms; agent at $RSS_WITH kB" >&2

# --- wake them

kill -s USR1 "$BLOCKERS_PID" || die "cannot signal blockers"
i=0
while alive "$BLOCKERS_PID"; do
	[ $i -lt $((BOUND_S * 10 + 100)) ] || die "blockers did not finish"
	sleep 0.1
	i=$((i + 1))
done
wait "$BLOCKERS_PID"
BRC=$?
BLOCKERS_PID=''
LINE=$(grep '^BLOCK ' "$OUT/blockers.out")
[ -n "$LINE" ] || {
	cat "$OUT/blockers.err" >&2
	die "blockers failed (exit $BRC) without a result"
}
cat "$OUT/blockers.err" >&2
alive "$AGENT_PID" || die "the agent exited; see $OUT/blocking-agent.log"
sleep 0.5
RSS_AFTER=$(rss_kb)
cleanup

# shellcheck disable=SC2046
set -- $(echo "$LINE" | awk '{
	for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	print v["spurious"], v["other_ms"], v["wake_put_ms"], v["first_ms"],
		v["all_ms"], v["ok"], v["bad"], v["lost"], v["early"]
}')
SPURIOUS=$1 OTHER_MS=$2 WAKE_PUT_MS=$3 FIRST_MS=$4 ALL_MS=$5
OK=$6 BAD=$7 LOST=$8 EARLY=$9
FAILED=0
[ "$BRC" = 0 ] || FAILED=1
[ "$SPURIOUS" = 0 ] || FAILED=1
[ "$FAILED" = 0 ] || echo "blocking: FAILED: $LINE" >&2

# --- report

REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- libcore cmd GNUmakefile 2>/dev/null || REV=$REV+dirty
NCPU=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
mib () { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
PER_Q=$(awk -v a="$RSS_IDLE" -v b="$RSS_WITH" -v n="$N" \
	'BEGIN { printf "%.0f", (b - a) * 1024 / n }')
# Times of answers that never came are -1 from blockers: print "-".
ms_cell () { case $1 in -*) echo - ;; *) echo "$1" ;; esac; }
if [ "$OTHER" = none ]; then
	SPURIOUS_CELL="not checked"
	OTHER_NOTE=''
else
	SPURIOUS_CELL=$SPURIOUS
	OTHER_NOTE="with N queries held the unrelated write took $OTHER_MS ms"
	OTHER_NOTE="$OTHER_NOTE (median $OTHER_IDLE_MS ms with none held) and"
fi

TABLE=$RESULTS/blocking.md.tmp
{
	echo "### Blocking-query benchmark ($MODE run)"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), revision $REV, $NCPU CPU(s);" \
		"one \`proconsul agent -dev\` on loopback, N keep-alive connections" \
		"from bench/blockers.c each holding" \
		"\`GET $BPATH?index=<X-Consul-Index>&wait=$WAIT\`."
	echo "RSS is the agent's VmRSS before and once all N are held;" \
		"bytes / query = the difference / N. Wake-all: from sending" \
		"\`$WAKE_M $WAKE_P\` to the last of the N answers (each a 200" \
		"with a higher X-Consul-Index). Spurious: queries answered within" \
		"$((QUIET_MS / 1000)) s of an unrelated write" \
		"(\`${OTHER_M:-none} ${OTHER_P:-}\`), must be 0."
	echo
	echo "| N | RSS idle | RSS with N blocked | bytes / query | wake-all ms | first answer ms | spurious wake-ups |"
	echo "|--:|---------:|-------------------:|--------------:|------------:|----------------:|------------------:|"
	echo "| $N | $(mib "$RSS_IDLE") | $(mib "$RSS_WITH") | $PER_Q |" \
		"$(ms_cell "$ALL_MS") | $(ms_cell "$FIRST_MS") | $SPURIOUS_CELL |"
	echo
	echo "Also: all N requests written after $T_SENT ms and read by the" \
		"agent after $T_HELD ms; ${OTHER_NOTE:+$OTHER_NOTE }the waking" \
		"write took $WAKE_PUT_MS ms; RSS" \
		"$(mib "$RSS_AFTER") once they were answered;" \
		"$OK answered 200 with a higher index, $BAD otherwise, $LOST lost," \
		"$EARLY early."
	if [ $FAILED != 0 ]; then
		echo
		echo "**This run failed** (see the messages on stderr and $OUT/)."
	fi
} >"$TABLE"
if [ "$MODE" = full ]; then
	FILE=$RESULTS/blocking.md REPORT=$RESULTS/latest.md
else
	FILE=$RESULTS/blocking-smoke.md REPORT=$RESULTS/smoke.md
fi
mv "$TABLE" "$FILE" || exit 1

# Splice it into the report of the same mode, replacing an earlier
# blocking section (bench/report.sh).
[ -f "$REPORT" ] && { report_splice blocking "$FILE" "$REPORT" || exit 1; }
cat "$FILE"
[ $FAILED = 0 ] || exit 1
exit 0
