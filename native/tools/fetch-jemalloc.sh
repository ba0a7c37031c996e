#!/usr/bin/env bash
# Put upstream jemalloc 5.3.0's release tarball at $1, verified by SHA-256.
#
# Sources, in order:
#   1. $TIERCACHE_JEMALLOC_TARBALL (a local copy of jemalloc-5.3.0.tar.bz2);
#   2. a copy already at $1;
#   3. Debian's source package (apt-get source --download-only jemalloc), whose .orig tarball
#      is the upstream release; this needs a deb-src line in apt's sources.
# jemalloc's source is never committed to the repository.
set -euo pipefail

dest=${1:?usage: fetch-jemalloc.sh DEST.tar.bz2}
sha256=2db82d1e7119df3e71b7640219b6dfe84789bc0537983c3b7ac4f7189aecfeaa

verify() {
    [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$sha256" ]
}

if verify "$dest"; then exit 0; fi
mkdir -p "$(dirname "$dest")"

if [ -n "${TIERCACHE_JEMALLOC_TARBALL:-}" ]; then
    if ! verify "$TIERCACHE_JEMALLOC_TARBALL"; then
        echo "fetch-jemalloc: $TIERCACHE_JEMALLOC_TARBALL is not jemalloc 5.3.0 (SHA-256 mismatch)" >&2
        exit 1
    fi
    cp "$TIERCACHE_JEMALLOC_TARBALL" "$dest"
    exit 0
fi

if ! command -v apt-get >/dev/null; then
    echo "fetch-jemalloc: no apt-get; set TIERCACHE_JEMALLOC_TARBALL to jemalloc-5.3.0.tar.bz2" >&2
    exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! (cd "$work" && apt-get source --download-only jemalloc >"$work/log" 2>&1); then
    cat "$work/log" >&2
    echo "fetch-jemalloc: apt-get source failed; enable a deb-src line (see README) or set" \
        "TIERCACHE_JEMALLOC_TARBALL" >&2
    exit 1
fi
orig=$(ls "$work"/jemalloc_5.3.0.orig.tar.* 2>/dev/null | head -n1 || true)
if [ -z "$orig" ] || ! verify "$orig"; then
    echo "fetch-jemalloc: Debian's jemalloc source is not the 5.3.0 release (SHA-256 mismatch)" >&2
    exit 1
fi
cp "$orig" "$dest"
echo "fetch-jemalloc: jemalloc 5.3.0 source verified ($sha256)"
