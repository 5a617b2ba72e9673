#!/bin/sh
# run.sh - KV throughput and latency of one agent, next to a do-nothing
# HTTP server built on the same stack (bench/nullhttpd.c: libh2o on libuv).
#
# Usage: bench/run.sh [--smoke]
#   full:    PUT and GET, 1, 16 and 64 connections, 10 s each
#   --smoke: PUT and GET, 1 and 16 connections, 1 s each (about 10 s);
#            proves the harness works, asserts nothing about speed
#
# Load: wrk with bench/kv_put.lua (256-byte values, a new key per request)
# and bench/kv_get.lua (256-byte values, a fixed set of 100 keys). The
# agent is `proconsul agent -dev` on 127.0.250.1:8500, nullhttpd listens
# on 127.0.250.2:8500 (loopback only; standard ports; the shell tests
# never use 127.0.250.x). Prints a Markdown table (ops/s, p50, p99 and the
# ratio agent/nullhttpd) and splices it into bench/results/latest.md
# between kv markers (the smoke run: bench/results/smoke.md, which is not
# tracked), as the other bench scripts do with their sections.
# Exit: 0 ok; 1 if wrk, the agent or nullhttpd failed (including any
# non-2xx answer or socket error during a run); 2 usage or missing tools.
#
# Environment: PROCONSUL (default bin/proconsul), BENCH_DURATION,
# BENCH_CONNS (override the defaults above), CC.
set -u

usage () {
	echo "usage: bench/run.sh [--smoke]" >&2
	exit 2
}

SMOKE=0
case ${1:-} in
--smoke) SMOKE=1 ;;
'') ;;
*) usage ;;
esac
[ $# -le 1 ] || usage

cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
# shellcheck source=bench/report.sh
. bench/report.sh
PROCONSUL=${PROCONSUL:-$ROOT/bin/proconsul}
AGENT_IP=127.0.250.1
NULL_IP=127.0.250.2
PORT=8500
OUT=$ROOT/build/bench
RESULTS=$ROOT/bench/results
NKEYS=100
VALUE_SIZE=256
if [ $SMOKE = 1 ]; then
	DURATION=${BENCH_DURATION:-1}
	CONNS=${BENCH_CONNS:-"1 16"}
	MODE=smoke
else
	DURATION=${BENCH_DURATION:-10}
	CONNS=${BENCH_CONNS:-"1 16 64"}
	MODE=full
fi

# Proxies must never see this traffic.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
NO_PROXY='*'
no_proxy='*'
export NO_PROXY no_proxy

die () {
	echo "bench: $*" >&2
	exit 1
}

for tool in wrk curl make cc pkg-config awk; do
	command -v $tool >/dev/null 2>&1 || {
		echo "bench: $tool is missing (scripts/deps.sh --bench)" >&2
		exit 2
	}
done
[ -x "$PROCONSUL" ] || { echo "bench: no $PROCONSUL (run make)" >&2; exit 2; }

NCPU=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
mkdir -p "$OUT" "$RESULTS" || exit 1

# --- processes we start, stopped by PID at exit

AGENT_PID=
NULL_PID=

stop_pid () {  # stop_pid PID NAME: TERM, bounded wait, then KILL
	[ -n "$1" ] || return 0
	kill -s TERM "$1" 2>/dev/null || return 0
	i=0
	while [ $i -lt 100 ] && kill -0 "$1" 2>/dev/null; do
		if [ -r /proc/$1/stat ] &&
		   sed 's/.*) //' /proc/$1/stat 2>/dev/null | grep -q '^Z'; then
			break
		fi
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$1" 2>/dev/null &&
	   ! sed 's/.*) //' /proc/$1/stat 2>/dev/null | grep -q '^Z'; then
		echo "bench: $2 (pid $1) ignored SIGTERM for 10 s; killing it" >&2
		kill -s KILL "$1" 2>/dev/null
	fi
	wait "$1" 2>/dev/null
}

cleanup () {
	stop_pid "$AGENT_PID" agent
	stop_pid "$NULL_PID" nullhttpd
	AGENT_PID=
	NULL_PID=
}
trap 'cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

alive () {  # alive PID: running, not a zombie
	kill -0 "$1" 2>/dev/null || return 1
	! sed 's/.*) //' /proc/$1/stat 2>/dev/null | grep -q '^Z'
}

http_get () {  # http_get URL: body on stdout, bounded
	curl -q -sS --noproxy '*' -m 2 "$1"
}

# wait_up URL PID NAME: bounded (30 s) wait for a 200 with a non-empty,
# non-"" body from URL while PID lives.
wait_up () {
	i=0
	while [ $i -lt 300 ]; do
		alive "$2" || die "$3 exited while starting; see $OUT/$3.log"
		b=$(http_get "$1" 2>/dev/null) && [ -n "$b" ] && [ "$b" != '""' ] &&
			return 0
		sleep 0.1
		i=$((i + 1))
	done
	die "$3 did not come up within 30 s; see $OUT/$3.log"
}

# --- build the reference server

# GNUmakefile's rule builds it (up to date: nothing to do).
NULLHTTPD=$OUT/nullhttpd
make -s build/bench/nullhttpd || die "cannot build nullhttpd"

# --- start both servers

for ip in $AGENT_IP $NULL_IP; do
	if curl -q -s --noproxy '*' -m 1 -o /dev/null "http://$ip:$PORT/" 2>/dev/null
	then
		die "something already listens on $ip:$PORT (an earlier run?)"
	fi
done

"$PROCONSUL" agent -dev -client $AGENT_IP -bind $AGENT_IP \
	</dev/null >"$OUT/agent.log" 2>&1 &
AGENT_PID=$!
"$NULLHTTPD" $NULL_IP $PORT </dev/null >"$OUT/nullhttpd.log" 2>&1 &
NULL_PID=$!

wait_up "http://$AGENT_IP:$PORT/v1/status/leader" $AGENT_PID agent
wait_up "http://$NULL_IP:$PORT/" $NULL_PID nullhttpd

# --- the GET key set

VALUE=$(awk -v n=$VALUE_SIZE 'BEGIN { while (n-- > 0) printf "g" }')
i=0
while [ $i -lt $NKEYS ]; do
	echo "url = \"http://$AGENT_IP:$PORT/v1/kv/bench/get/$i\""
	echo "request = \"PUT\""
	echo "data = \"$VALUE\""
	echo "output = /dev/null"
	echo "write-out = \"%{http_code}\\n\""
	[ $i -lt $((NKEYS - 1)) ] && echo "next"
	i=$((i + 1))
done >"$OUT/get-keys.curlrc"
curl -q -sS --noproxy '*' -m 60 -K "$OUT/get-keys.curlrc" >"$OUT/get-keys.codes" ||
	die "cannot write the GET key set"
[ "$(grep -c '^200$' "$OUT/get-keys.codes")" = $NKEYS ] ||
	die "writing the GET key set: not all answers were 200"

# --- runs

RUN_ID=$(date +%s)
FAILED=0
ROWS=$OUT/rows.txt
: >"$ROWS"

# one TARGET OP CONNS: run wrk; print "rps p50_us p99_us errors non2xx".
one () {
	ip=$AGENT_IP
	[ "$1" = null ] && ip=$NULL_IP
	script=bench/kv_put.lua
	arg=$RUN_ID-$3
	if [ "$2" = GET ]; then
		script=bench/kv_get.lua
		arg=$NKEYS
	fi
	threads=$3
	[ "$threads" -gt "$NCPU" ] && threads=$NCPU
	log=$OUT/wrk-$1-$2-$3.txt
	timeout $((DURATION + 60)) wrk -t"$threads" -c"$3" -d"${DURATION}s" \
		--timeout 5s -s "$script" "http://$ip:$PORT" -- "$arg" >"$log" 2>&1
	rc=$?
	line=$(grep '^BENCH ' "$log")
	if [ $rc != 0 ] || [ -z "$line" ]; then
		echo "bench: wrk failed ($1 $2 c=$3, exit $rc); see $log" >&2
		cat "$log" >&2
		return 1
	fi
	echo "$line" | awk '{
		for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		print v["rps"], v["p50_us"], v["p99_us"], v["errors"], v["non2xx"],
			v["requests"]
	}'
}

for op in PUT GET; do
	for c in $CONNS; do
		echo "bench: $op, $c connection(s), ${DURATION}s: proconsul..." >&2
		a=$(one agent $op $c) || { FAILED=1; a="0 0 0 0 0 0"; }
		alive $AGENT_PID || { echo "bench: the agent died; see $OUT/agent.log" >&2; FAILED=1; }
		echo "bench: $op, $c connection(s), ${DURATION}s: nullhttpd..." >&2
		n=$(one null $op $c) || { FAILED=1; n="0 0 0 0 0 0"; }
		alive $NULL_PID || { echo "bench: nullhttpd died" >&2; FAILED=1; }
		set -- $a
		if [ "$4" != 0 ] || [ "$5" != 0 ] || [ "$6" = 0 ]; then
			echo "bench: proconsul $op c=$c: $6 requests, $4 socket errors, $5 non-2xx answers" >&2
			FAILED=1
		fi
		echo "$op $c $a $n" >>"$ROWS"
		alive $AGENT_PID || break 2
	done
done

# --- report

REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
WRKV=$(wrk -v 2>&1 | head -n 1 | awk '{ print $2 }')
TABLE=$OUT/kv-table.md
{
	echo "### KV benchmark ($MODE run)"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), revision $REV, $NCPU CPU(s)," \
		"wrk $WRKV, ${DURATION}s per cell, ${VALUE_SIZE}-byte values;" \
		"PUT writes a new key per request, GET reads $NKEYS keys."
	echo "proconsul = \`proconsul agent -dev\` (one server, Raft commit per PUT);" \
		"nullhttpd = bench/nullhttpd.c, the same libh2o/libuv stack answering 200."
	echo "ratio = proconsul ops/s / nullhttpd ops/s. Latencies in ms."
	echo
	echo "| op | conns | proconsul ops/s | p50 | p99 | nullhttpd ops/s | p50 | p99 | ratio |"
	echo "|----|------:|----------------:|----:|----:|----------------:|----:|----:|------:|"
	awk '{
		ratio = ($9 > 0) ? sprintf("%.3f", $3 / $9) : "-"
		printf "| %s | %d | %.0f | %.2f | %.2f | %.0f | %.2f | %.2f | %s |\n",
			$1, $2, $3, $4 / 1000, $5 / 1000, $9, $10 / 1000, $11 / 1000, ratio
	}' "$ROWS"
	if [ $FAILED != 0 ]; then
		echo
		echo "**This run failed** (see the messages on stderr and $OUT/)."
	fi
} >"$TABLE"
REPORT=$RESULTS/latest.md
[ "$SMOKE" = 1 ] && REPORT=$RESULTS/smoke.md
report_splice kv "$TABLE" "$REPORT" || FAILED=1
cat "$TABLE"
rm -f "$TABLE"

cleanup
if [ $FAILED != 0 ]; then
	echo "bench: FAILED" >&2
	exit 1
fi
exit 0
