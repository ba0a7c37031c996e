"""memtier_benchmark's report, for one store or many: the text tables and the JSON document.

Text: per store an "ALL STATS" table (Sets, Gets, Waits, Totals with Ops/sec, Hits/sec,
Misses/sec, Avg. Latency, the --print-percentiles and KB/sec; latencies in msec as memtier
prints them), the "Request Latency Distribution" unless --hide-histogram, and tiercache's
tier counters; then the comparison table of every store against tiercache.

JSON: memtier's layout. One run: "ALL STATS"; several (-x): "BEST RUN RESULTS", "WORST RUN
RESULTS" and "AGGREGATED AVERAGE RESULTS (N runs)". Each holds "Sets", "Gets", "Waits",
"Totals" (Count, Ops/sec, Hits/sec, Misses/sec, Latency, Average/Min/Max Latency, KB/sec,
"Percentile Latencies" {"p50.00": ...}) and "Runtime". tiercache's own counters sit under
"Tiers"; the peers' documents under "Compare"; ratios under "Comparison".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tiercache.cli.runner import OpStats, RunResult

NS_PER_MS = 1e6


@dataclass
class StoreResults:
    """Every run of one store (several with -x), and how it was set up."""

    name: str
    note: str
    runs: list[RunResult]
    prepopulate_s: float = 0.0

    def best(self) -> RunResult:
        return max(self.runs, key=lambda r: r.ops_per_sec)

    def worst(self) -> RunResult:
        return min(self.runs, key=lambda r: r.ops_per_sec)

    def aggregate(self) -> RunResult:
        """Counts and histograms merged; duration the mean, so Ops/sec is the mean rate."""
        if len(self.runs) == 1:
            return self.runs[0]
        sets, gets = OpStats(), OpStats()
        for r in self.runs:
            sets.merge(r.sets)
            gets.merge(r.gets)
        n = len(self.runs)
        for s in (sets, gets):
            s.count, s.hits, s.misses, s.bytes = (
                s.count / n, s.hits / n, s.misses / n, s.bytes / n,
            )  # fmt: skip
        agg = RunResult(
            self.name, sets, gets, self.runs[0].start, sum(r.duration for r in self.runs) / n
        )
        agg.tier_stats = self.runs[-1].tier_stats
        agg.tier_samples = self.runs[-1].tier_samples
        agg.tier_marks = self.runs[-1].tier_marks
        return agg


def percentile_key(p: float) -> str:
    """memtier's JSON key for a percentile: "p50.00", "p99.90", "p99.999"."""
    text = f"{p:.2f}"
    return f"p{text}" if float(text) == p else f"p{p:g}"


def _latency_fields(s: OpStats, percentiles: list[float]) -> dict[str, Any]:
    h = s.hist
    has = h.get_total_count() > 0
    avg = s.mean_ns / NS_PER_MS
    return {
        "Latency": avg,
        "Average Latency": avg,
        "Min Latency": h.get_min_value() / NS_PER_MS if has else 0.0,
        "Max Latency": h.get_max_value() / NS_PER_MS if has else 0.0,
        "Percentile Latencies": {
            percentile_key(p): (h.get_value_at_percentile(p) / NS_PER_MS if has else 0.0)
            for p in percentiles
        },
    }


def _type_doc(s: OpStats, duration: float, percentiles: list[float], hits: bool) -> dict[str, Any]:
    rate = (lambda x: x / duration) if duration > 0 else (lambda x: 0.0)
    doc: dict[str, Any] = {
        "Count": round(s.count),
        "Ops/sec": rate(s.count),
        "Hits/sec": rate(s.hits) if hits else 0.0,
        "Misses/sec": rate(s.misses) if hits else 0.0,
    }
    doc.update(_latency_fields(s, percentiles))
    doc["KB/sec"] = rate(s.bytes) / 1024
    return doc


def tiers_doc(r: RunResult) -> dict[str, Any] | None:
    """tiercache's counters at the end of the run, and the samples taken during it."""
    if r.tier_stats is None:
        return None
    s = r.tier_stats
    return {
        "Hit Ratio": s["hit_ratio"],
        "Promotions": s["promotions"],
        "Demotions": s["demotions"],
        "Evictions": s["evictions"],
        "Expirations": s["expirations"],
        "Items": s["items"],
        "Tiers": [
            {k: t.get(k) for k in ("name", "kind", "path", "budget", "used", "value_bytes",
                                    "items", "hits", "promotions", "demotions", "evictions")}
            for t in s["tiers"]
        ],
        "Phases": r.tier_marks,
        "Time-Serie": r.tier_samples,
    }  # fmt: skip


def stats_doc(r: RunResult, percentiles: list[float]) -> dict[str, Any]:
    """One memtier "ALL STATS"-style object for one run (or an aggregate)."""
    totals = OpStats(
        count=r.sets.count + r.gets.count,
        hits=r.gets.hits,
        misses=r.gets.misses,
        bytes=r.sets.bytes + r.gets.bytes,
        total_ns=r.sets.total_ns + r.gets.total_ns,
    )
    totals.hist.add(r.sets.hist)
    totals.hist.add(r.gets.hist)
    waits = OpStats()
    doc: dict[str, Any] = {
        "Sets": _type_doc(r.sets, r.duration, percentiles, hits=False),
        "Gets": _type_doc(r.gets, r.duration, percentiles, hits=True),
        "Waits": _type_doc(waits, r.duration, percentiles, hits=False),
        "Totals": _type_doc(totals, r.duration, percentiles, hits=True),
        "Runtime": {
            "Start time": int(r.start * 1000),
            "Finish time": int((r.start + r.duration) * 1000),
            "Total duration": round(r.duration * 1000),
            "Time unit": "MILLISECONDS",
        },
    }
    tiers = tiers_doc(r)
    if tiers is not None:
        doc["Tiers"] = tiers
    return doc


def results_doc(res: StoreResults, percentiles: list[float]) -> dict[str, Any]:
    """memtier's sections for one store: "ALL STATS", or best/worst/aggregated for -x > 1."""
    if len(res.runs) == 1:
        return {"ALL STATS": stats_doc(res.runs[0], percentiles)}
    return {
        "BEST RUN RESULTS": stats_doc(res.best(), percentiles),
        "WORST RUN RESULTS": stats_doc(res.worst(), percentiles),
        f"AGGREGATED AVERAGE RESULTS ({len(res.runs)} runs)": stats_doc(
            res.aggregate(), percentiles
        ),
    }


# ---------------------------------------------------------------- text


def _ms(value_ns: float) -> str:
    return f"{value_ns / NS_PER_MS:.6f}"


def _row(label: str, doc: dict[str, Any], percentiles: list[float], hits: bool) -> str:
    hit = (
        f"{doc['Hits/sec']:12.2f} {doc['Misses/sec']:12.2f}" if hits else f"{'---':>12} {'---':>12}"
    )
    pcts = " ".join(f"{doc['Percentile Latencies'][percentile_key(p)]:15.6f}" for p in percentiles)
    return (
        f"{label:<6} {doc['Ops/sec']:12.2f} {hit} {doc['Average Latency']:15.6f} {pcts} "
        f"{doc['KB/sec']:12.2f}"
    )


def stats_table(title: str, doc: dict[str, Any], percentiles: list[float]) -> str:
    pct_heads = " ".join(f"{('p' + format(p, 'g') + ' Latency'):>15}" for p in percentiles)
    head = (
        f"{'Type':<6} {'Ops/sec':>12} {'Hits/sec':>12} {'Misses/sec':>12} "
        f"{'Avg. Latency':>15} {pct_heads} {'KB/sec':>12}"
    )
    width = len(head)
    waits = (
        f"{'Waits':<6} {0.0:12.2f} {'---':>12} {'---':>12} {'---':>15} "
        + " ".join(f"{'---':>15}" for _ in percentiles)
        + f" {'---':>12}"
    )
    lines = [
        title,
        "=" * width,
        head,
        "-" * width,
        _row("Sets", doc["Sets"], percentiles, hits=False),
        _row("Gets", doc["Gets"], percentiles, hits=True),
        waits,
        _row("Totals", doc["Totals"], percentiles, hits=True),
    ]
    return "\n".join(lines)


def histogram_text(r: RunResult) -> str:
    """memtier's "Request Latency Distribution": msec bound, cumulative percent per type."""
    lines = ["Request Latency Distribution", f"{'Type':<8} {'<= msec':>12} {'Percent':>12}",
             "-" * 72]  # fmt: skip
    for label, s in (("SET", r.sets), ("GET", r.gets)):
        h = s.hist
        if h.get_total_count() == 0:
            continue
        last = None
        for item in h.get_percentile_iterator(2):
            line = f"{label:<8} {_ms(item.value_iterated_to):>12} {item.percentile:12.3f}"
            if line != last:
                lines.append(line)
                last = line
            if item.percentile >= 100.0:
                break
        lines.append("---")
    return "\n".join(lines)


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def tiers_text(r: RunResult) -> str | None:
    doc = tiers_doc(r)
    if doc is None:
        return None
    tiers = " | ".join(
        f"{t['name']} {_human(t['used'])} of {_human(t['budget'])}, {t['items']:,} items"
        for t in doc["Tiers"]
    )
    return (
        f"Tiers: {tiers}\n"
        f"       hit ratio {doc['Hit Ratio']:.3f}, promotions {doc['Promotions']:,}, "
        f"demotions {doc['Demotions']:,}, evictions {doc['Evictions']:,}"
    )


def store_text(res: StoreResults, percentiles: list[float], hide_histogram: bool) -> str:
    """The memtier report of one store (every section of results_doc)."""
    parts = []
    for section, doc in results_doc(res, percentiles).items():
        parts.append(stats_table(f"{section}: {res.name} ({res.note})", doc, percentiles))
    agg = res.aggregate()
    if not hide_histogram:
        parts.append(histogram_text(agg))
    tiers = tiers_text(agg)
    if tiers:
        parts.append(tiers)
    return "\n\n".join(parts)


# ---------------------------------------------------------------- comparison


def comparison_rows(results: list[StoreResults]) -> list[dict[str, Any]]:
    """Per store: throughput, hit ratio and get/set latencies, with ratios to tiercache
    (the first entry). Ratios are store / tiercache: above 1 is faster for Ops/sec, slower
    for latencies."""
    rows = []
    base = None
    for res in results:
        r = res.aggregate()
        row = {
            "Store": res.name,
            "Note": res.note,
            "Ops/sec": r.ops_per_sec,
            "Hit Ratio": r.hit_ratio,
            "GET p50 usec": r.gets.hist.get_value_at_percentile(50) / 1000,
            "GET p99 usec": r.gets.hist.get_value_at_percentile(99) / 1000,
            "SET p50 usec": r.sets.hist.get_value_at_percentile(50) / 1000,
            "SET p99 usec": r.sets.hist.get_value_at_percentile(99) / 1000,
        }
        if base is None:
            base = row
        for key in ("Ops/sec", "GET p50 usec", "GET p99 usec", "SET p50 usec", "SET p99 usec"):
            row[f"{key} ratio"] = row[key] / base[key] if base[key] else None
        rows.append(row)
    return rows


def comparison_text(rows: list[dict[str, Any]], skipped: dict[str, str], requests: int) -> str:
    def ratio(x: float | None) -> str:
        return "   -" if x is None else f"{x:5.2f}x"

    head = (
        f"{'Store':<11} {'Ops/sec':>11} {'vs tc':>6} {'Hit ratio':>9} "
        f"{'GET p50 us':>10} {'vs tc':>6} {'GET p99 us':>10} {'vs tc':>6} "
        f"{'SET p50 us':>10} {'vs tc':>6} {'SET p99 us':>10} {'vs tc':>6}"
    )
    lines = [
        f"COMPARISON: the same {requests:,} requests in the same order on every store "
        "(ratios: store / tiercache)",
        "=" * len(head),
        head,
        "-" * len(head),
    ]
    for r in rows:
        lines.append(
            f"{r['Store']:<11} {r['Ops/sec']:11,.0f} {ratio(r['Ops/sec ratio'])} "
            f"{r['Hit Ratio']:9.3f} "
            f"{r['GET p50 usec']:10.2f} {ratio(r['GET p50 usec ratio'])} "
            f"{r['GET p99 usec']:10.2f} {ratio(r['GET p99 usec ratio'])} "
            f"{r['SET p50 usec']:10.2f} {ratio(r['SET p50 usec ratio'])} "
            f"{r['SET p99 usec']:10.2f} {ratio(r['SET p99 usec ratio'])}"
        )
    for name, reason in skipped.items():
        lines.append(f"{name:<11} skipped: {reason}")
    lines.append("")
    lines.extend(f"  {r['Store']:<11} {r['Note']}" for r in rows)
    return "\n".join(lines)
