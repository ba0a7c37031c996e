/*
 * FIFO queues of entries: rings of entry pointers built from segments (a segment is 1/2048 of
 * the tier's budget, 16 to 4096 pointers), in the memory of the tier whose entries the queue
 * holds, so that a lower tier's queues cost no DRAM. Positions are free-running 32-bit
 * counters; each entry knows its position (qpos), so it can leave from the middle by leaving a
 * hole, and pops skip holes. Growing adds one segment at a time (and doubles a small directory
 * of segment pointers now and then): no step ever needs a second copy of the whole ring, so
 * the tier never has to shed megabytes at once. When holes make up over half the span, the
 * live entries are moved together in place, SQUEEZE_STEP positions per reservation: a gap of
 * known holes travels from the head to the tail (pops jump over it), and the segments left
 * past the tail are freed when it arrives. 8 bytes per queued entry.
 */
#include <stdlib.h>

#include "cache_internal.h"

#define RESERVE 16 /* free slots after the tail that tc__queue_reserve guarantees */
#define MIN_DIR 4

static inline uint32_t seg_slots(const struct tc_queue *q) { return 1u << q->seg_shift; }

static void drop_segment(struct tc_cache *c, unsigned t, struct tc_queue *q,
                         struct tc_entry **seg) {
    if (!q->spare) q->spare = seg;
    else tc__cache_free(c, t, seg);
}

/* Free the segments wholly before head (the queue's first ones). */
static void free_passed(struct tc_cache *c, unsigned t, struct tc_queue *q) {
    while (q->nsegs && q->head - q->lo >= seg_slots(q)) {
        struct tc_entry ***d = &q->dir[(q->lo >> q->seg_shift) & (q->dir_cap - 1)];
        drop_segment(c, t, q, *d);
        *d = NULL;
        q->lo += seg_slots(q);
        q->nsegs--;
    }
    if (!q->nsegs) q->lo = q->head & ~(seg_slots(q) - 1);
}

#define SQUEEZE_STEP 64 /* positions one reservation squeezes at most */

static bool gap_open(const struct tc_queue *q) { return q->gap_lo != q->gap_hi; }

/* The gap reached the tail: the tail comes back to its start, and the segments left past it
 * (beyond one, and the reserve) are freed. */
static void close_gap(struct tc_cache *c, unsigned t, struct tc_queue *q) {
    q->tail = q->gap_hi = q->gap_lo;
    uint32_t hi = q->lo + q->nsegs * seg_slots(q);
    while (q->nsegs > 1 && hi - q->tail > seg_slots(q) + RESERVE) {
        hi -= seg_slots(q);
        struct tc_entry ***d = &q->dir[(hi >> q->seg_shift) & (q->dir_cap - 1)];
        drop_segment(c, t, q, *d);
        *d = NULL;
        q->nsegs--;
    }
}

/* Move live entries together, at most SQUEEZE_STEP positions: the gap [gap_lo, gap_hi) of
 * holes grows as the entries after it move to its start. A squeeze starts once holes are
 * over half of the span. */
static void squeeze(struct tc_cache *c, unsigned t, struct tc_queue *q) {
    if (!gap_open(q)) {
        if (q->tail - q->head < 2 * (uint32_t)q->live + 2 * seg_slots(q)) return;
        q->gap_lo = q->gap_hi = q->head;
    }
    for (unsigned n = 0; n < SQUEEZE_STEP && q->gap_hi != q->tail; n++) {
        struct tc_entry **from = tc__queue_slot(q, q->gap_hi++);
        struct tc_entry *e = *from;
        if (!e) continue;
        *from = NULL;
        *tc__queue_slot(q, q->gap_lo) = e;
        e->qpos = q->gap_lo++;
    }
    if (q->gap_hi == q->tail) close_gap(c, t, q);
}

/* Advance head over holes, jumping the squeeze's gap. */
static void skip_holes(struct tc_queue *q) {
    while (q->head != q->tail) {
        if (gap_open(q) && q->head == q->gap_lo) {
            q->head = q->gap_lo = q->gap_hi;
            continue;
        }
        if (*tc__queue_slot(q, q->head)) return;
        q->head++;
    }
}

/* Room in the directory for one more segment: 0 or TC_ERR_NOMEM. */
static int grow_dir(struct tc_cache *c, unsigned t, struct tc_queue *q) {
    if (q->nsegs < q->dir_cap) return TC_OK;
    uint32_t cap = q->dir_cap ? q->dir_cap * 2 : MIN_DIR;
    if (cap > (1u << (32 - q->seg_shift))) return TC_ERR_NOMEM; /* 2^32 entries */
    struct tc_entry ***dir = tc__cache_alloc(c, t, cap * sizeof *dir);
    if (!dir) return TC_ERR_NOMEM;
    memset(dir, 0, cap * sizeof *dir);
    for (uint32_t i = 0, pos = q->lo; i < q->nsegs; i++, pos += seg_slots(q))
        dir[(pos >> q->seg_shift) & (cap - 1)] = q->dir[(pos >> q->seg_shift) & (q->dir_cap - 1)];
    if (q->dir) tc__cache_free(c, t, q->dir);
    q->dir = dir;
    q->dir_cap = cap;
    return TC_OK;
}

void tc__queue_init(struct tc_queue *q, size_t budget, bool counts_bytes) {
    memset(q, 0, sizeof *q);
    unsigned shift = 4;
    while (shift < 12 && ((size_t)8 << (shift + 1)) <= budget / 2048) shift++;
    q->seg_shift = (uint8_t)shift;
    q->counts_bytes = counts_bytes;
}

int tc__queue_reserve(struct tc_cache *c, unsigned t, struct tc_queue *q) {
    squeeze(c, t, q);
    for (;;) {
        uint32_t hi = q->lo + q->nsegs * seg_slots(q);
        if (q->nsegs && hi - q->tail >= RESERVE) return TC_OK;
        if (grow_dir(c, t, q)) return TC_ERR_NOMEM;
        struct tc_entry **seg = q->spare;
        if (seg) q->spare = NULL;
        else if (!(seg = tc__cache_alloc(c, t, seg_slots(q) * sizeof *seg))) return TC_ERR_NOMEM;
        if (!q->nsegs) q->lo = hi = q->tail & ~(seg_slots(q) - 1);
        q->dir[(hi >> q->seg_shift) & (q->dir_cap - 1)] = seg;
        q->nsegs++;
    }
}

void tc__queue_push(struct tc_queue *q, struct tc_entry *e) {
    *tc__queue_slot(q, q->tail) = e;
    e->qpos = q->tail++;
    q->live++;
    if (q->counts_bytes) q->bytes += tc__entry_charge(e);
}

struct tc_entry *tc__queue_pop(struct tc_cache *c, unsigned t, struct tc_queue *q) {
    skip_holes(q);
    struct tc_entry *found = NULL;
    if (q->head != q->tail) {
        found = *tc__queue_slot(q, q->head++);
        q->live--;
        if (q->counts_bytes) q->bytes -= tc__entry_charge(found);
        skip_holes(q);
    }
    free_passed(c, t, q);
    return found;
}

void tc__queue_remove(struct tc_cache *c, struct tc_queue *q, struct tc_entry *e) {
    unsigned t = entry_tier(e);
    *tc__queue_slot(q, e->qpos) = NULL;
    q->live--;
    if (q->counts_bytes) q->bytes -= tc__entry_charge(e);
    /* Trim holes at both ends so that an emptied queue is really empty. */
    skip_holes(q);
    while (q->head != q->tail && !*tc__queue_slot(q, q->tail - 1)) {
        if (gap_open(q) && q->tail == q->gap_hi) {
            close_gap(c, t, q);
            continue;
        }
        q->tail--;
    }
    free_passed(c, t, q);
}

static void release(struct tc_cache *c, unsigned t, struct tc_queue *q) {
    for (uint32_t i = 0, pos = q->lo; i < q->nsegs; i++, pos += seg_slots(q))
        tc__cache_free(c, t, q->dir[(pos >> q->seg_shift) & (q->dir_cap - 1)]);
    if (q->spare) tc__cache_free(c, t, q->spare);
    if (q->dir) tc__cache_free(c, t, q->dir);
    q->dir = NULL;
    q->spare = NULL;
    q->dir_cap = q->nsegs = 0;
    q->lo = q->head = q->gap_lo = q->gap_hi = q->tail;
}

void tc__queue_tidy(struct tc_cache *c, unsigned t, struct tc_queue *q) {
    if (!q->live) release(c, t, q);
}

void tc__queue_release(struct tc_cache *c, unsigned t, struct tc_queue *q) {
    release(c, t, q);
    q->live = q->bytes = 0;
}

size_t tc__queue_memory(const struct tc_queue *q) {
    size_t n = 0;
    for (uint32_t i = 0, pos = q->lo; i < q->nsegs; i++, pos += seg_slots(q))
        n += tc_usable_size(NULL, q->dir[(pos >> q->seg_shift) & (q->dir_cap - 1)]);
    if (q->spare) n += tc_usable_size(NULL, q->spare);
    if (q->dir) n += tc_usable_size(NULL, q->dir);
    return n;
}
