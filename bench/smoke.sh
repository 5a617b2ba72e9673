#!/bin/sh
# smoke.sh - `make bench-smoke`: every harness under bench/ once, small,
# to prove that it works. It asserts nothing about speed; it prints how
# long it took (the budget is 60 s).
#
# Usage: bench/smoke.sh
# Two lanes side by side: bench/etcd.sh --smoke (the longest), and
# bench/run.sh, failover.sh, blocking.sh and snapshot.sh --smoke one
# after another. The lanes use different loopback addresses (etcd.sh
# 127.0.250.3, 127.0.251.11-13 and 127.0.252.11-13; run.sh
# 127.0.250.1-2; failover.sh 127.0.251.1-3; blocking.sh 127.0.252.1;
# snapshot.sh 127.0.253.1) and different files under build/bench/, and
# each script splices its section into bench/results/smoke.md under a
# lock (bench/report.sh); smoke.md is removed first, so that it holds
# this run only. build/bench/nullhttpd, which run.sh and etcd.sh both
# use, is built before the lanes start (GNUmakefile's rule).
# The etcd lane's output goes to build/bench/etcd-smoke.out and is shown
# when the lane ends, so that the two lanes' lines do not interleave.
# Exit: 0 if every script passed; 1 otherwise (each failure is named).
set -u
cd "$(dirname "$0")/.." || exit 2
mkdir -p build/bench || exit 2

now_s () { date +%s; }
T0=$(now_s)
FAILED=0
LANE_E='' LANE_S=''

# stop_lane PID: SIGTERM to a lane; the scripts stop their servers.
stop_lane () {
	[ -n "$1" ] || return 0
	kill -s TERM "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
trap 'stop_lane "$LANE_E"; stop_lane "$LANE_S"; exit 143' TERM
trap 'stop_lane "$LANE_E"; stop_lane "$LANE_S"; exit 130' INT

rm -f bench/results/smoke.md
# Run alone, not from make: build nullhttpd before the lanes all the same.
make -s build/bench/nullhttpd || exit 2

bench/etcd.sh --smoke >build/bench/etcd-smoke.out 2>&1 &
LANE_E=$!
(
	c=''
	trap 'stop_lane "$c"; exit 143' TERM
	rc=0
	for s in run failover blocking snapshot; do
		bench/$s.sh --smoke &
		c=$!
		wait "$c" || {
			echo "bench-smoke: bench/$s.sh failed" >&2
			rc=1
		}
		c=''
	done
	exit $rc
) &
LANE_S=$!

wait "$LANE_S" || FAILED=1
LANE_S=''
wait "$LANE_E" || { echo "bench-smoke: bench/etcd.sh failed" >&2; FAILED=1; }
LANE_E=''
echo "--- bench/etcd.sh --smoke (ran beside the lines above)"
cat build/bench/etcd-smoke.out

echo "bench-smoke: $(($(now_s) - T0)) s (budget 60 s); smoke report" \
	"bench/results/smoke.md"
[ $FAILED = 0 ] || { echo "bench-smoke: FAILED" >&2; exit 1; }
exit 0
