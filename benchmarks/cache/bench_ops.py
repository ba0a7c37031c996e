"""pytest-benchmark: TierCache vs cachetools.LRUCache, dict and diskcache, per operation.

Run with `make -C benchmarks/cache bench` (or `pytest benchmarks/cache`). Every benchmark
round runs one operation for each of the same 10,000 warmed 16-character keys, so a round's
time / 10,000 is the time of one operation (the loop, about 8 ns, included). Groups:

- "get 100 B" / "set 100 B": TierCache (DRAM only; DRAM + a /dev/shm capacity tier),
  cachetools.LRUCache, dict, diskcache.Cache on /dev/shm;
- "tiercache get, 100 B vs 64 KiB copy=False": the zero-copy read of a large value against
  the copying read of a small one, on the same keys.

run.py measures the same loops in one interleaved run and prints ratios against the targets.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import workloads as w

IMPLS = list(w.FACTORIES)
KEYS = w.make_keys(w.N_KEYS)
VALUE = b"v" * w.SMALL
LARGE_MB = w.N_KEYS * w.LARGE / (1 << 20) * 1.3 + 16  # inline 64 KiB entries take 80 KiB


def _per_op(benchmark) -> None:
    benchmark.extra_info["ops_per_round"] = w.N_KEYS


@pytest.fixture(scope="module", params=IMPLS)
def warmed(request) -> Iterator[w.Impl]:
    impl = w.build(request.param, KEYS, VALUE)
    yield impl
    impl.close()


def test_get_100b(benchmark, warmed: w.Impl) -> None:
    """get of a 100 B bytes value, every key present."""
    benchmark.group = "get 100 B"
    benchmark.name = f"get 100 B {warmed.name}"
    _per_op(benchmark)
    benchmark(w.get_loop(warmed.cache, KEYS))
    assert warmed.cache.get(KEYS[-1]) == VALUE


def test_set_100b(benchmark, warmed: w.Impl) -> None:
    """cache[key] = 100 B value, replacing the value every key already has."""
    benchmark.group = "set 100 B"
    benchmark.name = f"set 100 B {warmed.name}"
    _per_op(benchmark)
    benchmark(w.set_loop(warmed.cache, KEYS, VALUE))
    assert warmed.cache.get(KEYS[0]) == VALUE


@pytest.fixture(scope="module", params=["tiercache_dram", "tiercache_shm"])
def tier_config(request) -> str:
    return request.param


def _tiercache(config: str) -> w.Impl:
    if config == "tiercache_dram":
        return w.tiercache_dram(dram_mb=LARGE_MB)
    return w.tiercache_shm(dram_mb=64, pmem_mb=LARGE_MB)


@pytest.mark.parametrize("size", ["100 B", "64 KiB copy=False"])
def test_tiercache_get_large_nocopy(benchmark, tier_config: str, size: str) -> None:
    """get of a 100 B value vs get(copy=False) of a 64 KiB value (a pinned memoryview)."""
    impl = _tiercache(tier_config)
    try:
        if size == "100 B":
            w.fill(impl.cache, KEYS, VALUE)
            loop = w.get_loop(impl.cache, KEYS)
        else:
            w.fill(impl.cache, KEYS, b"L" * w.LARGE)
            view = impl.cache.get(KEYS[0], copy=False)
            assert isinstance(view, memoryview) and len(view) == w.LARGE
            del view
            loop = w.get_nocopy_loop(impl.cache, KEYS)
        benchmark.group = f"{impl.name}: get 100 B vs 64 KiB copy=False"
        benchmark.name = f"get {size} {impl.name}"
        _per_op(benchmark)
        benchmark(loop)
    finally:
        impl.close()
