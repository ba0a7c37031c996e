/*
 * bench_threads.c: multi-thread throughput of memkind_detect_kind and of memkind_free(NULL, p).
 *
 * For T = 1, 2, 4, ... cfg->max_threads threads, each thread works on its own pointers of the
 * kind until the main thread raises a stop flag after cfg->mt_seconds:
 *   detect    memkind_detect_kind over 256 live 64-byte pointers, round and round
 *   nullfree  batches of 256 memkind_malloc(kind, 64) followed by 256 memkind_free(NULL, p);
 *             an operation is one malloc + NULL-kind free (the malloc is not subtracted)
 * A thread's rate is its operations / its loop's wall time. After one discarded warm-up
 * repetition, reported per T (median of cfg->reps):
 *   mt_<op>_<label>_t<T>_total_mops       sum of the threads' rates, Mops/s
 *   mt_<op>_<label>_t<T>_per_thread_mops  total / T, Mops/s
 * A global lock on the measured path shows as a total that does not grow (or falls) with T.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench.h"
#include "timing.h"

enum { MT_PTRS = 256 };
enum mt_op { MT_DETECT, MT_NULLFREE };

/* One per thread, cache-line aligned so the harness adds no false sharing. */
struct mt_arg {
    _Alignas(64) memkind_t kind;
    enum mt_op op;
    pthread_barrier_t *start;
    atomic_int *stop;
    uint64_t ops;     /* operations done */
    uint64_t busy_ns; /* wall time of the measured loop */
    int err;          /* errno of a failed allocation, -1 for a wrong detect, 0 if fine */
};

static volatile uintptr_t g_mt_sink;

/* Allocate n 64-byte pointers; on failure frees them and returns errno (or -1). */
static int mt_fill(memkind_t kind, void **p, int n) {
    for (int i = 0; i < n; i++) {
        if (!(p[i] = memkind_malloc(kind, 64))) {
            int e = errno ? errno : -1;
            while (i--) memkind_free(kind, p[i]);
            return e;
        }
    }
    return 0;
}

static void *mt_thread(void *v) {
    struct mt_arg *a = v;
    void *p[MT_PTRS];
    int have = 0;
    if (a->op == MT_DETECT) {
        a->err = mt_fill(a->kind, p, MT_PTRS);
        have = a->err == 0;
        for (int i = 0; have && i < MT_PTRS; i++)
            if (memkind_detect_kind(p[i]) != a->kind) a->err = -1;
    }
    pthread_barrier_wait(a->start);
    if (a->err) goto out;
    if (a->op == MT_DETECT) {
        uintptr_t acc = 0;
        uint64_t t0 = bench_now_ns();
        while (!atomic_load_explicit(a->stop, memory_order_relaxed)) {
            for (int i = 0; i < MT_PTRS; i++) acc ^= (uintptr_t)memkind_detect_kind(p[i]);
            a->ops += MT_PTRS;
        }
        a->busy_ns = bench_now_ns() - t0;
        g_mt_sink ^= acc;
    } else {
        uint64_t t0 = bench_now_ns();
        while (!atomic_load_explicit(a->stop, memory_order_relaxed)) {
            if ((a->err = mt_fill(a->kind, p, MT_PTRS)) != 0) break;
            for (int i = 0; i < MT_PTRS; i++) memkind_free(NULL, p[i]);
            a->ops += MT_PTRS;
        }
        a->busy_ns = bench_now_ns() - t0;
    }
out:
    if (have)
        for (int i = 0; i < MT_PTRS; i++) memkind_free(a->kind, p[i]);
    return NULL;
}

/* One repetition with nthreads threads; returns total Mops/s, or < 0 after printing a fail. */
static double mt_rep(const struct bench_cfg *cfg, memkind_t kind, enum mt_op op, int nthreads,
                     const char *metric) {
    pthread_t tid[nthreads];
    struct mt_arg arg[nthreads];
    pthread_barrier_t start;
    atomic_int stop = 0;
    pthread_barrier_init(&start, NULL, (unsigned)nthreads + 1);
    int started = 0;
    for (; started < nthreads; started++) {
        arg[started] = (struct mt_arg){.kind = kind, .op = op, .start = &start, .stop = &stop};
        if (pthread_create(&tid[started], NULL, mt_thread, &arg[started]) != 0) break;
    }
    if (started < nthreads) {
        /* Cannot release the barrier without every party; this is fatal for the unit. */
        out_fail(metric, "pthread_create failed after %d threads", started);
        exit(1);
    }
    pthread_barrier_wait(&start);
    struct timespec d = {(time_t)cfg->mt_seconds,
                         (long)((cfg->mt_seconds - (double)(time_t)cfg->mt_seconds) * 1e9)};
    nanosleep(&d, NULL);
    atomic_store(&stop, 1);
    double total = 0;
    int err = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(tid[i], NULL);
        if (arg[i].err) err = arg[i].err;
        else if (arg[i].busy_ns) total += (double)arg[i].ops * 1e3 / (double)arg[i].busy_ns;
    }
    pthread_barrier_destroy(&start);
    if (err == -1) {
        out_fail(metric, "memkind_detect_kind returned the wrong kind");
        return -1;
    }
    if (err) {
        out_fail(metric, "memkind_malloc(64) returned NULL in a thread (errno %d)", err);
        return -1;
    }
    return total;
}

static void mt_unit(const struct bench_cfg *cfg, enum bench_sel sel, enum mt_op op) {
    const char *opname = op == MT_DETECT ? "detect" : "nullfree";
    const char *l = bench_label(sel);
    char total_name[128], per_name[128];
    snprintf(total_name, sizeof total_name, "mt_%s_%s_t1_total_mops", opname, l);
    memkind_t kind;
    if (bench_open_kind(cfg, sel, &kind, total_name)) return;
    double *tot = malloc((size_t)cfg->reps * sizeof *tot);
    for (int t = 1; t <= cfg->max_threads; t *= 2) {
        snprintf(total_name, sizeof total_name, "mt_%s_%s_t%d_total_mops", opname, l, t);
        snprintf(per_name, sizeof per_name, "mt_%s_%s_t%d_per_thread_mops", opname, l, t);
        out_try(total_name);
        /* One discarded repetition first: new threads fault in their arenas and caches. */
        int ok = mt_rep(cfg, kind, op, t, total_name) >= 0;
        for (int r = 0; r < cfg->reps && ok; r++)
            ok = (tot[r] = mt_rep(cfg, kind, op, t, total_name)) >= 0;
        if (!ok) break;
        double m = bench_median(tot, cfg->reps);
        out_metric(total_name, m, "Mops/s");
        out_metric(per_name, m / t, "Mops/s");
    }
    free(tot);
    bench_close_kind(sel, kind);
}

void unit_mt_detect(const struct bench_cfg *cfg, enum bench_sel sel) {
    mt_unit(cfg, sel, MT_DETECT);
}

void unit_mt_free(const struct bench_cfg *cfg, enum bench_sel sel) {
    mt_unit(cfg, sel, MT_NULLFREE);
}
