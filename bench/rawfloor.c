/*
 * The raw floor of `vfio-tui inventory`: a minimal C reader that makes the same system calls
 * as core/sysfs_reader.py read_inventory() on a sysfs tree -- the same directory scans, the
 * same files, the same reads -- and nothing else (no names, no model, no output beyond a
 * summary line). bench/inventory.py compiles it with gcc -O2 and times it against vfio-tui.
 *
 * What it reads (keep in step with core/sysfs_reader.py):
 *   ROOT/proc/sys/kernel/osrelease; listings of ROOT/sys/bus/pci/devices,
 *   ROOT/sys/kernel/iommu_groups and ROOT/sys/class/iommu; the names file (pci.ids, read whole,
 *   as vfio-tui does); a listing of ROOT/sys/bus/pci/drivers and of each driver (its bound
 *   functions); with more than 4 functions per IOMMU group, a listing of each group's devices/;
 *   per function: readlinks of its devices/ entry and (groups not listed) of its iommu_group link;
 *   config (pread 264 bytes, or 64 with -u,
 *   then 8 bytes per extended capability header, only for PCIe/PCI-X functions);
 *   driver_override; reset_method; boot_vga for class 03; sriov_totalvfs/sriov_numvfs for an
 *   SR-IOV capability, and for such a PF a listing of its directory and a readlink per
 *   virtfnN; a listing of net/ for a class 02 function with a driver.
 *
 * usage: rawfloor [-u] ROOT [PCI_IDS]
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


static int unprivileged, groups_listed;
static long n_syscalls, checksum;

typedef int (*entry_fn)(const char *dir, const char *name, void *arg);

/* List a directory; call fn for each entry but . and ..; return the number of entries. */
static int list_dir(const char *dir, entry_fn fn, void *arg)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    n_syscalls++;
    if (!d)
        return -1;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
            continue;
        n++;
        if (fn)
            fn(dir, e->d_name, arg);
    }
    closedir(d);
    return n;
}

static int read_small(const char *path, char *buf, int size)
{
    int fd = open(path, O_RDONLY), n;
    n_syscalls++;
    if (fd < 0)
        return -1;
    n = read(fd, buf, size - 1);
    close(fd);
    n_syscalls += 2;
    if (n < 0)
        n = 0;
    buf[n] = 0;
    return n;
}

/* Device names, sorted (vfio-tui sorts the listing too). */
static char **names;
static int n_names, cap_names;

static int add_name(const char *dir, const char *name, void *arg)
{
    (void)dir; (void)arg;
    if (n_names == cap_names) {
        cap_names = cap_names ? cap_names * 2 : 1024;
        names = realloc(names, cap_names * sizeof(*names));
    }
    names[n_names++] = strdup(name);
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Functions bound to a driver: the address-named links in /sys/bus/pci/drivers/<driver>/. */
static char **bound;
static int n_bound, cap_bound;

static int add_bound(const char *dir, const char *name, void *arg)
{
    (void)dir; (void)arg;
    if (strlen(name) < 12 || name[4] != ':' || name[7] != ':' || name[10] != '.')
        return 0;
    if (n_bound == cap_bound) {
        cap_bound = cap_bound ? cap_bound * 2 : 1024;
        bound = realloc(bound, cap_bound * sizeof(*bound));
    }
    bound[n_bound++] = strdup(name);
    return 0;
}

static int scan_driver(const char *dir, const char *name, void *arg)
{
    char path[4096];
    (void)arg;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    list_dir(path, add_bound, NULL);
    return 0;
}

static int virtfn(const char *dir, const char *name, void *arg)
{
    char path[4096], link[4096];
    (void)arg;
    if (strncmp(name, "virtfn", 6))
        return 0;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    n_syscalls++;
    checksum += readlink(path, link, sizeof(link));
    return 0;
}

/* One group's devices/ listing (the functions are links named by address there). */
static int list_group(const char *dir, const char *name, void *arg)
{
    char path[4096];
    (void)arg;
    snprintf(path, sizeof(path), "%s/%s/devices", dir, name);
    checksum += list_dir(path, NULL, NULL);
    return 0;
}

static void read_device(const char *devdir, int idx)
{
    char base[4096], path[4096], link[4096], buf[4096];
    unsigned char cfg[0x108];
    int fd, n, ptr, hops = 0, pcie = 0, pcix = 0, sriov = 0, has_driver;
    unsigned cls;

    snprintf(base, sizeof(base), "%s/%s", devdir, names[idx]);
    snprintf(path, sizeof(path), "%s/config", base);
    fd = open(path, O_RDONLY);
    n_syscalls += 3;
    if (fd < 0)
        return;
    memset(cfg, 0, sizeof(cfg));
    n = pread(fd, cfg, unprivileged ? 64 : 0x108, 0);
    /* standard capabilities: find PCIe (0x10), PCI-X (0x07) */
    if (n >= 0x40 && (cfg[6] & 0x10)) {
        ptr = cfg[0x34] & 0xfc;
        while (ptr >= 0x40 && ptr + 2 <= n && hops++ < 48 && cfg[ptr] != 0xff) {
            pcie |= cfg[ptr] == 0x10;
            pcix |= cfg[ptr] == 0x07;
            ptr = cfg[ptr + 1] & 0xfc;
        }
    }
    if (n >= 256 && (pcie || pcix)) {
        /* the first header came with the standard space (a 264-byte read); then 8 bytes each */
        unsigned char h[8];
        int off = 0x100;
        hops = 0;
        while (hops++ < 480) {
            unsigned hdr;
            if (off == 0x100 && n >= 0x108) {
                memcpy(h, cfg + 0x100, 8);
            } else {
                n_syscalls++;
                if (pread(fd, h, 8, off) < 4)
                    break;
            }
            hdr = h[0] | h[1] << 8 | h[2] << 16 | (unsigned)h[3] << 24;
            if (!hdr || hdr == 0xffffffff || (off == 0x100 && !memcmp(h, cfg, 4)))
                break;
            sriov |= (hdr & 0xffff) == 0x10;
            off = (hdr >> 20) & 0xffc;
            if (off < 0x100)
                break;
        }
    }
    close(fd);
    cls = cfg[0x0b] << 16 | cfg[0x0a] << 8 | cfg[0x09];

    n_syscalls++;
    checksum += readlink(base, link, sizeof(link));
    has_driver = bsearch(&names[idx], bound, n_bound, sizeof(*bound), cmp_names) != NULL;
    if (!groups_listed) {
        n_syscalls++;
        snprintf(path, sizeof(path), "%s/iommu_group", base);
        checksum += readlink(path, link, sizeof(link));
    }
    snprintf(path, sizeof(path), "%s/driver_override", base);
    checksum += read_small(path, buf, sizeof(buf));
    snprintf(path, sizeof(path), "%s/reset_method", base);
    checksum += read_small(path, buf, sizeof(buf));
    if ((cls >> 16) == 0x03) {
        snprintf(path, sizeof(path), "%s/boot_vga", base);
        checksum += read_small(path, buf, sizeof(buf));
    }
    if (sriov || unprivileged) {
        snprintf(path, sizeof(path), "%s/sriov_totalvfs", base);
        if (read_small(path, buf, sizeof(buf)) > 0) {
            snprintf(path, sizeof(path), "%s/sriov_numvfs", base);
            checksum += read_small(path, buf, sizeof(buf));
            list_dir(base, virtfn, NULL);
        }
    }
    if ((cls >> 16) == 0x02 && has_driver) {
        snprintf(path, sizeof(path), "%s/net", base);
        checksum += list_dir(path, NULL, NULL);
    }
}

int main(int argc, char **argv)
{
    char path[4096], buf[4096];
    const char *root, *ids = "/usr/share/hwdata/pci.ids";
    int i, a = 1, n_groups;
    struct stat st;

    if (argc > a && !strcmp(argv[a], "-u")) {
        unprivileged = 1;
        a++;
    }
    if (argc <= a) {
        fprintf(stderr, "usage: rawfloor [-u] ROOT [PCI_IDS]\n");
        return 2;
    }
    root = argv[a];
    if (argc > a + 1)
        ids = argv[a + 1];

    /* the names database, read whole (vfio-tui reads it once and searches it) */
    if (stat(ids, &st) == 0) {
        char *data = malloc(st.st_size + 1);
        int fd = open(ids, O_RDONLY);
        if (fd >= 0) {
            checksum += read(fd, data, st.st_size);
            close(fd);
        }
        free(data);
        n_syscalls += 4;
    }
    snprintf(path, sizeof(path), "%s/proc/sys/kernel/osrelease", root);
    read_small(path, buf, sizeof(buf));
    snprintf(path, sizeof(path), "%s/sys/bus/pci/devices", root);
    if (list_dir(path, add_name, NULL) < 0) {
        fprintf(stderr, "rawfloor: %s: cannot list\n", path);
        return 1;
    }
    qsort(names, n_names, sizeof(*names), cmp_names);
    snprintf(path, sizeof(path), "%s/sys/bus/pci/drivers", root);
    list_dir(path, scan_driver, NULL);
    qsort(bound, n_bound, sizeof(*bound), cmp_names);
    snprintf(path, sizeof(path), "%s/sys/kernel/iommu_groups", root);
    n_groups = list_dir(path, NULL, NULL);
    if (4 * n_groups < n_names) {
        groups_listed = 1;
        list_dir(path, list_group, NULL);
    }
    snprintf(path, sizeof(path), "%s/sys/bus/pci/devices", root);
    for (i = 0; i < n_names; i++)
        read_device(path, i);
    snprintf(path, sizeof(path), "%s/sys/class/iommu", root);
    list_dir(path, NULL, NULL);
    printf("%d functions, %ld file operations, checksum %ld\n", n_names, n_syscalls, checksum);
    return 0;
}
