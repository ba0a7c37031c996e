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
#include "kinds/window.h"

#ifndef MPOL_PREFERRED_MANY
#define MPOL_PREFERRED_MANY 5
#endif

#define HUGE_2M ((size_t)2 << 20)
#define WINDOW ((size_t)16 << 30) /* address space per window; memory is mapped on demand */
#define MAX_WINDOWS 32

/* A NUMA kind's state: its parameters and its address space. */
struct numa_kind {
    tc_numa_params_t params;
    struct tc_windows win;
};
#define NUMA_WINDOWS \
    { .first = WINDOW, .limit = MAX_WINDOWS }

static size_t round_up(size_t x, size_t a) { return (x + a - 1) & ~(a - 1); }

static bool is_huge(const struct numa_kind *s) { return s->params.page_size == HUGE_2M; }

/* One arena per CPU up to 8: threads spread over them (tcache.c picks by thread). */
static unsigned numa_arenas(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 8 ? 8 : (unsigned)n;
}

/* Apply the kind's policy to a freshly mapped range, for the calling CPU's node. */
static int bind_range(const struct numa_kind *s, void *addr, size_t len) {
    tc_nodemask_t mask;
    const char *why;
    int err = tc__topology_target(s->params.nodes, tc__topology_cpu_node(), &mask, &why);
    if (err) return ENODEV;
    int e;
    switch (s->params.policy) {
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

/* Map a piece cut from a window read-write, bound to the kind's nodes; hugetlb pieces are
 * populated at once. On failure the piece goes back to reserved address space. */
static int numa_carve(tc_kind_t *k, const struct tc_window *w, uintptr_t addr, size_t size,
                      bool commit) {
    struct numa_kind *s = k->priv;
    bool huge = is_huge(s);
    int e = tc__os_map_anon_rw((void *)addr, size, huge);
    if (!e) e = bind_range(s, (void *)addr, size);
    if (!e && huge) { /* hugetlb reservations ignore nodes: take the pages now */
        e = tc__os_populate((void *)addr, size);
        if (e == EINVAL) e = 0;
        else if (e) e = ENOMEM;
    }
    if (e) tc__os_map_anon((void *)addr, size, false); /* back to reserved */
    return e;
}

static const struct tc_window_hooks numa_windows = {.carve = numa_carve};

/* reserve op: a piece of the newest window, mapped and bound (huge kinds: in 2 MiB pages). */
static void *numa_reserve(tc_kind_t *k, size_t size, size_t align, bool *zero, bool *commit) {
    struct numa_kind *s = k->priv;
    if (is_huge(s)) {
        size = round_up(size, HUGE_2M);
        if (align < HUGE_2M) align = HUGE_2M;
    }
    void *ret = tc__windows_reserve(k, &s->win, &numa_windows, size, align, true);
    if (ret) {
        *zero = true; /* fresh anonymous pages */
        *commit = true;
    }
    return ret;
}

static int numa_commit(tc_kind_t *k, void *addr, size_t size) {
    return 0; /* mapped read-write since reserve; a discarded page faults in afresh */
}

static int numa_decommit(tc_kind_t *k, void *addr, size_t size) {
    struct numa_kind *s = k->priv;
    if (is_huge(s)) return EOPNOTSUPP; /* hugetlb pages are kept for reuse */
    return tc__os_discard(addr, size);
}

static bool numa_can_merge(tc_kind_t *k, void *a, void *b) {
    struct numa_kind *s = k->priv;
    return tc__windows_same(&s->win, a, b);
}

/* Created kinds only (static kinds live for the process); also the cleanup of a failed
 * creation. */
static void numa_release(tc_kind_t *k) {
    struct numa_kind *s = k->priv;
    tc__windows_release(&s->win);
    free(s);
    k->priv = NULL;
}

/* Capacity of the nodes the kind uses from the calling CPU. */
static int numa_capacity(const tc_kind_t *k, size_t *out) {
    const struct numa_kind *s = k->priv;
    tc_nodemask_t mask;
    const char *why;
    int err = tc__topology_target(s->params.nodes, tc__topology_cpu_node(), &mask, &why);
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
    const struct numa_kind *s = k->priv;
    return check_params(&s->params, NULL);
}

/* Static kinds get their arenas on first use (tc__kind_activate). */
static int numa_activate(tc_kind_t *k) {
    int err = numa_check_available(k);
    if (err) return err;
    return tc__kind_register(k, numa_arenas(), TC_DECAY_JEMALLOC);
}

static const struct tc_kind_ops numa_ops = {
    .reserve = numa_reserve,
    .commit = numa_commit,
    .decommit = numa_decommit,
    .can_merge = numa_can_merge,
    .release = numa_release,
    .capacity = numa_capacity,
    .check_available = numa_check_available,
    .activate = numa_activate,
};

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
    struct numa_kind *s = calloc(1, sizeof *s);
    if (!s) return TC_ERR_NOMEM;
    *s = (struct numa_kind){*p, NUMA_WINDOWS};
    return tc__kind_create(&numa_ops, s, "numa", 0, numa_arenas(), TC_DECAY_JEMALLOC, out);
}

/* ---- memkind's static topology kinds: premade parameter sets (tiercache/numa_presets.h) ---- */

static struct numa_kind preset_state[TC_PRESET_COUNT] = {
#define TC_NUMA_PRESET(ID, name, nodes, policy, page_mib) \
    [TC_PRESET_##ID] = {{nodes, policy, (size_t)(page_mib) << 20}, NUMA_WINDOWS},
#include "tiercache/numa_presets.h"
#undef TC_NUMA_PRESET
};

/* Their arenas are made on first use (tc__kind_activate). */
tc_kind_t tc__numa_presets[TC_PRESET_COUNT] = {
#define TC_NUMA_PRESET(ID, kname, nodes, policy, page_mib)      \
    [TC_PRESET_##ID] = {.magic = TC_KIND_MAGIC,                 \
                        .flags = TC_KIND_STATIC | TC_KIND_LAZY, \
                        .gen = TC_GEN_NONE,                     \
                        .ops = &numa_ops,                       \
                        .name = #kname,                         \
                        .lock = PTHREAD_MUTEX_INITIALIZER,      \
                        .priv = &preset_state[TC_PRESET_##ID]},
#include "tiercache/numa_presets.h"
#undef TC_NUMA_PRESET
};

TC_API int tc_numa_preset(const char *name, tc_numa_params_t *out) {
    if (!name || !out) return TC_ERR_INVALID;
    for (unsigned i = 0; i < TC_PRESET_COUNT; i++)
        if (!strcmp(tc__numa_presets[i].name, name)) {
            *out = preset_state[i].params;
            return TC_OK;
        }
    return TC_ERR_INVALID;
}

TC_API const char *tc_numa_preset_name(unsigned i) {
    return i < TC_PRESET_COUNT ? tc__numa_presets[i].name : NULL;
}
