/*
 * cffi declarations of tiercache's public C API: the single source of truth for the Python
 * binding. Mirrors native/include/tiercache/tiercache.h declaration by declaration, minus the
 * TC_API macro and preprocessor lines (tests/test_cdef.py checks that they do not drift).
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
};

typedef enum tc_file_policy {
    TC_FILE_PERFORMANCE = 0,
    TC_FILE_CONSERVATIVE = 1,
} tc_file_policy_t;

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
int tc_kind_create_fixed(void *addr, size_t size, tc_kind_t **out);
int tc_kind_destroy(tc_kind_t *kind);
int tc_kind_check_available(const tc_kind_t *kind);
const char *tc_kind_name(const tc_kind_t *kind);
int tc_kind_capacity(const tc_kind_t *kind, size_t *out);
tc_kind_t *tc_detect_kind(const void *ptr);
int tc_check_dax_path(const char *dir);

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
int tc_kind_purge(tc_kind_t *kind);

const char *tc_strerror(int err);
const char *tc_options_error(void);

/* Python-side sink for tc_stats_print (implemented in tiercache/_bindings.py). */
extern "Python" void _tc_py_stats_write(void *, const char *);
