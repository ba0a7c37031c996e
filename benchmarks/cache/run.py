#!/usr/bin/env python3
"""TierCache against cachetools, dict and diskcache: the "Measured" targets of issue 4.

Usage: run.py [--quick] [--repeats N] [--json PATH] [--seed S] [section ...]

Sections (all by default, in this order):
  ops       get and set of a 100 B bytes value, 10k warmed keys: TierCache DRAM-only and with a
            /dev/shm capacity tier, cachetools.LRUCache, dict, diskcache.Cache on /dev/shm
  zerocopy  TierCache get(copy=False) of a 64 KiB value vs get of a 100 B value (same keys)
  hotset    a data set 8x dram_mb held with a /dev/shm capacity tier: gets of a Zipf hot set
            vs a DRAM-only cache of the same dram_mb holding the same hot set
  meta      metadata bytes per item with 1,000,000 items (16 B keys, 100 B values; then 10 B to
            2000 B values), and
            cachetools' and dict's per-item cost measured with tracemalloc
  compact   resident bytes of the file tier after deleting 90% of its entries, before and
            after compact()

Times are timeit-style: each loop runs the operation once per key, `number` times per sample
(chosen so a sample takes --min-time), with the garbage collector off; the implementations of
a section are sampled in interleaved rounds (rotating the order), so that a noisy neighbour
slows all of them alike. A figure is the median of the samples in ns per operation, minus the
median of an empty loop over the same keys (shown as "loop overhead"). Ratios compare
figures from the same run. A benchmark, not a test: the exit status is 0 whatever the
results (1 only if a section crashed).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import shutil
import statistics
import sys
import time
import traceback
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import atomic_ops  # noqa: E402
import cachetools  # noqa: E402
import diskcache  # noqa: E402
import workloads as w  # noqa: E402

import tiercache  # noqa: E402
from tiercache import TierCache  # noqa: E402

MiB = 1 << 20
SECTIONS = ("ops", "zerocopy", "hotset", "meta", "compact", "atomic")

# The targets (issue 4, "Measured" and "Where the index lives").
GET_VS_CACHETOOLS = 1.0
SET_VS_CACHETOOLS = 1.5
DISKCACHE_SPEEDUP = 10.0
NOCOPY_64K_VS_100B = 2.0
HOTSET_VS_DRAM = 1.2
META_BYTES_PER_ITEM = 48.0


# ---------------------------------------------------------------- timing


def _time(fn: Callable[[], None], number: int) -> float:
    """Seconds for number calls of fn, with the collector off (as timeit does)."""
    gc_was = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        return time.perf_counter() - t0
    finally:
        if gc_was:
            gc.enable()


def _autorange(fn: Callable[[], None], min_time: float, max_number: int = 1000) -> int:
    """Smallest number of calls (1, 2, 5, 10, ...) whose total time reaches min_time."""
    number = 1
    while True:
        for mult in (1, 2, 5):
            n = number * mult
            if n >= max_number or _time(fn, n) >= min_time:
                return n
        number *= 10


@dataclass
class Loop:
    """A timed loop: fn performs ops operations."""

    fn: Callable[[], None]
    ops: int
    repeats: int | None = None  # fewer samples for very slow peers (diskcache)


def sample(loops: dict[str, Loop], repeats: int, min_time: float) -> dict[str, list[float]]:
    """ns per operation of every loop, `repeats` samples each, in interleaved rounds."""
    numbers = {name: _autorange(lp.fn, min_time) for name, lp in loops.items()}
    out: dict[str, list[float]] = {name: [] for name in loops}
    names = list(loops)
    for r in range(repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            lp = loops[name]
            if lp.repeats is not None and len(out[name]) >= lp.repeats:
                continue
            t = _time(lp.fn, numbers[name])
            out[name].append(t / numbers[name] / lp.ops * 1e9)
    return out


def med(xs: list[float]) -> float:
    return statistics.median(xs)


# ---------------------------------------------------------------- results


@dataclass
class Row:
    section: str
    metric: str
    value: float
    unit: str
    ref: str | None = None  # what the ratio compares against
    ref_value: float | None = None
    ratio: float | None = None
    target: str | None = None  # e.g. "<= 1.0x"
    result: str | None = None  # PASS / FAIL / None (information)


class Report:
    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.samples: dict[str, dict[str, list[float]]] = {}
        self.details: dict[str, Any] = {}
        self.errors: dict[str, str] = {}
        self.notes: list[str] = []

    def info(self, section: str, metric: str, value: float, unit: str, **kw: Any) -> None:
        self.rows.append(Row(section, metric, value, unit, **kw))

    def compare(
        self,
        section: str,
        metric: str,
        value: float,
        unit: str,
        ref: str,
        ref_value: float,
        op: str | None = None,
        threshold: float | None = None,
        inverse: bool = False,
    ) -> None:
        """A row whose ratio is value/ref_value (ref_value/value when inverse: "N x faster"),
        checked against `ratio op threshold` when a target is given."""
        ratio = (ref_value / value if inverse else value / ref_value) if value and ref_value else 0
        result = None
        target = None
        if op is not None:
            target = f"{op} {threshold:.1f}x"
            ok = {"<=": ratio <= threshold, ">=": ratio >= threshold, "<": ratio < threshold}[op]
            result = "PASS" if ok else "FAIL"
        self.rows.append(Row(section, metric, value, unit, ref, ref_value, ratio, target, result))

    def target(self, section: str, metric: str, value: float, unit: str, op: str, thr: float):
        ok = {"<=": value <= thr, ">=": value >= thr}[op]
        self.rows.append(
            Row(
                section,
                metric,
                value,
                unit,
                target=f"{op} {thr:g}",
                result="PASS" if ok else "FAIL",
            )
        )


def _fmt(v: float | None, unit: str = "") -> str:
    if v is None:
        return ""
    if unit == "ns":
        s = f"{v:,.0f}" if abs(v) >= 100 else f"{v:.1f}"
    elif unit in ("MiB", "B/item", "%"):
        s = f"{v:,.1f}"
    elif float(v).is_integer():
        s = f"{int(v):,}"
    else:
        s = f"{v:,.3g}"
    return f"{s} {unit}".rstrip()


def print_table(rep: Report) -> None:
    headers = ("metric", "value", "compared with", "ratio", "target", "result")
    lines = []
    for r in rep.rows:
        ref = f"{r.ref} {_fmt(r.ref_value, r.unit)}".strip() if r.ref else ""
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else ""
        lines.append(
            (r.section, r.metric, _fmt(r.value, r.unit), ref, ratio, r.target or "", r.result or "")
        )
    widths = [max(len(h), *(len(ln[i + 1]) for ln in lines)) for i, h in enumerate(headers)]
    sep = "  "
    head = sep.join(h.ljust(wd) for h, wd in zip(headers, widths))
    print(head)
    print("-" * len(head))
    section = None
    for ln in lines:
        if ln[0] != section:
            section = ln[0]
            print(f"[{section}]")
        cells = list(ln[1:])
        cells[1] = cells[1].rjust(widths[1])
        cells[3] = cells[3].rjust(widths[3])
        print(sep.join(c.ljust(wd) for c, wd in zip(cells, widths)).rstrip())
    failed = [r for r in rep.rows if r.result == "FAIL"]
    passed = [r for r in rep.rows if r.result == "PASS"]
    print(f"\n{len(passed)} targets met, {len(failed)} missed", end="")
    print(": " + "; ".join(f"{r.section}/{r.metric}" for r in failed) if failed else "")
    for note in rep.notes:
        print(f"note: {note}")
    for name, err in rep.errors.items():
        print(f"section {name} crashed:\n{err}")


# ---------------------------------------------------------------- sections


def section_ops(rep: Report, a: argparse.Namespace) -> None:
    """get/set of 100 B values, all five implementations, same keys, same rounds."""
    keys = w.make_keys(w.N_KEYS)
    value = b"v" * w.SMALL
    slow_keys = keys[: a.diskcache_keys]
    impls: dict[str, w.Impl] = {}
    try:
        for name in w.FACTORIES:
            impls[name] = w.build(name, keys, value)
        for op in ("get", "set"):
            loops = {"loop": Loop(w.empty_loop(keys), len(keys))}
            for name, impl in impls.items():
                ks = slow_keys if name == "diskcache" else keys
                if op == "get":
                    fn = w.get_loop(impl.cache, ks)
                else:
                    fn = w.set_loop(impl.cache, ks, value)
                slow = name == "diskcache"
                loops[name] = Loop(fn, len(ks), min(a.repeats, 5) if slow else None)
            s = sample(loops, a.repeats, a.min_time)
            rep.samples[f"ops_{op}"] = s
            _ops_rows(rep, op, s, impls)
        st = impls["tiercache_dram"].cache.stats()
        rep.details["ops_tiercache_dram_stats"] = _small_stats(st)
        rep.details["ops_tiercache_shm_stats"] = _small_stats(impls["tiercache_shm"].cache.stats())
    finally:
        for impl in impls.values():
            impl.close()


def _ops_rows(rep: Report, op: str, s: dict[str, list[float]], impls: dict[str, w.Impl]) -> None:
    loop = med(s["loop"])
    net = {name: med(xs) - loop for name, xs in s.items() if name != "loop"}
    what = f"{op} 100 B"
    rep.info("ops", f"{what}: loop overhead (subtracted)", loop, "ns")
    ct = net["cachetools"]
    limit = GET_VS_CACHETOOLS if op == "get" else SET_VS_CACHETOOLS
    for name in ("tiercache_dram", "tiercache_shm"):
        rep.compare(
            "ops", f"{what}: {impls[name].name}", net[name], "ns", "cachetools", ct, "<=", limit
        )
    rep.compare("ops", f"{what}: dict", net["dict"], "ns", "cachetools", ct)
    rep.info("ops", f"{what}: cachetools LRUCache", ct, "ns")
    rep.compare("ops", f"{what}: diskcache /dev/shm", net["diskcache"], "ns", "cachetools", ct)
    for name in ("tiercache_dram", "tiercache_shm"):
        rep.compare(
            "ops",
            f"{what}: diskcache / {impls[name].name} (x faster)",
            net[name],
            "ns",
            "diskcache",
            net["diskcache"],
            ">=",
            DISKCACHE_SPEEDUP,
            inverse=True,
        )


def _small_stats(st: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "hits",
        "misses",
        "items",
        "evictions",
        "promotions",
        "demotions",
        "meta_bytes_per_item",
    )
    out = {k: st[k] for k in keep}
    out["tiers"] = [
        {k: t[k] for k in ("name", "budget", "used", "items", "hits")} for t in st["tiers"]
    ]
    return out


def section_zerocopy(rep: Report, a: argparse.Namespace) -> None:
    """get(copy=False) of 64 KiB vs get of 100 B, same keys, same cache configuration."""
    keys = w.make_keys(w.N_KEYS)
    # x1.3: a 64 KiB value stored inline with its 29 B header and key takes an 80 KiB block
    # in a DRAM-only cache (jemalloc size classes; see the README).
    large_mb = len(keys) * w.LARGE / MiB * 1.3 + 16
    configs = {
        "tiercache dram": lambda mb: w.tiercache_dram(dram_mb=mb),
        "tiercache dram+shm": lambda mb: w.tiercache_shm(dram_mb=64, pmem_mb=mb),
    }
    for label, make in configs.items():
        small = make(large_mb)
        big = make(large_mb)
        try:
            w.fill(small.cache, keys, b"s" * w.SMALL)
            w.fill(big.cache, keys, b"L" * w.LARGE)
            view = big.cache.get(keys[0], copy=False)
            assert isinstance(view, memoryview) and len(view) == w.LARGE, type(view)
            del view
            loops = {
                "loop": Loop(w.empty_loop(keys), len(keys)),
                "get_100": Loop(w.get_loop(small.cache, keys), len(keys)),
                "get_64k_nocopy": Loop(w.get_nocopy_loop(big.cache, keys), len(keys)),
                "get_64k_copy": Loop(w.get_loop(big.cache, keys), len(keys)),
                "get_100_nocopy": Loop(w.get_nocopy_loop(small.cache, keys), len(keys)),
            }
            s = sample(loops, a.repeats, a.min_time)
            rep.samples[f"zerocopy_{label}"] = s
            loop = med(s["loop"])
            g100 = med(s["get_100"]) - loop
            rep.info("zerocopy", f"{label}: get 100 B", g100, "ns")
            rep.compare(
                "zerocopy",
                f"{label}: get 64 KiB copy=False",
                med(s["get_64k_nocopy"]) - loop,
                "ns",
                "get 100 B",
                g100,
                "<=",
                NOCOPY_64K_VS_100B,
            )
            rep.compare(
                "zerocopy",
                f"{label}: get 64 KiB (copy)",
                med(s["get_64k_copy"]) - loop,
                "ns",
                "get 100 B",
                g100,
            )
            rep.compare(
                "zerocopy",
                f"{label}: get 100 B copy=False (pin + view, no size effect)",
                med(s["get_100_nocopy"]) - loop,
                "ns",
                "get 100 B",
                g100,
            )
            tiers = [t["name"] for t in big.cache.stats()["tiers"] if t["items"]]
            rep.details[f"zerocopy_{label}_64k_tiers"] = tiers
        finally:
            small.close()
            big.close()


def section_hotset(rep: Report, a: argparse.Namespace) -> None:
    """Hot-set gets with a data set 8x dram_mb on the capacity tier vs a DRAM-only cache."""
    dram_mb = a.hot_dram_mb
    vsize = 1024
    n = 8 * dram_mb * MiB // vsize  # the data set: 8 x dram_mb of values
    keys = w.make_keys(n)
    rng = random.Random(a.seed)
    hot = rng.sample(keys, a.hot_keys)  # scattered over the key space
    weights = [1.0 / (rank + 1) for rank in range(len(hot))]  # Zipf, alpha 1
    seq = rng.choices(hot, weights=weights, k=a.hot_reads)
    value = b"h" * vsize

    def warm(cache: Any) -> None:
        # A few passes over the hot set: enough reads for promote_hits (2) and S3-FIFO's main.
        for _ in range(4):
            for k in hot:
                cache.get(k)

    caches: dict[str, w.Impl] = {}
    try:
        tiered = w.tiercache_shm(dram_mb=dram_mb, pmem_mb=8 * dram_mb * 2)
        caches["tiered"] = tiered
        w.fill(tiered.cache, keys, value)
        warm(tiered.cache)

        dram = w.tiercache_dram(dram_mb=dram_mb)
        caches["dram"] = dram
        w.fill(dram.cache, keys, value)  # most of it is evicted: a DRAM-only cache keeps ~1/8
        w.fill(dram.cache, hot, value)  # the hot set is what it holds
        warm(dram.cache)

        big = w.tiercache_dram(dram_mb=dram_mb * 8 * 2)  # DRAM-only holding all of it
        caches["dram_all"] = big
        w.fill(big.cache, keys, value)
        warm(big.cache)

        before = {name: c.cache.stats() for name, c in caches.items()}
        loops = {"loop": Loop(w.empty_loop(seq), len(seq))}
        for name, c in caches.items():
            loops[name] = Loop(w.get_loop(c.cache, seq), len(seq))
        s = sample(loops, a.repeats, a.min_time)
        after = {name: c.cache.stats() for name, c in caches.items()}
        rep.samples["hotset"] = s

        for name in caches:
            b, e = before[name], after[name]
            misses = e["misses"] - b["misses"]
            hits = e["hits"] - b["hits"]
            t0 = e["tiers"][0]["hits"] - b["tiers"][0]["hits"]
            rep.details[f"hotset_{name}"] = {
                "hits": hits,
                "misses": misses,
                "dram_hit_share": t0 / hits if hits else 0.0,
                "stats": _small_stats(e),
            }
            if misses:
                rep.notes.append(f"hotset: {name} missed {misses} hot-set reads: not comparable")
        st = after["tiered"]
        rep.info("hotset", "data set (values) / dram_mb", n * vsize / (dram_mb * MiB), "x")
        rep.info("hotset", "items held, tiered cache", st["items"], "")
        rep.info(
            "hotset",
            "items on the capacity tier",
            st["tiers"][1]["items"],
            "",
        )
        rep.info("hotset", "hot set (keys, 1 KiB each)", len(hot), "")
        share = rep.details["hotset_tiered"]["dram_hit_share"] * 100
        rep.info("hotset", "hot-set reads served from DRAM, tiered", share, "%")
        loop = med(s["loop"])
        net = {name: med(s[name]) - loop for name in caches}
        rep.info("hotset", f"get, DRAM-only {dram_mb} MiB (hot set resident)", net["dram"], "ns")
        rep.compare(
            "hotset",
            f"get, {dram_mb} MiB DRAM + {8 * dram_mb * 2} MiB /dev/shm tier",
            net["tiered"],
            "ns",
            "DRAM-only",
            net["dram"],
            "<=",
            HOTSET_VS_DRAM,
        )
        rep.compare(
            "hotset",
            f"get, same vs DRAM-only {dram_mb * 16} MiB holding all",
            net["tiered"],
            "ns",
            "DRAM-all",
            net["dram_all"],
        )
        rep.info(
            "hotset",
            "meta B/item with 1 KiB values (DRAM-all)",
            after["dram_all"]["meta_bytes_per_item"],
            "B/item",
        )
    finally:
        for c in caches.values():
            c.close()


def section_meta(rep: Report, a: argparse.Namespace) -> None:
    """Metadata per item at a million items, and what a Python cache costs per item."""
    n = a.meta_items
    keys = w.make_keys(n)
    assert len(keys[0].encode()) == 16
    value = b"m" * w.SMALL

    # 100 B values (the target), then a spread: entry blocks are slab slots of 4-byte
    # classes, so the target holds for each size (with jemalloc's classes 99 B gave 34.8 and
    # 100 B 65.8: a 128 B block vs a 129 B one rounded to 160; with 48 B slab headers 2000 B
    # gave 53.8: 2 KiB of tail per 256 KiB slab of 128 slots).
    spread = (10, 50, 99, 150, 200, 500, 1000, 2000) if not a.quick else (99, 500)
    sizes = [(w.SMALL, "100 B values")] + [(v, f"{v} B values") for v in spread]
    for vlen, label in sizes:
        c = TierCache(dram_mb=max(64, n * (vlen + 400) // MiB))
        try:
            v = b"m" * vlen
            for k in keys:
                c[k] = v
            st = c.stats()
            assert st["items"] == n, (st["items"], n)
            t0 = st["tiers"][0]
            if vlen == w.SMALL:
                rep.target(
                    "meta",
                    f"tiercache meta B/item, {n:,} items, 16 B keys, {label}",
                    st["meta_bytes_per_item"],
                    "B/item",
                    "<=",
                    META_BYTES_PER_ITEM,
                )
                rep.info("meta", "tiercache DRAM used per item (all)", t0["used"] / n, "B/item")
                rep.info(
                    "meta", "  of which key bytes (tag included)", st["key_bytes"] / n, "B/item"
                )
                rep.info("meta", "  of which value bytes", t0["value_bytes"] / n, "B/item")
                rep.details["meta_tiercache_stats"] = _small_stats(st) | {
                    "meta_bytes": st["meta_bytes"],
                    "key_bytes": st["key_bytes"],
                }
            else:
                rep.target(
                    "meta",
                    f"tiercache meta B/item, {label}",
                    st["meta_bytes_per_item"],
                    "B/item",
                    "<=",
                    META_BYTES_PER_ITEM,
                )
        finally:
            c.close()
            del c
            gc.collect()

    n_py = a.meta_py_items
    pykeys = keys[:n_py]
    for label, make in (
        ("cachetools LRUCache", lambda: cachetools.LRUCache(maxsize=n_py * 2)),
        ("dict", dict),
    ):
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        cache = make()
        for k in pykeys:
            cache[k] = value
        used = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.stop()
        assert len(cache) == n_py
        del cache
        gc.collect()
        per = used / n_py
        rep.compare(
            "meta",
            f"{label} B/item beyond key and value ({n_py:,} items)",
            per,
            "B/item",
            "tiercache meta",
            rep.details["meta_tiercache_stats"]["meta_bytes_per_item"],
        )
    kv = sys.getsizeof(keys[0]) + sys.getsizeof(value)
    rep.info("meta", "CPython key str + 100 B bytes objects per item", kv, "B/item")


def _rss_shmem() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssShmem:"):
                return int(line.split()[1]) * 1024
    return 0


def section_compact(rep: Report, a: argparse.Namespace) -> None:
    """Fill a file tier, delete 90% at random, compare the file kind's resident bytes with
    a purge alone and after compact()."""
    n = a.compact_items
    keys = w.make_keys(n)
    rng = random.Random(a.seed + 1)
    sizes = [rng.randint(256, 2048) for _ in range(n)]
    avg = sum(sizes) / n
    impl = w.tiercache_shm(dram_mb=64, pmem_mb=int(n * avg * 1.5 / MiB) + 64, large_value_bytes=256)
    cache = impl.cache
    try:
        # The cache's own file kind (private attribute: a benchmark may look inside).
        kind = cache._native.kinds[-1]
        stages: dict[str, dict[str, float]] = {}

        def read(stage: str) -> None:
            st = cache.stats()
            ks = kind.stats()
            stages[stage] = {
                "items": st["items"],
                "tier_used_mib": st["tiers"][-1]["used"] / MiB,
                "resident_mib": ks.resident / MiB,
                "active_mib": ks.active / MiB,
                "allocated_mib": ks.allocated / MiB,
                "rss_shmem_mib": _rss_shmem() / MiB,
            }

        for k, sz in zip(keys, sizes):
            cache[k] = bytes([sz & 0xFF]) * sz
        st = cache.stats()
        assert st["tiers"][-1]["items"] == n, "every value should be on the file tier"
        read("filled")
        keep = []
        for k, sz in zip(keys, sizes):
            if rng.random() < 0.9:
                del cache[k]
            else:
                keep.append((k, sz))
        read("deleted 90%")
        kind.purge()
        read("purge only")
        t0 = time.perf_counter()
        moved = [cache.compact()]
        t_first = time.perf_counter() - t0
        read("compact() x1")
        while moved[-1] and len(moved) < 8:
            moved.append(cache.compact())
        t_all = time.perf_counter() - t0
        read(f"compact() x{len(moved)}")
        for k, sz in keep:
            v = cache.get(k)
            assert v == bytes([sz & 0xFF]) * sz, f"{k}: value changed by compaction"
        cache.check()
        rep.details["compact"] = {
            "stages": stages,
            "moved_per_pass": moved,
            "seconds_first_pass": t_first,
            "seconds_all_passes": t_all,
            "items": n,
            "value_sizes": "uniform 256..2048 B, all on the file tier (large_value_bytes=256)",
        }
        names = list(stages)
        rep.info("compact", f"items filled / kept ({n:,} values of 256-2048 B)", len(keep), "")
        for stage in names:
            s = stages[stage]
            rep.info(
                "compact",
                f"{stage}: file kind resident (live {s['allocated_mib']:.1f} MiB, "
                f"RssShmem {s['rss_shmem_mib']:.1f})",
                s["resident_mib"],
                "MiB",
            )
        base = stages["purge only"]["resident_mib"]
        rep.compare(
            "compact",
            f"resident after compact() x1 (moved {moved[0]:,} in {t_first:.2f} s)",
            stages["compact() x1"]["resident_mib"],
            "MiB",
            "purge only",
            base,
            "<",
            1.0,
        )
        last = names[-1]
        rep.compare(
            "compact",
            f"resident after {last} (moved {sum(moved):,} in {t_all:.2f} s)",
            stages[last]["resident_mib"],
            "MiB",
            "purge only",
            base,
        )
        rep.compare(
            "compact",
            f"resident after {last} vs live bytes",
            stages[last]["resident_mib"],
            "MiB",
            "live",
            stages[last]["allocated_mib"],
        )
    finally:
        impl.close()


RUNNERS = {
    "ops": section_ops,
    "zerocopy": section_zerocopy,
    "hotset": section_hotset,
    "meta": section_meta,
    "compact": section_compact,
    "atomic": lambda rep, a: atomic_ops.section_atomic(rep, a, sample, Loop, med),
}


# ---------------------------------------------------------------- main


def _machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "tiercache": getattr(tiercache, "__version__", "?"),
        "tiercache_path": os.path.dirname(tiercache.__file__),
        "cachetools": cachetools.__version__,
        "diskcache": diskcache.__version__,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def run_sections(rep: Report, a: argparse.Namespace, runners: dict) -> float:
    """Run a.sections in order (a crash is recorded, the rest still run); seconds taken."""
    started = time.perf_counter()
    for name in a.sections:
        t0 = time.perf_counter()
        print(f"... {name}", file=sys.stderr, flush=True)
        try:
            runners[name](rep, a)
        except Exception:
            rep.errors[name] = traceback.format_exc()
        rep.details.setdefault("seconds", {})[name] = round(time.perf_counter() - t0, 2)
    return time.perf_counter() - started


def write_json(
    path: str, rep: Report, a: argparse.Namespace, machine: dict, elapsed: float
) -> None:
    """The run's rows, samples and details as JSON at path (written whole, then renamed)."""
    out = {
        "machine": machine,
        "args": {k: v for k, v in vars(a).items() if k != "json"},
        "seconds": round(elapsed, 2),
        "rows": [asdict(r) for r in rep.rows],
        "details": rep.details,
        "samples_ns_per_op": rep.samples,
        "errors": rep.errors,
        "notes": rep.notes,
    }
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f, indent=1, default=str)
        f.write("\n")
    shutil.move(tmp, path)
    print(f"\nwrote {path}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "sections", nargs="*", metavar="section", help=f"{', '.join(SECTIONS)} (default: all)"
    )
    p.add_argument("--quick", action="store_true", help="fewer samples and items (~40 s)")
    p.add_argument("--repeats", type=int, help="samples per figure (default 15, quick 7)")
    p.add_argument("--min-time", type=float, help="seconds per sample (default 0.1, quick 0.02)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    p.add_argument("--seed", type=int, default=42)
    a = p.parse_args(argv)
    unknown = [s for s in a.sections if s not in SECTIONS]
    if unknown:
        p.error(f"unknown section(s) {', '.join(unknown)}: choose from {', '.join(SECTIONS)}")
    a.sections = a.sections or list(SECTIONS)
    if a.repeats is None:
        a.repeats = 7 if a.quick else 15
    if a.min_time is None:
        a.min_time = 0.02 if a.quick else 0.1
    a.diskcache_keys = 1000 if a.quick else w.N_KEYS
    a.hot_dram_mb = 16
    a.hot_keys = 2048
    a.hot_reads = 20_000 if a.quick else 50_000
    a.meta_items = 1_000_000
    a.meta_py_items = 200_000 if a.quick else 1_000_000
    a.compact_items = 50_000 if a.quick else 200_000

    if not os.path.isdir(w.SHM):
        print(f"{w.SHM} is missing: the file tiers and diskcache need it", file=sys.stderr)
        return 1
    rep = Report()
    elapsed = run_sections(rep, a, RUNNERS)

    m = _machine()
    print(
        f"\ntiercache {m['tiercache']} ({m['tiercache_path']}) vs cachetools {m['cachetools']}, "
        f"diskcache {m['diskcache']}; Python {m['python']}, {m['cpus']} CPUs; "
        f"{'quick, ' if a.quick else ''}{a.repeats} samples of >= {a.min_time} s per figure; "
        f"{elapsed:.0f} s\n"
    )
    print_table(rep)
    if a.json:
        write_json(a.json, rep, a, m, elapsed)
    return 1 if rep.errors else 0


if __name__ == "__main__":
    sys.exit(main())
