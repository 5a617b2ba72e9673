#!/bin/sh
test_description='bootstrap writes a consistent 3-server cluster, which starts; bootstrap check verifies it; ping probes every port'
. ./lib.sh

test_have_prereq PERL || { skip_all='needs perl (lib.sh agents)'; test_done; }

reserve_agents n1 n2 n3
SERVERS=$n1_ADDR,$n2_ADDR,$n3_ADDR
UUID_RE='^[0-9a-f]\{8\}-[0-9a-f]\{4\}-4[0-9a-f]\{3\}-[89ab][0-9a-f]\{3\}-[0-9a-f]\{12\}$'

# gen_flags NODE: the agent flags of the command= line of the generated
# NODE/consul.ini, for this machine: without the binary and "agent", the
# data dir (lib.sh gives one), -client=0.0.0.0 (lib.sh binds the node's
# own address: three agents share port 8500) and with the generated
# config dir. One flag a line, for word splitting.
gen_flags () {
	sed -n 's/^command=//p' "gen/$1/consul.ini" | tr ' ' '\n' |
	sed -e 1,2d -e '/^-data-dir=/d' -e '/^-client=/d' \
		-e "s|^-config-dir=.*|-config-dir=$TRASH/gen/$1/config|"
}

# row_ok NODE ROLE FILE: NODE's row of the ping matrix in FILE has "ok"
# in every column (TCP 8302 may be refused: no WAN pool here).
row_ok () {
	ok_='ok [0-9.]*ms'
	test_grep "^$1 *$(agent_addr "$1") *$2 *$ok_ *$ok_ *$ok_ *\\($ok_\\|refused\\) *$ok_\$" "$3"
}

test_expect_success 'bootstrap writes one directory per server and the token file' '
	proconsul bootstrap -servers "$SERVERS" -datacenter dc1 -out gen \
		-data-dir=/var/lib/consul/ -config-dir=/etc/consul.d/ \
		>bs.out 2>bs.err &&
	for n in n1 n2 n3; do
		test_file_not_empty gen/$n/config/auth.hcl &&
		test_file_not_empty gen/$n/config/consulha.hcl &&
		test_file_not_empty gen/$n/consul.ini || return 1
	done &&
	test_file_not_empty gen/management.token &&
	ls gen >actual &&
	printf "%s\n" management.token n1 n2 n3 >expect &&
	test_cmp expect actual
'

test_expect_success 'the secrets are mode 0600, the rest 0644' '
	for n in n1 n2 n3; do
		stat -c "%a %n" gen/$n/config/auth.hcl gen/$n/config/consulha.hcl \
			gen/$n/consul.ini || return 1
	done >actual &&
	stat -c "%a %n" gen/management.token >>actual &&
	for n in n1 n2 n3; do
		echo "600 gen/$n/config/auth.hcl" &&
		echo "644 gen/$n/config/consulha.hcl" &&
		echo "644 gen/$n/consul.ini"
	done >expect &&
	echo "600 gen/management.token" >>expect &&
	test_cmp expect actual
'

test_expect_success 'one fresh UUIDv4 token, the master token of every server' '
	TOKEN=$(cat gen/management.token) &&
	echo "$TOKEN" | grep -q "$UUID_RE" &&
	for n in n1 n2 n3; do
		test_grep "^      \"master\": \"$TOKEN\" // " gen/$n/config/auth.hcl ||
			return 1
	done
'

test_expect_success 'the token is never printed; the summary says where it is' '
	! grep -e "$TOKEN" bs.out bs.err &&
	test_grep "gen/management.token (mode 0600)" bs.out &&
	test_grep "^  n2  *$n2_ADDR  *server  *gen/n2/\$" bs.out &&
	test_must_be_empty_ () { ! test -s "$1"; } &&
	test_must_be_empty_ bs.err
'

test_expect_success 'auth.hcl: the reference style, ACLs on, default deny, persistence' '
	grep -v "^//" gen/n1/config/auth.hcl | sed "s| *//.*||" >actual &&
	cat >expect <<-EOF &&
	{
	  "acl": {
	    "enabled": true,
	    "default_policy": "deny",
	    "enable_token_persistence": true,
	    "tokens": {
	      "master": "$TOKEN"
	    }
	  }
	}
	EOF
	test_cmp expect actual &&
	test_grep "\"enabled\": true, // enable ACLs" gen/n1/config/auth.hcl
'

test_expect_success 'consulha.hcl: server = true, retry_join = every server' '
	for n in n1 n2 n3; do
		grep -v "^#" gen/$n/config/consulha.hcl >actual &&
		printf "%s\n" "server = true" \
			"retry_join = [\"$n1_ADDR\", \"$n2_ADDR\", \"$n3_ADDR\"]" >expect &&
		test_cmp expect actual || return 1
	done
'

test_expect_success 'consul.ini: the reference supervisor program, per node' '
	for i in 1 2 3; do
		n=n$i &&
		ip=$(agent_addr $n) &&
		grep -v "^;" gen/$n/consul.ini >actual &&
		cat >expect <<-EOF &&
		[program:consul]
		command=/opt/app/consul/consul agent -server -http-port=8500 -data-dir=/var/lib/consul/ -node=$n -bind=$ip -bootstrap-expect=3 -client=0.0.0.0 -datacenter=dc1 -ui -config-dir=/etc/consul.d/
		process_name=%(program_name)s
		numprocs=1
		directory=/opt/app/consul
		autostart=true
		autorestart=true
		startsecs=5
		startretries=3
		stopsignal=QUIT
		stopwaitsecs=5
		redirect_stderr=true
		stdout_logfile=/var/log/consul.log
		stdout_logfile_maxbytes=10MB
		stdout_logfile_backups=5
		EOF
		test_cmp expect actual || return 1
	done
'

test_expect_success 'refused: an even number of servers, with the fix' '
	test_expect_code 1 proconsul bootstrap -out even \
		-servers "$SERVERS,$TEST_NET.4" 2>err &&
	test_grep "4 servers cannot tolerate more failures than 3: use 3 or 5" err &&
	test_path_is_missing even
'

test_expect_success 'refused: a duplicate, a bad IP, an empty list or entry' '
	test_expect_code 1 proconsul bootstrap -out bad \
		-servers "$n1_ADDR,$n2_ADDR,$n1_ADDR" 2>err &&
	test_grep "'\''$n1_ADDR'\'' is listed twice: each node needs its own address" err &&
	test_expect_code 1 proconsul bootstrap -out bad \
		-servers "$n1_ADDR,$TEST_NET.300,$n3_ADDR" 2>err &&
	test_grep "'\''$TEST_NET.300'\'' is not an IP address" err &&
	test_expect_code 1 proconsul bootstrap -out bad -servers "" 2>err &&
	test_grep "servers is empty: give the IP addresses" err &&
	test_expect_code 1 proconsul bootstrap -out bad \
		-servers "$n1_ADDR,,$n3_ADDR" 2>err &&
	test_grep "empty entry" err &&
	test_expect_code 1 proconsul bootstrap -out bad -servers "$SERVERS" \
		-clients "$n2_ADDR" 2>err &&
	test_grep "is listed twice" err &&
	test_path_is_missing bad
'

test_expect_success 'refused: a non-empty -out, unless -force; usage errors exit 2' '
	test_expect_code 1 proconsul bootstrap -out gen -servers "$SERVERS" \
		2>err &&
	test_grep "is not empty: choose a new directory, or add -force" err &&
	test "$(cat gen/management.token)" = "$TOKEN" &&
	mkdir full && : >full/keep &&
	proconsul bootstrap -out full -force -servers "$SERVERS" >/dev/null &&
	test -f full/keep && test -f full/n3/consul.ini &&
	test_expect_code 2 proconsul bootstrap -out x 2>err &&
	test_grep "Missing -servers" err &&
	test_expect_code 2 proconsul bootstrap -servers "$SERVERS" 2>err &&
	test_expect_code 2 proconsul bootstrap -nope 2>err
'

test_expect_success 'the three servers start from the generated configs' '
	for n in n1 n2 n3; do
		TEST_AGENT_WAIT=none start_agent $n $(gen_flags $n) || return 1
	done &&
	for n in n1 n2 n3; do
		wait_for_agent $n http || return 1
	done &&
	wait_leader 60 n1 n2 n3 &&
	test_set_prereq CLUSTER
'

test_expect_success CLUSTER 'ACLs are on with the generated master token' '
	api_on n1 PUT /v1/kv/acl-probe --data-binary x &&
	expect_status 403 &&
	api_on n1 PUT /v1/kv/acl-probe --data-binary x \
		-H "X-Consul-Token: $TOKEN" &&
	expect_status 200 &&
	expect_body true
'

test_expect_success CLUSTER 'bootstrap check: everything ok, exit 0' '
	poll_until 20 proconsul bootstrap check -token "$TOKEN" -expect 3 &&
	proconsul bootstrap check -token "$TOKEN" -expect 3 >check.out &&
	test_grep "^ok servers: 3 of 3 expected servers are voters and answer\$" check.out &&
	test_grep "^ok leader: $leader_addr, agreed by 3 servers\$" check.out &&
	test_grep "^ok indexes: commit index " check.out &&
	test_line_count_ () { test "$(wc -l <"$2")" -eq "$1"; } &&
	test_line_count_ 3 check.out &&
	proconsul bootstrap check -token-file gen/management.token \
		-servers "$SERVERS" >check.out &&
	! grep FAIL check.out
'

test_expect_success CLUSTER 'bootstrap check: a server not in the cluster exits 3' '
	test_expect_code 3 proconsul bootstrap check -token "$TOKEN" \
		-servers "$SERVERS,$TEST_NET.7" >check.out &&
	test_grep "^FAIL servers: $TEST_NET.7 is not in the Raft configuration" check.out &&
	test_grep "^ok leader" check.out
'

test_expect_success 'bootstrap check: no agent to ask exits 1' '
	test_expect_code 1 proconsul bootstrap check -token "$TOKEN" \
		-http-addr "$TEST_NET.8:8500" 2>err &&
	test_grep "cannot read the Raft configuration" err
'

test_expect_success CLUSTER 'ping: every port of every server answers, exit 0' '
	proconsul ping -token "$TOKEN" >ping.out &&
	head -n 1 ping.out >actual &&
	test_grep "^Node  *Address  *Role  *TCP 8300  *TCP 8301  *UDP 8301  *TCP 8302  *HTTP 8500\$" actual &&
	row_ok n1 server ping.out &&
	row_ok n2 server ping.out &&
	row_ok n3 server ping.out
'

test_expect_success CLUSTER 'ping -I: the probes go out from another local address' '
	proconsul ping -I $TEST_NET.9 -token "$TOKEN" >ping.out &&
	test_grep "^From $TEST_NET.9:\$" ping.out &&
	row_ok n1 server ping.out &&
	row_ok n2 server ping.out &&
	row_ok n3 server ping.out
'

test_expect_success CLUSTER 'ping -I with an address that is not this host'"'"'s: usage error, nothing sent' '
	test_expect_code 2 proconsul ping -I 192.0.2.1 -token "$TOKEN" >ping.out 2>ping.err &&
	test_grep "is not an IP address of this host" ping.err &&
	! test -s ping.out
'

test_expect_success CLUSTER 'ping HOST: probes the hosts given, no agent needed' '
	proconsul ping -http-addr "$TEST_NET.8:8500" "$n2_ADDR" >ping.out &&
	test_grep "^$n2_ADDR  *$n2_ADDR  *host  *ok " ping.out
'

test_expect_success CLUSTER 'one server stops' '
	stop_agent n3 &&
	wait_leader 30 n1 n2
'

test_expect_success CLUSTER 'bootstrap check: a stopped server exits 3' '
	test_expect_code 3 proconsul bootstrap check -token "$TOKEN" -expect 3 \
		>check.out &&
	test_grep "^FAIL servers: $n3_ADDR does not answer on port 8500 (Connection refused)\$" check.out &&
	test_grep "^ok leader: $leader_addr, agreed by 2 servers\$" check.out &&
	test_grep "^ok indexes" check.out
'

test_expect_success CLUSTER 'ping: the stopped server is refused on TCP, times out on UDP; exit 1' '
	test_expect_code 1 proconsul ping -timeout 1s -token "$TOKEN" >ping.out &&
	row_ok n1 server ping.out &&
	row_ok n2 server ping.out &&
	test_grep "^n3  *$n3_ADDR  *server  *refused  *refused  *timeout  *refused  *refused\$" ping.out &&
	test_grep "^UDP 8301 to $n3_ADDR timed out: gossip will flap; open UDP 8301\$" ping.out &&
	test_grep "^TCP 8300 to $n3_ADDR refused: the server RPC port is closed; Raft cannot replicate" ping.out &&
	test_grep "^TCP 8301 to $n3_ADDR refused: " ping.out &&
	test_grep "^HTTP 8500 to $n3_ADDR refused: " ping.out &&
	! grep "to $n1_ADDR .*: [a-z]" ping.out | grep -v "^TCP 8302" &&
	! grep "to $n2_ADDR .*: [a-z]" ping.out | grep -v "^TCP 8302"
'

test_expect_success 'the servers still running exit 0 on TERM' '
	stop_agents TERM $(running_agents n1 n2 n3)
'

test_done
