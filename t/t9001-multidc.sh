#!/bin/sh
test_description='two datacenters: WAN pool, members -wan, catalog/datacenters, ?dc= forwarding (KV, catalog, health), DNS in the other datacenter, unknown and dead datacenters'
. ./lib.sh

# dc1: servers a1 a2 a3 and client ac on .1-.4; dc2: servers b1 b2 b3
# and client bc on .11-.14 (x5..x10 only hold .5-.10 free: never
# started). Every server joins its own LAN and the WAN pool (8302).
reserve_agents a1 a2 a3 ac x5 x6 x7 x8 x9 x10 b1 b2 b3 bc

wan_join="-retry-join-wan=$a1_ADDR -retry-join-wan=$b1_ADDR -retry-interval-wan=1s"
# WAN probes every second instead of memberlist's 5 s, so that the last
# test sees dc2 marked failed in reasonable time; the rest of the WAN
# timings (probe timeout 3 s, suspicion multiplier 6) are the defaults.
wan_hcl='gossip_wan { probe_interval = "1s" }'

# server NAME DC PEERS...: start server NAME of DC, joining PEERS (LAN).
server () {
	sv_n_=$1
	sv_dc_=$2
	shift 2
	sv_j_=
	for sv_p_ in "$@"; do
		sv_j_="$sv_j_ -retry-join=$(agent_addr "$sv_p_")"
	done
	# shellcheck disable=SC2086 # one word per flag
	TEST_AGENT_WAIT=none start_agent "$sv_n_" -server -datacenter="$sv_dc_" \
		-bootstrap-expect=3 -retry-interval=1s $sv_j_ $wan_join \
		-hcl="$wan_hcl"
}

# members_wan NAME: `members -wan` on NAME, "name status" sorted, in ./mw.
members_wan () {
	proconsul members -wan -http-addr="$(agent_http "$1")" >mw.raw &&
	awk 'NR > 1 { print $1, $3 }' mw.raw | sort >mw
}

# wan_all_alive NAME: NAME's WAN pool shows the six servers alive.
wan_all_alive () {
	members_wan "$1" &&
	printf '%s alive\n' a1.dc1 a2.dc1 a3.dc1 b1.dc2 b2.dc2 b3.dc2 >mw.expect &&
	test_cmp mw.expect mw
}

test_expect_success 'two datacenters of three servers, a client agent in each' '
	server a1 dc1 a1 a2 a3 && server a2 dc1 a1 a2 a3 &&
	server a3 dc1 a1 a2 a3 &&
	server b1 dc2 b1 b2 b3 && server b2 dc2 b1 b2 b3 &&
	server b3 dc2 b1 b2 b3 &&
	for s in a1 a2 a3 b1 b2 b3; do wait_for_agent $s http || return 1; done &&
	wait_leader 60 a1 a2 a3 && dc1_leader=$leader &&
	wait_leader 60 b1 b2 b3 && dc2_leader=$leader &&
	test "$dc1_leader" != "$dc2_leader" &&
	start_agent ac -datacenter=dc1 -retry-interval=1s \
		$(retry_join_flags a1 a2 a3) &&
	start_agent bc -datacenter=dc2 -retry-interval=1s \
		$(retry_join_flags b1 b2 b3)
'

test_expect_success 'members -wan: the six servers, named node.dc, on every server' '
	poll_until 60 wan_all_alive a1 &&
	poll_until 30 wan_all_alive b3 &&
	awk "NR > 1 && \$1 == \"b2.dc2\" { print \$2 }" mw.raw >addr &&
	echo "$b2_ADDR:8302" >expect && test_cmp expect addr &&
	poll_until 30 wan_all_alive a2 &&
	api_on a2 GET /v1/agent/self && expect_status 200 &&
	json_get out "\$j->{Stats}{serf_wan}{members}" >n &&
	echo 6 >expect && test_cmp expect n &&
	api_on ac GET /v1/agent/self && expect_status 200 &&
	json_get out "exists \$j->{Stats}{serf_wan} ? 1 : 0" >n &&
	echo 0 >expect && test_cmp expect n
'

test_expect_success 'members -wan on a client agent: empty; the LAN pools stay apart' '
	api_on ac GET "/v1/agent/members?wan=1" && expect_status 200 &&
	expect_body "[]" &&
	api_on a1 GET "/v1/agent/members" && expect_status 200 &&
	json_get out "join \",\", sort map { \$_->{Name} } @\$j" >names &&
	echo "a1,a2,a3,ac" >expect && test_cmp expect names
'

test_expect_success 'join -wan: a server joins, a client agent is refused' '
	proconsul join -wan -http-addr="$a3_HTTP" "$b2_ADDR" >out &&
	echo "Successfully joined cluster by contacting 1 nodes." >expect &&
	test_cmp expect out &&
	test_must_fail proconsul join -wan -http-addr="$ac_HTTP" "$a1_ADDR" \
		>out 2>err &&
	test_grep "Must be a server to join WAN cluster" err
'

test_expect_success '/v1/agent/members?wan=1: Consul shape, WAN tags' '
	api_on a2 GET "/v1/agent/members?wan=1" && expect_status 200 &&
	json_get out "(grep { \$_->{Name} eq \"b1.dc2\" } @\$j)[0]" >b1.json &&
	json_get b1.json "join \" \", \$j->{Addr}, \$j->{Port}, \$j->{Status},
		\$j->{Tags}{role}, \$j->{Tags}{dc}, \$j->{Tags}{port}" >actual &&
	echo "$b1_ADDR 8302 1 consul dc2 8300" >expect && test_cmp expect actual
'

test_expect_success 'catalog/datacenters: both, ours first, on servers and clients' '
	for n in a1 ac; do
		api_on $n GET /v1/catalog/datacenters && expect_status 200 &&
		expect_body "[\"dc1\",\"dc2\"]" || return 1
	done &&
	for n in b2 bc; do
		api_on $n GET /v1/catalog/datacenters && expect_status 200 &&
		expect_body "[\"dc2\",\"dc1\"]" || return 1
	done
'

test_expect_success 'a KV write with ?dc=dc2 from the dc1 client lands in dc2 only' '
	api_on ac PUT "/v1/kv/where?dc=dc2" --data-binary there &&
	expect_status 200 && expect_body true &&
	kv_is bc where there &&
	poll_until 10 kv_is b3 where there stale &&
	api_on ac GET "/v1/kv/where" && expect_status 404 &&
	api_on a2 GET "/v1/kv/where?stale" && expect_status 404 &&
	kv_is ac where there "dc=dc2" &&
	kv_is a1 where there "dc=dc2" &&
	api_on ac PUT "/v1/kv/where" --data-binary here && expect_status 200 &&
	kv_is ac where here && kv_is bc where there &&
	api_on bc GET "/v1/kv/where?dc=dc1&raw" && expect_status 200 &&
	expect_body here &&
	proconsul kv get -http-addr="$ac_HTTP" -datacenter=dc2 where >actual &&
	echo there >expect && test_cmp expect actual
'

test_expect_success 'a delete with ?dc=dc2 from dc1 deletes in dc2 only' '
	api_on bc PUT /v1/kv/gone --data-binary 2 && expect_status 200 &&
	api_on ac PUT /v1/kv/gone --data-binary 1 && expect_status 200 &&
	api_on a3 DELETE "/v1/kv/gone?dc=dc2" && expect_status 200 &&
	api_on bc GET /v1/kv/gone && expect_status 404 &&
	kv_is ac gone 1
'

test_expect_success 'txn and sessions with ?dc=dc2 from dc1: dc2 only' '
	cat >txn.json <<-\EOF &&
	[{"KV": {"Verb": "set", "Key": "tx/a", "Value": "ZGMy"}},
	 {"KV": {"Verb": "check-not-exists", "Key": "tx/b"}}]
	EOF
	api_on ac PUT "/v1/txn?dc=dc2" --data-binary @txn.json &&
	expect_status 200 &&
	kv_is bc tx/a dc2 &&
	api_on ac GET /v1/kv/tx/a && expect_status 404 &&
	api_on ac PUT "/v1/session/create?dc=dc2" \
		--data-binary "{\"Node\": \"bc\", \"Checks\": []}" &&
	expect_status 200 &&
	json_get out "\$j->{ID}" >sid &&
	api_on bc GET "/v1/session/info/$(cat sid)" && expect_status 200 &&
	json_get out "\$j->[0]{Node}" >actual && echo bc >expect &&
	test_cmp expect actual &&
	api_on ac GET "/v1/session/info/$(cat sid)" && expect_status 200 &&
	expect_body "[]" &&
	api_on a1 GET "/v1/session/list?dc=dc2" && expect_status 200 &&
	test_grep "$(cat sid)" out
'

test_expect_success 'catalog and health with ?dc: the other datacenter answers' '
	api_on bc PUT /v1/agent/service/register \
		--data "{\"Name\":\"web\",\"Port\":8080}" && expect_status 200 &&
	poll_until 30 eval "api_on ac GET \"/v1/catalog/service/web?dc=dc2\" &&
		json_get out \"join q{,}, map { \\\$_->{Node}.q{:}.\\\$_->{Datacenter} } @\\\$j\" >svc &&
		echo bc:dc2 >expect && test_cmp expect svc" &&
	api_on ac GET "/v1/catalog/service/web" && expect_status 200 &&
	expect_body "[]" &&
	api_on a1 GET "/v1/catalog/nodes?dc=dc2" && expect_status 200 &&
	json_get out "join q{,}, sort map { \$_->{Node} } @\$j" >nodes &&
	echo "b1,b2,b3,bc" >expect && test_cmp expect nodes &&
	api_on ac GET "/v1/health/service/web?dc=dc2" && expect_status 200 &&
	json_get out "\$j->[0]{Service}{Port}" >port &&
	echo 8080 >expect && test_cmp expect port &&
	api_on ac GET "/v1/catalog/services?dc=dc2" && expect_status 200 &&
	json_get out "exists \$j->{web} ? 1 : 0" >has &&
	echo 1 >expect && test_cmp expect has
'

if command -v dig >/dev/null 2>&1; then
	test_set_prereq DIG
fi

# dns NAME QNAME: dig A QNAME at NAME's DNS port, +short, into ./dns.
dns () {
	dig @"$(agent_addr "$1")" -p 8600 +time=5 +tries=1 +short "$2" A >dns 2>&1
}

test_expect_success DIG 'DNS web.service.dc2.consul from dc1: the dc2 instance' '
	dns ac web.service.dc2.consul &&
	echo "$bc_ADDR" >expect && test_cmp expect dns &&
	dns a2 web.service.dc2.consul && test_cmp expect dns &&
	dns ac web.service.consul && test ! -s dns
'

test_expect_success DIG 'DNS in an unknown datacenter: NXDOMAIN' '
	dig @"$ac_ADDR" -p 8600 +time=5 +tries=1 web.service.nowhere.consul A \
		>dig.out 2>&1 &&
	test_grep "status: NXDOMAIN," dig.out
'

test_expect_success 'unknown datacenter: 500 No path to datacenter' '
	api_on a1 GET "/v1/kv/where?dc=nowhere" && expect_status 500 &&
	expect_body "No path to datacenter" &&
	api_on a1 GET "/v1/kv/where?dc=DC2" && expect_status 500 &&
	expect_body "No path to datacenter" &&
	api_on ac PUT "/v1/kv/where?dc=nowhere" --data-binary x &&
	expect_status 500 && test_grep "No path to datacenter" out &&
	api_on a1 GET "/v1/catalog/nodes?dc=nowhere" && expect_status 500 &&
	api_on a1 GET "/v1/health/service/web?dc=nowhere" && expect_status 500
'

test_expect_success 'routes: the ?dc flag is in the route table' '
	api_on a1 GET /v1/internal/proconsul/routes && expect_status 200 &&
	json_get out "join q{,}, map { \$_->{Path} } grep { \$_->{Datacenter} }
		@\$j" >dcroutes &&
	test_grep "/v1/kv/" dcroutes && test_grep "/v1/health/service/" dcroutes &&
	test_grep "/v1/catalog/nodes" dcroutes
'

test_expect_success 'leave on a server: it leaves the WAN pool too' '
	proconsul leave -http-addr="$b3_HTTP" >out &&
	wait_pid "$b3_PID" 30 && b3_PID= &&
	poll_until 30 eval "members_wan a1 && grep -q \"^b3.dc2 left\" mw" &&
	api_on ac GET "/v1/kv/where?dc=dc2&raw" && expect_status 200 &&
	expect_body there
'

# timed_dc2_read: GET ?dc=dc2 on ac; ./took gets the milliseconds.
timed_dc2_read () {
	t0=$(now_ms) &&
	api_on ac GET "/v1/kv/where?dc=dc2" &&
	echo $(( $(now_ms) - t0 )) >took
}

test_expect_success 'all of dc2 down: a clean 500 in dc1, bounded, dc1 unaffected' '
	kill9 b1 && kill9 b2 && kill9 bc &&
	timed_dc2_read && expect_status 500 &&
	test "$(cat took)" -lt 15000 && cp took took.dead &&
	test_grep -e "No path to datacenter" -e "rpc error making call" out &&
	api_on ac PUT /v1/kv/still --data-binary fine && expect_status 200 &&
	kv_is ac still fine && poll_until 10 kv_is a2 still fine stale &&
	api_on a1 GET /v1/catalog/datacenters && expect_status 200
'

test_expect_success 'once gossip marks dc2 failed: No path to datacenter at once' '
	poll_until 240 eval "members_wan a1 && grep -q \"^b1.dc2 failed\" mw &&
		grep -q \"^b2.dc2 failed\" mw && grep -q \"^b3.dc2 left\" mw" &&
	timed_dc2_read && expect_status 500 &&
	test_grep "No path to datacenter" out &&
	test "$(cat took)" -lt 3000 && cp took took.failed
'

# The measured times, as TAP comments (prove -v shows them).
for t in dead failed; do
	test -f "took.$t" && echo "# dc2 $t: the read from dc1 took $(cat "took.$t") ms"
done

test_done
