#!/bin/sh
# Tier the heap of unmodified programs between DRAM and a PMEM/fsdax directory: preload
# libtiercache_memtier.so and describe the tiers in MEMKIND_MEM_TIERS (memkind's format).
#
#     examples/memtier_preload.sh [LIBRARY] [PMEM_DIR]
#
# LIBRARY defaults to native/build/lib/libtiercache_memtier.so (make -C native builds it),
# PMEM_DIR to /dev/shm. STATIC_RATIO 1:4 puts about 4 bytes in the file tier for each byte in
# DRAM. PYTHON names the interpreter of the second program (default python3).
set -eu
LIB=$(realpath "${1:-native/build/lib/libtiercache_memtier.so}")
DIR=${2:-/dev/shm}
TIERS="KIND:DRAM,RATIO:1;KIND:FS_DAX,PATH:$DIR,PMEM_SIZE_LIMIT:1G,RATIO:4;POLICY:STATIC_RATIO"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. coreutils' sort, tiered: the same output as on plain malloc.
seq 300000 | sort -R >"$tmp/in"
sort -n "$tmp/in" >"$tmp/plain"
LD_PRELOAD=$LIB MEMKIND_MEM_TIERS=$TIERS sort -n "$tmp/in" >"$tmp/tiered"
cmp -s "$tmp/plain" "$tmp/tiered" && same=yes || same=no
echo "sort, tiered: $(wc -l <"$tmp/tiered") lines, same output as untiered: $same"

# 2. Python, tiered; it reads the tiers' accounting from the preloaded library (dlsym, through
#    ctypes) while 80 MB of its objects are alive.
LD_PRELOAD=$LIB MEMKIND_MEM_TIERS=$TIERS "${PYTHON:-python3}" - <<'PY'
import ctypes

lib = ctypes.CDLL(None)  # the process's global symbols, the preloaded library's among them
allocated = lib.tc_memtier_preload_allocated
allocated.argtypes = [ctypes.c_uint, ctypes.POINTER(ctypes.c_size_t), ctypes.POINTER(ctypes.c_char_p)]
keep = [bytearray(4096) for _ in range(20000)]  # each one a malloc of 4 KiB
for tier in range(lib.tc_memtier_preload_tiers()):
    size, name = ctypes.c_size_t(), ctypes.c_char_p()
    allocated(tier, ctypes.byref(size), ctypes.byref(name))
    print(f"python, tiered: tier {tier} ({name.value.decode()}) holds {size.value >> 20} MiB")
PY

# 3. A wrong MEMKIND_MEM_TIERS: the library says why and the program runs on plain malloc.
answer=$(LD_PRELOAD=$LIB MEMKIND_MEM_TIERS="KIND:HBM,RATIO:1;POLICY:STATIC_RATIO" \
    expr 6 \* 7 2>"$tmp/err")
echo "expr 6 \* 7 with a wrong MEMKIND_MEM_TIERS: $answer"
sed 's/^/  its stderr: /' "$tmp/err"
