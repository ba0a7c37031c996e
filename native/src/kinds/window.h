/*
 * The reservation layer of the kinds that own address space (file and NUMA kinds), in the
 * manner of oneAPI UMF's coarse layer: address space comes in windows, ranges of whole granules
 * reserved PROT_NONE, named in the address index (ptrmap.c) once, and kept until the kind is
 * released. A kind's reserve op cuts the next piece off its newest window with a bump pointer;
 * when that window has no room, a new one is added. The pieces never return to the windows:
 * jemalloc keeps what it was given and decommits it through the kind's ops.
 *
 * What a window holds is the kind's business, through two hooks: `map` makes a new window
 * usable (a file's pages mapped over it), `carve` prepares a piece before it is handed out
 * (file blocks allocated, anonymous pages mapped and bound to nodes).
 *
 * Window n is `first << min(n, growth_shift)` bytes, or the request rounded up to a granule
 * when that is larger. A `fixed` set has one window of `first` bytes: the kind's size limit.
 */
#ifndef TC_KINDS_WINDOW_H
#define TC_KINDS_WINDOW_H

#include "internal.h"

#define TC_WINDOWS_MAX 48

struct tc_window {
    uintptr_t base;
    size_t len;  /* bytes, a multiple of TC_GRANULE */
    size_t used; /* [base, base+used) has been handed out */
    off_t off;   /* bytes in the windows before this one: its offset in a backing file */
};

struct tc_window_hooks {
    /* Make the new window w, reserved PROT_NONE and not yet indexed, usable as the kind's
     * memory. 0 or an errno (the layer then unmaps it). NULL: nothing to do. Kind lock held. */
    int (*map)(tc_kind_t *k, const struct tc_window *w);
    /* Prepare [addr, addr+size) of w to be handed out; `commit` as in the reserve op. 0, or an
     * errno with the range left as it was (nothing is handed out). NULL: nothing to do. Kind
     * lock held. */
    int (*carve)(tc_kind_t *k, const struct tc_window *w, uintptr_t addr, size_t size,
                 bool commit);
};

struct tc_windows {
    /* the shape, set by the kind before the first reserve */
    size_t first;          /* bytes of the first window, a multiple of TC_GRANULE */
    unsigned limit;        /* windows at most, up to TC_WINDOWS_MAX */
    unsigned growth_shift; /* windows double in size up to first << growth_shift */
    bool fixed;            /* one window of `first` bytes, never larger */
    /* the state, changed under the kind lock */
    off_t end; /* bytes in all windows */
    struct tc_window win[TC_WINDOWS_MAX];
    _Atomic unsigned n; /* windows in win[]; published after the window is filled in */
};

/* Cut size bytes aligned to align (a power of two) for kind k from ws, adding a window when the
 * newest has no room, and prepare them with h->carve. Takes k->lock. The address, or NULL with
 * errno set (ENOMEM when the set is at its limit). */
void *tc__windows_reserve(tc_kind_t *k, struct tc_windows *ws, const struct tc_window_hooks *h,
                          size_t size, size_t align, bool commit);
/* The window holding addr, or NULL. Lock-free. */
struct tc_window *tc__window_of(struct tc_windows *ws, uintptr_t addr);
/* True when a and b lie in the same window (jemalloc may merge their extents). */
bool tc__windows_same(struct tc_windows *ws, const void *a, const void *b);
/* Number of windows in ws now (each win[i] below it is filled in). */
unsigned tc__windows_count(struct tc_windows *ws);
/* Forget every window in the address index and unmap it (the kind's release). */
void tc__windows_release(struct tc_windows *ws);

#endif /* TC_KINDS_WINDOW_H */
