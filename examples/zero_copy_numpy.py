"""Zero-copy reads of large values: numpy arrays stored as raw bytes on the capacity tier and
read back with get(copy=False), a read-only memoryview of the stored bytes that numpy wraps
without copying. A view stays valid while held, even after the key is overwritten.

    .venv/bin/python examples/zero_copy_numpy.py [PMEM_DIR]
"""

from __future__ import annotations

import os
import sys
import tempfile

import numpy as np

from tiercache import TierCache


def put_array(cache: TierCache, key: str, a: np.ndarray) -> None:
    cache[key] = memoryview(np.ascontiguousarray(a)).cast("B")  # stored raw, as bytes
    cache[key + ":meta"] = (a.dtype.str, list(a.shape))  # dtype and shape, msgpack-encoded


def get_array(cache: TierCache, key: str) -> np.ndarray:
    """A read-only array over the cached bytes (no copy)."""
    dtype, shape = cache[key + ":meta"]
    return np.frombuffer(cache.get(key, copy=False), dtype=dtype).reshape(shape)


def main(pmem_dir: str) -> None:
    with TierCache(dram_mb=16, pmem_dir=pmem_dir, pmem_mb=256) as cache:
        image = np.arange(1024 * 2048, dtype=np.float32).reshape(1024, 2048)  # 8 MiB
        put_array(cache, "image", image)
        a, b = get_array(cache, "image"), get_array(cache, "image")
        print(f"shape {a.shape} {a.dtype}, equal to the original: {np.array_equal(a, image)}")
        print(f"two reads share memory (no copy): {np.shares_memory(a, b)}")
        print(f"read-only: {not a.flags.writeable}")
        print(f"on the file tier: {cache.stats()['tiers'][1]['items']} items")
        put_array(cache, "image", np.zeros((2, 2), dtype=np.float32))  # overwrite the key
        print(
            f"old view after overwrite still reads the old values: {a[1023, 2047] == image[-1, -1]}"
        )
        del a, b  # releasing the views lets the old value's memory go


if __name__ == "__main__":
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(prefix="tiercache-example-", dir=shm) as tmp:
        main(sys.argv[1] if len(sys.argv) > 1 else tmp)
