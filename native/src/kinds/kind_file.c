/*
 * File-backed (PMEM) kinds: memory mapped from an unlinked temporary file in a directory on
 * any filesystem with hole punching (fsdax, tmpfs, ext4, xfs).
 *
 * Address space comes in windows: 2 MiB-aligned ranges mapped MAP_SHARED over consecutive
 * file offsets, never unmapped while the kind lives. A kind with max_size has exactly one
 * window of that size, which is how the limit is enforced. Without max_size, windows grow
 * geometrically. File blocks are allocated (fallocate, or by writing a zero into each block where
 * the filesystem has no fallocate, e.g. ext2) before jemalloc touches a range, so a
 * full filesystem is an allocation failure, never SIGBUS, and returned by punching holes.
 *
 * Fork (tc_fork_policy_t): under TC_FORK_DETACH, the default, windows are MADV_DONTFORK; in the
 * child the kind is detached and its windows become inaccessible private ranges. Under
 * TC_FORK_COPY windows are inherited, and the child, while the parent waits (registry.c),
 * replaces each with a private copy and lets go of the file: from then on the kind is backed
 * by anonymous memory in the child (`anon`). Either way neither process can write the other's
 * memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "kinds/window.h"

#define MAX_GROWTH_SHIFT 6 /* unlimited kinds: windows double up to 64x the first */

struct file_kind {
    int fd;
    size_t max_size;
    struct tc_windows win; /* win[i].off: the window's offset in the file */
    bool fork_copy;        /* TC_FORK_COPY; changed under the kind lock */
    bool anon;             /* a TC_FORK_COPY child's: windows are private memory, fd is closed */
};

static size_t round_up(size_t x, size_t a) { return (x + a - 1) & ~(a - 1); }

/* Map the file's next len bytes over a new window (private zeros in a TC_FORK_COPY child). */
static int file_map_window(tc_kind_t *k, const struct tc_window *w) {
    struct file_kind *f = k->priv;
    if (f->anon) return tc__os_map_anon((void *)w->base, w->len, true);
    int e = tc__os_map_file((void *)w->base, w->len, f->fd, w->off);
    if (!e && !f->fork_copy) e = tc__os_dontfork((void *)w->base, w->len);
    return e;
}

/* Allocate the file blocks under a piece about to be handed out committed, so that a full
 * filesystem is an allocation failure here rather than SIGBUS at first touch. */
static int file_carve(tc_kind_t *k, const struct tc_window *w, uintptr_t addr, size_t size,
                      bool commit) {
    struct file_kind *f = k->priv;
    if (!commit || f->anon) return 0;
    return tc__os_file_alloc(f->fd, w->off + (off_t)(addr - w->base), size);
}

static const struct tc_window_hooks file_windows = {.map = file_map_window, .carve = file_carve};

/* reserve op: a piece of the newest window, its file blocks allocated when committed. */
static void *file_reserve(tc_kind_t *k, size_t size, size_t align, bool *zero, bool *commit) {
    struct file_kind *f = k->priv;
    void *ret = tc__windows_reserve(k, &f->win, &file_windows, size, align, *commit);
    if (ret) *zero = true; /* never handed out before: fresh file range */
    return ret;
}

static int file_commit(tc_kind_t *k, void *addr, size_t size) {
    struct file_kind *f = k->priv;
    struct tc_window *w = tc__window_of(&f->win, (uintptr_t)addr);
    if (!w) return EINVAL;
    if (f->anon) return 0;
    return tc__os_file_alloc(f->fd, w->off + (off_t)((uintptr_t)addr - w->base), size);
}

static int file_decommit(tc_kind_t *k, void *addr, size_t size) {
    struct file_kind *f = k->priv;
    struct tc_window *w = tc__window_of(&f->win, (uintptr_t)addr);
    if (!w) return EINVAL;
    if (f->anon) return tc__os_discard(addr, size);
    return tc__os_file_punch(f->fd, w->off + (off_t)((uintptr_t)addr - w->base), size);
}

static bool file_can_merge(tc_kind_t *k, void *a, void *b) {
    struct file_kind *f = k->priv;
    return tc__windows_same(&f->win, a, b);
}

/* Also the cleanup of a kind whose creation failed (tc__kind_create): no windows yet. */
static void file_release(tc_kind_t *k) {
    struct file_kind *f = k->priv;
    tc__windows_release(&f->win);
    if (f->fd >= 0) close(f->fd);
    if (f->fork_copy) atomic_fetch_sub(&tc__fork_copy_kinds, 1);
    free(f);
    k->priv = NULL;
}

/* TC_FORK_COPY in the child: every window becomes a private copy, then the file is let go. */
static int copy_windows(struct file_kind *f) {
    unsigned n = tc__windows_count(&f->win);
    for (unsigned i = 0; i < n; i++) {
        struct tc_window *w = &f->win.win[i];
        int e = tc__os_copy_to_private((void *)w->base, w->len, w->used, f->fd, w->off);
        if (e) return e;
    }
    close(f->fd);
    f->fd = -1;
    f->anon = true;
    return 0;
}

static void file_fork_child(tc_kind_t *k) {
    struct file_kind *f = k->priv;
    /* Private memory (anon) is inherited copy-on-write like DRAM. */
    if (f->anon || (f->fork_copy && copy_windows(f) == 0)) return;
    atomic_store(&k->detached, true);
    unsigned n = tc__windows_count(&f->win);
    for (unsigned i = 0; i < n; i++) /* the range stays ours, so the index stays true */
        tc__os_map_anon((void *)f->win.win[i].base, f->win.win[i].len, false);
}

/* A detached child keeps a private copy of [addr, addr+len)'s pages, read from the file. */
static int file_fork_keep(tc_kind_t *k, void *addr, size_t len) {
    struct file_kind *f = k->priv;
    struct tc_window *w = tc__window_of(&f->win, (uintptr_t)addr);
    if (!w || f->fd < 0) return EINVAL;
    size_t page = tc__os_page_size();
    uintptr_t start = (uintptr_t)addr & ~(page - 1);
    uintptr_t end = round_up((uintptr_t)addr + len, page);
    if (end > w->base + w->len) end = w->base + w->len;
    return tc__os_copy_to_private((void *)start, end - start, end - start, f->fd,
                                  w->off + (off_t)(start - w->base));
}

static int file_set_fork_policy(tc_kind_t *k, tc_fork_policy_t policy) {
    struct file_kind *f = k->priv;
    bool copy = policy == TC_FORK_COPY;
    int e = 0;
    pthread_mutex_lock(&k->lock);
    if (copy != f->fork_copy && !f->anon) {
        unsigned n = tc__windows_count(&f->win);
        for (unsigned i = 0; i < n && !e; i++) {
            struct tc_window *w = &f->win.win[i];
            e = copy ? tc__os_dofork((void *)w->base, w->len)
                     : tc__os_dontfork((void *)w->base, w->len);
        }
        if (!e) {
            f->fork_copy = copy;
            if (copy) atomic_fetch_add(&tc__fork_copy_kinds, 1);
            else atomic_fetch_sub(&tc__fork_copy_kinds, 1);
        }
    }
    pthread_mutex_unlock(&k->lock);
    return e ? tc__err_from_errno(e) : TC_OK;
}

static int file_capacity(const tc_kind_t *k, size_t *out) {
    struct file_kind *f = k->priv;
    if (f->max_size || f->anon) {
        *out = f->max_size ? f->max_size : tc__os_phys_mem();
        return TC_OK;
    }
    return tc__err_from_errno(tc__os_fs_size(f->fd, out));
}

static const struct tc_kind_ops file_ops = {
    .reserve = file_reserve,
    .commit = file_commit,
    .decommit = file_decommit,
    .can_merge = file_can_merge,
    .release = file_release,
    .fork_child = file_fork_child,
    .fork_keep = file_fork_keep,
    .set_fork_policy = file_set_fork_policy,
    .capacity = file_capacity,
};

/* Create the backing file and check the filesystem can punch holes. TC_OK or an error. */
static int open_backing(const char *dir, int *fd) {
    int e = tc__os_check_dir(dir);
    if (e) {
        tc__log("cannot use directory %s: %s", dir, strerror(e));
        return tc__err_from_errno(e);
    }
    if ((e = tc__os_open_tmpfile(dir, fd))) { /* the directory is there (procfs, sysfs) */
        tc__log("cannot create a file in directory %s: %s", dir, strerror(e));
        return e == ENOENT || e == ENOTDIR ? TC_ERR_NOTSUP : tc__err_from_errno(e);
    }
    size_t page = tc__os_page_size();
    e = tc__os_file_alloc(*fd, 0, page);
    if (!e) e = tc__os_file_punch(*fd, 0, page);
    if (e) {
        close(*fd);
        tc__log("directory %s cannot back a kind (fallocate/hole punching: %s)", dir, strerror(e));
        return tc__err_from_errno(e); /* EOPNOTSUPP: no hole punching; ENOSPC: full */
    }
    return TC_OK;
}

TC_API int tc_kind_create_file(const char *dir, size_t max_size, tc_file_policy_t policy,
                               tc_kind_t **out) {
    if (!dir || !out || (max_size && max_size < TC_FILE_MIN_SIZE) ||
        (policy != TC_FILE_PERFORMANCE && policy != TC_FILE_CONSERVATIVE))
        return TC_ERR_INVALID;
    if (max_size > ((size_t)1 << 46)) return TC_ERR_INVALID;
    unsigned long narenas, window_mb, hog;
    int err;
    if ((err = tc__option_uint(TC_OPT_FILE_ARENAS, &narenas)) ||
        (err = tc__option_uint(TC_OPT_FILE_WINDOW_MB, &window_mb)) ||
        (err = tc__option_uint(TC_OPT_HOG_MEMORY, &hog)))
        return err;
    tc__init();
    struct file_kind *f = calloc(1, sizeof *f);
    if (!f) return TC_ERR_NOMEM;
    if ((err = open_backing(dir, &f->fd))) {
        free(f);
        return err;
    }
    f->max_size = max_size;
    if (max_size) /* one window of max_size: the limit */
        f->win = (struct tc_windows){.first = round_up(max_size, TC_GRANULE),
                                     .limit = 1,
                                     .fixed = true};
    else
        f->win = (struct tc_windows){.first = round_up((size_t)window_mb << 20, TC_GRANULE),
                                     .limit = TC_WINDOWS_MAX,
                                     .growth_shift = MAX_GROWTH_SHIFT};
    /* Conservative: memory over speed. Blocks held in thread caches pin slabs all over a
     * size-limited kind, so that a refill after freeing everything fell short by 3% (memkind
     * guarantees 98%, and caches no file-kind blocks at all). */
    uint8_t flags = policy == TC_FILE_CONSERVATIVE ? TC_KIND_UNCACHED : 0;
    enum tc_decay decay = hog                              ? TC_DECAY_NEVER
                          : policy == TC_FILE_CONSERVATIVE ? TC_DECAY_IMMEDIATE
                                                           : TC_DECAY_JEMALLOC;
    return tc__kind_create(&file_ops, f, "file", flags, (unsigned)narenas, decay, out);
}

TC_API int tc_check_dax_path(const char *dir) {
    if (!dir) return TC_ERR_INVALID;
    int fd, e = tc__os_check_dir(dir);
    if (!e) e = tc__os_open_tmpfile(dir, &fd);
    if (e) return tc__err_from_errno(e);
    e = tc__os_map_sync_works(fd);
    close(fd);
    return e ? TC_ERR_NOTSUP : TC_OK;
}
