#!/bin/sh
test_description='agent logging: -log-json, -log-file with rotation and max files, SIGHUP reopen, -syslog, bad values'
. ./lib.sh

# Each of N TTL checks, passed once, logs one numbered DEBUG line
# ("Check status updated: check=c001 status=passing") before the HTTP
# answer: the counter that shows no line is lost across rotations.
N=120

# An agent that must refuse to start: exit 1 (never hang: timeout).
agent_refuses () {
	timeout 30 proconsul agent -dev -node=bad -bind=$TEST_NET.9 \
		-client=$TEST_NET.9 "$@" </dev/null >bad.out 2>bad.err
	ar_rc_=$?
	test $ar_rc_ = 1 && return 0
	echo >&9 "agent exited with $ar_rc_, we wanted 1; stderr:"
	cat >&9 bad.err
	return 1
}

# check_json_lines FILE...: every line is one hclog JSON object with
# exactly @level, @message, @module and @timestamp, in that order,
# a known level and a microsecond UTC timestamp.
check_json_lines () {
	perl -MJSON::PP -e '
		my ($n, $bad) = (0, 0);
		for my $f (@ARGV) {
			open my $fh, "<", $f or die "$f: $!\n";
			while (my $l = <$fh>) {
				$n++;
				if ($l !~ /\n\z/) { print "$f:$.: no newline\n"; $bad++ }
				chomp $l;
				my $j = eval { JSON::PP->new->decode($l) };
				if (ref $j ne "HASH") { print "$f:$.: not JSON: $l\n"; $bad++; next }
				my $k = join ",", sort keys %$j;
				$k eq "\@level,\@message,\@module,\@timestamp"
					or do { print "$f:$.: keys $k\n"; $bad++ };
				$l =~ /^\{"\@level":"[a-z]+","\@message":".*","\@module":"[^"]+","\@timestamp":"[^"]+"\}$/
					or do { print "$f:$.: key order: $l\n"; $bad++ };
				$j->{"\@level"} =~ /^(trace|debug|info|warn|error)$/
					or do { print "$f:$.: level $j->{q(@level)}\n"; $bad++ };
				$j->{"\@timestamp"} =~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/
					or do { print "$f:$.: timestamp $j->{q(@timestamp)}\n"; $bad++ };
			}
		}
		print "$n lines checked\n";
		exit($bad || !$n ? 1 : 0);
	' "$@"
}

# ordered_logs DIR: the archives oldest first (by the nanoseconds in the
# name, compared as strings of digits), then DIR/consul.log.
ordered_logs () {
	perl -e '
		my $d = shift;
		opendir my $dh, $d or die "$d: $!\n";
		my @a = sort { length($a->[0]) <=> length($b->[0]) || $a->[0] cmp $b->[0] }
			map { /^consul-(\d+)\.log$/ ? [$1, "$d/$_"] : () } readdir $dh;
		print "$_->[1]\n" for @a;
		print "$d/consul.log\n";
	' "$1"
}

# check_sequence FROM TO FILE...: the numbered check lines in FILEs, read
# in order, are exactly c<FROM> .. c<TO>, each once.
check_sequence () {
	perl -MJSON::PP -e '
		my ($from, $to, @files) = @ARGV;
		my $want = $from;
		for my $f (@files) {
			open my $fh, "<", $f or die "$f: $!\n";
			while (my $l = <$fh>) {
				my $j = JSON::PP->new->decode($l);
				next unless $j->{"\@message"} =~ /^Check status updated: check=c(\d+) status=passing$/;
				if ($1 + 0 != $want) { print "$f:$.: got c$1, wanted c$want\n"; exit 1 }
				$want++;
			}
		}
		if ($want != $to + 1) { print "only up to c", $want - 1, " of c$to\n"; exit 1 }
	' "$@"
}

archive_count () {
	ls "$1" | grep -c "^consul-[0-9]*\.log$"
}

# pass_all AGENT: pass every TTL check, one HTTP connection.
pass_all () {
	pa_urls_=
	pa_i_=1
	while test $pa_i_ -le $N; do
		pa_urls_="$pa_urls_ $(agent_http "$1")/v1/agent/check/pass/$(printf c%03d $pa_i_)"
		pa_i_=$((pa_i_ + 1))
	done
	# shellcheck disable=SC2086 # one word per URL
	test_curl -f -X PUT $pa_urls_ >/dev/null
}

# ---------------------------------------------------------------------
# Bad values: exit 1 with the reason, nothing started

test_expect_success 'bad -log-rotate-bytes: negative, not a number' '
	agent_refuses -log-rotate-bytes=-1 &&
	test_grep "^==> .log_rotate_bytes. must not be negative" bad.err &&
	agent_refuses -log-rotate-bytes=lots &&
	test_grep "invalid value \"lots\" for flag -log-rotate-bytes: parse error" bad.err
'

test_expect_success 'bad -log-rotate-duration: not a duration, negative' '
	agent_refuses -log-rotate-duration=soon &&
	test_grep "^==> log_rotate_duration: invalid duration: \"soon\"" bad.err &&
	agent_refuses -log-rotate-duration=-5m &&
	test_grep "^==> log_rotate_duration must not be negative" bad.err
'

test_expect_success 'bad -log-rotate-max-files, -log-json, log_json types' '
	agent_refuses -log-rotate-max-files=2x &&
	test_grep "invalid value \"2x\" for flag -log-rotate-max-files" bad.err &&
	agent_refuses -log-json=maybe &&
	test_grep "invalid boolean value \"maybe\" for -log-json" bad.err &&
	agent_refuses -hcl "log_json = \"yes\"" &&
	test_grep "^==> .log_json. must be a boolean, got string" bad.err
'

test_expect_success 'bad syslog_facility with -syslog' '
	agent_refuses -syslog -hcl "syslog_facility = \"LOCAL9\"" &&
	test_grep "^==> syslog_facility: invalid syslog facility \"LOCAL9\"" bad.err
'

test_expect_success 'a log file that cannot be opened stops the start' '
	agent_refuses -log-file=missing/dir/ &&
	test_grep "^==> Failed to setup logging: opening .missing/dir/consul.log.: No such file or directory" bad.err
'

test_expect_success 'validate: the log keys are accepted' '
	mkdir vgood &&
	cat >vgood/logs.hcl <<-\EOF &&
	data_dir = "/tmp/unused"
	log_level = "debug"
	log_json = true
	log_file = "/var/log/consul/"
	log_rotate_bytes = 1048576
	log_rotate_duration = "1h"
	log_rotate_max_files = -1
	enable_syslog = true
	syslog_facility = "daemon"
	EOF
	proconsul validate vgood >out 2>err &&
	echo "Configuration is valid!" >expect &&
	test_cmp expect out
'

test_expect_success 'validate: bad log values are refused' '
	mkdir vbad &&
	printf "data_dir = \"/x\"\nenable_syslog = true\nsyslog_facility = \"kernel\"\n" >vbad/a.hcl &&
	test_expect_code 1 proconsul validate vbad 2>err &&
	test_grep "^Config validation failed: syslog_facility: invalid syslog facility \"kernel\"" err &&
	printf "data_dir = \"/x\"\nlog_rotate_bytes = -10\n" >vbad/a.hcl &&
	test_expect_code 1 proconsul validate vbad 2>err &&
	test_grep "^Config validation failed: .log_rotate_bytes. must not be negative" err &&
	printf "{\"data_dir\": \"/x\", \"log_rotate_duration\": \"1 day\"}\n" >vbad/a.json &&
	rm vbad/a.hcl &&
	test_expect_code 1 proconsul validate vbad 2>err &&
	test_grep "^Config validation failed: log_rotate_duration: invalid duration" err
'

test_expect_success 'validate: a facility is not checked with syslog off, as Consul' '
	mkdir vok &&
	printf "data_dir = \"/x\"\nsyslog_facility = \"kernel\"\n" >vok/a.hcl &&
	proconsul validate vok >out
'

# ---------------------------------------------------------------------
# JSON lines to stderr and a rotated file

test_expect_success PERL 'setup: N TTL checks in a config file' '
	: >checks.hcl &&
	i=1 &&
	while test $i -le $N; do
		printf "check {\n  id = \"c%03d\"\n  name = \"c%03d\"\n  ttl = \"1h\"\n}\n" \
			$i $i >>checks.hcl &&
		i=$((i + 1))
	done &&
	test $(grep -c "^check {" checks.hcl) = $N
'

# mode_640 FILE: FILE exists with mode 640.
mode_640 () {
	test "$(stat -c %a "$1" 2>/dev/null)" = 640
}

# The agent rotates every 2 KiB while it starts: between the rename of
# consul.log and the creation of the next one there is no consul.log
# (as in Consul), so look again rather than once.
test_expect_success PERL 'start with -log-json, -log-file=logs/, 2 KiB files' '
	mkdir logs &&
	start_agent a1 -dev -log-level=debug -log-json -log-file=logs/ \
		-log-rotate-bytes=2048 -config-file=checks.hcl &&
	poll_until 5 mode_640 logs/consul.log
'

test_expect_success PERL 'pass every check, then stop' '
	pass_all a1 &&
	stop_agent a1
'

test_expect_success PERL 'the files hold hclog JSON lines only' '
	test $(archive_count logs) -gt 5 &&
	check_json_lines logs/*
'

test_expect_success PERL 'each file stays within -log-rotate-bytes' '
	for f in logs/*; do
		test $(wc -c <"$f") -le 2048 || { echo "$f is too big"; return 1; }
	done
'

test_expect_success PERL 'across rotations no line is lost, repeated or reordered' '
	ordered_logs logs >order &&
	check_sequence 1 $N $(cat order)
'

test_expect_success PERL 'stderr got the same lines as the files, as JSON' '
	agent_log a1 >a1.cur &&
	grep "^{" a1.cur | sort >stderr.sorted &&
	cat $(cat order) | sort >files.sorted &&
	test_cmp stderr.sorted files.sorted &&
	! grep -E "^[0-9-]+T[0-9:.]+Z \[(TRACE|DEBUG|INFO|WARN|ERROR)\]" a1.cur &&
	test $(grep -c "Check status updated: check=c" stderr.sorted) = $N
'

# ---------------------------------------------------------------------
# Config file keys, flags win, max files

test_expect_success PERL 'restart from config keys: old archives pruned to the flag value' '
	cat >logs.hcl <<-\EOF &&
	log_json = true
	log_file = "logs"
	log_rotate_bytes = 2048
	log_rotate_max_files = 10
	EOF
	start_agent a1 -dev -log-level=debug -config-file=logs.hcl \
		-config-file=checks.hcl -log-rotate-max-files=3 &&
	test $(archive_count logs) -le 3
'

test_expect_success PERL 'more rotations' '
	pass_all a1
'

test_expect_success PERL 'monitor -log-json: the same JSON lines' '
	proconsul monitor -log-json >mon.json 2>mon.err &
	MON_PID=$! &&
	sleep 1 &&
	proconsul reload >/dev/null &&
	poll_until 10 grep -q "\"@message\":\"log level is now DEBUG\"" mon.json &&
	kill $MON_PID && wait $MON_PID &&
	check_json_lines mon.json
'

test_expect_success PERL 'SIGHUP reopens the file after an external rename' '
	mv logs/consul.log moved.log &&
	kill -HUP $a1_PID &&
	poll_until 10 grep -q "\"@message\":\"Reloaded configuration\"" \
		logs/consul.log &&
	grep -q "\"@message\":\"Caught signal: hangup\"" moved.log &&
	check_json_lines logs/consul.log moved.log
'

test_expect_success PERL 'a reload with other log settings says they wait for a restart' '
	echo "log_rotate_bytes = 4096" >>logs.hcl &&
	proconsul reload >/dev/null &&
	poll_until 10 grep -q "take effect at restart only" logs/consul.log &&
	stop_agent a1
'

# Checked once the agent stopped: while it runs, a pruned archive can
# vanish between listing and reading.
test_expect_success PERL 'stopped: 3 archives kept, all JSON' '
	test $(archive_count logs) = 3 &&
	check_json_lines logs/*
'

# ---------------------------------------------------------------------
# syslog(3): without a syslog daemon the lines are dropped

test_expect_success 'syslog: the agent runs and still logs text to stderr' '
	start_agent s1 -dev -syslog -hcl "syslog_facility = \"local3\"" &&
	proconsul kv put -http-addr=$s1_HTTP k v >out &&
	proconsul reload -http-addr=$s1_HTTP >out &&
	stop_agent s1 &&
	agent_log s1 >s1.cur &&
	test_grep "^[0-9-]*T[0-9:.]*Z \[INFO\]  agent: log level is now" s1.cur
'

test_done
