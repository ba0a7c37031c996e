/*
 * Pins: value blocks held by zero-copy readers. A pinned block is never freed or moved while
 * a reader holds it; when its entry is replaced, evicted, moved or the cache is destroyed,
 * the record becomes a zombie that owns the block (still charged to its tier) until the last
 * unpin frees it. Records live in a chained hash table keyed by block address, so an entry
 * pays nothing for being pinnable: only the E_PINNED flag.
 */
#include <stdlib.h>

#include "cache_internal.h"

static size_t bucket_of(const struct tc_pins *p, const void *block) {
    uintptr_t a = (uintptr_t)block;
    return (size_t)((a >> 4) * 0x9E3779B97F4A7C15ull >> 32) & (p->nbuckets - 1);
}

struct tc_pin *tc__pin_find(const struct tc_pins *p, const void *block) {
    if (!p->nbuckets) return NULL;
    for (struct tc_pin *r = p->buckets[bucket_of(p, block)]; r; r = r->next)
        if (r->block == block) return r;
    return NULL;
}

/* The bucket count the table grows to before one more record, or 0 if it has room. */
static size_t grown_buckets(const struct tc_pins *p) {
    if (p->nbuckets && p->count < p->nbuckets) return 0;
    return p->nbuckets ? p->nbuckets * 2 : 16;
}

/* Double the bucket array when the table is full; failure only makes chains longer. */
static void maybe_grow(struct tc_cache *c) {
    struct tc_pins *p = &c->pins;
    size_t n = grown_buckets(p);
    if (!n) return;
    struct tc_pin **b = tc__cache_alloc(c, 0, true, n * sizeof *b);
    if (!b) return;
    memset(b, 0, n * sizeof *b);
    struct tc_pins fresh = {.buckets = b, .nbuckets = n, .count = p->count};
    for (size_t i = 0; i < p->nbuckets; i++) {
        for (struct tc_pin *r = p->buckets[i], *next; r; r = next) {
            next = r->next;
            size_t k = bucket_of(&fresh, r->block);
            r->next = b[k];
            b[k] = r;
        }
    }
    if (p->buckets) tc__cache_free(c, 0, p->buckets);
    *p = fresh;
}

int tc__pin(struct tc_cache *c, struct tc_entry *e) {
    void *block = entry_value_block(e);
    struct tc_pin *r = e->flags & E_PINNED ? tc__pin_find(&c->pins, block) : NULL;
    if (r) {
        r->count++;
        return TC_OK;
    }
    /* The record and a grown bucket table are tier-0 metadata: make room for them first. */
    size_t grow = grown_buckets(&c->pins);
    size_t need = tc__cache_charge(sizeof *r);
    if (grow) need += tc__cache_charge(grow * sizeof(struct tc_pin *));
    tc__keep(c, e);
    int err = tc__make_room(c, 0, need);
    tc__unkeep(c);
    if (err) return TC_ERR_NOMEM;
    maybe_grow(c);
    if (!c->pins.nbuckets) return TC_ERR_NOMEM;
    r = tc__cache_alloc(c, 0, true, sizeof *r);
    if (!r) return TC_ERR_NOMEM;
    r->block = block;
    r->entry = e;
    r->tier = e->flags & E_EXTERNAL ? entry_tier(e) : 0;
    r->charged = tc_usable_size(NULL, block);
    r->count = 1;
    size_t k = bucket_of(&c->pins, block);
    r->next = c->pins.buckets[k];
    c->pins.buckets[k] = r;
    c->pins.count++;
    e->flags |= E_PINNED;
    return TC_OK;
}

static void unlink_record(struct tc_pins *p, struct tc_pin *r) {
    struct tc_pin **link = &p->buckets[bucket_of(p, r->block)];
    while (*link != r) link = &(*link)->next;
    *link = r->next;
    p->count--;
}

bool tc__unpin(struct tc_cache *c, void *block) {
    struct tc_pin *r = tc__pin_find(&c->pins, block);
    if (!r) return false;
    if (--r->count) return true;
    unlink_record(&c->pins, r);
    if (r->entry)
        r->entry->flags &= (uint8_t)~E_PINNED;
    else
        tc__cache_free(c, r->tier, r->block);
    tc__cache_free(c, 0, r);
    return true;
}

void tc__pin_orphan(struct tc_cache *c, struct tc_entry *e) {
    struct tc_pin *r = tc__pin_find(&c->pins, entry_value_block(e));
    if (r) r->entry = NULL;
    e->flags &= (uint8_t)~E_PINNED;
}

void tc__pins_release(struct tc_cache *c) {
    if (c->pins.buckets) tc__cache_free(c, 0, c->pins.buckets);
    memset(&c->pins, 0, sizeof c->pins);
}
