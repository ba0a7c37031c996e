"""The benchmark's request sequence, generated once and replayed identically on every store.

A :class:`WorkloadSpec` holds memtier_benchmark's workload knobs; :func:`build` turns it into
one :class:`Sequence` per thread (seeded, so the same knobs always give the same requests):
which key, set or get, the value of a set and its time to live. Stores only ever see these
prebuilt lists, so generating keys and values costs nothing during the timed replay.

Key patterns (memtier's letters, one for sets and one for gets):
  R uniform random in [min, max]      S sequential from min, wrapping (every thread)
  G Gaussian around --key-median      Z Zipf with --key-zipf-exp, key min the hottest
  P sequential over this thread's own slice of [min, max]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tiercache.cli.spec import WorkloadError, WorkloadSpec

__all__ = ["Sequence", "Workload", "WorkloadError", "WorkloadSpec", "build"]

#: Bytes of distinct value objects kept for a run; past this, sizes are rounded (granularity).
VALUE_POOL_BYTES = 64 << 20
#: Requests generated per thread for --test-time runs, replayed in a cycle until time is up.
TEST_TIME_CYCLE = 200_000


@dataclass
class Sequence:
    """One thread's requests. ``values[i] is None`` marks a get; else a set of that value
    with ``ttls[i]`` seconds to live (None: no expiry). The prefix sums count the bytes sent:
    key + value of each set, key of each get (for the KB/sec columns)."""

    keys: list[str]
    values: list[bytes | None]
    ttls: list[int | None] | None  # None when no request has a ttl
    set_bytes_cumulative: np.ndarray = field(repr=False)  # length n + 1
    get_key_bytes_cumulative: np.ndarray = field(repr=False)  # length n + 1

    def __len__(self) -> int:
        return len(self.keys)

    @staticmethod
    def _upto(cumulative: np.ndarray, done: int) -> int:
        cycles, rest = divmod(done, len(cumulative) - 1)
        return cycles * int(cumulative[-1]) + int(cumulative[rest])

    def set_bytes(self, done: int) -> int:
        """Key + value bytes of the sets among the first `done` requests (cycling)."""
        return self._upto(self.set_bytes_cumulative, done)

    def get_key_bytes(self, done: int) -> int:
        """Key bytes of the gets among the first `done` requests (cycling)."""
        return self._upto(self.get_key_bytes_cumulative, done)


@dataclass
class Workload:
    """The prebuilt requests of a run: one sequence per thread and the prepopulate keys."""

    spec: WorkloadSpec
    threads: list[Sequence]
    prepopulate: Sequence
    size_granularity: int  # sizes were rounded to multiples of this (1: exact)

    @property
    def requests(self) -> int:
        return sum(len(s) for s in self.threads)


def _keys_for(
    rng: np.random.Generator, pattern: str, spec: WorkloadSpec, n: int, thread: int, start: int
) -> np.ndarray:
    """n key numbers of one pattern; `start` is this pattern's position in its walk."""
    lo, hi = spec.key_minimum, spec.key_maximum
    count = spec.key_count
    if pattern == "R":
        return rng.integers(lo, hi + 1, size=n, dtype=np.int64)
    if pattern == "S":
        return lo + (start + np.arange(n, dtype=np.int64)) % count
    if pattern == "P":
        per = count // spec.threads
        first = lo + thread * per
        width = per if thread < spec.threads - 1 else count - thread * per
        return first + (start + np.arange(n, dtype=np.int64)) % width
    if pattern == "G":
        median = spec.key_median if spec.key_median is not None else (lo + hi) / 2
        stddev = spec.key_stddev if spec.key_stddev is not None else max(count / 6, 1e-9)
        out = np.rint(rng.normal(median, stddev, size=n))
        bad = (out < lo) | (out > hi)
        while bad.any():  # redraw the ones outside the range, as memtier does
            out[bad] = np.rint(rng.normal(median, stddev, size=int(bad.sum())))
            bad = (out < lo) | (out > hi)
        return out.astype(np.int64)
    # Z: P(rank r) ~ 1 / r**exp over the range, rank 1 = key minimum
    weights = 1.0 / np.arange(1, count + 1, dtype=np.float64) ** spec.key_zipf_exp
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    ranks = np.searchsorted(cdf, rng.random(n), side="right")
    return lo + np.minimum(ranks, count - 1).astype(np.int64)


def _sizes(rng: np.random.Generator, spec: WorkloadSpec, n: int, start: int) -> np.ndarray:
    if spec.data_size_list is not None:
        sizes = np.array([s for s, _ in spec.data_size_list], dtype=np.int64)
        weights = np.array([w for _, w in spec.data_size_list], dtype=np.float64)
        if spec.data_size_pattern == "S":  # each size `weight` times in turn
            cycle = np.repeat(sizes, weights.astype(np.int64))
            return cycle[(start + np.arange(n)) % len(cycle)]
        return rng.choice(sizes, size=n, p=weights / weights.sum())
    if spec.data_size_range is not None:
        lo, hi = spec.data_size_range
        if spec.data_size_pattern == "S":
            return lo + (start + np.arange(n, dtype=np.int64)) % (hi - lo + 1)
        return rng.integers(lo, hi + 1, size=n, dtype=np.int64)
    return np.full(n, spec.data_size, dtype=np.int64)


class _ValuePool:
    """One bytes object per distinct (rounded) size, shared by every request of that size."""

    def __init__(self, rng: np.random.Generator, granularity: int, max_size: int) -> None:
        self.granularity = granularity
        self._noise = rng.integers(0, 256, size=max_size, dtype=np.uint8).tobytes()
        self._by_size: dict[int, bytes] = {}

    def rounded(self, sizes: np.ndarray) -> np.ndarray:
        g = self.granularity
        return sizes if g == 1 else np.maximum(g, sizes // g * g)

    def get(self, size: int) -> bytes:
        value = self._by_size.get(size)
        if value is None:
            value = self._by_size[size] = self._noise[:size]
        return value


def _granularity(spec: WorkloadSpec) -> int:
    """Smallest power of two rounding the distinct sizes into VALUE_POOL_BYTES."""
    if spec.data_size_range is None:
        return 1
    lo, hi = spec.data_size_range
    g = 1
    while ((hi - lo) // g + 1) * (lo + hi) / 2 > VALUE_POOL_BYTES:
        g *= 2
    return g


class _KeyNames:
    """Key strings, one object per key number (hashed once before any store runs)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.by_number: dict[int, str] = {}

    def names(self, numbers: np.ndarray) -> list[str]:
        uniq, inverse = np.unique(numbers, return_inverse=True)
        by_number, prefix = self.by_number, self.prefix
        strs = []
        for u in uniq.tolist():
            s = by_number.get(u)
            if s is None:
                s = by_number[u] = prefix + str(u)
                hash(s)  # cache the hash now, not during the first store's timed run
            strs.append(s)
        return [strs[i] for i in inverse.reshape(-1).tolist()]


def _sequence(
    numbers: np.ndarray,
    sizes: np.ndarray,
    is_set: np.ndarray,
    ttls: np.ndarray | None,
    names: _KeyNames,
    pool: _ValuePool,
) -> Sequence:
    keys = names.names(numbers)
    sizes = pool.rounded(sizes)
    values = [pool.get(sz) if st else None for sz, st in zip(sizes.tolist(), is_set.tolist())]
    key_len = np.fromiter((len(k) for k in keys), dtype=np.int64, count=len(keys))
    set_bytes = np.concatenate(([0], np.cumsum(np.where(is_set, key_len + sizes, 0))))
    get_bytes = np.concatenate(([0], np.cumsum(np.where(is_set, 0, key_len))))
    ttl_list = None
    if ttls is not None:
        ttl_list = [t if (st and t > 0) else None for t, st in zip(ttls.tolist(), is_set.tolist())]
    return Sequence(keys, values, ttl_list, set_bytes, get_bytes)


def _ttls(rng: np.random.Generator, spec: WorkloadSpec, n: int) -> np.ndarray | None:
    lo, hi = spec.expiry_range
    if hi == 0:
        return None
    return rng.integers(lo, hi + 1, size=n, dtype=np.int64)


def sequence_length(spec: WorkloadSpec) -> int:
    """Requests generated per thread: --requests, or a cycle replayed until --test-time."""
    if spec.requests is not None:
        return spec.requests
    return TEST_TIME_CYCLE


def build(spec: WorkloadSpec) -> Workload:
    """Every request of the run, per thread, plus the prepopulate sets (every key once)."""
    spec.validate()
    n = sequence_length(spec)
    granularity = _granularity(spec)
    root = np.random.default_rng(spec.seed)
    pool = _ValuePool(root, granularity, spec.max_data_size)
    names = _KeyNames(spec.key_prefix)
    sets, gets = spec.ratio
    cycle = np.concatenate((np.ones(sets, dtype=bool), np.zeros(gets, dtype=bool)))
    threads = []
    for t in range(spec.threads):
        rng = np.random.default_rng([spec.seed, t + 1])
        is_set = cycle[np.arange(n) % len(cycle)]
        numbers = np.empty(n, dtype=np.int64)
        n_sets = int(is_set.sum())
        numbers[is_set] = _keys_for(rng, spec.key_pattern[0], spec, n_sets, t, 0)
        numbers[~is_set] = _keys_for(rng, spec.key_pattern[1], spec, n - n_sets, t, 0)
        sizes = _sizes(rng, spec, n, 0)
        threads.append(_sequence(numbers, sizes, is_set, _ttls(rng, spec, n), names, pool))
    rng = np.random.default_rng([spec.seed, 0])
    count = spec.key_count
    all_keys = np.arange(spec.key_minimum, spec.key_maximum + 1, dtype=np.int64)
    prepopulate = _sequence(
        all_keys,
        _sizes(rng, spec, count, 0),
        np.ones(count, dtype=bool),
        _ttls(rng, spec, count),
        names,
        pool,
    )
    return Workload(spec, threads, prepopulate, granularity)
