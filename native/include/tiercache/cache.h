/*
 * tiercache cache core: a tiered key-value cache over memory kinds.
 *
 * A cache has 1 to TC_CACHE_MAX_TIERS tiers, fastest first; tier 0 is the DRAM tier. An entry
 * lives whole on one tier: header, key, expiry and value in a block of that tier's kind (two
 * blocks for values of 2 KiB or more), read in place. Tier 0 also holds the index (8-byte
 * slots at 70-88% load: 9-11.4 bytes per entry, whatever tier the entry is on) unless
 * index_tier puts it elsewhere, tier 0's FIFO rings and the pin records; a lower tier holds
 * its own FIFO rings (8 bytes per entry) and the last tier the ghost table (2 bytes per index
 * slot). Values at or above large_threshold go straight to the last tier. Every budget is the
 * real usable size of the blocks charged to the tier (jemalloc size classes included; in a
 * tier of 16 MiB or more, small entries are slots in slabs charged whole).
 *
 * Policy (S3-FIFO over the tiers): new keys enter tier 0's small FIFO (small_percent of the
 * tier; large values the last tier's); entries read there move to the tier's main FIFO, the
 * rest leave the tier into the next one's small FIFO, or the cache from the last. Main FIFOs
 * reinsert entries that were read since their last pass (CLOCK) and pass the others down to
 * the next tier's main FIFO. Entries leaving the last tier are freed with the NULL kind and
 * leave a fingerprint in a ghost table; a new key found there enters main directly. An entry
 * read promote_hits times on a lower tier is promoted back to tier 0 if it is smaller than
 * large_threshold.
 *
 * Keys are (tag, bytes) pairs: the tag (0-255) is part of the key. Values carry a 4-bit tag
 * for the caller. Every function is thread-safe (one mutex per cache) and returns TC_OK, a
 * positive count where stated, or a negative TC_ERR_* code.
 *
 * Fork: a child inherits a private copy of a cache whose tiers are all inherited (DRAM). A
 * cache with a file-backed tier (not inherited, see tc_kind_create_file) is off limits in the
 * child: every call returns TC_ERR_FORKED and touches nothing. The parent is never affected.
 */
#ifndef TIERCACHE_CACHE_H
#define TIERCACHE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tiercache/tiercache.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TC_CACHE_MAX_TIERS 8
#define TC_CACHE_MAX_KEY 65534u        /* key bytes, excluding the tag */
#define TC_CACHE_MAX_VALUE 0xffffffffu /* value bytes */
#define TC_CACHE_VALUE_TAGS 16         /* value tags are 0..15 */

typedef struct tc_cache tc_cache_t;

typedef struct tc_cache_tier_config {
    tc_kind_t *kind; /* where this tier's values live; not owned by the cache */
    size_t budget;   /* bytes; for tier 0 this includes all metadata */
} tc_cache_tier_config_t;

typedef struct tc_cache_config {
    size_t ntiers;
    tc_cache_tier_config_t tiers[TC_CACHE_MAX_TIERS];
    size_t large_threshold; /* values of this size or more skip tier 0; 0 = never */
    unsigned promote_hits;  /* reads on a lower tier before promotion; 0 = never */
    unsigned small_percent; /* each tier's small FIFO share, 1..50 (default 10 when 0) */
    unsigned index_tier;    /* the tier whose memory holds the index (default 0: DRAM) */
} tc_cache_config_t;

/* A value returned by tc_cache_get: copied into the caller's buffer, or pinned in place. */
typedef struct tc_cache_value {
    const void *data; /* the caller's buffer, or the pinned value */
    size_t len;
    unsigned tag;
    void *pin;      /* non-NULL when pinned: pass to tc_cache_unpin exactly once */
    uint64_t cas;   /* the item's CAS token (never 0); 0 unless TC_GET_CAS was asked for or
                       * the item already had one */
    uint32_t flags; /* the client flags stored with the item (memcached's), 0 if none */
    double ttl;     /* seconds until the item expires; 0 when it never does */
} tc_cache_value_t;

/* Options of tc_cache_get_ex (or-ed). */
#define TC_GET_PEEK 1u  /* no hit or miss counted, no read recorded: eviction is unaffected */
#define TC_GET_TOUCH 2u /* give the item the new ttl (memcached's gat) */
#define TC_GET_CAS 4u   /* fill out->cas, giving the item a token if it had none */

/* How tc_cache_store stores. */
typedef enum tc_cache_mode {
    TC_STORE_SET,     /* always */
    TC_STORE_ADD,     /* only when the key is absent (or expired) */
    TC_STORE_REPLACE, /* only when the key is present */
    TC_STORE_APPEND,  /* the bytes after the present value (its tag, flags and ttl kept) */
    TC_STORE_PREPEND, /* the bytes before the present value (likewise) */
    TC_STORE_CAS,     /* only when the present item's CAS token is item->cas */
} tc_cache_mode_t;

/* Results of tc_cache_store and tc_cache_delete_cas. */
#define TC_CACHE_NOT_STORED 0 /* add: present; replace, append, prepend: absent */
#define TC_CACHE_STORED 1
#define TC_CACHE_EXISTS 2    /* cas: the item changed since its token was read */
#define TC_CACHE_NOT_FOUND 3 /* cas: no such item (or it expired) */

typedef struct tc_cache_item {
    unsigned ktag;
    const void *key;
    size_t klen;
    const void *value;
    size_t vlen;
    unsigned vtag;  /* 0..15; append and prepend need the present one (TC_ERR_INVALID) */
    uint32_t flags; /* client flags; append and prepend keep the present ones */
    double ttl;     /* seconds, 0 = never expires; append and prepend keep the present one */
    uint64_t cas;   /* TC_STORE_CAS: the token the item must still have */
    bool with_cas;  /* give the stored item a CAS token (a server stores every item so) */
} tc_cache_item_t;

/* An increment or decrement of a value that is a decimal number in ASCII. */
typedef struct tc_cache_incr {
    uint64_t delta;
    bool decrement;
    bool is_signed;   /* false: memcached's rule (unsigned 64-bit digits, an increment wraps,
                       * a decrement stops at 0); true: a signed 64-bit number, and a result
                       * out of that range is TC_ERR_RANGE */
    bool create;      /* when the key is absent: store initial (not changed by delta) */
    uint64_t initial; /* the number to create (as int64_t when is_signed) */
    unsigned vtag;    /* the value tag of a created item; when is_signed, the tag the present
                       * value must have (else TC_ERR_NOTNUMBER) */
    double ttl;       /* of a created item */
    bool with_cas;    /* give the item a CAS token */
} tc_cache_incr_t;

typedef struct tc_cache_tier_stats {
    size_t budget;
    size_t used;        /* usable bytes charged: entries, rings, and the index, ghost table and
                         * pin records on the tiers that hold them */
    size_t value_bytes; /* sum of the lengths of the values on this tier */
    size_t items;
    size_t dram_bytes; /* tier-0 bytes this tier's items cost: for a lower tier, their share of
                         * a tier-0 index; for tier 0, the rest of tier 0's use */
    uint64_t hits, promotions, demotions, evictions;
} tc_cache_tier_stats_t;

typedef struct tc_cache_stats {
    uint64_t hits, misses, sets, deletes, evictions, expirations, promotions, demotions;
    size_t items;
    size_t key_bytes;   /* sum of key lengths (tags included) */
    size_t meta_bytes;  /* bytes on all tiers that are not keys or values: headers, index,
                         * queues, ghost table, pins, rounding */
    size_t index_bytes; /* the index's slot arrays (on tier index_tier) */
    unsigned index_tier;
    size_t ghost_bytes; /* the ghost tables of recently evicted keys (on tier ghost_tier) */
    unsigned ghost_tier;
    size_t pinned; /* values pinned by readers */
    size_t ntiers;
    tc_cache_tier_stats_t tiers[TC_CACHE_MAX_TIERS];
} tc_cache_stats_t;

/* Create a cache. TC_ERR_INVALID for a bad config (no tiers, a budget below 64 KiB, an
 * index_tier that is not a tier, a kind that cannot allocate). */
TC_API int tc_cache_create(const tc_cache_config_t *config, tc_cache_t **out);
/* Free every entry, the index and the queues; later calls return TC_ERR_CLOSED, so a binding
 * can close a cache that other threads may still call. Pinned values stay valid. Returns the
 * number of values still pinned (so the caller knows when the kinds may go). */
TC_API int tc_cache_close(tc_cache_t *cache);
/* Close if open, then free the cache itself (with the last pin when values are pinned). The
 * handle must not be used again. The kinds must outlive the last pin. */
TC_API int tc_cache_destroy(tc_cache_t *cache);

/* Insert or replace. ttl in seconds (0 = never expires). TC_ERR_TOOLARGE when no tier can
 * hold the entry, TC_ERR_NOMEM when memory ran out; on any error the old value is kept. */
TC_API int tc_cache_set(tc_cache_t *cache, unsigned ktag, const void *key, size_t klen,
                        const void *value, size_t vlen, unsigned vtag, double ttl);
/* Insert only when the key is absent (or expired): 1 when stored, 0 when a live value was
 * there (left as it is). Errors as tc_cache_set. */
TC_API int tc_cache_add(tc_cache_t *cache, unsigned ktag, const void *key, size_t klen,
                        const void *value, size_t vlen, unsigned vtag, double ttl);
/* Store as mode says, in one step under the cache's lock: TC_CACHE_STORED, NOT_STORED,
 * EXISTS or NOT_FOUND (see above), or an error as tc_cache_set (the present value is kept on
 * any error). *cas_out (may be NULL) gets the stored item's CAS token, 0 when it has none. */
TC_API int tc_cache_store(tc_cache_t *cache, tc_cache_mode_t mode, const tc_cache_item_t *item,
                          uint64_t *cas_out);
/* Add op->delta to (or take it from) the number stored under the key, in one step: 1 with the
 * new number in *value (may be NULL) when applied or created, 0 when absent (and not
 * created), TC_ERR_NOTNUMBER when the value is not a decimal number (digits, and a leading
 * '-' when signed, at most 20 characters), TC_ERR_RANGE (signed only). The value's tag,
 * flags and ttl are kept. */
TC_API int tc_cache_incr(tc_cache_t *cache, unsigned ktag, const void *key, size_t klen,
                         const tc_cache_incr_t *op, uint64_t *value, uint64_t *cas_out);
/* Look up. Returns 1 and fills *out when found, 0 when absent or expired. A value of at most
 * cap bytes is copied into buf; a longer one (or any, with cap 0) is pinned in place. */
TC_API int tc_cache_get(tc_cache_t *cache, unsigned ktag, const void *key, size_t klen, void *buf,
                        size_t cap, tc_cache_value_t *out);
/* tc_cache_get with TC_GET_* options; ttl is the new ttl for TC_GET_TOUCH. */
TC_API int tc_cache_get_ex(tc_cache_t *cache, unsigned ktag, const void *key, size_t klen,
                           unsigned options, double ttl, void *buf, size_t cap,
                           tc_cache_value_t *out);
/* Delete only when the item's CAS token is cas (cas 0: whatever it is): TC_CACHE_STORED (1)
 * when deleted, TC_CACHE_EXISTS when the token differs, TC_CACHE_NOT_FOUND when absent. */
TC_API int tc_cache_delete_cas(tc_cache_t *cache, unsigned ktag, const void *key, size_t klen,
                               uint64_t cas);
/* The entry the policy would evict next, removed and returned like tc_cache_take (key
 * written as for tc_cache_keys into kbuf, *klen_out its length): 1, or 0 when the cache is
 * empty, TC_ERR_NOMEM when kbuf is too small (nothing removed). */
TC_API int tc_cache_pop_victim(tc_cache_t *cache, void *kbuf, size_t kcap, size_t *klen_out,
                               tc_cache_value_t *out);
/* Remove and return in one step: 1 and *out (always pinned: unpin it) when the key was
 * there, 0 when absent. */
TC_API int tc_cache_take(tc_cache_t *cache, unsigned ktag, const void *key, size_t klen,
                         tc_cache_value_t *out);
/* Release a pin from tc_cache_get or tc_cache_take, exactly once (the handle is not looked
 * up: anything else is undefined). Lock-free unless the value was replaced or evicted. */
TC_API void tc_cache_unpin(tc_cache_t *cache, void *pin);
/* 1 if present and not expired, else 0; does not count as a read. */
TC_API int tc_cache_contains(tc_cache_t *cache, unsigned ktag, const void *key, size_t klen);
/* Remove. Returns 1 when removed, 0 when absent. */
TC_API int tc_cache_delete(tc_cache_t *cache, unsigned ktag, const void *key, size_t klen);
/* Set a new ttl (0 = never expires). Returns 1 when the key exists, 0 when absent. */
TC_API int tc_cache_touch(tc_cache_t *cache, unsigned ktag, const void *key, size_t klen,
                          double ttl);
/* Number of live entries (removes expired ones first when any is due). */
TC_API size_t tc_cache_count(tc_cache_t *cache);
/* Remove every entry whose time ran out. Returns how many. */
TC_API int tc_cache_expire(tc_cache_t *cache);
/* Remove every entry. */
TC_API int tc_cache_clear(tc_cache_t *cache);
/* Write every live key as [u8 tag][u16 length, little-endian][bytes] into buf. *needed gets
 * the bytes all keys take; returns the number of keys written, or TC_ERR_NOMEM if cap was
 * too small (nothing useful written: retry with *needed). */
TC_API int tc_cache_keys(tc_cache_t *cache, void *buf, size_t cap, size_t *needed);
/* Keys in pieces: like tc_cache_keys, from *cursor (0 to begin) until buf is full or the index
 * ends; *cursor is 0 again at the end. Returns the number of keys written (0 at the end), or
 * TC_ERR_NOMEM when not even one key fits. Keys set or deleted meanwhile may or may not be
 * listed; the others are listed once. */
TC_API int tc_cache_keys_from(tc_cache_t *cache, size_t *cursor, void *buf, size_t cap,
                              size_t *written);
/* A lower tier whose kind refuses memory its budget allows (a filesystem that filled up)
 * has its budget lowered to what it holds, so that it evicts instead of failing; it tries its
 * configured budget again when it has nothing left to evict, and after a compaction pass
 * (stats show the budget in force). */
/* Move up to max_entries entries (0 = all) whose blocks defrag_reallocate wants to move,
 * starting at *cursor (0 to begin). *cursor is 0 again when a pass completed. *moved gets the
 * number of blocks moved. Pinned entries are left in place. */
TC_API int tc_cache_compact(tc_cache_t *cache, size_t *cursor, size_t max_entries, size_t *moved);
TC_API int tc_cache_stats(tc_cache_t *cache, tc_cache_stats_t *out);
/* Verify every invariant: index, queues, tier byte counts, pins, kinds of value blocks.
 * TC_ERR_CORRUPT with a description in msg (up to cap bytes) when one is broken. */
TC_API int tc_cache_check(tc_cache_t *cache, char *msg, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
