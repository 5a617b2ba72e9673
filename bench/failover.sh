#!/bin/sh
# failover.sh - how long a three-server cluster with the default timings
# is unavailable for writes after kill -9 of its leader.
#
# Usage: bench/failover.sh [--smoke]   (or BENCH_MODE=smoke|full)
#   full:    10 trials; writes bench/results/failover.md
#   --smoke: 2 trials; writes bench/results/failover-smoke.md (not
#            tracked); proves the harness works, asserts nothing about speed
# Either way the table is also spliced into the mode's KV report
# (bench/results/latest.md or smoke.md) between failover markers.
#
# Cluster: `proconsul agent -server -bootstrap-expect=3` as nodes b1-b3 on
# 127.0.251.1-3 ($BENCH_NET.1-3) with the standard ports (8300, 8301,
# 8500; t/lib.sh reserves 127.0.250 and above for bench/), each
# retry-joining all three every 1s, no timing overrides (election
# timeout 200 ms x raft_multiplier 5). Data dirs
# live in a fresh directory under build/ (the repository's disk, not a
# tmpfs) or under $BENCH_DATA_DIR; it is removed at exit.
#
# One trial: find the leader, kill -9 it, then PUT /v1/kv/bench-failover-<i>
# on a survivor (the server holds it during the election, up to 7 s) and
# retry every 20 ms until a 200 (at most 30 s). Measured from the kill:
# the 200 ("kill -> acknowledged write") and the first time a survivor's
# /v1/status/leader names another server ("kill -> new leader known",
# polled every ~20 ms in the background). Then the killed server restarts
# on its data dir, and the next trial waits until it is a voter again and
# /v1/operator/autopilot/health answers 200.
#
# Exit: 0 ok; 1 a trial or the cluster failed; 2 usage or missing tools.
# Environment: BENCH_MODE, BENCH_TRIALS, BENCH_DATA_DIR (parent of the data
# dirs), BENCH_NET (first three octets), PROCONSUL_BIN_DIR (default bin/)
# or PROCONSUL (the binary itself).
set -u

usage () {
	echo "usage: bench/failover.sh [--smoke]" >&2
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
full) TRIALS=${BENCH_TRIALS:-10} ;;
smoke) TRIALS=${BENCH_TRIALS:-2} ;;
*) usage ;;
esac
case $TRIALS in
'' | *[!0-9]* | 0) usage ;;
esac

cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
# shellcheck source=bench/report.sh
. bench/report.sh
PROCONSUL=${PROCONSUL:-${PROCONSUL_BIN_DIR:-$ROOT/bin}/proconsul}
NET=${BENCH_NET:-127.0.251}
HTTP_PORT=8500
OUT=$ROOT/build/bench
RESULTS=$ROOT/bench/results
TARGET_MS=2000
PUT_BOUND_MS=30000      # give up on one trial's write after this
REJOIN_BOUND_MS=90000   # restart -> voter and healthy
FORM_BOUND_MS=60000     # first leader

# Proxies must never see this traffic.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
NO_PROXY='*'
no_proxy='*'
export NO_PROXY no_proxy

for tool in curl perl awk sort date; do
	command -v $tool >/dev/null 2>&1 || {
		echo "failover: $tool is missing (scripts/deps.sh)" >&2
		exit 2
	}
done
[ -x "$PROCONSUL" ] || {
	echo "failover: no $PROCONSUL (run make)" >&2
	exit 2
}
mkdir -p "$OUT" "$RESULTS" || exit 1

# The timings we do not override, read from the source so that the table
# stays truthful; 5 is the built-in raft_multiplier.
MS_PER_MULT=$(sed -n 's/^#define RAFT_MS_PER_MULT \([0-9][0-9]*\).*/\1/p' \
	libcore/agent.c 2>/dev/null)
MS_PER_MULT=${MS_PER_MULT:-200}
MULT=5
ELECTION_MS=$((MS_PER_MULT * MULT))
HEARTBEAT_MS=$((ELECTION_MS / 10))

now_ms () {
	echo $(($(date +%s%N) / 1000000))
}

# --- processes we start, stopped by PID at exit

PID1='' PID2='' PID3=''
POLL_PID=''
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
		echo "failover: $2 (pid $1) ignored SIGTERM for 10 s; killing it" >&2
		kill -s KILL "$1" 2>/dev/null
	fi
	wait "$1" 2>/dev/null
}

cleanup () {
	stop_pid "$POLL_PID" "leader poller"
	stop_pid "$PID1" b1
	stop_pid "$PID2" b2
	stop_pid "$PID3" b3
	POLL_PID='' PID1='' PID2='' PID3=''
	if [ -n "$DATA" ]; then
		rm -rf "$DATA"
		DATA=
	fi
}
trap 'cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die () {
	echo "failover: $*" >&2
	exit 1
}

pid_of () { eval "echo \${PID$1}"; }

ip_of () { echo "$NET.$1"; }

url () {  # url N PATH
	echo "http://$NET.$1:$HTTP_PORT$2"
}

http () {  # http N PATH [CURL ARGS...]: body on stdout, bounded
	h_n=$1 h_p=$2
	shift 2
	curl -q -sS --noproxy '*' -m 2 "$@" "$(url "$h_n" "$h_p")"
}

# status N PATH: the HTTP status of a GET, "000" if none.
status () {
	curl -q -s --noproxy '*' -m 2 -o /dev/null -w '%{http_code}' \
		"$(url "$1" "$2")" 2>/dev/null || true
}

# --- the cluster

start_server () {  # start_server N: on its data dir, appending to its log
	"$PROCONSUL" agent -server -bootstrap-expect=3 -node="b$1" \
		-bind="$(ip_of "$1")" -client="$(ip_of "$1")" \
		-data-dir="$DATA/b$1" \
		-retry-join="$NET.1" -retry-join="$NET.2" -retry-join="$NET.3" \
		-retry-interval=1s -log-level=warn \
		</dev/null >>"$OUT/failover-b$1.log" 2>&1 &
	eval "PID$1=\$!"
}

check_alive () {  # check_alive N...: each of them still runs
	for c_n in "$@"; do
		alive "$(pid_of "$c_n")" ||
			die "b$c_n exited; see $OUT/failover-b$c_n.log"
	done
}

# leader_of N...: print K if every one of them names $NET.K:8300 leader.
leader_of () {
	l_seen=
	for l_n in "$@"; do
		l_b=$(http "$l_n" /v1/status/leader 2>/dev/null) || return 1
		case $l_b in
		"\"$NET."[123]":8300\"") ;;
		*) return 1 ;;
		esac
		[ -z "$l_seen" ] || [ "$l_seen" = "$l_b" ] || return 1
		l_seen=$l_b
	done
	echo "$l_seen" | sed 's/^"[0-9.]*\.\([123]\):8300"$/\1/'
}

# wait_leader BOUND_MS N...: print the leader all of them agree on.
wait_leader () {
	w_end=$(($(now_ms) + $1))
	shift
	w_i=0
	while [ $w_i -lt 2000 ]; do
		check_alive "$@"
		leader_of "$@" && return 0
		[ "$(now_ms)" -lt $w_end ] || break
		sleep 0.1
		w_i=$((w_i + 1))
	done
	return 1
}

# voter_healthy N VIA: N is a voter in the Raft configuration and the
# autopilot health answers 200, both asked of server VIA (answered by the
# leader).
voter_healthy () {
	v_cfg=$(http "$2" /v1/operator/raft/configuration 2>/dev/null) ||
		return 1
	echo "$v_cfg" | perl -MJSON::PP -e '
		my $j = eval { decode_json(join "", <STDIN>) } or exit 1;
		exit !grep { $_->{Node} eq $ARGV[0] && $_->{Voter} }
			@{$j->{Servers} || []}' "b$1" || return 1
	[ "$(status "$2" /v1/operator/autopilot/health)" = 200 ]
}

# --- one trial

# poll_leader OLD T0 FILE N...: in the background, write "MS K" to FILE
# once one of the servers N names leader a server other than OLD.
poll_leader () {
	p_old=$1 p_t0=$2 p_file=$3
	shift 3
	p_i=0
	while [ $p_i -lt 1500 ]; do
		for p_n in "$@"; do
			p_b=$(curl -q -s --noproxy '*' -m 1 \
				"$(url "$p_n" /v1/status/leader)" 2>/dev/null)
			case $p_b in
			"\"$NET.$p_old:8300\"") ;;
			"\"$NET."[123]":8300\"")
				p_ms=$(now_ms)
				echo "$((p_ms - p_t0)) $p_b" >"$p_file"
				exit 0 ;;
			esac
		done
		[ $(($(now_ms) - p_t0)) -lt $PUT_BOUND_MS ] || exit 1
		sleep 0.02
		p_i=$((p_i + 1))
	done
	exit 1
}

# put_until_ok N KEY T0: PUT KEY on server N until a 200 with body true;
# print "MS ATTEMPTS" (MS since T0).
put_until_ok () {
	u_i=0
	while [ $u_i -lt 1500 ]; do
		u_i=$((u_i + 1))
		u_code=$(curl -q -s --noproxy '*' -m 10 -X PUT --data-binary "$2" \
			-o "$OUT/failover-put.body" -w '%{http_code}' \
			"$(url "$1" "/v1/kv/$2")" 2>/dev/null)
		u_ms=$(now_ms)
		if [ "$u_code" = 200 ]; then
			[ "$(cat "$OUT/failover-put.body")" = true ] || {
				echo "failover: PUT $2 answered 200 but not true" >&2
				return 1
			}
			echo "$((u_ms - $3)) $u_i"
			return 0
		fi
		[ $((u_ms - $3)) -lt $PUT_BOUND_MS ] || break
		sleep 0.02
	done
	echo "failover: PUT $2 on b$1: no 200 within $PUT_BOUND_MS ms" \
		"(last status ${u_code:-none})" >&2
	return 1
}

# trial I: one kill and recovery; appends "I KILLED NEW WRITE_MS
# LEADER_MS ATTEMPTS" to $ROWS.
trial () {
	old=$(wait_leader 30000 1 2 3) ||
		die "trial $1: no leader agreed on by b1-b3 within 30 s"
	# shellcheck disable=SC2046
	set -- "$1" $(for n in 1 2 3; do [ $n = "$old" ] || echo $n; done)
	# $2 takes the writes, $3 is the other survivor.
	kpid=$(pid_of "$old")
	rm -f "$OUT/failover-leader"
	kill -s KILL "$kpid" || die "trial $1: cannot kill b$old (pid $kpid)"
	t0=$(now_ms)
	poll_leader "$old" "$t0" "$OUT/failover-leader" "$2" "$3" &
	POLL_PID=$!
	put=$(put_until_ok "$2" "bench-failover-$1" "$t0") ||
		die "trial $1: no acknowledged write after kill -9 of b$old"
	wait "$POLL_PID"
	prc=$?
	POLL_PID=
	wait "$kpid" 2>/dev/null
	eval "PID$old="
	if [ $prc != 0 ] || [ ! -s "$OUT/failover-leader" ]; then
		die "trial $1: no survivor named a new leader within $PUT_BOUND_MS ms"
	fi
	# shellcheck disable=SC2046,SC2086
	set -- "$1" "$old" "$2" "$3" $put $(cat "$OUT/failover-leader")
	# $1 trial, $2 killed, $3 $4 survivors, $5 write ms, $6 attempts,
	# $7 leader ms, $8 new leader address
	new=$(echo "$8" | sed 's/^"[0-9.]*\.\([123]\):8300"$/\1/')
	echo "$1 $2 $new $5 $7 $6" >>"$ROWS"
	echo "failover: trial $1: killed b$2, b$new leads;" \
		"write acknowledged after $5 ms ($6 request(s))," \
		"new leader known after $7 ms" >&2
	killed=$2
	via=$3
}

# rejoin N VIA: restart N on its data dir; wait until it is a voter and
# the cluster is healthy.
rejoin () {
	start_server "$1"
	r_end=$(($(now_ms) + REJOIN_BOUND_MS))
	r_i=0
	while [ $r_i -lt 1000 ]; do
		check_alive 1 2 3
		voter_healthy "$1" "$2" && return 0
		[ "$(now_ms)" -lt $r_end ] || break
		sleep 0.1
		r_i=$((r_i + 1))
	done
	die "b$1 is not a healthy voter again within $((REJOIN_BOUND_MS / 1000)) s"
}

# --- run

for n in 1 2 3; do
	if curl -q -s --noproxy '*' -m 1 -o /dev/null "$(url $n /)" 2>/dev/null
	then
		die "something already listens on $NET.$n:$HTTP_PORT (an earlier run?)"
	fi
done

if [ -n "${BENCH_DATA_DIR:-}" ]; then
	mkdir -p "$BENCH_DATA_DIR" || exit 1
	DATA=$(mktemp -d "$BENCH_DATA_DIR/failover.XXXXXX") || exit 1
else
	DATA=$(mktemp -d "$ROOT/build/failover.XXXXXX") || exit 1
fi
FSTYPE=$(df -P -T "$DATA" 2>/dev/null | awk 'NR == 2 { print $2 }')
FSTYPE=${FSTYPE:-unknown}
ROWS=$OUT/failover-rows.txt
: >"$ROWS"
for n in 1 2 3; do
	: >"$OUT/failover-b$n.log"
done

echo "failover: $MODE run, $TRIALS trial(s); data in $DATA ($FSTYPE)" >&2
T_START=$(now_ms)
start_server 1
start_server 2
start_server 3
wait_leader $FORM_BOUND_MS 1 2 3 >/dev/null ||
	die "no leader within $((FORM_BOUND_MS / 1000)) s; see $OUT/failover-b*.log"
echo "failover: leader elected $(($(now_ms) - T_START)) ms after start" >&2

i=1
while [ $i -le "$TRIALS" ]; do
	trial $i
	if [ $i -lt "$TRIALS" ]; then
		r0=$(now_ms)
		rejoin "$killed" "$via"
		echo "failover: b$killed restarted, a healthy voter again" \
			"after $(($(now_ms) - r0)) ms" >&2
	fi
	i=$((i + 1))
done
cleanup

# --- report

# stats COLUMN: "median p90 max" of that column of $ROWS (p90: nearest
# rank).
stats () {
	awk -v c="$1" '{ print $c }' "$ROWS" | sort -n | awk '
		{ v[NR] = $1 }
		END {
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			r = int(0.9 * NR); if (r < 0.9 * NR) r++
			printf "%d %d %d\n", m, v[r], v[NR]
		}'
}

REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
# The binary may hold uncommitted changes; say so.
git diff --quiet HEAD -- libcore cmd GNUmakefile 2>/dev/null || REV=$REV+dirty
NCPU=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
# shellcheck disable=SC2046
set -- $(stats 4)
W_MED=$1 W_P90=$2 W_MAX=$3
# shellcheck disable=SC2046
set -- $(stats 5)
L_MED=$1 L_P90=$2 L_MAX=$3
ratio () { awk -v a="$1" -v b=$TARGET_MS 'BEGIN { printf "%.2f", a / b }'; }

TABLE=$RESULTS/failover.md.tmp
{
	echo "### Failover benchmark ($MODE run)"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), revision $REV, $NCPU CPU(s);" \
		"3 servers on loopback, data dirs on $FSTYPE; default timings:" \
		"election timeout ${ELECTION_MS} ms (${MS_PER_MULT} ms x" \
		"raft_multiplier $MULT), heartbeat ${HEARTBEAT_MS} ms."
	echo "Each trial kills the leader with kill -9 and times, from the kill," \
		"the first acknowledged PUT sent to a survivor and the first" \
		"/v1/status/leader on a survivor naming another server." \
		"Target: median write failover <= $TARGET_MS ms. Times in ms."
	echo
	row='| %s | %s | %s | %s | %s | %s |\n'
	# shellcheck disable=SC2059
	printf "$row" "kill -9 of the leader ->" trials median p90 max \
		"median / $TARGET_MS ms"
	echo "|--------------------------|-------:|-------:|----:|----:|----------:|"
	# shellcheck disable=SC2059
	printf "$row" "acknowledged write" "$TRIALS" "$W_MED" "$W_P90" \
		"$W_MAX" "$(ratio "$W_MED")"
	# shellcheck disable=SC2059
	printf "$row" "new leader known" "$TRIALS" "$L_MED" "$L_P90" \
		"$L_MAX" "$(ratio "$L_MED")"
	echo
	echo "Per trial (killed -> new leader: write ms, leader ms, PUTs sent):" \
		"$(awk '{ printf "%sb%s->b%s: %d, %d, %d", (NR > 1 ? "; " : ""),
			$2, $3, $4, $5, $6 }' "$ROWS")."
} >"$TABLE"
if [ "$MODE" = full ]; then
	FILE=$RESULTS/failover.md REPORT=$RESULTS/latest.md
else
	FILE=$RESULTS/failover-smoke.md REPORT=$RESULTS/smoke.md
fi
mv "$TABLE" "$FILE" || exit 1

# Splice it into the report of the same mode, replacing an earlier
# failover section (bench/report.sh).
[ -f "$REPORT" ] && { report_splice failover "$FILE" "$REPORT" || exit 1; }
cat "$FILE"
exit 0
