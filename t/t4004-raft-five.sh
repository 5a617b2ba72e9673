#!/bin/sh
test_description='Raft: five servers (-bootstrap-expect=5) survive the loss of the leader; remove-peer; autopilot health'
. ./lib.sh

TEST_SERVERS="s1 s2 s3 s4 s5"
reserve_agents s1 s2 s3 s4 s5

# Autopilot leaves dead servers in the configuration here, so that the
# operator removes one (DELETE /v1/operator/raft/peer) and health shows
# it meanwhile.
cat >five.hcl <<\EOF || test_bail_ "cannot write five.hcl"
autopilot {
  cleanup_dead_servers = false
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

# health_is NAME CODE HEALTHY TOLERANCE [UNHEALTHY_NODE]: autopilot
# health on NAME answers CODE with Healthy HEALTHY and FailureTolerance
# TOLERANCE; every server listed is healthy but UNHEALTHY_NODE (which
# must be listed unhealthy).
health_is () {
	api_on "$1" GET /v1/operator/autopilot/health &&
	expect_status "$2" &&
	json_get out '$j->{Healthy}' >actual &&
	json_get out '$j->{FailureTolerance}' >>actual &&
	printf "%s\n%s\n" "$3" "$4" >expect &&
	test_cmp expect actual &&
	json_get out 'join "\n", map { "$_->{Name} " .
		($_->{Healthy} ? "healthy" : "unhealthy") }
		sort { $a->{Name} cmp $b->{Name} } @{$j->{Servers}}' >actual &&
	for hi_ in $(running_agents s1 s2 s3 s4 s5) ${5-}; do
		if test "$hi_" = "${5-}"; then
			echo "$hi_ unhealthy"
		else
			echo "$hi_ healthy"
		fi
	done | sort >expect &&
	test_cmp expect actual
}

# never_voter NODE SECONDS: for SECONDS (every 0.2 s), the leader's
# configuration never lists NODE as a voter.
never_voter () {
	nv_end=$(( $(now_ms) + $2 * 1000 ))
	nv_i=0
	while test $nv_i -le $(( $2 * 5 )) && test "$(now_ms)" -lt "$nv_end"; do
		if raft_config "$leader" >nv.cfg 2>&1 &&
		   awk -v n="$1" '$1 == n && $3 == "voter" { f = 1 } END { exit !f }' nv.cfg
		then
			echo "$1 is a voter again while dead:"
			cat nv.cfg
			return 1
		fi
		sleep 0.2
		nv_i=$((nv_i + 1))
	done
}

test_expect_success 'setup: five servers, -bootstrap-expect=5, started together' '
	start_servers -bootstrap-expect=5 -config-file="$TRASH/five.hcl"
'

test_expect_success 'one leader: all five agree' '
	wait_leader 40 s1 s2 s3 s4 s5 &&
	test_set_prereq CLUSTER
'

test_expect_success CLUSTER 'five voters in every configuration; five peers' '
	for s in s1 s2 s3 s4 s5; do
		poll_until 20 config_is $s "?stale" s1 s2 s3 s4 s5 &&
		poll_until 10 peers_are $s s1 s2 s3 s4 s5 || return 1
	done
'

test_expect_success CLUSTER 'autopilot health: 200, healthy, failure tolerance 2' '
	poll_until 20 health_is "$leader" 200 true 2
'

test_expect_success CLUSTER 'a write through each server, read on each' '
	for s in s1 s2 s3 s4 s5; do
		api_on $s PUT /v1/kv/five/$s --data-binary $s &&
		expect_status 200 &&
		expect_body true || return 1
	done &&
	for s in s1 s2 s3 s4 s5; do
		kv_is $s five/s1 s1 &&
		kv_is $s five/s5 s5 || return 1
	done
'

test_expect_success CLUSTER 'kill -9 of the leader: a new leader within 15 s' '
	dead=$leader &&
	survivors=$(for s in s1 s2 s3 s4 s5; do
		test $s = $dead || printf "%s " $s; done) &&
	kill9 "$dead" &&
	failover_t0=$(now_ms) &&
	wait_leader 15 $survivors &&
	failover_ms=$(( $(now_ms) - failover_t0 ))
'
test -n "$failover_ms" && echo "# failover: $leader leads ${failover_ms} ms after kill -9 of $dead"

test_expect_success CLUSTER 'writes resume through each of the four survivors' '
	for s in $survivors; do
		api_on $s PUT /v1/kv/after/$s --data-binary $s &&
		expect_status 200 &&
		expect_body true || return 1
	done
'

test_expect_success CLUSTER 'reads resume on all four: default and ?stale' '
	for s in $survivors; do
		for k in $survivors; do
			kv_is $s after/$k $k || return 1
		done &&
		kv_is $s five/$dead $dead &&
		poll_until 10 kv_is $s "after/$leader" "$leader" stale || return 1
	done
'

test_expect_success CLUSTER 'health: 429, unhealthy, failure tolerance 1, the dead server listed unhealthy' '
	poll_until 30 health_is "$leader" 429 false 1 "$dead"
'

test_expect_success CLUSTER 'cleanup_dead_servers = false: the dead server stays in the configuration' '
	raft_config "$leader" >actual &&
	expect_config s1 s2 s3 s4 s5 >expect &&
	test_cmp expect actual
'

# Remove a server only once gossip has it failed: a leader adds back any
# server that gossip still shows alive (as Consul does).
test_expect_success CLUSTER 'DELETE /v1/operator/raft/peer?address= (through a follower) removes it' '
	poll_until 30 gossip_status_is "$leader" "$dead" failed &&
	set -- $survivors &&
	if test "$1" = "$leader"; then via=$2; else via=$1; fi &&
	api_on "$via" DELETE "/v1/operator/raft/peer?address=$(agent_addr "$dead"):8300" &&
	expect_status 200 &&
	poll_until 10 config_is "$leader" "" $survivors &&
	for s in $survivors; do
		poll_until 10 peers_are $s $survivors || return 1
	done
'

test_expect_success CLUSTER 'health: 200 again, failure tolerance 1 (4 voters)' '
	poll_until 20 health_is "$leader" 200 true 1
'

test_expect_success CLUSTER 'DELETE of an address not in the configuration: 500, Consul message' '
	addr="$(agent_addr "$dead"):8300" &&
	api_on "$leader" DELETE "/v1/operator/raft/peer?address=$addr" &&
	expect_status 500 &&
	test_grep "address \"$addr\" was not found in the Raft configuration" out
'

test_expect_success CLUSTER 'the four still serve writes and reads' '
	api_on "$leader" PUT /v1/kv/final --data-binary f &&
	expect_body true &&
	for s in $survivors; do
		kv_is $s final f || return 1
	done
'

# A dead server that gossip still shows alive may be added back by the
# leader (Consul does), but as a non-voter only: it is never healthy, so
# it is never promoted.
test_expect_success CLUSTER 'a follower killed and removed at once is never a voter while dead' '
	for v in $survivors; do
		test "$v" = "$leader" || break
	done &&
	dead2=$v &&
	rest=$(for s in $survivors; do
		test $s = $dead2 || printf "%s " $s; done) &&
	kill9 "$dead2" &&
	api_on "$leader" DELETE "/v1/operator/raft/peer?address=$(agent_addr "$dead2"):8300" &&
	expect_status 200 &&
	never_voter "$dead2" 8
'

test_expect_success CLUSTER 'the three others still serve writes and reads' '
	wait_leader 15 $rest &&
	for s in $rest; do
		api_on $s PUT /v1/kv/last/$s --data-binary $s &&
		expect_body true || return 1
	done &&
	for s in $rest; do
		for k in $rest; do
			kv_is $s last/$k $k || return 1
		done
	done
'

test_expect_success 'SIGTERM: the servers still running exit 0' '
	stop_agents TERM $(running_agents s1 s2 s3 s4 s5)
'

test_done
