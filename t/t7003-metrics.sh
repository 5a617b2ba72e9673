#!/bin/sh
test_description='GET /v1/agent/metrics: Consul JSON and Prometheus text from a 3-server cluster (raft, serf, memberlist, http, runtime), 415 without retention, agent:read'
. ./lib.sh

test_have_prereq PERL || { skip_all='needs perl JSON::PP'; test_done; }

# promtool (Debian package prometheus, installed by scripts/deps.sh):
# under CI it must be there; elsewhere its test is skipped without it.
if command -v promtool >/dev/null 2>&1; then
	test_set_prereq PROMTOOL
elif test "${CI:-}" = true; then
	test_bail_ "promtool is missing (scripts/deps.sh installs package prometheus)"
fi

MASTER=4f1b0c2e-8d3a-4e5f-9a6b-7c8d9e0f1a2b
TEST_SERVERS="s1 s2 s3"
reserve_agents s1 s2 s3 a4
HOST=$(uname -n)
# the hostname as go-metrics puts it into gauge names (spaces as "_")
# and as the Prometheus names carry it (anything else as "_" too)
HOST_JSON=$(printf '%s' "$HOST" | tr ' ' _)
HOST_PROM=$(printf '%s' "$HOST" | sed 's/[^A-Za-z0-9_:]/_/g')

# jcheck FILE KIND NAME EXPR [LABEL=VALUE...]: the summary in FILE has
# an entry of KIND (Gauges, Counters, Samples) named NAME with those
# labels, and EXPR (Perl, $e the entry) holds for it.
jcheck () {
	perl -MJSON::PP -e '
		my ($f, $kind, $name, $expr, @l) = @ARGV;
		open my $fh, "<", $f or die "$f: $!\n";
		my $j = do { local $/; decode_json(<$fh>) };
		E: for my $e (@{$j->{$kind}}) {
			next unless $e->{Name} eq $name;
			for (@l) {
				my ($k, $v) = split /=/, $_, 2;
				next E unless ($e->{Labels}{$k} // "") eq $v;
			}
			my $ok = eval $expr;
			die "jcheck: $@" if $@;
			exit 0 if $ok;
			print STDERR "jcheck: $name (@l) fails $expr: ",
				encode_json($e), "\n";
			exit 1;
		}
		print STDERR "jcheck: no $kind entry $name (@l) in $f\n";
		exit 1;
	' "$@"
}

# metrics_json NAME: GET /v1/agent/metrics on NAME into NAME.json.
metrics_json () {
	api_on "$1" GET /v1/agent/metrics &&
	expect_status 200 &&
	cp out "$1.json"
}

# metrics_prom NAME: the Prometheus text of NAME into NAME.prom.
metrics_prom () {
	api_on "$1" GET "/v1/agent/metrics?format=prometheus" &&
	expect_status 200 &&
	cp out "$1.prom"
}

# pval FILE SERIES: the value of the sample line "SERIES value" in FILE.
pval () {
	awk -v s="$2" 'index($0, s " ") == 1 { print $NF; found = 1 }
		END { if (!found) exit 1 }' "$1"
}

# pge FILE SERIES MIN: that value is a number >= MIN.
pge () {
	pge_v_=$(pval "$1" "$2") || { echo >&9 "no '$2' in $1"; return 1; }
	awk -v v="$pge_v_" -v m="$3" 'BEGIN { exit !(v + 0 >= m + 0) }' ||
		{ echo >&9 "$2 = $pge_v_, wanted >= $3"; return 1; }
}

test_expect_success 'setup: three servers, Prometheus on, s1 without hostnames' '
	mkdir prom s1cfg &&
	echo "telemetry { prometheus_retention_time = \"60s\" }" >prom/t.hcl &&
	echo "telemetry { disable_hostname = true }" >s1cfg/h.hcl &&
	TEST_AGENT_WAIT=none start_server s1 -bootstrap-expect=3 \
		-config-dir=prom -config-dir=s1cfg &&
	TEST_AGENT_WAIT=none start_server s2 -bootstrap-expect=3 -config-dir=prom &&
	TEST_AGENT_WAIT=none start_server s3 -bootstrap-expect=3 -config-dir=prom &&
	wait_leader 60 s1 s2 s3
'

# The writes land in one 10 s interval: start them early in one.
test_expect_success 'setup: KV writes and reads on the leader and a follower' '
	while test $(( $(date +%s) % 10 )) -gt 5; do sleep 0.5; done &&
	for i in 1 2 3 4 5; do
		api_on "$leader" PUT /v1/kv/m/k$i --data-binary v$i &&
		expect_status 200 || return 1
	done &&
	api_on s1 GET /v1/kv/m/k1 && expect_status 200 &&
	api_on s2 GET "/v1/kv/m/?recurse" && expect_status 200
'

# The JSON shows the last finished 10 s interval: wait for the one that
# holds the writes.
test_expect_success 'JSON: the interval with the writes comes out (leader)' '
	poll_until 30 eval "metrics_json $leader && jcheck $leader.json Samples consul.api.http \"\\\$e->{Count} >= 1\" method=PUT path=v1_kv_"
'

test_expect_success 'JSON: the go-metrics summary shape' '
	perl -MJSON::PP -e "
		open my \$fh, q(<), q($leader.json) or die;
		my \$j = do { local \$/; decode_json(<\$fh>) };
		die qq(keys\n) unless join(q(,), sort keys %\$j) eq
			q(Counters,Gauges,Points,Samples,Timestamp);
		die qq(Timestamp \$j->{Timestamp}\n) unless \$j->{Timestamp} =~
			/^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d0 \\+0000 UTC\\z/;
		die qq(Points\n) unless ref \$j->{Points} eq q(ARRAY) && !@{\$j->{Points}};
		for my \$g (@{\$j->{Gauges}}) {
			die qq(gauge keys\n) unless join(q(,), sort keys %\$g) eq q(Labels,Name,Value);
			die qq(labels\n) unless ref \$g->{Labels} eq q(HASH);
		}
		for my \$s (@{\$j->{Counters}}, @{\$j->{Samples}}) {
			die qq(sample keys\n) unless join(q(,), sort keys %\$s) eq
				q(Count,Labels,Max,Mean,Min,Name,Rate,Stddev,Sum);
			die qq(math \$s->{Name}\n) unless \$s->{Min} <= \$s->{Mean} &&
				\$s->{Mean} <= \$s->{Max} && \$s->{Count} >= 1 &&
				abs(\$s->{Rate} - \$s->{Sum} / 10) < 1e-6 * (1 + abs \$s->{Sum});
		}
		print qq(ok\n);
	"
'

test_expect_success 'JSON: raft and HTTP metrics of the leader' '
	f=$leader.json &&
	jcheck $f Samples consul.raft.commitTime "\$e->{Count} >= 5 && \$e->{Min} > 0" &&
	jcheck $f Samples consul.raft.fsm.apply "\$e->{Count} >= 5" &&
	jcheck $f Samples consul.fsm.kvs "\$e->{Count} >= 5" &&
	jcheck $f Samples consul.kvs.apply "\$e->{Count} >= 5" &&
	jcheck $f Counters consul.raft.apply "\$e->{Sum} >= 5" &&
	jcheck $f Samples consul.api.http "\$e->{Count} == 5" method=PUT path=v1_kv_
'

test_expect_success 'JSON: gauges (s1 has no hostname in them)' '
	poll_until 30 eval "metrics_json s1 && jcheck s1.json Gauges consul.state.kv_entries \"\\\$e->{Value} >= 5\"" &&
	f=s1.json &&
	jcheck $f Gauges consul.runtime.alloc_bytes "\$e->{Value} > 0" &&
	jcheck $f Gauges consul.runtime.sys_bytes "\$e->{Value} > 1e6" &&
	jcheck $f Gauges consul.runtime.num_goroutines "\$e->{Value} >= 1" &&
	jcheck $f Gauges consul.runtime.open_fds "\$e->{Value} >= 3" &&
	jcheck $f Gauges consul.runtime.total_gc_pause_ns "\$e->{Value} == 0" &&
	jcheck $f Gauges consul.raft.applied_index "\$e->{Value} >= 5" &&
	jcheck $f Gauges consul.raft.last_index "\$e->{Value} >= 5" &&
	jcheck $f Gauges consul.members.servers "\$e->{Value} == 3" &&
	jcheck $f Gauges consul.memberlist.node.instances "\$e->{Value} == 3" network=lan node_state=alive &&
	jcheck $f Gauges consul.memberlist.health.score "\$e->{Value} >= 0" network=lan &&
	jcheck $f Gauges consul.server.isLeader "\$e->{Value} == (q($leader) eq q(s1) ? 1 : 0)" &&
	jcheck $f Samples consul.memberlist.probeNode "\$e->{Min} >= 0" network=lan &&
	jcheck $f Samples consul.runtime.loop_lag "\$e->{Count} >= 1 && \$e->{Min} >= 0"
'

test_expect_success 'JSON: s2 (disable_hostname false, Prometheus on) puts the hostname into gauge names' '
	poll_until 30 eval "metrics_json s2 && jcheck s2.json Gauges consul.$HOST_JSON.runtime.alloc_bytes \"\\\$e->{Value} > 0\"" &&
	jcheck s2.json Gauges "consul.$HOST_JSON.members.servers" "\$e->{Value} == 3" &&
	! jcheck s2.json Gauges consul.runtime.alloc_bytes 1 2>/dev/null
'

test_expect_success 'Prometheus: 200, text format 0.0.4, Consul names' '
	metrics_prom s1 &&
	test "$(header Content-Type)" = "text/plain; version=0.0.4; charset=utf-8" &&
	test_grep "^# TYPE consul_runtime_alloc_bytes gauge$" s1.prom &&
	test_grep "^# HELP consul_runtime_alloc_bytes " s1.prom &&
	pge s1.prom consul_runtime_sys_bytes 1000000 &&
	pge s1.prom consul_raft_applied_index 5 &&
	test_grep "^# TYPE consul_serf_member_join counter$" s1.prom &&
	pge s1.prom "consul_serf_member_join{network=\"lan\"}" 2 &&
	pge s1.prom "consul_memberlist_node_instances{network=\"lan\",node_state=\"alive\"}" 3 &&
	test_grep "^# TYPE consul_memberlist_probeNode summary$" s1.prom &&
	test_grep "^consul_memberlist_probeNode{network=\"lan\",quantile=\"0.99\"} " s1.prom &&
	pge s1.prom "consul_memberlist_probeNode_count{network=\"lan\"}" 1 &&
	pge s1.prom "consul_api_http_count{method=\"GET\",path=\"v1_kv_\"}" 1 &&
	pge s1.prom process_open_fds 3 &&
	pge s1.prom process_resident_memory_bytes 1000000 &&
	test_grep "^# TYPE process_cpu_seconds_total counter$" s1.prom &&
	! grep "^consul_[a-zA-Z_]*_total[ {]" s1.prom
'

test_expect_success 'Prometheus: the leader counts its election and the writes; followers follow' '
	poll_until 20 eval "metrics_prom $leader && pge $leader.prom consul_raft_leader_lastContact_count 1" &&
	pge $leader.prom consul_raft_state_leader 1 &&
	pge $leader.prom consul_raft_apply 5 &&
	pge $leader.prom consul_raft_commitTime_count 5 &&
	test_grep "^consul_raft_commitTime{quantile=\"0.5\"} " $leader.prom &&
	for f in s1 s2 s3; do
		test "$f" = "$leader" && continue
		metrics_prom $f && pge $f.prom consul_raft_state_follower 1 ||
			return 1
	done
'

test_expect_success 'Prometheus: hostnames are in gauge names unless disabled' '
	metrics_prom s2 &&
	test_grep "^consul_${HOST_PROM}_runtime_alloc_bytes " s2.prom &&
	! grep "^consul_runtime_alloc_bytes " s2.prom &&
	! grep "^consul_${HOST_PROM}_" s1.prom
'

test_expect_success 'Prometheus: a Prometheus Accept header selects it too' '
	api_on s1 GET /v1/agent/metrics -H "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1" &&
	expect_status 200 &&
	test "$(header Content-Type)" = "text/plain; version=0.0.4; charset=utf-8" &&
	api_on s1 GET /v1/agent/metrics -H "Accept: text/plain; version=0.4.0" &&
	test_grep "^# TYPE " out &&
	api_on s1 GET /v1/agent/metrics -H "Accept: text/plain" &&
	test "$(header Content-Type)" = application/json
'

# promtool lints too: Consul's own names break three of its rules
# (camelCase like consul_raft_commitTime, counters without _total, the
# "_ns" of consul_runtime_total_gc_pause_ns), which Consul's output
# shares. Everything else must be clean, and parsing must succeed.
test_expect_success PROMTOOL 'Prometheus: promtool check metrics' '
	for f in s1 s2 $leader; do
		metrics_prom $f &&
		{ promtool check metrics <$f.prom >lint.out 2>&1; rc=$?; } &&
		cat lint.out &&
		case $rc in
		0) ;;
		3) ! grep -v -e "counter metrics should have \"_total\" suffix$" \
			-e "metric names should be written in .snake_case. not .camelCase.$" \
			-e "metric names should not contain abbreviated units$" lint.out ;;
		*) false ;;
		esac || return 1
	done
'

test_expect_success 'bad format: 400 with a message' '
	api_on s1 GET "/v1/agent/metrics?format=xml" &&
	expect_status 400 &&
	test_grep "Invalid format" out
'

test_expect_success 'setup: a dev agent with ACLs and no Prometheus' '
	mkdir acl &&
	cat >acl/auth.hcl <<-EOF &&
	{"acl": {"enabled": true, "default_policy": "deny",
	         "tokens": {"initial_management": "$MASTER"}}}
	EOF
	start_agent a4 -dev -config-dir=acl
'

test_expect_success 'ACL: agent:read is needed' '
	api_on a4 GET /v1/agent/metrics &&
	expect_status 403 &&
	test_grep "^Permission denied" out &&
	api_on a4 GET /v1/agent/metrics -H "X-Consul-Token: $MASTER" &&
	expect_status 200 &&
	json_get out "\$j->{Timestamp}" >/dev/null
'

test_expect_success 'no retention time: 415 with Consul message, no hostname in gauges' '
	api_on a4 GET "/v1/agent/metrics?format=prometheus" -H "X-Consul-Token: $MASTER" &&
	expect_status 415 &&
	printf "Prometheus is not enabled since its retention time is not positive" >expect &&
	test_cmp expect out &&
	poll_until 30 eval "api_on a4 GET /v1/agent/metrics -H \"X-Consul-Token: $MASTER\" && cp out a4.json && jcheck a4.json Gauges consul.runtime.alloc_bytes 1"
'

test_done
