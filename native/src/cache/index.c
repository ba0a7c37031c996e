/*
 * The cache index: TC_INDEX_PARTS open-addressing tables of 8-byte slots (a 16-bit tag over a
 * 48-bit entry address), linear probing from a cache-line-aligned home. The top 6 bits of a
 * key's hash choose the part, the next bits the home line (the high half of hash * lines, so a
 * part may have any number of lines), the low 16 bits the tag: a lookup reads the entry (on
 * whatever tier it lives) only on a tag match, 1 in 65536 for another key.
 *
 * Each part grows alone, by 1/8 once live entries plus tombstones pass 13/16 of it: the load
 * stays within 72-81% (9.9-11.1 bytes of DRAM per entry), and growing needs a second copy of
 * only one part, 1/64 of the index. Deletion leaves a tombstone unless the next slot is empty.
 */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <stdlib.h>

#include "cache_internal.h"

#define SLOT_EMPTY 0
#define SLOT_DELETED 1
#define LINE 8 /* slots per cache line */
#define MIN_CAP LINE
#define PART_SHIFT 58 /* 64 - log2(TC_INDEX_PARTS) */
#define ADDR_MASK 0xffffffffffffull

_Static_assert(TC_INDEX_PARTS == 1u << (64 - PART_SHIFT), "part bits");
_Static_assert(sizeof(void *) == 8, "48-bit entry addresses in 64-bit slots");

uint64_t tc__key_hash(unsigned tag, const void *key, size_t klen) {
    return XXH3_64bits_withSeed(key, klen, tag);
}

uint64_t tc__entry_hash(const struct tc_entry *e) {
    const unsigned char *k = entry_key(e);
    return tc__key_hash(k[0], k + 1, e->klen - 1u);
}

unsigned tc__index_part_of(uint64_t h) { return (unsigned)(h >> PART_SHIFT); }

static inline uint64_t tag_of(uint64_t h) { return (h & 0xffff) << 48; }

static inline size_t home_of(uint64_t h, size_t cap) {
    return (size_t)(((unsigned __int128)(h << (64 - PART_SHIFT)) * (cap / LINE)) >> 64) * LINE;
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
    if (!part->cap) return TC_INDEX_NONE;
    uint64_t tag = tag_of(h);
    size_t i = home_of(h, part->cap);
    for (size_t n = 0; n < part->cap; n++) {
        uint64_t w = part->slots[i];
        if (w == SLOT_EMPTY) return TC_INDEX_NONE;
        if ((w & ~ADDR_MASK) == tag && w != SLOT_DELETED &&
            key_equal(tc__slot_entry(w), ktag, key, klen))
            return handle(p, i);
        if (++i == part->cap) i = 0;
    }
    return TC_INDEX_NONE;
}

size_t tc__index_find_entry(const struct tc_index *ix, const struct tc_entry *e) {
    const unsigned char *key = entry_key(e);
    size_t slot = tc__index_find(ix, tc__entry_hash(e), key[0], key + 1, e->klen - 1u);
    return slot != TC_INDEX_NONE && tc__index_at(ix, slot) == e ? slot : TC_INDEX_NONE;
}

static size_t part_insert(struct tc_index_part *part, uint64_t h, struct tc_entry *e) {
    size_t i = home_of(h, part->cap);
    while (part->slots[i] > SLOT_DELETED)
        if (++i == part->cap) i = 0;
    if (part->slots[i] == SLOT_DELETED) part->deleted--;
    part->slots[i] = tag_of(h) | (uint64_t)(uintptr_t)e;
    part->count++;
    return i;
}

size_t tc__index_insert(struct tc_index *ix, uint64_t h, struct tc_entry *e) {
    unsigned p = tc__index_part_of(h);
    ix->count++;
    return handle(p, part_insert(&ix->part[p], h, e));
}

void tc__index_remove_at(struct tc_index *ix, size_t slot) {
    struct tc_index_part *part = &ix->part[slot >> 32];
    size_t i = (uint32_t)slot, next = i + 1 == part->cap ? 0 : i + 1;
    /* A slot followed by an empty one ends no probe chain: it can become empty again. */
    if (part->slots[next] == SLOT_EMPTY) {
        part->slots[i] = SLOT_EMPTY;
    } else {
        part->slots[i] = SLOT_DELETED;
        part->deleted++;
    }
    part->count--;
    ix->count--;
}

struct tc_entry *tc__index_next(const struct tc_index *ix, size_t *pos) {
    for (size_t p = *pos >> 32, i = (uint32_t)*pos; p < TC_INDEX_PARTS; p++, i = 0) {
        const struct tc_index_part *part = &ix->part[p];
        for (; i < part->cap; i++) {
            if (part->slots[i] > SLOT_DELETED) {
                *pos = handle((unsigned)p, i);
                return tc__slot_entry(part->slots[i]);
            }
        }
    }
    *pos = handle(TC_INDEX_PARTS, 0);
    return NULL;
}

bool tc__index_tag_ok(const struct tc_index *ix, size_t slot, uint64_t h) {
    return (slot >> 32) == tc__index_part_of(h) &&
           (*tc__index_word(ix, slot) & ~ADDR_MASK) == tag_of(h);
}

size_t tc__index_wanted_cap(const struct tc_index *ix, unsigned p) {
    const struct tc_index_part *part = &ix->part[p];
    size_t used = (size_t)part->count + part->deleted + 1;
    if (part->cap && used * 16 <= (size_t)part->cap * 13) return 0;
    /* Mostly tombstones: rebuilding at the same size is enough. */
    if (part->cap && ((size_t)part->count + 1) * 16 <= (size_t)part->cap * 11) return part->cap;
    size_t want = part->cap + part->cap / 8;
    size_t least = ((size_t)part->count + 1) * 16 / 12 + 1;
    if (want < least) want = least;
    if (want < MIN_CAP) want = MIN_CAP;
    want = (want + LINE - 1) / LINE * LINE;
    return want > UINT32_MAX / 2 ? 0 : want;
}

bool tc__index_rehash(struct tc_index *ix, unsigned p) {
    struct tc_index_part *part = &ix->part[p];
    uint64_t *live = malloc((part->count ? part->count : 1) * sizeof *live);
    if (!live) return false;
    size_t n = 0;
    for (size_t i = 0; i < part->cap; i++)
        if (part->slots[i] > SLOT_DELETED) live[n++] = part->slots[i];
    memset(part->slots, 0, part->cap * sizeof *part->slots);
    part->count = part->deleted = 0;
    for (size_t i = 0; i < n; i++) {
        struct tc_entry *e = tc__slot_entry(live[i]);
        part_insert(part, tc__entry_hash(e), e);
    }
    free(live);
    return true;
}

uint64_t *tc__index_rebuild(struct tc_index *ix, unsigned p, uint64_t *slots, size_t new_cap) {
    struct tc_index_part *part = &ix->part[p];
    struct tc_index_part fresh = *part;
    fresh.slots = slots;
    fresh.cap = (uint32_t)new_cap;
    fresh.count = fresh.deleted = 0;
    for (size_t i = 0; i < part->cap; i++) {
        if (part->slots[i] <= SLOT_DELETED) continue;
        struct tc_entry *e = tc__slot_entry(part->slots[i]);
        part_insert(&fresh, tc__entry_hash(e), e);
    }
    uint64_t *old = part->slots;
    ix->cap += new_cap - part->cap;
    *part = fresh;
    return old;
}
