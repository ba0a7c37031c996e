"""DRAM budget benchmark: does a TierCache's resident memory stay near dram_mb without the
application's help (no compact() calls)?

    python benchmarks/rss/rss.py                       (make bench-rss)
    python benchmarks/rss/rss.py --dram-mb 64 --values 3000000 --idle 10

Load (issue 13, item 4): TierCache(dram_mb, a directory on /dev/shm, 2 x dram_mb), then
--values sets of distinct keys with 200-byte values (churn: the DRAM tier evicts and demotes
all the time), then a second pass that overwrites a random half of the keys (same size: a
size change on a full DRAM tier costs ~1 ms per set on this main, a cache-core matter), then
--idle seconds of nothing. Samples anonymous resident memory (RssAnon, /proc/self/status)
every 0.1 s on a separate thread, before the cache (the interpreter's baseline) and
throughout. The target is RSS - baseline <= 1.15 x dram_mb + 16 MiB at every sample of the
churn and at the end of the idle period. Prints one line per phase and a verdict; writes
benchmarks/results/run/rss.json (an ignored folder) unless --json-out says otherwise.
This is a benchmark, not a test: never collected by pytest.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import tiercache

MiB = 1 << 20
ROOT = Path(__file__).resolve().parent.parent.parent


def rss_anon() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no RssAnon in /proc/self/status")


class Sampler(threading.Thread):
    def __init__(self, period: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.period = period
        self.samples: list[tuple[float, str, int]] = []
        self.phase = "start"
        self.stop = threading.Event()
        self.t0 = time.monotonic()

    def run(self) -> None:
        while not self.stop.wait(self.period):
            self.samples.append((time.monotonic() - self.t0, self.phase, rss_anon()))

    def peak(self, phase: str) -> int:
        return max((s[2] for s in self.samples if s[1] == phase), default=0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dram-mb", type=int, default=64)
    ap.add_argument("--values", type=int, default=3_000_000)
    ap.add_argument("--idle", type=float, default=10.0)
    ap.add_argument("--dir", default="/dev/shm")
    ap.add_argument("--json-out", default=str(ROOT / "benchmarks" / "results" / "run" / "rss.json"))
    args = ap.parse_args(argv)

    tmp = tempfile.mkdtemp(prefix="tiercache-rss-", dir=args.dir)
    sampler = Sampler()
    value = b"v" * 200
    rng = random.Random(1)
    try:
        baseline = rss_anon()
        sampler.start()
        limit = 1.15 * args.dram_mb * MiB + 16 * MiB
        cache = tiercache.TierCache(args.dram_mb, tmp, 2 * args.dram_mb)
        t0 = time.monotonic()
        sampler.phase = "fill"
        for i in range(args.values):
            cache[i] = value
        sampler.phase = "overwrite"
        for _ in range(args.values // 2):
            cache[rng.randrange(args.values)] = value
        churn_s = time.monotonic() - t0
        sampler.phase = "idle"
        time.sleep(args.idle)
        end = rss_anon()
        sampler.stop.set()
        sampler.join()
        st = cache.stats()
        dram = tiercache.Kind.dram().stats()
        cache.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def mb(x: float) -> str:
        return f"{x / MiB:.1f} MiB"

    churn_peak = max(sampler.peak("fill"), sampler.peak("overwrite")) - baseline
    idle_end = end - baseline
    ok_churn, ok_idle = churn_peak <= limit, idle_end <= limit
    result = {
        "dram_mb": args.dram_mb,
        "values": args.values,
        "idle_s": args.idle,
        "churn_s": round(churn_s, 2),
        "baseline_bytes": baseline,
        "limit_bytes": int(limit),
        "churn_peak_bytes": churn_peak,
        "idle_end_bytes": idle_end,
        "tier0_used_bytes": st["tiers"][0]["used"],
        "dram_kind_allocated": dram.allocated,
        "dram_kind_resident": dram.resident,
        "ok": ok_churn and ok_idle,
        "samples": [(round(t, 2), p, r - baseline) for t, p, r in sampler.samples],
    }
    print(
        f"rss: dram_mb={args.dram_mb} values={args.values} (churn {churn_s:.1f} s), "
        f"limit 1.15 x dram_mb + 16 MiB = {mb(limit)}"
    )
    print(
        f"rss: churn peak {mb(churn_peak)} {'ok' if ok_churn else 'OVER'}; after "
        f"{args.idle:g} s idle {mb(idle_end)} {'ok' if ok_idle else 'OVER'} "
        f"(interpreter baseline {mb(baseline)} not counted; tier 0 used "
        f"{mb(st['tiers'][0]['used'])}, DRAM kind allocated {mb(dram.allocated)}, "
        f"resident {mb(dram.resident)})"
    )
    if args.json_out:
        out = Path(args.json_out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1) + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
