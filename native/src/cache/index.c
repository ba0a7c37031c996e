/*
 * The cache index: open addressing with linear probing over any table size (the home slot is
 * the high half of hash * capacity, so tables grow by 1.5x, not 2x). A parallel byte array
 * holds a 254-value tag per slot so that most probes never touch an entry. Deletion leaves a
 * tombstone; the table is rebuilt when live entries plus tombstones pass 7/8 of it.
 * About 9 bytes per slot at 58-88% load: 10-16 bytes per entry.
 */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <stdlib.h>

#include "cache_internal.h"

#define TAG_EMPTY 0
#define TAG_DELETED 1
#define MIN_CAP 64

uint64_t tc__key_hash(unsigned tag, const void *key, size_t klen) {
    return XXH3_64bits_withSeed(key, klen, tag);
}

uint64_t tc__entry_hash(const struct tc_entry *e) {
    const unsigned char *k = entry_key(e);
    return tc__key_hash(k[0], k + 1, e->klen - 1u);
}

static inline uint8_t tag_of(uint64_t h) {
    uint8_t t = (uint8_t)h;
    return t < 2 ? (uint8_t)(t + 2) : t;
}

uint8_t tc__index_tag(uint64_t h) { return tag_of(h); }

static inline size_t home_of(uint64_t h, size_t cap) {
    return (size_t)(((unsigned __int128)h * cap) >> 64);
}

static inline bool key_equal(const struct tc_entry *e, unsigned tag, const void *key,
                             size_t klen) {
    const unsigned char *k = entry_key(e);
    return e->klen == klen + 1 && k[0] == tag && memcmp(k + 1, key, klen) == 0;
}

size_t tc__index_find(const struct tc_index *ix, uint64_t h, unsigned ktag, const void *key,
                      size_t klen) {
    if (!ix->cap) return TC_INDEX_NONE;
    uint8_t tag = tag_of(h);
    size_t i = home_of(h, ix->cap);
    for (size_t n = 0; n < ix->cap; n++) {
        uint8_t t = ix->tags[i];
        if (t == TAG_EMPTY) return TC_INDEX_NONE;
        if (t == tag && key_equal(ix->slots[i], ktag, key, klen)) return i;
        if (++i == ix->cap) i = 0;
    }
    return TC_INDEX_NONE;
}

size_t tc__index_find_entry(const struct tc_index *ix, const struct tc_entry *e) {
    const unsigned char *key = entry_key(e);
    size_t slot = tc__index_find(ix, tc__entry_hash(e), key[0], key + 1, e->klen - 1u);
    return slot != TC_INDEX_NONE && ix->slots[slot] == e ? slot : TC_INDEX_NONE;
}

size_t tc__index_insert(struct tc_index *ix, uint64_t h, struct tc_entry *e) {
    size_t i = home_of(h, ix->cap);
    while (ix->tags[i] > TAG_DELETED)
        if (++i == ix->cap) i = 0;
    if (ix->tags[i] == TAG_DELETED) ix->deleted--;
    ix->tags[i] = tag_of(h);
    ix->slots[i] = e;
    ix->count++;
    return i;
}

void tc__index_remove_at(struct tc_index *ix, size_t slot) {
    size_t next = slot + 1 == ix->cap ? 0 : slot + 1;
    /* A slot followed by an empty one ends no probe chain: it can become empty again. */
    if (ix->tags[next] == TAG_EMPTY) {
        ix->tags[slot] = TAG_EMPTY;
    } else {
        ix->tags[slot] = TAG_DELETED;
        ix->deleted++;
    }
    ix->slots[slot] = NULL;
    ix->count--;
}

size_t tc__index_wanted_cap(const struct tc_index *ix) {
    if (ix->cap && (ix->count + ix->deleted + 1) * 8 <= ix->cap * 7) return 0;
    size_t want = (ix->count + 1) * 3 / 2 + (ix->count + 1) / 8;
    if (want < MIN_CAP) want = MIN_CAP;
    /* Mostly tombstones: rebuilding at the same size is enough. */
    if (ix->cap && want <= ix->cap && (ix->count + 1) * 8 <= ix->cap * 5) return ix->cap;
    return want > ix->cap ? want : ix->cap + ix->cap / 2;
}

bool tc__index_rehash(struct tc_index *ix) {
    struct tc_entry **live = malloc((ix->count ? ix->count : 1) * sizeof *live);
    if (!live) return false;
    size_t n = 0;
    for (size_t i = 0; i < ix->cap; i++)
        if (ix->tags[i] > TAG_DELETED) live[n++] = ix->slots[i];
    memset(ix->tags, TAG_EMPTY, ix->cap);
    memset(ix->slots, 0, ix->cap * sizeof *ix->slots);
    ix->count = ix->deleted = 0;
    for (size_t i = 0; i < n; i++) tc__index_insert(ix, tc__entry_hash(live[i]), live[i]);
    free(live);
    return true;
}

void tc__index_rebuild(struct tc_index *ix, uint8_t *tags, struct tc_entry **slots,
                       size_t new_cap) {
    struct tc_index fresh = {.tags = tags, .slots = slots, .cap = new_cap};
    memset(tags, TAG_EMPTY, new_cap);
    for (size_t i = 0; i < ix->cap; i++) {
        if (ix->tags[i] <= TAG_DELETED) continue;
        struct tc_entry *e = ix->slots[i];
        tc__index_insert(&fresh, tc__entry_hash(e), e);
    }
    *ix = fresh;
}
