#!/bin/sh
test_description='agent config: the reference deployment, syntax errors, merge order'
. ./lib.sh

TOKEN=xiaopaluliulangji

# The reference deployment's config dir, verbatim from the users' runbook
# (deployment-original-zh.txt): auth.hcl is JSON with // comments in a
# .hcl file, consulha.hcl is HCL with # comments; only the retry_join
# addresses are changed to this script's loopback range.
mkdir config
cat >config/auth.hcl <<\EOF
{
"acl": {
"enabled": true, // 启用ACL功能
"default_policy": "deny", // 默认策略:拒绝所有未授权请求
"enable_token_persistence": true, // 启用Token持久化,重启后保持Token状态
"tokens": {
"master": "xiaopaluliulangji" // 集群的鉴权Token(Master权限Token)
}
}
}
EOF
cat >config/consulha.hcl <<EOF
server = true # 启用服务器模式
retry_join = ["$TEST_NET.1", "$TEST_NET.2", "$TEST_NET.3"] # 其他节点的IP地址
EOF

# The English rendering (deployment.md) of the same files.
mkdir config-en
cat >config-en/auth.hcl <<\EOF
{
"acl": {
"enabled": true, // enable ACLs
"default_policy": "deny", // deny everything not explicitly allowed
"enable_token_persistence": true, // tokens survive restarts
"tokens": {
"master": "xiaopaluliulangji" // the cluster's management token
}
}
}
EOF
cat >config-en/consulha.hcl <<EOF
server = true
retry_join = ["$TEST_NET.1", "$TEST_NET.2", "$TEST_NET.3"]
EOF

# self_get EXPR: a value from /v1/agent/self of the agent at $API_ADDR.
self_get () {
	api GET /v1/agent/self -H "X-Consul-Token: $TOKEN" &&
	expect_status 200 &&
	json_get out "$1"
}

test_expect_success 'the reference command line and config dir start an agent' '
	start_agent ha1 -server -http-port=8500 -node=192e168e1e1 \
		-bootstrap-expect=1 -datacenter=xiaopalu -ui \
		-config-dir=$TRASH/config/ &&
	API_ADDR=$ha1_HTTP
'

test_expect_success 'it elected itself: /v1/status/leader is its own address' '
	api GET /v1/status/leader &&
	expect_status 200 &&
	printf "\"%s:8300\"" "$ha1_ADDR" >expect &&
	test_cmp expect out
'

test_expect_success 'it runs the reference node name and datacenter' '
	self_get "\$j->{Config}{NodeName}" >actual &&
	echo 192e168e1e1 >expect &&
	test_cmp expect actual &&
	self_get "\$j->{Config}{Datacenter}" >actual &&
	echo xiaopalu >expect &&
	test_cmp expect actual &&
	self_get "\$j->{Config}{Server}" >actual &&
	echo true >expect &&
	test_cmp expect actual
'

test_expect_success 'the deprecated acl.tokens.master gets Consul'"'"'s warning' '
	agent_log ha1 >log &&
	test_grep "The '"'"'acl.tokens.master'"'"' field is deprecated. Use the '"'"'acl.tokens.initial_management'"'"' field instead." log
'

test_expect_success 'bootstrap_expect = 1 gets Consul'"'"'s warning' '
	agent_log ha1 >log &&
	test_grep "BootstrapExpect is set to 1; this is the same as Bootstrap mode." log
'

test_expect_success 'the runbook'"'"'s token works with the CLI' '
	proconsul kv put -token=$TOKEN -http-addr=$ha1_HTTP app/db/host db1 >out &&
	echo "Success! Data written to: app/db/host" >expect &&
	test_cmp expect out &&
	proconsul kv get -token=$TOKEN -http-addr=$ha1_HTTP app/db/host >out &&
	echo db1 >expect &&
	test_cmp expect out
'

test_expect_success 'the token works from CONSUL_HTTP_TOKEN and a token file' '
	CONSUL_HTTP_TOKEN=$TOKEN proconsul kv get -http-addr=$ha1_HTTP app/db/host >out &&
	test_cmp expect out &&
	echo "$TOKEN" >token.txt &&
	proconsul kv get -token-file=token.txt -http-addr=$ha1_HTTP app/db/host >out &&
	test_cmp expect out &&
	CONSUL_HTTP_TOKEN_FILE=token.txt proconsul kv get -http-addr=$ha1_HTTP app/db/host >out &&
	test_cmp expect out
'

test_expect_success '?dc= the configured datacenter works, another is 500' '
	api GET "/v1/kv/app/db/host?dc=xiaopalu&raw" -H "X-Consul-Token: $TOKEN" &&
	expect_status 200 &&
	api GET "/v1/kv/app/db/host?dc=dc1" -H "X-Consul-Token: $TOKEN" &&
	expect_status 500 &&
	test_grep "No path to datacenter" out
'

test_expect_success '-ui: GET / redirects to /ui/' '
	api GET / &&
	expect_status 301 &&
	header Location >loc &&
	test_grep "/ui/" loc
'

test_expect_success 'the reference agent stops on SIGQUIT with exit 0' '
	stop_agent ha1 QUIT &&
	check_sanitizer_log ha1
'

test_expect_success 'the reference agent restarts from its data dir' '
	start_agent ha1 -server -http-port=8500 -node=192e168e1e1 \
		-bootstrap-expect=1 -datacenter=xiaopalu -ui \
		-config-dir=$TRASH/config/ &&
	proconsul kv get -token=$TOKEN -http-addr=$ha1_HTTP app/db/host >out &&
	echo db1 >expect &&
	test_cmp expect out &&
	stop_agent ha1 QUIT
'

test_expect_success 'the English rendering of the config loads too (-bootstrap)' '
	start_agent en1 -server -bootstrap -datacenter=xiaopalu \
		-config-dir=$TRASH/config-en &&
	API_ADDR=$en1_HTTP &&
	self_get "\$j->{Config}{Datacenter}" >actual &&
	echo xiaopalu >expect &&
	test_cmp expect actual &&
	stop_agent en1 TERM
'

# --- syntax errors: file:line:col, exit 1, nothing starts

# agent_must_fail_config FLAGS...: the agent must exit 1 (bounded).
agent_must_fail_config () {
	test_expect_code 1 timeout 30 proconsul agent -server -bootstrap \
		-node=bad -bind=$TEST_NET.250 -client=$TEST_NET.250 \
		-data-dir=$TRASH/bad-data "$@" >bad.out 2>bad.err
}

test_expect_success 'HCL syntax error: file:line:col on stderr, exit 1' '
	mkdir -p bad &&
	printf "server = true\nlog_level = \"INFO\"\ndatacenter = = \"x\"\n" >bad/bad.hcl &&
	agent_must_fail_config -config-file=$TRASH/bad/bad.hcl &&
	test_grep "bad.hcl:3:[0-9][0-9]*" bad.err
'

test_expect_success 'JSON syntax error: file:line:col on stderr, exit 1' '
	printf "{\n  \"server\": true,\n  \"datacenter\": ,\n  \"x\": 1\n}\n" >bad/bad.json &&
	agent_must_fail_config -config-file=$TRASH/bad/bad.json &&
	test_grep "bad.json:3:[0-9][0-9]*" bad.err
'

test_expect_success 'JSON-in-.hcl (auth.hcl style) missing a comma: line named' '
	mkdir -p badauth &&
	sed "s/\"enabled\": true,/\"enabled\": true/" config/auth.hcl >badauth/auth.hcl &&
	agent_must_fail_config -config-dir=$TRASH/badauth &&
	test_grep "auth.hcl:[34]:[0-9][0-9]*" bad.err
'

test_expect_success 'syntax error in a -config-dir file names that file' '
	mkdir -p baddir &&
	echo "server = true" >baddir/10-good.hcl &&
	printf "\n\nretry_join = [\"a\",\n" >baddir/20-broken.hcl &&
	agent_must_fail_config -config-dir=$TRASH/baddir &&
	test_grep "20-broken.hcl:[0-9][0-9]*:[0-9][0-9]*" bad.err
'

test_expect_success 'unterminated string: file:line:col' '
	printf "datacenter = \"dc1\nserver = true\n" >bad/unterminated.hcl &&
	agent_must_fail_config -config-file=$TRASH/bad/unterminated.hcl &&
	test_grep "unterminated.hcl:[0-9][0-9]*:[0-9][0-9]*" bad.err
'

test_expect_success 'missing -config-file: error, exit 1' '
	agent_must_fail_config -config-file=$TRASH/no-such-file.hcl &&
	test_grep "no-such-file.hcl" bad.err
'

test_expect_success 'missing -config-dir: error, exit 1' '
	agent_must_fail_config -config-dir=$TRASH/no-such-dir &&
	test_grep "no-such-dir" bad.err
'

test_expect_success 'a failed start left nothing listening' '
	test_must_fail proconsul kv get -http-addr=$TEST_NET.250:8500 x 2>err &&
	test_grep "connection refused" err
'

# --- unknown keys warn, the agent starts

test_expect_success 'an unknown key: one warning naming it, then the agent runs' '
	cat >unknown.hcl <<-\EOF &&
	server = true
	frobnicate_setting = 42
	EOF
	start_agent u1 -bootstrap -config-file=$TRASH/unknown.hcl &&
	agent_log u1 >log &&
	test_grep "frobnicate_setting" log &&
	grep "frobnicate_setting" log >lines &&
	test_grep "WARN" lines &&
	test $(wc -l <lines) = 1 &&
	stop_agent u1 TERM
'

# --- merge order: -config-dir (lexical), -config-file, flags

mkdir d1 d1/sub
echo 'datacenter = "dcfirst"' >d1/10-first.hcl
echo '{"datacenter": "dcsecond"}' >d1/20-second.json
echo 'this is not a config file {{{' >d1/README.txt
echo 'datacenter = = broken' >d1/sub/30-ignored.hcl
echo 'datacenter = "dcfile"' >file.hcl

# dc_with FLAGS...: start agent m1 with FLAGS, print its datacenter, stop.
dc_with () {
	start_agent m1 -server -bootstrap "$@" &&
	API_ADDR=$m1_HTTP &&
	self_get '$j->{Config}{Datacenter}' >dc &&
	stop_agent m1 TERM &&
	cat dc
}

test_expect_success '-config-dir: lexical order, later file wins' '
	dc_with -config-dir=$TRASH/d1 >actual &&
	echo dcsecond >expect &&
	test_cmp expect actual
'

test_expect_success '-config-dir ignores other suffixes and sub-directories' '
	agent_log m1 >log &&
	! grep -q "README" log &&
	! grep -q "30-ignored" log
'

test_expect_success '-config-dir then -config-file: the file wins' '
	dc_with -config-dir=$TRASH/d1 -config-file=$TRASH/file.hcl >actual &&
	echo dcfile >expect &&
	test_cmp expect actual
'

test_expect_success '-config-file then -config-dir: the dir wins' '
	dc_with -config-file=$TRASH/file.hcl -config-dir=$TRASH/d1 >actual &&
	echo dcsecond >expect &&
	test_cmp expect actual
'

test_expect_success 'repeated -config-file: the last one wins' '
	echo "datacenter = \"dcother\"" >other.hcl &&
	dc_with -config-file=$TRASH/other.hcl -config-file=$TRASH/file.hcl >actual &&
	echo dcfile >expect &&
	test_cmp expect actual
'

test_expect_success 'command-line flags beat config files, before or after' '
	dc_with -datacenter=dcflag -config-file=$TRASH/file.hcl >actual &&
	echo dcflag >expect &&
	test_cmp expect actual &&
	dc_with -config-file=$TRASH/file.hcl -datacenter=dcflag >actual &&
	test_cmp expect actual
'

test_expect_success 'the datacenter from the config is the one ?dc accepts' '
	start_agent m1 -server -bootstrap -config-file=$TRASH/file.hcl &&
	API_ADDR=$m1_HTTP &&
	api PUT "/v1/kv/x?dc=dcfile" --data-binary 1 &&
	expect_status 200 &&
	api GET "/v1/kv/x?dc=dc1" &&
	expect_status 500 &&
	test_grep "No path to datacenter" out &&
	stop_agent m1 TERM
'

test_done
