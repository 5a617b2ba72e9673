#!/bin/sh
test_description='two datacenters with ACLs: primary_datacenter holds the tokens and policies, the other forwards the ACL API there and replicates them (acl.enable_token_replication), so they keep working with the primary down'
. ./lib.sh

test_have_prereq PERL || { skip_all='needs perl JSON::PP'; test_done; }

MASTER=7f2b9c4e-3d1a-4b5c-9e8f-1a2b3c4d5e6f
# a1: the one server of dc1 (primary); b1, then b2: the servers of dc2.
reserve_agents a1 b1 b2

cat >acl1.hcl <<EOF &&
primary_datacenter = "dc1"
acl {
  enabled = true
  default_policy = "deny"
  tokens { initial_management = "$MASTER" agent = "$MASTER" }
}
EOF
cat >acl2.hcl <<EOF || test_bail_ "cannot write the configs"
primary_datacenter = "dc1"
acl {
  enabled = true
  default_policy = "deny"
  enable_token_replication = true
  tokens { agent = "$MASTER" }
}
EOF

wan="-retry-join-wan=$a1_ADDR -retry-join-wan=$b1_ADDR -retry-interval-wan=1s"

# with TOKEN METHOD PATH [curl args]: api_on b1 with X-Consul-Token.
on_b1 () {
	ob_tok_=$1
	shift
	api_on b1 "$@" -H "X-Consul-Token: $ob_tok_"
}

dcs_both () {
	api_on b1 GET /v1/catalog/datacenters && expect_status 200 &&
	expect_body "[\"dc2\",\"dc1\"]"
}

test_expect_success 'setup: dc1 (primary) and dc2, one server each, WAN joined' '
	# shellcheck disable=SC2086
	TEST_AGENT_WAIT=http start_agent a1 -server -bootstrap-expect=1 \
		-datacenter=dc1 -config-file="$TRASH/acl1.hcl" $wan &&
	TEST_AGENT_WAIT=http start_agent b1 -server -bootstrap-expect=1 \
		-datacenter=dc2 -config-file="$TRASH/acl2.hcl" $wan &&
	wait_leader 30 a1 && wait_leader 30 b1 &&
	poll_until 30 dcs_both
'

test_expect_success 'dc2 knows the primary management token only through dc1' '
	poll_until 20 eval "on_b1 $MASTER PUT /v1/kv/k --data-binary v &&
		expect_status 200" &&
	on_b1 "" PUT /v1/kv/k --data-binary v && expect_status 403 &&
	on_b1 00000000-1111-2222-3333-444444444444 GET /v1/kv/k &&
	expect_status 403 && test_grep "ACL not found" out
'

test_expect_success 'ACL writes sent to dc2 land in the primary' '
	on_b1 $MASTER PUT /v1/acl/policy \
		--data "{\"Name\":\"app-rw\",\"Rules\":\"key_prefix \\\"app/\\\" { policy = \\\"write\\\" }\"}" &&
	expect_status 200 &&
	api_on a1 GET /v1/acl/policies -H "X-Consul-Token: $MASTER" &&
	expect_status 200 &&
	json_get out "join q{,}, sort map { \$_->{Name} } @\$j" >names &&
	test_grep "app-rw" names &&
	on_b1 $MASTER PUT /v1/acl/token \
		--data "{\"Policies\":[{\"Name\":\"app-rw\"}]}" &&
	expect_status 200 &&
	APP=$(json_get out "\$j->{SecretID}") && test -n "$APP" &&
	api_on a1 GET /v1/acl/tokens -H "X-Consul-Token: $MASTER" &&
	json_get out "scalar grep { (\$_->{Policies}[0]{Name} // q{}) eq q{app-rw} } @\$j" >n &&
	echo 1 >expect && test_cmp expect n
'

test_expect_success 'a token made in the primary works in dc2 with its rules' '
	on_b1 "$APP" PUT /v1/kv/app/x --data-binary 1 && expect_status 200 &&
	on_b1 "$APP" PUT /v1/kv/other/x --data-binary 1 && expect_status 403 &&
	api_on a1 PUT /v1/kv/app/x --data-binary 2 -H "X-Consul-Token: $APP" &&
	expect_status 200 &&
	on_b1 "$APP" GET "/v1/kv/app/x?raw" && expect_status 200 &&
	expect_body 1
'

peers_two () {
	api_on b1 GET /v1/status/peers && expect_status 200 &&
	json_get out "scalar @\$j" >np && echo 2 >expect && test_cmp expect np
}

test_expect_success 'a second server joins dc2 (a follower there)' '
	# shellcheck disable=SC2086
	TEST_AGENT_WAIT=http start_agent b2 -server -datacenter=dc2 \
		-config-file="$TRASH/acl2.hcl" -retry-join=$b1_ADDR \
		-retry-interval=1s $wan &&
	poll_until 60 peers_two
'

test_expect_success 'the primary has no replication; dc2 reports its own' '
	api_on a1 GET /v1/acl/replication && expect_status 200 &&
	json_get out "\$j->{Enabled} ? 1 : 0" >en && echo 0 >expect &&
	test_cmp expect en &&
	api_on b1 GET /v1/acl/replication && expect_status 200 &&
	json_get out "join q{,}, (\$j->{Enabled} ? 1 : 0), (\$j->{Running} ? 1 : 0), \$j->{SourceDatacenter}, \$j->{ReplicationType}" >st &&
	echo "1,1,dc1,tokens" >expect && test_cmp expect st
'

repl_at () {
	api_on b1 GET /v1/acl/replication && expect_status 200 &&
	json_get out "\$j->{ReplicatedTokenIndex}" >ri &&
	test "$(cat ri)" -ge "$1"
}

test_expect_success 'a token and policy made in dc1 (never used in dc2) are replicated to dc2' '
	api_on a1 PUT /v1/acl/policy -H "X-Consul-Token: $MASTER" \
		--data "{\"Name\":\"db-rw\",\"Rules\":\"key_prefix \\\"db/\\\" { policy = \\\"write\\\" }\"}" &&
	expect_status 200 &&
	api_on a1 PUT /v1/acl/token -H "X-Consul-Token: $MASTER" \
		--data "{\"Policies\":[{\"Name\":\"db-rw\"}]}" &&
	expect_status 200 &&
	DB=$(json_get out "\$j->{SecretID}") && test -n "$DB" &&
	CI=$(json_get out "\$j->{CreateIndex}") && test -n "$CI" &&
	poll_until 30 repl_at "$CI" &&
	api_on b1 GET /v1/acl/replication &&
	json_get out "\$j->{LastSuccess}" >ls && ! test_grep "^0001" ls
'

test_expect_success 'a token deleted in dc1 is deleted in dc2 too' '
	api_on a1 PUT /v1/acl/token -H "X-Consul-Token: $MASTER" \
		--data "{\"Policies\":[{\"Name\":\"db-rw\"}]}" &&
	expect_status 200 &&
	GONE=$(json_get out "\$j->{SecretID}") && test -n "$GONE" &&
	GONE_ID=$(json_get out "\$j->{AccessorID}") &&
	api_on a1 DELETE "/v1/acl/token/$GONE_ID" -H "X-Consul-Token: $MASTER" &&
	expect_status 200 &&
	api_on a1 GET /v1/acl/tokens -H "X-Consul-Token: $MASTER" &&
	expect_status 200 &&
	TI=$(tr -d "\r" <hdr | sed -n "s/^[Xx]-[Cc]onsul-[Ii]ndex: //p") &&
	test -n "$TI" &&
	poll_until 30 repl_at "$TI"
'

test_expect_success 'all of dc1 down: replicated tokens work in dc2 with their rules, unknown ones are refused' '
	kill9 a1 &&
	on_b1 "$DB" PUT /v1/kv/db/x --data-binary 1 && expect_status 200 &&
	on_b1 "$DB" GET "/v1/kv/db/x?raw" && expect_status 200 &&
	expect_body 1 &&
	on_b1 "$DB" PUT /v1/kv/app/z --data-binary 1 && expect_status 403 &&
	on_b1 "$APP" PUT /v1/kv/app/y --data-binary 1 && expect_status 200 &&
	on_b1 11111111-2222-3333-4444-555555555555 GET /v1/kv/app/y &&
	expect_status 403 &&
	on_b1 "$GONE" GET /v1/kv/db/x && expect_status 403 &&
	on_b1 "" PUT /v1/kv/db/y --data-binary 1 && expect_status 403 &&
	api_on b2 GET "/v1/kv/db/x?stale&raw" -H "X-Consul-Token: $DB" &&
	expect_status 200 && expect_body 1 &&
	api_on b2 GET "/v1/kv/app/y?stale" -H "X-Consul-Token: $DB" &&
	expect_status 403 &&
	api_on b2 GET "/v1/kv/db/x?stale" -H "X-Consul-Token: $GONE" &&
	expect_status 403
'

test_done
