/*
 * Placement policy: S3-FIFO over the tiers as a whole.
 *
 * Every tier has a small FIFO (small_percent of its budget) and a main FIFO. New keys enter
 * tier 0's small FIFO, values of large_threshold bytes or more the last tier's.
 * - Small: a victim that was read since insertion moves to its tier's main FIFO; one that was
 *   not leaves the tier, into the next tier's small FIFO (or out of the cache from the last).
 *   Together the small FIFOs are small_percent of the cache, as in S3-FIFO: one-hit wonders
 *   and scans pass through them without disturbing the main FIFOs.
 * - Main (CLOCK): a victim read since its last pass is reinserted with its count lowered; the
 *   others leave the tier: demoted into the next tier's main FIFO, evicted from the last.
 * - Entries move whole (header, key and value are copied into a block of the other tier's
 *   kind); DRAM keeps only the index slot of a lower-tier entry.
 * - Evicted keys leave a 16-bit fingerprint in a direct-mapped ghost table (2 bytes a slot,
 *   one table per index part with as many slots, in the last tier's memory); a key found
 *   there on insertion goes straight to its tier's main FIFO.
 * - Making room does bounded work besides the evictions it needs: at most CONSOLIDATE_SLOTS
 *   ring slots are looked at to pack sparse slabs per call. Stores also make a little room
 *   ahead (AHEAD_*), so that the evictions a large block needs are mostly done by then.
 * - An overwrite keeps the entry's read count and goes to the tail of its FIFO (store.c).
 */
#include "cache_internal.h"

#define CONSOLIDATE_SLOTS 64
/* Room made ahead: a tier with slabs keeps 1/AHEAD_SHARE of its budget free, each store taking
 * at most AHEAD_STEPS eviction steps and AHEAD_SLOTS consolidation slots towards it, so that a
 * store needing a new slab or a large block seldom evicts its whole size at once. */
#define AHEAD_SHARE 128
#define AHEAD_STEPS 4
#define AHEAD_SLOTS 16

void tc__drop(struct tc_cache *c, struct tc_entry *e, size_t slot, bool queued) {
    if (slot == TC_INDEX_NONE) slot = tc__index_find_entry(&c->index, e);
    tc__index_remove_at(&c->index, slot);
    struct tc_queue *q = queued ? tc__entry_queue(c, e) : NULL;
    if (q) tc__queue_remove(c, q, e);
    unsigned t = entry_tier(e);
    tc__account(c, e, -1);
    tc__entry_free(c, e);
    if (q) tc__queue_tidy(c, t, q);
}

bool tc__drop_if_expired(struct tc_cache *c, struct tc_entry *e, size_t slot, bool queued) {
    if (!(e->flags & E_TTL) || entry_expiry(e) > tc__now_ns()) return false;
    tc__drop(c, e, slot, queued);
    c->expirations++;
    return true;
}

/* ---- ghost: one table per index part, as many slots as the part ---- */

static struct tc_index_part *ghost_part(struct tc_cache *c, uint64_t h) {
    return &c->index.part[tc__index_part_of(h)];
}
static size_t ghost_slot(const struct tc_index_part *part, uint64_t h) {
    return (size_t)(((unsigned __int128)(h * 0x9E3779B97F4A7C15ull) * part->ghost_cap) >> 64);
}
static uint16_t ghost_print(uint64_t h) { return (uint16_t)((h >> 32) | 1); }

/* Each eviction also clears the slot under a hand that sweeps the part's table, so a
 * fingerprint lives for at most about as many evictions as the cache holds entries: S3-FIFO's
 * ghost remembers that many evictions, not arbitrarily old ones. */
static void ghost_put(struct tc_cache *c, uint64_t h) {
    struct tc_index_part *part = ghost_part(c, h);
    if (!part->ghost_cap) return;
    if (part->ghost_hand >= part->ghost_cap) part->ghost_hand = 0;
    part->ghost[part->ghost_hand++] = 0;
    part->ghost[ghost_slot(part, h)] = ghost_print(h);
}

void tc__ghost_move(struct tc_index_part *part, uint16_t *ghost, size_t cap) {
    /* A key in old slot i has x = h' / 2^64 in [i/old, (i+1)/old): its new slot floor(x*cap)
     * is one of a few. Its fingerprint goes to all of them; the wrong ones match another key
     * with odds of 2^-15 and are overwritten as keys are evicted. */
    for (size_t i = 0, old = part->ghost_cap; i < old; i++) {
        if (!part->ghost[i]) continue;
        size_t lo = (size_t)((unsigned __int128)i * cap / old);
        size_t hi = (size_t)(((unsigned __int128)(i + 1) * cap + old - 1) / old);
        for (size_t j = lo; j < hi && j < cap; j++) ghost[j] = part->ghost[i];
    }
}

void tc__ghost_prefetch(struct tc_cache *c, uint64_t h) {
    struct tc_index_part *part = ghost_part(c, h);
    if (part->ghost_cap) __builtin_prefetch(&part->ghost[ghost_slot(part, h)]);
}

bool tc__ghost_take(struct tc_cache *c, uint64_t h) {
    struct tc_index_part *part = ghost_part(c, h);
    if (!part->ghost_cap) return false;
    uint16_t *g = &part->ghost[ghost_slot(part, h)];
    if (*g != ghost_print(h)) return false;
    *g = 0;
    return true;
}

/* ---- leaving a tier ---- */

static void evict(struct tc_cache *c, struct tc_entry *e, bool queued) {
    unsigned t = entry_tier(e);
    if (tc__drop_if_expired(c, e, TC_INDEX_NONE, queued)) return;
    uint64_t h = tc__entry_hash(e);
    ghost_put(c, h);
    c->tiers[t].evictions++;
    c->evictions++;
    tc__drop(c, e, tc__index_find_hashed(&c->index, e, h), queued);
}

/* e (popped from its queue) leaves its tier: into the next tier's FIFO of the same kind (small
 * or main), or out of the cache. */
static void leave_tier(struct tc_cache *c, struct tc_entry *e) {
    if (tc__drop_if_expired(c, e, TC_INDEX_NONE, false)) return;
    unsigned t = entry_tier(e);
    if (t + 1u < c->ntiers && tc__move_to_tier(c, e, t + 1, false)) return;
    evict(c, e, false);
}

void tc__keep(struct tc_cache *c, struct tc_entry *e) { c->keep[c->nkeep++] = e; }
void tc__unkeep(struct tc_cache *c) { c->nkeep--; }

static bool kept(const struct tc_cache *c, const struct tc_entry *e) {
    for (unsigned i = 0; i < c->nkeep; i++)
        if (c->keep[i] == e) return true;
    return false;
}

/* Victims are read ahead, as a pipeline over the pops of a queue: the entry FAR positions past
 * the head, and for the one NEAR positions past it (its entry read by now) the index slot,
 * ghost slot and slab header that letting it go will touch. On a tier whose entries and index
 * are out of the CPU's caches, each step would otherwise wait on 4 or 5 misses in a row. */
#define PREFETCH_NEAR 2
#define PREFETCH_FAR 6
static void prefetch_victims(struct tc_cache *c, unsigned t, const struct tc_queue *q) {
    uint32_t span = q->tail - q->head;
    if (span > PREFETCH_FAR) {
        const char *e = (const char *)*tc__queue_slot(q, q->head + PREFETCH_FAR);
        if (e) {
            __builtin_prefetch(e);
            __builtin_prefetch(e + 63); /* a long key or the optional fields: the next line */
        }
    }
    if (span > PREFETCH_NEAR) {
        const struct tc_entry *e = *tc__queue_slot(q, q->head + PREFETCH_NEAR);
        if (!e) return;
        uint64_t h = tc__entry_hash(e);
        tc__index_prefetch(&c->index, h);
        tc__ghost_prefetch(c, h);
        if (e->flags & E_SLAB) __builtin_prefetch(tc__slab_base(&c->tiers[t].slabs, e));
    }
}

/* Pop the oldest entry of tier t's queue q that is not kept (kept ones go back to the tail:
 * the caller reserved room for them, at most TC_CACHE_MAX_TIERS + 2). */
static struct tc_entry *pop_victim(struct tc_cache *c, unsigned t, struct tc_queue *q) {
    for (size_t tries = q->live; tries; tries--) {
        struct tc_entry *e = tc__queue_pop(c, t, q);
        prefetch_victims(c, t, q);
        if (!kept(c, e)) return e;
        tc__queue_push(q, e);
    }
    return NULL;
}

/* One step of CLOCK on tier t's main FIFO: reinsert a read entry or let the oldest go. */
static bool clock_step(struct tc_cache *c, unsigned t) {
    struct tc_queue *q = &c->tiers[t].main;
    if (!q->live || tc__queue_reserve(c, t, q)) return false;
    struct tc_entry *e = pop_victim(c, t, q);
    if (!e) return false;
    unsigned f = entry_freq(e);
    if (f && !((e->flags & E_TTL) && entry_expiry(e) <= tc__now_ns())) {
        entry_set_freq(e, f - 1);
        tc__queue_push(q, e);
    } else {
        leave_tier(c, e);
    }
    return true;
}

/* One step of tier t's small FIFO: to the tier's main FIFO if read, else out of the tier. */
static bool small_step(struct tc_cache *c, unsigned t) {
    struct tc_tier *tier = &c->tiers[t];
    if (!tier->small.live || tc__queue_reserve(c, t, &tier->small)) return false;
    struct tc_entry *e = pop_victim(c, t, &tier->small);
    if (!e) return false;
    /* The main FIFO gets room only when an entry goes there: reserving it for every step kept
     * an empty main FIFO's ring being made and given back (tidy) on every store. */
    if (entry_freq(e) && tc__queue_reserve(c, t, &tier->main)) {
        tc__queue_push(&tier->small, e); /* (out of memory: it waits its turn again) */
        return false;
    }
    if (entry_freq(e)) {
        e->flags &= (uint8_t)~E_SMALL;
        entry_set_freq(e, 0);
        tc__queue_push(&tier->main, e);
    } else {
        leave_tier(c, e);
    }
    return true;
}

/* One eviction or demotion step on tier t: false when the tier holds nothing it may let go. */
static bool tier_step(struct tc_cache *c, unsigned t) {
    struct tc_tier *tier = &c->tiers[t];
    bool small_first = tier->small.bytes > tier->small_limit || !tier->main.live;
    if (small_first && small_step(c, t)) return true;
    if (clock_step(c, t)) return true;
    if (!small_first && small_step(c, t)) return true;
    return false;
}

/* The oldest live entry of q, without taking it. */
static struct tc_entry *oldest(const struct tc_queue *q) {
    for (uint32_t p = q->head; p != q->tail; p++) {
        struct tc_entry *e = *tc__queue_slot(q, p);
        if (e) return e;
    }
    return NULL;
}

struct tc_entry *tc__next_victim(struct tc_cache *c) {
    for (size_t t = c->ntiers; t-- > 0;) {
        struct tc_tier *tier = &c->tiers[t];
        bool small_first = tier->small.bytes > tier->small_limit || !tier->main.live;
        struct tc_entry *e = oldest(small_first ? &tier->small : &tier->main);
        if (!e) e = oldest(small_first ? &tier->main : &tier->small);
        if (e) return e;
    }
    return NULL;
}

bool tc__tier_refused(struct tc_cache *c, unsigned t) {
    struct tc_tier *tier = &c->tiers[t];
    size_t floor = (size_t)64 << 10;
    size_t now = tier->used > floor ? tier->used : floor;
    if (t == 0 || now >= tier->budget) return false;
    tier->budget = now;
    return true;
}

bool tc__evict_one(struct tc_cache *c) {
    size_t before = c->index.count;
    while (c->index.count >= before) {
        bool progress = false;
        for (size_t t = c->ntiers; t-- > 0 && !progress;) progress = tier_step(c, (unsigned)t);
        if (!progress) return false;
    }
    return true;
}

/* Tier t is short while its slabs hold at least as many bytes in free slots (evictions left
 * them scattered), with margin bytes to spare: move entries of its main FIFO out of slabs at
 * most half used into fuller ones, so that emptied slabs are freed. Looks at most *budget ring
 * slots, from where the last call stopped. */
static void consolidate(struct tc_cache *c, unsigned t, size_t need, size_t margin,
                        unsigned *budget) {
    struct tc_tier *tier = &c->tiers[t];
    struct tc_slabs *s = &tier->slabs;
    struct tc_queue *q = &tier->main;
    if (!s->count || !q->live || tier->used + need <= tier->budget) return;
    if (s->free_bytes < tier->used + need - tier->budget + margin) return;
    while (*budget && tier->used + need > tier->budget) {
        (*budget)--;
        if (s->sweep - q->head >= q->tail - q->head) s->sweep = q->head;
        struct tc_entry *e = *tc__queue_slot(q, s->sweep++);
        if (!e || !(e->flags & E_SLAB) || kept(c, e)) continue;
        if ((e->flags & E_PINNED) && !tc__pin_drop_idle(c, e)) continue;
        size_t slot = tc__index_find_entry(&c->index, e);
        struct tc_entry *n = tc__slab_move(c, t, e, 2);
        if (!n) continue;
        tc__index_set_at(&c->index, slot, n);
        *tc__queue_slot(q, n->qpos) = n;
    }
}

/* Make tier t able to take a block of block bytes (0: none) plus extra bytes. */
static int room(struct tc_cache *c, unsigned t, size_t block, size_t extra) {
    struct tc_tier *tier = &c->tiers[t];
    unsigned budget = CONSOLIDATE_SLOTS;
    for (;;) {
        size_t need = extra + (block ? tc__slab_need(c, t, block) : 0);
        bool stuck = need > tier->budget;
        if (!stuck && tier->used + need <= tier->budget) return TC_OK;
        if (!stuck && budget) {
            consolidate(c, t, need, 2 * TC_SLAB_ALIGN, &budget);
            need = extra + (block ? tc__slab_need(c, t, block) : 0);
            if (tier->used + need <= tier->budget) return TC_OK;
        }
        if (!stuck && tier_step(c, t)) continue;
        /* A tier a full filesystem shrank tries its configured budget again (the allocation
         * then tells whether the filesystem has room by now). */
        if (tier->budget < tier->configured) {
            tier->budget = tier->configured;
            continue;
        }
        return stuck ? TC_ERR_TOOLARGE : TC_ERR_NOMEM;
    }
}

int tc__make_room_entry(struct tc_cache *c, unsigned t, size_t block, size_t extra) {
    return room(c, t, block, extra);
}

int tc__make_room(struct tc_cache *c, unsigned t, size_t need) { return room(c, t, 0, need); }

void tc__make_room_ahead(struct tc_cache *c, unsigned t) {
    struct tc_tier *tier = &c->tiers[t];
    size_t slab = tier->slabs.max_pages * 4096, want = tier->budget / AHEAD_SHARE;
    if (!slab || tier->used + want <= tier->budget) return; /* (no slabs: a small tier) */
    unsigned slots = AHEAD_SLOTS;
    consolidate(c, t, want, 2 * slab, &slots);
    /* Free slots count here (consolidation turns them into free budget): evicting until the
     * budget itself is free would empty the cache by as much again in scattered slots. */
    for (unsigned i = 0;
         i < AHEAD_STEPS && tier->used + want > tier->budget + tier->slabs.free_bytes; i++)
        if (!tier_step(c, t)) break;
}

struct tc_entry *tc__move_to_tier(struct tc_cache *c, struct tc_entry *e, unsigned t,
                                  bool queued) {
    unsigned from = entry_tier(e);
    bool small = (e->flags & E_SMALL) && t > from;
    struct tc_entry_spec spec = tc__entry_spec_of(e);
    struct tc_entry *n = NULL;
    tc__keep(c, e);
    for (int tries = 0; !n && tries < 2; tries++) {
        if (room(c, t, tc__entry_block(&spec), tc__entry_value_block(&spec))) break;
        n = tc__entry_new(c, t, &spec);
        if (!n && !tc__tier_refused(c, t)) break;
    }
    tc__unkeep(c);
    if (!n) return NULL;
    if (small) n->flags |= E_SMALL;
    struct tc_queue *q = tc__entry_queue(c, n);
    /* Reserve last: making room above may have filled the ring. Reserving never evicts. */
    if (tc__queue_reserve(c, t, q)) {
        tc__entry_free(c, n);
        return NULL;
    }
    tc__index_set_at(&c->index, tc__index_find_entry(&c->index, e), n);
    if (queued) tc__queue_remove(c, tc__entry_queue(c, e), e);
    tc__account(c, e, -1);
    tc__account(c, n, 1);
    tc__entry_free(c, e);
    tc__queue_push(q, n);
    if (t > from) c->tiers[t].demotions++;
    else c->tiers[t].promotions++;
    return n;
}
