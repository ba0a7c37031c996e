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

/* The cache's mutex spins a little before it sleeps: calls hold it for about a microsecond, so
 * a thread that finds it taken by a running thread gets it soon, without the two system calls
 * and the wake-up of a futex wait (a server's worker threads otherwise queue behind each other
 * on every collision). */
static int init_lock(pthread_mutex_t *m) {
    pthread_mutexattr_t a;
    if (pthread_mutexattr_init(&a)) return -1;
    int err = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
    if (!err) err = pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
    return err;
}

bool tc__bad_key(unsigned ktag, const void *key, size_t klen) {
    return ktag > 255 || klen > TC_CACHE_MAX_KEY || (!key && klen);
}

uint64_t tc__expiry_for(double ttl) {
    if (ttl <= 0) return 0;
    if (ttl >= MAX_TTL_SECONDS) return UINT64_MAX;
    return tc__now_ns() + (uint64_t)(ttl * 1e9);
}

TC_API int tc_cache_create(const tc_cache_config_t *cfg, tc_cache_t **out) {
    if (!cfg || !out || cfg->ntiers < 1 || cfg->ntiers > TC_CACHE_MAX_TIERS ||
        cfg->small_percent > 50 || cfg->index_tier >= cfg->ntiers)
        return TC_ERR_INVALID;
    for (size_t t = 0; t < cfg->ntiers; t++) {
        const tc_cache_tier_config_t *tier = &cfg->tiers[t];
        if (!tier->kind || tier->budget < MIN_TIER_BUDGET) return TC_ERR_INVALID;
        int err = tc_kind_check_available(tier->kind);
        if (err) return err;
    }
    tc_cache_t *c = tc_malloc(cfg->tiers[0].kind, sizeof *c);
    if (!c) return TC_ERR_NOMEM;
    memset(c, 0, sizeof *c);
    if (init_lock(&c->lock) || tc__cache_register(c)) {
        tc_free(NULL, c);
        return TC_ERR_SYSTEM;
    }
    c->magic = TC_CACHE_MAGIC;
    c->fork_gen = atomic_load(&tc__fork_generation);
    c->ntiers = cfg->ntiers;
    unsigned percent = cfg->small_percent ? cfg->small_percent : 10;
    for (size_t t = 0; t < cfg->ntiers; t++) {
        struct tc_tier *tier = &c->tiers[t];
        tier->kind = cfg->tiers[t].kind;
        tier->budget = tier->configured = cfg->tiers[t].budget;
        tier->small_limit = tier->budget / 100 * percent;
        tc__queue_init(&tier->small, tier->budget, true);
        tc__queue_init(&tier->main, tier->budget, false);
    }
    c->large_threshold = cfg->large_threshold;
    c->promote_hits = cfg->promote_hits;
    c->index.tier = cfg->index_tier;
    c->ghost_tier = (unsigned)cfg->ntiers - 1;
    c->next_expiry = UINT64_MAX;
    c->tiers[0].used = tc_usable_size(NULL, c); /* the cache itself is metadata too */
    for (unsigned t = 0; t < cfg->ntiers; t++) tc__slabs_init(c, t);
    *out = c;
    return TC_OK;
}

/* Free what is left of a closed cache once no pin holds it (lock not held). */
static void release_cache(tc_cache_t *c) {
    tc__cache_unregister(c);
    tc__pins_release(c);
    for (unsigned t = 0; t < c->ntiers; t++) tc__slabs_release(c, t); /* if close left them */
    pthread_mutex_destroy(&c->lock);
    c->magic = 0;
    tc_free(NULL, c);
}

static void free_index(tc_cache_t *c) {
    for (unsigned p = 0; p < TC_INDEX_PARTS; p++) {
        struct tc_index_part *part = &c->index.part[p];
        if (part->now.slots) tc__cache_free(c, c->index.tier, part->now.slots);
        if (part->old.slots) tc__cache_free(c, c->index.tier, part->old.slots);
        if (part->ghost) tc__cache_free(c, c->ghost_tier, part->ghost);
    }
    unsigned tier = c->index.tier;
    memset(&c->index, 0, sizeof c->index);
    c->index.tier = tier;
}

static void close_locked(tc_cache_t *c) {
    c->closed = true;
    size_t pos = 0;
    for (struct tc_entry *e; (e = tc__index_next(&c->index, &pos)); pos++) tc__entry_free(c, e);
    free_index(c);
    for (unsigned t = 0; t < c->ntiers; t++) {
        tc__queue_release(c, t, &c->tiers[t].small);
        tc__queue_release(c, t, &c->tiers[t].main);
    }
    tc__pins_free_spares(c);
    /* Zombie pins may still hold slab slots: the slabs' tables go with the last of them. */
    if (!c->pins.count)
        for (unsigned t = 0; t < c->ntiers; t++) tc__slabs_release(c, t);
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

/* The live entry for a key (expired ones are dropped on the way), with its slot. */
static inline struct tc_entry *lookup(tc_cache_t *c, unsigned ktag, const void *key, size_t klen,
                                      size_t *slot) {
    struct tc_entry *e =
        tc__index_find(&c->index, tc__key_hash(ktag, key, klen), ktag, key, klen, slot);
    if (e && (e->flags & E_TTL) && tc__drop_if_expired(c, e, *slot, true)) return NULL;
    return e;
}

struct tc_entry *tc__lookup_hashed(tc_cache_t *c, uint64_t h, unsigned ktag, const void *key,
                                   size_t klen) {
    size_t slot;
    struct tc_entry *e = tc__index_find(&c->index, h, ktag, key, klen, &slot);
    if (e && (e->flags & E_TTL) && tc__drop_if_expired(c, e, slot, true)) return NULL;
    return e;
}

/* A read of an entry on a lower tier: promote it once it was read promote_hits times. */
static struct tc_entry *maybe_promote(tc_cache_t *c, struct tc_entry *e) {
    if (!c->promote_hits || entry_freq(e) < c->promote_hits) return e;
    if (c->large_threshold && e->vlen >= c->large_threshold) return e;
    struct tc_entry_spec s = tc__entry_spec_of(e);
    if (tc__entry_need(c, 0, &s) > c->tiers[0].budget / 2) return e;
    struct tc_entry *n = tc__move_to_tier(c, e, 0, true);
    if (!n) return e;
    entry_set_freq(n, 1);
    tc__cache_trim(c, n);
    return n;
}

/* Seconds until e expires (0: never; a tiny figure once due). */
static double ttl_left(const struct tc_entry *e) {
    uint64_t x = entry_expiry(e);
    if (!x || x == UINT64_MAX) return 0; /* (no clock read for the entries without a ttl) */
    uint64_t now = tc__now_ns();
    return x > now ? (double)(x - now) / 1e9 : 1e-9;
}

/* Give e a new expiry (0: none), rebuilding it when it has no expiry field. NULL when out of
 * memory (e untouched). */
static struct tc_entry *retime(tc_cache_t *c, struct tc_entry *e, uint64_t expiry) {
    if (e->flags & E_TTL) {
        uint64_t x = expiry ? expiry : UINT64_MAX;
        memcpy(e->tail, &x, 8);
        tc__note_expiry(c, expiry);
        return e;
    }
    if (!expiry) return e;
    struct tc_entry_spec s = tc__entry_spec_of(e);
    s.expiry = expiry;
    return tc__entry_rebuild(c, e, &s);
}

/* Give e a CAS token if it has none. NULL when out of memory (e untouched). */
static struct tc_entry *with_token(tc_cache_t *c, struct tc_entry *e) {
    if (e->meta & M_CAS) return e;
    struct tc_entry_spec s = tc__entry_spec_of(e);
    s.cas = tc__next_cas(c);
    return tc__entry_rebuild(c, e, &s);
}

static inline void describe(const struct tc_entry *e, tc_cache_value_t *out) {
    out->len = e->vlen;
    out->tag = entry_vtag(e);
    if (TC_LIKELY(!(e->flags & E_TTL) && !(e->meta & (M_CAS | M_FLAGS)))) { /* (most) */
        out->cas = 0;
        out->flags = 0;
        out->ttl = 0;
        return;
    }
    out->cas = entry_cas(e);
    out->flags = entry_client_flags(e);
    out->ttl = ttl_left(e);
}

static int get_locked(tc_cache_t *c, unsigned ktag, const void *key, size_t klen, unsigned options,
                      double ttl, void *buf, size_t cap, tc_cache_value_t *out) {
    size_t slot;
    struct tc_entry *e = lookup(c, ktag, key, klen, &slot);
    bool peek = options & TC_GET_PEEK;
    if (!e) {
        if (!peek) c->misses++;
        return 0;
    }
    if ((options & TC_GET_TOUCH) && !(e = retime(c, e, tc__expiry_for(ttl)))) return TC_ERR_NOMEM;
    if ((options & TC_GET_CAS) && !(e = with_token(c, e))) return TC_ERR_NOMEM;
    if (!peek) {
        c->hits++;
        unsigned t = entry_tier(e), f = entry_freq(e);
        c->tiers[t].hits++;
        if (f < E_FREQ_MAX) entry_set_freq(e, f + 1);
        if (t) e = maybe_promote(c, e);
    }
    describe(e, out);
    if (cap && e->vlen <= cap) {
        memcpy(buf, entry_value(e), e->vlen);
        out->data = buf;
        out->pin = NULL;
        return 1;
    }
    struct tc_pin *pin;
    int err = tc__pin(c, e, &pin);
    if (err) return err;
    out->data = entry_value(e);
    out->pin = pin;
    return 1;
}

TC_API int tc_cache_get_ex(tc_cache_t *c, unsigned ktag, const void *key, size_t klen,
                           unsigned options, double ttl, void *buf, size_t cap,
                           tc_cache_value_t *out) {
    if (tc__bad_key(ktag, key, klen) || !out || (!buf && cap) ||
        (options & ~(TC_GET_PEEK | TC_GET_TOUCH | TC_GET_CAS)) || !(ttl >= 0))
        return TC_ERR_INVALID;
    int err = tc__cache_lock(c);
    if (err) return err;
    err = get_locked(c, ktag, key, klen, options, ttl, buf, cap, out);
    tc__cache_unlock(c);
    return err;
}

TC_API int tc_cache_get(tc_cache_t *c, unsigned ktag, const void *key, size_t klen, void *buf,
                        size_t cap, tc_cache_value_t *out) {
    return tc_cache_get_ex(c, ktag, key, klen, 0, 0, buf, cap, out);
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
    if (tc__bad_key(ktag, key, klen) || !out) return TC_ERR_INVALID;
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
        describe(e, out);
        out->data = entry_value(e);
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
    if (tc__bad_key(ktag, key, klen)) return TC_ERR_INVALID;
    int err = tc__cache_lock(c);
    if (err) return err;
    size_t slot;
    int found = lookup(c, ktag, key, klen, &slot) != NULL;
    tc__cache_unlock(c);
    return found;
}

TC_API int tc_cache_delete(tc_cache_t *c, unsigned ktag, const void *key, size_t klen) {
    if (tc__bad_key(ktag, key, klen)) return TC_ERR_INVALID;
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

TC_API int tc_cache_touch(tc_cache_t *c, unsigned ktag, const void *key, size_t klen, double ttl) {
    if (tc__bad_key(ktag, key, klen) || !(ttl >= 0)) return TC_ERR_INVALID;
    int err = tc__cache_lock(c);
    if (err) return err;
    size_t slot;
    struct tc_entry *e = lookup(c, ktag, key, klen, &slot);
    if (e && !retime(c, e, tc__expiry_for(ttl))) err = TC_ERR_NOMEM;
    tc__cache_unlock(c);
    return err ? err : e != NULL;
}

TC_API int tc_cache_delete_cas(tc_cache_t *c, unsigned ktag, const void *key, size_t klen,
                               uint64_t cas) {
    if (tc__bad_key(ktag, key, klen)) return TC_ERR_INVALID;
    int err = tc__cache_lock(c);
    if (err) return err;
    size_t slot;
    struct tc_entry *e = lookup(c, ktag, key, klen, &slot);
    int rc = TC_CACHE_NOT_FOUND;
    if (e && cas && entry_cas(e) != cas) {
        rc = TC_CACHE_EXISTS;
    } else if (e) {
        tc__drop(c, e, slot, true);
        c->deletes++;
        rc = TC_CACHE_STORED;
    }
    tc__cache_unlock(c);
    return rc;
}

TC_API int tc_cache_pop_victim(tc_cache_t *c, void *kbuf, size_t kcap, size_t *klen_out,
                               tc_cache_value_t *out) {
    if ((!kbuf && kcap) || !klen_out || !out) return TC_ERR_INVALID;
    int err = tc__cache_lock(c);
    if (err) return err;
    struct tc_entry *e = tc__next_victim(c);
    struct tc_pin *pin = NULL;
    int rc = 0;
    if (e && (size_t)e->klen + 2 > kcap) {
        *klen_out = (size_t)e->klen + 2;
        rc = TC_ERR_NOMEM;
    } else if (e && (rc = tc__pin(c, e, &pin)) == TC_OK) {
        const unsigned char *k = entry_key(e);
        unsigned char *o = kbuf;
        size_t klen = e->klen - 1u;
        o[0] = k[0];
        o[1] = (unsigned char)(klen & 0xff);
        o[2] = (unsigned char)(klen >> 8);
        memcpy(o + 3, k + 1, klen);
        *klen_out = klen + 3;
        describe(e, out);
        out->data = entry_value(e);
        out->pin = pin;
        tc__drop(c, e, TC_INDEX_NONE, true); /* the value stays with the pin */
        c->deletes++;
        rc = 1;
    }
    tc__cache_unlock(c);
    return rc;
}
