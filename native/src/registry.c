/*
 * The kind registry: slots (id -> kind), the arenas of each kind, destruction, and what happens
 * at fork().
 *
 * Kind structs are never returned to the system: a destroyed kind is marked dead and queued
 * (FIFO) for reuse, so destroying a handle twice is detected rather than a use-after-free.
 *
 * Lock order: registry lock, then jemalloc's locks, then a kind's provider lock (jemalloc calls
 * extent hooks with its own locks held).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asan_poison.h"
#include "internal.h"

tc_kind_t *_Atomic tc__slots[TC_MAX_KINDS];
_Atomic uint32_t tc__slot_gen[TC_MAX_KINDS] = {[0 ... TC_MAX_KINDS - 1] = TC_GEN_NONE};
static pthread_mutex_t registry = PTHREAD_MUTEX_INITIALIZER;
/* Serialises TC_KIND_LAZY activations. Taken before the registry lock, never while holding a
 * kind's provider lock: a provider lock is taken under jemalloc's locks (extent hooks), so it
 * must come after them, for fork() as everywhere. */
static pthread_mutex_t activation = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static uint32_t next_gen = 1;
static uint16_t next_id_hint = 1;
static tc_kind_t *free_head, *free_tail; /* destroyed structs, oldest first */

/* jemalloc's arena_config_t for experimental.arenas_create_ext (5.3.0 layout). */
struct je_arena_config {
    extent_hooks_t *extent_hooks;
    bool metadata_use_hooks;
};

void tc__registry_lock(void) { pthread_mutex_lock(&registry); }
void tc__registry_unlock(void) { pthread_mutex_unlock(&registry); }

/* With TC_FORK_COPY kinds alive, the child tells the parent through this pipe (made in
 * prepare, under the registry lock) that it has copied their memory: until then the parent's
 * forking thread must not write it. One byte, not end of file: a concurrent fork's child may
 * hold the write end too. */
_Atomic unsigned tc__fork_copy_kinds;
static int fork_pipe[2] = {-1, -1};

/* fork() takes every lock a child can meet, in lock order, so that the child finds each one
 * free with consistent data behind it: the caches' (cache/forked.c, registered last, so first
 * to prepare), activation and the registry (here), jemalloc's (its own handlers), then each
 * live kind's provider lock and the address index's (locks_prepare, registered before
 * jemalloc's by a constructor). Child handlers run in the opposite order. */
static void fork_prepare(void) {
    pthread_mutex_lock(&activation);
    pthread_mutex_lock(&registry);
    int saved = errno;
    if (atomic_load(&tc__fork_copy_kinds) && pipe2(fork_pipe, O_CLOEXEC))
        fork_pipe[0] = fork_pipe[1] = -1; /* no pipe: the parent does not wait */
    errno = saved;
}

static void fork_parent(void) {
    int rd = fork_pipe[0], wr = fork_pipe[1], saved = errno;
    fork_pipe[0] = fork_pipe[1] = -1;
    pthread_mutex_unlock(&registry);
    pthread_mutex_unlock(&activation);
    if (rd < 0) return;
    close(wr);
    char c;
    while (read(rd, &c, 1) < 0 && errno == EINTR) {} /* 0 bytes: the child died first */
    close(rd);
    errno = saved;
}

/* Runs after jemalloc's own child handler. Detaches or copies kinds whose memory is shared. */
static void fork_child(void) {
    int saved = errno;
    pthread_mutex_unlock(&registry);
    pthread_mutex_unlock(&activation);
    atomic_fetch_add(&tc__fork_generation, 1); /* caches check it (cache/forked.c) */
    for (unsigned i = 1; i < TC_MAX_KINDS; i++) {
        tc_kind_t *k = atomic_load_explicit(&tc__slots[i], memory_order_relaxed);
        if (k && k->ops->fork_child) k->ops->fork_child(k);
    }
    if (fork_pipe[1] >= 0) {
        ssize_t r;
        do r = write(fork_pipe[1], "c", 1);
        while (r < 0 && errno == EINTR);
        close(fork_pipe[0]);
        close(fork_pipe[1]);
        fork_pipe[0] = fork_pipe[1] = -1;
    }
    errno = saved;
}

/* After jemalloc's prepare (registry lock held): the provider locks of live kinds, then the
 * address index's. Kind structs are never freed, and the registry lock keeps the slots still. */
static void locks_prepare(void) {
    for (unsigned i = 1; i < TC_MAX_KINDS; i++) {
        tc_kind_t *k = atomic_load_explicit(&tc__slots[i], memory_order_relaxed);
        if (k) pthread_mutex_lock(&k->lock);
    }
    tc__ptrmap_fork_prepare();
}

static void locks_release(void) {
    tc__ptrmap_fork_release();
    for (unsigned i = 1; i < TC_MAX_KINDS; i++) {
        tc_kind_t *k = atomic_load_explicit(&tc__slots[i], memory_order_relaxed);
        if (k) pthread_mutex_unlock(&k->lock);
    }
}

/* Registered before jemalloc initialises (its constructor has the default priority, and
 * nothing calls it earlier), so that locks_prepare runs after jemalloc's prepare handler. */
__attribute__((constructor(101))) static void register_locks_handlers(void) {
    pthread_atfork(locks_prepare, locks_release, locks_release);
}

/* jemalloc makes its automatic (DRAM) arenas lazily, the first time a thread needs one: a new
 * thread's first allocation initialises an arena, mutexes included, and publishes it with an
 * atomic store. Meanwhile another thread may purge or read statistics over all arenas and
 * lock those mutexes. jemalloc is not built with TSan, so TSan never sees that publication
 * and reported a race on the new arena's mutexes (test_tcache, purge while threads allocate):
 * not a real race, but a flaky suite. Initialising every automatic arena here, once, under
 * pthread_once, which TSan does see, removes the concurrent initialisation for every build. */
/* Their dirty pages (freed, still resident) decay over TIERCACHE_DRAM_DECAY_MS rather than
 * jemalloc's 10 s: a cache's DRAM then stays near its budget (issue 13), given something that
 * runs the decay while the application is idle (tc_background_purge_start). */
static void init_auto_arenas(void) {
    unsigned n = 0, cur = 0;
    size_t sz = sizeof n;
    if (tc_je_mallctl("opt.narenas", &n, &sz, NULL, 0)) return;
    sz = sizeof cur;
    if (tc_je_mallctl("thread.arena", &cur, &sz, NULL, 0)) return;
    unsigned long decay_ms = 1000;
    tc__option_uint(TC_OPT_DRAM_DECAY_MS, &decay_ms);
    ssize_t decay = (ssize_t)decay_ms;
    for (unsigned i = 0; i < n; i++) {
        tc_je_mallctl("thread.arena", NULL, NULL, &i, sizeof i);
        tc__mallctl_arena_u(i, "dirty_decay_ms", &decay, sizeof decay);
    }
    tc_je_mallctl("thread.arena", NULL, NULL, &cur, sizeof cur);
}

static void init(void) {
    tc__options_init();
    /* Initialise jemalloc first, so its atfork handlers are registered before ours: ours
     * then prepare first (registry before jemalloc's locks) and run last in the child. */
    void *p = tc_je_malloc(1);
    tc_je_free(p);
    init_auto_arenas();
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    unsigned long limit;
    if (tc__option_uint(TC_OPT_BACKGROUND_THREAD_LIMIT, &limit) == TC_OK && limit) {
        size_t l = limit;
        tc_je_mallctl("max_background_threads", NULL, NULL, &l, sizeof l);
    }
}

void tc__init(void) { pthread_once(&init_once, init); }

/* A zeroed kind struct (recycled from destroyed ones when possible), or NULL. */
static tc_kind_t *kind_alloc(void) {
    tc__init();
    tc_kind_t *k = NULL;
    pthread_mutex_lock(&registry);
    if (free_head) {
        k = free_head;
        free_head = k->next_free;
        if (!free_head) free_tail = NULL;
    }
    pthread_mutex_unlock(&registry);
    if (!k) {
        k = calloc(1, sizeof *k);
        if (!k) return NULL;
    } else {
        unsigned *tc = k->tcaches;
        size_t cap = k->cap_tcaches;
        memset(k, 0, sizeof *k);
        k->tcaches = tc;
        k->cap_tcaches = cap;
    }
    pthread_mutex_init(&k->lock, NULL);
    return k;
}

static void recycle(tc_kind_t *k) {
    k->next_free = NULL;
    if (free_tail) free_tail->next_free = k;
    else free_head = k;
    free_tail = k;
}

/* Give back a struct from kind_alloc that was never registered. */
static void kind_free_unregistered(tc_kind_t *k) {
    atomic_store(&k->magic, TC_KIND_DEAD);
    pthread_mutex_lock(&registry);
    recycle(k);
    pthread_mutex_unlock(&registry);
}

bool tc__kind_alive(const tc_kind_t *k) {
    return k && atomic_load_explicit(&k->magic, memory_order_acquire) == TC_KIND_MAGIC;
}

int tc__mallctl_arena_u(unsigned arena, const char *leaf, const void *newv, size_t newlen) {
    char name[64];
    snprintf(name, sizeof name, "arena.%u.%s", arena, leaf);
    return tc_je_mallctl(name, NULL, NULL, (void *)newv, newlen);
}

static void destroy_arenas(tc_kind_t *k) {
    for (unsigned i = 0; i < k->narenas; i++) {
        tc__mallctl_arena_u(k->arenas[i], "destroy", NULL, 0);
        tc__extent_bind_arena(k->arenas[i], NULL);
    }
    k->narenas = 0;
}

/* Pre: k from kind_alloc (tc__kind_create), or a TC_KIND_LAZY static kind, with ops, name and
 * provider state set. */
int tc__kind_register(tc_kind_t *k, unsigned narenas, enum tc_decay decay) {
    int err = TC_OK;
    pthread_mutex_lock(&registry);
    unsigned id = 0;
    for (unsigned n = 0; n < TC_MAX_KINDS - 1; n++) {
        unsigned cand = 1 + (next_id_hint - 1 + n) % (TC_MAX_KINDS - 1);
        if (!atomic_load_explicit(&tc__slots[cand], memory_order_relaxed)) {
            id = cand;
            break;
        }
    }
    if (!id) {
        pthread_mutex_unlock(&registry);
        return TC_ERR_TOOMANY;
    }
    next_id_hint = (uint16_t)(id % (TC_MAX_KINDS - 1) + 1);
    k->id = (uint16_t)id;
    k->gen = next_gen++;
    if (next_gen == TC_GEN_NONE) next_gen = 1;

    unsigned n = 0; /* narenas is published last: a lazy static kind is read without locks */
    for (unsigned i = 0; i < narenas; i++) {
        struct je_arena_config cfg = {&tc__extent_hooks, false};
        unsigned arena;
        size_t sz = sizeof arena;
        int e = tc_je_mallctl("experimental.arenas_create_ext", &arena, &sz, &cfg, sizeof cfg);
        if (e) {
            err = e == EAGAIN ? TC_ERR_TOOMANY : TC_ERR_ARENA;
            break;
        }
        k->arenas[n++] = arena;
        tc__extent_bind_arena(arena, k);
        if (decay != TC_DECAY_JEMALLOC) {
            ssize_t dirty = decay == TC_DECAY_NEVER ? -1 : 0, muzzy = 0;
            tc__mallctl_arena_u(arena, "dirty_decay_ms", &dirty, sizeof dirty);
            tc__mallctl_arena_u(arena, "muzzy_decay_ms", &muzzy, sizeof muzzy);
        }
    }
    if (err) {
        k->narenas = n;
        destroy_arenas(k);
    } else {
        atomic_store(&k->magic, TC_KIND_MAGIC);
        atomic_store_explicit(&tc__slot_gen[id], k->gen, memory_order_relaxed);
        atomic_store_explicit(&tc__slots[id], k, memory_order_release);
        atomic_thread_fence(memory_order_release);
        k->narenas = n;
    }
    pthread_mutex_unlock(&registry);
    return err;
}

int tc__kind_create(const struct tc_kind_ops *ops, void *priv, const char *name, uint8_t flags,
                    unsigned narenas, enum tc_decay decay, tc_kind_t **out) {
    tc_kind_t *k = kind_alloc();
    int err = k ? TC_OK : TC_ERR_NOMEM;
    if (!k) {
        tc_kind_t tmp = {.ops = ops, .priv = priv}; /* release takes its state from a kind */
        ops->release(&tmp);
        return err;
    }
    k->ops = ops;
    k->priv = priv;
    k->name = name;
    k->flags = flags;
    if ((err = tc__kind_register(k, narenas, decay))) {
        ops->release(k);
        kind_free_unregistered(k);
        return err;
    }
    *out = k;
    return TC_OK;
}

TC_API int tc_kind_set_fork_policy(tc_kind_t *kind, tc_fork_policy_t policy) {
    if (!kind || (policy != TC_FORK_DETACH && policy != TC_FORK_COPY)) return TC_ERR_INVALID;
    if (!tc__kind_alive(kind)) return TC_ERR_DESTROYED;
    if (atomic_load(&kind->detached)) return TC_ERR_FORKED;
    if (kind->ops->set_fork_policy) return kind->ops->set_fork_policy(kind, policy);
    /* Without the slot the memory is this process's private memory (DRAM, NUMA kinds):
     * fork() copies it, and nothing else can be had. */
    return policy == TC_FORK_COPY ? TC_OK : TC_ERR_NOTSUP;
}

int tc__kind_activate(tc_kind_t *k) {
    if (!(k->flags & TC_KIND_LAZY) || !k->ops->activate) return TC_ERR_UNAVAILABLE;
    pthread_mutex_lock(&activation);
    int err = k->narenas ? TC_OK : k->ops->activate(k);
    pthread_mutex_unlock(&activation);
    return err;
}

TC_API int tc_kind_destroy(tc_kind_t *kind) {
    if (!kind) return TC_ERR_INVALID;
    if (kind->flags & TC_KIND_STATIC) return TC_ERR_INVALID;
    pthread_mutex_lock(&registry);
    if (atomic_load(&kind->magic) != TC_KIND_MAGIC || atomic_load(&tc__slots[kind->id]) != kind) {
        pthread_mutex_unlock(&registry);
        return TC_ERR_DESTROYED;
    }
    atomic_store(&kind->magic, TC_KIND_DEAD);
    atomic_store(&tc__slot_gen[kind->id], TC_GEN_NONE);
    kind->gen = TC_GEN_NONE; /* a stale handle now misses every thread's cache entry */
    if (!atomic_load(&kind->detached)) {
        tc__tcache_destroy_all(kind);
        destroy_arenas(kind);
    }
    kind->ntcaches = 0;
    TC_ASAN_KIND_GONE(kind->id); /* its addresses may come back as anyone's memory */
    kind->ops->release(kind);
    atomic_store_explicit(&tc__slots[kind->id], NULL, memory_order_release);
    recycle(kind);
    pthread_mutex_unlock(&registry);
    return TC_OK;
}

TC_API int tc_kind_check_available(const tc_kind_t *kind) {
    if (!kind) return TC_ERR_INVALID;
    if (!tc__kind_alive(kind)) return TC_ERR_DESTROYED;
    if (atomic_load(&kind->detached)) return TC_ERR_FORKED;
    return kind->ops->check_available ? kind->ops->check_available(kind) : TC_OK;
}

TC_API const char *tc_kind_name(const tc_kind_t *kind) {
    return kind && kind->name ? kind->name : "invalid";
}

TC_API int tc_kind_capacity(const tc_kind_t *kind, size_t *out) {
    if (!kind || !out) return TC_ERR_INVALID;
    if (!tc__kind_alive(kind)) return TC_ERR_DESTROYED;
    int e = tc_kind_check_available(kind);
    if (e) return e;
    return kind->ops->capacity(kind, out);
}

TC_API tc_kind_t *tc_detect_kind(const void *ptr) { return ptr ? tc__kind_of(ptr) : NULL; }
