"""TierCache's one-step operations (tiercache/atomic.py) and batches: add, replace, gets/cas,
incr/decr, append/prepend, ttl/expires_at, peek, popitem, get_many/set_many/delete_many, lazy
iteration; on DRAM and on a file tier, and under 8 threads without a lost update."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tiercache import NotANumberError, NumberRangeError, TierCache

INT64_MAX = (1 << 63) - 1


@pytest.fixture(params=["dram", "file"])
def cache(request, shm_dir):
    """A DRAM-only cache, or one whose every value lives on a file tier."""
    if request.param == "dram":
        c = TierCache(dram_mb=8)
    else:
        c = TierCache(dram_mb=1, pmem_dir=shm_dir, pmem_mb=16, large_value_bytes=1)
    yield c
    c.check()
    c.close()


def test_add_stores_only_absent_keys(cache):
    assert cache.add("k", 1) is True
    assert cache.add("k", 2) is False
    assert cache["k"] == 1
    cache.set("short", 1, ttl=0.05)
    time.sleep(0.1)
    assert cache.add("short", 2) is True  # an expired key counts as absent
    assert cache["short"] == 2


def test_replace_stores_only_present_keys(cache):
    assert cache.replace("k", 1) is False
    assert "k" not in cache
    cache["k"] = 1
    assert cache.replace("k", [2]) is True
    assert cache["k"] == [2]


def test_cas_stores_only_over_the_item_gets_saw(cache):
    assert cache.gets("k", "none") == ("none", None)
    cache["k"] = "v1"
    value, token = cache.gets("k")
    assert value == "v1" and isinstance(token, int) and token > 0
    assert cache.gets("k")[1] == token  # unchanged item, same token
    assert cache.cas("k", "v2", token) is True
    assert cache["k"] == "v2"
    assert cache.cas("k", "v3", token) is False  # the item changed since
    _, fresh = cache.gets("k")
    cache["k"] = "other writer"
    assert cache.cas("k", "v4", fresh) is False
    del cache["k"]
    assert cache.cas("k", "v5", fresh) is False
    assert "k" not in cache
    with pytest.raises(TypeError):
        cache.cas("k", "v", "token")


def test_incr_and_decr_work_on_ints_in_one_step(cache):
    cache["n"] = 10
    assert cache.incr("n") == 11
    assert cache.incr("n", 5) == 16
    assert cache.decr("n", 20) == -4  # signed, not memcached's floor at 0
    assert cache["n"] == -4 and type(cache["n"]) is int
    with pytest.raises(KeyError):
        cache.incr("absent")
    assert "absent" not in cache
    assert cache.incr("absent", 2, default=40) == 42
    assert cache.decr("other", default=0) == -1


def test_incr_refuses_what_is_not_an_int_and_keeps_it(cache):
    for value in ["10", b"10", 1.5, 2**64, True]:
        cache["v"] = value
        with pytest.raises(NotANumberError) as info:
            cache.incr("v")
        assert isinstance(info.value, TypeError)
        assert cache["v"] == value and type(cache["v"]) is type(value)


def test_incr_out_of_range_raises_and_keeps_the_value(cache):
    cache["n"] = INT64_MAX
    with pytest.raises(NumberRangeError) as info:
        cache.incr("n")
    assert isinstance(info.value, OverflowError)
    assert cache["n"] == INT64_MAX
    with pytest.raises(NumberRangeError):
        cache.incr("n", 1 << 63)
    with pytest.raises(NumberRangeError):
        cache.incr("new", 1, default=INT64_MAX)
    assert "new" not in cache


def test_append_and_prepend_join_values_of_the_same_type(cache):
    assert cache.append("b", b"x") is False
    cache["b"] = b"mid"
    assert cache.append("b", b"-end") and cache.prepend("b", b"start-")
    assert cache["b"] == b"start-mid-end"
    cache["s"] = "ü"
    assert cache.append("s", "ß") and cache["s"] == "üß"
    cache["n"] = 5
    with pytest.raises(TypeError):
        cache.append("n", b"0")
    with pytest.raises(TypeError):
        cache.append("b", 5)
    assert cache["n"] == 5


def test_append_keeps_the_ttl(cache):
    cache.set("b", b"a", ttl=100)
    cache.append("b", b"b")
    assert 90 < cache.ttl("b") <= 100


def test_ttl_and_expires_at(cache):
    cache["forever"] = 1
    cache.set("soon", 1, ttl=50)
    assert cache.ttl("forever") is None and cache.expires_at("forever") is None
    assert 45 < cache.ttl("soon") <= 50
    assert abs(cache.expires_at("soon") - (time.time() + 50)) < 5
    with pytest.raises(KeyError):
        cache.ttl("absent")


def test_peek_reads_without_counting_or_promoting(shm_dir):
    with TierCache(dram_mb=1, pmem_dir=shm_dir, pmem_mb=16, large_value_bytes=1) as cache:
        cache["k"] = b"v" * 100
        before = cache.stats()
        for _ in range(5):
            assert cache.peek("k") == b"v" * 100
        assert cache.peek("absent", "d") == "d"
        after = cache.stats()
        assert (after["hits"], after["misses"], after["promotions"]) == (
            before["hits"],
            before["misses"],
            before["promotions"],
        )
        assert after["tiers"][1]["items"] == 1


def test_popitem_removes_the_next_victim(cache):
    for i in range(100):
        cache[i] = i
    assert cache.popitem() == (0, 0)  # the oldest entry of the lowest tier
    assert len(cache) == 99 and 0 not in cache
    while len(cache):
        cache.popitem()
    with pytest.raises(KeyError, match="empty"):
        cache.popitem()


def test_batches_mix_fast_and_python_encoded_keys(cache):
    pairs = {"a": b"1", ("t", 1): b"2", 3: [3], b"d": "4"}
    cache.set_many(pairs, ttl=100)
    assert cache.get_many(["a", ("t", 1), 3, b"d", "absent"]) == pairs
    assert cache.ttl(("t", 1)) is not None
    assert cache.delete_many(["a", ("t", 1), "absent", 3]) == 3
    assert list(cache) == [b"d"]


def test_set_many_stops_at_the_pair_that_fails(cache):
    cache["b"] = "old"
    with pytest.raises(TypeError):
        cache.set_many([("a", b"1"), ("b", object()), ("c", b"3")])
    assert cache["a"] == b"1" and cache["b"] == "old" and "c" not in cache


def test_iteration_starts_at_once_and_lists_each_key_once(cache):
    for i in range(20_000):
        cache[i] = b""
    it = iter(cache)
    assert next(it) in range(20_000)
    assert sorted(cache) == list(range(20_000))


def test_iteration_while_another_thread_writes_lists_no_key_twice():
    with TierCache(dram_mb=16) as cache:
        for i in range(20_000):
            cache[i] = b""
        stop = threading.Event()

        def writer():
            i = 20_000
            while not stop.is_set():
                cache[i] = b""
                cache.delete(i - 10_000)
                i += 1

        t = threading.Thread(target=writer)
        t.start()
        try:
            for _ in range(3):
                keys = list(cache)
                assert len(keys) == len(set(keys))
        finally:
            stop.set()
            t.join()
        cache.check()


def test_eight_threads_lose_no_update():
    """incr, append and a gets/cas retry loop from 8 threads at once: every update counts."""
    with TierCache(dram_mb=8) as cache:
        cache["n"] = 0
        cache["log"] = b""
        cache["casn"] = 0
        each = 300

        def work():
            for _ in range(each):
                cache.incr("n")
                cache.append("log", b"x")
                while True:
                    value, token = cache.gets("casn")
                    if cache.cas("casn", value + 1, token):
                        break

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert cache["n"] == 8 * each
        assert len(cache["log"]) == 8 * each
        assert cache["casn"] == 8 * each
        cache.check()


@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(-100, 100)), max_size=40))
def test_incr_matches_a_dict_model(ops):
    with TierCache(dram_mb=1) as cache:
        model: dict[str, int] = {}
        for key, delta in ops:
            if key in model:
                model[key] += delta
                assert cache.incr(key, delta) == model[key]
            else:
                model[key] = 7 + delta
                assert cache.incr(key, delta, default=7) == model[key]
        assert {k: cache[k] for k in model} == model
        cache.check()
