/* The memkind 1.14 API: results match what Debian's libmemkind 1.14.0 returns for the same
 * calls (observed), except where memkind is unsafe (destroying built-in kinds). */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "memkind.h"

/* memkind_get_kind_by_partition is deprecated by design; its compatibility is tested here. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

TEST(heap_edge_cases_match_memkind) {
    void *p = (void *)0x5;
    CHECK(memkind_malloc(MEMKIND_DEFAULT, 0) == NULL);
    CHECK(memkind_calloc(MEMKIND_DEFAULT, 0, 8) == NULL);
    CHECK(memkind_calloc(MEMKIND_DEFAULT, SIZE_MAX / 2, 4) == NULL);
    CHECK_EQ(memkind_posix_memalign(MEMKIND_DEFAULT, &p, 64, 0), 0);
    CHECK(p == NULL);
    p = (void *)0x5;
    CHECK_EQ(memkind_posix_memalign(MEMKIND_DEFAULT, &p, 3, 8), EINVAL);
    CHECK(p == (void *)0x5);
    void *q = memkind_malloc(MEMKIND_DEFAULT, 10);
    CHECK(memkind_realloc(MEMKIND_DEFAULT, q, 0) == NULL);
    CHECK(memkind_realloc(MEMKIND_DEFAULT, NULL, 0) == NULL);
    CHECK_EQ(memkind_malloc_usable_size(MEMKIND_DEFAULT, NULL), 0);
    memkind_free(MEMKIND_DEFAULT, NULL);
    memkind_free(NULL, NULL);
}

TEST(pmem_kind_lifecycle_and_errors) {
    memkind_t k;
    CHECK_EQ(memkind_create_pmem("/nonexistent", 0, &k), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memkind_create_pmem("/dev/shm", 1000, &k), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memkind_create_pmem("/etc/passwd", 0, &k), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memkind_create_pmem("/dev/shm", MEMKIND_PMEM_MIN_SIZE, &k), MEMKIND_SUCCESS);
    CHECK_EQ(memkind_check_available(k), MEMKIND_SUCCESS);
    CHECK_EQ(memkind_get_capacity(k), MEMKIND_PMEM_MIN_SIZE);
    char *p = memkind_malloc(k, 100);
    CHECK(p && memkind_detect_kind(p) == k);
    p = memkind_realloc(NULL, p, 1000);
    CHECK(p && memkind_detect_kind(p) == k);
    CHECK(memkind_malloc_usable_size(k, p) >= 1000);
    memkind_free(NULL, p);
    CHECK(memkind_malloc(k, 64 << 20) == NULL); /* over max_size */
    CHECK_EQ(memkind_destroy_kind(k), MEMKIND_SUCCESS);
    CHECK_EQ(memkind_destroy_kind(k), MEMKIND_ERROR_OPERATION_FAILED); /* double destroy */
    CHECK_EQ(memkind_destroy_kind(MEMKIND_DEFAULT), MEMKIND_ERROR_OPERATION_FAILED);
}

TEST(pmem_config_functions) {
    struct memkind_config *cfg = memkind_config_new();
    CHECK(cfg);
    memkind_config_set_path(cfg, "/dev/shm");
    memkind_config_set_size(cfg, 0);
    memkind_config_set_memory_usage_policy(cfg, MEMKIND_MEM_USAGE_POLICY_CONSERVATIVE);
    memkind_t k;
    CHECK_EQ(memkind_create_pmem_with_config(cfg, &k), MEMKIND_SUCCESS);
    void *p = memkind_calloc(k, 10, 10);
    CHECK(p && memkind_detect_kind(p) == k);
    memkind_free(k, p);
    CHECK_EQ(memkind_destroy_kind(k), MEMKIND_SUCCESS);
    memkind_config_set_memory_usage_policy(cfg, MEMKIND_MEM_USAGE_POLICY_MAX_VALUE);
    CHECK_EQ(memkind_create_pmem_with_config(cfg, &k), MEMKIND_ERROR_INVALID);
    memkind_config_set_path(cfg, NULL);
    memkind_config_set_memory_usage_policy(cfg, MEMKIND_MEM_USAGE_POLICY_DEFAULT);
    CHECK_EQ(memkind_create_pmem_with_config(cfg, &k), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memkind_create_pmem_with_config(NULL, &k), MEMKIND_ERROR_INVALID);
    memkind_config_delete(cfg);
}

TEST(fixed_kind_via_memkind) {
    static char area[1 << 20] __attribute__((aligned(4096)));
    memkind_t k;
    CHECK_EQ(memkind_create_fixed(area, sizeof area, &k), MEMKIND_SUCCESS);
    char *p = memkind_malloc(k, 1000);
    CHECK(p >= area && p < area + sizeof area);
    CHECK(memkind_detect_kind(p) == k);
    CHECK_EQ(memkind_get_capacity(k), sizeof area);
    memkind_free(NULL, p);
    CHECK_EQ(memkind_destroy_kind(k), MEMKIND_SUCCESS);
}

TEST(static_kinds_and_partitions) {
    CHECK_EQ(memkind_check_available(MEMKIND_DEFAULT), MEMKIND_SUCCESS);
    CHECK(memkind_get_capacity(MEMKIND_DEFAULT) > 0);
    memkind_t all[] = {MEMKIND_REGULAR, MEMKIND_HUGETLB, MEMKIND_HBW, MEMKIND_HBW_ALL,
                       MEMKIND_HBW_PREFERRED, MEMKIND_HBW_HUGETLB, MEMKIND_HBW_ALL_HUGETLB,
                       MEMKIND_HBW_PREFERRED_HUGETLB, MEMKIND_HBW_INTERLEAVE, MEMKIND_INTERLEAVE,
                       MEMKIND_DAX_KMEM, MEMKIND_DAX_KMEM_ALL, MEMKIND_DAX_KMEM_PREFERRED,
                       MEMKIND_DAX_KMEM_INTERLEAVE, MEMKIND_HIGHEST_CAPACITY,
                       MEMKIND_HIGHEST_CAPACITY_PREFERRED, MEMKIND_HIGHEST_CAPACITY_LOCAL,
                       MEMKIND_HIGHEST_CAPACITY_LOCAL_PREFERRED, MEMKIND_LOWEST_LATENCY_LOCAL,
                       MEMKIND_LOWEST_LATENCY_LOCAL_PREFERRED, MEMKIND_HIGHEST_BANDWIDTH_LOCAL,
                       MEMKIND_HIGHEST_BANDWIDTH_LOCAL_PREFERRED, MEMKIND_GBTLB,
                       MEMKIND_HBW_GBTLB, MEMKIND_HBW_PREFERRED_GBTLB};
    size_t n = sizeof all / sizeof *all;
    for (size_t i = 0; i < n; i++) {
        CHECK(all[i] != NULL && all[i] != MEMKIND_DEFAULT);
        /* Topology kinds allocate exactly when they say they are available; the 1 GiB-page
         * kinds (the last three) never are. */
        int avail = memkind_check_available(all[i]);
        if (i >= n - 3) CHECK_EQ(avail, MEMKIND_ERROR_UNAVAILABLE);
        void *p = memkind_malloc(all[i], 64);
        if (avail == MEMKIND_SUCCESS) {
            CHECK(p != NULL);
            CHECK(memkind_detect_kind(p) == all[i]);
            CHECK(memkind_get_capacity(all[i]) > 0);
            memkind_free(NULL, p);
        } else {
            CHECK_EQ(avail, MEMKIND_ERROR_UNAVAILABLE);
            CHECK(p == NULL);
            CHECK_EQ(memkind_get_capacity(all[i]), -1);
        }
        CHECK_EQ(memkind_destroy_kind(all[i]), MEMKIND_ERROR_OPERATION_FAILED);
    }
    /* Every machine has nodes with CPUs: REGULAR, INTERLEAVE and HIGHEST_CAPACITY work. */
    CHECK_EQ(memkind_check_available(MEMKIND_REGULAR), MEMKIND_SUCCESS);
    CHECK_EQ(memkind_check_available(MEMKIND_INTERLEAVE), MEMKIND_SUCCESS);
    CHECK_EQ(memkind_check_available(MEMKIND_HIGHEST_CAPACITY), MEMKIND_SUCCESS);
    memkind_t k;
    CHECK_EQ(memkind_get_kind_by_partition(MEMKIND_PARTITION_DEFAULT, &k), MEMKIND_SUCCESS);
    CHECK(k == MEMKIND_DEFAULT);
    CHECK_EQ(memkind_get_kind_by_partition(MEMKIND_PARTITION_REGULAR, &k), MEMKIND_SUCCESS);
    CHECK(k == MEMKIND_REGULAR);
    CHECK_EQ(memkind_get_kind_by_partition(999, &k), MEMKIND_ERROR_UNAVAILABLE);
    CHECK_EQ(memkind_get_kind_by_partition(-1, &k), MEMKIND_ERROR_UNAVAILABLE);
    CHECK_EQ(memkind_create_kind(0, MEMKIND_POLICY_BIND_LOCAL, 0, &k), MEMKIND_ERROR_INVALID);
    if (memkind_check_available(MEMKIND_HBW))
        CHECK_EQ(memkind_create_kind(MEMKIND_MEMTYPE_HIGH_BANDWIDTH, MEMKIND_POLICY_BIND_LOCAL, 0,
                                     &k), MEMKIND_ERROR_MEMTYPE_NOT_AVAILABLE);
    CHECK_EQ(memkind_create_kind(MEMKIND_MEMTYPE_DEFAULT, MEMKIND_POLICY_PREFERRED_LOCAL, 0, &k),
             MEMKIND_SUCCESS);
    CHECK(k == MEMKIND_DEFAULT);
    CHECK_EQ(memkind_create_kind(MEMKIND_MEMTYPE_DEFAULT | MEMKIND_MEMTYPE_HIGH_BANDWIDTH,
                                 MEMKIND_POLICY_INTERLEAVE_ALL, 0, &k), MEMKIND_SUCCESS);
    CHECK(k == MEMKIND_INTERLEAVE);
    CHECK_EQ(memkind_create_kind(MEMKIND_MEMTYPE_DEFAULT, MEMKIND_POLICY_BIND_ALL, 0, &k),
             MEMKIND_ERROR_UNAVAILABLE);
    CHECK_EQ(memkind_create_kind(MEMKIND_MEMTYPE_DEFAULT, MEMKIND_POLICY_MAX_VALUE, 0, &k),
             MEMKIND_ERROR_INVALID);
}

static size_t printed;
static void count_cb(void *opaque, const char *s) {
    (void)opaque;
    printed += strlen(s);
}

TEST(stats_and_messages) {
    CHECK_EQ(memkind_get_version(), 1014000);
    char msg[MEMKIND_ERROR_MESSAGE_SIZE];
    memkind_error_message(MEMKIND_ERROR_INVALID, msg, sizeof msg);
    CHECK(!strncmp(msg, "<memkind> ", 10) && strlen(msg) > 12);
    memkind_error_message(-999, msg, sizeof msg);
    CHECK(strstr(msg, "-999") != NULL);
    memkind_error_message(MEMKIND_ERROR_INVALID, msg, 5); /* truncates, stays terminated */
    CHECK_EQ(strlen(msg), 4);
    CHECK_EQ(memkind_check_dax_path("/dev/shm"), MEMKIND_ERROR_MMAP);
    CHECK_EQ(memkind_update_cached_stats(), MEMKIND_SUCCESS);
    size_t v;
    CHECK_EQ(memkind_get_stat(NULL, MEMKIND_STAT_TYPE_MAX_VALUE, &v), MEMKIND_ERROR_INVALID);
    CHECK_EQ(memkind_get_stat(NULL, MEMKIND_STAT_TYPE_RESIDENT, &v), MEMKIND_SUCCESS);
    CHECK(v > 0);
    CHECK_EQ(memkind_get_stat(MEMKIND_DEFAULT, MEMKIND_STAT_TYPE_ALLOCATED, &v), MEMKIND_SUCCESS);
    CHECK_EQ(memkind_stats_print(NULL, NULL, (memkind_stat_print_opt)(1u << 12)),
             MEMKIND_ERROR_INVALID);
    CHECK_EQ(memkind_stats_print(count_cb, NULL, MEMKIND_STAT_PRINT_JSON_FORMAT), MEMKIND_SUCCESS);
    CHECK(printed > 100);
    CHECK_EQ(memkind_set_bg_threads(true), MEMKIND_SUCCESS);
    CHECK_EQ(memkind_set_bg_threads(false), MEMKIND_SUCCESS);
}

int main(void) {
    RUN(heap_edge_cases_match_memkind);
    RUN(pmem_kind_lifecycle_and_errors);
    RUN(pmem_config_functions);
    RUN(fixed_kind_via_memkind);
    RUN(static_kinds_and_partitions);
    RUN(stats_and_messages);
    return CHECK_DONE();
}
