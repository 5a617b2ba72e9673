#!/bin/sh
test_description='proconsul lock: runs the command holding the lock, a second one waits and takes over, timeouts, lost lock stops the child, -n 2 semaphore'
. ./lib.sh

test_have_prereq PERL || { skip_all='needs perl JSON::PP'; test_done; }

# serf_passing NODE: NODE is in the catalog with serfHealth passing (a
# lock's session is bound to it).
serf_passing () {
	api GET "/v1/health/node/$1" && expect_status 200 &&
	grep -q '"serfHealth".*"passing"' out
}

# wait_file FILE: bounded wait (20 s) for FILE to exist.
wait_file () {
	wf_i_=0
	while test $wf_i_ -lt 200 && ! test -e "$1"; do
		sleep 0.1
		wf_i_=$((wf_i_ + 1))
	done
	test -e "$1" || { echo >&9 "no $1 after 20s"; return 1; }
}

# holder_of KEY: the Session of KEY ("null" when free or absent).
holder_of () {
	api GET "/v1/kv/$1" &&
	if test "$status" = 404; then echo null; else json_get out '$j->[0]{Session}'; fi
}

# bg CMD...: run CMD in the background; its PID in $bgpid. (A "cmd &"
# inside an && chain would put the whole chain in the background.)
bg () {
	"$@" &
	bgpid=$!
}

# reap PID...: stop what is still running of PID... (test cleanup).
reap () {
	for rp_ in "$@"; do
		pid_alive "$rp_" && kill "$rp_" 2>/dev/null
		wait_pid "$rp_" 10 >/dev/null 2>&1
	done
	return 0
}

test_expect_success 'setup: one server' '
	start_agent a1 -server -bootstrap &&
	poll_until 30 serf_passing a1
'

test_expect_success 'usage: missing arguments, bad -n, bad flag, -h' '
	test_expect_code 1 proconsul lock app 2>err &&
	test_grep "^Key prefix and child command must be specified" err &&
	test_expect_code 1 proconsul lock -n 0 app true 2>err &&
	test_grep "^Lock holder limit must be positive" err &&
	test_expect_code 1 proconsul lock -nope app true 2>err &&
	test_grep "flag provided but not defined: -nope" err &&
	test_expect_code 1 proconsul lock -timeout=soon app true 2>err &&
	proconsul lock -h >help &&
	test_grep "^Usage: consul lock \[options\] prefix child" help &&
	test_grep "child-exit-code" help
'

test_expect_success 'runs the command holding the lock, then cleans up' '
	proconsul lock app "echo held=\$CONSUL_LOCK_HELD >ran; read x || echo nostdin >>ran" &&
	printf "held=true\nnostdin\n" >expect && test_cmp expect ran &&
	api GET /v1/kv/app/.lock && expect_status 404 &&
	api GET /v1/session/list && expect_status 200 && expect_body "[]"
'

test_expect_success 'the child sees the lock held by its session' '
	proconsul lock -verbose app "curl -q -s --noproxy \"*\" $CONSUL_HTTP_ADDR/v1/kv/app/.lock >entry" >log &&
	test_grep "^Attempting lock acquisition" log &&
	test_grep "^Cleanup succeeded" log &&
	json_get entry "\$j->[0]{Flags}" >flags &&
	echo 3304740253564472344 >expect && test_cmp expect flags &&
	json_get entry "\$j->[0]{Session}" | grep -Eq "^[0-9a-f-]{36}$"
'

test_expect_success 'exit codes: 0 for a failed child, 2 with -child-exit-code' '
	proconsul lock app "exit 3" 2>err &&
	test_grep "^Error running handler: exit status 3" err &&
	test_expect_code 2 proconsul lock -child-exit-code app "exit 3" &&
	proconsul lock -child-exit-code app true
'

test_expect_success 'a second lock waits, then takes over when the first ends' '
	rm -f order started release &&
	bg proconsul lock -name first app "touch started; while ! test -e release; do sleep 0.1; done; echo first >>order" &&
	p1=$bgpid &&
	test_when_finished "reap $p1" &&
	wait_file started &&
	bg proconsul lock -name second app "echo second >>order" &&
	p2=$bgpid &&
	test_when_finished "reap $p2" &&
	h=$(holder_of app/.lock) &&
	api GET "/v1/session/info/$h" && test_grep "\"Name\":\"first\"" out &&
	sleep 1 &&
	! test -e order &&
	test_expect_code 1 proconsul lock -timeout 1s app true 2>err &&
	test_grep "^Shutdown triggered or timeout during lock acquisition" err &&
	touch release &&
	wait_pid $p1 20 &&
	wait_pid $p2 20 &&
	printf "first\nsecond\n" >expect && test_cmp expect order &&
	api GET /v1/kv/app/.lock && expect_status 404
'

test_expect_success 'a lost lock stops the child (SIGTERM), and the command ends' '
	rm -f started lost &&
	bg proconsul lock -verbose lost "trap \"echo term >lost; exit 0\" TERM; touch started; while :; do sleep 0.1; done" >log 2>&1 &&
	p=$bgpid &&
	test_when_finished "reap $p" &&
	wait_file started &&
	h=$(holder_of lost/.lock) &&
	api PUT "/v1/session/destroy/$h" && expect_status 200 &&
	wait_pid $p 30 &&
	echo term >expect && test_cmp expect lost &&
	test_grep "^Lock lost, killing child" log &&
	test_grep "^Terminating child pid" log
'

test_expect_success 'a child that ignores SIGTERM is killed after the grace period' '
	rm -f started &&
	bg proconsul lock ign "trap \"\" TERM; touch started; while :; do sleep 0.1; done" 2>err &&
	p=$bgpid &&
	test_when_finished "reap $p" &&
	wait_file started &&
	t0=$(now_ms) &&
	kill -TERM $p &&
	wait_pid $p 30 &&
	el=$(( $(now_ms) - t0 )) &&
	echo "# ended ${el} ms after SIGTERM" &&
	test $el -ge 4000 &&
	api GET /v1/kv/ign/.lock && expect_status 404
'

test_expect_success '-n 2: two holders at once, a third waits' '
	rm -f in1 in2 release &&
	bg proconsul lock -n 2 sem "touch in1; while ! test -e release; do sleep 0.1; done" &&
	s1=$bgpid &&
	test_when_finished "reap $s1" &&
	bg proconsul lock -n 2 sem "touch in2; while ! test -e release; do sleep 0.1; done" &&
	s2=$bgpid &&
	test_when_finished "reap $s2" &&
	wait_file in1 && wait_file in2 &&
	api GET "/v1/kv/sem/.lock?raw" && expect_status 200 &&
	json_get out "\$j->{Limit} . q( ) . scalar(keys %{\$j->{Holders}})" >holders &&
	echo "2 2" >expect && test_cmp expect holders &&
	test_expect_code 1 proconsul lock -n 2 -timeout 1s sem true 2>err &&
	test_grep "timeout during lock acquisition" err &&
	test_expect_code 1 proconsul lock -n 3 -timeout 1s sem true 2>err &&
	test_grep "semaphore limit conflict (lock: 2, local: 3)" err &&
	test_expect_code 1 proconsul lock -timeout 1s sem true 2>err &&
	test_grep "Existing key does not match lock use" err &&
	touch release &&
	wait_pid $s1 20 &&
	wait_pid $s2 20 &&
	api GET "/v1/kv/sem/?recurse" && expect_status 404
'

test_expect_success '-n 2: a freed slot lets a waiter in' '
	rm -f in1 in3 release1 &&
	bg proconsul lock -n 2 sem2 "touch in1; while ! test -e release1; do sleep 0.1; done" &&
	s1=$bgpid &&
	test_when_finished "reap $s1" &&
	bg proconsul lock -n 2 sem2 "sleep 30" &&
	s2=$bgpid &&
	test_when_finished "reap $s2" &&
	wait_file in1 &&
	poll_until 20 eval "api GET \"/v1/kv/sem2/.lock?raw\" && test \"\$(json_get out \"scalar(keys %{\\\$j->{Holders}})\")\" = 2" &&
	bg proconsul lock -n 2 sem2 "touch in3" &&
	s3=$bgpid &&
	test_when_finished "reap $s3" &&
	sleep 1 && ! test -e in3 &&
	touch release1 &&
	wait_pid $s1 20 &&
	wait_pid $s3 20 &&
	test -e in3
'

test_expect_success 'teardown' '
	stop_agent a1 &&
	check_sanitizer_log a1
'

test_done
