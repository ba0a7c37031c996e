/*
 * memkind 1.14's public API over the tc_ API. memkind_t handles are tc_kind_t pointers.
 * Results follow memkind 1.14 as observed (malloc(0) returns NULL, bad file-kind arguments are
 * MEMKIND_ERROR_INVALID, a non-DAX directory is MEMKIND_ERROR_MMAP), except where memkind is
 * unsafe: destroying a built-in kind or a kind twice fails instead of succeeding.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat/memtier_internal.h"
#include "internal.h"
#include "memkind.h"

#define K(m) ((tc_kind_t *)(m))
#define M(k) ((memkind_t)(k))

/* 1 GiB-page kinds, deprecated by memkind: never available. */
static TC_UNAVAILABLE_KIND(k_gbtlb, "gbtlb");
static TC_UNAVAILABLE_KIND(k_hbw_gbtlb, "hbw_gbtlb");
static TC_UNAVAILABLE_KIND(k_hbw_preferred_gbtlb, "hbw_preferred_gbtlb");

MEMKIND_EXPORT_API memkind_t MEMKIND_DEFAULT = M(&tc__kind_dram);
/* The topology kinds: premade parameter sets of the one NUMA kind (kinds/kind_numa.c). */
#define TC_NUMA_PRESET(ID, name, nodes, policy, page_mib) \
    MEMKIND_EXPORT_API memkind_t MEMKIND_##ID = M(&tc__numa_presets[TC_PRESET_##ID]);
#include "tiercache/numa_presets.h"
#undef TC_NUMA_PRESET
MEMKIND_EXPORT_API memkind_t MEMKIND_GBTLB = M(&k_gbtlb);
MEMKIND_EXPORT_API memkind_t MEMKIND_HBW_GBTLB = M(&k_hbw_gbtlb);
MEMKIND_EXPORT_API memkind_t MEMKIND_HBW_PREFERRED_GBTLB = M(&k_hbw_preferred_gbtlb);

/* memkind status for a tc_ error code. */
static int status(int tc_err) {
    switch (tc_err) {
    case TC_OK: return MEMKIND_SUCCESS;
    case TC_ERR_UNAVAILABLE: return MEMKIND_ERROR_UNAVAILABLE;
    case TC_ERR_NOMEM: return MEMKIND_ERROR_MALLOC;
    case TC_ERR_TOOMANY: return MEMKIND_ERROR_TOOMANY;
    case TC_ERR_ENVIRON: return MEMKIND_ERROR_ENVIRON;
    case TC_ERR_MMAP: return MEMKIND_ERROR_MMAP;
    case TC_ERR_ARENA: return MEMKIND_ERROR_ARENAS_CREATE;
    case TC_ERR_DESTROYED:
    case TC_ERR_BUSY: return MEMKIND_ERROR_OPERATION_FAILED;
    case TC_ERR_FORKED: return MEMKIND_ERROR_UNAVAILABLE;
    case TC_ERR_SYSTEM: return MEMKIND_ERROR_RUNTIME;
    default: return MEMKIND_ERROR_INVALID; /* bad arguments, directory problems */
    }
}

/* ---- configuration ---- */
struct memkind_config {
    const char *path;
    size_t size;
    memkind_mem_usage_policy policy;
};

MEMKIND_EXPORT_API struct memkind_config *memkind_config_new(void) {
    return calloc(1, sizeof(struct memkind_config));
}
MEMKIND_EXPORT_API void memkind_config_delete(struct memkind_config *cfg) { free(cfg); }
MEMKIND_EXPORT_API void memkind_config_set_path(struct memkind_config *cfg, const char *dir) {
    if (cfg) cfg->path = dir;
}
MEMKIND_EXPORT_API void memkind_config_set_size(struct memkind_config *cfg, size_t size) {
    if (cfg) cfg->size = size;
}
MEMKIND_EXPORT_API void memkind_config_set_memory_usage_policy(struct memkind_config *cfg,
                                                               memkind_mem_usage_policy p) {
    if (cfg) cfg->policy = p;
}

/* ---- kinds ---- */

/*
 * memkind's limit: static and dynamic kinds together stay within MEMKIND_MAX_KIND, so that a
 * program may keep its kinds in an array of that many. Kinds made through this API are counted
 * (and flagged, so that destroying one gives its place back); the tc_ API has its own, higher
 * limit.
 */
static _Atomic unsigned dynamic_kinds;
#define MAX_DYNAMIC_KINDS (MEMKIND_MAX_KIND - MEMKIND_NUM_BASE_KIND)

static bool take_place(void) {
    unsigned n = atomic_load(&dynamic_kinds);
    do {
        if (n >= MAX_DYNAMIC_KINDS) return false;
    } while (!atomic_compare_exchange_weak(&dynamic_kinds, &n, n + 1));
    return true;
}

/* The result of a kind creation that took a place: the place is kept only on success. */
static int created(int tc_err, tc_kind_t *k, memkind_t *kind) {
    if (tc_err) {
        atomic_fetch_sub(&dynamic_kinds, 1);
        return status(tc_err);
    }
    k->flags |= TC_KIND_MEMKIND;
    if (kind) *kind = M(k);
    return MEMKIND_SUCCESS;
}

MEMKIND_EXPORT_API int memkind_create_pmem(const char *dir, size_t max_size, memkind_t *kind) {
    if (!take_place()) return MEMKIND_ERROR_TOOMANY;
    tc_kind_t *k = NULL;
    int e = tc_kind_create_file(dir, max_size, TC_FILE_PERFORMANCE, &k);
    return created(e, k, kind);
}

MEMKIND_EXPORT_API int memkind_create_pmem_with_config(struct memkind_config *cfg,
                                                       memkind_t *kind) {
    if (!cfg || (unsigned)cfg->policy >= MEMKIND_MEM_USAGE_POLICY_MAX_VALUE)
        return MEMKIND_ERROR_INVALID;
    tc_kind_t *k = NULL;
    tc_file_policy_t p = cfg->policy == MEMKIND_MEM_USAGE_POLICY_CONSERVATIVE
                             ? TC_FILE_CONSERVATIVE
                             : TC_FILE_PERFORMANCE;
    if (!take_place()) return MEMKIND_ERROR_TOOMANY;
    int e = tc_kind_create_file(cfg->path, cfg->size, p, &k);
    return created(e, k, kind);
}

MEMKIND_EXPORT_API int memkind_create_fixed(void *addr, size_t size, memkind_t *kind) {
    if (!take_place()) return MEMKIND_ERROR_TOOMANY;
    tc_kind_t *k = NULL;
    int e = tc_kind_create_fixed(addr, size, &k);
    return created(e, k, kind);
}

/*
 * As memkind 1.14: the supported memtype/policy/flags combinations name static kinds (no new
 * kind is made, and destroying the result fails as for any static kind):
 *   DEFAULT + PREFERRED_LOCAL            -> DEFAULT, or HUGETLB with PAGE_SIZE_2MB
 *   HIGH_BANDWIDTH + BIND_LOCAL          -> HBW, HBW_HUGETLB
 *   HIGH_BANDWIDTH + BIND_ALL            -> HBW_ALL, HBW_ALL_HUGETLB
 *   HIGH_BANDWIDTH + PREFERRED_LOCAL     -> HBW_PREFERRED, HBW_PREFERRED_HUGETLB
 *   HIGH_BANDWIDTH + INTERLEAVE_ALL      -> HBW_INTERLEAVE (base pages only)
 *   DEFAULT|HIGH_BANDWIDTH + INTERLEAVE_ALL -> INTERLEAVE (base pages only)
 * Any other valid combination is MEMKIND_ERROR_UNAVAILABLE.
 */
MEMKIND_EXPORT_API int memkind_create_kind(memkind_memtype_t memtype, memkind_policy_t policy,
                                           memkind_bits_t flags, memkind_t *kind) {
    const memkind_memtype_t both = MEMKIND_MEMTYPE_DEFAULT | MEMKIND_MEMTYPE_HIGH_BANDWIDTH;
    if (!kind || !memtype || (unsigned)policy >= MEMKIND_POLICY_MAX_VALUE || (memtype & ~both) ||
        (flags && flags != MEMKIND_MASK_PAGE_SIZE_2MB))
        return MEMKIND_ERROR_INVALID;
    bool huge = flags == MEMKIND_MASK_PAGE_SIZE_2MB;
    memkind_t k = NULL;
    if (memtype == MEMKIND_MEMTYPE_DEFAULT && policy == MEMKIND_POLICY_PREFERRED_LOCAL)
        k = huge ? MEMKIND_HUGETLB : MEMKIND_DEFAULT;
    else if (memtype == MEMKIND_MEMTYPE_HIGH_BANDWIDTH && policy == MEMKIND_POLICY_BIND_LOCAL)
        k = huge ? MEMKIND_HBW_HUGETLB : MEMKIND_HBW;
    else if (memtype == MEMKIND_MEMTYPE_HIGH_BANDWIDTH && policy == MEMKIND_POLICY_BIND_ALL)
        k = huge ? MEMKIND_HBW_ALL_HUGETLB : MEMKIND_HBW_ALL;
    else if (memtype == MEMKIND_MEMTYPE_HIGH_BANDWIDTH && policy == MEMKIND_POLICY_PREFERRED_LOCAL)
        k = huge ? MEMKIND_HBW_PREFERRED_HUGETLB : MEMKIND_HBW_PREFERRED;
    else if (memtype == MEMKIND_MEMTYPE_HIGH_BANDWIDTH &&
             policy == MEMKIND_POLICY_INTERLEAVE_ALL && !huge)
        k = MEMKIND_HBW_INTERLEAVE;
    else if (memtype == both && policy == MEMKIND_POLICY_INTERLEAVE_ALL && !huge)
        k = MEMKIND_INTERLEAVE;
    if (!k) return MEMKIND_ERROR_UNAVAILABLE;
    int e = memkind_check_available(k);
    if (e)
        return memtype & MEMKIND_MEMTYPE_HIGH_BANDWIDTH && e == MEMKIND_ERROR_UNAVAILABLE
                   ? MEMKIND_ERROR_MEMTYPE_NOT_AVAILABLE
                   : e;
    *kind = k;
    return MEMKIND_SUCCESS;
}

MEMKIND_EXPORT_API int memkind_destroy_kind(memkind_t kind) {
    /* Read before destroying: the struct is recycled (never freed) afterwards. */
    bool counted = kind && (K(kind)->flags & TC_KIND_MEMKIND);
    if (tc_kind_destroy(K(kind))) return MEMKIND_ERROR_OPERATION_FAILED;
    if (counted) atomic_fetch_sub(&dynamic_kinds, 1);
    tc__memtier_forget(kind); /* memtier_kind_allocated_size of a destroyed kind is 0 */
    return MEMKIND_SUCCESS;
}

MEMKIND_EXPORT_API memkind_t memkind_detect_kind(void *ptr) {
    /* The index lookup itself, not tc_detect_kind: an exported function is called through
     * the PLT even from inside the library. */
    return ptr ? M(tc__kind_of(ptr)) : NULL;
}

MEMKIND_EXPORT_API int memkind_check_available(memkind_t kind) {
    return status(tc_kind_check_available(K(kind)));
}

MEMKIND_EXPORT_API ssize_t memkind_get_capacity(memkind_t kind) {
    size_t cap;
    if (tc_kind_capacity(K(kind), &cap) || cap > (size_t)SSIZE_MAX) return -1;
    return (ssize_t)cap;
}

/* As memkind: a directory that is not DAX is MEMKIND_ERROR_MMAP; a path that is no usable
 * directory (missing, a file, not writable) is MEMKIND_ERROR_RUNTIME. */
MEMKIND_EXPORT_API int memkind_check_dax_path(const char *pmem_dir) {
    int e = tc_check_dax_path(pmem_dir);
    return e == TC_OK           ? MEMKIND_SUCCESS
           : e == TC_ERR_NOTSUP ? MEMKIND_ERROR_MMAP
                                : MEMKIND_ERROR_RUNTIME;
}

MEMKIND_EXPORT_API int memkind_set_bg_threads(bool state) {
    return status(tc_set_background_threads(state));
}

MEMKIND_EXPORT_API int memkind_get_kind_by_partition(int partition, memkind_t *kind) {
    static memkind_t *const table[MEMKIND_NUM_BASE_KIND] = {
        [MEMKIND_PARTITION_DEFAULT] = &MEMKIND_DEFAULT,
        [MEMKIND_PARTITION_HBW_GBTLB] = &MEMKIND_HBW_GBTLB,
        [MEMKIND_PARTITION_HBW_PREFERRED_GBTLB] = &MEMKIND_HBW_PREFERRED_GBTLB,
        [MEMKIND_PARTITION_GBTLB] = &MEMKIND_GBTLB,
#define TC_NUMA_PRESET(ID, name, nodes, policy, page_mib) [MEMKIND_PARTITION_##ID] = &MEMKIND_##ID,
#include "tiercache/numa_presets.h"
#undef TC_NUMA_PRESET
    };
    if (!kind || partition < 0 || partition >= MEMKIND_NUM_BASE_KIND)
        return MEMKIND_ERROR_UNAVAILABLE;
    *kind = *table[partition];
    return MEMKIND_SUCCESS;
}

MEMKIND_EXPORT_API int memkind_get_version() { return 1 * 1000000 + 14 * 1000 + 0; }

MEMKIND_EXPORT_API void memkind_error_message(int err, char *msg, size_t size) {
    const char *text;
    switch (err) {
    case MEMKIND_SUCCESS: text = "success"; break;
    case MEMKIND_ERROR_UNAVAILABLE: text = "requested memory kind is not available"; break;
    case MEMKIND_ERROR_MBIND: text = "binding memory to NUMA nodes failed"; break;
    case MEMKIND_ERROR_MMAP: text = "mapping memory failed (or the path is not DAX)"; break;
    case MEMKIND_ERROR_MALLOC: text = "out of memory"; break;
    case MEMKIND_ERROR_ENVIRON: text = "invalid environment option"; break;
    case MEMKIND_ERROR_INVALID: text = "invalid argument"; break;
    case MEMKIND_ERROR_TOOMANY: text = "too many kinds"; break;
    case MEMKIND_ERROR_BADOPS: text = "invalid kind operations"; break;
    case MEMKIND_ERROR_HUGETLB: text = "huge pages are not available"; break;
    case MEMKIND_ERROR_MEMTYPE_NOT_AVAILABLE: text = "memory type is not available"; break;
    case MEMKIND_ERROR_OPERATION_FAILED: text = "operation failed"; break;
    case MEMKIND_ERROR_ARENAS_CREATE: text = "creating an arena failed"; break;
    case MEMKIND_ERROR_RUNTIME: text = "runtime error"; break;
    default: text = NULL; break;
    }
    if (!msg || !size) return;
    if (text) snprintf(msg, size, "<memkind> %s", text);
    else snprintf(msg, size, "<memkind> Undefined error number: %d", err); /* memkind's text */
}

/* ---- statistics ---- */
MEMKIND_EXPORT_API int memkind_update_cached_stats(void) { return status(tc_stats_refresh()); }

MEMKIND_EXPORT_API int memkind_get_stat(memkind_t kind, memkind_stat_type stat, size_t *value) {
    if ((unsigned)stat >= MEMKIND_STAT_TYPE_MAX_VALUE || !value) return MEMKIND_ERROR_INVALID;
    return status(tc_kind_stat(K(kind), (tc_stat_t)stat, value));
}

MEMKIND_EXPORT_API int memkind_stats_print(void (*write_cb)(void *, const char *), void *cbopaque,
                                           memkind_stat_print_opt opts) {
    static const char letters[] = "Jgmdablxe"; /* jemalloc's letter for each option bit */
    char buf[sizeof letters];
    size_t n = 0;
    if ((unsigned)opts >> (sizeof letters - 1)) return MEMKIND_ERROR_INVALID;
    for (unsigned i = 0; i < sizeof letters - 1; i++)
        if (opts & (1u << i)) buf[n++] = letters[i];
    buf[n] = 0;
    return status(tc_stats_print(write_cb, cbopaque, buf));
}

/* ---- heap ---- */
MEMKIND_EXPORT_API void *memkind_malloc(memkind_t kind, size_t size) {
    if (!size) return NULL;
    return tc_malloc(K(kind), size);
}

MEMKIND_EXPORT_API size_t memkind_malloc_usable_size(memkind_t kind,
                                                     MEMKIND_MALLOC_USABLE_SIZE_CONST void *ptr) {
    return tc_usable_size(K(kind), ptr);
}

MEMKIND_EXPORT_API void *memkind_calloc(memkind_t kind, size_t num, size_t size) {
    if (!num || !size) return NULL;
    return tc_calloc(K(kind), num, size);
}

/* The return value is the error: errno is left as it was (tc_posix_memalign's contract). */
MEMKIND_EXPORT_API int memkind_posix_memalign(memkind_t kind, void **memptr, size_t alignment,
                                              size_t size) {
    if (!memptr || alignment < sizeof(void *) || (alignment & (alignment - 1))) return EINVAL;
    if (!size) {
        *memptr = NULL;
        return 0;
    }
    return tc_posix_memalign(K(kind), memptr, alignment, size);
}

/* As memkind: without a kind and without a pointer to find one from, NULL and EINVAL (for
 * any size); a size no kind can serve is NULL and ENOMEM, ptr left as it was. */
MEMKIND_EXPORT_API void *memkind_realloc(memkind_t kind, void *ptr, size_t size) {
    if (!kind && !ptr) {
        errno = EINVAL;
        return NULL;
    }
    if (!ptr && !size) return NULL;
    void *p = tc_realloc(K(kind), ptr, size);
    if (!p && size) errno = ENOMEM;
    return p;
}

MEMKIND_EXPORT_API void memkind_free(memkind_t kind, void *ptr) { tc_free(K(kind), ptr); }

MEMKIND_EXPORT_API void *memkind_defrag_reallocate(memkind_t kind, void *ptr) {
    return tc_defrag_reallocate(K(kind), ptr);
}
