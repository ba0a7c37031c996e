#!/bin/bash
# The NUMA placement suite (native/tests/numa/test_numa_placement.c):
#  1. on this machine, with the node overrides standing in (MEMKIND_HBW_NODES=0,
#     MEMKIND_DAX_KMEM_NODES=0): HBW, DAX_KMEM and HIGHEST_CAPACITY land on node 0;
#  2. in the multi-node QEMU guest of run-in-numa-vm.sh, against that guest's layout: HBW and
#     HIGHEST_BANDWIDTH_LOCAL on node 1 (the HBM node), DAX_KMEM on node 4 (the kmem NVDIMM),
#     LOWEST_LATENCY_LOCAL and HIGHEST_CAPACITY on node 0, INTERLEAVE over >= 3 nodes, HUGETLB
#     pages of 2 MiB, HBW_HUGETLB in 2 MiB pages on node 1 until its pool is empty (then NULL),
#     HBW_PREFERRED filling node 1 and then falling back, check_dax_path true on the fsdax mount and false on tmpfs.
# The VM script is $NUMA_VM, else ../shared/numa-vm/run-in-numa-vm.sh beside the repository's
# parent, else /work/shared/numa-vm/run-in-numa-vm.sh; without one, part 2 says "skipped".
# Usage: scripts/numa-test.sh [BUILD_DIR]   (run from the repository root)
set -u
BUILD=${1:-native/build}
BIN=$BUILD/tests/numa_placement
fail=0

echo "== NUMA placement, this machine (node 0 overrides standing in)"
MEMKIND_HBW_NODES=0 MEMKIND_DAX_KMEM_NODES=0 "$BIN" hbw=0 kmem=0 cap=0 interleave=1 \
    notdax=/dev/shm || fail=1

repo=$(pwd)
vm=""
for c in "${NUMA_VM:-}" "$repo/../../shared/numa-vm/run-in-numa-vm.sh" \
         "$(dirname "$repo")/shared/numa-vm/run-in-numa-vm.sh" \
         /work/shared/numa-vm/run-in-numa-vm.sh; do
    if [ -n "$c" ] && [ -x "$c" ]; then vm=$c; break; fi
done
if [ -z "$vm" ]; then
    echo "skipped: NUMA placement in the multi-node VM (no run-in-numa-vm.sh: set NUMA_VM)"
    exit $fail
fi

cache=${RIG_CACHE:-/tmp/numa-vm/cache}
if ! ls "$cache"/initramfs-* >/dev/null 2>&1; then
    echo "== numa-vm: first use on this machine, setting up ($vm --setup-only)"
    "$vm" --setup-only || { echo "skipped: numa-vm setup failed (see above)"; exit $fail; }
fi

echo "== NUMA placement in the multi-node VM ($vm)"
# The HBM node is shrunk to 256 MiB so that HBW_PREFERRED can be shown to fall back (spill=).
# One boot runs the C suite, then the Python tests marked numa (when .venv exists).
# The guest's HBM node declares 80 GB/s, under memkind's 200 GB/s default threshold.
pytest_cmd="echo 'skipped: Python numa tests (no .venv: run make deps)'"
if [ -x .venv/bin/pytest ]; then
    pytest_cmd=".venv/bin/pytest -q -p no:cacheprovider -m numa tests/test_kind_numa.py"
fi
"$vm" --pmem fsdax --pmem2 kmem --hugepages 16 --mem1 256 -t 400 -s "$repo" -C "$repo" \
    -e MEMKIND_HBW_THRESHOLD=40000 -- sh -c "
    $BIN hbw=1 bw=1 kmem=4 lowlat=0 cap=0 interleave=3 hugetlb=1 hbwhuge=1 spill=320 dax=/mnt/pmem0 \
        notdax=/dev/shm; c=\$?
    echo '== Python tests marked numa, in the VM'
    $pytest_cmd; p=\$?
    [ \$c -eq 0 ] && [ \$p -eq 0 ]"
rc=$?
if [ $rc -eq 125 ]; then
    echo "skipped: the numa VM failed to start (exit 125)"
elif [ $rc -ne 0 ]; then
    fail=1
fi
exit $fail
