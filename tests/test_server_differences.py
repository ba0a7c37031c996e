"""Where tiercache-server differs from memcached on purpose (README: "Differences from
memcached"). Each case sends the same request to both servers and states both replies."""

from __future__ import annotations

import re

import pytest
from server_harness import Server


@pytest.fixture(scope="module")
def pair():
    servers = {}
    try:
        for kind in ("tiercache", "memcached"):
            servers[kind] = Server(kind)
    except FileNotFoundError as exc:
        for s in servers.values():
            s.stop()
        pytest.skip(str(exc))
    yield servers
    for s in servers.values():
        s.stop()


# name: (the reason, request, tiercache's reply, memcached's reply); a reply that varies is a
# compiled regular expression.
DIFFERENCES = {
    "control_characters_in_keys_are_refused": (
        "protocol.txt forbids control characters in keys; memcached does not check them",
        b"set a\x01b 0 0 1\r\nx\r\nget a\x01b\r\n",
        b"CLIENT_ERROR bad command line format\r\nEND\r\n",
        b"STORED\r\nVALUE a\x01b 0 1\r\nx\r\nEND\r\n",
    ),
    "flags_past_32_bits_are_refused": (
        "memcached truncates client flags past 2^32 - 1 silently; tiercache refuses them",
        b"set a 4294967296 0 1\r\nx\r\n",
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
        b"STORED\r\n",
    ),
    "incr_on_leading_spaces": (
        "memcached's strtoull skips leading spaces; the core takes digits (and trailing spaces)",
        b"set n 0 0 3\r\n 12\r\nincr n 1\r\n",
        b"STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
        b"STORED\r\n13\r\n",
    ),
    "mg_h_and_l_are_refused": (
        "no per-item access history in the cache core: h and l are invalid flags",
        b"ms a 1\r\nx\r\nmg a h l\r\n",
        b"HD\r\nCLIENT_ERROR invalid flag\r\n",
        b"HD\r\nHD h0 l0\r\n",
    ),
    "md_invalidate_deletes": (
        "md I marks an item stale in memcached (mg then answers X/W); tiercache deletes it",
        b"ms a 1\r\nx\r\nmd a I\r\nmg a v\r\n",
        b"HD\r\nHD\r\nEN\r\n",
        b"HD\r\nHD\r\nVA 1 X W\r\nx\r\n",
    ),
    "version_names_tiercache": (
        "the version says which server answers",
        b"version\r\n",
        re.compile(rb"VERSION 1\.6\.18-tiercache-\S+\r\n"),
        b"VERSION 1.6.18\r\n",
    ),
}


def _check(got: bytes, expected: bytes | re.Pattern[bytes]) -> None:
    if isinstance(expected, re.Pattern):
        assert expected.fullmatch(got), got
    else:
        assert got == expected


@pytest.mark.parametrize("case", sorted(DIFFERENCES))
def test_difference(pair, case):
    """Both servers answer the request as the table says (each case names its reason)."""
    _reason, request, ours, theirs = DIFFERENCES[case]
    for kind, expected in (("tiercache", ours), ("memcached", theirs)):
        with pair[kind].connect() as c:
            c.exchange(b"flush_all\r\n")
            _check(c.exchange(request), expected)
