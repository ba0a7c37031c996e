/*
 * The cache's fork policy. A forked child inherits a copy of the cache's DRAM, but not the
 * memory of its file-backed tiers (see tc_kind_create_file: detached in the child). A cache
 * with such a tier is therefore unusable in the child: every call returns TC_ERR_FORKED
 * without touching the cache (not even its lock, which another thread of the parent may have
 * held at fork time); destroy leaves the child's copy alone. A cache whose tiers are all
 * inherited keeps working in the child as a private copy. The parent is never affected.
 */
#include "cache_internal.h"

_Atomic unsigned tc__fork_generation;

bool tc__cache_forked(tc_cache_t *c) {
    unsigned now = atomic_load_explicit(&tc__fork_generation, memory_order_relaxed);
    if (TC_LIKELY(atomic_load_explicit(&c->fork_gen, memory_order_relaxed) == now)) return false;
    for (size_t t = 0; t < c->ntiers; t++)
        if (atomic_load(&c->tiers[t].kind->detached)) return true;
    atomic_store_explicit(&c->fork_gen, now, memory_order_relaxed); /* all inherited */
    return false;
}
