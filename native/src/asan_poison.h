/*
 * AddressSanitizer cannot see inside jemalloc (not instrumented, memory from mmap): in an ASan
 * build the allocation API marks blocks it hands out addressable and blocks given back
 * poisoned, so that a read of a freed block (a stale zero-copy view, say) is reported.
 *
 * Only blocks of arena kinds (file, fixed, NUMA) are poisoned: DRAM blocks share jemalloc's
 * automatic arenas with its own metadata, which it writes with uninstrumented memset/memcpy.
 * Poison strictly before a block goes back (another thread may get it at once), unpoison
 * after one comes out. Each kind remembers the span it poisoned, unpoisoned when the kind is
 * destroyed (its addresses may come back as anyone's memory); unpoisoning whole reservations
 * instead would write terabytes of shadow. All of this is compiled out of other builds.
 */
#ifndef TC_ASAN_POISON_H
#define TC_ASAN_POISON_H

#if defined(__SANITIZE_ADDRESS__)
#define TC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TC_ASAN 1
#endif
#endif

#ifdef TC_ASAN
#include <sanitizer/asan_interface.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

/* The span [lo, hi) each kind id has poisoned; 0 when none. */
extern _Atomic uintptr_t tc__asan_lo[TC_MAX_KINDS], tc__asan_hi[TC_MAX_KINDS];

static inline void tc__asan_allocated(void *p) {
    if (p) ASAN_UNPOISON_MEMORY_REGION(p, tc_je_malloc_usable_size(p));
}

/* Poison block p of arena kind id as it goes back; not for a detached kind's memory (and
 * metadata), which a forked child must not touch. */
static inline void tc__asan_freeing(uint16_t id, void *p) {
    if (!p || !id) return;
    tc_kind_t *k = atomic_load_explicit(&tc__slots[id], memory_order_acquire);
    if (!k || atomic_load(&k->detached)) return;
    size_t len = tc_je_malloc_usable_size(p);
    uintptr_t a = (uintptr_t)p, b = a + len, cur;
    cur = atomic_load(&tc__asan_lo[id]);
    while ((cur == 0 || a < cur) && !atomic_compare_exchange_weak(&tc__asan_lo[id], &cur, a)) {}
    cur = atomic_load(&tc__asan_hi[id]);
    while (b > cur && !atomic_compare_exchange_weak(&tc__asan_hi[id], &cur, b)) {}
    ASAN_POISON_MEMORY_REGION(p, len);
}

static inline void tc__asan_kind_gone(uint16_t id) {
    uintptr_t a = atomic_exchange(&tc__asan_lo[id], 0), b = atomic_exchange(&tc__asan_hi[id], 0);
    if (a && b > a) ASAN_UNPOISON_MEMORY_REGION((void *)a, b - a);
}

/* calloc of an arena kind: jemalloc would zero a block that may still be poisoned (its memset
 * is checked), so the ASan build asks for an unzeroed block and zeroes it once unpoisoned. */
#define TC_ASAN_MALLOCX_ZERO 0
#define TC_ASAN_ZERO(p, n) ((p) ? (void)memset((p), 0, (n)) : (void)0)
#define TC_ASAN_ALLOCATED(p) tc__asan_allocated(p)
#define TC_ASAN_FREEING(id, p) tc__asan_freeing((id), (p))
#define TC_ASAN_KIND_GONE(id) tc__asan_kind_gone(id)
#else
#define TC_ASAN_MALLOCX_ZERO MALLOCX_ZERO
#define TC_ASAN_ZERO(p, n) ((void)0)
#define TC_ASAN_ALLOCATED(p) ((void)0)
#define TC_ASAN_FREEING(id, p) ((void)0)
#define TC_ASAN_KIND_GONE(id) ((void)0)
#endif

#endif
