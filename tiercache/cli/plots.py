"""`tiercache bench --plot DIR`: PNG pictures of a benchmark, with matplotlib (Agg, no display).

latency_cdf.png     GET and SET latency CDF of every store (log latency axis)
dram_sweep.png      tiercache throughput and hit ratio against the DRAM budget
                    (--sweep-dram-mb), with the capacity tier and DRAM-only
tiers.png           tiercache's tier occupancy, promotions and demotions while it is
                    prepopulated and while it runs (TierCache.stats() every 50 ms)
"""

from __future__ import annotations

import os
from typing import Any

from tiercache.cli.report import StoreResults

COLORS = {
    "tiercache": "#d62728",
    "dict": "#7f7f7f",
    "cachetools": "#2ca02c",
    "diskcache": "#9467bd",
    "redis": "#1f77b4",
    "memcached": "#ff7f0e",
}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _cdf(hist: Any) -> tuple[list[float], list[float]]:
    """(latency in usec, percentile) points of a histogram's CDF."""
    xs, ys = [], []
    for item in hist.get_percentile_iterator(5):
        xs.append(item.value_iterated_to / 1000)
        ys.append(item.percentile)
        if item.percentile >= 100.0:
            break
    return xs, ys


def latency_cdf(path: str, results: list[StoreResults]) -> str:
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
    for ax, op in zip(axes, ("gets", "sets")):
        for res in results:
            hist = getattr(res.aggregate(), op).hist
            if hist.get_total_count() == 0:
                continue
            xs, ys = _cdf(hist)
            ax.step(xs, ys, where="post", label=res.name, color=COLORS.get(res.name), lw=1.8)
        ax.set_xscale("log")
        ax.set_xlabel("latency (µs, log scale)")
        ax.set_title(f"{op[:-1].upper()} latency CDF")
        ax.grid(True, which="both", alpha=0.3)
        ax.set_ylim(0, 100.5)
    axes[0].set_ylabel("requests at or below (%)")
    axes[0].legend(loc="lower right")
    fig.suptitle("Same requests, same order, every store (one process, in-process timing)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def dram_sweep(path: str, rows: list[dict[str, Any]]) -> str:
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    for variant, style in (("DRAM + file tier", "o-"), ("DRAM only", "s--")):
        pts = [r for r in rows if r["Variant"] == variant]
        if not pts:
            continue
        mbs = [r["DRAM MiB"] for r in pts]
        ax1.plot(mbs, [r["Ops/sec"] for r in pts], style, label=f"tiercache, {variant}")
        ax2.plot(mbs, [r["Hit Ratio"] for r in pts], style, label=f"tiercache, {variant}")
    budgets = sorted({r["DRAM MiB"] for r in rows})
    for ax in (ax1, ax2):
        ax.set_xscale("log", base=2)
        ax.set_xticks(budgets, [f"{b:g}" for b in budgets])
        ax.minorticks_off()
        ax.set_xlabel("DRAM budget (MiB, log scale)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    ax1.set_ylabel("throughput (ops/sec)")
    ax1.set_ylim(bottom=0)
    ax1.set_title("Throughput vs DRAM budget")
    ax2.set_ylabel("GET hit ratio")
    ax2.set_ylim(0, 1.02)
    ax2.set_title("Hit ratio vs DRAM budget")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def tiers(path: str, samples: list[dict[str, Any]], marks: dict[str, float]) -> str:
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    t = [s["t"] for s in samples]
    for i, tier in enumerate(samples[0]["tiers"]):
        budget = tier["budget"]
        used = [100.0 * s["tiers"][i]["used"] / budget for s in samples]
        items = samples[-1]["tiers"][i]["items"]
        ax1.plot(t, used, lw=2, label=f"{tier['name']} (budget {budget / (1 << 20):g} MiB, "
                 f"{items:,} items at the end)")  # fmt: skip
    ax1.set_ylabel("used (% of the tier's budget)")
    ax1.set_ylim(0, 105)
    ax1.set_title("tiercache tier occupancy")
    ax1.grid(True, alpha=0.3)
    ax1.legend(loc="lower right", fontsize=9)
    for key, color in (("promotions", "#2ca02c"), ("demotions", "#d62728"),
                       ("evictions", "#7f7f7f")):  # fmt: skip
        ax2.plot(t, [s[key] for s in samples], lw=2, color=color, label=key)
    ax2.set_xlabel("seconds")
    ax2.set_ylabel("count (cumulative)")
    ax2.set_title("promotions, demotions and evictions")
    ax2.grid(True, alpha=0.3)
    ax2.legend(loc="upper left")
    for ax in (ax1, ax2):
        for name, at in marks.items():
            ax.axvline(at, color="black", ls=":", lw=1)
            if ax is ax1:
                ax.text(at, 102, f" {name}", fontsize=8, va="bottom")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_all(
    directory: str, results: list[StoreResults], sweep: list[dict[str, Any]]
) -> list[str]:
    """Write every plot the data allows into directory; returns their paths."""
    os.makedirs(directory, exist_ok=True)
    paths = [latency_cdf(os.path.join(directory, "latency_cdf.png"), results)]
    if sweep:
        paths.append(dram_sweep(os.path.join(directory, "dram_sweep.png"), sweep))
    tc = next((r for r in results if r.name == "tiercache"), None)
    if tc is not None and len(tc.runs[-1].tier_samples) >= 2:
        last = tc.runs[-1]
        paths.append(
            tiers(os.path.join(directory, "tiers.png"), last.tier_samples, last.tier_marks)
        )
    return paths
