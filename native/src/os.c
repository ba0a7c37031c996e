/*
 * The only file that calls mmap, munmap, madvise, fallocate, open and the NUMA system calls
 * (mbind, get_mempolicy, move_pages, getcpu) on behalf of kinds. Every primitive returns 0 or
 * an errno and leaves errno as it found it on success. The NUMA calls are made directly, so
 * the library needs no libnuma.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
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
    void *p =
        mmap(addr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
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

/* Undo tc__os_dontfork: fork() children inherit the mapping (a MAP_SHARED one, shared). */
int tc__os_dofork(void *addr, size_t len) {
    TC_FAULT_POINT(TC_FAULT_MADVISE);
    return madvise(addr, len, MADV_DOFORK) ? errno : 0;
}

/* Read the file's data in [off, off+len) into buf; holes are skipped (buf is zeros there), so
 * the file gains no blocks. Ranges past the end of the file stay zero. */
static int read_data(int fd, char *buf, off_t off, size_t len) {
    off_t end = off + (off_t)len, pos = off;
    while (pos < end) {
        off_t data = lseek(fd, pos, SEEK_DATA), hole;
        if (data < 0) {
            if (errno == ENXIO) return 0; /* no data past pos */
            if (errno != EINVAL) return errno;
            data = pos, hole = end; /* SEEK_DATA unsupported: read it all */
        } else {
            hole = lseek(fd, data, SEEK_HOLE);
            if (hole < 0) return errno;
        }
        if (data >= end) return 0;
        if (hole > end) hole = end;
        for (pos = data; pos < hole;) {
            ssize_t r = pread(fd, buf + (pos - off), (size_t)(hole - pos), pos);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) return errno;
            if (r == 0) return 0; /* end of file */
            pos += r;
        }
    }
    return 0;
}

/*
 * Pre: [addr, addr+len) maps fd from offset off with MAP_SHARED. Replaces the mapping with
 * private anonymous memory holding the same bytes in its first `used` bytes (zeros after), so
 * this process stops sharing them. The file is only read. On failure the mapping is unchanged.
 */
int tc__os_copy_to_private(void *addr, size_t len, size_t used, int fd, off_t off) {
    TC_FAULT_POINT(TC_FAULT_MAP_ANON);
    void *tmp = mmap(NULL, len, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (tmp == MAP_FAILED) return errno;
    int saved = errno;
    int e = read_data(fd, tmp, off, used < len ? used : len);
    if (!e && mremap(tmp, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, addr) == MAP_FAILED) e = errno;
    if (e) munmap(tmp, len);
    else errno = saved;
    return e;
}

/* Where fallocate(mode 0) is not supported (ext2, ...): write a zero byte into each block.
 * Pre: nobody uses [off, off+len) (it is being committed), so its bytes are zeros or junk. */
static int zero_fill(int fd, off_t off, size_t len) {
    struct stat st;
    if (fstat(fd, &st)) return errno;
    off_t blk = st.st_blksize > 0 ? st.st_blksize : 4096, end = off + (off_t)len;
    for (off_t at = off - off % blk; at < end; at += blk) {
        off_t p = at < off ? off : at;
        ssize_t w;
        do w = pwrite(fd, "", 1, p);
        while (w < 0 && errno == EINTR);
        if (w < 0) return errno;
    }
    return 0;
}

/* Allocate file blocks so that touching [off, off+len) through a mapping cannot SIGBUS.
 * Pre: nobody uses the range. */
int tc__os_file_alloc(int fd, off_t off, size_t len) {
    TC_FAULT_POINT(TC_FAULT_FILE_ALLOC);
    int r;
    do r = fallocate(fd, 0, off, (off_t)len);
    while (r && errno == EINTR);
    if (r && errno == EOPNOTSUPP) return zero_fill(fd, off, len);
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

/* ---- NUMA ---- */

/* Pre: [addr, addr+len) is reserved by this process, 2 MiB-aligned and sized when huge.
 * Replaces it with private read-write zero pages, 2 MiB hugetlb pages when `huge` (taken from
 * the reserved pool at once, so an empty pool is ENOMEM here rather than SIGBUS later). */
int tc__os_map_anon_rw(void *addr, size_t len, bool huge) {
    TC_FAULT_POINT(TC_FAULT_MAP_ANON);
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
    flags |= huge ? MAP_HUGETLB | (21 << MAP_HUGE_SHIFT) : MAP_NORESERVE;
    void *p = mmap(addr, len, PROT_READ | PROT_WRITE, flags, -1, 0);
    return p == MAP_FAILED ? errno : 0;
}

/* Return the pages of [addr, addr+len) (base pages only); the range reads as zeros after and
 * keeps its memory policy. */
int tc__os_discard(void *addr, size_t len) {
    TC_FAULT_POINT(TC_FAULT_MADVISE);
    return madvise(addr, len, MADV_DONTNEED) ? errno : 0;
}

/* Fault in [addr, addr+len) for writing now, under the range's memory policy: a hugetlb
 * range whose nodes have no free huge page fails here (ENOMEM/EFAULT) instead of raising
 * SIGBUS at first touch. EINVAL: the kernel predates MADV_POPULATE_WRITE (5.14). */
int tc__os_populate(void *addr, size_t len) {
    TC_FAULT_POINT(TC_FAULT_MADVISE);
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
    return madvise(addr, len, MADV_POPULATE_WRITE) ? errno : 0;
}

/* Ask the kernel not to back [addr, addr+len) with transparent huge pages. */
int tc__os_no_thp(void *addr, size_t len) {
    TC_FAULT_POINT(TC_FAULT_MADVISE);
    return madvise(addr, len, MADV_NOHUGEPAGE) ? errno : 0;
}

/* Set the memory policy (MPOL_*) of [addr, addr+len) to `mode` over the nodes in mask. Pre:
 * the range is mapped and page-aligned; mask has TC_MAX_NODES bits. */
int tc__os_mbind(void *addr, size_t len, int mode, const tc_nodemask_t *mask) {
    TC_FAULT_POINT(TC_FAULT_MBIND);
    long r = syscall(SYS_mbind, addr, len, mode, mask->w, (unsigned long)TC_MAX_NODES + 1, 0u);
    return r ? errno : 0;
}

/* Where each of the n pages at pages[i] (page-aligned) is: status[i] is its node, or a
 * negative errno (-EFAULT: not mapped, -ENOENT: not faulted in). Moves nothing. */
int tc__os_pages_nodes(void *const *pages, unsigned long n, int *status) {
    long r = syscall(SYS_move_pages, 0, n, pages, NULL, status, 0);
    return r ? errno : 0;
}

/* The node holding the page at addr, in *node: 0, or an errno (ENOENT: not faulted in). */
int tc__os_page_node(const void *addr, int *node) {
    void *page = (void *)((uintptr_t)addr & ~(uintptr_t)(tc__os_page_size() - 1));
    int status = -1;
    int e = tc__os_pages_nodes(&page, 1, &status);
    if (e) return e;
    if (status < 0) return -status;
    *node = status;
    return 0;
}

/* The NUMA node of the CPU this thread runs on now. */
int tc__os_current_node(unsigned *node) {
    unsigned cpu;
    long r = syscall(SYS_getcpu, &cpu, node, NULL);
    return r ? errno : 0;
}

int tc__err_from_errno(int e) {
    switch (e) {
    case 0: return TC_OK;
    case ENOMEM:
    case ENOSPC:
    case EFBIG:
    case EDQUOT: return TC_ERR_NOMEM;
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG: return TC_ERR_NOENT;
    case EACCES:
    case EPERM:
    case EROFS: return TC_ERR_ACCESS;
    case EOPNOTSUPP:
    case ENODEV:
    case EINVAL: return TC_ERR_NOTSUP;
    case EMFILE:
    case ENFILE: return TC_ERR_TOOMANY;
    default: return TC_ERR_SYSTEM;
    }
}
