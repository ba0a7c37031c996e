/* Per-(thread, kind) caches: the front cache reuses small blocks, cached blocks count as
 * allocated until purge, purge empties other threads' caches (also while they allocate),
 * thread exit and kind destroy give caches back, many threads at once each find their own, a
 * forked child gets no cached blocks, and a kind at its max_size can reuse the space its
 * thread has cached for another size. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "tiercache/tiercache.h"

static char dir[64];

static tc_kind_t *file_kind(void) {
    tc_kind_t *k = NULL;
    CHECK_EQ(tc_kind_create_file(dir, 0, TC_FILE_PERFORMANCE, &k), TC_OK);
    return k;
}

static size_t allocated(tc_kind_t *k) {
    size_t v = SIZE_MAX;
    tc_stats_refresh();
    CHECK_EQ(tc_kind_stat(k, TC_STAT_ALLOCATED, &v), TC_OK);
    return v;
}

/* Allocate n blocks of 9..1508 bytes, stamp them, check the stamps and free them. */
static int churn(tc_kind_t *k, int n, unsigned seed) {
    enum { MAXN = 512 };
    void *p[MAXN];
    int bad = 0;
    n = n < MAXN ? n : MAXN;
    for (int i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        size_t size = 9 + (seed >> 8) % 1500;
        p[i] = tc_malloc(k, size);
        if (!p[i]) return -1;
        memset(p[i], i & 0xff, size);
        *(uintptr_t *)p[i] = (uintptr_t)p[i] ^ size;
    }
    for (int i = 0; i < n; i++) {
        size_t size = *(uintptr_t *)p[i] ^ (uintptr_t)p[i];
        if (size < 9 || size > 1508 || tc_usable_size(NULL, p[i]) < size ||
            ((unsigned char *)p[i])[size - 1] != (i & 0xff))
            bad++;
        tc_free(i % 3 ? k : NULL, p[i]);
    }
    return bad;
}

TEST(small_blocks_are_reused_through_the_front_cache) {
    tc_kind_t *k = file_kind();
    for (size_t size = 1; size <= 2048; size += size < 64 ? 1 : 37) {
        char *p = tc_malloc(k, size);
        CHECK(p && tc_detect_kind(p) == k && tc_usable_size(k, p) >= size);
        memset(p, 0x5a, size);
        tc_free(k, p);
        char *q = tc_malloc(k, size); /* the block just freed comes back */
        CHECK(q == p);
        tc_free(NULL, q);
    }
    CHECK_EQ(churn(k, 500, 1), 0);
    CHECK_EQ(tc_kind_destroy(k), TC_OK);
}

TEST(cached_blocks_count_as_allocated_until_purge) {
    tc_kind_t *k = file_kind();
    CHECK_EQ(churn(k, 500, 2), 0);
    CHECK(allocated(k) > 0); /* the blocks sit in this thread's caches */
    CHECK_EQ(tc_kind_purge(k), TC_OK);
    CHECK_EQ(allocated(k), 0);
    CHECK_EQ(churn(k, 500, 3), 0); /* and the caches work again */
    CHECK_EQ(tc_kind_purge(NULL), TC_OK);
    CHECK_EQ(allocated(k), 0);
    CHECK_EQ(tc_kind_destroy(k), TC_OK);
}

/* A worker that churns, then waits for the main thread between steps. */
struct worker {
    tc_kind_t *k;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int step, done, bad;
};

static void wait_step(struct worker *w, int step) {
    pthread_mutex_lock(&w->lock);
    while (w->step < step) pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

static void set(struct worker *w, int *field, int v) {
    pthread_mutex_lock(&w->lock);
    *field = v;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    int bad = churn(w->k, 400, 4);
    set(w, &w->done, 1);
    wait_step(w, 1); /* main purges or destroys meanwhile */
    if (w->k) bad += churn(w->k, 400, 5);
    set(w, &w->done, 2);
    wait_step(w, 2);
    w->bad = bad;
    return NULL;
}

static void worker_start(struct worker *w, pthread_t *t, tc_kind_t *k) {
    memset(w, 0, sizeof *w);
    w->k = k;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    pthread_create(t, NULL, worker_main, w);
    pthread_mutex_lock(&w->lock);
    while (w->done < 1) pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

TEST(purge_empties_the_caches_of_other_living_threads) {
    tc_kind_t *k = file_kind();
    struct worker w;
    pthread_t t;
    worker_start(&w, &t, k);
    CHECK(allocated(k) > 0);
    CHECK_EQ(tc_kind_purge(k), TC_OK);
    CHECK_EQ(allocated(k), 0);
    set(&w, &w.step, 1); /* the worker's caches still work */
    pthread_mutex_lock(&w.lock);
    while (w.done < 2) pthread_cond_wait(&w.cond, &w.lock);
    pthread_mutex_unlock(&w.lock);
    CHECK_EQ(tc_kind_purge(NULL), TC_OK);
    CHECK_EQ(allocated(k), 0);
    set(&w, &w.step, 2);
    pthread_join(t, NULL);
    CHECK_EQ(w.bad, 0);
    CHECK_EQ(tc_kind_destroy(k), TC_OK);
}

TEST(thread_exit_gives_its_caches_back) {
    tc_kind_t *k = file_kind();
    struct worker w;
    pthread_t t;
    worker_start(&w, &t, k);
    set(&w, &w.step, 2);
    pthread_join(t, NULL);
    CHECK_EQ(w.bad, 0);
    CHECK_EQ(allocated(k), 0);
    CHECK_EQ(tc_kind_destroy(k), TC_OK);
}

TEST(destroy_drops_other_threads_caches_and_new_kinds_start_clean) {
    tc_kind_t *k = file_kind();
    struct worker w;
    pthread_t t;
    worker_start(&w, &t, k);
    CHECK_EQ(tc_kind_destroy(k), TC_OK); /* the worker holds cached blocks of k */
    tc_kind_t *k2 = file_kind();
    w.k = k2; /* the worker's next blocks must all be k2's */
    set(&w, &w.step, 1);
    pthread_mutex_lock(&w.lock);
    while (w.done < 2) pthread_cond_wait(&w.cond, &w.lock);
    pthread_mutex_unlock(&w.lock);
    void *p = tc_malloc(k2, 64);
    CHECK(p && tc_detect_kind(p) == k2);
    tc_free(NULL, p);
    set(&w, &w.step, 2);
    pthread_join(t, NULL);
    CHECK_EQ(w.bad, 0);
    CHECK_EQ(tc_kind_destroy(k2), TC_OK);
}

static tc_kind_t *stress_kind;
static _Atomic int stress_stop;
static void *stress_main(void *arg) {
    intptr_t bad = 0;
    unsigned seed = (unsigned)(uintptr_t)arg;
    while (!stress_stop && !bad) bad = churn(stress_kind, 64, seed++);
    return (void *)bad;
}

TEST(purge_while_other_threads_allocate_keeps_every_block_intact) {
    stress_kind = file_kind();
    stress_stop = 0;
    pthread_t t[3];
    for (uintptr_t i = 0; i < 3; i++) pthread_create(&t[i], NULL, stress_main, (void *)(i + 7));
    for (int i = 0; i < 5000; i++) CHECK_EQ(tc_kind_purge(i % 2 ? stress_kind : NULL), TC_OK);
    stress_stop = 1;
    for (int i = 0; i < 3; i++) {
        void *r;
        pthread_join(t[i], &r);
        CHECK(r == NULL);
    }
    CHECK_EQ(allocated(stress_kind), 0);
    CHECK_EQ(tc_kind_destroy(stress_kind), TC_OK);
}

enum { MANY = 64 };
static pthread_barrier_t many_barrier;
static void *many_main(void *arg) {
    pthread_barrier_wait(&many_barrier); /* all alive at once: some share a lookup entry */
    intptr_t bad = churn(stress_kind, 200, (unsigned)(uintptr_t)arg);
    pthread_barrier_wait(&many_barrier);
    return (void *)bad;
}

TEST(many_threads_at_once_each_use_their_own_cache) {
    stress_kind = file_kind();
    for (int round = 0; round < 2; round++) { /* the second round reuses exited states */
        pthread_t t[MANY];
        pthread_barrier_init(&many_barrier, NULL, MANY);
        for (uintptr_t i = 0; i < MANY; i++) pthread_create(&t[i], NULL, many_main, (void *)i);
        for (int i = 0; i < MANY; i++) {
            void *r;
            pthread_join(t[i], &r);
            CHECK(r == NULL);
        }
        pthread_barrier_destroy(&many_barrier);
        CHECK_EQ(allocated(stress_kind), 0);
    }
    CHECK_EQ(tc_kind_destroy(stress_kind), TC_OK);
}

TEST(forked_child_gets_no_cached_blocks_and_ignores_other_threads_caches) {
    tc_kind_t *k = file_kind();
    size_t len = 32 << 20;
    char *area = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK_EQ(tc_kind_create_fixed(area, len, &stress_kind), TC_OK);
    stress_stop = 0;
    pthread_t t; /* inside its cache of the fixed kind at some of the forks */
    pthread_create(&t, NULL, stress_main, (void *)11);
    void *p = tc_malloc(k, 64);
    tc_free(k, p); /* p is in this thread's front cache */
    for (int i = 0; i < 20; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            alarm(20); /* a purge waiting for a thread that is gone would hang */
            int bad = 0;
            errno = 0;
            if (tc_malloc(k, 64) != NULL || errno != ENOMEM) bad |= 1;
            if (tc_kind_purge(stress_kind) != TC_OK || tc_kind_purge(NULL) != TC_OK) bad |= 2;
            if (churn(stress_kind, 100, 9) != 0) bad |= 4; /* the child's copy is usable */
            _exit(bad);
        }
        int status;
        waitpid(pid, &status, 0);
        CHECK(WIFEXITED(status));
        CHECK_EQ(WEXITSTATUS(status), 0);
    }
    stress_stop = 1;
    void *r;
    pthread_join(t, &r);
    CHECK(r == NULL);
    CHECK(tc_malloc(k, 64) == p); /* the parent's cache is intact */
    tc_free(k, p);
    CHECK_EQ(tc_kind_destroy(stress_kind), TC_OK);
    CHECK_EQ(tc_kind_destroy(k), TC_OK);
    munmap(area, len);
}

TEST(a_full_kind_can_reuse_the_space_this_thread_has_cached) {
    tc_kind_t *k; /* conservative: the outcome does not depend on when decay runs */
    CHECK_EQ(tc_kind_create_file(dir, TC_FILE_MIN_SIZE, TC_FILE_CONSERVATIVE, &k), TC_OK);
    enum { MAXP = 1 << 19 };
    static void *ptrs[MAXP];
    size_t n48 = 0, n64 = 0;
    while (n48 < MAXP && (ptrs[n48] = tc_malloc(k, 48)) != NULL) n48++;
    CHECK(n48 > 1000 && n48 < MAXP);
    for (size_t i = 0; i < n48; i++) tc_free(k, ptrs[i]);
    while (n64 < MAXP && (ptrs[n64] = tc_malloc(k, 64)) != NULL) n64++;
    CHECK(n64 * 64 >= n48 * 48 / 100 * 99); /* no more than 1% is lost to cached blocks */
    printf("    16 MiB kind: %zu x 48 B, then %zu x 64 B\n", n48, n64);
    for (size_t i = 0; i < n64; i++) tc_free(NULL, ptrs[i]);
    CHECK_EQ(tc_kind_destroy(k), TC_OK);
}

int main(void) {
    snprintf(dir, sizeof dir, "/dev/shm/tc-tcache-%d", (int)getpid());
    if (mkdir(dir, 0700)) {
        perror("mkdir");
        return 1;
    }
    RUN(small_blocks_are_reused_through_the_front_cache);
    RUN(cached_blocks_count_as_allocated_until_purge);
    RUN(purge_empties_the_caches_of_other_living_threads);
    RUN(thread_exit_gives_its_caches_back);
    RUN(destroy_drops_other_threads_caches_and_new_kinds_start_clean);
    RUN(purge_while_other_threads_allocate_keeps_every_block_intact);
    RUN(many_threads_at_once_each_use_their_own_cache);
    RUN(forked_child_gets_no_cached_blocks_and_ignores_other_threads_caches);
    RUN(a_full_kind_can_reuse_the_space_this_thread_has_cached);
    rmdir(dir);
    return CHECK_DONE();
}
