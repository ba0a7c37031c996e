/*
 * bench.h: shared declarations of the native benchmark.
 *
 * The benchmark is written only against memkind's public API (memkind.h), so the same source
 * builds against Debian's libmemkind and against tiercache's memkind-compatible layer.
 *
 * Output protocol (stdout, one record per line, fields separated by one space):
 *   info   <key> <text...>              context (implementation, version, parameters)
 *   try    <metric>                     a measurement is starting (for crash attribution)
 *   metric <metric> <value> <unit>      a measured value
 *   fail   <metric> <reason...>         the measurement failed; no value is invented
 *   skip   <metric> <reason...>         the measurement does not apply on this machine
 *   unit   <unit> begin|ok|exit N|crash SIGNO SIGNAME|timeout
 * Lines starting with '#' are comments.
 */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

#include <stddef.h>
#include <memkind.h>

#ifndef BENCH_IMPL
#define BENCH_IMPL "unknown"
#endif

/* Tunables; set from the command line (see bench_main.c usage). */
struct bench_cfg {
    int reps;            /* repetitions per measurement; the median is reported */
    long iters;          /* operations per repetition in single-thread loops */
    long batch;          /* pointers per batch in batch-free loops */
    double mt_seconds;   /* duration of one multi-thread repetition */
    int max_threads;     /* thread counts 1,2,4,... up to this */
    int kinds_cap;       /* max_file_kinds stops after this many kinds */
    size_t kinds_size;   /* max_size passed to memkind_create_pmem in max_file_kinds */
    long defrag_objects; /* objects allocated by the defrag measurement */
    int defrag_passes;   /* defrag passes over the live pointers */
    double decay_wait;   /* seconds to wait after defrag before the last stats read */
    int bg_threads;      /* defrag units call memkind_set_bg_threads(true) first */
    unsigned timeout;    /* seconds before a unit is killed (SIGALRM) */
    const char *dir;     /* directory holding file-backed kinds (a private temp dir) */
    int fk_kinds;        /* free_kinds: file kinds */
    long fk_blocks;      /* free_kinds: blocks per kind */
    size_t fk_size;      /* free_kinds: block size */
};

/* Which kind a unit measures. */
enum bench_sel { SEL_FILE, SEL_DRAM, SEL_REGULAR, SEL_HBW, SEL_INTERLEAVE };

/* One measurement unit: runs in its own child process. */
struct bench_unit {
    const char *name;
    void (*run)(const struct bench_cfg *cfg, enum bench_sel sel);
    enum bench_sel sel;
};

/* ---- output (bench_out.c); every line is flushed before the call returns ---- */
void out_info(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void out_try(const char *metric);
void out_metric(const char *metric, double value, const char *unit);
void out_fail(const char *metric, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void out_skip(const char *metric, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "code N (message)" for a memkind error code, in buf; returns buf. */
const char *bench_strerr(int err, char *buf, size_t size);

/* ---- kinds (bench_out.c) ---- */
/* Short label of a selector: "file", "dram", "regular", "hbw", "interleave". */
const char *bench_label(enum bench_sel sel);
/*
 * Get the kind for sel into *kind: file kinds are created in cfg->dir (max_size 0), static kinds
 * are checked with memkind_check_available. Returns 0 on success; otherwise prints a fail
 * (creation error) or skip (unavailable) record for `metric` and returns non-zero.
 */
int bench_open_kind(const struct bench_cfg *cfg, enum bench_sel sel, memkind_t *kind,
                    const char *metric);
/* Release a kind from bench_open_kind (destroys file kinds; reports a failed destroy). */
void bench_close_kind(enum bench_sel sel, memkind_t kind);

/* ---- units ---- */
void unit_free(const struct bench_cfg *cfg, enum bench_sel sel);       /* bench_latency.c */
void unit_detect(const struct bench_cfg *cfg, enum bench_sel sel);     /* bench_latency.c */
void unit_pair64(const struct bench_cfg *cfg, enum bench_sel sel);     /* bench_latency.c */
void unit_mt_detect(const struct bench_cfg *cfg, enum bench_sel sel);  /* bench_threads.c */
void unit_mt_free(const struct bench_cfg *cfg, enum bench_sel sel);    /* bench_threads.c */
void unit_max_kinds(const struct bench_cfg *cfg, enum bench_sel sel);  /* bench_kinds.c */
void unit_defrag(const struct bench_cfg *cfg, enum bench_sel sel);     /* bench_defrag.c */
void unit_free_kinds(const struct bench_cfg *cfg, enum bench_sel sel); /* bench_free_kinds.c */

#endif
