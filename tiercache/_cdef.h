/*
 * cffi declarations of tiercache's public C API: the single source of truth for the Python
 * binding. Mirrors native/include/tiercache/tiercache.h declaration by declaration, minus the
 * TC_API macro and preprocessor lines, then native/include/tiercache/cache.h the same way
 * (tests/test_cdef.py checks that they do not drift).
 */

#define TC_VERSION_MAJOR ...
#define TC_VERSION_MINOR ...
#define TC_VERSION_PATCH ...

enum tc_error {
    TC_OK = 0,
    TC_ERR_INVALID = -1,
    TC_ERR_NOMEM = -2,
    TC_ERR_UNAVAILABLE = -3,
    TC_ERR_NOENT = -4,
    TC_ERR_ACCESS = -5,
    TC_ERR_NOTSUP = -6,
    TC_ERR_TOOMANY = -7,
    TC_ERR_ENVIRON = -8,
    TC_ERR_DESTROYED = -9,
    TC_ERR_MMAP = -10,
    TC_ERR_ARENA = -11,
    TC_ERR_FORKED = -12,
    TC_ERR_SYSTEM = -13,
    TC_ERR_BUSY = -14,
    TC_ERR_TOOLARGE = -15,
    TC_ERR_CORRUPT = -16,
    TC_ERR_CLOSED = -17,
    TC_ERR_NOTNUMBER = -18,
    TC_ERR_RANGE = -19,
};

typedef enum tc_file_policy {
    TC_FILE_PERFORMANCE = 0,
    TC_FILE_CONSERVATIVE = 1,
} tc_file_policy_t;

typedef enum tc_fork_policy {
    TC_FORK_DETACH = 0,
    TC_FORK_COPY = 1,
} tc_fork_policy_t;

typedef enum tc_stat {
    TC_STAT_RESIDENT = 0,
    TC_STAT_ACTIVE = 1,
    TC_STAT_ALLOCATED = 2,
    TC_STAT_COUNT
} tc_stat_t;

typedef struct tc_kind tc_kind_t;

/* ---- kinds ---- */
tc_kind_t *tc_kind_dram(void);

#define TC_FILE_MIN_SIZE ...

int tc_kind_create_file(const char *dir, size_t max_size, tc_file_policy_t policy,
                        tc_kind_t **out);
int tc_kind_set_fork_policy(tc_kind_t *kind, tc_fork_policy_t policy);
int tc_kind_create_fixed(void *addr, size_t size, tc_kind_t **out);
int tc_kind_destroy(tc_kind_t *kind);
int tc_kind_check_available(const tc_kind_t *kind);
const char *tc_kind_name(const tc_kind_t *kind);
int tc_kind_capacity(const tc_kind_t *kind, size_t *out);
tc_kind_t *tc_detect_kind(const void *ptr);
int tc_check_dax_path(const char *dir);

/* ---- NUMA topology and the kinds that place memory on nodes ---- */

/* Which NUMA nodes a NUMA kind draws from. "Closest" and "local" sets are worked out for the
 * node of the CPU that allocates (when the kind reserves memory from the system). */
typedef enum tc_numa_nodes {
    TC_NODES_CPU = 0,                 /* every node with CPUs (memkind's REGULAR) */
    TC_NODES_ALL = 1,                 /* every node with memory */
    TC_NODES_HBW_CLOSEST = 2,         /* the high-bandwidth node(s) closest to the CPU */
    TC_NODES_HBW_ALL = 3,             /* every high-bandwidth node */
    TC_NODES_DAX_KMEM_CLOSEST = 4,    /* the DAX-KMEM node(s) closest to the CPU */
    TC_NODES_DAX_KMEM_ALL = 5,        /* every DAX-KMEM node */
    TC_NODES_HIGHEST_CAPACITY = 6,    /* the node(s) with the most memory */
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
int tc_kind_create_numa(const tc_numa_params_t *p, tc_kind_t **out);
/* TC_OK when a NUMA kind with parameters p can allocate here; else the error, and *why (may
 * be NULL) a static sentence saying why not. */
int tc_numa_check(const tc_numa_params_t *p, const char **why);
/* The parameters of memkind's static kind `name`, lowercase without the prefix ("hbw",
 * "dax_kmem_preferred", "regular", "hugetlb", ...). TC_ERR_INVALID for an unknown name. */
int tc_numa_preset(const char *name, tc_numa_params_t *out);
/* The i-th preset name (i from 0), NULL past the last. */
const char *tc_numa_preset_name(unsigned i);

/* One NUMA node as the library sees it (overrides applied). */
typedef struct tc_node_info {
    unsigned id;
    size_t capacity;               /* bytes of memory (MemTotal) */
    unsigned read_bandwidth_mbps;  /* HMAT access0 read bandwidth, 0 when absent */
    unsigned read_latency_ns;      /* HMAT access0 read latency, 0 when absent */
    size_t hugepages_2m;           /* 2 MiB pages reserved on the node */
    bool is_hbw;                   /* high-bandwidth: MEMKIND_HBW_NODES or HMAT threshold */
    bool is_dax_kmem;              /* DAX-KMEM: MEMKIND_DAX_KMEM_NODES or a kmem dax device */
    unsigned ncpus;
} tc_node_info_t;

/* The ids of the online NUMA nodes, ascending: *count of them, at most cap written to ids.
 * TC_ERR_ENVIRON for an invalid override option, TC_ERR_SYSTEM when sysfs is unreadable. */
int tc_topology_nodes(unsigned *ids, size_t cap, size_t *count);
/* Attributes of node id; TC_ERR_INVALID when no such node. */
int tc_topology_node(unsigned id, tc_node_info_t *out);
/* CPUs of node id (info.ncpus of them), at most cap written. */
int tc_topology_node_cpus(unsigned id, unsigned *cpus, size_t cap);
/* SLIT distance from node `from` to node `to` (10 = local). */
int tc_topology_distance(unsigned from, unsigned to, unsigned *out);
/* The node holding the page at addr (which must be touched memory), in *node. */
int tc_page_node(const void *addr, int *node);

/* ---- heap ---- */
void *tc_malloc(tc_kind_t *kind, size_t size);
void *tc_calloc(tc_kind_t *kind, size_t n, size_t size);
int tc_posix_memalign(tc_kind_t *kind, void **out, size_t alignment, size_t size);
void *tc_realloc(tc_kind_t *kind, void *ptr, size_t size);
void tc_free(tc_kind_t *kind, void *ptr);
size_t tc_usable_size(tc_kind_t *kind, const void *ptr);
void *tc_defrag_reallocate(tc_kind_t *kind, void *ptr);

/* ---- statistics and control ---- */
int tc_stats_refresh(void);
int tc_kind_stat(const tc_kind_t *kind, tc_stat_t stat, size_t *out);
int tc_stats_print(void (*write_cb)(void *, const char *), void *cbopaque,
                   const char *opts);
int tc_set_background_threads(bool enable);
int tc_background_purge_start(void);
int tc_kind_purge(tc_kind_t *kind);

const char *tc_strerror(int err);
const char *tc_options_error(void);

/* ---- cache.h: the cache core ---- */
#define TC_CACHE_MAX_TIERS ...
#define TC_CACHE_MAX_KEY ...
#define TC_CACHE_MAX_VALUE ...
#define TC_CACHE_VALUE_TAGS ...

typedef struct tc_cache tc_cache_t;

typedef struct tc_cache_tier_config {
    tc_kind_t *kind;
    size_t budget;
} tc_cache_tier_config_t;

typedef struct tc_cache_config {
    size_t ntiers;
    tc_cache_tier_config_t tiers[...];
    size_t large_threshold;
    unsigned promote_hits;
    unsigned small_percent;
    unsigned index_tier;
} tc_cache_config_t;

typedef struct tc_cache_value {
    const void *data;
    size_t len;
    unsigned tag;
    void *pin;
    uint64_t cas;
    uint32_t flags;
    double ttl;
} tc_cache_value_t;

#define TC_GET_PEEK ...
#define TC_GET_TOUCH ...
#define TC_GET_CAS ...

typedef enum tc_cache_mode {
    TC_STORE_SET,
    TC_STORE_ADD,
    TC_STORE_REPLACE,
    TC_STORE_APPEND,
    TC_STORE_PREPEND,
    TC_STORE_CAS,
} tc_cache_mode_t;

#define TC_CACHE_NOT_STORED ...
#define TC_CACHE_STORED ...
#define TC_CACHE_EXISTS ...
#define TC_CACHE_NOT_FOUND ...

typedef struct tc_cache_item {
    unsigned ktag;
    const void *key;
    size_t klen;
    const void *value;
    size_t vlen;
    unsigned vtag;
    uint32_t flags;
    double ttl;
    uint64_t cas;
    bool with_cas;
} tc_cache_item_t;

typedef struct tc_cache_incr {
    uint64_t delta;
    bool decrement;
    bool is_signed;
    bool create;
    uint64_t initial;
    unsigned vtag;
    double ttl;
    bool with_cas;
} tc_cache_incr_t;

typedef struct tc_cache_tier_stats {
    size_t budget;
    size_t used;
    size_t value_bytes;
    size_t items;
    size_t dram_bytes;
    uint64_t hits, promotions, demotions, evictions;
} tc_cache_tier_stats_t;

typedef struct tc_cache_stats {
    uint64_t hits, misses, sets, deletes, evictions, expirations, promotions, demotions;
    size_t items;
    size_t key_bytes;
    size_t meta_bytes;
    size_t index_bytes;
    unsigned index_tier;
    size_t ghost_bytes;
    unsigned ghost_tier;
    size_t pinned;
    size_t ntiers;
    tc_cache_tier_stats_t tiers[...];
} tc_cache_stats_t;

int tc_cache_create(const tc_cache_config_t *config, tc_cache_t **out);
int tc_cache_close(tc_cache_t *cache);
int tc_cache_destroy(tc_cache_t *cache);
int tc_cache_set(tc_cache_t *cache, unsigned ktag, const void *key, size_t klen,
                 const void *value, size_t vlen, unsigned vtag, double ttl);
int tc_cache_get(tc_cache_t *cache, unsigned ktag, const void *key, size_t klen,
                 void *buf, size_t cap, tc_cache_value_t *out);
int tc_cache_get_ex(tc_cache_t *cache, unsigned ktag, const void *key, size_t klen,
                    unsigned options, double ttl, void *buf, size_t cap, tc_cache_value_t *out);
int tc_cache_store(tc_cache_t *cache, tc_cache_mode_t mode, const tc_cache_item_t *item,
                   uint64_t *cas_out);
int tc_cache_incr(tc_cache_t *cache, unsigned ktag, const void *key, size_t klen,
                  const tc_cache_incr_t *op, uint64_t *value, uint64_t *cas_out);
int tc_cache_delete_cas(tc_cache_t *cache, unsigned ktag, const void *key, size_t klen,
                        uint64_t cas);
int tc_cache_pop_victim(tc_cache_t *cache, void *kbuf, size_t kcap, size_t *klen_out,
                        tc_cache_value_t *out);
int tc_cache_keys_from(tc_cache_t *cache, size_t *cursor, void *buf, size_t cap,
                       size_t *written);
int tc_cache_add(tc_cache_t *cache, unsigned ktag, const void *key, size_t klen,
                 const void *value, size_t vlen, unsigned vtag, double ttl);
int tc_cache_take(tc_cache_t *cache, unsigned ktag, const void *key, size_t klen,
                  tc_cache_value_t *out);
void tc_cache_unpin(tc_cache_t *cache, void *pin);
int tc_cache_contains(tc_cache_t *cache, unsigned ktag, const void *key, size_t klen);
int tc_cache_delete(tc_cache_t *cache, unsigned ktag, const void *key, size_t klen);
int tc_cache_touch(tc_cache_t *cache, unsigned ktag, const void *key, size_t klen,
                   double ttl);
size_t tc_cache_count(tc_cache_t *cache);
int tc_cache_expire(tc_cache_t *cache);
int tc_cache_clear(tc_cache_t *cache);
int tc_cache_keys(tc_cache_t *cache, void *buf, size_t cap, size_t *needed);
int tc_cache_compact(tc_cache_t *cache, size_t *cursor, size_t max_entries,
                     size_t *moved);
int tc_cache_stats(tc_cache_t *cache, tc_cache_stats_t *out);
int tc_cache_check(tc_cache_t *cache, char *msg, size_t cap);

/* native/include/tiercache/testing.h: TEST ONLY fault injection at the OS seam. */
int tc_testing_fault_arm(const char *primitive, uint64_t nth, uint64_t count, int err);
void tc_testing_fault_disarm(void);
uint64_t tc_testing_fault_calls(const char *primitive);
uint64_t tc_testing_fault_injected(void);

/* Python-side sink for tc_stats_print (implemented in tiercache/_bindings.py). */
extern "Python" void _tc_py_stats_write(void *, const char *);
