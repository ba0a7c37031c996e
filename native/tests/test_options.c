/* Environment options are read once; an invalid value is a clear error, never an abort.
 * Each case re-executes this program with one variable set. */
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "tiercache/tiercache.h"

/* In the child: report what the library says about its options, file kinds and the HBW
 * NUMA kind (which depends on the topology options). */
static int child(void) {
    const char *err = tc_options_error();
    tc_kind_t *k;
    int e = tc_kind_create_file("/dev/shm", 0, TC_FILE_PERFORMANCE, &k);
    if (!e) tc_kind_destroy(k);
    tc_numa_params_t hbw;
    tc_numa_preset("hbw", &hbw);
    printf("%s|%d|numa %d\n", err ? err : "none", e, tc_numa_check(&hbw, NULL));
    return 0;
}

static void run_with(const char *assignment, char *out, size_t outlen) {
    int fds[2];
    pipe(fds);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        putenv((char *)assignment);
        execl("/proc/self/exe", "test_options", "--child", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    ssize_t n = read(fds[0], out, outlen - 1);
    out[n > 0 ? n : 0] = 0;
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(valid_options_are_accepted) {
    char out[512];
    run_with("TIERCACHE_FILE_ARENAS=4", out, sizeof out);
    CHECK(!strncmp(out, "none|0|", 7));
    run_with("MEMKIND_HBW_NODES=0,2-3", out, sizeof out);
    CHECK(!strcmp(out, "none|0|numa 0\n")); /* node 0 exists everywhere: HBW available */
    run_with("MEMKIND_HBW_THRESHOLD=1", out, sizeof out);
    CHECK(!strncmp(out, "none|0|", 7));
}

TEST(invalid_options_give_a_named_error_and_kind_creation_fails) {
    char out[512];
    run_with("TIERCACHE_FILE_ARENAS=banana", out, sizeof out);
    CHECK(strstr(out, "TIERCACHE_FILE_ARENAS=banana") != NULL);
    CHECK(strstr(out, "|-8|") != NULL); /* TC_ERR_ENVIRON */
    run_with("TIERCACHE_FILE_ARENAS=0", out, sizeof out);
    CHECK(strstr(out, "|-8|") != NULL);
    run_with("MEMKIND_HOG_MEMORY=yes", out, sizeof out);
    CHECK(strstr(out, "MEMKIND_HOG_MEMORY=yes") && strstr(out, "|-8|"));
    /* topology overrides: the NUMA kinds fail with TC_ERR_ENVIRON, nothing aborts */
    run_with("MEMKIND_HBW_NODES=3-1", out, sizeof out);
    CHECK(strstr(out, "MEMKIND_HBW_NODES=3-1") && strstr(out, "numa -8\n"));
    run_with("MEMKIND_DAX_KMEM_NODES=1,,2", out, sizeof out);
    CHECK(strstr(out, "MEMKIND_DAX_KMEM_NODES") && strstr(out, "numa -8\n"));
    run_with("MEMKIND_HBW_THRESHOLD=fast", out, sizeof out);
    CHECK(strstr(out, "MEMKIND_HBW_THRESHOLD=fast") && strstr(out, "numa -8\n"));
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--child")) return child();
    RUN(valid_options_are_accepted);
    RUN(invalid_options_give_a_named_error_and_kind_creation_fails);
    return CHECK_DONE();
}
