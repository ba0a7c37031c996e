/*
 * The only file that calls mmap, munmap, madvise, fallocate and open on behalf of kinds.
 * Every primitive returns 0 or an errno and leaves errno as it found it on success.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fault.h"
#include "internal.h"

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif

size_t tc__os_page_size(void) {
    static size_t page;
    if (!page) page = (size_t)sysconf(_SC_PAGESIZE);
    return page;
}

size_t tc__os_phys_mem(void) {
    long pages = sysconf(_SC_PHYS_PAGES);
    return pages > 0 ? (size_t)pages * tc__os_page_size() : 0;
}

/* Pre: align is a power of two >= page size, len a multiple of the page size. */
int tc__os_reserve(size_t len, size_t align, void **out) {
    TC_FAULT_POINT(TC_FAULT_RESERVE);
    size_t span = len + align;
    if (span < len) return ENOMEM;
    void *p = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return errno;
    uintptr_t base = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
    size_t head = base - (uintptr_t)p, tail = span - head - len;
    if (head) munmap(p, head);
    if (tail) munmap((void *)(base + len), tail);
    *out = (void *)base;
    return 0;
}

/* Pre: [addr, addr+len) is reserved by this process; off is page-aligned. */
int tc__os_map_file(void *addr, size_t len, int fd, off_t off) {
    TC_FAULT_POINT(TC_FAULT_MAP_FILE);
    void *p = mmap(addr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, off);
    return p == MAP_FAILED ? errno : 0;
}

/* Pre: [addr, addr+len) is reserved by this process. Replaces it with private zero pages. */
int tc__os_map_anon(void *addr, size_t len, bool accessible) {
    TC_FAULT_POINT(TC_FAULT_MAP_ANON);
    int prot = accessible ? PROT_READ | PROT_WRITE : PROT_NONE;
    void *p = mmap(addr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
                   -1, 0);
    return p == MAP_FAILED ? errno : 0;
}

int tc__os_unmap(void *addr, size_t len) {
    TC_FAULT_POINT(TC_FAULT_UNMAP);
    return munmap(addr, len) ? errno : 0;
}

/* The range is not inherited by fork() children, even those that skip atfork handlers. */
int tc__os_dontfork(void *addr, size_t len) {
    TC_FAULT_POINT(TC_FAULT_DONTFORK);
    return madvise(addr, len, MADV_DONTFORK) ? errno : 0;
}

/* Allocate file blocks so that touching [off, off+len) through a mapping cannot SIGBUS. */
int tc__os_file_alloc(int fd, off_t off, size_t len) {
    TC_FAULT_POINT(TC_FAULT_FILE_ALLOC);
    int r;
    do r = fallocate(fd, 0, off, (off_t)len);
    while (r && errno == EINTR);
    return r ? errno : 0;
}

/* Return the file blocks of [off, off+len); the range reads as zeros afterwards. */
int tc__os_file_punch(int fd, off_t off, size_t len) {
    TC_FAULT_POINT(TC_FAULT_FILE_PUNCH);
    int r;
    do r = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, (off_t)len);
    while (r && errno == EINTR);
    return r ? errno : 0;
}

/* An unlinked regular file in dir, mode 0600, close-on-exec. O_TMPFILE where supported. */
int tc__os_open_tmpfile(const char *dir, int *fd) {
    TC_FAULT_POINT(TC_FAULT_OPEN_TMPFILE);
    int f = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
    if (f >= 0) {
        *fd = f;
        return 0;
    }
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) return errno;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/tiercache.XXXXXX", dir) >= (int)sizeof path)
        return ENAMETOOLONG;
    f = mkostemp(path, O_CLOEXEC); /* creates with mode 0600 */
    if (f < 0) return errno;
    int e = unlink(path) ? errno : 0;
    if (e) {
        close(f);
        return e;
    }
    *fd = f;
    return 0;
}

/* 0 when dir exists, is a directory and is writable and searchable by this process. */
int tc__os_check_dir(const char *dir) {
    TC_FAULT_POINT(TC_FAULT_CHECK_DIR);
    struct stat st;
    if (stat(dir, &st)) return errno;
    if (!S_ISDIR(st.st_mode)) return ENOTDIR;
    if (access(dir, W_OK | X_OK)) return errno;
    return 0;
}

int tc__os_fs_size(int fd, size_t *out) {
    TC_FAULT_POINT(TC_FAULT_FS_SIZE);
    struct statvfs sv;
    if (fstatvfs(fd, &sv)) return errno;
    *out = (size_t)sv.f_blocks * sv.f_frsize;
    return 0;
}

/* 0 when a MAP_SYNC mapping of fd works, which only a DAX filesystem allows. */
int tc__os_map_sync_works(int fd) {
    TC_FAULT_POINT(TC_FAULT_MAP_SYNC);
    size_t len = tc__os_page_size();
    int e = tc__os_file_alloc(fd, 0, len);
    if (e) return e;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0);
    if (p == MAP_FAILED) return errno;
    munmap(p, len);
    return 0;
}

int tc__err_from_errno(int e) {
    switch (e) {
    case 0: return TC_OK;
    case ENOMEM: case ENOSPC: case EFBIG: case EDQUOT: return TC_ERR_NOMEM;
    case ENOENT: case ENOTDIR: case ENAMETOOLONG: return TC_ERR_NOENT;
    case EACCES: case EPERM: case EROFS: return TC_ERR_ACCESS;
    case EOPNOTSUPP: case ENODEV: case EINVAL: return TC_ERR_NOTSUP;
    case EMFILE: case ENFILE: return TC_ERR_TOOMANY;
    default: return TC_ERR_SYSTEM;
    }
}
