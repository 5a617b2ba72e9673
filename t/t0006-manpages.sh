#!/bin/sh
test_description='man pages: one per command, every -h flag documented, clean rendering'
. ./lib.sh

TOP=$(cd "$TEST_DIRECTORY/.." && pwd)
MAN=$TOP/share/man
command -v groff >/dev/null 2>&1 && test_set_prereq GROFF
command -v mandoc >/dev/null 2>&1 && test_set_prereq MANDOC
command -v man >/dev/null 2>&1 && test_set_prereq MAN

# The commands of cmd/cmdlist.h, as typed (force_leave -> force-leave).
sed -n 's/^CMD(\([a-z_]*\),.*/\1/p' "$TOP/cmd/cmdlist.h" | tr _ - >cmds

# help_paths PATH...: PATH and every verb under it, one a line, from the
# "Subcommands:" sections of the -h texts.
help_paths () {
	echo "$*"
	proconsul "$@" -h 2>&1 |
	sed -n '/^Subcommands:/,$s/^    \([a-z][-a-z0-9_]*\)  .*/\1/p' >"sub.$$" ||
		return 1
	for hp_v_ in $(cat "sub.$$"); do
		help_paths "$@" "$hp_v_" || return 1
	done
}

test_expect_success 'cmdlist.h and the help list agree' '
	test -s cmds &&
	proconsul help >out &&
	sed -n "s/^    \([a-z][-a-z]*\)  .*/\1/p" out >actual &&
	test_cmp cmds actual
'

test_expect_success 'every command has share/man/proconsul-<cmd>.1' '
	for c in $(cat cmds); do
		test_file_not_empty "$MAN/proconsul-$c.1" || return 1
	done
'

test_expect_success 'no page for a command that does not exist' '
	for f in "$MAN"/proconsul-*.1; do
		c=${f##*/proconsul-}; c=${c%.1}
		test_grep -x "$c" cmds || return 1
	done
'

test_expect_success 'proconsul(1) lists every command and refers to its page' '
	sed "s/\\\\-/-/g" "$MAN/proconsul.1" >norm &&
	for c in $(cat cmds); do
		test_grep -x ".B $c" norm &&
		test_grep -e "^.BR proconsul-$c (1)" norm || return 1
	done &&
	test_grep -e "^.BR proconsul.conf (5)" norm
'

# Every flag each -h shows (and each verb's, down the tree) appears in
# the command's page, as \-flag (or -flag), not as part of a longer name.
for c in $(cat cmds); do
	test_expect_success "$c: every flag of -h (and of its verbs) is in the page" '
		sed "s/\\\\-/-/g" "$MAN/proconsul-'"$c"'.1" >norm &&
		help_paths '"$c"' >paths &&
		missing= &&
		while read -r p; do
			proconsul $p -h >help.out 2>&1 || return 1
			for f in $(sed -n "s/^  \(-[a-z][-a-z0-9]*\)\(=<.*>\)\{0,1\}\$/\1/p" help.out); do
				grep -E -q -e "(^|[^-a-z0-9])$f([^-a-z0-9]|\$)" norm ||
					missing="$missing
$p: $f"
			done
		done <paths &&
		test -z "$missing" || {
			echo >&9 "not in proconsul-'"$c"'.1:$missing"
			return 1
		}
	'
done

test_expect_success 'proconsul.conf(5) documents the important keys' '
	sed "s/\\\\-/-/g" "$MAN/proconsul.conf.5" >norm &&
	for k in acl enabled default_policy down_policy tokens \
		initial_management enable_token_persistence addresses ports \
		bootstrap_expect retry_join data_dir node_name datacenter \
		ui_config dns_config autopilot gossip_lan leave_on_terminate \
		services checks bind_addr client_addr server encrypt \
		log_level
	do
		test_grep -e "$k" norm || return 1
	done &&
	test_grep -e "-config-dir" norm &&
	test_grep -i "lexical order" norm &&
	test_grep -i "appended" norm
'

test_expect_success 'the key names in proconsul.conf(5) are in the schema' '
	sed -n "/^\.SH AGENT/,/^\.SH FILES/s/^\.BR* \([a-z_][a-z_]*\)\( .*\)\{0,1\}\$/\1/p" \
		"$MAN/proconsul.conf.5" | sort -u >keys &&
	test -s keys &&
	for k in $(cat keys); do
		grep -q "\"$k\"" "$TOP/libcore/cfg_schema.c" ||
			case $k in
			# Words in bold that are not keys: values, commands,
			# fields of a service or check definition.
			allow|deny|extend*|async*|trace|debug|info|warn|error|\
			consul|list|read|acl|name|id|tags|address|port|meta|\
			http|interval|timeout|tcp|args|ttl|service_id) ;;
			*) echo >&9 "not a schema key: $k"; return 1 ;;
			esac
	done
'

test_expect_success GROFF 'groff renders every page without a warning' '
	for f in "$MAN"/*.1 "$MAN"/*.5; do
		groff -man -Tutf8 -ww -z "$f" 2>err &&
		! test -s err || {
			echo >&9 "$f:"; cat >&9 err; return 1
		}
	done
'

test_expect_success MANDOC 'mandoc -Tlint finds no warning' '
	for f in "$MAN"/*.1 "$MAN"/*.5; do
		mandoc -Tlint -W warning "$f" >err 2>&1 || {
			cat >&9 err; return 1
		}
		! test -s err || { cat >&9 err; return 1; }
	done
'

test_expect_success MAN 'man -l formats every page' '
	for f in "$MAN"/*.1 "$MAN"/*.5; do
		MANWIDTH=80 man -l "$f" >out 2>err </dev/null &&
		test_file_not_empty out || return 1
	done
'

test_done
