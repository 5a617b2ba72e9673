#!/bin/sh
test_description='snapshot save|restore|inspect: usage, verification, round trip on a dev agent, -dir rotation'
. ./lib.sh

# ---------------------------------------------------------------------
# Help and usage errors (exit 2); none of these needs an agent.

test_expect_success 'snapshot alone: usage and the verbs on stderr, exit 2' '
	test_expect_code 2 proconsul snapshot >out 2>err &&
	test_grep "^Usage: consul snapshot <subcommand>" err &&
	for v in inspect restore save
	do
		test_grep "^    $v  " err || return 1
	done &&
	! test -s out
'

test_expect_success 'snapshot -h: usage on stdout, exit 0' '
	proconsul snapshot -h >out 2>err &&
	test_grep "^Usage: consul snapshot <subcommand>" out &&
	! test -s err
'

test_expect_success 'unknown verb: exit 2' '
	test_expect_code 2 proconsul snapshot frob >out 2>err &&
	test_grep "frob" err
'

for v in save restore inspect
do
	test_expect_success "snapshot $v -h prints its usage, exit 0" "
		proconsul snapshot $v -h >out 2>err &&
		test_grep '^Usage: consul snapshot $v' out &&
		! test -s err
	"
done

test_expect_success 'help snapshot save == snapshot save -h; flags documented' '
	proconsul help snapshot save >actual &&
	proconsul snapshot save -h >expect &&
	test_cmp expect actual &&
	for f in -dir -keep -stale -token -token-file -http-addr; do
		test_grep -e "$f" actual || return 1
	done
'

test_expect_success 'missing and extra FILE arguments' '
	for v in save restore inspect; do
		test_expect_code 2 proconsul snapshot $v >out 2>err &&
		test_grep "^Missing FILE argument$" err &&
		test_expect_code 2 proconsul snapshot $v a b >out 2>err &&
		test_grep "^Too many arguments (expected 1, got 2)$" err || return 1
	done
'

test_expect_success 'bad flags: exit 2' '
	test_expect_code 2 proconsul snapshot save -nope f >out 2>err &&
	test_grep "flag provided but not defined: -nope" err &&
	test_expect_code 2 proconsul snapshot inspect -format=xml f >out 2>err &&
	test_grep "Unknown format: xml" err
'

test_expect_success '-keep without -dir, -keep 0, FILE with -dir: usage errors' '
	test_expect_code 2 proconsul snapshot save -keep 3 f.snap >out 2>err &&
	test_grep -e "-keep requires -dir" err &&
	test_expect_code 2 proconsul snapshot save -keep 3 >out 2>err &&
	test_grep -e "-keep requires -dir" err &&
	mkdir -p u &&
	test_expect_code 2 proconsul snapshot save -dir u -keep 0 >out 2>err &&
	test_grep -e "-keep must be at least 1" err &&
	test_expect_code 2 proconsul snapshot save -dir u f.snap >out 2>err &&
	test_grep "Too many arguments" err &&
	test_path_is_missing f.snap &&
	! ls u/* >/dev/null 2>&1
'

test_expect_success 'inspect or restore of a missing file: exit 1' '
	test_expect_code 1 proconsul snapshot inspect nope.snap >out 2>err &&
	test_grep "^Error opening snapshot file: open nope.snap: " err &&
	test_expect_code 1 proconsul snapshot restore nope.snap >out 2>err &&
	test_grep "^Error opening snapshot file: open nope.snap: " err
'

test_expect_success 'restore refuses a file that is not a snapshot before any request' '
	echo "not a snapshot" >junk.snap &&
	test_expect_code 1 proconsul snapshot restore junk.snap >out 2>err &&
	test_grep "^Error verifying snapshot file: " err &&
	! test_grep -i "dial\|connect" err &&
	test_expect_code 1 proconsul snapshot inspect junk.snap >out 2>err &&
	test_grep "^Error reading snapshot: " err
'

# A snapshot as real Consul writes it: meta.json without "Format".
test_expect_success PERL 'inspect of a Consul snapshot: meta.json only' '
	mkdir consul && (
		cd consul &&
		printf "\0\0\0\0" >state.bin &&
		printf "%s\n" "{\"Version\":1,\"ID\":\"2-13-1602222343947\",\"Index\":13,\"Term\":2,\"Peers\":\"ka4xMjcuMC4wLjE6ODMwMA==\",\"Configuration\":{\"Servers\":[]},\"ConfigurationIndex\":1,\"Size\":4}" >meta.json &&
		sha256sum meta.json state.bin >SHA256SUMS &&
		tar -cf - meta.json state.bin SHA256SUMS | gzip >../consul.snap
	) &&
	proconsul snapshot inspect consul.snap >out 2>err &&
	cat >expect <<-\EOF &&
	 ID           2-13-1602222343947
	 Size         4
	 Index        13
	 Term         2
	 Version      1

	 state.bin is Consul'"'"'s encoding; only meta.json was read
	EOF
	test_cmp expect out &&
	! test -s err &&
	proconsul snapshot inspect -format=json consul.snap >out.json &&
	test "$(json_get out.json "\$j->{Meta}{Index}")" = 13 &&
	test "$(json_get out.json "\$j->{Meta}{ID}")" = 2-13-1602222343947
'

# ---------------------------------------------------------------------
# A dev agent: save, inspect, restore.

test_expect_success 'setup: dev agent with some keys' '
	start_agent a1 -dev &&
	proconsul kv put app/color blue >out &&
	proconsul kv put app/size 10 >out &&
	proconsul kv put other/x y >out
'

test_expect_success 'save FILE prints the index, leaves a 0600 file only' '
	proconsul snapshot save s.snap >out 2>err &&
	test_grep "^Saved and verified snapshot to index [1-9][0-9]*$" out &&
	! test -s err &&
	test_file_not_empty s.snap &&
	test_path_is_missing s.snap.unverified &&
	test "$(stat -c %a s.snap)" = 600 &&
	index=$(sed -n "s/^Saved and verified snapshot to index //p" out) &&
	test -n "$index"
'

test_expect_success 'the file is a gzip tar of meta.json, state.bin, SHA256SUMS' '
	tar -tzf s.snap >members &&
	printf "%s\n" meta.json state.bin SHA256SUMS >expect &&
	test_cmp expect members &&
	mkdir x && tar -xzf s.snap -C x &&
	(cd x && sha256sum -c SHA256SUMS >/dev/null) &&
	test "$(json_get x/meta.json "\$j->{Index}")" = "$index"
'

test_expect_success 'inspect shows the meta block and a KV row' '
	proconsul snapshot inspect s.snap >out 2>err &&
	! test -s err &&
	test_grep "^ ID           [0-9]*-$index-[0-9]*$" out &&
	test_grep "^ Index        $index$" out &&
	test_grep "^ Version      1$" out &&
	test_grep "^ Type  *Count  *Size *$" out &&
	test_grep "^ KV" out &&
	test_grep "^ Total  *[0-9.]*[KMGT]*B$" out
'

test_expect_success PERL 'inspect -format=json parses and agrees' '
	proconsul snapshot inspect -format=json s.snap >out.json &&
	test "$(json_get out.json "\$j->{Meta}{Index}")" = "$index" &&
	json_get out.json "join q{,}, map { \$_->{Name} } @{\$j->{Stats}}" >names &&
	test_grep "KV" names &&
	total=$(json_get out.json "\$j->{TotalSize}") &&
	sum=$(json_get out.json "my \$s = 0; \$s += \$_->{Sum} for @{\$j->{Stats}}; \$s") &&
	test "$total" = "$sum" && test "$total" -gt 0
'

test_expect_success 'restore brings the old values back' '
	proconsul kv put app/color red >out &&
	proconsul kv put app/new 1 >out &&
	proconsul snapshot restore s.snap >out 2>err &&
	echo "Restored snapshot" >expect &&
	test_cmp expect out &&
	! test -s err &&
	proconsul kv get app/color >out &&
	echo blue >expect && test_cmp expect out &&
	test_expect_code 1 proconsul kv get app/new >out 2>err &&
	proconsul kv get other/x >out &&
	echo y >expect && test_cmp expect out
'

test_expect_success 'damaged copies are refused by restore, data unchanged' '
	proconsul kv put app/color green >out &&
	size=$(wc -c <s.snap) &&
	head -c $((size / 2)) s.snap >trunc.snap &&
	head -c $((size - 1)) s.snap >short.snap &&
	cp s.snap flip.snap &&
	perl -e "open my \$f, q{+<}, q{flip.snap} or die; my \$o = int(-s \$f / 2);
		seek \$f, \$o, 0; read \$f, my \$b, 1;
		seek \$f, \$o, 0; print \$f chr(ord(\$b) ^ 0x55)" &&
	! cmp -s s.snap flip.snap &&
	{ cat s.snap && echo garbage; } >tail.snap &&
	for f in trunc short flip tail; do
		test_expect_code 1 proconsul snapshot restore $f.snap >out 2>err &&
		test_grep "^Error verifying snapshot file: " err &&
		test $(wc -l <err) = 1 &&
		! test -s out || return 1
	done &&
	proconsul kv get app/color >out &&
	echo green >expect && test_cmp expect out
'

test_expect_success 'inspect refuses the damaged copies too' '
	for f in trunc flip tail; do
		test_expect_code 1 proconsul snapshot inspect $f.snap >out 2>err &&
		test_grep "^Error reading snapshot: " err || return 1
	done
'

# ---------------------------------------------------------------------
# -dir rotation (cron mode).

rotated () { ls d | grep -E "^dc1-[0-9]{8}T[0-9]{6}Z-[0-9]+\.snap$" | sort; }
newest () { rotated | tail -n 1; }

test_expect_success 'save -dir -keep 2, three times: the newest two, silent' '
	mkdir d &&
	: >d/notes.txt && : >d/dc1-latest.snap &&
	: >d/dc2-20000101T000000Z-1.snap && : >d/dc1-20000101T000000Z-1.snap.bak &&
	: >d/dc1-20000101T000000Z-1.snap &&
	proconsul snapshot save -dir d -keep 2 >out 2>err &&
	! test -s out && ! test -s err &&
	first=$(newest) && sleep 1 &&
	proconsul snapshot save -dir d -keep 2 >out 2>err &&
	! test -s out && ! test -s err &&
	second=$(newest) && sleep 1 &&
	proconsul snapshot save -dir d -keep 2 >out 2>err &&
	! test -s out && ! test -s err &&
	third=$(newest) &&
	test "$first" != "$second" && test "$second" != "$third" &&
	rotated >actual &&
	printf "%s\n" "$second" "$third" >expect &&
	test_cmp expect actual &&
	for f in notes.txt dc1-latest.snap dc2-20000101T000000Z-1.snap \
		dc1-20000101T000000Z-1.snap.bak; do
		test -e d/$f || return 1
	done &&
	! ls d | grep unverified
'

test_expect_success 'the rotated files verify and name their index' '
	proconsul snapshot inspect -format=json "d/$third" >out.json &&
	idx=$(json_get out.json "\$j->{Meta}{Index}") &&
	case $third in *-$idx.snap) ;; *) false ;; esac &&
	proconsul snapshot restore "d/$third" >out
'

test_expect_success 'save against an agent that is not there: one line, files kept' '
	stop_agent a1 &&
	ls d >before &&
	test_expect_code 1 proconsul snapshot save -dir d -keep 1 >out 2>err &&
	! test -s out &&
	test $(wc -l <err) = 1 &&
	test_grep "^Error" err &&
	ls d >after &&
	test_cmp before after &&
	test_expect_code 1 proconsul snapshot save s2.snap >out 2>err &&
	test $(wc -l <err) = 1 &&
	test_grep "^Error saving snapshot: " err &&
	test_path_is_missing s2.snap &&
	test_path_is_missing s2.snap.unverified &&
	test_expect_code 1 proconsul snapshot save -datacenter dc1 -dir d >out 2>err &&
	test $(wc -l <err) = 1 &&
	ls d >after &&
	test_cmp before after
'

test_done
