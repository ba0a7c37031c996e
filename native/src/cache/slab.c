/*
 * Slabs: tier-0 entry blocks of up to TC_SLAB_MAX bytes carved at 4-byte granularity.
 *
 * jemalloc's size classes are 4 per doubling, so a block of 129 bytes costs 160 and one of
 * 529 costs 640: up to 25% of an entry lost to rounding, more than the header, key tag and
 * index together. Here each 4-byte class has its own slabs (16 KiB to 1/1024 of tier 0, up
 * to 256 KiB: whichever jemalloc size class leaves the least tail per slot), all aligned to
 * the power of two at or above the largest, so that a slot finds its slab by masking.
 * - A slab is charged to tier 0 at its usable size while it exists: free slots are an
 *   honest cost. Eviction frees memory only when a slab empties, hence the small slabs.
 * - A slab with free slots is on its class's list (the latest to gain a free slot first, so
 *   that allocation refills dense slabs); an empty slab is freed at once.
 * - A class gets slabs only once it has entries enough to fill several (class_live counts
 *   them, slab or not): a few entries of many sizes would otherwise each hold a slab.
 * - Compaction moves entries out of slabs at most a quarter used into fuller ones.
 */
#include "cache_internal.h"

#define HEADER_BYTES ((sizeof(struct tc_slab) + 7) & ~(size_t)7)
#define PAGE 4096u
/* A slab is at most this fraction of tier 0's budget, and at least MIN_PAGES (jemalloc gives
 * an aligned block of no less than 16 KiB): caches under 16 MiB use none. */
#define SLAB_SHARE 1024
#define MIN_PAGES 4

struct tc_slab {
    struct tc_slab *next, *prev; /* on its class's list of slabs with free slots */
    void *free;                  /* freed slots, linked through their first word */
    uint32_t slot, nslots, live, fresh; /* fresh: slots [fresh, nslots) were never used */
    bool listed;
};

static unsigned class_of(size_t size) {
    return (unsigned)((size + TC_SLAB_GRAIN - 1) / TC_SLAB_GRAIN - 1);
}
static size_t slot_of(unsigned cls) { return ((size_t)cls + 1) * TC_SLAB_GRAIN; }

size_t tc__slab_slot(size_t size) {
    return size && size <= TC_SLAB_MAX ? slot_of(class_of(size)) : 0;
}

/* The slab size for a class: the page count from MIN_PAGES to the cache's max_pages that is a
 * size class of its own and leaves the least tail per slot (at least one slot). */
static size_t slab_bytes(const struct tc_slabs *s, size_t slot) {
    size_t best = 0, best_waste = SIZE_MAX;
    size_t min_pages = (HEADER_BYTES + slot + PAGE - 1) / PAGE;
    if (min_pages < MIN_PAGES) min_pages = MIN_PAGES;
    size_t max_pages = s->max_pages > min_pages ? s->max_pages : min_pages;
    for (size_t pages = min_pages; pages <= max_pages; pages++) {
        size_t bytes = pages * PAGE, n = (bytes - HEADER_BYTES) / slot;
        if (tc__cache_charge(bytes) != bytes) continue; /* not a size class: would round up */
        size_t waste = ((bytes - HEADER_BYTES) % slot) * 1024 / n; /* per slot, scaled */
        if (waste < best_waste) {
            best_waste = waste;
            best = bytes;
        }
    }
    return best;
}

static struct tc_slab *slab_of(const struct tc_slabs *s, const void *p) {
    return (struct tc_slab *)((uintptr_t)p & ~(uintptr_t)(s->align - 1));
}

static void list_add(struct tc_slabs *s, unsigned cls, struct tc_slab *sl) {
    sl->prev = NULL;
    sl->next = s->partial[cls];
    if (sl->next) sl->next->prev = sl;
    s->partial[cls] = sl;
    sl->listed = true;
}

static void list_remove(struct tc_slabs *s, unsigned cls, struct tc_slab *sl) {
    if (sl->prev) sl->prev->next = sl->next;
    else s->partial[cls] = sl->next;
    if (sl->next) sl->next->prev = sl->prev;
    sl->listed = false;
}

/* Entries a class must have before it gets slabs: enough for 4 slabs of the largest size. */
#define FILL_SLABS 4

bool tc__slab_wanted(const struct tc_cache *c, size_t size) {
    if (!size || size > TC_SLAB_MAX || !c->slabs.max_pages) return false;
    const struct tc_slabs *s = &c->slabs;
    unsigned cls = class_of(size);
    return s->partial[cls] ||
           s->class_live[cls] >= FILL_SLABS * (s->max_pages * PAGE / slot_of(cls) + 1);
}

void tc__slab_count(struct tc_cache *c, size_t size, int sign) {
    if (c->slabs.class_live && size && size <= TC_SLAB_MAX)
        c->slabs.class_live[class_of(size)] += (uint32_t)sign;
}

size_t tc__slab_need(const struct tc_cache *c, size_t size) {
    if (!tc__slab_wanted(c, size)) return tc__cache_charge(size);
    unsigned cls = class_of(size);
    return c->slabs.partial[cls] ? 0 : tc__cache_charge(slab_bytes(&c->slabs, slot_of(cls)));
}

/* A slot from sl (which has one free). */
static void *take_slot(struct tc_slabs *s, unsigned cls, struct tc_slab *sl) {
    void *p;
    s->free_bytes -= sl->slot;
    if (sl->free) {
        p = sl->free;
        memcpy(&sl->free, p, sizeof(void *));
    } else {
        p = (char *)sl + HEADER_BYTES + (size_t)sl->fresh++ * sl->slot;
    }
    if (++sl->live == sl->nslots) list_remove(s, cls, sl);
    return p;
}

void tc__slabs_init(struct tc_cache *c) {
    struct tc_slabs *s = &c->slabs;
    size_t pages = c->tiers[0].budget / SLAB_SHARE / PAGE;
    if (pages < MIN_PAGES) return;
    s->partial = tc__cache_alloc(c, 0, true, TC_SLAB_CLASSES * sizeof *s->partial);
    s->class_live = tc__cache_alloc(c, 0, true, TC_SLAB_CLASSES * sizeof *s->class_live);
    if (!s->partial || !s->class_live) {
        tc__slabs_release(c);
        return;
    }
    memset(s->partial, 0, TC_SLAB_CLASSES * sizeof *s->partial);
    memset(s->class_live, 0, TC_SLAB_CLASSES * sizeof *s->class_live);
    s->max_pages = pages > TC_SLAB_ALIGN / PAGE ? TC_SLAB_ALIGN / PAGE : pages;
    s->align = MIN_PAGES * PAGE;
    while (s->align < s->max_pages * PAGE) s->align *= 2;
}

void tc__slabs_release(struct tc_cache *c) {
    struct tc_slabs *s = &c->slabs;
    if (s->partial) tc__cache_free(c, 0, s->partial);
    if (s->class_live) tc__cache_free(c, 0, s->class_live);
    s->partial = NULL;
    s->class_live = NULL;
    s->max_pages = 0;
}

void *tc__slab_alloc(struct tc_cache *c, size_t size) {
    struct tc_slabs *s = &c->slabs;
    unsigned cls = class_of(size);
    struct tc_slab *sl = s->partial[cls];
    if (!sl) {
        size_t slot = slot_of(cls), bytes = slab_bytes(s, slot);
        void *mem = NULL;
        if (tc_posix_memalign(tc_kind_dram(), &mem, s->align, bytes)) return NULL;
        c->tiers[0].used += tc_usable_size(NULL, mem);
        sl = mem;
        sl->free = NULL;
        sl->slot = (uint32_t)slot;
        sl->nslots = (uint32_t)((bytes - HEADER_BYTES) / slot);
        sl->live = sl->fresh = 0;
        list_add(s, cls, sl);
        s->count++;
        s->free_bytes += (size_t)sl->nslots * slot;
    }
    return take_slot(s, cls, sl);
}

void tc__slab_free(struct tc_cache *c, void *p) {
    struct tc_slabs *s = &c->slabs;
    struct tc_slab *sl = slab_of(s, p);
    unsigned cls = class_of(sl->slot);
    memcpy(p, &sl->free, sizeof(void *));
    sl->free = p;
    s->free_bytes += sl->slot;
    if (--sl->live == 0) {
        if (sl->listed) list_remove(s, cls, sl);
        s->count--;
        s->free_bytes -= (size_t)sl->nslots * sl->slot;
        tc__cache_free(c, 0, sl);
        return;
    }
    if (!sl->listed) list_add(s, cls, sl);
}

size_t tc__slab_size_of(const struct tc_cache *c, const void *p) {
    return slab_of(&c->slabs, p)->slot;
}

void *tc__slab_move(struct tc_cache *c, void *p, unsigned quarters) {
    struct tc_slabs *s = &c->slabs;
    struct tc_slab *from = slab_of(s, p);
    if ((size_t)from->live * 4 > (size_t)from->nslots * quarters) return NULL;
    unsigned cls = class_of(from->slot);
    struct tc_slab *to = s->partial[cls];
    for (int tries = 0; to && tries < 8; to = to->next, tries++)
        if (to != from && to->live > from->live) break;
    if (!to || to == from || to->live <= from->live) return NULL;
    void *n = take_slot(s, cls, to);
    memcpy(n, p, from->slot);
    tc__slab_free(c, p);
    return n;
}

size_t tc__slab_live(const struct tc_cache *c, const void *p) {
    return slab_of(&c->slabs, p)->live;
}
size_t tc__slab_usable(const struct tc_cache *c, const void *p) {
    return tc_usable_size(NULL, slab_of(&c->slabs, p));
}
const void *tc__slab_base(const struct tc_cache *c, const void *p) {
    return slab_of(&c->slabs, p);
}
