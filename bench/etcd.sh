#!/bin/sh
# etcd.sh - a three-server Proconsul cluster next to a three-member etcd
# 3.4 cluster, driven by the same load generator, with the machine's
# limits measured in the same run.
#
# Usage: bench/etcd.sh [--smoke]   (or BENCH_MODE=smoke|full)
#   full:    N = 1000000 keys, 10 s per load cell, 10 failover trials;
#            writes bench/results/etcd.md and etcd.png, splices the table
#            into bench/results/latest.md and README.md (etcd markers)
#   --smoke: N = 2000, 1 s cells, 1 trial, no settling sleeps, the keys
#            loaded into the clusters already running (no second fresh
#            start), an etcd member not stopped within 1 s is killed;
#            writes etcd-smoke.md (not tracked); proves the harness
#            works, asserts nothing about speed. Without etcd
#            installed it runs the Proconsul side only and says so.
#
# Clusters (loopback, data dirs in one fresh directory under build/, the
# repository's disk, or under $BENCH_DATA_DIR; removed at exit):
#   Proconsul: `agent -server -bootstrap-expect=3` p1-p3 on
#     127.0.251.11-13 (standard ports; t/lib.sh reserves 127.0.250 and
#     above for bench/, failover.sh uses 127.0.251.1-3), default timings:
#     election timeout 1000 ms, heartbeat 100 ms.
#   etcd: e1-e3 on 127.0.252.11-13, ports 2379/2380 (blocking.sh uses
#     127.0.252.1), --heartbeat-interval=100 --election-timeout=1000,
#     driven through its v3 HTTP/JSON gateway (/v3/kv/put, /v3/kv/range:
#     base64 keys and values in JSON, a grpc-gateway hop inside etcd that
#     its native gRPC clients do not pay). Debian's etcd-client has
#     etcdctl but not etcd's `benchmark` tool, so there is no native-client
#     load figure; etcdctl is used for snapshot save and restore.
#
# Figures, in this order:
#   1. limits: fio fdatasync rate of 4 KiB writes on the data disk, and
#      bench/nullhttpd (a do-nothing libh2o/libuv server) under wrk.
#   2. RSS of each server idle (VmRSS, max of the three).
#   3. PUT (a new key per request, 256-byte values) to the leader at
#      BENCH_CONNS connections: ops/s, p50, p99 (wrk, bench/kv_put.lua
#      and bench/etcd_kv.lua).
#   4. GET of 100 keys at BENCH_GET_CONNS connections on the leader and
#      on a follower: Proconsul default, ?stale, ?consistent; etcd
#      serializable and linearizable (default and ?consistent are both
#      compared with linearizable, ?stale with serializable).
#   5. Failover: TRIALS x kill -9 of the leader, time to the first
#      acknowledged write to a survivor (a new attempt every 100 ms, each
#      waiting up to 10 s; those still outstanding at the first
#      acknowledgment are stopped); the killed server restarts on its
#      data dir before the next trial.
#   6. Fresh clusters: load N/10 keys, RSS; load up to N, RSS (wrk,
#      bench/kv_load.lua, 64 connections).
#   7. Snapshot save on the leader (`proconsul snapshot save`, `etcdctl
#      snapshot save`); stop all three and time a start on the same data
#      dirs until a consistent read answers; then the restore: Proconsul
#      `snapshot restore` into the running cluster, etcd `etcdctl
#      snapshot restore` of each member's data dir and a start, until a
#      linearizable read answers; RSS after it once settled (within 2%
#      over 2 s, at most 30 s).
# The load average is recorded at the start and the end.
#
# Exit: 0 ok; 1 a server, a load or a step failed; 2 usage or missing
# tools.
# Environment: BENCH_MODE, BENCH_N, BENCH_DURATION, BENCH_CONNS,
# BENCH_GET_CONNS, BENCH_TRIALS, BENCH_DATA_DIR, PROCONSUL (default
# bin/proconsul), ETCD, ETCDCTL, CC.
set -u

usage () {
	echo "usage: bench/etcd.sh [--smoke]" >&2
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
full)
	N=${BENCH_N:-1000000} DURATION=${BENCH_DURATION:-10}
	CONNS=${BENCH_CONNS:-"1 16 64"} GET_CONNS=${BENCH_GET_CONNS:-16}
	TRIALS=${BENCH_TRIALS:-10} FIO_SIZE=16m BOUND_S=1800 SETTLE=3
	STOP_TENTHS=30 ;;
smoke)
	N=${BENCH_N:-2000} DURATION=${BENCH_DURATION:-1}
	CONNS=${BENCH_CONNS:-16} GET_CONNS=${BENCH_GET_CONNS:-16}
	TRIALS=${BENCH_TRIALS:-1} FIO_SIZE=1m BOUND_S=60 SETTLE=0
	STOP_TENTHS=10 ;;
*) usage ;;
esac
for v in "$N" "$DURATION" "$TRIALS" $CONNS $GET_CONNS; do
	case $v in
	'' | *[!0-9]* | 0) usage ;;
	esac
done
[ "$N" -ge 10 ] || usage

cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
# shellcheck source=bench/report.sh
. bench/report.sh
PROCONSUL=${PROCONSUL:-$ROOT/bin/proconsul}
ETCD=${ETCD:-etcd}
ETCDCTL=${ETCDCTL:-etcdctl}
PNET=127.0.251
ENET=127.0.252
NULL_IP=127.0.250.3
OUT=$ROOT/build/bench
RESULTS=$ROOT/bench/results
NKEYS=100
LOAD_CONNS=64
ELECTION_MS=1000
HEARTBEAT_MS=100

# Proxies must never see this traffic.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
NO_PROXY='*'
no_proxy='*'
export NO_PROXY no_proxy
LC_ALL=C
export LC_ALL
ETCDCTL_API=3
export ETCDCTL_API

for tool in wrk curl perl awk sort date make cc pkg-config pgrep; do
	command -v $tool >/dev/null 2>&1 || {
		echo "etcd: $tool is missing (scripts/deps.sh --bench)" >&2
		exit 2
	}
done
[ -x "$PROCONSUL" ] || { echo "etcd: no $PROCONSUL (run make)" >&2; exit 2; }
HAVE_ETCD=1
if ! command -v "$ETCD" >/dev/null 2>&1 ||
   ! command -v "$ETCDCTL" >/dev/null 2>&1; then
	[ "$MODE" = smoke ] || {
		echo "etcd: etcd or etcdctl is missing (scripts/deps.sh --bench)" >&2
		exit 2
	}
	echo "etcd: etcd is not installed (scripts/deps.sh --bench installs" \
		"etcd-server and etcd-client): SKIPPING the etcd side of the smoke run" >&2
	HAVE_ETCD=0
fi
HAVE_FIO=1
command -v fio >/dev/null 2>&1 || HAVE_FIO=0
[ $HAVE_FIO = 1 ] || [ "$MODE" = smoke ] || {
	echo "etcd: fio is missing (scripts/deps.sh --bench)" >&2
	exit 2
}
NCPU=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
mkdir -p "$OUT" "$RESULTS" || exit 1

now_ms () { echo $(($(date +%s%N) / 1000000)); }
loadavg () { cut -d' ' -f1-3 /proc/loadavg; }
phase () { echo "etcd: +$((($(now_ms) - T_START) / 1000)) s: $*" >&2; }

FAILED=0
fail () {  # fail MSG: note a failed step, go on
	echo "etcd: FAILED: $*" >&2
	FAILED=1
}
die () {
	echo "etcd: $*" >&2
	exit 1
}

# --- processes we start, stopped by PID at exit

P1='' P2='' P3='' E1='' E2='' E3='' NULL_PID='' WRK_PID=''
DATA=

alive () {  # alive PID: running, not a zombie
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
	! sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | grep -q '^Z'
}

# stop_pid PID NAME [TENTHS]: TERM, bounded wait (10 s), then KILL
stop_pid () {
	[ -n "$1" ] || return 0
	kill -s TERM "$1" 2>/dev/null || { wait "$1" 2>/dev/null; return 0; }
	s_i=0
	while [ $s_i -lt "${3:-100}" ] && alive "$1"; do
		sleep 0.1
		s_i=$((s_i + 1))
	done
	if alive "$1"; then
		echo "etcd: $2 (pid $1) ignored SIGTERM for $((${3:-100} / 10)) s;" \
			"killing it" >&2
		kill -s KILL "$1" 2>/dev/null
	fi
	wait "$1" 2>/dev/null
}

stop_cluster () {  # stop_cluster p|e: TERM all three, then wait for each
	for c_n in 1 2 3; do
		c_p=$(pid_of "$1" "$c_n")
		[ -z "$c_p" ] || kill -s TERM "$c_p" 2>/dev/null
	done
	# An etcd leader told to stop while its followers stop too can spend
	# 10 s trying to hand over; both fsync each commit, so a KILL after
	# 3 s (1 s in a smoke run) loses nothing the next start needs.
	for c_n in 1 2 3; do
		stop_pid "$(pid_of "$1" "$c_n")" "$1$c_n" $STOP_TENTHS
		eval "$(echo "$1" | tr pe PE)$c_n=''"
	done
}

cleanup () {
	stop_pid "$WRK_PID" wrk
	stop_pid "$NULL_PID" nullhttpd
	WRK_PID='' NULL_PID=''
	# The data dirs go next: no need for a clean shutdown (which can take
	# 10 s when all three leave at once).
	for c_p in "$P1" "$P2" "$P3" "$E1" "$E2" "$E3"; do
		[ -z "$c_p" ] || kill -s KILL "$c_p" 2>/dev/null
	done
	stop_cluster p
	stop_cluster e
	if [ -n "$DATA" ]; then
		rm -rf "$DATA"
		DATA=
	fi
}
trap 'cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pid_of () { eval "echo \${$(echo "$1" | tr pe PE)$2}"; }

# --- the two clusters

pip () { echo "$PNET.1$1"; }
eip () { echo "$ENET.1$1"; }
purl () { echo "http://$(pip "$1"):8500${2:-}"; }
eurl () { echo "http://$(eip "$1"):2379${2:-}"; }

start_p () {  # start_p N: on its data dir, appending to its log
	"$PROCONSUL" agent -server -bootstrap-expect=3 -node="p$1" \
		-bind="$(pip "$1")" -client="$(pip "$1")" \
		-data-dir="$DATA/p$1" \
		-retry-join="$(pip 1)" -retry-join="$(pip 2)" \
		-retry-join="$(pip 3)" -retry-interval=1s -log-level=warn \
		</dev/null >>"$OUT/etcd-p$1.log" 2>&1 &
	eval "P$1=\$!"
}

start_e () {  # start_e N [DATADIR]
	"$ETCD" --name="e$1" --data-dir="${2:-$DATA/e$1}" \
		--listen-client-urls="$(eurl "$1")" \
		--advertise-client-urls="$(eurl "$1")" \
		--listen-peer-urls="http://$(eip "$1"):2380" \
		--initial-advertise-peer-urls="http://$(eip "$1"):2380" \
		--initial-cluster="$ECLUSTER" --initial-cluster-state=new \
		--initial-cluster-token=proconsul-bench \
		--heartbeat-interval=$HEARTBEAT_MS --election-timeout=$ELECTION_MS \
		--quota-backend-bytes=8589934592 \
		--logger=zap --log-outputs=stderr --log-level=warn \
		</dev/null >>"$OUT/etcd-e$1.log" 2>&1 &
	eval "E$1=\$!"
}
ECLUSTER="e1=http://$ENET.11:2380,e2=http://$ENET.12:2380,e3=http://$ENET.13:2380"

check_alive () {  # check_alive p|e: all three run
	for a_n in 1 2 3; do
		alive "$(pid_of "$1" "$a_n")" ||
			die "$1$a_n exited; see $OUT/etcd-$1$a_n.log"
	done
}

# b64 STRING: base64 without a newline.
b64 () { printf '%s' "$1" | base64 -w 0; }

# eapi N PATH JSON: POST to etcd's gateway; body on stdout.
eapi () {
	curl -q -sS --noproxy '*' -m 10 -X POST -H 'Content-Type: application/json' \
		--data-binary "$3" "$(eurl "$1" "$2")"
}

# leader_p / leader_e: print the leader's number (1-3), or fail.
leader_p () {
	l_seen=''
	for l_n in 1 2 3; do
		alive "$(pid_of p "$l_n")" || continue
		l_b=$(curl -q -s --noproxy '*' -m 2 "$(purl "$l_n" /v1/status/leader)") ||
			return 1
		case $l_b in
		"\"$PNET.1"[123]":8300\"") ;;
		*) return 1 ;;
		esac
		[ -z "$l_seen" ] || [ "$l_seen" = "$l_b" ] || return 1
		l_seen=$l_b
	done
	echo "$l_seen" | sed 's/^"[0-9.]*\.1\([123]\):8300"$/\1/'
}
leader_e () {
	for l_n in 1 2 3; do
		alive "$(pid_of e "$l_n")" || continue
		eapi "$l_n" /v3/maintenance/status '{}' 2>/dev/null |
			perl -MJSON::PP -e '
				my $j = eval { decode_json(join "", <STDIN>) } or exit 1;
				exit 1 unless $j->{leader} && $j->{header}{member_id};
				exit !($j->{leader} eq $j->{header}{member_id})' &&
			{ echo "$l_n"; return 0; }
	done
	return 1
}

# wait_leader p|e BOUND_MS: print the leader once there is one.
wait_leader () {
	w_end=$(($(now_ms) + $2))
	while :; do
		check_alive "$1"
		"leader_$1" && return 0
		[ "$(now_ms)" -lt $w_end ] || return 1
		sleep 0.1
	done
}

# healthy_p / healthy_e N: N is back in a healthy cluster.
healthy_p () {
	h_via=$(leader_p) || return 1
	curl -q -s --noproxy '*' -m 2 "$(purl "$h_via" /v1/operator/raft/configuration)" |
		perl -MJSON::PP -e '
			my $j = eval { decode_json(join "", <STDIN>) } or exit 1;
			exit !grep { $_->{Node} eq $ARGV[0] && $_->{Voter} }
				@{$j->{Servers} || []}' "p$1" || return 1
	[ "$(curl -q -s --noproxy '*' -m 2 -o /dev/null -w '%{http_code}' \
		"$(purl "$h_via" /v1/operator/autopilot/health)")" = 200 ]
}
healthy_e () {
	for h_n in 1 2 3; do
		curl -q -s --noproxy '*' -m 2 "$(eurl "$h_n" /health)" 2>/dev/null |
			grep -q '"health":"true"' || return 1
	done
}

# put_p / put_e N KEY VALUE: one write; the HTTP status on stdout
# (200 only if acknowledged).
put_p () {
	p_c=$(curl -q -s --noproxy '*' -m 10 -X PUT --data-binary "$3" \
		-o "${PUT_BODY:-$OUT/etcd-put.body}" -w '%{http_code}' "$(purl "$1" "/v1/kv/$2")")
	[ "$p_c" = 200 ] && [ "$(cat "${PUT_BODY:-$OUT/etcd-put.body}")" != true ] && p_c=500
	echo "${p_c:-000}"
}
put_e () {
	p_c=$(curl -q -s --noproxy '*' -m 10 -X POST \
		-H 'Content-Type: application/json' -o "${PUT_BODY:-$OUT/etcd-put.body}" \
		-w '%{http_code}' --data-binary \
		"{\"key\":\"$(b64 "$2")\",\"value\":\"$(b64 "$3")\"}" \
		"$(eurl "$1" /v3/kv/put)")
	[ "$p_c" = 200 ] && ! grep -q '"header"' "${PUT_BODY:-$OUT/etcd-put.body}" && p_c=500
	echo "${p_c:-000}"
}

# read_p / read_e N KEY: a consistent (linearizable) read answered 200
# with a value.
read_p () {
	[ "$(curl -q -s --noproxy '*' -m 5 -o /dev/null -w '%{http_code}' \
		"$(purl "$1" "/v1/kv/$2?consistent")")" = 200 ]
}
read_e () {
	eapi "$1" /v3/kv/range "{\"key\":\"$(b64 "$2")\"}" 2>/dev/null |
		grep -q '"kvs"'
}

# rss_kb p|e: "MAX SUM" VmRSS (kB) of the three servers.
rss_kb () {
	r_max=0 r_sum=0
	for r_n in 1 2 3; do
		r_v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$(pid_of "$1" "$r_n")/status" \
			2>/dev/null)
		r_v=${r_v:-0}
		r_sum=$((r_sum + r_v))
		[ "$r_v" -gt $r_max ] && r_max=$r_v
	done
	echo "$r_max $r_sum"
}

# rss_settled_kb p|e: rss_kb once the largest server's VmRSS has moved
# by less than 2% over the last two 1 s samples (at most 30 s). After a
# restore, Proconsul's servers first snapshot the new state, and only
# when that snapshot is written does libraft drop the restore's pieces
# from memory (several seconds with a million keys).
rss_settled_kb () {
	rs_prev=$(rss_kb "$1")
	[ "$SETTLE" = 0 ] && { echo "$rs_prev"; return; } # smoke run
	rs_calm=0
	rs_i=0
	while [ $rs_i -lt 30 ] && [ $rs_calm -lt 2 ]; do
		sleep 1
		rs_now=$(rss_kb "$1")
		rs_a=${rs_prev%% *} rs_b=${rs_now%% *}
		if [ $((rs_a > rs_b ? rs_a - rs_b : rs_b - rs_a)) -le $((rs_a / 50)) ]; then
			rs_calm=$((rs_calm + 1))
		else
			rs_calm=0
		fi
		rs_prev=$rs_now
		rs_i=$((rs_i + 1))
	done
	echo "$rs_prev"
}

# start_clusters: fresh data dirs, both clusters, wait for leaders.
start_clusters () {
	rm -rf "$DATA/p1" "$DATA/p2" "$DATA/p3" "$DATA/e1" "$DATA/e2" "$DATA/e3"
	for n in 1 2 3; do start_p $n; done
	if [ $HAVE_ETCD = 1 ]; then
		for n in 1 2 3; do start_e $n; done
	fi
	wait_leader p 60000 >/dev/null ||
		die "Proconsul: no leader within 60 s; see $OUT/etcd-p*.log"
	[ $HAVE_ETCD = 0 ] || wait_leader e 60000 >/dev/null ||
		die "etcd: no leader within 60 s; see $OUT/etcd-e*.log"
}

# --- records: "KEY VALUE..." lines in $REC, read back by the report

REC=$OUT/etcd-rec.txt
rec () { echo "$*" >>"$REC"; }
get () { awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' "$REC"; }

# wrk_one NAME URL SCRIPT CONNS ARGS...: run wrk for DURATION; record
# "NAME rps p50_us p99_us" (zeros and a failure if wrk failed or any
# request failed).
wrk_one () {
	o_name=$1 o_url=$2 o_script=$3 o_c=$4
	shift 4
	o_t=$o_c
	[ "$o_t" -gt "$NCPU" ] && o_t=$NCPU
	o_log=$OUT/etcd-wrk-$o_name.txt
	echo "etcd: +$((($(now_ms) - T_START) / 1000)) s: $o_name: ${DURATION}s," \
		"$o_c connection(s)" >&2
	timeout $((DURATION + 60)) wrk -t"$o_t" -c"$o_c" -d"${DURATION}s" \
		--timeout 5s -s "$o_script" "$o_url" -- "$@" >"$o_log" 2>&1
	o_rc=$?
	o_line=$(grep '^BENCH ' "$o_log")
	if [ $o_rc != 0 ] || [ -z "$o_line" ]; then
		fail "wrk $o_name (exit $o_rc); see $o_log"
		rec "$o_name 0 0 0"
		return 0
	fi
	echo "$o_line" | awk -v name="$o_name" '{
		for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		print name, v["rps"], v["p50_us"], v["p99_us"]
		if (v["errors"] + v["non2xx"] > 0 || v["requests"] == 0)
			print "FAIL " name ": " $0
	}' >"$OUT/etcd-one.txt"
	grep -v '^FAIL ' "$OUT/etcd-one.txt" >>"$REC"
	if grep -q '^FAIL ' "$OUT/etcd-one.txt"; then
		fail "$(grep '^FAIL ' "$OUT/etcd-one.txt" | cut -c 6-)"
	fi
}

# ======================================================================

for n in 1 2 3; do
	for u in "$(purl $n /)" "$(eurl $n /health)"; do
		if curl -q -s --noproxy '*' -m 1 -o /dev/null "$u" 2>/dev/null; then
			die "something already listens at $u (an earlier run?)"
		fi
	done
done
if [ -n "${BENCH_DATA_DIR:-}" ]; then
	mkdir -p "$BENCH_DATA_DIR" || exit 1
	DATA=$(mktemp -d "$BENCH_DATA_DIR/etcd.XXXXXX") || exit 1
else
	DATA=$(mktemp -d "$ROOT/build/etcd.XXXXXX") || exit 1
fi
FSTYPE=$(df -P -T "$DATA" 2>/dev/null | awk 'NR == 2 { print $2 }')
FSTYPE=${FSTYPE:-unknown}
: >"$REC"
for n in 1 2 3; do
	: >"$OUT/etcd-p$n.log"
	: >"$OUT/etcd-e$n.log"
done
T_START=$(now_ms)
LOAD_START=$(loadavg)
echo "etcd: $MODE run, N = $N; data in $DATA ($FSTYPE); load average $LOAD_START" >&2

# --- 1. limits
phase limits

if [ $HAVE_FIO = 1 ]; then
	mkdir -p "$DATA/fio"
	fio --name=fsync --rw=write --bs=4k --size=$FIO_SIZE --fdatasync=1 \
		--directory="$DATA/fio" --output-format=json \
		>"$OUT/etcd-fio.json" 2>"$OUT/etcd-fio.err" ||
		fail "fio; see $OUT/etcd-fio.err"
	# shellcheck disable=SC2046
	set -- $(perl -MJSON::PP -e '
		my $j = eval { decode_json(join "", <STDIN>) } or exit 1;
		my $w = $j->{jobs}[0]{write};
		my $s = $j->{jobs}[0]{sync}{lat_ns}{percentile} || {};
		printf "%.0f %.0f %.0f\n", $w->{iops},
			($s->{"50.000000"} || 0) / 1000, ($s->{"99.000000"} || 0) / 1000
	' <"$OUT/etcd-fio.json" 2>/dev/null)
	rec "fio ${1:-0} ${2:-0} ${3:-0}"
	rm -rf "$DATA/fio"
else
	echo "etcd: fio is not installed: no fdatasync figure" >&2
	rec "fio 0 0 0"
fi

# GNUmakefile's rule builds it (up to date: nothing to do).
NULLHTTPD=$OUT/nullhttpd
make -s build/bench/nullhttpd || die "cannot build nullhttpd"
"$NULLHTTPD" $NULL_IP 8500 </dev/null >"$OUT/etcd-nullhttpd.log" 2>&1 &
NULL_PID=$!
i=0
until curl -q -s --noproxy '*' -m 1 -o /dev/null "http://$NULL_IP:8500/"; do
	alive "$NULL_PID" || die "nullhttpd exited; see $OUT/etcd-nullhttpd.log"
	[ $i -lt 100 ] || die "nullhttpd did not come up"
	sleep 0.1
	i=$((i + 1))
done
for c in $(echo "$CONNS $GET_CONNS" | tr ' ' '\n' | sort -un); do
	wrk_one "null-$c" "http://$NULL_IP:8500" bench/kv_get.lua "$c" $NKEYS
done
stop_pid "$NULL_PID" nullhttpd
NULL_PID=''

# --- 2. idle RSS
phase starting the clusters

start_clusters
sleep $SETTLE
rec "rss-idle-p $(rss_kb p)"
[ $HAVE_ETCD = 0 ] || rec "rss-idle-e $(rss_kb e)"

# --- 3. PUT on the leader
phase PUT

PL=$(leader_p) || die "Proconsul: no leader"
[ $HAVE_ETCD = 0 ] || { EL=$(leader_e) || die "etcd: no leader"; }
RUN_ID=$(date +%s)
for c in $CONNS; do
	wrk_one "put-p-$c" "$(purl "$PL")" bench/kv_put.lua "$c" "$RUN_ID-$c"
	[ $HAVE_ETCD = 0 ] ||
		wrk_one "put-e-$c" "$(eurl "$EL")" bench/etcd_kv.lua "$c" put "$RUN_ID-$c"
done
check_alive p
[ $HAVE_ETCD = 0 ] || check_alive e

# --- 4. GET modes, leader and follower
phase GET

# The key set bench/get/0..NKEYS-1, 256-byte values, one curl per system.
for s in p e; do
	[ $s = e ] && [ $HAVE_ETCD = 0 ] && continue
	i=0
	while [ $i -lt $NKEYS ]; do
		[ $i = 0 ] || echo next
		v=$(printf "%0256d" $i)
		echo 'output = /dev/null'
		echo 'write-out = "%{http_code}\n"'
		if [ $s = p ]; then
			echo "url = \"$(purl "$PL" "/v1/kv/bench/get/$i")\""
			echo 'request = "PUT"'
			echo "data = \"$v\""
		else
			echo "url = \"$(eurl "$EL" /v3/kv/put)\""
			echo 'header = "Content-Type: application/json"'
			echo "data = \"{\\\"key\\\":\\\"$(b64 "bench/get/$i")\\\",\\\"value\\\":\\\"$(b64 "$v")\\\"}\""
		fi
		i=$((i + 1))
	done >"$OUT/etcd-get-keys.curlrc"
	curl -q -sS --noproxy '*' -m 120 -K "$OUT/etcd-get-keys.curlrc" \
		>"$OUT/etcd-get-keys.codes" || die "$s: cannot write the GET key set"
	[ "$(grep -c '^200$' "$OUT/etcd-get-keys.codes")" = $NKEYS ] ||
		die "$s: writing the GET key set: not all answers were 200"
done
# The leaders again: a leader that changed since the PUT cells would
# turn the "leader" rows into follower figures; say so if it did.
for s in p e; do
	[ $s = e ] && [ $HAVE_ETCD = 0 ] && continue
	o=$(eval "echo \${$(echo $s | tr pe PE)L}")
	n=$("leader_$s") || die "$s: no leader before the GET cells"
	[ "$n" = "$o" ] ||
		echo "etcd: $s: the leader changed from $s$o to $s$n" \
			"after the PUT cells" >&2
	eval "$(echo $s | tr pe PE)L=\$n"
done
PF=$((PL % 3 + 1))
[ $HAVE_ETCD = 0 ] || EF=$((EL % 3 + 1))
for c in $GET_CONNS; do
	for role in leader follower; do
		pn=$PL en=${EL:-}
		[ $role = follower ] && pn=$PF en=${EF:-}
		for q in default stale consistent; do
			qs=''
			[ $q = default ] || qs="?$q"
			wrk_one "get-p-$q-$role-$c" "$(purl "$pn")" bench/kv_get.lua \
				"$c" $NKEYS "$qs"
		done
		[ $HAVE_ETCD = 0 ] && continue
		for q in serializable linearizable; do
			wrk_one "get-e-$q-$role-$c" "$(eurl "$en")" bench/etcd_kv.lua \
				"$c" get $NKEYS $q
		done
	done
done

# --- 5. failover

# kill_tree PID: SIGTERM to PID and to every process under it. PID is
# a child of this shell not yet waited for, so it cannot be reused.
kill_tree () {
	for k_c in $(pgrep -P "$1" 2>/dev/null); do kill_tree "$k_c"; done
	kill -s TERM "$1" 2>/dev/null
}

# trial p|e I: kill -9 the leader, PUT on a survivor every 100 ms until
# acknowledged; record the ms; restart the killed server, wait healthy.
trial () {
	t_old=$(wait_leader "$1" 30000) ||
		die "$1 trial $2: no leader within 30 s"
	t_to=$((t_old % 3 + 1))
	t_pid=$(pid_of "$1" "$t_old")
	t_f=$OUT/etcd-failover-attempts.txt
	: >"$t_f"
	kill -s KILL "$t_pid" || die "$1 trial $2: cannot kill $1$t_old"
	t0=$(now_ms)
	t_n=0 t_ms=''
	# A new attempt every 100 ms, each waiting up to 10 s: a server that
	# holds a write during the election (Proconsul) and one that fails
	# it after its own timeout (etcd: about 7 s) are timed alike.
	while :; do
		t_ms=$(awk '$2 == 200 { print $1; exit }' "$t_f")
		[ -n "$t_ms" ] && { t_ms=$((t_ms - t0)); break; }
		if [ $(($(now_ms) - t0)) -gt 30000 ]; then
			fail "$1 trial $2: no acknowledged write within 30 s"
			t_ms=30000
			break
		fi
		t_n=$((t_n + 1))
		(
			PUT_BODY=$OUT/etcd-failover-$t_n.body
			a_c=$("put_$1" "$t_to" "bench-failover/$2-$t_n" "trial $2")
			echo "$(now_ms) $a_c" >>"$t_f"
		) &
		t_pids="${t_pids:-} $!"
		sleep 0.1
	done
	# Attempts still held by the cluster (etcd fails those sent during
	# its election only after about 7 s) can tell nothing more: stop
	# them, curl included, instead of waiting for their answers.
	for t_p in $t_pids; do kill_tree "$t_p"; done
	for t_p in $t_pids; do wait "$t_p" 2>/dev/null; done
	t_pids=''
	wait "$t_pid" 2>/dev/null
	rm -f "$OUT"/etcd-failover-*.body
	echo "etcd: failover $1 trial $2: killed $1$t_old, write acknowledged" \
		"by $1$t_to after $t_ms ms ($t_n attempt(s))" >&2
	echo "$1 $2 $t_ms" >>"$OUT/etcd-failover.txt"
	"start_$1" "$t_old"
	t_back=$(now_ms)
	t_end=$((t_back + 90000))
	until "healthy_$1" "$t_old"; do
		check_alive "$1"
		[ "$(now_ms)" -lt $t_end ] ||
			die "$1$t_old is not healthy again within 90 s"
		sleep 0.2
	done
	echo "etcd: failover $1 trial $2: $1$t_old restarted, healthy after" \
		"$(($(now_ms) - t_back)) ms" >&2
}
phase failover
: >"$OUT/etcd-failover.txt"
i=1
while [ $i -le "$TRIALS" ]; do
	trial p $i
	[ $HAVE_ETCD = 0 ] || trial e $i
	i=$((i + 1))
done
for s in p e; do
	awk -v s=$s '$1 == s { print $3 }' "$OUT/etcd-failover.txt" | sort -n |
		awk -v s=$s '{ v[NR] = $1 }
		END {
			if (!NR) exit
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "failover-%s %d %d\n", s, m, v[NR]
		}' >>"$REC"
done
# A smoke run loads into the running clusters: a second fresh start
# proves nothing the first did not, and costs seconds of the < 60 s.
if [ "$MODE" != smoke ]; then
	stop_cluster p
	stop_cluster e
fi

# --- 6. fresh clusters, N/10 then N keys

# load p|e PHASE COUNT: write COUNT keys load/<phase>... with wrk.
load () {
	l_t=$NCPU
	[ "$l_t" -gt 4 ] && l_t=4
	[ "$l_t" -gt "$3" ] && l_t=$3
	rm -f "$OUT/etcd-load.$1".*
	l_url=$(purl "$PL")
	[ "$1" = e ] && l_url=$(eurl "$EL")
	l_sys=proconsul
	[ "$1" = e ] && l_sys=etcd
	l_log=$OUT/etcd-load-$1-$2.txt
	l0=$(now_ms)
	wrk -t"$l_t" -c$LOAD_CONNS -d"${BOUND_S}s" --timeout 30s \
		-s bench/kv_load.lua "$l_url" -- "$l_sys" "$2" "$3" "$l_t" \
		"$OUT/etcd-load.$1." </dev/null >"$l_log" 2>&1 &
	WRK_PID=$!
	l_i=0 l_idx='' l_still=0
	while :; do
		l_m=0
		for l_f in "$OUT/etcd-load.$1".*; do
			[ -f "$l_f" ] && l_m=$((l_m + 1))
		done
		[ $l_m -lt "$l_t" ] || break
		alive "$WRK_PID" || break
		check_alive "$1"
		# A write lost to a socket error never marks its thread: give up
		# once the Raft index has stood still for 60 s.
		l_i=$((l_i + 1))
		if [ $((l_i % 50)) = 0 ]; then
			l_now=$("index_$1")
			if [ "$l_now" = "$l_idx" ]; then
				l_still=$((l_still + 1))
				[ $l_still -lt 6 ] || {
					fail "loading $2 into $1: no progress for 60 s"
					break
				}
			else
				l_still=0
			fi
			l_idx=$l_now
		fi
		sleep 0.2
	done
	l_ms=$(($(now_ms) - l0))
	kill -s INT "$WRK_PID" 2>/dev/null
	l_i=0
	while alive "$WRK_PID" && [ $l_i -lt 100 ]; do
		sleep 0.1
		l_i=$((l_i + 1))
	done
	stop_pid "$WRK_PID" wrk
	WRK_PID=''
	grep '^BENCH ' "$l_log" | grep -q 'errors=0 non2xx=0' ||
		fail "loading $2 into $1: $(grep '^BENCH ' "$l_log")"
	[ $l_m -ge "$l_t" ] || fail "loading $2 into $1: not all keys acknowledged"
	echo "etcd: loaded $3 keys into $1 in $l_ms ms" >&2
	rec "load-$1-$2 $l_ms $3"
}

# index_p / index_e: the leader's Raft index / etcd's revision.
index_p () {
	curl -q -s --noproxy '*' -m 5 -o /dev/null -D - \
		"$(purl "$PL" /v1/kv/load/a1-1?stale)" 2>/dev/null |
		sed -n 's/^[Xx]-[Cc]onsul-[Ii]ndex: *\([0-9]*\).*/\1/p'
}
index_e () {
	eapi "$EL" /v3/maintenance/status '{}' 2>/dev/null |
		sed -n 's/.*"revision":"\([0-9]*\)".*/\1/p'
}

# count_p / count_e: keys under load/.
count_p () {
	curl -q -s --noproxy '*' -m 300 "$(purl "$PL" /v1/kv/load/?keys)" |
		tr ',' '\n' | grep -c '"'
}
count_e () {
	eapi "$EL" /v3/kv/range \
		"{\"key\":\"$(b64 load/)\",\"range_end\":\"$(b64 load0)\",\"count_only\":true}" |
		sed -n 's/.*"count":"\([0-9]*\)".*/\1/p'
}

phase fresh clusters, loading
[ "$MODE" = smoke ] || start_clusters
PL=$(leader_p) || die "Proconsul: no leader"
[ $HAVE_ETCD = 0 ] || { EL=$(leader_e) || die "etcd: no leader"; }
N1=$((N / 10))
for s in p e; do
	[ $s = e ] && [ $HAVE_ETCD = 0 ] && continue
	load $s a $N1
	sleep $SETTLE
	rec "rss-n1-$s $(rss_kb $s)"
	load $s b $((N - N1))
	sleep $SETTLE
	rec "rss-n-$s $(rss_kb $s)"
	rec "keys-$s $("count_$s")"
done

# --- 7. snapshot save, start, restore

phase snapshot save
SNAP_P=$DATA/bench.snap
SNAP_E=$DATA/bench.db
# timed NAME CMD...: record "NAME MS RC"; output in $OUT/etcd-NAME.log.
timed () {
	t_name=$1
	shift
	t0=$(now_ms)
	"$@" </dev/null >"$OUT/etcd-$t_name.log" 2>&1
	t_rc=$?
	rec "$t_name $(($(now_ms) - t0)) $t_rc"
	[ $t_rc = 0 ] || fail "$t_name: $(head -n 1 "$OUT/etcd-$t_name.log" | cut -c 1-160)"
	return $t_rc
}
timed save-p "$PROCONSUL" snapshot save -http-addr="$(purl "$PL")" "$SNAP_P"
[ $HAVE_ETCD = 0 ] ||
	timed save-e "$ETCDCTL" --endpoints="$(eurl "$EL")" snapshot save "$SNAP_E"
rec "snapsize-p $(wc -c <"$SNAP_P" 2>/dev/null || echo 0)"
[ $HAVE_ETCD = 0 ] || rec "snapsize-e $(wc -c <"$SNAP_E" 2>/dev/null || echo 0)"

# start_timed p|e NAME: start all three, time until member 1 answers a
# consistent read of load/a1-1.
start_timed () {
	s0=$(now_ms)
	for n in 1 2 3; do "start_$1" $n; done
	until "read_$1" 1 load/a1-1; do
		check_alive "$1"
		if [ $(($(now_ms) - s0)) -gt $((BOUND_S * 1000)) ]; then
			fail "$2: no consistent read within $BOUND_S s"
			break
		fi
		sleep 0.05
	done
	rec "$2 $(($(now_ms) - s0))"
	sleep $SETTLE
	rec "rss-$2 $(rss_kb "$1")"
}
phase start on N keys
stop_cluster p
start_timed p start-p
[ $HAVE_ETCD = 0 ] || { stop_cluster e; start_timed e start-e; }

phase restore
PL=$(wait_leader p 30000) || die "Proconsul: no leader after the restart"
timed restore-p "$PROCONSUL" snapshot restore -http-addr="$(purl "$PL")" "$SNAP_P"
r0=$(now_ms)
until read_p "$PL" load/a1-1; do
	check_alive p
	[ $(($(now_ms) - r0)) -lt 60000 ] || {
		fail "no consistent read within 60 s after the restore"
		break
	}
	sleep 0.05
done
sleep $SETTLE
rec "rss-restore-p $(rss_settled_kb p)"
if [ $HAVE_ETCD = 1 ]; then
	stop_cluster e
	r0=$(now_ms)
	for n in 1 2 3; do
		rm -rf "$DATA/r$n"
		"$ETCDCTL" snapshot restore "$SNAP_E" --name="e$n" \
			--data-dir="$DATA/r$n" --initial-cluster="$ECLUSTER" \
			--initial-cluster-token=proconsul-bench \
			--initial-advertise-peer-urls="http://$(eip $n):2380" \
			>>"$OUT/etcd-restore-e.log" 2>&1 ||
			fail "etcdctl snapshot restore (e$n); see $OUT/etcd-restore-e.log"
	done
	rec "restore-cli-e $(($(now_ms) - r0))"
	for n in 1 2 3; do start_e $n "$DATA/r$n"; done
	until read_e 1 load/a1-1; do
		check_alive e
		if [ $(($(now_ms) - r0)) -gt $((BOUND_S * 1000)) ]; then
			fail "etcd restore: no read within $BOUND_S s"
			break
		fi
		sleep 0.05
	done
	rec "restore-e $(($(now_ms) - r0)) 0"
	sleep $SETTLE
	rec "rss-restore-e $(rss_settled_kb e)"
	rec "keys-restore-e $(count_e)"
fi
rec "keys-restore-p $(count_p)"
cleanup
LOAD_END=$(loadavg)
TOTAL_S=$((($(now_ms) - T_START) / 1000))

# ======================================================================
# --- report

REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- libcore cmd GNUmakefile 2>/dev/null || REV=$REV+dirty
WRKV=$(wrk -v 2>&1 | head -n 1 | awk '{ print $2 }')
EV=none
[ $HAVE_ETCD = 0 ] || EV=$("$ETCD" --version 2>/dev/null | sed -n 's/^etcd Version: //p')
col () {  # col KEY I: field I of a record, "" if none
	get "$1" | awk -v i="$2" '{ print $i }'
}
# cell VALUE KIND: format (ops/s, ms from us, ms, MiB from kB)
fmt () {
	[ -n "$1" ] || { echo "-"; return; }
	case $2 in
	ops) awk -v v="$1" 'BEGIN { printf "%.0f", v }' ;;
	us) awk -v v="$1" 'BEGIN { printf "%.2f ms", v / 1000 }' ;;
	ms) echo "$1 ms" ;;
	kb) awk -v v="$1" 'BEGIN { printf "%.1f MiB", v / 1024 }' ;;
	b) awk -v v="$1" 'BEGIN { printf "%.1f MiB", v / 1048576 }' ;;
	*) echo "$1" ;;
	esac
}
ratio () {  # ratio A B
	[ -n "$1" ] && [ -n "$2" ] || { echo "-"; return; }
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (b + 0 == 0 || a + 0 == 0) print "-"; else printf "%.2f", a / b }'
}
# row FIGURE KIND P E [LIMIT LIMITNAME]: one table row; the ratios are
# proconsul / etcd and proconsul / limit.
row () {
	echo "| $1 | $(fmt "$3" "$2") | $(fmt "$4" "$2") | $(ratio "$3" "$4") |" \
		"$(ratio "$3" "${5:-}") | ${6:--} |"
	echo "$1|$3|$4" >>"$OUT/etcd-chart.txt"
}
: >"$OUT/etcd-chart.txt"
# Raw data of N keys load/<phase><t>-<i>: about 14 bytes of key + 256.
RAW_KB=$(awk -v n="$N" 'BEGIN { printf "%.0f", n * (14 + 256) / 1024 }')
RAW_N1_KB=$(awk -v n="$N1" 'BEGIN { printf "%.0f", n * (13 + 256) / 1024 }')
FIO_IOPS=$(col fio 1)

TABLE=$OUT/etcd.md.tmp
{
	echo "### Proconsul vs etcd ($MODE run)"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), revision $REV, $NCPU CPU(s)," \
		"wrk $WRKV, etcd $EV; 3 Proconsul servers" \
		"(\`agent -server -bootstrap-expect=3\`) and 3 etcd members on" \
		"loopback, data dirs on $FSTYPE, election timeout $ELECTION_MS ms and" \
		"heartbeat $HEARTBEAT_MS ms on both. Load average at the start" \
		"$LOAD_START, at the end $LOAD_END; whole run $TOTAL_S s."
	echo "wrk drives both over HTTP/1.1 with 256-byte values: Proconsul's" \
		"/v1/kv, etcd's v3 JSON gateway (/v3/kv/put, /v3/kv/range; base64" \
		"JSON through grpc-gateway, a cost etcd's gRPC clients do not pay)." \
		"${DURATION}s per cell; PUT and the loads go to the leader."
	echo "Limits, measured in the same run: fdatasync = fio, 4 KiB writes" \
		"each followed by fdatasync on the data disk" \
		"($(fmt "$FIO_IOPS" ops)/s, p50 $(fmt "$(col fio 2)" us), p99" \
		"$(fmt "$(col fio 3)" us)); nullhttpd = bench/nullhttpd.c" \
		"(libh2o/libuv answering 200) at the same connections."
	echo "Ratios: proconsul / etcd, and proconsul / the limit named in the" \
		"last column (for latencies and times lower is better, so a ratio" \
		"to etcd under 1 is a win)."
	echo
	echo "| figure | proconsul | etcd | / etcd | / limit | limit |"
	echo "|--------|----------:|-----:|-------:|--------:|-------|"
	for c in $CONNS; do
		if [ "$c" = 1 ]; then
			lim=$FIO_IOPS limname="fdatasync $(fmt "$FIO_IOPS" ops)/s"
		else
			lim=$(col "null-$c" 1)
			limname="nullhttpd $(fmt "$lim" ops)/s"
		fi
		row "PUT ops/s, $c conn(s)" ops "$(col "put-p-$c" 1)" \
			"$(col "put-e-$c" 1)" "$lim" "$limname"
		for p in 2:p50 3:p99; do
			k=${p%%:*} pn=${p#*:}
			lim=$(col "null-$c" "$k")
			row "PUT $pn, $c conn(s)" us "$(col "put-p-$c" "$k")" \
				"$(col "put-e-$c" "$k")" "$lim" "nullhttpd $(fmt "$lim" us)"
		done
	done
	for c in $GET_CONNS; do
		lim=$(col "null-$c" 1)
		for role in leader follower; do
			for q in default:linearizable stale:serializable \
				consistent:linearizable; do
				pq=${q%%:*} eq=${q#*:}
				row "GET $pq vs $eq, $role, $c conns, ops/s" ops \
					"$(col "get-p-$pq-$role-$c" 1)" \
					"$(col "get-e-$eq-$role-$c" 1)" "$lim" \
					"nullhttpd $(fmt "$lim" ops)/s"
			done
			for q in default:linearizable stale:serializable \
				consistent:linearizable; do
				pq=${q%%:*} eq=${q#*:}
				row "GET $pq vs $eq, $role, $c conns, p99" us \
					"$(col "get-p-$pq-$role-$c" 3)" \
					"$(col "get-e-$eq-$role-$c" 3)" \
					"$(col "null-$c" 3)" "nullhttpd $(fmt "$(col "null-$c" 3)" us)"
			done
		done
	done
	row "failover (kill -9 leader -> acked write), median of $TRIALS" ms \
		"$(col failover-p 1)" "$(col failover-e 1)" $ELECTION_MS \
		"election timeout $ELECTION_MS ms"
	row "failover, max of $TRIALS" ms "$(col failover-p 2)" \
		"$(col failover-e 2)" $ELECTION_MS "election timeout $ELECTION_MS ms"
	row "RSS per server idle (max of 3)" kb "$(col rss-idle-p 1)" \
		"$(col rss-idle-e 1)"
	row "RSS per server, $N1 keys" kb "$(col rss-n1-p 1)" \
		"$(col rss-n1-e 1)" "$RAW_N1_KB" "raw data $(fmt "$RAW_N1_KB" kb)"
	row "RSS per server, $N keys" kb "$(col rss-n-p 1)" \
		"$(col rss-n-e 1)" "$RAW_KB" "raw data $(fmt "$RAW_KB" kb)"
	row "load of $N keys (64 conns; ms)" ms \
		"$(($(col load-p-a 1) + $(col load-p-b 1)))" \
		"$( [ $HAVE_ETCD = 1 ] && echo $(($(col load-e-a 1) + $(col load-e-b 1))))"
	row "snapshot save, $N keys" ms "$(col save-p 1)" "$(col save-e 1)"
	row "snapshot file" b "$(col snapsize-p 1)" "$(col snapsize-e 1)"
	row "start of 3 servers on $N keys, to a consistent read" ms \
		"$(col start-p 1)" "$(col start-e 1)"
	row "RSS per server after that start" kb "$(col rss-start-p 1)" \
		"$(col rss-start-e 1)" "$RAW_KB" "raw data $(fmt "$RAW_KB" kb)"
	row "restore of the $N-key snapshot, to a consistent read" ms \
		"$(col restore-p 1)" "$(col restore-e 1)"
	row "RSS per server after the restore (settled)" kb "$(col rss-restore-p 1)" \
		"$(col rss-restore-e 1)" "$RAW_KB" "raw data $(fmt "$RAW_KB" kb)"
	echo
	echo "Also: keys under load/ after loading: Proconsul $(col keys-p 1)," \
		"etcd $(col keys-e 1); after the restore: Proconsul" \
		"$(col keys-restore-p 1), etcd $(col keys-restore-e 1). RSS" \
		"max / sum of the 3 servers, Proconsul: idle $(get rss-idle-p)," \
		"$N1 keys $(get rss-n1-p), $N keys $(get rss-n-p) kB; etcd: idle" \
		"$(get rss-idle-e), $N1 keys $(get rss-n1-e), $N keys" \
		"$(get rss-n-e) kB. Restore: Proconsul \`snapshot restore\`" \
		"into the running cluster (CLI to committed); etcd \`etcdctl" \
		"snapshot restore\` of each member's data dir" \
		"($(col restore-cli-e 1) ms for the three) and a start of the" \
		"three members. Failover per trial (ms): Proconsul" \
		"$(awk '$1 == "p" { printf "%s%s", s, $3; s = ", " }' "$OUT/etcd-failover.txt");" \
		"etcd $(awk '$1 == "e" { printf "%s%s", s, $3; s = ", " }' "$OUT/etcd-failover.txt")."
	[ $HAVE_ETCD = 1 ] ||
		echo "etcd was not installed: its column is empty (smoke run)."
	if [ $FAILED != 0 ]; then
		echo
		echo "**This run failed** (see the messages on stderr and build/bench/)."
	fi
} >"$TABLE"

if [ "$MODE" = full ]; then
	FILE=$RESULTS/etcd.md REPORT=$RESULTS/latest.md PNG=$RESULTS/etcd.png
else
	FILE=$RESULTS/etcd-smoke.md REPORT=$RESULTS/smoke.md PNG=$OUT/etcd-smoke.png
fi
mv "$TABLE" "$FILE" || exit 1

# The chart: throughput cells side by side (ops/s, log scale).
if command -v gnuplot >/dev/null 2>&1; then
	perl -ne '
		chomp;
		my ($f, $p, $e) = split /\|/, $_, -1;
		my $l;
		if ($f =~ /^PUT ops\/s, (\d+)/) { $l = "PUT\\nc=$1" }
		elsif ($f =~ /^GET (\w+) vs (\w+), (\w+), (\d+) conns, ops/) {
			$l = "GET $1 / $2\\n$3, c=$4";
		} else { next }
		printf "\"%s\" %s %s\n", $l, $p || 0, $e || 0;
	' "$OUT/etcd-chart.txt" >"$OUT/etcd-chart.dat"
	gnuplot <<EOF >"$OUT/etcd-gnuplot.log" 2>&1 || fail "gnuplot; see $OUT/etcd-gnuplot.log"
set terminal png size 1400,600 font ",9"
set output "$PNG"
set title "Proconsul vs etcd 3.4, 3 servers on loopback ($MODE run, $(date -u '+%Y-%m-%d'), revision $REV)"
set ylabel "ops/s"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set key top right
set grid ytics
set yrange [0:*]
set xtics font ",7"
plot "$OUT/etcd-chart.dat" using 2:xtic(1) title "proconsul", \
     "" using 3 title "etcd (v3 JSON gateway)"
EOF
else
	echo "etcd: gnuplot is not installed: no chart" >&2
fi

# Splice the table into the mode's report, and after a full run into
# README.md, replacing an earlier etcd section (bench/report.sh).
[ -f "$REPORT" ] && { report_splice etcd "$FILE" "$REPORT" || FAILED=1; }
[ "$MODE" = full ] && grep -q '^<!-- etcd:begin -->$' README.md &&
	{ report_splice etcd "$FILE" README.md || FAILED=1; }
cat "$FILE"
[ $FAILED = 0 ] || exit 1
exit 0
