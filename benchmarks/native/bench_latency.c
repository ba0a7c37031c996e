/*
 * bench_latency.c: single-thread latency units.
 *   unit_free   memkind_free(NULL, p) vs memkind_free(kind, p): batch frees and malloc+free pairs
 *   unit_detect memkind_detect_kind on live pointers of the kind
 *   unit_pair64 a 64-byte memkind_malloc + memkind_free(kind) pair
 * Each reports the median over cfg->reps repetitions of ns per operation.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "timing.h"

#define NAME(buf, fmt, label) (snprintf(buf, sizeof buf, fmt, label), buf)

/* Sink for results the compiler must not discard. */
static volatile uintptr_t g_sink;

/* Fill ptrs[0..n-1] with 64-byte allocations of kind; on failure frees them and returns errno. */
static int fill(memkind_t kind, void **ptrs, long n) {
    for (long i = 0; i < n; i++) {
        ptrs[i] = memkind_malloc(kind, 64);
        if (!ptrs[i]) {
            int e = errno;
            for (long j = 0; j < i; j++) memkind_free(kind, ptrs[j]);
            return e ? e : -1;
        }
    }
    return 0;
}

/* ns per free over `rounds` batches; free_kind is the kind passed to memkind_free (may be NULL).
 * Returns a negative errno-style value (as double) if an allocation fails. */
static double time_batch_free(memkind_t kind, memkind_t free_kind, void **ptrs, long batch,
                              long rounds) {
    uint64_t total = 0;
    for (long r = 0; r < rounds; r++) {
        int e = fill(kind, ptrs, batch);
        if (e) return -(double)(e > 0 ? e : 1);
        uint64_t t0 = bench_now_ns();
        for (long i = 0; i < batch; i++) memkind_free(free_kind, ptrs[i]);
        total += bench_now_ns() - t0;
    }
    return (double)total / (double)(rounds * batch);
}

/* ns per 64-byte malloc + free pair, freeing with free_kind (may be NULL); < 0 on failure. */
static double time_pairs(memkind_t kind, memkind_t free_kind, long iters) {
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < iters; i++) {
        void *p = memkind_malloc(kind, 64);
        if (!p) return -(double)(errno ? errno : 1);
        memkind_free(free_kind, p);
    }
    return (double)(bench_now_ns() - t0) / (double)iters;
}

void unit_free(const struct bench_cfg *cfg, enum bench_sel sel) {
    const char *l = bench_label(sel);
    char n_right[96], n_null[96], n_extra[96], n_pnull[96], n_pright[96], n_pextra[96];
    NAME(n_right, "free_right_kind_%s_ns", l);
    NAME(n_null, "free_null_kind_%s_ns", l);
    NAME(n_extra, "free_null_extra_%s_ns", l);
    NAME(n_pright, "pair64_rightfree_%s_ns", l);
    NAME(n_pnull, "pair64_nullfree_%s_ns", l);
    NAME(n_pextra, "pair64_null_extra_%s_ns", l);

    memkind_t kind;
    if (bench_open_kind(cfg, sel, &kind, n_right)) return;
    long batch = cfg->batch;
    long rounds = cfg->iters / batch > 0 ? cfg->iters / batch : 1;
    void **ptrs = malloc((size_t)batch * sizeof *ptrs);
    double *right = malloc((size_t)cfg->reps * 3 * sizeof(double));
    if (!ptrs || !right) {
        out_fail(n_right, "out of benchmark memory");
        goto out;
    }
    double *null = right + cfg->reps, *diff = null + cfg->reps;

    /* Batch frees: allocate `batch` pointers (untimed), then time freeing all of them. */
    out_try(n_right);
    double warm = time_batch_free(kind, kind, ptrs, batch, 1);
    if (warm >= 0) warm = time_batch_free(kind, NULL, ptrs, batch, 1);
    if (warm < 0) {
        out_fail(n_right, "memkind_malloc(%s, 64) returned NULL during warm-up (errno %d)", l,
                 (int)-warm);
        goto out;
    }
    for (int r = 0; r < cfg->reps; r++) {
        /* Alternate which variant goes first so drift does not favour one. */
        int null_first = r & 1;
        for (int v = 0; v < 2; v++) {
            int is_null = (v == 0) == null_first;
            double ns = time_batch_free(kind, is_null ? NULL : kind, ptrs, batch, rounds);
            if (ns < 0) {
                out_fail(n_right, "memkind_malloc(%s, 64) returned NULL (errno %d)", l, (int)-ns);
                goto out;
            }
            (is_null ? null : right)[r] = ns;
        }
        diff[r] = null[r] - right[r];
    }
    out_metric(n_right, bench_median(right, cfg->reps), "ns");
    out_metric(n_null, bench_median(null, cfg->reps), "ns");
    out_metric(n_extra, bench_median(diff, cfg->reps), "ns");

    /* Pairs: malloc(kind, 64) then free with the right kind or with NULL. */
    out_try(n_pnull);
    for (int r = 0; r < cfg->reps; r++) {
        int null_first = r & 1;
        for (int v = 0; v < 2; v++) {
            int is_null = (v == 0) == null_first;
            double ns = time_pairs(kind, is_null ? NULL : kind, cfg->iters);
            if (ns < 0) {
                out_fail(n_pnull, "memkind_malloc(%s, 64) returned NULL (errno %d)", l, (int)-ns);
                goto out;
            }
            (is_null ? null : right)[r] = ns;
        }
        diff[r] = null[r] - right[r];
    }
    out_metric(n_pright, bench_median(right, cfg->reps), "ns");
    out_metric(n_pnull, bench_median(null, cfg->reps), "ns");
    out_metric(n_pextra, bench_median(diff, cfg->reps), "ns");
out:
    free(right);
    free(ptrs);
    bench_close_kind(sel, kind);
}

enum { DETECT_PTRS = 1024 };

void unit_detect(const struct bench_cfg *cfg, enum bench_sel sel) {
    char name[96];
    NAME(name, "detect_kind_%s_ns", bench_label(sel));
    memkind_t kind;
    if (bench_open_kind(cfg, sel, &kind, name)) return;
    void *ptrs[DETECT_PTRS];
    long n = 0;
    double *t = malloc((size_t)cfg->reps * sizeof *t);
    out_try(name);
    /* Sizes 16 B .. 2 KiB so several size classes (and slabs) are looked up. */
    for (; n < DETECT_PTRS; n++) {
        ptrs[n] = memkind_malloc(kind, (size_t)16 << (n % 8));
        if (!ptrs[n]) {
            out_fail(name, "memkind_malloc returned NULL after %ld allocations (errno %d)", n,
                     errno);
            goto out;
        }
    }
    long wrong = 0;
    memkind_t seen = NULL;
    for (long i = 0; i < n; i++) {
        memkind_t k = memkind_detect_kind(ptrs[i]);
        if (k != kind) {
            wrong++;
            seen = k;
        }
    }
    if (wrong) {
        out_fail(name,
                 "memkind_detect_kind returned the wrong kind for %ld of %ld pointers "
                 "(e.g. %p, expected %p)",
                 wrong, n, (void *)seen, (void *)kind);
        goto out;
    }
    for (int r = 0; r < cfg->reps; r++) {
        uintptr_t acc = 0;
        uint64_t t0 = bench_now_ns();
        for (long i = 0; i < cfg->iters; i++)
            acc ^= (uintptr_t)memkind_detect_kind(ptrs[i & (DETECT_PTRS - 1)]);
        t[r] = (double)(bench_now_ns() - t0) / (double)cfg->iters;
        g_sink ^= acc;
    }
    out_metric(name, bench_median(t, cfg->reps), "ns");
out:
    for (long i = 0; i < n; i++) memkind_free(kind, ptrs[i]);
    free(t);
    bench_close_kind(sel, kind);
}

void unit_pair64(const struct bench_cfg *cfg, enum bench_sel sel) {
    char name[96];
    NAME(name, "pair64_%s_ns", bench_label(sel));
    memkind_t kind;
    if (bench_open_kind(cfg, sel, &kind, name)) return;
    double *t = malloc((size_t)cfg->reps * sizeof *t);
    out_try(name);
    double warm = time_pairs(kind, kind, cfg->iters / 10 + 1);
    if (warm < 0) {
        out_fail(name, "memkind_malloc(%s, 64) returned NULL during warm-up (errno %d)",
                 bench_label(sel), (int)-warm);
        goto out;
    }
    for (int r = 0; r < cfg->reps; r++) {
        t[r] = time_pairs(kind, kind, cfg->iters);
        if (t[r] < 0) {
            out_fail(name, "memkind_malloc(%s, 64) returned NULL (errno %d)", bench_label(sel),
                     (int)-t[r]);
            goto out;
        }
    }
    out_metric(name, bench_median(t, cfg->reps), "ns");
out:
    free(t);
    bench_close_kind(sel, kind);
}
