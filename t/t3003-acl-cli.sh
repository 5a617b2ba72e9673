#!/bin/sh
test_description='acl bootstrap|token|policy|role|set-agent-token: usage, output formats, one dev agent with ACLs on'
. ./lib.sh

ROOT=6f3c7a1e-5b1d-4c8e-9a47-2f0d3b8e1c55
MGMT=00000000-0000-0000-0000-000000000001
UUID_RE='[0-9a-f]\{8\}-[0-9a-f]\{4\}-[0-9a-f]\{4\}-[0-9a-f]\{4\}-[0-9a-f]\{12\}'

# JSON checks: jq when installed, else python3.
if command -v jq >/dev/null 2>&1; then
	test_set_prereq JSON
	# jval FILE PATH: the value at PATH (".Name", ".Policies[0].ID").
	jval () { jq -r "$2" "$1"; }
	# jeach FILE KEY: KEY of every element of the top-level array.
	jeach () { jq -r ".[].$2" "$1"; }
elif command -v python3 >/dev/null 2>&1; then
	test_set_prereq JSON
	jval () {
		python3 -c '
import json, re, sys
d = json.load(open(sys.argv[1]))
v = eval("d" + re.sub(r"\.(\w+)", r"[\"\1\"]", sys.argv[2]))
print("null" if v is None else str(v).lower() if isinstance(v, bool) else v)
' "$1" "$2"
	}
	jeach () {
		python3 -c '
import json, sys
for e in json.load(open(sys.argv[1])):
    print(e.get(sys.argv[2]))
' "$1" "$2"
	}
fi

# field LABEL FILE: the value after "LABEL:" (the pretty formats).
field () {
	sed -n "s/^$1: *//p" "$2" | head -n 1
}

# ---------------------------------------------------------------------
# Help and usage errors: no agent needed; Consul exits 1 for all of them

test_expect_success 'acl alone: help on stderr, exit 1' '
	test_expect_code 1 proconsul acl >out 2>err &&
	test_grep "^Usage: consul acl <subcommand>" err &&
	for v in bootstrap policy role set-agent-token token; do
		test_grep "^    $v  " err || return 1
	done &&
	! test -s out
'

test_expect_success 'acl -h: help on stdout, exit 0' '
	proconsul acl -h >out 2>err &&
	test_grep "^Usage: consul acl <subcommand>" out &&
	! test -s err
'

test_expect_success 'acl token/policy/role -h list their verbs' '
	proconsul acl token -h >out &&
	for v in clone create delete list read update; do
		test_grep "^    $v  " out || return 1
	done &&
	proconsul acl policy -h >out &&
	for v in create delete list read update; do
		test_grep "^    $v  " out || return 1
	done &&
	proconsul acl role -h >out &&
	for v in create delete list read update; do
		test_grep "^    $v  " out || return 1
	done
'

test_expect_success 'unknown or missing verbs: group help on stderr, exit 1' '
	test_expect_code 1 proconsul acl frob >out 2>err &&
	test_grep "^Usage: consul acl <subcommand>" err &&
	test_expect_code 1 proconsul acl token >out 2>err &&
	test_grep "^Usage: consul acl token <subcommand>" err &&
	test_expect_code 1 proconsul acl policy frob >out 2>err &&
	test_grep "^Usage: consul acl policy <subcommand>" err
'

for v in "bootstrap" "set-agent-token" "token create" "token read" \
	"token list" "token update" "token delete" "token clone" \
	"policy create" "policy read" "policy list" "policy update" \
	"policy delete" "role create" "role read" "role list" "role update" \
	"role delete"
do
	test_expect_success "acl $v -h: usage on stdout, exit 0" "
		proconsul acl $v -h >out 2>err &&
		test_grep '^Usage: consul acl $v' out &&
		test_grep -e -http-addr out &&
		! test -s err
	"
done

test_expect_success 'help acl token create == acl token create -h' '
	proconsul help acl token create >actual &&
	proconsul acl token create -h >expect &&
	test_cmp expect actual
'

test_expect_success '-h documents the verb flags' '
	proconsul acl token create -h >out &&
	for f in -description -policy-id -policy-name -role-id -role-name \
		-service-identity -node-identity -local -expires-ttl -secret \
		-accessor -format -token -token-file; do
		test_grep -e "^  $f" out || return 1
	done &&
	proconsul acl token update -h >out &&
	for f in -accessor-id -id -merge-policies -merge-roles \
		-merge-service-identities -merge-node-identities \
		-append-policy-name; do
		test_grep -e "^  $f" out || return 1
	done &&
	proconsul acl token read -h >out &&
	for f in -accessor-id -id -self -expanded -format; do
		test_grep -e "^  $f" out || return 1
	done &&
	proconsul acl policy create -h >out &&
	for f in -name -description -rules -valid-datacenter -format; do
		test_grep -e "^  $f" out || return 1
	done
'

test_expect_success 'undefined flag: Go message and flag list on stderr, exit 1' '
	test_expect_code 1 proconsul acl token list -nosuch >out 2>err &&
	test_grep "^flag provided but not defined: -nosuch$" err &&
	test_grep "^Usage:$" err &&
	! test -s out
'

test_expect_success 'bad -expires-ttl is a flag error' '
	test_expect_code 1 proconsul acl token create -policy-name x \
		-expires-ttl=soon 2>err &&
	test_grep "invalid value \"soon\" for flag -expires-ttl: parse error" err
'

test_expect_success 'unknown -format: exit 1' '
	test_expect_code 1 proconsul acl token list -format=yaml 2>err &&
	echo "Unknown format: yaml" >expect &&
	test_cmp expect err
'

test_expect_success 'missing arguments: Consul messages, exit 1' '
	test_expect_code 1 proconsul acl token create 2>err &&
	echo "Cannot create a token without specifying -policy-name, -policy-id, -role-name, -role-id, -service-identity, or -node-identity at least once" >expect &&
	test_cmp expect err &&
	test_expect_code 1 proconsul acl token read 2>err &&
	echo "Must specify the -accessor-id parameter" >expect &&
	test_cmp expect err &&
	test_expect_code 1 proconsul acl token update -description x 2>err &&
	echo "Cannot update a token without specifying the -accessor-id parameter" >expect &&
	test_cmp expect err &&
	test_expect_code 1 proconsul acl token delete 2>err &&
	echo "Must specify the -accessor-id parameter" >expect &&
	test_cmp expect err &&
	test_expect_code 1 proconsul acl policy read 2>err &&
	echo "Must specify either the -id or -name parameters" >expect &&
	test_cmp expect err &&
	test_expect_code 1 proconsul acl role update 2>err &&
	echo "Cannot update a role without specifying the -id parameter" >expect &&
	test_cmp expect err &&
	test_expect_code 1 proconsul acl role delete 2>err &&
	echo "Must specify the -id or -name parameters" >expect &&
	test_cmp expect err
'

test_expect_success 'create without -name: message then the usage, exit 1' '
	test_expect_code 1 proconsul acl policy create >out 2>err &&
	test_grep "^Missing require '"'"'-name'"'"' flag$" err &&
	test_grep "^Usage: consul acl policy create" err &&
	test_expect_code 1 proconsul acl role create -policy-name x 2>err &&
	test_grep "^Missing require '"'"'-name'"'"' flag$" err &&
	test_expect_code 1 proconsul acl role create -name r 2>err &&
	test_grep "^Cannot create a role without specifying" err
'

test_expect_success 'malformed identities are refused before any request' '
	test_expect_code 1 proconsul acl token create -service-identity a:b:c 2>err &&
	echo "Malformed -service-identity argument: \"a:b:c\"" >expect &&
	test_cmp expect err &&
	test_expect_code 1 proconsul acl token create -node-identity n1 2>err &&
	echo "Malformed -node-identity argument: \"n1\"" >expect &&
	test_cmp expect err
'

test_expect_success 'set-agent-token argument errors' '
	test_expect_code 1 proconsul acl set-agent-token 2>err &&
	echo "Error! Missing TYPE and TOKEN arguments" >expect &&
	test_cmp expect err &&
	test_expect_code 1 proconsul acl set-agent-token default 2>err &&
	echo "Error! Missing TOKEN argument" >expect &&
	test_cmp expect err &&
	test_expect_code 1 proconsul acl set-agent-token a b c 2>err &&
	echo "Error! Too many arguments: expected 2 got 3" >expect &&
	test_cmp expect err &&
	test_expect_code 1 proconsul acl set-agent-token frob x 2>err &&
	echo "Unknown token type" >expect &&
	test_cmp expect err
'

test_expect_success 'bootstrap takes at most one argument' '
	test_expect_code 1 proconsul acl bootstrap a b 2>err &&
	echo "This command takes up to one argument" >expect &&
	test_cmp expect err &&
	test_expect_code 1 proconsul acl bootstrap no-such-file 2>err &&
	test_grep "^Error reading provided token: Failed to read file: open no-such-file: " err
'

test_expect_success 'no agent: a clean transport error, exit 1' '
	test_expect_code 1 proconsul acl token list >out 2>err &&
	test_grep "^Failed to retrieve the token list: Get \"http://$TEST_NET.254:8500/v1/acl/tokens\": dial tcp $TEST_NET.254:8500: connect: " err &&
	test_expect_code 1 proconsul acl token read -accessor-id abc 2>err &&
	test_grep "^Error determining token ID: Get \"http://$TEST_NET.254:8500/v1/acl/tokens\": " err &&
	! test -s out
'

# ---------------------------------------------------------------------
# One dev agent with ACLs on, default deny, an initial management token

test_expect_success 'setup: dev agent with ACLs enabled' '
	cat >acl.hcl <<-EOF &&
	acl {
	  enabled = true
	  default_policy = "deny"
	  tokens {
	    initial_management = "$ROOT"
	  }
	}
	EOF
	start_agent a1 -dev -config-file="$TRASH/acl.hcl"
'

test_expect_success 'bootstrap after initial_management: 403 with the reset index' '
	test_expect_code 1 proconsul acl bootstrap >out 2>err &&
	test_grep "^Failed ACL bootstrapping: Unexpected response code: 403 (Permission denied: ACL bootstrap no longer allowed (reset index: [0-9][0-9]*))$" err &&
	test $(wc -l <err) -eq 1 &&
	! test -s out
'

test_expect_success 'anonymous (no token) may not list tokens' '
	test_expect_code 1 proconsul acl token list >out 2>err &&
	test_grep "^Failed to retrieve the token list: Unexpected response code: 403 (" err &&
	! test -s out
'

test_expect_success 'the reference pattern: consul members -token <secret>' '
	proconsul members -token "$ROOT" >out &&
	test_grep "^a1 " out
'

test_expect_success 'token read -self: the management token, 18-column labels' '
	proconsul acl token read -self -token "$ROOT" >out 2>err &&
	! test -s err &&
	test_grep "^AccessorID:       $UUID_RE$" out &&
	echo "$ROOT" >expect &&
	field SecretID out >actual &&
	test_cmp expect actual &&
	test_grep "^Description:      Initial Management Token$" out &&
	test_grep "^Local:            false$" out &&
	test_grep "^Create Time:      [0-9]\{4\}-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9][.0-9]* [-+][0-9]\{4\} [A-Z0-9+-]*$" out &&
	test_grep "^Policies:$" out &&
	test_grep "^   $MGMT - global-management$" out &&
	! grep "^Expiration Time:" out &&
	test "$(tail -n 1 out)" = "" &&
	ROOT_ACC=$(field AccessorID out)
'

test_expect_success 'CONSUL_HTTP_TOKEN and -token-file carry the token too' '
	CONSUL_HTTP_TOKEN=$ROOT proconsul acl token read -self >out1 &&
	echo "$ROOT" >root.token &&
	proconsul acl token read -self -token-file=root.token >out2 &&
	test_cmp out1 out2 &&
	CONSUL_HTTP_TOKEN_FILE=$TRASH/root.token proconsul acl token read -self >out3 &&
	test_cmp out1 out3
'

# Everything below runs as the management token.
CONSUL_HTTP_TOKEN=$ROOT
export CONSUL_HTTP_TOKEN

test_expect_success JSON 'token read -self -format=json parses' '
	proconsul acl token read -self -format=json >out.json &&
	echo "$ROOT" >expect &&
	jval out.json .SecretID >actual &&
	test_cmp expect actual &&
	echo "$ROOT_ACC" >expect &&
	jval out.json .AccessorID >actual &&
	test_cmp expect actual &&
	echo global-management >expect &&
	jval out.json ".Policies[0].Name" >actual &&
	test_cmp expect actual
'

# ---- policies

test_expect_success 'policy create from a rules file' '
	cat >app.hcl <<-\EOF &&
	key_prefix "app/" {
	  policy = "write"
	}
	EOF
	proconsul acl policy create -name kv-app -description "app config" \
		-rules @app.hcl -valid-datacenter dc1 -valid-datacenter dc2 >out &&
	test_grep "^ID:           $UUID_RE$" out &&
	POL=$(field ID out) &&
	cat >expect <<-EOF &&
	ID:           $POL
	Name:         kv-app
	Description:  app config
	Datacenters:  dc1, dc2
	Rules:
	key_prefix "app/" {
	  policy = "write"
	}

	EOF
	test_cmp expect out
'

test_expect_success 'policy create with rules from stdin, no datacenters' '
	echo "node_prefix \"\" { policy = \"read\" }" |
		proconsul acl policy create -name node-read -rules - >out &&
	POL2=$(field ID out) &&
	test_grep "^Datacenters:  $" out &&
	test_grep "^node_prefix \"\" { policy = \"read\" }$" out
'

test_expect_success 'policy create with a taken name fails, exit 1' '
	test_expect_code 1 proconsul acl policy create -name kv-app \
		-rules "key \"x\" { policy = \"read\" }" >out 2>err &&
	test_grep "^Failed to create new policy: Unexpected response code: " err
'

test_expect_success 'policy list: "<name>:" blocks, built-in included' '
	proconsul acl policy list >out &&
	test_grep "^kv-app:$" out &&
	test_grep "^   ID:           $POL$" out &&
	test_grep "^   Description:  app config$" out &&
	test_grep "^   Datacenters:  dc1, dc2$" out &&
	test_grep "^global-management:$" out &&
	test_grep "^   ID:           $MGMT$" out
'

test_expect_success 'policy read by ID, ID prefix and name agree' '
	proconsul acl policy read -id "$POL" >by-id &&
	proconsul acl policy read -id "$(echo $POL | cut -c1-8)" >by-prefix &&
	proconsul acl policy read -name kv-app >by-name &&
	test_cmp by-id by-prefix &&
	test_cmp by-id by-name &&
	test_grep "^Name:         kv-app$" by-id
'

test_expect_success 'policy read -meta adds the hash and indexes' '
	proconsul acl policy read -name kv-app -meta >out &&
	test_grep "^Hash:         [0-9a-f]*$" out &&
	test_grep "^Create Index: [1-9][0-9]*$" out &&
	test_grep "^Modify Index: [1-9][0-9]*$" out
'

test_expect_success JSON 'policy read -format=json parses' '
	proconsul acl policy read -id "$POL" -format=json >out.json &&
	echo kv-app >expect &&
	jval out.json .Name >actual &&
	test_cmp expect actual &&
	echo dc2 >expect &&
	jval out.json ".Datacenters[1]" >actual &&
	test_cmp expect actual
'

test_expect_success 'policy read of unknown names and prefixes fails' '
	test_expect_code 1 proconsul acl policy read -id ffffffff-ff 2>err &&
	echo "Error determining policy ID: No such policy ID with prefix: ffffffff-ff" >expect &&
	test_cmp expect err &&
	test_expect_code 1 proconsul acl policy read -name no-such 2>err &&
	test_grep "no-such" err
'

test_expect_success 'policy update merges: description changes, rules stay' '
	proconsul acl policy update -id "$POL" -description "new desc" >out &&
	test_grep "^ID:           $POL$" out &&
	test_grep "^Description:  new desc$" out &&
	test_grep "^Datacenters:  dc1, dc2$" out &&
	test_grep "^key_prefix \"app/\" {$" out
'

test_expect_success 'policy update by name replaces the rules' '
	proconsul acl policy update -name kv-app \
		-rules "key_prefix \"app/\" { policy = \"read\" }" >out &&
	test_grep "^key_prefix \"app/\" { policy = \"read\" }$" out &&
	test_grep "^Description:  new desc$" out
'

# ---- roles

test_expect_success 'role create with a policy and identities' '
	proconsul acl role create -name web-role -description "web servers" \
		-policy-name kv-app -service-identity web:dc1,dc2 \
		-node-identity node1:dc1 >out &&
	test_grep "^ID:           $UUID_RE$" out &&
	ROLE=$(field ID out) &&
	cat >expect <<-EOF &&
	ID:           $ROLE
	Name:         web-role
	Description:  web servers
	Policies:
	   $POL - kv-app
	Service Identities:
	   web (Datacenters: dc1, dc2)
	Node Identities:
	   node1 (Datacenter: dc1)

	EOF
	test_cmp expect out
'

test_expect_success 'role read by ID prefix and name agree' '
	proconsul acl role read -id "$ROLE" >by-id &&
	proconsul acl role read -id "$(echo $ROLE | cut -c1-8)" >by-prefix &&
	proconsul acl role read -name web-role >by-name &&
	test_cmp by-id by-prefix &&
	test_cmp by-id by-name
'

test_expect_success 'role list: indented blocks' '
	proconsul acl role list >out &&
	test_grep "^web-role:$" out &&
	test_grep "^   ID:           $ROLE$" out &&
	test_grep "^   Policies:$" out &&
	test_grep "^      $POL - kv-app$" out &&
	test_grep "^      web (Datacenters: dc1, dc2)$" out
'

test_expect_success JSON 'role list -format=json parses' '
	proconsul acl role list -format=json >out.json &&
	jeach out.json Name >actual &&
	test_grep "^web-role$" actual
'

test_expect_success 'role update merges a second policy' '
	proconsul acl role update -id "$ROLE" -policy-id "$POL2" >out &&
	test_grep "^   $POL - kv-app$" out &&
	test_grep "^   $POL2 - node-read$" out &&
	test_grep "^   web (Datacenters: dc1, dc2)$" out
'

# ---- tokens

test_expect_success 'token create: policies, roles, identities' '
	proconsul acl token create -description "app token" \
		-policy-name kv-app -role-name web-role \
		-service-identity api -node-identity node2:dc1 >out 2>err &&
	! test -s err &&
	ACC=$(field AccessorID out) &&
	SECRET=$(field SecretID out) &&
	echo "$ACC" | grep "^$UUID_RE$" &&
	echo "$SECRET" | grep "^$UUID_RE$" &&
	test_grep "^Description:      app token$" out &&
	test_grep "^Local:            false$" out &&
	test_grep "^Policies:$" out &&
	test_grep "^   $POL - kv-app$" out &&
	test_grep "^Roles:$" out &&
	test_grep "^   $ROLE - web-role$" out &&
	test_grep "^Service Identities:$" out &&
	test_grep "^   api (Datacenters: all)$" out &&
	test_grep "^Node Identities:$" out &&
	test_grep "^   node2 (Datacenter: dc1)$" out &&
	test "$(tail -n 1 out)" = ""
'

test_expect_success 'labels come in Consul order' '
	sed -n "s/^\([A-Z][A-Za-z ]*\):.*/\1/p" out >actual &&
	cat >expect <<-\EOF &&
	AccessorID
	SecretID
	Description
	Local
	Create Time
	Policies
	Roles
	Service Identities
	Node Identities
	EOF
	test_cmp expect actual
'

test_expect_success 'token read by accessor, by prefix, and the deprecated -id' '
	proconsul acl token read -accessor-id "$ACC" >by-acc 2>err &&
	! test -s err &&
	proconsul acl token read -accessor-id "$(echo $ACC | cut -c1-8)" >by-prefix &&
	test_cmp by-acc by-prefix &&
	proconsul acl token read -id "$ACC" >by-id 2>err &&
	test_cmp by-acc by-id &&
	echo "Use the -accessor-id parameter to specify token by Accessor ID" >expect &&
	test_cmp expect err
'

test_expect_success 'the new token reads itself, and is refused ACL writes' '
	proconsul acl token read -self -token "$SECRET" >out &&
	echo "$ACC" >expect &&
	field AccessorID out >actual &&
	test_cmp expect actual &&
	test_expect_code 1 proconsul acl policy create -name x -rules "" \
		-token "$SECRET" 2>err &&
	test_grep "^Failed to create new policy: Unexpected response code: 403 (Permission denied" err
'

test_expect_success 'token create with a chosen accessor and secret, local, TTL' '
	proconsul acl token create -accessor aaaaaaaa-0000-4000-8000-000000000001 \
		-secret bbbbbbbb-0000-4000-8000-000000000001 -local \
		-expires-ttl 1h -policy-id "$(echo $POL2 | cut -c1-8)" >out &&
	test_grep "^AccessorID:       aaaaaaaa-0000-4000-8000-000000000001$" out &&
	test_grep "^SecretID:         bbbbbbbb-0000-4000-8000-000000000001$" out &&
	test_grep "^Local:            true$" out &&
	test_grep "^Expiration Time:  [0-9]\{4\}-" out &&
	test_grep "^   $POL2 - node-read$" out
'

test_expect_success 'ambiguous and unknown accessor prefixes' '
	proconsul acl token create -accessor aaaaaaaa-1111-4000-8000-000000000001 \
		-policy-name node-read >out &&
	test_expect_code 1 proconsul acl token read -accessor-id aaaaaaaa 2>err &&
	echo "Error determining token ID: Partial token ID is not unique" >expect &&
	test_cmp expect err &&
	test_expect_code 1 proconsul acl token read -accessor-id ffffffff-ff 2>err &&
	echo "Error determining token ID: No such token ID with prefix: ffffffff-ff" >expect &&
	test_cmp expect err
'

test_expect_success 'token list: every token, blocks separated by a blank line' '
	proconsul acl token list >out &&
	test_grep "^AccessorID:       $ACC$" out &&
	test_grep "^AccessorID:       $ROOT_ACC$" out &&
	test_grep "^AccessorID:       aaaaaaaa-0000-4000-8000-000000000001$" out &&
	n=$(grep -c "^AccessorID:" out) &&
	blank=$(grep -c "^$" out) &&
	test "$blank" -eq "$n"
'

test_expect_success JSON 'token list -format=json parses' '
	proconsul acl token list -format=json >out.json &&
	jeach out.json AccessorID >actual &&
	test_grep "^$ACC$" actual &&
	test_grep "^$ROOT_ACC$" actual
'

test_expect_success 'token update: description, merged identities, appended policy' '
	proconsul acl token update -accessor-id "$ACC" -description changed \
		-merge-service-identities -merge-node-identities \
		-append-policy-name node-read >out &&
	test_grep "^AccessorID:       $ACC$" out &&
	test_grep "^Description:      changed$" out &&
	test_grep "^   $POL - kv-app$" out &&
	test_grep "^   $POL2 - node-read$" out &&
	test_grep "^   $ROLE - web-role$" out &&
	test_grep "^   api (Datacenters: all)$" out &&
	test_grep "^   node2 (Datacenter: dc1)$" out
'

test_expect_success 'token update: -policy-name replaces the policies' '
	proconsul acl token update -accessor-id "$ACC" -policy-name kv-app \
		-merge-service-identities -merge-node-identities >out &&
	test_grep "^   $POL - kv-app$" out &&
	! grep "node-read" out &&
	test_expect_code 1 proconsul acl token update -accessor-id "$ACC" \
		-policy-name a -append-policy-name b 2>err &&
	test_grep "^Cannot combine the use of policy-id/policy-name flags with append- variants" err
'

test_expect_success 'token update -merge-policies warns and keeps the old ones' '
	proconsul acl token update -accessor-id "$ACC" -merge-policies \
		-policy-name node-read -merge-service-identities \
		-merge-node-identities >out 2>err &&
	test_grep "^merge-policies is deprecated" err &&
	test_grep "^   $POL - kv-app$" out &&
	test_grep "^   $POL2 - node-read$" out
'

test_expect_success 'token clone: new IDs, same links, new description' '
	proconsul acl token clone -accessor-id "$(echo $ACC | cut -c1-8)" \
		-description cloned >out &&
	CLONE=$(field AccessorID out) &&
	test "$CLONE" != "$ACC" &&
	test "$(field SecretID out)" != "$SECRET" &&
	test_grep "^Description:      cloned$" out &&
	test_grep "^   $POL - kv-app$" out &&
	test_grep "^   $ROLE - web-role$" out
'

test_expect_success JSON 'token create -format=json parses' '
	proconsul acl token create -policy-name kv-app -description j \
		-format=json >out.json &&
	echo j >expect &&
	jval out.json .Description >actual &&
	test_cmp expect actual &&
	jval out.json .AccessorID >actual &&
	grep "^$UUID_RE$" actual
'

test_expect_success 'token delete by prefix, then it is gone' '
	proconsul acl token delete -accessor-id "$(echo $CLONE | cut -c1-8)" >out &&
	echo "Token \"$CLONE\" deleted successfully" >expect &&
	test_cmp expect out &&
	test_expect_code 1 proconsul acl token read -accessor-id "$CLONE" 2>err &&
	test_grep "^Error reading token \"$CLONE\": Unexpected response code: 404 (Requested token does not exist: ACL not found)$" err
'

# ---- set-agent-token

test_expect_success 'set-agent-token default makes anonymous requests work' '
	proconsul acl set-agent-token default "$ROOT" >out &&
	echo "ACL token \"default\" set successfully" >expect &&
	test_cmp expect out &&
	env -u CONSUL_HTTP_TOKEN proconsul acl policy read -name kv-app >out &&
	test_grep "^Name:         kv-app$" out
'

test_expect_success 'set-agent-token: other kinds, token from a file' '
	proconsul acl set-agent-token agent "$ROOT" >out &&
	echo "ACL token \"agent\" set successfully" >expect &&
	test_cmp expect out &&
	proconsul acl set-agent-token recovery @root.token >out &&
	echo "ACL token \"recovery\" set successfully" >expect &&
	test_cmp expect out &&
	proconsul acl set-agent-token agent_master "$ROOT" >out &&
	echo "ACL token \"agent_master\" set successfully" >expect &&
	test_cmp expect out
'

# ---- deletes

test_expect_success 'role delete by name, then read by name fails' '
	proconsul acl role delete -name web-role >out &&
	echo "Role \"$ROLE\" deleted successfully" >expect &&
	test_cmp expect out &&
	test_expect_code 1 proconsul acl role read -name web-role 2>err &&
	echo "Role not found with name \"web-role\"" >expect &&
	test_cmp expect err
'

test_expect_success 'policy delete by ID and by name' '
	proconsul acl policy delete -id "$POL" >out &&
	echo "Policy \"$POL\" deleted successfully" >expect &&
	test_cmp expect out &&
	proconsul acl policy delete -name node-read >out &&
	echo "Policy \"$POL2\" deleted successfully" >expect &&
	test_cmp expect out &&
	proconsul acl policy list >out &&
	! grep -e "^kv-app:" -e "^node-read:" out
'

test_expect_success 'stop the agent' '
	stop_agent a1
'

test_done
