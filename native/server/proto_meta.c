/*
 * memcached's meta protocol: mg, ms, md, ma, mn, me, with memcached 1.6's flags and replies:
 *   mg <key> [b c f k O q s t u v N T R]   VA <len> <flags>\r\n<data> | HD <flags> | EN
 *   ms <key> <datalen> [b c C F I k O q T M N]   HD | NS | EX | NF
 *   md <key> [b C I k O q T]               HD | NF | EX
 *   ma <key> [b c D J k M N O q t T v]     HD | VA | NF | NS | EX
 *   mn                                     MN
 *   me <key>                               ME <key> <fields> | EN
 * Return flags come in the order they were asked for; W/Z (win / win already sent) last.
 * Differences (see the README): h and l are refused (no per-item access history), R is
 * accepted and ignored (no early recache), I deletes instead of marking stale.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "proto.h"
#include "server.h"

#define MAX_META_TOKENS 24
#define VTAG_WIN_SENT 1u /* value tag of an item made by mg N: its creator holds the win */

#define BAD_FORMAT "CLIENT_ERROR bad command line format"
#define BAD_TOKEN "CLIENT_ERROR bad token in command line format"

/* One meta request's flags. */
typedef struct meta {
    unsigned seen[128];                /* flag letter -> 1 when given */
    const tok_t *ret[MAX_META_TOKENS]; /* return flags, in request order */
    int nret;
    bool quiet, base64, has_cas, has_ttl, has_vivify, has_initial, has_delta, peek;
    uint64_t cas, initial, delta;
    int64_t ttl, vivify;
    uint32_t flags;
    bool has_flags;
    char mode;
    const tok_t *opaque;
    const tok_t *key_tok;
    char key[TCS_KEY_MAX + 1];
    size_t klen;
} meta_t;

/* ---- base64 (keys with the b flag) ---- */

static int b64_val(unsigned char ch) {
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+') return 62;
    if (ch == '/') return 63;
    return -1;
}

/* Decode src into dst (at most cap bytes): the length, or -1 when not valid base64. */
static long b64_decode(const char *src, size_t n, char *dst, size_t cap) {
    if (n == 0 || n % 4 != 0) return -1;
    size_t out = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4], pad = 0;
        for (int j = 0; j < 4; j++) {
            unsigned char ch = (unsigned char)src[i + j];
            if (ch == '=' && i + 4 == n && j >= 2) {
                v[j] = 0;
                pad++;
            } else if (pad || (v[j] = b64_val(ch)) < 0) {
                return -1;
            }
        }
        unsigned triple = (unsigned)(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
        unsigned char bytes[3] = {(unsigned char)(triple >> 16), (unsigned char)(triple >> 8),
                                  (unsigned char)triple};
        for (int j = 0; j < 3 - pad; j++) {
            if (out == cap) return -1;
            dst[out++] = (char)bytes[j];
        }
    }
    return (long)out;
}

/* ---- parsing ---- */

enum cmd { MG, MS, MD, MA };

/* Flags each command takes; those with a token after the letter are in the second set. */
static const char *const plain_flags[] = {"bcfkOqstuvhl", "bcIkOq", "bIkOq", "bcktOqv"};
static const char *const token_flags[] = {"NRTO", "CFTMNO", "CTO", "NJDTMO"};

/* Parse the flags of toks[from..n). 0, or an error reply already written (-1). */
static int parse_flags(tcs_conn_t *c, enum cmd cmd, const tok_t *toks, size_t from, size_t n,
                       meta_t *m) {
    bool arith = cmd == MA || cmd == MD;
    const char *invalid =
        arith ? "CLIENT_ERROR invalid or duplicate flag" : "CLIENT_ERROR invalid flag";
    const char *dup =
        arith ? "CLIENT_ERROR invalid or duplicate flag" : "CLIENT_ERROR duplicate flag";
    const char *badtok = arith ? "CLIENT_ERROR invalid or duplicate flag" : BAD_TOKEN;
    for (size_t i = from; i < n; i++) {
        const tok_t *t = &toks[i];
        unsigned char f = (unsigned char)t->s[0];
        if (f >= 128 || (!strchr(plain_flags[cmd], f) && !strchr(token_flags[cmd], f)) || f == 0) {
            tcs_out_str(c, invalid);
            return -1;
        }
        if (m->seen[f]) {
            tcs_out_str(c, dup);
            return -1;
        }
        m->seen[f] = 1;
        tok_t val = {t->s + 1, t->n - 1};
        int32_t i32;
        switch (f) {
        case 'q': m->quiet = true; break;
        case 'b': m->base64 = true; break;
        case 'u': m->peek = true; break;
        case 'h':
        case 'l':
            /* no per-item access history in the cache core */
            tcs_out_str(c, "CLIENT_ERROR invalid flag");
            return -1;
        case 'O':
            if (val.n > 31) {
                tcs_out_str(c, "CLIENT_ERROR opaque token too long");
                return -1;
            }
            m->opaque = t;
            m->ret[m->nret++] = t;
            break;
        case 'k':
        case 'c':
        case 'f':
        case 's':
        case 't':
        case 'v': m->ret[m->nret++] = t; break;
        case 'I': break; /* invalidate: an md I deletes; ms I is an ordinary store */
        case 'T':
            if (!tok_i32(&val, &i32)) {
                tcs_out_str(c, badtok);
                return -1;
            }
            m->ttl = i32;
            m->has_ttl = true;
            break;
        case 'N':
            if (!tok_i32(&val, &i32)) {
                tcs_out_str(c, badtok);
                return -1;
            }
            m->vivify = i32;
            m->has_vivify = true;
            break;
        case 'R':
            if (!tok_i32(&val, &i32)) {
                tcs_out_str(c, badtok);
                return -1;
            }
            break; /* early recache: accepted, never granted */
        case 'C':
            if (!tok_u64(&val, &m->cas)) {
                tcs_out_str(c, badtok);
                return -1;
            }
            m->has_cas = true;
            break;
        case 'F':
            if (!tok_u32(&val, &m->flags)) {
                tcs_out_str(c, BAD_FORMAT);
                return -1;
            }
            m->has_flags = true;
            break;
        case 'J':
            if (!tok_u64(&val, &m->initial)) {
                tcs_out_str(c, badtok);
                return -1;
            }
            m->has_initial = true;
            break;
        case 'D':
            if (!tok_u64(&val, &m->delta)) {
                tcs_out_str(c, badtok);
                return -1;
            }
            m->has_delta = true;
            break;
        case 'M':
            if (val.n != 1) {
                tcs_out_str(c, cmd == MS ? "CLIENT_ERROR invalid mode for ms M token"
                                         : "CLIENT_ERROR invalid mode for ma M token");
                return -1;
            }
            m->mode = val.s[0];
            break;
        default: break;
        }
    }
    return 0;
}

/* The key (decoded when b): false with an error written. */
static bool parse_key(tcs_conn_t *c, const tok_t *t, meta_t *m) {
    m->key_tok = t;
    if (t->n > TCS_KEY_MAX && !m->base64) {
        tcs_out_str(c, BAD_FORMAT);
        return false;
    }
    if (m->base64) {
        long n = b64_decode(t->s, t->n, m->key, TCS_KEY_MAX);
        if (n <= 0) {
            tcs_out_str(c, "CLIENT_ERROR error decoding key");
            return false;
        }
        m->klen = (size_t)n;
        return true;
    }
    if (!tcs_key_ok(t->s, t->n)) {
        tcs_out_str(c, BAD_FORMAT);
        return false;
    }
    memcpy(m->key, t->s, t->n);
    m->klen = t->n;
    return true;
}

/* Which flag letters could be base64 key: scan for b before parsing the key. */
static bool has_b_flag(const tok_t *toks, size_t from, size_t n) {
    for (size_t i = from; i < n; i++)
        if (toks[i].n >= 1 && toks[i].s[0] == 'b') return true;
    return false;
}

/* ---- replies ---- */

typedef struct rbuf {
    char s[TCS_KEY_MAX * 2 + 256];
    size_t n;
} rbuf_t;

static void rb_add(rbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rb_add(rbuf_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->s + b->n, sizeof b->s - b->n, fmt, ap);
    va_end(ap);
    if (k > 0) b->n += (size_t)k < sizeof b->s - b->n ? (size_t)k : sizeof b->s - b->n - 1;
}

static void rb_key(rbuf_t *b, const meta_t *m) {
    rb_add(b, " k%.*s", (int)m->key_tok->n, m->key_tok->s);
    if (m->base64) rb_add(b, " b");
}

/* The return flags that need no item (k, O): misses and stores. */
static void rb_keyflags(rbuf_t *b, const meta_t *m) {
    for (int i = 0; i < m->nret; i++) {
        const tok_t *t = m->ret[i];
        if (t->s[0] == 'k') rb_key(b, m);
        else if (t->s[0] == 'O') rb_add(b, " %.*s", (int)t->n, t->s);
    }
}

static long ttl_left(double ttl) { return ttl > 0 ? (long)ceil(ttl) : -1; }

static void send_rb(tcs_conn_t *c, rbuf_t *b) {
    rb_add(b, "\r\n");
    tcs_out(c, b->s, b->n);
}

/* ---- mg ---- */

static void mg_reply(tcs_conn_t *c, meta_t *m, const tc_cache_value_t *v, bool won) {
    rbuf_t b = {.n = 0};
    bool value = m->seen['v'];
    if (value) rb_add(&b, "VA %zu", v->len);
    else rb_add(&b, "HD");
    for (int i = 0; i < m->nret; i++) {
        const tok_t *t = m->ret[i];
        switch (t->s[0]) {
        case 'c': rb_add(&b, " c%llu", (unsigned long long)v->cas); break;
        case 'f': rb_add(&b, " f%u", v->flags); break;
        case 's': rb_add(&b, " s%zu", v->len); break;
        case 't': rb_add(&b, " t%ld", ttl_left(v->ttl)); break;
        case 'k': rb_key(&b, m); break;
        case 'O': rb_add(&b, " %.*s", (int)t->n, t->s); break;
        default: break;
        }
    }
    if (won) rb_add(&b, " W");
    else if (v->tag & VTAG_WIN_SENT) rb_add(&b, " Z");
    send_rb(c, &b);
    if (value) {
        tcs_out_value(c, v);
        tcs_out(c, "\r\n", 2);
    } else if (v->pin) {
        tc_cache_unpin(tcs_cache(), v->pin);
    }
}

static void cmd_mg(tcs_conn_t *c, meta_t *m) {
    tcs_counters_t *ctr = &c->worker->counters;
    tc_cache_t *cache = tcs_cache();
    tc_cache_value_t v;
    unsigned opts = (m->seen['c'] ? TC_GET_CAS : 0) | (m->peek ? TC_GET_PEEK : 0);
    double ttl = 0;
    if (m->has_ttl) {
        ttl = tcs_exptime_ttl(m->ttl);
        if (ttl >= 0) opts |= TC_GET_TOUCH;
        TCS_INC(ctr, cmd_touch);
    }
    bool need_value = m->seen['v'] || m->seen['s'];
    void *buf = c->worker->scratch;
    size_t cap = sizeof c->worker->scratch;
    TCS_INC(ctr, cmd_get);
    for (int attempt = 0; attempt < 2; attempt++) {
        int rc = tc_cache_get_ex(cache, TCS_KTAG, m->key, m->klen, opts, ttl > 0 ? ttl : 0,
                                 need_value ? buf : NULL, need_value ? cap : 0, &v);
        if (rc == 1) {
            TCS_INC(ctr, get_hits);
            if (m->has_ttl) TCS_INC(ctr, touch_hits);
            if (m->has_ttl && ttl < 0) tc_cache_delete(cache, TCS_KTAG, m->key, m->klen);
            mg_reply(c, m, &v, false);
            return;
        }
        if (rc < 0) {
            tcs_out_fmt(c, "SERVER_ERROR %s\r\n", tc_strerror(rc));
            return;
        }
        if (!m->has_vivify || attempt > 0) break;
        /* N: create an empty item; whoever creates it wins the right to fill it */
        double vt = tcs_exptime_ttl(m->vivify);
        tc_cache_item_t it = {.ktag = TCS_KTAG,
                              .key = m->key,
                              .klen = m->klen,
                              .value = "",
                              .vlen = 0,
                              .vtag = VTAG_WIN_SENT,
                              .ttl = vt > 0 ? vt : 0,
                              .with_cas = true};
        uint64_t cas = 0;
        int st = tc_cache_store(cache, TC_STORE_ADD, &it, &cas);
        if (st == TC_CACHE_STORED) {
            TCS_INC(ctr, get_misses);
            tc_cache_value_t nv = {.data = "",
                                   .len = 0,
                                   .tag = VTAG_WIN_SENT,
                                   .cas = cas,
                                   .ttl = vt > 0 ? vt : 0};
            mg_reply(c, m, &nv, true);
            return;
        }
        if (st < 0) break; /* could not create: an ordinary miss */
        /* someone else created it meanwhile: read theirs */
    }
    TCS_INC(ctr, get_misses);
    if (m->has_ttl) TCS_INC(ctr, touch_misses);
    if (m->quiet) return;
    rbuf_t b = {.n = 0};
    rb_add(&b, "EN");
    rb_keyflags(&b, m);
    send_rb(c, &b);
}

/* ---- ms ---- */

static tcs_dispatch_t cmd_ms(tcs_conn_t *c, meta_t *m, int32_t vlen) {
    tcs_pending_t *p = &c->pend;
    int mode;
    switch (m->mode) {
    case 0:
    case 'S':
    case 's': mode = m->has_cas ? TC_STORE_CAS : TC_STORE_SET; break;
    case 'E':
    case 'e': mode = TC_STORE_ADD; break;
    case 'A':
    case 'a': mode = TC_STORE_APPEND; break;
    case 'P':
    case 'p': mode = TC_STORE_PREPEND; break;
    case 'R':
    case 'r': mode = TC_STORE_REPLACE; break;
    default: tcs_out_str(c, "CLIENT_ERROR invalid mode for ms M token"); goto swallow;
    }
    TCS_INC(&c->worker->counters, cmd_set);
    if (tcs_item_too_large(m->klen, (size_t)vlen, m->flags)) {
        TCS_INC(&c->worker->counters, store_too_large);
        tcs_out_str(c, "SERVER_ERROR object too large for cache");
        if (mode == TC_STORE_SET) tc_cache_delete(tcs_cache(), TCS_KTAG, m->key, m->klen);
        goto swallow;
    }
    memset(p, 0, sizeof *p);
    p->meta = true;
    p->mode = mode;
    memcpy(p->key, m->key, m->klen);
    p->klen = m->klen;
    p->flags = m->flags;
    p->exptime = m->has_ttl ? m->ttl : 0;
    p->cas = m->cas;
    p->vlen = (size_t)vlen;
    p->quiet = m->quiet;
    p->base64 = m->base64;
    /* return flags: k (the key as sent), O, c */
    for (int i = 0; i < m->nret && p->nret < (int)sizeof p->ret; i++) {
        char f = m->ret[i]->s[0];
        if (f == 'k' || f == 'c' || f == 'O') p->ret[p->nret++] = f;
    }
    if (m->opaque) {
        memcpy(p->opaque, m->opaque->s + 1, m->opaque->n - 1);
        p->opaque[m->opaque->n - 1] = '\0';
    }
    if (m->base64) {
        size_t n = m->key_tok->n < sizeof p->keytok - 1 ? m->key_tok->n : sizeof p->keytok - 1;
        memcpy(p->keytok, m->key_tok->s, n);
        p->keytok[n] = '\0';
    }
    return DISPATCH_NREAD;
swallow:
    c->state = CONN_SWALLOW;
    c->swallow = (size_t)vlen + 2;
    return DISPATCH_DONE;
}

int tcs_store_pending(tcs_conn_t *c, const char *data, uint64_t *cas_out);

void tcs_proto_meta_data(tcs_conn_t *c, const char *data, size_t len) {
    tcs_pending_t *p = &c->pend;
    tcs_counters_t *ctr = &c->worker->counters;
    uint64_t cas = 0;
    int rc = tcs_store_pending(c, data, &cas);
    const char *code;
    switch (rc) {
    case TC_CACHE_STORED: code = "HD"; break;
    case TC_CACHE_NOT_STORED: code = "NS"; break;
    case TC_CACHE_EXISTS: code = "EX"; break;
    case TC_CACHE_NOT_FOUND: code = "NF"; break;
    default:
        if (p->mode == TC_STORE_SET) tc_cache_delete(tcs_cache(), TCS_KTAG, p->key, p->klen);
        if (rc == TC_ERR_TOOLARGE) tcs_out_str(c, "SERVER_ERROR object too large for cache");
        else if (rc == TC_ERR_NOMEM) tcs_out_str(c, "SERVER_ERROR out of memory storing object");
        else tcs_out_fmt(c, "SERVER_ERROR %s\r\n", tc_strerror(rc));
        return;
    }
    if (p->mode == TC_STORE_CAS) {
        if (rc == TC_CACHE_STORED) TCS_INC(ctr, cas_hits);
        else if (rc == TC_CACHE_EXISTS) TCS_INC(ctr, cas_badval);
        else TCS_INC(ctr, cas_misses);
    }
    if (p->quiet && rc == TC_CACHE_STORED) return;
    rbuf_t b = {.n = 0};
    rb_add(&b, "%s", code);
    for (int i = 0; i < p->nret; i++) {
        switch (p->ret[i]) {
        case 'k':
            if (p->base64) rb_add(&b, " k%s b", p->keytok);
            else rb_add(&b, " k%.*s", (int)p->klen, p->key);
            break;
        case 'O': rb_add(&b, " O%s", p->opaque); break;
        case 'c': rb_add(&b, " c%llu", (unsigned long long)cas); break;
        default: break;
        }
    }
    send_rb(c, &b);
}

/* ---- md ---- */

static void cmd_md(tcs_conn_t *c, meta_t *m) {
    int rc = tc_cache_delete_cas(tcs_cache(), TCS_KTAG, m->key, m->klen, m->has_cas ? m->cas : 0);
    const char *code;
    if (rc == TC_CACHE_STORED) {
        TCS_INC(&c->worker->counters, delete_hits);
        if (m->quiet) return;
        code = "HD";
    } else if (rc == TC_CACHE_EXISTS) {
        code = "EX";
    } else if (rc == TC_CACHE_NOT_FOUND || rc == 0) {
        TCS_INC(&c->worker->counters, delete_misses);
        code = "NF";
    } else {
        tcs_out_fmt(c, "SERVER_ERROR %s\r\n", tc_strerror(rc));
        return;
    }
    rbuf_t b = {.n = 0};
    rb_add(&b, "%s", code);
    rb_keyflags(&b, m);
    send_rb(c, &b);
}

/* ---- ma ---- */

static void cmd_ma(tcs_conn_t *c, meta_t *m) {
    tcs_counters_t *ctr = &c->worker->counters;
    bool decr;
    switch (m->mode) {
    case 0:
    case 'I':
    case 'i':
    case '+': decr = false; break;
    case 'D':
    case 'd':
    case '-': decr = true; break;
    default: tcs_out_str(c, "CLIENT_ERROR invalid mode for ma M token"); return;
    }
    double vt = m->has_vivify ? tcs_exptime_ttl(m->vivify) : 0;
    tc_cache_incr_t op = {.delta = m->has_delta ? m->delta : 1,
                          .decrement = decr,
                          .create = m->has_vivify,
                          .initial = m->has_initial ? m->initial : 0,
                          .ttl = vt > 0 ? vt : 0,
                          .with_cas = true};
    uint64_t value = 0, cas = 0;
    int rc = tc_cache_incr(tcs_cache(), TCS_KTAG, m->key, m->klen, &op, &value, &cas);
    if (rc == TC_ERR_NOTNUMBER) {
        tcs_out_str(c, "CLIENT_ERROR cannot increment or decrement non-numeric value");
        return;
    }
    if (rc < 0) {
        if (rc == TC_ERR_NOMEM) tcs_out_str(c, "SERVER_ERROR out of memory");
        else tcs_out_fmt(c, "SERVER_ERROR %s\r\n", tc_strerror(rc));
        return;
    }
    rbuf_t b = {.n = 0};
    if (rc == 0) {
        if (decr) TCS_INC(ctr, decr_misses);
        else TCS_INC(ctr, incr_misses);
        rb_add(&b, "NF");
        rb_keyflags(&b, m);
        send_rb(c, &b);
        return;
    }
    if (decr) TCS_INC(ctr, decr_hits);
    else TCS_INC(ctr, incr_hits);
    double ttl = 0;
    if (m->has_ttl) { /* T: the new ttl (a second step: incr keeps the ttl) */
        double t = tcs_exptime_ttl(m->ttl);
        if (t < 0) tc_cache_delete(tcs_cache(), TCS_KTAG, m->key, m->klen);
        else tc_cache_touch(tcs_cache(), TCS_KTAG, m->key, m->klen, t);
        ttl = t > 0 ? t : 0;
    } else if (m->seen['t']) {
        tc_cache_value_t v;
        if (tc_cache_get_ex(tcs_cache(), TCS_KTAG, m->key, m->klen, TC_GET_PEEK, 0, NULL, 0, &v) ==
            1) {
            ttl = v.ttl;
            if (v.pin) tc_cache_unpin(tcs_cache(), v.pin);
        }
    }
    if (m->quiet) return;
    char num[24];
    int nlen = snprintf(num, sizeof num, "%llu", (unsigned long long)value);
    if (m->seen['v']) rb_add(&b, "VA %d", nlen);
    else rb_add(&b, "HD");
    for (int i = 0; i < m->nret; i++) {
        const tok_t *t = m->ret[i];
        switch (t->s[0]) {
        case 'c': rb_add(&b, " c%llu", (unsigned long long)cas); break;
        case 't': rb_add(&b, " t%ld", ttl_left(ttl)); break;
        case 'k': rb_key(&b, m); break;
        case 'O': rb_add(&b, " %.*s", (int)t->n, t->s); break;
        default: break;
        }
    }
    send_rb(c, &b);
    if (m->seen['v']) {
        tcs_out(c, num, (size_t)nlen);
        tcs_out(c, "\r\n", 2);
    }
}

/* ---- me ---- */

static void cmd_me(tcs_conn_t *c, meta_t *m) {
    tc_cache_value_t v;
    int rc = tc_cache_get_ex(tcs_cache(), TCS_KTAG, m->key, m->klen, TC_GET_PEEK | TC_GET_CAS, 0,
                             NULL, 0, &v);
    if (rc != 1) {
        tcs_out_str(c, "EN");
        return;
    }
    if (v.pin) tc_cache_unpin(tcs_cache(), v.pin);
    /* memcached's fields; la and fetch are not tracked, cls is 1 */
    tcs_out_fmt(c, "ME %.*s exp=%ld la=0 cas=%llu fetch=no cls=1 size=%zu\r\n", (int)m->key_tok->n,
                m->key_tok->s, ttl_left(v.ttl), (unsigned long long)v.cas,
                48 + 8 + m->klen + 1 + v.len + 2);
}

/* ---- dispatch ---- */

tcs_dispatch_t tcs_proto_meta(tcs_conn_t *c, char *line, size_t len) {
    tok_t t[MAX_META_TOKENS];
    size_t n = tcs_tokenize(line, len, t, MAX_META_TOKENS);
    char which = t[0].s[1];
    TCS_INC(&c->worker->counters, cmd_meta);
    if (n > MAX_META_TOKENS) {
        tcs_out_str(c, "CLIENT_ERROR options flags are too long");
        return DISPATCH_DONE;
    }
    if (which == 'n') {
        tcs_out_str(c, "MN");
        return DISPATCH_DONE;
    }
    if (n < 2) {
        if (which == 'e') tcs_out_str(c, BAD_FORMAT);
        else if (which == 's') tcs_out_str(c, BAD_FORMAT);
        else tcs_out_str(c, "ERROR");
        return DISPATCH_DONE;
    }
    meta_t mbuf;
    memset(&mbuf, 0, sizeof mbuf);
    meta_t *m = &mbuf;
    tcs_dispatch_t r = DISPATCH_DONE;
    enum cmd cmd = which == 'g' ? MG : which == 's' ? MS : which == 'd' ? MD : MA;
    size_t from = which == 's' ? 3 : 2;
    if (which == 'e') {
        if (parse_key(c, &t[1], m)) cmd_me(c, m);
        goto out;
    }
    m->base64 = has_b_flag(t, from, n);
    if (which == 's') {
        int32_t vlen;
        if (!parse_key(c, &t[1], m)) goto out;
        if (n < 3 || !tok_i32(&t[2], &vlen) || vlen < 0) {
            tcs_out_str(c, BAD_FORMAT);
            goto out;
        }
        if (parse_flags(c, MS, t, from, n, m) != 0) {
            c->state = CONN_SWALLOW;
            c->swallow = (size_t)vlen + 2;
            goto out;
        }
        r = cmd_ms(c, m, vlen);
        goto out;
    }
    if (!parse_key(c, &t[1], m) || parse_flags(c, cmd, t, from, n, m) != 0) goto out;
    switch (cmd) {
    case MG: cmd_mg(c, m); break;
    case MD: cmd_md(c, m); break;
    case MA: cmd_ma(c, m); break;
    default: break;
    }
out:
    return r;
}
