#!/bin/sh
test_description='PUT /v1/txn: atomic KV transactions (one agent, then three servers), kv export/import'
. ./lib.sh

TEST_SERVERS="s1 s2 s3"
SQ="'"
TAB=$(printf '\t')
reserve_agents a1 s1 s2 s3 c1

# txn BODY [QUERY] [AGENT]: PUT BODY to /v1/txn on AGENT (default a1).
txn () {
	printf '%s' "$1" >txn.body &&
	api_on "${3:-a1}" PUT "/v1/txn${2:+?$2}" --data-binary @txn.body
}

# expect_body STRING: the last body is exactly STRING.
expect_body () {
	printf "%s" "$1" >expect.body &&
	test_cmp expect.body out
}

# dump AGENT FILE: the whole store (canonical JSON) and, in FILE.idx, its
# X-Consul-Index.
dump () {
	api_on "$1" GET "/v1/kv/?recurse" &&
	expect_status 200 &&
	json_canon out >"$2" &&
	header X-Consul-Index >"$2.idx"
}

b64 () { printf '%s' "$1" | base64 | tr -d '\n'; }

# cweb_port_is AGENT PORT: AGENT's catalog (stale) has cweb on PORT.
cweb_port_is () {
	api_on "$1" GET "/v1/catalog/service/cweb?stale" &&
	test "$(json_get out "\$j->[0]{ServicePort} // q(none)")" = "$2"
}

test_expect_success 'setup: one server agent' '
	start_agent a1 -server -bootstrap
'

test_expect_success 'setup: some keys' '
	api_on a1 PUT /v1/kv/app/a --data-binary one &&
	api_on a1 PUT /v1/kv/app/b --data-binary two &&
	api_on a1 PUT /v1/kv/app/c --data-binary three &&
	expect_status 200
'

test_expect_success 'a write transaction: 200, Results in op order, values only for get' '
	txn "[{\"KV\":{\"Verb\":\"set\",\"Key\":\"app/d\",\"Value\":\"$(b64 four)\",\"Flags\":42}},
	      {\"KV\":{\"Verb\":\"get\",\"Key\":\"app/d\"}},
	      {\"KV\":{\"Verb\":\"delete\",\"Key\":\"app/c\"}},
	      {\"KV\":{\"Verb\":\"check-not-exists\",\"Key\":\"app/c\"}}]" &&
	expect_status 200 &&
	header Content-Type >ct && test_grep "^application/json" ct &&
	json_get out "scalar @{\$j->{Results}}" >actual &&
	echo 2 >expect && test_cmp expect actual &&
	json_get out "\$j->{Errors}" >actual &&
	echo null >expect && test_cmp expect actual &&
	json_get out "join q(,), map { \$_->{KV}{Key} . q(=) . (\$_->{KV}{Value} // q(null)) . q(/) . \$_->{KV}{Flags} } @{\$j->{Results}}" >actual &&
	echo "app/d=null/42,app/d=$(b64 four)/42" >expect && test_cmp expect actual &&
	json_get out "join q(,), sort keys %{\$j->{Results}[1]{KV}}" >actual &&
	echo CreateIndex,Flags,Key,LockIndex,ModifyIndex,Value >expect &&
	test_cmp expect actual &&
	kv_is a1 app/d four &&
	api_on a1 GET /v1/kv/app/c && expect_status 404
'

test_expect_success 'every op of one transaction has the same ModifyIndex' '
	txn "[{\"KV\":{\"Verb\":\"set\",\"Key\":\"same/1\"}},
	      {\"KV\":{\"Verb\":\"set\",\"Key\":\"same/2\"}}]" &&
	expect_status 200 &&
	json_get out "\$j->{Results}[0]{KV}{ModifyIndex} == \$j->{Results}[1]{KV}{ModifyIndex} ? q(same) : q(differ)" >actual &&
	echo same >expect && test_cmp expect actual
'

test_expect_success 'cas, check-index, delete-cas, get-tree, delete-tree' '
	api_on a1 GET /v1/kv/app/a && mi=$(json_get out "\$j->[0]{ModifyIndex}") &&
	txn "[{\"KV\":{\"Verb\":\"check-index\",\"Key\":\"app/a\",\"Index\":$mi}},
	      {\"KV\":{\"Verb\":\"cas\",\"Key\":\"app/a\",\"Value\":\"$(b64 uno)\",\"Index\":$mi}},
	      {\"KV\":{\"Verb\":\"cas\",\"Key\":\"app/new\",\"Value\":\"$(b64 nuevo)\",\"Index\":0}},
	      {\"KV\":{\"Verb\":\"get-tree\",\"Key\":\"app/\"}}]" &&
	expect_status 200 &&
	json_get out "join q(,), map { \$_->{KV}{Key} } @{\$j->{Results}}" >actual &&
	echo app/a,app/a,app/new,app/a,app/b,app/d,app/new >expect &&
	test_cmp expect actual &&
	kv_is a1 app/a uno && kv_is a1 app/new nuevo &&
	api_on a1 GET /v1/kv/app/b && mi=$(json_get out "\$j->[0]{ModifyIndex}") &&
	txn "[{\"KV\":{\"Verb\":\"delete-cas\",\"Key\":\"app/b\",\"Index\":$mi}},
	      {\"KV\":{\"Verb\":\"delete-tree\",\"Key\":\"same/\"}}]" &&
	expect_status 200 &&
	expect_body "{\"Results\":[],\"Errors\":null}" &&
	api_on a1 GET /v1/kv/app/b && expect_status 404 &&
	api_on a1 GET "/v1/kv/same/?recurse" && expect_status 404
'

test_expect_success 'a transaction whose 3rd op fails: 409, nothing changed, same X-Consul-Index' '
	dump a1 before &&
	api_on a1 GET /v1/kv/app/a && ai=$(header X-Consul-Index) &&
	txn "[{\"KV\":{\"Verb\":\"set\",\"Key\":\"app/a\",\"Value\":\"$(b64 changed)\"}},
	      {\"KV\":{\"Verb\":\"delete-tree\",\"Key\":\"app/\"}},
	      {\"KV\":{\"Verb\":\"cas\",\"Key\":\"app/zzz\",\"Index\":999999}},
	      {\"KV\":{\"Verb\":\"set\",\"Key\":\"brand/new\"}}]" &&
	expect_status 409 &&
	expect_body "{\"Results\":null,\"Errors\":[{\"OpIndex\":2,\"What\":\"failed to set key \\\"app/zzz\\\", index is stale\"}]}" &&
	dump a1 after &&
	test_cmp before after &&
	test_cmp before.idx after.idx &&
	api_on a1 GET /v1/kv/app/a && test "$(header X-Consul-Index)" = "$ai" &&
	api_on a1 GET /v1/kv/brand/new && expect_status 404
'

test_expect_success 'every failing op is reported, with Consul'"'"'s messages' '
	txn "[{\"KV\":{\"Verb\":\"get\",\"Key\":\"nope\"}},
	      {\"KV\":{\"Verb\":\"check-index\",\"Key\":\"app/a\",\"Index\":1}},
	      {\"KV\":{\"Verb\":\"check-index\",\"Key\":\"nope\",\"Index\":1}},
	      {\"KV\":{\"Verb\":\"check-session\",\"Key\":\"app/a\",\"Session\":\"abc\"}},
	      {\"KV\":{\"Verb\":\"check-session\",\"Key\":\"nope\"}},
	      {\"KV\":{\"Verb\":\"check-not-exists\",\"Key\":\"app/a\"}},
	      {\"KV\":{\"Verb\":\"delete-cas\",\"Key\":\"app/a\",\"Index\":1}}]" &&
	expect_status 409 &&
	api_on a1 GET /v1/kv/app/a && mi=$(json_get out "\$j->[0]{ModifyIndex}") &&
	cat >expect <<-EOF &&
	0 key "nope" doesn${SQ}t exist
	1 failed index check for key "app/a", current modify index $mi != 1
	2 failed to check index, key "nope" doesn${SQ}t exist
	3 failed session check for key "app/a", current session "" != "abc"
	4 failed to check session, key "nope" doesn${SQ}t exist
	5 key "app/a" exists
	6 failed to delete key "app/a", index is stale
	EOF
	txn "[{\"KV\":{\"Verb\":\"get\",\"Key\":\"nope\"}},
	      {\"KV\":{\"Verb\":\"check-index\",\"Key\":\"app/a\",\"Index\":1}},
	      {\"KV\":{\"Verb\":\"check-index\",\"Key\":\"nope\",\"Index\":1}},
	      {\"KV\":{\"Verb\":\"check-session\",\"Key\":\"app/a\",\"Session\":\"abc\"}},
	      {\"KV\":{\"Verb\":\"check-session\",\"Key\":\"nope\"}},
	      {\"KV\":{\"Verb\":\"check-not-exists\",\"Key\":\"app/a\"}},
	      {\"KV\":{\"Verb\":\"delete-cas\",\"Key\":\"app/a\",\"Index\":1}}]" &&
	json_get out "join qq(\n), map { \$_->{OpIndex} . q( ) . \$_->{What} } @{\$j->{Errors}}" >actual &&
	test_cmp expect actual
'

test_expect_success 'a read-only transaction: no Raft entry, results as a write one' '
	dump a1 before &&
	txn "[{\"KV\":{\"Verb\":\"get\",\"Key\":\"app/a\"}},
	      {\"KV\":{\"Verb\":\"check-not-exists\",\"Key\":\"nope\"}}]" &&
	expect_status 200 &&
	json_get out "\$j->{Results}[0]{KV}{Value}" >actual &&
	b64 uno >expect && echo >>expect && test_cmp expect actual &&
	test -n "$(header X-Consul-KnownLeader)" &&
	dump a1 after && test_cmp before.idx after.idx
'

test_expect_success '65 operations: 413 and nothing applied' '
	ops= && i=0 &&
	while test $i -lt 65; do
		ops="$ops${ops:+,}{\"KV\":{\"Verb\":\"set\",\"Key\":\"many/$i\"}}"
		i=$((i + 1))
	done &&
	txn "[$ops]" &&
	expect_status 413 &&
	expect_body "Transaction contains too many operations (65 > 64)" &&
	api_on a1 GET "/v1/kv/many/?recurse" && expect_status 404
'

test_expect_success '64 operations: all applied' '
	ops= && i=0 &&
	while test $i -lt 64; do
		ops="$ops${ops:+,}{\"KV\":{\"Verb\":\"set\",\"Key\":\"many/$i\"}}"
		i=$((i + 1))
	done &&
	txn "[$ops]" &&
	expect_status 200 &&
	api_on a1 GET "/v1/kv/many/?keys" &&
	json_get out "scalar @\$j" >actual &&
	echo 64 >expect && test_cmp expect actual
'

test_expect_success 'bad bodies: 400 with a message' '
	txn "{" && expect_status 400 && test_grep "^Failed to parse body: " out &&
	txn "{\"KV\":{}}" && expect_status 400 &&
	expect_body "Failed to parse body: json: cannot unmarshal object into Go value of type api.TxnOps" &&
	txn "[{\"KV\":{\"Verb\":\"set\",\"Key\":\"k\",\"Value\":\"not base64!\"}}]" &&
	expect_status 400 && test_grep "failed to decode value" out &&
	txn "[{\"KV\":{\"Verb\":\"set\",\"Key\":\"k\",\"Flags\":\"x\"}}]" &&
	expect_status 400 && test_grep "Flags of type uint64" out &&
	txn "[{\"Node\":{\"Verb\":\"set\",\"Node\":{\"Address\":\"192.0.2.1\"}}}]" &&
	expect_status 400 &&
	expect_body "Failed to parse body: Node operation without a node name" &&
	txn "[{}]" && expect_status 400 &&
	test_grep "no KV, Node, Service or Check" out
'

test_expect_success 'unknown verb or missing key: 409, the op named, nothing applied' '
	txn "[{\"KV\":{\"Verb\":\"set\",\"Key\":\"bad/1\"}},
	      {\"KV\":{\"Verb\":\"put\",\"Key\":\"bad/2\"}},
	      {\"KV\":{\"Verb\":\"set\",\"Key\":\"\"}}]" &&
	expect_status 409 &&
	expect_body "{\"Results\":null,\"Errors\":[{\"OpIndex\":1,\"What\":\"unknown KV verb \\\"put\\\"\"},{\"OpIndex\":2,\"What\":\"Must provide key\"}]}" &&
	api_on a1 GET /v1/kv/bad/1 && expect_status 404
'

test_expect_success 'field names are matched case-insensitively, as Go decodes' '
	txn "[{\"kv\":{\"verb\":\"set\",\"key\":\"lower/case\",\"value\":\"$(b64 ok)\"}}]" &&
	expect_status 200 &&
	kv_is a1 lower/case ok
'

test_expect_success 'GET /v1/txn: 405' '
	api_on a1 GET /v1/txn && expect_status 405
'

test_expect_success 'catalog gets: Node, Service and Check results, Consul'"'"'s errors' '
	api_on a1 PUT /v1/catalog/register --data-binary "{\"Node\":\"ext1\",\"Address\":\"192.0.2.1\",\"Service\":{\"ID\":\"web1\",\"Service\":\"web\",\"Port\":80},\"Check\":{\"CheckID\":\"c1\",\"Status\":\"passing\",\"ServiceID\":\"web1\"}}" &&
	expect_status 200 &&
	txn "[{\"Node\":{\"Verb\":\"get\",\"Node\":{\"Node\":\"ext1\"}}},
	      {\"Service\":{\"Verb\":\"get\",\"Node\":\"ext1\",\"Service\":{\"ID\":\"web1\"}}},
	      {\"Check\":{\"Verb\":\"get\",\"Check\":{\"Node\":\"ext1\",\"CheckID\":\"c1\"}}},
	      {\"KV\":{\"Verb\":\"set\",\"Key\":\"with/catalog\"}}]" &&
	expect_status 200 &&
	json_get out "join q(,), map { join(q(:), keys %\$_) } @{\$j->{Results}}" >actual &&
	echo Node,Service,Check,KV >expect && test_cmp expect actual &&
	json_get out "join q(,), \$j->{Results}[0]{Node}{Address}, \$j->{Results}[1]{Service}{Port}, \$j->{Results}[2]{Check}{Status}" >actual &&
	echo 192.0.2.1,80,passing >expect && test_cmp expect actual &&
	txn "[{\"Node\":{\"Verb\":\"get\",\"Node\":{\"Node\":\"nope\"}}},
	      {\"Service\":{\"Verb\":\"get\",\"Node\":\"ext1\",\"Service\":{\"ID\":\"x\"}}}]" &&
	expect_status 409 &&
	expect_body "{\"Results\":null,\"Errors\":[{\"OpIndex\":0,\"What\":\"node \\\"nope\\\" doesn${SQ}t exist\"},{\"OpIndex\":1,\"What\":\"service \\\"x\\\" on node \\\"ext1\\\" doesn${SQ}t exist\"}]}"
'

test_expect_success 'catalog writes: node, service and check set with a kv set in one transaction' '
	txn "[{\"Node\":{\"Verb\":\"set\",\"Node\":{\"Node\":\"tx1\",\"Address\":\"192.0.2.7\",\"Meta\":{\"rack\":\"r1\"}}}},
	      {\"Service\":{\"Verb\":\"set\",\"Node\":\"tx1\",\"Service\":{\"ID\":\"db1\",\"Service\":\"db\",\"Port\":5432,\"Tags\":[\"primary\"]}}},
	      {\"Check\":{\"Verb\":\"set\",\"Check\":{\"Node\":\"tx1\",\"CheckID\":\"db-alive\",\"Name\":\"db alive\",\"Status\":\"passing\",\"ServiceID\":\"db1\"}}},
	      {\"KV\":{\"Verb\":\"set\",\"Key\":\"with/tx1\",\"Value\":\"$(b64 yes)\"}}]" &&
	expect_status 200 &&
	json_get out "join q(,), map { join(q(:), keys %\$_) } @{\$j->{Results}}" >actual &&
	echo Node,Service,Check,KV >expect && test_cmp expect actual &&
	json_get out "join q(,), \$j->{Results}[0]{Node}{Meta}{rack}, \$j->{Results}[1]{Service}{Port}, \$j->{Results}[2]{Check}{ServiceName}, \$j->{Results}[0]{Node}{ModifyIndex} == \$j->{Results}[3]{KV}{ModifyIndex} ? q(same) : q(differ)" >actual &&
	echo r1,5432,db,same >expect && test_cmp expect actual &&
	api_on a1 GET /v1/catalog/service/db && expect_status 200 &&
	json_get out "join q(,), map { \$_->{Node} . q(/) . \$_->{Address} . q(/) . \$_->{ServicePort} } @\$j" >actual &&
	echo tx1/192.0.2.7/5432 >expect && test_cmp expect actual &&
	api_on a1 GET "/v1/health/service/db?passing" && expect_status 200 &&
	json_get out "join q(,), map { \$_->{Node}{Node} . q(/) . join(q(+), map { \$_->{CheckID} . q(=) . \$_->{Status} } @{\$_->{Checks}}) } @\$j" >actual &&
	echo tx1/db-alive=passing >expect && test_cmp expect actual &&
	kv_is a1 with/tx1 yes
'

test_expect_success 'catalog cas with a stale index: 409, nothing changed (catalog, kv, index)' '
	api_on a1 GET /v1/catalog/node/tx1 && expect_status 200 &&
	json_canon out >node.before &&
	nmi=$(json_get out "\$j->{Node}{ModifyIndex}") &&
	smi=$(json_get out "\$j->{Services}{db1}{ModifyIndex}") &&
	api_on a1 GET /v1/health/node/tx1 && json_canon out >checks.before &&
	dump a1 kv.before &&
	stale=$((nmi - 1)) &&
	txn "[{\"KV\":{\"Verb\":\"set\",\"Key\":\"with/stale\"}},
	      {\"Service\":{\"Verb\":\"cas\",\"Node\":\"tx1\",\"Service\":{\"ID\":\"db1\",\"Service\":\"db\",\"Port\":6000,\"ModifyIndex\":$smi}}},
	      {\"Check\":{\"Verb\":\"delete\",\"Check\":{\"Node\":\"tx1\",\"CheckID\":\"db-alive\"}}},
	      {\"Node\":{\"Verb\":\"cas\",\"Node\":{\"Node\":\"tx1\",\"Address\":\"192.0.2.8\",\"ModifyIndex\":$stale}}}]" &&
	expect_status 409 &&
	expect_body "{\"Results\":null,\"Errors\":[{\"OpIndex\":3,\"What\":\"failed to set node \\\"tx1\\\", index is stale\"}]}" &&
	api_on a1 GET /v1/catalog/node/tx1 && json_canon out >node.after &&
	test_cmp node.before node.after &&
	api_on a1 GET /v1/health/node/tx1 && json_canon out >checks.after &&
	test_cmp checks.before checks.after &&
	dump a1 kv.after && test_cmp kv.before kv.after &&
	test_cmp kv.before.idx kv.after.idx
'

test_expect_success 'catalog cas and delete-cas with current indexes, then delete' '
	api_on a1 GET /v1/catalog/node/tx1 &&
	smi=$(json_get out "\$j->{Services}{db1}{ModifyIndex}") &&
	api_on a1 GET /v1/health/node/tx1 &&
	cmi=$(json_get out "(grep { \$_->{CheckID} eq q(db-alive) } @\$j)[0]{ModifyIndex}") &&
	txn "[{\"Service\":{\"Verb\":\"cas\",\"Node\":\"tx1\",\"Service\":{\"ID\":\"db1\",\"Service\":\"db\",\"Tags\":[\"primary\"],\"Port\":6000,\"ModifyIndex\":$smi}}},
	      {\"Check\":{\"Verb\":\"delete-cas\",\"Check\":{\"Node\":\"tx1\",\"CheckID\":\"db-alive\",\"ModifyIndex\":$cmi}}}]" &&
	expect_status 200 &&
	json_get out "\$j->{Results}[0]{Service}{Port} . q(,) . scalar @{\$j->{Results}}" >actual &&
	echo 6000,1 >expect && test_cmp expect actual &&
	api_on a1 GET /v1/health/node/tx1 &&
	json_get out "scalar grep { \$_->{CheckID} eq q(db-alive) } @\$j" >actual &&
	echo 0 >expect && test_cmp expect actual &&
	txn "[{\"Node\":{\"Verb\":\"delete\",\"Node\":{\"Node\":\"tx1\"}}}]" &&
	expect_status 200 &&
	api_on a1 GET /v1/catalog/node/tx1 && expect_status 200 &&
	expect_body null
'

test_expect_success 'catalog writes: a service on a missing node, an unknown verb' '
	txn "[{\"Service\":{\"Verb\":\"set\",\"Node\":\"nowhere\",\"Service\":{\"ID\":\"x\",\"Service\":\"x\"}}}]" &&
	expect_status 409 &&
	expect_body "{\"Results\":null,\"Errors\":[{\"OpIndex\":0,\"What\":\"Missing node registration\"}]}" &&
	txn "[{\"Node\":{\"Verb\":\"frob\",\"Node\":{\"Node\":\"tx1\"}}}]" &&
	expect_status 409 &&
	expect_body "{\"Results\":null,\"Errors\":[{\"OpIndex\":0,\"What\":\"unknown Node verb \\\"frob\\\"\"}]}"
'

test_expect_success 'lock and unlock need a session that exists' '
	txn "[{\"KV\":{\"Verb\":\"lock\",\"Key\":\"lk\"}},
	      {\"KV\":{\"Verb\":\"lock\",\"Key\":\"lk\",\"Session\":\"00000000-0000-0000-0000-00000000dead\"}},
	      {\"KV\":{\"Verb\":\"unlock\",\"Key\":\"app/a\",\"Session\":\"00000000-0000-0000-0000-00000000dead\"}},
	      {\"KV\":{\"Verb\":\"check-session\",\"Key\":\"app/a\"}}]" &&
	expect_status 409 &&
	json_get out "join qq(\n), map { \$_->{OpIndex} . q( ) . \$_->{What} } @{\$j->{Errors}}" >actual &&
	cat >expect <<-EOF &&
	0 missing session
	1 invalid session "00000000-0000-0000-0000-00000000dead"
	2 failed to unlock key "app/a", lock isn${SQ}t held, or is held by another session
	EOF
	test_cmp expect actual &&
	api_on a1 GET /v1/kv/lk && expect_status 404
'

# ---- kv export / import ----

test_expect_success 'kv export: Consul'"'"'s JSON of a prefix' '
	proconsul kv put exp/a "<one>" >/dev/null &&
	proconsul kv put -flags=9 exp/b two >/dev/null &&
	proconsul kv put exp/dir/ "" >/dev/null &&
	proconsul kv export exp >actual &&
	cat >expect <<-EOF &&
	[
	${TAB}{
	${TAB}${TAB}"key": "exp/a",
	${TAB}${TAB}"flags": 0,
	${TAB}${TAB}"value": "$(b64 "<one>")"
	${TAB}},
	${TAB}{
	${TAB}${TAB}"key": "exp/b",
	${TAB}${TAB}"flags": 9,
	${TAB}${TAB}"value": "$(b64 two)"
	${TAB}},
	${TAB}{
	${TAB}${TAB}"key": "exp/dir/",
	${TAB}${TAB}"flags": 0,
	${TAB}${TAB}"value": ""
	${TAB}}
	]
	EOF
	test_cmp expect actual &&
	proconsul kv export nothing/here >actual &&
	echo "[]" >expect && test_cmp expect actual
'

test_expect_success 'kv import: round trip under a prefix, from a file and stdin' '
	proconsul kv export exp >exp.json &&
	proconsul kv import -prefix=copy @exp.json >actual &&
	printf "Imported: copy/exp/%s\n" a b dir/ >expect &&
	test_cmp expect actual &&
	proconsul kv export copy/exp >copied.json &&
	sed "s,\"copy/,\"," copied.json >back.json &&
	test_cmp exp.json back.json &&
	proconsul kv delete -recurse copy >/dev/null &&
	proconsul kv import - <exp.json >/dev/null &&
	proconsul kv export exp >again.json &&
	test_cmp exp.json again.json
'

test_expect_success 'kv import: 150 keys in three transactions' '
	i=0 && sep= && printf "[" >many.json &&
	while test $i -lt 150; do
		printf "%s{\"key\":\"bulk/%03d\",\"flags\":%d,\"value\":\"%s\"}" \
			"$sep" $i $i "$(b64 "v$i")" >>many.json
		sep=, && i=$((i + 1))
	done &&
	printf "]" >>many.json &&
	proconsul kv import @many.json >out.txt &&
	test "$(wc -l <out.txt)" -eq 150 &&
	api_on a1 GET "/v1/kv/bulk/?recurse" &&
	json_get out "scalar(@\$j) . q( ) . scalar(grep { \$_->{ModifyIndex} } @\$j)" >actual &&
	echo "150 150" >expect && test_cmp expect actual &&
	json_get out "scalar keys %{{ map { \$_->{ModifyIndex} => 1 } @\$j }}" >actual &&
	echo 3 >expect && test_cmp expect actual &&
	kv_is a1 bulk/149 v149
'

test_expect_success 'kv import: a bad value writes nothing; a refused batch names its key' '
	test_must_fail proconsul kv import "[{\"key\":\"bad/a\",\"value\":\"$(b64 x)\"},{\"key\":\"bad/b\",\"value\":\"!!\"}]" 2>err &&
	test_grep "Error base 64 decoding value for key bad/b" err &&
	api_on a1 GET /v1/kv/bad/a && expect_status 404 &&
	test_must_fail proconsul kv import "[{\"key\":\"\"}]" 2>err &&
	test_grep "Error! Failed writing data for key : Must provide key" err &&
	test_must_fail proconsul kv import 2>err &&
	test_grep "Missing DATA argument" err &&
	test_must_fail proconsul kv import "not json" 2>err &&
	test_grep "^Cannot unmarshal data" err
'

# ---- three servers ----

test_expect_success 'setup: three servers' '
	stop_agent a1 &&
	start_servers -bootstrap-expect=3 &&
	wait_leader 60 s1 s2 s3 &&
	for f_ in s1 s2 s3; do
		test "$f_" = "$leader" || follower=$f_
	done &&
	test -n "$follower" &&
	echo "# leader $leader, follower $follower" &&
	api_on "$leader" PUT /v1/kv/c/a --data-binary one &&
	api_on "$leader" PUT /v1/kv/c/b --data-binary two &&
	expect_status 200
'

test_expect_success 'a write transaction sent to a follower commits everywhere' '
	txn "[{\"KV\":{\"Verb\":\"set\",\"Key\":\"c/new\",\"Value\":\"$(b64 fresh)\"}},
	      {\"KV\":{\"Verb\":\"delete\",\"Key\":\"c/b\"}}]" "" "$follower" &&
	expect_status 200 &&
	json_get out "\$j->{Results}[0]{KV}{Key}" >actual &&
	echo c/new >expect && test_cmp expect actual &&
	for s in s1 s2 s3; do
		poll_until 20 kv_is $s c/new fresh stale || return 1
	done
'

test_expect_success 'a catalog write transaction sent to a follower is applied by every server' '
	txn "[{\"Node\":{\"Verb\":\"set\",\"Node\":{\"Node\":\"cx1\",\"Address\":\"192.0.2.30\"}}},
	      {\"Service\":{\"Verb\":\"set\",\"Node\":\"cx1\",\"Service\":{\"ID\":\"cweb\",\"Service\":\"cweb\",\"Port\":81}}}]" "" "$follower" &&
	expect_status 200 &&
	for s in s1 s2 s3; do
		poll_until 20 cweb_port_is $s 81 || return 1
	done
'

test_expect_success 'a transaction that must roll back, sent to a follower: 409, no server changed' '
	poll_until 20 api_on "$follower" GET "/v1/kv/c/new?stale" &&
	api_on "$leader" GET "/v1/kv/c/?recurse" && cidx=$(header X-Consul-Index) &&
	for s in s1 s2 s3; do
		api_on $s GET "/v1/kv/?recurse&stale" && json_canon out >before.$s &&
		header X-Consul-Index >before.$s.idx || return 1
	done &&
	txn "[{\"KV\":{\"Verb\":\"set\",\"Key\":\"c/a\",\"Value\":\"$(b64 changed)\"}},
	      {\"KV\":{\"Verb\":\"delete-tree\",\"Key\":\"c/\"}},
	      {\"KV\":{\"Verb\":\"check-index\",\"Key\":\"c/new\",\"Index\":1}}]" "" "$follower" &&
	expect_status 409 &&
	expect_body "{\"Results\":null,\"Errors\":[{\"OpIndex\":2,\"What\":\"failed to check index, key \\\"c/new\\\" doesn${SQ}t exist\"}]}" &&
	api_on "$leader" PUT /v1/kv/marker --data-binary m &&
	for s in s1 s2 s3; do
		poll_until 20 kv_is $s marker m stale &&
		api_on $s GET "/v1/kv/c/?recurse&stale" && json_canon out >after.$s &&
		api_on $s GET "/v1/kv/?recurse&stale" &&
		json_get out "[grep { \$_->{Key} ne q(marker) } @\$j]" >after.$s &&
		json_get before.$s "\$j" >cmp.$s &&
		test_cmp cmp.$s after.$s || return 1
	done &&
	api_on "$leader" GET "/v1/kv/c/?recurse" &&
	test "$(header X-Consul-Index)" = "$cidx"
'

test_expect_success 'a read-only transaction on a follower: ?stale answered there, default via the leader' '
	txn "[{\"KV\":{\"Verb\":\"get\",\"Key\":\"c/a\"}},
	      {\"KV\":{\"Verb\":\"get-tree\",\"Key\":\"c/\"}}]" stale "$follower" &&
	expect_status 200 &&
	json_get out "join q(,), map { \$_->{KV}{Key} } @{\$j->{Results}}" >actual &&
	echo c/a,c/a,c/new >expect && test_cmp expect actual &&
	test -n "$(header X-Consul-KnownLeader)" &&
	txn "[{\"KV\":{\"Verb\":\"get\",\"Key\":\"c/new\"}}]" "" "$follower" &&
	expect_status 200 &&
	txn "[{\"KV\":{\"Verb\":\"get\",\"Key\":\"c/new\"}}]" consistent "$follower" &&
	expect_status 200 &&
	json_get out "\$j->{Results}[0]{KV}{Value}" >actual &&
	b64 fresh >expect && echo >>expect && test_cmp expect actual &&
	txn "[{\"KV\":{\"Verb\":\"get\",\"Key\":\"c/new\"}}]" "stale&consistent" "$follower" &&
	expect_status 400
'

test_expect_success 'through a client agent: a write and a read-only transaction' '
	TEST_AGENT_WAIT=http start_agent c1 -retry-interval=1s \
		$(retry_join_flags s1 s2 s3) &&
	poll_until 30 api_on c1 GET /v1/status/leader &&
	txn "[{\"KV\":{\"Verb\":\"set\",\"Key\":\"via/client\",\"Value\":\"$(b64 c)\"}}]" "" c1 &&
	expect_status 200 &&
	txn "[{\"KV\":{\"Verb\":\"get\",\"Key\":\"via/client\"}}]" "" c1 &&
	expect_status 200 &&
	json_get out "\$j->{Results}[0]{KV}{Value}" >actual &&
	b64 c >expect && echo >>expect && test_cmp expect actual &&
	stop_agent c1
'

test_expect_success 'a ?stale read-only transaction needs no leader: served by the follower alone' '
	for s in s1 s2 s3; do
		test "$s" = "$follower" || stop_agent $s || return 1
	done &&
	txn "[{\"KV\":{\"Verb\":\"get\",\"Key\":\"c/new\"}}]" stale "$follower" &&
	expect_status 200 &&
	json_get out "\$j->{Results}[0]{KV}{Key}" >actual &&
	echo c/new >expect && test_cmp expect actual
'

test_done
