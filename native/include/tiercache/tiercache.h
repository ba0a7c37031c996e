/*
 * tiercache: allocate memory by kind (DRAM, file-backed PMEM, a caller's fixed area, and
 * NUMA-topology kinds), over a private copy of upstream jemalloc.
 *
 * Conventions:
 *  - every function that can fail returns 0 (TC_OK) or a negative TC_ERR_* code;
 *  - allocation functions return NULL and set errno (ENOMEM or EINVAL) on failure;
 *  - a NULL kind in free/realloc/usable_size/defrag means "find the kind from the pointer";
 *  - all functions are thread-safe; a kind must not be used while it is being destroyed.
 */
#ifndef TIERCACHE_TIERCACHE_H
#define TIERCACHE_TIERCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define TC_API __attribute__((visibility("default")))
#else
#define TC_API
#endif

#define TC_VERSION_MAJOR 0
#define TC_VERSION_MINOR 1
#define TC_VERSION_PATCH 0

/* Error codes. Every code has a message from tc_strerror(). */
enum tc_error {
    TC_OK = 0,
    TC_ERR_INVALID = -1,     /* an argument is out of range or malformed */
    TC_ERR_NOMEM = -2,       /* no memory (or file space) left for the request */
    TC_ERR_UNAVAILABLE = -3, /* this kind's memory does not exist on this machine */
    TC_ERR_NOENT = -4,       /* the directory does not exist or is not a directory */
    TC_ERR_ACCESS = -5,      /* the directory is not writable by this process */
    TC_ERR_NOTSUP = -6,      /* the filesystem lacks a needed feature (hole punching, DAX) */
    TC_ERR_TOOMANY = -7,     /* kind, arena or address-space limit reached */
    TC_ERR_ENVIRON = -8,     /* an environment option has an invalid value */
    TC_ERR_DESTROYED = -9,   /* the kind was already destroyed */
    TC_ERR_MMAP = -10,       /* the kernel refused to map memory */
    TC_ERR_ARENA = -11,      /* the allocator refused to create an arena */
    TC_ERR_FORKED = -12,     /* a file-backed kind used in a child process (see fork policy) */
    TC_ERR_SYSTEM = -13,     /* another operating-system error; errno tells which */
    TC_ERR_BUSY = -14,       /* the kind still has live allocations it cannot release */
    TC_ERR_TOOLARGE = -15,   /* a cache entry is larger than any tier's budget */
    TC_ERR_CORRUPT = -16,    /* tc_cache_check found a broken invariant */
    TC_ERR_CLOSED = -17,     /* the cache was destroyed */
    TC_ERR_NOTNUMBER = -18,  /* incr/decr of a value that is not a decimal number */
    TC_ERR_RANGE = -19,      /* a signed incr/decr would leave the 64-bit range */
};

/* Usage policy of a file-backed kind. */
typedef enum tc_file_policy {
    TC_FILE_PERFORMANCE = 0,  /* freed pages stay allocated in the file for a while */
    TC_FILE_CONSERVATIVE = 1, /* freed pages are returned to the filesystem at once */
} tc_file_policy_t;

/* What a forked child gets of a kind's memory (tc_kind_set_fork_policy). */
typedef enum tc_fork_policy {
    TC_FORK_DETACH = 0, /* nothing: the kind is detached in the child (file kinds' default) */
    TC_FORK_COPY = 1,   /* a private copy, as fork() gives of ordinary memory (DRAM's way) */
} tc_fork_policy_t;

/* Statistics of a kind, in bytes (see tc_stats_refresh). */
typedef enum tc_stat {
    TC_STAT_RESIDENT = 0,  /* physical memory held, metadata included */
    TC_STAT_ACTIVE = 1,    /* pages backing live allocations */
    TC_STAT_ALLOCATED = 2, /* bytes in live allocations (usable sizes) */
    TC_STAT_COUNT
} tc_stat_t;

typedef struct tc_kind tc_kind_t;

/* ---- kinds ---- */

/* The default DRAM kind: follows the process's memory policy, with jemalloc thread caches. */
TC_API tc_kind_t *tc_kind_dram(void);

/* Smallest non-zero max_size of a file-backed kind. */
#define TC_FILE_MIN_SIZE ((size_t)16 << 20)

/*
 * Create a kind backed by an unlinked temporary file (mode 0600) in `dir`, a directory on a
 * filesystem that supports hole punching. max_size 0 grows without limit; otherwise it is at
 * least TC_FILE_MIN_SIZE and allocations past it fail with ENOMEM.
 * Fork policy: the memory is not inherited. In a child process the kind is detached: malloc
 * returns NULL (ENOMEM), free is a no-op, and reading its old addresses faults (SIGSEGV)
 * rather than showing memory shared with the parent.
 */
TC_API int tc_kind_create_file(const char *dir, size_t max_size, tc_file_policy_t policy,
                               tc_kind_t **out);

/*
 * Choose what a forked child gets of the kind's memory. File kinds take either policy;
 * TC_FORK_COPY makes fork() wait while the child copies the kind's used memory into private
 * memory of its own (the parent's file is only read; the child's kind is then backed by
 * anonymous memory). Writes that other parent threads make during that copy may or may not
 * reach the child, as with writes racing fork(). DRAM and NUMA kinds, whose memory is private,
 * accept TC_FORK_COPY only; fixed kinds neither (TC_ERR_NOTSUP). TC_ERR_INVALID for an
 * unknown policy.
 */
TC_API int tc_kind_set_fork_policy(tc_kind_t *kind, tc_fork_policy_t policy);

/*
 * Create a kind that allocates from the caller's memory area [addr, addr+size). The area must
 * stay valid until the kind is destroyed; only its page-aligned interior is used.
 */
TC_API int tc_kind_create_fixed(void *addr, size_t size, tc_kind_t **out);

/*
 * Destroy a kind made by a tc_kind_create_* function. Its allocations become invalid.
 * Returns TC_ERR_DESTROYED on a second call, TC_ERR_INVALID for a built-in kind.
 */
TC_API int tc_kind_destroy(tc_kind_t *kind);

/* TC_OK when the kind can allocate on this machine, else why not. */
TC_API int tc_kind_check_available(const tc_kind_t *kind);

/* Short human name of the kind ("dram", "file", "fixed", ...). */
TC_API const char *tc_kind_name(const tc_kind_t *kind);

/*
 * Capacity in bytes the kind can draw from: max_size (or the filesystem's size) for a file
 * kind, the area size for a fixed kind, physical memory for DRAM. TC_OK or an error.
 */
TC_API int tc_kind_capacity(const tc_kind_t *kind, size_t *out);

/* The kind that owns ptr (a live allocation of this library), or NULL for NULL. Lock-free. */
TC_API tc_kind_t *tc_detect_kind(const void *ptr);

/* TC_OK when `dir` is on a DAX filesystem (a MAP_SYNC mapping of a file there works). */
TC_API int tc_check_dax_path(const char *dir);

/* ---- NUMA topology and the kinds that place memory on nodes ---- */

/* Which NUMA nodes a NUMA kind draws from. "Closest" and "local" sets are worked out for the
 * node of the CPU that allocates (when the kind reserves memory from the system). */
typedef enum tc_numa_nodes {
    TC_NODES_CPU = 0,                     /* every node with CPUs (memkind's REGULAR) */
    TC_NODES_ALL = 1,                     /* every node with memory */
    TC_NODES_HBW_CLOSEST = 2,             /* the high-bandwidth node(s) closest to the CPU */
    TC_NODES_HBW_ALL = 3,                 /* every high-bandwidth node */
    TC_NODES_DAX_KMEM_CLOSEST = 4,        /* the DAX-KMEM node(s) closest to the CPU */
    TC_NODES_DAX_KMEM_ALL = 5,            /* every DAX-KMEM node */
    TC_NODES_HIGHEST_CAPACITY = 6,        /* the node(s) with the most memory */
    TC_NODES_HIGHEST_CAPACITY_LOCAL = 7,  /* ... among the nodes local to the CPU */
    TC_NODES_LOWEST_LATENCY_LOCAL = 8,    /* HMAT: lowest read latency among local nodes */
    TC_NODES_HIGHEST_BANDWIDTH_LOCAL = 9, /* HMAT: highest read bandwidth among local nodes */
    TC_NODES_COUNT
} tc_numa_nodes_t;

/* How pages are placed on the chosen nodes. */
typedef enum tc_numa_policy {
    TC_POLICY_BIND = 0,       /* only on those nodes: allocation fails when they are full */
    TC_POLICY_PREFERRED = 1,  /* on those nodes first, elsewhere when they are full */
    TC_POLICY_INTERLEAVE = 2, /* page by page round-robin over the nodes */
} tc_numa_policy_t;

/* A NUMA kind: nodes, policy and page size (0 or the base page: base pages with THP left to
 * the system; 2 MiB: hugetlb pages from the reserved pool). */
typedef struct tc_numa_params {
    tc_numa_nodes_t nodes;
    tc_numa_policy_t policy;
    size_t page_size;
} tc_numa_params_t;

/* Create a kind whose pages land on the nodes `p` chooses. TC_ERR_UNAVAILABLE when no node
 * qualifies (or no huge pages are reserved there), TC_ERR_ENVIRON for an invalid override. */
TC_API int tc_kind_create_numa(const tc_numa_params_t *p, tc_kind_t **out);
/* TC_OK when a NUMA kind with parameters p can allocate here; else the error, and *why (may
 * be NULL) a static sentence saying why not. */
TC_API int tc_numa_check(const tc_numa_params_t *p, const char **why);
/* The parameters of memkind's static kind `name`, lowercase without the prefix ("hbw",
 * "dax_kmem_preferred", "regular", "hugetlb", ...). TC_ERR_INVALID for an unknown name. */
TC_API int tc_numa_preset(const char *name, tc_numa_params_t *out);
/* The i-th preset name (i from 0), NULL past the last. */
TC_API const char *tc_numa_preset_name(unsigned i);

/* One NUMA node as the library sees it (overrides applied). */
typedef struct tc_node_info {
    unsigned id;
    size_t capacity;              /* bytes of memory (MemTotal) */
    unsigned read_bandwidth_mbps; /* HMAT access0 read bandwidth, 0 when absent */
    unsigned read_latency_ns;     /* HMAT access0 read latency, 0 when absent */
    size_t hugepages_2m;          /* 2 MiB pages reserved on the node */
    bool is_hbw;                  /* high-bandwidth: MEMKIND_HBW_NODES or HMAT threshold */
    bool is_dax_kmem;             /* DAX-KMEM: MEMKIND_DAX_KMEM_NODES or a kmem dax device */
    unsigned ncpus;
} tc_node_info_t;

/* The ids of the online NUMA nodes, ascending: *count of them, at most cap written to ids.
 * TC_ERR_ENVIRON for an invalid override option, TC_ERR_SYSTEM when sysfs is unreadable. */
TC_API int tc_topology_nodes(unsigned *ids, size_t cap, size_t *count);
/* Attributes of node id; TC_ERR_INVALID when no such node. */
TC_API int tc_topology_node(unsigned id, tc_node_info_t *out);
/* CPUs of node id (info.ncpus of them), at most cap written. */
TC_API int tc_topology_node_cpus(unsigned id, unsigned *cpus, size_t cap);
/* SLIT distance from node `from` to node `to` (10 = local). */
TC_API int tc_topology_distance(unsigned from, unsigned to, unsigned *out);
/* The node holding the page at addr (which must be touched memory), in *node. */
TC_API int tc_page_node(const void *addr, int *node);

/* ---- heap ---- */

/* size bytes of the kind; size 0 returns a unique minimal allocation. */
TC_API void *tc_malloc(tc_kind_t *kind, size_t size);
/* n*size zeroed bytes; NULL with ENOMEM when n*size overflows. */
TC_API void *tc_calloc(tc_kind_t *kind, size_t n, size_t size);
/* alignment: a power of two, multiple of sizeof(void*). Returns 0, EINVAL or ENOMEM. */
TC_API int tc_posix_memalign(tc_kind_t *kind, void **out, size_t alignment, size_t size);
/*
 * Resize ptr. ptr NULL behaves as malloc; size 0 frees ptr and returns NULL. When kind is not
 * NULL and differs from ptr's kind, the data moves to `kind`. On failure ptr stays valid.
 */
TC_API void *tc_realloc(tc_kind_t *kind, void *ptr, size_t size);
/* Free ptr (NULL is a no-op). kind may be NULL: the kind is found from the pointer. */
TC_API void tc_free(tc_kind_t *kind, void *ptr);
/* Usable size of the allocation at ptr (0 for NULL). kind may be NULL. */
TC_API size_t tc_usable_size(tc_kind_t *kind, const void *ptr);
/*
 * If ptr sits in a sparsely used slab, move it to a fuller one of the same kind and return the
 * new address (ptr is freed). Returns NULL when moving would not help; ptr then stays valid.
 */
TC_API void *tc_defrag_reallocate(tc_kind_t *kind, void *ptr);

/* ---- statistics and control ---- */

/* Refresh the cached statistics read by tc_kind_stat. */
TC_API int tc_stats_refresh(void);
/* One statistic of a kind, or of all kinds with kind NULL, as of the last refresh. */
TC_API int tc_kind_stat(const tc_kind_t *kind, tc_stat_t stat, size_t *out);
/* jemalloc's statistics report; opts uses malloc_stats_print's letters (may be NULL). */
TC_API int tc_stats_print(void (*write_cb)(void *, const char *), void *cbopaque,
                          const char *opts);
/* Start (true) or stop jemalloc's background purging threads. */
TC_API int tc_set_background_threads(bool enable);
/* What a cache calls at creation: start the background purging threads unless
 * TIERCACHE_BACKGROUND_PURGE=0 or they run already. TC_OK (also when off) or TC_ERR_SYSTEM. */
TC_API int tc_background_purge_start(void);
/* Return all unused dirty pages of a kind (NULL: all kinds) to the system now. For a kind
 * other than DRAM it first empties every thread's cache of that kind's free blocks, so the
 * pages they sat on can go too; DRAM's thread caches are jemalloc's own, which only their
 * threads flush. */
TC_API int tc_kind_purge(tc_kind_t *kind);

/* Message for a TC_ERR_* code (never NULL). */
TC_API const char *tc_strerror(int err);
/*
 * The first invalid environment option seen, as "NAME=value: reason", or NULL when all are
 * valid. Functions that depend on an invalid option return TC_ERR_ENVIRON.
 */
TC_API const char *tc_options_error(void);

#ifdef __cplusplus
}
#endif
#endif /* TIERCACHE_TIERCACHE_H */
