/*
 * Every environment option, in one table, read once. An invalid value is remembered with the
 * reason; whatever depends on it then fails with TC_ERR_ENVIRON instead of guessing.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum opt_type { OPT_BOOL, OPT_UINT, OPT_NODELIST, OPT_TEXT /* parsed by its user */ };

struct option_row {
    const char *env;
    enum opt_type type;
    unsigned long def, min, max; /* for OPT_BOOL / OPT_UINT */
    const char *doc;
};

static const struct option_row rows[TC_OPT_COUNT] = {
    [TC_OPT_DEBUG] = {"MEMKIND_DEBUG", OPT_BOOL, 0, 0, 1,
                      "1: print the reason for every failed call on stderr"},
    [TC_OPT_HOG_MEMORY] = {"MEMKIND_HOG_MEMORY", OPT_BOOL, 0, 0, 1,
                           "1: never return freed memory of created kinds to the system"},
    [TC_OPT_BACKGROUND_THREAD_LIMIT] = {"MEMKIND_BACKGROUND_THREAD_LIMIT", OPT_UINT, 0, 0, 4096,
                                        "most background purging threads (0: jemalloc's)"},
    [TC_OPT_FILE_ARENAS] = {"TIERCACHE_FILE_ARENAS", OPT_UINT, 1, 1, TC_MAX_ARENAS_PER_KIND,
                            "jemalloc arenas per file-backed kind"},
    [TC_OPT_FILE_WINDOW_MB] = {"TIERCACHE_FILE_WINDOW_MB", OPT_UINT, 1024, 16, 1u << 24,
                               "first address window (MiB) of a file kind without max_size"},
    [TC_OPT_HBW_NODES] = {"MEMKIND_HBW_NODES", OPT_NODELIST, 0, 0, 0,
                          "NUMA nodes treated as high-bandwidth memory, e.g. 1,3-4"},
    [TC_OPT_DAX_KMEM_NODES] = {"MEMKIND_DAX_KMEM_NODES", OPT_NODELIST, 0, 0, 0,
                               "NUMA nodes treated as DAX-KMEM (PMEM/CXL as system RAM)"},
    [TC_OPT_HBW_THRESHOLD] = {"MEMKIND_HBW_THRESHOLD", OPT_UINT, 204800, 1, 1ul << 40,
                              "bandwidth (MB/s) from which a node counts as high-bandwidth"},
    [TC_OPT_MEM_TIERS] = {"MEMKIND_MEM_TIERS", OPT_TEXT, 0, 0, 0,
                          "tiers of the LD_PRELOAD memtier library (memtier_env.c parses it)"},
    [TC_OPT_MEM_THRESHOLDS] = {"MEMKIND_MEM_THRESHOLDS", OPT_TEXT, 0, 0, 0,
                               "DYNAMIC_THRESHOLD thresholds of the memtier library"},
    [TC_OPT_DRAM_DECAY_MS] = {"TIERCACHE_DRAM_DECAY_MS", OPT_UINT, 1000, 0, 3600000,
                              "freed DRAM pages go back to the system within this many ms"},
    [TC_OPT_BACKGROUND_PURGE] = {"TIERCACHE_BACKGROUND_PURGE", OPT_BOOL, 1, 0, 1,
                                 "1: a cache starts the background purging threads"},
};

struct option_state {
    bool set, invalid;
    unsigned long value;
    const char *str;
};
static struct option_state state[TC_OPT_COUNT];
static char first_error[256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static bool parse_uint(const char *s, unsigned long *out) {
    if (!*s || !isdigit((unsigned char)*s)) return false;
    errno = 0;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end) return false;
    *out = v;
    return true;
}

/* "0", "1,3", "0-3,5": node numbers below 1024, ascending ranges. */
static bool parse_nodelist(const char *s) {
    if (!*s) return false;
    while (*s) {
        char *end;
        if (!isdigit((unsigned char)*s)) return false;
        unsigned long a = strtoul(s, &end, 10), b = a;
        s = end;
        if (*s == '-') {
            if (!isdigit((unsigned char)s[1])) return false;
            b = strtoul(s + 1, &end, 10);
            s = end;
        }
        if (a > b || b >= 1024) return false;
        if (*s == ',') {
            if (!s[1]) return false;
            s++;
        } else if (*s) {
            return false;
        }
    }
    return true;
}

static void read_all(void) {
    for (int i = 0; i < TC_OPT_COUNT; i++) {
        const struct option_row *r = &rows[i];
        struct option_state *st = &state[i];
        st->value = r->def;
        const char *v = getenv(r->env);
        if (!v) continue;
        st->set = true;
        st->str = v;
        bool ok;
        const char *why;
        switch (r->type) {
        case OPT_BOOL:
            ok = (!strcmp(v, "0") || !strcmp(v, "1"));
            st->value = ok ? (unsigned long)(v[0] == '1') : r->def;
            why = "expected 0 or 1";
            break;
        case OPT_UINT: {
            unsigned long x;
            ok = parse_uint(v, &x) && x >= r->min && x <= r->max;
            if (ok) st->value = x;
            why = "expected a whole number in range";
            break;
        }
        case OPT_TEXT:
            ok = true;
            why = "";
            break;
        default:
            ok = parse_nodelist(v);
            why = "expected a node list such as 0,2-3";
            break;
        }
        if (!ok) {
            st->invalid = true;
            if (!first_error[0]) {
                if (r->type == OPT_UINT)
                    snprintf(first_error, sizeof first_error, "%s=%s: %s [%lu, %lu]", r->env, v,
                             why, r->min, r->max);
                else snprintf(first_error, sizeof first_error, "%s=%s: %s", r->env, v, why);
            }
        }
    }
}

void tc__options_init(void) { pthread_once(&once, read_all); }

int tc__option_uint(enum tc_option_id id, unsigned long *out) {
    tc__options_init();
    if (state[id].invalid) {
        tc__log("invalid environment option: %s", first_error);
        return TC_ERR_ENVIRON;
    }
    *out = state[id].value;
    return TC_OK;
}

int tc__option_str(enum tc_option_id id, const char **out) {
    tc__options_init();
    if (state[id].invalid) return TC_ERR_ENVIRON;
    *out = state[id].set ? state[id].str : NULL;
    return TC_OK;
}

bool tc__debug(void) {
    tc__options_init();
    return state[TC_OPT_DEBUG].value != 0;
}

void tc__log(const char *fmt, ...) {
    if (!tc__debug()) return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "tiercache: %s\n", buf);
}

TC_API const char *tc_options_error(void) {
    tc__options_init();
    return first_error[0] ? first_error : NULL;
}
