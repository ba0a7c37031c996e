/*
 * bench_defrag.c: fragmentation and memkind_defrag_reallocate.
 *
 * Allocates cfg->defrag_objects small objects of a few sizes, frees a random ~90% (fixed seed,
 * so every implementation sees the same pattern), then runs cfg->defrag_passes passes of
 *     q = memkind_defrag_reallocate(kind, p); if (q) p = q;
 * over the live objects. Stats (memkind_update_cached_stats + memkind_get_stat) are read after
 * allocating, after freeing (fragmented), after defrag, and optionally after waiting
 * cfg->decay_wait seconds.
 *
 * Purging: the file kind is created with MEMKIND_MEM_USAGE_POLICY_CONSERVATIVE, under which the
 * allocator returns emptied pages at once, so resident can fall right after defrag. The DRAM
 * kind (MEMKIND_DEFAULT) keeps its default decay, which only advances while the allocator is
 * used or background threads run: --bg-threads (memkind_set_bg_threads) plus --decay-wait S
 * lets it purge; by default its resident shows pages not yet purged. During the wait the
 * resident size is read every second (watch_decay): with jemalloc's default 10 s dirty decay,
 * a background thread that went to sleep before the pages became dirty wakes up to 10 s later,
 * and purges them over the next seconds, so waits shorter than ~20 s show little.
 *
 * Every object carries a tag (its index) in its first 8 bytes; defrag must preserve them.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench.h"
#include "timing.h"

static const size_t k_sizes[] = {16, 24, 32, 48, 64, 96, 128, 256};
#define N_SIZES (sizeof k_sizes / sizeof k_sizes[0])
#define TAG(i) ((uint64_t)(i) ^ 0x5a5a5a5a00000000ULL)
#define MIB (1024.0 * 1024.0)

static const char *const k_stat_names[MEMKIND_STAT_TYPE_MAX_VALUE] = {"resident", "active",
                                                                      "allocated"};

/* Read the three stats of kind into v; prints a fail for the stage and returns non-zero on
 * error. */
static int read_stats(memkind_t kind, const char *label, const char *stage, size_t *v) {
    char name[128], buf[256];
    snprintf(name, sizeof name, "defrag_%s_stats_%s", label, stage);
    int err = memkind_update_cached_stats();
    if (err) {
        out_fail(name, "memkind_update_cached_stats: %s", bench_strerr(err, buf, sizeof buf));
        return err;
    }
    for (int s = 0; s < MEMKIND_STAT_TYPE_MAX_VALUE; s++) {
        err = memkind_get_stat(kind, (memkind_stat_type)s, &v[s]);
        if (err) {
            out_fail(name, "memkind_get_stat(%s): %s", k_stat_names[s],
                     bench_strerr(err, buf, sizeof buf));
            return err;
        }
    }
    out_info(name, "resident=%zu active=%zu allocated=%zu", v[0], v[1], v[2]);
    return 0;
}

static void emit_stage(const char *label, const char *stage, const size_t *v, int stats_ok) {
    char name[128];
    if (!stats_ok) return;
    for (int s = 0; s < 2; s++) { /* resident, active as metrics; allocated stays info */
        snprintf(name, sizeof name, "defrag_%s_%s_%s_mib", label, k_stat_names[s], stage);
        out_metric(name, (double)v[s] / MIB, "MiB");
    }
}

static void sleep_s(double s) {
    struct timespec d = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&d, NULL);
}

/*
 * Wait `wait` seconds after defrag, reading the resident size once a second. Prints the
 * series, and as a metric the seconds until resident had fallen half way from its size after
 * defrag to the active size (the pages a purge can return). Shows when purging by decay or
 * background threads happens, not only whether it has happened by the end.
 */
static void watch_decay(memkind_t kind, const char *label, double wait, const size_t *defrag) {
    char series[1024], name[128];
    size_t len = 0, target = defrag[0] - (defrag[0] - defrag[1]) / 2;
    double half_at = -1;
    series[0] = 0;
    for (double t = 0; t < wait;) {
        double step = wait - t < 1 ? wait - t : 1;
        sleep_s(step);
        t += step;
        size_t resident;
        if (memkind_update_cached_stats() ||
            memkind_get_stat(kind, MEMKIND_STAT_TYPE_RESIDENT, &resident))
            break;
        if (half_at < 0 && resident <= target) half_at = t;
        if (len < sizeof series - 32)
            len += (size_t)snprintf(series + len, sizeof series - len, "%s%gs:%.1f",
                                    len ? " " : "", t, (double)resident / MIB);
    }
    snprintf(name, sizeof name, "defrag_%s_resident_during_wait", label);
    out_info(name, "MiB %s", series);
    snprintf(name, sizeof name, "defrag_%s_purged_half_s", label);
    if (defrag[0] <= defrag[1])
        out_skip(name, "nothing to purge: resident %zu <= active %zu after defrag", defrag[0],
                 defrag[1]);
    else if (half_at >= 0) out_metric(name, half_at, "s");
    else out_info(name, "resident did not fall half way to active within %gs", wait);
}

static int open_defrag_kind(const struct bench_cfg *cfg, enum bench_sel sel, memkind_t *kind,
                            const char *metric) {
    if (sel != SEL_FILE) return bench_open_kind(cfg, sel, kind, metric);
    char buf[256];
    struct memkind_config *c = memkind_config_new();
    if (!c) {
        out_fail(metric, "memkind_config_new returned NULL");
        return -1;
    }
    memkind_config_set_path(c, cfg->dir);
    memkind_config_set_size(c, 0);
    memkind_config_set_memory_usage_policy(c, MEMKIND_MEM_USAGE_POLICY_CONSERVATIVE);
    int err = memkind_create_pmem_with_config(c, kind);
    memkind_config_delete(c);
    if (err) {
        out_fail(metric, "memkind_create_pmem_with_config(conservative): %s",
                 bench_strerr(err, buf, sizeof buf));
        return -1;
    }
    return 0;
}

void unit_defrag(const struct bench_cfg *cfg, enum bench_sel sel) {
    const char *l = bench_label(sel);
    char name[128], ratio[128];
    snprintf(name, sizeof name, "defrag_%s_resident_ratio", l);
    memkind_t kind;
    if (open_defrag_kind(cfg, sel, &kind, name)) return;
    out_info("defrag_params",
             "kind=%s objects=%ld sizes=16..256 free=90%% passes=%d "
             "policy=%s decay_wait=%gs bg_threads=%d",
             l, cfg->defrag_objects, cfg->defrag_passes,
             sel == SEL_FILE ? "conservative" : "default", cfg->decay_wait, cfg->bg_threads);
    if (cfg->bg_threads) {
        char buf[256];
        int err = memkind_set_bg_threads(true);
        if (err)
            out_info("defrag_bg_threads", "memkind_set_bg_threads(true): %s",
                     bench_strerr(err, buf, sizeof buf));
    }
    long n = cfg->defrag_objects, live = 0;
    void **p = calloc((size_t)n, sizeof *p);
    if (!p) {
        out_fail(name, "out of benchmark memory");
        bench_close_kind(sel, kind);
        return;
    }
    size_t st_alloc[3], st_frag[3], st_defrag[3], st_wait[3];
    int ok_alloc, ok_frag, ok_defrag, ok_wait = 0;
    uint64_t seed = 0x9e3779b97f4a7c15ULL;

    out_try(name);
    for (long i = 0; i < n; i++) {
        p[i] = memkind_malloc(kind, k_sizes[bench_rand(&seed) % N_SIZES]);
        if (!p[i]) {
            out_fail(name, "memkind_malloc returned NULL at object %ld of %ld (errno %d)", i, n,
                     errno);
            n = i;
            goto out;
        }
        *(uint64_t *)p[i] = TAG(i);
    }
    ok_alloc = !read_stats(kind, l, "allocated", st_alloc);
    for (long i = 0; i < n; i++) {
        if (bench_rand(&seed) % 10 != 0) {
            memkind_free(kind, p[i]);
            p[i] = NULL;
        } else {
            live++;
        }
    }
    ok_frag = !read_stats(kind, l, "fragmented", st_frag);
    out_info("defrag_live_objects", "%ld", live);

    for (int pass = 1; pass <= cfg->defrag_passes; pass++) {
        long moved = 0;
        uint64_t t0 = bench_now_ns();
        for (long i = 0; i < n; i++) {
            if (!p[i]) continue;
            void *q = memkind_defrag_reallocate(kind, p[i]);
            if (q) {
                p[i] = q;
                moved++;
            }
        }
        double ms = (double)(bench_now_ns() - t0) / 1e6;
        snprintf(name, sizeof name, "defrag_%s_pass%d_moved_pct", l, pass);
        out_metric(name, live ? 100.0 * (double)moved / (double)live : 0.0, "%");
        snprintf(name, sizeof name, "defrag_%s_pass%d_ms", l, pass);
        out_metric(name, ms, "ms");
    }
    long bad = 0;
    for (long i = 0; i < n; i++)
        if (p[i] && *(uint64_t *)p[i] != TAG(i)) bad++;
    snprintf(name, sizeof name, "defrag_%s_resident_ratio", l);
    if (bad) {
        out_fail(name, "%ld of %ld live objects lost their contents during defrag", bad, live);
        goto out;
    }
    ok_defrag = !read_stats(kind, l, "defragmented", st_defrag);
    if (cfg->decay_wait > 0) {
        if (ok_defrag) watch_decay(kind, l, cfg->decay_wait, st_defrag);
        else sleep_s(cfg->decay_wait);
        ok_wait = !read_stats(kind, l, "after_wait", st_wait);
    }
    emit_stage(l, "allocated", st_alloc, ok_alloc);
    emit_stage(l, "fragmented", st_frag, ok_frag);
    emit_stage(l, "defragmented", st_defrag, ok_defrag);
    emit_stage(l, "after_wait", st_wait, ok_wait);
    const size_t *last = ok_wait ? st_wait : st_defrag;
    if (ok_frag && ok_defrag && st_frag[0] && st_frag[1]) {
        out_metric(name, (double)last[0] / (double)st_frag[0], "x");
        snprintf(ratio, sizeof ratio, "defrag_%s_active_ratio", l);
        out_metric(ratio, (double)last[1] / (double)st_frag[1], "x");
    } else {
        out_fail(name, "stats unavailable or zero (see the stats records)");
    }
out:
    for (long i = 0; i < n; i++) memkind_free(kind, p[i]);
    free(p);
    bench_close_kind(sel, kind);
}
