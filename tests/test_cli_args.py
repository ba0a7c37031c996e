"""`tiercache bench` arguments: parsing into the workload and cache knobs, and one-line
errors with exit status 2 for knobs that make no sense."""

from __future__ import annotations

import gc

import pytest
from helpers import run_python

from tiercache.cli import main
from tiercache.cli.args import bench_args, parse
from tiercache.cli.workload import WorkloadSpec


@pytest.fixture(autouse=True)
def _collect_garbage():
    """Free the caches a failed in-process run left in reference cycles now, not during a
    later test that reads the process-wide DRAM statistics."""
    yield
    gc.collect()


def bench(*argv: str):
    return bench_args(parse(["bench", *argv]))


def test_defaults_follow_memtier_where_they_fit_in_process():
    a = bench()
    assert a.workload == WorkloadSpec()
    assert a.workload.ratio == (1, 10)
    assert a.workload.key_pattern == ("R", "R")
    assert a.workload.data_size == 32
    assert a.percentiles == [50.0, 99.0, 99.9]
    assert a.pmem_temp is True and a.cache.pmem_dir is None
    assert a.prepopulate is True
    assert a.compare == []


def test_workload_knobs_are_parsed():
    a = bench(
        "--ratio", "2:3", "--key-pattern", "s:z", "--key-minimum", "10", "--key-maximum", "99",
        "--key-prefix", "k", "--key-zipf-exp", "0.8", "--data-size-range", "10-20",
        "--data-size-pattern", "S", "-t", "2", "-n", "500", "--expiry-range", "1-5", "-x", "3",
        "--print-percentiles", "50,99.99", "--hide-histogram", "--json-out-file", "o.json",
    )  # fmt: skip
    w = a.workload
    assert w.ratio == (2, 3) and w.key_pattern == ("S", "Z")
    assert (w.key_minimum, w.key_maximum, w.key_prefix) == (10, 99, "k")
    assert w.key_zipf_exp == 0.8
    assert w.data_size_range == (10, 20) and w.data_size_pattern == "S"
    assert (w.threads, w.requests, w.expiry_range) == (2, 500, (1, 5))
    assert a.run_count == 3 and a.percentiles == [50.0, 99.99]
    assert a.hide_histogram and a.json_out == "o.json"


def test_allkeys_requests_cover_the_key_range_and_test_time_replaces_requests():
    assert bench("-n", "allkeys", "--key-maximum", "41").workload.requests == 42
    w = bench("--test-time", "2.5").workload
    assert w.requests is None and w.test_time == 2.5


def test_data_size_list_and_cache_knobs(shm_dir):
    a = bench("--data-size-list", "100:3,2000:1", "--dram-mb", "8", "--pmem-dir", str(shm_dir),
              "--pmem-mb", "32", "--promote-hits", "1", "--compare", "dict,CACHETOOLS,dict",
              "--sweep-dram-mb", "4,8", "--plot", "out")  # fmt: skip
    assert a.workload.data_size_list == ((100, 3), (2000, 1))
    assert a.workload.max_data_size == 2000
    assert (a.cache.dram_mb, a.cache.pmem_dir, a.cache.pmem_mb) == (8, str(shm_dir), 32)
    assert a.cache.capacity_mb == 40 and a.pmem_temp is False
    assert a.cache.promote_hits == 1
    assert a.compare == ["dict", "cachetools"]
    assert a.sweep_dram_mb == [4.0, 8.0] and a.plot_dir == "out"


def test_no_pmem_means_dram_only():
    a = bench("--no-pmem", "--dram-mb", "16")
    assert a.cache.pmem_dir is None and a.pmem_temp is False and a.cache.capacity_mb == 16


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--ratio=-1:10"], "--ratio -1:10: both parts must be >= 0"),
        (["--ratio", "-1:10"], "argument --ratio: expected one argument"),
        (["--ratio", "0:0"], "--ratio 0:0 issues no request"),
        (["--ratio", "1-10"], "--ratio '1-10': expected two values"),
        (["--key-pattern", "R:Q"], "unknown pattern 'Q'"),
        (["--key-pattern", "RR"], "expected SET:GET"),
        (
            ["--key-minimum", "10", "--key-maximum", "5"],
            "--key-minimum 10 is above --key-maximum 5",
        ),
        (["--key-minimum", "-1"], "--key-minimum -1 is negative"),
        (["--key-zipf-exp", "0"], "--key-zipf-exp must be in (0, 5)"),
        (["--key-stddev", "-3"], "--key-stddev must be > 0"),
        (["--key-median", "500", "--key-maximum", "100"], "--key-median 500 is outside"),
        (["-d", "0"], "--data-size must be >= 1"),
        (["-d", "10", "--data-size-range", "1-5"], "use only one of"),
        (["--data-size-range", "9-3"], "need 1 <= min <= max"),
        (["--data-size-list", "100:0"], "sizes and weights must be >= 1"),
        (["--data-size-pattern", "X"], "unknown pattern 'X' (R or S)"),
        (["-t", "0"], "--threads must be in 1..256"),
        (["-n", "0"], "--requests must be >= 1"),
        (["-n", "lots"], "a number or allkeys"),
        (["-n", "5", "--test-time", "1"], "either -n/--requests or --test-time"),
        (["--test-time", "-1"], "--test-time must be > 0"),
        (["--expiry-range", "5-1"], "need 0 <= min <= max"),
        (["-x", "0"], "--run-count must be >= 1"),
        (["--print-percentiles", "50,101"], "each in (0, 100]"),
        (["--compare", "dict,sqlite"], "unknown store 'sqlite'"),
        (["--dram-mb", "-4"], "--dram-mb must be > 0"),
        (["--pmem-dir", "/nonexistent/dir"], "is not a directory"),
        (["--policy", "lru"], "--policy 'lru'"),
        (["--sweep-dram-mb", "8,0"], "each must be > 0"),
        (["--json-out-file", "/nonexistent/dir/o.json"], "no directory '/nonexistent/dir'"),
        (["--no-such-knob"], "unrecognized arguments"),
        (["--threads", "two"], "invalid int value"),
    ],
)
def test_a_knob_that_makes_no_sense_is_one_line_and_exit_2(capsys, argv, message):
    assert main(["bench", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith(("tiercache bench: error: ", "tiercache: error: "))
    assert message in err


def test_exit_2_without_traceback_through_the_real_command():
    out = run_python("-m", "tiercache", "bench", "--key-pattern", "X:R")
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.strip() == (
        "tiercache bench: error: --key-pattern: unknown pattern 'X' (one of R, S, G, Z, P)"
    )


def test_unknown_command_is_exit_2(capsys):
    assert main(["frobnicate"]) == 2
    assert "tiercache: error: argument command: invalid choice" in capsys.readouterr().err


def test_a_workload_tiercache_cannot_hold_is_one_line_and_exit_1(capsys):
    argv = ["bench", "-n", "10", "--key-maximum", "3", "-d", "2000000", "--dram-mb", "1",
            "--no-pmem", "--no-progress"]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("tiercache bench: error: tiercache failed on this workload: ")
    assert "cannot store a value of 2000000 bytes" in err
