/*
 * Slabs: entry blocks of up to TC_SLAB_MAX bytes carved at 4-byte granularity, per tier, from
 * the tier's own kind (a lower tier's entries cost it no DRAM).
 *
 * jemalloc's size classes are 4 per doubling, so a block of 129 bytes costs 160 and one of
 * 529 costs 640: up to 25% of an entry lost to rounding, more than the header, key tag and
 * index together. Here each 4-byte class has its own slabs (16 KiB to 1/1024 of the tier, up
 * to 256 KiB: whichever jemalloc size class leaves the least tail per slot), all aligned to
 * the power of two at or above the largest, so that a slot finds its slab by masking.
 * - A slab is charged to its tier at its usable size while it exists: free slots are an
 *   honest cost. Eviction frees memory only when a slab empties, hence the small slabs.
 * - A slab's header is 16 bytes (no pointers: slot indices, and its index in its class's
 *   array of slabs with free slots), so that e.g. 129 slots of 2032 bytes fill 256 KiB.
 * - A slab with free slots is in its class's array (the latest to gain a free slot last,
 *   taken first, so that allocation refills dense slabs); an empty slab is freed at once.
 * - A class gets slabs only once it has entries enough to fill several (class_live counts
 *   them, slab or not): a few entries of many sizes would otherwise each hold a slab.
 * - Compaction moves entries out of slabs at most a quarter used into fuller ones.
 */
#include "cache_internal.h"

#define HEADER_BYTES sizeof(struct tc_slab)
#define NOT_LISTED UINT32_MAX
#define PAGE 4096u
/* A slab is at most this fraction of its tier's budget, and at least MIN_PAGES (jemalloc gives
 * an aligned block of no less than 16 KiB): tiers under 16 MiB use none. */
#define SLAB_SHARE 1024
#define MIN_PAGES 4

struct tc_slab {
    uint32_t pos; /* index in its class's partial array, or NOT_LISTED */
    uint16_t cls; /* slot size class */
    uint16_t nslots, live;
    uint16_t fresh; /* slots [fresh, nslots) were never used */
    uint16_t free;  /* 1 + index of the latest freed slot, 0: none; freed slots link
                          * the same way through their first 2 bytes */
    uint16_t unused;
};
_Static_assert(sizeof(struct tc_slab) == 16, "slab header is 16 bytes");
_Static_assert((TC_SLAB_ALIGN - sizeof(struct tc_slab)) / TC_SLAB_GRAIN <= UINT16_MAX,
               "slot indices fit 16 bits");

static unsigned class_of(size_t size) {
    return (unsigned)((size + TC_SLAB_GRAIN - 1) / TC_SLAB_GRAIN - 1);
}
static size_t slot_of(unsigned cls) { return ((size_t)cls + 1) * TC_SLAB_GRAIN; }

size_t tc__slab_slot(size_t size) {
    return size && size <= TC_SLAB_MAX ? slot_of(class_of(size)) : 0;
}

/* The slab size for a class: the page count from MIN_PAGES to the cache's max_pages that is a
 * size class of its own and leaves the least header and tail per slot (at least one slot). */
static size_t slab_bytes(const struct tc_slabs *s, size_t slot) {
    size_t best = 0, best_waste = SIZE_MAX;
    size_t min_pages = (HEADER_BYTES + slot + PAGE - 1) / PAGE;
    if (min_pages < MIN_PAGES) min_pages = MIN_PAGES;
    size_t max_pages = s->max_pages > min_pages ? s->max_pages : min_pages;
    for (size_t pages = min_pages; pages <= max_pages; pages++) {
        size_t bytes = pages * PAGE, n = (bytes - HEADER_BYTES) / slot;
        if (tc__cache_charge(bytes) != bytes) continue; /* not a size class: would round up */
        size_t waste = (bytes - n * slot) * 1024 / n;   /* header and tail per slot, scaled */
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

static char *slot_at(struct tc_slab *sl, size_t i) {
    return (char *)sl + HEADER_BYTES + i * slot_of(sl->cls);
}

/* (The class's array has room: cap >= slabs.) */
static void list_add(struct tc_slabs *s, struct tc_slab *sl) {
    struct tc_slab_class *k = &s->classes[sl->cls];
    sl->pos = k->npartial;
    k->partial[k->npartial++] = sl;
}

static void list_remove(struct tc_slabs *s, struct tc_slab *sl) {
    struct tc_slab_class *k = &s->classes[sl->cls];
    struct tc_slab *last = k->partial[--k->npartial];
    k->partial[sl->pos] = last;
    last->pos = sl->pos;
    sl->pos = NOT_LISTED;
}

/* The partial array's size for one more slab of class k (cap when it has room). */
static uint32_t cap_for_one_more(const struct tc_slab_class *k) {
    return k->slabs < k->cap ? k->cap : (k->cap ? 2 * k->cap : 8);
}

/* Entries a class must have before it gets slabs: enough for 4 slabs of the largest size. */
#define FILL_SLABS 4

bool tc__slab_wanted(const struct tc_cache *c, unsigned t, size_t size) {
    const struct tc_slabs *s = &c->tiers[t].slabs;
    if (!size || size > TC_SLAB_MAX || !s->class_live) return false;
    unsigned cls = class_of(size);
    return s->classes[cls].npartial ||
           s->class_live[cls] >= FILL_SLABS * (s->max_pages * PAGE / slot_of(cls) + 1);
}

/* The per-class tables, made when the tier gets its first entry and freed with its last
 * (an empty tier holds nothing). False when they could not be had: no slabs for now. */
static bool tables(struct tc_cache *c, unsigned t) {
    struct tc_slabs *s = &c->tiers[t].slabs;
    if (s->classes) return true;
    s->classes = tc__cache_alloc(c, t, TC_SLAB_CLASSES * sizeof *s->classes);
    s->class_live = tc__cache_alloc(c, t, TC_SLAB_CLASSES * sizeof *s->class_live);
    if (!s->classes || !s->class_live) {
        if (s->classes) tc__cache_free(c, t, s->classes);
        if (s->class_live) tc__cache_free(c, t, s->class_live);
        s->classes = NULL;
        s->class_live = NULL;
        return false;
    }
    memset(s->classes, 0, TC_SLAB_CLASSES * sizeof *s->classes);
    memset(s->class_live, 0, TC_SLAB_CLASSES * sizeof *s->class_live);
    return true;
}

static void free_tables(struct tc_cache *c, unsigned t) {
    struct tc_slabs *s = &c->tiers[t].slabs;
    if (s->classes) {
        for (size_t k = 0; k < TC_SLAB_CLASSES; k++)
            if (s->classes[k].partial) tc__cache_free(c, t, s->classes[k].partial);
        tc__cache_free(c, t, s->classes);
    }
    if (s->class_live) tc__cache_free(c, t, s->class_live);
    s->classes = NULL;
    s->class_live = NULL;
}

void tc__slab_count(struct tc_cache *c, unsigned t, size_t size, int sign) {
    struct tc_slabs *s = &c->tiers[t].slabs;
    if (!size || size > TC_SLAB_MAX || !s->max_pages) return;
    if (sign > 0 && !tables(c, t)) return;
    if (!s->class_live) return;
    s->class_live[class_of(size)] += (uint32_t)sign;
    s->entries += (size_t)(ptrdiff_t)sign;
    if (!s->entries && !s->count) free_tables(c, t);
}

size_t tc__slab_need(const struct tc_cache *c, unsigned t, size_t size) {
    if (!tc__slab_wanted(c, t, size)) return tc__cache_charge(size);
    const struct tc_slabs *s = &c->tiers[t].slabs;
    unsigned cls = class_of(size);
    const struct tc_slab_class *k = &s->classes[cls];
    if (k->npartial) return 0;
    size_t cap = cap_for_one_more(k);
    return (k->slab_bytes ? k->slab_bytes : slab_bytes(s, slot_of(cls))) +
           (cap != k->cap ? tc__cache_charge(cap * sizeof *k->partial) : 0);
}

/* A slot from sl (which has one free). */
static void *take_slot(struct tc_slabs *s, struct tc_slab *sl) {
    char *p;
    s->free_bytes -= slot_of(sl->cls);
    if (sl->free) {
        p = slot_at(sl, sl->free - 1u);
        memcpy(&sl->free, p, sizeof sl->free);
    } else {
        p = slot_at(sl, sl->fresh++);
    }
    if (++sl->live == sl->nslots) list_remove(s, sl);
    return p;
}

void tc__slabs_init(struct tc_cache *c, unsigned t) {
    struct tc_slabs *s = &c->tiers[t].slabs;
    size_t pages = c->tiers[t].budget / SLAB_SHARE / PAGE;
    if (pages < MIN_PAGES) return;
    s->max_pages = pages > TC_SLAB_ALIGN / PAGE ? TC_SLAB_ALIGN / PAGE : pages;
    s->align = MIN_PAGES * PAGE;
    while (s->align < s->max_pages * PAGE) s->align *= 2;
}

void tc__slabs_release(struct tc_cache *c, unsigned t) {
    free_tables(c, t);
    c->tiers[t].slabs.max_pages = 0;
}

void *tc__slab_alloc(struct tc_cache *c, unsigned t, size_t size) {
    struct tc_slabs *s = &c->tiers[t].slabs;
    unsigned cls = class_of(size);
    struct tc_slab_class *k = &s->classes[cls];
    struct tc_slab *sl;
    if (k->npartial) {
        sl = k->partial[k->npartial - 1];
    } else {
        uint32_t cap = cap_for_one_more(k);
        if (cap != k->cap) {
            struct tc_slab **grown = tc__cache_alloc(c, t, cap * sizeof *grown);
            if (!grown) return NULL;
            if (k->partial) {
                memcpy(grown, k->partial, k->npartial * sizeof *grown);
                tc__cache_free(c, t, k->partial);
            }
            k->partial = grown;
            k->cap = cap;
        }
        size_t slot = slot_of(cls);
        if (!k->slab_bytes) k->slab_bytes = (uint32_t)slab_bytes(s, slot);
        size_t bytes = k->slab_bytes;
        void *mem = NULL;
        if (tc_posix_memalign(c->tiers[t].kind, &mem, s->align, bytes)) return NULL;
        c->tiers[t].used += tc_usable_size(NULL, mem);
        sl = mem;
        sl->cls = (uint16_t)cls;
        sl->nslots = (uint16_t)((bytes - HEADER_BYTES) / slot);
        sl->live = sl->fresh = sl->free = sl->unused = 0;
        list_add(s, sl);
        k->slabs++;
        s->count++;
        s->free_bytes += (size_t)sl->nslots * slot;
    }
    return take_slot(s, sl);
}

void tc__slab_free(struct tc_cache *c, unsigned t, void *p) {
    struct tc_slabs *s = &c->tiers[t].slabs;
    struct tc_slab *sl = slab_of(s, p);
    size_t slot = slot_of(sl->cls);
    memcpy(p, &sl->free, sizeof sl->free);
    sl->free = (uint16_t)(((char *)p - slot_at(sl, 0)) / slot + 1);
    s->free_bytes += slot;
    if (--sl->live == 0) {
        struct tc_slab_class *k = &s->classes[sl->cls];
        if (sl->pos != NOT_LISTED) list_remove(s, sl);
        s->count--;
        s->free_bytes -= (size_t)sl->nslots * slot;
        tc__cache_free(c, t, sl);
        if (--k->slabs == 0) { /* the class's last slab: its array goes too */
            tc__cache_free(c, t, k->partial);
            k->partial = NULL;
            k->cap = 0;
        }
        if (!s->entries && !s->count) free_tables(c, t); /* a zombie's slot was the last */
        return;
    }
    if (sl->pos == NOT_LISTED) list_add(s, sl);
}

size_t tc__slab_size_of(const struct tc_slabs *s, const void *p) {
    return slot_of(slab_of(s, p)->cls);
}

void *tc__slab_move(struct tc_cache *c, unsigned t, void *p, unsigned quarters) {
    struct tc_slabs *s = &c->tiers[t].slabs;
    struct tc_slab *from = slab_of(s, p);
    if ((size_t)from->live * 4 > (size_t)from->nslots * quarters) return NULL;
    const struct tc_slab_class *k = &s->classes[from->cls];
    struct tc_slab *to = NULL;
    for (uint32_t i = k->npartial, tries = 0; i-- > 0 && tries < 8; tries++)
        if (k->partial[i] != from && k->partial[i]->live > from->live) {
            to = k->partial[i];
            break;
        }
    if (!to) return NULL;
    void *n = take_slot(s, to);
    memcpy(n, p, slot_of(from->cls));
    tc__slab_free(c, t, p);
    return n;
}

size_t tc__slab_live(const struct tc_slabs *s, const void *p) { return slab_of(s, p)->live; }
size_t tc__slab_usable(const struct tc_slabs *s, const void *p) {
    return tc_usable_size(NULL, slab_of(s, p));
}
const void *tc__slab_base(const struct tc_slabs *s, const void *p) { return slab_of(s, p); }
