#!/bin/sh
test_description='gossip: a stock serf agent and ours join, fail and leave both ways'
if ! command -v serf >/dev/null 2>&1; then
	skip_all='serf is not installed (scripts/deps.sh installs it)'
fi
. ./lib.sh

SERF_ADDR=$TEST_NET.9
SERF_RPC=$SERF_ADDR:7373
serf_pid=

stop_serf () {
	test -n "$serf_pid" || return 0
	kill -s TERM "$serf_pid" 2>/dev/null
	wait_pid "$serf_pid" 10 >/dev/null 2>&1
	if pid_alive "$serf_pid"; then
		kill -s KILL "$serf_pid" 2>/dev/null
		wait_pid "$serf_pid" 5 >/dev/null 2>&1
	fi
	serf_pid=
}
trap 'st_rc_=$?; stop_serf; (exit $st_rc_); test_exit_trap_' EXIT

# wait_for TEXT CMD...: bounded wait (15 s) until CMD's output has a line
# matching the extended regexp TEXT.
wait_for () {
	wf_re=$1
	shift
	wf_i=0
	while test $wf_i -lt 150; do
		"$@" >wait.out 2>&1 && grep -E -q -e "$wf_re" wait.out && return 0
		sleep 0.1
		wf_i=$((wf_i + 1))
	done
	echo >&9 "no line matching '$wf_re' in the output of '$*':"
	cat >&9 wait.out
	return 1
}

test_expect_success 'setup: our server' '
	start_agent p1 -server -bootstrap
'

test_expect_success 'setup: a serf agent joining it' '
	serf agent -bind=$SERF_ADDR:8301 -rpc-addr=$SERF_RPC -node=s1 \
		-join=$p1_ADDR:8301 </dev/null >serf.log 2>&1 &
	serf_pid=$! &&
	echo $serf_pid >serf.pid
'

test_expect_success 'serf lists our agent alive' '
	wait_for "^p1 +$p1_ADDR:8301 +alive" serf members -rpc-addr=$SERF_RPC
'

test_expect_success 'our agent lists the serf agent alive' '
	wait_for "^s1 +$SERF_ADDR:8301 +alive" proconsul members
'

test_expect_success 'serf sees our Consul tags' '
	serf members -rpc-addr=$SERF_RPC -name=p1 >out &&
	test_grep "role=consul" out
'

test_expect_success 'serf leaves: our agent lists it left' '
	serf leave -rpc-addr=$SERF_RPC &&
	wait_for "^s1 +$SERF_ADDR:8301 +left" proconsul members &&
	wait_pid $serf_pid 10 &&
	serf_pid=
'

test_expect_success 'our agent joins a serf agent: both alive' '
	serf agent -bind=$SERF_ADDR:8301 -rpc-addr=$SERF_RPC -node=s2 \
		</dev/null >serf2.log 2>&1 &
	serf_pid=$! &&
	wait_for "^s2 +$SERF_ADDR:8301 +alive" serf members -rpc-addr=$SERF_RPC &&
	proconsul join $SERF_ADDR >out &&
	test_grep "Successfully joined cluster by contacting 1 nodes" out &&
	wait_for "^s2 +$SERF_ADDR:8301 +alive" proconsul members &&
	wait_for "^p1 +$p1_ADDR:8301 +alive" serf members -rpc-addr=$SERF_RPC
'

test_expect_success 'kill -9 of the serf agent: ours marks it failed' '
	kill -s KILL $serf_pid &&
	{ wait_pid $serf_pid 10 || :; } &&
	serf_pid= &&
	wait_for "^s2 +$SERF_ADDR:8301 +failed" proconsul members
'

test_expect_success 'kill -9 of our agent: serf marks it failed' '
	serf agent -bind=$SERF_ADDR:8301 -rpc-addr=$SERF_RPC -node=s3 \
		-join=$p1_ADDR:8301 </dev/null >serf3.log 2>&1 &
	serf_pid=$! &&
	wait_for "^p1 +$p1_ADDR:8301 +alive" serf members -rpc-addr=$SERF_RPC &&
	kill -s KILL $(cat p1.pid) &&
	wait_for "^p1 +$p1_ADDR:8301 +failed" serf members -rpc-addr=$SERF_RPC
'

test_done
