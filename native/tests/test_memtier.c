/* memtier: the builder's checks, the ctl names, STATIC_RATIO and DYNAMIC_THRESHOLD keeping the
 * ratio between a DRAM tier and a file-backed tier, and per-kind accounting. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "memkind_memtier.h"

static memkind_t pmem;

static unsigned long rng_state = 88172645463325252ul;
static size_t rnd(size_t lo, size_t hi) { /* xorshift, uniform enough in [lo, hi] */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return lo + rng_state % (hi - lo + 1);
}

TEST(builder_rejects_bad_configurations) {
    CHECK(memtier_builder_new(MEMTIER_POLICY_DATA_HOTNESS) == NULL);
    CHECK(memtier_builder_new((memtier_policy_t)99) == NULL);
    struct memtier_builder *b = memtier_builder_new(MEMTIER_POLICY_STATIC_RATIO);
    CHECK(b != NULL);
    CHECK(memtier_builder_construct_memtier_memory(b) == NULL); /* no tier */
    CHECK_EQ(memtier_builder_add_tier(b, NULL, 1), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memtier_builder_add_tier(b, MEMKIND_DEFAULT, 0), MEMKIND_ERROR_INVALID);
    if (memkind_check_available(MEMKIND_HBW) != MEMKIND_SUCCESS)
        CHECK_EQ(memtier_builder_add_tier(b, MEMKIND_HBW, 1), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memtier_builder_add_tier(b, MEMKIND_DEFAULT, 1), 0);
    CHECK_EQ(memtier_builder_add_tier(b, MEMKIND_DEFAULT, 2), MEMKIND_ERROR_INVALID); /* twice */
    size_t v = 10;
    CHECK_EQ(memtier_ctl_set(b, "policy.dynamic_threshold.thresholds[0].val", &v),
             -1); /* not a DYNAMIC_THRESHOLD builder (memkind's -1) */
    memtier_builder_delete(b);

    b = memtier_builder_new(MEMTIER_POLICY_DYNAMIC_THRESHOLD);
    CHECK_EQ(memtier_builder_add_tier(b, MEMKIND_DEFAULT, 1), 0);
    CHECK(memtier_builder_construct_memtier_memory(b) == NULL); /* needs two tiers */
    CHECK_EQ(memtier_builder_add_tier(b, pmem, 1), 0);
    const char *bad[] = {"policy.dynamic_threshold.thresholds[0].value",
                         "policy.dynamic_threshold.thresholds[].val",
                         "policy.dynamic_threshold.thresholds[99].val",
                         "policy.dynamic_threshold.thresholds[0]val",
                         "policy.static.thresholds[0].val",
                         "policy.dynamic_threshold.nope"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_EQ(memtier_ctl_set(b, bad[i], &v), -1);
    /* As memkind: values are checked when the memory is constructed (a negative trigger or
     * degree fails there); check_cnt 0 and a degree above 1 are accepted. */
    float neg = -0.1f, dflt = 0.02f;
    CHECK_EQ(memtier_ctl_set(b, "policy.dynamic_threshold.trigger", &neg), 0);
    CHECK(memtier_builder_construct_memtier_memory(b) == NULL);
    CHECK_EQ(memtier_ctl_set(b, "policy.dynamic_threshold.trigger", &dflt), 0);
    v = 5000; /* above the default max 1536 */
    CHECK_EQ(memtier_ctl_set(b, "policy.dynamic_threshold.thresholds[0].val", &v), 0);
    CHECK(memtier_builder_construct_memtier_memory(b) == NULL);
    v = 6000;
    CHECK_EQ(memtier_ctl_set(b, "policy.dynamic_threshold.thresholds[0].max", &v), 0);
    struct memtier_memory *m = memtier_builder_construct_memtier_memory(b);
    CHECK(m != NULL);
    memtier_delete_memtier_memory(m);
    memtier_builder_delete(b);
}

TEST(static_ratio_keeps_one_to_four) {
    struct memtier_builder *b = memtier_builder_new(MEMTIER_POLICY_STATIC_RATIO);
    CHECK_EQ(memtier_builder_add_tier(b, MEMKIND_DEFAULT, 1), 0);
    CHECK_EQ(memtier_builder_add_tier(b, pmem, 4), 0);
    struct memtier_memory *m = memtier_builder_construct_memtier_memory(b);
    memtier_builder_delete(b); /* the memory outlives its builder */
    CHECK(m != NULL);
    if (!m) return;
    size_t dram0 = memtier_kind_allocated_size(MEMKIND_DEFAULT);
    enum { N = 20000 };
    static void *ptrs[N];
    size_t on_pmem = 0;
    for (int i = 0; i < N; i++) {
        ptrs[i] = memtier_malloc(m, rnd(8, 4096));
        CHECK(ptrs[i] != NULL);
        on_pmem += memkind_detect_kind(ptrs[i]) == pmem;
    }
    double d = (double)(memtier_kind_allocated_size(MEMKIND_DEFAULT) - dram0);
    double p = (double)memtier_kind_allocated_size(pmem);
    CHECK(p / d > 3.9 && p / d < 4.1);
    CHECK(on_pmem > N / 2);
    /* realloc stays on the pointer's tier and keeps the accounting exact */
    for (int i = 0; i < N; i += 2) {
        memkind_t k = memkind_detect_kind(ptrs[i]);
        ptrs[i] = memtier_realloc(m, ptrs[i], 5000);
        CHECK(ptrs[i] && memkind_detect_kind(ptrs[i]) == k);
    }
    size_t usable = 0;
    for (int i = 0; i < N; i++)
        if (memkind_detect_kind(ptrs[i]) == pmem) usable += memtier_usable_size(ptrs[i]);
    CHECK_EQ(memtier_kind_allocated_size(pmem), usable);
    for (int i = 0; i < N; i++) memtier_free(ptrs[i]);
    CHECK_EQ(memtier_kind_allocated_size(pmem), 0);
    CHECK_EQ(memtier_kind_allocated_size(MEMKIND_DEFAULT), dram0);
    memtier_delete_memtier_memory(m);
}

TEST(dynamic_threshold_splits_by_size_then_moves_toward_ratio) {
    struct memtier_builder *b = memtier_builder_new(MEMTIER_POLICY_DYNAMIC_THRESHOLD);
    CHECK_EQ(memtier_builder_add_tier(b, MEMKIND_DEFAULT, 1), 0);
    CHECK_EQ(memtier_builder_add_tier(b, pmem, 4), 0);
    size_t val = 64, min = 1, max = 10000;
    unsigned cnt = 20;
    float trigger = 0.02f, degree = 0.05f;
    CHECK_EQ(memtier_ctl_set(b, "policy.dynamic_threshold.thresholds[0].val", &val), 0);
    CHECK_EQ(memtier_ctl_set(b, "policy.dynamic_threshold.thresholds[0].min", &min), 0);
    CHECK_EQ(memtier_ctl_set(b, "policy.dynamic_threshold.thresholds[0].max", &max), 0);
    CHECK_EQ(memtier_ctl_set(b, "policy.dynamic_threshold.check_cnt", &cnt), 0);
    CHECK_EQ(memtier_ctl_set(b, "policy.dynamic_threshold.trigger", &trigger), 0);
    CHECK_EQ(memtier_ctl_set(b, "policy.dynamic_threshold.degree", &degree), 0);
    struct memtier_memory *m = memtier_builder_construct_memtier_memory(b);
    memtier_builder_delete(b);
    CHECK(m != NULL);
    if (!m) return;
    size_t dram0 = memtier_kind_allocated_size(MEMKIND_DEFAULT);
    /* Before the first check: below 64 bytes on DRAM, 64 and above on the file tier. */
    void *small = memtier_malloc(m, 63), *large = memtier_malloc(m, 64);
    CHECK(memkind_detect_kind(small) == MEMKIND_DEFAULT);
    CHECK(memkind_detect_kind(large) == pmem);
    memtier_free(small);
    memtier_free(large);
    enum { N = 40000 };
    static void *ptrs[N];
    for (int i = 0; i < N; i++) ptrs[i] = memtier_malloc(m, rnd(16, 2048));
    double d = (double)(memtier_kind_allocated_size(MEMKIND_DEFAULT) - dram0);
    double p = (double)memtier_kind_allocated_size(pmem);
    /* 64 bytes would leave DRAM almost empty; the moving threshold brings it near 1:4. */
    CHECK(p / d > 3.0 && p / d < 5.0);
    for (int i = 0; i < N; i++) memtier_free(ptrs[i]);
    CHECK_EQ(memtier_kind_allocated_size(pmem), 0);
    memtier_delete_memtier_memory(m);
}

TEST(three_tiers_use_default_thresholds_in_order) {
    memkind_t pmem2;
    CHECK_EQ(memkind_create_pmem("/dev/shm", 0, &pmem2), MEMKIND_SUCCESS);
    struct memtier_builder *b = memtier_builder_new(MEMTIER_POLICY_DYNAMIC_THRESHOLD);
    CHECK_EQ(memtier_builder_add_tier(b, MEMKIND_DEFAULT, 1), 0);
    CHECK_EQ(memtier_builder_add_tier(b, pmem, 1), 0);
    CHECK_EQ(memtier_builder_add_tier(b, pmem2, 1), 0);
    size_t min1 = 100; /* below thresholds[0].max (1536): the thresholds would overlap */
    CHECK_EQ(memtier_ctl_set(b, "policy.dynamic_threshold.thresholds[1].min", &min1), 0);
    CHECK(memtier_builder_construct_memtier_memory(b) == NULL);
    min1 = 1537; /* the default */
    CHECK_EQ(memtier_ctl_set(b, "policy.dynamic_threshold.thresholds[1].min", &min1), 0);
    struct memtier_memory *m = memtier_builder_construct_memtier_memory(b);
    memtier_builder_delete(b);
    CHECK(m != NULL);
    if (m) {
        /* defaults: 1024 between tiers 0 and 1, 2048 between tiers 1 and 2 */
        void *a = memtier_malloc(m, 1023), *c = memtier_malloc(m, 1024),
             *d = memtier_malloc(m, 2048);
        CHECK(memkind_detect_kind(a) == MEMKIND_DEFAULT);
        CHECK(memkind_detect_kind(c) == pmem);
        CHECK(memkind_detect_kind(d) == pmem2);
        memtier_free(a);
        memtier_free(c);
        memtier_free(d);
        CHECK_EQ(memtier_kind_allocated_size(pmem2), 0);
        memtier_delete_memtier_memory(m);
    }
    CHECK_EQ(memkind_destroy_kind(pmem2), MEMKIND_SUCCESS);
}

TEST(kind_variants_account_and_follow_memkind) {
    size_t before = memtier_kind_allocated_size(pmem);
    char *p = memtier_kind_malloc(pmem, 100);
    CHECK(p && memtier_kind_allocated_size(pmem) == before + memtier_usable_size(p));
    p = memtier_kind_realloc(pmem, p, 10000);
    CHECK(p && memtier_kind_allocated_size(pmem) == before + memtier_usable_size(p));
    CHECK(memtier_kind_realloc(pmem, p, 0) == NULL); /* frees */
    CHECK_EQ(memtier_kind_allocated_size(pmem), before);
    int *z = memtier_kind_calloc(pmem, 100, sizeof(int));
    CHECK(z && z[0] == 0 && z[99] == 0);
    memtier_kind_free(pmem, z);
    void *a = NULL;
    CHECK_EQ(memtier_kind_posix_memalign(pmem, &a, 3, 64), EINVAL);
    CHECK_EQ(memtier_kind_posix_memalign(pmem, &a, 4096, 64), 0);
    CHECK(a && ((uintptr_t)a & 4095) == 0);
    memtier_kind_free(NULL, a);
    CHECK_EQ(memtier_kind_allocated_size(pmem), before);
    CHECK(memtier_kind_malloc(pmem, 0) == NULL); /* memkind's size-0 result */
    memtier_free(NULL);
    CHECK(memtier_malloc(NULL, 10) == NULL);
    CHECK_EQ(memtier_posix_memalign(NULL, &a, 64, 64), EINVAL);
}

int main(void) {
    if (memkind_create_pmem("/dev/shm", 0, &pmem) != MEMKIND_SUCCESS) {
        fprintf(stderr, "cannot create a file kind in /dev/shm\n");
        return 1;
    }
    RUN(builder_rejects_bad_configurations);
    RUN(static_ratio_keeps_one_to_four);
    RUN(dynamic_threshold_splits_by_size_then_moves_toward_ratio);
    RUN(three_tiers_use_default_thresholds_in_order);
    RUN(kind_variants_account_and_follow_memkind);
    CHECK_EQ(memkind_destroy_kind(pmem), MEMKIND_SUCCESS);
    return CHECK_DONE();
}
