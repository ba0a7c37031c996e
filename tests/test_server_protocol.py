"""Protocol conformance: every case runs against tiercache-server and Debian's memcached.

The expected bytes are memcached 1.6's replies; a case passing on both servers shows that the
test states memcached's real behaviour and that tiercache matches it. Where tiercache differs on
purpose (README, "Differences from memcached"), the test is in test_server_differences.py.
"""

from __future__ import annotations

import re
import threading
import time

import pytest
from server_harness import Server

SERVERS = ["tiercache", "memcached"]


@pytest.fixture(scope="module", params=SERVERS)
def server(request):
    try:
        srv = Server(request.param)
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    yield srv
    srv.stop()


@pytest.fixture
def conn(server):
    with server.connect() as c:
        assert c.exchange(b"flush_all\r\n") == b"OK\r\n"
        yield c


def R(pattern: bytes) -> re.Pattern[bytes]:
    """An expected reply that varies (CAS values, versions): a regular expression."""
    return re.compile(pattern, re.DOTALL)


BIG = 1048576
# Exact request/reply pairs, each run on a flushed server.
CASES = {
    # retrieval and storage
    "set_get": (b"set a 5 0 3\r\nabc\r\nget a\r\n", b"STORED\r\nVALUE a 5 3\r\nabc\r\nEND\r\n"),
    "get_multi_with_misses": (
        b"set a 0 0 1\r\n1\r\nset b 0 0 1\r\n2\r\nget a x b\r\n",
        b"STORED\r\nSTORED\r\nVALUE a 0 1\r\n1\r\nVALUE b 0 1\r\n2\r\nEND\r\n",
    ),
    "get_miss": (b"get nothing\r\n", b"END\r\n"),
    "empty_value": (b"set e 0 0 0\r\n\r\nget e\r\n", b"STORED\r\nVALUE e 0 0\r\n\r\nEND\r\n"),
    "binary_value": (
        b"set b 0 0 6\r\n\x00\r\n\xff\n\r\r\nget b\r\n",
        b"STORED\r\nVALUE b 0 6\r\n\x00\r\n\xff\n\r\r\nEND\r\n",
    ),
    "flags_max_u32": (
        b"set a 4294967295 0 1\r\nx\r\nget a\r\n",
        b"STORED\r\nVALUE a 4294967295 1\r\nx\r\nEND\r\n",
    ),
    "lf_only_lines": (b"set a 0 0 1\nx\r\nget a\n", b"STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n"),
    "spaces_between_tokens": (
        b"set a 0 0 1\r\nx\r\n get  a   a \r\n",
        b"STORED\r\nVALUE a 0 1\r\nx\r\nVALUE a 0 1\r\nx\r\nEND\r\n",
    ),
    "noreply_set": (b"set a 0 0 1 noreply\r\nx\r\nget a\r\n", b"VALUE a 0 1\r\nx\r\nEND\r\n"),
    "extra_token_is_not_noreply": (b"set a 0 0 1 foo\r\nx\r\n", b"STORED\r\n"),
    "add_replace": (
        b"add a 0 0 1\r\n1\r\nadd a 0 0 1\r\n2\r\nreplace q 0 0 1\r\n3\r\nreplace a 0 0 1\r\n4\r\nget a\r\n",
        b"STORED\r\nNOT_STORED\r\nNOT_STORED\r\nSTORED\r\nVALUE a 0 1\r\n4\r\nEND\r\n",
    ),
    "append_prepend_keep_flags": (
        b"append z 0 0 1\r\nx\r\nset a 5 0 1\r\nx\r\nappend a 7 100 1\r\ny\r\n"
        b"prepend a 0 0 1\r\nz\r\nget a\r\n",
        b"NOT_STORED\r\nSTORED\r\nSTORED\r\nSTORED\r\nVALUE a 5 3\r\nzxy\r\nEND\r\n",
    ),
    "cas_flow": (
        b"cas a 0 0 1 5\r\nx\r\nset a 0 0 1\r\nx\r\n",
        b"NOT_FOUND\r\nSTORED\r\n",
    ),
    "cas_missing_unique_is_error": (b"cas a 0 0 1\r\nx\r\n", b"ERROR\r\nERROR\r\n"),
    "cas_bad_unique": (
        b"cas a 0 0 1 x\r\nx\r\n",
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    ),
    # expiry (relative, negative, absolute unix times)
    "negative_exptime_is_expired": (b"set a 0 -1 1\r\nx\r\nget a\r\n", b"STORED\r\nEND\r\n"),
    "absolute_past_exptime": (b"set a 0 1000000000 1\r\nx\r\nget a\r\n", b"STORED\r\nEND\r\n"),
    "absolute_future_exptime": (
        b"set a 0 4000000000 1\r\nx\r\nget a\r\n"[:0] + b"set a 0 2000000000 1\r\nx\r\nget a\r\n",
        b"STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n",
    ),
    "touch": (
        b"touch a 10\r\nset a 0 0 1\r\nx\r\ntouch a 10\r\ntouch a x\r\ntouch a\r\n",
        b"NOT_FOUND\r\nSTORED\r\nTOUCHED\r\nCLIENT_ERROR invalid exptime argument\r\nERROR\r\n",
    ),
    "touch_negative_expires": (
        b"set a 0 0 1\r\nx\r\ntouch a -1\r\nget a\r\n",
        b"STORED\r\nTOUCHED\r\nEND\r\n",
    ),
    "gat": (
        b"set a 3 0 1\r\nx\r\ngat 10 a b\r\ngat x a\r\ngat\r\ngat 10\r\n",
        b"STORED\r\nVALUE a 3 1\r\nx\r\nEND\r\nCLIENT_ERROR invalid exptime argument\r\nERROR\r\n"
        b"END\r\n",
    ),
    "gat_negative_returns_then_expires": (
        b"set a 0 0 1\r\nx\r\ngat -1 a\r\nget a\r\n",
        b"STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\nEND\r\n",
    ),
    "gats": (
        b"set a 5 0 1\r\nx\r\ngats 100 a\r\n",
        R(rb"STORED\r\nVALUE a 5 1 \d+\r\nx\r\nEND\r\n"),
    ),
    "gets": (b"set a 5 0 1\r\nx\r\ngets a\r\n", R(rb"STORED\r\nVALUE a 5 1 \d+\r\nx\r\nEND\r\n")),
    # incr / decr
    "incr_decr": (
        b"set n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 100\r\nincr n x\r\nincr nn 1\r\ndecr nn 1\r\n",
        b"STORED\r\n15\r\n0\r\nCLIENT_ERROR invalid numeric delta argument\r\nNOT_FOUND\r\n"
        b"NOT_FOUND\r\n",
    ),
    "incr_wraps_at_2_64": (
        b"set n 0 0 20\r\n18446744073709551615\r\nincr n 1\r\n",
        b"STORED\r\n0\r\n",
    ),
    "incr_grows_the_value": (
        b"set n 0 0 1\r\n9\r\nincr n 1\r\nget n\r\n",
        b"STORED\r\n10\r\nVALUE n 0 2\r\n10\r\nEND\r\n",
    ),
    "incr_non_numeric": (
        b"set n 0 0 3\r\nabc\r\nincr n 1\r\n",
        b"STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
    ),
    "incr_bad_delta": (
        b"incr a -1\r\nincr a 18446744073709551616\r\nincr\r\nincr a\r\n",
        b"CLIENT_ERROR invalid numeric delta argument\r\nCLIENT_ERROR invalid numeric delta argument\r\n"
        b"ERROR\r\nERROR\r\n",
    ),
    "incr_noreply": (
        b"set n 0 0 1\r\n1\r\nincr n 1 noreply\r\nget n\r\n",
        b"STORED\r\nVALUE n 0 1\r\n2\r\nEND\r\n",
    ),
    # delete
    "delete": (
        b"set a 0 0 1\r\nx\r\ndelete a\r\ndelete a\r\ndelete a 0\r\ndelete a 1\r\ndelete a noreply\r\n"
        b"delete a 0 noreply\r\ndelete\r\n",
        b"STORED\r\nDELETED\r\nNOT_FOUND\r\nNOT_FOUND\r\n"
        b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\nERROR\r\n",
    ),
    # misc commands
    "flush_all": (
        b"set a 0 0 1\r\nx\r\nflush_all\r\nget a\r\nflush_all 0\r\nflush_all noreply\r\nflush_all x\r\n",
        b"STORED\r\nOK\r\nEND\r\nOK\r\nCLIENT_ERROR invalid exptime argument\r\n",
    ),
    "verbosity": (
        b"verbosity 1\r\nverbosity\r\nverbosity x\r\nverbosity 0 noreply\r\n",
        b"OK\r\nERROR\r\nCLIENT_ERROR bad command line format\r\n",
    ),
    "version": (b"version\r\n", R(rb"VERSION [^\r\n]+\r\n")),
    "unknown_commands": (
        b"foo\r\nGET a\r\n\r\nget\r\nset a\r\nsets a 0 0 1\r\n\x00\x01\x02\xff\r\n",
        b"ERROR\r\n" * 7,
    ),
    "shutdown_is_refused": (b"shutdown\r\n", b"ERROR: shutdown not enabled\r\n"),
    "stats_unknown": (b"stats nonsense\r\n", b"ERROR\r\n"),
    "stats_reset": (b"stats reset\r\n", b"RESET\r\n"),
    # malformed storage commands
    "bad_data_chunk": (
        b"set a 0 0 1\r\nxy\r\nget a\r\n",
        b"CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n",
    ),
    "bad_flags": (b"set a x 0 1\r\nx\r\n", b"CLIENT_ERROR bad command line format\r\nERROR\r\n"),
    "negative_flags": (
        b"set a -1 0 1\r\nx\r\n",
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    ),
    "negative_length": (b"set a 0 0 -1\r\n", b"CLIENT_ERROR bad command line format\r\n"),
    "bad_exptime": (b"set a 0 x 1\r\nx\r\n", b"CLIENT_ERROR bad command line format\r\nERROR\r\n"),
    "too_many_tokens": (b"set a 0 0 1 noreply x\r\n", b"ERROR\r\n"),
    # keys
    "key_250_ok": (
        b"set " + b"k" * 250 + b" 0 0 1\r\nx\r\nget " + b"k" * 250 + b"\r\n",
        b"STORED\r\nVALUE " + b"k" * 250 + b" 0 1\r\nx\r\nEND\r\n",
    ),
    "key_251_get": (b"get " + b"k" * 251 + b"\r\n", b"CLIENT_ERROR bad command line format\r\n"),
    "key_251_set": (
        b"set " + b"k" * 251 + b" 0 0 1\r\nx\r\n",
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    ),
    "key_251_delete_incr_touch": (
        b"delete "
        + b"k" * 251
        + b"\r\nincr "
        + b"k" * 251
        + b" 1\r\ntouch "
        + b"k" * 251
        + b" 1\r\n",
        b"CLIENT_ERROR bad command line format\r\n" * 3,
    ),
    "key_1mb_get": (b"get " + b"k" * BIG + b"\r\n", b"CLIENT_ERROR bad command line format\r\n"),
    "garbage_line_5000": (b"x" * 5000 + b"\r\n", b"ERROR\r\n"),
    "set_key_5000": (
        b"set " + b"k" * 5000 + b" 0 0 1\r\nx\r\n",
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    ),
    # the item size limit (-I 1m): 48-byte header + 8 CAS + key + NUL + flags + value + \r\n
    "largest_item_fits": (b"set a 0 0 1048516\r\n" + b"v" * 1048516 + b"\r\n", b"STORED\r\n"),
    "one_byte_over_is_too_large": (
        b"set a 0 0 1048517\r\n" + b"v" * 1048517 + b"\r\nget a\r\n",
        b"SERVER_ERROR object too large for cache\r\nEND\r\n",
    ),
    "flags_count_in_the_size": (
        b"set a 1 0 1048512\r\n"
        + b"v" * 1048512
        + b"\r\nset b 1 0 1048513\r\n"
        + b"v" * 1048513
        + b"\r\n",
        b"STORED\r\nSERVER_ERROR object too large for cache\r\n",
    ),
    "failed_set_drops_the_old_value": (
        b"set a 0 0 1\r\nx\r\nset a 0 0 2000000\r\n" + b"v" * 2000000 + b"\r\nget a\r\n",
        b"STORED\r\nSERVER_ERROR object too large for cache\r\nEND\r\n",
    ),
    "too_large_add_keeps_the_old_value": (
        b"set a 0 0 1\r\nx\r\nadd a 0 0 2000000\r\n" + b"v" * 2000000 + b"\r\nget a\r\n",
        b"STORED\r\nSERVER_ERROR object too large for cache\r\nVALUE a 0 1\r\nx\r\nEND\r\n",
    ),
    # meta: mg
    "mg_flags": (
        b"ms m 2 T0 F5\r\nhi\r\nmg m v\r\nmg m s v f t k O123 q\r\nmg m\r\nmg miss v\r\nmg miss v q\r\n",
        b"HD\r\nVA 2\r\nhi\r\nVA 2 s2 f5 t-1 km O123\r\nhi\r\nHD\r\nEN\r\n",
    ),
    "mg_miss_returns_k_and_O": (b"mg miss v k O9\r\nmg miss v q k O9\r\n", b"EN kmiss O9\r\n"),
    "mg_quiet_hides_only_misses": (
        b"ms m 1\r\nx\r\nmg m q\r\nmg m q v\r\nmg n q v\r\n",
        b"HD\r\nHD\r\nVA 1\r\nx\r\n",
    ),
    "mg_cas_matches_gets": (b"ms m 1\r\nx\r\nmg m c\r\n", R(rb"HD\r\nHD c\d+\r\n")),
    "mg_errors": (
        b"mg\r\nmg m zz\r\nmg m v v\r\nmg m !\r\nmg m T\r\nmg m Tx\r\nmg " + b"k" * 251 + b" v\r\n",
        b"ERROR\r\nCLIENT_ERROR invalid flag\r\nCLIENT_ERROR duplicate flag\r\n"
        b"CLIENT_ERROR invalid flag\r\nCLIENT_ERROR bad token in command line format\r\n"
        b"CLIENT_ERROR bad token in command line format\r\nCLIENT_ERROR bad command line format\r\n",
    ),
    "mg_opaque_limit": (
        b"mg a O" + b"x" * 31 + b"\r\nmg a O" + b"x" * 32 + b"\r\n",
        b"EN O" + b"x" * 31 + b"\r\nCLIENT_ERROR opaque token too long\r\n",
    ),
    "mg_touch": (b"ms t 1 T100\r\nx\r\nmg t T50 t\r\n", R(rb"HD\r\nHD t(50|49)\r\n")),
    "mg_vivify_win_then_z": (
        b"mg viv N30 s v\r\nmg viv s v\r\nms viv 1\r\nz\r\nmg viv v\r\n",
        b"VA 0 s0 W\r\n\r\nVA 0 s0 Z\r\n\r\nHD\r\nVA 1\r\nz\r\n",
    ),
    "mg_base64_key": (
        b"ms Zm9v 2 b k\r\nhi\r\nmg foo v\r\nmg Zm9v b k v\r\n",
        b"HD kZm9v b\r\nVA 2\r\nhi\r\nVA 2 kZm9v b\r\nhi\r\n",
    ),
    "mg_u_no_bump": (b"ms m 1\r\nx\r\nmg m u v\r\n", b"HD\r\nVA 1\r\nx\r\n"),
    # meta: ms
    "ms_modes": (
        b"ms m 2\r\nhi\r\nms m 2 MA\r\nyo\r\nms m 2 MP\r\nab\r\nmg m v\r\nms m 2 ME\r\nzz\r\n"
        b"ms m 2 MR\r\nrr\r\nms nope 2 MR\r\nyo\r\nms m 2 MS\r\nss\r\nmg m v\r\nms new 1 ME\r\nn\r\n",
        b"HD\r\nHD\r\nHD\r\nVA 6\r\nabhiyo\r\nNS\r\nHD\r\nNS\r\nHD\r\nVA 2\r\nss\r\nHD\r\n",
    ),
    "ms_append_missing": (b"ms q 1 MA\r\nx\r\n", b"NS\r\n"),
    "ms_errors": (
        b"ms m\r\nms m x\r\nms m 2 MX\r\nab\r\nms m 2 Zx\r\nab\r\nms m 2 F-1\r\nab\r\nms m 2 Fx\r\nab\r\n"
        b"ms m 2 Tx\r\nab\r\nms m S2\r\nab\r\nms m 1 c c\r\nx\r\nms m -1\r\n",
        b"CLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad command line format\r\n"
        b"CLIENT_ERROR invalid mode for ms M token\r\nCLIENT_ERROR invalid flag\r\n"
        b"CLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad command line format\r\n"
        b"CLIENT_ERROR bad token in command line format\r\nCLIENT_ERROR bad command line format\r\n"
        b"ERROR\r\nCLIENT_ERROR duplicate flag\r\nCLIENT_ERROR bad command line format\r\n",
    ),
    "ms_cas": (b"ms f 1 C5\r\nx\r\nms f 1\r\nx\r\nms f 1 C1 c\r\nz\r\n", b"NF\r\nHD\r\nEX c0\r\n"),
    "ms_quiet_and_return_flags": (
        b"ms g 1 q O5\r\nx\r\nms g 1 MR q\r\nx\r\nms h 1 MR q O7 k\r\nx\r\nms g 1 k O5\r\nx\r\n",
        b"NS O7 kh\r\nHD kg O5\r\n",
    ),
    "ms_expired_ttl": (b"ms b 1 T-1\r\nx\r\nmg b v\r\n", b"HD\r\nEN\r\n"),
    "ms_too_large": (
        b"ms big 2000000 T0\r\n" + b"v" * 2000000 + b"\r\nmg big v\r\n",
        b"SERVER_ERROR object too large for cache\r\nEN\r\n",
    ),
    "ms_bad_data_chunk": (b"ms m 1\r\nxy\r\n", b"CLIENT_ERROR bad data chunk\r\nERROR\r\n"),
    "ms_key_too_long": (
        b"ms " + b"k" * 251 + b" 1\r\nx\r\n",
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    ),
    # meta: md
    "md": (
        b"ms m 1\r\nx\r\nmd m\r\nmd m\r\nmd m q\r\nms m 1\r\nx\r\nmd m q\r\nmd m k O4\r\n",
        b"HD\r\nHD\r\nNF\r\nNF\r\nHD\r\nNF km O4\r\n",
    ),
    "md_cas_mismatch": (b"ms m 1\r\nx\r\nmd m C99999\r\nmg m v\r\n", b"HD\r\nEX\r\nVA 1\r\nx\r\n"),
    "md_bad_flag": (
        b"md m x\r\nmd " + b"k" * 251 + b"\r\n",
        b"CLIENT_ERROR invalid or duplicate flag\r\nCLIENT_ERROR bad command line format\r\n",
    ),
    # meta: ma
    "ma": (
        b"ma c\r\nma c N0 J13\r\nma c v\r\nma c v MD D20\r\nma c v M+\r\nma c Mx\r\nma c Dx\r\n"
        b"ma c D18446744073709551616\r\n",
        b"NF\r\nHD\r\nVA 2\r\n14\r\nVA 1\r\n0\r\nVA 1\r\n1\r\nCLIENT_ERROR invalid mode for ma M token\r\n"
        b"CLIENT_ERROR invalid or duplicate flag\r\nCLIENT_ERROR invalid or duplicate flag\r\n",
    ),
    "ma_ttl_and_cas": (b"ma c N0 J5 v t\r\n", b"VA 1 t-1\r\n5\r\n"),
    "ma_quiet": (
        b"ma zz q\r\nms zz 1\r\n1\r\nma zz q\r\nmg zz v\r\n",
        b"NF\r\nHD\r\nVA 1\r\n2\r\n",
    ),
    "ma_non_numeric": (
        b"ms t 1\r\nx\r\nma t\r\n",
        b"HD\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
    ),
    # meta: mn, me
    "me": (b"me nope\r\nme\r\n", b"EN\r\nCLIENT_ERROR bad command line format\r\n"),
    "me_hit": (
        b"ms m 1\r\nx\r\nme m\r\n",
        R(rb"HD\r\nME m exp=-1 la=\d+ cas=\d+ fetch=\w+ cls=\d+ size=\d+\r\n"),
    ),
    # text and meta mixed on one connection
    "mixed_text_and_meta": (
        b"set a 9 0 1\r\nx\r\nmg a f v\r\nms a 1 F3\r\ny\r\nget a\r\n",
        b"STORED\r\nVA 1 f9\r\nx\r\nHD\r\nVALUE a 3 1\r\ny\r\nEND\r\n",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_reply(conn, case):
    """The reply to each request is memcached's, byte for byte."""
    request, expected = CASES[case]
    got = conn.exchange(request)
    if isinstance(expected, re.Pattern):
        assert expected.fullmatch(got), got[:500]
    else:
        assert got == expected


def test_gets_cas_round_trip(conn):
    """gets returns a token; cas with it stores once, then EXISTS; a set changes the token."""
    assert conn.exchange(b"set a 0 0 1\r\nx\r\n") == b"STORED\r\n"
    m = re.fullmatch(rb"VALUE a 0 1 (\d+)\r\nx\r\nEND\r\n", conn.exchange(b"gets a\r\n"))
    assert m
    token = m.group(1)
    assert conn.exchange(b"cas a 0 0 1 " + token + b"\r\ny\r\n") == b"STORED\r\n"
    assert conn.exchange(b"cas a 0 0 1 " + token + b"\r\nz\r\n") == b"EXISTS\r\n"
    m2 = re.fullmatch(rb"VALUE a 0 1 (\d+)\r\ny\r\nEND\r\n", conn.exchange(b"gets a\r\n"))
    assert m2 and m2.group(1) != token
    # the meta view of the same token
    assert conn.exchange(b"mg a c\r\n") == b"HD c" + m2.group(1) + b"\r\n"
    assert conn.exchange(b"md a C" + token + b"\r\n") == b"EX\r\n"
    assert conn.exchange(b"md a C" + m2.group(1) + b"\r\n") == b"HD\r\n"


def test_ms_returns_the_cas_that_mg_sees(conn):
    m = re.fullmatch(rb"HD c(\d+)\r\n", conn.exchange(b"ms k 1 c\r\nx\r\n"))
    assert m
    assert conn.exchange(b"mg k c v\r\n") == b"VA 1 c" + m.group(1) + b"\r\nx\r\n"
    assert conn.exchange(b"ms k 1 C" + m.group(1) + b"\r\ny\r\n") == b"HD\r\n"


def test_pipelined_requests_in_one_write(conn):
    """200 commands in one send are answered in order."""
    req = b"".join(b"set k%d 0 0 %d\r\n%d\r\n" % (i, len(str(i)), i) for i in range(100))
    req += b"get " + b" ".join(b"k%d" % i for i in range(100)) + b"\r\n"
    want = b"STORED\r\n" * 100
    want += (
        b"".join(b"VALUE k%d 0 %d\r\n%d\r\n" % (i, len(str(i)), i) for i in range(100)) + b"END\r\n"
    )
    assert conn.exchange(req) == want


def test_pipelined_requests_byte_by_byte(conn):
    """A request split into single bytes is parsed as if it came whole."""
    req = b"set a 0 0 5\r\nhello\r\nget a\r\nmg a v f\r\n"
    for i in range(len(req)):
        conn.send(req[i : i + 1])
    conn.send(b"mn\r\n")
    assert (
        conn.read_until(b"MN\r\n")
        == b"STORED\r\nVALUE a 0 5\r\nhello\r\nEND\r\nVA 5 f0\r\nhello\r\nMN\r\n"
    )


def test_large_values_round_trip(conn):
    """Values from 0 bytes to the item limit come back intact (copied and pinned paths)."""
    for size in (0, 1, 100, 2047, 2048, 2049, 65535, 65536, 500_000, 1_048_000):
        value = bytes((i * 7 + size) % 256 for i in range(size))
        assert conn.exchange(b"set v 0 0 %d\r\n" % size + value + b"\r\n") == b"STORED\r\n"
        assert conn.exchange(b"get v\r\n") == b"VALUE v 0 %d\r\n" % size + value + b"\r\nEND\r\n"


def test_quit_closes(server):
    with server.connect() as c:
        c.send(b"quit\r\nversion\r\n")
        assert c.read_to_eof() == b""


def test_stats_fields(conn):
    """stats lists memcached's common counters; slabs/items/settings end with END."""
    conn.exchange(b"set a 0 0 1\r\nx\r\nget a\r\nget b\r\n")
    stats = {}
    for line in conn.exchange(b"stats\r\n").split(b"\r\n"):
        if line.startswith(b"STAT "):
            _, name, value = line.split(b" ", 2)
            stats[name.decode()] = value.decode()
    for name in (
        "pid",
        "uptime",
        "time",
        "version",
        "curr_connections",
        "total_connections",
        "cmd_get",
        "cmd_set",
        "get_hits",
        "get_misses",
        "curr_items",
        "total_items",
        "bytes",
        "limit_maxbytes",
        "threads",
        "evictions",
        "bytes_read",
        "bytes_written",
    ):
        assert name in stats, name
    assert int(stats["curr_items"]) >= 1  # memcached counts flushed items until it reclaims them
    assert int(stats["get_hits"]) >= 1 and int(stats["get_misses"]) >= 1
    for sub in (b"slabs", b"items", b"settings"):
        reply = conn.exchange(b"stats " + sub + b"\r\n")
        assert reply.endswith(b"END\r\n") and all(
            line.startswith(b"STAT ") for line in reply.split(b"\r\n")[:-2]
        )


def test_concurrent_incr_loses_nothing(server):
    """8 connections each incr one key 200 times: the total is exact."""
    with server.connect() as c:
        assert c.exchange(b"set ctr 0 0 1\r\n0\r\n") == b"STORED\r\n"

    def work():
        with server.connect() as c:
            c.exchange(b"incr ctr 1 noreply\r\n" * 200)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with server.connect() as c:
        assert c.exchange(b"get ctr\r\n") == b"VALUE ctr 0 4\r\n1600\r\nEND\r\n"


def test_delayed_flush_all(conn):
    """flush_all N clears what is there N seconds later, not before."""
    assert conn.exchange(b"set a 0 0 1\r\nx\r\nflush_all 2\r\nget a\r\n") == (
        b"STORED\r\nOK\r\nVALUE a 0 1\r\nx\r\nEND\r\n"
    )
    deadline = time.monotonic() + 10
    while conn.exchange(b"get a\r\n") != b"END\r\n":
        assert time.monotonic() < deadline, "flush_all 2 never took effect"
        time.sleep(0.2)
