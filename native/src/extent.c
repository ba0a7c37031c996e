/*
 * The one jemalloc extent-hooks table. Each hook finds the kind of its arena and forwards to
 * the kind's provider ops. jemalloc's convention: a hook returns false on success.
 *
 * Address space handed to jemalloc is never unmapped while the kind lives (dalloc opts out):
 * jemalloc keeps it as "retained" and reuses it, and the provider returns the backing through
 * decommit. Unmapping it instead lets the kernel hand the range to someone else while jemalloc
 * may still coalesce around it, which is how memkind 1.14 corrupts file-backed kinds.
 */
#include "internal.h"

static tc_kind_t *_Atomic arena_kind[TC_ARENA_LIMIT + 1];

void tc__extent_bind_arena(unsigned arena, tc_kind_t *k) {
    if (arena <= TC_ARENA_LIMIT) atomic_store(&arena_kind[arena], k);
}

bool tc__extent_arena_is_bound(unsigned arena) {
    return arena <= TC_ARENA_LIMIT && atomic_load(&arena_kind[arena]) != NULL;
}

static tc_kind_t *kind_of_arena(unsigned arena) {
    return arena <= TC_ARENA_LIMIT ? atomic_load(&arena_kind[arena]) : NULL;
}

static void *hook_alloc(extent_hooks_t *h, void *new_addr, size_t size, size_t alignment,
                        bool *zero, bool *commit, unsigned arena) {
    tc_kind_t *k = kind_of_arena(arena);
    if (!k || new_addr || atomic_load_explicit(&k->detached, memory_order_relaxed)) return NULL;
    return k->ops->reserve(k, size, alignment, zero, commit);
}

static bool hook_dalloc(extent_hooks_t *h, void *addr, size_t size, bool committed,
                        unsigned arena) {
    return true; /* keep the address space: see the file comment */
}

static void hook_destroy(extent_hooks_t *h, void *addr, size_t size, bool committed,
                         unsigned arena) {
    /* The provider releases whole reservations when the kind is destroyed. */
}

static bool hook_commit(extent_hooks_t *h, void *addr, size_t size, size_t offset, size_t length,
                        unsigned arena) {
    tc_kind_t *k = kind_of_arena(arena);
    if (!k || atomic_load_explicit(&k->detached, memory_order_relaxed)) return true;
    return k->ops->commit(k, (char *)addr + offset, length) != 0;
}

static bool hook_decommit(extent_hooks_t *h, void *addr, size_t size, size_t offset, size_t length,
                          unsigned arena) {
    tc_kind_t *k = kind_of_arena(arena);
    if (!k || !k->ops->decommit || atomic_load_explicit(&k->detached, memory_order_relaxed))
        return true;
    return k->ops->decommit(k, (char *)addr + offset, length) != 0;
}

static bool hook_split(extent_hooks_t *h, void *addr, size_t size, size_t size_a, size_t size_b,
                       bool committed, unsigned arena) {
    return false;
}

static bool hook_merge(extent_hooks_t *h, void *addr_a, size_t size_a, void *addr_b, size_t size_b,
                       bool committed, unsigned arena) {
    tc_kind_t *k = kind_of_arena(arena);
    return !k || !k->ops->can_merge(k, addr_a, addr_b);
}

extent_hooks_t tc__extent_hooks = {
    .alloc = hook_alloc,
    .dalloc = hook_dalloc,
    .destroy = hook_destroy,
    .commit = hook_commit,
    .decommit = hook_decommit,
    .purge_lazy = NULL, /* decay then decommits, which the provider implements */
    .purge_forced = NULL,
    .split = hook_split,
    .merge = hook_merge,
};
