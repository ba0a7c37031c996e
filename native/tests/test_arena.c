/* Heap functions over kinds: DRAM and file-backed, NULL/wrong-kind frees, realloc across
 * kinds, alignment, calloc overflow, defrag and statistics. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "tiercache/tiercache.h"

static tc_kind_t *file_kind(tc_file_policy_t policy) {
    tc_kind_t *k = NULL;
    int e = tc_kind_create_file("/dev/shm", 0, policy, &k);
    CHECK_EQ(e, TC_OK);
    return k;
}

TEST(dram_basic_allocation_roundtrip) {
    tc_kind_t *d = tc_kind_dram();
    char *p = tc_malloc(d, 100);
    CHECK(p);
    memset(p, 7, 100);
    CHECK(tc_usable_size(d, p) >= 100);
    CHECK(tc_detect_kind(p) == d);
    p = tc_realloc(d, p, 5000);
    CHECK(p && p[99] == 7);
    tc_free(NULL, p);
    void *z = tc_malloc(d, 0);
    CHECK(z); /* size 0: unique minimal allocation */
    tc_free(d, z);
}

TEST(calloc_zeroes_and_rejects_overflow) {
    tc_kind_t *k = file_kind(TC_FILE_PERFORMANCE);
    tc_kind_t *kinds[] = {tc_kind_dram(), k};
    for (int i = 0; i < 2; i++) {
        unsigned char *p = tc_calloc(kinds[i], 1000, 3);
        CHECK(p);
        int nonzero = 0;
        for (int j = 0; j < 3000; j++) nonzero |= p[j];
        CHECK_EQ(nonzero, 0);
        tc_free(NULL, p);
        errno = 0;
        CHECK(tc_calloc(kinds[i], SIZE_MAX / 2, 3) == NULL);
        CHECK_EQ(errno, ENOMEM);
    }
    CHECK_EQ(tc_kind_destroy(k), TC_OK);
}

TEST(posix_memalign_validates_alignment) {
    tc_kind_t *k = file_kind(TC_FILE_PERFORMANCE);
    tc_kind_t *kinds[] = {tc_kind_dram(), k};
    for (int i = 0; i < 2; i++) {
        void *p = (void *)0x1;
        CHECK_EQ(tc_posix_memalign(kinds[i], &p, 3, 64), EINVAL);
        CHECK_EQ(tc_posix_memalign(kinds[i], &p, 2, 64), EINVAL);
        CHECK(p == (void *)0x1); /* untouched on error */
        for (size_t a = 8; a <= 65536; a *= 4) {
            CHECK_EQ(tc_posix_memalign(kinds[i], &p, a, 100), 0);
            CHECK(((uintptr_t)p & (a - 1)) == 0);
            CHECK(tc_detect_kind(p) == kinds[i]);
            tc_free(kinds[i], p);
        }
    }
    CHECK_EQ(tc_kind_destroy(k), TC_OK);
}

TEST(free_with_null_or_wrong_kind_returns_memory_to_its_owner) {
    tc_kind_t *k = file_kind(TC_FILE_PERFORMANCE);
    size_t after_first = 0, after_last = 0;
    for (int round = 0; round < 20; round++) {
        void *ptrs[1000];
        for (int i = 0; i < 1000; i++) ptrs[i] = tc_malloc(k, 64 + i);
        for (int i = 0; i < 1000; i++) CHECK(tc_detect_kind(ptrs[i]) == k);
        for (int i = 0; i < 1000; i++) tc_free(i % 2 ? NULL : tc_kind_dram(), ptrs[i]);
        tc_stats_refresh();
        CHECK_EQ(tc_kind_stat(k, TC_STAT_ALLOCATED, round ? &after_last : &after_first), TC_OK);
    }
    /* Freed objects were reused by the same kind: nothing leaked across rounds. */
    CHECK(after_first > 0);
    CHECK_EQ(after_last, after_first);
    CHECK_EQ(tc_kind_destroy(k), TC_OK);
}

TEST(realloc_keeps_kind_or_moves_to_requested_kind) {
    tc_kind_t *k = file_kind(TC_FILE_PERFORMANCE);
    char *p = tc_malloc(k, 10);
    strcpy(p, "tiercache");
    p = tc_realloc(NULL, p, 100000); /* NULL kind: stays in its kind */
    CHECK(p && tc_detect_kind(p) == k && !strcmp(p, "tiercache"));
    p = tc_realloc(tc_kind_dram(), p, 50); /* explicit other kind: data moves */
    CHECK(p && tc_detect_kind(p) == tc_kind_dram() && !strcmp(p, "tiercache"));
    p = tc_realloc(k, p, 50);
    CHECK(p && tc_detect_kind(p) == k && !strcmp(p, "tiercache"));
    CHECK(tc_realloc(k, p, 0) == NULL); /* size 0 frees */
    void *q = tc_realloc(k, NULL, 32);
    CHECK(q && tc_detect_kind(q) == k);
    tc_free(k, q);
    CHECK_EQ(tc_kind_destroy(k), TC_OK);
}

TEST(realloc_within_a_kind_resizes_in_place_or_moves_keeping_the_data) {
    tc_kind_t *k = file_kind(TC_FILE_PERFORMANCE);
    unsigned char *p = tc_malloc(k, 100);
    for (int i = 0; i < 100; i++) p[i] = (unsigned char)i;
    size_t usable = tc_usable_size(k, p);
    unsigned char *q = tc_realloc(k, p, usable); /* same size class: the same block */
    CHECK(q == p);
    q = tc_realloc(k, p, 300000); /* small to large: moved, data kept */
    CHECK(q && tc_detect_kind(q) == k && tc_usable_size(k, q) >= 300000);
    for (int i = 0; i < 100; i++) CHECK_EQ(q[i], (unsigned char)i);
    memset(q, 0x5a, 300000);
    unsigned char *r = tc_realloc(k, q, 64); /* large to small: a small block, not the large */
    CHECK(r && tc_detect_kind(r) == k && tc_usable_size(k, r) < 4096);
    for (int i = 0; i < 64; i++) CHECK_EQ(r[i], 0x5a);
    CHECK(tc_realloc(k, r, SIZE_MAX / 2) == NULL && errno == ENOMEM); /* r stays valid */
    CHECK_EQ(r[63], 0x5a);
    tc_free(NULL, r);
    CHECK_EQ(tc_kind_destroy(k), TC_OK);
}

TEST(null_arguments_are_harmless) {
    tc_free(NULL, NULL);
    tc_free(tc_kind_dram(), NULL);
    CHECK_EQ(tc_usable_size(NULL, NULL), 0);
    CHECK(tc_detect_kind(NULL) == NULL);
    CHECK(tc_defrag_reallocate(NULL, NULL) == NULL);
    errno = 0;
    CHECK(tc_malloc(NULL, 10) == NULL);
    CHECK_EQ(errno, EINVAL);
}

/* Fill many slabs, free most objects at random, then defrag: resident memory must fall. */
static void defrag_case(tc_kind_t *k, int n) {
    void **ptrs = malloc(sizeof(void *) * n);
    for (int i = 0; i < n; i++) ptrs[i] = tc_malloc(k, 48);
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        if (x % 10) {
            tc_free(k, ptrs[i]);
            ptrs[i] = NULL;
        }
    }
    tc_kind_purge(k);
    tc_stats_refresh();
    size_t active_before, active_after;
    tc_kind_stat(k, TC_STAT_ACTIVE, &active_before);
    int moved = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++) {
            if (!ptrs[i]) continue;
            memset(ptrs[i], i & 0xff, 48);
            void *q = tc_defrag_reallocate(NULL, ptrs[i]);
            if (q) {
                CHECK(((unsigned char *)q)[47] == (i & 0xff));
                CHECK(tc_detect_kind(q) == k);
                ptrs[i] = q;
                moved++;
            }
        }
    tc_kind_purge(k);
    tc_stats_refresh();
    tc_kind_stat(k, TC_STAT_ACTIVE, &active_after);
    CHECK(moved > 0);
    CHECK(active_after * 2 < active_before);
    printf("    %s: active %zu -> %zu bytes, %d moved\n", tc_kind_name(k), active_before,
           active_after, moved);
    for (int i = 0; i < n; i++) tc_free(k, ptrs[i]);
    free(ptrs);
}

TEST(defrag_reallocate_lowers_active_memory) {
    tc_kind_t *k = file_kind(TC_FILE_CONSERVATIVE);
    defrag_case(k, 200000);
    CHECK_EQ(tc_kind_destroy(k), TC_OK);
    defrag_case(tc_kind_dram(), 200000);
}

TEST(stats_reject_bad_arguments_and_count_allocations) {
    size_t v;
    CHECK_EQ(tc_kind_stat(NULL, TC_STAT_COUNT, &v), TC_ERR_INVALID);
    CHECK_EQ(tc_kind_stat(NULL, TC_STAT_RESIDENT, NULL), TC_ERR_INVALID);
    tc_kind_t *k = file_kind(TC_FILE_PERFORMANCE);
    void *p = tc_malloc(k, 1 << 20);
    CHECK_EQ(tc_stats_refresh(), TC_OK);
    CHECK_EQ(tc_kind_stat(k, TC_STAT_ALLOCATED, &v), TC_OK);
    CHECK(v >= (1 << 20));
    CHECK_EQ(tc_kind_stat(NULL, TC_STAT_RESIDENT, &v), TC_OK);
    CHECK(v > 0);
    tc_free(k, p);
    CHECK_EQ(tc_kind_destroy(k), TC_OK);
    CHECK_EQ(tc_kind_stat(k, TC_STAT_ALLOCATED, &v), TC_ERR_DESTROYED);
}

int main(void) {
    RUN(dram_basic_allocation_roundtrip);
    RUN(calloc_zeroes_and_rejects_overflow);
    RUN(posix_memalign_validates_alignment);
    RUN(free_with_null_or_wrong_kind_returns_memory_to_its_owner);
    RUN(realloc_keeps_kind_or_moves_to_requested_kind);
    RUN(realloc_within_a_kind_resizes_in_place_or_moves_keeping_the_data);
    RUN(null_arguments_are_harmless);
    RUN(defrag_reallocate_lowers_active_memory);
    RUN(stats_reject_bad_arguments_and_count_allocations);
    return CHECK_DONE();
}
