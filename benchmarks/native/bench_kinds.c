/*
 * bench_kinds.c: how many file-backed kinds can be alive at once.
 *
 * Creates kinds with memkind_create_pmem(cfg->dir, cfg->kinds_size) until one fails or
 * cfg->kinds_cap are alive, doing one 64-byte malloc/free on each. Reports
 *   max_file_kinds        kinds alive and usable at once
 *   create_file_kind_us   mean time of create + malloc/free per kind
 *   destroy_file_kind_us  mean time of memkind_destroy_kind per kind
 * and why it stopped. Then destroys them all and checks that a new kind works again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "timing.h"

void unit_max_kinds(const struct bench_cfg *cfg, enum bench_sel sel) {
    (void)sel;
    char buf[256], reason[512] = "reached the cap";
    int cap = cfg->kinds_cap;
    memkind_t *k = calloc((size_t)cap + 1, sizeof *k);
    if (!k) {
        out_fail("max_file_kinds", "out of benchmark memory");
        return;
    }
    out_info("max_file_kinds_params", "cap=%d max_size=%zu dir=%s", cap, cfg->kinds_size,
             cfg->dir);
    out_try("max_file_kinds");
    int alive = 0, created = 0;
    uint64_t t0 = bench_now_ns();
    while (alive < cap) {
        int err = memkind_create_pmem(cfg->dir, cfg->kinds_size, &k[created]);
        if (err) {
            snprintf(reason, sizeof reason, "memkind_create_pmem failed for kind #%d: %s",
                     created + 1, bench_strerr(err, buf, sizeof buf));
            break;
        }
        created++;
        void *p = memkind_malloc(k[created - 1], 64);
        if (!p) {
            snprintf(reason, sizeof reason,
                     "memkind_malloc(64) returned NULL on kind #%d (errno %d)", created, errno);
            break;
        }
        memset(p, 0xa5, 64);
        memkind_free(k[created - 1], p);
        alive++;
        if (alive % 100 == 0) out_info("max_file_kinds_progress", "%d", alive);
    }
    uint64_t t1 = bench_now_ns();
    out_metric("max_file_kinds", alive, "kinds");
    out_info("max_file_kinds_stop", "%s", reason);
    if (created) out_metric("create_file_kind_us", (double)(t1 - t0) / 1e3 / created, "us");

    out_try("destroy_file_kind_us");
    int bad = 0, first_err = 0;
    t0 = bench_now_ns();
    for (int i = 0; i < created; i++) {
        int err = memkind_destroy_kind(k[i]);
        if (err && !bad++) first_err = err;
    }
    t1 = bench_now_ns();
    if (bad)
        out_fail("destroy_file_kind_us", "memkind_destroy_kind failed for %d of %d kinds: %s", bad,
                 created, bench_strerr(first_err, buf, sizeof buf));
    else if (created) out_metric("destroy_file_kind_us", (double)(t1 - t0) / 1e3 / created, "us");

    /* After destroying everything, a new kind must be usable again. */
    out_try("recreate_after_destroy");
    memkind_t again;
    int err = memkind_create_pmem(cfg->dir, cfg->kinds_size, &again);
    if (err) {
        out_fail("recreate_after_destroy", "memkind_create_pmem: %s",
                 bench_strerr(err, buf, sizeof buf));
    } else {
        void *p = memkind_malloc(again, 64);
        out_info("recreate_after_destroy", "%s", p ? "ok" : "memkind_malloc returned NULL");
        memkind_free(again, p);
        memkind_destroy_kind(again);
    }
    free(k);
}
