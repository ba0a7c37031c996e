/* The MEMKIND_MEM_TIERS / MEMKIND_MEM_THRESHOLDS format (see memtier_internal.h). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "memtier_internal.h"

#define MAX_TEXT 4096

struct tier_spec {
    const char *kind, *path;
    size_t limit;
    unsigned ratio;
    bool has_limit;
};

static int fail(char *err, size_t len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
    return MEMKIND_ERROR_ENVIRON;
}

/* Decimal digits with an optional K, M or G (or KB, MB, GB) suffix. */
static bool parse_size(const char *s, size_t *out) {
    if (!isdigit((unsigned char)*s)) return false;
    unsigned long long v = 0;
    for (; isdigit((unsigned char)*s); s++) {
        if (v > (ULLONG_MAX - 9) / 10) return false;
        v = v * 10 + (unsigned)(*s - '0');
    }
    unsigned shift = 0;
    if (*s == 'K' || *s == 'k') shift = 10, s++;
    else if (*s == 'M' || *s == 'm') shift = 20, s++;
    else if (*s == 'G' || *s == 'g') shift = 30, s++;
    if (shift && (*s == 'B' || *s == 'b')) s++;
    if (*s || v > (SIZE_MAX >> shift)) return false;
    *out = (size_t)(v << shift);
    return true;
}

/* Plain decimal digits (no suffix). */
static bool parse_count(const char *s, size_t *out) {
    return *s && isdigit((unsigned char)s[strlen(s) - 1]) && parse_size(s, out);
}

/* Split s in place at every sep; up to max pieces into parts. Number of pieces, or -1. */
static int split(char *s, char sep, char **parts, int max) {
    int n = 0;
    for (;;) {
        if (n == max) return -1;
        parts[n++] = s;
        char *c = strchr(s, sep);
        if (!c) return n;
        *c = 0;
        s = c + 1;
    }
}

static int parse_tier(char *text, int index, struct tier_spec *t, char *err, size_t len) {
    char *params[8];
    int n = split(text, ',', params, 8);
    if (n < 0) return fail(err, len, "tier %d: too many parameters", index);
    memset(t, 0, sizeof *t);
    for (int i = 0; i < n; i++) {
        char *colon = strchr(params[i], ':');
        if (!colon) return fail(err, len, "tier %d: '%s' is not NAME:VALUE", index, params[i]);
        *colon = 0;
        const char *name = params[i], *value = colon + 1;
        if (!strcmp(name, "KIND")) {
            if (t->kind) return fail(err, len, "tier %d: KIND given twice", index);
            if (strcmp(value, "DRAM") && strcmp(value, "FS_DAX") && strcmp(value, "KMEM_DAX"))
                return fail(err, len, "tier %d: unknown KIND '%s' (DRAM, FS_DAX or KMEM_DAX)",
                            index, value);
            t->kind = value;
        } else if (!strcmp(name, "PATH")) {
            if (t->path) return fail(err, len, "tier %d: PATH given twice", index);
            if (!*value) return fail(err, len, "tier %d: empty PATH", index);
            t->path = value;
        } else if (!strcmp(name, "PMEM_SIZE_LIMIT")) {
            if (t->has_limit) return fail(err, len, "tier %d: PMEM_SIZE_LIMIT given twice", index);
            if (!parse_size(value, &t->limit))
                return fail(err, len, "tier %d: PMEM_SIZE_LIMIT '%s' is not a size like 512M",
                            index, value);
            t->has_limit = true;
        } else if (!strcmp(name, "RATIO")) {
            size_t r;
            if (t->ratio) return fail(err, len, "tier %d: RATIO given twice", index);
            if (!parse_count(value, &r) || r == 0 || r > UINT_MAX)
                return fail(err, len, "tier %d: RATIO '%s' is not a whole number in [1, %u]",
                            index, value, UINT_MAX);
            t->ratio = (unsigned)r;
        } else if (!strcmp(name, "POLICY")) {
            return fail(err, len, "tier %d: POLICY must be the last item, on its own", index);
        } else {
            return fail(err, len, "tier %d: unknown parameter '%s'", index, name);
        }
    }
    if (!t->kind) return fail(err, len, "tier %d: KIND is missing", index);
    if (!t->ratio) return fail(err, len, "tier %d: RATIO is missing", index);
    bool fsdax = !strcmp(t->kind, "FS_DAX");
    if (fsdax && !t->path) return fail(err, len, "tier %d: FS_DAX needs PATH", index);
    if (!fsdax && (t->path || t->has_limit))
        return fail(err, len, "tier %d: PATH and PMEM_SIZE_LIMIT are for FS_DAX only", index);
    return MEMKIND_SUCCESS;
}

/* Apply one MEMKIND_MEM_THRESHOLDS item (threshold id) to the builder. */
static int parse_threshold(char *text, unsigned id, struct memtier_builder *b, char *err,
                           size_t len) {
    static const char *const names[3] = {"INIT_VAL", "MIN_VAL", "MAX_VAL"};
    static const char *const fields[3] = {"val", "min", "max"};
    bool seen[3] = {false, false, false};
    char *params[4];
    int n = split(text, ',', params, 4);
    if (n < 0) return fail(err, len, "threshold %u: too many parameters", id);
    for (int i = 0; i < n; i++) {
        char *colon = strchr(params[i], ':');
        if (!colon) return fail(err, len, "threshold %u: '%s' is not NAME:VALUE", id, params[i]);
        *colon = 0;
        int f = 0;
        while (f < 3 && strcmp(params[i], names[f])) f++;
        if (f == 3)
            return fail(err, len,
                        "threshold %u: unknown parameter '%s' (INIT_VAL, MIN_VAL, "
                        "MAX_VAL)",
                        id, params[i]);
        if (seen[f]) return fail(err, len, "threshold %u: %s given twice", id, names[f]);
        seen[f] = true;
        size_t v;
        const char *value = colon + 1;
        if (!parse_count(value, &v))
            return fail(err, len, "threshold %u: %s '%s' is not a whole number", id, names[f],
                        value);
        char name[64];
        snprintf(name, sizeof name, "policy.dynamic_threshold.thresholds[%u].%s", id, fields[f]);
        if (memtier_ctl_set(b, name, &v) != MEMKIND_SUCCESS)
            return fail(err, len, "threshold %u: %s out of range", id, names[f]);
    }
    return MEMKIND_SUCCESS;
}

int tc__memtier_from_env(const char *tiers, const char *thresholds, struct memtier_memory **out,
                         char *err, size_t errlen) {
    char text[MAX_TEXT], ttext[MAX_TEXT];
    if (!tiers || !*tiers) return fail(err, errlen, "MEMKIND_MEM_TIERS is not set or empty");
    if (strlen(tiers) >= MAX_TEXT) return fail(err, errlen, "MEMKIND_MEM_TIERS is too long");
    strcpy(text, tiers);
    char *items[TC_MEMTIER_MAX_TIERS + 1];
    int n = split(text, ';', items, TC_MEMTIER_MAX_TIERS + 1);
    if (n < 0)
        return fail(err, errlen, "MEMKIND_MEM_TIERS: more than %d tiers", TC_MEMTIER_MAX_TIERS);
    const char *policy_text = items[n - 1];
    memtier_policy_t policy;
    if (strncmp(policy_text, "POLICY:", 7))
        return fail(err, errlen,
                    "MEMKIND_MEM_TIERS: the last item must be "
                    "POLICY:STATIC_RATIO or POLICY:DYNAMIC_THRESHOLD");
    if (!strcmp(policy_text + 7, "STATIC_RATIO")) policy = MEMTIER_POLICY_STATIC_RATIO;
    else if (!strcmp(policy_text + 7, "DYNAMIC_THRESHOLD"))
        policy = MEMTIER_POLICY_DYNAMIC_THRESHOLD;
    else
        return fail(err, errlen,
                    "MEMKIND_MEM_TIERS: unknown POLICY '%s' (STATIC_RATIO or "
                    "DYNAMIC_THRESHOLD)",
                    policy_text + 7);
    int ntiers = n - 1;
    if (!ntiers) return fail(err, errlen, "MEMKIND_MEM_TIERS: no tier before POLICY");
    if (policy == MEMTIER_POLICY_DYNAMIC_THRESHOLD && ntiers < 2)
        return fail(err, errlen, "MEMKIND_MEM_TIERS: DYNAMIC_THRESHOLD needs two tiers or more");
    struct tier_spec specs[TC_MEMTIER_MAX_TIERS];
    for (int i = 0; i < ntiers; i++) {
        char msg[160];
        if (parse_tier(items[i], i + 1, &specs[i], msg, sizeof msg))
            return fail(err, errlen, "MEMKIND_MEM_TIERS: %s", msg);
    }
    if (thresholds && policy != MEMTIER_POLICY_DYNAMIC_THRESHOLD)
        return fail(err, errlen, "MEMKIND_MEM_THRESHOLDS is only for POLICY:DYNAMIC_THRESHOLD");

    struct memtier_builder *b = memtier_builder_new(policy);
    if (!b) return fail(err, errlen, "out of memory");
    memkind_t created[TC_MEMTIER_MAX_TIERS];
    int ncreated = 0, rc = MEMKIND_SUCCESS;
    for (int i = 0; i < ntiers && !rc; i++) {
        memkind_t k;
        if (!strcmp(specs[i].kind, "DRAM")) {
            k = MEMKIND_DEFAULT;
        } else if (!strcmp(specs[i].kind, "KMEM_DAX")) {
            k = MEMKIND_DAX_KMEM;
            if (memkind_check_available(k) != MEMKIND_SUCCESS) {
                rc = fail(err, errlen,
                          "MEMKIND_MEM_TIERS: tier %d: KMEM_DAX memory is not "
                          "available on this machine",
                          i + 1);
                break;
            }
        } else {
            int e = memkind_create_pmem(specs[i].path, specs[i].limit, &k);
            if (e) {
                char why[MEMKIND_ERROR_MESSAGE_SIZE];
                memkind_error_message(e, why, sizeof why);
                rc = fail(err, errlen,
                          "MEMKIND_MEM_TIERS: tier %d: cannot create FS_DAX kind "
                          "in '%s' (limit %zu bytes; a limit is 0 or at least 16M): %s",
                          i + 1, specs[i].path, specs[i].limit, why);
                break;
            }
            created[ncreated++] = k;
            /* An unmodified program may fork and go on using its heap in the child (a shell
             * does, up to exec): the child gets a private copy, as of ordinary memory. */
            if (tc_kind_set_fork_policy((tc_kind_t *)k, TC_FORK_COPY) != TC_OK) {
                rc = fail(err, errlen,
                          "MEMKIND_MEM_TIERS: tier %d: cannot make the FS_DAX "
                          "kind's memory inheritable by fork()",
                          i + 1);
                break;
            }
        }
        if (memtier_builder_add_tier(b, k, specs[i].ratio))
            rc = fail(err, errlen, "MEMKIND_MEM_TIERS: tier %d: kind given twice", i + 1);
    }
    if (!rc && thresholds) {
        if (strlen(thresholds) >= MAX_TEXT) {
            rc = fail(err, errlen, "MEMKIND_MEM_THRESHOLDS is too long");
        } else {
            strcpy(ttext, thresholds);
            char *titems[TC_MEMTIER_MAX_TIERS];
            int nt = split(ttext, ';', titems, TC_MEMTIER_MAX_TIERS);
            if (nt < 0 || nt > ntiers - 1)
                rc = fail(err, errlen,
                          "MEMKIND_MEM_THRESHOLDS: more thresholds than pairs "
                          "of tiers (%d)",
                          ntiers - 1);
            for (int i = 0; i < nt && !rc; i++) {
                char msg[160];
                if (parse_threshold(titems[i], (unsigned)i, b, msg, sizeof msg))
                    rc = fail(err, errlen, "MEMKIND_MEM_THRESHOLDS: %s", msg);
            }
        }
    }
    struct memtier_memory *m = NULL;
    if (!rc && !(m = memtier_builder_construct_memtier_memory(b)))
        rc = fail(err, errlen,
                  "MEMKIND_MEM_THRESHOLDS: thresholds must satisfy MIN_VAL <= "
                  "INIT_VAL <= MAX_VAL, each MAX_VAL below the next MIN_VAL");
    memtier_builder_delete(b);
    if (rc) {
        for (int i = 0; i < ncreated; i++) memkind_destroy_kind(created[i]);
        return rc;
    }
    *out = m;
    return MEMKIND_SUCCESS;
}
