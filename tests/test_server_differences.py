"""Where tiercache-server differs from memcached on purpose (README: "Differences from
memcached"). Each test runs the same request on both servers and states both replies."""

from __future__ import annotations

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


def both(pair, request: bytes) -> tuple[bytes, bytes]:
    out = []
    for kind in ("tiercache", "memcached"):
        with pair[kind].connect() as c:
            c.exchange(b"flush_all\r\n")
            out.append(c.exchange(request))
    return out[0], out[1]


def test_control_characters_in_keys_are_refused(pair):
    """protocol.txt forbids control characters in keys; memcached does not check them."""
    ours, theirs = both(pair, b"set a\x01b 0 0 1\r\nx\r\nget a\x01b\r\n")
    assert ours == b"CLIENT_ERROR bad command line format\r\nEND\r\n"
    assert theirs == b"STORED\r\nVALUE a\x01b 0 1\r\nx\r\nEND\r\n"


def test_flags_past_32_bits_are_refused(pair):
    """memcached truncates client flags past 2^32 - 1 silently; tiercache refuses them."""
    ours, theirs = both(pair, b"set a 4294967296 0 1\r\nx\r\n")
    assert ours == b"CLIENT_ERROR bad command line format\r\nERROR\r\n"
    assert theirs == b"STORED\r\n"


def test_incr_on_leading_spaces(pair):
    """memcached's strtoull skips leading spaces; the core takes digits (and trailing spaces)."""
    ours, theirs = both(pair, b"set n 0 0 3\r\n 12\r\nincr n 1\r\n")
    assert ours == b"STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
    assert theirs == b"STORED\r\n13\r\n"


def test_mg_h_and_l_are_refused(pair):
    """No per-item access history in the cache core: h and l are invalid flags."""
    ours, theirs = both(pair, b"ms a 1\r\nx\r\nmg a h l\r\n")
    assert ours == b"HD\r\nCLIENT_ERROR invalid flag\r\n"
    assert theirs == b"HD\r\nHD h0 l0\r\n"


def test_md_invalidate_deletes(pair):
    """md I marks an item stale in memcached (mg then answers X/W); tiercache deletes it."""
    ours, theirs = both(pair, b"ms a 1\r\nx\r\nmd a I\r\nmg a v\r\n")
    assert ours == b"HD\r\nHD\r\nEN\r\n"
    assert theirs == b"HD\r\nHD\r\nVA 1 X W\r\nx\r\n"


def test_version_names_tiercache(pair):
    ours, theirs = both(pair, b"version\r\n")
    assert ours.startswith(b"VERSION 1.6.18-tiercache-")
    assert theirs == b"VERSION 1.6.18\r\n"
