/*
 * Fixed kinds: allocate from a memory area the caller owns. The page-aligned interior is
 * handed to jemalloc by a bump pointer; nothing is ever returned to the system (decommit is
 * not supported), and the area is the caller's to free after the kind is destroyed.
 *
 * Areas may overlap (memkind accepts that). The address index (ptrmap.c) then cannot name one
 * owner per granule, and it used to name the last or first area's kind: a free of another
 * kind's block went into that kind's thread cache, outliving the owner's arena, and the cache's
 * flush at destroy read freed extent metadata (SIGSEGV in tcache_bin_flush_impl). Now the part
 * of its area each kind has handed out is claimed in the index, claims never overlap (a kind
 * whose bump pointer reaches another's claim is out of memory), and shared granules are looked
 * up by claim.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct fixed_kind {
    uintptr_t start, end, cur; /* page-aligned interior and bump pointer */
    uintptr_t area;            /* the caller's area as given, for the address index */
    size_t area_len;
};

static void *fixed_reserve(tc_kind_t *k, size_t size, size_t align, bool *zero, bool *commit) {
    struct fixed_kind *f = k->priv;
    void *ret = NULL;
    pthread_mutex_lock(&k->lock);
    uintptr_t start = (f->cur + align - 1) & ~(uintptr_t)(align - 1);
    /* The claim keeps a kind whose area overlaps another's off memory that one handed out. */
    if (start >= f->cur && start <= f->end && size <= f->end - start &&
        tc__ptrmap_claim(k->id, f->cur, start + size)) {
        f->cur = start + size;
        ret = (void *)start;
    }
    pthread_mutex_unlock(&k->lock);
    if (!ret) {
        errno = ENOMEM;
        return NULL;
    }
    if (*zero) memset(ret, 0, size);
    *commit = true;
    return ret;
}

static int fixed_commit(tc_kind_t *k, void *addr, size_t size) { return 0; }

static bool fixed_can_merge(tc_kind_t *k, void *a, void *b) { return true; }

/* Also the cleanup of a kind whose creation failed (area_len 0: nothing indexed). */
static void fixed_release(tc_kind_t *k) {
    struct fixed_kind *f = k->priv;
    if (f->area_len) tc__ptrmap_clear_range(f->area, f->area_len, k->id);
    free(f);
    k->priv = NULL;
}

static int fixed_capacity(const tc_kind_t *k, size_t *out) {
    struct fixed_kind *f = k->priv;
    *out = f->area_len;
    return TC_OK;
}

/* The caller's area reaches a child as the caller mapped it: not ours to choose. */
static int fixed_set_fork_policy(tc_kind_t *k, tc_fork_policy_t policy) { return TC_ERR_NOTSUP; }

static const struct tc_kind_ops fixed_ops = {
    .reserve = fixed_reserve,
    .commit = fixed_commit,
    .can_merge = fixed_can_merge,
    .release = fixed_release,
    .capacity = fixed_capacity,
    .set_fork_policy = fixed_set_fork_policy,
};

TC_API int tc_kind_create_fixed(void *addr, size_t size, tc_kind_t **out) {
    if (!addr || !out) return TC_ERR_INVALID;
    size_t page = tc__os_page_size();
    uintptr_t a = (uintptr_t)addr, end = a + size;
    if (end < a) return TC_ERR_INVALID;
    uintptr_t start = (a + page - 1) & ~(uintptr_t)(page - 1);
    uintptr_t stop = end & ~(uintptr_t)(page - 1);
    if (stop <= start || stop - start < 4 * page) return TC_ERR_INVALID; /* too small */
    struct fixed_kind *f = calloc(1, sizeof *f);
    if (!f) return TC_ERR_NOMEM;
    *f = (struct fixed_kind){start, stop, start, a, 0}; /* area_len: set once indexed */
    tc_kind_t *k;
    /* never decays: nothing to return */
    int err = tc__kind_create(&fixed_ops, f, "fixed", 0, 1, TC_DECAY_NEVER, &k);
    if (err) return err;
    if (tc__ptrmap_assign_range(a, size, k->id)) {
        tc_kind_destroy(k);
        return TC_ERR_NOMEM;
    }
    f->area_len = size;
    *out = k;
    return TC_OK;
}
