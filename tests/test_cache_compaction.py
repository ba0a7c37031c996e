"""Compaction: compact() moves live blocks out of sparsely used pages with defrag_reallocate,
fixes the index as it goes and loses nothing; it also runs on a background thread that stops
when the cache closes."""

from __future__ import annotations

import gc
import threading
import time

import numpy as np
import pytest

from tiercache import CacheClosedError, TierCache

LARGE = 70_000  # above the default large_value_bytes: on the capacity tier


def value_for(key: object, size: int) -> bytes:
    stamp = repr(key).encode() + b"|"
    return (stamp * (size // len(stamp) + 1))[:size]


def small_size(i: int) -> int:
    return 200 + i % 700


@pytest.fixture
def cache(shm_dir):
    c = TierCache(dram_mb=16, pmem_dir=shm_dir, pmem_mb=256)
    yield c
    c.close()


def fill_then_delete(cache: TierCache, keep_every: int = 10) -> tuple[list, list]:
    """20k small and 1k large values, then delete all but one in keep_every; returns the
    kept small and large keys."""
    for i in range(20_000):
        cache[i] = value_for(i, small_size(i))
    for i in range(1000):
        cache[("large", i)] = value_for(("large", i), LARGE)
    assert cache.stats()["evictions"] == 0
    for i in range(20_000):
        if i % keep_every:
            del cache[i]
    for i in range(1000):
        if i % keep_every:
            del cache[("large", i)]
    small = list(range(0, 20_000, keep_every))
    large = [("large", i) for i in range(0, 1000, keep_every)]
    return small, large


def assert_intact(cache: TierCache, small: list, large: list) -> None:
    assert len(cache) == len(small) + len(large)
    for i in small:
        assert cache[i] == value_for(i, small_size(i))
    for key in large:
        assert cache[key] == value_for(key, LARGE)


def test_compact_after_deletes_moves_blocks_and_keeps_every_value(cache):
    small, large = fill_then_delete(cache)
    used_before = [t["used"] for t in cache.stats()["tiers"]]
    moved = cache.compact()
    assert moved > 0
    print(f"compact() moved {moved} blocks")
    cache.check()
    stats = cache.stats()
    assert stats["items"] == len(small) + len(large)
    # A moved jemalloc block keeps its size class: the capacity tier's charge does not change.
    # DRAM entries in slabs move out of sparse slabs, which are freed: tier 0 can only fall.
    used_after = [t["used"] for t in stats["tiers"]]
    assert used_after[1:] == used_before[1:]
    assert used_after[0] <= used_before[0]
    assert_intact(cache, small, large)
    cache.check()


def test_compact_lowers_the_capacity_tiers_resident_memory(cache):
    """The file kind belongs to this cache alone, so its resident bytes show the effect."""
    fill_then_delete(cache)
    kind = cache._native.kinds[1]  # no public accessor for a tier's kind
    kind.purge()  # empty pages and front-cached blocks: what purging alone gives
    before = kind.stats()
    cache.compact()
    after = kind.stats()
    print(f"file tier resident {before.resident} -> {after.resident} bytes")
    assert after.resident < before.resident
    assert after.allocated == before.allocated
    cache.check()


def test_compact_of_a_dense_cache_moves_nothing(cache):
    for i in range(5000):
        cache[i] = value_for(i, small_size(i))
    cache.compact()  # settle whatever the fill left behind
    assert cache.compact() == 0
    assert all(cache[i] == value_for(i, small_size(i)) for i in range(5000))
    cache.check()


def test_compact_of_an_empty_cache_is_harmless():
    with TierCache(dram_mb=1) as cache:
        assert cache.compact() == 0
        assert cache.compact(purge=False) == 0
        cache.check()


def test_compact_leaves_pinned_values_in_place(cache):
    small, large = fill_then_delete(cache)
    views = {key: cache.get(key, copy=False) for key in [*small[:50], *large[:5]]}
    addresses = {key: np.frombuffer(v, dtype=np.uint8).ctypes.data for key, v in views.items()}
    assert cache.compact() > 0
    cache.check()
    for key, view in views.items():
        assert np.frombuffer(view, dtype=np.uint8).ctypes.data == addresses[key]
        size = LARGE if isinstance(key, tuple) else small_size(key)
        assert view == value_for(key, size)
    assert_intact(cache, small, large)
    del views
    cache.check()


def test_compact_keeps_ttl_entries_and_the_queues_working(cache):
    """After moving entries, expiry, eviction order, promotion and deletion still find them."""
    small, _ = fill_then_delete(cache)
    for i in small[:100]:
        cache.set(("ttl", i), value_for(("ttl", i), 300), ttl=0.05)
    assert cache.compact() > 0
    cache.check()
    time.sleep(0.1)
    assert cache.expire() == 100
    cache.check()
    for i in small[:500]:
        del cache[i]
    cache.check()
    for i in range(30_000, 60_000):  # push the cache through eviction after the moves
        cache[i] = value_for(i, 500)
    cache.check()
    assert cache.stats()["demotions"] > 0
    assert all(cache.get(i, value_for(i, 500)) == value_for(i, 500) for i in range(30_000, 60_000))
    cache.check()


def test_compact_without_purge_moves_the_same(cache):
    small, large = fill_then_delete(cache)
    assert cache.compact(purge=False) > 0
    assert_intact(cache, small, large)
    cache.check()


def test_repeated_delete_and_compact_rounds_lose_nothing(cache):
    rng = np.random.default_rng(11)
    live: dict[int, int] = {}
    for round_ in range(3):
        for _ in range(4000):
            key = int(rng.integers(50_000))
            size = int(rng.choice([50, 300, 2000, LARGE]))
            cache[key] = value_for((key, size), size)
            live[key] = size
        for key in rng.choice(sorted(live), size=len(live) * 2 // 3, replace=False):
            del cache[int(key)]
            del live[int(key)]
        cache.compact()
        cache.check()
        assert len(cache) == len(live), round_
        for key, size in live.items():
            assert cache[key] == value_for((key, size), size)


# ---- background compaction ----


def compactor_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "tiercache-compactor"}


class CountingCompact:
    """Wraps a cache's compact() to count the calls the background thread makes."""

    def __init__(self, cache: TierCache) -> None:
        self.calls = 0
        self.moved = 0
        self._compact = cache.compact
        cache.compact = self  # type: ignore[method-assign]

    def __call__(self, purge: bool = True) -> int:
        moved = self._compact(purge)
        self.calls += 1
        self.moved += moved
        return moved


def wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_background_compaction_runs_and_stops_at_close(shm_dir):
    before = compactor_threads()
    cache = TierCache(dram_mb=16, pmem_dir=shm_dir, pmem_mb=256, compact_interval=0.05)
    (thread,) = compactor_threads() - before
    assert thread.daemon
    counter = CountingCompact(cache)
    small, large = fill_then_delete(cache)
    assert wait_for(lambda: counter.moved > 0)
    assert wait_for(lambda: counter.calls >= 3)
    cache.check()
    assert_intact(cache, small, large)
    cache.close()
    assert not thread.is_alive()
    calls = counter.calls
    time.sleep(0.15)
    assert counter.calls == calls
    with pytest.raises(CacheClosedError):
        cache.compact()


def test_background_compaction_runs_alongside_writers(shm_dir):
    with TierCache(dram_mb=4, pmem_dir=shm_dir, pmem_mb=32, compact_interval=0.01) as cache:
        counter = CountingCompact(cache)
        rng = np.random.default_rng(2)
        for step in range(20_000):
            key = int(rng.integers(2000))
            if step % 3 == 0:
                cache.pop(key, None)
            else:
                cache[key] = value_for(key, int(rng.choice([100, 1500, LARGE])))
            if step % 5000 == 0:
                time.sleep(0.03)  # let the compactor in
        assert counter.calls > 0
        cache.check()
        for key in list(cache):
            assert cache[key].startswith(value_for(key, 10))


def test_background_compactor_does_not_keep_a_dropped_cache_alive(shm_dir):
    before = compactor_threads()
    cache = TierCache(dram_mb=1, pmem_dir=shm_dir, compact_interval=0.02)
    cache["k"] = b"v"
    cache.check()
    (thread,) = compactor_threads() - before
    del cache
    gc.collect()
    thread.join(timeout=2)
    assert not thread.is_alive()


@pytest.mark.parametrize("interval", [0, -1, float("nan")])
def test_compact_interval_must_be_positive(interval):
    before = compactor_threads()
    with pytest.raises(ValueError, match="compact_interval"):
        TierCache(dram_mb=1, compact_interval=interval)
    assert compactor_threads() == before
