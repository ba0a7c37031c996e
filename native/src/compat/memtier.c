/*
 * memkind 1.14's memtier API: a builder makes a memtier_memory (tiers, ratios, a policy); the
 * memtier_* heap functions allocate on the tier the policy picks and keep, per kind, the bytes
 * (usable sizes) allocated through this API.
 *
 * STATIC_RATIO picks the tier i with the smallest allocated[i] / ratio[i]: the tier furthest
 * below its share. DYNAMIC_THRESHOLD sends an allocation of size s to the first tier i with
 * s < thresholds[i].val (the last tier when none); every check_cnt allocations, for each pair
 * of neighbouring tiers it compares tier i's fraction of the pair's bytes with the fraction its
 * ratio asks for and, when they differ by `trigger` or more, moves thresholds[i].val by
 * `degree` (a fraction of its value) toward the ratio, within [min, max].
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "memtier_internal.h"

struct threshold_cfg {
    size_t val, min, max;
};

struct memtier_builder {
    memtier_policy_t policy;
    unsigned n;
    memkind_t kinds[TC_MEMTIER_MAX_TIERS];
    unsigned ratio[TC_MEMTIER_MAX_TIERS];
    struct threshold_cfg thr[TC_MEMTIER_MAX_TIERS - 1];
    unsigned check_cnt;
    float trigger, degree;
};

struct memtier_memory {
    memtier_policy_t policy;
    unsigned n;
    memkind_t kinds[TC_MEMTIER_MAX_TIERS];
    unsigned ratio[TC_MEMTIER_MAX_TIERS];
    _Atomic size_t val[TC_MEMTIER_MAX_TIERS - 1]; /* current thresholds */
    size_t min[TC_MEMTIER_MAX_TIERS - 1], max[TC_MEMTIER_MAX_TIERS - 1];
    unsigned check_cnt;
    float trigger, degree;
    _Atomic unsigned long ops;
};

/* ---- per-kind accounting: an open-addressing table keyed by the kind pointer ---- */
#define ACCT_SLOTS 1024
static struct {
    _Atomic(memkind_t) kind;
    _Atomic int64_t bytes;
} acct[ACCT_SLOTS];

/* The kind's counter; created on first use when `create`. NULL when absent (or table full). */
static _Atomic int64_t *counter(memkind_t kind, bool create) {
    uintptr_t h = ((uintptr_t)kind >> 4) * UINT64_C(0x9e3779b97f4a7c15);
    for (unsigned i = 0; i < ACCT_SLOTS; i++) {
        unsigned s = (unsigned)((h >> 40) + i) % ACCT_SLOTS;
        memkind_t k = atomic_load_explicit(&acct[s].kind, memory_order_acquire);
        if (k == kind) return &acct[s].bytes;
        if (!k) {
            if (!create) return NULL;
            memkind_t expected = NULL;
            if (atomic_compare_exchange_strong(&acct[s].kind, &expected, kind) || expected == kind)
                return &acct[s].bytes;
        }
    }
    return NULL;
}

void tc__memtier_account(memkind_t kind, int64_t delta) {
    _Atomic int64_t *c = counter(kind, true);
    if (c) atomic_fetch_add_explicit(c, delta, memory_order_relaxed);
}

void tc__memtier_forget(memkind_t kind) {
    _Atomic int64_t *c = counter(kind, false);
    if (c) atomic_store_explicit(c, 0, memory_order_relaxed);
}

static size_t allocated(memkind_t kind) {
    _Atomic int64_t *c = counter(kind, false);
    int64_t v = c ? atomic_load_explicit(c, memory_order_relaxed) : 0;
    return v > 0 ? (size_t)v : 0;
}

MEMKIND_EXPORT_API size_t memtier_kind_allocated_size(memkind_t kind) { return allocated(kind); }

/* ---- builder ---- */
MEMKIND_EXPORT_API struct memtier_builder *memtier_builder_new(memtier_policy_t policy) {
    if (policy != MEMTIER_POLICY_STATIC_RATIO && policy != MEMTIER_POLICY_DYNAMIC_THRESHOLD)
        return NULL;
    struct memtier_builder *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->policy = policy;
    for (unsigned i = 0; i < TC_MEMTIER_MAX_TIERS - 1; i++)
        b->thr[i] = (struct threshold_cfg){1024 * (i + 1), 513 + 1024 * i, 1536 + 1024 * i};
    b->check_cnt = 20;
    b->trigger = 0.02f;
    b->degree = 0.15f;
    return b;
}

MEMKIND_EXPORT_API void memtier_builder_delete(struct memtier_builder *builder) { free(builder); }

MEMKIND_EXPORT_API int memtier_builder_add_tier(struct memtier_builder *b, memkind_t kind,
                                                unsigned kind_ratio) {
    if (!b || !kind || !kind_ratio || b->n == TC_MEMTIER_MAX_TIERS ||
        memkind_check_available(kind) != MEMKIND_SUCCESS)
        return MEMKIND_ERROR_INVALID;
    for (unsigned i = 0; i < b->n; i++)
        if (b->kinds[i] == kind) return MEMKIND_ERROR_INVALID;
    b->kinds[b->n] = kind;
    b->ratio[b->n] = kind_ratio;
    b->n++;
    return MEMKIND_SUCCESS;
}

/* Parse "thresholds[ID].field" into id and field; false when malformed. */
static bool parse_threshold_name(const char *s, unsigned *id, const char **field) {
    static const char pre[] = "thresholds[";
    if (strncmp(s, pre, sizeof pre - 1)) return false;
    s += sizeof pre - 1;
    if (*s < '0' || *s > '9') return false;
    unsigned long v = 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (unsigned long)(*s++ - '0');
        if (v >= TC_MEMTIER_MAX_TIERS - 1) return false;
    }
    if (s[0] != ']' || s[1] != '.') return false;
    *id = (unsigned)v;
    *field = s + 2;
    return true;
}

/*
 * As memkind 1.14: every failure is -1. Only DYNAMIC_THRESHOLD builders have these names, and
 * thresholds[i] exists once tier i + 1 has been added. Values are checked together when the
 * memory is constructed, not here: a threshold's val against its min and max, neighbouring
 * thresholds' order, and a negative trigger or degree.
 */
MEMKIND_EXPORT_API int memtier_ctl_set(struct memtier_builder *b, const char *name,
                                       const void *val) {
    static const char pre[] = "policy.dynamic_threshold.";
    if (!b || !name || !val || b->policy != MEMTIER_POLICY_DYNAMIC_THRESHOLD ||
        strncmp(name, pre, sizeof pre - 1))
        return -1;
    const char *rest = name + sizeof pre - 1;
    unsigned id;
    const char *field;
    if (parse_threshold_name(rest, &id, &field)) {
        if (id + 1 >= b->n) return -1; /* no such pair of tiers (yet) */
        size_t v = *(const size_t *)val;
        if (!strcmp(field, "val")) b->thr[id].val = v;
        else if (!strcmp(field, "min")) b->thr[id].min = v;
        else if (!strcmp(field, "max")) b->thr[id].max = v;
        else return -1;
        return 0;
    }
    if (!strcmp(rest, "check_cnt")) {
        b->check_cnt = *(const unsigned *)val; /* 0: every allocation checks */
        return 0;
    }
    if (!strcmp(rest, "trigger")) {
        b->trigger = *(const float *)val;
        return 0;
    }
    if (!strcmp(rest, "degree")) {
        b->degree = *(const float *)val;
        return 0;
    }
    return -1;
}

MEMKIND_EXPORT_API struct memtier_memory *
memtier_builder_construct_memtier_memory(struct memtier_builder *b) {
    if (!b || !b->n) return NULL;
    if (b->policy == MEMTIER_POLICY_DYNAMIC_THRESHOLD) {
        if (b->n < 2 || b->trigger < 0 || b->degree < 0) return NULL;
        for (unsigned i = 0; i + 1 < b->n; i++) {
            const struct threshold_cfg *t = &b->thr[i];
            if (t->min > t->val || t->val > t->max) return NULL;
            if (i > 0 && b->thr[i - 1].max > t->min) return NULL; /* keeps them ordered */
        }
    }
    struct memtier_memory *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->policy = b->policy;
    m->n = b->n;
    memcpy(m->kinds, b->kinds, sizeof m->kinds);
    memcpy(m->ratio, b->ratio, sizeof m->ratio);
    for (unsigned i = 0; i + 1 < b->n; i++) {
        atomic_init(&m->val[i], b->thr[i].val);
        m->min[i] = b->thr[i].min;
        m->max[i] = b->thr[i].max;
    }
    m->check_cnt = b->check_cnt ? b->check_cnt : 1;
    m->trigger = b->trigger;
    m->degree = b->degree;
    for (unsigned i = 0; i < m->n; i++) counter(m->kinds[i], true);
    return m;
}

MEMKIND_EXPORT_API void memtier_delete_memtier_memory(struct memtier_memory *memory) {
    free(memory);
}

unsigned tc__memtier_ntiers(const struct memtier_memory *m) { return m->n; }
memkind_t tc__memtier_tier_kind(const struct memtier_memory *m, unsigned i) { return m->kinds[i]; }

/* ---- policies ---- */
static memkind_t pick_static_ratio(struct memtier_memory *m) {
    unsigned best = 0;
    double best_load = (double)allocated(m->kinds[0]) / m->ratio[0];
    for (unsigned i = 1; i < m->n; i++) {
        double load = (double)allocated(m->kinds[i]) / m->ratio[i];
        if (load < best_load) {
            best = i;
            best_load = load;
        }
    }
    return m->kinds[best];
}

/* Move each threshold toward its pair's ratio (see the file comment). */
static void adjust_thresholds(struct memtier_memory *m) {
    for (unsigned i = 0; i + 1 < m->n; i++) {
        double a = (double)allocated(m->kinds[i]), b = (double)allocated(m->kinds[i + 1]);
        if (a + b == 0) continue;
        double want = (double)m->ratio[i] / ((double)m->ratio[i] + m->ratio[i + 1]);
        double have = a / (a + b);
        size_t v = atomic_load_explicit(&m->val[i], memory_order_relaxed), nv = v;
        double d = (double)v * m->degree; /* degree may be NaN or above 1, as memkind allows */
        size_t step = d >= 1.0 ? (d < (double)SIZE_MAX / 2 ? (size_t)d : SIZE_MAX / 2) : 1;
        if (have - want >= m->trigger && have != want) /* tier i holds too much: lower */
            nv = v - m->min[i] > step ? v - step : m->min[i];
        else if (want - have >= m->trigger && have != want) /* too little: raise */
            nv = m->max[i] - v > step ? v + step : m->max[i];
        if (nv != v) atomic_store_explicit(&m->val[i], nv, memory_order_relaxed);
    }
}

static memkind_t pick_dynamic_threshold(struct memtier_memory *m, size_t size) {
    unsigned long ops = atomic_fetch_add_explicit(&m->ops, 1, memory_order_relaxed) + 1;
    if (ops % m->check_cnt == 0) adjust_thresholds(m);
    for (unsigned i = 0; i + 1 < m->n; i++)
        if (size < atomic_load_explicit(&m->val[i], memory_order_relaxed)) return m->kinds[i];
    return m->kinds[m->n - 1];
}

memkind_t tc__memtier_pick(struct memtier_memory *m, size_t size) {
    return m->policy == MEMTIER_POLICY_DYNAMIC_THRESHOLD ? pick_dynamic_threshold(m, size)
                                                         : pick_static_ratio(m);
}

/* ---- heap ---- */
static void *account_new(memkind_t kind, void *p) {
    if (p) tc__memtier_account(kind, (int64_t)memkind_malloc_usable_size(kind, p));
    return p;
}

MEMKIND_EXPORT_API void *memtier_kind_malloc(memkind_t kind, size_t size) {
    return account_new(kind, memkind_malloc(kind, size));
}

MEMKIND_EXPORT_API void *memtier_kind_calloc(memkind_t kind, size_t num, size_t size) {
    return account_new(kind, memkind_calloc(kind, num, size));
}

MEMKIND_EXPORT_API int memtier_kind_posix_memalign(memkind_t kind, void **memptr, size_t alignment,
                                                   size_t size) {
    int r = memkind_posix_memalign(kind, memptr, alignment, size);
    if (r == 0) account_new(kind, *memptr);
    return r;
}

MEMKIND_EXPORT_API void memtier_kind_free(memkind_t kind, void *ptr) {
    if (!ptr) return;
    memkind_t k = kind ? kind : memkind_detect_kind(ptr);
    tc__memtier_account(k, -(int64_t)memkind_malloc_usable_size(k, ptr));
    memkind_free(k, ptr);
}

MEMKIND_EXPORT_API void *memtier_kind_realloc(memkind_t kind, void *ptr, size_t size) {
    if (!ptr) return memtier_kind_malloc(kind, size);
    if (!size) {
        memtier_kind_free(kind, ptr);
        return NULL;
    }
    memkind_t old_kind = memkind_detect_kind(ptr);
    size_t old = memkind_malloc_usable_size(old_kind, ptr);
    void *p = memkind_realloc(kind, ptr, size);
    if (!p) return NULL; /* ptr unchanged */
    tc__memtier_account(old_kind, -(int64_t)old);
    return account_new(memkind_detect_kind(p), p);
}

MEMKIND_EXPORT_API void *memtier_malloc(struct memtier_memory *memory, size_t size) {
    if (!memory) return NULL;
    return memtier_kind_malloc(tc__memtier_pick(memory, size), size);
}

MEMKIND_EXPORT_API void *memtier_calloc(struct memtier_memory *memory, size_t num, size_t size) {
    if (!memory) return NULL;
    size_t total = num * size;
    if (size && total / size != num) total = SIZE_MAX; /* calloc reports the overflow */
    return memtier_kind_calloc(tc__memtier_pick(memory, total), num, size);
}

MEMKIND_EXPORT_API void *memtier_realloc(struct memtier_memory *memory, void *ptr, size_t size) {
    if (!ptr) return memtier_malloc(memory, size);
    if (!size) {
        memtier_kind_free(NULL, ptr);
        return NULL;
    }
    return memtier_kind_realloc(memkind_detect_kind(ptr), ptr, size);
}

MEMKIND_EXPORT_API int memtier_posix_memalign(struct memtier_memory *memory, void **memptr,
                                              size_t alignment, size_t size) {
    if (!memory) return EINVAL;
    return memtier_kind_posix_memalign(tc__memtier_pick(memory, size), memptr, alignment, size);
}

MEMKIND_EXPORT_API size_t memtier_usable_size(void *ptr) {
    return memkind_malloc_usable_size(NULL, ptr);
}
