#!/bin/sh
# check-layers.sh - fail on an upward #include inside libcore (STYLE.md).
#
# A file's module is its name up to the first '_' or '.': kv_txn.c -> kv.
# Rules: a module includes only its own layer or lower ones; raftglue and
# gossip never include each other; httpc uses layers 0-1 only; libcore
# never includes anything from cmd/.
set -eu
cd "$(dirname "$0")/.."

layer() {
    case "$1" in
    err|log|buf|mem|opt|clock|util|version|metrics) echo 0 ;;
    json|cfg|hcl) echo 1 ;;
    kv|cat|sess|acl|snap|fsm) echo 2 ;;
    raftglue|gossip|rpc) echo 3 ;;
    agent|checks) echo 4 ;;
    httpd|httpc|dns) echo 5 ;;
    *) echo "" ;;
    esac
}
module() { basename "$1" | sed -e 's/[_.].*//'; }

bad=0
for f in libcore/*.c libcore/*.h; do
    [ -e "$f" ] || continue
    m=$(module "$f")
    ml=$(layer "$m")
    if [ -z "$ml" ]; then
        echo "check-layers: $f: module '$m' has no layer (add it to scripts/check-layers.sh and STYLE)" >&2
        bad=1
        continue
    fi
    for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
        im=$(module "$inc")
        il=$(layer "$im")
        [ -z "$il" ] && { echo "check-layers: $f includes unknown '$inc'" >&2; bad=1; continue; }
        if [ "$il" -gt "$ml" ]; then
            echo "check-layers: $f (layer $ml) includes $inc (layer $il)" >&2; bad=1
        fi
        if [ "$m" = raftglue ] && [ "$im" = gossip ] || [ "$m" = gossip ] && [ "$im" = raftglue ]; then
            echo "check-layers: $f: raftglue and gossip never include each other" >&2; bad=1
        fi
        if [ "$m" = httpc ] && [ "$im" != httpc ] && [ "$il" -gt 1 ]; then
            echo "check-layers: $f: httpc uses layers 0-1 only ($inc)" >&2; bad=1
        fi
    done
done
[ "$bad" = 0 ] && echo "check-layers: ok"
exit $bad
