#!/usr/bin/perl
# faults-driver.pl - the KV workload of t7006-faults.sh: concurrent
# clients doing writes, CAS and ?consistent reads through random agents,
# each recorded in lincheck's history format (t/lincheck/lincheck.h).
#
#   perl faults-driver.pl run -out PREFIX -stop FILE [-clients 5] [-keys 3]
#	[-timeout 5] [-pause 0.02] [-max 600] NAME=IP:PORT...
#   perl faults-driver.pl final -out FILE [-keys 3] [-timeout 10] NAME=IP:PORT
#
# `run` forks one process per client, each appending to PREFIX.cN until
# FILE exists (or -max seconds); it returns once they all stopped.
# Default-mode reads (no ?consistent: not linearizable, so not in the
# history) go to PREFIX.dN, a line each answered 200 or 404:
# "INVOKE_US DONE_US KEY MODIFYINDEX NAME" (index 0 for a 404).
# `final` reads every key once (?consistent), retrying, into FILE.
# Times are CLOCK_MONOTONIC microseconds (shared by every process of
# the machine, so the test's nemesis log uses the same clock). After
# each event a "# NAME" comment names the agent asked.
#
# Outcomes: a connection refused or not established sent nothing:
# fail. A write or CAS that timed out or got anything but 200 may or may
# not have happened: info. A read other than 200 or 404 is a fail (it
# changed nothing). Values are unique: cN-SEQ.
# Perl core modules only.
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use JSON::PP;
use MIME::Base64;
use POSIX ();
use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC sleep);

my $mode = shift @ARGV // '';
my %o = (clients => 5, keys => 3, timeout => 5, pause => 0.02, max => 600,
	out => undef, stop => undef);
my @nodes;
while (@ARGV) {
	my $a = shift @ARGV;
	if ($a =~ /^-(\w+)$/ && exists $o{$1}) {
		$o{$1} = shift @ARGV;
	} elsif ($a =~ /^(\w+)=([\d.]+):(\d+)$/) {
		push @nodes, [$1, $2, $3];
	} else {
		die "faults-driver: bad argument '$a'\n";
	}
}
die "usage: faults-driver.pl run|final -out FILE NAME=IP:PORT...\n"
	unless ($mode eq 'run' || $mode eq 'final') && $o{out} && @nodes;

sub now_us { int(clock_gettime(CLOCK_MONOTONIC) * 1e6) }

# http(NODE, METHOD, PATH, BODY, TIMEOUT): (status, body), or
# (undef, 'connect') when nothing was sent, (undef, 'timeout') else.
sub http {
	my ($n, $m, $path, $body, $tmo) = @_;
	my $end = clock_gettime(CLOCK_MONOTONIC) + $tmo;
	my $s = IO::Socket::INET->new(PeerAddr => $n->[1], PeerPort => $n->[2],
		Proto => 'tcp', Timeout => $tmo < 2 ? $tmo : 2)
		or return (undef, 'connect');
	my $req = "$m $path HTTP/1.0\r\nHost: $n->[1]\r\n"
		. "Content-Length: " . length($body) . "\r\n\r\n$body";
	my $off = 0;
	while ($off < length $req) {
		my $w = syswrite($s, $req, length($req) - $off, $off);
		if (!defined $w) { close $s; return (undef, 'timeout') }
		$off += $w;
	}
	my $sel = IO::Select->new($s);
	my $resp = '';
	while (1) {
		my $left = $end - clock_gettime(CLOCK_MONOTONIC);
		if ($left <= 0 || !$sel->can_read($left)) {
			close $s;
			return (undef, 'timeout');
		}
		my $r = sysread($s, my $buf, 65536);
		if (!defined $r) { close $s; return (undef, 'timeout') }
		last if $r == 0;
		$resp .= $buf;
	}
	close $s;
	my ($head, $b) = split /\r\n\r\n/, $resp, 2;
	return (undef, 'timeout') unless defined $head &&
		$head =~ m{^HTTP/\d\.\d (\d+)};
	return ($1, $b // '');
}

# One operation: the history lines go to $fh.
sub op_read {
	my ($fh, $proc, $n, $k, $tmo, $lastidx) = @_;
	printf $fh "%d %s invoke read %s # %s\n", now_us(), $proc, $k, $n->[0];
	my ($st, $b) = http($n, 'GET', "/v1/kv/$k?consistent", '', $tmo);
	my $t = now_us();
	if (defined $st && $st == 200) {
		my $j = eval { decode_json($b) };
		if (ref $j eq 'ARRAY' && @$j && defined $j->[0]{ModifyIndex}) {
			my $v = defined $j->[0]{Value}
				? decode_base64($j->[0]{Value}) : '';
			$v = '(empty)' if $v eq '';
			$v =~ s/\s/_/g;
			$lastidx->{$k} = $j->[0]{ModifyIndex} if $lastidx;
			printf $fh "%d %s ok read %s %s %d # %s\n", $t, $proc, $k, $v,
				$j->[0]{ModifyIndex}, $n->[0];
			return 1;
		}
	} elsif (defined $st && $st == 404) {
		$lastidx->{$k} = 0 if $lastidx;
		printf $fh "%d %s ok read %s - 0 # %s\n", $t, $proc, $k, $n->[0];
		return 1;
	}
	printf $fh "%d %s fail read %s # %s %s\n", $t, $proc, $k, $n->[0],
		defined $st ? "HTTP $st" : $b;
	return 0;
}

# A default-mode read: a line in $dfh when it was answered.
sub op_dread {
	my ($dfh, $n, $k, $tmo) = @_;
	my $t0 = now_us();
	my ($st, $b) = http($n, 'GET', "/v1/kv/$k", '', $tmo);
	my $t = now_us();
	my $idx;
	if (defined $st && $st == 200) {
		my $j = eval { decode_json($b) };
		$idx = $j->[0]{ModifyIndex}
			if ref $j eq 'ARRAY' && @$j && defined $j->[0]{ModifyIndex};
	} elsif (defined $st && $st == 404) {
		$idx = 0;
	}
	printf $dfh "%d %d %s %d %s\n", $t0, $t, $k, $idx, $n->[0]
		if defined $idx;
}

sub op_write {
	my ($fh, $proc, $n, $k, $v, $cas, $tmo) = @_;
	my $f = defined $cas ? 'cas' : 'write';
	printf $fh "%d %s invoke %s %s %s%s # %s\n", now_us(), $proc, $f, $k, $v,
		defined $cas ? " $cas" : '', $n->[0];
	my ($st, $b) = http($n, 'PUT', "/v1/kv/$k" .
		(defined $cas ? "?cas=$cas" : ''), $v, $tmo);
	my $t = now_us();
	my $res;
	if (!defined $st) {
		$res = $b eq 'connect' ? "fail $f $k" : "info $f $k";
	} elsif ($st == 200 && $b =~ /^\s*(true|false)\s*$/) {
		$res = $f eq 'cas' ? "ok cas $k $1" : $1 eq 'true' ? "ok write $k"
			: "info write $k";
	} else {
		$res = "info $f $k";
	}
	printf $fh "%d %s %s # %s%s\n", $t, $proc, $res, $n->[0],
		defined $st ? " HTTP $st" : " $b";
}

sub client {
	my ($c) = @_;
	srand($$ ^ time);
	open my $fh, '>', "$o{out}.c$c" or die "$o{out}.c$c: $!\n";
	$fh->autoflush(1);
	open my $dfh, '>', "$o{out}.d$c" or die "$o{out}.d$c: $!\n";
	$dfh->autoflush(1);
	my $end = clock_gettime(CLOCK_MONOTONIC) + $o{max};
	my (%lastidx, $seq);
	while (!-e $o{stop} && clock_gettime(CLOCK_MONOTONIC) < $end) {
		my $k = 'f/k' . int(rand $o{keys});
		my $n = $nodes[int rand @nodes];
		my $r = rand;
		if ($r < 0.15) {
			op_dread($dfh, $n, $k, $o{timeout});
		} elsif ($r < 0.4) {
			op_read($fh, "c$c", $n, $k, $o{timeout}, \%lastidx);
		} else {
			$seq++;
			op_write($fh, "c$c", $n, $k, "c$c-$seq",
				$r < 0.7 ? undef : $lastidx{$k} // 0, $o{timeout});
		}
		sleep $o{pause};
	}
	close $fh;
	close $dfh;
	POSIX::_exit(0);
}

if ($mode eq 'final') {
	open my $fh, '>', $o{out} or die "$o{out}: $!\n";
	$fh->autoflush(1);
	my $bad = 0;
	for my $i (0 .. $o{keys} - 1) {
		my $ok = 0;
		for my $try (1 .. 3) {
			$ok = op_read($fh, 'final', $nodes[0], "f/k$i", $o{timeout});
			last if $ok;
			sleep 1;
		}
		$bad++ unless $ok;
	}
	close $fh;
	exit($bad ? 1 : 0);
}

$SIG{TERM} = sub { kill 'TERM', keys %main::kids; exit 143 };
our %kids;
for my $c (1 .. $o{clients}) {
	my $pid = fork // die "fork: $!\n";
	client($c) if $pid == 0;
	$kids{$pid} = 1;
}
while (%kids) {
	my $pid = wait;
	last if $pid < 0;
	delete $kids{$pid};
}
exit 0;
