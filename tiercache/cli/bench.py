"""`tiercache bench`: generate the requests once, replay them on tiercache and its peers.

Order of a run: build the workload (tiercache.cli.workload); for each of --run-count runs,
for each store (the order rotates between runs): open it, prepopulate it (untimed), replay
the requests (tiercache.cli.runner), close it. Then the memtier reports, the comparison
table, the DRAM sweep (tiercache with its capacity tier and DRAM-only, at each budget), the
JSON document and the plots.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import sys
import time
from typing import Any

from tiercache.cli import report
from tiercache.cli.args import BenchArgs
from tiercache.cli.peers import CacheConfig, Store, open_peer, open_tiercache, scratch_dir
from tiercache.cli.runner import TierSampler, harness_overhead_ns, prepopulate, run
from tiercache.cli.servers import PeerUnavailable
from tiercache.cli.workload import Workload, build


class BenchError(Exception):
    """tiercache itself could not run the workload (exit status 1)."""


def _say(text: str) -> None:
    print(text, flush=True)


def _open(name: str, args: BenchArgs, cfg: CacheConfig) -> Store:
    if name == "tiercache":
        return open_tiercache(cfg)
    spec = args.workload
    return open_peer(name, cfg, spec.threads, spec.max_data_size, spec.expiry_range[1] > 0)


def _run_store(
    name: str, args: BenchArgs, cfg: CacheConfig, wl: Workload, label: str
) -> tuple[Any, str, float]:
    """One run on a fresh store: (RunResult, note, prepopulate seconds)."""
    store = _open(name, args, cfg)
    sampler = TierSampler(store.cache) if store.cache is not None else None
    try:
        pre = 0.0
        if args.prepopulate:
            if sampler is not None:
                sampler.mark("prepopulate")
            pre = prepopulate(store, wl.prepopulate)
            _say(f"[{label}] {name}: prepopulated {len(wl.prepopulate):,} keys in {pre:.2f} s")
        if sampler is not None:
            sampler.mark("run")
        result = run(
            store,
            wl.threads,
            test_time=args.workload.test_time,
            label=f"{label} {name}",
            progress=args.progress,
        )
        if sampler is not None:
            sampler.mark("end")
            result.tier_samples = sampler.stop()
            result.tier_marks = sampler.marks
            sampler = None
        _say(
            f"[{label}] {name}: {result.ops:,} requests in {result.duration:.2f} s, "
            f"{result.ops_per_sec:,.0f} ops/sec, hit ratio {result.hit_ratio:.3f}"
        )
        return result, store.note, pre
    finally:
        if sampler is not None:
            sampler.stop()
        store.close()


def _configuration(args: BenchArgs, wl: Workload) -> dict[str, Any]:
    spec = dataclasses.asdict(args.workload)
    spec["data_size_granularity"] = wl.size_granularity
    cache = dataclasses.asdict(args.cache)
    if cache["pmem_dir"] is not None and cache["pmem_mb"] is None:
        cache["pmem_mb"] = 8 * cache["dram_mb"]  # the default the cache used
    return {
        "workload": spec,
        "cache": cache,
        "prepopulate": args.prepopulate,
        "run_count": args.run_count,
        "print_percentiles": args.percentiles,
        "compare": args.compare,
        "sweep_dram_mb": args.sweep_dram_mb,
        "requests_per_run": wl.requests,
    }


def _run_information(overhead: float) -> dict[str, Any]:
    from tiercache import __version__

    return {
        "tiercache version": __version__,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} "
        f"{platform.release()}",
        "harness overhead ns/request": overhead,
    }


def _sweep(args: BenchArgs, wl: Workload) -> list[dict[str, Any]]:
    """tiercache at each --sweep-dram-mb budget, with the capacity tier and DRAM-only."""
    rows = []
    for mb in args.sweep_dram_mb:
        for with_tier in (True, False):
            if with_tier and args.cache.pmem_dir is None:
                continue
            cfg = dataclasses.replace(
                args.cache,
                dram_mb=mb,
                pmem_dir=args.cache.pmem_dir if with_tier else None,
                pmem_mb=args.cache.pmem_mb if with_tier else None,
            )
            variant = "DRAM + file tier" if with_tier else "DRAM only"
            try:
                result, _note, _pre = _run_store("tiercache", args, cfg, wl, f"SWEEP {mb:g} MiB")
            except Exception as exc:
                _say(f"[SWEEP {mb:g} MiB] {variant}: failed: {exc}")
                continue
            rows.append(
                {
                    "DRAM MiB": mb,
                    "Variant": variant,
                    "Ops/sec": result.ops_per_sec,
                    "Hit Ratio": result.hit_ratio,
                    "GET p50 usec": result.gets.hist.get_value_at_percentile(50) / 1000,
                    "GET p99 usec": result.gets.hist.get_value_at_percentile(99) / 1000,
                }
            )
    return rows


def _sweep_text(rows: list[dict[str, Any]]) -> str:
    lines = ["DRAM SWEEP: tiercache on the same requests at each DRAM budget",
             f"{'DRAM MiB':>9} {'variant':<17} {'Ops/sec':>11} {'Hit ratio':>9} "
             f"{'GET p50 us':>10} {'GET p99 us':>10}"]  # fmt: skip
    for r in rows:
        lines.append(
            f"{r['DRAM MiB']:9g} {r['Variant']:<17} {r['Ops/sec']:11,.0f} {r['Hit Ratio']:9.3f} "
            f"{r['GET p50 usec']:10.2f} {r['GET p99 usec']:10.2f}"
        )
    return "\n".join(lines)


def run_bench(args: BenchArgs) -> int:
    """The bench command; returns the exit status."""
    temp_dir = None
    if args.pmem_temp:
        temp_dir = scratch_dir("tier")
        args.cache.pmem_dir = temp_dir
    try:
        return _bench(args)
    finally:
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)


def _bench(args: BenchArgs) -> int:
    spec = args.workload
    t0 = time.perf_counter()
    wl = build(spec)
    per_thread = len(wl.threads[0])
    took = time.perf_counter() - t0
    _say(
        f"[RUN] generated {wl.requests:,} requests ({spec.threads} x {per_thread:,}) and "
        f"{len(wl.prepopulate):,} prepopulate keys in {took:.2f} s"
    )
    overhead = harness_overhead_ns(wl.threads)
    _say(f"[RUN] harness overhead (a store that does nothing): {overhead:.0f} ns/request")
    stores = ["tiercache", *args.compare]
    results: dict[str, report.StoreResults] = {}
    skipped: dict[str, str] = {}
    for r in range(args.run_count):
        label = f"RUN #{r + 1}"
        order = stores[r % len(stores) :] + stores[: r % len(stores)]
        for name in order:
            if name in skipped:
                continue
            try:
                result, note, pre = _run_store(name, args, args.cache, wl, label)
            except PeerUnavailable as exc:
                skipped[name] = str(exc)
                _say(f"[{label}] {name}: skipped: {exc}")
                continue
            except Exception as exc:
                if name == "tiercache":
                    raise BenchError(f"tiercache failed on this workload: {exc}") from exc
                skipped[name] = f"failed: {type(exc).__name__}: {exc}"
                results.pop(name, None)
                _say(f"[{label}] {name}: failed: {exc}")
                continue
            entry = results.setdefault(name, report.StoreResults(name, note, []))
            entry.runs.append(result)
            entry.prepopulate_s += pre
    ordered = [results[n] for n in stores if n in results]

    _say("")
    _say(f"{spec.threads:<9} Threads")
    _say(f"{per_thread:<9} Requests per thread" + (" (cycled)" if spec.test_time else ""))
    for res in ordered:
        _say("")
        _say(report.store_text(res, args.percentiles, args.hide_histogram))
    rows: list[dict[str, Any]] = []
    if args.compare:
        rows = report.comparison_rows(ordered)
        _say("")
        _say(report.comparison_text(rows, skipped, wl.requests))
    sweep = _sweep(args, wl) if args.sweep_dram_mb else []
    if sweep:
        _say("")
        _say(_sweep_text(sweep))

    doc: dict[str, Any] = {
        "configuration": _configuration(args, wl),
        "run information": _run_information(overhead),
    }
    doc.update(report.results_doc(ordered[0], args.percentiles))
    if args.compare:
        doc["Compare"] = {
            res.name: {"Note": res.note, **report.results_doc(res, args.percentiles)}
            for res in ordered[1:]
        }
        doc["Compare"].update({name: {"Skipped": why} for name, why in skipped.items()})
        doc["Comparison"] = rows
    if sweep:
        doc["DRAM Sweep"] = sweep
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(doc, f, indent=2)
        _say(f"\nJSON written to {args.json_out}")
    if args.plot_dir:
        from tiercache.cli import plots

        paths = plots.write_all(args.plot_dir, ordered, sweep)
        _say("\nplots: " + ", ".join(paths))
    sys.stdout.flush()
    return 0
