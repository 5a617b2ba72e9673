#!/bin/sh
test_description='ACL enforcement: walk the route table; every protected route denies no token and a neighbouring rule, allows exactly its rule'
. ./lib.sh

test_have_prereq PERL || { skip_all='needs perl JSON::PP'; test_done; }

MASTER=9a1c1d7e-5c3b-4f7e-9d11-0c1b2a3d4e5f

# The reference deployment's auth.hcl: JSON with // comments.
test_expect_success 'setup: one server with the reference auth.hcl' '
	mkdir cfg &&
	cat >cfg/auth.hcl <<-EOF &&
	// ACL configuration, as the reference deployment writes it
	{
	  "acl": {
	    "enabled": true,
	    "default_policy": "deny", // allowlist
	    "enable_token_persistence": true,
	    "tokens": { "master": "$MASTER" }
	  }
	}
	EOF
	start_agent a1 -server -bootstrap -config-dir=cfg
'

# m_api METHOD PATH [curl args]: api with the management token.
m_api () {
	m_m_=$1
	m_p_=$2
	shift 2
	api "$m_m_" "$m_p_" -H "X-Consul-Token: $MASTER" "$@"
}

test_expect_success 'the configured master token manages ACLs' '
	i=0 &&
	while test $i -lt 100
	do
		m_api GET /v1/acl/token/self &&
		test "$status" = 200 &&
		test "$(json_get out "\$j->{Policies}[0]{Name}")" = global-management &&
		break
		sleep 0.1
		i=$((i + 1))
	done &&
	expect_status 200 &&
	test "$(json_get out "\$j->{SecretID}")" = "$MASTER"
'

test_expect_success 'no token: default deny, anonymous wording' '
	api PUT /v1/kv/x -d v &&
	expect_status 403 &&
	test_grep "^Permission denied: anonymous token lacks permission '"'"'key:write'"'"' on \"x\"\. The anonymous token is used implicitly" out
'

test_expect_success 'unknown token: 403 ACL not found' '
	api GET /v1/agent/self -H "X-Consul-Token: 11111111-2222-3333-4444-555555555555" &&
	expect_status 403 &&
	echo "ACL not found" >expect && printf "\n" >>out && test_cmp expect out
'

test_expect_success 'setup: data the list routes filter' '
	m_api PUT /v1/kv/m/a -d 1 && expect_status 200 &&
	m_api PUT /v1/kv/m/b -d 2 && expect_status 200 &&
	m_api PUT /v1/kv/z/1 -d 3 && expect_status 200 &&
	m_api PUT /v1/catalog/register -d "{\"Node\":\"ext1\",\"Address\":\"192.0.2.1\",\"Service\":{\"ID\":\"extsvc\",\"Service\":\"extsvc\"},\"Checks\":[{\"CheckID\":\"extnode\",\"Name\":\"extnode\",\"Status\":\"passing\"},{\"CheckID\":\"extchk\",\"Name\":\"extchk\",\"ServiceID\":\"extsvc\",\"Status\":\"passing\"}]}" &&
	expect_status 200 &&
	m_api PUT /v1/agent/service/register -d "{\"Name\":\"web\",\"Port\":80}" &&
	expect_status 200 &&
	m_api PUT /v1/agent/check/register -d "{\"Name\":\"mchk\",\"TTL\":\"1h\"}" &&
	expect_status 200 &&
	m_api PUT /v1/session/create -d "{\"Node\":\"ext1\",\"NodeChecks\":[]}" &&
	expect_status 200 && json_get out "\$j->{ID}" >sid1 &&
	m_api PUT /v1/session/create -d "{\"Node\":\"ext1\",\"NodeChecks\":[]}" &&
	expect_status 200 && json_get out "\$j->{ID}" >sid2
'
SID=$(cat sid1 2>/dev/null)
SID2=$(cat sid2 2>/dev/null)

# mk_token RULES: a new policy holding RULES and a token holding it; the
# secret goes to stdout.
# (called in $(...): the counter lives in a file)
echo 0 >mk_n
mk_token () {
	mk_n_=$(( $(cat "$TRASH/mk_n") + 1 )) &&
	echo $mk_n_ >"$TRASH/mk_n" &&
	perl -MJSON::PP -e 'print encode_json({Name => $ARGV[0], Rules => $ARGV[1]})' \
		"matrix-$mk_n_" "$1" >pol.json &&
	m_api PUT /v1/acl/policy --data-binary @pol.json >&9 &&
	expect_status 200 >&9 &&
	mk_pid_=$(json_get out "\$j->{ID}") &&
	m_api PUT /v1/acl/token -d "{\"Policies\":[{\"ID\":\"$mk_pid_\"}]}" >&9 &&
	expect_status 200 >&9 &&
	json_get out "\$j->{SecretID}"
}

test_expect_success 'filtered lists say so, except to the anonymous token' '
	tok=$(mk_token "key \"m/a\" { policy = \"read\" }") &&
	api GET "/v1/kv/m/?recurse" -H "X-Consul-Token: $tok" &&
	expect_status 200 &&
	test "$(header X-Consul-Results-Filtered-By-ACLs)" = true &&
	test "$(json_get out "scalar @\$j")" = 1 &&
	api GET "/v1/kv/m/?keys" -H "X-Consul-Token: $tok" &&
	expect_status 200 &&
	test "$(json_get out "join q(,), @\$j")" = m/a &&
	api GET "/v1/kv/m/?recurse" &&
	expect_status 404 &&
	test -z "$(header X-Consul-Results-Filtered-By-ACLs)" &&
	test "$(header X-Consul-Default-ACL-Policy)" = deny
'

test_expect_success 'token sources: header, Bearer, ?token=' '
	api GET /v1/kv/m/a -H "Authorization: Bearer $MASTER" && expect_status 200 &&
	api GET /v1/kv/m/a -H "authorization: bearer   $MASTER" && expect_status 200 &&
	api GET "/v1/kv/m/a?token=$MASTER" && expect_status 200 &&
	api GET /v1/kv/m/a -H "Authorization: Basic $MASTER" && expect_status 403
'

# Samples: ROUTE|METHOD|PATH|BODY|RULE|NEIGHBOUR|EXPECT
#   EXPECT deny        no token and NEIGHBOUR: 403; RULE: 2xx
#   EXPECT deny-any    the same, but RULE only needs to pass the ACL
#                      check (the operation itself may fail: no peer...)
#   EXPECT filter:MARK no token and NEIGHBOUR: MARK absent from the
#                      answer (not 403); RULE: 2xx with MARK
#   EXPECT conflict    a body of several checks (/v1/txn): no token and
#                      NEIGHBOUR: 409 whose Errors say "Permission
#                      denied", as Consul's Txn preCheck; RULE: 2xx
#   EXPECT stream      a body that never ends (monitor): no token and
#                      NEIGHBOUR: 403; RULE: the 200 headers arrive
#                      (a short curl -m whose timeout is expected)
# Every route of the table with a protected method class must have one.
N=a1
cat >samples <<EOF
/v1/acl/policies|GET|/v1/acl/policies||acl = "read"|operator = "read"|deny
/v1/acl/policy/|GET|/v1/acl/policy/00000000-0000-0000-0000-000000000001||acl = "read"|operator = "read"|deny
/v1/acl/policy/|PUT|/v1/acl/policy|{"Name":"made-by-matrix"}|acl = "write"|acl = "read"|deny
/v1/acl/role/|PUT|/v1/acl/role|{"Name":"role-by-matrix"}|acl = "write"|acl = "read"|deny
/v1/acl/role/|GET|/v1/acl/role/name/role-by-matrix||acl = "read"|operator = "read"|deny
/v1/acl/roles|GET|/v1/acl/roles||acl = "read"|keyring = "read"|deny
/v1/acl/token/|GET|/v1/acl/token/00000000-0000-0000-0000-000000000002||acl = "read"|operator = "write"|deny
/v1/acl/token/|PUT|/v1/acl/token|{"Description":"by matrix"}|acl = "write"|acl = "read"|deny
/v1/acl/tokens|GET|/v1/acl/tokens||acl = "read"|operator = "read"|deny
/v1/agent/check/|PUT|/v1/agent/check/register|{"Name":"nc","TTL":"1h"}|node "$N" { policy = "write" }|node "other" { policy = "write" }|deny
/v1/agent/checks|GET|/v1/agent/checks||node "$N" { policy = "read" }|node "other" { policy = "read" }|filter:mchk
/v1/agent/force-leave/|PUT|/v1/agent/force-leave/nosuchnode||operator = "write"|operator = "read"|deny-any
/v1/agent/health/service/|GET|/v1/agent/health/service/name/web||service "web" { policy = "read" }|service "db" { policy = "read" }|deny-any
/v1/agent/join/|PUT|/v1/agent/join/$TEST_NET.250||agent "$N" { policy = "write" }|agent "other" { policy = "write" }|deny-any
/v1/agent/maintenance|PUT|/v1/agent/maintenance?enable=false||node "$N" { policy = "write" }|node "$N" { policy = "read" }|deny
/v1/agent/members|GET|/v1/agent/members||node "$N" { policy = "read" }|node "other" { policy = "read" }|filter:"Name":"$N"
/v1/agent/monitor|GET|/v1/agent/monitor?loglevel=debug||agent "$N" { policy = "read" }|agent "other" { policy = "read" }|stream
/v1/agent/metrics|GET|/v1/agent/metrics||agent "$N" { policy = "read" }|agent "other" { policy = "read" }|deny
/v1/agent/reload|PUT|/v1/agent/reload||agent "$N" { policy = "write" }|agent "$N" { policy = "read" }|deny
/v1/agent/self|GET|/v1/agent/self||agent "$N" { policy = "read" }|agent "other" { policy = "read" }|deny
/v1/agent/service/|GET|/v1/agent/service/web||service "web" { policy = "read" }|service "db" { policy = "read" }|deny
/v1/agent/service/|PUT|/v1/agent/service/register|{"Name":"api"}|service "api" { policy = "write" }|service "apx" { policy = "write" }|deny
/v1/agent/services|GET|/v1/agent/services||service "web" { policy = "read" }|service "db" { policy = "read" }|filter:"web"
/v1/agent/token/|PUT|/v1/agent/token/dns|{"Token":""}|acl = "write"|acl = "read"|deny
/v1/catalog/deregister|PUT|/v1/catalog/deregister|{"Node":"ghost"}|node "ghost" { policy = "write" }|node "ghosx" { policy = "write" }|deny
/v1/catalog/node-services/|GET|/v1/catalog/node-services/ext1||node "ext1" { policy = "read" }|node "ext9" { policy = "read" }|filter:ext1
/v1/catalog/node/|GET|/v1/catalog/node/ext1||node "ext1" { policy = "read" }|node "ext9" { policy = "read" }|filter:ext1
/v1/catalog/nodes|GET|/v1/catalog/nodes||node "ext1" { policy = "read" }|node "ext9" { policy = "read" }|filter:ext1
/v1/catalog/register|PUT|/v1/catalog/register|{"Node":"ext2","Address":"192.0.2.2"}|node "ext2" { policy = "write" }|node "ext3" { policy = "write" }|deny
/v1/catalog/service/|GET|/v1/catalog/service/extsvc||service "extsvc" { policy = "read" } node "ext1" { policy = "read" }|service "extsvc" { policy = "read" }|filter:ext1
/v1/catalog/services|GET|/v1/catalog/services||service "extsvc" { policy = "read" }|service "other" { policy = "read" }|filter:extsvc
/v1/event/fire/|PUT|/v1/event/fire/deploy|payload|event "deploy" { policy = "write" }|event "deploy" { policy = "read" }|deny
/v1/event/list|GET|/v1/event/list||event "deploy" { policy = "read" }|event "other" { policy = "read" }|filter:"Name":"deploy"
/v1/health/checks/|GET|/v1/health/checks/extsvc||service "extsvc" { policy = "read" } node "ext1" { policy = "read" }|service "extsvc" { policy = "read" }|filter:extchk
/v1/health/node/|GET|/v1/health/node/ext1||node "ext1" { policy = "read" }|node "ext9" { policy = "read" }|filter:extnode
/v1/health/service/|GET|/v1/health/service/extsvc||service "extsvc" { policy = "read" } node "ext1" { policy = "read" }|node "ext1" { policy = "read" }|filter:extchk
/v1/health/state/|GET|/v1/health/state/any||node "ext1" { policy = "read" }|node "ext9" { policy = "read" }|filter:extnode
/v1/kv/|GET|/v1/kv/m/a||key "m/a" { policy = "read" }|key "m/b" { policy = "read" }|deny
/v1/kv/|GET|/v1/kv/m/?recurse||key "m/a" { policy = "read" }|key "m/b" { policy = "read" }|filter:"m/a"
/v1/kv/|PUT|/v1/kv/m/c|x|key "m/c" { policy = "write" }|key "m/c" { policy = "read" }|deny
/v1/kv/|DELETE|/v1/kv/z/?recurse||key_prefix "z/" { policy = "write" }|key_prefix "z/" { policy = "write" } key "z/1" { policy = "read" }|deny
/v1/session/create|PUT|/v1/session/create|{"Node":"ext1","NodeChecks":[]}|session "ext1" { policy = "write" }|session "ext1" { policy = "read" }|deny
/v1/session/destroy/|PUT|/v1/session/destroy/$SID2||session "ext1" { policy = "write" }|session "ext9" { policy = "write" }|deny
/v1/session/info/|GET|/v1/session/info/$SID||session "ext1" { policy = "read" }|session "ext9" { policy = "read" }|filter:$SID
/v1/session/list|GET|/v1/session/list||session "ext1" { policy = "read" }|session "ext9" { policy = "read" }|filter:$SID
/v1/session/node/|GET|/v1/session/node/ext1||session "ext1" { policy = "read" }|session "ext9" { policy = "read" }|filter:$SID
/v1/session/renew/|PUT|/v1/session/renew/$SID||session "ext1" { policy = "write" }|session "ext1" { policy = "read" }|deny
/v1/operator/autopilot/configuration|GET|/v1/operator/autopilot/configuration||operator = "read"|keyring = "read"|deny
/v1/operator/autopilot/configuration|PUT|/v1/operator/autopilot/configuration|{"CleanupDeadServers":true,"LastContactThreshold":"200ms","MaxTrailingLogs":250,"MinQuorum":0,"ServerStabilizationTime":"10s"}|operator = "write"|operator = "read"|deny
/v1/operator/autopilot/health|GET|/v1/operator/autopilot/health||operator = "read"|keyring = "read"|deny
/v1/operator/raft/configuration|GET|/v1/operator/raft/configuration||operator = "read"|keyring = "read"|deny
/v1/operator/raft/peer|DELETE|/v1/operator/raft/peer?id=nosuchpeer||operator = "write"|operator = "read"|deny-any
/v1/operator/raft/transfer-leader|POST|/v1/operator/raft/transfer-leader||operator = "write"|operator = "read"|deny-any
/v1/snapshot|GET|/v1/snapshot||acl = "write"|acl = "read"|deny
/v1/snapshot|PUT|/v1/snapshot|not a snapshot|acl = "write"|acl = "read"|deny-any
/v1/txn|PUT|/v1/txn|[{"KV":{"Verb":"set","Key":"m/t","Value":"eA=="}},{"KV":{"Verb":"get","Key":"m/t"}}]|key "m/t" { policy = "write" }|key "m/t" { policy = "read" }|conflict
/v1/txn|PUT|/v1/txn|[{"Node":{"Verb":"set","Node":{"Node":"m-tx","Address":"192.0.2.9"}}},{"Service":{"Verb":"set","Node":"m-tx","Service":{"ID":"m-txs","Service":"m-txs"}}}]|node "m-tx" { policy = "write" } service "m-txs" { policy = "write" }|node "m-tx" { policy = "write" } service "m-txs" { policy = "read" }|conflict
/v1/txn|PUT|/v1/txn|[{"Check":{"Verb":"delete","Check":{"Node":"m-tx","CheckID":"m-c"}}}]|node "m-tx" { policy = "write" }|node "m-tx" { policy = "read" }|conflict
/v1/agent/leave|PUT|/v1/agent/leave||agent "$N" { policy = "write" }|agent "$N" { policy = "read" }|deny
EOF

test_expect_success 'the route table is served and every protected route has a sample' '
	api GET /v1/internal/proconsul/routes && expect_status 200 &&
	json_get out "join qq(\\n), map { my \$r = \$_; my @o; for my \$c (qw(Read Write)) { next unless \$r->{\$c}; next if \$r->{Kind} eq q(internal); next if \$r->{\$c}{Scope} eq q(handler) && \$r->{Path} eq q(/v1/acl/token/self); push @o, \$r->{Path} . q( ) . \$c } @o } @\$j" >needed &&
	test_file_not_empty needed &&
	while read -r path class
	do
		case $class in
		Read) methods="GET" ;;
		Write) methods="PUT POST DELETE" ;;
		esac
		found=
		for m in $methods
		do
			grep -F -q "$path|$m|" samples && found=1
		done
		test -n "$found" || { echo "no sample for $path ($class)"; return 1; }
	done <needed
'

# stream_sample PATH TOKEN: a GET whose body never ends answers 200;
# curl's timeout (28) after the headers is the expected end.
stream_sample () {
	rm -f out hdr
	test_curl -o out -D hdr -m 2 -H "X-Consul-Token: $2" \
		"$CONSUL_HTTP_ADDR$1"
	ss_rc_=$?
	echo "ok: curl exit $ss_rc_, $(head -n 1 hdr 2>/dev/null)"
	test "$ss_rc_" = 0 || test "$ss_rc_" = 28 || return 1
	head -n 1 hdr | grep -q "^HTTP/1\.1 200 " ||
		{ echo "expected the 200 headers"; return 1; }
}

# run_sample LINE
run_sample () {
	IFS="|" read -r s_route s_method s_path s_body s_rule s_nb s_expect <<-EOF
	$1
	EOF
	s_ok=$(mk_token "$s_rule") && s_bad=$(mk_token "$s_nb") || return 1
	set -- -X "$s_method"
	test -n "$s_body" && set -- "$@" --data-binary "$s_body"
	for who in none bad ok
	do
		case $s_expect:$who in
		stream:ok)
			stream_sample "$s_path" "$s_ok" || return 1
			continue ;;
		esac
		case $who in
		none) api "$s_method" "$s_path" ${s_body:+--data-binary "$s_body"} ;;
		bad) api "$s_method" "$s_path" ${s_body:+--data-binary "$s_body"} -H "X-Consul-Token: $s_bad" ;;
		ok) api "$s_method" "$s_path" ${s_body:+--data-binary "$s_body"} -H "X-Consul-Token: $s_ok" ;;
		esac || return 1
		echo "$who: $status $(head -c 300 out)"
		case $s_expect:$who in
		deny*:none|deny*:bad|stream:none|stream:bad)
			test "$status" = 403 || { echo "expected 403"; return 1; }
			test_grep "^Permission denied" out || return 1 ;;
		conflict:none|conflict:bad)
			test "$status" = 409 || { echo "expected 409"; return 1; }
			test_grep "\"What\":\"Permission denied" out || return 1 ;;
		deny:ok|conflict:ok)
			case $status in 2??) ;; *) echo "expected 2xx"; return 1 ;; esac ;;
		deny-any:ok)
			test "$status" != 403 || { echo "expected the ACL check to pass"; return 1; } ;;
		filter:*:ok)
			case $status in 2??) ;; *) echo "expected 2xx"; return 1 ;; esac
			grep -F -q "${s_expect#filter:}" out || { echo "expected ${s_expect#filter:}"; return 1; } ;;
		filter:*)
			test "$status" != 403 || { echo "lists are filtered, not denied"; return 1; }
			! grep -F -q "${s_expect#filter:}" out || { echo "${s_expect#filter:} leaked"; return 1; } ;;
		esac
	done
}

while IFS= read -r line
do
	test_expect_success "matrix: $(echo "$line" | cut -d"|" -f2,3)" "run_sample $(test_sq_ "$line")"
done <samples

test_done
