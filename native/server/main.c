/*
 * tiercache-server: options (memcached's where they mean the same thing), start-up and a clean
 * shutdown on SIGTERM/SIGINT. See server.h for the thread layout.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "listener.h"
#include "server.h"

tcs_settings_t tcs_settings = {
    .dram_mb = 64,
    .port = 11211,
    .listen = "127.0.0.1",
    .access_mask = 0600,
    .threads = 4,
    .maxconns = 1024,
    .item_max = 1024 * 1024,
    .large_value_bytes = 64 * 1024,
    .promote_hits = 2,
    .out_limit = 1024 * 1024,
    .backlog = 1024,
};
atomic_int tcs_verbosity;

void tcs_log(int level, const char *fmt, ...) {
    if (atomic_load_explicit(&tcs_verbosity, memory_order_relaxed) < level) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: tiercache-server [options]\n"
        "memcached's text and meta protocols over a tiered cache (DRAM + capacity tiers)\n"
        "  -p, --port=NUM          TCP port (default 11211; 0: no TCP)\n"
        "  -l, --listen=ADDR       interfaces to listen on, comma separated (default 127.0.0.1)\n"
        "  -s, --unix-socket=PATH  unix socket to listen on (TCP is then off unless -p given)\n"
        "  -a, --unix-mask=MODE    unix socket permissions, octal (default 0600)\n"
        "  -U, --udp-port=0        UDP is not served; only 0 is accepted\n"
        "  -t, --threads=NUM       worker threads (default 4)\n"
        "  -c, --conn-limit=NUM    maximum simultaneous connections (default 1024)\n"
        "  -b, --listen-backlog=N  listen backlog (default 1024)\n"
        "  -m, --memory-limit=MB   DRAM tier budget in MiB (default 64); also --dram-mb\n"
        "  -I, --max-item-size=N   item size limit, k/m suffixes (default 1m, 1k..1024m)\n"
        "      --pmem-dir=DIR      a capacity tier: an unlinked file in DIR (tmpfs, fsdax, ext4)\n"
        "      --pmem-mb=MB        its budget (default 8 x the DRAM budget)\n"
        "      --tier=NAME:MB      another tier after DRAM: a NUMA kind (dax_kmem, hbw,\n"
        "                          highest_capacity, ...) or file=DIR; repeatable, in order\n"
        "      --large-value-bytes=N  values this large go straight to the last tier (64k)\n"
        "      --promote-hits=N    reads on a lower tier before promotion to DRAM (2)\n"
        "      --idle-timeout=SEC  close connections idle (or not reading) this long (0: never)\n"
        "      --output-limit=N    stop reading a client whose unsent replies exceed N (1m)\n"
        "  -v, --verbose           more output (-vv: every command)\n"
        "  -u, --user=USER         accepted for compatibility; run as that user via systemd\n"
        "  -V, --version           print the version and exit\n"
        "  -h, --help              this text\n");
}

static int die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("tiercache-server: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

/* A size with an optional k/m/g suffix (powers of 1024). */
static bool parse_size(const char *s, size_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || s[0] == '-') return false;
    unsigned long long mul = 1;
    switch (*end) {
    case 'k':
    case 'K':
        mul = 1ull << 10;
        end++;
        break;
    case 'm':
    case 'M':
        mul = 1ull << 20;
        end++;
        break;
    case 'g':
    case 'G':
        mul = 1ull << 30;
        end++;
        break;
    default: break;
    }
    if (*end != '\0' || v > (~0ull) / mul) return false;
    *out = (size_t)(v * mul);
    return true;
}

static bool parse_int(const char *s, long min, long max, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < min || v > max) return false;
    *out = v;
    return true;
}

enum {
    OPT_PMEM_DIR = 256,
    OPT_PMEM_MB,
    OPT_TIER,
    OPT_LARGE,
    OPT_PROMOTE,
    OPT_IDLE,
    OPT_OUTLIM,
    OPT_DRAM_MB
};

static int parse_options(int argc, char **argv) {
    static const struct option longopts[] = {
        {"port", required_argument, NULL, 'p'},
        {"listen", required_argument, NULL, 'l'},
        {"unix-socket", required_argument, NULL, 's'},
        {"unix-mask", required_argument, NULL, 'a'},
        {"udp-port", required_argument, NULL, 'U'},
        {"threads", required_argument, NULL, 't'},
        {"conn-limit", required_argument, NULL, 'c'},
        {"listen-backlog", required_argument, NULL, 'b'},
        {"memory-limit", required_argument, NULL, 'm'},
        {"dram-mb", required_argument, NULL, OPT_DRAM_MB},
        {"max-item-size", required_argument, NULL, 'I'},
        {"pmem-dir", required_argument, NULL, OPT_PMEM_DIR},
        {"pmem-mb", required_argument, NULL, OPT_PMEM_MB},
        {"tier", required_argument, NULL, OPT_TIER},
        {"large-value-bytes", required_argument, NULL, OPT_LARGE},
        {"promote-hits", required_argument, NULL, OPT_PROMOTE},
        {"idle-timeout", required_argument, NULL, OPT_IDLE},
        {"output-limit", required_argument, NULL, OPT_OUTLIM},
        {"verbose", no_argument, NULL, 'v'},
        {"user", required_argument, NULL, 'u'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool port_given = false;
    long v;
    size_t sz;
    int opt;
    while ((opt = getopt_long(argc, argv, "p:l:s:a:U:t:c:b:m:I:vu:Vh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'p':
            if (!parse_int(optarg, 0, 65535, &v)) return die("-p: not a port: %s", optarg);
            tcs_settings.port = (int)v;
            port_given = true;
            break;
        case 'l': tcs_settings.listen = optarg; break;
        case 's': tcs_settings.socketpath = optarg; break;
        case 'a': {
            char *end;
            errno = 0;
            long m = strtol(optarg, &end, 8);
            if (errno || end == optarg || *end || m < 0 || m > 0777)
                return die("-a: not an octal mode: %s", optarg);
            tcs_settings.access_mask = (int)m;
            break;
        }
        case 'U':
            if (!parse_int(optarg, 0, 65535, &v)) return die("-U: not a port: %s", optarg);
            if (v != 0) return die("-U %ld: UDP is not served (give -U 0)", v);
            break;
        case 't':
            if (!parse_int(optarg, 1, 256, &v)) return die("-t: 1 to 256 threads: %s", optarg);
            tcs_settings.threads = (int)v;
            break;
        case 'c':
            if (!parse_int(optarg, 1, 1000000, &v)) return die("-c: not a count: %s", optarg);
            tcs_settings.maxconns = (int)v;
            break;
        case 'b':
            if (!parse_int(optarg, 1, 65535, &v)) return die("-b: not a backlog: %s", optarg);
            tcs_settings.backlog = (int)v;
            break;
        case 'm':
        case OPT_DRAM_MB:
            if (!parse_int(optarg, 1, 1L << 30, &v))
                return die("-m: not a size in MiB: %s", optarg);
            tcs_settings.dram_mb = (size_t)v;
            break;
        case 'I':
            if (!parse_size(optarg, &sz) || sz < 1024 || sz > (1u << 30))
                return die("-I: item size limit must be 1k to 1024m: %s", optarg);
            tcs_settings.item_max = sz;
            break;
        case OPT_PMEM_DIR: tcs_settings.pmem_dir = optarg; break;
        case OPT_PMEM_MB:
            if (!parse_int(optarg, 16, 1L << 40, &v))
                return die("--pmem-mb: at least 16 (MiB): %s", optarg);
            tcs_settings.pmem_mb = (size_t)v;
            break;
        case OPT_TIER: {
            const char *colon = strrchr(optarg, ':');
            if (!colon || colon == optarg ||
                (size_t)(colon - optarg) >= sizeof(tcs_settings.tiers[0].name) ||
                !parse_int(colon + 1, 1, 1L << 40, &v))
                return die("--tier: expected NAME:MB (e.g. dax_kmem:65536): %s", optarg);
            if (tcs_settings.ntiers >= TCS_MAX_TIERS - 2)
                return die("--tier: at most %d tiers", TCS_MAX_TIERS - 2);
            tcs_tier_opt_t *t = &tcs_settings.tiers[tcs_settings.ntiers++];
            memcpy(t->name, optarg, (size_t)(colon - optarg));
            t->name[colon - optarg] = '\0';
            t->mb = (size_t)v;
            break;
        }
        case OPT_LARGE:
            if (!parse_size(optarg, &sz))
                return die("--large-value-bytes: not a size: %s", optarg);
            tcs_settings.large_value_bytes = sz;
            break;
        case OPT_PROMOTE:
            if (!parse_int(optarg, 0, 1000000, &v))
                return die("--promote-hits: not a count: %s", optarg);
            tcs_settings.promote_hits = (unsigned)v;
            break;
        case OPT_IDLE:
            if (!parse_int(optarg, 0, 1L << 30, &v))
                return die("--idle-timeout: not seconds: %s", optarg);
            tcs_settings.idle_timeout = (int)v;
            break;
        case OPT_OUTLIM:
            if (!parse_size(optarg, &sz) || sz < 4096)
                return die("--output-limit: at least 4k: %s", optarg);
            tcs_settings.out_limit = sz;
            break;
        case 'v': tcs_settings.verbose++; break;
        case 'u': break;
        case 'V': printf("tiercache-server %s\n", TCS_VERSION); exit(0);
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) return die("unexpected argument: %s", argv[optind]);
    if (tcs_settings.socketpath && !port_given) tcs_settings.port = 0; /* memcached's rule */
    if (!tcs_settings.socketpath && tcs_settings.port == 0)
        return die("nothing to listen on: give -p PORT or -s PATH");
    if (tcs_settings.pmem_mb && !tcs_settings.pmem_dir) return die("--pmem-mb needs --pmem-dir");
    if (tcs_settings.pmem_dir && !tcs_settings.pmem_mb)
        tcs_settings.pmem_mb = 8 * tcs_settings.dram_mb;
    if (tcs_settings.pmem_dir && tcs_settings.pmem_mb < 16) tcs_settings.pmem_mb = 16;
    atomic_store(&tcs_verbosity, tcs_settings.verbose);
    return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
    tcs_log(1, "signal %d: shutting down", (int)sig);
    event_base_loopbreak((struct event_base *)arg);
}

static void on_tick(evutil_socket_t fd, short what, void *arg) { tcs_storage_maintain(); }

int main(int argc, char **argv) {
    int rc = parse_options(argc, argv);
    if (rc) return rc;
    signal(SIGPIPE, SIG_IGN);

    char err[256];
    if (tcs_storage_init(err, sizeof err) != 0) return die("%s", err);
    tcs_stats_init();

    struct event_base *base = event_base_new();
    if (!base) return die("event_base_new failed");
    if (tcs_listeners_open(base, err, sizeof err) != 0) {
        tcs_storage_close();
        return die("%s", err);
    }
    if (tcs_workers_start(tcs_settings.threads) != 0) {
        tcs_listeners_close();
        tcs_storage_close();
        return die("cannot start %d worker threads", tcs_settings.threads);
    }
    struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
    struct timeval second = {1, 0};
    event_add(sigint, NULL);
    event_add(sigterm, NULL);
    event_add(tick, &second);
    tcs_log(1, "tiercache-server %s: %d threads, DRAM %zu MiB, item limit %zu", TCS_VERSION,
            tcs_settings.threads, tcs_settings.dram_mb, tcs_settings.item_max);

    event_base_dispatch(base);

    /* Shutdown: no new connections, then every worker closes its own, then the cache. */
    tcs_listeners_close();
    tcs_workers_stop();
    event_free(tick);
    event_free(sigint);
    event_free(sigterm);
    event_base_free(base);
    tcs_storage_close();
    tcs_log(1, "stopped");
    return 0;
}
