/*
 * bench_main.c: command line, unit table and crash isolation of the native benchmark.
 *
 * Each unit runs in a forked child (unless --no-fork), so a crash or hang inside the allocator
 * is reported as "unit <name> crash SIGNO SIGNAME" / "unit <name> timeout" and the remaining
 * units still run. File-backed kinds live in a private temporary directory under --dir,
 * removed at exit. Only memkind.h's public API is used.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static const struct bench_unit k_units[] = {
    {"free_dram", unit_free, SEL_DRAM},
    {"free_file", unit_free, SEL_FILE},
    {"detect_dram", unit_detect, SEL_DRAM},
    {"detect_file", unit_detect, SEL_FILE},
    {"pair64_dram", unit_pair64, SEL_DRAM},
    {"pair64_file", unit_pair64, SEL_FILE},
    {"pair64_regular", unit_pair64, SEL_REGULAR},
    {"pair64_hbw", unit_pair64, SEL_HBW},
    {"pair64_interleave", unit_pair64, SEL_INTERLEAVE},
    {"mt_detect_dram", unit_mt_detect, SEL_DRAM},
    {"mt_detect_file", unit_mt_detect, SEL_FILE},
    {"mt_nullfree_dram", unit_mt_free, SEL_DRAM},
    {"mt_nullfree_file", unit_mt_free, SEL_FILE},
    {"mt_nullfree_regular", unit_mt_free, SEL_REGULAR},
    {"mt_nullfree_hbw", unit_mt_free, SEL_HBW},
    {"mt_nullfree_interleave", unit_mt_free, SEL_INTERLEAVE},
    {"max_file_kinds", unit_max_kinds, SEL_FILE},
    {"defrag_dram", unit_defrag, SEL_DRAM},
    {"defrag_file", unit_defrag, SEL_FILE},
    {"free_kinds", unit_free_kinds, SEL_FILE},
};
#define N_UNITS (sizeof k_units / sizeof k_units[0])

static void usage(FILE *f) {
    fprintf(f,
            "usage: bench [options] [unit ...]\n"
            "  --quick              small counts for a smoke run (a few seconds)\n"
            "  --reps N             repetitions per measurement (median reported)\n"
            "  --iters N            operations per repetition (single-thread loops)\n"
            "  --batch N            pointers per batch in batch-free loops\n"
            "  --mt-seconds S       duration of one multi-thread repetition\n"
            "  --max-threads N      thread counts 1,2,4.. up to N\n"
            "  --kinds-cap N        max_file_kinds stops at N kinds\n"
            "  --kinds-size BYTES   max_size for max_file_kinds (0 = unlimited)\n"
            "  --defrag-objects N   objects allocated by the defrag units\n"
            "  --defrag-passes N    defrag passes\n"
            "  --decay-wait S       seconds to wait after defrag, reading resident every second\n"
            "  --bg-threads         defrag units enable background purging threads first\n"
            "  --timeout S          kill a unit after S seconds\n"
            "  --dir PATH           parent of the temporary directory for file kinds\n"
            "  --fk-kinds N         free_kinds: file kinds (10)\n"
            "  --fk-blocks N        free_kinds: blocks per kind (32768)\n"
            "  --fk-size BYTES      free_kinds: block size (512)\n"
            "  --no-fork            run units in this process (for debuggers)\n"
            "  --list               list units and exit\n"
            "Units (default: all):");
    for (size_t i = 0; i < N_UNITS; i++) fprintf(f, " %s", k_units[i].name);
    fprintf(f, "\n");
}

/* Remove the regular files in dir, then dir. Memkind-style kinds unlink their files already. */
static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
    }
    if (rmdir(dir) != 0) fprintf(stderr, "bench: cannot remove %s: %s\n", dir, strerror(errno));
}

static void run_unit(const struct bench_cfg *cfg, const struct bench_unit *u, int fork_units) {
    printf("unit %s begin\n", u->name);
    fflush(stdout);
    if (!fork_units) {
        u->run(cfg, u->sel);
        printf("unit %s ok\n", u->name);
        fflush(stdout);
        return;
    }
    pid_t pid = fork();
    if (pid < 0) {
        printf("unit %s exit fork-failed-%d\n", u->name, errno);
        fflush(stdout);
        return;
    }
    if (pid == 0) {
        alarm(cfg->timeout);
        u->run(cfg, u->sel);
        fflush(stdout);
        _exit(0);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) printf("unit %s timeout\n", u->name);
    else if (WIFSIGNALED(status))
        printf("unit %s crash %d %s\n", u->name, WTERMSIG(status), sigabbrev_np(WTERMSIG(status)));
    else if (WEXITSTATUS(status) != 0) printf("unit %s exit %d\n", u->name, WEXITSTATUS(status));
    else printf("unit %s ok\n", u->name);
    fflush(stdout);
}

int main(int argc, char **argv) {
    struct bench_cfg cfg = {
        .reps = 7,
        .iters = 1000000,
        .batch = 10000,
        .mt_seconds = 0.2,
        .max_threads = 8,
        .kinds_cap = 1000,
        .kinds_size = 0,
        .defrag_objects = 1000000,
        .defrag_passes = 2,
        .decay_wait = 0,
        .timeout = 120,
        .dir = "/dev/shm",
        .fk_kinds = 10,
        .fk_blocks = 32768,
        .fk_size = 512,
    };
    int fork_units = 1;
    const char *only[N_UNITS];
    int n_only = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(s) (!strcmp(a, s) && v && ++i)
        if (!strcmp(a, "--quick")) {
            cfg.reps = 3;
            cfg.iters = 100000;
            cfg.batch = 5000;
            cfg.mt_seconds = 0.05;
            cfg.kinds_cap = 1000;
            cfg.defrag_objects = 100000;
            cfg.defrag_passes = 1;
            cfg.fk_blocks = 4096;
        } else if (OPT("--reps")) cfg.reps = atoi(v);
        else if (OPT("--iters")) cfg.iters = atol(v);
        else if (OPT("--batch")) cfg.batch = atol(v);
        else if (OPT("--mt-seconds")) cfg.mt_seconds = atof(v);
        else if (OPT("--max-threads")) cfg.max_threads = atoi(v);
        else if (OPT("--kinds-cap")) cfg.kinds_cap = atoi(v);
        else if (OPT("--kinds-size")) cfg.kinds_size = strtoull(v, NULL, 0);
        else if (OPT("--defrag-objects")) cfg.defrag_objects = atol(v);
        else if (OPT("--defrag-passes")) cfg.defrag_passes = atoi(v);
        else if (OPT("--decay-wait")) cfg.decay_wait = atof(v);
        else if (OPT("--timeout")) cfg.timeout = (unsigned)atoi(v);
        else if (OPT("--dir")) cfg.dir = v;
        else if (OPT("--fk-kinds")) cfg.fk_kinds = atoi(v);
        else if (OPT("--fk-blocks")) cfg.fk_blocks = atol(v);
        else if (OPT("--fk-size")) cfg.fk_size = strtoull(v, NULL, 0);
        else if (!strcmp(a, "--no-fork")) fork_units = 0;
        else if (!strcmp(a, "--bg-threads")) cfg.bg_threads = 1;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--list")) {
            for (size_t u = 0; u < N_UNITS; u++) printf("%s\n", k_units[u].name);
            return 0;
        } else if (a[0] != '-' && n_only < (int)N_UNITS) only[n_only++] = a;
        else {
            usage(stderr);
            return 2;
        }
#undef OPT
    }
    if (cfg.reps < 1 || cfg.iters < 1 || cfg.batch < 1 || cfg.max_threads < 1 ||
        cfg.kinds_cap < 1 || cfg.defrag_objects < 1 || cfg.mt_seconds <= 0 || cfg.fk_kinds < 1 ||
        cfg.fk_blocks < 1 || cfg.fk_size < 1) {
        fprintf(stderr, "bench: counts must be positive\n");
        return 2;
    }
    for (int i = 0; i < n_only; i++) {
        size_t u = 0;
        while (u < N_UNITS && strcmp(k_units[u].name, only[i])) u++;
        if (u == N_UNITS) {
            fprintf(stderr, "bench: unknown unit %s\n", only[i]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* Many file kinds may each hold a descriptor: allow as many as the hard limit. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tiercache-bench-XXXXXX", cfg.dir);
    if (!mkdtemp(dir)) {
        fprintf(stderr, "bench: mkdtemp(%s): %s\n", dir, strerror(errno));
        return 1;
    }
    cfg.dir = dir;

    printf("info impl %s\n", BENCH_IMPL);
    printf("info api_version %d\n", memkind_get_version());
    printf("info ncpu %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
    printf("info nofile_limit %llu\n", (unsigned long long)rl.rlim_cur);
    printf("info params reps=%d iters=%ld batch=%ld mt_seconds=%g max_threads=%d "
           "kinds_cap=%d kinds_size=%zu defrag_objects=%ld defrag_passes=%d decay_wait=%g "
           "bg_threads=%d timeout=%u dir=%s fork=%d\n",
           cfg.reps, cfg.iters, cfg.batch, cfg.mt_seconds, cfg.max_threads, cfg.kinds_cap,
           cfg.kinds_size, cfg.defrag_objects, cfg.defrag_passes, cfg.decay_wait, cfg.bg_threads,
           cfg.timeout, cfg.dir, fork_units);

    for (size_t u = 0; u < N_UNITS; u++) {
        int selected = n_only == 0;
        for (int i = 0; i < n_only && !selected; i++) selected = !strcmp(only[i], k_units[u].name);
        if (selected) run_unit(&cfg, &k_units[u], fork_units);
    }
    remove_dir(dir);
    return 0;
}
