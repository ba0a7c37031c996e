/* What the memtier units share: tier choice and per-kind accounting (tc__ prefix, hidden). */
#ifndef TC_MEMTIER_INTERNAL_H
#define TC_MEMTIER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "memkind_memtier.h"

#define TC_MEMTIER_MAX_TIERS 16

/* The kind the memory's policy picks for an allocation of `size` bytes (counts the operation
 * and, for DYNAMIC_THRESHOLD, moves the thresholds every check_cnt operations). */
memkind_t tc__memtier_pick(struct memtier_memory *m, size_t size);
/* Add delta bytes to kind's memtier accounting. Lock-free. */
void tc__memtier_account(memkind_t kind, int64_t delta);
/* A destroyed kind: its accounting restarts from 0 (its struct may come back as a new kind). */
void tc__memtier_forget(memkind_t kind);
/* Number of tiers and the kind of tier i of a constructed memory. */
unsigned tc__memtier_ntiers(const struct memtier_memory *m);
memkind_t tc__memtier_tier_kind(const struct memtier_memory *m, unsigned i);

#endif

/*
 * Build the tiered memory that MEMKIND_MEM_TIERS (`tiers`) and MEMKIND_MEM_THRESHOLDS
 * (`thresholds`, may be NULL) describe, in memkind's format:
 *   KIND:DRAM,RATIO:1;KIND:FS_DAX,PATH:/mnt/pmem,PMEM_SIZE_LIMIT:10G,RATIO:4;POLICY:STATIC_RATIO
 *   INIT_VAL:64,MIN_VAL:1,MAX_VAL:10000;...     (one per pair of tiers, DYNAMIC_THRESHOLD only)
 * KIND is DRAM, FS_DAX (a file kind in PATH, limited to PMEM_SIZE_LIMIT bytes, suffix K/M/G)
 * or KMEM_DAX. MEMKIND_SUCCESS, or MEMKIND_ERROR_ENVIRON with the reason in err (nothing is
 * left allocated).
 */
int tc__memtier_from_env(const char *tiers, const char *thresholds, struct memtier_memory **out,
                         char *err, size_t errlen);
