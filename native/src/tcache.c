/*
 * Thread caches for arena kinds.
 *
 * jemalloc's automatic thread cache is keyed by size class only, so it would hand one kind's
 * memory to another. Each (thread, kind) pair that allocates gets an explicit jemalloc tcache
 * instead, created on first use and found through a per-thread array indexed by kind id. The
 * entry's generation must match the kind's, so entries of destroyed kinds are never used.
 * When jemalloc runs out of explicit tcaches (about 4000 per process), the pair falls back to
 * uncached allocation: slower, still correct.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

__thread struct tc_tl_slot *tc__tl_slots;
__thread uint32_t tc__tl_cap;
static __thread unsigned tl_index; /* this thread's number, for spreading over arenas */
static _Atomic unsigned next_thread_index;
static pthread_key_t exit_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

#define NO_TCACHE UINT32_MAX

static void thread_exit(void *arg);
static void make_key(void) { pthread_key_create(&exit_key, thread_exit); }

/* jemalloc's flag for an explicit tcache, or for none. */
static int tcache_flag(unsigned tc) {
    return tc == NO_TCACHE ? MALLOCX_TCACHE_NONE : MALLOCX_TCACHE(tc);
}

static bool ensure_capacity(uint32_t id) {
    if (id < tc__tl_cap) return true;
    uint32_t cap = tc__tl_cap ? tc__tl_cap : 16;
    while (cap <= id) cap *= 2;
    struct tc_tl_slot *s = realloc(tc__tl_slots, cap * sizeof *s);
    if (!s) return false;
    memset(s + tc__tl_cap, 0, (cap - tc__tl_cap) * sizeof *s);
    if (!tc__tl_slots) {
        pthread_once(&key_once, make_key);
        pthread_setspecific(exit_key, (void *)1);
        tl_index = atomic_fetch_add(&next_thread_index, 1);
    }
    tc__tl_slots = s;
    tc__tl_cap = cap;
    return true;
}

/* Record tc in the kind's list; false when the kind died meanwhile or memory ran out. */
static bool adopt(tc_kind_t *k, uint32_t gen, unsigned tc) {
    bool ok = false;
    tc__registry_lock();
    if (tc__kind_alive(k) && k->gen == gen) {
        if (k->ntcaches == k->cap_tcaches) {
            size_t cap = k->cap_tcaches ? k->cap_tcaches * 2 : 8;
            unsigned *a = realloc(k->tcaches, cap * sizeof *a);
            if (a) {
                k->tcaches = a;
                k->cap_tcaches = cap;
            }
        }
        if (k->ntcaches < k->cap_tcaches) {
            k->tcaches[k->ntcaches++] = tc;
            ok = true;
        }
    }
    tc__registry_unlock();
    return ok;
}

int tc__tcache_flags_slow(tc_kind_t *k) {
    uint32_t gen = k->gen;
    bool have_slot = ensure_capacity(k->id); /* also numbers the thread */
    unsigned arena = k->arenas[k->narenas > 1 ? tl_index % k->narenas : 0];
    if (!have_slot) return MALLOCX_ARENA(arena) | MALLOCX_TCACHE_NONE;
    unsigned tc = NO_TCACHE;
    size_t sz = sizeof tc;
    if (tc_je_mallctl("tcache.create", &tc, &sz, NULL, 0) != 0) {
        tc = NO_TCACHE;
    } else if (!adopt(k, gen, tc)) {
        tc_je_mallctl("tcache.destroy", NULL, NULL, &tc, sizeof tc);
        tc = NO_TCACHE;
    }
    int flags = MALLOCX_ARENA(arena) | tcache_flag(tc);
    tc__tl_slots[k->id] = (struct tc_tl_slot){gen, flags};
    return flags;
}

/* The explicit tcache id encoded in flags, or NO_TCACHE. */
static unsigned tcache_of(int flags) {
    int field = (flags >> 8) & 0xfff;
    return field >= 2 ? (unsigned)(field - 2) : NO_TCACHE;
}

void tc__tcache_destroy_all(tc_kind_t *k) {
    for (size_t i = 0; i < k->ntcaches; i++)
        tc_je_mallctl("tcache.destroy", NULL, NULL, &k->tcaches[i], sizeof(unsigned));
    k->ntcaches = 0;
}

/* At thread exit: give back this thread's tcaches of kinds still alive. */
static void thread_exit(void *arg) {
    (void)arg;
    struct tc_tl_slot *slots = tc__tl_slots;
    uint32_t cap = tc__tl_cap;
    tc__tl_slots = NULL;
    tc__tl_cap = 0;
    tc__registry_lock();
    for (uint32_t id = 1; id < cap; id++) {
        unsigned tc = tcache_of(slots[id].flags);
        if (!slots[id].gen || tc == NO_TCACHE) continue;
        tc_kind_t *k = atomic_load(&tc__slots[id]);
        if (!k || k->gen != slots[id].gen || atomic_load(&k->detached)) continue;
        for (size_t i = 0; i < k->ntcaches; i++)
            if (k->tcaches[i] == tc) {
                k->tcaches[i] = k->tcaches[--k->ntcaches];
                tc_je_mallctl("tcache.destroy", NULL, NULL, &tc, sizeof tc);
                break;
            }
    }
    tc__registry_unlock();
    free(slots);
}
