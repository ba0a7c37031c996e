/*
 * The cache and fork().
 *
 * Policy: a forked child inherits a copy of the cache's DRAM, but not the memory of its
 * file-backed tiers (see tc_kind_create_file: detached in the child). A cache with such a
 * tier is therefore unusable in the child: every call returns TC_ERR_FORKED; destroy leaves
 * the child's copy alone. A cache whose tiers are all inherited keeps working in the child as
 * a private copy. The parent is never affected.
 *
 * Locks: every live cache is on a list; fork() takes each cache's mutex before any other lock
 * of the library (these handlers are registered after the registry's, so they prepare first),
 * so a child never finds a cache locked by a thread it does not have, nor half-updated.
 *
 * Zero-copy views: a reader's pinned value on a tier the child does not inherit is made a
 * private copy in the child (the kind's fork_keep op), so a view taken before fork() reads
 * the same bytes in the child. The parent's forking thread waits for those copies with the
 * caches still locked, so no pinned block is freed or reused meanwhile.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "cache_internal.h"

_Atomic unsigned tc__fork_generation;

bool tc__cache_forked(tc_cache_t *c) {
    unsigned now = atomic_load_explicit(&tc__fork_generation, memory_order_relaxed);
    if (TC_LIKELY(atomic_load_explicit(&c->fork_gen, memory_order_relaxed) == now)) return false;
    for (size_t t = 0; t < c->ntiers; t++)
        if (atomic_load(&c->tiers[t].kind->detached)) return true;
    atomic_store_explicit(&c->fork_gen, now, memory_order_relaxed); /* all inherited */
    return false;
}

/* The live caches (never freed struct memory is not assumed: a cache leaves in release). */
static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;
static tc_cache_t **caches;
static size_t ncaches, cap_caches;
static pthread_once_t handlers_once = PTHREAD_ONCE_INIT;
static int copied_pipe[2] = {-1, -1}; /* the child says "pinned values copied" through it */

/* Calls fn on every pinned block of c (a reader holds it) on a tier whose kind a child may
 * not inherit. */
static size_t each_pinned(tc_cache_t *c, void (*fn)(tc_kind_t *, void *, size_t)) {
    size_t n = 0;
    for (size_t b = 0; b < c->pins.nbuckets; b++)
        for (struct tc_pin *r = c->pins.buckets[b]; r; r = r->next) {
            if (r->tier == 0 || r->tier >= c->ntiers || !tc__pin_readers(r)) continue;
            tc_kind_t *k = c->tiers[r->tier].kind;
            if (!k->ops->fork_keep || !r->charged) continue;
            if (fn) fn(k, r->block, r->charged);
            n++;
        }
    return n;
}

static void keep_block(tc_kind_t *k, void *block, size_t len) {
    if (atomic_load(&k->detached)) k->ops->fork_keep(k, block, len);
}

static void prepare(void) {
    pthread_mutex_lock(&list_lock);
    size_t pinned = 0;
    for (size_t i = 0; i < ncaches; i++) {
        pthread_mutex_lock(&caches[i]->lock);
        pinned += each_pinned(caches[i], NULL);
    }
    int saved = errno;
    if (pinned && pipe2(copied_pipe, O_CLOEXEC)) copied_pipe[0] = copied_pipe[1] = -1;
    errno = saved;
}

static void parent(void) {
    int rd = copied_pipe[0], wr = copied_pipe[1], saved = errno;
    copied_pipe[0] = copied_pipe[1] = -1;
    if (rd >= 0) {
        close(wr);
        char ch;
        while (read(rd, &ch, 1) < 0 && errno == EINTR) {} /* 0 bytes: the child died first */
        close(rd);
    }
    for (size_t i = 0; i < ncaches; i++) pthread_mutex_unlock(&caches[i]->lock);
    pthread_mutex_unlock(&list_lock);
    errno = saved;
}

/* Runs after the registry's child handler, which detached the kinds not inherited. */
static void child(void) {
    int saved = errno;
    for (size_t i = 0; i < ncaches; i++) {
        each_pinned(caches[i], keep_block);
        pthread_mutex_unlock(&caches[i]->lock);
    }
    if (copied_pipe[1] >= 0) {
        ssize_t r;
        do r = write(copied_pipe[1], "c", 1);
        while (r < 0 && errno == EINTR);
        close(copied_pipe[0]);
        close(copied_pipe[1]);
        copied_pipe[0] = copied_pipe[1] = -1;
    }
    pthread_mutex_unlock(&list_lock);
    errno = saved;
}

static void register_handlers(void) {
    tc__init(); /* the registry's handlers first: ours then prepare before them */
    pthread_atfork(prepare, parent, child);
}

int tc__cache_register(tc_cache_t *c) {
    pthread_once(&handlers_once, register_handlers);
    tc_background_purge_start(); /* without it the cache's freed DRAM waits for more calls */
    pthread_mutex_lock(&list_lock);
    if (ncaches == cap_caches) {
        size_t cap = cap_caches ? cap_caches * 2 : 16;
        tc_cache_t **a = realloc(caches, cap * sizeof *a);
        if (!a) {
            pthread_mutex_unlock(&list_lock);
            return TC_ERR_NOMEM;
        }
        caches = a;
        cap_caches = cap;
    }
    caches[ncaches++] = c;
    pthread_mutex_unlock(&list_lock);
    return TC_OK;
}

void tc__cache_unregister(tc_cache_t *c) {
    pthread_mutex_lock(&list_lock);
    for (size_t i = 0; i < ncaches; i++)
        if (caches[i] == c) {
            caches[i] = caches[--ncaches];
            break;
        }
    pthread_mutex_unlock(&list_lock);
}
