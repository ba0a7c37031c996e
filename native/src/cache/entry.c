/*
 * Entries and the memory they take. Every block the cache allocates is charged to a tier at
 * its real usable size. An entry is one block of its tier's kind (a slab slot when small
 * enough) with its value inline, or two blocks of that kind when the value is TC_INLINE_MAX
 * bytes or more; the index, the pin records and tier 0's queues are tier-0 (DRAM) memory, and
 * a lower tier's queues are its own.
 */
#include <time.h>

#include "cache_internal.h"

uint64_t tc__now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

size_t tc__cache_charge(size_t size) {
    size_t n = tc_je_nallocx(size ? size : 1, 0);
    return n ? n : SIZE_MAX;
}

void *tc__cache_alloc(struct tc_cache *c, unsigned t, size_t size) {
    void *p = tc_malloc(c->tiers[t].kind, size ? size : 1);
    if (p) c->tiers[t].used += tc_usable_size(NULL, p);
    return p;
}

void *tc__cache_alloc_zeroed(struct tc_cache *c, unsigned t, size_t size) {
    size_t n = tc__cache_charge(size); /* all of the block's usable bytes zeroed */
    void *p = n == SIZE_MAX ? NULL : tc_calloc(c->tiers[t].kind, 1, n);
    if (p) c->tiers[t].used += tc_usable_size(NULL, p);
    return p;
}

void tc__cache_free(struct tc_cache *c, unsigned t, void *p) {
    c->tiers[t].used -= tc_usable_size(NULL, p);
    tc_free(NULL, p); /* the NULL kind: the address says where the block belongs */
}

/* The optional fields an entry of this spec on tier t has. Values of TC_INLINE_MAX bytes or
 * more are separate blocks: entry blocks then stay small and dense for lookups, and a big
 * value's size class is not inflated by its header. */
static unsigned layout_of(unsigned t, const struct tc_entry_spec *s) {
    size_t vlen = s->len1 + s->len2;
    return (s->expiry ? L_TTL : 0) | (vlen >= TC_INLINE_MAX ? L_EXTERNAL : 0) |
           (s->cas ? L_CAS : 0) | (s->flags ? L_FLAGS : 0) | (t << E_TIER_SHIFT);
}

static size_t block_size(unsigned layout, size_t klen, size_t vlen) {
    return layout_header_size(layout) + klen + (layout & L_EXTERNAL ? 0 : vlen);
}

size_t tc__entry_block(const struct tc_entry_spec *s) {
    return block_size(layout_of(0, s), s->klen + 1, s->len1 + s->len2);
}

size_t tc__entry_value_block(const struct tc_entry_spec *s) {
    size_t vlen = s->len1 + s->len2;
    return vlen >= TC_INLINE_MAX ? tc__cache_charge(vlen) : 0;
}

size_t tc__entry_need(const struct tc_cache *c, unsigned t, const struct tc_entry_spec *s) {
    return tc__slab_need(c, t, tc__entry_block(s)) + tc__entry_value_block(s);
}

size_t tc__entry_charge(const struct tc_entry *e) {
    size_t size = entry_block_size(e);
    size_t n = e->flags & E_SLAB ? tc__slab_slot(size) : tc__cache_charge(size);
    if (e->flags & E_EXTERNAL) n += tc__cache_charge(e->vlen);
    return n;
}

struct tc_entry_spec tc__entry_spec_of(const struct tc_entry *e) {
    const unsigned char *k = entry_key(e);
    return (struct tc_entry_spec){
        .ktag = k[0],
        .key = k + 1,
        .klen = e->klen - 1u,
        .part1 = entry_value(e),
        .len1 = e->vlen,
        .vtag = entry_vtag(e),
        .expiry = entry_expiry(e),
        .cas = entry_cas(e),
        .flags = entry_client_flags(e),
    };
}

/* Write s into e's block for layout (tier bits included); e's E_SLAB, E_SMALL, E_PINNED
 * bits, frequency, queue position and value block pointer are kept. */
static void fill(struct tc_entry *e, unsigned layout, const struct tc_entry_spec *s) {
    size_t vlen = s->len1 + s->len2;
    e->vlen = (uint32_t)vlen;
    e->klen = (uint16_t)(s->klen + 1);
    e->flags = (uint8_t)((layout & 0xff) | (e->flags & (E_SLAB | E_SMALL | E_PINNED)));
    e->meta = (uint8_t)((s->vtag & 15) | (layout >> 8) | (e->meta & 0x30));
    if (s->expiry) memcpy(e->tail, &s->expiry, 8);
    if (s->cas) memcpy(e->tail + layout_offset_cas(layout), &s->cas, 8);
    if (s->flags) memcpy(e->tail + layout_offset_flags(layout), &s->flags, 4);
    unsigned char *k = entry_key(e);
    k[0] = (unsigned char)s->ktag;
    memcpy(k + 1, s->key, s->klen);
    unsigned char *v = entry_value(e);
    if (s->len1) memcpy(v, s->part1, s->len1);
    if (s->len2) memcpy(v + s->len1, s->part2, s->len2);
}

struct tc_entry *tc__entry_new(struct tc_cache *c, unsigned t, const struct tc_entry_spec *s) {
    unsigned layout = layout_of(t, s);
    size_t klen = s->klen + 1, vlen = s->len1 + s->len2; /* klen with the tag byte */
    void *vblock = NULL;
    if (layout & L_EXTERNAL) {
        vblock = tc__cache_alloc(c, t, vlen);
        if (!vblock) return NULL;
    }
    size_t bytes = block_size(layout, klen, vlen);
    struct tc_entry *e;
    unsigned flags = layout & 0xff;
    if (tc__slab_wanted(c, t, bytes)) {
        e = tc__slab_alloc(c, t, bytes);
        flags |= E_SLAB;
    } else {
        e = tc__cache_alloc(c, t, bytes);
    }
    if (!e) {
        if (vblock) tc__cache_free(c, t, vblock);
        return NULL;
    }
    tc__slab_count(c, t, bytes, 1);
    e->qpos = 0;
    e->flags = (uint8_t)flags; /* (entry_set_external reads the layout from both) */
    e->meta = (uint8_t)(layout >> 8);
    if (vblock) entry_set_external(e, vblock);
    fill(e, layout, s);
    return e;
}

/* Whether [p, p + n) and [lo, hi) share a byte. */
static bool overlaps(const void *p, size_t n, const char *lo, const char *hi) {
    return n && (const char *)p < hi && (const char *)p + n > lo;
}

bool tc__entry_rewrite(struct tc_cache *c, struct tc_entry *e, const struct tc_entry_spec *s) {
    unsigned t = entry_tier(e), layout = layout_of(t, s);
    if ((e->flags & (E_PINNED | E_EXTERNAL)) || (layout & L_EXTERNAL)) return false;
    size_t klen = s->klen + 1, vlen = s->len1 + s->len2;
    size_t was = entry_block_size(e), bytes = block_size(layout, klen, vlen);
    if (e->flags & E_SLAB ? tc__slab_slot(bytes) != tc__slab_slot(was)
                          : tc__cache_charge(bytes) != tc__cache_charge(was))
        return false;
    const char *lo = (const char *)e, *hi = lo + was;
    if (overlaps(s->key, s->klen, lo, hi) || overlaps(s->part1, s->len1, lo, hi) ||
        overlaps(s->part2, s->len2, lo, hi))
        return false;
    if (bytes != was) { /* (the same slot or size class: only the class counts change) */
        tc__slab_count(c, t, was, -1);
        tc__slab_count(c, t, bytes, 1);
    }
    c->tiers[t].value_bytes += vlen - e->vlen;
    fill(e, layout, s);
    return true;
}

void tc__account(struct tc_cache *c, const struct tc_entry *e, int sign) {
    struct tc_tier *tier = &c->tiers[entry_tier(e)];
    if (sign > 0) {
        tier->items++;
        tier->value_bytes += e->vlen;
        c->key_bytes += e->klen;
    } else {
        tier->items--;
        tier->value_bytes -= e->vlen;
        c->key_bytes -= e->klen;
    }
}

static void free_block(struct tc_cache *c, struct tc_entry *e) {
    if (e->flags & E_SLAB) tc__slab_free(c, entry_tier(e), e);
    else tc__cache_free(c, entry_tier(e), e);
}

void tc__entry_free(struct tc_cache *c, struct tc_entry *e) {
    tc__slab_count(c, entry_tier(e), entry_block_size(e), -1);
    if ((e->flags & E_PINNED) && tc__pin_orphan(c, e)) {
        /* the pinned value block stays until its last reader */
        if (e->flags & E_EXTERNAL) free_block(c, e);
        return;
    }
    if (e->flags & E_EXTERNAL) tc__cache_free(c, entry_tier(e), entry_external(e));
    free_block(c, e);
}
