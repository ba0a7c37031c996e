/* Cache core: model-checked operations, eviction, tiers, pins, compaction, bad input. Every
 * scenario runs tc_cache_check as it goes. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "tiercache/cache.h"

static char dir[64];
static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int checked(tc_cache_t *c) {
    char msg[256];
    int err = tc_cache_check(c, msg, sizeof msg);
    if (err) fprintf(stderr, "check: %s\n", msg);
    return err;
}

static tc_cache_t *make(size_t dram, tc_kind_t *lower, size_t lower_budget, size_t large) {
    tc_cache_config_t cfg = {.ntiers = 1, .large_threshold = large, .promote_hits = 2};
    cfg.tiers[0] = (tc_cache_tier_config_t){tc_kind_dram(), dram};
    if (lower) {
        cfg.ntiers = 2;
        cfg.tiers[1] = (tc_cache_tier_config_t){lower, lower_budget};
    }
    tc_cache_t *c = NULL;
    CHECK_EQ(tc_cache_create(&cfg, &c), TC_OK);
    return c;
}

static void fill_value(unsigned char *v, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) v[i] = (unsigned char)(seed * 31 + i);
}

#define NKEYS 500
TEST(operations_match_a_model_when_nothing_is_evicted) {
    tc_cache_t *c = make(64 << 20, NULL, 0, 0);
    static size_t model_len[NKEYS];
    static bool present[NKEYS];
    static unsigned seed[NKEYS];
    unsigned char v[3000], buf[3000];
    int bad = 0;
    for (int op = 0; op < 20000; op++) {
        unsigned k = (unsigned)(next_rand() % NKEYS);
        char key[16];
        int klen = snprintf(key, sizeof key, "k%u", k);
        unsigned r = (unsigned)(next_rand() % 10);
        if (r < 4) {
            size_t n = next_rand() % sizeof v;
            fill_value(v, n, (unsigned)op);
            if (tc_cache_set(c, 1, key, (size_t)klen, v, n, 2, 0) != TC_OK) bad++;
            present[k] = true;
            model_len[k] = n;
            seed[k] = (unsigned)op;
        } else if (r < 8) {
            tc_cache_value_t out;
            int found = tc_cache_get(c, 1, key, (size_t)klen, buf, sizeof buf, &out);
            if (found != (int)present[k]) bad++;
            if (found == 1) {
                fill_value(v, model_len[k], seed[k]);
                if (out.len != model_len[k] || out.tag != 2 || memcmp(out.data, v, out.len) ||
                    out.pin)
                    bad++;
            }
        } else {
            if (tc_cache_delete(c, 1, key, (size_t)klen) != (int)present[k]) bad++;
            present[k] = false;
        }
        if (op % 1000 == 0 && checked(c)) bad++;
    }
    size_t n = 0;
    for (unsigned k = 0; k < NKEYS; k++) n += present[k];
    CHECK_EQ(tc_cache_count(c), n);
    CHECK_EQ(bad, 0);
    /* The same bytes under another key tag are another key. */
    CHECK_EQ(tc_cache_set(c, 2, "k1", 2, "x", 1, 0, 0), TC_OK);
    CHECK_EQ(tc_cache_contains(c, 2, "k1", 2), 1);
    CHECK_EQ(tc_cache_contains(c, 3, "k1", 2), 0);
    CHECK_EQ(checked(c), TC_OK);
    CHECK_EQ(tc_cache_destroy(c), TC_OK);
}

TEST(eviction_keeps_every_tier_within_budget) {
    tc_cache_t *c = make(256 << 10, NULL, 0, 0);
    unsigned char v[2000];
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        char key[16];
        int klen = snprintf(key, sizeof key, "%d", (int)(next_rand() % 5000));
        size_t n = next_rand() % sizeof v;
        if (tc_cache_set(c, 1, key, (size_t)klen, v, n, 0, 0) != TC_OK) bad++;
        if (i % 500 == 0 && checked(c)) bad++;
    }
    tc_cache_stats_t s;
    CHECK_EQ(tc_cache_stats(c, &s), TC_OK);
    CHECK(s.evictions > 0);
    CHECK(s.items > 50);
    CHECK(s.tiers[0].used <= s.tiers[0].budget);
    CHECK_EQ(bad, 0);
    CHECK_EQ(checked(c), TC_OK);
    tc_cache_destroy(c);
}

TEST(cold_entries_are_demoted_and_hot_ones_promoted) {
    tc_kind_t *file = NULL;
    CHECK_EQ(tc_kind_create_file(dir, 0, TC_FILE_PERFORMANCE, &file), TC_OK);
    tc_cache_t *c = make(256 << 10, file, 16 << 20, 32 << 10);
    unsigned char v[1024], buf[64 << 10];
    int bad = 0;
    for (int i = 0; i < 2000; i++) {
        char key[16];
        int klen = snprintf(key, sizeof key, "%d", i);
        fill_value(v, sizeof v, (unsigned)i);
        if (tc_cache_set(c, 1, key, (size_t)klen, v, sizeof v, 0, 0) != TC_OK) bad++;
        if (i % 200 == 0 && checked(c)) bad++;
    }
    tc_cache_stats_t s;
    tc_cache_stats(c, &s);
    CHECK(s.tiers[1].demotions > 0);
    CHECK(s.tiers[1].items > 0);
    CHECK_EQ(s.items, 2000); /* 2 MB of values: all fit once demoted */
    /* Key 0 was demoted long ago; reading it twice brings it back to tier 0. */
    tc_cache_value_t out;
    for (int r = 0; r < 3; r++) CHECK_EQ(tc_cache_get(c, 1, "0", 1, buf, sizeof buf, &out), 1);
    fill_value(v, sizeof v, 0);
    CHECK(out.len == sizeof v && memcmp(out.data, v, sizeof v) == 0);
    tc_cache_stats(c, &s);
    CHECK(s.tiers[0].promotions > 0);
    /* A large value goes straight to the capacity tier. */
    static unsigned char big[40 << 10];
    fill_value(big, sizeof big, 7);
    CHECK_EQ(tc_cache_set(c, 1, "big", 3, big, sizeof big, 0, 0), TC_OK);
    CHECK_EQ(tc_cache_get(c, 1, "big", 3, buf, sizeof buf, &out), 1);
    CHECK(out.len == sizeof big && memcmp(out.data, big, sizeof big) == 0);
    tc_cache_stats(c, &s);
    CHECK(s.tiers[1].value_bytes >= sizeof big);
    CHECK_EQ(bad, 0);
    CHECK_EQ(checked(c), TC_OK);
    CHECK_EQ(tc_cache_destroy(c), TC_OK);
    CHECK_EQ(tc_kind_destroy(file), TC_OK);
}

TEST(pinned_values_survive_overwrite_eviction_and_destroy) {
    tc_cache_t *c = make(128 << 10, NULL, 0, 0);
    unsigned char v[4096];
    fill_value(v, sizeof v, 5);
    CHECK_EQ(tc_cache_set(c, 1, "p", 1, v, sizeof v, 3, 0), TC_OK);
    tc_cache_value_t a, b;
    CHECK_EQ(tc_cache_get(c, 1, "p", 1, NULL, 0, &a), 1);
    CHECK_EQ(tc_cache_get(c, 1, "p", 1, NULL, 0, &b), 1);
    CHECK(a.pin != NULL && a.pin == b.pin && a.tag == 3);
    CHECK_EQ(checked(c), TC_OK);
    CHECK_EQ(tc_cache_set(c, 1, "p", 1, "new", 3, 0, 0), TC_OK);
    for (int i = 0; i < 2000; i++) { /* push everything else out */
        char key[16];
        int klen = snprintf(key, sizeof key, "%d", i);
        tc_cache_set(c, 1, key, (size_t)klen, v, 1000, 0, 0);
    }
    CHECK_EQ(checked(c), TC_OK);
    CHECK(memcmp(a.data, v, sizeof v) == 0);
    tc_cache_unpin(c, b.pin);
    CHECK(memcmp(a.data, v, sizeof v) == 0);
    CHECK_EQ(checked(c), TC_OK);
    CHECK_EQ(tc_cache_destroy(c), TC_OK);
    CHECK(memcmp(a.data, v, sizeof v) == 0); /* still held after destroy */
    CHECK_EQ(tc_cache_set(c, 1, "x", 1, "y", 1, 0, 0), TC_ERR_CLOSED);
    tc_cache_unpin(c, a.pin); /* the last pin releases the cache */
}

TEST(released_pins_are_reused_swept_and_let_compaction_move_the_entry) {
    tc_cache_t *c = make(8 << 20, NULL, 0, 0);
    unsigned char v[3000];
    char key[16];
    for (int i = 0; i < 2000; i++) {
        int klen = snprintf(key, sizeof key, "%d", i);
        fill_value(v, sizeof v, (unsigned)i);
        CHECK_EQ(tc_cache_set(c, 1, key, (size_t)klen, v, sizeof v, 0, 0), TC_OK);
    }
    /* Pin and release every entry in turn: far more records than the sweep threshold. */
    int bad = 0;
    void *first = NULL;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 2000; i++) {
            int klen = snprintf(key, sizeof key, "%d", i);
            tc_cache_value_t out;
            fill_value(v, sizeof v, (unsigned)i);
            if (tc_cache_get(c, 1, key, (size_t)klen, NULL, 0, &out) != 1 || !out.pin ||
                memcmp(out.data, v, sizeof v))
                bad++;
            if (i == 0 && round == 0) first = out.pin;
            tc_cache_unpin(c, out.pin);
            if (i % 500 == 0 && checked(c)) bad++;
        }
    }
    CHECK_EQ(bad, 0);
    CHECK(first != NULL);
    tc_cache_stats_t s;
    CHECK_EQ(tc_cache_stats(c, &s), TC_OK);
    CHECK_EQ(s.pinned, 0);
    /* A value pinned and released stays movable; one still held does not move. */
    tc_cache_value_t held;
    CHECK_EQ(tc_cache_get(c, 1, "7", 1, NULL, 0, &held), 1);
    for (int i = 0; i < 2000; i += 2) {
        int klen = snprintf(key, sizeof key, "%d", i);
        tc_cache_delete(c, 1, key, (size_t)klen);
    }
    size_t cursor = 0, moved = 0;
    do CHECK_EQ(tc_cache_compact(c, &cursor, 0, &moved), TC_OK);
    while (cursor);
    CHECK_EQ(checked(c), TC_OK);
    tc_cache_value_t again;
    CHECK_EQ(tc_cache_get(c, 1, "7", 1, NULL, 0, &again), 1);
    CHECK(again.data == held.data && again.pin == held.pin);
    tc_cache_unpin(c, again.pin);
    tc_cache_unpin(c, held.pin);
    CHECK_EQ(tc_cache_stats(c, &s), TC_OK);
    CHECK_EQ(s.pinned, 0);
    CHECK_EQ(checked(c), TC_OK);
    tc_cache_destroy(c);
}

struct pin_race {
    tc_cache_t *c;
    int bad;
};

/* Readers pin and release "k" without pause while the main thread overwrites it. */
static void *pin_reader(void *arg) {
    struct pin_race *r = arg;
    for (int i = 0; i < 20000; i++) {
        tc_cache_value_t out;
        int found = tc_cache_get(r->c, 1, "k", 1, NULL, 0, &out);
        if (found != 1 || !out.pin || out.len != 3000) {
            r->bad++;
            continue;
        }
        const unsigned char *p = out.data;
        for (size_t j = 1; j < out.len; j++) /* every value is one seed's sequence */
            if (p[j] != (unsigned char)(p[0] + j)) {
                r->bad++;
                break;
            }
        tc_cache_unpin(r->c, out.pin);
    }
    return NULL;
}

TEST(unpins_racing_overwrites_free_each_value_once) {
    tc_cache_t *c = make(4 << 20, NULL, 0, 0);
    unsigned char v[3000];
    fill_value(v, sizeof v, 0);
    CHECK_EQ(tc_cache_set(c, 1, "k", 1, v, sizeof v, 0, 0), TC_OK);
    struct pin_race race[2] = {{c, 0}, {c, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) CHECK_EQ(pthread_create(&th[i], NULL, pin_reader, &race[i]), 0);
    int bad = 0;
    for (int i = 1; i < 20000; i++) {
        fill_value(v, sizeof v, (unsigned)i);
        if (tc_cache_set(c, 1, "k", 1, v, sizeof v, 0, 0) != TC_OK) bad++;
        if (i % 2000 == 0 && checked(c)) bad++;
    }
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    CHECK_EQ(bad + race[0].bad + race[1].bad, 0);
    tc_cache_stats_t s;
    CHECK_EQ(tc_cache_stats(c, &s), TC_OK);
    CHECK_EQ(s.pinned, 0);
    CHECK_EQ(checked(c), TC_OK);
    tc_cache_destroy(c);
}

TEST(add_stores_only_absent_keys_and_take_removes_and_returns) {
    tc_cache_t *c = make(1 << 20, NULL, 0, 0);
    CHECK_EQ(tc_cache_add(c, 1, "k", 1, "first", 5, 2, 0), 1);
    CHECK_EQ(tc_cache_add(c, 1, "k", 1, "second", 6, 2, 0), 0);
    CHECK_EQ(tc_cache_add(c, 1, "k", 1, "v", 1, 16, 0), TC_ERR_INVALID);
    tc_cache_value_t out;
    unsigned char buf[16];
    CHECK_EQ(tc_cache_get(c, 1, "k", 1, buf, sizeof buf, &out), 1);
    CHECK(out.len == 5 && memcmp(out.data, "first", 5) == 0);
    CHECK_EQ(tc_cache_take(c, 1, "k", 1, &out), 1);
    CHECK(out.pin && out.len == 5 && out.tag == 2 && memcmp(out.data, "first", 5) == 0);
    CHECK_EQ(tc_cache_contains(c, 1, "k", 1), 0);
    CHECK_EQ(tc_cache_set(c, 1, "k", 1, "third", 5, 0, 0), TC_OK); /* the taken value stays */
    CHECK(memcmp(out.data, "first", 5) == 0);
    CHECK_EQ(checked(c), TC_OK);
    tc_cache_unpin(c, out.pin);
    CHECK_EQ(tc_cache_take(c, 1, "absent", 6, &out), 0);
    CHECK_EQ(tc_cache_add(c, 1, "t", 1, "x", 1, 0, 0.01), 1);
    usleep(20000);
    CHECK_EQ(tc_cache_add(c, 1, "t", 1, "y", 1, 0, 0), 1); /* an expired key counts as absent */
    tc_cache_stats_t s;
    CHECK_EQ(tc_cache_stats(c, &s), TC_OK);
    CHECK_EQ(s.pinned, 0);
    CHECK_EQ(s.items, 2);
    CHECK_EQ(checked(c), TC_OK);
    tc_cache_destroy(c);
}

TEST(slab_entries_evict_within_budget_survive_pins_and_compact) {
    /* 32 MiB: big enough for slabs (16 MiB and up). ~60 MB of small entries of a few dozen
     * 8-byte classes go through it. */
    tc_cache_t *c = make(32 << 20, NULL, 0, 0);
    unsigned char v[256], buf[256];
    int bad = 0;
    tc_cache_value_t held[4];
    unsigned held_seed[4];
    for (int i = 0; i < 400000; i++) {
        char key[16];
        int klen = snprintf(key, sizeof key, "s%d", i);
        size_t n = 100 + (size_t)(next_rand() % 64);
        fill_value(v, n, (unsigned)i);
        if (tc_cache_set(c, 1, key, (size_t)klen, v, n, 0, 0) != TC_OK) bad++;
        if (i % 100000 == 50000) { /* pin the newest value (an inline slab entry) */
            unsigned h = (unsigned)(i / 100000);
            if (tc_cache_get(c, 1, key, (size_t)klen, NULL, 0, &held[h]) != 1) bad++;
            held_seed[h] = (unsigned)i;
        }
        if (i % 50000 == 0 && checked(c)) bad++;
    }
    tc_cache_stats_t s;
    CHECK_EQ(tc_cache_stats(c, &s), TC_OK);
    CHECK(s.evictions > 100000);
    CHECK(s.tiers[0].used <= s.tiers[0].budget);
    /* Slabs keep metadata small even under eviction churn, which leaves free slots in
     * slabs: header, index, queues, ghost, slot rounding and those free slots come to about
     * 49 B/item here (jemalloc's size classes alone would add 12-30 B/item on top). */
    fprintf(stderr, "    meta %zu B/item, %zu items\n", s.meta_bytes / s.items, s.items);
    CHECK(s.meta_bytes / s.items < 56);
    CHECK(s.items > 150000);
    for (unsigned h = 0; h < 4; h++) {
        fill_value(v, held[h].len, held_seed[h]);
        if (memcmp(held[h].data, v, held[h].len)) bad++;
    }
    /* Delete 90% of what is left, then compact: sparse slabs empty out and are freed. */
    for (int i = 0; i < 400000; i++) {
        char key[16];
        int klen = snprintf(key, sizeof key, "s%d", i);
        if (i % 10) tc_cache_delete(c, 1, key, (size_t)klen);
    }
    CHECK_EQ(checked(c), TC_OK);
    CHECK_EQ(tc_cache_stats(c, &s), TC_OK);
    size_t before = s.tiers[0].used, cursor = 0, moved = 0, total = 0;
    do {
        CHECK_EQ(tc_cache_compact(c, &cursor, 10000, &moved), TC_OK);
        total += moved;
    } while (cursor);
    CHECK_EQ(checked(c), TC_OK);
    CHECK_EQ(tc_cache_stats(c, &s), TC_OK);
    CHECK(total > 0);
    CHECK(s.tiers[0].used < before / 2);
    for (int i = 0; i < 400000; i += 10) {
        char key[16];
        int klen = snprintf(key, sizeof key, "s%d", i);
        tc_cache_value_t out;
        int found = tc_cache_get(c, 1, key, (size_t)klen, buf, sizeof buf, &out);
        if (found < 0) bad++;
        if (found == 1) {
            fill_value(v, out.len, (unsigned)i);
            if (memcmp(out.data, v, out.len)) bad++;
        }
    }
    for (unsigned h = 0; h < 4; h++) {
        fill_value(v, held[h].len, held_seed[h]);
        if (memcmp(held[h].data, v, held[h].len)) bad++;
        tc_cache_unpin(c, held[h].pin);
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(checked(c), TC_OK);
    CHECK_EQ(tc_cache_destroy(c), TC_OK);
}

TEST(slab_cache_keeps_its_item_count_when_the_index_grows_under_churn) {
    /* Evictions leave free slots all over the slabs; when the index or a queue ring then
     * grows, tier 0 must shed megabytes at once. Moving entries together does it: evicting
     * alone would empty the cache by tens of thousands of entries. */
    tc_cache_t *c = make(24 << 20, NULL, 0, 0);
    unsigned char v[100], buf[128];
    memset(v, 7, sizeof v);
    size_t lo = SIZE_MAX, hi = 0;
    int bad = 0;
    for (int i = 0; i < 1500000; i++) {
        char key[16];
        int klen = snprintf(key, sizeof key, "%u", (unsigned)(next_rand() % 600000));
        tc_cache_value_t out;
        int found = tc_cache_get(c, 1, key, (size_t)klen, buf, sizeof buf, &out);
        if (found < 0) bad++;
        if (found == 0 && tc_cache_set(c, 1, key, (size_t)klen, v, sizeof v, 0, 0) != TC_OK) bad++;
        if (i >= 500000 && i % 5000 == 0) {
            size_t n = tc_cache_count(c);
            if (n < lo) lo = n;
            if (n > hi) hi = n;
        }
    }
    fprintf(stderr, "    items %zu..%zu\n", lo, hi);
    CHECK_EQ(bad, 0);
    CHECK(hi > 100000);
    CHECK(lo * 10 >= hi * 9);
    CHECK_EQ(checked(c), TC_OK);
    tc_cache_destroy(c);
}

TEST(compaction_moves_entries_and_keeps_the_index_right) {
    tc_kind_t *file = NULL;
    CHECK_EQ(tc_kind_create_file(dir, 0, TC_FILE_CONSERVATIVE, &file), TC_OK);
    tc_cache_t *c = make(32 << 20, file, 64 << 20, 1024);
    unsigned char v[2048];
    for (int i = 0; i < 20000; i++) {
        char key[16];
        int klen = snprintf(key, sizeof key, "%d", i);
        fill_value(v, sizeof v, (unsigned)i);
        tc_cache_set(c, 1, key, (size_t)klen, v, (size_t)(i % 2 ? 2048 : 200), 0, 0);
    }
    for (int i = 0; i < 20000; i++) {
        if (i % 10 == 0) continue;
        char key[16];
        int klen = snprintf(key, sizeof key, "%d", i);
        tc_cache_delete(c, 1, key, (size_t)klen);
    }
    size_t cursor = 0, moved = 0, total = 0;
    do {
        CHECK_EQ(tc_cache_compact(c, &cursor, 1000, &moved), TC_OK);
        total += moved;
    } while (cursor);
    CHECK(total > 0);
    CHECK_EQ(checked(c), TC_OK);
    int bad = 0;
    unsigned char buf[4096], want[2048];
    for (int i = 0; i < 20000; i += 10) {
        char key[16];
        int klen = snprintf(key, sizeof key, "%d", i);
        tc_cache_value_t out;
        fill_value(want, sizeof want, (unsigned)i);
        if (tc_cache_get(c, 1, key, (size_t)klen, buf, sizeof buf, &out) != 1 ||
            memcmp(out.data, want, out.len))
            bad++;
    }
    CHECK_EQ(bad, 0);
    tc_cache_destroy(c);
    tc_kind_destroy(file);
}

TEST(ttl_expires_entries_and_touch_changes_it) {
    tc_cache_t *c = make(1 << 20, NULL, 0, 0);
    CHECK_EQ(tc_cache_set(c, 1, "a", 1, "1", 1, 0, 0.05), TC_OK);
    CHECK_EQ(tc_cache_set(c, 1, "b", 1, "2", 1, 0, 0.05), TC_OK);
    CHECK_EQ(tc_cache_set(c, 1, "c", 1, "3", 1, 0, 0), TC_OK);
    CHECK_EQ(tc_cache_touch(c, 1, "b", 1, 0), 1);    /* b never expires now */
    CHECK_EQ(tc_cache_touch(c, 1, "c", 1, 0.05), 1); /* c gains an expiry */
    CHECK_EQ(checked(c), TC_OK);
    usleep(80000);
    CHECK_EQ(tc_cache_contains(c, 1, "a", 1), 0);
    CHECK_EQ(tc_cache_contains(c, 1, "b", 1), 1);
    CHECK_EQ(tc_cache_expire(c), 1); /* c */
    CHECK_EQ(tc_cache_count(c), 1);
    tc_cache_stats_t s;
    tc_cache_stats(c, &s);
    CHECK_EQ(s.expirations, 2);
    CHECK_EQ(checked(c), TC_OK);
    tc_cache_destroy(c);
}

TEST(bad_input_gets_error_codes_and_keeps_the_old_value) {
    tc_cache_t *c = make(128 << 10, NULL, 0, 0);
    static unsigned char big[100 << 10];
    CHECK_EQ(tc_cache_set(c, 1, "k", 1, "old", 3, 0, 0), TC_OK);
    CHECK_EQ(tc_cache_set(c, 1, "k", 1, big, sizeof big, 0, 0), TC_ERR_TOOLARGE);
    CHECK_EQ(tc_cache_set(c, 1, "k", 1, "v", 1, 16, 0), TC_ERR_INVALID);
    CHECK_EQ(tc_cache_set(c, 1, "k", 1, "v", 1, 0, -1), TC_ERR_INVALID);
    CHECK_EQ(tc_cache_set(c, 256, "k", 1, "v", 1, 0, 0), TC_ERR_INVALID);
    CHECK_EQ(tc_cache_set(c, 1, big, TC_CACHE_MAX_KEY + 1, "v", 1, 0, 0), TC_ERR_INVALID);
    unsigned char buf[8];
    tc_cache_value_t out;
    CHECK_EQ(tc_cache_get(c, 1, "k", 1, buf, sizeof buf, &out), 1);
    CHECK(out.len == 3 && memcmp(out.data, "old", 3) == 0);
    size_t needed = 0;
    CHECK_EQ(tc_cache_keys(c, buf, 2, &needed), TC_ERR_NOMEM);
    CHECK_EQ(needed, 4);
    CHECK_EQ(tc_cache_keys(c, buf, sizeof buf, &needed), 1);
    CHECK(buf[0] == 1 && buf[1] == 1 && buf[2] == 0 && buf[3] == 'k');
    tc_cache_config_t cfg = {.ntiers = 1};
    cfg.tiers[0] = (tc_cache_tier_config_t){tc_kind_dram(), 1000};
    tc_cache_t *c2;
    CHECK_EQ(tc_cache_create(&cfg, &c2), TC_ERR_INVALID);
    cfg.ntiers = 0;
    CHECK_EQ(tc_cache_create(&cfg, &c2), TC_ERR_INVALID);
    tc_cache_destroy(c);
}

int main(void) {
    snprintf(dir, sizeof dir, "/dev/shm/tc-cache-test-%d", (int)getpid());
    if (mkdir(dir, 0700)) {
        perror("mkdir");
        return 1;
    }
    RUN(operations_match_a_model_when_nothing_is_evicted);
    RUN(eviction_keeps_every_tier_within_budget);
    RUN(cold_entries_are_demoted_and_hot_ones_promoted);
    RUN(pinned_values_survive_overwrite_eviction_and_destroy);
    RUN(released_pins_are_reused_swept_and_let_compaction_move_the_entry);
    RUN(unpins_racing_overwrites_free_each_value_once);
    RUN(add_stores_only_absent_keys_and_take_removes_and_returns);
    RUN(slab_entries_evict_within_budget_survive_pins_and_compact);
    RUN(slab_cache_keeps_its_item_count_when_the_index_grows_under_churn);
    RUN(compaction_moves_entries_and_keeps_the_index_right);
    RUN(ttl_expires_entries_and_touch_changes_it);
    RUN(bad_input_gets_error_codes_and_keeps_the_old_value);
    rmdir(dir);
    return CHECK_DONE();
}
