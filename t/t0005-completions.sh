#!/bin/sh
test_description='bash and zsh completions: generated from the help texts, and they complete'
. ./lib.sh

TOP=$(cd "$TEST_DIRECTORY/.." && pwd)
command -v bash >/dev/null 2>&1 && test_set_prereq BASH
command -v zsh >/dev/null 2>&1 && test_set_prereq ZSH

test_expect_success 'the committed completions are the generator output' '
	"$TOP/scripts/gen-completions.sh" -b "$PROCONSUL_BIN_DIR/proconsul" \
		-o gen -t table &&
	test_cmp "$TOP/completions/proconsul.bash" gen/proconsul.bash &&
	test_cmp "$TOP/completions/_proconsul" gen/_proconsul
'

test_expect_success 'the generator saw every command of the help list' '
	proconsul help >help.out &&
	sed -n "s/^    \([a-z][-a-z]*\)  .*/\1/p" help.out >expect &&
	awk -F "	" "\$1 == \"V\" && \$2 == \"\" { print \$3 }" table >actual &&
	test_cmp expect actual
'

# comp WORD...: run the bash completion with COMP_WORDS set to the words
# (the last one is being completed); the replies, one a line, in ./out.
comp () {
	bash --norc --noprofile -c '
		source "$1/completions/proconsul.bash" || exit 1
		shift
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		_proconsul || exit 1
		for r in "${COMPREPLY[@]}"; do printf "%s\n" "$r"; done
	' comp "$TOP" "$@" >out
}

# expect_words WORD...: ./out is exactly these lines.
expect_words () {
	printf "%s\n" "$@" >expect &&
	test_cmp expect out
}

test_expect_success BASH 'bash: syntax' 'bash -n "$TOP/completions/proconsul.bash"'

test_expect_success BASH 'bash: commands' '
	comp consul "" &&
	test_grep -x acl out && test_grep -x agent out &&
	test_grep -x force-leave out && test_grep -x snapshot out &&
	comp consul s &&
	expect_words services snapshot
'

test_expect_success BASH 'bash: the proconsul name completes the same' '
	comp proconsul kv &&
	expect_words kv
'

test_expect_success BASH 'bash: verbs' '
	comp consul kv g &&
	expect_words get &&
	comp consul snapshot "" &&
	expect_words inspect restore save
'

test_expect_success BASH 'bash: nested verbs' '
	comp consul acl token cr &&
	expect_words create &&
	comp consul operator raft l &&
	expect_words list-peers &&
	comp consul operator autopilot "" &&
	expect_words get-config set-config state
'

test_expect_success BASH 'bash: flags of a leaf, from its -h' '
	comp consul kv get -re &&
	expect_words -recurse &&
	comp consul acl token create -pol &&
	expect_words -policy-id= -policy-name= &&
	comp consul snapshot save -ke &&
	expect_words -keep= &&
	comp consul agent -bootstrap &&
	expect_words -bootstrap -bootstrap-expect=
'

test_expect_success BASH 'bash: every flag of kv get -h is offered' '
	proconsul kv get -h >help.out &&
	sed -n "s/^  \(-[a-z][-a-z0-9]*\).*/\1/p" help.out | sort >expect &&
	comp consul kv get - &&
	sed "s/=\$//" out | grep -v -x -e -help | sort >actual &&
	test_cmp expect actual
'

test_expect_success BASH 'bash: flag values' '
	comp consul version -format "" &&
	expect_words pretty json &&
	comp consul version -format = j &&
	expect_words json &&
	comp consul agent -log-level d &&
	expect_words debug
'

test_expect_success BASH 'bash: file names for FILE arguments and path flags' '
	mkdir -p files/sub &&
	: >files/backup.snap && : >files/web.hcl &&
	comp consul snapshot restore files/b &&
	expect_words files/backup.snap &&
	comp consul agent -config-file files/w &&
	expect_words files/web.hcl &&
	comp consul agent -config-file = files/w &&
	expect_words files/web.hcl &&
	comp consul agent -data-dir files/s &&
	expect_words files/sub
'

test_expect_success BASH 'bash: help completes commands and verbs' '
	comp consul help ac &&
	expect_words acl &&
	comp consul help acl to &&
	expect_words token
'

test_expect_success BASH 'bash: acl set-agent-token completes token types' '
	comp consul acl set-agent-token d &&
	expect_words default dns
'

test_expect_success BASH 'bash: no agent, no KV keys, quickly and quietly' '
	comp consul kv get a 2>err &&
	! test -s out &&
	! test -s err
'

test_expect_success 'setup: a dev agent with keys' '
	start_agent a1 -dev &&
	proconsul kv put app/port 8080 >/dev/null &&
	proconsul kv put app/db/host db1 >/dev/null &&
	proconsul kv put apple 1 >/dev/null &&
	proconsul kv put other 1 >/dev/null
'

test_expect_success BASH 'bash: kv get completes keys one level at a time' '
	comp consul kv get a &&
	expect_words app/ apple &&
	comp consul kv get app/ &&
	expect_words app/db/ app/port &&
	comp consul kv delete app/d &&
	expect_words app/db/ &&
	comp consul kv put o &&
	expect_words other
'

test_expect_success BASH 'bash: KV keys after flags, and the -http-addr of the line' '
	comp consul kv get -recurse -separator / ap &&
	expect_words app/ apple &&
	(
		CONSUL_HTTP_ADDR=http://$TEST_NET.254:8500 &&
		comp consul kv get -http-addr = $a1_ADDR : 8500 app/ &&
		expect_words app/db/ app/port
	)
'

test_expect_success BASH 'bash: CONSUL_HTTP_TOKEN reaches the agent' '
	(
		CONSUL_HTTP_TOKEN=not-a-token && export CONSUL_HTTP_TOKEN &&
		comp consul kv get ap &&
		expect_words app/ apple
	)
'

test_expect_success BASH 'bash: only the first kv argument is a key' '
	comp consul kv put app/port a &&
	! test -s out
'

# zsh: the completion functions run with _arguments, _describe and
# compadd replaced by stubs that print what they were given.
zcomp () {
	zsh -f -c '
		_describe () { print -r -- "${(j: :)${(@)${(P)${@[-1]}}%%:*}}" }
		_arguments () { print -rl -- "$@" }
		compadd () { print -r -- "${@[-1]}" }
		top=$1; shift
		source "$top/completions/_proconsul" >/dev/null 2>&1
		words=("$@"); CURRENT=$#; PREFIX=${@[-1]}
		_proconsul
	' zcomp "$TOP" "$@" >out
}

test_expect_success ZSH 'zsh: syntax' 'zsh -n "$TOP/completions/_proconsul"'

test_expect_success ZSH 'zsh: #compdef names both commands' '
	head -n 1 "$TOP/completions/_proconsul" >out &&
	echo "#compdef proconsul consul" >expect &&
	test_cmp expect out
'

test_expect_success ZSH 'zsh: commands, verbs, nested verbs' '
	zcomp consul "" &&
	test_grep "acl agent bootstrap event force-leave help info join keygen kv" out &&
	zcomp consul kv "" &&
	test_grep -x "delete export get import put" out &&
	zcomp consul acl token "" &&
	test_grep -x "clone create delete list read update" out
'

test_expect_success ZSH 'zsh: flags and positional arguments of a leaf' '
	zcomp consul snapshot save "" &&
	test_grep "^-keep=\[" out &&
	test_grep "^-dir=\[.*_files -/" out &&
	test_grep -x "\*:file:_files" out &&
	zcomp consul kv get "" &&
	test_grep -x "1:key:_proconsul_kv_keys" out
'

test_expect_success ZSH 'zsh: KV keys from the agent' '
	zsh -f -c '\''
		compadd () { print -r -- "${@[-1]}" }
		source "$1/completions/_proconsul" >/dev/null 2>&1
		words=(consul kv get ap); CURRENT=4; PREFIX=ap
		_proconsul_kv_keys
	'\'' zcomp "$TOP" >out &&
	expect_words app/ apple
'

test_done
