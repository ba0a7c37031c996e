/* In an ASan build, freed blocks of arena kinds are poisoned: reading one is reported (in a
 * child process, whose report the test reads), while live, reallocated and pinned cache values
 * read cleanly. Other builds skip. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tiercache/cache.h"
#include "tiercache/tiercache.h"

#if defined(__SANITIZE_ADDRESS__)
#define ASAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN_BUILD 1
#endif
#endif

#ifdef ASAN_BUILD
#include "check.h"

static char dir[64];

/* Run fn in a child with stderr captured into out; returns the child's wait status. */
static int in_child(void (*fn)(void), char *out, size_t cap) {
    int fds[2];
    if (pipe(fds)) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        fn();
        _exit(0);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(fds[0], out + n, cap - 1 - n)) > 0) n += (size_t)r;
    out[n] = 0;
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

static volatile unsigned char sink;

static void read_after_free(void) {
    tc_kind_t *k;
    if (tc_kind_create_file(dir, 0, TC_FILE_PERFORMANCE, &k)) _exit(3);
    unsigned char *p = tc_malloc(k, 4096);
    memset(p, 7, 4096);
    tc_free(NULL, p);
    sink = p[100]; /* must be reported */
}

static void reuse_and_pins(void) {
    tc_kind_t *k;
    if (tc_kind_create_file(dir, 0, TC_FILE_PERFORMANCE, &k)) _exit(3);
    for (int round = 0; round < 50; round++) { /* freed blocks come back usable */
        unsigned char *p = tc_malloc(k, 100 + round * 300);
        memset(p, round, 100 + round * 300);
        void *q = tc_realloc(NULL, p, 5000);
        sink = ((unsigned char *)q)[50];
        tc_free(NULL, q);
        unsigned char *z = tc_calloc(k, 1, 3000);
        sink = z[2999];
        tc_free(NULL, z);
    }
    /* A pinned value survives delete and close. */
    tc_cache_config_t cfg = {.ntiers = 2, .large_threshold = 4096};
    cfg.tiers[0] = (tc_cache_tier_config_t){tc_kind_dram(), 1 << 20};
    cfg.tiers[1] = (tc_cache_tier_config_t){k, 8 << 20};
    tc_cache_t *c;
    if (tc_cache_create(&cfg, &c)) _exit(4);
    static unsigned char big[20000];
    memset(big, 0x5a, sizeof big);
    tc_cache_set(c, 0, "k", 1, big, sizeof big, 0, 0);
    tc_cache_value_t v;
    if (tc_cache_get(c, 0, "k", 1, NULL, 0, &v) != 1 || !v.pin) _exit(5);
    tc_cache_set(c, 0, "k", 1, "new", 3, 0, 0);
    tc_cache_delete(c, 0, "k", 1);
    tc_cache_close(c);
    if (memcmp(v.data, big, sizeof big)) _exit(6);
    tc_cache_unpin(c, v.pin);
    tc_cache_destroy(c);
    tc_kind_destroy(k);
}

TEST(reading_a_freed_file_block_is_reported) {
    static char out[1 << 16];
    int st = in_child(read_after_free, out, sizeof out);
    CHECK(!(WIFEXITED(st) && WEXITSTATUS(st) == 0));
    CHECK(strstr(out, "use-after-poison") != NULL);
}

TEST(reused_reallocated_and_pinned_blocks_read_cleanly) {
    static char out[1 << 16];
    int st = in_child(reuse_and_pins, out, sizeof out);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(strstr(out, "AddressSanitizer") == NULL);
    if (strstr(out, "AddressSanitizer")) fputs(out, stderr);
}

int main(void) {
    snprintf(dir, sizeof dir, "/dev/shm/tc-asan-%d", (int)getpid());
    if (mkdir(dir, 0700)) return 1;
    RUN(reading_a_freed_file_block_is_reported);
    RUN(reused_reallocated_and_pinned_blocks_read_cleanly);
    rmdir(dir);
    return CHECK_DONE();
}
#else
int main(void) {
    puts("skipped: not an AddressSanitizer build (make test-asan runs it)");
    return 0;
}
#endif
