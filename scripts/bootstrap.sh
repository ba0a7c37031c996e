#!/usr/bin/env bash
# Install everything `make test` needs on Debian (bookworm), then tiercache into a venv.
#
#   scripts/bootstrap.sh            apt packages, deb-src for jemalloc's source, .venv with
#                                   tiercache installed editable with the `test` extra
#   EXTRAS=test,bench scripts/bootstrap.sh   ... with other extras
#
# Idempotent and quick when all is in place: apt is not touched when every package is
# installed, and pip only runs when the build inputs (or extras) changed since the last run.
# Needs root (or sudo) only when an apt package or the deb-src line is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=$(realpath -m "${VENV:-.venv}")
PYTHON=${PYTHON:-python3}
EXTRAS=${EXTRAS:-test}
# libmemkind-dev is only for the benchmarks (memkind as a peer); numactl for NUMA tests.
# libxxhash-dev: the header-only XXH3 that hashes cache keys in native/src/cache.
# redis-server, memcached: peers of `tiercache bench --compare` (it starts private instances
# on unix sockets itself; on a systemd machine apt also starts their default services).
# libevent-dev: the event library of the server (native/server, tiercache-server).
# clang-format: `make lint` checks the C and C++ sources against .clang-format.
# nutcracker (twemproxy): the scale-out test behind a proxy (tests/test_server_twemproxy.py).
# clang, libclang-rt-14-dev: libFuzzer and its sanitizers for the server's request fuzzer
# (fuzz/fuzz_server.c, `make fuzz-server-short` in `make test`).
APT_PACKAGES=(build-essential pkg-config libnuma-dev libxxhash-dev dpkg-dev numactl libmemkind-dev
    libevent-dev redis-server memcached clang-format nutcracker clang libclang-rt-14-dev)
JEMALLOC_TARBALL=native/build/jemalloc-5.3.0.tar.bz2

log() { printf 'bootstrap: %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else log "need root for: $*"; exit 1; fi
}

missing_packages() {
    local p
    command -v "$PYTHON" >/dev/null || echo python3 python3-venv python3-dev
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' \
            || echo "$p"
    done
    if command -v "$PYTHON" >/dev/null; then  # Debian's own python3 splits these out
        "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || echo python3-venv
        "$PYTHON" -c 'import os, sysconfig, sys
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
            || echo python3-dev
    fi
}

deb_src_enabled() {
    grep -Eqs '^[[:space:]]*Types:.*\bdeb-src\b' /etc/apt/sources.list.d/*.sources ||
        grep -Eqs '^[[:space:]]*deb-src[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list
}

enable_deb_src() {
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        log "enabling deb-src in /etc/apt/sources.list.d/debian.sources"
        as_root sed -i -E 's/^Types:[[:space:]]*deb[[:space:]]*$/Types: deb deb-src/' \
            /etc/apt/sources.list.d/debian.sources
    elif grep -Eqs '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list; then
        log "adding deb-src lines in /etc/apt/sources.list.d/tiercache-deb-src.list"
        sed -n -E 's/^[[:space:]]*deb[[:space:]]/deb-src /p' /etc/apt/sources.list |
            as_root tee /etc/apt/sources.list.d/tiercache-deb-src.list >/dev/null
    else
        log "no Debian apt source found to enable deb-src in; set TIERCACHE_JEMALLOC_TARBALL"
        exit 1
    fi
}

# ---- system packages and jemalloc's source ----
need_source=0
if [ -z "${TIERCACHE_JEMALLOC_TARBALL:-}" ] && [ ! -f "$JEMALLOC_TARBALL" ]; then
    need_source=1
fi
need_update=0
if [ "$need_source" = 1 ] && ! deb_src_enabled; then
    enable_deb_src
    need_update=1
fi
if [ "$need_source" = 1 ] && ! apt-cache showsrc jemalloc 2>/dev/null | grep -q '^Package: jemalloc'; then
    need_update=1
fi
missing=$(missing_packages | tr ' ' '\n' | sort -u | tr '\n' ' ')
[ -n "${missing// /}" ] && need_update=1
if [ "$need_update" = 1 ]; then
    log "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
fi
if [ -n "${missing// /}" ]; then
    log "installing: $missing"
    # shellcheck disable=SC2086 # a list of package names
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
else
    log "apt packages present"
fi

# ---- virtual environment and tiercache ----
if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
# The stamp holds a hash of the build inputs and the extras installed; extras accumulate, so
# `make bench` (test,bench) followed by `make test` (test) does not reinstall.
stamp="$VENV/.tiercache-installed"
inputs=$(find pyproject.toml setup.py MANIFEST.in tiercache/_cdef.h tiercache/_build_native.py \
    tiercache/_fastpath.c \
    native \( -path native/build -o -path native/build-asan -o -path native/build-tsan \) -prune \
    -o -type f -print |
    LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)
old_inputs="" old_extras=""
if [ -f "$stamp" ]; then read -r old_inputs old_extras <"$stamp" || true; fi
want=$(printf '%s\n' "${old_extras//,/ }" "${EXTRAS//,/ }" | tr ' ' '\n' | sed '/^$/d' |
    LC_ALL=C sort -u | paste -sd, -)
if [ "$old_inputs" = "$inputs" ] && [ "$old_extras" = "$want" ] &&
    (cd / && "$VENV/bin/python" -c 'import tiercache') 2>/dev/null; then
    log "tiercache[$want] in $VENV is up to date"
else
    log "installing tiercache[$want] into $VENV (builds native/ and the cffi extension)"
    rm -f "$stamp"
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/python" -m pip install -q -e ".[$want]"
    echo "$inputs $want" >"$stamp"
fi
