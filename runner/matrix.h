/* matrix.h: loading and validating a matrix file (format version 1).
 *
 * mr_matrix_load() returns a matrix the caller frees with mr_matrix_free(); all strings
 * inside belong to the matrix. Paths are absolute (resolved against the matrix's folder). */
#ifndef MR_MATRIX_H
#define MR_MATRIX_H

#include <stddef.h>

#include "util.h"

enum mr_accel {
    MR_ACCEL_KVM,
    MR_ACCEL_TCG,
    MR_ACCEL_AUTO,
};

const char *mr_accel_name(enum mr_accel a);
/* Parses "kvm", "tcg", "auto"; returns 0 or -EINVAL. */
int mr_accel_parse(const char *s, enum mr_accel *ret) MR_WUR;

struct mr_family;

/* What a guest's network reaches besides its SSH forward (image/@network). */
enum mr_network {
    MR_NETWORK_ISOLATED, /* nothing: slirp's restrict=on (the default) */
    MR_NETWORK_OUTBOUND, /* NAT to whatever the host reaches; no inbound port but SSH's */
};
const char *mr_network_name(enum mr_network n);
/* Parses "isolated" or "outbound"; 0 or -EINVAL. */
int mr_network_parse(const char *s, enum mr_network *ret) MR_WUR;

struct mr_image {
    char *name;
    char *family;
    const struct mr_family *fam; /* borrowed from the family catalogue */
    char *os_version;            /* "8", "15-SP5"... or NULL */
    char *user;
    unsigned memory_mib;
    unsigned vcpus;
    unsigned boot_timeout_s;
    char *disk;    /* qcow2 base image, or NULL */
    char *kernel;  /* direct kernel boot, or NULL */
    char *initrd;
    char *cmdline;
    /* OpenSSH .pub of a host key baked into the image (the image then reads the run's
     * key from the kernel command line); NULL for cloud images, which get a NoCloud seed
     * with a host key made for them. */
    char *hostkey;
    char *cloud_config; /* extra cloud-config merged into the seed, or NULL */
    /* A pre-provisioned login (<login>): the private key file to log in with (its public
     * half in key.pub); hostkey then holds the host key to pin. Neither seed nor kernel
     * command line carries a key: the image has its own. NULL otherwise. */
    char *login_key;
    enum mr_network network;
    /* warm="yes": the run boots the image once per vCPUs/memory/network and restores
     * each cell from that guest's saved state (pipelinepriv.h, warm start). */
    int warm;
    /* <sshd path>: the Win32-OpenSSH release archive (OpenSSH-Win64.zip) the seed carries
     * for a Windows guest without sshd, or NULL. */
    char *sshd_package;
    int line;
};

struct mr_artifact {
    char *family;
    char *path;
    char *version; /* the version the family's package manager reports, if not the package's */
    /* The packages it needs (<depends>: files, and the files of the family's format in
     * folders, each folder's in name order), installed with it in one transaction. */
    char **deps;
    size_t n_deps;
    int line;
};

struct mr_test {
    char *name;
    char *command;
    unsigned timeout_s;
    int line;
};

/* A variable a cell passes to its test commands (from a named axis). */
struct mr_var {
    char *name;
    char *value;
};

enum mr_axis_kind {
    MR_AXIS_ENV,        /* an environment variable given to the tests */
    MR_AXIS_VCPUS,      /* overrides the image's vcpus */
    MR_AXIS_MEMORY_MIB, /* overrides the image's memory-mib */
};

/* One axis of the matrix: "vcpus" and "memory-mib" override the images' sizes; any
 * other name is an environment variable given to the tests. Values of the size axes are
 * held in canonical decimal ("02" reads as "2"). */
struct mr_axis {
    char *name;
    enum mr_axis_kind kind;
    char **values;
    size_t n_values;
    int line;
};

/* One cell: an image with one value of each axis. */
struct mr_cell {
    char *id;                   /* stable: the image name, then ".axis=value" per axis */
    const struct mr_image *img; /* borrowed from the matrix */
    unsigned vcpus;             /* the image's, or the vcpus axis's value */
    unsigned memory_mib;
    struct mr_var *env;         /* the cell's variables, in axis order (not the size axes) */
    size_t n_env;
    int line;                   /* the <include> that added the cell, 0 for the product */
};

/* A libvirt host the cells may run on. */
struct mr_host {
    char *uri;
    enum mr_accel accel;
    int line;
};

/* <benchmark>: the paired CPU benchmark (runner/cpubench.h) each cell runs after its
 * tests. */
struct mr_bench_spec {
    int enabled;              /* the matrix has <benchmark> */
    double seconds;           /* one repetition's target time on the host */
    unsigned repetitions;     /* measured host/guest pairs */
    unsigned warmup;          /* pairs run first and not counted */
    double max_overhead_pct;  /* < 0: no limit */
    double max_interval_pct;  /* the 95% interval's width, % of the median ratio, above
                               * which the measurement is flagged noisy */
    int line;
};

#define MR_DEFAULT_BENCH_SECONDS 2.0
#define MR_DEFAULT_BENCH_REPETITIONS 10
#define MR_DEFAULT_BENCH_WARMUP 1
#define MR_DEFAULT_BENCH_MAX_INTERVAL_PCT 10.0

struct mr_matrix {
    char *path; /* as given */
    char *name;
    char *uri;          /* the first host's (MR_DEFAULT_URI without <host>) */
    enum mr_accel accel;
    struct mr_host *hosts; /* every <host>, in file order; at least one */
    size_t n_hosts;
    struct mr_image *images;
    size_t n_images;
    char *pkg_name;
    char *pkg_version;
    unsigned install_timeout_s;
    struct mr_artifact *artifacts;
    size_t n_artifacts;
    struct mr_test *tests;
    size_t n_tests;
    unsigned retries; /* times a cell whose boot failed is run again */
    unsigned cell_timeout_s; /* limit on a whole cell, boot to teardown; 0: none */
    struct mr_bench_spec bench;
    struct mr_axis *axes;
    size_t n_axes;
    struct mr_cell *cells; /* the expanded cells, in a stable order */
    size_t n_cells;
    /* "FILE:LINE: message" for what may work but likely will not (a Windows image whose
     * version has no OpenSSH capability and no <sshd>); the CLI prints them. */
    char **warnings;
    size_t n_warnings;
};

#define MR_DEFAULT_URI "qemu:///system"
#define MR_DEFAULT_MEMORY_MIB 512
#define MR_DEFAULT_VCPUS 1
#define MR_DEFAULT_TEST_TIMEOUT_S 300
#define MR_DEFAULT_INSTALL_TIMEOUT_S 600
#define MR_DEFAULT_RETRIES 1
#define MR_MAX_HOSTS 16
/* A matrix expands to at most this many cells (images times axis values, less excludes,
 * plus includes); a cell id is at most this long, since it names files and a guest. */
#define MR_MAX_CELLS 10000
#define MR_MAX_CELL_ID 200

/* Parses, validates against the embedded schema, and checks values and files.
 * On failure returns -EINVAL (or -errno) with err set to one line
 * "FILE:LINE: message naming the value". */
int mr_matrix_load(const char *path, struct mr_matrix **ret, struct mr_err *err) MR_WUR;
void mr_matrix_free(struct mr_matrix *m);

/* The version an image must report after install (artifact's, else the package's). */
const char *mr_matrix_expected_version(const struct mr_matrix *m, const struct mr_artifact *a);

/* The artifact for a family, or NULL. Borrowed. */
const struct mr_artifact *mr_matrix_artifact(const struct mr_matrix *m, const char *family);

/* Picks the cells to run: those whose id matches one of the shell patterns in only
 * (fnmatch; all cells when n_only is 0), then of those the shard_i-th of every shard_n
 * (1-based; shard_n 0 or 1 means all). The slices of 1/N..N/N are disjoint and together
 * hold every selected cell. Returns 0 with *ret an array of borrowed pointers (caller
 * frees the array), or -EINVAL when a pattern matches no cell (err names it). */
int mr_matrix_select(const struct mr_matrix *m, char *const *only, size_t n_only,
                     unsigned shard_i, unsigned shard_n, const struct mr_cell ***ret,
                     size_t *n, struct mr_err *err) MR_WUR;

/* The embedded schema text (matrices/matrix.rng). */
extern const char mr_matrix_schema[];
extern const size_t mr_matrix_schema_len;

#endif
