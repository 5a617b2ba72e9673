#!/bin/sh
test_description='catalog end to end on three servers and two clients:
serfHealth for every member, agent services with HTTP/TCP/TTL/script checks
synced to every server, health flips (blocking queries, ?passing, DNS),
deregistration, a crashed client, a leader failover, an agent restart'
. ./lib.sh

if ! command -v dig >/dev/null 2>&1; then
	skip_all='dig not installed (scripts/deps.sh installs dnsutils)'
	test_done
fi
if ! test_have_prereq PERL; then
	skip_all='perl with JSON::PP and IO::Socket::INET needed'
	test_done
fi

TEST_SERVERS="s1 s2 s3"
reserve_agents s1 s2 s3 c1 c2

# Gossip that tells a dead member in a few seconds (as in t4003), on
# every agent; c1 also runs script checks.
cat >fast.hcl <<\EOF || test_bail_ "cannot write fast.hcl"
gossip_lan {
  probe_interval = "500ms"
  probe_timeout = "250ms"
  suspicion_mult = 3
}
EOF

# The web instance of c1 is checked against this listener on c1's
# address: an HTTP/1.0 responder answering 200 "ok", stopped by PID.
WEB_PORT=8080
listener_start () {
	perl -MIO::Socket::INET -e '
		$SIG{PIPE} = "IGNORE";
		my $s = IO::Socket::INET->new(LocalAddr => $ARGV[0],
			LocalPort => $ARGV[1], Listen => 16, ReuseAddr => 1)
			or die "listen: $!\n";
		while (my $c = $s->accept) {
			while (defined(my $l = <$c>)) { last if $l =~ /^\r?\n$/ }
			print $c "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
			close $c;
		}' "$c1_ADDR" "$WEB_PORT" </dev/null >>"$TRASH/listener.log" 2>&1 &
	listener_pid=$!
	poll_until 5 test_curl -o /dev/null "http://$c1_ADDR:$WEB_PORT/"
}

listener_stop () {
	test -n "$listener_pid" || return 0
	kill "$listener_pid" 2>/dev/null
	wait_pid "$listener_pid" 5 >/dev/null 2>&1
	listener_pid=
}

# servers: the servers still running, space separated.
servers () {
	running_agents s1 s2 s3
}

# each SECONDS "AGENTS" CMD ARGS...: poll_until SECONDS CMD AGENT ARGS...
# for every AGENT in turn.
each () {
	ea_secs_=$1
	ea_list_=$2
	ea_cmd_=$3
	shift 3
	for ea_a_ in $ea_list_; do
		poll_until "$ea_secs_" "$ea_cmd_" "$ea_a_" "$@" || return 1
	done
}

# nodes_are AGENT PATH NODE...: GET PATH on AGENT answers 200 with a list
# whose entries name exactly the NODEs, sorted (a catalog entry's Node is
# its name, a health entry's Node an object).
nodes_are () {
	na_on_=$1
	na_path_=$2
	shift 2
	api_on "$na_on_" GET "$na_path_" &&
	expect_status 200 &&
	json_get out 'join " ", sort map {
		ref $_->{Node} ? $_->{Node}{Node} : $_->{Node} } @$j' >actual.nodes &&
	echo "$*" >expect.nodes &&
	test_cmp expect.nodes actual.nodes
}

# check_is AGENT NODE CHECK STATUS: /v1/health/node/NODE?stale on AGENT
# (its own copy) has CHECK with STATUS ("none" when absent).
check_is () {
	api_on "$1" GET "/v1/health/node/$2?stale" &&
	expect_status 200 &&
	json_get out "my (\$c) = grep { \$_->{CheckID} eq q($3) } @\$j;
		\$c ? \$c->{Status} : q(none)" >actual.check &&
	echo "$4" >expect.check &&
	test_cmp expect.check actual.check
}

# agent_check_is AGENT CHECK STATUS: the agent's own /v1/agent/checks.
agent_check_is () {
	api_on "$1" GET /v1/agent/checks &&
	expect_status 200 &&
	json_get out "exists \$j->{q($2)} ? \$j->{q($2)}{Status} : q(none)" \
		>actual.check &&
	echo "$3" >expect.check &&
	test_cmp expect.check actual.check
}

# srv_is SERVER LINE...: dig web.service.consul SRV at SERVER:8600, +short,
# sorted, is exactly the LINEs (none: NXDOMAIN).
srv_is () {
	si_ip_=$(agent_addr "$1")
	shift
	dig @"$si_ip_" -p 8600 +time=3 +tries=1 web.service.consul SRV \
		>dig.out 2>&1 || {
		echo >&9 "dig failed"
		cat >&9 dig.out
		return 1
	}
	if test $# = 0; then
		test_grep "status: NXDOMAIN," dig.out
		return
	fi
	test_grep "status: NOERROR," dig.out &&
	awk '/^;; ANSWER SECTION:/ { a = 1; next } /^$/ { a = 0 }
		a { print $5, $6, $7, $8 }' dig.out | sort >actual.srv &&
	printf '%s\n' "$@" >expect.srv &&
	test_cmp expect.srv actual.srv
}

SRV_C1="1 1 $WEB_PORT c1.node.dc1.consul."
SRV_C2="1 1 8081 c2.node.dc1.consul."

# expect_error CODE PREFIX: the last answer was CODE, its body starting
# with PREFIX.
expect_error () {
	expect_status "$1" &&
	head -c ${#2} out >err.actual &&
	printf '%s' "$2" >err.expect &&
	test_cmp err.expect err.actual
}

# ---------------------------------------------------------------------

test_expect_success 'setup: three servers (-bootstrap-expect=3), two clients' '
	formation_t0=$(now_ms) &&
	start_servers -bootstrap-expect=3 -config-file="$TRASH/fast.hcl" &&
	TEST_AGENT_WAIT=http start_agent c1 -retry-interval=1s \
		$(retry_join_flags s1 s2 s3) -config-file="$TRASH/fast.hcl" \
		-hcl "enable_script_checks = true" &&
	TEST_AGENT_WAIT=http start_agent c2 -retry-interval=1s \
		$(retry_join_flags s1 s2 s3) -config-file="$TRASH/fast.hcl"
'

test_expect_success 'one leader, named by every agent' '
	wait_leader 40 s1 s2 s3 c1 c2 &&
	formation_ms=$(( $(now_ms) - formation_t0 )) &&
	test_set_prereq CLUSTER
'
test -n "$formation_ms" && echo "# leader $leader ${formation_ms} ms after the first start"

test_expect_success CLUSTER 'every agent is a catalog node, on every server' '
	each 30 "s1 s2 s3" nodes_are /v1/catalog/nodes?stale c1 c2 s1 s2 s3 &&
	members_ms=$(( $(now_ms) - formation_t0 )) &&
	api_on c2 GET /v1/catalog/nodes &&
	expect_status 200 &&
	json_get out "join q( ), map { \"\$_->{Node}=\$_->{Address}\" }
		sort { \$a->{Node} cmp \$b->{Node} } @\$j" >actual &&
	echo "c1=$c1_ADDR c2=$c2_ADDR s1=$s1_ADDR s2=$s2_ADDR s3=$s3_ADDR" >expect &&
	test_cmp expect actual
'
test -n "$members_ms" && echo "# every member a catalog node ${members_ms} ms after the first start"

test_expect_success CLUSTER 'each node has a passing serfHealth check (/v1/health/node)' '
	for n in c1 c2 s1 s2 s3; do
		each 20 "s1 s2 s3" check_is $n serfHealth passing || return 1
	done &&
	api_on c1 GET /v1/health/node/c2 &&
	expect_status 200 &&
	json_get out "my (\$c) = grep { \$_->{CheckID} eq q(serfHealth) } @\$j;
		join q(|), map { \$c->{\$_} } qw(Node CheckID Name Status Output
		ServiceID)" >actual &&
	echo "c2|serfHealth|Serf Health Status|passing|Agent alive and reachable|" >expect &&
	test_cmp expect actual
'

test_expect_success CLUSTER 'setup: the HTTP listener on c1' '
	listener_start
'

test_expect_success CLUSTER 'c1 registers web with HTTP, TCP, TTL and script checks' '
	cat >web-c1.json <<-EOF &&
	{"ID": "web", "Name": "web", "Port": $WEB_PORT, "Tags": ["c1"],
	 "Checks": [
	  {"CheckID": "web-http", "Name": "web http",
	   "HTTP": "http://$c1_ADDR:$WEB_PORT/health",
	   "Interval": "1s", "Timeout": "1s"},
	  {"CheckID": "web-tcp", "Name": "web tcp",
	   "TCP": "$c1_ADDR:8500", "Interval": "1s"},
	  {"CheckID": "web-ttl", "Name": "web ttl", "TTL": "10m"},
	  {"CheckID": "web-script", "Name": "web script",
	   "Args": ["sh", "-c", "echo script ok"], "Interval": "1s"}]}
	EOF
	api_on c1 PUT /v1/agent/service/register --data-binary @web-c1.json &&
	expect_status 200 &&
	agent_check_is c1 web-ttl critical &&
	api_on c1 PUT "/v1/agent/check/pass/web-ttl?note=alive" &&
	expect_status 200 &&
	agent_check_is c1 web-ttl passing &&
	poll_until 15 agent_check_is c1 web-http passing &&
	poll_until 15 agent_check_is c1 web-tcp passing &&
	poll_until 15 agent_check_is c1 web-script passing
'

test_expect_success CLUSTER 'c2 registers another web instance and db' '
	api_on c2 PUT /v1/agent/service/register --data-binary "{
		\"ID\": \"web\", \"Name\": \"web\", \"Port\": 8081, \"Tags\": [\"c2\"],
		\"Check\": {\"CheckID\": \"web-tcp\", \"TCP\": \"$c2_ADDR:8500\",
			\"Interval\": \"1s\"}}" &&
	expect_status 200 &&
	api_on c2 PUT /v1/agent/service/register --data-binary "{
		\"ID\": \"db\", \"Name\": \"db\", \"Port\": 5432,
		\"Check\": {\"CheckID\": \"db-ttl\", \"TTL\": \"10m\",
			\"Status\": \"passing\"}}" &&
	expect_status 200 &&
	reg_t0=$(now_ms) &&
	poll_until 15 agent_check_is c2 web-tcp passing
'

test_expect_success CLUSTER 'every server: catalog/service lists both web instances and db' '
	each 20 "s1 s2 s3" nodes_are "/v1/catalog/service/db?stale" c2 &&
	sync_ms=$(( $(now_ms) - reg_t0 )) &&
	each 20 "s1 s2 s3" nodes_are "/v1/catalog/service/web?stale" c1 c2 &&
	api_on s1 GET /v1/catalog/service/web &&
	json_get out "join q( ), map { join q(:), \$_->{Node}, \$_->{ServiceID},
		\$_->{ServicePort}, \$_->{ServiceTags}[0], \$_->{Address} }
		sort { \$a->{Node} cmp \$b->{Node} } @\$j" >actual &&
	echo "c1:web:$WEB_PORT:c1:$c1_ADDR c2:web:8081:c2:$c2_ADDR" >expect &&
	test_cmp expect actual
'
test -n "$sync_ms" && echo "# db in every server's catalog ${sync_ms} ms after its registration on c2"

test_expect_success CLUSTER 'every server: the checks of c1 with their status and output' '
	for c in web-http web-tcp web-ttl web-script; do
		each 20 "s1 s2 s3" check_is c1 $c passing || return 1
	done &&
	api_on s2 GET /v1/health/checks/web &&
	expect_status 200 &&
	json_get out "join q(,), sort map { \"\$_->{Node}/\$_->{CheckID}\" } @\$j" >actual &&
	echo "c1/web-http,c1/web-script,c1/web-tcp,c1/web-ttl,c2/web-tcp" >expect &&
	test_cmp expect actual &&
	api_on s3 GET /v1/health/node/c1 &&
	json_get out "my %o = map { \$_->{CheckID} => \$_ } @\$j;
		join q(|), \$o{q(web-ttl)}{Output}, \$o{q(web-script)}{Output},
		\$o{q(web-http)}{ServiceName}, \$o{q(web-http)}{Type},
		\$o{q(web-tcp)}{Type}, \$o{q(web-ttl)}{Type}" >actual &&
	printf "alive|script ok\n|web|http|tcp|ttl\n" >expect &&
	test_cmp expect actual
'

test_expect_success CLUSTER 'every server: health/service/web?passing lists both' '
	each 20 "s1 s2 s3" nodes_are "/v1/health/service/web?passing&stale" c1 c2 &&
	api_on c2 GET "/v1/health/service/web?passing" &&
	json_get out "join q( ), map { \$_->{Node}{Node} . q(:) . scalar(@{\$_->{Checks}}) }
		sort { \$a->{Node}{Node} cmp \$b->{Node}{Node} } @\$j" >actual &&
	echo "c1:5 c2:2" >expect &&
	test_cmp expect actual
'

test_expect_success CLUSTER 'DNS on every server: web SRV has both, c1.node.consul A' '
	each 20 "s1 s2 s3" srv_is "$SRV_C1" "$SRV_C2" &&
	for s in s1 s2 s3; do
		dig @"$(agent_addr $s)" -p 8600 +time=3 +tries=1 +short \
			c1.node.consul A >dig.out &&
		echo "$c1_ADDR" >expect &&
		test_cmp expect dig.out || return 1
	done
'

# A blocking query on web, and one on db, both waiting before the flip.
test_expect_success CLUSTER 'listener stopped: a blocking query on web returns with the flip, one on db keeps waiting' '
	api_on s1 GET /v1/health/service/web &&
	expect_status 200 &&
	idx_web=$(header X-Consul-Index) &&
	api_on s1 GET /v1/health/service/db &&
	expect_status 200 &&
	idx_db=$(header X-Consul-Index) &&
	test -n "$idx_web" && test -n "$idx_db" &&
	bq_t0=$(now_ms) &&
	{ test_curl -m 40 -o bq-web.out -D bq-web.hdr -w "%{http_code} %{time_total}\n" \
		"$s1_HTTP/v1/health/service/web?index=$idx_web&wait=30s" \
		>bq-web.status 2>bq-web.err & } &&
	bq_web=$! &&
	{ test_curl -m 40 -o bq-db.out -w "%{http_code} %{time_total}\n" \
		"$s1_HTTP/v1/health/service/db?index=$idx_db&wait=30s" \
		>bq-db.status 2>bq-db.err & } &&
	bq_db=$! &&
	test_when_finished "kill $bq_web $bq_db 2>/dev/null;
		wait_pid $bq_web 5; wait_pid $bq_db 5; :" &&
	sleep 1 &&
	pid_alive $bq_web &&
	pid_alive $bq_db &&
	flip_t0=$(now_ms) &&
	listener_stop &&
	wait_pid $bq_web 20 &&
	read code secs <bq-web.status &&
	test "$code" = 200 &&
	test "$(header X-Consul-Index bq-web.hdr)" -gt "$idx_web" &&
	flip_ms=$(perl -e "print int($bq_t0 + $secs * 1000 - $flip_t0)") &&
	echo "web blocking query returned $flip_ms ms after the listener stopped" &&
	json_get bq-web.out "my (\$e) = grep { \$_->{Node}{Node} eq q(c1) } @\$j;
		my (\$c) = grep { \$_->{CheckID} eq q(web-http) } @{\$e->{Checks}};
		\$c->{Status}" >actual &&
	echo critical >expect &&
	test_cmp expect actual &&
	pid_alive $bq_db
'
test -n "$flip_ms" && echo "# blocking query on web returned ${flip_ms} ms after the listener stopped"

test_expect_success CLUSTER 'web on c1 critical: ?passing drops it on every server' '
	each 15 "s1 s2 s3" nodes_are "/v1/health/service/web?passing&stale" c2 &&
	each 5 "s1 s2 s3" check_is c1 web-http critical &&
	each 5 "s1 s2 s3" check_is c1 web-tcp passing &&
	nodes_are c1 "/v1/health/service/web" c1 c2 &&
	nodes_are c1 "/v1/health/service/db?passing" c2
'

test_expect_success CLUSTER 'DNS follows health: only c2 in web SRV' '
	each 15 "s1 s2 s3" srv_is "$SRV_C2"
'

test_expect_success CLUSTER 'listener back: web on c1 passing again, DNS has both' '
	listener_start &&
	each 20 "s1 s2 s3" nodes_are "/v1/health/service/web?passing&stale" c1 c2 &&
	each 15 "s1 s2 s3" srv_is "$SRV_C1" "$SRV_C2"
'

test_expect_success CLUSTER 'deregister web on c1: gone from every server, c2 keeps its own' '
	api_on c1 PUT /v1/agent/service/deregister/web &&
	expect_status 200 &&
	listener_stop &&
	each 20 "s1 s2 s3" nodes_are "/v1/catalog/service/web?stale" c2 &&
	each 5 "s1 s2 s3" check_is c1 web-http none &&
	each 5 "s1 s2 s3" check_is c1 web-ttl none &&
	each 5 "s1 s2 s3" check_is c1 serfHealth passing &&
	each 15 "s1 s2 s3" srv_is "$SRV_C2"
'

# Consul decodes a registration strictly (unknown fields are errors,
# durations parsed while decoding: "Request decode failed: ..."), then
# validates the check ("Invalid check: ...").
test_expect_success CLUSTER 'bad registration: no Name, 400 Missing service name' '
	api_on c1 PUT /v1/agent/service/register --data-binary "{\"Port\": 80}" &&
	expect_error 400 "Missing service name"
'

test_expect_success CLUSTER 'bad registration: an unparsable Interval, 400 decode failed' '
	api_on c1 PUT /v1/agent/service/register --data-binary "{\"Name\": \"bad1\",
		\"Check\": {\"HTTP\": \"http://$c1_ADDR:1/\", \"Interval\": \"often\"}}" &&
	expect_error 400 "Request decode failed: time: invalid duration \"often\"" &&
	api_on c1 PUT /v1/agent/check/register --data-binary "{\"Name\": \"bad1\",
		\"TCP\": \"$c1_ADDR:1\", \"Interval\": \"often\"}" &&
	expect_error 400 "Request decode failed: time: invalid duration \"often\""
'

test_expect_success CLUSTER 'bad registration: a zero Interval, 400 Invalid check' '
	api_on c1 PUT /v1/agent/service/register --data-binary "{\"Name\": \"bad2\",
		\"Check\": {\"HTTP\": \"http://$c1_ADDR:1/\", \"Interval\": \"0s\"}}" &&
	expect_error 400 "Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks"
'

test_expect_success CLUSTER 'bad registration: an unknown check type, 400 unknown field' '
	api_on c1 PUT /v1/agent/service/register --data-binary "{\"Name\": \"bad3\",
		\"Check\": {\"FTP\": \"ftp://$c1_ADDR/\", \"Interval\": \"5s\"}}" &&
	expect_error 400 "Request decode failed: json: unknown field \"FTP\""
'

test_expect_success CLUSTER 'bad registration: a check of no type, 400 Invalid check' '
	api_on c1 PUT /v1/agent/service/register --data-binary "{\"Name\": \"bad4\",
		\"Check\": {\"Interval\": \"5s\"}}" &&
	expect_error 400 "Invalid check: TTL must be > 0 for TTL checks" &&
	api_on c1 PUT /v1/agent/check/register --data-binary "{\"Name\": \"bad4\",
		\"Interval\": \"5s\"}" &&
	expect_error 400 "Invalid check: TTL must be > 0 for TTL checks"
'

test_expect_success CLUSTER 'the bad registrations left nothing, locally or in the catalog' '
	api_on c1 GET /v1/agent/services &&
	expect_status 200 &&
	json_get out "join q(,), sort keys %\$j" >actual &&
	echo >expect &&
	test_cmp expect actual &&
	api_on c1 GET /v1/agent/checks &&
	json_get out "join q(,), sort keys %\$j" >actual &&
	test_cmp expect actual &&
	api_on c1 GET /v1/catalog/node/c1 &&
	expect_status 200 &&
	json_get out "join q(,), sort keys %{\$j->{Services}}" >actual &&
	test_cmp expect actual
'

test_expect_success CLUSTER 'kill -9 of c2: its serfHealth critical on every server' '
	kill9 c2 &&
	c2_t0=$(now_ms) &&
	each 20 "s1 s2 s3" check_is c2 serfHealth critical &&
	c2_ms=$(( $(now_ms) - c2_t0 )) &&
	api_on s1 GET /v1/health/node/c2 &&
	json_get out "my (\$c) = grep { \$_->{CheckID} eq q(serfHealth) } @\$j;
		\$c->{Output}" >actual &&
	echo "Agent not live or unreachable" >expect &&
	test_cmp expect actual
'
test -n "$c2_ms" && echo "# c2 serfHealth critical ${c2_ms} ms after kill -9"

test_expect_success CLUSTER 'the dead node stays in the catalog, its services drop out of ?passing and DNS' '
	each 5 "s1 s2 s3" nodes_are "/v1/catalog/service/db?stale" c2 &&
	each 10 "s1 s2 s3" nodes_are "/v1/health/service/db?passing&stale" &&
	each 10 "s1 s2 s3" nodes_are "/v1/health/service/web?passing&stale" &&
	each 10 "s1 s2 s3" srv_is
'

test_expect_success CLUSTER 'kill -9 of the leader: a new leader' '
	old_leader=$leader &&
	kill9 "$old_leader" &&
	failover_t0=$(now_ms) &&
	wait_new_leader 30 "$old_leader" $(servers) c1 &&
	failover_ms=$(( $(now_ms) - failover_t0 ))
'
test -n "$failover_ms" && echo "# $leader leads ${failover_ms} ms after kill -9 of $old_leader"

test_expect_success CLUSTER 'after the failover, a service registered on c1 reaches every server' '
	echo "{\"ID\": \"api\", \"Name\": \"api\", \"Port\": 9000,
		\"Check\": {\"CheckID\": \"api-ttl\", \"TTL\": \"10m\",
		\"Status\": \"passing\"}}" >api.json &&
	poll_until 20 eval "api_on c1 PUT /v1/agent/service/register \
		--data-binary @api.json && expect_status 200" &&
	each 20 "$(servers)" nodes_are "/v1/catalog/service/api?stale" c1 &&
	each 10 "$(servers)" nodes_are "/v1/health/service/api?passing&stale" c1 &&
	each 15 "$(servers)" check_is "$old_leader" serfHealth critical
'

test_expect_success CLUSTER 'the old leader restarts, catches up, its serfHealth passing again' '
	relaunch_agent "$old_leader" &&
	poll_until 30 nodes_are "$old_leader" "/v1/catalog/service/api?stale" c1 &&
	each 20 "s1 s2 s3" check_is "$old_leader" serfHealth passing &&
	wait_leader 20 s1 s2 s3
'

test_expect_success CLUSTER 'c1 restarted (SIGTERM): its API services come back, everywhere' '
	stop_agent c1 TERM &&
	relaunch_agent c1 &&
	api_on c1 GET /v1/agent/services &&
	expect_status 200 &&
	json_get out "join q(,), sort keys %\$j" >actual &&
	echo api >expect &&
	test_cmp expect actual &&
	agent_check_is c1 api-ttl passing &&
	each 30 "s1 s2 s3" nodes_are "/v1/health/service/api?passing&stale" c1 &&
	each 10 "s1 s2 s3" check_is c1 serfHealth passing
'

test_expect_success CLUSTER 'and they stay in the catalog' '
	sleep 3 &&
	for s in s1 s2 s3; do
		nodes_are $s "/v1/health/service/api?passing&stale" c1 &&
		nodes_are $s "/v1/catalog/nodes?stale" c1 c2 s1 s2 s3 || return 1
	done
'

test_expect_success 'SIGTERM: every agent still running exits 0' '
	listener_stop &&
	stop_agents TERM $(running_agents s1 s2 s3 c1 c2)
'

test_done
