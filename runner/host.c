/* host.c: libvirt's node and domain queries a run makes about a host (host.h). */
#define _GNU_SOURCE
#include "host.h"

#include <errno.h>
#include <string.h>
#include <sys/utsname.h>

#include <libvirt/virterror.h>

/* Memory the host can give guests without swapping: free plus buffers and page cache
 * (libvirt's node memory stats, in KiB), or -1 if unknown. */
static long available_mib(virConnectPtr conn)
{
    int n = 0;
    if (virNodeGetMemoryStats(conn, VIR_NODE_MEMORY_STATS_ALL_CELLS, NULL, &n, 0) < 0 || n <= 0)
        return -1;
    virNodeMemoryStatsPtr st = mr_xcalloc((size_t)n, sizeof(*st));
    long kib = -1;
    if (virNodeGetMemoryStats(conn, VIR_NODE_MEMORY_STATS_ALL_CELLS, st, &n, 0) == 0) {
        unsigned long long sum = 0;
        int seen = 0;
        for (int i = 0; i < n; i++) {
            if (strcmp(st[i].field, VIR_NODE_MEMORY_STATS_FREE) == 0 ||
                strcmp(st[i].field, VIR_NODE_MEMORY_STATS_BUFFERS) == 0 ||
                strcmp(st[i].field, VIR_NODE_MEMORY_STATS_CACHED) == 0) {
                sum += st[i].value;
                seen = 1;
            }
        }
        if (seen)
            kib = (long)sum;
    }
    free(st);
    return kib < 0 ? -1 : kib / 1024;
}

void mr_host_measure(virConnectPtr conn, struct mr_host_size *ret)
{
    virNodeInfo info;
    if (virNodeGetInfo(conn, &info) < 0) {
        memset(&info, 0, sizeof(info));
        info.cpus = 1;
    }
    ret->cpus = info.cpus ? info.cpus : 1;
    ret->avail_mib = available_mib(conn);
    if (ret->avail_mib < 0)
        ret->avail_mib = (long)(info.memory >> 10);
    /* Guests that are not the run's: their vCPUs count against its budget (their memory
     * is already missing from the free memory). */
    ret->other_vcpus = 0;
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    for (int i = 0; i < n; i++) {
        virDomainInfo di;
        if (virDomainGetInfo(doms[i], &di) == 0)
            ret->other_vcpus += di.nrVirtCpu;
        virDomainFree(doms[i]);
    }
    free(doms);
}

char *mr_host_name(virConnectPtr conn)
{
    char *hn = virConnectGetHostname(conn);
    struct utsname un;
    return hn ? hn : mr_xstrdup(uname(&un) == 0 ? un.nodename : "localhost");
}

int mr_host_pin_vcpu(virDomainPtr dom, unsigned vcpu, int cpu, struct mr_err *err)
{
    unsigned char map[512] = { 0 };
    if (cpu < 0 || cpu >= (int)sizeof(map) * 8) {
        mr_err_set(err, "host CPU %d is out of range", cpu);
        return -EINVAL;
    }
    if (!dom) {
        mr_err_set(err, "no domain");
        return -EINVAL;
    }
    map[cpu / 8] = (unsigned char)(1u << (cpu % 8));
    if (virDomainPinVcpu(dom, vcpu, map, (cpu / 8) + 1) < 0) {
        const char *m = virGetLastErrorMessage();
        mr_err_set(err, "%s", m ? m : "no domain");
        return -EIO;
    }
    return 0;
}

double mr_host_guest_cpu_seconds(virDomainPtr dom)
{
    virDomainInfo di;
    if (!dom || virDomainGetInfo(dom, &di) < 0)
        return -1;
    return (double)di.cpuTime / 1e9;
}

void mr_host_close(virConnectPtr conn, virStoragePoolPtr pool)
{
    if (pool)
        virStoragePoolFree(pool);
    if (conn)
        virConnectClose(conn);
}
