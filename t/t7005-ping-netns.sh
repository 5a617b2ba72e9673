#!/bin/sh
test_description='ping names the node whose UDP 8301 is blocked: three servers in network namespaces this script creates'

# Three namespaces, one server each, on 10.200.43.0/24 (TEST_NET with
# TEST_NET_PREFIX=10.200): pc7005a holds n1, this shell (it re-executes
# itself in there) and a bridge; pc7005b (n2) and pc7005c (n3) hang off
# the bridge by veth pairs. Nothing is connected to the host's network,
# so no packet leaves the namespaces. UDP 8301 of n2 is blocked as a
# host firewall's DROP would: a policy rule in pc7005b blackholes the UDP
# packets to port 8301 that arrive on its veth, silently. That needs only
# iproute2: a tc filter would need the drop action (act_gact), which
# some kernels lack, and netfilter a package of its own.
#
# This outer part, in the host's namespace, only creates the namespaces,
# runs the tests inside pc7005a and, whatever happens, stops what is
# left in them and deletes them. Without the right to create a
# namespace, the script skips (CI=true as root: it fails instead).

# The inner part is told its namespace (its TEST_NET_PREFIX is 10.200).
PC7005_NS=${PC7005_INNER:-pc7005a}
if test -z "${PC7005_INNER-}" && test -n "${TEST_NET_PREFIX-}"; then
	# a second run of the suite on this machine gets its own namespaces
	PC7005_NS=$PC7005_NS$(printf '%s' "$TEST_NET_PREFIX" | tr -cd 0-9)
fi
NS_A=$PC7005_NS
NS_B=$(echo "$PC7005_NS" | sed 's/^pc7005a/pc7005b/')
NS_C=$(echo "$PC7005_NS" | sed 's/^pc7005a/pc7005c/')

if test -z "${PC7005_INNER-}"; then
	ns_made=
	inner_pid=

	# alive PID: running, not a zombie
	alive () {
		al_=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
		case $al_ in
		''|Z*|X*) return 1 ;;
		esac
	}

	# Bounded: TERM the inner shell (lib.sh stops its agents), then
	# KILL what is still in our namespaces, then delete them.
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
			ip netns del "$ns" 2>/dev/null ||
				echo >&2 "t7005: cannot delete network namespace $ns"
		done
	}

	# ns_add NAME: create it; a leftover of a killed run (no process
	# in it) is deleted first. Exit 2 if one is in use, 1 if ip fails.
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
		for ns in "$NS_A" "$NS_B" "$NS_C"; do
			why=$(ns_add "$ns")
			st=$?
			test $st = 0 || break
			ns_made="$ns_made $ns"
		done
		if test $st = 1; then
			why="cannot create network namespaces: $(printf %s "$why" | tr "\n" " ")"
		fi
	fi
	if test $st = 2 || { test $st = 1 && test "${CI-}" = true &&
			     test "$(id -u)" = 0; }; then
		echo "Bail out! t7005-ping-netns: $why"
		exit 1
	elif test $st != 0; then
		echo "1..0 # SKIP $why"
		exit 0
	fi
	PC7005_INNER=$NS_A TEST_NET_PREFIX=10.200 \
		ip netns exec "$NS_A" /bin/sh "$0" "$@" &
	inner_pid=$!
	wait "$inner_pid"
	rc=$?
	inner_pid=
	ns_cleanup
	exit $rc
fi

# ---------------------------------------------------------------------
# Inner part: in pc7005a, from here on an ordinary lib.sh script.

. ./lib.sh

test "$(ip netns identify $$ 2>/dev/null)" = "$NS_A" ||
	test_bail_ "not inside network namespace $NS_A (run this script itself, not with PC7005_INNER set)"
test "$TEST_NET" = 10.200.43 ||
	test_bail_ "TEST_NET is $TEST_NET, not 10.200.43"

test_have_prereq PERL || { skip_all='needs perl (lib.sh agents)'; test_done; }

TEST_SERVERS="n1 n2 n3"
# shellcheck disable=SC2086 # a list of names
reserve_agents $TEST_SERVERS
SRC=$TEST_NET.9
agent_wrap n2 ip netns exec "$NS_B"
agent_wrap n3 ip netns exec "$NS_C"

# row_ok NODE ROLE FILE / row_udp_timeout NODE ROLE FILE: NODE's row of
# the ping matrix in FILE: every column ok / ok but UDP 8301 timed out
# (TCP 8302 may be refused: no WAN pool here).
ok_='ok [0-9.]*ms'
row_ok () {
	test_grep "^$1 *$(agent_addr "$1") *$2 *$ok_ *$ok_ *$ok_ *\\($ok_\\|refused\\) *$ok_\$" "$3"
}
row_udp_timeout () {
	test_grep "^$1 *$(agent_addr "$1") *$2 *$ok_ *$ok_ *timeout *\\($ok_\\|refused\\) *$ok_\$" "$3"
}

# problem_lines FILE: the lines after the matrix, but for TCP 8302 (not
# a failure), into ./actual.
problem_lines () {
	sed -e '1,/^$/d' -e '/^TCP 8302 /d' "$1" >actual
}

# ping_ok ARGS...: proconsul ping ARGS >ping.out exits 0 (for
# poll_until, which shows the last failure's output)
ping_ok () {
	proconsul ping "$@" >ping.out && return 0
	cat ping.out >&9
	return 1
}

UDP_LINE="UDP 8301 to $n2_ADDR timed out: gossip will flap; open UDP 8301"

test_expect_success 'setup: a bridge in pc7005a, a veth to pc7005b and one to pc7005c' '
	ip -n "$NS_A" link set lo up &&
	ip -n "$NS_A" link add pc7005br type bridge &&
	ip -n "$NS_A" addr add "$n1_ADDR/24" dev pc7005br &&
	ip -n "$NS_A" addr add "$SRC/24" dev pc7005br &&
	ip -n "$NS_A" link set pc7005br up &&
	for x_ns_a in "b $NS_B $n2_ADDR" "c $NS_C $n3_ADDR"; do
		set -- $x_ns_a &&
		x=$1 ns=$2 a=$3 &&
		ip -n "$NS_A" link add pc7005${x}0 type veth \
			peer name pc7005${x}1 netns "$ns" &&
		ip -n "$NS_A" link set pc7005${x}0 master pc7005br &&
		ip -n "$NS_A" link set pc7005${x}0 up &&
		ip -n "$ns" link set lo up &&
		ip -n "$ns" addr add "$a/24" dev pc7005${x}1 &&
		ip -n "$ns" link set pc7005${x}1 up || return 1
	done &&
	# in pc7005b the local table comes after the block rule (pref 100)
	ip -n "$NS_B" rule add pref 1000 lookup local &&
	ip -n "$NS_B" rule del pref 0 &&
	for ns in "$NS_A" "$NS_B" "$NS_C"; do
		ip -n "$ns" route show >routes &&
		test_grep "^$TEST_NET.0/24 dev pc7005" routes &&
		sed "/^$TEST_NET.0\/24 dev pc7005/d" routes >actual &&
		test_cmp /dev/null actual || return 1
	done
'

test_expect_success 'three servers, one per namespace, elect a leader' '
	start_servers -bootstrap-expect=3 &&
	wait_leader 60 n1 n2 n3 &&
	poll_until 60 gossip_status_is n1 n2 alive &&
	poll_until 30 gossip_status_is n1 n3 alive &&
	test_set_prereq CLUSTER
'

test_expect_success CLUSTER 'control: every port of every server answers, exit 0' '
	poll_until 30 ping_ok -timeout 3s &&
	test_grep "^Node  *Address  *Role  *TCP 8300  *TCP 8301  *UDP 8301  *TCP 8302  *HTTP 8500\$" ping.out &&
	row_ok n1 server ping.out &&
	row_ok n2 server ping.out &&
	row_ok n3 server ping.out &&
	problem_lines ping.out &&
	test_cmp /dev/null actual
'

test_expect_success CLUSTER 'block UDP 8301 into n2 (pc7005b drops it, silently)' '
	ip -n "$NS_B" rule add pref 100 iif pc7005b1 ipproto udp dport 8301 \
		blackhole &&
	test_set_prereq BLOCKED
'

test_expect_success BLOCKED 'ping: n2 times out on UDP 8301 only, the line names it; exit 1' '
	test_expect_code 1 proconsul ping -timeout 3s >ping.out &&
	row_ok n1 server ping.out &&
	row_udp_timeout n2 server ping.out &&
	row_ok n3 server ping.out &&
	problem_lines ping.out &&
	echo "$UDP_LINE" >expect &&
	test_cmp expect actual
'

test_expect_success BLOCKED 'gossip: n2 stays alive; n1 and n3 log that UDP to it is blocked' '
	msg="member .n2. at $n2_ADDR:8301 answers TCP pings but no UDP probes: UDP port 8301 is blocked" &&
	poll_until 30 grep -q "$msg" n1.log &&
	poll_until 30 grep -q "$msg" n3.log &&
	gossip_status_is n1 n2 alive &&
	gossip_status_is n3 n2 alive
'

test_expect_success BLOCKED 'ping -I: the same from another local address' '
	test_expect_code 1 proconsul ping -I "$SRC" -timeout 3s >ping.out &&
	test_grep "^From $SRC:\$" ping.out &&
	row_ok n1 server ping.out &&
	row_udp_timeout n2 server ping.out &&
	row_ok n3 server ping.out &&
	problem_lines ping.out &&
	echo "$UDP_LINE" >expect &&
	test_cmp expect actual
'

test_expect_success BLOCKED 'ping HOST: the blocked host alone, no member list' '
	test_expect_code 1 proconsul ping -timeout 3s "$n2_ADDR" >ping.out &&
	test_grep "^$n2_ADDR  *$n2_ADDR  *host  *$ok_  *$ok_  *timeout  *\\($ok_\\|refused\\)  *$ok_\$" ping.out &&
	problem_lines ping.out &&
	echo "$UDP_LINE" >expect &&
	test_cmp expect actual
'

test_expect_success BLOCKED 'unblock: ping recovers, exit 0' '
	ip -n "$NS_B" rule del pref 100 &&
	poll_until 30 ping_ok -timeout 3s &&
	row_ok n1 server ping.out &&
	row_ok n2 server ping.out &&
	row_ok n3 server ping.out
'

test_expect_success CLUSTER 'the cluster still has n2 alive and one leader' '
	poll_until 60 gossip_status_is n1 n2 alive &&
	poll_until 60 gossip_status_is n3 n2 alive &&
	wait_leader 30 n1 n2 n3
'

test_expect_success 'the servers exit 0 on TERM' '
	stop_agents TERM $(running_agents n1 n2 n3)
'

test_done
