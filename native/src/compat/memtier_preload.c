/*
 * The LD_PRELOAD tiering library (see tiercache/memtier_preload.h): the malloc family, each
 * call placed on the tier MEMKIND_MEM_TIERS's policy picks and accounted to that tier's kind.
 *
 * The DRAM tier is glibc's malloc (__libc_*): a pointer whose address tiercache's index does
 * not own is glibc's, so memory from before start-up, from re-entrant calls (tiercache's own
 * bookkeeping) and from a run on plain malloc is always freed by the right allocator.
 * Start-up happens on the first call; until it finishes (and on any thread re-entering from
 * inside tiercache) calls go to glibc.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "memtier_internal.h"
#include "tiercache/memtier_preload.h"

#define EXPORT __attribute__((visibility("default")))

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

enum { UNINIT, STARTING, TIERED, PLAIN };
static _Atomic int state = UNINIT;
static struct memtier_memory *tiers;
static size_t (*libc_usable_size)(void *);
/* Depth of calls into tiercache on this thread: a re-entrant malloc goes to glibc. */
static __thread __attribute__((tls_model("initial-exec"))) int depth;

static void start(void) {
    int expected = UNINIT;
    if (!atomic_compare_exchange_strong(&state, &expected, STARTING)) return;
    depth++;
    libc_usable_size = (size_t(*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
    const char *text = NULL, *thresholds = NULL;
    char err[512];
    int next = PLAIN;
    if (!libc_usable_size) {
        snprintf(err, sizeof err, "cannot find the C library's malloc_usable_size");
    } else if (tc__option_str(TC_OPT_MEM_TIERS, &text) || !text) {
        snprintf(err, sizeof err, "MEMKIND_MEM_TIERS is not set");
    } else {
        tc__option_str(TC_OPT_MEM_THRESHOLDS, &thresholds);
        if (tc__memtier_from_env(text, thresholds, &tiers, err, sizeof err) == MEMKIND_SUCCESS)
            next = TIERED;
    }
    if (next == PLAIN)
        fprintf(stderr, "libtiercache_memtier: %s; running on the C library's malloc\n", err);
    depth--;
    atomic_store_explicit(&state, next, memory_order_release);
}

/* True when this call should be tiered (starting the library on the first call). */
static inline bool tiered(void) {
    int s = atomic_load_explicit(&state, memory_order_acquire);
    if (TC_UNLIKELY(s == UNINIT)) {
        if (depth) return false;
        start();
        s = atomic_load_explicit(&state, memory_order_acquire);
    }
    return s == TIERED && !depth;
}

static size_t glibc_usable(void *p) {
    if (libc_usable_size) return libc_usable_size(p);
    return 0;
}

/* The tiercache kind owning p, or NULL when p is glibc's. */
static inline tc_kind_t *owner(void *p) {
    tc_kind_t *k = tc_detect_kind(p);
    return k == &tc__kind_dram ? NULL : k;
}

static inline void account(memkind_t k, size_t bytes, bool add) {
    tc__memtier_account(k, add ? (int64_t)bytes : -(int64_t)bytes);
}

/* Allocate size bytes aligned to align (0: malloc's alignment), zeroed when zero, on the
 * picked tier. Returns NULL with errno set on failure. */
static void *tier_alloc(size_t size, size_t align, bool zero) {
    depth++;
    memkind_t k = tc__memtier_pick(tiers, size);
    void *p;
    if (k == MEMKIND_DEFAULT) {
        p = align  ? __libc_memalign(align, size)
            : zero ? __libc_calloc(1, size)
                   : __libc_malloc(size);
        if (p) account(k, glibc_usable(p), true);
    } else {
        tc_kind_t *tk = (tc_kind_t *)k;
        if (align) {
            int e = tc_posix_memalign(tk, &p, align, size);
            if (e) {
                p = NULL;
                errno = e;
            }
        } else {
            p = zero ? tc_calloc(tk, 1, size) : tc_malloc(tk, size);
        }
        if (p) account(k, tc_usable_size(tk, p), true);
    }
    depth--;
    if (!p) errno = ENOMEM;
    return p;
}

EXPORT void *malloc(size_t size) {
    if (!tiered()) return __libc_malloc(size);
    return tier_alloc(size, 0, false);
}

EXPORT void *calloc(size_t n, size_t size) {
    if (!tiered()) return __libc_calloc(n, size);
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return tier_alloc(total, 0, true);
}

EXPORT void free(void *p) {
    if (!p) return;
    tc_kind_t *k = owner(p);
    if (k) {
        depth++;
        account((memkind_t)k, tc_usable_size(k, p), false);
        tc_free(k, p);
        depth--;
        return;
    }
    if (atomic_load_explicit(&state, memory_order_relaxed) == TIERED)
        account(MEMKIND_DEFAULT, glibc_usable(p), false);
    __libc_free(p);
}

EXPORT void *realloc(void *p, size_t size) {
    if (!p) return malloc(size);
    tc_kind_t *k = owner(p);
    if (!k) {
        bool count = atomic_load_explicit(&state, memory_order_relaxed) == TIERED;
        size_t old = count ? glibc_usable(p) : 0;
        void *np = __libc_realloc(p, size);
        if (count && (np || !size)) {
            account(MEMKIND_DEFAULT, old, false);
            if (np) account(MEMKIND_DEFAULT, glibc_usable(np), true);
        }
        return np;
    }
    /* tiercache memory stays on its tier; size 0 frees it, as glibc's realloc does */
    depth++;
    size_t old = tc_usable_size(k, p);
    void *np = tc_realloc(k, p, size);
    if (np || !size) {
        account((memkind_t)k, old, false);
        if (np) account((memkind_t)k, tc_usable_size(k, np), true);
    }
    depth--;
    return np;
}

EXPORT void *reallocarray(void *p, size_t n, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, total);
}

EXPORT size_t malloc_usable_size(void *p) {
    if (!p) return 0;
    tc_kind_t *k = owner(p);
    if (k) return tc_usable_size(k, p);
    if (!libc_usable_size) { /* before start-up finished */
        depth++;
        libc_usable_size = (size_t(*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
        depth--;
    }
    return glibc_usable(p);
}

/* Aligned allocation for every aligned entry point; align a power of two. */
static void *aligned(size_t align, size_t size) {
    if (align < sizeof(void *)) align = sizeof(void *);
    if (!tiered()) return __libc_memalign(align, size);
    return tier_alloc(size, align, false);
}

static bool power_of_two(size_t x) { return x && !(x & (x - 1)); }

EXPORT int posix_memalign(void **out, size_t align, size_t size) {
    if (!power_of_two(align) || align % sizeof(void *)) return EINVAL;
    int saved = errno;
    void *p = aligned(align, size);
    if (!p) return ENOMEM;
    errno = saved;
    *out = p;
    return 0;
}

EXPORT void *aligned_alloc(size_t align, size_t size) {
    if (!power_of_two(align)) { /* glibc 2.38's rule: the alignment must be valid */
        errno = EINVAL;
        return NULL;
    }
    return aligned(align, size);
}

EXPORT void *memalign(size_t align, size_t size) {
    if (align > ((size_t)1 << 62)) {
        errno = EINVAL;
        return NULL;
    }
    size_t a = 1;
    while (a < align) a <<= 1; /* glibc rounds a non-power-of-two alignment up */
    return aligned(a, size);
}

EXPORT void *valloc(size_t size) { return aligned((size_t)sysconf(_SC_PAGESIZE), size); }

EXPORT void *pvalloc(size_t size) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t rounded = (size + page - 1) & ~(page - 1);
    if (rounded < size) {
        errno = ENOMEM;
        return NULL;
    }
    return aligned(page, rounded ? rounded : page);
}

/* ---- accounting for the preloaded program ---- */
EXPORT unsigned tc_memtier_preload_tiers(void) {
    tiered();
    return atomic_load(&state) == TIERED ? tc__memtier_ntiers(tiers) : 0;
}

EXPORT int tc_memtier_preload_allocated(unsigned tier, size_t *bytes, const char **kind_name) {
    if (tier >= tc_memtier_preload_tiers()) return TC_ERR_INVALID;
    memkind_t k = tc__memtier_tier_kind(tiers, tier);
    if (bytes) *bytes = memtier_kind_allocated_size(k);
    if (kind_name) *kind_name = tc_kind_name((tc_kind_t *)k);
    return TC_OK;
}
