/*
 * Storing: set and its conditional forms (add, replace, append, prepend, cas), incr/decr, and
 * rebuilding an entry in place (new expiry, a CAS token). Each public call is one step under
 * the cache's mutex: it either stores, or leaves the present item exactly as it was.
 */
#include <stdio.h>

#include "cache_internal.h"

/* The index may take at most this many fifths of its tier: past it, new keys evict old ones
 * (a DRAM tier stays mostly for hot entries; see index_tier for the alternative). */
#define INDEX_FIFTHS_MAX 4
#define MAX_DIGITS 20 /* of a 64-bit number */

/* A part's ghost table follows its size (in the ghost tier's memory); failure keeps the old
 * one, which only remembers less. */
static void resize_ghost(tc_cache_t *c, struct tc_index_part *part) {
    size_t cap = part->now.cap;
    if (tc__make_room(c, c->ghost_tier, tc__cache_charge(cap * sizeof(uint16_t)))) return;
    uint16_t *ghost = tc__cache_alloc_zeroed(c, c->ghost_tier, cap * sizeof *ghost);
    if (!ghost) return;
    tc__ghost_move(part, ghost, cap);
    if (part->ghost) tc__cache_free(c, c->ghost_tier, part->ghost);
    part->ghost = ghost;
    part->ghost_cap = (uint32_t)cap;
    part->ghost_hand = 0;
}

/* Entries a part's insertion moves from its old table to its new one while it grows: the
 * old table empties long before the new one fills (7/8 full at 1.25 times the size). */
#define MOVE_PER_INSERT 64

static void free_slots(tc_cache_t *c, uint64_t *slots) {
    if (slots) tc__cache_free(c, c->index.tier, slots);
}

/* Make room in the index for one more key of hash h: move some of its part's entries along
 * if it is growing, and start growing it when its table is full. Parts grow alone (a second
 * table of 1/64 of the index, not of all of it). When the index tier cannot give the part
 * more room, or the index would pass INDEX_FIFTHS_MAX fifths of that tier, entries are
 * evicted (policy order) until the part takes the key at its size. */
static int ensure_index(tc_cache_t *c, uint64_t h) {
    struct tc_index *ix = &c->index;
    unsigned p = tc__index_part_of(h);
    struct tc_index_part *part = &ix->part[p];
    struct tc_tier *tier = &c->tiers[ix->tier];
    if (part->old.slots) free_slots(c, tc__index_move(ix, p, MOVE_PER_INSERT));
    size_t cap = tc__index_wanted_cap(ix, p, h);
    while (cap) {
        size_t index_bytes = (ix->cap + cap) * sizeof(uint64_t);
        uint64_t *slots = NULL;
        if (index_bytes <= tier->budget / 5 * INDEX_FIFTHS_MAX &&
            tc__make_room(c, ix->tier, tc__cache_charge(cap * sizeof *slots)) == TC_OK)
            slots = tc__cache_alloc_zeroed(c, ix->tier, cap * sizeof *slots);
        if (!slots) {
            /* At its size: evict until the part takes the key. */
            if (!part->now.cap || !tc__evict_one(c)) return TC_ERR_NOMEM;
            cap = tc__index_wanted_cap(ix, p, h);
            continue;
        }
        cap = tc_usable_size(NULL, slots) / sizeof *slots; /* the size class's room is free */
        uint64_t *freed[2];
        if (tc__index_grow(ix, p, slots, cap, freed)) { /* a distance too long: larger */
            tc__cache_free(c, ix->tier, slots);
            cap += cap / 2;
            continue;
        }
        free_slots(c, freed[0]);
        free_slots(c, freed[1]);
        resize_ghost(c, part);
        if (part->old.slots) free_slots(c, tc__index_move(ix, p, MOVE_PER_INSERT));
        cap = tc__index_wanted_cap(ix, p, h);
    }
    return TC_OK;
}

int tc__cache_place(const tc_cache_t *c, const struct tc_entry_spec *s) {
    size_t vlen = s->len1 + s->len2;
    unsigned first = c->large_threshold && vlen >= c->large_threshold ? c->ntiers - 1 : 0;
    for (unsigned t = first; t < c->ntiers; t++) {
        size_t most = t ? c->tiers[t].configured : c->tiers[t].budget / 2; /* (not shrunk) */
        if (tc__entry_need(c, t, s) <= most) return (int)t;
    }
    return -1;
}

void tc__cache_trim(tc_cache_t *c, struct tc_entry *keep) {
    tc__keep(c, keep);
    for (unsigned t = 0; t < c->ntiers; t++) {
        tc__make_room(c, t, 0);
        tc__make_room_ahead(c, t);
        tc__queue_tidy(c, t, &c->tiers[t].small);
        tc__queue_tidy(c, t, &c->tiers[t].main);
    }
    tc__unkeep(c);
}

void tc__note_expiry(tc_cache_t *c, uint64_t expiry) {
    if (expiry && expiry < c->next_expiry) c->next_expiry = expiry;
}

uint64_t tc__next_cas(tc_cache_t *c) { return ++c->last_cas; }

/* tc__entry_rebuild for e of key hash h. */
static struct tc_entry *rebuild(tc_cache_t *c, struct tc_entry *e, uint64_t h,
                                const struct tc_entry_spec *s) {
    unsigned t = entry_tier(e);
    struct tc_entry *n = NULL;
    tc__keep(c, e);
    for (int tries = 0; !n && tries < 2; tries++) {
        if (tc__make_room_entry(c, t, tc__entry_block(s), tc__entry_value_block(s))) break;
        if (!(n = tc__entry_new(c, t, s)) && !tc__tier_refused(c, t)) break;
    }
    tc__unkeep(c);
    if (!n) return NULL;
    /* Making room may have moved e's index slot, never its queue position (e was kept). */
    tc__index_set_at(&c->index, tc__index_find_hashed(&c->index, e, h), n);
    struct tc_queue *q = tc__entry_queue(c, e);
    n->flags |= e->flags & E_SMALL;
    entry_set_freq(n, entry_freq(e));
    if (q->counts_bytes) q->bytes += tc__entry_charge(n) - tc__entry_charge(e);
    *tc__queue_slot(q, e->qpos) = n;
    n->qpos = e->qpos;
    tc__account(c, e, -1);
    tc__account(c, n, 1);
    tc__entry_free(c, e);
    tc__note_expiry(c, s->expiry);
    tc__cache_trim(c, n);
    return n;
}

/* Store a new entry of spec s for the key of hash h, replacing old (NULL: the key is new).
 * On any error nothing changed. */
static int put(tc_cache_t *c, uint64_t h, struct tc_entry *old, const struct tc_entry_spec *s) {
    int placed = tc__cache_place(c, s);
    if (placed < 0) return TC_ERR_TOOLARGE;
    unsigned t = (unsigned)placed;
    if (old && t == entry_tier(old)) { /* stays on its tier, in its block when it fits */
        struct tc_entry *n = tc__entry_rewrite(c, old, s) ? old : rebuild(c, old, h, s);
        if (!n) return TC_ERR_NOMEM;
        /* A written entry is new to the policy, as in memcached: to the tail of its FIFO
         * (where it stays when no ring segment can be had: the value is stored all the same). */
        struct tc_queue *q = tc__entry_queue(c, n);
        size_t used = c->tiers[t].used;
        if (!tc__queue_reserve(c, t, q)) {
            tc__queue_remove(c, q, n);
            tc__queue_push(q, n);
        }
        if (c->tiers[t].used > used) tc__cache_trim(c, n); /* a ring segment was added */
        tc__note_expiry(c, s->expiry);
        c->sets++;
        return TC_OK;
    }
    bool to_main;
    int err = TC_OK;
    if (old) {
        to_main = !(old->flags & E_SMALL);
        tc__keep(c, old);
    } else {
        to_main = tc__ghost_take(c, h);
        err = ensure_index(c, h);
    }
    struct tc_entry *n = NULL;
    for (int tries = 0; !err && !n && tries < 2; tries++) {
        err = tc__make_room_entry(c, t, tc__entry_block(s), tc__entry_value_block(s));
        if (!err && !(n = tc__entry_new(c, t, s)) && !tc__tier_refused(c, t)) err = TC_ERR_NOMEM;
    }
    if (!err && !n) err = TC_ERR_NOMEM;
    if (n && !to_main) n->flags |= E_SMALL;
    struct tc_queue *q = n ? tc__entry_queue(c, n) : NULL;
    if (!err && tc__queue_reserve(c, t, q)) {
        tc__entry_free(c, n);
        err = TC_ERR_NOMEM;
    }
    if (old) tc__unkeep(c);
    if (err) return err == TC_ERR_TOOLARGE ? TC_ERR_NOMEM : err;
    tc__note_expiry(c, s->expiry);
    if (old) {
        entry_set_freq(n, entry_freq(old));
        tc__index_set_at(&c->index, tc__index_find_hashed(&c->index, old, h), n);
        tc__queue_remove(c, tc__entry_queue(c, old), old);
        tc__account(c, old, -1);
        tc__entry_free(c, old);
    } else {
        tc__index_insert(&c->index, h, n);
    }
    tc__account(c, n, 1);
    tc__queue_push(q, n);
    c->sets++;
    tc__cache_trim(c, n);
    return TC_OK;
}

struct tc_entry *tc__entry_rebuild(tc_cache_t *c, struct tc_entry *e,
                                   const struct tc_entry_spec *s) {
    return rebuild(c, e, tc__entry_hash(e), s);
}

static bool bad_item(const tc_cache_item_t *it) {
    return !it || tc__bad_key(it->ktag, it->key, it->klen) || (!it->value && it->vlen) ||
           it->vlen > TC_CACHE_MAX_VALUE || it->vtag >= TC_CACHE_VALUE_TAGS || !(it->ttl >= 0);
}

static int store_locked(tc_cache_t *c, tc_cache_mode_t mode, const tc_cache_item_t *it,
                        uint64_t *cas_out) {
    uint64_t h = tc__key_hash(it->ktag, it->key, it->klen);
    tc__ghost_prefetch(c, h); /* a new key's ghost slot: read while the index is searched */
    struct tc_entry *old = tc__lookup_hashed(c, h, it->ktag, it->key, it->klen);
    switch (mode) {
    case TC_STORE_ADD:
        if (old) return TC_CACHE_NOT_STORED;
        break;
    case TC_STORE_REPLACE:
    case TC_STORE_APPEND:
    case TC_STORE_PREPEND:
        if (!old) return TC_CACHE_NOT_STORED;
        break;
    case TC_STORE_CAS:
        if (!old) return TC_CACHE_NOT_FOUND;
        if (!it->cas || entry_cas(old) != it->cas) return TC_CACHE_EXISTS;
        break;
    case TC_STORE_SET: break;
    }
    struct tc_entry_spec s = {
        .ktag = it->ktag,
        .key = it->key,
        .klen = it->klen,
        .part1 = it->value,
        .len1 = it->vlen,
        .vtag = it->vtag,
        .expiry = tc__expiry_for(it->ttl),
        .flags = it->flags,
    };
    if (mode == TC_STORE_APPEND || mode == TC_STORE_PREPEND) {
        if (entry_vtag(old) != it->vtag) return TC_ERR_INVALID; /* joining other encodings */
        if ((size_t)old->vlen + it->vlen > TC_CACHE_MAX_VALUE) return TC_ERR_TOOLARGE;
        bool append = mode == TC_STORE_APPEND;
        s.part1 = append ? entry_value(old) : it->value;
        s.len1 = append ? old->vlen : it->vlen;
        s.part2 = append ? it->value : entry_value(old);
        s.len2 = append ? it->vlen : old->vlen;
        s.vtag = entry_vtag(old);
        s.expiry = entry_expiry(old);
        s.flags = entry_client_flags(old);
    }
    bool token = it->with_cas || mode == TC_STORE_CAS ||
                 (old && (old->meta & M_CAS) && mode != TC_STORE_SET);
    s.cas = token ? tc__next_cas(c) : 0;
    int err = put(c, h, old, &s);
    if (err) return err;
    if (cas_out) *cas_out = s.cas;
    return TC_CACHE_STORED;
}

TC_API int tc_cache_store(tc_cache_t *c, tc_cache_mode_t mode, const tc_cache_item_t *item,
                          uint64_t *cas_out) {
    if (bad_item(item) || mode < TC_STORE_SET || mode > TC_STORE_CAS) return TC_ERR_INVALID;
    if (cas_out) *cas_out = 0;
    int err = tc__cache_lock(c);
    if (err) return err;
    err = store_locked(c, mode, item, cas_out);
    tc__cache_unlock(c);
    return err;
}

/* tc_cache_store of one plain item in the given mode. */
static int store_plain(tc_cache_t *c, tc_cache_mode_t mode, unsigned ktag, const void *key,
                       size_t klen, const void *value, size_t vlen, unsigned vtag, double ttl) {
    tc_cache_item_t it = {.ktag = ktag,
                          .key = key,
                          .klen = klen,
                          .value = value,
                          .vlen = vlen,
                          .vtag = vtag,
                          .ttl = ttl};
    return tc_cache_store(c, mode, &it, NULL);
}

TC_API int tc_cache_set(tc_cache_t *c, unsigned ktag, const void *key, size_t klen,
                        const void *value, size_t vlen, unsigned vtag, double ttl) {
    int rc = store_plain(c, TC_STORE_SET, ktag, key, klen, value, vlen, vtag, ttl);
    return rc < 0 ? rc : TC_OK;
}

TC_API int tc_cache_add(tc_cache_t *c, unsigned ktag, const void *key, size_t klen,
                        const void *value, size_t vlen, unsigned vtag, double ttl) {
    int rc = store_plain(c, TC_STORE_ADD, ktag, key, klen, value, vlen, vtag, ttl);
    return rc < 0 ? rc : rc == TC_CACHE_STORED;
}

/* ---- incr / decr ---- */

/* The number in v (digits, a leading '-' when is_signed, then trailing spaces as memcached
 * leaves them): false when it is not one. */
static bool parse_number(const unsigned char *v, size_t n, bool is_signed, uint64_t *out) {
    while (n && v[n - 1] == ' ') n--;
    bool negative = is_signed && n && v[0] == '-';
    size_t i = negative;
    if (n == i || n > MAX_DIGITS + i) return false;
    uint64_t x = 0;
    for (; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') return false;
        unsigned d = v[i] - '0';
        if (x > (UINT64_MAX - d) / 10) return false;
        x = x * 10 + d;
    }
    if (is_signed) {
        if (negative ? x > (uint64_t)INT64_MAX + 1 : x > INT64_MAX) return false;
        x = negative ? (uint64_t)(-(int64_t)(x - 1) - 1) : x;
    }
    *out = x;
    return true;
}

/* x +/- delta by op's rule: false when a signed result leaves the range. */
static bool apply(const tc_cache_incr_t *op, uint64_t x, uint64_t *out) {
    if (!op->is_signed) {
        *out = op->decrement ? (x < op->delta ? 0 : x - op->delta) : x + op->delta;
        return true;
    }
    int64_t a = (int64_t)x, r;
    if (op->delta > INT64_MAX) return false;
    int64_t d = (int64_t)op->delta;
    if (op->decrement ? __builtin_sub_overflow(a, d, &r) : __builtin_add_overflow(a, d, &r))
        return false;
    *out = (uint64_t)r;
    return true;
}

static size_t format_number(char *buf, uint64_t x, bool is_signed) {
    int n = is_signed ? snprintf(buf, MAX_DIGITS + 2, "%lld", (long long)(int64_t)x)
                      : snprintf(buf, MAX_DIGITS + 2, "%llu", (unsigned long long)x);
    return (size_t)n;
}

static int incr_locked(tc_cache_t *c, unsigned ktag, const void *key, size_t klen,
                       const tc_cache_incr_t *op, uint64_t *value, uint64_t *cas_out) {
    uint64_t h = tc__key_hash(ktag, key, klen);
    struct tc_entry *e = tc__lookup_hashed(c, h, ktag, key, klen);
    char digits[MAX_DIGITS + 2];
    uint64_t x = op->initial;
    struct tc_entry_spec s;
    if (!e) {
        if (!op->create) return 0;
        s = (struct tc_entry_spec){.ktag = ktag,
                                   .key = key,
                                   .klen = klen,
                                   .vtag = op->vtag,
                                   .expiry = tc__expiry_for(op->ttl)};
    } else {
        uint64_t now;
        if (op->is_signed && entry_vtag(e) != op->vtag) return TC_ERR_NOTNUMBER;
        if (!parse_number(entry_value(e), e->vlen, op->is_signed, &now)) return TC_ERR_NOTNUMBER;
        if (!apply(op, now, &x)) return TC_ERR_RANGE;
        s = tc__entry_spec_of(e);
    }
    char padded[MAX_DIGITS + 2];
    s.part1 = digits;
    s.len1 = format_number(digits, x, op->is_signed);
    s.part2 = NULL;
    s.len2 = 0;
    if (e && !op->is_signed && s.len1 < e->vlen && e->vlen <= MAX_DIGITS + 1) {
        /* memcached rewrites a shorter number in place, padded with spaces to the old length */
        memset(padded, ' ', e->vlen);
        memcpy(padded, digits, s.len1);
        s.part1 = padded;
        s.len1 = e->vlen;
    }
    s.cas = op->with_cas || (e && (e->meta & M_CAS)) ? tc__next_cas(c) : 0;
    if (e) {
        if (!tc__entry_rebuild(c, e, &s)) return TC_ERR_NOMEM;
    } else {
        int err = put(c, h, NULL, &s);
        if (err) return err;
    }
    if (value) *value = x;
    if (cas_out) *cas_out = s.cas;
    return 1;
}

TC_API int tc_cache_incr(tc_cache_t *c, unsigned ktag, const void *key, size_t klen,
                         const tc_cache_incr_t *op, uint64_t *value, uint64_t *cas_out) {
    if (tc__bad_key(ktag, key, klen) || !op || op->vtag >= TC_CACHE_VALUE_TAGS || !(op->ttl >= 0))
        return TC_ERR_INVALID;
    int err = tc__cache_lock(c);
    if (err) return err;
    err = incr_locked(c, ktag, key, klen, op, value, cas_out);
    tc__cache_unlock(c);
    return err;
}
