"""Tiers of a caller's Kind (Tier(kind, mb)): a fixed area, a size-limited file kind. The
cache never closes a caller's kind; a kind closed while a cache uses it keeps its memory
until the cache object (and its views) are gone."""

from __future__ import annotations

import gc
import mmap

import pytest

from tiercache import Kind, Tier, TierCache
from tiercache.errors import CacheClosedError, KindClosedError

MiB = 1 << 20


@pytest.fixture
def area():
    buf = mmap.mmap(-1, 64 * MiB)
    yield buf
    buf.close()


def test_a_cache_over_a_fixed_kind_stores_there_and_leaves_the_kind_open(area):
    kind = Kind.fixed(area)
    cache = TierCache.from_tiers([Tier(kind, 16)])
    for i in range(100):
        cache[i] = bytes([i]) * 1000
    assert all(cache[i] == bytes([i]) * 1000 for i in range(100))
    tier = cache.stats()["tiers"][0]
    assert tier["name"] == "fixed" and tier["kind"] == "fixed"
    assert tier["items"] == 100
    assert kind.stats().allocated >= 100 * 1000  # the entries are in the caller's area
    assert "fixed=16MiB" in repr(cache)
    cache.check()
    cache.close()
    assert not kind.closed  # the caller's kind stays the caller's
    kind.allocate(4096).free()
    del cache
    gc.collect()
    kind.close()
    assert kind._destroyed


def test_a_size_limited_file_kind_as_the_capacity_tier(shm_dir):
    kind = Kind.file(shm_dir, max_size=16 * MiB)
    with TierCache.from_tiers([Tier.dram(1), Tier(kind, 12)], large_value_bytes=32 * 1024) as c:
        for i in range(20):
            c[i] = bytes([i]) * 200_000  # large: on the file tier, which evicts to its budget
        assert c.stats()["tiers"][1]["items"] > 0
        assert c.stats()["tiers"][1]["name"] == "file"
        assert all(c[i] == bytes([i]) * 200_000 for i in range(20) if i in c)
        c.check()
    assert not kind.closed
    kind.close()


def test_closing_the_kind_while_a_cache_uses_it_keeps_its_memory_until_the_cache_closes(area):
    kind = Kind.fixed(area)
    cache = TierCache.from_tiers([Tier(kind, 16)])
    cache["k"] = b"v" * 5000
    kind.close()
    assert kind.closed
    with pytest.raises(KindClosedError):
        kind.allocate(1)  # the kind serves no new allocations of its own
    assert cache["k"] == b"v" * 5000  # the cache still reads and writes its memory
    cache["k2"] = b"w" * 5000
    cache.check()
    cache.close()
    with pytest.raises(CacheClosedError):
        cache["k"]  # a closed cache still answers, from the kind's memory
    assert not kind._destroyed
    del cache
    gc.collect()
    assert kind._destroyed


def test_a_view_keeps_the_closed_kind_until_it_is_released(area):
    kind = Kind.fixed(area)
    cache = TierCache.from_tiers([Tier(kind, 16)])
    cache["k"] = b"z" * 20_000
    view = cache.get("k", copy=False)
    cache.close()
    kind.close()
    assert not kind._destroyed
    assert view == b"z" * 20_000
    view.release()
    del view, cache
    gc.collect()
    assert kind._destroyed


def test_a_closed_kind_cannot_make_a_tier(area):
    kind = Kind.fixed(area)
    kind.close()
    with pytest.raises(KindClosedError):
        TierCache.from_tiers([Tier(kind, 16)])


def test_one_kind_cannot_serve_two_tiers_and_a_failed_build_releases_it(area):
    kind = Kind.fixed(area)
    with pytest.raises(ValueError, match="two tiers"):
        TierCache.from_tiers([Tier(kind, 8), Tier(kind, 8)])
    kind.close()
    assert kind._destroyed  # not held by the cache that was never made


def test_tier_arguments_are_checked():
    with pytest.raises(TypeError, match="str or a Kind"):
        Tier(3, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no path"):
        Tier(Kind.dram(), 1, "/dev/shm")
    assert Tier(Kind.dram(), 1).label == "dram"


def test_the_builtin_dram_kind_as_a_tier():
    with TierCache.from_tiers([Tier(Kind.dram(), 4)]) as cache:
        cache["a"] = 1
        assert cache["a"] == 1
    assert not Kind.dram().closed
