/* Fixed kinds over caller memory: allocation stays inside the area, detection works for
 * areas sharing granules with other memory, exhaustion fails cleanly, destroy restores. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "check.h"
#include "tiercache/tiercache.h"

static void exercise(char *area, size_t len) {
    tc_kind_t *k;
    CHECK_EQ(tc_kind_create_fixed(area, len, &k), TC_OK);
    size_t cap;
    CHECK_EQ(tc_kind_capacity(k, &cap), TC_OK);
    CHECK_EQ(cap, len);
    void *ptrs[4096];
    int n = 0;
    errno = 0;
    while (n < 4096 && (ptrs[n] = tc_malloc(k, 4000)) != NULL) {
        CHECK((char *)ptrs[n] >= area && (char *)ptrs[n] + 4000 <= area + len);
        CHECK(tc_detect_kind(ptrs[n]) == k);
        n++;
    }
    CHECK(n > 0 && n < 4096);
    CHECK_EQ(errno, ENOMEM);
    void *d = tc_malloc(tc_kind_dram(), 100); /* DRAM pointers still detect as DRAM */
    CHECK(tc_detect_kind(d) == tc_kind_dram());
    tc_free(NULL, d);
    for (int i = 0; i < n; i++) tc_free(NULL, ptrs[i]);
    void *again = tc_malloc(k, 1000);
    CHECK(again);
    tc_free(k, again);
    CHECK_EQ(tc_kind_destroy(k), TC_OK);
    CHECK_EQ(tc_kind_destroy(k), TC_ERR_DESTROYED);
    CHECK(tc_detect_kind(area + len / 2) == tc_kind_dram()); /* index restored */
}

TEST(fixed_kind_on_a_granule_aligned_mapping) {
    size_t len = 8 << 20;
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    exercise(m, len);
    munmap(m, len);
}

TEST(fixed_kind_on_an_unaligned_heap_buffer_sharing_granules) {
    size_t len = (3 << 20) + 12345;
    char *buf = tc_malloc(tc_kind_dram(), len + 64);
    void *neighbour = tc_malloc(tc_kind_dram(), 64);
    exercise(buf + 7, len);
    CHECK(tc_detect_kind(neighbour) == tc_kind_dram());
    tc_free(NULL, neighbour);
    tc_free(NULL, buf);
}

TEST(two_fixed_kinds_in_one_granule_are_told_apart) {
    static char a[64 << 10] __attribute__((aligned(4096))),
        b[64 << 10] __attribute__((aligned(4096)));
    tc_kind_t *ka, *kb;
    CHECK_EQ(tc_kind_create_fixed(a, sizeof a, &ka), TC_OK);
    CHECK_EQ(tc_kind_create_fixed(b, sizeof b, &kb), TC_OK);
    void *pa = tc_malloc(ka, 100), *pb = tc_malloc(kb, 100);
    CHECK(tc_detect_kind(pa) == ka);
    CHECK(tc_detect_kind(pb) == kb);
    tc_free(NULL, pa);
    tc_free(NULL, pb);
    CHECK_EQ(tc_kind_destroy(ka), TC_OK);
    pb = tc_malloc(kb, 100);
    CHECK(tc_detect_kind(pb) == kb);
    tc_free(NULL, pb);
    CHECK_EQ(tc_kind_destroy(kb), TC_OK);
}

TEST(fixed_kind_rejects_bad_areas) {
    tc_kind_t *k;
    char small[100];
    CHECK_EQ(tc_kind_create_fixed(NULL, 1 << 20, &k), TC_ERR_INVALID);
    CHECK_EQ(tc_kind_create_fixed(small, sizeof small, &k), TC_ERR_INVALID);
    CHECK_EQ(tc_kind_create_fixed((void *)(UINTPTR_MAX - 100), 1000, &k), TC_ERR_INVALID);
    CHECK_EQ(tc_kind_create_fixed(small, sizeof small, NULL), TC_ERR_INVALID);
}

int main(void) {
    RUN(fixed_kind_on_a_granule_aligned_mapping);
    RUN(fixed_kind_on_an_unaligned_heap_buffer_sharing_granules);
    RUN(two_fixed_kinds_in_one_granule_are_told_apart);
    RUN(fixed_kind_rejects_bad_areas);
    return CHECK_DONE();
}
