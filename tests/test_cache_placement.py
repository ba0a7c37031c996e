"""Where TierCache puts values and what it charges for them: small values in DRAM, large ones
on the capacity tier, demotion under DRAM pressure, promotion of hot entries, honest budgets,
TTL expiry, and zero-copy views that outlive overwrites, evictions and the cache itself."""

from __future__ import annotations

import gc
import time

import numpy as np
import pytest
from helpers import mapping_of

from tiercache import CacheClosedError, TierCache

KiB = 1 << 10
MiB = 1 << 20
HEADER = 12  # bytes of an entry header (native/src/cache/cache_internal.h)


@pytest.fixture
def tiered(shm_dir):
    """1 MiB of DRAM over 16 MiB of file memory on /dev/shm."""
    cache = TierCache(dram_mb=1, pmem_dir=shm_dir, pmem_mb=16)
    yield cache
    cache.close()


def tiers(cache: TierCache) -> list[dict]:
    return cache.stats()["tiers"]


def value_for(key: int, size: int) -> bytes:
    """A value that says which key it belongs to."""
    stamp = b"%08d|" % key
    return (stamp * (size // len(stamp) + 1))[:size]


def address_of(view: memoryview) -> int:
    return np.frombuffer(view, dtype=np.uint8).ctypes.data


def assert_within_budgets(cache: TierCache) -> None:
    for i, tier in enumerate(tiers(cache)):
        assert tier["used"] <= tier["budget"], f"tier {i}: {tier}"


# ---- where values start ----


def test_small_values_start_in_dram(tiered):
    for i in range(100):
        tiered[i] = value_for(i, 1000)
    dram, capacity = tiers(tiered)
    assert dram["items"] == 100
    assert dram["value_bytes"] == 100 * 1000
    assert capacity["items"] == 0
    # The capacity tier holds only the ghost tables (fingerprints of evicted keys).
    assert capacity["used"] == tiered.stats()["ghost_bytes"]
    tiered.check()


def test_values_at_the_large_threshold_go_to_the_capacity_tier(shm_dir):
    with TierCache(dram_mb=1, pmem_dir=shm_dir, large_value_bytes=16 * KiB) as cache:
        cache["below"] = b"b" * (16 * KiB - 1)
        cache["at"] = b"a" * (16 * KiB)
        cache["above"] = "a" * (100 * KiB)  # str values are measured in UTF-8 bytes
        dram, capacity = tiers(cache)
        assert (dram["items"], capacity["items"]) == (1, 2)
        assert dram["value_bytes"] == 16 * KiB - 1
        assert capacity["value_bytes"] == 16 * KiB + 100 * KiB
        assert capacity["used"] >= capacity["value_bytes"]
        assert dram["used"] < 100 * KiB  # only headers, keys and the index for the large two
        assert cache["at"] == b"a" * (16 * KiB)
        assert cache["above"] == "a" * (100 * KiB)
        cache.check()


def test_default_large_threshold_is_64_kib(tiered):
    tiered["below"] = b"b" * (64 * KiB - 1)
    tiered["at"] = b"a" * (64 * KiB)
    assert [t["items"] for t in tiers(tiered)] == [1, 1]
    tiered.check()


def test_large_values_stay_in_dram_without_a_capacity_tier():
    with TierCache(dram_mb=1) as cache:
        cache["large"] = b"l" * (100 * KiB)
        assert tiers(cache)[0]["items"] == 1
        assert cache["large"] == b"l" * (100 * KiB)
        cache.check()


# ---- demotion and promotion ----


def test_dram_pressure_demotes_instead_of_evicting(tiered):
    n = 3000  # 3 MB of values over 1 MiB of DRAM
    for i in range(n):
        tiered[i] = value_for(i, 1000)
        if i % 500 == 0:
            assert_within_budgets(tiered)
    stats = tiered.stats()
    dram, capacity = stats["tiers"]
    assert capacity["demotions"] > n // 2
    assert stats["demotions"] == capacity["demotions"]
    assert stats["evictions"] == 0
    assert dram["items"] + capacity["items"] == len(tiered) == n
    assert capacity["value_bytes"] == capacity["items"] * 1000
    assert all(tiered[i] == value_for(i, 1000) for i in range(n))
    assert_within_budgets(tiered)
    tiered.check()


def test_small_values_are_demoted_whole_and_cost_dram_only_their_index_slot(tiered):
    """Entries live whole on their tier: tiny values fill the capacity tier, and each one
    there costs DRAM only its share of the index (at most 12 bytes)."""
    for i in range(40_000):  # an index of ~11 B an item fits the 1 MiB of DRAM
        tiered[i] = b"tiny"
    stats = tiered.stats()
    dram, capacity = stats["tiers"]
    assert stats["demotions"] > 20_000
    assert stats["evictions"] == 0
    assert len(tiered) == 40_000
    assert capacity["items"] > 20_000
    assert 0 < capacity["dram_bytes_per_item"] <= 12
    assert dram["dram_bytes"] + capacity["dram_bytes"] == dram["used"]
    assert all(tiered[i] == b"tiny" for i in range(0, 40_000, 7))
    assert_within_budgets(tiered)
    tiered.check()


# ---- budgets ----


def test_budgets_hold_and_count_real_usable_sizes(tiered):
    rng = np.random.default_rng(7)
    for step in range(4000):
        size = int(rng.choice([10, 100, 1000, 5000, 70_000]))
        key = int(rng.integers(3000))
        tiered[key] = value_for(key, size)
        if step % 400 == 0:
            assert_within_budgets(tiered)
    stats = tiered.stats()
    dram, capacity = stats["tiers"]
    assert_within_budgets(tiered)
    # Every entry has its header on its own tier, besides its value.
    assert dram["used"] >= dram["value_bytes"] + HEADER * dram["items"]
    assert capacity["used"] >= capacity["value_bytes"] + HEADER * capacity["items"]
    values = dram["value_bytes"] + capacity["value_bytes"]
    assert dram["used"] + capacity["used"] == values + stats["key_bytes"] + stats["meta_bytes"]
    tiered.check()


@pytest.mark.parametrize("copy", [False, True], ids=["view", "large-copy"])
def test_reads_that_pin_never_push_dram_over_its_budget(copy):
    """A pinned read allocates a pin record (and the first time a bucket table) in DRAM; it
    makes room first, whatever the fill pattern left free. (Copies of values over 16 KiB
    pin while they copy.)"""
    for pattern in range(60):
        with TierCache(dram_mb=0.0625) as cache:
            size = pattern * 37 % 3000 + (100 if not copy else 17_000)
            for i in range(200):
                cache[i] = value_for(i, size)
            key = max(cache)
            got = cache.get(key, copy=copy)
            assert got == value_for(key, size)
            del got
            assert_within_budgets(cache)
            cache.check()


def test_capacity_tier_usage_matches_what_its_kind_allocated(tiered):
    """The file tier's charge is what the allocator really handed out from that kind."""
    for i in range(2000):
        tiered[i] = value_for(i, 3000)
    used = tiers(tiered)[1]["used"]
    assert used > 0
    kind = tiered._native.kinds[1]  # the tier's own kind (private)
    kind.purge()  # blocks freed into this thread's front cache count as allocated until then
    allocated = kind.stats().allocated
    assert used <= allocated <= used + 64 * KiB
    tiered.check()


def test_empty_cache_charges_its_own_metadata_to_dram():
    with TierCache(dram_mb=1) as cache:
        stats = cache.stats()
        assert stats["items"] == 0
        assert stats["tiers"][0]["used"] == stats["meta_bytes"] > 0
        cache.check()


def test_index_and_queues_count_against_the_dram_budget():
    with TierCache(dram_mb=8) as cache:
        for i in range(10_000):
            cache[i] = b""
        stats = cache.stats()
        assert stats["items"] == 10_000
        # 16-byte entry blocks (header, tag, 8-byte key) plus index slots and queue rings.
        assert stats["meta_bytes"] > 10_000 * (16 - 9 + 8)
        assert stats["tiers"][0]["used"] >= stats["meta_bytes"] + stats["key_bytes"]
        cache.check()


@pytest.mark.parametrize("size", [10, 99, 100, 150, 500, 1000])
def test_metadata_per_item_is_below_48_bytes(size):
    """Issue 4's target at 100k items of 16 B keys: entry blocks are slab slots of 4-byte
    classes, so no value size pays jemalloc's size-class rounding (at 100 B it did: the 129 B
    entry block took a 160 B block, 71.5 B of metadata per item)."""
    with TierCache(dram_mb=64 + size * 100_000 // 2**20 * 2) as cache:
        value = b"v" * size
        for i in range(100_000):
            cache[b"key:%012d" % i] = value
        stats = cache.stats()
        assert stats["items"] == 100_000
        assert stats["evictions"] == 0
        assert stats["key_bytes"] == 100_000 * 17  # 16 bytes and the type tag
        per_item = stats["meta_bytes_per_item"]
        print(f"metadata per item with {size} B values: {per_item:.1f} B")
        cache.check()
        assert per_item < 48


# ---- ttl ----

#: Long enough that a loaded machine still sees the entries before it runs out.
TTL = 0.25


def test_entry_with_ttl_is_gone_after_it_expires(tiered):
    tiered.set("short", b"s", ttl=TTL)
    tiered.set("large", b"L" * (100 * KiB), ttl=TTL)  # on the capacity tier
    tiered["forever"] = b"f"
    assert tiered["short"] == b"s"
    assert "large" in tiered
    time.sleep(TTL + 0.05)
    assert "short" not in tiered
    assert tiered.get("large") is None
    with pytest.raises(KeyError):
        tiered["short"]
    assert tiered["forever"] == b"f"
    assert list(tiered) == ["forever"]
    assert tiered.stats()["expirations"] == 2
    tiered.check()


def test_len_drops_expired_entries(tiered):
    for i in range(10):
        tiered.set(i, i, ttl=TTL)
    for i in range(10, 15):
        tiered.set(i, i)
    assert len(tiered) == 15
    time.sleep(TTL + 0.05)
    assert len(tiered) == 5
    assert tiered.stats()["items"] == 5
    assert sorted(tiered) == list(range(10, 15))
    tiered.check()


def test_touch_extends_and_clears_expiry(tiered):
    tiered.set("extended", 1, ttl=TTL)
    tiered.set("cleared", 2, ttl=TTL)
    tiered.set("plain", 3)
    assert tiered.touch("extended", ttl=30) is True
    assert tiered.touch("cleared") is True  # None: never expires
    assert tiered.touch("plain", ttl=TTL) is True  # gains an expiry
    assert tiered.touch("absent", ttl=1) is False
    time.sleep(TTL + 0.05)
    assert tiered["extended"] == 1
    assert tiered["cleared"] == 2
    assert "plain" not in tiered
    assert "absent" not in tiered
    tiered.check()


def test_overwrite_resets_the_expiry(tiered):
    tiered.set("k", 1, ttl=0.05)
    tiered.set("k", 2)
    time.sleep(0.1)
    assert tiered["k"] == 2
    tiered.check()


def test_expire_removes_every_expired_entry_and_counts_them(tiered):
    for i in range(20):
        tiered.set(i, value_for(i, 100 if i % 2 else 100 * KiB), ttl=0.05)
    tiered.set("kept", 1, ttl=60)
    time.sleep(0.1)
    assert tiered.expire() == 20
    assert tiered.expire() == 0
    assert tiered.stats()["items"] == 1
    assert tiers(tiered)[1]["used"] == tiered.stats()["ghost_bytes"]
    tiered.check()


# ---- zero-copy reads ----


@pytest.mark.parametrize("size", [100, 20 * KiB, 200 * KiB], ids=["dram", "dram-20k", "file"])
def test_get_without_copy_returns_a_read_only_view_of_the_value(tiered, size):
    value = value_for(1, size)
    tiered["k"] = value
    view = tiered.get("k", copy=False)
    assert type(view) is memoryview
    assert view.readonly
    assert view == value
    with pytest.raises(TypeError):
        view[0] = 0
    assert tiered.stats()["pinned"] == 1
    del view
    assert tiered.stats()["pinned"] == 0
    tiered.check()


def test_a_view_exporter_gives_no_buffer_outside_get(tiered):
    """The object behind a view exports values only through get(): asking it directly for a
    buffer is refused, and the view and the pin count stay as they were."""
    tiered["k"] = value_for(1, 5000)
    view = tiered.get("k", copy=False)
    with pytest.raises(BufferError):
        memoryview(view.obj)
    assert view == value_for(1, 5000)
    assert tiered.stats()["pinned"] == 1
    view.release()
    assert tiered.stats()["pinned"] == 0
    tiered.check()


def test_get_without_copy_of_other_types_decodes_them(tiered):
    tiered["s"] = "text"
    tiered["l"] = [1, (2,)]
    tiered["ba"] = bytearray(b"ba")
    assert tiered.get("s", copy=False) == "text"
    assert tiered.get("l", copy=False) == [1, (2,)]
    assert tiered.get("ba", copy=False) == bytearray(b"ba")
    assert tiered.get("absent", "dflt", copy=False) == "dflt"
    assert tiered.stats()["pinned"] == 0
    tiered.check()


@pytest.mark.parametrize("size", [100, 200 * KiB], ids=["dram", "file"])
def test_view_is_unchanged_after_overwrite_and_delete(tiered, size):
    tiered["k"] = value_for(1, size)
    first = tiered.get("k", copy=False)
    tiered["k"] = value_for(2, size)
    assert first == value_for(1, size)
    assert tiered["k"] == value_for(2, size)
    tiered.check()
    second = tiered.get("k", copy=False)
    del tiered["k"]
    assert "k" not in tiered
    assert first == value_for(1, size)
    assert second == value_for(2, size)
    assert tiered.stats()["pinned"] == 2
    tiered.check()
    del first, second
    assert tiered.stats()["pinned"] == 0
    assert tiers(tiered)[1]["used"] == tiered.stats()["ghost_bytes"]
    tiered.check()


def test_view_is_unchanged_after_its_entry_is_evicted():
    with TierCache(dram_mb=1) as cache:
        cache["victim"] = value_for(0, 20 * KiB)
        view = cache.get("victim", copy=False)
        for i in range(1, 200):  # 4 MB through 1 MiB, each read once like the victim
            cache[i] = value_for(i, 20 * KiB)
            assert cache[i] == value_for(i, 20 * KiB)
        assert "victim" not in cache
        assert cache.stats()["evictions"] > 100
        assert view == value_for(0, 20 * KiB)
        cache.check()
        del view
        assert cache.stats()["pinned"] == 0
        assert_within_budgets(cache)
        cache.check()


def test_view_is_unchanged_after_demotion_and_eviction_from_the_capacity_tier(shm_dir):
    with TierCache(dram_mb=1, pmem_dir=shm_dir, pmem_mb=1) as cache:
        cache[0] = value_for(0, 5000)
        view = cache.get(0, copy=False)
        for i in range(1, 1000):  # 5 MB through 2 MiB of tiers, each read once like key 0
            cache[i] = value_for(i, 5000)
            assert cache[i] == value_for(i, 5000)
        assert 0 not in cache
        assert cache.stats()["tiers"][1]["evictions"] > 0
        assert view == value_for(0, 5000)
        cache.check()
        del view
        cache.check()


def test_small_value_demoted_to_the_capacity_tier_is_read_in_place_and_survives_eviction(
    shm_dir,
):
    """A demoted 100 B entry lives whole on the file tier: a zero-copy view of it points into
    that tier's memory, and stays unchanged after the entry is evicted."""
    with TierCache(dram_mb=0.25, pmem_dir=shm_dir, pmem_mb=1, promote_hits=0) as cache:
        cache["first"] = value_for(0, 100)
        for i in range(4000):  # 400 kB through 256 KiB of DRAM: "first" is demoted
            cache[i] = value_for(i, 100)
        assert cache.stats()["tiers"][1]["items"] > 1000
        view = cache.get("first", copy=False)
        assert isinstance(view, memoryview) and view == value_for(0, 100)
        before = cache._native.kinds[1].stats().allocated
        for i in range(4000, 40_000):  # 4 MB more, each read once as "first" was: evicted
            cache[i] = value_for(i, 100)
            cache.get(i)
        assert "first" not in cache
        assert cache.stats()["tiers"][1]["evictions"] > 0
        assert before > 0
        assert view == value_for(0, 100)
        assert cache.stats()["pinned"] == 1
        cache.check()
        del view
        assert cache.stats()["pinned"] == 0
        assert_within_budgets(cache)
        cache.check()


def test_capacity_items_cost_dram_only_their_index_slot_at_scale(shm_dir):
    """Issue 11's figure: 400k entries of 100 B through a 4 + 32 MiB cache fill the capacity
    tier, at most 12 bytes of DRAM for each entry there; the rest of DRAM holds hot entries."""
    with TierCache(dram_mb=4, pmem_dir=shm_dir, pmem_mb=32) as cache:
        value = b"v" * 100
        for i in range(400_000):
            cache[b"k%015d" % i] = value
        stats = cache.stats()
        capacity = stats["tiers"][1]
        print(f"{capacity['items']} capacity items, {capacity['dram_bytes_per_item']:.2f} B each")
        assert capacity["items"] > 150_000
        assert capacity["dram_bytes_per_item"] <= 12
        assert capacity["used"] > 0.95 * capacity["budget"]
        assert stats["index_bytes"] <= 12 * stats["items"]
        cache.check()


def test_index_on_the_capacity_tier_leaves_dram_to_hot_entries(shm_dir):
    with TierCache(dram_mb=1, pmem_dir=shm_dir, pmem_mb=16, index_tier=1) as cache:
        for i in range(50_000):
            cache[i] = value_for(i, 100)
        stats = cache.stats()
        dram, capacity = stats["tiers"]
        assert stats["index_tier"] == 1
        assert capacity["items"] > 40_000
        assert capacity["dram_bytes"] == 0
        assert dram["used"] <= 1 * MiB  # within its budget (the index is not there)
        assert capacity["used"] >= stats["index_bytes"] + capacity["value_bytes"]
        assert all(cache[i] == value_for(i, 100) for i in range(0, 50_000, 97))
        cache.check()


@pytest.mark.parametrize(
    ("index_tier", "error"),
    [(-1, ValueError), (2, ValueError), (True, TypeError), (1.0, TypeError)],
)
def test_index_tier_must_name_a_tier(shm_dir, index_tier, error):
    with pytest.raises(error, match="index_tier"):
        TierCache(dram_mb=1, pmem_dir=shm_dir, pmem_mb=4, index_tier=index_tier)
    with pytest.raises(ValueError, match="index_tier"):
        TierCache(dram_mb=1, index_tier=1)


def test_view_stays_valid_after_close(tiered):
    tiered["small"] = value_for(1, 100)
    tiered["large"] = value_for(2, 200 * KiB)
    small = tiered.get("small", copy=False)
    large = tiered.get("large", copy=False)
    tiered.check()
    tiered.close()
    with pytest.raises(CacheClosedError):
        tiered["small"]
    assert small == value_for(1, 100)
    assert large == value_for(2, 200 * KiB)


def test_pinned_view_keeps_the_kinds_alive_after_the_cache_is_deleted(shm_dir):
    """The view holds the file kind's memory mapped after the cache object is gone; the
    mapping goes with the last view."""
    cache = TierCache(dram_mb=1, pmem_dir=shm_dir)
    cache["large"] = value_for(3, 300 * KiB)
    cache["small"] = value_for(4, 100)
    cache.check()
    large = cache.get("large", copy=False)
    small = cache.get("small", copy=False)
    address = address_of(large)
    assert mapping_of(address).startswith(str(shm_dir))
    del cache
    gc.collect()
    assert large == value_for(3, 300 * KiB)
    assert small == value_for(4, 100)
    assert mapping_of(address).startswith(str(shm_dir))
    del large, small
    gc.collect()
    assert not (mapping_of(address) or "").startswith(str(shm_dir))


def test_copies_are_independent_of_later_changes(tiered):
    tiered["k"] = value_for(1, 200 * KiB)
    copied = tiered["k"]
    tiered["k"] = value_for(2, 200 * KiB)
    assert copied == value_for(1, 200 * KiB)
    assert tiered.stats()["pinned"] == 0
    tiered.check()
