#!/bin/sh
# valgrind-wrap.sh - template of build/valgrind/bin/proconsul, which
# `make check-valgrind` writes (@BIN@: the normal build's binary,
# @VALGRIND@: valgrind and its options) and puts first in PATH for the
# shell tests: `proconsul agent ...` runs under valgrind (same PID,
# errors in the agent's log, where lib.sh's check_sanitizer_log finds
# them), every other command runs the binary as it is, with this
# script's argv[0] (the binary dispatches on it: `consul`, a symlink
# named `kv`).
case ${1-} in
agent) exec @VALGRIND@ "@BIN@" "$@" ;;
esac
exec perl -e 'exec { shift } @ARGV or die "exec: $!\n"' "@BIN@" "$0" "$@"
