/*
 * The cache index: TC_INDEX_PARTS Robin Hood hash tables of 8-byte slots. A slot is 0 (empty)
 * or a 12-bit tag from the key's hash, the slot's distance from its home (6 bits) and the
 * entry's address (4-byte aligned, 46 bits). The top 6 bits of the hash choose the part, the
 * next ones the home (the high half of hash * capacity, so a part may have any size), the low
 * 12 bits the tag: a lookup reads the entry (on whatever tier it lives) only on a tag match,
 * 1 in 4096 for another key, and stops at the first slot closer to its home than the key
 * would be.
 *
 * Deletion shifts the following slots back (their distances say where they may go), so there
 * are no tombstones and no rebuilds under churn: an entry is read from its tier only when its
 * part grows. Each part grows alone, by 1/4 once it is 7/8 full (or a distance would pass
 * 63): the load stays within 70-88%, 9.1-11.4 bytes of DRAM per entry, and growing needs a
 * second copy of only one part, 1/64 of the index (each entry is reinserted 4 times on
 * average while the index grows to its size).
 */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "cache_internal.h"

#define PART_SHIFT 58 /* 64 - log2(TC_INDEX_PARTS) */
#define TAG_SHIFT 52
#define DIST_SHIFT 46
#define DIST_ONE (1ull << DIST_SHIFT)
#define DIST_MAX 63
#define MIN_CAP 8

_Static_assert(TC_INDEX_PARTS == 1u << (64 - PART_SHIFT), "part bits");
_Static_assert(sizeof(void *) == 8, "entry addresses in 64-bit slots");

uint64_t tc__key_hash(unsigned tag, const void *key, size_t klen) {
    return XXH3_64bits_withSeed(key, klen, tag);
}

uint64_t tc__entry_hash(const struct tc_entry *e) {
    const unsigned char *k = entry_key(e);
    return tc__key_hash(k[0], k + 1, e->klen - 1u);
}

unsigned tc__index_part_of(uint64_t h) { return (unsigned)(h >> PART_SHIFT); }

static inline uint64_t tag_of(uint64_t h) { return h & 0xfff; }
static inline unsigned dist_of(uint64_t w) { return (unsigned)(w >> DIST_SHIFT) & DIST_MAX; }

static inline size_t home_of(uint64_t h, size_t cap) {
    return (size_t)(((unsigned __int128)(h << (64 - PART_SHIFT)) * cap) >> 64);
}

static inline bool key_equal(const struct tc_entry *e, unsigned tag, const void *key,
                             size_t klen) {
    const unsigned char *k = entry_key(e);
    return e->klen == klen + 1 && k[0] == tag && memcmp(k + 1, key, klen) == 0;
}

static inline size_t handle(unsigned part, size_t i) { return (size_t)part << 32 | i; }

size_t tc__index_find(const struct tc_index *ix, uint64_t h, unsigned ktag, const void *key,
                      size_t klen) {
    unsigned p = tc__index_part_of(h);
    const struct tc_index_part *part = &ix->part[p];
    if (!part->count) return TC_INDEX_NONE;
    uint64_t tag = tag_of(h);
    size_t i = home_of(h, part->cap);
    for (unsigned d = 0; d <= DIST_MAX; d++) {
        uint64_t w = part->slots[i];
        if (!w || dist_of(w) < d) return TC_INDEX_NONE;
        if (w >> TAG_SHIFT == tag && key_equal(tc__slot_entry(w), ktag, key, klen))
            return handle(p, i);
        if (++i == part->cap) i = 0;
    }
    return TC_INDEX_NONE;
}

size_t tc__index_find_hashed(const struct tc_index *ix, const struct tc_entry *e, uint64_t h) {
    const unsigned char *key = entry_key(e);
    size_t slot = tc__index_find(ix, h, key[0], key + 1, e->klen - 1u);
    return slot != TC_INDEX_NONE && tc__index_at(ix, slot) == e ? slot : TC_INDEX_NONE;
}

size_t tc__index_find_entry(const struct tc_index *ix, const struct tc_entry *e) {
    return tc__index_find_hashed(ix, e, tc__entry_hash(e));
}

/* Whether an insertion of hash h keeps every distance within DIST_MAX (a dry run of the
 * Robin Hood displacements). */
static bool fits(const struct tc_index_part *part, uint64_t h) {
    if (part->count + 1u > part->cap) return false;
    size_t i = home_of(h, part->cap);
    unsigned carried = 0;
    for (;;) {
        uint64_t w = part->slots[i];
        if (!w) return true;
        if (dist_of(w) < carried) carried = dist_of(w); /* the carried slot changes hands */
        if (++carried > DIST_MAX) return false;
        if (++i == part->cap) i = 0;
    }
}

/* Robin Hood insertion (the caller checked fits): returns the position e landed at. */
static size_t part_insert(struct tc_index_part *part, uint64_t h, struct tc_entry *e) {
    size_t i = home_of(h, part->cap), at = SIZE_MAX;
    uint64_t cur = tag_of(h) << TAG_SHIFT | (uint64_t)(uintptr_t)e >> 2;
    for (;;) {
        uint64_t w = part->slots[i];
        if (!w || dist_of(w) < dist_of(cur)) {
            part->slots[i] = cur;
            if (at == SIZE_MAX) at = i;
            if (!w) break;
            cur = w;
        }
        cur += DIST_ONE;
        if (++i == part->cap) i = 0;
    }
    part->count++;
    return at;
}

size_t tc__index_insert(struct tc_index *ix, uint64_t h, struct tc_entry *e) {
    unsigned p = tc__index_part_of(h);
    ix->count++;
    return handle(p, part_insert(&ix->part[p], h, e));
}

void tc__index_remove_at(struct tc_index *ix, size_t slot) {
    struct tc_index_part *part = &ix->part[slot >> 32];
    size_t i = (uint32_t)slot;
    for (;;) {
        size_t j = i + 1 == part->cap ? 0 : i + 1;
        uint64_t w = part->slots[j];
        if (!w || !dist_of(w)) break;
        part->slots[i] = w - DIST_ONE;
        i = j;
    }
    part->slots[i] = 0;
    part->count--;
    ix->count--;
}

struct tc_entry *tc__index_next(const struct tc_index *ix, size_t *pos) {
    for (size_t p = *pos >> 32, i = (uint32_t)*pos; p < TC_INDEX_PARTS; p++, i = 0) {
        const struct tc_index_part *part = &ix->part[p];
        for (; i < part->cap; i++) {
            if (part->slots[i]) {
                *pos = handle((unsigned)p, i);
                return tc__slot_entry(part->slots[i]);
            }
        }
    }
    *pos = handle(TC_INDEX_PARTS, 0);
    return NULL;
}

bool tc__index_slot_ok(const struct tc_index *ix, size_t slot, uint64_t h) {
    const struct tc_index_part *part = &ix->part[slot >> 32];
    uint64_t w = part->slots[(uint32_t)slot];
    size_t home = home_of(h, part->cap), i = (uint32_t)slot;
    size_t dist = i >= home ? i - home : i + part->cap - home;
    return (slot >> 32) == tc__index_part_of(h) && w >> TAG_SHIFT == tag_of(h) &&
           dist == dist_of(w);
}

size_t tc__index_wanted_cap(const struct tc_index *ix, unsigned p, uint64_t h) {
    const struct tc_index_part *part = &ix->part[p];
    if (((size_t)part->count + 1) * 8 <= (size_t)part->cap * 7 && fits(part, h)) return 0;
    size_t want = part->cap + part->cap / 4;
    size_t least = ((size_t)part->count + 1) * 8 / 7 + 1;
    if (want < least) want = least;
    if (want < MIN_CAP) want = MIN_CAP;
    return want > UINT32_MAX / 2 ? 0 : want;
}

uint64_t *tc__index_rebuild(struct tc_index *ix, unsigned p, uint64_t *slots, size_t new_cap) {
    struct tc_index_part *part = &ix->part[p];
    struct tc_index_part fresh = *part;
    fresh.slots = slots;
    fresh.cap = (uint32_t)new_cap;
    fresh.count = 0;
    for (size_t i = 0; i < part->cap; i++) {
        if (!part->slots[i]) continue;
        struct tc_entry *e = tc__slot_entry(part->slots[i]);
        uint64_t h = tc__entry_hash(e);
        if (!fits(&fresh, h)) return NULL; /* (never seen at 70% load: the caller tries larger) */
        part_insert(&fresh, h, e);
    }
    uint64_t *old = part->slots;
    ix->cap += new_cap - part->cap;
    *part = fresh;
    return old;
}
