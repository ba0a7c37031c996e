"""Hypothesis state machines drive TierCache with random operation sequences and compare it
with a model of its semantics, calling check() after every step.

- TestCacheIsADict: budgets large enough that nothing is ever evicted; the cache must behave
  exactly as a dict.
- TestSmallCacheOnlyForgetsByEviction: budgets so small that entries are demoted and evicted
  all the time; a key the model holds may be missing only if stats()["evictions"] grew since
  it was written, and a value read is always the last one written for its key.
"""

from __future__ import annotations

import shutil
import tempfile

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from tiercache import Tier, TierCache

# ---- strategies ----

POOL = ["a", "b", "ключ", b"a", b"b", 0, 1, -1, 2**64, ("a", 1), ("a", (b"b",)), ""]
scalar_keys = st.one_of(
    st.text(max_size=6),
    st.binary(max_size=6),
    st.integers(min_value=-(2**70), max_value=2**70),
)
keys = st.one_of(
    st.sampled_from(POOL),
    scalar_keys,
    st.tuples(scalar_keys, scalar_keys),
    st.tuples(scalar_keys, st.tuples(scalar_keys)),
)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.binary(max_size=20),
)
containers = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(st.text(max_size=4), st.integers(-9, 9)), inner, max_size=4),
    ),
    max_leaves=8,
)


def sized_bytes(max_size: int, min_size: int = 0) -> st.SearchStrategy[bytes]:
    """Bytes of min_size to max_size, built by repetition so that large ones are cheap."""
    return st.builds(
        lambda unit, n: (unit * (n // len(unit) + 1))[:n],
        st.binary(min_size=1, max_size=8),
        st.integers(min_value=min_size, max_value=max_size),
    )


def values(max_size: int) -> st.SearchStrategy:
    return st.one_of(
        sized_bytes(max_size),
        st.builds(bytearray, st.binary(max_size=32)),
        st.text(max_size=40),
        containers,
    )


ttls = st.sampled_from([None, 3600.0, 1e9])


def same_keys(found, expected) -> bool:
    """Key collections compare as sets of (type family, value): 1 and True are one key."""
    return sorted(map(repr, found)) == sorted(map(repr, expected))


def normalized(key):
    """The key as the cache lists it (bools are ints)."""
    if isinstance(key, bool):
        return int(key)
    if isinstance(key, tuple):
        return tuple(normalized(k) for k in key)
    return key


# ---- nothing evicted: the cache is a dict ----


class CacheIsADict(RuleBasedStateMachine):
    """Large budgets: every operation must agree with a dict."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="tiercache-stateful-", dir="/dev/shm")
        self.cache = TierCache(dram_mb=8, pmem_dir=self.dir, pmem_mb=16, large_value_bytes=2048)
        self.model: dict = {}

    def teardown(self) -> None:
        self.cache.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @rule(key=keys, value=values(6000), ttl=ttls)
    def set(self, key, value, ttl):
        self.cache.set(key, value, ttl=ttl)
        self.model[key] = value

    @rule(key=keys, value=values(100))
    def setitem(self, key, value):
        self.cache[key] = value
        self.model[key] = value

    @rule(items=st.lists(st.tuples(keys, values(3000)), max_size=5))
    def set_many(self, items):
        self.cache.set_many(items)
        self.model.update(items)

    @rule(mapping=st.dictionaries(keys, values(100), max_size=4))
    def update(self, mapping):
        self.cache.update(mapping)
        self.model.update(mapping)

    @rule(key=keys)
    def get(self, key):
        missing = object()
        got = self.cache.get(key, missing)
        if key in self.model:
            assert got == self.model[key]
            assert type(got) is type(self.model[key])
        else:
            assert got is missing

    @rule(key=keys)
    def get_without_copy(self, key):
        got = self.cache.get(key, copy=False)
        expected = self.model.get(key)
        if type(expected) is bytes:
            assert type(got) is memoryview and got.readonly
            assert got == expected
        else:
            assert got == expected

    @rule(keys_=st.lists(keys, max_size=6))
    def get_many(self, keys_):
        assert self.cache.get_many(keys_) == {k: self.model[k] for k in keys_ if k in self.model}

    @rule(key=keys)
    def contains(self, key):
        assert (key in self.cache) == (key in self.model)

    @rule(key=keys)
    def delitem(self, key):
        if key in self.model:
            del self.cache[key]
            del self.model[key]
        else:
            try:
                del self.cache[key]
            except KeyError:
                pass
            else:
                raise AssertionError(f"del of absent {key!r} did not raise KeyError")

    @rule(key=keys)
    def pop(self, key):
        assert self.cache.pop(key, "absent") == self.model.pop(key, "absent")

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def pop_present(self, data):
        key = data.draw(st.sampled_from(sorted(self.model, key=repr)))
        assert self.cache.pop(key) == self.model.pop(key)

    @rule(key=keys, default=values(50))
    def setdefault(self, key, default):
        assert self.cache.setdefault(key, default) == self.model.setdefault(key, default)

    @rule(key=keys, ttl=ttls)
    def touch(self, key, ttl):
        assert self.cache.touch(key, ttl=ttl) == (key in self.model)

    @rule()
    def iterate(self):
        assert same_keys(self.cache, map(normalized, self.model))
        assert sorted(map(repr, self.cache.items())) == sorted(
            repr((normalized(k), v)) for k, v in self.model.items()
        )

    @rule()
    def equals_the_model(self):
        assert self.cache == self.model

    @rule()
    def compact(self):
        self.cache.compact()

    @rule()
    def expire_removes_nothing(self):
        assert self.cache.expire() == 0

    @precondition(lambda self: len(self.model) > 10)
    @rule()
    def clear(self):
        self.cache.clear()
        self.model.clear()

    @invariant()
    def consistent(self):
        self.cache.check()
        assert len(self.cache) == len(self.model)
        stats = self.cache.stats()
        assert stats["evictions"] == 0
        assert stats["items"] == len(self.model)


CacheIsADict.TestCase.settings = settings(stateful_step_count=40)
TestCacheIsADict = CacheIsADict.TestCase


# ---- small budgets: missing only through eviction ----


class SmallCacheOnlyForgetsByEviction(RuleBasedStateMachine):
    """64 KiB of DRAM over 64 KiB of file memory, values up to 16 KiB (12 KiB and more start
    on the file tier): entries are demoted, promoted and evicted all the time. The model
    remembers, per key, the last value written and the eviction count after which the key may
    be gone."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="tiercache-stateful-", dir="/dev/shm")
        self.cache = TierCache(
            dram_mb=0.0625, pmem_dir=self.dir, pmem_mb=0.0625, large_value_bytes=12288
        )
        self.model: dict = {}  # key -> (value, evictions after it was written)

    def teardown(self) -> None:
        self.cache.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def evictions(self) -> int:
        return self.cache.stats()["evictions"]

    def observe(self, key, got, missing) -> None:
        """got is what the cache returned for key (missing if absent)."""
        if key not in self.model:
            assert got is missing, f"{key!r} was never written or was deleted"
            return
        value, written_at = self.model[key]
        if got is missing:
            assert self.evictions() > written_at, f"{key!r} vanished without an eviction"
            del self.model[key]
        else:
            assert got == value
            assert type(got) is type(value)

    def write(self, key, value, evictions: int | None = None) -> None:
        """Record a write; evictions: the count after which the key may go (default now)."""
        self.model[normalized(key)] = (value, self.evictions() if evictions is None else evictions)

    @rule(key=keys, value=values(8192), ttl=ttls)
    def set(self, key, value, ttl):
        self.cache.set(key, value, ttl=ttl)
        self.write(key, value)

    @rule(key=keys, value=sized_bytes(4000, min_size=1000))
    def set_medium(self, key, value):
        """Below large_value_bytes: starts in DRAM, worth demoting, may be promoted back."""
        self.cache[key] = value
        self.write(key, value)

    @rule(
        items=st.lists(st.tuples(keys, sized_bytes(16384, min_size=2000)), min_size=1, max_size=8)
    )
    def set_many_large(self, items):
        """Several kilobytes a step: the pressure that makes entries leave. A later item may
        evict an earlier one, so each may go after the count before the batch."""
        before = self.evictions()
        self.cache.set_many(items)
        for key, value in items:
            self.write(key, value, before)

    @rule(key=keys)
    def get(self, key):
        missing = object()
        self.observe(normalized(key), self.cache.get(key, missing), missing)

    @precondition(lambda self: self.model)
    @rule(data=st.data(), times=st.integers(1, 3))
    def read_a_written_key(self, data, times):
        """Repeated reads of keys the model holds: promotions happen here."""
        key = data.draw(st.sampled_from(sorted(self.model, key=repr)))
        missing = object()
        for _ in range(times):
            self.observe(key, self.cache.get(key, missing), missing)

    @rule(key=keys)
    def get_without_copy(self, key):
        missing = object()
        got = self.cache.get(key, missing, copy=False)
        if isinstance(got, memoryview):
            assert got.readonly
            got = got.tobytes()
        self.observe(normalized(key), got, missing)

    @rule(key=keys)
    def contains(self, key):
        key = normalized(key)
        missing = object()
        present = key in self.cache
        self.observe(key, self.cache.get(key, missing) if present else missing, missing)

    @rule(key=keys)
    def delete(self, key):
        removed = self.cache.delete(key)
        key = normalized(key)
        if removed:
            assert key in self.model
        elif key in self.model:
            assert self.evictions() > self.model[key][1]
        self.model.pop(key, None)

    @rule(key=keys, ttl=ttls)
    def touch(self, key, ttl):
        key = normalized(key)
        if self.cache.touch(key, ttl=ttl):
            assert key in self.model
        elif key in self.model:
            assert self.evictions() > self.model[key][1]
            del self.model[key]

    @rule()
    def iterate(self):
        """No key the model lacks; every key the model has and the cache lacks was evicted."""
        listed = {repr(k): k for k in self.cache}
        for key in listed.values():
            assert key in self.model, f"unexpected key {key!r}"
        missing = object()
        for key in list(self.model):
            if repr(key) not in listed:
                self.observe(key, missing, missing)

    @rule()
    def compact(self):
        self.cache.compact()

    @invariant()
    def consistent(self):
        self.cache.check()
        stats = self.cache.stats()
        assert stats["items"] == len(self.cache) <= len(self.model)
        for tier in stats["tiers"]:
            assert tier["used"] <= tier["budget"]


SmallCacheOnlyForgetsByEviction.TestCase.settings = settings(stateful_step_count=60)
TestSmallCacheOnlyForgetsByEviction = SmallCacheOnlyForgetsByEviction.TestCase


def three_tiers(directory: str) -> TierCache:
    """64 KiB of DRAM over two 64 KiB file tiers, the index on the middle one: entries move
    whole through every tier, each small FIFO passes unread entries to the next tier's."""
    return TierCache.from_tiers(
        [Tier.dram(0.0625), Tier.file(directory, 0.0625), Tier.file(directory, 0.0625)],
        large_value_bytes=12288,
        index_tier=1,
    )


class ThreeTiersOnlyForgetByEviction(SmallCacheOnlyForgetsByEviction):
    """The same model over three tiers with the index off DRAM."""

    def __init__(self) -> None:
        super().__init__()
        self.cache.close()
        self.cache = three_tiers(self.dir)


ThreeTiersOnlyForgetByEviction.TestCase.settings = settings(stateful_step_count=60)
TestThreeTiersOnlyForgetByEviction = ThreeTiersOnlyForgetByEviction.TestCase


def test_the_small_machine_really_evicts_demotes_and_promotes():
    """The small budgets are small enough for the second machine's rules to matter."""
    directory = tempfile.mkdtemp(prefix="tiercache-stateful-", dir="/dev/shm")
    try:
        with TierCache(
            dram_mb=0.0625, pmem_dir=directory, pmem_mb=0.0625, large_value_bytes=12288
        ) as cache:
            for i in range(200):
                cache[i] = bytes([i]) * 2000
                cache.get(i // 2)
                cache.get(i // 2)
            stats = cache.stats()
            assert stats["evictions"] > 0
            assert stats["demotions"] > 0
            assert stats["promotions"] > 0
            cache.check()
        with three_tiers(directory) as cache:
            for i in range(200):
                cache[i] = bytes([i]) * 2000
                cache.get(i // 2)
                cache.get(i // 2)
            stats = cache.stats()
            assert stats["index_tier"] == 1
            assert [t["demotions"] > 0 for t in stats["tiers"]] == [False, True, True]
            assert stats["promotions"] > 0 and stats["evictions"] > 0
            cache.check()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
