/*
 * memkind 1.14's hbwmalloc API (high-bandwidth memory), source-compatible, over tiercache's
 * memkind layer (memkind.h): each call picks one of the MEMKIND_HBW* kinds from the policy and
 * the page size. Link with -ltiercache.
 *
 * Errors are the POSIX codes memkind documents: ENODEV (no HBW memory), EINVAL, ENOMEM, EPERM,
 * EFAULT. Allocation functions return NULL on failure (and for size 0, as memkind does).
 */
#pragma once
#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>

#if defined(__GNUC__)
#define HBW_EXPORT_API __attribute__((visibility("default")))
#else
#define HBW_EXPORT_API
#endif

/* What happens when high-bandwidth memory runs short (set once, before the first hbw_ call). */
typedef enum {
    HBW_POLICY_BIND = 1,       /* only the nearest HBW node; fail with ENOMEM */
    HBW_POLICY_PREFERRED = 2,  /* nearest HBW node, else ordinary memory (the default) */
    HBW_POLICY_INTERLEAVE = 3, /* pages interleaved over all HBW nodes, 4 KiB pages only */
    HBW_POLICY_BIND_ALL = 4,   /* any HBW node; fail with ENOMEM */
    HBW_POLICY_MAX_VALUE
} hbw_policy_t;

/* Page size for hbw_posix_memalign_psize. The 1 GiB sizes are deprecated by memkind and never
 * available here. */
typedef enum {
    HBW_PAGESIZE_4KB = 1,
    HBW_PAGESIZE_2MB = 2,
    HBW_PAGESIZE_1GB_STRICT = 3,
    HBW_PAGESIZE_1GB = 4,
    HBW_PAGESIZE_MAX_VALUE
} hbw_pagesize_t;

/* Flags of hbw_verify_memory_region. */
typedef enum {
    HBW_TOUCH_PAGES = (1 << 0) /* read and rewrite one byte of every page before checking */
} hbw_verify_flags_t;

/* 0 when high-bandwidth memory exists, else ENODEV. */
HBW_EXPORT_API int hbw_check_available(void);
/* The current policy (HBW_POLICY_PREFERRED until set). */
HBW_EXPORT_API hbw_policy_t hbw_get_policy(void);
/* 0; EPERM on a second call or after the first allocation; EINVAL for an unknown mode. */
HBW_EXPORT_API int hbw_set_policy(hbw_policy_t mode);
/*
 * 0 when every page of [addr, addr+size) sits on a high-bandwidth NUMA node, -1 when some page
 * does not (or is not backed yet: pass HBW_TOUCH_PAGES to fault them in), EINVAL for a NULL
 * addr, size 0 or unknown flags, EFAULT when the pages' placement cannot be read.
 */
HBW_EXPORT_API int hbw_verify_memory_region(void *addr, size_t size, int flags);

HBW_EXPORT_API void *hbw_malloc(size_t size);
HBW_EXPORT_API void *hbw_calloc(size_t nmemb, size_t size);
/* Resize ptr on the policy's kind (the data moves there if it was elsewhere). */
HBW_EXPORT_API void *hbw_realloc(void *ptr, size_t size);
HBW_EXPORT_API void hbw_free(void *ptr);
HBW_EXPORT_API size_t hbw_malloc_usable_size(void *ptr);
/* 0, EINVAL (bad alignment) or ENOMEM. */
HBW_EXPORT_API int hbw_posix_memalign(void **memptr, size_t alignment, size_t size);
/* As hbw_posix_memalign on pages of `pagesize`; EINVAL for a pagesize the policy does not
 * support (anything but 4 KiB with HBW_POLICY_INTERLEAVE, 1 GiB with BIND_ALL). */
HBW_EXPORT_API int hbw_posix_memalign_psize(void **memptr, size_t alignment, size_t size,
                                            hbw_pagesize_t pagesize);

#ifdef __cplusplus
}
#endif
