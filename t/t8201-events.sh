#!/bin/sh
test_description='user events: fire on one agent, listed on every agent of
the LAN pool; node/service/tag filters applied on receipt; ?name=; the
blocking list wakes on a new event; CLI output and errors'
. ./lib.sh

if ! test_have_prereq PERL; then
	skip_all='perl with JSON::PP needed'
	test_done
fi

# names_on AGENT [QUERY]: the Name of each event AGENT lists, one a line.
names_on () {
	api_on "$1" GET "/v1/event/list$2" &&
	expect_status 200 &&
	json_get out 'join "\n", map { $_->{Name} } @$j'
}

# has_event AGENT NAME: AGENT lists an event NAME.
has_event () {
	names_on "$1" >names.out && grep -qx "$2" names.out
}

# lacks_event AGENT NAME
lacks_event () {
	names_on "$1" >names.out && ! grep -qx "$2" names.out
}

test_expect_success 'setup: a server and two clients in one pool' '
	start_agent s1 -server -bootstrap &&
	TEST_AGENT_WAIT=http start_agent c1 -retry-join=$s1_ADDR \
		-retry-interval=1s &&
	TEST_AGENT_WAIT=http start_agent c2 -retry-join=$s1_ADDR \
		-retry-interval=1s &&
	for a in s1 c1 c2; do
		poll_until 30 gossip_status_is $a c1 alive &&
		poll_until 30 gossip_status_is $a c2 alive || return 1
	done
'

test_expect_success 'c1 runs service web tagged v2' '
	API_ADDR=$c1_HTTP api PUT /v1/agent/service/register \
		-d "{\"Name\":\"web\",\"Tags\":[\"v2\"],\"Port\":80}" &&
	expect_status 200
'

test_expect_success 'no event yet: empty list, X-Consul-Index 1' '
	api_on s1 GET /v1/event/list &&
	expect_status 200 &&
	echo "[]" >expect && json_canon out >actual && test_cmp expect actual &&
	test "$(header X-Consul-Index)" = 1
'

test_expect_success 'proconsul event prints the event ID' '
	proconsul event -http-addr=$c2_HTTP -name deploy hello >fire.out &&
	grep -E -x "Event ID: [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}" \
		fire.out &&
	sed "s/^Event ID: //" fire.out >id
'

test_expect_success 'the event reaches every agent, with the same ID' '
	for a in s1 c1 c2; do
		poll_until 20 has_event $a deploy &&
		api_on $a GET "/v1/event/list?name=deploy" &&
		json_get out "\$j->[0]{ID}" >actual.id &&
		test_cmp id actual.id || return 1
	done
'

test_expect_success 'event JSON has Consul keys; payload in base64' '
	api_on s1 GET "/v1/event/list?name=deploy" &&
	json_get out "join q(,), sort keys %{\$j->[0]}" >actual &&
	echo "ID,LTime,Name,NodeFilter,Payload,ServiceFilter,TagFilter,Version" \
		>expect && test_cmp expect actual &&
	json_get out "\$j->[0]{Payload}" >actual &&
	echo aGVsbG8= >expect && test_cmp expect actual &&
	json_get out "\$j->[0]{Version}" >actual &&
	echo 1 >expect && test_cmp expect actual
'

test_expect_success 'X-Consul-Index is the XOR of the ID halves' '
	api_on c1 GET "/v1/event/list" &&
	perl -e "
		my \$u = shift; \$u =~ s/-//g;
		use bigint;
		my \$lo = hex(q(0x) . substr(\$u, 0, 16));
		my \$hi = hex(q(0x) . substr(\$u, 16, 16));
		print ((\$lo ^ \$hi), qq(\n));" "$(cat id)" >expect &&
	header X-Consul-Index >actual &&
	test_cmp expect actual
'

test_expect_success 'PUT /v1/event/fire answers the event (no payload: null)' '
	api_on s1 PUT /v1/event/fire/marker1 &&
	expect_status 200 &&
	json_get out "\$j->{Name}" >actual && echo marker1 >expect &&
	test_cmp expect actual &&
	json_get out "\$j->{Payload}" >actual && echo null >expect &&
	test_cmp expect actual
'

test_expect_success 'node filter: only the matching node keeps the event' '
	proconsul event -name only-c1 -node "^c1\$" >/dev/null &&
	proconsul event -name marker2 >/dev/null &&
	for a in s1 c1 c2; do
		poll_until 20 has_event $a marker2 || return 1
	done &&
	poll_until 20 has_event c1 only-c1 &&
	lacks_event s1 only-c1 && lacks_event c2 only-c1
'

test_expect_success 'service and tag filters: only c1 runs web with v2' '
	proconsul event -name svc-web -service "^web\$" -tag "^v" >/dev/null &&
	proconsul event -name svc-web-v9 -service web -tag v9 >/dev/null &&
	proconsul event -name svc-db -service db >/dev/null &&
	proconsul event -name marker3 >/dev/null &&
	for a in s1 c1 c2; do
		poll_until 20 has_event $a marker3 || return 1
	done &&
	poll_until 20 has_event c1 svc-web &&
	lacks_event s1 svc-web && lacks_event c2 svc-web &&
	for a in s1 c1 c2; do
		lacks_event $a svc-web-v9 && lacks_event $a svc-db || return 1
	done
'

# Every agent, not only s1: an event still on its way to c2 would wake
# the blocking lists below.
test_expect_success '?name= lists only that name, oldest first' '
	proconsul event -name deploy second >/dev/null &&
	for a in s1 c1 c2; do
		poll_until 20 eval "names_on $a \"?name=deploy\" >names.out &&
			test \$(wc -l <names.out) = 2" || return 1
	done &&
	api_on s1 GET "/v1/event/list?name=deploy" &&
	json_get out "\$j->[1]{Payload}" >actual &&
	echo c2Vjb25k >expect && test_cmp expect actual
'

test_expect_success 'a blocking list waits while the index is unchanged' '
	api_on c2 GET /v1/event/list &&
	idx=$(header X-Consul-Index) &&
	start=$(now_ms) &&
	api_on c2 GET "/v1/event/list?index=$idx&wait=1s" &&
	expect_status 200 &&
	test $(( $(now_ms) - start )) -ge 900 &&
	test "$(header X-Consul-Index)" = "$idx"
'

test_expect_success 'a blocking list wakes on a new event' '
	api_on c2 GET /v1/event/list &&
	idx=$(header X-Consul-Index) &&
	start=$(now_ms) &&
	{ sleep 1; proconsul event -name wake >/dev/null; } &
	api_on c2 GET "/v1/event/list?index=$idx&wait=30s" &&
	wait $! &&
	expect_status 200 &&
	test $(( $(now_ms) - start )) -lt 20000 &&
	json_get out "\$j->[-1]{Name}" >actual && echo wake >expect &&
	test_cmp expect actual &&
	test "$(header X-Consul-Index)" != "$idx"
'

test_expect_success 'CLI: a name is required' '
	test_must_fail proconsul event payload 2>err &&
	test_grep "Event name must be specified" err
'

test_expect_success 'CLI: a tag filter needs a service filter' '
	test_must_fail proconsul event -name x -tag v1 2>err &&
	test_grep "Cannot provide tag filter without service filter" err
'

test_expect_success 'CLI: a bad regexp is refused' '
	test_must_fail proconsul event -name x -node "a(" 2>err &&
	test_grep "Failed to compile node filter regexp" err
'

test_expect_success 'CLI: one payload at most' '
	test_must_fail proconsul event -name x a b 2>err &&
	test_grep "Too many command line arguments" err
'

test_expect_success 'HTTP: no name is 400, a bad filter 400' '
	api_on s1 PUT /v1/event/fire/ &&
	expect_status 400 && test_grep "Missing name" out &&
	api_on s1 PUT "/v1/event/fire/x?node=a(" &&
	expect_status 400 && test_grep "Invalid node filter" out &&
	api_on s1 PUT "/v1/event/fire/x?tag=v1" &&
	expect_status 400 && test_grep "Cannot provide tag filter" out
'

test_expect_success 'HTTP: a payload past the 512-byte serf limit is 500' '
	perl -e "print q(x) x 600" >big &&
	api_on s1 PUT /v1/event/fire/big --data-binary @big &&
	expect_status 500 &&
	test_grep "exceeds configured limit of 512 bytes" out &&
	perl -e "print q(x) x 470" >mid &&
	api_on s1 PUT /v1/event/fire/mid --data-binary @mid &&
	expect_status 500 &&
	test_grep "exceeds configured limit of 512 bytes" out &&
	perl -e "print q(x) x 300" >ok &&
	api_on s1 PUT /v1/event/fire/ok --data-binary @ok &&
	expect_status 200
'

test_expect_success 'HTTP: a foreign ?dc is refused' '
	api_on s1 PUT "/v1/event/fire/x?dc=elsewhere" &&
	expect_status 500 && test_grep "No path to datacenter" out
'

test_done
