"""Fault injection at the OS seam (native/include/tiercache/testing.h): a cache workload with
the Nth call of each OS primitive failing keeps every promise (tests/faultsweep.py), and a
full capacity-tier filesystem makes the cache raise or evict, never crash."""

from __future__ import annotations

import errno
import gc
import os
import subprocess
from pathlib import Path

import faultsweep
import pytest

import tiercache
from tiercache import _bindings as _b
from tiercache.errors import InvalidArgumentError, OutOfMemoryError

MiB = 1 << 20


@pytest.fixture(autouse=True)
def _collect_garbage():
    """Free this test's caches now, not during a later test's measurements."""
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def _disarmed():
    yield
    _b.fault_disarm()


def test_arm_rejects_an_unknown_primitive_and_a_bad_errno():
    with pytest.raises(InvalidArgumentError):
        _b.fault_arm("no_such_call", 1)
    with pytest.raises(InvalidArgumentError):
        _b.fault_arm("reserve", 1, err=0)


def test_an_armed_fault_fails_exactly_the_nth_call(shm_dir):
    """Kind creation calls check_dir once: failing call 1 fails it, failing call 2 does not."""
    _b.fault_arm("check_dir", 1, 1, errno.ENOMEM)
    with pytest.raises(OutOfMemoryError):
        tiercache.Kind.file(shm_dir)
    assert _b.faults_injected() == 1
    _b.fault_arm("check_dir", 2, 1, errno.ENOMEM)
    with tiercache.Kind.file(shm_dir):
        pass
    assert _b.fault_calls("check_dir") == 1
    assert _b.faults_injected() == 0


def test_the_workload_reaches_every_tier_path(shm_dir):
    """The sweep's workload really demotes, promotes, grows and punches the file."""
    counts = faultsweep.call_counts(shm_dir)
    for primitive in ("reserve", "map_file", "file_alloc", "file_punch", "open_tmpfile"):
        assert counts[primitive] > 0, primitive
    cache = tiercache.TierCache(0.25, shm_dir, 48)
    faultsweep.workload(cache, {}, faultsweep.Outcome(), 400)
    stats = cache.stats()
    cache.close()
    assert stats["promotions"] > 0 and stats["demotions"] > 0
    # Entries (headers and keys with their values), queue segments and ghost tables are
    # allocated on the file tier: its allocation points are swept too.
    assert stats["tiers"][1]["items"] > 0 and stats["ghost_bytes"] > 0


def test_verify_reports_a_value_lost_without_an_eviction(shm_dir):
    """The end-of-run check can fail: a value removed behind the model's back is a loss."""
    cache = tiercache.TierCache(0.25, shm_dir, 48)
    model: dict[int, bytes] = {}
    out = faultsweep.Outcome()
    faultsweep.workload(cache, model, out, 100)
    del cache[next(iter(model))]
    faultsweep.verify(cache, model, out)
    cache.close()
    assert out.lost == 1 and out.violations


@pytest.mark.parametrize(
    ("count", "err"),
    [(1, errno.ENOMEM), (0, errno.ENOSPC), (1, errno.EIO)],
    ids=["once-ENOMEM", "from-then-on-ENOSPC", "once-EIO"],
)
def test_sweep_every_primitive_keeps_acknowledged_values_and_invariants(shm_dir, count, err):
    """For each primitive and N (spread over all its calls), fail call N (once, or from N on):
    no crash, only specific errors, check() holds, no acknowledged value lost."""
    summary = faultsweep.sweep(shm_dir, per_primitive=15, modes=((count, err),))
    assert summary.faults > 0
    assert summary.errors > 0  # the faults surfaced as errors somewhere
    assert summary.violations == []
    assert summary.lost == 0


def _fill(directory: Path) -> None:
    """Write a file until the filesystem is full."""
    subprocess.run(
        ["dd", "if=/dev/zero", f"of={directory / 'filler'}", "bs=64k"],
        capture_output=True,
        check=False,
    )


def test_full_capacity_filesystem_makes_the_cache_raise_or_evict(mounted):
    """On an 8 MiB tmpfs holding a 64 MiB capacity tier: sets past the space raise
    OutOfMemoryError or evict, acknowledged values stay readable, check() holds; then with the
    filesystem filled by someone else, overwrites (which re-grow punched file blocks) still
    never crash."""
    mnt = mounted(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
    with pytest.warns(tiercache.errors.CapacityWarning):  # the tier's budget is cut to fit
        cache = tiercache.TierCache(0.25, mnt, 64)
    model: dict[int, bytes] = {}
    raised = 0
    for i in range(200):
        value = faultsweep.value_for(i, 1) + bytes(200_000)
        try:
            cache[i] = value
            model[i] = value
        except OutOfMemoryError:
            raised += 1
    assert raised > 0 or cache.stats()["evictions"] > 0
    cache.check()
    out = faultsweep.Outcome()
    faultsweep.verify(cache, model, out)
    assert out.violations == [] and out.lost == 0

    for key in list(model)[: len(model) // 2]:
        cache.delete(key)  # it may have been evicted to make room
        del model[key]
    cache.compact()  # punch the freed blocks
    _fill(mnt)
    out = faultsweep.Outcome()
    faultsweep.workload(cache, model, out, 400)
    assert out.violations == []
    cache.check()
    faultsweep.verify(cache, model, out)
    assert out.violations == [] and out.lost == 0
    cache.close()
    assert [p.name for p in mnt.iterdir()] == ["filler"]


def test_filesystem_filled_by_another_program_makes_the_tier_evict_not_fail(mounted):
    """A capacity tier whose filesystem fills up while the cache runs shrinks its budget to
    what it holds and evicts: every set still succeeds; a compaction pass gives the
    configured budget back."""
    mnt = mounted(["-t", "tmpfs", "-o", "size=16m", "tmpfs"])
    cache = tiercache.TierCache(0.25, mnt, 12)  # fits the filesystem: no warning
    value = [bytes([i % 251]) * 200_000 for i in range(120)]
    for i in range(20):
        cache[i] = value[i]
    (mnt / "other").write_bytes(bytes(9 << 20))  # another program takes most of the rest
    for i in range(20, 120):
        cache[i] = value[i]  # 20 MB more than the filesystem holds: evicts, never raises
    tier = cache.stats()["tiers"][1]
    assert tier["budget"] < 12 << 20
    assert tier["evictions"] > 0
    assert tier["used"] <= tier["budget"]
    assert all(cache.get(i) in (None, value[i]) for i in range(120))
    assert cache.get(119) == value[119]
    cache.check()
    (mnt / "other").unlink()
    cache.compact()
    assert cache.stats()["tiers"][1]["budget"] == 12 << 20
    cache.check()
    cache.close()


def test_disarmed_fault_points_cost_nothing_visible():
    """After disarm, calls are no longer counted (the fault point only reads one flag)."""
    _b.fault_arm("any", 0)
    _b.fault_disarm()
    before = _b.fault_calls("any")
    with tiercache.Kind.file(os.environ.get("TMPDIR", "/dev/shm")):
        pass
    assert _b.fault_calls("any") == before
