/*
 * malloc, calloc, posix_memalign, realloc, free, usable_size and defrag, written once for
 * every kind. DRAM goes straight to jemalloc's automatic arenas; every other kind allocates
 * from its own arenas through this thread's cache for that kind (tcache.c).
 *
 * Small blocks (up to TC_FRONT_MAX) of an arena kind cycle through the thread's front cache:
 * malloc pops a block of the size class, free pushes one, both without entering jemalloc
 * (whose mallocx with explicit arena and tcache takes its slow entry). A miss allocates
 * through the jemalloc tcache. A free that finds its bin full goes to the jemalloc tcache, and
 * so do the frees after it until the next miss: a run of frees then costs one jemalloc call
 * each, without the size lookup that pushing needs.
 *
 * Free never trusts the kind argument: the address index (ptrmap.c) names the owner in two
 * loads, so a free with NULL or with the wrong kind still returns memory where it belongs.
 */
#include <errno.h>
#include <string.h>

#include "asan_poison.h"
#include "internal.h"

#ifdef TC_ASAN
_Atomic uintptr_t tc__asan_lo[TC_MAX_KINDS], tc__asan_hi[TC_MAX_KINDS];
#endif

#define TCACHE_BITS (0xfff << 8)

/* An arena kind that can allocate now (has arenas, not detached by fork). */
static bool can_allocate(const tc_kind_t *k) {
    return k->narenas && !atomic_load_explicit(&k->detached, memory_order_relaxed);
}

/* can_allocate, first making a lazy static kind's arenas. */
static bool ready(tc_kind_t *k) {
    if (TC_LIKELY(can_allocate(k))) return true;
    return (k->flags & TC_KIND_LAZY) && !tc__kind_activate(k) && can_allocate(k);
}

/* jemalloc keeps freed extents of a size-limited kind dirty, and uncoalesced, until they decay:
 * a request that none of them fits grows the arena, which fails at max_size although the
 * freed memory would serve it. Purging the arena coalesces them into retained extents, which
 * serve any size that fits; then the request is tried once more. */
static void *purged_retry(size_t size, int flags) {
    unsigned arena = (unsigned)(flags >> 20) - 1;
    if (tc__mallctl_arena_u(arena, "purge", NULL, 0)) return NULL;
    return tc_je_mallocx(size, flags);
}

/* mallocx inside cache c's busy section. On failure the cache's blocks go back to jemalloc
 * and it tries once more: they may be what a kind at its max_size is missing. */
static void *cached_mallocx(struct tc_tcache *c, size_t size, int flags) {
    void *p = tc_je_mallocx(size, flags);
    if (TC_UNLIKELY(!p) && c) {
        tc__tcache_drain(c);
        p = tc_je_mallocx(size, flags);
    }
    if (TC_UNLIKELY(!p)) p = purged_retry(size, flags);
    return p;
}

static void *arena_alloc(tc_kind_t *k, size_t size, int extra) {
    if (TC_UNLIKELY(!ready(k))) {
        errno = ENOMEM;
        return NULL;
    }
    struct tc_tcache *c;
    int flags = tc__kind_flags(k, &c) | extra;
    tc__tcache_enter(c);
    void *p = cached_mallocx(c, size ? size : 1, flags);
    tc__tcache_leave(c);
    if (TC_UNLIKELY(!p)) errno = ENOMEM;
    return p;
}

/* tc_malloc for an arena kind; out of line so that DRAM's path saves no registers. */
static __attribute__((noinline)) void *kind_malloc(tc_kind_t *kind, size_t size) {
    struct tc_tl *tl = tc__tl();
    uint32_t id = kind->id;
    if (TC_LIKELY(id < tl->cap)) {
        struct tc_tl_slot *s = &tl->slots[id];
        struct tc_tcache *c = s->cache;
        if (TC_LIKELY(s->gen == kind->gen && c && size && tc__tcache_enter_front(c))) {
            void *p;
            if (TC_LIKELY(size - 1 < tc__front_limit)) {
                unsigned cls = tc__front_class[(size - 1) >> 3];
                if (TC_LIKELY(c->n[cls])) {
                    p = c->blk[cls][--c->n[cls]];
                    tc__tcache_leave(c);
                    return p;
                }
            }
            c->spilling = false;
            p = cached_mallocx(c, size, c->flags);
            tc__tcache_leave(c);
            if (TC_UNLIKELY(!p)) errno = ENOMEM;
            return p;
        }
    }
    return arena_alloc(kind, size, 0);
}

TC_API void *tc_malloc(tc_kind_t *kind, size_t size) {
    if (TC_UNLIKELY(!kind)) {
        errno = EINVAL;
        return NULL;
    }
    void *p = TC_LIKELY(kind->flags & TC_KIND_AUTO_ARENAS) ? tc_je_malloc(size)
                                                           : kind_malloc(kind, size);
    TC_ASAN_ALLOCATED(p);
    return p;
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
    void *p = arena_alloc(kind, total, TC_ASAN_MALLOCX_ZERO);
    TC_ASAN_ALLOCATED(p);
    TC_ASAN_ZERO(p, total);
    return p;
}

/* As POSIX's: the result is the error, and errno is left as it was, whatever the providers
 * set on the way (a PMEM kind mapping its file, a failed first attempt). */
TC_API int tc_posix_memalign(tc_kind_t *kind, void **out, size_t alignment, size_t size) {
    if (!kind || !out) return EINVAL;
    if (alignment < sizeof(void *) || (alignment & (alignment - 1))) return EINVAL;
    int saved = errno, e = 0;
    if (kind->flags & TC_KIND_AUTO_ARENAS) {
        e = tc_je_posix_memalign(out, alignment, size);
        if (!e) TC_ASAN_ALLOCATED(*out);
    } else {
        void *p = arena_alloc(kind, size, MALLOCX_ALIGN(alignment));
        if (p) {
            TC_ASAN_ALLOCATED(p);
            *out = p;
        } else {
            e = ENOMEM;
        }
    }
    errno = saved;
    return e;
}

static void free_owned(tc_kind_t *k, void *ptr) {
    if (TC_UNLIKELY(atomic_load_explicit(&k->detached, memory_order_relaxed)))
        return; /* a forked child never touches a detached kind's memory */
    struct tc_tcache *c;
    int flags = tc__kind_flags(k, &c);
    tc__tcache_enter(c);
    tc_je_dallocx(ptr, flags);
    tc__tcache_leave(c);
}

/* tc_free for memory of arena kind id; out of line like kind_malloc. */
static __attribute__((noinline)) void kind_free(uint16_t id, void *ptr) {
    struct tc_tcache *c = tc__id_cache_fast(id);
    if (TC_LIKELY(c)) {
        /* The size lookup runs before entering: inside, it cost ~7 ns more (measured). A run
         * of frees (spilling) skips it: those go to jemalloc, which looks the size up. */
        size_t usize = TC_UNLIKELY(c->spilling) ? 0 : tc_je_sallocx(ptr, 0);
        if (TC_LIKELY(tc__tcache_enter_front(c))) {
            bool small = usize - 1 < tc__front_limit;
            unsigned cls = small ? tc__front_class[(usize - 1) >> 3] : 0;
            if (TC_LIKELY(small && c->n[cls] < TC_FRONT_CAP)) {
                c->blk[cls][c->n[cls]++] = ptr;
            } else if (usize) {
                c->spilling = small;
                tc_je_sdallocx(ptr, usize, c->flags);
            } else {
                tc_je_dallocx(ptr, c->flags);
            }
            tc__tcache_leave(c);
            return;
        }
    }
    tc_kind_t *k = atomic_load_explicit(&tc__slots[id], memory_order_acquire);
    if (k) free_owned(k, ptr);
}

TC_API void tc_free(tc_kind_t *kind, void *ptr) {
    if (TC_UNLIKELY(!ptr)) return;
    uint16_t id = tc__ptrmap_get(ptr);
    if (TC_LIKELY(id == 0)) { /* DRAM blocks are not poisoned: jemalloc reuses them itself */
        tc_je_free(ptr);
        return;
    }
    TC_ASAN_FREEING(id, ptr);
    kind_free(id, ptr);
}

TC_API size_t tc_usable_size(tc_kind_t *kind, const void *ptr) {
    return ptr ? tc_je_malloc_usable_size((void *)ptr) : 0;
}

/*
 * In place when jemalloc can resize the block to the size class a fresh allocation of `size`
 * would get (xallocx), else moved: tc_malloc, copy, tc_free, the same way as to another kind.
 * jemalloc's rallocx would do the same, but its copy would write into a block that may still be
 * poisoned in ASan builds; with the copy here every build runs this one path.
 */
TC_API void *tc_realloc(tc_kind_t *kind, void *ptr, size_t size) {
    if (!ptr) return tc_malloc(kind ? kind : &tc__kind_dram, size);
    if (size == 0) {
        tc_free(kind, ptr);
        return NULL;
    }
    tc_kind_t *owner = tc__kind_of(ptr);
    tc_kind_t *target = kind ? kind : owner;
    if (target == owner && (target->flags & TC_KIND_AUTO_ARENAS)) {
        void *p = tc_je_realloc(ptr, size);
        TC_ASAN_ALLOCATED(p);
        return p;
    }
    if (target == owner) {
        if (!ready(target)) {
            errno = ENOMEM;
            return NULL;
        }
        size_t want = tc_je_nallocx(size, 0);
        if (want && tc_je_xallocx(ptr, size, 0, 0) == want) {
            TC_ASAN_ALLOCATED(ptr); /* it may have grown over freed, poisoned memory */
            return ptr;
        }
    }
    void *p = tc_malloc(target, size);
    if (!p) return NULL;
    size_t old = tc_je_malloc_usable_size(ptr);
    memcpy(p, ptr, old < size ? old : size);
    tc_free(owner, ptr);
    return p;
}

/* jemalloc's experimental.utilization.query output (5.3.0). */
struct utilization {
    void *slabcur; /* the slab a new allocation of this size would come from, or NULL */
    size_t nfree, nregs, size;   /* of the slab holding the pointer */
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
    if (!(k->flags & TC_KIND_AUTO_ARENAS)) {
        struct tc_tcache *c;
        flags |= tc__kind_flags(k, &c) & ~TCACHE_BITS;
    }
    size_t usable = tc_je_malloc_usable_size(ptr);
    void *p = tc_je_mallocx(usable, flags);
    if (!p) return NULL;
    TC_ASAN_ALLOCATED(p);
    memcpy(p, ptr, usable);
    if (!(k->flags & TC_KIND_AUTO_ARENAS)) TC_ASAN_FREEING(k->id, ptr);
    tc_je_dallocx(ptr, MALLOCX_TCACHE_NONE);
    return p;
}
