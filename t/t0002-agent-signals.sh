#!/bin/sh
test_description='agent signals: QUIT/TERM/INT stop gracefully (exit 0), HUP reloads, pid file'
. ./lib.sh

# wait_log NAME PATTERN: bounded wait (10 s) for a line of NAME's log
# (since its latest start) to match the extended regexp PATTERN.
wait_log () {
	wl_i=0
	while test $wl_i -lt 100; do
		agent_log "$1" >current.log &&
		grep -E -i -q -e "$2" current.log && return 0
		sleep 0.1
		wl_i=$((wl_i + 1))
	done
	echo >&2 "no log line matching '$2' in $1.log:"
	cat >&2 current.log
	return 1
}

test_expect_success 'SIGQUIT (what supervisord sends): exit 0, graceful' '
	start_agent q1 -server -bootstrap &&
	proconsul kv put -http-addr=$q1_HTTP sig/quit yes >out &&
	stop_agent q1 QUIT &&
	agent_log q1 >log &&
	test_grep -i "graceful" log &&
	check_sanitizer_log q1
'

test_expect_success 'SIGTERM: exit 0, graceful' '
	start_agent t1 -server -bootstrap &&
	proconsul kv put -http-addr=$t1_HTTP sig/term yes >out &&
	stop_agent t1 TERM &&
	agent_log t1 >log &&
	test_grep -i "graceful" log &&
	check_sanitizer_log t1
'

test_expect_success 'SIGINT: exit 0, graceful (dev agent)' '
	start_agent i1 -dev &&
	proconsul kv put -http-addr=$i1_HTTP sig/int yes >out &&
	stop_agent i1 INT &&
	agent_log i1 >log &&
	test_grep -i "graceful" log &&
	check_sanitizer_log i1
'

test_expect_success 'SIGQUIT right after start (before any request): exit 0' '
	start_agent q2 -server -bootstrap &&
	stop_agent q2 QUIT &&
	check_sanitizer_log q2
'

test_expect_success 'the stopped agents no longer listen' '
	test_must_fail proconsul kv get -http-addr=$q1_HTTP sig/quit 2>err &&
	test_grep "connection refused" err
'

test_expect_success 'SIGPIPE does not kill the agent' '
	start_agent s1 -dev &&
	kill -s PIPE $s1_PID &&
	sleep 0.5 &&
	pid_alive $s1_PID &&
	API_ADDR=$s1_HTTP api GET /v1/status/leader &&
	expect_status 200 &&
	stop_agent s1 TERM
'

cat >reload.hcl <<\EOF
log_level = "INFO"
EOF

test_expect_success 'setup: agent with a config file at log level INFO' '
	start_agent h1 -server -bootstrap -config-file=$TRASH/reload.hcl &&
	API_ADDR=$h1_HTTP &&
	api PUT /v1/kv/reload/before --data-binary v &&
	expect_status 200 &&
	agent_log h1 >log &&
	! grep -q "\[DEBUG\]" log
'

test_expect_success 'SIGHUP reloads the config file and is logged' '
	cat >reload.hcl <<-\EOF &&
	log_level = "DEBUG"
	EOF
	kill -s HUP $h1_PID &&
	wait_log h1 "reload"
'

test_expect_success 'after SIGHUP the agent keeps serving' '
	pid_alive $h1_PID &&
	api PUT /v1/kv/reload/after --data-binary v2 &&
	expect_status 200 &&
	api GET /v1/kv/reload/after?raw &&
	expect_status 200 &&
	printf v2 >expect &&
	test_cmp expect out &&
	api GET /v1/status/leader &&
	expect_status 200
'

test_expect_success 'after SIGHUP the new log level (DEBUG) is in effect' '
	api GET /v1/kv/reload/after &&
	proconsul kv get -http-addr=$h1_HTTP reload/after >out &&
	wait_log h1 "DEBUG" &&
	sed -n "/[Rr]eload/,\$p" current.log >after-reload &&
	test_grep "DEBUG" after-reload
'

test_expect_success 'SIGHUP with a broken config file: error logged, still serving' '
	cat >reload.hcl <<-\EOF &&
	log_level = = "WARN"
	EOF
	kill -s HUP $h1_PID &&
	wait_log h1 "reload.hcl:[0-9]+:[0-9]+" &&
	sleep 0.2 &&
	pid_alive $h1_PID &&
	api GET /v1/kv/reload/after?raw &&
	expect_status 200
'

test_expect_success 'SIGHUP then SIGTERM: exit 0' '
	stop_agent h1 TERM &&
	check_sanitizer_log h1
'

test_expect_success '-pid-file: written with the agent PID' '
	start_agent p1 -server -bootstrap -pid-file=$TRASH/agent.pid &&
	test_file_not_empty agent.pid &&
	echo $p1_PID >expect &&
	tr -d " \n" <agent.pid >actual.raw && echo >>actual.raw &&
	test_cmp expect actual.raw
'

test_expect_success '-pid-file: removed on a graceful stop' '
	stop_agent p1 QUIT &&
	! test -e agent.pid
'

test_expect_success '-pid-file in a missing directory: agent refuses, exit 1' '
	test_expect_code 1 timeout 20 proconsul agent -dev \
		-bind=$TEST_NET.250 -client=$TEST_NET.250 \
		-pid-file=$TRASH/no/such/dir/agent.pid >out 2>&1 &&
	test_grep "agent.pid" out
'

test_done
