/*
 * tc_cache_check: recompute everything the cache keeps incrementally and compare. Index
 * (tags, reachability, counts, load), queues (positions, live counts, byte sums), per-tier
 * item, value and charged byte counts (from the allocator's usable sizes), slabs, pins, and
 * which kind each entry and value block really lives in (the entry's tier's).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cache_internal.h"

struct totals {
    size_t used[TC_CACHE_MAX_TIERS], items[TC_CACHE_MAX_TIERS], values[TC_CACHE_MAX_TIERS];
    size_t keys;
    /* every slab slot in use (entries and zombies), if allocated, with its tier */
    struct slot {
        const void *p;
        unsigned tier;
    } * slots;
    size_t nslots, slots_cap;
};

static void note_slot(struct totals *tot, const void *p, unsigned tier) {
    if (tot->slots && tot->nslots < tot->slots_cap)
        tot->slots[tot->nslots] = (struct slot){p, tier};
    tot->nslots++;
}

static int by_address(const void *a, const void *b) {
    uintptr_t x = (uintptr_t)((const struct slot *)a)->p,
              y = (uintptr_t)((const struct slot *)b)->p;
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
    struct tc_entry *e = tc__index_at(&c->index, i);
    unsigned t = entry_tier(e);
    if ((uintptr_t)e & 3) FAIL("slot %zx: entry not 4-byte aligned", i);
    if (t >= c->ntiers) FAIL("slot %zx: tier %u of %zu", i, t, c->ntiers);
    if (!tc__index_slot_ok(&c->index, i, tc__entry_hash(e)))
        FAIL("slot %zx: wrong part, tag or distance", i);
    if (tc__index_find_entry(&c->index, e) != i) FAIL("slot %zx: key not found there", i);
    if (e->klen < 1) FAIL("slot %zx: empty key", i);
    if ((e->flags & E_EXTERNAL) != (e->vlen >= TC_INLINE_MAX ? E_EXTERNAL : 0))
        FAIL("slot %zx: value of %u bytes %s", i, e->vlen,
             e->flags & E_EXTERNAL ? "in a block of its own" : "inline");
    if (tc_detect_kind(e) != c->tiers[t].kind) FAIL("slot %zx: entry not in tier %u", i, t);
    struct tc_queue *q = tc__entry_queue(c, e);
    if (e->qpos - q->head >= q->tail - q->head || *tc__queue_slot(q, e->qpos) != e)
        FAIL("slot %zx: not at its queue slot", i);
    if ((e->flags & E_PINNED)) {
        struct tc_pin *r = tc__pin_find(&c->pins, entry_value_block(e));
        if (!r || r->entry != e) FAIL("slot %zx: pinned without a pin record", i);
    }
    if (e->flags & E_EXTERNAL) {
        void *v = entry_external(e);
        if (tc_detect_kind(v) != c->tiers[t].kind) FAIL("slot %zx: value not in tier %u", i, t);
        if (!(e->flags & E_PINNED)) tot->used[t] += usable(v);
        if (usable(v) < e->vlen) FAIL("slot %zx: value block too small", i);
    }
    bool owns_block = !(e->flags & E_PINNED) || (e->flags & E_EXTERNAL);
    if (e->flags & E_SLAB) {
        if (tc__slab_size_of(&c->tiers[t].slabs, e) != tc__slab_slot(entry_block_size(e)))
            FAIL("slot %zx: entry in a slab of the wrong class", i);
        if (owns_block) note_slot(tot, e, t);
    } else if (owns_block) {
        tot->used[t] += usable(e);
    }
    tot->items[t]++;
    tot->values[t] += e->vlen;
    tot->keys += e->klen;
    return TC_OK;
}

static int check_queue(tc_cache_t *c, struct tc_queue *q, const char *name, size_t *live,
                       char *msg, size_t cap) {
    if (q->nsegs > q->dir_cap)
        FAIL("%s: %u segments, directory of %u", name, q->nsegs, q->dir_cap);
    if (q->head != q->tail && (q->head - q->lo >= q->nsegs << q->seg_shift ||
                               q->tail - q->lo > q->nsegs << q->seg_shift))
        FAIL("%s: positions %u..%u outside its segments", name, q->head, q->tail);
    if (q->gap_lo != q->gap_hi &&
        (q->gap_lo - q->head > q->tail - q->head || q->gap_hi - q->gap_lo > q->tail - q->gap_lo))
        FAIL("%s: gap %u..%u outside %u..%u", name, q->gap_lo, q->gap_hi, q->head, q->tail);
    for (uint32_t i = q->gap_lo; i != q->gap_hi; i++)
        if (*tc__queue_slot(q, i)) FAIL("%s: an entry in the squeeze's gap", name);
    size_t n = 0, bytes = 0;
    for (uint32_t i = q->head; i != q->tail; i++) {
        struct tc_entry *e = *tc__queue_slot(q, i);
        if (!e) continue;
        if (e->qpos != i) FAIL("%s: entry at %u says %u", name, i, e->qpos);
        if (tc__entry_queue(c, e) != q) FAIL("%s: entry belongs to another queue", name);
        if (tc__index_find_entry(&c->index, e) == TC_INDEX_NONE)
            FAIL("%s: entry not indexed", name);
        n++;
        if (q->counts_bytes) bytes += tc__entry_charge(e);
    }
    if (n != q->live) FAIL("%s: %zu live entries, counted %zu", name, n, q->live);
    if (bytes != q->bytes) FAIL("%s: %zu bytes, counted %zu", name, bytes, q->bytes);
    *live += n;
    return TC_OK;
}

/* The index's own structure: parts, counts and load. */
static int check_table(const struct tc_index_table *t, unsigned p, const char *which,
                       size_t *count, size_t *slots, char *msg, size_t cap) {
    size_t live = 0;
    for (size_t i = 0; i < t->cap; i++) live += t->slots[i] != 0;
    if (live != t->count)
        FAIL("index part %u, %s table: counts %u, found %zu", p, which, t->count, live);
    *count += live;
    *slots += t->cap;
    return TC_OK;
}

static int check_index(tc_cache_t *c, char *msg, size_t cap) {
    size_t count = 0, slots = 0;
    for (unsigned p = 0; p < TC_INDEX_PARTS; p++) {
        const struct tc_index_part *part = &c->index.part[p];
        int err = check_table(&part->now, p, "new", &count, &slots, msg, cap);
        if (!err) err = check_table(&part->old, p, "old", &count, &slots, msg, cap);
        if (err) return err;
        if (((size_t)part->now.count + part->old.count) * 8 > (size_t)part->now.cap * 7)
            FAIL("index part %u over its load limit", p);
        if (!part->old.slots != !part->old.cap) FAIL("index part %u: old table half there", p);
    }
    if (count != c->index.count)
        FAIL("index counts %zu entries, found %zu", c->index.count, count);
    if (slots != c->index.cap) FAIL("index counts %zu slots, found %zu", c->index.cap, slots);
    return TC_OK;
}

static int check_locked(tc_cache_t *c, char *msg, size_t cap, struct totals *totp) {
    struct totals tot = *totp;
    int err = check_index(c, msg, cap);
    if (err) return err;
    size_t pos = 0, count = 0;
    for (struct tc_entry *e; (e = tc__index_next(&c->index, &pos)); pos++, count++)
        if ((err = check_entry(c, pos, &tot, msg, cap))) return err;
    size_t live = 0;
    for (size_t t = 0; !err && t < c->ntiers; t++) {
        err = check_queue(c, &c->tiers[t].small, "small FIFO", &live, msg, cap);
        if (!err) err = check_queue(c, &c->tiers[t].main, "main FIFO", &live, msg, cap);
        tot.used[t] += tc__queue_memory(&c->tiers[t].small) + tc__queue_memory(&c->tiers[t].main);
        const struct tc_slabs *s = &c->tiers[t].slabs;
        tot.used[t] += usable(s->classes) + usable(s->class_live);
        for (size_t k = 0; s->classes && k < TC_SLAB_CLASSES; k++)
            tot.used[t] += usable(s->classes[k].partial);
    }
    if (err) return err;
    if (live != count) FAIL("queues hold %zu entries, index %zu", live, count);
    /* Fixed metadata: the cache and pin table (tier 0), the index, the ghost table. */
    tot.used[0] += usable(c) + usable(c->pins.buckets);
    for (unsigned p = 0; p < TC_INDEX_PARTS; p++) {
        const struct tc_index_part *part = &c->index.part[p];
        tot.used[c->index.tier] += usable(part->now.slots) + usable(part->old.slots);
        tot.used[c->ghost_tier] += usable(part->ghost);
        if (part->now.slots && tc_detect_kind(part->now.slots) != c->tiers[c->index.tier].kind)
            FAIL("index part %u not in tier %u", p, c->index.tier);
        if (part->ghost && tc_detect_kind(part->ghost) != c->tiers[c->ghost_tier].kind)
            FAIL("ghost table %u not in tier %u", p, c->ghost_tier);
        if (part->ghost_hand > part->ghost_cap) FAIL("ghost table %u: hand past its end", p);
    }
    size_t pins = 0, zombies = 0;
    for (size_t b = 0; b < c->pins.nbuckets; b++) {
        for (struct tc_pin *r = c->pins.buckets[b]; r; r = r->next, pins++) {
            /* (A zombie may show 0 readers: its last reader is waiting for the mutex to free
             * it.) */
            if (!r->entry && !(atomic_load(&r->state) & PIN_ZOMBIE))
                FAIL("zombie pin record not marked");
            if (r->entry && (atomic_load(&r->state) & PIN_ZOMBIE))
                FAIL("live pin record marked a zombie");
            tot.used[0] += usable(r);
            if (r->entry) {
                if (!(r->entry->flags & E_PINNED) || entry_value_block(r->entry) != r->block)
                    FAIL("pin record does not match its entry");
                if (r->tier != entry_tier(r->entry)) FAIL("pin record on the wrong tier");
                if (r->entry->flags & E_EXTERNAL) tot.used[r->tier] += usable(r->block);
                else if (r->slab) note_slot(&tot, r->block, r->tier);
                else tot.used[r->tier] += usable(r->block);
            } else {
                tot.used[r->tier] += r->charged;
                if (r->slab) note_slot(&tot, r->block, r->tier);
                zombies++;
            }
        }
    }
    size_t spares = 0;
    for (struct tc_pin *r = c->pins.spares; r; r = r->next, spares++) tot.used[0] += usable(r);
    if (spares != c->pins.nspares)
        FAIL("%zu spare pin records, counted %zu", spares, c->pins.nspares);
    /* Slabs: each one's live count is the slots found in it, each is charged once. */
    if (!tot.slots || tot.nslots > tot.slots_cap)
        FAIL("slab slots: %zu, no room to sort them", tot.nslots);
    qsort(tot.slots, tot.nslots, sizeof *tot.slots, by_address);
    size_t slabs[TC_CACHE_MAX_TIERS] = {0};
    for (size_t i = 0, j; i < tot.nslots; i = j) {
        unsigned t = tot.slots[i].tier;
        const struct tc_slabs *s = &c->tiers[t].slabs;
        const void *base = tc__slab_base(s, tot.slots[i].p);
        for (j = i; j < tot.nslots && tc__slab_base(s, tot.slots[j].p) == base; j++) {
            if (j > i && tot.slots[j].p == tot.slots[j - 1].p) FAIL("a slab slot used twice");
            if (tot.slots[j].tier != t) FAIL("a slab holds entries of two tiers");
        }
        if (tc__slab_live(s, tot.slots[i].p) != j - i)
            FAIL("slab %p: %zu live slots, counted %zu", base, j - i,
                 tc__slab_live(s, tot.slots[i].p));
        tot.used[t] += tc__slab_usable(s, tot.slots[i].p);
        slabs[t]++;
    }
    for (size_t t = 0; t < c->ntiers; t++)
        if (slabs[t] != c->tiers[t].slabs.count)
            FAIL("tier %zu: %zu slabs hold entries, counted %zu", t, slabs[t],
                 c->tiers[t].slabs.count);
    if (pins != c->pins.count) FAIL("pin table counts %zu, found %zu", c->pins.count, pins);
    if (tot.keys != c->key_bytes) FAIL("key bytes %zu, counted %zu", tot.keys, c->key_bytes);
    for (size_t t = 0; t < c->ntiers; t++) {
        const struct tc_tier *tier = &c->tiers[t];
        if (tot.items[t] != tier->items)
            FAIL("tier %zu: %zu items, counted %zu", t, tot.items[t], tier->items);
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
