"""Two layouts of a tiered cache:

1. DRAM + a PMEM/fsdax directory: small values start in DRAM, large ones go to the file tier,
   and when DRAM is full its cold entries are demoted there (nothing is lost);
2. DRAM + a DAX-KMEM or CXL memory node (a CPU-less NUMA node) with TierCache.from_tiers. On a
   machine without such a node it says why and falls back to layout 1.

    .venv/bin/python examples/tiers.py [PMEM_DIR]

PMEM_DIR is a directory on an fsdax mount (or any filesystem that punches holes); without one,
a temporary directory on /dev/shm stands in. MEMKIND_DAX_KMEM_NODES=0 lets node 0 stand in
for a DAX-KMEM node.
"""

from __future__ import annotations

import os
import sys
import tempfile

from tiercache import KindUnavailableError, Tier, TierCache


def fill_and_report(cache: TierCache, label: str) -> None:
    for i in range(8000):  # 8 MB of 1 KB values: more than the 4 MiB of DRAM
        cache[f"session:{i}"] = i.to_bytes(4, "little") * 256
    cache["report.pdf"] = bytes(1 << 20)  # 1 MiB: a large value, straight to the last tier
    intact = all(cache[f"session:{i}"][:4] == i.to_bytes(4, "little") for i in range(8000))
    tiers = cache.stats()["tiers"]
    where = ", ".join(f"{t['name']} {t['items']} items" for t in tiers)
    print(f"{label}: {where}; every value intact: {intact}")


def main(pmem_dir: str) -> None:
    # 1. DRAM + a file tier: TierCache(dram_mb, pmem_dir, pmem_mb).
    with TierCache(dram_mb=4, pmem_dir=pmem_dir, pmem_mb=64) as cache:
        fill_and_report(cache, f"DRAM + file tier in {pmem_dir}")

    # 2. DRAM + a DAX-KMEM (or CXL) node, fastest tier first.
    try:
        cache = TierCache.from_tiers([Tier.dram(4), Tier("dax_kmem", 64)])
        label = "DRAM + DAX-KMEM node"
    except KindUnavailableError as e:
        print(f"no DAX-KMEM/CXL node on this machine ({e});")
        print(f"falling back to DRAM + a file tier in {pmem_dir}")
        cache = TierCache.from_tiers([Tier.dram(4), Tier.file(pmem_dir, 64)])
        label = "fallback"
    with cache:
        fill_and_report(cache, label)


if __name__ == "__main__":
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(prefix="tiercache-example-", dir=shm) as tmp:
        main(sys.argv[1] if len(sys.argv) > 1 else tmp)
