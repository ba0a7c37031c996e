/*
 * A program written for memkind 1.14's API, built against tiercache's memkind-compatible
 * library with pkg-config (nothing in it is tiercache-specific):
 *
 *     make -C native install PREFIX=$HOME/.local
 *     export PKG_CONFIG_PATH=$HOME/.local/lib/pkgconfig
 *     cc examples/memkind_pmem.c $(pkg-config --cflags --libs tiercache-memkind) -o memkind_pmem
 *     ./memkind_pmem [PMEM_DIR]        (default /dev/shm)
 *
 * It makes a file-backed (PMEM) kind of 32 MiB in PMEM_DIR, allocates from it and from
 * MEMKIND_DEFAULT, frees with the NULL kind (the address says where a block belongs), and
 * fills the PMEM kind up to its size limit.
 */
#include <memkind.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PMEM_MAX (32u << 20)
#define BLOCK (1u << 20)

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/dev/shm";
    memkind_t pmem;
    int err = memkind_create_pmem(dir, PMEM_MAX, &pmem);
    if (err) {
        char msg[MEMKIND_ERROR_MESSAGE_SIZE];
        memkind_error_message(err, msg, sizeof msg);
        fprintf(stderr, "memkind_create_pmem(%s): %s\n", dir, msg);
        return 1;
    }
    printf("PMEM kind in %s (DAX: %s)\n", dir, memkind_check_dax_path(dir) ? "no" : "yes");

    char *cold = memkind_malloc(pmem, 64);
    char *hot = memkind_malloc(MEMKIND_DEFAULT, 64);
    if (!cold || !hot) return 1;
    strcpy(cold, "an archived record");
    strcpy(hot, "a hot record");
    printf("'%s' is on the %s kind\n", cold, memkind_detect_kind(cold) == pmem ? "PMEM" : "other");
    printf("'%s' is on the %s kind\n", hot,
           memkind_detect_kind(hot) == MEMKIND_DEFAULT ? "DEFAULT" : "other");
    memkind_free(NULL, cold); /* NULL: the kind is found from the address */
    memkind_free(NULL, hot);

    /* A PMEM kind is bounded: allocations fail (NULL, errno ENOMEM) past its max size. */
    void *blocks[64];
    unsigned n = 0;
    while (n < 64 && (blocks[n] = memkind_malloc(pmem, BLOCK))) n++;
    printf("a %u MiB PMEM kind held %u blocks of 1 MiB before it was full\n", PMEM_MAX >> 20, n);
    while (n) memkind_free(pmem, blocks[--n]);

    if (memkind_destroy_kind(pmem)) return 1;
    puts("done");
    return 0;
}
