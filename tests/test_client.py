"""tiercache.client.connect: TierCache's mapping API over tiercache-server via pymemcache."""

from __future__ import annotations

import pytest
from server_harness import Server

pytest.importorskip("pymemcache")
from tiercache.client import connect


@pytest.fixture
def servers():
    started = []
    try:
        for _ in range(3):
            started.append(Server("tiercache"))
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    yield started
    for s in started:
        s.stop()  # also removes the directory of the one killed


def test_single_server_mapping(servers):
    with connect("unix:" + servers[0].path) as c:
        c["user:42"] = {"name": "Ada", "tags": ["x"]}
        c[("t", 1)] = b"\x00raw"
        c[7] = "seven"
        c["long" * 100] = 1  # hashed on the wire: memcached keys stop at 250 bytes
        assert c["user:42"] == {"name": "Ada", "tags": ["x"]}
        assert c[("t", 1)] == b"\x00raw" and c[7] == "seven" and c["long" * 100] == 1
        assert "user:42" in c and "nope" not in c
        assert c.get("nope", "default") == "default"
        with pytest.raises(KeyError):
            c["nope"]
        del c[7]
        with pytest.raises(KeyError):
            del c[7]
        assert c.add("a", 1) and not c.add("a", 2)
        assert c.replace("a", 3) and not c.replace("b", 4)
        c["n"] = 41
        assert c.incr("n") == 42 and c["n"] == 42  # an int stays an int across incr
        assert c.decr("n", 100) == 0
        assert c.incr("fresh", 5, default=10) == 15
        value, token = c.gets("a")
        assert value == 3 and c.cas("a", 4, token) and not c.cas("a", 5, token)
        c.set_many({"x": 1, "y": 2}, ttl=60)
        assert c.get_many(["x", "y", "z"]) == {"x": 1, "y": 2}
        c.delete_many(["x", "y"])
        assert c.get_many(["x", "y"]) == {}
        assert len(c) >= 4
        with pytest.raises(TypeError):
            iter(c)
        stats = c.stats()["servers"]
        assert len(stats) == 1 and "tier0_used" in next(iter(stats.values()))
        c.clear()
        assert "user:42" not in c


def test_memoize_over_the_server(servers):
    calls = []
    with connect("unix:" + servers[0].path) as c:

        @c.memoize(ttl=60)
        def square(x):
            calls.append(x)
            return x * x

        assert [square(3), square(3), square(4)] == [9, 9, 16]
        assert calls == [3, 4]


def test_sharding_survives_a_dead_server(servers):
    """Three servers behind HashClient; one is killed mid-run: the clients go on with the
    others and never read a wrong value (a key on the dead server reads as a miss)."""
    c = connect(["unix:" + s.path for s in servers])
    try:
        for i in range(300):
            c[f"k{i}"] = i
        per_server = [int(s["curr_items"]) for s in c.stats()["servers"].values()]
        assert sum(per_server) == 300 and all(n > 0 for n in per_server)
        servers[1].proc.kill()
        servers[1].proc.wait()
        hits = 0
        for _round in range(3):
            for i in range(300):
                value = c.get(f"k{i}")
                assert value in (None, i), (i, value)
                hits += value == i
                c[f"k{i}"] = i  # stores go to the live servers
        assert hits > 0
        assert all(c.get(f"k{i}") in (None, i) for i in range(300))
    finally:
        c.close()
