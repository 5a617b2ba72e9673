#!/bin/sh
test_description='Raft: quorum loss, full restart without a new bootstrap, peers.json and raft recover'
. ./lib.sh

# s1..s3 are started with flags only (-server -bootstrap-expect=3 and a
# -retry-join per server); c1 is a client agent.
TEST_SERVERS="s1 s2 s3"
reserve_agents s1 s2 s3 c1

# others NAME: the servers other than NAME, space separated.
others () {
	for o_ in s1 s2 s3; do
		test "$o_" = "$1" || printf '%s ' "$o_"
	done
}

# dump NAME FILE [QUERY]: the whole store as NAME answers it, canonical.
dump () {
	api_on "$1" GET "/v1/kv/?recurse${3:+&$3}" &&
	expect_status 200 &&
	json_canon out >"$2"
}

# timed NAME METHOD PATH [curl args]: api_on, and the time it took in
# $took_ms.
timed () {
	tm_t0=$(now_ms)
	api_on "$@"
	tm_rc=$?
	took_ms=$(( $(now_ms) - tm_t0 ))
	echo "$2 $3 on $1: HTTP $status after $took_ms ms"
	return $tm_rc
}

# no_leader_error [PREFIX]: the last answer was 500 "PREFIXNo cluster
# leader", within 15 s (a request is held up to 7 s for a leader).
no_leader_error () {
	expect_status 500 &&
	expect_body "${1-}No cluster leader" &&
	test "$took_ms" -lt 15000
}

test_expect_success 'setup: three servers (-bootstrap-expect=3) and a client' '
	start_servers -bootstrap-expect=3 &&
	TEST_AGENT_WAIT=http start_agent c1 -datacenter=dc1 \
		-retry-interval=1s $(retry_join_flags s1 s2 s3)
'

test_expect_success 'setup: a leader, known to every agent' '
	wait_leader 30 s1 s2 s3 c1 &&
	test_set_prereq CLUSTER
'

test_expect_success CLUSTER 'setup: keys written, replicated to every server' '
	for i in 1 2 3 4 5; do
		api_on "$leader" PUT /v1/kv/q/k$i --data-binary v$i &&
		expect_body true || return 1
	done &&
	for s in s1 s2 s3; do
		poll_until 10 kv_is $s q/k5 v5 stale || return 1
	done
'

# Quorum loss: both followers die; the old leader must step down.
test_expect_success CLUSTER 'kill -9 of both followers: the survivor loses its leadership' '
	survivor=$leader &&
	set -- $(others "$survivor") &&
	lost1=$1 lost2=$2 &&
	kill9 "$lost1" &&
	kill9 "$lost2" &&
	stepdown_t0=$(now_ms) &&
	poll_until 20 no_leader "$survivor" &&
	stepdown_ms=$(( $(now_ms) - stepdown_t0 ))
'
test -n "$stepdown_ms" && echo "# $survivor knew it had no quorum ${stepdown_ms} ms after the kills"

test_expect_success CLUSTER 'PUT on the survivor: 500 "No cluster leader" (after holding)' '
	timed "$survivor" PUT /v1/kv/q/lost --data-binary x &&
	no_leader_error
'

test_expect_success CLUSTER 'default GET on the survivor: 500 "No cluster leader"' '
	timed "$survivor" GET /v1/kv/q/k1 &&
	no_leader_error
'

test_expect_success CLUSTER '?consistent GET on the survivor: 500 "No cluster leader"' '
	timed "$survivor" GET "/v1/kv/q/k1?consistent" &&
	no_leader_error
'

test_expect_success CLUSTER '?stale GET on the survivor: the data, KnownLeader false' '
	kv_is "$survivor" q/k1 v1 stale &&
	header X-Consul-KnownLeader >actual &&
	echo false >expect &&
	test_cmp expect actual &&
	test -n "$(header X-Consul-LastContact)" &&
	kv_is "$survivor" q/k5 v5 stale &&
	api_on "$survivor" GET /v1/kv/q/lost?stale &&
	expect_status 404
'

test_expect_success CLUSTER 'the survivor still lists the three servers (peers, ?stale configuration)' '
	rpc_addrs s1 s2 s3 >expect &&
	raft_peers "$survivor" >actual &&
	test_cmp expect actual &&
	raft_config "$survivor" "?stale" >actual &&
	for s in s1 s2 s3; do
		echo "$s $(agent_addr $s):8300 voter -" || return 1
	done >expect &&
	test_cmp expect actual
'

# A client forwards to a server; the error keeps Consul's prefix. The
# client may first try a dead server, hence the retries.
test_expect_success CLUSTER 'the client: 500 "rpc error making call: No cluster leader"' '
	poll_until 45 eval "timed c1 PUT /v1/kv/q/viaclient --data-binary x &&
		no_leader_error \"rpc error making call: \"" &&
	poll_until 45 eval "timed c1 GET /v1/kv/q/k1 &&
		no_leader_error \"rpc error making call: \""
'

test_expect_success CLUSTER 'one lost server back on its data dir: a leader again, writes work' '
	relaunch_agent "$lost1" &&
	wait_leader 30 "$survivor" "$lost1" &&
	api_on "$survivor" PUT /v1/kv/q/back --data-binary b &&
	expect_status 200 &&
	expect_body true &&
	kv_is "$lost1" q/back b
'

test_expect_success CLUSTER 'the other lost server back: it catches up' '
	relaunch_agent "$lost2" &&
	poll_until 30 kv_is "$lost2" q/back b stale &&
	wait_leader 15 s1 s2 s3 c1 &&
	api_on c1 PUT /v1/kv/q/viaclient --data-binary c &&
	expect_status 200 &&
	expect_body true &&
	poll_until 10 kv_is "$lost2" q/viaclient c stale
'

# Full restart. A server whose data dir holds Raft state never
# bootstraps again: alone, it stays without a leader.
test_expect_success CLUSTER 'full stop: SIGTERM to the three servers, each exits 0' '
	for s in s1 s2 s3; do
		poll_until 10 kv_is $s q/viaclient c stale || return 1
	done &&
	dump "$leader" before.json &&
	api_on "$leader" GET /v1/kv/q/viaclient &&
	idx_before=$(header X-Consul-Index) &&
	stop_agents TERM s1 s2 s3
'

test_expect_success CLUSTER 's1 restarted alone (-bootstrap-expect=3): no leader, 3 servers' '
	relaunch_agent s1 &&
	no_leader_for 8 s1 &&
	raft_config s1 "?stale" >actual &&
	for s in s1 s2 s3; do
		echo "$s $(agent_addr $s):8300 voter -" || return 1
	done >expect &&
	test_cmp expect actual
'

test_expect_success CLUSTER 's2 and s3 restarted: the same cluster, every key and index kept' '
	relaunch_agent s2 &&
	relaunch_agent s3 &&
	wait_leader 30 s1 s2 s3 c1 &&
	rpc_addrs s1 s2 s3 >expect &&
	for a in s1 s2 s3; do
		raft_peers $a >actual &&
		test_cmp expect actual &&
		dump $a after.json &&
		test_cmp before.json after.json || return 1
	done &&
	api_on s2 GET /v1/kv/q/viaclient &&
	test "$(header X-Consul-Index)" -ge "$idx_before" &&
	api_on s3 PUT /v1/kv/q/restarted --data-binary r &&
	expect_body true
'

# peers.json (Consul's outage recovery): two servers are gone for good;
# the survivor is stopped, given a peers.json naming only itself, and
# started: it leads alone with all the data, and consumes the file.
test_expect_success CLUSTER 'setup: a last key on every server, then two servers lost for good' '
	api_on s1 PUT /v1/kv/q/last --data-binary L &&
	expect_body true &&
	for s in s1 s2 s3; do
		poll_until 10 kv_is $s q/last L stale || return 1
	done &&
	dump s1 before-recovery.json &&
	kill9 s2 &&
	kill9 s3 &&
	poll_until 30 gossip_status_is c1 s2 failed &&
	poll_until 30 gossip_status_is c1 s3 failed &&
	stop_agent s1 TERM
'

test_expect_success CLUSTER 'peers.json with s1 only: s1 starts alone and leads' '
	printf "[{\"id\":\"%s\",\"address\":\"%s:8300\",\"non_voter\":false}]\n" \
		"$(cat s1/node-id)" "$s1_ADDR" >s1/raft/peers.json &&
	relaunch_agent s1 &&
	wait_leader 30 s1 &&
	test "$leader" = s1
'

test_expect_success CLUSTER 'after peers.json: old data there, new writes work, one peer' '
	dump s1 after-recovery.json &&
	test_cmp before-recovery.json after-recovery.json &&
	api_on s1 PUT /v1/kv/q/recovered --data-binary yes &&
	expect_status 200 &&
	expect_body true &&
	kv_is s1 q/recovered yes &&
	raft_peers s1 >actual &&
	rpc_addrs s1 >expect &&
	test_cmp expect actual &&
	raft_config s1 >actual &&
	echo "s1 $s1_ADDR:8300 voter leader" >expect &&
	test_cmp expect actual
'

test_expect_success CLUSTER 'peers.json was consumed (removed from raft/)' '
	test_path_is_missing s1/raft/peers.json
'

# `proconsul operator raft recover -data-dir=DIR` does the same for a
# stopped server, by default with that server alone. s2's data dir (lost
# above) still holds the three-server state and q/last. s1 and c1 are
# stopped first: no agent is left to vouch for a dead server in gossip.
if proconsul operator raft recover -h >/dev/null 2>&1; then
	test_set_prereq RAFT_RECOVER
else
	# TODO: remove once `operator raft recover` has landed.
	echo "# operator raft recover is not implemented yet: its tests are skipped"
fi

test_expect_success CLUSTER,RAFT_RECOVER 'operator raft recover on s2 (stopped): exit 0' '
	stop_agents TERM s1 c1 &&
	{ proconsul operator raft recover -data-dir="$TRASH/s2" >out 2>err
	  rc=$?; } &&
	cat out err &&
	test "$rc" = 0 &&
	test_file_not_empty s2/raft/peers.json &&
	test_set_prereq RECOVERED
'

test_expect_success CLUSTER,RAFT_RECOVER,RECOVERED 's2 starts alone and leads, with the old data' '
	relaunch_agent s2 &&
	wait_leader 30 s2 &&
	test "$leader" = s2 &&
	dump s2 after-recover-cmd.json &&
	test_cmp before-recovery.json after-recover-cmd.json &&
	api_on s2 PUT /v1/kv/q/recovered2 --data-binary yes &&
	expect_status 200 &&
	expect_body true &&
	raft_peers s2 >actual &&
	rpc_addrs s2 >expect &&
	test_cmp expect actual &&
	test_path_is_missing s2/raft/peers.json
'

test_expect_success 'SIGTERM: the agents still running exit 0' '
	stop_agents TERM $(running_agents c1 s1 s2 s3)
'

test_done
