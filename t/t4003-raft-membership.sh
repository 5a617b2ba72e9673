#!/bin/sh
test_description='Raft membership: four servers started together form one cluster; a later server is a non-voter, then a voter; a dead one is removed'
. ./lib.sh

# s1..s4 all start at once with -bootstrap-expect=3: one cluster must
# come out, never two. s5 joins later, without -bootstrap-expect.
TEST_SERVERS="s1 s2 s3 s4"
reserve_agents s1 s2 s3 s4 s5

# Short autopilot stabilization; gossip that tells a dead member in a few
# seconds (suspicion lasts suspicion_mult probe intervals at least).
cat >fast.hcl <<\EOF || test_bail_ "cannot write fast.hcl"
autopilot {
  server_stabilization_time = "2s"
}
gossip_lan {
  probe_interval = "500ms"
  probe_timeout = "250ms"
  suspicion_mult = 3
}
EOF

# expect_config NAME...: raft_config lines for the NAMEs, all voters,
# $leader marked.
expect_config () {
	for ec_ in "$@"; do
		if test "$ec_" = "$leader"; then ec_l_=leader; else ec_l_=-; fi
		echo "$ec_ $(agent_addr "$ec_"):8300 voter $ec_l_"
	done | sort
}

# config_is NAME QUERY NODE...: NAME's configuration (QUERY "" or
# "?stale") is exactly the NODEs, all voters.
config_is () {
	ci_on=$1
	ci_q=$2
	shift 2
	expect_config "$@" >expect.cfg &&
	raft_config "$ci_on" "$ci_q" >actual.cfg &&
	test_cmp expect.cfg actual.cfg
}

# peers_are NAME NODE...: NAME's /v1/status/peers is exactly the NODEs.
peers_are () {
	pa_on=$1
	shift
	rpc_addrs "$@" >expect.peers &&
	raft_peers "$pa_on" >actual.peers &&
	test_cmp expect.peers actual.peers
}

# first_role NODE SECONDS: poll the leader's configuration every 0.1 s
# until NODE is in it; print the role it had then (voter or nonvoter).
first_role () {
	fr_i=0
	while test $fr_i -lt $(( $2 * 10 )); do
		if raft_config "$leader" >cfg.now 2>&1; then
			fr_role=$(awk -v n="$1" '$1 == n { print $3 }' cfg.now)
			if test -n "$fr_role"; then
				echo "$fr_role"
				return 0
			fi
		fi
		sleep 0.1
		fr_i=$((fr_i + 1))
	done
	echo >&9 "$1 not in the configuration of $leader after $2 s:"
	cat >&9 cfg.now
	return 1
}

test_expect_success 'setup: four fresh servers, all -bootstrap-expect=3, started together' '
	start_servers -bootstrap-expect=3 -config-file="$TRASH/fast.hcl"
'

test_expect_success 'one leader: all four servers agree' '
	wait_leader 40 s1 s2 s3 s4 &&
	test_set_prereq CLUSTER
'

test_expect_success CLUSTER 'one cluster: every configuration holds the four, as voters' '
	for s in s1 s2 s3 s4; do
		poll_until 30 config_is $s "?stale" s1 s2 s3 s4 || return 1
	done &&
	config_is "$leader" "" s1 s2 s3 s4
'

test_expect_success CLUSTER '/v1/status/peers lists the four on every server' '
	for s in s1 s2 s3 s4; do
		poll_until 10 peers_are $s s1 s2 s3 s4 || return 1
	done
'

test_expect_success CLUSTER 'setup: a key written before s5 exists' '
	api_on s1 PUT /v1/kv/m/before --data-binary b &&
	expect_status 200 &&
	expect_body true
'

test_expect_success CLUSTER 's5 (no -bootstrap-expect) joins: first a non-voter' '
	start_server s5 -config-file="$TRASH/fast.hcl" &&
	join_t0=$(now_ms) &&
	role=$(first_role s5 30) &&
	echo "s5 first seen as $role" &&
	test "$role" = nonvoter
'

test_expect_success CLUSTER 's5 becomes a voter after server_stabilization_time (2 s)' '
	poll_until 30 config_is "$leader" "" s1 s2 s3 s4 s5 &&
	promote_ms=$(( $(now_ms) - join_t0 ))
'
test -n "$promote_ms" && echo "# s5 was a voter ${promote_ms} ms after its start"

test_expect_success CLUSTER 's5 has the data and lists five peers' '
	poll_until 20 kv_is s5 m/before b stale &&
	poll_until 10 peers_are s5 s1 s2 s3 s4 s5 &&
	wait_leader 15 s1 s2 s3 s4 s5
'

# A follower dies for good: gossip declares it failed, and autopilot
# (cleanup_dead_servers, true by default) removes it from Raft.
test_expect_success CLUSTER 'kill -9 of a follower: gossip marks it failed' '
	for v in s1 s2 s3 s4; do
		test "$v" = "$leader" || break
	done &&
	victim=$v &&
	survivors=$(for s in s1 s2 s3 s4 s5; do
		test $s = $victim || printf "%s " $s; done) &&
	kill9 "$victim" &&
	kill_t0=$(now_ms) &&
	poll_until 30 gossip_status_is "$leader" "$victim" failed &&
	failed_ms=$(( $(now_ms) - kill_t0 ))
'
test -n "$failed_ms" && echo "# $victim failed in gossip ${failed_ms} ms after kill -9"

test_expect_success CLUSTER 'autopilot removes the failed server from the configuration' '
	poll_until 30 config_is "$leader" "" $survivors &&
	removed_ms=$(( $(now_ms) - kill_t0 )) &&
	for s in $survivors; do
		poll_until 10 peers_are $s $survivors || return 1
	done
'
test -n "$removed_ms" && echo "# $victim out of the configuration ${removed_ms} ms after kill -9"

test_expect_success CLUSTER 'writes through each survivor, reads on each' '
	wait_leader 15 $survivors &&
	for s in $survivors; do
		api_on $s PUT /v1/kv/m/$s --data-binary $s &&
		expect_status 200 &&
		expect_body true || return 1
	done &&
	for s in $survivors; do
		for k in $survivors; do
			kv_is $s m/$k $k || return 1
		done
	done
'

# Known before or not, a server is promoted only once it is stable.
test_expect_success CLUSTER 'the removed server restarted on its data dir: a non-voter first' '
	relaunch_agent "$victim" &&
	role=$(first_role "$victim" 30) &&
	echo "$victim first seen as $role" &&
	test "$role" = nonvoter
'

test_expect_success CLUSTER 'then a voter again, with the new data' '
	poll_until 40 config_is "$leader" "" s1 s2 s3 s4 s5 &&
	poll_until 20 kv_is "$victim" m/s5 s5 stale &&
	wait_leader 15 s1 s2 s3 s4 s5
'

test_expect_success 'SIGTERM: the servers still running exit 0' '
	stop_agents TERM $(running_agents s1 s2 s3 s4 s5)
'

test_done
