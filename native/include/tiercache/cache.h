/*
 * tiercache cache core: a tiered key-value cache over memory kinds.
 *
 * A cache has 1 to TC_CACHE_MAX_TIERS tiers, fastest first; tier 0 is the DRAM tier. An entry
 * lives whole on one tier: header, key, expiry and value in a block of that tier's kind (two
 * blocks for values of 2 KiB or more), read in place. Tier 0 also holds the index (8-byte
 * slots at 72-81% load: 10-11 bytes per entry, whatever tier the entry is on) unless
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

#include <stddef.h>
#include <stdint.h>

#include "tiercache/tiercache.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TC_CACHE_MAX_TIERS 8
#define TC_CACHE_MAX_KEY 65534u      /* key bytes, excluding the tag */
#define TC_CACHE_MAX_VALUE 0xffffffffu /* value bytes */
#define TC_CACHE_VALUE_TAGS 16       /* value tags are 0..15 */

typedef struct tc_cache tc_cache_t;

typedef struct tc_cache_tier_config {
    tc_kind_t *kind; /* where this tier's values live; not owned by the cache */
    size_t budget;   /* bytes; for tier 0 this includes all metadata */
} tc_cache_tier_config_t;

typedef struct tc_cache_config {
    size_t ntiers;
    tc_cache_tier_config_t tiers[TC_CACHE_MAX_TIERS];
    size_t large_threshold;     /* values of this size or more skip tier 0; 0 = never */
    unsigned promote_hits;      /* reads on a lower tier before promotion; 0 = never */
    unsigned small_percent;     /* each tier's small FIFO share, 1..50 (default 10 when 0) */
    unsigned index_tier;        /* the tier whose memory holds the index (default 0: DRAM) */
} tc_cache_config_t;

/* A value returned by tc_cache_get: copied into the caller's buffer, or pinned in place. */
typedef struct tc_cache_value {
    const void *data; /* the caller's buffer, or the pinned value */
    size_t len;
    unsigned tag;
    void *pin; /* non-NULL when pinned: pass to tc_cache_unpin exactly once */
} tc_cache_value_t;

typedef struct tc_cache_tier_stats {
    size_t budget;
    size_t used;        /* usable bytes charged: entries, rings, and the index, ghost table and
                         * pin records on the tiers that hold them */
    size_t value_bytes; /* sum of the lengths of the values on this tier */
    size_t items;
    size_t dram_bytes;  /* tier-0 bytes this tier's items cost: for a lower tier, their share of
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
    size_t pinned;      /* values pinned by readers */
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
/* Look up. Returns 1 and fills *out when found, 0 when absent or expired. A value of at most
 * cap bytes is copied into buf; a longer one (or any, with cap 0) is pinned in place. */
TC_API int tc_cache_get(tc_cache_t *cache, unsigned ktag, const void *key, size_t klen,
                        void *buf, size_t cap, tc_cache_value_t *out);
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
/* Move up to max_entries entries (0 = all) whose blocks defrag_reallocate wants to move,
 * starting at *cursor (0 to begin). *cursor is 0 again when a pass completed. *moved gets the
 * number of blocks moved. Pinned entries are left in place. */
TC_API int tc_cache_compact(tc_cache_t *cache, size_t *cursor, size_t max_entries,
                            size_t *moved);
TC_API int tc_cache_stats(tc_cache_t *cache, tc_cache_stats_t *out);
/* Verify every invariant: index, queues, tier byte counts, pins, kinds of value blocks.
 * TC_ERR_CORRUPT with a description in msg (up to cap bytes) when one is broken. */
TC_API int tc_cache_check(tc_cache_t *cache, char *msg, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
