/* The cache core's shared structures: entries, index, queues, pins, tiers (tc__ prefix). */
#ifndef TC_CACHE_INTERNAL_H
#define TC_CACHE_INTERNAL_H

#include <stdatomic.h>
#include <string.h>

#include "internal.h"
#include "tiercache/cache.h"

/* ---- entries ----
 * An entry lives whole on its tier: one block of the tier's kind (a slab slot when it is at most
 * TC_SLAB_MAX bytes) holding this header, then the optional fields [u64 expiry if E_TTL]
 * [u64 CAS token if M_CAS][value pointer if E_EXTERNAL][u32 client flags if M_FLAGS], then
 * [key tag][key bytes][value bytes unless E_EXTERNAL]. Values of TC_INLINE_MAX bytes or more
 * are E_EXTERNAL: a second block of the same tier's kind, so that a big value's size class is
 * not inflated by its header. DRAM keeps only the entry's index slot (8 bytes) unless the
 * entry is on tier 0. 12 bytes of header; the optional fields cost only the entries that use
 * them (a CAS token, for one, only once a reader asked for it or a server stored the item). */
struct tc_entry {
    uint32_t qpos; /* position in its queue */
    uint32_t vlen;
    uint16_t klen; /* key bytes including the tag byte */
    uint8_t flags; /* E_* bits, tier in bits 4-6 */
    uint8_t meta;  /* value tag in bits 0-3, read frequency (0-3) in bits 4-5, M_* bits */
    unsigned char tail[];
};

enum {
    E_EXTERNAL = 1, /* the value is a separate block on the entry's tier */
    E_TTL = 2,      /* an expiry time follows the header */
    E_PINNED = 4,   /* the value's block is pinned by a reader: never freed or moved */
    E_SMALL = 8,    /* in its tier's small FIFO (else the tier's main FIFO) */
    E_SLAB = 0x80,  /* the entry's block is a slab slot of its tier (slab.c) */
};
enum {
    M_CAS = 0x40,   /* a CAS token follows the expiry */
    M_FLAGS = 0x80, /* 4 bytes of client flags precede the key */
};
#define E_TIER_SHIFT 4
#define TC_INLINE_MAX 2048 /* values this large get a block of their own */
#define E_FREQ_MAX 3

/* An entry's optional fields as one word: its flags byte | meta byte << 8. */
#define L_TTL E_TTL
#define L_EXTERNAL E_EXTERNAL
#define L_CAS ((unsigned)M_CAS << 8)
#define L_FLAGS ((unsigned)M_FLAGS << 8)
static inline unsigned entry_layout(const struct tc_entry *e) {
    return e->flags | (unsigned)e->meta << 8;
}
static inline size_t layout_offset_cas(unsigned l) { return l & L_TTL ? 8 : 0; }
static inline size_t layout_offset_ext(unsigned l) {
    return layout_offset_cas(l) + (l & L_CAS ? 8 : 0);
}
static inline size_t layout_offset_flags(unsigned l) {
    return layout_offset_ext(l) + (l & L_EXTERNAL ? 8 : 0);
}
/* The header's size: 12 bytes, 8 more for each of expiry, CAS token and value pointer, 4 for
 * client flags, looked up by the four bits (l & 3) | (l >> 12 & 12). */
static inline size_t layout_header_size(unsigned l) {
    static const uint8_t sizes[16] = {12, 20, 20, 28, 20, 28, 28, 36,
                                      16, 24, 24, 32, 24, 32, 32, 40};
    _Static_assert(sizeof(struct tc_entry) == 12, "the table's base");
    _Static_assert(L_EXTERNAL == 1 && L_TTL == 2 && L_CAS == 1u << 14 && L_FLAGS == 1u << 15,
                   "the table's index bits");
    return sizes[(l & 3) | (l >> 12 & 12)];
}

static inline unsigned entry_tier(const struct tc_entry *e) { return (e->flags >> 4) & 7; }
static inline unsigned entry_freq(const struct tc_entry *e) { return (e->meta >> 4) & 3; }
static inline void entry_set_freq(struct tc_entry *e, unsigned f) {
    e->meta = (uint8_t)((e->meta & 0xcf) | (f << 4));
}
static inline unsigned entry_vtag(const struct tc_entry *e) { return e->meta & 15u; }
static inline uint64_t entry_expiry(const struct tc_entry *e) {
    uint64_t t = 0;
    if (e->flags & E_TTL) memcpy(&t, e->tail, 8);
    return t;
}
static inline uint64_t entry_cas(const struct tc_entry *e) {
    uint64_t v = 0;
    if (e->meta & M_CAS) memcpy(&v, e->tail + layout_offset_cas(entry_layout(e)), 8);
    return v;
}
static inline uint32_t entry_client_flags(const struct tc_entry *e) {
    uint32_t v = 0;
    if (e->meta & M_FLAGS) memcpy(&v, e->tail + layout_offset_flags(entry_layout(e)), 4);
    return v;
}
static inline unsigned char *entry_key(const struct tc_entry *e) {
    return (unsigned char *)e + layout_header_size(entry_layout(e));
}
static inline void *entry_external(const struct tc_entry *e) {
    void *p;
    memcpy(&p, e->tail + layout_offset_ext(entry_layout(e)), sizeof p);
    return p;
}
static inline void entry_set_external(struct tc_entry *e, void *p) {
    memcpy(e->tail + layout_offset_ext(entry_layout(e)), &p, sizeof p);
}
static inline unsigned char *entry_value(const struct tc_entry *e) {
    return e->flags & E_EXTERNAL ? entry_external(e) : entry_key(e) + e->klen;
}
/* The block a reader pins: the value's own block, or the entry for an inline value. */
static inline void *entry_value_block(struct tc_entry *e) {
    return e->flags & E_EXTERNAL ? entry_external(e) : (void *)e;
}
/* Bytes of the entry's own block (its slot size is this rounded up). */
static inline size_t entry_block_size(const struct tc_entry *e) {
    return layout_header_size(entry_layout(e)) + e->klen + (e->flags & E_EXTERNAL ? 0 : e->vlen);
}

/* ---- index.c: TC_INDEX_PARTS Robin Hood tables of 8-byte slots ----
 * A slot is 0 (empty) or a 12-bit tag from the key's hash, its distance from its home (6 bits)
 * and the entry's address / 4 (46 bits). Each part grows on its own (by 1/4, into a new table
 * that the part's insertions fill from the old one a few entries at a time), so growing never
 * needs a second copy of the whole index nor a whole table's rebuild in one step, and the load
 * stays between 70% and 88%: 9-11.4 bytes of index per entry. The index's memory is the index
 * tier's (tier 0 unless configured). A slot handle is (part << 32 | old table bit 31 |
 * position); TC_INDEX_NONE when there is none. Removing or inserting an entry may move other
 * slots: a handle is good until the next change of the index. */
#define TC_INDEX_PARTS 64
#define TC_INDEX_NONE SIZE_MAX
#define TC_SLOT_ADDR ((1ull << 46) - 1)
struct tc_index_table {
    uint64_t *slots;
    uint32_t cap, count;
};
struct tc_index_part {
    struct tc_index_table now; /* where new keys go */
    struct tc_index_table old; /* being emptied into now while the part grows (else empty) */
    uint32_t moved_at;         /* the old table's next position to move */
    /* The ghost table of the part's keys (policy.c), sized with it, in the ghost tier: */
    uint16_t *ghost;
    uint32_t ghost_cap, ghost_hand; /* hand: the next slot an eviction clears */
};
struct tc_index {
    struct tc_index_part part[TC_INDEX_PARTS];
    size_t count;  /* live entries over all parts */
    size_t cap;    /* slots over all parts' tables */
    unsigned tier; /* whose kind holds the slot arrays */
};
uint64_t tc__key_hash(unsigned tag, const void *key, size_t klen); /* key without its tag */
uint64_t tc__entry_hash(const struct tc_entry *e);
static inline struct tc_entry *tc__slot_entry(uint64_t word) {
    return (struct tc_entry *)(uintptr_t)((word & TC_SLOT_ADDR) << 2);
}
#define TC_INDEX_PART_SHIFT 58      /* 64 - log2(TC_INDEX_PARTS) */
#define TC_INDEX_OLD_BIT (1u << 31) /* in a slot handle: the slot is in the part's old table */
/* The table a slot handle is in. */
static inline struct tc_index_table *tc__index_table_of(const struct tc_index *ix, size_t slot) {
    struct tc_index_part *part = (struct tc_index_part *)&ix->part[slot >> 32];
    return slot & TC_INDEX_OLD_BIT ? &part->old : &part->now;
}
static inline uint64_t *tc__index_word(const struct tc_index *ix, size_t slot) {
    return &tc__index_table_of(ix, slot)->slots[slot & (TC_INDEX_OLD_BIT - 1)];
}
/* The entry at a slot handle (which must be live). */
static inline struct tc_entry *tc__index_at(const struct tc_index *ix, size_t slot) {
    return tc__slot_entry(*tc__index_word(ix, slot));
}
/* Point a live slot at a moved or rebuilt copy of its entry (same key). */
static inline void tc__index_set_at(struct tc_index *ix, size_t slot, struct tc_entry *e) {
    uint64_t *w = tc__index_word(ix, slot);
    *w = (*w & ~TC_SLOT_ADDR) | (uint64_t)(uintptr_t)e >> 2;
}
/* The next live slot at or after *pos (a slot handle, 0 to begin): its entry, with *pos set
 * to it; NULL at the end. */
struct tc_entry *tc__index_next(const struct tc_index *ix, size_t *pos);
/* Whether a live slot has the part, tag and distance a key of hash h gets (for check). */
bool tc__index_slot_ok(const struct tc_index *ix, size_t slot, uint64_t h);
/* The entry with this key and its slot in *slot; NULL and TC_INDEX_NONE when absent. */
struct tc_entry *tc__index_find(const struct tc_index *ix, uint64_t h, unsigned tag,
                                const void *key, size_t klen, size_t *slot);
/* Start reading the slot where a lookup of hash h begins (its part's new table). */
void tc__index_prefetch(const struct tc_index *ix, uint64_t h);
/* Slot of this exact entry (found through its key, whose hash is h), or TC_INDEX_NONE. */
size_t tc__index_find_entry(const struct tc_index *ix, const struct tc_entry *e);
size_t tc__index_find_hashed(const struct tc_index *ix, const struct tc_entry *e, uint64_t h);
/* Put e (4-byte aligned) in for hash h; the caller made sure it fits (tc__index_wanted_cap
 * said 0). */
size_t tc__index_insert(struct tc_index *ix, uint64_t h, struct tc_entry *e);
void tc__index_remove_at(struct tc_index *ix, size_t slot);
/* The part a key of hash h belongs to, and the capacity that part's new table needs so that
 * the key can be inserted within the load and distance limits (0 if it can be now). */
static inline unsigned tc__index_part_of(uint64_t h) {
    return (unsigned)(h >> TC_INDEX_PART_SHIFT);
}
size_t tc__index_wanted_cap(const struct tc_index *ix, unsigned part, uint64_t h);
/* Give a part a fresh zeroed table of cap slots (allocated by the caller): its entries move
 * there from now on (tc__index_move). When the part was still moving, everything moves at once
 * and freed[0..1] get the arrays to free; TC_ERR_NOMEM (nothing changed) when a distance would
 * pass its limit at that size. */
int tc__index_grow(struct tc_index *ix, unsigned part, uint64_t *slots, size_t cap,
                   uint64_t **freed);
/* Move up to n entries of a growing part to its new table (each read for its hash); returns
 * the old array for the caller to free once it is empty, else NULL. */
uint64_t *tc__index_move(struct tc_index *ix, unsigned part, size_t n);

/* ---- queue.c: FIFO rings of entries in segments, with holes for entries removed from the
 * middle ---- */
struct tc_queue {
    struct tc_entry ***dir;  /* segments by (position >> seg_shift) & (dir_cap - 1) */
    struct tc_entry **spare; /* one free segment kept (charged) */
    uint32_t dir_cap;        /* power of two, or 0 */
    uint32_t lo, nsegs;      /* the first allocated segment's first position; segment count */
    uint32_t head, tail;     /* free-running positions */
    uint32_t gap_lo, gap_hi; /* a squeeze's gap of holes, head <= lo < hi <= tail; lo == hi
                              * when there is none (then both are stale) */
    uint8_t seg_shift;       /* segments hold 2^seg_shift entries */
    bool counts_bytes; /* only the small FIFOs are sized in bytes: the others skip the sums */
    size_t live;
    size_t bytes; /* bytes charged by the live entries, if counts_bytes */
};
static inline struct tc_entry **tc__queue_slot(const struct tc_queue *q, uint32_t pos) {
    return &q->dir[(pos >> q->seg_shift) & (q->dir_cap - 1)][pos & ((1u << q->seg_shift) - 1)];
}
/* An empty queue for a tier of this budget. */
void tc__queue_init(struct tc_queue *q, size_t budget, bool counts_bytes);
/* Room for RESERVE (16) more pushes: 0, or TC_ERR_NOMEM (a segment could not be had). The
 * segments live in tier t's memory (the tier the queue's entries are on). */
int tc__queue_reserve(struct tc_cache *c, unsigned t, struct tc_queue *q);
void tc__queue_push(struct tc_queue *q, struct tc_entry *e);
struct tc_entry *tc__queue_pop(struct tc_cache *c, unsigned t, struct tc_queue *q);
void tc__queue_remove(struct tc_cache *c, struct tc_queue *q, struct tc_entry *e);
void tc__queue_release(struct tc_cache *c, unsigned t, struct tc_queue *q);
/* An empty queue gives its memory back (not between a reserve and its pushes). */
void tc__queue_tidy(struct tc_cache *c, unsigned t, struct tc_queue *q);
/* Bytes the queue's segments and directory take (for check). */
size_t tc__queue_memory(const struct tc_queue *q);

/* ---- slab.c: entry blocks at 4-byte granularity, per tier, in the tier's memory ---- */
#define TC_SLAB_MAX 4096 /* larger entry blocks are jemalloc blocks */
#define TC_SLAB_GRAIN 4  /* slot sizes are multiples of this */
#define TC_SLAB_CLASSES (TC_SLAB_MAX / TC_SLAB_GRAIN)
#define TC_SLAB_ALIGN ((size_t)256 << 10) /* the largest slab size and alignment */
struct tc_slab;
/* A class's slabs with free slots, as an array (a slab knows its index in it, so that its
 * 16-byte header needs no list pointers); room for every slab of the class is kept. */
struct tc_slab_class {
    struct tc_slab **partial; /* [npartial], the latest to gain a free slot last */
    uint32_t npartial, cap;   /* cap: room in partial (at least slabs) */
    uint32_t slabs;           /* slabs of the class in existence */
    uint32_t slab_bytes;      /* the size of the class's slabs, once computed (0 before) */
};
struct tc_slabs {
    /* Per class (TC_SLAB_GRAIN bytes apart), allocated only when slabs are used: */
    struct tc_slab_class *classes;
    uint32_t *class_live; /* entries of the class, in slabs or not */
    size_t entries;       /* entries of slab sizes, in slabs or not */
    size_t count;         /* slabs in existence */
    size_t free_bytes;    /* free slots' bytes, over all slabs */
    size_t
        max_pages;  /* slabs are 4..max_pages pages (1/1024 of the tier, up to 256 KiB; 0: none) */
    size_t align;   /* slabs' alignment: a slot masked with it gives its slab */
    uint32_t sweep; /* consolidation's position in the tier's main ring */
};
/* Set up tier t's slabs (none under 16 MiB of budget); their tables come with the tier's
 * first entry and go with its last. */
void tc__slabs_init(struct tc_cache *c, unsigned t);
void tc__slabs_release(struct tc_cache *c, unsigned t);
/* The slot size a block of size bytes takes, or 0 when it is not slab-sized. */
size_t tc__slab_slot(size_t size);
/* Whether a new block of size bytes on tier t goes to a slab (its class has entries enough). */
bool tc__slab_wanted(const struct tc_cache *c, unsigned t, size_t size);
/* An entry block of size bytes came (sign 1) or went (-1) on tier t, in a slab or not. */
void tc__slab_count(struct tc_cache *c, unsigned t, size_t size, int sign);
/* Bytes allocating a block of size bytes on tier t adds now: 0 when its class has a free
 * slot, else a new slab (or, when not slab-sized, the jemalloc block). */
size_t tc__slab_need(const struct tc_cache *c, unsigned t, size_t size);
/* A slot for size (<= TC_SLAB_MAX) bytes on tier t, a new slab charged if needed; or NULL. */
void *tc__slab_alloc(struct tc_cache *c, unsigned t, size_t size);
/* Free a slot of tier t; an emptied slab is freed. */
void tc__slab_free(struct tc_cache *c, unsigned t, void *p);
/* For consolidation and compaction: p's contents moved to a fuller slab of its class (p
 * freed), or NULL when p's slab is more than quarters/4 used or no fuller slab has room. */
void *tc__slab_move(struct tc_cache *c, unsigned t, void *p, unsigned quarters);
size_t tc__slab_size_of(const struct tc_slabs *s, const void *p); /* slot size of a slot */
size_t tc__slab_live(const struct tc_slabs *s, const void *p);    /* live slots of its slab */
size_t tc__slab_usable(const struct tc_slabs *s, const void *p);  /* charged bytes of its slab */
const void *tc__slab_base(const struct tc_slabs *s, const void *p);

/* ---- pins.c: blocks held by readers, by address ---- */
#define PIN_ZOMBIE 0x80000000u /* in tc_pin.state: the entry let go, the record owns the block */
struct tc_pin {
    void *block;
    struct tc_entry *entry; /* owning entry, or NULL once the entry let go (a zombie) */
    size_t charged;         /* usable bytes still charged to the tier */
    unsigned tier;          /* the tier the block is on (the entry's) */
    bool slab;              /* the block is a slab slot (charged with its slab) */
    _Atomic uint32_t state; /* readers holding the block, | PIN_ZOMBIE */
    struct tc_pin *next;
};
struct tc_pins {
    struct tc_pin **buckets;
    size_t nbuckets, count; /* count: records in the table (held, idle or zombie) */
    size_t sweep_at;        /* sweep idle records when count reaches this */
    struct tc_pin *spares;  /* records out of the table, still charged to tier 0 */
    size_t nspares;
};
/* Pin e's value block (one more reader); *out gets the record, the reader's handle.
 * TC_ERR_NOMEM when no record could be made. */
int tc__pin(struct tc_cache *c, struct tc_entry *e, struct tc_pin **out);
/* Drop one reader of r, without the mutex. True when r was a zombie and this was its last
 * reader: the caller must then take the mutex and call tc__pin_free_zombie. */
bool tc__unpin(struct tc_pin *r);
void tc__pin_free_zombie(struct tc_cache *c, struct tc_pin *r);
/* e (E_PINNED) is going away: true when readers hold its value block, which the record now
 * owns (a zombie); false when the record was idle and is gone (the block goes with e). */
bool tc__pin_orphan(struct tc_cache *c, struct tc_entry *e);
/* Before moving e (E_PINNED): drop its record if no reader holds it. True when e may move. */
bool tc__pin_drop_idle(struct tc_cache *c, struct tc_entry *e);
struct tc_pin *tc__pin_find(const struct tc_pins *p, const void *block);
uint32_t tc__pin_readers(const struct tc_pin *r);
/* Records some reader holds (live or zombie). */
size_t tc__pins_held(const struct tc_cache *c);
void tc__pins_free_spares(struct tc_cache *c);
void tc__pins_release(struct tc_cache *c);

/* ---- the cache ---- */
struct tc_tier {
    tc_kind_t *kind;
    size_t budget, used, value_bytes, items;
    size_t configured; /* the budget asked for; budget is less while the memory source (a full
                        * filesystem) refuses more (tc__tier_refused) */
    uint64_t hits, promotions, demotions, evictions;
    struct tc_queue small; /* new entries placed on this tier (tier 0, or large values) */
    struct tc_queue main;
    size_t small_limit; /* bytes the small FIFO holds before it passes entries on */
    struct tc_slabs slabs;
};

struct tc_cache {
    uint32_t magic;
    bool closed;               /* entries released; calls return TC_ERR_CLOSED */
    bool destroyed;            /* the struct goes with the last pin */
    _Atomic unsigned fork_gen; /* tc__fork_generation when last known usable (forked.c) */
    pthread_mutex_t lock;
    size_t ntiers;
    struct tc_tier tiers[TC_CACHE_MAX_TIERS];
    size_t large_threshold;
    unsigned promote_hits;
    struct tc_index index;
    unsigned ghost_tier; /* whose memory holds the ghost tables (in the index parts) */
    struct tc_pins pins;
    /* Entries that operations in progress work on (nested: set, then a demotion inside its
     * eviction, ...): eviction passes over them. */
    struct tc_entry *keep[TC_CACHE_MAX_TIERS + 2];
    unsigned nkeep;
    size_t key_bytes;
    uint64_t next_expiry; /* no entry expires before this (UINT64_MAX: none known) */
    uint64_t last_cas;    /* the last CAS token handed out */
    uint64_t hits, misses, sets, deletes, evictions, expirations;
};
#define TC_CACHE_MAGIC 0x7c0ca4e5u

struct tc_entry_spec;

/* ---- forked.c ---- */
/* True in a forked child when a tier's memory was not inherited: the cache is off limits. */
bool tc__cache_forked(tc_cache_t *c);

/* ---- cache.c ---- */
/* Lock an open cache: TC_OK, or TC_ERR_INVALID / TC_ERR_CLOSED without the lock. */
int tc__cache_lock(tc_cache_t *c);
void tc__cache_unlock(tc_cache_t *c);
/* Absolute expiry for a ttl in seconds (0 = never; huge = UINT64_MAX). */
uint64_t tc__expiry_for(double ttl);
bool tc__bad_key(unsigned ktag, const void *key, size_t klen);
/* The live entry for a key of hash h, or NULL (an expired one is dropped on the way). */
struct tc_entry *tc__lookup_hashed(tc_cache_t *c, uint64_t h, unsigned ktag, const void *key,
                                   size_t klen);

/* ---- store.c ---- */
/* The first tier that can hold an entry of spec s, or -1: one entry takes at most half of
 * tier 0, or a whole lower tier; values of large_threshold bytes or more start on the last
 * tier. */
int tc__cache_place(const tc_cache_t *c, const struct tc_entry_spec *s);
/* Bring every tier back within budget after a step that may have grown a queue, and let
 * emptied queues give their memory back; keep is spared. */
void tc__cache_trim(tc_cache_t *c, struct tc_entry *keep);
/* Remember the earliest expiry, so that counting knows when a sweep is due. */
void tc__note_expiry(tc_cache_t *c, uint64_t expiry);
/* A new CAS token (never 0). */
uint64_t tc__next_cas(tc_cache_t *c);
/* Replace e by an entry of spec s (same key) on e's tier, at e's queue position with its
 * frequency; NULL when out of memory (e untouched). */
struct tc_entry *tc__entry_rebuild(tc_cache_t *c, struct tc_entry *e,
                                   const struct tc_entry_spec *s);

/* ---- entry.c: memory. Every block the cache allocates is charged to a tier ---- */
/* tc_malloc from tier t's kind; NULL when out of memory. */
void *tc__cache_alloc(struct tc_cache *c, unsigned t, size_t size);
/* The same, with every usable byte zero (fresh pages are not written: their first touch is
 * spread over later operations instead of paid at once). */
void *tc__cache_alloc_zeroed(struct tc_cache *c, unsigned t, size_t size);
void tc__cache_free(struct tc_cache *c, unsigned t, void *p);
/* Bytes the block of this request will be charged (its size class). */
size_t tc__cache_charge(size_t size);
uint64_t tc__now_ns(void);

/* ---- policy.c: eviction, demotion, promotion, the ghost table ---- */
/* Evict or demote until tier t can take an entry block of block bytes plus extra bytes
 * (re-evaluated after each step: a freed slot of the block's class is enough). Bounded work
 * besides the evictions themselves. TC_ERR_TOOLARGE when the tier could never hold it,
 * TC_ERR_NOMEM when nothing is left to evict. */
int tc__make_room_entry(struct tc_cache *c, unsigned t, size_t block, size_t extra);
/* Evict or demote until tier t has need more bytes free; kept entries are never chosen.
 * TC_ERR_NOMEM when nothing is left to evict. */
int tc__make_room(struct tc_cache *c, unsigned t, size_t need);
/* A few bounded steps towards tier t's headroom (policy.c, AHEAD_*); kept entries are spared. */
void tc__make_room_ahead(struct tc_cache *c, unsigned t);
/* Remove e for good: index (at slot, or looked up when TC_INDEX_NONE), its queue when queued,
 * counts, memory. */
void tc__drop(struct tc_cache *c, struct tc_entry *e, size_t slot, bool queued);
/* Drop e as expired (counted) when its time ran out; true if it was dropped. */
bool tc__drop_if_expired(struct tc_cache *c, struct tc_entry *e, size_t slot, bool queued);
/* A lower tier's kind refused an allocation its budget allowed (a full filesystem): its budget
 * shrinks to what it holds now, so that making room evicts instead. True when it shrank (the
 * caller retries once); never for tier 0. Making room gives the configured budget back when
 * nothing is left to evict, and so does a compaction pass. */
bool tc__tier_refused(struct tc_cache *c, unsigned t);
/* Evict one entry from the last tier (the policy's choice): false when there is none. */
bool tc__evict_one(struct tc_cache *c);
/* The entry eviction would consider first: the oldest of the last non-empty tier's FIFO that
 * it would step (CLOCK's second chances aside); NULL when the cache is empty. */
struct tc_entry *tc__next_victim(struct tc_cache *c);
/* Move e to tier t (promotion or demotion), into t's main FIFO; returns the new entry, or NULL
 * when it could not move (e is then untouched). */
struct tc_entry *tc__move_to_tier(struct tc_cache *c, struct tc_entry *e, unsigned t, bool queued);
/* Protect e from eviction until the matching tc__unkeep (calls nest). */
void tc__keep(struct tc_cache *c, struct tc_entry *e);
void tc__unkeep(struct tc_cache *c);
/* Start reading the ghost slot of hash h (a lookup of the key is under way). */
void tc__ghost_prefetch(struct tc_cache *c, uint64_t h);
/* A key about to be inserted: true (and forgotten) if it was evicted recently. */
bool tc__ghost_take(struct tc_cache *c, uint64_t h);
/* Fill a new ghost table of cap zeroed slots for an index part from its current one. */
void tc__ghost_move(struct tc_index_part *part, uint16_t *ghost, size_t cap);
/* The queue an entry belongs in. */
static inline struct tc_queue *tc__entry_queue(struct tc_cache *c, const struct tc_entry *e) {
    struct tc_tier *tier = &c->tiers[entry_tier(e)];
    return e->flags & E_SMALL ? &tier->small : &tier->main;
}
/* Bytes an entry charges to its tier (its block or slot, and its value block). */
size_t tc__entry_charge(const struct tc_entry *e);

/* ---- entry.c: building, freeing and rebuilding entries ---- */
/* What an entry holds: the value is part1 then part2 (append and prepend join two). */
struct tc_entry_spec {
    unsigned ktag;
    const void *key;
    size_t klen; /* without the tag */
    const void *part1, *part2;
    size_t len1, len2;
    unsigned vtag;
    uint64_t expiry; /* 0: none */
    uint64_t cas;    /* 0: no token */
    uint32_t flags;  /* client flags; 0: none */
};
/* The spec of an existing entry (its key, value, tag, expiry, token and flags). */
struct tc_entry_spec tc__entry_spec_of(const struct tc_entry *e);
/* Allocate and fill an entry on tier t, frequency 0, in no queue. NULL when out of memory. */
struct tc_entry *tc__entry_new(struct tc_cache *c, unsigned t, const struct tc_entry_spec *s);
/* Rewrite e in place with s (same key, tier and queue place, frequency kept) when the new
 * contents take the same slot or size class, e's value is inline and unpinned and s reads
 * nothing in e's block; false (e untouched) otherwise. Counts are updated. */
bool tc__entry_rewrite(struct tc_cache *c, struct tc_entry *e, const struct tc_entry_spec *s);
/* Add (sign 1) or remove (sign -1) e from the item, key and value byte counts. */
void tc__account(struct tc_cache *c, const struct tc_entry *e, int sign);
/* Free e's blocks (a pinned value block becomes a zombie instead). Not in index or queue. */
void tc__entry_free(struct tc_cache *c, struct tc_entry *e);
/* Bytes of the entry block such a spec needs, and of its separate value block (0 when the
 * value is inline). */
size_t tc__entry_block(const struct tc_entry_spec *s);
size_t tc__entry_value_block(const struct tc_entry_spec *s);
/* Bytes a new entry of this spec adds to tier t now: its slot or block, and its value block. */
size_t tc__entry_need(const struct tc_cache *c, unsigned t, const struct tc_entry_spec *s);

#endif
