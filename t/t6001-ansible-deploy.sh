#!/bin/sh
test_description='ansible/: the reference deployment laid out by the playbook on three hosts (one machine, one root prefix each), run by supervisord'

# Needs root (files owned by another user, supervisord switching user),
# ansible-playbook and supervisord (scripts/deps.sh installs them).
if test "$(id -u)" != 0; then
	skip_all='not root (the playbook chowns files, supervisord switches user)'
elif ! command -v ansible-playbook >/dev/null 2>&1 ||
     ! command -v ansible-vault >/dev/null 2>&1; then
	skip_all='ansible-playbook not installed (scripts/deps.sh)'
elif ! command -v supervisord >/dev/null 2>&1 ||
     ! command -v supervisorctl >/dev/null 2>&1; then
	skip_all='supervisord not installed (scripts/deps.sh)'
elif ! id nobody >/dev/null 2>&1 || ! getent group nogroup >/dev/null 2>&1; then
	skip_all='no nobody user or nogroup group to run the agents as'
fi
. ./lib.sh

ANSIBLE_DIR=$TEST_DIRECTORY/../ansible
HOSTS='host1 host2 host3'
TOKEN=6a1f3c2e-0d4b-4e8a-9c7f-2b5d8e1a4f60

# Ansible: no ~/.ansible.cfg, nothing written outside $TRASH, no colour,
# no retry files; any ANSIBLE_* setting of the caller is dropped. Ansible
# refuses to run without a UTF-8 locale (lib.sh sets LC_ALL=C).
for v_ in $(env | sed -n 's/^\(ANSIBLE_[A-Za-z0-9_]*\)=.*/\1/p'); do
	unset "$v_"
done
cat >"$TRASH/ansible.cfg" <<EOF
[defaults]
local_tmp = $TRASH/.ansible/tmp
remote_tmp = $TRASH/.ansible/tmp
retry_files_enabled = False
interpreter_python = /usr/bin/python3
nocolor = True
forks = 10
pipelining = True
EOF
ANSIBLE_CONFIG=$TRASH/ansible.cfg
ANSIBLE_HOME=$TRASH/.ansible
ANSIBLE_LOCAL_TEMP=$TRASH/.ansible/tmp
ANSIBLE_REMOTE_TEMP=$TRASH/.ansible/tmp
ANSIBLE_NOCOLOR=1
ANSIBLE_FORCE_COLOR=0
ANSIBLE_STDOUT_CALLBACK=default
export ANSIBLE_CONFIG ANSIBLE_HOME ANSIBLE_LOCAL_TEMP ANSIBLE_REMOTE_TEMP \
	ANSIBLE_NOCOLOR ANSIBLE_FORCE_COLOR ANSIBLE_STDOUT_CALLBACK

# host_ip N / host_http N / host_conf N: address, HTTP API and
# supervisord.conf of hostN.
host_ip () { echo "$TEST_NET.$1"; }
host_http () { echo "http://$TEST_NET.$1:8500"; }
host_conf () { echo "$TRASH/host$1/etc/supervisord.conf"; }

# write_inventory FILE PREFIX N...: one server per N, as the sample
# inventory but local, each under $TRASH/PREFIXN and listening for HTTP on
# its own address (three agents cannot all have 0.0.0.0:8500).
write_inventory () {
	wi_f_=$1
	wi_p_=$2
	shift 2
	echo '[consul_servers]' >"$wi_f_"
	for wi_n_ in "$@"; do
		echo "$wi_p_$wi_n_ ansible_connection=local consul_bind_addr=$(host_ip "$wi_n_") consul_client_addr=$(host_ip "$wi_n_") consul_root_prefix=$TRASH/$wi_p_$wi_n_ consul_supervisorctl_conf=$TRASH/$wi_p_$wi_n_/etc/supervisord.conf"
	done >>"$wi_f_"
	cat >>"$wi_f_" <<-EOF
	[consul_clients]
	[consul:children]
	consul_servers
	EOF
}

# play INVENTORY [ansible-playbook args...]: run site.yml, output in
# play.out (kept as play.N.out).
play_n=0
play () {
	play_n=$((play_n + 1))
	pl_inv_=$1
	shift
	LC_ALL=C.UTF-8 ansible-playbook -i "$pl_inv_" -e @"$TRASH/vars.yml" \
		-e @"$TRASH/secrets.yml" --vault-password-file "$TRASH/vault-pass" \
		"$@" "$ANSIBLE_DIR/site.yml" >play.out 2>&1
	pl_rc_=$?
	cp play.out "play.$play_n.out"
	return $pl_rc_
}

# recap_changed_is N: every host of the last play's recap has changed=N
# and failed=0.
recap_changed_is () {
	sed -n '/^PLAY RECAP/,$p' play.out >recap &&
	test_grep 'ok=' recap &&
	if grep -v -e '^PLAY RECAP' -e '^$' recap |
		grep -v "changed=$1 .*failed=0 "; then
		echo >&9 "not every host has changed=$1, failed=0:"
		cat >&9 play.out
		return 1
	fi
}

# start_supervisord N: supervisord for hostN, everything in its prefix.
start_supervisord () {
	sd_d_=$TRASH/host$1
	mkdir -p "$sd_d_/etc/supervisord.d" "$sd_d_/var/log" "$sd_d_/run" &&
	cat >"$sd_d_/etc/supervisord.conf" <<-EOF &&
	[unix_http_server]
	file=$sd_d_/run/supervisor.sock
	chmod=0700

	[supervisord]
	logfile=$sd_d_/var/log/supervisord.log
	pidfile=$sd_d_/run/supervisord.pid
	childlogdir=$sd_d_/var/log
	user=root

	[rpcinterface:supervisor]
	supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

	[supervisorctl]
	serverurl=unix://$sd_d_/run/supervisor.sock

	[include]
	files = $sd_d_/etc/supervisord.d/*.ini
	EOF
	supervisord -c "$sd_d_/etc/supervisord.conf" &&
	poll_until 10 test -S "$sd_d_/run/supervisor.sock" &&
	poll_until 10 test -s "$sd_d_/run/supervisord.pid"
}

# stop_supervisord N: TERM supervisord of hostN by the PID in its
# pidfile (it stops its programs first: QUIT, then KILL after
# stopwaitsecs) and wait for it to be gone; then check that no process
# still runs from hostN's prefix.
stop_supervisord () {
	ss_pf_=$TRASH/host$1/run/supervisord.pid
	if test -s "$ss_pf_"; then
		ss_pid_=$(cat "$ss_pf_")
		kill -s TERM "$ss_pid_" 2>/dev/null
		ss_i_=0
		while test $ss_i_ -lt 200 && pid_alive "$ss_pid_"; do
			sleep 0.1
			ss_i_=$((ss_i_ + 1))
		done
		if pid_alive "$ss_pid_"; then
			echo >&9 "supervisord of host$1 (pid $ss_pid_) ignored TERM"
			kill -s KILL "$ss_pid_" 2>/dev/null
		fi
		rm -f "$ss_pf_"
	fi
	ss_left_=$(prefix_pids "$TRASH/host$1/")
	test -z "$ss_left_" && return 0
	echo >&9 "still running from host$1 after supervisord stopped: $ss_left_"
	kill -s KILL $ss_left_ 2>/dev/null
	return 1
}

# prefix_pids DIR: PIDs of processes whose command line names DIR (the
# agents deployed under it, never anything else of this machine).
prefix_pids () {
	for pp_ in /proc/[0-9]*; do
		{ tr '\0' ' ' <"$pp_/cmdline"; } 2>/dev/null | grep -q -F "$1" &&
			printf '%s ' "${pp_#/proc/}"
	done
	return 0
}

stop_all_supervisords () {
	sa_rc_=0
	for n_ in 1 2 3; do
		stop_supervisord $n_ || sa_rc_=1
	done
	return $sa_rc_
}
trap 'sa_exit_=$?; stop_all_supervisords; (exit $sa_exit_); test_exit_trap_' EXIT

# leader_agreed: the three hosts name the same, non-empty leader.
leader_agreed () {
	la_first_=
	for n_ in 1 2 3; do
		la_l_=$(test_curl -m 3 "$(host_http $n_)/v1/status/leader") || return 1
		echo "host$n_: $la_l_"
		case $la_l_ in \"$TEST_NET.[123]:8300\") ;; *) return 1 ;; esac
		test -z "$la_first_" || test "$la_l_" = "$la_first_" || return 1
		la_first_=$la_l_
	done
}

# member_status_is N NODE STATUS: hostN's members lists NODE as STATUS.
member_status_is () {
	consul members -token "$TOKEN" -http-addr="$(host_http "$1")" \
		>members.out 2>&1 &&
	cat members.out &&
	awk -v n="$2" -v s="$3" '$1 == n && $3 == s { f = 1 } END { exit !f }' \
		members.out
}

test_expect_success 'setup: vars, vaulted token, inventory, one supervisord per host' '
	cp "$PROCONSUL_BIN_DIR/proconsul" "$TRASH/proconsul" &&
	cat >vars.yml <<-EOF &&
	consul_binary_src: $TRASH/proconsul
	consul_datacenter: dc-ansible
	consul_user: nobody
	consul_group: nogroup
	consul_create_user: false
	consul_manage_packages: false
	consul_acl_management_token: "{{ vault_consul_acl_management_token }}"
	EOF
	echo "test-vault-password" >vault-pass &&
	echo "vault_consul_acl_management_token: $TOKEN" >secrets.yml &&
	LC_ALL=C.UTF-8 ansible-vault encrypt --vault-password-file vault-pass secrets.yml &&
	test_grep "^\$ANSIBLE_VAULT" secrets.yml &&
	write_inventory inventory host 1 2 3 &&
	for n_ in 1 2 3; do
		start_supervisord $n_ || return 1
	done
'

test_expect_success '--check --diff on a fresh host: validates, shows the files, changes nothing' '
	write_inventory inventory.fresh fresh 1 &&
	play inventory.fresh --check --diff &&
	test_grep "consul.ini" play.out &&
	test_grep "^+command=$TRASH/fresh1/opt/app/consul/consul agent -server" play.out &&
	! grep -F "$TOKEN" play.out &&
	test_path_is_missing "$TRASH/fresh1"
'

test_expect_success 'the playbook lays out the reference deployment and starts it' '
	play inventory &&
	recap_changed_is "[1-9][0-9]*" &&
	d=$TRASH/host2 &&
	test -x "$d/opt/app/consul/consul" &&
	cmp "$TRASH/proconsul" "$d/opt/app/consul/consul" &&
	stat -c "%a %U %n" "$d/opt/app/consul/consul" \
		"$d/opt/app/consul/config/auth.hcl" \
		"$d/opt/app/consul/config/consulha.hcl" \
		"$d/data/data/consul" "$d/opt/app/consul/backup.token" \
		"$d/data/backup/consul" "$d/etc/cron.d/consul-snapshot" \
		"$d/etc/supervisord.d/consul.ini" | sed "s|$d||" >actual &&
	cat >expect <<-EOF &&
	755 root /opt/app/consul/consul
	600 nobody /opt/app/consul/config/auth.hcl
	640 nobody /opt/app/consul/config/consulha.hcl
	700 nobody /data/data/consul
	600 nobody /opt/app/consul/backup.token
	700 nobody /data/backup/consul
	644 root /etc/cron.d/consul-snapshot
	644 root /etc/supervisord.d/consul.ini
	EOF
	test_cmp expect actual &&
	test_grep -F "command=$d/opt/app/consul/consul agent -server -http-port=8500 -data-dir=$d/data/data/consul/ -node=host2 -bind=$TEST_NET.2 -bootstrap-expect=3 -client=$TEST_NET.2 -datacenter=dc-ansible -ui -config-dir=$d/opt/app/consul/config/" "$d/etc/supervisord.d/consul.ini" &&
	for l in autostart=true autorestart=true startsecs=5 startretries=3 \
		stopsignal=QUIT stopwaitsecs=5 user=nobody redirect_stderr=true \
		"stdout_logfile=$d/var/log/consul.log" \
		stdout_logfile_maxbytes=10MB stdout_logfile_backups=5; do
		test_grep -x -F "$l" "$d/etc/supervisord.d/consul.ini" || return 1
	done &&
	printf "%s\n" "# Managed by Ansible (roles/consul): edits here are overwritten." \
		"server = true" \
		"retry_join = [\"$TEST_NET.1\", \"$TEST_NET.2\", \"$TEST_NET.3\"]" >expect &&
	test_cmp expect "$d/opt/app/consul/config/consulha.hcl" &&
	test_grep -F "\"initial_management\": \"$TOKEN\" // the cluster" \
		"$d/opt/app/consul/config/auth.hcl" &&
	test_grep -F "\"default_policy\": \"deny\"," "$d/opt/app/consul/config/auth.hcl" &&
	echo "$TOKEN" >expect &&
	test_cmp expect "$d/opt/app/consul/backup.token" &&
	! grep -r -F "$TOKEN" play.out inventory vars.yml
'

test_expect_success 'supervisord runs one agent per host, as nobody' '
	for n_ in 1 2 3; do
		poll_until 20 supervisorctl -c "$(host_conf $n_)" status consul ||
			return 1
		supervisorctl -c "$(host_conf $n_)" pid consul >pid &&
		test "$(stat -c %U /proc/$(cat pid))" = nobody || return 1
	done
'

test_expect_success 'the three servers elect a leader' '
	poll_until 60 leader_agreed
'

test_expect_success 'members (with the management token) lists 3 alive servers' '
	consul members -token "$TOKEN" -http-addr="$(host_http 1)" >members &&
	awk "NR > 1 && \$3 == \"alive\" && \$4 == \"server\" { print \$1, \$2 }" \
		members | sort >actual &&
	printf "host%s $TEST_NET.%s:8301\n" 1 1 2 2 3 3 >expect &&
	test_cmp expect actual
'

test_expect_success 'ACLs are on: default deny without a token' '
	test_must_fail consul kv put -http-addr="$(host_http 1)" app/denied x 2>err &&
	test_grep -i "permission denied\|ACL not found\|403" err
'

test_expect_success 'a KV write on host1 is read on host3' '
	consul kv put -token "$TOKEN" -http-addr="$(host_http 1)" app/port 8080 &&
	consul kv get -token "$TOKEN" -http-addr="$(host_http 3)" app/port >actual &&
	echo 8080 >expect &&
	test_cmp expect actual
'

test_expect_success 'supervisorctl stop: QUIT stops host3 gracefully; the others see it failed' '
	supervisorctl -c "$(host_conf 3)" stop consul >out &&
	test_grep "consul: stopped" out &&
	test_expect_code 3 supervisorctl -c "$(host_conf 3)" status consul >out &&
	test_grep "^consul  *STOPPED" out &&
	test_grep "stopped: consul (exit status 0)" "$TRASH/host3/var/log/supervisord.log" &&
	! grep "killed: consul" "$TRASH/host3/var/log/supervisord.log" &&
	test_grep "Gracefully shutting down agent" "$TRASH/host3/var/log/consul.log" &&
	test_grep "shutdown complete" "$TRASH/host3/var/log/consul.log" &&
	poll_until 30 member_status_is 1 host3 failed &&
	poll_until 30 member_status_is 2 host3 failed
'

test_expect_success 'the cron job: its exact command, run by hand as its user, saves a snapshot' '
	cron=$TRASH/host1/etc/cron.d/consul-snapshot &&
	grep "^[0-9]" "$cron" >line &&
	test $(wc -l <line) = 1 &&
	read -r min hour dom mon dow user cmd <line &&
	test "$min $hour $dom $mon $dow $user" = "0 3 * * * nobody" &&
	echo "$TRASH/host1/opt/app/consul/consul snapshot save -dir $TRASH/host1/data/backup/consul -keep 14 -token-file $TRASH/host1/opt/app/consul/backup.token -http-addr=http://$TEST_NET.1:8500" >expect &&
	echo "$cmd" >actual &&
	test_cmp expect actual &&
	setpriv --reuid="$user" --regid=nogroup --clear-groups \
		/bin/sh -c "$cmd" >out 2>err &&
	! test -s out &&
	! test -s err &&
	ls "$TRASH/host1/data/backup/consul" >snaps &&
	test_grep -x "dc-ansible-[0-9T]*Z-[0-9]*\.snap" snaps &&
	test $(wc -l <snaps) = 1
'

test_expect_success 'a second run changes nothing' '
	play inventory --diff &&
	recap_changed_is 0
'

test_expect_success 'an even number of servers fails validation, before any change' '
	write_inventory inventory.even even 1 2 &&
	test_expect_code 2 play inventory.even &&
	test_grep "has 2 server(s) (even1, even2) and bootstrap_expect is 2: Raft needs an odd number of servers" play.out &&
	test_path_is_missing "$TRASH/even1" &&
	test_path_is_missing "$TRASH/even2"
'

test_expect_success 'a duplicate node name fails validation, before any change' '
	write_inventory inventory.dup dup 1 2 3 &&
	sed -i "s/^dup3 .*/& consul_node_name=dup1/" inventory.dup &&
	test_expect_code 2 play inventory.dup &&
	test_grep "node names must be unique" play.out &&
	test_path_is_missing "$TRASH/dup1"
'

test_expect_success 'a server missing from retry_join fails validation, before any change' '
	write_inventory inventory.rj rj 1 2 3 &&
	test_expect_code 2 play inventory.rj \
		-e "{\"consul_retry_join\": [\"$TEST_NET.1\", \"$TEST_NET.2\"]}" &&
	test_grep "lacks $TEST_NET.3, the bind address (-bind) of server(s) rj3: every server" play.out &&
	test_path_is_missing "$TRASH/rj1"
'

test_expect_success 'stop every supervisord: nothing is left running' '
	stop_all_supervisords &&
	for n_ in 1 2 3; do
		test -z "$(prefix_pids "$TRASH/host$n_/")" || return 1
	done
'

test_expect_success 'no sanitizer reports in the agents logs' '
	for n_ in 1 2 3; do
		! grep -e "ERROR: AddressSanitizer" -e "ERROR: LeakSanitizer" \
			-e "runtime error:" "$TRASH/host$n_/var/log/consul.log" ||
			return 1
	done
'

test_done
