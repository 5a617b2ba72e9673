#!/bin/sh
test_description='KV blocking queries: index + wait, woken by writes and deletes'
. ./lib.sh

test_expect_success 'setup: agent and a key' '
	start_agent a1 -server -bootstrap &&
	api PUT /v1/kv/watch/k --data-binary v1 &&
	expect_status 200 &&
	api GET /v1/kv/watch/k &&
	idx=$(header X-Consul-Index) &&
	test "$idx" -ge 1
'

# bg_get NAME PATH: start a blocking GET in the background (bounded by
# curl -m 30); body in NAME.out, headers in NAME.hdr, status in
# NAME.status, start time in NAME.t0; its PID in $bg_pid.
bg_get () {
	now_ms >"$1.t0" &&
	{ test_curl -m 30 -o "$1.out" -D "$1.hdr" -w "%{http_code}\n" \
		"$CONSUL_HTTP_ADDR$2" >"$1.status" 2>"$1.err" & } &&
	bg_pid=$!
}

# elapsed_ms NAME: milliseconds since bg_get NAME started.
elapsed_ms () {
	echo $(( $(now_ms) - $(cat "$1.t0") ))
}

test_expect_success 'a blocking GET at the current index waits' '
	bg_get w1 "/v1/kv/watch/k?index=$idx&wait=10s" &&
	w1_pid=$bg_pid &&
	sleep 1 &&
	pid_alive $w1_pid
'

test_expect_success 'a PUT wakes it within a few seconds' '
	api PUT /v1/kv/watch/k --data-binary v2 &&
	expect_status 200 &&
	wait_pid $w1_pid 5 &&
	test $(elapsed_ms w1) -lt 6000
'

test_expect_success 'the woken GET has the new value and a higher index' '
	echo 200 >expect &&
	test_cmp expect w1.status &&
	json_get w1.out "\$j->[0]{Value}" >actual &&
	printf v2 | base64 >expect &&
	test_cmp expect actual &&
	idx2=$(header X-Consul-Index w1.hdr) &&
	test "$idx2" -gt "$idx" &&
	json_get w1.out "\$j->[0]{ModifyIndex}" >actual &&
	echo "$idx2" >expect &&
	test_cmp expect actual
'

test_expect_success 'an index below the current one returns at once' '
	bg_get w2 "/v1/kv/watch/k?index=$idx&wait=10s" &&
	wait_pid $bg_pid 3 &&
	test $(elapsed_ms w2) -lt 2000 &&
	echo 200 >expect &&
	test_cmp expect w2.status
'

test_expect_success 'index=0 does not block' '
	bg_get w3 "/v1/kv/watch/k?index=0&wait=10s" &&
	wait_pid $bg_pid 3 &&
	test $(elapsed_ms w3) -lt 2000
'

test_expect_success 'wait=1s on an unchanged key returns after ~1 s, same index' '
	bg_get w4 "/v1/kv/watch/k?index=$idx2&wait=1s" &&
	wait_pid $bg_pid 5 &&
	ms=$(elapsed_ms w4) &&
	test $ms -ge 900 &&
	test $ms -lt 3500 &&
	echo 200 >expect &&
	test_cmp expect w4.status &&
	header X-Consul-Index w4.hdr >actual &&
	echo "$idx2" >expect &&
	test_cmp expect actual &&
	json_get w4.out "\$j->[0]{Value}" >actual &&
	printf v2 | base64 >expect &&
	test_cmp expect actual
'

test_expect_success 'wait=1500ms (Go duration syntax) is honoured' '
	bg_get w5 "/v1/kv/watch/k?index=$idx2&wait=1500ms" &&
	wait_pid $bg_pid 6 &&
	ms=$(elapsed_ms w5) &&
	test $ms -ge 1400 &&
	test $ms -lt 4000
'

test_expect_success 'a blocking GET on a missing key is woken by its creation' '
	api GET /v1/kv/watch/new &&
	expect_status 404 &&
	nidx=$(header X-Consul-Index) &&
	test "$nidx" -ge 1 &&
	bg_get w7 "/v1/kv/watch/new?index=$nidx&wait=10s" &&
	w7_pid=$bg_pid &&
	sleep 0.5 &&
	pid_alive $w7_pid &&
	api PUT /v1/kv/watch/new --data-binary born &&
	wait_pid $w7_pid 5 &&
	echo 200 >expect &&
	test_cmp expect w7.status &&
	test $(elapsed_ms w7) -lt 6000
'

test_expect_success 'setup: a prefix for recurse watches' '
	api PUT /v1/kv/dir/a --data-binary 1 &&
	api PUT /v1/kv/dir/b --data-binary 2 &&
	api GET "/v1/kv/dir/?recurse" &&
	ridx=$(header X-Consul-Index) &&
	test "$ridx" -ge 1
'

test_expect_success 'a recurse blocking GET is woken by a delete under the prefix' '
	bg_get w8 "/v1/kv/dir/?recurse&index=$ridx&wait=10s" &&
	w8_pid=$bg_pid &&
	sleep 0.5 &&
	pid_alive $w8_pid &&
	api DELETE /v1/kv/dir/a &&
	expect_status 200 &&
	wait_pid $w8_pid 5 &&
	test $(elapsed_ms w8) -lt 6000 &&
	echo 200 >expect &&
	test_cmp expect w8.status &&
	json_get w8.out "join q( ), map { \$_->{Key} } @\$j" >actual &&
	echo dir/b >expect &&
	test_cmp expect actual &&
	test "$(header X-Consul-Index w8.hdr)" -gt "$ridx"
'

test_expect_success 'a recurse blocking GET is woken by a new key under the prefix' '
	api GET "/v1/kv/dir/?recurse" &&
	ridx=$(header X-Consul-Index) &&
	bg_get w9 "/v1/kv/dir/?recurse&index=$ridx&wait=10s" &&
	w9_pid=$bg_pid &&
	sleep 0.5 &&
	pid_alive $w9_pid &&
	api PUT /v1/kv/dir/c --data-binary 3 &&
	wait_pid $w9_pid 5 &&
	json_get w9.out "join q( ), map { \$_->{Key} } @\$j" >actual &&
	echo "dir/b dir/c" >expect &&
	test_cmp expect actual
'

test_expect_success 'a ?keys blocking GET is woken by a write under the prefix' '
	api GET "/v1/kv/dir/?keys" &&
	kidx=$(header X-Consul-Index) &&
	bg_get w10 "/v1/kv/dir/?keys&index=$kidx&wait=10s" &&
	w10_pid=$bg_pid &&
	sleep 0.5 &&
	pid_alive $w10_pid &&
	api PUT /v1/kv/dir/d --data-binary 4 &&
	wait_pid $w10_pid 5 &&
	printf "[\"dir/b\",\"dir/c\",\"dir/d\"]" >expect &&
	test_cmp expect w10.out
'

test_expect_success 'a delete-tree wakes a recurse watch, which then sees 404' '
	api GET "/v1/kv/dir/?recurse" &&
	ridx=$(header X-Consul-Index) &&
	bg_get w11 "/v1/kv/dir/?recurse&index=$ridx&wait=10s" &&
	w11_pid=$bg_pid &&
	sleep 0.5 &&
	api DELETE "/v1/kv/dir/?recurse" &&
	wait_pid $w11_pid 5 &&
	echo 404 >expect &&
	test_cmp expect w11.status &&
	test "$(header X-Consul-Index w11.hdr)" -gt "$ridx"
'

test_expect_success 'many concurrent watchers are all woken by one write' '
	api GET /v1/kv/watch/k &&
	cidx=$(header X-Consul-Index) &&
	pids= &&
	for i in 1 2 3 4 5 6 7 8 9 10; do
		bg_get m$i "/v1/kv/watch/k?index=$cidx&wait=20s" &&
		pids="$pids $bg_pid" || return 1
	done &&
	sleep 1 &&
	for p in $pids; do pid_alive $p || return 1; done &&
	api PUT /v1/kv/watch/k --data-binary v3 &&
	for p in $pids; do wait_pid $p 5 || return 1; done &&
	for i in 1 2 3 4 5 6 7 8 9 10; do
		test "$(cat m$i.status)" = 200 || return 1
	done
'

test_expect_success 'a watcher that hangs up does not hurt the agent' '
	api GET /v1/kv/watch/k &&
	hidx=$(header X-Consul-Index) &&
	test_curl -m 1 "$CONSUL_HTTP_ADDR/v1/kv/watch/k?index=$hidx&wait=10s" \
		>/dev/null 2>&1;
	api PUT /v1/kv/watch/k --data-binary v4 &&
	expect_status 200 &&
	api GET "/v1/kv/watch/k?raw" &&
	printf v4 >expect &&
	test_cmp expect out
'

test_expect_success 'invalid wait: 400 Invalid wait time' '
	api GET "/v1/kv/watch/k?index=1&wait=soon" &&
	expect_status 400 &&
	test_grep "Invalid wait time" out
'

test_expect_success 'invalid index: 400 Invalid index' '
	api GET "/v1/kv/watch/k?index=abc" &&
	expect_status 400 &&
	test_grep "Invalid index" out
'

test_expect_success 'wait above the 10 min maximum is clamped, not refused' '
	bg_get w12 "/v1/kv/watch/k?index=$hidx&wait=1h" &&
	wait_pid $bg_pid 5 &&
	echo 200 >expect &&
	test_cmp expect w12.status
'

test_expect_success 'stop: exit 0, no sanitizer errors' '
	stop_agent a1 TERM &&
	check_sanitizer_log a1
'

test_done
