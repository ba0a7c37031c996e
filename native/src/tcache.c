/*
 * Thread caches for arena kinds.
 *
 * jemalloc's automatic thread cache is keyed by size class only, so it would hand one kind's
 * memory to another. Each (thread, kind) pair that allocates gets a struct tc_tcache instead
 * (internal.h): an explicit jemalloc tcache, created on first use, and a small front cache of
 * free blocks above it. The thread finds it in its slot array (struct tc_tl), indexed by kind
 * id; a slot's generation must match the kind's, so entries of destroyed kinds are never used.
 * When jemalloc runs out of explicit tcaches (about 4000 per process), the pair falls back to
 * uncached allocation: slower, still correct.
 *
 * A thread finds its struct tc_tl from its thread pointer through tc__threads, a table that
 * threads claim entries of; a thread whose entry another live thread holds uses the pthread
 * key instead. The structs are never freed, so a lookup never reads freed memory.
 *
 * Who may touch a struct tc_tcache: its owning thread, between tc__tcache_enter and _leave; any
 * thread holding the registry lock, and then only one that by_tcache still links (a linked
 * cache belongs to a live kind: kind destroy, thread exit and fork unlink theirs). The owner
 * frees its caches, after unlinking them under the lock.
 */
#include <errno.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

struct tc_tl *_Atomic tc__threads[1u << TC_THREADS_BITS];
struct tc_tl tc__tl_none;
static struct tc_tl *_Atomic all_threads; /* every struct tc_tl, never freed */
static _Atomic unsigned next_thread_index = 1;
static pthread_key_t exit_key; /* value: the thread's struct tc_tl */
static _Atomic bool key_made;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

size_t tc__front_limit;
uint8_t tc__front_class[TC_FRONT_MAX >> 3];
uint16_t tc__front_size[TC_FRONT_CLASSES];
static bool fence_mode; /* no membarrier(2): owners fence (TC_TCACHE_FENCE) */
static pthread_once_t classes_once = PTHREAD_ONCE_INIT;

#define TCACHES 4096 /* jemalloc's explicit tcache ids are below this (MALLOCX_TCACHE_MAX) */
/* The live caches by jemalloc tcache id, guarded by the registry lock. */
static struct tc_tcache *by_tcache[TCACHES];

static void thread_exit(void *arg);
static void fork_child(void);
static void make_key(void) {
    tc__init(); /* our fork handler then runs after the registry's */
    pthread_key_create(&exit_key, thread_exit);
    pthread_atfork(NULL, NULL, fork_child);
    atomic_store(&key_made, true);
}

static int sys_membarrier(int cmd) { return (int)syscall(SYS_membarrier, cmd, 0, 0); }

/* Front cache classes from jemalloc's bins, and how owners order their busy flag. */
static void classes_init(void) {
    unsigned nbins = 0, ncls = 0;
    size_t sz = sizeof nbins;
    bool ok = !tc_je_mallctl("arenas.nbins", &nbins, &sz, NULL, 0);
    for (unsigned i = 0; ok && i < nbins; i++) {
        char name[48];
        size_t size = 0;
        sz = sizeof size;
        snprintf(name, sizeof name, "arenas.bin.%u.size", i);
        if (tc_je_mallctl(name, &size, &sz, NULL, 0) || size % 8 || ncls == TC_FRONT_CLASSES) {
            ok = false;
        } else if (size <= TC_FRONT_MAX) {
            tc__front_size[ncls++] = (uint16_t)size;
        }
    }
    if (ok && ncls && tc__front_size[ncls - 1] == TC_FRONT_MAX) {
        unsigned c = 0;
        for (unsigned j = 0; j < TC_FRONT_MAX >> 3; j++) {
            while (tc__front_size[c] < (j + 1) * 8) c++;
            tc__front_class[j] = (uint8_t)c;
        }
        tc__front_limit = TC_FRONT_MAX;
    }
    fence_mode = sys_membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) != 0;
}

/* Order every thread's earlier memory accesses before this thread's later ones (the other
 * side of tc__tcache_enter). False when no such barrier is available. */
static bool heavy_fence(void) {
    if (fence_mode) {
        atomic_thread_fence(memory_order_seq_cst);
        return true;
    }
    if (sys_membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return true;
    /* Registration is per process: in case a forked child lost it. */
    return sys_membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0 &&
           sys_membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0;
}

/* Put tl in its thread's table entry unless another live thread holds it. */
static void table_claim(struct tc_tl *tl, uintptr_t tid) {
    _Atomic(struct tc_tl *) *e = &tc__threads[tc__thread_hash(tid)];
    struct tc_tl *held = atomic_load(e);
    if (!held || !atomic_load(&held->tid)) atomic_compare_exchange_strong(e, &held, tl);
}

struct tc_tl *tc__tl_slow(uintptr_t tid) {
    struct tc_tl *tl = atomic_load(&key_made) ? pthread_getspecific(exit_key) : NULL;
    if (!tl || atomic_load_explicit(&tl->tid, memory_order_relaxed) != tid) return &tc__tl_none;
    table_claim(tl, tid);
    return tl;
}

/* Take over the state of an exited thread, or NULL. */
static struct tc_tl *reuse_state(uintptr_t tid) {
    for (struct tc_tl *tl = atomic_load(&all_threads); tl; tl = tl->next) {
        uintptr_t unowned = 0;
        if (atomic_compare_exchange_strong(&tl->tid, &unowned, tid)) return tl;
    }
    return NULL;
}

/* This thread's state, made on first use; NULL when out of memory. */
static struct tc_tl *thread_state(void) {
    struct tc_tl *tl = tc__tl();
    if (tl != &tc__tl_none) return tl;
    pthread_once(&key_once, make_key);
    uintptr_t tid = tc__thread_id();
    if (!(tl = reuse_state(tid))) {
        if (!(tl = calloc(1, sizeof *tl))) return NULL;
        atomic_store(&tl->tid, tid);
        tl->next = atomic_load(&all_threads);
        while (!atomic_compare_exchange_weak(&all_threads, &tl->next, tl)) {}
    }
    tl->slots = NULL;
    tl->cap = 0;
    tl->index = atomic_fetch_add(&next_thread_index, 1);
    pthread_setspecific(exit_key, tl);
    table_claim(tl, tid);
    return tl;
}

/* This thread's state with a slot for kind id, or NULL when out of memory. */
static struct tc_tl *ensure_capacity(uint32_t id) {
    struct tc_tl *tl = thread_state();
    if (!tl || id < tl->cap) return tl;
    uint32_t cap = tl->cap ? tl->cap : 16;
    while (cap <= id) cap *= 2;
    struct tc_tl_slot *s = realloc(tl->slots, cap * sizeof *s);
    if (!s) return NULL;
    memset(s + tl->cap, 0, (cap - tl->cap) * sizeof *s);
    tl->slots = s;
    tl->cap = cap;
    return tl;
}

/* Record tcache id tc in the kind's list (registry lock held); false when out of memory. */
static bool list_add(tc_kind_t *k, unsigned tc) {
    if (k->ntcaches == k->cap_tcaches) {
        size_t cap = k->cap_tcaches ? k->cap_tcaches * 2 : 8;
        unsigned *a = realloc(k->tcaches, cap * sizeof *a);
        if (!a) return false;
        k->tcaches = a;
        k->cap_tcaches = cap;
    }
    k->tcaches[k->ntcaches++] = tc;
    return true;
}

static void list_remove(tc_kind_t *k, unsigned tc) {
    for (size_t i = 0; i < k->ntcaches; i++)
        if (k->tcaches[i] == tc) {
            k->tcaches[i] = k->tcaches[--k->ntcaches];
            return;
        }
}

static void tcache_destroy(unsigned tc) {
    tc_je_mallctl("tcache.destroy", NULL, NULL, &tc, sizeof tc);
}

/* A new cache over a new jemalloc tcache, or NULL. */
static struct tc_tcache *cache_new(tc_kind_t *k, unsigned arena) {
    unsigned tc;
    size_t sz = sizeof tc;
    if (tc_je_mallctl("tcache.create", &tc, &sz, NULL, 0) != 0) return NULL;
    struct tc_tcache *c = tc < TCACHES ? calloc(1, sizeof *c) : NULL;
    if (!c) {
        tcache_destroy(tc);
        return NULL;
    }
    c->kind = k->id;
    c->state = fence_mode ? TC_TCACHE_FENCE : 0;
    c->owner = tc__tl()->index;
    c->tcache = tc;
    c->flags = MALLOCX_ARENA(arena) | MALLOCX_TCACHE(tc);
    return c;
}

int tc__tcache_flags_slow(tc_kind_t *k, struct tc_tcache **cache) {
    uint32_t gen = k->gen;
    struct tc_tl *tl = ensure_capacity(k->id);
    unsigned arena = k->arenas[k->narenas > 1 && tl ? tl->index % k->narenas : 0];
    int flags = MALLOCX_ARENA(arena) | MALLOCX_TCACHE_NONE;
    *cache = NULL;
    if (!tl) return flags;
    pthread_once(&classes_once, classes_init);
    struct tc_tcache *c = k->flags & TC_KIND_UNCACHED ? NULL : cache_new(k, arena);
    struct tc_tcache *old = tl->slots[k->id].cache;
    tc__registry_lock();
    bool alive = tc__kind_alive(k) && k->gen == gen;
    if (alive && old && by_tcache[old->tcache] == old)
        by_tcache[old->tcache] = NULL; /* its kind was destroyed while detached by fork */
    if (alive && c && list_add(k, c->tcache)) {
        by_tcache[c->tcache] = c;
        flags = c->flags;
    } else if (c) {
        tcache_destroy(c->tcache);
        free(c);
        c = NULL;
    }
    tc__registry_unlock();
    if (!alive) return flags; /* a stale handle: leave the slot to its id's live kind */
    free(old);
    tl->slots[k->id] = (struct tc_tl_slot){gen, flags, c};
    *cache = c;
    return flags;
}

bool tc__tcache_enter_slow(struct tc_tcache *c, bool front) {
    for (;;) {
        uint8_t st = atomic_load_explicit(&c->state, memory_order_acquire);
        if (front && (st & TC_TCACHE_FORKED)) {
            atomic_store_explicit(&c->busy, 0, memory_order_release);
            return false;
        }
        if (st & TC_TCACHE_FENCE) {
            atomic_thread_fence(memory_order_seq_cst);
            st = atomic_load_explicit(&c->state, memory_order_acquire);
        }
        if (!(st & TC_TCACHE_FLUSH)) return true;
        atomic_store_explicit(&c->busy, 0, memory_order_release);
        while (atomic_load_explicit(&c->state, memory_order_acquire) & TC_TCACHE_FLUSH)
            sched_yield();
        atomic_store_explicit(&c->busy, 1, memory_order_relaxed);
        atomic_signal_fence(memory_order_seq_cst);
    }
}

/* Give the front cache's blocks to the jemalloc tcache. */
static void front_empty(struct tc_tcache *c) {
    for (unsigned cls = 0; cls < TC_FRONT_CLASSES; cls++) {
        for (unsigned i = 0; i < c->n[cls]; i++)
            tc_je_sdallocx(c->blk[cls][i], tc__front_size[cls], c->flags);
        c->n[cls] = 0;
    }
}

void tc__tcache_drain(struct tc_tcache *c) {
    front_empty(c);
    tc_je_mallctl("tcache.flush", NULL, NULL, &c->tcache, sizeof c->tcache);
}

/* Drain cache c for a purge (registry lock held). */
static void purge_one(struct tc_tcache *c, unsigned self, bool fenced) {
    if (c->owner == self) { /* ours, and we are not inside an operation */
        tc__tcache_drain(c);
        return;
    }
    if (fenced) {
        while (atomic_load_explicit(&c->busy, memory_order_acquire)) sched_yield();
        tc__tcache_drain(c);
    }
    atomic_fetch_and_explicit(&c->state, (uint8_t)~TC_TCACHE_FLUSH, memory_order_release);
}

void tc__tcache_flush_kind(tc_kind_t *k) {
    unsigned self = tc__tl()->index;
    tc__registry_lock();
    size_t n = k ? k->ntcaches : TCACHES, foreign = 0;
    for (size_t i = 0; i < n; i++) {
        struct tc_tcache *c = by_tcache[k ? k->tcaches[i] : i];
        if (c && c->owner != self) {
            atomic_fetch_or_explicit(&c->state, TC_TCACHE_FLUSH, memory_order_relaxed);
            foreign++;
        }
    }
    bool fenced = foreign == 0 || heavy_fence();
    for (size_t i = 0; i < n; i++) {
        struct tc_tcache *c = by_tcache[k ? k->tcaches[i] : i];
        if (c) purge_one(c, self, fenced);
    }
    tc__registry_unlock();
}

void tc__tcache_destroy_all(tc_kind_t *k) {
    for (size_t i = 0; i < k->ntcaches; i++) {
        unsigned tc = k->tcaches[i];
        if (tc < TCACHES) by_tcache[tc] = NULL; /* its blocks go with the arenas */
        tcache_destroy(tc);
    }
    k->ntcaches = 0;
}

/* At thread exit: give back this thread's caches of kinds still alive, and its state. */
static void thread_exit(void *arg) {
    struct tc_tl *tl = arg;
    struct tc_tl_slot *slots = tl->slots;
    uint32_t cap = tl->cap;
    tc__registry_lock();
    for (uint32_t id = 1; id < cap; id++) {
        struct tc_tcache *c = slots[id].cache;
        if (!c) continue;
        if (by_tcache[c->tcache] == c) {
            by_tcache[c->tcache] = NULL;
            tc_kind_t *k = atomic_load(&tc__slots[id]);
            if (k && k->gen == slots[id].gen && !atomic_load(&k->detached)) {
                front_empty(c);
                list_remove(k, c->tcache);
                tcache_destroy(c->tcache); /* flushes it */
            }
        }
        free(c);
    }
    tc__registry_unlock();
    free(slots);
    tl->slots = NULL;
    tl->cap = 0;
    struct tc_tl *held = tl;
    atomic_compare_exchange_strong(&tc__threads[tc__thread_hash(atomic_load(&tl->tid))], &held,
                                   NULL);
    atomic_store_explicit(&tl->tid, 0, memory_order_release); /* free for another thread */
}

/* In a forked child: this thread's front caches are off (the child takes the checked paths,
 * which refuse detached kinds). Other threads are gone: their states are free for new threads
 * (whose thread pointers may be theirs), and, with detached kinds' caches, their caches are
 * unlinked so that purge never waits on or touches them. */
static void fork_child(void) {
    struct tc_tl *self = tc__tl();
    for (uint32_t id = 1; id < self->cap; id++) {
        struct tc_tcache *c = self->slots[id].cache;
        if (!c) continue;
        c->spilling = true; /* free then skips its size lookup, which is of no use here */
        atomic_fetch_or(&c->state, TC_TCACHE_FORKED);
    }
    for (struct tc_tl *tl = atomic_load(&all_threads); tl; tl = tl->next)
        if (tl != self) {
            tl->slots = NULL; /* the gone thread's slots and caches are left as they are */
            tl->cap = 0;
            atomic_store(&tl->tid, 0);
        }
    for (unsigned i = 0; i < (1u << TC_THREADS_BITS); i++)
        if (atomic_load(&tc__threads[i]) != self) atomic_store(&tc__threads[i], NULL);
    for (unsigned i = 0; i < TCACHES; i++) {
        struct tc_tcache *c = by_tcache[i];
        if (!c) continue;
        tc_kind_t *k = atomic_load(&tc__slots[c->kind]);
        if (c->owner != self->index || !k || atomic_load(&k->detached)) by_tcache[i] = NULL;
    }
}
