#!/bin/sh
test_description='operator CLI: info, validate, reload, keygen, monitor (one dev agent, one ACL agent)'
. ./lib.sh

# ---------------------------------------------------------------------
# Offline: keygen and validate

test_expect_success 'keygen: 44 base64 characters that decode to 32 bytes' '
	proconsul keygen >k1 &&
	test "$(wc -l <k1)" = 1 &&
	test "$(tr -d "\n" <k1 | wc -c)" = 44 &&
	test_grep "^[A-Za-z0-9+/]\{43\}=$" k1 &&
	base64 -d k1 >raw &&
	test "$(wc -c <raw)" = 32
'

test_expect_success 'keygen: two runs differ' '
	proconsul keygen >k2 &&
	! cmp -s k1 k2
'

test_expect_success 'keygen takes no arguments' '
	test_must_fail proconsul keygen extra 2>err &&
	test_grep "Too many arguments" err
'

# The reference deployment's files: auth.hcl is JSON with // comments in
# a .hcl file, consulha.hcl is HCL. The runbook passes -data-dir on the
# command line; validate needs every setting, so good/ carries it too.
test_expect_success 'setup: the reference config dir' '
	mkdir good &&
	cat >good/auth.hcl <<-\EOF &&
	{
	"acl": {
	"enabled": true, // enable ACLs
	"default_policy": "deny", // deny everything not explicitly allowed
	"enable_token_persistence": true, // tokens survive restarts
	"tokens": {
	"master": "xiaopaluliulangji" // the cluster management token
	}
	}
	}
	EOF
	cat >good/consulha.hcl <<-\EOF &&
	server = true
	retry_join = ["192.168.1.1", "192.168.1.2", "192.168.1.3"]
	EOF
	echo "data_dir = \"/opt/app/consul/data\"" >good/data.hcl
'

test_expect_success 'validate: the reference dir is valid' '
	proconsul validate good >out 2>err &&
	echo "Configuration is valid!" >expect &&
	test_cmp expect out
'

test_expect_success 'validate -quiet: no output' '
	proconsul validate -quiet good >out &&
	! test -s out
'

test_expect_success 'validate: files are merged in order like the agent' '
	proconsul validate good/auth.hcl good/consulha.hcl good/data.hcl >out &&
	test_grep "^Configuration is valid!$" out
'

test_expect_success 'validate: a syntax error names file and line, exit 1' '
	mkdir bad &&
	cp good/*.hcl bad/ &&
	printf "{\n  \"server\": true,\n  \"ui\": tru\n}\n" >bad/extra.json &&
	test_expect_code 1 proconsul validate bad >out 2>err &&
	! test -s out &&
	test_grep "^Config validation failed: bad/extra.json:3:" err
'

test_expect_success 'validate: a bad value fails' '
	rm bad/extra.json &&
	printf "ports {\n  http = \"abc\"\n}\n" >bad/ports.hcl &&
	test_expect_code 1 proconsul validate bad 2>err &&
	test_grep "^Config validation failed: .*ports.http" err
'

test_expect_success 'validate: missing path and no path' '
	test_expect_code 1 proconsul validate nosuch.hcl 2>err &&
	test_grep "^Config validation failed: " err &&
	test_expect_code 1 proconsul validate 2>err &&
	test_grep "^Must specify at least one config file or directory" err
'

# ---------------------------------------------------------------------
# A dev agent

test_expect_success 'setup: dev agent' 'start_agent a1 -dev'

test_expect_success 'info: sections in order' '
	proconsul info >out &&
	grep "^[a-z_]*:$" out >sections &&
	printf "%s:\n" agent build consul raft runtime serf_lan serf_wan >expect &&
	test_cmp expect sections
'

test_expect_success 'info: key lines, sorted within each section' '
	test_grep "^	state = Leader$" out &&
	test_grep "^	leader = true$" out &&
	test_grep "^	server = true$" out &&
	test_grep "^	members = 1$" out &&
	test_grep "^	num_peers = 0$" out &&
	test_grep "^	last_log_term = [1-9]" out &&
	test_grep "^	latest_configuration = \[{Suffrage:Voter ID:" out &&
	term=$(sed -n "s/^	term = //p" out) &&
	test "$term" -gt 0 &&
	awk "/^[a-z_]*:\$/ { prev = \"\"; next }
	     { if (prev != \"\" && \$1 < prev) { print \"unsorted \" \$1; exit 1 }
	       prev = \$1 }" out
'

test_expect_success 'info: every key line is "<tab>key = value"' '
	! grep -v "^[a-z_]*:$" out | grep -v "^	[a-z_]* = " 
'

test_expect_success 'info: Stats come from /v1/agent/self' '
	api GET /v1/agent/self && expect_status 200 &&
	applied=$(json_get out "\$j->{Stats}{raft}{applied_index}") &&
	test "$applied" -gt 0 &&
	test "$(json_get out "\$j->{Stats}{serf_lan}{members}")" = 1
'

test_expect_success 'reload' '
	proconsul reload >out &&
	echo "Configuration reload triggered" >expect &&
	test_cmp expect out
'

test_expect_success 'reload: no agent' '
	test_must_fail proconsul reload -http-addr=$TEST_NET.254:8500 2>err &&
	test_grep "^Error reloading: " err
'

test_expect_success 'monitor: start in the background' '
	proconsul monitor >mon.out 2>mon.err &
	MON_PID=$! &&
	echo $MON_PID >mon.pid &&
	sleep 1 &&
	pid_alive $MON_PID
'

# A reload logs "log level is now ..." at INFO.
mon_has () {
	proconsul reload >/dev/null && grep -q "$1" "$2"
}

test_expect_success 'monitor: a log line written later shows up' '
	poll_until 10 mon_has "agent: log level is now" mon.out &&
	test_grep "^[0-9-]*T[0-9:.]*Z \[INFO\]  agent: log level is now" \
		mon.out
'

# Removing a local service logs at DEBUG.
mon_debug () {
	api PUT /v1/agent/service/register -d "{\"Name\":\"dbgsvc\"}" &&
	api PUT /v1/agent/service/deregister/dbgsvc &&
	grep -q "\[DEBUG\] agent: removed service .dbgsvc." "$1"
}

test_expect_success 'monitor -log-level=debug sees DEBUG lines' '
	proconsul monitor -log-level=debug >dbg.out 2>dbg.err &
	DBG_PID=$! &&
	sleep 1 &&
	poll_until 10 mon_debug dbg.out &&
	kill $DBG_PID && wait $DBG_PID
'

test_expect_success 'monitor -log-level=warn filters INFO out' '
	proconsul monitor -log-level=warn >warn.out 2>warn.err &
	WARN_PID=$! &&
	sleep 1 &&
	proconsul reload >/dev/null &&
	poll_until 10 mon_has "log level is now" mon.out &&
	sleep 0.5 &&
	kill $WARN_PID && wait $WARN_PID &&
	! grep -q "\[INFO\]\|\[DEBUG\]" warn.out &&
	! grep -q "removed service" mon.out
'

test_expect_success 'monitor -log-json: hclog JSON lines' '
	proconsul monitor -log-json >json.out 2>json.err &
	JSON_PID=$! &&
	sleep 1 &&
	poll_until 10 mon_has "\"@message\":\"log level is now" json.out &&
	kill $JSON_PID && wait $JSON_PID &&
	head -n 1 json.out >first &&
	test "$(json_get first "\$j->{q(@level)}")" = info &&
	test "$(json_get first "\$j->{q(@module)}")" = agent
'

test_expect_success 'monitor: unknown level is a 400 from the agent' '
	test_must_fail proconsul monitor -log-level=loud 2>err &&
	test_grep "^Error starting monitor: Unexpected response code: 400 (Unknown log level: loud)" err &&
	api GET "/v1/agent/monitor?loglevel=loud" && expect_status 400
'

test_expect_success 'monitor: interrupted, exits 0 quietly' '
	kill -INT $MON_PID &&
	wait $MON_PID &&
	! test -s mon.err
'

test_expect_success 'monitor: the stream ends when the agent stops' '
	proconsul monitor >end.out 2>end.err &
	END_PID=$! &&
	sleep 1 &&
	stop_agent a1 &&
	test_expect_code 1 wait_pid $END_PID 10 &&
	test_grep "^Remote side ended the monitor!" end.out
'

# ---------------------------------------------------------------------
# ACLs: monitor needs agent:read

test_expect_success 'setup: an agent with default-deny ACLs' '
	mkdir acl &&
	cat >acl/acl.hcl <<-\EOF &&
	acl {
	  enabled = true
	  default_policy = "deny"
	  tokens { initial_management = "0b1d6a3c-58b2-4a6e-9d9e-0c1b2a3d4e5f" }
	}
	EOF
	start_agent a2 -dev -config-dir=acl &&
	CONSUL_HTTP_ADDR=$a2_HTTP
'

test_expect_success 'monitor without a token: 403' '
	test_must_fail proconsul monitor 2>err &&
	test_grep "^Error starting monitor: Unexpected response code: 403 (Permission denied" err
'

test_expect_success 'monitor with the management token streams' '
	CONSUL_HTTP_TOKEN=0b1d6a3c-58b2-4a6e-9d9e-0c1b2a3d4e5f \
		proconsul monitor >acl.out 2>acl.err &
	ACL_PID=$! &&
	sleep 1 &&
	pid_alive $ACL_PID &&
	kill $ACL_PID && wait $ACL_PID &&
	! test -s acl.err
'

test_done
