#!/bin/sh
test_description='ACLs on the reference deployment: auth.hcl + consulha.hcl on three servers, members -token, bootstrap and its reset on a follower, persisted agent tokens, state across restarts, a client agent'
. ./lib.sh

test_have_prereq PERL || { skip_all='needs perl JSON::PP'; test_done; }

MASTER=5d3c0f8e-1b7a-4c2e-8f6d-2a9b8c7d6e5f
reserve_agents s1 s2 s3 c1

# auth.hcl exactly as the reference deployment writes it (JSON with //
# comments in a .hcl file), consulha.hcl in HCL.
mkdir config &&
cat >config/auth.hcl <<EOF &&
// ACL
{
  "acl": {
    "enabled": true,
    "default_policy": "deny",
    "enable_token_persistence": true,
    "tokens": {
      "master": "$MASTER"
    }
  }
}
EOF
cat >config/consulha.hcl <<EOF || test_bail_ "cannot write the config dir"
server = true
retry_join = ["$s1_ADDR", "$s2_ADDR", "$s3_ADDR"]
EOF
mkdir cconfig &&
cat >cconfig/acl.hcl <<EOF || test_bail_ "cannot write the client config"
acl {
  enabled = true
  default_policy = "deny"
  tokens { agent = "$MASTER" }
}
EOF

deployed () {
	TEST_AGENT_WAIT=http start_agent "$1" -server -http-port=8500 \
		-bootstrap-expect=3 -datacenter=dc1 -ui \
		-config-dir="$TRASH/config"
}

test_expect_success 'setup: three servers as in the runbook, one client' '
	deployed s1 && deployed s2 && deployed s3 &&
	TEST_AGENT_WAIT=http start_agent c1 -datacenter=dc1 \
		-retry-interval=1s -config-dir="$TRASH/cconfig" \
		$(retry_join_flags s1 s2 s3) &&
	wait_leader 30 s1 s2 s3 &&
	test_set_prereq CLUSTER
'

# members_ok NAME [members flags]: `members -token MASTER` on NAME lists
# the three servers and the client, alive.
members_ok () {
	mo_=$1
	shift
	proconsul members -http-addr="$(agent_http "$mo_")" "$@" >members.out &&
	for n in s1 s2 s3 c1
	do
		awk -v n="$n" '$1 == n && $3 == "alive" { f = 1 } END { exit !f }' \
			members.out || { cat members.out; return 1; }
	done
}

test_expect_success CLUSTER 'consul members -token <master> lists every member, on every agent' '
	for a in s1 s2 s3 c1
	do
		poll_until 20 members_ok $a -token "$MASTER" || return 1
	done &&
	CONSUL_HTTP_TOKEN=$MASTER members_ok s2 &&
	echo "$MASTER" >tokfile && members_ok c1 -token-file=tokfile
'

test_expect_success CLUSTER 'without a token members shows nobody (default deny filters)' '
	proconsul members -http-addr="$s1_HTTP" >out 2>err;
	! grep -q "^s1 " out
'

test_expect_success CLUSTER 'an unknown token: ACL not found, on a server and through the client' '
	test_must_fail proconsul members -http-addr="$s1_HTTP" \
		-token 00000000-1111-2222-3333-444444444444 2>err &&
	test_grep "ACL not found" err &&
	api_on c1 PUT /v1/kv/k -d v -H "X-Consul-Token: 00000000-1111-2222-3333-444444444444" &&
	expect_status 403 &&
	test_grep "ACL not found" out
'

test_expect_success CLUSTER 'writes with the master token through a follower and the client' '
	for a in s1 s2 s3 c1
	do
		api_on $a PUT /v1/kv/from-$a -d $a -H "X-Consul-Token: $MASTER" &&
		expect_status 200 || return 1
	done &&
	api_on c1 GET "/v1/kv/?keys" -H "X-Consul-Token: $MASTER" &&
	expect_status 200 &&
	test "$(json_get out "join q(,), @\$j")" = from-c1,from-s1,from-s2,from-s3
'

test_expect_success CLUSTER 'a token made on one server works on every agent' '
	printf "{\"Name\":\"kv-r\",\"Rules\":\"key_prefix \\\\\"from-\\\\\" { policy = \\\\\"read\\\\\" }\"}" >pol.json &&
	api_on s2 PUT /v1/acl/policy --data-binary @pol.json -H "X-Consul-Token: $MASTER" &&
	expect_status 200 &&
	api_on s3 PUT /v1/acl/token -d "{\"Description\":\"reader\",\"Policies\":[{\"Name\":\"kv-r\"}]}" -H "X-Consul-Token: $MASTER" &&
	expect_status 200 &&
	READER=$(json_get out "\$j->{SecretID}") &&
	READER_ID=$(json_get out "\$j->{AccessorID}") &&
	for a in s1 s2 s3 c1
	do
		poll_until 10 kv_is $a from-s1 s1 "token=$READER&stale" || return 1
		api_on $a PUT /v1/kv/from-s1 -d x -H "X-Consul-Token: $READER" &&
		expect_status 403 &&
		test_grep "token with AccessorID '"'"'$READER_ID'"'"' lacks permission '"'"'key:write'"'"' on \"from-s1\"" out ||
		return 1
	done
'

test_expect_success CLUSTER 'acl bootstrap after a master token: 403 with the reset index' '
	test_expect_code 1 proconsul acl bootstrap -http-addr="$s1_HTTP" 2>err &&
	test_grep "Failed ACL bootstrapping: Unexpected response code: 403 (Permission denied: ACL bootstrap no longer allowed (reset index: [0-9]*))" err &&
	reset=$(sed -n "s/.*reset index: \([0-9]*\).*/\1/p" err) &&
	test -n "$reset"
'

test_expect_success CLUSTER 'bootstrap reset works from a follower, once' '
	f=$(for s in s1 s2 s3; do test $s = "$leader" || echo $s; done | head -n 1) &&
	echo "$reset" >"$TRASH/$f/acl-bootstrap-reset" &&
	api_on $f PUT /v1/acl/bootstrap &&
	expect_status 200 &&
	NEWMGMT=$(json_get out "\$j->{SecretID}") &&
	test "$(json_get out "\$j->{Policies}[0]{ID}")" = 00000000-0000-0000-0000-000000000001 &&
	test_path_is_missing "$TRASH/$f/acl-bootstrap-reset" &&
	api_on $leader PUT /v1/kv/after-reset -d 1 -H "X-Consul-Token: $NEWMGMT" &&
	expect_status 200 &&
	api_on $f PUT /v1/acl/bootstrap &&
	expect_status 403 &&
	test_grep "ACL bootstrap no longer allowed (reset index: " out &&
	! test_grep "reset index: $reset)" out
'

test_expect_success CLUSTER 'a stale reset index is refused and the file is kept' '
	f=$(for s in s1 s2 s3; do test $s = "$leader" || echo $s; done | tail -n 1) &&
	echo "$reset" >"$TRASH/$f/acl-bootstrap-reset" &&
	api_on $f PUT /v1/acl/bootstrap &&
	expect_status 500 &&
	test_grep "^Invalid bootstrap reset index (specified $reset, reset index: [0-9]*)" out &&
	test -f "$TRASH/$f/acl-bootstrap-reset" &&
	rm "$TRASH/$f/acl-bootstrap-reset"
'

test_expect_success CLUSTER 'agent tokens set through the API are persisted, mode 0600' '
	api_on s2 PUT /v1/agent/token/agent -d "{\"Token\":\"$READER\"}" \
		-H "X-Consul-Token: $MASTER" &&
	expect_status 200 &&
	test "$(stat -c %a "$TRASH/s2/acl-tokens.json")" = 600 &&
	test "$(json_get "$TRASH/s2/acl-tokens.json" "\$j->{agent}")" = "$READER" &&
	api_on s2 PUT /v1/agent/token/no-such-kind -d "{\"Token\":\"x\"}" \
		-H "X-Consul-Token: $MASTER" &&
	expect_status 404 &&
	api_on s2 PUT /v1/agent/token/agent -d "{\"Token\":\"x\"}" \
		-H "X-Consul-Token: $READER" &&
	expect_status 403
'

test_expect_success CLUSTER 'the ACL state and agent tokens survive restarting every server' '
	stop_agents TERM s1 s2 s3 &&
	relaunch_agent s1 && relaunch_agent s2 && relaunch_agent s3 &&
	wait_leader 30 s1 s2 s3 &&
	grep -q "loaded persisted agent tokens" s2.log &&
	for a in s1 s2 s3
	do
		poll_until 20 kv_is $a from-s2 s2 "token=$READER&stale" || return 1
	done &&
	api_on $leader GET /v1/acl/tokens -H "X-Consul-Token: $NEWMGMT" &&
	expect_status 200 &&
	json_get out "join q(,), sort map { \$_->{Description} } @\$j" >descs &&
	test_grep "reader" descs &&
	test_grep "Initial Management Token" descs &&
	test_grep "Anonymous Token" descs
'

test_expect_success CLUSTER 'no secret ever reaches a log' '
	for f in s1.log s2.log s3.log c1.log
	do
		for s in "$MASTER" "$READER" "$NEWMGMT"
		do
			! grep -F -q "$s" $f || { echo "$f holds a secret"; return 1; }
		done
	done
'

test_done
