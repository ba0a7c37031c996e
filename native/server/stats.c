/*
 * Counters and the `stats` command: memcached's general statistics summed over the worker
 * threads, plus the cache core's tier counters; `stats slabs` and `stats items` give one
 * "class" per tier (numbered from 0, fastest first), `stats settings` the options.
 */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "server.h"

atomic_uint_fast64_t tcs_curr_conns, tcs_total_conns, tcs_rejected_conns;
static time_t started;

void tcs_stats_init(void) { started = time(NULL); }

static void sum_counters(tcs_counters_t *sum) {
    memset(sum, 0, sizeof *sum);
    for (int i = 0; i < tcs_worker_count(); i++) {
        tcs_counters_t *w = &tcs_worker(i)->counters;
#define X(name) TCS_ADD(sum, name, atomic_load_explicit(&w->name, memory_order_relaxed));
        TCS_COUNTERS(X)
#undef X
    }
}

void tcs_stats_reset(void) {
    for (int i = 0; i < tcs_worker_count(); i++) {
        tcs_counters_t *w = &tcs_worker(i)->counters;
#define X(name) atomic_store_explicit(&w->name, 0, memory_order_relaxed);
        TCS_COUNTERS(X)
#undef X
    }
    atomic_store(&tcs_total_conns, 0);
    atomic_store(&tcs_rejected_conns, 0);
}

#define STAT_U(c, name, v) tcs_out_fmt(c, "STAT %s %llu\r\n", name, (unsigned long long)(v))
#define STAT_S(c, name, v) tcs_out_fmt(c, "STAT %s %s\r\n", name, v)

static void stats_general(tcs_conn_t *c) {
    tcs_counters_t s;
    tc_cache_stats_t cs;
    sum_counters(&s);
    if (tc_cache_stats(tcs_cache(), &cs) != TC_OK) memset(&cs, 0, sizeof cs);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    time_t now = time(NULL);
    size_t used = 0, budget = 0;
    for (size_t i = 0; i < cs.ntiers; i++) {
        used += cs.tiers[i].used;
        budget += cs.tiers[i].budget;
    }
    STAT_U(c, "pid", getpid());
    STAT_U(c, "uptime", now - started);
    STAT_U(c, "time", now);
    STAT_S(c, "version", TCS_VERSION);
    STAT_S(c, "libevent", event_get_version());
    STAT_U(c, "pointer_size", 8 * sizeof(void *));
    tcs_out_fmt(c, "STAT rusage_user %ld.%06ld\r\n", (long)ru.ru_utime.tv_sec,
                (long)ru.ru_utime.tv_usec);
    tcs_out_fmt(c, "STAT rusage_system %ld.%06ld\r\n", (long)ru.ru_stime.tv_sec,
                (long)ru.ru_stime.tv_usec);
    STAT_U(c, "max_connections", tcs_settings.maxconns);
    STAT_U(c, "curr_connections", atomic_load(&tcs_curr_conns));
    STAT_U(c, "total_connections", atomic_load(&tcs_total_conns));
    STAT_U(c, "rejected_connections", atomic_load(&tcs_rejected_conns));
#define X(name)                                                                 \
    if (strcmp(#name, "store_too_large") && strcmp(#name, "store_no_memory") && \
        strcmp(#name, "protocol_errors"))                                       \
        STAT_U(c, #name, atomic_load_explicit(&s.name, memory_order_relaxed));
    TCS_COUNTERS(X)
#undef X
    STAT_U(c, "limit_maxbytes", budget);
    STAT_U(c, "threads", tcs_settings.threads);
    STAT_U(c, "bytes", used);
    STAT_U(c, "curr_items", cs.items);
    STAT_U(c, "total_items", cs.sets);
    STAT_U(c, "evictions", cs.evictions);
    STAT_U(c, "expired", cs.expirations);
    STAT_U(c, "store_too_large", atomic_load(&s.store_too_large));
    STAT_U(c, "store_no_memory", atomic_load(&s.store_no_memory));
    STAT_U(c, "protocol_errors", atomic_load(&s.protocol_errors));
    /* the cache core */
    STAT_U(c, "tc_hits", cs.hits);
    STAT_U(c, "tc_misses", cs.misses);
    STAT_U(c, "tc_promotions", cs.promotions);
    STAT_U(c, "tc_demotions", cs.demotions);
    STAT_U(c, "tc_key_bytes", cs.key_bytes);
    STAT_U(c, "tc_meta_bytes", cs.meta_bytes);
    STAT_U(c, "tc_index_bytes", cs.index_bytes);
    STAT_U(c, "tc_pinned", cs.pinned);
    STAT_U(c, "tc_tiers", cs.ntiers);
    for (size_t i = 0; i < cs.ntiers; i++) {
        const tc_cache_tier_stats_t *t = &cs.tiers[i];
        tcs_out_fmt(c, "STAT tier%zu_kind %s\r\n", i, tcs_tier_name((unsigned)i));
        tcs_out_fmt(c, "STAT tier%zu_budget %zu\r\nSTAT tier%zu_used %zu\r\n", i, t->budget, i,
                    t->used);
        tcs_out_fmt(c, "STAT tier%zu_items %zu\r\nSTAT tier%zu_value_bytes %zu\r\n", i, t->items,
                    i, t->value_bytes);
        tcs_out_fmt(c, "STAT tier%zu_dram_bytes %zu\r\nSTAT tier%zu_hits %llu\r\n", i,
                    t->dram_bytes, i, (unsigned long long)t->hits);
        tcs_out_fmt(c, "STAT tier%zu_promotions %llu\r\nSTAT tier%zu_demotions %llu\r\n", i,
                    (unsigned long long)t->promotions, i, (unsigned long long)t->demotions);
        tcs_out_fmt(c, "STAT tier%zu_evictions %llu\r\n", i, (unsigned long long)t->evictions);
    }
    tcs_out(c, "END\r\n", 5);
}

static void stats_slabs(tcs_conn_t *c) {
    tc_cache_stats_t cs;
    if (tc_cache_stats(tcs_cache(), &cs) != TC_OK) memset(&cs, 0, sizeof cs);
    size_t used = 0;
    for (size_t i = 0; i < cs.ntiers; i++) {
        const tc_cache_tier_stats_t *t = &cs.tiers[i];
        used += t->used;
        tcs_out_fmt(c, "STAT %zu:kind %s\r\n", i, tcs_tier_name((unsigned)i));
        tcs_out_fmt(c, "STAT %zu:budget %zu\r\nSTAT %zu:used %zu\r\n", i, t->budget, i, t->used);
        tcs_out_fmt(c, "STAT %zu:used_chunks %zu\r\nSTAT %zu:mem_requested %zu\r\n", i, t->items,
                    i, t->value_bytes);
        tcs_out_fmt(c, "STAT %zu:dram_bytes %zu\r\nSTAT %zu:get_hits %llu\r\n", i, t->dram_bytes,
                    i, (unsigned long long)t->hits);
    }
    STAT_U(c, "active_slabs", cs.ntiers);
    STAT_U(c, "total_malloced", used);
    tcs_out(c, "END\r\n", 5);
}

static void stats_items(tcs_conn_t *c) {
    tc_cache_stats_t cs;
    if (tc_cache_stats(tcs_cache(), &cs) != TC_OK) memset(&cs, 0, sizeof cs);
    for (size_t i = 0; i < cs.ntiers; i++) {
        const tc_cache_tier_stats_t *t = &cs.tiers[i];
        tcs_out_fmt(c, "STAT items:%zu:number %zu\r\n", i, t->items);
        tcs_out_fmt(c, "STAT items:%zu:mem_requested %zu\r\n", i, t->value_bytes);
        tcs_out_fmt(c, "STAT items:%zu:evicted %llu\r\n", i, (unsigned long long)t->evictions);
        tcs_out_fmt(c, "STAT items:%zu:promoted %llu\r\n", i, (unsigned long long)t->promotions);
        tcs_out_fmt(c, "STAT items:%zu:demoted %llu\r\n", i, (unsigned long long)t->demotions);
    }
    tcs_out(c, "END\r\n", 5);
}

static void stats_settings(tcs_conn_t *c) {
    STAT_U(c, "maxbytes", (unsigned long long)tcs_settings.dram_mb << 20);
    STAT_U(c, "maxconns", tcs_settings.maxconns);
    STAT_U(c, "tcpport", tcs_settings.port);
    STAT_U(c, "udpport", 0);
    STAT_S(c, "inter", tcs_settings.port ? tcs_settings.listen : "NULL");
    STAT_U(c, "verbosity", atomic_load(&tcs_verbosity));
    STAT_S(c, "evictions", "on");
    STAT_S(c, "domain_socket", tcs_settings.socketpath ? tcs_settings.socketpath : "NULL");
    tcs_out_fmt(c, "STAT umask %o\r\n", tcs_settings.access_mask);
    STAT_U(c, "num_threads", tcs_settings.threads);
    STAT_U(c, "item_size_max", tcs_settings.item_max);
    STAT_U(c, "idle_timeout", tcs_settings.idle_timeout);
    STAT_U(c, "output_limit", tcs_settings.out_limit);
    STAT_S(c, "pmem_dir", tcs_settings.pmem_dir ? tcs_settings.pmem_dir : "NULL");
    STAT_U(c, "pmem_mb", tcs_settings.pmem_mb);
    STAT_U(c, "large_value_bytes", tcs_settings.large_value_bytes);
    STAT_U(c, "promote_hits", tcs_settings.promote_hits);
    tcs_out(c, "END\r\n", 5);
}

bool tcs_stats(tcs_conn_t *c, const char *args) {
    if (!args || !*args) stats_general(c);
    else if (strcmp(args, "slabs") == 0) stats_slabs(c);
    else if (strcmp(args, "items") == 0) stats_items(c);
    else if (strcmp(args, "settings") == 0) stats_settings(c);
    else if (strcmp(args, "reset") == 0) {
        tcs_stats_reset();
        tcs_out_str(c, "RESET");
    } else return false;
    return true;
}
