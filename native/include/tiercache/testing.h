/*
 * TEST ONLY: fault injection at the OS seam (native/src/os.c). Not for production use.
 *
 * Every OS primitive (mmap of address space, file mapping, file growth, hole punching,
 * madvise, ...) passes a fault point before doing its work. Once armed, the library counts
 * the calls of each primitive and makes the nth call of the chosen one (or of any, with
 * "any") return the chosen errno without calling the OS; `count` consecutive calls fail
 * from there (0 = every later call, like a full disk). Disarmed, a fault point costs one
 * predictable branch on a global flag. Arm and disarm while no other thread is in the library.
 *
 * Primitive names: reserve, map_file, map_anon, unmap, dontfork, file_alloc, file_punch,
 * open_tmpfile, check_dir, fs_size, map_sync, mbind, madvise, and "any".
 */
#ifndef TIERCACHE_TESTING_H
#define TIERCACHE_TESTING_H

#include <stdint.h>

#include "tiercache/tiercache.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Start counting (and reset every counter); fail calls nth..nth+count-1 of `primitive`
 * (1-based; nth 0 = count only) with errno err (> 0). TC_ERR_INVALID for an unknown name
 * or a bad errno. */
TC_API int tc_testing_fault_arm(const char *primitive, uint64_t nth, uint64_t count, int err);
/* Stop counting and failing; counters keep their values until the next arm. */
TC_API void tc_testing_fault_disarm(void);
/* Calls of `primitive` ("any": all of them) since the last arm; 0 for an unknown name. */
TC_API uint64_t tc_testing_fault_calls(const char *primitive);
/* Faults injected since the last arm. */
TC_API uint64_t tc_testing_fault_injected(void);

#ifdef __cplusplus
}
#endif
#endif
