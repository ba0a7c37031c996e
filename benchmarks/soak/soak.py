"""Soak benchmark: a mixed memtier-style load with TTLs on 2 threads against one TierCache (DRAM
plus a file-backed capacity tier on /dev/shm) for a long time, recording resident memory and
the cache's figures over time, and check() at the end.

    python benchmarks/soak/soak.py --seconds 1800        (make soak; default 30 min)

Load: keys from a Gaussian-ish hot set over a key space larger than the cache (so eviction
runs all the time), 1 set : 9 gets; value sizes 64 B to 256 KiB (most small, some large so
the capacity tier, demotion and promotion are exercised); 1 set in 3 carries a TTL of 1-30 s;
every 5 s one thread compacts. Samples every --interval seconds: RSS (/proc/self/statm), the
backing file's allocated blocks, items, tier bytes, ops/s. Resident memory is "flat" when its
growth over the second half of the run stays under 5% of its level at mid-run.

Writes benchmarks/results/soak-<seconds>s.json and prints one summary line. This is a
benchmark, not a test: it is never collected by pytest.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import stat
import sys
import tempfile
import threading
import time
from pathlib import Path

import tiercache

ROOT = Path(__file__).resolve().parent.parent.parent
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def rss_anon_bytes() -> int:
    """Anonymous resident memory (DRAM: the file tier's shared pages are not counted)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return 0


def backing_bytes(directory: str) -> int:
    """Allocated bytes of this process's open files in directory (the unlinked backing file)."""
    total = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith(directory):
                st = os.stat(f"/proc/self/fd/{fd}")
                if stat.S_ISREG(st.st_mode):
                    total += st.st_blocks * 512
        except OSError:
            continue
    return total


def value_size(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.70:
        return rng.randint(64, 1024)
    if r < 0.95:
        return rng.randint(1024, 32 * 1024)
    return rng.randint(64 * 1024, 256 * 1024)


class Load:
    def __init__(self, cache: tiercache.TierCache, keys: int, seconds: float) -> None:
        self.cache = cache
        self.keys = keys
        self.deadline = time.monotonic() + seconds
        self.ops = 0
        self.errors: list[str] = []
        self.wrong = 0
        self.lock = threading.Lock()

    def worker(self, seed: int) -> None:
        rng = random.Random(seed)
        cache = self.cache
        ops = 0
        last_compact = time.monotonic()
        blobs = {n: bytes([n]) * (256 * 1024) for n in range(16)}
        try:
            while True:
                for _ in range(200):
                    k = int(abs(rng.gauss(0, self.keys / 6))) % self.keys
                    if rng.random() < 0.1:
                        size = value_size(rng)
                        ttl = rng.uniform(1, 30) if rng.random() < 1 / 3 else None
                        with contextlib.suppress(tiercache.errors.OutOfMemoryError):
                            cache.set(k, blobs[k % 16][:size], ttl=ttl)  # may fail when full
                    else:
                        got = cache.get(k)
                        if got is not None and bytes(got[:1]) != bytes([k % 16]):
                            self.wrong += 1
                    ops += 1
                now = time.monotonic()
                if seed == 1 and now - last_compact > 5:
                    cache.compact()
                    last_compact = now
                if now > self.deadline:
                    break
        except Exception as exc:  # reported in the results, not swallowed
            self.errors.append(repr(exc))
        with self.lock:
            self.ops += ops


def main() -> int:
    parser = argparse.ArgumentParser(description="TierCache soak benchmark")
    parser.add_argument("--seconds", type=float, default=1800)
    parser.add_argument("--interval", type=float, default=5)
    parser.add_argument("--dram-mb", type=float, default=32)
    parser.add_argument("--pmem-mb", type=float, default=256)
    parser.add_argument("--keys", type=int, default=200_000)
    parser.add_argument("--dir", default="/dev/shm")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    directory = tempfile.mkdtemp(prefix="tiercache-soak-", dir=args.dir)
    anon_base = rss_anon_bytes()  # the interpreter's, before the cache
    cache = tiercache.TierCache(args.dram_mb, directory, args.pmem_mb)
    load = Load(cache, args.keys, args.seconds)
    rss_start = rss_bytes()
    threads = [threading.Thread(target=load.worker, args=(s,)) for s in (1, 2)]
    start = time.monotonic()
    for t in threads:
        t.start()
    samples = []
    while any(t.is_alive() for t in threads):
        time.sleep(min(args.interval, max(0.1, load.deadline - time.monotonic() + 0.1)))
        s = cache.stats()
        samples.append(
            {
                "t": round(time.monotonic() - start, 1),
                "rss_mb": round(rss_bytes() / 2**20, 2),
                "anon_over_base_mb": round((rss_anon_bytes() - anon_base) / 2**20, 2),
                "backing_mb": round(backing_bytes(directory) / 2**20, 2),
                "items": s["items"],
                "tier_used_mb": [round(t["used"] / 2**20, 2) for t in s["tiers"]],
                "evictions": s["evictions"],
                "expirations": s["expirations"],
                "promotions": s["promotions"],
                "demotions": s["demotions"],
            }
        )
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    check = "ok"
    try:
        cache.check()
    except tiercache.errors.TierCacheError as exc:
        check = f"FAILED: {exc}"
    cache.close()
    leftover = os.listdir(directory)
    os.rmdir(directory) if not leftover else None

    mid = [x["rss_mb"] for x in samples if x["t"] >= elapsed / 2]
    rss_mid = mid[0] if mid else samples[-1]["rss_mb"]
    growth = (samples[-1]["rss_mb"] - rss_mid) / rss_mid if rss_mid else 0.0
    result = {
        "seconds": round(elapsed, 1),
        "threads": 2,
        "config": vars(args),
        "ops": load.ops,
        "ops_per_s": round(load.ops / elapsed),
        "rss_start_mb": round(rss_start / 2**20, 2),
        "rss_mid_mb": rss_mid,
        "rss_end_mb": samples[-1]["rss_mb"],
        "rss_peak_mb": max(x["rss_mb"] for x in samples),
        "rss_growth_second_half": round(growth, 4),
        "rss_flat": abs(growth) < 0.05,
        # issue 13: DRAM (anonymous RSS above the interpreter's) <= 1.15 x dram_mb + 16 MiB
        "anon_limit_mb": round(1.15 * args.dram_mb + 16, 2),
        "anon_peak_mb": max(x["anon_over_base_mb"] for x in samples),
        "anon_end_mb": samples[-1]["anon_over_base_mb"],
        "check": check,
        "wrong_values": load.wrong,
        "errors": load.errors,
        "files_left": leftover,
        "python": sys.version.split()[0],
        "samples": samples,
    }
    out = Path(args.out or ROOT / "benchmarks" / "results" / f"soak-{int(args.seconds)}s.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(
        f"soak: {elapsed:.0f} s, {load.ops} ops ({result['ops_per_s']}/s), RSS "
        f"{result['rss_mid_mb']} MB at mid-run -> {result['rss_end_mb']} MB at end "
        f"({growth:+.1%}, peak {result['rss_peak_mb']} MB, flat={result['rss_flat']}), DRAM "
        f"(RssAnon over baseline) peak {result['anon_peak_mb']} / end {result['anon_end_mb']} "
        f"MiB against {result['anon_limit_mb']}, "
        f"check() {check}, {load.wrong} wrong values, {len(load.errors)} errors -> {out}"
    )
    ok = check == "ok" and not load.wrong and not load.errors and not leftover
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
