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
#define TC_MAX_KINDS 4096   /* registry slots; id 0 is DRAM */
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
    /* Return every resource of the kind (called once, after its arenas are destroyed). */
    void (*release)(tc_kind_t *k);
    /* In a forked child: detach from memory shared with the parent. No jemalloc calls. */
    void (*fork_child)(tc_kind_t *k);
    /* Capacity in bytes. TC_OK or an error. */
    int (*capacity)(const tc_kind_t *k, size_t *out);
    /* TC_OK when the kind can allocate on this machine. */
    int (*check_available)(const tc_kind_t *k);
};

enum tc_kind_flags {
    TC_KIND_STATIC = 1,      /* built in; never destroyed */
    TC_KIND_AUTO_ARENAS = 2, /* DRAM: jemalloc's automatic arenas and thread caches */
};

#define TC_KIND_MAGIC 0x7443696eu /* alive */
#define TC_KIND_DEAD 0x64656164u  /* destroyed */

struct tc_kind {
    _Atomic uint32_t magic;
    uint32_t gen;       /* unique per creation: validates per-thread cache entries */
    uint16_t id;        /* registry slot and address-index value; 0 for DRAM */
    uint8_t flags;      /* tc_kind_flags */
    _Atomic bool detached; /* set in a forked child for memory not inherited */
    const struct tc_kind_ops *ops;
    const char *name;
    unsigned narenas;
    unsigned arenas[TC_MAX_ARENAS_PER_KIND];
    pthread_mutex_t lock; /* guards the provider's state */
    /* explicit jemalloc thread caches handed to threads, guarded by the registry lock */
    unsigned *tcaches;
    size_t ntcaches, cap_tcaches;
    void *priv; /* provider state */
    struct tc_kind *next_free; /* registry's free list of destroyed kind structs */
};

/* ---- built-in kinds ---- */
extern tc_kind_t tc__kind_dram;
/* A static kind whose memory is not available on this build or machine yet. */
#define TC_UNAVAILABLE_KIND(sym, kname)                                                        \
    tc_kind_t sym = {.magic = TC_KIND_MAGIC, .flags = TC_KIND_STATIC, .gen = TC_GEN_NONE,      \
                     .ops = &tc__unavailable_ops, .name = kname}
extern const struct tc_kind_ops tc__unavailable_ops;

/* ---- registry.c: kind slots, creation and destruction, fork handling ---- */
void tc__init(void); /* idempotent; call before anything that allocates or creates kinds */
extern tc_kind_t *_Atomic tc__slots[TC_MAX_KINDS];
/* Generation of the live kind in each slot (TC_GEN_NONE when empty), read by free's fast path
 * in parallel with the thread's cache entry. */
#define TC_GEN_NONE UINT32_MAX
extern _Atomic uint32_t tc__slot_gen[TC_MAX_KINDS];
/* Set in a forked child once any kind is detached: sends every call to the checked path. */
extern _Atomic bool tc__forked;
/* Register a new kind: assign id and gen, create its arenas with the given decay. */
int tc__kind_register(tc_kind_t *k, unsigned narenas, ssize_t dirty_decay_ms);
/* Allocate a zeroed kind struct (recycled from destroyed ones when possible). */
tc_kind_t *tc__kind_alloc(void);
/* Give back a struct from tc__kind_alloc that was never registered. */
void tc__kind_free_unregistered(tc_kind_t *k);
bool tc__kind_alive(const tc_kind_t *k);
void tc__registry_lock(void);
void tc__registry_unlock(void);

/* ---- tcache.c: per-(thread, kind) explicit jemalloc thread caches ---- */
struct tc_tl_slot {
    uint32_t gen;
    int flags; /* MALLOCX_ARENA | MALLOCX_TCACHE for this thread and kind */
};
extern __thread struct tc_tl_slot *tc__tl_slots;
extern __thread uint32_t tc__tl_cap;
int tc__tcache_flags_slow(tc_kind_t *k);
/* mallocx/dallocx flags for this thread and a live arena kind. */
static inline int tc__kind_flags(tc_kind_t *k) {
    uint32_t id = k->id;
    if (TC_LIKELY(id < tc__tl_cap && tc__tl_slots[id].gen == k->gen))
        return tc__tl_slots[id].flags;
    return tc__tcache_flags_slow(k);
}
/* This thread's flags for kind id when its entry is current, else 0 (no flags are 0: the
 * tcache field of a stored entry is never empty). */
static inline int tc__id_flags_fast(uint32_t id) {
    if (TC_LIKELY(id < tc__tl_cap &&
                  tc__tl_slots[id].gen == atomic_load_explicit(&tc__slot_gen[id],
                                                               memory_order_relaxed)))
        return tc__tl_slots[id].flags;
    return 0;
}
/* Destroy every thread cache of a kind (registry lock held, kind unused). */
void tc__tcache_destroy_all(tc_kind_t *k);

/* ---- ptrmap.c: lock-free address -> kind id index, 2 MiB granules ---- */
#define TC_PTRMAP_SHARED 0xffffu /* granule shared with fixed areas: search the ranges */
#define TC_PTRMAP_TOP_BITS 13
#define TC_PTRMAP_LEAF_BITS 13
extern _Atomic(_Atomic uint16_t *) tc__ptrmap_top[1u << TC_PTRMAP_TOP_BITS];
uint16_t tc__ptrmap_get_shared(uintptr_t addr);
static inline uint16_t tc__ptrmap_get(const void *p) {
    uintptr_t a = (uintptr_t)p;
    if (TC_UNLIKELY(a >> (TC_GRANULE_SHIFT + TC_PTRMAP_TOP_BITS + TC_PTRMAP_LEAF_BITS)))
        return 0;
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
/* Map an arbitrary range (a fixed area) to id; edge granules become shared. 0 or errno. */
int tc__ptrmap_assign_range(uintptr_t start, size_t len, uint16_t id);
/* Undo tc__ptrmap_assign_range, restoring what the granules held before. */
void tc__ptrmap_clear_range(uintptr_t start, size_t len, uint16_t id);
void tc__ptrmap_fork_child(void);

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
    TC_OPT_COUNT
};
void tc__options_init(void);
/* TC_OK and *out = the option's value (its default when unset), or TC_ERR_ENVIRON. */
int tc__option_uint(enum tc_option_id id, unsigned long *out);
/* The raw string of a node-list option, NULL when unset; TC_ERR_ENVIRON when invalid. */
int tc__option_str(enum tc_option_id id, const char **out);
bool tc__debug(void);
void tc__log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- os.c: every mmap/madvise/fallocate/open; 0 or an errno ---- */
int tc__os_reserve(size_t len, size_t align, void **out); /* PROT_NONE, aligned */
int tc__os_map_file(void *addr, size_t len, int fd, off_t off); /* MAP_SHARED|MAP_FIXED */
int tc__os_map_anon(void *addr, size_t len, bool accessible); /* MAP_FIXED private zeros */
int tc__os_unmap(void *addr, size_t len);
int tc__os_dontfork(void *addr, size_t len);
int tc__os_file_alloc(int fd, off_t off, size_t len); /* allocate file blocks */
int tc__os_file_punch(int fd, off_t off, size_t len); /* return file blocks */
int tc__os_open_tmpfile(const char *dir, int *fd);    /* unlinked, 0600 */
int tc__os_check_dir(const char *dir);                /* exists, is a dir, writable */
int tc__os_fs_size(int fd, size_t *out);
int tc__os_map_sync_works(int fd);
size_t tc__os_page_size(void);
size_t tc__os_phys_mem(void);
/* Map an errno from os.c to a TC_ERR_* code. */
int tc__err_from_errno(int e);

/* ---- arena.c / stats.c helpers ---- */
int tc__mallctl_arena_u(unsigned arena, const char *leaf, const void *newv, size_t newlen);
/* Number of arena indices in use (automatic, huge and kinds' arenas). */
unsigned tc__narenas_total(void);

#endif /* TC_INTERNAL_H */
