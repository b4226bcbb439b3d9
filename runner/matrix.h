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
    int line;
};

struct mr_artifact {
    char *family;
    char *path;
    char *version; /* the version the family's package manager reports, if not the package's */
    int line;
};

struct mr_test {
    char *name;
    char *command;
    unsigned timeout_s;
    int line;
};

struct mr_matrix {
    char *path; /* as given */
    char *name;
    char *uri;
    enum mr_accel accel;
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
};

#define MR_DEFAULT_URI "qemu:///system"
#define MR_DEFAULT_MEMORY_MIB 512
#define MR_DEFAULT_VCPUS 1
#define MR_DEFAULT_TEST_TIMEOUT_S 300
#define MR_DEFAULT_INSTALL_TIMEOUT_S 600
#define MR_DEFAULT_RETRIES 1

/* Parses, validates against the embedded schema, and checks values and files.
 * On failure returns -EINVAL (or -errno) with err set to one line
 * "FILE:LINE: message naming the value". */
int mr_matrix_load(const char *path, struct mr_matrix **ret, struct mr_err *err) MR_WUR;
void mr_matrix_free(struct mr_matrix *m);

/* The version an image must report after install (artifact's, else the package's). */
const char *mr_matrix_expected_version(const struct mr_matrix *m, const struct mr_artifact *a);

/* The artifact for a family, or NULL. Borrowed. */
const struct mr_artifact *mr_matrix_artifact(const struct mr_matrix *m, const char *family);

/* The embedded schema text (matrices/matrix.rng). */
extern const char mr_matrix_schema[];
extern const size_t mr_matrix_schema_len;

#endif
