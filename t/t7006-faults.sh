#!/bin/sh
test_description='fault suite: five servers in network namespaces under a KV workload while nemeses strike; the history must be linearizable'

# Six namespaces on 10.200.44.0/24 (TEST_NET with TEST_NET_PREFIX=10.200):
# pc7006a holds this shell (it re-executes itself in there), the bridge,
# a client agent c1 and the workload; pc7006b..pc7006f hold s1..s5, one
# server each, on a veth to the bridge. Nothing is connected to the
# host's network.
#
# The workload (t/faults-driver.pl) runs 5 clients doing writes, CAS
# (?cas=N, N from their last read of the key) and ?consistent reads on
# 3 keys through random agents (c1 forwards to the servers), each
# request bounded by a timeout
# (then indeterminate), into a history with CLOCK_MONOTONIC times;
# default-mode reads too, into a file of their own (not linearizable).
# Raft snapshots every 256 entries (raft.hcl); s5's data dir is a tmpfs.
# Meanwhile the nemeses, one after the other, each bounded in time:
#   kill -9 of the leader, restarted 5 s later on its data dir;
#   kill -9 of a random server (4 s), then of two at once (5 s);
#   SIGSTOP of the leader for 6 s, then SIGCONT;
#   the leader isolated for 8 s (policy rules in each namespace
#   blackhole the packets from the other side: the workload, from
#   pc7006a's address, still reaches every server);
#   a 2/3 split for 10 s, the leader on the minority side;
#   a bridge for 10 s: {A B} <-> M <-> {C D}, A B cut from C D;
#   s5's disk filled: it must exit 1 saying so, the rest serves; then
#   room is made and s5 started again;
#   a follower far behind killed -9 as its snapshot install begins (up
#   to 3 times until one kill lands before the install ended), then
#   started again;
#   a slow link (tc tbf: queueing delay, tail drops) for 8 s;
#   network delay and loss (tc netem) on every server for 8 s, when the
#   kernel has sch_netem (else skipped, with a note).
# Then: one leader within 15 s and every server answering a write and
# a ?consistent read; final reads of every key; t/lincheck says the
# history (final reads included, so no acknowledged write was lost) is
# linearizable; default-mode reads are stale by at most one election
# timeout; no request to the minority side of the split, nor to the
# isolated leader, was acknowledged while they were cut off; every
# server holds the same KV store (SHA-256). The last line sums up:
# operations, faults, anomalies.
# A failing history is kept in the trash directory (history, with
# nemesis.log); T7006_KEEP=DIR copies them to DIR in any case. The
# checker is $LINCHECK_BIN, else the one built beside the proconsul
# under test (build/<variant>/t/lincheck/lincheck), else build/normal's
# or build/asan's (make lincheck).
#
# Root only (network namespaces); skipped otherwise, but with CI=true
# as root a namespace that cannot be made fails the script. Whatever
# happens, the outer part stops what is left in the namespaces (by PID)
# and deletes them.

PC7006_NS=${PC7006_INNER:-pc7006a}
if test -z "${PC7006_INNER-}" && test -n "${TEST_NET_PREFIX-}"; then
	PC7006_NS=$PC7006_NS$(printf '%s' "$TEST_NET_PREFIX" | tr -cd 0-9)
fi
NS_HUB=$PC7006_NS
# ns_of NAME: the namespace of server NAME (s1..s5)
ns_of () {
	case $1 in
	s1) x=b ;; s2) x=c ;; s3) x=d ;; s4) x=e ;; s5) x=f ;;
	*) echo "ns_of: no server '$1'" >&2; return 1 ;;
	esac
	echo "$NS_HUB" | sed "s/^pc7006a/pc7006$x/"
}
NS_ALL="$NS_HUB $(for s in s1 s2 s3 s4 s5; do ns_of $s; done)"

if test -z "${PC7006_INNER-}"; then
	ns_made=
	inner_pid=

	alive () {
		al_=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
		case $al_ in
		''|Z*|X*) return 1 ;;
		esac
	}

	# Bounded: TERM the inner shell (it stops its agents and the
	# workload), then KILL what is still in our namespaces (by PID,
	# after a CONT for a stopped one), then delete them.
	ns_cleanup () {
		trap - EXIT
		if test -n "$inner_pid" && alive "$inner_pid"; then
			kill -s TERM "$inner_pid" 2>/dev/null
			i=0
			while test $i -lt 600 && alive "$inner_pid"; do
				sleep 0.1
				i=$((i + 1))
			done
			alive "$inner_pid" && kill -s KILL "$inner_pid" 2>/dev/null
		fi
		for ns in $ns_made; do
			for p in $(ip netns pids "$ns" 2>/dev/null); do
				kill -s KILL "$p" 2>/dev/null
			done
		done
		for ns in $ns_made; do
			ip netns del "$ns" 2>/dev/null ||
				echo >&2 "t7006: cannot delete network namespace $ns"
		done
	}

	ns_add () {
		if test -e "/run/netns/$1"; then
			if test -n "$(ip netns pids "$1" 2>/dev/null)"; then
				echo "network namespace $1 is in use (another run of this script? see TEST_NET_PREFIX in lib.sh)"
				return 2
			fi
			ip netns del "$1" 2>&1 || return 1
		fi
		ip netns add "$1" 2>&1
	}

	trap ns_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP

	why=
	st=1
	if test "$(id -u)" != 0; then
		why='needs root for network namespaces'
	elif ! command -v ip >/dev/null 2>&1; then
		why='needs ip (iproute2)'
	else
		for ns in $NS_ALL; do
			why=$(ns_add "$ns")
			st=$?
			test $st = 0 || break
			ns_made="$ns_made $ns"
		done
		if test $st = 1; then
			why="cannot create network namespaces: $(printf %s "$why" | tr "\n" " ")"
		fi
	fi
	if test $st = 2 || { test "${CI-}" = true && test $st != 0; }; then
		echo "Bail out! t7006-faults: $why"
		exit 1
	elif test $st != 0; then
		echo "1..0 # SKIP $why"
		exit 0
	fi
	PC7006_INNER=$NS_HUB TEST_NET_PREFIX=10.200 \
		ip netns exec "$NS_HUB" /bin/sh "$0" "$@" &
	inner_pid=$!
	wait "$inner_pid"
	rc=$?
	inner_pid=
	ns_cleanup
	exit $rc
fi

# ---------------------------------------------------------------------
# Inner part: in pc7006a, from here on an ordinary lib.sh script.

. ./lib.sh

test "$(ip netns identify $$ 2>/dev/null)" = "$NS_HUB" ||
	test_bail_ "not inside network namespace $NS_HUB (run this script itself, not with PC7006_INNER set)"
test "$TEST_NET" = 10.200.44 ||
	test_bail_ "TEST_NET is $TEST_NET, not 10.200.44"

test_have_prereq PERL || { skip_all='needs perl (lib.sh agents, the workload)'; test_done; }

SERVERS="s1 s2 s3 s4 s5"
TEST_SERVERS=$SERVERS
# shellcheck disable=SC2086 # a list of names
reserve_agents $SERVERS c1
SRC=$TEST_NET.9
for s in $SERVERS; do
	agent_wrap $s ip netns exec "$(ns_of $s)"
done

LINCHECK=
for l in ${LINCHECK_BIN-} "$PROCONSUL_BIN_DIR/../t/lincheck/lincheck" \
	"$TEST_DIRECTORY/../build/normal/t/lincheck/lincheck" \
	"$TEST_DIRECTORY/../build/asan/t/lincheck/lincheck"; do
	if test -f "$l" && test -x "$l"; then
		LINCHECK=$l
		break
	fi
done

faults=0
faults_done=
skipped_nemeses=
driver_pid=
stopped=

# mono_us: CLOCK_MONOTONIC in microseconds, the clock of the history.
mono_us () {
	perl -MTime::HiRes=clock_gettime,CLOCK_MONOTONIC \
		-e 'printf "%d\n", clock_gettime(CLOCK_MONOTONIC) * 1e6'
}

# nemesis WHAT...: a line "TIME WHAT..." in nemesis.log.
nemesis () {
	echo "$(mono_us) $*" >>"$TRASH/nemesis.log"
}

fault_done () {
	faults=$((faults + 1))
	faults_done="$faults_done $1"
}

# others NAME...: the servers not named.
others () {
	for o_ in $SERVERS; do
		case " $* " in
		*" $o_ "*) ;;
		*) printf '%s ' "$o_" ;;
		esac
	done
}

# cut_off NAME... -- PEER...: each NAME drops every packet from each
# PEER (a policy rule before the local table: blackhole).
cut_off () {
	co_from_=
	while test $# -gt 0 && test "$1" != --; do
		co_from_="$co_from_ $1"
		shift
	done
	shift
	for co_n_ in $co_from_; do
		for co_p_ in "$@"; do
			ip -n "$(ns_of "$co_n_")" rule add pref 100 \
				from "$(agent_addr "$co_p_")/32" blackhole || return 1
		done
	done
}

# partition "A..." "B...": the groups cannot talk to each other.
partition () {
	# shellcheck disable=SC2086 # lists of names
	cut_off $1 -- $2 && cut_off $2 -- $1
}

heal () {
	for h_ in $SERVERS; do
		while ip -n "$(ns_of "$h_")" rule del pref 100 2>/dev/null; do :; done
	done
}

# answers NAME: NAME takes a write and a ?consistent read of it.
answers () {
	api_on "$1" PUT /v1/kv/f/probe --data-binary "$1" &&
	expect_status 200 &&
	api_on "$1" GET "/v1/kv/f/probe?consistent" &&
	expect_status 200
}

faults_cleanup () {
	test -d "$TRASH" && : >"$TRASH/stop.flag"
	if test -n "$stopped"; then
		kill -s CONT "$(agent_pid "$stopped")" 2>/dev/null
		stopped=
	fi
	if test -n "$driver_pid"; then
		kill -s TERM "$driver_pid" 2>/dev/null
		wait_pid "$driver_pid" 10 >/dev/null 2>&1 ||
			kill -s KILL "$driver_pid" 2>/dev/null
		driver_pid=
	fi
	heal
	rm -f "$TRASH/s5/filler"
	test -z "${disk_mounted-}" || umount -l "$TRASH/s5" 2>/dev/null
	for s in $SERVERS; do
		tc -n "$(ns_of $s)" qdisc del dev "$(veth $s)" root 2>/dev/null
	done
	return 0
}
trap 'fc_rc_=$?; faults_cleanup; (exit $fc_rc_); test_exit_trap_' EXIT

# sleep_rest T0 MS: sleep until MS milliseconds after T0 (now_ms), at
# least one second.
sleep_rest () {
	sr_=$(( ($2 - ($(now_ms) - $1)) / 1000 ))
	test "$sr_" -ge 1 || sr_=1
	sleep "$sr_"
}

# veth NAME: the device of server NAME in its namespace.
veth () {
	echo "pc7006$(ns_of "$1" | cut -c7)1"
}

test_expect_success 'setup: a bridge in pc7006a, a veth to each server namespace' '
	ip -n "$NS_HUB" link set lo up &&
	ip -n "$NS_HUB" link add pc7006br type bridge &&
	ip -n "$NS_HUB" addr add "$SRC/24" dev pc7006br &&
	ip -n "$NS_HUB" addr add "$c1_ADDR/24" dev pc7006br &&
	ip -n "$NS_HUB" link set pc7006br up &&
	for s in $SERVERS; do
		ns=$(ns_of $s) &&
		x=$(echo "$ns" | cut -c7) &&
		ip -n "$NS_HUB" link add pc7006${x}0 type veth \
			peer name pc7006${x}1 netns "$ns" &&
		ip -n "$NS_HUB" link set pc7006${x}0 master pc7006br &&
		ip -n "$NS_HUB" link set pc7006${x}0 up &&
		ip -n "$ns" link set lo up &&
		ip -n "$ns" addr add "$(agent_addr $s)/24" dev pc7006${x}1 &&
		ip -n "$ns" link set pc7006${x}1 up &&
		ip -n "$ns" rule add pref 1000 lookup local &&
		ip -n "$ns" rule del pref 0 || return 1
	done
'

if tc -n "$(ns_of s1)" qdisc add dev "$(veth s1)" root netem delay 1ms \
	2>/dev/null && tc -n "$(ns_of s1)" qdisc del dev "$(veth s1)" root; then
	test_set_prereq NETEM
else
	skipped_nemeses="$skipped_nemeses netem"
	echo "# tc qdisc netem is not available here (sch_netem): the delay/loss nemesis is skipped"
fi

# No netem here, maybe: tbf (a token bucket) still makes a slow link,
# with queueing delay and tail drops once its queue is full.
if tc -n "$(ns_of s1)" qdisc add dev "$(veth s1)" root tbf rate 1mbit \
	burst 10kb latency 80ms 2>/dev/null &&
	tc -n "$(ns_of s1)" qdisc del dev "$(veth s1)" root; then
	test_set_prereq TBF
else
	skipped_nemeses="$skipped_nemeses slow-link"
	echo "# tc qdisc tbf is not available here: the slow-link nemesis is skipped"
fi

test_expect_success 'setup: the checker is built' '
	test -n "$LINCHECK" ||
	{ echo "no lincheck: run make lincheck (or make asan)"; false; }
'

# Raft snapshots every 256 entries (looked at every 200-400 ms), 128
# kept behind them: a server down
# for a few hundred writes catches up through a snapshot install.
cat >raft.hcl <<\EOF
raft_snapshot_threshold = 256
raft_trailing_logs = 128
raft_snapshot_interval = "200ms"
EOF

# s5's data dir is a tmpfs of its own (the disk-full nemesis fills it).
# This shell runs under ip netns exec, in a mount namespace of its own:
# the mount is seen by s5 (started from here) and by no one outside.
test_expect_success 'setup: s5 has a 192 MiB tmpfs as its data dir' '
	mkdir -p "$TRASH/s5" &&
	mount -t tmpfs -o size=192m,mode=0700 pc7006disk "$TRASH/s5" &&
	disk_mounted=1 &&
	df -k "$TRASH/s5" | tail -n 1 &&
	test_set_prereq TMPFS
'

test_expect_success 'five servers, one per namespace, elect a leader' '
	start_servers -bootstrap-expect=5 -config-file="$TRASH/raft.hcl" &&
	wait_leader 60 $SERVERS &&
	TEST_AGENT_WAIT=http start_agent c1 -datacenter=dc1 \
		-retry-interval=1s $(retry_join_flags $SERVERS) &&
	for s in $SERVERS c1; do
		poll_until 30 answers $s || return 1
	done &&
	test_set_prereq CLUSTER
'

test_expect_success CLUSTER 'the workload starts: 5 clients, 3 keys' '
	nodes= &&
	for s in $SERVERS c1; do
		nodes="$nodes $s=$(agent_addr $s):8500"
	done &&
	rm -f stop.flag &&
	perl "$TEST_DIRECTORY/faults-driver.pl" run -out "$TRASH/hist" \
		-stop "$TRASH/stop.flag" -clients 5 -keys 3 -timeout 4 \
		-max 400 $nodes >driver.log 2>&1 &
	driver_pid=$! &&
	sleep 5 &&
	pid_alive "$driver_pid" &&
	test -s hist.c1 &&
	test_set_prereq WORKLOAD
'

test_expect_success WORKLOAD 'nemesis: kill -9 of the leader, restarted after 5 s' '
	wait_leader 30 $SERVERS &&
	victim=$leader &&
	nemesis start kill9 $victim &&
	kill9 $victim &&
	sleep 5 &&
	relaunch_agent $victim &&
	nemesis end kill9 $victim &&
	fault_done kill9 &&
	wait_leader 30 $SERVERS &&
	sleep 2
'

test_expect_success WORKLOAD 'nemesis: kill -9 of a random server, restarted after 4 s' '
	wait_leader 30 $SERVERS &&
	set -- $(printf "%s\n" $SERVERS | shuf) &&
	victim=$1 &&
	nemesis start kill9-random $victim &&
	kill9 $victim &&
	sleep 4 &&
	relaunch_agent $victim &&
	nemesis end kill9-random $victim &&
	fault_done kill9-random &&
	wait_leader 30 $SERVERS &&
	sleep 2
'

test_expect_success WORKLOAD 'nemesis: kill -9 of two random servers at once, restarted after 5 s' '
	wait_leader 30 $SERVERS &&
	set -- $(printf "%s\n" $SERVERS | shuf) &&
	v1=$1 && v2=$2 &&
	nemesis start kill9-two $v1 $v2 &&
	kill9 $v1 && kill9 $v2 &&
	sleep 5 &&
	relaunch_agent $v1 && relaunch_agent $v2 &&
	nemesis end kill9-two $v1 $v2 &&
	fault_done kill9-two &&
	wait_leader 30 $SERVERS &&
	sleep 2
'

test_expect_success WORKLOAD 'nemesis: SIGSTOP of the leader for 6 s' '
	wait_leader 30 $SERVERS &&
	victim=$leader &&
	nemesis start sigstop $victim &&
	kill -s STOP "$(agent_pid $victim)" &&
	stopped=$victim &&
	sleep 6 &&
	kill -s CONT "$(agent_pid $victim)" &&
	stopped= &&
	nemesis end sigstop $victim &&
	fault_done sigstop &&
	wait_leader 30 $SERVERS &&
	sleep 2
'

test_expect_success WORKLOAD 'nemesis: the leader isolated for 8 s; the others elect one' '
	wait_leader 30 $SERVERS &&
	victim=$leader &&
	rest=$(others $victim) &&
	partition "$victim" "$rest" &&
	nemesis start isolate $victim &&
	t0=$(now_ms) &&
	wait_new_leader 20 $victim $rest &&
	sleep_rest $t0 8000 &&
	nemesis end isolate $victim &&
	heal &&
	fault_done isolate &&
	wait_leader 30 $SERVERS &&
	sleep 2
'

test_expect_success WORKLOAD 'nemesis: a 2/3 split for 10 s, the leader in the minority' '
	wait_leader 30 $SERVERS &&
	old=$leader &&
	set -- $(others $leader) &&
	minority="$leader $1" &&
	majority=$(others $minority) &&
	partition "$minority" "$majority" &&
	nemesis split-start $minority &&
	t0=$(now_ms) &&
	wait_new_leader 20 $old $majority &&
	sleep_rest $t0 10000 &&
	nemesis split-end $minority &&
	heal &&
	fault_done split &&
	wait_leader 30 $SERVERS &&
	sleep 2
'

test_expect_success WORKLOAD 'nemesis: a bridge for 10 s: {A B} <-> M <-> {C D}, A B cut from C D' '
	wait_leader 30 $SERVERS &&
	set -- $(printf "%s\n" $SERVERS | shuf) &&
	bridge_mid=$5 &&
	cut_off $1 $2 -- $3 $4 &&
	cut_off $3 $4 -- $1 $2 &&
	nemesis bridge-start $1 $2 $bridge_mid $3 $4 &&
	sleep 10 &&
	nemesis bridge-end &&
	heal &&
	fault_done bridge &&
	wait_leader 30 $SERVERS &&
	sleep 2
'

# big_writes FROM TO: writes FROM..TO of 500 kB each through the leader
# (HTTP::Tiny, one connection), to f/big/0..15 in turn (the Raft log
# grows by 500 kB a write, the state by at most 8 MB); stops early once
# ./big.stop exists. The count answered 200 true into ./big.n.
big_writes () {
	perl -MHTTP::Tiny -e '
		my ($url, $from, $to) = @ARGV;
		my $h = HTTP::Tiny->new(timeout => 10);
		my $v = "v" x 500000;
		my $n = 0;
		for my $i ($from .. $to) {
			last if -e "big.stop";
			my $r = $h->put("$url/v1/kv/f/big/" . $i % 16,
				{ content => $v . $i });
			$n++ if $r->{status} == 200 && $r->{content} eq "true";
		}
		print "$n\n";
	' "$(agent_http $leader)" "$1" "$2" >big.n
}

# small_writes N: N writes of f/bulk/0..3 through the leader, on 4
# connections at once (log entries without much data: they move Raft
# past its snapshot threshold); fails unless most were answered 200.
small_writes () {
	perl -MHTTP::Tiny -e '
		my ($url, $n) = @ARGV;
		my @kids;
		for my $c (0 .. 3) {
			my $pid = fork // die "fork: $!\n";
			if ($pid) { push @kids, $pid; next }
			my $h = HTTP::Tiny->new(timeout => 10);
			my $ok = 0;
			for my $i (1 .. $n / 4) {
				my $r = $h->put("$url/v1/kv/f/bulk/$c",
					{ content => "b$i" });
				$ok++ if $r->{status} == 200;
			}
			exit($ok > $n / 8 ? 0 : 1);
		}
		my $bad = 0;
		for (@kids) { waitpid $_, 0; $bad++ if $? }
		exit($bad ? 1 : 0);
	' "$(agent_http $leader)" "$1"
}

# exited NAME: NAME's process has exited on its own; its status into
# $exit_status, and it is forgotten (as after stop_agent).
exited () {
	ex_pid_=$(agent_pid "$1")
	test -n "$ex_pid_" && ! pid_alive "$ex_pid_" || return 1
	wait "$ex_pid_"
	exit_status=$?
	eval "$1_PID="
	rm -f "$TRASH/$1.pid"
}

# revive: start again each server that is not running (after a failed
# nemesis, so that the next ones still run with five).
revive () {
	rm -f "$TRASH/s5/filler"
	for s in $SERVERS; do
		test -n "$(running_agents $s)" || relaunch_agent $s || return 1
	done
}

# to_leader NAME: make NAME the leader (transfer-leader to its Raft ID).
# Under poll_until a try may follow one whose wait_leader failed and
# left $leader empty: find the leader first (an empty name would send
# the requests elsewhere, or make api's shift abort the whole script).
to_leader () {
	wait_leader 15 $SERVERS &&
	raft_config "$leader" >/dev/null &&
	tl_id_=$(json_get out "(map { \$_->{ID} } grep { \$_->{Node} eq \"$1\" } @{\$j->{Servers}})[0]") &&
	api_on "$leader" POST "/v1/operator/raft/transfer-leader?id=$tl_id_" &&
	expect_status 200 &&
	wait_leader 15 $SERVERS &&
	test "$leader" = "$1"
}

# The disk fills on the leader or on a follower (at random, or as
# T7006_DISK_ROLE says): a leader that cannot write has its own path in
# libraft.
disk_role=${T7006_DISK_ROLE:-$(printf "leader\nfollower\n" | shuf -n 1)}

test_expect_success WORKLOAD,TMPFS "nemesis: s5 disk full (s5 $disk_role); it stops with a clear log line, the rest serves" '
	wait_leader 30 $SERVERS &&
	if test $disk_role = leader; then
		test $leader = s5 || poll_until 30 to_leader s5 || return 1
	elif test $leader = s5; then
		poll_until 30 to_leader s1 || return 1
	fi &&
	nemesis start disk-full s5 $disk_role &&
	{ dd if=/dev/zero of="$TRASH/s5/filler" bs=1M 2>dd.err; :; } &&
	test_grep "No space left on device" dd.err &&
	rm -f big.stop &&
	{ big_writes 1 100 & } &&
	bw_pid=$! &&
	poll_until 120 exited s5 &&
	: >big.stop &&
	wait "$bw_pid" &&
	echo "s5 exited with status $exit_status after $(cat big.n) big writes" &&
	test "$exit_status" = 1 &&
	agent_log s5 >s5.last &&
	test_grep "writing the Raft log in .* failed (.*); stopping: free room in the data dir and start the agent again" s5.last &&
	wait_leader 30 s1 s2 s3 s4 &&
	for s in s1 s2 s3 s4; do
		answers $s || return 1
	done &&
	rm -f "$TRASH/s5/filler" &&
	relaunch_agent s5 &&
	nemesis end disk-full s5 &&
	fault_done disk-full &&
	wait_leader 30 $SERVERS &&
	poll_until 30 answers s5
'

# kill_at_install NAME: start NAME again and SIGKILL it as soon as its
# log says a snapshot install began (within 30 s); "mid" into
# ./install.out when its log did not yet say the state was restored
# from it (the kill came in the middle of the install), else "late".
kill_at_install () {
	ki_off_=$(wc -c <"$TRASH/$1.log") &&
	TEST_AGENT_WAIT=none relaunch_agent "$1" &&
	ki_pid_=$(agent_pid "$1") &&
	perl -MTime::HiRes=sleep -e '
		my ($log, $off, $pid) = @ARGV;
		open my $f, "<", $log or die "$log: $!\n";
		seek $f, $off, 0;
		my $buf = "";
		for (1 .. 3000) {
			seek $f, 0, 1;	# forget the last EOF: read what came since
			while (my $l = <$f>) { $buf .= $l }
			if ($buf =~ /installing a snapshot from/) {
				kill "KILL", $pid;
				sleep 0.2;
				seek $f, 0, 1;
				while (my $l = <$f>) { $buf .= $l }
				my ($after) = $buf =~ /installing a snapshot from(.*)/s;
				print $after =~ /restored state from snapshot/
					? "late\n" : "mid\n";
				exit 0;
			}
			exit 2 unless kill 0, $pid;
			sleep 0.01;
		}
		exit 1;
	' "$TRASH/$1.log" "$ki_off_" "$ki_pid_" >install.out
	ki_rc_=$?
	kill -s KILL "$ki_pid_" 2>/dev/null
	wait "$ki_pid_"
	eval "$1_PID="
	rm -f "$TRASH/$1.pid"
	echo "==== kill -9 ====" >>"$TRASH/$1.log"
	test $ki_rc_ = 0 && test -s install.out
}

test_expect_success WORKLOAD 'nemesis: a follower far behind, killed -9 during its snapshot install' '
	revive &&
	wait_leader 30 $SERVERS &&
	set -- $(others $leader) &&
	victim=$1 &&
	nemesis start snapshot-crash $victim &&
	kill9 $victim &&
	small_writes 400 &&
	mids=0 &&
	tries=0 &&
	while test $tries -lt 3 && test $mids = 0; do
		tries=$((tries + 1))
		kill_at_install $victim || return 1
		echo "attempt $tries: killed $(cat install.out) install"
		test "$(cat install.out)" != mid || mids=$((mids + 1))
	done &&
	relaunch_agent $victim &&
	nemesis end snapshot-crash $victim &&
	fault_done snapshot-crash &&
	echo "killed in the middle of an install: $mids of $tries" &&
	test $mids -ge 1 &&
	wait_leader 30 $SERVERS &&
	poll_until 60 answers $victim &&
	agent_log $victim >victim.last &&
	test_grep "restored state from snapshot" victim.last &&
	if grep "\[ERROR\]" victim.last; then false; fi
'

test_expect_success WORKLOAD 'the big values go (f/big/ deleted)' '
	wait_leader 30 $SERVERS &&
	api_on $leader DELETE "/v1/kv/f/big/?recurse" &&
	expect_status 200
'

test_expect_success WORKLOAD,TBF 'nemesis: a slow link on every server for 8 s (tbf: 1 Mbit/s, 80 ms queue, tail drops)' '
	for s in $SERVERS; do
		tc -n "$(ns_of $s)" qdisc add dev "$(veth $s)" root tbf \
			rate 1mbit burst 10kb latency 80ms || return 1
	done &&
	nemesis start slow-link &&
	sleep 8 &&
	for s in $SERVERS; do
		tc -n "$(ns_of $s)" -s qdisc show dev "$(veth $s)" |
			sed -n "s/^ *Sent \([0-9]*\) bytes \([0-9]*\) pkt (dropped \([0-9]*\).*/$s: \2 packets, \3 dropped/p" &&
		tc -n "$(ns_of $s)" qdisc del dev "$(veth $s)" root || return 1
	done &&
	nemesis end slow-link &&
	fault_done slow-link
'

test_expect_success WORKLOAD,NETEM 'nemesis: 40 ms +- 30 ms delay and 5% loss on every server for 8 s' '
	for s in $SERVERS; do
		tc -n "$(ns_of $s)" qdisc add dev "$(veth $s)" root netem \
			delay 40ms 30ms loss 5% || return 1
	done &&
	nemesis start netem &&
	sleep 8 &&
	for s in $SERVERS; do
		tc -n "$(ns_of $s)" qdisc del dev "$(veth $s)" root || return 1
	done &&
	nemesis end netem &&
	fault_done netem
'

# answered_by NAME T0: in a directory of its own (api writes ./out),
# poll until NAME answers (15 s), then the milliseconds since T0 into
# ./rec.NAME.
answered_by () {
	mkdir -p "rec-$1" &&
	(cd "rec-$1" && poll_until 15 answers "$1") &&
	echo $(( $(now_ms) - $2 )) >"rec.$1"
}

test_expect_success CLUSTER 'after the faults: one leader and every agent answers within 15 s' '
	revive &&
	t0=$(now_ms) &&
	wait_leader 15 $SERVERS &&
	recovery_detail=" leader:$(( $(now_ms) - t0 ))ms" &&
	rm -f rec.* &&
	rec_pids= &&
	for s in $SERVERS c1; do
		answered_by $s $t0 &
		rec_pids="$rec_pids $!"
	done &&
	for p in $rec_pids; do
		wait $p || return 1
	done &&
	recovery_ms=0 &&
	for s in $SERVERS c1; do
		ms=$(cat rec.$s) || return 1
		recovery_detail="$recovery_detail $s:${ms}ms"
		test "$ms" -le "$recovery_ms" || recovery_ms=$ms
	done &&
	echo "recovered in $recovery_ms ms:$recovery_detail" &&
	test "$recovery_ms" -le 15000
'

test_expect_success WORKLOAD 'the workload stops; final ?consistent reads of every key' '
	: >stop.flag &&
	wait_pid "$driver_pid" 20 &&
	driver_pid= &&
	wait_leader 15 $SERVERS &&
	perl "$TEST_DIRECTORY/faults-driver.pl" final -out "$TRASH/hist.final" \
		-keys 3 -timeout 10 "$leader=$(agent_addr $leader):8500" &&
	sort -s -n -k1,1 hist.c* hist.final >history &&
	if test -n "${T7006_KEEP-}"; then
		cp history nemesis.log hist.d* "$T7006_KEEP/" || return 1
	fi &&
	ops=$(grep -c " invoke " history || :) &&
	info=$(grep -c " info " history || :) &&
	echo "$ops operations, $info indeterminate" &&
	test "$ops" -gt 100 &&
	test_set_prereq HISTORY
'

test_expect_success HISTORY 'the history is linearizable (t/lincheck)' '
	"$LINCHECK" history >lincheck.out
	lc_rc=$?
	cat lincheck.out &&
	test "$lc_rc" = 0
'

# minority_acks: requests sent to the minority side of a partition
# (the 2/3 split, and the isolated leader) while it lasted that were
# acknowledged (ok), the invocation and completion lines into ./acks;
# the count of requests sent there then into $minority_sent.
minority_acks () {
	perl -e '
		my ($hist, $nem) = @ARGV;
		my (@win, %open);
		open my $n, "<", $nem or die "$nem: $!\n";
		while (<$n>) {
			my ($t, $what, @who) = split;
			if ($what eq "split-start" ||
			    ($what eq "start" && $who[0] eq "isolate")) {
				shift @who if $what eq "start";
				$open{$what eq "start" ? "isolate" : "split"} =
					[$t, undef, { map { $_ => 1 } @who }];
			} elsif ($what eq "split-end" ||
				 ($what eq "end" && $who[0] eq "isolate")) {
				my $w = delete $open{$what eq "end" ? "isolate" : "split"}
					or next;
				$w->[1] = $t;
				push @win, $w;
			}
		}
		die "no partition in $nem\n" unless @win;
		open my $h, "<", $hist or die "$hist: $!\n";
		my (%inv, $sent);
		while (<$h>) {
			my ($t, $p, $type) = split;
			my ($node) = /#\s*(\S+)/;
			if ($type eq "invoke") { $inv{$p} = [$t, $node, $_]; next }
			my $i = delete $inv{$p} or next;
			for my $w (@win) {
				next unless $w->[2]{$i->[1]} &&
					$i->[0] >= $w->[0] && $i->[0] <= $w->[1];
				$sent++;
				print STDOUT "$i->[2]$_" if $type eq "ok" && $t <= $w->[1];
			}
		}
		print STDERR ($sent // 0), "\n";
	' history nemesis.log >acks 2>sent &&
	minority_sent=$(cat sent)
}

# stale_reads: default-mode reads (hist.d*) that returned an older
# ModifyIndex than one already known to be committed when they were
# sent: a ?consistent read of the history that had completed with a
# higher index, or an acknowledged write/CAS whose value some read
# showed at a higher index. A line "STALENESS_MS INVOKE KEY INDEX NODE"
# each into ./stale; "COUNT MAX_MS" of the default reads into
# ./stale.sum. STALENESS is a lower bound of how old the answer was
# (how long a newer value had been known committed).
stale_reads () {
	perl -e '
		my (%known, %idx_of, %inv);	# key -> [[time, index]...]
		open my $h, "<", "history" or die "history: $!\n";
		while (<$h>) {
			s/\s*#.*//;
			my ($t, $p, $type, $f, $k, $v, $i) = split;
			if ($type eq "invoke") { $inv{$p} = [$f, $v]; next }
			my $w = delete $inv{$p};
			next unless $type eq "ok";
			if ($f eq "read") {
				push @{$known{$k}}, [$t, $i];
				$idx_of{$k}{$v} = $i;
			} elsif ($w && ($f eq "write" || $v eq "true")) {
				push @{$known{$k}}, [$t, undef, $w->[1]];
			}
		}
		my @d;
		for my $f (glob "hist.d*") {
			open my $df, "<", $f or die "$f: $!\n";
			while (<$df>) { push @d, [split] }
		}
		my ($n, $max) = (0, 0);
		for my $r (@d) {
			my ($t0, $t1, $k, $i, $node) = @$r;
			$n++;
			my $first;
			for my $e (@{$known{$k} || []}) {
				my $ei = $e->[1] // $idx_of{$k}{$e->[2]};
				next unless defined $ei && $ei > $i && $e->[0] < $t0;
				$first = $e->[0] if !defined $first || $e->[0] < $first;
			}
			next unless defined $first;
			my $ms = int(($t0 - $first) / 1000);
			$max = $ms if $ms > $max;
			print "$ms $t0 $k $i $node\n";
		}
		print STDERR "$n $max\n";
	' >stale 2>stale.sum
}

test_expect_success 'the stale-read check finds a stale default read (made-up history)' '
	mkdir -p stale-self &&
	(
		cd stale-self &&
		printf "%s\n" "1000000 c1 invoke write f/k0 c1-1 # s1" \
			"1100000 c1 ok write f/k0 # s1" \
			"1200000 c2 invoke read f/k0 # s2" \
			"1300000 c2 ok read f/k0 c1-1 50 # s2" >history &&
		printf "%s\n" "1050000 1060000 f/k0 40 s3" \
			"2500000 2600000 f/k0 40 s3" \
			"3000000 3100000 f/k0 50 s1" >hist.d1 &&
		stale_reads &&
		echo "1400 2500000 f/k0 40 s3" >expect &&
		test_cmp expect stale &&
		echo "3 1400" >expect &&
		test_cmp expect stale.sum
	)
'

test_expect_success HISTORY 'default-mode reads are stale by at most one election timeout (1000 ms)' '
	stale_reads &&
	read dreads stale_max <stale.sum &&
	stale_n=$(wc -l <stale) &&
	echo "$dreads default reads, $stale_n stale, the stalest by $stale_max ms" &&
	test "$dreads" -gt 50 &&
	sort -n -r stale | head -n 5 &&
	test "$stale_max" -le 1000
'

test_expect_success HISTORY 'the minority acknowledged nothing while cut off (split, isolation)' '
	case " $faults_done " in
	*" split "*) ;;
	*) echo "no split happened"; false ;;
	esac &&
	minority_acks &&
	echo "$minority_sent requests to a cut-off minority" &&
	test "$minority_sent" -gt 0 &&
	test_cmp /dev/null acks
'

# kv_sums: "NAME SHA-256" of each server's whole KV store (?stale:
# its own state, entries with their indexes), one a line; fails unless
# they are all the same.
kv_sums () {
	for s in $SERVERS; do
		api_on $s GET "/v1/kv/?recurse&stale" &&
		expect_status 200 &&
		echo "$s $(sha256sum <out | cut -c1-64)" || return 1
	done >sums &&
	test "$(cut -d" " -f2 sums | sort -u | wc -l)" = 1
}

test_expect_success HISTORY 'every server holds the same KV state (SHA-256 of ?stale recurse)' '
	poll_until 30 kv_sums &&
	cat sums
'

test_expect_success 'the agents exit 0 on TERM' '
	stop_agents TERM $(running_agents c1 $SERVERS) &&
	if test -n "${disk_mounted-}"; then
		umount "$TRASH/s5" && disk_mounted=
	fi
'

test -n "${recovery_ms-}" && echo "# recovered ${recovery_ms} ms after the last fault (each agent's first write + ?consistent read:$recovery_detail)"
test -f lincheck.out && echo "# lincheck: $(tail -n 1 lincheck.out)"
test -n "${minority_sent-}" && echo "# $minority_sent requests to a cut-off minority (split, isolated leader), $(( $(wc -l <acks) / 2 )) acknowledged"

anomalies=0
if test -f lincheck.out; then
	bad=$(sed -n 's/.* \([0-9]*\) keys not linearizable.*/\1/p' lincheck.out)
	anomalies=$((anomalies + ${bad:-0}))
fi
test -f acks && anomalies=$((anomalies + $(wc -l <acks) / 2))
if test -f stale.sum; then
	echo "# ${dreads:-0} default-mode reads, ${stale_n:-0} stale, the stalest by ${stale_max:-0} ms (bound: 1000 ms)"
	test "${stale_max:-0}" -le 1000 || anomalies=$((anomalies + 1))
fi
echo "# t7006: ${ops:-0} operations (${info:-0} indeterminate), $faults faults injected (${faults_done# }${skipped_nemeses:+; skipped:$skipped_nemeses}), $anomalies anomalies found"

test_done
