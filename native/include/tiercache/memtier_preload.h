/*
 * The LD_PRELOAD tiering library, build/lib/libtiercache_memtier.so:
 *     LD_PRELOAD=libtiercache_memtier.so \
 *     MEMKIND_MEM_TIERS="KIND:DRAM,RATIO:1;KIND:FS_DAX,PATH:/mnt/pmem,RATIO:4;POLICY:STATIC_RATIO" \
 *     program ...
 * It replaces malloc, calloc, realloc, reallocarray, free, posix_memalign, aligned_alloc,
 * memalign, valloc, pvalloc and malloc_usable_size. The DRAM tier is the C library's own
 * malloc; the other tiers are tiercache kinds. Sizes 0 behave as in glibc. With
 * MEMKIND_MEM_TIERS unset or invalid it prints why on stderr and the program runs on the C
 * library's malloc.
 *
 * Not supported yet: a forked child that touches memory of a file (FS_DAX) tier faults
 * (SIGSEGV), because file-kind memory is not inherited (tiercache.h's fork policy). Programs
 * that fork without exec'ing at once (shells, multiprocessing) need a DRAM-only setup for now.
 *
 * This header is for programs that want to read the tiers' accounting while preloaded (look
 * the function up with dlsym(RTLD_DEFAULT, ...) to run without the library too).
 */
#ifndef TIERCACHE_MEMTIER_PRELOAD_H
#define TIERCACHE_MEMTIER_PRELOAD_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Number of tiers in use (0: running on plain malloc). */
__attribute__((visibility("default"))) unsigned tc_memtier_preload_tiers(void);
/* Bytes (usable sizes) allocated on tier i (in MEMKIND_MEM_TIERS order) now, and its kind's
 * name ("dram", "file", ...). 0, or TC_ERR_INVALID (-1) for a tier that does not exist. */
__attribute__((visibility("default"))) int
tc_memtier_preload_allocated(unsigned tier, size_t *bytes, const char **kind_name);

#ifdef __cplusplus
}
#endif
#endif
