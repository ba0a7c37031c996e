/*
 * memkind 1.14's hbwmalloc API over the MEMKIND_HBW* kinds. The policy is set at most once, and
 * only before the first allocation; the first allocation fixes it. PREFERRED falls back to
 * MEMKIND_DEFAULT (MEMKIND_HUGETLB for 2 MiB pages) when the machine has no HBW memory, as
 * memkind does; BIND, BIND_ALL and INTERLEAVE then fail with ENOMEM.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hbwmalloc.h"
#include "internal.h"
#include "memkind.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations" /* the 1 GiB kinds */

/* Policy word: the hbw_policy_t value (0: never set) and FIXED once set or allocated with. */
#define FIXED 0x100
static _Atomic int policy_word;

static hbw_policy_t current_policy(void) {
    int p = atomic_load_explicit(&policy_word, memory_order_acquire) & 0xff;
    return p ? (hbw_policy_t)p : HBW_POLICY_PREFERRED;
}

/* Freeze the policy at the first allocation; returns it. */
static hbw_policy_t freeze_policy(void) {
    int w = atomic_load_explicit(&policy_word, memory_order_acquire);
    while (!(w & FIXED) && !atomic_compare_exchange_weak(&policy_word, &w, w | FIXED)) {}
    return current_policy();
}

HBW_EXPORT_API int hbw_set_policy(hbw_policy_t mode) {
    if (mode < HBW_POLICY_BIND || mode >= HBW_POLICY_MAX_VALUE) return EINVAL;
    int expected = 0;
    return atomic_compare_exchange_strong(&policy_word, &expected, (int)mode | FIXED) ? 0 : EPERM;
}

HBW_EXPORT_API hbw_policy_t hbw_get_policy(void) { return current_policy(); }

HBW_EXPORT_API int hbw_check_available(void) {
    return memkind_check_available(MEMKIND_HBW) == MEMKIND_SUCCESS ? 0 : ENODEV;
}

/* The kind for policy and page size, NULL when the pair is unsupported (EINVAL). */
static memkind_t kind_for(hbw_policy_t policy, hbw_pagesize_t psize) {
    memkind_t k = NULL;
    switch (psize) {
    case HBW_PAGESIZE_4KB:
        k = policy == HBW_POLICY_BIND         ? MEMKIND_HBW
            : policy == HBW_POLICY_BIND_ALL   ? MEMKIND_HBW_ALL
            : policy == HBW_POLICY_INTERLEAVE ? MEMKIND_HBW_INTERLEAVE
                                              : MEMKIND_HBW_PREFERRED;
        if (policy == HBW_POLICY_PREFERRED && memkind_check_available(k) != MEMKIND_SUCCESS)
            k = MEMKIND_DEFAULT;
        return k;
    case HBW_PAGESIZE_2MB:
        k = policy == HBW_POLICY_BIND        ? MEMKIND_HBW_HUGETLB
            : policy == HBW_POLICY_BIND_ALL  ? MEMKIND_HBW_ALL_HUGETLB
            : policy == HBW_POLICY_PREFERRED ? MEMKIND_HBW_PREFERRED_HUGETLB
                                             : NULL;
        if (policy == HBW_POLICY_PREFERRED && memkind_check_available(k) != MEMKIND_SUCCESS)
            k = MEMKIND_HUGETLB;
        return k;
    case HBW_PAGESIZE_1GB:
    case HBW_PAGESIZE_1GB_STRICT:
        return policy == HBW_POLICY_BIND        ? MEMKIND_HBW_GBTLB
               : policy == HBW_POLICY_PREFERRED ? MEMKIND_HBW_PREFERRED_GBTLB
                                                : NULL;
    default: return NULL;
    }
}

static memkind_t alloc_kind(void) { return kind_for(freeze_policy(), HBW_PAGESIZE_4KB); }

HBW_EXPORT_API void *hbw_malloc(size_t size) { return memkind_malloc(alloc_kind(), size); }

HBW_EXPORT_API void *hbw_calloc(size_t nmemb, size_t size) {
    return memkind_calloc(alloc_kind(), nmemb, size);
}

HBW_EXPORT_API void *hbw_realloc(void *ptr, size_t size) {
    return memkind_realloc(alloc_kind(), ptr, size);
}

HBW_EXPORT_API void hbw_free(void *ptr) { memkind_free(NULL, ptr); }

HBW_EXPORT_API size_t hbw_malloc_usable_size(void *ptr) {
    return memkind_malloc_usable_size(NULL, ptr);
}

HBW_EXPORT_API int hbw_posix_memalign(void **memptr, size_t alignment, size_t size) {
    return memkind_posix_memalign(alloc_kind(), memptr, alignment, size);
}

HBW_EXPORT_API int hbw_posix_memalign_psize(void **memptr, size_t alignment, size_t size,
                                            hbw_pagesize_t pagesize) {
    if (pagesize < HBW_PAGESIZE_4KB || pagesize >= HBW_PAGESIZE_MAX_VALUE) return EINVAL;
    if (pagesize == HBW_PAGESIZE_1GB_STRICT && size % ((size_t)1 << 30)) return EINVAL;
    memkind_t k = kind_for(freeze_policy(), pagesize);
    if (!k) return EINVAL;
    return memkind_posix_memalign(k, memptr, alignment, size);
}

/* ---- placement ---- */

/* The high-bandwidth NUMA nodes (overrides applied) in *m; false when there are none. */
static bool hbw_nodes(tc_nodemask_t *m) {
    memset(m, 0, sizeof *m);
    const char *why;
    return tc__topology_target(TC_NODES_HBW_ALL, tc__topology_cpu_node(), m, &why) == TC_OK;
}

HBW_EXPORT_API int hbw_verify_memory_region(void *addr, size_t size, int flags) {
    if (!addr || !size || (flags & ~HBW_TOUCH_PAGES)) return EINVAL;
    const uintptr_t page = (uintptr_t)tc__os_page_size();
    uintptr_t first = (uintptr_t)addr & ~(page - 1);
    uintptr_t end = (uintptr_t)addr + size;
    if (end < (uintptr_t)addr) return EINVAL;
    if (flags & HBW_TOUCH_PAGES) {
        for (uintptr_t a = first; a < end; a += page) {
            volatile char *c = (volatile char *)(a < (uintptr_t)addr ? (uintptr_t)addr : a);
            *c = *c;
        }
    }
    tc_nodemask_t hbw;
    bool have_hbw = hbw_nodes(&hbw);
    enum { BATCH = 256 };
    void *pages[BATCH];
    int status[BATCH];
    int result = 0;
    for (uintptr_t a = first; a < end;) {
        unsigned long n = 0;
        for (; n < BATCH && a < end; n++, a += page) pages[n] = (void *)a;
        /* With no target nodes, move_pages only reports where each page is. */
        if (tc__os_pages_nodes(pages, n, status)) return EFAULT;
        for (unsigned long i = 0; i < n; i++) {
            int node = status[i];
            if (node == -EFAULT) return EFAULT; /* not mapped at all */
            if (node < 0 || !have_hbw || !tc__mask_has(&hbw, (unsigned)node))
                result = -1; /* not faulted in, or on an ordinary node */
        }
    }
    return result;
}
