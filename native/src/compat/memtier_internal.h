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
/* Number of tiers and the kind of tier i of a constructed memory. */
unsigned tc__memtier_ntiers(const struct memtier_memory *m);
memkind_t tc__memtier_tier_kind(const struct memtier_memory *m, unsigned i);

#endif
