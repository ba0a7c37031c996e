/* Statistics and control of jemalloc state, per kind. Figures are as of the last
 * tc_stats_refresh(), like jemalloc's own "epoch" protocol. Blocks held in thread caches (the
 * front caches and jemalloc tcaches of tcache.c, jemalloc's automatic tcaches for DRAM) count
 * as allocated and active, as in jemalloc's own statistics; tc_kind_purge empties an arena
 * kind's caches first. */
#include <stdio.h>

#include "internal.h"

#define ARENAS_ALL 4096u /* jemalloc's MALLCTL_ARENAS_ALL */

unsigned tc__narenas_total(void) {
    unsigned n = 0;
    size_t sz = sizeof n;
    tc_je_mallctl("arenas.narenas", &n, &sz, NULL, 0);
    return n;
}

/* DRAM's arenas: every initialised arena no kind owns (automatic ones, and the one jemalloc
 * keeps for huge allocations past opt.oversize_threshold). */
static bool dram_arena(unsigned a) {
    char name[48];
    bool initialized = false;
    size_t sz = sizeof initialized;
    snprintf(name, sizeof name, "arena.%u.initialized", a);
    return !tc__extent_arena_is_bound(a) && !tc_je_mallctl(name, &initialized, &sz, NULL, 0) &&
           initialized;
}

TC_API int tc_stats_refresh(void) {
    tc__init();
    uint64_t epoch = 1;
    size_t sz = sizeof epoch;
    return tc_je_mallctl("epoch", &epoch, &sz, &epoch, sz) ? TC_ERR_SYSTEM : TC_OK;
}

static size_t read_size(const char *name) {
    size_t v = 0, sz = sizeof v;
    tc_je_mallctl(name, &v, &sz, NULL, 0);
    return v;
}

static size_t arena_stat(unsigned arena, tc_stat_t stat) {
    char name[96];
    switch (stat) {
    case TC_STAT_RESIDENT:
        snprintf(name, sizeof name, "stats.arenas.%u.resident", arena);
        return read_size(name);
    case TC_STAT_ACTIVE:
        snprintf(name, sizeof name, "stats.arenas.%u.pactive", arena);
        return read_size(name) * tc__os_page_size();
    default: {
        snprintf(name, sizeof name, "stats.arenas.%u.small.allocated", arena);
        size_t small = read_size(name);
        snprintf(name, sizeof name, "stats.arenas.%u.large.allocated", arena);
        return small + read_size(name);
    }
    }
}

TC_API int tc_kind_stat(const tc_kind_t *kind, tc_stat_t stat, size_t *out) {
    if (!out || (unsigned)stat >= TC_STAT_COUNT) return TC_ERR_INVALID;
    tc__init();
    if (!kind) {
        static const char *total[] = {"stats.resident", "stats.active", "stats.allocated"};
        *out = read_size(total[stat]);
        return TC_OK;
    }
    if (!tc__kind_alive(kind)) return TC_ERR_DESTROYED;
    size_t sum = 0;
    if (kind->flags & TC_KIND_AUTO_ARENAS) {
        for (unsigned a = 0, n = tc__narenas_total(); a < n; a++)
            if (dram_arena(a)) sum += arena_stat(a, stat);
    } else {
        for (unsigned i = 0; i < kind->narenas; i++) sum += arena_stat(kind->arenas[i], stat);
    }
    *out = sum;
    return TC_OK;
}

TC_API int tc_stats_print(void (*write_cb)(void *, const char *), void *cbopaque,
                          const char *opts) {
    tc__init();
    tc_je_malloc_stats_print(write_cb, cbopaque, opts);
    return TC_OK;
}

TC_API int tc_set_background_threads(bool enable) {
    tc__init();
    return tc_je_mallctl("background_thread", NULL, NULL, &enable, sizeof enable) ? TC_ERR_SYSTEM
                                                                                  : TC_OK;
}

TC_API int tc_background_purge_start(void) {
    tc__init();
    unsigned long on = 1;
    if (tc__option_uint(TC_OPT_BACKGROUND_PURGE, &on) != TC_OK || !on) return TC_OK;
    bool enable = true, was = false;
    size_t sz = sizeof was;
    if (!tc_je_mallctl("background_thread", &was, &sz, NULL, 0) && was) return TC_OK;
    return tc_je_mallctl("background_thread", NULL, NULL, &enable, sizeof enable) ? TC_ERR_SYSTEM
                                                                                  : TC_OK;
}

/* An arena kind's purge first empties every thread's cache of it (tcache.c) into its arenas,
 * so that the blocks cached there do not keep their pages. DRAM's thread caches are
 * jemalloc's automatic ones, which only their threads can flush. */
TC_API int tc_kind_purge(tc_kind_t *kind) {
    tc__init();
    if (!kind) {
        tc__tcache_flush_kind(NULL);
        return tc__mallctl_arena_u(ARENAS_ALL, "purge", NULL, 0) ? TC_ERR_SYSTEM : TC_OK;
    }
    if (!tc__kind_alive(kind)) return TC_ERR_DESTROYED;
    if (atomic_load(&kind->detached)) return TC_ERR_FORKED;
    int err = TC_OK;
    if (kind->flags & TC_KIND_AUTO_ARENAS) {
        for (unsigned a = 0, n = tc__narenas_total(); a < n; a++)
            if (dram_arena(a) && tc__mallctl_arena_u(a, "purge", NULL, 0)) err = TC_ERR_SYSTEM;
    } else {
        tc__tcache_flush_kind(kind);
        for (unsigned i = 0; i < kind->narenas; i++)
            if (tc__mallctl_arena_u(kind->arenas[i], "purge", NULL, 0)) err = TC_ERR_SYSTEM;
    }
    return err;
}
