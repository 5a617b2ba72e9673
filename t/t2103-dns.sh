#!/bin/sh
test_description='DNS interface on port 8600: node and service lookups (A,
SRV with additional records, tags, RFC 2782), health filtering, NXDOMAIN
with SOA, REFUSED outside the domain, UDP truncation, TCP (several queries
per connection), garbage packets, a client agent forwarding to a server'
. ./lib.sh

if ! command -v dig >/dev/null 2>&1; then
	skip_all='dig not installed (apt-get install dnsutils)'
	test_done
fi

# q NAME [TYPE] [dig options...]: ask agent $DNS_AGENT (default a1) over
# UDP; the reply goes to ./dig.out. dig exits 0 on any reply.
q () {
	q_ip_=$(agent_addr "${DNS_AGENT:-a1}")
	dig @"$q_ip_" -p 8600 +time=3 +tries=1 "$@" >dig.out 2>&1 || {
		echo >&9 "dig failed: $*"
		cat >&9 dig.out
		return 1
	}
}

# short NAME [TYPE] [options]: the +short answer, sorted, in ./actual.
short () {
	q "$@" +short && sort dig.out >actual
}

# answers NAME [TYPE] [options]: answer records, whitespace squeezed.
answers () {
	q "$@" +noall +answer && tr -s ' \t' '  ' <dig.out | sort >actual
}

expect_status_dns () {
	test_grep "status: $1," dig.out
}

reg () {
	api PUT /v1/catalog/register --data-binary "$1" &&
	expect_status 200
}

# web NODE IP PORT TAG STATUS: node NODE with one web instance and a
# check of that instance.
web () {
	reg "{\"Node\":\"$1\",\"Address\":\"$2\",
	  \"Service\":{\"ID\":\"web\",\"Service\":\"web\",\"Port\":$3,
	   \"Tags\":[\"$4\"]},
	  \"Check\":{\"CheckID\":\"web-check\",\"Name\":\"web\",
	   \"Status\":\"$5\",\"ServiceID\":\"web\"}}"
}

test_expect_success 'setup: a dev agent with enable_truncate' '
	start_agent a1 -dev -hcl "dns_config { enable_truncate = true }" &&
	test_grep "Started DNS server on $a1_ADDR:8600 (udp)" a1.log &&
	test_grep "Started DNS server on $a1_ADDR:8600 (tcp)" a1.log
'

test_expect_success 'register web instances: passing, warning, critical' '
	web web1 10.0.0.1 80 Primary passing &&
	web web2 10.0.0.2 81 secondary warning &&
	web web3 10.0.0.3 82 primary critical
'

test_expect_success 'node lookup: A record of the node address' '
	short web1.node.consul &&
	echo 10.0.0.1 >expect &&
	test_cmp expect actual &&
	short WEB2.node.dc1.consul A &&
	echo 10.0.0.2 >expect &&
	test_cmp expect actual &&
	q web1.node.consul &&
	test_grep "flags: qr aa rd;" dig.out
'

test_expect_success 'the agent itself, PTR of a node address, .addr names' '
	short a1.node.consul &&
	echo "$a1_ADDR" >expect &&
	test_cmp expect actual &&
	short -x 10.0.0.2 &&
	echo web2.node.dc1.consul. >expect &&
	test_cmp expect actual &&
	short 0a000009.addr.dc1.consul &&
	echo 10.0.0.9 >expect &&
	test_cmp expect actual &&
	q consul SOA &&
	test_grep "^consul\..*SOA.*ns\.consul\. hostmaster\.consul\. " dig.out
'

test_expect_success 'service lookup: passing and warning, never critical' '
	short web.service.consul &&
	printf "10.0.0.1\n10.0.0.2\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'SRV: priority 1, weight, port, node target, A additional' '
	answers web.service.consul SRV &&
	cat >expect <<-\EOF &&
	web.service.consul. 0 IN SRV 1 1 80 web1.node.dc1.consul.
	web.service.consul. 0 IN SRV 1 1 81 web2.node.dc1.consul.
	EOF
	test_cmp expect actual &&
	q web.service.consul SRV +noall +additional &&
	grep -v -e "^;" -e "^\$" dig.out | tr -s " \t" "  " | sort >actual &&
	cat >expect <<-\EOF &&
	web1.node.dc1.consul. 0 IN A 10.0.0.1
	web2.node.dc1.consul. 0 IN A 10.0.0.2
	EOF
	test_cmp expect actual
'

test_expect_success 'tag lookup (tags match case-insensitively)' '
	short primary.web.service.consul &&
	echo 10.0.0.1 >expect &&
	test_cmp expect actual &&
	short secondary.web.service.dc1.consul &&
	echo 10.0.0.2 >expect &&
	test_cmp expect actual
'

test_expect_success 'RFC 2782 form: _service._tag and _service._tcp' '
	answers _web._primary.service.consul SRV &&
	echo "_web._primary.service.consul. 0 IN SRV 1 1 80 web1.node.dc1.consul." >expect &&
	test_cmp expect actual &&
	short _web._tcp.service.consul SRV &&
	printf "1 1 80 web1.node.dc1.consul.\n1 1 81 web2.node.dc1.consul.\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'unknown service and node: NXDOMAIN with the SOA' '
	q nope.service.consul &&
	expect_status_dns NXDOMAIN &&
	q nope.service.consul +noall +authority &&
	test_grep "^consul\..*SOA.*ns\.consul\. hostmaster\.consul\. " dig.out &&
	q nope.node.consul &&
	expect_status_dns NXDOMAIN &&
	q web.service.dc2.consul &&
	expect_status_dns NXDOMAIN
'

test_expect_success 'a service whose instances are all critical: NXDOMAIN' '
	web web1 10.0.0.1 80 Primary critical &&
	web web2 10.0.0.2 81 secondary critical &&
	q web.service.consul &&
	expect_status_dns NXDOMAIN &&
	web web1 10.0.0.1 80 Primary passing &&
	short web.service.consul &&
	echo 10.0.0.1 >expect &&
	test_cmp expect actual
'

test_expect_success 'names outside the domain are refused (no recursors)' '
	q example.com &&
	expect_status_dns REFUSED
'

test_expect_success 'register 30 instances of "many"' '
	i=1 &&
	while test $i -le 30; do
		reg "{\"Node\":\"m$i\",\"Address\":\"10.1.0.$i\",
		  \"Service\":{\"Service\":\"many\",\"Port\":$((9000 + i))}}" ||
		return 1
		i=$((i + 1))
	done
'

test_expect_success 'UDP without EDNS: 3 answers (udp_answer_limit), TC set' '
	q many.service.consul +noedns +ignore &&
	test_grep "flags: qr aa tc rd;" dig.out &&
	test_grep "ANSWER: 3," dig.out &&
	q many.service.consul SRV +noedns +ignore &&
	test_grep "flags: qr aa tc rd;" dig.out &&
	test_grep "ANSWER: 3, AUTHORITY: 0, ADDITIONAL: 3" dig.out
'

test_expect_success 'answers are shuffled' '
	q many.service.consul +noedns +ignore +short &&
	cp dig.out first &&
	n=0 &&
	while test $n -lt 20; do
		q many.service.consul +noedns +ignore +short &&
		! cmp -s first dig.out && break
		n=$((n + 1))
	done &&
	test $n -lt 20
'

test_expect_success 'EDNS: as many as fit in the advertised size' '
	q many.service.consul SRV +bufsize=1232 +ignore &&
	test_grep "flags: qr aa tc rd;" dig.out &&
	test_grep "; EDNS: version: 0, flags:; udp: 1232" dig.out &&
	n=$(sed -n "s/.*ANSWER: \([0-9]*\),.*/\1/p" dig.out) &&
	test "$n" -gt 3 && test "$n" -lt 30 &&
	q many.service.consul +bufsize=4096 &&
	test_grep "ANSWER: 30," dig.out
'

test_expect_success 'TCP: the full answer' '
	q many.service.consul SRV +tcp &&
	test_grep "flags: qr aa rd;" dig.out &&
	test_grep "ANSWER: 30, AUTHORITY: 0, ADDITIONAL: 31" dig.out &&
	short web1.node.consul +tcp &&
	echo 10.0.0.1 >expect &&
	test_cmp expect actual
'

test_expect_success 'TCP: several queries on one connection' '
	q +tcp +keepopen +short web1.node.consul web2.node.consul \
		m7.node.consul &&
	printf "10.0.0.1\n10.0.0.2\n10.1.0.7\n" >expect &&
	test_cmp expect dig.out
'

test_expect_success PERL 'TCP: pipelined queries answered by id' '
	perl -MIO::Socket::INET -e "
		my \$s = IO::Socket::INET->new(PeerAddr => \"$a1_ADDR:8600\",
			Proto => \"tcp\", Timeout => 5) or die \"connect: \$!\";
		my \$msg = \"\";
		for my \$id (1 .. 5) {
			my \$q = pack(\"nnnnnn\", \$id, 0x0100, 1, 0, 0, 0) .
				\"\\x04web1\\x04node\\x06consul\\x00\" . pack(\"nn\", 1, 1);
			\$msg .= pack(\"n\", length \$q) . \$q;
		}
		print \$s \$msg;
		my %seen;
		for (1 .. 5) {
			read(\$s, my \$l, 2) == 2 or die \"short read\";
			my \$n = unpack(\"n\", \$l);
			read(\$s, my \$r, \$n) == \$n or die \"short body\";
			my (\$id, \$fl, \$qd, \$an) = unpack(\"nnnn\", \$r);
			die \"rcode\" if (\$fl & 15) != 0;
			die \"answers \$an\" if \$an != 1;
			\$seen{\$id}++;
		}
		die \"ids\" unless join(\",\", sort keys %seen) eq \"1,2,3,4,5\";
	"
'

test_expect_success PERL 'TCP: an idle connection is closed after 8 s' '
	perl -MIO::Socket::INET -MIO::Select -e "
		my \$s = IO::Socket::INET->new(PeerAddr => \"$a1_ADDR:8600\",
			Proto => \"tcp\", Timeout => 5) or die \"connect: \$!\";
		my \$t0 = time;
		IO::Select->new(\$s)->can_read(15) or die \"still open\";
		my \$n = sysread(\$s, my \$x, 1);
		die \"got data\" if \$n;
		my \$dt = time - \$t0;
		die \"closed after \$dt s\" if \$dt < 6;
	"
'

test_expect_success PERL 'garbage packets: dropped or FORMERR, agent lives' '
	perl -MIO::Socket::INET -MIO::Select -e "
		srand(2103);
		my \$u = IO::Socket::INET->new(PeerAddr => \"$a1_ADDR:8600\",
			Proto => \"udp\") or die \"udp: \$!\";
		for (1 .. 300) {
			my \$n = int(rand(700));
			\$u->send(join \"\", map { chr(int(rand(256))) } 1 .. \$n);
		}
		# valid queries with a few bytes changed, some cut short
		my \$ok = pack(\"nnnnnn\", 7, 0x0100, 1, 0, 0, 1) .
			\"\\x04_web\\x04_tcp\\x07service\\x06consul\\x00\" .
			pack(\"nn\", 33, 1) . \"\\x00\\x00\\x29\\x04\\xd0\" . (\"\\x00\" x 6);
		for (1 .. 2000) {
			my @b = split //, \$ok;
			\$b[int(rand(@b))] = chr(int(rand(256))) for 1 .. 1 + int(rand(3));
			splice(@b, int(rand(@b))) if rand() < 0.2;
			\$u->send(join \"\", @b);
		}
		# a cut question: FORMERR with the id, header only
		my \$f = IO::Socket::INET->new(PeerAddr => \"$a1_ADDR:8600\",
			Proto => \"udp\") or die \"udp: \$!\";
		my \$got = 0;
		for (1 .. 5) {  # the flood above may still fill the socket buffer
			\$f->send(pack(\"nnnnnn\", 0x1234, 0x0100, 1, 0, 0, 0) . \"\\x03ab\");
			\$got = IO::Select->new(\$f)->can_read(2) and last;
		}
		\$got or die \"no FORMERR\";
		\$f->recv(my \$r, 512);
		my (\$id, \$fl) = unpack(\"nn\", \$r);
		die sprintf(\"got id %x flags %x\", \$id, \$fl)
			unless \$id == 0x1234 && (\$fl & 0x800f) == 0x8001;
		# TCP: junk, a length that never arrives, then hang up
		for my \$junk (\"\\x00\\x05hello\", \"\\xff\\xff\" . (\"x\" x 100),
			\"\\x00\\x00\", join(\"\", map { chr(int(rand(256))) } 1 .. 2000)) {
			my \$t = IO::Socket::INET->new(PeerAddr => \"$a1_ADDR:8600\",
				Proto => \"tcp\", Timeout => 5) or die \"tcp: \$!\";
			print \$t \$junk;
			close \$t;
		}
	" &&
	pid_alive "$a1_PID" &&
	short web1.node.consul &&
	echo 10.0.0.1 >expect &&
	test_cmp expect actual &&
	short web1.node.consul +tcp &&
	test_cmp expect actual
'

test_expect_success 'a client agent forwards lookups to a server' '
	TEST_AGENT_WAIT=http start_agent c1 -retry-join=$a1_ADDR &&
	n=0 &&
	while test $n -lt 100; do
		DNS_AGENT=c1 short web.service.consul &&
		test "$(cat actual)" = 10.0.0.1 && break
		n=$((n + 1))
		sleep 0.2
	done &&
	test $n -lt 100 &&
	DNS_AGENT=c1 short web1.node.consul +tcp &&
	echo 10.0.0.1 >expect &&
	test_cmp expect actual &&
	DNS_AGENT=c1 q nope.node.consul &&
	expect_status_dns NXDOMAIN &&
	DNS_AGENT=c1 q many.service.consul +noedns +ignore &&
	test_grep "ANSWER: 3," dig.out &&
	test_grep "flags: qr aa rd;" dig.out # no TC: Consul default
'

test_expect_success '-dns-port=-1 disables DNS' '
	start_agent d1 -dev -dns-port=-1 &&
	! grep "Started DNS server" d1.log &&
	DNS_AGENT=d1 q web1.node.consul +tcp +tries=1 +time=1 ||
	: dig fails: nothing listens &&
	! grep "status: NOERROR" dig.out
'

test_done
