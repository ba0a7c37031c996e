/*
 * bench_out.c: the line protocol of bench.h and kind open/close helpers.
 * stdout is line-buffered (set in main), so a record survives a later crash of the unit.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

static void out_line(const char *tag, const char *name, const char *fmt, va_list ap) {
    char text[512];
    vsnprintf(text, sizeof text, fmt, ap);
    /* Keep one record per line whatever the message says. */
    for (char *c = text; *c; c++)
        if (*c == '\n' || *c == '\r') *c = ' ';
    printf("%s %s %s\n", tag, name, text);
    fflush(stdout);
}

void out_info(const char *key, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    out_line("info", key, fmt, ap);
    va_end(ap);
}

void out_fail(const char *metric, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    out_line("fail", metric, fmt, ap);
    va_end(ap);
}

void out_skip(const char *metric, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    out_line("skip", metric, fmt, ap);
    va_end(ap);
}

void out_try(const char *metric) {
    printf("try %s\n", metric);
    fflush(stdout);
}

void out_metric(const char *metric, double value, const char *unit) {
    printf("metric %s %.6g %s\n", metric, value, unit);
    fflush(stdout);
}

const char *bench_strerr(int err, char *buf, size_t size) {
    char msg[MEMKIND_ERROR_MESSAGE_SIZE];
    msg[0] = '\0';
    memkind_error_message(err, msg, sizeof msg);
    snprintf(buf, size, "code %d (%s)", err, msg);
    return buf;
}

const char *bench_label(enum bench_sel sel) {
    switch (sel) {
    case SEL_FILE: return "file";
    case SEL_DRAM: return "dram";
    case SEL_REGULAR: return "regular";
    case SEL_HBW: return "hbw";
    case SEL_INTERLEAVE: return "interleave";
    }
    return "?";
}

int bench_open_kind(const struct bench_cfg *cfg, enum bench_sel sel, memkind_t *kind,
                    const char *metric) {
    char buf[256];
    int err;
    switch (sel) {
    case SEL_FILE:
        err = memkind_create_pmem(cfg->dir, 0, kind);
        if (err) {
            out_fail(metric, "memkind_create_pmem(%s, 0) failed: %s", cfg->dir,
                     bench_strerr(err, buf, sizeof buf));
            return -1;
        }
        return 0;
    case SEL_DRAM: *kind = MEMKIND_DEFAULT; break;
    case SEL_REGULAR: *kind = MEMKIND_REGULAR; break;
    case SEL_HBW: *kind = MEMKIND_HBW; break;
    case SEL_INTERLEAVE: *kind = MEMKIND_INTERLEAVE; break;
    }
    err = memkind_check_available(*kind);
    if (err) {
        out_skip(metric, "unavailable: memkind_check_available -> %s",
                 bench_strerr(err, buf, sizeof buf));
        return 1;
    }
    return 0;
}

void bench_close_kind(enum bench_sel sel, memkind_t kind) {
    char buf[256];
    if (sel != SEL_FILE) return;
    int err = memkind_destroy_kind(kind);
    if (err)
        out_info("destroy_kind_error", "memkind_destroy_kind: %s",
                 bench_strerr(err, buf, sizeof buf));
}
