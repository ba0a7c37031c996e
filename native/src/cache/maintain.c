/*
 * Whole-cache operations: count, expiry sweep, clear, key listing, compaction, statistics.
 */
#include "cache_internal.h"

/* Drop every entry (only expired ones when expired_only); returns how many. An expiry sweep
 * also finds the next time one is due. */
static size_t drop_all(tc_cache_t *c, bool expired_only) {
    size_t n = 0;
    uint64_t now = expired_only ? tc__now_ns() : 0, next = UINT64_MAX;
    size_t pos = 0;
    for (struct tc_entry *e; (e = tc__index_next(&c->index, &pos));) {
        uint64_t x = entry_expiry(e);
        if (expired_only && (!(e->flags & E_TTL) || x > now)) {
            if (x && x < next) next = x;
            pos++;
            continue;
        }
        tc__drop(c, e, pos, true); /* the next slot's entry may move to pos: look again */
        n++;
    }
    c->next_expiry = next;
    return n;
}

TC_API size_t tc_cache_count(tc_cache_t *c) {
    if (tc__cache_lock(c)) return 0;
    if (c->next_expiry <= tc__now_ns()) c->expirations += drop_all(c, true);
    size_t n = c->index.count;
    tc__cache_unlock(c);
    return n;
}

TC_API int tc_cache_expire(tc_cache_t *c) {
    int err = tc__cache_lock(c);
    if (err) return err;
    size_t n = drop_all(c, true);
    c->expirations += n;
    tc__cache_unlock(c);
    return (int)(n > INT32_MAX ? INT32_MAX : n);
}

TC_API int tc_cache_clear(tc_cache_t *c) {
    int err = tc__cache_lock(c);
    if (err) return err;
    c->deletes += drop_all(c, false);
    tc__cache_unlock(c);
    return TC_OK;
}

/* Write e's key as [u8 tag][u16 length, little-endian][bytes] at out; returns its size. */
static size_t put_key(unsigned char *out, const struct tc_entry *e) {
    const unsigned char *k = entry_key(e);
    size_t klen = e->klen - 1u;
    out[0] = k[0];
    out[1] = (unsigned char)(klen & 0xff);
    out[2] = (unsigned char)(klen >> 8);
    memcpy(out + 3, k + 1, klen);
    return 3 + klen;
}

TC_API int tc_cache_keys(tc_cache_t *c, void *buf, size_t cap, size_t *needed) {
    if ((!buf && cap) || !needed) return TC_ERR_INVALID;
    int err = tc__cache_lock(c);
    if (err) return err;
    uint64_t now = tc__now_ns();
    size_t total = 0, n = 0;
    for (int pass = 0; pass < 2; pass++) {
        unsigned char *out = buf;
        size_t pos = 0;
        for (struct tc_entry *e; (e = tc__index_next(&c->index, &pos)); pos++) {
            if ((e->flags & E_TTL) && entry_expiry(e) <= now) continue;
            size_t klen = e->klen - 1u;
            if (pass == 0) {
                total += 3 + klen;
                continue;
            }
            out += put_key(out, e);
            n++;
        }
        if (pass == 0 && total > cap) break;
    }
    *needed = total;
    tc__cache_unlock(c);
    if (total > cap) return TC_ERR_NOMEM;
    return (int)(n > INT32_MAX ? INT32_MAX : n);
}

TC_API int tc_cache_keys_from(tc_cache_t *c, size_t *cursor, void *buf, size_t cap,
                              size_t *written) {
    if (!cursor || !written || (!buf && cap)) return TC_ERR_INVALID;
    int err = tc__cache_lock(c);
    if (err) return err;
    uint64_t now = tc__now_ns();
    size_t pos = *cursor, used = 0;
    int n = 0;
    struct tc_entry *e;
    while (n < INT32_MAX && (e = tc__index_next(&c->index, &pos))) {
        if ((e->flags & E_TTL) && entry_expiry(e) <= now) {
            pos++;
            continue;
        }
        if (used + 2u + e->klen > cap) break;
        used += put_key((unsigned char *)buf + used, e);
        n++;
        pos++;
    }
    *written = used;
    *cursor = e ? pos : 0;
    tc__cache_unlock(c);
    return n == 0 && e ? TC_ERR_NOMEM : n;
}

/* Let defrag_reallocate move one block; returns the new address (or NULL if not moved) and
 * keeps the tier's charge exact. */
static void *move_block(tc_cache_t *c, unsigned tier, void *p) {
    size_t before = tc_usable_size(NULL, p);
    void *n = tc_defrag_reallocate(NULL, p);
    if (n) c->tiers[tier].used += tc_usable_size(NULL, n) - before;
    return n;
}

TC_API int tc_cache_compact(tc_cache_t *c, size_t *cursor, size_t max_entries, size_t *moved) {
    if (!cursor || !moved) return TC_ERR_INVALID;
    int err = tc__cache_lock(c);
    if (err) return err;
    size_t pos = *cursor, seen = 0, count = 0;
    struct tc_entry *e;
    for (; (!max_entries || seen < max_entries) && (e = tc__index_next(&c->index, &pos)); pos++) {
        seen++;
        if ((e->flags & E_PINNED) && !tc__pin_drop_idle(c, e)) continue; /* held */
        unsigned t = entry_tier(e);
        if (e->flags & E_EXTERNAL) {
            void *v = move_block(c, t, entry_external(e));
            if (v) {
                entry_set_external(e, v);
                count++;
            }
        }
        struct tc_entry *n = e->flags & E_SLAB ? tc__slab_move(c, t, e, 1) : move_block(c, t, e);
        if (n) {
            tc__index_set_at(&c->index, pos, n);
            *tc__queue_slot(tc__entry_queue(c, n), n->qpos) = n;
            count++;
        }
    }
    if (!e) /* a pass ended: a tier a full filesystem shrank may try its budget again */
        for (size_t t = 1; t < c->ntiers; t++) c->tiers[t].budget = c->tiers[t].configured;
    *cursor = e ? pos : 0;
    *moved = count;
    tc__cache_unlock(c);
    return TC_OK;
}

/* Tier-0 bytes each tier's items cost: a lower tier's items their share of a tier-0 index
 * (every entry has one slot), tier 0's items the rest of tier 0. */
static void dram_shares(const tc_cache_t *c, tc_cache_stats_t *out) {
    size_t index_dram = c->index.tier == 0 ? out->index_bytes : 0, lower = 0;
    for (size_t t = 1; t < c->ntiers; t++) {
        size_t items = c->tiers[t].items;
        size_t share =
            c->index.count ? (size_t)((unsigned __int128)index_dram * items / c->index.count) : 0;
        out->tiers[t].dram_bytes = share;
        lower += share;
    }
    out->tiers[0].dram_bytes = c->tiers[0].used - lower;
}

TC_API int tc_cache_stats(tc_cache_t *c, tc_cache_stats_t *out) {
    if (!out) return TC_ERR_INVALID;
    int err = tc__cache_lock(c);
    if (err) return err;
    memset(out, 0, sizeof *out);
    out->hits = c->hits;
    out->misses = c->misses;
    out->sets = c->sets;
    out->deletes = c->deletes;
    out->evictions = c->evictions;
    out->expirations = c->expirations;
    out->items = c->index.count;
    out->key_bytes = c->key_bytes;
    out->pinned = tc__pins_held(c);
    out->ntiers = c->ntiers;
    out->index_tier = c->index.tier;
    out->ghost_tier = c->ghost_tier;
    for (unsigned p = 0; p < TC_INDEX_PARTS; p++) {
        const struct tc_index_part *part = &c->index.part[p];
        if (part->now.slots) out->index_bytes += tc_usable_size(NULL, part->now.slots);
        if (part->old.slots) out->index_bytes += tc_usable_size(NULL, part->old.slots);
        if (part->ghost) out->ghost_bytes += tc_usable_size(NULL, part->ghost);
    }
    size_t used = 0, values = 0;
    for (size_t t = 0; t < c->ntiers; t++) {
        const struct tc_tier *tier = &c->tiers[t];
        tc_cache_tier_stats_t *s = &out->tiers[t];
        s->budget = tier->budget;
        s->used = tier->used;
        s->value_bytes = tier->value_bytes;
        s->items = tier->items;
        s->hits = tier->hits;
        s->promotions = tier->promotions;
        s->demotions = tier->demotions;
        s->evictions = tier->evictions;
        out->promotions += tier->promotions;
        out->demotions += tier->demotions;
        used += tier->used;
        values += tier->value_bytes;
    }
    out->meta_bytes = used - values - c->key_bytes;
    dram_shares(c, out);
    tc__cache_unlock(c);
    return TC_OK;
}
