/*
 * tc_cache_check: recompute everything the cache keeps incrementally and compare. Index
 * (tags, reachability, counts), queues (positions, live counts, byte sums), per-tier item,
 * value and charged byte counts (from the allocator's usable sizes), pins, and which kind
 * each value block really lives in.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cache_internal.h"

struct totals {
    size_t used[TC_CACHE_MAX_TIERS], items[TC_CACHE_MAX_TIERS], values[TC_CACHE_MAX_TIERS];
    size_t keys;
    const void **slots; /* every slab slot in use (entries and zombies), if allocated */
    size_t nslots, slots_cap;
};

static void note_slot(struct totals *tot, const void *p) {
    if (tot->slots && tot->nslots < tot->slots_cap) tot->slots[tot->nslots] = p;
    tot->nslots++;
}

static int by_address(const void *a, const void *b) {
    uintptr_t x = (uintptr_t)*(const void *const *)a, y = (uintptr_t)*(const void *const *)b;
    return x < y ? -1 : x > y;
}

static int fail(char *msg, size_t cap, const char *fmt, ...) {
    if (msg && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, cap, fmt, ap);
        va_end(ap);
    }
    return TC_ERR_CORRUPT;
}

static size_t usable(const void *p) { return p ? tc_usable_size(NULL, p) : 0; }

#define FAIL(...) return fail(msg, cap, __VA_ARGS__)

static int check_entry(tc_cache_t *c, size_t i, struct totals *tot, char *msg, size_t cap) {
    struct tc_entry *e = c->index.slots[i];
    unsigned t = entry_tier(e);
    if (t >= c->ntiers) FAIL("slot %zu: tier %u of %zu", i, t, c->ntiers);
    if (c->index.tags[i] != tc__index_tag(tc__entry_hash(e))) FAIL("slot %zu: wrong tag", i);
    if (tc__index_find_entry(&c->index, e) != i) FAIL("slot %zu: key not found there", i);
    if (e->klen < 1) FAIL("slot %zu: empty key", i);
    if ((e->flags & E_SMALL) && t) FAIL("slot %zu: small FIFO entry on tier %u", i, t);
    if (t && !(e->flags & E_EXTERNAL)) FAIL("slot %zu: inline value on tier %u", i, t);
    struct tc_queue *q = tc__entry_queue(c, e);
    if (e->qpos >= q->cap || q->ring[e->qpos] != e) FAIL("slot %zu: not at its queue slot", i);
    if ((e->flags & E_PINNED)) {
        struct tc_pin *r = tc__pin_find(&c->pins, entry_value_block(e));
        if (!r || r->entry != e) FAIL("slot %zu: pinned without a pin record", i);
    }
    if (e->flags & E_EXTERNAL) {
        void *v = entry_external(e);
        if (tc_detect_kind(v) != c->tiers[t].kind) FAIL("slot %zu: value not in tier %u", i, t);
        if (!(e->flags & E_PINNED)) tot->used[t] += usable(v);
        if (usable(v) < e->vlen) FAIL("slot %zu: value block too small", i);
    }
    if (e->flags & E_SLAB) {
        if (tc__slab_size_of(c, e) != tc__slab_slot(entry_header_size(e->flags) + e->klen +
                                                 (e->flags & E_EXTERNAL ? 0 : e->vlen)))
            FAIL("slot %zu: entry in a slab of the wrong class", i);
        if (!(e->flags & E_PINNED) || (e->flags & E_EXTERNAL)) note_slot(tot, e);
    } else if (!(e->flags & E_PINNED) || (e->flags & E_EXTERNAL)) {
        tot->used[0] += usable(e);
    }
    tot->items[t]++;
    tot->values[t] += e->vlen;
    tot->keys += e->klen;
    return TC_OK;
}

static int check_queue(tc_cache_t *c, struct tc_queue *q, const char *name, size_t *live,
                       char *msg, size_t cap) {
    if (q->cap && q->tail - q->head > q->cap) FAIL("%s: ring overfull", name);
    size_t n = 0, bytes = 0;
    for (uint32_t i = q->head; i != q->tail; i++) {
        struct tc_entry *e = q->ring[i & (q->cap - 1)];
        if (!e) continue;
        if (e->qpos != (i & (q->cap - 1))) FAIL("%s: entry at %u says %u", name, i, e->qpos);
        if (tc__entry_queue(c, e) != q) FAIL("%s: entry belongs to another queue", name);
        if (tc__index_find_entry(&c->index, e) == TC_INDEX_NONE) FAIL("%s: entry not indexed", name);
        n++;
        if (q->counts_bytes) bytes += tc__entry_charge(e);
    }
    if (n != q->live) FAIL("%s: %zu live entries, counted %zu", name, n, q->live);
    if (bytes != q->bytes) FAIL("%s: %zu bytes, counted %zu", name, bytes, q->bytes);
    *live += n;
    return TC_OK;
}

static int check_locked(tc_cache_t *c, char *msg, size_t cap, struct totals *totp) {
    struct totals tot = *totp;
    size_t count = 0, deleted = 0;
    for (size_t i = 0; i < c->index.cap; i++) {
        uint8_t tag = c->index.tags[i];
        if (tag == 0 || tag == 1) {
            if (c->index.slots[i]) FAIL("slot %zu: free slot holds an entry", i);
            deleted += tag == 1;
            continue;
        }
        if (!c->index.slots[i]) FAIL("slot %zu: live tag, no entry", i);
        int err = check_entry(c, i, &tot, msg, cap);
        if (err) return err;
        count++;
    }
    if (count != c->index.count || deleted != c->index.deleted)
        FAIL("index counts %zu/%zu, found %zu/%zu", c->index.count, c->index.deleted, count,
             deleted);
    if (c->index.cap && (c->index.count + c->index.deleted) * 8 > c->index.cap * 7)
        FAIL("index over its load limit");
    size_t live = 0;
    int err = check_queue(c, &c->small, "small FIFO", &live, msg, cap);
    for (size_t t = 0; !err && t < c->ntiers; t++)
        err = check_queue(c, &c->tiers[t].main, "main FIFO", &live, msg, cap);
    if (err) return err;
    if (live != count) FAIL("queues hold %zu entries, index %zu", live, count);
    /* Fixed metadata: the cache, index, ghost, rings, pin table and records. */
    tot.used[0] += usable(c) + usable(c->index.tags) + usable(c->index.slots) +
                   usable(c->ghost) + usable(c->small.ring) + usable(c->pins.buckets) +
                   usable(c->slabs.classes) + usable(c->slabs.class_live);
    for (size_t k = 0; c->slabs.classes && k < TC_SLAB_CLASSES; k++)
        tot.used[0] += usable(c->slabs.classes[k].partial);
    for (size_t t = 0; t < c->ntiers; t++) tot.used[0] += usable(c->tiers[t].main.ring);
    size_t pins = 0, zombies = 0;
    for (size_t b = 0; b < c->pins.nbuckets; b++) {
        for (struct tc_pin *r = c->pins.buckets[b]; r; r = r->next, pins++) {
            /* (A zombie may show 0 readers: its last reader is waiting for the mutex to free
             * it.) */
            if (!r->entry && !(atomic_load(&r->state) & PIN_ZOMBIE)) FAIL("zombie pin record not marked");
            if (r->entry && (atomic_load(&r->state) & PIN_ZOMBIE)) FAIL("live pin record marked a zombie");
            tot.used[0] += usable(r);
            if (r->entry) {
                if (!(r->entry->flags & E_PINNED) || entry_value_block(r->entry) != r->block)
                    FAIL("pin record does not match its entry");
                if (r->entry->flags & E_EXTERNAL) tot.used[r->tier] += usable(r->block);
                else if (r->slab) note_slot(&tot, r->block);
                else tot.used[0] += usable(r->block);
            } else {
                tot.used[r->tier] += r->charged;
                if (r->slab) note_slot(&tot, r->block);
                zombies++;
            }
        }
    }
    size_t spares = 0;
    for (struct tc_pin *r = c->pins.spares; r; r = r->next, spares++) tot.used[0] += usable(r);
    if (spares != c->pins.nspares) FAIL("%zu spare pin records, counted %zu", spares, c->pins.nspares);
    /* Slabs: each one's live count is the slots found in it, each is charged once. */
    if (!tot.slots || tot.nslots > tot.slots_cap) FAIL("slab slots: %zu, no room to sort them", tot.nslots);
    qsort(tot.slots, tot.nslots, sizeof *tot.slots, by_address);
    size_t slabs = 0;
    for (size_t i = 0, j; i < tot.nslots; i = j) {
        const void *base = tc__slab_base(c, tot.slots[i]);
        for (j = i; j < tot.nslots && tc__slab_base(c, tot.slots[j]) == base; j++)
            if (j > i && tot.slots[j] == tot.slots[j - 1]) FAIL("a slab slot used twice");
        if (tc__slab_live(c, tot.slots[i]) != j - i)
            FAIL("slab %p: %zu live slots, counted %zu", base, j - i, tc__slab_live(c, tot.slots[i]));
        tot.used[0] += tc__slab_usable(c, tot.slots[i]);
        slabs++;
    }
    if (slabs != c->slabs.count) FAIL("%zu slabs hold entries, counted %zu", slabs, c->slabs.count);
    if (pins != c->pins.count) FAIL("pin table counts %zu, found %zu", c->pins.count, pins);
    if (tot.keys != c->key_bytes) FAIL("key bytes %zu, counted %zu", tot.keys, c->key_bytes);
    for (size_t t = 0; t < c->ntiers; t++) {
        const struct tc_tier *tier = &c->tiers[t];
        if (tot.items[t] != tier->items) FAIL("tier %zu: %zu items, counted %zu", t, tot.items[t], tier->items);
        if (tot.values[t] != tier->value_bytes)
            FAIL("tier %zu: %zu value bytes, counted %zu", t, tot.values[t], tier->value_bytes);
        if (tot.used[t] != tier->used)
            FAIL("tier %zu: %zu bytes in use, counted %zu", t, tot.used[t], tier->used);
        if (!zombies && tier->used > tier->budget)
            FAIL("tier %zu: %zu bytes in use over its budget of %zu", t, tier->used, tier->budget);
    }
    return TC_OK;
}

TC_API int tc_cache_check(tc_cache_t *c, char *msg, size_t cap) {
    int err = tc__cache_lock(c);
    if (err) return err;
    if (msg && cap) msg[0] = '\0';
    /* Scratch (not charged: freed at once) for the slab slots in use. */
    struct totals tot = {0};
    tot.slots_cap = c->index.count + c->pins.count + 1;
    tot.slots = malloc(tot.slots_cap * sizeof *tot.slots);
    err = check_locked(c, msg, cap, &tot);
    free(tot.slots);
    tc__cache_unlock(c);
    return err;
}
