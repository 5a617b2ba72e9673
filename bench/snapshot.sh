#!/bin/sh
# snapshot.sh - time and memory of `snapshot save` and `snapshot restore`
# of N keys on one server: the issue asks that neither holds more than
# one extra copy of the state at once.
#
# Usage: bench/snapshot.sh [--smoke]   (or BENCH_MODE=smoke|full)
#   full:    N = 1000000; writes bench/results/snapshot.md
#   --smoke: N = 20000; writes bench/results/snapshot-smoke.md (not
#            tracked); proves the harness works, asserts nothing about
#            speed or memory
# Either way the table is also spliced into the mode's KV report
# (bench/results/latest.md or smoke.md) between snapshot markers.
#
# One `proconsul agent -server -bootstrap` as node b1 on 127.0.253.1
# ($BENCH_NET.1; t/lib.sh reserves 127.0.250 and above for bench/) with
# the standard ports and its data dir in a fresh directory under build/
# (or $BENCH_DATA_DIR), removed at exit with the snapshot file.
#   1. Load: wrk (T threads, BENCH_SNAP_CONNS connections) PUTs
#      /v1/kv/bench/<thread>-<i>, i = 1..N/T per thread, 256-byte values
#      cut at random offsets from a per-thread pool of random base64
#      characters; a thread stops once all its PUTs were answered `true`.
#      Then GET /v1/kv/bench/?keys must list exactly N keys.
#   2. The agent's VmRSS idle (stable), and the raw data size: the sum
#      of N key lengths + N x 256.
#   3. `proconsul snapshot save`, timed, while the agent's VmRSS and that
#      of its children (the forked writer) are sampled every 20 ms:
#      the agent's peak increase over idle, the child's peak VmRSS
#      (which counts the pages it shares copy-on-write with the agent)
#      and peak Private_Dirty from /proc/<child>/smaps_rollup (pages it
#      holds alone: the memory the fork really added). Meanwhile a GET
#      of one key every 50 ms shows whether the agent keeps serving.
#   4. The archive's size and `snapshot inspect`: KVS count must be N;
#      the state.bin size is the meta Size.
#   5. bench/1-1 is overwritten and bench/extra added, then
#      `snapshot restore`, timed, with the same sampling: the agent's
#      peak VmRSS increase over its VmRSS just before, also as a multiple
#      of state.bin. Afterwards exactly N keys and bench/1-1's saved
#      value must be back.
#
# Exit: 0 ok; 1 the agent, the load, a save, restore or check failed;
# 2 usage or missing tools.
# Environment: BENCH_MODE, BENCH_SNAP_N, BENCH_SNAP_CONNS (64),
# BENCH_DATA_DIR (parent of the data dir), BENCH_NET (first three
# octets), PROCONSUL (default bin/proconsul).
set -u

usage () {
	echo "usage: bench/snapshot.sh [--smoke]" >&2
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
full) N=${BENCH_SNAP_N:-1000000} BOUND_S=1800 ;;
smoke) N=${BENCH_SNAP_N:-20000} BOUND_S=60 ;;
*) usage ;;
esac
CONNS=${BENCH_SNAP_CONNS:-64}
case $N in
'' | *[!0-9]* | 0) usage ;;
esac
case $CONNS in
'' | *[!0-9]* | 0) usage ;;
esac

cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
# shellcheck source=bench/report.sh
. bench/report.sh
PROCONSUL=${PROCONSUL:-$ROOT/bin/proconsul}
NET=${BENCH_NET:-127.0.253}
IP=$NET.1
PORT=8500
BASE=http://$IP:$PORT
OUT=$ROOT/build/bench
RESULTS=$ROOT/bench/results
VALUE_SIZE=256
POOL=1048576            # random characters per wrk thread
SAMPLE_MS=20
PROBE_KEY=bench/1-1

# Proxies must never see this traffic.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
NO_PROXY='*'
no_proxy='*'
export NO_PROXY no_proxy
# sort and comm must agree on the order of key names.
LC_ALL=C
export LC_ALL

for tool in wrk curl perl awk sort tr wc date; do
	command -v $tool >/dev/null 2>&1 || {
		echo "snapshot: $tool is missing (scripts/deps.sh --bench)" >&2
		exit 2
	}
done
[ -x "$PROCONSUL" ] || {
	echo "snapshot: no $PROCONSUL (run make)" >&2
	exit 2
}
mkdir -p "$OUT" "$RESULTS" || exit 1

NCPU=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
THREADS=$NCPU
[ "$THREADS" -gt 4 ] && THREADS=4
[ "$THREADS" -gt "$CONNS" ] && THREADS=$CONNS
[ "$THREADS" -gt "$N" ] && THREADS=$N

now_ms () {
	echo $(($(date +%s%N) / 1000000))
}

die () {
	echo "snapshot: $*" >&2
	exit 1
}

# --- processes we start, stopped by PID at exit

AGENT_PID=''
WRK_PID=''
CLI_PID=''
SAMPLER_PID=''
PROBE_PID=''
DATA=

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
		echo "snapshot: $2 (pid $1) ignored SIGTERM for 10 s; killing it" >&2
		kill -s KILL "$1" 2>/dev/null
	fi
	wait "$1" 2>/dev/null
}

cleanup () {
	stop_pid "$PROBE_PID" "GET prober"
	stop_pid "$SAMPLER_PID" "RSS sampler"
	stop_pid "$CLI_PID" "snapshot CLI"
	stop_pid "$WRK_PID" wrk
	stop_pid "$AGENT_PID" agent
	PROBE_PID='' SAMPLER_PID='' CLI_PID='' WRK_PID='' AGENT_PID=''
	if [ -n "$DATA" ]; then
		rm -rf "$DATA"
		DATA=
	fi
}
trap 'cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- helpers

wait_up () {  # bounded (30 s) wait for a leader
	i=0
	while [ $i -lt 300 ]; do
		alive "$AGENT_PID" || die "the agent exited; see $OUT/snapshot-agent.log"
		b=$(curl -q -s --noproxy '*' -m 2 "$BASE/v1/status/leader" 2>/dev/null) &&
			[ -n "$b" ] && [ "$b" != '""' ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	die "no leader within 30 s; see $OUT/snapshot-agent.log"
}

check_agent () {
	alive "$AGENT_PID" || die "the agent exited; see $OUT/snapshot-agent.log"
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

# count_keys: how many keys GET /v1/kv/bench/?keys lists (0 on a 404).
count_keys () {
	c_code=$(curl -q -s --noproxy '*' -m 120 -o "$OUT/snapshot-keys.json" \
		-w '%{http_code}' "$BASE/v1/kv/bench/?keys" 2>/dev/null)
	case $c_code in
	200) tr ',' '\n' <"$OUT/snapshot-keys.json" | grep -c '"' ;;
	404) echo 0 ;;
	*) return 1 ;;
	esac
}

# raw_bytes N T: the sum of the lengths of the keys bench/<t>-<i>
# (t = 1..T, i = 1..quota(t)) plus N values.
raw_bytes () {
	awk -v n="$1" -v t="$2" -v vs=$VALUE_SIZE '
		function digits(q,   s, lo, d) {  # digits of 1..q, summed
			s = 0; lo = 1; d = 1
			while (lo <= q) {
				hi = lo * 10 - 1
				s += ((q < hi ? q : hi) - lo + 1) * d
				lo *= 10; d++
			}
			return s
		}
		BEGIN {
			s = 0
			for (i = 1; i <= t; i++) {
				q = int(n / t) + (i <= n % t ? 1 : 0)
				s += q * (length("bench/" i "-") + vs) + digits(q)
			}
			printf "%.0f\n", s
		}'
}

# sample FILE STOP: in the background, every SAMPLE_MS until the file
# STOP exists (at most BOUND_S), the VmRSS of the agent and of each of
# its children and the children's Private_Dirty; then one line in FILE.
sample () {
	perl -e '
		use strict; use warnings; use Time::HiRes qw(time sleep);
		my ($pid, $ms, $stop, $bound) = @ARGV;
		sub kb {
			my ($f, $k) = @_;
			open(my $h, "<", $f) or return undef;
			while (<$h>) { return $1 if /^\Q$k\E:\s+(\d+)/ }
			return undef;
		}
		my ($n, $pmax, $amin, $amax, $cmax, $dmax, %seen) =
			(0, 0, -1, 0, 0, -1);
		my ($t0, $cfirst, $clast) = (time, undef, undef);
		while (!-e $stop && time - $t0 < $bound) {
			my $r = kb("/proc/$pid/status", "VmRSS");
			last unless defined $r;
			$n++;
			$pmax = $r if $r > $pmax;
			my $a = kb("/proc/$pid/status", "RssAnon") // 0;
			$amax = $a if $a > $amax;
			$amin = $a if $amin < 0 || $a < $amin;
			for my $f (glob "/proc/$pid/task/*/children") {
				open(my $h, "<", $f) or next;
				for my $c (split " ", (<$h> // "")) {
					my $cr = kb("/proc/$c/status", "VmRSS");
					next unless defined $cr;
					$seen{$c} = 1;
					$cfirst //= time;
					$clast = time;
					$cmax = $cr if $cr > $cmax;
					my $d = kb("/proc/$c/smaps_rollup", "Private_Dirty");
					$dmax = $d if defined $d && $d > $dmax;
				}
			}
			sleep($ms / 1000);
		}
		printf "SAMPLE samples=%d parent_max_kb=%d anon_min_kb=%d " .
			"anon_max_kb=%d children=%d " .
			"child_max_kb=%d child_dirty_max_kb=%d child_ms=%d\n",
			$n, $pmax, $amin, $amax, scalar(keys %seen), $cmax, $dmax,
			defined $cfirst ? ($clast - $cfirst) * 1000 : 0;
	' "$AGENT_PID" $SAMPLE_MS "$2" $BOUND_S >"$1" 2>&1 &
	SAMPLER_PID=$!
}

# probe FILE STOP: in the background, GET $PROBE_KEY every 50 ms until
# STOP exists (at most BOUND_S); "CODE SECONDS" lines in FILE.
probe () {
	(
		p_i=0
		while [ ! -e "$2" ] && [ $p_i -lt $((BOUND_S * 20)) ]; do
			curl -q -s --noproxy '*' -m 30 -o /dev/null \
				-w '%{http_code} %{time_total}\n' \
				"$BASE/v1/kv/$PROBE_KEY" 2>/dev/null
			sleep 0.05
			p_i=$((p_i + 1))
		done
	) >"$1" &
	PROBE_PID=$!
}

# probe_stats FILE: "GETS MAX_MS NON200" of a probe file.
probe_stats () {
	awk '{ n++; ms = $2 * 1000; if (ms > m) m = ms; if ($1 != 200) bad++ }
		END { printf "%d %.1f %d\n", n, m, bad }' "$1"
}

# measured NAME ARGS...: run `proconsul snapshot ARGS...` with the
# sampler and the prober; sets M_MS (wall ms), M_RC, M_SAMPLE and
# M_PROBE; output in $OUT/snapshot-NAME.log.
measured () {
	m_name=$1
	shift
	m_stop=$OUT/snapshot-$m_name.stop
	rm -f "$m_stop"
	sample "$OUT/snapshot-$m_name.sample" "$m_stop"
	probe "$OUT/snapshot-$m_name.probe" "$m_stop"
	sleep 0.2
	m_t0=$(now_ms)
	"$PROCONSUL" snapshot "$@" </dev/null >"$OUT/snapshot-$m_name.log" 2>&1 &
	CLI_PID=$!
	m_i=0
	while alive "$CLI_PID"; do
		[ $m_i -lt $((BOUND_S * 100)) ] ||
			die "snapshot $m_name did not finish within $BOUND_S s"
		sleep 0.01
		m_i=$((m_i + 1))
	done
	M_MS=$(($(now_ms) - m_t0))
	wait "$CLI_PID"
	M_RC=$?
	CLI_PID=''
	sleep 0.2
	: >"$m_stop"
	wait "$SAMPLER_PID"
	SAMPLER_PID=''
	wait "$PROBE_PID"
	PROBE_PID=''
	M_SAMPLE=$(grep '^SAMPLE ' "$OUT/snapshot-$m_name.sample")
	[ -n "$M_SAMPLE" ] || {
		cat "$OUT/snapshot-$m_name.sample" >&2
		die "the RSS sampler failed during $m_name"
	}
	M_PROBE=$(probe_stats "$OUT/snapshot-$m_name.probe")
	[ "$M_RC" = 0 ] || [ "$m_name" != save ] || {
		cat "$OUT/snapshot-$m_name.log" >&2
		die "snapshot $m_name failed (exit $M_RC)"
	}
}

field () {  # field LINE NAME: the value of NAME=... in LINE
	echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# --- the server

if curl -q -s --noproxy '*' -m 1 -o /dev/null "$BASE/" 2>/dev/null; then
	die "something already listens on $IP:$PORT (an earlier run?)"
fi
if [ -n "${BENCH_DATA_DIR:-}" ]; then
	mkdir -p "$BENCH_DATA_DIR" || exit 1
	DATA=$(mktemp -d "$BENCH_DATA_DIR/snapshot.XXXXXX") || exit 1
else
	DATA=$(mktemp -d "$ROOT/build/snapshot.XXXXXX") || exit 1
fi
FSTYPE=$(df -P -T "$DATA" 2>/dev/null | awk 'NR == 2 { print $2 }')
FSTYPE=${FSTYPE:-unknown}
SNAP=$DATA/bench.snap
T_START=$(now_ms)

"$PROCONSUL" agent -server -bootstrap -data-dir="$DATA/b1" -bind="$IP" \
	-client="$IP" -node=b1 -log-level=info \
	</dev/null >"$OUT/snapshot-agent.log" 2>&1 &
AGENT_PID=$!
wait_up
echo "snapshot: $MODE run, N = $N; data in $DATA ($FSTYPE)" >&2

# --- load N keys

LUA=$OUT/snapshot_load.lua
cat >"$LUA" <<'EOF'
-- generated by bench/snapshot.sh: PUT /v1/kv/bench/<thread>-<i>,
-- i = 1..quota; args: N THREADS MARKER_PREFIX POOL. A thread writes the
-- file MARKER_PREFIX<thread> once it has sent all its PUTs.
local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads)
end

local function mark()
   local f = io.open(marker, "w")
   if f then
      f:write(written, "\n")
      f:close()
   end
end

function init(args)
   local n, nt = tonumber(args[1]), tonumber(args[2])
   marker = args[3] .. tid
   pool_size = tonumber(args[4])
   quota = math.floor(n / nt) + ((tid <= n % nt) and 1 or 0)
   prefix = "/v1/kv/bench/" .. tid .. "-"
   issued, written = 0, 0
   math.randomseed(tid * 7919)
   local a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
   local t = {}
   for i = 1, pool_size do
      local r = math.random(64)
      t[i] = a:sub(r, r)
   end
   pool = table.concat(t)
   hdr = { ["Content-Type"] = "application/octet-stream" }
   idle = wrk.format("GET", "/v1/status/leader")
   if quota == 0 then mark() end
end

function request()
   -- wrk calls thread 1's request() once more, before it starts, to
   -- check the script (script_verify_request): that one is not sent,
   -- so it must not use up a key.
   if tid == 1 and not checked then
      checked = true
      return idle
   end
   if issued >= quota then
      if not marked then
         marked = true
         mark()
      end
      return idle
   end
   issued = issued + 1
   local o = math.random(pool_size - 256)
   return wrk.format("PUT", prefix .. issued, hdr, pool:sub(o, o + 255))
end

-- Once all its PUTs are sent, a connection only polls, 5 times a second.
function delay()
   return issued >= quota and 200 or 0
end

function response(status, headers, body)
   if status == 200 and body == "true" then
      written = written + 1
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   local written = 0
   for _, t in ipairs(threads) do
      written = written + (t:get("written") or 0)
   end
   io.write(string.format(
      "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d " ..
      "errors=%d non2xx=%d written=%d\n",
      summary.requests, summary.duration,
      latency:percentile(50), latency:percentile(99),
      e.connect + e.read + e.write + e.timeout, e.status, written))
end
EOF
rm -f "$OUT"/snapshot-load.*
T0=$(now_ms)
wrk -t"$THREADS" -c"$CONNS" -d"${BOUND_S}s" --timeout 30s -s "$LUA" "$BASE" \
	-- "$N" "$THREADS" "$OUT/snapshot-load." $POOL \
	</dev/null >"$OUT/snapshot-wrk.txt" 2>&1 &
WRK_PID=$!
i=0
marked () {  # marked: how many wrk threads have sent all their PUTs
	m_n=0
	for m_f in "$OUT"/snapshot-load.*; do
		[ -f "$m_f" ] && m_n=$((m_n + 1))
	done
	echo $m_n
}
while [ "$(marked)" -lt "$THREADS" ]; do
	check_agent
	alive "$WRK_PID" || {
		cat "$OUT/snapshot-wrk.txt" >&2
		die "wrk exited before it sent $N PUTs"
	}
	[ $i -lt $((BOUND_S * 10)) ] ||
		die "$N PUTs not sent within $BOUND_S s"
	sleep 0.1
	i=$((i + 1))
done
# The last answers: until N keys are listed, or the count stood still for
# 40 s (wrk gives up on an answer after 30 s).
KEYS=0 prev=-1 still=0 i=0
while [ $i -lt 120 ]; do
	check_agent
	KEYS=$(count_keys) || die "cannot list the keys"
	[ "$KEYS" = "$N" ] && break
	if [ "$KEYS" = "$prev" ]; then
		still=$((still + 1))
		[ $still -lt 8 ] || break
	else
		still=0
	fi
	prev=$KEYS
	sleep 5
	i=$((i + 1))
done
LOAD_MS=$(($(now_ms) - T0))
kill -s INT "$WRK_PID" 2>/dev/null
i=0
while alive "$WRK_PID" && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
stop_pid "$WRK_PID" wrk
WRK_PID=''
LINE=$(grep '^BENCH ' "$OUT/snapshot-wrk.txt")
[ -n "$LINE" ] || {
	cat "$OUT/snapshot-wrk.txt" >&2
	die "wrk printed no result"
}
LOAD_ERRORS=$(field "$LINE" errors)
[ "$(field "$LINE" non2xx)" = 0 ] || die "loading: $LINE"
# A PUT whose connection failed (wrk counts it as a socket error) may
# not have been applied; write the missing keys again, one by one.
REFILLED=0
if [ "$KEYS" != "$N" ]; then
	awk -v n="$N" -v t="$THREADS" 'BEGIN {
		for (i = 1; i <= t; i++) {
			q = int(n / t) + (i <= n % t ? 1 : 0)
			for (j = 1; j <= q; j++) print "bench/" i "-" j
		}
	}' | sort >"$OUT/snapshot-keys.want"
	tr ',' '\n' <"$OUT/snapshot-keys.json" | tr -d '[]"' | sort |
		comm -23 "$OUT/snapshot-keys.want" - >"$OUT/snapshot-keys.missing"
	REFILLED=$(wc -l <"$OUT/snapshot-keys.missing")
	[ "$REFILLED" -le $((N / 100 + 10)) ] ||
		die "$KEYS keys under bench/ after loading, not $N: see $LINE"
	VALUE=$(awk -v n=$VALUE_SIZE 'BEGIN { while (n-- > 0) printf "r" }')
	awk -v base="$BASE" -v v="$VALUE" '{
		print "url = \"" base "/v1/kv/" $1 "\""
		print "request = \"PUT\""
		print "data = \"" v "\""
		print "output = /dev/null"
		print "write-out = \"%{http_code}\\n\""
		print "next"
	}' "$OUT/snapshot-keys.missing" | sed '$d' >"$OUT/snapshot-refill.curlrc"
	curl -q -sS --noproxy '*' -m 300 -K "$OUT/snapshot-refill.curlrc" \
		>"$OUT/snapshot-refill.codes" || die "cannot write the missing keys"
	KEYS=$(count_keys) || die "cannot list the keys"
	echo "snapshot: $REFILLED keys missing after wrk ($LOAD_ERRORS socket" \
		"errors) written again" >&2
fi
[ "$KEYS" = "$N" ] || die "$KEYS keys under bench/ after loading, not $N"
RAW=$(raw_bytes "$N" "$THREADS")
echo "snapshot: $N keys ($RAW bytes of keys and values) written in" \
	"$LOAD_MS ms by $THREADS wrk threads, $CONNS connections" >&2

curl -q -sS --noproxy '*' -m 10 -o "$OUT/snapshot-value.before" \
	"$BASE/v1/kv/$PROBE_KEY?raw" || die "cannot read $PROBE_KEY"
[ "$(wc -c <"$OUT/snapshot-value.before")" = $VALUE_SIZE ] ||
	die "$PROBE_KEY does not hold $VALUE_SIZE bytes"
# What a GET costs when nothing else happens: median of 5.
i=0
while [ $i -lt 5 ]; do
	curl -q -s --noproxy '*' -m 10 -o /dev/null \
		-w '%{http_code} %{time_total}\n' "$BASE/v1/kv/$PROBE_KEY" 2>/dev/null
	i=$((i + 1))
done >"$OUT/snapshot-idle.probe"
GET_IDLE_MS=$(awk '{ print $2 * 1000 }' "$OUT/snapshot-idle.probe" |
	sort -n | awk 'NR == 3 { printf "%.1f", $1 }')

sleep 1
RSS_IDLE=$(rss_stable)
echo "snapshot: agent idle at $RSS_IDLE kB; saving" >&2

# --- save

measured save save -http-addr="$BASE" "$SNAP"
check_agent
SAVE_MS=$M_MS SAVE_SAMPLE=$M_SAMPLE
# shellcheck disable=SC2086
set -- $M_PROBE
SAVE_GETS=$1 SAVE_GET_MAX=$2 SAVE_GET_BAD=$3
[ -f "$SNAP" ] || die "snapshot save left no $SNAP"
ARCHIVE=$(wc -c <"$SNAP")
"$PROCONSUL" snapshot inspect -format=json "$SNAP" \
	>"$OUT/snapshot-inspect.json" 2>&1 ||
	die "snapshot inspect failed: $(cat "$OUT/snapshot-inspect.json")"
# shellcheck disable=SC2046
set -- $(perl -MJSON::PP -e '
	my $j = eval { decode_json(join "", <STDIN>) } or exit 1;
	my ($kvs) = grep { $_->{Name} eq "KVS" } @{$j->{Stats} || []};
	printf "%d %d %d\n", $j->{Meta}{Size}, $j->{Meta}{Index},
		$kvs ? $kvs->{Count} : 0' <"$OUT/snapshot-inspect.json") ||
	die "cannot read snapshot inspect's output"
STATE=$1 SNAP_INDEX=$2 SNAP_KVS=$3
[ "$SNAP_KVS" = "$N" ] || die "snapshot inspect counts $SNAP_KVS KVS, not $N"
echo "snapshot: saved in $SAVE_MS ms: $ARCHIVE bytes, state.bin $STATE" \
	"bytes, index $SNAP_INDEX; $SAVE_SAMPLE" >&2

# --- change something, then restore

code=$(curl -q -s --noproxy '*' -m 10 -X PUT --data-binary overwritten \
	-o /dev/null -w '%{http_code}' "$BASE/v1/kv/$PROBE_KEY" 2>/dev/null)
[ "$code" = 200 ] || die "overwriting $PROBE_KEY answered ${code:-nothing}"
code=$(curl -q -s --noproxy '*' -m 10 -X PUT --data-binary extra \
	-o /dev/null -w '%{http_code}' "$BASE/v1/kv/bench/extra" 2>/dev/null)
[ "$code" = 200 ] || die "writing bench/extra answered ${code:-nothing}"
sleep 0.5
RSS_PRE=$(rss_stable)
echo "snapshot: agent at $RSS_PRE kB; restoring" >&2

measured restore restore -http-addr="$BASE" "$SNAP"
check_agent
RESTORE_MS=$M_MS RESTORE_SAMPLE=$M_SAMPLE
# shellcheck disable=SC2086
set -- $M_PROBE
RESTORE_GETS=$1 RESTORE_GET_MAX=$2 RESTORE_GET_BAD=$3
FAILED=0
RESTORE_ERR=''
if [ "$M_RC" != 0 ]; then
	# Reported in the table; the rest of the run still shows the state.
	RESTORE_ERR=$(grep -m 1 . "$OUT/snapshot-restore.log" | cut -c 1-160)
	echo "snapshot: FAILED: snapshot restore (exit $M_RC): $RESTORE_ERR" >&2
	FAILED=1
fi
SWAP_MS=$(sed -n 's/.*fsm: restore .*: swapped in [0-9]* bytes of state in \([0-9]*\) ms.*/\1/p' \
	"$OUT/snapshot-agent.log" | tail -n 1)
RAFT_SNAPS=$(grep -c 'raft: snapshot taken' "$OUT/snapshot-agent.log")
KEYS_AFTER=$(count_keys) || die "cannot list the keys after the restore"
curl -q -sS --noproxy '*' -m 10 -o "$OUT/snapshot-value.after" \
	"$BASE/v1/kv/$PROBE_KEY?raw" || die "cannot read $PROBE_KEY"
VALUE_OK=no
cmp -s "$OUT/snapshot-value.before" "$OUT/snapshot-value.after" &&
	VALUE_OK=yes
sleep 1
RSS_AFTER=$(rss_stable)
echo "snapshot: restored in $RESTORE_MS ms; $KEYS_AFTER keys, $PROBE_KEY" \
	"restored: $VALUE_OK; agent at $RSS_AFTER kB; $RESTORE_SAMPLE" >&2
[ "$KEYS_AFTER" = "$N" ] || {
	echo "snapshot: FAILED: $KEYS_AFTER keys after the restore, not $N" >&2
	FAILED=1
}
[ $VALUE_OK = yes ] || {
	echo "snapshot: FAILED: $PROBE_KEY does not hold its saved value" >&2
	FAILED=1
}
cleanup
TOTAL_S=$((($(now_ms) - T_START) / 1000))

# --- report

REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- libcore cmd GNUmakefile 2>/dev/null || REV=$REV+dirty
WRKV=$(wrk -v 2>&1 | head -n 1 | awk '{ print $2 }')
S_PMAX=$(field "$SAVE_SAMPLE" parent_max_kb)
S_CMAX=$(field "$SAVE_SAMPLE" child_max_kb)
S_DMAX=$(field "$SAVE_SAMPLE" child_dirty_max_kb)
S_CHILDREN=$(field "$SAVE_SAMPLE" children)
S_CHILD_MS=$(field "$SAVE_SAMPLE" child_ms)
S_SAMPLES=$(field "$SAVE_SAMPLE" samples)
R_PMAX=$(field "$RESTORE_SAMPLE" parent_max_kb)
R_CHILDREN=$(field "$RESTORE_SAMPLE" children)
R_SAMPLES=$(field "$RESTORE_SAMPLE" samples)
S_UP=$((S_PMAX - RSS_IDLE))
[ $S_UP -lt 0 ] && S_UP=0
R_UP=$((R_PMAX - RSS_PRE))
[ $R_UP -lt 0 ] && R_UP=0
R_AMIN=$(field "$RESTORE_SAMPLE" anon_min_kb)
R_AMAX=$(field "$RESTORE_SAMPLE" anon_max_kb)
R_AUP=$((R_AMAX - R_AMIN))
[ $R_AUP -lt 0 ] && R_AUP=0

mib () { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
kib () { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
# of BYTES BASE: BYTES / BASE, 2 decimals
of () {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'
}
row () {  # row FIGURE VALUE BYTES: with the ratios to raw and state.bin
	if [ -n "${3:-}" ]; then
		echo "| $1 | $2 | $(of "$3" "$RAW") | $(of "$3" "$STATE") |"
	else
		echo "| $1 | $2 | - | - |"
	fi
}
if [ "$S_DMAX" -ge 0 ]; then
	DIRTY_CELL=$(kib "$S_DMAX") DIRTY_B=$((S_DMAX * 1024))
else
	DIRTY_CELL="not readable" DIRTY_B=''
fi
SAVE_GET_CELL="$SAVE_GET_MAX ms ($SAVE_GETS GETs, $SAVE_GET_BAD not 200;"
SAVE_GET_CELL="$SAVE_GET_CELL idle $GET_IDLE_MS ms)"
RATE=$(awk -v n="$N" -v ms="$LOAD_MS" 'BEGIN { printf "%.0f", n * 1000 / ms }')

TABLE=$RESULTS/snapshot.md.tmp
{
	echo "### Snapshot benchmark ($MODE run)"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), revision $REV, $NCPU CPU(s)," \
		"wrk $WRKV; one \`proconsul agent -server -bootstrap\` on loopback," \
		"data dir on $FSTYPE; N = $N keys \`bench/<thread>-<i>\` with" \
		"$VALUE_SIZE-byte random base64 values, written by wrk" \
		"($THREADS threads, $CONNS connections)."
	echo "RssAnon is the agent's anonymous memory (heap), without the" \
		"file mappings (spooled upload, staged state) VmRSS also counts." \
		"RSS is VmRSS, sampled every $SAMPLE_MS ms during save and" \
		"restore (the CLI on the same machine). The save child's VmRSS" \
		"counts the pages it shares copy-on-write with the agent; its" \
		"Private_Dirty (smaps_rollup) is what the fork really added." \
		"Ratios: to the raw data (N keys + values) and to state.bin."
	echo
	echo "| figure | value | / raw data | / state.bin |"
	echo "|--------|------:|-----------:|------------:|"
	row "raw data: N keys + values" "$(mib "$RAW")" "$RAW"
	row "load: N PUTs" "$LOAD_MS ms ($RATE keys/s)"
	row "agent RSS idle after loading" "$(kib "$RSS_IDLE")" \
		$((RSS_IDLE * 1024))
	row "save: wall time (CLI, to a verified file)" "$SAVE_MS ms"
	row "save: agent peak RSS over idle" "$(kib "$S_UP")" $((S_UP * 1024))
	row "save: child peak RSS (incl. shared pages)" "$(kib "$S_CMAX")" \
		$((S_CMAX * 1024))
	row "save: child peak Private_Dirty" "$DIRTY_CELL" "$DIRTY_B"
	row "save: slowest GET while saving" "$SAVE_GET_CELL"
	row "archive (.snap, gzip)" "$(mib "$ARCHIVE")" "$ARCHIVE"
	row "state.bin (inspect: Size; KVS $SNAP_KVS)" "$(mib "$STATE")" "$STATE"
	if [ -n "$RESTORE_ERR" ]; then
		row "restore: **failed** after $RESTORE_MS ms" "\`$RESTORE_ERR\`"
	else
		row "restore: wall time (CLI verify + PUT + commit)" \
			"$RESTORE_MS ms"
	fi
	row "restore: state swap at the commit (agent log; loop blocked)" \
		"${SWAP_MS:-?} ms"
	row "restore: agent RSS before" "$(kib "$RSS_PRE")" $((RSS_PRE * 1024))
	row "restore: agent peak RSS over before" "$(kib "$R_UP")" \
		$((R_UP * 1024))
	row "restore: agent anonymous memory (RssAnon) low / peak" \
		"$(kib "$R_AMIN") / $(kib "$R_AMAX")" $((R_AMAX * 1024))
	row "restore: RssAnon peak over its low (the heap beyond one state)" \
		"$(kib "$R_AUP")" $((R_AUP * 1024))
	row "restore: slowest GET while restoring" \
		"$RESTORE_GET_MAX ms ($RESTORE_GETS GETs, $RESTORE_GET_BAD not 200)"
	row "agent RSS after the restore" "$(kib "$RSS_AFTER")" \
		$((RSS_AFTER * 1024))
	echo
	echo "Also: loading had $LOAD_ERRORS wrk socket errors (timeouts of" \
		"30 s included); $REFILLED keys missing after it were written" \
		"again with curl. Save sampled $S_SAMPLES times, $S_CHILDREN child(ren) seen" \
		"for ${S_CHILD_MS} ms; restore sampled $R_SAMPLES times," \
		"$R_CHILDREN child(ren) seen; after the restore $KEYS_AFTER keys," \
		"\`$PROBE_KEY\` back to its saved value: $VALUE_OK;" \
		"$RAFT_SNAPS Raft snapshot(s) taken by the agent (forked, as a" \
		"save); whole run ${TOTAL_S} s."
	if [ $FAILED != 0 ]; then
		echo
		echo "**This run failed** (see the messages on stderr and $OUT/)."
	fi
} >"$TABLE"
if [ "$MODE" = full ]; then
	FILE=$RESULTS/snapshot.md REPORT=$RESULTS/latest.md
else
	FILE=$RESULTS/snapshot-smoke.md REPORT=$RESULTS/smoke.md
fi
mv "$TABLE" "$FILE" || exit 1

# Splice it into the report of the same mode, replacing an earlier
# snapshot section (bench/report.sh).
[ -f "$REPORT" ] && { report_splice snapshot "$FILE" "$REPORT" || exit 1; }
cat "$FILE"
[ $FAILED = 0 ] || exit 1
exit 0
