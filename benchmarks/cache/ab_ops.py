#!/usr/bin/env python3
"""run.py's `ops` section against two builds of the package, alternating, N rounds each.

Usage: ab_ops.py --old PATH --new PATH [--rounds N] [--json OUT] [-- run.py args...]

Each round runs `run.py ops` once with PYTHONPATH=old and once with PYTHONPATH=new (the order
alternates from round to round), in a fresh process each time: "to measure another build of
the package, put it first on the path" (README.md). For every TierCache row of the section it
prints the median over the rounds of each build, new/old, the spread of the per-round figures,
and new/old of the figures divided by cachetools' figure of the same process (which cancels
some of the machine's load, since cachetools is sampled in the same interleaved rounds).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROWS = (
    "get 100 B: tiercache dram",
    "get 100 B: tiercache dram+shm",
    "set 100 B: tiercache dram",
    "set 100 B: tiercache dram+shm",
    "get 100 B: cachetools LRUCache",
    "set 100 B: cachetools LRUCache",
)
TARGET = 1.1  # issue 11: tier-0 get and set within 1.1x of the previous core


def one_run(path: str, extra: list[str], out: str) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=path)
    cmd = [sys.executable, os.path.join(HERE, "run.py"), "ops", "--json", out, *extra]
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, cwd=HERE)
    with open(out) as f:
        doc = json.load(f)
    got = os.path.dirname(doc["machine"]["tiercache_path"])
    if os.path.realpath(got) != os.path.realpath(path):
        raise SystemExit(f"run with PYTHONPATH={path} imported tiercache from {got}")
    return {r["metric"]: r["value"] for r in doc["rows"] if r["metric"] in ROWS}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--old", required=True)
    p.add_argument("--new", required=True)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", metavar="OUT")
    p.add_argument("extra", nargs="*", help="passed to run.py (after --)")
    a = p.parse_args()
    builds = {"old": os.path.abspath(a.old), "new": os.path.abspath(a.new)}
    runs: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    loads = []
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            order = ["old", "new"] if r % 2 == 0 else ["new", "old"]
            for b in order:
                loads.append(os.getloadavg()[0])
                runs[b].append(one_run(builds[b], a.extra, os.path.join(tmp, f"{b}{r}.json")))
                print(f"round {r + 1}/{a.rounds} {b}: done", file=sys.stderr, flush=True)
    result: dict[str, dict[str, float | list[float]]] = {}
    print(f"run.py ops, {a.rounds} rounds per build, alternating; old {builds['old']}, "
          f"new {builds['new']}; load average {min(loads):.1f}-{max(loads):.1f}, "
          f"{time.time() - t0:.0f} s\n")  # fmt: skip
    head = f"{'row (ns per op)':34} {'old':>8} {'new':>8} {'new/old':>8} {'range old':>15} "
    head += f"{'range new':>15} {'/cachetools':>12}  target"
    print(head)
    for row in ROWS:
        o = [x[row] for x in runs["old"]]
        n = [x[row] for x in runs["new"]]
        mo, mn = statistics.median(o), statistics.median(n)
        ref = "get 100 B: cachetools LRUCache" if row.startswith("get") else (
            "set 100 B: cachetools LRUCache")  # fmt: skip
        # new/old of (tiercache / cachetools), per round, then the median
        norm = statistics.median(
            (x[row] / x[ref]) / (y[row] / y[ref]) for x, y in zip(runs["new"], runs["old"])
        )
        is_tc = "tiercache" in row
        verdict = ("PASS" if mn / mo <= TARGET else "FAIL") if is_tc else ""
        result[row] = {
            "old": o,
            "new": n,
            "median_old": mo,
            "median_new": mn,
            "new_over_old": mn / mo,
            "new_over_old_vs_cachetools": norm,
            "result": verdict,
        }
        rng_o = f"{min(o):.0f}-{max(o):.0f}"
        rng_n = f"{min(n):.0f}-{max(n):.0f}"
        tgt = f"<= {TARGET}x {verdict}" if is_tc else ""
        print(f"{row:34} {mo:8.0f} {mn:8.0f} {mn / mo:7.2f}x {rng_o:>15} {rng_n:>15} "
              f"{norm:11.2f}x  {tgt}")  # fmt: skip
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"builds": builds, "rounds": a.rounds, "loadavg": loads,
                       "rows": result}, f, indent=1)  # fmt: skip
            f.write("\n")
        print(f"\nwrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
