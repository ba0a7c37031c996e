"""Threads sharing one TierCache: under a mix of every operation, with a small DRAM budget
and a file tier (so that eviction, demotion, promotion and compaction all run), every value
read is one some thread wrote for that key, zero-copy views never change, and check()
passes afterwards. Closing the cache under running threads is safe."""

from __future__ import annotations

import itertools
import random
import threading
import time

import pytest

from tiercache import CacheClosedError, TierCache

THREADS = 6
SECONDS = 1.5
KEYS = [*range(300), *(f"key-{i}" for i in range(200)), *((i, f"t{i}") for i in range(100))]
SIZES = [8, 100, 1000, 6000, 20_000, 300_000]  # 20 kB and up: the file tier; 300 kB: no GIL


def make_value(key: object, writer: int, serial: int, size: int) -> bytes:
    """size bytes naming key, writer and serial, then filler derived from the key."""
    head = b"%s|%d|%d|" % (repr(key).encode(), writer, serial)
    fill = (repr(key).encode() + b"#") * (size // (len(repr(key)) + 1) + 1)
    return (head + fill)[: max(size, len(head))]


def verify(key: object, value: object) -> None:
    """value (bytes, a view, or a str copy of the same) was written for key by some thread."""
    data = value.encode() if isinstance(value, str) else bytes(value)
    k, writer, serial, fill = data.split(b"|", 3)
    assert k == repr(key).encode(), (key, data[:60])
    assert 0 <= int(writer) < THREADS and int(serial) >= 0
    unit = repr(key).encode() + b"#"
    assert (unit * (len(fill) // len(unit) + 1)).startswith(fill), (key, len(data))


def hammer(cache: TierCache, writer: int, stop: threading.Event, errors: list, counts: list):
    rng = random.Random(writer)
    views: list[tuple[object, memoryview, bytes]] = []
    serial = 0
    try:
        while not stop.is_set():
            key = rng.choice(KEYS)
            op = rng.random()
            if op < 0.40:
                serial += 1
                value = make_value(key, writer, serial, rng.choice(SIZES))
                if rng.random() < 0.2:
                    cache.set(key, value.decode(), ttl=rng.choice([None, 0.01, 5.0]))
                else:
                    cache[key] = value
            elif op < 0.65:
                value = cache.get(key)
                if value is not None:
                    verify(key, value)
            elif op < 0.72:
                view = cache.get(key, copy=False)
                if isinstance(view, memoryview):
                    verify(key, view)
                    views.append((key, view, view.tobytes()))
                    if len(views) > 2:  # pinned values count against the budgets
                        k, old, snapshot = views.pop(0)
                        assert old == snapshot, k
                        verify(k, old)
                elif view is not None:
                    verify(key, view)
            elif op < 0.80:
                cache.pop(key, None)
            elif op < 0.85:
                cache.delete(key)
            elif op < 0.90:
                cache.touch(key, ttl=rng.choice([None, 0.02, 10.0]))
            elif op < 0.95:
                found = cache.get_many(rng.sample(KEYS, 5))
                for k, v in found.items():
                    verify(k, v)
            elif op < 0.97:
                assert (key in cache) in (True, False)
                assert len(cache) >= 0
            elif op < 0.99:
                for k, v in itertools.islice(cache.items(), 20):
                    verify(k, v)
            elif op < 0.995:
                cache.compact()
            else:
                cache.expire()
            counts[writer] += 1
        for key, view, snapshot in views:
            assert view == snapshot, key
    except BaseException as exc:  # reported by the main thread
        errors.append((writer, exc))


def run_threads(cache: TierCache, seconds: float, during=None, until=None) -> list:
    """Hammer the cache from THREADS threads for `seconds`, and then, when `until` is given,
    on until until() holds (at most 20 times as long: sanitizer builds run slowly)."""
    stop = threading.Event()
    errors: list = []
    counts = [0] * THREADS
    threads = [
        threading.Thread(target=hammer, args=(cache, i, stop, errors, counts))
        for i in range(THREADS)
    ]
    for t in threads:
        t.start()
    if during is not None:
        during()
    time.sleep(seconds)
    deadline = time.monotonic() + 19 * seconds
    while until is not None and not until() and time.monotonic() < deadline:
        time.sleep(seconds / 10)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a thread is stuck"
    return errors, counts


def test_threads_hammering_a_shared_cache_read_only_values_written_for_the_key(shm_dir):
    cache = TierCache(dram_mb=0.25, pmem_dir=shm_dir, pmem_mb=16, large_value_bytes=16 * 1024)
    try:

        def moved_both_ways() -> bool:
            st = cache.stats()
            return st["evictions"] > 0 and st["demotions"] > 0 and st["promotions"] > 0

        errors, counts = run_threads(cache, SECONDS, until=moved_both_ways)
        assert not errors, errors[:3]
        assert min(counts) > 100, counts
        cache.check()
        stats = cache.stats()
        assert stats["evictions"] > 0
        assert stats["demotions"] > 0
        assert stats["promotions"] > 0
        assert stats["pinned"] == 0
        for i, tier in enumerate(stats["tiers"]):
            assert tier["used"] <= tier["budget"], (i, tier)
        time.sleep(0.05)  # the short ttls (0.01, 0.02 s) run out; the others are seconds
        cache.expire()
        assert cache.stats()["items"] == len(cache) == len(list(cache))
        for key in cache:
            value = cache.get(key)
            if value is not None:  # may have expired since listing
                verify(key, value)
        cache.check()
        counters = ("hits", "misses", "evictions", "demotions", "promotions")
        print(f"operations per thread: {counts}; " + ", ".join(f"{k} {stats[k]}" for k in counters))
    finally:
        cache.close()


def test_threads_with_background_compaction_keep_the_cache_consistent(shm_dir):
    cache = TierCache(
        dram_mb=1, pmem_dir=shm_dir, pmem_mb=8, large_value_bytes=16 * 1024, compact_interval=0.01
    )
    try:
        errors, _ = run_threads(cache, SECONDS / 2)
        assert not errors, errors[:3]
        cache.check()
    finally:
        cache.close()


def test_closing_under_running_threads_only_raises_cache_closed_error(shm_dir):
    """Threads still calling a cache that another thread closes get CacheClosedError, and
    views they hold stay readable."""
    cache = TierCache(dram_mb=0.5, pmem_dir=shm_dir, pmem_mb=4, large_value_bytes=16 * 1024)
    views = []
    for key in KEYS[:20]:
        cache[key] = make_value(key, 0, 0, 30_000)
        views.append(cache.get(key, copy=False))
    cache.check()
    deadline = time.monotonic() + 30
    outcomes: list = []

    def worker(writer: int) -> None:
        """Runs until the cache is closed under it."""
        rng = random.Random(writer)
        try:
            while time.monotonic() < deadline:
                key = rng.choice(KEYS)
                try:
                    if rng.random() < 0.5:
                        cache[key] = make_value(key, writer, 1, rng.choice(SIZES))
                    else:
                        value = cache.get(key, copy=rng.random() < 0.5)
                        if value is not None:
                            verify(key, value)
                except CacheClosedError:
                    outcomes.append("closed")
                    return
            outcomes.append("never saw the close")
        except BaseException as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    cache.close()
    for t in threads:
        t.join(timeout=60)
    assert outcomes == ["closed"] * THREADS, outcomes
    for key, view in zip(KEYS[:20], views):
        assert view == make_value(key, 0, 0, 30_000)
    with pytest.raises(CacheClosedError):
        cache.check()


def test_concurrent_writers_of_one_key_leave_one_whole_value(shm_dir):
    with TierCache(dram_mb=1, pmem_dir=shm_dir, pmem_mb=16) as cache:
        written: list[set] = [set() for _ in range(THREADS)]

        def writer(w: int) -> None:
            for serial in range(300):
                value = make_value("shared", w, serial, 300_000 if serial % 3 == 0 else 500)
                cache["shared"] = value
                written[w].add(value)

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        final = cache["shared"]
        assert any(final in values for values in written)
        assert len(cache) == 1
        cache.check()


@pytest.mark.parametrize("size", [100, 50_000], ids=["inline", "own-block"])
def test_pop_is_atomic_each_value_is_popped_once(size):
    """Threads popping the same keys: every stored value comes out of exactly one pop."""
    with TierCache(dram_mb=16) as cache:
        got: list[list[bytes]] = [[] for _ in range(4)]
        rounds = 200

        def popper(i: int, start: threading.Barrier) -> None:
            start.wait()
            for r in range(rounds):
                v = cache.pop(("k", r), None)
                if v is not None:
                    got[i].append(v)

        for r in range(rounds):
            cache[("k", r)] = b"%d|" % r + b"v" * size
        start = threading.Barrier(4)
        threads = [threading.Thread(target=popper, args=(i, start)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        popped = sorted(int(v.split(b"|")[0]) for vs in got for v in vs)
        assert popped == list(range(rounds))
        assert len(cache) == 0
        assert cache.stats()["pinned"] == 0
        cache.check()


def test_setdefault_is_atomic_all_threads_see_one_value():
    """Threads calling setdefault on the same fresh keys with different defaults all get the
    one value that was stored."""
    with TierCache(dram_mb=16) as cache:
        seen: list[dict] = [{} for _ in range(4)]

        def worker(i: int, start: threading.Barrier) -> None:
            start.wait()
            for r in range(300):
                seen[i][r] = cache.setdefault(r, f"from {i}")

        start = threading.Barrier(4)
        threads = [threading.Thread(target=worker, args=(i, start)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for r in range(300):
            assert {s[r] for s in seen} == {cache[r]}
        cache.check()
