/* hbwmalloc: memkind 1.14's policy rules, PREFERRED's fallback to ordinary memory when the
 * machine has no HBW node, and real page placement (checked with move_pages) when it has one,
 * or when MEMKIND_HBW_NODES=0 makes node 0 stand in. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "hbwmalloc.h"
#include "memkind.h"

/* Run fn in a child process (the policy is process-wide and set once); its exit status. */
static int in_child(int (*fn)(void)) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) _exit(fn());
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
}

static int bind_policy_child(void) {
    if (hbw_set_policy(HBW_POLICY_BIND) != 0) return 1;
    if (hbw_set_policy(HBW_POLICY_PREFERRED) != EPERM) return 2; /* set once */
    if (hbw_get_policy() != HBW_POLICY_BIND) return 3;
    void *p = hbw_malloc(4096);
    if (hbw_check_available() == 0) {
        if (!p || hbw_verify_memory_region(p, 4096, HBW_TOUCH_PAGES) != 0) return 4;
    } else if (p || errno != ENOMEM) {
        return 5; /* BIND never falls back */
    }
    hbw_free(p);
    return 0;
}

static int interleave_child(void) {
    if (hbw_set_policy(HBW_POLICY_INTERLEAVE) != 0) return 1;
    void *p = NULL;
    if (hbw_posix_memalign_psize(&p, 64, 4096, HBW_PAGESIZE_2MB) != EINVAL) return 2;
    if (hbw_posix_memalign_psize(&p, 64, 4096, HBW_PAGESIZE_1GB) != EINVAL) return 3;
    return 0;
}

static int bad_policy_child(void) {
    if (hbw_set_policy((hbw_policy_t)0) != EINVAL) return 1;
    if (hbw_set_policy((hbw_policy_t)99) != EINVAL) return 2;
    if (hbw_set_policy(HBW_POLICY_BIND_ALL) != 0) return 3; /* a bad call does not count */
    return 0;
}

TEST(set_policy_is_once_and_before_allocation) {
    CHECK_EQ(in_child(bind_policy_child), 0);
    CHECK_EQ(in_child(interleave_child), 0);
    CHECK_EQ(in_child(bad_policy_child), 0);
}

/* The main process's first allocation: the default policy, which the allocation freezes. */
TEST(preferred_default_falls_back_and_freezes_policy) {
    CHECK_EQ(hbw_get_policy(), HBW_POLICY_PREFERRED);
    char *p = hbw_malloc(100000);
    CHECK(p != NULL);
    if (!p) return;
    memset(p, 7, 100000);
    CHECK(hbw_malloc_usable_size(p) >= 100000);
    if (hbw_check_available() == ENODEV) {
        /* No HBW node: ordinary memory, and verify says so. */
        CHECK(memkind_detect_kind(p) == MEMKIND_DEFAULT);
        CHECK_EQ(hbw_verify_memory_region(p, 100000, HBW_TOUCH_PAGES), -1);
    }
    CHECK_EQ(hbw_set_policy(HBW_POLICY_BIND), EPERM); /* after the first allocation */
    CHECK_EQ(hbw_get_policy(), HBW_POLICY_PREFERRED);
    p = hbw_realloc(p, 300000);
    CHECK(p && p[99999] == 7);
    hbw_free(p);
    int *z = hbw_calloc(1000, sizeof(int));
    CHECK(z && z[0] == 0 && z[999] == 0);
    hbw_free(z);
    CHECK(hbw_malloc(0) == NULL); /* memkind's documented size-0 result */
    hbw_free(NULL);
}

TEST(memalign_and_psize) {
    void *p = (void *)1;
    CHECK_EQ(hbw_posix_memalign(&p, 3, 64), EINVAL);
    CHECK_EQ(hbw_posix_memalign(&p, 4096, 10000), 0);
    CHECK(p && ((uintptr_t)p & 4095) == 0);
    hbw_free(p);
    CHECK_EQ(hbw_posix_memalign_psize(&p, 64, 64, HBW_PAGESIZE_4KB), 0);
    hbw_free(p);
    CHECK_EQ(hbw_posix_memalign_psize(&p, 64, 64, (hbw_pagesize_t)0), EINVAL);
    CHECK_EQ(hbw_posix_memalign_psize(&p, 64, 4096, HBW_PAGESIZE_1GB_STRICT), EINVAL);
    /* 2 MiB pages: available only with huge pages reserved; else ENOMEM, never a crash. */
    int r = hbw_posix_memalign_psize(&p, 64, 4096, HBW_PAGESIZE_2MB);
    CHECK(r == 0 || r == ENOMEM);
    if (r == 0) hbw_free(p);
}

TEST(verify_rejects_bad_arguments) {
    char buf[64];
    CHECK_EQ(hbw_verify_memory_region(NULL, 10, 0), EINVAL);
    CHECK_EQ(hbw_verify_memory_region(buf, 0, 0), EINVAL);
    CHECK_EQ(hbw_verify_memory_region(buf, 10, 2), EINVAL);
    /* an address range that is not mapped at all cannot be verified */
    size_t n = 1 << 20;
    void *gone = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(gone != MAP_FAILED);
    munmap(gone, n);
    CHECK_EQ(hbw_verify_memory_region(gone, n, 0), EFAULT);
    /* A stack page is ordinary memory unless node 0 is standing in as HBW. */
    int r = hbw_verify_memory_region(buf, sizeof buf, HBW_TOUCH_PAGES);
    CHECK(hbw_check_available() == 0 ? r == 0 || r == -1 : r == -1);
}

/* With HBW memory (real, or node 0 via MEMKIND_HBW_NODES=0), pages land on an HBW node. */
static int placement(void) {
    if (hbw_check_available() != 0) {
        printf("skip placement: MEMKIND_HBW is unavailable (no HBW node and the "
               "MEMKIND_HBW_NODES override is not supported by this build)\n");
        return 0;
    }
    size_t n = 4 << 20;
    char *p = hbw_malloc(n);
    CHECK(p != NULL);
    if (!p) return 1;
    CHECK_EQ(hbw_verify_memory_region(p, n, 0), -1); /* untouched: not backed yet */
    CHECK_EQ(hbw_verify_memory_region(p, n, HBW_TOUCH_PAGES), 0);
    CHECK(memkind_detect_kind(p) == MEMKIND_HBW_PREFERRED);
    hbw_free(p);
    return check_failures ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "placement") == 0) return placement();
    RUN(set_policy_is_once_and_before_allocation); /* children fork before any allocation */
    RUN(preferred_default_falls_back_and_freezes_policy);
    RUN(memalign_and_psize);
    RUN(verify_rejects_bad_arguments);
    /* The placement run, in a fresh process with node 0 standing in as HBW memory. */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("MEMKIND_HBW_NODES", "0", 1);
        execl("/proc/self/exe", argv[0], "placement", (char *)NULL);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    printf("%s placement_with_hbw_nodes_override\n",
           WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "ok  " : "FAIL");
    return CHECK_DONE();
}
