/*
 * libFuzzer target: tiercache-server's request handling (native/server: conn.c's state machine,
 * proto_text.c, proto_meta.c, stats.c over a real cache), in process.
 *
 *   scripts/fuzz-server.sh 30              build with clang (ASan + UBSan + libFuzzer), run 30 s
 *   build/fuzz/fuzz_server FILE...         replay inputs
 *
 * Each input is one client connection: a socketpair whose far end the harness writes the input
 * into, in pieces whose sizes come from the input's hash (so pipelined commands arrive split at
 * every kind of boundary), while the connection's worker event loop runs in this thread. The
 * harness reads every reply as it comes, then closes its writing side and waits for the server
 * to finish the connection. Checked after every input:
 *   - no crash, leak or undefined behaviour (the sanitizers);
 *   - every reply is one memcached sends: a value block with its announced length, a known
 *     status word (STORED, END, HD, EN, ...), an incr result, a STAT line, or an ERROR /
 *     CLIENT_ERROR / SERVER_ERROR line; nothing is left half sent;
 *   - the connection's buffered input and output stay within the limits conn.c promises, and
 *     the server ends the connection once its client has gone;
 *   - the process's memory does not grow input after input (the cache is cleared each time):
 *     RSS at most 256 MiB over its size after input 500 (with ASan's quarantine at 32 MiB).
 * Long inputs without long fuzz inputs: the byte 0xFF followed by a count c and a byte b stands
 * for c x 4 KiB of b (1 MB keys, huge values, long lines) in an input of three bytes.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

#include "server.h"

/* ---- what main.c and worker.c provide in the server, for one in-process worker ---- */
tcs_settings_t tcs_settings = {
    .dram_mb = 16,
    .port = 11211,
    .listen = "127.0.0.1",
    .threads = 1,
    .maxconns = 16,
    .item_max = 1024 * 1024,
    .large_value_bytes = 64 * 1024,
    .promote_hits = 2,
    .out_limit = 64 * 1024,
    .backlog = 16,
};
atomic_int tcs_verbosity;
void tcs_log(int level, const char *fmt, ...) { (void)level, (void)fmt; }

static tcs_worker_t worker;
tcs_worker_t *tcs_worker(int i) { return &worker; }
int tcs_worker_count(void) { return 1; }

#define EXPAND_UNIT 4096
#define EXPANDED_MAX (4u << 20)
/* conn.c keeps at most a 2 MiB get line (16 KiB for other lines) or a data block of at most -I
 * (check_bounds adds -I), plus the one 16 KiB read that brought it: 64 KiB of slack. */
#define INPUT_BOUND ((2u << 20) + 64 * 1024)
#define STEPS_MAX 100000

static void fail(const char *what, const char *detail, size_t n) {
    fprintf(stderr, "fuzz_server: %s: %.*s\n", what, (int)(n < 200 ? n : 200),
            detail ? detail : "");
    __builtin_trap();
}

/* ---- expanding the input ---- */
static char *expand(const uint8_t *data, size_t size, size_t *out_len) {
    size_t total = 0;
    for (size_t i = 0; i < size; i++) {
        if (data[i] == 0xFF && i + 2 < size) {
            total += (size_t)data[i + 1] * EXPAND_UNIT;
            i += 2;
        } else {
            total++;
        }
        if (total > EXPANDED_MAX) total = EXPANDED_MAX;
    }
    char *buf = malloc(total + 1);
    size_t n = 0;
    for (size_t i = 0; i < size && n < total; i++) {
        if (data[i] == 0xFF && i + 2 < size) {
            size_t k = (size_t)data[i + 1] * EXPAND_UNIT;
            if (k > total - n) k = total - n;
            memset(buf + n, data[i + 2], k);
            n += k;
            i += 2;
        } else {
            buf[n++] = (char)data[i];
        }
    }
    *out_len = n;
    return buf;
}

/* ---- checking replies as they stream in ---- */
typedef struct replies {
    char line[1024]; /* the current reply line (longer lines are refused) */
    size_t linelen;
    size_t skip; /* bytes of a value block (and its \r\n) still to come */
    bool in_data;
    uint64_t count;
} replies_t;

static const char *const words[] = {
    "END",   "STORED", "NOT_STORED", "EXISTS", "NOT_FOUND", "DELETED", "TOUCHED", "OK", "RESET",
    "ERROR", "MN",     "EN",         "NF",     "NS",        "EX",      "HD",      NULL};
static const char *const prefixes[] = {"CLIENT_ERROR ", "SERVER_ERROR ", "ERROR: ", "STAT ",
                                       "VERSION ",      "HD ",           "EN ",     "NF ",
                                       "NS ",           "EX ",           "ME ",     NULL};

/* One complete reply line (without \r\n): sets r->skip for a value header. */
static void check_line(replies_t *r, const char *s, size_t n) {
    r->count++;
    if (n >= 6 && memcmp(s, "VALUE ", 6) == 0) { /* VALUE <key> <flags> <bytes> [<cas>] */
        const char *tok[5];
        size_t nt = 0;
        char tmp[1024];
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        for (char *save = NULL, *t = strtok_r(tmp, " ", &save); t; t = strtok_r(NULL, " ", &save))
            if (nt < 5) tok[nt++] = t;
            else fail("VALUE line with too many fields", s, n);
        if (nt < 4 || strlen(tok[1]) > TCS_KEY_MAX) fail("bad VALUE line", s, n);
        char *end;
        unsigned long long len = strtoull(tok[3], &end, 10);
        if (*end || len > tcs_settings.item_max) fail("bad VALUE length", s, n);
        r->skip = (size_t)len + 2;
        r->in_data = true;
        return;
    }
    if (n >= 3 && memcmp(s, "VA ", 3) == 0) { /* VA <bytes> <flags>* */
        char *end;
        unsigned long long len = strtoull(s + 3, &end, 10);
        if (end == s + 3 || (*end && *end != ' ' && *end != '\r') || len > tcs_settings.item_max)
            fail("bad VA line", s, n);
        r->skip = (size_t)len + 2;
        r->in_data = true;
        return;
    }
    for (int i = 0; words[i]; i++)
        if (strlen(words[i]) == n && memcmp(s, words[i], n) == 0) return;
    for (int i = 0; prefixes[i]; i++) {
        size_t pl = strlen(prefixes[i]);
        if (n >= pl && memcmp(s, prefixes[i], pl) == 0) return;
    }
    size_t digits = 0;
    while (digits < n && s[digits] >= '0' && s[digits] <= '9') digits++;
    if (digits == n && n > 0 && n <= 20) return; /* incr/decr */
    fail("unknown reply", s, n);
}

static void check_bytes(replies_t *r, const char *p, size_t n) {
    while (n) {
        if (r->in_data) {
            size_t k = n < r->skip ? n : r->skip;
            /* the value's own \r\n: its last two bytes */
            for (size_t i = 0; i < k; i++) {
                size_t left = r->skip - i; /* bytes still to come including this one */
                if ((left == 2 && p[i] != '\r') || (left == 1 && p[i] != '\n'))
                    fail("value block not ended by \\r\\n", p, n);
            }
            r->skip -= k;
            p += k;
            n -= k;
            if (r->skip == 0) r->in_data = false;
            continue;
        }
        char ch = *p++;
        n--;
        if (r->linelen == sizeof r->line) fail("reply line too long", r->line, r->linelen);
        r->line[r->linelen++] = ch;
        if (ch == '\n') {
            if (r->linelen < 2 || r->line[r->linelen - 2] != '\r')
                fail("reply line without \\r\\n", r->line, r->linelen);
            check_line(r, r->line, r->linelen - 2);
            r->linelen = 0;
        }
    }
}

/* ---- one input ---- */
static struct event_base *base;
static size_t rss_first_kb;
static uint64_t runs;
static bool verbose; /* FUZZ_SERVER_VERBOSE=1: one line per input (replaying) */

static size_t rss_kb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, res = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &res) != 2) res = 0;
        fclose(f);
    }
    return (size_t)res * (size_t)(sysconf(_SC_PAGESIZE) / 1024);
}

static void check_bounds(void) {
    tcs_conn_t *c = worker.conns;
    if (!c) return;
    size_t in = evbuffer_get_length(c->in);
    size_t out = evbuffer_get_length(c->out);
    if (in > INPUT_BOUND + tcs_settings.item_max) fail("input buffer past its bound", NULL, 0);
    /* the limit, plus one reply part: a value of at most -I and its header */
    if (out > tcs_settings.out_limit + tcs_settings.item_max + 4096)
        fail("output past its bound", NULL, 0);
}

static void drain_replies(int fd, replies_t *r) {
    static char buf[1 << 16];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) return;
        check_bytes(r, buf, (size_t)n);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    char err[256];
    if (tcs_storage_init(err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_server: %s\n", err);
        exit(1);
    }
    tcs_stats_init();
    struct event_config *cfg = event_config_new();
    event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
    base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    worker.base = base;
    verbose = getenv("FUZZ_SERVER_VERBOSE") != NULL;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t len;
    char *in = expand(data, size, &len);
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < size; i++) h = (h ^ data[i]) * 1099511628211ull;

    tc_cache_clear(tcs_cache());
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) fail("socketpair", NULL, 0);
    fcntl(sv[0], F_SETFL, O_NONBLOCK); /* as accepted sockets are */
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    atomic_fetch_add(&tcs_curr_conns, 1); /* as listener.c does before the handoff */
    tcs_conn_new(&worker, sv[0], true);
    replies_t r = {0};
    size_t off = 0;
    bool shut = false;
    int steps = 0;
    while (worker.conns && steps++ < STEPS_MAX) {
        if (off < len) {
            size_t piece = (size_t)(h % 8 == 0 ? 1 : h % 8 == 1 ? len : 1 + h % 5000);
            h = h * 6364136223846793005ull + 1442695040888963407ull;
            if (piece > len - off) piece = len - off;
            ssize_t w = send(sv[1], in + off, piece, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0) off += (size_t)w;
        } else if (!shut) {
            shutdown(sv[1], SHUT_WR); /* the client is done: the server answers, then closes */
            shut = true;
        }
        event_base_loop(base, EVLOOP_NONBLOCK);
        check_bounds();
        drain_replies(sv[1], &r);
    }
    if (worker.conns) {
        if (steps >= STEPS_MAX) fail("the server did not finish the connection", NULL, 0);
    }
    drain_replies(sv[1], &r);
    if (r.linelen || r.in_data) {
        /* a connection closed on a protocol error may end mid-reply only if it was cut off;
         * conn.c always finishes what it answered */
        fail("reply left unfinished", r.line, r.linelen);
    }
    if (verbose)
        fprintf(stderr, "fuzz_server: %zu bytes in, %llu replies, connection %s\n", len,
                (unsigned long long)r.count, worker.conns ? "open" : "closed");
    close(sv[1]);
    free(in);
    /* memory: after warm-up, the process must not keep growing input after input */
    if (++runs == 500) rss_first_kb = rss_kb();
    if (rss_first_kb && runs % 500 == 0 && rss_kb() > rss_first_kb + 256 * 1024)
        fail("memory keeps growing (RSS up 256 MiB since input 500)", NULL, 0);
    return 0;
}
