/* A minimal test harness: CHECK(cond) records a failure with its location and goes on;
 * TEST(name) declares a test, RUN(name) runs it; main returns non-zero on any failure. */
#ifndef TC_CHECK_H
#define TC_CHECK_H
#include <stdio.h>
#include <stdlib.h>

static int check_failures, check_count;
#define CHECK(cond)                                                                  \
    do {                                                                             \
        check_count++;                                                               \
        if (!(cond)) {                                                               \
            check_failures++;                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)
#define CHECK_EQ(a, b)                                                                     \
    do {                                                                                   \
        long long va_ = (long long)(a), vb_ = (long long)(b);                              \
        check_count++;                                                                     \
        if (va_ != vb_) {                                                                  \
            check_failures++;                                                              \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld vs %lld)\n", __FILE__, \
                    __LINE__, #a, #b, va_, vb_);                                           \
        }                                                                                  \
    } while (0)
#define TEST(name) static void name(void)
#define RUN(name)                                                              \
    do {                                                                       \
        int before_ = check_failures;                                          \
        name();                                                                \
        printf("%s %s\n", check_failures == before_ ? "ok  " : "FAIL", #name); \
    } while (0)
#define CHECK_DONE() \
    (printf("%d checks, %d failed\n", check_count, check_failures), check_failures ? 1 : 0)
#endif
