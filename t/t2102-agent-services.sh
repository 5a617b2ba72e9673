#!/bin/sh
test_description='agent services and checks: registration, health checks, maintenance, persistence, CLI, anti-entropy into the catalog'
. ./lib.sh

# Tiny listeners on this script's range (.100 and up), each stopped by
# PID: an HTTP/1.0 responder answering 200 "ok" (also fine for TCP). It
# also exits once this shell is gone, so a failed run leaves nothing.
start_listener () {
	perl -MIO::Socket::INET -e '
		$SIG{PIPE} = "IGNORE";
		my $s = IO::Socket::INET->new(LocalAddr => $ARGV[0],
			LocalPort => $ARGV[1], Listen => 16, ReuseAddr => 1,
			Timeout => 1) or die "listen: $!\n";
		while (kill 0, $ARGV[2]) {
			my $c = $s->accept or next;
			while (defined(my $l = <$c>)) { last if $l =~ /^\r?\n$/ }
			print $c "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
			close $c;
		}' "$2" "$3" "$$" </dev/null >"$TRASH/$1.listener.log" 2>&1 &
	echo $! >"$TRASH/$1.lpid"
	poll_until 5 test_curl -o /dev/null "http://$2:$3/"
}

stop_listener () {
	test -f "$TRASH/$1.lpid" || return 0
	sl_pid_=$(cat "$TRASH/$1.lpid")
	kill "$sl_pid_" 2>/dev/null
	wait_pid "$sl_pid_" 5 >/dev/null 2>&1
	rm -f "$TRASH/$1.lpid"
}

HTTP_IP=$TEST_NET.100
TCP_IP=$TEST_NET.101

# check_is ID STATUS [AGENT]: the agent's /v1/agent/checks has ID with
# STATUS.
check_is () {
	API_ADDR=$(agent_http "${3:-a1}") api GET /v1/agent/checks &&
	expect_status 200 &&
	json_get out "\$j->{\"$1\"}{Status}" >actual.st &&
	echo "$2" >expect.st &&
	test_cmp expect.st actual.st
}

# no_check ID: the check is gone from /v1/agent/checks.
no_check () {
	api GET /v1/agent/checks &&
	json_get out "exists \$j->{\"$1\"} ? 1 : 0" >actual.nc &&
	echo 0 >expect.nc &&
	test_cmp expect.nc actual.nc
}

# health_is KIND X CODE TEXT: /v1/agent/health/service/KIND/X?format=text
health_is () {
	api GET "/v1/agent/health/service/$1/$2?format=text" &&
	expect_status "$3" &&
	expect_body "$4"
}

# expect_error CODE MESSAGE: the last answer was CODE with body MESSAGE.
expect_error () {
	expect_status "$1" &&
	expect_body "$2"
}

# catalog_has SERVICE NODE [AGENT]: /v1/catalog/service/SERVICE lists NODE.
catalog_has () {
	API_ADDR=$(agent_http "${3:-a1}") api GET "/v1/catalog/service/$1" &&
	expect_status 200 &&
	json_get out "join q( ), sort map { \$_->{Node} } @\$j" >actual.cat &&
	echo "$2" >expect.cat &&
	test_cmp expect.cat actual.cat
}

# catalog_check_is NODE CHECK STATUS: /v1/health/node/NODE has CHECK with
# STATUS ("none" when absent).
catalog_check_is () {
	api GET "/v1/health/node/$1" &&
	expect_status 200 &&
	json_get out "my (\$c) = grep { \$_->{CheckID} eq \"$2\" } @\$j; \$c ? \$c->{Status} : q(none)" >actual.cc &&
	echo "$3" >expect.cc &&
	test_cmp expect.cc actual.cc
}

test_expect_success PERL 'setup: listeners, config file with a service and a node check' '
	start_listener web "$HTTP_IP" 8080 &&
	start_listener db "$TCP_IP" 5432 &&
	cat >a1.hcl <<-EOF &&
	service {
	  name = "cfgsvc"
	  port = 9000
	  tags = ["from-config"]
	  enable_tag_override = false
	  check {
	    id = "cfgsvc-ttl"
	    ttl = "30s"
	  }
	}
	check {
	  id = "node-ttl"
	  name = "node ttl"
	  ttl = "60s"
	  status = "passing"
	}
	EOF
	start_agent a1 -server -bootstrap -enable-script-checks \
		-config-file=a1.hcl
'

test_expect_success PERL 'config-file service and checks are loaded' '
	api GET /v1/agent/services &&
	expect_status 200 &&
	json_get out "join q(,), sort keys %\$j" >actual &&
	echo cfgsvc >expect &&
	test_cmp expect actual &&
	json_get out "\$j->{cfgsvc}{Tags}[0] . q( ) . \$j->{cfgsvc}{Port}" >actual &&
	echo "from-config 9000" >expect &&
	test_cmp expect actual &&
	check_is cfgsvc-ttl critical &&
	check_is node-ttl passing
'

test_expect_success PERL 'register a service with an HTTP check: passing' '
	cat >web.json <<-EOF &&
	{"ID": "web1", "Name": "web", "Tags": ["v1", "primary"],
	 "Address": "$HTTP_IP", "Port": 8080, "Meta": {"version": "1"},
	 "Weights": {"Passing": 10, "Warning": 1},
	 "Check": {"HTTP": "http://$HTTP_IP:8080/health",
	           "Interval": "1s", "Timeout": "1s"}}
	EOF
	api PUT /v1/agent/service/register --data-binary @web.json &&
	expect_status 200 &&
	poll_until 10 check_is service:web1 passing
'

test_expect_success PERL 'GET /v1/agent/service/<id>: Consul'"'"'s AgentService shape' '
	api GET /v1/agent/service/web1 &&
	expect_status 200 &&
	json_get out "join q(,), \$j->{ID}, \$j->{Service}, \$j->{Port}, \$j->{Weights}{Passing}, \$j->{Datacenter}, join(q(+), @{\$j->{Tags}})" >actual &&
	echo "web1,web,8080,10,dc1,v1+primary" >expect &&
	test_cmp expect actual &&
	json_get out "\$j->{TaggedAddresses}{lan_ipv4}{Address}" >actual &&
	echo "$HTTP_IP" >expect &&
	test_cmp expect actual &&
	hash=$(header X-Consul-ContentHash) &&
	test -n "$hash" &&
	json_get out "\$j->{ContentHash}" >actual &&
	echo "$hash" >expect &&
	test_cmp expect actual &&
	grep -q "\"EnableTagOverride\":false,\"ContentHash\":" out
'

test_expect_success PERL 'unknown service: 404' '
	api GET /v1/agent/service/nope &&
	expect_error 404 "unknown service ID: nope"
'

test_expect_success PERL 'hash-blocking GET: waits while unchanged, returns on a change' '
	api GET /v1/agent/service/web1 &&
	hash=$(header X-Consul-ContentHash) &&
	t0=$(now_ms) &&
	api GET "/v1/agent/service/web1?hash=$hash&wait=1s" &&
	expect_status 200 &&
	test "$(header X-Consul-ContentHash)" = "$hash" &&
	test $(( $(now_ms) - t0 )) -ge 900 || return 1
	# (a background job cannot sit in an && chain: it would take it all)
	{ sleep 1 && test_curl -X PUT -o /dev/null \
		"$a1_HTTP/v1/agent/service/register" \
		--data-binary "{\"ID\": \"web1\", \"Name\": \"web\", \"Port\": 8081}" \
		>/dev/null 2>&1 ; } &
	bg=$!
	t0=$(now_ms) &&
	api GET "/v1/agent/service/web1?hash=$hash&wait=20s" &&
	wait_pid $bg 10 &&
	expect_status 200 &&
	test "$(header X-Consul-ContentHash)" != "$hash" &&
	test $(( $(now_ms) - t0 )) -lt 10000 &&
	api PUT /v1/agent/service/register --data-binary @web.json &&
	expect_status 200
'

test_expect_success PERL 'TCP and script checks' '
	api PUT /v1/agent/service/register --data-binary "{
		\"Name\": \"db\", \"Port\": 5432,
		\"Checks\": [
			{\"TCP\": \"$TCP_IP:5432\", \"Interval\": \"1s\"},
			{\"Name\": \"warns\", \"Args\": [\"sh\", \"-c\", \"echo degraded; exit 1\"],
			 \"Interval\": \"1s\"}]}" &&
	expect_status 200 &&
	poll_until 10 check_is service:db:1 passing &&
	poll_until 10 check_is service:db:2 warning &&
	api GET /v1/agent/checks &&
	json_get out "\$j->{q(service:db:2)}{Name} . q(|) . \$j->{q(service:db:2)}{Output}" >actual &&
	printf "warns|degraded\n\n" >expect &&
	test_cmp expect actual &&
	health_is name db 429 warning
'

test_expect_success PERL 'health endpoints: 200 passing, JSON shape' '
	health_is id web1 200 passing &&
	api GET /v1/agent/health/service/id/web1 &&
	expect_status 200 &&
	json_get out "\$j->{AggregatedStatus} . q( ) . \$j->{Service}{ID} . q( ) . join(q(,), sort map { \$_->{CheckID} } @{\$j->{Checks}})" >actual &&
	echo "passing web1 node-ttl,service:web1" >expect &&
	test_cmp expect actual &&
	api GET /v1/agent/health/service/name/web &&
	expect_status 200 &&
	json_get out "scalar(@\$j) . q( ) . \$j->[0]{AggregatedStatus}" >actual &&
	echo "1 passing" >expect &&
	test_cmp expect actual
'

test_expect_success PERL 'health endpoints: 404 for unknown id and name' '
	health_is id nope 404 "ServiceId nope not found" &&
	health_is name nope 404 "ServiceName nope Not Found" &&
	api GET /v1/agent/health/service/id/nope &&
	expect_status 404 &&
	json_canon out >actual &&
	echo "{\"AggregatedStatus\":\"critical\",\"Checks\":null,\"Service\":null}" >expect &&
	test_cmp expect actual &&
	api GET /v1/agent/health/service/name/nope &&
	expect_status 404 &&
	expect_body "[]"
'

test_expect_success PERL 'stopping the checked listener makes the HTTP check critical' '
	stop_listener web &&
	poll_until 10 check_is service:web1 critical &&
	health_is id web1 503 critical &&
	health_is name web 503 critical
'

test_expect_success PERL 'restarting the listener makes it passing again' '
	start_listener web "$HTTP_IP" 8080 &&
	poll_until 10 check_is service:web1 passing
'

test_expect_success PERL 'TTL check: critical, pass with a note, warn, fail, update' '
	api PUT /v1/agent/check/register --data-binary "{\"Name\": \"ttl check\", \"ID\": \"ttl1\", \"TTL\": \"2s\", \"ServiceID\": \"web1\"}" &&
	expect_status 200 &&
	check_is ttl1 critical &&
	api PUT "/v1/agent/check/pass/ttl1?note=all+good" &&
	expect_status 200 &&
	check_is ttl1 passing &&
	json_get out "\$j->{ttl1}{Output} . q(|) . \$j->{ttl1}{ServiceName}" >actual &&
	echo "all good|web" >expect &&
	test_cmp expect actual &&
	api PUT /v1/agent/check/warn/ttl1 &&
	check_is ttl1 warning &&
	api PUT /v1/agent/check/fail/ttl1 &&
	check_is ttl1 critical &&
	api PUT /v1/agent/check/update/ttl1 --data-binary "{\"Status\": \"passing\", \"Output\": \"fine\"}" &&
	expect_status 200 &&
	check_is ttl1 passing
'

test_expect_success PERL 'TTL check expires to critical' '
	poll_until 10 check_is ttl1 critical &&
	api GET /v1/agent/checks &&
	json_get out "\$j->{ttl1}{Output}" >actual &&
	grep -i "ttl expired" actual
'

test_expect_success PERL 'service maintenance: on with a reason, off' '
	api PUT "/v1/agent/service/maintenance/web1?enable=true&reason=deploying" &&
	expect_status 200 &&
	check_is "_service_maintenance:web1" critical &&
	api GET /v1/agent/checks &&
	json_get out "\$j->{q(_service_maintenance:web1)}{Notes} . q(|) . \$j->{q(_service_maintenance:web1)}{Name} . q(|) . \$j->{q(_service_maintenance:web1)}{Type}" >actual &&
	echo "deploying|Service Maintenance Mode|maintenance" >expect &&
	test_cmp expect actual &&
	health_is id web1 503 maintenance &&
	api PUT "/v1/agent/service/maintenance/web1?enable=false" &&
	expect_status 200 &&
	no_check "_service_maintenance:web1"
'

test_expect_success PERL 'service maintenance errors' '
	api PUT /v1/agent/service/maintenance/web1 &&
	expect_error 400 "Missing value for enable" &&
	api PUT "/v1/agent/service/maintenance/web1?enable=maybe" &&
	expect_error 400 "Invalid value for enable: \"maybe\"" &&
	api PUT "/v1/agent/service/maintenance/nope?enable=true" &&
	expect_error 404 "Unknown service ID \"nope\". Ensure that the service ID is passed, not the service name."
'

test_expect_success PERL 'node maintenance: default reason, affects every service' '
	api PUT "/v1/agent/maintenance?enable=true" &&
	expect_status 200 &&
	check_is _node_maintenance critical &&
	api GET /v1/agent/checks &&
	json_get out "\$j->{_node_maintenance}{Notes}" >actual &&
	echo "Maintenance mode is enabled for this node, but no reason was provided. This is a default message." >expect &&
	test_cmp expect actual &&
	health_is name db 503 maintenance &&
	api PUT "/v1/agent/maintenance?enable=false" &&
	no_check _node_maintenance
'

test_expect_success PERL 'bad service registrations: 400 with Consul'"'"'s messages' '
	api PUT /v1/agent/service/register --data-binary "{\"Port\": 80}" &&
	expect_error 400 "Missing service name" &&
	api PUT /v1/agent/service/register --data-binary "{\"Name\": \"x\", \"Address\": \"0.0.0.0\"}" &&
	expect_error 400 "Invalid service address" &&
	api PUT /v1/agent/service/register --data-binary "{\"Name\": \"x\", \"Weights\": {\"Passing\": 0, \"Warning\": 1}}" &&
	expect_error 400 "Invalid Weights: Passing must be greater than 0" &&
	api PUT /v1/agent/service/register --data-binary "{\"Name\": \"x\", \"Meta\": {\"consul-x\": \"1\"}}" &&
	expect_error 400 "Invalid Service Meta: Couldn'"'"'t load metadata pair ('"'"'consul-x'"'"', '"'"'1'"'"'): Key prefix '"'"'consul-'"'"' is reserved for internal use" &&
	api PUT /v1/agent/service/register --data-binary "{\"Name\": \"x\", \"Port\": \"80\"}" &&
	expect_error 400 "Request decode failed: json: cannot unmarshal string into Go struct field ServiceDefinition.Port of type int" &&
	api PUT /v1/agent/service/register --data-binary "{\"Name\": " &&
	expect_status 400 &&
	grep "^Request decode failed: " out &&
	api PUT /v1/agent/service/register --data-binary "{\"Name\": \"x\", \"Check\": {\"TTL\": \"5s\", \"Status\": \"bogus\"}}" &&
	expect_error 400 "Status for checks must '"'"'passing'"'"', '"'"'warning'"'"', '"'"'critical'"'"'" &&
	api PUT /v1/agent/service/register --data-binary "{\"Name\": \"x\", \"Check\": {\"HTTP\": \"http://$HTTP_IP:8080/\"}}" &&
	expect_status 400 &&
	grep "^Invalid check: " out &&
	api PUT /v1/agent/service/register --data-binary "{\"Name\": \"x\", \"Check\": {\"TTL\": \"often\"}}" &&
	expect_error 400 "Request decode failed: time: invalid duration \"often\"" &&
	api PUT /v1/agent/service/register --data-binary "{\"Name\": \"x\", \"Prot\": 80}" &&
	expect_error 400 "Request decode failed: json: unknown field \"Prot\"" &&
	api PUT /v1/agent/service/register --data-binary "{\"name\": \"x\", \"Checks\": [{\"FTP\": \"ftp://h/\", \"interval\": \"5s\"}]}" &&
	expect_error 400 "Request decode failed: json: unknown field \"FTP\"" &&
	api GET /v1/agent/services &&
	json_get out "exists \$j->{x} ? 1 : 0" >actual &&
	echo 0 >expect &&
	test_cmp expect actual
'

test_expect_success PERL 'bad check registrations and updates' '
	api PUT /v1/agent/check/register --data-binary "{\"TTL\": \"5s\"}" &&
	expect_error 400 "Missing check name" &&
	api PUT /v1/agent/check/register --data-binary "{\"Name\": \"c\", \"TTL\": \"5s\", \"Status\": \"up\"}" &&
	expect_error 400 "Bad check status" &&
	api PUT /v1/agent/check/register --data-binary "{\"Name\": \"c\", \"TTL\": \"5s\", \"ServiceID\": \"nope\"}" &&
	expect_error 404 "ServiceID \"nope\" does not exist" &&
	api PUT /v1/agent/check/pass/nope &&
	expect_error 404 "Unknown check ID \"nope\". Ensure that the check ID is passed, not the check name." &&
	api PUT /v1/agent/check/update/ttl1 --data-binary "{\"Status\": \"bad\"}" &&
	expect_error 400 "Invalid check status: '"'"'bad'"'"'" &&
	api PUT /v1/agent/check/pass/service:web1 &&
	expect_error 500 "CheckID \"service:web1\" does not have associated TTL" &&
	api GET /v1/agent/service/register &&
	expect_status 405
'

test_expect_success PERL '?filter on services and checks' '
	api GET "/v1/agent/services?filter=Service+%3D%3D+db" &&
	expect_status 200 &&
	json_get out "join q(,), sort keys %\$j" >actual &&
	echo db >expect &&
	test_cmp expect actual &&
	api GET "/v1/agent/checks?filter=ServiceID+%3D%3D+web1" &&
	json_get out "join q(,), sort keys %\$j" >actual &&
	echo service:web1,ttl1 >expect &&
	test_cmp expect actual &&
	api GET "/v1/agent/services?filter=%3D%3D" &&
	expect_status 400 &&
	grep "^Failed to create boolean expression evaluator" out
'

test_expect_success PERL 're-registering keeps check state; replace-existing-checks drops the others' '
	api PUT /v1/agent/service/register --data-binary @web.json &&
	check_is service:web1 passing &&
	check_is ttl1 critical &&
	api PUT "/v1/agent/service/register?replace-existing-checks" --data-binary @web.json &&
	expect_status 200 &&
	no_check ttl1 &&
	check_is service:web1 passing
'

test_expect_success PERL 'CLI: register from flags' '
	proconsul services register -name=flagsvc -port=81 -tag=a -tag=b \
		-meta=k=v -address=10.0.0.9 >actual &&
	echo "Registered service: flagsvc" >expect &&
	test_cmp expect actual &&
	api GET /v1/agent/service/flagsvc &&
	json_get out "join q(,), @{\$j->{Tags}}, \$j->{Meta}{k}, \$j->{Port}, \$j->{Address}" >actual &&
	echo "a,b,v,81,10.0.0.9" >expect &&
	test_cmp expect actual
'

test_expect_success PERL 'CLI: register from an HCL and a JSON file' '
	cat >clisvc.hcl <<-EOF &&
	service {
	  id = "clisvc-1"
	  name = "clisvc"
	  port = 7000
	  check {
	    ttl = "60s"
	  }
	}
	EOF
	echo "{\"service\": {\"name\": \"jsonsvc\", \"tags\": [\"j\"]}}" >jsonsvc.json &&
	proconsul services register -tag=extra clisvc.hcl jsonsvc.json >actual &&
	printf "Registered service: clisvc\nRegistered service: jsonsvc\n" >expect &&
	test_cmp expect actual &&
	api GET /v1/agent/services &&
	json_get out "join q( ), \$j->{q(clisvc-1)}{Port}, @{\$j->{q(clisvc-1)}{Tags}}, @{\$j->{jsonsvc}{Tags}}" >actual &&
	echo "7000 extra j extra" >expect &&
	test_cmp expect actual &&
	check_is service:clisvc-1 critical
'

test_expect_success PERL 'CLI: usage errors' '
	test_expect_code 1 proconsul services register 2>err &&
	test_grep "Service registration requires at least one argument or flags." err &&
	test_expect_code 1 proconsul services register -name=x clisvc.hcl 2>err &&
	test_grep "requires arguments or -id, not both" err &&
	test_expect_code 1 proconsul services deregister 2>err &&
	test_grep "Service deregistration requires at least one argument or -id." err &&
	test_expect_code 2 proconsul services 2>err &&
	test_grep "Subcommands:" err
'

test_expect_success PERL 'CLI: register errors show the API answer' '
	test_expect_code 1 proconsul services register -name=bad -address=0.0.0.0 2>err &&
	echo "Error registering service \"bad\": Unexpected response code: 400 (Invalid service address)" >expect &&
	test_cmp expect err
'

test_expect_success PERL 'CLI: deregister by -id and by file' '
	proconsul services deregister -id=flagsvc >actual &&
	echo "Deregistered service: flagsvc" >expect &&
	test_cmp expect actual &&
	proconsul services deregister jsonsvc.json >actual &&
	echo "Deregistered service: jsonsvc" >expect &&
	test_cmp expect actual &&
	test_expect_code 1 proconsul services deregister -id=flagsvc 2>err &&
	test_grep "Unknown service ID" err
'

test_expect_success PERL 'deregistering a service removes its checks; unknown is 404' '
	api PUT /v1/agent/service/deregister/clisvc-1 &&
	expect_status 200 &&
	no_check service:clisvc-1 &&
	api PUT /v1/agent/service/deregister/clisvc-1 &&
	expect_error 404 "Unknown service ID \"clisvc-1\". Ensure that the service ID is passed, not the service name."
'

# ---- anti-entropy ----

test_expect_success PERL 'catalog: local services reach the catalog' '
	poll_until 20 catalog_has web a1 &&
	poll_until 20 catalog_has db a1 &&
	poll_until 20 catalog_has cfgsvc a1
'

test_expect_success PERL 'catalog: check status follows the local state' '
	poll_until 20 catalog_check_is a1 service:web1 passing &&
	poll_until 20 catalog_check_is a1 service:db:2 warning &&
	stop_listener web &&
	poll_until 20 catalog_check_is a1 service:web1 critical &&
	start_listener web "$HTTP_IP" 8080 &&
	poll_until 20 catalog_check_is a1 service:web1 passing
'

test_expect_success PERL 'catalog: maintenance shows, then goes' '
	api PUT "/v1/agent/service/maintenance/db?enable=true&reason=x" &&
	poll_until 20 catalog_check_is a1 _service_maintenance:db critical &&
	api PUT "/v1/agent/service/maintenance/db?enable=false" &&
	poll_until 20 catalog_check_is a1 _service_maintenance:db none
'

test_expect_success PERL 'catalog: a deregistered service leaves the catalog' '
	api PUT /v1/agent/service/register --data-binary "{\"Name\": \"tmp\", \"Port\": 1}" &&
	poll_until 20 catalog_has tmp a1 &&
	api PUT /v1/agent/service/deregister/tmp &&
	poll_until 20 catalog_has tmp ""
'

test_expect_success PERL 'persistence: API state survives a restart, config state too' '
	api PUT "/v1/agent/service/maintenance/db?enable=true&reason=kept" &&
	api PUT /v1/agent/check/register --data-binary "{\"Name\": \"long ttl\", \"ID\": \"ttl2\", \"TTL\": \"10m\"}" &&
	api PUT "/v1/agent/check/pass/ttl2?note=saved" &&
	test_file_not_empty a1/local-state.json &&
	restart_agent a1 &&
	api GET /v1/agent/services &&
	json_get out "join q(,), sort keys %\$j" >actual &&
	echo cfgsvc,db,web1 >expect &&
	test_cmp expect actual &&
	check_is "_service_maintenance:db" critical &&
	check_is ttl2 passing &&
	api GET /v1/agent/checks &&
	json_get out "\$j->{ttl2}{Output} . q(|) . \$j->{q(_service_maintenance:db)}{Notes}" >actual &&
	echo "saved|kept" >expect &&
	test_cmp expect actual &&
	poll_until 10 check_is service:web1 passing &&
	poll_until 10 check_is service:db:2 warning
'

test_expect_success PERL 'catalog: after a restart, entries of this node that are not local go' '
	api PUT /v1/catalog/register --data-binary "{\"Node\": \"a1\", \"Address\": \"$a1_ADDR\", \"Service\": {\"Service\": \"stray\", \"Port\": 1}}" &&
	expect_status 200 &&
	poll_until 10 catalog_has stray a1 &&
	restart_agent a1 &&
	poll_until 20 catalog_has stray "" &&
	poll_until 20 catalog_has web a1 &&
	poll_until 20 catalog_check_is a1 _service_maintenance:db critical
'

test_expect_success PERL 'client agent: syncs through a server; scripts disabled' '
	start_agent c1 -retry-join="$a1_ADDR" -retry-interval=1s &&
	API_ADDR=$c1_HTTP api PUT /v1/agent/service/register --data-binary "{\"Name\": \"capi\", \"Port\": 3000, \"Check\": {\"TTL\": \"30s\", \"Status\": \"passing\"}}" &&
	expect_status 200 &&
	poll_until 30 catalog_has capi c1 &&
	poll_until 20 catalog_check_is c1 service:capi passing &&
	API_ADDR=$c1_HTTP api PUT /v1/agent/check/register --data-binary "{\"Name\": \"s\", \"Args\": [\"true\"], \"Interval\": \"1s\"}" &&
	expect_status 500 &&
	grep "Scripts are disabled on this agent" out
'

test_expect_success PERL 'reload: config services and checks follow the file' '
	cat >a1.hcl <<-EOF &&
	service {
	  name = "cfgsvc"
	  port = 9001
	  tags = ["from-config"]
	  check {
	    id = "cfgsvc-ttl"
	    ttl = "30s"
	  }
	}
	service {
	  name = "cfgsvc2"
	  port = 9002
	}
	EOF
	api PUT /v1/agent/reload &&
	expect_status 200 &&
	api GET /v1/agent/services &&
	json_get out "join q(,), sort keys %\$j" >actual &&
	echo cfgsvc,cfgsvc2,db,web1 >expect &&
	test_cmp expect actual &&
	json_get out "\$j->{cfgsvc}{Port}" >actual &&
	echo 9001 >expect &&
	test_cmp expect actual &&
	no_check node-ttl &&
	check_is cfgsvc-ttl critical &&
	poll_until 20 catalog_has cfgsvc2 a1 &&
	poll_until 20 catalog_check_is a1 node-ttl none
'

test_expect_success PERL 'reload: an invalid service definition fails the reload' '
	echo "service { port = 1 }" >a1.hcl &&
	api PUT /v1/agent/reload &&
	expect_status 500 &&
	test_grep "Missing service name" out
'

test_expect_success PERL 'cleanup: listeners' '
	stop_listener web &&
	stop_listener db
'

test_done
