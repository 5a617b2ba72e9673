#!/bin/sh
test_description='sessions: API shapes, KV acquire/release, release vs delete, lock-delay, renew, TTL expiry, check and node invalidation; lock hand-over in a 3-server cluster'
. ./lib.sh

test_have_prereq PERL || { skip_all='needs perl JSON::PP'; test_done; }

# jget EXPR: json_get on ./out.
jget () {
	json_get out "$1"
}

# create BODY: PUT /v1/session/create with BODY; the ID goes to $sid.
create () {
	api PUT /v1/session/create ${1:+--data-binary "$1"} &&
	expect_status 200 &&
	sid=$(jget '$j->{ID}') &&
	echo "$sid" | grep -Eq '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
}

# gone ID: /v1/session/info/ID answers [].
gone () {
	api GET "/v1/session/info/$1" && expect_status 200 && expect_body "[]"
}

# present ID: /v1/session/info/ID answers one session.
present () {
	api GET "/v1/session/info/$1" && expect_status 200 &&
	test "$(jget 'scalar @$j')" = 1
}

# serf_passing NODE: NODE is in the catalog with serfHealth passing.
serf_passing () {
	api GET "/v1/health/node/$1" && expect_status 200 &&
	test "$(jget 'join ",", map { "$_->{CheckID}=$_->{Status}" } grep { $_->{CheckID} eq "serfHealth" } @$j')" = "serfHealth=passing"
}

# create_later: a session create in a second, in the background ($bg).
create_later () {
	( sleep 1; test_curl -X PUT "$CONSUL_HTTP_ADDR/v1/session/create" ) \
		>/dev/null 2>&1 &
	bg=$!
}

# holder KEY: the Session holding KEY ("null" when free).
holder () {
	api GET "/v1/kv/$1" && expect_status 200 && jget '$j->[0]{Session}'
}

test_expect_success 'setup: one server (not -dev: compact JSON)' '
	start_agent a1 -server -bootstrap &&
	poll_until 30 serf_passing a1
'

test_expect_success 'create with defaults: {"ID"}, and info in Consul shape' '
	create &&
	json_get out "join q(,), sort keys %\$j" >keys &&
	echo ID >expect && test_cmp expect keys &&
	api GET "/v1/session/info/$sid" &&
	expect_status 200 &&
	test "$(header X-Consul-Index)" -ge 1 &&
	test "$(jget "join q(,), map { \$_ } keys %{\$j->[0]}" | tr , "\n" | sort | tr "\n" ,)" = "Behavior,CreateIndex,ID,LockDelay,ModifyIndex,Name,Node,NodeChecks,ServiceChecks,TTL," &&
	test "$(jget "\$j->[0]{ID}")" = "$sid" &&
	test "$(jget "\$j->[0]{Node}")" = a1 &&
	test "$(jget "\$j->[0]{Name}")" = "" &&
	test "$(jget "\$j->[0]{LockDelay}")" = 15000000000 &&
	test "$(jget "\$j->[0]{Behavior}")" = release &&
	test "$(jget "\$j->[0]{TTL}")" = "" &&
	test "$(jget "\$j->[0]{NodeChecks}")" = "[\"serfHealth\"]" &&
	test "$(jget "\$j->[0]{ServiceChecks}")" = null &&
	test "$(jget "\$j->[0]{CreateIndex}")" = "$(jget "\$j->[0]{ModifyIndex}")" &&
	default_sid=$sid
'

test_expect_success 'list and node list it; another node and an unknown ID: []' '
	api GET /v1/session/list && expect_status 200 &&
	grep -F -q "\"$default_sid\"" out &&
	api GET /v1/session/node/a1 && expect_status 200 &&
	grep -F -q "\"$default_sid\"" out &&
	api GET /v1/session/node/nosuchnode && expect_status 200 &&
	expect_body "[]" &&
	gone 00000000-0000-0000-0000-000000000000
'

test_expect_success 'create: Name, LockDelay forms, Behavior, TTL, checks' '
	create "{\"Name\":\"web-lock\",\"LockDelay\":\"3s\",\"Behavior\":\"delete\",\"TTL\":\"30s\",\"Checks\":[]}" &&
	api GET "/v1/session/info/$sid" &&
	test "$(jget "\$j->[0]{Name}")" = web-lock &&
	test "$(jget "\$j->[0]{LockDelay}")" = 3000000000 &&
	test "$(jget "\$j->[0]{Behavior}")" = delete &&
	test "$(jget "\$j->[0]{TTL}")" = 30s &&
	test "$(jget "\$j->[0]{NodeChecks}")" = "[]" &&
	create "{\"LockDelay\":5}" &&
	api GET "/v1/session/info/$sid" &&
	test "$(jget "\$j->[0]{LockDelay}")" = 5000000000 &&
	create "{\"lockdelay\":2500000000,\"NodeChecks\":[]}" &&
	api GET "/v1/session/info/$sid" &&
	test "$(jget "\$j->[0]{LockDelay}")" = 2500000000 &&
	test "$(jget "\$j->[0]{NodeChecks}")" = "[]"
'

test_expect_success 'create: bad input is refused with a message' '
	api PUT /v1/session/create --data-binary "{\"TTL\":\"5s\"}" &&
	expect_status 400 &&
	test_grep "^Invalid Session TTL .5000000000., must be between \[10s=24h0m0s\]" out &&
	api PUT /v1/session/create --data-binary "{\"TTL\":\"25h\"}" &&
	expect_status 400 &&
	api PUT /v1/session/create --data-binary "{\"TTL\":\"soon\"}" &&
	expect_status 400 && test_grep "^Session TTL .soon. invalid" out &&
	api PUT /v1/session/create --data-binary "{\"Behavior\":\"keep\"}" &&
	expect_status 400 && test_grep "^Invalid Behavior setting .keep." out &&
	api PUT /v1/session/create --data-binary "{not json" &&
	expect_status 400 && test_grep "^Request decode failed" out &&
	api PUT /v1/session/create --data-binary "{\"LockDelay\":\"x\"}" &&
	expect_status 400 &&
	api PUT /v1/session/create --data-binary "{\"Node\":\"ghost\"}" &&
	expect_status 500 && test_grep "Missing node registration" out &&
	api PUT /v1/session/create --data-binary "{\"NodeChecks\":[\"nochk\"]}" &&
	expect_status 500 && test_grep "Missing check .nochk. registration" out &&
	api PUT /v1/session/destroy/ && expect_status 400 &&
	api GET /v1/session/info/ && expect_status 400 &&
	api GET /v1/session/node/ && expect_status 400
'

test_expect_success 'kv acquire / release: true/false, Session and LockIndex' '
	create "{\"LockDelay\":\"0s\"}" && s1=$sid &&
	create "{\"LockDelay\":\"0s\"}" && s2=$sid &&
	api PUT "/v1/kv/svc/leader?acquire=$s1" --data-binary one &&
	expect_status 200 && expect_body true &&
	api GET /v1/kv/svc/leader && expect_status 200 &&
	test "$(jget "\$j->[0]{Session}")" = "$s1" &&
	test "$(jget "\$j->[0]{LockIndex}")" = 1 &&
	api PUT "/v1/kv/svc/leader?acquire=$s1" --data-binary again &&
	expect_body true &&
	api GET /v1/kv/svc/leader && test "$(jget "\$j->[0]{LockIndex}")" = 1 &&
	api PUT "/v1/kv/svc/leader?acquire=$s2" --data-binary two &&
	expect_status 200 && expect_body false &&
	api PUT "/v1/kv/svc/leader?release=$s2" && expect_body false &&
	api PUT "/v1/kv/svc/leader?release=$s1" --data-binary freed &&
	expect_body true &&
	api GET /v1/kv/svc/leader &&
	test "$(jget "\$j->[0]{Session}")" = null &&
	test "$(jget "\$j->[0]{LockIndex}")" = 1 &&
	api GET "/v1/kv/svc/leader?raw" && expect_body freed &&
	api PUT "/v1/kv/svc/leader?acquire=$s2" && expect_body true &&
	api GET /v1/kv/svc/leader && test "$(jget "\$j->[0]{LockIndex}")" = 2 &&
	api PUT "/v1/kv/svc/other?acquire=00000000-1111-2222-3333-444444444444" &&
	expect_status 500 &&
	test_grep "invalid session \"00000000-1111-2222-3333-444444444444\"" out &&
	api PUT "/v1/kv/svc/other?acquire=$s1&release=$s1" && expect_status 400 &&
	test_grep "^Conflicting flags" out
'

test_expect_success 'destroy, behavior release: the keys stay, unlocked' '
	api PUT "/v1/kv/rel/a?acquire=$s2" --data-binary va && expect_body true &&
	api PUT "/v1/session/destroy/$s2" && expect_status 200 &&
	expect_body true &&
	gone "$s2" &&
	api GET /v1/kv/rel/a && expect_status 200 &&
	test "$(jget "\$j->[0]{Session}")" = null &&
	api GET "/v1/kv/rel/a?raw" && expect_body va &&
	api GET /v1/kv/svc/leader && test "$(jget "\$j->[0]{Session}")" = null
'

test_expect_success 'destroy, behavior delete: the held keys go' '
	create "{\"Behavior\":\"delete\",\"LockDelay\":0}" && sd=$sid &&
	api PUT "/v1/kv/del/a?acquire=$sd" --data-binary x && expect_body true &&
	api PUT /v1/kv/del/b --data-binary y && expect_body true &&
	api PUT "/v1/session/destroy/$sd" && expect_body true &&
	api GET /v1/kv/del/a && expect_status 404 &&
	api GET "/v1/kv/del/b?raw" && expect_status 200 && expect_body y
'

test_expect_success 'lock-delay: the released key cannot be taken for LockDelay' '
	create "{\"LockDelay\":\"3s\"}" && sa=$sid &&
	create "{\"LockDelay\":\"0s\"}" && sb=$sid &&
	api PUT "/v1/kv/ld/k?acquire=$sa" && expect_body true &&
	api PUT "/v1/session/destroy/$sa" && expect_body true &&
	t0=$(now_ms) &&
	api PUT "/v1/kv/ld/k?acquire=$sb" && expect_status 200 &&
	expect_body false &&
	api GET /v1/kv/ld/k && test "$(jget "\$j->[0]{Session}")" = null &&
	poll_until 10 eval "api PUT \"/v1/kv/ld/k?acquire=$sb\" && expect_body true" &&
	waited=$(( $(now_ms) - t0 )) &&
	test "$waited" -ge 2500
'
test -n "$waited" && echo "# lock-delay: acquired ${waited} ms after the destroy (LockDelay 3s)"

test_expect_success 'renew: 404 for an unknown session, else the session array' '
	api PUT /v1/session/renew/00000000-0000-0000-0000-000000000000 &&
	expect_status 404 &&
	expect_body "Session id '"'"'00000000-0000-0000-0000-000000000000'"'"' not found" &&
	api PUT "/v1/session/renew/$sb" && expect_status 200 &&
	test "$(jget "scalar @\$j")" = 1 &&
	test "$(jget "\$j->[0]{ID}")" = "$sb"
'

test_expect_success 'a blocking list wakes on a create' '
	api GET /v1/session/list && idx=$(header X-Consul-Index) &&
	create_later &&
	t0=$(now_ms) &&
	api GET "/v1/session/list?index=$idx&wait=20s" && expect_status 200 &&
	el=$(( $(now_ms) - t0 )) &&
	wait "$bg" &&
	test "$(header X-Consul-Index)" -gt "$idx" &&
	test "$el" -lt 15000
'

test_expect_success 'a session bound to a check is invalidated when it goes critical' '
	api PUT /v1/agent/check/register --data-binary "{\"Name\":\"guard\",\"TTL\":\"1h\"}" &&
	expect_status 200 &&
	api PUT /v1/agent/check/pass/guard && expect_status 200 &&
	poll_until 20 eval "api GET /v1/health/node/a1 && grep -q \"\\\"guard\\\".*passing\" out" &&
	create "{\"NodeChecks\":[\"serfHealth\",\"guard\"],\"LockDelay\":0}" && sg=$sid &&
	api PUT "/v1/kv/guarded?acquire=$sg" && expect_body true &&
	api PUT /v1/agent/check/fail/guard && expect_status 200 &&
	poll_until 20 gone "$sg" &&
	api GET /v1/kv/guarded && test "$(jget "\$j->[0]{Session}")" = null
'

# TTL: invalidated once 2 x TTL passed without a renewal (Consul's
# grace); a renewed one lives on.
test_expect_success 'TTL: a session not renewed expires after 2 x TTL, a renewed one lives' '
	create "{\"TTL\":\"10s\",\"LockDelay\":0}" && st=$sid &&
	create "{\"TTL\":\"10s\",\"LockDelay\":0}" && sr=$sid &&
	t0=$(now_ms) &&
	api PUT "/v1/kv/ttl/k?acquire=$st" && expect_body true &&
	i=0 &&
	while test $i -lt 60 && present "$st"
	do
		api PUT "/v1/session/renew/$sr" && expect_status 200 &&
		sleep 1
		i=$((i + 1))
	done &&
	ttl_ms=$(( $(now_ms) - t0 )) &&
	gone "$st" &&
	test "$ttl_ms" -ge 15000 && test "$ttl_ms" -lt 30000 &&
	present "$sr" &&
	api GET /v1/kv/ttl/k && test "$(jget "\$j->[0]{Session}")" = null
'
test -n "$ttl_ms" && echo "# TTL 10s: the session was gone ${ttl_ms} ms after its creation"

test_expect_success 'teardown: the server stops cleanly' '
	stop_agent a1 &&
	check_sanitizer_log a1
'

# ---- a 3-server cluster: hand-over when the holder's node is killed ----

TEST_SERVERS="s1 s2 s3"

# others_of NAME: the two servers that are not NAME.
others_of () {
	for o_ in s1 s2 s3; do
		test "$o_" = "$1" || printf '%s ' "$o_"
	done
}

test_expect_success 'setup: three servers elect a leader' '
	start_servers -bootstrap-expect=3 &&
	wait_leader 60 s1 s2 s3 &&
	for n in s1 s2 s3; do API_ADDR=$(agent_http $leader) poll_until 30 serf_passing $n || return 1; done &&
	test_set_prereq CLUSTER
'

test_expect_success CLUSTER 'a session created through a follower belongs to that follower' '
	set -- $(others_of "$leader") &&
	holder_node=$1 && waiter_node=$2 &&
	API_ADDR=$(agent_http $holder_node) create "{\"LockDelay\":\"1s\"}" &&
	hs=$sid &&
	api_on "$leader" GET "/v1/session/info/$hs" &&
	test "$(jget "\$j->[0]{Node}")" = "$holder_node" &&
	API_ADDR=$(agent_http $waiter_node) create "{\"LockDelay\":\"1s\"}" &&
	ws=$sid &&
	api_on $holder_node PUT "/v1/kv/cluster/lock?acquire=$hs" --data-binary "$holder_node" &&
	expect_body true &&
	api_on $waiter_node PUT "/v1/kv/cluster/lock?acquire=$ws" --data-binary "$waiter_node" &&
	expect_body false
'

test_expect_success CLUSTER 'a TTL session on the leader, and the leader holding a second lock' '
	api_on "$leader" PUT /v1/session/create --data-binary "{\"TTL\":\"10s\",\"LockDelay\":0,\"NodeChecks\":[]}" &&
	expect_status 200 && ttl_sid=$(jget "\$j->{ID}") &&
	api_on "$leader" PUT "/v1/session/create" --data-binary "{\"LockDelay\":0}" &&
	expect_status 200 && ls=$(jget "\$j->{ID}") &&
	api_on "$leader" PUT "/v1/kv/cluster/second?acquire=$ls" && expect_body true
'

test_expect_success CLUSTER 'kill -9 of the holder: the waiter takes the lock over' '
	kill9 $holder_node &&
	t0=$(now_ms) &&
	poll_until 60 eval "api_on $waiter_node PUT \"/v1/kv/cluster/lock?acquire=$ws\" --data-binary $waiter_node && expect_body true" &&
	handover_ms=$(( $(now_ms) - t0 )) &&
	api_on $waiter_node GET /v1/kv/cluster/lock &&
	test "$(jget "\$j->[0]{Session}")" = "$ws" &&
	api_on $waiter_node GET "/v1/session/info/$hs" && expect_body "[]"
'
test -n "$handover_ms" && echo "# lock handed over ${handover_ms} ms after kill -9 of the holder"

# three_voters NAME: NAME's own view of the Raft configuration (?stale)
# has three voters.
three_voters () {
	raft_config "$1" "?stale" >voters &&
	test "$(grep -c " voter " voters)" = 3
}

# If the holder was down long enough for the leader to mark it failed,
# the leader removed it from the Raft configuration (dead-server
# cleanup) and adds it back as a voter once it has caught up. Until the
# survivors hold that configuration, the cluster has two voters and
# cannot lose its leader: wait for it, as an operator would.
test_expect_success CLUSTER 'the killed server comes back on its data dir, a voter again' '
	relaunch_agent $holder_node &&
	API_ADDR=$(agent_http $leader) poll_until 60 serf_passing $holder_node &&
	wait_leader 60 s1 s2 s3 &&
	for n in s1 s2 s3; do poll_until 60 three_voters $n || return 1; done
'

test_expect_success CLUSTER 'kill -9 of the leader: its locks go, the new leader expires the TTL session' '
	old=$leader &&
	kill9 "$old" &&
	t0=$(now_ms) &&
	wait_new_leader 60 "$old" $waiter_node $holder_node &&
	poll_until 60 eval "api_on $waiter_node GET /v1/kv/cluster/second && test \"\$(jget \"\\\$j->[0]{Session}\")\" = null" &&
	freed_ms=$(( $(now_ms) - t0 )) &&
	poll_until 60 eval "api_on $waiter_node GET /v1/session/info/$ttl_sid && expect_body \"[]\"" &&
	ttl2_ms=$(( $(now_ms) - t0 ))
'
test -n "$freed_ms" && echo "# leader killed: its lock freed after ${freed_ms} ms, the 10s-TTL session expired by the new leader after ${ttl2_ms} ms"

test_expect_success CLUSTER 'teardown' '
	stop_agents TERM $(running_agents s1 s2 s3)
'

test_done
