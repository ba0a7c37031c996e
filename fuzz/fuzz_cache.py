"""Differential fuzzer: byte-coded operation sequences on TierCache against a reference model.

    python fuzz/fuzz_cache.py fuzz/corpus/cache -max_total_time=30     (atheris/libFuzzer)
    python fuzz/fuzz_cache.py --replay FILE...                         (no atheris needed)

Each input builds a small two-tier cache (DRAM plus a file tier on /dev/shm, tight budgets so
that demotion, promotion and eviction happen) and runs one operation per 3-byte chunk: set,
get (copied or zero-copy), delete, contains, touch, pop, compact, clear, expire, len, keys,
check. The model is a dict of acknowledged values, and the policy's allowances:
  - a key the model holds may be missing (evicted), but never more keys than the cache counts
    as evicted, and once seen missing it stays out of the model;
  - a present key holds exactly the model's value; a key the model lacks is absent;
  - a failed set (OutOfMemoryError, EntryTooLargeError) keeps the previous value;
  - zero-copy views keep their bytes until dropped, whatever happens to the key;
  - check() holds after every input.
Any breach raises InvariantViolation, which libFuzzer reports as a crash with the input saved.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

try:
    import atheris
except ImportError:  # replay mode works without it
    atheris = None

if atheris is not None and __name__ == "__main__":  # coverage of the Python layer
    with atheris.instrument_imports():
        import tiercache
        from tiercache.errors import EntryTooLargeError, OutOfMemoryError
else:
    import tiercache
    from tiercache.errors import EntryTooLargeError, OutOfMemoryError

NKEYS = 24
SIZES = (0, 1, 100, 1000, 5000, 20_000, 70_000, 150_000, 400_000)
SCRATCH = ""  # the capacity-tier directory; made on first use
_MISSING = object()


class InvariantViolation(AssertionError):
    """The cache broke a promise the model checks."""


def value_of(key: int, size: int, version: int) -> bytes:
    stamp = bytes([key, version & 0xFF, (version >> 8) & 0xFF, 0x5A])
    return (stamp * (size // 4 + 1))[:size]


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise InvariantViolation(what)


def run(data: bytes) -> None:
    global SCRATCH
    if len(data) < 3:
        return
    if not SCRATCH:
        SCRATCH = tempfile.mkdtemp(prefix="tiercache-fuzz-", dir="/dev/shm")
    dram_mb = (0.0625, 0.125, 0.25)[data[0] % 3]
    pmem_mb = (0.5, 1, 4)[data[1] % 3]
    promote = data[2] % 4
    cache = tiercache.TierCache(
        dram_mb, SCRATCH, pmem_mb, large_value_bytes=64 * 1024, promote_hits=promote
    )
    model: dict[int, bytes] = {}
    views: list[tuple[memoryview, bytes]] = []
    version = 0
    missing_seen = 0
    try:
        for i in range(3, len(data) - 2, 3):
            op, a, b = data[i] % 16, data[i + 1], data[i + 2]
            key = a % NKEYS
            if op <= 4:  # set (the most common operation)
                version += 1
                value = value_of(key, SIZES[b % len(SIZES)], version)
                try:
                    cache.set(key, value, ttl=3600 if b & 0x80 else None)
                    model[key] = value
                except (OutOfMemoryError, EntryTooLargeError):
                    pass  # the old value (if any) must still be there: checked on reads
            elif op <= 7:  # get, copied or zero-copy
                got = cache.get(key, _MISSING, copy=bool(b & 1))
                if got is _MISSING:
                    if key in model:
                        missing_seen += 1
                        del model[key]  # evicted: allowed, checked against the count below
                else:
                    expect(key in model, f"get {key}: present but deleted or never set")
                    expect(bytes(got) == model[key], f"get {key}: wrong value")
                    if isinstance(got, memoryview) and len(views) < 8:
                        views.append((got, model[key]))
            elif op == 8:
                removed = cache.delete(key)
                expect(not removed or key in model, f"delete {key}: removed an unknown key")
                if not removed and key in model:
                    missing_seen += 1
                model.pop(key, None)
            elif op == 9:
                present = key in cache
                expect(not present or key in model, f"contains {key}: ghost key")
                if not present and key in model:
                    missing_seen += 1
                    del model[key]
            elif op == 10:
                try:
                    touched = cache.touch(key, 3600 if b & 1 else None)
                    expect(not touched or key in model, f"touch {key}: ghost key")
                except OutOfMemoryError:
                    # Giving an entry a TTL can need a bigger block (undocumented in cache.h;
                    # reported): allowed only if nothing is lost.
                    got = cache.get(key, _MISSING)
                    expect(got is _MISSING or got == model.get(key), f"touch {key}: lost value")
            elif op == 11:
                got = cache.pop(key, _MISSING)
                if got is not _MISSING:
                    expect(key in model and got == model[key], f"pop {key}: wrong value")
                elif key in model:
                    missing_seen += 1
                model.pop(key, None)
            elif op == 12:
                cache.compact(purge=bool(b & 1))
            elif op == 13 and b % 8 == 0:
                cache.clear()
                model.clear()
            elif op == 14:
                expect(set(cache) <= set(model), "keys(): a key the model does not hold")
                expect(len(cache) <= len(model), "len(): more keys than acknowledged")
            elif op == 15:
                cache.expire()
                cache.check()
            stats = cache.stats()
            expect(
                missing_seen <= stats["evictions"],
                f"{missing_seen} acknowledged keys missing, {stats['evictions']} evicted",
            )
        cache.check()
        for key, value in model.items():  # the final sweep
            got = cache.get(key, _MISSING)
            expect(got is _MISSING or got == value, f"final get {key}: wrong value")
        for view, value in views:
            expect(bytes(view) == value, "a zero-copy view changed under its holder")
        cache.close()
        for view, value in views:
            expect(bytes(view) == value, "a zero-copy view changed after close")
    finally:
        views.clear()
        cache.close()


def test_one_input(data: bytes) -> None:
    run(data)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--replay":
        for path in sys.argv[2:]:
            if os.path.isdir(path):
                files = [os.path.join(path, f) for f in sorted(os.listdir(path))]
            else:
                files = [path]
            for name in files:
                with open(name, "rb") as f:
                    run(f.read())
        print(f"replayed {len(sys.argv) - 2} path(s): no violation")
        shutil.rmtree(SCRATCH, ignore_errors=True)
        return
    if atheris is None:
        sys.exit("atheris is not installed (pip install atheris), or use --replay")
    atheris.Setup(sys.argv, test_one_input)
    try:
        atheris.Fuzz()
    finally:
        shutil.rmtree(SCRATCH, ignore_errors=True)


if __name__ == "__main__":
    main()
