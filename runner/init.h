/* init.h: `matrixrun init`: a starter matrix from image and package files, with the OS
 * family and version of each image guessed from its file name and marked for checking. */
#ifndef MR_INIT_H
#define MR_INIT_H

#include "util.h"

/* What a file name says about the OS in an image: family (a catalogue name) and version
 * ("12", "22.04", "15-SP5", "2019"), or NULL for either when the name does not say.
 * Both strings are the caller's. */
void mr_init_guess(const char *file_name, char **ret_family, char **ret_version);

/* The package a file name names: name and version as its package manager reports them
 * (name_1.2-1_all.deb: 1.2-1; name-1.2-1.noarch.rpm: 1.2-1; name-1.2.msi: 1.2), and its
 * format (deb, rpm, msi). Returns 0, or -EINVAL when the name does not follow its
 * format's convention. */
int mr_init_package(const char *file_name, char **ret_name, char **ret_version,
                    const char **ret_format) MR_WUR;

/* Writes a starter matrix for the files (images: .qcow2, .img, .raw; packages: .deb,
 * .rpm, .msi) to out_path (a new file; NULL: stdout), paths relative to its folder.
 * Notes what was guessed on stderr-worthy lines in *ret_notes (caller frees). Returns 0,
 * or -errno / -EINVAL with err naming the file at fault. */
int mr_init_write(char *const *files, size_t n_files, const char *out_path, char **ret_notes,
                  struct mr_err *err) MR_WUR;

#endif
