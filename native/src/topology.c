/*
 * NUMA topology: the online nodes, their CPUs, capacity and distances, HMAT read bandwidth and
 * latency (access class 0), which nodes are DAX-KMEM and which high-bandwidth, all read once
 * from sysfs. The overrides MEMKIND_HBW_NODES, MEMKIND_DAX_KMEM_NODES and
 * MEMKIND_HBW_THRESHOLD (options.c) replace detection; an invalid one makes the topology
 * unusable with TC_ERR_ENVIRON, so kinds that depend on it fail instead of guessing.
 *
 * Detection (without overrides):
 *  - high-bandwidth: the node's HMAT read bandwidth is at least MEMKIND_HBW_THRESHOLD MB/s;
 *  - DAX-KMEM: a node without CPUs that is the target_node of a dax device bound to the kmem
 *    driver (/sys/bus/dax/drivers/kmem/daxX.Y), i.e. PMEM or CXL memory onlined as RAM;
 *  - "local" to a CPU node c: c itself and every node whose access0 initiators include c; when
 *    no node has HMAT initiators, the CPU-less nodes nearest (by distance) to c.
 * sysfs is read directly: it holds all of this, and libnuma/hwloc/libdaxctl would add a
 * dependency to read the same files.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define NODE_DIR "/sys/devices/system/node"
#define KMEM_DIR "/sys/bus/dax/drivers/kmem"

static struct tc_topology topo;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* The first line of a small file into buf; false when unreadable. */
static bool read_line(const char *path, char *buf, size_t len) {
    FILE *f = fopen(path, "re");
    if (!f) return false;
    bool ok = fgets(buf, (int)len, f) != NULL;
    fclose(f);
    if (ok) buf[strcspn(buf, "\n")] = 0;
    return ok;
}

static bool read_ulong(const char *path, unsigned long *out) {
    char buf[64];
    if (!read_line(path, buf, sizeof buf) || !isdigit((unsigned char)buf[0])) return false;
    *out = strtoul(buf, NULL, 10);
    return true;
}

/* Parse a kernel/option list ("0-3,5") into m; false when malformed or out of range. */
static bool parse_list(const char *s, tc_nodemask_t *m) {
    memset(m, 0, sizeof *m);
    while (*s) {
        char *end;
        if (!isdigit((unsigned char)*s)) return false;
        unsigned long a = strtoul(s, &end, 10), b = a;
        if (*end == '-') b = strtoul(end + 1, &end, 10);
        if (a > b || b >= TC_MAX_NODES) return false;
        for (unsigned long i = a; i <= b; i++) tc__mask_set(m, (unsigned)i);
        s = end;
        if (*s == ',') s++;
        else if (*s) return false;
    }
    return true;
}

/* CPUs of a node from its cpulist (CPU ids may exceed TC_MAX_NODES: parsed separately). */
static void read_cpus(unsigned id, struct tc_node *n) {
    char path[128], buf[4096];
    snprintf(path, sizeof path, NODE_DIR "/node%u/cpulist", id);
    if (!read_line(path, buf, sizeof buf)) return;
    size_t cap = 0;
    for (const char *s = buf; *s;) {
        char *end;
        if (!isdigit((unsigned char)*s)) break;
        unsigned long a = strtoul(s, &end, 10), b = a;
        if (*end == '-') b = strtoul(end + 1, &end, 10);
        for (unsigned long c = a; c <= b && b - a < 65536; c++) {
            if (n->ncpus == cap) {
                cap = cap ? cap * 2 : 8;
                unsigned *p = realloc(n->cpus, cap * sizeof *p);
                if (!p) return;
                n->cpus = p;
            }
            n->cpus[n->ncpus++] = (unsigned)c;
        }
        s = *end == ',' ? end + 1 : end;
    }
    n->has_cpus = n->ncpus > 0;
}

static void read_capacity(unsigned id, struct tc_node *n) {
    char path[128], line[256];
    snprintf(path, sizeof path, NODE_DIR "/node%u/meminfo", id);
    FILE *f = fopen(path, "re");
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "MemTotal:");
        if (p) {
            n->capacity = (size_t)strtoull(p + 9, NULL, 10) * 1024;
            break;
        }
    }
    fclose(f);
}

static void read_hmat(unsigned id, struct tc_node *n) {
    char path[160];
    unsigned long v;
    snprintf(path, sizeof path, NODE_DIR "/node%u/access0/initiators/read_bandwidth", id);
    if (read_ulong(path, &v)) n->bw_mbps = (unsigned)v;
    snprintf(path, sizeof path, NODE_DIR "/node%u/access0/initiators/read_latency", id);
    if (read_ulong(path, &v)) n->lat_ns = (unsigned)v;
    snprintf(path, sizeof path, NODE_DIR "/node%u/access0/initiators", id);
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        unsigned x;
        char tail;
        if (sscanf(e->d_name, "node%u%c", &x, &tail) == 1 && x < TC_MAX_NODES) {
            tc__mask_set(&n->initiators, x);
            n->has_initiators = true;
        }
    }
    closedir(d);
}

/* Distances from node id to every online node, in the order sysfs lists them. */
static void read_distances(unsigned id, const tc_nodemask_t *online) {
    char path[128], buf[4096];
    snprintf(path, sizeof path, NODE_DIR "/node%u/distance", id);
    if (!read_line(path, buf, sizeof buf)) return;
    char *s = buf;
    for (unsigned to = 0; to < topo.nnodes; to++) {
        if (!tc__mask_has(online, to)) continue;
        char *end;
        unsigned long d = strtoul(s, &end, 10);
        if (end == s) break;
        topo.distance[id * topo.nnodes + to] = (unsigned)d;
        s = end;
    }
}

/* Nodes onlined from dax devices bound to the kmem driver. */
static void read_kmem_nodes(tc_nodemask_t *out) {
    DIR *d = opendir(KMEM_DIR);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "dax", 3)) continue;
        char path[512];
        unsigned long node;
        snprintf(path, sizeof path, KMEM_DIR "/%s/target_node", e->d_name);
        if (read_ulong(path, &node) && node < TC_MAX_NODES) tc__mask_set(out, (unsigned)node);
    }
    closedir(d);
}

/* An override option as a mask: true when set (and valid), false when unset; *err on error. */
static bool override(enum tc_option_id id, tc_nodemask_t *m, int *err) {
    const char *s;
    int e = tc__option_str(id, &s);
    if (e) {
        *err = e;
        return false;
    }
    return s && parse_list(s, m);
}

static void fail(int err, const char *why) {
    topo.err = err;
    topo.why = why;
}

static void read_topology(void) {
    char buf[4096];
    tc_nodemask_t online;
    if (!read_line(NODE_DIR "/online", buf, sizeof buf) || !parse_list(buf, &online)) {
        /* A kernel without NUMA: one node 0 holding every CPU and all memory. */
        memset(&online, 0, sizeof online);
        tc__mask_set(&online, 0);
    }
    int last = -1;
    for (unsigned i = 0; i < TC_MAX_NODES; i++)
        if (tc__mask_has(&online, i)) last = (int)i;
    topo.nnodes = (unsigned)last + 1;
    topo.node = calloc(topo.nnodes, sizeof *topo.node);
    topo.distance = calloc((size_t)topo.nnodes * topo.nnodes, sizeof *topo.distance);
    if (!topo.node || !topo.distance) return fail(TC_ERR_NOMEM, "out of memory");
    for (unsigned i = 0; i < topo.nnodes; i++) {
        struct tc_node *n = &topo.node[i];
        if (!tc__mask_has(&online, i)) continue;
        n->online = true;
        read_cpus(i, n);
        read_capacity(i, n);
        read_hmat(i, n);
        read_distances(i, &online);
        topo.any_hmat |= n->has_initiators;
    }
    if (topo.nnodes == 1 && !topo.node[0].capacity) topo.node[0].capacity = tc__os_phys_mem();

    int err = TC_OK;
    unsigned long threshold = 0;
    tc_nodemask_t hbw, kmem;
    memset(&kmem, 0, sizeof kmem);
    bool hbw_set = override(TC_OPT_HBW_NODES, &hbw, &err);
    bool kmem_set = override(TC_OPT_DAX_KMEM_NODES, &kmem, &err);
    if (!err) err = tc__option_uint(TC_OPT_HBW_THRESHOLD, &threshold);
    if (err) return fail(err, "an environment option is invalid (see tc_options_error)");
    if (!kmem_set) read_kmem_nodes(&kmem);
    for (unsigned i = 0; i < topo.nnodes; i++) {
        struct tc_node *n = &topo.node[i];
        if (!n->online) continue;
        n->is_hbw = hbw_set ? tc__mask_has(&hbw, i) : n->bw_mbps && n->bw_mbps >= threshold;
        n->is_dax_kmem = tc__mask_has(&kmem, i) && (kmem_set || !n->has_cpus);
    }
}

const struct tc_topology *tc__topology(void) {
    pthread_once(&once, read_topology);
    return &topo;
}

size_t tc__topology_hugepages(unsigned node) {
    char path[160];
    unsigned long v;
    snprintf(path, sizeof path, NODE_DIR "/node%u/hugepages/hugepages-2048kB/nr_hugepages", node);
    if (read_ulong(path, &v)) return v;
    /* No per-node directory (a kernel without NUMA): the system-wide pool. */
    if (node == 0 && tc__topology()->nnodes == 1 &&
        read_ulong("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", &v))
        return v;
    return 0;
}

static unsigned dist(unsigned a, unsigned b) {
    unsigned d = topo.distance[a * topo.nnodes + b];
    return d ? d : (a == b ? 10 : 20);
}

static bool usable(unsigned i) { return topo.node[i].online && topo.node[i].capacity; }

/* Nodes local to cpu_node (see the file comment). */
static void local_nodes(unsigned c, tc_nodemask_t *out) {
    memset(out, 0, sizeof *out);
    for (unsigned i = 0; i < topo.nnodes; i++) {
        const struct tc_node *n = &topo.node[i];
        if (!usable(i)) continue;
        if (i == c) {
            tc__mask_set(out, i);
        } else if (topo.any_hmat) {
            if (n->has_initiators && tc__mask_has(&n->initiators, c)) tc__mask_set(out, i);
        } else if (!n->has_cpus) {
            unsigned best = UINT32_MAX;
            for (unsigned j = 0; j < topo.nnodes; j++)
                if (topo.node[j].online && topo.node[j].has_cpus && dist(i, j) < best)
                    best = dist(i, j);
            if (dist(i, c) == best) tc__mask_set(out, i);
        }
    }
}

/* Keep the nodes of `in` that minimise (or maximise) key; none when no node has a key. */
static void best_by(const tc_nodemask_t *in, unsigned c, int which, bool maximise,
                    tc_nodemask_t *out) {
    memset(out, 0, sizeof *out);
    unsigned long long best = 0;
    bool any = false;
    for (int pass = 0; pass < 2; pass++)
        for (unsigned i = 0; i < topo.nnodes; i++) {
            if (!tc__mask_has(in, i)) continue;
            const struct tc_node *n = &topo.node[i];
            unsigned long long key = which == 0   ? dist(c, i)
                                     : which == 1 ? n->capacity
                                     : which == 2 ? n->lat_ns
                                                  : n->bw_mbps;
            if (which >= 2 && !key) continue; /* no HMAT figure */
            if (pass == 0) {
                if (!any || (maximise ? key > best : key < best)) best = key;
                any = true;
            } else if (key == best) {
                tc__mask_set(out, i);
            }
        }
}

enum { BY_DISTANCE, BY_CAPACITY, BY_LATENCY, BY_BANDWIDTH };

int tc__topology_target(tc_numa_nodes_t sel, unsigned c, tc_nodemask_t *out, const char **why) {
    const struct tc_topology *t = tc__topology();
    if (t->err) {
        *why = t->why;
        return t->err;
    }
    tc_nodemask_t set;
    memset(&set, 0, sizeof set);
    memset(out, 0, sizeof *out);
    if ((unsigned)sel >= TC_NODES_COUNT) {
        *why = "unknown node selection";
        return TC_ERR_INVALID;
    }
    bool hbw = sel == TC_NODES_HBW_CLOSEST || sel == TC_NODES_HBW_ALL;
    bool kmem = sel == TC_NODES_DAX_KMEM_CLOSEST || sel == TC_NODES_DAX_KMEM_ALL;
    for (unsigned i = 0; i < t->nnodes; i++) {
        const struct tc_node *n = &t->node[i];
        if (!usable(i)) continue;
        if ((sel == TC_NODES_CPU && n->has_cpus) || (hbw && n->is_hbw) ||
            (kmem && n->is_dax_kmem) || sel == TC_NODES_ALL || sel == TC_NODES_HIGHEST_CAPACITY)
            tc__mask_set(&set, i);
    }
    if (sel >= TC_NODES_HIGHEST_CAPACITY_LOCAL) local_nodes(c, &set);
    switch (sel) {
    case TC_NODES_HBW_CLOSEST:
    case TC_NODES_DAX_KMEM_CLOSEST: best_by(&set, c, BY_DISTANCE, false, out); break;
    case TC_NODES_HIGHEST_CAPACITY:
    case TC_NODES_HIGHEST_CAPACITY_LOCAL: best_by(&set, c, BY_CAPACITY, true, out); break;
    case TC_NODES_LOWEST_LATENCY_LOCAL: best_by(&set, c, BY_LATENCY, false, out); break;
    case TC_NODES_HIGHEST_BANDWIDTH_LOCAL: best_by(&set, c, BY_BANDWIDTH, true, out); break;
    default: *out = set; break;
    }
    if (tc__mask_first(out) >= 0) return TC_OK;
    switch (sel) {
    case TC_NODES_HBW_CLOSEST:
    case TC_NODES_HBW_ALL:
        *why = "no high-bandwidth node (HMAT read bandwidth under MEMKIND_HBW_THRESHOLD, "
               "MEMKIND_HBW_NODES unset)";
        break;
    case TC_NODES_DAX_KMEM_CLOSEST:
    case TC_NODES_DAX_KMEM_ALL:
        *why = "no DAX-KMEM node (no dax device onlined with kmem, MEMKIND_DAX_KMEM_NODES "
               "unset)";
        break;
    case TC_NODES_LOWEST_LATENCY_LOCAL:
    case TC_NODES_HIGHEST_BANDWIDTH_LOCAL:
        *why = "no HMAT attributes for the nodes local to this CPU";
        break;
    default: *why = "no node with memory qualifies"; break;
    }
    return TC_ERR_UNAVAILABLE;
}

unsigned tc__topology_cpu_node(void) {
    const struct tc_topology *t = tc__topology();
    unsigned node;
    if (!tc__os_current_node(&node) && node < t->nnodes && t->node[node].online) return node;
    for (unsigned i = 0; i < t->nnodes; i++)
        if (t->node[i].has_cpus) return i;
    return 0;
}

/* ---- public ---- */

TC_API int tc_topology_nodes(unsigned *ids, size_t cap, size_t *count) {
    const struct tc_topology *t = tc__topology();
    if (!count || (cap && !ids)) return TC_ERR_INVALID;
    if (t->err) return t->err;
    size_t n = 0;
    for (unsigned i = 0; i < t->nnodes; i++) {
        if (!t->node[i].online) continue;
        if (n < cap) ids[n] = i;
        n++;
    }
    *count = n;
    return TC_OK;
}

TC_API int tc_topology_node(unsigned id, tc_node_info_t *out) {
    const struct tc_topology *t = tc__topology();
    if (t->err) return t->err;
    if (!out || id >= t->nnodes || !t->node[id].online) return TC_ERR_INVALID;
    const struct tc_node *n = &t->node[id];
    *out = (tc_node_info_t){
        .id = id,
        .capacity = n->capacity,
        .read_bandwidth_mbps = n->bw_mbps,
        .read_latency_ns = n->lat_ns,
        .hugepages_2m = tc__topology_hugepages(id),
        .is_hbw = n->is_hbw,
        .is_dax_kmem = n->is_dax_kmem,
        .ncpus = n->ncpus,
    };
    return TC_OK;
}

TC_API int tc_topology_node_cpus(unsigned id, unsigned *cpus, size_t cap) {
    const struct tc_topology *t = tc__topology();
    if (t->err) return t->err;
    if ((cap && !cpus) || id >= t->nnodes || !t->node[id].online) return TC_ERR_INVALID;
    const struct tc_node *n = &t->node[id];
    for (size_t i = 0; i < n->ncpus && i < cap; i++) cpus[i] = n->cpus[i];
    return TC_OK;
}

TC_API int tc_topology_distance(unsigned from, unsigned to, unsigned *out) {
    const struct tc_topology *t = tc__topology();
    if (t->err) return t->err;
    if (!out || from >= t->nnodes || to >= t->nnodes || !t->node[from].online ||
        !t->node[to].online)
        return TC_ERR_INVALID;
    *out = dist(from, to);
    return TC_OK;
}

TC_API int tc_page_node(const void *addr, int *node) {
    if (!addr || !node) return TC_ERR_INVALID;
    int e = tc__os_page_node(addr, node);
    return e == ENOENT || e == EFAULT ? TC_ERR_INVALID : tc__err_from_errno(e);
}
