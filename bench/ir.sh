#!/bin/sh
# ir.sh - instructions per request on the KV hot paths, under callgrind.
#
# Usage: bench/ir.sh [N]   (default N = 500)
#
# Starts one `proconsul agent -server -bootstrap` (data dir under
# build/, so every PUT is a Raft commit with an fsync'd append) on
# 127.0.250.5 under valgrind --tool=callgrind with collection off, writes
# the key set, then for each of PUT (a new key per request, 256-byte
# value) and GET (one of those keys) zeroes the counters, sends N
# requests over one keep-alive connection (curl -K) and dumps. Prints
# the instructions (Ir) the agent executed per request, every thread
# included. Instruction counts do not depend on the machine's load, so
# two builds can be compared on a busy machine; wall-clock figures
# cannot. The dumps stay in build/bench/ir/ for callgrind_annotate.
#
# Exit: 0 ok; 1 a step failed; 2 usage or missing tools.
set -u

N=${1:-500}
case $N in '' | *[!0-9]* | 0) echo "usage: bench/ir.sh [N]" >&2; exit 2 ;; esac
cd "$(dirname "$0")/.." || exit 2
for tool in valgrind callgrind_control curl; do
	command -v $tool >/dev/null 2>&1 || {
		echo "ir: $tool is missing" >&2
		exit 2
	}
done
PROCONSUL=${PROCONSUL:-$(pwd)/bin/proconsul}
IP=127.0.250.5
OUT=$(pwd)/build/bench/ir
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
rm -rf "$OUT"
mkdir -p "$OUT/data" || exit 1

PID=''
cleanup () {
	[ -z "$PID" ] && return
	kill -s TERM "$PID" 2>/dev/null
	i=0
	while [ $i -lt 300 ] && kill -0 "$PID" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -s KILL "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
	PID=''
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

valgrind --tool=callgrind --instr-atstart=no \
	--callgrind-out-file="$OUT/callgrind.out.%p" \
	"$PROCONSUL" agent -server -bootstrap -node=ir -bind=$IP -client=$IP \
	-data-dir="$OUT/data" -log-level=warn \
	</dev/null >"$OUT/agent.log" 2>&1 &
PID=$!
i=0
until [ "$(curl -q -s -m 2 -o /dev/null -w '%{http_code}' \
	-X PUT --data-binary x "http://$IP:8500/v1/kv/ir/ready")" = 200 ]; do
	kill -0 "$PID" 2>/dev/null || { echo "ir: agent exited; see $OUT/agent.log" >&2; exit 1; }
	[ $i -lt 600 ] || { echo "ir: agent not ready within 60 s" >&2; exit 1; }
	sleep 0.1
	i=$((i + 1))
done

V=$(printf "%0256d" 7)
# curlrc FILE METHOD: N requests, one connection.
curlrc () {
	c_i=0
	while [ $c_i -lt "$N" ]; do
		[ $c_i = 0 ] || echo next
		echo 'output = /dev/null'
		echo 'write-out = "%{http_code}\n"'
		if [ "$2" = PUT ]; then
			echo "url = \"http://$IP:8500/v1/kv/ir/put/$c_i\""
			echo 'request = "PUT"'
			echo "data = \"$V\""
		else
			echo "url = \"http://$IP:8500/v1/kv/ir/put/$((c_i % 100))\""
		fi
		c_i=$((c_i + 1))
	done >"$1"
}

# measure NAME METHOD: Ir per request for N requests.
measure () {
	curlrc "$OUT/$1.curlrc" "$2"
	callgrind_control -z "$PID" >/dev/null 2>&1
	callgrind_control -i on "$PID" >/dev/null 2>&1
	curl -q -sS -m 600 -K "$OUT/$1.curlrc" >"$OUT/$1.codes" ||
		{ echo "ir: $1: curl failed" >&2; exit 1; }
	callgrind_control -i off "$PID" >/dev/null 2>&1
	[ "$(grep -c '^200$' "$OUT/$1.codes")" = "$N" ] ||
		{ echo "ir: $1: not all answers were 200" >&2; exit 1; }
	m_n=$(ls "$OUT" | grep -c '^callgrind\.out\.')
	callgrind_control -d "$1" "$PID" >/dev/null 2>&1
	# The dump is written asynchronously: wait for the new file's totals.
	m_i=0
	while :; do
		m_f=$(ls -t "$OUT"/callgrind.out.* 2>/dev/null | head -1)
		m_ir=''
		[ "$(ls "$OUT" | grep -c '^callgrind\.out\.')" -gt "$m_n" ] &&
			m_ir=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$m_f")
		[ -n "$m_ir" ] && { mv "$m_f" "$OUT/$1.callgrind"; break; }
		[ $m_i -lt 600 ] || { echo "ir: $1: no dump" >&2; exit 1; }
		sleep 0.1
		m_i=$((m_i + 1))
	done
	echo "$1: $N requests, $m_ir Ir, $((m_ir / N)) Ir/request"
}

measure put PUT
measure get GET
