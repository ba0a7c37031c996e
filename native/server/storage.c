/*
 * Storage: the tiers the options ask for, the cache over them, and the housekeeping the main
 * thread does once a second (a little compaction, a delayed flush_all).
 *
 * Tier 0 is DRAM (-m). Then each --tier NAME:MB in order (a NUMA preset such as dax_kmem or
 * hbw, "dram", or file=DIR), then --pmem-dir as a file tier (--pmem-mb). The protocols call
 * tc_cache_* directly with tcs_cache(); every command is one call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server.h"

static tc_cache_t *cache;
static tc_kind_t *kinds[TCS_MAX_TIERS];
static bool owned[TCS_MAX_TIERS];
static char names[TCS_MAX_TIERS][48];
static size_t nkinds;
static _Atomic int64_t flush_at; /* unix time of a delayed flush_all, 0: none */
static size_t compact_cursor;

tc_cache_t *tcs_cache(void) { return cache; }

const char *tcs_tier_name(unsigned i) { return i < nkinds ? names[i] : "?"; }

uint64_t tcs_now_unix(void) { return (uint64_t)time(NULL); }

#define REALTIME_MAXDELTA (60 * 60 * 24 * 30) /* memcached: larger exptimes are unix times */

double tcs_exptime_ttl(int64_t exptime) {
    if (exptime == 0) return 0;
    if (exptime < 0) return -1;
    if (exptime > REALTIME_MAXDELTA) {
        int64_t now = (int64_t)tcs_now_unix();
        if (exptime <= now) return -1;
        return (double)(exptime - now);
    }
    return (double)exptime;
}

static int add_tier(const char *name, size_t mb, char *err, size_t cap) {
    tc_kind_t *k = NULL;
    int rc;
    bool own = true;
    if (strcmp(name, "dram") == 0) {
        k = tc_kind_dram();
        own = false;
        rc = TC_OK;
    } else if (strncmp(name, "file=", 5) == 0) {
        rc = tc_kind_create_file(name + 5, 0, TC_FILE_PERFORMANCE, &k);
    } else {
        tc_numa_params_t p;
        rc = tc_numa_preset(name, &p);
        if (rc != TC_OK) {
            snprintf(err, cap,
                     "--tier %s: unknown kind (dram, file=DIR, or a NUMA preset: "
                     "dax_kmem, hbw, highest_capacity, ...)",
                     name);
            return -1;
        }
        const char *why = NULL;
        rc = tc_numa_check(&p, &why);
        if (rc != TC_OK) {
            snprintf(err, cap, "--tier %s: not available here: %s", name,
                     why ? why : tc_strerror(rc));
            return -1;
        }
        rc = tc_kind_create_numa(&p, &k);
    }
    if (rc != TC_OK) {
        snprintf(err, cap, "tier %s: %s", name, tc_strerror(rc));
        return -1;
    }
    kinds[nkinds] = k;
    owned[nkinds] = own;
    snprintf(names[nkinds], sizeof names[nkinds], "%s",
             strncmp(name, "file=", 5) == 0 ? "file" : name);
    nkinds++;
    (void)mb;
    return 0;
}

int tcs_storage_init(char *err, size_t cap) {
    tc_cache_config_t cfg = {0};
    size_t mbs[TCS_MAX_TIERS];
    if (add_tier("dram", tcs_settings.dram_mb, err, cap)) return -1;
    mbs[0] = tcs_settings.dram_mb;
    for (int i = 0; i < tcs_settings.ntiers; i++) {
        if (add_tier(tcs_settings.tiers[i].name, tcs_settings.tiers[i].mb, err, cap)) goto fail;
        mbs[nkinds - 1] = tcs_settings.tiers[i].mb;
    }
    if (tcs_settings.pmem_dir) {
        char name[4096 + 8];
        snprintf(name, sizeof name, "file=%s", tcs_settings.pmem_dir);
        if (add_tier(name, tcs_settings.pmem_mb, err, cap)) {
            snprintf(err, cap, "--pmem-dir %s: cannot create a file tier there",
                     tcs_settings.pmem_dir);
            goto fail;
        }
        mbs[nkinds - 1] = tcs_settings.pmem_mb;
    }
    cfg.ntiers = nkinds;
    for (size_t i = 0; i < nkinds; i++) {
        cfg.tiers[i].kind = kinds[i];
        cfg.tiers[i].budget = mbs[i] << 20;
    }
    cfg.large_threshold = nkinds > 1 ? tcs_settings.large_value_bytes : 0;
    cfg.promote_hits = tcs_settings.promote_hits;
    int rc = tc_cache_create(&cfg, &cache);
    if (rc != TC_OK) {
        snprintf(err, cap, "cannot create the cache: %s", tc_strerror(rc));
        goto fail;
    }
    return 0;
fail:
    for (size_t i = 0; i < nkinds; i++)
        if (owned[i]) tc_kind_destroy(kinds[i]);
    nkinds = 0;
    return -1;
}

void tcs_storage_close(void) {
    if (cache) {
        tc_cache_destroy(cache);
        cache = NULL;
    }
    for (size_t i = 0; i < nkinds; i++)
        if (owned[i]) tc_kind_destroy(kinds[i]);
    nkinds = 0;
}

int tcs_flush_all(int64_t delay) {
    double ttl = tcs_exptime_ttl(delay);
    if (ttl <= 0) {
        atomic_store(&flush_at, 0);
        return tc_cache_clear(cache);
    }
    atomic_store(&flush_at, (int64_t)tcs_now_unix() + (int64_t)ttl);
    return TC_OK;
}

void tcs_storage_maintain(void) {
    int64_t at = atomic_load(&flush_at);
    if (at && (int64_t)tcs_now_unix() >= at) {
        atomic_store(&flush_at, 0);
        tc_cache_clear(cache);
    }
    /* Expired items go when read or evicted (tc_cache_expire scans everything: not here). */
    size_t moved = 0;
    tc_cache_compact(cache, &compact_cursor, 4096, &moved);
}
