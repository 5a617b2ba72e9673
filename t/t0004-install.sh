#!/bin/sh
test_description='make install: binary, consul link, man pages, completions under DESTDIR'
. ./lib.sh

TOP=$(cd "$TEST_DIRECTORY/.." && pwd)

if ! command -v make >/dev/null 2>&1; then
	skip_all='make is not installed'
	test_done
fi

# mode FILE: the permission bits, in octal.
mode () {
	stat -c %a "$1"
}

# make's output is the test's: shown when it fails.
test_expect_success 'make install PREFIX=/usr/local DESTDIR=...' '
	make -s -C "$TOP" install PREFIX=/usr/local DESTDIR="$TRASH/dest" &&
	D=$TRASH/dest/usr/local
'

test_expect_success 'the binary, executable, and it runs' '
	test -f "$D/bin/proconsul" && test -x "$D/bin/proconsul" &&
	test "$(mode "$D/bin/proconsul")" = 755 &&
	"$D/bin/proconsul" version >out &&
	test_grep "^Consul v" out
'

test_expect_success 'consul is a relative symlink to proconsul' '
	test -h "$D/bin/consul" &&
	test "$(readlink "$D/bin/consul")" = proconsul &&
	"$D/bin/consul" version >actual &&
	test_cmp out actual
'

test_expect_success 'every section 1 page in man1, proconsul.conf.5 in man5' '
	for f in "$TOP"/share/man/*.1; do
		i=$D/share/man/man1/$(basename "$f") &&
		cmp "$f" "$i" &&
		test "$(mode "$i")" = 644 || return 1
	done &&
	cmp "$TOP/share/man/proconsul.conf.5" "$D/share/man/man5/proconsul.conf.5" &&
	test "$(mode "$D/share/man/man5/proconsul.conf.5")" = 644 &&
	test -f "$D/share/man/man1/proconsul.1" &&
	test -f "$D/share/man/man1/proconsul-kv.1"
'

test_expect_success 'no man page outside man1 and man5' '
	(cd "$D/share/man" && find . -type f | sort) >actual &&
	(cd "$TOP/share/man" && for f in *.1; do echo "./man1/$f"; done &&
		echo ./man5/proconsul.conf.5) | sort >expect &&
	test_cmp expect actual
'

test_expect_success 'bash completion as proconsul, and consul a link to it' '
	b=$D/share/bash-completion/completions &&
	cmp "$TOP/completions/proconsul.bash" "$b/proconsul" &&
	test "$(mode "$b/proconsul")" = 644 &&
	test -h "$b/consul" &&
	test "$(readlink "$b/consul")" = proconsul
'

test_expect_success 'zsh completion in site-functions' '
	z=$D/share/zsh/site-functions/_proconsul &&
	cmp "$TOP/completions/_proconsul" "$z" &&
	test "$(mode "$z")" = 644
'

test_expect_success 'nothing else is installed' '
	(cd "$TRASH/dest" && find . ! -type d | sort) >actual &&
	{
		echo ./usr/local/bin/consul &&
		echo ./usr/local/bin/proconsul &&
		echo ./usr/local/share/bash-completion/completions/consul &&
		echo ./usr/local/share/bash-completion/completions/proconsul &&
		(cd "$TOP/share/man" && for f in *.1; do
			echo "./usr/local/share/man/man1/$f"; done) &&
		echo ./usr/local/share/man/man5/proconsul.conf.5 &&
		echo ./usr/local/share/zsh/site-functions/_proconsul
	} | sort >expect &&
	test_cmp expect actual
'

test_expect_success 'installing again over an existing tree works' '
	make -s -C "$TOP" install PREFIX=/usr/local DESTDIR="$TRASH/dest" &&
	test -h "$D/bin/consul"
'

test_expect_success 'another PREFIX' '
	make -s -C "$TOP" install PREFIX=/opt/pc DESTDIR="$TRASH/dest2" &&
	test -x "$TRASH/dest2/opt/pc/bin/proconsul" &&
	test -f "$TRASH/dest2/opt/pc/share/man/man5/proconsul.conf.5" &&
	test -f "$TRASH/dest2/opt/pc/share/zsh/site-functions/_proconsul"
'

test_done
