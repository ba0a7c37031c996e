/*
 * bench_free_kinds.c: freeing with the kind given versus with NULL, over many kinds at once.
 *   unit_free_kinds  cfg->fk_kinds file kinds (10), cfg->fk_blocks blocks of cfg->fk_size
 *                    bytes (32768 x 512 B) in each, allocated round-robin over the kinds
 *                    (untimed), then all freed in allocation order (timed), once with
 *                    memkind_free(kind, p) and once with memkind_free(NULL, p), alternating
 *                    which goes first. One thread.
 * Reports the medians of ns per free for both, the median of the per-repetition ratios
 * kind/NULL (free_kinds_kind_over_null, < 1 means freeing with the kind is faster) and how many
 * repetitions had the kind slower by more than 5%. Run it on a disk directory too (--dir): the
 * issue that asked for it (14, item 12) saw the kind slower there, not on tmpfs.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "timing.h"

/* Allocate every block (round-robin over the kinds), noting each block's kind in pk[i].
 * 0, or an errno after freeing them all. */
static int fill_all(memkind_t *k, int nk, void **p, memkind_t *pk, long per_kind, size_t size) {
    long n = per_kind * nk;
    for (long i = 0; i < n; i++) {
        pk[i] = k[i % nk];
        p[i] = memkind_malloc(pk[i], size);
        if (!p[i]) {
            int e = errno ? errno : ENOMEM;
            for (long j = 0; j < i; j++) memkind_free(pk[j], p[j]);
            return e;
        }
    }
    return 0;
}

/* ns per free of every block, with its kind (with_kind) or with NULL; < 0 on failure. Both
 * run the same loop, memkind_free(arg[i], p[i]), over an array of the blocks' kinds or one of
 * NULLs, so that they differ only in the value passed: the kind of each block is looked up
 * before the clock starts (a `k[i % nk]` in the loop cost the kind side a division per free,
 * and a load the NULL side did not make). */
static double timed_free(memkind_t *k, int nk, void **p, memkind_t *pk, memkind_t *pnull,
                         long per_kind, size_t size, int with_kind) {
    int e = fill_all(k, nk, p, pk, per_kind, size);
    if (e) return -(double)e;
    long n = per_kind * nk;
    memkind_t *arg = with_kind ? pk : pnull;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) memkind_free(arg[i], p[i]);
    return (double)(bench_now_ns() - t0) / (double)n;
}

void unit_free_kinds(const struct bench_cfg *cfg, enum bench_sel sel) {
    (void)sel;
    const int nk = cfg->fk_kinds;
    const long per_kind = cfg->fk_blocks;
    const size_t size = cfg->fk_size;
    memkind_t *k = calloc((size_t)nk, sizeof *k);
    void **p = malloc((size_t)(per_kind * nk) * sizeof *p);
    memkind_t *pk = malloc((size_t)(per_kind * nk) * sizeof *pk);
    memkind_t *pnull = calloc((size_t)(per_kind * nk), sizeof *pnull);
    double *with = malloc((size_t)cfg->reps * 3 * sizeof(double));
    int made = 0;
    out_info("free_kinds_params", "kinds=%d blocks_per_kind=%ld size=%zu dir=%s", nk, per_kind,
             size, cfg->dir);
    out_try("free_kinds_kind_ns");
    if (!k || !p || !pk || !pnull || !with) {
        out_fail("free_kinds_kind_ns", "out of benchmark memory");
        goto out;
    }
    double *without = with + cfg->reps, *ratio = without + cfg->reps;
    for (; made < nk; made++) {
        int err = memkind_create_pmem(cfg->dir, 0, &k[made]);
        if (err) {
            char buf[160];
            out_fail("free_kinds_kind_ns", "memkind_create_pmem: %s",
                     bench_strerr(err, buf, sizeof buf));
            goto out;
        }
    }
    /* Warm-up: one round of each, so the first timed round does not map the files. */
    for (int v = 0; v < 2; v++)
        if (timed_free(k, nk, p, pk, pnull, per_kind, size, v) < 0) {
            out_fail("free_kinds_kind_ns", "memkind_malloc returned NULL during warm-up");
            goto out;
        }
    int slower = 0;
    for (int r = 0; r < cfg->reps; r++) {
        int null_first = r & 1; /* alternate, so that drift favours neither */
        for (int v = 0; v < 2; v++) {
            int is_null = (v == 0) == null_first;
            double ns = timed_free(k, nk, p, pk, pnull, per_kind, size, !is_null);
            if (ns < 0) {
                out_fail("free_kinds_kind_ns", "memkind_malloc returned NULL (errno %d)",
                         (int)-ns);
                goto out;
            }
            (is_null ? without : with)[r] = ns;
        }
        ratio[r] = with[r] / without[r];
        out_info("free_kinds_rep", "%d first=%s kind_ns=%.1f null_ns=%.1f", r,
                 null_first ? "null" : "kind", with[r], without[r]);
        slower += ratio[r] > 1.05;
    }
    out_info("free_kinds_kind_slower_reps", "%d of %d (by more than 5%%)", slower, cfg->reps);
    out_metric("free_kinds_ratio_kind_over_null", bench_median(ratio, cfg->reps), "x");
    out_metric("free_kinds_kind_ns", bench_median(with, cfg->reps), "ns");
    out_metric("free_kinds_null_ns", bench_median(without, cfg->reps), "ns");
out:
    for (int i = 0; i < made; i++) memkind_destroy_kind(k[i]);
    free(k);
    free(p);
    free(pk);
    free(pnull);
    free(with);
}
