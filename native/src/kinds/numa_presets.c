/*
 * memkind 1.14's static topology kinds as NUMA-kind parameter sets (kind_numa.c). Names are
 * memkind's, lowercase and without the MEMKIND_ prefix.
 *  - HBW*: the high-bandwidth node(s) closest to the allocating CPU; _ALL every HBW node;
 *    _PREFERRED falls back to other memory; _INTERLEAVE over every HBW node.
 *  - DAX_KMEM*: the same over DAX-KMEM nodes.
 *  - REGULAR binds to the nodes with CPUs; INTERLEAVE spreads over every node.
 *  - HIGHEST_CAPACITY*: the largest node(s), or the largest local one(s) for _LOCAL.
 *  - LOWEST_LATENCY_LOCAL / HIGHEST_BANDWIDTH_LOCAL: by HMAT attribute among local nodes.
 *  - *HUGETLB: 2 MiB hugetlb pages. HUGETLB alone prefers the CPU's nodes.
 */
#include <string.h>

#include "internal.h"

#define HUGE ((size_t)2 << 20)
#define P(id, n, sel, pol, ps) [id] = {n, {sel, pol, ps}}

const struct tc_numa_preset tc__numa_presets[TC_PRESET_COUNT] = {
    P(TC_PRESET_REGULAR, "regular", TC_NODES_CPU, TC_POLICY_BIND, 0),
    P(TC_PRESET_HUGETLB, "hugetlb", TC_NODES_CPU, TC_POLICY_PREFERRED, HUGE),
    P(TC_PRESET_INTERLEAVE, "interleave", TC_NODES_ALL, TC_POLICY_INTERLEAVE, 0),
    P(TC_PRESET_HBW, "hbw", TC_NODES_HBW_CLOSEST, TC_POLICY_BIND, 0),
    P(TC_PRESET_HBW_ALL, "hbw_all", TC_NODES_HBW_ALL, TC_POLICY_BIND, 0),
    P(TC_PRESET_HBW_PREFERRED, "hbw_preferred", TC_NODES_HBW_CLOSEST, TC_POLICY_PREFERRED, 0),
    P(TC_PRESET_HBW_INTERLEAVE, "hbw_interleave", TC_NODES_HBW_ALL, TC_POLICY_INTERLEAVE, 0),
    P(TC_PRESET_HBW_HUGETLB, "hbw_hugetlb", TC_NODES_HBW_CLOSEST, TC_POLICY_BIND, HUGE),
    P(TC_PRESET_HBW_ALL_HUGETLB, "hbw_all_hugetlb", TC_NODES_HBW_ALL, TC_POLICY_BIND, HUGE),
    P(TC_PRESET_HBW_PREFERRED_HUGETLB, "hbw_preferred_hugetlb", TC_NODES_HBW_CLOSEST,
      TC_POLICY_PREFERRED, HUGE),
    P(TC_PRESET_DAX_KMEM, "dax_kmem", TC_NODES_DAX_KMEM_CLOSEST, TC_POLICY_BIND, 0),
    P(TC_PRESET_DAX_KMEM_ALL, "dax_kmem_all", TC_NODES_DAX_KMEM_ALL, TC_POLICY_BIND, 0),
    P(TC_PRESET_DAX_KMEM_PREFERRED, "dax_kmem_preferred", TC_NODES_DAX_KMEM_CLOSEST,
      TC_POLICY_PREFERRED, 0),
    P(TC_PRESET_DAX_KMEM_INTERLEAVE, "dax_kmem_interleave", TC_NODES_DAX_KMEM_ALL,
      TC_POLICY_INTERLEAVE, 0),
    P(TC_PRESET_HIGHEST_CAPACITY, "highest_capacity", TC_NODES_HIGHEST_CAPACITY, TC_POLICY_BIND,
      0),
    P(TC_PRESET_HIGHEST_CAPACITY_PREFERRED, "highest_capacity_preferred",
      TC_NODES_HIGHEST_CAPACITY, TC_POLICY_PREFERRED, 0),
    P(TC_PRESET_HIGHEST_CAPACITY_LOCAL, "highest_capacity_local",
      TC_NODES_HIGHEST_CAPACITY_LOCAL, TC_POLICY_BIND, 0),
    P(TC_PRESET_HIGHEST_CAPACITY_LOCAL_PREFERRED, "highest_capacity_local_preferred",
      TC_NODES_HIGHEST_CAPACITY_LOCAL, TC_POLICY_PREFERRED, 0),
    P(TC_PRESET_LOWEST_LATENCY_LOCAL, "lowest_latency_local", TC_NODES_LOWEST_LATENCY_LOCAL,
      TC_POLICY_BIND, 0),
    P(TC_PRESET_LOWEST_LATENCY_LOCAL_PREFERRED, "lowest_latency_local_preferred",
      TC_NODES_LOWEST_LATENCY_LOCAL, TC_POLICY_PREFERRED, 0),
    P(TC_PRESET_HIGHEST_BANDWIDTH_LOCAL, "highest_bandwidth_local",
      TC_NODES_HIGHEST_BANDWIDTH_LOCAL, TC_POLICY_BIND, 0),
    P(TC_PRESET_HIGHEST_BANDWIDTH_LOCAL_PREFERRED, "highest_bandwidth_local_preferred",
      TC_NODES_HIGHEST_BANDWIDTH_LOCAL, TC_POLICY_PREFERRED, 0),
};

TC_API int tc_numa_preset(const char *name, tc_numa_params_t *out) {
    if (!name || !out) return TC_ERR_INVALID;
    for (unsigned i = 0; i < TC_PRESET_COUNT; i++)
        if (!strcmp(tc__numa_presets[i].name, name)) {
            *out = tc__numa_presets[i].params;
            return TC_OK;
        }
    return TC_ERR_INVALID;
}

TC_API const char *tc_numa_preset_name(unsigned i) {
    return i < TC_PRESET_COUNT ? tc__numa_presets[i].name : NULL;
}
