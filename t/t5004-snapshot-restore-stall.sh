#!/bin/sh
test_description='a restore whose swap holds every server longer than an election timeout costs no election: followers wait for the commit, restart their timers after it, the leader waits for their answers'
. ./lib.sh

# raft_multiplier = 1: a 200 ms election timeout, heartbeats every 20 ms.
# The swap of N keys takes several times that under the sanitizers; with
# the timers running through it the followers campaigned while the
# leader swapped, and the restore's barrier failed with "leadership
# lost" (or worse, in the middle of its pieces).
TEST_SERVERS="s1 s2 s3"
N=${T5004_KEYS:-60000}

# gen_import: N keys in `kv export` form (the value is "value-of-a-key").
gen_import () {
	awk -v n=$N 'BEGIN {
		printf "[";
		for (i = 0; i < n; i++)
			printf "%s{\"key\":\"stall/k%06d\",\"flags\":0,\"value\":\"dmFsdWUtb2YtYS1rZXk=\"}", (i ? "," : ""), i;
		print "]";
	}'
}

# candidates: how many times any server has campaigned so far.
candidates () {
	cat "$TRASH/s1.log" "$TRASH/s2.log" "$TRASH/s3.log" |
		grep -c "entering Candidate state"
}

test_expect_success 'setup: three servers with a 200 ms election timeout, N keys' '
	start_servers -bootstrap-expect=3 -hcl "performance { raft_multiplier = 1 }" &&
	wait_leader 60 s1 s2 s3 &&
	gen_import >import.json &&
	proconsul kv import -http-addr="$(agent_http $leader)" @import.json >import.out &&
	api_on $leader GET "/v1/kv/stall/?keys" && expect_status 200 &&
	test "$(json_get out "scalar @\$j")" = $N &&
	proconsul snapshot save -http-addr="$(agent_http $leader)" saved.snap >save.out 2>&1 &&
	test_grep "Saved and verified snapshot to index" save.out &&
	api_on $leader PUT /v1/kv/after-save -d x && expect_status 200 &&
	test_set_prereq CLUSTER
'

test_expect_success CLUSTER 'restore into the running state: no election, the barrier after it holds' '
	before=$(candidates) &&
	old=$leader &&
	proconsul snapshot restore -http-addr="$(agent_http $leader)" saved.snap >restore.out 2>&1 &&
	cat restore.out &&
	test_grep "Restored snapshot" restore.out &&
	grep -h "swapped in" "$TRASH/s1.log" "$TRASH/s2.log" "$TRASH/s3.log" &&
	test "$(grep -c "swapped in" "$TRASH/$old.log")" = 1 &&
	for s in s1 s2 s3
	do
		test $s = $old ||
		poll_until 30 grep -q "swapped in" "$TRASH/$s.log" || return 1
	done &&
	sleep 1 &&
	test "$(candidates)" = "$before" &&
	! grep "the barrier after it failed" "$TRASH/$old.log" &&
	wait_leader 10 s1 s2 s3 &&
	test "$leader" = "$old"
'

test_expect_success CLUSTER 'the followers held their timers while the leader swapped' '
	for s in s1 s2 s3
	do
		test $s = $leader ||
		grep "every piece of a restore is staged: waiting for its commit" \
			"$TRASH/$s.log" || return 1
	done
'

test_expect_success CLUSTER 'every server has the restored state' '
	for s in s1 s2 s3
	do
		api_on $s GET "/v1/kv/after-save?stale" && expect_status 404 &&
		api_on $s GET "/v1/kv/stall/?keys&stale" && expect_status 200 &&
		test "$(json_get out "scalar @\$j")" = $N || return 1
	done
'

test_done
