#!/usr/bin/env python3
"""Build the native benchmark against memkind and tiercache, run both, print a comparison.

Usage: run.py [--quick] [--no-build] [--impl memkind|tiercache ...] [--json PATH]
              [--bench-arg ARG ...] [unit ...]

Both binaries come from the same source (memkind.h API only; see bench.h for the line
protocol). Each is run once, in this order, on the same machine. The table shows each metric,
both values, the ratio tiercache/memkind, the target (stated for tiercache) and whether
tiercache meets it. A benchmark, not a test: it exits 0 unless a run could not be started.
Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# Where `make` puts the binaries (the Makefile's BENCH_BUILD, relative to HERE).
BENCH_BUILD = os.path.join(HERE, os.environ.get("BENCH_BUILD", "build"))
IMPLS = ("memkind", "tiercache")

# Metrics of the main table, in this order: (metric, unit that produces it, target or None).
# A target is (op, threshold) with op "<=" or ">="; it is stated for tiercache. Every other
# metric a binary prints goes to the details table.
MT_UNITS = (
    "mt_detect_dram",
    "mt_detect_file",
    "mt_nullfree_dram",
    "mt_nullfree_file",
    "mt_nullfree_regular",
    "mt_nullfree_hbw",
    "mt_nullfree_interleave",
)
# On a machine without high-bandwidth memory, node 0 stands in for it (in both libraries), so
# the HBW rows measure the HBW code path; an explicit MEMKIND_HBW_NODES is kept.
BENCH_ENV = {**os.environ, "MEMKIND_HBW_NODES": os.environ.get("MEMKIND_HBW_NODES", "0")}
MT_SCALING_TARGET = 0.7  # efficiency at ncpu threads, and total at max threads vs at ncpu


def _mt_rows():
    rows = []
    for unit in MT_UNITS:
        for t in (1, 2, 4, 8):
            rows.append((f"{unit}_t{t}_per_thread_mops", unit, None))
    return rows


ROWS = [
    ("free_right_kind_dram_ns", "free_dram", None),
    ("free_null_kind_dram_ns", "free_dram", None),
    ("free_null_extra_dram_ns", "free_dram", ("<=", 2.0)),
    ("free_right_kind_file_ns", "free_file", None),
    ("free_null_kind_file_ns", "free_file", None),
    ("free_null_extra_file_ns", "free_file", ("<=", 2.0)),
    ("pair64_null_extra_dram_ns", "free_dram", ("<=", 2.0)),
    ("pair64_null_extra_file_ns", "free_file", ("<=", 2.0)),
    ("detect_kind_dram_ns", "detect_dram", ("<=", 5.0)),
    ("detect_kind_file_ns", "detect_file", ("<=", 5.0)),
    ("pair64_dram_ns", "pair64_dram", None),
    ("pair64_file_ns", "pair64_file", None),
    ("pair64_file_over_dram", None, ("<=", 1.5)),
    ("pair64_regular_ns", "pair64_regular", None),
    ("pair64_hbw_ns", "pair64_hbw", None),
    ("pair64_interleave_ns", "pair64_interleave", None),
    *_mt_rows(),
    # memkind.h's limit: static and dynamic kinds together within MEMKIND_MAX_KIND (512), so at
    # most 512 - 26 file kinds (issue 14, item 2; memkind itself stops at 479 here)
    ("max_file_kinds", "max_file_kinds", ("<=", 486)),
    ("create_file_kind_us", "max_file_kinds", None),
    ("destroy_file_kind_us", "max_file_kinds", None),
    ("defrag_file_resident_fragmented_mib", "defrag_file", None),
    ("defrag_file_resident_defragmented_mib", "defrag_file", None),
    ("defrag_file_active_fragmented_mib", "defrag_file", None),
    ("defrag_file_active_defragmented_mib", "defrag_file", None),
    ("defrag_file_resident_ratio", "defrag_file", None),
    ("defrag_file_active_ratio", "defrag_file", None),
    ("defrag_dram_resident_fragmented_mib", "defrag_dram", None),
    ("defrag_dram_resident_defragmented_mib", "defrag_dram", None),
    ("defrag_dram_active_fragmented_mib", "defrag_dram", None),
    ("defrag_dram_active_defragmented_mib", "defrag_dram", None),
    ("defrag_dram_resident_ratio", "defrag_dram", None),
    ("defrag_dram_active_ratio", "defrag_dram", None),
    # freeing with the kind no slower than with NULL: 10 file kinds x 32768 x 512 B, one thread
    ("free_kinds_kind_ns", "free_kinds", None),
    ("free_kinds_null_ns", "free_kinds", None),
    ("free_kinds_ratio_kind_over_null", "free_kinds", ("<=", 1.05)),
]



def parse(text: str) -> dict:
    """Turn a bench binary's output into {info, metrics, fails, skips, units, tries}."""
    r = {"info": {}, "metrics": {}, "fails": {}, "skips": {}, "units": {}, "tries": {}}
    unit = None
    for line in text.splitlines():
        parts = line.split(" ", 2)
        if len(parts) < 2 or line.startswith("#"):
            continue
        tag, name, rest = parts[0], parts[1], parts[2] if len(parts) > 2 else ""
        if tag == "info":
            r["info"][name] = rest
        elif tag == "try":
            r["tries"].setdefault(unit, []).append(name)
        elif tag == "metric":
            value, _, unit_str = rest.partition(" ")
            r["metrics"][name] = {"value": float(value), "unit": unit_str, "unit_name": unit}
        elif tag == "fail":
            r["fails"][name] = rest
        elif tag == "skip":
            r["skips"][name] = rest
        elif tag == "unit":
            if rest == "begin":
                unit = name
                r["units"][name] = "running"
            else:
                r["units"][name] = rest
    return r


def add_derived(r: dict) -> None:
    """Ratios computed from measured metrics (only when both operands exist)."""
    m = r["metrics"]

    def put(name, value, unit="x"):
        m[name] = {"value": value, "unit": unit, "unit_name": None, "derived": True}

    if "pair64_file_ns" in m and "pair64_dram_ns" in m and m["pair64_dram_ns"]["value"] > 0:
        put("pair64_file_over_dram", m["pair64_file_ns"]["value"] / m["pair64_dram_ns"]["value"])
    ncpu = int(r["info"].get("ncpu", "1"))
    for unit in MT_UNITS:
        base = unit  # mt_<op>_<kind>
        totals = {}
        for name, v in m.items():
            if name.startswith(base + "_t") and name.endswith("_total_mops"):
                totals[int(name[len(base) + 2 : -len("_total_mops")])] = v["value"]
        if 1 not in totals:
            continue
        full = max((t for t in totals if t <= ncpu), default=1)
        if full > 1 and totals[1] > 0:
            put(f"{base}_efficiency_t{full}", totals[full] / (full * totals[1]))
        top = max(totals)
        if top > full and totals[full] > 0:
            put(f"{base}_oversub_t{top}_vs_t{full}", totals[top] / totals[full])


def status_of(r: dict | None, metric: str, unit: str | None) -> tuple[float | None, str]:
    """(value, text) of a metric in one run; text explains a missing value honestly."""
    if r is None:
        return None, "not run"
    if "error" in r:
        return None, r["error"]
    if metric in r["metrics"]:
        v = r["metrics"][metric]["value"]
        return v, fmt(v)
    if metric in r["fails"]:
        return None, "FAILED"
    if metric in r["skips"]:
        return None, "unavailable" if "unavailable" in r["skips"][metric] else "skipped"
    if unit is None:
        for u, tried in r["tries"].items():
            if metric in tried:
                unit = u
    if unit is not None:
        st = r["units"].get(unit)
        if st is None:
            return None, "not run"
        if st.startswith("crash"):
            _, signo, *signame = st.split()
            return None, f"crashed (signal {signo}{' SIG' + signame[0] if signame else ''})"
        if st == "timeout":
            return None, "timeout"
        if st == "running":
            return None, "interrupted"
        if st.startswith("exit"):
            return None, f"unit {st}"
    return None, "n/a"


def fmt(v: float) -> str:
    if abs(v) >= 1000:
        return f"{v:.0f}"
    return f"{v:.3g}" if abs(v) < 1 else f"{v:.4g}"


def check(target, v):
    if target is None or v is None:
        return None
    op, th = target
    return v <= th if op == "<=" else v >= th


def build(impl: str, log: list) -> str | None:
    """Run `make <impl>`; returns None on success, else a one-line reason."""
    cmd = ["make", "--no-print-directory", "-C", HERE, impl]
    p = subprocess.run(cmd, capture_output=True, text=True)
    log.append({"impl": impl, "cmd": " ".join(cmd), "rc": p.returncode,
                "output": (p.stdout + p.stderr)[-4000:]})
    if p.returncode != 0:
        tail = [l for l in (p.stdout + p.stderr).splitlines() if l.strip()][-1:] or [""]
        return f"build failed (rc {p.returncode}): {tail[0][:100]}"
    return None


def cpu_busy_seconds() -> float:
    """Non-idle CPU seconds of the whole machine so far (/proc/stat; steal counts as busy)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_bench(impl: str, args: list[str], timeout: float) -> dict:
    exe = os.path.join(BENCH_BUILD, f"bench_{impl}")
    if not os.path.exists(exe):
        return {"error": "not built"}
    busy0, own0 = cpu_busy_seconds(), own_children_cpu()
    t0 = time.monotonic()
    print(f"[run.py] running {exe} {' '.join(args)}", file=sys.stderr, flush=True)
    try:
        p = subprocess.run(
            [exe, *args], capture_output=True, text=True, timeout=timeout, env=BENCH_ENV
        )
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        r = parse(out)
        r["error_note"] = f"whole run timed out after {timeout:.0f}s"
        return r
    r = parse(p.stdout)
    r["rc"] = p.returncode
    wall = time.monotonic() - t0
    foreign = (cpu_busy_seconds() - busy0) - (own_children_cpu() - own0)
    # Share of the machine's CPU time used by anything else (other processes, VM steal).
    r["other_cpu_share"] = round(max(0.0, foreign) / (wall * (os.cpu_count() or 1)), 3)
    r["seconds"] = round(time.monotonic() - t0, 2)
    if p.returncode < 0:
        r["error_note"] = f"runner process killed by signal {-p.returncode}"
    if p.stderr.strip():
        r["stderr"] = p.stderr[-4000:]
    if p.returncode != 0 and not r["units"]:
        r["error"] = f"exit {p.returncode}: {p.stderr.strip()[:100]}"
    return r


def row_names(runs: dict) -> tuple[list, list]:
    """(main, details): lists of (metric, unit, target) for the two tables."""
    present = []
    for r in runs.values():
        for name in list(r.get("metrics", {})) + list(r.get("fails", {})) + list(r.get("skips", {})):
            if name not in present:
                present.append(name)
    main, seen = [], set()
    for name, unit, target in ROWS:
        main.append((name, unit, target))
        seen.add(name)
        for mt in MT_UNITS:  # derived scaling rows follow a unit's last per-thread row
            if name == f"{mt}_t8_per_thread_mops":
                for d in present:
                    if d.startswith((f"{mt}_efficiency_t", f"{mt}_oversub_t")):
                        main.append((d, mt, (">=", MT_SCALING_TARGET)))
                        seen.add(d)
    details = [(n, None, None) for n in present if n not in seen]
    return main, details


def table(runs: dict, names: list) -> tuple[list[list[str]], list[str], list[dict]]:
    """Rows [metric, unit, memkind, tiercache, ratio, target, result], failure notes, records."""
    mk, tc = runs.get("memkind"), runs.get("tiercache")
    rows, notes, records = [], [], []
    for name, unit, target in names:
        vm, sm = status_of(mk, name, unit)
        vt, st = status_of(tc, name, unit)
        if sm in ("not run", "n/a") and st in ("not run", "n/a"):
            continue  # unit not selected in this run
        ratio = fmt(vt / vm) if vm and vt is not None else ""
        res, who = check(target, vt), ""
        if res is None and tc_missing(tc):
            res, who = check(target, vm), "memkind: "
        verdict = "" if target is None else ("?" if res is None else who + ("pass" if res else "FAIL"))
        tgt = "" if target is None else f"{target[0]} {fmt(target[1])}"
        unit_str = ""
        for r in (mk, tc):
            if r and name in r.get("metrics", {}):
                unit_str = r["metrics"][name]["unit"]
        for impl, r in (("memkind", mk), ("tiercache", tc)):
            if r and name in r.get("fails", {}):
                notes.append(f"{impl} {name}: {r['fails'][name]}")
        rows.append([name, unit_str, sm, st, ratio, tgt, verdict])
        records.append({"metric": name, "unit": unit_str, "memkind": vm, "memkind_text": sm,
                        "tiercache": vt, "tiercache_text": st, "target": tgt, "result": verdict})
    return rows, notes, records


def tc_missing(tc) -> bool:
    return tc is None or "error" in tc


def print_table(rows):
    head = ["metric", "unit", "memkind", "tiercache", "ratio tc/mk", "target (tc)", "result"]
    widths = [max(len(str(x[i])) for x in rows + [head]) for i in range(len(head))]

    def line(cells):
        return "  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))

    print(line(head))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small counts (smoke run)")
    ap.add_argument("--no-build", action="store_true", help="use the binaries in build/")
    ap.add_argument("--impl", action="append", choices=IMPLS, help="run only these")
    ap.add_argument("--json", metavar="PATH", help="also write results as JSON")
    ap.add_argument("--bench-arg", action="append", default=[], metavar="ARG",
                    help="pass ARG to the bench binaries (repeatable), e.g. --bench-arg=--reps=9")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per binary run")
    ap.add_argument("units", nargs="*", help="units to run (default: all; see bench --list)")
    a = ap.parse_args()

    impls = a.impl or list(IMPLS)
    bench_args = (["--quick"] if a.quick else []) + [
        part for arg in a.bench_arg for part in arg.split("=", 1)] + a.units
    runs, build_log = {}, []
    for impl in impls:
        err = None if a.no_build else build(impl, build_log)
        if err:
            runs[impl] = {"error": err}
            print(f"[run.py] {impl}: {err}", file=sys.stderr)
            continue
        runs[impl] = run_bench(impl, bench_args, a.timeout)
        if "metrics" in runs[impl]:
            add_derived(runs[impl])

    print(f"# native benchmark  host={platform.node()}  {time.strftime('%Y-%m-%d %H:%M:%S')}")
    for impl in IMPLS:
        r = runs.get(impl)
        if r is None:
            continue
        if "error" in r:
            print(f"# {impl}: {r['error']}")
            for b in build_log:
                if b["impl"] == impl and b["rc"] != 0:
                    print(f"#   $ {b['cmd']}")
                    for ln in b["output"].strip().splitlines()[-15:]:
                        print(f"#   | {ln}")
            continue
        i = r["info"]
        print(f"# {impl}: api_version={i.get('api_version')} ncpu={i.get('ncpu')} "
              f"time={r.get('seconds', '?')}s other_cpu={100 * r.get('other_cpu_share', 0):.0f}% "
              f"params: {i.get('params', '')}")
        if r.get("other_cpu_share", 0) > 0.1:
            print("#   WARNING: other work used the CPUs during this run; figures, above all"
                  " mt_*, are unreliable")
        for u, st in r["units"].items():
            if st != "ok":
                print(f"#   unit {u}: {st}")
        for key in ("max_file_kinds_stop", "recreate_after_destroy", "defrag_live_objects"):
            if key in i:
                print(f"#   {key}: {i[key]}")
        for key in (k for k in i if k.endswith("_resident_during_wait")):
            print(f"#   {key}: {i[key]}")
        if "error_note" in r:
            print(f"#   {r['error_note']}")
        if r.get("stderr"):
            print(f"#   stderr: {r['stderr'].strip().splitlines()[-1][:200]}")
    main_names, detail_names = row_names(runs)
    rows, notes, records = table(runs, main_names)
    drows, dnotes, drecords = table(runs, detail_names)
    print()
    print_table(rows)
    if drows:
        print("\ndetails:")
        print_table(drows)
    notes += dnotes
    if notes:
        print("\nfailures:")
        for n in notes:
            print(f"  {n}")
    for impl in IMPLS:
        r = runs.get(impl) or {}
        for name, why in r.get("skips", {}).items():
            print(f"skipped ({impl}) {name}: {why}")
    print("\nNotes: times are medians of repetitions; mt_* totals are summed per-thread rates;"
          " efficiency = total(tN)/(N*total(t1)) at N = ncpu; targets apply to tiercache"
          " ('memkind:' marks a verdict on memkind when tiercache did not run).")

    if a.json:
        doc = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "host": platform.node(),
               "quick": a.quick, "bench_args": bench_args, "rows": records + drecords,
               "runs": runs, "build": build_log}
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1, default=str)
        print(f"\nwrote {a.json}")
    return 0 if any("metrics" in r for r in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
