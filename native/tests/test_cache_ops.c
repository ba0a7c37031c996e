/* Cache operations beyond set/get: conditional stores, CAS tokens, incr/decr, get options,
 * delete with a token, the next victim, keys in pieces, on a DRAM tier and on a file tier.
 * Every scenario runs tc_cache_check as it goes. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "tiercache/cache.h"

static char dir[64];

static int checked(tc_cache_t *c) {
    char msg[256];
    int err = tc_cache_check(c, msg, sizeof msg);
    if (err) fprintf(stderr, "check: %s\n", msg);
    return err;
}

/* A cache whose values all go to a file tier when on_file, else DRAM only. */
static tc_cache_t *make(bool on_file, tc_kind_t **file) {
    tc_cache_config_t cfg = {.ntiers = 1, .promote_hits = 0};
    cfg.tiers[0] = (tc_cache_tier_config_t){tc_kind_dram(), 32 << 20};
    *file = NULL;
    if (on_file) {
        CHECK_EQ(tc_kind_create_file(dir, 0, TC_FILE_CONSERVATIVE, file), TC_OK);
        cfg.ntiers = 2;
        cfg.tiers[1] = (tc_cache_tier_config_t){*file, 64 << 20};
        cfg.large_threshold = 1; /* every value straight to the file tier */
    }
    tc_cache_t *c = NULL;
    CHECK_EQ(tc_cache_create(&cfg, &c), TC_OK);
    return c;
}

static void done(tc_cache_t *c, tc_kind_t *file) {
    CHECK_EQ(checked(c), TC_OK);
    CHECK_EQ(tc_cache_destroy(c), TC_OK);
    if (file) CHECK_EQ(tc_kind_destroy(file), TC_OK);
}

static tc_cache_item_t item(const char *key, const char *value) {
    return (tc_cache_item_t){.ktag = 0,
                             .key = key,
                             .klen = strlen(key),
                             .value = value,
                             .vlen = strlen(value)};
}

/* The value stored under key as a string ("" when absent), with its token and flags. */
static const char *read_value(tc_cache_t *c, const char *key, uint64_t *cas, uint32_t *flags) {
    static char buf[256];
    tc_cache_value_t out;
    int rc = tc_cache_get_ex(c, 0, key, strlen(key), TC_GET_PEEK, 0, buf, sizeof buf - 1, &out);
    if (rc != 1) return "";
    buf[out.len] = 0;
    if (cas) *cas = out.cas;
    if (flags) *flags = out.flags;
    return buf;
}

static void conditional_stores(bool on_file) {
    tc_kind_t *file;
    tc_cache_t *c = make(on_file, &file);
    tc_cache_item_t it = item("k", "one");
    CHECK_EQ(tc_cache_store(c, TC_STORE_REPLACE, &it, NULL), TC_CACHE_NOT_STORED);
    CHECK_EQ(tc_cache_store(c, TC_STORE_APPEND, &it, NULL), TC_CACHE_NOT_STORED);
    CHECK_EQ(tc_cache_store(c, TC_STORE_PREPEND, &it, NULL), TC_CACHE_NOT_STORED);
    CHECK_EQ(tc_cache_store(c, TC_STORE_ADD, &it, NULL), TC_CACHE_STORED);
    it.value = "two";
    CHECK_EQ(tc_cache_store(c, TC_STORE_ADD, &it, NULL), TC_CACHE_NOT_STORED);
    CHECK(strcmp(read_value(c, "k", NULL, NULL), "one") == 0);
    it.flags = 0xdeadbeef;
    it.ttl = 100;
    CHECK_EQ(tc_cache_store(c, TC_STORE_REPLACE, &it, NULL), TC_CACHE_STORED);
    uint32_t flags = 0;
    CHECK(strcmp(read_value(c, "k", NULL, &flags), "two") == 0);
    CHECK_EQ(flags, 0xdeadbeef);
    /* append and prepend keep the tag, flags and ttl of the present item */
    tc_cache_item_t tail = item("k", "-end");
    tail.flags = 7;
    CHECK_EQ(tc_cache_store(c, TC_STORE_APPEND, &tail, NULL), TC_CACHE_STORED);
    tc_cache_item_t head = item("k", "start-");
    CHECK_EQ(tc_cache_store(c, TC_STORE_PREPEND, &head, NULL), TC_CACHE_STORED);
    CHECK(strcmp(read_value(c, "k", NULL, &flags), "start-two-end") == 0);
    CHECK_EQ(flags, 0xdeadbeef);
    char buf[64];
    tc_cache_value_t out;
    CHECK_EQ(tc_cache_get_ex(c, 0, "k", 1, TC_GET_PEEK, 0, buf, sizeof buf, &out), 1);
    CHECK(out.ttl > 90 && out.ttl <= 100);
    done(c, file);
}

TEST(conditional_stores_in_dram) { conditional_stores(false); }
TEST(conditional_stores_on_a_file_tier) { conditional_stores(true); }

TEST(cas_tokens_change_with_every_store_and_guard_cas_and_delete) {
    tc_kind_t *file;
    tc_cache_t *c = make(false, &file);
    tc_cache_item_t it = item("k", "v1");
    CHECK_EQ(tc_cache_store(c, TC_STORE_SET, &it, NULL), TC_CACHE_STORED);
    uint64_t cas = 0;
    CHECK(strcmp(read_value(c, "k", &cas, NULL), "v1") == 0);
    CHECK_EQ(cas, 0); /* a plain set carries no token until one is asked for */
    char buf[16];
    tc_cache_value_t out;
    CHECK_EQ(tc_cache_get_ex(c, 0, "k", 1, TC_GET_CAS, 0, buf, sizeof buf, &out), 1);
    uint64_t token = out.cas;
    CHECK(token != 0);
    CHECK_EQ(tc_cache_get_ex(c, 0, "k", 1, TC_GET_CAS, 0, buf, sizeof buf, &out), 1);
    CHECK_EQ(out.cas, token); /* the same until the item changes */
    it.value = "v2";
    it.vlen = 2;
    it.cas = token + 1;
    CHECK_EQ(tc_cache_store(c, TC_STORE_CAS, &it, NULL), TC_CACHE_EXISTS);
    it.cas = token;
    uint64_t next = 0;
    CHECK_EQ(tc_cache_store(c, TC_STORE_CAS, &it, &next), TC_CACHE_STORED);
    CHECK(next != 0 && next != token);
    CHECK_EQ(tc_cache_store(c, TC_STORE_CAS, &it, NULL), TC_CACHE_EXISTS); /* stale now */
    it.key = "absent";
    it.klen = 6;
    CHECK_EQ(tc_cache_store(c, TC_STORE_CAS, &it, NULL), TC_CACHE_NOT_FOUND);
    /* any other store changes the token: a plain set drops it */
    tc_cache_item_t plain = item("k", "v3");
    CHECK_EQ(tc_cache_store(c, TC_STORE_SET, &plain, NULL), TC_CACHE_STORED);
    it = item("k", "v4");
    it.cas = next;
    CHECK_EQ(tc_cache_store(c, TC_STORE_CAS, &it, NULL), TC_CACHE_EXISTS);
    /* with_cas stores always carry a fresh token */
    plain.with_cas = true;
    uint64_t a = 0, b = 0;
    CHECK_EQ(tc_cache_store(c, TC_STORE_SET, &plain, &a), TC_CACHE_STORED);
    CHECK_EQ(tc_cache_store(c, TC_STORE_SET, &plain, &b), TC_CACHE_STORED);
    CHECK(a && b && a != b);
    CHECK_EQ(tc_cache_delete_cas(c, 0, "k", 1, a), TC_CACHE_EXISTS);
    CHECK_EQ(tc_cache_delete_cas(c, 0, "k", 1, b), TC_CACHE_STORED);
    CHECK_EQ(tc_cache_delete_cas(c, 0, "k", 1, 0), TC_CACHE_NOT_FOUND);
    done(c, file);
}

static void incr_decr(bool on_file) {
    tc_kind_t *file;
    tc_cache_t *c = make(on_file, &file);
    tc_cache_incr_t op = {.delta = 5};
    uint64_t v = 0;
    CHECK_EQ(tc_cache_incr(c, 0, "n", 1, &op, &v, NULL), 0); /* absent */
    tc_cache_item_t it = item("n", "10");
    CHECK_EQ(tc_cache_store(c, TC_STORE_SET, &it, NULL), TC_CACHE_STORED);
    CHECK_EQ(tc_cache_incr(c, 0, "n", 1, &op, &v, NULL), 1);
    CHECK_EQ(v, 15);
    op.decrement = true;
    op.delta = 6;
    CHECK_EQ(tc_cache_incr(c, 0, "n", 1, &op, &v, NULL), 1);
    CHECK_EQ(v, 9);
    /* memcached keeps a shorter number in place, padded with spaces */
    CHECK(strcmp(read_value(c, "n", NULL, NULL), "9 ") == 0);
    op.delta = 100;
    CHECK_EQ(tc_cache_incr(c, 0, "n", 1, &op, &v, NULL), 1);
    CHECK_EQ(v, 0); /* a decrement stops at 0 */
    it = item("big", "18446744073709551615");
    CHECK_EQ(tc_cache_store(c, TC_STORE_SET, &it, NULL), TC_CACHE_STORED);
    op = (tc_cache_incr_t){.delta = 2};
    CHECK_EQ(tc_cache_incr(c, 0, "big", 3, &op, &v, NULL), 1);
    CHECK_EQ(v, 1); /* an increment wraps at 2^64 */
    it = item("word", "12a");
    CHECK_EQ(tc_cache_store(c, TC_STORE_SET, &it, NULL), TC_CACHE_STORED);
    CHECK_EQ(tc_cache_incr(c, 0, "word", 4, &op, &v, NULL), TC_ERR_NOTNUMBER);
    CHECK(strcmp(read_value(c, "word", NULL, NULL), "12a") == 0);
    /* signed numbers, created on demand */
    op = (tc_cache_incr_t){.delta = 3,
                           .decrement = true,
                           .is_signed = true,
                           .create = true,
                           .initial = (uint64_t)-7,
                           .vtag = 5};
    CHECK_EQ(tc_cache_incr(c, 0, "s", 1, &op, &v, NULL), 1);
    CHECK_EQ((int64_t)v, -7);
    CHECK_EQ(tc_cache_incr(c, 0, "s", 1, &op, &v, NULL), 1);
    CHECK_EQ((int64_t)v, -10);
    CHECK(strcmp(read_value(c, "s", NULL, NULL), "-10") == 0);
    it = item("max", "9223372036854775807");
    CHECK_EQ(tc_cache_store(c, TC_STORE_SET, &it, NULL), TC_CACHE_STORED);
    op = (tc_cache_incr_t){.delta = 1, .is_signed = true};
    CHECK_EQ(tc_cache_incr(c, 0, "max", 3, &op, &v, NULL), TC_ERR_RANGE);
    CHECK(strcmp(read_value(c, "max", NULL, NULL), "9223372036854775807") == 0);
    done(c, file);
}

TEST(incr_and_decr_in_dram) { incr_decr(false); }
TEST(incr_and_decr_on_a_file_tier) { incr_decr(true); }

TEST(peek_counts_nothing_and_touch_sets_the_ttl) {
    tc_kind_t *file;
    tc_cache_t *c = make(false, &file);
    tc_cache_item_t it = item("k", "v");
    CHECK_EQ(tc_cache_store(c, TC_STORE_SET, &it, NULL), TC_CACHE_STORED);
    char buf[8];
    tc_cache_value_t out;
    CHECK_EQ(tc_cache_get_ex(c, 0, "k", 1, TC_GET_PEEK, 0, buf, sizeof buf, &out), 1);
    CHECK_EQ(tc_cache_get_ex(c, 0, "x", 1, TC_GET_PEEK, 0, buf, sizeof buf, &out), 0);
    tc_cache_stats_t s;
    CHECK_EQ(tc_cache_stats(c, &s), TC_OK);
    CHECK(s.hits == 0 && s.misses == 0);
    CHECK_EQ(out.ttl, 0);
    CHECK_EQ(tc_cache_get_ex(c, 0, "k", 1, TC_GET_TOUCH, 50, buf, sizeof buf, &out), 1);
    CHECK(out.ttl > 49 && out.ttl <= 50);
    CHECK_EQ(tc_cache_get_ex(c, 0, "k", 1, TC_GET_TOUCH, 0, buf, sizeof buf, &out), 1);
    CHECK_EQ(out.ttl, 0);
    CHECK_EQ(tc_cache_stats(c, &s), TC_OK);
    CHECK(s.hits == 2);
    CHECK_EQ(tc_cache_get_ex(c, 0, "k", 1, 8, 0, buf, sizeof buf, &out), TC_ERR_INVALID);
    done(c, file);
}

TEST(pop_victim_takes_the_oldest_entry_of_the_last_tier) {
    tc_kind_t *file;
    tc_cache_t *c = make(true, &file);
    char key[8];
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof key, "k%d", i);
        tc_cache_item_t it = item(key, "value");
        CHECK_EQ(tc_cache_store(c, TC_STORE_SET, &it, NULL), TC_CACHE_STORED);
    }
    unsigned char kbuf[16];
    size_t klen = 0;
    tc_cache_value_t out;
    CHECK_EQ(tc_cache_pop_victim(c, kbuf, 3, &klen, &out), TC_ERR_NOMEM);
    CHECK_EQ(klen, 5);
    CHECK_EQ(tc_cache_count(c), 5);
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(tc_cache_pop_victim(c, kbuf, sizeof kbuf, &klen, &out), 1);
        snprintf(key, sizeof key, "k%d", i);
        CHECK(klen == 5 && kbuf[1] == 2 && memcmp(kbuf + 3, key, 2) == 0);
        CHECK(out.len == 5 && memcmp(out.data, "value", 5) == 0);
        tc_cache_unpin(c, out.pin);
    }
    CHECK_EQ(tc_cache_pop_victim(c, kbuf, sizeof kbuf, &klen, &out), 0);
    done(c, file);
}

TEST(keys_come_in_pieces_each_once) {
    tc_kind_t *file;
    tc_cache_t *c = make(false, &file);
    enum { N = 3000 };
    static bool seen[N];
    char key[16];
    for (int i = 0; i < N; i++) {
        int n = snprintf(key, sizeof key, "%d", i);
        CHECK_EQ(tc_cache_set(c, 0, key, (size_t)n, "v", 1, 0, 0), TC_OK);
    }
    size_t cursor = 0, written, total = 0;
    unsigned char buf[100];
    int pieces = 0, rc;
    CHECK_EQ(tc_cache_keys_from(c, &cursor, buf, 4, &written), TC_ERR_NOMEM);
    while ((rc = tc_cache_keys_from(c, &cursor, buf, sizeof buf, &written)) > 0) {
        pieces++;
        for (size_t off = 0; off < written;) {
            size_t klen = buf[off + 1] | (size_t)buf[off + 2] << 8;
            memcpy(key, buf + off + 3, klen);
            key[klen] = 0;
            int i = atoi(key);
            CHECK(!seen[i]);
            seen[i] = true;
            total++;
            off += 3 + klen;
        }
        if (!cursor) break;
    }
    CHECK(rc >= 0);
    CHECK_EQ(total, N);
    CHECK(pieces > 100);
    done(c, file);
}

/* Threads incrementing one counter and appending to one value lose no update. */
struct racer {
    tc_cache_t *c;
    int n;
};
static void *race(void *arg) {
    struct racer *r = arg;
    tc_cache_incr_t op = {.delta = 1};
    for (int i = 0; i < r->n; i++) {
        if (tc_cache_incr(r->c, 0, "ctr", 3, &op, NULL, NULL) != 1) return (void *)1;
        tc_cache_item_t it = item("log", "x");
        if (tc_cache_store(r->c, TC_STORE_APPEND, &it, NULL) != TC_CACHE_STORED) return (void *)1;
    }
    return NULL;
}

TEST(concurrent_incr_and_append_lose_no_update) {
    tc_kind_t *file;
    tc_cache_t *c = make(false, &file);
    CHECK_EQ(tc_cache_set(c, 0, "ctr", 3, "0", 1, 0, 0), TC_OK);
    CHECK_EQ(tc_cache_set(c, 0, "log", 3, "", 0, 0, 0), TC_OK);
    enum { THREADS = 8, EACH = 2000 };
    pthread_t th[THREADS];
    struct racer r = {c, EACH};
    for (int i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, race, &r);
    int failed = 0;
    for (int i = 0; i < THREADS; i++) {
        void *ret;
        pthread_join(th[i], &ret);
        failed += ret != NULL;
    }
    CHECK_EQ(failed, 0);
    char buf[32];
    tc_cache_value_t out;
    CHECK_EQ(tc_cache_get(c, 0, "ctr", 3, buf, sizeof buf, &out), 1);
    buf[out.len] = 0;
    CHECK_EQ(atoi(buf), THREADS * EACH);
    CHECK_EQ(tc_cache_get(c, 0, "log", 3, NULL, 0, &out), 1);
    CHECK_EQ(out.len, THREADS * EACH);
    tc_cache_unpin(c, out.pin);
    done(c, file);
}

int main(void) {
    snprintf(dir, sizeof dir, "/dev/shm/tc-cache-ops-%d", (int)getpid());
    if (mkdir(dir, 0700)) {
        perror("mkdir");
        return 1;
    }
    RUN(conditional_stores_in_dram);
    RUN(conditional_stores_on_a_file_tier);
    RUN(cas_tokens_change_with_every_store_and_guard_cas_and_delete);
    RUN(incr_and_decr_in_dram);
    RUN(incr_and_decr_on_a_file_tier);
    RUN(peek_counts_nothing_and_touch_sets_the_ttl);
    RUN(pop_victim_takes_the_oldest_entry_of_the_last_tier);
    RUN(keys_come_in_pieces_each_once);
    RUN(concurrent_incr_and_append_lose_no_update);
    rmdir(dir);
    return CHECK_DONE();
}
