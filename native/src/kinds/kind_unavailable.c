/* Ops of built-in kinds whose memory this build cannot provide on this machine: every
 * question answers TC_ERR_UNAVAILABLE and allocation fails with ENOMEM. */
#include "internal.h"

static int unavailable(const tc_kind_t *k) { return TC_ERR_UNAVAILABLE; }

static int no_capacity(const tc_kind_t *k, size_t *out) { return TC_ERR_UNAVAILABLE; }

const struct tc_kind_ops tc__unavailable_ops = {
    .capacity = no_capacity,
    .check_available = unavailable,
};
