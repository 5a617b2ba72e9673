#!/bin/sh
test_description='gossip: five agents join through -retry-join; members shows alive, failed, left'
. ./lib.sh

# member_status AGENT NODE: NODE's Status column in AGENT's `members`.
member_status () {
	proconsul members -http-addr="$(agent_http "$1")" >members.out 2>&1 ||
		return 0
	awk -v n="$2" '$1 == n { print $3 }' members.out
}

# wait_status AGENT NODE STATUS [SECONDS]: bounded wait (default 10 s)
# until AGENT lists NODE with STATUS.
wait_status () {
	ws_i=0
	ws_n=$(( ${4:-10} * 10 ))
	while test $ws_i -lt $ws_n; do
		test "$(member_status "$1" "$2")" = "$3" && return 0
		sleep 0.1
		ws_i=$((ws_i + 1))
	done
	echo >&9 "$1 does not show $2 as $3 after ${4:-10}s; members:"
	cat >&9 members.out
	return 1
}

# wait_alive AGENT N: bounded wait (20 s) until AGENT lists N alive members.
wait_alive () {
	wa_i=0
	while test $wa_i -lt 200; do
		proconsul members -http-addr="$(agent_http "$1")" \
			-status=alive >members.out 2>&1 &&
		test "$(($(wc -l <members.out) - 1))" = "$2" && return 0
		sleep 0.1
		wa_i=$((wa_i + 1))
	done
	echo >&9 "$1 does not list $2 alive members; members:"
	cat >&9 members.out
	return 1
}

test_expect_success 'setup: one bootstrap server, four agents joining it' '
	start_agent s1 -server -bootstrap &&
	TEST_AGENT_WAIT=http start_agent s2 -server -retry-join=$s1_ADDR \
		-retry-interval=1s &&
	for n in c1 c2 c3; do
		TEST_AGENT_WAIT=http start_agent $n -retry-join=$s1_ADDR \
			-retry-interval=1s || return 1
	done
'

test_expect_success 'members lists the five agents alive, on every agent' '
	wait_alive s1 5 &&
	wait_alive c3 5 &&
	proconsul members >out &&
	head -n 1 out >actual &&
	echo "Node  Address  Status  Type  Build  Protocol  DC  Partition  Segment" |
		sed "s/  */ /g" >expect &&
	sed "s/  */ /g" actual >actual1 &&
	test_cmp expect actual1
'

test_expect_success 'servers come first, then clients by name' '
	proconsul members >out &&
	awk "NR > 1 { print \$1, \$4, \$9 }" out >actual &&
	cat >expect <<-\EOT &&
	s1 server <all>
	s2 server <all>
	c1 client <default>
	c2 client <default>
	c3 client <default>
	EOT
	test_cmp expect actual
'

test_expect_success 'table columns are aligned with a two-space gap' '
	proconsul members >out &&
	awk "NR == 1 { i = index(\$0, \"Address\") }
	     NR > 1 && substr(\$0, i, length(\"$s1_ADDR\")) != \"$s1_ADDR\" &&
	     substr(\$0, i, 4) != \"127.\" { bad = 1 }
	     END { exit bad }" out &&
	! grep " \$" out
'

test_expect_success 'members -detailed shows the role tags' '
	proconsul members -detailed >out &&
	head -n 1 out | sed "s/  */ /g" >actual &&
	echo "Node Address Status Tags" >expect &&
	test_cmp expect actual &&
	test_grep "^s1 .*role=consul" out &&
	test_grep "^c1 .*role=node" out
'

test_expect_success 'members -status=nomatch exits 2' '
	test_expect_code 2 proconsul members -status=nomatch >out
'

test_expect_success 'GET /v1/agent/members has Consul fields' '
	API_ADDR=$s1_HTTP api GET /v1/agent/members &&
	expect_status 200 &&
	test_grep "\"ProtocolCur\"" out &&
	test_grep "\"DelegateCur\"" out &&
	API_ADDR=$s1_HTTP api GET "/v1/agent/members?wan=1" &&
	expect_status 200 &&
	json_get out "join q{,}, map { \$_->{Name} } @\$j" >actual &&
	echo "s1.dc1" >expect && test_cmp expect actual &&
	API_ADDR=$c1_HTTP api GET "/v1/agent/members?wan=1" &&
	expect_status 200 &&
	echo "[]" >expect && tr -d " \n" <out >actual && echo >>actual &&
	test_cmp expect actual
'

test_expect_success 'kill -9 of an agent: the others see it failed' '
	kill -s KILL $c2_PID &&
	wait_pid $c2_PID 5;
	c2_PID= &&
	wait_status s1 c2 failed 10 &&
	wait_status c1 c2 failed 10
'

test_expect_success 'restarted with the same data dir: alive again' '
	TEST_AGENT_WAIT=http start_agent c2 -retry-join=$s1_ADDR \
		-retry-interval=1s &&
	wait_status s1 c2 alive 15 &&
	wait_status c1 c2 alive 15
'

test_expect_success 'join: a new address, then a dead one' '
	proconsul join -http-addr=$c1_HTTP $s2_ADDR >out &&
	echo "Successfully joined cluster by contacting 1 nodes." >expect &&
	test_cmp expect out &&
	test_must_fail proconsul join -http-addr=$c1_HTTP $TEST_NET.200 \
		>out 2>err &&
	test_grep "Error joining address .$TEST_NET.200." err &&
	test_grep "Failed to join any nodes." err
'

test_expect_success 'proconsul leave: the agent exits 0 and is left' '
	proconsul leave -http-addr=$c3_HTTP >out &&
	echo "Graceful leave complete" >expect &&
	test_cmp expect out &&
	wait_pid $c3_PID 15 &&
	c3_PID= &&
	wait_status s1 c3 left 10
'

test_expect_success 'SIGTERM on a client: it leaves' '
	stop_agent c1 TERM &&
	wait_status s1 c1 left 10
'

test_expect_success 'force-leave of an unknown node fails' '
	test_must_fail proconsul force-leave nosuchnode 2>err &&
	test_grep "Error force leaving" err
'

test_done
