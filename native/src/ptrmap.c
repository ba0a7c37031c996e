/*
 * Address -> kind id, for NULL-kind free and detect_kind without locks.
 *
 * The 47-bit user address space is cut into 2 MiB granules. A two-level table (an 8192-entry
 * top level of leaf pointers, leaves of 8192 uint16 ids mapped on demand and never freed)
 * answers a lookup with two loads. Kinds that own their address space reserve whole granules,
 * so their granules hold their id; DRAM (jemalloc's own mappings) is id 0.
 *
 * A fixed kind lives in a caller's area that may share granules with other memory: its edge
 * granules, and, since callers may give overlapping areas to several fixed kinds, any granule
 * another area also touches. Such granules hold TC_PTRMAP_SHARED, and lookups there search a
 * list of areas under a mutex. Each area also records the part its kind has claimed (handed to
 * jemalloc): claims never overlap (tc__ptrmap_claim refuses), so an address in several areas
 * belongs to the one that claimed it. A granule no area touches any more gets back what it held
 * before the first one did (its base, kept in a second table while areas touch it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define LEAF_ENTRIES (1u << TC_PTRMAP_LEAF_BITS)
#define VA_LIMIT ((uintptr_t)1 << (TC_GRANULE_SHIFT + TC_PTRMAP_TOP_BITS + TC_PTRMAP_LEAF_BITS))

_Atomic(_Atomic uint16_t *) tc__ptrmap_top[1u << TC_PTRMAP_TOP_BITS];
static pthread_mutex_t leaf_lock = PTHREAD_MUTEX_INITIALIZER;

/* Fixed areas: [start, end) as given, [c0, c1) the part claimed so far (empty: c0 == c1). */
struct range {
    uintptr_t start, end, c0, c1;
    uint16_t id;
};
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static struct range *ranges;
static size_t nranges, cap_ranges;
/* Per granule touched by an area: BASE_VALID | the value it held before (shared_lock). */
#define BASE_VALID (1u << 16)
static uint32_t *base_top[1u << TC_PTRMAP_TOP_BITS];

static _Atomic uint16_t *slot(uintptr_t granule, bool create) {
    size_t top = granule >> TC_PTRMAP_LEAF_BITS;
    _Atomic uint16_t *leaf = atomic_load_explicit(&tc__ptrmap_top[top], memory_order_acquire);
    if (!leaf && create) {
        pthread_mutex_lock(&leaf_lock);
        leaf = atomic_load_explicit(&tc__ptrmap_top[top], memory_order_acquire);
        if (!leaf) {
            void *mem;
            size_t len = LEAF_ENTRIES * sizeof(uint16_t);
            if (tc__os_reserve(len, tc__os_page_size(), &mem) == 0 &&
                tc__os_map_anon(mem, len, true) == 0) {
                leaf = mem;
                atomic_store_explicit(&tc__ptrmap_top[top], leaf, memory_order_release);
            }
        }
        pthread_mutex_unlock(&leaf_lock);
    }
    return leaf ? &leaf[granule & (LEAF_ENTRIES - 1)] : NULL;
}

static uint16_t get_granule(uintptr_t g) {
    _Atomic uint16_t *s = slot(g, false);
    return s ? atomic_load_explicit(s, memory_order_relaxed) : 0;
}

static void put_granule(uintptr_t g, uint16_t id) {
    _Atomic uint16_t *s = slot(g, false);
    if (s) atomic_store_explicit(s, id, memory_order_release);
}

/* Granule g's base entry (shared_lock held); NULL when absent and not `create`, or no memory. */
static uint32_t *base_slot(uintptr_t g, bool create) {
    size_t top = g >> TC_PTRMAP_LEAF_BITS;
    if (!base_top[top] && create) {
        void *mem;
        size_t len = LEAF_ENTRIES * sizeof(uint32_t);
        if (tc__os_reserve(len, tc__os_page_size(), &mem) == 0 &&
            tc__os_map_anon(mem, len, true) == 0)
            base_top[top] = mem;
    }
    return base_top[top] ? &base_top[top][g & (LEAF_ENTRIES - 1)] : NULL;
}

/* Set whole granules [g0, g1) to a window's id (0: forget). Where fixed areas touch a granule,
 * the id becomes its base instead (shared_lock held). 0 or ENOMEM. */
static int set_granules(uintptr_t g0, uintptr_t g1, uint16_t id) {
    for (uintptr_t g = g0; g < g1; g++) {
        _Atomic uint16_t *s = slot(g, id != 0);
        if (!s) {
            if (id != 0) return ENOMEM;
            continue;
        }
        uint32_t *b = base_slot(g, false);
        if (b && (*b & BASE_VALID)) *b = BASE_VALID | id;
        else atomic_store_explicit(s, id, memory_order_release);
    }
    return 0;
}

int tc__ptrmap_assign(uintptr_t start, size_t len, uint16_t id) {
    if (start + len > VA_LIMIT || ((start | len) & (TC_GRANULE - 1))) return EINVAL;
    pthread_mutex_lock(&shared_lock);
    int e = set_granules(start >> TC_GRANULE_SHIFT, (start + len) >> TC_GRANULE_SHIFT, id);
    pthread_mutex_unlock(&shared_lock);
    return e;
}

void tc__ptrmap_clear(uintptr_t start, size_t len) {
    pthread_mutex_lock(&shared_lock);
    set_granules(start >> TC_GRANULE_SHIFT, (start + len) >> TC_GRANULE_SHIFT, 0);
    pthread_mutex_unlock(&shared_lock);
}

uint16_t tc__ptrmap_get_shared(uintptr_t addr) {
    uint16_t id = 0;
    size_t hits = 0;
    pthread_mutex_lock(&shared_lock);
    for (size_t i = 0; i < nranges; i++) {
        const struct range *r = &ranges[i];
        if (addr < r->start || addr >= r->end) continue;
        if (addr >= r->c0 && addr < r->c1) { /* claimed: no other area can own it */
            id = r->id;
            hits = 1;
            break;
        }
        if (!hits++) id = r->id;
    }
    if (!hits) {
        uint32_t *b = base_slot(addr >> TC_GRANULE_SHIFT, false);
        id = b ? (uint16_t)*b : 0;
    }
    pthread_mutex_unlock(&shared_lock);
    return id;
}

/* What granule g holds given the areas now listed (shared_lock held, base captured). */
static void recompute(uintptr_t g) {
    uintptr_t lo = g << TC_GRANULE_SHIFT, hi = lo + TC_GRANULE;
    const struct range *only = NULL;
    size_t n = 0;
    for (size_t i = 0; i < nranges; i++)
        if (ranges[i].start < hi && ranges[i].end > lo) {
            only = &ranges[i];
            n++;
        }
    uint32_t *b = base_slot(g, false);
    if (!n) {
        put_granule(g, b ? (uint16_t)*b : 0);
        if (b) *b = 0;
    } else {
        put_granule(g,
                    n == 1 && only->start <= lo && only->end >= hi ? only->id : TC_PTRMAP_SHARED);
    }
}

int tc__ptrmap_assign_range(uintptr_t start, size_t len, uint16_t id) {
    uintptr_t end = start + len;
    if (!len || end < start || end > VA_LIMIT) return EINVAL;
    uintptr_t g0 = start >> TC_GRANULE_SHIFT, g1 = (end - 1) >> TC_GRANULE_SHIFT;
    int e = 0;
    pthread_mutex_lock(&shared_lock);
    /* Leaves for every granule exist before anything changes, so nothing half-applies. */
    for (uintptr_t g = g0; g <= g1 && !e; g++)
        if (!slot(g, true) || !base_slot(g, true)) e = ENOMEM;
    if (!e && nranges == cap_ranges) {
        size_t n = cap_ranges ? cap_ranges * 2 : 16;
        struct range *r = realloc(ranges, n * sizeof *r);
        if (r) {
            ranges = r;
            cap_ranges = n;
        } else {
            e = ENOMEM;
        }
    }
    if (!e) {
        ranges[nranges++] = (struct range){start, end, 0, 0, id};
        for (uintptr_t g = g0; g <= g1; g++) {
            uint32_t *b = base_slot(g, false);
            if (!(*b & BASE_VALID)) *b = BASE_VALID | get_granule(g);
            recompute(g);
        }
    }
    pthread_mutex_unlock(&shared_lock);
    return e;
}

void tc__ptrmap_clear_range(uintptr_t start, size_t len, uint16_t id) {
    uintptr_t end = start + len;
    uintptr_t g0 = start >> TC_GRANULE_SHIFT, g1 = (end - 1) >> TC_GRANULE_SHIFT;
    pthread_mutex_lock(&shared_lock);
    for (size_t i = 0; i < nranges; i++)
        if (ranges[i].start == start && ranges[i].end == end && ranges[i].id == id) {
            ranges[i] = ranges[--nranges];
            for (uintptr_t g = g0; g <= g1; g++) recompute(g);
            break;
        }
    pthread_mutex_unlock(&shared_lock);
}

bool tc__ptrmap_claim(uint16_t id, uintptr_t from, uintptr_t to) {
    bool ok = true;
    struct range *own = NULL;
    pthread_mutex_lock(&shared_lock);
    for (size_t i = 0; i < nranges; i++) {
        struct range *r = &ranges[i];
        if (r->id == id) own = r;
        else if (r->c0 < to && r->c1 > from) ok = false; /* another kind handed it out */
    }
    if (!own || from < own->start || to > own->end) ok = false;
    if (ok) {
        if (own->c0 == own->c1) own->c0 = from;
        if (to > own->c1) own->c1 = to;
    }
    pthread_mutex_unlock(&shared_lock);
    return ok;
}

void tc__ptrmap_fork_prepare(void) {
    pthread_mutex_lock(&shared_lock);
    pthread_mutex_lock(&leaf_lock);
}

void tc__ptrmap_fork_release(void) {
    pthread_mutex_unlock(&leaf_lock);
    pthread_mutex_unlock(&shared_lock);
}
