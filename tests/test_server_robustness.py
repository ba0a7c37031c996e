"""Malformed input, limits and process behaviour of tiercache-server.

Each malformed input gets the protocol's error or a closed connection, never a crash, and the
server's memory stays bounded. Where memcached behaves the same, the test runs on both servers.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import stat
import subprocess
import threading
import time

import pytest
from server_harness import IO_TIMEOUT, Server


def start(kind: str, *args: str, tcp: bool = False) -> Server:
    try:
        return Server(kind, list(args), tcp=tcp)
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module", params=["tiercache", "memcached"])
def server(request):
    srv = start(request.param)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def ours():
    srv = start("tiercache")
    yield srv
    srv.stop()


def still_serving(srv: Server) -> bool:
    with srv.connect() as c:
        return srv.alive() and c.exchange(b"version\r\n").startswith(b"VERSION ")


def test_line_without_newline_is_closed(server):
    """A command line past the read limit with no newline: the connection is closed."""
    with server.connect() as c:
        c.send(b"x" * 100_000)
        assert c.read_to_eof() == b""
    assert still_serving(server)


def test_set_with_1mb_key_is_closed(server):
    with server.connect() as c:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            c.send(b"set " + b"k" * (1 << 20) + b" 0 0 1\r\nx\r\n")
        assert c.read_to_eof() in (b"", b"CLIENT_ERROR bad command line format\r\nERROR\r\n")
    assert still_serving(server)


def test_binary_garbage(server):
    """1 MiB of random bytes: errors or a close, and the server goes on serving others."""
    rng = random.Random(12)
    garbage = bytes(rng.getrandbits(8) for _ in range(1 << 20))
    with server.connect() as c:

        def send():
            try:
                c.send(garbage)
                c.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        sender = threading.Thread(target=send)
        sender.start()
        out = c.read_to_eof()  # the replies are read while sending: no backpressure stall
        sender.join()
    assert b"ERROR" in out
    assert still_serving(server)


def test_truncated_requests_store_nothing(server):
    """A data block cut short by the client's close is not stored."""
    for partial in (b"set t 0 0 10\r\nabc", b"set t 0 0 10", b"ms t 10 T0\r\nabc", b"get t"):
        with server.connect() as c:
            c.send(partial)
            c.sock.shutdown(socket.SHUT_WR)
            c.read_to_eof()
    with server.connect() as c:
        assert c.exchange(b"get t\r\n") == b"END\r\n"


def test_huge_lengths_are_refused(ours):
    """A length past INT_MAX is a format error; one past -I is refused before any data."""
    with ours.connect() as c:
        assert (
            c.exchange(b"set a 0 0 99999999999\r\n") == b"CLIENT_ERROR bad command line format\r\n"
        )
        assert (
            c.exchange(b"set a 0 0 4294967296\r\n") == b"CLIENT_ERROR bad command line format\r\n"
        )
        c.send(b"set a 0 0 2000000000\r\n")
        assert c.readline() == b"SERVER_ERROR object too large for cache"
    assert still_serving(ours)


SANITIZED = "TIERCACHE_SERVER" in os.environ  # a sanitizer build: RSS means nothing there


@pytest.mark.skipif(SANITIZED, reason="RSS of a sanitizer build")
def test_swallowed_data_is_not_buffered(ours):
    """The data of a refused 1 GB set is read and dropped as it comes: memory stays flat."""
    before = ours.rss_kb()
    with ours.connect() as c:
        c.send(b"set a 0 0 1000000000\r\n")
        assert c.readline() == b"SERVER_ERROR object too large for cache"
        chunk = b"z" * (1 << 20)
        for _ in range(64):
            c.send(chunk)
        c.send(b"version\r\n")  # still swallowed: the block has 936 MB to go
        assert ours.rss_kb() - before < 32 * 1024
    assert still_serving(ours)


def test_client_that_stops_reading(ours):
    """A client pipelining huge multi-gets and reading nothing: the server stops reading it,
    its memory stays bounded, and other clients are served meanwhile."""
    value = b"v" * 2000  # copied into the output (values over 2 KiB are referenced in place)
    with ours.connect() as c:
        assert c.exchange(b"set v 0 0 2000\r\n" + value + b"\r\n") == b"STORED\r\n"
    before = ours.rss_kb()
    line = b"get " + b"v " * 500_000 + b"\r\n"  # 1 GB of replies if nothing pushed back
    stuck = socket.socket(socket.AF_UNIX)
    stuck.connect(ours.path)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)

    def flood():
        try:
            stuck.settimeout(30)
            for _ in range(4):
                stuck.sendall(line)
        except OSError:
            pass

    t = threading.Thread(target=flood, daemon=True)
    t.start()
    t.join(3)  # the sender blocks once the server has stopped reading
    assert t.is_alive(), "the server read 4 GB worth of requests without pushing back"
    grown_mb = (ours.rss_kb() - before) / 1024
    assert SANITIZED or grown_mb < 64, f"RSS grew by {grown_mb:.0f} MiB"
    assert still_serving(ours)
    stuck.shutdown(socket.SHUT_RDWR)  # wakes the blocked sender
    t.join(IO_TIMEOUT)
    stuck.close()
    assert still_serving(ours)


def test_connection_limit():
    """Past -c, a new connection gets memcached's message and is closed."""
    srv = start("tiercache", "-c", "3")
    try:
        held = [srv.connect() for _ in range(2)]
        for c in held:  # make sure each was handed to a worker
            assert c.exchange(b"version\r\n").startswith(b"VERSION")
        # the harness's readiness probe has closed; 2 held + this one = 3: allowed
        with srv.connect() as third:
            assert third.exchange(b"version\r\n").startswith(b"VERSION")
            with srv.connect() as fourth:
                assert fourth.read_to_eof() == b"ERROR Too many open connections\r\n"
        for c in held:
            c.sock.close()
        deadline = time.monotonic() + IO_TIMEOUT
        while True:  # the server notices the closes asynchronously
            with srv.connect() as c:
                try:
                    if c.exchange(b"version\r\n").startswith(b"VERSION"):
                        break
                except EOFError:
                    pass
            assert time.monotonic() < deadline
    finally:
        srv.stop()


def test_idle_timeout_closes():
    srv = start("tiercache", "--idle-timeout", "1")
    try:
        with srv.connect() as c:
            assert c.exchange(b"version\r\n").startswith(b"VERSION")
            assert c.read_to_eof() == b""  # closed by the server after ~1 s
    finally:
        srv.stop()


def test_sigterm_shuts_down_cleanly():
    """SIGTERM with clients connected: exit status 0 and the socket file removed."""
    srv = start("tiercache")
    c = srv.connect()
    c.exchange(b"set a 0 0 1\r\nx\r\n")
    c.send(b"get a\r\nset b 0 0 5\r\nhel")  # one mid-request
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.proc.wait(IO_TIMEOUT) == 0
    assert not os.path.exists(srv.path)
    c.sock.close()
    srv.stop()


def test_unix_socket_modes():
    srv = start("tiercache")
    try:
        assert stat.S_IMODE(os.stat(srv.path).st_mode) == 0o600
    finally:
        srv.stop()
    srv = start("tiercache", "-a", "0660")
    try:
        assert stat.S_IMODE(os.stat(srv.path).st_mode) == 0o660
    finally:
        srv.stop()


def test_tcp_binds_loopback_by_default():
    from server_harness import free_port, server_binary

    port = free_port()
    proc = subprocess.Popen(
        [str(server_binary()), "-p", str(port), "-t", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + IO_TIMEOUT
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        listening = []
        with open("/proc/net/tcp") as f:
            table = f.read().splitlines()[1:]
        for line in table:
            local, st = line.split()[1], line.split()[3]
            if st == "0A" and int(local.split(":")[1], 16) == port:
                listening.append(local.split(":")[0])
        assert listening == ["0100007F"]  # 127.0.0.1 only
    finally:
        proc.terminate()
        proc.wait(IO_TIMEOUT)


def test_bad_options_exit_2():
    from server_harness import server_binary

    binary = server_binary()
    if binary is None:
        pytest.skip("tiercache-server is not built")
    for args in (
        ["-U", "11211"],
        ["-I", "1"],
        ["-t", "0"],
        ["--tier", "nonsense"],
        ["--tier", "bogus:10", "-s", "/tmp/x"],
        ["-p", "0"],
        ["--pmem-mb", "64"],
    ):
        done = subprocess.run(
            [str(binary), *args], capture_output=True, text=True, timeout=IO_TIMEOUT
        )
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.startswith("tiercache-server: "), done.stderr
