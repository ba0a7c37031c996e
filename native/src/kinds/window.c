/* The kinds' reservation layer: windows of address space cut by a bump pointer (window.h). */
#include <errno.h>

#include "kinds/window.h"

/* x rounded up to a multiple of a (a power of two). */
static size_t round_up(size_t x, size_t a) { return (x + a - 1) & ~(a - 1); }

/* Add a window of at least `need` bytes to ws: reserve it, let the kind map it, index it for
 * k. 0 or an errno. Kind lock held. */
static int add_window(tc_kind_t *k, struct tc_windows *ws, const struct tc_window_hooks *h,
                      size_t need) {
    unsigned n = atomic_load_explicit(&ws->n, memory_order_relaxed);
    if (n >= ws->limit || n >= TC_WINDOWS_MAX || (ws->fixed && n)) return ENOMEM;
    unsigned shift = n < ws->growth_shift ? n : ws->growth_shift;
    size_t len = ws->first << shift;
    if (len < need) {
        if (ws->fixed) return ENOMEM; /* the one window is the limit */
        len = round_up(need, TC_GRANULE);
    }
    void *base;
    int e = tc__os_reserve(len, TC_GRANULE, &base);
    if (e) return e;
    struct tc_window *w = &ws->win[n];
    *w = (struct tc_window){(uintptr_t)base, len, 0, ws->end};
    if ((h->map && (e = h->map(k, w))) || (e = tc__ptrmap_assign((uintptr_t)base, len, k->id))) {
        tc__os_unmap(base, len);
        return e;
    }
    ws->end += (off_t)len;
    atomic_store_explicit(&ws->n, n + 1, memory_order_release);
    return 0;
}

void *tc__windows_reserve(tc_kind_t *k, struct tc_windows *ws, const struct tc_window_hooks *h,
                          size_t size, size_t align, bool commit) {
    void *ret = NULL;
    int e = 0;
    pthread_mutex_lock(&k->lock);
    for (int attempt = 0; attempt < 2 && !ret && !e; attempt++) {
        unsigned n = atomic_load_explicit(&ws->n, memory_order_relaxed);
        if (n) {
            struct tc_window *w = &ws->win[n - 1];
            uintptr_t start = round_up(w->base + w->used, align);
            if (start + size <= w->base + w->len) {
                if (h->carve) e = h->carve(k, w, start, size, commit);
                if (!e) {
                    w->used = start + size - w->base;
                    ret = (void *)start;
                }
                break;
            }
        }
        e = add_window(k, ws, h, size + align);
    }
    pthread_mutex_unlock(&k->lock);
    if (!ret) errno = e ? e : ENOMEM;
    return ret;
}

struct tc_window *tc__window_of(struct tc_windows *ws, uintptr_t addr) {
    unsigned n = atomic_load_explicit(&ws->n, memory_order_acquire);
    for (unsigned i = 0; i < n; i++)
        if (addr >= ws->win[i].base && addr < ws->win[i].base + ws->win[i].len) return &ws->win[i];
    return NULL;
}

bool tc__windows_same(struct tc_windows *ws, const void *a, const void *b) {
    return tc__window_of(ws, (uintptr_t)a) == tc__window_of(ws, (uintptr_t)b);
}

unsigned tc__windows_count(struct tc_windows *ws) {
    return atomic_load_explicit(&ws->n, memory_order_acquire);
}

void tc__windows_release(struct tc_windows *ws) {
    unsigned n = tc__windows_count(ws);
    for (unsigned i = 0; i < n; i++) {
        tc__ptrmap_clear(ws->win[i].base, ws->win[i].len);
        tc__os_unmap((void *)ws->win[i].base, ws->win[i].len);
    }
    atomic_store(&ws->n, 0);
}
