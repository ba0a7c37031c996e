/* NUMA kinds through the tc_ API on any machine: the topology is readable and consistent,
 * presets resolve, a kind bound to the CPU nodes allocates there, bad parameters are errors. */
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "tiercache/tiercache.h"

#define MIB ((size_t)1 << 20)

TEST(topology_lists_nodes_with_self_distance_10) {
    size_t n = 0;
    CHECK_EQ(tc_topology_nodes(NULL, 0, &n), TC_OK);
    CHECK(n >= 1);
    unsigned ids[1024];
    size_t m = 0;
    CHECK_EQ(tc_topology_nodes(ids, 1024, &m), TC_OK);
    CHECK_EQ(m, n);
    size_t cpus = 0;
    for (size_t i = 0; i < n && i < 1024; i++) {
        tc_node_info_t info;
        CHECK_EQ(tc_topology_node(ids[i], &info), TC_OK);
        CHECK_EQ(info.id, ids[i]);
        unsigned d;
        CHECK_EQ(tc_topology_distance(ids[i], ids[i], &d), TC_OK);
        CHECK_EQ(d, 10);
        cpus += info.ncpus;
    }
    CHECK(cpus >= 1);
    tc_node_info_t info;
    CHECK_EQ(tc_topology_node(5000, &info), TC_ERR_INVALID);
    CHECK_EQ(tc_topology_nodes(NULL, 0, NULL), TC_ERR_INVALID);
}

TEST(presets_resolve_by_memkind_name) {
    tc_numa_params_t p;
    unsigned count = 0;
    while (tc_numa_preset_name(count)) {
        CHECK_EQ(tc_numa_preset(tc_numa_preset_name(count), &p), TC_OK);
        count++;
    }
    CHECK_EQ(count, 22);
    CHECK_EQ(tc_numa_preset("hbw_interleave", &p), TC_OK);
    CHECK_EQ(p.nodes, TC_NODES_HBW_ALL);
    CHECK_EQ(p.policy, TC_POLICY_INTERLEAVE);
    CHECK_EQ(tc_numa_preset("hbw_preferred_hugetlb", &p), TC_OK);
    CHECK_EQ(p.page_size, 2 * MIB);
    CHECK_EQ(tc_numa_preset("gbtlb", &p), TC_ERR_INVALID);
    CHECK_EQ(tc_numa_preset(NULL, &p), TC_ERR_INVALID);
}

TEST(cpu_node_kind_allocates_on_a_cpu_node_and_is_destroyable) {
    tc_numa_params_t p = {TC_NODES_CPU, TC_POLICY_BIND, 0};
    const char *why = "unset";
    CHECK_EQ(tc_numa_check(&p, &why), TC_OK);
    CHECK(why == NULL);
    tc_kind_t *k = NULL;
    CHECK_EQ(tc_kind_create_numa(&p, &k), TC_OK);
    if (!k) return;
    CHECK_EQ(tc_kind_check_available(k), TC_OK);
    size_t cap = 0;
    CHECK_EQ(tc_kind_capacity(k, &cap), TC_OK);
    CHECK(cap > 0);
    char *a = tc_malloc(k, 3 * MIB);
    char *b = tc_calloc(k, 1000, 100);
    CHECK(a && b);
    if (a && b) {
        memset(a, 1, 3 * MIB);
        CHECK(tc_detect_kind(a) == k && tc_detect_kind(b) == k);
        CHECK(b[0] == 0 && b[99999] == 0);
        int node = -1;
        CHECK_EQ(tc_page_node(a + 2 * MIB, &node), TC_OK);
        tc_node_info_t info;
        CHECK_EQ(tc_topology_node((unsigned)node, &info), TC_OK);
        CHECK(info.ncpus > 0);
        a = tc_realloc(k, a, 6 * MIB);
        CHECK(a && a[3 * MIB - 1] == 1);
    }
    tc_free(NULL, a);
    tc_free(k, b);
    CHECK_EQ(tc_kind_purge(k), TC_OK);
    CHECK_EQ(tc_kind_destroy(k), TC_OK);
    CHECK_EQ(tc_kind_destroy(k), TC_ERR_DESTROYED);
}

TEST(bad_parameters_are_invalid_and_missing_memory_unavailable) {
    tc_kind_t *k = NULL;
    const char *why = NULL;
    tc_numa_params_t bad_nodes = {TC_NODES_COUNT, TC_POLICY_BIND, 0};
    CHECK_EQ(tc_numa_check(&bad_nodes, &why), TC_ERR_INVALID);
    CHECK(why != NULL);
    tc_numa_params_t bad_page = {TC_NODES_CPU, TC_POLICY_BIND, 12345};
    CHECK_EQ(tc_kind_create_numa(&bad_page, &k), TC_ERR_INVALID);
    tc_numa_params_t bad_policy = {TC_NODES_CPU, (tc_numa_policy_t)7, 0};
    CHECK_EQ(tc_kind_create_numa(&bad_policy, &k), TC_ERR_INVALID);
    CHECK_EQ(tc_kind_create_numa(NULL, &k), TC_ERR_INVALID);
    CHECK(k == NULL);
    /* without HBW memory (no override in this test) the HBW kind says why */
    tc_numa_params_t hbw;
    tc_numa_preset("hbw", &hbw);
    size_t n = 0;
    unsigned ids[1024];
    bool any_hbw = false;
    tc_topology_nodes(ids, 1024, &n);
    for (size_t i = 0; i < n && i < 1024; i++) {
        tc_node_info_t info;
        tc_topology_node(ids[i], &info);
        any_hbw |= info.is_hbw;
    }
    if (!any_hbw) {
        CHECK_EQ(tc_numa_check(&hbw, &why), TC_ERR_UNAVAILABLE);
        CHECK(why && strstr(why, "high-bandwidth"));
        CHECK_EQ(tc_kind_create_numa(&hbw, &k), TC_ERR_UNAVAILABLE);
    }
}

TEST(page_node_rejects_unmapped_addresses) {
    int node;
    CHECK_EQ(tc_page_node(NULL, &node), TC_ERR_INVALID);
    CHECK(tc_page_node((void *)4096, &node) != TC_OK);
}

int main(void) {
    RUN(topology_lists_nodes_with_self_distance_10);
    RUN(presets_resolve_by_memkind_name);
    RUN(cpu_node_kind_allocates_on_a_cpu_node_and_is_destroyable);
    RUN(bad_parameters_are_invalid_and_missing_memory_unavailable);
    RUN(page_node_rejects_unmapped_addresses);
    return CHECK_DONE();
}
