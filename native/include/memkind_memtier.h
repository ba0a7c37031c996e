/*
 * memkind 1.14's memory-tiering API (libmemtier), source-compatible, over tiercache's memkind
 * layer. A memtier_memory spreads allocations over tiers (kinds) so that the bytes allocated
 * on each keep the ratio given to the builder; every memtier_* allocation is accounted to its
 * kind (memtier_kind_allocated_size). Errors are returned as codes, never abort.
 */
#pragma once
#ifdef __cplusplus
extern "C" {
#endif

#include <memkind.h>
#include <stdlib.h>

struct memtier_builder;
struct memtier_memory;

typedef enum memtier_policy_t {
    /* Every allocation goes to the tier furthest below its share of the allocated bytes. */
    MEMTIER_POLICY_STATIC_RATIO = 0,
    /* By size: below thresholds[i].val on tier i, else on a later tier; the thresholds move
     * (by `degree`, within [min, max]) to keep the ratio. At least two tiers. */
    MEMTIER_POLICY_DYNAMIC_THRESHOLD = 1,
    /* memkind's PEBS-sampled hotness policy: not supported (memtier_builder_new fails). */
    MEMTIER_POLICY_DATA_HOTNESS = 2,
    MEMTIER_POLICY_MAX_VALUE
} memtier_policy_t;

/* ---- tier management ---- */
/* A new builder for `policy`, NULL for an unknown or unsupported policy (or no memory). */
MEMKIND_EXPORT_API struct memtier_builder *memtier_builder_new(memtier_policy_t policy);
MEMKIND_EXPORT_API void memtier_builder_delete(struct memtier_builder *builder);
/* Add a tier of `kind` with weight kind_ratio (>= 1). 0, or MEMKIND_ERROR_INVALID for a NULL
 * or unavailable kind, a kind added twice, ratio 0 or too many tiers. */
MEMKIND_EXPORT_API int memtier_builder_add_tier(struct memtier_builder *builder, memkind_t kind,
                                                unsigned kind_ratio);
/* The tiered memory the builder describes, NULL when the configuration is invalid (no tier,
 * DYNAMIC_THRESHOLD with one tier, thresholds out of order or with val outside [min, max]). */
MEMKIND_EXPORT_API struct memtier_memory *
memtier_builder_construct_memtier_memory(struct memtier_builder *builder);
/* Delete the tiering object; its allocations stay valid (free them with memtier_free). */
MEMKIND_EXPORT_API void memtier_delete_memtier_memory(struct memtier_memory *memory);
/*
 * Set a DYNAMIC_THRESHOLD parameter on the builder. Names and value types:
 *   policy.dynamic_threshold.thresholds[ID].val, .min, .max   size_t (ID: 0 .. tiers-2)
 *   policy.dynamic_threshold.check_cnt                        unsigned (>= 1)
 *   policy.dynamic_threshold.trigger, .degree                 float (0 < x < 1)
 * 0, or MEMKIND_ERROR_INVALID for an unknown name, a bad value or another policy.
 */
MEMKIND_EXPORT_API int memtier_ctl_set(struct memtier_builder *builder, const char *name,
                                       const void *val);

/* ---- heap ---- */
/* As memkind_malloc (size 0: NULL) on the tier the policy picks. */
MEMKIND_EXPORT_API void *memtier_malloc(struct memtier_memory *memory, size_t size);
MEMKIND_EXPORT_API void *memtier_kind_malloc(memkind_t kind, size_t size);
MEMKIND_EXPORT_API void *memtier_calloc(struct memtier_memory *memory, size_t num, size_t size);
MEMKIND_EXPORT_API void *memtier_kind_calloc(memkind_t kind, size_t num, size_t size);
/* Resize on the tier ptr is on (ptr NULL: memtier_malloc; size 0: free, NULL). */
MEMKIND_EXPORT_API void *memtier_realloc(struct memtier_memory *memory, void *ptr, size_t size);
MEMKIND_EXPORT_API void *memtier_kind_realloc(memkind_t kind, void *ptr, size_t size);
/* 0, EINVAL or ENOMEM. */
MEMKIND_EXPORT_API int memtier_posix_memalign(struct memtier_memory *memory, void **memptr,
                                              size_t alignment, size_t size);
MEMKIND_EXPORT_API int memtier_kind_posix_memalign(memkind_t kind, void **memptr, size_t alignment,
                                                   size_t size);
MEMKIND_EXPORT_API size_t memtier_usable_size(void *ptr);
/* Free ptr (kind NULL: found from the pointer). */
MEMKIND_EXPORT_API void memtier_kind_free(memkind_t kind, void *ptr);
static inline void memtier_free(void *ptr) { memtier_kind_free(NULL, ptr); }
/* Bytes (usable sizes) currently allocated on `kind` through the memtier API. */
MEMKIND_EXPORT_API size_t memtier_kind_allocated_size(memkind_t kind);

#ifdef __cplusplus
}
#endif
