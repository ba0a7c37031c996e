/*
 * The cache's public operations on single keys, and its life cycle. Every function takes the
 * cache's mutex once; the policy (policy.c) runs inside the call that needs room.
 */
#include <stdlib.h>

#include "cache_internal.h"

#define MIN_TIER_BUDGET ((size_t)64 << 10)
#define MAX_TTL_SECONDS 3.0e9 /* about 95 years: longer means never */

int tc__cache_lock(tc_cache_t *c) {
    if (!c || c->magic != TC_CACHE_MAGIC) return TC_ERR_INVALID;
    if (TC_UNLIKELY(tc__cache_forked(c))) return TC_ERR_FORKED;
    pthread_mutex_lock(&c->lock);
    if (c->closed) {
        pthread_mutex_unlock(&c->lock);
        return TC_ERR_CLOSED;
    }
    return TC_OK;
}

void tc__cache_unlock(tc_cache_t *c) { pthread_mutex_unlock(&c->lock); }

static bool bad_key(unsigned ktag, const void *key, size_t klen) {
    return ktag > 255 || klen > TC_CACHE_MAX_KEY || (!key && klen);
}

uint64_t tc__expiry_for(double ttl) {
    if (ttl <= 0) return 0;
    if (ttl >= MAX_TTL_SECONDS) return UINT64_MAX;
    return tc__now_ns() + (uint64_t)(ttl * 1e9);
}

/* Remember the earliest expiry, so that counting knows when a sweep is due. */
static void note_expiry(tc_cache_t *c, uint64_t expiry) {
    if (expiry && expiry < c->next_expiry) c->next_expiry = expiry;
}

TC_API int tc_cache_create(const tc_cache_config_t *cfg, tc_cache_t **out) {
    if (!cfg || !out || cfg->ntiers < 1 || cfg->ntiers > TC_CACHE_MAX_TIERS ||
        cfg->small_percent > 50)
        return TC_ERR_INVALID;
    for (size_t t = 0; t < cfg->ntiers; t++) {
        const tc_cache_tier_config_t *tier = &cfg->tiers[t];
        if (!tier->kind || tier->budget < MIN_TIER_BUDGET) return TC_ERR_INVALID;
        int err = tc_kind_check_available(tier->kind);
        if (err) return err;
    }
    tc_cache_t *c = tc_malloc(tc_kind_dram(), sizeof *c);
    if (!c) return TC_ERR_NOMEM;
    memset(c, 0, sizeof *c);
    if (pthread_mutex_init(&c->lock, NULL) || tc__cache_register(c)) {
        tc_free(NULL, c);
        return TC_ERR_SYSTEM;
    }
    c->magic = TC_CACHE_MAGIC;
    c->fork_gen = atomic_load(&tc__fork_generation);
    c->ntiers = cfg->ntiers;
    for (size_t t = 0; t < cfg->ntiers; t++) {
        c->tiers[t].kind = cfg->tiers[t].kind;
        c->tiers[t].budget = cfg->tiers[t].budget;
    }
    c->small.counts_bytes = true;
    c->small_limit = c->tiers[0].budget / 100 * (cfg->small_percent ? cfg->small_percent : 10);
    c->large_threshold = cfg->large_threshold;
    c->promote_hits = cfg->promote_hits;
    c->next_expiry = UINT64_MAX;
    c->tiers[0].used = tc_usable_size(NULL, c); /* the cache itself is metadata too */
    tc__slabs_init(c);
    *out = c;
    return TC_OK;
}

/* Free what is left of a closed cache once no pin holds it (lock not held). */
static void release_cache(tc_cache_t *c) {
    tc__cache_unregister(c);
    tc__pins_release(c);
    tc__slabs_release(c);
    pthread_mutex_destroy(&c->lock);
    c->magic = 0;
    tc_free(NULL, c);
}

static void free_index(tc_cache_t *c) {
    if (c->index.tags) tc__cache_free(c, 0, c->index.tags);
    if (c->index.slots) tc__cache_free(c, 0, c->index.slots);
    if (c->ghost) tc__cache_free(c, 0, c->ghost);
    memset(&c->index, 0, sizeof c->index);
    c->ghost = NULL;
    c->ghost_cap = 0;
}

static void close_locked(tc_cache_t *c) {
    c->closed = true;
    for (size_t i = 0; i < c->index.cap; i++)
        if (c->index.slots[i]) tc__entry_free(c, c->index.slots[i]);
    free_index(c);
    tc__queue_release(c, &c->small);
    for (size_t t = 0; t < c->ntiers; t++) tc__queue_release(c, &c->tiers[t].main);
    tc__pins_free_spares(c);
}

TC_API int tc_cache_close(tc_cache_t *c) {
    int err = tc__cache_lock(c);
    if (err) return err;
    close_locked(c);
    size_t pinned = c->pins.count;
    tc__cache_unlock(c);
    return pinned > INT32_MAX ? INT32_MAX : (int)pinned;
}

TC_API int tc_cache_destroy(tc_cache_t *c) {
    if (!c || c->magic != TC_CACHE_MAGIC) return TC_ERR_INVALID;
    if (tc__cache_forked(c)) return TC_ERR_FORKED;
    pthread_mutex_lock(&c->lock);
    if (c->destroyed) {
        pthread_mutex_unlock(&c->lock);
        return TC_ERR_CLOSED;
    }
    if (!c->closed) close_locked(c);
    c->destroyed = true;
    bool release = c->pins.count == 0;
    pthread_mutex_unlock(&c->lock);
    if (release) release_cache(c);
    return TC_OK;
}

/* Grow (or clean) the index so that one more key fits; the ghost table follows its size
 * (fingerprints move to the slots their keys can have in the larger table).
 * Cleaning (same size) happens in place and keeps the ghost: under churn it is frequent, and
 * making room for a second copy of the arrays would evict entries by the thousand (with
 * slabs, evictions free memory only when slabs empty). */
static int ensure_index(tc_cache_t *c) {
    size_t cap = tc__index_wanted_cap(&c->index);
    if (!cap) return TC_OK;
    if (cap == c->index.cap && tc__index_rehash(&c->index)) return TC_OK;
    size_t need = tc__cache_charge(cap) + tc__cache_charge(cap * sizeof(struct tc_entry *)) +
                  tc__cache_charge(cap * sizeof(uint16_t));
    int err = tc__make_room(c, 0, need);
    if (err) return TC_ERR_NOMEM;
    uint8_t *tags = tc__cache_alloc(c, 0, true, cap);
    struct tc_entry **slots = tc__cache_alloc(c, 0, true, cap * sizeof *slots);
    uint16_t *ghost = tc__cache_alloc(c, 0, true, cap * sizeof *ghost);
    if (!tags || !slots || !ghost) {
        if (tags) tc__cache_free(c, 0, tags);
        if (slots) tc__cache_free(c, 0, slots);
        if (ghost) tc__cache_free(c, 0, ghost);
        return TC_ERR_NOMEM;
    }
    memset(slots, 0, cap * sizeof *slots);
    tc__ghost_move(c, ghost, cap);
    uint8_t *old_tags = c->index.tags;
    struct tc_entry **old_slots = c->index.slots;
    tc__index_rebuild(&c->index, tags, slots, cap);
    if (old_tags) tc__cache_free(c, 0, old_tags);
    if (old_slots) tc__cache_free(c, 0, old_slots);
    if (c->ghost) tc__cache_free(c, 0, c->ghost);
    c->ghost = ghost;
    c->ghost_cap = cap;
    return TC_OK;
}

/* The first tier that can hold an entry of this size, or -1. Tier 0 takes at most half its
 * budget in one entry; values of large_threshold bytes or more start on the last tier. */
static int place(const tc_cache_t *c, size_t klen, size_t vlen, bool ttl, size_t *on_tier,
                 size_t *on_meta) {
    unsigned first = c->large_threshold && vlen >= c->large_threshold ? c->ntiers - 1 : 0;
    for (unsigned t = first; t < c->ntiers; t++) {
        tc__entry_need(c, t, klen, vlen, ttl, on_tier, on_meta);
        size_t on_dram = *on_meta + (t ? 0 : *on_tier);
        if (on_dram <= c->tiers[0].budget / 2 && (t == 0 || *on_tier <= c->tiers[t].budget))
            return (int)t;
    }
    return -1;
}

/* Bring every tier back within budget after a step that may have grown a queue ring. */
static void trim(tc_cache_t *c, struct tc_entry *keep) {
    tc__keep(c, keep);
    for (unsigned t = 0; t < c->ntiers; t++) tc__make_room(c, t, 0);
    tc__unkeep(c);
}

/* What set_locked returns when keep_existing found the key (TC_OK when it stored). */
#define KEY_PRESENT 1

static int set_locked(tc_cache_t *c, unsigned ktag, const void *key, size_t klen,
                      const void *value, size_t vlen, unsigned vtag, double ttl,
                      bool keep_existing) {
    size_t on_tier, on_meta;
    uint64_t expiry = tc__expiry_for(ttl);
    int t = place(c, klen, vlen, expiry != 0, &on_tier, &on_meta);
    if (t < 0) return TC_ERR_TOOLARGE;
    uint64_t h = tc__key_hash(ktag, key, klen);
    size_t slot = tc__index_find(&c->index, h, ktag, key, klen);
    struct tc_entry *old = slot == TC_INDEX_NONE ? NULL : c->index.slots[slot];
    if (old && tc__drop_if_expired(c, old, slot, true)) old = NULL;
    if (old && keep_existing) return KEY_PRESENT;
    bool to_main;
    int err = TC_OK;
    if (old) {
        to_main = !(old->flags & E_SMALL);
        tc__keep(c, old);
    } else {
        to_main = tc__ghost_take(c, h);
        err = ensure_index(c);
    }
    if (!err && t) err = tc__make_room(c, (unsigned)t, on_tier);
    if (!err)
        err = tc__make_room_entry(c, tc__entry_block((unsigned)t, klen, vlen, expiry != 0),
                                  t ? 0 : on_tier);
    struct tc_entry *n = NULL;
    if (!err) {
        n = tc__entry_new(c, (unsigned)t, ktag, key, klen, value, vlen, vtag, expiry);
        if (!n) err = TC_ERR_NOMEM;
    }
    if (!err) note_expiry(c, expiry);
    if (t == 0 && !to_main && n) n->flags |= E_SMALL;
    struct tc_queue *q = n ? tc__entry_queue(c, n) : NULL;
    if (!err && tc__queue_reserve(c, q)) {
        tc__entry_free(c, n);
        err = TC_ERR_NOMEM;
    }
    if (old) tc__unkeep(c);
    if (err) return err == TC_ERR_TOOLARGE ? TC_ERR_NOMEM : err;
    if (old) {
        entry_set_freq(n, entry_freq(old));
        c->index.slots[tc__index_find_entry(&c->index, old)] = n;
        tc__queue_remove(tc__entry_queue(c, old), old);
        tc__account(c, old, -1);
        tc__entry_free(c, old);
    } else {
        tc__index_insert(&c->index, h, n);
    }
    tc__account(c, n, 1);
    tc__queue_push(q, n);
    c->sets++;
    trim(c, n);
    return TC_OK;
}

/* tc_cache_set (only_if_absent false) and tc_cache_add: checks the arguments, then
 * set_locked under the cache lock. */
static int store(tc_cache_t *c, unsigned ktag, const void *key, size_t klen, const void *value,
                 size_t vlen, unsigned vtag, double ttl, bool only_if_absent) {
    if (bad_key(ktag, key, klen) || (!value && vlen) || vlen > TC_CACHE_MAX_VALUE ||
        vtag >= TC_CACHE_VALUE_TAGS || !(ttl >= 0))
        return TC_ERR_INVALID;
    int err = tc__cache_lock(c);
    if (err) return err;
    err = set_locked(c, ktag, key, klen, value, vlen, vtag, ttl, only_if_absent);
    tc__cache_unlock(c);
    return err;
}

TC_API int tc_cache_set(tc_cache_t *c, unsigned ktag, const void *key, size_t klen,
                        const void *value, size_t vlen, unsigned vtag, double ttl) {
    return store(c, ktag, key, klen, value, vlen, vtag, ttl, false);
}

TC_API int tc_cache_add(tc_cache_t *c, unsigned ktag, const void *key, size_t klen,
                        const void *value, size_t vlen, unsigned vtag, double ttl) {
    int err = store(c, ktag, key, klen, value, vlen, vtag, ttl, true);
    if (err < 0) return err;
    return err == KEY_PRESENT ? 0 : 1;
}

/* The live entry for a key (expired ones are dropped on the way), with its slot. */
static struct tc_entry *lookup(tc_cache_t *c, unsigned ktag, const void *key, size_t klen,
                               size_t *slot) {
    *slot = tc__index_find(&c->index, tc__key_hash(ktag, key, klen), ktag, key, klen);
    if (*slot == TC_INDEX_NONE) return NULL;
    struct tc_entry *e = c->index.slots[*slot];
    if ((e->flags & E_TTL) && tc__drop_if_expired(c, e, *slot, true)) return NULL;
    return e;
}

/* A read of an entry on a lower tier: promote it once it was read promote_hits times. */
static struct tc_entry *maybe_promote(tc_cache_t *c, struct tc_entry *e) {
    size_t on_tier, on_meta;
    if (!c->promote_hits || entry_freq(e) < c->promote_hits) return e;
    if (c->large_threshold && e->vlen >= c->large_threshold) return e;
    tc__entry_need(c, 0, e->klen - 1u, e->vlen, e->flags & E_TTL, &on_tier, &on_meta);
    if (on_meta + on_tier > c->tiers[0].budget / 2) return e;
    struct tc_entry *n = tc__move_to_tier(c, e, 0, true);
    if (!n) return e;
    entry_set_freq(n, 1);
    trim(c, n);
    return n;
}

TC_API int tc_cache_get(tc_cache_t *c, unsigned ktag, const void *key, size_t klen,
                        void *buf, size_t cap, tc_cache_value_t *out) {
    if (bad_key(ktag, key, klen) || !out || (!buf && cap)) return TC_ERR_INVALID;
    int err = tc__cache_lock(c);
    if (err) return err;
    size_t slot;
    struct tc_entry *e = lookup(c, ktag, key, klen, &slot);
    if (!e) {
        c->misses++;
        tc__cache_unlock(c);
        return 0;
    }
    c->hits++;
    unsigned t = entry_tier(e), f = entry_freq(e);
    c->tiers[t].hits++;
    if (f < E_FREQ_MAX) entry_set_freq(e, f + 1);
    if (t) e = maybe_promote(c, e);
    out->len = e->vlen;
    out->tag = e->meta & 15u;
    if (cap && e->vlen <= cap) {
        memcpy(buf, entry_value(e), e->vlen);
        out->data = buf;
        out->pin = NULL;
    } else {
        struct tc_pin *pin;
        if ((err = tc__pin(c, e, &pin)) == TC_OK) {
            out->data = entry_value(e);
            out->pin = pin;
        }
    }
    tc__cache_unlock(c);
    return err ? err : 1;
}

TC_API void tc_cache_unpin(tc_cache_t *c, void *pin) {
    if (!c || !pin || tc__cache_forked(c)) return;
    /* Lock-free unless this was the last reader of a zombie (see pins.c); c stays alive
     * while the record is held. */
    if (!tc__unpin(pin)) return;
    pthread_mutex_lock(&c->lock);
    tc__pin_free_zombie(c, pin);
    bool release = c->destroyed && c->pins.count == 0;
    pthread_mutex_unlock(&c->lock);
    if (release) release_cache(c);
}

TC_API int tc_cache_take(tc_cache_t *c, unsigned ktag, const void *key, size_t klen,
                         tc_cache_value_t *out) {
    if (bad_key(ktag, key, klen) || !out) return TC_ERR_INVALID;
    int err = tc__cache_lock(c);
    if (err) return err;
    size_t slot;
    struct tc_entry *e = lookup(c, ktag, key, klen, &slot);
    struct tc_pin *pin = NULL;
    if (e) {
        tc__keep(c, e);
        err = tc__pin(c, e, &pin);
        tc__unkeep(c);
    }
    if (e && !err) {
        out->data = entry_value(e);
        out->len = e->vlen;
        out->tag = e->meta & 15u;
        out->pin = pin;
        /* The pin may have evicted entries: find e's slot again. The value stays with the
         * pin (a zombie) until the caller unpins. */
        tc__drop(c, e, TC_INDEX_NONE, true);
        c->deletes++;
    }
    tc__cache_unlock(c);
    return err ? err : e != NULL;
}

TC_API int tc_cache_contains(tc_cache_t *c, unsigned ktag, const void *key, size_t klen) {
    if (bad_key(ktag, key, klen)) return TC_ERR_INVALID;
    int err = tc__cache_lock(c);
    if (err) return err;
    size_t slot;
    int found = lookup(c, ktag, key, klen, &slot) != NULL;
    tc__cache_unlock(c);
    return found;
}

TC_API int tc_cache_delete(tc_cache_t *c, unsigned ktag, const void *key, size_t klen) {
    if (bad_key(ktag, key, klen)) return TC_ERR_INVALID;
    int err = tc__cache_lock(c);
    if (err) return err;
    size_t slot;
    struct tc_entry *e = lookup(c, ktag, key, klen, &slot);
    if (e) {
        tc__drop(c, e, slot, true);
        c->deletes++;
    }
    tc__cache_unlock(c);
    return e != NULL;
}

/* Give e a new expiry; an entry without an expiry field is rebuilt with one. */
static int retime(tc_cache_t *c, struct tc_entry *e, size_t slot, uint64_t expiry) {
    if (e->flags & E_TTL) {
        uint64_t x = expiry ? expiry : UINT64_MAX;
        memcpy(e->tail, &x, 8);
        return TC_OK;
    }
    if (!expiry) return TC_OK;
    size_t on_tier, on_meta;
    unsigned t = entry_tier(e);
    tc__entry_need(c, t, e->klen - 1u, e->vlen, true, &on_tier, &on_meta);
    tc__keep(c, e);
    int err = t ? tc__make_room(c, t, on_tier) : TC_OK;
    if (!err)
        err = tc__make_room_entry(c, tc__entry_block(t, e->klen - 1u, e->vlen, true),
                                  t ? 0 : on_tier);
    tc__unkeep(c);
    if (err) return TC_ERR_NOMEM;
    struct tc_entry *n = tc__entry_copy(c, e, t, expiry);
    if (!n) return TC_ERR_NOMEM;
    c->index.slots[slot] = n; /* eviction leaves other entries' slots where they are */
    struct tc_queue *q = tc__entry_queue(c, e);
    n->flags |= e->flags & E_SMALL;
    entry_set_freq(n, entry_freq(e));
    if (q->counts_bytes) q->bytes += tc__entry_charge(n) - tc__entry_charge(e);
    q->ring[e->qpos] = n;
    n->qpos = e->qpos;
    tc__account(c, e, -1);
    tc__account(c, n, 1);
    tc__entry_free(c, e);
    trim(c, n);
    return TC_OK;
}

TC_API int tc_cache_touch(tc_cache_t *c, unsigned ktag, const void *key, size_t klen,
                          double ttl) {
    if (bad_key(ktag, key, klen) || !(ttl >= 0)) return TC_ERR_INVALID;
    int err = tc__cache_lock(c);
    if (err) return err;
    size_t slot;
    struct tc_entry *e = lookup(c, ktag, key, klen, &slot);
    uint64_t expiry = tc__expiry_for(ttl);
    if (e) err = retime(c, e, slot, expiry);
    if (e && !err) note_expiry(c, expiry);
    tc__cache_unlock(c);
    return err ? err : e != NULL;
}
