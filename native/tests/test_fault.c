/* The test-only fault switch (tiercache/testing.h): the nth call of a primitive fails with the
 * chosen errno, the library reports it as an error code, and works again once disarmed. */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "tiercache/testing.h"
#include "tiercache/tiercache.h"

static char dir[64];

TEST(unknown_primitive_or_errno_is_invalid) {
    CHECK_EQ(tc_testing_fault_arm("nope", 1, 1, ENOMEM), TC_ERR_INVALID);
    CHECK_EQ(tc_testing_fault_arm(NULL, 1, 1, ENOMEM), TC_ERR_INVALID);
    CHECK_EQ(tc_testing_fault_arm("reserve", 1, 1, 0), TC_ERR_INVALID);
    CHECK_EQ(tc_testing_fault_calls("nope"), 0);
}

TEST(failing_open_makes_kind_creation_fail_with_the_errno) {
    tc_kind_t *k;
    CHECK_EQ(tc_testing_fault_arm("open_tmpfile", 1, 1, ENOSPC), TC_OK);
    CHECK_EQ(tc_kind_create_file(dir, 0, TC_FILE_PERFORMANCE, &k), TC_ERR_NOMEM);
    CHECK_EQ(tc_testing_fault_injected(), 1);
    CHECK_EQ(tc_kind_create_file(dir, 0, TC_FILE_PERFORMANCE, &k), TC_OK); /* call 2 */
    tc_testing_fault_disarm();
    CHECK_EQ(tc_kind_destroy(k), TC_OK);
}

TEST(failing_file_growth_fails_malloc_until_disarmed) {
    tc_kind_t *k;
    CHECK_EQ(tc_kind_create_file(dir, 0, TC_FILE_PERFORMANCE, &k), TC_OK);
    CHECK_EQ(tc_testing_fault_arm("file_alloc", 1, 0, ENOSPC), TC_OK); /* every call fails */
    errno = 0;
    void *p = tc_malloc(k, 8 << 20);
    CHECK(p == NULL);
    CHECK_EQ(errno, ENOMEM);
    CHECK(tc_testing_fault_calls("file_alloc") >= 1);
    CHECK(tc_testing_fault_injected() >= 1);
    tc_testing_fault_disarm();
    p = tc_malloc(k, 8 << 20);
    CHECK(p != NULL);
    tc_free(NULL, p);
    CHECK_EQ(tc_kind_destroy(k), TC_OK);
}

TEST(counting_only_never_fails) {
    tc_kind_t *k;
    CHECK_EQ(tc_testing_fault_arm("any", 0, 1, ENOMEM), TC_OK);
    CHECK_EQ(tc_kind_create_file(dir, 0, TC_FILE_PERFORMANCE, &k), TC_OK);
    void *p = tc_malloc(k, 1 << 20);
    CHECK(p != NULL);
    CHECK(tc_testing_fault_calls("any") >= tc_testing_fault_calls("open_tmpfile") + 1);
    CHECK_EQ(tc_testing_fault_injected(), 0);
    tc_testing_fault_disarm();
    tc_free(NULL, p);
    CHECK_EQ(tc_kind_destroy(k), TC_OK);
}

int main(void) {
    snprintf(dir, sizeof dir, "/dev/shm/tc-fault-%d", (int)getpid());
    if (mkdir(dir, 0700)) return 1;
    RUN(unknown_primitive_or_errno_is_invalid);
    RUN(failing_open_makes_kind_creation_fail_with_the_errno);
    RUN(failing_file_growth_fails_malloc_until_disarmed);
    RUN(counting_only_never_fails);
    rmdir(dir);
    return CHECK_DONE();
}
