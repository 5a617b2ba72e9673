# lib.sh - TAP library for Proconsul shell tests (after git's test-lib.sh).
#
# A test script, run from t/ (prove --exec /bin/sh tNNNN-area-what.sh):
#
#	test_description='what this script covers'
#	. ./lib.sh
#	test_expect_success 'setup' 'start_agent a1 -dev'
#	test_expect_success 'put then get' '
#		proconsul kv put k v >out &&
#		proconsul kv get k >actual && echo v >expect && test_cmp expect actual
#	'
#	test_done
#
# Test bodies are eval'ed in the script's own shell (no subshell), so
# variables set in one test are visible in the next; their output goes to
# a file that is printed as "# " lines when the test fails.
#
# Environment:
#   PROCONSUL_BIN_DIR  directory holding proconsul (default ../bin); put
#                      first in PATH. The Makefile passes build/asan/bin.
#   TEST_NET           set here to 127.0.N (see below); agents get .1, .2...
#   TEST_NET_PREFIX    first two octets instead of 127.0, for a second run
#                      of the suite on the same machine (e.g. 127.7)
#   TEST_AGENT_START_TIMEOUT, TEST_AGENT_STOP_TIMEOUT  seconds (30, 15)
#   TEST_DETECT_LEAKS  0 to turn LeakSanitizer off (default 1)
#
# Addresses: each script owns the loopback range 127.0.N.0/24 with
#   N = (area * 41 + (number % 1000)) % 250 + 1
# where number is the NNNN of tNNNN and area its first digit. The plain
# "number % 250 + 1" would give t0001 and t1001 (t0002/t1002, ...) the
# same range and make them collide under prove -j2; this formula keeps
# up to 41 scripts per area apart, and never yields 250 or more, which
# bench/ uses (127.0.250.x). Agents use Consul's standard ports there.
# Nothing here talks to a non-loopback address.

# ---------------------------------------------------------------------
# Paths, trash directory, environment

TEST_NAME=$(basename "$0" .sh)
TEST_DIRECTORY=$(cd "$(dirname "$0")" && pwd) || exit 1

test_bail_ () {
	echo "Bail out! $TEST_NAME: $*"
	exit 1
}

: "${PROCONSUL_BIN_DIR:=$TEST_DIRECTORY/../bin}"
PROCONSUL_BIN_DIR=$(cd "$PROCONSUL_BIN_DIR" 2>/dev/null && pwd) ||
	test_bail_ "no such directory: $PROCONSUL_BIN_DIR (run make first)"
test -x "$PROCONSUL_BIN_DIR/proconsul" ||
	test_bail_ "no proconsul binary in $PROCONSUL_BIN_DIR (run make first)"
PATH=$PROCONSUL_BIN_DIR:$PATH
export PATH PROCONSUL_BIN_DIR

TRASH=$TEST_DIRECTORY/trash.$TEST_NAME
rm -rf "$TRASH" && mkdir -p "$TRASH" || test_bail_ "cannot create $TRASH"
cd "$TRASH" || test_bail_ "cannot cd to $TRASH"
export TRASH

# The script number gives this script's loopback range (see above).
test_num_=${TEST_NAME#t}
test_num_=${test_num_%%-*}
case $test_num_ in
''|*[!0-9]*) test_bail_ "script name must look like tNNNN-area-what.sh" ;;
esac
test_num_=$(expr "$test_num_" + 0)
TEST_NET=${TEST_NET_PREFIX:-127.0}.$(( ((test_num_ / 1000) * 41 + test_num_ % 1000) % 250 + 1 ))
export TEST_NET

# Hermetic environment: no proxies (curl and libcurl honour them), no
# curlrc, no token or TLS settings from the caller, and a default agent
# address on which nothing listens (never a developer's 127.0.0.1:8500).
unset CONSUL_HTTP_TOKEN CONSUL_HTTP_TOKEN_FILE CONSUL_HTTP_AUTH \
	CONSUL_HTTP_SSL CONSUL_HTTP_SSL_VERIFY CONSUL_CACERT CONSUL_CAPATH \
	CONSUL_CLIENT_CERT CONSUL_CLIENT_KEY CONSUL_TLS_SERVER_NAME \
	CONSUL_GRPC_ADDR CONSUL_NAMESPACE CONSUL_PARTITION \
	http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
NO_PROXY='*'
no_proxy='*'
CONSUL_HTTP_ADDR=http://$TEST_NET.254:8500
HOME=$TRASH
CURL_HOME=$TRASH
LC_ALL=C
LANG=C
TZ=UTC
export NO_PROXY no_proxy CONSUL_HTTP_ADDR HOME CURL_HOME LC_ALL LANG TZ

# Sanitizer findings must never look like an ordinary failure (ASan's
# default exit code is 1): abort, so the shell sees 134 (SIGABRT) and
# test_must_fail reports a crash.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}abort_on_error=1:detect_leaks=${TEST_DETECT_LEAKS:-1}"
UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}abort_on_error=1:print_stacktrace=1"
if test -f "$TEST_DIRECTORY/lsan.supp"; then
	LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$TEST_DIRECTORY/lsan.supp"
	export LSAN_OPTIONS
fi
export ASAN_OPTIONS UBSAN_OPTIONS

# ---------------------------------------------------------------------
# TAP core

# Helpers report on fd 9: inside a test it is the test's output (shown
# when the test fails) even where the test redirected stdout and stderr.
exec 9>&2

test_count=0
test_success=0
test_failures=0
test_fixed=0
test_broken=0
test_skipped=0
test_prereqs_=" "

say_comment_ () {
	sed -e 's/^/# /' -e 's/[[:space:]]*$//'
}

test_set_prereq () {
	test_prereqs_="$test_prereqs_$1 "
}

# test_have_prereq P1,P2: true if every listed prerequisite is set.
test_have_prereq () {
	for p_ in $(echo "$1" | tr , ' '); do
		case $test_prereqs_ in
		*" $p_ "*) ;;
		*) return 1 ;;
		esac
	done
	return 0
}

command -v perl >/dev/null 2>&1 &&
	perl -MJSON::PP -MIO::Socket::INET -e 1 2>/dev/null && test_set_prereq PERL
command -v curl >/dev/null 2>&1 && test_set_prereq CURL

# Run commands, accumulated by test_when_finished, after the current test
# whatever its result; a failing cleanup fails the test.
test_when_finished () {
	test_cleanup_="{ $*
		} && (exit \"\$eval_ret_\"); eval_ret_=\$?; $test_cleanup_"
}

test_eval_ () {
	eval </dev/null "$1"
}

# test_run_ BODY: eval BODY then the cleanups in this shell, output to
# $test_out_; sets eval_ret_.
test_run_ () {
	test_cleanup_=:
	test_out_=$TRASH/.test-output
	test_eval_ "$1" >"$test_out_" 2>&1 9>&1
	eval_ret_=$?
	test_eval_ "$test_cleanup_" >>"$test_out_" 2>&1 9>&1
	cd "$TRASH" || test_bail_ "lost the trash directory $TRASH"
	return "$eval_ret_"
}

test_failure_ () {
	test_failures=$((test_failures + 1))
	echo "not ok $test_count - $1"
	printf '%s\n' "$2" | sed -e 's/^/#	/'
	if test -s "$test_out_"; then
		echo "# output:"
		say_comment_ <"$test_out_"
	fi
	test_show_agent_logs_
}

test_skip_ () {
	if test -n "$1" && ! test_have_prereq "$1"; then
		test_skipped=$((test_skipped + 1))
		echo "ok $test_count # skip $2 (missing $1)"
		return 0
	fi
	return 1
}

# test_expect_success [PREREQ] TITLE BODY
test_expect_success () {
	test_pre_=
	if test $# = 3; then test_pre_=$1; shift; fi
	test $# = 2 || test_bail_ "bug in the test script: test_expect_success needs 2 or 3 arguments"
	test_count=$((test_count + 1))
	test_skip_ "$test_pre_" "$1" && return 0
	if test_run_ "$2"; then
		test_success=$((test_success + 1))
		echo "ok $test_count - $1"
	else
		test_failure_ "$1" "$2"
	fi
	return 0
}

# test_expect_failure [PREREQ] TITLE BODY: a known breakage (TAP TODO).
test_expect_failure () {
	test_pre_=
	if test $# = 3; then test_pre_=$1; shift; fi
	test $# = 2 || test_bail_ "bug in the test script: test_expect_failure needs 2 or 3 arguments"
	test_count=$((test_count + 1))
	test_skip_ "$test_pre_" "$1" && return 0
	if test_run_ "$2"; then
		test_fixed=$((test_fixed + 1))
		echo "ok $test_count - $1 # TODO known breakage vanished"
	else
		test_broken=$((test_broken + 1))
		echo "not ok $test_count - $1 # TODO known breakage"
	fi
	return 0
}

# test_must_fail CMD...: CMD (our binary) must exit non-zero, but not by
# a signal (crash, sanitizer abort) nor with "not found".
test_must_fail () {
	"$@"
	exit_code_=$?
	if test $exit_code_ -eq 0; then
		echo >&9 "test_must_fail: command succeeded: $*"
		return 1
	elif test $exit_code_ -gt 128 && test $exit_code_ -le 192; then
		echo >&9 "test_must_fail: died by signal $((exit_code_ - 128)): $*"
		return 1
	elif test $exit_code_ -eq 127; then
		echo >&9 "test_must_fail: command not found: $*"
		return 1
	elif test $exit_code_ -eq 126; then
		echo >&9 "test_must_fail: cannot execute: $*"
		return 1
	fi
	return 0
}

# test_expect_code CODE CMD...: CMD must exit with exactly CODE.
test_expect_code () {
	want_code_=$1
	shift
	"$@"
	exit_code_=$?
	test "$exit_code_" = "$want_code_" && return 0
	echo >&9 "test_expect_code: command exited with $exit_code_, we wanted $want_code_: $*"
	return 1
}

test_cmp () {
	diff -u "$@"
}

# test_file_not_empty FILE
test_file_not_empty () {
	test -s "$1" && return 0
	echo >&9 "'$1' is missing or empty"
	return 1
}

# test_path_is_missing PATH: PATH does not exist (else show what it is).
test_path_is_missing () {
	test -e "$1" || test -h "$1" || return 0
	echo >&9 "'$1' exists and should not:"
	ls -ld "$1" >&9
	test -f "$1" && cat >&9 "$1"
	return 1
}

# test_grep [grep options] PATTERN FILE: grep, but show FILE on a miss.
test_grep () {
	eval "test_grep_file_=\${$#}"
	grep "$@" >/dev/null && return 0
	echo >&9 "test_grep: no match for: $*"
	if test -f "$test_grep_file_"; then
		echo >&9 "--- $test_grep_file_:"
		cat >&9 "$test_grep_file_"
	fi
	return 1
}

test_done () {
	test_stop_all_agents_
	test_check_all_agent_logs_
	if test -n "$skip_all" && test $test_count = 0; then
		echo "1..0 # SKIP $skip_all"
		cd "$TEST_DIRECTORY" && rm -rf "$TRASH"
		exit 0
	fi
	echo "1..$test_count"
	if test $test_fixed -gt 0; then
		echo "# $test_fixed known breakage(s) vanished; mark them test_expect_success"
	fi
	if test $test_broken -gt 0; then
		echo "# still have $test_broken known breakage(s)"
	fi
	if test $test_failures -gt 0; then
		echo "# failed $test_failures among $test_count test(s); trash kept in $TRASH"
		exit 1
	fi
	cd "$TEST_DIRECTORY" && rm -rf "$TRASH"
	exit 0
}

# ---------------------------------------------------------------------
# Process helpers (Linux: /proc tells a zombie from a live process)

# pid_alive PID: running and not yet exited (an unreaped child is dead).
pid_alive () {
	kill -0 "$1" 2>/dev/null || return 1
	pid_state_=
	if ! { read -r pid_state_ </proc/"$1"/stat; } 2>/dev/null; then
		# gone between the two checks, or no /proc at all
		test -d /proc/self && return 1
		return 0
	fi
	pid_state_=${pid_state_##*) }
	case $pid_state_ in
	Z*|X*) return 1 ;;
	esac
	return 0
}

# wait_pid PID SECONDS: wait (bounded) for a child of this shell to exit
# and return its exit status; 124 if it is still running at the deadline.
wait_pid () {
	wp_i_=0
	wp_n_=$(( $2 * 10 ))
	while test $wp_i_ -lt $wp_n_ && pid_alive "$1"; do
		sleep 0.1
		wp_i_=$((wp_i_ + 1))
	done
	pid_alive "$1" && return 124
	wait "$1"
}

# now_ms: wall clock in milliseconds.
now_ms () {
	date +%s%3N
}

# ---------------------------------------------------------------------
# HTTP helpers (curl; loopback only)

# test_curl ARGS...: curl without curlrc and proxies, bounded in time.
test_curl () {
	curl -q -sS --noproxy '*' -m "${TEST_CURL_TIMEOUT:-20}" -H 'Expect:' "$@"
}

# api METHOD PATH [curl args...]: one request to $CONSUL_HTTP_ADDR (or
# $API_ADDR) + PATH. Body goes to ./out, headers to ./hdr, the status to
# $status and ./status. Fails only if curl itself fails.
api () {
	api_m_=$1
	api_p_=$2
	shift 2
	rm -f out hdr status
	status=$(test_curl -X "$api_m_" -o out -D hdr -w '%{http_code}' \
		"$@" "${API_ADDR:-$CONSUL_HTTP_ADDR}$api_p_") || {
		echo >&9 "api: curl failed: $api_m_ $api_p_"
		return 1
	}
	test -f out || : >out
	echo "$status" >status
}

# header NAME [FILE]: value of a response header (last one, no CR).
header () {
	sed -n "s/^$1:[[:space:]]*//Ip" "${2:-hdr}" | tr -d '\r' | tail -n 1
}

# expect_status CODE: the last api call answered CODE.
expect_status () {
	test "$status" = "$1" && return 0
	echo >&9 "expected HTTP $1, got $status; body:"
	cat >&9 out
	echo >&9
	return 1
}

# json_get FILE EXPR: evaluate the Perl expression EXPR with $j set to
# the decoded JSON document in FILE and print the result: strings as is,
# numbers in decimal, true/false, null for undef, references as canonical
# JSON. Fails (exit 2) when FILE is not valid JSON.
json_get () {
	perl -MJSON::PP -e '
		my ($f, $expr) = @ARGV;
		open my $fh, "<", $f or die "$f: $!\n";
		my $t = do { local $/; <$fh> };
		my $j = eval { JSON::PP->new->allow_nonref->decode($t) };
		if (!defined $j && $@) { print STDERR "invalid JSON in $f: $@"; exit 2 }
		my $r = eval $expr;
		die "json_get: $@" if $@;
		if (!defined $r) { print "null\n" }
		elsif (JSON::PP::is_bool($r)) { print $r ? "true\n" : "false\n" }
		elsif (ref $r) {
			print JSON::PP->new->canonical->allow_nonref->encode($r), "\n";
		}
		else { print "$r\n" }
	' "$1" "$2"
}

# json_canon FILE: the document re-encoded, compact with sorted keys
# (numbers and strings keep their JSON type).
json_canon () {
	json_get "$1" '$j'
}

# ---------------------------------------------------------------------
# Agents
#
# start_agent NAME [agent flags...] runs, in the background,
#   proconsul agent -node=NAME -bind=IP -client=IP [-data-dir=$TRASH/NAME] FLAGS
# (no -data-dir with -dev) with output to NAME.log and its PID in NAME.pid,
# sets NAME_ADDR (IP), NAME_HTTP (http://IP:port), NAME_PID, and waits
# until /v1/status/leader names a leader (TEST_AGENT_WAIT=http: only until
# HTTP answers; =none: not at all). The first agent started also becomes
# CONSUL_HTTP_ADDR. A name keeps its IP when started again.

test_agents_=
test_agent_n_=0

test_sq_ () {
	printf "'%s' " "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

test_agent_check_name_ () {
	case $1 in
	''|[!A-Za-z_]*|*[!A-Za-z0-9_]*)
		echo >&9 "agent name must be a shell identifier: '$1'"
		return 1 ;;
	esac
}

agent_addr () { eval "echo \"\${$1_ADDR}\""; }
agent_http () { eval "echo \"\${$1_HTTP}\""; }
agent_pid () { eval "echo \"\${$1_PID-}\""; }

start_agent () {
	test_agent_check_name_ "$1" || return 1
	sa_name_=$1
	shift
	if test -n "$(agent_pid "$sa_name_")" &&
	   pid_alive "$(agent_pid "$sa_name_")"; then
		echo >&9 "start_agent: $sa_name_ is already running"
		return 1
	fi
	sa_ip_=$(eval "echo \"\${${sa_name_}_ADDR-}\"")
	if test -z "$sa_ip_"; then
		test_agent_n_=$((test_agent_n_ + 1))
		sa_ip_=$TEST_NET.$test_agent_n_
		test_agents_="$test_agents_ $sa_name_"
	fi
	sa_args_=
	for sa_a_ in "$@"; do
		sa_args_="$sa_args_$(test_sq_ "$sa_a_")"
	done
	eval "test_agent_args_$sa_name_=\$sa_args_"
	test_launch_agent_ "$sa_name_" "$sa_ip_" "$@"
}

# restart_agent NAME [SIGNAL]: stop it (TERM), which must exit 0, then
# start it again with the same flags and address.
restart_agent () {
	test_agent_check_name_ "$1" || return 1
	stop_agent "$1" "${2:-TERM}" || return 1
	ra_name_=$1
	eval "ra_args_=\$test_agent_args_$1"
	eval "set -- $ra_args_"
	echo "==== restart ====" >>"$TRASH/$ra_name_.log"
	test_launch_agent_ "$ra_name_" "$(agent_addr "$ra_name_")" "$@"
}

test_launch_agent_ () {
	la_name_=$1
	la_ip_=$2
	shift 2
	la_dev_=
	la_port_=8500
	la_prev_=
	for la_a_ in "$@"; do
		case $la_a_ in
		-dev|--dev|-dev=true|--dev=true) la_dev_=1 ;;
		-http-port=*|--http-port=*) la_port_=${la_a_#*=} ;;
		esac
		case $la_prev_ in
		-http-port|--http-port) la_port_=$la_a_ ;;
		esac
		la_prev_=$la_a_
	done
	if test -z "$la_dev_"; then
		set -- "-data-dir=$TRASH/$la_name_" "$@"
	fi
	if curl -q -s --noproxy '*' -m 1 -o /dev/null "http://$la_ip_:$la_port_/" \
		2>/dev/null; then
		echo >&9 "start_agent: something already answers on $la_ip_:$la_port_" \
			"(another run of $TEST_NAME? see TEST_NET_PREFIX in lib.sh)"
		return 1
	fi
	set -- -node="$la_name_" -bind="$la_ip_" -client="$la_ip_" "$@"
	eval "la_wrap_=\${test_agent_wrap_$la_name_-}"
	echo "# proconsul agent $*${la_wrap_:+ (under: $la_wrap_)}" \
		>>"$TRASH/$la_name_.log"
	# A shell without job control starts background jobs with SIGINT and
	# SIGQUIT ignored; perl restores the defaults a supervisor would give,
	# then execs (same PID).
	# shellcheck disable=SC2086,SC2016 # $la_wrap_: a word per argument
	if test_have_prereq PERL; then
		$la_wrap_ perl -e '$SIG{INT} = $SIG{QUIT} = "DEFAULT"; exec @ARGV or die "exec: $!\n"' \
			proconsul agent "$@" </dev/null >>"$TRASH/$la_name_.log" 2>&1 &
	else
		$la_wrap_ proconsul agent "$@" </dev/null >>"$TRASH/$la_name_.log" 2>&1 &
	fi
	la_pid_=$!
	echo "$la_pid_" >"$TRASH/$la_name_.pid"
	eval "${la_name_}_PID=\$la_pid_"
	eval "${la_name_}_ADDR=\$la_ip_"
	eval "${la_name_}_HTTP=http://\$la_ip_:\$la_port_"
	export "${la_name_}_ADDR" "${la_name_}_HTTP"
	if test -z "$test_first_agent_"; then
		test_first_agent_=$la_name_
		CONSUL_HTTP_ADDR=http://$la_ip_:$la_port_
	fi
	case ${TEST_AGENT_WAIT:-leader} in
	none) return 0 ;;
	esac
	wait_for_agent "$la_name_" "${TEST_AGENT_WAIT:-leader}"
}

# agent_wrap NAME CMD...: from its next start on, run agent NAME as
# "CMD proconsul agent ...", e.g. agent_wrap n2 ip netns exec NS to start
# it in a network namespace. CMD must exec what follows (the PID that
# stop_agent signals is the agent's) and its words need no quoting.
# "agent_wrap NAME" alone goes back to a plain start.
agent_wrap () {
	test_agent_check_name_ "$1" || return 1
	aw_name_=$1
	shift
	eval "test_agent_wrap_$aw_name_=\$*"
}

# wait_for_agent NAME [leader|http]: bounded wait for the agent to elect a
# leader (or only to answer HTTP); on failure show its log.
wait_for_agent () {
	wa_pid_=$(agent_pid "$1")
	wa_url_=$(agent_http "$1")/v1/status/leader
	wa_i_=0
	wa_n_=$(( ${TEST_AGENT_START_TIMEOUT:-30} * 10 ))
	while test $wa_i_ -lt $wa_n_; do
		if ! pid_alive "$wa_pid_"; then
			wait "$wa_pid_"
			echo >&9 "agent $1 exited with status $? while starting; its log:"
			eval "$1_PID="
			sed 's/^/| /' "$TRASH/$1.log" >&9
			return 1
		fi
		wa_leader_=$(curl -q -s --noproxy '*' -m 2 "$wa_url_" 2>/dev/null)
		wa_rc_=$?
		case ${2:-leader}:$wa_rc_:$wa_leader_ in
		http:0:*) return 0 ;;
		leader:0:'""'|leader:0:) ;;
		leader:0:*) return 0 ;;
		esac
		sleep 0.1
		wa_i_=$((wa_i_ + 1))
	done
	echo >&9 "agent $1 did not get ready (${2:-leader}) within ${TEST_AGENT_START_TIMEOUT:-30}s; last answer: '$wa_leader_'; its log:"
	sed 's/^/| /' "$TRASH/$1.log" >&9
	return 1
}

# stop_agent NAME [SIGNAL]: send SIGNAL (default TERM), wait (bounded)
# for the exit and return its status; KILL and fail if it hangs.
stop_agent () {
	test_agent_check_name_ "$1" || return 1
	st_pid_=$(agent_pid "$1")
	if test -z "$st_pid_"; then
		echo >&9 "stop_agent: agent $1 is not running"
		return 1
	fi
	kill -s "${2:-TERM}" "$st_pid_" 2>/dev/null ||
		echo >&9 "stop_agent: agent $1 (pid $st_pid_) had already exited"
	test_reap_agent_ "$1" "${2:-TERM}"
}

# test_reap_agent_ NAME SIGNAL: the second half of stop_agent, once
# SIGNAL was sent to NAME ($st_pid_): bounded wait, KILL if it hangs,
# forget the PID, show the log on an unclean exit; its exit status.
test_reap_agent_ () {
	wait_pid "$st_pid_" "${TEST_AGENT_STOP_TIMEOUT:-15}"
	st_rc_=$?
	if test $st_rc_ = 124 && pid_alive "$st_pid_"; then
		echo >&9 "stop_agent: agent $1 ignored SIG$2 for ${TEST_AGENT_STOP_TIMEOUT:-15}s; killing it"
		kill -s KILL "$st_pid_" 2>/dev/null
		wait_pid "$st_pid_" 5
		st_rc_=124
	fi
	eval "$1_PID="
	rm -f "$TRASH/$1.pid"
	if test $st_rc_ != 0; then
		echo >&9 "stop_agent: agent $1 exited with status $st_rc_; its log:"
		tail -n 30 "$TRASH/$1.log" | sed 's/^/| /' >&9
	fi
	return $st_rc_
}

# agent_log NAME: NAME.log from its latest start on (each start appends
# a "# proconsul agent ..." line; a restart keeps the earlier output).
agent_log () {
	awk '/^# proconsul agent /{ n = 0 } { l[n++] = $0 } END { for (i = 0; i < n; i++) print l[i] }' \
		"$TRASH/$1.log"
}

# check_sanitizer_log NAME: fail if NAME.log has sanitizer reports:
# ASan, LeakSanitizer (leaks are reported when the agent exits:
# detect_leaks=1 above), UBSan, or valgrind's (make check-valgrind runs
# agents under valgrind -q: each error or definite leak is a "==PID== "
# line).
check_sanitizer_log () {
	test -f "$TRASH/$1.log" || return 0
	if grep -q -e 'ERROR: AddressSanitizer' -e 'ERROR: LeakSanitizer' \
		-e 'runtime error:' -e 'AddressSanitizer:DEADLYSIGNAL' \
		-e '^==[0-9]*== Invalid ' -e '^==[0-9]*== Conditional jump' \
		-e '^==[0-9]*== Use of uninitialised' \
		-e '^==[0-9]*== Syscall param' -e '^==[0-9]*== Mismatched free' \
		-e '^==[0-9]*== Source and destination overlap' \
		-e '^==[0-9]*== .* definitely lost in ' \
		-e '^==[0-9]*== Process terminating' \
		"$TRASH/$1.log"; then
		echo >&9 "sanitizer errors in $1.log:"
		cat >&9 "$TRASH/$1.log"
		return 1
	fi
	return 0
}

# ---------------------------------------------------------------------
# Clusters: several servers (and clients) on this script's range
#
#	TEST_SERVERS="s1 s2 s3"
#	reserve_agents $TEST_SERVERS c1		# addresses before any start
#	start_servers -bootstrap-expect=3	# all at once, each joining all
#	wait_leader 30 s1 s2 s3			# sets $leader and $leader_addr
#	api_on s2 PUT /v1/kv/k --data-binary v && expect_body true
#	kill9 "$leader" && relaunch_agent "$leader"
#	poll_until 20 kv_is "$leader" k v stale
#
# Unlike start_agent, the cluster helpers that start agents wait only
# until HTTP answers (a server alone cannot elect a leader); set
# TEST_AGENT_WAIT=leader to wait for a leader instead.

# reserve_agents NAME...: give each NAME its address now, in order (.1,
# .2, ...), so that flags can name agents not started yet. Sets NAME_ADDR
# and NAME_HTTP (port 8500); a later start_agent NAME keeps the address.
# Names that already have an address keep it.
reserve_agents () {
	for rv_ in "$@"; do
		test_agent_check_name_ "$rv_" || return 1
		test -z "$(agent_addr "$rv_")" || continue
		test_agent_n_=$((test_agent_n_ + 1))
		test_agents_="$test_agents_ $rv_"
		eval "${rv_}_ADDR=\$TEST_NET.\$test_agent_n_"
		eval "${rv_}_HTTP=http://\$TEST_NET.\$test_agent_n_:8500"
		export "${rv_}_ADDR" "${rv_}_HTTP"
	done
}

# retry_join_flags NAME...: " -retry-join=ADDR" for each NAME (which must
# have an address already: reserve_agents), for word splitting:
#	start_agent c1 $(retry_join_flags s1 s2 s3)
retry_join_flags () {
	for rj_ in "$@"; do
		if test -z "$(agent_addr "$rj_")"; then
			echo >&9 "retry_join_flags: $rj_ has no address (reserve_agents)"
			return 1
		fi
		printf ' -retry-join=%s' "$(agent_addr "$rj_")"
	done
}

# rpc_addrs NAME...: "ADDR:8300" of each NAME, sorted, one a line (what
# /v1/status/peers and Raft show).
rpc_addrs () {
	for ra_ in "$@"; do
		echo "$(agent_addr "$ra_"):8300"
	done | sort
}

# start_server NAME [FLAGS...]: start_agent NAME -server -datacenter=dc1
# -retry-interval=1s, one -retry-join per agent of $TEST_SERVERS, then
# FLAGS; waits for HTTP only (see above). Reserves $TEST_SERVERS first,
# then NAME, so the addresses follow the order of $TEST_SERVERS.
start_server () {
	ss_name_=$1
	shift
	# shellcheck disable=SC2086 # a list of names
	reserve_agents $TEST_SERVERS "$ss_name_" || return 1
	ss_join_=
	for ss_s_ in $TEST_SERVERS; do
		ss_join_="$ss_join_ -retry-join=$(agent_addr "$ss_s_")"
	done
	# shellcheck disable=SC2086 # one word per flag
	TEST_AGENT_WAIT=${TEST_AGENT_WAIT:-http} start_agent "$ss_name_" \
		-server -datacenter=dc1 -retry-interval=1s $ss_join_ "$@"
}

# start_servers [FLAGS...]: start_server each agent of $TEST_SERVERS with
# the same FLAGS, all before waiting for any of them (as hosts booting
# together), then wait until each answers HTTP (TEST_AGENT_WAIT).
start_servers () {
	for sv_ in $TEST_SERVERS; do
		TEST_AGENT_WAIT=none start_server "$sv_" "$@" || return 1
	done
	test "${TEST_AGENT_WAIT:-http}" != none || return 0
	for sv_ in $TEST_SERVERS; do
		wait_for_agent "$sv_" "${TEST_AGENT_WAIT:-http}" || return 1
	done
}

# relaunch_agent NAME: start NAME again after it exited (kill9,
# stop_agent), with the address and flags of its last start, so on the
# same data dir; waits for HTTP only (see above).
relaunch_agent () {
	test_agent_check_name_ "$1" || return 1
	rl_name_=$1
	rl_pid_=$(agent_pid "$1")
	if test -n "$rl_pid_" && pid_alive "$rl_pid_"; then
		echo >&9 "relaunch_agent: $1 is still running"
		return 1
	fi
	eval "rl_set_=\${test_agent_args_$1+set}"
	if test -z "$rl_set_"; then
		echo >&9 "relaunch_agent: $1 was never started"
		return 1
	fi
	eval "rl_args_=\$test_agent_args_$1"
	eval "set -- $rl_args_"
	echo "==== restart ====" >>"$TRASH/$rl_name_.log"
	TEST_AGENT_WAIT=${TEST_AGENT_WAIT:-http} \
		test_launch_agent_ "$rl_name_" "$(agent_addr "$rl_name_")" "$@"
}

# kill9 NAME: SIGKILL (a crash: no leave, nothing flushed), reaped; fails
# if NAME had already exited on its own (then its log is shown).
kill9 () {
	test_agent_check_name_ "$1" || return 1
	k9_pid_=$(agent_pid "$1")
	if test -z "$k9_pid_"; then
		echo >&9 "kill9: agent $1 is not running"
		return 1
	fi
	if ! pid_alive "$k9_pid_"; then
		wait "$k9_pid_"
		echo >&9 "kill9: agent $1 had already exited with status $?; its log:"
		tail -n 30 "$TRASH/$1.log" | sed 's/^/| /' >&9
		eval "$1_PID="
		return 1
	fi
	kill -s KILL "$k9_pid_" 2>/dev/null
	wait_pid "$k9_pid_" 10 >/dev/null 2>&1
	if pid_alive "$k9_pid_"; then
		echo >&9 "kill9: agent $1 (pid $k9_pid_) survived SIGKILL"
		return 1
	fi
	eval "$1_PID="
	rm -f "$TRASH/$1.pid"
	echo "==== kill -9 ====" >>"$TRASH/$1.log"
}

# stop_agents SIGNAL NAME...: send SIGNAL to every NAME first, then reap
# each as stop_agent does; fails unless every one exits 0.
stop_agents () {
	sg_sig_=$1
	shift
	for sg_n_ in "$@"; do
		test_agent_check_name_ "$sg_n_" || return 1
		sg_pid_=$(agent_pid "$sg_n_")
		if test -z "$sg_pid_"; then
			echo >&9 "stop_agents: agent $sg_n_ is not running"
			return 1
		fi
		kill -s "$sg_sig_" "$sg_pid_" 2>/dev/null ||
			echo >&9 "stop_agents: agent $sg_n_ (pid $sg_pid_) had already exited"
	done
	sg_rc_=0
	for sg_n_ in "$@"; do
		st_pid_=$(agent_pid "$sg_n_")
		test_reap_agent_ "$sg_n_" "$sg_sig_" || sg_rc_=1
	done
	return $sg_rc_
}

# running_agents NAME...: those of the NAMEs that are running.
running_agents () {
	for rn_ in "$@"; do
		rn_pid_=$(agent_pid "$rn_")
		test -n "$rn_pid_" && pid_alive "$rn_pid_" && printf '%s ' "$rn_"
	done
	return 0
}

# api_on NAME METHOD PATH [curl args...]: api, sent to agent NAME.
api_on () {
	ao_http_=$(agent_http "$1")
	shift
	API_ADDR=$ao_http_ api "$@"
}

# expect_body STRING: the last body is exactly STRING (no newline).
expect_body () {
	printf "%s" "$1" >expect.body &&
	test_cmp expect.body out
}

# kv_is NAME KEY VALUE [QUERY]: GET /v1/kv/KEY?raw[&QUERY] on NAME
# answers 200 and exactly VALUE.
kv_is () {
	api_on "$1" GET "/v1/kv/$2?raw${4:+&$4}" &&
	expect_status 200 &&
	expect_body "$3"
}

# poll_until SECONDS CMD...: run CMD until it succeeds, every 0.2 s, for
# at most SECONDS (at least once). The output of each try (stdout,
# stderr, fd 9) replaces the previous one's; on a timeout the last one is
# shown, so the complaint of a helper like expect_status explains it.
poll_until () {
	pu_secs_=$1
	shift
	pu_end_=$(( $(now_ms) + pu_secs_ * 1000 ))
	pu_i_=0
	while test $pu_i_ -le $(( pu_secs_ * 5 )); do
		"$@" >"$TRASH/.poll-out" 2>&1 9>&1 && return 0
		test "$(now_ms)" -lt "$pu_end_" || break
		sleep 0.2
		pu_i_=$((pu_i_ + 1))
	done
	echo >&9 "poll_until: still failing after ${pu_secs_}s: $*"
	sed 's/^/> /' "$TRASH/.poll-out" >&9
	return 1
}

# gossip_status_is AGENT NODE STATUS: AGENT's `proconsul members` lists
# NODE with STATUS (alive, failed, left); shows the table if not.
gossip_status_is () {
	proconsul members -http-addr="$(agent_http "$1")" >members.out 2>&1 &&
	awk -v n="$2" -v s="$3" '$1 == n && $3 == s { f = 1 } END { exit !f }' \
		members.out && return 0
	echo >&9 "$1 does not list $2 as $3:"
	cat >&9 members.out
	return 1
}

# agent_by_addr IP: the name of this script's agent at IP (or nothing).
agent_by_addr () {
	for ab_ in $test_agents_; do
		if test "$(agent_addr "$ab_")" = "$1"; then
			echo "$ab_"
			return 0
		fi
	done
}

# leader_of NAME: the name of the agent NAME's /v1/status/leader names;
# nothing when it names none ("").
leader_of () {
	lo_=$(test_curl -m 3 "$(agent_http "$1")/v1/status/leader" 2>/dev/null) ||
		return 1
	lo_=${lo_#\"}
	lo_=${lo_%\"}
	test -z "$lo_" || agent_by_addr "${lo_%:*}"
}

# wait_leader SECONDS NAME...: bounded wait until every NAME answers
# /v1/status/leader with the same "ADDR:port" (a JSON string), ADDR being
# an agent of this script that is running. Sets leader (its name) and
# leader_addr (ADDR:port). On a timeout, shows each NAME's last answer.
wait_leader () {
	wl_avoid_=
	test_wait_leader_ "$@"
}

# wait_new_leader SECONDS OLD NAME...: wait_leader, for a leader other
# than the agent OLD (after a leadership transfer, or a kill of OLD).
wait_new_leader () {
	wl_avoid_=$2
	wl_secs_=$1
	shift 2
	test_wait_leader_ "$wl_secs_" "$@"
}

test_wait_leader_ () {
	wl_secs_=$1
	shift
	leader=
	leader_addr=
	wl_end_=$(( $(now_ms) + wl_secs_ * 1000 ))
	wl_i_=0
	while test $wl_i_ -le $(( wl_secs_ * 5 )); do
		test_leader_agreed_ "$@" && return 0
		test "$(now_ms)" -lt "$wl_end_" || break
		sleep 0.2
		wl_i_=$((wl_i_ + 1))
	done
	echo >&9 "wait_leader: no common running leader${wl_avoid_:+ other than $wl_avoid_} for $* within ${wl_secs_}s; last answers:$wl_seen_"
	return 1
}

test_leader_agreed_ () {
	wl_seen_=
	wl_common_=
	wl_agree_=1
	for wl_n_ in "$@"; do
		wl_l_=$(test_curl -m 3 "$(agent_http "$wl_n_")/v1/status/leader" \
			2>/dev/null) || wl_l_='(no answer)'
		wl_seen_="$wl_seen_ $wl_n_=$wl_l_"
		if test -z "$wl_common_"; then
			wl_common_=$wl_l_
		elif test "$wl_l_" != "$wl_common_"; then
			wl_agree_=
		fi
	done
	test -n "$wl_agree_" || return 1
	case $wl_common_ in
	\"*:*\") ;;
	*) return 1 ;;
	esac
	wl_addr_=${wl_common_#\"}
	wl_addr_=${wl_addr_%\"}
	wl_name_=$(agent_by_addr "${wl_addr_%:*}")
	if test -z "$wl_name_"; then
		wl_seen_="$wl_seen_ (not an agent of this script)"
		return 1
	fi
	if test "$wl_name_" = "$wl_avoid_"; then
		wl_seen_="$wl_seen_ (still $wl_avoid_)"
		return 1
	fi
	wl_pid_=$(agent_pid "$wl_name_")
	if test -z "$wl_pid_" || ! pid_alive "$wl_pid_"; then
		wl_seen_="$wl_seen_ ($wl_name_ is not running)"
		return 1
	fi
	leader=$wl_name_
	leader_addr=$wl_addr_
}

# no_leader NAME...: every NAME answers /v1/status/leader with "".
no_leader () {
	for nl_ in "$@"; do
		nl_l_=$(test_curl -m 3 "$(agent_http "$nl_")/v1/status/leader" \
			2>/dev/null) || nl_l_='(no answer)'
		if test "$nl_l_" != '""'; then
			echo >&9 "$nl_ answers /v1/status/leader with $nl_l_"
			return 1
		fi
	done
}

# no_leader_for SECONDS NAME...: no_leader holds for SECONDS (checked
# every 0.5 s); fails at the first leader seen.
no_leader_for () {
	nf_end_=$(( $(now_ms) + $1 * 1000 ))
	nf_i_=0
	shift
	while test $nf_i_ -le 1000; do
		no_leader "$@" || return 1
		test "$(now_ms)" -lt "$nf_end_" || return 0
		sleep 0.5
		nf_i_=$((nf_i_ + 1))
	done
}

# raft_config NAME [QUERY]: GET /v1/operator/raft/configuration[QUERY]
# on NAME (body left in ./out), printed as lines "Node Address
# voter|nonvoter leader|-" sorted by Node; fails unless HTTP 200.
raft_config () {
	api_on "$1" GET "/v1/operator/raft/configuration${2-}" &&
	expect_status 200 &&
	json_get out 'join "\n", map {
		"$_->{Node} $_->{Address} " . ($_->{Voter} ? "voter" : "nonvoter")
		. ($_->{Leader} ? " leader" : " -") }
		sort { $a->{Node} cmp $b->{Node} } @{$j->{Servers}}'
}

# raft_peers NAME: GET /v1/status/peers on NAME, sorted, one a line;
# fails unless HTTP 200.
raft_peers () {
	api_on "$1" GET /v1/status/peers &&
	expect_status 200 &&
	json_get out 'join "\n", sort @$j'
}

test_stop_all_agents_ () {
	for ta_ in $test_agents_; do
		ta_pid_=$(agent_pid "$ta_")
		test -n "$ta_pid_" || continue
		if pid_alive "$ta_pid_"; then
			kill -s TERM "$ta_pid_" 2>/dev/null
			wait_pid "$ta_pid_" "${TEST_AGENT_STOP_TIMEOUT:-15}" >/dev/null 2>&1
			if pid_alive "$ta_pid_"; then
				kill -s KILL "$ta_pid_" 2>/dev/null
				wait_pid "$ta_pid_" 5 >/dev/null 2>&1
			fi
		fi
		eval "${ta_}_PID="
	done
}

# At the end, one more test when agents ran: no sanitizer reports in any
# agent log (a safety net for tests that forgot check_sanitizer_log).
test_check_all_agent_logs_ () {
	test -n "$test_agents_" || return 0
	test_expect_success 'no sanitizer reports in any agent log' '
		for ta_ in $test_agents_; do
			check_sanitizer_log "$ta_" || return 1
		done
	'
}

# On a failure, the end of the log of each agent still running (a stopped
# agent's log was shown by stop_agent if its exit was not clean).
test_show_agent_logs_ () {
	for ta_ in $test_agents_; do
		test -s "$TRASH/$ta_.log" || continue
		ta_pid_=$(agent_pid "$ta_")
		test -n "$ta_pid_" && pid_alive "$ta_pid_" || continue
		echo "# last lines of $ta_.log:"
		tail -n "${TEST_LOG_LINES:-8}" "$TRASH/$ta_.log" | say_comment_
	done
}

test_exit_trap_ () {
	test_exit_rc_=$?
	trap - EXIT
	test_stop_all_agents_
	exit $test_exit_rc_
}
trap test_exit_trap_ EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# skip_all set before sourcing: stop right here.
if test -n "$skip_all"; then
	test_done
fi
