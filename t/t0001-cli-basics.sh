#!/bin/sh
test_description='multi-call binary: help, version, dispatch, aliases, flag errors'
. ./lib.sh

# Nothing listens on this address: commands that need an agent fail fast.
CONSUL_HTTP_ADDR=http://$TEST_NET.254:8500
export CONSUL_HTTP_ADDR

test_expect_success 'version prints "Consul v..." first' '
	proconsul version >out 2>err &&
	head -n 1 out >first &&
	test_grep "^Consul v[0-9][0-9]*\.[0-9][0-9]*\.[0-9]" first
'

test_expect_success 'version mentions the revision and protocol' '
	proconsul version >out &&
	test_grep "^Revision " out &&
	test_grep "^Protocol 2 spoken by default" out
'

test_expect_success '-v, -version and --version are version' '
	proconsul version >expect &&
	proconsul -v >actual1 &&
	proconsul -version >actual2 &&
	proconsul --version >actual3 &&
	test_cmp expect actual1 &&
	test_cmp expect actual2 &&
	test_cmp expect actual3
'

test_expect_success 'help lists the commands and exits 0' '
	proconsul help >out 2>&1 &&
	test_grep "^Usage: consul" out &&
	test_grep "^Available commands are:" out &&
	test_grep "^    agent  *Runs a Consul agent" out &&
	test_grep "^    kv  " out &&
	test_grep "^    version  " out
'

test_expect_success '-h, -help and --help print the same usage, exit 0' '
	proconsul -h >out1 2>&1 &&
	proconsul -help >out2 2>&1 &&
	proconsul --help >out3 2>&1 &&
	test_grep "^Available commands are:" out1 &&
	test_cmp out1 out2 &&
	test_cmp out1 out3
'

test_expect_success 'no arguments: usage on stderr and exit 1' '
	test_expect_code 1 proconsul >out 2>err &&
	test_grep "^Usage: consul" err &&
	test_grep "Available commands are:" err
'

test_expect_success 'unknown command: message and exit 1' '
	test_expect_code 1 proconsul frobnicate >out 2>err &&
	test_grep "frobnicate" err &&
	! test -s out
'

test_expect_success 'unknown command is not mistaken for a flag' '
	test_expect_code 1 proconsul -frobnicate >out 2>err &&
	test -s err
'

test_expect_success 'help for a command: proconsul help kv' '
	proconsul help kv >out 2>&1 &&
	test_grep "Usage: consul kv" out
'

for c in "agent" "force-leave" "join" "kv get" "kv put" "kv delete" "leave" \
	"members" "version"
do
	test_expect_success "proconsul $c -h prints its usage and exits 0" "
		proconsul $c -h >out 2>&1 &&
		test_grep 'Usage: consul $c' out
	"
done

test_expect_success 'kv -h lists the sub-commands' '
	proconsul kv -h >out 2>&1 &&
	test_grep "get" out &&
	test_grep "put" out &&
	test_grep "delete" out
'

test_expect_success 'kv with an unknown sub-command fails' '
	test_must_fail proconsul kv frobnicate >out 2>err &&
	test -s err
'

test_expect_success 'kv get -h documents the flags' '
	proconsul kv get -h >out 2>&1 &&
	for f in -recurse -keys -separator -detailed -base64 -http-addr -token \
		-token-file
	do
		test_grep -e "$f" out || return 1
	done
'

test_expect_success 'kv put -h documents the flags' '
	proconsul kv put -h >out 2>&1 &&
	for f in -cas -modify-index -flags -base64 -http-addr -token
	do
		test_grep -e "$f" out || return 1
	done
'

test_expect_success 'agent -h documents the foundation flags' '
	proconsul agent -h >out 2>&1 &&
	for f in -server -bootstrap -bootstrap-expect -node -datacenter -bind \
		-client -advertise -data-dir -http-port -ui -config-file \
		-config-dir -pid-file -log-level -retry-join -dev
	do
		test_grep -e "$f" out || return 1
	done
'

# Flag syntax errors: Go flag package messages, exit 1 (as Consul).
test_expect_success 'undefined flag: message and exit 1' '
	test_expect_code 1 proconsul kv get -nosuchflag k >out 2>err &&
	test_grep "flag provided but not defined: -nosuchflag" err
'

test_expect_success 'flag missing its value: message and exit 1' '
	test_expect_code 1 proconsul kv get -http-addr >out 2>err &&
	test_grep "flag needs an argument: -http-addr" err
'

test_expect_success 'bad integer value: message and exit 1' '
	test_expect_code 1 proconsul kv put -flags=abc k v >out 2>err &&
	test_grep "invalid value \"abc\" for flag -flags" err
'

test_expect_success 'bad boolean value: message and exit 1' '
	test_expect_code 1 proconsul kv get -recurse=maybe k >out 2>err &&
	test_grep "invalid boolean value \"maybe\" for -recurse" err
'

test_expect_success 'agent: undefined flag exits 1' '
	test_expect_code 1 timeout 20 proconsul agent -nosuchflag >out 2>err &&
	test_grep "flag provided but not defined: -nosuchflag" err
'

test_expect_success 'agent: bad -http-port value exits 1' '
	test_expect_code 1 timeout 20 proconsul agent -dev -http-port=notaport \
		>out 2>err &&
	test_grep "http-port" err
'

test_expect_success 'agent without -data-dir (and without -dev) exits 1' '
	test_expect_code 1 timeout 20 proconsul agent -server -bootstrap \
		-bind=$TEST_NET.250 -client=$TEST_NET.250 >out 2>&1 &&
	test_grep -i "data.dir" out
'

test_expect_success 'agent: -bootstrap-expect without -server exits 1' '
	test_expect_code 1 timeout 20 proconsul agent -bootstrap-expect=3 \
		-data-dir=$TRASH/bx -bind=$TEST_NET.250 -client=$TEST_NET.250 \
		>out 2>&1 &&
	test_grep "BootstrapExpect mode requires Server mode" out
'

test_expect_success 'agent: -bootstrap and -bootstrap-expect together exit 1' '
	test_expect_code 1 timeout 20 proconsul agent -server -bootstrap \
		-bootstrap-expect=3 -data-dir=$TRASH/bb -bind=$TEST_NET.250 \
		-client=$TEST_NET.250 >out 2>&1 &&
	test_grep "BootstrapExpect mode and Bootstrap mode are mutually exclusive" out
'

test_expect_success 'flags accept -x=v, -x v and --x forms' '
	test_expect_code 1 proconsul kv get -http-addr=$TEST_NET.254:8500 k 2>err1 &&
	test_expect_code 1 proconsul kv get -http-addr $TEST_NET.254:8500 k 2>err2 &&
	test_expect_code 1 proconsul kv get --http-addr $TEST_NET.254:8500 k 2>err3 &&
	! grep -q "flag provided but not defined" err1 &&
	! grep -q "flag provided but not defined" err2 &&
	! grep -q "flag provided but not defined" err3
'

test_expect_success 'kv get without an agent: connection error, exit 1' '
	test_expect_code 1 proconsul kv get some/key >out 2>err &&
	test_grep "Error querying Consul agent" err &&
	test_grep "connection refused" err &&
	! test -s out
'

test_expect_success 'kv get without a key: Consul message, exit 1' '
	test_expect_code 1 proconsul kv get >out 2>err &&
	test_grep "Error! Missing KEY argument" err
'

test_expect_success 'consul is a symlink alias of proconsul' '
	test -h "$PROCONSUL_BIN_DIR/consul" &&
	consul version >actual &&
	proconsul version >expect &&
	test_cmp expect actual
'

test_expect_success 'consul alias dispatches commands like proconsul' '
	test_expect_code 1 consul frobnicate 2>err &&
	test_grep frobnicate err &&
	consul help >out 2>&1 &&
	test_grep "^Usage: consul" out
'

test_expect_success 'busybox style: a symlink named kv runs kv' '
	ln -s "$(command -v proconsul)" kv &&
	test_expect_code 1 ./kv get some/key >out 2>err &&
	test_grep "connection refused" err &&
	! grep -qi "unknown" err
'

test_expect_success 'busybox style: symlinks named version and proconsul-version' '
	ln -s "$(command -v proconsul)" version &&
	ln -s "$(command -v proconsul)" proconsul-version &&
	./version >out1 &&
	./proconsul-version >out2 &&
	proconsul version >expect &&
	test_cmp expect out1 &&
	test_cmp expect out2
'

test_expect_success 'busybox style: a symlink named after no command fails' '
	ln -s "$(command -v proconsul)" frobnicate &&
	test_expect_code 1 ./frobnicate >out 2>err &&
	test -s err
'

test_expect_success 'kv put: too many arguments' '
	test_expect_code 1 proconsul kv put a b c >out 2>err &&
	test_grep "Too many arguments (expected 1 or 2, got 3)" err
'

test_expect_success 'kv put without a key' '
	test_expect_code 1 proconsul kv put >out 2>err &&
	test_grep "Error! Missing KEY argument" err
'

test_expect_success 'kv delete -modify-index without -cas' '
	test_expect_code 1 proconsul kv delete -modify-index=3 k >out 2>err &&
	test_grep "Cannot specify -modify-index without -cas!" err
'

test_expect_success 'kv delete -cas with -recurse' '
	test_expect_code 1 proconsul kv delete -cas -modify-index=3 -recurse k \
		>out 2>err &&
	test_grep "Cannot specify both -cas and -recurse!" err
'

test_expect_success 'kv delete without a key' '
	test_expect_code 1 proconsul kv delete >out 2>err &&
	test_grep "Error! Missing KEY argument" err
'

test_done
