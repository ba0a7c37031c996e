"""`tiercache bench`: short smoke runs (in process, and once through the real command), the
memtier JSON layout, the comparison with peers and the plots."""

from __future__ import annotations

import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tiercache.cli import main

SMALL = ["-n", "330", "--key-maximum", "199", "-d", "100", "--dram-mb", "1", "--pmem-mb", "4",
         "--no-progress", "--hide-histogram"]  # fmt: skip
TYPES = ("Sets", "Gets", "Waits", "Totals")
TYPE_FIELDS = {"Count", "Ops/sec", "Hits/sec", "Misses/sec", "Latency", "Average Latency",
               "Min Latency", "Max Latency", "Percentile Latencies", "KB/sec"}  # fmt: skip


@pytest.fixture(autouse=True)
def _collect_garbage():
    """Free the caches a failed in-process run left in reference cycles now, not during a
    later test that reads the process-wide DRAM statistics."""
    yield
    gc.collect()


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tiercache", "bench", *args],
        capture_output=True, text=True, timeout=120, check=False, cwd=tempfile.gettempdir(),
    )  # fmt: skip


def run_json(tmp_path: Path, capsys, *args: str, drop_requests: bool = False) -> dict:
    """Run the bench command in this process; its JSON document, plus its stdout."""
    out_file = tmp_path / "out.json"
    small = SMALL[2:] if drop_requests else SMALL
    assert main(["bench", *small, "--json-out-file", str(out_file), *args]) == 0
    return json.loads(out_file.read_text()) | {"_stdout": capsys.readouterr().out}


def check_stats(stats: dict, sets: int, gets: int) -> None:
    assert set(stats) >= {*TYPES, "Runtime"}
    for t in TYPES:
        assert set(stats[t]) == TYPE_FIELDS, t
        assert set(stats[t]["Percentile Latencies"]) == {"p50.00", "p99.00", "p99.90"}
    assert stats["Sets"]["Count"] == sets and stats["Gets"]["Count"] == gets
    assert stats["Totals"]["Count"] == sets + gets
    assert stats["Waits"]["Count"] == 0
    assert stats["Runtime"]["Time unit"] == "MILLISECONDS"
    assert stats["Sets"]["Hits/sec"] == 0.0
    g = stats["Gets"]
    duration = stats["Gets"]["Count"] / g["Ops/sec"]
    assert (g["Hits/sec"] + g["Misses/sec"]) * duration == pytest.approx(gets, rel=1e-6)
    assert stats["Totals"]["Ops/sec"] == pytest.approx(
        stats["Sets"]["Ops/sec"] + g["Ops/sec"], rel=1e-6
    )
    p = g["Percentile Latencies"]
    assert 0 < g["Min Latency"] <= p["p50.00"] <= p["p99.00"] <= p["p99.90"] <= g["Max Latency"]
    assert g["KB/sec"] > 0


def test_the_real_command_runs_and_writes_the_json(tmp_path):
    out_file = tmp_path / "out.json"
    out = bench(*SMALL, "--compare", "dict", "--json-out-file", str(out_file))
    assert out.returncode == 0, out.stderr
    assert "COMPARISON: the same 330 requests" in out.stdout
    check_stats(json.loads(out_file.read_text())["ALL STATS"], sets=30, gets=300)


def test_bench_json_keeps_memtier_layout_and_compares_on_the_same_requests(tmp_path, capsys):
    doc = run_json(tmp_path, capsys, "--compare", "dict,cachetools")
    # 330 requests at 1:10: 30 cycles of 11 -> 30 sets, 300 gets
    stats = doc["ALL STATS"]
    check_stats(stats, sets=30, gets=300)
    assert stats["Gets"]["Misses/sec"] == 0.0  # prepopulated, and everything fits
    tiers = stats["Tiers"]
    assert [t["name"] for t in tiers["Tiers"]] == ["dram", "file"]
    assert tiers["Items"] == 200
    assert tiers["Time-Serie"] and set(tiers["Phases"]) == {"prepopulate", "run", "end"}
    assert set(doc["Compare"]) == {"dict", "cachetools"}
    for peer in ("dict", "cachetools"):
        check_stats(doc["Compare"][peer]["ALL STATS"], sets=30, gets=300)
    rows = {r["Store"]: r for r in doc["Comparison"]}
    assert list(rows) == ["tiercache", "dict", "cachetools"]
    assert rows["tiercache"]["Ops/sec ratio"] == 1.0
    assert rows["dict"]["Ops/sec ratio"] == pytest.approx(
        rows["dict"]["Ops/sec"] / rows["tiercache"]["Ops/sec"]
    )
    assert doc["configuration"]["workload"]["ratio"] == [1, 10]
    assert doc["run information"]["harness overhead ns/request"] > 0
    text = doc["_stdout"]
    assert "ALL STATS: tiercache" in text and "ALL STATS: dict" in text
    assert "COMPARISON: the same 330 requests in the same order" in text


def test_bench_several_runs_report_best_worst_and_aggregated(tmp_path, capsys):
    doc = run_json(
        tmp_path, capsys, "-x", "2", "--ratio", "1:1", "-t", "2", "--expiry-range", "0-60"
    )
    assert "ALL STATS" not in doc
    for key in ("BEST RUN RESULTS", "WORST RUN RESULTS", "AGGREGATED AVERAGE RESULTS (2 runs)"):
        check_stats(doc[key], sets=330, gets=330)
    assert (doc["BEST RUN RESULTS"]["Totals"]["Ops/sec"]
            >= doc["WORST RUN RESULTS"]["Totals"]["Ops/sec"])  # fmt: skip


def test_bench_lists_a_peer_whose_server_is_missing_as_skipped(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no redis-server or memcached on this PATH
    doc = run_json(tmp_path, capsys, "--compare", "dict,redis,memcached")
    assert doc["Compare"]["redis"] == {
        "Skipped": "redis-server is not on PATH (apt-get install redis-server)"
    }
    assert "memcached is not on PATH" in doc["Compare"]["memcached"]["Skipped"]
    assert "redis       skipped: redis-server is not on PATH" in doc["_stdout"]
    assert [r["Store"] for r in doc["Comparison"]] == ["tiercache", "dict"]


@pytest.mark.parametrize("peer", ["redis", "memcached", "diskcache"])
def test_bench_runs_the_same_requests_on_a_server_peer(tmp_path, capsys, peer):
    binary = {"redis": "redis-server", "memcached": "memcached"}.get(peer)
    if binary and shutil.which(binary) is None:
        pytest.skip(f"{binary} is not installed")
    doc = run_json(tmp_path, capsys, "--compare", peer, "--expiry-range", "0-60")
    stats = doc["Compare"][peer]["ALL STATS"]
    check_stats(stats, sets=30, gets=300)
    hits = stats["Gets"]["Hits/sec"] / stats["Gets"]["Ops/sec"]
    assert hits > 0.5  # prepopulated: the keys without a ttl are all there


def test_bench_writes_readable_plots(tmp_path, capsys):
    plots = tmp_path / "plots"
    doc = run_json(tmp_path, capsys, "--compare", "dict", "--plot", str(plots),
                   "--sweep-dram-mb", "1,2")  # fmt: skip
    assert "DRAM SWEEP" in doc["_stdout"]
    assert [(r["DRAM MiB"], r["Variant"]) for r in doc["DRAM Sweep"]] == [
        (1, "DRAM + file tier"), (1, "DRAM only"), (2, "DRAM + file tier"), (2, "DRAM only")
    ]  # fmt: skip
    names = sorted(p.name for p in plots.iterdir())
    assert names == ["dram_sweep.png", "latency_cdf.png", "tiers.png"]
    for p in plots.iterdir():
        data = p.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, p.name


def test_bench_test_time_cycles_the_sequence_until_the_time_is_up(tmp_path, capsys):
    doc = run_json(tmp_path, capsys, "--test-time", "0.3", "--ratio", "0:1", drop_requests=True)
    stats = doc["ALL STATS"]
    assert stats["Runtime"]["Total duration"] >= 300
    assert stats["Totals"]["Count"] > 0


# ---- issue 13, item 10 ----


def test_tiercache_without_a_command_prints_the_usage_and_exits_2():
    done = subprocess.run([sys.executable, "-m", "tiercache"], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.startswith("usage: tiercache") and "error:" in done.stderr


def test_negative_seed_is_one_line_and_status_2():
    done = bench("--seed", "-1")
    assert done.returncode == 2
    assert done.stderr.strip() == "tiercache bench: error: --seed must be in [0, 2**32), not -1"


def test_unwritable_plot_directory_is_refused_before_the_run(tmp_path):
    done = bench("-n", "10000000", "--plot", "/proc/x")  # the run would take minutes
    assert done.returncode == 2
    assert done.stderr.startswith("tiercache bench: error: --plot '/proc/x': cannot write")
    assert "Traceback" not in done.stderr


def test_json_records_the_default_pmem_mb_that_was_used(tmp_path, capsys):
    out_file = tmp_path / "out.json"
    args = ["-n", "100", "--key-maximum", "99", "-d", "100", "--dram-mb", "1", "--no-progress"]
    assert main(["bench", *args, "--hide-histogram", "--json-out-file", str(out_file)]) == 0
    assert json.loads(out_file.read_text())["configuration"]["cache"]["pmem_mb"] == 8


def test_sigterm_removes_the_temporary_tier_and_server_directories(tmp_path):
    """Like Ctrl-C: the file tier's directory and redis's socket directory go away."""
    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server here")
    env = {**os.environ, "TMPDIR": str(tmp_path), "TIERCACHE_SCRATCH_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tiercache", "bench", "--test-time", "30", "--key-maximum",
         "1000", "--compare", "redis", "--no-progress", "--hide-histogram"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            made = sorted(p.name for p in tmp_path.glob("tiercache-bench-*"))
            if any("redis" in n for n in made):
                break
            time.sleep(0.05)
        assert any("tier" in n for n in made) and any("redis" in n for n in made), made
        time.sleep(1.0)  # into redis's start or run
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert list(tmp_path.glob("tiercache-bench-*")) == []


def test_server_flag_runs_the_server_benchmark():
    """`tiercache bench --server` hands every other argument to benchmarks/server/bench.py."""
    done = bench("--server", "--help")
    assert done.returncode == 0, done.stderr
    assert "benchmarks/server/bench.py" in done.stdout and "--client-threads" in done.stdout
    done = bench("--server", "--no-such-option")
    assert done.returncode == 2 and "--no-such-option" in done.stderr
