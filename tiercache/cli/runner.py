"""Replaying a workload on a store: timing every request, counting hits, sampling tiers.

Each thread replays its own prebuilt sequence (tiercache.cli.workload) in chunks; between
chunks it publishes its progress and checks the --test-time deadline (then it cycles the
sequence). Every request is timed alone with perf_counter_ns into an array, and the arrays
go into HdrHistograms after the run, so that recording costs the timed loop ~20 ns. A thread
draws the progress bar on runs longer than PROGRESS_AFTER seconds when stderr is a terminal. A
TierSampler thread samples TierCache.stats() (tier occupancy, promotions, demotions).
"""

from __future__ import annotations

import sys
import threading
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from time import perf_counter_ns
from typing import Any, Callable, cast

from hdrh.histogram import HdrHistogram

from tiercache.cli.peers import Store
from tiercache.cli.workload import Sequence

CHUNK = 2048
PROGRESS_AFTER = 3.0  # seconds
SAMPLE_EVERY = 0.05  # seconds between two TierCache.stats() samples
HIST_MAX_NS = 60 * 10**9


def new_histogram() -> HdrHistogram:
    """Latencies in ns, 1 ns to 60 s, 3 significant digits."""
    return HdrHistogram(1, HIST_MAX_NS, 3)


@dataclass
class OpStats:
    """One request type (sets or gets) of one run."""

    # Counts, or (aggregate()) their mean over runs.
    count: float = 0
    hits: float = 0
    misses: float = 0
    bytes: float = 0  # key + value bytes moved (sets: sent; gets: key sent, value returned)
    total_ns: int = 0  # sum of the latencies, for the exact mean
    hist: HdrHistogram = field(default_factory=new_histogram)

    def record(self, latencies: array) -> None:
        hist = self.hist
        for value, n in Counter(latencies).items():
            hist.record_value(min(max(value, 1), HIST_MAX_NS), n)
        self.total_ns += sum(latencies)

    @property
    def mean_ns(self) -> float:
        n = self.hist.get_total_count()
        return self.total_ns / n if n else 0.0

    def merge(self, other: OpStats) -> None:
        self.count += other.count
        self.hits += other.hits
        self.misses += other.misses
        self.bytes += other.bytes
        self.total_ns += other.total_ns
        self.hist.add(other.hist)


@dataclass
class RunResult:
    """What one replay of the workload on one store measured."""

    store: str
    sets: OpStats
    gets: OpStats
    start: float  # time.time() at the start
    duration: float  # seconds, first thread start to last thread end
    tier_samples: list[dict[str, Any]] = field(default_factory=list)
    tier_marks: dict[str, float] = field(default_factory=dict)  # phase -> seconds
    tier_stats: dict[str, Any] | None = None  # TierCache.stats() at the end

    @property
    def ops(self) -> float:
        return self.sets.count + self.gets.count

    @property
    def ops_per_sec(self) -> float:
        return self.ops / self.duration if self.duration > 0 else 0.0

    @property
    def hit_ratio(self) -> float:
        lookups = self.gets.hits + self.gets.misses
        return self.gets.hits / lookups if lookups else 0.0


@dataclass
class _ThreadOut:
    set_lat: array = field(default_factory=lambda: array("q"))
    get_lat: array = field(default_factory=lambda: array("q"))
    done: int = 0
    hits: int = 0
    misses: int = 0
    get_bytes: int = 0
    start_ns: int = 0
    end_ns: int = 0
    error: BaseException | None = None


def _replay(
    seq: Sequence,
    get: Callable[[str], Any],
    put: Callable[..., Any],
    put_ttl: Callable[..., Any],
    out: _ThreadOut,
    progress: list[int],
    slot: int,
    deadline_ns: int | None,
    total: int,
) -> None:
    """Replay seq (total requests, cycling when a deadline is set) into out."""
    keys, values, ttls = seq.keys, seq.values, seq.ttls
    n = len(keys)
    sl, gl = out.set_lat.append, out.get_lat.append
    pc = perf_counter_ns
    hits = misses = get_bytes = 0
    done = 0
    out.start_ns = pc()
    while done < total:
        lo = done % n
        hi = min(n, lo + CHUNK, lo + (total - done))
        # Two copies of the loop, on purpose: the timed path stays free of a per-request
        # test for TTLs, which would add to every latency recorded.
        if ttls is None:
            for i in range(lo, hi):
                k = keys[i]
                v = values[i]
                if v is None:
                    t0 = pc()
                    r = get(k)
                    t1 = pc()
                    gl(t1 - t0)
                    if r is None:
                        misses += 1
                    else:
                        hits += 1
                        get_bytes += len(r)
                else:
                    t0 = pc()
                    put(k, v)
                    t1 = pc()
                    sl(t1 - t0)
        else:
            for i in range(lo, hi):
                k = keys[i]
                v = values[i]
                if v is None:
                    t0 = pc()
                    r = get(k)
                    t1 = pc()
                    gl(t1 - t0)
                    if r is None:
                        misses += 1
                    else:
                        hits += 1
                        get_bytes += len(r)
                else:
                    t = ttls[i]
                    t0 = pc()
                    put_ttl(k, v, t)
                    t1 = pc()
                    sl(t1 - t0)
        done += hi - lo
        progress[slot] = done
        if deadline_ns is not None and pc() >= deadline_ns:
            break
    out.end_ns = pc()
    out.done, out.hits, out.misses, out.get_bytes = done, hits, misses, get_bytes


class TierSampler:
    """Samples TierCache.stats() every SAMPLE_EVERY seconds on a thread until stop();
    mark(name) notes when a phase (prepopulate, run) begins."""

    def __init__(self, cache: Any, progress: list[int] | None = None) -> None:
        self.cache = cache
        self.progress = progress
        self.samples: list[dict[str, Any]] = []
        self.marks: dict[str, float] = {}
        self._stop = threading.Event()
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name="tiercache-bench-sampler")
        self._thread.daemon = True
        self._thread.start()

    def mark(self, name: str) -> None:
        self.marks[name] = time.perf_counter() - self._t0

    def _sample(self) -> None:
        s = self.cache.stats()
        self.samples.append(
            {
                "t": time.perf_counter() - self._t0,
                "promotions": s["promotions"],
                "demotions": s["demotions"],
                "evictions": s["evictions"],
                "tiers": [{"name": t["name"], "used": t["used"], "items": t["items"],
                           "budget": t["budget"]} for t in s["tiers"]],
            }
        )  # fmt: skip

    def _run(self) -> None:
        self._sample()
        while not self._stop.wait(SAMPLE_EVERY):
            self._sample()

    def stop(self) -> list[dict[str, Any]]:
        self._stop.set()
        self._thread.join()
        self._sample()
        return self.samples


class _Progress:
    """The progress bar on stderr (a terminal only), from PROGRESS_AFTER seconds on."""

    def __init__(self, label: str, done: list[int], total: int, test_time: float | None) -> None:
        self.label = label
        self.done = done
        self.total = total
        self.test_time = test_time
        self._stop = threading.Event()
        self._drawn = False
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name="tiercache-bench-progress")
        self._thread.daemon = True
        self._thread.start()

    def _draw(self, final: bool = False) -> None:
        elapsed = time.perf_counter() - self._t0
        done = sum(self.done)
        if self.test_time:
            pct = min(100.0, 100.0 * elapsed / self.test_time)
        else:
            pct = 100.0 * done / self.total if self.total else 100.0
        rate = done / elapsed if elapsed > 0 else 0.0
        width = 30
        bar = "#" * int(pct / 100 * width)
        sys.stderr.write(
            f"\r[{self.label} {pct:3.0f}%, {elapsed:4.0f} secs] [{bar:<{width}}] "
            f"{done:>11,} ops, {rate:>10,.0f} ops/sec"
        )
        if final:
            sys.stderr.write("\n")
        sys.stderr.flush()
        self._drawn = True

    def _run(self) -> None:
        if self._stop.wait(PROGRESS_AFTER):
            return
        self._draw()
        while not self._stop.wait(0.5):
            self._draw()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        if self._drawn:
            self._draw(final=True)


def run(
    store: Store,
    sequences: list[Sequence],
    *,
    test_time: float | None = None,
    label: str = "RUN",
    progress: bool = True,
) -> RunResult:
    """Replay one sequence per thread on store, all threads at once; measure it."""
    nthreads = len(sequences)
    done = [0] * nthreads
    outs = [_ThreadOut() for _ in sequences]
    bound = [store.bind() for _ in sequences]
    total_of = [len(s) if test_time is None else 1 << 62 for s in sequences]
    barrier = threading.Barrier(nthreads)
    deadline: list[int | None] = [None]

    def body(t: int) -> None:
        try:
            barrier.wait()
            get, put, put_ttl = bound[t]
            _replay(sequences[t], get, put, put_ttl, outs[t], done, t, deadline[0],
                    total_of[t])  # fmt: skip
        except BaseException as exc:
            outs[t].error = exc
            barrier.abort()

    bar = None
    if progress and sys.stderr.isatty():
        bar = _Progress(label, done, sum(len(s) for s in sequences), test_time)
    wall_start = time.time()
    if test_time is not None:
        deadline[0] = perf_counter_ns() + int(test_time * 1e9)
    if nthreads == 1:
        body(0)
    else:
        workers = [threading.Thread(target=body, args=(t,)) for t in range(nthreads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    if bar is not None:
        bar.stop()
    for out in outs:
        if out.error is not None and not isinstance(out.error, threading.BrokenBarrierError):
            raise out.error
    sets, gets = OpStats(), OpStats()
    for seq, out in zip(sequences, outs):
        sets.record(out.set_lat)
        gets.record(out.get_lat)
        sets.count += len(out.set_lat)
        gets.count += len(out.get_lat)
        gets.hits += out.hits
        gets.misses += out.misses
        sets.bytes += seq.set_bytes(out.done)
        gets.bytes += out.get_bytes + seq.get_key_bytes(out.done)
    start_ns = min(o.start_ns for o in outs)
    end_ns = max(o.end_ns for o in outs)
    result = RunResult(store.name, sets, gets, wall_start, (end_ns - start_ns) / 1e9)
    if store.cache is not None:
        result.tier_stats = store.cache.stats()
    return result


def prepopulate(store: Store, seq: Sequence) -> float:
    """Set every key once (untimed; in bulk where the store has a bulk path); returns the
    seconds it took."""
    t0 = time.perf_counter()
    if store.bulk_put is not None:
        store.bulk_put(seq.keys, seq.values, seq.ttls)
        return time.perf_counter() - t0
    _get, put, put_ttl = store.bind()
    if seq.ttls is None:
        for k, v in zip(seq.keys, seq.values):
            put(k, cast(bytes, v))  # prepopulation sequences are all sets
    else:
        for k, v, t in zip(seq.keys, seq.values, seq.ttls):
            put_ttl(k, cast(bytes, v), t)
    return time.perf_counter() - t0


def harness_overhead_ns(sequences: list[Sequence], limit: int = 100_000) -> float:
    """ns per request the replay loop costs by itself (a store whose calls do nothing),
    over the first `limit` requests of the first thread."""
    noop = Store("noop", "", lambda: (_none, _none, _none))
    seq = sequences[0]
    if len(seq) > limit:
        seq = Sequence(
            seq.keys[:limit],
            seq.values[:limit],
            None if seq.ttls is None else seq.ttls[:limit],
            seq.set_bytes_cumulative[: limit + 1],
            seq.get_key_bytes_cumulative[: limit + 1],
        )
    r = run(noop, [seq], progress=False)
    return r.duration * 1e9 / r.ops if r.ops else 0.0


def _none(*_args: Any) -> None:
    return None
