/* The default DRAM kind: jemalloc's automatic arenas and thread caches, the process's memory
 * policy. Its memory never goes through the provider ops; they only answer questions. */
#include "internal.h"

static int dram_capacity(const tc_kind_t *k, size_t *out) {
    *out = tc__os_phys_mem();
    return *out ? TC_OK : TC_ERR_SYSTEM;
}

static const struct tc_kind_ops dram_ops = {
    .capacity = dram_capacity,
};

tc_kind_t tc__kind_dram = {
    .magic = TC_KIND_MAGIC,
    .flags = TC_KIND_STATIC | TC_KIND_AUTO_ARENAS,
    .id = 0,
    .ops = &dram_ops,
    .name = "dram",
};

TC_API tc_kind_t *tc_kind_dram(void) { return &tc__kind_dram; }
