#!/bin/sh
test_description='Raft: three servers as in the reference deployment elect one leader, forward writes, fail over'
. ./lib.sh

# The reference deployment (shared/reference/deployment.md), verbatim but
# for the addresses: every host runs `agent -server -bootstrap-expect=3
# ... -config-dir=DIR` and DIR/consulha.hcl names all three hosts in
# retry_join (with the default retry_interval). c1 is a client agent on
# another host, joining the servers.
reserve_agents s1 s2 s3 c1

mkdir config &&
cat >config/consulha.hcl <<EOF || test_bail_ "cannot write config/consulha.hcl"
server = true
retry_join = ["$s1_ADDR", "$s2_ADDR", "$s3_ADDR"]
EOF

# deployed NAME: start server NAME as the runbook does.
deployed () {
	TEST_AGENT_WAIT=http start_agent "$1" -server -http-port=8500 \
		-bootstrap-expect=3 -datacenter=dc1 -ui \
		-config-dir="$TRASH/config"
}

# followers: the servers that are not $leader, space separated.
followers () {
	for f_ in s1 s2 s3; do
		test "$f_" = "$leader" || printf '%s ' "$f_"
	done
}

# dump NAME FILE [QUERY]: the whole store as NAME answers it, canonical.
dump () {
	api_on "$1" GET "/v1/kv/?recurse${3:+&$3}" &&
	expect_status 200 &&
	json_canon out >"$2"
}

# servers_json: the Servers of the raft configuration in ./out, one
# canonical JSON object a line, sorted by Node.
servers_json () {
	json_get out 'join "\n", map { JSON::PP->new->canonical->encode($_) }
		sort { $a->{Node} cmp $b->{Node} } @{$j->{Servers}}'
}

# expect_servers_json: what servers_json must print for s1..s3 with
# $leader leading (IDs are the node-id files of their data dirs).
expect_servers_json () {
	for e_ in s1 s2 s3; do
		if test "$e_" = "$leader"; then e_l_=true; else e_l_=false; fi
		printf '{"Address":"%s:8300","ID":"%s","Leader":%s,"Node":"%s","ProtocolVersion":"3","Voter":true}\n' \
			"$(agent_addr "$e_")" "$(cat "$TRASH/$e_/node-id")" "$e_l_" "$e_"
	done
}

# health_ok NAME: /v1/operator/autopilot/health on NAME is 200, healthy,
# tolerates one failure and lists s1..s3 healthy voters, $leader leading.
health_ok () {
	api_on "$1" GET /v1/operator/autopilot/health &&
	expect_status 200 &&
	json_get out '$j->{Healthy} ? "healthy" : "unhealthy"' >actual &&
	json_get out '$j->{FailureTolerance}' >>actual &&
	json_get out 'join "\n", map {
		"$_->{Name} $_->{Address} "
		. ($_->{Healthy} ? "healthy" : "unhealthy")
		. ($_->{Voter} ? " voter" : " nonvoter")
		. ($_->{Leader} ? " leader" : " -") . " $_->{SerfStatus}" }
		sort { $a->{Name} cmp $b->{Name} } @{$j->{Servers}}' >>actual &&
	{
		echo healthy && echo 1 &&
		for h_ in s1 s2 s3; do
			if test "$h_" = "$leader"; then h_l_=leader; else h_l_=-; fi
			echo "$h_ $(agent_addr "$h_"):8300 healthy voter $h_l_ alive"
		done
	} >expect &&
	test_cmp expect actual
}

test_expect_success 'setup: three servers as in the runbook (consulha.hcl in -config-dir)' '
	formation_t0=$(now_ms) &&
	deployed s1 &&
	deployed s2 &&
	deployed s3
'

test_expect_success 'setup: a client agent joining the three servers' '
	TEST_AGENT_WAIT=http start_agent c1 -datacenter=dc1 \
		-retry-interval=1s $(retry_join_flags s1 s2 s3)
'

test_expect_success 'one leader, the same on every server' '
	wait_leader 30 s1 s2 s3 &&
	formation_ms=$(( $(now_ms) - formation_t0 )) &&
	test_set_prereq CLUSTER
'
test -n "$formation_ms" && echo "# cluster formed (leader $leader) ${formation_ms} ms after the first start"

test_expect_success CLUSTER '/v1/status/leader is a JSON string "IP:8300"' '
	api_on s1 GET /v1/status/leader &&
	expect_status 200 &&
	expect_body "\"$(agent_addr "$leader"):8300\"" &&
	test "$leader_addr" = "$(agent_addr "$leader"):8300"
'

test_expect_success CLUSTER 'the client agent names the same leader' '
	first_leader=$leader &&
	wait_leader 15 c1 s1 s2 s3 &&
	test "$leader" = "$first_leader"
'

test_expect_success CLUSTER '/v1/status/peers lists the three servers, on every agent' '
	rpc_addrs s1 s2 s3 >expect &&
	for a in s1 s2 s3 c1; do
		poll_until 10 eval "raft_peers $a >actual && test_cmp expect actual" ||
			return 1
	done
'

test_expect_success CLUSTER '/v1/operator/raft/configuration: three voters, Consul fields' '
	api_on "$leader" GET /v1/operator/raft/configuration &&
	expect_status 200 &&
	json_get out "join q(,), sort keys %\$j" >actual &&
	echo Index,Servers >expect &&
	test_cmp expect actual &&
	cfg_index=$(json_get out "\$j->{Index}") &&
	test "$cfg_index" -ge 1 &&
	servers_json >actual &&
	expect_servers_json >expect &&
	test_cmp expect actual
'

test_expect_success CLUSTER 'the configuration read through a follower, and ?stale on it' '
	expect_servers_json >expect &&
	for f in $(followers); do
		api_on "$f" GET /v1/operator/raft/configuration &&
		expect_status 200 &&
		servers_json >actual &&
		test_cmp expect actual &&
		poll_until 10 eval "api_on $f GET /v1/operator/raft/configuration?stale &&
			expect_status 200 && servers_json >actual &&
			test_cmp expect actual" || return 1
	done
'

test_expect_success CLUSTER 'PUT on a follower is forwarded to the leader: true' '
	set -- $(followers) &&
	api_on "$1" PUT /v1/kv/app/one --data-binary one &&
	expect_status 200 &&
	expect_body true &&
	api_on "$2" PUT /v1/kv/app/two --data-binary two &&
	expect_status 200 &&
	expect_body true
'

test_expect_success CLUSTER 'a request that already made 5 hops is not forwarded again' '
	set -- $(followers) &&
	api_on "$1" PUT /v1/kv/app/hops --data-binary x \
		-H "X-Proconsul-Hop: 5" &&
	! expect_status 200 &&
	api_on "$1" GET /v1/kv/app/hops &&
	expect_status 404
'

test_expect_success CLUSTER 'PUT on the leader and on the client agent: true' '
	api_on "$leader" PUT /v1/kv/app/three --data-binary three &&
	expect_status 200 &&
	expect_body true &&
	api_on c1 PUT /v1/kv/app/four --data-binary four &&
	expect_status 200 &&
	expect_body true
'

test_expect_success CLUSTER 'every agent reads every key at once (default consistency)' '
	for a in s1 s2 s3 c1; do
		kv_is $a app/one one &&
		kv_is $a app/two two &&
		kv_is $a app/three three &&
		kv_is $a app/four four || return 1
	done
'

test_expect_success CLUSTER '?stale on each server: its own copy, KnownLeader true, LastContact' '
	for s in s1 s2 s3; do
		poll_until 10 kv_is $s app/four four stale &&
		header X-Consul-KnownLeader >actual &&
		echo true >expect &&
		test_cmp expect actual &&
		lc=$(header X-Consul-LastContact) &&
		case $lc in ""|*[!0-9]*) echo "LastContact: \"$lc\""; false ;; esac ||
			return 1
	done &&
	kv_is "$leader" app/one one stale &&
	test "$(header X-Consul-LastContact)" = 0
'

test_expect_success CLUSTER '?stale and ?consistent through every agent' '
	for a in s1 s2 s3 c1; do
		poll_until 10 kv_is $a app/three three stale &&
		kv_is $a app/three three consistent &&
		header X-Consul-KnownLeader >actual &&
		echo true >expect &&
		test_cmp expect actual || return 1
	done
'

test_expect_success CLUSTER 'X-Consul-Index grows with a write, the same on every agent' '
	api_on s1 GET /v1/kv/app/one &&
	idx1=$(header X-Consul-Index) &&
	test "$idx1" -ge 1 &&
	set -- $(followers) &&
	api_on "$2" PUT /v1/kv/app/one --data-binary one-v2 &&
	expect_body true &&
	for a in s1 s2 s3 c1; do
		api_on $a GET /v1/kv/app/one &&
		expect_status 200 &&
		idx=$(header X-Consul-Index) &&
		test "$idx" -gt "$idx1" &&
		json_get out "\$j->[0]{ModifyIndex}" >actual &&
		echo "$idx" >expect &&
		test_cmp expect actual || return 1
	done
'

# The failover: kill -9 of the leader, and at the same moment a PUT to a
# follower, which must be held during the election, then succeed.
test_expect_success CLUSTER 'kill -9 of the leader: another server leads within 15 s' '
	old_leader=$leader &&
	set -- $(followers) &&
	f1=$1 f2=$2 &&
	kill9 "$old_leader" &&
	failover_t0=$(now_ms) &&
	{ test_curl -m 30 -X PUT --data-binary during -o held.out \
		-w "%{http_code}\n" "$(agent_http "$f1")/v1/kv/app/during" \
		>held.status 2>held.err & } &&
	held_pid=$! &&
	wait_leader 15 "$f1" "$f2" &&
	failover_ms=$(( $(now_ms) - failover_t0 )) &&
	test "$leader" != "$old_leader"
'
test -n "$failover_ms" && echo "# failover: $leader leads ${failover_ms} ms after kill -9 of $old_leader"

# A killed process has its sockets closed by the kernel: the followers
# see the stream to their leader close and cut their election timer to
# 0-300 ms instead of the randomized 1-2 s (raftglue.c: peer_gone). The
# minimum election timeout is 1 s: a campaign within 800 ms of the
# closure comes from that path.
test_expect_success CLUSTER 'the new leader saw the old one'"'"'s stream close and campaigned at once' '
	agent_log "$leader" | awk "
		function ms(t, a) {
			split(substr(t, 12, 12), a, \":\")
			return int((a[1] * 3600 + a[2] * 60 + a[3]) * 1000)
		}
		/the connection to the leader closed/ { c = ms(\$1); next }
		c && /entering Candidate state/ { print ms(\$1) - c; exit }
	" >gap &&
	test_file_not_empty gap &&
	echo "# campaign $(cat gap) ms after the stream to the leader closed" &&
	test "$(cat gap)" -lt 800
'

test_expect_success CLUSTER 'a PUT sent during the election was held, then succeeded' '
	wait_pid "$held_pid" 30 &&
	held_ms=$(( $(now_ms) - failover_t0 )) &&
	echo "held PUT answered after about $held_ms ms" &&
	echo 200 >expect &&
	test_cmp expect held.status &&
	printf true >expect &&
	test_cmp expect held.out &&
	kv_is "$f2" app/during during
'

test_expect_success CLUSTER 'writes through both survivors and the client work' '
	api_on "$f1" PUT /v1/kv/app/after1 --data-binary a1 &&
	expect_status 200 &&
	expect_body true &&
	api_on "$f2" PUT /v1/kv/app/after2 --data-binary a2 &&
	expect_status 200 &&
	expect_body true &&
	poll_until 20 eval "api_on c1 PUT /v1/kv/app/afterc --data-binary ac &&
		expect_status 200 && expect_body true"
'

test_expect_success CLUSTER 'the survivors and the client read them' '
	for a in "$f1" "$f2" c1; do
		kv_is $a app/after1 a1 &&
		kv_is $a app/after2 a2 &&
		kv_is $a app/afterc ac &&
		kv_is $a app/one one-v2 || return 1
	done
'

test_expect_success CLUSTER 'the killed server restarts on its data dir, rejoins, catches up' '
	relaunch_agent "$old_leader" &&
	poll_until 30 kv_is "$old_leader" app/afterc ac stale &&
	kv_is "$old_leader" app/during during stale &&
	wait_leader 15 s1 s2 s3 &&
	rpc_addrs s1 s2 s3 >expect &&
	raft_peers "$old_leader" >actual &&
	test_cmp expect actual
'

test_expect_success CLUSTER 'autopilot health: 200, healthy, failure tolerance 1' '
	poll_until 20 health_ok "$leader" &&
	json_get out "join q(,), sort keys %{\$j->{Servers}[0]}" >actual &&
	echo Address,Healthy,ID,LastContact,LastIndex,LastTerm,Leader,Name,SerfStatus,StableSince,Version,Voter >expect &&
	test_cmp expect actual &&
	set -- $(followers) &&
	health_ok "$1"
'

test_expect_success CLUSTER 'POST /v1/operator/raft/transfer-leader moves the leadership' '
	old_leader=$leader &&
	api_on "$leader" POST /v1/operator/raft/transfer-leader &&
	expect_status 200 &&
	json_get out "\$j->{Success}" >actual &&
	echo true >expect &&
	test_cmp expect actual &&
	wait_new_leader 15 "$old_leader" s1 s2 s3
'

test_expect_success CLUSTER 'after the transfer, writes through every agent and reads' '
	for a in s1 s2 s3 c1; do
		api_on $a PUT /v1/kv/moved/$a --data-binary "$a" &&
		expect_status 200 &&
		expect_body true || return 1
	done &&
	for a in s1 s2 s3 c1; do
		kv_is $a moved/s1 s1 &&
		kv_is $a moved/c1 c1 || return 1
	done
'

# A burst of writes to the leader, 40 connections at once (curl
# --parallel): the leader hands a loop turn's commands to libraft in one
# batch and completes each from its own entry, so every writer must get
# its own answer. 30 PUTs of distinct keys all answer true and store
# their own value; of 10 ?cas=0 PUTs of one key exactly one answers true,
# and the stored value is that writer's.
test_expect_success CLUSTER 'a burst of 40 concurrent writes: each writer gets its own answer' '
	lurl=$(agent_http "$leader") &&
	: >burst.cfg &&
	i=0 &&
	while [ $i -lt 40 ]; do
		if [ $i -lt 30 ]; then k=burst/k$i; q=; else k=burst/cas; q="?cas=0"; fi &&
		{ [ $i -eq 0 ] || echo next; } >>burst.cfg &&
		printf "url = \"%s/v1/kv/%s%s\"\nrequest = PUT\ndata = \"v%s\"\noutput = burst.%s\nmax-time = 20\nnoproxy = \"*\"\n" \
			"$lurl" "$k" "$q" "$i" "$i" >>burst.cfg &&
		i=$((i + 1)) || return 1
	done &&
	curl -q -sS --parallel --parallel-immediate --parallel-max 40 -K burst.cfg &&
	i=0 && wins= &&
	while [ $i -lt 40 ]; do
		b=$(cat burst.$i) &&
		if [ $i -lt 30 ]; then
			test "$b" = true || { echo "PUT $i: $b"; return 1; }
		else
			case $b in
			true) wins="$wins $i" ;;
			false) ;;
			*) echo "cas PUT $i: $b"; return 1 ;;
			esac
		fi &&
		i=$((i + 1)) || return 1
	done &&
	test "$(echo $wins | wc -w)" -eq 1 || { echo "cas winners:$wins"; return 1; }
	i=0 &&
	while [ $i -lt 30 ]; do
		kv_is "$leader" burst/k$i v$i || return 1
		i=$((i + 1))
	done &&
	kv_is "$leader" burst/cas v$(echo $wins)
'

# The supervisor's stop (stopsignal=QUIT) of every host, then a start of
# every host: nothing is lost, the indexes do not go back.
test_expect_success CLUSTER 'full stop with SIGQUIT: every server exits 0' '
	dump "$leader" before.json &&
	api_on "$leader" GET /v1/kv/app/one &&
	idx_before=$(header X-Consul-Index) &&
	stop_agents QUIT s1 s2 s3
'

test_expect_success CLUSTER 'full start: a leader again, every key and index kept' '
	relaunch_agent s1 &&
	relaunch_agent s2 &&
	relaunch_agent s3 &&
	wait_leader 30 s1 s2 s3 c1 &&
	for a in s1 s2 s3 c1; do
		dump $a after.json &&
		test_cmp before.json after.json || return 1
	done &&
	api_on s2 GET /v1/kv/app/one &&
	test "$(header X-Consul-Index)" -ge "$idx_before" &&
	api_on c1 PUT /v1/kv/app/restarted --data-binary yes &&
	expect_body true &&
	kv_is s3 app/restarted yes
'

test_expect_success 'SIGTERM: the client and the servers still running exit 0' '
	stop_agents TERM $(running_agents c1 s1 s2 s3)
'

test_done
