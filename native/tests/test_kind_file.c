/* File-backed kinds: argument and directory errors, no file left behind, private mode,
 * max_size enforcement, hole punching, many kinds at once, fork policy and threads. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "tiercache/tiercache.h"

static char dir[64];

static int count_entries(const char *path) {
    DIR *d = opendir(path);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    if (d) closedir(d);
    return n;
}

/* The descriptors of this process open on files in the test directory (backing files). */
static int backing_fds(int *fds, int max) {
    int n = 0;
    for (int fd = 3; fd < 1024 && n < max; fd++) {
        char link[64], target[512];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t len = readlink(link, target, sizeof target - 1);
        if (len <= 0) continue;
        target[len] = 0;
        if (!strncmp(target, dir, strlen(dir))) fds[n++] = fd;
    }
    return n;
}

/* st_blocks of the largest backing file, -1 when none is open. */
static long backing_blocks(void) {
    int fds[16], n = backing_fds(fds, 16);
    long best = -1;
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (!fstat(fds[i], &st) && (long)st.st_blocks > best) best = (long)st.st_blocks;
    }
    return best;
}

TEST(bad_arguments_and_directories_are_refused_with_codes) {
    tc_kind_t *k = (tc_kind_t *)0x1;
    CHECK_EQ(tc_kind_create_file(NULL, 0, TC_FILE_PERFORMANCE, &k), TC_ERR_INVALID);
    CHECK_EQ(tc_kind_create_file(dir, 0, TC_FILE_PERFORMANCE, NULL), TC_ERR_INVALID);
    CHECK_EQ(tc_kind_create_file(dir, TC_FILE_MIN_SIZE - 1, TC_FILE_PERFORMANCE, &k),
             TC_ERR_INVALID);
    CHECK_EQ(tc_kind_create_file(dir, 0, (tc_file_policy_t)7, &k), TC_ERR_INVALID);
    CHECK_EQ(tc_kind_create_file("/nonexistent/dir", 0, TC_FILE_PERFORMANCE, &k), TC_ERR_NOENT);
    CHECK_EQ(tc_kind_create_file("/etc/hostname", 0, TC_FILE_PERFORMANCE, &k), TC_ERR_NOENT);
    /* /proc accepts no regular files: not a usable backing directory */
    CHECK(tc_kind_create_file("/proc", 0, TC_FILE_PERFORMANCE, &k) != TC_OK);
    CHECK(k == (tc_kind_t *)0x1); /* untouched on error */
    /* A read-only filesystem: refused as not writable, even for root. */
    char ro[80];
    snprintf(ro, sizeof ro, "%s/ro", dir);
    mkdir(ro, 0700);
    if (mount("tmpfs", ro, "tmpfs", MS_RDONLY, "size=1m") == 0) {
        CHECK_EQ(tc_kind_create_file(ro, 0, TC_FILE_PERFORMANCE, &k), TC_ERR_ACCESS);
        umount(ro);
    } else {
        printf("    (read-only mount not possible here: %s; case skipped)\n", strerror(errno));
    }
    rmdir(ro);
}

TEST(backing_file_is_unlinked_private_and_gone_after_destroy) {
    tc_kind_t *k;
    CHECK_EQ(tc_kind_create_file(dir, 0, TC_FILE_PERFORMANCE, &k), TC_OK);
    CHECK_EQ(count_entries(dir), 0); /* never visible in the directory */
    void *p = tc_malloc(k, 1 << 20);
    CHECK(p);
    int fds[16], found = backing_fds(fds, 16);
    for (int i = 0; i < found; i++) {
        struct stat st;
        CHECK_EQ(fstat(fds[i], &st), 0);
        CHECK_EQ(st.st_mode & 0777, 0600);
        CHECK_EQ(st.st_nlink, 0);
        CHECK(fcntl(fds[i], F_GETFD) & FD_CLOEXEC);
    }
    CHECK_EQ(found, 1);
    tc_free(k, p);
    CHECK_EQ(tc_kind_destroy(k), TC_OK);
    CHECK_EQ(backing_blocks(), -1); /* descriptor closed */
    CHECK_EQ(tc_kind_destroy(k), TC_ERR_DESTROYED);
}

TEST(max_size_is_enforced_and_recoverable) {
    tc_kind_t *k;
    CHECK_EQ(tc_kind_create_file(dir, TC_FILE_MIN_SIZE, TC_FILE_PERFORMANCE, &k), TC_OK);
    size_t cap = 0;
    CHECK_EQ(tc_kind_capacity(k, &cap), TC_OK);
    CHECK_EQ(cap, TC_FILE_MIN_SIZE);
    errno = 0;
    CHECK(tc_malloc(k, 2 * TC_FILE_MIN_SIZE) == NULL); /* first request already over the limit */
    CHECK_EQ(errno, ENOMEM);
    enum { MAXP = 1 << 16 };
    static void *ptrs[MAXP];
    size_t n = 0, total = 0;
    errno = 0;
    while (n < MAXP && (ptrs[n] = tc_malloc(k, 4096)) != NULL) total += 4096, n++;
    CHECK(n < MAXP);
    CHECK_EQ(errno, ENOMEM);
    CHECK(total <= TC_FILE_MIN_SIZE);
    CHECK(total >= TC_FILE_MIN_SIZE / 2); /* most of the budget is usable */
    CHECK(tc_malloc(k, 64 << 20) == NULL);
    void *big = tc_malloc(tc_kind_dram(), 1 << 20); /* other kinds are unaffected */
    CHECK(big);
    tc_free(NULL, big);
    for (size_t i = 0; i < n; i++) tc_free(k, ptrs[i]);
    void *again = tc_malloc(k, 4096); /* freed space is usable again */
    CHECK(again);
    tc_free(k, again);
    printf("    16 MiB kind held %zu KiB of 4 KiB objects\n", total >> 10);
    CHECK_EQ(tc_kind_destroy(k), TC_OK);
}

TEST(conservative_policy_returns_file_space_at_once) {
    tc_kind_t *k;
    CHECK_EQ(tc_kind_create_file(dir, 0, TC_FILE_CONSERVATIVE, &k), TC_OK);
    char *p = tc_malloc(k, 64 << 20);
    CHECK(p);
    memset(p, 1, 64 << 20);
    long used = backing_blocks();
    tc_free(k, p);
    long after = backing_blocks();
    CHECK(used >= (64 << 20) / 512);
    CHECK(after < used / 4);
    printf("    file blocks: %ld KiB in use -> %ld KiB after free\n", used / 2, after / 2);
    CHECK_EQ(tc_kind_destroy(k), TC_OK);
}

TEST(a_thousand_file_kinds_live_at_once) {
    enum { N = 1000 };
    static tc_kind_t *kinds[N];
    static void *ptrs[N];
    int made = 0;
    for (; made < N; made++) {
        int e = tc_kind_create_file(dir, 0, TC_FILE_PERFORMANCE, &kinds[made]);
        if (e) {
            printf("    kind %d: %s\n", made, tc_strerror(e));
            break;
        }
        ptrs[made] = tc_malloc(kinds[made], 64);
        CHECK(ptrs[made]);
        memset(ptrs[made], made & 0xff, 64);
    }
    CHECK_EQ(made, N);
    for (int i = 0; i < made; i++) {
        CHECK(tc_detect_kind(ptrs[i]) == kinds[i]);
        CHECK(((unsigned char *)ptrs[i])[63] == (i & 0xff));
        tc_free(NULL, ptrs[i]);
    }
    for (int i = 0; i < made; i++) CHECK_EQ(tc_kind_destroy(kinds[i]), TC_OK);
}

TEST(forked_child_cannot_touch_the_parents_file_memory) {
    tc_kind_t *k;
    CHECK_EQ(tc_kind_create_file(dir, 0, TC_FILE_PERFORMANCE, &k), TC_OK);
    char *p = tc_malloc(k, 4096);
    strcpy(p, "parent data");
    pid_t pid = fork();
    if (pid == 0) {
        int bad = 0;
        errno = 0;
        if (tc_malloc(k, 64) != NULL || errno != ENOMEM) bad |= 1;
        tc_free(k, p);    /* a no-op in the child */
        tc_free(NULL, p); /* likewise */
        if (tc_kind_check_available(k) != TC_ERR_FORKED) bad |= 2;
        void *d = tc_malloc(tc_kind_dram(), 64); /* DRAM still works */
        if (!d) bad |= 4;
        tc_free(NULL, d);
        if (tc_kind_destroy(k) != TC_OK) bad |= 8; /* releases nothing of the parent's */
        _exit(bad);
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    CHECK(!strcmp(p, "parent data"));
    char *q = tc_malloc(k, 4096); /* the parent's kind is intact and usable */
    CHECK(q && q != p);
    tc_free(k, q);
    tc_free(k, p);
    CHECK_EQ(tc_kind_destroy(k), TC_OK);
}

TEST(child_reading_detached_memory_faults_instead_of_seeing_parent_writes) {
    tc_kind_t *k;
    CHECK_EQ(tc_kind_create_file(dir, 0, TC_FILE_PERFORMANCE, &k), TC_OK);
    volatile char *p = tc_malloc(k, 64);
    p[0] = 'x';
    pid_t pid = fork();
    if (pid == 0) {
        /* The default action, so that a sanitizer's handler does not report the fault. */
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        char c = p[0]; /* must not read shared memory */
        _exit(c == 'x' ? 3 : 4);
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
    tc_free(k, (void *)p);
    CHECK_EQ(tc_kind_destroy(k), TC_OK);
}

/* A block of n bytes of kind k filled with byte v. */
static unsigned char *filled(tc_kind_t *k, size_t n, int v) {
    unsigned char *p = tc_malloc(k, n);
    if (p) memset(p, v, n);
    return p;
}

static int all_bytes(const unsigned char *p, size_t n, int v) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != v) return 0;
    return 1;
}

TEST(copy_policy_gives_the_child_a_private_copy_and_the_parent_keeps_its_own) {
    tc_kind_t *k;
    CHECK_EQ(tc_kind_create_file(dir, 0, TC_FILE_CONSERVATIVE, &k), TC_OK);
    CHECK_EQ(tc_kind_set_fork_policy(k, TC_FORK_COPY), TC_OK);
    unsigned char *small = filled(k, 64, 'a'), *big = filled(k, 3 << 20, 'b');
    unsigned char *gone = filled(k, 1 << 20, 'g');
    tc_free(k, gone); /* a punched hole: the child's copy must not fill it in the file */
    long blocks = backing_blocks();
    pid_t pid = fork();
    if (pid == 0) {
        int bad = 0;
        if (!all_bytes(small, 64, 'a') || !all_bytes(big, 3 << 20, 'b')) bad |= 1;
        memset(big, 'c', 3 << 20); /* the child's writes stay in the child */
        tc_free(k, small);         /* and so do its frees and allocations */
        unsigned char *more = filled(k, 8 << 20, 'd');
        if (!more || tc_detect_kind(more) != k) bad |= 2;
        tc_free(NULL, more);
        if (tc_kind_check_available(k) != TC_OK) bad |= 4;
        if (backing_fds((int[16]){0}, 16) != 0) bad |= 8; /* the file is let go */
        pid_t grandchild = fork(); /* private memory now: copied on write, as DRAM */
        if (grandchild == 0) _exit(all_bytes(big, 3 << 20, 'c') ? 0 : 1);
        int st;
        waitpid(grandchild, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st)) bad |= 16;
        CHECK_EQ(tc_kind_destroy(k), TC_OK);
        _exit(bad);
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    CHECK(all_bytes(small, 64, 'a'));
    CHECK(all_bytes(big, 3 << 20, 'b'));
    CHECK_EQ(backing_blocks(), blocks);
    tc_free(k, small);
    tc_free(k, big);
    CHECK_EQ(tc_kind_destroy(k), TC_OK);
}

/* The parent's forking thread waits for the child's copy, so what it writes after fork()
 * returns is never in the child's copy. */
TEST(copy_policy_child_sees_memory_as_it_was_at_fork) {
    tc_kind_t *k;
    CHECK_EQ(tc_kind_create_file(dir, 0, TC_FILE_PERFORMANCE, &k), TC_OK);
    CHECK_EQ(tc_kind_set_fork_policy(k, TC_FORK_COPY), TC_OK);
    size_t n = 16 << 20;
    unsigned char *p = filled(k, n, 1);
    int ok = 1;
    for (int round = 0; round < 5; round++) {
        pid_t pid = fork();
        if (pid == 0) _exit(all_bytes(p, n, 1 + round) ? 0 : 1);
        memset(p, 2 + round, n); /* at once, while the child may still be copying */
        int status;
        waitpid(pid, &status, 0);
        ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    CHECK(ok);
    tc_free(k, p);
    CHECK_EQ(tc_kind_destroy(k), TC_OK);
}

TEST(fork_policy_is_checked_per_kind) {
    tc_kind_t *k;
    CHECK_EQ(tc_kind_create_file(dir, 0, TC_FILE_PERFORMANCE, &k), TC_OK);
    CHECK_EQ(tc_kind_set_fork_policy(k, (tc_fork_policy_t)7), TC_ERR_INVALID);
    CHECK_EQ(tc_kind_set_fork_policy(NULL, TC_FORK_COPY), TC_ERR_INVALID);
    CHECK_EQ(tc_kind_set_fork_policy(tc_kind_dram(), TC_FORK_COPY), TC_OK);
    CHECK_EQ(tc_kind_set_fork_policy(tc_kind_dram(), TC_FORK_DETACH), TC_ERR_NOTSUP);
    CHECK_EQ(tc_kind_set_fork_policy(k, TC_FORK_COPY), TC_OK);
    CHECK_EQ(tc_kind_set_fork_policy(k, TC_FORK_DETACH), TC_OK); /* back to detaching */
    char *p = tc_malloc(k, 64);
    pid_t pid = fork();
    if (pid == 0) _exit(tc_kind_check_available(k) == TC_ERR_FORKED ? 0 : 1);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    tc_free(k, p);
    CHECK_EQ(tc_kind_destroy(k), TC_OK);
    CHECK_EQ(tc_kind_set_fork_policy(k, TC_FORK_COPY), TC_ERR_DESTROYED);
}

static tc_kind_t *shared_kind;
static void *thread_work(void *arg) {
    uintptr_t seed = (uintptr_t)arg;
    void *ptrs[256] = {0};
    for (int i = 0; i < 200000; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        int slot = (seed >> 33) & 255;
        if (ptrs[slot]) {
            if (*(uintptr_t *)ptrs[slot] != (uintptr_t)ptrs[slot]) return (void *)1;
            tc_free(slot & 1 ? NULL : shared_kind, ptrs[slot]);
        }
        ptrs[slot] = tc_malloc(shared_kind, 8 + (seed >> 40) % 3000);
        if (!ptrs[slot]) return (void *)1;
        *(uintptr_t *)ptrs[slot] = (uintptr_t)ptrs[slot];
    }
    for (int i = 0; i < 256; i++) tc_free(NULL, ptrs[i]);
    return NULL;
}

TEST(threads_share_a_kind_and_exit_cleanly) {
    CHECK_EQ(tc_kind_create_file(dir, 0, TC_FILE_PERFORMANCE, &shared_kind), TC_OK);
    for (int round = 0; round < 3; round++) { /* exiting threads give their caches back */
        pthread_t t[4];
        for (uintptr_t i = 0; i < 4; i++)
            pthread_create(&t[i], NULL, thread_work, (void *)(i + 1));
        for (int i = 0; i < 4; i++) {
            void *r;
            pthread_join(t[i], &r);
            CHECK(r == NULL);
        }
    }
    CHECK_EQ(tc_kind_destroy(shared_kind), TC_OK);
}

TEST(check_dax_path_is_false_on_tmpfs_and_errors_on_bad_dirs) {
    CHECK_EQ(tc_check_dax_path(dir), TC_ERR_NOTSUP);
    CHECK_EQ(tc_check_dax_path("/nonexistent"), TC_ERR_NOENT);
    CHECK_EQ(tc_check_dax_path(NULL), TC_ERR_INVALID);
    CHECK_EQ(count_entries(dir), 0);
}

int main(void) {
    snprintf(dir, sizeof dir, "/dev/shm/tc-test-%d", (int)getpid());
    if (mkdir(dir, 0700)) {
        perror("mkdir");
        return 1;
    }
    RUN(bad_arguments_and_directories_are_refused_with_codes);
    RUN(backing_file_is_unlinked_private_and_gone_after_destroy);
    RUN(max_size_is_enforced_and_recoverable);
    RUN(conservative_policy_returns_file_space_at_once);
    RUN(a_thousand_file_kinds_live_at_once);
    RUN(forked_child_cannot_touch_the_parents_file_memory);
    RUN(copy_policy_gives_the_child_a_private_copy_and_the_parent_keeps_its_own);
    RUN(copy_policy_child_sees_memory_as_it_was_at_fork);
    RUN(fork_policy_is_checked_per_kind);
    RUN(child_reading_detached_memory_faults_instead_of_seeing_parent_writes);
    RUN(threads_share_a_kind_and_exit_cleanly);
    RUN(check_dax_path_is_false_on_tmpfs_and_errors_on_bad_dirs);
    CHECK_EQ(count_entries(dir), 0); /* nothing left behind */
    rmdir(dir);
    return CHECK_DONE();
}
