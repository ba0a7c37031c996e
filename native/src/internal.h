/* Declarations shared between the native library's units (tc__ prefix, hidden). */
#ifndef TC_INTERNAL_H
#define TC_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jemalloc/jemalloc.h>

#include "tiercache/tiercache.h"

#define TC_LIKELY(x) __builtin_expect(!!(x), 1)
#define TC_UNLIKELY(x) __builtin_expect(!!(x), 0)

#define TC_GRANULE_SHIFT 21 /* 2 MiB: kinds own address space in whole granules */
#define TC_GRANULE ((size_t)1 << TC_GRANULE_SHIFT)
#define TC_MAX_KINDS 4096 /* registry slots; id 0 is DRAM */
#define TC_MAX_ARENAS_PER_KIND 64
#define TC_ARENA_LIMIT 4095 /* jemalloc: 12 bits of arena index */

/* ---- where memory comes from: a kind's provider ops ---- */
struct tc_kind_ops {
    /* Reserve size bytes aligned to align. Set *zero if it reads as zeros, and *commit if it is
     * usable without a commit call (must commit when *commit is true on entry). NULL: errno. */
    void *(*reserve)(tc_kind_t *k, size_t size, size_t align, bool *zero, bool *commit);
    /* Make [addr, addr+size) usable. 0 or an errno. */
    int (*commit)(tc_kind_t *k, void *addr, size_t size);
    /* Give the memory's backing back; contents are lost and read as zeros after commit.
     * 0 or an errno (NULL slot: not supported). */
    int (*decommit)(tc_kind_t *k, void *addr, size_t size);
    /* True when two address-adjacent extents may be merged into one. */
    bool (*can_merge)(tc_kind_t *k, void *a, void *b);
    /* Return every resource of the kind (called once, after its arenas are destroyed, or when
     * its creation failed before it handed out memory). */
    void (*release)(tc_kind_t *k);
    /* In a forked child: detach from memory shared with the parent, or copy it (per the
     * kind's tc_fork_policy_t). No jemalloc calls. */
    void (*fork_child)(tc_kind_t *k);
    /* In a forked child, after fork_child detached the kind: make [addr, addr+len) readable
     * again, as a private copy of what it held at fork (a reader's pinned block). 0 or an
     * errno (NULL slot: the kind is never detached). */
    int (*fork_keep)(tc_kind_t *k, void *addr, size_t len);
    /* Choose what fork_child does. TC_OK or an error (NULL slot: see tc_kind_set_fork_policy). */
    int (*set_fork_policy)(tc_kind_t *k, tc_fork_policy_t policy);
    /* Capacity in bytes. TC_OK or an error. */
    int (*capacity)(const tc_kind_t *k, size_t *out);
    /* TC_OK when the kind can allocate on this machine. */
    int (*check_available)(const tc_kind_t *k);
    /* A TC_KIND_LAZY static kind's first use: make its arenas (tc__kind_register). TC_OK or
     * why it cannot allocate. */
    int (*activate)(tc_kind_t *k);
};

enum tc_kind_flags {
    TC_KIND_STATIC = 1,      /* built in; never destroyed */
    TC_KIND_AUTO_ARENAS = 2, /* DRAM: jemalloc's automatic arenas and thread caches */
    TC_KIND_LAZY = 4,        /* static kind whose arenas are made on first use (activate) */
    TC_KIND_UNCACHED = 8,    /* no thread caches: freed blocks go straight back to the arena */
    TC_KIND_MEMKIND = 16,    /* made through memkind.h: counts toward MEMKIND_MAX_KIND */
};

#define TC_KIND_MAGIC 0x7443696eu /* alive */
#define TC_KIND_DEAD 0x64656164u  /* destroyed */

struct tc_kind {
    _Atomic uint32_t magic;
    uint32_t gen;          /* unique per creation: validates per-thread cache entries */
    uint16_t id;           /* registry slot and address-index value; 0 for DRAM */
    uint8_t flags;         /* tc_kind_flags */
    _Atomic bool detached; /* set in a forked child for memory not inherited */
    const struct tc_kind_ops *ops;
    const char *name;
    unsigned narenas;
    unsigned arenas[TC_MAX_ARENAS_PER_KIND];
    pthread_mutex_t lock; /* guards the provider's state */
    /* explicit jemalloc thread caches handed to threads, guarded by the registry lock */
    unsigned *tcaches;
    size_t ntcaches, cap_tcaches;
    void *priv;                /* provider state */
    struct tc_kind *next_free; /* registry's free list of destroyed kind structs */
};

/* ---- built-in kinds ---- */
extern tc_kind_t tc__kind_dram;
/* A static kind whose memory is not available on this build or machine yet. */
#define TC_UNAVAILABLE_KIND(sym, kname)           \
    tc_kind_t sym = {.magic = TC_KIND_MAGIC,      \
                     .flags = TC_KIND_STATIC,     \
                     .gen = TC_GEN_NONE,          \
                     .ops = &tc__unavailable_ops, \
                     .name = kname}
extern const struct tc_kind_ops tc__unavailable_ops;

/* ---- kinds/kind_numa.c: NUMA kinds ---- */
/* memkind's static topology kinds (tiercache/numa_presets.h), by id. */
enum tc_numa_preset_id {
#define TC_NUMA_PRESET(ID, name, nodes, policy, page_mib) TC_PRESET_##ID,
#include "tiercache/numa_presets.h"
#undef TC_NUMA_PRESET
    TC_PRESET_COUNT
};
/* The static NUMA kind of each preset; its arenas are made on first use. */
extern tc_kind_t tc__numa_presets[TC_PRESET_COUNT];
/* Make a TC_KIND_LAZY kind's arenas if not made yet. TC_OK or why it cannot allocate. */
int tc__kind_activate(tc_kind_t *k);

/* ---- registry.c: kind slots, creation and destruction, fork handling ---- */
void tc__init(void); /* idempotent; call before anything that allocates or creates kinds */
extern tc_kind_t *_Atomic tc__slots[TC_MAX_KINDS];
/* Generation of the live kind in each slot (TC_GEN_NONE when empty), read by free's fast path
 * in parallel with the thread's cache entry. */
#define TC_GEN_NONE UINT32_MAX
extern _Atomic uint32_t tc__slot_gen[TC_MAX_KINDS];
/* Live kinds whose fork policy is TC_FORK_COPY: when not 0, the parent waits at fork() until
 * the child has made its copies (registry.c). */
extern _Atomic unsigned tc__fork_copy_kinds;
/* What a kind's arenas do with the pages of freed extents (jemalloc's dirty/muzzy decay). */
enum tc_decay {
    TC_DECAY_JEMALLOC,  /* jemalloc's own decay times (dirty_decay_ms, muzzy_decay_ms) */
    TC_DECAY_NEVER,     /* keep them (dirty_decay_ms -1): nothing to return, or hog memory */
    TC_DECAY_IMMEDIATE, /* return them at once (both decay times 0): memory over speed */
};
/* Register a new kind: assign id and gen, create its arenas with the given decay. */
int tc__kind_register(tc_kind_t *k, unsigned narenas, enum tc_decay decay);
/* Make and register a kind over provider `ops` and state `priv` (tc__init done here): TC_OK
 * and *out, or an error after ops->release(k) has let go of priv. */
int tc__kind_create(const struct tc_kind_ops *ops, void *priv, const char *name, uint8_t flags,
                    unsigned narenas, enum tc_decay decay, tc_kind_t **out);
bool tc__kind_alive(const tc_kind_t *k);
void tc__registry_lock(void);
void tc__registry_unlock(void);

/* ---- tcache.c: this thread's cache for each arena kind ---- */

#define TC_FRONT_MAX 1024u  /* the front cache holds free blocks of sizes up to this */
#define TC_FRONT_CLASSES 24 /* room for jemalloc's size classes up to TC_FRONT_MAX */
#define TC_FRONT_CAP 16     /* blocks kept per size class */

/*
 * One thread's cache for one arena kind: an explicit jemalloc tcache (flags) and, above it, a
 * front cache of free blocks by size class, blk[c][0..n[c]-1], that malloc and free reach
 * without entering jemalloc. Blocks in either layer count as allocated in the kind's stats,
 * as jemalloc's own tcache does. Owner-only fields (spilling) are never written by others.
 *
 * The owning thread uses both layers only between tc__tcache_enter and tc__tcache_leave
 * (busy). Another thread (purge) may empty them while holding the registry lock: it raises
 * TC_TCACHE_FLUSH, waits until the owner is not busy, empties, and lowers the bit; an owner
 * that finds it raised waits for that. The owner's side costs two plain stores and a load:
 * the ordering between its store to `busy` and its load of `state` comes from the purger's
 * membarrier(2), or, where that syscall is missing, from a fence the owner makes when it sees
 * TC_TCACHE_FENCE.
 */
enum tc_tcache_state {
    TC_TCACHE_FLUSH = 1,  /* another thread is emptying the cache */
    TC_TCACHE_FORKED = 2, /* in a forked child: the front cache is not used */
    TC_TCACHE_FENCE = 4,  /* no membarrier(2): the owner fences in tc__tcache_enter */
};
struct tc_tcache {
    _Atomic uint8_t busy;
    _Atomic uint8_t state; /* tc_tcache_state bits */
    uint8_t n[TC_FRONT_CLASSES];
    bool spilling;   /* a free found its bin full: frees bypass the front cache until a miss */
    uint16_t kind;   /* kind id */
    unsigned owner;  /* the owning thread's number */
    unsigned tcache; /* jemalloc's explicit tcache id */
    int flags;       /* MALLOCX_ARENA | MALLOCX_TCACHE */
    void *blk[TC_FRONT_CLASSES][TC_FRONT_CAP];
};
struct tc_tl_slot {
    uint32_t gen;
    int flags;               /* MALLOCX_ARENA | MALLOCX_TCACHE (or TCACHE_NONE) for this kind */
    struct tc_tcache *cache; /* NULL when no jemalloc tcache could be had: uncached */
};
/* This thread's identity, read without a call: its thread pointer (the TCB address under
 * glibc and musl), as mimalloc's _mi_prim_thread_id reads it. Unique among live threads. */
static inline uintptr_t tc__thread_id(void) {
    uintptr_t tp;
#if defined(__x86_64__)
    __asm__("mov %%fs:0, %0" : "=r"(tp));
#elif defined(__aarch64__)
    __asm__("mrs %0, tpidr_el0" : "=r"(tp));
#else
    tp = (uintptr_t)pthread_self();
#endif
    return tp;
}

/*
 * One thread's state, found from its thread pointer through tc__threads (else through a
 * pthread key). Not a __thread variable: in the shared library each function's first access
 * to one is a __tls_get_addr call, and the initial-exec model is no way out: it would put the
 * module's whole TLS block, jemalloc's 2.6 KiB included, in static TLS, where dlopen (Python)
 * fails with "cannot allocate memory in static TLS block". Never freed: at thread exit `tid`
 * goes to 0 and another thread may take the struct over.
 */
struct tc_tl {
    _Atomic uintptr_t tid;    /* the owner's tc__thread_id, 0 when unowned */
    struct tc_tl_slot *slots; /* indexed by kind id; the owner's only */
    uint32_t cap;             /* number of slots */
    unsigned index;           /* the owner's number from 1 (0 in tc__tl_none) */
    struct tc_tl *next;       /* every struct ever made, newest first */
};
#define TC_THREADS_BITS 10
extern struct tc_tl *_Atomic tc__threads[1u << TC_THREADS_BITS];
extern struct tc_tl tc__tl_none; /* no slots: what a thread sees before its first use */
struct tc_tl *tc__tl_slow(uintptr_t tid);
static inline unsigned tc__thread_hash(uintptr_t tid) {
    return (unsigned)(((tid >> 12) * UINT64_C(0x9e3779b97f4a7c15)) >> (64 - TC_THREADS_BITS));
}
/* This thread's state, or tc__tl_none. */
static inline struct tc_tl *tc__tl(void) {
    uintptr_t tid = tc__thread_id();
    struct tc_tl *tl =
        atomic_load_explicit(&tc__threads[tc__thread_hash(tid)], memory_order_relaxed);
    if (TC_LIKELY(tl && atomic_load_explicit(&tl->tid, memory_order_relaxed) == tid)) return tl;
    return tc__tl_slow(tid);
}

/* Front cache size classes: sizes 1..tc__front_limit map to class
 * tc__front_class[(size - 1) >> 3] of block size tc__front_size[class]. The limit is
 * TC_FRONT_MAX, or 0 (front cache off) when jemalloc's classes do not fit the table. */
extern size_t tc__front_limit;
extern uint8_t tc__front_class[TC_FRONT_MAX >> 3];
extern uint16_t tc__front_size[TC_FRONT_CLASSES];

/* mallocx/dallocx flags for this thread and a live arena kind, and *cache its cache (NULL:
 * uncached). Creates the thread's entry for the kind on first use. */
int tc__tcache_flags_slow(tc_kind_t *k, struct tc_tcache **cache);
static inline int tc__kind_flags(tc_kind_t *k, struct tc_tcache **cache) {
    struct tc_tl *tl = tc__tl();
    uint32_t id = k->id;
    if (TC_LIKELY(id < tl->cap && tl->slots[id].gen == k->gen)) {
        *cache = tl->slots[id].cache;
        return tl->slots[id].flags;
    }
    return tc__tcache_flags_slow(k, cache);
}
/* This thread's cache for kind id when its entry is current and cached, else NULL. */
static inline struct tc_tcache *tc__id_cache_fast(uint32_t id) {
    struct tc_tl *tl = tc__tl();
    if (TC_LIKELY(id < tl->cap && tl->slots[id].gen == atomic_load_explicit(&tc__slot_gen[id],
                                                                            memory_order_relaxed)))
        return tl->slots[id].cache;
    return NULL;
}

/* The rest of tc__tcache_try_enter when c->state is not 0: false for TC_TCACHE_FORKED when
 * `front`, else fences or waits as needed and returns true. */
bool tc__tcache_enter_slow(struct tc_tcache *c, bool front);
static inline bool tc__tcache_try_enter(struct tc_tcache *c, bool front) {
    atomic_store_explicit(&c->busy, 1, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst); /* see the struct's comment */
    if (TC_LIKELY(!atomic_load_explicit(&c->state, memory_order_acquire))) return true;
    return tc__tcache_enter_slow(c, front);
}
/* Begin using cache c (NULL: nothing to do); waits while another thread flushes it. */
static inline void tc__tcache_enter(struct tc_tcache *c) {
    if (c) tc__tcache_try_enter(c, false);
}
/* tc__tcache_enter for the front cache's fast paths, c not NULL. False, and not entered, in
 * a forked child: the caller takes the checked path. */
static inline bool tc__tcache_enter_front(struct tc_tcache *c) {
    return tc__tcache_try_enter(c, true);
}
/* End using cache c (NULL: nothing to do), entered with tc__tcache_enter or _enter_front. */
static inline void tc__tcache_leave(struct tc_tcache *c) {
    if (c) atomic_store_explicit(&c->busy, 0, memory_order_release);
}
/* Inside enter/leave: return every cached block and the jemalloc tcache's contents. */
void tc__tcache_drain(struct tc_tcache *c);
/* Empty every thread's caches of kind k (NULL: of every kind) into its arenas. */
void tc__tcache_flush_kind(tc_kind_t *k);
/* Destroy every thread cache of a kind (registry lock held, kind unused). */
void tc__tcache_destroy_all(tc_kind_t *k);

/* ---- ptrmap.c: lock-free address -> kind id index, 2 MiB granules ---- */
#define TC_PTRMAP_SHARED 0xffffu /* granule shared with fixed areas: search the areas */
#define TC_PTRMAP_TOP_BITS 13
#define TC_PTRMAP_LEAF_BITS 13
extern _Atomic(_Atomic uint16_t *) tc__ptrmap_top[1u << TC_PTRMAP_TOP_BITS];
uint16_t tc__ptrmap_get_shared(uintptr_t addr);
static inline uint16_t tc__ptrmap_get(const void *p) {
    uintptr_t a = (uintptr_t)p;
    if (TC_UNLIKELY(a >> (TC_GRANULE_SHIFT + TC_PTRMAP_TOP_BITS + TC_PTRMAP_LEAF_BITS))) return 0;
    _Atomic uint16_t *leaf = atomic_load_explicit(
        &tc__ptrmap_top[a >> (TC_GRANULE_SHIFT + TC_PTRMAP_LEAF_BITS)], memory_order_acquire);
    if (!leaf) return 0;
    uint16_t v = atomic_load_explicit(
        &leaf[(a >> TC_GRANULE_SHIFT) & ((1u << TC_PTRMAP_LEAF_BITS) - 1)], memory_order_relaxed);
    if (TC_LIKELY(v != TC_PTRMAP_SHARED)) return v;
    return tc__ptrmap_get_shared(a);
}
/* Give whole granules [start, start+len) to kind id (granule-aligned). 0 or an errno. */
int tc__ptrmap_assign(uintptr_t start, size_t len, uint16_t id);
/* Forget whole granules [start, start+len). */
void tc__ptrmap_clear(uintptr_t start, size_t len);
/* Map an arbitrary range (a fixed area) to id; granules it shares with other memory or other
 * areas become TC_PTRMAP_SHARED. 0 or errno. */
int tc__ptrmap_assign_range(uintptr_t start, size_t len, uint16_t id);
/* Undo tc__ptrmap_assign_range, restoring what the granules held before. */
void tc__ptrmap_clear_range(uintptr_t start, size_t len, uint16_t id);
/* Fixed kind id hands [from, to) of its area to jemalloc (from: where its last claim ended, or
 * its first). False, and nothing claimed, when another fixed kind's area has handed out part of
 * it (overlapping areas) or it is outside id's area. */
bool tc__ptrmap_claim(uint16_t id, uintptr_t from, uintptr_t to);
/* fork(): take the index's locks (after the kinds' provider locks), and release them in the
 * parent and the child. */
void tc__ptrmap_fork_prepare(void);
void tc__ptrmap_fork_release(void);

static inline tc_kind_t *tc__kind_of(const void *p) {
    uint16_t id = tc__ptrmap_get(p);
    if (TC_LIKELY(id == 0)) return &tc__kind_dram;
    tc_kind_t *k = atomic_load_explicit(&tc__slots[id], memory_order_acquire);
    return k ? k : &tc__kind_dram;
}

/* ---- extent.c: the one jemalloc extent-hooks table ---- */
extern extent_hooks_t tc__extent_hooks;
void tc__extent_bind_arena(unsigned arena, tc_kind_t *k);
/* True when the arena belongs to a kind (false for jemalloc's automatic and huge arenas). */
bool tc__extent_arena_is_bound(unsigned arena);

/* ---- topology.c: NUMA nodes and their attributes, read once ---- */
#define TC_MAX_NODES 1024 /* node ids below this; the options accept the same range */
typedef struct tc_nodemask {
    uint64_t w[TC_MAX_NODES / 64];
} tc_nodemask_t;
static inline void tc__mask_set(tc_nodemask_t *m, unsigned n) { m->w[n / 64] |= 1ull << (n % 64); }
static inline bool tc__mask_has(const tc_nodemask_t *m, unsigned n) {
    return n < TC_MAX_NODES && (m->w[n / 64] >> (n % 64) & 1);
}
static inline unsigned tc__mask_count(const tc_nodemask_t *m) {
    unsigned c = 0;
    for (unsigned i = 0; i < TC_MAX_NODES / 64; i++) c += (unsigned)__builtin_popcountll(m->w[i]);
    return c;
}
/* Lowest node in m, or -1 when empty. */
static inline int tc__mask_first(const tc_nodemask_t *m) {
    for (unsigned i = 0; i < TC_MAX_NODES / 64; i++)
        if (m->w[i]) return (int)(i * 64 + (unsigned)__builtin_ctzll(m->w[i]));
    return -1;
}

struct tc_node {
    bool online, has_cpus, is_hbw, is_dax_kmem;
    bool has_initiators; /* access0/initiators lists the nodes below */
    tc_nodemask_t initiators;
    size_t capacity;          /* bytes */
    unsigned bw_mbps, lat_ns; /* HMAT access0 read attributes, 0 when absent */
    unsigned ncpus;
    unsigned *cpus;
};
struct tc_topology {
    int err;              /* TC_OK, or why nothing below may be used */
    const char *why;      /* sentence for err */
    unsigned nnodes;      /* highest online node id + 1 */
    struct tc_node *node; /* [nnodes] */
    unsigned *distance;   /* [nnodes * nnodes], 0 when unknown */
    bool any_hmat;        /* some node has access0 initiators */
};
/* The machine's topology (read on first call; never NULL). */
const struct tc_topology *tc__topology(void);
/* 2 MiB pages reserved on node now (read live: tests and admins change the pool). */
size_t tc__topology_hugepages(unsigned node);
/* The nodes `sel` chooses for a CPU on cpu_node. TC_OK, or an error and *why. */
int tc__topology_target(tc_numa_nodes_t sel, unsigned cpu_node, tc_nodemask_t *out,
                        const char **why);
/* A node with CPUs to stand for "the allocating CPU" when the caller's node is unknown. */
unsigned tc__topology_cpu_node(void);

/* ---- options.c ---- */
enum tc_option_id {
    TC_OPT_DEBUG,
    TC_OPT_HOG_MEMORY,
    TC_OPT_BACKGROUND_THREAD_LIMIT,
    TC_OPT_FILE_ARENAS,
    TC_OPT_FILE_WINDOW_MB,
    TC_OPT_HBW_NODES,
    TC_OPT_DAX_KMEM_NODES,
    TC_OPT_HBW_THRESHOLD,
    TC_OPT_MEM_TIERS,
    TC_OPT_MEM_THRESHOLDS,
    TC_OPT_DRAM_DECAY_MS,
    TC_OPT_BACKGROUND_PURGE,
    TC_OPT_COUNT
};
void tc__options_init(void);
/* TC_OK and *out = the option's value (its default when unset), or TC_ERR_ENVIRON. */
int tc__option_uint(enum tc_option_id id, unsigned long *out);
/* The raw string of a node-list or text option, NULL when unset; TC_ERR_ENVIRON when invalid. */
int tc__option_str(enum tc_option_id id, const char **out);
bool tc__debug(void);
void tc__log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

extern _Atomic unsigned tc__fork_generation; /* bumped in every forked child (cache/forked.c) */
/* A new cache joins the caches whose locks fork() takes and starts the background purging
 * (tc_background_purge_start): TC_OK or TC_ERR_NOMEM. A released one leaves (cache/forked.c). */
struct tc_cache;
int tc__cache_register(struct tc_cache *c);
void tc__cache_unregister(struct tc_cache *c);

/* ---- os.c: every mmap/madvise/fallocate/open; 0 or an errno ---- */
int tc__os_reserve(size_t len, size_t align, void **out);       /* PROT_NONE, aligned */
int tc__os_map_file(void *addr, size_t len, int fd, off_t off); /* MAP_SHARED|MAP_FIXED */
int tc__os_map_anon(void *addr, size_t len, bool accessible);   /* MAP_FIXED private zeros */
int tc__os_unmap(void *addr, size_t len);
int tc__os_dontfork(void *addr, size_t len);
int tc__os_dofork(void *addr, size_t len);
int tc__os_copy_to_private(void *addr, size_t len, size_t used, int fd, off_t off);
int tc__os_file_alloc(int fd, off_t off, size_t len); /* allocate file blocks */
int tc__os_file_punch(int fd, off_t off, size_t len); /* return file blocks */
int tc__os_open_tmpfile(const char *dir, int *fd);    /* unlinked, 0600 */
int tc__os_check_dir(const char *dir);                /* exists, is a dir, writable */
int tc__os_fs_size(int fd, size_t *out);
int tc__os_map_sync_works(int fd);
size_t tc__os_page_size(void);
size_t tc__os_phys_mem(void);
/* NUMA (see topology.c for tc_nodemask_t) */
int tc__os_map_anon_rw(void *addr, size_t len, bool huge);
int tc__os_discard(void *addr, size_t len);
int tc__os_no_thp(void *addr, size_t len);
int tc__os_populate(void *addr, size_t len);
int tc__os_mbind(void *addr, size_t len, int mode, const tc_nodemask_t *mask);
int tc__os_page_node(const void *addr, int *node);
int tc__os_pages_nodes(void *const *pages, unsigned long n, int *status);
int tc__os_current_node(unsigned *node);
/* Map an errno from os.c to a TC_ERR_* code. */
int tc__err_from_errno(int e);

/* ---- arena.c / stats.c helpers ---- */
int tc__mallctl_arena_u(unsigned arena, const char *leaf, const void *newv, size_t newlen);
/* Number of arena indices in use (automatic, huge and kinds' arenas). */
unsigned tc__narenas_total(void);

#endif /* TC_INTERNAL_H */
