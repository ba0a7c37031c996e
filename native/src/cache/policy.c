/*
 * Placement policy: S3-FIFO over the tiers.
 *
 * Tier 0 has a small FIFO (small_limit bytes) and a main FIFO; every lower tier has one FIFO.
 * - Small: a victim that was read since insertion moves to main; one that was not leaves
 *   tier 0 (demoted, or evicted when there is no lower tier). One-hit wonders and scans pass
 *   through small without disturbing main.
 * - Main and lower tiers (CLOCK): a victim read since its last pass is reinserted with its
 *   count lowered; the others leave the tier: demoted to the next one, evicted from the last.
 * - Demotion admits an entry to the next tier only when moving its value frees at least half
 *   of its tier-0 block (the header and key stay in DRAM); otherwise it is evicted.
 * - Evicted keys leave a 16-bit fingerprint in a direct-mapped ghost table (2 bytes a slot,
 *   as many slots as the index); a key found there on insertion goes straight to main.
 */
#include "cache_internal.h"

void tc__drop(struct tc_cache *c, struct tc_entry *e, size_t slot, bool queued) {
    if (slot == TC_INDEX_NONE) slot = tc__index_find_entry(&c->index, e);
    tc__index_remove_at(&c->index, slot);
    if (queued) tc__queue_remove(tc__entry_queue(c, e), e);
    tc__account(c, e, -1);
    tc__entry_free(c, e);
}

bool tc__drop_if_expired(struct tc_cache *c, struct tc_entry *e, size_t slot, bool queued) {
    if (!(e->flags & E_TTL) || entry_expiry(e) > tc__now_ns()) return false;
    tc__drop(c, e, slot, queued);
    c->expirations++;
    return true;
}

/* ---- ghost ---- */

static size_t ghost_slot(const struct tc_cache *c, uint64_t h) {
    return (size_t)(((unsigned __int128)(h * 0x9E3779B97F4A7C15ull) * c->ghost_cap) >> 64);
}
static uint16_t ghost_print(uint64_t h) { return (uint16_t)((h >> 48) | 1); }

/* Each eviction also clears the slot under a hand that sweeps the table, so a fingerprint
 * lives for at most ghost_cap evictions (about the cache's item count): S3-FIFO's ghost
 * remembers as many evictions as the cache holds entries, not arbitrarily old ones. */
static void ghost_put(struct tc_cache *c, uint64_t h) {
    if (!c->ghost_cap) return;
    if (c->ghost_hand >= c->ghost_cap) c->ghost_hand = 0;
    c->ghost[c->ghost_hand++] = 0;
    c->ghost[ghost_slot(c, h)] = ghost_print(h);
}

void tc__ghost_move(struct tc_cache *c, uint16_t *ghost, size_t cap) {
    memset(ghost, 0, cap * sizeof *ghost);
    /* A key in old slot i has x = h' / 2^64 in [i/old, (i+1)/old): its new slot floor(x*cap)
     * is one of a few (1-3 for a 1.5x growth). Its fingerprint goes to all of them; the wrong
     * ones match another key with odds of 2^-15 and are overwritten as keys are evicted. */
    for (size_t i = 0, old = c->ghost_cap; i < old; i++) {
        if (!c->ghost[i]) continue;
        size_t lo = (size_t)((unsigned __int128)i * cap / old);
        size_t hi = (size_t)(((unsigned __int128)(i + 1) * cap + old - 1) / old);
        for (size_t j = lo; j < hi && j < cap; j++) ghost[j] = c->ghost[i];
    }
}

bool tc__ghost_take(struct tc_cache *c, uint64_t h) {
    if (!c->ghost_cap) return false;
    uint16_t *g = &c->ghost[ghost_slot(c, h)];
    if (*g != ghost_print(h)) return false;
    *g = 0;
    return true;
}

/* ---- leaving a tier ---- */

static void evict(struct tc_cache *c, struct tc_entry *e, bool queued) {
    unsigned t = entry_tier(e);
    if (tc__drop_if_expired(c, e, TC_INDEX_NONE, queued)) return;
    ghost_put(c, tc__entry_hash(e));
    c->tiers[t].evictions++;
    c->evictions++;
    tc__drop(c, e, TC_INDEX_NONE, queued);
}

static bool worth_demoting(const struct tc_cache *c, const struct tc_entry *e) {
    if (entry_tier(e) + 1u >= c->ntiers) return false;
    if (e->flags & E_EXTERNAL) return true;
    size_t now = tc__entry_charge(e), on_tier, on_meta;
    tc__entry_need(c, 1, e->klen - 1u, e->vlen, e->flags & E_TTL, &on_tier, &on_meta);
    return on_meta * 2 <= now;
}

/* e (popped from its queue) leaves its tier: down one tier, or out of the cache. */
static void leave_tier(struct tc_cache *c, struct tc_entry *e) {
    if (tc__drop_if_expired(c, e, TC_INDEX_NONE, false)) return;
    if (worth_demoting(c, e) && tc__move_to_tier(c, e, entry_tier(e) + 1, false)) return;
    evict(c, e, false);
}

void tc__keep(struct tc_cache *c, struct tc_entry *e) { c->keep[c->nkeep++] = e; }
void tc__unkeep(struct tc_cache *c) { c->nkeep--; }

static bool kept(const struct tc_cache *c, const struct tc_entry *e) {
    for (unsigned i = 0; i < c->nkeep; i++)
        if (c->keep[i] == e) return true;
    return false;
}

/* Pop the oldest entry that is not kept (kept ones go back to the tail). */
static struct tc_entry *pop_victim(struct tc_cache *c, struct tc_queue *q) {
    for (size_t tries = q->live; tries; tries--) {
        struct tc_entry *e = tc__queue_pop(q);
        if (!kept(c, e)) return e;
        tc__queue_push(q, e); /* the pop made room */
    }
    return NULL;
}

/* One step of CLOCK on a main FIFO: reinsert a read entry or let the oldest go. */
static bool clock_step(struct tc_cache *c, struct tc_queue *q) {
    struct tc_entry *e = pop_victim(c, q);
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

/* One step of the small FIFO: to main if read, else out of tier 0. */
static bool small_step(struct tc_cache *c) {
    if (tc__queue_reserve(c, &c->tiers[0].main)) return false;
    struct tc_entry *e = pop_victim(c, &c->small);
    if (!e) return false;
    if (entry_freq(e)) {
        e->flags &= (uint8_t)~E_SMALL;
        entry_set_freq(e, 0);
        tc__queue_push(&c->tiers[0].main, e);
    } else {
        leave_tier(c, e);
    }
    return true;
}

static bool tier0_step(struct tc_cache *c) {
    bool small_first = c->small.bytes > c->small_limit || !c->tiers[0].main.live;
    if (small_first && small_step(c)) return true;
    if (clock_step(c, &c->tiers[0].main)) return true;
    if (!small_first && small_step(c)) return true;
    /* Tier 0 holds only metadata of lower-tier entries: evict from the last tier. */
    for (size_t t = c->ntiers; t-- > 1;)
        if (clock_step(c, &c->tiers[t].main)) return true;
    return false;
}

static bool kept(const struct tc_cache *c, const struct tc_entry *e);

void tc__slabs_consolidate(struct tc_cache *c, unsigned quarters, size_t need) {
    struct tc_tier *tier = &c->tiers[0];
    for (size_t i = 0; i < c->index.cap && tier->used + need > tier->budget; i++) {
        struct tc_entry *e = c->index.slots[i];
        if (!e || !(e->flags & E_SLAB) || kept(c, e)) continue;
        if ((e->flags & E_PINNED) && !tc__pin_drop_idle(c, e)) continue;
        struct tc_entry *n = tc__slab_move(c, e, quarters);
        if (!n) continue;
        c->index.slots[i] = n;
        tc__entry_queue(c, n)->ring[n->qpos] = n;
    }
}

/* Tier 0 is short of deficit bytes while slabs hold as many in free slots (left by
 * evictions scattered over them): move entries together rather than evict more. A pass costs
 * a walk over the index, so after one the free slots must grow by the deficit again before
 * the next (*retry_at). */
static void consolidate_if_worth(struct tc_cache *c, size_t need, size_t *retry_at) {
    struct tc_tier *tier = &c->tiers[0];
    if (!c->slabs.count || tier->used + need <= tier->budget) return;
    size_t deficit = tier->used + need - tier->budget;
    size_t want = deficit + 2 * TC_SLAB_ALIGN;
    if (c->slabs.free_bytes < want || c->slabs.free_bytes < *retry_at) return;
    for (unsigned q = 1; q <= 4 && tier->used + need > tier->budget; q++)
        tc__slabs_consolidate(c, q, need);
    *retry_at = c->slabs.free_bytes + deficit;
}

int tc__make_room_entry(struct tc_cache *c, size_t block, size_t extra) {
    struct tc_tier *tier = &c->tiers[0];
    size_t retry_at = 0;
    for (;;) {
        size_t need = extra + tc__slab_need(c, block);
        if (need > tier->budget) return TC_ERR_TOOLARGE;
        if (tier->used + need <= tier->budget) return TC_OK;
        consolidate_if_worth(c, need, &retry_at);
        need = extra + tc__slab_need(c, block);
        if (tier->used + need <= tier->budget) return TC_OK;
        if (!tier0_step(c)) return TC_ERR_NOMEM;
    }
}

int tc__make_room(struct tc_cache *c, unsigned t, size_t need) {
    struct tc_tier *tier = &c->tiers[t];
    if (need > tier->budget) return TC_ERR_TOOLARGE;
    size_t retry_at = 0;
    while (tier->used + need > tier->budget) {
        if (t == 0) {
            consolidate_if_worth(c, need, &retry_at);
            if (tier->used + need <= tier->budget) break;
        }
        bool progress = t == 0 ? tier0_step(c) : clock_step(c, &tier->main);
        if (!progress) return TC_ERR_NOMEM;
    }
    return TC_OK;
}

struct tc_entry *tc__move_to_tier(struct tc_cache *c, struct tc_entry *e, unsigned t,
                                  bool queued) {
    unsigned from = entry_tier(e);
    size_t on_tier, on_meta;
    tc__entry_need(c, t, e->klen - 1u, e->vlen, e->flags & E_TTL, &on_tier, &on_meta);
    /* A demotion frees more tier-0 bytes than its new header takes; a promotion needs them. */
    tc__keep(c, e);
    size_t block = tc__entry_block(t, e->klen - 1u, e->vlen, e->flags & E_TTL);
    int err = t > from ? tc__make_room(c, t, on_tier) : tc__make_room_entry(c, block, on_tier);
    tc__unkeep(c);
    if (err) return NULL;
    struct tc_entry *n = tc__entry_copy(c, e, t, entry_expiry(e));
    if (!n) return NULL;
    /* Reserve last: eviction above may have filled the ring. Reserving never evicts. */
    if (tc__queue_reserve(c, &c->tiers[t].main)) {
        tc__entry_free(c, n);
        return NULL;
    }
    size_t slot = tc__index_find_entry(&c->index, e);
    c->index.slots[slot] = n;
    if (queued) tc__queue_remove(tc__entry_queue(c, e), e);
    tc__account(c, e, -1);
    tc__account(c, n, 1);
    tc__entry_free(c, e);
    tc__queue_push(&c->tiers[t].main, n);
    if (t > from)
        c->tiers[t].demotions++;
    else
        c->tiers[t].promotions++;
    return n;
}
