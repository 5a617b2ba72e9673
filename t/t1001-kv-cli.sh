#!/bin/sh
test_description='kv get/put/delete through the CLI against one agent'
. ./lib.sh

test_expect_success 'setup: one server agent' '
	start_agent a1 -server -bootstrap
'

test_expect_success 'put prints Consul'"'"'s success line' '
	proconsul kv put app/port 8080 >out 2>err &&
	echo "Success! Data written to: app/port" >expect &&
	test_cmp expect out &&
	! test -s err
'

test_expect_success 'get prints the raw value and a newline' '
	proconsul kv get app/port >out &&
	echo 8080 >expect &&
	test_cmp expect out
'

test_expect_success 'get strips a leading slash from the key' '
	proconsul kv get /app/port >out &&
	test_cmp expect out
'

test_expect_success 'put replaces the value' '
	proconsul kv put app/port 9090 >out &&
	proconsul kv get app/port >out &&
	echo 9090 >expect &&
	test_cmp expect out
'

test_expect_success 'get of a missing key: error text and exit 1' '
	test_expect_code 1 proconsul kv get no/such/key >out 2>err &&
	echo "Error! No key exists at: no/such/key" >expect &&
	test_cmp expect err &&
	! test -s out
'

test_expect_success 'put without data stores an empty value' '
	proconsul kv put app/empty >out &&
	proconsul kv get app/empty >out &&
	echo >expect &&
	test_cmp expect out
'

test_expect_success 'put "" stores an empty value' '
	proconsul kv put app/empty2 "" >out &&
	proconsul kv get app/empty2 >out &&
	test_cmp expect out
'

test_expect_success 'values keep spaces, quotes and newlines' '
	proconsul kv put app/text "a b  \"c\"
second line" >out &&
	proconsul kv get app/text >out &&
	printf "a b  \"c\"\nsecond line\n" >expect &&
	test_cmp expect out
'

test_expect_success 'keys with spaces, unicode and punctuation round-trip' '
	proconsul kv put "odd/a b" space >out &&
	proconsul kv put "odd/ключ" unicode >out &&
	proconsul kv put "odd/x?y&z=1#frag" punct >out &&
	proconsul kv put "odd/100%" percent >out &&
	proconsul kv get "odd/a b" >out1 &&
	proconsul kv get "odd/ключ" >out2 &&
	proconsul kv get "odd/x?y&z=1#frag" >out3 &&
	proconsul kv get "odd/100%" >out4 &&
	echo space >e1 && echo unicode >e2 && echo punct >e3 && echo percent >e4 &&
	test_cmp e1 out1 && test_cmp e2 out2 && test_cmp e3 out3 && test_cmp e4 out4
'

test_expect_success 'data from stdin with -' '
	printf "from stdin\nline 2\n" >input &&
	proconsul kv put app/stdin - <input >out &&
	echo "Success! Data written to: app/stdin" >expect &&
	test_cmp expect out &&
	proconsul kv get app/stdin >out &&
	printf "from stdin\nline 2\n\n" >expect &&
	test_cmp expect out
'

test_expect_success 'data from a file with @' '
	printf "line 1\nline 2" >data.txt &&
	proconsul kv put app/file @data.txt >out &&
	proconsul kv get app/file >out &&
	printf "line 1\nline 2\n" >expect &&
	test_cmp expect out
'

test_expect_success 'binary data from a file survives (-base64 get)' '
	printf "\000\001\002\377bin" >bin.dat &&
	proconsul kv put app/bin @bin.dat >out &&
	proconsul kv get -base64 app/bin >out &&
	base64 bin.dat >expect &&
	test_cmp expect out
'

test_expect_success '@ with a missing file: error, exit 1' '
	test_expect_code 1 proconsul kv put app/nofile @no-such-file >out 2>err &&
	test_grep "Error! Failed to read file" err
'

test_expect_success 'a value starting with - that is not just -' '
	proconsul kv put app/dash -5 >out &&
	proconsul kv get app/dash >out &&
	echo -5 >expect &&
	test_cmp expect out
'

test_expect_success 'put -base64 decodes the data' '
	proconsul kv put -base64 app/b64 aGVsbG8gd29ybGQ= >out &&
	proconsul kv get app/b64 >out &&
	echo "hello world" >expect &&
	test_cmp expect out
'

test_expect_success 'get -base64 encodes the value' '
	proconsul kv get -base64 app/b64 >out &&
	echo aGVsbG8gd29ybGQ= >expect &&
	test_cmp expect out
'

test_expect_success 'put -base64 with invalid base64 fails' '
	test_must_fail proconsul kv put -base64 app/badb64 "not*base64!" >out 2>err &&
	test_grep "Cannot base 64 decode data" err
'

# detailed_expect KEY FLAGS VALUE: the -detailed block of KEY as Consul
# prints it (tabwriter, padding 6), indexes read from the HTTP API.
detailed_expect () {
	(
		mkdir -p detailed && cd detailed &&
		api GET "/v1/kv/$1" &&
		ci=$(json_get out "\$j->[0]{CreateIndex}") &&
		mi=$(json_get out "\$j->[0]{ModifyIndex}") &&
		li=$(json_get out "\$j->[0]{LockIndex}") &&
		printf "%-17s%s\n" CreateIndex "$ci" Flags "$2" Key "$1" \
			LockIndex "$li" ModifyIndex "$mi" Session - Value "$3"
	)
}

test_expect_success 'get -detailed prints Consul'"'"'s block' '
	proconsul kv get -detailed app/port >out &&
	detailed_expect app/port 0 9090 >expect &&
	test_cmp expect out
'

test_expect_success 'put -flags sets the flags shown by -detailed' '
	proconsul kv put -flags=42 app/flagged v >out &&
	proconsul kv get -detailed app/flagged >out &&
	detailed_expect app/flagged 42 v >expect &&
	test_cmp expect out
'

test_expect_success 'put -flags takes the full uint64 range' '
	proconsul kv put -flags=18446744073709551615 app/bigflags v >out &&
	proconsul kv get -detailed app/bigflags >out &&
	detailed_expect app/bigflags 18446744073709551615 v >expect &&
	test_cmp expect out
'

test_expect_success 'get -detailed -base64' '
	proconsul kv get -detailed -base64 app/b64 >out &&
	detailed_expect app/b64 0 aGVsbG8gd29ybGQ= >expect &&
	test_cmp expect out
'

test_expect_success 'put -cas -modify-index=<current> succeeds' '
	api GET /v1/kv/app/port &&
	mi=$(json_get out "\$j->[0]{ModifyIndex}") &&
	proconsul kv put -cas -modify-index=$mi app/port 7070 >out &&
	echo "Success! Data written to: app/port" >expect &&
	test_cmp expect out &&
	proconsul kv get app/port >out &&
	echo 7070 >expect &&
	test_cmp expect out
'

test_expect_success 'put -cas with a stale index: CAS failed, exit 1' '
	test_expect_code 1 proconsul kv put -cas -modify-index=$mi app/port 6060 \
		>out 2>err &&
	echo "Error! Did not write to app/port: CAS failed" >expect &&
	test_cmp expect err &&
	proconsul kv get app/port >out &&
	echo 7070 >expect &&
	test_cmp expect out
'

test_expect_success 'put -cas on a missing key with an index: CAS failed' '
	test_expect_code 1 proconsul kv put -cas -modify-index=5 app/nocas v \
		>out 2>err &&
	test_grep "Error! Did not write to app/nocas: CAS failed" err &&
	test_must_fail proconsul kv get app/nocas 2>err
'

test_expect_success 'put -cas -modify-index=0 creates only a missing key' '
	proconsul kv put -cas -modify-index=0 app/new v >out &&
	echo "Success! Data written to: app/new" >expect &&
	test_cmp expect out &&
	test_expect_code 1 proconsul kv put -cas -modify-index=0 app/new w \
		>out 2>err &&
	test_grep "CAS performed with index=0 and key already exists" err
'

test_expect_success 'setup: a small tree' '
	proconsul kv put tree/a 1 >out &&
	proconsul kv put tree/b/c 2 >out &&
	proconsul kv put tree/b/d 3 >out &&
	proconsul kv put tree/e/f/g 4 >out &&
	proconsul kv put treehouse 5 >out
'

test_expect_success 'get -recurse prints key:value lines in key order' '
	proconsul kv get -recurse tree >out &&
	cat >expect <<-\EOF &&
	tree/a:1
	tree/b/c:2
	tree/b/d:3
	tree/e/f/g:4
	treehouse:5
	EOF
	test_cmp expect out
'

test_expect_success 'get -recurse with a trailing slash' '
	proconsul kv get -recurse tree/b/ >out &&
	printf "tree/b/c:2\ntree/b/d:3\n" >expect &&
	test_cmp expect out
'

test_expect_success 'get -recurse -base64' '
	proconsul kv get -recurse -base64 tree/b/ >out &&
	printf "tree/b/c:Mg==\ntree/b/d:Mw==\n" >expect &&
	test_cmp expect out
'

test_expect_success 'get -recurse -detailed: blocks separated by a blank line' '
	proconsul kv get -recurse -detailed tree/b/ >out &&
	{
		detailed_expect tree/b/c 0 2 &&
		echo &&
		detailed_expect tree/b/d 0 3
	} >expect &&
	test_cmp expect out
'

test_expect_success 'get -recurse on a missing prefix prints nothing, exit 0' '
	proconsul kv get -recurse nothing/here >out &&
	! test -s out
'

test_expect_success 'get -keys groups at the default separator /' '
	proconsul kv get -keys tree/ >out &&
	cat >expect <<-\EOF &&
	tree/a
	tree/b/
	tree/e/
	EOF
	test_cmp expect out
'

test_expect_success 'get -keys on a bare prefix' '
	proconsul kv get -keys tree >out &&
	printf "tree/\ntreehouse\n" >expect &&
	test_cmp expect out
'

test_expect_success 'get -keys -separator="" lists every key' '
	proconsul kv get -keys -separator= tree/ >out &&
	cat >expect <<-\EOF &&
	tree/a
	tree/b/c
	tree/b/d
	tree/e/f/g
	EOF
	test_cmp expect out
'

test_expect_success 'get -keys -separator=b' '
	proconsul kv get -keys -separator=b tree/ >out &&
	printf "tree/a\ntree/b\ntree/e/f/g\n" >expect &&
	test_cmp expect out
'

test_expect_success 'get -keys without a prefix lists the top level' '
	proconsul kv get -keys >out &&
	test_grep "^tree/\$" out &&
	test_grep "^treehouse\$" out &&
	test_grep "^app/\$" out
'

test_expect_success 'get -keys on a missing prefix prints nothing' '
	proconsul kv get -keys nothing/here/ >out &&
	! test -s out
'

test_expect_success 'delete prints Consul'"'"'s line and removes the key' '
	proconsul kv delete tree/a >out &&
	echo "Success! Deleted key: tree/a" >expect &&
	test_cmp expect out &&
	test_expect_code 1 proconsul kv get tree/a 2>err &&
	test_grep "Error! No key exists at: tree/a" err
'

test_expect_success 'delete of a missing key succeeds' '
	proconsul kv delete tree/a >out &&
	echo "Success! Deleted key: tree/a" >expect &&
	test_cmp expect out
'

test_expect_success 'delete -cas with a stale index: CAS failed, exit 1' '
	api GET /v1/kv/tree/b/c &&
	mi=$(json_get out "\$j->[0]{ModifyIndex}") &&
	test_expect_code 1 proconsul kv delete -cas -modify-index=$((mi + 1000)) \
		tree/b/c >out 2>err &&
	echo "Error! Did not delete key tree/b/c: CAS failed" >expect &&
	test_cmp expect err &&
	proconsul kv get tree/b/c >out
'

test_expect_success 'delete -cas with the current index' '
	proconsul kv delete -cas -modify-index=$mi tree/b/c >out &&
	echo "Success! Deleted key: tree/b/c" >expect &&
	test_cmp expect out &&
	test_must_fail proconsul kv get tree/b/c 2>err
'

test_expect_success 'delete -modify-index without -cas is refused' '
	test_expect_code 1 proconsul kv delete -modify-index=3 tree/b/d >out 2>err &&
	test_grep "Cannot specify -modify-index without -cas!" err
'

test_expect_success 'delete -recurse removes a prefix (and only it)' '
	proconsul kv delete -recurse tree/ >out &&
	echo "Success! Deleted keys with prefix: tree/" >expect &&
	test_cmp expect out &&
	proconsul kv get -recurse tree/ >out &&
	! test -s out &&
	proconsul kv get treehouse >out &&
	echo 5 >expect &&
	test_cmp expect out
'

test_expect_success 'get: too many arguments' '
	test_expect_code 1 proconsul kv get a b >out 2>err &&
	test_grep "Too many arguments (expected 1, got 2)" err
'

# --- addresses and tokens

test_expect_success 'CONSUL_HTTP_ADDR selects the agent (http:// form)' '
	CONSUL_HTTP_ADDR=http://$a1_ADDR:8500 proconsul kv get app/port >out &&
	echo 7070 >expect &&
	test_cmp expect out
'

test_expect_success 'CONSUL_HTTP_ADDR in host:port form' '
	CONSUL_HTTP_ADDR=$a1_ADDR:8500 proconsul kv get app/port >out &&
	test_cmp expect out
'

test_expect_success '-http-addr beats CONSUL_HTTP_ADDR' '
	CONSUL_HTTP_ADDR=http://$TEST_NET.254:8500 \
		proconsul kv get -http-addr=$a1_ADDR:8500 app/port >out &&
	test_cmp expect out &&
	CONSUL_HTTP_ADDR=http://$TEST_NET.254:8500 \
		test_must_fail proconsul kv get app/port >out 2>err &&
	test_grep "connection refused" err
'

test_expect_success '-token, -token-file, CONSUL_HTTP_TOKEN(_FILE) are accepted' '
	proconsul kv get -token=tok-flag app/port >out &&
	CONSUL_HTTP_TOKEN=tok-env proconsul kv get app/port >out &&
	echo tok-file >tokfile &&
	proconsul kv get -token-file=tokfile app/port >out &&
	CONSUL_HTTP_TOKEN_FILE=tokfile proconsul kv get app/port >out &&
	test_cmp expect out
'

test_expect_success 'a missing -token-file is an error' '
	test_must_fail proconsul kv get -token-file=no-such-token-file app/port \
		>out 2>err &&
	test_grep "no-such-token-file" err
'

test_expect_success 'put and delete honour -http-addr too' '
	CONSUL_HTTP_ADDR=http://$TEST_NET.254:8500 &&
	proconsul kv put -http-addr=http://$a1_ADDR:8500 via/flag 1 >out &&
	proconsul kv delete -http-addr=http://$a1_ADDR:8500 via/flag >out &&
	test_must_fail proconsul kv get -http-addr=http://$a1_ADDR:8500 via/flag \
		2>err &&
	CONSUL_HTTP_ADDR=http://$a1_ADDR:8500
'

test_expect_success 'an agent-side error is reported (Unexpected response code)' '
	test_must_fail proconsul kv get -datacenter=nowhere app/port >out 2>err &&
	test_grep "Error querying Consul agent: Unexpected response code: 500 (No path to datacenter)" err
'

# A one-shot HTTP listener that records each request (headers only) in
# req.N and answers 404 like Consul for a missing key.
cat >capture.pl <<\EOF
use strict; use IO::Socket::INET;
my ($addr, $n) = @ARGV;
alarm 60;
my $l = IO::Socket::INET->new(LocalAddr => $addr, LocalPort => 8500,
	Listen => 8, ReuseAddr => 1) or die "listen $addr:8500: $!\n";
open my $r, ">", "capture.ready" or die; close $r;
for my $i (1 .. $n) {
	my $c = $l->accept or last;
	my $req = "";
	while (defined(my $line = <$c>)) { $req .= $line; last if $line =~ /^\r?\n$/ }
	open my $f, ">", "req.$i" or die; print $f $req; close $f;
	print $c "HTTP/1.1 404 Not Found\r\nX-Consul-Index: 1\r\n",
		"X-Consul-KnownLeader: true\r\nX-Consul-LastContact: 0\r\n",
		"Content-Length: 0\r\nConnection: close\r\n\r\n";
	close $c;
}
EOF

test_expect_success PERL 'setup: a request-capturing listener' '
	rm -f capture.ready req.* &&
	perl capture.pl $TEST_NET.253 7 >capture.log 2>&1 &
	capture_pid=$! &&
	i=0 &&
	while test $i -lt 100 && ! test -f capture.ready; do
		sleep 0.1; i=$((i + 1))
	done &&
	test -f capture.ready
'

# req_header N NAME: a header of captured request N.
req_header () {
	header "$2" "req.$1"
}

test_expect_success PERL 'the CLI sends tokens as X-Consul-Token' '
	cap=http://$TEST_NET.253:8500 &&
	echo tok-file >tokfile &&
	test_must_fail proconsul kv get -http-addr=$cap -token=tok-flag k 2>err &&
	CONSUL_HTTP_TOKEN=tok-env test_must_fail proconsul kv get -http-addr=$cap k 2>err &&
	test_must_fail proconsul kv get -http-addr=$cap -token-file=tokfile k 2>err &&
	CONSUL_HTTP_TOKEN_FILE=tokfile test_must_fail proconsul kv get -http-addr=$cap k 2>err &&
	CONSUL_HTTP_TOKEN=tok-env test_must_fail proconsul kv get -http-addr=$cap -token=tok-flag k 2>err &&
	test_must_fail proconsul kv get -http-addr=$cap k 2>err &&
	test_must_fail proconsul kv get -http-addr=$cap "odd/a b" 2>err &&
	printf "%s\n" tok-flag tok-env tok-file tok-file tok-flag >expect &&
	for i in 1 2 3 4 5; do req_header $i X-Consul-Token || return 1; done >actual &&
	test_cmp expect actual &&
	! grep -qi "^X-Consul-Token" req.6
'

test_expect_success PERL 'the CLI escapes the key in the request path' '
	head -n 1 req.7 | tr -d "\r" >actual &&
	echo "GET /v1/kv/odd/a%20b HTTP/1.1" >expect &&
	test_cmp expect actual &&
	head -n 1 req.1 | tr -d "\r" >actual &&
	echo "GET /v1/kv/k HTTP/1.1" >expect &&
	test_cmp expect actual
'

test_expect_success PERL 'the capturing listener is gone' '
	wait_pid $capture_pid 10
'

test_expect_success 'stop the agent: exit 0, no sanitizer errors' '
	stop_agent a1 TERM &&
	check_sanitizer_log a1
'

test_done
