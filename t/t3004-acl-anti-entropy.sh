#!/bin/sh
test_description='ACLs and anti-entropy: a client agent without an agent token syncs each service with the token it was registered with, keeps it across a restart (local-state.json, mode 600) and never shows it'
. ./lib.sh

test_have_prereq PERL || { skip_all='needs perl JSON::PP'; test_done; }

MASTER=3f6b2a1c-8d4e-4a7b-9c2d-1e0f5a6b7c8d
reserve_agents s1 c1

# The server: default deny and a management token. The client: default
# deny, no token at all, stays in the catalog over a restart, and has a
# config service "db" without a token (synced as anonymous: blocked).
mkdir scfg ccfg &&
cat >scfg/acl.hcl <<EOF &&
acl {
  enabled = true
  default_policy = "deny"
  tokens { initial_management = "$MASTER" }
}
EOF
cat >ccfg/acl.hcl <<EOF || test_bail_ "cannot write the configs"
acl {
  enabled = true
  default_policy = "deny"
}
leave_on_terminate = false
services {
  name = "db"
  port = 5432
}
EOF

# m_api NAME METHOD PATH [curl args]: api_on with the management token.
m_api () {
	m_a_=$1
	shift
	m_m_=$1
	m_p_=$2
	shift 2
	api_on "$m_a_" "$m_m_" "$m_p_" -H "X-Consul-Token: $MASTER" "$@"
}

# catalog_nodes SERVICE: the nodes /v1/catalog/service/SERVICE lists on
# the server (management token), sorted, space separated, to ./nodes.
catalog_nodes () {
	m_api s1 GET "/v1/catalog/service/$1" &&
	expect_status 200 &&
	json_get out "join q( ), sort map { \$_->{Node} } @\$j" >nodes
}

# catalog_has SERVICE NODES: catalog_nodes is exactly NODES.
catalog_has () {
	catalog_nodes "$1" &&
	echo "$2" >expect.nodes &&
	test_cmp expect.nodes nodes
}

# node_checks NODE: the CheckIDs of /v1/health/node/NODE, sorted.
node_checks () {
	m_api s1 GET "/v1/health/node/$1" &&
	expect_status 200 &&
	json_get out "join q( ), sort map { \$_->{CheckID} } @\$j"
}

# checks_are NODE IDS: node_checks NODE is exactly IDS.
checks_are () {
	node_checks "$1" >checks &&
	echo "$2" >expect.checks &&
	test_cmp expect.checks checks
}

# node_known NAME: the server's catalog has node NAME.
node_known () {
	m_api s1 GET "/v1/catalog/node/$1" &&
	expect_status 200 &&
	test "$(json_get out "\$j->{Node}{Node}")" = "$1"
}

test_expect_success 'setup: a server, a client without an agent token' '
	start_agent s1 -server -bootstrap -datacenter=dc1 \
		-config-dir="$TRASH/scfg" &&
	poll_until 20 m_api s1 GET /v1/acl/token/self &&
	start_agent c1 -datacenter=dc1 -retry-interval=1s \
		-config-dir="$TRASH/ccfg" $(retry_join_flags s1) &&
	poll_until 20 node_known c1 &&
	test_set_prereq CLUSTER
'

test_expect_success CLUSTER 'setup: a token with service:write on "web"' '
	perl -MJSON::PP -e "print encode_json({Name => q(web-w),
		Rules => q(service \"web\" { policy = \"write\" })})" >pol.json &&
	m_api s1 PUT /v1/acl/policy --data-binary @pol.json &&
	expect_status 200 &&
	m_api s1 PUT /v1/acl/token \
		-d "{\"Description\":\"web\",\"Policies\":[{\"Name\":\"web-w\"}]}" &&
	expect_status 200 &&
	WEB=$(json_get out "\$j->{SecretID}") &&
	test -n "$WEB" && test "$WEB" != null
'

test_expect_success CLUSTER 'a service registered with its token is synced with it' '
	api_on c1 PUT /v1/agent/service/register \
		-d "{\"Name\":\"web\",\"Port\":80,\"Check\":{\"TTL\":\"10m\"}}" \
		-H "X-Consul-Token: $WEB" &&
	expect_status 200 &&
	poll_until 20 catalog_has web c1 &&
	poll_until 10 checks_are c1 "serfHealth service:web"
'

test_expect_success CLUSTER 'a config service without a token is blocked by ACLs, and says so' '
	poll_until 20 test_grep "Service registration blocked by ACLs: service=db: Permission denied" c1.log &&
	catalog_nodes db &&
	test -z "$(cat nodes)"
'

test_expect_success CLUSTER 'the sync log never shows the token' '
	! grep -F "$WEB" c1.log &&
	! grep -F "$WEB" s1.log
'

test_expect_success CLUSTER 'no token: the agent itself refuses the registration' '
	api_on c1 PUT /v1/agent/service/register -d "{\"Name\":\"web\",\"Port\":81}" &&
	expect_status 403 &&
	api_on c1 GET /v1/agent/service/web -H "X-Consul-Token: $WEB" &&
	expect_status 200 &&
	test "$(json_get out "\$j->{Port}")" = 80
'

test_expect_success CLUSTER 're-registered with the token again: synced again' '
	api_on c1 PUT /v1/agent/service/register \
		-d "{\"Name\":\"web\",\"Port\":8080,\"Check\":{\"TTL\":\"10m\"}}" \
		-H "X-Consul-Token: $WEB" &&
	expect_status 200 &&
	port_is () {
		m_api s1 GET /v1/catalog/service/web &&
		test "$(json_get out "\$j->[0]{ServicePort}")" = "$1"
	} &&
	poll_until 20 port_is 8080
'

test_expect_success CLUSTER 'a check registered with the token is synced with it' '
	api_on c1 PUT /v1/agent/check/register \
		-d "{\"Name\":\"web-extra\",\"ServiceID\":\"web\",\"TTL\":\"10m\"}" \
		-H "X-Consul-Token: $WEB" &&
	expect_status 200 &&
	poll_until 20 checks_are c1 "serfHealth service:web web-extra"
'

test_expect_success CLUSTER 'local-state.json: mode 600, keeps the token' '
	test "$(stat -c %a c1/local-state.json)" = 600 &&
	grep -F -q "$WEB" c1/local-state.json
'

# A restart in two steps (restart_agent's stop, then its start), so that
# the catalog can lose "web" meanwhile: only the persisted token can
# bring it back (the client has no other token, and no full sync is due
# for a minute after the start's).
test_expect_success CLUSTER 'after a restart the persisted token syncs "web" again' '
	stop_agent c1 &&
	m_api s1 PUT /v1/catalog/deregister \
		-d "{\"Node\":\"c1\",\"ServiceID\":\"web\"}" &&
	expect_status 200 &&
	catalog_nodes web &&
	test -z "$(cat nodes)" &&
	relaunch_agent c1 &&
	wait_for_agent c1 leader &&
	poll_until 30 catalog_has web c1 &&
	poll_until 10 checks_are c1 "serfHealth service:web web-extra" &&
	test "$(stat -c %a c1/local-state.json)" = 600
'

test_expect_success CLUSTER 'no view shows the token' '
	for p in /v1/agent/services /v1/agent/service/web /v1/agent/checks \
		/v1/agent/health/service/name/web
	do
		api_on c1 GET "$p" -H "X-Consul-Token: $MASTER" &&
		test_file_not_empty out &&
		! grep -F "$WEB" out &&
		! grep -i "\"token\"" out || return 1
	done &&
	m_api s1 GET /v1/catalog/service/web &&
	! grep -F "$WEB" out &&
	! grep -F "$WEB" c1.log
'

test_done
