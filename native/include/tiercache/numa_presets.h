/*
 * memkind 1.14's static topology kinds as parameter sets of the NUMA kind: the one list every
 * other spelling is made from (the preset ids and names, tiercache's static kinds, memkind.h's
 * MEMKIND_* declarations and their definitions, memkind_get_kind_by_partition's table).
 *
 * An X-macro list, meant to be included more than once (no include guard): define
 *     TC_NUMA_PRESET(ID, name, nodes, policy, page_mib)
 * include this file, and #undef it. Each row is one kind:
 *   ID        memkind's name without MEMKIND_ (MEMKIND_##ID, MEMKIND_PARTITION_##ID);
 *   name      the preset's name for tc_numa_preset(), the same in lower case;
 *   nodes     a tc_numa_nodes_t, policy a tc_numa_policy_t (tiercache/tiercache.h);
 *   page_mib  0 for base pages, 2 for 2 MiB hugetlb pages.
 * Rows whose columns a user does not need are not expanded: memkind.h uses the ID alone.
 *
 *  - HBW*: the high-bandwidth node(s) closest to the allocating CPU; _ALL every HBW node;
 *    _PREFERRED falls back to other memory; _INTERLEAVE over every HBW node.
 *  - DAX_KMEM*: the same over DAX-KMEM nodes.
 *  - REGULAR binds to the nodes with CPUs; INTERLEAVE spreads over every node.
 *  - HIGHEST_CAPACITY*: the largest node(s), or the largest local one(s) for _LOCAL.
 *  - LOWEST_LATENCY_LOCAL / HIGHEST_BANDWIDTH_LOCAL: by HMAT attribute among local nodes.
 *  - *HUGETLB: 2 MiB hugetlb pages. HUGETLB alone prefers the CPU's nodes.
 * The order is the order of tc_numa_preset_name(i); append, do not reorder.
 */
/* clang-format off */
TC_NUMA_PRESET(REGULAR, regular, TC_NODES_CPU, TC_POLICY_BIND, 0)
TC_NUMA_PRESET(HUGETLB, hugetlb, TC_NODES_CPU, TC_POLICY_PREFERRED, 2)
TC_NUMA_PRESET(INTERLEAVE, interleave, TC_NODES_ALL, TC_POLICY_INTERLEAVE, 0)
TC_NUMA_PRESET(HBW, hbw, TC_NODES_HBW_CLOSEST, TC_POLICY_BIND, 0)
TC_NUMA_PRESET(HBW_ALL, hbw_all, TC_NODES_HBW_ALL, TC_POLICY_BIND, 0)
TC_NUMA_PRESET(HBW_PREFERRED, hbw_preferred, TC_NODES_HBW_CLOSEST, TC_POLICY_PREFERRED, 0)
TC_NUMA_PRESET(HBW_INTERLEAVE, hbw_interleave, TC_NODES_HBW_ALL, TC_POLICY_INTERLEAVE, 0)
TC_NUMA_PRESET(HBW_HUGETLB, hbw_hugetlb, TC_NODES_HBW_CLOSEST, TC_POLICY_BIND, 2)
TC_NUMA_PRESET(HBW_ALL_HUGETLB, hbw_all_hugetlb, TC_NODES_HBW_ALL, TC_POLICY_BIND, 2)
TC_NUMA_PRESET(HBW_PREFERRED_HUGETLB, hbw_preferred_hugetlb, TC_NODES_HBW_CLOSEST,
               TC_POLICY_PREFERRED, 2)
TC_NUMA_PRESET(DAX_KMEM, dax_kmem, TC_NODES_DAX_KMEM_CLOSEST, TC_POLICY_BIND, 0)
TC_NUMA_PRESET(DAX_KMEM_ALL, dax_kmem_all, TC_NODES_DAX_KMEM_ALL, TC_POLICY_BIND, 0)
TC_NUMA_PRESET(DAX_KMEM_PREFERRED, dax_kmem_preferred, TC_NODES_DAX_KMEM_CLOSEST,
               TC_POLICY_PREFERRED, 0)
TC_NUMA_PRESET(DAX_KMEM_INTERLEAVE, dax_kmem_interleave, TC_NODES_DAX_KMEM_ALL,
               TC_POLICY_INTERLEAVE, 0)
TC_NUMA_PRESET(HIGHEST_CAPACITY, highest_capacity, TC_NODES_HIGHEST_CAPACITY, TC_POLICY_BIND, 0)
TC_NUMA_PRESET(HIGHEST_CAPACITY_PREFERRED, highest_capacity_preferred,
               TC_NODES_HIGHEST_CAPACITY, TC_POLICY_PREFERRED, 0)
TC_NUMA_PRESET(HIGHEST_CAPACITY_LOCAL, highest_capacity_local, TC_NODES_HIGHEST_CAPACITY_LOCAL,
               TC_POLICY_BIND, 0)
TC_NUMA_PRESET(HIGHEST_CAPACITY_LOCAL_PREFERRED, highest_capacity_local_preferred,
               TC_NODES_HIGHEST_CAPACITY_LOCAL, TC_POLICY_PREFERRED, 0)
TC_NUMA_PRESET(LOWEST_LATENCY_LOCAL, lowest_latency_local, TC_NODES_LOWEST_LATENCY_LOCAL,
               TC_POLICY_BIND, 0)
TC_NUMA_PRESET(LOWEST_LATENCY_LOCAL_PREFERRED, lowest_latency_local_preferred,
               TC_NODES_LOWEST_LATENCY_LOCAL, TC_POLICY_PREFERRED, 0)
TC_NUMA_PRESET(HIGHEST_BANDWIDTH_LOCAL, highest_bandwidth_local,
               TC_NODES_HIGHEST_BANDWIDTH_LOCAL, TC_POLICY_BIND, 0)
TC_NUMA_PRESET(HIGHEST_BANDWIDTH_LOCAL_PREFERRED, highest_bandwidth_local_preferred,
               TC_NODES_HIGHEST_BANDWIDTH_LOCAL, TC_POLICY_PREFERRED, 0)
/* clang-format on */
