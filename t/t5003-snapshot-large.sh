#!/bin/sh
test_description='snapshots larger than the 64 MiB request limit, saved and restored through a follower: read index instead of relaying, the archive spooled to disk, one piece in memory at a time'
. ./lib.sh

TEST_SERVERS="s1 s2 s3"
N=140        # values of 500000 random bytes: about 70 MB of state
SIZE=500000

test_expect_success 'setup: three servers, about 70 MB of incompressible values' '
	start_servers -bootstrap-expect=3 &&
	wait_leader 60 s1 s2 s3 &&
	follower=$(for s in s1 s2 s3; do test $s = "$leader" || echo $s; done | head -n 1) &&
	i=0 &&
	while test $i -lt $N
	do
		head -c $SIZE /dev/urandom >v &&
		api_on $leader PUT "/v1/kv/big/k$i" --data-binary @v &&
		expect_status 200 || return 1
		i=$((i + 1))
	done &&
	api_on $leader GET "/v1/kv/big/?keys" && expect_status 200 &&
	json_get out "join qq(\n), @\$j" >before.list &&
	test $(wc -l <before.list) = $N &&
	for k in 0 77 $((N - 1))
	do
		api_on $leader GET "/v1/kv/big/k$k?raw" && expect_status 200 &&
		sha256sum <out >sum.k$k || return 1
	done &&
	test_set_prereq CLUSTER
'

test_expect_success CLUSTER 'over 64 MiB of commands since the last snapshot: every server takes one (16384 entries were not reached)' '
	for s in s1 s2 s3
	do
		poll_until 30 grep -q "raft: snapshot taken" "$TRASH/$s.log" || return 1
	done &&
	grep "MiB of commands since the last snapshot: taking one" \
		"$TRASH/s1.log" "$TRASH/s2.log" "$TRASH/s3.log"
'

test_expect_success CLUSTER 'save on a follower: its own state, as new as the leader'"'"'s, over 64 MiB' '
	api_on $leader PUT /v1/kv/last-write -d acknowledged && expect_status 200 &&
	proconsul snapshot save -http-addr="$(agent_http $follower)" saved.snap >save.out 2>&1 &&
	cat save.out &&
	test_grep "Saved and verified snapshot to index" save.out &&
	size=$(wc -c <saved.snap) &&
	echo "archive: $size bytes" &&
	test "$size" -gt $((64 * 1024 * 1024)) &&
	proconsul snapshot inspect saved.snap >inspect.out &&
	test_grep "KVS *$((N + 1)) " inspect.out &&
	mkdir x && tar -xzf saved.snap -C x state.bin &&
	grep -c acknowledged x/state.bin >/dev/null
'

test_expect_success CLUSTER 'a body over 64 MiB to any other route: 413, nothing spooled is left' '
	head -c $((65 * 1024 * 1024)) /dev/zero >huge &&
	api_on $follower PUT /v1/catalog/register --data-binary @huge &&
	expect_status 413 &&
	test_grep "Request body too large" out &&
	for s in s1 s2 s3
	do
		ls -A "$TRASH/$s" >ls.$s &&
		! grep -E "^\\.(body|tmp)-" ls.$s || return 1
	done
'

test_expect_success CLUSTER 'restore through a follower: forwarded without a copy in memory, every server has it' '
	api_on $leader DELETE "/v1/kv/big/k0" && expect_status 200 &&
	api_on $leader PUT /v1/kv/after-save -d x && expect_status 200 &&
	proconsul snapshot restore -http-addr="$(agent_http $follower)" saved.snap >restore.out 2>&1 &&
	cat restore.out &&
	test_grep "Restored snapshot" restore.out &&
	for s in s1 s2 s3
	do
		poll_until 60 eval "api_on $s GET \"/v1/kv/after-save?stale\" && expect_status 404" &&
		api_on $s GET "/v1/kv/big/?keys&stale" && expect_status 200 &&
		json_get out "join qq(\n), @\$j" >after.$s &&
		test_cmp before.list after.$s &&
		api_on $s GET "/v1/kv/after-save?stale" && expect_status 404 &&
		for k in 0 77 $((N - 1))
		do
			api_on $s GET "/v1/kv/big/k$k?raw&stale" && expect_status 200 &&
			sha256sum <out >got &&
			test_cmp sum.k$k got || return 1
		done || return 1
	done
'

test_expect_success CLUSTER 'the restored state survives a restart of every server' '
	stop_agents TERM s1 s2 s3 &&
	relaunch_agent s1 && relaunch_agent s2 && relaunch_agent s3 &&
	wait_leader 60 s1 s2 s3 &&
	for s in s1 s2 s3
	do
		poll_until 30 eval "api_on $s GET \"/v1/kv/big/?keys&stale\" && expect_status 200" &&
		json_get out "join qq(\n), @\$j" >restart.$s &&
		test_cmp before.list restart.$s &&
		api_on $s GET "/v1/kv/big/k77?raw&stale" && expect_status 200 &&
		sha256sum <out >got && test_cmp sum.k77 got || return 1
	done
'

test_done
