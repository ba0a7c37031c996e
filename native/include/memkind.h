/*
 * memkind 1.14 source-compatible API, implemented by tiercache over its tc_ API
 * (tiercache/tiercache.h). Programs written against memkind's public header compile unchanged:
 *     cc prog.c $(pkg-config --cflags --libs tiercache-memkind)
 * Differences from memkind, all in the direction of safety, are listed in the README.
 */
#pragma once
#ifdef __cplusplus
extern "C" {
#endif

#include <stdbool.h>
#include <sys/types.h>

#ifndef MEMKIND_MALLOC_USABLE_SIZE_CONST
#define MEMKIND_MALLOC_USABLE_SIZE_CONST
#endif

#if defined(__GNUC__)
#define MEMKIND_EXPORT_API __attribute__((visibility("default")))
#else
#define MEMKIND_EXPORT_API
#endif

/* Memory types for memkind_create_kind (bit flags). */
typedef enum memkind_memtype_t {
    MEMKIND_MEMTYPE_DEFAULT = 1ull << 0,
    MEMKIND_MEMTYPE_HIGH_BANDWIDTH = 1ull << 1
} memkind_memtype_t;

/* Page placement policies for memkind_create_kind. */
typedef enum memkind_policy_t {
    MEMKIND_POLICY_BIND_LOCAL = 0,
    MEMKIND_POLICY_BIND_ALL,
    MEMKIND_POLICY_PREFERRED_LOCAL,
    MEMKIND_POLICY_INTERLEAVE_LOCAL,
    MEMKIND_POLICY_INTERLEAVE_ALL,
    MEMKIND_POLICY_MAX_VALUE
} memkind_policy_t;

/* Flags for memkind_create_kind; low bits carry log2 of the page size (0: default). */
typedef enum memkind_bits_t { MEMKIND_MASK_PAGE_SIZE_2MB = 21ull } memkind_bits_t;

typedef struct memkind *memkind_t;

enum memkind_const {
    MEMKIND_MAX_KIND = 512, /* memkind's limit; tiercache allows up to 4095 kinds */
    MEMKIND_ERROR_MESSAGE_SIZE = 128,
    MEMKIND_PMEM_MIN_SIZE = (1024 * 1024 * 16) /* smallest non-zero file-kind max_size */
};

/* Status codes. */
enum {
    MEMKIND_SUCCESS = 0,
    MEMKIND_ERROR_UNAVAILABLE = -1,
    MEMKIND_ERROR_MBIND = -2,
    MEMKIND_ERROR_MMAP = -3,
    MEMKIND_ERROR_MALLOC = -6,
    MEMKIND_ERROR_ENVIRON = -12,
    MEMKIND_ERROR_INVALID = -13,
    MEMKIND_ERROR_TOOMANY = -15,
    MEMKIND_ERROR_BADOPS = -17,
    MEMKIND_ERROR_HUGETLB = -18,
    MEMKIND_ERROR_MEMTYPE_NOT_AVAILABLE = -20,
    MEMKIND_ERROR_OPERATION_FAILED = -21,
    MEMKIND_ERROR_ARENAS_CREATE = -22,
    MEMKIND_ERROR_RUNTIME = -255
};

/* File-kind usage policy: DEFAULT keeps freed pages a while, CONSERVATIVE returns them. */
typedef enum memkind_mem_usage_policy {
    MEMKIND_MEM_USAGE_POLICY_DEFAULT = 0,
    MEMKIND_MEM_USAGE_POLICY_CONSERVATIVE = 1,
    MEMKIND_MEM_USAGE_POLICY_MAX_VALUE
} memkind_mem_usage_policy;

typedef enum memkind_stat_type {
    MEMKIND_STAT_TYPE_RESIDENT = 0,
    MEMKIND_STAT_TYPE_ACTIVE = 1,
    MEMKIND_STAT_TYPE_ALLOCATED = 2,
    MEMKIND_STAT_TYPE_MAX_VALUE
} memkind_stat_type;

typedef enum memkind_stat_print_opt {
    MEMKIND_STAT_PRINT_ALL = 0,
    MEMKIND_STAT_PRINT_JSON_FORMAT = 1U << 0,
    MEMKIND_STAT_PRINT_OMIT_GENERAL = 1U << 1,
    MEMKIND_STAT_PRINT_OMIT_MERGED_ARENA = 1U << 2,
    MEMKIND_STAT_PRINT_OMIT_DESTROYED_MERGED_ARENA = 1U << 3,
    MEMKIND_STAT_PRINT_OMIT_PER_ARENA = 1U << 4,
    MEMKIND_STAT_PRINT_OMIT_PER_SIZE_CLASS_BINS = 1U << 5,
    MEMKIND_STAT_PRINT_OMIT_PER_SIZE_CLASS_LARGE = 1U << 6,
    MEMKIND_STAT_PRINT_OMIT_MUTEX = 1U << 7,
    MEMKIND_STAT_PRINT_OMIT_EXTENT = 1U << 8,
} memkind_stat_print_opt;

struct memkind_config;

/* ---- file-kind configuration ---- */
MEMKIND_EXPORT_API struct memkind_config *memkind_config_new(void);
MEMKIND_EXPORT_API void memkind_config_delete(struct memkind_config *cfg);
MEMKIND_EXPORT_API void memkind_config_set_path(struct memkind_config *cfg, const char *pmem_dir);
MEMKIND_EXPORT_API void memkind_config_set_size(struct memkind_config *cfg, size_t pmem_size);
MEMKIND_EXPORT_API void memkind_config_set_memory_usage_policy(struct memkind_config *cfg,
                                                               memkind_mem_usage_policy policy);

/* ---- kinds ---- */
MEMKIND_EXPORT_API int memkind_create_kind(memkind_memtype_t memtype_flags,
                                           memkind_policy_t policy, memkind_bits_t flags,
                                           memkind_t *kind);
/* Returns MEMKIND_ERROR_OPERATION_FAILED for a built-in or already destroyed kind. */
MEMKIND_EXPORT_API int memkind_destroy_kind(memkind_t kind);
/* Lock-free; MEMKIND_DEFAULT for memory not from a created or topology kind. */
MEMKIND_EXPORT_API memkind_t memkind_detect_kind(void *ptr);

#include "memkind_deprecated.h"

MEMKIND_EXPORT_API extern memkind_t MEMKIND_DEFAULT;
/* The static topology kinds (MEMKIND_REGULAR, MEMKIND_HBW, MEMKIND_DAX_KMEM, ...): one
 * `extern memkind_t MEMKIND_<ID>` per row of tiercache/numa_presets.h, where they are listed. */
#define TC_NUMA_PRESET(ID, name, nodes, policy, page_mib) \
    MEMKIND_EXPORT_API extern memkind_t MEMKIND_##ID;
#include "tiercache/numa_presets.h"
#undef TC_NUMA_PRESET

/* major * 1000000 + minor * 1000 + patch of the memkind API provided (1.14.0). */
MEMKIND_EXPORT_API int memkind_get_version();
MEMKIND_EXPORT_API void memkind_error_message(int err, char *msg, size_t size);

/* File-backed kind on an unlinked temporary file in dir; max_size 0 grows without limit. */
MEMKIND_EXPORT_API int memkind_create_pmem(const char *dir, size_t max_size, memkind_t *kind);
MEMKIND_EXPORT_API int memkind_create_pmem_with_config(struct memkind_config *cfg,
                                                       memkind_t *kind);
/* Kind over the caller's memory area [addr, addr+size). */
MEMKIND_EXPORT_API int memkind_create_fixed(void *addr, size_t size, memkind_t *kind);
MEMKIND_EXPORT_API int memkind_check_available(memkind_t kind);
/* Bytes the kind can draw from, -1 on failure. */
MEMKIND_EXPORT_API ssize_t memkind_get_capacity(memkind_t kind);

/* ---- statistics ---- */
MEMKIND_EXPORT_API int memkind_update_cached_stats(void);
MEMKIND_EXPORT_API int memkind_get_stat(memkind_t kind, memkind_stat_type stat, size_t *value);
MEMKIND_EXPORT_API int memkind_stats_print(void (*write_cb)(void *, const char *), void *cbopaque,
                                           memkind_stat_print_opt opts);

/* ---- heap ---- */
MEMKIND_EXPORT_API void *memkind_malloc(memkind_t kind, size_t size);
MEMKIND_EXPORT_API size_t memkind_malloc_usable_size(memkind_t kind,
                                                     MEMKIND_MALLOC_USABLE_SIZE_CONST void *ptr);
MEMKIND_EXPORT_API void *memkind_calloc(memkind_t kind, size_t num, size_t size);
MEMKIND_EXPORT_API int memkind_posix_memalign(memkind_t kind, void **memptr, size_t alignment,
                                              size_t size);
MEMKIND_EXPORT_API void *memkind_realloc(memkind_t kind, void *ptr, size_t size);
/* kind may be NULL: the kind is found from the pointer. */
MEMKIND_EXPORT_API void memkind_free(memkind_t kind, void *ptr);
/* New address if ptr was moved to a better-used slab, else NULL (ptr unchanged). */
MEMKIND_EXPORT_API void *memkind_defrag_reallocate(memkind_t kind, void *ptr);
/* MEMKIND_SUCCESS when pmem_dir is on a DAX filesystem. */
MEMKIND_EXPORT_API int memkind_check_dax_path(const char *pmem_dir);
MEMKIND_EXPORT_API int memkind_set_bg_threads(bool state);

#ifdef __cplusplus
}
#endif
