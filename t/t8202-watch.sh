#!/bin/sh
test_description='proconsul watch: a handler runs once per change (plus the
first run) for key, keyprefix, services and event watches; without a
handler the first result is printed; bad definitions and failing handlers;
watches in the agent config run their handler and stop with the agent'
. ./lib.sh

if ! test_have_prereq PERL; then
	skip_all='perl with JSON::PP needed'
	test_done
fi

watch_pid=
stop_watch () {
	test -n "$watch_pid" || return 0
	kill -s TERM "$watch_pid" 2>/dev/null
	wait_pid "$watch_pid" 10 >/dev/null 2>&1
	watch_pid=
}
trap 'sw_rc_=$?; stop_watch; (exit $sw_rc_); test_exit_trap_' EXIT

# lines_are FILE N: FILE has exactly N lines.
lines_are () {
	test -f "$1" && test "$(wc -l <"$1")" -eq "$2"
}

# handler that appends "<CONSUL_INDEX> <stdin>" as one line to FILE
# (stdin is one line of JSON).
handler () {
	echo "printf \"%s %s\\n\" \"\$CONSUL_INDEX\" \"\$(cat)\" >>$TRASH/$1"
}

test_expect_success 'setup: one dev agent' '
	start_agent a1 -dev
'

test_expect_success 'key watch: the first run sees null' '
	proconsul watch -type key -key app/x "$(handler key.runs)" &
	watch_pid=$! &&
	poll_until 20 lines_are key.runs 1 &&
	test "$(cut -d" " -f2- key.runs)" = null
'

test_expect_success 'key watch: one run per write, with the new entry' '
	for v in one two three; do
		n=$(( $(wc -l <key.runs) + 1 )) &&
		proconsul kv put app/x $v >/dev/null &&
		poll_until 20 lines_are key.runs $n || return 1
	done &&
	sleep 2 &&
	lines_are key.runs 4 &&
	tail -n 1 key.runs | cut -d" " -f2- >last.json &&
	json_get last.json "\$j->{Key}" >actual && echo app/x >expect &&
	test_cmp expect actual &&
	json_get last.json "\$j->{Value}" >actual && echo dGhyZWU= >expect &&
	test_cmp expect actual
'

test_expect_success 'key watch: CONSUL_INDEX is the entry ModifyIndex' '
	tail -n 1 key.runs >last &&
	idx=$(cut -d" " -f1 last) &&
	json_get last.json "\$j->{ModifyIndex}" >actual &&
	echo "$idx" >expect && test_cmp expect actual
'

test_expect_success 'key watch: a write elsewhere runs nothing' '
	proconsul kv put other/y 1 >/dev/null &&
	sleep 2 &&
	lines_are key.runs 4 &&
	stop_watch
'

test_expect_success 'keyprefix watch: one run per change under the prefix' '
	proconsul watch -type keyprefix -prefix app/ "$(handler kp.runs)" &
	watch_pid=$! &&
	poll_until 20 lines_are kp.runs 1 &&
	proconsul kv put app/z 9 >/dev/null &&
	poll_until 20 lines_are kp.runs 2 &&
	tail -n 1 kp.runs | cut -d" " -f2- >last.json &&
	json_get last.json "join q(,), map { \$_->{Key} } @\$j" >actual &&
	echo app/x,app/z >expect && test_cmp expect actual &&
	stop_watch
'

test_expect_success 'without a handler: the result is printed once' '
	proconsul watch -type keyprefix -prefix app/ >kp.out &&
	json_get kp.out "join q(,), map { \$_->{Key} } @\$j" >actual &&
	echo app/x,app/z >expect && test_cmp expect actual &&
	head -n 2 kp.out >head.out &&
	printf "[\n    {\n" >expect && test_cmp expect head.out
'

test_expect_success 'key watch of a missing key prints null' '
	proconsul watch -type key -key nope >out &&
	echo null >expect && test_cmp expect out
'

test_expect_success 'services watch: a new service runs the handler' '
	proconsul watch -type services "$(handler svc.runs)" &
	watch_pid=$! &&
	poll_until 20 lines_are svc.runs 1 &&
	api PUT /v1/agent/service/register -d "{\"Name\":\"web\"}" &&
	expect_status 200 &&
	poll_until 20 lines_are svc.runs 2 &&
	tail -n 1 svc.runs | cut -d" " -f2- >last.json &&
	json_get last.json "join q(,), sort keys %\$j" >actual &&
	echo consul,web >expect && test_cmp expect actual &&
	stop_watch
'

test_expect_success 'nodes, service and checks watches print their lists' '
	proconsul watch -type nodes >out &&
	json_get out "\$j->[0]{Node}" >actual && echo a1 >expect &&
	test_cmp expect actual &&
	proconsul watch -type service -service consul >out &&
	json_get out "\$j->[0]{Service}{Service}" >actual &&
	echo consul >expect && test_cmp expect actual &&
	proconsul watch -type checks -state any >out &&
	json_get out "\$j->[0]{CheckID}" >actual &&
	echo serfHealth >expect && test_cmp expect actual
'

test_expect_success 'event watch: each run gets only the new events' '
	proconsul watch -type event -name deploy "$(handler ev.runs)" &
	watch_pid=$! &&
	poll_until 20 lines_are ev.runs 1 &&
	test "$(cut -d" " -f2- ev.runs)" = "[]" &&
	proconsul event -name deploy one >/dev/null &&
	poll_until 20 lines_are ev.runs 2 &&
	proconsul event -name other x >/dev/null &&
	proconsul event -name deploy two >/dev/null &&
	poll_until 20 lines_are ev.runs 3 &&
	tail -n 1 ev.runs | cut -d" " -f2- >last.json &&
	json_get last.json "join q(,), map { \$_->{Payload} } @\$j" >actual &&
	echo dHdv >expect && test_cmp expect actual &&
	stop_watch
'

test_expect_success '-shell=false runs the arguments directly' '
	proconsul watch -type key -key app/x -shell=false -- \
		sh -c "cat >direct.out; exit 9" 2>err;
	test $? = 1 &&
	json_get direct.out "\$j->{Key}" >actual && echo app/x >expect &&
	test_cmp expect actual &&
	test_grep "Error executing handler: exit status 9" err
'

test_expect_success 'a failing handler ends the watch with exit 1' '
	test_must_fail proconsul watch -type key -key app/x "exit 3" 2>err &&
	test_grep "Error executing handler: exit status 3" err
'

test_expect_success 'bad definitions are refused' '
	test_must_fail proconsul watch 2>err &&
	test_grep "Watch type must be specified" err &&
	test_must_fail proconsul watch -type bogus 2>err &&
	test_grep "Unsupported watch type: bogus" err &&
	test_must_fail proconsul watch -type key 2>err &&
	test_grep "Must specify a single key to watch" err &&
	test_must_fail proconsul watch -type service 2>err &&
	test_grep "Must specify a single service to watch" err &&
	test_must_fail proconsul watch -type checks -service a -state any 2>err &&
	test_grep "Cannot specify service and state" err &&
	test_must_fail proconsul watch -type nodes -key x 2>err &&
	test_grep "Invalid parameters: \[key\]" err
'

test_expect_success 'an unreachable agent: the watch retries, no busy loop' '
	proconsul watch -type nodes -http-addr=$TEST_NET.250:1 >out 2>err &
	watch_pid=$! &&
	sleep 3 &&
	pid_alive $watch_pid &&
	test "$(grep -c "errored" err)" -le 2 &&
	stop_watch
'

test_expect_success 'config: a bad watch is refused at load' '
	cat >bad.json <<-EOF &&
	{"data_dir": "$TRASH/v", "watches": [{"type": "bogus", "args": ["true"]}]}
	EOF
	test_must_fail proconsul validate bad.json >out 2>&1 &&
	test_grep "watches\[0\]: Unsupported watch type: bogus" out &&
	cat >bad2.json <<-EOF &&
	{"data_dir": "$TRASH/v", "watches": [{"type": "key", "key": "k"}]}
	EOF
	test_must_fail proconsul validate bad2.json >out 2>&1 &&
	test_grep "watches\[0\]: Must define a watch handler" out
'

test_expect_success 'config: watches entries run their handlers' '
	cat >watches.json <<-EOF &&
	{"watches": [
	  {"type": "key", "key": "cfg/k",
	   "args": ["sh", "-c", "cat >>$TRASH/cfg.runs"]},
	  {"type": "nodes",
	   "args": ["sh", "-c", "cat >/dev/null; echo \$\$ >$TRASH/sleeper.pid; exec sleep 120"]},
	  {"type": "event", "name": "ping",
	   "handler": "cat >>$TRASH/cfgev.runs"}
	]}
	EOF
	start_agent a2 -dev -config-file=watches.json &&
	poll_until 30 lines_are cfg.runs 1 &&
	test "$(cat cfg.runs)" = null &&
	poll_until 30 lines_are cfgev.runs 1 &&
	poll_until 30 test -s sleeper.pid &&
	for v in 1 2 3; do
		proconsul kv put -http-addr=$a2_HTTP cfg/k $v >/dev/null &&
		poll_until 20 lines_are cfg.runs $((v + 1)) || return 1
	done &&
	proconsul event -http-addr=$a2_HTTP -name ping >/dev/null &&
	poll_until 20 lines_are cfgev.runs 2 &&
	sleep 2 &&
	lines_are cfg.runs 4 && lines_are cfgev.runs 2
'

test_expect_success 'config: the agent runs one watch child per entry' '
	pgrep -P $a2_PID >kids &&
	test "$(wc -l <kids)" = 3
'

test_expect_success 'config: a reload that changes the list restarts them' '
	old_kids=$(cat kids) &&
	sed "s|\"watches\": \[|&\n  {\"type\": \"key\", \"key\": \"cfg/new\", \"handler\": \"cat >>$TRASH/new.runs\"},|" \
		watches.json >w2 && mv w2 watches.json &&
	test_grep "cfg/new" watches.json &&
	proconsul reload -http-addr=$a2_HTTP >/dev/null &&
	poll_until 30 lines_are new.runs 1 &&
	poll_until 20 eval "pgrep -P $a2_PID >kids && test \$(wc -l <kids) = 4" &&
	for k in $old_kids; do
		poll_until 10 eval "! pid_alive $k" || return 1
	done
'

test_expect_success 'config: a reload without changes keeps them' '
	proconsul reload -http-addr=$a2_HTTP >/dev/null &&
	sleep 1 &&
	pgrep -P $a2_PID >kids2 &&
	test_cmp kids kids2
'

test_expect_success 'config: stopping the agent stops the watches and handlers' '
	poll_until 20 eval "pid_alive \$(cat sleeper.pid)" &&
	sleeper=$(cat sleeper.pid) &&
	pid_alive $sleeper &&
	stop_agent a2 &&
	for k in $(cat kids) $sleeper; do
		poll_until 10 eval "! pid_alive $k" || return 1
	done
'

test_expect_success 'config: a watch child ends when its agent is killed' '
	cat >w3.json <<-EOF &&
	{"watches": [{"type": "key", "key": "k3",
	  "args": ["sh", "-c", "cat >>$TRASH/w3.runs"]}]}
	EOF
	start_agent a3 -dev -config-file=w3.json &&
	poll_until 30 lines_are w3.runs 1 &&
	pgrep -P $a3_PID >kids3 &&
	test "$(wc -l <kids3)" = 1 &&
	stop_agent a3 KILL;
	kid=$(cat kids3) &&
	poll_until 20 eval "! pid_alive $kid"
'

test_done
