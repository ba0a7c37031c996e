/*
 * tiercache-server: memcached's text and meta protocols over the tiercache cache core.
 *
 * Threads: the main thread parses options, builds the cache (storage.c), opens the listening
 * sockets and runs the accept loop on its own event base (listener.c); each worker thread
 * (worker.c) runs an event base of its own and owns the connections handed to it (conn.c).
 * The protocol files (proto_text.c, proto_meta.c) parse one command at a time from a
 * connection's input and answer into its output; every cache step is one tc_cache_* call
 * (storage.c). Counters are per thread and summed on `stats` (stats.c).
 */
#ifndef TC_SERVER_H
#define TC_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "tiercache/cache.h"

#define TCS_VERSION "1.6.18-tiercache-0.1.0" /* reported by `version` (see README) */
#define TCS_KEY_MAX 250                      /* memcached's KEY_MAX_LENGTH */
#define TCS_MAX_TIERS TC_CACHE_MAX_TIERS
#define TCS_KTAG 0 /* the key tag of every memcached key */

/* ---- settings (main.c) ---- */
typedef struct tcs_tier_opt {
    char name[48]; /* "dram", "file:DIR", or a NUMA preset name ("dax_kmem", "hbw", ...) */
    size_t mb;
} tcs_tier_opt_t;

typedef struct tcs_settings {
    size_t dram_mb;                      /* -m */
    const char *pmem_dir;                /* --pmem-dir */
    size_t pmem_mb;                      /* --pmem-mb (default 8 x dram_mb) */
    tcs_tier_opt_t tiers[TCS_MAX_TIERS]; /* --tier NAME:MB, after DRAM, in order */
    int ntiers;
    size_t large_value_bytes; /* --large-value-bytes */
    unsigned promote_hits;    /* --promote-hits */
    int port;                 /* -p (0: no TCP) */
    const char *listen;       /* -l, comma-separated addresses */
    const char *socketpath;   /* -s */
    int access_mask;          /* -a, octal */
    int threads;              /* -t */
    int maxconns;             /* -c */
    size_t item_max;          /* -I */
    int verbose;              /* -v count; `verbosity` changes it */
    int idle_timeout;         /* --idle-timeout seconds, 0 = never */
    size_t out_limit;         /* --output-limit: stop reading a client past this */
    int backlog;              /* -b */
} tcs_settings_t;

extern tcs_settings_t tcs_settings;
extern atomic_int tcs_verbosity;
void tcs_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- counters (stats.c) ---- */
/* clang-format off */
#define TCS_COUNTERS(X)                                                                     \
    X(cmd_get) X(cmd_set) X(cmd_flush) X(cmd_touch) X(cmd_meta)                            \
    X(get_hits) X(get_misses) X(get_expired) X(delete_misses) X(delete_hits)               \
    X(incr_misses) X(incr_hits) X(decr_misses) X(decr_hits)                                \
    X(cas_misses) X(cas_hits) X(cas_badval) X(touch_hits) X(touch_misses)                  \
    X(store_too_large) X(store_no_memory) X(bytes_read) X(bytes_written) X(protocol_errors)
/* clang-format on */

typedef struct tcs_counters {
#define X(name) _Atomic uint64_t name;
    TCS_COUNTERS(X)
#undef X
} tcs_counters_t;

/* Only the owning thread adds; others read: relaxed load + store is enough. */
#define TCS_ADD(ctr, field, n)                                                             \
    atomic_store_explicit(&(ctr)->field,                                                   \
                          atomic_load_explicit(&(ctr)->field, memory_order_relaxed) + (n), \
                          memory_order_relaxed)
#define TCS_INC(ctr, field) TCS_ADD(ctr, field, 1)

/* ---- workers (worker.c) ---- */
typedef struct tcs_worker {
    int id;
    struct event_base *base;
    struct event *notify_ev;
    int notify_fd[2]; /* the accept thread writes a connection's fd here */
    tcs_counters_t counters;
    struct tcs_conn *conns; /* doubly linked list of this worker's connections */
    char scratch[2048];     /* small values are copied here on their way out */
} tcs_worker_t;

int tcs_workers_start(int n);
/* Hand an accepted socket to a worker (round robin). 0 or -1 (the fd is then closed). */
int tcs_workers_dispatch(int fd, bool is_unix);
/* Stop every worker loop, close their connections, join the threads. */
void tcs_workers_stop(void);
tcs_worker_t *tcs_worker(int i);
int tcs_worker_count(void);

/* ---- connections (conn.c) ---- */
typedef enum tcs_conn_state {
    CONN_CMD,     /* reading a command line */
    CONN_NREAD,   /* waiting for a storage command's data block */
    CONN_SWALLOW, /* discarding a refused data block */
    CONN_CLOSING, /* flushing the output, then closing */
} tcs_conn_state_t;

/* A storage command parsed from its line, waiting for its data block. */
typedef struct tcs_pending {
    bool meta;    /* ms rather than set/add/... */
    int mode;     /* tc_cache_mode_t */
    bool noreply; /* text noreply */
    char key[TCS_KEY_MAX + 1];
    size_t klen;
    uint32_t flags;
    int64_t exptime; /* memcached exptime as given */
    uint64_t cas;
    size_t vlen; /* data bytes, without the \r\n */
    /* meta: the flags to echo, in request order, and the other switches */
    char ret[64]; /* return flag letters (b c k O ...) in order */
    int nret;
    char opaque[33];
    char keytok[344]; /* the key as sent (base64) for the k flag */
    bool quiet, base64, invalidate;
} tcs_pending_t;

typedef struct tcs_conn {
    struct tcs_conn *prev, *next;
    tcs_worker_t *worker;
    int fd;
    struct event *rev;    /* EV_READ | EV_PERSIST, with the idle timeout; deleted while blocked */
    struct event *wev;    /* EV_WRITE, added only while replies wait for the socket */
    struct evbuffer *in;  /* bytes read, not yet consumed by a command */
    struct evbuffer *out; /* replies not yet written (values by reference, pinned) */
    tcs_conn_state_t state;
    bool blocked; /* reading stopped: the output is over the limit */
    bool is_unix;
    size_t scanned; /* bytes of the current line already searched for '\n' */
    size_t seen;    /* input bytes already counted in bytes_read */
    size_t swallow; /* CONN_SWALLOW: bytes still to discard */
    size_t resume;  /* a multi-key get paused at this offset of its line (0: none) */
    tcs_pending_t pend;
} tcs_conn_t;

void tcs_conn_new(tcs_worker_t *w, int fd, bool is_unix);
void tcs_conn_free(tcs_conn_t *c);
/* Output helpers. */
void tcs_out(tcs_conn_t *c, const void *data, size_t len);
void tcs_out_str(tcs_conn_t *c, const char *s); /* s then \r\n */
void tcs_out_fmt(tcs_conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append a value: copied when small, else referenced in place until sent (pin released then). */
void tcs_out_value(tcs_conn_t *c, const tc_cache_value_t *v);
bool tcs_out_full(tcs_conn_t *c);
/* Finish the connection after the output is written. */
void tcs_conn_close_after_write(tcs_conn_t *c);

/* ---- protocols ---- */
/* Outcome of dispatching one command line. */
typedef enum tcs_dispatch {
    DISPATCH_DONE,  /* line consumed */
    DISPATCH_NREAD, /* line consumed; c->pend describes the data block to read next */
    DISPATCH_PAUSE, /* multi-get paused (output full): line kept, c->resume set */
    DISPATCH_CLOSE, /* close the connection (quit, or a fatal protocol error) */
} tcs_dispatch_t;

/* line: the command without its \r\n (NUL-terminated in place, len bytes). */
tcs_dispatch_t tcs_proto_text(tcs_conn_t *c, char *line, size_t len);
tcs_dispatch_t tcs_proto_meta(tcs_conn_t *c, char *line, size_t len);
/* The data block of c->pend arrived (data: vlen + 2 bytes, already checked to end in \r\n by
 * conn.c, which answers "CLIENT_ERROR bad data chunk" itself when it does not). */
void tcs_proto_text_data(tcs_conn_t *c, const char *data, size_t len);
void tcs_proto_meta_data(tcs_conn_t *c, const char *data, size_t len);
/* Key checks shared by both protocols: 1..250 bytes, no control characters or spaces. */
bool tcs_key_ok(const char *key, size_t len);
/* memcached's size rule: header + key + value over -I is "object too large". */
bool tcs_item_too_large(size_t klen, size_t vlen, uint32_t flags);

/* ---- storage (storage.c) ---- */
int tcs_storage_init(char *err, size_t cap);
void tcs_storage_close(void);
tc_cache_t *tcs_cache(void);
/* memcached exptime -> ttl in seconds: 0 never, > 0 seconds, < 0 already expired. */
double tcs_exptime_ttl(int64_t exptime);
/* Seconds since start (memcached's "current_time"), and the process start as unix time. */
uint64_t tcs_now_unix(void);
const char *tcs_tier_name(unsigned i);
/* Maintenance from the main event base: expiry, compaction, delayed flush_all. */
void tcs_storage_maintain(void);
int tcs_flush_all(int64_t delay);

/* ---- stats (stats.c) ---- */
void tcs_stats_init(void);
/* Answer `stats [args]`: args may be NULL. Returns false for an unknown subcommand. */
bool tcs_stats(tcs_conn_t *c, const char *args);
void tcs_stats_reset(void);
extern atomic_uint_fast64_t tcs_curr_conns, tcs_total_conns, tcs_rejected_conns;

#endif
