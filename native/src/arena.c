/*
 * malloc, calloc, posix_memalign, realloc, free, usable_size and defrag, written once for
 * every kind. DRAM goes straight to jemalloc's automatic arenas; every other kind allocates
 * from its own arenas through this thread's cache for that kind (tcache.c).
 *
 * Free never trusts the kind argument: the address index (ptrmap.c) names the owner in two
 * loads, so a free with NULL or with the wrong kind still returns memory where it belongs.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

#define TCACHE_BITS (0xfff << 8)

/* An arena kind that can allocate now (has arenas, not detached by fork). */
static bool can_allocate(const tc_kind_t *k) {
    return k->narenas && !atomic_load_explicit(&k->detached, memory_order_relaxed);
}

static void *arena_alloc(tc_kind_t *k, size_t size, int extra) {
    if (TC_UNLIKELY(!can_allocate(k))) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = tc_je_mallocx(size ? size : 1, tc__kind_flags(k) | extra);
    if (TC_UNLIKELY(!p)) errno = ENOMEM;
    return p;
}

TC_API void *tc_malloc(tc_kind_t *kind, size_t size) {
    if (TC_UNLIKELY(!kind)) {
        errno = EINVAL;
        return NULL;
    }
    if (TC_LIKELY(kind->flags & TC_KIND_AUTO_ARENAS)) return tc_je_malloc(size);
    uint32_t id = kind->id;
    if (TC_LIKELY(id < tc__tl_cap && tc__tl_slots[id].gen == kind->gen && size &&
                  !atomic_load_explicit(&tc__forked, memory_order_relaxed))) {
        void *p = tc_je_mallocx(size, tc__tl_slots[id].flags);
        if (TC_LIKELY(p)) return p;
    }
    return arena_alloc(kind, size, 0);
}

TC_API void *tc_calloc(tc_kind_t *kind, size_t n, size_t size) {
    size_t total;
    if (TC_UNLIKELY(!kind)) {
        errno = EINVAL;
        return NULL;
    }
    if (TC_UNLIKELY(__builtin_mul_overflow(n, size, &total))) {
        errno = ENOMEM;
        return NULL;
    }
    if (kind->flags & TC_KIND_AUTO_ARENAS) return tc_je_calloc(1, total);
    return arena_alloc(kind, total, MALLOCX_ZERO);
}

TC_API int tc_posix_memalign(tc_kind_t *kind, void **out, size_t alignment, size_t size) {
    if (!kind || !out) return EINVAL;
    if (alignment < sizeof(void *) || (alignment & (alignment - 1))) return EINVAL;
    if (kind->flags & TC_KIND_AUTO_ARENAS) return tc_je_posix_memalign(out, alignment, size);
    void *p = arena_alloc(kind, size, MALLOCX_ALIGN(alignment));
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

static void free_owned(tc_kind_t *k, void *ptr) {
    if (TC_UNLIKELY(atomic_load_explicit(&k->detached, memory_order_relaxed)))
        return; /* a forked child never touches a detached kind's memory */
    tc_je_dallocx(ptr, tc__kind_flags(k));
}

TC_API void tc_free(tc_kind_t *kind, void *ptr) {
    if (TC_UNLIKELY(!ptr)) return;
    uint16_t id = tc__ptrmap_get(ptr);
    if (TC_LIKELY(id == 0)) {
        tc_je_free(ptr);
        return;
    }
    int flags = tc__id_flags_fast(id);
    if (TC_LIKELY(flags && !atomic_load_explicit(&tc__forked, memory_order_relaxed))) {
        tc_je_dallocx(ptr, flags);
        return;
    }
    tc_kind_t *k = atomic_load_explicit(&tc__slots[id], memory_order_acquire);
    if (k) free_owned(k, ptr);
}

TC_API size_t tc_usable_size(tc_kind_t *kind, const void *ptr) {
    return ptr ? tc_je_malloc_usable_size((void *)ptr) : 0;
}

TC_API void *tc_realloc(tc_kind_t *kind, void *ptr, size_t size) {
    if (!ptr) return tc_malloc(kind ? kind : &tc__kind_dram, size);
    if (size == 0) {
        tc_free(kind, ptr);
        return NULL;
    }
    tc_kind_t *owner = tc__kind_of(ptr);
    tc_kind_t *target = kind ? kind : owner;
    if (target != owner) { /* move the data to the requested kind */
        void *p = tc_malloc(target, size);
        if (!p) return NULL;
        size_t old = tc_je_malloc_usable_size(ptr);
        memcpy(p, ptr, old < size ? old : size);
        tc_free(owner, ptr);
        return p;
    }
    if (target->flags & TC_KIND_AUTO_ARENAS) return tc_je_realloc(ptr, size);
    if (!can_allocate(target)) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = tc_je_rallocx(ptr, size, tc__kind_flags(target));
    if (!p) errno = ENOMEM;
    return p;
}

/* jemalloc's experimental.utilization.query output (5.3.0). */
struct utilization {
    void *slabcur; /* the slab a new allocation of this size would come from, or NULL */
    size_t nfree, nregs, size; /* of the slab holding the pointer */
    size_t bin_nfree, bin_nregs; /* over the bin's slabs */
};

static size_t util_mib[3];
static size_t util_miblen;
static pthread_once_t util_once = PTHREAD_ONCE_INIT;

static void util_init(void) {
    util_miblen = 3;
    if (tc_je_mallctlnametomib("experimental.utilization.query", util_mib, &util_miblen))
        util_miblen = 0;
}

/* Moving helps when ptr's slab is not the one being filled and is used less than the bin's
 * average, so that emptying it lets its pages go. */
static bool worth_moving(const struct utilization *u, const void *ptr) {
    if (u->nregs <= 1 || !u->slabcur || u->nfree == 0) return false;
    uintptr_t cur = (uintptr_t)u->slabcur, p = (uintptr_t)ptr;
    if (p >= cur && p < cur + u->size) return false;
    return (u->nregs - u->nfree) * u->bin_nregs < (u->bin_nregs - u->bin_nfree) * u->nregs;
}

TC_API void *tc_defrag_reallocate(tc_kind_t *kind, void *ptr) {
    if (!ptr) return NULL;
    tc_kind_t *k = tc__kind_of(ptr);
    pthread_once(&util_once, util_init);
    if (!util_miblen || atomic_load(&k->detached)) return NULL;
    struct utilization u;
    size_t len = sizeof u;
    if (tc_je_mallctlbymib(util_mib, util_miblen, &u, &len, &ptr, sizeof ptr) ||
        !worth_moving(&u, ptr))
        return NULL;
    /* Bypass the thread cache both ways: it would hand back a slot of the same sparse slab. */
    int flags = MALLOCX_TCACHE_NONE;
    if (!(k->flags & TC_KIND_AUTO_ARENAS))
        flags |= tc__kind_flags(k) & ~TCACHE_BITS;
    size_t usable = tc_je_malloc_usable_size(ptr);
    void *p = tc_je_mallocx(usable, flags);
    if (!p) return NULL;
    memcpy(p, ptr, usable);
    tc_je_dallocx(ptr, MALLOCX_TCACHE_NONE);
    return p;
}
