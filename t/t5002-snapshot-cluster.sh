#!/bin/sh
test_description='snapshots on a 3-server cluster with ACLs: save, wipe every data dir, restore, compare every object; restore on a live cluster; damaged archives change nothing; a save during an election'
. ./lib.sh

test_have_prereq PERL || { skip_all='needs perl JSON::PP'; test_done; }

MASTER=0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0
reserve_agents s1 s2 s3

mkdir config &&
cat >config/auth.hcl <<EOF &&
acl {
  enabled = true
  default_policy = "deny"
  tokens { initial_management = "$MASTER" }
}
EOF
cat >config/ha.hcl <<EOF || test_bail_ "cannot write the config dir"
server = true
retry_join = ["$s1_ADDR", "$s2_ADDR", "$s3_ADDR"]
EOF

deployed () {
	TEST_AGENT_WAIT=http start_agent "$1" -server -bootstrap-expect=3 \
		-datacenter=dc1 -retry-interval=1s -config-dir="$TRASH/config"
}

# m_on NAME METHOD PATH [curl args]: api_on with the management token.
m_on () {
	mo_n_=$1
	shift
	api_on "$mo_n_" "$@" -H "X-Consul-Token: $MASTER"
}

# dump NAME FILE: KV, the external node's services and checks, ACL
# policies and tokens (without times and indexes), canonical.
dump () {
	{
		m_on "$1" GET "/v1/kv/?recurse&stale" && expect_status 200 &&
		json_get out 'join "\n", map { "$_->{Key}=$_->{Value}/$_->{Flags}" } @$j' &&
		m_on "$1" GET "/v1/catalog/node/ext1?stale" && expect_status 200 &&
		json_get out 'join "\n", map { "svc $_" } sort keys %{$j->{Services}}' &&
		m_on "$1" GET "/v1/health/node/ext1?stale" && expect_status 200 &&
		json_get out 'join "\n", map { "chk $_->{CheckID} $_->{Status}" } @$j' &&
		m_on "$1" GET "/v1/acl/policies?stale" && expect_status 200 &&
		json_get out 'join "\n", sort map { "pol $_->{ID} $_->{Name}" } @$j' &&
		m_on "$1" GET "/v1/acl/tokens?stale" && expect_status 200 &&
		json_get out 'join "\n", sort map { "tok $_->{AccessorID} $_->{Description}" } @$j'
	} >"$2"
}

test_expect_success 'setup: three servers with ACLs, data of every kind' '
	deployed s1 && deployed s2 && deployed s3 &&
	wait_leader 30 s1 s2 s3 &&
	poll_until 20 m_on $leader PUT /v1/kv/boot -d 1 &&
	i=0 &&
	while test $i -lt 200
	do
		m_on $leader PUT "/v1/kv/app/k$i?flags=$i" -d "value-$i" &&
		expect_status 200 || return 1
		i=$((i + 1))
	done &&
	m_on $leader PUT /v1/catalog/register -d "{\"Node\":\"ext1\",\"Address\":\"192.0.2.1\",\"Service\":{\"ID\":\"web1\",\"Service\":\"web\",\"Port\":80},\"Checks\":[{\"CheckID\":\"web-ok\",\"ServiceID\":\"web1\",\"Status\":\"passing\"}]}" &&
	expect_status 200 &&
	printf "{\"Name\":\"readers\",\"Rules\":\"key_prefix \\\\\"app/\\\\\" { policy = \\\\\"read\\\\\" }\"}" >pol.json &&
	m_on $leader PUT /v1/acl/policy --data-binary @pol.json && expect_status 200 &&
	m_on $leader PUT /v1/acl/token -d "{\"Description\":\"app reader\",\"Policies\":[{\"Name\":\"readers\"}]}" &&
	expect_status 200 &&
	READER=$(json_get out "\$j->{SecretID}") &&
	test_set_prereq CLUSTER
'

test_expect_success CLUSTER 'save: a verified archive of the whole state' '
	m_on $leader GET /v1/snapshot && expect_status 200 &&
	mv out saved.snap &&
	test "$(header X-Consul-Index)" -gt 200 &&
	tar -tzf saved.snap >members &&
	printf "meta.json\nstate.bin\nSHA256SUMS\n" >expect &&
	test_cmp expect members &&
	mkdir x && tar -xzf saved.snap -C x &&
	(cd x && sha256sum -c SHA256SUMS) &&
	dump $leader before.dump &&
	test_grep "^app/k199=dmFsdWUtMTk5/199$" before.dump &&
	test_grep "^tok .* app reader$" before.dump
'

test_expect_success CLUSTER 'save from a follower with ?stale, without a token: 403' '
	f=$(for s in s1 s2 s3; do test $s = "$leader" || echo $s; done | head -n 1) &&
	m_on $f GET "/v1/snapshot?stale" && expect_status 200 &&
	tar -tzf out >/dev/null &&
	api_on $f GET "/v1/snapshot?stale" && expect_status 403 &&
	api_on $leader GET "/v1/snapshot" -H "X-Consul-Token: $READER" &&
	expect_status 403
'

test_expect_success CLUSTER 'damaged archives are refused and change nothing' '
	size=$(wc -c <saved.snap) &&
	head -c $((size / 2)) saved.snap >trunc.snap &&
	cp saved.snap flip.snap &&
	printf "\\377" | dd of=flip.snap bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null &&
	{ cat saved.snap; printf garbage; } >trail.snap &&
	printf "not an archive" >junk.snap &&
	for bad in trunc flip trail junk
	do
		m_on $leader PUT /v1/snapshot --data-binary @$bad.snap &&
		expect_status 400 || return 1
		echo "$bad: $(cat out)"
	done &&
	dump $leader after-bad.dump &&
	test_cmp before.dump after-bad.dump
'

test_expect_success CLUSTER 'restore on a live cluster: every server sees it at once' '
	m_on $leader PUT /v1/kv/app/k0 -d changed && expect_status 200 &&
	m_on $leader PUT /v1/kv/new-after-save -d x && expect_status 200 &&
	m_on $leader PUT /v1/snapshot --data-binary @saved.snap &&
	expect_status 200 &&
	for s in s1 s2 s3
	do
		poll_until 10 kv_is $s app/k0 value-0 "stale&token=$MASTER" || return 1
		dump $s live-$s.dump && test_cmp before.dump live-$s.dump || return 1
	done &&
	m_on $leader GET /v1/kv/new-after-save && expect_status 404
'

test_expect_success CLUSTER 'save during a leader election succeeds or fails cleanly' '
	old=$leader &&
	test_curl -o transfer.out -X POST -H "X-Consul-Token: $MASTER" \
		"$(agent_http $old)/v1/operator/raft/transfer-leader" &
	tl=$! &&
	for s in s1 s2 s3
	do
		if m_on $s GET /v1/snapshot && test "$status" = 200
		then
			tar -tzf out >/dev/null || return 1
		else
			echo "$s: $status (refused cleanly)"
		fi
	done &&
	wait $tl &&
	wait_leader 30 s1 s2 s3
'

test_expect_success CLUSTER 'wipe every data dir, restore into a new cluster, compare every object' '
	stop_agents TERM s1 s2 s3 &&
	rm -rf "$TRASH/s1" "$TRASH/s2" "$TRASH/s3" &&
	relaunch_agent s1 && relaunch_agent s2 && relaunch_agent s3 &&
	wait_leader 30 s1 s2 s3 &&
	poll_until 20 m_on $leader PUT /v1/kv/fresh -d 1 &&
	m_on $leader PUT /v1/snapshot --data-binary @saved.snap &&
	expect_status 200 &&
	for s in s1 s2 s3
	do
		poll_until 10 eval "dump $s wiped-$s.dump && test_cmp before.dump wiped-$s.dump" ||
		return 1
	done &&
	api_on $leader GET "/v1/kv/app/k5?raw" -H "X-Consul-Token: $READER" &&
	expect_status 200 && expect_body value-5
'

test_expect_success CLUSTER 'the restored state survives a restart of every server' '
	stop_agents TERM s1 s2 s3 &&
	relaunch_agent s1 && relaunch_agent s2 && relaunch_agent s3 &&
	wait_leader 30 s1 s2 s3 &&
	for s in s1 s2 s3
	do
		poll_until 20 eval "dump $s restart-$s.dump && test_cmp before.dump restart-$s.dump" ||
		return 1
	done
'

test_done
