/* The LD_PRELOAD tiering library on real programs: this binary re-run under LD_PRELOAD (every
 * replaced entry point, glibc's size-0 and alignment rules, the tiers' accounting) and
 * /usr/bin/python3; bad MEMKIND_MEM_TIERS values print why and run on plain malloc. */
#include <stdbool.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

extern char **environ;
static char lib[PATH_MAX];

#define STATIC_TIERS \
    "KIND:DRAM,RATIO:1;KIND:FS_DAX,PATH:/dev/shm,PMEM_SIZE_LIMIT:1G,RATIO:4;POLICY:STATIC_RATIO"

/* Run argv with LD_PRELOAD=lib and the given MEMKIND_MEM_TIERS / THRESHOLDS (NULL: unset);
 * its exit status (128+signal when killed) and its stdout+stderr in out. */
static int run(char *const argv[], const char *tiers, const char *thresholds, char *out,
               size_t outlen) {
    int fds[2];
    if (pipe(fds)) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        unsetenv("MEMKIND_MEM_TIERS");
        unsetenv("MEMKIND_MEM_THRESHOLDS");
        if (tiers) setenv("MEMKIND_MEM_TIERS", tiers, 1);
        if (thresholds) setenv("MEMKIND_MEM_THRESHOLDS", thresholds, 1);
        setenv("LD_PRELOAD", lib, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < outlen && (r = read(fds[0], out + n, outlen - 1 - n)) > 0) n += (size_t)r;
    out[n] = 0;
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- the child: runs under LD_PRELOAD ---- */
typedef int (*allocated_fn)(unsigned, size_t *, const char **);
typedef unsigned (*tiers_fn)(void);

static size_t tier_bytes(unsigned i) {
    allocated_fn f = (allocated_fn)dlsym(RTLD_DEFAULT, "tc_memtier_preload_allocated");
    size_t b = 0;
    if (!f || f(i, &b, NULL)) return SIZE_MAX;
    return b;
}

static int child_entry_points(double lo, double hi) {
    tiers_fn ntiers = (tiers_fn)dlsym(RTLD_DEFAULT, "tc_memtier_preload_tiers");
    CHECK(ntiers && ntiers() == 2);
    if (!ntiers || ntiers() != 2) return 1;
    printf("child tiered\n"); /* stdout's buffer is allocated before the baseline */
    size_t pmem0 = tier_bytes(1);
    /* malloc(0) as glibc: unique, non-NULL, freeable */
    void *z[64];
    for (int i = 0; i < 64; i++) {
        z[i] = malloc(0);
        CHECK(z[i] != NULL);
        for (int j = 0; j < i; j++) CHECK(z[i] != z[j]);
    }
    for (int i = 0; i < 64; i++) free(z[i]);
    enum { N = 20000 };
    static void *p[N];
    static size_t sz[N];
    unsigned long x = 12345;
    for (int i = 0; i < N; i++) {
        x = x * 6364136223846793005ul + 1442695040888963407ul;
        sz[i] = 16 + (x >> 33) % 4000;
        switch (i % 8) {
        case 0: p[i] = malloc(sz[i]); break;
        case 1:
            p[i] = calloc(1, sz[i]);
            CHECK(p[i] && ((char *)p[i])[sz[i] - 1] == 0);
            break;
        case 2: CHECK_EQ(posix_memalign(&p[i], 256, sz[i]), 0); break;
        case 3: p[i] = aligned_alloc(64, sz[i]); break;
        case 4: p[i] = memalign(128, sz[i]); break;
        case 5: p[i] = valloc(sz[i]); break;
        case 6: p[i] = pvalloc(sz[i]); break;
        default: p[i] = realloc(malloc(8), sz[i]); break;
        }
        CHECK(p[i] != NULL);
        if (!p[i]) return 1;
        memset(p[i], 0xab, sz[i]);
        CHECK(malloc_usable_size(p[i]) >= sz[i]);
    }
    CHECK(((uintptr_t)p[2] & 255) == 0 && ((uintptr_t)p[3] & 63) == 0);
    CHECK(((uintptr_t)p[4] & 127) == 0 && ((uintptr_t)p[5] & 4095) == 0);
    CHECK(((uintptr_t)p[6] & 4095) == 0 &&
          malloc_usable_size(p[6]) >= ((sz[6] + 4095) & ~(size_t)4095)); /* whole pages */
    double dram = (double)tier_bytes(0), pmem = (double)(tier_bytes(1) - pmem0);
    printf("tiers: dram %.0f bytes, file %.0f bytes, ratio %.3f\n", dram, pmem, pmem / dram);
    CHECK(pmem / dram > lo && pmem / dram < hi);
    /* realloc keeps the data */
    for (int i = 0; i < N; i += 3) {
        p[i] = realloc(p[i], sz[i] * 2);
        CHECK(p[i] && ((unsigned char *)p[i])[sz[i] - 1] == 0xab);
    }
    for (int i = 0; i < N; i++) free(p[i]);
    CHECK_EQ(tier_bytes(1), pmem0);
    /* glibc's error rules */
    void *q = (void *)1;
    CHECK_EQ(posix_memalign(&q, 3, 10), EINVAL);
    CHECK(q == (void *)1);
    errno = 0;
    CHECK(aligned_alloc(3, 10) == NULL && errno == EINVAL);
    volatile size_t huge = SIZE_MAX / 2;
    CHECK(calloc(huge, 4) == NULL);
    CHECK(realloc(malloc(10), 0) == NULL);
    q = memalign(100, 10); /* rounded up to 128 */
    CHECK(q && ((uintptr_t)q & 127) == 0);
    free(q);
    return check_failures ? 1 : 0;
}

/* Threads allocating and freeing at once: the accounting ends where it began. */
static void *thread_idle(void *arg) { return arg; }

static void *thread_work(void *arg) {
    unsigned long x = (unsigned long)(uintptr_t)arg;
    enum { K = 512 };
    void *keep[K] = {0};
    for (int i = 0; i < 50000; i++) {
        x = x * 6364136223846793005ul + 1442695040888963407ul;
        unsigned slot = (unsigned)(x >> 40) % K;
        free(keep[slot]);
        keep[slot] = (i & 1) ? malloc(1 + (x >> 20) % 3000) : calloc(1, 1 + (x >> 20) % 300);
        if (!keep[slot]) return (void *)1;
        *(char *)keep[slot] = 1;
    }
    for (int i = 0; i < K; i++) free(keep[i]);
    return NULL;
}

static int child_threads(void) {
    printf("child threads\n");
    pthread_t t[4];
    /* First threads: glibc allocates their TLS vectors once and keeps them with its cached
     * stacks, so the baseline is taken after. */
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, thread_idle, NULL);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    size_t pmem0 = tier_bytes(1);
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, thread_work, (void *)(uintptr_t)(i + 1));
    int bad = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad |= r != NULL;
    }
    CHECK(!bad);
    CHECK_EQ(tier_bytes(1), pmem0);
    return check_failures ? 1 : 0;
}

/* fork() without exec: the child reads and frees the parent's tiered blocks and allocates
 * its own; the parent's stay as they were. */
static int child_fork(void) {
    enum { N = 2000 };
    static char *blk[N];
    for (int i = 0; i < N; i++) {
        blk[i] = malloc(200 + i);
        if (!blk[i]) return 2;
        memset(blk[i], i & 0x7f, 200 + i);
    }
    if (tier_bytes(1) == 0) return 3; /* some of them are on the file tier */
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < N; i++) {
            for (int j = 0; j < 200 + i; j++)
                if (blk[i][j] != (i & 0x7f)) _exit(4);
            memset(blk[i], 0x55, 200 + i);
            free(blk[i]);
            blk[i] = malloc(300);
            if (!blk[i]) _exit(5);
        }
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st)) return 10 + (WIFEXITED(st) ? WEXITSTATUS(st) : 50);
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < 200 + i; j++)
            if (blk[i][j] != (i & 0x7f)) return 6;
        free(blk[i]);
    }
    return 0;
}

/* Under a bad MEMKIND_MEM_TIERS: no tiers, plain malloc works. */
static int child_plain(void) {
    tiers_fn ntiers = (tiers_fn)dlsym(RTLD_DEFAULT, "tc_memtier_preload_tiers");
    if (!ntiers || ntiers() != 0) return 2;
    for (int i = 0; i < 1000; i++) {
        char *s = malloc(100 + i);
        if (!s) return 3;
        s[0] = 1;
        s = realloc(s, 5000);
        free(s);
    }
    void *a = aligned_alloc(64, 100), *z = malloc(0);
    if (!a || ((uintptr_t)a & 63) || !z) return 4;
    free(a);
    free(z);
    return 0;
}

/* ---- the parent ---- */
TEST(every_entry_point_is_tiered_in_a_c_program) {
    char out[8192];
    char self[] = "/proc/self/exe";
    char *argv[] = {self, (char *)"child-entry-points", NULL};
    int st = run(argv, STATIC_TIERS, NULL, out, sizeof out);
    CHECK_EQ(st, 0);
    CHECK(strstr(out, "tiers: dram") != NULL);
    if (st) fprintf(stderr, "child output:\n%s\n", out);
}

TEST(dynamic_threshold_from_the_environment) {
    char out[8192];
    char self[] = "/proc/self/exe";
    char *argv[] = {self, (char *)"child-dynamic", NULL};
    /* With DRAM:FS_DAX 1:4 and these thresholds, the split settles near the ratio. */
    int st =
        run(argv, "KIND:DRAM,RATIO:1;KIND:FS_DAX,PATH:/dev/shm,RATIO:4;POLICY:DYNAMIC_THRESHOLD",
            "INIT_VAL:64,MIN_VAL:1,MAX_VAL:10000", out, sizeof out);
    /* The child's checks hold under this policy too; the split must come near 1:4. */
    CHECK_EQ(st, 0);
    CHECK(strstr(out, "tiers: dram") != NULL);
    char *r = strstr(out, "ratio ");
    double ratio = r ? strtod(r + 6, NULL) : 0;
    printf("     dynamic threshold ratio file/dram = %.3f (status %d)\n", ratio, st);
    CHECK(ratio > 2.5 && ratio < 6.0);
}

TEST(threads_allocate_at_once_and_the_accounting_balances) {
    char out[4096];
    char self[] = "/proc/self/exe";
    char *argv[] = {self, (char *)"child-threads", NULL};
    int st = run(argv, STATIC_TIERS, NULL, out, sizeof out);
    CHECK_EQ(st, 0);
    if (st) fprintf(stderr, "child output:\n%s\n", out);
}

TEST(a_forked_child_uses_the_parents_tiered_heap) {
    char out[4096];
    char self[] = "/proc/self/exe";
    char *argv[] = {self, (char *)"child-fork", NULL};
    int st = run(argv, STATIC_TIERS, NULL, out, sizeof out);
    CHECK_EQ(st, 0);
    if (st) fprintf(stderr, "child output:\n%s\n", out);
    /* A shell forks for its subshells and pipelines and keeps using its heap there. */
    char sh[] = "/bin/bash", c[] = "-c";
    char script[] = "x=$(for i in $(seq 200); do echo $i; done | (read a; echo $a; cat) "
                    "| wc -l); echo lines=$x";
    char *argv2[] = {sh, c, script, NULL};
    st = run(argv2, STATIC_TIERS, NULL, out, sizeof out);
    CHECK_EQ(st, 0);
    CHECK(strstr(out, "lines=200") != NULL);
    if (st || !strstr(out, "lines=200")) fprintf(stderr, "bash output:\n%s\n", out);
}

TEST(bad_environment_prints_why_and_runs_on_plain_malloc) {
    static const struct {
        const char *tiers, *thresholds, *why;
    } bad[] = {
        {NULL, NULL, "MEMKIND_MEM_TIERS is not set"},
        {"", NULL, "not set or empty"},
        {"KIND:DRAM,RATIO:1", NULL, "the last item must be POLICY"},
        {"KIND:DRAM,RATIO:1;POLICY:FASTEST", NULL, "unknown POLICY 'FASTEST'"},
        {"POLICY:STATIC_RATIO", NULL, "no tier before POLICY"},
        {"KIND:HBM,RATIO:1;POLICY:STATIC_RATIO", NULL, "unknown KIND 'HBM'"},
        {"KIND:DRAM;POLICY:STATIC_RATIO", NULL, "RATIO is missing"},
        {"KIND:DRAM,RATIO:0;POLICY:STATIC_RATIO", NULL, "RATIO '0'"},
        {"KIND:DRAM,RATIO:1x;POLICY:STATIC_RATIO", NULL, "RATIO '1x'"},
        {"KIND:DRAM,RATIO:1,RATIO:2;POLICY:STATIC_RATIO", NULL, "RATIO given twice"},
        {"KIND:DRAM,PATH:/tmp,RATIO:1;POLICY:STATIC_RATIO", NULL, "for FS_DAX only"},
        {"KIND:FS_DAX,RATIO:1;POLICY:STATIC_RATIO", NULL, "FS_DAX needs PATH"},
        {"KIND:FS_DAX,PATH:/nonexistent,RATIO:1;POLICY:STATIC_RATIO", NULL,
         "cannot create FS_DAX kind in '/nonexistent'"},
        {"KIND:FS_DAX,PATH:/dev/shm,PMEM_SIZE_LIMIT:1M,RATIO:1;POLICY:STATIC_RATIO", NULL,
         "at least 16M"},
        {"KIND:FS_DAX,PATH:/dev/shm,PMEM_SIZE_LIMIT:lots,RATIO:1;POLICY:STATIC_RATIO", NULL,
         "not a size"},
        {"KIND:DRAM,RATIO:1;KIND:DRAM,RATIO:2;POLICY:STATIC_RATIO", NULL, "kind given twice"},
        {"KIND:DRAM,RATIO:1,COLOR:blue;POLICY:STATIC_RATIO", NULL, "unknown parameter 'COLOR'"},
        {"KIND:DRAM,RATIO:1;POLICY:DYNAMIC_THRESHOLD", NULL, "needs two tiers"},
        {STATIC_TIERS, "INIT_VAL:64", "only for POLICY:DYNAMIC_THRESHOLD"},
        {"KIND:DRAM,RATIO:1;KIND:FS_DAX,PATH:/dev/shm,RATIO:4;POLICY:DYNAMIC_THRESHOLD",
         "INIT_VAL:64,INIT_VAL:65", "INIT_VAL given twice"},
        {"KIND:DRAM,RATIO:1;KIND:FS_DAX,PATH:/dev/shm,RATIO:4;POLICY:DYNAMIC_THRESHOLD",
         "INIT_VAL:5000", "MIN_VAL <= INIT_VAL <= MAX_VAL"},
        {"KIND:DRAM,RATIO:1;KIND:FS_DAX,PATH:/dev/shm,RATIO:4;POLICY:DYNAMIC_THRESHOLD",
         "INIT_VAL:64;INIT_VAL:2000", "more thresholds than pairs"},
    };
    char self[] = "/proc/self/exe";
    char *argv[] = {self, (char *)"child-plain", NULL};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char out[4096];
        int st = run(argv, bad[i].tiers, bad[i].thresholds, out, sizeof out);
        bool ok = st == 0 && strstr(out, "libtiercache_memtier: ") && strstr(out, bad[i].why) &&
                  strstr(out, "running on the C library's malloc");
        CHECK(ok);
        if (!ok) fprintf(stderr, "case %zu (status %d): %s\n", i, st, out);
    }
}

TEST(python_runs_tiered) {
    const char *py = "/usr/bin/python3";
    if (access(py, X_OK)) {
        printf("skip python_runs_tiered: %s not found\n", py);
        return;
    }
    char script[] =
        "import ctypes\n"
        "lib = ctypes.CDLL(None)\n"
        "f = lib.tc_memtier_preload_allocated\n"
        "f.argtypes = [ctypes.c_uint, ctypes.POINTER(ctypes.c_size_t), ctypes.c_void_p]\n"
        "def tiers():\n"
        "    out = []\n"
        "    for i in range(lib.tc_memtier_preload_tiers()):\n"
        "        b = ctypes.c_size_t(); f(i, ctypes.byref(b), None); out.append(b.value)\n"
        "    return out\n"
        "before = tiers()\n"
        "data = [bytes(range(256)) * (4 + i % 12) for i in range(20000)]\n"
        "after = tiers()\n"
        "d, p = after[0] - before[0], after[1] - before[1]\n"
        "assert all(x == bytes(range(256)) * (4 + i % 12) for i, x in enumerate(data))\n"
        "print('python tiers', d, p, round(p / d, 3))\n"
        "del data\n"
        "print('freed', tiers()[1] - before[1])\n";
    char *argv[] = {(char *)py, (char *)"-c", script, NULL};
    char out[4096];
    int st = run(argv, STATIC_TIERS, NULL, out, sizeof out);
    CHECK_EQ(st, 0);
    printf("     %s", out);
    double d = 0, p = 0;
    char *t = strstr(out, "python tiers ");
    if (t) sscanf(t, "python tiers %lf %lf", &d, &p);
    CHECK(d > 0 && p / d > 3.5 && p / d < 4.5);
    t = strstr(out, "freed ");
    CHECK(t && atol(t + 6) < 200000); /* the list's blocks went back to the file tier */
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "child-entry-points"))
        return child_entry_points(3.8, 4.2); /* STATIC_RATIO: within 5% */
    if (argc > 1 && !strcmp(argv[1], "child-dynamic"))
        return child_entry_points(2.5, 6.0); /* the thresholds move in steps */
    if (argc > 1 && !strcmp(argv[1], "child-plain")) return child_plain();
    if (argc > 1 && !strcmp(argv[1], "child-threads")) return child_threads();
    if (argc > 1 && !strcmp(argv[1], "child-fork")) return child_fork();
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    printf("skip test_memtier_preload: the sanitizer replaces malloc itself, so a preloaded "
           "malloc cannot run under it\n");
    return 0;
#endif
    char exe[PATH_MAX - 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return 1;
    exe[n] = 0;
    *strrchr(exe, '/') = 0;
    snprintf(lib, sizeof lib, "%s/../lib/libtiercache_memtier.so", exe);
    if (access(lib, R_OK)) {
        fprintf(stderr, "%s is missing: build it with make\n", lib);
        return 1;
    }
    RUN(every_entry_point_is_tiered_in_a_c_program);
    RUN(dynamic_threshold_from_the_environment);
    RUN(threads_allocate_at_once_and_the_accounting_balances);
    RUN(a_forked_child_uses_the_parents_tiered_heap);
    RUN(bad_environment_prints_why_and_runs_on_plain_malloc);
    RUN(python_runs_tiered);
    return CHECK_DONE();
}
