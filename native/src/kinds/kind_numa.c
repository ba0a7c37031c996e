/*
 * NUMA kinds: anonymous memory whose pages land on the nodes a parameter set chooses (a node
 * selection, a policy and a page size; see tc_numa_params_t). Every memkind topology kind
 * (HBW*, DAX_KMEM*, REGULAR, INTERLEAVE, HUGETLB, HIGHEST_CAPACITY*, ...) is one of these
 * parameter sets, not code of its own.
 *
 * Address space comes in windows reserved PROT_NONE and indexed once (ptrmap). reserve() cuts
 * the next piece off the current window, maps it read-write (hugetlb pages when page_size is
 * 2 MiB) and mbind()s it for the node of the calling CPU, so "closest" and "local" selections
 * follow the thread that makes the heap grow. Hugetlb ranges are populated at once, because
 * the kernel's huge page reservation is not per node: an exhausted node is an allocation
 * failure, not SIGBUS. decommit returns base pages with MADV_DONTNEED, which keeps the
 * range's policy; hugetlb pages stay with the kind.
 *
 * Fork: private anonymous memory is inherited copy-on-write, so a child keeps using the kind.
 */
#include <errno.h>
#include <linux/mempolicy.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#ifndef MPOL_PREFERRED_MANY
#define MPOL_PREFERRED_MANY 5
#endif

#define HUGE_2M ((size_t)2 << 20)
#define WINDOW ((size_t)16 << 30) /* address space per window; memory is mapped on demand */

static size_t round_up(size_t x, size_t a) { return (x + a - 1) & ~(a - 1); }

static const tc_numa_params_t *params_of(const struct tc_numa_state *s) {
    return s->preset >= 0 ? &tc__numa_presets[s->preset].params : &s->params;
}

static bool is_huge(const struct tc_numa_state *s) { return params_of(s)->page_size == HUGE_2M; }

/* The window containing addr, or NULL. */
static struct tc_numa_window *window_of(struct tc_numa_state *s, uintptr_t addr) {
    unsigned n = atomic_load_explicit(&s->nwin, memory_order_acquire);
    for (unsigned i = 0; i < n; i++)
        if (addr >= s->win[i].base && addr < s->win[i].base + s->win[i].len) return &s->win[i];
    return NULL;
}

/* Apply the kind's policy to a freshly mapped range, for the calling CPU's node. */
static int bind_range(struct tc_numa_state *s, void *addr, size_t len) {
    tc_nodemask_t mask;
    const char *why;
    int err = tc__topology_target(params_of(s)->nodes, tc__topology_cpu_node(), &mask, &why);
    if (err) return ENODEV;
    int e;
    switch (params_of(s)->policy) {
    case TC_POLICY_PREFERRED:
        if (tc__mask_count(&mask) > 1) {
            e = tc__os_mbind(addr, len, MPOL_PREFERRED_MANY, &mask);
            if (e != EINVAL) return e;
        }
        /* one node, or a kernel before 5.15: prefer the first (the closest) */
        int first = tc__mask_first(&mask);
        memset(&mask, 0, sizeof mask);
        tc__mask_set(&mask, (unsigned)first);
        return tc__os_mbind(addr, len, MPOL_PREFERRED, &mask);
    case TC_POLICY_INTERLEAVE:
        tc__os_no_thp(addr, len); /* interleave page by page, as memkind does */
        return tc__os_mbind(addr, len, MPOL_INTERLEAVE, &mask);
    default: return tc__os_mbind(addr, len, MPOL_BIND, &mask);
    }
}

/* Reserve a new window of at least need bytes. 0 or an errno. Kind lock held. */
static int add_window(tc_kind_t *k, struct tc_numa_state *s, size_t need) {
    unsigned n = atomic_load_explicit(&s->nwin, memory_order_relaxed);
    if (n == TC_NUMA_MAX_WINDOWS) return ENOMEM;
    size_t len = round_up(need > WINDOW ? need : WINDOW, TC_GRANULE);
    void *base;
    int e = tc__os_reserve(len, TC_GRANULE, &base);
    if (e) return e;
    if ((e = tc__ptrmap_assign((uintptr_t)base, len, k->id))) {
        tc__os_unmap(base, len);
        return e;
    }
    s->win[n] = (struct tc_numa_window){(uintptr_t)base, len, 0};
    atomic_store_explicit(&s->nwin, n + 1, memory_order_release);
    return 0;
}

static void *numa_reserve(tc_kind_t *k, size_t size, size_t align, bool *zero, bool *commit) {
    struct tc_numa_state *s = k->priv;
    bool huge = is_huge(s);
    if (huge) {
        size = round_up(size, HUGE_2M);
        if (align < HUGE_2M) align = HUGE_2M;
    }
    void *ret = NULL;
    int e = 0;
    pthread_mutex_lock(&k->lock);
    for (int attempt = 0; attempt < 2 && !ret && !e; attempt++) {
        unsigned n = atomic_load_explicit(&s->nwin, memory_order_relaxed);
        if (n) {
            struct tc_numa_window *w = &s->win[n - 1];
            uintptr_t start = round_up(w->base + w->used, align);
            if (start + size <= w->base + w->len) {
                e = tc__os_map_anon_rw((void *)start, size, huge);
                if (!e) e = bind_range(s, (void *)start, size);
                if (!e && huge) { /* hugetlb reservations ignore nodes: take the pages now */
                    e = tc__os_populate((void *)start, size);
                    if (e == EINVAL) e = 0;
                    else if (e) e = ENOMEM;
                }
                if (e) {
                    tc__os_map_anon((void *)start, size, false); /* back to reserved */
                } else {
                    w->used = start + size - w->base;
                    ret = (void *)start;
                }
                break;
            }
        }
        e = add_window(k, s, size + align);
    }
    pthread_mutex_unlock(&k->lock);
    if (!ret) {
        errno = e ? e : ENOMEM;
        return NULL;
    }
    *zero = true; /* fresh anonymous pages */
    *commit = true;
    return ret;
}

static int numa_commit(tc_kind_t *k, void *addr, size_t size) {
    return 0; /* mapped read-write since reserve; a discarded page faults in afresh */
}

static int numa_decommit(tc_kind_t *k, void *addr, size_t size) {
    struct tc_numa_state *s = k->priv;
    if (is_huge(s)) return EOPNOTSUPP; /* hugetlb pages are kept for reuse */
    return tc__os_discard(addr, size);
}

static bool numa_can_merge(tc_kind_t *k, void *a, void *b) {
    struct tc_numa_state *s = k->priv;
    return window_of(s, (uintptr_t)a) == window_of(s, (uintptr_t)b);
}

static void numa_release(tc_kind_t *k) {
    struct tc_numa_state *s = k->priv;
    unsigned n = atomic_load(&s->nwin);
    for (unsigned i = 0; i < n; i++) {
        tc__ptrmap_clear(s->win[i].base, s->win[i].len);
        tc__os_unmap((void *)s->win[i].base, s->win[i].len);
    }
    free(s);
    k->priv = NULL;
}

/* Capacity of the nodes the kind uses from the calling CPU. */
static int numa_capacity(const tc_kind_t *k, size_t *out) {
    const struct tc_numa_state *s = k->priv;
    tc_nodemask_t mask;
    const char *why;
    int err = tc__topology_target(params_of(s)->nodes, tc__topology_cpu_node(), &mask, &why);
    if (err) return err;
    const struct tc_topology *t = tc__topology();
    size_t total = 0;
    for (unsigned i = 0; i < t->nnodes; i++)
        if (tc__mask_has(&mask, i))
            total += is_huge(s) ? tc__topology_hugepages(i) * HUGE_2M : t->node[i].capacity;
    *out = total;
    return TC_OK;
}

static int check_params(const tc_numa_params_t *p, const char **why) {
    const char *w = NULL;
    int err = TC_OK;
    if (!p || (unsigned)p->nodes >= TC_NODES_COUNT || (unsigned)p->policy > TC_POLICY_INTERLEAVE ||
        (p->page_size && p->page_size != tc__os_page_size() && p->page_size != HUGE_2M)) {
        w = "invalid parameters (nodes, policy, or a page size other than base or 2 MiB)";
        err = TC_ERR_INVALID;
    }
    tc_nodemask_t mask;
    if (!err) err = tc__topology_target(p->nodes, tc__topology_cpu_node(), &mask, &w);
    if (!err && p->page_size == HUGE_2M) {
        size_t pages = 0;
        const struct tc_topology *t = tc__topology();
        for (unsigned i = 0; i < t->nnodes; i++)
            if (tc__mask_has(&mask, i)) pages += tc__topology_hugepages(i);
        /* preferred falls back to other nodes, so any reserved page will do */
        if (!pages && p->policy == TC_POLICY_PREFERRED)
            for (unsigned i = 0; i < t->nnodes; i++) pages += tc__topology_hugepages(i);
        if (!pages) {
            w = "no 2 MiB huge pages reserved on its nodes (vm.nr_hugepages)";
            err = TC_ERR_UNAVAILABLE;
        }
    }
    if (why) *why = err ? w : NULL;
    return err;
}

static int numa_check_available(const tc_kind_t *k) {
    const struct tc_numa_state *s = k->priv;
    return check_params(params_of(s), NULL);
}

/* Static kinds get their arenas on first use (tc__kind_activate). */
static int numa_activate(tc_kind_t *k) {
    int err = numa_check_available(k);
    if (err) return err;
    return tc__kind_register(k, tc__numa_arenas(), -2);
}

const struct tc_kind_ops tc__numa_ops = {
    .reserve = numa_reserve,
    .commit = numa_commit,
    .decommit = numa_decommit,
    .can_merge = numa_can_merge,
    .release = numa_release,
    .capacity = numa_capacity,
    .check_available = numa_check_available,
    .activate = numa_activate,
};

/* One arena per CPU up to 8: threads spread over them (tcache.c picks by thread). */
unsigned tc__numa_arenas(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 8 ? 8 : (unsigned)n;
}

TC_API int tc_numa_check(const tc_numa_params_t *p, const char **why) {
    return check_params(p, why);
}

TC_API int tc_kind_create_numa(const tc_numa_params_t *p, tc_kind_t **out) {
    const char *why;
    if (!out) return TC_ERR_INVALID;
    int err = check_params(p, &why);
    if (err) {
        tc__log("NUMA kind unavailable: %s", why);
        return err;
    }
    tc__init();
    struct tc_numa_state *s = calloc(1, sizeof *s);
    if (!s) return TC_ERR_NOMEM;
    s->preset = -1;
    s->params = *p;
    tc_kind_t *k = tc__kind_alloc();
    if (!k) {
        free(s);
        return TC_ERR_NOMEM;
    }
    k->ops = &tc__numa_ops;
    k->name = "numa";
    k->priv = s;
    if ((err = tc__kind_register(k, tc__numa_arenas(), -2))) {
        free(s);
        tc__kind_free_unregistered(k);
        return err;
    }
    *out = k;
    return TC_OK;
}
