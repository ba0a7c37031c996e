/*
 * loadgen: a closed-loop load generator for memcached-protocol and redis (RESP) servers.
 *
 *   loadgen --proto memcache|resp (--port N [--host A] | --unix PATH) [options]
 *     --threads T        client threads (default 2), each with its own epoll loop
 *     --conns C          connections per thread (default 25); each has one request in flight
 *     --seconds S        measured time (default 5), after --warmup W seconds (default 1)
 *     --keys N           key space "key:%010u", 0..N-1 (default 100000)
 *     --value-size B     value bytes (default 100)
 *     --set-ratio R      one set for every R gets (default 10: 1:10 set:get)
 *     --dist uniform|zipf[:S]   key distribution (zipf exponent S, default 0.99)
 *     --prefill          set every key once before measuring (untimed, pipelined)
 *     --seed N
 * Prints one JSON object: ops, ops_per_sec, sets, gets, hits, misses, errors and latency
 * percentiles in microseconds (p50, p90, p99, p999, max) over the measured window.
 *
 * Every connection sends a request, reads the whole reply, records the time it took, then sends
 * the next, so latency is the server's (and the loopback's) round trip, not a queue inside the
 * generator. Replies are parsed, not counted: a get's value must have the stored length, and an
 * error reply counts in "errors". A benchmark tool, built by benchmarks/server/Makefile.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum proto { MEMCACHE, RESP };

static struct {
    enum proto proto;
    const char *host, *unix_path;
    int port, threads, conns, set_ratio;
    double seconds, warmup, zipf_s;
    bool zipf, prefill;
    uint32_t keys;
    size_t vsize;
    uint64_t seed;
} opt = {.proto = MEMCACHE, .host = "127.0.0.1", .threads = 2, .conns = 25, .set_ratio = 10,
         .seconds = 5, .warmup = 1, .zipf_s = 0.99, .keys = 100000, .vsize = 100, .seed = 1};

static double *zipf_cdf; /* cumulative probabilities of keys 0..keys-1 (rank order) */
static char *value;      /* the value every set sends */
static atomic_int phase; /* 0 warmup, 1 measuring, 2 stop */

/* ---- latency histogram: 32 sub-buckets per power of two of nanoseconds (~3% wide) ---- */
#define SUB 32
#define NBUCKETS (64 * SUB)

static unsigned bucket_of(uint64_t ns) {
    if (ns < SUB) return (unsigned)ns;
    unsigned e = 63u - (unsigned)__builtin_clzll(ns); /* >= 5 */
    unsigned sub = (unsigned)(ns >> (e - 5)) & (SUB - 1);
    return (e - 4) * SUB + sub;
}

static double bucket_value(unsigned b) { /* midpoint, ns */
    if (b < SUB) return b;
    unsigned e = b / SUB + 4, sub = b % SUB;
    double lo = (double)((uint64_t)(SUB + sub) << (e - 5));
    return lo + (double)(1ull << (e - 5)) / 2;
}

/* ---- random numbers and keys ---- */
static uint64_t rnd(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double rnd01(uint64_t *s) { return (double)(rnd(s) >> 11) / 9007199254740992.0; }

static uint32_t pick_key(uint64_t *s) {
    if (!opt.zipf) return (uint32_t)(rnd(s) % opt.keys);
    double u = rnd01(s);
    uint32_t lo = 0, hi = opt.keys - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (zipf_cdf[mid] < u) lo = mid + 1;
        else hi = mid;
    }
    /* spread the hot ranks over the key space: rank -> rank * P mod keys, a bijection when the
     * prime P (2654435761) does not divide the key count (any count below P) */
    return (uint32_t)(((uint64_t)lo * 2654435761u) % opt.keys);
}

static int fmt_key(char *buf, uint32_t k) { return sprintf(buf, "key:%010u", k); }

/* ---- requests ---- */
static size_t build_set(char *buf, uint32_t k, bool noreply) {
    char key[24];
    int kl = fmt_key(key, k);
    size_t n;
    if (opt.proto == MEMCACHE)
        n = (size_t)sprintf(buf, "set %s 0 0 %zu%s\r\n", key, opt.vsize, noreply ? " noreply" : "");
    else
        n = (size_t)sprintf(buf, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%zu\r\n", kl, key, opt.vsize);
    memcpy(buf + n, value, opt.vsize);
    n += opt.vsize;
    memcpy(buf + n, "\r\n", 2);
    return n + 2;
}

static size_t build_get(char *buf, uint32_t k) {
    char key[24];
    int kl = fmt_key(key, k);
    if (opt.proto == MEMCACHE) return (size_t)sprintf(buf, "get %s\r\n", key);
    return (size_t)sprintf(buf, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", kl, key);
}

/* ---- replies ---- */
enum { RP_INCOMPLETE = 0, RP_OK, RP_HIT, RP_MISS, RP_ERROR, RP_BAD };

/* Parse one reply at buf[0..n): its outcome, and *used the bytes it took. */
static int parse_reply(const char *buf, size_t n, bool is_get, size_t *used) {
    const char *eol = memmem(buf, n, "\r\n", 2);
    if (!eol) return RP_INCOMPLETE;
    size_t line = (size_t)(eol - buf) + 2;
    if (opt.proto == MEMCACHE) {
        if (!is_get) {
            *used = line;
            return line == 8 && memcmp(buf, "STORED", 6) == 0 ? RP_OK : RP_ERROR;
        }
        if (line == 5 && memcmp(buf, "END", 3) == 0) {
            *used = line;
            return RP_MISS;
        }
        if (line > 6 && memcmp(buf, "VALUE ", 6) == 0) {
            /* VALUE key flags bytes */
            const char *p = eol;
            while (p > buf && p[-1] != ' ') p--;
            size_t len = strtoull(p, NULL, 10);
            size_t need = line + len + 2 + 5;
            if (n < need) return RP_INCOMPLETE;
            *used = need;
            if (len != opt.vsize || memcmp(buf + line + len, "\r\nEND\r\n", 7) != 0) return RP_BAD;
            return RP_HIT;
        }
        *used = line;
        return RP_ERROR;
    }
    /* RESP */
    if (buf[0] == '+') {
        *used = line;
        return RP_OK;
    }
    if (buf[0] == '$') {
        long len = strtol(buf + 1, NULL, 10);
        if (len < 0) {
            *used = line;
            return RP_MISS;
        }
        size_t need = line + (size_t)len + 2;
        if (n < need) return RP_INCOMPLETE;
        *used = need;
        return (size_t)len == opt.vsize ? RP_HIT : RP_BAD;
    }
    *used = line;
    return RP_ERROR;
}

/* ---- connections ---- */
static int connect_one(void) {
    int fd;
    if (opt.unix_path) {
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", opt.unix_path);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) goto fail;
    } else {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
        if (fd < 0 || inet_pton(AF_INET, opt.host, &sa.sin_addr) != 1 ||
            connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
            goto fail;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
fail:
    fprintf(stderr, "loadgen: connect: %s\n", strerror(errno));
    exit(1);
}

static void send_all(int fd, const char *buf, size_t n) {
    while (n) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (w <= 0) {
            fprintf(stderr, "loadgen: write: %s\n", strerror(errno));
            exit(1);
        }
        buf += w;
        n -= (size_t)w;
    }
}

typedef struct conn {
    int fd;
    char *in;
    size_t inlen, incap;
    char *out;
    size_t outlen, outoff;
    bool is_get;
    uint64_t started;
} conn_t;

typedef struct thread {
    int id;
    pthread_t tid;
    uint64_t rng;
    uint64_t hist[NBUCKETS];
    uint64_t sets, gets, hits, misses, errors, bad;
} thread_t;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Set keys [from, to) on a blocking connection, 64 requests per round trip. */
static void prefill(uint32_t from, uint32_t to) {
    int fd = connect_one();
    size_t reqmax = opt.vsize + 128;
    char *buf = malloc(64 * reqmax), *in = malloc(1 << 16);
    for (uint32_t k = from; k < to;) {
        size_t n = 0;
        unsigned batch = 0;
        for (; batch < 64 && k < to; batch++, k++) n += build_set(buf + n, k, false);
        send_all(fd, buf, n);
        size_t have = 0;
        for (unsigned got = 0; got < batch;) {
            size_t used;
            int r;
            while (got < batch && (r = parse_reply(in, have, false, &used)) != RP_INCOMPLETE) {
                if (r != RP_OK) {
                    fprintf(stderr, "loadgen: prefill: unexpected reply %.*s\n", (int)(have < 80 ? have : 80), in);
                    exit(1);
                }
                memmove(in, in + used, have - used);
                have -= used;
                got++;
            }
            if (got == batch) break;
            ssize_t m = read(fd, in + have, (1 << 16) - have);
            if (m <= 0) {
                fprintf(stderr, "loadgen: prefill: connection closed\n");
                exit(1);
            }
            have += (size_t)m;
        }
    }
    close(fd);
    free(buf);
    free(in);
}

static void next_request(thread_t *t, conn_t *c) {
    uint32_t k = pick_key(&t->rng);
    c->is_get = rnd(&t->rng) % (uint64_t)(opt.set_ratio + 1) != 0;
    c->outlen = c->is_get ? build_get(c->out, k) : build_set(c->out, k, false);
    c->outoff = 0;
    c->started = now_ns();
}

/* Write what the socket takes; true when the request is all out. */
static bool flush_out(conn_t *c) {
    while (c->outoff < c->outlen) {
        ssize_t w = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN) return false;
        if (w <= 0) {
            fprintf(stderr, "loadgen: write: %s\n", strerror(errno));
            exit(1);
        }
        c->outoff += (size_t)w;
    }
    return true;
}

static void *thread_main(void *arg) {
    thread_t *t = arg;
    int ep = epoll_create1(0);
    conn_t *conns = calloc((size_t)opt.conns, sizeof *conns);
    for (int i = 0; i < opt.conns; i++) {
        conn_t *c = &conns[i];
        c->fd = connect_one();
        fcntl(c->fd, F_SETFL, O_NONBLOCK);
        c->incap = opt.vsize + 4096;
        c->in = malloc(c->incap);
        c->out = malloc(opt.vsize + 128);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
        next_request(t, c);
        if (!flush_out(c)) {
            ev.events = EPOLLIN | EPOLLOUT;
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
    }
    struct epoll_event evs[64];
    while (atomic_load_explicit(&phase, memory_order_relaxed) < 2) {
        int n = epoll_wait(ep, evs, 64, 100);
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (evs[i].events & EPOLLOUT) {
                if (flush_out(c)) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }
            if (!(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
            ssize_t m = read(c->fd, c->in + c->inlen, c->incap - c->inlen);
            if (m < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (m <= 0) {
                fprintf(stderr, "loadgen: the server closed a connection\n");
                exit(1);
            }
            c->inlen += (size_t)m;
            size_t used;
            int r = parse_reply(c->in, c->inlen, c->is_get, &used);
            if (r == RP_INCOMPLETE) {
                if (c->inlen == c->incap) {
                    fprintf(stderr, "loadgen: reply larger than expected\n");
                    exit(1);
                }
                continue;
            }
            uint64_t lat = now_ns() - c->started;
            if (atomic_load_explicit(&phase, memory_order_relaxed) == 1) {
                t->hist[bucket_of(lat)]++;
                if (c->is_get) t->gets++;
                else t->sets++;
                if (r == RP_HIT) t->hits++;
                else if (r == RP_MISS) t->misses++;
                else if (r == RP_ERROR) t->errors++;
                else if (r == RP_BAD) t->bad++;
            }
            memmove(c->in, c->in + used, c->inlen - used);
            c->inlen -= used;
            if (c->inlen) {
                fprintf(stderr, "loadgen: reply without a request\n");
                exit(1);
            }
            next_request(t, c);
            if (!flush_out(c)) {
                struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            }
        }
    }
    for (int i = 0; i < opt.conns; i++) {
        close(conns[i].fd);
        free(conns[i].in);
        free(conns[i].out);
    }
    free(conns);
    close(ep);
    return NULL;
}

typedef struct prefill_arg {
    pthread_t tid;
    uint32_t from, to;
} prefill_arg_t;

static void *prefill_main(void *arg) {
    prefill_arg_t *a = arg;
    prefill(a->from, a->to);
    return NULL;
}

static void usage(void) {
    fprintf(stderr, "usage: loadgen --proto memcache|resp (--port N [--host A] | --unix PATH)\n"
                    "  [--threads T] [--conns C] [--seconds S] [--warmup W] [--keys N]\n"
                    "  [--value-size B] [--set-ratio R] [--dist uniform|zipf[:S]] [--prefill]"
                    " [--seed N]\n");
    exit(2);
}

int main(int argc, char **argv) {
    static const struct option lo[] = {
        {"proto", 1, 0, 'P'}, {"host", 1, 0, 'H'}, {"port", 1, 0, 'p'}, {"unix", 1, 0, 'u'},
        {"threads", 1, 0, 't'}, {"conns", 1, 0, 'c'}, {"seconds", 1, 0, 's'},
        {"warmup", 1, 0, 'w'}, {"keys", 1, 0, 'k'}, {"value-size", 1, 0, 'v'},
        {"set-ratio", 1, 0, 'r'}, {"dist", 1, 0, 'd'}, {"prefill", 0, 0, 'f'},
        {"seed", 1, 0, 'S'}, {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (o) {
        case 'P':
            if (strcmp(optarg, "memcache") == 0) opt.proto = MEMCACHE;
            else if (strcmp(optarg, "resp") == 0) opt.proto = RESP;
            else usage();
            break;
        case 'H': opt.host = optarg; break;
        case 'p': opt.port = atoi(optarg); break;
        case 'u': opt.unix_path = optarg; break;
        case 't': opt.threads = atoi(optarg); break;
        case 'c': opt.conns = atoi(optarg); break;
        case 's': opt.seconds = atof(optarg); break;
        case 'w': opt.warmup = atof(optarg); break;
        case 'k': opt.keys = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'v': opt.vsize = strtoull(optarg, NULL, 10); break;
        case 'r': opt.set_ratio = atoi(optarg); break;
        case 'd':
            if (strncmp(optarg, "zipf", 4) == 0) {
                opt.zipf = true;
                if (optarg[4] == ':') opt.zipf_s = atof(optarg + 5);
            } else if (strcmp(optarg, "uniform") != 0) {
                usage();
            }
            break;
        case 'f': opt.prefill = true; break;
        case 'S': opt.seed = strtoull(optarg, NULL, 10); break;
        default: usage();
        }
    }
    if ((!opt.port && !opt.unix_path) || opt.threads < 1 || opt.conns < 1 || opt.keys < 1 ||
        opt.set_ratio < 0 || opt.seconds <= 0)
        usage();
    value = malloc(opt.vsize + 1);
    for (size_t i = 0; i < opt.vsize; i++) value[i] = (char)('a' + i % 26);
    if (opt.zipf) {
        zipf_cdf = malloc(sizeof(double) * opt.keys);
        double sum = 0;
        for (uint32_t i = 0; i < opt.keys; i++) sum += 1.0 / pow((double)i + 1, opt.zipf_s);
        double acc = 0;
        for (uint32_t i = 0; i < opt.keys; i++) {
            acc += 1.0 / pow((double)i + 1, opt.zipf_s) / sum;
            zipf_cdf[i] = acc;
        }
        zipf_cdf[opt.keys - 1] = 1.0;
    }
    double prefill_s = 0;
    if (opt.prefill) {
        uint64_t t0 = now_ns();
        prefill_arg_t *pa = calloc((size_t)opt.threads, sizeof *pa);
        for (int i = 0; i < opt.threads; i++) {
            pa[i].from = (uint32_t)((uint64_t)opt.keys * (uint64_t)i / (uint64_t)opt.threads);
            pa[i].to = (uint32_t)((uint64_t)opt.keys * (uint64_t)(i + 1) / (uint64_t)opt.threads);
            pthread_create(&pa[i].tid, NULL, prefill_main, &pa[i]);
        }
        for (int i = 0; i < opt.threads; i++) pthread_join(pa[i].tid, NULL);
        free(pa);
        prefill_s = (double)(now_ns() - t0) / 1e9;
    }
    thread_t *ts = calloc((size_t)opt.threads, sizeof *ts);
    for (int i = 0; i < opt.threads; i++) {
        ts[i].id = i;
        ts[i].rng = opt.seed * 1000003u + (uint64_t)i;
        pthread_create(&ts[i].tid, NULL, thread_main, &ts[i]);
    }
    struct timespec w = {(time_t)opt.warmup, (long)((opt.warmup - (double)(time_t)opt.warmup) * 1e9)};
    nanosleep(&w, NULL);
    uint64_t t0 = now_ns();
    atomic_store(&phase, 1);
    struct timespec m = {(time_t)opt.seconds, (long)((opt.seconds - (double)(time_t)opt.seconds) * 1e9)};
    nanosleep(&m, NULL);
    atomic_store(&phase, 2);
    double elapsed = (double)(now_ns() - t0) / 1e9;
    for (int i = 0; i < opt.threads; i++) pthread_join(ts[i].tid, NULL);

    uint64_t *hist = calloc(NBUCKETS, sizeof *hist);
    uint64_t sets = 0, gets = 0, hits = 0, misses = 0, errors = 0, bad = 0;
    for (int i = 0; i < opt.threads; i++) {
        for (unsigned b = 0; b < NBUCKETS; b++) hist[b] += ts[i].hist[b];
        sets += ts[i].sets;
        gets += ts[i].gets;
        hits += ts[i].hits;
        misses += ts[i].misses;
        errors += ts[i].errors;
        bad += ts[i].bad;
    }
    uint64_t ops = sets + gets;
    const double qs[] = {0.5, 0.9, 0.99, 0.999, 1.0};
    double pv[5] = {0};
    uint64_t acc = 0;
    int qi = 0;
    for (unsigned b = 0; b < NBUCKETS && qi < 5; b++) {
        acc += hist[b];
        while (qi < 5 && ops && (double)acc >= qs[qi] * (double)ops) pv[qi++] = bucket_value(b) / 1e3;
    }
    printf("{\"proto\": \"%s\", \"threads\": %d, \"conns_per_thread\": %d, \"keys\": %u, "
           "\"value_size\": %zu, \"set_ratio\": %d, \"dist\": \"%s\", \"zipf_s\": %.2f, "
           "\"prefill_s\": %.3f, \"seconds\": %.3f, \"ops\": %llu, \"ops_per_sec\": %.1f, "
           "\"sets\": %llu, \"gets\": %llu, \"hits\": %llu, \"misses\": %llu, \"errors\": %llu, "
           "\"bad_replies\": %llu, \"p50_us\": %.1f, \"p90_us\": %.1f, \"p99_us\": %.1f, "
           "\"p999_us\": %.1f, \"max_us\": %.1f}\n",
           opt.proto == MEMCACHE ? "memcache" : "resp", opt.threads, opt.conns, opt.keys, opt.vsize,
           opt.set_ratio, opt.zipf ? "zipf" : "uniform", opt.zipf ? opt.zipf_s : 0.0, prefill_s,
           elapsed, (unsigned long long)ops, (double)ops / elapsed, (unsigned long long)sets,
           (unsigned long long)gets, (unsigned long long)hits, (unsigned long long)misses,
           (unsigned long long)errors, (unsigned long long)bad, pv[0], pv[1], pv[2], pv[3], pv[4]);
    free(hist);
    free(ts);
    free(value);
    free(zipf_cdf);
    return bad ? 1 : 0;
}
