/* The cache under threads (for TSan, `make test-tsan`): four threads set, get (copied and
 * pinned), delete, touch and compact on a shared two-tier cache; every value read is one that
 * was written for that key, pinned values stay intact until unpinned, check() holds after. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "tiercache/cache.h"
#include "tiercache/tiercache.h"

enum { THREADS = 4, OPS = 4000, KEYS = 64 };
static tc_cache_t *cache;
static _Atomic int bad;

/* The value for key k: its length and every byte derive from k, so any reader can verify. */
static size_t value_len(unsigned k) { return k % 3 == 0 ? 90000 + k : 64 + k * 97; }
static unsigned char value_byte(unsigned k) { return (unsigned char)(k * 31 + 7); }

static int verify(unsigned k, const unsigned char *v, size_t len) {
    if (len != value_len(k)) return 0;
    for (size_t i = 0; i < len; i += 997)
        if (v[i] != value_byte(k)) return 0;
    return v[len - 1] == value_byte(k);
}

static void *worker(void *arg) {
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u;
    static _Thread_local unsigned char buf[200000];
    for (int i = 0; i < OPS; i++) {
        seed = seed * 1103515245u + 12345u;
        unsigned k = (seed >> 8) % KEYS, op = (seed >> 20) % 10;
        char key[16];
        int klen = snprintf(key, sizeof key, "k%u", k);
        if (op < 4) {
            memset(buf, value_byte(k), value_len(k));
            int rc = tc_cache_set(cache, 1, key, (size_t)klen, buf, value_len(k), 0, 0);
            if (rc != TC_OK && rc != TC_ERR_NOMEM) bad++;
        } else if (op < 8) {
            tc_cache_value_t v;
            size_t cap = op == 7 ? 0 : sizeof buf; /* op 7: pinned, zero-copy */
            int rc = tc_cache_get(cache, 1, key, (size_t)klen, buf, cap, &v);
            if (rc == 1) {
                if (!verify(k, v.data, v.len)) bad++;
                if (v.pin) {
                    usleep(1); /* let others overwrite or delete the key meanwhile */
                    if (!verify(k, v.data, v.len)) bad++;
                    tc_cache_unpin(cache, v.pin);
                }
            } else if (rc != 0) {
                bad++;
            }
        } else if (op == 8) {
            if (tc_cache_delete(cache, 1, key, (size_t)klen) < 0) bad++;
        } else {
            size_t cursor = 0, moved;
            if (tc_cache_compact(cache, &cursor, 16, &moved) != TC_OK) bad++;
            if (tc_cache_touch(cache, 1, key, (size_t)klen, 30) < 0) bad++;
        }
    }
    return NULL;
}

TEST(threads_share_a_two_tier_cache_without_torn_values) {
    char dir[64];
    snprintf(dir, sizeof dir, "/dev/shm/tc-cthreads-%d", (int)getpid());
    CHECK_EQ(mkdir(dir, 0700), 0);
    tc_kind_t *file;
    CHECK_EQ(tc_kind_create_file(dir, 0, TC_FILE_PERFORMANCE, &file), TC_OK);
    tc_cache_config_t cfg = {.ntiers = 2, .large_threshold = 65536, .promote_hits = 2};
    cfg.tiers[0] = (tc_cache_tier_config_t){tc_kind_dram(), 64 << 10};
    cfg.tiers[1] = (tc_cache_tier_config_t){file, 1 << 20};
    CHECK_EQ(tc_cache_create(&cfg, &cache), TC_OK);
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, worker, (void *)(i + 1));
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    CHECK_EQ(bad, 0);
    char msg[256] = "";
    CHECK_EQ(tc_cache_check(cache, msg, sizeof msg), TC_OK);
    if (msg[0]) fprintf(stderr, "check: %s\n", msg);
    tc_cache_stats_t st;
    CHECK_EQ(tc_cache_stats(cache, &st), TC_OK);
    CHECK(st.demotions > 0 && st.evictions > 0);
    CHECK_EQ(st.pinned, 0);
    tc_cache_destroy(cache);
    CHECK_EQ(tc_kind_destroy(file), TC_OK);
    rmdir(dir);
}

int main(void) {
    RUN(threads_share_a_two_tier_cache_without_torn_values);
    return CHECK_DONE();
}
