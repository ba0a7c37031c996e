"""Fault sweep: run one cache workload with the Nth call of an OS primitive failing, for
every N, and check what the cache promises after each run.

The workload (sets of small, medium and large values, gets that promote, deletes,
overwrites and compaction) runs on a TierCache with a small DRAM tier and a file-backed
capacity tier, checked against a model dict. After each run:
  - every error the API raised is a specific one (OutOfMemoryError or MapFailedError);
  - check() holds;
  - every value acknowledged (set without error) reads back as the model says, or is missing
    and the cache counted at least that many evictions (the only way it may lose one);
  - a failed set kept the previous value.
Crashes are caught by the caller (reliability runs a sweep in a subprocess).

Used by tests/test_faults.py and scripts/reliability.py (`make reliability`).
"""

from __future__ import annotations

import errno
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tiercache
from tiercache import _bindings as _b
from tiercache.errors import MapFailedError, OutOfMemoryError, SystemCallError, TierCacheError

# A fault may surface as running out of memory (the cache maps any failed allocation to it),
# as a failed mapping, and, for an errno that means neither, as a system-call error.
EXPECTED = (OutOfMemoryError, MapFailedError)
EXPECTED_BY_ERRNO = {errno.EIO: (*EXPECTED, SystemCallError)}
PRIMITIVES = [
    "reserve",
    "map_file",
    "map_anon",
    "unmap",
    "dontfork",
    "file_alloc",
    "file_punch",
    "open_tmpfile",
    "check_dir",
    "fs_size",
    "map_sync",
    "mbind",
    "madvise",
]
_MISSING: Any = object()


@dataclass
class Outcome:
    """What one run saw."""

    errors: int = 0  # expected exceptions raised by the API
    violations: list[str] = field(default_factory=list)
    lost: int = 0  # acknowledged values missing beyond what evictions explain
    missing: int = 0
    evictions: int = 0
    injected: int = 0


def value_for(key: int, version: int) -> bytes:
    """Deterministic value: small, medium (DRAM) or large (capacity tier) by key."""
    size = (200, 20_000, 90_000, 300_000)[key % 4]
    stamp = f"{key}:{version}:".encode()
    return (stamp * (size // len(stamp) + 1))[:size]


def workload(
    cache: tiercache.TierCache,
    model: dict[int, bytes],
    out: Outcome,
    steps: int,
    expected: tuple[type[Exception], ...] = EXPECTED,
):
    """Mixed operations; model holds what the cache acknowledged."""

    def guarded(what: str, fn, *args):
        try:
            return fn(*args)
        except expected:
            out.errors += 1
            return _MISSING
        except TierCacheError as exc:  # an error, but not the one a fault should give
            out.violations.append(f"{what}: unexpected {type(exc).__name__}: {exc}")
            return _MISSING

    versions: dict[int, int] = {}
    nkeys = 96
    for i in range(steps):
        key = (i * 7) % nkeys
        op = i % 10
        if op in (0, 1, 2, 3):  # set / overwrite
            versions[key] = versions.get(key, 0) + 1
            value = value_for(key, versions[key])
            if guarded("set", cache.set, key, value) is not _MISSING:
                model[key] = value
        elif op in (4, 5, 6):  # gets (repeated reads promote lower-tier entries)
            for _ in range(3):
                got = guarded("get", cache.get, key, _MISSING)
                if got is _MISSING or got is None:
                    break
                if key in model and bytes(got) != model[key]:
                    out.violations.append(f"get {key}: wrong value")
                    break
                if key not in model:
                    out.violations.append(f"get {key}: present after delete")
                    break
        elif op == 7:  # delete
            if guarded("delete", cache.delete, key) is not _MISSING:
                model.pop(key, None)
        elif op == 8 and i % 50 == 8:  # compaction, purge included
            guarded("compact", cache.compact)
        elif op == 9:
            guarded("contains", cache.__contains__, key)


def verify(cache: tiercache.TierCache, model: dict[int, bytes], out: Outcome) -> None:
    """The end-of-run checks (faults disarmed)."""
    try:
        cache.check()
    except TierCacheError as exc:
        out.violations.append(f"check(): {exc}")
    stats = cache.stats()
    out.evictions = int(stats["evictions"])
    for key, value in model.items():
        got = cache.get(key, _MISSING)
        if got is _MISSING:
            out.missing += 1
        elif bytes(got) != value:
            out.violations.append(f"key {key}: wrong value after the run")
    if out.missing > out.evictions:
        out.lost = out.missing - out.evictions
        out.violations.append(
            f"{out.missing} acknowledged values missing, only {out.evictions} evictions"
        )


def run_once(
    directory: Path,
    primitive: str | None,
    nth: int,
    count: int = 1,
    err: int = errno.ENOMEM,
    steps: int = 400,
    dram_mb: float = 0.25,
    pmem_mb: float = 48,
) -> Outcome:
    """One workload run with calls nth..nth+count-1 of primitive failing (None: no fault)."""
    out = Outcome()
    model: dict[int, bytes] = {}
    expected = EXPECTED_BY_ERRNO.get(err, EXPECTED)
    run_dir = Path(tempfile.mkdtemp(prefix="sweep-", dir=directory))
    cache = None
    try:
        _b.fault_arm(primitive or "any", nth if primitive else 0, count, err)
        try:
            cache = tiercache.TierCache(dram_mb, run_dir, pmem_mb, large_value_bytes=64 * 1024)
        except expected:
            out.errors += 1
        except TierCacheError as exc:
            out.violations.append(f"create: unexpected {type(exc).__name__}: {exc}")
        if cache is not None:
            workload(cache, model, out, steps, expected)
        out.injected = _b.faults_injected()
        _b.fault_disarm()
        if cache is not None:
            verify(cache, model, out)
            # The cache keeps working once the fault is gone.
            try:
                cache.set("after", b"x" * 100_000)
                if cache.get("after") != b"x" * 100_000:
                    out.violations.append("a set after the fault does not read back")
            except TierCacheError as exc:
                out.violations.append(f"a set after the fault failed: {exc!r}")
    finally:
        _b.fault_disarm()
        if cache is not None:
            cache.close()
        leftovers = list(run_dir.iterdir())
        if leftovers:
            out.violations.append(f"files left in the capacity directory: {leftovers}")
        shutil.rmtree(run_dir, ignore_errors=True)
    return out


def run_close_fault(directory: Path, primitive: str, count: int = 0) -> Outcome:
    """Close a used cache (and its file kind) while `primitive` fails: no crash, no files left."""
    out = Outcome()
    model: dict[int, bytes] = {}
    run_dir = Path(tempfile.mkdtemp(prefix="close-", dir=directory))
    try:
        cache = tiercache.TierCache(0.25, run_dir, 48, large_value_bytes=64 * 1024)
        workload(cache, model, out, 200)
        verify(cache, model, out)
        _b.fault_arm(primitive, 1, count, errno.ENOMEM)
        cache.close()
        out.injected = _b.faults_injected()
    finally:
        _b.fault_disarm()
        leftovers = list(run_dir.iterdir())
        if leftovers:
            out.violations.append(f"files left in the capacity directory: {leftovers}")
        shutil.rmtree(run_dir, ignore_errors=True)
    return out


def call_counts(directory: Path, **kwargs: Any) -> dict[str, int]:
    """Calls of each primitive in one fault-free run of the workload."""
    counts: dict[str, int] = {}
    run_dir = Path(tempfile.mkdtemp(prefix="count-", dir=directory))
    try:
        _b.fault_arm("any", 0, 1, errno.ENOMEM)
        cache = tiercache.TierCache(
            kwargs.get("dram_mb", 0.25), run_dir, kwargs.get("pmem_mb", 48), large_value_bytes=65536
        )
        workload(cache, {}, Outcome(), kwargs.get("steps", 400))
        counts = {p: _b.fault_calls(p) for p in [*PRIMITIVES, "any"]}
        _b.fault_disarm()
        cache.close()
    finally:
        _b.fault_disarm()
        shutil.rmtree(run_dir, ignore_errors=True)
    return counts


def spread(total: int, limit: int) -> list[int]:
    """1..total, or `limit` call numbers spread evenly over it (first and last included)."""
    if total <= limit:
        return list(range(1, total + 1))
    return sorted({1 + round(i * (total - 1) / (limit - 1)) for i in range(limit)})


@dataclass
class Summary:
    runs: int = 0
    faults: int = 0
    errors: int = 0
    violations: list[str] = field(default_factory=list)
    lost: int = 0


def sweep(directory: Path, per_primitive: int = 60, modes=((1, errno.ENOMEM),)) -> Summary:
    """For each primitive the workload calls, and each (count, errno) mode, run with call N
    failing for N spread over all its calls."""
    summary = Summary()
    counts = call_counts(directory)
    for primitive in [*PRIMITIVES, "any"]:
        total = counts.get(primitive, 0)
        for count, err in modes:
            for n in spread(total, per_primitive):
                out = run_once(directory, primitive, n, count, err)
                summary.runs += 1
                summary.faults += out.injected
                summary.errors += out.errors
                summary.lost += out.lost
                summary.violations += [f"{primitive}#{n} x{count}: {v}" for v in out.violations]
    for primitive in ("unmap", "map_anon", "file_punch", "any"):
        out = run_close_fault(directory, primitive)
        summary.runs += 1
        summary.faults += out.injected
        summary.lost += out.lost
        summary.violations += [f"close with {primitive} failing: {v}" for v in out.violations]
    return summary
