#!/bin/sh
test_description='HTTP robustness: truncated, oversized and garbage requests get a 4xx (or a close) and never take the agent down'
. ./lib.sh

if ! test_have_prereq PERL; then
	skip_all='needs perl with IO::Socket::INET'
	test_done
fi

# raw.pl CASE ADDR: send one hand-made request on a fresh connection to
# ADDR:8500 and print what came back: the status code of the first
# response, "closed" (connection closed without a response) or "timeout"
# (nothing within 3 s). "count" prints the number of responses instead.
cat >raw.pl <<\EOF
use strict; use warnings;
use IO::Socket::INET; use IO::Select; use Time::HiRes qw(time);
$SIG{PIPE} = 'IGNORE';
my ($case, $addr) = @ARGV;
srand(42);
my $crlf = "\r\n";
my %req = (
	'truncated-line'   => "GET /v1/kv/x HT",
	'truncated-head'   => "GET /v1/kv/x HTTP/1.1\r\nHost: a\r\nX-A: b",
	'truncated-body'   => "PUT /v1/kv/fuzz/trunc HTTP/1.1\r\nHost: a\r\n"
	                    . "Content-Length: 100\r\n\r\nabc",
	'garbage'          => join('', map { chr(int(rand(256))) } 1 .. 4096)
	                    . "\r\n\r\n",
	'garbage-text'     => "HELLO THERE\r\n\r\n",
	'no-version'       => "GET /v1/status/leader\r\n\r\n",
	'bad-version'      => "GET /v1/status/leader HTTP/9.9\r\nHost: a\r\n\r\n",
	'nul-in-path'      => "GET /v1/kv/a\0b HTTP/1.1\r\nHost: a\r\n\r\n",
	'space-in-path'    => "GET /v1/kv/a b c HTTP/1.1\r\nHost: a\r\n\r\n",
	'huge-header'      => "GET /v1/status/leader HTTP/1.1\r\nHost: a\r\n"
	                    . "X-Big: " . ("A" x (1024 * 1024)) . "\r\n\r\n",
	'many-headers'     => "GET /v1/status/leader HTTP/1.1\r\nHost: a\r\n"
	                    . join('', map { "X-H$_: v\r\n" } 1 .. 20000) . "\r\n",
	'huge-url'         => "GET /v1/kv/" . ("k" x (256 * 1024))
	                    . " HTTP/1.1\r\nHost: a\r\n\r\n",
	'huge-query'       => "GET /v1/kv/x?" . ("a=b&" x 50000)
	                    . " HTTP/1.1\r\nHost: a\r\n\r\n",
	'bogus-length'     => "PUT /v1/kv/fuzz/bogus HTTP/1.1\r\nHost: a\r\n"
	                    . "Content-Length: 99999999999999999\r\n\r\nabc",
	'negative-length'  => "PUT /v1/kv/fuzz/neg HTTP/1.1\r\nHost: a\r\n"
	                    . "Content-Length: -5\r\n\r\nabc",
	'garbage-length'   => "PUT /v1/kv/fuzz/gl HTTP/1.1\r\nHost: a\r\n"
	                    . "Content-Length: 12abc\r\n\r\nabc",
	'two-lengths'      => "PUT /v1/kv/fuzz/two HTTP/1.1\r\nHost: a\r\n"
	                    . "Content-Length: 3\r\nContent-Length: 50\r\n\r\nabc",
	'bad-chunked'      => "PUT /v1/kv/fuzz/chunk HTTP/1.1\r\nHost: a\r\n"
	                    . "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
	'huge-chunk'       => "PUT /v1/kv/fuzz/hchunk HTTP/1.1\r\nHost: a\r\n"
	                    . "Transfer-Encoding: chunked\r\n\r\n"
	                    . "fffffffffffffffff\r\nabc\r\n",
	'big-body'         => "PUT /v1/kv/fuzz/big HTTP/1.1\r\nHost: a\r\n"
	                    . "Content-Length: 1048576\r\n\r\n" . ("b" x 1048576),
	'bad-percent'      => "GET /v1/kv/%zz HTTP/1.1\r\nHost: a\r\n\r\n",
	'bad-percent-end'  => "GET /v1/kv/abc% HTTP/1.1\r\nHost: a\r\n\r\n",
	'bad-percent-query'=> "GET /v1/kv/x?index=%G1 HTTP/1.1\r\nHost: a\r\n\r\n",
	'http2-preface'    => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" . ("\0" x 64),
	'http09'           => "GET /\r\n",
	'absolute-uri'     => "GET http://example.invalid/v1/status/leader HTTP/1.1\r\n"
	                    . "Host: a\r\n\r\n",
	'options-star'     => "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
	'header-no-colon'  => "GET /v1/status/leader HTTP/1.1\r\nHost: a\r\n"
	                    . "NoColonHere\r\n\r\n",
	'lf-only'          => "GET /v1/status/leader HTTP/1.1\nHost: a\n\n",
	'pipelined'        => "GET /v1/status/leader HTTP/1.1\r\nHost: a\r\n\r\n" x 100,
);
my $data = $req{$case} // die "unknown case $case\n";
my $s = IO::Socket::INET->new(PeerAddr => $addr, PeerPort => 8500,
	Proto => 'tcp', Timeout => 5) or die "connect $addr:8500: $!\n";
binmode $s;
$s->blocking(0);
alarm 20;
my $off = 0;
my $sel = IO::Select->new($s);
# write in pieces; the server may answer (and close) before we are done
while ($off < length $data) {
	last unless $sel->can_write(3);
	my $n = syswrite($s, $data, 65536, $off);
	next if !defined $n && $!{EAGAIN};
	last unless defined $n && $n > 0;
	$off += $n;
}
my ($resp, $eof) = ('', 0);
my $deadline = time + 3;
while (1) {
	my $left = $deadline - time;
	last if $left <= 0;
	# once something arrived, stop after 0.5 s of silence
	last unless $sel->can_read(length $resp && $left > 0.5 ? 0.5 : $left);
	my $n = sysread($s, my $buf, 65536);
	next if !defined $n && $!{EAGAIN};
	if (!defined $n || $n == 0) { $eof = 1; last }
	$resp .= $buf;
	if ($case eq 'pipelined') {
		my $c = () = $resp =~ m{HTTP/1\.1 200}g;
		last if $c >= 100;
	} else {
		last if $resp =~ /\r?\n\r?\n/;
	}
}
if ($case eq 'pipelined') {
	my $c = () = $resp =~ m{HTTP/1\.1 200}g;
	print "$c\n";
} elsif ($resp =~ m{^HTTP/\d(?:\.\d)? (\d{3})}) {
	print "$1\n";
} elsif (length $resp) {
	print "junk\n";
} else {
	print $eof ? "closed\n" : "timeout\n";
}
EOF

# slowloris.pl ADDR N: open N connections that each send half a request,
# keep them open and print "ready"; exit when stdin closes or after 30 s.
cat >slowloris.pl <<\EOF
use strict; use IO::Socket::INET;
$SIG{PIPE} = 'IGNORE';
my ($addr, $n) = @ARGV;
my @s;
for (1 .. $n) {
	my $s = IO::Socket::INET->new(PeerAddr => $addr, PeerPort => 8500,
		Timeout => 5) or last;
	syswrite($s, "GET /v1/kv/x HTTP/1.1\r\nHost: a\r\n");
	push @s, $s;
}
open my $f, ">", "slowloris.ready"; print $f scalar(@s), "\n"; close $f;
alarm 30;
sleep 1 while -e "slowloris.hold";
EOF

test_expect_success 'setup: agent' '
	start_agent a1 -server -bootstrap &&
	api PUT /v1/kv/fuzz/canary --data-binary alive &&
	expect_status 200
'

# alive: the agent process runs and answers HTTP with a leader.
alive () {
	pid_alive $a1_PID &&
	api GET /v1/status/leader &&
	expect_status 200 &&
	printf "\"%s:8300\"" "$a1_ADDR" >expect.leader &&
	test_cmp expect.leader out
}

# raw CASE: run raw.pl, result in ./res.
raw () {
	perl raw.pl "$1" "$a1_ADDR" >res
}

# res_is_4xx_or_closed: a 4xx status, or the server closed without one.
res_is_4xx_or_closed () {
	case $(cat res) in
	4[0-9][0-9]|closed) return 0 ;;
	esac
	echo >&2 "expected a 4xx or a close, got: $(cat res)"
	return 1
}

# res_is_not_5xx: anything but a server error (waiting for more input,
# closing, or even answering in HTTP/2 is fine).
res_is_not_5xx () {
	case $(cat res) in
	5[0-9][0-9]) echo >&2 "got: $(cat res)"; return 1 ;;
	esac
	return 0
}

for c in truncated-line truncated-head truncated-body
do
	test_expect_success "truncated request ($c): no crash" "
		raw $c &&
		alive
	"
done

test_expect_success 'a truncated body was not stored' '
	api GET /v1/kv/fuzz/trunc &&
	expect_status 404
'

for c in garbage garbage-text bad-version nul-in-path space-in-path \
	huge-header many-headers huge-url negative-length garbage-length \
	bad-chunked huge-chunk
do
	test_expect_success "malformed request ($c): 4xx or close, agent alive" "
		raw $c &&
		res_is_4xx_or_closed &&
		alive
	"
done

test_expect_success 'huge query string: not a 5xx, agent alive' '
	raw huge-query &&
	res_is_not_5xx &&
	alive
'

test_expect_success 'bogus huge Content-Length: 413 (or 4xx) at once' '
	raw bogus-length &&
	res_is_4xx_or_closed &&
	alive &&
	api GET /v1/kv/fuzz/bogus &&
	expect_status 404
'

test_expect_success 'two different Content-Length headers: not stored as 50 bytes' '
	raw two-lengths;
	alive &&
	api GET "/v1/kv/fuzz/two?raw" &&
	if test "$status" = 200; then test $(wc -c <out) -le 3; fi
'

test_expect_success '1 MiB body: 413, not stored' '
	raw big-body &&
	case $(cat res) in 413|closed) ;; *) echo "got $(cat res)"; false ;; esac &&
	alive &&
	api GET /v1/kv/fuzz/big &&
	expect_status 404
'

for c in bad-percent bad-percent-end bad-percent-query
do
	test_expect_success "invalid percent-encoding ($c): 400" "
		raw $c &&
		echo 400 >expect &&
		test_cmp expect res &&
		alive
	"
done

for c in no-version http2-preface http09 absolute-uri options-star \
	header-no-colon lf-only
do
	test_expect_success "odd but harmless request ($c): agent alive" "
		raw $c;
		res_is_not_5xx &&
		alive
	"
done

test_expect_success '100 pipelined requests get 100 answers' '
	raw pipelined &&
	echo 100 >expect &&
	test_cmp expect res &&
	alive
'

# --- parameters (curl)

test_expect_success '?index=abc: 400 Invalid index' '
	api GET "/v1/kv/fuzz/canary?index=abc" &&
	expect_status 400 &&
	test_grep "Invalid index" out
'

test_expect_success '?index=-1 and an overflowing index: 400' '
	api GET "/v1/kv/fuzz/canary?index=-1" &&
	expect_status 400 &&
	api GET "/v1/kv/fuzz/canary?index=99999999999999999999999" &&
	expect_status 400
'

test_expect_success '?wait=abc and ?wait=10parsecs: 400 Invalid wait time' '
	api GET "/v1/kv/fuzz/canary?index=1&wait=abc" &&
	expect_status 400 &&
	test_grep "Invalid wait time" out &&
	api GET "/v1/kv/fuzz/canary?index=1&wait=10parsecs" &&
	expect_status 400 &&
	test_grep "Invalid wait time" out
'

test_expect_success 'PUT ?flags=abc, -1 and 2^64: 400, not stored' '
	for f in abc -1 18446744073709551616 1.5 ""; do
		api PUT "/v1/kv/fuzz/flags?flags=$f" --data-binary v &&
		expect_status 400 || return 1
	done &&
	api GET /v1/kv/fuzz/flags &&
	expect_status 404
'

test_expect_success 'PUT ?cas=abc and DELETE ?cas=abc: 400' '
	api PUT "/v1/kv/fuzz/cas?cas=abc" --data-binary v &&
	expect_status 400 &&
	api DELETE "/v1/kv/fuzz/canary?cas=abc" &&
	expect_status 400 &&
	api GET "/v1/kv/fuzz/canary?raw" &&
	printf alive >expect &&
	test_cmp expect out
'

test_expect_success 'a 64 KiB key: not a 5xx' '
	k=$(perl -e "print q(k) x 65536") &&
	api PUT "/v1/kv/fuzz/$k" --data-binary v &&
	case $status in 2??|4??) ;; *) false ;; esac &&
	alive
'

test_expect_success 'control characters in a key: not a 5xx' '
	api PUT "/v1/kv/fuzz/%01%02%7f" --data-binary v &&
	case $status in 2??|4??) ;; *) false ;; esac &&
	api GET "/v1/kv/fuzz/%00x" &&
	case $status in 2??|4??) ;; *) false ;; esac &&
	alive
'

test_expect_success 'path traversal in a key: not a 5xx' '
	api GET "/v1/kv/../../etc/passwd" --path-as-is &&
	case $status in 2??|4??) ;; *) false ;; esac &&
	api GET "/v1/kv/a/..%2f..%2fb" &&
	case $status in 2??|4??) ;; *) false ;; esac &&
	alive
'

test_expect_success '200 half-open connections do not block other clients' '
	: >slowloris.hold &&
	rm -f slowloris.ready &&
	{ perl slowloris.pl "$a1_ADDR" 200 >slowloris.log 2>&1 & } &&
	slow_pid=$! &&
	i=0 &&
	while test $i -lt 100 && ! test -f slowloris.ready; do
		sleep 0.1; i=$((i + 1))
	done &&
	test -f slowloris.ready &&
	alive &&
	api PUT /v1/kv/fuzz/during --data-binary ok &&
	expect_status 200 &&
	rm -f slowloris.hold &&
	wait_pid $slow_pid 5
'

test_expect_success 'garbage in a loop (150 connections): agent alive' '
	i=0 &&
	while test $i -lt 150; do
		case $((i % 3)) in
		0) raw garbage ;;
		1) raw bad-percent ;;
		2) raw garbage-text ;;
		esac
		i=$((i + 1))
	done &&
	alive
'

test_expect_success 'the canary key is intact' '
	api GET "/v1/kv/fuzz/canary?raw" &&
	expect_status 200 &&
	printf alive >expect &&
	test_cmp expect out
'

test_expect_success 'stop: exit 0, no sanitizer errors' '
	stop_agent a1 TERM &&
	check_sanitizer_log a1
'

test_done
