/*
 * The cache index: TC_INDEX_PARTS Robin Hood hash tables of 8-byte slots. A slot is 0 (empty)
 * or a 12-bit tag from the key's hash, the slot's distance from its home (6 bits) and the
 * entry's address (4-byte aligned, 46 bits). The top 6 bits of the hash choose the part, the
 * next ones the home (the high half of hash * capacity, so a table may have any size), the low
 * 12 bits the tag: a lookup reads the entry (on whatever tier it lives) only on a tag match,
 * 1 in 4096 for another key, and stops at the first slot closer to its home than the key
 * would be.
 *
 * Deletion shifts the following slots back (their distances say where they may go): no
 * tombstones, no rebuilds under churn. Each part grows alone, by 1/4 once it is 7/8 full (or
 * a distance would pass 63): the load stays within 70-88%, 9.1-11.4 bytes of DRAM per entry.
 * Growing is incremental: the part gets a new table, new keys go there, and each insertion
 * into the part moves up to 64 entries over from the old table (reading them on their tier for
 * their hash), so no operation rebuilds a whole table; lookups try the new table, then the
 * old, until it is empty and freed. Only one part at a time holds two tables' worth of slots
 * for long: 1/64 of the index.
 */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "cache_internal.h"

#define TAG_SHIFT 52
#define DIST_SHIFT 46
#define DIST_ONE (1ull << DIST_SHIFT)
#define DIST_MAX 63
#define MIN_CAP 8
#define OLD_BIT TC_INDEX_OLD_BIT
#define PART_SHIFT TC_INDEX_PART_SHIFT

_Static_assert(TC_INDEX_PARTS == 1u << (64 - PART_SHIFT), "part bits");
_Static_assert(sizeof(void *) == 8, "entry addresses in 64-bit slots");

uint64_t tc__key_hash(unsigned tag, const void *key, size_t klen) {
    return XXH3_64bits_withSeed(key, klen, tag);
}

uint64_t tc__entry_hash(const struct tc_entry *e) {
    const unsigned char *k = entry_key(e);
    return tc__key_hash(k[0], k + 1, e->klen - 1u);
}

static inline uint64_t tag_of(uint64_t h) { return h & 0xfff; }
static inline unsigned dist_of(uint64_t w) { return (unsigned)(w >> DIST_SHIFT) & DIST_MAX; }

static inline size_t home_of(uint64_t h, size_t cap) {
    return (size_t)(((unsigned __int128)(h << (64 - PART_SHIFT)) * cap) >> 64);
}

/* memcmp(a, b, n) == 0, with keys of 8 to 16 bytes (the common ones) compared inline. */
static inline bool bytes_equal(const unsigned char *a, const unsigned char *b, size_t n) {
    if (n < 8 || n > 16) return memcmp(a, b, n) == 0;
    uint64_t a0, a1, b0, b1; /* the first 8 and the last 8 bytes (they overlap under 16) */
    memcpy(&a0, a, 8);
    memcpy(&b0, b, 8);
    memcpy(&a1, a + n - 8, 8);
    memcpy(&b1, b + n - 8, 8);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

static inline bool key_equal(const struct tc_entry *e, unsigned tag, const void *key,
                             size_t klen) {
    const unsigned char *k = entry_key(e);
    return e->klen == klen + 1 && k[0] == tag && bytes_equal(k + 1, key, klen);
}

static inline size_t handle(unsigned part, bool old, size_t i) {
    return (size_t)part << 32 | (old ? OLD_BIT : 0) | i;
}

/* ---- one table ---- */

/* Position of the key in t, or SIZE_MAX. */
static inline __attribute__((always_inline)) size_t
t_find(const struct tc_index_table *t, uint64_t h, unsigned ktag, const void *key, size_t klen) {
    if (!t->count) return SIZE_MAX;
    uint64_t tag = tag_of(h);
    size_t i = home_of(h, t->cap);
    for (unsigned d = 0; d <= DIST_MAX; d++) {
        uint64_t w = t->slots[i];
        if (!w || dist_of(w) < d) return SIZE_MAX;
        if (w >> TAG_SHIFT == tag && key_equal(tc__slot_entry(w), ktag, key, klen)) return i;
        if (++i == t->cap) i = 0;
    }
    return SIZE_MAX;
}

/* Whether inserting hash h keeps every distance within DIST_MAX (a dry run of the Robin Hood
 * displacements) and leaves a free slot. */
static bool t_fits(const struct tc_index_table *t, uint64_t h) {
    if (t->count + 1u > t->cap) return false;
    size_t i = home_of(h, t->cap);
    unsigned carried = 0;
    for (;;) {
        uint64_t w = t->slots[i];
        if (!w) return true;
        if (dist_of(w) < carried) carried = dist_of(w); /* the carried slot changes hands */
        if (++carried > DIST_MAX) return false;
        if (++i == t->cap) i = 0;
    }
}

/* Robin Hood insertion (the caller checked t_fits): the position e landed at. */
static size_t t_insert(struct tc_index_table *t, uint64_t h, struct tc_entry *e) {
    size_t i = home_of(h, t->cap), at = SIZE_MAX;
    uint64_t cur = tag_of(h) << TAG_SHIFT | (uint64_t)(uintptr_t)e >> 2;
    for (;;) {
        uint64_t w = t->slots[i];
        if (!w || dist_of(w) < dist_of(cur)) {
            t->slots[i] = cur;
            if (at == SIZE_MAX) at = i;
            if (!w) break;
            cur = w;
        }
        cur += DIST_ONE;
        if (++i == t->cap) i = 0;
    }
    t->count++;
    return at;
}

/* Remove position i, shifting the slots after it back. */
static void t_remove(struct tc_index_table *t, size_t i) {
    for (;;) {
        size_t j = i + 1 == t->cap ? 0 : i + 1;
        uint64_t w = t->slots[j];
        if (!w || !dist_of(w)) break;
        t->slots[i] = w - DIST_ONE;
        i = j;
    }
    t->slots[i] = 0;
    t->count--;
}

/* ---- the index ---- */

struct tc_entry *tc__index_find(const struct tc_index *ix, uint64_t h, unsigned ktag,
                                const void *key, size_t klen, size_t *slot) {
    unsigned p = tc__index_part_of(h);
    const struct tc_index_part *part = &ix->part[p];
    size_t i = t_find(&part->now, h, ktag, key, klen);
    if (TC_LIKELY(i != SIZE_MAX)) {
        *slot = handle(p, false, i);
        return tc__slot_entry(part->now.slots[i]);
    }
    if (part->old.slots && (i = t_find(&part->old, h, ktag, key, klen)) != SIZE_MAX) {
        *slot = handle(p, true, i);
        return tc__slot_entry(part->old.slots[i]);
    }
    *slot = TC_INDEX_NONE;
    return NULL;
}

void tc__index_prefetch(const struct tc_index *ix, uint64_t h) {
    const struct tc_index_table *t = &ix->part[tc__index_part_of(h)].now;
    if (t->cap) __builtin_prefetch(&t->slots[home_of(h, t->cap)]);
}

size_t tc__index_find_hashed(const struct tc_index *ix, const struct tc_entry *e, uint64_t h) {
    const unsigned char *key = entry_key(e);
    size_t slot;
    return tc__index_find(ix, h, key[0], key + 1, e->klen - 1u, &slot) == e ? slot : TC_INDEX_NONE;
}

size_t tc__index_find_entry(const struct tc_index *ix, const struct tc_entry *e) {
    return tc__index_find_hashed(ix, e, tc__entry_hash(e));
}

size_t tc__index_insert(struct tc_index *ix, uint64_t h, struct tc_entry *e) {
    unsigned p = tc__index_part_of(h);
    ix->count++;
    return handle(p, false, t_insert(&ix->part[p].now, h, e));
}

void tc__index_remove_at(struct tc_index *ix, size_t slot) {
    t_remove(tc__index_table_of(ix, slot), slot & (OLD_BIT - 1));
    ix->count--;
}

struct tc_entry *tc__index_next(const struct tc_index *ix, size_t *pos) {
    size_t p = *pos >> 32, i = *pos & (OLD_BIT - 1);
    bool old = *pos & OLD_BIT;
    for (; p < TC_INDEX_PARTS; p++, old = false, i = 0) {
        for (;; old = true, i = 0) {
            const struct tc_index_table *t = old ? &ix->part[p].old : &ix->part[p].now;
            for (; i < t->cap; i++) {
                if (t->slots[i]) {
                    *pos = handle((unsigned)p, old, i);
                    return tc__slot_entry(t->slots[i]);
                }
            }
            if (old) break;
        }
    }
    *pos = handle(TC_INDEX_PARTS, false, 0);
    return NULL;
}

bool tc__index_slot_ok(const struct tc_index *ix, size_t slot, uint64_t h) {
    const struct tc_index_table *t = tc__index_table_of(ix, slot);
    size_t i = slot & (OLD_BIT - 1), home = home_of(h, t->cap);
    uint64_t w = t->slots[i];
    size_t dist = i >= home ? i - home : i + t->cap - home;
    return (slot >> 32) == tc__index_part_of(h) && w >> TAG_SHIFT == tag_of(h) &&
           dist == dist_of(w);
}

size_t tc__index_wanted_cap(const struct tc_index *ix, unsigned p, uint64_t h) {
    const struct tc_index_part *part = &ix->part[p];
    size_t total = (size_t)part->now.count + part->old.count + 1;
    if (total * 8 <= (size_t)part->now.cap * 7 && t_fits(&part->now, h)) return 0;
    size_t want = part->now.cap + part->now.cap / 4;
    size_t least = total * 8 / 7 + 1;
    if (want < least) want = least;
    if (want < MIN_CAP) want = MIN_CAP;
    return want > OLD_BIT - 1 ? 0 : want;
}

/* Move every entry of from into t (none may be lost: the caller checked it has room, but a
 * distance may still pass its limit); false, with t partly filled, when one did not fit. */
static bool t_take_all(struct tc_index_table *t, const struct tc_index_table *from) {
    for (size_t i = 0; from->slots && i < from->cap; i++) {
        if (!from->slots[i]) continue;
        struct tc_entry *e = tc__slot_entry(from->slots[i]);
        uint64_t h = tc__entry_hash(e);
        if (!t_fits(t, h)) return false;
        t_insert(t, h, e);
    }
    return true;
}

int tc__index_grow(struct tc_index *ix, unsigned p, uint64_t *slots, size_t cap,
                   uint64_t **freed) {
    struct tc_index_part *part = &ix->part[p];
    struct tc_index_table fresh = {.slots = slots, .cap = (uint32_t)cap};
    freed[0] = freed[1] = NULL;
    if (!part->old.slots) { /* the common case: start moving the entries over */
        part->old = part->now;
        part->now = fresh;
        part->moved_at = 0;
        ix->cap += cap;
        return TC_OK;
    }
    /* A part still moving must grow again (rare): move both tables now. */
    if (!t_take_all(&fresh, &part->now) || !t_take_all(&fresh, &part->old)) return TC_ERR_NOMEM;
    freed[0] = part->now.slots;
    freed[1] = part->old.slots;
    ix->cap += cap - part->now.cap - part->old.cap;
    part->now = fresh;
    part->old = (struct tc_index_table){0};
    return TC_OK;
}

/* Ask for the entries of the next n live slots of t from position i (with wrap-around) to be
 * read into the cache: moving them needs their keys, which are wherever their tiers are, and
 * the reads then overlap instead of missing one after another. */
static void prefetch_entries(const struct tc_index_table *t, size_t i, size_t n) {
    for (size_t seen = 0; seen < t->cap && n; seen++, i = i + 1 == t->cap ? 0 : i + 1) {
        if (!t->slots[i]) continue;
        const char *e = (const char *)tc__slot_entry(t->slots[i]);
        __builtin_prefetch(e);
        __builtin_prefetch(e + 63); /* a header with its fields and a long key spans two lines */
        n--;
    }
}

uint64_t *tc__index_move(struct tc_index *ix, unsigned p, size_t n) {
    struct tc_index_part *part = &ix->part[p];
    struct tc_index_table *old = &part->old;
    if (old->count) prefetch_entries(old, part->moved_at < old->cap ? part->moved_at : 0, n);
    while (old->count && n) {
        if (part->moved_at >= old->cap) part->moved_at = 0; /* (a cluster wrapped around) */
        uint64_t w = old->slots[part->moved_at];
        if (!w) {
            part->moved_at++;
            continue;
        }
        struct tc_entry *e = tc__slot_entry(w);
        uint64_t h = tc__entry_hash(e);
        if (!t_fits(&part->now, h)) return NULL; /* stays: the part grows again (see grow) */
        t_insert(&part->now, h, e);
        t_remove(old, part->moved_at); /* the next slot may shift here: look again */
        n--;
    }
    if (old->count || !old->slots) return NULL;
    uint64_t *done = old->slots;
    ix->cap -= old->cap;
    *old = (struct tc_index_table){0};
    return done;
}
