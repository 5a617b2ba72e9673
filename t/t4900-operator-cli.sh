#!/bin/sh
test_description='operator raft|autopilot: usage, offline raft recover, output formats (fake API), dev agent'
. ./lib.sh

# Nothing listens here: commands that need an agent fail fast.
CONSUL_HTTP_ADDR=http://$TEST_NET.254:8500
export CONSUL_HTTP_ADDR

N1=11111111-2222-3333-4444-555555555555
N2=22222222-2222-3333-4444-555555555555
N3=33333333-2222-3333-4444-555555555555
N4=44444444-2222-3333-4444-555555555555

# ---------------------------------------------------------------------
# Help and usage errors (exit 2)

test_expect_success 'operator alone: usage on stderr, exit 2' '
	test_expect_code 2 proconsul operator >out 2>err &&
	test_grep "^Usage: consul operator <subcommand>" err &&
	test_grep "^    autopilot  " err &&
	test_grep "^    raft  " err &&
	! test -s out
'

test_expect_success 'operator -h: usage on stdout, exit 0' '
	proconsul operator -h >out 2>err &&
	test_grep "^Usage: consul operator <subcommand>" out &&
	test_grep "extreme caution" out &&
	! test -s err
'

test_expect_success 'operator raft -h lists the raft verbs' '
	proconsul operator raft -h >out &&
	for v in list-peers remove-peer transfer-leader recover
	do
		test_grep "^    $v  " out || return 1
	done
'

test_expect_success 'operator autopilot -h lists the autopilot verbs' '
	proconsul operator autopilot -h >out &&
	for v in get-config set-config state
	do
		test_grep "^    $v  " out || return 1
	done
'

test_expect_success 'unknown verbs: exit 2 with the group help' '
	test_expect_code 2 proconsul operator frob >out 2>err &&
	test_grep "frob" err &&
	test_expect_code 2 proconsul operator raft frob >out 2>err &&
	test_grep "^Usage: consul operator raft <subcommand>" err &&
	test_expect_code 2 proconsul operator autopilot >out 2>err &&
	test_grep "^Usage: consul operator autopilot <subcommand>" err
'

for v in "raft list-peers" "raft remove-peer" "raft transfer-leader" \
	"raft recover" "autopilot get-config" "autopilot set-config" \
	"autopilot state"
do
	test_expect_success "operator $v -h prints its usage, exit 0" "
		proconsul operator $v -h >out 2>err &&
		test_grep '^Usage: consul operator $v' out &&
		! test -s err
	"
done

test_expect_success 'help operator raft list-peers == operator raft list-peers -h' '
	proconsul help operator raft list-peers >actual &&
	proconsul operator raft list-peers -h >expect &&
	test_cmp expect actual
'

test_expect_success '-h documents the flags' '
	proconsul operator raft list-peers -h >out &&
	for f in -stale -http-addr -token -token-file; do
		test_grep -e "$f" out || return 1
	done &&
	proconsul operator raft remove-peer -h >out &&
	test_grep -e "-address=<string>" out && test_grep -e "-id=<string>" out &&
	proconsul operator autopilot set-config -h >out &&
	for f in "-cleanup-dead-servers=<true|false>" -max-trailing-logs \
		-min-quorum "-last-contact-threshold=<200ms>" \
		"-server-stabilization-time=<10s>"
	do
		test_grep -e "$f" out || return 1
	done &&
	proconsul operator raft recover -h >out &&
	for f in -data-dir -servers -dry-run; do
		test_grep -e "$f" out || return 1
	done &&
	! grep -e "-http-addr" out
'

test_expect_success 'undefined flag: Go message, exit 2' '
	test_expect_code 2 proconsul operator raft list-peers -nosuch >out 2>err &&
	test_grep "flag provided but not defined: -nosuch" err
'

test_expect_success 'positional arguments: exit 2' '
	test_expect_code 2 proconsul operator raft list-peers extra 2>err &&
	test_grep "Too many arguments (expected 0, got 1)" err &&
	test_expect_code 2 proconsul operator autopilot get-config a b 2>err &&
	test_grep "Too many arguments (expected 0, got 2)" err
'

test_expect_success 'remove-peer needs exactly one of -address and -id' '
	test_expect_code 2 proconsul operator raft remove-peer >out 2>err &&
	echo "Error removing peer: an address or id is required for the peer to remove" >expect &&
	test_cmp expect err &&
	test_expect_code 2 proconsul operator raft remove-peer -address=10.0.0.1:8300 \
		-id=$N1 >out 2>err &&
	echo "Error removing peer: cannot give both an address and id" >expect &&
	test_cmp expect err
'

test_expect_success 'set-config: bad duration and number are usage errors' '
	test_expect_code 2 proconsul operator autopilot set-config \
		-last-contact-threshold=soon 2>err &&
	test_grep "invalid value \"soon\" for flag -last-contact-threshold: time: invalid duration \"soon\"" err &&
	test_expect_code 2 proconsul operator autopilot set-config \
		-max-trailing-logs=-1 2>err &&
	test_grep "invalid value \"-1\" for flag -max-trailing-logs" err &&
	test_expect_code 2 proconsul operator autopilot set-config \
		-cleanup-dead-servers=maybe 2>err &&
	test_grep "invalid boolean value \"maybe\" for -cleanup-dead-servers" err
'

test_expect_success 'state -format: unknown format, exit 2' '
	test_expect_code 2 proconsul operator autopilot state -format=yaml 2>err &&
	echo "Unknown format: yaml" >expect &&
	test_cmp expect err
'

test_expect_success 'no agent: Consul error text, exit 1' '
	test_expect_code 1 proconsul operator raft list-peers >out 2>err &&
	test_grep "^Error getting peers: Failed to retrieve raft configuration: Get \"http://$TEST_NET.254:8500/v1/operator/raft/configuration\": dial tcp $TEST_NET.254:8500: connect: connection refused" err &&
	! test -s out &&
	test_expect_code 1 proconsul operator autopilot get-config 2>err &&
	test_grep "^Error querying Autopilot configuration: " err &&
	test_expect_code 1 proconsul operator autopilot state 2>err &&
	test_grep "^Error querying Autopilot state: " err &&
	test_expect_code 1 proconsul operator raft transfer-leader 2>err &&
	test_grep "^Error transfering leadership: Failed to transfer leadership Put\\|^Error transfering leadership: Failed to transfer leadership Post" err &&
	test_expect_code 1 proconsul operator raft remove-peer -id=x 2>err &&
	test_grep "^Error removing peer: " err
'

# ---------------------------------------------------------------------
# raft recover: offline, against a fake data directory

# make_dir DIR: node-id = N1, a 3-server map (index 22) in DIR.
make_dir () {
	mkdir -p "$1" &&
	echo "$N1" >"$1/node-id" &&
	cat >"$1/server-map.json" <<-EOF
	{"Index": 22, "Servers": [
	  {"ID": "$N1", "Node": "n1", "Address": "10.0.0.1:8300", "Voter": true},
	  {"ID": "$N2", "Node": "n2", "Address": "10.0.0.2:8300", "Voter": true},
	  {"ID": "$N3", "Node": "n3", "Address": "10.0.0.3:8300", "Voter": false}
	]}
	EOF
}

# peers_of FILE: "id address non_voter" lines of a peers.json.
peers_of () {
	json_get "$1" 'join "", map { "$_->{id} $_->{address} " . ($_->{non_voter} ? "true" : "false") . "\n" } @$j' |
		sed -e '/^$/d'
}

test_expect_success 'recover without -data-dir: exit 2' '
	test_expect_code 2 proconsul operator raft recover >out 2>err &&
	test_grep "data-dir is required" err
'

test_expect_success PERL 'recover: default is this server alone' '
	make_dir rd &&
	proconsul operator raft recover -data-dir=rd >out 2>err &&
	test -f rd/raft/peers.json &&
	peers_of rd/raft/peers.json >actual &&
	echo "$N1 10.0.0.1:8300 false" >expect &&
	test_cmp expect actual &&
	test_grep "^Wrote rd/raft/peers.json:" out &&
	test_grep "Keeping 1 of the 3 servers of the Raft configuration at index 22" out &&
	test_grep "Start this server (n1) first" out &&
	test_grep "Servers not listed: n2, n3" out &&
	test_grep "stale log" out &&
	! test -s err
'

test_expect_success 'recover: peers.json is mode 0600, raft/ created 0700' '
	test "$(stat -c %a rd/raft/peers.json)" = 600 &&
	test "$(stat -c %a rd/raft)" = 700 &&
	! ls -A rd/raft | grep -v "^peers.json$"
'

test_expect_success PERL 'recover: Consul raft v3 format, two-space indent' '
	cat >expect <<-EOF &&
	[
	  {
	    "id": "$N1",
	    "address": "10.0.0.1:8300",
	    "non_voter": false
	  }
	]
	EOF
	test_cmp expect rd/raft/peers.json
'

test_expect_success PERL 'recover -servers: names, IDs and addresses, all voters' '
	proconsul operator raft recover -data-dir=rd \
		-servers="n1, $N3" -servers=10.0.0.2:8300 >out 2>err &&
	peers_of rd/raft/peers.json >actual &&
	cat >expect <<-EOF &&
	$N1 10.0.0.1:8300 false
	$N2 10.0.0.2:8300 false
	$N3 10.0.0.3:8300 false
	EOF
	test_cmp expect actual &&
	test_grep "Other listed servers: n2, n3" out &&
	test_grep "Servers not listed: none" out
'

test_expect_success PERL 'recover -servers: a bare IP matches its server' '
	proconsul operator raft recover -data-dir=rd -servers=n1,10.0.0.2 >out &&
	peers_of rd/raft/peers.json >actual &&
	printf "%s\n" "$N1 10.0.0.1:8300 false" "$N2 10.0.0.2:8300 false" >expect &&
	test_cmp expect actual
'

test_expect_success 'recover: an unknown server is named, nothing written' '
	cp rd/raft/peers.json before &&
	test_expect_code 1 proconsul operator raft recover -data-dir=rd \
		-servers=n1,n9 >out 2>err &&
	test_grep "unknown server .n9." err &&
	test_cmp before rd/raft/peers.json &&
	! test -s out
'

test_expect_success 'recover: this server must be among -servers' '
	test_expect_code 1 proconsul operator raft recover -data-dir=rd \
		-servers=n2,n3 2>err &&
	test_grep "this server (.n1., $N1) must be one of -servers" err
'

test_expect_success 'recover -dry-run writes nothing' '
	make_dir dry &&
	proconsul operator raft recover -data-dir=dry -dry-run >out 2>err &&
	test_grep "^Dry run: nothing written" out &&
	test_grep "\"id\": \"$N1\"" out &&
	! test -e dry/raft &&
	! test -e dry/agent.lock
'

test_expect_success 'recover refuses while an agent holds the lock' '
	make_dir locked &&
	: >locked/agent.lock &&
	flock -o locked/agent.lock sleep 5 &
	lock_pid=$! &&
	test_when_finished "kill $lock_pid 2>/dev/null; wait $lock_pid 2>/dev/null; :" &&
	i=0 &&
	while flock -n locked/agent.lock true && test $i -lt 50; do
		sleep 0.1; i=$((i + 1))
	done &&
	test_expect_code 1 proconsul operator raft recover -data-dir=locked \
		>out 2>err &&
	test_grep "an agent is running on locked; stop it first" err &&
	! test -e locked/raft &&
	test_expect_code 1 proconsul operator raft recover -data-dir=locked \
		-dry-run 2>err &&
	test_grep "an agent is running on locked; stop it first" err
'

test_expect_success 'recover works once the lock is released' '
	proconsul operator raft recover -data-dir=locked >out &&
	test -f locked/raft/peers.json
'

test_expect_success 'recover: missing node-id or map, bad node-id' '
	mkdir -p empty &&
	test_expect_code 1 proconsul operator raft recover -data-dir=empty 2>err &&
	test_grep "empty/node-id" err &&
	echo not-a-uuid >empty/node-id &&
	test_expect_code 1 proconsul operator raft recover -data-dir=empty 2>err &&
	test_grep "empty/node-id:1: not a node id" err &&
	echo "$N1" >empty/node-id &&
	test_expect_code 1 proconsul operator raft recover -data-dir=empty 2>err &&
	test_grep "empty/server-map.json" err &&
	test_expect_code 1 proconsul operator raft recover -data-dir=nowhere 2>err &&
	test_grep "nowhere" err
'

test_expect_success 'recover: malformed map gives file:line:column' '
	make_dir bad &&
	printf "{\"Index\": 3,\n \"Servers\": [\n  {\"ID\": \"x\",}\n]}\n" \
		>bad/server-map.json &&
	test_expect_code 1 proconsul operator raft recover -data-dir=bad 2>err &&
	test_grep "bad/server-map.json:3:" err &&
	! test -e bad/raft
'

test_expect_success 'recover: map without Servers, entry without ID, self missing' '
	echo "{\"Index\": 3}" >bad/server-map.json &&
	test_expect_code 1 proconsul operator raft recover -data-dir=bad 2>err &&
	test_grep "no \"Servers\" array" err &&
	echo "{\"Servers\": [{\"Node\": \"n1\", \"Address\": \"10.0.0.1:8300\"}]}" \
		>bad/server-map.json &&
	test_expect_code 1 proconsul operator raft recover -data-dir=bad 2>err &&
	test_grep "Servers\[0\] has no \"ID\"" err &&
	echo "{\"Servers\": [{\"ID\": \"$N2\", \"Address\": \"10.0.0.2:8300\"}]}" \
		>bad/server-map.json &&
	test_expect_code 1 proconsul operator raft recover -data-dir=bad 2>err &&
	test_grep "this server (node id $N1) is not in" err &&
	! test -e bad/raft
'

# ---------------------------------------------------------------------
# Output formats against a fake API (canned JSON, requests logged)

FAKE=$TEST_NET.200:8500
cat >fake.pl <<'EOF'
# fake.pl ADDR DIR: answer each request from DIR/routes ("METHOD PATH
# STATUS FILE" lines, the last match wins; 404 otherwise) and append
# "METHOD TARGET BODY" to DIR/requests.
use strict;
use IO::Socket::INET;
my ($addr, $dir) = @ARGV;
my $srv = IO::Socket::INET->new(LocalAddr => $addr, Listen => 16,
	ReuseAddr => 1, Proto => 'tcp') or die "listen $addr: $!\n";
open my $ready, '>', "$dir/fake.ready" or die; close $ready;
while (my $c = $srv->accept) {
	local $/ = "\r\n";
	my $line = <$c>;
	next unless defined $line;
	chomp $line;
	my ($m, $target) = split / /, $line;
	my $len = 0;
	while (my $h = <$c>) {
		chomp $h;
		last if $h eq '';
		$len = $1 if $h =~ /^content-length:\s*(\d+)/i;
	}
	my $body = '';
	read($c, $body, $len) if $len;
	open my $log, '>>', "$dir/requests" or die;
	print $log "$m $target $body\n";
	close $log;
	(my $path = $target) =~ s/\?.*//;
	my ($st, $file) = (404, undef);
	open my $r, '<', "$dir/routes" or die;
	local $/ = "\n";
	while (<$r>) {
		my @f = split ' ';
		($st, $file) = ($f[2], $f[3]) if $f[0] eq $m && $f[1] eq $path;
	}
	close $r;
	my $out = '';
	if (defined $file) {
		open my $f, '<', "$dir/$file" or die;
		local $/;
		$out = <$f>;
		close $f;
	}
	print $c "HTTP/1.1 $st Fake\r\nContent-Type: application/json\r\n" .
		"Content-Length: " . length($out) . "\r\nConnection: close\r\n\r\n$out";
	close $c;
}
EOF

# route METHOD PATH STATUS FILE: add (or override) a canned answer.
route () {
	echo "$*" >>routes
}

cat >config.json <<EOF
{"Servers":[
 {"ID":"$N1","Node":"n1","Address":"10.0.0.1:8300","Leader":true,"Voter":true,"ProtocolVersion":"3"},
 {"ID":"$N2","Node":"n2","Address":"10.0.0.2:8300","Leader":false,"Voter":true,"ProtocolVersion":"3"},
 {"ID":"$N3","Node":"n3","Address":"10.0.0.3:8300","Leader":false,"Voter":false,"ProtocolVersion":"3"},
 {"ID":"$N4","Node":"node-four","Address":"10.0.0.4:8300","Leader":false,"Voter":false,"ProtocolVersion":""}
],"Index":22}
EOF
cat >health.json <<EOF
{"Healthy":true,"FailureTolerance":1,"Servers":[
 {"ID":"$N3","Name":"n3","Address":"10.0.0.3:8300","SerfStatus":"alive","Version":"1.17.0","Leader":false,"LastContact":"2ms","LastTerm":3,"LastIndex":39,"Healthy":true,"Voter":false,"StableSince":"2024-01-02T03:04:05Z"},
 {"ID":"$N1","Name":"n1","Address":"10.0.0.1:8300","SerfStatus":"alive","Version":"1.17.0","Leader":true,"LastContact":"0s","LastTerm":3,"LastIndex":42,"Healthy":true,"Voter":true,"StableSince":"2024-01-02T03:04:05Z"},
 {"ID":"$N2","Name":"n2","Address":"10.0.0.2:8300","SerfStatus":"alive","Version":"1.17.0","Leader":false,"LastContact":"1500ms","LastTerm":3,"LastIndex":41,"Healthy":true,"Voter":true,"StableSince":"2024-01-02T03:04:05Z"}
]}
EOF
sed -e 's/"Healthy":true,"FailureTolerance":1/"Healthy":false,"FailureTolerance":0/' \
	health.json >unhealthy.json
cat >autopilot.json <<'EOF'
{"CleanupDeadServers":true,"LastContactThreshold":"200ms","MaxTrailingLogs":250,"MinQuorum":0,"ServerStabilizationTime":"10s","RedundancyZoneTag":"","DisableUpgradeMigration":false,"UpgradeVersionTag":"","CreateIndex":4,"ModifyIndex":7}
EOF
echo 'No cluster leader' >noleader.txt
echo true >true.txt
echo false >false.txt
echo '{"Success":true}' >success.json
echo '{"Success":false}' >nosuccess.json
: >empty.txt

test_expect_success PERL 'setup: fake API' '
	: >routes &&
	route GET /v1/operator/raft/configuration 200 config.json &&
	route GET /v1/operator/autopilot/health 200 health.json &&
	route GET /v1/operator/autopilot/configuration 200 autopilot.json &&
	route PUT /v1/operator/autopilot/configuration 200 true.txt &&
	route DELETE /v1/operator/raft/peer 200 empty.txt &&
	route POST /v1/operator/raft/transfer-leader 200 success.json &&
	{ perl fake.pl "$FAKE" "$TRASH" >fake.log 2>&1 & } &&
	echo $! >fake.pid &&
	i=0 &&
	while ! test -f fake.ready && test $i -lt 100; do
		sleep 0.1; i=$((i + 1))
	done &&
	test -f fake.ready &&
	test_set_prereq FAKE
'

# peers_row NODE ID ADDR STATE VOTER PROTO [INDEX [TRAILS]]: a list-peers
# line, columns as wide as the widest cell of the fake data.
peers_row () {
	if test $# = 8; then
		printf "%-9s  %-36s  %-13s  %-8s  %-5s  %-12s  %-12s  %s\n" "$@"
	else
		printf "%-9s  %-36s  %-13s  %-8s  %-5s  %-12s  %s\n" "$@"
	fi
}

test_expect_success FAKE 'list-peers: columns, commit index, trails' '
	proconsul operator raft list-peers -http-addr=$FAKE >actual 2>err &&
	{
		peers_row Node ID Address State Voter RaftProtocol "Commit Index" \
			"Trails Leader By" &&
		peers_row n1 $N1 10.0.0.1:8300 leader true 3 42 _ &&
		peers_row n2 $N2 10.0.0.2:8300 follower true 3 41 "1 Commit" &&
		peers_row n3 $N3 10.0.0.3:8300 follower false 3 39 "3 Commits" &&
		peers_row node-four $N4 10.0.0.4:8300 follower false "<=1" _
	} >expect &&
	test_cmp expect actual &&
	! test -s err
'

test_expect_success FAKE 'list-peers -stale asks both endpoints for ?stale' '
	: >requests &&
	proconsul operator raft list-peers -stale -http-addr=$FAKE >out &&
	test_grep "^GET /v1/operator/raft/configuration?stale" requests &&
	test_grep "^GET /v1/operator/autopilot/health?stale" requests
'

test_expect_success FAKE 'list-peers: 429 (unhealthy) health still fills the columns' '
	route GET /v1/operator/autopilot/health 429 unhealthy.json &&
	test_when_finished "route GET /v1/operator/autopilot/health 200 health.json" &&
	proconsul operator raft list-peers -http-addr=$FAKE >actual &&
	test_cmp expect actual
'

test_expect_success FAKE 'list-peers: health failure falls back to "_"' '
	route GET /v1/operator/autopilot/health 500 noleader.txt &&
	test_when_finished "route GET /v1/operator/autopilot/health 200 health.json" &&
	proconsul operator raft list-peers -http-addr=$FAKE >actual 2>err &&
	{
		peers_row Node ID Address State Voter RaftProtocol "Commit Index" \
			"Trails Leader By" &&
		peers_row n1 $N1 10.0.0.1:8300 leader true 3 _ &&
		peers_row n2 $N2 10.0.0.2:8300 follower true 3 _ &&
		peers_row n3 $N3 10.0.0.3:8300 follower false 3 _ &&
		peers_row node-four $N4 10.0.0.4:8300 follower false "<=1" _
	} | sed -e "s/ *\$//" >expect &&
	test_cmp expect actual
'

test_expect_success FAKE 'list-peers: no leader is Consul error text, exit 1' '
	route GET /v1/operator/raft/configuration 500 noleader.txt &&
	test_when_finished "route GET /v1/operator/raft/configuration 200 config.json" &&
	test_expect_code 1 proconsul operator raft list-peers -http-addr=$FAKE \
		>out 2>err &&
	echo "Error getting peers: Failed to retrieve raft configuration: Unexpected response code: 500 (No cluster leader)" >expect &&
	test_cmp expect err &&
	! test -s out
'

test_expect_success FAKE 'remove-peer -address / -id: request and message' '
	: >requests &&
	proconsul operator raft remove-peer -http-addr=$FAKE \
		-address=10.0.0.3:8300 >actual &&
	echo "Removed peer with address \"10.0.0.3:8300\"" >expect &&
	test_cmp expect actual &&
	test_grep "^DELETE /v1/operator/raft/peer?address=10.0.0.3%3A8300 " requests &&
	proconsul operator raft remove-peer -http-addr=$FAKE -id=$N3 >actual &&
	echo "Removed peer with id \"$N3\"" >expect &&
	test_cmp expect actual &&
	test_grep "^DELETE /v1/operator/raft/peer?id=$N3 " requests
'

test_expect_success FAKE 'remove-peer: API error, exit 1' '
	route DELETE /v1/operator/raft/peer 500 noleader.txt &&
	test_when_finished "route DELETE /v1/operator/raft/peer 200 empty.txt" &&
	test_expect_code 1 proconsul operator raft remove-peer -http-addr=$FAKE \
		-id=$N3 >out 2>err &&
	echo "Error removing peer: Unexpected response code: 500 (No cluster leader)" >expect &&
	test_cmp expect err
'

test_expect_success FAKE 'transfer-leader: Success, -id passed on' '
	: >requests &&
	proconsul operator raft transfer-leader -http-addr=$FAKE >actual &&
	echo Success >expect &&
	test_cmp expect actual &&
	test_grep "^POST /v1/operator/raft/transfer-leader $" requests &&
	proconsul operator raft transfer-leader -http-addr=$FAKE -id=$N2 >actual &&
	test_cmp expect actual &&
	test_grep "^POST /v1/operator/raft/transfer-leader?id=$N2 " requests
'

test_expect_success FAKE 'transfer-leader: refused or failed, exit 1' '
	route POST /v1/operator/raft/transfer-leader 200 nosuccess.json &&
	test_expect_code 1 proconsul operator raft transfer-leader \
		-http-addr=$FAKE >out 2>err &&
	echo "Error transfering leadership: Failed to transfer leadership" >expect &&
	test_cmp expect err &&
	route POST /v1/operator/raft/transfer-leader 500 noleader.txt &&
	test_expect_code 1 proconsul operator raft transfer-leader \
		-http-addr=$FAKE >out 2>err &&
	echo "Error transfering leadership: Failed to transfer leadership Unexpected response code: 500 (No cluster leader)" >expect &&
	test_cmp expect err &&
	route POST /v1/operator/raft/transfer-leader 200 success.json
'

test_expect_success FAKE 'autopilot get-config: Consul lines' '
	proconsul operator autopilot get-config -http-addr=$FAKE >actual &&
	cat >expect <<-\EOF &&
	CleanupDeadServers = true
	LastContactThreshold = 200ms
	MaxTrailingLogs = 250
	MinQuorum = 0
	ServerStabilizationTime = 10s
	RedundancyZoneTag = ""
	DisableUpgradeMigration = false
	UpgradeVersionTag = ""
	EOF
	test_cmp expect actual
'

test_expect_success FAKE 'autopilot get-config: durations as Go prints them' '
	sed -e "s/\"200ms\"/\"1500ms\"/" -e "s/\"10s\"/\"3660s\"/" \
		-e "s/\"RedundancyZoneTag\":\"\"/\"RedundancyZoneTag\":\"zo\\\\\"ne\"/" \
		autopilot.json >autopilot2.json &&
	route GET /v1/operator/autopilot/configuration 200 autopilot2.json &&
	test_when_finished "route GET /v1/operator/autopilot/configuration 200 autopilot.json" &&
	proconsul operator autopilot get-config -http-addr=$FAKE >actual &&
	test_grep "^LastContactThreshold = 1.5s$" actual &&
	test_grep "^ServerStabilizationTime = 1h1m0s$" actual &&
	test_grep "^RedundancyZoneTag = \"zo\\\\\"ne\"$" actual
'

test_expect_success FAKE 'autopilot get-config: API error, exit 1' '
	route GET /v1/operator/autopilot/configuration 500 noleader.txt &&
	test_when_finished "route GET /v1/operator/autopilot/configuration 200 autopilot.json" &&
	test_expect_code 1 proconsul operator autopilot get-config \
		-http-addr=$FAKE 2>err &&
	echo "Error querying Autopilot configuration: Unexpected response code: 500 (No cluster leader)" >expect &&
	test_cmp expect err
'

test_expect_success FAKE,PERL 'autopilot set-config: GET, merge, PUT ?cas=ModifyIndex' '
	: >requests &&
	proconsul operator autopilot set-config -http-addr=$FAKE \
		-cleanup-dead-servers=false -max-trailing-logs=100 -min-quorum=3 \
		-last-contact-threshold=1s -server-stabilization-time=90s >actual &&
	echo "Configuration updated!" >expect &&
	test_cmp expect actual &&
	test_grep "^GET /v1/operator/autopilot/configuration " requests &&
	grep "^PUT /v1/operator/autopilot/configuration?cas=7 " requests |
		sed -e "s/^[^ ]* [^ ]* //" >body.json &&
	json_get body.json "join q(,), map { qq(\$_=) . (JSON::PP::is_bool(\$j->{\$_}) ? (\$j->{\$_} ? q(true) : q(false)) : \$j->{\$_}) } sort keys %\$j" >actual &&
	echo "CleanupDeadServers=false,CreateIndex=4,DisableUpgradeMigration=false,LastContactThreshold=1s,MaxTrailingLogs=100,MinQuorum=3,ModifyIndex=7,RedundancyZoneTag=,ServerStabilizationTime=1m30s,UpgradeVersionTag=" >expect &&
	test_cmp expect actual
'

test_expect_success FAKE,PERL 'autopilot set-config: flags not given keep their values' '
	: >requests &&
	proconsul operator autopilot set-config -http-addr=$FAKE -min-quorum=5 >out &&
	grep "^PUT " requests | sed -e "s/^[^ ]* [^ ]* //" >body.json &&
	test "$(json_get body.json "\$j->{MinQuorum}")" = 5 &&
	test "$(json_get body.json "\$j->{MaxTrailingLogs}")" = 250 &&
	test "$(json_get body.json "\$j->{CleanupDeadServers}")" = true &&
	test "$(json_get body.json "\$j->{LastContactThreshold}")" = 200ms
'

test_expect_success FAKE 'autopilot set-config: CAS refused, exit 1' '
	route PUT /v1/operator/autopilot/configuration 200 false.txt &&
	test_when_finished "route PUT /v1/operator/autopilot/configuration 200 true.txt" &&
	test_expect_code 1 proconsul operator autopilot set-config \
		-http-addr=$FAKE -min-quorum=1 >actual &&
	echo "Configuration could not be atomically updated, please try again" >expect &&
	test_cmp expect actual
'

test_expect_success FAKE 'autopilot set-config: PUT error, exit 1' '
	route PUT /v1/operator/autopilot/configuration 500 noleader.txt &&
	test_when_finished "route PUT /v1/operator/autopilot/configuration 200 true.txt" &&
	test_expect_code 1 proconsul operator autopilot set-config \
		-http-addr=$FAKE -min-quorum=1 2>err &&
	echo "Error setting Autopilot configuration: Unexpected response code: 500 (No cluster leader)" >expect &&
	test_cmp expect err
'

test_expect_success FAKE 'autopilot state: Consul pretty layout, servers by ID' '
	proconsul operator autopilot state -http-addr=$FAKE >actual &&
	cat >expect <<-EOF &&
	Healthy:                      true
	Failure Tolerance:            1
	Leader:                       $N1
	Voters:
	   $N1
	   $N2
	Servers:
	   $N1
	      Name:            n1
	      Address:         10.0.0.1:8300
	      Version:         1.17.0
	      Status:          leader
	      Node Status:     alive
	      Healthy:         true
	      Last Contact:    0s
	      Last Term:       3
	      Last Index:      42
	      Stable Since:    2024-01-02T03:04:05Z
	   $N2
	      Name:            n2
	      Address:         10.0.0.2:8300
	      Version:         1.17.0
	      Status:          voter
	      Node Status:     alive
	      Healthy:         true
	      Last Contact:    1.5s
	      Last Term:       3
	      Last Index:      41
	      Stable Since:    2024-01-02T03:04:05Z
	   $N3
	      Name:            n3
	      Address:         10.0.0.3:8300
	      Version:         1.17.0
	      Status:          non-voter
	      Node Status:     alive
	      Healthy:         true
	      Last Contact:    2ms
	      Last Term:       3
	      Last Index:      39
	      Stable Since:    2024-01-02T03:04:05Z
	EOF
	test_cmp expect actual
'

test_expect_success FAKE,PERL 'autopilot state: 429 is still a report; -format=json' '
	route GET /v1/operator/autopilot/health 429 unhealthy.json &&
	test_when_finished "route GET /v1/operator/autopilot/health 200 health.json" &&
	proconsul operator autopilot state -http-addr=$FAKE >out &&
	test_grep "^Healthy:                      false$" out &&
	test_grep "^Failure Tolerance:            0$" out &&
	proconsul operator autopilot state -format=json -http-addr=$FAKE >out.json &&
	test "$(json_get out.json "\$j->{Healthy}")" = false &&
	test "$(json_get out.json "scalar @{\$j->{Servers}}")" = 3 &&
	test_grep "^    \"Healthy\": false,$" out.json
'

test_expect_success FAKE 'autopilot state: API error, exit 1' '
	route GET /v1/operator/autopilot/health 500 noleader.txt &&
	test_when_finished "route GET /v1/operator/autopilot/health 200 health.json" &&
	test_expect_code 1 proconsul operator autopilot state -http-addr=$FAKE \
		2>err &&
	echo "Error querying Autopilot state: Unexpected response code: 500 (No cluster leader)" >expect &&
	test_cmp expect err
'

test_expect_success FAKE 'stop the fake API' '
	kill "$(cat fake.pid)" &&
	wait "$(cat fake.pid)" 2>/dev/null; :
'

# ---------------------------------------------------------------------
# A real dev agent. The operator endpoints may not exist yet: if they
# answer 404 the tests below are skipped (missing OPERATOR_API).

test_expect_success 'setup: dev agent' '
	start_agent a1 -dev &&
	api GET /v1/operator/raft/configuration &&
	if test "$status" = 200; then
		test_set_prereq OPERATOR_API
	else
		echo >&9 "operator endpoints answer $status: tests skipped"
	fi
'

test_expect_success OPERATOR_API 'agent: list-peers shows a1 as leader voter' '
	proconsul operator raft list-peers >out &&
	head -n 1 out >hdr &&
	test_grep "^Node  *ID  *Address  *State  *Voter  *RaftProtocol  *Commit Index  *Trails Leader By$" hdr &&
	test_grep "^a1  .*  $a1_ADDR:[0-9]*  *leader  *true  *3  *[0-9][0-9]*  *_$" out &&
	test $(wc -l <out) = 2
'

test_expect_success OPERATOR_API 'agent: list-peers -stale works too' '
	proconsul operator raft list-peers -stale >out &&
	test_grep "leader" out
'

test_expect_success OPERATOR_API 'agent: autopilot get-config shows the defaults' '
	proconsul operator autopilot get-config >out &&
	test_grep "^CleanupDeadServers = true$" out &&
	test_grep "^LastContactThreshold = 200ms$" out &&
	test_grep "^MaxTrailingLogs = 250$" out &&
	test_grep "^MinQuorum = 0$" out &&
	test_grep "^ServerStabilizationTime = 10s$" out
'

test_expect_success OPERATOR_API 'agent: autopilot set-config round trip' '
	proconsul operator autopilot set-config -min-quorum=1 \
		-last-contact-threshold=300ms -cleanup-dead-servers=false >out &&
	echo "Configuration updated!" >expect &&
	test_cmp expect out &&
	proconsul operator autopilot get-config >out &&
	test_grep "^MinQuorum = 1$" out &&
	test_grep "^LastContactThreshold = 300ms$" out &&
	test_grep "^CleanupDeadServers = false$" out &&
	test_grep "^MaxTrailingLogs = 250$" out
'

test_expect_success OPERATOR_API 'agent: autopilot state is healthy' '
	proconsul operator autopilot state >out &&
	test_grep "^Healthy:                      true$" out &&
	test_grep "^      Name:            a1$" out &&
	test_grep "^      Status:          leader$" out
'

test_expect_success OPERATOR_API 'agent: remove-peer of an unknown address fails' '
	test_expect_code 1 proconsul operator raft remove-peer \
		-address=$TEST_NET.99:8300 >out 2>err &&
	test_grep "^Error removing peer: Unexpected response code: " err
'

test_expect_success OPERATOR_API 'agent: transfer-leader with one server fails' '
	test_expect_code 1 proconsul operator raft transfer-leader >out 2>err &&
	test_grep "^Error transfering leadership: Failed to transfer leadership" err
'

test_done
