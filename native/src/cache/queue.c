/*
 * FIFO queues of entries as rings of pointers. Each entry knows its ring slot (qpos), so it
 * can leave from the middle by leaving a hole; pops skip holes. A full ring is compacted in
 * place when at most half of it is live, else doubled. 8 bytes per queued entry.
 */
#include <stdlib.h>

#include "cache_internal.h"

#define MIN_RING 64

static void relayout(struct tc_queue *q, struct tc_entry **ring, uint32_t cap) {
    uint32_t n = 0;
    for (uint32_t i = q->head; i != q->tail; i++) {
        struct tc_entry *e = q->ring[i & (q->cap - 1)];
        if (!e) continue;
        ring[n] = e;
        e->qpos = n++;
    }
    q->ring = ring;
    q->cap = cap;
    q->head = 0;
    q->tail = n;
}

int tc__queue_reserve(struct tc_cache *c, struct tc_queue *q) {
    if (q->cap && q->tail - q->head < q->cap) return TC_OK;
    if (q->cap && q->live <= q->cap / 2) {
        /* Compact through a scratch copy in plain heap memory, not charged: it is freed at
         * once. */
        struct tc_entry **tmp = malloc((size_t)q->cap * sizeof *tmp);
        if (!tmp) return TC_ERR_NOMEM;
        struct tc_entry **old = q->ring;
        relayout(q, tmp, q->cap);
        memcpy(old, tmp, (size_t)q->tail * sizeof *tmp);
        q->ring = old;
        free(tmp);
        return TC_OK;
    }
    uint32_t cap = q->cap ? q->cap * 2 : MIN_RING;
    if (cap == 0) return TC_ERR_NOMEM; /* 2^32 entries: cannot grow further */
    /* Charged to tier 0 without making room first (eviction itself moves entries between
     * queues): callers reserve before tc__make_room, which then counts the ring. */
    size_t bytes = (size_t)cap * sizeof(struct tc_entry *);
    struct tc_entry **ring = tc__cache_alloc(c, 0, true, bytes);
    if (!ring) return TC_ERR_NOMEM;
    struct tc_entry **old = q->ring;
    if (old) {
        relayout(q, ring, cap);
        tc__cache_free(c, 0, old);
    } else {
        q->ring = ring;
        q->cap = cap;
    }
    return TC_OK;
}

void tc__queue_push(struct tc_queue *q, struct tc_entry *e) {
    uint32_t pos = q->tail & (q->cap - 1);
    q->ring[pos] = e;
    e->qpos = pos;
    q->tail++;
    q->live++;
    if (q->counts_bytes) q->bytes += tc__entry_charge(e);
}

struct tc_entry *tc__queue_pop(struct tc_queue *q) {
    while (q->head != q->tail) {
        struct tc_entry *e = q->ring[q->head & (q->cap - 1)];
        q->head++;
        if (e) {
            q->live--;
            if (q->counts_bytes) q->bytes -= tc__entry_charge(e);
            return e;
        }
    }
    return NULL;
}

void tc__queue_remove(struct tc_queue *q, struct tc_entry *e) {
    q->ring[e->qpos] = NULL;
    q->live--;
    if (q->counts_bytes) q->bytes -= tc__entry_charge(e);
    /* Trim holes at both ends so that an emptied queue is really empty. */
    while (q->head != q->tail && !q->ring[q->head & (q->cap - 1)]) q->head++;
    while (q->head != q->tail && !q->ring[(q->tail - 1) & (q->cap - 1)]) q->tail--;
}

void tc__queue_release(struct tc_cache *c, struct tc_queue *q) {
    if (q->ring) tc__cache_free(c, 0, q->ring);
    bool counts_bytes = q->counts_bytes;
    memset(q, 0, sizeof *q);
    q->counts_bytes = counts_bytes;
}
