#!/bin/sh
test_description='catalog and health HTTP API: register/deregister, shapes,
?filter, ?tag, ?node-meta, ?passing, blocking on the right index, 400s'
. ./lib.sh

test_expect_success 'setup: one dev agent' '
	start_agent a1 -dev
'

# reg JSON / dereg JSON: PUT /v1/catalog/(de)register, answered 200 true.
reg () {
	api PUT /v1/catalog/register --data-binary "$1" &&
	expect_status 200 &&
	json_canon out >reg.actual &&
	echo true >reg.expect &&
	test_cmp reg.expect reg.actual
}

dereg () {
	api PUT /v1/catalog/deregister --data-binary "$1" &&
	expect_status 200 &&
	json_canon out >reg.actual &&
	echo true >reg.expect &&
	test_cmp reg.expect reg.actual
}

# get PATH [FILTER]: GET PATH (with ?filter=FILTER, URL-encoded), 200.
get () {
	if test $# -ge 2; then
		api GET "$1" -G --data-urlencode "filter=$2"
	else
		api GET "$1"
	fi &&
	expect_status 200
}

# is EXPECTED PERL: json_get out PERL prints exactly EXPECTED.
is () {
	echo "$1" >is.expect &&
	json_get out "$2" >is.actual &&
	test_cmp is.expect is.actual
}

# The test's own nodes (n1..n9) of a node list, sorted, comma-separated.
nodes_in () {
	json_get out 'join ",", sort grep { /^n[0-9]$/ } map { $_->{Node} } @$j'
}

# Sorted, comma-separated values of FIELD of the elements of the list.
field_in () {
	json_get out "join ',', sort map { \$_->{$1} } @\$j"
}

# pick EXPR WANT: the object EXPR (Perl, $j = the body in ./out),
# restricted to the keys of the JSON object WANT, equals WANT.
pick () {
	perl -MJSON::PP -e '
		my ($f, $expr, $want) = @ARGV;
		open my $fh, "<", $f or die "$f: $!\n";
		my $j = JSON::PP->new->allow_nonref->decode(do { local $/; <$fh> });
		my $o = eval $expr;
		die "pick: $@" if $@;
		my $w = JSON::PP->new->decode($want);
		my $c = JSON::PP->new->canonical->allow_nonref;
		my $got = ref $o eq "HASH"
			? { map { $_ => $o->{$_} } grep { exists $o->{$_} } keys %$w }
			: $o;
		my ($g, $e) = ($c->encode($got), $c->encode($w));
		exit 0 if $g eq $e;
		print STDERR "pick: got  $g\npick: want $e\n";
		exit 1;
	' out "$1" "$2" 2>&9
}

DECODE="Request decode failed: json: cannot unmarshal"
GO_TYPE="into Go value of type structs"

# expect_error CODE TEXT: the last answer was CODE with a body starting
# with TEXT.
expect_error () {
	expect_status "$1" &&
	head -c ${#2} out >err.actual &&
	printf "%s" "$2" >err.expect &&
	test_cmp err.expect err.actual
}

N1='{"Node":"n1","Address":"10.0.0.1",
 "TaggedAddresses":{"lan":"10.0.0.1","wan":"198.18.0.1"},
 "NodeMeta":{"env":"prod","rack":"r1"},
 "Service":{"ID":"web1","Service":"web","Tags":["v1","Primary"],"Port":80,
  "Meta":{"version":"1"}},
 "Check":{"CheckID":"web1-check","Name":"web1 http","Status":"passing",
  "ServiceID":"web1"}}'
N1_CACHE='{"Node":"n1","Address":"10.0.0.1",
 "TaggedAddresses":{"lan":"10.0.0.1","wan":"198.18.0.1"},
 "NodeMeta":{"env":"prod","rack":"r1"},
 "Service":{"ID":"cache1","Service":"cache","Port":6379}}'
N2='{"Node":"n2","Address":"10.0.0.2","NodeMeta":{"env":"dev"},
 "Service":{"ID":"web2","Service":"web","Tags":["v2"],"Port":81},
 "Checks":[{"CheckID":"n2-alive","Name":"alive","Status":"passing"},
  {"CheckID":"web2-check","Name":"web2 http","Status":"critical",
   "ServiceID":"web2"}]}'
N3='{"Node":"n3","Address":"10.0.0.3",
 "Service":{"Service":"db","Tags":["primary"],"Port":5432}}'

test_expect_success 'register three nodes, their services and checks' '
	reg "$N1" &&
	reg "$N1_CACHE" &&
	reg "$N2" &&
	reg "$N3"
'

test_expect_success 'catalog/datacenters: ["dc1"]' '
	get /v1/catalog/datacenters &&
	is "[\"dc1\"]" "\$j"
'

# ---- catalog/nodes ----

test_expect_success 'catalog/nodes lists the nodes with Consul fields' '
	get /v1/catalog/nodes &&
	nodes_in >actual &&
	echo n1,n2,n3 >expect &&
	test_cmp expect actual &&
	pick "(grep { \$_->{Node} eq q(n1) } @\$j)[0]" "{\"Node\":\"n1\",
		\"Address\":\"10.0.0.1\",\"Datacenter\":\"dc1\",
		\"TaggedAddresses\":{\"lan\":\"10.0.0.1\",\"wan\":\"198.18.0.1\"},
		\"Meta\":{\"env\":\"prod\",\"rack\":\"r1\"}}" &&
	is "ID,Address,Datacenter,TaggedAddresses,Meta,CreateIndex,ModifyIndex" \
		"my (\$n) = grep { \$_->{Node} eq q(n1) } @\$j;
		 join q(,), grep { exists \$n->{\$_} } qw(ID Address Datacenter
		 TaggedAddresses Meta CreateIndex ModifyIndex)"
'

test_expect_success 'catalog/nodes: X-Consul-Index covers every ModifyIndex' '
	idx=$(header X-Consul-Index) &&
	max=$(json_get out "my \$m = 0; \$m < \$_->{ModifyIndex} and
		\$m = \$_->{ModifyIndex} for @\$j; \$m") &&
	test "$idx" -ge "$max" &&
	test "$max" -ge 1
'

test_expect_success 'catalog/nodes ?node-meta, repeatable (AND)' '
	get "/v1/catalog/nodes?node-meta=env:prod" &&
	nodes_in >actual && echo n1 >expect && test_cmp expect actual &&
	get "/v1/catalog/nodes?node-meta=env:prod&node-meta=rack:r1" &&
	nodes_in >actual && test_cmp expect actual &&
	get "/v1/catalog/nodes?node-meta=env:prod&node-meta=rack:r2" &&
	nodes_in >actual && echo >expect && test_cmp expect actual &&
	get "/v1/catalog/nodes?node-meta=env" &&
	nodes_in >actual && test_cmp expect actual
'

test_expect_success 'catalog/nodes ?filter' '
	get /v1/catalog/nodes "Meta.env == \"dev\"" &&
	nodes_in >actual && echo n2 >expect && test_cmp expect actual &&
	get /v1/catalog/nodes "Address matches \"^10.0.0.[13]\$\"" &&
	nodes_in >actual && echo n1,n3 >expect && test_cmp expect actual
'

test_expect_success 'catalog/nodes ?stale and ?consistent answer too' '
	get "/v1/catalog/nodes?stale" &&
	nodes_in >actual && echo n1,n2,n3 >expect && test_cmp expect actual &&
	get "/v1/catalog/nodes?consistent" &&
	nodes_in >actual && test_cmp expect actual &&
	header X-Consul-Effective-Consistency >actual &&
	echo consistent >expect && test_cmp expect actual
'

# ---- catalog/services ----

test_expect_success 'catalog/services: name -> sorted unique tags' '
	get /v1/catalog/services &&
	is "{\"cache\":[],\"db\":[\"primary\"],\"web\":[\"Primary\",\"v1\",\"v2\"]}" \
		"+{ map { \$_ => \$j->{\$_} } grep { /^(web|db|cache)\$/ } keys %\$j }"
'

test_expect_success 'catalog/services ?node-meta keeps the matching instances' '
	get "/v1/catalog/services?node-meta=env:dev" &&
	is "{\"web\":[\"v2\"]}" \
		"+{ map { \$_ => \$j->{\$_} } grep { /^(web|db|cache)\$/ } keys %\$j }"
'

test_expect_success 'catalog/services ?filter runs on the instances' '
	get /v1/catalog/services "\"primary\" in ServiceTags" &&
	is "{\"db\":[\"primary\"]}" "\$j" &&
	get /v1/catalog/services "ServicePort == 80" &&
	is "{\"web\":[\"Primary\",\"v1\"]}" "\$j"
'

# ---- catalog/service/<s> ----

test_expect_success 'catalog/service/web: one ServiceNode per instance' '
	get /v1/catalog/service/web &&
	is "n1,n2" "join q(,), map { \$_->{Node} } @\$j" &&
	pick "\$j->[0]" "{\"Node\":\"n1\",\"Address\":\"10.0.0.1\",
		\"Datacenter\":\"dc1\",
		\"TaggedAddresses\":{\"lan\":\"10.0.0.1\",\"wan\":\"198.18.0.1\"},
		\"NodeMeta\":{\"env\":\"prod\",\"rack\":\"r1\"},
		\"ServiceID\":\"web1\",\"ServiceName\":\"web\",
		\"ServiceTags\":[\"v1\",\"Primary\"],\"ServiceAddress\":\"\",
		\"ServiceMeta\":{\"version\":\"1\"},\"ServicePort\":80,
		\"ServiceEnableTagOverride\":false,\"ServiceKind\":\"\",
		\"ServiceWeights\":{\"Passing\":1,\"Warning\":1}}" &&
	is 1 "\$j->[0]{CreateIndex} >= 1 && \$j->[0]{ModifyIndex} >= 1 ? 1 : 0"
'

test_expect_success 'catalog/service: X-Consul-Index >= the instances indexes' '
	idx=$(header X-Consul-Index) &&
	max=$(json_get out "my \$m = 0; \$m < \$_->{ModifyIndex} and
		\$m = \$_->{ModifyIndex} for @\$j; \$m") &&
	test "$idx" -ge "$max"
'

test_expect_success 'catalog/service ?tag: case-insensitive, repeatable (AND)' '
	get "/v1/catalog/service/web?tag=v1" &&
	is n1 "join q(,), map { \$_->{Node} } @\$j" &&
	get "/v1/catalog/service/web?tag=primary" &&
	is n1 "join q(,), map { \$_->{Node} } @\$j" &&
	get "/v1/catalog/service/web?tag=V1&tag=primary" &&
	is n1 "join q(,), map { \$_->{Node} } @\$j" &&
	get "/v1/catalog/service/web?tag=v1&tag=v2" &&
	is "[]" "\$j"
'

test_expect_success 'catalog/service ?node-meta and ?filter' '
	get "/v1/catalog/service/web?node-meta=env:dev" &&
	is n2 "join q(,), map { \$_->{Node} } @\$j" &&
	get /v1/catalog/service/web "ServicePort == 81" &&
	is n2 "join q(,), map { \$_->{Node} } @\$j" &&
	get /v1/catalog/service/web "ServiceMeta.version == \"1\"" &&
	is n1 "join q(,), map { \$_->{Node} } @\$j"
'

test_expect_success 'catalog/service: an unknown service is []' '
	get /v1/catalog/service/nosuch &&
	is "[]" "\$j" &&
	test "$(header X-Consul-Index)" -ge 1
'

test_expect_success 'catalog/service: ?near is accepted and ignored' '
	get "/v1/catalog/service/web?near=_agent" &&
	is n1,n2 "join q(,), map { \$_->{Node} } @\$j"
'

# ---- catalog/node/<n>, catalog/node-services/<n> ----

test_expect_success 'catalog/node/n1: the node and a map of its services' '
	get /v1/catalog/node/n1 &&
	pick "\$j->{Node}" "{\"Node\":\"n1\",\"Address\":\"10.0.0.1\",
		\"Meta\":{\"env\":\"prod\",\"rack\":\"r1\"}}" &&
	is cache1,web1 "join q(,), sort keys %{\$j->{Services}}" &&
	pick "\$j->{Services}{web1}" "{\"ID\":\"web1\",\"Service\":\"web\",
		\"Tags\":[\"v1\",\"Primary\"],\"Port\":80,
		\"Meta\":{\"version\":\"1\"},
		\"Weights\":{\"Passing\":1,\"Warning\":1}}"
'

test_expect_success 'catalog/node ?filter runs on the services' '
	get /v1/catalog/node/n1 "Service == \"cache\"" &&
	is cache1 "join q(,), sort keys %{\$j->{Services}}" &&
	is n1 "\$j->{Node}{Node}"
'

test_expect_success 'catalog/node: an unknown node is null (200)' '
	get /v1/catalog/node/nosuch &&
	is null "\$j"
'

test_expect_success 'catalog/node-services/n1: services as a list by ID' '
	get /v1/catalog/node-services/n1 &&
	is n1 "\$j->{Node}{Node}" &&
	is cache1,web1 "join q(,), map { \$_->{ID} } @{\$j->{Services}}" &&
	get /v1/catalog/node-services/n1 "Port == 80" &&
	is web1 "join q(,), map { \$_->{ID} } @{\$j->{Services}}"
'

test_expect_success 'catalog/node-services: an unknown node has null fields' '
	get /v1/catalog/node-services/nosuch &&
	is "{\"Node\":null,\"Services\":null}" "\$j"
'

# ---- health ----

test_expect_success 'health/node/n2: node and service checks' '
	get /v1/health/node/n2 &&
	is n2-alive,web2-check "join q(,), sort map { \$_->{CheckID} } @\$j" &&
	pick "(grep { \$_->{CheckID} eq q(web2-check) } @\$j)[0]" "{
		\"Node\":\"n2\",\"CheckID\":\"web2-check\",\"Name\":\"web2 http\",
		\"Status\":\"critical\",\"ServiceID\":\"web2\",
		\"ServiceName\":\"web\",\"ServiceTags\":[\"v2\"]}" &&
	pick "(grep { \$_->{CheckID} eq q(n2-alive) } @\$j)[0]" "{
		\"Node\":\"n2\",\"Status\":\"passing\",\"ServiceID\":\"\",
		\"ServiceName\":\"\",\"ServiceTags\":[]}"
'

test_expect_success 'health/node ?filter; unknown node is []' '
	get /v1/health/node/n2 "Status == critical" &&
	is web2-check "join q(,), map { \$_->{CheckID} } @\$j" &&
	get /v1/health/node/nosuch &&
	is "[]" "\$j"
'

test_expect_success 'health/checks/web: the checks of every instance' '
	get /v1/health/checks/web &&
	field_in CheckID >actual &&
	echo web1-check,web2-check >expect &&
	test_cmp expect actual &&
	get "/v1/health/checks/web?node-meta=env:prod" &&
	field_in CheckID >actual &&
	echo web1-check >expect &&
	test_cmp expect actual &&
	get /v1/health/checks/web "Status == passing" &&
	field_in CheckID >actual &&
	test_cmp expect actual &&
	get /v1/health/checks/nosuch &&
	is "[]" "\$j"
'

test_expect_success 'health/service/web: Node, Service, Checks per instance' '
	get /v1/health/service/web &&
	is n1,n2 "join q(,), map { \$_->{Node}{Node} } @\$j" &&
	pick "\$j->[0]{Node}" "{\"Node\":\"n1\",\"Address\":\"10.0.0.1\",
		\"Meta\":{\"env\":\"prod\",\"rack\":\"r1\"}}" &&
	pick "\$j->[0]{Service}" "{\"ID\":\"web1\",\"Service\":\"web\",
		\"Tags\":[\"v1\",\"Primary\"],\"Port\":80}" &&
	is web1-check "join q(,), sort map { \$_->{CheckID} } @{\$j->[0]{Checks}}" &&
	is n2-alive,web2-check \
		"join q(,), sort map { \$_->{CheckID} } @{\$j->[1]{Checks}}"
'

test_expect_success 'health/service ?passing (bare, =true, =false, =1)' '
	get "/v1/health/service/web?passing" &&
	is n1 "join q(,), map { \$_->{Node}{Node} } @\$j" &&
	get "/v1/health/service/web?passing=true" &&
	is n1 "join q(,), map { \$_->{Node}{Node} } @\$j" &&
	get "/v1/health/service/web?passing=1" &&
	is n1 "join q(,), map { \$_->{Node}{Node} } @\$j" &&
	get "/v1/health/service/web?passing=false" &&
	is n1,n2 "join q(,), map { \$_->{Node}{Node} } @\$j"
'

test_expect_success 'health/service ?passing=maybe is 400' '
	api GET "/v1/health/service/web?passing=maybe" &&
	expect_error 400 "Invalid value for ?passing"
'

test_expect_success 'health/service ?tag, ?node-meta, ?filter' '
	get "/v1/health/service/web?tag=V2" &&
	is n2 "join q(,), map { \$_->{Node}{Node} } @\$j" &&
	get "/v1/health/service/web?node-meta=env:prod" &&
	is n1 "join q(,), map { \$_->{Node}{Node} } @\$j" &&
	get /v1/health/service/web "Service.Port == 81" &&
	is n2 "join q(,), map { \$_->{Node}{Node} } @\$j" &&
	get /v1/health/service/web "Checks.Status == critical" &&
	is n2 "join q(,), map { \$_->{Node}{Node} } @\$j" &&
	get /v1/health/service/nosuch &&
	is "[]" "\$j"
'

# Only the test's own nodes: the agent may register itself.
checks_of_ours () {
	json_get out 'join ",", sort map { $_->{CheckID} }
		grep { $_->{Node} =~ /^n[0-9]$/ } @$j'
}

test_expect_success 'health/state/<state>' '
	get /v1/health/state/critical &&
	checks_of_ours >actual && echo web2-check >expect &&
	test_cmp expect actual &&
	get /v1/health/state/passing &&
	checks_of_ours >actual && echo n2-alive,web1-check >expect &&
	test_cmp expect actual &&
	get /v1/health/state/any &&
	checks_of_ours >actual &&
	echo n2-alive,web1-check,web2-check >expect &&
	test_cmp expect actual &&
	get /v1/health/state/warning &&
	checks_of_ours >actual && echo >expect &&
	test_cmp expect actual
'

test_expect_success 'health/state ?node-meta and ?filter' '
	get "/v1/health/state/passing?node-meta=env:dev" &&
	checks_of_ours >actual && echo n2-alive >expect &&
	test_cmp expect actual &&
	get /v1/health/state/any "CheckID == \"n2-alive\"" &&
	checks_of_ours >actual &&
	test_cmp expect actual
'

# Consul does not validate the state: an unknown one matches no check.
test_expect_success 'health/state/bogus is 200 []' '
	get /v1/health/state/bogus &&
	is "[]" "\$j"
'

# ---- pretty, missing names, bad options ----

test_expect_success '?pretty indents and ends with a newline' '
	get "/v1/catalog/service/web?pretty" &&
	test "$(tail -c 1 out | od -An -c | tr -d " ")" = "\\n" &&
	grep -q "^    {" out
'

test_expect_success 'a missing name is 400 with Consul'"'"'s message' '
	api GET /v1/catalog/service/ &&
	expect_error 400 "Missing service name" &&
	api GET /v1/catalog/node/ &&
	expect_error 400 "Missing node name" &&
	api GET /v1/catalog/node-services/ &&
	expect_error 400 "Missing node name" &&
	api GET /v1/health/node/ &&
	expect_error 400 "Missing node name" &&
	api GET /v1/health/checks/ &&
	expect_error 400 "Missing service name" &&
	api GET /v1/health/service/ &&
	expect_error 400 "Missing service name" &&
	api GET /v1/health/state/ &&
	expect_error 400 "Missing check state"
'

test_expect_success 'a bad ?filter is 400 on every endpoint that filters' '
	for p in /v1/catalog/nodes /v1/catalog/services \
		/v1/catalog/service/web /v1/catalog/node/n1 \
		/v1/catalog/node-services/n1 /v1/health/node/n1 \
		/v1/health/checks/web /v1/health/service/web \
		/v1/health/state/any
	do
		api GET "$p" -G --data-urlencode "filter=Port ==" &&
		expect_error 400 \
			"Failed to create boolean expression evaluator: " ||
		return 1
	done
'

test_expect_success '?dc of another datacenter, ?index=x, ?wait=x' '
	api GET "/v1/catalog/nodes?dc=dc9" &&
	expect_error 500 "No path to datacenter" &&
	api GET "/v1/health/service/web?index=x" &&
	expect_error 400 "Invalid index" &&
	api GET "/v1/catalog/services?index=1&wait=x" &&
	expect_error 400 "Invalid wait time" &&
	api GET "/v1/catalog/nodes?stale&consistent" &&
	expect_status 400
'

test_expect_success 'only GET on reads, only PUT on writes (405)' '
	api PUT /v1/catalog/nodes &&
	expect_status 405 &&
	api GET /v1/catalog/register &&
	expect_status 405 &&
	api POST /v1/catalog/deregister --data-binary "{}" &&
	expect_status 405
'

test_expect_success 'register: undecodable bodies: 400 Request decode failed' '
	api PUT /v1/catalog/register --data-binary "{not json" &&
	expect_error 400 "Request decode failed: " &&
	api PUT /v1/catalog/register &&
	expect_error 400 "Request decode failed: EOF" &&
	api PUT /v1/catalog/register --data-binary "[1]" &&
	expect_error 400 "$DECODE array $GO_TYPE.RegisterRequest" &&
	api PUT /v1/catalog/deregister --data-binary "\"n1\"" &&
	expect_error 400 "$DECODE string $GO_TYPE.DeregisterRequest"
'

test_expect_success 'register: Consul'"'"'s validation messages as 500 (RPC errors)' '
	api PUT /v1/catalog/register --data-binary "{\"Address\":\"10.9.9.9\"}" &&
	expect_status 500 &&
	test_grep "Must provide node" out &&
	api PUT /v1/catalog/register --data-binary "{\"Node\":\"n9\"}" &&
	expect_status 500 &&
	test_grep "Must provide address" out &&
	api PUT /v1/catalog/register --data-binary \
		"{\"Node\":\"n9\",\"Address\":\"10.9.9.9\",\"Service\":{\"Port\":1}}" &&
	expect_status 500 &&
	test_grep "Must provide service name" out &&
	api PUT /v1/catalog/deregister --data-binary "{}" &&
	expect_status 500 &&
	test_grep "Must provide node" out &&
	get /v1/catalog/nodes &&
	nodes_in >actual && echo n1,n2,n3 >expect && test_cmp expect actual
'

test_expect_success 'register: another Datacenter: 500 No path to datacenter' '
	api PUT /v1/catalog/register --data-binary \
		"{\"Datacenter\":\"dc9\",\"Node\":\"n9\",\"Address\":\"10.9.9.9\"}" &&
	expect_error 500 "No path to datacenter"
'

# ---- deregister round trips ----

test_expect_success 'deregister a service: its checks go with it' '
	dereg "{\"Node\":\"n2\",\"ServiceID\":\"web2\"}" &&
	get /v1/catalog/service/web &&
	is n1 "join q(,), map { \$_->{Node} } @\$j" &&
	get /v1/health/node/n2 &&
	is n2-alive "join q(,), map { \$_->{CheckID} } @\$j" &&
	get /v1/catalog/services &&
	is "[\"Primary\",\"v1\"]" "\$j->{web}"
'

test_expect_success 'deregister a check' '
	dereg "{\"Node\":\"n2\",\"CheckID\":\"n2-alive\"}" &&
	get /v1/health/node/n2 &&
	is "[]" "\$j" &&
	get /v1/catalog/nodes &&
	nodes_in >actual && echo n1,n2,n3 >expect && test_cmp expect actual
'

test_expect_success 'deregister a node: its services go with it' '
	dereg "{\"Node\":\"n3\"}" &&
	get /v1/catalog/nodes &&
	nodes_in >actual && echo n1,n2 >expect && test_cmp expect actual &&
	get /v1/catalog/services &&
	is 0 "exists \$j->{db} ? 1 : 0" &&
	get /v1/catalog/service/db &&
	is "[]" "\$j"
'

test_expect_success 'deregister of unknown things is not an error' '
	dereg "{\"Node\":\"nosuch\"}" &&
	dereg "{\"Node\":\"n1\",\"ServiceID\":\"nosuch\"}" &&
	dereg "{\"Node\":\"n1\",\"CheckID\":\"nosuch\"}"
'

# ---- blocking queries ----

# bg_get NAME PATH: a GET in the background (curl -m 30): body NAME.out,
# headers NAME.hdr, status NAME.status, start time NAME.t0; PID $bg_pid.
bg_get () {
	now_ms >"$1.t0" &&
	{ test_curl -m 30 -o "$1.out" -D "$1.hdr" -w "%{http_code}\n" \
		"$CONSUL_HTTP_ADDR$2" >"$1.status" 2>"$1.err" & } &&
	bg_pid=$!
}

elapsed_ms () {
	echo $(( $(now_ms) - $(cat "$1.t0") ))
}

# index_of PATH: X-Consul-Index of a GET of PATH now.
index_of () {
	api GET "$1" >/dev/null && expect_status 200 && header X-Consul-Index
}

# watch NAME PATH WAIT: index_of PATH, then a blocking GET at it.
watch () {
	eval "$1_idx=\$(index_of \"\$2\")" &&
	eval "bg_get $1 \"\$2?index=\$$1_idx&wait=$3\"" &&
	eval "$1_pid=\$bg_pid"
}

# slept NAME: the watch ran to its wait (>= 2.8 s of a 3s wait) and
# answered 200 with the index it started at.
slept () {
	eval "wait_pid \$$1_pid 10" &&
	test "$(elapsed_ms "$1")" -ge 2800 &&
	echo 200 >slept.expect && test_cmp slept.expect "$1.status" &&
	eval "test \"\$(header X-Consul-Index $1.hdr)\" = \"\$$1_idx\"" || {
		echo >&9 "$1 woke after $(elapsed_ms "$1") ms:"
		cat >&9 "$1.hdr"
		return 1
	}
}

# woke NAME: the watch returned within 3 s with a higher index.
woke () {
	eval "wait_pid \$$1_pid 5" &&
	test "$(elapsed_ms "$1")" -lt 3000 &&
	echo 200 >woke.expect && test_cmp woke.expect "$1.status" &&
	eval "test \"\$(header X-Consul-Index $1.hdr)\" -gt \"\$$1_idx\""
}

M1='{"Node":"m1","Address":"10.1.0.1",
 "Service":{"ID":"bw1","Service":"bw","Port":1},
 "Check":{"CheckID":"bw1-check","Name":"bw1","Status":"passing",
  "ServiceID":"bw1"}}'
M2='{"Node":"m2","Address":"10.1.0.2",
 "Service":{"ID":"bo1","Service":"bo","Port":2}}'
M3='{"Node":"m3","Address":"10.1.0.3","NodeMeta":{"gen":"1"}}'

test_expect_success 'blocking setup: nodes m1..m3, services bw and bo' '
	reg "$M1" && reg "$M2" && reg "$M3"
'

test_expect_success 'a KV write and a check of bo on m2 wake no other watch' '
	watch w1 /v1/catalog/nodes 3s &&
	watch w2 /v1/catalog/services 3s &&
	watch w3 /v1/catalog/service/bw 3s &&
	watch w4 /v1/health/service/bw 3s &&
	watch w5 /v1/health/node/m1 3s &&
	watch w6 /v1/catalog/node/m1 3s &&
	sleep 0.3 &&
	api PUT /v1/kv/noise --data-binary x &&
	expect_status 200 &&
	reg "{\"Node\":\"m2\",\"Address\":\"10.1.0.2\",\"Check\":{
		\"CheckID\":\"bo1-check\",\"Name\":\"bo1\",\"Status\":\"passing\",
		\"ServiceID\":\"bo1\"}}" &&
	slept w1 && slept w2 && slept w3 && slept w4 && slept w5 && slept w6
'

test_expect_success 'a node-only change wakes neither health/state nor bw' '
	watch w7 /v1/health/state/any 3s &&
	watch w8 /v1/catalog/service/bw 3s &&
	sleep 0.3 &&
	api PUT /v1/kv/noise --data-binary y &&
	reg "{\"Node\":\"m3\",\"Address\":\"10.1.0.3\",
		\"NodeMeta\":{\"gen\":\"2\"}}" &&
	slept w7 && slept w8
'

test_expect_success 'an identical re-registration wakes nobody' '
	watch w9 /v1/catalog/service/bw 3s &&
	watch w10 /v1/health/node/m1 3s &&
	sleep 0.3 &&
	reg "$M1" &&
	slept w9 && slept w10
'

test_expect_success 'catalog/nodes is woken by a new node' '
	watch v1 /v1/catalog/nodes 10s &&
	sleep 0.3 &&
	reg "{\"Node\":\"m4\",\"Address\":\"10.1.0.4\"}" &&
	woke v1 &&
	json_get v1.out "join q(,), grep { /^m/ } map { \$_->{Node} } @\$j" \
		>actual &&
	echo m1,m2,m3,m4 >expect &&
	test_cmp expect actual
'

test_expect_success 'catalog/services is woken by a new service' '
	watch v2 /v1/catalog/services 10s &&
	sleep 0.3 &&
	reg "{\"Node\":\"m4\",\"Address\":\"10.1.0.4\",
		\"Service\":{\"ID\":\"bn1\",\"Service\":\"bn\"}}" &&
	woke v2 &&
	json_get v2.out "exists \$j->{bn} ? 1 : 0" >actual &&
	echo 1 >expect &&
	test_cmp expect actual
'

test_expect_success 'catalog/service/bw and health/service/bw wake on bw' '
	watch v3 /v1/catalog/service/bw 10s &&
	watch v4 /v1/health/service/bw 10s &&
	sleep 0.3 &&
	reg "{\"Node\":\"m1\",\"Address\":\"10.1.0.1\",
		\"Service\":{\"ID\":\"bw1\",\"Service\":\"bw\",\"Port\":1,
		\"Tags\":[\"new\"]}}" &&
	woke v3 && woke v4 &&
	json_get v3.out "\$j->[0]{ServiceTags}[0]" >actual &&
	echo new >expect &&
	test_cmp expect actual
'

test_expect_success 'a check status change wakes health/service, node, state' '
	watch v5 /v1/health/service/bw 10s &&
	watch v6 /v1/health/node/m1 10s &&
	watch v7 /v1/health/state/critical 10s &&
	sleep 0.3 &&
	reg "{\"Node\":\"m1\",\"Address\":\"10.1.0.1\",\"Check\":{
		\"CheckID\":\"bw1-check\",\"Name\":\"bw1\",\"Status\":\"critical\",
		\"ServiceID\":\"bw1\"}}" &&
	woke v5 && woke v6 && woke v7 &&
	json_get v7.out "join q(,), map { \$_->{CheckID} }
		grep { \$_->{Node} eq q(m1) } @\$j" >actual &&
	echo bw1-check >expect &&
	test_cmp expect actual
'

test_expect_success 'catalog/node/m1 is woken by a new service on m1' '
	watch v8 /v1/catalog/node/m1 10s &&
	sleep 0.3 &&
	reg "{\"Node\":\"m1\",\"Address\":\"10.1.0.1\",
		\"Service\":{\"ID\":\"bx1\",\"Service\":\"bx\"}}" &&
	woke v8 &&
	json_get v8.out "join q(,), sort keys %{\$j->{Services}}" >actual &&
	echo bw1,bx1 >expect &&
	test_cmp expect actual
'

test_expect_success 'a deregistration wakes the service watch' '
	watch v9 /v1/catalog/service/bw 10s &&
	sleep 0.3 &&
	dereg "{\"Node\":\"m1\",\"ServiceID\":\"bw1\"}" &&
	woke v9 &&
	json_get v9.out "\$j" >actual &&
	echo "[]" >expect &&
	test_cmp expect actual
'

test_done
