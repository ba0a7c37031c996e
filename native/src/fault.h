/* Fault points of the OS seam (see include/tiercache/testing.h): one per primitive. */
#ifndef TC_FAULT_H
#define TC_FAULT_H

#include <stdatomic.h>
#include <stdbool.h>

enum tc_fault_prim {
    TC_FAULT_RESERVE,
    TC_FAULT_MAP_FILE,
    TC_FAULT_MAP_ANON,
    TC_FAULT_UNMAP,
    TC_FAULT_DONTFORK,
    TC_FAULT_FILE_ALLOC,
    TC_FAULT_FILE_PUNCH,
    TC_FAULT_OPEN_TMPFILE,
    TC_FAULT_CHECK_DIR,
    TC_FAULT_FS_SIZE,
    TC_FAULT_MAP_SYNC,
    TC_FAULT_MBIND,
    TC_FAULT_MADVISE,
    TC_FAULT_NPRIMS
};

extern atomic_bool tc__fault_armed;

/* Count one call of prim; the errno to fail it with, or 0 to go ahead. */
int tc__fault_hit(enum tc_fault_prim prim);

/* First statement of a primitive that returns 0 or an errno. */
#define TC_FAULT_POINT(prim)                                                                     \
    do {                                                                                         \
        if (__builtin_expect(atomic_load_explicit(&tc__fault_armed, memory_order_relaxed), 0)) { \
            int tc_fault_err_ = tc__fault_hit(prim);                                             \
            if (tc_fault_err_) return tc_fault_err_;                                             \
        }                                                                                        \
    } while (0)

#endif
