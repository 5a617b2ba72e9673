#!/bin/sh
test_description='KV and status HTTP API: shapes, headers, status codes (curl)'
. ./lib.sh

# A non-dev server: Consul pretty-prints every JSON body in -dev mode,
# so byte-exact checks of the compact form need a normal agent.
test_expect_success 'setup: one server agent (not -dev)' '
	start_agent a1 -server -bootstrap
'

# index: X-Consul-Index of the last response.
index () {
	header X-Consul-Index
}

# expect_json_ct: the last response says Content-Type: application/json.
expect_json_ct () {
	header Content-Type >ct &&
	test_grep "^application/json" ct
}

# expect_body STRING: the last body is exactly STRING (no newline).
expect_body () {
	printf "%s" "$1" >expect.body &&
	test_cmp expect.body out
}

test_expect_success 'a fresh store: 404 for a key, X-Consul-Index is never 0' '
	api GET /v1/kv/never/written &&
	expect_status 404 &&
	! test -s out &&
	idx=$(index) &&
	test -n "$idx" &&
	test "$idx" -ge 1
'

test_expect_success 'a fresh store: ?keys at the root is 200 []' '
	api GET "/v1/kv/?keys" &&
	expect_status 200 &&
	expect_body "[]" &&
	expect_json_ct
'

test_expect_success 'PUT answers true (JSON)' '
	api PUT /v1/kv/web/port --data-binary 8080 &&
	expect_status 200 &&
	expect_body true &&
	expect_json_ct
'

test_expect_success 'GET: an array with one entry, Consul'"'"'s field order' '
	api GET /v1/kv/web/port &&
	expect_status 200 &&
	expect_json_ct &&
	grep -E -q "^\[\{\"LockIndex\":0,\"Key\":\"web/port\",\"Flags\":0,\"Value\":\"ODA4MA==\",\"CreateIndex\":[0-9]+,\"ModifyIndex\":[0-9]+\}\]\$" out
'

test_expect_success 'GET: exactly the DirEntry fields (no Session when unlocked)' '
	json_get out "join q(,), sort keys %{\$j->[0]}" >actual &&
	echo CreateIndex,Flags,Key,LockIndex,ModifyIndex,Value >expect &&
	test_cmp expect actual &&
	json_get out "scalar @\$j" >actual &&
	echo 1 >expect &&
	test_cmp expect actual
'

test_expect_success 'GET: a new key has CreateIndex = ModifyIndex <= X-Consul-Index' '
	ci=$(json_get out "\$j->[0]{CreateIndex}") &&
	mi=$(json_get out "\$j->[0]{ModifyIndex}") &&
	test "$ci" = "$mi" &&
	test "$mi" -ge 1 &&
	test "$(index)" -ge "$mi"
'

test_expect_success 'reads carry X-Consul-KnownLeader and X-Consul-LastContact' '
	header X-Consul-KnownLeader >actual &&
	echo true >expect &&
	test_cmp expect actual &&
	lc=$(header X-Consul-LastContact) &&
	test -n "$lc" &&
	test "$lc" -ge 0
'

test_expect_success '404 keeps the query-meta headers and an empty body' '
	api GET /v1/kv/web/missing &&
	expect_status 404 &&
	! test -s out &&
	test "$(index)" -ge "$mi" &&
	header X-Consul-KnownLeader >actual &&
	echo true >expect &&
	test_cmp expect actual &&
	test -n "$(header X-Consul-LastContact)"
'

test_expect_success 'an update keeps CreateIndex and moves ModifyIndex' '
	api PUT /v1/kv/web/port --data-binary 9090 &&
	api GET /v1/kv/web/port &&
	test "$(json_get out "\$j->[0]{CreateIndex}")" = "$ci" &&
	mi2=$(json_get out "\$j->[0]{ModifyIndex}") &&
	test "$mi2" -gt "$mi" &&
	test "$(index)" -ge "$mi2" &&
	json_get out "\$j->[0]{Value}" >actual &&
	echo OTA5MA== >expect &&
	test_cmp expect actual
'

test_expect_success 'an empty value is null' '
	api PUT /v1/kv/web/empty &&
	expect_body true &&
	api GET /v1/kv/web/empty &&
	test_grep "\"Value\":null" out
'

test_expect_success 'binary values are base64 (standard, padded)' '
	printf "\000\001\377\376 bin" >bin.dat &&
	api PUT /v1/kv/web/bin --data-binary @bin.dat &&
	api GET /v1/kv/web/bin &&
	json_get out "\$j->[0]{Value}" >actual &&
	base64 bin.dat >expect &&
	test_cmp expect actual
'

test_expect_success '?raw returns the bytes, text/plain, nosniff, sandbox' '
	api GET "/v1/kv/web/bin?raw" &&
	expect_status 200 &&
	test_cmp bin.dat out &&
	header Content-Type >actual &&
	echo text/plain >expect &&
	test_cmp expect actual &&
	header X-Content-Type-Options >actual &&
	echo nosniff >expect &&
	test_cmp expect actual &&
	header Content-Security-Policy >actual &&
	echo sandbox >expect &&
	test_cmp expect actual &&
	test -n "$(index)"
'

test_expect_success '?raw of an empty value is an empty 200' '
	api GET "/v1/kv/web/empty?raw" &&
	expect_status 200 &&
	! test -s out
'

test_expect_success '?raw of a missing key is 404' '
	api GET "/v1/kv/web/missing?raw" &&
	expect_status 404
'

test_expect_success 'URL-encoded keys are decoded' '
	api PUT "/v1/kv/enc/a%20b%2Fc" --data-binary x &&
	expect_status 200 &&
	api GET "/v1/kv/enc/?recurse" &&
	json_get out "\$j->[0]{Key}" >actual &&
	echo "enc/a b/c" >expect &&
	test_cmp expect actual
'

test_expect_success '?flags: stored and returned as a JSON number' '
	api PUT "/v1/kv/web/flagged?flags=42" --data-binary v &&
	expect_body true &&
	api GET /v1/kv/web/flagged &&
	test_grep "\"Flags\":42," out
'

test_expect_success '?flags: the full uint64 range' '
	api PUT "/v1/kv/web/bigflags?flags=18446744073709551615" --data-binary v &&
	expect_status 200 &&
	api GET /v1/kv/web/bigflags &&
	test_grep "\"Flags\":18446744073709551615," out
'

test_expect_success 'setup: a tree' '
	for k in p/a p/b/c p/b/d p/e/f/g pq; do
		api PUT /v1/kv/$k --data-binary "val-$k" &&
		expect_status 200 || return 1
	done &&
	api GET /v1/kv/p/b/d &&
	pmax=$(json_get out "\$j->[0]{ModifyIndex}") &&
	api PUT /v1/kv/p/e/f/g --data-binary again &&
	api GET /v1/kv/p/e/f/g &&
	pmax=$(json_get out "\$j->[0]{ModifyIndex}") &&
	api PUT /v1/kv/zzz/later --data-binary later &&
	expect_status 200
'

test_expect_success '?recurse: every entry under the prefix, in key order' '
	api GET "/v1/kv/p?recurse" &&
	expect_status 200 &&
	expect_json_ct &&
	json_get out "join q( ), map { \$_->{Key} } @\$j" >actual &&
	echo "p/a p/b/c p/b/d p/e/f/g pq" >expect &&
	test_cmp expect actual
'

test_expect_success '?recurse: X-Consul-Index is the max ModifyIndex under the prefix' '
	api GET "/v1/kv/p/?recurse" &&
	json_get out "(sort { \$b <=> \$a } map { \$_->{ModifyIndex} } @\$j)[0]" >actual &&
	echo "$pmax" >expect &&
	test_cmp expect actual &&
	index >actual &&
	test_cmp expect actual
'

test_expect_success '?recurse with an empty prefix lists everything' '
	api GET "/v1/kv/?recurse" &&
	expect_status 200 &&
	json_get out "scalar grep { \$_->{Key} eq q(zzz/later) } @\$j" >actual &&
	echo 1 >expect &&
	test_cmp expect actual
'

test_expect_success '?recurse on a missing prefix is 404' '
	api GET "/v1/kv/nothing/here/?recurse" &&
	expect_status 404 &&
	! test -s out &&
	test "$(index)" -ge 1
'

test_expect_success '?keys lists keys under the prefix' '
	api GET "/v1/kv/p/?keys" &&
	expect_status 200 &&
	expect_json_ct &&
	expect_body "[\"p/a\",\"p/b/c\",\"p/b/d\",\"p/e/f/g\"]"
'

test_expect_success '?keys&separator=/ groups sub-directories' '
	api GET "/v1/kv/p/?keys&separator=/" &&
	expect_status 200 &&
	expect_body "[\"p/a\",\"p/b/\",\"p/e/\"]"
'

test_expect_success '?keys&separator=/ on a bare prefix' '
	api GET "/v1/kv/p?keys&separator=/" &&
	expect_body "[\"p/\",\"pq\"]"
'

test_expect_success '?keys&seperator= (Consul'"'"'s historic spelling) works' '
	api GET "/v1/kv/p/?keys&seperator=/" &&
	expect_body "[\"p/a\",\"p/b/\",\"p/e/\"]"
'

test_expect_success '?keys on a missing prefix is 404' '
	api GET "/v1/kv/nothing/here/?keys" &&
	expect_status 404
'

test_expect_success 'deleting under a prefix raises its recurse index' '
	api GET "/v1/kv/p/?recurse" &&
	before=$(index) &&
	api DELETE /v1/kv/p/a &&
	expect_status 200 &&
	expect_body true &&
	expect_json_ct &&
	api GET "/v1/kv/p/?recurse" &&
	test "$(index)" -gt "$before" &&
	json_get out "join q( ), map { \$_->{Key} } @\$j" >actual &&
	echo "p/b/c p/b/d p/e/f/g" >expect &&
	test_cmp expect actual
'

test_expect_success 'DELETE of a missing key answers true' '
	api DELETE /v1/kv/p/never &&
	expect_status 200 &&
	expect_body true
'

test_expect_success 'DELETE ?recurse removes the subtree only' '
	api DELETE "/v1/kv/p/b?recurse" &&
	expect_body true &&
	api GET "/v1/kv/p?keys" &&
	expect_body "[\"p/e/f/g\",\"pq\"]"
'

test_expect_success 'PUT ?cas=0 creates only if absent' '
	api PUT "/v1/kv/cas/k?cas=0" --data-binary one &&
	expect_status 200 &&
	expect_body true &&
	api PUT "/v1/kv/cas/k?cas=0" --data-binary two &&
	expect_status 200 &&
	expect_body false &&
	api GET "/v1/kv/cas/k?raw" &&
	expect_body one
'

test_expect_success 'PUT ?cas=<ModifyIndex> writes, a stale index does not' '
	api GET /v1/kv/cas/k &&
	cmi=$(json_get out "\$j->[0]{ModifyIndex}") &&
	api PUT "/v1/kv/cas/k?cas=$cmi" --data-binary three &&
	expect_body true &&
	api PUT "/v1/kv/cas/k?cas=$cmi" --data-binary four &&
	expect_body false &&
	api GET "/v1/kv/cas/k?raw" &&
	expect_body three
'

test_expect_success 'DELETE ?cas: wrong index false, right index true' '
	api GET /v1/kv/cas/k &&
	cmi=$(json_get out "\$j->[0]{ModifyIndex}") &&
	api DELETE "/v1/kv/cas/k?cas=$((cmi + 100))" &&
	expect_status 200 &&
	expect_body false &&
	api DELETE "/v1/kv/cas/k?cas=$cmi" &&
	expect_body true &&
	api GET /v1/kv/cas/k &&
	expect_status 404
'

test_expect_success 'PUT with cas and acquire together: 400 Conflicting flags' '
	api PUT "/v1/kv/cas/x?cas=0&acquire=abc" --data-binary v &&
	expect_status 400 &&
	test_grep "^Conflicting flags" out
'

test_expect_success 'DELETE with recurse and cas together: 400 Conflicting flags' '
	api DELETE "/v1/kv/cas/x?recurse&cas=1" &&
	expect_status 400 &&
	test_grep "^Conflicting flags" out
'

test_expect_success 'GET /v1/kv/ without a key: 400 Missing key name' '
	api GET /v1/kv/ &&
	expect_status 400 &&
	test_grep "Missing key name" out
'

test_expect_success 'PUT /v1/kv/ without a key: 400 Missing key name' '
	api PUT /v1/kv/ --data-binary v &&
	expect_status 400 &&
	test_grep "Missing key name" out
'

test_expect_success 'DELETE /v1/kv/ without a key or recurse: 400' '
	api DELETE /v1/kv/ &&
	expect_status 400 &&
	test_grep "Missing key name" out
'

test_expect_success '?stale and ?consistent each work alone' '
	api GET "/v1/kv/web/port?stale" &&
	expect_status 200 &&
	test -n "$(index)" &&
	api GET "/v1/kv/web/port?consistent" &&
	expect_status 200
'

test_expect_success '?stale&consistent: 400' '
	api GET "/v1/kv/web/port?stale&consistent" &&
	expect_status 400 &&
	test_grep "Cannot specify ?stale with ?consistent, conflicting semantics." out
'

test_expect_success 'a 512 KiB value is accepted' '
	perl -e "print q(a) x 524288" >max.dat &&
	api PUT /v1/kv/big/max --data-binary @max.dat &&
	expect_status 200 &&
	expect_body true &&
	api GET "/v1/kv/big/max?raw" &&
	test_cmp max.dat out
'

test_expect_success 'a 512 KiB + 1 value is 413 and not stored' '
	perl -e "print q(a) x 524289" >over.dat &&
	api PUT /v1/kv/big/over --data-binary @over.dat &&
	expect_status 413 &&
	test_grep "too large" out &&
	api GET /v1/kv/big/over &&
	expect_status 404
'

test_expect_success '?dc= the local datacenter works' '
	api GET "/v1/kv/web/port?dc=dc1" &&
	expect_status 200
'

test_expect_success '?dc= another datacenter: 500 No path to datacenter' '
	api GET "/v1/kv/web/port?dc=elsewhere" &&
	expect_status 500 &&
	test_grep "No path to datacenter" out &&
	api PUT "/v1/kv/web/port?dc=elsewhere" --data-binary x &&
	expect_status 500 &&
	test_grep "No path to datacenter" out &&
	api GET "/v1/kv/web/port?raw" &&
	expect_body 9090
'

test_expect_success 'wrong method on /v1/kv: 405 with Allow' '
	api POST /v1/kv/web/port --data-binary x &&
	expect_status 405 &&
	header Allow >allow &&
	test_grep "GET" allow &&
	test_grep "PUT" allow &&
	test_grep "DELETE" allow &&
	test_grep "method POST not allowed" out
'

test_expect_success 'wrong method on /v1/status/leader: 405 with Allow: GET' '
	api DELETE /v1/status/leader &&
	expect_status 405 &&
	header Allow >allow &&
	test_grep "GET" allow &&
	! grep -q "DELETE" allow
'

test_expect_success 'unknown method: 405' '
	api FROB /v1/kv/web/port &&
	expect_status 405
'

test_expect_success 'unknown path: 404' '
	api GET /v1/no/such/endpoint &&
	expect_status 404 &&
	api GET /v1/kvx/foo &&
	expect_status 404
'

test_expect_success 'unknown /v1/ path: Consul'"'"'s message' '
	api GET /v1/no/such/endpoint &&
	test_grep "Invalid URL path: not a recognized HTTP API endpoint" out
'

test_expect_success '?pretty: 4-space indent and a trailing newline' '
	api GET "/v1/kv/web/port?pretty" &&
	expect_status 200 &&
	test_grep "^    {" out &&
	test_grep "^        \"Key\": \"web/port\"," out &&
	tail -c 1 out >last &&
	echo >nl &&
	test_cmp nl last
'

test_expect_success '/v1/status/leader: "ip:8300" (JSON string)' '
	api GET /v1/status/leader &&
	expect_status 200 &&
	expect_json_ct &&
	expect_body "\"$a1_ADDR:8300\""
'

test_expect_success '/v1/status/peers: ["ip:8300"]' '
	api GET /v1/status/peers &&
	expect_status 200 &&
	expect_json_ct &&
	expect_body "[\"$a1_ADDR:8300\"]"
'

test_expect_success '/v1/agent/self: Config, DebugConfig, Coord, Member, Stats, Meta' '
	api GET /v1/agent/self &&
	expect_status 200 &&
	expect_json_ct &&
	for k in Config DebugConfig Coord Member Stats Meta; do
		json_get out "exists \$j->{$k} ? q(yes) : q(no)" >has &&
		echo yes >yes &&
		test_cmp yes has || { echo "missing $k"; return 1; }
	done
'

test_expect_success '/v1/agent/self: truthful Config' '
	json_get out "\$j->{Config}{NodeName}" >actual &&
	echo a1 >expect && test_cmp expect actual &&
	json_get out "\$j->{Config}{Datacenter}" >actual &&
	echo dc1 >expect && test_cmp expect actual &&
	json_get out "\$j->{Config}{Server}" >actual &&
	echo true >expect && test_cmp expect actual &&
	json_get out "\$j->{Config}{NodeID}" >actual &&
	test_grep -E "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\$" actual
'

test_expect_success '/v1/agent/self: truthful Member' '
	json_get out "\$j->{Member}{Name}" >actual &&
	echo a1 >expect && test_cmp expect actual &&
	json_get out "\$j->{Member}{Addr}" >actual &&
	echo "$a1_ADDR" >expect && test_cmp expect actual &&
	json_get out "\$j->{Member}{Port}" >actual &&
	echo 8301 >expect && test_cmp expect actual
'

test_expect_success '/v1/agent/self: Stats say server and leader' '
	json_get out "\$j->{Stats}{consul}{server}" >actual &&
	echo true >expect && test_cmp expect actual &&
	json_get out "\$j->{Stats}{consul}{leader}" >actual &&
	test_cmp expect actual &&
	json_get out "\$j->{Stats}{raft}{state}" >actual &&
	echo Leader >expect && test_cmp expect actual
'

test_expect_success '/v1/agent/version agrees with proconsul version' '
	api GET /v1/agent/version &&
	expect_status 200 &&
	expect_json_ct &&
	hv=$(json_get out "\$j->{HumanVersion}") &&
	test -n "$hv" &&
	proconsul version >v &&
	head -n 1 v >actual &&
	echo "Consul v$hv" >expect &&
	test_cmp expect actual
'

test_expect_success 'the X-Consul-Token header and ?token= are accepted' '
	api GET /v1/kv/web/port -H "X-Consul-Token: anything" &&
	expect_status 200 &&
	api GET "/v1/kv/web/port?token=anything" &&
	expect_status 200
'

test_expect_success 'stop: exit 0, no sanitizer errors' '
	stop_agent a1 TERM &&
	check_sanitizer_log a1
'

test_done
