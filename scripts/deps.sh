#!/bin/sh
# deps.sh - install the Debian packages Proconsul needs, if any is missing.
#
# Root: runs apt-get. Otherwise: prints the exact command and exits 1.
# Usage: scripts/deps.sh [--bench]   (adds the benchmark tools)
# The default list is what `make check` needs, clang + libFuzzer
# (fuzz-smoke) and valgrind (check-valgrind) included; --fuzz is
# accepted for old callers and adds nothing.
set -eu

PKGS="build-essential pkg-config libuv1-dev libraft-dev libh2o-dev libjansson-dev
libmsgpack-dev libssl-dev libcurl4-openssl-dev libarchive-dev zlib1g-dev
libyaml-dev libldns-dev check curl perl serf dnsutils ansible-core supervisor
iproute2 procps prometheus clang libclang-rt-14-dev valgrind chromium
chromium-driver"
if [ "${1:-}" = "--bench" ]; then
    # etcd-server + etcd-client: the etcd 3.4 cluster bench/etcd.sh
    # compares with; fio: the disk's fdatasync rate; gnuplot-nox: its chart.
    PKGS="$PKGS wrk iproute2 etcd-server etcd-client fio gnuplot-nox"
fi

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" != 0 ]; then
    echo "deps: missing packages:$missing" >&2
    echo "deps: run as root: apt-get update && $cmd" >&2
    exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
