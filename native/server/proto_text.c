/*
 * memcached's text protocol: get/gets/gat/gats, set/add/replace/append/prepend/cas, incr/decr,
 * delete, touch, flush_all, stats, version, verbosity, quit, with memcached 1.6's replies,
 * token counts and limits. Meta commands (two letters starting with 'm') go to proto_meta.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "server.h"

#define MAX_TOKENS 8 /* every non-get command has at most 6 tokens; more is ERROR */

/* ---- shared helpers (proto.h) ---- */

size_t tcs_tokenize(const char *line, size_t len, tok_t *toks, size_t max) {
    size_t n = 0, i = 0;
    while (i < len) {
        while (i < len && line[i] == ' ') i++;
        if (i == len) break;
        size_t start = i;
        while (i < len && line[i] != ' ') i++;
        if (n == max) return max + 1;
        toks[n].s = line + start;
        toks[n].n = i - start;
        n++;
    }
    return n;
}

bool tok_is(const tok_t *t, const char *s) {
    size_t n = strlen(s);
    return t->n == n && memcmp(t->s, s, n) == 0;
}

static bool tok_cstr(const tok_t *t, char *buf, size_t cap) {
    if (t->n == 0 || t->n >= cap) return false;
    memcpy(buf, t->s, t->n);
    buf[t->n] = '\0';
    return true;
}

bool tok_u64(const tok_t *t, uint64_t *out) {
    char buf[32], *end;
    if (!tok_cstr(t, buf, sizeof buf) || buf[0] == '-') return false;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (errno || *end != '\0' || end == buf) return false;
    *out = v;
    return true;
}

bool tok_u32(const tok_t *t, uint32_t *out) {
    uint64_t v;
    if (!tok_u64(t, &v) || v > UINT32_MAX) return false;
    *out = (uint32_t)v;
    return true;
}

bool tok_i64(const tok_t *t, int64_t *out) {
    char buf[32], *end;
    if (!tok_cstr(t, buf, sizeof buf)) return false;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || *end != '\0' || end == buf) return false;
    *out = v;
    return true;
}

bool tok_i32(const tok_t *t, int32_t *out) {
    int64_t v;
    if (!tok_i64(t, &v) || v > INT32_MAX || v < INT32_MIN) return false;
    *out = (int32_t)v;
    return true;
}

bool tcs_key_ok(const char *key, size_t len) {
    if (len == 0 || len > TCS_KEY_MAX) return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)key[i];
        if (ch <= ' ' || ch == 0x7f) return false;
    }
    return true;
}

/* memcached 1.6: an item is its 48-byte header, the CAS, the key and a NUL, the client flags
 * when not 0, and the value with its \r\n; more than -I is "object too large for cache". */
bool tcs_item_too_large(size_t klen, size_t vlen, uint32_t flags) {
    size_t total = 48 + 8 + klen + 1 + (flags ? 4 : 0) + vlen + 2;
    return total > tcs_settings.item_max;
}

/* ---- replies ---- */

#define BAD_FORMAT "CLIENT_ERROR bad command line format"

static void reply(tcs_conn_t *c, bool noreply, const char *s) {
    if (!noreply) tcs_out_str(c, s);
}

static bool noreply_last(const tok_t *toks, size_t n) {
    return n > 0 && tok_is(&toks[n - 1], "noreply");
}

static void store_error(tcs_conn_t *c, int rc, bool noreply) {
    tcs_counters_t *ctr = &c->worker->counters;
    if (rc == TC_ERR_TOOLARGE) {
        TCS_INC(ctr, store_too_large);
        reply(c, noreply, "SERVER_ERROR object too large for cache");
    } else if (rc == TC_ERR_NOMEM) {
        TCS_INC(ctr, store_no_memory);
        reply(c, noreply, "SERVER_ERROR out of memory storing object");
    } else {
        char buf[128];
        snprintf(buf, sizeof buf, "SERVER_ERROR %s", tc_strerror(rc));
        reply(c, noreply, buf);
    }
}

/* ---- retrieval ---- */

/* Decimal digits of v at p; the end. */
static char *put_u64(char *p, uint64_t v) {
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) *p++ = tmp[--n];
    return p;
}

/* Answer one key of get/gets/gat/gats. */
static void get_one(tcs_conn_t *c, const char *key, size_t klen, bool with_cas, bool touch,
                    int64_t exptime) {
    tcs_counters_t *ctr = &c->worker->counters;
    tc_cache_value_t v;
    double ttl = touch ? tcs_exptime_ttl(exptime) : 0;
    unsigned opts = (with_cas ? TC_GET_CAS : 0) | (touch && ttl >= 0 ? TC_GET_TOUCH : 0);
    int rc = tc_cache_get_ex(tcs_cache(), TCS_KTAG, key, klen, opts, ttl > 0 ? ttl : 0,
                             c->worker->scratch, sizeof c->worker->scratch, &v);
    if (touch) {
        TCS_INC(ctr, cmd_touch);
        if (rc == 1) TCS_INC(ctr, touch_hits);
        else TCS_INC(ctr, touch_misses);
    } else {
        TCS_INC(ctr, cmd_get);
    }
    if (rc != 1) {
        TCS_INC(ctr, get_misses);
        return;
    }
    TCS_INC(ctr, get_hits);
    if (touch && ttl < 0) tc_cache_delete(tcs_cache(), TCS_KTAG, key, klen); /* gat -1: now gone */
    /* "VALUE <key> <flags> <bytes>[ <cas>]\r\n", then the value and \r\n: a value copied out
     * (small) goes in the same buffer, one append; a pinned one is referenced in place */
    char buf[TCS_KEY_MAX + 80 + sizeof c->worker->scratch + 2];
    char *p = buf;
    memcpy(p, "VALUE ", 6);
    p += 6;
    memcpy(p, key, klen);
    p += klen;
    *p++ = ' ';
    p = put_u64(p, v.flags);
    *p++ = ' ';
    p = put_u64(p, v.len);
    if (with_cas) {
        *p++ = ' ';
        p = put_u64(p, v.cas);
    }
    *p++ = '\r';
    *p++ = '\n';
    if (!v.pin && v.len <= sizeof c->worker->scratch) {
        memcpy(p, v.data, v.len);
        p += v.len;
        *p++ = '\r';
        *p++ = '\n';
        tcs_out(c, buf, (size_t)(p - buf));
        return;
    }
    tcs_out(c, buf, (size_t)(p - buf));
    tcs_out_value(c, &v);
    tcs_out(c, "\r\n", 2);
}

/* get/gets [keys], gat/gats exptime [keys]. Pauses between keys when the output is full. */
static tcs_dispatch_t cmd_get(tcs_conn_t *c, char *line, size_t len, size_t cmdlen, bool with_cas,
                              bool touch) {
    size_t i = cmdlen;
    int64_t exptime = 0;
    if (touch) {
        tok_t t;
        while (i < len && line[i] == ' ') i++;
        size_t s = i;
        while (i < len && line[i] != ' ') i++;
        t.s = line + s;
        t.n = i - s;
        int32_t e;
        if (!tok_i32(&t, &e)) {
            tcs_out_str(c, "CLIENT_ERROR invalid exptime argument");
            return DISPATCH_DONE;
        }
        exptime = e;
    }
    if (c->resume > i) i = c->resume;
    for (;;) {
        while (i < len && line[i] == ' ') i++;
        if (i == len) break;
        size_t s = i;
        while (i < len && line[i] != ' ') i++;
        if (i - s > TCS_KEY_MAX) {
            tcs_out_str(c, BAD_FORMAT);
            return DISPATCH_DONE;
        }
        get_one(c, line + s, i - s, with_cas, touch, exptime);
        if (tcs_out_full(c)) {
            size_t next = i;
            while (next < len && line[next] == ' ') next++;
            if (next < len) {
                c->resume = next;
                return DISPATCH_PAUSE;
            }
        }
    }
    tcs_out(c, "END\r\n", 5);
    return DISPATCH_DONE;
}

/* ---- storage ---- */

static tcs_dispatch_t cmd_store(tcs_conn_t *c, tok_t *t, size_t n, int mode) {
    tcs_pending_t *p = &c->pend;
    bool is_cas = mode == TC_STORE_CAS;
    bool noreply = noreply_last(t, n);
    uint32_t flags;
    int32_t exptime, vlen;
    uint64_t cas = 0;
    if (t[1].n > TCS_KEY_MAX) {
        tcs_out_str(c, BAD_FORMAT);
        return DISPATCH_DONE;
    }
    if (!tok_u32(&t[2], &flags) || !tok_i32(&t[3], &exptime) || !tok_i32(&t[4], &vlen) ||
        (is_cas && !tok_u64(&t[5], &cas))) {
        tcs_out_str(c, BAD_FORMAT);
        return DISPATCH_DONE;
    }
    if (vlen < 0 || vlen > INT_MAX - 2) {
        tcs_out_str(c, BAD_FORMAT);
        return DISPATCH_DONE;
    }
    TCS_INC(&c->worker->counters, cmd_set);
    if (tcs_item_too_large(t[1].n, (size_t)vlen, flags) || !tcs_key_ok(t[1].s, t[1].n)) {
        if (!tcs_key_ok(t[1].s, t[1].n)) reply(c, noreply, BAD_FORMAT);
        else {
            TCS_INC(&c->worker->counters, store_too_large);
            reply(c, noreply, "SERVER_ERROR object too large for cache");
            /* memcached drops the old value of a set that failed: no stale data after it */
            if (mode == TC_STORE_SET) tc_cache_delete(tcs_cache(), TCS_KTAG, t[1].s, t[1].n);
        }
        c->state = CONN_SWALLOW;
        c->swallow = (size_t)vlen + 2;
        return DISPATCH_DONE;
    }
    p->meta = false;
    p->mode = mode;
    p->noreply = noreply;
    memcpy(p->key, t[1].s, t[1].n);
    p->klen = t[1].n;
    p->flags = flags;
    p->exptime = exptime;
    p->cas = cas;
    p->vlen = (size_t)vlen;
    return DISPATCH_NREAD;
}

/* The item of a store whose exptime is already past: memcached stores it expired, which is
 * the key's removal (add: only the test). */
static int store_expired(const tcs_pending_t *p) {
    tc_cache_t *cache = tcs_cache();
    switch (p->mode) {
    case TC_STORE_SET: tc_cache_delete(cache, TCS_KTAG, p->key, p->klen); return TC_CACHE_STORED;
    case TC_STORE_ADD:
        return tc_cache_contains(cache, TCS_KTAG, p->key, p->klen) ? TC_CACHE_NOT_STORED
                                                                   : TC_CACHE_STORED;
    case TC_STORE_REPLACE:
        return tc_cache_delete(cache, TCS_KTAG, p->key, p->klen) == 1 ? TC_CACHE_STORED
                                                                      : TC_CACHE_NOT_STORED;
    case TC_STORE_CAS: return tc_cache_delete_cas(cache, TCS_KTAG, p->key, p->klen, p->cas);
    default: return TC_ERR_INVALID;
    }
}

/* Store c->pend with data (vlen + \r\n): the tc_cache_* result or an error. */
int tcs_store_pending(tcs_conn_t *c, const char *data, uint64_t *cas_out) {
    tcs_pending_t *p = &c->pend;
    double ttl = tcs_exptime_ttl(p->exptime);
    bool keeps = p->mode == TC_STORE_APPEND || p->mode == TC_STORE_PREPEND;
    if (ttl < 0 && !keeps) {
        if (cas_out) *cas_out = 0;
        return store_expired(p);
    }
    tc_cache_item_t it = {.ktag = TCS_KTAG,
                          .key = p->key,
                          .klen = p->klen,
                          .value = data,
                          .vlen = p->vlen,
                          .vtag = 0,
                          .flags = p->flags,
                          .ttl = ttl > 0 ? ttl : 0,
                          .cas = p->cas,
                          .with_cas = true};
    return tc_cache_store(tcs_cache(), (tc_cache_mode_t)p->mode, &it, cas_out);
}

void tcs_proto_text_data(tcs_conn_t *c, const char *data, size_t len) {
    tcs_pending_t *p = &c->pend;
    tcs_counters_t *ctr = &c->worker->counters;
    int rc = tcs_store_pending(c, data, NULL);
    if (p->mode == TC_STORE_CAS) {
        if (rc == TC_CACHE_STORED) TCS_INC(ctr, cas_hits);
        else if (rc == TC_CACHE_EXISTS) TCS_INC(ctr, cas_badval);
        else if (rc == TC_CACHE_NOT_FOUND) TCS_INC(ctr, cas_misses);
    }
    switch (rc) {
    case TC_CACHE_STORED: reply(c, p->noreply, "STORED"); break;
    case TC_CACHE_NOT_STORED: reply(c, p->noreply, "NOT_STORED"); break;
    case TC_CACHE_EXISTS: reply(c, p->noreply, "EXISTS"); break;
    case TC_CACHE_NOT_FOUND: reply(c, p->noreply, "NOT_FOUND"); break;
    default:
        if (p->mode == TC_STORE_SET) tc_cache_delete(tcs_cache(), TCS_KTAG, p->key, p->klen);
        store_error(c, rc, p->noreply);
        break;
    }
}

/* ---- other commands ---- */

static void cmd_arith(tcs_conn_t *c, tok_t *t, size_t n, bool decr) {
    tcs_counters_t *ctr = &c->worker->counters;
    bool noreply = noreply_last(t, n);
    uint64_t delta, value;
    if (t[1].n > TCS_KEY_MAX) {
        tcs_out_str(c, BAD_FORMAT);
        return;
    }
    if (!tok_u64(&t[2], &delta)) {
        tcs_out_str(c, "CLIENT_ERROR invalid numeric delta argument");
        return;
    }
    tc_cache_incr_t op = {.delta = delta, .decrement = decr, .with_cas = true};
    int rc = tc_cache_incr(tcs_cache(), TCS_KTAG, t[1].s, t[1].n, &op, &value, NULL);
    if (rc == 1) {
        if (decr) TCS_INC(ctr, decr_hits);
        else TCS_INC(ctr, incr_hits);
        if (!noreply) tcs_out_fmt(c, "%llu\r\n", (unsigned long long)value);
    } else if (rc == 0) {
        if (decr) TCS_INC(ctr, decr_misses);
        else TCS_INC(ctr, incr_misses);
        reply(c, noreply, "NOT_FOUND");
    } else if (rc == TC_ERR_NOTNUMBER) {
        reply(c, noreply, "CLIENT_ERROR cannot increment or decrement non-numeric value");
    } else if (rc == TC_ERR_NOMEM) {
        reply(c, noreply, "SERVER_ERROR out of memory");
    } else {
        store_error(c, rc, noreply);
    }
}

static void cmd_delete(tcs_conn_t *c, tok_t *t, size_t n) {
    bool noreply = noreply_last(t, n);
    if (n > 2) {
        bool hold_is_zero = tok_is(&t[2], "0");
        bool valid = (n == 3 && (hold_is_zero || noreply)) || (n == 4 && hold_is_zero && noreply);
        if (!valid) {
            tcs_out_str(c, "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]");
            return;
        }
    }
    if (t[1].n > TCS_KEY_MAX) {
        tcs_out_str(c, BAD_FORMAT);
        return;
    }
    int rc = tc_cache_delete(tcs_cache(), TCS_KTAG, t[1].s, t[1].n);
    if (rc == 1) {
        TCS_INC(&c->worker->counters, delete_hits);
        reply(c, noreply, "DELETED");
    } else {
        TCS_INC(&c->worker->counters, delete_misses);
        reply(c, noreply, "NOT_FOUND");
    }
}

static void cmd_touch(tcs_conn_t *c, tok_t *t, size_t n) {
    tcs_counters_t *ctr = &c->worker->counters;
    bool noreply = noreply_last(t, n);
    int32_t exptime;
    if (t[1].n > TCS_KEY_MAX) {
        tcs_out_str(c, BAD_FORMAT);
        return;
    }
    if (!tok_i32(&t[2], &exptime)) {
        tcs_out_str(c, "CLIENT_ERROR invalid exptime argument");
        return;
    }
    double ttl = tcs_exptime_ttl(exptime);
    int rc = ttl < 0 ? tc_cache_delete(tcs_cache(), TCS_KTAG, t[1].s, t[1].n)
                     : tc_cache_touch(tcs_cache(), TCS_KTAG, t[1].s, t[1].n, ttl);
    TCS_INC(ctr, cmd_touch);
    if (rc == 1) {
        TCS_INC(ctr, touch_hits);
        reply(c, noreply, "TOUCHED");
    } else {
        TCS_INC(ctr, touch_misses);
        reply(c, noreply, "NOT_FOUND");
    }
}

static void cmd_flush(tcs_conn_t *c, tok_t *t, size_t n) {
    bool noreply = noreply_last(t, n);
    int32_t delay = 0;
    TCS_INC(&c->worker->counters, cmd_flush);
    if (n != (noreply ? 2u : 1u)) {
        if (!tok_i32(&t[1], &delay)) {
            tcs_out_str(c, "CLIENT_ERROR invalid exptime argument");
            return;
        }
    }
    tcs_flush_all(delay);
    reply(c, noreply, "OK");
}

static void cmd_verbosity(tcs_conn_t *c, tok_t *t, size_t n) {
    bool noreply = noreply_last(t, n);
    uint32_t level;
    if (!tok_u32(&t[1], &level)) {
        reply(c, noreply, BAD_FORMAT);
        return;
    }
    atomic_store(&tcs_verbosity, level > 2 ? 2 : (int)level);
    reply(c, noreply, "OK");
}

static bool is_meta(const tok_t *t) {
    return t->n == 2 && t->s[0] == 'm' &&
           (t->s[1] == 'g' || t->s[1] == 's' || t->s[1] == 'd' || t->s[1] == 'a' ||
            t->s[1] == 'n' || t->s[1] == 'e');
}

tcs_dispatch_t tcs_proto_text(tcs_conn_t *c, char *line, size_t len) {
    tok_t t[MAX_TOKENS];
    size_t n = tcs_tokenize(line, len, t, MAX_TOKENS);
    /* memcached counts a terminal empty token: its "ntokens" is n + 1 */
    if (n == 0) {
        tcs_out_str(c, "ERROR");
        return DISPATCH_DONE;
    }
    const tok_t *cmd = &t[0];
    if (cmd->s[0] == 'g') {
        if (n >= 2 && tok_is(cmd, "get"))
            return cmd_get(c, line, len, (size_t)(cmd->s + 3 - line), false, false);
        if (n >= 2 && tok_is(cmd, "gets"))
            return cmd_get(c, line, len, (size_t)(cmd->s + 4 - line), true, false);
        if (n >= 3 && tok_is(cmd, "gat"))
            return cmd_get(c, line, len, (size_t)(cmd->s + 3 - line), false, true);
        if (n >= 3 && tok_is(cmd, "gats"))
            return cmd_get(c, line, len, (size_t)(cmd->s + 4 - line), true, true);
        if (n == 2 && (tok_is(cmd, "gat") || tok_is(cmd, "gats"))) {
            /* "gat 10": an exptime and no key (memcached answers END) */
            return cmd_get(c, line, len, (size_t)(cmd->s + cmd->n - line), false, true);
        }
        tcs_out_str(c, "ERROR");
        return DISPATCH_DONE;
    }
    if (is_meta(cmd)) return tcs_proto_meta(c, line, len);
    if (n > 6) {
        tcs_out_str(c, "ERROR");
        return DISPATCH_DONE;
    }
    if (n == 5 || n == 6) {
        if (tok_is(cmd, "set")) return cmd_store(c, t, n, TC_STORE_SET);
        if (tok_is(cmd, "add")) return cmd_store(c, t, n, TC_STORE_ADD);
        if (tok_is(cmd, "replace")) return cmd_store(c, t, n, TC_STORE_REPLACE);
        if (tok_is(cmd, "append")) return cmd_store(c, t, n, TC_STORE_APPEND);
        if (tok_is(cmd, "prepend")) return cmd_store(c, t, n, TC_STORE_PREPEND);
    }
    if ((n == 6 || n == 7) && tok_is(cmd, "cas")) return cmd_store(c, t, n, TC_STORE_CAS);
    if ((n == 3 || n == 4) && (tok_is(cmd, "incr") || tok_is(cmd, "decr"))) {
        cmd_arith(c, t, n, cmd->s[0] == 'd');
        return DISPATCH_DONE;
    }
    if (n >= 2 && n <= 4 && tok_is(cmd, "delete")) {
        cmd_delete(c, t, n);
        return DISPATCH_DONE;
    }
    if ((n == 3 || n == 4) && tok_is(cmd, "touch")) {
        cmd_touch(c, t, n);
        return DISPATCH_DONE;
    }
    if (n >= 1 && n <= 3 && tok_is(cmd, "flush_all")) {
        cmd_flush(c, t, n);
        return DISPATCH_DONE;
    }
    if (tok_is(cmd, "stats")) {
        char args[64] = "";
        if (n >= 2) {
            size_t off = (size_t)(t[1].s - line), rest = len - off;
            if (rest >= sizeof args) rest = sizeof args - 1;
            memcpy(args, line + off, rest);
            args[rest] = '\0';
        }
        if (!tcs_stats(c, n >= 2 ? args : NULL)) tcs_out_str(c, "ERROR");
        return DISPATCH_DONE;
    }
    if (n == 1 && tok_is(cmd, "version")) {
        tcs_out_str(c, "VERSION " TCS_VERSION);
        return DISPATCH_DONE;
    }
    if ((n == 2 || n == 3) && tok_is(cmd, "verbosity")) {
        cmd_verbosity(c, t, n);
        return DISPATCH_DONE;
    }
    if (n == 1 && tok_is(cmd, "quit")) return DISPATCH_CLOSE;
    if (tok_is(cmd, "shutdown")) {
        tcs_out_str(c, "ERROR: shutdown not enabled");
        return DISPATCH_DONE;
    }
    TCS_INC(&c->worker->counters, protocol_errors);
    tcs_out_str(c, "ERROR");
    return DISPATCH_DONE;
}
