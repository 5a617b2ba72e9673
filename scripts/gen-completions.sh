#!/bin/sh
# gen-completions.sh - write the bash and zsh completions from the binary.
#
# Usage: scripts/gen-completions.sh [-b BINARY] [-o DIR] [-t TABLE]
#
# Runs BINARY (default bin/proconsul) as "help" for the command list, then
# "<command> -h", and for every "Subcommands:" section it finds "<command>
# <verb> -h", and so on down ("acl token create -h", "operator raft
# list-peers -h"). Each help text gives the verbs, the flags (an indented
# "-name" or "-name=<placeholder>" line followed by its description), the
# usage line (positional FILE, KEY...) and, for "acl set-agent-token",
# the token types. From that table it writes DIR/proconsul.bash and
# DIR/_proconsul (default DIR: completions), so the completions follow
# the opt_ tables and cannot drift; t/t0005-completions.sh checks that
# the committed files are this script's output. -t FILE also keeps the
# intermediate table (one tab-separated record a line) for inspection.
#
# Value hints that help texts do not spell out as a list are added from
# EXTRA_VALUES below. Output is deterministic: no dates, no versions.
set -eu

BIN=bin/proconsul
OUT=completions
TABLE=
while getopts b:o:t: opt; do
    case $opt in
    b) BIN=$OPTARG ;;
    o) OUT=$OPTARG ;;
    t) TABLE=$OPTARG ;;
    *) echo "usage: $0 [-b BINARY] [-o DIR] [-t TABLE]" >&2; exit 2 ;;
    esac
done
HERE=$(cd "$(dirname "$0")" && pwd)
test -x "$BIN" || { echo "$0: no binary at '$BIN' (run make first)" >&2; exit 1; }

# Flag values the help texts describe in prose (flag, then the values).
EXTRA_VALUES='-status alive leaving left failed'

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gen-completions.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
: >"$tmp/table"

# parse PATH: turn "$BIN PATH -h" (on stdin) into records:
#   U path usage-tail | V path verb summary | T path word
#   F path flag placeholder section(H|C) description
parse() {
    awk -v path="$1" '
    function flush() {
        if (flag != "") {
            gsub(/ +/, " ", desc); sub(/^ /, "", desc); sub(/ $/, "", desc)
            printf "F\t%s\t%s\t%s\t%s\t%s\n", path, flag, ph, sect, desc
        }
        flag = ""; desc = ""
    }
    BEGIN { sect = "C"; mode = "" }
    /^Usage: consul / {
        u = $0; sub(/^Usage: consul /, "", u)
        if (index(u, path) == 1) u = substr(u, length(path) + 1)
        sub(/^ +/, "", u)
        printf "U\t%s\t%s\n", path, u
        next
    }
    /^HTTP API Options/ { flush(); sect = "H"; mode = "flags"; next }
    /^Command Options/ { flush(); sect = "C"; mode = "flags"; next }
    /^Subcommands:/ { flush(); mode = "verbs"; next }
    /^  [A-Z][a-z]+ types:$/ { mode = "types"; next }
    mode == "verbs" && /^    [a-z][-a-z0-9_]* / {
        v = $1; s = $0; sub(/^ +[^ ]+ +/, "", s)
        printf "V\t%s\t%s\t%s\n", path, v, s
        next
    }
    mode == "types" && /^    [a-z][a-z0-9_]*( |$)/ {
        printf "T\t%s\t%s\n", path, $1; next
    }
    mode == "types" && /^[^ ]/ { mode = "" }
    /^  -[A-Za-z0-9][-A-Za-z0-9_]*(=<[^>]*>)?$/ {
        flush()
        f = $1; ph = ""
        if (index(f, "=<") > 0) {
            ph = substr(f, index(f, "=<") + 2); sub(/>$/, "", ph)
            f = substr(f, 1, index(f, "=<") - 1)
        }
        flag = f; mode = "flags"
        next
    }
    flag != "" && /^     / { s = $0; gsub(/ +/, " ", s); desc = desc s; next }
    /^$/ { flush() }
    END { flush() }
    '
}

# walk PATH...: record PATH, then every verb under it.
walk() {
    "$BIN" "$@" -h >"$tmp/help" 2>&1 || {
        echo "$0: '$BIN $* -h' failed" >&2; exit 1; }
    parse "$*" <"$tmp/help" >"$tmp/rec"
    cat "$tmp/rec" >>"$tmp/table"
    for v in $(awk -F '\t' '$1 == "V" { print $3 }' "$tmp/rec"); do
        walk "$@" "$v"
    done
}

"$BIN" help >"$tmp/help" 2>&1 || { echo "$0: '$BIN help' failed" >&2; exit 1; }
awk '/^Available commands are:/ { on = 1; next }
    on && /^    [a-z]/ { s = $0; sub(/^ +[^ ]+ +/, "", s)
        printf "V\t\t%s\t%s\n", $1, s }' "$tmp/help" >"$tmp/cmds"
test -s "$tmp/cmds" || { echo "$0: no command list from '$BIN help'" >&2; exit 1; }
cat "$tmp/cmds" >>"$tmp/table"
for c in $(awk -F '\t' '{ print $3 }' "$tmp/cmds"); do
    walk "$c"
done
printf 'X\t%s\n' "$EXTRA_VALUES" >>"$tmp/table"
test -z "$TABLE" || cp "$tmp/table" "$TABLE"

mkdir -p "$OUT"
awk -v shell=bash -f "$HERE/gen-completions.awk" "$tmp/table" \
    "$HERE/completions.bash.in" >"$tmp/proconsul.bash"
awk -v shell=zsh -f "$HERE/gen-completions.awk" "$tmp/table" \
    "$HERE/completions.zsh.in" >"$tmp/_proconsul"
mv "$tmp/proconsul.bash" "$OUT/proconsul.bash"
mv "$tmp/_proconsul" "$OUT/_proconsul"
