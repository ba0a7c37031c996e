/*
 * Address -> kind id, for NULL-kind free and detect_kind without locks.
 *
 * The 47-bit user address space is cut into 2 MiB granules. A two-level table (an 8192-entry
 * top level of leaf pointers, leaves of 8192 uint16 ids mapped on demand and never freed)
 * answers a lookup with two loads. Kinds that own their address space reserve whole granules,
 * so their granules hold their id; DRAM (jemalloc's own mappings) is id 0.
 *
 * A fixed kind lives in a caller's area that may share its edge granules with other memory.
 * Those granules hold TC_PTRMAP_SHARED; lookups there search a short list of ranges under a
 * mutex, and fall back to what the granule held before.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define LEAF_ENTRIES (1u << TC_PTRMAP_LEAF_BITS)
#define VA_LIMIT ((uintptr_t)1 << (TC_GRANULE_SHIFT + TC_PTRMAP_TOP_BITS + TC_PTRMAP_LEAF_BITS))

_Atomic(_Atomic uint16_t *) tc__ptrmap_top[1u << TC_PTRMAP_TOP_BITS];
static pthread_mutex_t leaf_lock = PTHREAD_MUTEX_INITIALIZER;

/* Fixed-area ranges and the shared granules at their edges. */
struct range { uintptr_t start, end; uint16_t id; };
struct shared_granule { uintptr_t granule; uint16_t prev; uint16_t refs; };
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static struct range *ranges;
static size_t nranges, cap_ranges;
static struct shared_granule *sgran;
static size_t nsgran, cap_sgran;

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

static int set_granules(uintptr_t g0, uintptr_t g1, uint16_t id) {
    for (uintptr_t g = g0; g < g1; g++) {
        _Atomic uint16_t *s = slot(g, id != 0);
        if (s) atomic_store_explicit(s, id, memory_order_release);
        else if (id != 0) return ENOMEM;
    }
    return 0;
}

int tc__ptrmap_assign(uintptr_t start, size_t len, uint16_t id) {
    if (start + len > VA_LIMIT || ((start | len) & (TC_GRANULE - 1))) return EINVAL;
    return set_granules(start >> TC_GRANULE_SHIFT, (start + len) >> TC_GRANULE_SHIFT, id);
}

void tc__ptrmap_clear(uintptr_t start, size_t len) {
    set_granules(start >> TC_GRANULE_SHIFT, (start + len) >> TC_GRANULE_SHIFT, 0);
}

uint16_t tc__ptrmap_get_shared(uintptr_t addr) {
    uint16_t id = 0;
    uintptr_t g = addr >> TC_GRANULE_SHIFT;
    pthread_mutex_lock(&shared_lock);
    size_t i;
    for (i = 0; i < nranges; i++)
        if (addr >= ranges[i].start && addr < ranges[i].end) break;
    if (i < nranges) {
        id = ranges[i].id;
    } else {
        for (i = 0; i < nsgran; i++)
            if (sgran[i].granule == g) id = sgran[i].prev;
    }
    pthread_mutex_unlock(&shared_lock);
    return id;
}

static bool grow(void **arr, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t n = *cap ? *cap * 2 : 16;
    while (n < need) n *= 2;
    void *p = realloc(*arr, n * elem);
    if (!p) return false;
    *arr = p;
    *cap = n;
    return true;
}

/* Mark edge granule g shared (shared_lock held). */
static void share_granule(uintptr_t g) {
    for (size_t i = 0; i < nsgran; i++)
        if (sgran[i].granule == g) {
            sgran[i].refs++;
            return;
        }
    sgran[nsgran++] = (struct shared_granule){g, get_granule(g), 1};
    set_granules(g, g + 1, TC_PTRMAP_SHARED);
}

static void unshare_granule(uintptr_t g) {
    for (size_t i = 0; i < nsgran; i++)
        if (sgran[i].granule == g) {
            if (--sgran[i].refs == 0) {
                set_granules(g, g + 1, sgran[i].prev);
                sgran[i] = sgran[--nsgran];
            }
            return;
        }
}

/* A granule of the range that the range does not cover whole: [full0, full1) are covered. */
static bool is_edge(uintptr_t g, uintptr_t full0, uintptr_t full1) {
    return g < full0 || g >= full1;
}

int tc__ptrmap_assign_range(uintptr_t start, size_t len, uint16_t id) {
    uintptr_t end = start + len;
    if (!len || end < start || end > VA_LIMIT) return EINVAL;
    uintptr_t g0 = start >> TC_GRANULE_SHIFT, g1 = (end - 1) >> TC_GRANULE_SHIFT;
    uintptr_t full0 = (start + TC_GRANULE - 1) >> TC_GRANULE_SHIFT, full1 = end >> TC_GRANULE_SHIFT;
    int e = 0;
    pthread_mutex_lock(&shared_lock);
    /* Leaves for every granule exist before anything changes, so nothing half-applies. */
    for (uintptr_t g = g0; g <= g1 && !e; g++)
        if (!slot(g, true)) e = ENOMEM;
    if (!e && (!grow((void **)&ranges, &cap_ranges, nranges + 1, sizeof *ranges) ||
               !grow((void **)&sgran, &cap_sgran, nsgran + 2, sizeof *sgran)))
        e = ENOMEM;
    if (!e) {
        ranges[nranges++] = (struct range){start, end, id};
        if (full0 < full1) set_granules(full0, full1, id);
        if (is_edge(g0, full0, full1)) share_granule(g0);
        if (g1 != g0 && is_edge(g1, full0, full1)) share_granule(g1);
    }
    pthread_mutex_unlock(&shared_lock);
    return e;
}

void tc__ptrmap_clear_range(uintptr_t start, size_t len, uint16_t id) {
    uintptr_t end = start + len;
    uintptr_t g0 = start >> TC_GRANULE_SHIFT, g1 = (end - 1) >> TC_GRANULE_SHIFT;
    uintptr_t full0 = (start + TC_GRANULE - 1) >> TC_GRANULE_SHIFT, full1 = end >> TC_GRANULE_SHIFT;
    pthread_mutex_lock(&shared_lock);
    for (size_t i = 0; i < nranges; i++)
        if (ranges[i].start == start && ranges[i].end == end && ranges[i].id == id) {
            ranges[i] = ranges[--nranges];
            break;
        }
    if (full0 < full1) set_granules(full0, full1, 0);
    if (is_edge(g0, full0, full1)) unshare_granule(g0);
    if (g1 != g0 && is_edge(g1, full0, full1)) unshare_granule(g1);
    pthread_mutex_unlock(&shared_lock);
}

void tc__ptrmap_fork_prepare(void) {
    pthread_mutex_lock(&shared_lock);
    pthread_mutex_lock(&leaf_lock);
}

void tc__ptrmap_fork_release(void) {
    pthread_mutex_unlock(&leaf_lock);
    pthread_mutex_unlock(&shared_lock);
}
