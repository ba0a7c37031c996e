/*
 * Test-only fault injection at the OS seam: counters per primitive and one armed fault.
 * Always compiled in; while disarmed the fault points in os.c only read tc__fault_armed.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "fault.h"
#include "internal.h"
#include "tiercache/testing.h"

atomic_bool tc__fault_armed;

static const char *const names[TC_FAULT_NPRIMS] = {
    [TC_FAULT_RESERVE] = "reserve",       [TC_FAULT_MAP_FILE] = "map_file",
    [TC_FAULT_MAP_ANON] = "map_anon",     [TC_FAULT_UNMAP] = "unmap",
    [TC_FAULT_DONTFORK] = "dontfork",     [TC_FAULT_FILE_ALLOC] = "file_alloc",
    [TC_FAULT_FILE_PUNCH] = "file_punch", [TC_FAULT_OPEN_TMPFILE] = "open_tmpfile",
    [TC_FAULT_CHECK_DIR] = "check_dir",   [TC_FAULT_FS_SIZE] = "fs_size",
    [TC_FAULT_MAP_SYNC] = "map_sync",     [TC_FAULT_MBIND] = "mbind",
    [TC_FAULT_MADVISE] = "madvise",
};

#define ANY TC_FAULT_NPRIMS /* the target index meaning "every primitive" */

static _Atomic uint64_t calls[TC_FAULT_NPRIMS + 1]; /* [ANY] counts all of them */
static _Atomic uint64_t injected;
static struct {
    int target;           /* a primitive or ANY */
    uint64_t first, last; /* 1-based call numbers that fail; first 0 = none */
    int err;
} plan;

/* The primitive index of name, ANY for "any", -1 if unknown. */
static int lookup(const char *name) {
    if (!name) return -1;
    if (!strcmp(name, "any")) return ANY;
    for (int i = 0; i < TC_FAULT_NPRIMS; i++)
        if (!strcmp(name, names[i])) return i;
    return -1;
}

int tc__fault_hit(enum tc_fault_prim prim) {
    uint64_t n = atomic_fetch_add(&calls[prim], 1) + 1;
    uint64_t all = atomic_fetch_add(&calls[ANY], 1) + 1;
    if (!plan.first) return 0;
    if (plan.target == ANY) n = all;
    else if (plan.target != (int)prim) return 0;
    if (n < plan.first || n > plan.last) return 0;
    atomic_fetch_add(&injected, 1);
    return plan.err;
}

TC_API int tc_testing_fault_arm(const char *primitive, uint64_t nth, uint64_t count, int err) {
    int target = lookup(primitive);
    if (target < 0 || err <= 0) return TC_ERR_INVALID;
    atomic_store(&tc__fault_armed, false);
    for (int i = 0; i <= TC_FAULT_NPRIMS; i++) atomic_store(&calls[i], 0);
    atomic_store(&injected, 0);
    plan.target = target;
    plan.first = nth;
    plan.last = count ? nth + count - 1 : UINT64_MAX;
    plan.err = err;
    atomic_store(&tc__fault_armed, true);
    return TC_OK;
}

TC_API void tc_testing_fault_disarm(void) {
    atomic_store(&tc__fault_armed, false);
    plan.first = 0;
}

TC_API uint64_t tc_testing_fault_calls(const char *primitive) {
    int i = lookup(primitive);
    return i < 0 ? 0 : atomic_load(&calls[i]);
}

TC_API uint64_t tc_testing_fault_injected(void) { return atomic_load(&injected); }
