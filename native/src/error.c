/* Messages for TC_ERR_* codes. */
#include "internal.h"

TC_API const char *tc_strerror(int err) {
    switch (err) {
    case TC_OK: return "success";
    case TC_ERR_INVALID: return "invalid argument";
    case TC_ERR_NOMEM: return "out of memory for this kind";
    case TC_ERR_UNAVAILABLE: return "this kind of memory is not available on this machine";
    case TC_ERR_NOENT: return "directory does not exist or is not a directory";
    case TC_ERR_ACCESS: return "directory is not writable";
    case TC_ERR_NOTSUP: return "filesystem does not support hole punching (or DAX)";
    case TC_ERR_TOOMANY: return "too many kinds or arenas";
    case TC_ERR_ENVIRON: return "invalid environment option (see tc_options_error)";
    case TC_ERR_DESTROYED: return "kind was already destroyed";
    case TC_ERR_MMAP: return "the kernel refused to map memory";
    case TC_ERR_ARENA: return "jemalloc could not create an arena";
    case TC_ERR_FORKED: return "file-backed kind is detached in this forked child";
    case TC_ERR_SYSTEM: return "operating-system error";
    case TC_ERR_BUSY: return "kind still has allocations it cannot release";
    case TC_ERR_TOOLARGE: return "entry is larger than any tier of the cache";
    case TC_ERR_CORRUPT: return "cache invariant broken";
    case TC_ERR_CLOSED: return "cache is closed";
    case TC_ERR_NOTNUMBER: return "cannot increment or decrement a non-numeric value";
    case TC_ERR_RANGE: return "increment or decrement out of the 64-bit range";
    default: return "unknown error";
    }
}
