#!/usr/bin/env bash
# tiercache-server against memcached with memcslap (Debian libmemcached-tools), same machine,
# same threads, connections and data, one after the other on loopback TCP.
#   benchmarks/server/run.sh [KEYS_PER_THREAD]      (default 20000, 32 client threads)
# Debian 12's memcslap (libmemcached 1.1) only times sets: --concurrency client threads each
# storing --execute-number keys. A smoke comparison, not issue 12's benchmark yet (1:10 set:get,
# p50/p99, redis, extstore: still to do).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-20000}
BIN=${TIERCACHE_SERVER:-native/build/bin/tiercache-server}
SLAP=$(command -v memcslap || command -v memcaslap)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
run() {
    local name=$1; shift
    local p; p=$(port)
    "$@" -p "$p" -l 127.0.0.1 -t 2 -m 1024 >/dev/null 2>&1 &
    local pid=$!
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$p") 2>/dev/null && break; sleep 0.05; done
    echo "== $name: 32 client threads x $N sets, server with 2 threads"
    "$SLAP" --servers=127.0.0.1:"$p" --concurrency=32 --execute-number="$N" 2>&1 | grep -E "Time to set|total" || true
    kill "$pid"; wait "$pid" 2>/dev/null || true
}
run tiercache "$BIN"
run memcached memcached -U 0 -u "$(id -un)"
