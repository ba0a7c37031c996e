/*
 * Pins: value blocks held by zero-copy readers. A pinned block is never freed or moved while
 * a reader holds it; when its entry is replaced, evicted, moved or the cache is closed, the
 * record becomes a zombie that owns the block (still charged to its tier) until the last
 * unpin frees it. Records live in a chained hash table keyed by block address, so an entry
 * pays nothing for being pinnable: only the E_PINNED flag.
 *
 * The handle a reader gets is the record itself, and the record's reader count is atomic:
 * pinning happens under the cache's mutex, but unpinning a live entry's record only
 * decrements the count, without the mutex and without freeing anything. A record whose count
 * fell to 0 stays in the table (idle) and is reused by the entry's next pin; idle records are
 * dropped when their entry goes away, when compaction wants to move the entry, and by a sweep
 * that keeps their number within twice the number of records in use (the swept ones are kept
 * as spares, so that pinning rarely allocates). Only the last unpin of a zombie takes the
 * mutex. Exactly one side frees a zombie: orphaning sets PIN_ZOMBIE with an atomic or, and
 * the unpin that takes the count from 1 to 0 with PIN_ZOMBIE set is the one that frees.
 */
#include <stdlib.h>

#include "cache_internal.h"

#define MIN_SWEEP 256 /* records (in use or idle) before the first sweep */
#define MAX_SPARES 256

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

uint32_t tc__pin_readers(const struct tc_pin *r) {
    return atomic_load_explicit(&r->state, memory_order_acquire) & ~PIN_ZOMBIE;
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
    struct tc_pin **b = tc__cache_alloc(c, 0, n * sizeof *b);
    if (!b) return;
    memset(b, 0, n * sizeof *b);
    struct tc_pins fresh = *p;
    fresh.buckets = b;
    fresh.nbuckets = n;
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

static void unlink_record(struct tc_pins *p, struct tc_pin *r) {
    struct tc_pin **link = &p->buckets[bucket_of(p, r->block)];
    while (*link != r) link = &(*link)->next;
    *link = r->next;
    p->count--;
}

/* A record that left the table: kept as a spare (still charged) or freed. */
static void retire_record(struct tc_cache *c, struct tc_pin *r) {
    if (c->pins.nspares < MAX_SPARES && !c->closed) {
        r->next = c->pins.spares;
        c->pins.spares = r;
        c->pins.nspares++;
    } else {
        tc__cache_free(c, 0, r);
    }
}

/* Drop the idle records (their entries lose E_PINNED), keeping them as spares. */
static void sweep(struct tc_cache *c) {
    struct tc_pins *p = &c->pins;
    for (size_t b = 0; b < p->nbuckets; b++) {
        for (struct tc_pin **link = &p->buckets[b]; *link;) {
            struct tc_pin *r = *link;
            if (r->entry && atomic_load_explicit(&r->state, memory_order_acquire) == 0) {
                *link = r->next;
                p->count--;
                r->entry->flags &= (uint8_t)~E_PINNED;
                retire_record(c, r);
            } else {
                link = &r->next;
            }
        }
    }
    p->sweep_at = p->count * 2 > MIN_SWEEP ? p->count * 2 : MIN_SWEEP;
}

int tc__pin(struct tc_cache *c, struct tc_entry *e, struct tc_pin **out) {
    void *block = entry_value_block(e);
    struct tc_pin *r = e->flags & E_PINNED ? tc__pin_find(&c->pins, block) : NULL;
    if (r) {
        atomic_fetch_add_explicit(&r->state, 1, memory_order_relaxed);
        *out = r;
        return TC_OK;
    }
    if (c->pins.count >= c->pins.sweep_at) sweep(c);
    /* The record and a grown bucket table are tier-0 metadata: make room for them first. */
    size_t grow = grown_buckets(&c->pins);
    size_t need = c->pins.spares ? 0 : tc__cache_charge(sizeof *r);
    if (grow) need += tc__cache_charge(grow * sizeof(struct tc_pin *));
    if (need) {
        tc__keep(c, e);
        int err = tc__make_room(c, 0, need);
        tc__unkeep(c);
        if (err) return TC_ERR_NOMEM;
    }
    maybe_grow(c);
    if (!c->pins.nbuckets) return TC_ERR_NOMEM;
    if ((r = c->pins.spares)) {
        c->pins.spares = r->next;
        c->pins.nspares--;
    } else if (!(r = tc__cache_alloc(c, 0, sizeof *r))) {
        return TC_ERR_NOMEM;
    }
    r->block = block;
    r->entry = e;
    r->tier = entry_tier(e);
    r->slab = !(e->flags & E_EXTERNAL) && (e->flags & E_SLAB);
    r->charged = r->slab ? 0 : tc_usable_size(NULL, block);
    atomic_init(&r->state, 1);
    size_t k = bucket_of(&c->pins, block);
    r->next = c->pins.buckets[k];
    c->pins.buckets[k] = r;
    c->pins.count++;
    e->flags |= E_PINNED;
    *out = r;
    return TC_OK;
}

bool tc__unpin(struct tc_pin *r) {
    uint32_t prev = atomic_fetch_sub_explicit(&r->state, 1, memory_order_acq_rel);
    return prev == (PIN_ZOMBIE | 1);
}

void tc__pin_free_zombie(struct tc_cache *c, struct tc_pin *r) {
    unlink_record(&c->pins, r);
    if (r->slab) tc__slab_free(c, r->tier, r->block);
    else tc__cache_free(c, r->tier, r->block);
    retire_record(c, r);
}

bool tc__pin_orphan(struct tc_cache *c, struct tc_entry *e) {
    struct tc_pin *r = tc__pin_find(&c->pins, entry_value_block(e));
    e->flags &= (uint8_t)~E_PINNED;
    if (!r) return false;
    uint32_t prev = atomic_fetch_or_explicit(&r->state, PIN_ZOMBIE, memory_order_acq_rel);
    if (prev == 0) { /* idle: nobody holds the block, it goes with the entry */
        unlink_record(&c->pins, r);
        retire_record(c, r);
        return false;
    }
    r->entry = NULL; /* a reader's last unpin waits for the mutex before it frees r */
    return true;
}

bool tc__pin_drop_idle(struct tc_cache *c, struct tc_entry *e) {
    struct tc_pin *r = tc__pin_find(&c->pins, entry_value_block(e));
    /* Pins are only taken under the mutex (held here), so a count of 0 stays 0. */
    if (r && atomic_load_explicit(&r->state, memory_order_acquire) != 0) return false;
    if (r) {
        unlink_record(&c->pins, r);
        retire_record(c, r);
    }
    e->flags &= (uint8_t)~E_PINNED;
    return true;
}

size_t tc__pins_held(const struct tc_cache *c) {
    size_t n = 0;
    for (size_t b = 0; b < c->pins.nbuckets; b++)
        for (struct tc_pin *r = c->pins.buckets[b]; r; r = r->next) n += tc__pin_readers(r) != 0;
    return n;
}

void tc__pins_free_spares(struct tc_cache *c) {
    while (c->pins.spares) {
        struct tc_pin *r = c->pins.spares;
        c->pins.spares = r->next;
        tc__cache_free(c, 0, r);
    }
    c->pins.nspares = 0;
}

void tc__pins_release(struct tc_cache *c) {
    tc__pins_free_spares(c);
    if (c->pins.buckets) tc__cache_free(c, 0, c->pins.buckets);
    memset(&c->pins, 0, sizeof c->pins);
}
